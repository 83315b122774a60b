"""The Redis backend: entries in a Redis server, shared by every worker and host.

It writes the coroutine face on the asyncio client; ``AsyncFace`` gives it the plain face,
whose commands run on a private event-loop thread (``BlockingRedis``).
"""
import copy
import functools
import json
import logging
import math
import pickle
import threading
from typing import Any, Awaitable, Callable, Dict, Iterable, Mapping, Optional, Tuple, TypeVar

from .._logging import ThrottledLog
from ..redis import BlockingRedis, Redis, RedisError, ReplyError
from .backend import (DEFAULT_TTL, MISSING, AsyncFace, Backend, check_delta, check_prefix, check_ttl, not_an_integer,
                      stats_dict)
from .keys import glob_escape

__all__ = ["RedisBackend", "DEFAULT_LOG_INTERVAL", "DEFAULT_PREFIX"]

T = TypeVar("T")

logger = logging.getLogger("covet.cache")

# How often a down Redis is reported: one line per interval, not one per request.
DEFAULT_LOG_INTERVAL = 60.0
DEFAULT_PREFIX = "covet:cache:"
# Keys SCAN is asked for per call, and so the most one UNLINK removes: big enough for few round
# trips, small enough that no single command holds the server for long.
SCAN_BATCH = 1000


def _rows(value: Any) -> Any:
    # A database row or an ORM model (anything with to_dict()) is stored as its dict, which reads
    # back the same way (row["name"]). Anything else JSON cannot hold is refused as it is: a date
    # stored as text would come back a str from the second call on.
    to_dict = getattr(value, "to_dict", None)
    if to_dict is None:
        raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)
    return to_dict()


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_rows).encode("utf-8")


def _json_loads(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _ms(ttl: float) -> int:
    return max(1, int(math.ceil(ttl * 1000)))


def _px(ttl: float) -> Dict[str, int]:
    # SET options for a lifetime: none for math.inf (no expiry), else PX in milliseconds.
    return {} if ttl == math.inf else {"px": _ms(ttl)}


class _Counts:
    """Hits and misses, shared by the backend and the twin its plain face runs on."""

    __slots__ = ("hits", "misses", "lock")

    def __init__(self) -> None:
        self.hits = self.misses = 0
        self.lock = threading.Lock()


class RedisBackend(AsyncFace):
    """Cache entries in Redis, shared by every worker and host.

    Values are serialised with JSON (tuples come back as lists, dict keys as
    strings). ``serializer="pickle"`` stores any picklable object, but unpickling
    runs code chosen by whoever can write to the Redis server: use it only when
    that server is as trusted as your own code. Any object with ``dumps(value) ->
    bytes`` and ``loads(bytes)`` works too. A value the serializer refuses raises
    ``TypeError`` at ``set``: that is a bug in the caller, not an outage.

    When Redis is unreachable or answers with an error, reads are misses, writes
    return False, ``incr`` returns None, and one error line per ``log_interval``
    goes to the ``covet.cache`` logger; nothing raises into the caller.

    :param redis: the asyncio client (the coroutine face uses it on your loop).
    :param prefix: prepended to every key.

    Example::

        backend = RedisBackend(Redis.from_url("redis://cache.internal:6379/0"), prefix="shop:")
        cache = Cache(ttl=300, backend=backend)
    """

    def __init__(self, redis: Redis, *, prefix: str = DEFAULT_PREFIX, serializer: Any = "json",
                 ttl: float = DEFAULT_TTL, log_interval: float = DEFAULT_LOG_INTERVAL) -> None:
        if not isinstance(redis, Redis):
            raise TypeError("RedisBackend needs a covet.redis.Redis client, got %r" % (redis,))
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        if serializer == "json":
            self._dumps, self._loads = _json_dumps, _json_loads
        elif serializer == "pickle":
            self._dumps = functools.partial(pickle.dumps, protocol=pickle.HIGHEST_PROTOCOL)
            self._loads = pickle.loads
        elif callable(getattr(serializer, "dumps", None)) and callable(getattr(serializer, "loads", None)):
            self._dumps, self._loads = serializer.dumps, serializer.loads
        else:
            raise ValueError("serializer must be 'json', 'pickle' or an object with dumps() and loads(), got %r"
                             % (serializer,))
        self.redis = redis
        self.prefix = prefix
        self.default_ttl = check_ttl(ttl)
        #: True when this backend made the client (``from_url``): ``aclose()`` closes it then.
        self.owns_client = False
        self._log = ThrottledLog(logger, log_interval)
        self._counts = _Counts()
        self._lock = threading.Lock()
        self._blocking: Optional[BlockingRedis] = None
        self._twin: Optional["RedisBackend"] = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> "RedisBackend":
        """A backend on a client of its own, made from ``redis://[[user]:password@]host[:port][/db]``;
        ``aclose()`` closes that client. ``options`` are the constructor's keywords.

        Example::

            backend = RedisBackend.from_url("redis://localhost:6379/0", prefix="myapp:")
        """
        backend = cls(Redis.from_url(url), **options)
        backend.owns_client = True
        return backend

    def __repr__(self) -> str:
        return "<RedisBackend %s prefix=%r>" % (self.redis.address, self.prefix)

    # -- helpers ---------------------------------------------------------------
    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError("Redis cache keys must be str, got %r" % (key,))
        return self.prefix + key

    def _encode(self, key: Any, value: Any) -> bytes:
        try:
            return self._dumps(value)
        except Exception as exc:  # json: TypeError/ValueError; pickle: PicklingError, TypeError, AttributeError
            raise TypeError("cannot store the value of %r in Redis: %s" % (key, exc)) from exc

    def _decode(self, key: Any, raw: Optional[bytes]) -> Any:
        if raw is None:
            return MISSING
        try:
            return self._loads(raw)
        except Exception as exc:  # corrupt or foreign data: a miss, not a crash
            self._log.error("covet cache: cannot decode the value of %r from Redis: %s", key, exc)
            return MISSING

    def _count(self, hit: bool) -> None:
        counts = self._counts
        with counts.lock:
            if hit:
                counts.hits += 1
            else:
                counts.misses += 1

    def _down(self, action: str, exc: BaseException) -> None:
        self._log.error("covet cache: Redis %s failed, carrying on without the cache: %s", action, exc)

    async def _try(self, action: str, pending: Awaitable[Any], fallback: Any) -> Any:
        # Fail open: a Redis that is down or refuses a command is a miss, logged once per interval.
        try:
            return await pending
        except RedisError as exc:
            self._down(action, exc)
            return fallback

    def _private(self) -> Tuple[BlockingRedis, "RedisBackend"]:
        with self._lock:
            if self._blocking is None or self._twin is None:
                blocking = self.redis.blocking()
                # The twin runs the coroutines on the private loop with the clone client (one Redis
                # client serves one event loop); it shares the counters, the log and the settings.
                twin = copy.copy(self)
                twin.redis, twin._blocking, twin._twin = blocking.client, None, None
                self._blocking, self._twin = blocking, twin
            return self._blocking, self._twin

    def run_blocking(self, call: Callable[[Backend], Awaitable[T]]) -> T:
        """Run ``await call(twin)`` on the private loop thread, ``twin`` using the thread's own client."""
        blocking, twin = self._private()
        return blocking.run(lambda client: call(twin))

    # -- the coroutine face -------------------------------------------------------
    async def aget(self, key: Any, default: Any = None) -> Any:
        """The value, or ``default`` (also when Redis is down)."""
        value = self._decode(key, await self._try("GET", self.redis.get(self._key(key)), None))
        self._count(value is not MISSING)
        return default if value is MISSING else value

    async def aget_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left)``, or ``(MISSING, 0.0)`` (one round trip: GET and PTTL)."""
        k = self._key(key)
        raw, pttl = await self._try("GET", self.redis.pipeline().get(k).pttl(k).execute(), (None, -2))
        value = self._decode(key, raw)
        self._count(value is not MISSING)
        if value is MISSING:
            return MISSING, 0.0
        return value, (math.inf if pttl == -1 else max(pttl, 0) / 1000.0)

    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Store the value (SET PX); False when Redis is down."""
        k, seconds = self._key(key), self.resolve_ttl(ttl)
        data = self._encode(key, value)
        return bool(await self._try("SET", self.redis.set(k, data, **_px(seconds)), False))

    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present (one MGET)."""
        keys = list(keys)
        if not keys:
            return {}
        raws = await self._try("MGET", self.redis.mget(*[self._key(k) for k in keys]), [None] * len(keys))
        out = {}
        for key, raw in zip(keys, raws):
            value = self._decode(key, raw)
            self._count(value is not MISSING)
            if value is not MISSING:
                out[key] = value
        return out

    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item (one pipeline); False when Redis is down."""
        options = _px(self.resolve_ttl(ttl))
        if not mapping:
            return True
        pipe = self.redis.pipeline()
        for key, value in mapping.items():
            pipe.set(self._key(key), self._encode(key, value), **options)
        return all(await self._try("SET", pipe.execute(), [False]))

    async def adelete(self, key: Any) -> bool:
        """Remove the key; True when it was there."""
        return bool(await self._try("DEL", self.redis.delete(self._key(key)), 0))

    async def aclear(self) -> None:
        """Remove every key under the prefix (SCAN + DEL, never FLUSHDB)."""
        await self.adelete_prefix("")

    async def aincr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """INCRBY; a new key starts at 0 with ``ttl``. None when Redis is down."""
        k, delta = self._key(key), check_delta(delta)
        pipe = self.redis.pipeline()
        # A new key starts at 0 with the ttl; INCRBY keeps an existing key's ttl.
        pipe.set(k, b"0", nx=True, **_px(self.resolve_ttl(ttl)))
        pipe.incrby(k, delta)
        replies = await self._try("INCRBY", pipe.execute(raise_on_error=False), None)
        if replies is None:
            return None
        if isinstance(replies[1], ReplyError):
            if "not an integer" in str(replies[1]):
                raise not_an_integer(key)
            self._down("INCRBY", replies[1])
            return None
        return replies[1]

    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present key a new lifetime (PEXPIRE, or PERSIST for ``math.inf``)."""
        k, seconds = self._key(key), self.resolve_ttl(ttl)
        if seconds == math.inf:
            replies = await self._try("PERSIST", self.redis.pipeline().exists(k).command("PERSIST", k).execute(),
                                      (0, 0))
            return bool(replies[0])
        return bool(await self._try("PEXPIRE", self.redis.pexpire(k, _ms(seconds)), 0))

    async def ahas(self, key: Any) -> bool:
        """True when the key exists."""
        return bool(await self._try("EXISTS", self.redis.exists(self._key(key)), 0))

    async def adelete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix`` (SCAN + UNLINK); the number removed."""
        pattern = glob_escape(self.prefix + check_prefix(prefix)) + "*"
        return await self._try("SCAN/UNLINK", self._scan_delete(pattern), 0)

    async def adelete_pattern(self, pattern: str) -> int:
        """Remove every key matching the glob ``pattern`` under this backend's prefix (SCAN MATCH +
        UNLINK in batches, never KEYS, which blocks the server while it walks every key); the number
        removed. The prefix is escaped, so its own ``*``, ``?`` or ``[`` match only themselves."""
        return await self._try("SCAN/UNLINK", self._scan_delete(glob_escape(self.prefix) + pattern), 0)

    async def _scan_delete(self, pattern: str) -> int:
        # UNLINK (Redis 4.0+) frees the values off the server's main thread; DEL would free a large
        # value while every other client waits. SCAN's COUNT bounds each batch.
        removed = cursor = 0
        while True:
            cursor, keys = await self.redis.scan(cursor, match=pattern, count=SCAN_BATCH)
            if keys:
                removed += await self.redis.command("UNLINK", *keys)
            if cursor == 0:
                return removed

    # -- the rest ---------------------------------------------------------------
    def stats(self) -> Dict[str, Optional[int]]:
        """hits and misses seen by this process; evictions, expirations and size are Redis's (None)."""
        counts = self._counts
        with counts.lock:
            return stats_dict(counts.hits, counts.misses)

    def close(self) -> None:
        """Stop the private thread of the plain face (the asyncio client stays open)."""
        with self._lock:
            blocking, self._blocking, self._twin = self._blocking, None, None
        if blocking is not None:
            blocking.close()

    async def aclose(self) -> None:
        """``close()``, and close the asyncio client's connections when this backend made it."""
        self.close()
        if self.owns_client:
            await self.redis.close()
