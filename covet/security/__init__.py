"""Security helpers on the standard library alone: HMAC JWTs, password hashing, signing,
bearer authentication and RBAC, credentials as dependencies (API keys, HTTP Basic and Bearer,
OAuth2 bearer tokens, each declaring its OpenAPI scheme), sessions, CSRF, CORS, security headers and trusted hosts, rate
limiting and flood protection, input validation and HTML sanitising.

JWT and password names are imported at once (they need only hashlib, hmac and json); the
HTTP-facing pieces load on first use (PEP 562), so ``from covet.security import JWT`` does
not import the request and response machinery.
"""
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    # What type checkers and editors see of the lazy names below (at run time they load on first
    # access): without this, ``from covet.security import JWTAuth`` would reach them as Any.
    from covet.security.cors import CORSMiddleware as CORSMiddleware
    from covet.security.csrf import (
        CSRFMiddleware as CSRFMiddleware, CSRFProtection as CSRFProtection, csrf_exempt as csrf_exempt,
        csrf_token as csrf_token,
    )
    from covet.security.headers import SecurityHeadersMiddleware as SecurityHeadersMiddleware
    from covet.security.hosts import TrustedHostMiddleware as TrustedHostMiddleware
    from covet.security.jwt_auth import InvalidTokenTypeError as InvalidTokenTypeError, JWTAuth as JWTAuth
    from covet.security.oauth2 import OAuth2Server as OAuth2Server
    from covet.security.protection import (
        InputValidator as InputValidator, SQLInjectionProtector as SQLInjectionProtector, XSSProtector as XSSProtector,
    )
    from covet.security.rate_limiting import (
        DDoSProtector as DDoSProtector, RateLimiter as RateLimiter, RateLimitMiddleware as RateLimitMiddleware,
    )
    from covet.security.rbac import RBAC as RBAC, RoleBasedAccessControl as RoleBasedAccessControl
    from covet.security.sessions import Session as Session, SessionMiddleware as SessionMiddleware
    from covet.security.schemes import (
        APIKeyCookie as APIKeyCookie, APIKeyHeader as APIKeyHeader, APIKeyQuery as APIKeyQuery,
        HTTPBasic as HTTPBasic, HTTPBasicCredentials as HTTPBasicCredentials, HTTPBearer as HTTPBearer,
        OAuth2AuthorizationCodeBearer as OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer as OAuth2PasswordBearer,
    )
    from covet.security.settings import SecurityConfig as SecurityConfig
    from covet.security.signing import (
        Signer as Signer, b64url_decode as b64url_decode, b64url_encode as b64url_encode, derive_key as derive_key,
    )

# public name -> submodule that defines it, imported on first access
_LAZY = {
    "JWTAuth": "jwt_auth", "InvalidTokenTypeError": "jwt_auth",
    "RBAC": "rbac", "RoleBasedAccessControl": "rbac",
    "Signer": "signing", "derive_key": "signing", "b64url_encode": "signing", "b64url_decode": "signing",
    "CORSMiddleware": "cors",
    "CSRFProtection": "csrf", "CSRFMiddleware": "csrf", "csrf_exempt": "csrf", "csrf_token": "csrf",
    "SecurityHeadersMiddleware": "headers", "SecurityConfig": "settings",
    "TrustedHostMiddleware": "hosts",
    "Session": "sessions", "SessionMiddleware": "sessions",
    "RateLimiter": "rate_limiting", "RateLimitMiddleware": "rate_limiting", "DDoSProtector": "rate_limiting",
    "InputValidator": "protection", "SQLInjectionProtector": "protection", "XSSProtector": "protection",
    "OAuth2Server": "oauth2",
    "APIKeyHeader": "schemes",
    "APIKeyQuery": "schemes",
    "APIKeyCookie": "schemes",
    "HTTPBearer": "schemes",
    "HTTPBasic": "schemes",
    "HTTPBasicCredentials": "schemes",
    "OAuth2PasswordBearer": "schemes",
    "OAuth2AuthorizationCodeBearer": "schemes",
}

__all__ = [
    "APIKeyHeader",
    "APIKeyQuery",
    "APIKeyCookie",
    "HTTPBearer",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "OAuth2PasswordBearer",
    "OAuth2AuthorizationCodeBearer",
    "CORSMiddleware",
    "CSRFMiddleware",
    "CSRFProtection",
    "DDoSProtector",
    "InputValidator",
    "InvalidTokenTypeError",
    "JWT",
    "JWTAuth",
    "OAuth2Server",
    "RBAC",
    "RoleBasedAccessControl",
    "RateLimiter",
    "RateLimitMiddleware",
    "SecurityConfig",
    "SQLInjectionProtector",
    "SecurityHeadersMiddleware",
    "Session",
    "SessionMiddleware",
    "Signer",
    "TrustedHostMiddleware",
    "XSSProtector",
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
