"""Registered clients: their secrets (hashed), redirect URIs, scopes and grant types, and how a
request authenticates one (``client_secret_basic``, ``client_secret_post``, or ``none`` for
public clients).

Redirect URIs are compared by exact string equality (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1): no
normalisation, no prefix or wildcard matching, no variable loopback port. A native app that
listens on several loopback ports registers each of them. Registered URIs are checked when the
server is built: absolute, no fragment (RFC 6749 §3.1.2), no userinfo, and a scheme that is not
one a browser runs as code (``javascript:``, ``data:``, ``vbscript:``) or a local file.

Example::

    client = Client.from_config("app", {"secret": "s3cret", "redirect_uris": ["https://app.example/cb"]})
    client.confidential     # True
"""
import hmac
from typing import Any, FrozenSet, Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

from ..passwords import hash_password, verify_password_async
from ..schemes import parse_basic
from .errors import INVALID_CLIENT, INVALID_REQUEST, OAuth2Error

__all__ = ["Client", "ClientAuth", "authenticate_client", "read_client_auth", "check_redirect_uri", "same_string",
           "AUTHORIZATION_CODE", "REFRESH_TOKEN", "CLIENT_CREDENTIALS", "GRANT_TYPES"]

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
GRANT_TYPES = frozenset((AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS))

# Schemes a browser runs or reads locally instead of navigating to (an XSS or a file read
# through the redirect: RFC 6819 §4.2.4, RFC 9700 §4.1).
_FORBIDDEN_SCHEMES = frozenset(("javascript", "data", "vbscript", "file", "blob", "about"))
# RFC 8252 §8.3 and OAuth 2.1 §2.3.1: plain http only to the machine itself.
_LOOPBACK_HOSTS = frozenset(("localhost", "127.0.0.1", "::1"))
_CONFIG_KEYS = frozenset(("secret", "secret_hash", "redirect_uris", "scopes", "default_scopes", "grant_types",
                          "name", "skip_consent"))

# Verified against when a client has no secret or does not exist, so that a failed
# authentication costs the same whichever way it failed (RFC 6819 §5.2.3.1 hints at timing).
_DUMMY_HASH = None  # type: Optional[str]


def check_redirect_uri(uri: Any, allow_http: bool = False) -> str:
    """``uri`` if it may be registered as a redirect URI; ``ValueError`` saying why not.

    Example::

        check_redirect_uri("http://localhost:3000/callback")   # accepted: loopback
        check_redirect_uri("javascript:alert(1)")              # ValueError
    """
    if not isinstance(uri, str) or not uri:
        raise ValueError("a redirect URI must be a non-empty string")
    if any(c in uri for c in "\r\n\t\x00 ") or not uri.isascii():
        raise ValueError("redirect URI %r has whitespace, control or non-ASCII characters" % (uri,))
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValueError("redirect URI %r is not absolute (RFC 6749 §3.1.2)" % (uri,))
    if scheme in _FORBIDDEN_SCHEMES:
        raise ValueError("redirect URI %r has a scheme browsers do not navigate to" % (uri,))
    if "#" in uri:
        raise ValueError("redirect URI %r has a fragment (RFC 6749 §3.1.2)" % (uri,))
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError("redirect URI %r has no host" % (uri,))
        if "@" in parts.netloc:
            raise ValueError("redirect URI %r has userinfo" % (uri,))
        if scheme == "http" and not allow_http and parts.hostname not in _LOOPBACK_HOSTS:
            raise ValueError("redirect URI %r uses http on a host that is not loopback; use https "
                             "(OAuth 2.1 §2.3.1) or OAuth2Server(allow_http_redirect_uris=True)" % (uri,))
    return uri


class Client:
    """One registered client.

    :param client_id: its identifier.
    :param secret_hash: a ``covet.security.passwords`` hash of its secret; None for a public client.
    :param redirect_uris: the exact URIs it may be redirected to.
    :param scopes: the scopes it may ask for.
    :param default_scopes: what it gets when it asks for none (RFC 6749 §3.3).
    :param grant_types: the grants it may use at the token endpoint.
    :param name: shown on the consent page.
    :param skip_consent: a first-party client whose users are not asked (the code is issued at once).
    """

    __slots__ = ("client_id", "secret_hash", "redirect_uris", "scopes", "default_scopes", "grant_types", "name",
                 "skip_consent")

    def __init__(self, client_id: str, secret_hash: Optional[str], redirect_uris: Tuple[str, ...],
                 scopes: FrozenSet[str], default_scopes: FrozenSet[str], grant_types: FrozenSet[str],
                 name: str, skip_consent: bool = False) -> None:
        self.client_id = client_id
        self.secret_hash = secret_hash
        self.redirect_uris = redirect_uris
        self.scopes = scopes
        self.default_scopes = default_scopes
        self.grant_types = grant_types
        self.name = name
        self.skip_consent = skip_consent

    @property
    def confidential(self) -> bool:
        """Whether the client has a secret (RFC 6749 §2.1); public clients have none."""
        return self.secret_hash is not None

    @classmethod
    def from_config(cls, client_id: str, config: Mapping[str, Any], server_scopes: FrozenSet[str] = frozenset(),
                    allow_http: bool = False) -> "Client":
        """A client from its configuration mapping (the ``clients`` dict of ``OAuth2Server``).

        Keys: ``secret`` (hashed here; the plain value is not kept) or ``secret_hash`` (a hash
        made with ``covet.security.passwords.hash_password``), none of them for a public client;
        ``redirect_uris``; ``scopes`` (default: the server's ``scopes``); ``default_scopes``;
        ``grant_types``; ``name``; ``skip_consent``.
        """
        if not isinstance(client_id, str) or not client_id or not client_id.isascii() or not client_id.isprintable():
            raise ValueError("client ids must be non-empty printable ASCII strings, got %r" % (client_id,))
        if not isinstance(config, Mapping):
            raise TypeError("client %r: its configuration must be a mapping" % client_id)
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise ValueError("client %r: unknown settings %s" % (client_id, ", ".join(sorted(unknown))))
        secret, secret_hash = config.get("secret"), config.get("secret_hash")
        if secret is not None and secret_hash is not None:
            raise ValueError("client %r: give secret or secret_hash, not both" % client_id)
        if secret is not None:
            if not isinstance(secret, str) or not secret:
                raise ValueError("client %r: secret must be a non-empty string" % client_id)
            secret_hash = hash_password(secret)
        elif secret_hash is not None and not isinstance(secret_hash, str):
            raise ValueError("client %r: secret_hash must be a string from hash_password()" % client_id)
        uris = config.get("redirect_uris", ())
        if isinstance(uris, str):
            raise TypeError("client %r: redirect_uris must be a list of URIs, not one string" % client_id)
        uris = tuple(check_redirect_uri(u, allow_http) for u in uris)
        scopes = _scope_set(config.get("scopes", server_scopes), client_id, "scopes")
        default_scopes = _scope_set(config.get("default_scopes", ()), client_id, "default_scopes")
        if not default_scopes <= scopes:
            raise ValueError("client %r: default_scopes must be among its scopes" % client_id)
        confidential = secret_hash is not None
        default_grants = GRANT_TYPES if confidential else GRANT_TYPES - {CLIENT_CREDENTIALS}
        grants = frozenset(config.get("grant_types", default_grants))
        if not grants <= GRANT_TYPES:
            raise ValueError("client %r: grant_types must be among %s" % (client_id, ", ".join(sorted(GRANT_TYPES))))
        if CLIENT_CREDENTIALS in grants and not confidential:
            raise ValueError("client %r: client_credentials needs a confidential client (a secret)" % client_id)
        if AUTHORIZATION_CODE in grants and not uris:
            raise ValueError("client %r: the authorization_code grant needs redirect_uris" % client_id)
        name = config.get("name", client_id)
        if not isinstance(name, str):
            raise TypeError("client %r: name must be a string" % client_id)
        return cls(client_id, secret_hash, uris, scopes, default_scopes, grants, name, bool(config.get("skip_consent")))

    async def check_secret(self, secret: str) -> bool:
        """Whether ``secret`` is this client's secret (a hash compare off the event loop, constant time)."""
        if self.secret_hash is None:
            await verify_password_async(secret, _dummy_hash())
            return False
        return await verify_password_async(secret, self.secret_hash)

    def __repr__(self) -> str:
        return "<Client %s %s>" % (self.client_id, "confidential" if self.confidential else "public")


def _scope_set(value: Any, client_id: str, what: str) -> FrozenSet[str]:
    if isinstance(value, str):
        value = value.split()
    scopes = frozenset(value)
    if not all(isinstance(s, str) and s and " " not in s for s in scopes):
        raise ValueError("client %r: %s must be scope names" % (client_id, what))
    return scopes


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("covet-oauth2-no-such-client")
    return _DUMMY_HASH


class ClientAuth:
    """How a token-endpoint request named its client: ``client_id``, the ``secret`` it sent (None for
    a public client), and whether HTTP Basic was used (the 401 then carries ``WWW-Authenticate``)."""

    __slots__ = ("client_id", "secret", "basic")

    def __init__(self, client_id: Optional[str], secret: Optional[str], basic: bool) -> None:
        self.client_id = client_id
        self.secret = secret
        self.basic = basic


def read_client_auth(authorization: Optional[str], params: Mapping[str, str]) -> ClientAuth:
    """The client credentials of a request: ``Authorization: Basic`` (RFC 6749 §2.3.1, the id and
    secret form-urlencoded before base64) or ``client_id``/``client_secret`` in the body.

    ``invalid_request`` when both are used (RFC 6749 §2.3: "MUST NOT use more than one
    authentication method in each request"); ``invalid_client`` for a malformed Basic header.
    """
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            if "client_secret" in params:
                raise OAuth2Error(INVALID_REQUEST, "use one client authentication method, not two")
            parsed = parse_basic(value)
            if parsed is None:
                raise _invalid_client(True, "malformed Basic credentials")
            raw_id, raw_secret = parsed
            client_id, secret = unquote(raw_id.replace("+", " ")), unquote(raw_secret.replace("+", " "))
            body_id = params.get("client_id")
            if body_id is not None and body_id != client_id:
                raise OAuth2Error(INVALID_REQUEST, "client_id does not match the Basic credentials")
            return ClientAuth(client_id, secret, True)
    return ClientAuth(params.get("client_id"), params.get("client_secret"), False)


def _invalid_client(basic: bool, description: str = "client authentication failed") -> OAuth2Error:
    # RFC 6749 §5.2: 401 when the client tried HTTP Basic; RFC 9110 §15.5.2: every 401 carries a
    # challenge. covet answers invalid_client with 401 and the Basic challenge either way.
    return OAuth2Error(INVALID_CLIENT, description, 401, {"WWW-Authenticate": 'Basic realm="oauth2"'})


async def authenticate_client(auth: ClientAuth, clients: Mapping[str, Client], allow_public: bool) -> Client:
    """The client a request authenticates as; ``invalid_client`` (401) otherwise.

    A confidential client must present its secret (Basic or body); a public client may only
    name itself, and only where ``allow_public`` (the code and refresh grants, revocation).
    A public client that sends a secret is refused: it has none.
    """
    if auth.client_id is None:
        raise _invalid_client(auth.basic, "client authentication is required")
    client = clients.get(auth.client_id)
    if client is None:
        if auth.secret is not None:
            await verify_password_async(auth.secret, _dummy_hash())  # same cost as a wrong secret
        raise _invalid_client(auth.basic)
    if client.confidential:
        if auth.secret is None or not await client.check_secret(auth.secret):
            raise _invalid_client(auth.basic)
        return client
    if auth.secret is not None or not allow_public:
        raise _invalid_client(auth.basic)
    return client


def same_string(a: str, b: str) -> bool:
    """Constant-time string equality (for values an attacker may try to guess piecewise)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
