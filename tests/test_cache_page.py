"""covet.cache page cache (Cache.cache_page) through the app: keys, Vary, ETag and 304, what is never stored."""
import asyncio
from typing import List

import pytest

from cache_helpers import Clock
from covet.cache import Cache, MemoryBackend, RedisBackend
from covet.core.app import Covet
from covet.core.requests import Request
from covet.core.responses import JSONResponse, PlainTextResponse, StreamingResponse
from covet.redis import Redis
from covet.testing import TestClient
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)


def page_app(cache, calls):
    app = Covet()

    @app.route("/products", methods=["GET", "POST"])
    @cache.cache_page(60)
    async def products(q: str = "", req: Request = None):
        calls.append(("products", req.method, q))
        return {"n": len(calls), "q": q}

    @app.get("/sync/{name}")
    @cache.cache_page(60, vary=())
    def sync_page(name: str):
        calls.append(("sync", name))
        return PlainTextResponse("hello %s" % name, headers={"Cache-Control": "public, max-age=60"})

    @app.get("/cookie")
    @cache.cache_page(60)
    async def cookie():
        calls.append("cookie")
        r = JSONResponse({"n": len(calls)})
        r.set_cookie("sid", "abc")
        return r

    @app.get("/private")
    @cache.cache_page(60)
    async def private():
        calls.append("private")
        return JSONResponse({"n": len(calls)}, headers={"Cache-Control": "private, max-age=10"})

    @app.get("/nostore")
    @cache.cache_page(60)
    async def nostore():
        calls.append("nostore")
        return JSONResponse({"n": len(calls)}, headers={"Cache-Control": "no-store"})

    @app.get("/by-cookie")
    @cache.cache_page(60)
    async def by_cookie():
        calls.append("by-cookie")
        return JSONResponse({"n": len(calls)}, headers={"Vary": "Cookie"})

    @app.get("/missing")
    @cache.cache_page(60)
    async def missing():
        calls.append("missing")
        return JSONResponse({"n": len(calls)}, status_code=404)

    @app.get("/stream")
    @cache.cache_page(60)
    async def stream():
        calls.append("stream")
        return StreamingResponse(iter([b"a", b"b"]))

    @app.get("/tagged")
    @cache.cache_page(60)
    async def tagged():
        calls.append("tagged")
        return JSONResponse({"n": len(calls)}, headers={"ETag": 'W/"v7"'})

    @app.post("/made", status_code=201)
    @cache.cache_page(60)
    async def made():
        return {"made": True}

    return app


def test_cache_page_serves_get_and_head_from_the_cache_with_etag_and_304():
    cache, calls = Cache(), []
    with TestClient(page_app(cache, calls)) as client:
        first = client.get("/products", params={"q": "pens"})
        again = client.get("/products", params={"q": "pens"})
        assert first.json() == again.json() == {"n": 1, "q": "pens"}
        assert list(first.headers.raw) == list(again.headers.raw)
        etag = first.headers["etag"]
        assert etag.startswith('"') and len(etag) == 34
        assert first.headers["vary"] == "Accept, Accept-Encoding"
        head = client.head("/products", params={"q": "pens"})
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
        assert calls == [("products", "GET", "pens")]
        other = client.get("/products", params={"q": "ink"})  # the query string is part of the key
        assert other.json() == {"n": 2, "q": "ink"}
        not_modified = client.get("/products", params={"q": "pens"}, headers={"If-None-Match": 'W/"x", ' + etag})
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert list(not_modified.headers.raw) == [(b"etag", etag.encode()), (b"vary", b"Accept, Accept-Encoding")]
        assert client.get("/products", params={"q": "pens"}, headers={"If-None-Match": "*"}).status_code == 304
        assert client.get("/products", params={"q": "pens"}, headers={"If-None-Match": '"other"'}).status_code == 200
        assert len(calls) == 2


def test_cache_page_varies_by_the_named_headers_and_bypasses_credentials():
    cache, calls = Cache(), []
    with TestClient(page_app(cache, calls)) as client:
        a = client.get("/products", headers={"Accept": "application/json"})
        b = client.get("/products", headers={"Accept": "text/html"})
        assert (a.json()["n"], b.json()["n"]) == (1, 2)
        assert client.get("/products", headers={"Accept": "application/json"}).json()["n"] == 1
        assert client.get("/products", headers={"Authorization": "Bearer t"}).json()["n"] == 3
        assert client.get("/products", headers={"Authorization": "Bearer t"}).json()["n"] == 4
        assert client.post("/products").json()["n"] == 5  # other methods are not cached
        assert client.post("/products").json()["n"] == 6
        assert client.get("/sync/ann").text == client.get("/sync/ann").text == "hello ann"
        assert calls.count(("sync", "ann")) == 1
        assert client.get("/sync/ann").headers.get("vary") is None  # vary=() adds none


@pytest.mark.parametrize("path", ["/cookie", "/private", "/nostore", "/by-cookie", "/missing", "/stream"])
def test_cache_page_does_not_store_what_must_not_be_shared(path):
    cache, calls = Cache(), []
    with TestClient(page_app(cache, calls)) as client:
        first = client.get(path)
        second = client.get(path)
        assert first.status_code == second.status_code
        assert len(calls) == 2
        assert cache.stats()["size"] == 0
        assert first.headers.get("etag") is None


def test_cache_page_keeps_a_handler_etag_and_the_route_status():
    cache, calls = Cache(), []
    with TestClient(page_app(cache, calls)) as client:
        assert client.get("/tagged").headers["etag"] == 'W/"v7"'
        assert client.get("/tagged", headers={"If-None-Match": '"v7"'}).status_code == 304  # weak comparison
        assert calls == ["tagged"]
        made = client.post("/made")
        assert made.status_code == 201 and made.json() == {"made": True}


def test_cache_page_with_a_redis_backend_and_a_damaged_entry(redis_clean):
    cache = Cache(backend=RedisBackend(Redis(port=redis_clean.port)))
    calls = []
    app = page_app(cache, calls)

    @app.on_shutdown
    async def close():
        await cache.aclose()
        await cache.backend.redis.close()

    with TestClient(app) as client:
        first = client.get("/products")
        assert client.get("/products").json() == first.json() == {"n": 1, "q": ""}
        assert client.get("/products", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        (key,) = redis_clean.command("KEYS", "covet:cache:page:*").split(b"\r\n")[1:-1][1::2]
        redis_clean.command("SET", key, '[200, [["x-evil", "a\\r\\nb"]], ""]')
        assert client.get("/products").json() == {"n": 2, "q": ""}  # refused and rebuilt
    assert len(calls) == 2


def test_cache_page_and_limit_stack():
    from covet.security.rate_limiting import RateLimiter

    cache, limiter = Cache(), RateLimiter("2/minute")
    app = Covet()
    hits = []

    @app.get("/both/{n:int}")
    @limiter.limit("2/minute")
    @cache.cache_page(60)
    async def both(n: int):
        hits.append(n)
        return {"n": n}

    with TestClient(app) as client:
        r = client.get("/both/1")
        assert r.json() == {"n": 1} and r.headers["etag"] and r.headers["ratelimit-remaining"] == "1"
        assert client.get("/both/1").json() == {"n": 1}
        assert client.get("/both/1").status_code == 429
        assert hits == [1]


def test_cache_page_bad_arguments():
    cache = Cache()
    with pytest.raises(ValueError, match="^vary must list header names, got 'Accept Language'$"):
        cache.cache_page(60, vary=("Accept Language",))
    with pytest.raises(ValueError, match="^ttl must be > 0"):
        cache.cache_page(0)
    with pytest.raises(TypeError, match="^cache_page\\(\\) decorates route handlers"):
        cache.cache_page(60)("not a function")


# ---------------------------------------------------------------- covet.cache.decorators.cache_page

def test_cache_page_decorator_keeps_pages_per_app():
    from covet.cache.decorators import cache_page

    calls = []

    @cache_page(ttl=600)
    async def dashboard():
        calls.append(1)
        return {"n": len(calls)}

    first, second = Covet(), Covet()
    first.get("/d")(dashboard)
    second.get("/d")(dashboard)
    with TestClient(first) as a, TestClient(second) as b:
        assert a.get("/d").json() == a.get("/d").json() == {"n": 1}
        assert b.get("/d").json() == b.get("/d").json() == {"n": 2}  # its own cache: computed once more
        assert first.memory_cache.stats()["size"] == second.memory_cache.stats()["size"] == 1
        first.memory_cache.clear()
        assert a.get("/d").json() == {"n": 3} and b.get("/d").json() == {"n": 2}


def test_cache_page_decorator_honours_its_ttl_on_a_given_cache():
    from covet.cache.decorators import cache_page

    clock = Clock()
    cache = Cache(backend=MemoryBackend(clock=clock))
    app, calls = Covet(), []

    @app.get("/p")
    @cache_page(ttl=600, cache=cache, vary=())
    def page():
        calls.append(1)
        return PlainTextResponse("page %d" % len(calls))

    @app.get("/bare")
    @cache_page
    async def bare():
        calls.append(2)
        return {"bare": True}

    with TestClient(app) as client:
        assert client.get("/p").text == "page 1"
        clock.now += 599.9
        assert client.get("/p").text == "page 1"
        clock.now += 0.1
        assert client.get("/p").text == "page 2"
        assert client.get("/bare").json() == client.get("/bare").json() == {"bare": True}
    assert calls == [1, 1, 2]


# ---------------------------------------------------------------- keys built from client input

def flood(app, requests):
    """Dispatch each (query string, headers) GET to /p on ``app``; the status codes seen."""
    async def go():
        await app.startup()
        seen = set()
        for query, headers in requests:
            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            response = await app.dispatch(Request("GET", "/p", query, raw))
            seen.add(response.status_code)
        await app.shutdown()
        return seen

    return asyncio.run(go())


@pytest.mark.slow  # a soak test: run once, on the main interpreter
def test_100000_junk_query_strings_cannot_grow_the_page_cache():
    cache, calls = Cache(maxsize=1_000_000), []
    app = Covet()

    @app.get("/p")
    @cache.cache_page(60)
    async def p(q: str = ""):
        calls.append(q)
        return {"q": q, "padding": "x" * 1000}

    hostile = (("q=pens&junk%d=%s" % (i, "z" * 50), [("accept", "text/x-%d" % i)]) for i in range(100_000))
    assert flood(app, hostile) == {200}
    # The handler reads q only, and Accept only matters as "HTML preferred or not":
    # one page, computed once, however many distinct query strings and Accept values came.
    assert calls == ["pens"]
    assert cache.stats()["size"] == 1 and cache.stats()["hits"] == 99_999


@pytest.mark.slow  # a soak test: run once, on the main interpreter
def test_a_handler_that_takes_the_request_is_keyed_by_the_whole_query_and_stays_within_maxbytes():
    backend = MemoryBackend(maxsize=1_000_000, maxbytes=4_000_000)
    cache, calls = Cache(backend=backend), []
    app = Covet()

    @app.get("/p")
    @cache.cache_page(60)
    async def p(request: Request):
        calls.append(request.query_string)
        return {"echo": dict(request.query_params), "padding": "x" * 1000}

    hostile = (("junk%d=%s" % (i, "z" * 50), [("accept", "text/x-%d" % i)]) for i in range(100_000))
    assert flood(app, hostile) == {200}
    # It may read any parameter, so every query string is its own page (the safe choice) ...
    assert len(calls) == 100_000
    # ... and the byte bound holds them: about 1.5 KB each, never past 4 MB.
    assert backend.total_bytes <= 4_000_000
    assert 4_000_000 // 3000 <= cache.stats()["size"] <= 4_000_000 // 1000
    assert cache.stats()["evictions"] == 100_000 - cache.stats()["size"]


def test_cache_page_keys_only_the_query_parameters_the_handler_and_its_dependencies_read():
    from covet.core.dependencies import Depends, Header, Query

    cache, calls = Cache(), []
    app = Covet()

    def paging(page: int = 1, per_page: int = Query(10, alias="per-page")):
        return (page, per_page)

    @app.get("/items")
    @cache.cache_page(60)
    async def items(tags: List[str] = Query([]), paged=Depends(paging)):
        calls.append((tags, paged))
        return {"tags": tags, "paged": list(paged)}

    @app.get("/negotiated")
    @cache.cache_page(60)
    async def negotiated(accept: str = Header("")):
        calls.append(accept)
        return {"accept": accept}

    with TestClient(app) as client:
        base = client.get("/items?tags=a&tags=b&page=2&per-page=5").json()
        assert base == {"tags": ["a", "b"], "paged": [2, 5]}
        # Order between parameters and unread parameters change nothing: one entry.
        assert client.get("/items?per-page=5&utm_source=x&page=2&tags=a&tags=b&_=123").json() == base
        assert len(calls) == 1
        # Every parameter read changes the key; the order of a repeated one too.
        assert client.get("/items?tags=b&tags=a&page=2&per-page=5").json()["tags"] == ["b", "a"]
        assert client.get("/items?tags=a&tags=b&page=3&per-page=5").json()["paged"] == [3, 5]
        assert client.get("/items?tags=a&tags=b&page=2&per-page=6").json()["paged"] == [2, 6]
        assert client.get("/items?tags=a&tags=b&tags=&page=2&per-page=5").json()["tags"] == ["a", "b", ""]
        assert len(calls) == 5
        # Accept counts only as "HTML preferred or not" for a handler that cannot read it ...
        client.get("/items", headers={"Accept": "application/json"})
        client.get("/items", headers={"Accept": "application/json, text/plain;q=0.5"})
        client.get("/items", headers={"Accept": "*/*"})
        assert len(calls) == 6
        client.get("/items", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        client.get("/items", headers={"Accept": "text/html"})
        assert len(calls) == 7
        # ... and as it is for one that reads it.
        assert client.get("/negotiated", headers={"Accept": "application/json"}).json() == {
            "accept": "application/json"}
        assert client.get("/negotiated", headers={"Accept": "application/xml"}).json() == {"accept": "application/xml"}
        assert len(calls) == 9


def test_vary_query_names_what_a_request_reading_handler_reads_or_keeps_the_whole_query():
    from covet.cache.decorators import cache_page

    cache, calls = Cache(), []
    app = Covet()

    @app.get("/named")
    @cache.cache_page(60, vary_query=("page",))
    async def named(request: Request):
        calls.append("named")
        return {"page": request.query_params.get("page")}

    @app.get("/none")
    @cache_page(60, cache=cache, vary_query=())
    async def none(request: Request):
        calls.append("none")
        return {"path": request.url.path}

    @app.get("/all")
    @cache.cache_page(60, vary_query="*")
    async def all_(q: str = ""):
        calls.append("all")
        return {"q": q}

    with TestClient(app) as client:
        assert client.get("/named?page=2&junk=1").json() == client.get("/named?junk=2&page=2").json() == {"page": "2"}
        assert client.get("/named?page=3").json() == {"page": "3"}
        assert client.get("/none?a=1").json() == client.get("/none?b=2").json() == {"path": "/none"}
        client.get("/all?q=1&x=1")
        client.get("/all?q=1&x=2")
        assert calls == ["named", "named", "none", "all", "all"]

    with pytest.raises(ValueError, match="^vary_query must be None, '\\*' or query parameter names, got 5$"):
        cache.cache_page(60, vary_query=5)
    with pytest.raises(ValueError, match="^vary_query must be None, '\\*' or query parameter names, got ''$"):
        cache.cache_page(60, vary_query=("page", ""))


def test_encodings_of_one_path_are_one_page():
    from covet.cache.page import normal_path

    assert normal_path("/%70a/%7e%2f%2F%c3%A9") == "/pa/~%2F%2F%C3%A9"
    assert normal_path("/plain") == "/plain"
    cache, calls = Cache(), []
    app = Covet()

    @app.get("/pa/{name}")
    @cache.cache_page(60)
    async def pa(name: str):
        calls.append(name)
        return {"name": name}

    with TestClient(app) as client:
        for path in ("/pa/x", "/%70a/x", "/pa/%78", "/%70%61/%78"):
            assert client.get(path).json() == {"name": "x"}
        assert client.get("/%50a/x").status_code == 404  # "/Pa/x": hex case is not letter case
        assert calls == ["x"]
        assert cache.stats()["size"] == 1


def test_a_page_built_from_a_declared_cookie_or_header_is_never_served_to_another_client():
    # A handler's Cookie() and Header() parameters change its page as surely as its query
    # parameters: Alice's page must not be served to Bob, nor a French page to an English reader.
    from covet import Cookie, Header

    app = Covet()
    cache = Cache()
    calls: List[str] = []

    @app.get("/me")
    @cache.cache_page(ttl=60)
    async def me(user: str = Cookie("anonymous"), lang: str = Header("en", alias="X-Lang")):
        calls.append(user + "/" + lang)
        return PlainTextResponse("hello %s (%s)" % (user, lang))

    with TestClient(app) as client:
        assert client.get("/me", cookies={"user": "alice"}).text == "hello alice (en)"
        assert client.get("/me", cookies={"user": "bob"}).text == "hello bob (en)"
        assert client.get("/me", cookies={"user": "alice", "ads": "x"}).text == "hello alice (en)"  # a hit
        assert client.get("/me", cookies={"user": "alice"}, headers={"X-Lang": "fr"}).text == "hello alice (fr)"
    assert calls == ["alice/en", "bob/en", "alice/fr"]


def test_a_handler_that_takes_the_request_keys_its_pages_by_the_whole_cookie_header():
    # It may read the session or any cookie: pages are shared only between identical Cookie headers.
    app = Covet()
    cache = Cache()
    calls: List[str] = []

    @app.get("/session")
    @cache.cache_page(ttl=60)
    async def session(request: Request):
        who = request.cookies.get("sid", "-")
        calls.append(who)
        return PlainTextResponse("session " + who)

    with TestClient(app) as client:
        assert client.get("/session", cookies={"sid": "a1"}).text == "session a1"
        assert client.get("/session", cookies={"sid": "b2"}).text == "session b2"
        assert client.get("/session", cookies={"sid": "a1"}).text == "session a1"
    assert calls == ["a1", "b2"]


def test_a_cached_page_is_filtered_by_the_route_response_model_on_miss_and_hit():
    # The page cache answers by itself; it must still apply response_model, which is how a
    # route keeps fields (here a password) out of its answers.
    from covet.cache import cache_page
    from covet.validation import Model

    class Public(Model):
        name: str

    app = Covet()
    calls = []

    @app.get("/user", response_model=Public)
    @cache_page(ttl=60)
    async def user():
        calls.append(1)
        return {"name": "ada", "password": "hunter2"}

    client = TestClient(app)
    answers = [client.get("/user") for _ in range(3)]
    assert [(r.status_code, r.json()) for r in answers] == [(200, {"name": "ada"})] * 3
    assert b"hunter2" not in b"".join(r.content for r in answers)
    assert calls == [1]  # served from the cache after the first
