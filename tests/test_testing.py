"""covet.testing: TestClient and AsyncTestClient (in-process, no sockets)."""
import asyncio
import threading

import pytest

from covet import AsyncTestClient, Covet, Headers, RedirectResponse, Request, Response, TestClient
from covet.testing import MAX_REDIRECTS, TestResponse, encode_multipart


def echo_app():
    app = Covet()

    @app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request):
        body = await request.body()
        return {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "query": request.query_params.multi_items(),
            "headers": {k: v for k, v in request.headers.items() if k not in ("content-length",)},
            "cookies": request.cookies,
            "body": body.decode("latin-1"),
            "client": list(request.client),
            "url": str(request.url),
        }

    @app.get("/set")
    async def set_cookies(request: Request):
        r = Response(b"")
        for k, v in request.query_params.items():
            r.set_cookie(k, v)
        return r

    @app.get("/del")
    async def delete(request: Request):
        r = Response(b"")
        r.delete_cookie(request.query_params["k"])
        return r

    @app.route("/go/{status:int}", methods=["GET", "POST", "PUT"])
    async def go(status: int, to: str = "/echo"):
        return RedirectResponse(to, status)

    @app.get("/loop")
    async def loop():
        return RedirectResponse("/loop")

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    return app


# -- building requests --------------------------------------------------------------------------

def test_default_request_shape(client):
    r = client(echo_app()).get("/echo")
    assert r.json() == {
        "method": "GET", "path": "/echo", "raw_path": "/echo", "query": [],
        "headers": {"host": "testserver", "user-agent": "testclient", "accept": "*/*"},
        "cookies": {}, "body": "", "client": ["testclient", 50000], "url": "http://testserver/echo",
    }
    assert (r.url, r.request_method, repr(r)) == ("http://testserver/echo", "GET", "<TestResponse [200]>")


def test_params_headers_json_and_raw_content(client):
    c = client(echo_app(), headers={"X-Default": "d"})
    r = c.post("/echo?a=1", params={"b": ["2", "3"], "c": "x y"}, json={"k": [1, "é"]}, headers={"X-Req": "r"})
    got = r.json()
    assert got["query"] == [["a", "1"], ["b", "2"], ["b", "3"], ["c", "x y"]]
    assert got["body"] == '{"k": [1, "\\u00e9"]}'
    assert got["headers"]["content-type"] == "application/json"
    assert (got["headers"]["x-default"], got["headers"]["x-req"]) == ("d", "r")
    r = c.put("/echo", content="raw ü", headers={"content-type": "text/plain"})
    assert r.json()["body"] == "raw ü".encode("utf-8").decode("latin-1")


def test_form_data_and_files(client):
    c = client(echo_app())
    got = c.post("/echo", data={"a": "1", "b": ["x", "y"]}).json()
    assert (got["body"], got["headers"]["content-type"]) == ("a=1&b=x&b=y", "application/x-www-form-urlencoded")
    got = c.post("/echo", data={"a": "1"}, files={"f": ("f.txt", b"hi", "text/plain")}).json()
    assert got["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="f"; filename="f.txt"' in got["body"] and "Content-Type: text/plain" in got["body"]


def test_paths_are_percent_encoded_but_escapes_kept(client):
    c = client(echo_app())
    app = c.app

    @app.get("/p/{x}")
    async def p(x, request: Request):
        return {"x": x, "raw": request.raw_path}

    assert c.get("/p/a b").json() == {"x": "a b", "raw": "/p/a%20b"}
    assert c.get("/p/a%2Fb").json() == {"x": "a/b", "raw": "/p/a%2Fb"}
    assert c.get("/p/é").json() == {"x": "é", "raw": "/p/%C3%A9"}


def test_absolute_urls_and_base_url(client):
    c = client(echo_app(), base_url="https://api.example.com:8443/")
    got = c.get("/echo").json()
    assert (got["url"], got["headers"]["host"]) == ("https://api.example.com:8443/echo", "api.example.com:8443")
    got = c.get("http://other.test/echo?x=1").json()
    assert got["url"] == "http://other.test/echo?x=1"


def test_head_response_has_no_body(client):
    r = client(echo_app()).head("/echo")
    assert (r.status_code, r.content) == (200, b"")
    assert int(r.headers["content-length"]) > 0


def test_response_helpers():
    r = TestResponse(200, Headers([(b"content-type", b"text/plain; charset=latin-1")]),
                     "café".encode("latin-1"), "http://t/", "GET")
    assert r.text == "café" and r.is_success and not r.is_redirect


# -- cookies ---------------------------------------------------------------------------------------

def test_cookie_jar_persists_across_requests_and_forgets_deleted_cookies(client):
    c = client(echo_app(), cookies={"seed": "1"})
    r = c.get("/set?sid=abc&theme=dark")
    assert r.cookies == {"sid": "abc", "theme": "dark"}
    assert c.cookies == {"seed": "1", "sid": "abc", "theme": "dark"}
    assert c.get("/echo").json()["cookies"] == {"seed": "1", "sid": "abc", "theme": "dark"}
    r = c.get("/del?k=theme")
    assert r.cookies == {"theme": ""}
    assert c.get("/echo").json()["cookies"] == {"seed": "1", "sid": "abc"}


def test_per_request_cookies_are_sent_but_not_kept(client):
    c = client(echo_app())
    assert c.get("/echo", cookies={"once": "1"}).json()["cookies"] == {"once": "1"}
    assert c.get("/echo").json()["cookies"] == {}


# -- redirects -------------------------------------------------------------------------------------

def test_follow_redirects_on_by_default_and_off_on_request(client):
    c = client(echo_app())
    r = c.get("/go/302?to=/echo%3Fx%3D1")
    assert (r.status_code, r.json()["query"], r.url) == (200, [["x", "1"]], "http://testserver/echo?x=1")
    assert [h.status_code for h in r.history] == [302]
    r = c.get("/go/302", follow_redirects=False)
    assert (r.status_code, r.headers["location"], r.is_redirect) == (302, "/echo", True)
    assert client(echo_app(), follow_redirects=False).get("/go/301").status_code == 301


@pytest.mark.parametrize("status, method", [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")])
def test_post_redirects_change_method_as_browsers_do(client, status, method):
    r = client(echo_app()).post("/go/%d" % status, json={"a": 1})
    got = r.json()
    assert got["method"] == method
    assert got["body"] == ("" if method == "GET" else '{"a": 1}')


def test_303_turns_put_into_get_and_307_keeps_put(client):
    c = client(echo_app())
    assert c.put("/go/303", content=b"x").json()["method"] == "GET"
    got = c.put("/go/307", content=b"x").json()
    assert (got["method"], got["body"]) == ("PUT", "x")


def test_redirect_loop_stops_after_max_redirects(client):
    r = client(echo_app()).get("/loop")
    assert r.status_code == 307
    assert len(r.history) == MAX_REDIRECTS == 20


# -- server exceptions --------------------------------------------------------------------------------

def test_raise_server_exceptions_switch(client):
    with pytest.raises(RuntimeError, match="boom"):
        client(echo_app()).get("/boom")
    assert client(echo_app(), raise_server_exceptions=False).get("/boom").status_code == 500


# -- loops and threads ------------------------------------------------------------------------------

def test_async_client_inside_a_running_loop_runs_lifespan():
    app = echo_app()
    events = []

    @app.on_startup
    async def up():
        events.append("up")

    @app.on_shutdown
    async def down():
        events.append("down")

    async def main():
        async with AsyncTestClient(app) as c:
            r1, r2 = await asyncio.gather(c.get("/echo"), c.post("/echo", json=[1]))
            events.append("requests")
        return r1.status_code, r2.json()["body"]

    assert asyncio.run(main()) == (200, "[1]")
    assert events == ["up", "requests", "down"]


def test_async_client_starts_the_app_lazily_and_aclose_stops_it():
    app = echo_app()

    async def main():
        c = AsyncTestClient(app)
        r = await c.get("/echo")
        started = app.started
        await c.aclose()
        return r.status_code, started, app.started

    assert asyncio.run(main()) == (200, True, False)


def test_sync_client_works_inside_an_async_function(client):
    """Starlette #440: no 'event loop is already running'."""
    app = echo_app()

    async def main():
        with client(app) as c:
            return c.get("/echo").status_code, asyncio.get_running_loop() is not None

    assert asyncio.run(main()) == (200, True)


def test_sync_client_runs_the_app_on_its_own_thread_and_stops_it_on_close():
    app = echo_app()
    c = TestClient(app)
    c.get("/echo")
    assert any(t.name == "covet-testclient" for t in threading.enumerate())
    portal_thread = c._portal.thread
    c.close()
    assert not portal_thread.is_alive()


# -- multipart encoding -------------------------------------------------------------------------------

def test_encode_multipart_exact_bytes():
    body, ctype = encode_multipart({"a": "1", "t": ["x", "y"]},
                                   {"f": ("n.txt", b"hi", "text/plain"), "g": b"raw"}, boundary="B")
    assert ctype == "multipart/form-data; boundary=B"
    assert body == (
        b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--B\r\nContent-Disposition: form-data; name="t"\r\n\r\nx\r\n'
        b'--B\r\nContent-Disposition: form-data; name="t"\r\n\r\ny\r\n'
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="n.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
        b'--B\r\nContent-Disposition: form-data; name="g"; filename="g"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nraw\r\n"
        b"--B--\r\n"
    )


def test_encode_multipart_escapes_quotes_and_newlines_in_names():
    body, _ = encode_multipart({'a"b\r\nc': "v"}, None, boundary="B")
    assert b'name="a%22b%0D%0Ac"' in body


def test_non_ascii_query_in_the_url_is_percent_encoded_as_a_real_client_does():
    # Before: the query went to the app raw ("q=€ x"), which no server
    # delivers, and a trailing-slash redirect carrying it crashed with a 500.
    app = Covet()

    @app.get("/q/")
    def q(request: Request):
        return {"raw": request.query_string, "q": request.query_params["q"]}

    client = TestClient(app)
    r = client.get("/q?q=€ x&b=%41")
    assert r.status_code == 200
    assert r.json() == {"raw": "q=%E2%82%AC%20x&b=%41", "q": "€ x"}
    assert [h.status_code for h in r.history] == [308]
    assert r.history[0].headers["location"] == "/q/?q=%E2%82%AC%20x&b=%41"
