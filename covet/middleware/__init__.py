"""Middleware, one module each: gzip, request ids, timing; and the security middleware re-exported.

``from covet.middleware import GZipMiddleware, CORSMiddleware, ...`` finds them all. Every name
loads on first use (PEP 562), so importing this package costs nothing until a middleware is used:
an app with CORS only never imports zlib, and one with gzip only never imports the security
package.

Example::

    from covet.middleware import CORSMiddleware, GZipMiddleware, RequestIDMiddleware

    app.add_middleware(RequestIDMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])
    app.add_middleware(GZipMiddleware)
"""
from typing import TYPE_CHECKING

from covet._lazy import lazy_exports

if TYPE_CHECKING:
    from covet.middleware.gzip import GZipMiddleware as GZipMiddleware
    from covet.middleware.request_id import RequestIDMiddleware as RequestIDMiddleware
    from covet.middleware.timing import TimingMiddleware as TimingMiddleware
    from covet.security.cors import CORSMiddleware as CORSMiddleware
    from covet.security.csrf import CSRFMiddleware as CSRFMiddleware, CSRFProtection as CSRFProtection
    from covet.security.headers import SecurityHeadersMiddleware as SecurityHeadersMiddleware
    from covet.security.hosts import TrustedHostMiddleware as TrustedHostMiddleware
    from covet.security.rate_limiting import RateLimitMiddleware as RateLimitMiddleware
    from covet.security.sessions import SessionMiddleware as SessionMiddleware

# public name -> module under covet that defines it
_EXPORTS = {
    "GZipMiddleware": "middleware.gzip",
    "RequestIDMiddleware": "middleware.request_id",
    "TimingMiddleware": "middleware.timing",
    "CORSMiddleware": "security.cors",
    "CSRFMiddleware": "security.csrf", "CSRFProtection": "security.csrf",
    "SecurityHeadersMiddleware": "security.headers",
    "TrustedHostMiddleware": "security.hosts",
    "SessionMiddleware": "security.sessions",
    "RateLimitMiddleware": "security.rate_limiting",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("covet.middleware", _EXPORTS, globals(), base="covet")
