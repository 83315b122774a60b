"""BrokerFanout: WebSocketManager broadcasts carried between workers by a ``covet.realtime`` broker.

``WebSocketManager(redis_url=...)`` makes one (on a ``RedisBroker``); any ``Broker`` works
(``BrokerFanout(InProcessBroker())`` joins managers of one process, which tests use). Each
envelope a manager publishes becomes one JSON message on one channel (``DEFAULT_FANOUT_CHANNEL``),
which every worker's fanout subscribes to; each worker's manager ignores its own.

What crosses the wire (one JSON object per broadcast)::

    {"origin": "<the sending manager's id>", "room": "lobby", "user": null, "text": "hello"}

- ``origin``: the sending manager's id (one per process), so it can skip its own echo;
- ``room`` / ``user``: the target (``null`` for every connection, or for a room broadcast);
  only ``str`` and ``int`` cross, since they are what JSON gives back equal (a tuple would come
  back a list, which is not even hashable): anything else raises ``TypeError`` at publish;
- exactly one of ``text`` (a str message), ``json`` (any other JSON value, re-encoded the same way
  on arrival) or ``bytes`` (a binary message, base64, RFC 4648 §4).

``exclude`` never crosses: it names sockets of the sending process, which other workers do not
hold. Delivery is at most once, as Redis pub/sub's: a worker whose subscriber connection is
being re-established misses what was published meanwhile.

Example::

    from covet.realtime import RedisBroker
    from covet.websocket import BrokerFanout, WebSocketManager

    manager = WebSocketManager(fanout=BrokerFanout(redis_url="redis://localhost:6379/0"))
    # the same as WebSocketManager(redis_url="redis://localhost:6379/0")
    app.on_shutdown(manager.close)
"""
import asyncio
import base64
import binascii
import logging
from typing import Any, Callable, Dict, Optional

from .._logging import ThrottledLog
from ..realtime import Broker, Message, RedisBroker, Subscription, check_channel
from ..redis import RedisError

__all__ = ["BrokerFanout", "DEFAULT_FANOUT_CHANNEL", "DEFAULT_FANOUT_MAX_MESSAGE_SIZE", "FANOUT_LOG_INTERVAL"]

#: The channel the managers of every worker meet on. Name another (``channel=``) to keep several
#: apps sharing one Redis apart, or several managers of one app.
DEFAULT_FANOUT_CHANNEL = "covet:ws:broadcast"

#: Largest envelope on the wire, in UTF-8 bytes of JSON. A message at covet's WebSocket message
#: limit (1 MiB) still fits once base64 (4/3) or JSON escaping has grown it; a larger broadcast
#: raises ``ValueError`` at publish, and a larger envelope another program published is dropped
#: (logged) before it is decoded, so no client of the channel can make every worker allocate more.
DEFAULT_FANOUT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024

#: Seconds between two log lines about the same failure (Redis down, a foreign payload on the
#: channel): every broadcast would otherwise log it again.
FANOUT_LOG_INTERVAL = 10.0

_log = logging.getLogger("covet.websocket")

Deliver = Callable[[Dict[str, Any]], None]


def _target(name: str, value: Any) -> Any:
    if value is None or (type(value) in (str, int)):
        return value
    raise TypeError("a %s that crosses workers must be a str or an int (JSON gives those back equal), not %s"
                    % (name, type(value).__name__))


class BrokerFanout:
    """A ``covet.websocket.Fanout`` over a ``covet.realtime.Broker``.

    :param broker: the broker to publish and subscribe with (not closed by ``close()``); or
    :param redis_url: make a ``RedisBroker`` for this URL at first use in the running event loop
        (so a manager created at import, before ``--workers`` forks, holds no connection), and close
        it with ``close()``.
    :param channel: the channel the workers meet on.
    :param max_message_size: largest envelope, in UTF-8 bytes of JSON.

    ``start()`` subscribes (the manager calls it on its first ``connect``, so a worker that holds
    sockets receives every envelope published after that call returned); ``publish`` starts too.
    ``close()`` unsubscribes and releases the broker it made; a later use starts again.

    Example::

        fanout = BrokerFanout(redis_url="redis://localhost:6379/0", channel="chat:fanout")
        manager = WebSocketManager(fanout=fanout)
    """

    def __init__(self, broker: Optional[Broker] = None, *, redis_url: Optional[str] = None,
                 channel: str = DEFAULT_FANOUT_CHANNEL,
                 max_message_size: int = DEFAULT_FANOUT_MAX_MESSAGE_SIZE) -> None:
        if (broker is None) == (redis_url is None):
            raise ValueError("pass a broker or a redis_url (one of them)")
        if broker is not None and not isinstance(broker, Broker):
            raise TypeError("broker must be a covet.realtime.Broker, not %s" % type(broker).__name__)
        if redis_url is not None and not isinstance(redis_url, str):
            raise TypeError("redis_url must be a str, not %s" % type(redis_url).__name__)
        self.channel = check_channel(channel)
        self.redis_url = redis_url
        self.max_message_size = max_message_size
        self.broker: Optional[Broker] = broker
        self._owns_broker = broker is None
        self._deliver: Optional[Deliver] = None
        self._subscription: Optional[Subscription] = None
        self._lock: Optional[asyncio.Lock] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._errors = ThrottledLog(_log, FANOUT_LOG_INTERVAL)
        self.dropped = 0  # envelopes received that were not ours to read (malformed, too large)

    def attach(self, deliver: Deliver) -> None:
        """Called once by the manager: ``deliver(envelope)`` gets every envelope published."""
        self._deliver = deliver

    @property
    def started(self) -> bool:
        """True while subscribed to the channel."""
        return self._subscription is not None

    async def start(self) -> bool:
        """Subscribe to the channel (once; later calls return at once). Returns whether it is
        subscribed: when Redis cannot be reached the failure is logged and the next call tries again
        (the manager's local broadcasts go on meanwhile)."""
        if self._subscription is not None:
            return True
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            if self._subscription is not None:
                return True
            if self.broker is None:
                self.broker = RedisBroker.from_url(self.redis_url, max_message_size=self.max_message_size)
            try:
                self._subscription = await self.broker.subscribe(self.channel, self._on_message)
            except (RedisError, OSError) as exc:
                self._errors.error("WebSocket fan-out: cannot subscribe to %r: %s; broadcasts reach this "
                                   "worker's sockets only until it can", self.channel, exc)
                return False
        return True

    def encode(self, envelope: Dict[str, Any]) -> Dict[str, Any]:
        """The wire form of a manager's envelope (TypeError for a room or user JSON cannot carry)."""
        wire = {"origin": str(envelope["origin"]), "room": _target("room", envelope.get("room")),
                "user": _target("user id", envelope.get("user"))}
        message = envelope["message"]
        if isinstance(message, str):
            wire["text"] = message
        elif isinstance(message, (bytes, bytearray, memoryview)):
            wire["bytes"] = base64.b64encode(bytes(message)).decode("ascii")
        else:
            wire["json"] = message
        return wire

    async def publish(self, envelope: Dict[str, Any]) -> None:
        """Send ``envelope`` to every worker. A Redis failure is logged, not raised: the sender's own
        sockets already have the message, and pub/sub is at most once anyway. A room or user id that
        cannot cross raises ``TypeError``, a message over ``max_message_size`` ``ValueError``."""
        wire = self.encode(envelope)
        await self.start()
        broker = self.broker
        if broker is None:  # closed while starting
            return
        text = broker.encode(wire)  # TypeError/ValueError: not JSON, or too large
        try:
            await broker.publish_text(self.channel, text)
        except (RedisError, OSError) as exc:
            self._errors.error("WebSocket fan-out: publishing to %r failed: %s; other workers missed "
                               "one broadcast", self.channel, exc)

    def decode(self, data: Any) -> Optional[Dict[str, Any]]:
        """A manager's envelope from the wire form, or None when ``data`` is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("origin"), str):
            return None
        room, user = data.get("room"), data.get("user")
        if not all(v is None or type(v) in (str, int) for v in (room, user)):
            return None
        kinds = [k for k in ("text", "bytes", "json") if k in data]
        if len(kinds) != 1:
            return None
        if kinds[0] == "text":
            message = data["text"]
            if not isinstance(message, str):
                return None
        elif kinds[0] == "bytes":
            if not isinstance(data["bytes"], str):
                return None
            try:
                message = base64.b64decode(data["bytes"].encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                return None
        else:
            message = data["json"]
        return {"origin": data["origin"], "room": room, "user": user, "message": message}

    def _on_message(self, message: Message) -> None:
        envelope = self.decode(message.data)
        if envelope is None:
            self.dropped += 1
            self._errors.error("WebSocket fan-out: dropped a message on %r that is not a covet envelope: %.80s",
                               self.channel, message.json)
            return
        if self._deliver is not None:
            self._deliver(envelope)

    async def close(self) -> None:
        """Unsubscribe, and close the broker when this fanout made it (from ``redis_url``)."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                await subscription.unsubscribe()
            except (RedisError, OSError) as exc:
                _log.warning("WebSocket fan-out: leaving %r failed: %s", self.channel, exc)
        if self._owns_broker and self.broker is not None:
            broker, self.broker = self.broker, None
            await broker.close()

    def __repr__(self) -> str:
        return "<BrokerFanout %r %s>" % (self.channel, "started" if self.started else "idle")
