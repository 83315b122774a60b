"""Decorating route handlers without hiding their signature from the injector.

Two ways for a feature's decorator to act on a route. ``wrap_handler`` (``cache_page``,
``JWTAuth.require_token``) wraps the handler: the wrapper takes the handler's parameters
plus the Request, so injection, validation and the OpenAPI document still see the handler
as written; it runs after the arguments are resolved. ``add_route_middleware``
(``RateLimiter.limit``) attaches a middleware to the handler that the route runs before
anything of the request is resolved (dependencies, body), for decisions that must come first.
"""
import functools
import inspect
from typing import Any, Callable, Optional, Tuple

__all__ = ["REQUEST_PARAM", "ROUTE_MIDDLEWARE_ATTR", "wrap_handler", "route_status", "add_route_middleware",
           "route_middleware"]

#: Keyword through which a wrapped handler receives the Request from the injector.
REQUEST_PARAM = "_covet_request_"

#: Attribute of a route handler holding the middleware its route runs (see ``add_route_middleware``).
#: ``functools.wraps`` copies it, so decorators stacked above keep it.
ROUTE_MIDDLEWARE_ATTR = "__covet_route_middleware__"


def wrap_handler(fn: Callable[..., Any], async_body: Callable[..., Any], sync_body: Callable[..., Any]) -> Any:
    """Wrap a route handler so that the wrapper also gets the Request, leaving the handler's own
    parameters (and so the injector and the OpenAPI document) as they were.

    The wrapper's signature is the handler's plus a keyword-only ``REQUEST_PARAM``
    annotated ``Request``, which the injector fills. ``async_body(request, call)`` /
    ``sync_body(request, call)`` run around ``call()``, the handler with its arguments.
    Wrappers stack: an outer one reuses the inner one's request parameter.
    """
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


def add_route_middleware(fn: Any, middleware: Callable[..., Any]) -> Any:
    """Attach ``middleware`` (``async mw(request, call_next)``) to the route handler ``fn`` and return ``fn``.

    Every route registered with ``fn`` afterwards runs it inside the app's and the group's
    middleware and outside everything else of the route: before dependencies run, before
    the body is read, before the handler. Of several attached, the one attached last (the
    decorator written highest) runs first.
    """
    setattr(fn, ROUTE_MIDDLEWARE_ATTR, (middleware,) + tuple(getattr(fn, ROUTE_MIDDLEWARE_ATTR, ())))
    return fn


def route_middleware(fn: Any) -> Tuple[Callable[..., Any], ...]:
    """The middleware attached to ``fn`` by ``add_route_middleware``, outermost first."""
    return tuple(getattr(fn, ROUTE_MIDDLEWARE_ATTR, ()))
