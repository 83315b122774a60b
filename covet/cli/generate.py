"""``covet generate``: code for a project made by ``covet new`` (docs/cli.md has the whole story).

::

    python -m covet generate resource Product [--all | --model --schema --crud --router --migration --tests]
    python -m covet generate router webhooks --prefix /webhooks
    python -m covet generate middleware audit_log
    python -m covet generate migration add_user_roles

``covet new`` makes one ``app.py`` beside ``models.py``; generated code goes into a package ``api/``
of the project (``api/models/``, ``api/schemas/``, ``api/crud/``, ``api/routers/``,
``api/middleware/``), migrations into ``migrations/`` and tests into ``tests/``. ``api/__init__.py``
has ``include_routers(app)``, which includes every router module of ``api/routers/``; the first
time a router is generated, two lines are added to ``app.py`` (an import, and the call before
``return app`` in ``create_app``) and ``updated app.py`` is printed. Nothing else that exists is
changed: a file the generator would write is refused (exit 1, naming it) unless ``--force``;
``api/__init__.py``, ``api/deps.py`` and the package ``__init__`` files are written only when missing.
The templates are in ``generate_templates/`` and rendered with covet's template engine.

Example::

    from covet.cli import main
    main(["generate", "resource", "Product", "--dir", "shop"])   # 0; prints "created ..." lines
"""
import argparse
import os
import re
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..database.migration_files import (FILE_NAME, MigrationError, new_migration_file, next_version)
from ..templates import TemplateEngine
from .naming import NameError_, Names, resource_names

__all__ = ["add_parser", "command", "GenerateError", "PlannedFile", "RESOURCE_PARTS", "PACKAGE", "TEMPLATE_DIR",
           "plan_resource", "plan_router", "plan_middleware", "write_files", "wire_app", "generate"]

#: Where the generator's templates are (package data of covet.cli).
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "generate_templates")
#: The project's package that generated modules go into.
PACKAGE = "api"
#: The parts of ``generate resource``, in the order they are written.
RESOURCE_PARTS = ("model", "schema", "crud", "router", "migration", "tests")
# What each part imports: generating it without them (and without their file on disk) would give
# a project that fails at import.
_NEEDS = {"crud": ("model", "schema"), "router": ("crud", "schema"), "tests": ("router",)}
# Class names the generated model and CRUD modules import themselves: a resource of that name
# would shadow the import.
_TAKEN = frozenset("Column DateTime Integer Model String Text List Optional Session".split())
# A route prefix: one or more path segments of unreserved characters (RFC 3986 §2.3), no
# parameters, so it is safe inside the generated Python strings too.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]+)+/?\Z")
_SUBPACKAGES = {
    "models": "ORM models of the generated resources (one module each).",
    "schemas": "Request and response Models of the generated resources (one module each).",
    "crud": "Database functions of the generated resources (one module each).",
    "routers": "Routers, each included by api.include_routers (api/__init__.py).",
    "middleware": "Middleware functions; each is turned on with app.add_middleware in create_app.",
}
_IMPORT_LINE = "from %s import include_routers\n" % PACKAGE
_CALL_LINE = "    include_routers(app)\n"
_TOP_IMPORT = re.compile(r"^(?:from[ \t]+[\w.]+[ \t]+import[ \t]+[^\n(\\]+|import[ \t]+[^\n\\]+)\n", re.MULTILINE)
_CREATE_APP = re.compile(r"^def create_app\(", re.MULTILINE)
_RETURN_APP = re.compile(r"^    return app[ \t]*\n", re.MULTILINE)


class GenerateError(Exception):
    """The generator refuses; ``status`` is the exit status (2 for a bad name or option, 1 for a file
    that exists).

    Example::

        try:
            generate("resource", "class", ".")
        except GenerateError as exc:
            print(exc, exc.status)
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class PlannedFile(NamedTuple):
    """One file to write: its path (relative to the project, ``/``-separated), its text, and whether it
    is shared (written only when missing, never replaced, ``--force`` or not)."""
    path: str
    text: str
    shared: bool = False


_ENGINE: Optional[TemplateEngine] = None


def _render(template: str, **context: Any) -> str:
    global _ENGINE
    if _ENGINE is None:
        # Plain text out: autoescape is for HTML, and these are Python and SQL files.
        _ENGINE = TemplateEngine(directory=TEMPLATE_DIR, autoescape=False, keep_trailing_newline=True)
    return _ENGINE.render(template, **context)


def _names(name: str, singular: bool = True) -> Names:
    try:
        names = resource_names(name, singular=singular)
    except NameError_ as exc:
        raise GenerateError(str(exc)) from None
    if names.class_name in _TAKEN:
        raise GenerateError("%r is not a usable name: the generated code imports a %s of its own; choose "
                            "another (e.g. %sItem)" % (name, names.class_name, names.class_name))
    return names


def _prefix(prefix: Optional[str], default: str) -> str:
    if prefix is None:
        return default
    if not _PREFIX.match(prefix):
        raise GenerateError("bad --prefix %r: use a path such as /webhooks or /api/v2/items (letters, digits, "
                            "'.', '_', '~', '-' between slashes)" % (prefix,))
    return prefix.rstrip("/")


def _shared(parts: Sequence[str]) -> List[PlannedFile]:
    planned = [PlannedFile(PACKAGE + "/__init__.py", _render("shared/api_init.py.tmpl"), True),
               PlannedFile(PACKAGE + "/deps.py", _render("shared/deps.py.tmpl"), True)]
    for sub in parts:
        planned.append(PlannedFile("%s/%s/__init__.py" % (PACKAGE, sub),
                                   _render("shared/package_init.py.tmpl", doc=_SUBPACKAGES[sub]), True))
    return planned


def _existing_migration(root: str, slug: str) -> Optional[str]:
    folder = os.path.join(root, "migrations")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            match = FILE_NAME.match(name)
            if match and match.group(2) == slug:
                return "migrations/" + name
    return None


def _next_migration(root: str, slug: str) -> str:
    try:
        version, width = next_version(os.path.join(root, "migrations"))
    except MigrationError as exc:
        raise GenerateError(str(exc), 1) from None
    return "migrations/%0*d_%s.sql" % (width, version, slug)


def plan_resource(root: str, name: str, parts: Sequence[str] = RESOURCE_PARTS,
                  prefix: Optional[str] = None) -> List[PlannedFile]:
    """The files of ``generate resource``: the shared ones, then one per part asked for.

    Example::

        [f.path for f in plan_resource("shop", "Category", ["model"]) if not f.shared]
        # ['api/models/category.py']
    """
    n = _names(name)
    unknown = sorted(set(parts) - set(RESOURCE_PARTS))
    if unknown or not parts:
        raise GenerateError("resource parts are %s; got %s" % (", ".join(RESOURCE_PARTS), ", ".join(unknown) or "none"))
    prefix = _prefix(prefix, "/api/" + n.route)
    module_of = {"model": "models", "schema": "schemas", "crud": "crud", "router": "routers"}
    for part in parts:
        for needed in _NEEDS.get(part, ()):
            needed_path = ("tests/test_%s.py" % n.plural if needed == "tests"
                           else "%s/%s/%s.py" % (PACKAGE, module_of[needed], n.module))
            if needed not in parts and not os.path.exists(os.path.join(root, needed_path)):
                raise GenerateError("--%s needs %s (imported by it): add --%s, or use --all"
                                    % (part, needed_path, needed))
    slug = "create_" + n.table
    migration = _existing_migration(root, slug) or _next_migration(root, slug)
    context: Dict[str, Any] = {"n": n, "package": PACKAGE, "prefix": prefix, "migration": migration}
    planned = _shared([module_of[p] for p in parts if p in module_of])
    for part in parts:
        if part in module_of:
            planned.append(PlannedFile("%s/%s/%s.py" % (PACKAGE, module_of[part], n.module),
                                       _render("resource/%s.py.tmpl" % part, **context)))
        elif part == "migration":
            planned.append(PlannedFile(migration, _render("resource/migration.sql.tmpl", **context)))
        else:
            planned.append(PlannedFile("tests/test_%s.py" % n.plural, _render("resource/test.py.tmpl", **context)))
    return planned


def plan_router(root: str, name: str, prefix: Optional[str] = None) -> List[PlannedFile]:
    """The files of ``generate router``: ``api/routers/NAME.py`` and its test.

    Example::

        [f.path for f in plan_router("shop", "webhooks") if not f.shared]
        # ['api/routers/webhooks.py', 'tests/test_webhooks_router.py']
    """
    n = _names(name, singular=False)
    context = {"n": n, "package": PACKAGE, "prefix": _prefix(prefix, "/" + n.kebab)}
    return _shared(["routers"]) + [
        PlannedFile("%s/routers/%s.py" % (PACKAGE, n.module), _render("router/router.py.tmpl", **context)),
        PlannedFile("tests/test_%s_router.py" % n.module, _render("router/test.py.tmpl", **context))]


def plan_middleware(root: str, name: str) -> List[PlannedFile]:
    """The files of ``generate middleware``: ``api/middleware/NAME.py`` and its test.

    Example::

        [f.path for f in plan_middleware("shop", "audit_log") if not f.shared]
        # ['api/middleware/audit_log.py', 'tests/test_audit_log_middleware.py']
    """
    n = _names(name, singular=False)
    context = {"n": n, "package": PACKAGE}
    return _shared(["middleware"]) + [
        PlannedFile("%s/middleware/%s.py" % (PACKAGE, n.module), _render("middleware/middleware.py.tmpl", **context)),
        PlannedFile("tests/test_%s_middleware.py" % n.module, _render("middleware/test.py.tmpl", **context))]


def write_files(root: str, planned: Sequence[PlannedFile], force: bool = False) -> List[Tuple[str, str]]:
    """Write ``planned`` under ``root``; ``(verb, path)`` for each file written (``created`` or
    ``overwrote``). Shared files that exist are left alone and not listed.

    Every conflict is found before anything is written: without ``force`` an existing file raises
    :class:`GenerateError` (status 1) naming all of them, and nothing is written.

    Example::

        write_files("shop", plan_resource("shop", "Product"))   # [('created', 'api/__init__.py'), ...]
    """
    todo = []
    for file in planned:
        full = os.path.join(root, *file.path.split("/"))
        exists = os.path.exists(full)
        if exists and file.shared:
            continue
        if exists and os.path.isdir(full):
            raise GenerateError("%s is a folder, not a file" % file.path, 1)
        todo.append((file, full, exists))
    conflicts = [file.path for file, _, exists in todo if exists]
    if conflicts and not force:
        raise GenerateError("%s exist%s already: nothing written (use --force to overwrite)"
                            % (", ".join(conflicts), "s" if len(conflicts) == 1 else ""), 1)
    done = []
    for file, full, exists in todo:
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w" if exists else "x", encoding="utf-8", newline="\n") as f:
            f.write(file.text)
        done.append(("overwrote" if exists else "created", file.path))
    return done


def wire_app(root: str) -> Optional[bool]:
    """Make ``app.py`` call ``include_routers(app)``: True when it was changed now, False when it
    already did, None when it could not be done (no app.py, or no ``def create_app`` that ends
    with ``return app``: the caller tells the user the two lines to add).

    Example::

        wire_app("shop")   # True the first time, False after
    """
    path = os.path.join(root, "app.py")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if "include_routers(" in text:
        return False
    start = _CREATE_APP.search(text)
    end = _RETURN_APP.search(text, start.end()) if start else None
    imports = [m for m in _TOP_IMPORT.finditer(text, 0, start.start())] if start else []
    if not imports or end is None:
        return None
    after_imports = imports[-1].end()
    text = (text[:after_imports] + _IMPORT_LINE + text[after_imports:end.start()] + _CALL_LINE
            + text[end.start():])
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return True


def generate(kind: str, name: str, root: str = ".", parts: Sequence[str] = RESOURCE_PARTS,
             prefix: Optional[str] = None, force: bool = False) -> List[str]:
    """Run one generator in the project ``root``; the lines to print (``created path`` ...).

    :raises GenerateError: a refused name or option (status 2), an existing file (status 1).

    Example::

        for line in generate("resource", "Person", "shop"):
            print(line)           # created api/models/person.py ... created tests/test_people.py
    """
    if not os.path.isdir(root):
        raise GenerateError("%s is not a folder (make a project with: python -m covet new NAME)" % root, 1)
    if kind == "migration":
        try:
            path = new_migration_file(os.path.join(root, "migrations"), name)
        except MigrationError as exc:
            raise GenerateError(str(exc), 1 if "exists" in str(exc) else 2) from None
        path = os.path.relpath(path, root).replace(os.sep, "/")
        return ["created %s" % path, "next: write the SQL of its -- up and -- down sections (a section with no "
                "SQL is refused when the migration runs)"]
    if kind == "resource":
        planned = plan_resource(root, name, parts, prefix)
    elif kind == "router":
        planned = plan_router(root, name, prefix)
    elif kind == "middleware":
        planned = plan_middleware(root, name)
    else:
        raise GenerateError("unknown generator %r: resource, router, middleware or migration" % (kind,))
    lines = ["%s %s" % done for done in write_files(root, planned, force)]
    if any(f.path.startswith(PACKAGE + "/routers/") for f in planned):
        wired = wire_app(root)
        if wired:
            lines.append("updated app.py (%s and %s before `return app`)" % (_IMPORT_LINE.strip(), _CALL_LINE.strip()))
        elif wired is None:
            lines.append("next: in app.py, add `%s` and call `%s` where the app is built"
                         % (_IMPORT_LINE.strip(), _CALL_LINE.strip()))
    if kind == "middleware":
        n = _names(name, singular=False)
        lines.append("next: in create_app (app.py): from %s.middleware.%s import %s; app.add_middleware(%s)"
                     % (PACKAGE, n.module, n.module, n.module))
    return lines


def add_parser(subparsers: Any) -> None:
    """Register ``generate`` and its four generators on the ``covet`` argument parser."""
    gen = subparsers.add_parser("generate", help="write a resource, router, middleware or migration into a project",
                                description="Write code into a project made by `covet new` (docs/cli.md).")
    gen.set_defaults(handler=command)
    kinds = gen.add_subparsers(dest="kind", metavar="resource|router|middleware|migration")
    kinds.required = True
    resource = kinds.add_parser("resource", help="model, schemas, CRUD, router, migration and tests of one resource")
    resource.add_argument("name", help="singular name: Product, user_profile, order-item")
    resource.add_argument("--all", action="store_true", help="every part (the default when no part is named)")
    for part in RESOURCE_PARTS:
        resource.add_argument("--" + part, dest="parts", action="append_const", const=part,
                              help="write the %s" % part)
    resource.add_argument("--prefix", help="route prefix (default /api/PLURAL)")
    router = kinds.add_parser("router", help="a router with a health check, included into the app")
    router.add_argument("name", help="the router's module name: webhooks")
    router.add_argument("--prefix", help="route prefix (default /NAME)")
    middleware = kinds.add_parser("middleware", help="a middleware function and its test")
    middleware.add_argument("name", help="the middleware's name: audit_log")
    migration = kinds.add_parser("migration", help="the next numbered, empty -- up / -- down migration file")
    migration.add_argument("name", help="what it does: add_user_roles")
    for sub in (resource, router, middleware, migration):
        sub.add_argument("--dir", default=".", help="the project folder (default: the current folder)")
        if sub is not migration:
            sub.add_argument("--force", action="store_true", help="overwrite files that exist")


def command(args: argparse.Namespace) -> int:
    """Run the generator; exit status 0, 1 (a file exists) or 2 (a refused name or option)."""
    parts = RESOURCE_PARTS
    if args.kind == "resource" and args.parts:
        if args.all:
            print("covet: give --all or parts, not both", file=sys.stderr)
            return 2
        parts = tuple(p for p in RESOURCE_PARTS if p in args.parts)
    try:
        lines = generate(args.kind, args.name, args.dir, parts, getattr(args, "prefix", None),
                         getattr(args, "force", False))
    except GenerateError as exc:
        print("covet: %s" % exc, file=sys.stderr)
        return exc.status
    for line in lines:
        print(line)
    return 0
