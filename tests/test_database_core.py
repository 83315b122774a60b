"""The database core on real SQLite files and on PostgreSQL (tests/db_backends.py): concurrency,
transactions, cancellation, the pool, sync twins, another DB-API module, and the app's lifespan.
Where the two databases legitimately differ (PostgreSQL has no lastrowid, names its errors its own
way, needs FOR UPDATE for a read-modify-write), the test says so beside the assertion."""
import asyncio
import sqlite3
import threading

import pytest

from covet import Covet, Depends
from covet.database import (
    ConnectionPool, DatabaseManager, IntegrityError, InterfaceError, OperationalError, PoolTimeout, ProgrammingError,
    QueryOptimizer,
)
from covet.database.manager import default_database
from db_backends import gate_free, on_postgres, table_exists


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def url(database_url):
    return database_url


#: A read-modify-write's read. SQLite runs write transactions one at a time (BEGIN IMMEDIATE), so
#: the plain read is safe there; PostgreSQL's READ COMMITTED needs the row locked (FOR UPDATE, which
#: covet drops on SQLite, where it means nothing).
READ_FOR_UPDATE = "SELECT n FROM counter FOR UPDATE"


async def make(url, **settings):
    db = DatabaseManager(url, **settings)
    await db.connect()
    await db.execute_script("""
        CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL, email TEXT UNIQUE);
        CREATE TABLE counter (n INTEGER NOT NULL);
        INSERT INTO counter VALUES (0);
    """)
    return db


def test_queries_rows_and_placeholders(url):
    pg = on_postgres(url)

    async def main():
        db = await make(url)
        result = await db.execute("INSERT INTO users (name, email) VALUES (?, ?)", "ann", "ann@x")
        assert (result.rowcount, result.lastrowid) == (1, None if pg else 1)  # PostgreSQL: use RETURNING
        await db.execute("INSERT INTO users (name, email) VALUES ($1, $2)", "bob", "bob@x")
        await db.execute("INSERT INTO users (name, email) VALUES (:n, :e)", {"n": "cy", "e": "cy@x"})
        rows = await db.fetch_all("SELECT id, name FROM users ORDER BY id")
        assert rows == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}, {"id": 3, "name": "cy"}]
        assert rows[1].name == "bob" and rows[1][0] == 2
        row = await db.fetch_one("SELECT name FROM users WHERE name ILIKE %s", "BO%")
        assert row == {"name": "bob"}
        assert await db.fetch_one("SELECT name FROM users WHERE id = ?", 99) is None
        assert await db.fetch_val("SELECT count(*) FROM users") == 3
        assert await db.fetch_val("SELECT name FROM users WHERE id = ?", 99) is None
        assert await db.execute_many("INSERT INTO users (name) VALUES (?)", [("d",), ("e",)]) == 2
        assert await db.execute_many("INSERT INTO users (name) VALUES (:n)", [{"n": "f"}]) == 1
        with pytest.raises(IntegrityError, match='unique constraint "users_email_key"' if pg
                           else "UNIQUE constraint failed: users.email"):
            await db.execute("INSERT INTO users (name, email) VALUES (?, ?)", "again", "ann@x")
        with pytest.raises(IntegrityError, match="not-null" if pg else "NOT NULL"):
            await db.execute("INSERT INTO users (name) VALUES (?)", None)
        # sqlite3 classes a missing table as OperationalError, PostgreSQL (42P01) as a programming error
        with pytest.raises(ProgrammingError if pg else OperationalError,
                           match='relation "nowhere" does not exist' if pg else "no such table"):
            await db.fetch_all("SELECT * FROM nowhere")
        await db.disconnect()
    run(main())


def test_fifty_concurrent_writers_lose_nothing_and_never_see_locked(url):
    async def main():
        db = await make(url, pool_size=5)

        async def increment(i):
            async with db.transaction():
                n = await db.fetch_val(READ_FOR_UPDATE)
                await asyncio.sleep(0)  # let every other task interleave here
                await db.execute("UPDATE counter SET n = ?", n + 1)
                await db.execute("INSERT INTO users (name) VALUES (?)", "t%d" % i)

        async def insert(i):
            await db.execute("INSERT INTO users (name) VALUES (?)", "s%d" % i)

        async def read(i):
            return await db.fetch_val("SELECT count(*) FROM users")

        jobs = [increment(i) for i in range(50)] + [insert(i) for i in range(50)] + [read(i) for i in range(50)]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await db.fetch_val("SELECT n FROM counter") == 50
        assert await db.fetch_val("SELECT count(*) FROM users") == 100
        assert db.pool.in_use == 0
        await db.disconnect()
    run(main())


def test_writers_from_threads_and_tasks_and_another_process_share_the_file(url):
    async def main():
        db = await make(url)
        other = DatabaseManager(url)  # another process's pool: only SQLite's own locking is shared

        def thread_writer(k):
            for i in range(20):
                with db.sync.transaction():
                    n = db.sync.fetch_val(READ_FOR_UPDATE)
                    db.sync.execute("UPDATE counter SET n = ?", n + 1)

        async def task_writer(target):
            for i in range(20):
                async with target.transaction():
                    n = await target.fetch_val(READ_FOR_UPDATE)
                    await target.execute("UPDATE counter SET n = ?", n + 1)

        loop = asyncio.get_running_loop()
        threads = [loop.run_in_executor(None, thread_writer, k) for k in range(3)]
        await asyncio.gather(task_writer(db), task_writer(db), task_writer(other), *threads)
        assert await db.fetch_val("SELECT n FROM counter") == 120
        await other.disconnect()
        await db.disconnect()
    run(main())


def test_transactions_savepoints_and_rollback(url):
    async def main():
        db = await make(url)
        with pytest.raises(KeyError):
            async with db.transaction():
                await db.execute("INSERT INTO users (name) VALUES (?)", "kept?")
                raise KeyError("boom")
        assert await db.fetch_val("SELECT count(*) FROM users") == 0

        async with db.transaction():
            await db.execute("INSERT INTO users (name) VALUES (?)", "outer")
            with pytest.raises(ValueError):
                async with db.transaction():
                    await db.execute("INSERT INTO users (name) VALUES (?)", "inner")
                    raise ValueError
            async with db.transaction():
                await db.execute("INSERT INTO users (name) VALUES (?)", "inner2")
        names = [r.name for r in await db.fetch_all("SELECT name FROM users ORDER BY id")]
        assert names == ["outer", "inner2"]

        async with db.transaction() as tx:
            await db.execute("INSERT INTO users (name) VALUES (?)", "undone")
            await tx.rollback()
        assert await db.fetch_val("SELECT count(*) FROM users WHERE name = 'undone'") == 0

        # a failing script inside a transaction leaves nothing behind (migrations rely on this)
        with pytest.raises(ProgrammingError if on_postgres(url) else OperationalError,
                           match='relation "nowhere" does not exist' if on_postgres(url) else "no such table: nowhere"):
            async with db.transaction():
                await db.execute_script("CREATE TABLE half (a INTEGER); INSERT INTO nowhere VALUES (1);")
        assert not await table_exists(db, "half")

        with pytest.raises(ProgrammingError, match="readonly=True"):
            async with db.transaction(readonly=True):
                await db.execute("INSERT INTO users (name) VALUES (?)", "nope")
        assert db.pool.in_use == 0 and gate_free(db)
        await db.disconnect()
    run(main())


def test_cancelled_transaction_rolls_back_and_returns_its_connection(url):
    async def main():
        db = await make(url, pool_size=1)
        inside = asyncio.Event()

        async def stuck():
            async with db.transaction():
                await db.execute("INSERT INTO users (name) VALUES (?)", "cancelled")
                inside.set()
                await asyncio.Event().wait()  # never set: the request is cancelled here

        task = asyncio.ensure_future(stuck())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the only connection comes back rolled back, and the write gate is free for the next writer
        async with db.transaction():
            await db.execute("INSERT INTO users (name) VALUES (?)", "next")
        assert [r.name for r in await db.fetch_all("SELECT name FROM users")] == ["next"]
        assert db.pool.in_use == 0 and gate_free(db)
        await db.disconnect()
    run(main())


def test_cancelled_long_query_does_not_leak_the_connection(url):
    async def main():
        db = await make(url, pool_size=1)
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c"
        task = asyncio.ensure_future(db.fetch_val(slow))
        while db.pool.in_use == 0:  # wait until the query holds the connection
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the single connection is handed on once the statement is over
        async with db.connection() as conn:
            assert await conn.fetch_val("SELECT 41 + 1") == 42
        assert db.pool.in_use == 0
        await db.disconnect()
    run(main())


def test_pool_exhaustion_is_a_clear_error_and_the_pool_recovers(url):
    async def main():
        pool = ConnectionPool(url, min_connections=1, max_connections=2, acquire_timeout=0.2)
        await pool.open()
        assert pool.size == 1
        first = pool.acquire()
        a = await first.__aenter__()
        async with pool.acquire() as b:
            assert pool.in_use == 2
            with pytest.raises(PoolTimeout, match=r"no database connection free within 0.2 s \(2 in use\)"):
                async with pool.acquire():
                    pass
            waiting = asyncio.ensure_future(_fetch(pool))
            await asyncio.sleep(0)
            await first.__aexit__(None, None, None)  # hands `a` straight to the waiter
            assert await waiting == 1
        with pytest.raises(InterfaceError, match="went back to the pool"):
            await a.fetch("SELECT 1")
        assert pool.in_use == 0 and pool.size == 2
        await pool.close()
        assert pool.size == 0
    run(main())


async def _fetch(pool):
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT 1")


def test_idle_connections_are_closed_after_idle_timeout(url):
    async def main():
        pool = ConnectionPool(url, min_connections=0, max_connections=3, idle_timeout=0.0)
        async with pool.acquire() as a, pool.acquire() as b:
            pass
        assert pool.size == 2
        async with pool.acquire():  # the stale ones are closed when the pool next looks
            assert pool.size == 1
        await pool.close()
    run(main())


def test_seed_pool_and_prepared_query(url, tmp_path):
    def create_optimized_connection():
        conn = sqlite3.connect(str(tmp_path / "app.db"), check_same_thread=False)
        conn.execute("PRAGMA cache_size = -2000")
        return conn

    # the seed's pool: a URL on PostgreSQL, a connection factory on SQLite
    options = {"database_url": url} if on_postgres(url) else {"connection_factory": create_optimized_connection}

    async def main():
        db = await make(url)
        await db.execute_many("INSERT INTO users (name) VALUES (?)", [("Alice",), ("alan",), ("bob",)])
        pool = ConnectionPool(min_connections=1, max_connections=5, **options)
        optimizer = QueryOptimizer()
        sql = optimizer.prepare("SELECT id, name FROM users WHERE name ILIKE $1 ORDER BY name LIMIT 100")
        async with pool.acquire() as conn:
            results = await conn.fetch(sql, "%al%")
        assert [dict(row) for row in results] == [{"id": 1, "name": "Alice"}, {"id": 2, "name": "alan"}]
        await pool.close()
        await db.disconnect()
    run(main())


def test_memory_database_is_one_database_for_the_whole_pool():
    async def main():
        db = DatabaseManager("sqlite:///:memory:", pool_size=5)
        await db.execute("CREATE TABLE t (n INTEGER)")

        async def add(i):
            async with db.transaction():
                await db.execute("INSERT INTO t VALUES (?)", i)
                await asyncio.sleep(0)

        await asyncio.gather(*[add(i) for i in range(20)], *[db.fetch_val("SELECT count(*) FROM t") for _ in range(5)])
        assert await db.fetch_val("SELECT count(*) FROM t") == 20
        assert db.pool.max_connections == 1
        await db.disconnect()
    run(main())


def test_iterate_streams_and_releases(url):
    async def main():
        db = await make(url, pool_size=1)
        await db.execute_many("INSERT INTO users (name) VALUES (?)", [("u%d" % i,) for i in range(25)])
        names = [row.name async for row in db.iterate("SELECT name FROM users ORDER BY id", batch=4)]
        assert names == ["u%d" % i for i in range(25)]
        rows = db.iterate("SELECT name FROM users ORDER BY id", batch=4)
        async for row in rows:
            break
        await rows.aclose()
        assert await db.fetch_val("SELECT count(*) FROM users") == 25  # the one connection came back
        with pytest.raises(ProgrammingError, match="writes with execute"):
            async for row in db.iterate("DELETE FROM users"):
                pass
        await db.disconnect()
    run(main())


def test_sync_twins(url):
    db = DatabaseManager(url)
    db.sync.connect()
    db.sync.execute_script("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1);")
    with db.sync.transaction():
        db.sync.execute("INSERT INTO t VALUES (?)", 2)
        with pytest.raises(ZeroDivisionError):
            with db.sync.transaction():
                db.sync.execute("INSERT INTO t VALUES (?)", 3)
                1 / 0
    assert [r.n for r in db.sync.fetch_all("SELECT n FROM t ORDER BY n")] == [1, 2]
    assert db.sync.fetch_one("SELECT n FROM t WHERE n = $1", 2) == {"n": 2}
    assert db.sync.fetch_val("SELECT max(n) FROM t") == 2
    assert db.sync.execute_many("INSERT INTO t VALUES (?)", [(4,), (5,)]) == 2

    async def on_the_loop():
        with pytest.raises(InterfaceError, match="event loop's thread"):
            db.sync.fetch_all("SELECT 1")
        return await asyncio.get_running_loop().run_in_executor(None, db.sync.fetch_val, "SELECT count(*) FROM t")

    assert run(on_the_loop()) == 4
    db.sync.disconnect()


def test_any_dbapi_module_plugs_in(tmp_path):
    path = str(tmp_path / "generic.db")
    db = DatabaseManager("sqlite:///" + path, module=sqlite3, paramstyle="named")
    assert type(db.backend).__name__ == "Backend" and db.dialect.paramstyle == "named"

    async def main():
        await db.execute("CREATE TABLE t (n INTEGER)")
        await db.execute("INSERT INTO t VALUES (?)", 1)
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.execute("INSERT INTO t VALUES ($1)", 2)
                raise RuntimeError
        async with db.transaction():
            await db.execute("INSERT INTO t VALUES (:n)", {"n": 3})
        assert [r.n for r in await db.fetch_all("SELECT n FROM t ORDER BY n")] == [1, 3]
        await db.disconnect()

    run(main())
    # what was committed is really in the file
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    finally:
        conn.close()


def test_app_lifespan_session_dependency_and_default(url, client):
    app = Covet()
    db = DatabaseManager(url)
    app.add_database(db)
    assert app.state.database is db and default_database() is db

    @app.on_startup
    async def schema():
        await db.execute_script("CREATE TABLE IF NOT EXISTS users (id SERIAL PRIMARY KEY, name TEXT NOT NULL)")

    @app.post("/users", status_code=201)
    async def create(name: str, session=Depends(db.session)):
        async with session.transaction():
            new_id = await session.fetch_val("INSERT INTO users (name) VALUES (?) RETURNING id", name)
        return {"id": new_id}

    @app.post("/fail")
    async def fail(session=Depends(db.session)):
        async with db.transaction():
            await db.execute("INSERT INTO users (name) VALUES (?)", "ghost")
            raise RuntimeError("handler failed")

    @app.get("/users")
    def users():  # a plain def handler: a worker thread, so the sync twin
        return {"users": db.sync.fetch_all("SELECT id, name FROM users ORDER BY id")}

    with client(app, raise_server_exceptions=False) as c:
        assert db.connected
        assert c.post("/users?name=ann").json() == {"id": 1}
        assert c.post("/fail").status_code == 500
        assert c.get("/users").json() == {"users": [{"id": 1, "name": "ann"}]}
        assert db.pool.in_use == 0
    assert not db.connected


def test_storm_of_timeouts_and_cancellations_leaves_the_pool_whole(url):
    """Hundreds of requests on two connections, many timing out or cancelled at every await: at the
    end no connection is lost or double-booked, the write gate is free, and nothing half-written
    remains."""
    import random

    async def main():
        db = await make(url, pool_size=2, pool_timeout=0.02)
        rnd = random.Random(7)

        async def request(i):
            if i % 3 == 0:
                async with db.transaction():
                    await db.execute("INSERT INTO users (name) VALUES (?)", "a%d" % i)
                    await db.execute("INSERT INTO users (name) VALUES (?)", "b%d" % i)
            elif i % 3 == 1:
                await db.execute("INSERT INTO users (name) VALUES (?)", "c%d" % i)
            else:
                await db.fetch_all("SELECT * FROM users")

        tasks = [asyncio.ensure_future(request(i)) for i in range(300)]
        loop = asyncio.get_running_loop()
        for task in rnd.sample(tasks, 100):
            loop.call_later(rnd.random() * 0.05, task.cancel)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        kinds = {type(r).__name__ for r in results if r is not None}
        assert kinds <= {"CancelledError", "PoolTimeout"}
        # the pool serves a full-size batch again: every connection came back
        async with db.connection() as a:
            async with db.pool.acquire() as b:
                assert db.pool.in_use == 2
        assert db.pool.in_use == 0 and db.pool.size <= 2 and gate_free(db)
        # transactions are all or nothing: an "a" row always has its "b" row
        names = {r.name for r in await db.fetch_all("SELECT name FROM users")}
        assert {n[1:] for n in names if n[0] == "a"} == {n[1:] for n in names if n[0] == "b"}
        await db.disconnect()
    run(main())


def test_reads_run_inline_and_slow_ones_move_to_a_thread(sqlite_url):  # SQLite alone reads on the loop's thread
    url = sqlite_url
    async def main():
        db = DatabaseManager(url, pool_size=1, pool_timeout=0.5)
        await db.execute("CREATE TABLE t (n INTEGER)")  # a write: through the pool
        assert db.pool.size == 1
        await db.execute_many("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
        async with db.pool.acquire() as a:  # hold the pool's only idle connection
            # a quick read needs no pool connection: it ran on the loop's thread
            assert await db.fetch_val("SELECT count(*) FROM t") == 10
            assert db.pool.size == 1 and db._inline.current() is not None
            # so does a sync read on a worker thread, on that thread's own read connection
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, db.sync.fetch_val, "SELECT count(*) FROM t") == 10
            assert db.pool.size == 1
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c"
        for strike in range(3):  # stopped at its budget each time, run again on a thread
            assert slow not in db._inline.slow
            assert await db.fetch_val(slow) == 2000000
        assert slow in db._inline.slow  # the third overrun sends it to threads for good
        # inside a transaction reads use the transaction's connection: they see its own writes
        async with db.transaction():
            await db.execute("INSERT INTO t VALUES (?)", 99)
            assert await db.fetch_val("SELECT count(*) FROM t") == 11
        await db.disconnect()

        off = DatabaseManager(url, inline_read_budget=0)
        assert off._inline is None
        assert await off.fetch_val("SELECT count(*) FROM t") == 11 and off.pool.size == 1
        await off.disconnect()
    run(main())


def test_inline_reads_move_what_would_wait_and_raise_real_errors(sqlite_url):  # SQLite alone reads on the loop's thread
    url = sqlite_url
    # In WAL mode a reader waits only in rare moments (a checkpoint truncating the log, recovery),
    # which a test cannot stage reliably; the decision itself is checked here on a real connection.
    from covet.database.inline import MOVE

    async def main():
        db = DatabaseManager(url)
        assert await db.fetch_val("SELECT 1") == 1
        inline, raw = db._inline, db._inline.current()

        def locked(raw, sql, params):
            raise OperationalError("database is locked")

        assert inline.run(raw, locked, "SELECT 2", ()) is MOVE and "SELECT 2" not in inline.slow
        with pytest.raises(OperationalError, match="no such table"):
            inline.run(raw, db.backend.fetch_all, "SELECT * FROM nowhere", ())
        assert inline.run(raw, db.backend.fetch_val, "SELECT 3", ()) == 3
        # the written-out fetch_one decides the same way
        with pytest.raises(OperationalError, match="no such table"):
            inline.fetch_one(raw, "SELECT * FROM nowhere", ())
        with pytest.raises(ProgrammingError, match="bindings"):
            inline.fetch_one(raw, "SELECT ?", ())
        with pytest.raises(OperationalError, match="no such table"):
            await db.fetch_one("SELECT * FROM nowhere")
        assert inline.fetch_one(raw, "SELECT ? AS n", (4,)) == {"n": 4}
        await db.disconnect()
        assert raw.closed and inline.current() is None
    run(main())


def test_execute_of_a_statement_with_returning_counts_its_rows(url):
    async def main():
        db = await make(url)
        result = await db.execute("INSERT INTO users (name) VALUES (?) RETURNING id", "Ada")
        assert result.rowcount == 1
        result = await db.execute("UPDATE users SET name = ? RETURNING id", "Ada L.")
        assert result.rowcount == 1
        assert await db.fetch_val("SELECT name FROM users") == "Ada L."
        await db.disconnect()
    run(main())
