"""covet.security.jwt: each rejection of decode on a token crafted here by hand, RFC 7515 A.1,
key rotation by kid, and encode's output checked with hmac/base64 directly.

Bad tokens are built with base64 + hmac in this file, never with the code under test.
"""
import base64
import datetime
import hashlib
import hmac
import json

import pytest

from covet.security import jwt as jwt_module
from covet.security import (
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

KEY = b"0123456789abcdef" * 4  # 64 bytes: long enough for HS512, so no warning anywhere
OTHER_KEY = b"fedcba9876543210" * 4
NOW = 1700000000
HS256 = {"alg": "HS256", "typ": "JWT"}


class FrozenClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    frozen = FrozenClock(NOW)
    monkeypatch.setattr(jwt_module, "time", frozen)
    return frozen


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def segment(value):
    """A JSON value as a compact base64url segment; bytes are taken as the raw JSON text."""
    if isinstance(value, bytes):
        return b64url(value)
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def sign(signing_input, key=KEY, digest=hashlib.sha256):
    return b64url(hmac.new(key, signing_input.encode("ascii"), digest).digest())


def craft(header=HS256, payload=None, key=KEY, digest=hashlib.sha256, h=None, p=None, sig=None):
    """header.payload.signature; h/p/sig replace a segment verbatim (still signed unless sig)."""
    h = segment(header) if h is None else h
    p = segment({"sub": "42"} if payload is None else payload) if p is None else p
    signing_input = h + "." + p
    return signing_input + "." + (sign(signing_input, key, digest) if sig is None else sig)


def non_canonical(seg):
    """Same bytes under a lenient decoder, but with a padding bit set in the last character."""
    assert len(seg) % 4 in (2, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tweaked = seg[:-1] + alphabet[alphabet.index(seg[-1]) + 1]
    assert unb64url(tweaked) == unb64url(seg)
    return tweaked


def standard_alphabet(payload, char):
    std = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    assert char in std and "=" not in std
    return std


ISSUER = "https://issuer.example"
ROTATING = {"key": {"old": OTHER_KEY, "new": KEY}, "kid": "new"}

# (case id, token, JWT keyword arguments, decode keyword arguments, error class, exact message)
REJECTIONS = [
    # size and shape: checked before anything is decoded
    ("too_large", craft(payload={"sub": "42", "pad": "x" * 100}), {"max_token_bytes": 100}, {},
     TokenTooLargeError, "token is longer than 100 bytes"),
    ("too_large_garbage_not_inspected", "%" * 8193, {}, {},
     TokenTooLargeError, "token is longer than 8192 bytes"),
    ("too_large_bytes", b"a.b.c" * 2000, {}, {}, TokenTooLargeError, "token is longer than 8192 bytes"),
    ("none_type", None, {}, {}, MalformedTokenError, "token must be str or bytes, not NoneType"),
    ("int_type", 12, {}, {}, MalformedTokenError, "token must be str or bytes, not int"),
    ("empty_string", "", {}, {}, MalformedTokenError, "token must have 3 dot-separated segments, found 1"),
    ("two_segments", craft().rsplit(".", 1)[0], {}, {},
     MalformedTokenError, "token must have 3 dot-separated segments, found 2"),
    ("four_segments", craft() + "." + sign("x"), {}, {},
     MalformedTokenError, "token must have 3 dot-separated segments, found 4"),
    ("empty_header", craft(h=""), {}, {},
     MalformedTokenError, "token has an empty header or payload segment"),
    ("empty_payload", craft(p=""), {}, {},
     MalformedTokenError, "token has an empty header or payload segment"),
    ("padding", craft(p=segment({"sub": "1"}) + "="), {}, {},
     MalformedTokenError, "token contains characters outside the base64url alphabet (no padding allowed)"),
    ("standard_alphabet_plus", craft(p=standard_alphabet({"sub": "a>>>?"}, "+")), {}, {},
     MalformedTokenError, "token contains characters outside the base64url alphabet (no padding allowed)"),
    ("standard_alphabet_slash", craft(p=standard_alphabet({"sub": "sub?>"}, "/")), {}, {},
     MalformedTokenError, "token contains characters outside the base64url alphabet (no padding allowed)"),
    ("space_inside", craft(p=segment({"sub": "42"})[:4] + " " + segment({"sub": "42"})[4:]), {}, {},
     MalformedTokenError, "token contains characters outside the base64url alphabet (no padding allowed)"),
    ("trailing_newline", craft() + "\n", {}, {},
     MalformedTokenError, "token contains characters outside the base64url alphabet (no padding allowed)"),
    ("nul_byte", craft() + "\x00", {}, {},
     MalformedTokenError, "token contains characters outside the base64url alphabet (no padding allowed)"),
    ("non_ascii", craft() + "\u00e9", {}, {}, MalformedTokenError, "token contains non-ASCII characters"),
    ("header_length_4k_plus_1", craft(h=segment(HS256) + "A"), {}, {},
     MalformedTokenError, "header is not canonical base64url"),
    ("payload_length_4k_plus_1", craft(p=segment({"sub": "42"}) + "A"), {}, {},
     MalformedTokenError, "payload is not canonical base64url"),
    ("header_non_canonical_bits", craft(h=non_canonical(segment({"alg": "HS256", "x": 12}))), {}, {},
     MalformedTokenError, "header is not canonical base64url"),
    ("payload_non_canonical_bits", craft(p=non_canonical(segment({"sub": "1"}))), {}, {},
     MalformedTokenError, "payload is not canonical base64url"),
    ("header_not_json", craft(header=b"not json"), {}, {}, MalformedTokenError, "header is not valid UTF-8 JSON"),
    ("header_invalid_utf8", craft(header=b'{"alg":"HS256","x":"\xff"}'), {}, {},
     MalformedTokenError, "header is not valid UTF-8 JSON"),
    ("header_array", craft(header=["HS256"]), {}, {}, MalformedTokenError, "header is not a JSON object"),
    ("header_null", craft(header=None), {}, {}, MalformedTokenError, "header is not a JSON object"),
    ("payload_not_json", craft(payload=b"{sub:42}"), {}, {}, MalformedTokenError, "payload is not valid UTF-8 JSON"),
    ("payload_trailing_data", craft(payload=b'{"sub":"42"}x'), {}, {},
     MalformedTokenError, "payload is not valid UTF-8 JSON"),
    ("payload_utf16", craft(payload='{"sub":"42"}'.encode("utf-16")), {}, {},
     MalformedTokenError, "payload is not valid UTF-8 JSON"),
    ("payload_nan", craft(payload=b'{"exp":NaN}'), {}, {}, MalformedTokenError, "payload is not valid UTF-8 JSON"),
    ("payload_infinity", craft(payload=b'{"exp":Infinity}'), {}, {},
     MalformedTokenError, "payload is not valid UTF-8 JSON"),
    ("payload_deep_nesting", craft(payload=b"[" * 100000 + b"]" * 100000), {"max_token_bytes": 300000}, {},
     MalformedTokenError, "payload is not valid UTF-8 JSON"),
    ("payload_array", craft(payload=[{"sub": "42"}]), {}, {}, MalformedTokenError, "payload is not a JSON object"),
    ("payload_string", craft(payload="sub"), {}, {}, MalformedTokenError, "payload is not a JSON object"),
    # algorithm: pinned by the verifier (PyJWT CVE-2017-11424, CVE-2022-29217)
    ("alg_none_unsigned", craft(header={"alg": "none", "typ": "JWT"}, sig=""), {}, {},
     InvalidAlgorithmError, "token algorithm is not HS256"),
    ("alg_none_with_signature", craft(header={"alg": "none"}), {}, {},
     InvalidAlgorithmError, "token algorithm is not HS256"),
    ("alg_rs256_hmac_signed", craft(header={"alg": "RS256", "typ": "JWT"}), {}, {},
     InvalidAlgorithmError, "token algorithm is not HS256"),
    ("alg_hs512_to_hs256", craft(header={"alg": "HS512", "typ": "JWT"}, digest=hashlib.sha512), {}, {},
     InvalidAlgorithmError, "token algorithm is not HS256"),
    ("alg_hs256_to_hs512", craft(), {"algorithm": "HS512"}, {},
     InvalidAlgorithmError, "token algorithm is not HS512"),
    ("alg_lowercase", craft(header={"alg": "hs256", "typ": "JWT"}), {}, {},
     InvalidAlgorithmError, "token algorithm is not HS256"),
    ("alg_missing", craft(header={"typ": "JWT"}), {}, {}, MalformedTokenError, "header alg must be a string"),
    ("alg_not_string", craft(header={"alg": ["HS256"]}), {}, {}, MalformedTokenError, "header alg must be a string"),
    # crit: no extension is understood, so any crit is fatal (RFC 7515 4.1.11, CVE-2026-32597)
    ("crit", craft(header={"alg": "HS256", "crit": ["b64"], "b64": True}), {}, {},
     UnsupportedCriticalHeaderError, "crit header parameters are not supported"),
    ("crit_empty", craft(header={"alg": "HS256", "crit": []}), {}, {},
     UnsupportedCriticalHeaderError, "crit header parameters are not supported"),
    # signature
    ("signature_other_key", craft(key=OTHER_KEY), {}, {}, InvalidSignatureError, "signature verification failed"),
    ("signature_of_other_payload", craft(payload={"sub": "1"}, sig=craft().rsplit(".", 1)[1]), {}, {},
     InvalidSignatureError, "signature verification failed"),
    ("signature_empty", craft(sig=""), {}, {}, InvalidSignatureError, "signature verification failed"),
    ("signature_truncated", craft()[:-1], {}, {}, InvalidSignatureError, "signature verification failed"),
    ("signature_non_canonical", craft(sig=non_canonical(craft().rsplit(".", 1)[1])), {}, {},
     InvalidSignatureError, "signature verification failed"),
    ("signature_hs256_under_hs512_header", craft(header={"alg": "HS512"}), {"algorithm": "HS512"}, {},
     InvalidSignatureError, "signature verification failed"),
    # time claims
    ("exp_past", craft(payload={"exp": NOW - 1}), {}, {}, ExpiredSignatureError, "token has expired"),
    ("exp_now", craft(payload={"exp": NOW}), {}, {}, ExpiredSignatureError, "token has expired"),
    ("exp_beyond_leeway", craft(payload={"exp": NOW - 10}), {"leeway": 10}, {},
     ExpiredSignatureError, "token has expired"),
    ("nbf_future", craft(payload={"nbf": NOW + 1}), {}, {}, ImmatureSignatureError, "token is not valid yet (nbf)"),
    ("nbf_beyond_leeway", craft(payload={"nbf": NOW + 11}), {"leeway": 10}, {},
     ImmatureSignatureError, "token is not valid yet (nbf)"),
    ("nbf_checked_without_exp", craft(payload={"nbf": NOW + 1}), {}, {"verify_exp": False},
     ImmatureSignatureError, "token is not valid yet (nbf)"),
    ("iat_future", craft(payload={"iat": NOW + 1}), {}, {},
     ImmatureSignatureError, "token was issued in the future (iat)"),
    ("exp_string", craft(payload={"exp": str(NOW + 60)}), {}, {}, InvalidClaimError, "exp claim must be a number"),
    ("exp_bool", craft(payload={"exp": True}), {}, {}, InvalidClaimError, "exp claim must be a number"),
    ("exp_null", craft(payload={"exp": None}), {}, {}, InvalidClaimError, "exp claim must be a number"),
    ("exp_overflow_to_infinity", craft(payload=b'{"exp":1e400}'), {}, {},
     InvalidClaimError, "exp claim must be a number"),
    ("exp_string_without_verify_exp", craft(payload={"exp": "soon"}), {}, {"verify_exp": False},
     InvalidClaimError, "exp claim must be a number"),
    ("nbf_string", craft(payload={"nbf": "0"}), {}, {}, InvalidClaimError, "nbf claim must be a number"),
    ("iat_list", craft(payload={"iat": [NOW]}), {}, {}, InvalidClaimError, "iat claim must be a number"),
    ("jti_number", craft(payload={"jti": 7}), {}, {}, InvalidClaimError, "jti claim must be a string"),
    # issuer: == after a type check (PyJWT CVE-2024-53861, joserfc CVE-2026-75509)
    ("iss_wrong", craft(payload={"iss": "https://other.example"}), {"issuer": ISSUER}, {},
     InvalidIssuerError, "token issuer is not accepted"),
    ("iss_substring", craft(payload={"iss": "issuer"}), {"issuer": ISSUER}, {},
     InvalidIssuerError, "token issuer is not accepted"),
    ("iss_superstring", craft(payload={"iss": ISSUER + ".evil"}), {"issuer": ISSUER}, {},
     InvalidIssuerError, "token issuer is not accepted"),
    ("iss_array", craft(payload={"iss": [ISSUER]}), {"issuer": ISSUER}, {},
     InvalidIssuerError, "iss claim must be a string"),
    ("iss_array_no_issuer_expected", craft(payload={"iss": [ISSUER]}), {}, {},
     InvalidIssuerError, "iss claim must be a string"),
    ("iss_missing", craft(payload={"sub": "42"}), {"issuer": ISSUER}, {},
     MissingRequiredClaimError, "token is missing the required 'iss' claim"),
    ("iss_decode_argument", craft(payload={"iss": ISSUER}), {"issuer": ISSUER}, {"issuer": "https://b.example"},
     InvalidIssuerError, "token issuer is not accepted"),
    # audience (RFC 7519 4.1.3)
    ("aud_wrong", craft(payload={"aud": "web"}), {"audience": "api"}, {},
     InvalidAudienceError, "token audience is not accepted"),
    ("aud_substring", craft(payload={"aud": "ap"}), {"audience": "api"}, {},
     InvalidAudienceError, "token audience is not accepted"),
    ("aud_list_no_match", craft(payload={"aud": ["web", "mobile"]}), {"audience": "api"}, {},
     InvalidAudienceError, "token audience is not accepted"),
    ("aud_number", craft(payload={"aud": 5}), {"audience": "api"}, {},
     InvalidAudienceError, "aud claim must be a string or a list of strings"),
    ("aud_list_with_number", craft(payload={"aud": ["api", 5]}), {"audience": "api"}, {},
     InvalidAudienceError, "aud claim must be a string or a list of strings"),
    ("aud_empty_list", craft(payload={"aud": []}), {"audience": "api"}, {},
     InvalidAudienceError, "aud claim must be a string or a list of strings"),
    ("aud_nested_list", craft(payload={"aud": [["api"]]}), {"audience": "api"}, {},
     InvalidAudienceError, "aud claim must be a string or a list of strings"),
    ("aud_unexpected", craft(payload={"aud": "api"}), {}, {},
     InvalidAudienceError, "token has an audience but none is expected"),
    ("aud_missing", craft(payload={"sub": "42"}), {"audience": "api"}, {},
     MissingRequiredClaimError, "token is missing the required 'aud' claim"),
    ("aud_decode_argument", craft(payload={"aud": "api"}), {"audience": "api"}, {"audience": "web"},
     InvalidAudienceError, "token audience is not accepted"),
    # subject, required claims
    ("sub_number", craft(payload={"sub": 42}), {}, {}, InvalidSubjectError, "sub claim must be a string"),
    ("sub_mismatch", craft(payload={"sub": "43"}), {}, {"subject": "42"},
     InvalidSubjectError, "token subject is not the expected one"),
    ("sub_missing", craft(payload={"name": "x"}), {}, {"subject": "42"},
     MissingRequiredClaimError, "token is missing the required 'sub' claim"),
    ("required_missing", craft(), {}, {"required": ("sub", "exp")},
     MissingRequiredClaimError, "token is missing the required 'exp' claim"),
    ("required_as_one_string", craft(), {}, {"required": "exp"},
     MissingRequiredClaimError, "token is missing the required 'exp' claim"),
    # rotation by kid
    ("kid_unknown", craft(header={"alg": "HS256", "typ": "JWT", "kid": "gone"}), ROTATING, {},
     UnknownKeyIdError, "token kid names no configured key"),
    ("kid_missing", craft(), ROTATING, {}, UnknownKeyIdError, "token has no kid header"),
    ("kid_not_string", craft(header={"alg": "HS256", "kid": 1}), ROTATING, {},
     MalformedTokenError, "header kid must be a string"),
    ("kid_names_other_key", craft(header={"alg": "HS256", "typ": "JWT", "kid": "old"}), ROTATING, {},
     InvalidSignatureError, "signature verification failed"),
    ("kid_single_key_verifier", craft(header={"alg": "HS256", "typ": "JWT", "kid": "other"}),
     {"key": KEY, "kid": "k1"}, {}, UnknownKeyIdError, "token kid names no configured key"),
]


def make_jwt(**kwargs):
    kwargs.setdefault("key", KEY)
    return JWT(**kwargs)


@pytest.mark.parametrize(
    "token, jwt_kwargs, decode_kwargs, error, message",
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
def test_decode_rejects(token, jwt_kwargs, decode_kwargs, error, message):
    with pytest.raises(error) as info:
        make_jwt(**jwt_kwargs).decode(token, **decode_kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, InvalidTokenError)


def test_case_ids_are_unique():
    ids = [case[0] for case in REJECTIONS]
    assert len(ids) == len(set(ids))


def test_rejection_messages_never_echo_the_token():
    for case_id, token, jwt_kwargs, decode_kwargs, _, _ in REJECTIONS:
        if not isinstance(token, str):
            continue
        with pytest.raises(InvalidTokenError) as info:
            make_jwt(**jwt_kwargs).decode(token, **decode_kwargs)
        parts = [part for part in token.split(".") if len(part) >= 6]
        assert [part for part in parts if part in str(info.value)] == [], case_id


def test_hand_crafted_tokens_pass_when_only_the_flaw_is_removed():
    # Guards the table: the helpers themselves produce tokens that decode.
    assert JWT(KEY).decode(craft()) == {"sub": "42"}
    assert JWT(KEY, issuer=ISSUER).decode(craft(payload={"iss": ISSUER})) == {"iss": ISSUER}
    assert JWT(KEY, algorithm="HS512").decode(craft(header={"alg": "HS512"}, digest=hashlib.sha512)) == {"sub": "42"}
    assert JWT(**ROTATING).decode(craft(header={"alg": "HS256", "kid": "old"}, key=OTHER_KEY)) == {"sub": "42"}
    assert JWT(KEY).decode(craft(payload={"exp": NOW + 1})) == {"exp": NOW + 1}


# --- RFC 7515 appendix A.1 ------------------------------------------------------------------

RFC7515_A1_KEY = (
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
)
RFC7515_A1_TOKEN = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)


def test_rfc7515_a1_example_verifies_with_its_key():
    jwt = JWT(unb64url(RFC7515_A1_KEY))
    claims = jwt.decode(RFC7515_A1_TOKEN, verify_exp=False)
    assert claims == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    assert JWT(unb64url(RFC7515_A1_KEY), issuer="joe").decode(RFC7515_A1_TOKEN, verify_exp=False)["iss"] == "joe"


def test_rfc7515_a1_example_is_expired_by_default():
    with pytest.raises(ExpiredSignatureError):
        JWT(unb64url(RFC7515_A1_KEY)).decode(RFC7515_A1_TOKEN)


def test_rfc7515_a1_example_fails_with_another_key():
    with pytest.raises(InvalidSignatureError):
        JWT(KEY).decode(RFC7515_A1_TOKEN, verify_exp=False)


# --- encode ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm, digest",
    [("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)],
)
def test_encode_produces_a_standard_compact_token(algorithm, digest):
    token = JWT(KEY, algorithm=algorithm).encode({"sub": "42", "name": "Zo\u00eb"})
    h, p, s = token.split(".")
    assert "=" not in token
    assert unb64url(h) == ('{"alg":"%s","typ":"JWT"}' % algorithm).encode()
    assert unb64url(p) == b'{"sub":"42","name":"Zo\\u00eb"}'
    assert s == b64url(hmac.new(KEY, (h + "." + p).encode(), digest).digest())
    assert JWT(KEY, algorithm=algorithm).decode(token) == {"sub": "42", "name": "Zo\u00eb"}


def test_decode_accepts_bytes():
    assert JWT(KEY).decode(craft().encode()) == {"sub": "42"}


@pytest.mark.parametrize(
    "header",
    [
        {"typ": "JWT", "alg": "HS256"},  # RFC 7515 example order
        {"alg": "HS256"},
        {"alg": "HS256", "typ": "JWT", "cty": "JWT", "x5u": "https://ignored.example"},
        b'{ "alg" : "HS256" }',
        {"alg": "HS256", "kid": "ignored without a key dict"},
    ],
)
def test_decode_accepts_other_well_formed_headers(header):
    assert JWT(KEY).decode(craft(header=header)) == {"sub": "42"}


def test_json_may_be_surrounded_by_whitespace():
    # RFC 8259 section 2: insignificant whitespace is allowed before or after any value.
    token = craft(header=b' {"alg":"HS256"}\r\n', payload=b'\t{"sub":"42"} ')
    assert JWT(KEY).decode(token) == {"sub": "42"}


def test_duplicate_header_names_keep_the_last_value():
    token = craft(header=b'{"alg":"none","alg":"HS256"}')
    assert JWT(KEY).decode(token) == {"sub": "42"}
    with pytest.raises(InvalidAlgorithmError):
        JWT(KEY).decode(craft(header=b'{"alg":"HS256","alg":"none"}'))


def test_expires_in_adds_iat_and_exp(clock):
    jwt = JWT(KEY, expires_in=60)
    token = jwt.encode({"sub": "42"})
    assert json.loads(unb64url(token.split(".")[1])) == {"sub": "42", "iat": NOW, "exp": NOW + 60}
    clock.now = NOW + 59
    assert jwt.decode(token)["exp"] == NOW + 60
    clock.now = NOW + 60
    with pytest.raises(ExpiredSignatureError):
        jwt.decode(token)


def test_expires_in_keeps_explicit_claims_and_accepts_timedelta():
    jwt = JWT(KEY, expires_in=datetime.timedelta(minutes=5))
    token = jwt.encode({"exp": NOW + 10, "iat": NOW - 5})
    assert json.loads(unb64url(token.split(".")[1])) == {"exp": NOW + 10, "iat": NOW - 5}
    token = jwt.encode({})
    assert json.loads(unb64url(token.split(".")[1])) == {"iat": NOW, "exp": NOW + 300}


def test_encode_converts_datetimes_to_numeric_dates():
    aware = datetime.datetime.fromtimestamp(NOW + 30, datetime.timezone.utc)
    naive_utc = datetime.datetime(2023, 11, 14, 22, 13, 20)  # == NOW in UTC
    token = JWT(KEY).encode({"exp": aware, "nbf": naive_utc, "iat": naive_utc})
    assert json.loads(unb64url(token.split(".")[1])) == {"exp": NOW + 30, "nbf": NOW, "iat": NOW}


def test_encode_adds_a_single_issuer_and_audience():
    jwt = JWT(KEY, issuer=ISSUER, audience="api")
    token = jwt.encode({"sub": "42"})
    assert json.loads(unb64url(token.split(".")[1])) == {"sub": "42", "iss": ISSUER, "aud": "api"}
    assert jwt.decode(token) == {"sub": "42", "iss": ISSUER, "aud": "api"}
    several = JWT(KEY, issuer=[ISSUER, "https://b.example"], audience=["api", "web"])
    assert json.loads(unb64url(several.encode({"sub": "42"}).split(".")[1])) == {"sub": "42"}


def test_several_issuers_and_audiences_accept_any_one():
    jwt = JWT(KEY, issuer=(ISSUER, "https://b.example"), audience=["api", "web"])
    assert jwt.decode(craft(payload={"iss": "https://b.example", "aud": ["other", "web"]}))["aud"] == ["other", "web"]
    assert JWT(KEY).decode(craft(payload={"aud": "web"}), audience="web") == {"aud": "web"}
    assert JWT(KEY).decode(craft(payload={"iss": "x"}), issuer=["y", "x"]) == {"iss": "x"}
    assert JWT(KEY).decode(craft(payload={"sub": "42"}), subject="42") == {"sub": "42"}


def test_leeway_accepts_small_clock_skew():
    jwt = JWT(KEY, leeway=datetime.timedelta(seconds=10))
    claims = {"exp": NOW - 9, "nbf": NOW + 10, "iat": NOW + 10}
    assert jwt.decode(craft(payload=claims)) == claims


def test_time_claims_may_be_floats():
    claims = {"exp": NOW + 0.5, "iat": NOW - 0.5, "nbf": NOW}
    assert JWT(KEY).decode(craft(payload=claims)) == claims


def test_verify_exp_false_accepts_an_expired_token():
    assert JWT(KEY).decode(craft(payload={"exp": NOW - 3600}), verify_exp=False) == {"exp": NOW - 3600}


def test_encode_extra_headers():
    token = JWT(KEY).encode({"sub": "42"}, headers={"cty": "example"})
    assert json.loads(unb64url(token.split(".")[0])) == {"alg": "HS256", "typ": "JWT", "cty": "example"}
    assert JWT(KEY).decode(token) == {"sub": "42"}


@pytest.mark.parametrize(
    "headers, message",
    [
        ({"alg": "none"}, "headers may not set alg"),
        ({"kid": "x"}, "headers may not set kid"),
        ({"crit": ["exp"], "alg": "HS256"}, "headers may not set alg, crit"),
    ],
)
def test_encode_refuses_reserved_headers(headers, message):
    with pytest.raises(ValueError) as info:
        JWT(KEY).encode({}, headers=headers)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "claims, error, message",
    [
        (["sub"], TypeError, "claims must be a mapping"),
        ({"x": float("nan")}, ValueError, "Out of range float values are not JSON compliant"),
    ],
)
def test_encode_refuses_bad_claims(claims, error, message):
    with pytest.raises(error) as info:
        JWT(KEY).encode(claims)
    assert str(info.value).startswith(message)


# --- rotation -------------------------------------------------------------------------------


def test_rotation_signs_with_the_chosen_kid_and_verifies_by_the_tokens_kid():
    jwt = JWT({"old": OTHER_KEY, "new": KEY}, kid="new")
    new_token = jwt.encode({"sub": "42"})
    old_token = jwt.encode({"sub": "41"}, kid="old")
    assert json.loads(unb64url(new_token.split(".")[0])) == {"alg": "HS256", "typ": "JWT", "kid": "new"}
    h, p, s = old_token.split(".")
    assert s == b64url(hmac.new(OTHER_KEY, (h + "." + p).encode(), hashlib.sha256).digest())
    assert jwt.decode(new_token) == {"sub": "42"}
    assert jwt.decode(old_token) == {"sub": "41"}
    retired = JWT({"new": KEY}, kid="new")
    assert retired.decode(new_token) == {"sub": "42"}
    with pytest.raises(UnknownKeyIdError):
        retired.decode(old_token)


def test_rotation_accepts_sorted_header_order():
    # PyJWT writes {"alg","kid","typ"} sorted; the RFC does not fix an order.
    token = craft(header={"alg": "HS256", "kid": "old", "typ": "JWT"}, key=OTHER_KEY)
    assert JWT(**ROTATING).decode(token) == {"sub": "42"}


def test_single_key_with_kid_puts_it_in_the_header():
    jwt = JWT(KEY, kid="k1")
    token = jwt.encode({"sub": "42"})
    assert json.loads(unb64url(token.split(".")[0])) == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    assert jwt.decode(token) == {"sub": "42"}


@pytest.mark.parametrize(
    "jwt_kwargs, kid, message",
    [
        ({"key": {"a": KEY, "b": OTHER_KEY}}, None, "the key is a dict: pass kid= to JWT() or to encode()"),
        ({"key": {"a": KEY}, "kid": "a"}, "b", "kid names no configured key"),
        ({"key": KEY}, "a", "kid needs a key dict or JWT(..., kid=...)"),
    ],
)
def test_encode_kid_errors(jwt_kwargs, kid, message):
    with pytest.raises(ValueError) as info:
        JWT(**jwt_kwargs).encode({}, kid=kid)
    assert str(info.value) == message


# --- construction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"algorithm": "RS256"}, ValueError, "algorithm must be one of HS256, HS384, HS512"),
        ({"algorithm": "none"}, ValueError, "algorithm must be one of HS256, HS384, HS512"),
        ({"key": b""}, ValueError, "a key must not be empty"),
        ({"key": 12345}, TypeError, "a key must be str or bytes"),
        ({"key": {}}, ValueError, "key dict is empty"),
        ({"key": {1: KEY}}, TypeError, "key ids must be strings"),
        ({"key": {"a": KEY}, "kid": "b"}, ValueError, "kid names no key in the key dict"),
        ({"kid": 1}, TypeError, "kid must be a string"),
        ({"leeway": 301}, ValueError, "leeway must be between 0 and 300 seconds"),
        ({"leeway": -1}, ValueError, "leeway must be between 0 and 300 seconds"),
        ({"leeway": float("nan")}, TypeError, "leeway must be a number of seconds or a timedelta"),
        ({"leeway": "5"}, TypeError, "leeway must be a number of seconds or a timedelta"),
        ({"expires_in": 0}, ValueError, "expires_in must be positive"),
        ({"expires_in": True}, TypeError, "expires_in must be a number of seconds or a timedelta"),
        ({"max_token_bytes": 8}, ValueError, "max_token_bytes must be an int of at least 16"),
        ({"issuer": ["a", 1]}, TypeError, "issuer must be a string or a non-empty collection of strings"),
        ({"audience": []}, TypeError, "audience must be a string or a non-empty collection of strings"),
    ],
)
def test_constructor_rejects(kwargs, error, message):
    kwargs.setdefault("key", KEY)
    with pytest.raises(error) as info:
        JWT(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"key": b"k" * 31}, "HS256 key is 31 bytes; RFC 7518 3.2 requires at least 32"),
        ({"key": "short"}, "HS256 key is 5 bytes; RFC 7518 3.2 requires at least 32"),
        ({"key": b"k" * 47, "algorithm": "HS384"}, "HS384 key is 47 bytes; RFC 7518 3.2 requires at least 48"),
        ({"key": b"k" * 63, "algorithm": "HS512"}, "HS512 key is 63 bytes; RFC 7518 3.2 requires at least 64"),
        ({"key": {"new": KEY, "old": b"k" * 8}, "kid": "new"}, "HS256 key 'old' is 8 bytes; RFC 7518 3.2 requires at least 32"),
    ],
)
def test_short_keys_warn_at_construction(kwargs, message):
    with pytest.warns(UserWarning) as record:
        jwt = JWT(**kwargs)
    assert [str(w.message) for w in record] == [message]
    assert record[0].filename == __file__
    assert jwt.algorithm == kwargs.get("algorithm", "HS256")


def test_keys_of_the_hash_size_do_not_warn():
    # filterwarnings=error turns any warning here into a failure.
    JWT(b"k" * 32)
    JWT("k" * 48, algorithm="HS384")
    JWT({"a": b"k" * 64}, algorithm="HS512", kid="a")


def test_decode_arguments_are_type_checked():
    with pytest.raises(TypeError):
        JWT(KEY).decode(craft(payload={"iss": "x"}), issuer=[1])
