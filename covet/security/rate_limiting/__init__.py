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
import inspect
import logging
import math
import re
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

from ...core._wrap import route_status, wrap_handler
from ..._logging import ThrottledLog
from ...redis import BlockingRedis, Redis, RedisError

__all__ = [
    "RateLimiter", "RateLimitMiddleware", "RateLimitResult", "Limit", "parse_limits", "MemoryLimiterBackend",
    "RedisLimiterBackend", "client_ip", "header_key", "user_key", "DEFAULT_MAX_KEYS", "MAX_KEY_LENGTH",
]

logger = logging.getLogger("covet.security.rate_limiting")

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


def header_key(name: str, fallback: Optional[Callable[[Any], Any]] = client_ip) -> Callable[[Any], Any]:
    """A key function reading a request header (an API key); without the header, ``fallback(request)``.

    Example::

        limiter = RateLimiter("1000/hour", key=header_key("X-API-Key"))
    """
    if not isinstance(name, str) or not name:
        raise TypeError("header_key() needs a header name")
    lowered = name.lower()

    def key(request: Any) -> Any:
        value = request.headers.get(lowered)
        if value:
            return "%s:%s" % (lowered, value)
        return fallback(request) if fallback is not None else None

    return key


def user_key(request: Any) -> Any:
    """The authenticated user from ``request.state.user`` (its ``id``, a dict's ``sub``/``id``, or its
    str), else the client IP: signed-in users are limited per account, others per address."""
    state = request.state
    user = state.__dict__.get("user") if hasattr(state, "__dict__") else None
    if user is None:
        return client_ip(request)
    if isinstance(user, dict):
        ident = user.get("sub", user.get("id"))
    else:
        ident = getattr(user, "id", None)
    return "user:%s" % (user if ident is None else ident)


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
        key = _check_key_fn(key)
        self._policies: Dict[Any, _Policy] = {}
        self.default = self.policy(default)
        self.key = key
        self.backend = backend if backend is not None else MemoryLimiterBackend()
        self.headers = headers
        self.strategy = "sliding-window" if strategy == "sliding_window" else strategy
        self.fail_open = fail_open
        self._log = ThrottledLog(logger, log_interval)

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

    # -- for routes --------------------------------------------------------
    def limit(self, limit: Any, key: Optional[Callable[[Any], Any]] = None,
              scope: Optional[str] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator giving one route handler its own limit (instead of the default) and counters.

        ``key(request)`` overrides the limiter's key function for this route; ``scope``
        (default: the handler's qualified name) names its counters, so two routes
        sharing a scope share an allowance. With ``RateLimitMiddleware`` installed the
        middleware applies it; without, the handler's wrapper does, so the decorator
        is never silently ignored.

        Example::

            @app.post("/login")
            @limiter.limit("5/minute;20/hour", key=header_key("X-Forwarded-User"))
            async def login(form: LoginForm): ...
        """
        policy = self.policy(limit)
        key_fn = _check_key_fn(key) if key is not None else None

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(fn):
                raise TypeError("limit() decorates route handlers, got %r" % (fn,))
            route_limit = _RouteLimit(policy, key_fn, scope if scope is not None else
                                      "%s.%s" % (fn.__module__, getattr(fn, "__qualname__", repr(fn))))

            async def async_body(request: Any, call: Callable[[], Any]) -> Any:
                if self._handled(request):
                    return await call()
                result = await self.ahit_request(request, route_limit)
                if result is None:
                    return await call()
                return self._finish(request, result, route_limit.policy, await call())

            def sync_body(request: Any, call: Callable[[], Any]) -> Any:
                if self._handled(request):
                    return call()
                result = self.hit_request(request, route_limit)
                if result is None:
                    return call()
                return self._finish(request, result, route_limit.policy, call())

            wrapper = wrap_handler(fn, async_body, sync_body)
            marks = dict(getattr(wrapper, _LIMIT_ATTR, {}))
            marks[id(self)] = route_limit
            setattr(wrapper, _LIMIT_ATTR, marks)
            return wrapper

        return decorate

    def exempt(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: ``RateLimitMiddleware`` with this limiter leaves the route alone (no count, no headers)."""
        exempt = set(getattr(fn, _EXEMPT_ATTR, ()))
        exempt.add(id(self))
        setattr(fn, _EXEMPT_ATTR, frozenset(exempt))
        return fn

    def _key_of(self, request: Any, route_limit: Optional["_RouteLimit"]) -> Optional[str]:
        fn = route_limit.key if route_limit is not None and route_limit.key is not None else self.key
        value = fn(request)
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    async def ahit_request(self, request: Any, route_limit: Optional["_RouteLimit"] = None) -> Optional[RateLimitResult]:
        """Check ``request`` against a route's limit (or the default); None when its key is None.
        The result is kept as ``request.state.rate_limit``."""
        key = self._key_of(request, route_limit)
        if key is None:
            return None
        if route_limit is None:
            result = await self.ahit(key)
        else:
            result = await self.ahit(key, route_limit.policy, route_limit.scope)
        self._mark(request, result)
        return result

    def hit_request(self, request: Any, route_limit: Optional["_RouteLimit"] = None) -> Optional[RateLimitResult]:
        """Plain face of ``ahit_request`` (for plain-def handlers in the thread pool)."""
        key = self._key_of(request, route_limit)
        if key is None:
            return None
        if route_limit is None:
            result = self.hit(key)
        else:
            result = self.hit(key, route_limit.policy, route_limit.scope)
        self._mark(request, result)
        return result

    def _mark(self, request: Any, result: RateLimitResult) -> None:
        state = request.state
        state.rate_limit = result
        done = state.__dict__.setdefault("_covet_rate_limited", set())
        done.add(id(self))

    def _handled(self, request: Any) -> bool:
        return id(self) in request.state.__dict__.get("_covet_rate_limited", ())

    def refusal(self, request: Any, result: RateLimitResult, policy: Optional[_Policy] = None) -> Any:
        """The 429 problem+json response for a refused ``result``."""
        from ...core.problems import problem_response

        return problem_response(request, 429, self._detail(result), self._headers(result, policy, force=True))

    def _detail(self, result: RateLimitResult) -> str:
        return "rate limit of %s exceeded; retry in %d s" % (
            result.limit, max(1, int(math.ceil(result.retry_after))))

    def _headers(self, result: RateLimitResult, policy: Optional[_Policy], force: bool = False) -> List[Tuple[str, str]]:
        if self.headers:
            return result.headers(policy.limits if policy is not None else None)
        if force:  # Retry-After belongs to every 429 (RFC 6585 §4), headers=False or not
            return [h for h in result.headers() if h[0] == "Retry-After"]
        return []

    def _finish(self, request: Any, result: RateLimitResult, policy: _Policy, value: Any) -> Any:
        from ...core.errors import HTTPException
        from ...core.responses import to_response

        if not result.allowed:
            # Raised inside the route, so the app's exception handlers for 429 apply.
            raise HTTPException(429, self._detail(result), self._headers(result, policy, force=True))
        if not self.headers:
            return value
        response = to_response(value, route_status(request))
        _add_headers(response, self._headers(result, policy))
        return response


_LIMIT_ATTR = "__covet_rate_limit__"
_EXEMPT_ATTR = "__covet_rate_limit_exempt__"
# Mounted apps nest; the middleware looks this deep for the route being called.
_MAX_MOUNT_DEPTH = 8


class _RouteLimit:
    """A route's own limit, set by ``RateLimiter.limit``."""

    __slots__ = ("policy", "key", "scope")

    def __init__(self, policy: _Policy, key: Optional[Callable[[Any], Any]], scope: str) -> None:
        self.policy = policy
        self.key = key
        self.scope = scope


def _check_key_fn(key: Any) -> Callable[[Any], Any]:
    if not callable(key):
        raise TypeError("key must be a callable taking the request, got %r" % (key,))
    if inspect.iscoroutinefunction(key) or inspect.iscoroutinefunction(getattr(key, "__call__", None)):
        raise TypeError("key functions must be plain functions (they also run in sync handlers), got %r" % (key,))
    return key


def _add_headers(response: Any, headers: List[Tuple[str, str]]) -> None:
    if headers:
        view = response.headers
        for name, value in headers:
            view[name] = value


def _endpoint(request: Any) -> Any:
    """The handler the request will reach, found the way the app will find it."""
    route = getattr(request, "route", None)
    if route is not None:  # group or route middleware: routing already happened
        return route.endpoint
    app = getattr(request, "app", None)
    path = request.raw_path
    for _ in range(_MAX_MOUNT_DEPTH):
        router = getattr(app, "router", None)
        if router is None:
            return None
        route, _params = router.match(request.method, path)
        if route is not None:
            return route.endpoint
        if _params is not None:
            return None  # the path exists for other methods: a 405, limited by default
        mount, rest = router.find_mount(path)
        if mount is None:
            return None
        app, path = mount.app, rest
    return None


class RateLimitMiddleware:
    """App-wide limiting: every request counts against the limiter's default limit, except
    routes marked ``@limiter.exempt`` and routes with their own ``@limiter.limit``.

    Refused requests get 429 problem+json with ``Retry-After``; with ``headers=True``
    every limited response carries ``RateLimit-*`` and ``X-RateLimit-*`` headers.
    The result is also available to handlers as ``request.state.rate_limit``.

    Example::

        limiter = RateLimiter("100/minute")
        app.add_middleware(RateLimitMiddleware(limiter))
    """

    def __init__(self, limiter: RateLimiter) -> None:
        if not isinstance(limiter, RateLimiter):
            raise TypeError("RateLimitMiddleware needs a RateLimiter, got %r" % (limiter,))
        self.limiter = limiter

    async def __call__(self, request: Any, call_next: Callable[[Any], Any]) -> Any:
        limiter = self.limiter
        try:
            endpoint = _endpoint(request)
        except Exception:
            # A path the router rejects (bad escapes...): the app answers it with a 4xx
            # after us; here it simply counts against the default limit.
            endpoint = None
        route_limit = None
        if endpoint is not None:
            if id(limiter) in getattr(endpoint, _EXEMPT_ATTR, ()):
                return await call_next(request)
            route_limit = getattr(endpoint, _LIMIT_ATTR, {}).get(id(limiter))
        result = await limiter.ahit_request(request, route_limit)
        if result is None:
            return await call_next(request)
        policy = route_limit.policy if route_limit is not None else limiter.default
        if not result.allowed:
            return limiter.refusal(request, result, policy)
        response = await call_next(request)
        _add_headers(response, limiter._headers(result, policy))
        return response
