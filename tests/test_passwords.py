"""covet.security.passwords: format checked against hashlib directly, verify never raises and
never runs a hash whose stored parameters are absurd, needs_rehash, the PBKDF2 fallback, async.

Most tests pass a low cost (ln=4, i=1000) explicitly to stay fast; two run at the default cost.
"""
import asyncio
import base64
import hashlib
import hmac
import re
import threading

import pytest

from covet.security import passwords
from covet.security import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

SALT = bytes(range(16))


def b64(data):
    return base64.b64encode(data).decode("ascii").rstrip("=")


def unb64(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def scrypt_string(password, ln=4, r=8, p=1, salt=SALT, dklen=32):
    dk = hashlib.scrypt(password.encode(), salt=salt, n=2 ** ln, r=r, p=p, dklen=dklen)
    return "$scrypt$ln=%d,r=%d,p=%d$%s$%s" % (ln, r, p, b64(salt), b64(dk))


def pbkdf2_string(password, i=1000, salt=SALT, dklen=32):
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, i, dklen)
    return "$pbkdf2-sha256$i=%d$%s$%s" % (i, b64(salt), b64(dk))


class Spy:
    """Stands in for a hash function and records that it was called."""

    def __init__(self, result=b"\0" * 32, error=None):
        self.calls = 0
        self.result = result
        self.error = error

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


# --- format ---------------------------------------------------------------------------------


def test_scrypt_hash_format_matches_hashlib():
    hashed = hash_password("correct horse", ln=4)
    m = re.fullmatch(r"\$scrypt\$ln=4,r=8,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})", hashed)
    assert m is not None
    salt = unb64(m.group(1))
    expected = hashlib.scrypt(b"correct horse", salt=salt, n=16, r=8, p=1, dklen=32)
    assert unb64(m.group(2)) == expected


def test_pbkdf2_hash_format_matches_hashlib():
    hashed = hash_password("correct horse", scheme="pbkdf2-sha256", iterations=1000)
    m = re.fullmatch(r"\$pbkdf2-sha256\$i=1000\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})", hashed)
    assert m is not None
    expected = hashlib.pbkdf2_hmac("sha256", b"correct horse", unb64(m.group(1)), 1000, 32)
    assert unb64(m.group(2)) == expected


def test_default_cost_scrypt_round_trip():
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$scrypt$ln=14,r=8,p=1$")
    assert verify_password("correct horse battery staple", hashed) is True
    assert verify_password("correct horse battery stapler", hashed) is False
    assert needs_rehash(hashed) is False


def test_default_cost_pbkdf2_round_trip():
    hashed = hash_password("correct horse battery staple", scheme="pbkdf2-sha256")
    assert hashed.startswith("$pbkdf2-sha256$i=600000$")
    assert verify_password("correct horse battery staple", hashed) is True
    assert needs_rehash(hashed, scheme="pbkdf2-sha256") is False


def test_each_hash_gets_a_fresh_salt():
    first, second = hash_password("pw", ln=4), hash_password("pw", ln=4)
    assert first != second
    assert first.split("$")[3] != second.split("$")[3]


@pytest.mark.parametrize("password", ["", " ", "p\u00e4ssw\u00f6rd \U0001f511", "x" * 4096])
def test_round_trip_of_unusual_passwords(password):
    hashed = hash_password(password, ln=4)
    assert verify_password(password, hashed) is True
    assert verify_password(password + "x", hashed) is False


def test_hashes_made_elsewhere_verify():
    assert verify_password("s3cret", scrypt_string("s3cret")) is True
    assert verify_password("s3cret", scrypt_string("s3cret", ln=5, r=2, p=2, dklen=64)) is True
    assert verify_password("s3cret", pbkdf2_string("s3cret")) is True
    assert verify_password("S3cret", scrypt_string("s3cret")) is False
    assert verify_password("S3cret", pbkdf2_string("s3cret")) is False


def test_verify_compares_with_compare_digest(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    assert verify_password("s3cret", pbkdf2_string("s3cret")) is True
    assert len(calls) == 1


# --- verify never raises, and never runs an absurd hash --------------------------------------

GOOD_SALT = b64(SALT)
GOOD_HASH = b64(b"\1" * 32)

MALFORMED = [
    None,
    b"$scrypt$ln=4,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    12,
    "",
    "plain text password",
    "$scrypt$",
    "$scrypt$ln=4,r=8,p=1$%s" % GOOD_SALT,
    "$scrypt$ln=4,r=8$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$ln=4,r=8,p=1,x=2$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$r=8,ln=4,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$ln=04,r=8,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$ln=0,r=8,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$ln=\u0664,r=8,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),  # Arabic-Indic digit four
    "$scrypt$ln=4,r=8,p=1$%s$%s\n" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$ln=4,r=8,p=1$%s$%s=" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$ln=4,r=8,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH.replace("B", "-")),
    "$scrypt$ln=4,r=8,p=1$%s$%sAA" % (GOOD_SALT, GOOD_HASH),  # 45 characters: length 4k+1
    "$scrypt$ln=4,r=8,p=1$%s$%s" % (GOOD_SALT[:10], GOOD_HASH),  # salt under 8 bytes
    "$scrypt$ln=4,r=8,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH[:21]),  # hash under 16 bytes
    "$scrypt$ln=4,r=8,p=1$%s$%s" % (GOOD_SALT, "A" * 200),
    "$argon2id$v=19$m=65536,t=3,p=4$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$pbkdf2-sha1$i=1000$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$pbkdf2-sha256$i=0$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$pbkdf2-sha256$i=+1000$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$pbkdf2-sha256$1000$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$PBKDF2-SHA256$i=1000$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "x" * 100000,
]

# Well-formed, but a verify would take minutes or gigabytes: refused before hashing.
ABSURD = [
    "$scrypt$ln=21,r=8,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),  # ln over 20
    "$scrypt$ln=99,r=1,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$scrypt$ln=14,r=33,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),  # r over 32
    "$scrypt$ln=10,r=8,p=17$%s$%s" % (GOOD_SALT, GOOD_HASH),  # p over 16
    "$scrypt$ln=20,r=2,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),  # 256 MiB
    "$scrypt$ln=17,r=16,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),  # 256 MiB
    "$scrypt$ln=15,r=16,p=16$%s$%s" % (GOOD_SALT, GOOD_HASH),  # 64 MiB but N*r*p = 2**23
    "$pbkdf2-sha256$i=5000001$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$pbkdf2-sha256$i=99999999$%s$%s" % (GOOD_SALT, GOOD_HASH),
    "$pbkdf2-sha256$i=999999999$%s$%s" % (GOOD_SALT, GOOD_HASH),
]


@pytest.fixture
def hash_spies(monkeypatch):
    scrypt, pbkdf2 = Spy(), Spy()
    monkeypatch.setattr(passwords, "_scrypt", scrypt)
    monkeypatch.setattr(passwords.hashlib, "pbkdf2_hmac", pbkdf2)
    return scrypt, pbkdf2


@pytest.mark.parametrize("hashed", MALFORMED + ABSURD)
def test_verify_returns_false_without_hashing(hash_spies, hashed):
    assert verify_password("pw", hashed) is False
    assert [spy.calls for spy in hash_spies] == [0, 0]


@pytest.mark.parametrize("hashed", MALFORMED + ABSURD)
def test_needs_rehash_is_true_for_unusable_hashes(hashed):
    assert needs_rehash(hashed) is True


def test_limits_admit_the_largest_allowed_parameters(hash_spies):
    # The ceilings themselves pass the parse (the spy stands in for the real hash).
    for hashed in [
        "$scrypt$ln=20,r=1,p=1$%s$%s" % (GOOD_SALT, GOOD_HASH),
        "$scrypt$ln=14,r=16,p=16$%s$%s" % (GOOD_SALT, GOOD_HASH),
        "$pbkdf2-sha256$i=5000000$%s$%s" % (GOOD_SALT, GOOD_HASH),
    ]:
        assert verify_password("pw", hashed) is False
    assert [spy.calls for spy in hash_spies] == [2, 1]


@pytest.mark.parametrize("password", [None, b"pw", 12, ["pw"], "\ud800", "x" * 4097, "\u00e9" * 2049])
def test_verify_returns_false_for_unusable_passwords(hash_spies, password):
    assert verify_password(password, scrypt_string("pw")) is False
    assert [spy.calls for spy in hash_spies] == [0, 0]


def test_verify_returns_false_when_the_hash_function_fails(monkeypatch):
    monkeypatch.setattr(passwords, "_scrypt", Spy(error=ValueError("memory limit exceeded")))
    assert verify_password("pw", scrypt_string("pw")) is False
    monkeypatch.setattr(passwords, "_scrypt", Spy(error=MemoryError()))
    assert verify_password("pw", scrypt_string("pw")) is False


# --- hash_password errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, kwargs, error, message",
    [
        (b"pw", {}, TypeError, "password must be a str, not bytes"),
        (None, {}, TypeError, "password must be a str, not NoneType"),
        ("x" * 4097, {}, ValueError, "password is longer than 4096 bytes"),
        ("\ud800", {}, ValueError, "password is not encodable as UTF-8"),
        ("pw", {"ln": 0}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"ln": 21}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"ln": -1}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"ln": 10 ** 9}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"r": 2 ** 40}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"ln": 15, "r": 16, "p": 16}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"r": 0}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"ln": True}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"ln": "14"}, ValueError, "scrypt parameters outside the range verify_password accepts"),
        ("pw", {"scheme": "pbkdf2-sha256", "iterations": 0}, ValueError, "iterations must be an int from 1 to 5000000"),
        ("pw", {"scheme": "pbkdf2-sha256", "iterations": 5000001}, ValueError, "iterations must be an int from 1 to 5000000"),
        ("pw", {"scheme": "pbkdf2-sha256", "iterations": 1000.0}, ValueError, "iterations must be an int from 1 to 5000000"),
        ("pw", {"scheme": "md5"}, ValueError, "scheme must be 'scrypt' or 'pbkdf2-sha256'"),
    ],
)
def test_hash_password_rejects(password, kwargs, error, message):
    with pytest.raises(error) as info:
        hash_password(password, **kwargs)
    assert str(info.value) == message


# --- needs_rehash ---------------------------------------------------------------------------


def fake(scheme_and_params, salt=SALT, digest=b"\1" * 32):
    return "$%s$%s$%s" % (scheme_and_params, b64(salt), b64(digest))


@pytest.mark.parametrize(
    "hashed, kwargs, expected",
    [
        (fake("scrypt$ln=14,r=8,p=1"), {}, False),
        (fake("scrypt$ln=15,r=8,p=2"), {}, False),
        (fake("scrypt$ln=13,r=8,p=1"), {}, True),
        (fake("scrypt$ln=14,r=4,p=1"), {}, True),
        (fake("scrypt$ln=20,r=1,p=1"), {}, True),
        (fake("scrypt$ln=14,r=8,p=1", salt=b"s" * 8), {}, True),
        (fake("scrypt$ln=14,r=8,p=1", digest=b"d" * 16), {}, True),
        (fake("scrypt$ln=4,r=8,p=1"), {"ln": 4}, False),
        (fake("scrypt$ln=14,r=8,p=1"), {"p": 2}, True),
        (fake("pbkdf2-sha256$i=600000"), {}, True),  # scrypt exists: upgrade
        (fake("pbkdf2-sha256$i=600000"), {"scheme": "pbkdf2-sha256"}, False),
        (fake("pbkdf2-sha256$i=599999"), {"scheme": "pbkdf2-sha256"}, True),
        (fake("pbkdf2-sha256$i=1000"), {"scheme": "pbkdf2-sha256", "iterations": 1000}, False),
        (fake("scrypt$ln=14,r=8,p=1"), {"scheme": "pbkdf2-sha256"}, True),
    ],
)
def test_needs_rehash(hashed, kwargs, expected):
    assert needs_rehash(hashed, **kwargs) is expected


# --- PBKDF2 fallback where hashlib.scrypt is missing ----------------------------------------


def test_fallback_without_scrypt(monkeypatch):
    scrypt_hash = scrypt_string("pw")
    monkeypatch.setattr(passwords, "_scrypt", None)
    hashed = hash_password("pw", iterations=1000)
    assert hashed.startswith("$pbkdf2-sha256$i=1000$")
    assert verify_password("pw", hashed) is True
    assert needs_rehash(hashed, iterations=1000) is False
    assert needs_rehash(fake("pbkdf2-sha256$i=600000")) is False
    # a scrypt hash cannot be checked here: False, never an exception
    assert verify_password("pw", scrypt_hash) is False
    assert needs_rehash(scrypt_hash) is True
    with pytest.raises(ValueError) as info:
        hash_password("pw", scheme="scrypt")
    assert str(info.value) == "hashlib.scrypt is not available in this Python build"


# --- async ----------------------------------------------------------------------------------


def test_async_helpers_hash_and_verify_off_the_event_loop(monkeypatch):
    threads = []
    real_hash, real_verify = passwords.hash_password, passwords.verify_password

    def record(function):
        def wrapper(*args, **kwargs):
            threads.append(threading.get_ident())
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(passwords, "hash_password", record(real_hash))
    monkeypatch.setattr(passwords, "verify_password", record(real_verify))

    async def main():
        hashed = await hash_password_async("pw", ln=4)
        return hashed, await verify_password_async("pw", hashed), await verify_password_async("px", hashed)

    hashed, good, bad = asyncio.run(main())
    assert hashed.startswith("$scrypt$ln=4,r=8,p=1$")
    assert (good, bad) == (True, False)
    assert len(threads) == 3
    assert threading.get_ident() not in threads
