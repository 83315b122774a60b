"""Database micro-benchmark of issue 15: covet.database against raw sqlite3, SQLAlchemy 2 and peewee.

    benchmarks/.venv/bin/python benchmarks/bench_db.py            # full: 11 interleaved rounds (~1 min)
    benchmarks/.venv/bin/python benchmarks/bench_db.py --quick    # smoke check: 3 short rounds
    benchmarks/.venv/bin/python benchmarks/bench_db.py --cases fetch_all,orm_select --rounds 21

Everything runs in this one process on one sqlite file in a temporary folder: a ``users`` table
of 1,000 rows (id, name, email, age, active) read by every case, and an empty ``items`` table of
the same shape that the insert case fills (emptied, untimed, after each contender's run). Every
connection of every contender runs with the journal mode and ``synchronous`` level covet's own
connection reports (covet picks them; the peers are given the same, so no side pays for a
stricter fsync policy than another).

Cases, each a set of contenders timed in interleaved rounds (round 1 of every contender, then
round 2, ..., each round starting one contender later), so a burst of outside load hits all
alike; the figure is the median time per call:

- ``fetch_all``: ``SELECT id, name, email, age, active FROM users LIMIT 100``, all rows.
- ``fetch_one``: ``SELECT ... FROM users WHERE id = ?``, one row, the id cycling over the table.
  Both have two pairs. covet's async API runs each query on its connection's own thread, so
  ``await db.fetch_all`` is compared with raw sqlite3 run the way an async app must run it:
  ``await loop.run_in_executor(pool, ...)`` on a one-thread pool holding one connection. covet's
  sync twin ``db.sync.fetch_all`` is compared with raw sqlite3 called directly. Raw sqlite3
  returns tuples (its default); covet returns its rows (by name, attribute or position). A raw
  ``sqlite3.Row`` line is printed for reference (no target).
- ``orm_select``: 100 model instances. SQLAlchemy 2: a new ``Session`` per call (what a request
  does), ``session.scalars(select(User).limit(100)).all()``; peewee:
  ``list(User.select().limit(100))``. Both are synchronous and called directly. covet's ORM is
  timed through the API it offers (see ``covet_orm_contenders``; the README says which).
- ``insert``: 1,000 new model instances saved in one transaction. SQLAlchemy 2:
  ``session.add_all(objs); session.commit()`` (its batched "insertmanyvalues" path, ids fetched
  back); peewee (reference): ``Model.create`` per row inside ``db.atomic()`` (ids set, as for the
  others); raw ``executemany`` in one transaction and covet's core ``execute_many`` inside
  ``db.transaction()`` for reference. Building the 1,000 objects is part of each timed call.

Targets (issue 15), printed PASS/FAIL: covet's fetch_all (100 rows) and fetch_one at most 1.3x
raw sqlite3's time, both pairs, and the async reads against raw sqlite3 called directly too; ORM select of 100 rows at least 2x as fast as SQLAlchemy's and at
least as fast as peewee's; insert of 1,000 rows in one transaction at least 2x as fast as
SQLAlchemy's ORM.

Before timing, every contender's answer is checked against raw sqlite3's (the same 100 rows, the
same row, 1,000 rows stored with ids). Runs with plain python3 too: a missing peer prints "peer
not installed", and without covet.database (or its ORM) its lines say so.
"""
import argparse
import asyncio
import concurrent.futures
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

try:
    from covet.database import DatabaseManager
except ImportError:  # the database core is not in this checkout
    DatabaseManager = None

try:
    import sqlalchemy
    from sqlalchemy import orm as sa_orm
except ImportError:  # the peers live in benchmarks/.venv only
    sqlalchemy = None

try:
    import peewee
except ImportError:
    peewee = None

USERS = 1000
COLUMNS = "id, name, email, age, active"
SQL_ALL = "SELECT %s FROM users LIMIT 100" % COLUMNS
SQL_ONE = "SELECT %s FROM users WHERE id = ?" % COLUMNS
SQL_INSERT = "INSERT INTO items (name, email, age, active) VALUES (?, ?, ?, ?)"
INSERT_ROWS = 1000
SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL,
                    age INTEGER NOT NULL, active BOOLEAN NOT NULL);
CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL,
                    age INTEGER NOT NULL, active BOOLEAN NOT NULL);
"""


def user_row(i):
    """The seeded row of user ``i``: (id, name, email, age, active)."""
    return (i, "user%d" % i, "user%d@example.com" % i, 18 + i % 60, i % 3 != 0)


def item_values(i):
    """The column values of the ``i``-th inserted item (no id: the database assigns it)."""
    return ("item%d" % i, "item%d@example.com" % i, 18 + i % 60, i % 2 == 0)


# (case, calls per run in a full round): sized so that one run of the slowest contender takes
# about 0.1-0.3 s on a 2020s core; --quick divides them by 5.
CALLS = {"fetch_all": 1000, "fetch_one": 4000, "orm_select": 200, "insert": 4}
CASES = ("fetch_all", "fetch_one", "orm_select", "insert")

# (case, contender, baseline, kind, limit): kind "max" means time(contender) / time(baseline)
# <= limit (an overhead); "min" means time(baseline) / time(contender) >= limit (a speed-up).
TARGETS = [
    ("fetch_all", "covet await db.fetch_all", "raw sqlite3, run_in_executor", "max", 1.3),
    ("fetch_all", "covet db.sync.fetch_all", "raw sqlite3, direct", "max", 1.3),
    ("fetch_one", "covet await db.fetch_one", "raw sqlite3, run_in_executor", "max", 1.3),
    ("fetch_one", "covet db.sync.fetch_one", "raw sqlite3, direct", "max", 1.3),
    # The strict reading: covet's async reads run on the loop's thread (covet.database.inline), so
    # they are also held to raw sqlite3 called directly, which blocks the loop without a bound.
    ("fetch_all", "covet await db.fetch_all", "raw sqlite3, direct", "max", 1.3),
    ("fetch_one", "covet await db.fetch_one", "raw sqlite3, direct", "max", 1.3),
    ("orm_select", "covet ORM", "SQLAlchemy ORM", "min", 2.0),
    ("orm_select", "covet ORM", "peewee", "min", 1.0),
    ("insert", "covet ORM", "SQLAlchemy ORM", "min", 2.0),
]


class Contender:
    """One way of doing a case's work: ``run(n)`` does it ``n`` times and returns the seconds taken.

    ``check()`` does it once, untimed, and returns a value comparable with the baseline's
    (it also warms caches); ``after_run()`` cleans up, untimed (the insert case empties
    ``items``). An async contender's ``run`` and ``check`` are coroutine functions, run on
    the benchmark's event loop; the time is taken inside the coroutine.
    """

    def __init__(self, name, run, check, is_async=False, after_run=None, note=""):
        self.name = name
        self.run = run
        self.check = check
        self.is_async = is_async
        self.after_run = after_run
        self.note = note


class Bench:
    """The shared state: the sqlite file, the event loop, covet's database and the peers' engines."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "bench.db")
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.pragmas = []
        self.covet = None
        self.covet_error = None
        self._make_file()
        if DatabaseManager is None:
            self.covet_error = "covet.database.DatabaseManager not in this checkout"
        else:
            self.covet = DatabaseManager("sqlite:///" + self.path)
            self.loop.run_until_complete(self.covet.connect())
            # covet's choice of journal mode and fsync level becomes every contender's.
            sync = self.loop.run_until_complete(self.covet.fetch_val("PRAGMA synchronous"))
            self.pragmas = ["PRAGMA synchronous = %d" % int(sync)]
        self.journal_mode = self.raw_connect().execute("PRAGMA journal_mode").fetchone()[0]

    def _make_file(self):
        conn = sqlite3.connect(self.path)
        # WAL is persistent in the file: every connection, covet's or a peer's, gets it.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        with conn:
            conn.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", [user_row(i) for i in range(1, USERS + 1)])
        conn.close()

    def raw_connect(self, check_same_thread=True):
        """A plain sqlite3 connection to the file with the shared pragmas applied."""
        conn = sqlite3.connect(self.path, check_same_thread=check_same_thread)
        for pragma in self.pragmas:
            conn.execute(pragma)
        return conn

    def synchronous_level(self):
        return self.raw_connect().execute("PRAGMA synchronous").fetchone()[0]

    def close(self):
        if self.covet is not None:
            self.loop.run_until_complete(self.covet.disconnect())
        self.loop.close()


# raw sqlite3 ------------------------------------------------------------------------------


def raw_contenders(bench, case):
    """Raw sqlite3 called directly, run in an executor (what an async app must do), and sqlite3.Row."""
    direct = bench.raw_connect()
    rowconn = bench.raw_connect()
    rowconn.row_factory = sqlite3.Row
    # One worker thread holding one connection, made on that thread: what an asyncio app
    # using sqlite3 writes (run_in_executor on a dedicated single-thread pool).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw-sqlite")
    local = threading.local()

    def pooled():
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = bench.raw_connect()
        return conn

    out = []
    if case == "fetch_all":
        def one(conn):
            return conn.execute(SQL_ALL).fetchall()

        def pooled_all():
            return pooled().execute(SQL_ALL).fetchall()

        def run_direct(n):
            execute = direct.execute
            t = time.perf_counter()
            for _ in range(n):
                execute(SQL_ALL).fetchall()
            return time.perf_counter() - t

        def run_row(n):
            execute = rowconn.execute
            t = time.perf_counter()
            for _ in range(n):
                execute(SQL_ALL).fetchall()
            return time.perf_counter() - t

        async def run_pool(n):
            loop = asyncio.get_running_loop()
            t = time.perf_counter()
            for _ in range(n):
                await loop.run_in_executor(pool, pooled_all)
            return time.perf_counter() - t

        async def check_pool():
            return rows_key(await asyncio.get_running_loop().run_in_executor(pool, pooled_all))

        out.append(Contender("raw sqlite3, direct", run_direct, lambda: rows_key(one(direct))))
        out.append(Contender("raw sqlite3, run_in_executor", run_pool, check_pool, is_async=True))
        out.append(Contender("raw sqlite3.Row, direct", run_row, lambda: rows_key(one(rowconn)),
                             note="reference: rows by name"))
    elif case == "fetch_one":
        ids = cycle_ids()

        def pooled_one(i):
            return pooled().execute(SQL_ONE, (i,)).fetchone()

        def run_direct(n):
            execute = direct.execute
            t = time.perf_counter()
            for i in ids(n):
                execute(SQL_ONE, (i,)).fetchone()
            return time.perf_counter() - t

        def run_row(n):
            execute = rowconn.execute
            t = time.perf_counter()
            for i in ids(n):
                execute(SQL_ONE, (i,)).fetchone()
            return time.perf_counter() - t

        async def run_pool(n):
            loop = asyncio.get_running_loop()
            t = time.perf_counter()
            for i in ids(n):
                await loop.run_in_executor(pool, pooled_one, i)
            return time.perf_counter() - t

        async def check_pool():
            return row_key(await asyncio.get_running_loop().run_in_executor(pool, pooled_one, 42))

        out.append(Contender("raw sqlite3, direct", run_direct,
                             lambda: row_key(direct.execute(SQL_ONE, (42,)).fetchone())))
        out.append(Contender("raw sqlite3, run_in_executor", run_pool, check_pool, is_async=True))
        out.append(Contender("raw sqlite3.Row, direct", run_row,
                             lambda: row_key(rowconn.execute(SQL_ONE, (42,)).fetchone()),
                             note="reference: rows by name"))
    elif case == "insert":
        def run_direct(n):
            t = time.perf_counter()
            for _ in range(n):
                rows = [item_values(i) for i in range(INSERT_ROWS)]
                with direct:  # one transaction, committed on exit
                    direct.executemany(SQL_INSERT, rows)
            return time.perf_counter() - t

        def check_direct():
            run_direct(1)
            return stored_items(bench)

        out.append(Contender("raw sqlite3 executemany", run_direct, check_direct,
                             after_run=lambda: empty_items(bench), note="reference: no objects"))
    return out


def cycle_ids():
    """``ids(n)``: n user ids, continuing round the table from call to call (every row gets read)."""
    state = [0]

    def ids(n):
        start = state[0]
        state[0] = (start + n) % USERS
        return [(start + k) % USERS + 1 for k in range(n)]
    return ids


def rows_key(rows):
    """Rows of any kind (tuples, sqlite3.Row, Record, model instances) as comparable tuples."""
    return [row_key(r) for r in rows]


def row_key(row):
    if row is None:
        return None
    if isinstance(row, (tuple, sqlite3.Row)):
        return (row[0], row[1], row[2], row[3], bool(row[4]))
    if isinstance(row, dict):
        return (row["id"], row["name"], row["email"], row["age"], bool(row["active"]))
    return (row.id, row.name, row.email, row.age, bool(row.active))


def stored_items(bench):
    """What the insert case left in ``items``: (count, ids distinct and set, first row's values)."""
    conn = bench.raw_connect()
    try:
        count, distinct = conn.execute("SELECT count(*), count(DISTINCT id) FROM items").fetchone()
        first = conn.execute("SELECT name, email, age, active FROM items ORDER BY id LIMIT 1").fetchone()
    finally:
        conn.close()
    empty_items(bench)
    return (count, count == distinct, first and (first[0], first[1], first[2], bool(first[3])))


def empty_items(bench):
    conn = bench.raw_connect()
    try:
        with conn:
            conn.execute("DELETE FROM items")
    finally:
        conn.close()


# covet.database ---------------------------------------------------------------------------


def covet_contenders(bench, case):
    """covet's async API and its sync twin (db.sync)."""
    db = bench.covet
    if db is None:
        return []
    out = []
    if case == "fetch_all":
        async def run_async(n):
            fetch_all = db.fetch_all
            t = time.perf_counter()
            for _ in range(n):
                await fetch_all(SQL_ALL)
            return time.perf_counter() - t

        async def check_async():
            return rows_key(await db.fetch_all(SQL_ALL))

        def run_sync(n):
            fetch_all = db.sync.fetch_all
            t = time.perf_counter()
            for _ in range(n):
                fetch_all(SQL_ALL)
            return time.perf_counter() - t

        out.append(Contender("covet await db.fetch_all", run_async, check_async, is_async=True))
        out.append(Contender("covet db.sync.fetch_all", run_sync, lambda: rows_key(db.sync.fetch_all(SQL_ALL))))
    elif case == "fetch_one":
        ids_a, ids_s = cycle_ids(), cycle_ids()

        async def run_async(n):
            fetch_one = db.fetch_one
            t = time.perf_counter()
            for i in ids_a(n):
                await fetch_one(SQL_ONE, i)
            return time.perf_counter() - t

        async def check_async():
            return row_key(await db.fetch_one(SQL_ONE, 42))

        def run_sync(n):
            fetch_one = db.sync.fetch_one
            t = time.perf_counter()
            for i in ids_s(n):
                fetch_one(SQL_ONE, i)
            return time.perf_counter() - t

        out.append(Contender("covet await db.fetch_one", run_async, check_async, is_async=True))
        out.append(Contender("covet db.sync.fetch_one", run_sync, lambda: row_key(db.sync.fetch_one(SQL_ONE, 42))))
    elif case == "insert":
        async def run_async(n):
            t = time.perf_counter()
            for _ in range(n):
                rows = [item_values(i) for i in range(INSERT_ROWS)]
                async with db.transaction():
                    await db.execute_many(SQL_INSERT, rows)
            return time.perf_counter() - t

        async def check_async():
            await run_async(1)
            return stored_items(bench)

        out.append(Contender("covet execute_many (core)", run_async, check_async, is_async=True,
                             after_run=lambda: empty_items(bench), note="reference: no objects"))
    return out


def covet_orm_contenders(bench, case):
    """covet's ORM (covet.database.orm), through its async API: it has no synchronous one.

    Select: ``await User.query(db).limit(100).all()`` on the DatabaseManager, as its docs show
    for a handler. Insert: a new ``db.session_scope()`` per call (as SQLAlchemy gets a new
    Session), ``session.add_all(objs)``, ``await session.commit()``. Returns ``[]`` and sets
    ``bench.orm_error`` when the ORM is not in this checkout.
    """
    db = bench.covet
    if db is None:
        return []
    try:
        from covet.database.orm import Boolean, Column, Integer, Model, String
    except ImportError as exc:
        bench.orm_error = "covet.database.orm not in this checkout (%s): not run" % exc
        return []
    models = getattr(bench, "covet_models", None)
    if models is None:
        class User(Model):
            __tablename__ = "users"
            id = Column(Integer, primary_key=True)
            name = Column(String(100), nullable=False)
            email = Column(String(255), nullable=False)
            age = Column(Integer, nullable=False)
            active = Column(Boolean, nullable=False)

        class Item(Model):
            __tablename__ = "items"
            id = Column(Integer, primary_key=True)
            name = Column(String(100), nullable=False)
            email = Column(String(255), nullable=False)
            age = Column(Integer, nullable=False)
            active = Column(Boolean, nullable=False)

        models = bench.covet_models = (User, Item)
    User, Item = models

    if case == "orm_select":
        async def run(n):
            t = time.perf_counter()
            for _ in range(n):
                await User.query(db).limit(100).all()
            return time.perf_counter() - t

        async def check():
            return rows_key(await User.query(db).limit(100).all())

        return [Contender("covet ORM", run, check, is_async=True, note="async (the ORM has no sync API)")]
    if case == "insert":
        async def insert_all():
            async with db.session_scope() as session:
                objs = [Item(name=a, email=b, age=c, active=d) for a, b, c, d in
                        (item_values(i) for i in range(INSERT_ROWS))]
                session.add_all(objs)
                await session.commit()
            return objs

        async def run(n):
            t = time.perf_counter()
            for _ in range(n):
                await insert_all()
            return time.perf_counter() - t

        async def check():
            objs = await insert_all()
            assert all(o.id is not None for o in objs), "covet's ORM left an id unset"
            return stored_items(bench)

        return [Contender("covet ORM", run, check, is_async=True, after_run=lambda: empty_items(bench),
                          note="async (the ORM has no sync API)")]
    return []


# SQLAlchemy 2 -----------------------------------------------------------------------------


def sqlalchemy_contenders(bench, case):
    """SQLAlchemy 2 ORM, sync Session (the documented 2.0 style), a new session per call."""
    from sqlalchemy import Boolean, Integer, String, create_engine, event, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        email: Mapped[str] = mapped_column(String(255))
        age: Mapped[int] = mapped_column(Integer)
        active: Mapped[bool] = mapped_column(Boolean)

    class Item(Base):
        __tablename__ = "items"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        email: Mapped[str] = mapped_column(String(255))
        age: Mapped[int] = mapped_column(Integer)
        active: Mapped[bool] = mapped_column(Boolean)

    engine = create_engine("sqlite:///" + bench.path)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        for pragma in bench.pragmas:
            dbapi_conn.execute(pragma)

    if case == "orm_select":
        def select_100():
            with Session(engine) as session:
                return session.scalars(select(User).limit(100)).all()

        def run(n):
            t = time.perf_counter()
            for _ in range(n):
                select_100()
            return time.perf_counter() - t

        # What an asyncio app pays to use it: the same call on a one-thread pool (a reference line).
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlalchemy")

        async def run_pool(n):
            loop = asyncio.get_running_loop()
            t = time.perf_counter()
            for _ in range(n):
                await loop.run_in_executor(pool, select_100)
            return time.perf_counter() - t

        async def check_pool():
            return rows_key(await asyncio.get_running_loop().run_in_executor(pool, select_100))

        return [Contender("SQLAlchemy ORM", run, lambda: rows_key(select_100())),
                Contender("SQLAlchemy ORM, run_in_executor", run_pool, check_pool, is_async=True,
                          note="reference: as an async app must call it")]
    if case == "insert":
        def run(n):
            t = time.perf_counter()
            for _ in range(n):
                with Session(engine) as session:
                    objs = [Item(name=a, email=b, age=c, active=d) for a, b, c, d in
                            (item_values(i) for i in range(INSERT_ROWS))]
                    session.add_all(objs)
                    session.commit()
            return time.perf_counter() - t

        def check():
            with Session(engine) as session:
                objs = [Item(name=a, email=b, age=c, active=d) for a, b, c, d in
                        (item_values(i) for i in range(INSERT_ROWS))]
                session.add_all(objs)
                session.commit()
                assert all(o.id is not None for o in objs), "SQLAlchemy left an id unset"
            return stored_items(bench)

        return [Contender("SQLAlchemy ORM", run, check, after_run=lambda: empty_items(bench))]
    return []


# peewee -----------------------------------------------------------------------------------


def peewee_contenders(bench, case):
    """peewee: synchronous, one connection held open (its default for a script)."""
    pragmas = [tuple(p.replace("PRAGMA ", "").split(" = ")) for p in bench.pragmas]
    database = peewee.SqliteDatabase(bench.path, pragmas=pragmas)

    class User(peewee.Model):
        name = peewee.CharField(max_length=100)
        email = peewee.CharField(max_length=255)
        age = peewee.IntegerField()
        active = peewee.BooleanField()

        class Meta:
            table_name = "users"

    class Item(peewee.Model):
        name = peewee.CharField(max_length=100)
        email = peewee.CharField(max_length=255)
        age = peewee.IntegerField()
        active = peewee.BooleanField()

        class Meta:
            table_name = "items"

    database.bind([User, Item])
    database.connect(reuse_if_open=True)

    if case == "orm_select":
        def run(n):
            t = time.perf_counter()
            for _ in range(n):
                list(User.select().limit(100))
            return time.perf_counter() - t

        return [Contender("peewee", run, lambda: rows_key(list(User.select().limit(100))))]
    if case == "insert":
        def insert_all():
            objs = []
            with database.atomic():
                for a, b, c, d in (item_values(i) for i in range(INSERT_ROWS)):
                    objs.append(Item.create(name=a, email=b, age=c, active=d))
            return objs

        def run(n):
            t = time.perf_counter()
            for _ in range(n):
                insert_all()
            return time.perf_counter() - t

        def check():
            objs = insert_all()
            assert all(o.id is not None for o in objs), "peewee left an id unset"
            return stored_items(bench)

        return [Contender("peewee", run, check, after_run=lambda: empty_items(bench),
                          note="reference: Model.create per row in atomic()")]
    return []


# running and reporting --------------------------------------------------------------------


def call(bench, contender, fn, *args):
    if contender.is_async:
        return bench.loop.run_until_complete(fn(*args))
    return fn(*args)


def gather(bench, case):
    """Every contender of ``case``, with lines for the peers that are missing."""
    out = raw_contenders(bench, case)
    missing = []
    if bench.covet is None:
        missing.append(("covet", bench.covet_error))
    out += covet_contenders(bench, case)
    if case in ("orm_select", "insert"):
        orm = covet_orm_contenders(bench, case)
        if bench.covet is not None and not orm:
            missing.append(("covet ORM", getattr(bench, "orm_error", "no ORM contender")))
        out += orm
        if sqlalchemy is None:
            missing.append(("SQLAlchemy ORM", "peer not installed"))
        else:
            out += sqlalchemy_contenders(bench, case)
        if peewee is None:
            missing.append(("peewee", "peer not installed"))
        else:
            out += peewee_contenders(bench, case)
    return out, missing


def verify(bench, case, contenders):
    """Run each contender once; drop (and report) those whose answer differs from the first's."""
    expected = None
    kept = []
    for c in contenders:
        try:
            got = call(bench, c, c.check)
        except Exception as exc:  # a broken contender is reported, not fatal to the others
            print("  %-34s NOT MEASURED: %s: %s" % (c.name, type(exc).__name__, exc))
            continue
        if expected is None:
            expected = got
        elif got != expected:
            print("  %-34s NOT MEASURED: wrong answer %r (expected %r)" % (c.name, str(got)[:120], str(expected)[:120]))
            continue
        kept.append(c)
    return kept


def measure(bench, contenders, calls, rounds):
    """{name: [seconds per call, one per round]}, the rounds interleaved across contenders.

    Each round starts one contender later than the one before (A B C, B C A, C A B, ...), so that
    whatever the position in a round costs (following a contender that left threads or garbage
    behind) falls on every contender alike.
    """
    times = {c.name: [] for c in contenders}
    for r in range(rounds):
        k = r % len(contenders) if contenders else 0
        for c in contenders[k:] + contenders[:k]:
            seconds = call(bench, c, c.run, calls)
            times[c.name].append(seconds / calls)
            if c.after_run is not None:
                c.after_run()
    return times


def fmt_us(seconds):
    return "%10.1f us" % (seconds * 1e6) if seconds < 0.01 else "%10.2f ms" % (seconds * 1e3)


def report_case(case, medians, times, calls, contenders):
    notes = {c.name: c.note for c in contenders}
    for name, med in medians.items():
        spread = times[name]
        print("  %-34s %s   (min %s, max %s)%s" % (
            name, fmt_us(med), fmt_us(min(spread)).strip(), fmt_us(max(spread)).strip(),
            "   " + notes[name] if notes.get(name) else ""))


def verdicts(results):
    """PASS/FAIL lines for TARGETS from {case: {name: median seconds}}; returns how many failed."""
    print()
    print("Targets (issue 15; this run)")
    failed = 0
    for case, contender, baseline, kind, limit in TARGETS:
        if case not in results:
            continue  # not selected with --cases
        med = results[case]
        if kind == "max":
            label = "%-10s %s <= %.1fx %s" % (case, contender, limit, baseline)
        else:
            label = "%-10s %s >= %.1fx as fast as %s" % (case, contender, limit, baseline)
        if contender not in med or baseline not in med:
            print("  %-78s n/a: not measured" % label)
            continue
        if kind == "max":
            ratio = med[contender] / med[baseline]
            ok = ratio <= limit
        else:
            ratio = med[baseline] / med[contender]
            ok = ratio >= limit
        failed += not ok
        print("  %-78s %-4s (%.2fx)" % (label, "PASS" if ok else "FAIL", ratio))
    return failed


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 rounds of a fifth of the calls: a smoke check")
    p.add_argument("--rounds", type=int, help="interleaved rounds, median reported (default 11; 3 with --quick)")
    p.add_argument("--cases", help="comma-separated: " + ",".join(CASES))
    args = p.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 11)
    args.cases = [c.strip() for c in args.cases.split(",")] if args.cases else list(CASES)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        p.error("unknown case(s): %s" % ", ".join(unknown))
    return args


def main(argv=None):
    args = parse_args(argv)
    folder = tempfile.mkdtemp(prefix="bench-db-")
    bench = Bench(folder)
    try:
        print("Database micro-benchmark: python %s, sqlite %s, %s, %s; median of %d interleaved rounds%s"
              % (sys.version.split()[0], sqlite3.sqlite_version,
                 "SQLAlchemy %s" % sqlalchemy.__version__ if sqlalchemy else "SQLAlchemy not installed",
                 "peewee %s" % peewee.__version__ if peewee else "peewee not installed",
                 args.rounds, " (--quick: noisy)" if args.quick else ""))
        print("sqlite file in %s; journal_mode=%s, synchronous=%s for every connection%s; load average %s"
              % (folder, bench.journal_mode, bench.synchronous_level(),
                 " (covet's)" if bench.covet is not None else "", " ".join("%.2f" % x for x in os.getloadavg())))
        results = {}
        for case in args.cases:
            calls = max(1, CALLS[case] // (5 if args.quick else 1))
            print()
            print("%s  (%d calls per run; time per call)" % (
                {"fetch_all": "fetch_all: 100 rows", "fetch_one": "fetch_one: one row by primary key",
                 "orm_select": "ORM select: 100 model instances",
                 "insert": "insert: 1,000 rows in one transaction"}[case], calls))
            contenders, missing = gather(bench, case)
            for name, reason in missing:
                print("  %-34s %s" % (name, reason))
            contenders = verify(bench, case, contenders)
            times = measure(bench, contenders, calls, args.rounds)
            medians = {name: statistics.median(t) for name, t in times.items()}
            results[case] = medians
            report_case(case, medians, times, calls, contenders)
        verdicts(results)
    finally:
        bench.close()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
