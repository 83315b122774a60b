"""Route guards shared by JWTAuth and RBAC: a check that runs before a handler, usable as a
decorator on the handler and as a dependency (``Depends(guard)``)."""
import inspect
from typing import Any, Callable, Optional

from ..core._wrap import wrap_handler
from ..core.requests import Request

__all__ = ["Guard", "guarded"]


def guarded(fn: Callable[..., Any], check: Callable[[Any], Any]) -> Any:
    """Wrap a handler so that ``check(request)`` runs first (it raises to refuse).

    The wrapper keeps the handler's signature (injector, OpenAPI) and receives the
    Request through an extra keyword (``covet.core._wrap.wrap_handler``).

    Example::

        protected = guarded(handler, lambda request: auth.authenticate(request))
    """
    if not callable(fn):
        raise TypeError("expected a route handler, got %r" % (fn,))

    async def async_body(request: Any, call: Callable[[], Any]) -> Any:
        check(request)
        return await call()

    def sync_body(request: Any, call: Callable[[], Any]) -> Any:
        check(request)
        return call()

    return wrap_handler(fn, async_body, sync_body)


_REQUEST_ONLY = inspect.Signature([inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)])


class Guard:
    """An access check usable as a handler decorator and as a dependency.

    ``@guard`` on a handler: Python calls ``type(guard).__call__(guard, handler)``, which
    wraps it. ``Depends(guard)``: the injector reads the instance's ``__signature__`` (one
    ``request`` parameter) and ``__call__`` attribute (a coroutine function, so it is awaited
    on the event loop rather than sent to the thread pool), then calls ``guard(request=...)``.
    The dependency's value is what ``check`` returns (the user).

    Example::

        admin_only = Guard(check_admin, "admin_only")

        @app.get("/stats")
        @admin_only
        async def stats(): ...
    """

    def __init__(self, check: Callable[[Any], Any], name: str) -> None:
        self._check = check
        self._name = name
        self.__signature__ = _REQUEST_ONLY
        self.__call__ = self._dependency

    async def _dependency(self, *, request: Any) -> Any:
        return self._check(request)

    def __call__(self, fn: Optional[Callable[..., Any]] = None, *, request: Any = None) -> Any:
        if request is not None:
            return self._dependency(request=request)
        return guarded(fn, self._check)

    def __repr__(self) -> str:
        return "<guard %s>" % self._name
