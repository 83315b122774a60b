"""Bearer-token authentication for routes: JWTAuth issues HMAC JWTs and checks them.

The check works two ways: as a decorator on handlers (``@auth.require_token``) and as a
dependency (``Depends(auth.current_user)``). Failures are HTTPExceptions, so they render
as problem+json and the app's exception handlers apply: 401 with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3) for a missing or rejected token.
Roles and permissions are :mod:`covet.security.rbac`.

Example::

    jwt_auth = JWTAuth(secret_key=secret, algorithm="HS256", expiration_time=3600)
    token = jwt_auth.create_token({"user": "ada"})

    @app.route("/protected")
    @jwt_auth.require_token
    async def protected_route(request):
        return {"message": "Hello, %s!" % request.state.user["user"]}
"""
import datetime
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, Optional, TypeVar, Union, overload

from .._probes import TOKEN_CHECK
from ..core._wrap import AUTHENTICATION, add_route_middleware
from ..core.errors import HTTPException
from ..core.requests import Request
from ._guards import guarded
from .schemes import bearer_token
from .jwt import DEFAULT_MAX_TOKEN_BYTES, JWT, ExpiredSignatureError, InvalidClaimError, InvalidTokenError, to_seconds
# RBAC and RoleBasedAccessControl live in covet.security.rbac; they stay importable from here.
from .rbac import RBAC, RoleBasedAccessControl  # noqa: F401

__all__ = ["JWTAuth", "InvalidTokenTypeError", "DEFAULT_EXPIRATION_TIME", "DEFAULT_REFRESH_EXPIRATION_TIME"]

# A route handler: require_token hands it back as it was, so type checkers keep its signature.
F = TypeVar("F", bound=Callable[..., Any])

# Access tokens are bearer secrets that cannot be revoked before `exp`: an hour bounds
# the damage of a leaked one (RFC 6819 §5.1.5.3 recommends short-lived access tokens).
DEFAULT_EXPIRATION_TIME = 3600
# Refresh tokens only mint access tokens; two weeks matches the session cookie default.
DEFAULT_REFRESH_EXPIRATION_TIME = 14 * 24 * 3600

ACCESS = "access"
REFRESH = "refresh"
# Claims a refresh carries over into the new pair: everything except these, which are minted anew.
_MINTED = frozenset(("iat", "exp", "nbf", "jti", "typ"))

#: The ``Sec-WebSocket-Protocol`` bearer convention: browsers cannot set Authorization on a
#: WebSocket, so the client offers the subprotocols ``bearer`` and then the token itself
#: (``new WebSocket(url, ["bearer", token])``); the server echoes ``bearer`` (RFC 6455 §4.2.2:
#: a browser fails a handshake whose answer names no offered subprotocol or one not offered).
WEBSOCKET_BEARER_PROTOCOL = "bearer"

# RFC 6750 §3: auth-param values are quoted-strings; realm gets no '"' or '\\' or controls.
_REALM = re.compile(r'[\x20\x21\x23-\x5b\x5d-\x7e]*')


class InvalidTokenTypeError(InvalidClaimError):
    """A refresh token was presented as an access token, or the other way round (``typ`` claim)."""


class JWTAuth:
    """Issue and check HMAC JWT bearer tokens; ``request.state.user`` becomes the claims.

    :param secret_key: str or bytes, or a dict ``kid -> secret`` for rotation (with ``kid``).
    :param algorithm: "HS256", "HS384" or "HS512" (pinned; see ``covet.security.JWT``).
    :param expiration_time: lifetime of access tokens, seconds or a timedelta.
    :param refresh_expiration_time: lifetime of refresh tokens.
    :param issuer: ``iss`` written into tokens and required when decoding.
    :param audience: ``aud`` written into tokens and required when decoding.
    :param leeway: clock-skew allowance in seconds (at most 300).
    :param kid: the key id new tokens are signed with when ``secret_key`` is a dict.
    :param realm: optional ``realm`` of the ``WWW-Authenticate`` challenge.
    :param max_token_bytes: longer tokens are refused before any decoding.
    :param openapi_security: the security scheme the OpenAPI document names for the routes it
        guards (default: ``bearerAuth``, HTTP bearer); for tokens from an OAuth2 login, e.g.
        ``OAuth2PasswordBearer("/token").openapi_security``, so /docs logs in with that flow.

    Example::

        auth = JWTAuth(secret)
        pair = auth.create_token_pair({"sub": "42", "roles": ["admin"]})

        @app.get("/me")
        async def me(user: dict = Depends(auth.current_user)):
            return user
    """

    # Read by covet.openapi: routes that depend on ``current_user`` document
    # this scheme in components/securitySchemes and in their ``security``.
    openapi_security = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}

    def __init__(self, secret_key: Any, algorithm: str = "HS256",
                 expiration_time: Union[int, float, datetime.timedelta] = DEFAULT_EXPIRATION_TIME,
                 refresh_expiration_time: Union[int, float, datetime.timedelta] = DEFAULT_REFRESH_EXPIRATION_TIME,
                 issuer: Union[None, str, Iterable[str]] = None,
                 audience: Union[None, str, Iterable[str]] = None,
                 leeway: Union[int, float, datetime.timedelta] = 0, kid: Optional[str] = None,
                 realm: Optional[str] = None, max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
                 openapi_security: Optional[Mapping[str, Mapping[str, Any]]] = None) -> None:
        if openapi_security is not None:
            self.openapi_security = {name: dict(spec) for name, spec in openapi_security.items()}
        self.jwt = JWT(secret_key, algorithm, issuer=issuer, audience=audience, leeway=leeway,
                       max_token_bytes=max_token_bytes, kid=kid)
        self.expiration_time = to_seconds(expiration_time, "expiration_time")
        self.refresh_expiration_time = to_seconds(refresh_expiration_time, "refresh_expiration_time")
        if not self.expiration_time > 0 or not self.refresh_expiration_time > 0:
            raise ValueError("expiration_time and refresh_expiration_time must be positive")
        if realm is not None and (not isinstance(realm, str) or not _REALM.fullmatch(realm)):
            raise ValueError("realm must be printable ASCII without '\"' or '\\\\'")
        self.realm = realm
        # The two challenges, built once: RFC 6750 §3.1 says a request with no credentials
        # gets no error code; one with a rejected token gets error="invalid_token".
        prefix = 'Bearer realm="%s"' % realm if realm is not None else "Bearer"
        self._challenge_missing = {"WWW-Authenticate": prefix}
        self._challenge_invalid = {"WWW-Authenticate": prefix + (", " if realm is not None else " ")
                                   + 'error="invalid_token"'}

    # -- tokens ------------------------------------------------------------
    def _mint(self, claims: Mapping, typ: str, lifetime: float, expires_in: Any = None) -> str:
        if not isinstance(claims, Mapping):
            raise TypeError("claims must be a mapping")
        if "typ" in claims:
            raise ValueError("the typ claim is set by JWTAuth ('access' or 'refresh')")
        if expires_in is not None:
            lifetime = to_seconds(expires_in, "expires_in")
            if not lifetime > 0:
                raise ValueError("expires_in must be positive")
        now = int(time.time())
        payload = dict(claims)
        payload["typ"] = typ
        payload.setdefault("iat", now)
        payload.setdefault("exp", now + int(lifetime))
        # A unique id per token, so an application can keep a denylist of revoked ones.
        payload.setdefault("jti", secrets.token_urlsafe(16))
        return self.jwt.encode(payload)

    def create_token(self, claims: Mapping, expires_in: Union[None, int, float, datetime.timedelta] = None) -> str:
        """An access token for ``claims`` (adds ``iat``, ``exp``, ``jti`` and ``typ: "access"``).

        Example::

            token = auth.create_token({"sub": "42", "roles": ["editor"]})
        """
        return self._mint(claims, ACCESS, self.expiration_time, expires_in)

    def create_refresh_token(self, claims: Mapping) -> str:
        """A refresh token for ``claims`` (``typ: "refresh"``, lives ``refresh_expiration_time``)."""
        return self._mint(claims, REFRESH, self.refresh_expiration_time)

    def create_token_pair(self, claims: Mapping) -> Dict[str, Any]:
        """An OAuth 2.0-shaped token response (RFC 6749 §5.1) with an access and a refresh token.

        Example::

            auth.create_token_pair({"sub": "42"})
            # {"access_token": "...", "refresh_token": "...", "token_type": "Bearer", "expires_in": 3600}
        """
        return {
            "access_token": self.create_token(claims),
            "refresh_token": self.create_refresh_token(claims),
            "token_type": "Bearer",
            "expires_in": int(self.expiration_time),
        }

    def decode(self, token: Union[str, bytes], token_type: str = ACCESS) -> Dict[str, Any]:
        """Verify ``token`` and return its claims, or raise an ``InvalidTokenError`` subclass.

        ``token_type="access"`` refuses refresh tokens (a token without ``typ`` counts as an
        access token); ``token_type="refresh"`` accepts only ``typ: "refresh"``.
        """
        claims = self.jwt.decode(token)
        typ = claims.get("typ")
        if token_type == ACCESS:
            if typ is not None and typ != ACCESS:
                raise InvalidTokenTypeError("token is not an access token")
        elif token_type == REFRESH:
            if typ != REFRESH:
                raise InvalidTokenTypeError("token is not a refresh token")
        else:
            raise ValueError("token_type must be 'access' or 'refresh'")
        return claims

    def refresh(self, refresh_token: Union[str, bytes]) -> Dict[str, Any]:
        """A new token pair for a valid refresh token; 401 (HTTPException) for anything else.

        The new tokens carry the refresh token's claims (``sub``, ``roles``...). To reload
        them from the database instead, call ``decode(token, "refresh")`` and
        ``create_token_pair(fresh_claims)``.
        """
        if not isinstance(refresh_token, (str, bytes)) or not refresh_token:
            raise HTTPException(401, "refresh token is missing", self._challenge_invalid)
        try:
            claims = self.decode(refresh_token, REFRESH)
        except InvalidTokenError as exc:
            raise HTTPException(401, str(exc), self._challenge_invalid) from None
        return self.create_token_pair({k: v for k, v in claims.items() if k not in _MINTED})

    # -- requests ------------------------------------------------------------
    def authenticate(self, request: Any) -> Dict[str, Any]:
        """Check the request's bearer token; set and return ``request.state.user`` (the claims).

        Raises a 401 HTTPException: challenge ``Bearer`` when there is no bearer token,
        ``Bearer error="invalid_token"`` when the token is rejected (the problem's
        ``detail`` says why, without echoing the token).
        """
        token = bearer_token(request)
        if token is None:
            if TOKEN_CHECK.observers:
                TOKEN_CHECK.emit("missing")
            raise HTTPException(401, "a bearer token is required", self._challenge_missing)
        try:
            claims = self.decode(token)
        except InvalidTokenError as exc:
            if TOKEN_CHECK.observers:
                TOKEN_CHECK.emit("expired" if isinstance(exc, ExpiredSignatureError) else "invalid")
            raise HTTPException(401, str(exc), self._challenge_invalid) from None
        if TOKEN_CHECK.observers:
            TOKEN_CHECK.emit("valid")
        request.state.user = claims
        return claims

    async def current_user(self, request: Request) -> Dict[str, Any]:
        """Dependency: ``user: dict = Depends(auth.current_user)`` (401 without a valid token)."""
        return self.authenticate(request)

    @overload
    def require_token(self, fn: F) -> F: ...

    @overload
    def require_token(self, fn: None = None) -> Callable[[F], F]: ...

    def require_token(self, fn: Optional[Callable[..., Any]] = None) -> Any:
        """Decorator: the handler runs only with a valid access token; ``request.state.user`` is set.

        Works bare (``@auth.require_token``) or called (``@auth.require_token()``), on
        ``async def`` and plain ``def`` handlers. The token is checked before anything of the
        request is resolved: a refused request runs no dependency and has its body unread.
        It runs before the RBAC guards of the same handler, in whichever order they are
        written. Write it below the route decorator (above it raises TypeError).
        """
        if fn is None:
            return self.require_token
        authenticate = self.authenticate

        def guard(request: Any) -> None:
            authenticate(request)

        return guarded(fn, guard, "require_token", AUTHENTICATION, self.openapi_security)

    # -- WebSockets --------------------------------------------------------------
    def websocket_token(self, websocket: Any) -> "Optional[tuple]":
        """(token, where) from a WebSocket handshake, or None: ``Authorization: Bearer`` first,
        then the ``Sec-WebSocket-Protocol`` convention (``bearer, <token>``), then a ``token``
        query parameter. ``where`` is "header", "subprotocol" or "query"."""
        token = bearer_token(websocket)
        if token is not None:
            return token, "header"
        offered = getattr(websocket, "subprotocols", None) or []
        for i, name in enumerate(offered[:-1]):
            if name == WEBSOCKET_BEARER_PROTOCOL:
                return offered[i + 1], "subprotocol"
        token = websocket.query_params.get("token")
        if token:
            return token, "query"
        return None

    def authenticate_websocket(self, websocket: Any) -> Dict[str, Any]:
        """Check the handshake's token (see ``websocket_token``); set and return ``websocket.state.user``.

        Raises a 403 HTTPException (the handshake is refused with it, before accept: a WebSocket
        client cannot answer a 401 challenge, and browsers show neither).
        """
        found = self.websocket_token(websocket)
        if found is None:
            raise HTTPException(403, "a bearer token is required (Authorization header, the 'bearer' "
                                "subprotocol, or a token query parameter)")
        try:
            claims = self.decode(found[0])
        except InvalidTokenError as exc:
            raise HTTPException(403, str(exc)) from None
        websocket.state.user = claims
        return claims

    @overload
    def require_websocket_token(self, fn: F) -> F: ...

    @overload
    def require_websocket_token(self, fn: None = None) -> Callable[[F], F]: ...

    def require_websocket_token(self, fn: Optional[Callable[..., Any]] = None) -> Any:
        """Decorator for WebSocket handlers: the handshake is refused with HTTP 403 before accept
        unless it carries a valid access token; ``websocket.state.user`` is set to its claims.

        The token comes from ``Authorization: Bearer``, the subprotocols ``bearer, <token>`` (the
        WebSocket is then accepted at once with ``bearer`` echoed, as browsers require; a later
        ``accept()`` without arguments does nothing), or a ``token`` query parameter (which ends up
        in access logs: prefer the other two). Checked before the handler's dependencies run.
        Write it below ``@app.websocket``.

        Example::

            @app.websocket("/ws")
            @auth.require_websocket_token
            async def ws(websocket):
                await websocket.accept()
                await websocket.send_json({"hello": websocket.state.user["sub"]})
        """
        if fn is None:
            return self.require_websocket_token
        auth = self

        async def check_websocket_token(websocket: Any, call_next: Callable[[Any], Any]) -> Any:
            auth.authenticate_websocket(websocket)
            if auth.websocket_token(websocket)[1] == "subprotocol" and hasattr(websocket, "accept"):
                await websocket.accept(subprotocol=WEBSOCKET_BEARER_PROTOCOL)
            return await call_next(websocket)

        return add_route_middleware(fn, check_websocket_token, AUTHENTICATION, "require_websocket_token")

    def __repr__(self) -> str:
        return "<JWTAuth %s>" % self.jwt.algorithm
