"""covet.server.websocket: the sans-IO WebSocket codec (RFC 6455, RFC 7692).

Every input is read in every way a socket can cut it: fed whole, one byte at a time, and split in two
at every offset; all ways must give the same events (h11's tests/test_io.py does the same for
HTTP). Frames in these tests are built by ``frame`` below, independently of the codec's writer; the
round-trip tables then check the writer against the reader in both roles.
"""
import base64
import os
import struct
import tracemalloc
import zlib

import pytest

from covet.server.websocket import (
    CLOSED, CLOSING, DEFAULT_MAX_MESSAGE_SIZE, GUID, MAX_CONTROL_PAYLOAD, NEED_DATA, OPEN,
    BytesMessage, CloseReceived, DeflateParams, HandshakeError, HandshakeRequest, Ping, Pong,
    ProtocolFailure, TextMessage, WebSocketConnection, WebSocketStateError, accept_deflate_response,
    accept_key, check_handshake, deflate_offer, handshake_response, is_upgrade_request,
    is_valid_close_code, negotiate_deflate, parse_extensions,
)

MASK = b"\x37\xfa\x21\x3d"


def xor(data, mask):
    """RFC 6455 §5.3, byte by byte: the slow reference the codec's fast unmasking must equal."""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def frame(opcode, payload=b"", fin=True, rsv=0, mask=MASK, length_bytes=None):
    """One raw frame (RFC 6455 §5.2). ``length_bytes`` forces a 0-, 2- or 8-byte extended length."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    bit = 0x80 if mask is not None else 0
    if length_bytes == 0:
        head = bytes([first, bit | n])
    elif length_bytes == 2:
        head = bytes([first, bit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + xor(payload, mask)


def text(s, **kw):
    return frame(0x1, s.encode("utf-8") if isinstance(s, str) else s, **kw)


def close_frame(code=None, reason=b"", **kw):
    payload = b"" if code is None else struct.pack("!H", code) + reason
    return frame(0x8, payload, **kw)


def drain(conn, events):
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return
        events.append(event)


def feed_pieces(pieces, eof=False, **kw):
    conn = WebSocketConnection(**kw)
    events = []
    for piece in pieces:
        if piece:  # b"" would mean the end of the stream
            conn.feed(piece)
        drain(conn, events)
    if eof:
        conn.feed(b"")
        drain(conn, events)
    return events, conn


def read_all_ways(data, eof=False, offsets=None, **kw):
    """The events of ``data`` read whole, byte by byte and split at every offset: all must agree."""
    whole, conn = feed_pieces([data], eof, **kw)
    bytewise, _ = feed_pieces([data[i:i + 1] for i in range(len(data))], eof, **kw)
    assert bytewise == whole, "byte by byte"
    for i in (range(len(data) + 1) if offsets is None else offsets):
        split, _ = feed_pieces([data[:i], data[i:]], eof, **kw)
        assert split == whole, "split at %d" % i
    return whole


def read_whole(data, **kw):
    return feed_pieces([data], **kw)


# --- the opening handshake (RFC 6455 §4)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example nonce


def handshake_headers(overrides=None):
    headers = {b"host": b"server.example.com", b"upgrade": b"websocket",
               b"connection": b"Upgrade", b"sec-websocket-key": KEY.encode(),
               b"sec-websocket-version": b"13"}
    headers.update(overrides or {})
    return [(k, v) for k, v in headers.items() if v is not None]


def test_accept_key_is_the_rfc_example():
    # RFC 6455 §1.3: this key gives this accept value.
    assert accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_check_handshake_returns_what_was_asked_for():
    headers = handshake_headers() + [
        (b"sec-websocket-protocol", b"chat, superchat"), (b"sec-websocket-protocol", b"v2"),
        (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
        (b"sec-websocket-extensions", b"x-foo"), (b"origin", b"http://example.com")]
    request = check_handshake("GET", headers)
    assert isinstance(request, HandshakeRequest)
    assert request.key == KEY
    assert request.subprotocols == ["chat", "superchat", "v2"]
    assert request.extensions == "permessage-deflate; client_max_window_bits, x-foo"
    assert request.origin == "http://example.com"


def test_check_handshake_accepts_token_lists_in_any_case():
    request = check_handshake("GET", handshake_headers({
        b"upgrade": b"h2c, WebSocket", b"connection": b"keep-alive, UPGRADE"}))
    assert (request.subprotocols, request.extensions, request.origin) == ([], "", None)


@pytest.mark.parametrize("method, overrides, detail", [
    ("POST", {}, "GET"),
    ("get", {}, "GET"),
    ("GET", {b"upgrade": None}, "Upgrade"),
    ("GET", {b"upgrade": b"h2c"}, "Upgrade"),
    ("GET", {b"upgrade": b"websocketx"}, "Upgrade"),
    ("GET", {b"connection": None}, "Connection"),
    ("GET", {b"connection": b"keep-alive"}, "Connection"),
    ("GET", {b"connection": b"upgraded"}, "Connection"),
    ("GET", {b"sec-websocket-key": None}, "missing"),
    ("GET", {b"sec-websocket-key": b""}, "16 bytes"),
    ("GET", {b"sec-websocket-key": base64.b64encode(b"x" * 15)}, "16 bytes"),
    ("GET", {b"sec-websocket-key": base64.b64encode(b"x" * 17)}, "16 bytes"),
    ("GET", {b"sec-websocket-key": b"dGhlIHNhbXBsZSBub25jZQ"}, "16 bytes"),      # no padding
    ("GET", {b"sec-websocket-key": b"dGhlIHNhbXBsZSBub25jZR=="}, "16 bytes"),    # stray bits
    ("GET", {b"sec-websocket-key": b"dGhlIHNhbXBsZSBub25j!Q=="}, "16 bytes"),    # not base64
    ("GET", {b"sec-websocket-key": b"dGhlIHNhbXBsZSBub2 5jZQ=="}, "16 bytes"),   # inner space
    ("GET", {b"sec-websocket-key": b"dGhlIHNh\nYmBsZSBub25jZQ=="}, "16 bytes"),
])
def test_check_handshake_refuses_with_400(method, overrides, detail):
    with pytest.raises(HandshakeError) as info:
        check_handshake(method, handshake_headers(overrides))
    assert info.value.status == 400
    assert info.value.headers == []
    assert detail in info.value.detail


@pytest.mark.parametrize("extra, detail", [
    ([(b"sec-websocket-key", KEY.encode())], "exactly once"),
    ([(b"sec-websocket-protocol", b"chat, a b")], "tokens"),
    ([(b"sec-websocket-protocol", b"a/b")], "tokens"),
    ([(b"origin", b"http://a"), (b"origin", b"http://b")], "Origin"),
])
def test_check_handshake_refuses_repeated_or_malformed_fields(extra, detail):
    with pytest.raises(HandshakeError) as info:
        check_handshake("GET", handshake_headers() + extra)
    assert info.value.status == 400
    assert detail in info.value.detail


@pytest.mark.parametrize("version", [None, b"", b"8", b"12", b"14", b"13, 8", b"013", b" 13x"])
def test_check_handshake_refuses_other_versions_with_426(version):
    # RFC 6455 §4.2.2 step 4: 426 with the versions the server speaks.
    with pytest.raises(HandshakeError) as info:
        check_handshake("GET", handshake_headers({b"sec-websocket-version": version}))
    assert info.value.status == 426
    assert info.value.headers == [(b"sec-websocket-version", b"13")]


def test_two_version_lines_of_13_and_8_are_refused_but_padding_is_not():
    headers = handshake_headers() + [(b"sec-websocket-version", b"8")]
    with pytest.raises(HandshakeError) as info:
        check_handshake("GET", headers)
    assert info.value.status == 426
    assert check_handshake("GET", handshake_headers({b"sec-websocket-version": b" 13 "})).key == KEY


@pytest.mark.parametrize("headers, expected", [
    ([(b"upgrade", b"websocket")], True),
    ([(b"upgrade", b"WebSocket")], True),
    ([(b"upgrade", b"h2c , websocket")], True),
    ([(b"upgrade", b"h2c"), (b"upgrade", b"websocket")], True),
    ([(b"upgrade", b"h2c")], False),
    ([(b"upgrade", b"websockets")], False),
    ([(b"connection", b"websocket")], False),
    ([], False),
])
def test_is_upgrade_request(headers, expected):
    assert is_upgrade_request("GET", headers) is expected


def test_handshake_response_is_the_whole_101_head():
    assert handshake_response(KEY) == (
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    head = handshake_response(KEY, subprotocol="chat", extensions="permessage-deflate",
                              headers=[(b"Set-Cookie", b"a=1")])
    assert head.endswith(
        b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nsec-websocket-protocol: chat\r\n"
        b"sec-websocket-extensions: permessage-deflate\r\nset-cookie: a=1\r\n\r\n")


@pytest.mark.parametrize("kw", [
    {"headers": [(b"x-a", b"1\r\nx-b: 2")]},
    {"headers": [(b"x a", b"1")]},
    {"headers": [(b"x-a", b"\x00")]},
    {"subprotocol": "chat\r\nx: 1"},
    {"subprotocol": ""},
    {"extensions": "permessage-deflate\r\nx: 1"},
])
def test_handshake_response_refuses_header_injection(kw):
    with pytest.raises(ValueError):
        handshake_response(KEY, **kw)


def test_handshake_response_headers_must_be_bytes():
    with pytest.raises(TypeError):
        handshake_response(KEY, headers=[("x-a", "1")])


# --- reading frames: the RFC's own examples (RFC 6455 §5.7)

def test_rfc_example_single_masked_text_frame():
    data = bytes.fromhex("818537fa213d7f9f4d5158")
    assert read_all_ways(data) == [TextMessage("Hello")]


def test_rfc_example_fragmented_unmasked_text_in_the_client_role():
    data = bytes.fromhex("010348656c80026c6f")
    assert read_all_ways(data, client=True) == [TextMessage("Hello")]


def test_rfc_example_unmasked_ping_and_masked_pong():
    assert read_all_ways(bytes.fromhex("890548656c6c6f"), client=True) == [Ping(b"Hello")]
    assert read_all_ways(bytes.fromhex("8a8537fa213d7f9f4d5158")) == [Pong(b"Hello")]


def test_rfc_example_256_and_65536_byte_binary_frames():
    assert read_all_ways(bytes.fromhex("827e0100") + bytes(256), client=True) == [
        BytesMessage(bytes(256))]
    data = bytes.fromhex("827f0000000000010000") + bytes(65536)
    assert read_all_ways(data, client=True, offsets=range(0, 20)) == [BytesMessage(bytes(65536))]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 125, 126, 127, 1023, 1024, 1025, 1027, 4099, 65535, 65536,
                               70001])
def test_unmasking_equals_the_per_byte_reference_at_every_length(n):
    payload = os.urandom(n)
    mask = os.urandom(4)
    data = frame(0x2, payload, mask=mask)
    assert read_whole(data)[0] == [BytesMessage(payload)]
    # Pieces that end mid-mask keep the key aligned with the payload offset.
    pieces = [data[i:i + 3] for i in range(0, len(data), 3)] if n < 200 else [data[:17], data[17:]]
    assert feed_pieces(pieces)[0] == [BytesMessage(payload)]


def test_unmasking_equals_the_reference_for_every_mask_byte_value_small_and_large():
    # Large payloads are unmasked with one translate table per mask byte value: each of the 256
    # values in each of the 4 key positions, at a size on each side of that switch.
    for n in (1000, 1030):
        payload = os.urandom(n)
        for k in range(256):
            mask = bytes([k, (k + 85) & 255, (k + 170) & 255, 255 - k])
            server = WebSocketConnection()
            server.feed(frame(0x2, payload, mask=mask) + frame(0x1, payload.hex().encode(), mask=mask))
            assert server.next_event() == BytesMessage(payload)
            assert server.next_event() == TextMessage(payload.hex())
        # The client role masks what it sends the same way: undo it with the reference.
        sent = WebSocketConnection(client=True).send_bytes(payload)
        head = 4 if n < 65536 else 10
        key = sent[head:head + 4]
        assert xor(sent[head + 4:], key) == payload


def test_fragments_with_interleaved_controls_make_one_message():
    data = (text("He", fin=False) + frame(0x9, b"p1") + frame(0x0, b"ll", fin=False)
            + frame(0xA, b"p2") + frame(0x0, b"o", fin=True) + text("!"))
    assert read_all_ways(data) == [Ping(b"p1"), Pong(b"p2"), TextMessage("Hello"), TextMessage("!")]


def test_empty_fragments_and_empty_messages():
    data = (text("", fin=False) + frame(0x0, b"", fin=False) + frame(0x0, b"")
            + frame(0x2, b"") + text("") + frame(0x9, b""))
    assert read_all_ways(data) == [TextMessage(""), BytesMessage(b""), TextMessage(""), Ping(b"")]


def test_utf8_split_inside_a_code_point_across_fragments():
    raw = "κόσμε €𝄞".encode("utf-8")
    data = b"".join(frame(0x1 if i == 0 else 0x0, raw[i:i + 1], fin=i == len(raw) - 1)
                    for i in range(len(raw)))
    assert read_all_ways(data) == [TextMessage("κόσμε €𝄞")]


def test_binary_fragments_are_joined():
    data = frame(0x2, b"\x00\xff", fin=False) + frame(0x0, b"\xfe", fin=False) + frame(0x0, b"!")
    assert read_all_ways(data) == [BytesMessage(b"\x00\xff\xfe!")]


@pytest.mark.parametrize("length_bytes", [2, 8])
def test_non_minimal_length_encodings_are_read_as_they_say(length_bytes):
    # RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length" binds the
    # sender; the receiver is given no reaction, and the length stays unambiguous and bounded.
    # Control frames are refused from the 7-bit field alone (RFC 6455 §5.5, see FAILURES).
    data = text("Hello", length_bytes=length_bytes) + frame(0x2, b"x", length_bytes=length_bytes)
    assert read_all_ways(data) == [TextMessage("Hello"), BytesMessage(b"x")]


def test_a_frame_is_reported_only_when_complete():
    conn = WebSocketConnection()
    data = text("Hello")
    conn.feed(data[:-1])
    assert conn.next_event() is NEED_DATA
    assert conn.next_event() is NEED_DATA
    conn.feed(data[-1:])
    assert conn.next_event() == TextMessage("Hello")
    assert conn.next_event() is NEED_DATA


# --- closing

@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                                  1013, 1014, 3000, 3999, 4000, 4999])
def test_valid_close_codes_are_received(code):
    assert read_all_ways(close_frame(code, b"bye")) == [CloseReceived(code, "bye")]
    assert is_valid_close_code(code)


def test_close_without_payload_is_1005_and_reason_may_be_123_bytes_of_utf8():
    assert read_all_ways(close_frame()) == [CloseReceived(1005, "")]
    reason = "é" * 61 + "x"
    assert read_all_ways(close_frame(1000, reason.encode())) == [CloseReceived(1000, reason)]


def test_nothing_after_a_close_frame_is_read():
    # RFC 6455 §5.5.1: after its close the peer sends no more frames; bytes after it are ignored.
    events, conn = read_whole(close_frame(1000) + text("late") + b"\xff\xff")
    assert events == [CloseReceived(1000, "")]
    conn.feed(text("later"))
    assert conn.next_event() is NEED_DATA
    conn.feed(b"")
    assert conn.next_event() is NEED_DATA


def test_close_inside_a_fragmented_message_drops_the_message():
    data = text("par", fin=False) + close_frame(1001, b"away")
    assert read_all_ways(data) == [CloseReceived(1001, "away")]


def test_peer_closes_first_then_we_reply():
    events, conn = read_whole(close_frame(1000, b"done"))
    assert events == [CloseReceived(1000, "done")]
    assert (conn.state, conn.close_received) == (OPEN, True)
    assert conn.send_text("last words") == b"\x81\x0alast words"  # RFC 6455 §5.5.1 allows it
    assert conn.close(1000) == b"\x88\x02\x03\xe8"
    assert conn.state == CLOSED
    assert conn.close(1000) == b""
    with pytest.raises(WebSocketStateError):
        conn.send_text("x")


def test_we_close_first_then_the_peer_replies():
    conn = WebSocketConnection()
    assert conn.close(1001, "bye") == b"\x88\x05\x03\xe9bye"
    assert (conn.state, conn.close_received) == (CLOSING, False)
    assert conn.close(1000) == b""
    for send in (conn.send_text, conn.send_bytes, conn.send_ping, conn.send_pong):
        with pytest.raises(WebSocketStateError):
            send(b"x" if send != conn.send_text else "x")
    conn.feed(text("in flight") + close_frame(1001))
    assert conn.next_event() == TextMessage("in flight")  # still delivered while CLOSING
    assert conn.next_event() == CloseReceived(1001, "")
    assert (conn.state, conn.close_received) == (CLOSED, True)


def test_close_1005_sends_an_empty_close_frame():
    conn = WebSocketConnection()
    assert conn.close(1005) == b"\x88\x00"
    with pytest.raises(ValueError):
        WebSocketConnection().close(1005, "reason")


@pytest.mark.parametrize("code", [0, 999, 1004, 1006, 1015, 1016, 2999, 5000, 65536, -1])
def test_close_refuses_codes_that_may_not_be_sent(code):
    conn = WebSocketConnection()
    with pytest.raises(ValueError):
        conn.close(code)
    assert conn.state == OPEN


def test_close_reason_is_at_most_123_bytes():
    assert len(WebSocketConnection().close(1000, "x" * 123)) == 2 + 125
    with pytest.raises(ValueError):
        WebSocketConnection().close(1000, "é" * 62)


def test_stream_end_without_close_is_1006_and_closes():
    for data in (b"", text("Hello")[:-2], text("He", fin=False)):
        assert read_all_ways(data, eof=True) == [CloseReceived(1006, "")]
    events, conn = feed_pieces([text("hi")], eof=True)
    assert events == [TextMessage("hi"), CloseReceived(1006, "")]
    assert (conn.state, conn.close_received) == (CLOSED, False)
    assert conn.close(1000) == b""  # nothing to send on a closed stream
    assert conn.next_event() is NEED_DATA


def test_stream_end_while_closing_or_after_their_close():
    conn = WebSocketConnection()
    conn.close()
    conn.feed(b"")
    assert conn.next_event() == CloseReceived(1006, "")
    assert conn.state == CLOSED
    events, conn = read_whole(close_frame(1000))
    conn.feed(b"")
    assert conn.state == CLOSED
    assert conn.close() == b""


# --- every way to break the protocol, with its close code

FAILURES = [
    # RFC 6455 §5.1: frames from a client are masked.
    (1002, frame(0x1, b"hi", mask=None), {}),
    # RFC 6455 §5.1: frames from a server are not.
    (1002, frame(0x1, b"hi"), {"client": True}),
    # RFC 6455 §5.2: reserved bits without an extension that defines them.
    (1002, text("hi", rsv=4), {}),
    (1002, text("hi", rsv=2), {}),
    (1002, text("hi", rsv=1), {}),
    (1002, frame(0x9, b"", rsv=7), {}),
    # RFC 6455 §5.5: control frames are final and at most 125 bytes.
    (1002, frame(0x9, b"x", fin=False), {}),
    (1002, frame(0x8, struct.pack("!H", 1000), fin=False), {}),
    (1002, frame(0x9, bytes(126)), {}),
    (1002, frame(0xA, bytes(126)), {}),
    (1002, close_frame(1000, b"x" * 124), {}),
    (1002, frame(0x9, b"x", length_bytes=2)[:4], {}),  # the 7-bit field alone says 126
    # RFC 6455 §5.4: continuation needs a message; a message in progress takes continuations only.
    (1002, frame(0x0, b"x"), {}),
    (1002, frame(0x0, b"x", fin=False), {}),
    (1002, text("a", fin=False) + text("b"), {}),
    (1002, text("a", fin=False) + frame(0x2, b"b"), {}),
    (1002, text("a") + frame(0x0, b"b"), {}),
    # RFC 6455 §5.5.1: a close body is empty or holds a 2-byte code.
    (1002, frame(0x8, b"\x03"), {}),
    # RFC 6455 §7.4: codes that may not appear on the wire.
] + [(1002, close_frame(code), {}) for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000,
                                                2999, 5000, 65535)] + [
    # RFC 6455 §5.5.1: the close reason is UTF-8, else 1007 (§7.4.1).
    (1007, close_frame(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), {}),
    (1007, close_frame(1000, b"\xff"), {}),
    # RFC 6455 §8.1: text is UTF-8.
    (1007, text(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), {}),
    (1007, text(b"\x80"), {}),
    (1007, text(b"\xc0\xaf"), {}),
    (1007, text(b"\xf4\x90\x80\x80"), {}),
    (1007, text(b"\xce"), {}),  # the message ends inside a code point
    (1007, text(b"ab\xe2\x82", fin=False) + frame(0x0, b""), {}),
    # RFC 6455 §5.2: the 64-bit length has its most significant bit 0.
    (1002, frame(0x2, b"", length_bytes=8)[:2] + b"\x80" + bytes(7), {}),
]


@pytest.mark.parametrize("code, data, kw", FAILURES)
def test_protocol_failures_have_their_close_code_in_every_mode(code, data, kw):
    events = read_all_ways(data + text("unread"), **kw)
    assert len(events) <= 2 and type(events[-1]) is ProtocolFailure, events
    assert events[-1].code == code
    assert events[-1].reason


def test_failure_names_the_rule_and_nothing_is_read_after_it():
    events, conn = read_whole(frame(0x1, b"hi", mask=None))
    assert events == [ProtocolFailure(1002, "unmasked frame from the client")]
    conn.feed(text("valid"))
    assert conn.next_event() is NEED_DATA
    assert conn.state == OPEN  # the I/O layer now sends conn.close(1002, ...)
    assert conn.close(1002, events[0].reason) == b"\x88\x20\x03\xea" + events[0].reason.encode()
    assert conn.state == CLOSING
    conn.feed(b"")
    assert conn.next_event() is NEED_DATA
    assert conn.state == CLOSED


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_fail_with_1002(opcode):
    events = read_all_ways(text("ok") + frame(opcode, b"x") + frame(0x9))
    assert events == [TextMessage("ok"), ProtocolFailure(1002, "reserved opcode %d" % opcode)]


def test_invalid_utf8_fails_on_the_fragment_that_makes_it_invalid():
    # RFC 6455 §8.1 / Autobahn 6.4.1: the message is never finished; the bad fragment decides.
    events, _ = read_whole(text(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", fin=False)
                           + frame(0x0, b"\xf4\x90\x80\x80", fin=False))
    assert events == [ProtocolFailure(1007, "invalid UTF-8 in a text message")]


def test_invalid_utf8_fails_before_its_frame_is_complete():
    # Autobahn 6.4.3: the byte that makes the sequence invalid arrives in the middle of a frame.
    data = text(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" + b"\xf4\x90\x80\x80" + b"edited")
    cut = len(data) - 6 - 2  # header + the valid prefix + f4 90
    events, _ = feed_pieces([data[:cut]])
    assert events == [ProtocolFailure(1007, "invalid UTF-8 in a text message")]


def test_a_valid_prefix_of_a_code_point_waits_for_the_rest():
    events, conn = feed_pieces([text(b"\xf0\x9d", fin=False)])
    assert events == []
    conn.feed(frame(0x0, b"\x84\x9e"))
    assert conn.next_event() == TextMessage("𝄞")


# --- the message size limit (RFC 6455 §10.4)

def test_message_at_the_limit_is_accepted_and_one_byte_more_is_1009():
    assert read_all_ways(frame(0x2, bytes(100)), max_message_size=100, offsets=range(8)) == [
        BytesMessage(bytes(100))]
    events = read_all_ways(frame(0x2, bytes(101)), max_message_size=100, offsets=range(8))
    assert events == [ProtocolFailure(1009, "message over 100 bytes")]
    data = frame(0x2, bytes(60), fin=False) + frame(0x0, bytes(41))
    events = read_all_ways(data, max_message_size=100, offsets=range(0, len(data), 7))
    assert events == [ProtocolFailure(1009, "message over 100 bytes")]
    assert DEFAULT_MAX_MESSAGE_SIZE == 1 << 20


def test_size_limit_is_checked_from_the_header_before_any_payload_arrives():
    for head in (bytes([0x82, 0xFE]) + struct.pack("!H", 65535),
                 bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 62),
                 bytes([0x82, 0xFF]) + struct.pack("!Q", (1 << 63) - 1)):
        events, _ = feed_pieces([head], max_message_size=1000)
        assert events == [ProtocolFailure(1009, "message over 1000 bytes")]


def test_a_huge_declared_length_allocates_nothing():
    tracemalloc.start()
    try:
        events, _ = feed_pieces([bytes([0x82, 0xFF]) + struct.pack("!Q", (1 << 63) - 1)],
                                max_message_size=(1 << 63) - 1)
        events2, conn = feed_pieces([bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 40) + MASK
                                     + bytes(1000)], max_message_size=1 << 41)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert events == events2 == []  # both wait for their payload, holding only what arrived
    assert peak < 200_000


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", None])
def test_max_message_size_is_checked(bad):
    with pytest.raises(ValueError):
        WebSocketConnection(max_message_size=bad)


# --- writing, and round trips through both roles

MESSAGES = [
    ("text", ""), ("text", "Hello"), ("text", "κόσμε €𝄞" * 20), ("text", "x" * 125),
    ("text", "x" * 126), ("text", "y" * 65535), ("text", "z" * 65536),
    ("bytes", b""), ("bytes", b"\x00\xff" * 70), ("bytes", os.urandom(70000)),
    ("ping", b""), ("ping", b"x" * 125), ("pong", b"\x00"), ("pong", b"p" * 125),
]


def send(conn, kind, value):
    return {"text": conn.send_text, "bytes": conn.send_bytes, "ping": conn.send_ping,
            "pong": conn.send_pong}[kind](value)


def expected(kind, value):
    return {"text": TextMessage, "bytes": BytesMessage, "ping": Ping, "pong": Pong}[kind](value)


@pytest.mark.parametrize("deflate", [None, DeflateParams(),
                                     DeflateParams(True, True, 9, 8)], ids=["plain", "deflate", "small"])
@pytest.mark.parametrize("kind, value", MESSAGES, ids=[k + str(len(v)) for k, v in MESSAGES])
def test_round_trip_client_to_server_and_back(kind, value, deflate):
    client = WebSocketConnection(client=True, deflate=deflate)
    server = WebSocketConnection(deflate=deflate)
    for _ in range(2):  # the second message exercises context takeover
        data = send(client, kind, value)
        assert (data[1] & 0x80) == 0x80  # RFC 6455 §5.3: a client masks
        server.feed(data)
        assert server.next_event() == expected(kind, value)
        data = send(server, kind, value)
        assert (data[1] & 0x80) == 0
        client.feed(data)
        assert client.next_event() == expected(kind, value)


def test_written_frames_use_the_minimal_length_encoding():
    server = WebSocketConnection()
    assert server.send_bytes(bytes(125))[:2] == b"\x82\x7d"
    assert server.send_bytes(bytes(126))[:4] == b"\x82\x7e\x00\x7e"
    assert server.send_bytes(bytes(65535))[:4] == b"\x82\x7e\xff\xff"
    assert server.send_bytes(bytes(65536))[:10] == b"\x82\x7f" + struct.pack("!Q", 65536)
    assert server.send_text("Hello") == b"\x81\x05Hello"
    assert server.send_ping(b"Hello") == bytes.fromhex("890548656c6c6f")


def test_client_frames_are_masked_with_a_fresh_key_each_time():
    client = WebSocketConnection(client=True)
    a, b = client.send_text("Hello"), client.send_text("Hello")
    assert a[:2] == b[:2] == b"\x81\x85"
    assert a[2:6] != b[2:6]
    assert xor(a[6:], a[2:6]) == b"Hello"


def test_control_payloads_over_125_bytes_are_refused_when_sending():
    conn = WebSocketConnection()
    assert MAX_CONTROL_PAYLOAD == 125
    for method in (conn.send_ping, conn.send_pong):
        with pytest.raises(ValueError):
            method(bytes(126))


# --- permessage-deflate (RFC 7692)

def deflate_frame(opcode, raw, fin=True, rsv1=True, mask=MASK, wbits=15, obj=None):
    obj = obj or zlib.compressobj(6, zlib.DEFLATED, -wbits)
    data = obj.compress(raw) + obj.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return frame(opcode, data[:-4], fin=fin, rsv=4 if rsv1 else 0, mask=mask)


def test_rfc7692_examples_read_in_the_client_role():
    params = DeflateParams()
    # §7.2.3.1 "Hello" in one compressed frame; §7.2.3.2 the same again with context takeover.
    data = bytes.fromhex("c107f248cdc9c90700") + bytes.fromhex("c105f200110000")
    assert read_all_ways(data, client=True, deflate=params) == [TextMessage("Hello")] * 2
    # §7.2.3.1, fragmented: RSV1 on the first frame only.
    data = bytes.fromhex("4103f248cd") + bytes.fromhex("8004c9c90700")
    assert read_all_ways(data, client=True, deflate=params) == [TextMessage("Hello")]
    # §7.2.3.3 a stored (uncompressed) DEFLATE block; §7.2.3.4 a final block (BFINAL set),
    # after which the next message starts a new stream.
    data = bytes.fromhex("c10b000500faff48656c6c6f00") + bytes.fromhex("c108f348cdc9c90700 00")
    data += bytes.fromhex("c107f248cdc9c90700")
    assert read_all_ways(data, client=True, deflate=params) == [TextMessage("Hello")] * 3


def test_compressed_frames_set_rsv1_and_strip_the_tail():
    server = WebSocketConnection(deflate=DeflateParams())
    data = server.send_text("Hello")
    assert data == bytes.fromhex("c107f248cdc9c90700")  # RFC 7692 §7.2.3.1
    assert server.send_text("Hello") == bytes.fromhex("c105f200110000")  # §7.2.3.2
    assert WebSocketConnection(deflate=DeflateParams()).send_bytes(b"") == b"\xc2\x01\x00"


def test_no_context_takeover_makes_every_message_stand_alone():
    # RFC 7692 §7.1.1.1: with server_no_context_takeover each message decompresses from scratch.
    server = WebSocketConnection(deflate=DeflateParams(server_no_context_takeover=True))
    for _ in range(3):
        payload = server.send_text("Hello Hello Hello")[2:]
        assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == b"Hello " * 2 + b"Hello"
    # With context takeover the second message refers back to the first, and is shorter.
    server = WebSocketConnection(deflate=DeflateParams())
    first, second = server.send_text("Hello Hello Hello"), server.send_text("Hello Hello Hello")
    assert len(second) < len(first)
    with pytest.raises(zlib.error):
        zlib.decompressobj(-15).decompress(second[2:] + b"\x00\x00\xff\xff")


def test_client_no_context_takeover_resets_our_inflater_per_message():
    obj = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = deflate_frame(0x1, b"Hello Hello", obj=obj)
    second = deflate_frame(0x1, b"Hello Hello", obj=obj)  # refers back to the first message
    events, _ = read_whole(first + second, deflate=DeflateParams(client_no_context_takeover=True))
    assert events == [TextMessage("Hello Hello"), ProtocolFailure(1007, "invalid compressed data")]
    events, _ = read_whole(first + second, deflate=DeflateParams())
    assert events == [TextMessage("Hello Hello")] * 2


def test_window_of_8_bits_is_honoured_with_zlibs_9():
    # zlib cannot deflate with a raw 8-bit window; with 9 its matches stay within 250 bytes,
    # so a peer inflating with a 256-byte window (8 bits) reads everything we send.
    server = WebSocketConnection(deflate=DeflateParams(server_max_window_bits=8))
    peer = zlib.decompressobj(-8)
    for i in range(5):
        raw = (b"%d abcdefghijklmnopqrstuvwxyz " % i) * 50 + os.urandom(300) + b"tail" * 100
        payload = server.send_bytes(raw)
        payload = payload[4:] if payload[1] == 126 else payload[2:]
        assert peer.decompress(payload + b"\x00\x00\xff\xff") == raw


def test_deflated_fragments_and_controls_between_them():
    obj = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = obj.compress(b"fragmented message " * 10) + obj.flush(zlib.Z_SYNC_FLUSH)
    data = data[:-4]
    wire = (frame(0x1, data[:5], fin=False, rsv=4) + frame(0x9, b"ping")
            + frame(0x0, data[5:9], fin=False) + frame(0x0, data[9:]))
    assert read_all_ways(wire, deflate=DeflateParams()) == [
        Ping(b"ping"), TextMessage("fragmented message " * 10)]


@pytest.mark.parametrize("code, data", [
    # RFC 7692 §6.1: RSV1 only on the first frame of a data message.
    (1002, frame(0x1, b"\xf2\x48", fin=False, rsv=4) + frame(0x0, b"\xcd", rsv=4)),
    (1002, frame(0x9, b"", rsv=4)),
    (1002, frame(0x8, b"", rsv=4)),
    # RSV2 and RSV3 stay reserved with permessage-deflate (RFC 7692 §6).
    (1002, text("hi", rsv=2)),
    # RFC 7692 §7.2.2: invalid DEFLATE data fails the connection (1007: inconsistent payload).
    (1007, frame(0x1, b"\xff\xff\xff\xff", rsv=4)),
    (1007, frame(0x1, b"\x00\x05\x00\x00\x00Hello", rsv=4)),  # LEN and NLEN disagree
    (1007, deflate_frame(0x1, b"\xce\xba\xed\xa0\x80")),
])
def test_deflate_failures(code, data):
    events = read_all_ways(data, deflate=DeflateParams())
    assert [(type(e), getattr(e, "code", None)) for e in events] == [(ProtocolFailure, code)]


def test_deflate_bomb_fails_with_1009_and_allocates_at_most_the_limit():
    # websockets CVE-2018-1000518: 16 MiB of zeros deflate to ~16 KB.
    bomb = deflate_frame(0x2, bytes(16 << 20))
    assert len(bomb) < 20_000
    limit = 64 * 1024
    tracemalloc.start()
    try:
        events, _ = read_whole(bomb, deflate=DeflateParams(), max_message_size=limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert events == [ProtocolFailure(1009, "message inflates over 65536 bytes")]
    assert peak < 4 * limit + 100_000


def test_deflated_message_at_the_limit_is_accepted_one_more_byte_is_not():
    for size, ok in ((1000, True), (1001, False)):
        events, _ = read_whole(deflate_frame(0x2, bytes(size)), deflate=DeflateParams(),
                               max_message_size=1000)
        assert events == ([BytesMessage(bytes(size))] if ok else
                          [ProtocolFailure(1009, "message inflates over 1000 bytes")])


def test_compressed_wire_bytes_are_bounded_too():
    # A peer could send endless empty stored blocks that inflate to nothing.
    empty_blocks = b"\x00\x00\x00\xff\xff" * 300
    events, _ = read_whole(frame(0x2, empty_blocks, rsv=4), deflate=DeflateParams(),
                           max_message_size=1000)
    assert events == [ProtocolFailure(1009, "compressed message over 1064 bytes")]
    events, _ = read_whole(frame(0x2, empty_blocks[:1000], rsv=4), deflate=DeflateParams(),
                           max_message_size=1000)
    assert events == [BytesMessage(b"")]


def test_an_uncompressed_message_still_works_when_deflate_was_agreed():
    # RFC 7692 §6: RSV1 clear means the message is not compressed.
    assert read_all_ways(text("plain"), deflate=DeflateParams()) == [TextMessage("plain")]


# --- negotiation (RFC 7692 §5, §7.1)

D = "permessage-deflate"


@pytest.mark.parametrize("offer, response, params", [
    (D, D, DeflateParams()),
    (D + "; client_max_window_bits", D, DeflateParams()),
    ("PerMessage-Deflate", D, DeflateParams()),
    (D + "; server_no_context_takeover", D + "; server_no_context_takeover",
     DeflateParams(server_no_context_takeover=True)),
    (D + ";client_no_context_takeover", D + "; client_no_context_takeover",
     DeflateParams(client_no_context_takeover=True)),
    (D + "; server_max_window_bits=10", D + "; server_max_window_bits=10",
     DeflateParams(server_max_window_bits=10)),
    (D + '; server_max_window_bits="8"', D + "; server_max_window_bits=8",
     DeflateParams(server_max_window_bits=8)),
    (D + "; client_max_window_bits=9", D + "; client_max_window_bits=9",
     DeflateParams(client_max_window_bits=9)),
    (D + "; client_max_window_bits=15", D, DeflateParams()),
    # RFC 7692 §5.1 / §7: invalid offers are declined and the next one is tried.
    (D + "; server_max_window_bits, " + D, D, DeflateParams()),
    (D + "; server_max_window_bits=7, " + D + "; server_max_window_bits=9",
     D + "; server_max_window_bits=9", DeflateParams(server_max_window_bits=9)),
    ("x-webkit-deflate-frame, " + D + "; client_no_context_takeover",
     D + "; client_no_context_takeover", DeflateParams(client_no_context_takeover=True)),
])
def test_negotiation_table(offer, response, params):
    assert negotiate_deflate(offer) == (response, params)


@pytest.mark.parametrize("offer", [
    "", "x-webkit-deflate-frame", D + "; server_max_window_bits",
    D + "; server_max_window_bits=16", D + "; server_max_window_bits=08",
    D + "; client_max_window_bits=7", D + "; client_max_window_bits=1a",
    D + "; server_no_context_takeover; server_no_context_takeover",
    D + "; client_max_window_bits; client_max_window_bits=10",
    D + "; server_no_context_takeover=1", D + "; client_no_context_takeover=",
    D + "; mux", D + '; server_max_window_bits="1 0"', D + "; =1", D + ";", D + " x",
    D + '; server_max_window_bits="10', "ü", D + "; server_max_window_bits=10\r\n",
])
def test_invalid_offers_are_declined(offer):
    assert negotiate_deflate(offer) is None


def test_server_settings_shape_the_response():
    assert negotiate_deflate(D, server_max_window_bits=11, server_no_context_takeover=True,
                             client_no_context_takeover=True) == (
        D + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11",
        DeflateParams(True, True, 11, 15))
    # The client window can be limited only when the client offered the parameter (§7.1.2.2).
    assert negotiate_deflate(D + "; client_max_window_bits", client_max_window_bits=10) == (
        D + "; client_max_window_bits=10", DeflateParams(client_max_window_bits=10))
    assert negotiate_deflate(D, client_max_window_bits=10) == (D, DeflateParams())
    assert negotiate_deflate(D + "; server_max_window_bits=12", server_max_window_bits=10) == (
        D + "; server_max_window_bits=10", DeflateParams(server_max_window_bits=10))
    with pytest.raises(ValueError):
        negotiate_deflate(D, server_max_window_bits=16)
    with pytest.raises(ValueError):
        DeflateParams(client_max_window_bits=7)


def test_parse_extensions_is_linear_on_long_junk():
    assert parse_extensions(" , a ;b=\"c\\d\" , e") == [("a", [("b", "cd")]), ("e", [])]
    assert parse_extensions(D + ";" + "a;" * 20000 + "b") is not None
    assert parse_extensions('a; b="' + "\\" * 30001) is None
    assert parse_extensions("a" * 100000 + " " * 100000 + "!") is None


def test_client_side_offer_and_response_check():
    offer = deflate_offer()
    assert offer == D + "; client_max_window_bits"
    response, server_params = negotiate_deflate(offer, client_max_window_bits=12)
    assert accept_deflate_response(response, offer) == server_params == DeflateParams(
        client_max_window_bits=12)
    offer = deflate_offer(client_no_context_takeover=True, server_no_context_takeover=True,
                          client_max_window_bits=10, server_max_window_bits=9)
    response, server_params = negotiate_deflate(offer)
    assert accept_deflate_response(response, offer) == server_params
    for bad in ("", D + ", " + D, "x-foo", D + "; server_max_window_bits=12",
                D + "; client_max_window_bits", D + "; foo"):
        with pytest.raises(ValueError):
            accept_deflate_response(bad, deflate_offer(server_max_window_bits=10))
    with pytest.raises(ValueError):
        accept_deflate_response(D + "; client_max_window_bits=10", D)
