"""Which handler a request will reach, for middleware that honours per-route marks
(``@csrf_exempt``) before routing has happened."""
from typing import Any, Callable, Optional

__all__ = ["route_endpoint", "MAX_MOUNT_DEPTH"]

# Mounted apps nest; the lookup follows them this deep and then gives up (None).
MAX_MOUNT_DEPTH = 8


def route_endpoint(request: Any) -> Optional[Callable[..., Any]]:
    """The endpoint the app will call for ``request``, found the way the app will find it
    (its router, then its mounts); None when no route matches.

    Inside a route or group middleware, routing has already happened and the matched
    route is used. The router may raise for a path it refuses; callers that must fail
    closed treat that as None.

    Example::

        endpoint = route_endpoint(request)
        exempt = getattr(endpoint, "__covet_csrf_exempt__", False)
    """
    route = getattr(request, "route", None)
    if route is not None:
        return route.endpoint
    app = getattr(request, "app", None)
    path = request.raw_path
    for _ in range(MAX_MOUNT_DEPTH):
        router = getattr(app, "router", None)
        if router is None:
            return None
        found, allowed = router.match(request.method, path)
        if found is not None:
            return found.endpoint
        if allowed is not None:
            return None  # the path exists for other methods: the app answers 405
        mount, rest = router.find_mount(path)
        if mount is None:
            return None
        app, path = mount.app, rest
    return None
