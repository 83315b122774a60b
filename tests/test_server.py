"""The HTTP/1.1 server over real sockets: keep-alive, pipelining, bodies, streaming, HTTP/1.0, 100-continue, HEAD.

Clients are ``http.client``, ``urllib`` and raw sockets sending exact bytes;
the server is a real ``covet.server.server.Server`` on 127.0.0.1, port 0.
"""
import http.client
import json
import re
import urllib.request

import pytest

from server_helpers import (
    CLIENT_TIMEOUT, RunningServer, assert_closed, make_app, parse_head, read_response, recv_all, recv_until,
)

pytestmark = pytest.mark.slow

DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                  r"\d{4} \d\d:\d\d:\d\d GMT$")


@pytest.fixture(scope="module")
def server():
    with RunningServer(make_app()) as s:
        yield s


def test_http_client_get(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        assert (r.status, r.reason, r.read()) == (200, "OK", b"hello")
        assert r.getheader("Content-Type") == "text/plain; charset=utf-8"
        assert r.getheader("Content-Length") == "5"
        assert r.getheader("Server") == "covet"
        assert DATE.match(r.getheader("Date"))
        assert r.getheader("Connection") is None
    finally:
        conn.close()


def test_urllib_get_and_post(server):
    with urllib.request.urlopen(server.url + "/n/7", timeout=CLIENT_TIMEOUT) as r:
        assert (r.status, r.read()) == (200, b"n=7")
    req = urllib.request.Request(server.url + "/echo", data=b"payload", method="POST")
    with urllib.request.urlopen(req, timeout=CLIENT_TIMEOUT) as r:
        assert (r.status, r.read()) == (200, b"payload")


def test_urllib_404_is_problem_json(server):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url + "/nope", timeout=CLIENT_TIMEOUT)
    err = info.value
    try:
        assert err.code == 404
        assert err.headers["Content-Type"] == "application/problem+json"
        assert json.loads(err.read()) == {"type": "about:blank", "title": "Not Found", "status": 404,
                                          "detail": "no route for /nope", "instance": "/nope"}
    finally:
        err.close()


def test_keep_alive_reuses_one_socket(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT)
    try:
        ports = set()
        for i in range(5):
            conn.request("GET", "/info")
            r = conn.getresponse()
            assert r.status == 200
            ports.add(json.loads(r.read())["client"][1])
            ports.add(conn.sock.getsockname()[1])
        assert len(ports) == 1  # the server saw one client port, the client used one socket
    finally:
        conn.close()


def test_keep_alive_on_raw_socket(server):
    with server.connect() as s:
        rest = b""
        for i in range(3):
            s.sendall(b"GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            status, headers, body, rest = read_response(s, rest)
            assert (status, body) == ("HTTP/1.1 200 OK", b"n=%d" % i)
            assert "connection" not in headers


def test_connection_close_is_honoured(server):
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = recv_all(s)
    status, headers = parse_head(data.split(b"\r\n\r\n")[0])
    assert status == "HTTP/1.1 200 OK"
    assert headers["connection"] == ["close"]
    assert data.endswith(b"\r\n\r\nhello")


def test_pipelining_ten_requests_in_one_write(server):
    with server.connect() as s:
        s.sendall(b"".join(b"GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(10)))
        rest = b""
        for i in range(10):
            status, _, body, rest = read_response(s, rest)
            assert (status, body) == ("HTTP/1.1 200 OK", b"n=%d" % i)
        assert rest == b""


def test_pipelining_with_bodies_and_a_close_at_the_end(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                  b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
                  b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nskip"
                  b"GET /n/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  b"GET /n/2 HTTP/1.1\r\nHost: x\r\n\r\n")
        bodies = []
        rest = b""
        for _ in range(4):
            _, headers, body, rest = read_response(s, rest)
            bodies.append(body)
        assert bodies == [b"abc", b"de", b"ignored", b"n=1"]
        assert headers["connection"] == ["close"]
        assert rest == b""
        assert_closed(s)  # the request after "Connection: close" is never answered


def test_chunked_request_body_with_extensions_and_trailers(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"4\r\nWiki\r\n5;name=\"va lue\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
                  b"0\r\nX-Trailer: yes\r\n\r\n")
        status, headers, body, rest = read_response(s)
    assert (status, body, rest) == ("HTTP/1.1 200 OK", b"Wikipedia in\r\n\r\nchunks.", b"")
    assert headers["content-length"] == ["23"]


def test_chunked_request_body_sent_in_pieces(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"3\r\nab", b"c\r\n", b"1", b"0\r\n", b"0123456789abcdef\r", b"\n0\r\n", b"\r\n"):
            s.sendall(piece)
        status, _, body, _ = read_response(s)
    assert (status, body) == ("HTTP/1.1 200 OK", b"abc0123456789abcdef")


def test_http_client_chunked_upload(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("POST", "/echo", body=iter([b"one ", b"two ", b"three"]), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"one two three")
    finally:
        conn.close()


def test_large_request_and_response_bodies(server):
    payload = bytes(range(256)) * 4096  # 1 MiB
    conn = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("POST", "/echo", body=payload)
        r = conn.getresponse()
        assert r.status == 200
        assert r.read() == payload
        conn.request("GET", "/big")
        r = conn.getresponse()
        assert r.read() == b"x" * (1024 * 1024)
    finally:
        conn.close()


def test_chunked_streaming_response_exact_bytes(server):
    with server.connect() as s:
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        body, rest = recv_until(s, b"\r\n0\r\n\r\n", rest)
        status, headers = parse_head(head)
        assert status == "HTTP/1.1 200 OK"
        assert headers["transfer-encoding"] == ["chunked"]
        assert "content-length" not in headers
        assert body == b"1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n"
        assert rest == b""
        # still usable: the chunked body was framed exactly
        s.sendall(b"GET /n/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[2] == b"n=3"


def test_http_client_reads_streamed_response(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("GET", "/stream")
        r = conn.getresponse()
        assert (r.status, r.chunked, r.read()) == (200, True, b"abbccc")
    finally:
        conn.close()


def test_http10_response_closes_without_keep_alive(server):
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = recv_all(s)
    head, body = data.split(b"\r\n\r\n", 1)
    status, headers = parse_head(head)
    assert status == "HTTP/1.0 200 OK"
    assert headers["content-length"] == ["5"]
    assert "connection" not in headers  # HTTP/1.0 closes by default: nothing to announce
    assert body == b"hello"


def test_http10_keep_alive_only_when_asked(server):
    with server.connect() as s:
        s.sendall(b"GET /n/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, body, rest = read_response(s)
        assert (status, body, headers["connection"]) == ("HTTP/1.0 200 OK", b"n=1", ["keep-alive"])
        s.sendall(b"GET /n/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, body, rest = read_response(s, rest)
        assert body == b"n=2"
        s.sendall(b"GET /n/3 HTTP/1.0\r\n\r\n")
        status, headers, body, rest = read_response(s, rest)
        assert body == b"n=3" and "connection" not in headers
        assert rest == b""
        assert_closed(s)


def test_http10_streaming_is_close_delimited(server):
    with server.connect() as s:
        s.sendall(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        data = recv_all(s)
    head, body = data.split(b"\r\n\r\n", 1)
    status, headers = parse_head(head)
    assert status == "HTTP/1.0 200 OK"
    assert "transfer-encoding" not in headers and "content-length" not in headers
    # the end of the body is the end of the connection: it must not promise keep-alive
    assert headers.get("connection") in (None, ["close"])
    assert body == b"abbccc"


def test_http10_request_info(server):
    with server.connect() as s:
        s.sendall(b"GET /info?a=1 HTTP/1.0\r\n\r\n")
        data = recv_all(s)
    info = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert info["version"] == "1.0"
    assert info["query"] == "a=1"
    assert info["url"] == "http://%s:%d/info?a=1" % (server.host, server.port)


def test_absolute_form_target(server):
    with server.connect() as s:
        s.sendall(b"GET http://example.com/info?q=2 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        _, _, body, _ = read_response(s)
    info = json.loads(body)
    assert (info["path"], info["query"]) == ("/info", "q=2")


def test_asterisk_options(server):
    with server.connect() as s:
        s.sendall(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = read_response(s)
    assert status == "HTTP/1.1 204 No Content"
    assert headers["allow"] == ["GET, HEAD, OPTIONS, POST"]
    assert body == b""


def test_head_has_no_body_but_keeps_content_length(server):
    with server.connect() as s:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /n/4 HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        status, headers = parse_head(head)
        assert status == "HTTP/1.1 200 OK"
        assert headers["content-length"] == ["5"]
        # the next bytes are the next response, not "hello"
        status, _, body, rest = read_response(s, rest)
        assert (status, body, rest) == ("HTTP/1.1 200 OK", b"n=4", b"")


def test_head_on_a_streaming_route_sends_no_chunks(server):
    with server.connect() as s:
        s.sendall(b"HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /n/5 HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        assert parse_head(head)[0] == "HTTP/1.1 200 OK"
        status, _, body, rest = read_response(s, rest)
        assert (status, body, rest) == ("HTTP/1.1 200 OK", b"n=5", b"")


def test_http_client_head(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("HEAD", "/")
        r = conn.getresponse()
        assert (r.status, r.getheader("Content-Length"), r.read()) == (200, "5", b"")
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"hello"
    finally:
        conn.close()


def test_expect_100_continue_sent_when_the_handler_reads(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        interim, rest = recv_until(s, b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert rest == b""
        s.sendall(b"data")
        status, headers, body, rest = read_response(s)
        assert (status, body) == ("HTTP/1.1 200 OK", b"data")
        assert "connection" not in headers
        s.sendall(b"GET /n/6 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[2] == b"n=6"


def test_expect_100_continue_never_sent_when_the_handler_ignores_the_body(server):
    with server.connect() as s:
        s.sendall(b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        data = recv_all(s)  # the server answers, then closes: the unsent body cannot be framed
    assert b"100 Continue" not in data
    status, headers = parse_head(data.split(b"\r\n\r\n")[0])
    assert (status, headers["connection"]) == ("HTTP/1.1 200 OK", ["close"])
    assert data.endswith(b"\r\n\r\nignored")


def test_expect_100_continue_body_sent_anyway(server):
    # A client that does not wait for 100 sends the body at once: no 100 is needed then.
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok")
        status, _, body, rest = read_response(s)
    assert (status, body, rest) == ("HTTP/1.1 200 OK", b"ok", b"")


def test_http_client_expect_continue(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("POST", "/echo", body=b"xyz", headers={"Expect": "100-continue"})
        r = conn.getresponse()  # http.client skips the interim 100
        assert (r.status, r.read()) == (200, b"xyz")
    finally:
        conn.close()


def test_other_expectation_is_417(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 200-ok\r\n\r\nok")
        status, headers, body, rest = read_response(s)
        assert status == "HTTP/1.1 417 Expectation Failed"
        assert headers["connection"] == ["close"]
        assert json.loads(body) == {"type": "about:blank", "title": "Expectation Failed", "status": 417,
                                    "detail": "unsupported expectation (RFC 9110 §10.1.1)", "instance": "/echo"}
        assert rest == b""
        assert_closed(s)


def test_http10_ignores_100_continue(server):
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        s.sendall(b"hi")
        data = recv_all(s)
    assert data.startswith(b"HTTP/1.0 200 OK\r\n") and data.endswith(b"\r\n\r\nhi")


def test_half_closed_client_gets_its_answer(server):
    import socket

    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"hello")


def test_server_header_can_be_disabled():
    with RunningServer(make_app(), server_header=False) as srv, srv.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _, headers, _, _ = read_response(s)
    assert "server" not in headers
    assert DATE.match(headers["date"][0])


def test_pipelined_streaming_response_then_plain(server):
    with server.connect() as s:
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /n/8 HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        chunks, rest = recv_until(s, b"\r\n0\r\n\r\n", rest)
        assert chunks == b"1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n"
        status, _, body, rest = read_response(s, rest)
        assert (status, body, rest) == ("HTTP/1.1 200 OK", b"n=8", b"")


def test_connection_close_set_by_the_app_ends_the_connection():
    # RFC 9112 §9.6: after sending "close" the server MUST NOT process further requests.
    from covet import PlainTextResponse

    app = make_app()

    @app.get("/bye")
    async def bye():
        return PlainTextResponse("bye", headers={"Connection": "close"})

    with RunningServer(app) as srv, srv.connect() as s:
        s.sendall(b"GET /bye HTTP/1.1\r\nHost: x\r\n\r\nGET /n/9 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, rest = read_response(s)
        assert (status, headers["connection"], body, rest) == ("HTTP/1.1 200 OK", ["close"], b"bye", b"")
        assert_closed(s)


def test_many_one_byte_chunks(server):
    # Per-chunk overhead is bounded (aiohttp 3.13.3 fixed a quadratic case): 20,000 one-byte chunks, in order.
    payload = bytes(i % 251 for i in range(20000))
    body = b"".join(b"1\r\n" + payload[i:i + 1] + b"\r\n" for i in range(len(payload))) + b"0\r\n\r\n"
    with server.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        status, _, echoed, _ = read_response(s)
    assert (status, echoed) == ("HTTP/1.1 200 OK", payload)


def test_no_body_after_a_204_or_304_head_even_when_the_app_set_one(server):
    # A body on a 204/304 would be read as the start of the next pipelined response.
    with server.connect() as s:
        s.sendall(b"GET /tuple204 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /late304 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /late204 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /stream204 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = b""
        got = []
        for _ in range(5):
            status, headers, body, rest = read_response(s, rest)
            got.append((status, body, "content-length" in headers, "transfer-encoding" in headers))
        assert got == [("HTTP/1.1 204 No Content", b"", False, False),
                       ("HTTP/1.1 304 Not Modified", b"", True, False),
                       ("HTTP/1.1 204 No Content", b"", False, False),
                       ("HTTP/1.1 204 No Content", b"", False, False),
                       ("HTTP/1.1 200 OK", b"hello", True, False)]
        assert rest == b""
