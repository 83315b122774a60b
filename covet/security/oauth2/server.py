"""``OAuth2Server``: an OAuth 2.1 authorization server (RFC 6749 as amended by OAuth 2.1 and RFC 9700).

It serves the authorization endpoint (code grant with PKCE S256, a consent page), the token
endpoint (``authorization_code``, ``refresh_token`` with rotation, ``client_credentials``),
revocation (RFC 7009), introspection (RFC 7662) and its metadata (RFC 8414), and protects an
app's own routes with ``Depends(oauth2.require_scopes("read"))``. docs/oauth2.md is the guide.

Example::

    from covet.security.oauth2 import OAuth2Server

    oauth2 = OAuth2Server(
        authorization_endpoint="/oauth/authorize",
        token_endpoint="/oauth/token",
        clients={"client_id": {"secret": "client_secret",
                               "redirect_uris": ["http://localhost:3000/callback"]}},
    )
    app.include_oauth2(oauth2)
"""
import inspect
import logging
import secrets
import time
from typing import Any, Callable, Dict, FrozenSet, Iterable, Mapping, Optional, Union
from urllib.parse import urlencode, urlsplit

from ...core.requests import Request
from ...core.responses import JSONResponse, RedirectResponse, Response
from ..csrf import csrf_exempt
from ..jwt import InvalidTokenError
from ..jwt_auth import JWTAuth
from ..schemes import oauth2_scheme
from . import authorize, grants, introspection
from .clients import Client
from .consent import (CONSENT_TOKEN_LIFETIME, DEFAULT_CONSENT_TEMPLATE, DEFAULT_ERROR_TEMPLATE, ConsentPage,
                      ConsentTokens, PageSource)
from .errors import OAuth2Error
from .resource import ScopeRequirement
from .storage import ACCESS, REFRESH, MemoryStorage, OAuth2Storage, TokenRecord, token_key
from .tokens import AccessTokens, new_secret

__all__ = ["OAuth2Server", "default_authenticate", "DEFAULT_CODE_LIFETIME", "DEFAULT_ACCESS_TOKEN_LIFETIME",
           "DEFAULT_REFRESH_TOKEN_LIFETIME", "DEFAULT_GRANT_LIFETIME", "METADATA_PATH"]

logger = logging.getLogger("covet.oauth2")

# RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED";
# a browser redirect and a back-channel exchange take seconds, so one minute is plenty.
DEFAULT_CODE_LIFETIME = 60
# Access tokens are self-contained JWTs that a resource server may check without asking this
# server: their lifetime bounds how long a revoked one may still be accepted (RFC 9700 §4.14.2).
DEFAULT_ACCESS_TOKEN_LIFETIME = 900
# A refresh token is rotated at every use; unused for two weeks, it lapses.
DEFAULT_REFRESH_TOKEN_LIFETIME = 14 * 24 * 3600
# However often it is refreshed, a grant ends after this: the user is asked again.
DEFAULT_GRANT_LIFETIME = 90 * 24 * 3600
# RFC 8414 §3.
METADATA_PATH = "/.well-known/oauth-authorization-server"

_JSON_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def default_authenticate(request: Any) -> Optional[str]:
    """The signed-in user: ``request.session["user_id"]`` when ``SessionMiddleware`` is installed,
    else None (the authorization endpoint then answers 401, or redirects to ``login_url``).

    Example::

        request.session["user_id"] = 42      # at login; the consent page shows user "42"
    """
    session = getattr(request, "session", None)
    if isinstance(session, dict):
        user = session.get("user_id")
        if isinstance(user, str) and user:
            return user
        if isinstance(user, int) and not isinstance(user, bool):
            return str(user)
    return None


#: The tag of the server's endpoints in the OpenAPI document.
OPENAPI_TAGS = ["oauth2"]


class OAuth2Server:
    """An OAuth 2.1 authorization server for a covet app; ``app.include_oauth2(server)`` adds its routes.

    :param authorization_endpoint: path of the authorization endpoint (consent page, GET and POST).
    :param token_endpoint: path of the token endpoint.
    :param revocation_endpoint: path of the RFC 7009 endpoint.
    :param introspection_endpoint: path of the RFC 7662 endpoint.
    :param clients: ``client_id -> settings`` (see ``Client.from_config``: ``secret`` or ``secret_hash``
        for a confidential client, neither for a public one; ``redirect_uris``; ``scopes``...).
    :param scopes: the scopes the server knows, and the default ``scopes`` of every client.
    :param secret_key: the key that signs access tokens and consent forms (str/bytes, 32+ bytes);
        default: the app's ``secret_key`` at ``include_oauth2``, else a random key of this process
        (tokens then die with it, and workers do not share them: logged as a warning).
    :param issuer: the ``iss`` of tokens and metadata, an https URL without query or fragment;
        default: the request's base URL (use TrustedHostMiddleware then: the Host header decides it).
    :param audience: the ``aud`` of access tokens; default: the issuer.
    :param storage: an ``OAuth2Storage``; default ``MemoryStorage()`` (one process).
    :param authenticate: ``authenticate(request) -> user id or None`` (sync or async); default
        ``default_authenticate`` (the session's ``user_id``).
    :param login_url: where the authorization endpoint sends a visitor who is not signed in, with
        ``?next=<the authorization request>``; without it, the endpoint answers 401.
    :param consent_template: the consent page: a template string or ``page(request, context)``.
    :param error_template: the error page, likewise.
    :param code_lifetime, access_token_lifetime, refresh_token_lifetime, grant_lifetime: seconds.
    :param check_revocation: ``require_scopes`` consults the storage on every request (a revoked
        token fails at once); False trusts the JWT until it expires (no storage read).
    :param allow_http_redirect_uris: accept ``http://`` redirect URIs on hosts other than loopback.
    :param clock: seconds since the epoch (tests pass their own).
    """

    def __init__(self, authorization_endpoint: str = "/oauth/authorize", token_endpoint: str = "/oauth/token",
                 clients: Optional[Mapping[str, Mapping[str, Any]]] = None, *,
                 revocation_endpoint: str = "/oauth/revoke", introspection_endpoint: str = "/oauth/introspect",
                 scopes: Iterable[str] = (), secret_key: Any = None, issuer: Optional[str] = None,
                 audience: Optional[str] = None, storage: Optional[OAuth2Storage] = None,
                 authenticate: Optional[Callable[[Any], Any]] = None, login_url: Optional[str] = None,
                 consent_template: PageSource = DEFAULT_CONSENT_TEMPLATE,
                 error_template: PageSource = DEFAULT_ERROR_TEMPLATE,
                 code_lifetime: float = DEFAULT_CODE_LIFETIME,
                 access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME,
                 refresh_token_lifetime: float = DEFAULT_REFRESH_TOKEN_LIFETIME,
                 grant_lifetime: float = DEFAULT_GRANT_LIFETIME, check_revocation: bool = True,
                 allow_http_redirect_uris: bool = False, clock: Callable[[], float] = time.time) -> None:
        for name, path in (("authorization_endpoint", authorization_endpoint), ("token_endpoint", token_endpoint),
                           ("revocation_endpoint", revocation_endpoint),
                           ("introspection_endpoint", introspection_endpoint)):
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError("%s must be a path starting with '/', got %r" % (name, path))
        self.authorization_endpoint = authorization_endpoint
        self.token_endpoint = token_endpoint
        self.revocation_endpoint = revocation_endpoint
        self.introspection_endpoint = introspection_endpoint
        self.scopes = frozenset(scopes)  # type: FrozenSet[str]
        self.clients = {
            client_id: Client.from_config(client_id, config, self.scopes, allow_http_redirect_uris)
            for client_id, config in (clients or {}).items()
        }  # type: Dict[str, Client]
        if issuer is not None:
            parts = urlsplit(issuer)
            if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
                raise ValueError("issuer must be an https URL without query or fragment (RFC 8414 §2)")
            issuer = issuer.rstrip("/")
        self.issuer = issuer
        self.audience = audience
        self.storage = storage if storage is not None else MemoryStorage()
        self.authenticate = authenticate or default_authenticate
        self.login_url = login_url
        self.consent_page = ConsentPage(consent_template)
        self.error_page = ConsentPage(error_template)
        for name, value in (("code_lifetime", code_lifetime), ("access_token_lifetime", access_token_lifetime),
                            ("refresh_token_lifetime", refresh_token_lifetime), ("grant_lifetime", grant_lifetime)):
            if type(value) not in (int, float) or not value > 0:
                raise ValueError("%s must be a positive number of seconds" % name)
        self.code_lifetime = code_lifetime
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.grant_lifetime = grant_lifetime
        self.check_revocation = check_revocation
        self.clock = clock
        self._explicit_key = secret_key is not None
        self._set_key(secret_key if secret_key is not None else secrets.token_bytes(32))
        self.app = None  # type: Any

    def _set_key(self, key: Any) -> None:
        self.secret_key = key
        self.access_tokens = AccessTokens(key, self.access_token_lifetime)
        self.consent_tokens = ConsentTokens(key, CONSENT_TOKEN_LIFETIME)

    # -- the app -----------------------------------------------------------------------
    def setup(self, app: Any) -> None:
        """Register the endpoints on ``app`` (``app.include_oauth2(server)`` calls this).

        Routes: the authorization endpoint (GET shows the consent page, POST takes the decision),
        the token, revocation and introspection endpoints (POST; exempt from CSRFProtection, as
        they take no cookies), and the metadata document (GET).
        """
        if self.app is not None:
            raise RuntimeError("this OAuth2Server is already set up on %r" % (self.app,))
        self.app = app
        if not self._explicit_key:
            if getattr(app, "secret_key", None) is not None:
                self._set_key(app.secret_key)
            else:
                logger.warning("OAuth2Server has no secret_key and the app none either: tokens are signed with a "
                               "random key of this process (they end with it, and other workers reject them)")
        server = self

        async def oauth2_authorize(request: Request) -> Response:
            if request.method == "POST":
                return await authorize.decide(server, request)
            return await authorize.show(server, request)

        @csrf_exempt
        async def oauth2_token(request: Request) -> Response:
            return await server.json_endpoint(request, grants.token_endpoint)

        @csrf_exempt
        async def oauth2_revoke(request: Request) -> Response:
            return await server.json_endpoint(request, introspection.revoke)

        @csrf_exempt
        async def oauth2_introspect(request: Request) -> Response:
            return await server.json_endpoint(request, introspection.introspect)

        async def oauth2_metadata(request: Request) -> Response:
            return JSONResponse(server.metadata(request))

        # Grouped under one tag on the /docs page, apart from the application's own routes.
        app.add_route(self.authorization_endpoint, oauth2_authorize, methods=["GET", "POST"], name="oauth2_authorize", tags=OPENAPI_TAGS)
        app.add_route(self.token_endpoint, oauth2_token, methods=["POST"], name="oauth2_token", tags=OPENAPI_TAGS)
        app.add_route(self.revocation_endpoint, oauth2_revoke, methods=["POST"], name="oauth2_revoke", tags=OPENAPI_TAGS)
        app.add_route(self.introspection_endpoint, oauth2_introspect, methods=["POST"], name="oauth2_introspect", tags=OPENAPI_TAGS)
        # RFC 8414 §3.1: an issuer with a path has its metadata at the well-known prefix + that path.
        path = urlsplit(self.issuer).path if self.issuer else ""
        app.add_route(METADATA_PATH + path, oauth2_metadata, methods=["GET"], name="oauth2_metadata", tags=OPENAPI_TAGS)

    async def json_endpoint(self, request: Any, endpoint: Callable[[Any, Any], Any]) -> Response:
        """Run a back-channel endpoint: its dict as JSON (or its Response), an ``OAuth2Error`` as the
        RFC 6749 §5.2 JSON error; ``Cache-Control: no-store`` on both (RFC 6749 §5.1)."""
        try:
            result = await endpoint(self, request)
        except OAuth2Error as exc:
            headers = dict(_JSON_HEADERS)
            headers.update(exc.headers)
            return JSONResponse(exc.to_dict(), exc.status_code, headers=headers)
        if isinstance(result, Response):
            return result
        return JSONResponse(result, 200, headers=_JSON_HEADERS)

    # -- values every endpoint needs --------------------------------------------------------
    def now(self) -> float:
        """The server's clock (``clock``)."""
        return self.clock()

    def issuer_for(self, request: Any) -> str:
        """The issuer: the configured one, or the request's base URL without the trailing slash."""
        if self.issuer is not None:
            return self.issuer
        return str(request.base_url).rstrip("/")

    def audience_for(self, request: Any) -> str:
        """The ``aud`` of access tokens: the configured audience, or the issuer."""
        return self.audience if self.audience is not None else self.issuer_for(request)

    async def current_user(self, request: Any) -> Optional[str]:
        """The signed-in resource owner according to ``authenticate`` (as a string), or None."""
        user = self.authenticate(request)
        if inspect.isawaitable(user):
            user = await user
        if user is None or user == "":
            return None
        if isinstance(user, bool) or not isinstance(user, (str, int)):
            raise TypeError("authenticate(request) must return a user id (str or int) or None, got %r"
                            % type(user).__name__)
        return str(user)

    # -- tokens --------------------------------------------------------------------------------
    async def issue_tokens(self, request: Any, client: Client, subject: str, scope: str, grant_id: str,
                           refresh_scope: Optional[str]) -> Dict[str, Any]:
        """Mint an access token (and a refresh token when ``refresh_scope`` is not None), store them,
        and return the RFC 6749 §5.1 response body."""
        now = self.now()
        token, claims = self.access_tokens.mint(self.issuer_for(request), self.audience_for(request), subject,
                                                client.client_id, scope, now, grant_id)
        await self.storage.save_token(claims["jti"], TokenRecord(ACCESS, client.client_id, subject, scope, grant_id,
                                                                 claims["exp"]), self.access_token_lifetime)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": int(self.access_token_lifetime),
                "scope": scope}  # type: Dict[str, Any]
        if refresh_scope is not None:
            refresh = new_secret()
            record = TokenRecord(REFRESH, client.client_id, subject, refresh_scope, grant_id,
                                 now + self.refresh_token_lifetime)
            await self.storage.save_token(token_key(refresh), record, self.refresh_token_lifetime)
            body["refresh_token"] = refresh
        return body

    async def access_token_claims(self, request: Any, token: str) -> Optional[Dict[str, Any]]:
        """The claims of a valid, unrevoked access token issued here, else None."""
        try:
            claims = self.access_tokens.verify(token, self.issuer_for(request), self.audience_for(request),
                                               self.now())
        except InvalidTokenError:
            return None
        found = await self.storage.get_token(claims["jti"])
        if found is None or found[0].kind != ACCESS or not await self.storage.grant_active(found[0].grant_id):
            return None
        return claims

    def access_token_claims_unchecked(self, request: Any, token: str) -> Optional[Dict[str, Any]]:
        """The claims of a genuine, unexpired access token issued here, without asking the storage
        (``check_revocation=False``): a revoked token passes until it expires."""
        try:
            return self.access_tokens.verify(token, self.issuer_for(request), self.audience_for(request),
                                             self.now())
        except InvalidTokenError:
            return None

    # -- resource side -------------------------------------------------------------------------
    def require_scopes(self, *scopes: str) -> ScopeRequirement:
        """A check of the request's bearer token and its scopes, as a dependency or a decorator.

        401 ``WWW-Authenticate: Bearer`` without a token, 401 ``Bearer error="invalid_token"`` for
        a bad, expired or revoked one, 403 ``Bearer error="insufficient_scope"`` when a scope is
        missing (RFC 6750 §3.1). The dependency's value is the token's claims, also put in
        ``request.state.user``.

        Example::

            @app.get("/api/notes")
            async def notes(claims: dict = Depends(oauth2.require_scopes("notes:read"))):
                return {"user": claims["sub"]}
        """
        return ScopeRequirement(self, scopes)

    @property
    def jwt_auth(self) -> JWTAuth:
        """A ``JWTAuth`` that accepts this server's access tokens (needs a fixed ``issuer``).

        It checks the signature, ``iss``, ``aud`` and ``exp`` only: it cannot see revocations.
        Use ``require_scopes`` (or introspection) where a revoked token must fail at once.
        """
        if self.issuer is None:
            raise RuntimeError("jwt_auth needs OAuth2Server(issuer=...): with no issuer, it follows each request")
        return JWTAuth(self.secret_key, issuer=self.issuer, audience=self.audience or self.issuer,
                       openapi_security=self.openapi_security)

    @property
    def openapi_security(self) -> Dict[str, Dict[str, Any]]:
        """This server as an OpenAPI ``oauth2`` security scheme: the authorization code flow
        (with PKCE, which covet requires) at its endpoints, with its scopes.

        Routes guarded by ``require_scopes`` or ``jwt_auth`` name it, and the /docs page's
        Authorize dialog signs in with it (a public client registered for the page's
        ``/docs/oauth2-redirect``; docs/openapi.md).
        """
        flow = {"authorizationUrl": self.authorization_endpoint, "tokenUrl": self.token_endpoint,
                "refreshUrl": self.token_endpoint, "scopes": {scope: "" for scope in sorted(self.scopes)}}
        return {"OAuth2": oauth2_scheme({"authorizationCode": flow})}

    # -- metadata -----------------------------------------------------------------------------
    def metadata(self, request: Any) -> Dict[str, Any]:
        """The RFC 8414 authorization server metadata document."""
        issuer = self.issuer_for(request)
        base = issuer if self.issuer is not None else str(request.base_url).rstrip("/")
        grant_types = sorted({g for c in self.clients.values() for g in c.grant_types}) or ["authorization_code"]
        doc = {
            "issuer": issuer,
            "authorization_endpoint": base + self.authorization_endpoint,
            "token_endpoint": base + self.token_endpoint,
            "revocation_endpoint": base + self.revocation_endpoint,
            "introspection_endpoint": base + self.introspection_endpoint,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": grant_types,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "authorization_response_iss_parameter_supported": True,
        }  # type: Dict[str, Any]
        if self.scopes:
            doc["scopes_supported"] = sorted(self.scopes)
        return doc

    # -- redirects ---------------------------------------------------------------------------------
    def redirect(self, redirect_uri: str, params: Dict[str, str], status_code: int) -> Response:
        """A redirect to a *registered* ``redirect_uri`` with ``params`` added to its query
        (RFC 6749 §4.1.2: a query the URI already has is kept)."""
        separator = "&" if urlsplit(redirect_uri).query else ("" if redirect_uri.endswith("?") else "?")
        return RedirectResponse(redirect_uri + separator + urlencode(params), status_code,
                                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    def __repr__(self) -> str:
        return "<OAuth2Server %d clients, %r>" % (len(self.clients), self.storage)

