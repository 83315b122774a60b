"""One way out for a response (covet.core.driver): the server, the ASGI adapter and the test client
send the same responses as the same status, headers and body, and clean up the same way.

Each case is one route. Every door's output is reduced to (status, headers, body): the server's
bytes are parsed (its own Date/Server/Connection/Transfer-Encoding framing set aside), the ASGI
messages are joined, the test client's response is read as is. Cleanup is observed through
events that the app's generator and its background task set, waited for, never slept for.
"""
import asyncio
import socket
import threading

import pytest

from covet import BackgroundTasks, Covet, Response, StreamingResponse
from covet.core import driver
from covet.testing import TestClient
from server_helpers import RunningServer

FRAMING = {b"date", b"server", b"connection", b"transfer-encoding", b"keep-alive"}


class Probe:
    """What the app's generator and background task report, per route."""

    def __init__(self):
        self.events = {}
        self.gens = {}
        self.lock = threading.Lock()

    def event(self, name):
        with self.lock:
            return self.events.setdefault(name, threading.Event())

    def reset(self):
        with self.lock:
            self.events = {}


def make_app(probe):
    app = Covet()

    def chunks(name, parts, fail_after=None, endless=False):
        async def gen():
            try:
                i = 0
                while True:
                    if fail_after is not None and i == fail_after:
                        raise RuntimeError("the body iterator failed")
                    if not endless and i >= len(parts):
                        return
                    yield parts[i % len(parts)]
                    i += 1
            finally:
                probe.event(name + ":closed").set()
        probe.gens[name] = made = gen()
        return made

    def bg(name):
        tasks = BackgroundTasks()
        tasks.add_task(probe.event(name + ":after").set)
        return tasks

    @app.get("/plain")
    async def plain():
        return Response(b"hello", 200, {"X-Kind": "plain"}, media_type="text/plain", background=bg("plain"))

    @app.get("/stream")
    async def stream():
        return StreamingResponse(chunks("stream", [b"one ", b"two ", b"three"]), media_type="text/plain",
                                 background=bg("stream"))

    @app.get("/stream-length")
    async def stream_length():
        return StreamingResponse(chunks("stream-length", [b"ab", b"cd"]), headers={"Content-Length": "4"},
                                 media_type="text/plain", background=bg("stream-length"))

    @app.get("/no-content")
    async def no_content():
        response = Response(b"ignored", 200, media_type="text/plain", background=bg("no-content"))
        response.status_code = 204  # changed after the body was set: no body, no Content-Length
        return response

    @app.get("/not-modified")
    async def not_modified():
        return StreamingResponse(chunks("not-modified", [b"never"]), 304, {"ETag": '"v1"'},
                                 background=bg("not-modified"))

    @app.get("/fails")
    async def fails():
        return StreamingResponse(chunks("fails", [b"first"], fail_after=1), media_type="text/plain",
                                 background=bg("fails"))

    @app.get("/endless")
    async def endless():
        return StreamingResponse(chunks("endless", [b"tick "], endless=True), media_type="text/plain",
                                 background=bg("endless"))

    return app


# -- the three doors ----------------------------------------------------------

def parse_http(data, method):
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = [tuple(part.strip() for part in line.split(b":", 1)) for line in lines[1:]]
    headers = [(k.lower(), v) for k, v in headers]
    chunked = (b"transfer-encoding", b"chunked") in headers
    if method == "HEAD" or status in (204, 304):
        body, complete = rest, True  # ends at the head; the test asserts rest is empty
    elif chunked:
        body, complete = b"", False
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                complete = True
                break
            body, rest = body + rest[:size], rest[size + 2:]
    else:
        body, complete = rest, True
    return status, [h for h in headers if h[0] not in FRAMING], body, complete


def via_server(server, method, path, read_first_only=False):
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % (method.encode(), path.encode()))
        data = b""
        while True:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            data += piece
            if read_first_only and b"tick" in data:
                break  # the client goes away in the middle of the stream
    status, headers, body, complete = parse_http(data, method)
    return status, headers, body if not read_first_only else body[:5], complete


def via_asgi(app, method, path, disconnect_after=None):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body" and disconnect_after is not None \
                and sum(1 for m in sent if m["type"] == "http.response.body") >= disconnect_after:
            raise OSError("client went away")  # what an ASGI server's send does then
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"t")], "http_version": "1.1", "scheme": "http"}
    error = None
    try:
        asyncio.run(app(scope, receive, send))
    except Exception as exc:
        error = exc
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    complete = bool(sent) and sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body", False)
    headers = [(k, v) for k, v in start["headers"] if k not in FRAMING]
    return (start["status"], headers, body, complete and error is None), error


def via_client(app, method, path):
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.request(method, path)
        headers = [(k.encode(), v.encode()) for k, v in r.headers.items()]
        return r.status_code, headers, r.content


CASES = [
    # (method, path, status, body, cleanup names)
    ("GET", "/plain", 200, b"hello", ["plain:after"]),
    ("HEAD", "/plain", 200, b"", ["plain:after"]),
    ("GET", "/stream", 200, b"one two three", ["stream:closed", "stream:after"]),
    ("HEAD", "/stream", 200, b"", ["stream:after"]),  # never started: closed, its body never ran
    ("GET", "/stream-length", 200, b"abcd", ["stream-length:closed", "stream-length:after"]),
    ("GET", "/no-content", 204, b"", ["no-content:after"]),
    ("GET", "/not-modified", 304, b"", ["not-modified:after"]),
]


@pytest.fixture(scope="module")
def probe():
    return Probe()


@pytest.fixture(scope="module")
def server(probe):
    with RunningServer(make_app(probe)) as running:
        yield running


def wait_all(probe, names):
    missing = [n for n in names if not probe.event(n).wait(5)]
    assert missing == []
    for name in names:
        gen = probe.gens.get(name.split(":")[0])
        if name.endswith(":after") and gen is not None:
            assert gen.ag_frame is None, "%s: the generator is still open" % name  # closed, started or not


@pytest.mark.parametrize("method, path, status, body, cleanup", CASES)
def test_every_door_sends_the_same_answer_and_cleans_up(probe, server, method, path, status, body, cleanup):
    app = make_app(probe)
    answers = {}
    for door in ("server", "asgi", "client"):
        probe.reset()
        if door == "server":
            got_status, headers, got_body, complete = via_server(server, method, path)
            assert complete
        elif door == "asgi":
            (got_status, headers, got_body, complete), error = via_asgi(app, method, path)
            assert error is None and complete
        else:
            got_status, headers, got_body = via_client(app, method, path)
        answers[door] = (got_status, sorted(headers), got_body)
        assert (got_status, got_body) == (status, body), door
        wait_all(probe, cleanup)
    assert answers["server"] == answers["asgi"] == answers["client"]


def test_bodiless_answers_keep_no_content_length_and_head_keeps_the_get_headers(probe):
    app = make_app(probe)
    _, headers, _ = via_client(app, "GET", "/no-content")
    assert b"content-length" not in dict(headers)
    assert dict(via_client(app, "HEAD", "/plain")[1])[b"content-length"] == b"5"


def test_a_failing_body_iterator_ends_the_body_and_still_cleans_up_everywhere(probe, server):
    app = make_app(probe)
    probe.reset()
    status, _, body, complete = via_server(server, "GET", "/fails")
    assert (status, body, complete) == (200, b"first", False)  # cut off: no last chunk
    wait_all(probe, ["fails:closed", "fails:after"])

    probe.reset()
    (status, _, body, complete), error = via_asgi(app, "GET", "/fails")
    assert (status, body, complete) == (200, b"first", False)
    assert isinstance(error, RuntimeError)
    wait_all(probe, ["fails:closed", "fails:after"])

    probe.reset()
    assert via_client(app, "GET", "/fails")[::2] == (200, b"first")
    wait_all(probe, ["fails:closed", "fails:after"])
    probe.reset()
    with TestClient(app) as client, pytest.raises(RuntimeError, match="the body iterator failed"):
        client.get("/fails")
    wait_all(probe, ["fails:closed", "fails:after"])


def test_a_client_that_leaves_mid_stream_closes_the_generator_at_every_door(probe, server):
    app = make_app(probe)
    probe.reset()
    status, _, body, _ = via_server(server, "GET", "/endless", read_first_only=True)
    assert (status, body) == (200, b"tick ")
    wait_all(probe, ["endless:closed", "endless:after"])

    probe.reset()
    (status, _, body, complete), error = via_asgi(app, "GET", "/endless", disconnect_after=1)
    assert (status, body, complete) == (200, b"tick ", False)
    assert isinstance(error, OSError)
    wait_all(probe, ["endless:closed", "endless:after"])

    probe.reset()
    with TestClient(app) as client:
        with client.stream("GET", "/endless") as r:
            assert r.status_code == 200
            assert next(r.iter_bytes()) == b"tick "
            assert not probe.event("endless:closed").is_set()
        wait_all(probe, ["endless:closed", "endless:after"])


# -- the driver's own rules ---------------------------------------------------

@pytest.mark.parametrize("method, status, expected", [
    ("GET", 200, True), ("HEAD", 200, False), ("GET", 204, False), ("GET", 304, False),
    ("GET", 101, False), ("POST", 404, True),
])
def test_has_body(method, status, expected):
    assert driver.has_body(method, status) is expected
    assert driver.start(Response(b"x", status), method)[3] is expected


def test_start_drops_a_stale_content_length_and_keeps_the_body_only_when_allowed():
    response = Response(b"abc", 200)
    response.status_code = 204
    status, headers, body, send_body = driver.start(response, "GET")
    assert (status, body, send_body) == (204, b"", False)
    assert all(k != b"content-length" for k, _ in headers)
    # A 304 may keep the length of the representation it stands for (RFC 9110 §8.6, §15.4.5).
    response.status_code = 304
    assert driver.start(response, "GET")[1:3] == ([(b"content-length", b"3")], b"")
    assert driver.start(Response(b"abc"), "HEAD")[1:3] == ([(b"content-length", b"3")], b"")


def test_stream_closes_the_iterator_when_write_fails():
    closed = []

    async def gen():
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append(True)

    async def write(data):
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        asyncio.run(driver.stream(StreamingResponse(gen()), True, write))
    assert closed == [True]


def test_stream_reads_nothing_when_no_body_may_go_out():
    pulled = []

    async def gen():
        pulled.append(1)
        yield b"never"

    written = []

    async def write(data):
        written.append(data)

    assert asyncio.run(driver.stream(StreamingResponse(gen()), False, write)) == 0
    assert (pulled, written) == ([], [])


def test_async_client_stream_reads_chunks_and_closes_on_exit(probe):
    from covet.testing import AsyncTestClient

    app = make_app(probe)
    probe.reset()

    async def main():
        async with AsyncTestClient(app) as client:
            async with client.stream("GET", "/stream") as r:
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/plain; charset=utf-8"
                return await r.aread()

    assert asyncio.run(main()) == b"one two three"
    wait_all(probe, ["stream:closed", "stream:after"])


def _declared(parts, length):
    async def gen():
        for part in parts:
            yield part
    return StreamingResponse(gen(), headers={"Content-Length": str(length)})


def test_a_streamed_body_longer_than_its_content_length_is_stopped_before_the_excess():
    written = []

    async def write(data):
        written.append(data)

    with pytest.raises(driver.BodyLengthError, match="longer than its Content-Length of 4 bytes"):
        asyncio.run(driver.stream(_declared([b"ab", b"cd", b"ef"], 4), True, write))
    assert written == [b"ab", b"cd"]  # the excess never goes out


def test_a_streamed_body_shorter_than_its_content_length_fails_at_its_end():
    written = []

    async def write(data):
        written.append(data)

    with pytest.raises(driver.BodyLengthError, match="ended after 2 of the 10 bytes"):
        asyncio.run(driver.stream(_declared([b"ab"], 10), True, write))
    assert written == [b"ab"]
    assert asyncio.run(driver.stream(_declared([b"ab", b"cd"], 4), True, write)) == 4


def test_a_short_declared_body_is_a_failure_at_every_door(probe, server):
    app = Covet()

    @app.get("/short")
    async def short():
        return _declared([b"abcd"], 10)

    with RunningServer(app) as running:
        status, _, body, complete = via_server(running, "GET", "/short")
    assert (status, body) == (200, b"abcd")  # the connection closes: the client sees 4 of 10 bytes
    (_, _, body, complete), error = via_asgi(app, "GET", "/short")
    assert isinstance(error, driver.BodyLengthError) and not complete
    with TestClient(app) as client, pytest.raises(driver.BodyLengthError):
        client.get("/short")


def _file_app(path, change):
    from covet import FileResponse

    app = Covet()

    @app.get("/file")
    async def file():
        response = FileResponse(path)   # announces the size the file has now
        change(path)                    # ... which changes before the body is read
        return response

    @app.get("/ok")
    async def ok():
        return Response(b"ok")

    return app


def _append(path):
    with open(path, "ab") as f:
        f.write(b"b" * 50)


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(10)


def _exchange_twice(running, first):
    """Send GET first then GET /ok on one kept-alive connection; every byte the server sends."""
    with socket.create_connection((running.host, running.port), timeout=5) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n" % first)
        data = b""
        while True:
            try:
                piece = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not piece:
                break
            data += piece
            if data.endswith(b"\r\n\r\nok"):
                break
    return data


def test_a_file_that_grows_while_sent_is_cut_at_its_announced_size(tmp_path):
    path = tmp_path / "grows.bin"
    path.write_bytes(b"a" * 100)
    app = _file_app(str(path), _append)
    with RunningServer(app) as running:
        data = _exchange_twice(running, b"/file")
    first, _, rest = data.partition(b"HTTP/1.1 200 OK\r\n")[2].partition(b"\r\n\r\n")
    assert b"content-length: 100" in first
    assert rest.startswith(b"a" * 100 + b"HTTP/1.1 200 OK")  # exactly 100 bytes, then the next answer
    assert data.endswith(b"\r\n\r\nok")


def test_a_file_that_shrinks_while_sent_closes_the_connection(tmp_path):
    path = tmp_path / "shrinks.bin"
    path.write_bytes(b"a" * 100)
    app = _file_app(str(path), _truncate)
    with RunningServer(app) as running:
        data = _exchange_twice(running, b"/file")
    assert data.count(b"HTTP/1.1 200 OK") == 1        # the second request is never answered
    assert data.endswith(b"\r\n\r\n" + b"a" * 10)     # 10 of 100 bytes, then the close
