"""Rate limiting: limit strings, GCRA and sliding-window counters, memory and Redis backends.

``RateLimiter.hit(key)`` is the core: it counts one request for ``key`` against
the limits and returns a ``RateLimitResult`` saying whether it may go on, how
many requests remain, and when to come back. It needs no app.

Limits are written ``"10/second"``, ``"100/minute"``, ``"1000/hour"``,
``"5/10 seconds"``, several joined by ``;`` (a request must pass all of them,
and only a passing request is counted). Units: second, minute, hour, day
(singular, plural, or s/sec, m/min, h, d).

Algorithms (``strategy=``):

- ``"gcra"`` (default): the generic cell rate algorithm, a token bucket kept as
  one timestamp per key. A full bucket allows a burst of the whole limit at once,
  then one request per period/limit.
- ``"sliding-window"``: a counter for the current and the previous fixed window,
  the previous one weighted by how much of it still overlaps the sliding window
  (Cloudflare's approximation). Two integers per key.

Example::

    limiter = RateLimiter("100/minute;10/second")
    result = limiter.hit("api-key-123")
    if not result.allowed:
        print("retry in", result.retry_after, "seconds")
"""
import collections
import hashlib
import logging
import math
import re
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

from .redis import BlockingRedis, Redis, RedisError, _ThrottledLog

__all__ = [
    "RateLimiter", "RateLimitResult", "Limit", "parse_limits", "MemoryLimiterBackend", "RedisLimiterBackend",
    "client_ip", "DEFAULT_MAX_KEYS", "MAX_KEY_LENGTH",
]

logger = logging.getLogger("covet.ratelimit")

# A flood of distinct keys (spoofed API keys, rotating IPv6 addresses) must not
# grow memory without bound: past this many keys the least recently seen goes,
# which hands that client a fresh allowance (fail open for it, never OOM).
DEFAULT_MAX_KEYS = 100_000
# Longer keys are replaced by their SHA-256 so each entry's size is bounded too.
MAX_KEY_LENGTH = 200
# One error line per this many seconds when Redis is down.
DEFAULT_LOG_INTERVAL = 60.0
# Highest rate a limit may express: the Redis scripts count in microseconds.
MAX_RATE_PER_SECOND = 1_000_000
# Parsed limit strings kept per limiter (per-route limits are few; this bounds
# callers that build limit strings per request).
_POLICY_CACHE_SIZE = 1024

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_LIMIT_RE = re.compile(r"\s*([0-9]{1,9})\s*(?:/|\s+per\s+)\s*(?:([0-9]{1,9})\s*)?([A-Za-z]+)\s*", re.ASCII)
_SYNTAX = "expected '<count>/<period>' such as '10/second', '100/minute' or '5/10 seconds'"


class Limit:
    """One rate: ``amount`` requests per ``period`` seconds (parse with ``parse_limits``)."""

    __slots__ = ("amount", "period", "text", "period_ns", "interval_ns", "period_us", "interval_us")

    def __init__(self, amount: int, period: int, text: str) -> None:
        self.amount = amount
        self.period = period
        self.text = text
        self.period_ns = period * 1_000_000_000
        self.interval_ns = self.period_ns // amount  # floored: `amount` back-to-back hits always fit
        self.period_us = period * 1_000_000
        self.interval_us = self.period_us // amount

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return "Limit(%r)" % self.text

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Limit) and (self.amount, self.period) == (other.amount, other.period)

    def __hash__(self) -> int:
        return hash((self.amount, self.period))


def _parse_one(part: str, whole: str) -> Limit:
    where = repr(part) if part.strip() == whole.strip() else "%r in %r" % (part, whole)
    m = _LIMIT_RE.fullmatch(part)
    if m is None:
        raise ValueError("invalid rate limit %s: %s" % (where, _SYNTAX))
    amount, multiplier, unit = int(m.group(1)), int(m.group(2) or 1), m.group(3).lower()
    seconds = _UNITS.get(unit)
    if seconds is None:
        raise ValueError("invalid rate limit %s: unknown unit %r (use second, minute, hour or day)" % (where, unit))
    if amount < 1 or multiplier < 1:
        raise ValueError("invalid rate limit %s: counts must be at least 1" % where)
    period = multiplier * seconds
    if amount > period * MAX_RATE_PER_SECOND:
        raise ValueError("invalid rate limit %s: more than %d per second cannot be counted"
                         % (where, MAX_RATE_PER_SECOND))
    name = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[seconds]
    text = "%d/%s" % (amount, name) if multiplier == 1 else "%d/%d %ss" % (amount, multiplier, name)
    return Limit(amount, period, text)


def parse_limits(spec: Union[str, Limit, Iterable[Union[str, Limit]]]) -> Tuple[Limit, ...]:
    """``"100/minute;10/second"`` (or Limit objects, or a list of either) -> a tuple of ``Limit``.

    Raises ValueError naming the string when it is not a valid limit.

    Example::

        assert [str(l) for l in parse_limits("5/10 seconds; 100 per hour")] == ["5/10 seconds", "100/hour"]
    """
    if isinstance(spec, Limit):
        return (spec,)
    if isinstance(spec, str):
        if not spec.strip():
            raise ValueError("invalid rate limit %r: it is empty" % spec)
        return tuple(_parse_one(part, spec) for part in spec.split(";"))
    try:
        items = list(spec)
    except TypeError:
        raise TypeError("a rate limit must be a str like '100/minute', got %r" % (spec,)) from None
    out: List[Limit] = []
    for item in items:
        out.extend(parse_limits(item))
    if not out:
        raise ValueError("invalid rate limit %r: it is empty" % (spec,))
    return tuple(out)


class _Policy:
    """A parsed set of limits, with everything a check needs precomputed."""

    __slots__ = ("limits", "text", "redis_args")

    def __init__(self, limits: Tuple[Limit, ...]) -> None:
        self.limits = limits
        self.text = ";".join(l.text for l in limits)
        self.redis_args = tuple(x for l in limits for x in (l.period_us, l.interval_us, l.amount))


class RateLimitResult(NamedTuple):
    """The outcome of one check.

    ``limit`` is the limit that decided: the one with the fewest requests left
    when allowed, the one that waits longest when refused. ``reset_after`` is the
    seconds until that limit is fully replenished; ``retry_after`` the seconds
    until a request would be allowed (0 when allowed).
    """

    allowed: bool
    limit: Limit
    remaining: int
    reset_after: float
    retry_after: float

    def headers(self, policy: Optional[Iterable[Limit]] = None) -> List[Tuple[str, str]]:
        """``RateLimit-*`` (IETF draft-ietf-httpapi-ratelimit-headers) and ``X-RateLimit-*`` headers,
        plus ``Retry-After`` when refused. Reset values are delta seconds in both forms."""
        limit = str(self.limit.amount)
        remaining = str(self.remaining)
        reset = str(int(math.ceil(self.reset_after)))
        out = [("RateLimit-Limit", limit), ("RateLimit-Remaining", remaining), ("RateLimit-Reset", reset)]
        if policy is not None:
            out.append(("RateLimit-Policy", ", ".join("%d;w=%d" % (l.amount, l.period) for l in policy)))
        out += [("X-RateLimit-Limit", limit), ("X-RateLimit-Remaining", remaining), ("X-RateLimit-Reset", reset)]
        if not self.allowed:
            # RFC 9110 10.2.3: delay-seconds is a non-negative integer; never tell a client "0".
            out.append(("Retry-After", str(max(1, int(math.ceil(self.retry_after))))))
        return out


# --------------------------------------------------------------------------
# The algorithms, on integer nanoseconds (no float drift: exactly `amount` fit)
# --------------------------------------------------------------------------

# Each returns (allowed, (index, remaining, reset_ns, retry_ns), new_states, expires_ns).


def _gcra(states: Optional[List[int]], now: int, limits: Tuple[Limit, ...]) -> Tuple[bool, tuple, List[int], int]:
    allowed = True
    best: tuple = ()
    new_states = []
    for i, lim in enumerate(limits):
        tat = now if states is None else states[i]
        if tat < now:
            tat = now
        new = tat + lim.interval_ns
        allow_at = new - lim.period_ns
        if allow_at > now:
            retry = allow_at - now
            if allowed or retry > best[3]:
                best = (i, 0, tat - now, retry)
            allowed = False
        elif allowed:
            remaining = (now - allow_at) // lim.interval_ns
            if not best or remaining < best[1]:
                best = (i, remaining, new - now, 0)
        new_states.append(new)
    return allowed, best, new_states, max(new_states)


def _sliding(states: Optional[List[Tuple[int, int, int]]], now: int,
             limits: Tuple[Limit, ...]) -> Tuple[bool, tuple, List[Tuple[int, int, int]], int]:
    allowed = True
    best: tuple = ()
    new_states = []
    expires = 0
    for i, lim in enumerate(limits):
        period = lim.period_ns
        amount = lim.amount
        window = now // period
        elapsed = now - window * period
        curr = prev = 0
        if states is not None:
            w, c, p = states[i]
            if w == window:
                curr, prev = c, p
            elif w == window - 1:
                prev = c
        # estimate = prev * (period - elapsed) / period + curr; allowed when estimate + 1 <= amount
        weighted = prev * (period - elapsed)
        if weighted + (curr + 1) * period <= amount * period:
            remaining = (amount * period - weighted - (curr + 1) * period) // period
            if allowed and (not best or remaining < best[1]):
                best = (i, remaining, 2 * period - elapsed, 0)
            new_states.append((window, curr + 1, prev))
        else:
            if curr < amount and prev:
                # Later in this window the previous one weighs little enough.
                retry = period - ((amount - curr - 1) * period) // prev - elapsed
            else:
                # Only in the next window, once this one's count is discounted.
                retry = (period - elapsed) + period - ((amount - 1) * period) // max(curr, 1)
            retry = max(retry, 1)
            if allowed or retry > best[3]:
                best = (i, 0, (2 * period if curr else period) - elapsed, retry)
            allowed = False
            new_states.append((window, curr, prev))
        expires = max(expires, (window + 2) * period)
    return allowed, best, new_states, expires


_STRATEGIES = {"gcra": _gcra, "sliding-window": _sliding, "sliding_window": _sliding}


_new_tuple = tuple.__new__


def _result(allowed: bool, best: tuple, limits: Tuple[Limit, ...], scale: float) -> RateLimitResult:
    index, remaining, reset, retry = best
    # PERF: tuple.__new__ skips NamedTuple's Python-level __new__ (~20% of a memory check).
    return _new_tuple(RateLimitResult, (allowed, limits[index], remaining, reset / scale, retry / scale))


# --------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------


class MemoryLimiterBackend:
    """Counters in this process, bounded: idle keys are dropped as new ones arrive, and past
    ``max_keys`` the least recently seen key is evicted. Thread-safe.

    :param max_keys: most keys tracked at once.
    :param clock: monotonic nanoseconds; replace it in tests.
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

    def hit(self, strategy: str, scope: str, key: str, policy: _Policy) -> RateLimitResult:
        """Count one request; see ``RateLimiter.hit``."""
        check = _STRATEGIES[strategy]
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
            allowed, best, new_states, expires = check(states, now, policy.limits)
            if allowed:
                data[skey] = (expires, new_states)
                if entry is None:
                    self._make_room(now)
                else:
                    data.move_to_end(skey)
            elif entry is not None:
                # A refused client is still active: evicting it would hand it a fresh allowance.
                data.move_to_end(skey)
        return _result(allowed, best, policy.limits, 1e9)

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

    async def ahit(self, strategy: str, scope: str, key: str, policy: _Policy) -> RateLimitResult:
        """Coroutine face of ``hit`` (no I/O)."""
        return self.hit(strategy, scope, key, policy)

    def reset(self, strategy: str, scope: str, key: str, policy: _Policy) -> None:
        """Forget the key's counters."""
        with self._lock:
            self._data.pop((strategy, scope, policy.text, key), None)

    async def areset(self, strategy: str, scope: str, key: str, policy: _Policy) -> None:
        """Coroutine face of ``reset``."""
        self.reset(strategy, scope, key, policy)

    def purge(self) -> int:
        """Drop every idle key now (O(keys)); the number dropped."""
        with self._lock:
            now = self._clock()
            idle = [k for k, (expires, _) in self._data.items() if expires <= now]
            for k in idle:
                del self._data[k]
            return len(idle)

    def close(self) -> None:
        """Nothing to release."""


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


class RedisLimiterBackend:
    """Counters in Redis, shared by every worker and host; each check is one Lua script
    (EVALSHA), so concurrent checks from many processes are atomic.

    :param redis: the asyncio client.
    :param prefix: prepended to every Redis key.
    """

    def __init__(self, redis: Redis, *, prefix: str = "covet:rl:") -> None:
        if not isinstance(redis, Redis):
            raise TypeError("RedisLimiterBackend needs a covet.redis.Redis client, got %r" % (redis,))
        self.redis = redis
        self.prefix = prefix
        self._scripts = {"gcra": redis.script(_GCRA_LUA), "sliding-window": redis.script(_SLIDING_LUA)}
        self._scripts["sliding_window"] = self._scripts["sliding-window"]
        self._blocking_client: Optional[BlockingRedis] = None
        self._lock = threading.Lock()

    def _keys(self, strategy: str, scope: str, key: str, policy: _Policy) -> List[str]:
        # The scope is length-prefixed and limit texts hold no ':', so no two (scope, limit, key) collide.
        head = "%s%s:%d:%s:" % (self.prefix, "g" if strategy == "gcra" else "s", len(scope), scope)
        return [head + lim.text + ":" + key for lim in policy.limits]

    async def _hit(self, client: Redis, strategy: str, scope: str, key: str, policy: _Policy) -> RateLimitResult:
        reply = await self._scripts[strategy](self._keys(strategy, scope, key, policy), policy.redis_args, client)
        allowed, index, remaining, reset, retry = reply
        return RateLimitResult(allowed == 1, policy.limits[index - 1], max(remaining, 0), reset / 1e6, retry / 1e6)

    async def ahit(self, strategy: str, scope: str, key: str, policy: _Policy) -> RateLimitResult:
        """Count one request; raises RedisError when Redis cannot answer."""
        return await self._hit(self.redis, strategy, scope, key, policy)

    def _blocking(self) -> BlockingRedis:
        with self._lock:
            if self._blocking_client is None:
                self._blocking_client = self.redis.blocking()
            return self._blocking_client

    def hit(self, strategy: str, scope: str, key: str, policy: _Policy) -> RateLimitResult:
        """Plain face of ``ahit``, on a private loop thread."""
        return self._blocking().run(lambda client: self._hit(client, strategy, scope, key, policy))

    async def areset(self, strategy: str, scope: str, key: str, policy: _Policy) -> None:
        """Forget the key's counters."""
        await self.redis.delete(*self._keys(strategy, scope, key, policy))

    def reset(self, strategy: str, scope: str, key: str, policy: _Policy) -> None:
        """Plain face of ``areset``."""
        keys = self._keys(strategy, scope, key, policy)
        self._blocking().run(lambda client: client.delete(*keys))

    def close(self) -> None:
        """Stop the private thread of the plain face (the asyncio client is yours to close)."""
        with self._lock:
            blocking, self._blocking_client = self._blocking_client, None
        if blocking is not None:
            blocking.close()


# --------------------------------------------------------------------------
# The limiter
# --------------------------------------------------------------------------


def client_ip(request: Any) -> str:
    """The client's address as the server resolved it (through its trusted-proxy settings)."""
    client = getattr(request, "client", None)
    if client is None:
        return "unknown"
    host = getattr(client, "host", None)
    if host is None and isinstance(client, (tuple, list)) and client:
        host = client[0]
    return str(host) if host else "unknown"


def _storage_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError("rate limit keys must be str, got %r" % (key,))
    if len(key) > MAX_KEY_LENGTH:
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


class RateLimiter:
    """Counts requests per key against limits; the core of the middleware and decorators.

    :param default: the limits used when a check names none (``"100/minute"``).
    :param key: ``key(request) -> str`` for the middleware and decorators (default: client IP).
    :param backend: ``MemoryLimiterBackend()`` (default) or ``RedisLimiterBackend(redis)``.
    :param headers: add ``RateLimit-*`` / ``X-RateLimit-*`` headers to limited responses.
    :param strategy: ``"gcra"`` (default) or ``"sliding-window"``.
    :param fail_open: when the backend cannot answer (Redis down): allow (True, default) or refuse.
    :param log_interval: seconds between two log lines about a failing backend.

    Example::

        limiter = RateLimiter("10/second", backend=RedisLimiterBackend(Redis.from_url(url)))
        result = await limiter.ahit("user:42")
    """

    def __init__(self, default: Any = "100/minute", key: Callable[[Any], Any] = client_ip, backend: Any = None,
                 headers: bool = True, strategy: str = "gcra", fail_open: bool = True,
                 log_interval: float = DEFAULT_LOG_INTERVAL) -> None:
        if strategy not in _STRATEGIES:
            raise ValueError("strategy must be 'gcra' or 'sliding-window', got %r" % (strategy,))
        if not callable(key):
            raise TypeError("key must be a callable taking the request, got %r" % (key,))
        self._policies: Dict[Any, _Policy] = {}
        self.default = self.policy(default)
        self.key = key
        self.backend = backend if backend is not None else MemoryLimiterBackend()
        self.headers = headers
        self.strategy = "sliding-window" if strategy == "sliding_window" else strategy
        self.fail_open = fail_open
        self._log = _ThrottledLog(logger, log_interval)

    def policy(self, limit: Any) -> _Policy:
        """Parse (and remember) a limit spec; ValueError names a bad string."""
        if isinstance(limit, _Policy):
            return limit
        cacheable = isinstance(limit, str)
        if cacheable:
            found = self._policies.get(limit)
            if found is not None:
                return found
        policy = _Policy(parse_limits(limit))
        if cacheable:
            if len(self._policies) >= _POLICY_CACHE_SIZE:
                self._policies.clear()
            self._policies[limit] = policy
        return policy

    def hit(self, key: str, limit: Any = None, scope: str = "") -> RateLimitResult:
        """Count one request for ``key`` against ``limit`` (default: the limiter's), within ``scope``
        (e.g. a route name, so its counters are its own). Never raises for a down backend."""
        policy = self.default if limit is None else self.policy(limit)
        skey = _storage_key(key)
        try:
            return self.backend.hit(self.strategy, scope, skey, policy)
        except RedisError as exc:
            return self._unavailable(policy, exc)

    async def ahit(self, key: str, limit: Any = None, scope: str = "") -> RateLimitResult:
        """Coroutine face of ``hit``."""
        policy = self.default if limit is None else self.policy(limit)
        skey = _storage_key(key)
        try:
            return await self.backend.ahit(self.strategy, scope, skey, policy)
        except RedisError as exc:
            return self._unavailable(policy, exc)

    def reset(self, key: str, limit: Any = None, scope: str = "") -> None:
        """Forget ``key``'s counters for ``limit`` (e.g. after a successful login)."""
        policy = self.default if limit is None else self.policy(limit)
        self.backend.reset(self.strategy, scope, _storage_key(key), policy)

    async def areset(self, key: str, limit: Any = None, scope: str = "") -> None:
        """Coroutine face of ``reset``."""
        policy = self.default if limit is None else self.policy(limit)
        await self.backend.areset(self.strategy, scope, _storage_key(key), policy)

    def _unavailable(self, policy: _Policy, exc: BaseException) -> RateLimitResult:
        self._log.error("covet ratelimit: backend unavailable, failing %s: %s",
                        "open" if self.fail_open else "closed", exc)
        lim = policy.limits[0]
        if self.fail_open:
            return RateLimitResult(True, lim, lim.amount, 0.0, 0.0)
        return RateLimitResult(False, lim, 0, 0.0, max(1.0, lim.interval_ns / 1e9))

    def close(self) -> None:
        """Release the backend's private resources."""
        self.backend.close()
