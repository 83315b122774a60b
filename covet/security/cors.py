"""CORS (the Fetch standard's HTTP extensions): preflights answered here, headers added to the rest.

Every setting is checked and compiled at construction; a request costs a set lookup
(or one regex fullmatch) on its Origin header.

Example::

    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"],
                       allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization"],
                       allow_credentials=True)
"""
import re
from typing import Any, Iterable, Optional, Union

from ..core.problems import problem_response
from ..core.responses import Response

__all__ = ["CORSMiddleware", "SAFELISTED_METHODS", "SAFELISTED_HEADERS", "DEFAULT_MAX_AGE"]

# Fetch §2.2.2: methods a browser sends cross-origin without a preflight.
SAFELISTED_METHODS = ("GET", "HEAD", "POST")
# Fetch §2.2.2: request headers that never need permission (Starlette allows them too).
SAFELISTED_HEADERS = frozenset(("accept", "accept-language", "content-language", "content-type"))
# Seconds a browser may cache a preflight answer. Chromium caps this at 7200, Firefox at 86400.
DEFAULT_MAX_AGE = 600

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ORIGIN_SETTING = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s]+")


def _names(value: Union[str, Iterable[str]], what: str) -> list:
    if isinstance(value, str):
        return [value]
    names = list(value)
    for name in names:
        if not isinstance(name, str) or not (name == "*" or _TOKEN.fullmatch(name)):
            raise ValueError("%s must be tokens or '*', got %r" % (what, name))
    return names


class CORSMiddleware:
    """Answer CORS preflights and add ``Access-Control-*`` headers for allowed origins.

    :param allow_origins: exact origins (``https://app.example.com``), or ``"*"`` for any.
    :param allow_origin_regex: a pattern (str or compiled) an origin must fully match.
    :param allow_methods: methods allowed cross-origin, or ``"*"``.
    :param allow_headers: request headers allowed, or ``"*"``; the Fetch safelisted ones always are.
    :param allow_credentials: let browsers send cookies and read the answer; forbids ``"*"`` origins.
    :param expose_headers: response headers the page's script may read.
    :param max_age: seconds a browser may cache a preflight answer.

    Example::

        app.add_middleware(CORSMiddleware, allow_origin_regex=r"https://[a-z0-9-]+\\.example\\.com")
    """

    def __init__(self, allow_origins: Union[str, Iterable[str]] = (), allow_origin_regex: Any = None,
                 allow_methods: Union[str, Iterable[str]] = SAFELISTED_METHODS,
                 allow_headers: Union[str, Iterable[str]] = (), allow_credentials: bool = False,
                 expose_headers: Union[str, Iterable[str]] = (), max_age: Optional[int] = DEFAULT_MAX_AGE) -> None:
        origins = [allow_origins] if isinstance(allow_origins, str) else list(allow_origins)
        self.allow_all_origins = "*" in origins
        if self.allow_all_origins and allow_credentials:
            # Fetch §3.2.5: browsers refuse "*" on credentialed requests; reflecting every
            # origin instead would let any site read every user's data.
            raise ValueError("allow_origins='*' cannot be combined with allow_credentials=True; list the origins")
        exact = set()
        for origin in origins:
            if origin == "*":
                continue
            if not isinstance(origin, str):
                raise TypeError("origins must be strings, got %r" % (origin,))
            if origin != "null" and not _ORIGIN_SETTING.fullmatch(origin.lower()):
                raise ValueError("an origin is scheme://host[:port] with no path or trailing slash, got %r" % origin)
            exact.add(origin.lower())
        self.allow_origins = frozenset(exact)
        if isinstance(allow_origin_regex, str):
            allow_origin_regex = re.compile(allow_origin_regex)
        if allow_origin_regex is not None and not hasattr(allow_origin_regex, "fullmatch"):
            raise TypeError("allow_origin_regex must be a string or a compiled regex")
        self.allow_origin_regex = allow_origin_regex

        methods = _names(allow_methods, "allow_methods")
        self.allow_all_methods = "*" in methods
        self.allow_methods = frozenset(m.upper() for m in methods if m != "*")
        headers = _names(allow_headers, "allow_headers")
        self.allow_all_headers = "*" in headers
        self.allow_headers = SAFELISTED_HEADERS | {h.lower() for h in headers if h != "*"}
        self.allow_credentials = bool(allow_credentials)
        expose = [h for h in _names(expose_headers, "expose_headers") if h != "*"]
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0):
            raise ValueError("max_age must be a non-negative number of seconds or None")

        # The answer depends on the Origin header unless every origin gets the same "*".
        self.varies = not self.allow_all_origins
        # Preflight headers that do not depend on the request, encoded once.
        pre = []
        if not self.allow_all_methods:
            pre.append((b"access-control-allow-methods", ", ".join(sorted(self.allow_methods)).encode("latin-1")))
        if not self.allow_all_headers:
            pre.append((b"access-control-allow-headers", ", ".join(sorted(self.allow_headers)).encode("latin-1")))
        if max_age is not None:
            pre.append((b"access-control-max-age", str(max_age).encode("latin-1")))
        if self.allow_credentials:
            pre.append((b"access-control-allow-credentials", b"true"))
        self._preflight_headers = pre
        simple = []
        if self.allow_credentials:
            simple.append((b"access-control-allow-credentials", b"true"))
        if expose:
            simple.append((b"access-control-expose-headers", ", ".join(expose).encode("latin-1")))
        self._simple_headers = simple

    def is_allowed_origin(self, origin: str) -> bool:
        """True when ``origin`` (an Origin header value) may make cross-origin requests."""
        if self.allow_all_origins:
            return True
        if origin.lower() in self.allow_origins:
            return True
        regex = self.allow_origin_regex
        return regex is not None and regex.fullmatch(origin) is not None

    async def __call__(self, request: Any, call_next: Any) -> Any:
        origin = request.headers.get("origin")
        if (origin is not None and request.method == "OPTIONS"
                and "access-control-request-method" in request.headers):
            return self.preflight(request, origin)
        response = await call_next(request)
        raw = response.raw_headers
        if self.allow_all_origins:
            # The same "*" for every request, with or without Origin: nothing to Vary on.
            _set(raw, b"access-control-allow-origin", b"*")
            for name, value in self._simple_headers:
                _set(raw, name, value)
            return response
        if origin is not None and self.is_allowed_origin(origin):
            _set(raw, b"access-control-allow-origin", origin.encode("latin-1"))
            for name, value in self._simple_headers:
                _set(raw, name, value)
        # Also on answers without CORS headers: a cache must not hand this response to
        # a request from an allowed origin (Fetch §3.2.5 "CORS protocol and HTTP caches").
        _add_vary_origin(raw)
        return response

    def preflight(self, request: Any, origin: str) -> Any:
        """The answer to a preflight: 200 with the allowances, or 400 with no CORS headers."""
        method = request.headers.get("access-control-request-method", "").strip()
        requested = [h.strip().lower() for h in request.headers.get("access-control-request-headers", "").split(",")]
        requested = [h for h in requested if h]
        problem = None
        if not self.is_allowed_origin(origin):
            problem = "CORS preflight refused: origin not allowed"
        elif not (_TOKEN.fullmatch(method) and (self.allow_all_methods or method.upper() in self.allow_methods)):
            problem = "CORS preflight refused: method not allowed"
        elif not self.allow_all_headers and any(h not in self.allow_headers for h in requested):
            problem = "CORS preflight refused: header not allowed"
        elif self.allow_all_headers and not all(_TOKEN.fullmatch(h) for h in requested):
            problem = "CORS preflight refused: header not allowed"
        if problem is not None:
            response = problem_response(request, 400, problem)
            if self.varies:
                _add_vary_origin(response.raw_headers)
            return response
        headers = [(b"access-control-allow-origin", b"*" if self.allow_all_origins else origin.encode("latin-1"))]
        headers.extend(self._preflight_headers)
        if self.allow_all_methods:
            headers.append((b"access-control-allow-methods", method.encode("latin-1")))
        if self.allow_all_headers and requested:
            headers.append((b"access-control-allow-headers", ", ".join(requested).encode("latin-1")))
        if self.varies:
            headers.append((b"vary", b"Origin"))
        response = Response(b"", 200, media_type="text/plain")
        response.raw_headers.extend(headers)
        return response

    def __repr__(self) -> str:
        return "<CORSMiddleware origins=%s>" % ("*" if self.allow_all_origins else sorted(self.allow_origins))


def _set(raw: list, name: bytes, value: bytes) -> None:
    raw[:] = [(k, v) for k, v in raw if k != name]
    raw.append((name, value))


def _add_vary_origin(raw: list) -> None:
    first = None
    for i, (k, v) in enumerate(raw):
        if k == b"vary":
            fields = [f.strip().lower() for f in v.split(b",")]
            if b"*" in fields or b"origin" in fields:
                return
            if first is None:
                first = i
    if first is None:
        raw.append((b"vary", b"Origin"))
    else:
        raw[first] = (b"vary", raw[first][1] + b", Origin")
