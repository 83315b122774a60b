"""Shared fixtures for the core tests: a TestClient factory and a raw dispatcher.

Like Starlette's ``test_client_factory``: a test builds its own app, asks
``client(app, **options)`` for a client, and every client made is closed
(shutdown hooks run, helper loop stopped) when the test ends.
"""
import asyncio

import pytest

from covet.core.requests import Request
from covet.testing import TestClient
# A real PostgreSQL server for any test that asks for it (skips where the binaries are missing).
from pg_fixture import postgres_server  # noqa: F401
# The database layer's tests run on SQLite and PostgreSQL alike (tests/db_backends.py).
from db_backends import database_url, sqlite_url  # noqa: F401


@pytest.fixture
def client():
    """``client(app, **options) -> TestClient``; all clients are closed after the test."""
    made = []

    def factory(app, **options):
        c = TestClient(app, **options)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()


@pytest.fixture
def dispatch():
    """``dispatch(app, method, raw_path, ...) -> Response``: a hand-built Request, for targets
    the TestClient would normalise (``*``, raw backslashes, bad percent-escapes, streamed bodies).
    Runs ``after_send`` like a server does, and returns the app's Response."""

    def run(app, method, raw_path, query_string="", headers=(), body=None, receive=None):
        raw = [(b"host", b"testserver")] + [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
        ]
        request = Request(method, raw_path, query_string, raw, client=("testclient", 50000),
                          body=body, receive=receive)

        async def go():
            response = await app.dispatch(request)
            await response.after_send()
            return response

        return asyncio.run(go())

    return run


def pytest_collection_modifyitems(config, items):
    # A test that starts or uses the PostgreSQL server is marked `postgres` (the sqlite/postgresql
    # parametrisation of database_url marks its own): tools/test-all.sh leaves them to the main
    # interpreter, as it leaves the slow ones, to keep `make test` within ten minutes.
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def pytest_terminal_summary(terminalreporter):
    """Name each test file skipped as a whole, with its reason (JSON-Schema-Test-Suite not found,
    say): the default summary only counts skips, and one count hides a whole file."""
    if "s" in getattr(terminalreporter, "reportchars", ""):
        return  # -rs / -ra list every skip already
    for report in terminalreporter.stats.get("skipped", ()):
        if getattr(report, "when", None) == "collect" and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2]
            if reason.startswith("Skipped: "):
                reason = reason[len("Skipped: "):]
            terminalreporter.write_line("SKIPPED %s: %s" % (report.nodeid, reason))
