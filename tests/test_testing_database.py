"""covet.testing.database.TestDatabase: a fresh temporary database per test, migrated, loaded from
dicts, dropped; usable from async code, plain def tests and pytest fixtures, and by an app under
the test clients."""
import asyncio
import json
import os
import sqlite3

import pytest

from covet import Covet, Depends
from covet.database import DatabaseManager, IntegrityError, InterfaceError, InvalidIdentifier
from covet.database import migrations
from covet.database.migrations import Migration
from covet.testing import AsyncTestClient, TestClient
from covet.testing.database import TestDatabase

USERS = ("-- up\nCREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL, "
         "email VARCHAR(255) UNIQUE NOT NULL, created_at TIMESTAMP DEFAULT NOW());\n-- down\nDROP TABLE users;\n")
POSTS = ("-- up\nCREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), "
         "title TEXT NOT NULL DEFAULT 'untitled');\n-- down\nDROP TABLE posts;\n")


@pytest.fixture(autouse=True)
def no_registered_classes(monkeypatch):
    """Classes defined by other test modules must not become this module's schema."""
    monkeypatch.setattr(migrations, "_registry", [])


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "migrations"
    path.mkdir()
    (path / "0001_users.sql").write_text(USERS)
    (path / "0002_posts.sql").write_text(POSTS)
    return str(path)


def files_of(db):
    return sorted(os.listdir(db.temporary_directory)) if os.path.isdir(db.temporary_directory) else None


def test_the_seed_fixture_flow(folder):
    async def main():
        db = TestDatabase("sqlite:///:memory:", directory=folder)
        await db.create_all()
        path = db.config.database
        assert os.path.dirname(path) == db.temporary_directory
        assert os.path.basename(db.temporary_directory).startswith("covet-test-db-")
        await db.execute("INSERT INTO users (name, email) VALUES (%s, %s)", "Test User", "test@example.com")
        user = await db.fetch_one("SELECT * FROM users WHERE email = %s", "test@example.com")
        assert (user["id"], user["name"]) == (1, "Test User")
        assert user["created_at"] is not None
        assert "test.db" in files_of(db)
        await db.drop_all()
        assert files_of(db) == []
        assert db.connected is False
    asyncio.run(main())


def test_every_instance_is_a_fresh_database(folder):
    async def main():
        a, b = TestDatabase(directory=folder), TestDatabase(directory=folder)
        assert a.config.database != b.config.database
        async with a, b:
            await a.load({"users": [{"name": "A", "email": "a@x"}]})
            assert await a.fetch_val("SELECT count(*) FROM users") == 1
            assert await b.fetch_val("SELECT count(*) FROM users") == 0
    asyncio.run(main())


def test_it_is_a_database_manager_and_the_default_one(folder):
    db = TestDatabase(directory=folder)
    assert isinstance(db, DatabaseManager)
    from covet.database.manager import default_database
    assert default_database() is db
    assert repr(db) == "<TestDatabase sqlite:///%s>" % db.config.database


def test_create_all_runs_migration_classes_and_files(tmp_path):
    class CreateTags(Migration, register=False):
        version = 10

        def up(self):
            return "CREATE TABLE tags (name TEXT PRIMARY KEY);"

    (tmp_path / "0001_users.sql").write_text(USERS)

    async def main():
        async with TestDatabase(migrations=[CreateTags], directory=str(tmp_path)) as db:
            rows = await db.fetch_all("SELECT version, name FROM covet_migrations ORDER BY version")
            assert [(r["version"], r["name"]) for r in rows] == [(1, "users"), (10, "create_tags")]
    asyncio.run(main())


def test_the_registered_classes_are_the_default_schema(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # no migrations/ folder here

    class CreateUsersTable(Migration):
        def up(self):
            return "CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT);"

    async def main():
        async with TestDatabase() as db:
            assert await db.fetch_val("SELECT name FROM covet_migrations") == "create_users_table"
    asyncio.run(main())


def test_load_inserts_in_order_and_returns_the_stored_rows(folder):
    async def main():
        async with TestDatabase(directory=folder) as db:
            rows = await db.load({
                "users": [{"name": "Ada", "email": "ada@x"}, {"name": "Bob", "email": "bob@x", "id": 7}],
                "posts": [{"user_id": 7, "title": "Hello"}, {"user_id": 1}],
            })
            assert [(r["id"], r["name"]) for r in rows["users"]] == [(1, "Ada"), (7, "Bob")]
            assert all(r["created_at"] is not None for r in rows["users"])
            assert [dict(r) for r in rows["posts"]] == [{"id": 1, "user_id": 7, "title": "Hello"},
                                                       {"id": 2, "user_id": 1, "title": "untitled"}]
    asyncio.run(main())


def test_load_a_row_of_defaults_only(tmp_path):
    (tmp_path / "0001_t.sql").write_text("-- up\nCREATE TABLE counters (id INTEGER PRIMARY KEY, n INT DEFAULT 5);\n")

    async def main():
        async with TestDatabase(directory=str(tmp_path)) as db:
            assert [dict(r) for r in (await db.load({"counters": [{}, {}]}))["counters"]] == [
                {"id": 1, "n": 5}, {"id": 2, "n": 5}]
    asyncio.run(main())


def test_load_without_returning_reads_the_row_back(folder):
    async def main():
        async with TestDatabase(directory=folder) as db:
            db.dialect.supports_returning = False   # as on SQLite before 3.35
            rows = await db.load({"users": [{"name": "Ada", "email": "ada@x"}]})
            assert (rows["users"][0]["id"], rows["users"][0]["name"]) == (1, "Ada")
    asyncio.run(main())


def test_a_failing_row_loads_nothing(folder):
    async def main():
        async with TestDatabase(directory=folder) as db:
            with pytest.raises(IntegrityError) as info:
                await db.load({"users": [{"name": "Ada", "email": "same@x"}, {"name": "Bob", "email": "same@x"}]})
            assert str(info.value) == "UNIQUE constraint failed: users.email"
            assert await db.fetch_val("SELECT count(*) FROM users") == 0
            with pytest.raises(IntegrityError) as info:
                await db.load({"users": [{"name": "Ada", "email": "a@x"}], "posts": [{"user_id": 99}]})
            assert str(info.value) == "FOREIGN KEY constraint failed"
            assert await db.fetch_val("SELECT count(*) FROM users") == 0
    asyncio.run(main())


def test_fixtures_from_a_json_file_loaded_by_create_all(folder, tmp_path):
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps({"users": [{"name": "Ada", "email": "ada@x"}, {"name": "Bob", "email": "bob@x"}]}))

    async def main():
        async with TestDatabase(directory=folder, fixtures=path) as db:
            assert [r["name"] for r in await db.fetch_all("SELECT name FROM users ORDER BY id")] == ["Ada", "Bob"]
        async with TestDatabase(directory=folder, fixtures={"users": [{"name": "C", "email": "c@x"}]}) as db:
            assert await db.fetch_val("SELECT name FROM users") == "C"
    asyncio.run(main())


@pytest.mark.parametrize("fixtures,error,message", [
    ([{"name": "x"}], TypeError, "fixtures are {table: [row, ...]}, not list"),
    ({"users": {"name": "x"}}, TypeError, "fixtures['users'] must be a list of rows, not dict"),
    ({"users": "Ada"}, TypeError, "fixtures['users'] must be a list of rows, not str"),
    ({"users": [("Ada", "a@x")]}, TypeError, "fixtures['users'][0] must be a dict of column: value, not tuple"),
    ({"users; DROP TABLE users": [{"name": "x"}]}, InvalidIdentifier,
     "'users; DROP TABLE users' is not a valid SQL name: use letters, digits, _ and $ (not first), at most 63 "
     "characters"),
    ({"users": [{"name) VALUES ('x'); --": "x"}]}, InvalidIdentifier,
     "\"name) VALUES ('x'); --\" is not a valid SQL name: use letters, digits, _ and $ (not first), at most 63 "
     "characters"),
])
def test_bad_fixtures_are_refused(folder, fixtures, error, message):
    async def main():
        async with TestDatabase(directory=folder) as db:
            with pytest.raises(error) as info:
                await db.load(fixtures)
            assert str(info.value) == message
            assert await db.fetch_val("SELECT count(*) FROM users") == 0
    asyncio.run(main())


def test_bad_fixture_files(folder, tmp_path):
    (tmp_path / "bad.json").write_text("{users: }")

    async def main():
        async with TestDatabase(directory=folder) as db:
            with pytest.raises(ValueError) as info:
                await db.load(tmp_path / "bad.json")
            assert str(info.value).startswith("the fixtures file %s is not JSON: " % (tmp_path / "bad.json"))
            with pytest.raises(ValueError) as info:
                await db.load(str(tmp_path / "none.json"))
            assert str(info.value) == "cannot read the fixtures file %s: No such file or directory" % (
                tmp_path / "none.json")
    asyncio.run(main())


# -- plain def tests and pytest fixtures -------------------------------------------------------

@pytest.fixture
def db(folder):
    with TestDatabase(directory=folder, fixtures={"users": [{"name": "Ada", "email": "ada@x"}]}) as database:
        yield database


def test_a_sync_fixture(db):
    assert db.sync.fetch_val("SELECT name FROM users WHERE email = %s", "ada@x") == "Ada"
    rows = db.load_sync({"users": [{"name": "Bob", "email": "bob@x"}]})
    assert rows["users"][0]["id"] == 2
    with db.sync.transaction():
        db.sync.execute("UPDATE users SET name = ? WHERE id = ?", "Robert", 2)
    assert [r["name"] for r in db.sync.fetch_all("SELECT name FROM users ORDER BY id")] == ["Ada", "Robert"]

    async def also_async():
        return await db.fetch_val("SELECT count(*) FROM users")
    assert asyncio.run(also_async()) == 2


def test_the_sync_form_cleans_up_even_after_a_failure(folder):
    with pytest.raises(RuntimeError):
        with TestDatabase(directory=folder) as db:
            assert files_of(db) != []
            raise RuntimeError("the test failed")
    assert files_of(db) == []


def test_the_sync_form_refuses_a_running_loop(folder):
    async def main():
        db = TestDatabase(directory=folder)
        with pytest.raises(InterfaceError) as info:
            with db:
                pass  # pragma: no cover
        assert str(info.value) == ("with TestDatabase() blocks, and this thread is running an event loop: use "
                                   "async with TestDatabase()")
        with pytest.raises(InterfaceError) as info:
            db.load_sync({})
        assert str(info.value) == ("load_sync() blocks, and this thread is running an event loop: use "
                                   "await db.load(...)")
    asyncio.run(main())


def test_create_all_again_after_drop_all_starts_empty(folder):
    async def main():
        db = TestDatabase(directory=folder)
        await db.create_all()
        await db.load({"users": [{"name": "Ada", "email": "ada@x"}]})
        await db.drop_all()
        await db.create_all()
        assert await db.fetch_val("SELECT count(*) FROM users") == 0
        await db.drop_all()
    asyncio.run(main())


def test_the_temporary_folder_goes_with_the_object(folder):
    db = TestDatabase(directory=folder)
    directory = db.temporary_directory
    assert os.path.isdir(directory)
    db._remove_directory()   # what the garbage collector or interpreter exit runs
    assert not os.path.exists(directory)


# -- a database given by URL ---------------------------------------------------------------------

def test_drop_all_on_a_named_file_drops_every_table_and_view(folder, tmp_path):
    path = tmp_path / "kept.db"

    async def main():
        db = TestDatabase("sqlite:///" + str(path), directory=folder)
        assert db.temporary_directory is None
        await db.create_all()
        await db.load({"users": [{"name": "Ada", "email": "ada@x"}], "posts": [{"user_id": 1}]})
        await db.execute("CREATE VIEW titles AS SELECT title FROM posts")
        await db.drop_all()   # users is referenced by posts: foreign keys must not stop it
        assert await db.fetch_all("SELECT name FROM sqlite_master") == []
        # Foreign keys are back on for the connections that stay in the pool.
        assert await db.fetch_val("PRAGMA foreign_keys") == 1
        await db.disconnect()
    asyncio.run(main())
    assert path.exists()
    connection = sqlite3.connect(str(path))
    try:
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        connection.close()


# -- an app using it, under both test clients ----------------------------------------------------

def create_app(database):
    app = Covet()
    app.add_database(database)

    def get_db():
        return app.state.database

    @app.post("/users", status_code=201)
    async def create_user(request, db=Depends(get_db)):
        data = await request.json()
        result = await db.execute("INSERT INTO users (name, email) VALUES (?, ?)", data["name"], data["email"])
        return {"id": result.lastrowid}

    @app.get("/users/{user_id:int}")
    def read_user(user_id: int, db=Depends(get_db)):
        row = db.sync.fetch_one("SELECT name, email FROM users WHERE id = ?", user_id)
        return dict(row)

    return app


def test_the_seed_test_with_an_async_client(folder):
    async def main():
        test_db = TestDatabase("sqlite:///:memory:", directory=folder)
        await test_db.create_all()
        try:
            user_data = {"name": "Test User", "email": "test@example.com"}
            async with AsyncTestClient(create_app(test_db)) as client:
                response = await client.post("/users", json=user_data)
                assert (response.status_code, response.json()) == (201, {"id": 1})
                user = await test_db.fetch_one("SELECT * FROM users WHERE email = %s", user_data["email"])
                assert user["name"] == user_data["name"]
        finally:
            await test_db.drop_all()
    asyncio.run(main())


def test_a_sync_client_on_its_own_loop_shares_the_database(db):
    with TestClient(create_app(db)) as client:
        r = client.post("/users", json={"name": "Bob", "email": "bob@x"})
        assert (r.status_code, r.json()) == (201, {"id": 2})
        assert client.get("/users/1").json() == {"name": "Ada", "email": "ada@x"}
        assert db.sync.fetch_val("SELECT name FROM users WHERE id = 2") == "Bob"
    # The app's shutdown closed the pool; the database reopens on use.
    assert db.sync.fetch_val("SELECT count(*) FROM users") == 2


# -- ORM models --------------------------------------------------------------------------------

def orm_models():
    from covet.database.orm import Column, ForeignKey, Integer, Model, Registry, String

    class Base(Model):
        __abstract__ = True
        registry = Registry()  # these models stay out of Model.registry

    class Author(Base):
        __tablename__ = "authors"
        id = Column(Integer, primary_key=True)
        name = Column(String(100), nullable=False)

    class Book(Base):
        __tablename__ = "books"
        id = Column(Integer, primary_key=True)
        author_id = Column(Integer, ForeignKey("authors.id"), nullable=False)
        title = Column(String(200), nullable=False)

    return Base, Author, Book


def test_create_all_creates_the_models_tables(tmp_path):
    Base, Author, Book = orm_models()

    async def main():
        async with TestDatabase(models=Base, directory=str(tmp_path), migrations=[],
                                fixtures={"authors": [{"name": "Le Guin"}],
                                          "books": [{"author_id": 1, "title": "The Dispossessed"}]}) as db:
            book = await Book.query(db).first()
            assert (book.id, book.author_id, book.title) == (1, 1, "The Dispossessed")
            assert [a.name for a in await Author.query(db).all()] == ["Le Guin"]
    asyncio.run(main())


def test_a_table_made_by_a_migration_is_left_to_the_migration(tmp_path):
    Base, Author, Book = orm_models()
    (tmp_path / "0001_authors.sql").write_text(
        "-- up\nCREATE TABLE authors (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, born INT);\n")

    async def main():
        async with TestDatabase(models=Base, directory=str(tmp_path)) as db:
            columns = [r["name"] for r in await db.fetch_all("PRAGMA table_info(authors)")]
            assert columns == ["id", "name", "born"]
            assert await db.fetch_val("SELECT count(*) FROM sqlite_master WHERE name = 'books'") == 1
    asyncio.run(main())


def test_no_models(tmp_path):
    Base, Author, Book = orm_models()

    async def main():
        async with TestDatabase(models=[], directory=str(tmp_path)) as db:
            assert await db.fetch_all("SELECT name FROM sqlite_master WHERE name IN ('authors', 'books')") == []
    asyncio.run(main())
