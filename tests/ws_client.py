"""A small blocking WebSocket client over a raw socket, for the server tests (RFC 6455 client role).

It speaks through covet's own codec in client mode (masked frames), so the tests drive the server
with exact bytes when they need to (``send_raw``) and with well-formed frames otherwise. Every
socket has a timeout: no test can hang on a server that does not answer.
"""
import base64
import os
import socket
import struct

from covet.server.websocket import (
    NEED_DATA, BytesMessage, CloseReceived, Ping, Pong, ProtocolFailure, TextMessage, WebSocketConnection,
    accept_deflate_response, accept_key, deflate_offer,
)

TIMEOUT = 5.0

#: Every client socket opened here, so that a test's fixture can close what a failing test left open.
OPENED = []


def frame(opcode, payload, fin=True, rsv1=False, rsv2=False, mask=True, key=b"\x37\xfa\x21\x3d"):
    """One frame's bytes, built by hand (RFC 6455 §5.2), for the frames a well-behaved client
    would never send (unmasked, reserved bits, bad opcodes) and for fragments."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Refused(Exception):
    """The server answered the handshake with something other than 101."""

    def __init__(self, status, headers, body):
        super().__init__("handshake refused: %d %r" % (status, body[:200]))
        self.status = status
        self.headers = headers
        self.body = body


def read_head(sock, buffered=b""):
    """(status, {lowercase name: [values]}, rest) of an HTTP response head read from ``sock``."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head: %r" % data)
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, rest


def read_body(sock, headers, rest):
    length = int(headers.get("content-length", ["0"])[0])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return rest[:length]


def handshake_request(path="/", host="127.0.0.1", key=None, subprotocols=None, extensions=None, origin=None,
                      extra=(), version="13", connection="Upgrade", upgrade="websocket"):
    """The bytes of an opening handshake; every piece can be changed or dropped (None) by a test."""
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host]
    if upgrade is not None:
        lines.append("Upgrade: %s" % upgrade)
    if connection is not None:
        lines.append("Connection: %s" % connection)
    if key is not None:
        lines.append("Sec-WebSocket-Key: %s" % key)
    if version is not None:
        lines.append("Sec-WebSocket-Version: %s" % version)
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: %s" % ", ".join(subprotocols))
    if extensions:
        lines.append("Sec-WebSocket-Extensions: %s" % extensions)
    if origin is not None:
        lines.append("Origin: %s" % origin)
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class WSClient:
    """One client connection: ``WSClient(port, "/ws")`` opens it (or raises ``Refused``)."""

    def __init__(self, port, path="/", subprotocols=None, deflate=False, origin=None, headers=(),
                 max_message_size=1 << 24, rcvbuf=None, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        OPENED.append(self.sock)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        offer = deflate_offer() if deflate else None
        self.sock.sendall(handshake_request(path, key=key, subprotocols=subprotocols, extensions=offer,
                                            origin=origin, extra=headers))
        status, self.headers, rest = read_head(self.sock)
        if status != 101:
            body = read_body(self.sock, self.headers, rest)
            self.sock.close()
            raise Refused(status, self.headers, body)
        assert self.headers["sec-websocket-accept"] == [accept_key(key)]
        self.subprotocol = self.headers.get("sec-websocket-protocol", [None])[0]
        params = None
        if deflate and "sec-websocket-extensions" in self.headers:
            params = accept_deflate_response(self.headers["sec-websocket-extensions"][0], offer)
        self.deflate = params
        self.conn = WebSocketConnection(client=True, max_message_size=max_message_size, deflate=params)
        if rest:
            self.conn.feed(rest)
        self.pings = []

    # -- sending ---------------------------------------------------------------
    def send_text(self, text):
        self.sock.sendall(self.conn.send_text(text))

    def send_bytes(self, data):
        self.sock.sendall(self.conn.send_bytes(data))

    def send_raw(self, data):
        self.sock.sendall(data)

    def ping(self, payload=b""):
        self.sock.sendall(self.conn.send_ping(payload))

    def close(self, code=1000, reason=""):
        self.sock.sendall(self.conn.close(code, reason))

    # -- receiving -------------------------------------------------------------
    def next_event(self, answer_pings=True):
        """The next event from the server; pings are answered (and recorded) unless told not to."""
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                try:
                    data = self.sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                self.conn.feed(data)
                continue
            if type(event) is Ping:
                self.pings.append(event.payload)
                if answer_pings:
                    self.sock.sendall(self.conn.send_pong(event.payload))
                    continue
            return event

    def receive(self):
        """The next message (str or bytes); a close raises ``Closed``."""
        while True:
            event = self.next_event()
            if type(event) in (TextMessage, BytesMessage):
                return event.data
            if type(event) is Pong:
                continue
            raise Closed(event)

    def wait_closed(self):
        """Read until the server's close frame; answer it; return (code, reason). Messages are skipped."""
        while True:
            event = self.next_event()
            if type(event) is CloseReceived:
                if self.conn.state != "CLOSED":
                    try:
                        self.sock.sendall(self.conn.close(1000 if event.code in (1005, 1006) else event.code))
                    except OSError:
                        pass
                return event.code, event.reason
            if type(event) is ProtocolFailure:
                raise AssertionError("the server broke the protocol: %r" % (event,))

    def at_eof(self):
        """True once the server closed the TCP connection (reads return nothing)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def shutdown(self):
        self.sock.close()


class Closed(Exception):
    def __init__(self, event):
        super().__init__(repr(event))
        self.event = event


def close_all():
    """Close every socket opened by WSClient (a fixture calls it after each test)."""
    while OPENED:
        OPENED.pop().close()
