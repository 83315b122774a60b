"""The pool's machinery, and the gate that lets one SQLite writer in at a time.

Both hand a scarce thing (a connection, the right to write) to whoever waits longest, and both
serve two kinds of waiter: a task on an event loop and a plain thread (``db.sync``, sync
handlers). So their state sits behind a ``threading.Lock``, and a freed item goes straight to the
first waiter: a future resolved on the waiter's own loop, or a thread woken by an event. Handing it
over directly, instead of putting it back and letting waiters race for it, is what makes the wait
fair and bounded (``acquire_timeout``).

A waiter that gives up (timeout, cancellation) between being chosen and being woken never loses
the item: delivery checks that the waiter still waits and otherwise hands the item on.

:class:`Checkout` hands out driver connections (``RawConnection``); the public
:class:`covet.database.pool.ConnectionPool` adds ``acquire()``, which wraps them in the query API.
"""
import asyncio
import collections
import threading
import time
import weakref
from typing import Any, Callable, Deque, List, Optional, Union

from .backend import Backend, RawConnection, backend_for
from .config import DEFAULT_ACQUIRE_TIMEOUT, DatabaseConfig, parse_url
from .errors import InterfaceError, OperationalError, PoolTimeout

__all__ = ["Checkout", "Gate"]


_running_loop = asyncio._get_running_loop  # public in asyncio.events.__all__; None off a loop's thread


def _expire(future: "asyncio.Future[Any]") -> None:
    if not future.done():
        future.set_exception(asyncio.TimeoutError())


async def _wait(future: "asyncio.Future[Any]", timeout: float) -> Any:
    # The future itself is awaited, with a timer that fails it at the deadline: a cancellation of
    # the waiting task cancels it (Task.cancel cancels the future awaited), the timer makes it
    # raise TimeoutError. Either way it is done, so a delivery still on its way finds it so and
    # passes the item on (_AsyncWaiter._deliver); a result delivered first stays on the future,
    # and the callers hand it back (_delivered). asyncio.wait_for did the same with an inner
    # future, a done callback and a second task wake-up: a fifth of a pooled query's cost when
    # every query waits its turn (benchmarks/README.md, "PostgreSQL").
    handle = future.get_loop().call_later(timeout, _expire, future)
    try:
        return await future
    finally:
        handle.cancel()


def _delivered(future: "asyncio.Future[Any]") -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


class _AsyncWaiter:
    __slots__ = ("loop", "future")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.future = self.loop.create_future()

    def give(self, item: Any, back: Callable[[Any], None]) -> bool:
        if self.future.done():
            return False
        loop = self.loop
        try:
            if loop is _running_loop():
                # Given from the waiter's own loop (a task's checkin): no wake-up of the loop
                # through its self-pipe (a send and a recv) is needed, it runs the delivery next.
                loop.call_soon(self._deliver, item, back)
            else:
                loop.call_soon_threadsafe(self._deliver, item, back)
        except RuntimeError:  # its loop has closed
            return False
        return True

    def _deliver(self, item: Any, back: Callable[[Any], None]) -> None:
        if self.future.done():  # timed out or cancelled after being chosen: pass the item on
            back(item)
        else:
            self.future.set_result(item)


class _SyncWaiter:
    __slots__ = ("event", "item", "gone")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.item: Any = None
        self.gone = False

    def give(self, item: Any, back: Callable[[Any], None]) -> bool:
        if self.gone:  # read and written under the owner's lock
            return False
        self.item = item
        self.event.set()
        return True


def _close_all(idle: List[RawConnection]) -> None:
    for raw in idle:
        raw.close()
    del idle[:]


class Gate:
    """A lock that async tasks and threads share, granted in arrival order.

    SQLite allows one writer per database; covet queues its writers here rather than letting
    them collide inside SQLite (where a losing writer sleeps and retries, or fails with
    "database is locked"). A released gate passes straight to the next waiter.
    """

    def __init__(self, what: str = "the write lock", timeout: float = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._waiters: Deque[Any] = collections.deque()
        self.what = what
        self.timeout = timeout

    @property
    def held(self) -> bool:
        return self._held

    def _timeout_error(self) -> PoolTimeout:
        return PoolTimeout("waited %.1f s for %s: a write transaction is running too long, or it waits for this "
                           "write (made outside it: from another thread, or a task with a fresh context)"
                           % (self.timeout, self.what))

    async def acquire(self) -> None:
        with self._lock:
            if not self._held:
                self._held = True
                return
            waiter = _AsyncWaiter()
            self._waiters.append(waiter)
        try:
            await _wait(waiter.future, self.timeout)
        except asyncio.CancelledError:
            if _delivered(waiter.future):  # granted in the same instant: pass it on, not lose it
                self.release()
            raise
        except asyncio.TimeoutError:
            if _delivered(waiter.future):
                self.release()
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise self._timeout_error() from None

    def acquire_sync(self) -> None:
        with self._lock:
            if not self._held:
                self._held = True
                return
            waiter = _SyncWaiter()
            self._waiters.append(waiter)
        if not waiter.event.wait(self.timeout):
            with self._lock:
                if not waiter.event.is_set():
                    waiter.gone = True
                    self._waiters.remove(waiter)
                    raise self._timeout_error()

    def release(self, _item: Any = None) -> None:
        """Let the next waiter in (safe from any thread)."""
        with self._lock:
            while self._waiters:
                if self._waiters.popleft().give(True, self.release):
                    return
            self._held = False


class Checkout:
    """Connections to one database, opened on demand up to ``max_connections``.

    ``min_connections`` are opened by :meth:`open` and kept; a connection idle longer than
    ``idle_timeout`` seconds is closed (down to ``min_connections``) when the pool next looks at
    it; connections above ``keep`` (by default ``max_connections``) are closed when returned while
    nobody waits. A request that finds every connection in use waits its turn, at most
    ``acquire_timeout`` seconds, then gets :class:`PoolTimeout` naming the fix. A connection that
    comes back from a cancelled or failed request is rolled back before anyone else gets it.

    ``connection_factory`` (a callable returning a DB-API connection, e.g. a ``sqlite3`` connection
    with your own settings) replaces the built-in connect.
    """

    def __init__(self, database_url: Optional[Union[str, DatabaseConfig]] = None, *, min_connections: int = 1,
                 max_connections: int = 10, idle_timeout: float = 300.0,
                 acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
                 connection_factory: Optional[Callable[[], Any]] = None, keep: Optional[int] = None,
                 backend: Optional[Backend] = None, module: Any = None, paramstyle: Optional[str] = None) -> None:
        if max_connections < 1 or min_connections < 0 or min_connections > max_connections:
            raise ValueError("a pool needs 0 <= min_connections <= max_connections and max_connections >= 1")
        if backend is None:
            if isinstance(database_url, DatabaseConfig):
                config = database_url
            elif database_url is None:
                if connection_factory is None:
                    raise ValueError("a connection pool needs a database_url or a connection_factory")
                config = DatabaseConfig(driver="sqlite", database="")
            else:
                config = parse_url(database_url)
            backend = backend_for(config, module=module, paramstyle=paramstyle, connection_factory=connection_factory)
        self.backend = backend
        cap = backend.max_connections
        self.max_connections = min(max_connections, cap) if cap else max_connections
        self.min_connections = min(min_connections, self.max_connections)
        self.keep = min(keep if keep is not None else self.max_connections, self.max_connections)
        self.idle_timeout = idle_timeout
        self.acquire_timeout = acquire_timeout
        #: SQLite's one-writer-at-a-time gate, shared by every connection of this pool (None elsewhere)
        self.gate: Optional[Gate] = Gate(timeout=acquire_timeout) if backend.serialise_writes else None
        self._lock = threading.Lock()
        self._idle: List[RawConnection] = []   # a stack: the warmest connection is reused first
        # A pool dropped without close() (a test's database, a script's) closes its idle
        # connections when collected: each one's worker thread would otherwise wait on its queue
        # until the process ends. Idle ones only, and on the pool rather than on each connection:
        # a busy connection can still be posted to while it is being collected (a task collected
        # inside a transaction posts its rollback from its coroutine's finaliser, which CPython
        # runs after weak-reference callbacks), so stopping its thread then lost the rollback.
        weakref.finalize(self, _close_all, self._idle)  # the list is never rebound, only emptied
        self._size = 0                          # open or opening
        self._waiters: Deque[Any] = collections.deque()
        self._closed = False

    # -- counts -----------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Connections open or being opened."""
        return self._size

    @property
    def idle(self) -> int:
        """Connections open and free."""
        return len(self._idle)

    @property
    def in_use(self) -> int:
        """Connections checked out."""
        return self._size - len(self._idle)

    # -- life -------------------------------------------------------------------------
    async def open(self) -> None:
        """Open ``min_connections`` now (errors in the URL or credentials show at start-up)."""
        self._closed = False
        raws = [await self.checkout() for _ in range(max(self.min_connections - self._size, 0))]
        for raw in raws:
            self.checkin(raw)

    def open_sync(self) -> None:
        self._closed = False
        raws = [self.checkout_sync() for _ in range(max(self.min_connections - self._size, 0))]
        for raw in raws:
            self.checkin(raw)

    async def close(self) -> None:
        """Close idle connections now and busy ones as they come back."""
        with self._lock:
            self._closed = True
            idle = self._idle[:]
            del self._idle[:]
            self._size -= len(idle)
        for raw in idle:
            await raw.aclose()  # an async driver's connection is closed before the loop may end

    def close_sync(self) -> None:
        with self._lock:
            self._closed = True
            idle = self._idle[:]
            del self._idle[:]
            self._size -= len(idle)
        for raw in idle:
            raw.close()

    # -- checkout / checkin ------------------------------------------------------------
    def _take_idle(self) -> Optional[RawConnection]:
        # Under self._lock. Connections idle past idle_timeout are closed while above the minimum.
        now = time.monotonic()
        # The coldest first: the stack's bottom. Looking only at the top, which a steady trickle of
        # requests keeps warm, left the connections opened by a burst open forever.
        while (len(self._idle) > 1 and self._size > self.min_connections
               and now - self._idle[0].last_used > self.idle_timeout):
            self._size -= 1
            self._idle.pop(0).close()
        while self._idle:
            raw = self._idle.pop()
            if raw.closed:
                self._size -= 1
                continue
            if now - raw.last_used > self.idle_timeout and self._size > self.min_connections:
                self._size -= 1
                raw.close()
                continue
            return raw
        return None

    def _no_connection(self) -> PoolTimeout:
        # The second cause is a deadlock that only the timeout ends: a transaction holding the last
        # connection awaits a query that, made outside it, waits for a connection.
        return PoolTimeout("no database connection free within %.1f s (%d in use): raise max_connections or "
                           "shorten transactions, and check that no transaction waits for a query made outside "
                           "it (from another thread, or a task with a fresh context)"
                           % (self.acquire_timeout, self.in_use))

    async def checkout(self) -> RawConnection:
        """A connection for the caller's sole use until :meth:`checkin`."""
        create = False
        with self._lock:
            if self._closed and self._size == 0 and not self._idle:
                self._closed = False  # a closed pool reopens on use (docs/database.md)
            raw = self._take_idle()
            if raw is None:
                if self._size < self.max_connections:
                    self._size += 1
                    create = True
                else:
                    waiter = _AsyncWaiter()
                    self._waiters.append(waiter)
        if raw is not None:
            if self._fresh(raw):
                return raw
            return await self._checked(raw)
        if create:
            return await self._create()
        try:
            raw = await _wait(waiter.future, self.acquire_timeout)
        except asyncio.CancelledError:
            if _delivered(waiter.future):  # handed over in the same instant: give it back
                self._hand_back(waiter.future.result())
            raise
        except asyncio.TimeoutError:
            if _delivered(waiter.future):
                self._hand_back(waiter.future.result())
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise self._no_connection() from None
        if raw is None:  # a slot came free, not a connection
            return await self._create()
        if self._fresh(raw):
            return raw
        return await self._checked(raw)

    def _fresh(self, raw: RawConnection) -> bool:
        # _checked's verdict without its coroutine, for the common case: alive, and used
        # recently enough to need no ping. Anything else goes through _checked.
        ping_after = self.backend.ping_after
        return raw.alive(_running_loop()) and (ping_after is None or time.monotonic() - raw.last_used <= ping_after)

    async def _create(self) -> RawConnection:
        raw = self.backend.raw_class(self.backend)
        try:
            await raw.run(asyncio.get_running_loop(), self.backend.open, raw)
        except BaseException:
            raw.close()
            self._forget()
            raise
        return raw

    async def _checked(self, raw: RawConnection) -> RawConnection:
        # Health check on checkout: a connection idle for longer than the backend's ping_after
        # makes a round trip first (a server may have dropped it); SQLite files need none. A
        # connection of an async driver whose event loop has ended is gone (covet.database.native).
        if not raw.alive(asyncio.get_running_loop()):
            raw.close()
            self._forget()
            return await self.checkout()
        ping_after = self.backend.ping_after
        if ping_after is not None and time.monotonic() - raw.last_used > ping_after:
            ok = await raw.run(asyncio.get_running_loop(), self.backend.ping, raw)
            if not ok:
                raw.close()
                self._forget()
                return await self.checkout()
        return raw

    def checkout_sync(self) -> RawConnection:
        create = False
        with self._lock:
            if self._closed and self._size == 0 and not self._idle:
                self._closed = False
            raw = self._take_idle()
            if raw is None:
                if self._size < self.max_connections:
                    self._size += 1
                    create = True
                else:
                    waiter = _SyncWaiter()
                    self._waiters.append(waiter)
        if raw is None and not create:
            if not waiter.event.wait(self.acquire_timeout):
                with self._lock:
                    if not waiter.event.is_set():
                        waiter.gone = True
                        self._waiters.remove(waiter)
                        raise self._no_connection()
            raw = waiter.item
            create = raw is None  # a slot came free, not a connection
        if create:
            raw = self.backend.raw_class(self.backend)
            try:
                raw.call(self.backend.open, raw)
            except BaseException:
                raw.closed = True
                self._forget()
                raise
            return raw
        ping_after = self.backend.ping_after
        if not raw.alive(None) or (ping_after is not None and time.monotonic() - raw.last_used > ping_after
                                   and not raw.call(self.backend.ping, raw)):
            raw.close()
            self._forget()
            return self.checkout_sync()
        return raw

    def _forget(self) -> None:
        """A connection is gone (failed to open, died, closed): its slot passes to the first
        waiter, who opens a new one (a waiter woken with None), or is freed."""
        with self._lock:
            while self._waiters:
                if self._waiters.popleft().give(None, self._hand_back):
                    return
            self._size -= 1

    def _hand_back(self, item: Optional[RawConnection]) -> None:
        # a waiter chosen for a connection (or a free slot) left before it was woken
        if item is None:
            self._forget()
        else:
            self.checkin(item)

    def checkin(self, raw: RawConnection) -> None:
        """Give a connection back (safe from any thread). It must hold no transaction."""
        if raw.depth or raw.closed or raw.dbapi is None:
            if raw.depth and not raw.closed:
                raw.post(self._reset_and_checkin, raw)
                return
            self._discard_and_wake(raw)
            return
        raw.last_used = time.monotonic()
        with self._lock:
            while self._waiters:
                if self._waiters.popleft().give(raw, self._hand_back):
                    return
            if self._closed or self._size > self.keep:
                self._size -= 1
                close = True
            else:
                self._idle.append(raw)
                close = False
        if close:
            raw.close()

    def _reset_and_checkin(self, raw: RawConnection) -> Any:
        try:
            # a connection already gone (its event loop ended) has nothing to roll back
            pending = None if raw.closed else self.backend.reset(raw)
        except BaseException:
            self._checkin_after_reset(raw)
            raise
        if pending is not None:  # an async driver's rollback: check in once it is over
            return self._finish_reset(pending, raw)
        self._checkin_after_reset(raw)
        return None

    async def _finish_reset(self, pending: Any, raw: RawConnection) -> None:
        try:
            await pending
        finally:
            self._checkin_after_reset(raw)

    def _checkin_after_reset(self, raw: RawConnection) -> None:
        gate, raw.holds_gate = raw.holds_gate, None
        if gate is not None:
            gate.release()
        self.checkin(raw)

    def release_after_pending(self, raw: RawConnection) -> None:
        """Give a connection back once the jobs already posted to its thread have run (a cancelled
        request's query may still be running): rolled back, its write gate released, then
        checked in."""
        raw.post(self._reset_and_checkin, raw)

    def _discard_and_wake(self, raw: RawConnection) -> None:
        raw.close()
        self._forget()

    def __repr__(self) -> str:
        return "<%s %s size=%d idle=%d max=%d>" % (type(self).__name__, self.backend.dialect.name, self._size, len(self._idle),
                                                               self.max_connections)
