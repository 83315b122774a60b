"""Decorating route handlers without hiding their signature from the injector.

Two ways for a feature's decorator to act on a route. ``wrap_handler`` (``cache_page``)
wraps the handler: the wrapper takes the handler's parameters plus the Request, so
injection, validation and the OpenAPI document still see the handler as written; it runs
after the arguments are resolved. ``add_route_middleware`` (``JWTAuth.require_token``, the
RBAC guards, ``RateLimiter.limit``) attaches a middleware to the handler that the route runs
before anything of the request is resolved (dependencies, body), for decisions that must
come first; an ``order`` puts authentication before authorization before the rest, whatever
the order the decorators are written in.

Both act on the handler a route is registered with, so both must be written below the route
decorator. The router marks every handler it registers (``mark_routed``); decorating a marked
handler raises TypeError at import time instead of leaving the route unprotected.
"""
import functools
import inspect
from typing import Any, Callable, Optional, Tuple

from .responses import to_response

__all__ = ["REQUEST_PARAM", "ROUTE_MIDDLEWARE_ATTR", "ROUTED_ATTR", "AUTHENTICATION", "AUTHORIZATION",
           "DEFAULT_ORDER", "wrap_handler", "route_status", "route_response", "add_route_middleware", "route_middleware",
           "mark_routed", "ensure_unrouted"]

#: Keyword through which a wrapped handler receives the Request from the injector.
REQUEST_PARAM = "_covet_request_"

#: Attribute of a route handler holding the middleware its route runs (see ``add_route_middleware``),
#: as ``(order, middleware)`` pairs, the last attached first. ``functools.wraps`` copies it, so
#: decorators stacked above keep it.
ROUTE_MIDDLEWARE_ATTR = "__covet_route_middleware__"

#: Attribute the router sets on a handler it registers a route with: the route's path.
ROUTED_ATTR = "__covet_routed__"

#: Orders of route middleware (``add_route_middleware(..., order=)``): lower runs first.
#: Who the client is must be known before what it may do, and both before anything that
#: spends resources on the request (a rate limit keyed by user needs the user).
AUTHENTICATION = 0
AUTHORIZATION = 10
DEFAULT_ORDER = 20


def mark_routed(fn: Any, path: str) -> None:
    """Record on ``fn`` that a route at ``path`` is registered with it (called by the router).

    Objects that take no attributes (bound methods, builtins) stay unmarked: the decorators
    that check the mark cannot attach to them in place either.
    """
    try:
        setattr(fn, ROUTED_ATTR, path)
    except (AttributeError, TypeError):
        pass


def _routed_path(fn: Any) -> Optional[str]:
    # The instance's own mark only: a class registered as a handler must not mark its subclasses.
    try:
        return vars(fn).get(ROUTED_ATTR)
    except TypeError:
        return getattr(fn, ROUTED_ATTR, None)


def ensure_unrouted(fn: Any, decorator: str) -> None:
    """Raise TypeError when a route is already registered with ``fn``: ``@decorator`` was written
    above the route decorator, where it would change nothing about that route.

    Example::

        ensure_unrouted(fn, "limit('5/minute')")
    """
    path = _routed_path(fn)
    if path is not None:
        raise TypeError(
            "@%s must be written below @app.get(...)/@app.route(...): the route %r has already been "
            "registered with the undecorated handler %s"
            % (decorator, path, getattr(fn, "__qualname__", None) or repr(fn)))


def wrap_handler(fn: Callable[..., Any], async_body: Callable[..., Any], sync_body: Callable[..., Any],
                 decorator: Optional[str] = None) -> Any:
    """Wrap a route handler so that the wrapper also gets the Request, leaving the handler's own
    parameters (and so the injector and the OpenAPI document) as they were.

    The wrapper's signature is the handler's plus a keyword-only ``REQUEST_PARAM``
    annotated ``Request``, which the injector fills. ``async_body(request, call)`` /
    ``sync_body(request, call)`` run around ``call()``, the handler with its arguments.
    Wrappers stack: an outer one reuses the inner one's request parameter. ``decorator``
    names the decorator in the TypeError raised when ``fn`` already serves a route.

    Example::

        wrapper = wrap_handler(handler, async_body, sync_body, "cache_page(60)")
    """
    ensure_unrouted(fn, decorator or "the decorator from %s" % getattr(async_body, "__module__", "?"))
    from .requests import Request

    sig = inspect.signature(fn)
    passthrough = REQUEST_PARAM in sig.parameters
    if not passthrough:
        params = list(sig.parameters.values())
        at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
        params.insert(at, inspect.Parameter(REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Request))
        sig = sig.replace(parameters=params)

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs[REQUEST_PARAM] if passthrough else kwargs.pop(REQUEST_PARAM)
            return await async_body(request, lambda: fn(*args, **kwargs))

        wrapper: Any = async_wrapper
    else:
        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs[REQUEST_PARAM] if passthrough else kwargs.pop(REQUEST_PARAM)
            return sync_body(request, lambda: fn(*args, **kwargs))

        wrapper = sync_wrapper
    wrapper.__signature__ = sig
    return wrapper


def route_status(request: Any) -> Optional[int]:
    """The ``status_code=`` option of the route being served, if any."""
    route = getattr(request, "route", None)
    return route.options.get("status_code") if route is not None else None


def route_response(request: Any, result: Any) -> Any:
    """``result`` of the route being served as the Response that route gives: its ``status_code=``
    and its ``response_model`` filter applied (a decorator that answers by itself, such as the
    page cache, must not skip the filter that hides fields)."""
    route = getattr(request, "route", None)
    if route is None:
        return to_response(result)
    respond = route.respond or to_response
    return respond(result, route.options.get("status_code"))


def _carrier(fn: Any) -> Any:
    """A plain function calling ``fn``, with its signature, to carry attributes ``fn`` refuses."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_carrier(*args: Any, **kwargs: Any) -> Any:
            return await fn(*args, **kwargs)

        carrier: Any = async_carrier
    else:
        @functools.wraps(fn)
        def sync_carrier(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        carrier = sync_carrier
    carrier.__signature__ = inspect.signature(fn)
    return carrier


def add_route_middleware(fn: Any, middleware: Callable[..., Any], order: int = DEFAULT_ORDER,
                         decorator: Optional[str] = None) -> Any:
    """Attach ``middleware`` (``async mw(request, call_next)``) to the route handler ``fn``.

    Every route registered with ``fn`` afterwards runs it inside the app's and the group's
    middleware and outside everything else of the route: before dependencies run, before
    the body is read, before the handler. Lower ``order`` runs first (``AUTHENTICATION``,
    then ``AUTHORIZATION``, then ``DEFAULT_ORDER``); within one order, the one attached last
    (the decorator written highest) runs first. Returns ``fn``, marked in place; an object
    that takes no attributes (a bound method) gets a plain function calling it, which carries
    the mark. TypeError when a route is already registered with ``fn`` (``decorator`` names
    the decorator in the message).

    Example::

        @app.get("/secret")
        @auth.require_token     # add_route_middleware(secret, ..., order=AUTHENTICATION)
        async def secret(): ...
    """
    ensure_unrouted(fn, decorator or "the decorator attaching %r" % (middleware,))
    if not isinstance(order, int) or isinstance(order, bool):
        raise TypeError("order must be an int, got %r" % (order,))
    attached = ((order, middleware),) + tuple(getattr(fn, ROUTE_MIDDLEWARE_ATTR, ()))
    try:
        setattr(fn, ROUTE_MIDDLEWARE_ATTR, attached)
    except (AttributeError, TypeError):
        fn = _carrier(fn)
        setattr(fn, ROUTE_MIDDLEWARE_ATTR, attached)
    return fn


def route_middleware(fn: Any) -> Tuple[Callable[..., Any], ...]:
    """The middleware attached to ``fn`` by ``add_route_middleware``, outermost first."""
    attached = getattr(fn, ROUTE_MIDDLEWARE_ATTR, ())
    # sorted() is stable: within one order, the last attached stays first.
    return tuple(mw for _, mw in sorted(attached, key=lambda pair: pair[0]))
