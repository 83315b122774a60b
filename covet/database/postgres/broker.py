"""``PostgresBroker``: ``covet.realtime``'s publish/subscribe carried by PostgreSQL's LISTEN/NOTIFY,
so that workers sharing a database reach each other's WebSockets without a Redis.

- **Publishing** is ``SELECT pg_notify($1, $2)`` on the broker's own small publishing connection,
  opened on the first publish. It runs in autocommit, so the notification leaves at once (NOTIFY
  is transactional: PostgreSQL sends it when the transaction that issued it commits). A task
  reads that idle connection, so a connection the server dropped is noticed and replaced before
  the next publish instead of failing it.
- **Subscribing** runs on ONE dedicated LISTEN connection per broker (one per process), opened by
  the first subscription: the broker LISTENs on a channel while a local callback wants it and
  UNLISTENs when the last one goes, and fans each notification out to the local callbacks. When
  that connection drops (server restart, terminated backend, network) it reconnects with
  exponential backoff, LISTENs again on every channel still wanted, and logs what was lost.

Delivery is at most once, as with Redis: a notification sent while the LISTEN connection is down
is lost, and nothing is ever sent twice. PostgreSQL's own limits are checked before anything is
sent (https://www.postgresql.org/docs/current/sql-notify.html): a payload must be shorter than
8000 bytes, and a channel name is an identifier of at most 63 bytes (``NAMEDATALEN - 1``),
always double-quoted here, so that ``"Orders"`` and ``"orders"`` are two channels.

Example::

    broker = PostgresBroker.from_url("postgresql://app:secret@127.0.0.1/shop")
    realtime = RealtimeManager(broker=broker)     # or RealtimeManager(broker_url="postgresql://...")
    sub = await broker.subscribe("orders", print)
    await broker.publish("orders", {"id": 1})
    await broker.close()
"""
import asyncio
import inspect
import logging
import random
from typing import Any, Dict, List, Optional, Set

from covet.database.errors import DatabaseError
from covet.database.postgres.connection import PGConnection, quote_ident
from covet.database.postgres.startup import parse_url
from covet.realtime import Broker, Message, RedisBroker, check_channel

__all__ = ["PostgresBroker", "check_notify_channel", "MAX_NOTIFY_PAYLOAD", "MAX_NOTIFY_CHANNEL",
           "DEFAULT_RECONNECT_BACKOFF", "MAX_RECONNECT_BACKOFF"]

# PostgreSQL's async.c refuses a payload whose length in bytes (in the database's encoding) is not
# below NOTIFY_PAYLOAD_MAX_LENGTH = BLCKSZ - NAMEDATALEN - 128, 8000 on a default build: "payload
# string too long". Counted here in UTF-8, the client encoding covet sets.
MAX_NOTIFY_PAYLOAD = 7999
# A channel name is an identifier: pg_notify() refuses one of NAMEDATALEN (64) bytes or more
# ("channel name too long"), and LISTEN would silently truncate it to 63 (with only a NOTICE), so
# that publisher and listener would disagree on the name.
MAX_NOTIFY_CHANNEL = 63
# Seconds before the first reconnection attempt of the LISTEN connection; doubled after each failure
# up to MAX_RECONNECT_BACKOFF, with jitter so that the workers of a restarted server do not all
# knock at the same instant.
DEFAULT_RECONNECT_BACKOFF = 0.1
MAX_RECONNECT_BACKOFF = 10.0

_log = logging.getLogger("covet.realtime.postgres")

# The names PGConnection.connect accepts: checked when the broker is made, not at its first connect.
_CONNECT_SIGNATURE = inspect.signature(PGConnection.connect)


def check_notify_channel(channel: Any) -> str:
    """``channel`` when PostgreSQL can LISTEN and NOTIFY on it: a ``covet.realtime`` channel name
    (a non-empty str) of at most ``MAX_NOTIFY_CHANNEL`` UTF-8 bytes, without NUL.

    Example::

        assert check_notify_channel("Orders") == "Orders"
        check_notify_channel("x" * 64)      # ValueError: at most 63 bytes
    """
    check_channel(channel)
    size = len(channel.encode("utf-8"))
    if size > MAX_NOTIFY_CHANNEL:
        raise ValueError("a PostgreSQL channel name is an identifier of at most %d bytes of UTF-8, got %d"
                         % (MAX_NOTIFY_CHANNEL, size))
    if "\x00" in channel:
        raise ValueError("a PostgreSQL channel name cannot contain NUL")
    return channel


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("%s must be a positive number of seconds, got %r" % (name, value))
    return float(value)


class PostgresBroker(Broker):
    """A ``covet.realtime.Broker`` on PostgreSQL LISTEN/NOTIFY (see the module docstring).

    ``publish`` returns 1 once PostgreSQL has accepted the notification: the server does not say
    how many sessions listen. A payload on a channel that is not JSON (a ``NOTIFY`` from SQL, a
    trigger) is delivered as a JSON string of its text; one over ``max_message_size`` is dropped
    and logged.

    :param url: ``postgresql://user:password@host:port/database?sslmode=...`` (``parse_url``).
    :param max_message_size: largest message in UTF-8 bytes, at most ``MAX_NOTIFY_PAYLOAD``.
    :param reconnect_backoff: seconds before the first reconnection of the LISTEN connection.
    :param max_reconnect_backoff: the longest wait between two reconnection attempts.
    :param connect_options: more ``PGConnection.connect`` arguments (``ca_file``, ...). The
        connections are named ``covet-broker-listen`` and ``covet-broker-publish`` in
        ``pg_stat_activity`` unless ``application_name`` says otherwise.

    Attributes: ``listener`` and ``publisher`` (the two ``PGConnection``\\ s, None until needed),
    ``reconnects`` (how many times the LISTEN connection came back).

    Example::

        broker = PostgresBroker("postgresql://app:secret@127.0.0.1/shop")
        async with await broker.subscribe("orders", inbox.append):
            assert await broker.publish("orders", {"id": 7}) == 1
        await broker.close()
    """

    def __init__(self, url: str, *, max_message_size: int = MAX_NOTIFY_PAYLOAD,
                 reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF,
                 max_reconnect_backoff: float = MAX_RECONNECT_BACKOFF,
                 connect_options: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(max_message_size=max_message_size)
        if max_message_size > MAX_NOTIFY_PAYLOAD:
            raise ValueError("max_message_size=%d exceeds what PostgreSQL's NOTIFY carries (%d bytes)"
                             % (max_message_size, MAX_NOTIFY_PAYLOAD))
        if not isinstance(url, str):
            raise TypeError("url must be a postgresql:// URL, not %s" % type(url).__name__)
        self.reconnect_backoff = _positive_number("reconnect_backoff", reconnect_backoff)
        self.max_reconnect_backoff = _positive_number("max_reconnect_backoff", max_reconnect_backoff)
        if self.max_reconnect_backoff < self.reconnect_backoff:
            raise ValueError("max_reconnect_backoff must not be below reconnect_backoff")
        options = parse_url(url)
        options.update(connect_options or {})
        try:
            _CONNECT_SIGNATURE.bind(**options)
        except TypeError as exc:
            raise TypeError("connect_options: %s" % exc) from None
        self._options = options
        self.listener: Optional[PGConnection] = None
        self.publisher: Optional[PGConnection] = None
        self.reconnects = 0
        # The channels the server should LISTEN on: every channel with a local callback, and the
        # one being joined. The LISTEN connection's state follows it, re-LISTENed after a reconnect.
        self._wanted: Set[str] = set()
        self._listen_task: "Optional[asyncio.Task[None]]" = None
        self._publish_watch: "Optional[asyncio.Task[None]]" = None
        # Made in the running loop on first use (Python 3.9's Lock binds the loop it is made in).
        self._state_lock: Optional[asyncio.Lock] = None
        self._publish_lock: Optional[asyncio.Lock] = None

    @classmethod
    def from_url(cls, url: str, *, max_message_size: int = MAX_NOTIFY_PAYLOAD,
                 reconnect_backoff: float = DEFAULT_RECONNECT_BACKOFF,
                 max_reconnect_backoff: float = MAX_RECONNECT_BACKOFF, **connect_options: Any) -> "PostgresBroker":
        """A broker for ``url``, as ``RedisBroker.from_url``; keyword arguments beyond the broker's
        own go to ``PGConnection.connect``.

        Example::

            broker = PostgresBroker.from_url("postgresql://app@db/shop?sslmode=verify-full",
                                             ca_file="/etc/ssl/pg-ca.pem")
        """
        return cls(url, max_message_size=max_message_size, reconnect_backoff=reconnect_backoff,
                   max_reconnect_backoff=max_reconnect_backoff, connect_options=connect_options)

    @staticmethod
    def decode(channel: str, payload: bytes) -> Message:
        """The ``Message`` of a notification's payload, by ``RedisBroker.decode``'s rule: JSON as
        is, anything else as a JSON string of its text."""
        return RedisBroker.decode(channel, payload)

    async def _connect(self, role: str) -> PGConnection:
        options = dict(self._options)
        options.setdefault("application_name", "covet-broker-" + role)
        return await PGConnection.connect(**options)

    # --- publishing ---------------------------------------------------------------------------------

    async def publish_text(self, channel: str, text: str) -> int:
        check_notify_channel(channel)
        size = len(text.encode("utf-8"))
        if size > MAX_NOTIFY_PAYLOAD:
            raise ValueError("message of %d bytes exceeds PostgreSQL's NOTIFY payload limit (%d bytes)"
                             % (size, MAX_NOTIFY_PAYLOAD))
        conn = await self._publishing_connection()
        # A failure here is raised, never retried: the server may have sent the notification
        # before the connection broke, and a second one would break "at most once".
        await conn.execute("SELECT pg_notify($1, $2)", [channel, text])
        return 1

    async def _publishing_connection(self) -> PGConnection:
        if self._publish_lock is None:
            self._publish_lock = asyncio.Lock()
        async with self._publish_lock:
            conn = self.publisher
            if conn is not None and not conn.closed:
                return conn
            if conn is not None:
                _log.info("the publishing connection to PostgreSQL was closed; opening another")
            await _finish(self._publish_watch)
            conn = self.publisher = await self._connect("publish")
            # Reading the idle connection notices the server ending it (a FATAL message, then the
            # end of the stream), so ``closed`` is true before the next publish tries it.
            self._publish_watch = asyncio.get_running_loop().create_task(
                _drain(conn), name="covet-broker-publish-watch")
            return conn

    # --- subscribing -------------------------------------------------------------------------------

    @property
    def channels_listened(self) -> List[str]:
        """The channels the LISTEN connection listens on, or will again once reconnected (sorted)."""
        return sorted(self._wanted)

    def _state(self) -> asyncio.Lock:
        if self._state_lock is None:
            self._state_lock = asyncio.Lock()
        return self._state_lock

    async def listen(self, channel: str) -> None:
        check_notify_channel(channel)
        async with self._state():
            conn = self.listener
            if conn is None:
                # The first channel: connect now, so that a server that cannot be reached fails this
                # subscribe (and refuses the WebSocket's handshake) with nothing left behind.
                conn = self.listener = await self._connect("listen")
                self._listen_task = asyncio.get_running_loop().create_task(
                    self._listen_loop(conn), name="covet-broker-listen")
            self._wanted.add(channel)
            if conn.closed:
                return  # dropped: the listening task reconnects and LISTENs on every wanted channel
            try:
                await conn.simple_query("LISTEN " + quote_ident(channel))
            except BaseException:
                if conn.closed:
                    return  # as above
                # A LISTEN the server refused, or a subscriber cancelled mid-way (the connection
                # recovers; a LISTEN that did complete only brings notifications nobody wants,
                # which deliver() ignores, until the channel's next UNLISTEN).
                self._wanted.discard(channel)
                raise

    async def unlisten(self, channel: str) -> None:
        async with self._state():
            self._wanted.discard(channel)
            conn = self.listener
            if conn is None or conn.closed:
                return  # the server forgot the connection's channels with it; none is re-LISTENed
            try:
                # Quoted, never UNLISTEN *: a channel may well be named "*".
                await conn.simple_query("UNLISTEN " + quote_ident(channel))
            except (DatabaseError, OSError) as exc:
                # Locally the channel is gone either way; what still arrives for it finds no callback.
                _log.warning("UNLISTEN %r failed: %s", channel, exc)

    async def _listen_loop(self, conn: PGConnection) -> None:
        while True:
            seen_dropped = conn.notifications_dropped
            async for note in conn.notifications():
                if conn.notifications_dropped != seen_dropped:
                    _log.warning("lost %d notifications: the event loop did not keep up with the LISTEN "
                                 "connection's queue (max_notifications=%d)",
                                 conn.notifications_dropped - seen_dropped, conn.max_notifications)
                    seen_dropped = conn.notifications_dropped
                self._receive(note.channel, note.payload)
            # The connection ended without close() (which cancels this task first).
            async with self._state():
                if not self._wanted:
                    self.listener = self._listen_task = None
                    _log.info("the LISTEN connection to PostgreSQL closed while no channel was wanted")
                    return
                lost = sorted(self._wanted)
            _log.warning("the LISTEN connection to PostgreSQL was lost; reconnecting. Notifications on %s "
                         "sent until it is back are lost (delivery is at most once)", ", ".join(map(repr, lost)))
            conn = await self._reconnect()

    async def _reconnect(self) -> PGConnection:
        loop = asyncio.get_running_loop()
        started = loop.time()
        delay = self.reconnect_backoff
        attempt = 0
        while True:
            attempt += 1
            conn: Optional[PGConnection] = None
            try:
                conn = await self._connect("listen")
                async with self._state():
                    channels = sorted(self._wanted)
                    if channels:  # one round trip for all of them
                        await conn.simple_query(";".join("LISTEN " + quote_ident(c) for c in channels))
                    self.listener = conn
            except (DatabaseError, OSError) as exc:
                if conn is not None:
                    await conn.close()
                # Full jitter: between half the delay and all of it.
                wait = delay * random.uniform(0.5, 1.0)
                _log.warning("reconnecting the LISTEN connection to PostgreSQL failed (attempt %d): %s; "
                             "next attempt in %.2f s", attempt, exc, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.max_reconnect_backoff)
                continue
            except BaseException:
                # close() cancelled us between connecting and handing the connection over.
                if conn is not None and conn is not self.listener:
                    await conn.close()
                raise
            self.reconnects += 1
            _log.warning("the LISTEN connection to PostgreSQL is back after %.2f s (%d attempts), listening "
                         "on %d channels again; notifications sent meanwhile were lost",
                         loop.time() - started, attempt, len(channels))
            return conn

    def _receive(self, channel: str, payload: str) -> None:
        raw = payload.encode("utf-8")
        if len(raw) > self.max_message_size:
            _log.warning("dropped a notification of %d bytes on channel %r (max_message_size=%d)",
                         len(raw), channel, self.max_message_size)
            return
        self.deliver(self.decode(channel, raw))

    # --- closing -------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the tasks and close both connections; the broker may be used again afterwards
        (it reconnects on demand)."""
        self._callbacks.clear()
        self._wanted.clear()
        tasks = [t for t in (self._listen_task, self._publish_watch) if t is not None]
        conns = [c for c in (self.listener, self.publisher) if c is not None]
        self._listen_task = self._publish_watch = None
        self.listener = self.publisher = None
        for task in tasks:
            task.cancel()
        for conn in conns:
            await conn.close()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _drain(conn: PGConnection) -> None:
    """Read ``conn`` while it is idle until it closes (the publishing connection LISTENs on nothing)."""
    async for _ in conn.notifications():
        pass


async def _finish(task: "Optional[asyncio.Task[None]]") -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
