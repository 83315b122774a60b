"""Bearer-token authentication (JWTAuth) and role-based access control (RBAC) for routes.

Both work two ways: as decorators on handlers and as dependencies (``Depends(...)``).
Failures are HTTPExceptions, so they render as problem+json and the app's exception
handlers apply: 401 with a ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3) for a
missing or rejected token, 403 for a valid user without the role or permission.

Example::

    auth = JWTAuth(secret, expiration_time=900)
    rbac = RBAC(auth=auth)
    rbac.add_role("editor", permissions=["posts:write"])
    rbac.add_role("admin", permissions=["users:manage"], inherits=["editor"])

    @app.get("/me")
    @auth.require_token
    async def me(request: Request):
        return request.state.user

    @app.post("/posts")
    async def create(user=Depends(rbac.require_permission("posts:write"))): ...
"""
import datetime
import inspect
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Union

from ..core.errors import HTTPException
from ..core.requests import Request
from .jwt import DEFAULT_MAX_TOKEN_BYTES, JWT, InvalidClaimError, InvalidTokenError, to_seconds

__all__ = ["JWTAuth", "RBAC", "RoleBasedAccessControl", "InvalidTokenTypeError",
           "DEFAULT_EXPIRATION_TIME", "DEFAULT_REFRESH_EXPIRATION_TIME"]

# Access tokens are bearer secrets that cannot be revoked before `exp`: an hour bounds
# the damage of a leaked one (RFC 6819 §5.1.5.3 recommends short-lived access tokens).
DEFAULT_EXPIRATION_TIME = 3600
# Refresh tokens only mint access tokens; two weeks matches the session cookie default.
DEFAULT_REFRESH_EXPIRATION_TIME = 14 * 24 * 3600

ACCESS = "access"
REFRESH = "refresh"
# Claims a refresh carries over into the new pair: everything except these, which are minted anew.
_MINTED = frozenset(("iat", "exp", "nbf", "jti", "typ"))

# RFC 6750 §3: auth-param values are quoted-strings; realm gets no '"' or '\\' or controls.
_REALM = re.compile(r'[\x20\x21\x23-\x5b\x5d-\x7e]*')


class InvalidTokenTypeError(InvalidClaimError):
    """A refresh token was presented as an access token, or the other way round (``typ`` claim)."""


def _bearer_token(request: Any) -> Optional[str]:
    """The token of ``Authorization: Bearer <token>``, or None when there is no bearer credential."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    # RFC 9110 §11.1: the auth-scheme is case-insensitive.
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def _user_of(request: Any) -> Any:
    return request.state.__dict__.get("user")


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
                 realm: Optional[str] = None, max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> None:
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
        token = _bearer_token(request)
        if token is None:
            raise HTTPException(401, "a bearer token is required", self._challenge_missing)
        try:
            claims = self.decode(token)
        except InvalidTokenError as exc:
            raise HTTPException(401, str(exc), self._challenge_invalid) from None
        request.state.user = claims
        return claims

    async def current_user(self, request: Request) -> Dict[str, Any]:
        """Dependency: ``user: dict = Depends(auth.current_user)`` (401 without a valid token)."""
        return self.authenticate(request)

    def require_token(self, fn: Optional[Callable[..., Any]] = None) -> Any:
        """Decorator: the handler runs only with a valid access token; ``request.state.user`` is set.

        Works bare (``@auth.require_token``) or called (``@auth.require_token()``), on
        ``async def`` and plain ``def`` handlers. Put it below the route decorator.
        """
        if fn is None:
            return self.require_token
        authenticate = self.authenticate

        def guard(request: Any) -> None:
            authenticate(request)

        return _guarded(fn, guard)

    def __repr__(self) -> str:
        return "<JWTAuth %s>" % self.jwt.algorithm


def _guarded(fn: Callable[..., Any], check: Callable[[Any], Any]) -> Any:
    """Wrap a handler so that ``check(request)`` runs first (it raises to refuse)."""
    if not callable(fn):
        raise TypeError("expected a route handler, got %r" % (fn,))
    # The shared handler-wrapping helper: the wrapper keeps the handler's signature
    # (injector, OpenAPI) and receives the Request through an extra keyword.
    from ..core._wrap import wrap_handler

    async def async_body(request: Any, call: Callable[[], Any]) -> Any:
        check(request)
        return await call()

    def sync_body(request: Any, call: Callable[[], Any]) -> Any:
        check(request)
        return call()

    return wrap_handler(fn, async_body, sync_body)


def _as_names(value: Any, what: str) -> List[str]:
    if isinstance(value, str):
        return [value]
    try:
        names = list(value)
    except TypeError:
        raise TypeError("%s must be a string or a list of strings, got %r" % (what, value)) from None
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError("%s must be non-empty strings, got %r" % (what, name))
    return names


class RBAC:
    """Roles that grant permissions and inherit other roles; guards for routes.

    :param auth: a ``JWTAuth`` (or any object with ``authenticate(request)``) used by the
        guards when no earlier step has set ``request.state.user``.
    :param roles_claim: the claim of the user that lists its roles (``"roles"``).
    :param get_roles: ``get_roles(user) -> iterable of role names``, replacing ``roles_claim``.

    Example::

        rbac = RBAC(auth=auth)
        rbac.add_role("viewer", permissions=["posts:read"])
        rbac.add_role("admin", permissions=["users:manage"], inherits=["viewer"])
        rbac.has_permission(["admin"], "posts:read")   # True

        @app.delete("/users/{uid}")
        @rbac.require_roles("admin")
        async def delete_user(uid: int): ...
    """

    def __init__(self, auth: Any = None, roles_claim: str = "roles",
                 get_roles: Optional[Callable[[Any], Iterable[str]]] = None) -> None:
        if auth is not None and not callable(getattr(auth, "authenticate", None)):
            raise TypeError("auth must have an authenticate(request) method (a JWTAuth)")
        if not isinstance(roles_claim, str) or not roles_claim:
            raise TypeError("roles_claim must be a non-empty string")
        if get_roles is not None and not callable(get_roles):
            raise TypeError("get_roles must be callable as get_roles(user)")
        self.auth = auth
        self.roles_claim = roles_claim
        self._get_roles = get_roles
        self._permissions = {}  # type: Dict[str, FrozenSet[str]]  (as declared)
        self._parents = {}  # type: Dict[str, tuple]
        # Resolved at add_role, so a check is a few set lookups: role -> roles it includes
        # (itself and every ancestor), role -> every permission it grants.
        self._includes = {}  # type: Dict[str, FrozenSet[str]]
        self._grants = {}  # type: Dict[str, FrozenSet[str]]

    def add_role(self, name: str, permissions: Iterable[str] = (), inherits: Iterable[str] = ()) -> None:
        """Define (or redefine) a role; it also gets every permission of the roles it inherits.

        A parent may be defined later (until then it grants nothing). A definition that
        would make a role inherit itself, directly or through others, is refused with
        ``ValueError`` and leaves the roles as they were.
        """
        if not isinstance(name, str) or not name:
            raise TypeError("a role name must be a non-empty string, got %r" % (name,))
        perms = frozenset(_as_names(permissions, "permissions"))
        parents = tuple(dict.fromkeys(_as_names(inherits, "inherits")))
        cycle = self._find_cycle(name, parents)
        if cycle is not None:
            raise ValueError("role inheritance cycle: %s" % " -> ".join(cycle))
        self._permissions[name] = perms
        self._parents[name] = parents
        self._resolve()

    def _find_cycle(self, name: str, parents: tuple) -> Optional[List[str]]:
        # Depth-first from each new parent through the existing graph; reaching `name`
        # again closes a cycle. Iterative, so deep hierarchies cannot hit the recursion limit.
        for parent in parents:
            stack = [(parent, [name, parent])]
            seen = set()
            while stack:
                role, path = stack.pop()
                if role == name:
                    return path
                if role in seen:
                    continue
                seen.add(role)
                for up in self._parents.get(role, ()):
                    stack.append((up, path + [up]))
        return None

    def _resolve(self) -> None:
        includes = {}
        for role in self._parents:
            seen = {role}
            stack = list(self._parents[role])
            while stack:
                up = stack.pop()
                if up not in seen:
                    seen.add(up)
                    stack.extend(self._parents.get(up, ()))
            includes[role] = frozenset(seen)
        self._includes = includes
        self._grants = {
            role: frozenset().union(*(self._permissions.get(r, ()) for r in included))
            for role, included in includes.items()
        }

    @property
    def roles(self) -> List[str]:
        """The defined role names, in definition order."""
        return list(self._parents)

    def permissions_for(self, roles: Union[str, Iterable[str]]) -> FrozenSet[str]:
        """Every permission the roles grant, inherited ones included (unknown roles grant none)."""
        grants = self._grants
        return frozenset().union(*(grants.get(r, ()) for r in _role_list(roles)))

    def has_permission(self, roles: Union[str, Iterable[str]], permission: str) -> bool:
        """True when one of ``roles`` (a name or several) grants ``permission``, directly or inherited."""
        grants = self._grants
        for role in _role_list(roles):
            granted = grants.get(role)
            if granted is not None and permission in granted:
                return True
        return False

    def has_role(self, roles: Union[str, Iterable[str]], role: str) -> bool:
        """True when one of ``roles`` is ``role`` or inherits it (an admin that inherits editor is an editor)."""
        includes = self._includes
        for r in _role_list(roles):
            if r == role:
                return True
            included = includes.get(r)
            if included is not None and role in included:
                return True
        return False

    def user_roles(self, user: Any) -> List[str]:
        """The role names of ``user`` (the claims): ``get_roles(user)``, or its ``roles_claim``.

        A claim holding one string is one role; anything but strings is ignored, so a
        malformed claim means no roles (and a 403), never an error.
        """
        if self._get_roles is not None:
            value = self._get_roles(user)
        elif isinstance(user, Mapping):
            value = user.get(self.roles_claim)
        else:
            value = getattr(user, self.roles_claim, None)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple, set, frozenset)):
            return [r for r in value if isinstance(r, str)]
        return []

    def _user(self, request: Any) -> Any:
        if self.auth is not None:
            return self.auth.authenticate(request)
        user = _user_of(request)
        if user is None:
            # RFC 9110 §15.5.2: a 401 carries a challenge; Bearer is covet's built-in scheme.
            raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
        return user

    def require_permission(self, permission: str) -> "_Guard":
        """A guard, as decorator or dependency: 403 unless the user's roles grant ``permission``.

        Example::

            @app.post("/posts")
            @rbac.require_permission("posts:write")
            async def create_post(request: Request): ...

            @app.get("/drafts")
            async def drafts(user=Depends(rbac.require_permission("posts:read"))): ...
        """
        if not isinstance(permission, str) or not permission:
            raise TypeError("permission must be a non-empty string")
        detail = "permission %r is required" % permission

        def check(request: Any) -> Any:
            user = self._user(request)
            if not self.has_permission(self.user_roles(user), permission):
                raise HTTPException(403, detail)
            return user

        return _Guard(check, "require_permission(%r)" % permission)

    def require_roles(self, *roles: str, require_all: bool = False) -> "_Guard":
        """A guard, as decorator or dependency: 403 unless the user has one of ``roles``.

        Inherited roles count. ``require_all=True`` requires every one of them.
        """
        if not roles:
            raise TypeError("require_roles needs at least one role name")
        for role in roles:
            if not isinstance(role, str) or not role:
                raise TypeError("role names must be non-empty strings, got %r" % (role,))
        if require_all:
            detail = "roles %s are required" % ", ".join(repr(r) for r in roles)
        elif len(roles) == 1:
            detail = "role %r is required" % roles[0]
        else:
            detail = "one of the roles %s is required" % ", ".join(repr(r) for r in roles)
        test = all if require_all else any

        def check(request: Any) -> Any:
            user = self._user(request)
            held = self.user_roles(user)
            if not test(self.has_role(held, role) for role in roles):
                raise HTTPException(403, detail)
            return user

        return _Guard(check, "require_roles(%s)" % ", ".join(repr(r) for r in roles))

    def __repr__(self) -> str:
        return "<RBAC %d roles>" % len(self._parents)


RoleBasedAccessControl = RBAC


def _role_list(roles: Union[str, Iterable[str], None]) -> Iterable[str]:
    # A bare string is one role, never its characters.
    if roles is None:
        return ()
    if isinstance(roles, str):
        return (roles,)
    return roles


_REQUEST_ONLY = inspect.Signature([inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)])


class _Guard:
    """An access check usable as a handler decorator and as a dependency.

    ``@guard`` on a handler: Python calls ``type(guard).__call__(guard, handler)``, which
    wraps it. ``Depends(guard)``: the injector reads the instance's ``__signature__`` (one
    ``request`` parameter) and ``__call__`` attribute (a coroutine function, so it is awaited
    on the event loop rather than sent to the thread pool), then calls ``guard(request=...)``.
    The dependency's value is the user.
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
        check = self._check
        return _guarded(fn, check)

    def __repr__(self) -> str:
        return "<guard %s>" % self._name
