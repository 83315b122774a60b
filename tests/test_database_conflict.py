"""A constraint violation no handler caught is a 409 problem+json, not a 500: app.add_database()
registers the answer, and an app's own handler for IntegrityError wins, whenever it was added."""
import logging

from covet import Covet, JSONResponse
from covet.database import DatabaseManager, IntegrityError
from covet.testing import TestClient


def app_with(url, own_handler=False, after=False):
    db = DatabaseManager(url)
    app = Covet()

    async def mine(request, exc):
        return JSONResponse({"mine": True}, status_code=422)

    if own_handler and not after:
        app.add_exception_handler(IntegrityError, mine)
    app.add_database(db)
    if own_handler and after:
        app.add_exception_handler(IntegrityError, mine)
    app.on_startup(lambda: db.execute("CREATE TABLE IF NOT EXISTS users (email TEXT UNIQUE NOT NULL)"))

    @app.post("/users/{email}")
    async def create(email: str):
        await db.execute("INSERT INTO users (email) VALUES (?)", email)
        return {"email": email}

    return app


def test_a_duplicate_is_409_problem_json_and_the_database_message_is_logged_not_sent(database_url, caplog):
    with TestClient(app_with(database_url)) as client, caplog.at_level(logging.INFO, logger="covet.database"):
        assert client.post("/users/ada@example.com").status_code == 200
        r = client.post("/users/ada@example.com")
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Conflict", "status": 409, "instance": "/users/ada@example.com",
                        "detail": "the request conflicts with existing data (a uniqueness or reference constraint "
                                  "refused it)"}
    assert "users" not in r.text.replace("/users/", "")  # no table or column names reach the client
    [line] = [rec.getMessage() for rec in caplog.records if rec.name == "covet.database"]
    assert line.startswith("constraint violation in POST /users/ada@example.com: ")


def test_the_apps_own_handler_wins_before_or_after_add_database(sqlite_url):
    for after in (False, True):
        with TestClient(app_with(sqlite_url, own_handler=True, after=after)) as client:
            client.post("/users/x@example.com")
            r = client.post("/users/x@example.com")
        assert (r.status_code, r.json()) == (422, {"mine": True})
