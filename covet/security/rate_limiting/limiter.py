"""``RateLimiter``: counts requests per key against limits, in a backend, and applies them to requests
and routes.

Example::

    limiter = RateLimiter("100/minute;10/second")
    result = limiter.hit("api-key-123")
    if not result.allowed:
        print("retry in", result.retry_after, "seconds")
"""
import logging
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from ..._logging import ThrottledLog
from ..._probes import RATE_LIMIT
from ...core._wrap import add_route_middleware, ensure_unrouted
from ...core.problems import problem_response
from .algorithms import strategy_name
from .backends import LimiterBackend, MemoryLimiterBackend, backend_from_url
from .keys import check_key_function, client_ip, storage_key
from .limits import Limit, Policy, RateLimitResult, StoreUnavailableResult, parse_limits
from .middleware import RouteLimit, RouteLimitMiddleware, mark_exempt, mark_route_limit

__all__ = ["RateLimiter", "LOGGER_NAME", "DEFAULT_LIMITS", "DEFAULT_LOG_INTERVAL", "UNAVAILABLE_RETRY_AFTER"]

#: The logger every message of the rate limiter goes to (a failing backend, once per interval).
LOGGER_NAME = "covet.security.rate_limiting"
logger = logging.getLogger(LOGGER_NAME)

#: The default limits when none are given.
DEFAULT_LIMITS = "100/minute"
# One error line per this many seconds when the backend is down: every request would
# otherwise log the same error.
DEFAULT_LOG_INTERVAL = 60.0
#: ``Retry-After`` (seconds) of the 503 a fail-closed limiter answers while its backend is down. An
#: outage has no known end, unlike a limit; a short wait lets clients come back soon after the store
#: does, and the store's client backs off its reconnects on its own.
UNAVAILABLE_RETRY_AFTER = 10.0
# Parsed limit strings kept per limiter (per-route limits are few; this bounds
# callers that build limit strings per request).
POLICY_CACHE_SIZE = 1024
# Names the per-request "already counted by this limiter" marks on request.state.
_HANDLED = "_covet_rate_limited"

F = TypeVar("F", bound=Callable[..., Any])


def _default_limits(default: Any, default_limits: Any, default_rate: Any, burst_rate: Any) -> Tuple[Limit, ...]:
    given = [(name, value) for name, value in
             (("default", default), ("default_limits", default_limits), ("default_rate", default_rate))
             if value is not None]
    if len(given) > 1:
        raise TypeError("give the default limits once, not as both %s" % " and ".join(name for name, _ in given))
    limits = parse_limits(given[0][1] if given else DEFAULT_LIMITS)
    if burst_rate is not None:
        limits += parse_limits(burst_rate)
    return limits


class RateLimiter:
    """Counts requests per key against limits; the core of the middleware and the decorators.

    :param default: the limits used when a check names none (``"100/minute"``, ``"10/second;1000/hour"``,
        or a list of such strings). ``default_limits=`` and ``default_rate=`` are other names for it.
    :param key: ``key(request) -> str`` for the middleware and decorators (default: the client IP).
    :param backend: a ``LimiterBackend``: ``MemoryLimiterBackend()`` (default) or ``RedisLimiterBackend(redis)``.
    :param headers: add ``RateLimit-*`` / ``X-RateLimit-*`` headers to limited responses.
    :param strategy: ``"gcra"`` (default) or ``"sliding-window"``.
    :param fail_open: when the backend cannot answer (Redis down): allow (True, default) or refuse.
    :param log_interval: seconds between two log lines about a failing backend.
    :param burst_rate: more limits a request must also pass, e.g. ``"10/minute"`` on top of ``"100/hour"``.
    :param storage: a URL instead of ``backend``: ``"memory://"`` or ``"redis://host:6379/0"`` (the limiter
        then owns the Redis client; close it with ``await limiter.aclose()``).

    Example::

        limiter = RateLimiter(default_limits="100/hour", storage="redis://localhost:6379")
        result = await limiter.ahit("user:42")
    """

    def __init__(self, default: Any = None, key: Callable[[Any], Any] = client_ip, backend: Optional[LimiterBackend] = None,
                 headers: bool = True, strategy: str = "gcra", fail_open: bool = True,
                 log_interval: float = DEFAULT_LOG_INTERVAL, *, default_limits: Any = None, default_rate: Any = None,
                 burst_rate: Any = None, storage: Optional[str] = None) -> None:
        self.strategy = strategy_name(strategy)
        self.key = check_key_function(key)
        self._policies: Dict[Any, Policy] = {}
        self.default = Policy(_default_limits(default, default_limits, default_rate, burst_rate))
        if storage is not None:
            if backend is not None:
                raise TypeError("give storage= or backend=, not both")
            backend = backend_from_url(storage)
        elif backend is None:
            backend = MemoryLimiterBackend()
        elif not isinstance(backend, LimiterBackend):
            raise TypeError("backend must be a LimiterBackend (MemoryLimiterBackend, RedisLimiterBackend or a "
                            "subclass of LimiterBackend), got %r" % (backend,))
        self.backend = backend
        self.headers = headers
        self.fail_open = fail_open
        self._log = ThrottledLog(logger, log_interval)

    def __repr__(self) -> str:
        return "<RateLimiter %s %s %s>" % (self.default.text, self.strategy, type(self.backend).__name__)

    def policy(self, limit: Any) -> Policy:
        """Parse (and remember) a limit spec; ValueError names a bad string."""
        if isinstance(limit, Policy):
            return limit
        cacheable = isinstance(limit, str)
        if cacheable:
            found = self._policies.get(limit)
            if found is not None:
                return found
        policy = Policy(parse_limits(limit))
        if cacheable:
            if len(self._policies) >= POLICY_CACHE_SIZE:
                self._policies.clear()
            self._policies[limit] = policy
        return policy

    # -- counting ------------------------------------------------------------
    def hit(self, key: str, limit: Any = None, scope: str = "") -> RateLimitResult:
        """Count one request for ``key`` against ``limit`` (default: the limiter's), within ``scope``
        (e.g. a route name, so its counters are its own). Never raises for a down backend."""
        policy = self.default if limit is None else self.policy(limit)
        skey = storage_key(key)
        backend = self.backend
        try:
            return backend.hit(self.strategy, scope, skey, policy)
        except backend.unavailable as exc:
            return self._unavailable(policy, exc)

    async def ahit(self, key: str, limit: Any = None, scope: str = "") -> RateLimitResult:
        """Coroutine face of ``hit``."""
        policy = self.default if limit is None else self.policy(limit)
        skey = storage_key(key)
        backend = self.backend
        try:
            return await backend.ahit(self.strategy, scope, skey, policy)
        except backend.unavailable as exc:
            return self._unavailable(policy, exc)

    def reset(self, key: str, limit: Any = None, scope: str = "") -> None:
        """Forget ``key``'s counters for ``limit`` (e.g. after a successful login)."""
        policy = self.default if limit is None else self.policy(limit)
        self.backend.reset(self.strategy, scope, storage_key(key), policy)

    async def areset(self, key: str, limit: Any = None, scope: str = "") -> None:
        """Coroutine face of ``reset``."""
        policy = self.default if limit is None else self.policy(limit)
        await self.backend.areset(self.strategy, scope, storage_key(key), policy)

    def clear(self) -> None:
        """Forget every counter of every key, scope and limit (in Redis: every key under the backend's
        prefix), e.g. between tests.

        Example::

            @pytest.fixture(autouse=True)
            def fresh_limits():
                limiter.clear()
        """
        self.backend.clear()

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        await self.backend.aclear()

    def _unavailable(self, policy: Policy, exc: BaseException) -> RateLimitResult:
        self._log.error("covet ratelimit: backend unavailable, failing %s: %s",
                        "open" if self.fail_open else "closed", exc)
        lim = policy.limits[0]
        if self.fail_open:
            return StoreUnavailableResult(True, lim, lim.amount, 0.0, 0.0)
        return StoreUnavailableResult(False, lim, 0, 0.0, UNAVAILABLE_RETRY_AFTER)

    def close(self) -> None:
        """Release the backend's private resources (the thread behind the plain faces)."""
        self.backend.close()

    async def aclose(self) -> None:
        """Release everything the backend owns, the Redis client made for ``storage=`` included:
        ``app.on_shutdown(limiter.aclose)``."""
        await self.backend.aclose()

    # -- requests ------------------------------------------------------------
    def _key_of(self, request: Any, route_limit: Optional[RouteLimit]) -> Optional[str]:
        fn = route_limit.key if route_limit is not None and route_limit.key is not None else self.key
        value = fn(request)
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    async def ahit_request(self, request: Any, route_limit: Optional[RouteLimit] = None) -> Optional[RateLimitResult]:
        """Count ``request`` against a route's limit (or the default); None when its key is None.
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

    def hit_request(self, request: Any, route_limit: Optional[RouteLimit] = None) -> Optional[RateLimitResult]:
        """Plain face of ``ahit_request`` (for code in the thread pool)."""
        key = self._key_of(request, route_limit)
        if key is None:
            return None
        if route_limit is None:
            result = self.hit(key)
        else:
            result = self.hit(key, route_limit.policy, route_limit.scope)
        self._mark(request, result)
        return result

    async def allow_request(self, request: Any) -> bool:
        """Count ``request`` against the default limits and say whether it may go on (True when its
        key is None). For hand-written middleware; the result is ``request.state.rate_limit``.

        Example::

            @app.middleware
            async def limit_all(request, call_next):
                if not await limiter.allow_request(request):
                    return limiter.refusal(request, request.state.rate_limit)
                return await call_next(request)
        """
        result = await self.ahit_request(request)
        return result is None or result.allowed

    def _mark(self, request: Any, result: RateLimitResult) -> None:
        state = request.state
        state.rate_limit = result
        state.__dict__.setdefault(_HANDLED, set()).add(id(self))
        if RATE_LIMIT.observers:  # every request counted: rate_limit_checks_total, hits when refused
            RATE_LIMIT.emit(result.allowed)

    def handled(self, request: Any) -> bool:
        """True once this limiter has counted ``request`` (so a second layer does not count it again)."""
        return id(self) in request.state.__dict__.get(_HANDLED, ())

    # -- responses -----------------------------------------------------------
    def refusal_status(self, result: RateLimitResult) -> int:
        """The status of a refusal: 429, or 503 when the backend could not answer and the limiter
        fails closed (an outage is not the client going over a limit, RFC 9110 §15.6.4)."""
        return 503 if result.unavailable else 429

    def refusal_detail(self, result: RateLimitResult) -> str:
        """The ``detail`` of a refusal: ``"rate limit of 5/minute exceeded; retry in 12 s"``, or
        ``"rate limit store unavailable"`` for a 503."""
        if result.unavailable:
            return "rate limit store unavailable"
        return "rate limit of %s exceeded; retry in %d s" % (result.limit, result.retry_seconds)

    def response_headers(self, result: RateLimitResult, policy: Optional[Policy] = None,
                         refused: bool = False) -> List[Tuple[str, str]]:
        """The headers a response carries for ``result``: all of them with ``headers=True``; with
        ``headers=False`` none, except ``Retry-After`` on a refusal (RFC 6585 §4: a 429 MAY say how long
        to wait, and a client should not have to guess). A refusal because the backend is down
        carries ``Retry-After`` alone: there is no count to report."""
        if refused and result.unavailable:
            return [("Retry-After", str(result.retry_seconds))]
        if self.headers:
            return result.headers(policy.limits if policy is not None else None)
        if refused:
            return [("Retry-After", str(result.retry_seconds))]
        return []

    def refusal(self, request: Any, result: RateLimitResult, policy: Optional[Policy] = None) -> Any:
        """The problem+json response for a refused ``result``: 429, or 503 when the backend is down
        (``refusal_status``), with ``Retry-After`` either way."""
        return problem_response(request, self.refusal_status(result), self.refusal_detail(result),
                                self.response_headers(result, policy, True))

    # -- routes --------------------------------------------------------------
    def limit(self, limit: Any, key: Optional[Callable[[Any], Any]] = None,
              scope: Optional[str] = None) -> Callable[[F], F]:
        """Decorator giving one route handler its own limit (instead of the default) and counters.

        The limit is decided before the handler runs: the route checks it first, before its
        dependencies and its body, so a refused request has no side effect, and a request the
        handler then refuses (``HTTPException(401)`` on a wrong password) still counts.
        ``key(request)`` overrides the limiter's key function for this route; ``scope``
        (default: the handler's qualified name) names its counters, so two routes sharing a
        scope share an allowance. Works with and without ``RateLimitMiddleware``. It runs after
        ``require_token`` and the RBAC guards of the same handler (a ``key`` may read
        ``request.state.user``), whatever the order they are written in. Write it below the route
        decorator: above it raises TypeError. A bad limit string raises ValueError here, at import time.

        Example::

            @app.post("/login")
            @limiter.limit("5/minute;20/hour", key=header_key("X-Forwarded-User"))
            async def login(form: LoginForm): ...
        """
        policy = self.policy(limit)
        key_fn = check_key_function(key) if key is not None else None
        if scope is not None and not isinstance(scope, str):
            raise TypeError("scope must be a str, got %r" % (scope,))
        name = "limit(%r)" % policy.text

        def decorate(fn: F) -> F:
            if not callable(fn):
                raise TypeError("limit() decorates route handlers, got %r" % (fn,))
            ensure_unrouted(fn, name)
            route_limit = RouteLimit(policy, key_fn, scope if scope is not None else
                                     "%s.%s" % (getattr(fn, "__module__", None), getattr(fn, "__qualname__", repr(fn))))
            try:
                mark_route_limit(fn, self, route_limit)
            except AttributeError:
                raise TypeError("limit() decorates functions and objects that take attributes, got %r" % (fn,)) from None
            result: F = add_route_middleware(fn, RouteLimitMiddleware(self, route_limit), decorator=name)
            return result

        return decorate

    def exempt(self, fn: F) -> F:
        """Decorator: ``RateLimitMiddleware`` with this limiter leaves the route alone (no count, no headers)."""
        mark_exempt(fn, self)
        return fn
