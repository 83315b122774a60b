"""SCRAM-SHA-256, the client side of PostgreSQL's SASL authentication, sans-IO (RFC 5802 with the
SHA-256 of RFC 7677), and channel binding ``tls-server-end-point`` (RFC 5929 §4.1) as
``SCRAM-SHA-256-PLUS``.

The password never crosses the wire: the client proves it knows it, and checks that the server
knows it too (the server's signature), so a server that merely accepts any login is refused.
With channel binding the proof also covers the TLS certificate the client saw, so a man in the
middle holding another certificate cannot relay the exchange.

The exchange, as the connection drives it::

    scram = ScramClient(auth.mechanisms, password, certificate=der_or_none)    # AuthenticationSASL
    write(sasl_initial_response(scram.mechanism, scram.client_first_message()))
    write(sasl_response(scram.client_final_message(cont.data)))                # AuthenticationSASLContinue
    scram.verify_server_final(final.data)                                      # AuthenticationSASLFinal
    # then AuthenticationOk, which must be refused unless scram.done

``certificate`` is the server's certificate in DER (``ssl_object.getpeercert(binary_form=True)``)
when the connection is on TLS. ``client_final_message`` runs PBKDF2 (``iterations`` rounds of
HMAC-SHA-256; about 2 ms for PostgreSQL's default 4096), the one costly step.
"""
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import stringprep
import unicodedata
from typing import Optional, Sequence, Tuple, Union

from .errors import EncodeError, ScramError

__all__ = [
    "ScramClient", "normalize_password", "tls_server_end_point",
    "SCRAM_SHA_256", "SCRAM_SHA_256_PLUS", "DEFAULT_MIN_ITERATIONS", "DEFAULT_MAX_ITERATIONS",
]

SCRAM_SHA_256 = "SCRAM-SHA-256"
SCRAM_SHA_256_PLUS = "SCRAM-SHA-256-PLUS"

# RFC 7677 §4: "the hash iteration-count announced by a server SHOULD be at least 4096", which is
# also PostgreSQL's default scram_iterations. Fewer weakens what a stolen pg_authid row costs to
# crack; a server may be configured lower (PostgreSQL 16+), hence ScramClient(min_iterations=...).
DEFAULT_MIN_ITERATIONS = 4096
# A hostile server could name any count and make the client burn CPU on PBKDF2 before failing
# it: ten million rounds is about 5 seconds of one core here, far above any sane configuration
# (PostgreSQL's default is 4096; the slowest common advice is around a million).
DEFAULT_MAX_ITERATIONS = 10_000_000
# libpq's SCRAM_RAW_NONCE_LEN: 18 random bytes, 24 characters of base64.
_NONCE_BYTES = 18

# RFC 5802 §7: printable = %x21-2B / %x2D-7E (visible ASCII but ","), the alphabet of a nonce.
_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_ITERATIONS = re.compile(r"[1-9][0-9]{0,9}")
_CHANNEL_BINDING_MODES = ("disable", "prefer", "require")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ScramError("the server's %s is not valid base64" % what) from None


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def normalize_password(password: Union[str, bytes]) -> bytes:
    """The bytes SCRAM hashes for ``password``: SASLprep (RFC 4013) the way PostgreSQL's own
    ``pg_saslprep`` applies it, so that covet derives the same keys as the server did.

    PostgreSQL tolerates passwords that SASLprep refuses: when a password is not valid UTF-8,
    maps to nothing, or holds a prohibited, unassigned (in Unicode 3.2) or badly mixed
    right-to-left character, it uses the password's bytes as they are, and so does this function.
    A pure ASCII password is used as it is, as in PostgreSQL's quick path. Otherwise: non-ASCII
    spaces become U+0020, "commonly mapped to nothing" characters go (RFC 3454 B.1), the
    prohibition and bidirectional checks run on that result (as pg_saslprep does) and NFKC
    normalises it.

    Example::

        assert normalize_password("I\\u00adX") == b"IX"           # soft hyphen mapped to nothing
        assert normalize_password("\\u2168") == b"IX"             # ROMAN NUMERAL NINE, NFKC
        assert normalize_password("a\\u0007\\u00e9") == "a\\u0007\\u00e9".encode()   # prohibited: as is
    """
    if isinstance(password, (bytes, bytearray)):
        raw = bytes(password)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    else:
        text = password
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodeError("the password is not valid Unicode (it holds a lone surrogate)") from None
    if text.isascii():
        return raw
    mapped = [" " if stringprep.in_table_c12(ch) else ch for ch in text if not stringprep.in_table_b1(ch)
              or stringprep.in_table_c12(ch)]
    if not mapped:
        return raw
    for ch in mapped:
        if (stringprep.in_table_c12(ch) or stringprep.in_table_c21_c22(ch) or stringprep.in_table_c3(ch)
                or stringprep.in_table_c4(ch) or stringprep.in_table_c5(ch) or stringprep.in_table_c6(ch)
                or stringprep.in_table_c7(ch) or stringprep.in_table_c8(ch) or stringprep.in_table_c9(ch)
                or stringprep.in_table_a1(ch)):
            return raw
    # RFC 3454 §6: a string with a right-to-left character holds no left-to-right one, and
    # begins and ends with a right-to-left character.
    if any(stringprep.in_table_d1(ch) for ch in mapped):
        if (any(stringprep.in_table_d2(ch) for ch in mapped) or not stringprep.in_table_d1(mapped[0])
                or not stringprep.in_table_d1(mapped[-1])):
            return raw
    return unicodedata.normalize("NFKC", "".join(mapped)).encode("utf-8")


# --- channel binding: the certificate's hash (RFC 5929 §4.1) ------------------------------------

# Signature algorithm OID -> the hash tls-server-end-point uses: the signature's own hash,
# "if the certificate's signatureAlgorithm uses a single hash function and that hash function
# neither is MD5 nor SHA-1"; SHA-256 for MD5 and SHA-1.
_SIGNATURE_HASHES = {
    "1.2.840.113549.1.1.4": "sha256",     # md5WithRSAEncryption
    "1.2.840.113549.1.1.5": "sha256",     # sha1WithRSAEncryption
    "1.3.14.3.2.29": "sha256",            # sha1WithRSASignature (OIW)
    "1.2.840.113549.1.1.11": "sha256",    # sha256WithRSAEncryption
    "1.2.840.113549.1.1.12": "sha384",    # sha384WithRSAEncryption
    "1.2.840.113549.1.1.13": "sha512",    # sha512WithRSAEncryption
    "1.2.840.113549.1.1.14": "sha224",    # sha224WithRSAEncryption
    "1.2.840.10045.4.1": "sha256",        # ecdsa-with-SHA1
    "1.2.840.10045.4.3.1": "sha224",      # ecdsa-with-SHA224
    "1.2.840.10045.4.3.2": "sha256",      # ecdsa-with-SHA256
    "1.2.840.10045.4.3.3": "sha384",      # ecdsa-with-SHA384
    "1.2.840.10045.4.3.4": "sha512",      # ecdsa-with-SHA512
    "1.2.840.10040.4.3": "sha256",        # dsa-with-sha1
    "2.16.840.1.101.3.4.3.1": "sha224",   # dsa-with-sha224
    "2.16.840.1.101.3.4.3.2": "sha256",   # dsa-with-sha256
}
# RSASSA-PSS names its hash in its parameters (RFC 4055 §3.1; SHA-1 when absent).
_RSASSA_PSS = "1.2.840.113549.1.1.10"
_HASH_OIDS = {
    "1.3.14.3.2.26": "sha256",            # SHA-1, replaced as above
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.4": "sha224",
}
_NO_SINGLE_HASH = {"1.3.101.112": "Ed25519", "1.3.101.113": "Ed448"}


class _BadDER(Exception):
    pass


def _tlv(der: bytes, pos: int, end: int, tag: int) -> Tuple[int, int]:
    """(start, stop) of the value of the DER element at ``pos``, which must have ``tag``."""
    if end - pos < 2 or der[pos] != tag:
        raise _BadDER()
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if not 1 <= n <= 4 or end - pos < n:
            raise _BadDER()
        length = int.from_bytes(der[pos:pos + n], "big")
        pos += n
    if length > end - pos:
        raise _BadDER()
    return pos, pos + length


def _oid(der: bytes, pos: int, end: int) -> Tuple[str, int]:
    """The dotted OID at ``pos`` and the position after it."""
    start, stop = _tlv(der, pos, end, 0x06)
    if start == stop or der[stop - 1] & 0x80:
        raise _BadDER()
    arcs = []
    value = 0
    for byte in der[start:stop]:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first] + arcs[1:])), stop


def _signature_hash(der: bytes) -> str:
    # Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm AlgorithmIdentifier,
    # signatureValue BIT STRING } and AlgorithmIdentifier ::= SEQUENCE { OID, parameters } (RFC 5280 §4.1)
    start, stop = _tlv(der, 0, len(der), 0x30)
    start = _tlv(der, start, stop, 0x30)[1]
    start, stop = _tlv(der, start, stop, 0x30)
    oid, pos = _oid(der, start, stop)
    if oid in _SIGNATURE_HASHES:
        return _SIGNATURE_HASHES[oid]
    if oid == _RSASSA_PSS:
        # RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
        hash_oid = "1.3.14.3.2.26"
        if pos < stop:
            pos, end = _tlv(der, pos, stop, 0x30)
            if pos < end and der[pos] == 0xA0:
                pos, end = _tlv(der, pos, end, 0xA0)
                pos, end = _tlv(der, pos, end, 0x30)
                hash_oid = _oid(der, pos, end)[0]
        if hash_oid in _HASH_OIDS:
            return _HASH_OIDS[hash_oid]
        raise ScramError("channel binding: the server certificate's RSASSA-PSS signature uses hash %s, "
                         "which covet does not know" % hash_oid)
    if oid in _NO_SINGLE_HASH:
        raise ScramError("channel binding tls-server-end-point is not defined for a certificate signed with "
                         "%s, which uses no single hash function (RFC 5929 §4.1); use another certificate "
                         "or channel_binding='disable'" % _NO_SINGLE_HASH[oid])
    raise ScramError("channel binding: the server certificate's signature algorithm %s is not one covet knows"
                     % oid)


def tls_server_end_point(certificate: bytes) -> bytes:
    """The channel-binding data of ``tls-server-end-point`` (RFC 5929 §4.1): the hash of the
    server's DER certificate with its signature's hash function (SHA-256 instead of MD5 or SHA-1).

    Example::

        der = ssl_object.getpeercert(binary_form=True)
        binding = tls_server_end_point(der)      # 32 bytes for a sha256WithRSAEncryption certificate
    """
    der = bytes(certificate)
    try:
        name = _signature_hash(der)
    except (_BadDER, IndexError):
        raise ScramError("channel binding: the server certificate is not valid DER") from None
    return hashlib.new(name, der).digest()


# --- the exchange -----------------------------------------------------------------------------

class ScramClient:
    """One SCRAM-SHA-256 exchange, client side (RFC 5802 §3, §5). Call ``client_first_message``,
    ``client_final_message`` and ``verify_server_final`` in that order; any fault raises
    :class:`ScramError`.

    :param mechanisms: the mechanisms AuthenticationSASL offered.
    :param password: the password (``str``, or ``bytes`` used as PostgreSQL would, see
        :func:`normalize_password`).
    :param certificate: the server's DER certificate when on TLS; with it, and
        ``SCRAM-SHA-256-PLUS`` offered, the exchange binds to the TLS channel.
    :param channel_binding: ``"prefer"`` (bind when possible), ``"require"`` (refuse otherwise)
        or ``"disable"``, as libpq's setting of that name.
    :param username: sent in the client-first-message; PostgreSQL ignores it (the startup
        message's user counts), so it stays empty, as libpq sends it.
    :param min_iterations: the fewest PBKDF2 iterations accepted from the server.
    :param max_iterations: the most.
    :param client_nonce: for test vectors only; by default 18 bytes from ``secrets``.

    Example::

        scram = ScramClient(["SCRAM-SHA-256"], "pencil", client_nonce="rOprNGfwEbeRWgbNEkqO")
        assert scram.client_first_message() == b"n,,n=,r=rOprNGfwEbeRWgbNEkqO"
    """

    __slots__ = ("mechanism", "done", "min_iterations", "max_iterations", "_password", "_gs2_header",
                 "_binding", "_username", "_nonce", "_first_bare", "_server_signature")

    def __init__(self, mechanisms: Sequence[str], password: Union[str, bytes], *,
                 certificate: Optional[bytes] = None, channel_binding: str = "prefer", username: str = "",
                 min_iterations: int = DEFAULT_MIN_ITERATIONS, max_iterations: int = DEFAULT_MAX_ITERATIONS,
                 client_nonce: Optional[str] = None) -> None:
        if channel_binding not in _CHANNEL_BINDING_MODES:
            raise ValueError("channel_binding must be one of %s, not %r" % (", ".join(_CHANNEL_BINDING_MODES),
                                                                             channel_binding))
        for value in (min_iterations, max_iterations):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError("iteration bounds must be positive ints, not %r" % (value,))
        if min_iterations > max_iterations:
            raise ValueError("min_iterations=%d exceeds max_iterations=%d" % (min_iterations, max_iterations))
        if client_nonce is not None and not _PRINTABLE.fullmatch(client_nonce):
            raise ValueError("a nonce is printable ASCII without ',' (RFC 5802 §7)")
        offered = tuple(mechanisms)
        binding_possible = certificate is not None and channel_binding != "disable"
        self._binding = b""
        if binding_possible and SCRAM_SHA_256_PLUS in offered:
            self.mechanism = SCRAM_SHA_256_PLUS
            self._gs2_header = "p=tls-server-end-point,,"
            self._binding = tls_server_end_point(certificate)  # type: ignore[arg-type]
        elif channel_binding == "require":
            raise ScramError("channel binding is required, but " + (
                "the server does not offer SCRAM-SHA-256-PLUS" if certificate is not None
                else "the connection is not on TLS (no server certificate to bind to)"))
        elif SCRAM_SHA_256 in offered:
            self.mechanism = SCRAM_SHA_256
            # RFC 5802 §6: "y" tells the server that the client could bind but believes the
            # server cannot; a server that does offer PLUS then knows the offer was stripped.
            self._gs2_header = "y,," if binding_possible else "n,,"
        else:
            raise ScramError("the server offers SASL mechanisms %s; covet speaks %s and %s"
                             % (", ".join(offered) or "none", SCRAM_SHA_256, SCRAM_SHA_256_PLUS))
        self.done = False
        self.min_iterations = min_iterations
        self.max_iterations = max_iterations
        self._password: Optional[Union[str, bytes]] = password
        self._username = username.replace("=", "=3D").replace(",", "=2C")  # RFC 5802 §5.1 saslname
        self._nonce = client_nonce or base64.b64encode(secrets.token_bytes(_NONCE_BYTES)).decode("ascii")
        self._first_bare: Optional[str] = None
        self._server_signature: Optional[bytes] = None

    def client_first_message(self) -> bytes:
        """The client-first-message, for SASLInitialResponse: GS2 header, user name and nonce."""
        if self._first_bare is not None:
            raise ScramError("the SCRAM exchange has already begun")
        self._first_bare = "n=%s,r=%s" % (self._username, self._nonce)
        return (self._gs2_header + self._first_bare).encode("utf-8")

    def client_final_message(self, server_first: bytes) -> bytes:
        """The client-final-message, for SASLResponse, answering the server-first-message (the
        data of AuthenticationSASLContinue): the channel binding, the nonce and the proof."""
        if self._first_bare is None or self._password is None:
            raise ScramError("the server sent a SCRAM challenge out of turn")
        try:
            text = bytes(server_first).decode("ascii")
        except UnicodeDecodeError:
            raise ScramError("the server-first-message is not ASCII") from None
        parts = text.split(",")
        if parts[0].startswith("m="):
            raise ScramError("the server requires a SCRAM extension covet does not know (RFC 5802 §5.1: "
                             "the client must then fail)")
        if (len(parts) < 3 or not parts[0].startswith("r=") or not parts[1].startswith("s=")
                or not parts[2].startswith("i=")):
            raise ScramError("the server-first-message is malformed: %r" % text[:200])
        nonce = parts[0][2:]
        if not _PRINTABLE.fullmatch(nonce) or not nonce.startswith(self._nonce) or nonce == self._nonce:
            raise ScramError("the server's nonce does not extend covet's (RFC 5802 §5.1)")
        salt = _b64decode(parts[1][2:], "salt")
        if not salt:
            raise ScramError("the server sent an empty salt")
        if not _ITERATIONS.fullmatch(parts[2][2:]):
            raise ScramError("the server's iteration count %r is not a positive integer" % parts[2][2:30])
        iterations = int(parts[2][2:])
        if iterations < self.min_iterations:
            raise ScramError("the server asks for %d PBKDF2 iterations, fewer than min_iterations=%d "
                             "(RFC 7677 §4 asks for at least 4096)" % (iterations, self.min_iterations))
        if iterations > self.max_iterations:
            raise ScramError("the server asks for %d PBKDF2 iterations, more than max_iterations=%d"
                             % (iterations, self.max_iterations))
        salted = hashlib.pbkdf2_hmac("sha256", normalize_password(self._password), salt, iterations)
        self._password = None  # no longer needed: do not keep it alive
        client_key = _hmac(salted, b"Client Key")
        binding = base64.b64encode(self._gs2_header.encode("ascii") + self._binding).decode("ascii")
        without_proof = "c=%s,r=%s" % (binding, nonce)
        auth_message = ("%s,%s,%s" % (self._first_bare, text, without_proof)).encode("utf-8")
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return ("%s,p=%s" % (without_proof, base64.b64encode(proof).decode("ascii"))).encode("ascii")

    def verify_server_final(self, server_final: bytes) -> None:
        """Check the server-final-message (the data of AuthenticationSASLFinal): the server's
        signature proves it knows the password. Sets ``done``; raises ``ScramError`` otherwise."""
        if self._server_signature is None or self.done:
            raise ScramError("the server sent its final SCRAM message out of turn")
        try:
            text = bytes(server_final).decode("ascii")
        except UnicodeDecodeError:
            raise ScramError("the server-final-message is not ASCII") from None
        attribute = text.split(",", 1)[0]
        if attribute.startswith("e="):
            raise ScramError("the server refused the SCRAM exchange: %s" % attribute[2:200])
        if not attribute.startswith("v="):
            raise ScramError("the server-final-message is malformed: %r" % text[:200])
        if not hmac.compare_digest(_b64decode(attribute[2:], "signature"), self._server_signature):
            raise ScramError("the server's SCRAM signature is wrong: it does not know the password, so it "
                             "is not the server it claims to be")
        self.done = True
