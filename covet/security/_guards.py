"""Route guards shared by JWTAuth and RBAC: a check that runs before anything of the request is
resolved, usable as a decorator on the handler and as a dependency (``Depends(guard)``)."""
import inspect
from typing import Any, Awaitable, Callable, Dict, Optional, TypeVar, overload

from ..core._wrap import AUTHORIZATION, add_route_middleware
from ..core.requests import Request

__all__ = ["Guard", "GuardMiddleware", "guarded"]

F = TypeVar("F", bound=Callable[..., Any])


class GuardMiddleware:
    """The route middleware a guard decorator attaches: ``check(request)`` raises to refuse
    (an ``HTTPException``, answered by the app), before dependencies run and the body is read."""

    __slots__ = ("check", "name", "openapi_security")

    def __init__(self, check: Callable[[Any], Any], name: str,
                 openapi_security: Optional[Dict[str, Any]] = None) -> None:
        self.check = check
        self.name = name
        # Security schemes the check enforces, for the OpenAPI document (covet.openapi reads it).
        self.openapi_security = openapi_security

    async def __call__(self, request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        self.check(request)
        return await call_next(request)

    def __repr__(self) -> str:
        return "GuardMiddleware(%s)" % self.name


def guarded(fn: F, check: Callable[[Any], Any], name: str = "guard", order: int = AUTHORIZATION,
            openapi_security: Optional[Dict[str, Any]] = None) -> F:
    """Make every route registered with ``fn`` run ``check(request)`` first (it raises to refuse).

    The check is route middleware (``covet.core._wrap.add_route_middleware``): it decides
    before the route's dependencies run and before its body is read, so a refused request
    has no side effect. ``order`` places it among the route's other middleware
    (``AUTHENTICATION`` before ``AUTHORIZATION`` before the rest). ``fn`` is returned,
    marked; its signature is untouched. ``name`` is the decorator's, for error messages;
    ``openapi_security`` (scheme name -> scheme) puts the check in the OpenAPI document.

    Example::

        protected = guarded(handler, lambda request: auth.authenticate(request), "require_token")
    """
    if not callable(fn):
        raise TypeError("expected a route handler, got %r" % (fn,))
    result: F = add_route_middleware(fn, GuardMiddleware(check, name, openapi_security), order, name)
    return result


_REQUEST_ONLY = inspect.Signature([inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)])


class Guard:
    """An access check usable as a handler decorator and as a dependency.

    ``@guard`` on a handler: Python calls ``type(guard).__call__(guard, handler)``, which
    attaches the check to the handler's routes (``guarded``). ``Depends(guard)``: the injector
    reads the instance's ``__signature__`` (one ``request`` parameter) and ``__call__``
    attribute (a coroutine function, so it is awaited on the event loop rather than sent to
    the thread pool), then calls ``guard(request=...)``. The dependency's value is what
    ``check`` returns (the user).

    Example::

        admin_only = Guard(check_admin, "admin_only")

        @app.get("/stats")
        @admin_only
        async def stats(): ...
    """

    def __init__(self, check: Callable[[Any], Any], name: str, order: int = AUTHORIZATION,
                 openapi_security: Optional[Dict[str, Any]] = None) -> None:
        self._check = check
        self._name = name
        self._order = order
        #: The security schemes the check relies on, for the OpenAPI document (as a decorator or
        #: a dependency): a route guarded by RBAC over JWTAuth names JWTAuth's bearer scheme.
        self.openapi_security = openapi_security
        self.__signature__ = _REQUEST_ONLY
        self.__call__ = self._dependency

    async def _dependency(self, *, request: Any) -> Any:
        return self._check(request)

    @overload
    def __call__(self, fn: F) -> F: ...

    @overload
    def __call__(self, fn: None = None, *, request: Any) -> Awaitable[Any]: ...

    def __call__(self, fn: Optional[Callable[..., Any]] = None, *, request: Any = None) -> Any:
        if request is not None:
            return self._dependency(request=request)
        return guarded(fn, self._check, self._name, self._order, self.openapi_security)

    def __repr__(self) -> str:
        return "<guard %s>" % self._name
