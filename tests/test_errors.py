"""covet.core.errors and the app's error paths: problem+json, HTML pages, handlers, 500s, logging."""
import logging

import pytest

from covet import Covet, HTTPException, JSONResponse, PlainTextResponse, Request, RequestValidationError
from covet.core.errors import status_phrase
from covet.core.problems import prefers_html, problem_body

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def boom_app(**options):
    app = Covet(**options)

    @app.get("/boom")
    async def boom():
        secret = "hunter2"  # noqa: F841 - must never reach the client
        raise ValueError("db password is hunter2")

    @app.get("/sync-boom")
    def sync_boom():
        raise KeyError("k")

    @app.get("/teapot")
    async def teapot():
        raise HTTPException(418, "short and stout", headers={"X-Pot": "1"})

    @app.get("/typed")
    async def typed():
        raise HTTPException(409, {"field": "email", "reason": "taken"}, type="https://example.com/probs/taken",
                            title="Email taken")

    @app.get("/bare")
    async def bare():
        raise HTTPException(403)

    return app


# -- problem+json ---------------------------------------------------------------------------------

def test_not_found_is_problem_json(client):
    r = client(boom_app()).get("/missing/%C3%A9")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Not Found", "status": 404,
                        "detail": "no route for /missing/é", "instance": "/missing/é"}


def test_http_exception_detail_headers_type_and_title(client):
    c = client(boom_app())
    r = c.get("/teapot")
    assert (r.status_code, r.headers["x-pot"]) == (418, "1")
    assert r.json() == {"type": "about:blank", "title": "I'm a Teapot", "status": 418,
                        "detail": "short and stout", "instance": "/teapot"}
    assert c.get("/typed").json() == {"type": "https://example.com/probs/taken", "title": "Email taken",
                                      "status": 409, "detail": {"field": "email", "reason": "taken"},
                                      "instance": "/typed"}
    assert c.get("/bare").json() == {"type": "about:blank", "title": "Forbidden", "status": 403, "instance": "/bare"}


def test_validation_problem_has_errors_list(client):
    app = Covet()

    @app.get("/v")
    async def v(n: int):
        return n

    assert client(app).get("/v?n=x").json() == {
        "type": "about:blank", "title": "Unprocessable Content", "status": 422,
        "detail": "Request validation failed", "instance": "/v",
        "errors": [{"loc": ["query", "n"], "msg": "must be of type integer", "type": "type"}],
    }


def test_problem_body_without_optional_members():
    assert problem_body(599) == {"type": "about:blank", "title": "Error", "status": 599}
    assert problem_body(404, errors=[]) == {"type": "about:blank", "title": "Not Found", "status": 404, "errors": []}


@pytest.mark.parametrize("status, phrase", [
    (404, "Not Found"), (413, "Content Too Large"), (414, "URI Too Long"), (416, "Range Not Satisfiable"),
    (422, "Unprocessable Content"), (599, ""),
])
def test_status_phrases_are_the_rfc_9110_names_on_every_python(status, phrase):
    assert status_phrase(status) == phrase


def test_http_exception_str_and_repr():
    assert str(HTTPException(404)) == "404 Not Found"
    assert str(HTTPException(400, "bad")) == "400 bad"
    assert repr(HTTPException(400, "bad")) == "HTTPException(status_code=400, detail='bad')"
    assert HTTPException("401", headers={"A": "b"}).headers == {"A": "b"}
    e = RequestValidationError([{"loc": ["query", "q"], "msg": "m", "type": "t"}])
    assert (e.status_code, e.detail, e.errors) == (422, "Request validation failed", [{"loc": ["query", "q"], "msg": "m", "type": "t"}])


# -- HTML or JSON --------------------------------------------------------------------------------------

@pytest.mark.parametrize("accept, html", [
    (BROWSER_ACCEPT, True),
    ("text/html", True),
    ("application/xhtml+xml", True),
    ("*/*", False),
    (None, False),
    ("", False),
    ("application/json", False),
    ("application/json, text/html", False),
    ("text/html;q=0.5, application/json", False),
    ("text/html, application/json;q=0.9", True),
    ("text/html;q=abc, */*", False),
    ("text/html;q=0.8, application/*;q=0.9", False),
])
def test_prefers_html(accept, html):
    assert prefers_html(accept) is html


def test_browser_gets_an_html_error_page_with_escaped_detail(client):
    app = Covet()

    @app.get("/x")
    async def x():
        raise HTTPException(400, "<script>alert(1)</script>", headers={"X-A": "1"})

    r = client(app).get("/x", headers={"accept": BROWSER_ACCEPT})
    assert r.status_code == 400
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-a"] == "1"
    assert r.text == ('<!doctype html><html><head><meta charset="utf-8"><title>400 Bad Request</title></head>'
                      "<body><h1>400 Bad Request</h1><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></body></html>")


def test_html_validation_page_lists_each_error(client):
    app = Covet()

    @app.get("/v")
    async def v(n: int, m: int = 0):
        return n

    r = client(app).get("/v?m=<b>", headers={"accept": "text/html"})
    assert r.status_code == 422
    assert "<li>query.n: field required</li>" in r.text
    assert "<li>query.m: must be of type integer</li>" in r.text


def test_curl_accept_gets_json(client):
    r = client(boom_app()).get("/nope", headers={"accept": "*/*"})
    assert r.headers["content-type"] == "application/problem+json"


# -- exception handlers ------------------------------------------------------------------------------

def test_exception_handler_by_class_matches_subclasses(client):
    app = boom_app()

    @app.exception_handler(LookupError)
    def lookup(request, exc):  # a plain def runs in the thread pool
        return PlainTextResponse("lookup: %s" % exc.args[0], 404)

    @app.exception_handler(ValueError)
    async def value(request, exc):
        return {"error": str(exc), "path": request.path}, 400

    c = client(app)
    assert (c.get("/sync-boom").status_code, c.get("/sync-boom").text) == (404, "lookup: k")
    r = c.get("/boom")
    assert (r.status_code, r.json()) == (400, {"error": "db password is hunter2", "path": "/boom"})


def test_exception_handler_by_status_code_covers_raised_and_framework_errors(client):
    app = boom_app()

    @app.exception_handler(404)
    async def not_found(request, exc):
        return JSONResponse({"nope": request.path}, 404)

    @app.exception_handler(418)
    async def teapot(request, exc):
        return "brewing", 418, exc.headers

    c = client(app)
    assert c.get("/zzz").json() == {"nope": "/zzz"}
    r = c.get("/teapot")
    assert (r.status_code, r.text, r.headers["x-pot"]) == (418, "brewing", "1")


def test_exception_handlers_given_to_the_constructor(client):
    async def handler(request, exc):
        return "custom 404", 404

    app = Covet(exception_handlers={404: handler})
    assert client(app).get("/x").text == "custom 404"


def test_exception_handler_key_must_be_exception_class_or_status():
    with pytest.raises(TypeError, match="exception_handler key must be an exception class or a status code"):
        Covet().add_exception_handler("404", lambda r, e: None)
    with pytest.raises(TypeError):
        Covet().add_exception_handler(str, lambda r, e: None)


def test_500_handler_and_exception_handler(client):
    app = boom_app()

    @app.exception_handler(500)
    async def oops(request, exc):
        return {"oops": type(exc).__name__}, 500

    r = client(app, raise_server_exceptions=False).get("/boom")
    assert (r.status_code, r.json()) == (500, {"oops": "ValueError"})

    app2 = boom_app()

    @app2.exception_handler(Exception)
    async def everything(request, exc):
        return "caught", 503

    r = client(app2, raise_server_exceptions=False).get("/boom")
    assert (r.status_code, r.text) == (503, "caught")


def test_a_failing_500_handler_falls_back_to_the_default_page(client, caplog):
    app = boom_app()

    @app.exception_handler(500)
    async def broken(request, exc):
        raise RuntimeError("handler broke")

    r = client(app, raise_server_exceptions=False).get("/boom")
    assert r.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500, "instance": "/boom"}
    assert "the 500 handler itself failed" in [rec.getMessage() for rec in caplog.records]


def test_http_exception_raised_in_middleware_is_its_4xx_and_uses_handlers(client):
    app = Covet()

    @app.middleware
    async def auth(request, call_next):
        if request.headers.get("authorization") != "Bearer t":
            raise HTTPException(401, "login first", headers={"WWW-Authenticate": "Bearer"})
        await request.json()
        return await call_next(request)

    @app.post("/x")
    async def x():
        return "in"

    c = client(app)
    r = c.post("/x")
    assert (r.status_code, r.headers["www-authenticate"], r.json()["detail"]) == (401, "Bearer", "login first")
    r = c.post("/x", content=b"{bad", headers={"authorization": "Bearer t", "content-type": "application/json"})
    assert r.status_code == 400
    assert c.post("/x", json={}, headers={"authorization": "Bearer t"}).text == "in"

    @app.exception_handler(401)
    async def login(request, exc):
        return "please log in", 401

    assert c.post("/x").text == "please log in"


# -- 500s --------------------------------------------------------------------------------------------------

def test_500_has_no_internals(client):
    r = client(boom_app(), raise_server_exceptions=False).get("/boom")
    assert r.status_code == 500
    assert r.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500, "instance": "/boom"}
    assert b"hunter2" not in r.content and b"Traceback" not in r.content


def test_500_html_page_for_browsers_has_no_internals(client):
    r = client(boom_app(), raise_server_exceptions=False).get("/boom", headers={"accept": BROWSER_ACCEPT})
    assert r.text == ('<!doctype html><html><head><meta charset="utf-8"><title>500 Internal Server Error</title>'
                      "</head><body><h1>500 Internal Server Error</h1></body></html>")


def test_debug_shows_the_traceback(client):
    r = client(boom_app(debug=True), raise_server_exceptions=False).get("/boom")
    detail = r.json()["detail"]
    assert detail.startswith("Traceback (most recent call last):")
    assert 'raise ValueError("db password is hunter2")' in detail
    assert detail.endswith("ValueError: db password is hunter2\n")


def test_500_is_logged_with_traceback_and_request_id(client, caplog):
    c = client(boom_app(), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="covet.error"):
        c.get("/boom", headers={"x-request-id": "req-42"})
        c.get("/sync-boom")
    first, second = caplog.records
    assert first.name == "covet.error" and first.levelno == logging.ERROR
    assert first.getMessage() == "unhandled ValueError in GET /boom (request id req-42)"
    assert first.exc_info[0] is ValueError
    assert second.getMessage() == "unhandled KeyError in GET /sync-boom"


def test_request_id_set_by_middleware_on_state_is_logged(client, caplog):
    app = boom_app()

    @app.middleware
    async def request_id(request, call_next):
        request.state.request_id = "mw-7"
        return await call_next(request)

    client(app, raise_server_exceptions=False).get("/boom")
    assert caplog.records[0].getMessage() == "unhandled ValueError in GET /boom (request id mw-7)"


def test_raise_server_exceptions_true_reraises_false_returns_500(client):
    with pytest.raises(ValueError, match="db password"):
        client(boom_app()).get("/boom")
    with pytest.raises(KeyError):
        client(boom_app()).get("/sync-boom")
    assert client(boom_app(), raise_server_exceptions=False).get("/sync-boom").status_code == 500
    # HTTP errors are answers, not server exceptions: never raised.
    assert client(boom_app()).get("/teapot").status_code == 418


def test_error_in_middleware_is_a_logged_500(client, caplog):
    app = Covet()

    @app.middleware
    async def broken(request, call_next):
        raise RuntimeError("mw broke")

    @app.get("/")
    async def root():
        return "x"

    r = client(app, raise_server_exceptions=False).get("/")
    assert r.status_code == 500
    assert caplog.records[0].getMessage() == "unhandled RuntimeError in GET /"


def test_binding_errors_are_4xx_never_500(client):
    """Errors while binding or parsing the request are the client's: 4xx, never a 500 (bottle CVE-2022-31799)."""
    app = Covet()

    @app.post("/j/{n:int}")
    async def j(n: int, q: int = 0, body: dict = None):
        return {"n": n, "q": q, "body": body}

    @app.post("/f")
    async def f(request: Request):
        return (await request.form()).multi_items()

    c = client(app)
    cases = [
        c.post("/j/1?q=x"),
        c.post("/j/1", content=b"{", headers={"content-type": "application/json"}),
        c.post("/j/1", content=b"x", headers={"content-type": "text/csv"}),
        c.post("/j/1", json=[1]),
        c.post("/f", content=b"a=\xff", headers={"content-type": "application/x-www-form-urlencoded"}),
        c.post("/f", content=b"--x", headers={"content-type": "multipart/form-data; boundary=x"}),
        c.post("/f", content=b"{}", headers={"content-type": "application/json"}),
        c.post("/j/1?" + "&".join(["q=1"] * 1001)),
        c.post("/j/%FF"),
        c.post("/j/1/", follow_redirects=False),
    ]
    assert [r.status_code for r in cases] == [422, 400, 415, 422, 400, 400, 415, 400, 404, 308]


@pytest.mark.parametrize("debug", [False, True])
def test_a_lone_surrogate_in_an_error_is_escaped_never_a_500(client, debug):
    # JSON may carry "\ud800", which has no UTF-8 form; echoing it in a 4xx must not fail the response.
    from typing import Dict

    app = Covet(debug=debug)

    @app.post("/d")
    async def d(data: Dict[str, int]):
        return data

    @app.post("/http")
    async def http(request: Request):
        data = await request.json()
        raise HTTPException(400, "bad value %s" % data["k"])

    c = client(app)
    r = c.post("/d", content=b'{"\\ud800": "x"}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.content.count(b"\\ud800") >= 1
    assert r.json()["errors"][0]["loc"] == ["body", "\ud800"]
    r = c.post("/http", content=b'{"k": "\\udc80"}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"] == "bad value \udc80"
    r = c.post("/http", content=b'{"k": "\\udc80"}', headers={"content-type": "application/json",
                                                           "accept": BROWSER_ACCEPT})
    assert r.status_code == 400 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<p>bad value ?</p>" in r.content
