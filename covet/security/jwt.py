"""HMAC JSON Web Tokens: RFC 7519 claims in the RFC 7515 compact serialisation, HS256/384/512 only.

The verifier pins the algorithm and the keys; nothing in a token chooses either. Every
rejection is a subclass of :class:`InvalidTokenError` whose message never contains the token
or any value taken from it, so it is safe to log or to send back to a client.

Example::

    jwt = JWT(secret, expires_in=3600, issuer="https://api.example")
    token = jwt.encode({"sub": "42", "roles": ["admin"]})
    claims = jwt.decode(token)          # raises InvalidTokenError subclasses
"""
import calendar
import datetime
import hmac
import json
import math
import time
import warnings
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, Union

from .signing import B64URL_ALPHABET, b64url_decode_alphabet_checked, b64url_encode, key_bytes

__all__ = [
    "JWT",
    "InvalidTokenError",
    "MalformedTokenError",
    "TokenTooLargeError",
    "InvalidAlgorithmError",
    "UnsupportedCriticalHeaderError",
    "UnknownKeyIdError",
    "InvalidSignatureError",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    "InvalidClaimError",
    "InvalidIssuerError",
    "InvalidAudienceError",
    "InvalidSubjectError",
    "MissingRequiredClaimError",
]

# RFC 7518 section 3.2: "A key of the same size as the hash output (for instance, 256 bits for
# "HS256") or larger MUST be used with this algorithm."  name -> (hashlib name, minimum key bytes)
ALGORITHMS = {"HS256": ("sha256", 32), "HS384": ("sha384", 48), "HS512": ("sha512", 64)}

# Checked on the raw length before any decoding, so a hostile token costs one len() call. 8 KiB
# is the usual ceiling for a whole request header line (nginx large_client_header_buffers).
DEFAULT_MAX_TOKEN_BYTES = 8192

# Clock-skew allowance for exp/nbf/iat. Kerberos tolerates 5 minutes; more than that turns
# "expired" into "expired a while ago", so larger values are refused at construction.
MAX_LEEWAY = 300.0

_TIME_CLAIMS = ("exp", "nbf", "iat")


class InvalidTokenError(Exception):
    """The token was rejected; the message never contains the token itself."""


class MalformedTokenError(InvalidTokenError):
    """Not a compact JWS: bad segments, base64url, JSON, or header fields of the wrong type."""


class TokenTooLargeError(InvalidTokenError):
    """The token is longer than ``max_token_bytes``; nothing of it was decoded."""


class InvalidAlgorithmError(InvalidTokenError):
    """The header's ``alg`` is not the algorithm this verifier is configured for."""


class UnsupportedCriticalHeaderError(InvalidTokenError):
    """The header has a ``crit`` parameter; no JWS extension is supported (RFC 7515 4.1.11)."""


class UnknownKeyIdError(InvalidTokenError):
    """The header's ``kid`` is missing or names no configured key."""


class InvalidSignatureError(InvalidTokenError):
    """The signature does not match the signing input under the selected key."""


class ExpiredSignatureError(InvalidTokenError):
    """The ``exp`` claim is in the past, beyond the leeway."""


class ImmatureSignatureError(InvalidTokenError):
    """The ``nbf`` or ``iat`` claim is in the future, beyond the leeway."""


class InvalidClaimError(InvalidTokenError):
    """A registered claim has the wrong type or value."""


class InvalidIssuerError(InvalidClaimError):
    """The ``iss`` claim is not a string or is not an accepted issuer."""


class InvalidAudienceError(InvalidClaimError):
    """The ``aud`` claim is malformed, or does not name an accepted audience."""


class InvalidSubjectError(InvalidClaimError):
    """The ``sub`` claim is not a string or is not the expected subject."""


class MissingRequiredClaimError(InvalidClaimError):
    """A claim that the verifier requires is absent; ``.claim`` names it."""

    def __init__(self, claim: str) -> None:
        super().__init__("token is missing the required %r claim" % claim)
        self.claim = claim


# RFC 7515 section 2: base64url without padding; the one codec of covet.security.signing.
_TOKEN_CHARS = B64URL_ALPHABET + b"."


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


# One decoder/encoder for the module: json.loads/dumps with keyword arguments build a new one
# per call. Python's json accepts NaN/Infinity literals, which RFC 8259 does not.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _parse_json(text: str) -> Any:
    # PERF: raw_decode skips decode()'s two whitespace regexes (0.6 us of a 5.5 us decode);
    # text with surrounding whitespace, or that fails, goes through decode() for the verdict.
    try:
        value, end = _DECODER.raw_decode(text)
        if end == len(text):
            return value
    except ValueError:
        pass
    return _DECODER.decode(text)


def _load_object(segment: bytes, what: str) -> Dict[str, Any]:
    try:
        # Refuses a length of 4k+1 and set padding bits (RFC 4648 section 3.5), so two
        # spellings of one value cannot both verify.
        data = b64url_decode_alphabet_checked(segment)  # the token's alphabet is checked as a whole
    except ValueError:
        raise MalformedTokenError("%s is not canonical base64url" % what) from None
    try:
        # Decode as UTF-8 first: json.loads(bytes) would also accept UTF-16/32 (RFC 7515 5.2
        # requires UTF-8). Duplicate names keep the last value, as json does.
        value = _parse_json(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise MalformedTokenError("%s is not valid UTF-8 JSON" % what) from None
    if type(value) is not dict:
        raise MalformedTokenError("%s is not a JSON object" % what)
    return value


def _describe_bad_shape(raw: bytes) -> str:
    if raw.count(b".") != 2:
        return "token must have 3 dot-separated segments, found %d" % (raw.count(b".") + 1)
    if raw.translate(None, _TOKEN_CHARS):
        return "token contains characters outside the base64url alphabet (no padding allowed)"
    return "token has an empty header or payload segment"


def to_seconds(value: Union[int, float, datetime.timedelta], name: str) -> float:
    """A duration given as seconds or a ``timedelta``, as float seconds; ``TypeError`` names ``name``.

    Example::

        to_seconds(datetime.timedelta(minutes=15), "expires_in")   # 900.0
    """
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if type(value) not in (int, float) or not math.isfinite(value):
        raise TypeError("%s must be a number of seconds or a timedelta" % name)
    return float(value)


def _numeric_date(value: Any) -> Any:
    # RFC 7519 NumericDate; naive datetimes are taken as UTC, like PyJWT does.
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return calendar.timegm(value.utctimetuple())
        return int(value.timestamp())
    return value


def _str_tuple(value: Union[str, Iterable[str]], name: str) -> Tuple[str, ...]:
    # A lone string is one value, never a sequence of characters (PyJWT CVE-2024-53861 came
    # from `iss in "expected"` matching substrings).
    values = (value,) if isinstance(value, str) else tuple(value)
    if not values or not all(type(v) is str for v in values):
        raise TypeError("%s must be a string or a non-empty collection of strings" % name)
    return values


def _time_claim(payload: Dict[str, Any], name: str) -> Optional[float]:
    value = payload.get(name)
    if value is None and name not in payload:
        return None
    # bool is an int subclass; `"exp": true` is not a date.
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    raise InvalidClaimError("%s claim must be a number" % name)


class JWT:
    """Encode and verify HMAC-signed JWTs with a pinned algorithm and optional key rotation.

    :param key: the secret (str or bytes), or a dict ``kid -> secret`` for rotation.
    :param algorithm: "HS256", "HS384" or "HS512"; tokens with any other ``alg`` are rejected.
    :param expires_in: seconds (or timedelta) added as ``exp`` (with ``iat``) by :meth:`encode`.
    :param issuer: expected ``iss`` (a string or several); added by :meth:`encode` if absent.
    :param audience: expected ``aud`` (a string or several); a single one is added by encode.
    :param leeway: clock-skew allowance in seconds for exp/nbf/iat, at most ``MAX_LEEWAY``.
    :param max_token_bytes: longer tokens are rejected before any decoding.
    :param kid: the key id that :meth:`encode` signs with when ``key`` is a dict.

    Example::

        jwt = JWT({"2024": old_secret, "2025": new_secret}, kid="2025")
        jwt.decode(jwt.encode({"sub": "42"}))["sub"]   # "42"
    """

    def __init__(
        self,
        key: Union[str, bytes, Mapping[str, Union[str, bytes]]],
        algorithm: str = "HS256",
        expires_in: Union[None, int, float, datetime.timedelta] = None,
        issuer: Union[None, str, Iterable[str]] = None,
        audience: Union[None, str, Iterable[str]] = None,
        leeway: Union[int, float, datetime.timedelta] = 0,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        kid: Optional[str] = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError("algorithm must be one of %s" % ", ".join(sorted(ALGORITHMS)))
        digest, min_len = ALGORITHMS[algorithm]
        self.algorithm = algorithm
        if kid is not None and type(kid) is not str:
            raise TypeError("kid must be a string")
        if isinstance(key, Mapping):
            self._rotating = True
            secrets = dict(key)
            if not secrets:
                raise ValueError("key dict is empty")
            if not all(type(k) is str for k in secrets):
                raise TypeError("key ids must be strings")
            if kid is not None and kid not in secrets:
                raise ValueError("kid names no key in the key dict")
        else:
            # One key with a kid behaves as a one-entry rotation dict, so tokens carry the kid.
            self._rotating = kid is not None
            secrets = {kid: key}
        self.kid = kid
        self._macs = {}  # type: Dict[Optional[str], Any]
        for key_id, secret in secrets.items():
            secret = key_bytes(secret, "key")
            if len(secret) < min_len:
                warnings.warn(
                    "%s key%s is %d bytes; RFC 7518 3.2 requires at least %d"
                    % (algorithm, "" if key_id is None else " %r" % key_id, len(secret), min_len),
                    UserWarning,
                    stacklevel=2,
                )
            # PERF: the keyed HMAC state is computed once; each call copies it.
            self._macs[key_id] = hmac.new(secret, digestmod=digest)
        self.expires_in = None if expires_in is None else to_seconds(expires_in, "expires_in")
        if self.expires_in is not None and self.expires_in <= 0:
            raise ValueError("expires_in must be positive")
        self.leeway = to_seconds(leeway, "leeway")
        if not 0 <= self.leeway <= MAX_LEEWAY:
            raise ValueError("leeway must be between 0 and %d seconds" % MAX_LEEWAY)
        if type(max_token_bytes) is not int or max_token_bytes < 16:
            raise ValueError("max_token_bytes must be an int of at least 16")
        self.max_token_bytes = max_token_bytes
        self._issuers = None if issuer is None else _str_tuple(issuer, "issuer")
        self._audiences = None if audience is None else _str_tuple(audience, "audience")
        self.issuer = issuer
        self.audience = audience

        # The header each kid signs with, and the header segments that are known to pass every
        # header check (the pinned alg, no crit, the kid of that key): decode looks these up in
        # a dict and parses only unfamiliar headers. Orders cover covet/PyJWT (sorted) and the
        # RFC 7515 example's typ-first spelling.
        self._header_segments = {}  # type: Dict[Optional[str], bytes]
        self._known_headers = {}  # type: Dict[bytes, Any]
        for key_id, mac in self._macs.items():
            header = {"alg": algorithm, "typ": "JWT"}
            if key_id is not None:
                header["kid"] = key_id
            self._header_segments[key_id] = b64url_encode(_ENCODER.encode(header).encode())
            variants = [header, {"typ": "JWT", "alg": algorithm}, {"alg": algorithm}]
            if key_id is not None:
                variants = [header, dict(sorted(header.items())), {"alg": algorithm, "kid": key_id}]
            for variant in variants:
                self._known_headers[b64url_encode(_ENCODER.encode(variant).encode())] = mac

    def encode(
        self,
        claims: Mapping[str, Any],
        headers: Optional[Mapping[str, Any]] = None,
        kid: Optional[str] = None,
    ) -> str:
        """Sign ``claims`` (a JSON-serialisable mapping) and return the compact token.

        datetime values of exp/nbf/iat become NumericDates; with ``expires_in`` set, ``exp`` and
        ``iat`` are added unless present. ``headers`` may add parameters other than alg, kid
        and crit. ``kid`` picks the signing key when ``key`` is a dict.

        Example::

            token = JWT(secret).encode({"sub": "42"}, headers={"cty": "x"})
        """
        if not isinstance(claims, Mapping):
            raise TypeError("claims must be a mapping")
        if kid is None:
            kid = self.kid
        if self._rotating:
            if kid is None:
                raise ValueError("the key is a dict: pass kid= to JWT() or to encode()")
            if kid not in self._macs:
                raise ValueError("kid names no configured key")
        elif kid is not None:
            raise ValueError("kid needs a key dict or JWT(..., kid=...)")
        payload = dict(claims)
        for name in _TIME_CLAIMS:
            if name in payload:
                payload[name] = _numeric_date(payload[name])
        if self.expires_in is not None:
            now = time.time()
            payload.setdefault("iat", int(now))
            payload.setdefault("exp", int(now + self.expires_in))
        if self._issuers is not None and len(self._issuers) == 1:
            payload.setdefault("iss", self._issuers[0])
        if self._audiences is not None and len(self._audiences) == 1:
            payload.setdefault("aud", self._audiences[0])
        if headers:
            reserved = {"alg", "kid", "crit"}.intersection(headers)
            if reserved:
                raise ValueError("headers may not set %s" % ", ".join(sorted(reserved)))
            header = {"alg": self.algorithm, "typ": "JWT"}
            if kid is not None:
                header["kid"] = kid
            header.update(headers)
            header_segment = b64url_encode(_ENCODER.encode(header).encode())
        else:
            header_segment = self._header_segments[kid]
        signing_input = header_segment + b"." + b64url_encode(_ENCODER.encode(payload).encode())
        mac = self._macs[kid].copy()
        mac.update(signing_input)
        return (signing_input + b"." + b64url_encode(mac.digest())).decode("ascii")

    def decode(
        self,
        token: Union[str, bytes],
        audience: Union[None, str, Iterable[str]] = None,
        issuer: Union[None, str, Iterable[str]] = None,
        verify_exp: bool = True,
        required: Union[str, Iterable[str]] = (),
        subject: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Verify ``token`` and return its claims, or raise an :class:`InvalidTokenError` subclass.

        ``audience`` and ``issuer`` replace the constructor's expectations for this call and
        ``subject`` adds one; ``required`` names claims that must be present;
        ``verify_exp=False`` skips only the expiry check.

        Example::

            claims = jwt.decode(request_token, required=("sub", "exp"))
        """
        # Size first, before any decoding (the token may be the whole of a hostile header).
        if type(token) is str:
            if len(token) > self.max_token_bytes:
                raise TokenTooLargeError("token is longer than %d bytes" % self.max_token_bytes)
            try:
                raw = token.encode("ascii")
            except UnicodeEncodeError:
                raise MalformedTokenError("token contains non-ASCII characters") from None
        elif isinstance(token, (bytes, bytearray)):
            if len(token) > self.max_token_bytes:
                raise TokenTooLargeError("token is longer than %d bytes" % self.max_token_bytes)
            raw = bytes(token)
        else:
            raise MalformedTokenError("token must be str or bytes, not %s" % type(token).__name__)

        # PERF: one C pass checks the alphabet of all three segments (base64url, no '=').
        # An empty signature is well-formed here and fails the signature check below, so an
        # unsecured `alg: none` token is reported as the wrong algorithm.
        parts = raw.split(b".")
        if len(parts) != 3 or raw.translate(None, _TOKEN_CHARS) or not parts[0] or not parts[1]:
            raise MalformedTokenError(_describe_bad_shape(raw))
        header_segment, payload_segment, signature = parts

        mac = self._known_headers.get(header_segment)
        if mac is None:
            mac = self._check_header(header_segment)
        mac = mac.copy()
        mac.update(raw[: len(header_segment) + 1 + len(payload_segment)])
        # Comparing the encoded form also rejects non-canonical spellings of the right MAC.
        if not hmac.compare_digest(b64url_encode(mac.digest()), signature):
            raise InvalidSignatureError("signature verification failed")

        payload = _load_object(payload_segment, "payload")
        self._check_claims(payload, audience, issuer, verify_exp, required, subject)
        return payload

    def _check_header(self, segment: bytes) -> Any:
        header = _load_object(segment, "header")
        alg = header.get("alg")
        if type(alg) is not str:
            raise MalformedTokenError("header alg must be a string")
        # The configured algorithm is the only one accepted: "none", RS256 (the public-key /
        # HMAC confusion of PyJWT CVE-2017-11424, CVE-2022-29217) and HS256<->HS512 all fail.
        if alg != self.algorithm:
            raise InvalidAlgorithmError("token algorithm is not %s" % self.algorithm)
        # RFC 7515 4.1.11: a recipient that does not understand a listed extension MUST reject
        # the token; covet implements none (PyJWT CVE-2026-32597 ignored crit).
        if "crit" in header:
            raise UnsupportedCriticalHeaderError("crit header parameters are not supported")
        if not self._rotating:
            return self._macs[None]
        kid = header.get("kid")
        if kid is None:
            raise UnknownKeyIdError("token has no kid header")
        if type(kid) is not str:
            raise MalformedTokenError("header kid must be a string")
        mac = self._macs.get(kid)
        if mac is None:
            raise UnknownKeyIdError("token kid names no configured key")
        return mac

    def _check_claims(
        self,
        payload: Dict[str, Any],
        audience: Union[None, str, Iterable[str]],
        issuer: Union[None, str, Iterable[str]],
        verify_exp: bool,
        required: Union[str, Iterable[str]],
        subject: Optional[str],
    ) -> None:
        now = time.time()
        leeway = self.leeway
        exp = _time_claim(payload, "exp")
        if exp is not None and verify_exp and exp <= now - leeway:
            raise ExpiredSignatureError("token has expired")
        nbf = _time_claim(payload, "nbf")
        if nbf is not None and nbf > now + leeway:
            raise ImmatureSignatureError("token is not valid yet (nbf)")
        iat = _time_claim(payload, "iat")
        if iat is not None and iat > now + leeway:
            raise ImmatureSignatureError("token was issued in the future (iat)")

        if "jti" in payload and type(payload["jti"]) is not str:
            raise InvalidClaimError("jti claim must be a string")

        # iss/sub/aud: type first, then == on strings (joserfc CVE-2026-75509 let a list pass).
        issuers = self._issuers if issuer is None else _str_tuple(issuer, "issuer")
        if "iss" in payload:
            iss = payload["iss"]
            if type(iss) is not str:
                raise InvalidIssuerError("iss claim must be a string")
            if issuers is not None and not any(iss == expected for expected in issuers):
                raise InvalidIssuerError("token issuer is not accepted")
        elif issuers is not None:
            raise MissingRequiredClaimError("iss")

        if "sub" in payload:
            sub = payload["sub"]
            if type(sub) is not str:
                raise InvalidSubjectError("sub claim must be a string")
            if subject is not None and not sub == subject:
                raise InvalidSubjectError("token subject is not the expected one")
        elif subject is not None:
            raise MissingRequiredClaimError("sub")

        audiences = self._audiences if audience is None else _str_tuple(audience, "audience")
        if "aud" in payload:
            aud = payload["aud"]
            if type(aud) is str:
                aud = [aud]
            elif type(aud) is not list or not aud or not all(type(a) is str for a in aud):
                raise InvalidAudienceError("aud claim must be a string or a list of strings")
            # RFC 7519 4.1.3: a recipient that does not identify itself with a value in "aud"
            # MUST reject the token, including when it expects no audience at all.
            if audiences is None:
                raise InvalidAudienceError("token has an audience but none is expected")
            if not any(a == expected for a in aud for expected in audiences):
                raise InvalidAudienceError("token audience is not accepted")
        elif audiences is not None:
            raise MissingRequiredClaimError("aud")

        if required:
            for name in (required,) if isinstance(required, str) else required:
                if name not in payload:
                    raise MissingRequiredClaimError(name)
