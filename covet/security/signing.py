"""Signing on the standard library: one base64url, one key derivation and one ``Signer``.

Sessions, CSRF and JWT all encode with :func:`b64url_encode` and decode with
:func:`b64url_decode`; sessions and CSRF sign with :class:`Signer`, whose key
:func:`derive_key` derives from the application's secret and a purpose, so a value
signed for one use never verifies for another. JWT keeps the raw key, as RFC 7518
§3.2 prescribes for HS256/384/512, and shares the base64url and the key checks.

Example::

    signer = Signer([new_secret, old_secret], b"myapp.invite")
    value = signer.sign(b64url_encode(b"user 42").decode("ascii"))
    payload, timestamp, key_index = signer.unsign(value)
"""
import binascii
import hashlib
import hmac
import re
import time
import warnings
from typing import Any, Optional, Tuple, Union

__all__ = ["Signer", "derive_key", "key_bytes", "b64url_encode", "b64url_decode", "b64url_decode_alphabet_checked",
           "B64URL_ALPHABET", "MIN_KEY_BYTES"]

# HMAC-SHA256 keys shorter than the hash output weaken it (RFC 2104 §3).
MIN_KEY_BYTES = 32

# --- base64url (RFC 4648 §5: URL-safe alphabet; RFC 7515 §2: trailing '=' omitted) ----------

B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
# A text of length 4k+2 or 4k+3 ends in a character whose low 4 or 2 bits are padding; the
# canonical encoding leaves them zero (RFC 4648 §3.5), so two spellings of one value
# cannot both pass.
_CANONICAL_LAST = (
    b"",
    b"",
    bytes(c for i, c in enumerate(B64URL_ALPHABET) if i & 0x0F == 0),
    bytes(c for i, c in enumerate(B64URL_ALPHABET) if i & 0x03 == 0),
)


def b64url_encode(data: bytes) -> bytes:
    """base64url without padding, as ASCII bytes.

    Example::

        b64url_encode(b"\\xfb\\xff")   # b"-_8"
    """
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL).rstrip(b"=")


def b64url_decode(data: Union[str, bytes]) -> bytes:
    """The bytes of an unpadded, canonical base64url text; ``ValueError`` for anything else.

    Refused: characters outside ``A-Z a-z 0-9 - _`` (padding ``=``, ``+``, ``/`` and
    whitespace included), a length of 4k+1, and a last character with padding bits set.

    Example::

        b64url_decode("-_8")   # b"\\xfb\\xff"
    """
    if type(data) is not bytes:
        # UnicodeEncodeError is a ValueError; bytearray and memoryview become bytes.
        data = data.encode("ascii") if isinstance(data, str) else bytes(data)
    # binascii alone would skip characters outside the alphabet without a word.
    if data.translate(None, B64URL_ALPHABET):
        raise ValueError("not base64url: a character outside A-Z a-z 0-9 - _")
    return b64url_decode_alphabet_checked(data)


def b64url_decode_alphabet_checked(data: bytes) -> bytes:
    """``b64url_decode`` for bytes whose alphabet the caller has already checked (a JWT checks its
    whole token at once): the length and the padding bits are still checked here.

    PERF: the JWT decoder would otherwise scan each segment's alphabet a second time.
    """
    rem = len(data) & 3
    if rem:
        if rem == 1 or data[-1] not in _CANONICAL_LAST[rem]:
            raise ValueError("not canonical base64url")
        data += _PADDING[rem]
    return binascii.a2b_base64(data.translate(_URL_TO_STD))


# --- keys ---------------------------------------------------------------------------------

def key_bytes(secret: Union[str, bytes], what: str = "secret key") -> bytes:
    """``secret`` as bytes (a str is UTF-8, a ``Secret`` is revealed); ``TypeError`` or ``ValueError``
    when it is not a usable key.

    Example::

        key_bytes("s3cret")   # b"s3cret"
    """
    reveal = getattr(secret, "get_secret_value", None)
    if callable(reveal):  # covet.config.Secret (and pydantic's SecretStr): config.SECRET_KEY as it is
        secret = reveal()
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, (bytes, bytearray)):
        raise TypeError("a %s must be str or bytes" % what)
    if not secret:
        raise ValueError("a %s must not be empty" % what)
    return bytes(secret)


def _derive(secret: Union[str, bytes], purpose: bytes, stacklevel: int) -> bytes:
    secret = key_bytes(secret)
    if len(secret) < MIN_KEY_BYTES:
        warnings.warn("secret key is %d bytes; use at least %d (secrets.token_bytes(32))"
                      % (len(secret), MIN_KEY_BYTES), UserWarning, stacklevel=stacklevel)
    # One secret may serve sessions, CSRF and JWT: each derives its own key, so a value
    # signed for one purpose never verifies for another.
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def derive_key(secret: Union[str, bytes], purpose: bytes) -> bytes:
    """``HMAC-SHA256(secret, purpose)``: the 32-byte key for one use of an application secret.

    A secret shorter than ``MIN_KEY_BYTES`` gives a ``UserWarning``.

    Example::

        derive_key(secret, b"covet.session")   # the key sessions sign with
    """
    return _derive(secret, purpose, 3)


# --- the signer -------------------------------------------------------------------------

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_SIG_LEN = 43  # base64url of 32 bytes, unpadded


class Signer:
    """HMAC-SHA256 signatures with a timestamp, over several keys for rotation.

    ``secret_key`` is one secret or a list: the first signs, every one verifies.
    ``purpose`` separates uses of the same secret (each key is ``derive_key(secret, purpose)``).
    A signed value is ``payload.timestamp.signature``, the signature being the base64url
    HMAC-SHA256 of ``payload.timestamp``.

    Example::

        signer = Signer([new_secret, old_secret], b"covet.session")
        value = signer.sign("payload")
        signer.unsign(value)   # ("payload", timestamp, 0) -- 0: signed by the first key
    """

    __slots__ = ("_keys",)

    def __init__(self, secret_key: Any, purpose: bytes) -> None:
        secrets_ = list(secret_key) if isinstance(secret_key, (list, tuple)) else [secret_key]
        if not secrets_:
            raise ValueError("secret_key list is empty")
        keys = []
        for secret in secrets_:
            # stacklevel 4: the short-key warning names the code that built the middleware
            # (a loop, not a comprehension, which is a frame of its own before Python 3.12).
            keys.append(hmac.new(_derive(secret, purpose, 4), digestmod=hashlib.sha256))
        self._keys = keys

    def _mac(self, index: int, message: bytes) -> bytes:
        mac = self._keys[index].copy()
        mac.update(message)
        return b64url_encode(mac.digest())

    def sign(self, payload: str, timestamp: Optional[int] = None) -> str:
        """``payload.timestamp.signature`` (``payload`` must be cookie-safe ASCII text)."""
        message = "%s.%d" % (payload, int(time.time()) if timestamp is None else timestamp)
        return message + "." + self._mac(0, message.encode("ascii")).decode("ascii")

    def unsign(self, value: str) -> Optional[Tuple[str, int, int]]:
        """``(payload, timestamp, key index)`` when a key signed ``value``, else None (never raises)."""
        if not isinstance(value, str):
            return None
        message, dot, signature = value.rpartition(".")
        if not dot or len(signature) != _SIG_LEN:
            return None
        payload, dot, stamp = message.rpartition(".")
        if not dot or not _TIMESTAMP.fullmatch(stamp):
            return None
        try:
            raw = message.encode("ascii")
            sig = signature.encode("ascii")
        except UnicodeEncodeError:
            return None
        for index in range(len(self._keys)):
            if hmac.compare_digest(self._mac(index, raw), sig):
                return payload, int(stamp), index
        return None

    def __repr__(self) -> str:
        return "<Signer %d key%s>" % (len(self._keys), "" if len(self._keys) == 1 else "s")
