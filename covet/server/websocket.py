"""Sans-IO WebSocket protocol (RFC 6455) with permessage-deflate (RFC 7692): bytes in, events out.

No sockets, no asyncio. The I/O layer feeds what it reads to ``WebSocketConnection.feed``, pulls
events with ``next_event`` until ``NEED_DATA``, and writes the bytes that ``send_*`` and ``close``
return. The opening handshake lives in ``_ws_handshake``, compression in ``_ws_deflate``; every
name is importable from here. docs/websockets-protocol.md lists the limits and close codes.

Connection states (``state``), one table below decides every move:

    OPEN     -- we close -------------------------------> CLOSING  (ours sent, waiting for theirs)
    OPEN     -- their close arrives --> (OPEN, close_received) -- we close --> CLOSED
    CLOSING  -- their close arrives, or the stream ends ----------------------> CLOSED
    any      -- the TCP stream ends (feed(b"")) --------------------------------> CLOSED

Invariants: nothing is parsed after a close frame or a protocol failure; no frame is sent after
our close frame; every failure is a ``ProtocolFailure`` with the close code to send.
"""
import os
import struct
from codecs import getincrementaldecoder
from typing import List, Optional, Sequence, Union

from ._ws_deflate import (
    CLIENT_WINDOW_BITS, EXTENSION, SERVER_WINDOW_BITS, DeflateParams, Deflater, Inflater, InflateError,
    InflateTooBig, accept_deflate_response, deflate_offer, negotiate_deflate, parse_extensions,
)
from ._ws_handshake import (
    GUID, HandshakeError, HandshakeRequest, accept_key, check_handshake, handshake_response,
    is_upgrade_request,
)

__all__ = [
    "GUID", "DEFAULT_MAX_MESSAGE_SIZE", "MAX_CONTROL_PAYLOAD", "HandshakeError", "HandshakeRequest",
    "accept_key", "is_upgrade_request", "check_handshake", "handshake_response", "DeflateParams",
    "negotiate_deflate", "deflate_offer", "accept_deflate_response", "parse_extensions",
    "EXTENSION", "NEED_DATA", "TextMessage", "BytesMessage", "Ping", "Pong", "CloseReceived",
    "ProtocolFailure", "WebSocketConnection", "WebSocketStateError", "is_valid_close_code",
    "OPEN", "CLOSING", "CLOSED", "SERVER_WINDOW_BITS", "CLIENT_WINDOW_BITS",
]

# --- Limits

# 1009. The largest message (the sum of its fragments, after inflating) a connection accepts.
# 1 MiB is aiohttp's max_msg_size and the websockets library's max_size order (1 MiB): far above
# chat and JSON traffic, small enough that one peer cannot pin much memory. Checked against each
# frame header before its payload is awaited, and while inflating (CVE-2018-1000518).
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20

# RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
MAX_CONTROL_PAYLOAD = 125

# RFC 6455 §5.5.1: a close payload is a 2-byte code then the reason, within the 125 bytes.
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

# --- Opcodes (RFC 6455 §5.2, §11.8); 3-7 and 0xB-0xF are reserved: any of them fails with 1002.
OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
_DATA_OPCODES = (OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)

# --- States and the one table of their transitions.
OPEN, CLOSING, CLOSED = "OPEN", "CLOSING", "CLOSED"
_CLOSE_RECEIVED = "CLOSE_RECEIVED"  # reported as OPEN: the peer closed, our reply is not sent yet
_TRANSITIONS = {
    (OPEN, "send_close"): CLOSING,
    (OPEN, "recv_close"): _CLOSE_RECEIVED,
    (OPEN, "eof"): CLOSED,
    (_CLOSE_RECEIVED, "send_close"): CLOSED,
    (_CLOSE_RECEIVED, "eof"): CLOSED,
    (CLOSING, "recv_close"): CLOSED,
    (CLOSING, "eof"): CLOSED,
    (CLOSED, "eof"): CLOSED,
}

# Close codes a peer may send (RFC 6455 §7.4.1, §7.4.2 and the IANA registry, §11.7): 1000-1003,
# 1007-1014 are defined; 1004 is reserved; 1005, 1006 and 1015 "MUST NOT be set as a status code
# in a Close control frame"; 1016-2999 are reserved for future RFCs; 3000-3999 are registered by
# libraries and frameworks, 4000-4999 are private use; anything else is not a status code.
_DEFINED_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                                  1013, 1014))


def is_valid_close_code(code: int) -> bool:
    """True if ``code`` may appear in a close frame (RFC 6455 §7.4). Example: ``is_valid_close_code(4000)``"""
    return code in _DEFINED_CLOSE_CODES or 3000 <= code <= 4999


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Sentinel("NEED_DATA")


class _Event:
    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash((type(self),) + tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (n, getattr(self, n)) for n in self.__slots__))


class TextMessage(_Event):
    """A whole text message: fragments joined, UTF-8 checked. Example: ``TextMessage("hi").data``"""
    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data


class BytesMessage(_Event):
    """A whole binary message. Example: ``BytesMessage(b"\\x00").data``"""
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Ping(_Event):
    """A ping; the I/O layer answers ``conn.send_pong(event.payload)``. Example: ``Ping(b"x")``"""
    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class Pong(_Event):
    """A pong (an answer to our ping, or unsolicited, RFC 6455 §5.5.3). Example: ``Pong(b"x")``"""
    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class CloseReceived(_Event):
    """The peer's close frame: code 1005 when it carried none (RFC 6455 §7.1.5); 1006 when the
    stream ended without one (§7.1.5: "abnormal closure", never sent on the wire).

    Example: ``CloseReceived(1000, "bye")``
    """
    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason


class ProtocolFailure(_Event):
    """The peer broke the protocol: send ``conn.close(code, reason)`` and close the socket
    (RFC 6455 §7.1.7 "Fail the WebSocket Connection"). Example: ``ProtocolFailure(1002, "...")``
    """
    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class WebSocketStateError(RuntimeError):
    """A frame was asked for after our close frame went out (RFC 6455 §5.5.1)."""


# PERF: no list per idle connection; _start_message makes one per message.
_NO_PARTS = ()

Event = Union[TextMessage, BytesMessage, Ping, Pong, CloseReceived, ProtocolFailure, _Sentinel]


# PERF: from this size on, masks are applied with bytes.translate (see _xor_in_place); below it
# the big-integer XOR is quicker (fewer calls). Measured on CPython 3.11, min of 15 runs, one core:
# 1 KiB 3.0 us either way; 16 KiB 33.9 -> 25.4 us; 64 KiB 133 -> 97 us; 1 MiB 3.9 -> 1.6 ms.
_TRANSLATE_MIN = 1024

# XOR by one byte value as a bytes.translate table, made the first time that value is a mask byte
# (256 tables of 256 bytes at most).
_IDENTITY = bytes(range(256))
_XOR_TABLES: List[Optional[bytes]] = [None] * 256


def _xor_table(k: int) -> bytes:
    table = _XOR_TABLES[k]
    if table is None:
        table = _XOR_TABLES[k] = bytes(b ^ k for b in _IDENTITY)
    return table


def _xor_in_place(data: bytearray, mask: bytes) -> None:
    """XOR ``data`` with the 4-byte ``mask`` repeated (RFC 6455 §5.3), in place.

    PERF: byte i is masked by mask[i % 4], so each of the four strided slices is XORed with one
    constant byte: a table lookup that bytes.translate runs in C. No int of the payload's size is
    built, which is what makes the int XOR below superlinear for large payloads.
    """
    for i in range(4):
        data[i::4] = data[i::4].translate(_xor_table(mask[i]))


def _unmask(data: bytes, mask: bytes) -> bytes:
    """``data`` XOR the 4-byte ``mask`` repeated (RFC 6455 §5.3), ``mask`` already rotated."""
    n = len(data)
    if not n:
        return b""
    if n >= _TRANSLATE_MIN:
        out = bytearray(data)
        _xor_in_place(out, mask)
        return bytes(out)
    # PERF: one XOR of two big integers runs in C over the whole payload: 1 KiB in about 3 us
    # against 80 us for a per-byte loop. Little-endian conversion is the cheaper direction in
    # CPython; any byte order works if both sides agree.
    key = mask * ((n >> 2) + 1)
    return (int.from_bytes(data, "little")
            ^ int.from_bytes(key[:n], "little")).to_bytes(n, "little")


_HEAD_SMALL = struct.Struct("!BB").pack
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack
_unpack_16 = struct.Struct("!H").unpack_from
_unpack_64 = struct.Struct("!Q").unpack_from


def _frame(opcode: int, payload: bytes, rsv1: bool, mask: bool) -> bytes:
    """One final frame (RFC 6455 §5.2), lengths in the minimal encoding the section requires."""
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head = _HEAD_SMALL(first, bit | n)
    elif n < 1 << 16:
        head = _HEAD_16(first, bit | 126, n)
    else:
        head = _HEAD_64(first, bit | 127, n)
    if not mask:
        return head + payload
    # RFC 6455 §5.3: the masking key "MUST be derived from a strong source of entropy".
    key = os.urandom(4)
    return head + key + _unmask(payload, key)


class WebSocketConnection:
    """One WebSocket connection's protocol state, in the server role or (``client=True``) the client's.

    :param client: the client role: outgoing frames masked, incoming ones must not be.
    :param max_message_size: the largest message accepted, in bytes after inflating (1009 above).
    :param deflate: the agreed permessage-deflate parameters, or None to run uncompressed.

    Example::

        conn = WebSocketConnection()
        conn.feed(data_from_socket)
        while True:
            event = conn.next_event()
            if event is NEED_DATA:
                break
            if isinstance(event, TextMessage):
                sock.sendall(conn.send_text(event.data))  # echo
    """

    __slots__ = ("client", "max_message_size", "deflate", "_state", "_buf", "_eof", "_done",
                 "_peer_closed", "_deflater", "_inflater",
                 # the frame being read: None until its header is complete
                 "_opcode", "_fin", "_mask", "_left",
                 # the message being read: its opcode (0 = none), size so far, parts, decoders
                 "_msg", "_msg_size", "_wire_left", "_compressed", "_parts", "_utf8")

    def __init__(self, *, client: bool = False,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 deflate: Optional[DeflateParams] = None) -> None:
        if type(max_message_size) is not int or max_message_size < 1:
            raise ValueError("max_message_size must be a positive int, got %r"
                             % (max_message_size,))
        self.client = client
        self.max_message_size = max_message_size
        self.deflate = deflate
        self._state = OPEN
        self._buf = bytearray()
        self._eof = False
        self._done = False  # a close frame, a failure or the end of the stream was reported
        self._peer_closed = False
        self._deflater: Optional[Deflater] = None
        self._inflater: Optional[Inflater] = None
        if deflate is not None:
            # Each side compresses by its own role's parameters (RFC 7692 §7.1).
            if client:
                self._deflater = Deflater(deflate.client_max_window_bits,
                                          deflate.client_no_context_takeover)
                self._inflater = Inflater(deflate.server_max_window_bits,
                                          deflate.server_no_context_takeover)
            else:
                self._deflater = Deflater(deflate.server_max_window_bits,
                                          deflate.server_no_context_takeover)
                self._inflater = Inflater(deflate.client_max_window_bits,
                                          deflate.client_no_context_takeover)
        self._opcode = -1
        self._fin = False
        self._mask: Optional[bytes] = None
        self._left = -1  # payload bytes of the current frame still to read; -1: in a header
        self._msg = 0
        self._msg_size = 0
        self._wire_left = 0
        self._compressed = False
        self._parts: Sequence = _NO_PARTS  # a list while a data message is read
        self._utf8 = None

    # --- state

    @property
    def state(self) -> str:
        """``"OPEN"``, ``"CLOSING"`` (our close sent, theirs awaited) or ``"CLOSED"``."""
        return OPEN if self._state == _CLOSE_RECEIVED else self._state

    @property
    def close_received(self) -> bool:
        """True once the peer's close frame was read (state CLOSED, or OPEN until we reply)."""
        return self._peer_closed

    def _move(self, event: str) -> None:
        self._state = _TRANSITIONS.get((self._state, event), self._state)

    # --- reading

    def feed(self, data: bytes) -> None:
        """Add bytes read from the peer; ``b""`` means the peer closed the TCP stream."""
        if not data:
            self._eof = True
            if self._done:
                self._move("eof")  # the stream ended after their close or a failure
        elif not self._done:
            self._buf += data

    def next_event(self) -> Event:
        """The next event, or ``NEED_DATA`` when more bytes are needed (always, after a failure)."""
        if self._done:
            return NEED_DATA
        event = self._read()
        if event is NEED_DATA and self._eof:
            # RFC 6455 §7.1.5: a connection closed without a close frame is "1006".
            self._done = True
            self._buf = bytearray()
            self._move("eof")
            return CloseReceived(1006, "")
        return event

    def _fail(self, code: int, reason: str) -> ProtocolFailure:
        self._done = True
        self._buf = bytearray()
        self._parts = _NO_PARTS
        return ProtocolFailure(code, reason)

    def _read(self) -> Event:
        buf = self._buf
        while True:
            if self._left < 0:
                failure = self._read_header()
                if failure is not None:
                    return failure
                if self._left < 0:
                    return NEED_DATA
            if self._opcode >= OP_CLOSE:
                if len(buf) < self._left:
                    return NEED_DATA  # control payloads are at most 125 bytes: read them whole
                payload = bytes(buf[:self._left])
                del buf[:self._left]
                self._left = -1
                if self._mask is not None:
                    payload = _unmask(payload, self._mask)
                return self._control(payload)
            n = min(self._left, len(buf))
            if n:
                if self._mask is None:
                    chunk = bytes(buf[:n])
                elif n >= _TRANSLATE_MIN:
                    # PERF: the slice is already a copy: unmasked in place, handed on as a
                    # bytearray (text decodes it, binary parts are joined into bytes).
                    chunk = buf[:n]
                    _xor_in_place(chunk, self._mask)
                else:
                    chunk = _unmask(bytes(buf[:n]), self._mask)
                del buf[:n]
                if self._mask is not None:
                    # Keep the key aligned with the payload offset for the next piece.
                    shift = n & 3
                    self._mask = self._mask[shift:] + self._mask[:shift]
                self._left -= n
                failure = self._data(chunk)
                if failure is not None:
                    return failure
            if self._left:
                return NEED_DATA
            self._left = -1
            if self._fin:
                return self._end_message()

    def _read_header(self) -> Optional[ProtocolFailure]:
        """Parse a frame header once enough bytes are in; checks each field as soon as it arrives."""
        buf = self._buf
        if len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        fin, rsv1, opcode = first & 0x80, first & 0x40, first & 0x0F
        masked, length = second & 0x80, second & 0x7F
        if first & 0x30:
            # RFC 6455 §5.2: RSV2/RSV3 "MUST be 0 unless an extension is negotiated that defines
            # meanings"; permessage-deflate defines RSV1 only (RFC 7692 §6).
            return self._fail(1002, "reserved bits set")
        if opcode in _CONTROL_OPCODES:
            # RFC 6455 §5.5: "Control frames themselves MUST NOT be fragmented", at most 125 bytes.
            if not fin:
                return self._fail(1002, "fragmented control frame")
            if length > MAX_CONTROL_PAYLOAD:
                return self._fail(1002, "control frame payload over 125 bytes")
            if rsv1:
                # RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
                # control frames".
                return self._fail(1002, "RSV1 set on a control frame")
        elif opcode in _DATA_OPCODES:
            # RFC 6455 §5.4: a message's fragments are not interleaved with another message's.
            if self._msg:
                return self._fail(1002, "new data frame inside a fragmented message")
            if rsv1 and self._inflater is None:
                return self._fail(1002, "RSV1 set without permessage-deflate")
        elif opcode == OP_CONTINUATION:
            if not self._msg:
                return self._fail(1002, "continuation frame without a message to continue")
            if rsv1:
                # RFC 7692 §6.1: the compressed bit is set on "the first frame of the message" only.
                return self._fail(1002, "RSV1 set on a continuation frame")
        else:
            return self._fail(1002, "reserved opcode %d" % opcode)
        # RFC 6455 §5.1: "a server MUST close the connection upon receiving a frame that is not
        # masked" and "A client MUST close a connection if it detects a masked frame".
        if self.client and masked:
            return self._fail(1002, "masked frame from the server")
        if not self.client and not masked:
            return self._fail(1002, "unmasked frame from the client")
        start = 2
        if length == 126:
            if len(buf) < 4:
                return None
            length = _unpack_16(buf, 2)[0]
            start = 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length = _unpack_64(buf, 2)[0]
            start = 10
            if length >> 63:
                # RFC 6455 §5.2: "the most significant bit MUST be 0".
                return self._fail(1002, "64-bit payload length with the high bit set")
        # RFC 6455 §5.2 also says "the minimal number of bytes MUST be used to encode the
        # length". That MUST binds the sender and the section names no reaction; the length is
        # unambiguous either way and bounded below, so a longer encoding is read as it says
        # (as the websockets library and Autobahn's own parser do; wsproto refuses it).
        if opcode in _DATA_OPCODES or opcode == OP_CONTINUATION:
            failure = self._check_size(opcode, length, rsv1)
            if failure is not None:
                return failure
        if masked:
            if len(buf) < start + 4:
                return None
            self._mask = bytes(buf[start:start + 4])
            start += 4
        else:
            self._mask = None
        del buf[:start]
        self._opcode, self._fin, self._left = opcode, bool(fin), length
        if opcode in _DATA_OPCODES:
            self._start_message(opcode, bool(rsv1))
        return None

    def _check_size(self, opcode: int, length: int, rsv1: int) -> Optional[ProtocolFailure]:
        """RFC 6455 §10.4: the size limit, applied to the header's length before any payload."""
        limit = self.max_message_size
        if opcode == OP_CONTINUATION:
            compressed, size, wire_left = self._compressed, self._msg_size, self._wire_left
        else:
            compressed, size, wire_left = bool(rsv1), 0, _wire_limit(limit)
        if compressed:
            # The inflated size is bounded while inflating; the compressed bytes are bounded by
            # the most that a message of the limit can take once deflated, so a stream of empty
            # blocks cannot keep a connection busy either.
            if length > wire_left:
                return self._fail(1009, "compressed message over %d bytes" % _wire_limit(limit))
        elif size + length > limit:
            return self._fail(1009, "message over %d bytes" % limit)
        return None

    def _start_message(self, opcode: int, compressed: bool) -> None:
        self._msg = opcode
        self._msg_size = 0
        self._wire_left = _wire_limit(self.max_message_size)
        self._compressed = compressed
        self._parts = []
        # RFC 6455 §8.1: text is checked as fragments arrive, and fails on the first bad one. The
        # incremental decoder is made by the first piece that does not hold the whole message.
        self._utf8 = None
        if compressed:
            self._inflater.begin()

    def _data(self, chunk: bytes) -> Optional[ProtocolFailure]:
        if self._compressed:
            self._wire_left -= len(chunk)
            try:
                chunk = self._inflater.inflate(chunk, self.max_message_size - self._msg_size)
            except InflateTooBig:
                return self._fail(1009, "message inflates over %d bytes" % self.max_message_size)
            except InflateError:
                return self._fail(1007, "invalid compressed data")
        return self._append(chunk)

    def _append(self, chunk: bytes) -> Optional[ProtocolFailure]:
        if not chunk:
            return None
        self._msg_size += len(chunk)
        if self._msg == OP_TEXT:
            utf8 = self._utf8
            if utf8 is None:
                if self._fin and not self._left and not self._compressed and not self._parts:
                    # PERF: the whole message in one piece (the usual case) is decoded at once:
                    # making an incremental decoder per message was ~8% of a small echo's CPU.
                    try:
                        self._parts.append(chunk.decode("utf-8"))
                        return None
                    except UnicodeDecodeError:
                        pass  # the incremental decoder below gives the same verdict and reason
                utf8 = self._utf8 = _utf8_decoder()
            try:
                self._parts.append(utf8.decode(chunk))
            except UnicodeDecodeError:
                return self._fail(1007, "invalid UTF-8 in a text message")
        else:
            self._parts.append(chunk)
        return None

    def _end_message(self) -> Event:
        if self._compressed:
            try:
                tail = self._inflater.finish(self.max_message_size - self._msg_size)
            except InflateTooBig:
                return self._fail(1009, "message inflates over %d bytes" % self.max_message_size)
            except InflateError:
                return self._fail(1007, "invalid compressed data")
            failure = self._append(tail)
            if failure is not None:
                return failure
        parts, self._parts, opcode, self._msg = self._parts, _NO_PARTS, self._msg, 0
        if opcode == OP_BINARY:
            return BytesMessage(b"".join(parts))
        if self._utf8 is not None:
            try:
                parts.append(self._utf8.decode(b"", True))
            except UnicodeDecodeError:
                return self._fail(1007, "text message ends inside a UTF-8 sequence")
            self._utf8 = None
        return TextMessage("".join(parts))

    def _control(self, payload: bytes) -> Event:
        if self._opcode == OP_PING:
            return Ping(payload)
        if self._opcode == OP_PONG:
            return Pong(payload)
        # RFC 6455 §5.5.1: an empty body, or a 2-byte code then a UTF-8 reason.
        if not payload:
            code, reason = 1005, ""
        elif len(payload) == 1:
            return self._fail(1002, "close frame with a 1-byte payload")
        else:
            code = _unpack_16(payload)[0]
            if not is_valid_close_code(code):
                return self._fail(1002, "invalid close code %d" % code)
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                return self._fail(1007, "close reason is not UTF-8")
        # Nothing after a close frame is read: RFC 6455 §5.5.1, "the endpoint ... MUST NOT send
        # any more data frames", so bytes after it are not part of the conversation.
        self._done = self._peer_closed = True
        self._buf = bytearray()
        self._parts = _NO_PARTS
        self._move("recv_close")
        return CloseReceived(code, reason)

    # --- writing

    def _check_open(self) -> None:
        if self._state in (CLOSING, CLOSED):
            raise WebSocketStateError("the WebSocket is %s: no frame may be sent" % self._state)

    def _message(self, opcode: int, payload: bytes) -> bytes:
        self._check_open()
        if self._deflater is not None:
            return _frame(opcode, self._deflater.compress(payload), True, self.client)
        return _frame(opcode, payload, False, self.client)

    def send_text(self, text: str) -> bytes:
        """The frame of a text message (compressed when deflate was agreed). Example: ``conn.send_text("hi")``"""
        return self._message(OP_TEXT, text.encode("utf-8"))

    def send_bytes(self, data: bytes) -> bytes:
        """The frame of a binary message. Example: ``conn.send_bytes(b"\\x00\\x01")``"""
        return self._message(OP_BINARY, bytes(data))

    def _control_frame(self, opcode: int, payload: bytes) -> bytes:
        self._check_open()
        payload = bytes(payload)
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise ValueError("a control frame payload is at most 125 bytes, got %d" % len(payload))
        return _frame(opcode, payload, False, self.client)

    def send_ping(self, payload: bytes = b"") -> bytes:
        """A ping frame (payload at most 125 bytes). Example: ``conn.send_ping(b"1")``"""
        return self._control_frame(OP_PING, payload)

    def send_pong(self, payload: bytes = b"") -> bytes:
        """A pong frame, the answer to ``Ping(payload)`` (RFC 6455 §5.5.3). Example: ``conn.send_pong(b"1")``"""
        return self._control_frame(OP_PONG, payload)

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """Our close frame; ``b""`` when ours was already sent or the stream is gone.

        ``code`` 1005 sends a close frame without a body (the answer to a close that had none,
        RFC 6455 §5.5.1); otherwise it must be a valid close code and ``reason`` at most 123
        bytes of UTF-8 (``ValueError``). Example: ``conn.close(1001, "going away")``
        """
        if self._state in (CLOSING, CLOSED):
            return b""
        if code == 1005:
            if reason:
                raise ValueError("a close without a code carries no reason")
            payload = b""
        else:
            if not is_valid_close_code(code):
                raise ValueError("%r is not a close code that may be sent" % (code,))
            raw = reason.encode("utf-8")
            if len(raw) > MAX_CLOSE_REASON:
                raise ValueError("a close reason is at most 123 bytes of UTF-8, got %d"
                                 % len(raw))
            payload = struct.pack("!H", code) + raw
        self._move("send_close")
        return _frame(OP_CLOSE, payload, False, self.client)


def _wire_limit(limit: int) -> int:
    # Deflate never expands data by more than 5 bytes per 16 KiB stored block plus a few bytes
    # of flush (zlib's deflateBound); 1/1024 and 64 bytes are above that.
    return limit + (limit >> 10) + 64


def _utf8_decoder():
    return getincrementaldecoder("utf-8")("strict")
