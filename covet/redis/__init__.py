"""A small Redis client (RESP2) on asyncio streams, standard library only.

Layers, bottom up:

- ``pack_command`` turns arguments into RESP bytes; ``RespParser`` is a
  sans-IO reply reader (bytes in, replies out) with named limits, so a hostile
  or broken server cannot make it allocate without bound.
- ``Redis`` owns a bounded connection pool, connect and command timeouts,
  AUTH/SELECT on every new connection, a retry on a fresh connection when a
  pooled one turns out to be dead, pipelining, and ``Script`` (EVALSHA with an
  EVAL fallback on NOSCRIPT).
- ``BlockingRedis`` gives plain-``def`` code (and the sync faces of the cache
  and the rate limiter) the same client on a private event-loop thread.

Replies: simple strings are ``str`` ("OK", "PONG"), bulk strings ``bytes``
(``None`` for a nil bulk), integers ``int``, arrays ``list`` (``None`` for a
nil array). An error reply raises ``ReplyError``; inside a pipeline's or an
array's results it is returned as a ``ReplyError`` instance in place.

A ``Redis`` object serves one event loop at a time (the pool rebinds itself
when it is first used from a different loop) and is not thread-safe; close it
with ``await redis.close()`` before its loop ends.

Example::

    redis = Redis.from_url("redis://:secret@127.0.0.1:6379/0")
    await redis.set("greeting", "hello", ex=60)
    assert await redis.get("greeting") == b"hello"
    await redis.close()
"""
import asyncio
import collections
import hashlib
import re
import ssl as _ssl
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "Redis",
    "Pipeline",
    "Script",
    "BlockingRedis",
    "RespParser",
    "pack_command",
    "NEED_DATA",
    "RedisError",
    "RedisConnectionError",
    "RedisTimeoutError",
    "ReplyError",
    "ProtocolError",
    "DEFAULT_MAX_BULK_LEN",
    "DEFAULT_MAX_ARRAY_LEN",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINE",
]

# Redis's own `proto-max-bulk-len` default: no legitimate reply carries a
# larger bulk string, so a longer length header is a broken or hostile server.
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
# hiredis's REDIS_READER_MAX_ARRAY_ELEMENTS. The parser never preallocates an
# array, so memory follows the bytes actually received; the bound only stops
# absurd headers early.
DEFAULT_MAX_ARRAY_LEN = 2 ** 32 - 1
# Nesting of arrays in one reply. Real replies (XREAD, EVAL tables) stay well
# under 10 levels.
DEFAULT_MAX_DEPTH = 32
# Longest status, error or integer line. A server that sends a line without
# CRLF cannot grow our buffer past this.
DEFAULT_MAX_LINE = 64 * 1024

DEFAULT_MAX_CONNECTIONS = 10
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_SOCKET_TIMEOUT = 2.0
# After a failed connect, fail fast for this long instead of making every
# caller wait for its own connect timeout against a dead server.
DEFAULT_RECONNECT_BACKOFF = 0.5

_READ_SIZE = 65536
_UNSET: Any = object()


class RedisError(Exception):
    """Base class of every error this client raises."""


class RedisConnectionError(RedisError):
    """The server could not be reached, or the connection broke mid-command."""


class RedisTimeoutError(RedisError):
    """Connecting, waiting for a pooled connection, or a reply took too long."""


class ProtocolError(RedisConnectionError):
    """The server sent bytes that are not valid RESP2 (or exceed a limit); the connection is dropped."""


class ReplyError(RedisError):
    """An error reply from the server (``-ERR ...``, ``-WRONGTYPE ...``, ``-NOSCRIPT ...``)."""

    @property
    def code(self) -> str:
        """The error's first word, e.g. ``"ERR"`` or ``"NOSCRIPT"``."""
        return str(self.args[0]).split(" ", 1)[0] if self.args else ""


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by ``RespParser.gets()`` when the buffer holds no complete reply.
NEED_DATA = _NeedData()

# RESP2 wire numbers are matched before int() sees them (no "+1", " 1",
# "1_0", Unicode digits or 4,300-digit strings: CVE-2020-10735).
_INT_RE = re.compile(rb"0|-?[1-9][0-9]{0,18}")
_LEN_RE = re.compile(rb"-1|0|[1-9][0-9]{0,18}")
_INT64_MIN = -(2 ** 63)
_INT64_MAX = 2 ** 63 - 1

_PLUS, _MINUS, _COLON, _DOLLAR, _STAR = 43, 45, 58, 36, 42


class RespParser:
    """Sans-IO RESP2 reply reader: ``feed(bytes)``, then ``gets()`` until it returns ``NEED_DATA``.

    :param max_bulk_len: longest bulk string accepted (default 512 MB, Redis's proto-max-bulk-len).
    :param max_array_len: most elements one array header may announce.
    :param max_depth: deepest nesting of arrays.
    :param max_line: longest simple-string, error or integer line.

    A violation raises ``ProtocolError`` and the parser refuses further input.

    Example::

        p = RespParser()
        p.feed(b"+OK\\r\\n$3\\r\\nabc\\r\\n")
        assert p.gets() == "OK" and p.gets() == b"abc" and p.gets() is NEED_DATA
    """

    __slots__ = ("_buf", "_pos", "_stack", "_bulk", "_failed", "max_bulk_len", "max_array_len", "max_depth", "max_line")

    def __init__(
        self,
        max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
        max_array_len: int = DEFAULT_MAX_ARRAY_LEN,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> None:
        for name, value in (("max_bulk_len", max_bulk_len), ("max_array_len", max_array_len),
                            ("max_depth", max_depth), ("max_line", max_line)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError("%s must be a positive integer, got %r" % (name, value))
        self.max_bulk_len = max_bulk_len
        self.max_array_len = max_array_len
        self.max_depth = max_depth
        self.max_line = max_line
        self._buf = bytearray()
        self._pos = 0
        self._stack: List[list] = []  # [items, still expected] per open array
        self._bulk = -1  # body length of a bulk string whose header was read
        self._failed: Optional[str] = None

    def feed(self, data: bytes) -> None:
        """Append bytes received from the server."""
        if self._failed is not None:
            raise ProtocolError(self._failed)
        if self._pos:
            # bytearray deletes from the front in O(1) amortised time.
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as part of a reply."""
        return len(self._buf) - self._pos

    def _fail(self, message: str) -> ProtocolError:
        self._failed = message
        self._buf = bytearray()
        self._pos = 0
        self._stack = []
        return ProtocolError(message)

    def _number(self, regex: Any, start: int, end: int, what: str) -> int:
        buf = self._buf
        if regex.fullmatch(buf, start, end) is None:
            raise self._fail("invalid %s %r" % (what, bytes(buf[start:end][:40])))
        return int(buf[start:end])

    def gets(self) -> Any:
        """Return the next complete reply, or ``NEED_DATA``."""
        if self._failed is not None:
            raise ProtocolError(self._failed)
        buf = self._buf
        pos = self._pos
        stack = self._stack
        while True:
            if self._bulk >= 0:
                end = pos + self._bulk
                if len(buf) < end + 2:
                    self._pos = pos
                    return NEED_DATA
                if buf[end:end + 2] != b"\r\n":
                    raise self._fail("bulk string not followed by CRLF")
                value: Any = bytes(buf[pos:end])
                pos = end + 2
                self._bulk = -1
            else:
                limit = pos + self.max_line + 3
                eol = buf.find(b"\r\n", pos, limit)
                if eol < 0:
                    if len(buf) >= limit:
                        raise self._fail("reply line longer than max_line=%d bytes" % self.max_line)
                    self._pos = pos
                    return NEED_DATA
                kind = buf[pos]
                start = pos + 1
                pos = eol + 2
                if kind == _PLUS:
                    value = buf[start:eol].decode("utf-8", "replace")
                elif kind == _MINUS:
                    value = ReplyError(buf[start:eol].decode("utf-8", "replace"))
                elif kind == _COLON:
                    value = self._number(_INT_RE, start, eol, "integer reply")
                    if not _INT64_MIN <= value <= _INT64_MAX:
                        raise self._fail("integer reply out of the signed 64-bit range")
                elif kind == _DOLLAR:
                    n = self._number(_LEN_RE, start, eol, "bulk length")
                    if n > self.max_bulk_len:
                        raise self._fail("bulk length %d exceeds max_bulk_len=%d" % (n, self.max_bulk_len))
                    if n >= 0:
                        self._bulk = n
                        continue
                    value = None
                elif kind == _STAR:
                    n = self._number(_LEN_RE, start, eol, "array length")
                    if n > self.max_array_len:
                        raise self._fail("array length %d exceeds max_array_len=%d" % (n, self.max_array_len))
                    if n > 0:
                        if len(stack) >= self.max_depth:
                            raise self._fail("arrays nested deeper than max_depth=%d" % self.max_depth)
                        stack.append([[], n])
                        continue
                    value = [] if n == 0 else None
                else:
                    raise self._fail("unknown reply type byte %r" % bytes((kind,)))
            while stack:
                top = stack[-1]
                top[0].append(value)
                top[1] -= 1
                if top[1]:
                    break
                value = top[0]
                stack.pop()
            else:
                self._pos = pos
                return value


def _encode_arg(arg: Any) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8")
    if isinstance(arg, int) and not isinstance(arg, bool):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(arg).encode("ascii")
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    raise TypeError("Redis arguments must be bytes, str, int or float, not %s" % type(arg).__name__)


def pack_command(*args: Any) -> bytes:
    """Encode one command as a RESP array of bulk strings.

    Example::

        assert pack_command("GET", "k") == b"*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n"
    """
    if not args:
        raise ValueError("a Redis command needs at least its name")
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _encode_arg(arg)
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


# --------------------------------------------------------------------------
# Connections and the pool
# --------------------------------------------------------------------------


class _Dropped(RedisConnectionError):
    """The server closed or reset the connection before any reply byte arrived."""


class _Connection:
    __slots__ = ("reader", "writer", "parser", "loop", "used", "epoch")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: RespParser,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = parser
        self.loop = loop
        self.used = False  # has completed a round trip, so it may have gone stale in the pool
        self.epoch = 0  # the pool's close() count when it was opened

    def alive(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof() and self.parser.buffered == 0

    async def roundtrip(self, payload: bytes, count: int) -> List[Any]:
        parser = self.parser
        received = False
        try:
            self.writer.write(payload)
            await self.writer.drain()
            replies: List[Any] = []
            while True:
                reply = parser.gets()
                while reply is not NEED_DATA:
                    replies.append(reply)
                    if len(replies) == count:
                        self.used = True
                        return replies
                    reply = parser.gets()
                data = await self.reader.read(_READ_SIZE)
                if not data:
                    raise (RedisConnectionError if received else _Dropped)("connection closed by the server")
                received = True
                parser.feed(data)
        except OSError as exc:
            raise (RedisConnectionError if received else _Dropped)("connection to Redis lost: %s" % exc) from exc

    def abort(self) -> None:
        try:
            self.writer.transport.abort()
        except RuntimeError:
            # Its loop is already closed; nothing can be scheduled on it any more.
            pass

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (OSError, RuntimeError):
            pass


async def _with_timeout(aw: Awaitable[Any], timeout: Optional[float], what: str) -> Any:
    if timeout is None:
        return await aw
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise RedisTimeoutError("%s timed out after %g s" % (what, timeout)) from None


class _Pool:
    """At most ``max_connections`` connections, handed over LIFO, bound to one event loop."""

    def __init__(self, client: "Redis", max_connections: int) -> None:
        self.client = client
        self.max_connections = max_connections
        self.idle: List[_Connection] = []
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

    async def acquire(self) -> _Connection:
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
            timeout = self.client.pool_timeout
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

    async def _open(self) -> _Connection:
        client = self.client
        now = time.monotonic()
        if now < self.down_until:
            raise RedisConnectionError("Redis at %s is unavailable (%s); next attempt in %.2f s"
                                       % (client.address, self.last_error, self.down_until - now))
        self.size += 1
        try:
            conn = await client._connect()
        except BaseException as exc:
            self.size -= 1
            if isinstance(exc, RedisError):
                self.last_error = str(exc)
                self.down_until = time.monotonic() + client.reconnect_backoff
            self._wake(None)
            raise
        self.down_until = 0.0
        conn.epoch = self.epoch
        return conn

    def _wake(self, conn: Optional[_Connection]) -> bool:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return True
        return False

    def release(self, conn: _Connection, reusable: bool) -> None:
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


# --------------------------------------------------------------------------
# Commands shared by Redis and Pipeline
# --------------------------------------------------------------------------


def _is_ok(reply: Any) -> bool:
    return reply == "OK"


def _to_bool(reply: Any) -> bool:
    return reply == 1


def _is_pong(reply: Any) -> bool:
    return reply == "PONG" or reply == b"PONG"


_CURSOR_RE = re.compile(rb"0|[1-9][0-9]{0,19}")


def _scan_reply(reply: Any) -> Tuple[int, List[bytes]]:
    if (not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[0], bytes)
            or _CURSOR_RE.fullmatch(reply[0]) is None or not isinstance(reply[1], list)):
        raise ProtocolError("unexpected SCAN reply %r" % (reply,))
    return int(reply[0]), reply[1]


def _decode(reply: Any) -> Any:
    return reply.decode("ascii") if isinstance(reply, bytes) else reply


class _Commands:
    """The typed commands; ``_call`` runs them (Redis) or queues them (Pipeline)."""

    def _call(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]] = None) -> Any:
        raise TypeError("_Commands is a mixin")

    def command(self, *args: Any) -> Any:
        """Any command, by its arguments: ``command("HSET", "h", "f", "v")``."""
        return self._call(args)

    def ping(self) -> Any:
        """PING; True when the server answers PONG."""
        return self._call(("PING",), _is_pong)

    def get(self, key: Union[str, bytes]) -> Any:
        """GET: the value as bytes, or None."""
        return self._call(("GET", key))

    def set(self, key: Union[str, bytes], value: Any, *, ex: Optional[int] = None, px: Optional[int] = None,
            nx: bool = False, xx: bool = False) -> Any:
        """SET with optional EX/PX expiry and NX/XX; True when the value was stored."""
        args: List[Any] = ["SET", key, value]
        if ex is not None:
            args += ["EX", ex]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        return self._call(tuple(args), _is_ok)

    def setex(self, key: Union[str, bytes], seconds: int, value: Any) -> Any:
        """SETEX: store with an expiry in seconds; True on success."""
        return self._call(("SETEX", key, seconds, value), _is_ok)

    def delete(self, *keys: Union[str, bytes]) -> Any:
        """DEL: the number of keys removed."""
        return self._call(("DEL",) + keys)

    def exists(self, *keys: Union[str, bytes]) -> Any:
        """EXISTS: how many of the keys exist."""
        return self._call(("EXISTS",) + keys)

    def mget(self, *keys: Union[str, bytes]) -> Any:
        """MGET: a list of values (bytes or None), in the order of the keys."""
        return self._call(("MGET",) + keys)

    def incrby(self, key: Union[str, bytes], amount: int = 1) -> Any:
        """INCRBY: the value after the increment."""
        return self._call(("INCRBY", key, amount))

    def expire(self, key: Union[str, bytes], seconds: int) -> Any:
        """EXPIRE: True when the key exists and got the timeout."""
        return self._call(("EXPIRE", key, seconds), _to_bool)

    def pexpire(self, key: Union[str, bytes], milliseconds: int) -> Any:
        """PEXPIRE: True when the key exists and got the timeout."""
        return self._call(("PEXPIRE", key, milliseconds), _to_bool)

    def ttl(self, key: Union[str, bytes]) -> Any:
        """TTL in seconds; -1 without expiry, -2 when the key does not exist."""
        return self._call(("TTL", key))

    def pttl(self, key: Union[str, bytes]) -> Any:
        """PTTL in milliseconds; -1 without expiry, -2 when the key does not exist."""
        return self._call(("PTTL", key))

    def scan(self, cursor: int = 0, match: Optional[str] = None, count: Optional[int] = None) -> Any:
        """SCAN: ``(next_cursor, keys)``; iteration ends when next_cursor is 0."""
        args: List[Any] = ["SCAN", cursor]
        if match is not None:
            args += ["MATCH", match]
        if count is not None:
            args += ["COUNT", count]
        return self._call(tuple(args), _scan_reply)

    def evalsha(self, sha: str, keys: Any = (), args: Any = ()) -> Any:
        """EVALSHA of a loaded script."""
        keys = tuple(keys)
        return self._call(("EVALSHA", sha, len(keys)) + keys + tuple(args))

    def eval(self, script: str, keys: Any = (), args: Any = ()) -> Any:
        """EVAL of a Lua script given as source."""
        keys = tuple(keys)
        return self._call(("EVAL", script, len(keys)) + keys + tuple(args))

    def script_load(self, script: str) -> Any:
        """SCRIPT LOAD: the script's SHA1 as a str."""
        return self._call(("SCRIPT", "LOAD", script), _decode)


# --------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------

_DB_RE = re.compile(r"/?([0-9]{1,5})?/?")
_URL_OPTIONS = {
    "db": int,
    "password": str,
    "username": str,
    "max_connections": int,
    "connect_timeout": float,
    "socket_timeout": float,
    "pool_timeout": float,
}


class Redis(_Commands):
    """An asyncio Redis client with a bounded connection pool.

    :param host: server host name or address.
    :param port: TCP port.
    :param db: database number selected on every new connection.
    :param password: sent with AUTH on every new connection (with ``username`` for Redis 6 ACLs).
    :param unix_socket_path: connect to a Unix socket instead of TCP.
    :param ssl: an ``ssl.SSLContext`` (or True for the default context) for TLS.
    :param max_connections: bound on the pool; callers beyond it wait for a free connection.
    :param connect_timeout: seconds to open a connection, including AUTH and SELECT.
    :param socket_timeout: seconds for one command or pipeline round trip (None: no limit).
    :param pool_timeout: seconds to wait for a free pooled connection (default: socket_timeout).
    :param reconnect_backoff: after a failed connect, seconds during which new connects fail fast.
    :param max_bulk_len: longest bulk reply accepted (``RespParser``).

    Example::

        redis = Redis(port=6380, max_connections=4)
        await redis.set("k", "v", ex=10)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        password: Optional[str] = None,
        username: Optional[str] = None,
        *,
        unix_socket_path: Optional[str] = None,
        ssl: Union[None, bool, _ssl.SSLContext] = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        connect_timeout: Optional[float] = DEFAULT_CONNECT_TIMEOUT,
        socket_timeout: Optional[float] = DEFAULT_SOCKET_TIMEOUT,
        pool_timeout: Any = _UNSET,
        reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF,
        max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
    ) -> None:
        if not isinstance(db, int) or isinstance(db, bool) or db < 0:
            raise ValueError("db must be a non-negative integer, got %r" % (db,))
        if not isinstance(max_connections, int) or isinstance(max_connections, bool) or max_connections < 1:
            raise ValueError("max_connections must be a positive integer, got %r" % (max_connections,))
        for name, value in (("connect_timeout", connect_timeout), ("socket_timeout", socket_timeout)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError("%s must be a positive number of seconds or None, got %r" % (name, value))
        if pool_timeout is _UNSET:
            pool_timeout = socket_timeout
        elif pool_timeout is not None and not (isinstance(pool_timeout, (int, float)) and pool_timeout > 0):
            raise ValueError("pool_timeout must be a positive number of seconds or None, got %r" % (pool_timeout,))
        if not isinstance(reconnect_backoff, (int, float)) or reconnect_backoff < 0:
            raise ValueError("reconnect_backoff must be >= 0, got %r" % (reconnect_backoff,))
        if ssl is True:
            ssl = _ssl.create_default_context()
        elif ssl is False:
            ssl = None
        self.host = host
        self.port = port
        self.db = db
        self.username = username
        self.password = password
        self.unix_socket_path = unix_socket_path
        self.ssl = ssl
        self.connect_timeout = connect_timeout
        self.socket_timeout = socket_timeout
        self.pool_timeout = pool_timeout
        self.reconnect_backoff = float(reconnect_backoff)
        self.max_bulk_len = max_bulk_len
        RespParser(max_bulk_len=max_bulk_len)  # validates the limit now, not on first connect
        self._pool = _Pool(self, max_connections)

    @property
    def max_connections(self) -> int:
        """The pool bound."""
        return self._pool.max_connections

    @property
    def address(self) -> str:
        """Where the client connects, without credentials."""
        if self.unix_socket_path:
            return "unix:%s" % self.unix_socket_path
        return "%s:%s" % (self.host, self.port)

    def __repr__(self) -> str:
        return "<Redis %s db=%d>" % (self.address, self.db)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "Redis":
        """Build a client from ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or
        ``unix:///path?db=N``; query options: db, password, username, max_connections,
        connect_timeout, socket_timeout, pool_timeout. Keyword arguments override the URL.

        Example::

            Redis.from_url("redis://:secret@cache.internal:6379/2?socket_timeout=0.5")
        """
        if not isinstance(url, str):
            raise TypeError("url must be a str")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ValueError("invalid Redis URL %r: %s" % (url, exc)) from None
        scheme = parts.scheme.lower()
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError("invalid Redis URL %r: scheme must be redis, rediss or unix" % url)
        options: Dict[str, Any] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            conv = _URL_OPTIONS.get(name)
            if conv is None:
                raise ValueError("invalid Redis URL %r: unknown option %r" % (url, name))
            try:
                options[name] = conv(value)
            except ValueError:
                raise ValueError("invalid Redis URL %r: bad value for %s" % (url, name)) from None
        if parts.username:
            options.setdefault("username", unquote(parts.username))
        if parts.password is not None:
            options.setdefault("password", unquote(parts.password))
        if scheme == "unix":
            if not parts.path:
                raise ValueError("invalid Redis URL %r: unix:// needs a socket path" % url)
            options["unix_socket_path"] = unquote(parts.path)
        else:
            if parts.hostname:
                options["host"] = parts.hostname
            if port is not None:
                options["port"] = port
            m = _DB_RE.fullmatch(parts.path)
            if m is None:
                raise ValueError("invalid Redis URL %r: the path must be a database number" % url)
            if m.group(1):
                options.setdefault("db", int(m.group(1)))
            if scheme == "rediss":
                options["ssl"] = True
        if options.get("username") == "":
            options.pop("username")
        options.update(kwargs)
        return cls(**options)

    def clone(self) -> "Redis":
        """A new client with the same settings and its own pool."""
        return Redis(
            self.host, self.port, self.db, self.password, self.username,
            unix_socket_path=self.unix_socket_path, ssl=self.ssl, max_connections=self.max_connections,
            connect_timeout=self.connect_timeout, socket_timeout=self.socket_timeout,
            pool_timeout=self.pool_timeout, reconnect_backoff=self.reconnect_backoff,
            max_bulk_len=self.max_bulk_len,
        )

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            if self.unix_socket_path:
                opening = asyncio.open_unix_connection(self.unix_socket_path, ssl=self.ssl)
            else:
                opening = asyncio.open_connection(self.host, self.port, ssl=self.ssl)
            reader, writer = await _with_timeout(opening, self.connect_timeout, "connecting to Redis at %s" % self.address)
        except OSError as exc:
            raise RedisConnectionError("cannot connect to Redis at %s: %s" % (self.address, exc)) from exc
        conn = _Connection(reader, writer, RespParser(max_bulk_len=self.max_bulk_len), loop)
        hello: List[Tuple[Any, ...]] = []
        if self.password is not None:
            hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            hello.append(("SELECT", self.db))
        if hello:
            try:
                replies = await _with_timeout(
                    conn.roundtrip(b"".join(pack_command(*c) for c in hello), len(hello)),
                    self.connect_timeout, "AUTH/SELECT on Redis at %s" % self.address)
            except BaseException:
                conn.abort()
                raise
            for cmd, reply in zip(hello, replies):
                if isinstance(reply, ReplyError):
                    conn.abort()
                    raise RedisConnectionError("%s failed on Redis at %s: %s" % (cmd[0], self.address, reply))
            conn.used = False
        return conn

    async def _roundtrip(self, payload: bytes, count: int) -> List[Any]:
        pool = self._pool
        for attempt in (0, 1):
            conn = await pool.acquire()
            reused = conn.used
            try:
                replies = await _with_timeout(conn.roundtrip(payload, count), self.socket_timeout, "Redis command")
            except _Dropped as exc:
                pool.release(conn, False)
                if reused and attempt == 0:
                    # The server closed this pooled connection while it sat idle
                    # (restart, CLIENT KILL, idle timeout): try once on a new one.
                    continue
                raise RedisConnectionError(str(exc)) from exc
            except BaseException:
                pool.release(conn, False)
                raise
            pool.release(conn, True)
            return replies
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]]) -> Any:
        reply = (await self._roundtrip(pack_command(*args), 1))[0]
        if isinstance(reply, ReplyError):
            raise reply
        return reply if post is None else post(reply)

    def _call(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]] = None) -> Any:
        return self._run(args, post)

    async def execute(self, *args: Any) -> Any:
        """Run any command and return its raw reply: ``await redis.execute("HGET", "h", "f")``."""
        return await self._run(args, None)

    def pipeline(self) -> "Pipeline":
        """Queue commands and send them in one write: ``await redis.pipeline().set("a", 1).get("a").execute()``."""
        return Pipeline(self)

    def script(self, source: str) -> "Script":
        """A Lua script run with EVALSHA, falling back to EVAL when the server lacks it."""
        return Script(self, source)

    def blocking(self) -> "BlockingRedis":
        """A blocking face for plain ``def`` code: a clone of this client on a private loop thread."""
        return BlockingRedis(self.clone())

    async def close(self) -> None:
        """Close the idle connections; lent ones close when they come back."""
        await self._pool.close()

    async def __aenter__(self) -> "Redis":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class Pipeline(_Commands):
    """Commands queued on a client and sent in one write; ``execute()`` returns their replies in order.

    Not a transaction: other clients' commands may interleave. Error replies come back in place as
    ``ReplyError`` objects; with ``raise_on_error=True`` (the default) the first one is raised after
    every reply has been read.

    Example::

        a, b = await redis.pipeline().incrby("hits").expire("hits", 60).execute()
    """

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._commands: List[Tuple[Tuple[Any, ...], Optional[Callable[[Any], Any]]]] = []

    def _call(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]] = None) -> "Pipeline":
        pack_command(*args)  # reject bad arguments where they are queued
        self._commands.append((args, post))
        return self

    def __len__(self) -> int:
        return len(self._commands)

    async def execute(self, raise_on_error: bool = True) -> List[Any]:
        """Send the queued commands and return their replies; the queue is emptied."""
        commands, self._commands = self._commands, []
        if not commands:
            return []
        payload = b"".join(pack_command(*args) for args, _ in commands)
        replies = await self.client._roundtrip(payload, len(commands))
        out = []
        for (_, post), reply in zip(commands, replies):
            if not isinstance(reply, ReplyError) and post is not None:
                reply = post(reply)
            out.append(reply)
        if raise_on_error:
            for reply in out:
                if isinstance(reply, ReplyError):
                    raise reply
        return out

    async def __aenter__(self) -> "Pipeline":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._commands = []


class Script:
    """A Lua script: called with EVALSHA (SHA1 computed locally), and with EVAL when the server
    answers NOSCRIPT (after a restart or SCRIPT FLUSH), which also caches it there again.

    Example::

        incr_to = redis.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        await incr_to(keys=["n"], args=[5])
    """

    __slots__ = ("client", "source", "sha")

    def __init__(self, client: Optional[Redis], source: str) -> None:
        if not isinstance(source, str):
            raise TypeError("a script's source must be a str")
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    async def __call__(self, keys: Any = (), args: Any = (), client: Optional[Redis] = None) -> Any:
        """Run the script on ``client`` (default: the one it was made with)."""
        redis = client or self.client
        if redis is None:
            raise TypeError("this Script has no client; pass client=")
        try:
            return await redis.evalsha(self.sha, keys, args)
        except ReplyError as exc:
            if exc.code != "NOSCRIPT":
                raise
        return await redis.eval(self.source, keys, args)


class BlockingRedis:
    """A blocking face on a ``Redis`` client that lives on a private event-loop thread.

    Every command method of ``Redis`` is available and blocks until its reply
    (``BlockingRedis(r).get("k")``); ``run(fn)`` runs ``await fn(client)`` there for
    anything else (scripts, pipelines). The thread starts on first use; ``close()`` stops it.
    Do not call it from a coroutine on the same thread's loop—use the async client there.

    Example::

        r = Redis(port=6380).blocking()
        r.set("k", "v")
        assert r.get("k") == b"v"
        r.close()
    """

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="covet-redis-blocking", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, fn: Callable[[Redis], Awaitable[Any]]) -> Any:
        """Run ``await fn(client)`` on the client's thread and return its result (or raise its error)."""
        loop = self._loop or self._start()
        if self._thread is threading.current_thread():
            raise RuntimeError("BlockingRedis called from its own loop thread")
        future = asyncio.run_coroutine_threadsafe(fn(self.client), loop)
        return future.result()

    def execute(self, *args: Any) -> Any:
        """Run any command and return its raw reply."""
        return self.run(lambda r: r.execute(*args))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(_Commands, name, None)
        if method is None or name.startswith("_"):
            raise AttributeError("BlockingRedis has no attribute %r" % name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.run(lambda r: getattr(r, name)(*args, **kwargs))

        call.__name__ = name
        call.__doc__ = method.__doc__
        return call

    def close(self) -> None:
        """Close the client's connections and stop the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.client.close(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
