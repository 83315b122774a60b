"""covet.core._wrap: the mark the router sets on the handlers it registers, the TypeError of a
decorator written above the route decorator, and the order of route middleware."""
import inspect

import pytest

from covet import Covet, Request, Router
from covet.cache import Cache
from covet.cache.decorators import cache_page
from covet.core._chain import is_async_callable
from covet.core._wrap import (
    AUTHENTICATION,
    AUTHORIZATION,
    DEFAULT_ORDER,
    ROUTED_ATTR,
    add_route_middleware,
    mark_routed,
    route_middleware,
    wrap_handler,
)
from covet.testing import TestClient


def tracer(events, tag):
    async def mw(request, call_next):
        events.append(tag)
        return await call_next(request)
    mw.__qualname__ = tag
    return mw


def above(name):
    return ("@%s must be written below @app.get(...)/@app.route(...): the route '/x' has already been "
            "registered with the undecorated handler " % name)


# ---------------------------------------------------------------- the router's mark

def test_the_router_marks_each_handler_it_registers_with_the_route_path():
    app = Covet()
    router = Router(prefix="/r")
    group = app.group("/g")

    async def a():
        return {}

    def b():
        return {}

    async def c():
        return {}

    assert not hasattr(a, ROUTED_ATTR)
    app.add_route("/a", a)
    router.get("/b")(b)
    group.post("/c")(c)
    assert (getattr(a, ROUTED_ATTR), getattr(b, ROUTED_ATTR), getattr(c, ROUTED_ATTR)) == ("/a", "/r/b", "/g/c")


def test_a_handler_that_refuses_attributes_is_still_registered():
    class Handlers:
        __slots__ = ()

        async def __call__(self):
            return {"slots": True}

        async def method(self):
            return {"method": True}

    app = Covet()
    app.add_route("/slots", Handlers())
    app.add_route("/method", Handlers().method)
    mark_routed(len, "/builtin")  # a builtin takes no attribute either: nothing happens
    with TestClient(app) as client:
        assert client.get("/slots").json() == {"slots": True}
        assert client.get("/method").json() == {"method": True}


def test_a_registered_class_does_not_mark_its_subclasses():
    class Endpoint:
        async def __call__(self):
            return {}

    class Sub(Endpoint):
        pass

    Covet().add_route("/x", Endpoint)
    add_route_middleware(Sub, tracer([], "mw"))  # no TypeError: Sub serves no route
    with pytest.raises(TypeError):
        add_route_middleware(Endpoint, tracer([], "mw"))


# ---------------------------------------------------------------- above the route decorator

def test_wrap_handler_refuses_a_handler_that_already_serves_a_route():
    app = Covet()

    @app.get("/x")
    async def x():
        return {}

    async def body(request, call):
        return await call()

    with pytest.raises(TypeError) as info:
        wrap_handler(x, body, body, "my_decorator")
    assert str(info.value) == above("my_decorator") + x.__qualname__
    with pytest.raises(TypeError) as info:
        wrap_handler(x, body, body)  # unnamed: the message names the module of the decorator
    assert str(info.value) == above("the decorator from %s" % body.__module__) + x.__qualname__


@pytest.mark.parametrize("make", [lambda: Cache().cache_page(60), lambda: cache_page(60)],
                         ids=["Cache.cache_page", "decorators.cache_page"])
def test_cache_page_above_the_route_decorator_raises_at_import(make):
    app = Covet()
    calls = []

    with pytest.raises(TypeError) as info:
        @make()
        @app.get("/x")
        async def page():
            calls.append(1)
            return {"n": len(calls)}
    message = str(info.value)
    assert message.startswith("@the decorator from covet.cache.page must be written below @app.get(...)/@app.route(...)")
    assert message.endswith("the route '/x' has already been registered with the undecorated handler "
                            + "test_cache_page_above_the_route_decorator_raises_at_import.<locals>.page")


def test_cache_page_below_the_route_decorator_still_caches():
    app = Covet()
    calls = []

    @app.get("/x")
    @cache_page(60)
    async def page():
        calls.append(1)
        return {"n": len(calls)}

    with TestClient(app) as client:
        assert [client.get("/x").json() for _ in range(3)] == [{"n": 1}] * 3
    assert calls == [1]


def test_add_route_middleware_refuses_a_registered_handler_and_attaches_nothing():
    app = Covet()
    events = []

    @app.get("/x")
    async def x():
        return {}

    with pytest.raises(TypeError) as info:
        add_route_middleware(x, tracer(events, "late"), decorator="late_guard")
    assert str(info.value) == above("late_guard") + x.__qualname__
    assert route_middleware(x) == ()
    with TestClient(app) as client:
        assert client.get("/x").status_code == 200
    assert events == []


def test_a_handler_registered_twice_below_its_decorator_runs_it_on_both_routes():
    app = Covet()
    events = []

    @app.get("/a")
    @app.get("/b")
    def both():
        return {}

    async def handler():
        return {}

    app.add_route("/c", add_route_middleware(handler, tracer(events, "mw")))
    app.add_route("/d", handler)  # the same (marked) function: the same middleware
    with TestClient(app) as client:
        assert [client.get(p).status_code for p in ("/a", "/b", "/c", "/d")] == [200] * 4
    assert events == ["mw", "mw"]


# ---------------------------------------------------------------- order

def test_route_middleware_runs_by_order_then_last_attached_first():
    events = []

    async def handler():
        events.append("handler")
        return {}

    mws = {name: tracer(events, name) for name in ("limit", "cache", "authz1", "authz2", "authn")}
    add_route_middleware(handler, mws["limit"])                          # written lowest
    add_route_middleware(handler, mws["authn"], AUTHENTICATION)
    add_route_middleware(handler, mws["authz1"], AUTHORIZATION)
    add_route_middleware(handler, mws["cache"], DEFAULT_ORDER)
    add_route_middleware(handler, mws["authz2"], AUTHORIZATION)          # written highest
    assert [mw.__qualname__ for mw in route_middleware(handler)] == ["authn", "authz2", "authz1", "cache", "limit"]
    app = Covet()
    app.add_route("/", handler)
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    assert events == ["authn", "authz2", "authz1", "cache", "limit", "handler"]


def test_the_order_must_be_an_int():
    async def handler():
        return {}

    for bad in ("first", 1.5, True, None):
        with pytest.raises(TypeError, match=r"^order must be an int, got "):
            add_route_middleware(handler, tracer([], "mw"), bad)
    assert route_middleware(handler) == ()


def test_a_bound_method_gets_a_plain_function_that_carries_the_middleware():
    events = []

    class Items:
        async def read(self, item_id: int, request: Request):
            events.append(("read", item_id))
            return {"id": item_id}

        def write(self, item_id: int):
            return {"wrote": item_id}

    items = Items()
    read = add_route_middleware(items.read, tracer(events, "mw"))
    write = add_route_middleware(items.write, tracer(events, "mw2"))
    assert is_async_callable(read) and not is_async_callable(write)
    assert list(inspect.signature(read).parameters) == ["item_id", "request"]
    assert read.__name__ == "read" and read.__wrapped__ == items.read
    app = Covet()
    app.add_route("/items/{item_id:int}", read)
    app.add_route("/w/{item_id:int}", write, methods=["POST"])
    with TestClient(app) as client:
        assert client.get("/items/7").json() == {"id": 7}
        assert client.post("/w/3").json() == {"wrote": 3}
    assert events == ["mw", ("read", 7), "mw2"]
