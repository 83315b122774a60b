"""``python -m covet db migrate|rollback|status|new``: arguments, where the database comes from,
messages and exit statuses, against real SQLite files."""
import os
import sys
import textwrap

import pytest

from covet.cli import main
from covet.cli.program import build_parser


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
    (["new"], "the following arguments are required: name"),
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
