"""covet.security.rate_limiting in an app: RateLimitMiddleware (app, group, route), @limiter.limit with
and without it, the decision before the handler (call counts), the 429 problem+json and the headers."""
import logging

import pytest

from covet.core.app import Covet
from covet.core.errors import HTTPException
from covet.core.requests import Request
from covet.core.responses import JSONResponse
from covet.redis import Redis
from covet.security.rate_limiting import (
    MemoryLimiterBackend,
    RateLimiter,
    RateLimitMiddleware,
    RedisLimiterBackend,
    header_key,
    user_key,
)
from covet.testing import TestClient
from covet.core._wrap import route_middleware
from covet.security.rate_limiting.middleware import route_limit_of
from redis_fixture import free_port, redis_clean, redis_server, start_redis  # noqa: F401  (fixtures)

SECOND = 1_000_000_000


class Clock:
    def __init__(self):
        self.now = 10_000 * SECOND

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += int(round(seconds * SECOND))




def rl_headers(response):
    names = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy",
             "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after")
    return {n: response.headers.get(n) for n in names if response.headers.get(n) is not None}


def limited_app(limiter):
    app = Covet()
    app.add_middleware(RateLimitMiddleware(limiter))

    @app.get("/items/{item_id:int}")
    async def item(item_id: int, q: str = "none"):
        return {"id": item_id, "q": q}

    @app.post("/login")
    @limiter.limit("2/minute")
    def login(req: Request):  # not "request": core bug, run_sync(request, fn, **kwargs) collides
        return {"seen": req.state.rate_limit.remaining}

    @app.get("/health")
    @limiter.exempt
    async def health():
        return {"ok": True}

    return app


def test_middleware_limits_every_route_by_default_with_headers_and_429():
    clock = Clock()
    limiter = RateLimiter("3/minute", backend=MemoryLimiterBackend(clock=clock))
    with TestClient(limited_app(limiter)) as client:
        first = client.get("/items/1", params={"q": "a"})
        assert first.status_code == 200 and first.json() == {"id": 1, "q": "a"}
        assert rl_headers(first) == {
            "ratelimit-limit": "3", "ratelimit-remaining": "2", "ratelimit-reset": "20",
            "ratelimit-policy": "3;w=60", "x-ratelimit-limit": "3", "x-ratelimit-remaining": "2",
            "x-ratelimit-reset": "20"}
        assert client.get("/items/2").status_code == 200
        assert client.get("/nowhere").status_code == 404  # unknown paths count too
        refused = client.get("/items/3")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json() == {"type": "about:blank", "title": "Too Many Requests", "status": 429,
                                  "detail": "rate limit of 3/minute exceeded; retry in 20 s",
                                  "instance": "/items/3"}
        assert rl_headers(refused) == {
            "ratelimit-limit": "3", "ratelimit-remaining": "0", "ratelimit-reset": "60",
            "ratelimit-policy": "3;w=60", "x-ratelimit-limit": "3", "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "60", "retry-after": "20"}
        clock.advance(20)
        assert client.get("/items/4").status_code == 200


def test_route_limit_replaces_the_default_with_its_own_counters_and_exempt_routes_are_untouched():
    limiter = RateLimiter("3/minute", backend=MemoryLimiterBackend(clock=Clock()))
    with TestClient(limited_app(limiter)) as client:
        assert [client.post("/login").status_code for _ in range(3)] == [200, 200, 429]
        r = client.post("/login")
        assert r.json()["detail"] == "rate limit of 2/minute exceeded; retry in 30 s"
        assert r.headers["retry-after"] == "30"
        ok = client.get("/items/1")  # the default allowance was not used by /login
        assert ok.status_code == 200 and ok.headers["ratelimit-remaining"] == "2"
        for _ in range(10):
            health = client.get("/health")
            assert health.status_code == 200 and rl_headers(health) == {}
        assert client.get("/items/1").headers["ratelimit-remaining"] == "1"


def test_state_carries_the_result_to_the_handler():
    limiter = RateLimiter("3/minute", backend=MemoryLimiterBackend(clock=Clock()))
    with TestClient(limited_app(limiter)) as client:
        assert client.post("/login").json() == {"seen": 1}
        assert client.post("/login").json() == {"seen": 0}


def test_decorator_works_without_the_middleware_for_sync_and_async_handlers():
    limiter = RateLimiter("100/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()

    @app.post("/items", status_code=201)
    @limiter.limit("1/minute")
    async def create(name: str):
        return {"name": name}

    @app.get("/users/{user_id:int}")
    @limiter.limit("1/minute", key=lambda request: request.path_params["user_id"])
    def user(user_id: int, req: Request):
        return JSONResponse({"id": user_id, "path": req.path}, headers={"X-Own": "1"})

    with TestClient(app) as client:
        created = client.post("/items", params={"name": "pen"})
        assert created.status_code == 201 and created.json() == {"name": "pen"}
        assert created.headers["ratelimit-limit"] == "1" and created.headers["ratelimit-remaining"] == "0"
        refused = client.post("/items", params={"name": "pen"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        assert refused.json()["detail"] == "rate limit of 1/minute exceeded; retry in 60 s"
        got = client.get("/users/7")
        assert got.json() == {"id": 7, "path": "/users/7"}
        assert got.headers["x-own"] == "1" and got.headers["ratelimit-remaining"] == "0"
        assert client.get("/users/7").status_code == 429
        assert client.get("/users/8").status_code == 200  # keyed by the path parameter


def test_app_exception_handler_can_shape_decorator_refusals():
    limiter = RateLimiter("1/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()

    @app.exception_handler(429)
    async def too_many(request, exc):
        return JSONResponse({"slow": "down"}, 429, headers=exc.headers)

    @app.get("/x")
    @limiter.limit("1/minute")
    async def x():
        return {"ok": 1}

    with TestClient(app) as client:
        client.get("/x")
        r = client.get("/x")
        assert (r.status_code, r.json(), r.headers["retry-after"]) == (429, {"slow": "down"}, "60")


def test_key_functions_header_user_and_none():
    limiter = RateLimiter("1/minute", key=header_key("X-API-Key"), backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    app.add_middleware(RateLimitMiddleware(limiter))

    @app.get("/")
    async def index():
        return {}

    with TestClient(app) as client:
        assert client.get("/", headers={"X-API-Key": "a"}).status_code == 200
        assert client.get("/", headers={"X-API-Key": "a"}).status_code == 429
        assert client.get("/", headers={"X-API-Key": "b"}).status_code == 200
        assert client.get("/").status_code == 200  # no key: by client address
        assert client.get("/").status_code == 429

    class Req:
        def __init__(self, user):
            self.state = type("S", (), {})()
            if user is not None:
                self.state.user = user
            self.client = ("192.0.2.1", 1)

    class User:
        id = 42

    assert user_key(Req(User())) == "user:42"
    assert user_key(Req({"sub": "alice"})) == "user:alice"
    assert user_key(Req("bob")) == "user:bob"
    assert user_key(Req(None)) == "192.0.2.1"
    assert header_key("X-Key", fallback=None)(type("R", (), {"headers": {}})()) is None

    unlimited = RateLimiter("1/minute", key=lambda request: None)
    app2 = Covet()
    app2.add_middleware(RateLimitMiddleware(unlimited))

    @app2.get("/")
    async def index2():
        return {}

    with TestClient(app2) as client:
        assert [client.get("/").status_code for _ in range(3)] == [200, 200, 200]


def test_headers_false_sends_only_retry_after():
    limiter = RateLimiter("1/minute", headers=False, backend=MemoryLimiterBackend(clock=Clock()))
    with TestClient(limited_app(limiter)) as client:
        ok = client.get("/items/1")
        assert ok.status_code == 200 and rl_headers(ok) == {}
        refused = client.get("/items/1")
        assert refused.status_code == 429 and rl_headers(refused) == {"retry-after": "60"}


def test_bad_decorator_and_middleware_arguments():
    limiter = RateLimiter()
    with pytest.raises(ValueError, match="^invalid rate limit '10/parsec'"):
        limiter.limit("10/parsec")

    async def akey(request):
        return "k"

    with pytest.raises(TypeError, match="^key functions must be plain functions"):
        limiter.limit("1/second", key=akey)
    with pytest.raises(TypeError, match="^key functions must be plain functions"):
        RateLimiter(key=akey)
    with pytest.raises(TypeError, match="^RateLimitMiddleware needs a RateLimiter"):
        RateLimitMiddleware("100/minute")
    with pytest.raises(TypeError, match="^header_key\\(\\) needs a header name$"):
        header_key("")


def test_mounted_app_routes_are_found_by_the_outer_middleware():
    limiter = RateLimiter("1/minute", backend=MemoryLimiterBackend(clock=Clock()))
    inner = Covet()

    @inner.get("/ping")
    @limiter.exempt
    async def ping():
        return "pong"

    @inner.get("/work")
    async def work():
        return "done"

    outer = Covet()
    outer.add_middleware(RateLimitMiddleware(limiter))
    outer.mount("/sub", inner)
    with TestClient(outer) as client:
        assert [client.get("/sub/ping").status_code for _ in range(3)] == [200, 200, 200]
        assert [client.get("/sub/work").status_code for _ in range(2)] == [200, 429]


def test_group_middleware_sees_the_matched_route():
    limiter = RateLimiter("5/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    api = app.group("/api", middleware=[RateLimitMiddleware(limiter)])

    @api.get("/strict")
    @limiter.limit("1/minute")
    async def strict():
        return {}

    with TestClient(app) as client:
        assert [client.get("/api/strict").status_code for _ in range(2)] == [200, 429]


def test_redis_limiter_through_the_app_and_fail_closed(redis_clean, caplog):
    limiter = RateLimiter("2/minute", backend=RedisLimiterBackend(Redis(port=redis_clean.port, pool_timeout=None)))
    app = limited_app(limiter)

    @app.on_shutdown
    async def close_redis():
        await limiter.backend.redis.close()

    with TestClient(app) as client:
        assert [client.get("/items/1").status_code for _ in range(3)] == [200, 200, 429]
        assert [client.post("/login").status_code for _ in range(3)] == [200, 200, 429]

    closed = RateLimiter("2/minute", fail_open=False, backend=RedisLimiterBackend(Redis(port=free_port())))
    with caplog.at_level(logging.ERROR, logger="covet.security.rate_limiting"), TestClient(limited_app(closed)) as client:
        r = client.get("/items/1")
        # An outage is no limit: 503 (RFC 9110 §15.6.4), not 429, and no RateLimit-* counts.
        assert r.status_code == 503 and rl_headers(r) == {"retry-after": "10"}
        assert r.json()["detail"] == "rate limit store unavailable"
    assert len(caplog.records) == 1


def test_a_router_error_in_the_middleware_lookup_falls_back_to_the_default_limit(monkeypatch):
    limiter = RateLimiter("1/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = limited_app(limiter)
    real_match = app.router.match
    seen = []

    def match_failing_once(method, raw_path):
        seen.append(raw_path)
        if len(seen) == 1:  # the middleware's lookup
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return real_match(method, raw_path)

    monkeypatch.setattr(app.router, "match", match_failing_once)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200  # exempt, but unknown to the middleware: counted
        assert client.get("/items/1").status_code == 429


# ---------------------------------------------------------------- the decision comes before the handler

def test_decorator_alone_refuses_the_sixth_call_without_running_the_handler():
    # The bug: the handler ran first and the limit was checked afterwards, so a refused
    # request still did its side effects.
    limiter = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    sent = []

    @app.post("/mail")
    @limiter.limit("5/minute")
    async def mail():
        sent.append(1)
        return {"sent": len(sent)}

    synced = []

    @app.post("/sync")
    @limiter.limit("5/minute")
    def sync_mail():
        synced.append(1)
        return {"sent": len(synced)}

    with TestClient(app) as client:
        statuses = [client.post("/mail").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        assert len(sent) == 5
        assert [client.post("/sync").status_code for _ in range(6)] == [200] * 5 + [429]
        assert len(synced) == 5


def test_a_login_that_always_raises_401_is_refused_on_the_sixth_attempt():
    limiter = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    attempts = []

    @app.post("/login")
    @limiter.limit("5/minute")
    async def login(password: str = ""):
        attempts.append(password)
        raise HTTPException(401, "wrong password")

    with TestClient(app) as client:
        responses = [client.post("/login", params={"password": "guess%d" % i}) for i in range(7)]
    assert [r.status_code for r in responses] == [401] * 5 + [429, 429]
    assert attempts == ["guess0", "guess1", "guess2", "guess3", "guess4"]
    assert responses[5].json()["detail"] == "rate limit of 5/minute exceeded; retry in 12 s"
    assert responses[5].headers["retry-after"] == "12"


def test_the_decision_comes_before_dependencies_and_the_body():
    from covet.core.dependencies import Depends

    limiter = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    checked, handled = [], []

    def authenticate(request: Request):
        checked.append(request.headers.get("x-password"))
        raise HTTPException(401, "wrong password")

    @app.post("/login")
    @limiter.limit("3/minute")
    async def login(user=Depends(authenticate)):
        handled.append(user)

    @app.post("/items")
    @limiter.limit("2/minute")
    async def create(item: dict):
        handled.append(item)

    with TestClient(app) as client:
        got = [client.post("/login", headers={"X-Password": str(i)}).status_code for i in range(5)]
        assert got == [401, 401, 401, 429, 429]
        assert checked == ["0", "1", "2"]
        # An invalid body is the client's error, after the limit: it counts too.
        got = [client.post("/items", content=b"[1]", headers={"Content-Type": "application/json"}).status_code
               for _ in range(3)]
        assert got == [422, 422, 429]
    assert handled == []


def test_every_layer_decides_before_the_handler_and_counts_raising_handlers():
    def build(where):
        limiter = RateLimiter("3/minute", backend=MemoryLimiterBackend(clock=Clock()))
        app = Covet()
        calls = []
        if where == "app":
            app.add_middleware(RateLimitMiddleware(limiter))
            router = app
        elif where == "group":
            router = app.group("/g", middleware=[RateLimitMiddleware(limiter)])
        else:
            router = app
        options = {"middleware": [RateLimitMiddleware(limiter)]} if where == "route" else {}

        @router.post("/deny", **options)
        async def deny():
            calls.append("deny")
            raise HTTPException(403, "no")

        @router.post("/ok", **options)
        def ok():
            calls.append("ok")
            return {"ok": True}

        return app, calls, ("/g" if where == "group" else "")

    for where in ("app", "group", "route"):
        app, calls, prefix = build(where)
        with TestClient(app) as client:
            assert [client.post(prefix + "/deny").status_code for _ in range(4)] == [403, 403, 403, 429], where
            assert calls == ["deny"] * 3, where
            # The default limit is one allowance per client, whichever route spends it.
            assert client.post(prefix + "/ok").status_code == 429, where
            assert calls == ["deny"] * 3, where


def test_decorator_and_middleware_count_a_request_once():
    limiter = RateLimiter("10/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    app.add_middleware(RateLimitMiddleware(limiter))
    api = app.group("/api", middleware=[RateLimitMiddleware(limiter)])

    @api.get("/x")
    @limiter.limit("3/minute")
    async def x():
        return {}

    with TestClient(app) as client:
        responses = [client.get("/api/x") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["2", "1", "0", "0"]


def test_two_limiters_on_one_route_both_decide():
    per_ip = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    per_user = RateLimiter(key=header_key("X-User"), backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    calls = []

    @app.get("/x")
    @per_ip.limit("4/minute")
    @per_user.limit("2/minute")
    async def x():
        calls.append(1)
        return {}

    with TestClient(app) as client:
        # The outer decorator decides first: a request per_user refuses has used per_ip's allowance.
        assert [client.get("/x", headers={"X-User": "a"}).status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/x", headers={"X-User": "b"}).status_code == 200
        refused = client.get("/x", headers={"X-User": "c"})  # the address's 4/minute is spent
        assert refused.status_code == 429 and refused.json()["detail"].startswith("rate limit of 4/minute exceeded")
    assert len(calls) == 3


def test_the_decorator_returns_the_handler_itself_and_stacks_with_cache_page_both_ways():
    from covet.cache import Cache

    limiter = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    cache = Cache()
    app = Covet()
    hits = []

    async def plain():
        return {}

    assert limiter.limit("1/minute")(plain) is plain

    @app.get("/under/{n:int}")
    @cache.cache_page(60)
    @limiter.limit("2/minute")
    async def under(n: int):
        hits.append(n)
        return {"n": n}

    with TestClient(app) as client:
        # The limit runs first even under the cache: a cached answer is counted too.
        assert [client.get("/under/1").status_code for _ in range(3)] == [200, 200, 429]
    assert hits == [1]


def test_included_routers_count_once():
    from covet.core.routing import Router

    limiter = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    router = Router()

    @router.get("/x")
    @limiter.limit("3/minute")
    async def x():
        return {}

    app = Covet()
    app.include_router(router, prefix="/v1")
    with TestClient(app) as client:
        assert [client.get("/v1/x").headers.get("ratelimit-remaining") for _ in range(3)] == ["2", "1", "0"]
        assert client.get("/v1/x").status_code == 429


# ---------------------------------------------------------------- the seed's forms

def test_seed_decorator_form_on_a_route_taking_the_request():
    rate_limiter = RateLimiter(default_limits="100/hour", storage="memory://")
    app = Covet()
    calls = []

    @app.route("/api/data")
    @rate_limiter.limit("10/minute")
    async def limited_endpoint(request):
        calls.append(request.path)
        return {"data": "response"}

    with TestClient(app) as client:
        responses = [client.get("/api/data") for _ in range(11)]
    assert [r.status_code for r in responses] == [200] * 10 + [429]
    assert responses[0].json() == {"data": "response"}
    assert responses[9].headers["ratelimit-limit"] == "10" and responses[9].headers["ratelimit-remaining"] == "0"
    assert len(calls) == 10


def test_seed_middleware_form_with_allow_request():
    from covet.core.responses import Response

    rate_limiter = RateLimiter(default_rate="100/hour", burst_rate="10/minute",
                               backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()

    @app.middleware("http")
    async def security_middleware(request, call_next):
        if not await rate_limiter.allow_request(request):
            return Response("Rate limited", status_code=429)
        return await call_next(request)

    @app.get("/")
    async def index(request: Request):
        return {"remaining": request.state.rate_limit.remaining}

    with TestClient(app) as client:
        responses = [client.get("/") for _ in range(11)]
    assert [r.status_code for r in responses] == [200] * 10 + [429]
    # The burst limit decides first: 9 left of 10/minute, fewer than the 99 of 100/hour.
    assert responses[0].json() == {"remaining": 9}
    assert responses[10].text == "Rate limited"


def test_allow_request_refusal_helper_gives_the_same_429():
    limiter = RateLimiter("1/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()

    @app.middleware
    async def limit_all(request, call_next):
        if not await limiter.allow_request(request):
            return limiter.refusal(request, request.state.rate_limit)
        return await call_next(request)

    @app.get("/")
    async def index():
        return {}

    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        refused = client.get("/")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json() == {"type": "about:blank", "title": "Too Many Requests", "status": 429,
                              "detail": "rate limit of 1/minute exceeded; retry in 60 s", "instance": "/"}


# ---------------------------------------------------------------- bad input

def test_decorator_bad_input_fails_at_registration():
    limiter = RateLimiter()
    with pytest.raises(ValueError, match=r"^invalid rate limit '5/fortnight': unknown unit 'fortnight'"):
        limiter.limit("5/fortnight")
    with pytest.raises(ValueError, match=r"^invalid rate limit '' in '5/minute;': expected"):
        limiter.limit("5/minute;")
    with pytest.raises(TypeError, match=r"^a rate limit must be a str like '100/minute', got 5$"):
        limiter.limit(5)
    with pytest.raises(TypeError, match=r"^scope must be a str, got 3$"):
        limiter.limit("5/minute", scope=3)
    with pytest.raises(TypeError, match=r"^limit\(\) decorates route handlers, got 'x'$"):
        limiter.limit("5/minute")("x")

    class Handlers:
        async def login(self):
            return {}

    with pytest.raises(TypeError, match=r"^limit\(\) decorates functions and objects that take attributes"):
        limiter.limit("5/minute")(Handlers().login)


def test_limit_above_the_route_decorator_raises_at_import():
    limiter = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    app.add_middleware(RateLimitMiddleware(limiter))
    with pytest.raises(TypeError) as info:
        @limiter.limit("2/minute")
        @app.route("/above")
        async def above(request):
            return {}
    assert str(info.value) == (
        "@limit('2/minute') must be written below @app.get(...)/@app.route(...): the route '/above' has already "
        "been registered with the undecorated handler "
        "test_limit_above_the_route_decorator_raises_at_import.<locals>.above")
    endpoint = app.router.routes[0].endpoint
    # Nothing half-done: no route limit the app-wide middleware could pick up, no route middleware.
    assert route_limit_of(endpoint, limiter) is None and route_middleware(endpoint) == ()


def test_exempt_marks_the_handler_above_or_below_the_route_decorator():
    limiter = RateLimiter("1/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    app.add_middleware(RateLimitMiddleware(limiter))

    @limiter.exempt
    @app.get("/above")
    async def above():
        return {}

    @app.get("/below")
    @limiter.exempt
    async def below():
        return {}

    with TestClient(app) as client:
        assert [client.get(p).status_code for p in ("/above", "/below") * 3] == [200] * 6


@pytest.mark.parametrize("limit_written_above", [True, False])
def test_a_per_user_limit_runs_after_require_token_in_either_order(limit_written_above):
    from covet.security import JWTAuth

    auth = JWTAuth(b"0123456789abcdef" * 2)
    limiter = RateLimiter(key=user_key, backend=MemoryLimiterBackend(clock=Clock()))
    calls = []

    async def me(request: Request):
        calls.append(request.state.user["sub"])
        return {}

    if limit_written_above:
        handler = limiter.limit("2/minute")(auth.require_token(me))
    else:
        handler = auth.require_token(limiter.limit("2/minute")(me))
    app = Covet()
    app.add_route("/me", handler)
    a = {"Authorization": "Bearer " + auth.create_token({"sub": "a"})}
    b = {"Authorization": "Bearer " + auth.create_token({"sub": "b"})}
    with TestClient(app) as client:
        # Refused by require_token first: never counted, never a 429.
        assert [client.get("/me").status_code for _ in range(4)] == [401] * 4
        assert [client.get("/me", headers=a).status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/me", headers=b).status_code == 200  # the key is the user, not the address
    assert calls == ["a", "a", "b"]


def test_a_fail_closed_limiter_answers_503_while_its_redis_is_stopped(caplog):
    server = start_redis()
    try:
        def backend():
            return RedisLimiterBackend(Redis(port=server.port, pool_timeout=None, reconnect_backoff=0))

        closed = RateLimiter("5/minute", fail_open=False, backend=backend())
        opened = RateLimiter("5/minute", backend=backend())
        calls = []
        app = Covet()

        @app.on_shutdown
        async def close_clients():
            await closed.aclose()
            await opened.aclose()

        @app.get("/route")
        @closed.limit("5/minute")
        async def route():
            calls.append("route")
            return {}

        @app.get("/open")
        @opened.limit("5/minute")
        async def open_route():
            calls.append("open")
            return {}

        grouped = app.group("/group", middleware=[RateLimitMiddleware(closed)])

        @grouped.get("/x")
        def group_x():
            calls.append("group")
            return {}

        async def by_hand(request, call_next):
            if not await closed.allow_request(request):
                return closed.refusal(request, request.state.rate_limit)
            return await call_next(request)

        handwritten = app.group("/hand", middleware=[by_hand])

        @handwritten.get("/x")
        async def hand_x():
            calls.append("hand")
            return {}

        paths = ("/route", "/group/x", "/hand/x")
        with caplog.at_level(logging.ERROR, logger="covet.security.rate_limiting"), TestClient(app) as client:
            assert [client.get(p).status_code for p in paths + ("/open",)] == [200] * 4
            server.stop()
            for path in paths:
                r = client.get(path)
                assert r.status_code == 503, path
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json() == {"type": "about:blank", "title": "Service Unavailable", "status": 503,
                                    "detail": "rate limit store unavailable", "instance": path}
                assert rl_headers(r) == {"retry-after": "10"}  # no RateLimit-* counts: there are none
            r = client.get("/open")  # fail open, as before: allowed
            assert r.status_code == 200
        assert calls == ["route", "group", "hand", "open", "open"]
        assert [rec.getMessage().split(":")[1] for rec in caplog.records] == [" backend unavailable, failing closed",
                                                                               " backend unavailable, failing open"]
    finally:
        server.stop()


def test_huge_keys_through_the_app_are_bounded():
    backend = MemoryLimiterBackend(clock=Clock())
    limiter = RateLimiter("2/minute", key=header_key("X-API-Key"), backend=backend)
    app = Covet()
    app.add_middleware(RateLimitMiddleware(limiter))

    @app.get("/")
    async def index():
        return {}

    huge = "k" * 60_000
    with TestClient(app) as client:
        assert [client.get("/", headers={"X-API-Key": huge}).status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/", headers={"X-API-Key": huge[:-1] + "j"}).status_code == 200
    assert len(backend) == 2
    assert all(len(stored[3]) == 71 and stored[3].startswith("sha256:") for stored in backend._data)


def test_a_failing_key_function_is_a_500_and_the_app_lives_on():
    def key(request):
        raise RuntimeError("no key")

    limiter = RateLimiter("1/minute", key=key, backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    calls = []

    @app.get("/")
    @limiter.limit("1/minute")
    async def index():
        calls.append(1)
        return {}

    @app.get("/free")
    async def free():
        return {"ok": True}

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/").status_code == 500
        assert client.get("/free").json() == {"ok": True}
    assert calls == []


def test_the_documented_login_pattern_throttles_failures_and_forgives_a_success():
    from covet.security.rate_limiting import client_ip

    limiter = RateLimiter(backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    checked = []

    @app.post("/login")
    @limiter.limit("5/minute", scope="login")
    async def login(password: str, request: Request):
        checked.append(password)
        if password != "right":
            raise HTTPException(401, "wrong user name or password")
        limiter.reset(client_ip(request), "5/minute", scope="login")
        return {"ok": True}

    with TestClient(app) as client:
        codes = [client.post("/login", params={"password": "wrong"}).status_code for _ in range(4)]
        assert codes == [401] * 4
        assert client.post("/login", params={"password": "right"}).json() == {"ok": True}
        codes = [client.post("/login", params={"password": "wrong"}).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
    assert len(checked) == 10


def test_hit_request_is_the_plain_face_for_code_in_the_thread_pool():
    limiter = RateLimiter("1/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()

    @app.get("/")
    def index(request: Request):
        result = limiter.hit_request(request)
        return {"allowed": result.allowed, "same": request.state.rate_limit is result}

    with TestClient(app) as client:
        assert client.get("/").json() == {"allowed": True, "same": True}
        assert client.get("/").json() == {"allowed": False, "same": True}


def test_rate_limit_headers_on_a_handlers_error_response_at_every_level():
    app_wide = RateLimiter("5/minute", backend=MemoryLimiterBackend(clock=Clock()))
    in_route = RateLimiter("5/minute", backend=MemoryLimiterBackend(clock=Clock()))
    app = Covet()
    app.add_middleware(RateLimitMiddleware(app_wide))

    @app.get("/a")
    async def a():
        raise HTTPException(401, "no")

    @app.get("/b")
    @app_wide.exempt
    @in_route.limit("5/minute")
    async def b():
        raise HTTPException(401, "no")

    with TestClient(app) as client:
        first, second = client.get("/a"), client.get("/b")
    assert first.status_code == 401 and first.headers["ratelimit-remaining"] == "4"
    # Middleware at every level receives an answered error as a response (one call_next contract).
    assert second.status_code == 401 and second.headers["ratelimit-remaining"] == "4"
