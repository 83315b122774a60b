"""permessage-deflate (RFC 7692): negotiation, and the per-connection compressor and decompressor.

Part of the sans-IO codec; every name here is importable from ``covet.server.websocket``.
Negotiation follows RFC 7692 §5 and §7.1: an offer with an unknown, repeated or invalid parameter
is declined (the next offer in the header is tried), never half-accepted.
"""
import re
import zlib
from typing import Dict, List, Optional, Tuple

__all__ = [
    "DeflateParams", "negotiate_deflate", "deflate_offer", "accept_deflate_response",
    "parse_extensions", "Deflater", "Inflater", "InflateError", "InflateTooBig", "EXTENSION",
]

EXTENSION = "permessage-deflate"

# Level 6 is zlib's default trade-off of speed against ratio. memLevel 5, not zlib's 8: a
# compressor holds (1 << (windowBits + 2)) + (1 << (memLevel + 9)) bytes (zlib's zconf.h), and a
# server keeps one per connection for as long as the connection lives: 15 bits and memLevel 8 is
# about 256 KiB each (1,000 browser clients: 256 MB), 12 bits and memLevel 5 (the server's window,
# see SERVER_WINDOW_BITS) is 32 KiB, for a ratio a few per cent worse on chat-sized JSON (the
# websockets package makes the same choice). Compression state is created on the first message
# sent, so an idle connection pays nothing for it.
COMPRESSION_LEVEL = 6
MEM_LEVEL = 5

# The windows a server asks for in its negotiation answer: its own (RFC 7692 §7.1.2.1: a server
# may answer server_max_window_bits even when the offer did not name it) and the client's, when
# the offer allows it (§7.1.2.2, which every browser's offer does): the inflater of each
# connection then holds 4 KiB of window instead of 32 KiB.
SERVER_WINDOW_BITS = 12
CLIENT_WINDOW_BITS = 12

# RFC 7692 §7.2.1: a message compressed with a sync flush ends with an empty stored block,
# 0x00 0x00 0xff 0xff, which the sender removes and the receiver appends again (§7.2.2).
_TAIL = b"\x00\x00\xff\xff"

# RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
_WINDOW_BITS = re.compile(r"[89]|1[0-5]").fullmatch

# RFC 6455 §9.1: extension = extension-token *( ";" extension-param ), extension-param =
# token [ "=" (token | quoted-string) ]; the list separator is "," with optional whitespace
# (RFC 9110 §5.6.1). Each piece is matched at a position: no pattern can backtrack
# super-linearly (the quoted-string alternatives are disjoint).
_TOKEN = r"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_OWS = r"[ \t]*"
_NAME = re.compile(_OWS + "(" + _TOKEN + ")" + _OWS)
_PARAM = re.compile(";" + _OWS + "(" + _TOKEN + ")" + _OWS + "(?:=" + _OWS + "(?:(" + _TOKEN
                    + r')|"((?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*)")' + _OWS + ")?")
_UNESCAPE = re.compile(r"\\(.)")
_is_token = re.compile(_TOKEN).fullmatch

Extension = Tuple[str, List[Tuple[str, Optional[str]]]]


def parse_extensions(header: str) -> Optional[List[Extension]]:
    """The extensions of a ``Sec-WebSocket-Extensions`` value, or None when it is malformed.

    Each is ``(name, [(param, value or None), ...])`` in order; a quoted value is unescaped and,
    as RFC 6455 §9.1 requires, must then be a token. Example::

        parse_extensions('permessage-deflate; client_max_window_bits, x-y')
        # [("permessage-deflate", [("client_max_window_bits", None)]), ("x-y", [])]
    """
    out: List[Extension] = []
    pos, end = 0, len(header)
    while True:
        # RFC 9110 §5.6.1: empty list elements are accepted and ignored.
        while pos < end and header[pos] in " \t,":
            pos += 1
        if pos >= end:
            return out
        match = _NAME.match(header, pos)
        if match is None:
            return None
        name, params = match.group(1), []
        pos = match.end()
        while pos < end and header[pos] == ";":
            match = _PARAM.match(header, pos)
            if match is None:
                return None
            value = match.group(2)
            if match.group(3) is not None:
                value = _UNESCAPE.sub(r"\1", match.group(3))
                if _is_token(value) is None:
                    return None
            params.append((match.group(1), value))
            pos = match.end()
        if pos < end and header[pos] != ",":
            return None
        out.append((name, params))


class DeflateParams:
    """The agreed permessage-deflate parameters of one connection (RFC 7692 §7.1).

    ``server_*`` bind what the server sends, ``client_*`` what the client sends: the window is
    the LZ77 window in bits (8 to 15), ``no_context_takeover`` means each message is compressed
    from an empty window. Example::

        DeflateParams(client_no_context_takeover=True, server_max_window_bits=12)
    """

    __slots__ = ("server_no_context_takeover", "client_no_context_takeover",
                 "server_max_window_bits", "client_max_window_bits")

    def __init__(self, server_no_context_takeover: bool = False,
                 client_no_context_takeover: bool = False,
                 server_max_window_bits: int = 15, client_max_window_bits: int = 15) -> None:
        for bits in (server_max_window_bits, client_max_window_bits):
            if type(bits) is not int or not 8 <= bits <= 15:
                raise ValueError("window bits must be an int from 8 to 15, got %r" % (bits,))
        self.server_no_context_takeover = bool(server_no_context_takeover)
        self.client_no_context_takeover = bool(client_no_context_takeover)
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits

    def _key(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeflateParams):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "DeflateParams(%s)" % ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in self.__slots__)


def _offer_params(params: List[Tuple[str, Optional[str]]]) -> Optional[Dict[str, Optional[int]]]:
    """An offer's (or a response's) parameters by name, or None when one is invalid or repeated."""
    seen: Dict[str, Optional[int]] = {}
    for name, value in params:
        # RFC 7692 §7: "A server MUST decline an extension negotiation offer ... if [it] has
        # any extension parameter not defined for use in an offer, has any extension parameter
        # with an invalid value, or has multiple extension parameters with the same name".
        if name in seen:
            return None
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None
            seen[name] = None
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            if value is None:
                # RFC 7692 §7.1.2.2: only client_max_window_bits may come without a value.
                if name == "server_max_window_bits":
                    return None
                seen[name] = None
            elif _WINDOW_BITS(value) is None:
                return None
            else:
                seen[name] = int(value)
        else:
            return None
    return seen


def _check_bits(name: str, bits: int) -> None:
    if type(bits) is not int or not 8 <= bits <= 15:
        raise ValueError("%s must be an int from 8 to 15, got %r" % (name, bits))


def negotiate_deflate(offer: str, *, server_no_context_takeover: bool = False,
                      client_no_context_takeover: bool = False, server_max_window_bits: int = 15,
                      client_max_window_bits: int = 15) -> Optional[Tuple[str, DeflateParams]]:
    """Accept the first acceptable permessage-deflate offer of a ``Sec-WebSocket-Extensions`` value.

    Returns ``(response extension value, agreed params)``, or None when no offer is acceptable
    (the connection then runs uncompressed). The keyword settings are the server's wishes: a
    smaller window or no context takeover trade ratio for memory. What the client asked for is
    honoured too (RFC 7692 §7.1.1, §7.1.2); a client window can only be limited when the client
    offered ``client_max_window_bits`` (§7.1.2.2), otherwise the agreed client window is 15.

    Example::

        negotiate_deflate("permessage-deflate; client_max_window_bits")
        # ("permessage-deflate", DeflateParams())
    """
    _check_bits("server_max_window_bits", server_max_window_bits)
    _check_bits("client_max_window_bits", client_max_window_bits)
    for name, raw in parse_extensions(offer) or ():
        if name.lower() != EXTENSION:
            continue
        params = _offer_params(raw)
        if params is None:
            continue
        reply = [EXTENSION]
        server_nct = server_no_context_takeover or "server_no_context_takeover" in params
        client_nct = client_no_context_takeover or "client_no_context_takeover" in params
        if server_nct:
            # §7.1.1.1: a server accepting this parameter MUST include it in the response.
            reply.append("server_no_context_takeover")
        if client_nct:
            # §7.1.1.2: the server MAY include it even when not offered; the client then MUST
            # NOT use context takeover, and we may drop our inflate window between messages.
            reply.append("client_no_context_takeover")
        server_bits = min(params.get("server_max_window_bits") or 15, server_max_window_bits)
        if server_bits < 15:
            # §7.1.2.1: a value equal to or smaller than the offered one; sent as well when the
            # client did not ask, to declare the smaller window we compress with.
            reply.append("server_max_window_bits=%d" % server_bits)
        client_bits = 15
        if "client_max_window_bits" in params:
            client_bits = min(params["client_max_window_bits"] or 15, client_max_window_bits)
            if client_bits < 15:
                reply.append("client_max_window_bits=%d" % client_bits)
        return "; ".join(reply), DeflateParams(server_nct, client_nct, server_bits, client_bits)
    return None


def deflate_offer(*, client_no_context_takeover: bool = False,
                  server_no_context_takeover: bool = False,
                  client_max_window_bits: Optional[int] = None,
                  server_max_window_bits: Optional[int] = None) -> str:
    """A client's permessage-deflate offer (RFC 7692 §5.1), for covet's test clients.

    ``client_max_window_bits=None`` still advertises the parameter without a value: it says the
    client can take a server's limit on its window (§7.1.2.2). Example::

        deflate_offer()  # "permessage-deflate; client_max_window_bits"
    """
    parts = [EXTENSION]
    if client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if client_max_window_bits is None:
        parts.append("client_max_window_bits")
    else:
        _check_bits("client_max_window_bits", client_max_window_bits)
        parts.append("client_max_window_bits=%d" % client_max_window_bits)
    if server_max_window_bits is not None:
        _check_bits("server_max_window_bits", server_max_window_bits)
        parts.append("server_max_window_bits=%d" % server_max_window_bits)
    return "; ".join(parts)


def accept_deflate_response(response: str, offer: str) -> DeflateParams:
    """The client's side of the negotiation: check a server's response against our ``offer``.

    Raises ``ValueError`` when the client MUST fail the connection (RFC 7692 §5.1, §7.1): not
    exactly one permessage-deflate, an unknown or repeated parameter, a server window larger
    than offered, or a client window the offer did not allow. Example::

        accept_deflate_response("permessage-deflate", deflate_offer())  # DeflateParams()
    """
    extensions = parse_extensions(response)
    offers = parse_extensions(offer)
    if not extensions or len(extensions) != 1 or extensions[0][0].lower() != EXTENSION:
        raise ValueError("the server's extensions are not one permessage-deflate: %r" % response)
    params = _offer_params(extensions[0][1])
    offered = _offer_params(offers[0][1]) if offers and len(offers) == 1 else None
    if params is None or offered is None:
        raise ValueError("invalid permessage-deflate response %r" % response)
    server_bits = params.get("server_max_window_bits") or 15
    if server_bits > (offered.get("server_max_window_bits") or 15):
        raise ValueError("server_max_window_bits above the offered value: %r" % response)
    if "client_max_window_bits" in params:
        client_bits = params["client_max_window_bits"]
        if "client_max_window_bits" not in offered or client_bits is None:
            raise ValueError("client_max_window_bits not offered or without value: %r" % response)
    else:
        client_bits = 15
    client_bits = min(client_bits, offered.get("client_max_window_bits") or 15)
    client_nct = ("client_no_context_takeover" in params
                  or "client_no_context_takeover" in offered)
    return DeflateParams("server_no_context_takeover" in params, client_nct, server_bits,
                         client_bits)


def _zlib_bits(bits: int) -> int:
    # zlib refuses a raw deflate window of 8 (deflateInit2: "windowBits == 8 && wrap != 1") and
    # itself turns 8 into 9 for zlib streams since 1.2.9. Compressing with 9 honours a
    # negotiated 8: deflate never matches further back than the window minus MIN_LOOKAHEAD
    # (262 bytes, zlib's MAX_DIST), 512 - 262 = 250 bytes, inside the peer's 256-byte window.
    # Inflating with 9 as well accepts a peer that made the same choice less carefully.
    return -max(9, bits)


class Deflater:
    """Compresses outgoing messages (RFC 7692 §7.2.1); one per connection.

    ``no_context_takeover``: each message must decompress from an empty window. A full flush
    (Z_FULL_FLUSH) ends a message with the same empty stored block as a sync flush and resets
    the match state, so nothing later refers back to it; unlike a new compressobj per message
    it does not allocate the ~256 KiB of deflate state again. PERF.

    Example: ``Deflater(15, False).compress(b"abc")``
    """

    __slots__ = ("_bits", "_flush", "_obj")

    def __init__(self, max_window_bits: int, no_context_takeover: bool) -> None:
        self._bits = _zlib_bits(max_window_bits)
        self._flush = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH
        self._obj = None

    def compress(self, data: bytes) -> bytes:
        if self._obj is None:
            self._obj = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, self._bits, MEM_LEVEL)
        out = self._obj.compress(data) + self._obj.flush(self._flush)
        return out[:-4]  # §7.2.1: remove the 00 00 ff ff that a sync or full flush ends with


class InflateError(Exception):
    """The compressed data is not valid DEFLATE (RFC 7692 §7.2.2: fail the connection)."""


class InflateTooBig(Exception):
    """The message inflates past the size limit."""


class Inflater:
    """Decompresses incoming messages (RFC 7692 §7.2.2), never past a size bound; one per connection.

    ``begin()`` before each message, ``inflate(data, room)`` for each piece of it and
    ``finish(room)`` at its end, where ``room`` is how many more bytes the message may take:
    zlib's ``max_length`` stops inflating at ``room + 1`` bytes, so a small frame that would
    inflate to gigabytes costs at most the limit (websockets CVE-2018-1000518).

    Example::

        inflater = Inflater(15, False)
        inflater.begin()
        data = inflater.inflate(payload, 1 << 20) + inflater.finish(1 << 20)
    """

    __slots__ = ("_bits", "_reset", "_obj")

    def __init__(self, max_window_bits: int, no_context_takeover: bool) -> None:
        self._bits = _zlib_bits(max_window_bits)
        self._reset = no_context_takeover
        self._obj = None

    def begin(self) -> None:
        # A peer without context takeover compresses each message from an empty window; a peer
        # that ended its last message with a final block (BFINAL) starts a new stream.
        if self._obj is None or self._reset or self._obj.eof:
            self._obj = zlib.decompressobj(self._bits)

    def inflate(self, data: bytes, room: int) -> bytes:
        obj = self._obj
        if obj.eof:
            # RFC 7692 §7.2.3.4: a sender may end a message with a final block (BFINAL) followed
            # by the header of an empty stored block, 0x00, "to allow the payload to be
            # decompressed in the same manner"; a DEFLATE stream ends at its final block, so
            # what follows it in the message inflates to nothing and is dropped.
            return b""
        try:
            out = obj.decompress(data, room + 1)
        except zlib.error as exc:
            raise InflateError(str(exc)) from None
        if len(out) > room:
            raise InflateTooBig()
        return out

    def finish(self, room: int) -> bytes:
        return self.inflate(_TAIL, room)
