"""The WebSocket API (covet.websocket) and its routing, through the in-process test client.

Routing (RFC 6455 §4.1 handshake on a GET; RFC 9110 §15.5.22 426 for plain HTTP), arguments as on
HTTP routes, accept/subprotocols (RFC 6455 §4.2.2), messages, close codes (RFC 6455 §7.4.1),
refusals before accept, errors after it, and the test client itself.
"""
import asyncio
import logging

import pytest

from covet import AsyncTestClient, Covet, Depends, Header, HTTPException, Query, Request, Router, TestClient
from covet.core.routing import WEBSOCKET
from covet.testing import WebSocketRefused
from covet.websocket import WebSocket, WebSocketDisconnect, WebSocketState


def make_app():
    app = Covet()

    @app.websocket("/ws/{room}")
    async def room(websocket, room: str, n: int = Query(1)):
        await websocket.accept()
        async for message in websocket:
            await websocket.send_text("%s/%d: %s" % (room, n, message))

    @app.websocket("/items/{item_id:int}")
    async def item(ws: WebSocket, item_id: int):
        await ws.accept()
        await ws.send_json({"id": item_id, "type": type(item_id).__name__})
        await ws.close()

    @app.get("/http-only")
    async def http_only():
        return {"ok": True}

    return app


def test_path_converters_query_parameters_and_echo():
    with TestClient(make_app()) as client:
        with client.websocket_connect("/ws/lobby?n=3") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "lobby/3: hi"
            ws.send_bytes(b"\x00\x01")
            assert ws.receive_text() == "lobby/3: b'\\x00\\x01'"
        with client.websocket_connect("/items/42") as ws:
            assert ws.receive_json() == {"id": 42, "type": "int"}
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
            assert (info.value.code, info.value.reason) == (1000, "")


def test_plain_http_to_a_websocket_route_gets_426_with_upgrade():
    with TestClient(make_app()) as client:
        r = client.get("/ws/lobby")
        assert r.status_code == 426
        assert r.headers["upgrade"] == "websocket"
        assert r.headers["connection"] == "Upgrade"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 426
        assert client.post("/ws/lobby").status_code == 426


def test_websocket_handshake_on_http_route_is_405_and_unknown_path_404():
    with TestClient(make_app()) as client:
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/http-only"):
                pass
        assert info.value.status_code == 405
        assert info.value.headers["allow"] == "GET, HEAD, OPTIONS"
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/nowhere"):
                pass
        assert info.value.status_code == 404
        assert info.value.json()["detail"] == "no WebSocket route for /nowhere"
        # a path converter that refuses the segment: no route
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/items/abc"):
                pass
        assert info.value.status_code == 404


def test_unresolvable_arguments_refuse_the_handshake_with_422():
    with TestClient(make_app()) as client:
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/ws/lobby?n=x"):
                pass
        assert info.value.status_code == 422
        assert info.value.json()["errors"] == [{"loc": ["query", "n"], "msg": "must be of type integer",
                                                "type": "type"}]


def test_websocket_routes_stay_out_of_allow_options_and_openapi():
    app = make_app()

    @app.get("/both")
    async def both_http():
        return "http"

    @app.websocket("/both")
    async def both_ws(websocket):
        await websocket.accept()
        await websocket.send_text("ws")

    with TestClient(app) as client:
        assert client.get("/both").text == "http"
        r = client.post("/both")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"
        r = client.options("/ws/x")
        assert r.status_code == 426
        with client.websocket_connect("/both") as ws:
            assert ws.receive_text() == "ws"
        paths = client.get("/openapi.json").json()["paths"]
        assert sorted(paths) == ["/both", "/http-only"]
        assert list(paths["/both"]) == ["get"]
    assert WEBSOCKET not in app.router.all_methods()


def test_websocket_method_cannot_mix_with_http_methods():
    app = Covet()
    with pytest.raises(ValueError, match="answers no HTTP method"):
        app.add_route("/x", lambda: None, methods=["GET", "WEBSOCKET"])


def test_registration_refuses_sync_handlers_bodies_and_background_tasks():
    from covet import BackgroundTasks

    app = Covet()

    def sync_handler(websocket):
        pass

    with pytest.raises(TypeError, match="must be an async def"):
        app.add_websocket_route("/a", sync_handler)

    async def with_body(websocket, data: dict):
        pass

    with pytest.raises(TypeError, match="has no body"):
        app.add_websocket_route("/b", with_body)

    async def with_tasks(websocket, tasks: BackgroundTasks):
        pass

    with pytest.raises(TypeError, match="BackgroundTasks"):
        app.add_websocket_route("/c", with_tasks)
    assert app.routes == []


def test_depends_headers_cookies_and_yield_dependencies():
    app = Covet()
    events = []

    async def session(websocket):
        events.append("setup")
        yield websocket.cookies.get("sid")
        events.append("teardown")

    def room_name(websocket, room: str):
        return room.upper()

    @app.websocket("/ws/{room}")
    async def handler(websocket, sid=Depends(session), name=Depends(room_name),
                      agent: str = Header("none", alias="x-agent")):
        await websocket.accept()
        await websocket.send_json({"sid": sid, "room": name, "agent": agent})
        events.append("handler")

    with TestClient(app) as client:
        with client.websocket_connect("/ws/abc", headers={"x-agent": "pytest", "cookie": "sid=s1"}) as ws:
            assert ws.receive_json() == {"sid": "s1", "room": "ABC", "agent": "pytest"}
    assert events == ["setup", "handler", "teardown"]


def test_request_attributes_of_a_websocket():
    app = Covet()
    seen = {}

    @app.websocket("/info/{x}")
    async def info(websocket: WebSocket):
        seen["path_params"] = websocket.path_params
        seen["query"] = websocket.query_params.get("q")
        seen["url"] = str(websocket.url)
        seen["client"] = websocket.client
        seen["subprotocols"] = websocket.subprotocols
        seen["is_request"] = isinstance(websocket, Request)
        seen["state_before"] = websocket.connection_state
        websocket.state.anything = 1
        await websocket.accept(subprotocol="two", headers={"x-extra": "yes"})
        seen["state_after"] = websocket.connection_state

    with TestClient(app) as client:
        with client.websocket_connect("/info/7?q=1", subprotocols=["one", "two"]) as ws:
            assert ws.subprotocol == "two"
            assert ws.headers["x-extra"] == "yes"
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert info.value.code == 1000
    assert seen == {"path_params": {"x": "7"}, "query": "1", "url": "ws://testserver/info/7?q=1",
                    "client": ("testclient", 50000), "subprotocols": ["one", "two"], "is_request": True,
                    "state_before": WebSocketState.CONNECTING, "state_after": WebSocketState.CONNECTED}


def test_accept_rules():
    app = Covet()
    errors = []

    @app.websocket("/not-offered")
    async def not_offered(websocket):
        try:
            await websocket.accept(subprotocol="nope")
        except ValueError as exc:
            errors.append(str(exc))
        await websocket.accept()
        await websocket.accept()  # again, no arguments: nothing happens
        try:
            await websocket.accept(subprotocol="chat")
        except RuntimeError as exc:
            errors.append(str(exc))
        await websocket.send_text("ok")

    with TestClient(app) as client:
        with client.websocket_connect("/not-offered", subprotocols=["chat"]) as ws:
            assert ws.subprotocol is None
            assert ws.receive_text() == "ok"
    assert errors == ["subprotocol 'nope' was not offered by the client (offered: ['chat'])",
                      "the WebSocket is already accepted (subprotocol None)"]


def test_close_before_accept_and_return_without_accept_are_403():
    app = Covet()

    @app.websocket("/closed")
    async def closed(websocket):
        await websocket.close()

    @app.websocket("/nothing")
    async def nothing(websocket):
        return None

    with TestClient(app) as client:
        for path in ("/closed", "/nothing"):
            with pytest.raises(WebSocketRefused) as info:
                with client.websocket_connect(path):
                    pass
            assert info.value.status_code == 403
            assert info.value.json()["detail"] == "the WebSocket handshake was refused"


def test_http_exception_before_accept_refuses_with_its_status_and_headers():
    app = Covet()

    async def need_key(websocket):
        if websocket.headers.get("x-key") != "k":
            raise HTTPException(401, "key required", {"WWW-Authenticate": "Key"})

    @app.websocket("/guarded", dependencies=[Depends(need_key)])
    async def guarded(websocket):
        await websocket.accept()
        await websocket.send_text("in")

    with TestClient(app) as client:
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/guarded"):
                pass
        assert info.value.status_code == 401
        assert info.value.headers["www-authenticate"] == "Key"
        with client.websocket_connect("/guarded", headers={"x-key": "k"}) as ws:
            assert ws.receive_text() == "in"


def test_handler_exception_after_accept_closes_1011_and_logs_without_leaking(caplog):
    app = Covet()

    @app.websocket("/boom")
    async def boom(websocket):
        await websocket.accept()
        await websocket.receive_text()
        raise ValueError("secret detail")

    with caplog.at_level(logging.ERROR, logger="covet.error"):
        with TestClient(app, raise_server_exceptions=False) as client:
            with client.websocket_connect("/boom") as ws:
                ws.send_text("go")
                with pytest.raises(WebSocketDisconnect) as info:
                    ws.receive_text()
    assert (info.value.code, info.value.reason) == (1011, "internal error")
    records = [r for r in caplog.records if r.name == "covet.error"]
    assert len(records) == 1 and records[0].exc_info[0] is ValueError
    assert "unhandled ValueError in GET /boom" in records[0].getMessage()


def test_handler_exception_reaches_the_test_when_raise_server_exceptions():
    app = Covet()

    @app.websocket("/boom")
    async def boom(websocket):
        await websocket.accept()
        raise KeyError("k")

    with TestClient(app) as client:
        with pytest.raises(KeyError):
            with client.websocket_connect("/boom") as ws:
                with pytest.raises(WebSocketDisconnect):
                    ws.receive_text()


def test_http_exception_after_accept_closes_1008():
    app = Covet()

    @app.websocket("/policy")
    async def policy(websocket):
        await websocket.accept()
        raise HTTPException(403, "no")

    with TestClient(app) as client:
        with client.websocket_connect("/policy") as ws:
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
    assert (info.value.code, info.value.reason) == (1008, "403 Forbidden")


def test_handler_returning_closes_1000_and_disconnect_ends_quietly(caplog):
    app = Covet()
    seen = []

    @app.websocket("/once")
    async def once(websocket):
        await websocket.accept()
        await websocket.send_text("bye")

    @app.websocket("/listen")
    async def listen(websocket):
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            seen.append((exc.code, exc.reason, websocket.close_code))
            raise  # propagating it is a normal end: nothing logged

    with caplog.at_level(logging.ERROR, logger="covet.error"):
        with TestClient(app) as client:
            with client.websocket_connect("/once") as ws:
                assert ws.receive_text() == "bye"
                with pytest.raises(WebSocketDisconnect) as info:
                    ws.receive_text()
                assert info.value.code == 1000
            with client.websocket_connect("/listen") as ws:
                ws.close(4001, "leaving")
    assert seen == [(4001, "leaving", 4001)]
    assert [r for r in caplog.records if r.name == "covet.error"] == []


def test_async_for_ends_on_normal_close_and_raises_on_others():
    app = Covet()
    results = []

    @app.websocket("/iter")
    async def iterate(websocket):
        await websocket.accept()
        got = []
        try:
            async for message in websocket:
                got.append(message)
            results.append(("ended", got))
        except WebSocketDisconnect as exc:
            results.append(("raised", exc.code, got))
            raise

    with TestClient(app) as client:
        for code in (1000, 1001, 4000):
            with client.websocket_connect("/iter") as ws:
                ws.send_text("a")
                ws.send_bytes(b"b")
                ws.close(code)
    assert results == [("ended", ["a", b"b"]), ("ended", ["a", b"b"]), ("raised", 4000, ["a", b"b"])]


def test_receive_wrong_type_closes_1003_and_bad_json_1007():
    app = Covet()
    seen = []

    @app.websocket("/text")
    async def text(websocket):
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            seen.append(exc.code)

    @app.websocket("/json")
    async def as_json(websocket):
        await websocket.accept()
        assert await websocket.receive_json() == {"a": 1}
        assert await websocket.receive_json() == [1]  # from a binary message
        try:
            await websocket.receive_json()
        except WebSocketDisconnect as exc:
            seen.append(exc.code)

    with TestClient(app) as client:
        with client.websocket_connect("/text") as ws:
            ws.send_bytes(b"x")
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert (info.value.code, info.value.reason) == (1003, "expected a text message")
        with client.websocket_connect("/json") as ws:
            ws.send_json({"a": 1})
            ws.send_json([1], mode="binary")
            ws.send_text("{bad")
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert info.value.code == 1007
            assert info.value.reason.startswith("malformed JSON")
    assert seen == [1003, 1007]


def test_send_after_client_left_is_silent_and_receive_raises():
    app = Covet()
    done = []

    @app.websocket("/late")
    async def late(websocket):
        await websocket.accept()
        with pytest.raises(WebSocketDisconnect):
            await websocket.receive_text()
        await websocket.send_text("nobody hears this")  # no error: the client is gone
        with pytest.raises(WebSocketDisconnect) as info:
            await websocket.receive_text()
        done.append(info.value.code)

    with TestClient(app) as client:
        with client.websocket_connect("/late") as ws:
            ws.close(1001)
    assert done == [1001]


def test_send_after_app_close_is_an_error_and_close_twice_is_nothing():
    app = Covet()
    errors = []

    @app.websocket("/x")
    async def handler(websocket):
        await websocket.accept()
        await websocket.close(4000, "r" * 200)
        await websocket.close()
        try:
            await websocket.send_text("x")
        except RuntimeError as exc:
            errors.append(str(exc))

    with TestClient(app) as client:
        with client.websocket_connect("/x") as ws:
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
    # RFC 6455 §5.5: the reason is cut to fit a control frame (123 bytes after the code).
    assert (info.value.code, info.value.reason) == (4000, "r" * 123)
    assert errors == ["cannot send on a WebSocket the application closed"]


def test_send_before_accept_accepts_implicitly():
    app = Covet()

    @app.websocket("/implicit")
    async def implicit(websocket):
        await websocket.send_json({"hello": "there"})

    with TestClient(app) as client:
        with client.websocket_connect("/implicit") as ws:
            assert ws.receive_json() == {"hello": "there"}


def test_websocket_is_hashable_by_identity():
    a = WebSocket("/a")
    b = WebSocket("/a")
    assert a != b and len({a, b, a}) == 2
    assert {a: 1}[a] == 1


def test_groups_routers_and_mounts_carry_websocket_routes():
    app = Covet()
    api = app.group("/api")

    @api.websocket("/g/{n:int}")
    async def in_group(websocket, n: int):
        await websocket.send_text("group %d" % (n + 1))

    router = Router()

    @router.websocket("/r")
    async def in_router(websocket):
        await websocket.send_text("router")

    app.include_router(router, prefix="/inc")
    sub = Covet()

    @sub.websocket("/m")
    async def in_mount(websocket):
        await websocket.send_text("mounted at %s" % websocket.root_path)

    app.mount("/sub", sub)
    guarded = app.group("/guarded", dependencies=[Depends(lambda: None)])
    guarded.mount("/sub2", sub)

    with TestClient(app) as client:
        for path, text in (("/api/g/1", "group 2"), ("/inc/r", "router"), ("/sub/m", "mounted at /sub")):
            with client.websocket_connect(path) as ws:
                assert ws.receive_text() == text
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/guarded/sub2/m"):
                pass
        assert info.value.status_code == 403
    assert app.url_for("in_group", n=3) == "/api/g/3"


def test_app_middleware_does_not_run_but_route_middleware_does():
    app = Covet()
    calls = []

    @app.middleware
    async def app_wide(request, call_next):
        calls.append("app")
        return await call_next(request)

    async def group_mw(request, call_next):
        calls.append("group")
        response = await call_next(request)
        calls.append("group-after")
        return response

    g = app.group("/g", middleware=[group_mw])

    @g.websocket("/ws")
    async def ws_handler(websocket):
        await websocket.accept()
        await websocket.send_text("x")
        calls.append("handler")

    with TestClient(app) as client:
        with client.websocket_connect("/g/ws") as ws:
            assert ws.receive_text() == "x"
    assert calls == ["group", "handler", "group-after"]


def test_a_route_middleware_answer_refuses_the_handshake():
    app = Covet()

    async def deny(request, call_next):
        from covet import JSONResponse

        return JSONResponse({"denied": True}, 429, {"Retry-After": "3"})

    g = app.group("/g", middleware=[deny])

    @g.websocket("/ws")
    async def never(websocket):
        raise AssertionError("must not run")

    with TestClient(app) as client:
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/g/ws"):
                pass
    assert info.value.status_code == 429
    assert info.value.headers["retry-after"] == "3"
    assert info.value.json() == {"denied": True}


def test_async_test_client_websocket_connect():
    app = make_app()

    async def main():
        async with AsyncTestClient(app) as client:
            async with client.websocket_connect("/ws/a?n=2") as ws:
                await ws.send_text("x")
                assert await ws.receive_text() == "a/2: x"
                await ws.send_json({"k": 1})
                assert await ws.receive_text() == 'a/2: {"k": 1}'
            with pytest.raises(WebSocketRefused) as info:
                async with client.websocket_connect("/nowhere"):
                    pass
            assert info.value.status_code == 404

    asyncio.run(main())


def test_handler_that_ignores_the_disconnect_is_cancelled_at_block_exit(monkeypatch):
    import covet.testing.websocket as tws

    monkeypatch.setattr(tws, "HANDLER_EXIT_TIMEOUT", 0.05)
    app = Covet()
    cancelled = []

    @app.websocket("/stuck")
    async def stuck(websocket):
        await websocket.accept()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with TestClient(app) as client:
        with client.websocket_connect("/stuck"):
            pass
    assert cancelled == [True]
