"""Caching: a bounded TTL + LRU store in memory, Redis and two-level backends, and the
strategies on top (cache-aside with single-flight, refresh-ahead, write-through).

Faces: every operation has a plain method (``get``, ``set``, ...) and a coroutine
with an ``a`` prefix (``aget``, ``aset``, ...). With the memory backend both do the
same in-process work (the coroutines never block: a dict lookup under a lock);
with Redis the coroutines use the event loop and the plain methods run the same
commands on a private loop thread (``BlockingRedis``), so plain-``def`` handlers
in the thread pool can use them too.

TTLs are seconds (int or float > 0); ``math.inf`` stores without expiry and
``ttl=None`` means the cache's default. Keys are strings (the memory backend
accepts any hashable, Redis needs str).

Example::

    cache = Cache(maxsize=10_000, ttl=300)

    @cache.cached(ttl=60)
    async def load_user(user_id: int) -> dict:
        return await db.fetch_user(user_id)
"""
import asyncio
import collections
import concurrent.futures
import functools
import hashlib
import inspect
import json
import logging
import math
import pickle
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..core._wrap import route_status, wrap_handler
from .._logging import ThrottledLog
from ..redis import BlockingRedis, Redis, RedisError, ReplyError

__all__ = ["Cache", "cached", "MemoryBackend", "RedisBackend", "TwoLevelBackend", "MISSING",
           "DEFAULT_MAXSIZE", "DEFAULT_TTL", "DEFAULT_VARY"]

logger = logging.getLogger("covet.cache")

DEFAULT_MAXSIZE = 10_000
DEFAULT_TTL = 300.0
# How often a down Redis is reported: one line per interval, not one per request.
DEFAULT_LOG_INTERVAL = 60.0
# Two-level cache: how long a worker may serve its local copy without asking Redis.
DEFAULT_LOCAL_TTL = 5.0
DEFAULT_LOCAL_MAXSIZE = 1024
# Refresh-ahead work started from plain-def code runs on this many threads.
_REFRESH_THREADS = 2
# cache_page: request headers that select a cached variant unless told otherwise.
DEFAULT_VARY = ("Accept", "Accept-Encoding")
# Page keys longer than this are hashed (long query strings), bounding each entry.
_MAX_PAGE_KEY = 200


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: Returned as ``default`` sentinel where None is a legitimate cached value.
MISSING: Any = _Missing()


def _check_ttl(ttl: Any, name: str = "ttl") -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError("%s must be a number of seconds, got %r" % (name, ttl))
    if not ttl > 0:  # also rejects NaN
        raise ValueError("%s must be > 0 seconds (math.inf for no expiry), got %r" % (name, ttl))
    return float(ttl)


def _check_refresh(refresh_after: Any, ttl: float) -> float:
    refresh_after = _check_ttl(refresh_after, "refresh_after")
    if ttl == math.inf:
        raise ValueError("refresh_after needs a finite ttl: an entry that never expires has no age to refresh at")
    if not refresh_after < ttl:
        raise ValueError("refresh_after (%g s) must be shorter than the ttl (%g s)" % (refresh_after, ttl))
    return refresh_after


def _check_delta(delta: Any) -> int:
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise TypeError("incr/decr amount must be an int, got %r" % (delta,))
    return delta


# --------------------------------------------------------------------------
# Memory backend
# --------------------------------------------------------------------------


class MemoryBackend:
    """A bounded LRU with a deadline per entry, guarded by one lock (thread-safe).

    Entries past their deadline are never returned: reads drop them, and the least
    recently used entry goes first when ``maxsize`` is reached, whatever the keys.

    :param maxsize: most entries held.
    :param ttl: default lifetime in seconds (``math.inf``: none).
    :param clock: monotonic seconds; replace it in tests.
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError("maxsize must be a positive integer, got %r" % (maxsize,))
        self.maxsize = maxsize
        self.default_ttl = _check_ttl(ttl)
        self._clock = clock
        # key -> (value, deadline); order is recency of use, oldest first.
        self._data: "collections.OrderedDict[Any, Tuple[Any, float]]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._expirations = 0

    def _deadline(self, ttl: Optional[float]) -> float:
        return self._clock() + (self.default_ttl if ttl is None else _check_ttl(ttl))

    def _store(self, key: Any, value: Any, deadline: float) -> None:
        # Caller holds the lock.
        data = self._data
        data[key] = (value, deadline)
        data.move_to_end(key)
        if len(data) > self.maxsize:
            _, (_, old_deadline) = data.popitem(last=False)
            if old_deadline <= self._clock():
                self._expirations += 1
            else:
                self._evictions += 1

    def get(self, key: Any, default: Any = None) -> Any:
        """The value, or ``default`` when absent or expired."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                if entry[1] > self._clock():
                    self._data.move_to_end(key)
                    self._hits += 1
                    return entry[0]
                del self._data[key]
                self._expirations += 1
            self._misses += 1
            return default

    def get_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left)``, or ``(MISSING, 0.0)``."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                left = entry[1] - self._clock()
                if left > 0:
                    self._data.move_to_end(key)
                    self._hits += 1
                    return entry[0], left
                del self._data[key]
                self._expirations += 1
            self._misses += 1
            return MISSING, 0.0

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` for ``ttl`` seconds (default: the backend's); True."""
        deadline = self._deadline(ttl)
        with self._lock:
            self._store(key, value, deadline)
        return True

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""
        out = {}
        for key in keys:
            value = self.get(key, MISSING)
            if value is not MISSING:
                out[key] = value
        return out

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item with one deadline; True."""
        deadline = self._deadline(ttl)
        with self._lock:
            for key, value in mapping.items():
                self._store(key, value, deadline)
        return True

    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there (expired or not)."""
        with self._lock:
            return self._data.pop(key, MISSING) is not MISSING

    def clear(self) -> None:
        """Remove everything (statistics are kept)."""
        with self._lock:
            self._data.clear()

    def incr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Add ``delta`` to an integer value and return it; a missing key starts at 0 with ``ttl``,
        an existing one keeps its deadline."""
        delta = _check_delta(delta)
        fresh_deadline = self._deadline(ttl)
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[1] > self._clock():
                value = entry[0]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError("cannot increment %r: its cached value is not an integer" % (key,))
                value += delta
                self._data[key] = (value, entry[1])
                self._data.move_to_end(key)
                return value
            self._store(key, delta, fresh_deadline)
            return delta

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present key a new lifetime; True when it was present."""
        deadline = self._deadline(ttl)
        with self._lock:
            entry = self._data.get(key)
            if entry is None or entry[1] <= self._clock():
                return False
            self._data[key] = (entry[0], deadline)
            self._data.move_to_end(key)
            return True

    def has(self, key: Any) -> bool:
        """True when the key is present and not expired (no statistics, no recency change)."""
        with self._lock:
            entry = self._data.get(key)
            return entry is not None and entry[1] > self._clock()

    def delete_prefix(self, prefix: str) -> int:
        """Remove every str key starting with ``prefix``; the number removed."""
        with self._lock:
            doomed = [k for k in self._data if isinstance(k, str) and k.startswith(prefix)]
            for k in doomed:
                del self._data[k]
            return len(doomed)

    def stats(self) -> Dict[str, Optional[int]]:
        """hits, misses, evictions (live entries pushed out by maxsize), expirations, size."""
        with self._lock:
            return {"hits": self._hits, "misses": self._misses, "evictions": self._evictions,
                    "expirations": self._expirations, "size": len(self._data)}

    def close(self) -> None:
        """Nothing to release."""

    # The coroutine face: same work, no I/O.
    async def aget(self, key: Any, default: Any = None) -> Any:
        """Coroutine face of ``get``."""
        return self.get(key, default)

    async def aget_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """Coroutine face of ``get_with_ttl``."""
        return self.get_with_ttl(key)

    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set``."""
        return self.set(key, value, ttl)

    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """Coroutine face of ``get_many``."""
        return self.get_many(keys)

    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set_many``."""
        return self.set_many(mapping, ttl)

    async def adelete(self, key: Any) -> bool:
        """Coroutine face of ``delete``."""
        return self.delete(key)

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        self.clear()

    async def aincr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Coroutine face of ``incr``."""
        return self.incr(key, delta, ttl)

    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``touch``."""
        return self.touch(key, ttl)

    async def ahas(self, key: Any) -> bool:
        """Coroutine face of ``has``."""
        return self.has(key)

    async def adelete_prefix(self, prefix: str) -> int:
        """Coroutine face of ``delete_prefix``."""
        return self.delete_prefix(prefix)

    async def aclose(self) -> None:
        """Nothing to release."""


# --------------------------------------------------------------------------
# Redis backend
# --------------------------------------------------------------------------


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _json_loads(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _glob_escape(text: str) -> str:
    # Redis MATCH patterns are globs; a prefix is matched literally.
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _ms(ttl: float) -> int:
    return max(1, int(math.ceil(ttl * 1000)))


class RedisBackend:
    """Cache entries in Redis, shared by every worker and host.

    Values are serialised with JSON (tuples come back as lists, dict keys as
    strings). ``serializer="pickle"`` stores any picklable object, but unpickling
    runs code chosen by whoever can write to the Redis server: use it only when
    that server is as trusted as your own code. Any object with ``dumps(value) ->
    bytes`` and ``loads(bytes)`` works too.

    When Redis is unreachable or answers with an error, reads are misses, writes
    return False, ``incr`` returns None, and one error line per ``log_interval``
    goes to the ``covet.cache`` logger; nothing raises into the caller.

    :param redis: the asyncio client (the coroutine face uses it on your loop).
    :param prefix: prepended to every key.
    """

    def __init__(self, redis: Redis, *, prefix: str = "covet:cache:", serializer: Any = "json",
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
        self.default_ttl = _check_ttl(ttl)
        self._log = ThrottledLog(logger, log_interval)
        self._blocking_client: Optional[BlockingRedis] = None
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    # -- helpers -------------------------------------------------------
    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError("Redis cache keys must be str, got %r" % (key,))
        return self.prefix + key

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._misses += 1

    def _down(self, action: str, exc: BaseException) -> None:
        self._log.error("covet cache: Redis %s failed, carrying on without the cache: %s", action, exc)

    def _decode(self, key: Any, raw: Optional[bytes]) -> Any:
        if raw is None:
            return MISSING
        try:
            return self._loads(raw)
        except Exception as exc:  # corrupt or foreign data: a miss, not a crash
            self._log.error("covet cache: cannot decode the value of %r from Redis: %s", key, exc)
            return MISSING

    def _ttl(self, ttl: Optional[float]) -> float:
        return self.default_ttl if ttl is None else _check_ttl(ttl)

    def _sync(self, op: Callable[..., Any], *args: Any) -> Any:
        blocking = self._blocking_client
        if blocking is None:
            with self._lock:
                if self._blocking_client is None:
                    self._blocking_client = self.redis.blocking()
                blocking = self._blocking_client
        return blocking.run(lambda client: op(client, *args))

    # -- operations, each taking the client to run on ------------------
    async def _get(self, r: Redis, key: Any, default: Any) -> Any:
        k = self._key(key)
        try:
            raw = await r.get(k)
        except RedisError as exc:
            self._down("GET", exc)
            raw = None
        value = self._decode(key, raw)
        self._count(value is not MISSING)
        return default if value is MISSING else value

    async def _get_with_ttl(self, r: Redis, key: Any) -> Tuple[Any, float]:
        k = self._key(key)
        try:
            raw, pttl = await r.pipeline().get(k).pttl(k).execute()
        except RedisError as exc:
            self._down("GET", exc)
            raw, pttl = None, -2
        value = self._decode(key, raw)
        self._count(value is not MISSING)
        if value is MISSING:
            return MISSING, 0.0
        return value, (math.inf if pttl == -1 else max(pttl, 0) / 1000.0)

    async def _set(self, r: Redis, key: Any, value: Any, ttl: Optional[float]) -> bool:
        k = self._key(key)
        seconds = self._ttl(ttl)
        data = self._dumps(value)  # an unserialisable value is the caller's bug: it raises
        try:
            if seconds == math.inf:
                return bool(await r.set(k, data))
            return bool(await r.set(k, data, px=_ms(seconds)))
        except RedisError as exc:
            self._down("SET", exc)
            return False

    async def _get_many(self, r: Redis, keys: Iterable[Any]) -> Dict[Any, Any]:
        keys = list(keys)
        if not keys:
            return {}
        redis_keys = [self._key(k) for k in keys]
        try:
            raws = await r.mget(*redis_keys)
        except RedisError as exc:
            self._down("MGET", exc)
            raws = [None] * len(keys)
        out = {}
        for key, raw in zip(keys, raws):
            value = self._decode(key, raw)
            self._count(value is not MISSING)
            if value is not MISSING:
                out[key] = value
        return out

    async def _set_many(self, r: Redis, mapping: Mapping[Any, Any], ttl: Optional[float]) -> bool:
        seconds = self._ttl(ttl)
        pipe = r.pipeline()
        for key, value in mapping.items():
            data = self._dumps(value)
            if seconds == math.inf:
                pipe.set(self._key(key), data)
            else:
                pipe.set(self._key(key), data, px=_ms(seconds))
        try:
            return all(await pipe.execute())
        except RedisError as exc:
            self._down("SET", exc)
            return False

    async def _delete(self, r: Redis, key: Any) -> bool:
        k = self._key(key)
        try:
            return bool(await r.delete(k))
        except RedisError as exc:
            self._down("DEL", exc)
            return False

    async def _incr(self, r: Redis, key: Any, delta: int, ttl: Optional[float]) -> Optional[int]:
        k = self._key(key)
        delta = _check_delta(delta)
        seconds = self._ttl(ttl)
        pipe = r.pipeline()
        # A new key starts at 0 with the ttl; INCRBY keeps an existing key's ttl.
        if seconds == math.inf:
            pipe.set(k, b"0", nx=True)
        else:
            pipe.set(k, b"0", px=_ms(seconds), nx=True)
        pipe.incrby(k, delta)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            self._down("INCRBY", exc)
            return None
        if isinstance(replies[1], ReplyError):
            if "not an integer" in str(replies[1]):
                raise TypeError("cannot increment %r: its cached value is not an integer" % (key,))
            self._down("INCRBY", replies[1])
            return None
        return replies[1]

    async def _touch(self, r: Redis, key: Any, ttl: Optional[float]) -> bool:
        k = self._key(key)
        seconds = self._ttl(ttl)
        try:
            if seconds == math.inf:
                return bool(await r.exists(k)) and (await r.command("PERSIST", k) in (0, 1))
            return bool(await r.pexpire(k, _ms(seconds)))
        except RedisError as exc:
            self._down("PEXPIRE", exc)
            return False

    async def _has(self, r: Redis, key: Any) -> bool:
        k = self._key(key)
        try:
            return bool(await r.exists(k))
        except RedisError as exc:
            self._down("EXISTS", exc)
            return False

    async def _delete_prefix(self, r: Redis, prefix: str) -> int:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        pattern = _glob_escape(self.prefix + prefix) + "*"
        removed = 0
        cursor = 0
        try:
            while True:
                cursor, keys = await r.scan(cursor, match=pattern, count=1000)
                if keys:
                    removed += await r.delete(*keys)
                if cursor == 0:
                    return removed
        except RedisError as exc:
            self._down("SCAN/DEL", exc)
            return removed

    # -- the two faces -------------------------------------------------
    def get(self, key: Any, default: Any = None) -> Any:
        """The value, or ``default`` (also when Redis is down)."""
        return self._sync(self._get, key, default)

    def get_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left)``, or ``(MISSING, 0.0)``."""
        return self._sync(self._get_with_ttl, key)

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Store the value; False when Redis is down."""
        return self._sync(self._set, key, value, ttl)

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present (one MGET)."""
        return self._sync(self._get_many, keys)

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item (one pipeline); False when Redis is down."""
        return self._sync(self._set_many, mapping, ttl)

    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there."""
        return self._sync(self._delete, key)

    def clear(self) -> None:
        """Remove every key under the prefix (SCAN + DEL, never FLUSHDB)."""
        self._sync(self._delete_prefix, "")

    def incr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """INCRBY; a new key starts at 0 with ``ttl``. None when Redis is down."""
        return self._sync(self._incr, key, delta, ttl)

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present key a new lifetime."""
        return self._sync(self._touch, key, ttl)

    def has(self, key: Any) -> bool:
        """True when the key exists."""
        return self._sync(self._has, key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; the number removed."""
        return self._sync(self._delete_prefix, prefix)

    def aget(self, key: Any, default: Any = None) -> Any:
        """Coroutine face of ``get``."""
        return self._get(self.redis, key, default)

    def aget_with_ttl(self, key: Any) -> Any:
        """Coroutine face of ``get_with_ttl``."""
        return self._get_with_ttl(self.redis, key)

    def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``set``."""
        return self._set(self.redis, key, value, ttl)

    def aget_many(self, keys: Iterable[Any]) -> Any:
        """Coroutine face of ``get_many``."""
        return self._get_many(self.redis, keys)

    def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``set_many``."""
        return self._set_many(self.redis, mapping, ttl)

    def adelete(self, key: Any) -> Any:
        """Coroutine face of ``delete``."""
        return self._delete(self.redis, key)

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        await self._delete_prefix(self.redis, "")

    def aincr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``incr``."""
        return self._incr(self.redis, key, delta, ttl)

    def atouch(self, key: Any, ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``touch``."""
        return self._touch(self.redis, key, ttl)

    def ahas(self, key: Any) -> Any:
        """Coroutine face of ``has``."""
        return self._has(self.redis, key)

    def adelete_prefix(self, prefix: str) -> Any:
        """Coroutine face of ``delete_prefix``."""
        return self._delete_prefix(self.redis, prefix)

    def stats(self) -> Dict[str, Optional[int]]:
        """hits and misses seen by this process; evictions, expirations and size are Redis's (None)."""
        with self._lock:
            return {"hits": self._hits, "misses": self._misses, "evictions": None, "expirations": None,
                    "size": None}

    def close(self) -> None:
        """Stop the private thread of the plain face (the asyncio client is yours to close)."""
        with self._lock:
            blocking, self._blocking_client = self._blocking_client, None
        if blocking is not None:
            blocking.close()

    async def aclose(self) -> None:
        """Coroutine face of ``close``."""
        self.close()


# --------------------------------------------------------------------------
# Two levels: memory in front of a shared backend
# --------------------------------------------------------------------------


class TwoLevelBackend:
    """A small per-process memory cache in front of a shared backend (usually ``RedisBackend``).

    Reads try memory first and keep what they fetch for at most ``local_ttl``
    seconds; writes go to both. Another worker's write or delete is seen here
    after at most ``local_ttl``: pick it as the staleness you accept.
    """

    def __init__(self, remote: Any, *, local_maxsize: int = DEFAULT_LOCAL_MAXSIZE,
                 local_ttl: float = DEFAULT_LOCAL_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.remote = remote
        self.local_ttl = _check_ttl(local_ttl, "local_ttl")
        # Local entries hold (value, the remote deadline) so refresh-ahead sees the real age.
        self.local = MemoryBackend(local_maxsize, self.local_ttl, clock)
        self._clock = clock

    @property
    def default_ttl(self) -> float:
        """The remote level's default lifetime."""
        return self.remote.default_ttl

    @default_ttl.setter
    def default_ttl(self, value: float) -> None:
        self.remote.default_ttl = value

    def _ttl(self, ttl: Optional[float]) -> float:
        return self.remote.default_ttl if ttl is None else _check_ttl(ttl)

    def _keep(self, key: Any, value: Any, left: float) -> None:
        self.local.set(key, (value, self._clock() + left), min(self.local_ttl, left))

    def _local(self, key: Any) -> Tuple[Any, float]:
        entry = self.local.get(key, MISSING)
        if entry is MISSING:
            return MISSING, 0.0
        left = entry[1] - self._clock()
        if left <= 0:
            return MISSING, 0.0
        return entry[0], left

    def get(self, key: Any, default: Any = None) -> Any:
        """Memory, else the shared level."""
        value, _ = self.get_with_ttl(key)
        return default if value is MISSING else value

    def get_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left at the shared level)``, or ``(MISSING, 0.0)``."""
        value, left = self._local(key)
        if value is MISSING:
            value, left = self.remote.get_with_ttl(key)
            if value is not MISSING:
                self._keep(key, value, left)
        return value, left

    async def aget(self, key: Any, default: Any = None) -> Any:
        """Coroutine face of ``get``."""
        value, _ = await self.aget_with_ttl(key)
        return default if value is MISSING else value

    async def aget_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """Coroutine face of ``get_with_ttl``."""
        value, left = self._local(key)
        if value is MISSING:
            value, left = await self.remote.aget_with_ttl(key)
            if value is not MISSING:
                self._keep(key, value, left)
        return value, left

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Both levels; the result is the shared level's."""
        seconds = self._ttl(ttl)
        self._keep(key, value, seconds)
        return self.remote.set(key, value, seconds)

    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set``."""
        seconds = self._ttl(ttl)
        self._keep(key, value, seconds)
        return await self.remote.aset(key, value, seconds)

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """Memory for what it has, one shared-level call for the rest."""
        out, rest = self._local_many(keys)
        if rest:
            found = self.remote.get_many(rest)
            self._keep_many(found)
            out.update(found)
        return out

    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """Coroutine face of ``get_many``."""
        out, rest = self._local_many(keys)
        if rest:
            found = await self.remote.aget_many(rest)
            self._keep_many(found)
            out.update(found)
        return out

    def _local_many(self, keys: Iterable[Any]) -> Tuple[Dict[Any, Any], List[Any]]:
        out, rest = {}, []
        for key in keys:
            value, _ = self._local(key)
            if value is MISSING:
                rest.append(key)
            else:
                out[key] = value
        return out, rest

    def _keep_many(self, found: Mapping[Any, Any]) -> None:
        # The remote deadline is unknown here; the local copy lives local_ttl at most anyway.
        for key, value in found.items():
            self._keep(key, value, self.local_ttl)

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Both levels."""
        seconds = self._ttl(ttl)
        for key, value in mapping.items():
            self._keep(key, value, seconds)
        return self.remote.set_many(mapping, seconds)

    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set_many``."""
        seconds = self._ttl(ttl)
        for key, value in mapping.items():
            self._keep(key, value, seconds)
        return await self.remote.aset_many(mapping, seconds)

    def delete(self, key: Any) -> bool:
        """Both levels; True when the shared level had it."""
        self.local.delete(key)
        return self.remote.delete(key)

    async def adelete(self, key: Any) -> bool:
        """Coroutine face of ``delete``."""
        self.local.delete(key)
        return await self.remote.adelete(key)

    def clear(self) -> None:
        """Both levels."""
        self.local.clear()
        self.remote.clear()

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        self.local.clear()
        await self.remote.aclear()

    def incr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """At the shared level only (counters must be shared); the local copy is dropped."""
        self.local.delete(key)
        return self.remote.incr(key, delta, ttl)

    async def aincr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Coroutine face of ``incr``."""
        self.local.delete(key)
        return await self.remote.aincr(key, delta, ttl)

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """At the shared level; the local copy is dropped so its deadline is re-read."""
        self.local.delete(key)
        return self.remote.touch(key, ttl)

    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``touch``."""
        self.local.delete(key)
        return await self.remote.atouch(key, ttl)

    def has(self, key: Any) -> bool:
        """Either level."""
        return self._local(key)[0] is not MISSING or self.remote.has(key)

    async def ahas(self, key: Any) -> bool:
        """Coroutine face of ``has``."""
        return self._local(key)[0] is not MISSING or await self.remote.ahas(key)

    def delete_prefix(self, prefix: str) -> int:
        """Both levels; the shared level's count."""
        self.local.delete_prefix(prefix)
        return self.remote.delete_prefix(prefix)

    async def adelete_prefix(self, prefix: str) -> int:
        """Coroutine face of ``delete_prefix``."""
        self.local.delete_prefix(prefix)
        return await self.remote.adelete_prefix(prefix)

    def stats(self) -> Dict[str, Optional[int]]:
        """hits at either level, misses at both, and the local level's evictions, expirations, size."""
        local, remote = self.local.stats(), self.remote.stats()
        return {"hits": (local["hits"] or 0) + (remote["hits"] or 0), "misses": remote["misses"],
                "evictions": local["evictions"], "expirations": local["expirations"], "size": local["size"]}

    def close(self) -> None:
        """Close the shared level's private resources."""
        self.remote.close()

    async def aclose(self) -> None:
        """Coroutine face of ``close``."""
        await self.remote.aclose()


# --------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------


class _Flight:
    """One factory run that concurrent misses of a key share."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        self.future: "concurrent.futures.Future[Any]" = concurrent.futures.Future()
        # RUNNING: a waiter's cancellation (via asyncio.wrap_future) cannot cancel it for the others.
        self.future.set_running_or_notify_cancel()
        self.loop = loop


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_PLAIN_TYPES = frozenset((str, int, float, bool, type(None), bytes))


def _key_part(value: Any) -> str:
    t = type(value)
    if t in _PLAIN_TYPES:
        return repr(value)
    if t is tuple:
        inner = ", ".join(_key_part(v) for v in value)
        return "(" + inner + ("," if len(value) == 1 else "") + ")"
    if t is list:
        return "[" + ", ".join(_key_part(v) for v in value) + "]"
    if t is dict:
        items = sorted((_key_part(k), _key_part(v)) for k, v in value.items())
        return "{" + ", ".join("%s: %s" % kv for kv in items) + "}"
    if t is set or t is frozenset:
        return t.__name__ + "({" + ", ".join(sorted(_key_part(v) for v in value)) + "})"
    raise TypeError("cannot build a cache key from a %s argument; pass key= to cached()" % t.__name__)


def _key_builder(func: Callable[..., Any]) -> Callable[..., str]:
    name = "%s.%s" % (func.__module__, func.__qualname__)

    def make_key(*args: Any, **kwargs: Any) -> str:
        parts = [_key_part(a) for a in args]
        parts += ["%s=%s" % (k, _key_part(kwargs[k])) for k in sorted(kwargs)]
        return name + "(" + ", ".join(parts) + ")"

    return make_key


# --------------------------------------------------------------------------
# Route-handler wrappers (cache_page here, RateLimiter.limit in ratelimit.py)
# --------------------------------------------------------------------------

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# RFC 9110 §15.4.5: a 304 carries the headers a 200 would have among these.
_NOT_MODIFIED_HEADERS = frozenset((b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"))


def _header_list(value: str) -> List[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
    mine = etag[2:] if etag.startswith("W/") else etag
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == mine:
            return True
    return False


class _PagePolicy:
    """What ``cache_page`` decides for one route, precomputed at decoration."""

    __slots__ = ("vary", "vary_set", "vary_header", "prefix")

    def __init__(self, vary: Iterable[str], prefix: str) -> None:
        if isinstance(vary, str):
            vary = (vary,)
        names = []
        for name in vary:
            if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
                raise ValueError("vary must list header names, got %r" % (name,))
            names.append(name.lower())
        self.vary = tuple(names)
        self.vary_set = frozenset(names)
        self.vary_header = ", ".join(vary)
        self.prefix = prefix

    def key(self, request: Any) -> Optional[str]:
        """The cache key of this request, or None when it must bypass the page cache."""
        headers = request.headers
        # A request with credentials gets a page built for them: never serve or store it
        # under a shared key, unless the route says pages vary by Authorization.
        if "authorization" not in self.vary_set and headers.get("authorization") is not None:
            return None
        parts = [request.root_path + request.raw_path, request.query_string]
        for name in self.vary:
            parts.append(headers.get(name) or "")
        raw = "\x00".join(parts)
        if len(raw) > _MAX_PAGE_KEY:
            raw = "sha256:" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
        return self.prefix + raw

    def entry(self, response: Any) -> Optional[list]:
        """``[status, headers, body]`` to store, adding ETag and Vary to ``response``; None if not cacheable."""
        if response.status_code != 200 or response.streaming:
            return None
        headers = response.headers
        if headers.get("set-cookie") is not None:
            return None
        directives = [d.split("=", 1)[0] for d in _header_list(",".join(headers.getlist("cache-control")))]
        if "private" in directives or "no-store" in directives:
            return None
        varies = _header_list(",".join(headers.getlist("vary")))
        if "*" in varies or not set(varies) <= self.vary_set:
            return None  # the page depends on headers our key does not include
        if headers.get("etag") is None:
            headers["etag"] = '"%s"' % hashlib.blake2b(response.body, digest_size=16).hexdigest()
        if self.vary and not varies:
            headers["vary"] = self.vary_header
        return [response.status_code,
                [[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.raw_headers],
                response.body.decode("latin-1")]


def _page_response(entry: Any) -> Any:
    from ..core.responses import Response

    status, headers, body = entry
    # Rebuilt through Response(): header values read back from a shared store are validated again.
    return Response(body.encode("latin-1"), status, [(k, v) for k, v in headers])


def _conditional(request: Any, response: Any) -> Any:
    from ..core.responses import Response

    if_none_match = request.headers.get("if-none-match")
    if if_none_match is None:
        return response
    etag = response.headers.get("etag")
    if etag is None or not _etag_matches(if_none_match, etag):
        return response
    keep = [(k, v) for k, v in response.raw_headers if k in _NOT_MODIFIED_HEADERS]
    return Response(b"", 304, keep)



class Cache:
    """A cache with sync and async faces over a backend (memory by default).

    :param maxsize: most entries of the default memory backend (unused with ``backend=``).
    :param ttl: default lifetime in seconds; None or ``math.inf`` for no expiry.
    :param backend: ``MemoryBackend`` (default), ``RedisBackend`` or ``TwoLevelBackend``;
        the cache sets its default ttl. A backend belongs to one cache.

    Example::

        cache = Cache(ttl=60)
        cache.set("answer", 42)
        assert cache.get("answer") == 42
        user = await cache.aget_or_set("user:1", lambda: db.load_user(1))
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, ttl: Optional[float] = DEFAULT_TTL,
                 backend: Any = None) -> None:
        ttl = math.inf if ttl is None else _check_ttl(ttl)
        if backend is None:
            backend = MemoryBackend(maxsize, ttl)
        else:
            backend.default_ttl = ttl
        self.backend = backend
        self.default_ttl = ttl
        self._flights: Dict[Any, _Flight] = {}
        self._flight_lock = threading.Lock()
        self._tasks: "set[asyncio.Task[Any]]" = set()
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._closed = False
        if type(self).get is Cache.get and type(self).set is Cache.set:
            # PERF: the plain face is the backend's bound methods: one call less on every hit.
            self.get = backend.get  # type: ignore[assignment]
            self.set = backend.set  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<Cache %s ttl=%g>" % (type(self.backend).__name__, self.default_ttl)

    def _resolve_ttl(self, ttl: Optional[float]) -> float:
        return self.default_ttl if ttl is None else _check_ttl(ttl)

    # -- the plain face --------------------------------------------------
    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[no-redef]
        """The value, or ``default`` when absent or expired."""
        return self.backend.get(key, default)

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:  # type: ignore[no-redef]
        """Store ``value`` for ``ttl`` seconds (default: the cache's)."""
        return self.backend.set(key, value, ttl)

    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there."""
        return self.backend.delete(key)

    def clear(self) -> None:
        """Remove every entry."""
        self.backend.clear()

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""
        return self.backend.get_many(keys)

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item of ``mapping``."""
        return self.backend.set_many(mapping, ttl)

    def incr(self, key: Any, delta: int = 1) -> Optional[int]:
        """Add ``delta`` to an integer entry (a missing one starts at 0) and return the new value.
        TypeError when the entry is not an integer; None when a remote store is down."""
        return self.backend.incr(key, delta)

    def decr(self, key: Any, delta: int = 1) -> Optional[int]:
        """``incr(key, -delta)``."""
        return self.backend.incr(key, -_check_delta(delta))

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present entry a new lifetime; True when present."""
        return self.backend.touch(key, ttl)

    def has(self, key: Any) -> bool:
        """True when the key is present and not expired."""
        return self.backend.has(key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; the number removed."""
        return self.backend.delete_prefix(prefix)

    def stats(self) -> Dict[str, Optional[int]]:
        """``{"hits", "misses", "evictions", "expirations", "size"}`` (None where a backend cannot know)."""
        return self.backend.stats()

    # -- the coroutine face ----------------------------------------------
    async def aget(self, key: Any, default: Any = None) -> Any:
        """Coroutine face of ``get``."""
        return await self.backend.aget(key, default)

    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set``."""
        return await self.backend.aset(key, value, ttl)

    async def adelete(self, key: Any) -> bool:
        """Coroutine face of ``delete``."""
        return await self.backend.adelete(key)

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        await self.backend.aclear()

    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """Coroutine face of ``get_many``."""
        return await self.backend.aget_many(keys)

    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set_many``."""
        return await self.backend.aset_many(mapping, ttl)

    async def aincr(self, key: Any, delta: int = 1) -> Optional[int]:
        """Coroutine face of ``incr``."""
        return await self.backend.aincr(key, delta)

    async def adecr(self, key: Any, delta: int = 1) -> Optional[int]:
        """Coroutine face of ``decr``."""
        return await self.backend.aincr(key, -_check_delta(delta))

    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``touch``."""
        return await self.backend.atouch(key, ttl)

    async def ahas(self, key: Any) -> bool:
        """Coroutine face of ``has``."""
        return await self.backend.ahas(key)

    async def adelete_prefix(self, prefix: str) -> int:
        """Coroutine face of ``delete_prefix``."""
        return await self.backend.adelete_prefix(prefix)

    # -- cache-aside with single-flight ----------------------------------
    def get_or_set(self, key: Any, factory: Callable[[], Any], ttl: Optional[float] = None,
                   refresh_after: Optional[float] = None) -> Any:
        """The cached value, or ``factory()`` stored for ``ttl``.

        Concurrent misses of one key run the factory once; its exception is not
        cached and reaches every waiter. With ``refresh_after`` (seconds), an entry
        older than that is returned as is while one background thread refreshes it.
        The factory must be a plain function here (``aget_or_set`` takes async ones).
        """
        seconds = self._resolve_ttl(ttl)
        if refresh_after is not None:
            refresh_after = _check_refresh(refresh_after, seconds)
        return self._get_or_set(key, factory, seconds, refresh_after)

    def _get_or_set(self, key: Any, factory: Callable[[], Any], ttl: float, refresh_after: Optional[float]) -> Any:
        if refresh_after is None:
            value = self.backend.get(key, MISSING)
            if value is not MISSING:
                return value
        else:
            value, left = self.backend.get_with_ttl(key)
            if value is not MISSING:
                if ttl - left >= refresh_after:
                    self._refresh_in_thread(key, factory, ttl)
                return value
        flight, leader = self._join(key, None)
        if leader:
            return self._lead(key, factory, ttl, flight)
        if flight.loop is not None and flight.loop is _running_loop():
            # The leader is a coroutine on the loop this thread is blocking: waiting would deadlock.
            return self._compute(factory, key, ttl)
        return flight.future.result()

    async def aget_or_set(self, key: Any, factory: Callable[[], Any], ttl: Optional[float] = None,
                          refresh_after: Optional[float] = None) -> Any:
        """Coroutine face of ``get_or_set``; ``factory`` may be async or plain.

        The factory runs in its own task, so a cancelled caller does not cancel it
        for the others waiting on the same key.
        """
        seconds = self._resolve_ttl(ttl)
        if refresh_after is not None:
            refresh_after = _check_refresh(refresh_after, seconds)
        return await self._aget_or_set(key, factory, seconds, refresh_after)

    async def _aget_or_set(self, key: Any, factory: Callable[[], Any], ttl: float,
                           refresh_after: Optional[float]) -> Any:
        if refresh_after is None:
            value = await self.backend.aget(key, MISSING)
            if value is not MISSING:
                return value
        else:
            value, left = await self.backend.aget_with_ttl(key)
            if value is not MISSING:
                if ttl - left >= refresh_after:
                    flight, leader = self._join(key, asyncio.get_running_loop())
                    if leader:
                        self._spawn(self._alead(key, factory, ttl, flight, background=True))
                return value
        flight, leader = self._join(key, asyncio.get_running_loop())
        if leader:
            self._spawn(self._alead(key, factory, ttl, flight, background=False))
        return await asyncio.wrap_future(flight.future)

    def _join(self, key: Any, loop: Optional[asyncio.AbstractEventLoop]) -> Tuple[_Flight, bool]:
        with self._flight_lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = _Flight(loop)
            return flight, True

    def _land(self, key: Any, flight: _Flight) -> None:
        with self._flight_lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def _compute(self, factory: Callable[[], Any], key: Any, ttl: float) -> Any:
        value = factory()
        if inspect.isawaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()  # no "coroutine was never awaited" warning on top of the error
            raise TypeError("get_or_set() got an async factory for %r; use aget_or_set()" % (key,))
        self.backend.set(key, value, ttl)
        return value

    def _lead(self, key: Any, factory: Callable[[], Any], ttl: float, flight: _Flight) -> Any:
        try:
            value = self._compute(factory, key, ttl)
        except BaseException as exc:
            self._land(key, flight)
            flight.future.set_exception(exc)
            raise
        self._land(key, flight)
        flight.future.set_result(value)
        return value

    async def _alead(self, key: Any, factory: Callable[[], Any], ttl: float, flight: _Flight,
                     background: bool) -> None:
        try:
            value = factory()
            if inspect.isawaitable(value):
                value = await value
            await self.backend.aset(key, value, ttl)
        except BaseException as exc:
            self._land(key, flight)
            flight.future.set_exception(exc)
            if background and isinstance(exc, Exception):
                logger.warning("covet cache: refreshing %r failed; the cached value stays until it expires: %r",
                               key, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._land(key, flight)
        flight.future.set_result(value)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refresh_in_thread(self, key: Any, factory: Callable[[], Any], ttl: float) -> None:
        flight, leader = self._join(key, None)
        if not leader:
            return
        with self._flight_lock:
            if self._executor is None and not self._closed:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    _REFRESH_THREADS, thread_name_prefix="covet-cache-refresh")
            executor = self._executor
        try:
            if executor is None:
                raise RuntimeError("cache closed")
            executor.submit(self._refresh_job, key, factory, ttl, flight)
        except RuntimeError:
            # Closed (or shutting down): refresh on the caller's thread instead.
            self._refresh_job(key, factory, ttl, flight)

    def _refresh_job(self, key: Any, factory: Callable[[], Any], ttl: float, flight: _Flight) -> None:
        try:
            self._lead(key, factory, ttl, flight)
        except Exception as exc:
            logger.warning("covet cache: refreshing %r failed; the cached value stays until it expires: %r",
                           key, exc)

    # -- decorators and write-through ------------------------------------
    def cached(self, ttl: Any = None, key: Optional[Callable[..., Any]] = None,
               refresh_after: Optional[float] = None) -> Any:
        """Decorator caching a plain or async function's results by its arguments.

        The default key is the function's qualified name and the repr of its
        arguments (str, bytes, numbers, bool, None and lists/tuples/dicts/sets of them;
        anything else raises TypeError asking for ``key=``). ``key=`` is a callable
        taking the same arguments and returning the key. ``f(1, 2)`` and ``f(1, b=2)``
        are different keys. The wrapper's ``cache_key(*args, **kwargs)`` gives the key,
        for ``cache.delete``.

        Example::

            @cache.cached(ttl=30, key=lambda user_id: "user:%d" % user_id)
            def load_user(user_id): ...
        """
        if callable(ttl) and key is None and refresh_after is None:
            return self.cached()(ttl)  # used bare: @cache.cached
        seconds = self._resolve_ttl(ttl)
        if refresh_after is not None:
            refresh_after = _check_refresh(refresh_after, seconds)
        if key is not None and not callable(key):
            raise TypeError("key must be a callable returning the cache key, got %r" % (key,))

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(func):
                raise TypeError("cached() decorates functions, got %r" % (func,))
            make_key = key or _key_builder(func)
            if inspect.iscoroutinefunction(func):
                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    return await self._aget_or_set(make_key(*args, **kwargs), lambda: func(*args, **kwargs),
                                                   seconds, refresh_after)

                async_wrapper.cache_key = make_key  # type: ignore[attr-defined]
                return async_wrapper

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return self._get_or_set(make_key(*args, **kwargs), lambda: func(*args, **kwargs),
                                        seconds, refresh_after)

            wrapper.cache_key = make_key  # type: ignore[attr-defined]
            return wrapper

        return decorate

    def set_through(self, key: Any, value: Any, write: Callable[[Any], Any], ttl: Optional[float] = None) -> Any:
        """Write-through: ``write(value)`` to the store of record, then cache ``value``.

        Returns what ``write`` returned. If ``write`` raises, the key is removed
        from the cache (it may no longer match the store) and the error propagates.
        """
        seconds = self._resolve_ttl(ttl)
        try:
            result = write(value)
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TypeError("set_through() got an async write; use aset_through()")
        except BaseException:
            self.backend.delete(key)
            raise
        self.backend.set(key, value, seconds)
        return result

    async def aset_through(self, key: Any, value: Any, write: Callable[[Any], Any],
                           ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``set_through``; ``write`` may be async or plain."""
        seconds = self._resolve_ttl(ttl)
        try:
            result = write(value)
            if inspect.isawaitable(result):
                result = await result
        except BaseException:
            await self.backend.adelete(key)
            raise
        await self.backend.aset(key, value, seconds)
        return result

    def cache_page(self, ttl: Optional[float] = None, vary: Iterable[str] = DEFAULT_VARY,
                   key_prefix: str = "page:") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator for GET/HEAD route handlers: cache the whole response (status, headers, body).

        The key is the path, the query string and the request headers named in ``vary``.
        Only 200 responses with a body in full are stored; responses that set a cookie,
        say ``Cache-Control: private`` or ``no-store``, or ``Vary`` on a header not in
        ``vary`` are served but not stored. Requests with an ``Authorization`` header
        bypass the page cache unless ``vary`` names it. Stored pages get an ``ETag`` (a
        hash of the body unless the handler set one) and answer a matching
        ``If-None-Match`` with 304. Other methods call the handler untouched.

        Example::

            @app.get("/products")
            @cache.cache_page(60, vary=("Accept", "Accept-Language"))
            async def products(): ...
        """
        from ..core.responses import to_response

        seconds = self._resolve_ttl(ttl)
        policy = _PagePolicy(vary, key_prefix)

        async def async_body(request: Any, call: Callable[[], Any]) -> Any:
            key = policy.key(request) if request.method in ("GET", "HEAD") else None
            if key is None:
                return await call()
            entry = await self.backend.aget(key, MISSING)
            if entry is not MISSING:
                try:
                    return _conditional(request, _page_response(entry))
                except (TypeError, ValueError, AttributeError):  # a foreign or damaged entry: rebuild it
                    pass
            response = to_response(await call(), route_status(request))
            entry = policy.entry(response)
            if entry is not None:
                await self.backend.aset(key, entry, seconds)
            return _conditional(request, response)

        def sync_body(request: Any, call: Callable[[], Any]) -> Any:
            key = policy.key(request) if request.method in ("GET", "HEAD") else None
            if key is None:
                return call()
            entry = self.backend.get(key, MISSING)
            if entry is not MISSING:
                try:
                    return _conditional(request, _page_response(entry))
                except (TypeError, ValueError, AttributeError):
                    pass
            response = to_response(call(), route_status(request))
            entry = policy.entry(response)
            if entry is not None:
                self.backend.set(key, entry, seconds)
            return _conditional(request, response)

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(fn):
                raise TypeError("cache_page() decorates route handlers, got %r" % (fn,))
            return wrap_handler(fn, async_body, sync_body)

        return decorate

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        """Stop refresh threads and the backend's private resources."""
        with self._flight_lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.backend.close()

    async def aclose(self) -> None:
        """Coroutine face of ``close``; also waits for running background refreshes."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with self._flight_lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        await self.backend.aclose()


def cached(cache: Cache, ttl: Any = None, key: Optional[Callable[..., Any]] = None,
           refresh_after: Optional[float] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Module-level form of ``Cache.cached``: ``@cached(cache, ttl=60)``."""
    if not isinstance(cache, Cache):
        raise TypeError("cached() needs a Cache as its first argument, got %r" % (cache,))
    if callable(ttl):
        raise TypeError("cached(cache, ...) must be called: @cached(cache, ttl=60)")
    return cache.cached(ttl, key, refresh_after)
