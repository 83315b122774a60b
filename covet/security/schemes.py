"""Credentials as dependencies, each declaring its OpenAPI security scheme.

A scheme reads one credential from the request and gives it to the handler; what the credential
is worth (a user, a key's owner) is the application's to decide. Because each one carries
``openapi_security``, a route that depends on it lists the scheme in its ``security`` and the
/docs page offers it in Authorize, with a lock on the route.

=================================  =========================================  ==================
scheme                             reads                                      gives
=================================  =========================================  ==================
``APIKeyHeader(name)``             the header ``name``                        the key (str)
``APIKeyQuery(name)``              the query parameter ``name``               the key (str)
``APIKeyCookie(name)``             the cookie ``name``                        the key (str)
``HTTPBearer()``                   ``Authorization: Bearer <token>``          the token (str)
``HTTPBasic()``                    ``Authorization: Basic`` (RFC 7617)        HTTPBasicCredentials
``OAuth2PasswordBearer(url)``      ``Authorization: Bearer``; password flow   the token (str)
``OAuth2AuthorizationCodeBearer``  ``Authorization: Bearer``; code flow       the token (str)
=================================  =========================================  ==================

Without the credential the request gets a 401 problem with a ``WWW-Authenticate`` challenge
(RFC 9110 §11.6.1 requires one on every 401); with ``auto_error=False`` the dependency gives
None instead, for routes that serve anonymous callers too.

Example::

    api_key = APIKeyHeader("X-API-Key")

    @app.get("/reports")
    async def reports(key: str = Depends(api_key)):
        if not hmac.compare_digest(key, expected):
            raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "APIKey"})
        ...
"""
import abc
import base64
import binascii
import re
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple

from ..core.errors import HTTPException
from ..core.requests import Request

__all__ = [
    "SecurityScheme", "APIKeyHeader", "APIKeyQuery", "APIKeyCookie", "HTTPBearer", "HTTPBasic",
    "HTTPBasicCredentials", "OAuth2PasswordBearer", "OAuth2AuthorizationCodeBearer", "parse_basic",
    "oauth2_scheme", "authorization_credentials", "bearer_token", "B64TOKEN",
]


class HTTPBasicCredentials(NamedTuple):
    """What ``HTTPBasic`` gives: the user id and the password, as sent."""

    username: str
    password: str


def parse_basic(value: str) -> Optional[Tuple[str, str]]:
    """The (user-id, password) of a Basic ``Authorization`` value's credentials, or None if malformed.

    RFC 7617 §2: base64 of ``user-id ":" password``; the user-id holds no colon, the password may.
    UTF-8 is the only charset RFC 7617 §2.1 defines; bytes that are not UTF-8 make the value
    malformed rather than being guessed at.

    Example::

        parse_basic("QWxhZGRpbjpvcGVuIHNlc2FtZQ==")   # ('Aladdin', 'open sesame')
    """
    value = value.strip()
    try:
        raw = base64.b64decode(value, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    # Canonical base64 only (no extra padding or stray bits): one credential, one spelling.
    if base64.b64encode(raw).decode("ascii") != value:
        return None
    user, sep, password = decoded.partition(":")
    # RFC 7617 §2: neither the user-id nor the password contains a control character.
    if not sep or _CONTROL.search(decoded):
        return None
    return user, password


# C0 controls and DEL (RFC 5234 CTL), and the C1 controls of Unicode.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def authorization_credentials(request: Any, scheme: str) -> Optional[str]:
    """The credentials of the request's ``Authorization: <scheme> <credentials>``, or None.

    ``scheme`` in lower case. RFC 9110 §11.1: the auth-scheme is case-insensitive.

    Example::

        authorization_credentials(request, "bearer")   # 'eyJhbGciOi...' or None
    """
    header = request.headers.get("authorization")
    if not header:
        return None
    name, _, credentials = header.strip().partition(" ")
    if name.lower() != scheme:
        return None
    return credentials.strip() or None


def bearer_token(request: Any) -> Optional[str]:
    """The token of ``Authorization: Bearer <token>`` (RFC 6750 §2.1), or None when there is none."""
    return authorization_credentials(request, "bearer")


class SecurityScheme(abc.ABC):
    """The base of the schemes: a name for the document, a challenge, and ``auto_error``.

    A subclass sets ``scheme`` (the OpenAPI security scheme object) and ``challenge`` (the
    ``WWW-Authenticate`` value) before calling this ``__init__``, and implements :meth:`read`.
    """

    scheme: Dict[str, Any] = {}
    challenge = ""

    def __init__(self, scheme_name: Optional[str] = None, description: Optional[str] = None,
                 auto_error: bool = True) -> None:
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error
        spec = dict(self.scheme)
        if description:
            spec["description"] = description
        #: Read by covet.openapi: ``{scheme name: security scheme object}``.
        self.openapi_security: Dict[str, Dict[str, Any]] = {self.scheme_name: spec}

    @abc.abstractmethod
    def read(self, request: Request) -> Any:
        """The credential, or None when the request carries none (or a malformed one)."""

    def __call__(self, request: Request) -> Any:
        found = self.read(request)
        if found is None and self.auto_error:
            raise HTTPException(401, "not authenticated: %s required" % self.what(), {"WWW-Authenticate": self.challenge})
        return found

    def what(self) -> str:
        return "credentials"

    def __repr__(self) -> str:
        return "<%s %s>" % (type(self).__name__, self.scheme_name)


class _APIKey(SecurityScheme):
    where = ""

    def __init__(self, name: str, scheme_name: Optional[str] = None, description: Optional[str] = None,
                 auto_error: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("an API key needs the name of its %s" % self.where)
        self.name = name
        self.scheme = {"type": "apiKey", "in": self.where, "name": name}
        super().__init__(scheme_name, description, auto_error)
        # No registered auth-scheme exists for API keys; the challenge names ours (RFC 9110 §11.6.1).
        self.challenge = "APIKey"

    def what(self) -> str:
        return "the %s %s" % (self.where, self.name)


class APIKeyHeader(_APIKey):
    """An API key in a request header (OpenAPI ``apiKey``, ``in: header``)."""

    where = "header"

    def read(self, request: Request) -> Optional[str]:
        return request.headers.get(self.name) or None


class APIKeyQuery(_APIKey):
    """An API key in a query parameter (``in: query``). Query strings end up in access logs and
    browser history: prefer a header where the client can send one."""

    where = "query"

    def read(self, request: Request) -> Optional[str]:
        return request.query_params.get(self.name) or None


class APIKeyCookie(_APIKey):
    """An API key in a cookie (``in: cookie``)."""

    where = "cookie"

    def read(self, request: Request) -> Optional[str]:
        return request.cookies.get(self.name) or None


class _Bearer(SecurityScheme):
    """``Authorization: Bearer <token>`` (RFC 6750 §2.1); gives the token. The subclasses differ
    only in how the document says the token is obtained."""

    challenge = "Bearer"

    def read(self, request: Request) -> Optional[str]:
        token = bearer_token(request)
        # Not a b64token ("Bearer a b", quotes, controls): malformed, so none.
        return token if token is not None and B64TOKEN.fullmatch(token) else None

    def what(self) -> str:
        return "a bearer token"


class HTTPBearer(_Bearer):
    """``Authorization: Bearer <token>`` (RFC 6750 §2.1); gives the token."""

    def __init__(self, bearer_format: Optional[str] = None, scheme_name: Optional[str] = None,
                 description: Optional[str] = None, auto_error: bool = True) -> None:
        self.scheme = {"type": "http", "scheme": "bearer"}
        if bearer_format:
            self.scheme["bearerFormat"] = bearer_format
        super().__init__(scheme_name, description, auto_error)


class HTTPBasic(SecurityScheme):
    """``Authorization: Basic`` (RFC 7617); gives :class:`HTTPBasicCredentials`.

    A malformed value counts as none (401). Compare passwords with ``hmac.compare_digest`` or
    ``verify_password``, never ``==``.
    """

    def __init__(self, realm: Optional[str] = None, scheme_name: Optional[str] = None,
                 description: Optional[str] = None, auto_error: bool = True) -> None:
        self.scheme = {"type": "http", "scheme": "basic"}
        if realm is not None and ('"' in realm or "\\" in realm or any(c < " " for c in realm)):
            raise ValueError("realm must be printable without '\"' or '\\\\'")
        # RFC 7617 §2.1: charset="UTF-8" tells the browser how to encode what the user types.
        self.challenge = ('Basic realm="%s", charset="UTF-8"' % realm) if realm is not None else 'Basic charset="UTF-8"'
        super().__init__(scheme_name, description, auto_error)

    def read(self, request: Request) -> Optional[HTTPBasicCredentials]:
        credentials = authorization_credentials(request, "basic")
        parsed = parse_basic(credentials) if credentials is not None else None
        return HTTPBasicCredentials(*parsed) if parsed is not None else None

    def what(self) -> str:
        return "a user name and password (HTTP Basic)"


def oauth2_scheme(flows: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """An OpenAPI ``oauth2`` security scheme object for ``flows`` (each flow's ``scopes`` as a dict).

    Example::

        oauth2_scheme({"password": {"tokenUrl": "/token", "scopes": {"read": "read items"}}})
    """
    return {"type": "oauth2", "flows": {name: dict(flow, scopes=dict(flow.get("scopes") or {}))
                                        for name, flow in flows.items()}}


def _scopes(scopes: Any) -> Dict[str, str]:
    if scopes is None:
        return {}
    if isinstance(scopes, Mapping):
        return {str(k): str(v) for k, v in scopes.items()}
    return {str(s): "" for s in scopes}


class _OAuth2Bearer(_Bearer):
    # One OAuth2 flow, with its scopes (a list of names or a dict of name to description) and
    # optional refresh URL, as the document's scheme.
    def _declare(self, flow_name: str, flow: Dict[str, Any], scopes: Any, refresh_url: Optional[str],
                 scheme_name: Optional[str], description: Optional[str], auto_error: bool) -> None:
        flow["scopes"] = _scopes(scopes)
        if refresh_url:
            flow["refreshUrl"] = refresh_url
        self.scheme = oauth2_scheme({flow_name: flow})
        super().__init__(scheme_name, description, auto_error)


class OAuth2PasswordBearer(_OAuth2Bearer):
    """A bearer token obtained with the OAuth2 password flow at ``token_url`` (RFC 6749 §4.3).

    OAuth 2.1 drops this grant (clients see users' passwords), and covet's ``OAuth2Server`` does
    not offer it; it is here for first-party APIs whose own login route takes a form with
    ``grant_type=password``, ``username`` and ``password`` and answers ``{"access_token": ...,
    "token_type": "bearer"}`` — the /docs page's Authorize dialog then logs in with it.
    ``scopes``: a list of names or a dict of name to description.
    """

    def __init__(self, token_url: str, scopes: Any = None, refresh_url: Optional[str] = None,
                 scheme_name: Optional[str] = None, description: Optional[str] = None,
                 auto_error: bool = True) -> None:
        self._declare("password", {"tokenUrl": token_url}, scopes, refresh_url, scheme_name, description,
                      auto_error)


class OAuth2AuthorizationCodeBearer(_OAuth2Bearer):
    """A bearer token obtained with the authorization code flow (with PKCE) from another server.

    For covet's own ``OAuth2Server``, ``oauth2.jwt_auth`` declares this flow already.
    """

    def __init__(self, authorization_url: str, token_url: str, scopes: Any = None,
                 refresh_url: Optional[str] = None, scheme_name: Optional[str] = None,
                 description: Optional[str] = None, auto_error: bool = True) -> None:
        self._declare("authorizationCode", {"authorizationUrl": authorization_url, "tokenUrl": token_url},
                      scopes, refresh_url, scheme_name, description, auto_error)
