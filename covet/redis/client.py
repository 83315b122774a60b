"""The asyncio Redis client: settings and URLs, command round trips over the pool, pipelines, scripts.

``Redis`` sends each command on a pooled connection and retries once on a fresh connection when
a pooled one turns out to have been closed by the server while idle (the command cannot have run
then). Error replies raise ``ReplyError``; inside a pipeline's results they come back in place.
A connection goes back to the pool only after a round trip that completed and left it as it was
opened (``state.leaves_state``); after a timeout, a broken connection, SUBSCRIBE, MULTI without
EXEC, SELECT and the like it is closed.

A ``Redis`` object serves one event loop at a time (the pool rebinds itself when it is first used
from a different loop) and is not thread-safe; close it with ``await redis.close()`` before its
loop ends. ``redis.blocking()`` gives plain ``def`` code a face of its own (``blocking.py``).

Example::

    redis = Redis.from_url("redis://:secret@127.0.0.1:6379/0")
    await redis.set("greeting", "hello", ex=60)
    assert await redis.get("greeting") == b"hello"
    await redis.close()
"""
import hashlib
import re
import ssl as _ssl
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qsl, unquote, urlsplit

from .._probes import REDIS, finish
from ._checks import non_negative_int, positive_int, seconds_or_none
from .blocking import BlockingRedis
from .commands import Commands
from .connection import Connection, ConnectionDropped, open_connection, with_timeout
from .errors import RedisConnectionError, ReplyError
from .pool import DEFAULT_MAX_CONNECTIONS, DEFAULT_RECONNECT_BACKOFF, ConnectionPool
from .pubsub import PubSub
from .resp import DEFAULT_MAX_BULK_LEN, DEFAULT_MAX_REPLY_ELEMENTS, pack_command
from .state import leaves_state

__all__ = ["Redis", "Pipeline", "Script", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_SOCKET_TIMEOUT"]

# A server on the same network answers in well under a millisecond; two seconds means it is down
# or overloaded, and a web request should fail (or fall back) rather than hang with it.
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_SOCKET_TIMEOUT = 2.0
_UNSET: Any = object()

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


class Redis(Commands):
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
    :param max_reply_elements: most elements in one reply, nested ones included (``RespParser``).

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
        max_reply_elements: int = DEFAULT_MAX_REPLY_ELEMENTS,
    ) -> None:
        non_negative_int("db", db)
        seconds_or_none("connect_timeout", connect_timeout)
        seconds_or_none("socket_timeout", socket_timeout)
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
        self.max_bulk_len = positive_int("max_bulk_len", max_bulk_len)  # checked now, not on first connect
        self.max_reply_elements = positive_int("max_reply_elements", max_reply_elements)
        # What each command reports to the Redis probe (covet._probes; OpenTelemetry's names).
        self.probe_attributes: Dict[str, Any] = {"db.system.name": "redis", "db.namespace": str(db)}
        if unix_socket_path is None:
            self.probe_attributes.update({"server.address": host, "server.port": port})
        self._pool = ConnectionPool(
            self._connect, self.address, max_connections=max_connections,
            pool_timeout=socket_timeout if pool_timeout is _UNSET else pool_timeout,
            reconnect_backoff=reconnect_backoff)

    @property
    def max_connections(self) -> int:
        """The pool bound."""
        return self._pool.max_connections

    @property
    def pool_timeout(self) -> Optional[float]:
        """Seconds a command waits for a free pooled connection (None: no limit)."""
        return self._pool.pool_timeout

    @property
    def reconnect_backoff(self) -> float:
        """After a failed connect, seconds during which new connects fail fast."""
        return self._pool.reconnect_backoff

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
            max_bulk_len=self.max_bulk_len, max_reply_elements=self.max_reply_elements,
        )

    def new_connection(self) -> Awaitable[Connection]:
        """A new connection with this client's settings, outside the pool: the caller owns and closes it.

        Example::

            conn = await redis.new_connection()
            [pong] = await conn.roundtrip(pack_command("PING"), 1)
            await conn.close()
        """
        return self._connect()

    def _connect(self) -> Awaitable[Connection]:
        return open_connection(
            address=self.address, host=self.host, port=self.port, unix_socket_path=self.unix_socket_path,
            ssl=self.ssl, timeout=self.connect_timeout, password=self.password, username=self.username,
            db=self.db, max_bulk_len=self.max_bulk_len, max_reply_elements=self.max_reply_elements)

    async def _roundtrip(self, payload: bytes, count: int, reusable: bool = True) -> List[Any]:
        """Send ``payload`` and read ``count`` replies; ``reusable=False`` closes the connection afterwards."""
        pool = self._pool
        for attempt in (0, 1):
            conn = await pool.acquire()
            reused = conn.used
            try:
                replies = await with_timeout(conn.roundtrip(payload, count), self.socket_timeout, "Redis command")
            except ConnectionDropped as exc:
                pool.release(conn, False)
                if reused and attempt == 0:
                    # The server closed this pooled connection while it sat idle
                    # (restart, CLIENT KILL, idle timeout): try once on a new one.
                    continue
                raise RedisConnectionError(str(exc)) from exc
            except BaseException:
                pool.release(conn, False)
                raise
            pool.release(conn, reusable)
            return replies
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]]) -> Any:
        if REDIS.observers:
            return await self._observed(args, post)
        reply = (await self._roundtrip(pack_command(*args), 1, not leaves_state((args,))))[0]
        if isinstance(reply, ReplyError):
            raise reply
        return reply if post is None else post(reply)

    async def _observed(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]]) -> Any:
        name = args[0] if args else ""
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        # Only the command's name: its arguments are the application's data (keys, values, passwords).
        finishers = REDIS.start(self.probe_attributes, str(name).upper()[:64], 1)
        try:
            reply = (await self._roundtrip(pack_command(*args), 1, not leaves_state((args,))))[0]
            if isinstance(reply, ReplyError):
                raise reply
            result = reply if post is None else post(reply)
        except BaseException as exc:
            finish(finishers, exc)
            raise
        finish(finishers, None, result)
        return result

    def _call(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]] = None) -> Any:
        return self._run(args, post)

    async def execute(self, *args: Any) -> Any:
        """Run any command and return its raw reply: ``await redis.execute("HGET", "h", "f")``."""
        return await self._run(args, None)

    async def health_check(self) -> Dict[str, Any]:
        """A health check for ``HealthChecker``: ``PING`` on a pooled connection.

        Example::

            health.add_check("redis", redis.health_check, timeout=1.0)
        """
        answer = await self.execute("PING")
        if answer not in ("PONG", b"PONG", True):
            return {"status": "unhealthy", "error": "PING answered %r" % (answer,)}
        return {"status": "healthy", "address": self.address}

    def pipeline(self) -> "Pipeline":
        """Queue commands and send them in one write: ``await redis.pipeline().set("a", 1).get("a").execute()``."""
        return Pipeline(self)

    def script(self, source: str) -> "Script":
        """A Lua script run with EVALSHA, falling back to EVAL when the server lacks it."""
        return Script(self, source)

    def pubsub(self, **options: Any) -> PubSub:
        """A subscriber on a connection of its own (never one of the pool's): see ``PubSub`` for ``options``.

        Example::

            async with redis.pubsub() as p:
                await p.subscribe("news")
                message = await p.get_message(timeout=1.0)
        """
        return PubSub(self, **options)

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


class Pipeline(Commands):
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
        reusable = not leaves_state(args for args, _ in commands)
        finishers = REDIS.start(self.client.probe_attributes, "PIPELINE", len(commands)) if REDIS.observers else None
        try:
            replies = await self.client._roundtrip(payload, len(commands), reusable)
        except BaseException as exc:
            finish(finishers, exc)
            raise
        finish(finishers, None, None)
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
