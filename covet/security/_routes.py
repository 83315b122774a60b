"""Which handler a request will reach, for middleware that honours per-route marks
(``@csrf_exempt``) before routing has happened."""
from typing import Any, Callable, Optional

__all__ = ["route_endpoint"]


def route_endpoint(request: Any) -> Optional[Callable[..., Any]]:
    """The endpoint the request's app will call for it (``Covet.endpoint_for``); None when no
    route matches or the request has no app. The router may raise for a path it refuses;
    callers that must fail closed treat that as None.

    Example::

        endpoint = route_endpoint(request)
        exempt = getattr(endpoint, "__covet_csrf_exempt__", False)
    """
    route = getattr(request, "route", None)
    if route is not None:  # group or route middleware: routing already happened
        return route.endpoint
    app = getattr(request, "app", None)
    find = getattr(app, "endpoint_for", None)
    return find(request) if find is not None else None
