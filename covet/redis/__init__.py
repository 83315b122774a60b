"""A small Redis client (RESP2) on asyncio streams, standard library only.

One concept per module, bottom up:

- ``errors``: ``RedisError`` and its family.
- ``resp``: the sans-IO protocol, ``RespParser`` (bytes in, replies out, with named limits)
  and ``pack_command`` (arguments to bytes).
- ``connection``: one stream pair with its parser, and the AUTH/SELECT handshake.
- ``state``: which commands leave a connection changed (SUBSCRIBE, MULTI without EXEC, SELECT...),
  so that the client closes it instead of pooling it.
- ``pool``: at most ``max_connections`` connections, bound to one event loop, failing fast for
  a moment after a failed connect; a connection with any unread byte is never handed out.
- ``commands``: the typed commands, written once for the client, pipelines and the blocking face.
- ``pubsub``: ``PubSub``, a subscriber on a dedicated connection with reconnect, resubscribe and a
  bounded buffer (``redis.pubsub()``).
- ``client``: ``Redis`` (settings, ``from_url``, a retry on a fresh connection when a pooled one
  turns out to be dead), ``Pipeline`` and ``Script`` (EVALSHA with an EVAL fallback on NOSCRIPT).
- ``blocking``: ``BlockingRedis``, the same client for plain ``def`` code on a private loop thread.

Replies: simple strings are ``str`` ("OK", "PONG"), bulk strings ``bytes``
(``None`` for a nil bulk), integers ``int``, arrays ``list`` (``None`` for a
nil array). An error reply raises ``ReplyError``; inside a pipeline's or an
array's results it is returned as a ``ReplyError`` instance in place.

Example::

    redis = Redis.from_url("redis://:secret@127.0.0.1:6379/0")
    await redis.set("greeting", "hello", ex=60)
    assert await redis.get("greeting") == b"hello"
    await redis.close()
"""
from .blocking import BlockingRedis
from .client import DEFAULT_CONNECT_TIMEOUT, DEFAULT_SOCKET_TIMEOUT, Pipeline, Redis, Script
from .errors import ProtocolError, RedisConnectionError, RedisError, RedisTimeoutError, ReplyError
from .pool import DEFAULT_MAX_CONNECTIONS, DEFAULT_RECONNECT_BACKOFF
from .pubsub import (
    DEFAULT_HEALTH_CHECK_INTERVAL,
    DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_BUFFERED_MESSAGES,
    DEFAULT_PUBSUB_BACKOFF,
    DEFAULT_PUBSUB_MAX_BACKOFF,
    PubSub,
)
from .resp import (
    DEFAULT_MAX_ARRAY_LEN,
    DEFAULT_MAX_BULK_LEN,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_REPLY_ELEMENTS,
    NEED_DATA,
    RespParser,
    pack_command,
)

__all__ = [
    "Redis",
    "Pipeline",
    "Script",
    "PubSub",
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
    "DEFAULT_MAX_REPLY_ELEMENTS",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_SOCKET_TIMEOUT",
    "DEFAULT_RECONNECT_BACKOFF",
    "DEFAULT_MAX_BUFFERED_MESSAGES",
    "DEFAULT_MAX_BUFFERED_BYTES",
    "DEFAULT_PUBSUB_BACKOFF",
    "DEFAULT_PUBSUB_MAX_BACKOFF",
    "DEFAULT_HEALTH_CHECK_INTERVAL",
]
