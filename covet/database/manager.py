"""``DatabaseManager`` (also ``Database``): one database, its pool, and the API handlers use.

Every query method takes the SQL and its values (``*params``, or one mapping for ``:name``
placeholders) and runs without blocking the event loop. Inside ``async with db.transaction():``
the same methods, called from the same task, run on the transaction's connection: a contextvar
carries it, so code that only knows ``db`` joins the transaction it is called in. ``db.sync`` has
the same methods for plain ``def`` code, with a thread-local doing the same job.

Example::

    db = DatabaseManager("sqlite:///app.db")
    app.add_database(db)          # connect at start-up, disconnect at shutdown

    @app.post("/transfer")
    async def transfer(body: Transfer):
        async with db.transaction():
            await db.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", body.amount, body.source)
            await db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", body.amount, body.target)
        return {"ok": True}
"""
import asyncio
import contextvars
import logging
import os
import threading
from typing import Any, AsyncIterator, Callable, Dict, Iterable, List, Optional, Union

from .backend import ITERATE_BATCH, backend_for
from .config import DatabaseConfig, parse_url
from ..core.problems import problem_response
from .errors import IntegrityError, InterfaceError, ProgrammingError
from .connection import Connection, ExecuteResult, SyncConnection, SyncTransaction, Transaction, gated
from .inline import MOVE, InlineReads
from .observe import DATABASE, observed, observed_call, probe_attributes
from .pool import ConnectionPool
from .records import Record
from .session import Session

__all__ = ["DatabaseManager", "Database", "SyncDatabase", "default_database", "set_default_database"]

_default: List["DatabaseManager"] = []
_FOREVER = float("inf")
_running_loop = asyncio._get_running_loop  # public in asyncio.events.__all__; None off the loop's thread


_log = logging.getLogger("covet.database")


def integrity_conflict(request: Any, exc: IntegrityError) -> Any:
    """The answer to a constraint violation no handler caught: 409 problem+json.

    A request that breaks a unique, foreign-key, not-null or check constraint (a second account
    with the same e-mail) is a conflict with the stored data, not a server failure. The
    database's own message names tables and columns, so it goes to the log, not to the client.
    ``app.add_exception_handler(IntegrityError, ...)`` replaces this.
    """
    _log.info("constraint violation in %s %s: %s", request.method, request.url.path, exc)
    return problem_response(request, 409, "the request conflicts with existing data (a uniqueness or "
                                          "reference constraint refused it)")


def set_default_database(db: "DatabaseManager") -> None:
    """Make ``db`` the one :func:`default_database` returns (``app.add_database`` does this)."""
    _default[:] = [db]


def default_database() -> "DatabaseManager":
    """The database that ``migrate()``, ``TestDatabase`` helpers and the CLI use when given none: the
    one most recently given to ``app.add_database()`` or created, else one made from the
    ``DATABASE_URL`` environment variable."""
    if _default:
        return _default[0]
    url = os.environ.get("DATABASE_URL")
    if url:
        return DatabaseManager(url)
    raise LookupError("no database: create a DatabaseManager (or app.add_database(db)), or set DATABASE_URL")


class DatabaseManager:
    """A database: a URL or :class:`DatabaseConfig`, a pool, and the query methods.

    ``module=`` plugs in any DB-API 2.0 driver (docs/database.md); ``connection_factory=`` opens
    connections your way. Connections open on first use or at :meth:`connect`.
    """

    def __init__(self, url: Union[str, DatabaseConfig, None] = None, *, module: Any = None,
                 paramstyle: Optional[str] = None, connect_args: Optional[Dict[str, Any]] = None,
                 connection_factory: Optional[Callable[[], Any]] = None, **settings: Any) -> None:
        if url is None:
            url = os.environ.get("DATABASE_URL")
            if url is None:
                raise ValueError("DatabaseManager needs a URL (sqlite:///app.db) or a DatabaseConfig")
        if isinstance(url, DatabaseConfig):
            config = DatabaseConfig(**{**url.__dict__, **settings}) if settings else url
        else:
            config = parse_url(url, **settings)
        self.config = config
        self.backend = backend_for(config, module=module, paramstyle=paramstyle, connect_args=connect_args,
                                   connection_factory=connection_factory)
        self.dialect = self.backend.dialect
        self.backend.probe_attributes = probe_attributes(
            config, self.backend.name if self.backend.name in ("sqlite", "postgresql") else "other_sql")
        self.pool = ConnectionPool(
            backend=self.backend, min_connections=min(config.min_connections, config.max_connections),
            max_connections=config.max_connections, keep=config.pool_size, idle_timeout=config.idle_timeout,
            acquire_timeout=config.pool_timeout)
        self.gate = self.pool.gate
        self._inline = (InlineReads(self.backend, float(config.inline_read_budget))
                        if getattr(self.backend, "inline_reads", False) else None)
        self._current: "contextvars.ContextVar[Optional[Connection]]" = contextvars.ContextVar(
            "covet_db_connection", default=None)
        # The innermost db.transaction() block this context is in: tasks started inside a
        # transaction share its connection, and must not slip statements into a sibling's savepoint.
        self._innermost: "contextvars.ContextVar[Optional[Transaction]]" = contextvars.ContextVar(
            "covet_db_transaction", default=None)
        self.sync = SyncDatabase(self)
        self.connected = False
        set_default_database(self)

    @property
    def url(self) -> str:
        """The database's URL, password hidden."""
        return self.config.url

    # -- life -----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the pool's first connections (so a wrong URL fails at start-up). Idempotent."""
        if not self.connected:
            await self.pool.open()
            self.connected = True

    async def disconnect(self) -> None:
        """Close every connection (busy ones as they come back). Idempotent; using the database
        again reopens it."""
        await self.pool.close()
        if self._inline is not None:
            self._inline.close()
        self.connected = False

    def attach(self, app: Any) -> None:
        """Called by ``app.add_database(db)``: this becomes the default database, and a constraint
        violation that no handler catches answers 409 (see :func:`integrity_conflict`)."""
        set_default_database(self)
        handlers = getattr(app, "exception_handlers", None)
        if handlers is None or IntegrityError not in handlers:
            app.add_exception_handler(IntegrityError, integrity_conflict)

    async def __aenter__(self) -> "DatabaseManager":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.disconnect()

    # -- one statement ----------------------------------------------------------------------
    async def _once(self, fn: Any, sql: str, params: Any) -> Any:
        t = self.backend.translate(sql)
        bound = t.bind(params)
        gate = None
        if t.is_write:
            if t.control is not None:
                raise ProgrammingError(t.control)
            gate = self.gate
        if gate is not None:
            await gate.acquire()  # before the connection: a writer waiting its turn holds no connection
        try:
            raw = await self.pool.checkout()
        except BaseException:
            if gate is not None:
                gate.release()
            raise
        loop = asyncio.get_running_loop()
        if gate is not None:
            fut = raw.run(loop, gated, gate, fn, raw, t.sql, bound)
        else:
            fut = raw.run(loop, fn, raw, t.sql, bound)
        try:
            result = await fut
        except asyncio.CancelledError:
            self.pool.release_after_pending(raw)
            raise
        except BaseException:
            self.pool.checkin(raw)
            raise
        self.pool.checkin(raw)
        return result

    async def _read(self, fn: Any, sql: str, params: Any) -> Any:
        # A read outside a transaction: inline on the loop's thread when it may be
        # (covet.database.inline), else one hop to a connection's thread.
        inline = self._inline
        if inline is not None:
            t = self.backend.translate(sql)
            if not t.is_write and t.sql not in inline.slow:
                raw = inline.current()
                if raw is None:
                    # None again when a disconnect() closed it while it opened: then the pool.
                    raw = inline.adopt(await asyncio.get_running_loop().run_in_executor(None, inline.open))
                if raw is not None:
                    result = inline.run(raw, fn, t.sql, t.bind(params))
                    if result is not MOVE:
                        return result
        return await self._once(fn, sql, params)

    async def fetch_all(self, sql: str, *params: Any) -> List[Record]:
        """Every row of a query: ``await db.fetch_all("SELECT * FROM users WHERE age > ?", 18)``."""
        conn = self._current.get()
        if conn is not None:
            return await self._joined().fetch_all(sql, *params)
        if DATABASE.observers:
            return await observed(self.backend.probe_attributes, sql, self._read(self.backend.fetch_all, sql, params))
        return await self._read(self.backend.fetch_all, sql, params)

    async def fetch_one(self, sql: str, *params: Any) -> Optional[Record]:
        """The first row, or None."""
        # _read written out for the commonest read (a row by key): no further coroutine is
        # created when it runs on the loop's thread (covet.database.inline).
        conn = self._current.get()
        if conn is not None:
            return await self._joined().fetch_one(sql, *params)
        if DATABASE.observers:
            return await observed(self.backend.probe_attributes, sql, self._read(self.backend.fetch_one, sql, params))
        inline = self._inline
        if inline is not None:
            raw = inline.current()
            if raw is not None:
                backend = self.backend
                t = backend.translate(sql)
                if not t.is_write and t.sql not in inline.slow:
                    result = inline.fetch_one(raw, t.sql, params if t.passthrough else t.bind(params))
                    if result is not MOVE:
                        return result
                    return await self._once(backend.fetch_one, sql, params)
        return await self._read(self.backend.fetch_one, sql, params)

    async def fetch_val(self, sql: str, *params: Any) -> Any:
        """The first column of the first row, or None."""
        conn = self._current.get()
        if conn is not None:
            return await self._joined().fetch_val(sql, *params)
        if DATABASE.observers:
            return await observed(self.backend.probe_attributes, sql, self._read(self.backend.fetch_val, sql, params))
        return await self._read(self.backend.fetch_val, sql, params)

    async def execute(self, sql: str, *params: Any) -> ExecuteResult:
        """Run one statement: ``(rowcount, lastrowid)``."""
        conn = self._joined()
        if conn is not None:
            return await conn.execute(sql, *params)
        if DATABASE.observers:
            return ExecuteResult(*await observed(self.backend.probe_attributes, sql,
                                                 self._once(self.backend.execute, sql, params)))
        return ExecuteResult(*await self._once(self.backend.execute, sql, params))

    async def execute_many(self, sql: str, seq_of_params: Iterable[Any]) -> int:
        """One statement per parameter set, in one round trip; the total row count."""
        async with self.connection() as conn:
            return await conn.execute_many(sql, seq_of_params)

    async def execute_script(self, script: str) -> None:
        """Several statements, no parameters; inside the current transaction if there is one."""
        async with self.connection() as conn:
            await conn.execute_script(script)

    async def iterate(self, sql: str, *params: Any, batch: int = ITERATE_BATCH) -> AsyncIterator[Record]:
        """``async for row in db.iterate(sql)``: rows as they come, never all in memory."""
        async with self.connection() as conn:
            rows = conn.iterate(sql, *params, batch=batch)
            try:
                async for row in rows:
                    yield row
            finally:
                await rows.aclose()

    # -- held connections and transactions ---------------------------------------------------
    async def health_check(self) -> Dict[str, Any]:
        """A health check for ``HealthChecker``: ``SELECT 1`` through the pool, with the pool's size.

        Example::

            health.add_check("database", db.health_check, timeout=2.0)
        """
        value = await self.fetch_val("SELECT 1")
        if value != 1:
            return {"status": "unhealthy", "error": "SELECT 1 returned %r" % (value,)}
        return {"status": "healthy", "system": self.backend.probe_attributes.get("db.system.name"),
                "pool_size": self.pool.size, "pool_idle": self.pool.idle}

    def connection(self) -> "_Held":
        """``async with db.connection() as conn``: one connection for the block; ``db``'s methods
        called in the block (same task) use it too."""
        return _Held(self)

    def transaction(self, readonly: bool = False) -> Transaction:
        """``async with db.transaction():`` commit at the end, roll back on an exception or
        cancellation; nested blocks are savepoints. On SQLite a write transaction holds the
        database's write gate from BEGIN IMMEDIATE to its end; ``readonly=True`` takes none."""
        return Transaction(None, readonly, on_enter=self._tx_enter, on_exit=self._tx_exit)

    def _joined(self) -> Optional[Connection]:
        """The connection of the transaction or ``connection()`` block this context is in, if any.

        Tasks started inside a transaction share its connection, which is safe for statements:
        they run one after another on its thread. But a nested block's SAVEPOINT covers every
        statement on the connection, whichever task sent it: a sibling's statements would land
        in it and be undone with it, and two siblings' savepoints would interleave (one's
        ROLLBACK TO undoing the other's). So while a task is in a nested block, the others are
        refused rather than mixed in.
        """
        conn = self._current.get()
        if conn is not None and conn.innermost is not self._innermost.get():
            conn.raw  # noqa: B018  a connection gone back to the pool says so first (a task outlived its block)
            raise InterfaceError(
                "another task is inside a nested db.transaction() block on this transaction's connection, and "
                "its savepoint would take in (and could undo) this statement: finish the nested block before "
                "other tasks use the transaction, or give each task its own transaction")
        return conn

    async def _tx_enter(self, tx: Transaction) -> Connection:
        conn = self._joined()
        if conn is not None:
            tx.nested = True
        else:
            gate = None if tx.readonly else self.gate
            if gate is not None:
                await gate.acquire()
            try:
                raw = await self.pool.checkout()
            except BaseException:
                if gate is not None:
                    gate.release()
                raise
            raw.holds_gate = gate
            conn = Connection(self.pool, raw, self.gate)
            tx.token = self._current.set(conn)
        tx.parent, conn.innermost = conn.innermost, tx
        tx.inner_token = self._innermost.set(tx)
        return conn

    def _tx_exit(self, tx: Transaction, ok: bool) -> None:
        tx.connection.innermost = tx.parent
        try:
            self._innermost.reset(tx.inner_token)
        except ValueError:  # ended in another context than it began in
            self._innermost.set(tx.parent)
        if tx.nested:
            return
        _reset(self._current, tx.token)
        tx.connection.release()

    # -- the unit of work --------------------------------------------------------------------
    async def session(self) -> AsyncIterator[Session]:
        """A dependency: ``db = Depends(database.session)`` gives a handler a :class:`Session`;
        what it did not commit is rolled back when the request ends."""
        session = Session(self)
        try:
            yield session
        finally:
            await session.close()

    def session_scope(self) -> "_Scope":
        """``async with db.session_scope() as session``: a :class:`Session` outside a request."""
        return _Scope(self)

    def __repr__(self) -> str:
        return "<DatabaseManager %s>" % self.url


#: The seed's second name for the same class.
Database = DatabaseManager


def _reset(var: Any, token: Any) -> None:
    try:
        var.reset(token)
    except ValueError:  # left in another context (a task spawned inside the block): clear it
        var.set(None)


class _Held:
    __slots__ = ("db", "conn", "token", "outer")

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
        self.conn: Optional[Connection] = None
        self.token: Any = None
        self.outer = False

    async def __aenter__(self) -> Connection:
        current = self.db._joined()
        if current is not None:  # already in a transaction or held block: join it
            self.outer = True
            return current
        raw = await self.db.pool.checkout()
        self.conn = Connection(self.db.pool, raw, self.db.gate)
        self.token = self.db._current.set(self.conn)
        return self.conn

    async def __aexit__(self, *exc: Any) -> None:
        if self.outer:
            return
        _reset(self.db._current, self.token)
        self.conn.release()


class _Scope:
    __slots__ = ("db", "session")

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
        self.session: Optional[Session] = None

    async def __aenter__(self) -> Session:
        self.session = Session(self.db)
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        await self.session.close()


class SyncDatabase:
    """``db.sync``: the query methods for plain ``def`` code, on the calling thread.

    Never call it from the event loop's thread (an ``async def`` handler): that would stall every
    request while the query runs, so it raises :class:`InterfaceError` there instead.
    """

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
        self._local = threading.local()

    def connect(self) -> None:
        if not self.db.connected:
            self.db.pool.open_sync()
            self.db.connected = True

    def disconnect(self) -> None:
        self.db.pool.close_sync()
        if self.db._inline is not None:
            self.db._inline.close()
        self.db.connected = False

    @staticmethod
    def _guard() -> None:
        if _running_loop() is not None:
            raise InterfaceError("db.sync called on the event loop's thread: in an async handler use `await db.%s`; "
                                 "db.sync is for plain def handlers and scripts" % "fetch_all")

    def _once(self, fn: Any, sql: str, params: Any) -> Any:
        # One statement outside a transaction: the hot path of sync handlers, kept flat.
        db = self.db
        t = db.backend.translate(sql)
        bound = t.bind(params)
        self._guard()
        gate = None
        if t.is_write:
            if t.control is not None:
                raise ProgrammingError(t.control)
            gate = db.gate
        if gate is not None:
            gate.acquire_sync()
        try:
            raw = db.pool.checkout_sync()
            try:
                return raw.call(fn, raw, t.sql, bound)
            finally:
                db.pool.checkin(raw)
        finally:
            if gate is not None:
                gate.release()

    def _read(self, fn: Any, sql: str, params: Any) -> Any:
        # A read outside a transaction: on this thread's own read connection when there is one
        # (covet.database.inline), else through the pool.
        inline = self.db._inline
        if inline is not None:
            t = self.db.backend.translate(sql)
            if not t.is_write:
                self._guard()
                raw = inline.current()
                if raw is None:
                    raw = inline.adopt(inline.open())
                if raw is not None:
                    result = inline.run(raw, fn, t.sql, t.bind(params), _FOREVER)
                    if result is not MOVE:
                        return result
        return self._once(fn, sql, params)

    def fetch_all(self, sql: str, *params: Any) -> List[Record]:
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            return conn.fetch_all(sql, *params)
        if DATABASE.observers:
            return observed_call(self.db.backend.probe_attributes, sql, self._read, self.db.backend.fetch_all, sql,
                                 params)
        return self._read(self.db.backend.fetch_all, sql, params)

    def fetch_one(self, sql: str, *params: Any) -> Optional[Record]:
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            return conn.fetch_one(sql, *params)
        db = self.db
        if DATABASE.observers:
            return observed_call(db.backend.probe_attributes, sql, self._read, db.backend.fetch_one, sql, params)
        inline = db._inline
        if inline is not None:  # _read written out for the commonest read (a row by key)
            t = db.backend.translate(sql)
            if not t.is_write:
                if _running_loop() is not None:
                    self._guard()
                raw = inline.current()
                if raw is None:
                    raw = inline.adopt(inline.open())
                if raw is not None:
                    result = inline.fetch_one(raw, t.sql, params if t.passthrough else t.bind(params), _FOREVER)
                    if result is not MOVE:
                        return result
                return self._once(db.backend.fetch_one, sql, params)
        return self._read(db.backend.fetch_one, sql, params)

    def fetch_val(self, sql: str, *params: Any) -> Any:
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            return conn.fetch_val(sql, *params)
        if DATABASE.observers:
            return observed_call(self.db.backend.probe_attributes, sql, self._read, self.db.backend.fetch_val, sql,
                                 params)
        return self._read(self.db.backend.fetch_val, sql, params)

    def execute(self, sql: str, *params: Any) -> ExecuteResult:
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            return conn.execute(sql, *params)
        if DATABASE.observers:
            return ExecuteResult(*observed_call(self.db.backend.probe_attributes, sql, self._once,
                                                self.db.backend.execute, sql, params))
        return ExecuteResult(*self._once(self.db.backend.execute, sql, params))

    def execute_many(self, sql: str, seq_of_params: Iterable[Any]) -> int:
        conn = self._local.__dict__.get("conn")
        if conn is None:
            self._guard()
            raw = self.db.pool.checkout_sync()
            conn = SyncConnection(self.db.pool, raw, self.db.gate)
            try:
                return conn.execute_many(sql, seq_of_params)
            finally:
                conn.release()
        return conn.execute_many(sql, seq_of_params)

    def execute_script(self, script: str) -> None:
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            return conn.execute_script(script)
        self._guard()
        raw = self.db.pool.checkout_sync()
        conn = SyncConnection(self.db.pool, raw, self.db.gate)
        try:
            conn.execute_script(script)
        finally:
            conn.release()

    def transaction(self, readonly: bool = False) -> SyncTransaction:
        """``with db.sync.transaction():`` as :meth:`DatabaseManager.transaction`."""
        return SyncTransaction(None, readonly, on_enter=self._tx_enter, on_exit=self._tx_exit)

    def _tx_enter(self, tx: SyncTransaction) -> SyncConnection:
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            tx.nested = True
            return conn
        self._guard()
        gate = None if tx.readonly else self.db.gate
        if gate is not None:
            gate.acquire_sync()
        try:
            raw = self.db.pool.checkout_sync()
        except BaseException:
            if gate is not None:
                gate.release()
            raise
        raw.holds_gate = gate
        conn = SyncConnection(self.db.pool, raw, self.db.gate)
        self._local.conn = conn
        return conn

    def _tx_exit(self, tx: SyncTransaction, ok: bool) -> None:
        if tx.nested:
            return
        self._local.conn = None
        tx.connection.release()
