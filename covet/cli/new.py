"""``covet new NAME``: a project folder that runs, and whose tests pass, straight away.

The files are rendered with covet's own template engine from ``project_template/`` next to this
module: each ``*.tmpl`` file gives the file of the same path without ``.tmpl``, a leading
``dot_`` standing for ``.`` (``dot_env.example.tmpl`` is ``.env.example``: setuptools' package
data globs skip hidden files). The only variable is ``name``. Any other file there is copied as it
is: ``deploy/`` holds the Prometheus scrape config and alert rules and the Grafana dashboard
(docs/metrics.md, "Dashboard and alerts"), whose ``{{ $labels.job }}`` and ``{{route}}`` are
Prometheus's and Grafana's templates, not ours. They are the copies covet ships; ``deploy/`` at the
root of covet's repository repeats them, and a test keeps the two identical.

Example::

    $ python -m covet new notes
    created notes/ (app.py, config.py, models.py, migrations/, templates/, tests/, deploy/, .env.example, README.md)
    $ cd notes && python -m pytest tests
"""
import argparse
import os
import re
import sys
from typing import Any, List

from ..templates import TemplateEngine

__all__ = ["add_parser", "command", "create_project", "TEMPLATE_DIR", "ProjectError"]

#: Where the project's templates are (package data of covet.cli).
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "project_template")
# A folder name that is also safe inside the generated files (a page title, an SQLite file name):
# no path separators, no leading dot or dash, ASCII only.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


class ProjectError(Exception):
    """The project cannot be created here (the message says why).

    Example::

        try:
            create_project("../x")
        except ProjectError as exc:
            print(exc)
    """


def _templates() -> List[str]:
    found = []
    for folder, _, files in os.walk(TEMPLATE_DIR):
        for file in files:
            if file.endswith(".tmpl"):
                found.append(os.path.relpath(os.path.join(folder, file), TEMPLATE_DIR).replace(os.sep, "/"))
    return sorted(found)


def _verbatim() -> List[str]:
    found = []
    for folder, _, files in os.walk(TEMPLATE_DIR):
        for file in files:
            if not file.endswith(".tmpl") and not file.endswith((".pyc", ".pyo")):
                found.append(os.path.relpath(os.path.join(folder, file), TEMPLATE_DIR).replace(os.sep, "/"))
    return sorted(found)


def _target(template: str) -> str:
    parts = template[:-len(".tmpl")].split("/")
    if parts[-1].startswith("dot_"):
        parts[-1] = "." + parts[-1][len("dot_"):]
    return os.path.join(*parts)


def create_project(name: str, parent: str = ".") -> List[str]:
    """Write the project ``parent/name``; returns the files written, relative to it.

    Refuses a name that is not ``[A-Za-z][A-Za-z0-9_-]*`` (64 at most), and a folder that
    exists and is not empty.

    Example::

        create_project("notes", "/tmp")   # ["README.md", "app.py", ...]
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ProjectError("bad project name %r: use a letter, then letters, digits, '_' or '-' (64 at most)"
                           % (name,))
    root = os.path.join(parent, name)
    if os.path.exists(root) and (not os.path.isdir(root) or os.listdir(root)):
        raise ProjectError("%s already exists and is not an empty folder" % root)
    # Plain text out: autoescape is for HTML, and these are Python, SQL and Markdown files.
    engine = TemplateEngine(directory=TEMPLATE_DIR, autoescape=False, keep_trailing_newline=True)
    rendered = [(_target(t), engine.render(t, name=name)) for t in _templates()]
    for path in _verbatim():
        with open(os.path.join(TEMPLATE_DIR, *path.split("/")), encoding="utf-8") as f:
            rendered.append((os.path.join(*path.split("/")), f.read()))
    written = []
    for path, text in rendered:
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "x", encoding="utf-8", newline="\n") as f:
            f.write(text)
        written.append(path.replace(os.sep, "/"))
    return sorted(written)


def add_parser(subparsers: Any) -> None:
    """Register ``new`` on the ``covet`` argument parser."""
    new = subparsers.add_parser("new", help="create a project folder: app, template, model, migration, tests")
    new.set_defaults(handler=command)
    new.add_argument("name", help="the project's folder, created in the current folder")


def command(args: argparse.Namespace) -> int:
    """Create the project; exit status 0, or 1 with the reason on stderr."""
    try:
        written = create_project(args.name)
    except ProjectError as exc:
        print("covet: %s" % exc, file=sys.stderr)
        return 1
    print("created %s/ with %s" % (args.name, ", ".join(written)))
    print("next: cd %s && python -m pytest tests && python -m covet run app.py" % args.name)
    return 0
