"""OAuth 2.0 errors: the RFC 6749 error codes, and the one exception that carries them.

An :class:`OAuth2Error` is answered where the RFC puts it: as JSON from the token, revocation
and introspection endpoints (RFC 6749 §5.2), as a redirect to a *registered* redirect URI from
the authorization endpoint (§4.1.2.1), or as an error page when the client or the redirect URI
cannot be trusted (§4.1.2.1, first paragraph: never redirect to an unchecked URI).

Example::

    raise OAuth2Error(INVALID_GRANT, "the authorization code has expired")
"""
from typing import Dict, Optional

__all__ = [
    "OAuth2Error", "INVALID_REQUEST", "INVALID_CLIENT", "INVALID_GRANT", "UNAUTHORIZED_CLIENT",
    "UNSUPPORTED_GRANT_TYPE", "INVALID_SCOPE", "ACCESS_DENIED", "UNSUPPORTED_RESPONSE_TYPE", "SERVER_ERROR",
    "UNSUPPORTED_TOKEN_TYPE", "INVALID_TOKEN", "INSUFFICIENT_SCOPE",
]

# RFC 6749 §4.1.2.1 and §5.2.
INVALID_REQUEST = "invalid_request"
INVALID_CLIENT = "invalid_client"
INVALID_GRANT = "invalid_grant"
UNAUTHORIZED_CLIENT = "unauthorized_client"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
INVALID_SCOPE = "invalid_scope"
ACCESS_DENIED = "access_denied"
UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
SERVER_ERROR = "server_error"
# RFC 7009 §2.2.1.
UNSUPPORTED_TOKEN_TYPE = "unsupported_token_type"
# RFC 6750 §3.1.
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"


class OAuth2Error(Exception):
    """An OAuth error code, a human-readable description, and the HTTP status it is answered with.

    The description is ASCII without ``"`` or ``\\`` (RFC 6749 §5.2: error_description is
    %x20-21 / %x23-5B / %x5D-7E) and never contains a value taken from the request, so it is
    safe to echo and to log.

    Example::

        OAuth2Error(INVALID_CLIENT, "client authentication failed", 401, {"WWW-Authenticate": "Basic"})
    """

    def __init__(self, error: str, description: Optional[str] = None, status_code: int = 400,
                 headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(description or error)
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers = headers or {}

    def to_dict(self) -> Dict[str, str]:
        """The RFC 6749 §5.2 body: ``{"error": ..., "error_description": ...}``."""
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body

    def __repr__(self) -> str:
        return "OAuth2Error(%r, %r, %d)" % (self.error, self.description, self.status_code)
