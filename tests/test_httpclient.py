"""covet.httpclient against real servers on 127.0.0.1: covet's own server running a covet app, and
raw asyncio servers that misbehave on purpose (never answer, close pooled connections, send
garbage, oversize heads, zip bombs), plus TLS with a throwaway CA made by ``openssl``."""
import asyncio
import gzip
import os
import shutil
import socket
import ssl
import subprocess

import pytest

import covet.httpclient
from covet import Covet, JSONResponse, RedirectResponse, Request, Response
from covet._probes import HTTP_CLIENT
from covet.httpclient import (
    ConnectError,
    HTTPClient,
    HTTPStatusError,
    InvalidRequest,
    ProtocolError,
    RequestTimeout,
    ResponseTooLarge,
    TooManyRedirects,
)
from pg_fixture import EC_KEY, OPENSSL_CONFIG
from server_helpers import RunningServer

BOMB = gzip.compress(b"\0" * (32 * 1024 * 1024), compresslevel=9)


def make_app():
    app = Covet()

    async def echo(request: Request):
        return JSONResponse({
            "method": request.method,
            "path": request.url.path,
            "query": request.query_string,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": (await request.body()).decode("latin-1"),
            "port": request.client[1],
        })

    app.add_route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

    @app.route("/redirect/{code:int}", methods=["GET", "POST", "PUT"])
    async def redirect(code: int, request: Request):
        return RedirectResponse(request.query_params.get("to"), status_code=code)

    @app.get("/chain/{n:int}")
    async def chain(n: int):
        return RedirectResponse("/chain/%d" % (n + 1), status_code=302)

    @app.get("/loop")
    async def loop():
        return RedirectResponse("/loop", status_code=307)

    @app.get("/status/{code:int}")
    async def status(code: int):
        return Response(b"nope", status_code=code)

    @app.get("/gzip")
    async def gzipped():
        return Response(gzip.compress(b"hello " * 1000), headers={"Content-Encoding": "gzip"},
                        media_type="text/plain")

    @app.get("/bomb")
    async def bomb():
        return Response(BOMB, headers={"Content-Encoding": "gzip"}, media_type="text/plain")

    @app.get("/latin1")
    async def latin1():
        return Response("café".encode("latin-1"), media_type="text/plain; charset=ISO-8859-1")

    @app.get("/big")
    async def big():
        return Response(b"x" * 100000, media_type="application/octet-stream")

    return app


@pytest.fixture(scope="module")
def server():
    running = RunningServer(make_app(), keepalive_timeout=30.0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def other_server():
    running = RunningServer(make_app(), keepalive_timeout=30.0)
    yield running
    running.stop()


def url(server, path):
    return "http://127.0.0.1:%d%s" % (server.port, path)


def run(coro):
    return asyncio.run(coro)


def header(echoed, name):
    values = [v for k, v in echoed["headers"] if k == name]
    return values[0] if values else None


class RawServer:
    """A raw asyncio server on 127.0.0.1:0 whose ``handle(reader, writer, index)`` is given;
    counts connections and closes every transport it made when the test leaves it."""

    def __init__(self, handle, ssl_context=None):
        self.handle = handle
        self.ssl_context = ssl_context
        self.connections = 0
        self.writers = []
        self.stop = None

    async def __aenter__(self):
        self.stop = asyncio.Event()
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader, writer):
        self.connections += 1
        self.writers.append(writer)
        try:
            await self.handle(reader, writer, self.connections - 1, self)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aexit__(self, *exc):
        self.stop.set()
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()
        for writer in self.writers:
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass

    def url(self, path="/", scheme="http"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.port, path)


async def read_request(reader):
    """The head of one request (bytes up to the empty line), or b"" at EOF."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- requests and responses ---------------------------------------------------------------------

def test_get_with_params_and_headers(server):
    async def main():
        async with HTTPClient(url(server, ""), headers={"X-Client": "c"}) as client:
            response = await client.get("/echo?a=1", params={"b": ["2", "3"], "c": "é"},
                                        headers={"X-Request": "r"})
            return response

    response = run(main())
    assert response.status_code == 200 and response.reason == "OK"
    echoed = response.json()
    assert echoed["method"] == "GET" and echoed["query"] == "a=1&b=2&b=3&c=%C3%A9"
    assert header(echoed, "x-client") == "c" and header(echoed, "x-request") == "r"
    assert header(echoed, "user-agent") == "covet-httpclient"
    assert header(echoed, "host") == "127.0.0.1:%d" % server.port
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.url == url(server, "/echo?a=1&b=2&b=3&c=%C3%A9")
    assert response.elapsed.total_seconds() >= 0 and response.http_version == "1.1"


def test_post_json_form_bytes_and_other_verbs(server):
    async def main():
        async with HTTPClient() as client:
            j = (await client.post(url(server, "/echo"), json={"a": [1, "é"]})).json()
            f = (await client.post(url(server, "/echo"), data={"x": "1 2", "y": ["a", "b"]})).json()
            b = (await client.put(url(server, "/echo"), content=b"\x00\xffraw")).json()
            s = (await client.patch(url(server, "/echo"), data="text")).json()
            d = (await client.delete(url(server, "/echo"))).json()
            o = (await client.options(url(server, "/echo"))).json()
            e = (await client.post(url(server, "/echo"))).json()
            return j, f, b, s, d, o, e

    j, f, b, s, d, o, e = run(main())
    assert j["body"].encode("latin-1").decode("utf-8") == '{"a":[1,"é"]}'
    assert header(j, "content-type") == "application/json"
    assert f["body"] == "x=1+2&y=a&y=b" and header(f, "content-type") == "application/x-www-form-urlencoded"
    assert b["method"] == "PUT" and b["body"] == "\x00\xffraw" and header(b, "content-length") == "5"
    assert s["method"] == "PATCH" and s["body"] == "text"
    assert d["method"] == "DELETE" and o["method"] == "OPTIONS"
    assert e["body"] == "" and header(e, "content-length") == "0"


def test_head_text_charset_gzip_and_raise_for_status(server):
    async def main():
        async with HTTPClient(url(server, "")) as client:
            return (await client.head("/echo"), await client.get("/latin1"), await client.get("/gzip"),
                    await client.get("/status/404"), await client.get("/status/503"))

    head, latin1, gzipped, missing, unavailable = run(main())
    assert head.status_code == 200 and head.content == b""
    assert latin1.text == "café" and latin1.encoding == "iso8859-1"
    assert gzipped.content == b"hello " * 1000 and gzipped.text.startswith("hello")
    assert head.raise_for_status() is head
    with pytest.raises(HTTPStatusError, match="404 Not Found .client error. for GET") as info:
        missing.raise_for_status()
    assert info.value.response is missing
    with pytest.raises(HTTPStatusError, match="server error"):
        unavailable.raise_for_status()


def test_keep_alive_reuses_one_connection(server):
    async def main():
        async with HTTPClient(url(server, "")) as client:
            ports = [(await client.get("/echo")).json()["port"] for _ in range(5)]
            ports.append((await client.post("/echo", json=1)).json()["port"])
            return ports

    ports = run(main())
    assert len(set(ports)) == 1


def test_max_connections_bounds_concurrent_requests_to_an_origin(server):
    async def main():
        async with HTTPClient(url(server, ""), max_connections=1) as client:
            responses = await asyncio.gather(*[client.get("/echo") for _ in range(6)])
            return [r.json()["port"] for r in responses]

    assert len(set(run(main()))) == 1


def test_keep_alive_against_a_raw_server_counts_one_connection():
    async def handle(reader, writer, index, raw):
        while await read_request(reader):
            writer.write(OK)

    async def main():
        async with RawServer(handle) as raw:
            async with HTTPClient(raw.url()) as client:
                for _ in range(4):
                    assert (await client.get("/")).content == b"ok"
            return raw.connections

    assert run(main()) == 1


def test_module_level_helpers(server):
    response = run(covet.httpclient.get(url(server, "/echo"), params={"q": "1"}))
    assert response.json()["query"] == "q=1"
    response = run(covet.httpclient.post(url(server, "/echo"), json={"a": 1}))
    assert response.json()["body"] == '{"a":1}'
    response = run(covet.httpclient.request("PUT", url(server, "/echo"), content=b"x"))
    assert response.json()["method"] == "PUT"


# -- redirects ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code, method, body", [
    (301, "GET", ""), (302, "GET", ""), (303, "GET", ""), (307, "POST", "payload"), (308, "POST", "payload"),
])
def test_redirects_of_every_kind(server, code, method, body):
    async def main():
        async with HTTPClient(url(server, ""), follow_redirects=True) as client:
            return await client.post("/redirect/%d" % code, params={"to": "/echo?after=1"}, content=b"payload",
                                     headers={"Content-Type": "text/plain"})

    response = run(main())
    echoed = response.json()
    assert echoed["method"] == method and echoed["body"] == body and echoed["query"] == "after=1"
    assert (header(echoed, "content-type") == "text/plain") is (code in (307, 308))
    assert [r.status_code for r in response.history] == [code]
    assert response.url == url(server, "/echo?after=1")


def test_redirects_are_not_followed_unless_asked(server):
    async def main():
        async with HTTPClient(url(server, "")) as client:
            return await client.get("/redirect/302", params={"to": "/echo"})

    response = run(main())
    assert response.status_code == 302 and response.headers["location"] == "/echo"
    assert response.is_redirect and response.history == []


def test_cross_origin_redirect_drops_authorization_and_cookie(server, other_server):
    secrets = {"Authorization": "Bearer s3cret", "Cookie": "session=abc", "X-Other": "kept"}

    async def main():
        async with HTTPClient(follow_redirects=True) as client:
            away = await client.get(url(server, "/redirect/307"), params={"to": url(other_server, "/echo")},
                                    headers=secrets)
            home = await client.get(url(server, "/redirect/307"), params={"to": "/echo"}, headers=secrets)
            return away.json(), home.json()

    away, home = run(main())
    assert header(away, "authorization") is None and header(away, "cookie") is None
    assert header(away, "x-other") == "kept"
    assert header(home, "authorization") == "Bearer s3cret" and header(home, "cookie") == "session=abc"


def test_redirect_loop_and_too_many_redirects(server):
    async def main():
        async with HTTPClient(url(server, ""), follow_redirects=True, max_redirects=3) as client:
            with pytest.raises(TooManyRedirects, match="redirect loop"):
                await client.get("/loop")
            with pytest.raises(TooManyRedirects, match="more than 3 redirects"):
                await client.get("/chain/0")

    run(main())


def test_redirect_to_another_scheme_is_refused(server):
    async def main():
        async with HTTPClient(url(server, ""), follow_redirects=True) as client:
            with pytest.raises(ProtocolError, match="unsupported URL scheme 'file'"):
                await client.get("/redirect/302", params={"to": "file:///etc/passwd"})

    run(main())


# -- what is refused before sending -------------------------------------------------------------

def test_crlf_in_a_header_value_is_refused_not_stripped():
    async def main():
        async with HTTPClient() as client:
            with pytest.raises(InvalidRequest, match="contains CR, LF"):
                await client.get("http://127.0.0.1:1/", headers={"X-Evil": "a\r\nInjected: 1"})
            with pytest.raises(InvalidRequest, match="invalid header name"):
                await client.get("http://127.0.0.1:1/", headers={"X Evil": "a"})
            with pytest.raises(InvalidRequest, match="invalid method"):
                await client.request("GET / HTTP/1.1\r\nX:", "http://127.0.0.1:1/")

    run(main())


@pytest.mark.parametrize("bad, message", [
    ("ftp://example.com/", "unsupported URL scheme"),
    ("http://user:pw@example.com/", "credentials in the URL"),
    ("http:///path", "has no host"),
    ("http://example.com:99999/", "invalid URL"),
    ("/relative", "unsupported URL scheme"),
])
def test_bad_urls_are_refused(bad, message):
    async def main():
        async with HTTPClient() as client:
            with pytest.raises(InvalidRequest, match=message):
                await client.get(bad)

    run(main())


def test_urls_are_percent_encoded_and_idna_and_ipv6_hosts_are_handled():
    from covet.httpclient.models import parse_url

    target = parse_url("http://example.com/a b/é?q=1 2#frag")
    assert target.target == "/a%20b/%C3%A9?q=1%202"
    for bad in ("http://example.com/a\r\nX: y", "http://example.com/\t", "http://exa\x00mple.com/"):
        with pytest.raises(InvalidRequest, match="contains a control character"):
            parse_url(bad)
    assert parse_url("https://bücher.example/").host_header == "xn--bcher-kva.example"
    six = parse_url("http://[::1]:8080/x")
    assert six.origin.host == "::1" and six.host_header == "[::1]:8080" and six.origin.port == 8080
    assert parse_url("HTTPS://Example.COM").origin == ("https", "example.com", 443)


def test_two_bodies_are_refused():
    async def main():
        async with HTTPClient() as client:
            with pytest.raises(InvalidRequest, match="pass one of json, data and content"):
                await client.post("http://127.0.0.1:1/", json={}, content=b"x")

    run(main())


# -- failures -----------------------------------------------------------------------------------

def test_connect_failure_is_a_connect_error():
    async def main():
        async with HTTPClient() as client:
            with pytest.raises(ConnectError, match="cannot connect to 127.0.0.1"):
                await client.get("http://127.0.0.1:%d/" % closed_port())

    run(main())


def test_a_server_that_never_answers_times_out():
    async def handle(reader, writer, index, raw):
        await read_request(reader)
        await raw.stop.wait()  # never answers

    async def main():
        async with RawServer(handle) as raw:
            async with HTTPClient(timeout=5.0) as client:
                with pytest.raises(RequestTimeout, match="took longer than 0.2 s"):
                    await client.get(raw.url(), timeout=0.2)
                assert client._pool.idle_count(("http", "127.0.0.1", raw.port)) == 0

    run(main())


def test_a_pooled_connection_closed_while_idle_is_retried_once():
    # The first connection answers one request, then closes when the second arrives, without a
    # byte of response: the GET is repeated on a new connection.
    async def handle(reader, writer, index, raw):
        while await read_request(reader):
            if index == 0 and raw.answered:
                return
            raw.answered += 1
            writer.write(OK)

    async def main():
        async with RawServer(handle) as raw:
            raw.answered = 0
            async with HTTPClient(raw.url()) as client:
                assert (await client.get("/")).content == b"ok"
                assert (await client.get("/")).content == b"ok"
            return raw.connections

    assert run(main()) == 2


def test_a_dead_pooled_connection_is_not_retried_for_post():
    async def handle(reader, writer, index, raw):
        while await read_request(reader):
            if index == 0 and raw.answered:
                return
            raw.answered += 1
            await reader.readexactly(0)
            writer.write(OK)

    async def main():
        async with RawServer(handle) as raw:
            raw.answered = 0
            async with HTTPClient(raw.url()) as client:
                assert (await client.get("/")).content == b"ok"
                with pytest.raises(ProtocolError, match="closed the connection without a response"):
                    await client.post("/", content=b"")
            return raw.connections

    assert run(main()) == 1


def test_a_connection_the_server_closed_is_not_reused():
    closed = None

    async def handle(reader, writer, index, raw):
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        writer.close()
        closed.set()

    async def main():
        nonlocal closed
        closed = asyncio.Event()
        async with RawServer(handle) as raw:
            async with HTTPClient(raw.url()) as client:
                assert (await client.get("/")).content == b"ok"
                await closed.wait()
                assert (await client.get("/")).content == b"ok"
            return raw.connections

    assert run(main()) == 2


@pytest.mark.parametrize("reply, error, message", [
    (b"garbage\r\n\r\n", ProtocolError, "malformed status line"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n", ProtocolError, "header section larger"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", ProtocolError,
     "conflicting Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", ProtocolError, "95 bytes before the end"),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\njunk", ProtocolError,
     "invalid gzip content"),
])
def test_a_misbehaving_server_gets_a_clear_error(reply, error, message):
    async def handle(reader, writer, index, raw):
        await read_request(reader)
        writer.write(reply)
        await writer.drain()

    async def main():
        async with RawServer(handle) as raw:
            async with HTTPClient(timeout=5.0) as client:
                with pytest.raises(error, match=message):
                    await client.get(raw.url())

    run(main())


def test_a_body_over_max_response_size(server):
    async def main():
        async with HTTPClient(url(server, ""), max_response_size=1000) as client:
            with pytest.raises(ResponseTooLarge, match="Content-Length 100000 exceeds max_response_size"):
                await client.get("/big")
            # the pool still works afterwards
            assert (await client.get("/echo")).status_code == 200

    run(main())


def test_a_gzip_bomb_is_stopped_at_max_response_size(server):
    async def main():
        async with HTTPClient(url(server, ""), max_response_size=1024 * 1024) as client:
            with pytest.raises(ResponseTooLarge, match="gzip-decoded body exceeds max_response_size"):
                await client.get("/bomb")

    assert len(BOMB) < 1024 * 1024
    run(main())


# -- TLS ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found on PATH (Debian package openssl): cannot make a test CA")
    folder = tmp_path_factory.mktemp("tls")
    config = str(folder / "openssl.cnf")
    with open(config, "w") as f:
        f.write(OPENSSL_CONFIG)

    def path(name):
        return str(folder / name)

    def call(*argv):
        subprocess.run([openssl, *argv], check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=dict(os.environ, OPENSSL_CONF=config))

    call("req", "-x509", "-config", config, "-extensions", "ca_ext", *EC_KEY, "-keyout", path("ca.key"),
         "-out", path("ca.crt"), "-days", "2", "-sha256", "-subj", "/CN=covet test CA")
    call("req", "-new", "-config", config, *EC_KEY, "-keyout", path("server.key"), "-out", path("server.csr"),
         "-subj", "/CN=localhost")
    call("x509", "-req", "-in", path("server.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
         "-set_serial", "0x%s" % os.urandom(8).hex(), "-days", "2", "-sha256", "-extfile", config,
         "-extensions", "server_ext", "-out", path("server.crt"))
    return path("ca.crt"), path("server.crt"), path("server.key")


def test_tls_verified_with_the_test_ca_and_refused_with_the_default(tls_files):
    ca, cert, key = tls_files
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def handle(reader, writer, index, raw):
        head = await read_request(reader)
        if head:
            body = b"tls ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            await read_request(reader)

    async def main():
        async with RawServer(handle, server_context) as raw:
            async with HTTPClient(verify=ca) as client:
                assert (await client.get(raw.url(scheme="https"))).content == b"tls ok"
            context = ssl.create_default_context(cafile=ca)
            async with HTTPClient(verify=context) as client:
                assert (await client.get(raw.url(scheme="https"))).content == b"tls ok"
            async with HTTPClient() as client:
                with pytest.raises(ConnectError, match="TLS certificate verification failed for 127.0.0.1"):
                    await client.get(raw.url(scheme="https"))

    run(main())


# -- the HTTP_CLIENT probe ----------------------------------------------------------------------

def test_probe_observer_adds_a_header_and_is_finished_once(server):
    calls = []

    def observer(method, target_url, headers):
        calls.append(("start", method, target_url))
        headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

        def done(error, outcome):
            calls.append(("finish", error, outcome))
        return done

    remove = HTTP_CLIENT.add(observer)
    try:
        async def main():
            async with HTTPClient() as client:
                ok = await client.get(url(server, "/echo"))
                port = closed_port()
                with pytest.raises(ConnectError) as failed:
                    await client.get("http://127.0.0.1:%d/x" % port)
                return ok, failed.value, port

        ok, error, port = run(main())
    finally:
        remove()
    assert header(ok.json(), "traceparent") == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert calls == [("start", "GET", url(server, "/echo")), ("finish", None, 200),
                     ("start", "GET", "http://127.0.0.1:%d/x" % port), ("finish", error, None)]


def test_probe_sees_every_redirect_hop(server):
    finished = []

    def observer(method, target_url, headers):
        return lambda error, outcome: finished.append((method, target_url, outcome))

    remove = HTTP_CLIENT.add(observer)
    try:
        async def main():
            async with HTTPClient(url(server, ""), follow_redirects=True) as client:
                await client.post("/redirect/303", params={"to": "/echo"}, json={})

        run(main())
    finally:
        remove()
    assert finished == [("POST", url(server, "/redirect/303?to=%2Fecho"), 303), ("GET", url(server, "/echo"), 200)]


def test_probe_finish_gets_the_timeout():
    finished = []

    async def handle(reader, writer, index, raw):
        await read_request(reader)
        await raw.stop.wait()

    remove = HTTP_CLIENT.add(lambda m, u, h: lambda error, outcome: finished.append((error, outcome)))
    try:
        async def main():
            async with RawServer(handle) as raw:
                async with HTTPClient(timeout=0.2) as client:
                    with pytest.raises(RequestTimeout) as info:
                        await client.get(raw.url())
                    return info.value

        error = run(main())
    finally:
        remove()
    assert finished == [(error, None)]


def test_a_requests_timeout_is_checked_and_none_means_no_limit(server):
    async def go():
        async with HTTPClient(timeout=5.0) as client:
            assert (await client.get(url(server, "/echo"), timeout=None)).status_code == 200
            for bad in (0, -1.0, "5", True):
                with pytest.raises(InvalidRequest, match="timeout is seconds"):
                    await client.get(url(server, "/echo"), timeout=bad)
    asyncio.run(go())
