"""covet.database.migrations and migration_files: the file format, checksums, version order and
naming (pure), then migrating real SQLite files: apply, roll back, status, edited migrations,
failures that leave the schema as it was, and two workers migrating one database at once."""
import asyncio
import datetime
import hashlib
import os
import pathlib
import re
import threading

import pytest
from db_backends import on_postgres

from covet.database import migration_files, migrations
from covet.database.migration_files import (
    MigrationError, MigrationScript, checksum, check_unique, has_sql, load_directory, load_file,
    migration_name, new_migration_file, next_version, parse_migration,
)
from covet.database.migrations import Migration, collect_migrations, registered_migrations


@pytest.fixture
def registry(monkeypatch):
    """An empty Migration registry for the test (classes defined in it vanish afterwards)."""
    monkeypatch.setattr(migrations, "_registry", [])
    return migrations._registry


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


UP_DOWN = "-- up\nCREATE TABLE t (x INT);\n\n-- down\nDROP TABLE t;\n"


# -- the file format ----------------------------------------------------------------------

def test_parse_splits_up_and_down():
    assert parse_migration(UP_DOWN, "0001_t.sql") == ("CREATE TABLE t (x INT);", "DROP TABLE t;")


def test_parse_keeps_every_statement_and_comment_of_a_section():
    text = "-- up\nCREATE TABLE a (x INT);\n-- a note\nCREATE TABLE b (y INT);\n-- down\nDROP TABLE b;\nDROP TABLE a;\n"
    up, down = parse_migration(text, "f.sql")
    assert up == "CREATE TABLE a (x INT);\n-- a note\nCREATE TABLE b (y INT);"
    assert down == "DROP TABLE b;\nDROP TABLE a;"


@pytest.mark.parametrize("up_marker,down_marker", [
    ("-- UP", "-- Down"), ("--up", "--down"), ("  -- up:", "\t-- down :"), ("-- up  ", "-- down"),
])
def test_markers_accept_case_spacing_and_a_colon(up_marker, down_marker):
    text = "%s\nSELECT 1;\n%s\nSELECT 2;\n" % (up_marker, down_marker)
    assert parse_migration(text, "f.sql") == ("SELECT 1;", "SELECT 2;")


def test_a_comment_mentioning_up_is_not_a_marker():
    text = "-- up\n-- up to ten rows\nSELECT 1;\n-- down\nSELECT 2;\n"
    assert parse_migration(text, "f.sql") == ("-- up to ten rows\nSELECT 1;", "SELECT 2;")


def test_parse_without_down_is_irreversible():
    assert parse_migration("-- up\nSELECT 1;\n", "f.sql") == ("SELECT 1;", None)


def test_parse_accepts_down_before_up():
    assert parse_migration("-- down\nSELECT 2;\n-- up\nSELECT 1;\n", "f.sql") == ("SELECT 1;", "SELECT 2;")


def test_parse_allows_a_header_comment_before_the_first_marker():
    text = "-- Adds the users table.\n/* owner: accounts */\n\n" + UP_DOWN
    assert parse_migration(text, "f.sql")[0] == "CREATE TABLE t (x INT);"


def test_parse_handles_windows_line_endings():
    assert parse_migration(UP_DOWN.replace("\n", "\r\n"), "f.sql") == ("CREATE TABLE t (x INT);", "DROP TABLE t;")


@pytest.mark.parametrize("text,message", [
    ("CREATE TABLE t (x INT);\n", "f.sql has no '-- up' line: write '-- up', the SQL, then '-- down' and the SQL "
                                  "that undoes it"),
    ("", "f.sql has no '-- up' line: write '-- up', the SQL, then '-- down' and the SQL that undoes it"),
    ("SELECT 0;\n-- up\nSELECT 1;\n", "f.sql has SQL before its first '-- up' / '-- down' line"),
    ("-- up\nSELECT 1;\n-- down\nSELECT 2;\n-- up\nSELECT 3;\n", "f.sql has a second '-- up' line (line 5)"),
    ("-- up\nSELECT 1;\n-- down\n-- down\n", "f.sql has a second '-- down' line (line 4)"),
    ("-- down\nDROP TABLE t;\n", "f.sql has no '-- up' line"),
    ("-- up\n\n-- only a comment\n/* and\nanother */\n-- down\nDROP TABLE t;\n",
     "f.sql: the '-- up' section is empty (write the SQL that applies the migration)"),
])
def test_parse_refuses_malformed_files(text, message):
    with pytest.raises(MigrationError) as info:
        parse_migration(text, "f.sql")
    assert str(info.value) == message


def test_has_sql():
    assert has_sql("SELECT 1") is True
    assert has_sql("-- x\n/* y */\n  ") is False
    assert has_sql("") is False
    assert has_sql(None) is False


# -- checksums ------------------------------------------------------------------------------

def test_checksum_is_sha256_of_the_sql():
    assert checksum("SELECT 1;") == hashlib.sha256(b"SELECT 1;").hexdigest()


def test_checksum_ignores_line_endings_and_trailing_blanks():
    base = checksum("CREATE TABLE t (\n  x INT\n);")
    assert checksum("CREATE TABLE t (\r\n  x INT   \r\n);\r\n") == base
    assert checksum("\n\nCREATE TABLE t (\n  x INT\t\n);\n\n") == base


def test_checksum_sees_any_real_edit():
    base = checksum("CREATE TABLE t (x INT);")
    assert checksum("CREATE TABLE t (x BIGINT);") != base
    assert checksum("CREATE TABLE t (x INT); -- note") != base
    assert checksum("CREATE  TABLE t (x INT);") != base


def test_load_file_checksum_covers_up_only(tmp_path):
    a = load_file(str(write(tmp_path, "0001_t.sql", UP_DOWN)))
    b = load_file(str(write(tmp_path, "0002_t.sql", UP_DOWN.replace("DROP TABLE t;", "DROP TABLE IF EXISTS t;"))))
    assert a.checksum == b.checksum == checksum("CREATE TABLE t (x INT);")


# -- files and folders ------------------------------------------------------------------------

def test_load_file(tmp_path):
    path = str(write(tmp_path, "0007_create_users.sql", UP_DOWN))
    assert load_file(path) == MigrationScript(7, "create_users", "CREATE TABLE t (x INT);", "DROP TABLE t;",
                                              checksum("CREATE TABLE t (x INT);"), path)
    assert load_file(path).label == "0007 create_users (%s)" % path


def test_load_file_ignores_a_byte_order_mark(tmp_path):
    path = tmp_path / "0001_bom.sql"
    path.write_bytes(b"\xef\xbb\xbf" + UP_DOWN.encode())
    assert load_file(str(path)).up == "CREATE TABLE t (x INT);"


def test_load_file_refuses_what_is_not_utf8(tmp_path):
    path = tmp_path / "0001_latin.sql"
    path.write_bytes(b"-- up\nINSERT INTO t VALUES ('caf\xe9');\n")
    with pytest.raises(MigrationError) as info:
        load_file(str(path))
    assert str(info.value) == "%s is not UTF-8 text (invalid continuation byte)" % path


@pytest.mark.parametrize("name", ["001-create.sql", "create.sql", "0001_.sql", "0001_a b.sql", "0001_x.sql.bak",
                                  "x_0001.sql"])
def test_load_file_refuses_other_names(tmp_path, name):
    path = str(write(tmp_path, name, UP_DOWN))
    with pytest.raises(MigrationError) as info:
        load_file(path)
    assert str(info.value) == ("%s is not a migration file name: expected NNNN_name.sql (digits, an underscore, "
                               "then letters, digits and underscores)" % path)


def test_version_zero_is_refused(tmp_path):
    path = str(write(tmp_path, "0000_zero.sql", UP_DOWN))
    with pytest.raises(MigrationError) as info:
        load_file(path)
    assert str(info.value) == "%s: the version must be between 1 and %d" % (path, 2 ** 63 - 1)


def test_load_directory_orders_by_number_not_text(tmp_path):
    for name in ("10_ten.sql", "2_two.sql", "0001_one.sql", "20240501120000_stamp.sql"):
        write(tmp_path, name, UP_DOWN)
    assert [(s.version, s.name) for s in load_directory(str(tmp_path))] == [
        (1, "one"), (2, "two"), (10, "ten"), (20240501120000, "stamp")]


def test_load_directory_leaves_other_files_alone(tmp_path):
    write(tmp_path, "0001_one.sql", UP_DOWN)
    write(tmp_path, "README.md", "notes")
    write(tmp_path, "__init__.py", "")
    write(tmp_path, ".0002_draft.sql", "not finished")
    (tmp_path / "0003_folder.sql").mkdir()
    assert [s.name for s in load_directory(str(tmp_path))] == ["one"]


def test_load_directory_refuses_a_misnamed_sql_file(tmp_path):
    write(tmp_path, "0001_one.sql", UP_DOWN)
    bad = write(tmp_path, "002-two.sql", UP_DOWN)
    with pytest.raises(MigrationError) as info:
        load_directory(str(tmp_path))
    assert str(info.value).startswith("%s is not a migration file name" % bad)


def test_load_directory_refuses_two_files_with_one_version(tmp_path):
    a = write(tmp_path, "0002_a.sql", UP_DOWN)
    b = write(tmp_path, "2_b.sql", UP_DOWN)
    with pytest.raises(MigrationError) as info:
        load_directory(str(tmp_path))
    assert str(info.value) == "two migrations have version 0002: %s and %s" % (a, b)


def test_load_directory_names_a_broken_file(tmp_path):
    bad = write(tmp_path, "0001_one.sql", "CREATE TABLE t (x INT);")
    with pytest.raises(MigrationError) as info:
        load_directory(str(tmp_path))
    assert str(info.value).startswith("%s has no '-- up' line" % bad)


def test_load_directory_of_a_missing_folder(tmp_path):
    with pytest.raises(MigrationError) as info:
        load_directory(str(tmp_path / "nope"))
    assert str(info.value) == "no migrations folder %s" % (tmp_path / "nope")
    write(tmp_path, "file", "")
    with pytest.raises(MigrationError) as info:
        load_directory(str(tmp_path / "file"))
    assert str(info.value) == "%s is not a folder" % (tmp_path / "file")


def test_check_unique_sorts():
    a = MigrationScript(1, "a", "SELECT 1", None, "", "a")
    b = MigrationScript(5, "b", "SELECT 1", None, "", "b")
    assert check_unique([b, a]) == [a, b]


# -- new files -------------------------------------------------------------------------------

@pytest.mark.parametrize("given,expected", [
    ("create users", "create_users"), ("Add user-roles", "add_user_roles"), ("x", "x"),
    ("  spaced   out  ", "spaced_out"), ("v2_backfill__emails", "v2_backfill_emails"), ("2fa", "2fa"),
])
def test_migration_name(given, expected):
    assert migration_name(given) == expected


@pytest.mark.parametrize("given", ["", "   ", "../etc/passwd", "a/b", "a.b", "naïve", "-x", "_x", "x;y",
                                   "a" * 81])
def test_migration_name_refuses(given):
    with pytest.raises(MigrationError) as info:
        migration_name(given)
    assert str(info.value) == ("%r is not a migration name: use letters, digits, spaces, '-' and '_' (at most 80, "
                               "starting with a letter or digit)" % given)


def test_next_version(tmp_path):
    assert next_version(str(tmp_path / "missing")) == (1, 4)
    assert next_version(str(tmp_path)) == (1, 4)
    write(tmp_path, "0001_a.sql", UP_DOWN)
    write(tmp_path, "0009_b.sql", "broken contents do not matter")
    write(tmp_path, "notes.txt", "")
    assert next_version(str(tmp_path)) == (10, 4)
    write(tmp_path, "20240501120000_c.sql", UP_DOWN)
    assert next_version(str(tmp_path)) == (20240501120001, 14)


def test_new_migration_file_writes_the_template(tmp_path):
    folder = tmp_path / "migrations"
    path = new_migration_file(str(folder), "Create users")
    assert path == str(folder / "0001_create_users.sql")
    assert pathlib.Path(path).read_text() == migration_files.NEW_FILE_TEMPLATE
    # The template's sections hold only comments: run as is, it is refused, not recorded.
    with pytest.raises(MigrationError) as info:
        load_file(path)
    assert str(info.value) == "%s: the '-- up' section is empty (write the SQL that applies the migration)" % path
    assert new_migration_file(str(folder), "add roles") == str(folder / "0002_add_roles.sql")


def test_new_migration_file_with_sql(tmp_path):
    path = new_migration_file(str(tmp_path), "init", "CREATE TABLE t (x INT);\n", "DROP TABLE t;")
    assert pathlib.Path(path).read_text() == "-- up\nCREATE TABLE t (x INT);\n\n-- down\nDROP TABLE t;\n"
    assert load_file(path)[:4] == (1, "init", "CREATE TABLE t (x INT);", "DROP TABLE t;")


def test_new_migration_file_never_overwrites(tmp_path, monkeypatch):
    write(tmp_path, "0001_same.sql", UP_DOWN)
    # Another `covet db new` picked the number between our listing and our write.
    monkeypatch.setattr(migration_files, "next_version", lambda directory: (1, 4))
    with pytest.raises(MigrationError) as info:
        new_migration_file(str(tmp_path), "same")
    assert str(info.value) == "%s exists already" % (tmp_path / "0001_same.sql")
    assert (tmp_path / "0001_same.sql").read_text() == UP_DOWN


def test_new_migration_file_refuses_a_bad_name_before_touching_the_disk(tmp_path):
    with pytest.raises(MigrationError):
        new_migration_file(str(tmp_path / "m"), "../x")
    assert not (tmp_path / "m").exists()


# -- Migration classes -----------------------------------------------------------------------

def test_classes_register_in_definition_order(registry):
    class CreateUsersTable(Migration):
        def up(self):
            return "CREATE TABLE users (id INT);"

    class AddHTTPLog(Migration):
        def up(self):
            return "CREATE TABLE log (id INT);"

        def down(self):
            return "DROP TABLE log;"

    assert registered_migrations() == [CreateUsersTable, AddHTTPLog]
    scripts = collect_migrations()
    assert [(s.version, s.name, s.up, s.down) for s in scripts] == [
        (1, "create_users_table", "CREATE TABLE users (id INT);", None),
        (2, "add_http_log", "CREATE TABLE log (id INT);", "DROP TABLE log;"),
    ]
    assert scripts[0].origin == "class %s.%s" % (__name__, CreateUsersTable.__qualname__)
    assert scripts[0].checksum == checksum("CREATE TABLE users (id INT);")


def test_class_version_and_name_attributes(registry):
    class First(Migration):
        version = "0010"
        name = "first_one"

        def up(self):
            return "SELECT 1;"

    class Second(Migration):
        def up(self):
            return "SELECT 2;"

    assert [(s.version, s.name) for s in collect_migrations()] == [(2, "second"), (10, "first_one")]


def test_a_base_class_can_opt_out_of_registering(registry):
    class Base(Migration, register=False):
        pass

    class Real(Base):
        def up(self):
            return "SELECT 1;"

    assert registered_migrations() == [Real]


def test_a_class_without_up_is_refused_where_it_is_defined(registry):
    with pytest.raises(TypeError) as info:
        class NoUp(Migration):
            def down(self):
                return "SELECT 1;"
    assert str(info.value).endswith("NoUp is a Migration without up(): define up() to return its SQL")
    assert registered_migrations() == []


@pytest.mark.parametrize("version", [0, -1, "1a", 1.5, True, 2 ** 63, "", "١"])
def test_a_bad_class_version_is_refused(registry, version):
    with pytest.raises(TypeError) as info:
        type("Bad", (Migration,), {"version": version, "up": lambda self: "SELECT 1;"})
    assert str(info.value).endswith("Bad.version must be a positive int (or digits), not %r" % (version,))


def test_up_must_return_sql(registry):
    class ReturnsList(Migration, register=False):
        def up(self):
            return ["SELECT 1;"]

    class ReturnsNothing(Migration, register=False):
        def up(self):
            return "  -- nothing\n"

    class BadDown(Migration, register=False):
        def up(self):
            return "SELECT 1;"

        def down(self):
            return 42

    origin = "class %s.%%s" % __name__
    for cls, message in ((ReturnsList, "%s.up() must return the SQL as a string, not list"),
                         (ReturnsNothing, "%s.up() returned no SQL"),
                         (BadDown, "%s.down() must return the SQL as a string or None, not int")):
        with pytest.raises(MigrationError) as info:
            collect_migrations([cls])
        assert str(info.value) == message % (origin % cls.__qualname__)


def test_an_explicit_list_numbers_by_its_own_order(registry):
    class A(Migration, register=False):
        def up(self):
            return "SELECT 1;"

    class B(Migration, register=False):
        def up(self):
            return "SELECT 2;"

    assert [(s.version, s.name) for s in collect_migrations([B, A])] == [(1, "b"), (2, "a")]
    assert registered_migrations() == []


def test_classes_and_files_mix_and_clash_by_version(registry, tmp_path):
    class CreateThings(Migration):
        def up(self):
            return "SELECT 1;"

    write(tmp_path, "0002_more.sql", UP_DOWN)
    assert [(s.version, s.name) for s in collect_migrations(directory=str(tmp_path))] == [
        (1, "create_things"), (2, "more")]
    write(tmp_path, "0001_clash.sql", UP_DOWN)
    with pytest.raises(MigrationError) as info:
        collect_migrations(directory=str(tmp_path))
    assert str(info.value) == "two migrations have version 0001: class %s.%s and %s" % (
        __name__, CreateThings.__qualname__, tmp_path / "0001_clash.sql")


def test_the_migrations_folder_of_the_current_directory_is_used_when_present(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert collect_migrations() == []
    (tmp_path / "migrations").mkdir()
    write(tmp_path / "migrations", "0001_here.sql", UP_DOWN)
    assert [s.origin for s in collect_migrations()] == [os.path.join("migrations", "0001_here.sql")]


def test_collect_refuses_what_is_not_a_migration(registry):
    with pytest.raises(TypeError) as info:
        collect_migrations(["CREATE TABLE t (x INT);"])
    assert str(info.value) == "migrations must be Migration classes, not 'CREATE TABLE t (x INT);'"


# -- against real SQLite files ----------------------------------------------------------------

def open_db(tmp_path, name="app.db", url=None):
    """The test's database: ``url`` when it is PostgreSQL's (tests/db_backends.py), else a SQLite
    file ``name`` in ``tmp_path``."""
    from covet.database import DatabaseManager

    if url is not None and on_postgres(url):
        return DatabaseManager(url)
    return DatabaseManager("sqlite:///" + str(tmp_path / name))


def run(db, body):
    """asyncio.run(body(db)), the database closed afterwards."""
    async def main():
        try:
            return await body(db)
        finally:
            await db.disconnect()
    return asyncio.run(main())


async def tables(db):
    if db.dialect.name == "postgresql":
        rows = await db.fetch_all("SELECT table_name AS name FROM information_schema.tables "
                                  "WHERE table_schema = current_schema() ORDER BY table_name")
        return [r["name"] for r in rows]
    rows = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                              "ORDER BY name")
    return [r["name"] for r in rows]


def missing_table(db, name, dropped=False):
    """How the database words a missing table (PostgreSQL: differently for DROP TABLE)."""
    if db.dialect.name == "postgresql":
        return '%s "%s" does not exist' % ("table" if dropped else "relation", name)
    return "no such table: %s" % name


async def records(db, table="covet_migrations"):
    rows = await db.fetch_all("SELECT version, name, checksum FROM %s ORDER BY version" % table)
    return [(r["version"], r["name"], r["checksum"]) for r in rows]


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "migrations"
    path.mkdir()
    write(path, "0001_create_users.sql",
          "-- up\nCREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(255) UNIQUE NOT NULL);\n"
          "CREATE INDEX users_email ON users (email);\n-- down\nDROP TABLE users;\n")
    write(path, "0002_create_posts.sql",
          "-- up\nCREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));\n"
          "-- down\nDROP TABLE posts;\n")
    write(path, "0003_create_tags.sql",
          "-- up\nCREATE TABLE tags (name TEXT PRIMARY KEY);\n-- down\nDROP TABLE tags;\n")
    return path


def names(scripts):
    return [s.name for s in scripts]


def test_the_seed_migration_runs_as_written_on_sqlite(registry, tmp_path, monkeypatch, database_url):
    monkeypatch.chdir(tmp_path)

    class CreateUsersTable(Migration):
        def up(self):
            return """
            CREATE TABLE users (
                id SERIAL PRIMARY KEY,
                name VARCHAR(100) NOT NULL,
                email VARCHAR(255) UNIQUE NOT NULL,
                created_at TIMESTAMP DEFAULT NOW()
            );
            """

        def down(self):
            return "DROP TABLE users;"

    db = open_db(tmp_path, url=database_url)   # the database most recently created: migrate()'s default

    async def body(db):
        from covet.database.migrations import migrate

        done = await migrate("up")
        assert [(s.version, s.name, s.origin) for s in done] == [
            (1, "create_users_table", "class %s.%s" % (__name__, CreateUsersTable.__qualname__))]
        await db.execute("INSERT INTO users (name, email) VALUES (?, ?)", "Ada", "ada@example.com")
        row = await db.fetch_one("SELECT id, name, created_at FROM users")
        assert (row["id"], row["name"]) == (1, "Ada")
        if on_postgres(database_url):  # a TIMESTAMP column: a datetime
            assert isinstance(row["created_at"], datetime.datetime)
        else:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["created_at"])
        assert await records(db) == [(1, "create_users_table", checksum(CreateUsersTable().up()))]
        assert await migrate("up") == []
        assert names(await migrate("down", steps=1)) == ["create_users_table"]
        assert await tables(db) == ["covet_migrations"]
        assert await records(db) == []
    run(db, body)


def test_files_apply_in_order_and_roll_back_newest_first(tmp_path, folder, database_url):
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        done = await migrate_up(db, folder)
        assert names(done) == ["create_users", "create_posts", "create_tags"]
        assert await tables(db) == ["covet_migrations", "posts", "tags", "users"]
        assert [r[:2] for r in await records(db)] == [(1, "create_users"), (2, "create_posts"), (3, "create_tags")]
        row = await db.fetch_one("SELECT applied_at FROM covet_migrations WHERE version = 1")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["applied_at"])
        assert names(await migrations.migrate("down", db=db, directory=str(folder))) == ["create_tags"]
        assert names(await migrations.migrate("down", steps=2, db=db, directory=str(folder))) == [
            "create_posts", "create_users"]
        assert await tables(db) == ["covet_migrations"]
        assert await migrations.migrate("down", db=db, directory=str(folder)) == []
    run(db, body)


async def migrate_up(db, folder, **kw):
    return await migrations.migrate("up", db=db, directory=str(folder), migrations=[], **kw)


def test_targets_and_steps(tmp_path, folder, database_url):
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        d = str(folder)
        assert names(await migrate_up(db, folder, target=2)) == ["create_users", "create_posts"]
        assert names(await migrate_up(db, folder, target="create_posts")) == []
        assert names(await migrate_up(db, folder, steps=1)) == ["create_tags"]
        assert names(await migrations.migrate("down", target="1", db=db, directory=d, migrations=[])) == [
            "create_tags", "create_posts"]
        assert names(await migrate_up(db, folder, target="create_tags")) == ["create_posts", "create_tags"]
        assert names(await migrations.migrate("down", target=0, db=db, directory=d, migrations=[])) == [
            "create_tags", "create_posts", "create_users"]
        for target, message in ((9, "no migration with version 0009"), ("nope", "no migration named 'nope'"),
                                (0, "no migration with version 0000")):
            with pytest.raises(MigrationError) as info:
                await migrate_up(db, folder, target=target)
            assert str(info.value) == message
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("down", target=7, db=db, directory=d, migrations=[])
        assert str(info.value) == "no migration with version 0007"
    run(db, body)


@pytest.mark.parametrize("call,message", [
    (dict(direction="sideways"), "direction must be 'up' or 'down', not 'sideways'"),
    (dict(direction="up", steps=0), "steps must be a positive int, not 0"),
    (dict(direction="down", steps=True), "steps must be a positive int, not True"),
    (dict(direction="down", steps=1, target=0), "give steps or target, not both"),
])
def test_bad_arguments(tmp_path, folder, call, message, database_url):
    call = dict(call)  # the parameter is shared by both databases' runs
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        with pytest.raises(ValueError) as info:
            await migrations.migrate(call.pop("direction"), db=db, directory=str(folder), **call)
        assert str(info.value) == message
        assert await tables(db) == []
    run(db, body)


def test_status_reports_applied_pending_changed_missing(tmp_path, folder, database_url):
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        d = str(folder)
        report = await migrations.status(db=db, directory=d, migrations=[])
        assert [(m.version, m.name, m.state, m.applied_at) for m in report.migrations] == [
            (1, "create_users", "pending", None), (2, "create_posts", "pending", None),
            (3, "create_tags", "pending", None)]
        assert await tables(db) == []   # status creates nothing
        await migrate_up(db, folder, target=2)
        (folder / "0001_create_users.sql").write_text(
            "-- up\nCREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT);\n-- down\nDROP TABLE users;\n")
        (folder / "0002_create_posts.sql").rename(folder / "0002_renamed.sql")
        write(folder, "0004_more.sql", "-- up\nCREATE TABLE more (x INT);\n")
        await db.execute("INSERT INTO covet_migrations VALUES (9, 'gone', 'abc', '2024-01-01 00:00:00')")
        report = await migrations.status(db=db, directory=d, migrations=[])
        assert [(m.version, m.name, m.state) for m in report.migrations] == [
            (1, "create_users", "changed"), (2, "renamed", "changed"), (3, "create_tags", "pending"),
            (4, "more", "pending"), (9, "gone", "missing")]
        assert report.changed[0].detail == "%s was edited after it was applied" % (folder / "0001_create_users.sql")
        assert report.changed[1].detail == "version 0002 was applied as 'create_posts' but is now 'renamed' (%s)" % (
            folder / "0002_renamed.sql")
        assert report.missing[0].detail == "applied, but no migration file or class has this version"
        assert (report.applied, names(report.pending), report.up_to_date) == ([], ["create_tags", "more"], False)
        assert repr(report) == ("<MigrationStatus 0001:changed 0002:changed 0003:pending 0004:pending "
                                "0009:missing>")
    run(db, body)


def test_an_edited_migration_stops_migrate(tmp_path, folder, database_url):
    db = open_db(tmp_path, url=database_url)
    users = folder / "0001_create_users.sql"

    async def body(db):
        await migrate_up(db, folder, target=1)
        original = users.read_text()
        # Line endings and trailing blanks are not edits, and neither is a fixed down section.
        users.write_bytes(original.replace("\n", "   \r\n").replace("DROP TABLE users;", "DROP TABLE IF EXISTS users;")
                          .encode())
        assert (await migrations.status(db=db, directory=str(folder), migrations=[])).changed == []
        users.write_text(original.replace("UNIQUE NOT NULL", "NOT NULL"))
        with pytest.raises(MigrationError) as info:
            await migrate_up(db, folder)
        assert str(info.value) == (
            "applied migrations have changed, so none was run: %s was edited after it was applied. Restore them, or "
            "roll them back and migrate again" % users)
        assert await tables(db) == ["covet_migrations", "users"]   # 0002 and 0003 did not run
        assert [r[:2] for r in await records(db)] == [(1, "create_users")]
        # The way out for a migration that ran only here: roll it back, migrate again.
        assert names(await migrations.migrate("down", db=db, directory=str(folder), migrations=[])) == [
            "create_users"]
        assert names(await migrate_up(db, folder)) == ["create_users", "create_posts", "create_tags"]
        assert (await records(db))[0][2] == checksum(parse_migration(users.read_text(), "x")[0])
    run(db, body)


def test_a_failing_migration_leaves_the_schema_as_it_was(tmp_path, folder, database_url):
    write(folder, "0002_create_posts.sql",
          "-- up\nCREATE TABLE posts (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n"
          "-- down\nDROP TABLE posts;\n")
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        from covet.database.errors import OperationalError, ProgrammingError

        with pytest.raises(MigrationError) as info:
            await migrate_up(db, folder)
        assert str(info.value) == ("migration 0002 create_posts (%s) failed, so none of it was applied: %s"
                                   % (folder / "0002_create_posts.sql", missing_table(db, "no_such_table")))
        assert isinstance(info.value.__cause__, ProgrammingError if on_postgres(database_url) else OperationalError)
        assert await tables(db) == ["covet_migrations", "users"]   # no posts; 0003 never ran
        assert [r[:2] for r in await records(db)] == [(1, "create_users")]
    run(db, body)


def test_a_failing_rollback_keeps_the_migration(tmp_path, folder, database_url):
    write(folder, "0003_create_tags.sql", "-- up\nCREATE TABLE tags (name TEXT);\n"
                                          "-- down\nDROP TABLE tags;\nDROP TABLE no_such_table;\n")
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        await migrate_up(db, folder)
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("down", db=db, directory=str(folder), migrations=[])
        assert str(info.value) == ("migration 0003 create_tags (%s) failed to roll back, so none of it was undone: %s"
                                   % (folder / "0003_create_tags.sql", missing_table(db, "no_such_table", dropped=True)))
        assert await tables(db) == ["covet_migrations", "posts", "tags", "users"]
        assert len(await records(db)) == 3
    run(db, body)


def test_rollback_checks_every_step_before_undoing_any(tmp_path, folder, database_url):
    write(folder, "0002_create_posts.sql", "-- up\nCREATE TABLE posts (id INTEGER PRIMARY KEY);\n")
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        d = str(folder)
        await migrate_up(db, folder)
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("down", steps=2, db=db, directory=d, migrations=[])
        assert str(info.value) == ("migration 0002 create_posts (%s) has no down SQL: it cannot be rolled back"
                                   % (folder / "0002_create_posts.sql"))
        assert len(await records(db)) == 3   # 0003 was not undone either
        write(folder, "0003_create_tags.sql", "-- up\nCREATE TABLE tags (name TEXT PRIMARY KEY);\n-- down\n-- none\n")
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("down", db=db, directory=d, migrations=[])
        assert str(info.value) == ("migration 0003 create_tags (%s) has an empty down section: it cannot be rolled "
                                   "back" % (folder / "0003_create_tags.sql"))
        (folder / "0003_create_tags.sql").unlink()
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("down", db=db, directory=d, migrations=[])
        assert str(info.value) == ("migration 0003 create_tags is applied but no file or class has its version any "
                                   "more: it cannot be rolled back")
        write(folder, "0003_other.sql", "-- up\nSELECT 1;\n-- down\nSELECT 1;\n")
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("down", db=db, directory=d, migrations=[])
        assert str(info.value) == ("cannot roll back: version 0003 was applied as 'create_tags' but is now 'other' "
                                   "(%s)" % (folder / "0003_other.sql"))
        assert len(await records(db)) == 3
    run(db, body)


def test_inserting_a_class_in_the_middle_is_caught(registry, tmp_path, database_url):
    class A(Migration, register=False):
        def up(self):
            return "CREATE TABLE a (x INT);"

    class B(Migration, register=False):
        def up(self):
            return "CREATE TABLE b (x INT);"

    class Inserted(Migration, register=False):
        def up(self):
            return "CREATE TABLE i (x INT);"

    db = open_db(tmp_path, url=database_url)

    async def body(db):
        assert names(await migrations.migrate("up", db=db, migrations=[A, B], directory=str(tmp_path))) == ["a", "b"]
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("up", db=db, migrations=[A, Inserted, B], directory=str(tmp_path))
        assert str(info.value).startswith("applied migrations have changed, so none was run: version 0002 was "
                                          "applied as 'b' but is now 'inserted'")
    run(db, body)


def test_a_custom_record_table(tmp_path, folder, database_url):
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        await migrate_up(db, folder, table="schema_history")
        assert await tables(db) == ["posts", "schema_history", "tags", "users"]
        assert len(await records(db, "schema_history")) == 3
        with pytest.raises(ValueError) as info:
            await migrate_up(db, folder, table="x; DROP TABLE users")
        assert str(info.value).startswith("'x; DROP TABLE users' is not a valid SQL name")
    run(db, body)


def test_the_applied_set_is_read_again_under_the_lock(tmp_path, folder, database_url):
    # Another worker applied everything between this worker's first read and its lock: the
    # migrations must be skipped, not run a second time (CREATE TABLE would fail).
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        await migrate_up(db, folder)
        migrator = migrations.Migrator(db, directory=str(folder), migrations=[])

        async def stale():
            return {}
        migrator._applied = stale
        assert await migrator.up() == []
        assert len(await records(db)) == 3
    run(db, body)


def test_two_workers_migrating_at_once_apply_each_migration_once(tmp_path, database_url):
    folder = tmp_path / "many"
    folder.mkdir()
    count = 12
    for i in range(1, count + 1):
        # No IF NOT EXISTS: a migration run twice fails.
        write(folder, "%04d_t%d.sql" % (i, i), "-- up\nCREATE TABLE t%d (x INT);\nINSERT INTO t%d VALUES (%d);\n"
                                               "-- down\nDROP TABLE t%d;\n" % (i, i, i, i))
    start = threading.Barrier(2)
    results, errors = {}, []

    def worker(n):
        db = open_db(tmp_path, "shared.db", url=database_url)

        async def body(db):
            await db.connect()
            start.wait()
            return await migrations.migrate("up", db=db, directory=str(folder), migrations=[])
        try:
            results[n] = run(db, body)
        except BaseException as exc:  # reported below with the worker's number
            errors.append((n, exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = sorted(s.version for done in results.values() for s in done)
    assert applied == list(range(1, count + 1))

    async def check(db):
        assert [r[0] for r in await records(db)] == list(range(1, count + 1))
        for i in range(1, count + 1):
            assert await db.fetch_all("SELECT x FROM t%d" % i) == [{"x": i}]
    run(open_db(tmp_path, "shared.db", url=database_url), check)


class FakeDialect:
    def __init__(self, name):
        self.name = name


class RecordingDatabase:
    """Just enough of DatabaseManager to see the statements the migrator sends on PostgreSQL."""

    def __init__(self):
        from covet.database.params import split_statements

        self.dialect = FakeDialect("postgresql")
        self.backend = type("Backend", (), {"split_script": staticmethod(split_statements)})()
        self.calls = []
        self.recorded = {}

    async def connect(self):
        pass

    def transaction(self):
        calls = self.calls

        class Tx:
            async def __aenter__(self):
                calls.append("BEGIN")

            async def __aexit__(self, *exc):
                calls.append("ROLLBACK" if exc[0] else "COMMIT")
        return Tx()

    async def fetch_val(self, sql, *params):
        self.calls.append((sql, params))
        if "information_schema" in sql:
            return 1
        if "WHERE version" in sql:
            return 1 if params[0] in self.recorded else None
        return None

    async def fetch_all(self, sql, *params):
        self.calls.append((sql, params))
        return []

    async def execute_script(self, sql):
        self.calls.append(("script", sql))

    async def execute(self, sql, *params):
        self.calls.append((sql, params[:2]))


def test_on_postgresql_each_migration_takes_the_advisory_lock_first():
    db = RecordingDatabase()

    class One(Migration, register=False):
        def up(self):
            return "CREATE TABLE one (x INT);"

    async def body():
        return await migrations.migrate("up", db=db, migrations=[One])
    key = int.from_bytes(hashlib.sha256(b"covet.migrations:covet_migrations").digest()[:8], "big", signed=True)
    assert names(asyncio.run(body())) == ["one"]
    assert db.calls == [
        ("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
         ("covet_migrations",)),
        ('SELECT version, name, checksum, applied_at FROM "covet_migrations" ORDER BY version', ()),
        "BEGIN",
        ("SELECT pg_advisory_xact_lock(?)", (key,)),
        ('SELECT version FROM "covet_migrations" WHERE version = ?', (1,)),
        ("script", "CREATE TABLE one (x INT);"),
        ('INSERT INTO "covet_migrations" (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)', (1, "one")),
        "COMMIT",
    ]


def test_normalise_sql():
    assert migration_files.normalise_sql("\n    CREATE TABLE t (\r\n      x INT  \r\n    );\n") == (
        "CREATE TABLE t (\n  x INT\n);")


def test_reindenting_a_class_does_not_change_its_checksum(registry):
    class Deep(Migration, register=False):
        def up(self):
            return """
                    CREATE TABLE t (
                        x INT
                    );
            """

    class Shallow(Migration, register=False):
        def up(self):
            return "CREATE TABLE t (\n    x INT\n);"

    deep, shallow = collect_migrations([Deep])[0], collect_migrations([Shallow])[0]
    assert deep.up == shallow.up == "CREATE TABLE t (\n    x INT\n);"
    assert deep.checksum == shallow.checksum


@pytest.mark.parametrize("name", ["", "  ", 3])
def test_a_bad_class_name_is_refused(registry, name):
    with pytest.raises(TypeError) as info:
        type("Named", (Migration,), {"name": name, "up": lambda self: "SELECT 1;"})
    assert str(info.value) == "Named.name must be a non-empty string, not %r" % (name,)


@pytest.mark.parametrize("statements,keyword", [
    (["CREATE TABLE t (x INT)", "COMMIT"], "COMMIT"),
    (["begin transaction", "CREATE TABLE t (x INT)"], "BEGIN"),
    (["-- a note\nEND"], "END"),
    (["/* x */ rollback"], "ROLLBACK"),
    (["START   TRANSACTION"], "START TRANSACTION"),
    (["ABORT"], "ABORT"),
    (["CREATE TABLE t (x INT)", "SAVEPOINT a", "ROLLBACK TO SAVEPOINT a", "RELEASE a"], None),
    (["CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (1); END"], None),
    (["UPDATE t SET x = 'COMMIT'", "CREATE TABLE commits (x INT)", "SELECT 1 AS begin_at"], None),
])
def test_transaction_control(statements, keyword):
    assert migration_files.transaction_control(statements) == keyword


def test_a_migration_with_its_own_commit_is_refused_before_anything_runs(tmp_path, folder, database_url):
    write(folder, "0003_create_tags.sql", "-- up\nCREATE TABLE tags (name TEXT);\nCOMMIT;\nCREATE TABLE more (x INT);\n"
                                          "-- down\nDROP TABLE tags;\n")
    if on_postgres(database_url):  # a trigger's BEGIN ... END is in its function's dollar-quoted body
        trigger = ("CREATE FUNCTION log_zero() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
                   "  INSERT INTO log VALUES (0);\n  RETURN NULL;\nEND;\n$$;\n"
                   "CREATE TRIGGER tr AFTER INSERT ON log FOR EACH ROW WHEN (NEW.x <> 0) "
                   "EXECUTE FUNCTION log_zero();\n")
    else:
        trigger = "CREATE TRIGGER tr AFTER INSERT ON log\nBEGIN\n  INSERT INTO log VALUES (0);\nEND;\n"
    write(folder, "0004_trigger.sql",
          "-- up\nCREATE TABLE log (x INT);\n" + trigger + "-- down\nBEGIN;\nDROP TABLE log;\n")
    db = open_db(tmp_path, url=database_url)

    async def body(db):
        with pytest.raises(MigrationError) as info:
            await migrate_up(db, folder)
        assert str(info.value) == (
            "migration 0003 create_tags (%s) has a COMMIT statement of its own: every migration runs in one "
            "transaction (so that it is applied whole or not at all); leave out BEGIN, COMMIT and ROLLBACK"
            % (folder / "0003_create_tags.sql"))
        assert await tables(db) == ["covet_migrations"]   # not even 0001 ran
        (folder / "0003_create_tags.sql").unlink()
        assert names(await migrate_up(db, folder)) == ["create_users", "create_posts", "trigger"]
        with pytest.raises(MigrationError) as info:
            await migrations.migrate("down", db=db, directory=str(folder), migrations=[])
        assert str(info.value).startswith("migration 0004 trigger (%s) has a BEGIN statement of its own"
                                          % (folder / "0004_trigger.sql"))
    run(db, body)


def test_a_record_table_in_an_attached_database(tmp_path, folder):
    db = open_db(tmp_path)

    async def body(db):
        async with db.connection():   # ATTACH is per connection: keep one for the whole test
            await db.execute("ATTACH DATABASE ? AS audit", str(tmp_path / "audit.db"))
            assert names(await migrate_up(db, folder, table="audit.history")) == [
                "create_users", "create_posts", "create_tags"]
            report = await migrations.status(db=db, directory=str(folder), migrations=[], table="audit.history")
            assert [m.state for m in report.migrations] == ["applied"] * 3
            assert await db.fetch_val("SELECT count(*) FROM audit.history") == 3
            assert "history" not in await tables(db)
    run(db, body)
