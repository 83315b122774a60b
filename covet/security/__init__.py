"""Security helpers on the standard library alone: HMAC JWTs, password hashing, signing,
bearer authentication and RBAC, sessions, CSRF, CORS, security headers and trusted hosts.

JWT and password names are imported at once (they need only hashlib, hmac and json); the
HTTP-facing pieces load on first use (PEP 562), so ``from covet.security import JWT`` does
not import the request and response machinery.
"""
from covet._lazy import lazy_exports
from covet.security.jwt import (
    JWT,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidSubjectError,
    InvalidTokenError,
    MalformedTokenError,
    MissingRequiredClaimError,
    TokenTooLargeError,
    UnknownKeyIdError,
    UnsupportedCriticalHeaderError,
)
from covet.security.passwords import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

# public name -> submodule that defines it, imported on first access
_LAZY = {
    "JWTAuth": "jwt_auth", "InvalidTokenTypeError": "jwt_auth",
    "RBAC": "rbac", "RoleBasedAccessControl": "rbac",
    "Signer": "signing", "derive_key": "signing", "b64url_encode": "signing", "b64url_decode": "signing",
    "CORSMiddleware": "cors",
    "CSRFProtection": "csrf", "CSRFMiddleware": "csrf", "csrf_exempt": "csrf", "csrf_token": "csrf",
    "SecurityHeadersMiddleware": "headers",
    "TrustedHostMiddleware": "hosts",
    "Session": "sessions", "SessionMiddleware": "sessions",
    "RateLimiter": "rate_limiting", "RateLimitMiddleware": "rate_limiting",
}

__all__ = [
    "CORSMiddleware",
    "CSRFMiddleware",
    "CSRFProtection",
    "InvalidTokenTypeError",
    "JWT",
    "JWTAuth",
    "RBAC",
    "RoleBasedAccessControl",
    "RateLimiter",
    "RateLimitMiddleware",
    "SecurityHeadersMiddleware",
    "Session",
    "SessionMiddleware",
    "Signer",
    "TrustedHostMiddleware",
    "b64url_decode",
    "b64url_encode",
    "csrf_exempt",
    "csrf_token",
    "derive_key",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    "InvalidAlgorithmError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidIssuerError",
    "InvalidSignatureError",
    "InvalidSubjectError",
    "InvalidTokenError",
    "MalformedTokenError",
    "MissingRequiredClaimError",
    "TokenTooLargeError",
    "UnknownKeyIdError",
    "UnsupportedCriticalHeaderError",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]


__getattr__, __dir__ = lazy_exports("covet.security", _LAZY, globals())
