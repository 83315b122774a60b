"""Decorating route handlers without hiding their signature from the injector.

Shared by ``cache_page``, ``RateLimiter.limit`` and ``JWTAuth.require_token``:
the wrapper takes the handler's parameters plus the Request, so injection,
validation and the OpenAPI document still see the handler as written.
"""
import functools
import inspect
from typing import Any, Callable, Optional

__all__ = ["REQUEST_PARAM", "wrap_handler", "route_status"]

#: Keyword through which a wrapped handler receives the Request from the injector.
REQUEST_PARAM = "_covet_request_"


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
