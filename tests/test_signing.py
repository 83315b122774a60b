"""covet.security.signing: the one base64url (checked against the stdlib's, canonical only),
key checks and derivation (checked with hmac here), the timestamped Signer, and values
signed before sessions, CSRF and JWT shared it, which must still verify byte for byte."""
import base64
import hashlib
import hmac
import pathlib

import pytest

from covet import Covet, Request
from covet.security import JWT, CSRFMiddleware, JWTAuth, SessionMiddleware
from covet.security import sessions as sessions_module
from covet.security import signing
from covet.security.signing import (
    B64URL_ALPHABET,
    MIN_KEY_BYTES,
    Signer,
    b64url_decode,
    b64url_encode,
    derive_key,
    key_bytes,
)

KEY = "session-secret-key-0123456789abcdef"
OLD_KEY = "older-secret-key-0123456789abcdefgh"
CSRF_KEY = "csrf-secret-key-0123456789abcdefghij"
JWT_KEY = b"0123456789abcdef" * 2

# Values produced by covet before sessions, CSRF and JWT shared this module. They pin the
# wire formats: cookies and tokens already in browsers and clients must keep verifying.
SIGNED_PAYLOAD = "payload.1700000000.i8LbRPQLwiOgRrmPkf9sg9_8v2_AoNWA4DdHbIapsKU"
SESSION_COOKIE = ("eyJ1c2VyIjo0MiwibmFtZSI6Ilpvw6sifQ.1700000000."
                  "OQLz2IyqNLnBarxjWutP0L8wlR3bADbtfp-TyhJ1VgQ")   # {"user":42,"name":"Zoë"}
CSRF_COOKIE = ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8.1700000000."
               "wWE_iNRPSeSKCduryOzJk_4Y84E_6aTdLhJmPhvt3P0")     # the secret bytes(range(32))
JWT_TOKEN = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
             "eyJzdWIiOiI0MiIsInJvbGVzIjpbImFkbWluIl0sImlhdCI6MTcwMDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwfQ."
             "nDixefV6rILBF1TdeQbbG1VF8sp8Dk_w9wSxEIU8_Jg")
JWT_KID_TOKEN = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjIwMjUifQ.eyJzdWIiOiI0MiJ9."
                 "5uBw6OQOq01Vle3NY2r_Z3h15vAVsnoAEHF3HgcimeI")


def std_b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# ---------------------------------------------------------------- base64url

@pytest.mark.parametrize("length", range(0, 70))
def test_encode_matches_the_stdlib_and_round_trips(length):
    data = bytes((i * 37 + length) % 256 for i in range(length))
    encoded = b64url_encode(data)
    assert encoded == std_b64url(data)
    assert b64url_decode(encoded) == data
    assert b64url_decode(encoded.decode("ascii")) == data


def test_encode_uses_the_url_alphabet_without_padding():
    assert b64url_encode(b"\xfb\xff") == b"-_8"
    assert b64url_encode(b"") == b""
    assert b64url_decode("-_8") == b"\xfb\xff"
    assert b64url_decode(bytearray(b"-_8")) == b"\xfb\xff"
    assert b64url_decode(memoryview(b"-_8")) == b"\xfb\xff"
    assert len(B64URL_ALPHABET) == 64 and set(B64URL_ALPHABET) == set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                         b"abcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("text, message", [
    ("-_8=", "not base64url: a character outside A-Z a-z 0-9 - _"),      # padding
    ("+/8", "not base64url: a character outside A-Z a-z 0-9 - _"),       # the standard alphabet
    ("ab cd", "not base64url: a character outside A-Z a-z 0-9 - _"),
    ("abcd\n", "not base64url: a character outside A-Z a-z 0-9 - _"),
    ("abcde", "not canonical base64url"),                                 # length 4k+1
    ("AR", "not canonical base64url"),                                    # b"\x01" is "AQ"
    ("AAB", "not canonical base64url"),                                   # b"\x00\x00" is "AAA"
])
def test_decode_refuses_anything_but_canonical_base64url(text, message):
    with pytest.raises(ValueError) as info:
        b64url_decode(text)
    assert str(info.value) == message


def test_decode_refuses_non_ascii_text_with_a_value_error():
    with pytest.raises(ValueError):
        b64url_decode("é" * 4)


# ---------------------------------------------------------------- keys

def test_key_bytes():
    assert key_bytes("Zoë") == "Zoë".encode("utf-8")
    assert key_bytes(bytearray(b"k")) == b"k" and type(key_bytes(bytearray(b"k"))) is bytes
    with pytest.raises(TypeError) as info:
        key_bytes(42)
    assert str(info.value) == "a secret key must be str or bytes"
    with pytest.raises(ValueError) as info:
        key_bytes("", "key")
    assert str(info.value) == "a key must not be empty"


def test_derive_key_is_hmac_sha256_of_the_purpose():
    assert derive_key(KEY, b"covet.session") == hmac.new(KEY.encode(), b"covet.session", hashlib.sha256).digest()
    assert derive_key(KEY, b"covet.session") != derive_key(KEY, b"covet.csrf")
    assert derive_key(KEY.encode(), b"x") == derive_key(KEY, b"x")


def test_derive_key_warns_about_short_secrets_at_the_callers_line():
    with pytest.warns(UserWarning, match="secret key is 5 bytes; use at least 32") as record:
        derive_key("short", b"x")
    assert record[0].filename == __file__
    assert MIN_KEY_BYTES == 32


# ---------------------------------------------------------------- Signer

def test_signer_format_is_payload_timestamp_hmac():
    signer = Signer(KEY, b"covet.session")
    assert signer.sign("payload", timestamp=1700000000) == SIGNED_PAYLOAD
    key = hmac.new(KEY.encode(), b"covet.session", hashlib.sha256).digest()
    mac = std_b64url(hmac.new(key, b"payload.1700000000", hashlib.sha256).digest()).decode()
    assert SIGNED_PAYLOAD == "payload.1700000000." + mac
    assert signer.unsign(SIGNED_PAYLOAD) == ("payload", 1700000000, 0)


def test_signer_stamps_the_current_time(monkeypatch):
    class Clock:
        @staticmethod
        def time():
            return 1700000000.9

    monkeypatch.setattr(signing, "time", Clock)
    assert Signer(KEY, b"covet.session").sign("payload") == SIGNED_PAYLOAD


def test_signer_rotation_reports_the_key_index():
    old = Signer(OLD_KEY, b"p").sign("x", timestamp=5)
    both = Signer([KEY, OLD_KEY], b"p")
    assert both.unsign(old) == ("x", 5, 1)
    assert both.unsign(both.sign("x", timestamp=5)) == ("x", 5, 0)
    assert Signer(KEY, b"p").unsign(old) is None


@pytest.mark.parametrize("value", [
    None, 42, b"payload.1700000000.x", "", "payload", "payload.1700000000",
    SIGNED_PAYLOAD[:-1], SIGNED_PAYLOAD + "A", SIGNED_PAYLOAD.replace("payload", "payloaD"),
    SIGNED_PAYLOAD.replace("1700000000", "1700000001"), SIGNED_PAYLOAD.replace("1700000000", "-1"),
    SIGNED_PAYLOAD.replace("1700000000", "1" * 16), SIGNED_PAYLOAD.replace("payload", "pâyload"),
    SIGNED_PAYLOAD[:-1] + "é",
])
def test_signer_unsign_refuses_without_raising(value):
    assert Signer(KEY, b"covet.session").unsign(value) is None


def test_a_purpose_never_verifies_for_another():
    assert Signer(KEY, b"covet.csrf").unsign(SIGNED_PAYLOAD) is None


def test_signer_construction():
    with pytest.raises(ValueError) as info:
        Signer([], b"p")
    assert str(info.value) == "secret_key list is empty"
    with pytest.raises(TypeError) as info:
        Signer([KEY, 3], b"p")
    assert str(info.value) == "a secret key must be str or bytes"
    assert repr(Signer([KEY, OLD_KEY], b"p")) == "<Signer 2 keys>"
    assert repr(Signer(KEY, b"p")) == "<Signer 1 key>"


# ---------------------------------------------------------------- one copy, same wire formats

def test_sessions_csrf_and_the_package_share_this_signer():
    import covet.security

    assert sessions_module.Signer is Signer
    assert covet.security.Signer is Signer
    assert covet.security.b64url_encode is b64url_encode


def test_no_other_security_module_has_its_own_base64url():
    # passwords.py writes PHC strings and schemes.py reads HTTP Basic credentials (RFC 7617 §2),
    # both in the standard alphabet: other formats.
    root = pathlib.Path(signing.__file__).parent
    for path in sorted(root.glob("*.py")):
        if path.name in ("signing.py", "passwords.py", "schemes.py"):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("urlsafe_b64", "b2a_base64", "a2b_base64", "import base64"):
            assert needle not in text, "%s uses %s" % (path.name, needle)


def test_a_session_cookie_signed_before_still_verifies(client):
    app = Covet()
    app.add_middleware(SessionMiddleware, secret_key=KEY, max_age=None)

    @app.get("/get")
    async def get(request: Request):
        return dict(request.session)

    r = client(app).get("/get", cookies={"session": SESSION_COOKIE})
    assert r.json() == {"user": 42, "name": "Zoë"}
    assert r.headers.getlist("set-cookie") == []   # unchanged: not rewritten


def test_a_csrf_cookie_signed_before_still_verifies(client):
    calls = []
    app = Covet()
    app.add_middleware(CSRFMiddleware, secret_key=CSRF_KEY)

    @app.post("/submit")
    async def submit():
        calls.append(1)
        return {"ok": True}

    secret = bytes(range(32))
    pad = b"\x5a" * 32
    token = std_b64url(pad + bytes(a ^ b for a, b in zip(pad, secret))).decode()
    c = client(app)
    r = c.post("/submit", cookies={"csrftoken": CSRF_COOKIE}, headers={"X-CSRF-Token": token})
    assert (r.status_code, r.json(), calls) == (200, {"ok": True}, [1])


def test_a_jwt_signed_before_still_verifies():
    claims = {"sub": "42", "roles": ["admin"], "iat": 1700000000, "exp": 4102444800}
    assert JWT(JWT_KEY).decode(JWT_TOKEN) == claims
    assert JWTAuth(JWT_KEY).decode(JWT_TOKEN) == claims
    assert JWT(JWT_KEY).encode(claims) == JWT_TOKEN
    rotating = JWT({"2025": JWT_KEY}, kid="2025")
    assert rotating.decode(JWT_KID_TOKEN) == {"sub": "42"}
    assert rotating.encode({"sub": "42"}) == JWT_KID_TOKEN
