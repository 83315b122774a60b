"""Every Python example of covet's API reference (seed 004), run as written.

One test per example, numbered as the examples come in the reference (tests/seed_examples.py
reads them from the reference itself). The only changes are the blanks a reader fills in: their
own ``validate_user``, a database URL, a running Redis or PostgreSQL where the example names one.
Each is listed in the test with ``fill`` and must still be in the text. Where an example names an
external service, the test starts a real one (tests/redis_fixture.py, tests/pg_fixture.py) and
skips, naming it, only where its binaries cannot be found. docs/seed-reference.md maps each
example to its docs page, and says where covet's behaviour differs from the reference's text.
"""
import asyncio
import filecmp
import json
import os
import sys

import pytest

import covet
from covet import CovetApp
from covet.testing import AsyncTestClient, TestClient
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)
from seed_examples import ORIGINALS, SEED, blocks, example, fill, heading, run


def ns(**names):
    """A namespace for an example: ``app`` (a fresh CovetApp) and the names it takes as given."""
    namespace = {"__name__": "seed_example", "app": CovetApp(), "CovetApp": CovetApp}
    namespace.update(names)
    return namespace


def test_the_reference_copy_is_the_reference():
    originals = sorted(ORIGINALS.glob("004_*.txt")) if ORIGINALS.is_dir() else []
    if not originals:
        pytest.skip("../shared/seeds is not beside this checkout: the copy in tests/seeds is what runs")
    assert filecmp.cmp(str(originals[0]), str(SEED), shallow=False)


def test_every_example_has_a_test_here():
    tested = {int(name.split("_")[2]) for name in globals() if name.startswith("test_example_")}
    assert tested == set(range(1, len(blocks()) + 1)), sorted(set(range(1, len(blocks()) + 1)) - tested)


# -- Quick Start, Core Application ------------------------------------------------------------

def test_example_01_quick_start():
    namespace = run(1, {"__name__": "seed_example"})
    with TestClient(namespace["app"]) as client:
        assert client.get("/").json() == {"message": "Hello, World!"}
        assert client.get("/users/42").json() == {"id": 42, "name": "User 42"}
        # An int parameter in the path matches digits only: another segment is no such resource.
        r = client.get("/users/forty-two")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_example_02_constructor_arguments():
    # A signature, not a program: each argument it names is accepted as it describes.
    assert "config: Optional[Dict[str, Any]] = None" in example(2)
    from covet.security import SecurityConfig

    calls = []

    async def mw(request, call_next):
        calls.append(request.url.path)
        return await call_next(request)

    app = CovetApp(config={"DEBUG": True, "CACHE_TTL": 60}, debug=False, middleware=[mw],
                   security_config=SecurityConfig(cors_origins=["https://myapp.com"]))
    assert app.debug is False and app.config.CACHE_TTL == 60  # an explicit debug= wins

    @app.route("/")
    async def home():
        return {"ok": True}

    with TestClient(app) as client:
        r = client.get("/", headers={"Origin": "https://myapp.com"})
    assert r.json() == {"ok": True} and calls == ["/"]
    assert r.headers["access-control-allow-origin"] == "https://myapp.com"
    assert CovetApp(config={"DEBUG": True}).debug is True


def test_example_03_route_with_methods():
    namespace = run(3, ns())
    with TestClient(namespace["app"]) as client:
        assert client.get("/api/users").json() == {"users": []}
        r = client.post("/api/users", json={"name": "ada"})
        assert (r.status_code, r.json()) == (201, {"created": {"name": "ada"}})
        assert client.delete("/api/users").status_code == 405


def test_example_04_add_middleware():
    namespace = run(4, ns())

    @namespace["app"].route("/")
    async def home():
        return {"ok": True}

    with TestClient(namespace["app"]) as client:
        assert client.get("/").headers["access-control-allow-origin"] == "*"


def test_example_05_run(monkeypatch):
    import covet.server.run as server

    seen = {}
    monkeypatch.setattr(server, "run", lambda app, **options: seen.update(options, app=app))
    namespace = run(5, ns())
    assert seen["app"] is namespace["app"] and (seen["host"], seen["port"]) == ("0.0.0.0", 8000)


def test_example_06_mount():
    namespace = run(6, ns())

    @namespace["api_app"].route("/ping")
    async def ping(request):
        return {"root_path": request.root_path}

    with TestClient(namespace["app"]) as client:
        assert client.get("/api/v1/ping").json() == {"root_path": "/api/v1"}


def test_example_07_lifecycle(capsys):
    namespace = run(7, ns())
    with TestClient(namespace["app"]):
        assert capsys.readouterr().out == "Application starting...\n"
    assert capsys.readouterr().out == "Application shutting down...\n"


# -- Routing ------------------------------------------------------------------------------------

def test_example_08_path_parameters():
    namespace = run(8, ns())
    with TestClient(namespace["app"]) as client:
        assert client.get("/users/7").json() == {"user_id": 7}
        assert client.get("/posts/3/comments/9").json() == {"post": 3, "comment": 9}
        assert client.get("/posts/3/comments/x").status_code == 404


def test_example_09_query_parameters():
    namespace = run(9, ns())
    with TestClient(namespace["app"]) as client:
        assert client.get("/search?q=pens&limit=5").json() == {"query": "pens", "limit": 5}
        assert client.get("/search").json() == {"query": "", "limit": 10}
        # A limit that is not an integer falls back to the default, as the reference's get(type=) does.
        assert client.get("/search?limit=many").json() == {"query": "", "limit": 10}


def test_example_10_request_body():
    # The example reads one body three ways. covet reads each way on the body that is one, and a
    # body read as what it is not is the client's error, said as such: a JSON body is not a form
    # (415), a form is not JSON (400). docs/seed-reference.md lists this difference.
    namespace = run(10, ns())
    with TestClient(namespace["app"]) as client:
        r = client.post("/api/data", json={"a": 1})
        assert (r.status_code, r.json()["detail"]) == (
            415, "expected a form (application/x-www-form-urlencoded or multipart/form-data), got 'application/json'")
        r = client.post("/api/data", data={"a": "1"})
        assert r.status_code == 400 and r.json()["detail"].startswith("malformed JSON")

    @namespace["app"].route("/api/each", methods=["POST"])
    async def each(request):
        kind = request.headers["content-type"].partition(";")[0]
        if kind == "application/json":
            return {"json": await request.json()}
        if kind == "application/x-www-form-urlencoded":
            return {"form": dict(await request.form())}
        return {"raw": (await request.body()).decode()}

    with TestClient(namespace["app"]) as client:
        assert client.post("/api/each", json={"a": 1}).json() == {"json": {"a": 1}}
        assert client.post("/api/each", data={"a": "1"}).json() == {"form": {"a": "1"}}
        assert client.post("/api/each", content=b"plain", headers={"content-type": "text/plain"}).json() == {
            "raw": "plain"}


def test_example_11_file_upload():
    namespace = run(11, ns())
    with TestClient(namespace["app"]) as client:
        r = client.post("/upload", files={"file": ("notes.txt", b"hello world", "text/plain")})
        assert r.json() == {"filename": "notes.txt", "size": 11, "content_type": "text/plain"}


def test_example_12_route_groups():
    namespace = run(12, ns())
    with TestClient(namespace["app"]) as client:
        assert client.get("/api/v1/users").json() == {"users": []}
        assert client.get("/api/v1/users/5").json() == {"user_id": 5}
        assert client.get("/users").status_code == 404


def test_example_13_dependency_injection():
    # The blank: the reader's DatabaseConnection.
    opened = []

    class DatabaseConnection:
        def __init__(self):
            opened.append(self)

        async def fetch_all(self, sql):
            assert sql == "SELECT * FROM users"
            return [{"id": 1, "name": "Ada"}]

    namespace = run(13, ns(DatabaseConnection=DatabaseConnection))
    with TestClient(namespace["app"]) as client:
        assert client.get("/users").json() == {"users": [{"id": 1, "name": "Ada"}]}
        client.get("/users")
    assert len(opened) == 2  # once per request


# -- Database & ORM -----------------------------------------------------------------------------

def pg_fills(pg):
    """The reference's PostgreSQL blanks, filled with the test server's."""
    user = pg.user
    return [('host="localhost"', 'host=%r' % pg.host), ("port=5432", "port=%d" % pg.port),
            ('database="myapp"', "database=%r" % pg.database), ('username="user"', "username=%r" % user),
            ('password="password"', "password=%r" % pg.users[user].password)]


def test_example_14_database_configuration(postgres_server):
    namespace = run(14, ns(), *pg_fills(postgres_server))
    db, app = namespace["db"], namespace["app"]
    assert (db.config.pool_size, db.config.max_overflow, db.config.max_connections) == (20, 10, 30)

    @app.route("/now")
    async def now():
        return {"one": await db.fetch_val("SELECT 1")}

    with TestClient(app) as client:  # app.add_database: connected at start-up, closed at shutdown
        assert db.connected
        assert client.get("/now").json() == {"one": 1}
    assert not db.connected


def test_example_15_orm_model_and_session(database_url):
    from covet.core.dependencies import Depends
    from covet.database import DatabaseManager
    from covet.database.orm import create_all

    db = DatabaseManager(database_url)
    # The blanks: covet's func for SQLAlchemy's, and get_db, the session dependency. A model
    # defined again under the same module and name replaces the last one in the registry.
    namespace = run(15, ns(Depends=Depends, get_db=db.session),
                    ("from sqlalchemy import func", "from covet.database.orm import func"))
    User, app = namespace["User"], namespace["app"]
    app.add_database(db)
    app.on_startup(lambda: create_all(db, User))
    with TestClient(app) as client:
        r = client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
        assert (r.status_code, r.json()) == (200, {"id": 1, "name": "Ada"})
        r = client.post("/users", json={"name": "Ada again", "email": "ada@example.com"})
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"

        @app.route("/check")
        async def check():
            row = await db.fetch_one("SELECT name, created_at FROM users WHERE id = 1")
            return {"name": row["name"], "stamped": row["created_at"] is not None,
                    "count": await db.fetch_val("SELECT count(*) FROM users")}

        assert client.get("/check").json() == {"name": "Ada", "stamped": True, "count": 1}
