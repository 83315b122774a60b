"""The WebSocket opening handshake (RFC 6455 §4): checking the client's request, the 101 response.

Part of the sans-IO codec; every name here is importable from ``covet.server.websocket``. Headers
come as covet's HTTP parser gives them: a list of ``(lowercase name, value)`` byte pairs.
"""
import base64
import binascii
import hashlib
import re
from typing import Iterable, List, Optional, Sequence, Tuple

from .http11 import check_header_name, check_header_value, response_head

__all__ = [
    "GUID", "HandshakeError", "HandshakeRequest", "accept_key", "is_upgrade_request",
    "check_handshake", "handshake_response", "header_tokens",
]

Header = Tuple[bytes, bytes]

# RFC 6455 §1.3: the globally unique identifier appended to the client's key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# RFC 6455 §4.1: "The request MUST include a header field with the name |Sec-WebSocket-Key|. The value
# of this header field MUST be a nonce consisting of a randomly selected 16-byte value that has been
# base64-encoded": 16 bytes are 24 characters with "==" padding.
KEY_BYTES = 16

# RFC 6455 §4.1 / §11.3.5: the only version this codec speaks.
VERSION = b"13"

# RFC 9110 §5.6.2 token (an element of Upgrade, Connection, Sec-WebSocket-Protocol).
_is_token = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+").fullmatch


class HandshakeError(Exception):
    """The request cannot be upgraded: answer ``status`` with ``headers`` and ``detail``, then close.

    Example::

        try:
            request = check_handshake(method, headers)
        except HandshakeError as exc:
            send(response_head(exc.status, exc.headers))
    """

    def __init__(self, status: int, detail: str, headers: Sequence[Header] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers: List[Header] = list(headers)


class HandshakeRequest:
    """What a valid opening handshake asked for.

    ``subprotocols`` are the offered ones in the client's order of preference (RFC 6455 §4.1 item
    10); ``extensions`` is the raw ``Sec-WebSocket-Extensions`` value ("" without one; several
    header lines are joined with ", ", RFC 9110 §5.3); ``origin`` is None when the client sent none.

    Example::

        request = check_handshake("GET", headers)
        head = handshake_response(request.key)
    """

    __slots__ = ("key", "subprotocols", "extensions", "origin")

    def __init__(self, key: str, subprotocols: List[str], extensions: str,
                 origin: Optional[str]) -> None:
        self.key = key
        self.subprotocols = subprotocols
        self.extensions = extensions
        self.origin = origin

    def __repr__(self) -> str:
        return "HandshakeRequest(key=%r, subprotocols=%r, extensions=%r, origin=%r)" % (
            self.key, self.subprotocols, self.extensions, self.origin)


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's key (RFC 6455 §4.2.2 step 5.4).

    Example::

        accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    """
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def _values(headers: Iterable[Header], name: bytes) -> List[bytes]:
    return [value for key, value in headers if key == name]


def header_tokens(values: Iterable[bytes]) -> List[str]:
    """The comma-separated elements of list-valued header lines, stripped, empty ones dropped.

    RFC 9110 §5.6.1: a recipient accepts empty list elements and surrounding whitespace.
    Example: ``header_tokens([b"keep-alive, Upgrade"]) == ["keep-alive", "Upgrade"]``
    """
    out = []
    for value in values:
        for item in value.decode("latin-1").split(","):
            item = item.strip(" \t")
            if item:
                out.append(item)
    return out


def is_upgrade_request(method: str, headers: Iterable[Header]) -> bool:
    """True when the request asks for a WebSocket: ``Upgrade`` holds the token ``websocket``.

    Only the intent is tested here (to route the request to a WebSocket endpoint or answer 426);
    ``check_handshake`` then checks the rest. Example:
    ``is_upgrade_request("GET", [(b"upgrade", b"WebSocket")]) is True``
    """
    return any(t.lower() == "websocket" for t in header_tokens(_values(headers, b"upgrade")))


def _key(values: List[bytes]) -> str:
    # RFC 6455 §11.3.1: "The |Sec-WebSocket-Key| header field MUST NOT appear more than once".
    if len(values) != 1:
        raise HandshakeError(400, "Sec-WebSocket-Key must appear exactly once" if values
                             else "Sec-WebSocket-Key is missing")
    raw = values[0].strip(b" \t")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    # validate=True refuses characters outside the alphabet and bad padding; re-encoding refuses
    # non-canonical forms too (stray bits in the last character), so exactly one spelling of
    # each 16-byte nonce passes.
    if len(decoded) != KEY_BYTES or base64.b64encode(decoded) != raw:
        raise HandshakeError(400, "Sec-WebSocket-Key must be the base64 of 16 bytes")
    return raw.decode("ascii")


def check_handshake(method: str, headers: Sequence[Header]) -> HandshakeRequest:
    """Check an opening handshake (RFC 6455 §4.2.1) and return what it asked for.

    Raises ``HandshakeError``: 400 for a method other than GET, a missing ``websocket`` upgrade
    token or ``upgrade`` connection option, a bad or repeated key, or a subprotocol that is not
    a token; 426 with ``Sec-WebSocket-Version: 13`` when the version is missing or not 13
    (RFC 6455 §4.2.2 step 4).

    Example::

        check_handshake("GET", [(b"host", b"a"), (b"upgrade", b"websocket"),
                                (b"connection", b"Upgrade"),
                                (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                                (b"sec-websocket-version", b"13")])
    """
    # RFC 6455 §4.1 item 2: "The method of the request MUST be GET".
    if method != "GET":
        raise HandshakeError(400, "a WebSocket handshake must use GET")
    if not is_upgrade_request(method, headers):
        raise HandshakeError(400, "Upgrade must include websocket")
    if not any(t.lower() == "upgrade"
               for t in header_tokens(_values(headers, b"connection"))):
        raise HandshakeError(400, "Connection must include upgrade")
    key = _key(_values(headers, b"sec-websocket-key"))
    versions = header_tokens(_values(headers, b"sec-websocket-version"))
    if versions != ["13"]:
        raise HandshakeError(426, "Sec-WebSocket-Version must be 13",
                             [(b"sec-websocket-version", VERSION)])
    subprotocols = header_tokens(_values(headers, b"sec-websocket-protocol"))
    for name in subprotocols:
        # RFC 6455 §4.1 item 10: each subprotocol is a token (RFC 2616 separators excluded).
        if _is_token(name) is None:
            raise HandshakeError(400, "Sec-WebSocket-Protocol elements must be tokens")
    extensions = ", ".join(v.decode("latin-1").strip(" \t")
                           for v in _values(headers, b"sec-websocket-extensions"))
    origins = _values(headers, b"origin")
    origin = origins[0].decode("latin-1") if len(origins) == 1 else None
    if len(origins) > 1:
        # RFC 6454 §7.3: the user agent sends at most one Origin; two make the check meaningless.
        raise HandshakeError(400, "Origin must appear at most once")
    return HandshakeRequest(key, subprotocols, extensions, origin)


def handshake_response(key: str, subprotocol: Optional[str] = None,
                       extensions: Optional[str] = None,
                       headers: Iterable[Header] = ()) -> bytes:
    """The whole ``101 Switching Protocols`` head that accepts a handshake (RFC 6455 §4.2.2 step 5).

    ``subprotocol`` must be one the client offered, ``extensions`` the value from
    ``negotiate_deflate``; extra ``headers`` are ``(name, value)`` byte pairs, checked for CR, LF
    and other controls (``ValueError``), as a header injection would end the head early.

    Example::

        handshake_response("dGhlIHNhbXBsZSBub25jZQ==", subprotocol="chat")
        # b"HTTP/1.1 101 Switching Protocols\\r\\nupgrade: websocket\\r\\n...\\r\\n\\r\\n"
    """
    head = [(b"upgrade", b"websocket"), (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", accept_key(key).encode("ascii"))]
    if subprotocol is not None:
        if _is_token(subprotocol) is None:
            raise ValueError("a subprotocol must be a token, got %r" % (subprotocol,))
        head.append((b"sec-websocket-protocol", subprotocol.encode("ascii")))
    if extensions:
        value = extensions.encode("latin-1")
        if not check_header_value(value):
            raise ValueError("invalid Sec-WebSocket-Extensions value %r" % (extensions,))
        head.append((b"sec-websocket-extensions", value))
    for name, value in headers:
        if not (isinstance(name, bytes) and isinstance(value, bytes)):
            raise TypeError("handshake headers are (bytes, bytes) pairs, got %r" % ((name, value),))
        if not check_header_name(name) or not check_header_value(value):
            raise ValueError("invalid header %r: %r" % (name, value))
        head.append((name.lower(), value))
    return response_head(101, head)
