"""PKCE (RFC 7636) with the S256 method only.

``plain`` is refused: RFC 9700 §2.1.1 recommends S256, and with ``plain`` a code_challenge seen
in the authorization request (browser history, logs, a proxy) is the verifier itself. A missing
code_challenge is refused for every client, confidential ones included (OAuth 2.1 §4.1.1;
RFC 9700 §2.1.1 on code injection).

Example::

    verifier = make_verifier()
    challenge = s256_challenge(verifier)        # sent as code_challenge, code_challenge_method=S256
    assert verify(verifier, challenge)
"""
import hashlib
import hmac
import re
import secrets

from ..signing import b64url_encode

__all__ = ["S256", "VERIFIER", "CHALLENGE", "make_verifier", "s256_challenge", "verify"]

S256 = "S256"

# RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# RFC 7636 §4.2: S256 challenge = BASE64URL(SHA256(verifier)): exactly 43 characters of base64url,
# the last one of which carries two zero padding bits (RFC 4648 §3.5).
CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{42}[AEIMQUYcgkosw048]")


def make_verifier() -> str:
    """A fresh code_verifier: 32 random bytes, base64url (43 characters; RFC 7636 §4.1).

    Example::

        make_verifier()   # 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
    """
    return secrets.token_urlsafe(32)


def s256_challenge(verifier: str) -> str:
    """The S256 code_challenge of ``verifier``: BASE64URL(SHA256(ASCII(verifier))).

    Example::

        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        # 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'   (RFC 7636 Appendix B)
    """
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode("ascii")


def verify(verifier: object, challenge: str) -> bool:
    """Whether ``verifier`` is a well-formed code_verifier whose S256 challenge is ``challenge``.

    Compared in constant time (the challenge is not secret, but the comparison costs nothing).
    """
    if not isinstance(verifier, str) or not VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)
