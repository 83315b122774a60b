"""The connection pool: at most ``max_connections`` connections, handed over LIFO, bound to one event loop.

Callers beyond the bound wait (FIFO) for a connection to come back, up to ``pool_timeout``. After
a failed connect the pool fails fast for ``reconnect_backoff`` seconds instead of making every
caller wait for its own connect timeout against a dead server.

Example::

    pool = ConnectionPool(connect, "127.0.0.1:6379", pool_timeout=2.0, max_connections=4)
    conn = await pool.acquire()
    try:
        replies = await conn.roundtrip(payload, 1)
    except BaseException:
        pool.release(conn, False)   # not reusable: its state is unknown
        raise
    pool.release(conn, True)
"""
import asyncio
import collections
import time
from typing import Any, Awaitable, Callable, List, Optional

from ._checks import positive_int, seconds_or_none
from .connection import Connection
from .errors import RedisConnectionError, RedisError, RedisTimeoutError

__all__ = ["ConnectionPool", "DEFAULT_MAX_CONNECTIONS", "DEFAULT_RECONNECT_BACKOFF"]

# A burst of requests must not open a connection each: Redis's maxclients (10,000 by default) is
# shared by every process of every app using the server.
DEFAULT_MAX_CONNECTIONS = 10
# After a failed connect, fail fast for this long instead of making every
# caller wait for its own connect timeout against a dead server.
DEFAULT_RECONNECT_BACKOFF = 0.5


class ConnectionPool:
    """At most ``max_connections`` connections made by ``connect()``, reused LIFO.

    :param connect: opens one new connection (``open_connection`` with the client's settings).
    :param address: the server, as error messages name it.
    :param max_connections: bound on open connections, idle or lent.
    :param pool_timeout: seconds a caller waits for a free connection (None: no limit); the client
        passes its ``socket_timeout`` unless told otherwise.
    :param reconnect_backoff: after a failed connect, seconds during which new connects fail fast.
    """

    def __init__(self, connect: Callable[[], Awaitable[Connection]], address: str, *, pool_timeout: Optional[float],
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF) -> None:
        if not isinstance(reconnect_backoff, (int, float)) or isinstance(reconnect_backoff, bool) or reconnect_backoff < 0:
            raise ValueError("reconnect_backoff must be >= 0, got %r" % (reconnect_backoff,))
        self.connect = connect
        self.address = address
        self.max_connections = positive_int("max_connections", max_connections)
        self.pool_timeout = seconds_or_none("pool_timeout", pool_timeout)
        self.reconnect_backoff = float(reconnect_backoff)
        self.idle: List[Connection] = []
        self.size = 0  # open connections, idle or lent, plus ones being opened
        self.waiters: "collections.deque[asyncio.Future]" = collections.deque()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.down_until = 0.0
        self.last_error = ""
        self.epoch = 0  # bumped by close(): connections lent before it are closed on return

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            # Streams belong to the loop that opened them: start afresh.
            for conn in self.idle:
                conn.abort()
            self.idle = []
            self.size = 0
            self.waiters.clear()
            self.loop = loop
        return loop

    async def acquire(self) -> Connection:
        """An idle live connection, a new one while under the bound, or the next one released."""
        loop = self._bind()
        while True:
            while self.idle:
                conn = self.idle.pop()
                if conn.alive():
                    return conn
                conn.abort()
                self.size -= 1
            if self.size < self.max_connections:
                return await self._open()
            fut = loop.create_future()
            self.waiters.append(fut)
            timeout = self.pool_timeout
            handle = None
            if timeout is not None:
                handle = loop.call_later(timeout, _expire_waiter, fut, timeout)
            try:
                conn = await fut
            except BaseException:
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    # Handed a connection just as we were cancelled: pass it on.
                    self.release(fut.result(), True)
                else:
                    try:
                        self.waiters.remove(fut)
                    except ValueError:
                        pass
                raise
            finally:
                if handle is not None:
                    handle.cancel()
            if conn is not None:
                return conn
            # None: a slot was freed; loop to reuse or open one.

    async def _open(self) -> Connection:
        now = time.monotonic()
        if now < self.down_until:
            raise RedisConnectionError("Redis at %s is unavailable (%s); next attempt in %.2f s"
                                       % (self.address, self.last_error, self.down_until - now))
        self.size += 1
        try:
            conn = await self.connect()
        except BaseException as exc:
            self.size -= 1
            if isinstance(exc, RedisError):
                self.last_error = str(exc)
                self.down_until = time.monotonic() + self.reconnect_backoff
            self._wake(None)
            raise
        self.down_until = 0.0
        conn.epoch = self.epoch
        return conn

    def _wake(self, conn: Optional[Connection]) -> bool:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return True
        return False

    def release(self, conn: Connection, reusable: bool) -> None:
        """Give ``conn`` back: to the next waiter or the idle list when ``reusable``, else close it."""
        if conn.loop is not self.loop:
            conn.abort()
            return
        if reusable and conn.epoch == self.epoch and conn.alive():
            if not self._wake(conn):
                self.idle.append(conn)
            return
        conn.abort()
        self.size -= 1
        self._wake(None)

    async def close(self) -> None:
        """Close the idle connections; those lent out close when they come back."""
        self.epoch += 1
        idle, self.idle = self.idle, []
        self.size -= len(idle)
        for conn in idle:
            if conn.loop is asyncio.get_running_loop():
                await conn.close()
            else:
                conn.abort()


def _expire_waiter(fut: "asyncio.Future[Any]", timeout: float) -> None:
    if not fut.done():
        fut.set_exception(RedisTimeoutError("no free Redis connection within %g s" % timeout))
