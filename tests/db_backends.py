"""One fixture, two databases: the database layer's tests run on SQLite and on PostgreSQL.

A test that asks for ``database_url`` runs twice: on a SQLite file in its ``tmp_path`` and on the
session's PostgreSQL server (tests/pg_fixture.py; that run skips, saying why, where the server
binaries cannot be found). PostgreSQL runs start from an empty ``public`` schema (that every test
role may create in, as tests/pg_fixture.py sets it up): connections left by earlier tests are
ended first, so nothing of theirs holds a lock or a table.

``sqlite_url`` is the SQLite file alone, for what only SQLite has (a shared file, WAL, reads on
the loop's thread, ``:memory:``).

Example::

    def test_insert(database_url):
        db = DatabaseManager(database_url)
        ...
"""
import asyncio

import pytest

from covet.database.postgres.connection import PGConnection

BACKENDS = ("sqlite", "postgresql")

_RESET = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend';
DROP SCHEMA IF EXISTS public CASCADE;
CREATE SCHEMA public;
GRANT ALL ON SCHEMA public TO PUBLIC;
"""


def reset_postgres(url: str) -> None:
    """Empty the database of ``url`` (its ``public`` schema), ending every other session on it."""
    async def go() -> None:
        conn = await PGConnection.connect_url(url)
        try:
            await conn.simple_query(_RESET)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A URL of an empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return "sqlite:///%s" % (tmp_path / "app.db")
    server = request.getfixturevalue("postgres_server")
    url = server.url()
    reset_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path):
    """A URL of an empty SQLite file."""
    return "sqlite:///%s" % (tmp_path / "app.db")


def on_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def gate_free(db) -> bool:
    """No writer holds the write gate (SQLite's); PostgreSQL has none."""
    return db.gate is None or not db.gate.held


def count_tables_sql(db, name: str) -> str:
    """SQL counting the tables called ``name`` (0 or 1), in the database's own catalogue."""
    if db.dialect.name == "postgresql":
        return "SELECT count(*) FROM information_schema.tables WHERE table_name = '%s'" % name
    return "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'" % name


async def table_exists(db, name: str) -> bool:
    """Whether a table of that name exists, asked the database's own way."""
    return bool(await db.fetch_val(count_tables_sql(db, name)))
