"""Driver connections and the thread each one runs on: how covet talks to a DB-API 2.0 module.

DB-API drivers (PEP 249), ``sqlite3`` among them, block. covet gives every driver connection its
own worker thread: an async query is a job posted to that thread, and its result comes back to
the event loop through ``call_soon_threadsafe``. One thread per connection, not a shared pool of
threads, because a connection must never be used by two threads at once and because jobs on one
connection then run in the order they were posted: when a request is cancelled mid-query, the
cleanup posted after it (roll back, hand the connection back) runs once the query is done, never
beside it. Sync code (``db.sync``, plain ``def`` handlers in worker threads) calls the same
functions directly on its own thread, on a connection it has checked out.

:class:`Backend` is what one kind of database needs: how to open a connection, which placeholder
style its driver takes, how transactions begin and end. :class:`SQLiteBackend` adds WAL, the busy
timeout, foreign keys and the single-writer gate (docs/database.md, "SQLite under concurrency").
"""
import importlib
import queue
import sqlite3
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .config import DatabaseConfig
from .errors import DatabaseError, InterfaceError, ProgrammingError, translate_error
from .identifiers import quote_identifier
from .params import MAX_CACHED_LENGTH, Translation, split_statements, translate
from .records import MappingRecord, Record, SQLiteRecord

__all__ = ["Dialect", "Worker", "RawConnection", "Backend", "SQLiteBackend", "backend_for", "ITERATE_BATCH", "sqlite_now"]

#: Rows fetched per round trip to the worker thread by ``iterate``: big enough that the hop is
#: amortised, small enough that a huge result never sits in memory whole.
ITERATE_BATCH = 500


class Dialect:
    """What SQL-generating code (builder, ORM, migrations) needs to know about a database."""

    __slots__ = ("name", "paramstyle", "supports_returning", "quote_identifier")

    def __init__(self, name: str, paramstyle: str, supports_returning: bool) -> None:
        self.name = name
        self.paramstyle = paramstyle
        self.supports_returning = supports_returning
        self.quote_identifier = quote_identifier

    def __repr__(self) -> str:
        return "Dialect(%r, paramstyle=%r)" % (self.name, self.paramstyle)


def _settle(fut: Any, ok: bool, value: Any) -> None:
    if not fut.done():  # a cancelled waiter has gone; its cleanup job follows this one
        if ok:
            fut.set_result(value)
        else:
            if isinstance(value, StopIteration):
                # A future refuses StopIteration (TypeError in this callback), which left the
                # awaiting task waiting forever; wrap it as PEP 479 does for generators.
                error = RuntimeError("a database job raised StopIteration (from a value's adapter?)")
                error.__cause__ = value
                value = error
            fut.set_exception(value)


class Worker:
    """A thread that runs one connection's jobs in order."""

    __slots__ = ("queue", "thread", "keep")

    def __init__(self, name: str) -> None:
        #: the driver connection this thread works on, held by the running thread itself: so it is
        #: never part of a garbage cycle while jobs may still run on it (the collector finalising
        #: it there, beside a queued rollback, crashed the process inside sqlite3)
        self.keep: Any = None
        self.queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        get = self.queue.get
        while True:
            job = get()
            if job is None:
                self.keep = None
                return
            loop, fut, fn, args = job
            try:
                value, ok = fn(*args), True
            except BaseException as exc:  # handed to the awaiting task, which decides
                value, ok = exc, False
            if fut is not None:
                try:
                    loop.call_soon_threadsafe(_settle, fut, ok, value)
                except RuntimeError:  # the loop has closed: nobody is waiting any more
                    pass
            del job, value, fn, args, fut, loop  # hold nothing between jobs: args hold the connection

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on this thread, after the jobs before it; nobody waits for it."""
        self.queue.put((None, None, fn, args))

    def stop(self) -> None:
        self.queue.put(None)


class RawConnection:
    """One driver connection, the worker thread that runs it (started on first async use), and
    its transaction state."""

    __slots__ = ("backend", "dbapi", "worker", "depth", "readonly", "holds_gate", "closed", "last_used",
                 "opened_at", "deadline", "__weakref__")

    def __init__(self, backend: "Backend") -> None:
        self.backend = backend
        self.dbapi: Any = None
        self.worker: Optional[Worker] = None
        self.depth = 0              # open transaction levels: 1 = BEGIN, 2+ = savepoints
        self.readonly = False
        self.holds_gate: Any = None  # the write Gate this connection's transaction holds, if any
        self.closed = False
        self.opened_at = self.last_used = time.monotonic()

    def run(self, loop: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """A future for ``fn(*args)`` run on this connection's thread."""
        worker = self.worker
        if worker is None:
            worker = self.worker = Worker("covet-db")
        fut = loop.create_future()
        worker.queue.put((loop, fut, fn, args))
        return fut

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` for a sync caller, on the caller's own thread."""
        return fn(*args)

    def alive(self, loop: Any) -> bool:
        """Whether a caller on ``loop`` can use this connection (a thread's always can)."""
        return True

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` after this connection's pending jobs, or now if it has no thread."""
        if self.worker is None:
            fn(*args)
        else:
            self.worker.post(fn, *args)

    def post_to_driver(self, fn: Callable[..., Any], *args: Any) -> None:
        """:meth:`post` for a job that uses the driver connection (a rollback, closing a cursor):
        skipped once the connection is closed. A connection collected with the task that used it
        is closed by its finaliser, which hands the close to its thread and forgets the thread;
        the task's own clean-up (the rollback its ``async with`` posts) may run after that in the
        same collection, and run here directly it used the driver beside the close on the other
        thread: a segfault inside sqlite3 (seen on 3.11 in a full run)."""
        if not self.closed:
            self.post(fn, *args)

    def __del__(self) -> None:
        # A connection nobody closed (its database dropped without disconnect(), its task
        # collected): close the driver's connection now rather than leave it to the driver's own
        # finaliser, which Python 3.13's sqlite3 reports as a ResourceWarning. If it has a thread,
        # close it *there*, after whatever is queued: the same collection may have just posted a
        # job to it (a collected task's rollback, from its coroutine's finaliser), and closing it
        # from here while that job ran crashed the process (a segfault inside sqlite3). The
        # posted close keeps this object alive until then (PEP 442 allows that).
        dbapi = self.dbapi
        if dbapi is None or self.closed:
            return
        self.closed = True
        worker = self.worker
        if worker is not None:
            self.worker = None
            worker.post(self.backend.close, self)
            worker.stop()
            return
        try:
            dbapi.close()
        except Exception:
            pass

    async def aclose(self) -> None:
        """:meth:`close`, for async callers (an async driver's connection is closed by then)."""
        self.close()

    def close(self) -> None:
        """Close the driver connection (on its thread, after pending jobs) and stop the thread."""
        if self.closed:
            return
        self.closed = True
        self.post(self.backend.close, self)
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


class Backend:
    """A DB-API 2.0 module: opening connections, running statements, transactions.

    Every method that touches the driver is synchronous and runs on the connection's worker
    thread (async callers) or on the caller's thread (sync callers). Driver exceptions leave as
    covet's (:func:`covet.database.errors.translate_error`).
    """

    name = "dbapi"
    #: What each statement reports to the database probe (covet.database.observe); the
    #: DatabaseManager that owns this backend fills it in.
    probe_attributes: Dict[str, Any] = {}
    #: Serialise writers through one gate (SQLite: one writer at a time per database file).
    serialise_writes = False
    #: Check an idle connection with a round trip when it has been idle this long (None: never).
    ping_after: Optional[float] = 30.0
    #: The connection count a database of this kind can use at most (None: the pool decides).
    max_connections: Optional[int] = None
    #: What holds one driver connection (covet.database.native.LoopConnection for async drivers).
    raw_class = RawConnection

    def __init__(self, module: Any, connect: Callable[[], Any], paramstyle: Optional[str] = None,
                 name: Optional[str] = None) -> None:
        self.module = module
        self._connect = connect
        self.paramstyle = paramstyle or getattr(module, "paramstyle", "qmark")
        self.error_class = getattr(module, "Error", Exception)
        self.dialect = Dialect(name or getattr(module, "__name__", "dbapi"), self.paramstyle, False)
        self.rewrite_sqlite = False
        self._translations: Dict[str, Translation] = {}

    # -- statements ---------------------------------------------------------------------
    def translate(self, sql: str) -> Translation:
        """``sql`` in this driver's style; one dict lookup once seen (statements come from code)."""
        try:
            found = self._translations.get(sql)
        except TypeError:  # unhashable SQL: translate() names the mistake
            found = None
        if found is None:
            found = translate(sql, self.paramstyle, self.rewrite_sqlite)
            if len(sql) <= MAX_CACHED_LENGTH:  # a huge statement built per call is not kept
                if len(self._translations) >= 4096:
                    self._translations.clear()
                self._translations[sql] = found
        return found

    def open(self, raw: RawConnection) -> None:
        try:
            raw.dbapi = self._connect()
            if raw.worker is not None:
                raw.worker.keep = raw.dbapi
        except self.error_class as exc:
            raise translate_error(exc) from exc

    def close(self, raw: RawConnection) -> None:
        try:
            if raw.dbapi is not None:
                raw.dbapi.close()
        except Exception:
            pass  # closing a broken connection may fail; it is gone either way

    def ping(self, raw: RawConnection) -> bool:
        try:
            cur = raw.dbapi.cursor()
            cur.execute("SELECT 1")
            cur.fetchall()
            cur.close()
            self._end_statement(raw)
            return True
        except Exception:
            return False

    def _cursor(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Any:
        cur = raw.dbapi.cursor()
        cur.execute(sql, params)
        return cur

    def _end_statement(self, raw: RawConnection) -> None:
        # A DB-API connection is always inside an implicit transaction: outside covet's own
        # transactions each statement commits by itself, as a user of db.execute expects.
        if raw.depth == 0:
            raw.dbapi.commit()

    def fetch_all(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> List[Record]:
        try:
            cur = self._cursor(raw, sql, params)
            desc = cur.description
            rows = cur.fetchall() if desc is not None else ()
            self._end_statement(raw)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        if not rows:
            return []
        names = [d[0] for d in desc]
        return [MappingRecord(zip(names, row)) for row in rows]

    def fetch_one(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Optional[Record]:
        try:
            cur = self._cursor(raw, sql, params)
            desc = cur.description
            row = cur.fetchone() if desc is not None else None
            cur.close()  # the rest of the rows are not wanted; closing discards them
            self._end_statement(raw)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        if row is None:
            return None
        return MappingRecord(zip([d[0] for d in desc], row))

    def fetch_val(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Any:
        try:
            cur = self._cursor(raw, sql, params)
            row = cur.fetchone() if cur.description is not None else None
            cur.close()
            self._end_statement(raw)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        return None if row is None else row[0]

    def execute(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Tuple[int, Optional[int]]:
        try:
            cur = self._cursor(raw, sql, params)
            if cur.description is not None:
                # INSERT ... RETURNING and the like: sqlite3 runs such a statement (and counts its
                # rows) only as its rows are read; unread, rowcount said 0 for a row inserted.
                rows = cur.fetchall()
                result = (max(cur.rowcount, len(rows)), getattr(cur, "lastrowid", None))  # 3.9 says 0
            else:
                result = (cur.rowcount, getattr(cur, "lastrowid", None))
            self._end_statement(raw)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        return result

    def execute_many(self, raw: RawConnection, sql: str, seq: List[Any]) -> int:
        try:
            cur = raw.dbapi.cursor()
            cur.executemany(sql, seq)
            count = cur.rowcount
            self._end_statement(raw)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        return count

    def execute_script(self, raw: RawConnection, statements: List[str]) -> None:
        try:
            cur = raw.dbapi.cursor()
            for statement in statements:
                cur.execute(statement)
            self._end_statement(raw)
        except self.error_class as exc:
            raise translate_error(exc) from exc

    def split_script(self, script: str) -> List[str]:
        return split_statements(script)

    def script_statements(self, script: str) -> List[str]:
        """A script's statements as ``execute_script`` takes them, each in this driver's dialect."""
        return [self.translate(s).sql for s in self.split_script(script)]

    def cursor_open(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Tuple[Any, List[str]]:
        try:
            cur = self._cursor(raw, sql, params)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        names = [d[0] for d in cur.description] if cur.description is not None else []
        return cur, names

    def cursor_batch(self, cur: Any, names: List[str], size: int) -> List[Record]:
        try:
            rows = cur.fetchmany(size)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        return [MappingRecord(zip(names, row)) for row in rows]

    def cursor_close(self, raw: RawConnection, cur: Any) -> None:
        try:
            cur.close()
            self._end_statement(raw)
        except Exception:
            pass

    # -- transactions -------------------------------------------------------------------
    def begin(self, raw: RawConnection, readonly: bool) -> None:
        try:
            if raw.depth == 0:
                raw.dbapi.commit()  # end the driver's implicit transaction so ours starts clean
            else:
                raw.dbapi.cursor().execute("SAVEPOINT covet_%d" % raw.depth)
        except self.error_class as exc:
            raise translate_error(exc) from exc
        raw.depth += 1
        if raw.depth == 1:
            raw.readonly = readonly

    def commit(self, raw: RawConnection) -> None:
        try:
            if raw.depth == 1:
                raw.dbapi.commit()
            else:
                raw.dbapi.cursor().execute("RELEASE SAVEPOINT covet_%d" % (raw.depth - 1))
        except self.error_class as exc:
            self._abandon(raw)
            raise translate_error(exc) from exc
        raw.depth -= 1

    def rollback(self, raw: RawConnection) -> None:
        try:
            if raw.depth <= 1:
                raw.dbapi.rollback()
            else:
                cur = raw.dbapi.cursor()
                cur.execute("ROLLBACK TO SAVEPOINT covet_%d" % (raw.depth - 1))
                cur.execute("RELEASE SAVEPOINT covet_%d" % (raw.depth - 1))
        except self.error_class as exc:
            self._abandon(raw)
            raise translate_error(exc) from exc
        raw.depth = max(raw.depth - 1, 0)

    def end(self, raw: RawConnection, commit: bool) -> None:
        """COMMIT or ROLLBACK one level; the outermost level's end opens the write gate."""
        try:
            if commit:
                self.commit(raw)
            else:
                self.rollback(raw)
        finally:
            if raw.depth == 0 and raw.holds_gate is not None:
                gate, raw.holds_gate = raw.holds_gate, None
                gate.release()

    def _abandon(self, raw: RawConnection) -> None:
        # A transaction that cannot end cleanly: roll everything back; a connection that cannot
        # even do that is closed rather than handed to the next request.
        try:
            raw.dbapi.rollback()
            raw.depth = 0
        except Exception:
            raw.depth = 0
            raw.closed = True

    def reset(self, raw: RawConnection) -> None:
        """Leave no transaction open (a connection coming back from a cancelled request)."""
        if raw.depth:
            raw.depth = 1
            try:
                self.rollback(raw)
            except DatabaseError:
                raw.closed = True
        raw.depth = 0


def _journal_mode_wal(conn: sqlite3.Connection, timeout: float) -> None:
    # Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is
    # locked" at once rather than through the busy handler when another process is switching it
    # too (two workers starting on a fresh file, two `covet db migrate` at once). This runs on a
    # connection's own thread, where waiting a little is harmless: retry until busy_timeout.
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def sqlite_now() -> str:
    """SQL ``now()`` on SQLite: UTC in the format of ``CURRENT_TIMESTAMP``, so the two agree."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class SQLiteBackend(Backend):
    """SQLite through the standard library's ``sqlite3``.

    Each connection is opened with ``isolation_level=None`` (covet issues BEGIN/COMMIT itself, so
    a transaction means exactly what ``db.transaction()`` says), WAL journaling (readers never
    block the writer nor it them), ``synchronous=NORMAL`` (durable across crashes of the process
    in WAL mode, the setting SQLite recommends with WAL), foreign keys on, and a busy timeout for
    writers in other processes. Writers in this process are queued by covet's write gate instead:
    every write transaction starts with ``BEGIN IMMEDIATE``, so SQLite never has to upgrade a
    reader to a writer, which is where "database is locked" comes from.
    """

    name = "sqlite"
    serialise_writes = True
    ping_after = None  # a file database has no link to lose
    row_factory = SQLiteRecord
    now = staticmethod(sqlite_now)

    def __init__(self, config: DatabaseConfig, connect: Optional[Callable[[], Any]] = None) -> None:
        super().__init__(sqlite3, connect or self._open_file, "qmark", "sqlite")
        self.config = config
        self.path = config.database
        # A factory's connections are the factory's business: they get covet's settings, WAL included
        # (harmless on a memory database, which answers "memory").
        self.memory = connect is None and (self.path in (":memory:", "") or "mode=memory" in self.path)
        self.dialect.supports_returning = sqlite3.sqlite_version_info >= (3, 35, 0)
        self.rewrite_sqlite = True
        #: reads may run on the event loop's thread (covet.database.inline): files opened by covet only
        self.inline_reads = connect is None and not self.memory and float(config.inline_read_budget) > 0
        if self.memory:
            # A private :memory: database exists once per connection: every connection the pool
            # opened would see a different, empty database. So the pool holds one connection,
            # shared by turns (docs/database.md).
            self.max_connections = 1

    def _open_file(self) -> sqlite3.Connection:
        timeout = float(self.config.busy_timeout)
        uri = self.path.startswith("file:")
        return sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False,
                               uri=uri, cached_statements=256)

    def open(self, raw: RawConnection) -> None:
        try:
            conn = self._connect()
            conn.isolation_level = None
            if not self.memory:
                _journal_mode_wal(conn, float(self.config.busy_timeout))
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=%d" % int(float(self.config.busy_timeout) * 1000))
            conn.create_function("now", 0, self.now)
            conn.row_factory = self.row_factory
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc
        raw.dbapi = conn
        if raw.worker is not None:
            raw.worker.keep = conn

    def ping(self, raw: RawConnection) -> bool:
        return raw.dbapi is not None

    # Rows come out of sqlite3 as SQLiteRecord, built in C by its row_factory.
    def fetch_all(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> List[Record]:
        try:
            return raw.dbapi.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def fetch_one(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Optional[Record]:
        try:
            # No draining: SQLite makes every change of an INSERT/UPDATE/DELETE ... RETURNING at the
            # first step (sqlite.org/lang_returning.html), and the cursor resets when it is freed.
            return raw.dbapi.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def fetch_val(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Any:
        try:
            row = raw.dbapi.execute(sql, params).fetchone()
            return None if row is None else row[0]
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def cursor_batch(self, cur: Any, names: List[str], size: int) -> List[Record]:
        try:
            return cur.fetchmany(size)
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def _cursor(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Any:
        return raw.dbapi.execute(sql, params)

    def _end_statement(self, raw: RawConnection) -> None:
        pass  # autocommit outside BEGIN: SQLite commits each statement itself

    def execute_many(self, raw: RawConnection, sql: str, seq: List[Any]) -> int:
        try:
            return raw.dbapi.executemany(sql, seq).rowcount
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def split_script(self, script: str) -> List[str]:
        return split_statements(script, sqlite3.complete_statement)

    def execute_script(self, raw: RawConnection, statements: List[str]) -> None:
        # A script may hold its own BEGIN ... COMMIT (a dump does). One that fails before its
        # COMMIT, or has none, must not hand the next request a connection inside a transaction
        # (which then holds SQLite's write lock outside the gate): it is rolled back here, while
        # the script still holds the gate.
        try:
            super().execute_script(raw, statements)
        except BaseException:
            self._end_script_transaction(raw)
            raise
        if self._end_script_transaction(raw):
            raise ProgrammingError("the script began a transaction it did not end (BEGIN without COMMIT): "
                                   "it was rolled back")

    def _end_script_transaction(self, raw: RawConnection) -> bool:
        if raw.depth or not raw.dbapi.in_transaction:
            return False
        try:
            raw.dbapi.execute("ROLLBACK")
        except sqlite3.Error:
            raw.closed = True  # checkin discards it
        return True

    def begin(self, raw: RawConnection, readonly: bool) -> None:
        try:
            if raw.depth == 0:
                raw.dbapi.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
            else:
                raw.dbapi.execute("SAVEPOINT covet_%d" % raw.depth)
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc
        raw.depth += 1
        if raw.depth == 1:
            raw.readonly = readonly

    def commit(self, raw: RawConnection) -> None:
        try:
            if raw.depth == 1:
                raw.dbapi.execute("COMMIT")
            else:
                raw.dbapi.execute("RELEASE SAVEPOINT covet_%d" % (raw.depth - 1))
        except sqlite3.Error as exc:
            self._abandon(raw)
            raise translate_error(exc) from exc
        raw.depth -= 1

    def rollback(self, raw: RawConnection) -> None:
        try:
            if raw.depth <= 1:
                if raw.dbapi.in_transaction:
                    raw.dbapi.execute("ROLLBACK")
            else:
                raw.dbapi.execute("ROLLBACK TO SAVEPOINT covet_%d" % (raw.depth - 1))
                raw.dbapi.execute("RELEASE SAVEPOINT covet_%d" % (raw.depth - 1))
        except sqlite3.Error as exc:
            self._abandon(raw)
            raise translate_error(exc) from exc
        raw.depth = max(raw.depth - 1, 0)

    def _abandon(self, raw: RawConnection) -> None:
        try:
            if raw.dbapi.in_transaction:
                raw.dbapi.execute("ROLLBACK")
        except Exception:
            raw.closed = True
        raw.depth = 0


def backend_for(config: DatabaseConfig, module: Any = None, paramstyle: Optional[str] = None,
                connect_args: Optional[Dict[str, Any]] = None,
                connection_factory: Optional[Callable[[], Any]] = None) -> Backend:
    """The backend for a configuration: SQLite built in, or any DB-API module given by the caller.

    ``module`` (a module or its dotted name) plugs in another driver: it is called as
    ``module.connect(**connect_args)``, or ``connect_args`` default to the URL's parts
    (host, port, user, password, database). ``connection_factory`` replaces the connect call.
    """
    if isinstance(module, str):
        module = importlib.import_module(module)
    if module is None:
        if config.driver == "sqlite":
            return SQLiteBackend(config, connection_factory)
        if config.driver == "postgresql":
            # covet's own client (issue 16), found by name: the generic layer imports no driver.
            native = importlib.import_module("covet.database.postgres.backend")
            return native.PostgresBackend(config, connection_factory)  # type: ignore[no-any-return]
        raise InterfaceError(
            "no built-in driver for %r databases yet: pass module= a DB-API 2.0 module (docs/database.md)"
            % config.driver)
    if connection_factory is None:
        if connect_args is None:
            connect_args = {k: v for k, v in (("host", config.host), ("port", config.port), ("user", config.username),
                                              ("password", config.password), ("database", config.database))
                            if v is not None}
            connect_args.update(config.options)
        args = dict(connect_args)

        def connection_factory() -> Any:
            return module.connect(**args)
    if paramstyle is not None and paramstyle not in ("qmark", "format", "numeric", "named", "pyformat", "dollar"):
        raise ProgrammingError("unknown paramstyle %r" % paramstyle)
    return Backend(module, connection_factory, paramstyle, config.driver if config.driver != "sqlite" else None)
