"""Attacks on the database core (covet/database: params, backend, checkout, connection, manager):
hostile SQL text, hostile values, misuse of transactions and the pool, concurrency against the
SQLite write gate, and another process on the same file. Each test states the attack and what
must hold."""
import asyncio
import time

import pytest

from covet.database import DatabaseManager, ProgrammingError
from covet.database.params import split_statements, translate


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def url(tmp_path):
    return "sqlite:///%s" % (tmp_path / "attack.db")


def _elapsed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


# -- the placeholder scanner ---------------------------------------------------------------

@pytest.mark.parametrize("opener", ["/* ", "$t$ ", "' ", '" ', "` "])
def test_scanner_time_is_linear_in_unterminated_openers(opener):
    # 100k characters of openers that never close: each failed opener used to send the scanner
    # to the end of the statement again (quadratic: "/* " * 33k took 28 s).
    sql = "SELECT ? " + opener * 33000
    assert _elapsed(translate, sql, "qmark", True) < 0.5
    assert _elapsed(split_statements, sql + "; SELECT 1") < 0.5


def test_unterminated_constructs_run_to_the_end_of_the_statement():
    # As in SQLite's tokenizer: what follows an unclosed quote or comment is inside it, so no
    # placeholder is found there (the driver then refuses the unterminated literal).
    assert translate("SELECT ? /* ? :x", "qmark").count == 1
    assert translate("SELECT ?, 'it''s ? $1", "qmark").count == 1
    assert translate("SELECT $1 $$ ? :x", "qmark").count == 1
    assert translate("SELECT 'it''s', ?", "qmark").sql == "SELECT 'it''s', ?"
    assert translate("SELECT '''', ?", "dollar").sql == "SELECT '''', $1"


def test_a_ten_megabyte_statement_is_scanned_in_linear_time():
    literal = "x" * 10_000_000
    assert _elapsed(translate, "SELECT '%s', ?" % literal, "qmark") < 1.0
    assert _elapsed(translate, "SELECT '%s', ?" % literal.replace("xxxxx", "x''xx"), "format") < 1.0
