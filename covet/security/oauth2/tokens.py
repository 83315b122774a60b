"""Access tokens as JWTs (RFC 9068), and the random values behind codes, refresh tokens and grants.

An access token is a covet JWT (HS256 by default) with the RFC 9068 §2.2 claims ``iss``, ``exp``,
``aud``, ``sub``, ``client_id``, ``iat``, ``jti`` and ``scope``, and the header ``typ: at+jwt``
(RFC 9068 §2.1, so that it cannot be confused with an ID token or another JWT). It carries no
``typ`` *claim*, so ``covet.security.jwt_auth.JWTAuth`` with the same key, issuer and audience
accepts it as an access token.

Codes, refresh tokens and grant ids are 256-bit random base64url strings (RFC 6749 §10.10,
RFC 6819 §5.1.4.2.2).

Example::

    issuer = AccessTokens(secret, lifetime=600)
    token, claims = issuer.mint("https://auth.example", "https://api.example", "42", "app", "read", now)
    issuer.verify(token, "https://auth.example", "https://api.example", now)
"""
import secrets
from typing import Any, Dict, Tuple

from ..jwt import JWT, ExpiredSignatureError, InvalidClaimError

__all__ = ["AccessTokens", "new_secret", "AT_JWT"]

#: RFC 9068 §2.1: the ``typ`` header of a JWT access token.
AT_JWT = "at+jwt"
_HEADERS = {"typ": AT_JWT}


def new_secret() -> str:
    """32 random bytes, base64url: a code, a refresh token, a jti or a grant id.

    Example::

        new_secret()   # 'q0Yk9m1...' (43 characters)
    """
    return secrets.token_urlsafe(32)


class AccessTokens:
    """Mint and verify JWT access tokens with the server's key.

    :param key: the signing key (str or bytes; a dict ``kid -> key`` with ``kid`` for rotation).
    :param lifetime: seconds an access token lives.
    :param algorithm: "HS256", "HS384" or "HS512".
    :param kid: the key id new tokens are signed with, when ``key`` is a dict.
    """

    def __init__(self, key: Any, lifetime: float, algorithm: str = "HS256", kid: Any = None) -> None:
        self.jwt = JWT(key, algorithm, kid=kid)
        self.lifetime = lifetime

    def mint(self, issuer: str, audience: str, subject: str, client_id: str, scope: str, now: float,
             grant_id: str) -> Tuple[str, Dict[str, Any]]:
        """A new access token and its claims. ``now`` is the server's clock (injectable).

        The grant id is not a claim: it is kept in storage under the ``jti``, so that a token's
        grant can be revoked without the token telling anyone which grant it belongs to.
        """
        iat = int(now)
        claims = {
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "client_id": client_id,
            "scope": scope,
            "iat": iat,
            "exp": iat + int(self.lifetime),
            "jti": new_secret(),
        }
        return self.jwt.encode(claims, headers=_HEADERS), claims

    def verify(self, token: str, issuer: str, audience: str, now: float) -> Dict[str, Any]:
        """The claims of a valid token; an ``InvalidTokenError`` subclass otherwise.

        Signature, algorithm, ``iss`` and ``aud`` are checked by covet's JWT; expiry is checked
        here against ``now`` (the server's clock, so tests need not wait), and the RFC 9068 claims
        must be present with the right types.
        """
        claims = self.jwt.decode(token, audience=audience, issuer=issuer, verify_exp=False,
                                 required=("exp", "jti", "sub", "client_id", "iat"))
        exp = claims["exp"]
        if type(exp) not in (int, float) or exp <= now:
            raise ExpiredSignatureError("token has expired")
        if type(claims["client_id"]) is not str or type(claims.get("scope", "")) is not str:
            raise InvalidClaimError("client_id and scope claims must be strings")
        return claims
