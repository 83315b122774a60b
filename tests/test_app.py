"""covet.core.app: route decorators, middleware forms and order, lifecycle, state, dispatch."""
import asyncio
import contextlib
import contextvars
import logging
import subprocess
import sys
import threading

import pytest

from covet import (AsyncTestClient, BackgroundTasks, Covet, CovetApp, JSONResponse, PlainTextResponse, Query, Request,
                   Response, StreamingResponse, TestClient)


def trace_mw(events, tag):
    async def mw(request, call_next):
        events.append(tag + " in")
        response = await call_next(request)
        events.append(tag + " out")
        return response
    return mw


# -- route decorators ----------------------------------------------------------------------

def test_every_verb_decorator_registers_its_method(client):
    app = Covet()
    for verb in ("get", "post", "put", "patch", "delete", "options", "head"):
        async def handler(request: Request):
            return PlainTextResponse(request.method)
        getattr(app, verb)("/v", name=verb)(handler)

    c = client(app)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert c.request(method, "/v").text == method
    assert c.head("/v").headers["content-length"] == "4"
    assert [sorted(r.methods) for r in app.routes] == [[m] for m in
                                                       ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")]


def test_route_with_several_methods_and_lowercase_names(client):
    app = Covet()

    @app.route("/m", methods=["get", "Post"])
    async def m(request: Request):
        return request.method

    c = client(app)
    assert (c.get("/m").text, c.post("/m").text) == ("GET", "POST")
    assert app.routes[0].methods == {"GET", "POST"}


def test_add_route_defaults_to_get_and_returns_the_route():
    app = Covet()

    async def h():
        return None

    route = app.add_route("/x", h)
    assert (route.path, route.methods, route.name, route.endpoint) == ("/x", {"GET"}, "h", h)
    assert repr(route) == "Route('/x', methods=['GET'], name='h')"
    assert repr(app) == "<Covet 1 routes>"


def test_url_for_accepts_a_path_param_called_name():
    app = Covet()

    @app.get("/people/{name}")
    async def person(name):
        return name

    assert app.url_for("person", name="ada") == "/people/ada"


def test_covetapp_is_covet():
    assert CovetApp is Covet


def test_request_app_and_app_state(client):
    app = Covet()
    app.state.greeting = "hi"

    @app.get("/s")
    async def s(request: Request):
        return {"same": request.app is app, "greeting": request.app.state.greeting}

    assert client(app).get("/s").json() == {"same": True, "greeting": "hi"}


# -- middleware --------------------------------------------------------------------------------

def test_middleware_order_first_added_is_outermost(client):
    events = []
    app = Covet(middleware=[trace_mw(events, "ctor")])
    app.add_middleware(trace_mw(events, "a"))
    app.add_middleware(trace_mw(events, "b"))

    @app.get("/")
    async def root():
        events.append("handler")
        return "ok"

    client(app).get("/")
    assert events == ["ctor in", "a in", "b in", "handler", "b out", "a out", "ctor out"]


def test_middleware_class_with_options_object_and_function_forms(client):
    class AddHeader:
        def __init__(self, name, value):
            self.name, self.value = name, value

        async def __call__(self, request, call_next):
            response = await call_next(request)
            response.headers[self.name] = self.value
            return response

    app = Covet()
    app.add_middleware(AddHeader, name="X-Class", value="1")
    app.add_middleware(AddHeader("X-Object", "2"))

    @app.middleware
    async def bare(request, call_next):
        response = await call_next(request)
        response.headers["X-Bare"] = "3"
        return response

    @app.middleware("http")
    async def typed(request, call_next):
        response = await call_next(request)
        response.headers["X-Http"] = "4"
        return response

    @app.get("/")
    async def root():
        return "ok"

    r = client(app).get("/")
    assert [r.headers[h] for h in ("x-class", "x-object", "x-bare", "x-http")] == ["1", "2", "3", "4"]
    assert bare.__name__ == "bare" and typed.__name__ == "typed"


def test_plain_def_middleware_runs_in_a_worker_thread(client):
    app = Covet()
    seen = []

    def blocking(request, call_next):
        seen.append(threading.current_thread().name.split("_")[0])
        response = call_next(request)
        response.headers["X-Sync"] = "yes"
        return response

    app.add_middleware(blocking)

    @app.get("/")
    async def root():
        seen.append("handler on loop thread: %s" % (threading.current_thread().name != "covet-worker"))
        return "ok"

    r = client(app).get("/")
    assert (r.text, r.headers["x-sync"]) == ("ok", "yes")
    # The loop's default executor, not the app's pool: the middleware thread waits for
    # the handler, which may need a pool thread itself (see the deadlock test below).
    assert seen == ["asyncio", "handler on loop thread: True"]


def test_middleware_can_short_circuit_and_return_plain_values(client):
    app = Covet()
    calls = []

    @app.middleware
    async def gate(request, call_next):
        if request.headers.get("x-key") != "k":
            return {"denied": True}, 403
        return await call_next(request)

    @app.get("/")
    async def root():
        calls.append(1)
        return "ok"

    c = client(app)
    r = c.get("/")
    assert (r.status_code, r.json(), calls) == (403, {"denied": True}, [])
    assert c.get("/", headers={"x-key": "k"}).text == "ok"


def test_middleware_sees_404s_and_can_pass_state_to_handlers(client):
    app = Covet()
    seen = []

    @app.middleware
    async def mark(request, call_next):
        request.state.user = "ada"
        response = await call_next(request)
        seen.append(response.status_code)
        return response

    @app.get("/me")
    async def me(request: Request):
        return request.state.user

    c = client(app)
    assert c.get("/me").text == "ada"
    c.get("/missing")
    assert seen == [200, 404]


def watch(log, tag):
    """A middleware that records what its call_next gave: (tag, status) for a Response, (tag, exception name) else."""
    async def mw(request, call_next):
        try:
            response = await call_next(request)
        except Exception as exc:
            log.append((tag, type(exc).__name__))
            raise
        assert isinstance(response, Response)
        log.append((tag, response.status_code))
        return response
    return mw


def test_app_middleware_gets_errors_the_app_answers_as_responses_whoever_raised_them(client):
    from covet import HTTPException

    app = Covet()
    log = []
    app.add_middleware(watch(log, "outer"))

    @app.middleware
    async def gate(request, call_next):
        if request.headers.get("x-key") != "k":
            raise HTTPException(401, "no key", headers={"WWW-Authenticate": "Key"})
        return await call_next(request)

    app.add_middleware(watch(log, "inner"))

    @app.get("/teapot")
    async def teapot():
        raise HTTPException(418, "short and stout")

    c = client(app)
    r = c.get("/teapot")
    assert (r.status_code, r.headers["www-authenticate"], r.json()["detail"]) == (401, "Key", "no key")
    # The outer middleware saw the 401 the gate raised as the problem response it became.
    assert log == [("outer", 401)]
    log.clear()
    r = c.get("/teapot", headers={"x-key": "k"})
    assert (r.status_code, r.headers["content-type"], r.json()["detail"]) == (
        418, "application/problem+json", "short and stout")
    assert log == [("inner", 418), ("outer", 418)]


def test_app_middleware_sees_what_an_exception_handler_made_of_an_error(client):
    from covet import HTTPException

    app = Covet()
    log = []
    app.add_middleware(watch(log, "outer"))

    @app.middleware
    async def lookup(request, call_next):
        if "id" not in request.query_params:
            raise KeyError("id")
        return await call_next(request)

    @app.exception_handler(KeyError)
    async def missing(request, exc):
        return JSONResponse({"missing": exc.args[0]}, status_code=400)

    @app.exception_handler(418)
    async def teapot_page(request, exc):
        return PlainTextResponse("I am a teapot", status_code=418)

    @app.get("/t")
    async def t():
        raise HTTPException(418)

    c = client(app)
    r = c.get("/t")
    assert (r.status_code, r.json()) == (400, {"missing": "id"})
    r = c.get("/t?id=1")
    assert (r.status_code, r.text) == (418, "I am a teapot")
    assert log == [("outer", 400), ("outer", 418)]


def test_an_unhandled_error_still_reaches_app_middleware_as_the_exception(client):
    app = Covet()
    log = []
    app.add_middleware(watch(log, "mw"))

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    r = client(app, raise_server_exceptions=False).get("/boom")
    assert r.status_code == 500
    assert log == [("mw", "RuntimeError")]


def test_contextvars_set_in_middleware_reach_sync_and_async_handlers(client):
    """Starlette PR#1525: BaseHTTPMiddleware lost contextvars."""
    var = contextvars.ContextVar("var", default="unset")
    app = Covet()

    @app.middleware
    async def set_var(request, call_next):
        var.set("from middleware")
        return await call_next(request)

    @app.get("/sync")
    def sync_handler():
        return var.get()

    @app.get("/async")
    async def async_handler():
        return var.get()

    c = client(app)
    assert (c.get("/sync").text, c.get("/async").text) == ("from middleware", "from middleware")


def test_middleware_does_not_break_streaming_or_background_tasks(client):
    """Starlette #919/#3458: background tasks delayed or started early behind middleware."""
    events = []
    app = Covet()

    @app.middleware
    async def outer(request, call_next):
        response = await call_next(request)
        events.append("middleware out")
        response.headers["X-Mw"] = "1"
        return response

    async def chunks():
        for part in (b"a", b"b"):
            events.append("chunk")
            yield part

    @app.get("/s")
    async def s(tasks: BackgroundTasks):
        tasks.add_task(events.append, "background")
        return StreamingResponse(chunks())

    r = client(app).get("/s")
    assert (r.content, r.headers["x-mw"]) == (b"ab", "1")
    assert events == ["middleware out", "chunk", "chunk", "background"]


def test_middleware_added_after_a_request_takes_effect(client):
    app = Covet()

    @app.get("/")
    async def root():
        return "ok"

    c = client(app)
    assert "x-late" not in c.get("/").headers

    @app.middleware
    async def late(request, call_next):
        response = await call_next(request)
        response.headers["X-Late"] = "1"
        return response

    assert c.get("/").headers["x-late"] == "1"


def test_add_middleware_errors():
    app = Covet()
    with pytest.raises(TypeError, match="options are only accepted with a middleware class"):
        app.add_middleware(lambda r, n: None, level=1)
    with pytest.raises(TypeError, match="middleware must be callable as mw\\(request, call_next\\)"):
        app.add_middleware(42)


# -- lifecycle ---------------------------------------------------------------------------------

def lifecycle_app(events):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("lifespan enter")
        app.state.loop = asyncio.get_running_loop()
        yield
        events.append("lifespan exit")

    app = Covet(lifespan=lifespan)

    @app.on_startup
    def sync_start():
        events.append("sync startup")

    @app.on_startup
    async def async_start():
        events.append("async startup")

    @app.on_shutdown
    async def async_stop():
        events.append("async shutdown")

    @app.on_shutdown
    def sync_stop():
        events.append("sync shutdown")

    @app.get("/loop")
    async def loop(request: Request):
        events.append("request")
        return {"same_loop": asyncio.get_running_loop() is request.app.state.loop}

    return app


def test_with_testclient_runs_lifespan_startup_and_shutdown_in_order(client):
    events = []
    app = lifecycle_app(events)
    with client(app) as c:
        assert events == ["lifespan enter", "sync startup", "async startup"]
        assert app.started
        assert c.get("/loop").json() == {"same_loop": True}
    assert events == ["lifespan enter", "sync startup", "async startup", "request",
                      "async shutdown", "sync shutdown", "lifespan exit"]
    assert not app.started


def test_startup_runs_lazily_on_first_request_without_with(client):
    events = []
    app = lifecycle_app(events)
    c = client(app)
    assert events == []
    assert c.get("/loop").json() == {"same_loop": True}
    c.get("/loop")
    assert events == ["lifespan enter", "sync startup", "async startup", "request", "request"]
    c.close()
    assert events[-3:] == ["async shutdown", "sync shutdown", "lifespan exit"]
    c.close()
    assert events.count("lifespan exit") == 1


def test_startup_and_shutdown_are_idempotent():
    events = []
    app = lifecycle_app(events)

    async def go():
        await app.startup()
        await app.startup()
        await app.shutdown()
        await app.shutdown()

    asyncio.run(go())
    assert events == ["lifespan enter", "sync startup", "async startup", "async shutdown", "sync shutdown",
                      "lifespan exit"]


def test_failing_shutdown_hook_is_logged_and_the_rest_still_run(caplog):
    events = []
    app = Covet()

    @app.on_shutdown
    def broken():
        raise RuntimeError("cannot close")

    @app.on_shutdown
    def fine():
        events.append("fine")

    async def go():
        await app.startup()
        await app.shutdown()

    asyncio.run(go())
    assert events == ["fine"]
    assert caplog.records[0].getMessage().startswith("shutdown hook <function ")
    assert caplog.records[0].levelno == logging.ERROR


def test_failing_startup_propagates_from_the_client(client):
    app = Covet()

    @app.on_startup
    async def broken():
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        with client(app):
            pass
    assert not app.started


def test_thread_pool_is_created_on_demand_and_stopped_at_shutdown(client):
    app = Covet(thread_pool_size=3)

    @app.get("/s")
    def s():
        return threading.current_thread().name.split("_")[0]

    with client(app) as c:
        assert c.get("/s").text == "covet-worker"
        assert app.executor._max_workers == 3
    assert app._executor is None


# -- dispatch ----------------------------------------------------------------------------------

def test_dispatch_is_the_single_entry_point():
    app = Covet()

    @app.get("/d")
    async def d(request: Request):
        return {"q": request.query_params.get("q")}

    request = Request("GET", "/d", "q=1", [(b"host", b"x")])
    response = asyncio.run(app.dispatch(request))
    assert isinstance(response, Response)
    assert (response.status_code, response.body) == (200, b'{"q":"1"}')
    assert request.app is app and request.route is app.routes[0]


# -- regressions found while documenting -------------------------------------------------------

def test_sync_middleware_does_not_deadlock_a_small_thread_pool():
    import time as _time

    app = Covet(thread_pool_size=2)

    @app.middleware
    def passthrough(request, call_next):
        return call_next(request)

    @app.get("/slow")
    def slow():
        _time.sleep(0.05)
        return {"ok": True}

    async def main():
        async with AsyncTestClient(app) as c:
            return await asyncio.wait_for(asyncio.gather(*[c.get("/slow") for _ in range(5)]), 10)

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * 5


def test_background_tasks_passed_to_the_response_too_run_once():
    ran = []
    app = Covet()

    @app.post("/signup")
    async def signup(tasks: BackgroundTasks):
        tasks.add_task(ran.append, "mail")
        return JSONResponse({"ok": True}, background=tasks)

    with TestClient(app) as c:
        assert c.post("/signup").status_code == 200
    assert ran == ["mail"]


def test_middleware_classes_given_to_the_constructor_are_instantiated():
    class Stamp:
        async def __call__(self, request, call_next):
            response = await call_next(request)
            response.headers["X-Stamp"] = "1"
            return response

    app = Covet(middleware=[Stamp])

    @app.get("/")
    async def index():
        return {}

    with TestClient(app) as c:
        assert c.get("/").headers["x-stamp"] == "1"


def test_a_404_inside_a_mounted_app_names_the_full_path():
    sub = Covet()
    app = Covet()
    app.mount("/sub", sub)
    with TestClient(app) as c:
        r = c.get("/sub/nope")
    assert r.status_code == 404
    assert r.json()["instance"] == "/sub/nope"


def test_a_set_query_parameter_collapses_repeated_values():
    from typing import Set

    app = Covet()

    @app.get("/s")
    async def s(q: Set[int] = Query(set())):
        return {"q": sorted(q)}

    with TestClient(app) as c:
        assert c.get("/s?q=2&q=1&q=2").json() == {"q": [1, 2]}


def test_unhandled_error_log_line_escapes_control_characters_of_the_path(caplog):
    # Before: the path was logged decoded and raw, so a client requesting
    # /boom/%0d%0aINFO... could forge log lines (uvicorn CVE-2020-7694).
    app = Covet()

    @app.get("/boom/{what}")
    async def boom(what: str):
        raise RuntimeError("kaput")

    caplog.set_level(logging.ERROR, logger="covet")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom/x%0d%0aINFO%20forged%1b[31m").status_code == 500
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert messages == ["unhandled RuntimeError in GET /boom/x\\x0d\\x0aINFO forged\\x1b[31m"]


def test_endpoint_for_finds_the_handler_dispatch_will_call_through_mounts():
    from covet.core.requests import Request

    inner, outer = Covet(), Covet()

    @inner.get("/items/{n:int}")
    async def item(n: int):
        return {"n": n}

    @outer.post("/form")
    async def form():
        return {}

    outer.mount("/api", inner)

    def req(method, path):
        return Request(method, path, "", [], app=outer)

    assert outer.endpoint_for(req("GET", "/api/items/3")) is item
    assert outer.endpoint_for(req("POST", "/form")) is form
    assert outer.endpoint_for(req("GET", "/form")) is None        # exists for POST only: a 405
    assert outer.endpoint_for(req("GET", "/api/items/x")) is None  # no route
    assert outer.endpoint_for(req("GET", "/nowhere")) is None


# -- debug ---------------------------------------------------------------------------------

def test_debug_enabled_is_true_while_some_live_app_has_debug_on():
    # In a fresh process: apps of other tests may still be alive in this one.
    code = "\n".join([
        "import gc",
        "from covet.core.app import Covet, debug_enabled",
        "assert not debug_enabled()",
        "a = Covet(debug=True)",
        "assert debug_enabled() and a.debug is True",
        "b = Covet()",
        "b.debug = True",
        "a.debug = False",
        "assert debug_enabled()",
        "b.debug = False",
        "assert not debug_enabled() and b.debug is False",
        "a.debug = 1",
        "assert a.debug is True and debug_enabled()",
        "del a",
        "gc.collect()",  # the app's router refers back to it: a cycle, freed by the collector
        "assert not debug_enabled(), 'a dropped app leaves the set by itself'",
    ])
    subprocess.run([sys.executable, "-c", code], check=True)


def test_debug_switched_on_after_creation_shows_the_traceback(client):
    app = Covet()

    @app.get("/boom")
    async def boom():
        raise RuntimeError("kaboom")

    c = client(app, raise_server_exceptions=False)
    assert "kaboom" not in c.get("/boom").json().get("detail", "")
    app.debug = True
    detail = c.get("/boom").json()["detail"]
    assert detail.startswith("Traceback (most recent call last):") and "RuntimeError: kaboom" in detail
