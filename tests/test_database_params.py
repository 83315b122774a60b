"""Placeholder translation, statement splitting, URLs, rows and identifiers: the database layer's
pure parts, on strings alone."""
import json
import sqlite3

import pytest

from covet.database import DatabaseConfig, InvalidIdentifier, ProgrammingError, Record, quote_identifier
from covet.core.responses import dump_json
from covet.database.config import parse_url
from covet.database.records import MappingRecord, SQLiteRecord
from covet.database.errors import IntegrityError, OperationalError, translate_error
from covet.database.optimizer import QueryOptimizer
from covet.database.params import split_statements, to_qmark, translate

# (sql, paramstyle, sqlite rewrites, expected sql, caller's params, driver's params)
CASES = [
    ("SELECT * FROM u WHERE a = ? AND b = ?", "qmark", False, "SELECT * FROM u WHERE a = ? AND b = ?", (1, 2), (1, 2)),
    ("SELECT * FROM u WHERE a = %s AND b = %s", "qmark", False, "SELECT * FROM u WHERE a = ? AND b = ?", (1, 2), (1, 2)),
    ("SELECT * FROM u WHERE a = $2 AND b = $1 OR c = $2", "qmark", False,
     "SELECT * FROM u WHERE a = ? AND b = ? OR c = ?", (1, 2), [2, 1, 2]),
    ("SELECT * FROM u WHERE a = :a AND b = :b AND c = :a", "qmark", False,
     "SELECT * FROM u WHERE a = ? AND b = ? AND c = ?", ({"a": 1, "b": 2},), [1, 2, 1]),
    ("SELECT * FROM u WHERE a = %(a)s", "qmark", False, "SELECT * FROM u WHERE a = ?", ({"a": 1},), [1]),
    ("SELECT * FROM u WHERE a = ? AND b = ?", "dollar", False, "SELECT * FROM u WHERE a = $1 AND b = $2", (1, 2), [1, 2]),  # counted: not passed through
    ("SELECT * FROM u WHERE a = ? AND b = ?", "format", False, "SELECT * FROM u WHERE a = %s AND b = %s", (1, 2), (1, 2)),
    ("SELECT * FROM u WHERE a = ? AND b = ?", "numeric", False, "SELECT * FROM u WHERE a = :1 AND b = :2", (1, 2), (1, 2)),
    ("SELECT * FROM u WHERE a = ? AND b = ?", "named", False, "SELECT * FROM u WHERE a = :p1 AND b = :p2", (1, 2),
     {"p1": 1, "p2": 2}),
    ("SELECT * FROM u WHERE a = ?", "pyformat", False, "SELECT * FROM u WHERE a = %(p1)s", (1,), {"p1": 1}),
    # what looks like a placeholder inside literals, identifiers, comments, casts and dollar quotes is not one
    ("SELECT '?', \"a?\", `b?`, x::int, $$ :y $$, $t$ ? $t$ FROM u -- ?\n WHERE a = ? /* :z */", "qmark", False,
     "SELECT '?', \"a?\", `b?`, x::int, $$ :y $$, $t$ ? $t$ FROM u -- ?\n WHERE a = ? /* :z */", (1,), (1,)),
    ("SELECT 'it''s ?' FROM u WHERE a = ?", "qmark", False, "SELECT 'it''s ?' FROM u WHERE a = ?", (1,), (1,)),
    ("SELECT 7 % 2, ? FROM u", "format", False, "SELECT 7 %% 2, %s FROM u", (1,), (1,)),
    ("SELECT * FROM u WHERE n LIKE %s AND m LIKE '%%a'", "qmark", False,
     "SELECT * FROM u WHERE n LIKE ? AND m LIKE '%a'", ("x",), ("x",)),
    ("SELECT 1 FROM u", "qmark", False, "SELECT 1 FROM u", (), ()),
    # SQLite rewrites, only outside literals and only for SQLite
    ("SELECT * FROM u WHERE n ILIKE %s AND m = 'ILIKE'", "qmark", True,
     "SELECT * FROM u WHERE n LIKE ? AND m = 'ILIKE'", ("a",), ("a",)),
    ("CREATE TABLE t (id SERIAL PRIMARY KEY, b BIGSERIAL, at TIMESTAMP DEFAULT NOW(), s TEXT DEFAULT 'NOW()')",
     "qmark", True,
     "CREATE TABLE t (id INTEGER PRIMARY KEY, b INTEGER, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, s TEXT DEFAULT 'NOW()')",
     (), ()),
    ("SELECT * FROM u WHERE n ILIKE ?", "qmark", False, "SELECT * FROM u WHERE n ILIKE ?", ("a",), ("a",)),
]


@pytest.mark.parametrize("sql, style, sqlite, expected, params, bound", CASES)
def test_translation(sql, style, sqlite, expected, params, bound):
    t = translate(sql, style, sqlite)
    assert t.sql == expected
    result = t.bind(params)
    assert (list(result) if isinstance(bound, list) else result) == bound


def test_translation_is_cached_per_statement():
    assert translate("SELECT ? FROM cache_probe", "qmark") is translate("SELECT ? FROM cache_probe", "qmark")


@pytest.mark.parametrize("sql", [
    "SELECT * FROM u WHERE a = ? AND b = %s",
    "SELECT * FROM u WHERE a = $1 AND b = :b",
    "SELECT * FROM u WHERE a = :a AND b = ?",
])
def test_mixed_styles_are_refused(sql):
    with pytest.raises(ProgrammingError, match="mixes placeholder styles"):
        translate(sql, "qmark")


def test_bind_errors_name_the_problem():
    with pytest.raises(ProgrammingError, match="no value given for the placeholder :b"):
        translate("SELECT :a, :b", "qmark").bind(({"a": 1},))
    with pytest.raises(ProgrammingError, match="pass one mapping"):
        translate("SELECT :a", "qmark").bind((1,))
    with pytest.raises(ProgrammingError, match=r"uses \$3 but 2 values"):
        translate("SELECT $1, $3", "qmark").bind((1, 2))
    with pytest.raises(ProgrammingError, match="unknown paramstyle"):
        translate("SELECT 1", "weird")


@pytest.mark.parametrize("sql, is_write", [
    ("SELECT 1", False), ("  -- c\n/* d */ select 1", False), ("VALUES (1)", False), ("EXPLAIN SELECT 1", False),
    ("WITH x AS (SELECT 1) SELECT * FROM x", False), ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", True),
    ("INSERT INTO t VALUES (1)", True), ("update t set a = 1", True), ("DELETE FROM t", True),
    ("CREATE TABLE t (a)", True), ("PRAGMA user_version = 3", True),
])
def test_reads_and_writes_are_told_apart(sql, is_write):
    assert translate(sql, "qmark").is_write is is_write


def test_to_qmark_for_fragments():
    t = to_qmark("name = :name OR alias = :name")
    assert t.sql == "name = ? OR alias = ?"
    assert list(t.bind(({"name": "a"},))) == ["a", "a"]


def test_split_statements():
    script = "CREATE TABLE a (x TEXT DEFAULT ';'); -- a ; comment\nINSERT INTO a VALUES (';');\n\n;  "
    assert split_statements(script) == ["CREATE TABLE a (x TEXT DEFAULT ';')", "-- a ; comment\nINSERT INTO a VALUES (';')"]
    trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1; DELETE FROM a; END; SELECT 1"
    assert split_statements(trigger, sqlite3.complete_statement) == [
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1; DELETE FROM a; END", "SELECT 1"]
    assert split_statements("-- only a comment\n") == []


@pytest.mark.parametrize("url, fields", [
    ("sqlite:///app.db", {"driver": "sqlite", "database": "app.db"}),
    ("sqlite:////var/lib/app.db", {"driver": "sqlite", "database": "/var/lib/app.db"}),
    ("sqlite:///:memory:", {"driver": "sqlite", "database": ":memory:"}),
    ("sqlite://", {"driver": "sqlite", "database": ":memory:"}),
    ("postgresql://us%40r:p%3Ass@db.internal:6432/my%20app?pool_size=20&sslmode=require",
     {"driver": "postgresql", "host": "db.internal", "port": 6432, "username": "us@r", "password": "p:ss",
      "database": "my app", "pool_size": 20, "options": {"sslmode": "require"}}),
    ("postgres://u@[::1]/d", {"driver": "postgresql", "host": "::1", "database": "d", "port": None}),
])
def test_urls(url, fields):
    config = parse_url(url)
    for name, value in fields.items():
        assert getattr(config, name) == value


@pytest.mark.parametrize("url, message", [
    ("app.db", "a database URL looks like"),
    ("sqlite://app.db", "three slashes"),
    ("postgresql://h:99999/d", "port"),
    ("sqlite:///a.db?pool_size=many", "whole number"),
])
def test_bad_urls(url, message):
    with pytest.raises(ValueError, match=message):
        parse_url(url)


def test_config_url_hides_the_password_and_checks_sizes():
    config = DatabaseConfig(driver="postgres", host="h", port=5432, database="d", username="u", password="secret",
                            pool_size=20, max_overflow=10)
    assert config.driver == "postgresql" and config.max_connections == 30
    assert config.url == "postgresql://u:***@h:5432/d"
    assert config.to_url() == "postgresql://u:secret@h:5432/d"
    with pytest.raises(ValueError, match="pool_size must be at least 1"):
        DatabaseConfig(pool_size=0)
    with pytest.raises(ValueError, match="whole number"):
        DatabaseConfig(max_overflow=-1)


def sqlite_row():
    conn = sqlite3.connect(":memory:")
    try:
        conn.row_factory = SQLiteRecord
        return conn.execute("SELECT 1 AS id, 'ann' AS name").fetchone()
    finally:
        conn.close()


@pytest.mark.parametrize("make", [lambda: MappingRecord(zip(["id", "name"], (1, "ann"))), sqlite_row],
                         ids=["mapping", "sqlite"])
def test_record(make):
    row = make()
    assert isinstance(row, Record)
    assert list(row) == ["id", "name"] and "name" in row and "nope" not in row and len(row) == 2
    assert row.to_dict() == {"id": 1, "name": "ann"} and row.get("nope", 5) == 5 and row.get("id") == 1
    assert list(row.items()) == [("id", 1), ("name", "ann")] and list(row.values()) == [1, "ann"]
    assert row != {"id": 2, "name": "ann"}
    assert json.loads(dump_json({"row": row})) == {"row": {"id": 1, "name": "ann"}}
    assert row["name"] == row.name == row[1] == "ann"
    assert row[0] == 1 and row[-1] == "ann"
    assert dict(row) == {"id": 1, "name": "ann"} == row
    with pytest.raises(AttributeError, match="no column 'email'"):
        row.email
    with pytest.raises((KeyError, IndexError)):
        row["email"]
    with pytest.raises(IndexError):
        row[5]
    assert repr(row) == "Record(id=1, name='ann')"


@pytest.mark.parametrize("name", [
    "users; DROP TABLE users", 'name" --', "1=1", "a b", "", "a.b.c", "x" * 64, "naïve", 'a"b', "a--", None, 3,
])
def test_identifier_injection_is_refused(name):
    with pytest.raises(InvalidIdentifier):
        quote_identifier(name)


def test_identifiers_are_quoted():
    assert quote_identifier("users") == '"users"'
    assert quote_identifier("main.users") == '"main"."users"'
    assert quote_identifier("_a$1") == '"_a$1"'


def test_driver_errors_become_covet_errors():
    error = translate_error(sqlite3.IntegrityError("UNIQUE constraint failed: users.email"))
    assert type(error) is IntegrityError and str(error) == "UNIQUE constraint failed: users.email"
    assert isinstance(error.__cause__, sqlite3.IntegrityError)
    assert type(translate_error(sqlite3.OperationalError("locked"))) is OperationalError


def test_query_optimizer_prepares_once():
    optimizer = QueryOptimizer()
    sql = "SELECT id, name FROM users WHERE name ILIKE $1 ORDER BY name LIMIT 100"
    prepared = optimizer.prepare(sql)
    assert prepared == sql and prepared.placeholders == 1 and prepared.style == "numeric"
    assert optimizer.prepare(sql) is prepared and len(optimizer) == 1
    with pytest.raises(ProgrammingError, match="mixes"):
        optimizer.prepare("SELECT ? , $1")
