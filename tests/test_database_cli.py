"""``python -m covet db migrate|rollback|status|new``: arguments, where the database comes from,
messages and exit statuses, against real SQLite files."""
import os
import re
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from covet.cli import main
from covet.cli.program import build_parser

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run in tmp_path with no DATABASE_URL; sys.path and the modules the test imports are restored."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if not name.startswith("covet"):
            del sys.modules[name]


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``covet db ARGV``."""
    code = main(["db"] + list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- arguments -------------------------------------------------------------------------------

def test_db_without_a_subcommand_prints_its_help(capsys):
    code, out, err = run(capsys)
    assert code == 2
    assert out.startswith("usage: covet db [-h] {migrate,rollback,status,new} ...")


def test_the_program_lists_db(capsys):
    assert main([]) == 2
    assert "db                  database migrations: migrate, rollback, status, new" in capsys.readouterr().out


def test_parsing_each_subcommand():
    parser = build_parser()
    args = parser.parse_args(["db", "migrate", "--database", "sqlite:///x.db", "--target", "3", "--dir", "m"])
    assert (args.db_command, args.database, args.target, args.dir, args.table, args.app) == (
        "migrate", "sqlite:///x.db", "3", "m", "covet_migrations", None)
    args = parser.parse_args(["db", "rollback", "--steps", "2", "--app", "app.py", "--table", "schema_log"])
    assert (args.db_command, args.steps, args.target, args.app, args.table) == ("rollback", 2, None, "app.py",
                                                                                 "schema_log")
    args = parser.parse_args(["db", "rollback"])
    assert (args.steps, args.target) == (None, None)
    args = parser.parse_args(["db", "status"])
    assert (args.db_command, args.dir, args.database) == ("status", None, None)
    args = parser.parse_args(["db", "new", "add roles"])
    assert (args.db_command, args.name, args.dir) == ("new", "add roles", "migrations")


@pytest.mark.parametrize("argv,message", [
    (["rollback", "--steps", "0"], "argument --steps: expected a whole number of at least 1, got '0'"),
    (["rollback", "--steps", "-2"], "argument --steps: expected a whole number of at least 1, got '-2'"),
    (["rollback", "--steps", "two"], "argument --steps: expected a whole number of at least 1, got 'two'"),
    (["rollback", "--steps", "1", "--target", "0"], "argument --target: not allowed with argument --steps"),
    (["new"], "give the migration a NAME (or --from-models MODULE:ATTR)"),
    (["new", "x", "--dialect", "sqlite"], "--dialect goes with --from-models"),
    (["new", "--from-models", "m:B", "--dialect", "mysql"], "argument --dialect: invalid choice: 'mysql'"),
    (["migrate", "--steps", "1"], "unrecognized arguments: --steps 1"),
    (["sideways"], "invalid choice: 'sideways'"),
])
def test_usage_errors_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["db"] + argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


# -- new ---------------------------------------------------------------------------------------

def test_new_writes_numbered_files(isolated, capsys):
    code, out, err = run(capsys, "new", "Create users")
    assert (code, out, err) == (0, "created %s\n" % os.path.join("migrations", "0001_create_users.sql"), "")
    text = (isolated / "migrations" / "0001_create_users.sql").read_text()
    assert text.startswith("-- up\n") and "\n-- down\n" in text
    assert run(capsys, "new", "add-roles") == (0, "created %s\n" % os.path.join("migrations", "0002_add_roles.sql"),
                                               "")


def test_new_in_another_folder(isolated, capsys):
    code, out, _ = run(capsys, "new", "init", "--dir", "db/schema")
    assert (code, out) == (0, "created %s\n" % os.path.join("db/schema", "0001_init.sql"))
    assert (isolated / "db" / "schema" / "0001_init.sql").is_file()


def test_new_refuses_a_bad_name(isolated, capsys):
    assert run(capsys, "new", "../../etc/cron") == (
        1, "", "covet: '../../etc/cron' is not a migration name: use letters, digits, spaces, '-' and '_' (at most "
               "80, starting with a letter or digit)\n")
    assert not (isolated / "migrations").exists()


def test_new_where_the_folder_cannot_be_made(isolated, capsys):
    (isolated / "taken").write_text("a file, not a folder")
    code, out, err = run(capsys, "new", "x", "--dir", "taken")
    assert (code, out) == (1, "")
    assert err.startswith("covet: cannot write in taken: ")


# -- where the database comes from ---------------------------------------------------------------

def test_no_database_anywhere(isolated, capsys):
    assert run(capsys, "status") == (
        1, "", "covet: no database: give --database URL, set DATABASE_URL, or --app APP (an app with "
               "app.add_database(db))\n")


def test_an_app_without_a_database(isolated, capsys):
    (isolated / "app.py").write_text(textwrap.dedent("""
        from covet import Covet
        app = Covet()
    """))
    expected = (1, "", "covet: the app has no database (app.add_database(db) gives it one): give --database URL "
                       "or set DATABASE_URL\n")
    assert run(capsys, "status") == expected
    assert run(capsys, "migrate", "--app", "app.py") == expected


def test_an_app_that_cannot_load(isolated, capsys):
    code, out, err = run(capsys, "migrate", "--app", "nope.py")
    assert (code, out, err) == (1, "", "covet: no such file: nope.py\n")


# -- migrate, rollback, status against a real SQLite file ---------------------------------------

USERS = "-- up\nCREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT NOT NULL);\n-- down\nDROP TABLE users;\n"
POSTS = "-- up\nCREATE TABLE posts (id SERIAL PRIMARY KEY, title TEXT);\n-- down\nDROP TABLE posts;\n"


def migration_folder(root, **files):
    folder = root / "migrations"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / (name + ".sql")).write_text(text)
    return folder


def sqlite_tables(path):
    connection = sqlite3.connect(str(path))
    try:
        return [r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    finally:
        connection.close()


def origin(name):
    return os.path.join("migrations", name + ".sql")


def test_migrate_status_rollback(isolated, capsys):
    migration_folder(isolated, **{"0001_create_users": USERS, "0002_create_posts": POSTS})
    url = "sqlite:///app.db"
    code, out, err = run(capsys, "status", "--database", url)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "VERSION  NAME          STATE    APPLIED AT  SOURCE",
        "0001     create_users  pending              " + origin("0001_create_users"),
        "0002     create_posts  pending              " + origin("0002_create_posts"),
        "0 applied, 2 pending",
    ]
    assert run(capsys, "migrate", "--database", url) == (0, "applied 0001 create_users (%s)\napplied 0002 create_posts "
                                                            "(%s)\n" % (origin("0001_create_users"),
                                                                        origin("0002_create_posts")), "")
    assert sqlite_tables(isolated / "app.db") == ["covet_migrations", "posts", "users"]
    assert run(capsys, "migrate", "--database", url) == (0, "nothing to migrate: the database is up to date\n", "")
    code, out, _ = run(capsys, "status", "--database", url)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4 and lines[-1] == "2 applied, 0 pending"
    assert re.fullmatch(r"0001     create_users  applied  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  " + re.escape(
        origin("0001_create_users")), lines[1])
    assert run(capsys, "rollback", "--database", url) == (
        0, "rolled back 0002 create_posts (%s)\n" % origin("0002_create_posts"), "")
    assert run(capsys, "migrate", "--database", url) == (
        0, "applied 0002 create_posts (%s)\n" % origin("0002_create_posts"), "")
    assert run(capsys, "rollback", "--database", url, "--steps", "5") == (
        0, "rolled back 0002 create_posts (%s)\nrolled back 0001 create_users (%s)\n"
           % (origin("0002_create_posts"), origin("0001_create_users")), "")
    assert run(capsys, "rollback", "--database", url) == (0, "nothing to roll back\n", "")
    assert sqlite_tables(isolated / "app.db") == ["covet_migrations"]


def test_migrate_to_a_target_and_roll_back_to_one(isolated, capsys):
    migration_folder(isolated, **{"0001_create_users": USERS, "0002_create_posts": POSTS})
    url = "sqlite:///app.db"
    assert run(capsys, "migrate", "--database", url, "--target", "create_users")[:2] == (
        0, "applied 0001 create_users (%s)\n" % origin("0001_create_users"))
    assert run(capsys, "migrate", "--database", url, "--target", "7") == (
        1, "", "covet: no migration with version 0007\n")
    assert run(capsys, "migrate", "--database", url)[0] == 0
    assert run(capsys, "rollback", "--database", url, "--target", "0")[1].count("rolled back") == 2


def test_database_from_the_environment(isolated, capsys, monkeypatch):
    migration_folder(isolated, **{"0001_create_users": USERS})
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.db")
    assert run(capsys, "migrate")[0] == 0
    assert sqlite_tables(isolated / "env.db") == ["covet_migrations", "users"]
    # --database wins over the environment.
    assert run(capsys, "migrate", "--database", "sqlite:///flag.db")[0] == 0
    assert sqlite_tables(isolated / "flag.db") == ["covet_migrations", "users"]


APP_WITH_DATABASE = '''
from covet import Covet
from covet.database import DatabaseManager
from covet.database.migrations import Migration

app = Covet()
app.add_database(DatabaseManager("sqlite:///fromapp.db"))


class CreateAccounts(Migration):
    version = 5

    def up(self):
        return "CREATE TABLE accounts (id SERIAL PRIMARY KEY, created_at TIMESTAMP DEFAULT NOW());"

    def down(self):
        return "DROP TABLE accounts;"
'''


@pytest.fixture
def empty_registry(monkeypatch):
    from covet.database import migrations

    monkeypatch.setattr(migrations, "_registry", [])


def test_the_app_gives_its_database_and_its_migration_classes(isolated, capsys, empty_registry):
    (isolated / "app.py").write_text(APP_WITH_DATABASE)
    migration_folder(isolated, **{"0001_create_users": USERS})
    code, out, err = run(capsys, "migrate", "--app", "app.py")
    assert (code, err) == (0, "")
    assert out == "applied 0001 create_users (%s)\napplied 0005 create_accounts (class app.CreateAccounts)\n" % (
        origin("0001_create_users"))
    assert sqlite_tables(isolated / "fromapp.db") == ["accounts", "covet_migrations", "users"]


def test_app_py_is_found_without_app(isolated, capsys, empty_registry):
    (isolated / "app.py").write_text(APP_WITH_DATABASE)
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert out.splitlines()[1:] == ["0005     create_accounts  pending              class app.CreateAccounts",
                                    "0 applied, 1 pending"]


def test_a_failing_migration_exits_1_naming_it(isolated, capsys):
    migration_folder(isolated, **{"0001_create_users": USERS,
                                  "0002_broken": "-- up\nCREATE TABLE half (x INT);\nCREATE TABLE (;\n"})
    code, out, err = run(capsys, "migrate", "--database", "sqlite:///app.db")
    assert (code, out) == (1, "applied 0001 create_users (%s)\n" % origin("0001_create_users"))
    assert err == ('covet: migration 0002 broken (%s) failed, so none of it was applied: near "(": syntax error\n'
                   % origin("0002_broken"))
    assert sqlite_tables(isolated / "app.db") == ["covet_migrations", "users"]


def test_an_edited_migration_fails_status_and_migrate(isolated, capsys):
    folder = migration_folder(isolated, **{"0001_create_users": USERS})
    url = "sqlite:///app.db"
    assert run(capsys, "migrate", "--database", url)[0] == 0
    (folder / "0001_create_users.sql").write_text(USERS.replace("email TEXT", "mail TEXT"))
    migration_folder(isolated, **{"0002_create_posts": POSTS})
    code, out, err = run(capsys, "status", "--database", url)
    assert (code, err) == (1, "")
    assert out.splitlines()[-2:] == [
        "1 applied, 1 pending, 1 changed",
        "changed 0001 create_users: %s was edited after it was applied" % origin("0001_create_users")]
    assert run(capsys, "migrate", "--database", url) == (
        1, "", "covet: applied migrations have changed, so none was run: %s was edited after it was applied. "
               "Restore them, or roll them back and migrate again\n" % origin("0001_create_users"))
    assert sqlite_tables(isolated / "app.db") == ["covet_migrations", "users"]


def test_a_broken_migration_file_exits_1(isolated, capsys):
    migration_folder(isolated, **{"0001_create_users": "CREATE TABLE users (id INT);"})
    assert run(capsys, "status", "--database", "sqlite:///app.db") == (
        1, "", "covet: %s has no '-- up' line: write '-- up', the SQL, then '-- down' and the SQL that undoes it\n"
               % origin("0001_create_users"))


@pytest.mark.parametrize("url,message", [
    ("app.db", "a database URL looks like sqlite:///app.db or postgresql://user@host/name, not 'app.db'"),
    ("sqlite://app.db", "a SQLite URL has three slashes before a relative path (sqlite:///app.db) and four before an "
                        "absolute one (sqlite:////var/lib/app.db): 'sqlite://app.db'"),
])
def test_a_bad_url_exits_1(isolated, capsys, url, message):
    assert run(capsys, "status", "--database", url) == (1, "", "covet: %s\n" % message)


def test_no_migrations_at_all(isolated, capsys):
    assert run(capsys, "status", "--database", "sqlite:///app.db") == (
        0, "no migrations: no Migration classes and no .sql files in migrations/\n", "")
    assert run(capsys, "migrate", "--database", "sqlite:///app.db") == (
        0, "nothing to migrate: the database is up to date\n", "")


def test_two_processes_migrating_at_once(isolated):
    count = 15
    folder = isolated / "migrations"
    folder.mkdir()
    for i in range(1, count + 1):
        # No IF NOT EXISTS: run twice, a migration fails.
        (folder / ("%04d_t%d.sql" % (i, i))).write_text("-- up\nCREATE TABLE t%d (x INT);\n" % i)
    env = dict(os.environ, PYTHONPATH=REPO)
    command = [sys.executable, "-m", "covet", "db", "migrate", "--database", "sqlite:///shared.db"]
    workers = [subprocess.Popen(command, cwd=str(isolated), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True) for _ in range(2)]
    outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert [err for _, err in outputs] == ["", ""]
    applied = sorted(int(line.split()[1]) for out, _ in outputs for line in out.splitlines()
                     if line.startswith("applied "))
    assert applied == list(range(1, count + 1))
    connection = sqlite3.connect(str(isolated / "shared.db"))
    try:
        assert [r[0] for r in connection.execute("SELECT version FROM covet_migrations ORDER BY version")] == list(
            range(1, count + 1))
    finally:
        connection.close()



# -- new --from-models: the ORM's DDL as a first migration ----------------------------------------

MODELS = """
from covet.database.orm import Column, ForeignKey, Integer, Model, Registry, String

EMPTY = Registry()
NOT_MODELS = 3


class Base(Model):
    __abstract__ = True
    registry = Registry()   # kept out of Model.registry, which other tests' TestDatabase would create


class Author(Base):
    __tablename__ = "authors"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, index=True)


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)
    author_id = Column(Integer, ForeignKey("authors.id"), nullable=False)
    title = Column(String(200), nullable=False)
"""


def test_new_from_models_writes_the_tables_as_a_migration(isolated, capsys):
    from covet.database.orm import create_table_sql, drop_table_sql

    (isolated / "models.py").write_text(MODELS)
    assert run(capsys, "new", "--from-models", "models:Base") == (
        0, "created %s\n" % origin("0001_create_tables"), "")
    import models

    creates = create_table_sql(models.Base, "sqlite", if_not_exists=False)
    assert [c.split("(")[0] for c in creates] == [
        'CREATE TABLE "authors" ', 'CREATE INDEX "ix_authors_name" ON "authors" ', 'CREATE TABLE "books" ']
    drops = drop_table_sql(models.Base, "sqlite", if_exists=False)
    assert (isolated / "migrations" / "0001_create_tables.sql").read_text() == (
        "-- up\n%s;\n\n-- down\n%s;\n" % (";\n\n".join(creates), ";\n".join(drops)))
    url = "sqlite:///app.db"
    assert run(capsys, "migrate", "--database", url)[:2] == (0, "applied 0001 create_tables (%s)\n"
                                                              % origin("0001_create_tables"))
    assert sqlite_tables(isolated / "app.db") == ["authors", "books", "covet_migrations"]
    assert run(capsys, "rollback", "--database", url)[0] == 0
    assert sqlite_tables(isolated / "app.db") == ["covet_migrations"]


def test_new_from_models_by_file_name_and_for_postgresql(isolated, capsys):
    (isolated / "models.py").write_text(MODELS)
    assert run(capsys, "new", "initial schema", "--from-models", "models.py:Base", "--dialect", "postgresql") == (
        0, "created %s\n" % origin("0001_initial_schema"), "")
    text = (isolated / "migrations" / "0001_initial_schema.sql").read_text()
    assert '"id" INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY' in text


def test_new_from_models_takes_the_dialect_of_database_url(isolated, capsys, monkeypatch):
    (isolated / "models.py").write_text(MODELS)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.internal/app")
    assert run(capsys, "new", "--from-models", "models:Author")[0] == 0
    text = (isolated / "migrations" / "0001_create_tables.sql").read_text()
    assert text.startswith('-- up\nCREATE TABLE "authors" (\n    "id" INTEGER GENERATED BY DEFAULT AS IDENTITY')
    assert "books" not in text


@pytest.mark.parametrize("spec,message", [
    ("models", "--from-models takes MODULE:ATTR (e.g. app:Base or models.py:Base), not 'models'"),
    ("models:", "--from-models takes MODULE:ATTR (e.g. app:Base or models.py:Base), not 'models:'"),
    ("nowhere:Base", "no module named 'nowhere' (run from the project folder)"),
    ("models:Nope", "models has no attribute 'Nope'"),
    ("broken:Base", "error while importing broken: ZeroDivisionError: division by zero"),
    ("models:EMPTY", "models:EMPTY has no models (are the modules that define them imported by it?)"),
    ("models:NOT_MODELS", "expected models: a model class, an abstract base, a Registry or a list, got 3"),
])
def test_new_from_models_refusals(isolated, capsys, spec, message):
    (isolated / "models.py").write_text(MODELS)
    (isolated / "broken.py").write_text("1 / 0\n")
    assert run(capsys, "new", "--from-models", spec) == (1, "", "covet: %s\n" % message)
    assert not (isolated / "migrations").exists()
