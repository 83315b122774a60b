"""The rate limiter in an app: ``RateLimitMiddleware`` (app-wide or for a group), the route
middleware that ``@limiter.limit`` attaches to a handler, and what both share.

Both decide before the handler runs: the request is counted first, a refused one never
reaches the handler (nor its dependencies, nor the reading of its body), and an allowed one
stays counted whatever the handler then does, raising an ``HTTPException`` included.

Example::

    limiter = RateLimiter("100/minute")
    app.add_middleware(RateLimitMiddleware(limiter))
"""
from typing import Any, Awaitable, Callable, List, Optional, Tuple

from ...core.errors import HTTPException
from .._routes import route_endpoint
from .limits import Policy

__all__ = ["RateLimitMiddleware", "RouteLimit", "RouteLimitMiddleware", "LIMIT_ATTR", "EXEMPT_ATTR",
           "route_limit_of", "is_exempt", "mark_route_limit", "mark_exempt", "add_headers"]

#: Attribute of a handler: {id(limiter): RouteLimit} set by ``@limiter.limit``.
LIMIT_ATTR = "__covet_rate_limit__"
#: Attribute of a handler: frozenset of id(limiter) set by ``@limiter.exempt``.
EXEMPT_ATTR = "__covet_rate_limit_exempt__"


class RouteLimit:
    """A route's own limit, set by ``RateLimiter.limit``: its policy, its key function (None: the
    limiter's) and the scope naming its counters."""

    __slots__ = ("policy", "key", "scope")

    def __init__(self, policy: Policy, key: Optional[Callable[[Any], Any]], scope: str) -> None:
        self.policy = policy
        self.key = key
        self.scope = scope

    def __repr__(self) -> str:
        return "RouteLimit(%r, scope=%r)" % (self.policy.text, self.scope)


def mark_route_limit(fn: Any, limiter: Any, route_limit: RouteLimit) -> None:
    """Record on ``fn`` that ``limiter`` applies ``route_limit`` to its routes."""
    marks = dict(getattr(fn, LIMIT_ATTR, {}))
    marks[id(limiter)] = route_limit
    setattr(fn, LIMIT_ATTR, marks)


def mark_exempt(fn: Any, limiter: Any) -> None:
    """Record on ``fn`` that ``limiter``'s middleware leaves its routes alone."""
    setattr(fn, EXEMPT_ATTR, frozenset(getattr(fn, EXEMPT_ATTR, ())) | {id(limiter)})


def route_limit_of(endpoint: Any, limiter: Any) -> Optional[RouteLimit]:
    """The limit ``limiter`` set on ``endpoint`` with ``@limiter.limit``, if any."""
    return getattr(endpoint, LIMIT_ATTR, {}).get(id(limiter))


def is_exempt(endpoint: Any, limiter: Any) -> bool:
    """True when ``endpoint`` was marked ``@limiter.exempt``."""
    return id(limiter) in getattr(endpoint, EXEMPT_ATTR, ())


def add_headers(response: Any, headers: List[Tuple[str, str]]) -> None:
    """Set each ``(name, value)`` on ``response.headers``."""
    if headers:
        view = response.headers
        for name, value in headers:
            view[name] = value


class RateLimitMiddleware:
    """App-wide limiting: every request counts against the limiter's default limits, except
    routes marked ``@limiter.exempt`` and routes with their own ``@limiter.limit``.

    Refused requests get 429 problem+json with ``Retry-After`` (503 "rate limit store unavailable"
    when the backend is down and the limiter fails closed); with ``headers=True``
    every limited response carries ``RateLimit-*`` and ``X-RateLimit-*`` headers.
    The result is also available to handlers as ``request.state.rate_limit``.

    Example::

        limiter = RateLimiter("100/minute")
        app.add_middleware(RateLimitMiddleware(limiter))
    """

    def __init__(self, limiter: Any) -> None:
        # Duck-typed: this module sits below the limiter's and does not import it.
        if not all(callable(getattr(limiter, name, None)) for name in ("ahit_request", "handled", "refusal")):
            raise TypeError("RateLimitMiddleware needs a RateLimiter, got %r" % (limiter,))
        self.limiter = limiter

    async def __call__(self, request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        limiter = self.limiter
        if limiter.handled(request):  # the same limiter, installed app-wide and on a group too
            return await call_next(request)
        try:
            endpoint = route_endpoint(request)
        except Exception:
            # A path the router rejects (bad escapes...): the app answers it with a 4xx
            # after us; here it simply counts against the default limit.
            endpoint = None
        route_limit = None
        if endpoint is not None:
            if is_exempt(endpoint, limiter):
                return await call_next(request)
            route_limit = route_limit_of(endpoint, limiter)
        result = await limiter.ahit_request(request, route_limit)
        if result is None:
            return await call_next(request)
        policy = route_limit.policy if route_limit is not None else limiter.default
        if not result.allowed:
            return limiter.refusal(request, result, policy)
        response = await call_next(request)
        add_headers(response, limiter.response_headers(result, policy))
        return response


class RouteLimitMiddleware:
    """What ``@limiter.limit`` attaches to a handler: the route runs it before anything else of
    the request (dependencies, body, handler). A request that ``RateLimitMiddleware`` with the same
    limiter already counted passes straight on. A refusal is raised as ``HTTPException(429)``
    (503 when the backend is down and the limiter fails closed) inside the route, so the app's
    ``@app.exception_handler(429)`` shapes it."""

    __slots__ = ("limiter", "route_limit")

    def __init__(self, limiter: Any, route_limit: RouteLimit) -> None:
        self.limiter = limiter
        self.route_limit = route_limit

    async def __call__(self, request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        limiter = self.limiter
        if limiter.handled(request):
            return await call_next(request)
        route_limit = self.route_limit
        result = await limiter.ahit_request(request, route_limit)
        if result is None:
            return await call_next(request)
        policy = route_limit.policy
        if not result.allowed:
            raise HTTPException(limiter.refusal_status(result), limiter.refusal_detail(result),
                                limiter.response_headers(result, policy, True))
        response = await call_next(request)
        add_headers(response, limiter.response_headers(result, policy))
        return response

    def __repr__(self) -> str:
        return "RouteLimitMiddleware(%r)" % (self.route_limit,)
