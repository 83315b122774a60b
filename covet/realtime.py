"""Real-time publish/subscribe: ``RealtimeManager`` forwards messages on named channels to WebSockets.

Messages travel through a **broker**: ``InProcessBroker`` (no URL: publishers and subscribers
share one process), ``RedisBroker`` (PUBLISH through Redis, so a message published by any worker on
any host reaches the subscribers of every other) or ``PostgresBroker`` (the same through
PostgreSQL's LISTEN/NOTIFY, ``covet.database.postgres.broker``; ``broker_url="postgresql://..."``
picks it). The broker is public API, with a
callback-style subscription, so other features (``WebSocketManager(redis_url=...)``) broadcast across
workers with it too.

A message is any JSON value (``json.dumps`` with ``allow_nan=False``: NaN and Infinity are not JSON,
RFC 8259 §6). It is encoded once when published; a WebSocket receives it as a text frame holding
the envelope ``{"channel": "<channel>", "data": <message>}``.

Delivery is at most once: a message published while a subscriber is not (yet) subscribed, while the
Redis connection is being re-established, or when the subscriber's queue is full, is lost, as Redis
pub/sub itself loses it. Use a stream or a database for messages that must not be lost.

The WebSocket is duck-typed; ``subscribe`` relies on:

- ``accepted`` (optional attribute): when false or missing, ``await websocket.accept()`` is called;
- ``await websocket.send_text(str)``;
- ``await websocket.receive()``: raises an exception whose class is named ``WebSocketDisconnect``
  when the client goes (an ASGI-style ``{"type": "websocket.disconnect"}`` return value counts too);
  what the client sends is read and discarded;
- ``await websocket.close(code)``.

Example::

    realtime = RealtimeManager(redis_url="redis://localhost:6379")

    @app.post("/notify")
    async def notify(request):
        await realtime.publish("notifications", await request.json())
        return {"status": "sent"}

    @app.websocket("/ws/notifications")
    async def notifications_ws(websocket):
        await realtime.subscribe(websocket, ["notifications", "alerts"])
"""
import abc
import asyncio
import collections
import collections.abc
import importlib
import json
import logging
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Union

from .redis import PubSub, Redis, RedisError

__all__ = [
    "RealtimeManager",
    "Broker",
    "InProcessBroker",
    "RedisBroker",
    "Message",
    "Subscription",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MAX_CHANNEL_LENGTH",
    "MAX_CHANNELS_PER_SUBSCRIBE",
    "CLOSE_TIMEOUT",
    "CLOSE_POLICY_VIOLATION",
    "broker_from_url",
]

# Messages waiting to be sent to one WebSocket. A client that falls this far behind is closed
# instead of being waited for: one slow socket must not stall the fan-out to the others, nor hold
# messages in memory without bound. The queued strings are shared by every socket they go to.
DEFAULT_QUEUE_SIZE = 100
# Largest encoded message (UTF-8 bytes of its JSON). The same as covet's WebSocket message limit
# (1 MiB, close 1009 when a client sends more), so what a covet client may send a covet server may
# forward; larger ones are refused at publish, and dropped (logged) when another Redis client
# published them.
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
# Longest channel name in UTF-8 bytes. Names often come from a URL (a room); each is a key in this
# process's subscription table and in the Redis server's.
MAX_CHANNEL_LENGTH = 256
# Most channels one ``subscribe(websocket, channels)`` call may name: each is a subscription held
# for as long as the socket stays, on the broker and (with Redis) on the server.
MAX_CHANNELS_PER_SUBSCRIBE = 64
# Seconds to wait for a slow client's close handshake before giving up on it (RFC 6455 §7.1.1 lets
# the server drop the TCP connection itself).
CLOSE_TIMEOUT = 5.0
# RFC 6455 §7.4.1: 1008, "an endpoint is terminating the connection because it has received a
# message that violates its policy", the generic code for a client that broke the rules (here: it
# did not keep up).
CLOSE_POLICY_VIOLATION = 1008

_log = logging.getLogger("covet.realtime")


def check_channel(channel: Any) -> str:
    """``channel`` when it is a non-empty str of at most ``MAX_CHANNEL_LENGTH`` UTF-8 bytes.

    Example::

        assert check_channel("room:42") == "room:42"
    """
    if not isinstance(channel, str):
        raise TypeError("a channel name must be a str, not %s" % type(channel).__name__)
    try:
        size = len(channel.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("channel name %r is not valid UTF-8 text (lone surrogate)" % (channel,)) from None
    if not 0 < size <= MAX_CHANNEL_LENGTH:
        raise ValueError("a channel name must be 1 to %d bytes of UTF-8, got %d" % (MAX_CHANNEL_LENGTH, size))
    return channel


class Message:
    """One published message as subscribers get it: its ``channel``, its JSON text ``json``, the decoded
    ``data`` (decoded once, on first use, and shared by every subscriber: treat it as read-only) and the
    ``envelope`` a WebSocket receives, ``{"channel": ..., "data": ...}`` (built once, on first use).

    Example::

        m = Message("news", '{"title":"hi"}')
        assert m.data == {"title": "hi"}
        assert m.envelope == '{"channel":"news","data":{"title":"hi"}}'
    """

    __slots__ = ("channel", "json", "_data", "_envelope")

    _UNSET: Any = object()

    def __init__(self, channel: str, json_text: str, data: Any = _UNSET) -> None:
        self.channel = channel
        self.json = json_text
        self._data = data
        self._envelope: Optional[str] = None

    @property
    def data(self) -> Any:
        """The message as a Python value."""
        if self._data is Message._UNSET:
            self._data = json.loads(self.json)
        return self._data

    @property
    def envelope(self) -> str:
        """The text a WebSocket subscriber receives: ``{"channel":<channel>,"data":<message>}``."""
        if self._envelope is None:
            self._envelope = '{"channel":%s,"data":%s}' % (json.dumps(self.channel, ensure_ascii=False), self.json)
        return self._envelope

    def __repr__(self) -> str:
        return "<Message %r %s>" % (self.channel, self.json[:60])


Callback = Callable[[Message], Any]


class Subscription:
    """A callback's subscription to one channel; ``await subscription.unsubscribe()`` ends it (idempotent).

    Example::

        sub = await broker.subscribe("news", inbox.append)
        ...
        await sub.unsubscribe()
    """

    __slots__ = ("broker", "channel", "callback", "active")

    def __init__(self, broker: "Broker", channel: str, callback: Callback) -> None:
        self.broker = broker
        self.channel = channel
        self.callback = callback
        self.active = True

    async def unsubscribe(self) -> None:
        """Stop delivering to the callback; the broker leaves the channel when no callback is left."""
        if self.active:
            self.active = False
            await self.broker.remove(self)

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.unsubscribe()


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not JSON" % name)


class Broker(abc.ABC):
    """The contract of a message broker: ``publish``, callback ``subscribe``, ``close``.

    A subclass supplies ``publish_text`` (send one encoded message to every subscriber, wherever
    they are), ``listen(channel)`` and ``unlisten(channel)`` (start and stop receiving a channel:
    called for the first local callback of a channel and after its last). Incoming messages go
    to ``deliver``, which calls this process's callbacks.

    Callbacks are plain functions called in the event loop, once per message, with a ``Message``;
    they must not block (put the message on a queue). One that raises is logged and stays subscribed.

    :param max_message_size: largest encoded message in UTF-8 bytes.

    Example::

        broker = InProcessBroker()
        inbox = []
        sub = await broker.subscribe("news", inbox.append)
        assert await broker.publish("news", {"title": "hi"}) == 1
        assert inbox[0].data == {"title": "hi"}
        await sub.unsubscribe()
    """

    def __init__(self, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if not isinstance(max_message_size, int) or isinstance(max_message_size, bool) or max_message_size < 1:
            raise ValueError("max_message_size must be a positive integer, got %r" % (max_message_size,))
        self.max_message_size = max_message_size
        self._callbacks: Dict[str, List[Callback]] = {}
        self._lock: Optional[asyncio.Lock] = None

    @property
    def channels(self) -> List[str]:
        """The channels this process has at least one callback on."""
        return list(self._callbacks)

    def subscriber_count(self, channel: str) -> int:
        """How many local callbacks ``channel`` has (each subscribed WebSocket is one)."""
        return len(self._callbacks.get(channel, ()))

    def encode(self, message: Any) -> str:
        """``message`` as compact JSON text; TypeError/ValueError when it is not JSON or too large."""
        try:
            text = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise type(exc)("a published message must be JSON-serialisable: %s" % exc) from None
        if len(text) > self.max_message_size or len(text.encode("utf-8")) > self.max_message_size:
            raise ValueError("message of %d bytes exceeds max_message_size=%d"
                             % (len(text.encode("utf-8")), self.max_message_size))
        return text

    async def publish(self, channel: str, message: Any) -> int:
        """Send ``message`` to every subscriber of ``channel``; returns how many received it (for Redis:
        subscriber connections on the server, one per subscribed process, not per callback)."""
        return await self.publish_text(check_channel(channel), self.encode(message))

    @abc.abstractmethod
    async def publish_text(self, channel: str, text: str) -> int:
        """Send an already encoded message (JSON text) (each broker implements it)."""

    @abc.abstractmethod
    async def listen(self, channel: str) -> None:
        """Start receiving ``channel`` (its first local callback arrived) (each broker implements it)."""

    @abc.abstractmethod
    async def unlisten(self, channel: str) -> None:
        """Stop receiving ``channel`` (its last local callback left) (each broker implements it)."""

    def _get_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def subscribe(self, channel: str, callback: Callback) -> Subscription:
        """Call ``callback(message)`` for every message on ``channel`` until the returned
        ``Subscription`` is unsubscribed; returns once the broker receives the channel."""
        check_channel(channel)
        if not callable(callback):
            raise TypeError("callback must be callable, not %s" % type(callback).__name__)
        # One lock orders the first listen and the last unlisten of every channel, so that a
        # subscriber arriving while a channel is being left (or joined) finds it joined on return.
        async with self._get_lock():
            callbacks = self._callbacks.get(channel)
            if callbacks is None:
                await self.listen(channel)
                callbacks = self._callbacks[channel] = []
            callbacks.append(callback)
        return Subscription(self, channel, callback)

    async def remove(self, subscription: Subscription) -> None:
        """End ``subscription`` (``Subscription.unsubscribe`` calls this)."""
        async with self._get_lock():
            callbacks = self._callbacks.get(subscription.channel)
            if callbacks is None or subscription.callback not in callbacks:
                return
            callbacks.remove(subscription.callback)
            if callbacks:
                return
            del self._callbacks[subscription.channel]
            try:
                await self.unlisten(subscription.channel)
            except RedisError as exc:
                # Locally the channel is gone either way; the server's side ends with the connection.
                _log.warning("leaving channel %r failed: %s", subscription.channel, exc)

    def deliver(self, message: Message) -> int:
        """Call every local callback of ``message.channel``; returns how many were called."""
        callbacks = self._callbacks.get(message.channel)
        if not callbacks:
            return 0
        for callback in list(callbacks):
            try:
                callback(message)
            except Exception:
                _log.exception("realtime subscriber callback %r failed on channel %r", callback, message.channel)
        return len(callbacks)

    async def close(self) -> None:
        """Release what the broker holds (connections, tasks)."""


class InProcessBroker(Broker):
    """Publishers and subscribers in one process: ``publish`` calls the callbacks directly.

    Example::

        realtime = RealtimeManager()          # uses an InProcessBroker
        assert isinstance(realtime.broker, InProcessBroker)
    """

    async def publish_text(self, channel: str, text: str) -> int:
        return self.deliver(Message(channel, text))

    async def listen(self, channel: str) -> None:
        pass

    async def unlisten(self, channel: str) -> None:
        pass


class RedisBroker(Broker):
    """Messages through Redis: ``publish`` is a PUBLISH on the client's pool, and one ``PubSub``
    connection per broker (one per process, when the process has one broker) receives every channel
    some local callback wants, subscribing to a channel only while one does, and fans each message
    out to the local callbacks. The PubSub reconnects and resubscribes after a drop.

    A payload on a channel that is not JSON (PUBLISHed by another program) is delivered as a JSON
    string of its text (invalid UTF-8 replaced by U+FFFD); one over ``max_message_size`` is dropped
    and logged.

    :param redis: the client (its settings make the subscriber's connection too).
    :param owns_client: close the client with the broker (``from_url`` sets it).
    :param pubsub_options: passed to ``redis.pubsub()`` (``max_buffered``, ``reconnect_backoff``...).

    Example::

        broker = RedisBroker.from_url("redis://localhost:6379/0")
        sub = await broker.subscribe("orders", print)
        await broker.publish("orders", {"id": 1})
        await broker.close()
    """

    def __init__(self, redis: Redis, *, owns_client: bool = False, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 pubsub_options: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(max_message_size=max_message_size)
        if not isinstance(redis, Redis):
            raise TypeError("redis must be a covet.redis.Redis client, not %s" % type(redis).__name__)
        self.redis = redis
        self.owns_client = owns_client
        self.pubsub_options = dict(pubsub_options or {})
        self.pubsub: Optional[PubSub] = None
        self._dispatcher: "Optional[asyncio.Task[None]]" = None

    @classmethod
    def from_url(cls, url: str, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 pubsub_options: Optional[Dict[str, Any]] = None, **client_options: Any) -> "RedisBroker":
        """A broker on a new client for ``url`` (``Redis.from_url``), closed with the broker."""
        return cls(Redis.from_url(url, **client_options), owns_client=True, max_message_size=max_message_size,
                   pubsub_options=pubsub_options)

    async def publish_text(self, channel: str, text: str) -> int:
        return int(await self.redis.publish(channel, text))

    async def listen(self, channel: str) -> None:
        if self.pubsub is None or self.pubsub.closed:
            self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True, **self.pubsub_options)
        await self.pubsub.subscribe(channel)
        if self._dispatcher is None:
            self._dispatcher = asyncio.get_running_loop().create_task(
                self._dispatch(self.pubsub), name="covet-realtime-dispatch")

    async def unlisten(self, channel: str) -> None:
        if self.pubsub is not None:
            await self.pubsub.unsubscribe(channel)

    async def _dispatch(self, pubsub: PubSub) -> None:
        async for item in pubsub.listen():
            if item["type"] != "message":
                continue
            payload = item["data"]
            if len(payload) > self.max_message_size:
                _log.warning("dropped a message of %d bytes on channel %r (max_message_size=%d)",
                             len(payload), item["channel"], self.max_message_size)
                continue
            self.deliver(self.decode(item["channel"], payload))

    @staticmethod
    def decode(channel: str, payload: bytes) -> Message:
        """A ``Message`` from a PUBLISHed payload: JSON as is, anything else as a JSON string of its text."""
        text = payload.decode("utf-8", "replace")
        try:
            # Python's json accepts NaN and Infinity; browsers' JSON.parse does not (RFC 8259 §6).
            data = json.loads(text, parse_constant=_reject_constant)
        except ValueError:
            return Message(channel, json.dumps(text, ensure_ascii=False), text)
        return Message(channel, text, data)

    async def close(self) -> None:
        """Close the subscriber connection, stop the dispatcher, and close the client if owned."""
        pubsub, self.pubsub = self.pubsub, None
        dispatcher, self._dispatcher = self._dispatcher, None
        self._callbacks.clear()
        if pubsub is not None:
            await pubsub.close()  # ends listen(), so the dispatcher returns
        if dispatcher is not None:
            await dispatcher
        if self.owns_client:
            await self.redis.close()


# URL scheme -> the module and class of its broker, imported when a URL names it. The PostgreSQL
# broker lives with the PostgreSQL client and imports this module (it subclasses Broker), so it is
# named here, not imported: importing covet.realtime never loads the database package, and neither
# module imports the other both ways (the same by-name loading as covet.core.services).
_BROKER_SCHEMES: Dict[str, str] = {
    "postgresql": "covet.database.postgres.broker:PostgresBroker",
    "postgres": "covet.database.postgres.broker:PostgresBroker",
}


def broker_from_url(url: str, **options: Any) -> Broker:
    """The broker for ``url``, by its scheme: ``redis://``, ``rediss://`` and ``unix://`` make a
    ``RedisBroker``, ``postgresql://`` (or ``postgres://``) a ``PostgresBroker``
    (``covet.database.postgres.broker``: LISTEN/NOTIFY). ``options`` go to the class's ``from_url``.

    Example::

        broker = broker_from_url("postgresql://app:secret@127.0.0.1/shop")
        assert type(broker).__name__ == "PostgresBroker"
    """
    if not isinstance(url, str):
        raise TypeError("a broker URL must be a str, not %s" % type(url).__name__)
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix"):
        return RedisBroker.from_url(url, **options)
    target = _BROKER_SCHEMES.get(scheme)
    if target is None:
        # Only the scheme is quoted back: the rest of a URL may hold a password.
        raise ValueError("a broker URL starts with redis://, rediss://, unix:// or postgresql://, not %s"
                         % ("%r" % (scheme + "://") if scheme else "a URL without a scheme"))
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls.from_url(url, **options)  # type: ignore[no-any-return]


def _is_disconnect(exc: BaseException) -> bool:
    return any(cls.__name__ == "WebSocketDisconnect" for cls in type(exc).__mro__)


def _channel_list(channels: Union[str, Iterable[str]]) -> List[str]:
    if isinstance(channels, str):
        channels = [channels]
    elif isinstance(channels, (bytes, bytearray, dict)) or not isinstance(channels, collections.abc.Iterable):
        raise TypeError("channels must be a list of channel names, not %s" % type(channels).__name__)
    names = list(dict.fromkeys(check_channel(c) for c in channels))
    if not names:
        raise ValueError("subscribe needs at least one channel")
    if len(names) > MAX_CHANNELS_PER_SUBSCRIBE:
        raise ValueError("at most %d channels per subscribe, got %d" % (MAX_CHANNELS_PER_SUBSCRIBE, len(names)))
    return names


class RealtimeManager:
    """Publish messages on channels and forward them to subscribed WebSockets.

    :param redis_url: a Redis URL for cross-process delivery (``RedisBroker``); with none of the
        three broker arguments, messages stay in this process (``InProcessBroker``).
    :param broker_url: a broker chosen by the URL's scheme (``broker_from_url``): ``redis://``,
        ``rediss://``, ``unix://`` or ``postgresql://`` (LISTEN/NOTIFY).
    :param broker: a ``Broker`` to use instead (only one of ``redis_url``, ``broker_url``, ``broker``).
    :param queue_size: messages queued per WebSocket before it is closed with 1008 as too slow.
    :param max_message_size: largest encoded message, in UTF-8 bytes; by default the broker's own
        (``DEFAULT_MAX_MESSAGE_SIZE``; 7999 for PostgreSQL, whose NOTIFY carries no more).

    ``broker`` is public: ``realtime.broker.subscribe(channel, callback)`` receives the same messages.
    Close the manager on shutdown (``app.on_shutdown(realtime.close)``).

    Example::

        realtime = RealtimeManager(redis_url="redis://localhost:6379")

        @app.websocket("/ws/notifications")
        async def notifications_ws(websocket):
            await realtime.subscribe(websocket, ["notifications", "alerts"])
    """

    def __init__(self, redis_url: Optional[str] = None, *, broker: Optional[Broker] = None,
                 broker_url: Optional[str] = None, queue_size: int = DEFAULT_QUEUE_SIZE,
                 max_message_size: Optional[int] = None) -> None:
        if not isinstance(queue_size, int) or isinstance(queue_size, bool) or queue_size < 1:
            raise ValueError("queue_size must be a positive integer, got %r" % (queue_size,))
        if sum(x is not None for x in (redis_url, broker, broker_url)) > 1:
            raise ValueError("pass one of redis_url, broker_url and broker, not both")
        options = {} if max_message_size is None else {"max_message_size": max_message_size}
        if broker is not None:
            if not isinstance(broker, Broker):
                raise TypeError("broker must be a covet.realtime.Broker, not %s" % type(broker).__name__)
            self.broker = broker
        elif broker_url is not None:
            self.broker = broker_from_url(broker_url, **options)
        elif redis_url is not None:
            self.broker = RedisBroker.from_url(redis_url, **options)
        else:
            self.broker = InProcessBroker(**options)
        self.queue_size = queue_size

    async def publish(self, channel: str, message: Any) -> int:
        """Send ``message`` (any JSON value) to the subscribers of ``channel``; returns how many the broker reached."""
        return await self.broker.publish(channel, message)

    async def subscribe(self, websocket: Any, channels: Union[str, Iterable[str]]) -> None:
        """Forward every message on ``channels`` to ``websocket`` until the client disconnects.

        Accepts the socket if it is not accepted yet, once the channels are subscribed (so a
        client whose handshake completed receives everything published after). Each message
        arrives as a text frame holding
        ``{"channel": ..., "data": ...}``. Returns when the client goes away, or after closing the
        socket with 1008 when it fell ``queue_size`` messages behind; either way every subscription
        is ended and no task is left running.
        """
        names = _channel_list(channels)
        loop = asyncio.get_running_loop()
        queue: Deque[str] = collections.deque()
        ready = asyncio.Event()
        overflow: "asyncio.Future[None]" = loop.create_future()
        limit = self.queue_size

        def deliver(message: Message) -> None:
            if len(queue) >= limit:
                if not overflow.done():
                    overflow.set_result(None)
                return
            queue.append(message.envelope)
            ready.set()

        subscriptions: List[Subscription] = []
        try:
            for name in names:
                subscriptions.append(await self.broker.subscribe(name, deliver))
            # Accepted only once every channel is subscribed: a client that sees the handshake
            # complete gets every message published after that (what arrives in between waits in
            # the queue), and a broker that cannot subscribe refuses the handshake (HTTP 500)
            # instead of accepting a socket that would never receive anything.
            if not getattr(websocket, "accepted", False):
                await websocket.accept()
            await self._pump(websocket, queue, ready, overflow)
        finally:
            for subscription in subscriptions:
                await subscription.unsubscribe()

    async def close(self) -> None:
        """Close the broker (its Redis connections and tasks); sockets still subscribed stop receiving."""
        await self.broker.close()

    async def __aenter__(self) -> "RealtimeManager":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _pump(self, websocket: Any, queue: Deque[str], ready: asyncio.Event,
                    overflow: "asyncio.Future[None]") -> None:
        loop = asyncio.get_running_loop()
        sender = loop.create_task(_send_loop(websocket, queue, ready))
        receiver = loop.create_task(_receive_loop(websocket))
        try:
            done, _ = await asyncio.wait({sender, receiver, overflow}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver):
                task.cancel()
            if not overflow.done():
                overflow.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
        if overflow in done:
            _log.warning("closing a realtime WebSocket that fell %d messages behind", self.queue_size)
            try:
                await asyncio.wait_for(websocket.close(CLOSE_POLICY_VIOLATION), CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, OSError):
                pass
            except Exception as exc:
                if not _is_disconnect(exc):
                    raise
            return
        for task in (receiver, sender):
            if task in done and not task.cancelled():
                exc = task.exception()
                if exc is not None and not (_is_disconnect(exc) or isinstance(exc, OSError)):
                    raise exc


async def _send_loop(websocket: Any, queue: Deque[str], ready: asyncio.Event) -> None:
    while True:
        while not queue:
            ready.clear()
            await ready.wait()
        await websocket.send_text(queue.popleft())


async def _receive_loop(websocket: Any) -> None:
    # The client's own messages are read (so pings, pongs and the close handshake are answered by
    # the WebSocket) and discarded.
    while True:
        message = await websocket.receive()
        if isinstance(message, dict) and message.get("type") == "websocket.disconnect":
            return
