"""Autobahn fuzzing-client cases that covet's real server once failed or passed only non-strictly.

benchmarks/autobahn/run.py runs Autobahn's ``wstest -m fuzzingclient`` against ``python -m covet
run`` (it needs Python 2.7, so it is not part of this suite). Each case it flagged is replayed here
over a real socket with tests/ws_client.py, named after the case: in 3.2, 3.3, 4.1.3 to 4.1.5,
4.2.3 to 4.2.5 and 5.15 the client sends a valid message and, in the same TCP segment, a frame that
fails the connection (RFC 6455 §5.2 reserved bits and opcodes, §5.4 a continuation with nothing to
continue), then a ping. Strictly, the echo of the valid message comes first, then the close with
1002, and the ping after the bad frame is never answered (§7.1.7: nothing is read after the
failure). The server had sent its close before the handler could echo.
"""
import asyncio
import threading
import time

import pytest

from covet import Covet
from covet.server import wsconnection
from covet.server.websocket import CloseReceived, Pong, TextMessage
from covet.websocket import WebSocketDisconnect
from server_helpers import RunningServer
from ws_client import WSClient, close_all, frame

WAIT = 5.0


def make_app(events, release):
    app = Covet()

    @app.websocket("/echo")
    async def echo(websocket):
        await websocket.accept()
        try:
            async for message in websocket:
                if type(message) is str:
                    await websocket.send_text(message)
                else:
                    await websocket.send_bytes(message)
        except WebSocketDisconnect as exc:
            events.append(("disconnect", exc.code))
            raise

    @app.websocket("/slow")
    async def slow(websocket):
        # Takes one message, then does not come back to receive until the test says so.
        await websocket.accept()
        events.append(("got", await websocket.receive_text()))
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 2 * WAIT)
        await websocket.send_text("late")  # the client has gone: dropped, nothing raised
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            events.append(("disconnect", exc.code))

    return app


@pytest.fixture
def events():
    return []


@pytest.fixture
def release():
    return threading.Event()


@pytest.fixture
def server(events, release):
    s = RunningServer(make_app(events, release))
    yield s
    release.set()
    close_all()
    s.stop()


def with_rsv(raw, bits):
    """``raw`` (one frame) with the reserved bits RSV1-3 set to ``bits`` (0-7, RSV1 the highest)."""
    return bytes([raw[0] | (bits << 4)]) + raw[1:]


def wait_events(events, n):
    """``events`` once it holds ``n`` entries (the handler runs in the server's thread); the
    deadline is a safety net."""
    deadline = time.monotonic() + WAIT
    while len(events) < n and time.monotonic() < deadline:
        time.sleep(0.005)
    return events


def events_until_close(client):
    """Every event from the server up to and including its close frame (pings answered)."""
    seen = []
    while True:
        event = client.next_event()
        seen.append(event)
        if type(event) is CloseReceived:
            return seen


HELLO = frame(0x1, b"Hello, world!")
PING = frame(0x9, b"")

CASES = {
    # 3.2 / 3.3: a text frame with RSV = 2 / RSV = 3 and no extension agreed (RFC 6455 §5.2)
    "3_2_rsv_2": with_rsv(frame(0x1, b"Hello, world!"), 2),
    "3_3_rsv_3": with_rsv(frame(0x1, b"Hello, world!"), 3),
    # 4.1.3 to 4.1.5: reserved non-control opcodes 5, 6 and 7 (§5.2)
    "4_1_3_opcode_5": frame(0x5, b""),
    "4_1_4_opcode_6": frame(0x6, b"Hello, world!"),
    "4_1_5_opcode_7": frame(0x7, b"Hello, world!"),
    # 4.2.3 to 4.2.5: reserved control opcodes 13, 14 and 15 (§5.2)
    "4_2_3_opcode_13": frame(0xD, b""),
    "4_2_4_opcode_14": frame(0xE, b"Hello, world!"),
    "4_2_5_opcode_15": frame(0xF, b"Hello, world!"),
}


@pytest.mark.parametrize("bad", list(CASES.values()), ids=list(CASES))
def test_case_3_2_to_4_2_5_message_before_a_bad_frame_is_echoed_before_the_close(server, events, bad):
    c = WSClient(server.port, "/echo")
    c.send_raw(HELLO + bad + PING)  # one chop: the bad frame is read before the handler runs
    seen = events_until_close(c)
    assert [type(e) for e in seen] == [TextMessage, CloseReceived]  # no Pong: nothing after the failure
    assert seen[0].data == "Hello, world!"
    assert seen[1].code == 1002
    c.sock.sendall(c.conn.close(1002))
    assert c.at_eof()
    assert wait_events(events, 1) == [("disconnect", 1002)]


def test_case_5_15_continuation_with_nothing_to_continue_after_a_fragmented_message(server, events):
    c = WSClient(server.port, "/echo")
    c.send_raw(frame(0x1, b"fragment1", fin=False) + frame(0x0, b"fragment2")  # a whole message
               + frame(0x0, b"fragment3", fin=False)  # §5.4: a continuation with no message open
               + frame(0x1, b"fragment4"))
    seen = events_until_close(c)
    assert [type(e) for e in seen] == [TextMessage, CloseReceived]
    assert seen[0].data == "fragment1fragment2"
    assert seen[1].code == 1002
    assert wait_events(events, 1) == [("disconnect", 1002)]


def test_failure_right_after_handshake_closes_at_once(server, events):
    # Nothing queued for the handler: the close goes out without waiting for it (the ping is
    # after the bad frame and gets no pong).
    c = WSClient(server.port, "/echo")
    c.send_raw(frame(0x3, b"") + PING)
    seen = events_until_close(c)
    assert [type(e) for e in seen] == [CloseReceived] and seen[0].code == 1002
    assert Pong not in [type(e) for e in seen]


def test_a_handler_that_does_not_come_back_holds_the_close_only_briefly(server, events, release, monkeypatch):
    monkeypatch.setattr(wsconnection, "FAILURE_FLUSH_TIMEOUT", 0.2)
    c = WSClient(server.port, "/slow")
    c.send_raw(frame(0x1, b"one") + frame(0x3, b""))
    seen = events_until_close(c)  # within the client's socket timeout, while the handler waits 10 s
    assert [type(e) for e in seen] == [CloseReceived] and seen[0].code == 1002
    c.sock.sendall(c.conn.close(1002))
    assert c.at_eof()
    assert events == [("got", "one")]
    release.set()
    assert wait_events(events, 2) == [("got", "one"), ("disconnect", 1002)]
