"""Where a ``RateLimiter`` keeps its counters: the backend contract (``LimiterBackend``) and its two
implementations, in this process (``MemoryLimiterBackend``) and in Redis (``RedisLimiterBackend``).

Example::

    limiter = RateLimiter("100/minute", backend=MemoryLimiterBackend(max_keys=10_000))
    shared = RateLimiter("100/minute", backend=RedisLimiterBackend.from_url("redis://cache.internal:6379/0"))
"""
import abc
import collections
import threading
import time
from typing import Any, Callable, Optional, Tuple, Type

from ...redis import BlockingRedis, Redis, RedisError
from .algorithms import ALGORITHMS
from .limits import Policy, RateLimitResult

__all__ = ["LimiterBackend", "MemoryLimiterBackend", "RedisLimiterBackend", "backend_from_url", "DEFAULT_MAX_KEYS",
           "DEFAULT_REDIS_PREFIX"]

# A flood of distinct keys (spoofed API keys, rotating IPv6 addresses) must not
# grow memory without bound: past this many keys the least recently seen goes,
# which hands that client a fresh allowance (fail open for it, never OOM).
DEFAULT_MAX_KEYS = 100_000
# Prepended to every Redis key, so that the limiter's keys can be told apart and cleared.
DEFAULT_REDIS_PREFIX = "covet:rl:"

class LimiterBackend(abc.ABC):
    """The backend contract: where a ``RateLimiter`` keeps its counters.

    A backend stores, per (strategy, scope, policy, key), the state of the strategy's
    algorithm (``covet.security.rate_limiting.algorithms``) and answers each check with a
    ``RateLimitResult``. Every method gets:

    - ``strategy``: ``"gcra"`` or ``"sliding-window"`` (canonical names only);
    - ``scope``: a name keeping separate counters for the same key (a route's), may be ``""``;
    - ``key``: the client's key, already bounded in length (``storage_key``);
    - ``policy``: the parsed limits (``Policy``); its ``text`` is part of the counter's identity,
      so two different limits never share counters.

    The rules every backend keeps:

    - ``hit`` counts the request against every limit of the policy **atomically**: when
      concurrent checks race (threads, coroutines, processes), exactly ``amount`` of them pass;
    - a refused request is counted against none of the limits;
    - ``hit``/``reset``/``clear`` are the plain faces (any thread), ``ahit``/``areset``/``aclear``
      the coroutine faces (the event loop); neither blocks the other's caller;
    - when the store cannot answer, raise one of ``unavailable`` (the limiter then fails open
      or closed, and logs); any other exception is a bug and propagates.

    Example::

        class CountingBackend(MemoryLimiterBackend):
            def hit(self, strategy, scope, key, policy):
                self.checks = getattr(self, "checks", 0) + 1
                return super().hit(strategy, scope, key, policy)
    """

    #: Exceptions meaning "the store cannot answer now" (Redis down, a timeout).
    unavailable: Tuple[Type[BaseException], ...] = ()

    @abc.abstractmethod
    def hit(self, strategy: str, scope: str, key: str, policy: Policy) -> RateLimitResult:
        """Count one request for ``key`` against ``policy`` and say whether it may go on."""

    @abc.abstractmethod
    async def ahit(self, strategy: str, scope: str, key: str, policy: Policy) -> RateLimitResult:
        """Coroutine face of ``hit``."""

    @abc.abstractmethod
    def reset(self, strategy: str, scope: str, key: str, policy: Policy) -> None:
        """Forget the counters of one key (for that scope and policy)."""

    @abc.abstractmethod
    async def areset(self, strategy: str, scope: str, key: str, policy: Policy) -> None:
        """Coroutine face of ``reset``."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget every counter this backend holds (every key, scope, policy and strategy)."""

    @abc.abstractmethod
    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""

    def close(self) -> None:
        """Release what the plain faces hold (threads, connections). Nothing by default."""

    async def aclose(self) -> None:
        """Release everything the backend owns. By default, ``close()``."""
        self.close()


class MemoryLimiterBackend(LimiterBackend):
    """Counters in this process, bounded: idle keys are dropped as new ones arrive, and past
    ``max_keys`` the least recently seen key is evicted. Thread-safe; no I/O, so the coroutine
    faces simply call the plain ones.

    :param max_keys: most keys tracked at once.
    :param clock: monotonic nanoseconds; replace it in tests.

    Example::

        backend = MemoryLimiterBackend(max_keys=10_000)
        limiter = RateLimiter("100/minute", backend=backend)
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], int] = time.monotonic_ns) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError("max_keys must be a positive integer, got %r" % (max_keys,))
        self.max_keys = max_keys
        self._clock = clock
        # storage key -> (expires_ns, states); order is recency of use, oldest first.
        self._data: "collections.OrderedDict[Any, Tuple[int, Any]]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self.evictions = 0  # live keys pushed out by max_keys

    def __len__(self) -> int:
        return len(self._data)

    def hit(self, strategy: str, scope: str, key: str, policy: Policy) -> RateLimitResult:
        """Count one request; see ``LimiterBackend.hit``."""
        check = ALGORITHMS[strategy]
        skey = (strategy, scope, policy.text, key)
        data = self._data
        with self._lock:
            now = self._clock()
            entry = data.get(skey)
            states = None
            if entry is not None:
                if entry[0] > now:
                    states = entry[1]
                else:
                    del data[skey]  # idle long enough to be a fresh key
                    entry = None
            result, new_states, expires_ns = check(states, now, policy.limits)
            if result.allowed:
                data[skey] = (expires_ns, new_states)
                if entry is None:
                    self._make_room(now)
                else:
                    data.move_to_end(skey)
            elif entry is not None:
                # A refused client is still active: evicting it would hand it a fresh allowance.
                data.move_to_end(skey)
        return result

    def _make_room(self, now: int) -> None:
        # Caller holds the lock. Idle keys at the old end go first, then the LRU one if still full.
        data = self._data
        while len(data) > 1:
            first = next(iter(data.values()))
            if first[0] > now:
                break
            data.popitem(last=False)
        if len(data) > self.max_keys:
            data.popitem(last=False)
            self.evictions += 1

    async def ahit(self, strategy: str, scope: str, key: str, policy: Policy) -> RateLimitResult:
        """Coroutine face of ``hit`` (no I/O)."""
        return self.hit(strategy, scope, key, policy)

    def reset(self, strategy: str, scope: str, key: str, policy: Policy) -> None:
        """Forget the key's counters."""
        with self._lock:
            self._data.pop((strategy, scope, policy.text, key), None)

    async def areset(self, strategy: str, scope: str, key: str, policy: Policy) -> None:
        """Coroutine face of ``reset``."""
        self.reset(strategy, scope, key, policy)

    def clear(self) -> None:
        """Forget every counter (and the eviction count)."""
        with self._lock:
            self._data.clear()
            self.evictions = 0

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        self.clear()

    def purge(self) -> int:
        """Drop every idle key now (O(keys)); the number dropped."""
        with self._lock:
            now = self._clock()
            idle = [k for k, (expires, _) in self._data.items() if expires <= now]
            for k in idle:
                del self._data[k]
            return len(idle)


# One script per strategy, each a single atomic check of every limit of a policy
# (Redis runs a script without interleaving other commands). Time comes from the
# server (TIME), so hosts with skewed clocks still agree. Microseconds keep every
# timestamp an exact integer in Lua's doubles (below 2^53).
_PREAMBLE = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local allowed, best, best_remaining, best_reset, best_retry = 1, 0, -1, 0, 0
"""

_GCRA_LUA = _PREAMBLE + """
local tats = {}
for i = 1, #KEYS do
  local period, interval = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0) or 0
  if tat < now then tat = now end
  -- A server clock that went back: at most "fully used", never locked out for the jump.
  if tat > now + period then tat = now + period end
  local new = tat + interval
  local allow_at = new - period
  if allow_at > now then
    local retry = allow_at - now
    if allowed == 1 or retry > best_retry then
      best, best_remaining, best_reset, best_retry = i, 0, tat - now, retry
    end
    allowed = 0
  elseif allowed == 1 then
    local remaining = math.floor((now - allow_at) / interval)
    if best_remaining < 0 or remaining < best_remaining then
      best, best_remaining, best_reset = i, remaining, new - now
    end
  end
  tats[i] = new
end
if allowed == 1 then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000))
  end
end
return {allowed, best, best_remaining, best_reset, best_retry}
"""

_SLIDING_LUA = _PREAMBLE + """
local states = {}
for i = 1, #KEYS do
  local period, amount = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i])
  local window = math.floor(now / period)
  local elapsed = now - window * period
  local s = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
  local w, c, p = tonumber(s[1]), tonumber(s[2]) or 0, tonumber(s[3]) or 0
  local curr, prev = 0, 0
  if w == window then curr, prev = c, p elseif w == window - 1 then prev = c end
  local weighted = prev * (period - elapsed)
  if weighted + (curr + 1) * period <= amount * period then
    local remaining = math.floor((amount * period - weighted - (curr + 1) * period) / period)
    if allowed == 1 and (best_remaining < 0 or remaining < best_remaining) then
      best, best_remaining, best_reset = i, remaining, 2 * period - elapsed
    end
  else
    local retry
    if curr < amount and prev > 0 then
      retry = period - math.floor((amount - curr - 1) * period / prev) - elapsed
    else
      retry = (period - elapsed) + period - math.floor((amount - 1) * period / math.max(curr, 1))
    end
    if retry < 1 then retry = 1 end
    local reset = period - elapsed
    if curr > 0 then reset = reset + period end
    if allowed == 1 or retry > best_retry then
      best, best_remaining, best_reset, best_retry = i, 0, reset, retry
    end
    allowed = 0
  end
  states[i] = {window, curr, prev, period - elapsed}
end
if allowed == 1 then
  for i = 1, #KEYS do
    local s = states[i]
    redis.call('HSET', KEYS[i], 'w', string.format('%.0f', s[1]), 'c', s[2] + 1, 'p', s[3])
    redis.call('PEXPIRE', KEYS[i], math.ceil((s[4] + tonumber(ARGV[3*i-2])) / 1000))
  end
end
return {allowed, best, best_remaining, best_reset, best_retry}
"""


def _glob_escape(text: str) -> str:
    # SCAN MATCH takes a glob: the prefix must match itself only.
    return "".join("\\" + c if c in "\\*?[]" else c for c in text)


class RedisLimiterBackend(LimiterBackend):
    """Counters in Redis, shared by every worker and host; each check is one Lua script
    (EVALSHA), so concurrent checks from many processes are atomic.

    :param redis: the asyncio client (yours to close, unless built by ``from_url``).
    :param prefix: prepended to every Redis key; ``clear()`` removes every key under it.

    Example::

        from covet.redis import Redis

        backend = RedisLimiterBackend(Redis.from_url("redis://cache.internal:6379/0"))
        limiter = RateLimiter("100/minute", backend=backend)
    """

    unavailable = (RedisError,)

    def __init__(self, redis: Redis, *, prefix: str = DEFAULT_REDIS_PREFIX) -> None:
        if not isinstance(redis, Redis):
            raise TypeError("RedisLimiterBackend needs a covet.redis.Redis client, got %r" % (redis,))
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str, got %r" % (prefix,))
        self.redis = redis
        self.prefix = prefix
        #: True when the backend made the client (``from_url``) and so closes it in ``aclose()``.
        self.owns_client = False
        self._scripts = {"gcra": redis.script(_GCRA_LUA), "sliding-window": redis.script(_SLIDING_LUA)}
        self._blocking_client: Optional[BlockingRedis] = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_REDIS_PREFIX) -> "RedisLimiterBackend":
        """A backend with its own client for ``url`` (``redis://``, ``rediss://``, ``unix://``; see
        ``Redis.from_url``), closed by ``aclose()``.

        Example::

            backend = RedisLimiterBackend.from_url("redis://:secret@cache.internal:6379/2")
        """
        backend = cls(Redis.from_url(url), prefix=prefix)
        backend.owns_client = True
        return backend

    def _keys(self, strategy: str, scope: str, key: str, policy: Policy) -> list:
        # The scope is length-prefixed and limit texts hold no ':', so no two (scope, limit, key) collide.
        head = "%s%s:%d:%s:" % (self.prefix, "g" if strategy == "gcra" else "s", len(scope), scope)
        return [head + lim.text + ":" + key for lim in policy.limits]

    async def _hit(self, client: Redis, strategy: str, scope: str, key: str, policy: Policy) -> RateLimitResult:
        reply = await self._scripts[strategy](self._keys(strategy, scope, key, policy), policy.script_args, client)
        allowed, index, remaining, reset, retry = reply
        return RateLimitResult(allowed == 1, policy.limits[index - 1], max(remaining, 0), reset / 1e6, retry / 1e6)

    async def ahit(self, strategy: str, scope: str, key: str, policy: Policy) -> RateLimitResult:
        """Count one request; raises RedisError when Redis cannot answer."""
        return await self._hit(self.redis, strategy, scope, key, policy)

    def _blocking(self) -> BlockingRedis:
        with self._lock:
            if self._blocking_client is None:
                self._blocking_client = self.redis.blocking()
            return self._blocking_client

    def hit(self, strategy: str, scope: str, key: str, policy: Policy) -> RateLimitResult:
        """Plain face of ``ahit``, on a private loop thread."""
        return self._blocking().run(lambda client: self._hit(client, strategy, scope, key, policy))

    async def areset(self, strategy: str, scope: str, key: str, policy: Policy) -> None:
        """Forget the key's counters."""
        await self.redis.delete(*self._keys(strategy, scope, key, policy))

    def reset(self, strategy: str, scope: str, key: str, policy: Policy) -> None:
        """Plain face of ``areset``."""
        keys = self._keys(strategy, scope, key, policy)
        self._blocking().run(lambda client: client.delete(*keys))

    async def _clear(self, client: Redis) -> None:
        # SCAN, not KEYS: it does not stall a shared Redis while it walks a large keyspace.
        pattern = _glob_escape(self.prefix) + "*"
        cursor = 0
        while True:
            cursor, keys = await client.scan(cursor, match=pattern, count=1000)
            if keys:
                await client.delete(*keys)
            if cursor == 0:
                return

    async def aclear(self) -> None:
        """Delete every key under ``prefix`` (SCAN and DEL; counters created meanwhile may survive)."""
        await self._clear(self.redis)

    def clear(self) -> None:
        """Plain face of ``aclear``."""
        self._blocking().run(self._clear)

    def close(self) -> None:
        """Stop the private thread of the plain faces (the asyncio client is closed by ``aclose``
        when the backend made it, and is yours to close otherwise)."""
        with self._lock:
            blocking, self._blocking_client = self._blocking_client, None
        if blocking is not None:
            blocking.close()

    async def aclose(self) -> None:
        """``close()``, and close the asyncio client too when ``from_url`` made it."""
        self.close()
        if self.owns_client:
            await self.redis.close()


def backend_from_url(storage: str) -> LimiterBackend:
    """The backend a storage URL names: ``"memory://"`` -> ``MemoryLimiterBackend()``;
    ``"redis://..."``, ``"rediss://..."`` or ``"unix://..."`` -> ``RedisLimiterBackend.from_url(storage)``.

    Example::

        limiter = RateLimiter("100/hour", backend=backend_from_url("redis://localhost:6379"))
    """
    if not isinstance(storage, str):
        raise TypeError("storage must be a URL such as 'memory://' or 'redis://localhost:6379', got %r" % (storage,))
    scheme = storage.split("://", 1)[0].strip().lower() if "://" in storage else ""
    if scheme == "memory":
        if storage.strip().lower() != "memory://":
            raise ValueError("invalid storage %r: memory:// takes no host, path or options" % storage)
        return MemoryLimiterBackend()
    if scheme in ("redis", "rediss", "unix"):
        return RedisLimiterBackend.from_url(storage)
    raise ValueError("invalid storage %r: use 'memory://' or a redis://, rediss:// or unix:// URL" % storage)
