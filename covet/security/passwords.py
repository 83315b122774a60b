"""Password hashing with scrypt (PBKDF2-SHA256 where OpenSSL lacks it) in PHC-style strings.

Hashes are self-describing, so the cost can rise later and old hashes still verify:
``$scrypt$ln=14,r=8,p=1$<salt>$<hash>`` and ``$pbkdf2-sha256$i=600000$<salt>$<hash>``, with
salt and hash in standard base64 without padding (the PHC string format's "B64").

Example::

    stored = hash_password("correct horse")
    if verify_password(attempt, stored) and needs_rehash(stored):
        stored = hash_password(attempt)
"""
import asyncio
import binascii
import functools
import hashlib
import hmac
import re
import secrets
from typing import Any, Optional, Tuple

from .._probes import AUTH_ATTEMPT

__all__ = [
    "hash_password",
    "verify_password",
    "needs_rehash",
    "hash_password_async",
    "verify_password_async",
]

# scrypt defaults: N = 2**14, r = 8, p = 1 is the interactive-login setting of the scrypt paper
# and of RFC 7914's examples (16 MiB, tens of milliseconds).
SCRYPT_LN = 14
SCRYPT_R = 8
SCRYPT_P = 1
# OWASP Password Storage Cheat Sheet (2023) figure for PBKDF2-HMAC-SHA256.
PBKDF2_ITERATIONS = 600000
SALT_BYTES = 16
HASH_BYTES = 32

# Ceilings on parameters read from a stored hash, so that a hostile or corrupted hash cannot make
# one verify take minutes or exhaust memory; hash_password refuses to produce anything above
# them, so every hash it makes stays verifiable.
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 128 * 1024 * 1024  # bytes (128 * r * N): 8 times the default; caps ln at 20
MAX_SCRYPT_WORK = 2 ** 22  # N * r * p: 32 times the default
MAX_PBKDF2_ITERATIONS = 5000000  # about 8 times the default
# Django capped password length after CVE-2013-1443; 4 KiB of UTF-8 is beyond any passphrase.
MAX_PASSWORD_BYTES = 4096

SCRYPT = "scrypt"
PBKDF2 = "pbkdf2-sha256"

# hashlib.scrypt exists only when Python was built against OpenSSL 1.1+ (not LibreSSL).
_scrypt = getattr(hashlib, "scrypt", None)

_B64 = r"[A-Za-z0-9+/]"
# fullmatch, ASCII digits without leading zeros, bounded lengths: the pattern cannot backtrack.
_SCRYPT_RE = re.compile(
    r"\$scrypt\$ln=([1-9][0-9]?),r=([1-9][0-9]{0,2}),p=([1-9][0-9]{0,2})"
    r"\$(%s{11,88})\$(%s{22,88})" % (_B64, _B64)
)
_PBKDF2_RE = re.compile(r"\$pbkdf2-sha256\$i=([1-9][0-9]{0,7})\$(%s{11,88})\$(%s{22,88})" % (_B64, _B64))


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    # Raises binascii.Error (a ValueError) for a length of 4k+1.
    return binascii.a2b_base64(text + "=" * (-len(text) % 4))


def _scrypt_limits_ok(ln: int, r: int, p: int) -> bool:
    # ln is bounded before the shift (1 << -1 raises, 1 << 10**9 allocates); the memory
    # ceiling is the real bound on it.
    if not (1 <= ln <= 64 and 1 <= r <= MAX_SCRYPT_R and 1 <= p <= MAX_SCRYPT_P):
        return False
    n = 1 << ln
    return 128 * r * n <= MAX_SCRYPT_MEMORY and n * r * p <= MAX_SCRYPT_WORK


def _scrypt_hash(password: bytes, salt: bytes, ln: int, r: int, p: int, dklen: int) -> bytes:
    n = 1 << ln
    # OpenSSL needs 128*r*(N+2) + 128*r*p bytes and refuses more than maxmem (32 MiB by default).
    maxmem = 128 * r * (n + 2 + p) + 65536
    return _scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


def _encode_password(password: Any) -> bytes:
    if not isinstance(password, str):
        raise TypeError("password must be a str, not %s" % type(password).__name__)
    try:
        data = password.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from os.fsdecode
        raise ValueError("password is not encodable as UTF-8") from None
    if len(data) > MAX_PASSWORD_BYTES:
        raise ValueError("password is longer than %d bytes" % MAX_PASSWORD_BYTES)
    return data


def _parse(hashed: str) -> Optional[Tuple[str, Tuple[int, ...], bytes, bytes]]:
    # -> (scheme, parameters, salt, hash) or None when malformed or beyond the ceilings.
    m = _SCRYPT_RE.fullmatch(hashed)
    try:
        if m is not None:
            params = (int(m.group(1)), int(m.group(2)), int(m.group(3)))  # type: Tuple[int, ...]
            if not _scrypt_limits_ok(*params):
                return None
            return SCRYPT, params, _b64decode(m.group(4)), _b64decode(m.group(5))
        m = _PBKDF2_RE.fullmatch(hashed)
        if m is not None:
            iterations = int(m.group(1))
            if iterations > MAX_PBKDF2_ITERATIONS:
                return None
            return PBKDF2, (iterations,), _b64decode(m.group(2)), _b64decode(m.group(3))
    except binascii.Error:
        return None
    return None


def hash_password(
    password: str,
    *,
    scheme: Optional[str] = None,
    ln: int = SCRYPT_LN,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
    iterations: int = PBKDF2_ITERATIONS,
) -> str:
    """Hash ``password`` with a fresh 16-byte salt and return the self-describing string.

    :param scheme: "scrypt" or "pbkdf2-sha256"; None picks scrypt when available.
    :param ln: log2 of scrypt's N; ``r`` and ``p`` are scrypt's block size and parallelism.
    :param iterations: PBKDF2 iteration count.
    :raises TypeError: ``password`` is not a str.
    :raises ValueError: parameters outside the verifiable range, or a password over 4096 bytes.

    Example::

        hash_password("s3cret")            # '$scrypt$ln=14,r=8,p=1$...$...'
    """
    data = _encode_password(password)
    if scheme is None:
        scheme = SCRYPT if _scrypt is not None else PBKDF2
    salt = secrets.token_bytes(SALT_BYTES)
    if scheme == SCRYPT:
        if _scrypt is None:
            raise ValueError("hashlib.scrypt is not available in this Python build")
        if not all(type(v) is int for v in (ln, r, p)) or not _scrypt_limits_ok(ln, r, p):
            raise ValueError("scrypt parameters outside the range verify_password accepts")
        digest = _scrypt_hash(data, salt, ln, r, p, HASH_BYTES)
        return "$scrypt$ln=%d,r=%d,p=%d$%s$%s" % (ln, r, p, _b64encode(salt), _b64encode(digest))
    if scheme == PBKDF2:
        if type(iterations) is not int or not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
            raise ValueError("iterations must be an int from 1 to %d" % MAX_PBKDF2_ITERATIONS)
        digest = hashlib.pbkdf2_hmac("sha256", data, salt, iterations, HASH_BYTES)
        return "$pbkdf2-sha256$i=%d$%s$%s" % (iterations, _b64encode(salt), _b64encode(digest))
    raise ValueError("scheme must be %r or %r" % (SCRYPT, PBKDF2))


def verify_password(password: str, hashed: str) -> bool:
    """Return True if ``password`` matches ``hashed``; False for a mismatch or any bad input.

    Never raises: a malformed hash, parameters beyond the ceilings, a scrypt hash where scrypt
    is unavailable, or a non-str argument all give False. The final compare is constant-time.

    Example::

        verify_password("s3cret", stored)   # True or False
    """
    ok = _verify(password, hashed)
    if AUTH_ATTEMPT.observers:  # a password checked is a login attempt (business metrics)
        AUTH_ATTEMPT.emit(ok)
    return ok


def _verify(password: str, hashed: str) -> bool:
    if not isinstance(hashed, str):
        return False
    try:
        data = _encode_password(password)
    except (TypeError, ValueError):
        return False
    parsed = _parse(hashed)
    if parsed is None:
        return False
    scheme, params, salt, expected = parsed
    if scheme == SCRYPT and _scrypt is None:
        return False
    try:
        if scheme == SCRYPT:
            actual = _scrypt_hash(data, salt, params[0], params[1], params[2], len(expected))
        else:
            actual = hashlib.pbkdf2_hmac("sha256", data, salt, params[0], len(expected))
    except (ValueError, MemoryError):  # OpenSSL refused (e.g. out of memory): still no raise
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(
    hashed: str,
    *,
    scheme: Optional[str] = None,
    ln: int = SCRYPT_LN,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
    iterations: int = PBKDF2_ITERATIONS,
) -> bool:
    """Return True when ``hashed`` is weaker than the given (default) settings or unparseable.

    It is weaker when a parameter, the salt or the hash is below the setting, or when its scheme
    is not ``scheme`` (None: scrypt when available), so PBKDF2 hashes upgrade once scrypt exists.

    Example::

        if verify_password(pw, stored) and needs_rehash(stored):
            stored = hash_password(pw)
    """
    if not isinstance(hashed, str):
        return True
    parsed = _parse(hashed)
    if parsed is None:
        return True
    kind, params, salt, digest = parsed
    if scheme is None:
        scheme = SCRYPT if _scrypt is not None else PBKDF2
    if kind != scheme or len(salt) < SALT_BYTES or len(digest) < HASH_BYTES:
        return True
    if kind == SCRYPT:
        return params[0] < ln or params[1] < r or params[2] < p
    return params[0] < iterations


async def hash_password_async(password: str, **settings: Any) -> str:
    """:func:`hash_password` in the loop's default executor, so the event loop keeps running.

    Example::

        stored = await hash_password_async(form["password"])
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(hash_password, password, **settings))


async def verify_password_async(password: str, hashed: str) -> bool:
    """:func:`verify_password` in the loop's default executor, so the event loop keeps running.

    Example::

        ok = await verify_password_async(form["password"], user.password_hash)
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, verify_password, password, hashed)
