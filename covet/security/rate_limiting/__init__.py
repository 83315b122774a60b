"""Rate limiting: limit strings, GCRA and sliding-window counters, memory and Redis backends,
a middleware and a per-route decorator.

``RateLimiter.hit(key)`` is the core: it counts one request for ``key`` against
the limits and returns a ``RateLimitResult`` saying whether it may go on, how
many requests remain, and when to come back. It needs no app.

Limits are written ``"10/second"``, ``"100/minute"``, ``"1000/hour"``,
``"5/10 seconds"``, several joined by ``;`` (a request must pass all of them,
and only a passing request is counted). Units: second, minute, hour, day
(singular, plural, or s/sec, m/min, h, d).

The package, one concept per module:

- ``limits``: ``Limit``, ``parse_limits``, ``Policy``, ``RateLimitResult`` (``StoreUnavailableResult``
  when the backend could not answer);
- ``algorithms``: GCRA and the sliding-window counter, pure functions of (state, now);
- ``backends``: the ``LimiterBackend`` contract, ``MemoryLimiterBackend``, ``RedisLimiterBackend``;
- ``keys``: key functions (``client_ip``, ``header_key``, ``user_key``) and the key-size bound;
- ``limiter``: ``RateLimiter``;
- ``middleware``: ``RateLimitMiddleware`` and the route middleware ``@limiter.limit`` attaches;
- ``ddos``: ``DDoSProtector``, a coarse per-address flood breaker with an allow-list.

Messages go to the ``covet.security.rate_limiting`` logger (``LOGGER_NAME``).

Example::

    limiter = RateLimiter("100/minute;10/second")
    result = limiter.hit("api-key-123")
    if not result.allowed:
        print("retry in", result.retry_after, "seconds")
"""
from .algorithms import ALGORITHMS, gcra, sliding_window
from .backends import (
    DEFAULT_MAX_KEYS,
    DEFAULT_REDIS_PREFIX,
    LimiterBackend,
    MemoryLimiterBackend,
    RedisLimiterBackend,
    backend_from_url,
)
from .ddos import DDOS_REDIS_PREFIX, DEFAULT_MAX_TRACKED, IPV6_PREFIX_LENGTH, DDoSProtector
from .keys import MAX_KEY_LENGTH, client_ip, header_key, user_key
from .limiter import DEFAULT_LIMITS, DEFAULT_LOG_INTERVAL, LOGGER_NAME, UNAVAILABLE_RETRY_AFTER, RateLimiter
from .limits import MAX_RATE_PER_SECOND, Limit, Policy, RateLimitResult, StoreUnavailableResult, parse_limits
from .middleware import RateLimitMiddleware

__all__ = [
    "RateLimiter", "RateLimitMiddleware", "DDoSProtector", "RateLimitResult", "StoreUnavailableResult", "Limit", "Policy",
    "parse_limits",
    "LimiterBackend", "MemoryLimiterBackend", "RedisLimiterBackend", "backend_from_url",
    "client_ip", "header_key", "user_key",
    "gcra", "sliding_window", "ALGORITHMS",
    "DEFAULT_LIMITS", "DEFAULT_MAX_KEYS", "DEFAULT_REDIS_PREFIX", "DEFAULT_LOG_INTERVAL", "LOGGER_NAME",
    "UNAVAILABLE_RETRY_AFTER",
    "MAX_KEY_LENGTH", "MAX_RATE_PER_SECOND",
    "DEFAULT_MAX_TRACKED", "DDOS_REDIS_PREFIX", "IPV6_PREFIX_LENGTH",
]
