"""CSRF protection: a signed double-submit token, tied to the session when there is one.

A per-client secret (32 random bytes) lives in the session (``SessionMiddleware`` added
before this middleware) or, without one, in a signed HttpOnly cookie. Pages get the
secret *masked*: a fresh one-time pad per call, ``base64url(pad + (pad XOR secret))``, so
no two responses carry the same bytes and a compression oracle cannot recover it
(BREACH; tornado CVE-2014-9720). Requests with an unsafe method must send a token that
unmasks to the secret, in a header or a form field, or they get 403. Routes that take
no cookie-borne credentials (a webhook, a bearer-token API) opt out by path
(``exempt_paths``) or per handler (``@csrf_exempt``).

``CSRFProtection`` is the middleware; ``CSRFMiddleware`` is the same class.

Example::

    app.add_middleware(SessionMiddleware, secret_key=secret)
    app.add_middleware(CSRFProtection(secret_key=secret, exempt_paths=["/api/webhook"]))

    @app.get("/form")
    async def form(request: Request):
        return '<form method="post"><input type="hidden" name="csrf_token" value="%s">' % csrf_token(request)
"""
import hmac
import re
import secrets
from typing import Any, Callable, Iterable, Optional, Pattern, TypeVar, Union
from urllib.parse import urlsplit

from ..core.errors import HTTPException
from ..core.problems import problem_response
from ._cookies import check_cookie_options
from ._paths import PathPatterns
from ._routes import route_endpoint
from .signing import Signer, b64url_decode, b64url_encode

__all__ = ["CSRFProtection", "CSRFMiddleware", "csrf_exempt", "csrf_token", "DEFAULT_SAFE_METHODS", "SESSION_KEY"]

# RFC 9110 §9.2.1: methods defined as safe; they must not change state, so they need no token.
DEFAULT_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
# Where the secret is kept inside request.session.
SESSION_KEY = "_csrf"
# A year, as Django's CSRF_COOKIE_AGE: a form left open in a tab should still post.
DEFAULT_COOKIE_MAX_AGE = 365 * 24 * 3600
SECRET_BYTES = 32
TOKEN_LENGTH = 86  # base64url, unpadded, of a 32-byte pad followed by the 32-byte masked secret
_STATE_KEY = "_covet_csrf"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_DEFAULT_PORTS = {"https": ":443", "http": ":80"}
_ORIGIN = re.compile(r"(?:https?)://[^/?#\s]+")
# Set on handlers by @csrf_exempt.
_EXEMPT_ATTR = "__covet_csrf_exempt__"
# Every refusal says how a route that needs no token opts out.
_HOW_TO_EXEMPT = ("; a route that takes no cookie credentials (a webhook, a bearer-token API) can opt out: "
                  "list its path in exempt_paths or decorate its handler with @csrf_exempt")


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _b64(data: bytes) -> str:
    return b64url_encode(data).decode("ascii")


def _decode_secret(text: Any) -> Optional[bytes]:
    if not isinstance(text, str) or len(text) != 43:
        return None
    try:
        raw = b64url_decode(text)  # canonical only: one spelling per secret
    except ValueError:
        return None
    return raw if len(raw) == SECRET_BYTES else None


def _mask(secret: bytes) -> str:
    pad = secrets.token_bytes(SECRET_BYTES)
    return _b64(pad + _xor(pad, secret))


def _unmask(token: Any) -> Optional[bytes]:
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    try:
        raw = b64url_decode(token)
    except ValueError:
        return None
    if len(raw) != 2 * SECRET_BYTES:
        return None
    return _xor(raw[:SECRET_BYTES], raw[SECRET_BYTES:])


def _origin_of(scheme: str, netloc: str) -> str:
    """A serialised origin with the scheme's default port removed, lower-cased."""
    scheme, netloc = scheme.lower(), netloc.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return scheme + "://" + netloc


def _check_origin_setting(origin: str) -> str:
    if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
        raise ValueError("trusted origins are scheme://host[:port] with no path, got %r" % (origin,))
    parts = urlsplit(origin)
    return _origin_of(parts.scheme, parts.netloc)


class _CSRFState:
    """The CSRF secret of one request, loaded or made on first use."""

    __slots__ = ("middleware", "request", "in_session", "secret", "loaded", "issued")

    def __init__(self, middleware: "CSRFProtection", request: Any) -> None:
        self.middleware = middleware
        self.request = request
        # Decided once, on the way in: SessionMiddleware must wrap this middleware.
        self.in_session = isinstance(request.session, dict)
        self.secret = None  # type: Optional[bytes]
        self.loaded = False
        self.issued = False

    def load(self) -> Optional[bytes]:
        if not self.loaded:
            self.loaded = True
            if self.in_session:
                self.secret = _decode_secret(self.request.session.get(SESSION_KEY))
            else:
                self.secret = self.middleware._read_cookie(self.request.cookies.get(self.middleware.cookie_name))
        return self.secret

    def token(self) -> str:
        secret = self.load()
        if secret is None:
            secret = self.secret = secrets.token_bytes(SECRET_BYTES)
            self.issued = True
            if self.in_session:
                session = self.request.session
                if isinstance(session, dict):
                    session[SESSION_KEY] = _b64(secret)
        return _mask(secret)


def csrf_token(request: Any) -> str:
    """A masked CSRF token for ``request`` (different on every call, all valid).

    Put it in forms as the ``csrf_token`` field or send it back in ``X-CSRF-Token``.
    ``RuntimeError`` when ``CSRFProtection`` (``CSRFMiddleware``) is not installed.

    Example::

        engine.add_global("csrf_token", csrf_token)   # {{ csrf_token(request) }} in templates
    """
    state = request.state.__dict__.get(_STATE_KEY)
    if state is None:
        raise RuntimeError("csrf_token() needs CSRFProtection: app.add_middleware(CSRFProtection(secret_key=...))")
    return state.token()


_F = TypeVar("_F", bound=Callable[..., Any])
# PERF: until some handler is marked @csrf_exempt, the middleware skips the route lookup.
_exempt_marked = False


def csrf_exempt(fn: _F) -> _F:
    """Decorator: ``CSRFProtection`` lets requests to this handler through without a token.

    For routes that take no cookie-borne credentials, such as a bearer-token API or a
    webhook that checks its own signature, under a site whose forms are protected.
    Above or below the route decorator, and with other handler decorators, alike.

    Example::

        @app.post("/api/items")
        @csrf_exempt
        @jwt_auth.require_token
        async def create_item(request): ...
    """
    global _exempt_marked
    if not callable(fn):
        raise TypeError("csrf_exempt decorates route handlers, got %r" % (fn,))
    try:
        setattr(fn, _EXEMPT_ATTR, True)
    except AttributeError:
        raise TypeError("csrf_exempt needs a function (it marks it), got %r" % (fn,)) from None
    _exempt_marked = True
    return fn


def _exempt_handler(request: Any) -> bool:
    if not _exempt_marked:
        return False
    try:
        endpoint = route_endpoint(request)
    except Exception:
        # A path the router refuses (bad escapes...): no handler to exempt, so the
        # check runs (fail closed) and the app answers the path after us.
        return False
    return getattr(endpoint, _EXEMPT_ATTR, False) is True


class CSRFProtection:
    """Refuse unsafe requests (POST, PUT, PATCH, DELETE...) without a valid CSRF token: 403.

    ``CSRFMiddleware`` is the same class.

    :param secret_key: signs the CSRF cookie (str/bytes, or a list for rotation).
    :param safe_methods: methods that need no token.
    :param exempt_paths: paths never checked: exact strings, ``"/prefix/*"``, or compiled regexes
        (``@csrf_exempt`` exempts one handler instead). They are matched on the segments the
        router matches, ``*`` standing for whole segments: ``/webhooks%2Fx/delete`` is not under
        ``/webhooks/*`` (see ``covet.security._paths.PathPatterns``).
    :param header_name: the header carrying the token (JavaScript clients).
    :param field_name: the form field carrying the token (HTML forms).
    :param cookie_name: the cookie holding the signed secret when there is no session.
    :param cookie_max_age: that cookie's lifetime in seconds (None: until the browser closes).
    :param https_only: mark the cookie ``Secure``.
    :param same_site: the cookie's SameSite.
    :param trusted_origins: other origins (``https://app.example.com``) allowed to post over HTTPS.

    Example::

        csrf = CSRFProtection(secret_key=secret, safe_methods=["GET", "HEAD", "OPTIONS"],
                              exempt_paths=["/api/webhook", "/webhooks/*"])
        app.add_middleware(csrf)
    """

    def __init__(self, secret_key: Any, safe_methods: Iterable[str] = DEFAULT_SAFE_METHODS,
                 exempt_paths: Iterable[Union[str, Pattern[str]]] = (), header_name: str = "X-CSRF-Token",
                 field_name: str = "csrf_token", cookie_name: str = "csrftoken",
                 cookie_max_age: Optional[int] = DEFAULT_COOKIE_MAX_AGE, cookie_path: str = "/",
                 cookie_domain: Optional[str] = None, https_only: bool = False, same_site: str = "lax",
                 trusted_origins: Iterable[str] = ()) -> None:
        self.signer = Signer(secret_key, b"covet.csrf")
        if isinstance(safe_methods, str):
            raise TypeError("safe_methods must be a collection of method names")
        self.safe_methods = frozenset(m.upper() for m in safe_methods)
        self.is_exempt = PathPatterns([exempt_paths] if isinstance(exempt_paths, str) else exempt_paths,
                                      "exempt paths")
        if not isinstance(header_name, str) or not header_name or not isinstance(field_name, str) or not field_name:
            raise TypeError("header_name and field_name must be non-empty strings")
        self.header_name = header_name
        self.field_name = field_name
        self.same_site = check_cookie_options(cookie_name, same_site, https_only, cookie_path, cookie_domain)
        if cookie_max_age is not None and (isinstance(cookie_max_age, bool) or not isinstance(cookie_max_age, int)
                                           or cookie_max_age <= 0):
            raise ValueError("cookie_max_age must be a positive number of seconds or None")
        self.cookie_name = cookie_name
        self.cookie_max_age = cookie_max_age
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.https_only = bool(https_only)
        self.trusted_origins = frozenset(
            _check_origin_setting(o) for o in ([trusted_origins] if isinstance(trusted_origins, str) else trusted_origins))

    def _read_cookie(self, raw: Optional[str]) -> Optional[bytes]:
        if raw is None or len(raw) > 256:
            return None
        found = self.signer.unsign(raw)
        return _decode_secret(found[0]) if found is not None else None

    async def __call__(self, request: Any, call_next: Any) -> Any:
        state = _CSRFState(self, request)
        request.state.__dict__[_STATE_KEY] = state
        if (request.method not in self.safe_methods and not self.is_exempt(request.raw_path)
                and not _exempt_handler(request)):
            try:
                problem = await self._refusal(request, state)
            except HTTPException as exc:  # an unreadable form body: its own 4xx
                return problem_response(request, exc.status_code, exc.detail, exc.headers)
            if problem is not None:
                return problem_response(request, 403, problem + _HOW_TO_EXEMPT)
        response = await call_next(request)
        if state.issued and not state.in_session:
            response.set_cookie(self.cookie_name, self.signer.sign(_b64(state.secret)),
                                max_age=self.cookie_max_age, path=self.cookie_path, domain=self.cookie_domain,
                                secure=self.https_only, httponly=True, samesite=self.same_site)
        return response

    async def _refusal(self, request: Any, state: _CSRFState) -> Optional[str]:
        """Why the request is refused, or None when it carries a valid token."""
        if request.scheme == "https":
            problem = self._origin_problem(request)
            if problem is not None:
                return problem
        secret = state.load()
        if secret is None:
            return ("CSRF check failed: the session has no CSRF token" if state.in_session
                    else "CSRF check failed: the CSRF cookie is missing or invalid")
        token = request.headers.get(self.header_name)
        if token is None and request.content_type in _FORM_TYPES:
            value = (await request.form()).get(self.field_name)
            token = value if isinstance(value, str) else None
        if not token:
            return "CSRF check failed: no token in the %s header or the %s form field" % (
                self.header_name, self.field_name)
        submitted = _unmask(token)
        if submitted is None or not hmac.compare_digest(submitted, secret):
            return "CSRF check failed: the token is invalid"
        return None

    def _origin_problem(self, request: Any) -> Optional[str]:
        # Over HTTPS a browser always sends Origin on unsafe requests, or at least a
        # Referer; a page on another site cannot make them name this host (OWASP CSRF
        # cheat sheet, "verifying origin with standard headers"; Django does the same).
        host = request.headers.get("host")
        if not host:
            return "CSRF check failed: no Host header"
        expected = _origin_of("https", host)
        origin = request.headers.get("origin")
        if origin is not None:
            if origin == "null" or not _ORIGIN.fullmatch(origin):
                return "CSRF check failed: the Origin header is not this site"
            parts = urlsplit(origin)
            seen = _origin_of(parts.scheme, parts.netloc)
            if seen != expected and seen not in self.trusted_origins:
                return "CSRF check failed: the Origin header is not this site"
            return None
        referer = request.headers.get("referer")
        if not referer:
            return "CSRF check failed: an HTTPS request needs an Origin or Referer header"
        try:
            parts = urlsplit(referer)
        except ValueError:
            return "CSRF check failed: the Referer header is not this site"
        if parts.scheme.lower() != "https":
            return "CSRF check failed: the Referer is not an HTTPS page"
        seen = _origin_of("https", parts.netloc)
        if seen != expected and seen not in self.trusted_origins:
            return "CSRF check failed: the Referer header is not this site"
        return None

    def __repr__(self) -> str:
        return "<CSRFProtection header=%s field=%s>" % (self.header_name, self.field_name)


CSRFMiddleware = CSRFProtection
