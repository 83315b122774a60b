"""``SecurityConfig``: the security middleware of an app, named in one object.

The API reference gives ``CovetApp`` a ``security_config`` argument. ``CovetApp(security_config=
SecurityConfig(...))`` installs, in a sound order, the middleware the object names: trusted hosts,
security headers (HSTS), CORS, rate limiting, sessions and CSRF. What is not named is not
installed, and each piece takes the same options as its own class. Nothing is switched on behind
the user's back: CSRF protection refuses every unsafe request without a token, so it is on only
when ``csrf=True`` says so (an API that takes bearer tokens lists its paths in
``csrf_exempt_paths``).

Example::

    security = SecurityConfig(secret_key=config.SECRET_KEY, allowed_hosts=["shop.example.com"],
                              cors_origins=["https://shop.example.com"], hsts=True,
                              sessions=True, csrf=True, rate_limit="100/minute")
    app = CovetApp(security_config=security)
"""
from typing import Any, Iterable, List, Optional, Sequence

from .cors import CORSMiddleware
from .csrf import CSRFProtection
from .headers import SecurityHeadersMiddleware
from .hosts import TrustedHostMiddleware
from .rate_limiting import RateLimiter, RateLimitMiddleware
from .sessions import SessionMiddleware

__all__ = ["SecurityConfig"]


class SecurityConfig:
    """The security middleware an app gets from ``CovetApp(security_config=...)``.

    :param secret_key: signs the session and CSRF cookies (str, bytes, a ``covet.config.Secret``, or
        a list for rotation); required by ``sessions`` and ``csrf``.
    :param allowed_hosts: ``TrustedHostMiddleware`` with these Host patterns (None: not installed).
    :param security_headers: ``SecurityHeadersMiddleware`` with its defaults (nosniff, DENY frames...).
    :param hsts: its Strict-Transport-Security: True for the default policy, or the header's value.
    :param content_security_policy: its Content-Security-Policy.
    :param cors_origins: ``CORSMiddleware`` for these origins (None: not installed), with
        ``cors_methods``, ``cors_headers``, ``cors_credentials`` and ``cors_max_age``.
    :param rate_limit: ``RateLimitMiddleware`` with ``RateLimiter(rate_limit, storage=rate_limit_storage)``
        (``"100/minute"``; None: not installed).
    :param sessions: ``SessionMiddleware`` (signed cookie sessions).
    :param csrf: ``CSRFProtection``, with ``csrf_exempt_paths``.
    :param secure_cookies: the session and CSRF cookies are ``Secure`` (sent over HTTPS only).

    Example::

        app = CovetApp(security_config=SecurityConfig(cors_origins=["https://myapp.com"], hsts=True))
    """

    def __init__(self, secret_key: Any = None, *, allowed_hosts: Optional[Iterable[str]] = None,
                 security_headers: bool = True, hsts: Any = None, content_security_policy: Any = None,
                 cors_origins: Optional[Iterable[str]] = None, cors_methods: Sequence[str] = ("GET", "POST", "PUT",
                                                                                                 "PATCH", "DELETE"),
                 cors_headers: Sequence[str] = ("Content-Type", "Authorization"), cors_credentials: bool = False,
                 cors_max_age: int = 600, rate_limit: Optional[str] = None,
                 rate_limit_storage: Optional[str] = None, sessions: bool = False, csrf: bool = False,
                 csrf_exempt_paths: Iterable[str] = (), secure_cookies: bool = True) -> None:
        if (sessions or csrf) and not secret_key:
            raise ValueError("SecurityConfig: sessions and csrf sign cookies and need secret_key")
        self.secret_key = secret_key
        # Each middleware is made now: a bad option is an error at start-up, not at the first request.
        self.middleware: List[Any] = []
        if allowed_hosts is not None:
            self.middleware.append(TrustedHostMiddleware(list(allowed_hosts)))
        if security_headers:
            self.middleware.append(SecurityHeadersMiddleware(hsts=hsts, content_security_policy=content_security_policy))
        elif hsts or content_security_policy:
            raise ValueError("SecurityConfig: hsts and content_security_policy are security headers: "
                             "leave security_headers=True")
        if cors_origins is not None:
            self.middleware.append(CORSMiddleware(allow_origins=list(cors_origins), allow_methods=list(cors_methods),
                                                  allow_headers=list(cors_headers), allow_credentials=cors_credentials,
                                                  max_age=cors_max_age))
        if rate_limit is not None:
            self.middleware.append(RateLimitMiddleware(RateLimiter(rate_limit, storage=rate_limit_storage)))
        if sessions:
            self.middleware.append(SessionMiddleware(secret_key, https_only=secure_cookies))
        if csrf:
            self.middleware.append(CSRFProtection(secret_key=secret_key, exempt_paths=list(csrf_exempt_paths),
                                                  https_only=secure_cookies))

    def configure_app(self, app: Any) -> None:
        """Add the middleware to ``app``, outermost first (``CovetApp(security_config=...)`` calls this).

        The order: a request from a host not allowed is refused before anything else runs; headers
        go on every answer, refusals included; CORS answers preflights before they are counted
        against a rate limit; the session is loaded before CSRF looks for its token in it.
        """
        for mw in self.middleware:
            app.add_middleware(mw)

    def __repr__(self) -> str:
        return "SecurityConfig(%s)" % ", ".join(type(mw).__name__ for mw in self.middleware)
