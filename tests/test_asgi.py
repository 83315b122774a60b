"""The ASGI door: a Covet app driven with hand-written scope, receive and send (no ASGI server needed)."""
import asyncio
import contextlib
import json

import pytest

from covet import BackgroundTasks, Covet, PlainTextResponse, Request, Response, StreamingResponse
from covet.asgi import handle
from server_helpers import make_app


def scope_for(method="GET", path="/", query=b"", headers=(), raw_path=None, root_path="", **extra):
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "query_string": query, "root_path": root_path,
        "headers": [(b"host", b"example.test")] + list(headers),
        "client": ("203.0.113.5", 51000), "server": ("example.test", 80),
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    scope.update(extra)
    return scope


def call(app, scope, messages=({"type": "http.request", "body": b"", "more_body": False},)):
    """Run one ASGI call; returns (messages sent, messages the app did not receive)."""
    inbox = list(messages)
    sent = []

    async def receive():
        if not inbox:
            await asyncio.sleep(3600)  # a real server would wait for the client
        return inbox.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 5))
    return sent, inbox


@pytest.fixture
def app():
    app = Covet()
    app.state_log = []

    @app.get("/")
    async def index():
        return PlainTextResponse("hello")

    @app.post("/echo")
    async def echo(request: Request):
        return Response(await request.body(), media_type="application/octet-stream")

    @app.get("/info")
    async def info(request: Request):
        return {"client": list(request.client), "scheme": request.scheme, "path": request.path,
                "raw_path": request.raw_path, "root_path": request.root_path, "query": request.query_string,
                "url": str(request.url), "version": request.http_version,
                "headers": request.headers.getlist("x-multi")}

    @app.get("/stream")
    async def stream():
        async def parts():
            try:
                for part in ("a", "bb", "ccc"):
                    yield part
            finally:
                app.state_log.append("stream closed")
        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/later")
    async def later(tasks: BackgroundTasks):
        tasks.add_task(app.state_log.append, "background ran")
        return PlainTextResponse("now")

    return app


def test_get(app):
    sent, _ = call(app, scope_for())
    assert sent == [
        {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"5")]},
        {"type": "http.response.body", "body": b"hello"},
    ]


def test_app_call_and_handle_are_the_same_door(app):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(handle(app, scope_for(), receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == b"hello"


def test_scope_becomes_the_request(app):
    sent, _ = call(app, scope_for(path="/info", query=b"a=1&b=%20", raw_path=b"/info",
                                  headers=[(b"X-Multi", b"1"), (b"x-multi", b"2")], http_version="2"))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {
        "client": ["203.0.113.5", 51000], "scheme": "http", "path": "/info", "raw_path": "/info", "root_path": "",
        "query": "a=1&b=%20", "url": "http://example.test/info?a=1&b=%20", "version": "2", "headers": ["1", "2"]}


def test_path_without_raw_path_is_percent_encoded_for_routing(app):
    a = Covet()

    @a.get("/caf\u00e9/{name}")
    async def cafe(name: str, request: Request):
        return {"name": name, "raw": request.raw_path}

    sent, _ = call(a, scope_for(path="/caf\u00e9/a b"))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"name": "a b", "raw": "/caf%C3%A9/a%20b"}


def test_root_path_is_stripped_from_raw_path(app):
    sent, _ = call(app, scope_for(path="/api/info", raw_path=b"/api/info", root_path="/api"))
    body = json.loads(sent[1]["body"])
    assert (body["path"], body["root_path"], body["url"]) == ("/info", "/api", "http://example.test/api/info")


def test_post_body_in_several_messages(app):
    sent, left = call(app, scope_for("POST", "/echo"), [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": True},
        {"type": "http.request", "body": b"e", "more_body": False},
    ])
    assert sent[1] == {"type": "http.response.body", "body": b"abcde"}
    assert sent[0]["headers"][-1] == (b"content-length", b"5")
    assert left == []


def test_empty_body_messages_with_more_body_do_not_end_the_body(app):
    # ASGI allows an empty chunk with more_body=True; it is not the end of the body.
    sent, left = call(app, scope_for("POST", "/echo"), [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "more_body": True},
        {"type": "http.request", "body": b"cd"},
    ])
    assert sent[1]["body"] == b"abcd"
    assert left == []


def test_empty_post(app):
    sent, _ = call(app, scope_for("POST", "/echo"), [{"type": "http.request"}])
    assert sent[1]["body"] == b""


def test_streaming_response_messages(app):
    sent, _ = call(app, scope_for(path="/stream"))
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain; charset=utf-8")]},
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body", "body": b"bb", "more_body": True},
        {"type": "http.response.body", "body": b"ccc", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]
    assert app.state_log == ["stream closed"]


def test_head_sends_headers_and_an_empty_body(app):
    sent, _ = call(app, scope_for("HEAD", "/"))
    assert sent == [
        {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"5")]},
        {"type": "http.response.body", "body": b""},
    ]


def test_head_on_a_streaming_route_sends_no_chunks(app):
    sent, _ = call(app, scope_for("HEAD", "/stream"))
    assert [m.get("body") for m in sent] == [None, b""]
    assert app.state_log == []  # the generator was never started


def test_disconnect_while_reading_the_body(app):
    sent, left = call(app, scope_for("POST", "/echo"), [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.disconnect"},
    ])
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {"type": "about:blank", "title": "Bad Request", "status": 400,
                                           "detail": "client disconnected before the body was complete",
                                           "instance": "/echo"}
    assert left == []


def test_disconnect_during_a_streaming_response_closes_the_generator(app):
    class Gone(OSError):
        pass

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message.get("more_body"):
            raise Gone("client went away")  # what servers do when the client has gone
        sent.append(message)

    async def main():
        with pytest.raises(Gone):
            await app(scope_for(path="/stream"), receive, send)
        return list(app.state_log)  # before asyncio.run's own clean-up of leftover generators

    assert asyncio.run(main()) == ["stream closed"]
    assert [m["type"] for m in sent] == ["http.response.start"]


def test_not_found_is_problem_json(app):
    sent, _ = call(app, scope_for(path="/missing"))
    assert sent[0]["status"] == 404
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["detail"] == "no route for /missing"


def test_background_tasks_run_after_the_response(app):
    sent, _ = call(app, scope_for(path="/later"))
    assert sent[1]["body"] == b"now"
    assert app.state_log == ["background ran"]


def run_lifespan(app, messages):
    inbox = list(messages)
    sent = []

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send), 5))
    return sent


def test_lifespan_startup_and_shutdown_complete():
    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("enter")
        yield
        events.append("exit")

    app = Covet(lifespan=lifespan)
    app.on_startup(lambda: events.append("startup hook"))
    app.on_shutdown(lambda: events.append("shutdown hook"))
    sent = run_lifespan(app, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert events == ["enter", "startup hook", "shutdown hook", "exit"]


def test_lifespan_startup_failed():
    app = Covet()

    @app.on_startup
    async def broken():
        raise RuntimeError("database unreachable")

    sent = run_lifespan(app, [{"type": "lifespan.startup"}])
    assert sent == [{"type": "lifespan.startup.failed", "message": "RuntimeError: database unreachable"}]


def test_lifespan_shutdown_failed():
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        raise ValueError("could not flush")

    app = Covet(lifespan=lifespan)
    sent = run_lifespan(app, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    assert sent == [{"type": "lifespan.startup.complete"},
                    {"type": "lifespan.shutdown.failed", "message": "ValueError: could not flush"}]
def test_unknown_scope_type_is_an_error():
    async def receive():
        return {}

    async def send(message):
        pass

    with pytest.raises(ValueError, match="unsupported ASGI scope type 'telepathy'"):
        asyncio.run(Covet()({"type": "telepathy"}, receive, send))


def test_disconnect_during_a_streaming_response_still_tears_down_yield_dependencies():
    # Before: when the ASGI server raised from send() (client gone), the
    # after-send work was skipped and a yield dependency was never closed.
    from covet import Depends

    log = []
    app = Covet()

    async def resource():
        try:
            yield "conn"
        finally:
            log.append("released")

    @app.get("/held")
    async def held(conn=Depends(resource)):
        async def parts():
            yield b"a"
            yield b"b"
        return StreamingResponse(parts())

    class Gone(OSError):
        pass

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message.get("more_body"):
            raise Gone("client went away")

    async def main():
        with pytest.raises(Gone):
            await app(scope_for(path="/held"), receive, send)
        return list(log)

    assert asyncio.run(main()) == ["released"]


def test_a_body_over_the_app_limit_is_413_under_asgi():
    import asyncio as _asyncio

    from covet import Covet as _Covet

    app = _Covet(max_body_size=10)

    @app.post("/echo")
    async def echo(request):
        return await request.body()

    messages = [{"type": "http.request", "body": b"123456", "more_body": True},
                {"type": "http.request", "body": b"789012", "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/echo", "raw_path": b"/echo", "query_string": b"",
             "headers": [(b"host", b"x"), (b"content-type", b"application/octet-stream")]}
    _asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b"request body larger than 10 bytes" in sent[1]["body"]


def test_a_204_or_304_goes_out_without_a_body_or_a_204_content_length():
    app = make_app()
    sent, _ = call(app, scope_for(path="/tuple204"))
    assert sent[0]["status"] == 204 and b"content-length" not in dict(sent[0]["headers"])
    assert sent[1] == {"type": "http.response.body", "body": b""}
    sent, _ = call(app, scope_for(path="/late304"))
    assert sent[0]["status"] == 304
    assert sent[1] == {"type": "http.response.body", "body": b""}
