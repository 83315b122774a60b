"""DatabaseManager on PostgreSQL: what only PostgreSQL has, or does its own way (the shared suite
runs on both databases through tests/db_backends.py). Against the real server of
tests/pg_fixture.py; skipped, saying why, where it cannot start."""
import asyncio
import threading

import pytest

from covet.database import DatabaseManager, IntegrityError, ProgrammingError
from covet.database.postgres.errors import QueryCanceled, UndefinedColumn
from covet.database.postgres.startup import AuthenticationRefused
from db_backends import reset_postgres


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def pg(postgres_server):
    reset_postgres(postgres_server.url())
    return postgres_server


async def sessions(db, name="covet"):
    """Sessions of our application name other than the asking one."""
    return await db.fetch_val("SELECT count(*) FROM pg_stat_activity WHERE application_name = ? "
                              "AND pid <> pg_backend_pid()", name)


def test_url_settings_reach_the_connection_and_unknown_ones_are_refused(pg):
    url = pg.url(sslmode="verify-full", sslrootcert=pg.ca_file, application_name="shop-api", statement_timeout="0.2",
                 pool_size="3")
    db = DatabaseManager(url)
    assert db.config.pool_size == 3 and db.dialect.name == "postgresql" and db.dialect.paramstyle == "dollar"
    assert db.gate is None and db.dialect.supports_returning

    async def main():
        async with db.connection() as conn:
            pg_conn = conn.raw.dbapi
            assert pg_conn.tls and pg_conn.parameters["application_name"] == "shop-api"
            with pytest.raises(QueryCanceled, match="statement timeout"):
                await conn.fetch_val("SELECT pg_sleep(5)")
            assert await conn.fetch_val("SELECT 1") == 1  # the connection lives on
        await db.disconnect()
    run(main())
    with pytest.raises(ValueError, match=r"unknown URL parameter 'sslmod' \(covet understands sslmode, "):
        DatabaseManager(pg.url(sslmod="require"))


def test_md5_is_refused_unless_allowed(pg):
    async def main():
        db = DatabaseManager(pg.url("md5user"))
        with pytest.raises(AuthenticationRefused, match="md5"):
            await db.connect()
        await db.disconnect()
        allowed = DatabaseManager(pg.url("md5user", allow_md5="true"))
        assert await allowed.fetch_val("SELECT current_user") == "md5user"
        await allowed.disconnect()
    run(main())


def test_a_failed_statement_makes_the_commit_an_error_not_a_silent_rollback(pg):
    async def main():
        db = DatabaseManager(pg.url())
        await db.execute_script("CREATE TABLE t (n INTEGER UNIQUE)")
        with pytest.raises(ProgrammingError, match="the transaction had failed .* it was rolled back, not committed"):
            async with db.transaction():
                await db.execute("INSERT INTO t VALUES (1)")
                try:
                    await db.execute("INSERT INTO t VALUES (1)")
                except IntegrityError:
                    pass  # caught, and the block goes on to its end
        assert await db.fetch_val("SELECT count(*) FROM t") == 0
        # the way to go on after an expected error: a savepoint around it
        async with db.transaction():
            await db.execute("INSERT INTO t VALUES (1)")
            with pytest.raises(IntegrityError, match='unique constraint "t_n_key"'):
                async with db.transaction():
                    await db.execute("INSERT INTO t VALUES (1)")
            await db.execute("INSERT INTO t VALUES (2)")
        assert [r.n for r in await db.fetch_all("SELECT n FROM t ORDER BY n")] == [1, 2]
        assert db.pool.in_use == 0
        await db.disconnect()
    run(main())


def test_a_cancelled_request_stops_its_query_on_the_server(pg):
    async def main():
        db = DatabaseManager(pg.url(), pool_size=1)
        task = asyncio.ensure_future(db.fetch_val("SELECT pg_sleep(30)"))
        while not await _running(pg, "SELECT pg_sleep(30)"):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the one connection is back, idle, and the server is no longer sleeping for us
        assert await db.fetch_val("SELECT 41 + 1") == 42
        assert not await _running(pg, "SELECT pg_sleep(30)")
        assert db.pool.in_use == 0 and db.pool.size == 1
        await db.disconnect()
    run(main())


async def _running(pg, sql):
    probe = DatabaseManager(pg.url(application_name="probe"), pool_size=1)
    try:
        return await probe.fetch_val("SELECT count(*) FROM pg_stat_activity WHERE query = ? AND state = 'active'", sql)
    finally:
        await probe.disconnect()


def test_a_connection_the_server_ended_is_replaced(pg):
    async def main():
        db = DatabaseManager(pg.url(), pool_size=1)
        pid = await db.fetch_val("SELECT pg_backend_pid()")
        killer = DatabaseManager(pg.url(application_name="killer"))
        assert await killer.fetch_val("SELECT pg_terminate_backend(?)", pid) is True
        await killer.disconnect()
        # the dead connection fails its next statement and is dropped, not handed out again
        with pytest.raises(Exception):
            await db.fetch_val("SELECT 1")
        assert await db.fetch_val("SELECT pg_backend_pid()") != pid
        assert db.pool.size == 1
        await db.disconnect()
    run(main())


def test_iterate_uses_a_server_cursor_inside_and_outside_transactions(pg):
    async def main():
        db = DatabaseManager(pg.url(), pool_size=1)
        await db.execute_script("CREATE TABLE t (n INTEGER); INSERT INTO t SELECT generate_series(1, 1000)")
        got = [row.n async for row in db.iterate("SELECT n FROM t WHERE n > ? ORDER BY n", 10, batch=100)]
        assert got == list(range(11, 1001))
        async with db.transaction():
            await db.execute("DELETE FROM t WHERE n > 500")
            inner = [row.n async for row in db.iterate("SELECT n FROM t ORDER BY n", batch=64)]
            assert inner == list(range(1, 501))  # sees the transaction's own change
            rows = db.iterate("SELECT n FROM t ORDER BY n", batch=10)
            async for row in rows:
                break
            await rows.aclose()
            assert await db.fetch_val("SELECT count(*) FROM t") == 500
        assert await db.fetch_val("SELECT count(*) FROM t") == 500
        with pytest.raises(UndefinedColumn):
            async for row in db.iterate("SELECT nope FROM t"):
                pass
        assert [r.n async for r in db.iterate("SELECT n FROM t WHERE n <= 2 ORDER BY n")] == [1, 2]
        # the cursor is closed behind the last batch, then the one connection comes back
        assert await db.fetch_val("SELECT 1") == 1 and db.pool.in_use == 0
        await db.disconnect()
    run(main())


def test_sync_code_in_threads_while_the_loop_runs(pg):
    async def main():
        db = DatabaseManager(pg.url(), pool_size=4)
        await db.execute_script("CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)")

        def worker():
            for _ in range(10):
                with db.sync.transaction():
                    n = db.sync.fetch_val("SELECT n FROM counter FOR UPDATE")
                    db.sync.execute("UPDATE counter SET n = ?", n + 1)

        async def task():
            for _ in range(10):
                async with db.transaction():
                    n = await db.fetch_val("SELECT n FROM counter FOR UPDATE")
                    await db.execute("UPDATE counter SET n = ?", n + 1)

        loop = asyncio.get_running_loop()
        await asyncio.gather(task(), task(), *[loop.run_in_executor(None, worker) for _ in range(3)])
        assert await db.fetch_val("SELECT n FROM counter") == 50
        await db.disconnect()
        assert db.pool.size == 0
    run(main())


def test_a_loop_that_ends_without_disconnect_closes_its_connections(pg):
    db = DatabaseManager(pg.url(application_name="forgetful"), pool_size=3)

    async def use():
        await asyncio.gather(*[db.fetch_val("SELECT pg_sleep(0.05)") for _ in range(3)])
        return db.pool.size

    assert run(use()) == 3  # no disconnect: asyncio.run ends with three connections open
    checker = DatabaseManager(pg.url(application_name="checker"))

    async def count():
        return await sessions(checker, "forgetful")

    # closed by the time the loop ended (Terminate sent), so the server has let them go
    for _ in range(200):
        if run(count()) == 0:
            break
    assert run(count()) == 0
    assert run(db.fetch_val("SELECT 7")) == 7  # the pool opens a new one on the new loop
    run(db.disconnect())
    run(checker.disconnect())


def test_values_in_postgresql_types_and_the_script_protocol(pg):
    async def main():
        db = DatabaseManager(pg.url())
        # a script takes no values: jsonb's ? operator is an operator there
        await db.execute_script("CREATE TABLE docs (id SERIAL PRIMARY KEY, body JSONB, tags TEXT[]);"
                                "INSERT INTO docs (body, tags) VALUES ('{\"a\": 1}', '{x,y}');"
                                "CREATE TABLE has_a AS SELECT count(*) AS n FROM docs WHERE body ? 'a'")
        assert await db.fetch_val("SELECT n FROM has_a") == 1
        new_id = await db.fetch_val("INSERT INTO docs (body, tags) VALUES (?, ?) RETURNING id", {"b": [1, 2]}, ["z"])
        assert new_id == 2
        row = await db.fetch_one("SELECT body, tags FROM docs WHERE id = :id", {"id": 2})
        assert row == {"body": {"b": [1, 2]}, "tags": ["z"]}
        assert await db.fetch_val("SELECT count(*) FROM docs WHERE jsonb_exists(body, ?)", "b") == 1
        with pytest.raises(ProgrammingError, match="began a transaction it did not end"):
            await db.execute_script("BEGIN; INSERT INTO docs (body) VALUES ('{}')")
        assert await db.fetch_val("SELECT count(*) FROM docs") == 2
        async with db.connection() as conn:
            pg_conn = conn.raw.dbapi
            assert await pg_conn.copy_from("COPY docs (body) FROM STDIN", '{"c": 3}\n{"d": 4}\n') == 2
        assert await db.fetch_val("SELECT count(*) FROM docs") == 4
        await db.disconnect()
    run(main())


def test_listen_notify_on_a_dedicated_connection_sees_only_committed_notifications(pg):
    from covet.database.postgres import PGConnection

    async def main():
        db = DatabaseManager(pg.url())
        listener = await PGConnection.connect_url(pg.url())
        await listener.listen("orders")
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.execute("SELECT pg_notify(?, ?)", "orders", "rolled back")
                raise RuntimeError
        async with db.transaction():
            await db.execute("SELECT pg_notify(?, ?)", "orders", "committed")
        notes = listener.notifications()
        note = await asyncio.wait_for(notes.__anext__(), 10)
        assert (note.channel, note.payload) == ("orders", "committed")
        await notes.aclose()
        await listener.close()
        await db.disconnect()
    run(main())


def test_one_database_many_threads_without_a_loop(pg):
    db = DatabaseManager(pg.url(), pool_size=3)
    db.sync.execute_script("CREATE TABLE t (n INTEGER)")
    errors = []

    def worker(k):
        try:
            for i in range(20):
                db.sync.execute("INSERT INTO t VALUES (?)", k * 100 + i)
        except Exception as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and db.sync.fetch_val("SELECT count(*) FROM t") == 80
    db.sync.disconnect()


def test_test_database_on_postgresql_migrates_loads_and_drops(pg, tmp_path, monkeypatch):
    from covet.database import migrations
    from covet.testing.database import TestDatabase

    monkeypatch.setattr(migrations, "_registry", [])  # classes of other test modules are not this schema
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_users.sql").write_text(
        "-- up\nCREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT UNIQUE NOT NULL, "
        "joined TIMESTAMPTZ DEFAULT NOW());\n"
        "-- down\nDROP TABLE users;\n")
    (folder / "0002_posts.sql").write_text(
        "-- up\nCREATE TABLE posts (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id));\n"
        "-- down\nDROP TABLE posts;\n")

    async def main():
        db = TestDatabase(pg.url(), directory=str(folder))
        await db.create_all()
        loaded = await db.load({"users": [{"email": "ada@x"}], "posts": [{"user_id": 1}]})
        assert loaded["users"][0]["id"] == 1 and loaded["posts"][0]["user_id"] == 1
        with pytest.raises(IntegrityError, match='unique constraint "users_email_key"'):
            await db.load({"users": [{"email": "ada@x"}]})
        await db.drop_all()  # tables dropped with CASCADE, whatever their order
        checker = DatabaseManager(pg.url())
        assert await checker.fetch_val("SELECT count(*) FROM information_schema.tables "
                                       "WHERE table_schema = 'public'") == 0
        await checker.disconnect()
    run(main())


def test_the_seed_configuration_and_pool_examples_run_on_postgresql(pg):
    from covet import Covet
    from covet.database import DatabaseConfig
    from covet.database.pool import ConnectionPool

    async def main():
        db_config = DatabaseConfig(driver="postgresql", host=pg.host, port=pg.port, database=pg.database,
                                   username=pg.user, password=pg.password, pool_size=20, max_overflow=10)
        db = DatabaseManager(db_config)
        app = Covet()
        app.add_database(db)
        assert db.pool.max_connections == 30 and app.state.database is db
        await db.execute_script("CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT)")
        await db.execute("INSERT INTO users (name) VALUES ($1)", "Ada")
        pool = ConnectionPool(database_url=pg.url(), min_connections=5, max_connections=50, idle_timeout=300)
        await pool.open()
        assert pool.size == 5
        async with pool.acquire() as conn:
            result = await conn.fetch("SELECT * FROM users")
        assert result == [{"id": 1, "name": "Ada"}]
        await pool.close()
        assert pool.size == 0
        await db.disconnect()
    run(main())
