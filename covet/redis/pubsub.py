"""Publish/subscribe: ``PubSub``, a subscriber on a connection of its own, with reconnect and resubscribe.

A connection that has sent SUBSCRIBE is in another protocol state (RESP2, "Pub/Sub"): the server
pushes ``message`` arrays unasked and refuses every command but (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING,
RESET and QUIT. So a ``PubSub`` never borrows from the client's pool nor gives its connection back:
it opens one with the client's settings and owns it until ``close()``; the pool and its commands
(PUBLISH included) go on beside it.

One reader task reads the connection and sorts what arrives: ``message``/``pmessage`` pushes and
the confirmations of (un)subscribing go to a bounded buffer that ``get_message()`` and ``listen()``
drain; confirmations and PONGs also answer the call that is waiting for them (replies come in the
order the commands were sent, so a FIFO of expected replies matches them).

Delivery is at most once, as Redis pub/sub itself is: a message published while this subscriber is
disconnected, or when its buffer overflows, is lost. When the connection drops (server restart,
``CLIENT KILL``, a network failure, a missed health-check PONG) the reader reconnects with
exponential backoff and jitter and subscribes again to every channel and pattern it had.

Messages are dicts::

    {"type": "message", "channel": "news", "pattern": None, "data": b"hello"}
    {"type": "pmessage", "channel": "news.eu", "pattern": "news.*", "data": b"hello"}
    {"type": "subscribe", "channel": "news", "pattern": None, "data": 1}   # data: subscription count

``type`` is one of ``message``, ``pmessage``, ``subscribe``, ``unsubscribe``, ``psubscribe``,
``punsubscribe``. Channel and pattern names are ``str`` (decoded as UTF-8; invalid bytes a
publisher may have used become U+FFFD). ``data`` is the payload exactly as published, ``bytes``
(decode it as your protocol says), or the ``int`` count of a confirmation.

Example::

    async with redis.pubsub() as p:
        await p.subscribe("news")
        await redis.publish("news", "hello")
        async for message in p.listen():
            if message["type"] == "message":
                print(message["data"])          # b"hello"
                break
"""
import asyncio
import collections
import logging
import random
from typing import Any, AsyncIterator, Awaitable, Deque, Dict, List, Optional, Protocol, Tuple

from ._checks import positive_int, seconds_or_none
from .connection import READ_SIZE, Connection, with_timeout
from .errors import ProtocolError, RedisConnectionError, RedisError, RedisTimeoutError, ReplyError
from .resp import NEED_DATA, pack_command

__all__ = [
    "PubSub",
    "DEFAULT_MAX_BUFFERED_MESSAGES",
    "DEFAULT_MAX_BUFFERED_BYTES",
    "DEFAULT_PUBSUB_BACKOFF",
    "DEFAULT_PUBSUB_MAX_BACKOFF",
    "DEFAULT_HEALTH_CHECK_INTERVAL",
]

# Unread messages kept for a consumer that reads more slowly than messages arrive. Past the bound
# the oldest message is dropped (and counted in ``dropped``): the newest are the ones a real-time
# consumer wants, and delivery is at most once anyway. The server has its own guard against slow
# subscribers (`client-output-buffer-limit pubsub 32mb 8mb 60`, redis.conf), which disconnects
# them; reading eagerly into a bounded buffer keeps us from hitting it and losing the subscription.
DEFAULT_MAX_BUFFERED_MESSAGES = 1000
# The same buffer bounded in payload bytes: 1,000 messages of the RESP parser's 512 MB bulk limit
# would otherwise be 512 GB. 8 MiB is the soft limit of Redis's own pubsub output buffer.
DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024
# First wait before a reconnect attempt; it doubles per failed attempt up to the maximum, with
# jitter (a random 50-100 % of the wait) so that every worker of every host does not reconnect in
# the same instant after a server restart (AWS Architecture Blog, "Exponential Backoff And Jitter").
DEFAULT_PUBSUB_BACKOFF = 0.1
DEFAULT_PUBSUB_MAX_BACKOFF = 10.0
# Seconds of silence after which the reader sends a PING, and drops the connection when the
# following interval passes with nothing received: a peer that vanished without a FIN or RST
# (power loss, a NAT that forgot us) would otherwise leave a subscriber waiting forever.
DEFAULT_HEALTH_CHECK_INTERVAL = 30.0

_log = logging.getLogger("covet.redis")


class PubSubClient(Protocol):
    """What a ``PubSub`` needs of its client (a ``Redis``; named here, not imported, because
    ``Redis.pubsub()`` builds a ``PubSub``)."""

    socket_timeout: Optional[float]

    def new_connection(self) -> Awaitable[Connection]:
        """A new connection with the client's settings, outside its pool."""
        ...


def _name(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _check_names(what: str, names: Tuple[Any, ...], allow_none: bool) -> List[str]:
    if not names:
        if allow_none:
            return []
        raise ValueError("%s needs at least one name" % what)
    out = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError("%s names must be str, not %s" % (what, type(name).__name__))
        if not name:
            raise ValueError("%s names must not be empty" % what)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("%s name %r is not valid UTF-8 text (lone surrogate)" % (what, name)) from None
        out.append(name)
    return out


class _Expected:
    """One reply the reader waits for: its kind (``b"subscribe"``..., ``b"pong"``) and who awaits it."""

    __slots__ = ("kind", "future")

    def __init__(self, kind: bytes, future: "Optional[asyncio.Future[Any]]") -> None:
        self.kind = kind
        self.future = future


class PubSub:
    """A subscriber on a dedicated connection: subscribe, read messages, reconnect, resubscribe.

    Make one with ``redis.pubsub()``. It serves the event loop that first uses it.

    :param client: the ``Redis`` client whose settings (address, AUTH, TLS, timeouts) it connects with.
    :param max_buffered: unread messages kept; past it the oldest is dropped and counted in ``dropped``.
    :param max_buffered_bytes: the same bound in payload bytes.
    :param ignore_subscribe_messages: leave (p)(un)subscribe confirmations out of the buffer.
    :param reconnect_backoff: first wait before reconnecting; doubles per failure up to ``max_reconnect_backoff``.
    :param max_reconnect_backoff: longest wait between two reconnect attempts.
    :param health_check_interval: seconds of silence before a PING; None turns the check off.

    ``channels`` and ``patterns`` are what it is subscribed to (and resubscribes to after a
    reconnect); ``reconnects`` counts the connections made after the first, ``dropped`` the
    messages lost to the buffer bound.

    Example::

        p = redis.pubsub(max_buffered=100)
        await p.subscribe("orders")
        await p.psubscribe("orders.*")
        message = await p.get_message(timeout=1.0)   # None when nothing came
        await p.close()
    """

    def __init__(
        self,
        client: PubSubClient,
        *,
        max_buffered: int = DEFAULT_MAX_BUFFERED_MESSAGES,
        max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        ignore_subscribe_messages: bool = False,
        reconnect_backoff: float = DEFAULT_PUBSUB_BACKOFF,
        max_reconnect_backoff: float = DEFAULT_PUBSUB_MAX_BACKOFF,
        health_check_interval: Optional[float] = DEFAULT_HEALTH_CHECK_INTERVAL,
    ) -> None:
        self.client = client
        self.max_buffered = positive_int("max_buffered", max_buffered)
        self.max_buffered_bytes = positive_int("max_buffered_bytes", max_buffered_bytes)
        self.ignore_subscribe_messages = bool(ignore_subscribe_messages)
        self.reconnect_backoff = seconds_or_none("reconnect_backoff", reconnect_backoff)
        self.max_reconnect_backoff = seconds_or_none("max_reconnect_backoff", max_reconnect_backoff)
        if reconnect_backoff is None or max_reconnect_backoff is None or max_reconnect_backoff < reconnect_backoff:
            raise ValueError("reconnect_backoff and max_reconnect_backoff must be seconds, the first the smaller")
        self.health_check_interval = seconds_or_none("health_check_interval", health_check_interval)
        # Insertion-ordered sets (dicts) of what we want to be subscribed to: the server's state is
        # rebuilt from them after a reconnect.
        self._channels: Dict[str, None] = {}
        self._patterns: Dict[str, None] = {}
        self._buffer: Deque[Dict[str, Any]] = collections.deque()
        self._buffered_bytes = 0
        self._arrived: Optional[asyncio.Event] = None
        self._expected: Deque[_Expected] = collections.deque()
        self._conn: Optional[Connection] = None
        self._reader: "Optional[asyncio.Task[None]]" = None
        self._start_lock: Optional[asyncio.Lock] = None
        self._closed = False
        self._health: Optional[asyncio.TimerHandle] = None
        self._heard = 0.0  # loop time of the last byte received
        self._pinged = False  # a health-check PING is unanswered
        self.reconnects = 0
        self.dropped = 0

    # ------------------------------------------------------------------ state

    @property
    def channels(self) -> List[str]:
        """The channels subscribed to, in the order they were first asked for."""
        return list(self._channels)

    @property
    def patterns(self) -> List[str]:
        """The patterns subscribed to."""
        return list(self._patterns)

    @property
    def connected(self) -> bool:
        """True while the connection is up (False before the first subscribe, while reconnecting, after close)."""
        return self._conn is not None

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._closed

    # ------------------------------------------------------------------ commands

    async def subscribe(self, *channels: str) -> None:
        """SUBSCRIBE: returns once the server has confirmed every channel.

        The first call opens the connection and raises ``RedisConnectionError`` when it cannot (nothing
        stays recorded then). Later, while the connection is being re-established, the channels are
        recorded and subscribed with the others when it is back; ``subscribe`` then returns at once.
        """
        names = _check_names("channel", channels, False)
        self._check_open()
        await self._add(self._channels, b"subscribe", "SUBSCRIBE", names)

    async def psubscribe(self, *patterns: str) -> None:
        """PSUBSCRIBE to glob-style patterns (``news.*``); messages arrive with type ``pmessage``."""
        names = _check_names("pattern", patterns, False)
        self._check_open()
        await self._add(self._patterns, b"psubscribe", "PSUBSCRIBE", names)

    async def unsubscribe(self, *channels: str) -> None:
        """UNSUBSCRIBE from the given channels, or from every channel when none is given."""
        names = _check_names("channel", channels, True) or list(self._channels)
        self._check_open()
        for name in names:
            self._channels.pop(name, None)
        if names:
            await self._command(b"unsubscribe", "UNSUBSCRIBE", names)

    async def punsubscribe(self, *patterns: str) -> None:
        """PUNSUBSCRIBE from the given patterns, or from every pattern when none is given."""
        names = _check_names("pattern", patterns, True) or list(self._patterns)
        self._check_open()
        for name in names:
            self._patterns.pop(name, None)
        if names:
            await self._command(b"punsubscribe", "PUNSUBSCRIBE", names)

    async def ping(self) -> bool:
        """PING on the subscriber's connection: True when the PONG came within the client's socket_timeout.

        Raises ``RedisConnectionError`` when the connection is down or drops before the answer.
        """
        self._check_open()
        if self._reader is None:
            await self._start()
        conn = self._conn
        if conn is None:
            raise RedisConnectionError("the subscriber's connection is down; reconnecting")
        future = asyncio.get_running_loop().create_future()
        self._expected.append(_Expected(b"pong", future))
        self._send(conn, pack_command("PING"))
        try:
            answered = await with_timeout(future, self.client.socket_timeout, "PING on the Redis subscriber")
        except RedisTimeoutError:
            conn.abort()
            raise
        if not answered:
            raise RedisConnectionError("the subscriber's connection dropped before the PONG")
        return True

    async def _add(self, table: Dict[str, None], kind: bytes, command: str, names: List[str]) -> None:
        added = [name for name in names if name not in table]
        for name in names:
            table[name] = None
        try:
            await self._command(kind, command, names)
        except BaseException:
            if self._reader is None:
                # The first connection failed: nothing was subscribed, so nothing stays recorded.
                for name in added:
                    table.pop(name, None)
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise RedisConnectionError("this PubSub is closed")

    async def _command(self, kind: bytes, command: str, names: List[str]) -> None:
        if self._reader is None and await self._start():
            # This call opened the connection, which subscribed to everything recorded.
            return
        conn = self._conn
        if conn is None:
            return  # reconnecting: the reader subscribes to everything recorded once it is back
        loop = asyncio.get_running_loop()
        futures = []
        for _ in names:
            future = loop.create_future()
            futures.append(future)
            self._expected.append(_Expected(kind, future))
        self._send(conn, pack_command(command, *names))
        try:
            # A future resolved with False means the connection dropped first: the reconnect
            # resubscribes from the recorded state, so there is nothing more to wait for.
            await with_timeout(asyncio.gather(*futures), self.client.socket_timeout,
                               "%s on the Redis subscriber" % command)
        except RedisTimeoutError:
            # The server is not answering: drop the connection (the reader reconnects) and say so.
            conn.abort()
            raise

    def _send(self, conn: Connection, payload: bytes) -> None:
        # Writes are small and not awaited: the reader task drains nothing, and the transport
        # buffers; a dead connection shows up as EOF or an error in the reader.
        try:
            conn.writer.write(payload)
        except (OSError, RuntimeError):
            conn.abort()

    # ------------------------------------------------------------------ reading

    async def get_message(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The next buffered message, waiting up to ``timeout`` seconds (None: until one comes, 0: not at all).

        Returns None when the time is up, or when the PubSub is closed and its buffer is empty.
        """
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not timeout >= 0):  # NaN too
            raise ValueError("timeout must be None or a number of seconds >= 0, got %r" % (timeout,))
        while True:
            if self._buffer:
                message = self._buffer.popleft()
                if isinstance(message["data"], bytes):
                    self._buffered_bytes -= len(message["data"])
                return message
            if self._closed or timeout == 0:
                return None
            arrived = self._event()
            arrived.clear()
            if timeout is None:
                await arrived.wait()
            else:
                try:
                    await asyncio.wait_for(arrived.wait(), timeout)
                except asyncio.TimeoutError:
                    return None
                timeout = 0  # one more look at the buffer, no second wait

    async def listen(self) -> AsyncIterator[Dict[str, Any]]:
        """Every message as it arrives, until ``close()``: ``async for message in pubsub.listen()``."""
        while True:
            message = await self.get_message()
            if message is None:
                return
            yield message

    def _event(self) -> asyncio.Event:
        if self._arrived is None:
            self._arrived = asyncio.Event()
        return self._arrived

    def _buffer_message(self, message: Dict[str, Any]) -> None:
        self._buffer.append(message)
        data = message["data"]
        if isinstance(data, bytes):
            self._buffered_bytes += len(data)
        # Drop the oldest past either bound; the newest message is always kept.
        while len(self._buffer) > 1 and (len(self._buffer) > self.max_buffered
                                         or self._buffered_bytes > self.max_buffered_bytes):
            old = self._buffer.popleft()
            if isinstance(old["data"], bytes):
                self._buffered_bytes -= len(old["data"])
            self.dropped += 1
        self._event().set()

    def _handle(self, reply: Any) -> None:
        """Sort one reply: a push to the buffer, a confirmation or PONG to its waiter (and the buffer)."""
        if isinstance(reply, list) and reply and reply[0] in (b"message", b"pmessage"):
            # RESP2 pushes: ["message", channel, data] and ["pmessage", pattern, channel, data].
            size = 3 if reply[0] == b"message" else 4
            if len(reply) != size or not all(isinstance(x, bytes) for x in reply):
                raise ProtocolError("malformed %s push: %r" % (reply[0].decode(), reply))
            if size == 3:
                self._buffer_message({"type": "message", "channel": _name(reply[1]), "pattern": None,
                                      "data": reply[2]})
            else:
                self._buffer_message({"type": "pmessage", "channel": _name(reply[2]), "pattern": _name(reply[1]),
                                      "data": reply[3]})
            return
        expected = self._expected.popleft() if self._expected else None
        if expected is None:
            raise ProtocolError("unexpected reply on the subscriber's connection: %r" % (reply,))
        future = expected.future
        if isinstance(reply, ReplyError):
            if future is not None and not future.done():
                future.set_exception(reply)
            return
        if expected.kind == b"pong":
            # Subscribed, PING answers ["pong", ""]; with no subscription left, a plain +PONG.
            if reply != "PONG" and not (isinstance(reply, list) and reply[:1] == [b"pong"]):
                raise self._mismatch(expected, reply)
        elif not (isinstance(reply, list) and len(reply) == 3 and reply[0] == expected.kind
                  and isinstance(reply[2], int) and (reply[1] is None or isinstance(reply[1], bytes))):
            raise self._mismatch(expected, reply)
        elif not self.ignore_subscribe_messages:
            name = _name(reply[1]) if reply[1] is not None else None
            is_pattern = expected.kind in (b"psubscribe", b"punsubscribe")
            self._buffer_message({"type": expected.kind.decode(), "channel": None if is_pattern else name,
                                  "pattern": name if is_pattern else None, "data": reply[2]})
        if future is not None and not future.done():
            future.set_result(True)

    @staticmethod
    def _mismatch(expected: _Expected, reply: Any) -> ProtocolError:
        command = "PING" if expected.kind == b"pong" else expected.kind.decode().upper()
        error = ProtocolError("unexpected reply to %s on the subscriber's connection: %r" % (command, reply))
        if expected.future is not None and not expected.future.done():
            expected.future.set_exception(error)  # its caller hears why; the reader drops the connection
        return error

    # ------------------------------------------------------------------ the connection

    async def _start(self) -> bool:
        """Open the first connection (errors reach the caller) and start the reader task.

        True when this call did it; False when another call had (it may have subscribed before
        this caller recorded its names, so the caller sends its command itself).
        """
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._reader is not None or self._closed:
                return False
            await self._connect()
            if self._closed:  # closed while connecting
                if self._conn is not None:
                    self._drop(self._conn)
                return True
            self._reader = asyncio.get_running_loop().create_task(self._run(), name="covet-redis-pubsub-reader")
            return True

    async def _connect(self) -> None:
        """Connect and subscribe to everything recorded, waiting for the confirmations."""
        conn = await self.client.new_connection()
        if self._closed:
            conn.abort()
            return
        loop = asyncio.get_running_loop()
        self._expected.clear()
        payload = []
        futures = []
        for kind, command, names in ((b"subscribe", "SUBSCRIBE", list(self._channels)),
                                     (b"psubscribe", "PSUBSCRIBE", list(self._patterns))):
            if names:
                payload.append(pack_command(command, *names))
                for _ in names:
                    future = loop.create_future()
                    futures.append(future)
                    self._expected.append(_Expected(kind, future))
        self._conn = conn
        self._heard = conn.loop.time()
        self._pinged = False
        self._schedule_health_check(self.health_check_interval or 0)
        if not payload:
            return
        self._send(conn, b"".join(payload))
        try:
            # Read the confirmations here, so a subscribe() that opened the connection returns
            # subscribed; later replies are read by the reader task.
            await with_timeout(self._read_until(conn, futures), self.client.socket_timeout,
                               "subscribing on Redis")
        except BaseException:
            self._drop(conn)
            raise

    async def _read_until(self, conn: Connection, futures: List["asyncio.Future[Any]"]) -> None:
        while not all(f.done() for f in futures):
            if not await self._read_once(conn):
                raise RedisConnectionError("the Redis server closed the subscriber's connection")
        for f in futures:
            f.result()  # an error reply (NOPERM under ACLs) is raised

    async def _read_once(self, conn: Connection) -> bool:
        """Read what the server sent and handle each complete reply; False at EOF."""
        try:
            data = await conn.reader.read(READ_SIZE)
        except OSError as exc:
            raise RedisConnectionError("the subscriber's connection failed: %s" % exc) from exc
        if not data:
            return False
        self._heard = conn.loop.time()
        self._pinged = False
        conn.parser.feed(data)
        reply = conn.parser.gets()
        while reply is not NEED_DATA:
            self._handle(reply)
            reply = conn.parser.gets()
        return True

    def _drop(self, conn: Connection) -> None:
        """Forget a dead connection; whoever waited for a reply on it is told False."""
        conn.abort()
        if self._conn is conn:
            self._conn = None
            if self._health is not None:
                self._health.cancel()
                self._health = None
        expected, self._expected = self._expected, collections.deque()
        for item in expected:
            if item.future is not None and not item.future.done():
                item.future.set_result(False)

    async def _run(self) -> None:
        """The reader: read and sort replies; on a drop, reconnect with backoff and resubscribe."""
        delay = self.reconnect_backoff
        while not self._closed:
            conn = self._conn
            if conn is None:
                try:
                    await self._connect()
                except (RedisError, OSError) as exc:
                    _log.warning("Redis subscriber: reconnecting failed (%s); next attempt in about %.2g s",
                                 exc, delay)
                    await asyncio.sleep(delay * (0.5 + random.random() / 2))
                    delay = min(delay * 2, self.max_reconnect_backoff)
                    continue
                self.reconnects += 1
                delay = self.reconnect_backoff
                continue
            try:
                if await self._read_once(conn):
                    continue
                reason = "connection closed"
            except (RedisError, OSError) as exc:
                reason = str(exc)
            _log.warning("Redis subscriber: connection lost (%s); reconnecting and resubscribing", reason)
            self._drop(conn)

    def _schedule_health_check(self, delay: float) -> None:
        if self.health_check_interval is not None and self._conn is not None:
            self._health = self._conn.loop.call_later(delay, self._health_check)

    def _health_check(self) -> None:
        """A timer, not a timeout around each read: PING after an interval of silence, drop after two."""
        self._health = None
        conn = self._conn
        interval = self.health_check_interval
        if conn is None or interval is None:
            return
        silent = conn.loop.time() - self._heard
        if silent < interval:
            self._schedule_health_check(interval - silent)
            return
        if self._pinged:
            _log.warning("Redis subscriber: no answer to a PING within %g s; dropping the connection", interval)
            conn.abort()  # the reader sees the end of the stream and reconnects
            return
        self._pinged = True
        self._expected.append(_Expected(b"pong", None))
        self._send(conn, pack_command("PING"))
        self._schedule_health_check(interval)

    async def close(self) -> None:
        """Stop the reader and close the connection; messages still buffered can be read. Idempotent."""
        if self._closed:
            return
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                if reader is asyncio.current_task():  # pragma: no cover
                    raise
        conn = self._conn
        if conn is not None:
            self._drop(conn)
            await conn.close()
        if self._arrived is not None:
            self._arrived.set()  # wake get_message() waiters: they return None

    async def __aenter__(self) -> "PubSub":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
