"""``covet db migrate|rollback|status|new``: schema migrations from the command line.

The database is ``--database URL``, else the ``DATABASE_URL`` environment variable, else the
database of the app (``--app``, or app.py / main.py in the current folder), the one
``app.add_database(db)`` gave it. ``--app`` also imports the app's modules, which registers the
``Migration`` classes defined there; ``.sql`` files come from ``--dir`` (default ``migrations``).

Example::

    $ python -m covet db new "create users"
    created migrations/0001_create_users.sql
    $ python -m covet db migrate --database sqlite:///app.db
    applied 0001 create_users (migrations/0001_create_users.sql)
    $ python -m covet db status --database sqlite:///app.db
    VERSION  NAME          STATE    APPLIED AT           SOURCE
    0001     create_users  applied  2024-05-01 12:00:00  migrations/0001_create_users.sql
    1 applied, 0 pending
    $ python -m covet db new --from-models models.py:Base     # the ORM models' CREATE TABLEs
    created migrations/0002_create_tables.sql
"""
import argparse
import asyncio
import importlib
import os
import sys
from typing import Any, List, Optional, Sequence, Tuple

from .loader import AppLoadError, load_app

__all__ = ["add_parser", "command", "positive_int"]

_HELP = "database migrations: migrate, rollback, status, new"


def positive_int(text: str) -> int:
    """argparse type for ``--steps``: an int of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number of at least 1, got %r" % text)
    return value


def add_parser(subparsers: Any) -> None:
    """Register ``db`` and its sub-commands on the ``covet`` argument parser."""
    db = subparsers.add_parser("db", help=_HELP, description=_HELP)
    db.set_defaults(handler=command, db_parser=db)
    commands = db.add_subparsers(dest="db_command", metavar="{migrate,rollback,status,new}")

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--database", metavar="URL", help="database URL (default: $DATABASE_URL, else the app's)")
    where.add_argument("--app", metavar="APP", help="module:attribute or file.py: the app whose database and "
                                                   "Migration classes to use (default: app.py or main.py)")
    where.add_argument("--dir", metavar="DIR", help="folder of NNNN_name.sql files (default: migrations, if it "
                                                   "exists)")
    where.add_argument("--table", default="covet_migrations", help="the table recording applied migrations")

    migrate = commands.add_parser("migrate", parents=[where], help="apply the pending migrations")
    migrate.add_argument("--target", metavar="VERSION", help="stop after this version (or name)")
    rollback = commands.add_parser("rollback", parents=[where], help="undo the newest applied migration(s)")
    how_far = rollback.add_mutually_exclusive_group()
    how_far.add_argument("--steps", type=positive_int, help="how many to undo (default: 1)")
    how_far.add_argument("--target", metavar="VERSION", help="undo every migration above this version (0: all)")
    commands.add_parser("status", parents=[where], help="list migrations: applied, pending, changed, missing")
    new = commands.add_parser("new", help="write the next numbered migration file")
    new.set_defaults(new_parser=new)
    new.add_argument("name", nargs="?", help="what the migration does, e.g. 'add user roles' (default with "
                                             "--from-models: create_tables)")
    new.add_argument("--dir", default="migrations", metavar="DIR", help="where to write it (default: migrations)")
    new.add_argument("--from-models", metavar="MODULE:ATTR",
                     help="fill it with CREATE TABLE (up) and DROP TABLE (down) for the ORM models of MODULE:ATTR: "
                          "an abstract base, a model, a list of models or a Registry")
    new.add_argument("--dialect", choices=("sqlite", "postgresql"),
                     help="the SQL dialect for --from-models (default: that of $DATABASE_URL, else sqlite)")


def _fail(message: str) -> int:
    print("covet: %s" % message, file=sys.stderr)
    return 1


def command(args: argparse.Namespace) -> int:
    """Run one ``db`` sub-command; exit status 0 on success, 1 with a one-line message otherwise."""
    from ..database.errors import DatabaseError

    if args.db_command is None:
        args.db_parser.print_help()
        return 2
    if args.db_command == "new":
        return _new(args)
    try:
        # The app (if any) is imported before the event loop starts, as `covet run` does.
        db = _database(args)
        return asyncio.run(_with_database(args, db))
    except (DatabaseError, LookupError, ValueError) as exc:
        return _fail(str(exc))


def _database(args: argparse.Namespace) -> Any:
    """The DatabaseManager to migrate (see the module docstring for the order)."""
    from ..database.manager import DatabaseManager

    app = None
    if args.app:
        app = load_app(args.app)  # imports the app's modules: their Migration classes register
    url = args.database or os.environ.get("DATABASE_URL")
    if url:
        return DatabaseManager(url)
    if app is None:
        if not any(os.path.exists(f) for f in ("app.py", "main.py")):
            raise LookupError("no database: give --database URL, set DATABASE_URL, or --app APP "
                              "(an app with app.add_database(db))")
        app = load_app(None)
    database = getattr(app.state, "database", None)
    if database is None:
        raise LookupError("the app has no database (app.add_database(db) gives it one): give --database URL "
                          "or set DATABASE_URL")
    return database


async def _with_database(args: argparse.Namespace, db: Any) -> int:
    from ..database.migrations import Migrator

    def report(direction: str, script: Any) -> None:
        print("%s %s" % ("applied" if direction == "up" else "rolled back", script.label), flush=True)
    migrator = Migrator(db, directory=args.dir, table=args.table, progress=report)
    try:
        if args.db_command == "status":
            return await _status(migrator)
        if args.db_command == "migrate":
            if not await migrator.up(target=args.target):
                print("nothing to migrate: the database is up to date")
        elif not await migrator.down(steps=args.steps, target=args.target):
            print("nothing to roll back")
        return 0
    finally:
        await db.disconnect()


def _table(rows: Sequence[Sequence[str]]) -> List[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


async def _status(migrator: Any) -> int:
    from ..database.migration_files import format_version

    report = await migrator.status()
    if not report.migrations:
        print("no migrations: no Migration classes%s and no .sql files in %s"
              % ("" if migrator.migrations is None else " given", migrator.directory or "migrations/"))
        return 0
    rows = [("VERSION", "NAME", "STATE", "APPLIED AT", "SOURCE")]
    for m in report.migrations:
        rows.append((format_version(m.version), m.name, m.state, m.applied_at or "", m.origin or ""))
    for line in _table(rows):
        print(line)
    counts = ["%d applied" % (len(report.applied) + len(report.changed)), "%d pending" % len(report.pending)]
    for label, group in (("changed", report.changed), ("missing", report.missing)):
        if group:
            counts.append("%d %s" % (len(group), label))
    print(", ".join(counts))
    for m in report.changed + report.missing:
        print("%s %s %s: %s" % (m.state, format_version(m.version), m.name, m.detail))
    # A changed migration is an error (migrate refuses to run): a CI step running `db status`
    # fails on it. Pending ones are the normal state before `migrate`.
    return 1 if report.changed else 0


def _new(args: argparse.Namespace) -> int:
    from ..database.migration_files import MigrationError, new_migration_file

    if not args.name and not args.from_models:
        args.new_parser.error("give the migration a NAME (or --from-models MODULE:ATTR)")
    up = down = None
    if args.from_models:
        try:
            up, down = _model_sql(args.from_models, args.dialect)
        except (LookupError, TypeError, ValueError) as exc:
            return _fail(str(exc))
    elif args.dialect:
        args.new_parser.error("--dialect goes with --from-models")
    try:
        path = new_migration_file(args.dir, args.name or "create_tables", up, down)
    except MigrationError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail("cannot write in %s: %s" % (args.dir, exc.strerror or exc))
    print("created %s" % path)
    return 0


def _import_object(spec: str) -> Any:
    """The object ``module:attribute`` (or ``file.py:attribute``) names, imported from the current folder."""
    module_name, colon, attr = spec.rpartition(":")
    if not colon or not module_name or not attr:
        raise AppLoadError("--from-models takes MODULE:ATTR (e.g. app:Base or models.py:Base), not %r" % spec)
    if module_name.endswith(".py"):
        module_name = os.path.normpath(module_name[:-3]).replace(os.sep, ".")
    if sys.path[0] != os.getcwd():
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise AppLoadError("no module named %r (run from the project folder)" % module_name) from None
        raise AppLoadError("error while importing %s: %s: %s" % (module_name, type(exc).__name__, exc)) from None
    except Exception as exc:
        raise AppLoadError("error while importing %s: %s: %s" % (module_name, type(exc).__name__, exc)) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AppLoadError("%s has no attribute %r" % (module_name, attr))
        obj = getattr(obj, part)
    return obj


def _model_sql(spec: str, dialect: Optional[str]) -> Tuple[str, str]:
    """(up, down) SQL for the models ``spec`` names: their CREATE TABLEs in foreign key order, and
    the DROP TABLEs in the reverse order."""
    from ..database.config import parse_url
    from ..database.orm import ORMError, create_table_sql, drop_table_sql

    models = _import_object(spec)
    if dialect is None:
        url = os.environ.get("DATABASE_URL")
        dialect = parse_url(url).driver if url else "sqlite"
    try:
        # No IF NOT EXISTS: a migration that meets an existing table should fail loudly, not be
        # recorded as applied while the table keeps its old shape.
        creates = create_table_sql(models, dialect, if_not_exists=False)
        drops = drop_table_sql(models, dialect, if_exists=False)
    except ORMError as exc:
        raise ValueError(str(exc)) from None
    if not creates:
        raise LookupError("%s has no models (are the modules that define them imported by it?)" % spec)
    return ";\n\n".join(creates) + ";", ";\n".join(drops) + ";"
