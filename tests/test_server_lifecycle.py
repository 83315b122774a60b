"""Deadlines, the connection limit, graceful shutdown and misbehaving clients, over real sockets.

Timeouts are configured at 0.3 s so that each case takes a fraction of a
second; no assertion is about how long anything took, only about what the
server sent and that it closed the connection.
"""
import asyncio
import json
import logging
import socket
import struct
import threading
import time

import pytest

from covet import Covet, PlainTextResponse, StreamingResponse
from covet.server.config import LINGER_TIMEOUT
from server_helpers import (
    RunningServer, assert_closed, make_app, parse_head, read_response, recv_all, recv_until,
)

pytestmark = pytest.mark.slow

SHORT = dict(head_timeout=0.3, keepalive_timeout=0.3, body_timeout=0.3)
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def short():
    with RunningServer(make_app(), **SHORT) as s:
        yield s


def problem(data):
    head, _, body = data.partition(b"\r\n\r\n")
    line, headers = parse_head(head)
    return line, headers, json.loads(body)


def test_silent_connection_is_closed_without_a_response(short):
    # Chrome preconnect, telnet, wrk warm-up: never a byte (uvicorn PR#1192).
    with short.connect() as s:
        assert recv_all(s) == b""


def test_partial_head_gets_408_then_close(short):
    with short.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        line, headers, body = problem(recv_all(s))
    assert line == "HTTP/1.1 408 Request Timeout"
    assert headers["connection"] == ["close"]
    assert body == {"type": "about:blank", "title": "Request Timeout", "status": 408,
                    "detail": "request head not received in time"}


def test_idle_keep_alive_connection_is_closed(short):
    with short.connect() as s:
        s.sendall(GET)
        status, _, body, rest = read_response(s)
        assert (status, body, rest) == ("HTTP/1.1 200 OK", b"hello", b"")
        assert recv_all(s) == b""  # closed quietly: there was no request under way


def test_partial_second_request_on_keep_alive_gets_408(short):
    with short.connect() as s:
        s.sendall(GET + b"GET /n/1 HTTP/1.1\r\n")
        _, _, body, rest = read_response(s)
        assert body == b"hello"
        line, headers, _ = problem(rest + recv_all(s))
    assert (line, headers["connection"]) == ("HTTP/1.1 408 Request Timeout", ["close"])


def test_body_timeout_gets_408_then_close(short):
    with short.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        line, headers, body = problem(recv_all(s))
    assert line == "HTTP/1.1 408 Request Timeout"
    assert headers["connection"] == ["close"]
    assert body == {"type": "about:blank", "title": "Request Timeout", "status": 408,
                    "detail": "request body not received in time", "instance": "/echo"}


def test_chunked_body_timeout_gets_408(short):
    with short.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")
        line, headers, body = problem(recv_all(s))
    assert (line, headers["connection"], body["detail"]) == (
        "HTTP/1.1 408 Request Timeout", ["close"], "request body not received in time")


def trickle_until_cut(server, prefix, data, pause=0.02):
    """Send ``prefix``, then ``data`` a byte every ``pause`` s until the server answers and closes.

    Returns (how many bytes of ``data`` went out, the one response the server sent).
    """
    stop, sent = threading.Event(), []
    with server.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(prefix)

        def run():
            try:
                for i in range(len(data)):
                    if stop.wait(pause):
                        return
                    s.sendall(data[i:i + 1])
                    sent.append(i)
            except OSError:
                pass
        t = threading.Thread(target=run)
        t.start()
        try:
            line, headers, body, rest = read_response(s)
            assert rest == b""
            assert_closed(s)
        finally:
            stop.set()
            t.join(10)
    return len(sent), (line, headers, json.loads(body))


def test_head_trickled_one_byte_at_a_time_is_cut_by_the_absolute_deadline(short):
    # Every byte arrives well within any per-read timeout, but the whole head has one
    # deadline from its first byte (slowloris; uvicorn#157).
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
    # The first byte goes with the connection: a connection silent for head_timeout is
    # closed without an answer, however slow the machine is to start the trickle.
    sent, (line, headers, _) = trickle_until_cut(short, head[:1], head[1:])
    assert sent < len(head) - 1  # cut off before the head was complete
    assert (line, headers["connection"]) == ("HTTP/1.1 408 Request Timeout", ["close"])


def test_after_a_head_timeout_408_the_server_lingers_instead_of_resetting(short):
    # RFC 9112 §9.6: a client still sending when the 408 goes out must not get RST, which
    # can destroy the 408 in flight. The server half-closes and drops input for a while.
    with short.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        line, headers, body, rest = read_response(s)
        assert (line, rest) == ("HTTP/1.1 408 Request Timeout", b"")
        assert json.loads(body)["detail"] == "request head not received in time"
        assert s.recv(100) == b""  # the server's half of the connection is closed
        answered = time.monotonic()
        try:
            # A closed socket answers the first send with RST and the second one fails.
            for _ in range(3):
                s.sendall(b"X-Late: 1\r\n")
                time.sleep(0.05)
            lingered = True
        except OSError:
            lingered = False
        assert lingered or time.monotonic() - answered >= LINGER_TIMEOUT
        s.shutdown(socket.SHUT_WR)
        assert_closed(s)


def test_body_trickled_under_the_minimum_rate_is_cut_with_408(short):
    # A body slower than a floor rate (uvicorn#157): every byte arrives well within body_timeout, but after the first
    # body_timeout of waiting the body has to keep up 500 bytes a second (mod_reqtimeout MinRate).
    body = b"x" * 400
    sent, (line, headers, problem_body) = trickle_until_cut(
        short, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body), body)
    assert sent < len(body)  # cut off before the body was complete
    assert (line, headers["connection"]) == ("HTTP/1.1 408 Request Timeout", ["close"])
    assert problem_body["detail"] == "request body arriving slower than 500 bytes a second"


def test_time_the_handler_spends_between_reads_is_not_held_against_the_client():
    app = Covet()

    @app.post("/slow-reader")
    async def slow_reader(request):
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            await asyncio.sleep(0.5)  # longer than body_timeout, between reads
        return PlainTextResponse("got %d" % size)

    with RunningServer(app, **SHORT) as srv, srv.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"POST /slow-reader HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n")
        for piece in (b"3\r\nfgh\r\n", b"2\r\nij\r\n", b"0\r\n\r\n"):
            threading.Event().wait(0.2)  # each pause well inside body_timeout
            s.sendall(piece)
        status, _, body, _ = read_response(s)
    assert (status, body) == ("HTTP/1.1 200 OK", b"got 10")


def test_min_body_rate_zero_turns_the_floor_off_and_negative_is_refused():
    from covet.server.server import ServerConfig

    assert ServerConfig(min_body_rate=0).min_body_rate == 0
    with pytest.raises(ValueError, match="min_body_rate is bytes per second, 0 \\(off\\) or more, got -1"):
        ServerConfig(min_body_rate=-1)


def test_half_open_client_with_partial_head_is_closed(short):
    with short.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b""


def test_client_disconnecting_mid_body_does_not_hurt_the_server(short, caplog):
    caplog.set_level(logging.DEBUG, logger="covet")
    for _ in range(3):
        with short.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    with short.connect() as s:
        s.sendall(GET)
        assert read_response(s)[2] == b"hello"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def streaming_app(finished):
    app = Covet()

    @app.get("/endless")
    async def endless():
        async def parts():
            try:
                for _ in range(100000):
                    yield b"z" * 65536
            finally:
                finished.set()
        return StreamingResponse(parts(), media_type="application/octet-stream")

    @app.get("/")
    async def index():
        return PlainTextResponse("hello")

    return app


def reset(sock):
    """Close with RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_client_reset_mid_streaming_response(caplog):
    caplog.set_level(logging.DEBUG, logger="covet")
    finished = threading.Event()
    with RunningServer(streaming_app(finished)) as srv:
        s = srv.connect()
        s.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = recv_until(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        reset(s)
        assert finished.wait(5)  # the generator was closed (its finally ran)
        with srv.connect() as s2:
            s2.sendall(GET)
            assert read_response(s2)[2] == b"hello"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_client_reset_mid_large_response(short, caplog):
    caplog.set_level(logging.DEBUG, logger="covet")
    for _ in range(3):
        s = short.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        recv_until(s, b"\r\n\r\n")
        reset(s)
    with short.connect() as s:
        s.sendall(GET)
        assert read_response(s)[2] == b"hello"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_handler_error_is_500_and_the_connection_lives_on(caplog):
    app = make_app()

    @app.get("/boom")
    async def boom():
        raise RuntimeError("kaput")

    with RunningServer(app) as srv, srv.connect() as s:
        s.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = read_response(s)
        assert status == "HTTP/1.1 500 Internal Server Error"
        assert json.loads(body) == {"type": "about:blank", "title": "Internal Server Error", "status": 500,
                                    "instance": "/boom"}
        s.sendall(GET)
        assert read_response(s)[2] == b"hello"
    assert [r.getMessage() for r in caplog.records if r.name == "covet.error"] == [
        "unhandled RuntimeError in GET /boom"]


# -- the connection limit -----------------------------------------------------------------

def test_max_connections_makes_extra_clients_wait_while_every_connection_is_busy():
    # Idle connections make room for new clients (tests/test_server_limits.py); one with a
    # request under way, here a head half received, never does.
    with RunningServer(make_app(), max_connections=1, keepalive_timeout=10.0, head_timeout=10.0) as srv:
        a = srv.connect()
        a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        while not srv.call(lambda: any(c.has_partial_head() for c in srv.server.connections)):
            pass  # until the server has read those bytes
        b = srv.connect()  # the kernel completes the handshake; the server holds it without a slot
        b.sendall(b"GET /n/2 HTTP/1.1\r\nHost: x\r\n\r\n")
        b.settimeout(0.3)
        with pytest.raises(socket.timeout):
            b.recv(1)
        assert srv.call(lambda: len(srv.server.connections)) == 1
        a.sendall(b"\r\n")
        assert read_response(a)[2] == b"hello"
        a.close()  # frees the slot: b is served
        b.settimeout(5)
        assert read_response(b)[2] == b"n=2"
        b.close()


# -- graceful shutdown ----------------------------------------------------------------------

def slow_app(started, release, events):
    app = make_app()

    @app.get("/slow")
    async def slow():
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return PlainTextResponse("finished")

    @app.get("/forever")
    async def forever():
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return PlainTextResponse("never")

    @app.on_shutdown
    def bye():
        events.append("shutdown hook")

    return app


def test_graceful_shutdown_finishes_in_flight_request():
    started, release, events = threading.Event(), threading.Event(), []
    srv = RunningServer(slow_app(started, release, events), keepalive_timeout=10.0)
    try:
        idle = srv.connect()
        idle.sendall(GET)
        assert read_response(idle)[2] == b"hello"
        busy = srv.connect()
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(5)
        srv.call(srv.server.begin_shutdown)  # what SIGTERM does
        assert_closed(idle)  # idle keep-alive connections close at once
        with pytest.raises(ConnectionRefusedError):
            srv.connect()  # no longer accepting
        assert events == []
        release.set()
        status, headers, body, rest = read_response(busy)
        # gunicorn PR#2313: the last response says the connection is closing
        assert (status, headers["connection"], body, rest) == ("HTTP/1.1 200 OK", ["close"], b"finished", b"")
        assert_closed(busy)
        srv.stop()
        assert events == ["shutdown hook"]
        idle.close()
        busy.close()
    finally:
        release.set()
        srv.stop()


def test_shutdown_deadline_cancels_requests_that_do_not_finish():
    started, release, events = threading.Event(), threading.Event(), []
    srv = RunningServer(slow_app(started, release, events), shutdown_timeout=0.3)
    with srv.connect() as s:
        s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(5)
        srv.stop()
        assert_closed(s)
    assert events == ["cancelled", "shutdown hook"]


def test_shutdown_closes_connections_with_a_partial_head_after_their_deadline():
    srv = RunningServer(make_app(), head_timeout=0.3, shutdown_timeout=5.0)
    with srv.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        while not srv.call(lambda: any(c.has_partial_head() for c in srv.server.connections)):
            pass  # until the server has read those bytes
        srv.call(srv.server.begin_shutdown)
        data = recv_all(s)
    srv.stop()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_pipelined_requests_after_shutdown_began_are_not_served():
    started, release, events = threading.Event(), threading.Event(), []
    srv = RunningServer(slow_app(started, release, events))
    try:
        with srv.connect() as s:
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + GET)
            assert started.wait(5)
            srv.call(srv.server.begin_shutdown)
            release.set()
            status, headers, body, rest = read_response(s)
            assert (status, headers["connection"], body, rest) == ("HTTP/1.1 200 OK", ["close"], b"finished", b"")
            assert_closed(s)
    finally:
        release.set()
        srv.stop()


def test_generator_failing_mid_stream_cuts_the_chunked_body(caplog):
    # The status is already sent: the only honest signal left is a body without its last
    # chunk, so the client knows the response is incomplete.
    app = make_app()

    @app.get("/fails")
    async def fails():
        async def parts():
            yield b"a"
            raise RuntimeError("disk gone")
        return StreamingResponse(parts())

    with RunningServer(app) as srv:
        with srv.connect() as s:
            s.sendall(b"GET /fails HTTP/1.1\r\nHost: x\r\n\r\n")
            data = recv_all(s)
        with srv.connect() as s:
            s.sendall(GET)
            assert read_response(s)[2] == b"hello"
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n1\r\na\r\n")  # no "0\r\n\r\n"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["connection handler failed"]
    assert errors[0].exc_info[0] is RuntimeError


def test_background_task_runs_after_the_response_is_sent():
    from covet import BackgroundTasks

    done = threading.Event()
    app = make_app()

    @app.get("/later")
    async def later(tasks: BackgroundTasks):
        tasks.add_task(done.set)
        return PlainTextResponse("accepted")

    with RunningServer(app) as srv, srv.connect() as s:
        s.sendall(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[2] == b"accepted"
        assert done.wait(5)


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support in this Python")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with RunningServer(make_app(), host="::1") as srv, srv.connect() as s:
        s.sendall(b"GET /info HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        _, _, body, _ = read_response(s)
    info = json.loads(body)
    assert info["client"][0] == "::1"
    assert info["url"] == "http://[::1]/info"


def test_client_reset_mid_stream_still_tears_down_yield_dependencies(caplog):
    # Before: a client that reset the connection mid-stream skipped the
    # response's after-send work, so a yield dependency (a pooled DB
    # connection) was never released: each such client leaked one.
    from covet import Depends

    caplog.set_level(logging.DEBUG, logger="covet")
    released = threading.Event()
    finished = threading.Event()
    app = streaming_app(finished)

    async def resource():
        try:
            yield "conn"
        finally:
            released.set()

    @app.get("/held")
    async def held(conn=Depends(resource)):
        async def parts():
            try:
                for _ in range(100000):
                    yield b"z" * 65536
            finally:
                finished.set()
        return StreamingResponse(parts(), media_type="application/octet-stream")

    with RunningServer(app) as srv:
        s = srv.connect()
        s.sendall(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = recv_until(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        reset(s)
        assert finished.wait(5)
        assert released.wait(5)


def test_client_that_stops_reading_a_stream_is_cut_off():
    # Before: drain() waited forever for a client that sent a request and
    # never read the answer, so a few such clients held every connection slot.
    finished = threading.Event()
    with RunningServer(streaming_app(finished), **SHORT) as srv:
        s = srv.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        assert finished.wait(5)  # the server gave up and closed the generator
        s.close()


def test_a_client_that_resets_mid_body_is_gone_not_an_unhandled_error(caplog):
    # A reset (RST) while the handler reads the body is the client leaving, like a close: the
    # read fails as ClientGone (a 400 nobody receives), and no traceback lands in covet.error.
    seen = []
    reading, failed = threading.Event(), threading.Event()
    app = make_app()

    @app.post("/read")
    async def read(request):
        reading.set()
        try:
            await request.body()
        except Exception as exc:
            seen.append(type(exc).__name__)
            failed.set()
            raise
        return {"ok": True}

    with RunningServer(app) as srv:
        c = srv.connect()
        c.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nhel")
        assert reading.wait(5)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
        assert failed.wait(5)
        with srv.connect() as again:
            again.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert recv_all(again).startswith(b"HTTP/1.1 200 ")
    assert seen == ["ClientGone"]
    assert [r for r in caplog.records if r.name == "covet.error" and r.levelname == "ERROR"] == []


def test_a_startup_hook_that_raises_leaves_no_listening_socket():
    from covet.server.server import Server, ServerConfig

    app = Covet()

    @app.on_startup
    def broken():
        raise RuntimeError("the database is not there")

    server = Server(app, ServerConfig(port=0))

    async def main():
        with pytest.raises(RuntimeError, match="the database is not there"):
            await server.start()
    asyncio.run(main())
    assert server.sock is None
    # The port it had bound is free again: binding it anew works.
    host, port = server.bound[0], server.bound[1]
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
