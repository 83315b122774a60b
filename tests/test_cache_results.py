"""What ``cached`` keeps for a result, through the memory and the Redis backend alike: no Response
object is ever shared between requests, ``(body, status)`` tuples and Responses answer the same on a
hit as on the miss, dates and other JSON-encodable values of a route survive Redis, and plain
functions keep their values as they are."""
import asyncio
import dataclasses
import datetime
import decimal
import inspect
import uuid
from typing import Optional

import pytest

from covet import Covet, Depends, JSONResponse, Request, Response, StreamingResponse
from cache_helpers import joined_by
from covet.cache import CacheManager, MemoryBackend
from covet.cache.results import TAG, freeze, thaw
from covet.core._wrap import REQUEST_PARAM
from covet.security.sessions import SessionMiddleware
from covet.testing import TestClient
from covet.validation import Model
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)


@pytest.fixture(params=["memory", "redis"])
def cache(request):
    """A CacheManager on each backend; the Redis one named by its URL alone, as the API reference writes it."""
    if request.param == "memory":
        manager = CacheManager(backend="memory")
    else:
        manager = CacheManager(request.getfixturevalue("redis_clean").url)
    yield manager
    manager.close()


def serve(app, cache):
    app.on_shutdown(cache.aclose)
    return TestClient(app, raise_server_exceptions=False)


# ---------------------------------------------------------------- no shared Response

def test_a_cached_route_never_gives_one_clients_session_cookie_to_another(cache):
    app = Covet()
    app.add_middleware(SessionMiddleware, secret_key="s" * 32)
    calls = []

    @app.middleware
    async def who(request, call_next):
        user = request.headers.get("x-user")
        if user:
            request.session["who"] = user
        return await call_next(request)

    @app.get("/page")
    @cache.cached(ttl=60)
    async def page():
        calls.append(1)
        return JSONResponse({"x": 1})

    @app.get("/whoami")
    async def whoami(request: Request):
        return {"who": request.session.get("who")}

    bob = TestClient(app)
    with serve(app, cache) as alice:
        answers = [alice.get("/page", headers={"x-user": "alice"}), bob.get("/page", headers={"x-user": "bob"}),
                   alice.get("/page", headers={"x-user": "alice"})]
        assert [r.json() for r in answers] == [{"x": 1}] * 3
        # One session cookie each, never the other client's on top (Alice's session is unchanged
        # the second time: no cookie then).
        assert [len(r.headers.getlist("set-cookie")) for r in answers] == [1, 1, 0]
        assert answers[0].cookies["session"] != answers[1].cookies["session"]
        assert alice.get("/whoami").json() == {"who": "alice"}
        assert bob.get("/whoami").json() == {"who": "bob"}
    assert calls == [1]


def test_every_hit_is_a_new_response_equal_to_the_first(cache):
    calls = []

    @cache.cached(ttl=60)
    def make():
        calls.append(1)
        return JSONResponse({"x": 1}, status_code=202, headers={"X-A": "1"})

    first, second, third = make(), make(), make()
    assert first is not second and second is not third and first is not third
    for r in (first, second, third):
        assert isinstance(r, Response)
        assert (r.status_code, r.body) == (202, b'{"x":1}')
        assert r.raw_headers == [(b"x-a", b"1"), (b"content-type", b"application/json"), (b"content-length", b"7")]
    second.set_cookie("session", "alice")
    assert make().raw_headers == first.raw_headers  # what one caller adds stays with its own object
    assert calls == [1]


def test_the_async_face_also_rebuilds_responses_for_every_caller(cache):
    calls = []
    everyone = joined_by(cache, 3)

    @cache.cached(ttl=60)
    async def make(n):
        calls.append(n)
        while not everyone.is_set():  # until the other two misses wait on this run
            await asyncio.sleep(0.001)
        return Response(b"n=%d" % n, 201, {"X-N": str(n)})

    async def main():
        # Concurrent misses share one run of the function, but never one Response object.
        try:
            return await asyncio.gather(*(make(7) for _ in range(3))), await make(7)
        finally:
            await cache.aclose()  # the connections this loop opened

    together, later = asyncio.run(main())
    responses = list(together) + [later]
    assert len({id(r) for r in responses}) == 4
    assert {(r.status_code, r.body, tuple(r.raw_headers)) for r in responses} == {
        (201, b"n=7", ((b"x-n", b"7"), (b"content-length", b"3")))}
    assert calls == [7]


# ---------------------------------------------------------------- what a route answers on a hit

@dataclasses.dataclass
class Item:
    id: int
    when: datetime.date


def test_status_tuples_responses_and_dates_answer_the_same_on_every_hit(cache):
    app = Covet()
    calls = {}

    def count(name):
        calls[name] = calls.get(name, 0) + 1

    @app.route("/users/{uid:int}")
    @cache.cached(ttl=60)
    async def user(uid: int):
        count("user")
        if uid == 0:
            return {"error": "User not found"}, 404
        return {"uid": uid}, 201, {"X-Kind": "user"}

    @app.get("/response")
    @cache.cached(ttl=60)
    async def response():
        count("response")
        return JSONResponse({"x": 1}, status_code=202, headers={"X-A": "1"})

    @app.get("/tuple-of-response")
    @cache.cached(ttl=60)
    async def tuple_of_response():
        count("tuple_of_response")
        return JSONResponse({"y": 2}), 203

    @app.get("/dates")
    @cache.cached(ttl=60)
    async def dates():
        count("dates")
        return {"day": datetime.date(2020, 1, 2), "at": datetime.datetime(2020, 1, 2, 3, 4, 5),
                "id": uuid.UUID(int=1), "price": decimal.Decimal("1.50"), "item": Item(3, datetime.date(2021, 5, 6)),
                "tags": ("a", "b")}

    @app.post("/created", status_code=201)
    @cache.cached(ttl=60)
    def created():  # a plain def runs in the thread pool: the plain face of the cache
        count("created")
        return {"made": True}

    @app.get("/html")
    @cache.cached(ttl=60)
    async def html():
        count("html")
        return "<p>hi</p>"

    @app.get("/bytes")
    @cache.cached(ttl=60)
    async def raw():
        count("raw")
        return b"\x00\xff"

    @app.delete("/nothing")
    @cache.cached(ttl=60)
    async def nothing():
        count("nothing")
        return None

    expected = [
        ("GET", "/users/0", 404, b'{"error":"User not found"}', {}),
        ("GET", "/users/5", 201, b'{"uid":5}', {"x-kind": "user"}),
        ("GET", "/response", 202, b'{"x":1}', {"x-a": "1", "content-type": "application/json"}),
        ("GET", "/tuple-of-response", 203, b'{"y":2}', {}),
        ("GET", "/dates", 200, b'{"day":"2020-01-02","at":"2020-01-02T03:04:05",'
                               b'"id":"00000000-0000-0000-0000-000000000001","price":"1.50",'
                               b'"item":{"id":3,"when":"2021-05-06"},"tags":["a","b"]}', {}),
        ("POST", "/created", 201, b'{"made":true}', {}),
        ("GET", "/html", 200, b"<p>hi</p>", {"content-type": "text/html; charset=utf-8"}),
        ("GET", "/bytes", 200, b"\x00\xff", {"content-type": "application/octet-stream"}),
        ("DELETE", "/nothing", 204, b"", {}),
    ]
    with serve(app, cache) as client:
        for method, path, status, body, headers in expected:
            for _ in range(3):
                r = client.request(method, path)
                assert (r.status_code, r.content) == (status, body), (path, r.status_code, r.content)
                assert {k: r.headers.get(k) for k in headers} == headers, path
                assert r.headers.get("content-length") == (None if status == 204 else str(len(body)))
    assert calls == {"user": 2, "response": 1, "tuple_of_response": 1, "dates": 1, "created": 1, "html": 1,
                     "raw": 1, "nothing": 1}


class Public(Model):
    id: int
    day: datetime.date


def test_a_response_model_filters_every_hit_as_it_filters_an_uncached_route(cache):
    app = Covet()
    calls = []

    async def public(item_id: int):
        calls.append(item_id)
        if item_id == 1:
            return Public(id=1, day=datetime.date(2020, 1, 2))
        return {"id": item_id, "day": "2020-01-03", "password": "hunter2"}, 201

    app.get("/plain/{item_id:int}", response_model=Public)(public)
    app.get("/cached/{item_id:int}", response_model=Public)(cache.cached(ttl=60)(public))
    with serve(app, cache) as client:
        expected = [(1, 200, {"id": 1, "day": "2020-01-02"}), (2, 201, {"id": 2, "day": "2020-01-03"})]
        for item_id, status, body in expected:
            answers = [client.get("/plain/%d" % item_id)] + [client.get("/cached/%d" % item_id) for _ in range(3)]
            assert {(r.status_code, r.content) for r in answers} == {(status, answers[0].content)}
            assert answers[0].json() == body
    assert calls == [1, 1, 2, 2]


def test_a_cached_dependency_keeps_its_objects():
    # A dependency is not the route's handler: its results are stored as they are.
    app = Covet()
    cache = CacheManager(backend="memory")
    calls = []

    @cache.cached(ttl=60)
    def settings():
        calls.append(1)
        return Item(1, datetime.date(2020, 1, 2))

    @app.get("/settings")
    async def show(s: Item = Depends(settings)):
        return {"cls": type(s).__name__, "same": s is settings()}

    with TestClient(app) as client:
        assert client.get("/settings").json() == {"cls": "Item", "same": True}
        assert client.get("/settings").json() == {"cls": "Item", "same": True}
    assert calls == [1]


@pytest.mark.parametrize("order", ["cached above cache_page", "cache_page above cached"])
def test_cached_stacks_with_cache_page(cache, order):
    app = Covet()
    pages = CacheManager(backend="memory")
    calls = []

    async def body(item_id: int):
        calls.append(item_id)
        return {"id": item_id}, 200, {"X-Id": str(item_id)}

    if order == "cached above cache_page":
        handler = cache.cached(ttl=60)(pages.cache_page(60)(body))
    else:
        handler = pages.cache_page(60)(cache.cached(ttl=60)(body))
    app.get("/items/{item_id:int}")(handler)
    with serve(app, cache) as client:
        for _ in range(3):
            r = client.get("/items/4")
            assert (r.status_code, r.json(), r.headers.get("x-id")) == (200, {"id": 4}, "4")
    assert calls == [4]


# ---------------------------------------------------------------- what cannot be cached

def test_a_streaming_response_or_background_tasks_cannot_be_cached(cache, caplog):
    app = Covet()
    calls = []

    async def chunks():
        yield b"a"

    async def later():
        calls.append("background")

    @app.get("/stream")
    @cache.cached(ttl=60)
    async def stream():
        calls.append("stream")
        return StreamingResponse(chunks())

    @app.get("/background")
    @cache.cached(ttl=60)
    async def background():
        calls.append("background-handler")
        return JSONResponse({}, background=later)

    with serve(app, cache) as client:
        assert [client.get("/stream").status_code for _ in range(2)] == [500, 500]
        assert [client.get("/background").status_code for _ in range(2)] == [500, 500]
    assert calls == ["stream", "stream", "background-handler", "background-handler"]
    messages = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert any(m.startswith("test_cache_results.test_a_streaming_response_or_background_tasks_cannot_be_cached"
                            ".<locals>.stream returned a StreamingResponse: a streaming body is produced while it "
                            "is sent, so cached() cannot keep it. Cache the data the stream is made from, or use "
                            "cache_page()") for m in messages), messages
    assert any(m.endswith("background returned a response with background tasks: on a hit the handler does not "
                          "run, so cached() cannot keep them. Take a BackgroundTasks parameter instead (its tasks "
                          "run whenever the handler runs)") for m in messages), messages

    @cache.cached(ttl=60)
    def plain_stream():
        return StreamingResponse(chunks())

    with pytest.raises(TypeError, match="plain_stream returned a StreamingResponse"):
        plain_stream()


# ---------------------------------------------------------------- plain functions

def test_plain_functions_keep_their_values_and_tuples_stay_tuples(cache):
    calls = []

    @cache.cached(ttl=60)
    def pair(n):
        calls.append(n)
        return {"n": n}, [n, n]

    @cache.cached(ttl=60)
    def listed(n):
        calls.append(-n)
        return [n, (n, n)]

    assert pair(1) == pair(1) == ({"n": 1}, [1, 1])
    assert type(pair(1)) is tuple
    # Inside a list, a tuple is an ordinary value: the miss returns it, a hit what the backend
    # kept (JSON has no tuples).
    assert listed(2) == [2, (2, 2)]
    assert listed(2) == ([2, (2, 2)] if isinstance(cache.backend, MemoryBackend) else [2, [2, 2]])
    assert calls == [1, -2]


def test_plain_values_are_stored_as_they_are_in_memory():
    cache = CacheManager(backend="memory")

    @cache.cached(ttl=60)
    def config():
        return {"debug": False}

    assert config() is config()  # the memory backend hands back the object it holds, as before
    assert cache.get(config.cache_key()) == {"debug": False}


def test_a_plain_function_returning_what_redis_cannot_hold_still_raises(redis_clean):
    cache = CacheManager(redis_clean.url)

    @cache.cached(ttl=60)
    def today():
        return datetime.date(2020, 1, 2)  # not a route: no JSON rendering, the value is refused as it is

    with pytest.raises(TypeError, match="^cannot store the value of '.*today\\(\\)' in Redis: Object of type date"):
        today()
    assert redis_clean.command("DBSIZE") == b":0\r\n"
    cache.close()


def test_the_wrapper_takes_the_request_only_as_an_optional_keyword():
    cache = CacheManager(backend="memory")

    @cache.cached(ttl=60, key=lambda item_id, **kw: "item:%d" % item_id)
    async def item(item_id: int, *, verbose: bool = False):
        return {"id": item_id, "verbose": verbose}

    params = inspect.signature(item).parameters
    assert list(params) == ["item_id", "verbose", REQUEST_PARAM]
    assert params[REQUEST_PARAM].default is None and params[REQUEST_PARAM].annotation == Optional[Request]
    assert item.cache_key(3) == "item:3"
    assert asyncio.run(item(3)) == {"id": 3, "verbose": False}

    app = Covet()
    app.get("/items/{item_id:int}")(item)
    with TestClient(app) as client:
        assert client.get("/items/3", params={"verbose": "true"}).json() == {"id": 3, "verbose": False}
    assert cache.get("item:3") is not None


def test_freeze_and_thaw():
    assert freeze({"a": 1}, "f") == {"a": 1}
    frozen = freeze((1, (2, "x"), Response(b"ok", 201)), "f")
    assert frozen[TAG][0] == "tuple"
    one, two = thaw(frozen), thaw(frozen)
    assert one[:2] == two[:2] == (1, (2, "x"))
    assert one[2] is not two[2] and (one[2].status_code, one[2].body) == (201, b"ok")
    with pytest.raises(ValueError, match="not a result cached by covet"):
        thaw({TAG: ["mystery", []]})
