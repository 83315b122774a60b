"""The resource-server side: a route that needs a bearer access token with some scopes.

``oauth2.require_scopes("read", "write")`` is a :class:`ScopeRequirement`, usable as a
dependency (``Depends(...)``, its value the token's claims) or as a decorator under the route
decorator (checked before the route's dependencies run and before its body is read), like
``JWTAuth.current_user`` and ``JWTAuth.require_token``. Failures follow RFC 6750 §3.1.

Example::

    @app.get("/api/me")
    async def me(claims: dict = Depends(oauth2.require_scopes("profile"))):
        return {"sub": claims["sub"]}

    @app.delete("/api/notes/{note_id}")
    @oauth2.require_scopes("notes:write")
    async def delete_note(note_id: int, request: Request): ...
"""
import inspect
import re
from typing import Any, Callable, Dict, Iterable, Optional

from ...core._wrap import AUTHENTICATION, add_route_middleware
from ...core.errors import HTTPException
from ...core.requests import Request
from ..schemes import B64TOKEN, bearer_token

__all__ = ["ScopeRequirement", "bearer_token"]

# RFC 6749 §3.3 scope-token characters, checked when the requirement is made.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

_SIGNATURE = inspect.Signature([inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)])


class ScopeRequirement:
    """A bearer-token check with required scopes (see the module docstring).

    As a dependency the injector reads ``__signature__`` (one ``request`` parameter) and awaits
    ``__call__(request=...)``; as a decorator, ``requirement(handler)`` attaches the check as
    route middleware and returns the handler.
    """

    def __init__(self, server: Any, scopes: Iterable[str]) -> None:
        scopes = tuple(scopes)
        for scope in scopes:
            if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
                raise ValueError("scopes must be RFC 6749 scope tokens (no spaces, quotes or backslashes), got %r"
                                 % (scope,))
        self.server = server
        self.scopes = frozenset(scopes)
        scope_value = " ".join(sorted(self.scopes))
        self._missing = {"WWW-Authenticate": "Bearer"}
        self._invalid = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        self._insufficient = {"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="%s"' % scope_value}
        self.__signature__ = _SIGNATURE
        self.__call__ = self._dependency
        #: Read by covet.openapi: the server's ``oauth2`` scheme, and the scopes this route needs.
        self.openapi_security = server.openapi_security
        self.openapi_scopes = sorted(self.scopes)

    async def check(self, request: Any) -> Dict[str, Any]:
        """The claims of the request's token; an HTTPException (401/403) when it does not qualify."""
        token = bearer_token(request)
        if token is None:
            raise HTTPException(401, "a bearer token is required", self._missing)
        if not B64TOKEN.fullmatch(token):
            raise HTTPException(401, "the bearer token is malformed", self._invalid)
        server = self.server
        if server.check_revocation:
            claims = await server.access_token_claims(request, token)
        else:
            claims = server.access_token_claims_unchecked(request, token)
        if claims is None:
            raise HTTPException(401, "the access token is invalid, expired or revoked", self._invalid)
        granted = set(claims.get("scope", "").split())
        if not self.scopes <= granted:
            raise HTTPException(403, "the access token lacks a required scope", self._insufficient)
        request.state.user = claims
        return claims

    async def _dependency(self, *, request: Any) -> Dict[str, Any]:
        return await self.check(request)

    def __call__(self, fn: Optional[Callable[..., Any]] = None, *, request: Any = None) -> Any:
        if request is not None:
            return self._dependency(request=request)
        check = self.check

        async def require_scopes(request: Any, call_next: Callable[[Any], Any]) -> Any:
            await check(request)
            return await call_next(request)

        require_scopes.openapi_security = self.openapi_security  # type: ignore[attr-defined]
        require_scopes.openapi_scopes = self.openapi_scopes  # type: ignore[attr-defined]

        return add_route_middleware(fn, require_scopes, AUTHENTICATION, "require_scopes")

    def __repr__(self) -> str:
        return "<require_scopes %s>" % " ".join(sorted(self.scopes))
