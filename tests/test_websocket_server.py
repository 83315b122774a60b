"""WebSockets over real sockets on covet's server (RFC 6455, RFC 7692), driven by tests/ws_client.py.

Handshake acceptance and refusals (§4.2.1, §4.2.2; 426 with Sec-WebSocket-Version), the Origin
allow-list (cross-site WebSocket hijacking, §10.2), subprotocols, fragmentation (§5.4), pings both
ways (§5.5.2, §5.5.3) and the keepalive timeout, every close path (§7), bad frames (1002, 1007),
size limits (1009) including a deflate bomb (websockets CVE-2018-1000518), a slow reader during a
broadcast (1008), connection-limit counting and graceful shutdown (1001).
"""
import threading
import time

import pytest

from covet import Covet
from covet.websocket import WebSocketDisconnect, WebSocketManager
from server_helpers import RunningServer
from ws_client import OPENED, Refused, WSClient, close_all, frame, handshake_request, read_body, read_head
from covet.server.websocket import CloseReceived, Ping, Pong, TextMessage, WebSocketConnection

WAIT = 5.0


def wait_until(predicate, timeout=WAIT):
    """Poll server state from the test thread until ``predicate()``; the timeout is a safety net."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in %s s" % timeout)
        time.sleep(0.005)


def make_app(events=None):
    events = events if events is not None else []
    app = Covet()
    app.state.manager = WebSocketManager(send_queue_size=4)

    @app.websocket("/echo")
    async def echo(websocket):
        await websocket.accept(subprotocol="chat" if "chat" in websocket.subprotocols else None)
        try:
            while True:
                message = await websocket.receive()
                if "text" in message:
                    await websocket.send_text(message["text"])
                else:
                    await websocket.send_bytes(message["bytes"])
        except WebSocketDisconnect as exc:
            events.append(("disconnect", exc.code, exc.reason))
            raise

    @app.websocket("/close-me")
    async def close_me(websocket):
        await websocket.accept()
        await websocket.close(4000, "bye")
        events.append("closed")

    @app.websocket("/return")
    async def returns(websocket):
        await websocket.accept()
        await websocket.send_text("done")

    @app.websocket("/boom")
    async def boom(websocket):
        await websocket.accept()
        await websocket.receive_text()
        raise ValueError("secret")

    @app.websocket("/room")
    async def room(websocket):
        manager = app.state.manager
        await manager.connect(websocket, rooms=["r"])
        try:
            async for text in websocket:  # "i:size": broadcast message i of that size to the room
                i, size = text.split(":")
                await manager.broadcast(i + ":" + "x" * int(size), room="r")
        finally:
            await manager.disconnect(websocket)

    @app.get("/http")
    async def http():
        return {"ok": True}

    return app


@pytest.fixture(autouse=True)
def close_clients():
    yield
    close_all()


@pytest.fixture
def events():
    return []


@pytest.fixture
def server(events):
    s = RunningServer(make_app(events))
    yield s
    close_all()  # clients first: a server waits (up to its deadlines) for connections still open
    s.stop()


def read_response(sock):
    status, headers, rest = read_head(sock)
    return status, headers, read_body(sock, headers, rest)


def raw_handshake(server, **kw):
    sock = server.connect()
    OPENED.append(sock)
    sock.sendall(handshake_request(**kw))
    status, headers, rest = read_head(sock)
    body = read_body(sock, headers, rest)
    sock.close()
    return status, headers, body


# ----------------------------------------------------------------------------- handshake

def test_accept_echo_subprotocol_and_client_close(server, events):
    c = WSClient(server.port, "/echo", subprotocols=["other", "chat"])
    assert c.subprotocol == "chat"
    assert c.headers["upgrade"] == ["websocket"] and "date" in c.headers
    c.send_text("héllo")
    assert c.receive() == "héllo"
    c.send_bytes(b"\x00\xff")
    assert c.receive() == b"\x00\xff"
    c.close(4001, "leaving")
    assert c.wait_closed() == (4001, "")  # RFC 6455 §5.5.1: the server echoes the code
    assert c.at_eof()
    wait_until(lambda: events)
    assert events == [("disconnect", 4001, "leaving")]


@pytest.mark.parametrize("kw, status, header", [
    (dict(version="8"), 426, ("sec-websocket-version", ["13"])),
    (dict(version=None), 426, ("sec-websocket-version", ["13"])),
    (dict(key="short"), 400, None),
    (dict(key=None), 400, None),
])
def test_bad_handshakes_are_refused_with_problem_json(server, kw, status, header):
    args = dict(path="/echo", key="dGhlIHNhbXBsZSBub25jZQ==")
    args.update(kw)
    got, headers, body = raw_handshake(server, **args)
    assert got == status
    assert headers["content-type"] == ["application/problem+json"]
    assert headers["connection"] == ["close"]
    assert b'"status":%d' % status in body
    if header is not None:
        assert headers[header[0]] == header[1]


def test_no_route_405_and_plain_http_426(server):
    with pytest.raises(Refused) as info:
        WSClient(server.port, "/nowhere")
    assert info.value.status == 404
    with pytest.raises(Refused) as info:
        WSClient(server.port, "/http")
    assert info.value.status == 405 and info.value.headers["allow"] == ["GET, HEAD, OPTIONS"]
    sock = server.connect()
    OPENED.append(sock)
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, _body = read_response(sock)
    assert status == 426
    assert headers["upgrade"] == ["websocket"]
    sock.close()
    # Upgrade without "Connection: upgrade" is no upgrade (RFC 9110 §7.8): served as plain HTTP.
    status, _h, _b = raw_handshake(server, path="/echo", key="dGhlIHNhbXBsZSBub25jZQ==", connection="keep-alive")
    assert status == 426


def test_origin_allow_list():
    s = RunningServer(make_app(), ws_origins="https://good.example, http://localhost:3000")
    try:
        with pytest.raises(Refused) as info:
            WSClient(s.port, "/echo", origin="https://evil.example")
        assert info.value.status == 403
        assert b"origin https://evil.example may not open WebSockets here" in info.value.body
        c = WSClient(s.port, "/echo", origin="https://GOOD.example")
        c.send_text("ok")
        assert c.receive() == "ok"
        c.close()
        c.wait_closed()
        c = WSClient(s.port, "/echo")  # no Origin: not a browser
        c.close()
        c.wait_closed()
    finally:
        close_all()
        s.stop()


def test_frames_sent_right_behind_the_handshake_are_read(server):
    sock = server.connect()
    OPENED.append(sock)
    client = WebSocketConnection(client=True)
    sock.sendall(handshake_request("/echo", key="dGhlIHNhbXBsZSBub25jZQ==") + client.send_text("early"))
    status, _headers, rest = read_head(sock)
    assert status == 101
    if rest:
        client.feed(rest)  # b"" would mean the end of the stream
    while True:
        event = client.next_event()
        if type(event) is TextMessage:
            break
        client.feed(sock.recv(65536))
    assert event.data == "early"
    sock.close()


def test_frames_and_the_end_of_the_stream_that_arrive_before_accept_reach_the_handler():
    # Bytes that come between the request head and accept() wait in the connection's stream; the
    # WebSocket takes them over with the transport, and the end of the stream (the client sent
    # FIN without a close frame) is a 1006 after them (RFC 6455 §7.1.5).
    import asyncio
    import socket as socket_module

    app = Covet()
    seen = []
    gate = {}

    @app.websocket("/late")
    async def late(websocket):
        gate["open"] = asyncio.Event()
        await gate["open"].wait()
        await websocket.accept()
        try:
            while True:
                seen.append(await websocket.receive_text())
        except WebSocketDisconnect as exc:
            seen.append((exc.code, exc.reason))

    s = RunningServer(app)
    try:
        sock = s.connect()
        OPENED.append(sock)
        sock.sendall(handshake_request("/late", key="dGhlIHNhbXBsZSBub25jZQ=="))
        wait_until(lambda: s.call(lambda: "open" in gate))  # the handler runs: the head is parsed
        client = WebSocketConnection(client=True)
        sock.sendall(client.send_text("one") + client.send_text("two"))
        sock.shutdown(socket_module.SHUT_WR)
        wait_until(lambda: s.call(lambda: [conn.reader.ended for conn in s.server.connections]) == [True])
        s.call(lambda: gate["open"].set())
        wait_until(lambda: len(seen) == 3)
        assert seen == ["one", "two", (1006, "")]
        status, _headers, rest = read_head(sock)
        assert status == 101
    finally:
        close_all()
        s.stop()


# ----------------------------------------------------------------------------- frames

def test_fragmented_message_with_a_ping_in_between(server):
    c = WSClient(server.port, "/echo")
    c.send_raw(frame(0x1, "hé".encode()[:2], fin=False))
    c.send_raw(frame(0x9, b"mid"))  # RFC 6455 §5.4: control frames may sit between fragments
    c.send_raw(frame(0x0, "hé".encode()[2:] + b"llo", fin=False))
    c.send_raw(frame(0x0, b"!", fin=True))
    event = c.next_event()
    assert type(event) is Pong and event.payload == b"mid"
    assert c.receive() == "héllo!"
    c.close()
    assert c.wait_closed() == (1000, "")


@pytest.mark.parametrize("raw, code", [
    (frame(0x1, b"hi", mask=False), 1002),             # §5.1: client frames must be masked
    (frame(0x3, b""), 1002),                            # §5.2: reserved opcode
    (frame(0x1, b"hi", rsv2=True), 1002),               # §5.2: reserved bit, no extension
    (frame(0x9, b"x" * 126), 1002),                     # §5.5: control frame over 125 bytes
    (frame(0x1, b"\xff\xfe"), 1007),                    # §8.1: text that is not UTF-8
    (frame(0x8, b"\x03\xe8\xff"), 1007),                # close reason not UTF-8
    (frame(0x8, b"\x03\xed"), 1002),                    # close code 1005 may not be sent
])
def test_bad_frames_close_with_their_code(server, events, raw, code):
    c = WSClient(server.port, "/echo")
    c.send_raw(raw)
    got, _reason = c.wait_closed()
    assert got == code
    assert c.at_eof()
    wait_until(lambda: events)
    assert events[0][:2] == ("disconnect", code)
    # the server lives on
    c = WSClient(server.port, "/echo")
    c.send_text("still here")
    assert c.receive() == "still here"
    c.close()


def test_message_over_the_size_limit_closes_1009():
    s = RunningServer(make_app(), ws_max_message_size=1000)
    try:
        c = WSClient(s.port, "/echo")
        c.send_text("x" * 1000)
        assert c.receive() == "x" * 1000
        c.send_raw(frame(0x1, b"x" * 600, fin=False) + frame(0x0, b"x" * 600))
        assert c.wait_closed()[0] == 1009
    finally:
        close_all()
        s.stop()


def test_permessage_deflate_round_trip_and_bomb_closes_1009():
    s = RunningServer(make_app(), ws_max_message_size=1 << 20)
    try:
        c = WSClient(s.port, "/echo", deflate=True)
        # A browser's offer ("permessage-deflate; client_max_window_bits"): the server asks for
        # 4 KiB windows both ways (RFC 7692 §7.1.2), so each connection's zlib state stays small.
        assert c.headers["sec-websocket-extensions"] == [
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"]
        c.send_text("abc" * 10000)
        assert c.receive() == "abc" * 10000
        bomb = c.conn.send_text("\x00" * (8 << 20))  # 8 MiB of zeros: a few KiB on the wire
        assert len(bomb) < 20000
        c.send_raw(bomb)
        assert c.wait_closed()[0] == 1009
    finally:
        close_all()
        s.stop()
    s = RunningServer(make_app(), ws_per_message_deflate=False)
    try:
        c = WSClient(s.port, "/echo", deflate=True)
        assert "sec-websocket-extensions" not in c.headers
        c.close()
    finally:
        close_all()
        s.stop()


# ----------------------------------------------------------------------------- close paths

def test_server_close_handler_return_and_handler_exception(server, events):
    c = WSClient(server.port, "/close-me")
    assert c.wait_closed() == (4000, "bye")
    assert c.at_eof()
    c = WSClient(server.port, "/return")
    assert c.receive() == "done"
    assert c.wait_closed() == (1000, "")
    assert c.at_eof()
    c = WSClient(server.port, "/boom")
    c.send_text("go")
    assert c.wait_closed() == (1011, "internal error")
    assert c.at_eof()


def test_client_that_vanishes_is_a_1006_disconnect(server, events):
    c = WSClient(server.port, "/echo")
    c.send_text("x")
    assert c.receive() == "x"
    c.sock.close()
    wait_until(lambda: events)
    assert events == [("disconnect", 1006, "")]


# ----------------------------------------------------------------------------- pings

def test_server_pings_and_a_live_client_stays():
    s = RunningServer(make_app(), ws_ping_interval=0.05, ws_ping_timeout=1.0)
    try:
        c = WSClient(s.port, "/echo")
        for _ in range(3):  # three pings answered: still open
            event = c.next_event(answer_pings=False)
            assert type(event) is Ping and event.payload == b"covet"
            c.send_raw(c.conn.send_pong(event.payload))
        c.send_text("alive")
        while True:
            message = c.receive()  # pings are answered here
            if message == "alive":
                break
        c.close()
        c.wait_closed()
    finally:
        close_all()
        s.stop()


def test_missing_pong_closes_1011():
    s = RunningServer(make_app(), ws_ping_interval=0.05, ws_ping_timeout=0.1)
    try:
        c = WSClient(s.port, "/echo")
        event = c.next_event(answer_pings=False)
        assert type(event) is Ping
        while True:
            event = c.next_event(answer_pings=False)
            if type(event) is CloseReceived:
                break
        assert (event.code, event.reason) == (1011, "keepalive ping timeout")
    finally:
        close_all()
        s.stop()


def test_client_ping_gets_a_pong_with_its_payload(server):
    c = WSClient(server.port, "/echo")
    c.ping(b"abc")
    event = c.next_event()
    assert type(event) is Pong and event.payload == b"abc"
    c.close()


# ----------------------------------------------------------------------------- broadcast, limits, shutdown

def test_slow_reader_during_broadcast_is_closed_1008_others_get_everything():
    app = make_app()  # send_queue_size=4
    s = RunningServer(app)
    manager = app.state.manager
    try:
        slow = WSClient(s.port, "/room", rcvbuf=4096)  # connects, then never reads
        fast = WSClient(s.port, "/room")
        wait_until(lambda: s.call(lambda: len(manager)) == 2)
        # 96 x 128 KiB: far more than the slow client's socket buffers and queue can hold.
        n, size = 96, 128 * 1024
        for i in range(n):
            fast.send_text("%d:%d" % (i, size))  # each message is broadcast to both
            message = fast.receive()
            assert message.split(":")[0] == str(i) and len(message) == len(str(i)) + 1 + size
        assert s.call(lambda: manager.overflow_count) == 1
        assert s.call(lambda: manager.connections("r")) == s.call(lambda: manager.connections()) and \
            s.call(lambda: len(manager)) == 1
        code, reason = slow.wait_closed()  # reads its backlog, then the close frame
        assert (code, reason) == (1008, "client too slow: send queue overflowed")
        fast.close()
        assert fast.wait_closed() == (1000, "")
    finally:
        close_all()
        s.stop()


def test_websockets_hold_connection_slots():
    s = RunningServer(make_app(), max_connections=2)
    try:
        a = WSClient(s.port, "/echo")
        b = WSClient(s.port, "/echo")
        third = s.connect()
        OPENED.append(third)
        third.sendall(b"GET /http HTTP/1.1\r\nHost: x\r\n\r\n")
        # the third client waits for a slot: open WebSockets are never shed as idle
        wait_until(lambda: s.call(lambda: s.server.waiting))
        assert s.call(lambda: len(s.server.connections)) == 2
        a.close()
        a.wait_closed()
        status, _h, _b = read_response(third)
        assert status == 200
        b.send_text("b lives")
        assert b.receive() == "b lives"
    finally:
        close_all()
        s.stop()


def test_graceful_shutdown_closes_websockets_with_1001(events):
    s = RunningServer(make_app(events), shutdown_timeout=3.0)
    c = WSClient(s.port, "/echo")
    c.send_text("x")
    assert c.receive() == "x"
    s.begin_shutdown()
    assert c.wait_closed() == (1001, "server shutting down")
    s.stop()
    assert events == [("disconnect", 1001, "server shutting down")]


def test_websocket_settings_are_checked_and_origins_normalised():
    from covet.server.config import ServerConfig

    config = ServerConfig(ws_origins="https://A.example/, http://b.example:8080")
    assert config.ws_origins == frozenset({"https://a.example", "http://b.example:8080"})
    assert ServerConfig().ws_origins is None
    assert (ServerConfig().ws_ping_interval, ServerConfig().ws_ping_timeout) == (20.0, 20.0)
    assert ServerConfig().ws_max_message_size == 1 << 20 and ServerConfig().ws_per_message_deflate is True
    assert (ServerConfig().ws_handshake_timeout, ServerConfig().ws_idle_timeout) == (10.0, None)
    for bad in (dict(ws_ping_interval=-1), dict(ws_ping_timeout="5"), dict(ws_max_message_size=0),
                dict(ws_max_message_size=1.5), dict(ws_handshake_timeout=-1), dict(ws_idle_timeout="60"),
                dict(ws_idle_timeout=True)):
        with pytest.raises(ValueError):
            ServerConfig(**bad)


def test_access_log_has_one_line_per_websocket(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="covet.access")  # before start: the server settles it then
    s = RunningServer(make_app(), access_log=True)
    try:
        c = WSClient(s.port, "/return")
        assert c.receive() == "done"
        c.wait_closed()
        wait_until(lambda: any('"GET /return HTTP/1.1" 101' in r.getMessage() for r in caplog.records))
        with pytest.raises(Refused):
            WSClient(s.port, "/nowhere")
        wait_until(lambda: any('"GET /nowhere HTTP/1.1" 404' in r.getMessage() for r in caplog.records))
        lines = [r.getMessage() for r in caplog.records if r.name == "covet.access"]
        assert len(lines) == 2
    finally:
        close_all()
        s.stop()


# ----------------------------------------------------------------------------- handshake and idle timeouts

def test_handshake_not_answered_in_time_is_refused_503_and_a_late_accept_raises():
    import asyncio

    from covet.websocket import WebSocketState

    app = Covet()
    late = []
    gate = {}

    @app.websocket("/slow")
    async def slow(websocket):
        gate["open"] = asyncio.Event()
        await gate["open"].wait()  # a dependency that hangs past the handshake timeout
        try:
            await websocket.accept()
        except WebSocketDisconnect as exc:
            late.append((exc.code, exc.reason, websocket.connection_state))
            raise

    s = RunningServer(app, ws_handshake_timeout=0.2)
    try:
        sock = s.connect()
        OPENED.append(sock)
        sock.sendall(handshake_request(path="/slow", key="dGhlIHNhbXBsZSBub25jZQ=="))
        status, headers, body = read_response(sock)
        assert status == 503
        assert headers["content-type"] == ["application/problem+json"] and headers["connection"] == ["close"]
        assert b"not answered in time" in body
        assert sock.recv(1) == b""  # and the connection closes
        s.call(lambda: gate["open"].set())
        wait_until(lambda: late)
        assert late == [(1006, "WebSocket handshake timed out", WebSocketState.DISCONNECTED)]
        wait_until(lambda: not s.call(lambda: len(s.server.connections)))  # its slot is free again
    finally:
        close_all()
        s.stop()


def test_handshake_timer_stops_once_the_app_accepts():
    s = RunningServer(make_app(), ws_handshake_timeout=30.0)
    try:
        c = WSClient(s.port, "/echo")
        c.send_text("x")
        assert c.receive() == "x"
        timers = s.call(lambda: [conn.ws.handshake_timer for conn in s.server.connections])
        assert timers == [None]
        c.close()
        c.wait_closed()
    finally:
        close_all()
        s.stop()


def test_idle_client_is_closed_1001_but_pings_do_not_keep_it_open_and_messages_do():
    events = []
    s = RunningServer(make_app(events), ws_idle_timeout=0.3, ws_ping_interval=0.05, ws_ping_timeout=1.0)
    try:
        c = WSClient(s.port, "/echo")
        # Messages for longer than the idle timeout: each one restarts its clock.
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < 0.6:
            # Taken before sending: the server cannot have seen the message earlier, so its idle
            # clock starts after this (same monotonic clock, same process) however slow the echo.
            sent = time.monotonic()
            c.send_text(str(n))
            assert c.receive() == str(n)  # pings in between are answered by the client
            n += 1
        # Then silence, with the server's pings answered: closed with 1001 once the timeout passed.
        assert c.wait_closed() == (1001, "idle timeout")
        assert time.monotonic() - sent >= 0.3
        assert c.pings  # it was pinged (and answered) while idle, and closed anyway
        wait_until(lambda: events)
        assert events == [("disconnect", 1001, "idle timeout")]
        assert c.at_eof()
    finally:
        close_all()
        s.stop()


def test_without_idle_timeout_no_idle_timer_is_armed(server):
    c = WSClient(server.port, "/echo")
    c.send_text("x")
    assert c.receive() == "x"
    assert server.call(lambda: [conn.ws.idle_timer for conn in server.server.connections]) == [None]
    c.close()
    c.wait_closed()


# ----------------------------------------------------------------------------- flow control both ways

def test_a_handler_that_falls_behind_stops_reading_and_gets_every_message_in_order():
    # Past RECEIVE_QUEUE_SIZE unread messages the transport stops reading (TCP holds the client
    # back); once the handler catches up, reading resumes and nothing is lost or reordered.
    import asyncio

    from covet.server.wsconnection import RECEIVE_QUEUE_SIZE

    app = Covet()
    gate = {}

    @app.websocket("/lazy")
    async def lazy(websocket):
        await websocket.accept()
        gate["go"] = asyncio.Event()
        await gate["go"].wait()
        got = [await websocket.receive_text() for _ in range(3 * RECEIVE_QUEUE_SIZE)]
        await websocket.send_text(",".join(got))

    s = RunningServer(app)
    try:
        c = WSClient(s.port, "/lazy")
        for i in range(3 * RECEIVE_QUEUE_SIZE):
            c.send_text(str(i))

        def queued():
            return [(len(conn.ws.incoming or ()), conn.ws.held) for conn in s.server.connections]

        wait_until(lambda: s.call(queued) == [(RECEIVE_QUEUE_SIZE, True)])
        s.call(lambda: gate["go"].set())
        assert c.receive() == ",".join(str(i) for i in range(3 * RECEIVE_QUEUE_SIZE))
        c.close()
        assert c.wait_closed() == (1000, "")
    finally:
        close_all()
        s.stop()


def test_a_client_that_stops_reading_is_dropped_after_body_timeout():
    from covet.websocket import WebSocketState

    app = Covet()
    result = []

    @app.websocket("/flood")
    async def flood(websocket):
        await websocket.accept()
        chunk = b"x" * 65536
        sent = 0
        while websocket.connection_state is WebSocketState.CONNECTED:
            await websocket.send_bytes(chunk)  # waits while the socket pushes back, then gives up
            sent += 1
        result.append((websocket.close_code, websocket.close_reason, sent > 1))

    s = RunningServer(app, body_timeout=0.3)
    try:
        WSClient(s.port, "/flood", rcvbuf=4096)  # never reads
        wait_until(lambda: result)
        assert result == [(1006, "client stopped reading", True)]
        wait_until(lambda: not s.call(lambda: len(s.server.connections)))
    finally:
        close_all()
        s.stop()


def test_a_second_task_receiving_at_the_same_time_is_an_error_and_the_first_still_gets_the_message():
    import asyncio

    app = Covet()
    outcome = []

    @app.websocket("/twice")
    async def twice(websocket):
        await websocket.accept()
        first = asyncio.ensure_future(websocket.receive_text())
        await asyncio.sleep(0)  # let the first task start waiting
        try:
            await websocket.receive_text()
        except RuntimeError as exc:
            outcome.append(str(exc))
        await websocket.send_text("got " + await first)

    s = RunningServer(app)
    try:
        c = WSClient(s.port, "/twice")
        wait_until(lambda: outcome)
        assert outcome == ["another task is already waiting in receive() on this WebSocket"]
        c.send_text("hello")
        assert c.receive() == "got hello"
    finally:
        close_all()
        s.stop()


def test_a_client_that_pings_without_reading_is_held_back_by_tcp_not_by_our_memory():
    # RFC 6455 §5.5.2: every ping is answered with a pong. A client that floods pings and never
    # reads must not grow the server's write buffer without bound: past WRITE_HIGH_WATER the
    # server stops reading (no more pings, so no more pongs) until the client reads again.
    import socket

    from covet.server.config import READ_SIZE, WRITE_HIGH_WATER

    app = Covet()

    @app.websocket("/quiet")
    async def quiet(websocket):
        await websocket.accept()
        await websocket.receive_text()

    s = RunningServer(app, body_timeout=30.0)
    try:
        c = WSClient(s.port, "/quiet", rcvbuf=4096)  # never reads
        c.sock.settimeout(1.0)
        burst = frame(0x9, b"p" * 125) * 1000
        blocked = False
        for _ in range(200):  # 26 MB of pings at most
            try:
                c.send_raw(burst)
            except socket.timeout:
                blocked = True  # the server stopped reading: TCP pushes back on us
                break
        assert blocked
        buffered = s.call(lambda: [conn.ws.transport.get_write_buffer_size() for conn in s.server.connections])
        assert len(buffered) == 1 and buffered[0] <= WRITE_HIGH_WATER + READ_SIZE
    finally:
        close_all()
        s.stop()
