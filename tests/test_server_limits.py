"""The connection limit under pressure: idle connections make room for new clients, busy ones never do.

Every case fills all ``max_connections`` slots over real sockets, then connects one more client.
Deadlines are set to 30 s, far beyond each client socket's 5 s timeout: a new client answered
at all was admitted by shedding an idle connection, not by some deadline expiring.
"""
import asyncio
import logging
import shutil
import ssl
import threading
import time

import pytest

from covet import PlainTextResponse
from server_helpers import RunningServer, assert_closed, make_app, read_response
from test_server_tls import cert  # noqa: F401 (the fixture: a self-signed certificate)

pytestmark = pytest.mark.slow

LONG = dict(head_timeout=30.0, keepalive_timeout=30.0, body_timeout=30.0, shutdown_timeout=2.0)
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def wait_until(srv, predicate, what, timeout=5.0):
    """Poll ``predicate(server)`` on the server's loop until it holds (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not srv.call(predicate, srv.server):
        if time.monotonic() > deadline:
            raise AssertionError("server never reached: %s" % what)
        threading.Event().wait(0.01)


def still_open(sock):
    """Whether the server has neither closed ``sock`` nor sent anything on it."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b"x"  # never: any byte or EOF means the answer is no
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.settimeout(5.0)


def served(sock, path=b"/"):
    """One GET on ``sock``: (status line, body)."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    status, _, body, _ = read_response(sock)
    return status, body


def test_a_new_client_at_the_limit_closes_the_connection_idle_the_longest():
    with RunningServer(make_app(), max_connections=3, **LONG) as srv:
        a, b, c = srv.connect(), srv.connect(), srv.connect()
        # Served in the order b, c, a: b has been idle the longest, though a connected first.
        for sock in (b, c, a):
            assert served(sock) == ("HTTP/1.1 200 OK", b"hello")
        assert srv.call(lambda: len(srv.server.connections)) == 3

        d = srv.connect()
        started = time.monotonic()
        assert served(d, b"/n/4") == ("HTTP/1.1 200 OK", b"n=4")
        assert time.monotonic() - started < 5.0  # the client socket's timeout; keep-alive is 30 s

        assert_closed(b)  # quietly: no bytes, there was no request under way
        assert served(a, b"/n/1") == ("HTTP/1.1 200 OK", b"n=1")
        assert served(c, b"/n/3") == ("HTTP/1.1 200 OK", b"n=3")
        assert srv.call(lambda: len(srv.server.connections)) == 3
        assert srv.server.shed_count == 1
        for sock in (a, b, c, d):
            sock.close()


def test_connections_that_never_sent_a_byte_are_shed_oldest_first():
    # The attack in its cheapest form: open max_connections sockets and send nothing.
    with RunningServer(make_app(), max_connections=3, **LONG) as srv:
        silent = []
        for n in range(3):
            silent.append(srv.connect())
            wait_until(srv, lambda s, n=n: sum(c.deadline is not None for c in s.connections) == n + 1,
                       "%d silent connections waiting for their head" % (n + 1))
        d = srv.connect()
        assert served(d) == ("HTTP/1.1 200 OK", b"hello")
        assert_closed(silent[0])
        assert still_open(silent[1]) and still_open(silent[2])
        for sock in silent + [d]:
            sock.close()


def test_connections_in_the_middle_of_a_request_are_never_shed():
    started, release = threading.Event(), threading.Event()
    app = make_app()

    @app.get("/hold")
    async def hold():
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return PlainTextResponse("held")

    srv = RunningServer(app, max_connections=3, **LONG)
    try:
        head = srv.connect()  # a request head half sent
        head.sendall(b"GET /n/1 HTTP/1.1\r\nHost: x\r\n")
        wait_until(srv, lambda s: any(c.has_partial_head() for c in s.connections), "a partial head")
        body = srv.connect()  # a body half sent; the handler is reading it
        body.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
        handler = srv.connect()  # a handler running
        handler.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(5)
        wait_until(srv, lambda s: sum(not c.idle for c in s.connections) == 2, "two requests under way")

        d = srv.connect()
        d.sendall(GET)
        wait_until(srv, lambda s: s.waiting, "a new client waiting for a slot")
        # The server has looked for an idle connection to close and found none.
        assert all(still_open(s) for s in (head, body, handler, d))
        assert srv.call(lambda: len(srv.server.connections)) == 3
        assert srv.server.shed_count == 0

        # Once the handler answers, its connection is idle: that one makes room for d.
        release.set()
        status, _, data, _ = read_response(handler)
        assert (status, data) == ("HTTP/1.1 200 OK", b"held")
        status, _, data, _ = read_response(d)
        assert (status, data) == ("HTTP/1.1 200 OK", b"hello")
        assert_closed(handler)
        assert srv.server.shed_count == 1

        body.sendall(b"def")
        status, _, data, _ = read_response(body)
        assert (status, data) == ("HTTP/1.1 200 OK", b"abcdef")
        head.sendall(b"\r\n")
        status, _, data, _ = read_response(head)
        assert (status, data) == ("HTTP/1.1 200 OK", b"n=1")
        for sock in (head, body, handler, d):
            sock.close()
    finally:
        release.set()
        srv.stop()


def test_shed_batch_is_a_thirty_second_of_the_limit_between_one_and_thirty_two():
    from covet.server.config import SHED_BATCH, shed_batch

    assert SHED_BATCH == 32
    assert [shed_batch(n) for n in (1, 3, 63, 64, 100, 1000, 1024, 5000)] == [1, 1, 1, 2, 3, 31, 32, 32]


def test_a_large_limit_closes_a_batch_of_the_longest_idle_at_once_and_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="covet.error")
    with RunningServer(make_app(), max_connections=64, **LONG) as srv:
        clients = [srv.connect() for _ in range(64)]
        for sock in clients:
            assert served(sock) == ("HTTP/1.1 200 OK", b"hello")

        first = srv.connect()
        assert served(first) == ("HTTP/1.1 200 OK", b"hello")
        # shed_batch(64) == 2: the two idle the longest made room, and the second slot is free.
        assert_closed(clients[0])
        assert_closed(clients[1])
        second = srv.connect()
        assert served(second) == ("HTTP/1.1 200 OK", b"hello")
        assert srv.server.shed_count == 2
        assert all(still_open(sock) for sock in clients[2:])

        third = srv.connect()  # at the limit again: the next batch
        assert served(third) == ("HTTP/1.1 200 OK", b"hello")
        assert_closed(clients[2])
        assert_closed(clients[3])
        assert srv.server.shed_count == 4
        for sock in clients + [first, second, third]:
            sock.close()
    assert [r.getMessage() for r in caplog.records if r.name == "covet.error"] == [
        "connection limit reached (max_connections=64): closing idle connections to admit new clients"]


# -- per client ------------------------------------------------------------------------------

def refused(sock):
    """Whether the server closed ``sock`` without a byte (EOF or reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_max_connections_per_client_refuses_one_address_beyond_its_share():
    with RunningServer(make_app(), max_connections=10, max_connections_per_client=2, **LONG) as srv:
        a, b = srv.connect(), srv.connect()
        assert served(a) == ("HTTP/1.1 200 OK", b"hello")
        b.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a request under way counts as well
        wait_until(srv, lambda s: s.per_client == {"127.0.0.1": 2}, "two connections from 127.0.0.1")

        c = srv.connect()
        c.sendall(GET)
        assert refused(c)
        assert srv.server.refused_count == 1
        assert srv.call(lambda: len(srv.server.connections)) == 2
        assert srv.server.shed_count == 0  # refused, not admitted by closing this client's idle one

        a.close()  # the address's share frees with its connection
        wait_until(srv, lambda s: s.per_client == {"127.0.0.1": 1}, "a's connection gone")
        d = srv.connect()
        assert served(d, b"/n/4") == ("HTTP/1.1 200 OK", b"n=4")
        b.sendall(b"\r\n")
        assert read_response(b)[2] == b"hello"
        for sock in (b, c, d):
            sock.close()
    assert srv.server.per_client == {}  # nothing kept for addresses that left


def test_max_connections_per_client_is_off_by_default_and_validated():
    from covet.server.config import DEFAULT_MAX_CONNECTIONS_PER_CLIENT, ServerConfig

    assert DEFAULT_MAX_CONNECTIONS_PER_CLIENT is None
    assert ServerConfig().max_connections_per_client is None
    assert ServerConfig(max_connections_per_client=4).max_connections_per_client == 4
    for bad in (0, -1, 1.5, "4", True):
        with pytest.raises(ValueError, match="max_connections_per_client must be a positive integer or None"):
            ServerConfig(max_connections_per_client=bad)
    for bad in (0, -5, None, 2.0):
        with pytest.raises(ValueError, match="max_connections must be a positive integer, got"):
            ServerConfig(max_connections=bad)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_idle_tls_connections_are_shed_without_waiting_for_close_notify(cert):
    # A TLS close waits for the client's close_notify; an idle connection shed to make room
    # must free its slot at once, whatever the client does.
    context = ssl.create_default_context(cafile=cert[0])
    with RunningServer(make_app(), max_connections=2, ssl_certfile=cert[0], ssl_keyfile=cert[1], **LONG) as srv:
        a = context.wrap_socket(srv.connect(), server_hostname="localhost")
        b = context.wrap_socket(srv.connect(), server_hostname="localhost")
        for sock in (a, b):
            assert served(sock) == ("HTTP/1.1 200 OK", b"hello")
        c = context.wrap_socket(srv.connect(), server_hostname="localhost")
        assert served(c, b"/n/3") == ("HTTP/1.1 200 OK", b"n=3")
        assert_closed(a)
        assert served(b, b"/n/2") == ("HTTP/1.1 200 OK", b"n=2")
        for sock in (a, b, c):
            sock.close()
