"""A connection checked out of the pool, its transactions, and the sync twin of both.

:class:`Connection` is what ``pool.acquire()``, ``db.connection()`` and a transaction give: the
query methods on one driver connection. Writes on SQLite pass the database's write gate
(``covet.database.pool.Gate``): a write outside a transaction holds it for that one statement, a
write transaction from ``BEGIN IMMEDIATE`` to its end. Nested transactions are savepoints.

Cancellation never leaks: a task cancelled while its statement runs leaves the statement to finish
on the connection's thread, and the connection goes back to the pool only after a rollback posted
behind it (``ConnectionPool.release_after_pending``).

Example::

    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", 10, 1)
            await conn.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", 10, 2)
"""
import asyncio
from typing import Any, AsyncIterator, Awaitable, Iterable, List, NamedTuple, Optional, Sequence

from .backend import ITERATE_BATCH, Backend, Dialect, RawConnection
from .errors import InterfaceError, ProgrammingError
from .params import Translation
from .checkout import Checkout, Gate
from .._probes import finish
from .observe import DATABASE, observed, observed_call
from .records import Record

__all__ = ["Connection", "SyncConnection", "Transaction", "SyncTransaction", "ExecuteResult", "Acquire", "gated"]


class ExecuteResult(NamedTuple):
    """What ``execute`` reports: rows changed, and the new row's id where the driver knows it."""

    rowcount: int
    lastrowid: Optional[int]


def gated(gate: Gate, fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` and then open ``gate`` (on the connection's thread, so the gate opens when
    the statement is really over, even if the task that started it was cancelled)."""
    try:
        return fn(*args)
    finally:
        gate.release()


def _read_many() -> ProgrammingError:
    # sqlite3 refuses a query here; PostgreSQL would run it once per set and drop the rows
    return ProgrammingError("execute_many() runs a write statement once per parameter set; run a query with "
                            "fetch_all()")


def _readonly_write() -> ProgrammingError:
    return ProgrammingError("a write statement inside db.transaction(readonly=True): start the transaction "
                            "without readonly=True")


class Connection:
    """Query methods on one checked-out connection (async; see :class:`SyncConnection`)."""

    __slots__ = ("pool", "_raw", "backend", "gate", "dialect", "_dirty", "_over", "innermost")

    def __init__(self, pool: Checkout, raw: RawConnection, gate: Optional[Gate]) -> None:
        self.pool = pool
        self._raw: Optional[RawConnection] = raw
        self.backend = pool.backend
        self.gate = gate
        self.dialect: Dialect = pool.backend.dialect
        self._dirty = False  # jobs may still be pending on the thread (a cancelled await, a posted close)
        self._over: Optional[str] = None  # why it is refused until its transaction block ends (_ended_early)
        #: the innermost db.transaction() block open on it (DatabaseManager keeps it)
        self.innermost: Optional[Transaction] = None

    @property
    def raw(self) -> RawConnection:
        raw = self._raw
        if raw is None or self._over is not None:
            raise InterfaceError(self._over or "this connection went back to the pool: use it only inside its "
                                 "`async with` block (a task started inside the block must finish before it ends)")
        return raw

    @property
    def in_transaction(self) -> bool:
        raw = self._raw
        return (raw if raw is not None else self.raw).depth > 0

    async def _await(self, fut: Any) -> Any:
        try:
            return await fut
        except asyncio.CancelledError:
            self._dirty = True
            raise

    def _exec(self, fn: Any, t: Translation, params: Any) -> Awaitable[Any]:
        if DATABASE.observers:
            return observed(self.backend.probe_attributes, t.sql, self._statement(fn, t, params))
        return self._statement(fn, t, params)

    async def _statement(self, fn: Any, t: Translation, params: Any) -> Any:
        raw = self.raw
        loop = asyncio.get_running_loop()
        if t.is_write:
            if t.control is not None:
                raise ProgrammingError(t.control)
            if raw.depth:
                if raw.readonly:
                    raise _readonly_write()
            elif self.gate is not None:
                await self.gate.acquire()
                return await self._await(raw.run(loop, gated, self.gate, fn, raw, t.sql, params))
        return await self._await(raw.run(loop, fn, raw, t.sql, params))

    async def fetch_all(self, sql: str, *params: Any) -> List[Record]:
        """Every row of a query, as :class:`Record` mappings."""
        t = self.backend.translate(sql)
        return await self._exec(self.backend.fetch_all, t, t.bind(params))

    async def fetch_one(self, sql: str, *params: Any) -> Optional[Record]:
        """The first row, or None."""
        t = self.backend.translate(sql)
        return await self._exec(self.backend.fetch_one, t, t.bind(params))

    async def fetch_val(self, sql: str, *params: Any) -> Any:
        """The first column of the first row, or None."""
        t = self.backend.translate(sql)
        return await self._exec(self.backend.fetch_val, t, t.bind(params))

    async def execute(self, sql: str, *params: Any) -> ExecuteResult:
        """Run one statement; its row count and, for an INSERT on SQLite, the new rowid."""
        t = self.backend.translate(sql)
        return ExecuteResult(*await self._exec(self.backend.execute, t, t.bind(params)))

    async def execute_many(self, sql: str, seq_of_params: Iterable[Any]) -> int:
        """Run one statement once per parameter set (a tuple, or a mapping for named placeholders)."""
        t = self.backend.translate(sql)
        if not t.is_write:
            raise _read_many()
        bound = [t.bind(p if isinstance(p, (tuple, list)) else (p,)) for p in seq_of_params]
        return await self._exec(self.backend.execute_many, t, bound)

    async def execute_script(self, script: str) -> None:
        """Run several ``;``-separated statements (no parameters) inside the current transaction,
        if any: unlike ``sqlite3.executescript``, it never commits by itself."""
        if DATABASE.observers:
            return await observed(self.backend.probe_attributes, script, self._script(script))
        return await self._script(script)

    async def _script(self, script: str) -> None:
        statements = self.backend.script_statements(script)
        raw = self.raw
        loop = asyncio.get_running_loop()
        if self.gate is not None and raw.depth == 0:
            await self.gate.acquire()
            return await self._await(raw.run(loop, gated, self.gate, self.backend.execute_script, raw, statements))
        if raw.readonly and raw.depth:
            raise _readonly_write()
        return await self._await(raw.run(loop, self.backend.execute_script, raw, statements))

    async def iterate(self, sql: str, *params: Any, batch: int = ITERATE_BATCH) -> AsyncIterator[Record]:
        """Rows of a query as they come, ``batch`` at a time from the driver: for results too big
        to hold at once. Only for queries: writes go through ``execute``."""
        t = self.backend.translate(sql)
        if t.is_write:
            raise ProgrammingError("iterate() streams the rows of a query; run writes with execute()")
        bound = t.bind(params)
        raw = self.raw
        loop = asyncio.get_running_loop()
        backend = self.backend
        # The whole stream is one statement to the probe: from the cursor's opening to its last batch.
        finishers = DATABASE.start(backend.probe_attributes, t.sql) if DATABASE.observers else None
        error: Optional[BaseException] = None
        try:
            cur, names = await self._await(raw.run(loop, backend.cursor_open, raw, t.sql, bound))
        except BaseException as exc:
            finish(finishers, exc)
            raise
        try:
            while True:
                rows = await self._await(raw.run(loop, backend.cursor_batch, cur, names, batch))
                for row in rows:
                    yield row
                if len(rows) < batch:
                    break
        except GeneratorExit:
            raise  # the consumer stopped early: not a failure of the statement
        except BaseException as exc:
            error = exc
            raise
        finally:
            finish(finishers, error)
            # No await here: this may run while the generator is closed during cancellation.
            self._dirty = True
            raw.post_to_driver(backend.cursor_close, raw, cur)

    # seed/asyncpg names for the same methods
    fetch = fetch_all
    fetchrow = fetch_one
    fetchval = fetch_val
    executemany = execute_many

    def transaction(self, readonly: bool = False) -> "Transaction":
        """``async with conn.transaction():`` BEGIN (or a SAVEPOINT when nested) ... COMMIT, rolled
        back if the block raises."""
        return Transaction(self, readonly=readonly)

    async def _begin(self, readonly: bool) -> None:
        raw = self.raw
        loop = asyncio.get_running_loop()
        if raw.depth == 0 and not readonly and self.gate is not None and raw.holds_gate is None:
            await self.gate.acquire()
            raw.holds_gate = self.gate
        try:
            await self._await(raw.run(loop, self.backend.begin, raw, readonly))
        except asyncio.CancelledError:
            raise
        except BaseException:
            if raw.depth == 0 and raw.holds_gate is not None:
                gate, raw.holds_gate = raw.holds_gate, None
                gate.release()
            raise

    async def _end(self, commit: bool) -> None:
        raw = self.raw
        await self._await(raw.run(asyncio.get_running_loop(), self.backend.end, raw, commit))

    def _abort(self) -> None:
        # Cancelled: roll this level back behind whatever is still running, without awaiting.
        self._dirty = True
        self.raw.post_to_driver(self.backend.end, self.raw, False)

    def release(self) -> None:
        """Give the connection back to the pool (done by ``async with``)."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        if self._dirty or raw.depth:
            self.pool.release_after_pending(raw)
        else:
            self.pool.checkin(raw)


def _ended_early(conn: Any, how: str) -> None:
    # The outermost level ended before its block: what the block runs next would run outside any
    # transaction (each statement committed by itself), which code written inside a transaction
    # block does not expect: the "if overdrawn: await tx.rollback()" missing its return goes on to
    # credit the other account for good. So the connection refuses statements until the block
    # ends. A savepoint's early end leaves the enclosing transaction open: the block goes on in it.
    raw = conn._raw
    if raw is not None and raw.depth == 0:
        conn._over = ("this transaction was ended by tx.%s(): the rest of its block would run outside any "
                      "transaction, so it may not use the database; leave the block first" % how)


def _use_once(tx: Any) -> None:
    # A transaction object is one block. Entered a second time, its first block's end had already
    # marked it ended, so the second block's end committed nothing and its connection went back
    # rolled back: every write of the second block was silently lost.
    if tx._used:
        raise InterfaceError("this transaction has run its block already: call db.transaction() (or "
                             "conn.transaction()) again for each `async with` / `with` block")
    tx._used = True


class Transaction:
    """``async with conn.transaction() as tx``; ``await tx.rollback()`` ends it early.

    ``on_exit`` (used by ``db.transaction()``) runs after the transaction ends, to release what
    was acquired for it.
    """

    __slots__ = ("connection", "readonly", "_ended", "_on_enter", "_on_exit", "token", "nested", "_used", "parent",
                 "inner_token")

    def __init__(self, connection: Optional[Connection], readonly: bool = False,
                 on_enter: Any = None, on_exit: Any = None) -> None:
        self.connection = connection
        self.readonly = readonly
        self._ended = False
        self._on_enter = on_enter
        self._on_exit = on_exit
        self.token: Any = None
        self.nested = False
        self._used = False
        self.parent: Optional[Transaction] = None  # the block this one is nested in (DatabaseManager)
        self.inner_token: Any = None

    async def __aenter__(self) -> "Transaction":
        _use_once(self)
        if self._on_enter is not None:
            self.connection = await self._on_enter(self)
        try:
            await self.connection._begin(self.readonly)
        except BaseException:
            if self._on_exit is not None:
                self._on_exit(self, False)
            raise
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self.connection
        ok = True
        try:
            if self._ended:
                conn._over = None  # ended early: the connection serves again after the block
                return
            self._ended = True
            if exc_type is None:
                await conn._end(commit=True)
            elif issubclass(exc_type, Exception):
                await conn._end(commit=False)
            else:  # cancellation, KeyboardInterrupt: roll back without waiting
                ok = False
                conn._abort()
        except BaseException:
            ok = False
            raise
        finally:
            if self._on_exit is not None:
                self._on_exit(self, ok)

    async def commit(self) -> None:
        """Commit now; the block's end then does nothing. Inside the block, the database may then
        be used again only from an enclosing transaction's level (docs/database.md, "Edge cases")."""
        if not self._ended:
            self._ended = True
            try:
                await self.connection._end(commit=True)
            finally:
                _ended_early(self.connection, "commit")

    async def rollback(self) -> None:
        """Roll back now; the block's end then does nothing (see :meth:`commit`)."""
        if not self._ended:
            self._ended = True
            try:
                await self.connection._end(commit=False)
            finally:
                _ended_early(self.connection, "rollback")


class Acquire:
    """``async with pool.acquire() as conn``."""

    __slots__ = ("pool", "gate", "conn")

    def __init__(self, pool: Checkout, gate: Optional[Gate] = None) -> None:
        self.pool = pool
        self.gate = gate if gate is not None else getattr(pool, "gate", None)
        self.conn: Optional[Connection] = None

    async def __aenter__(self) -> Connection:
        raw = await self.pool.checkout()
        self.conn = Connection(self.pool, raw, self.gate)
        return self.conn

    async def __aexit__(self, *exc: Any) -> None:
        if self.conn is not None:
            self.conn.release()


class SyncConnection:
    """The same methods, run on the caller's thread (for ``def`` handlers, scripts, the CLI)."""

    __slots__ = ("pool", "_raw", "backend", "gate", "dialect", "_over")

    def __init__(self, pool: Checkout, raw: RawConnection, gate: Optional[Gate]) -> None:
        self.pool = pool
        self._raw: Optional[RawConnection] = raw
        self.backend = pool.backend
        self.gate = gate
        self.dialect = pool.backend.dialect
        self._over: Optional[str] = None

    @property
    def raw(self) -> RawConnection:
        raw = self._raw
        if raw is None or self._over is not None:
            raise InterfaceError(self._over or "this connection went back to the pool: use it only inside its "
                                 "`with` block")
        return raw

    def _exec(self, fn: Any, t: Translation, params: Any) -> Any:
        if DATABASE.observers:
            return observed_call(self.backend.probe_attributes, t.sql, self._statement, fn, t, params)
        return self._statement(fn, t, params)

    def _statement(self, fn: Any, t: Translation, params: Any) -> Any:
        raw = self.raw
        if t.is_write:
            if t.control is not None:
                raise ProgrammingError(t.control)
            if raw.depth:
                if raw.readonly:
                    raise _readonly_write()
            elif self.gate is not None:
                self.gate.acquire_sync()
                return gated(self.gate, fn, raw, t.sql, params)
        return raw.call(fn, raw, t.sql, params)

    def fetch_all(self, sql: str, *params: Any) -> List[Record]:
        t = self.backend.translate(sql)
        return self._exec(self.backend.fetch_all, t, t.bind(params))

    def fetch_one(self, sql: str, *params: Any) -> Optional[Record]:
        t = self.backend.translate(sql)
        return self._exec(self.backend.fetch_one, t, t.bind(params))

    def fetch_val(self, sql: str, *params: Any) -> Any:
        t = self.backend.translate(sql)
        return self._exec(self.backend.fetch_val, t, t.bind(params))

    def execute(self, sql: str, *params: Any) -> ExecuteResult:
        t = self.backend.translate(sql)
        return ExecuteResult(*self._exec(self.backend.execute, t, t.bind(params)))

    def execute_many(self, sql: str, seq_of_params: Iterable[Any]) -> int:
        t = self.backend.translate(sql)
        if not t.is_write:
            raise _read_many()
        bound = [t.bind(p if isinstance(p, (tuple, list)) else (p,)) for p in seq_of_params]
        return self._exec(self.backend.execute_many, t, bound)

    def execute_script(self, script: str) -> None:
        if DATABASE.observers:
            return observed_call(self.backend.probe_attributes, script, self._script, script)  # type: ignore[no-any-return]
        return self._script(script)

    def _script(self, script: str) -> None:
        statements = self.backend.script_statements(script)
        raw = self.raw
        if self.gate is not None and raw.depth == 0:
            self.gate.acquire_sync()
            return gated(self.gate, self.backend.execute_script, raw, statements)
        if raw.readonly and raw.depth:
            raise _readonly_write()
        raw.call(self.backend.execute_script, raw, statements)

    fetch = fetch_all
    fetchrow = fetch_one
    fetchval = fetch_val
    executemany = execute_many

    def transaction(self, readonly: bool = False) -> "SyncTransaction":
        return SyncTransaction(self, readonly=readonly)

    def _begin(self, readonly: bool) -> None:
        raw = self.raw
        if raw.depth == 0 and not readonly and self.gate is not None and raw.holds_gate is None:
            self.gate.acquire_sync()
            raw.holds_gate = self.gate
        try:
            raw.call(self.backend.begin, raw, readonly)
        except BaseException:
            if raw.depth == 0 and raw.holds_gate is not None:
                gate, raw.holds_gate = raw.holds_gate, None
                gate.release()
            raise

    def _end(self, commit: bool) -> None:
        raw = self.raw
        raw.call(self.backend.end, raw, commit)

    def release(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            self.pool.checkin(raw)  # checkin rolls back a transaction left open


class SyncTransaction:
    """``with conn.transaction():`` for sync code."""

    __slots__ = ("connection", "readonly", "_ended", "_on_enter", "_on_exit", "token", "nested", "_used")

    def __init__(self, connection: Optional[SyncConnection], readonly: bool = False,
                 on_enter: Any = None, on_exit: Any = None) -> None:
        self.connection = connection
        self.readonly = readonly
        self._ended = False
        self._on_enter = on_enter
        self._on_exit = on_exit
        self.token: Any = None
        self.nested = False
        self._used = False

    def __enter__(self) -> "SyncTransaction":
        _use_once(self)
        if self._on_enter is not None:
            self.connection = self._on_enter(self)
        try:
            self.connection._begin(self.readonly)
        except BaseException:
            if self._on_exit is not None:
                self._on_exit(self, False)
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if not self._ended:
                self._ended = True
                self.connection._end(commit=exc_type is None)
            else:
                self.connection._over = None
        finally:
            if self._on_exit is not None:
                self._on_exit(self, exc_type is None)

    def commit(self) -> None:
        if not self._ended:
            self._ended = True
            try:
                self.connection._end(commit=True)
            finally:
                _ended_early(self.connection, "commit")

    def rollback(self) -> None:
        if not self._ended:
            self._ended = True
            try:
                self.connection._end(commit=False)
            finally:
                _ended_early(self.connection, "rollback")
