"""covet.security.rate_limiting: limit strings, GCRA and sliding window on a fake clock, bounded memory,
exact counts under concurrency, and the Redis backend against a real redis-server."""
import asyncio
import logging
import threading

import pytest

from covet.security.rate_limiting import (
    DEFAULT_MAX_KEYS,
    Limit,
    MemoryLimiterBackend,
    RateLimiter,
    RateLimitResult,
    RedisLimiterBackend,
    client_ip,
    parse_limits,
)
from covet.redis import Redis
from redis_fixture import free_port, redis_clean, redis_ms, redis_server  # noqa: F401  (fixtures)

SECOND = 1_000_000_000


class Clock:
    def __init__(self):
        self.now = 10_000 * SECOND

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += int(round(seconds * SECOND))


def limiter(default="100/minute", strategy="gcra", max_keys=DEFAULT_MAX_KEYS):
    clock = Clock()
    return RateLimiter(default, backend=MemoryLimiterBackend(max_keys, clock=clock), strategy=strategy), clock


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------- limit strings

@pytest.mark.parametrize("spec, texts, amounts, periods", [
    ("10/second", ["10/second"], [10], [1]),
    ("100/minute", ["100/minute"], [100], [60]),
    ("1000/hour", ["1000/hour"], [1000], [3600]),
    ("5/10 seconds", ["5/10 seconds"], [5], [10]),
    ("7/day", ["7/day"], [7], [86400]),
    (" 3 / 2 minutes ", ["3/2 minutes"], [3], [120]),
    ("10/s;100/MIN; 1000/h", ["10/second", "100/minute", "1000/hour"], [10, 100, 1000], [1, 60, 3600]),
    ("20 per minute", ["20/minute"], [20], [60]),
    ("1/1 second", ["1/second"], [1], [1]),
])
def test_limit_strings(spec, texts, amounts, periods):
    limits = parse_limits(spec)
    assert [str(l) for l in limits] == texts
    assert [l.amount for l in limits] == amounts
    assert [l.period for l in limits] == periods


@pytest.mark.parametrize("spec, message", [
    ("", "invalid rate limit '': it is empty"),
    ("  ", "invalid rate limit '  ': it is empty"),
    ("abc", "invalid rate limit 'abc': expected '<count>/<period>' such as '10/second', '100/minute' or "
            "'5/10 seconds'"),
    ("10/fortnight", "invalid rate limit '10/fortnight': unknown unit 'fortnight' (use second, minute, hour or day)"),
    ("0/minute", "invalid rate limit '0/minute': counts must be at least 1"),
    ("5/0 seconds", "invalid rate limit '5/0 seconds': counts must be at least 1"),
    ("-1/minute", "invalid rate limit '-1/minute': expected '<count>/<period>' such as '10/second', "
                  "'100/minute' or '5/10 seconds'"),
    ("1.5/minute", "invalid rate limit '1.5/minute': expected '<count>/<period>' such as '10/second', "
                   "'100/minute' or '5/10 seconds'"),
    ("\u0661\u0660/minute", "invalid rate limit '\u0661\u0660/minute': expected '<count>/<period>' such as "
                            "'10/second', '100/minute' or '5/10 seconds'"),
    ("10000000000/second", "invalid rate limit '10000000000/second': expected '<count>/<period>' such as "
                           "'10/second', '100/minute' or '5/10 seconds'"),
    ("2000000/second", "invalid rate limit '2000000/second': more than 1000000 per second cannot be counted"),
    ("10/second;", "invalid rate limit '' in '10/second;': expected '<count>/<period>' such as '10/second', "
                   "'100/minute' or '5/10 seconds'"),
    ("10/second;5/yr", "invalid rate limit '5/yr' in '10/second;5/yr': unknown unit 'yr' (use second, minute, "
                       "hour or day)"),
])
def test_bad_limit_strings_name_the_string(spec, message):
    with pytest.raises(ValueError) as e:
        parse_limits(spec)
    assert str(e.value) == message
    with pytest.raises(ValueError) as e:
        RateLimiter(spec)
    assert str(e.value) == message


def test_limit_objects_and_lists():
    a, = parse_limits("10/second")
    assert parse_limits(a) == (a,)
    assert parse_limits([a, "5/minute"]) == (Limit(10, 1, "10/second"), Limit(5, 60, "5/minute"))
    assert repr(a) == "Limit('10/second')" and hash(a) == hash(Limit(10, 1, "x"))
    with pytest.raises(TypeError, match="^a rate limit must be a str like '100/minute', got 5$"):
        parse_limits(5)
    with pytest.raises(ValueError, match=r"^invalid rate limit \[\]: it is empty$"):
        parse_limits([])


def test_bad_limiter_settings():
    with pytest.raises(ValueError, match="^strategy must be 'gcra' or 'sliding-window', got 'leaky'$"):
        RateLimiter(strategy="leaky")
    with pytest.raises(TypeError, match="^key must be a callable taking the request, got 'ip'$"):
        RateLimiter(key="ip")
    with pytest.raises(ValueError, match="^max_keys must be a positive integer, got 0$"):
        MemoryLimiterBackend(0)
    with pytest.raises(TypeError, match="^rate limit keys must be str, got 42$"):
        RateLimiter().hit(42)
    with pytest.raises(TypeError, match="^RedisLimiterBackend needs a covet.redis.Redis client"):
        RedisLimiterBackend("redis://")


# ---------------------------------------------------------------- GCRA

def test_gcra_allows_the_whole_burst_then_one_per_interval():
    rl, clock = limiter("100/minute")
    results = [rl.hit("k") for _ in range(101)]
    assert [r.allowed for r in results] == [True] * 100 + [False]
    assert [r.remaining for r in results[:3]] == [99, 98, 97]
    assert results[99].remaining == 0
    assert results[0] == RateLimitResult(True, Limit(100, 60, "100/minute"), 99, 0.6, 0.0)
    assert results[99].reset_after == 60.0
    assert results[100] == RateLimitResult(False, Limit(100, 60, "100/minute"), 0, 60.0, 0.6)
    clock.advance(0.599)
    assert rl.hit("k").allowed is False
    clock.advance(0.001)
    r = rl.hit("k")
    assert r.allowed and r.remaining == 0
    clock.advance(60)
    assert rl.hit("k").remaining == 99
    assert rl.hit("other").remaining == 99  # keys are independent


def test_gcra_five_per_ten_seconds():
    rl, clock = limiter("5/10 seconds")
    assert [rl.hit("k").allowed for _ in range(6)] == [True] * 5 + [False]
    r = rl.hit("k")
    assert (r.allowed, r.retry_after, r.reset_after) == (False, 2.0, 10.0)
    clock.advance(2)
    assert rl.hit("k").allowed is True
    assert rl.hit("k").allowed is False


def test_several_limits_all_must_pass_and_refusals_are_not_counted():
    rl, clock = limiter("2/second;3/minute")
    assert [rl.hit("k").allowed for _ in range(2)] == [True, True]
    r = rl.hit("k")
    assert (r.allowed, str(r.limit), r.retry_after) == (False, "2/second", 0.5)
    clock.advance(1)
    r = rl.hit("k")
    assert (r.allowed, str(r.limit), r.remaining) == (True, "3/minute", 0)
    r = rl.hit("k")
    assert (r.allowed, str(r.limit), r.retry_after) == (False, "3/minute", 19.0)
    clock.advance(19)
    assert rl.hit("k").allowed is True


def test_per_call_limit_and_scope_keep_separate_counters():
    rl, _ = limiter("1/minute")
    assert rl.hit("k").allowed and not rl.hit("k").allowed
    assert rl.hit("k", "1/minute", scope="login").allowed
    assert not rl.hit("k", "1/minute", scope="login").allowed
    assert rl.hit("k", "2/minute").allowed
    rl.reset("k")
    assert rl.hit("k").allowed


# ---------------------------------------------------------------- sliding window

def test_sliding_window_weights_the_previous_window():
    rl, clock = limiter("10/minute", strategy="sliding-window")
    clock.now = 1000 * 60 * SECOND  # start of a window
    results = [rl.hit("k") for _ in range(11)]
    assert [r.allowed for r in results] == [True] * 10 + [False]
    assert [r.remaining for r in results[:10]] == list(range(9, -1, -1))
    assert results[0].reset_after == 120.0
    # Refused in a full window: the earliest chance is 6 s into the next one (10 * 54/60 + 1 = 10).
    assert results[10].retry_after == 66.0
    clock.advance(60 + 5.999)
    assert rl.hit("k").allowed is False
    clock.advance(0.001)
    r = rl.hit("k")
    assert (r.allowed, r.remaining) == (True, 0)
    clock.advance(30)  # 36 s in: the previous window weighs 10 * 24/60 = 4, this one holds 1
    assert [rl.hit("k").allowed for _ in range(6)] == [True] * 5 + [False]


def test_sliding_window_retry_inside_the_window():
    rl, clock = limiter("10/minute", strategy="sliding_window")
    clock.now = 1000 * 60 * SECOND
    for _ in range(10):
        rl.hit("k")
    clock.advance(60)  # next window: previous = 10, current = 0
    r = rl.hit("k")
    assert (r.allowed, r.retry_after) == (False, 6.0)
    clock.advance(6)
    assert rl.hit("k").allowed is True


# ---------------------------------------------------------------- headers

def test_headers_allowed_and_refused():
    rl, _ = limiter("2/minute;10/hour")
    ok = rl.hit("k")
    assert ok.headers() == [
        ("RateLimit-Limit", "2"), ("RateLimit-Remaining", "1"), ("RateLimit-Reset", "30"),
        ("X-RateLimit-Limit", "2"), ("X-RateLimit-Remaining", "1"), ("X-RateLimit-Reset", "30"),
    ]
    rl.hit("k")
    refused = rl.hit("k")
    assert refused.headers(rl.default.limits) == [
        ("RateLimit-Limit", "2"), ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "60"),
        ("RateLimit-Policy", "2;w=60, 10;w=3600"),
        ("X-RateLimit-Limit", "2"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "60"),
        ("Retry-After", "30"),
    ]
    tiny = RateLimitResult(False, Limit(1, 1, "1/second"), 0, 0.0001, 0.0001)
    assert dict(tiny.headers())["Retry-After"] == "1"  # never 0


# ---------------------------------------------------------------- bounded memory

def test_a_flood_of_distinct_keys_cannot_grow_memory_past_max_keys():
    backend = MemoryLimiterBackend(max_keys=1000, clock=Clock())
    rl = RateLimiter("5/minute", backend=backend)
    for i in range(300_000):
        rl.hit("spoofed-%d" % i)
    assert len(backend) == 1000
    assert backend.evictions == 299_000


def test_idle_keys_are_dropped():
    clock = Clock()
    backend = MemoryLimiterBackend(clock=clock)
    rl = RateLimiter("10/minute", backend=backend)
    for i in range(1000):
        rl.hit("k%d" % i)
    assert len(backend) == 1000
    clock.advance(5)  # one hit costs 6 s of a 10/minute bucket: not yet refilled
    rl.hit("new")
    assert len(backend) == 1001
    clock.advance(1)
    rl.hit("newer")  # every k* bucket is full again, indistinguishable from a fresh one: gone
    assert len(backend) == 2  # "new" (5 s old) and "newer"
    for i in range(10):
        rl.hit("x%d" % i)
    clock.advance(6)
    assert backend.purge() == 12 and len(backend) == 0
    assert backend.evictions == 0


def test_a_refused_client_stays_tracked_under_a_flood():
    backend = MemoryLimiterBackend(max_keys=10, clock=Clock())
    rl = RateLimiter("1/minute", backend=backend)
    assert rl.hit("attacker").allowed
    for i in range(50):
        assert rl.hit("attacker").allowed is False
        rl.hit("flood-%d" % i)
        rl.hit("flood-%d-b" % i)
        # `attacker` is refreshed by every refused hit, so eviction takes the flood first
    assert rl.hit("attacker").allowed is False


def test_long_keys_are_hashed_to_bound_each_entry():
    backend = MemoryLimiterBackend(clock=Clock())
    rl = RateLimiter("1/minute", backend=backend)
    long_key = "k" * 100_000
    assert rl.hit(long_key).allowed and not rl.hit(long_key).allowed
    (stored,) = backend._data
    assert stored[3].startswith("sha256:") and len(stored[3]) == 71
    assert rl.hit("k" * 99_999 + "j").allowed


# ---------------------------------------------------------------- concurrency

@pytest.mark.parametrize("strategy", ["gcra", "sliding-window"])
def test_exactly_100_of_1000_concurrent_asyncio_checks_pass(strategy):
    rl, _ = limiter("100/minute", strategy)  # a stopped clock: a stall must not free a slot

    async def main():
        results = await asyncio.gather(*[rl.ahit("10.0.0.1") for _ in range(1000)])
        return sum(r.allowed for r in results)

    assert run(main()) == 100


@pytest.mark.parametrize("strategy", ["gcra", "sliding-window"])
def test_exactly_100_of_1000_checks_from_threads_pass(strategy):
    rl, _ = limiter("100/minute", strategy)
    allowed = []
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        allowed.append(sum(rl.hit("10.0.0.1").allowed for _ in range(50)))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100


# ---------------------------------------------------------------- key functions

def test_client_ip_reads_the_resolved_client():
    class Addr:
        host = "203.0.113.9"

    class Req:
        def __init__(self, client):
            self.client = client

    assert client_ip(Req(Addr())) == "203.0.113.9"
    assert client_ip(Req(("198.51.100.2", 5555))) == "198.51.100.2"
    assert client_ip(Req(None)) == "unknown"
    assert client_ip(object()) == "unknown"


# ---------------------------------------------------------------- Redis backend

def redis_limiter(server, default="100/minute", **kw):
    # No pool timeout: 1,000 checks queue for 10 connections, and on a busy machine a
    # timed-out check would fail open and count as allowed.
    return RateLimiter(default, backend=RedisLimiterBackend(Redis(port=server.port, pool_timeout=None)), **kw)


@pytest.mark.parametrize("strategy", ["gcra", "sliding-window"])
def test_redis_exactly_100_of_1000_concurrent_asyncio_checks_pass(redis_clean, strategy):
    async def main():
        # Per hour, so that a stalled burst cannot outlast GCRA's 36 s between slots.
        rl = redis_limiter(redis_clean, "100/hour", strategy=strategy)
        results = await asyncio.gather(*[rl.ahit("10.0.0.1") for _ in range(1000)])
        await rl.backend.redis.close()
        return results

    results = run(main())
    assert sum(r.allowed for r in results) == 100
    assert sorted(r.remaining for r in results if r.allowed) == list(range(100))
    refused = [r for r in results if not r.allowed]
    assert len(refused) == 900 and all(r.remaining == 0 for r in refused)
    # GCRA frees one slot every 3600/100 s. The sliding window, full at `elapsed` s into an
    # hour, first allows at 36 s into the next one (100 * 3564/3600 + 1 = 100): a retry of
    # 3636 - elapsed, so over an hour when the burst lands at the start of a Redis hour.
    high = 36 if strategy == "gcra" else 3636
    assert all(0 < r.retry_after <= high for r in refused), sorted({r.retry_after for r in refused})


@pytest.mark.parametrize("strategy", ["gcra", "sliding-window"])
def test_redis_exactly_100_of_1000_checks_from_threads_pass(redis_clean, strategy):
    rl = redis_limiter(redis_clean, "100/hour", strategy=strategy)
    allowed = []
    try:
        def worker():
            allowed.append(sum(rl.hit("10.0.0.1").allowed for _ in range(50)))

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        rl.close()
    assert sum(allowed) == 100


def test_redis_gcra_values_keys_and_expiry(redis_clean):
    async def main():
        # 2 per 10 s, not per second: a stall of half a second must not free a slot.
        rl = redis_limiter(redis_clean, "2/10 seconds;3/minute")
        r = redis_clean
        first = await rl.ahit("k", scope="login")
        assert (first.allowed, str(first.limit), first.remaining) == (True, "2/10 seconds", 1)  # fewest left
        assert first.reset_after == 5.0
        await rl.ahit("k", scope="login")
        third = await rl.ahit("k", scope="login")
        assert (third.allowed, str(third.limit), third.remaining) == (False, "2/10 seconds", 0)
        assert 0 < third.retry_after <= 5
        client = rl.backend.redis
        keys = sorted(await client.execute("KEYS", "*"))
        assert keys == [b"covet:rl:g:5:login:2/10 seconds:k", b"covet:rl:g:5:login:3/minute:k"]
        assert 0 < await client.pttl("covet:rl:g:5:login:3/minute:k") <= 40_000
        await rl.areset("k", scope="login")
        assert await client.execute("KEYS", "*") == []
        assert r.port == client.port
        await client.close()
    run(main())


def test_redis_sliding_window_sets_expiry(redis_clean):
    async def main():
        rl = redis_limiter(redis_clean, "3/10 seconds", strategy="sliding-window")
        client = rl.backend.redis
        before = await redis_ms(client)
        assert [(await rl.ahit("k")).allowed for _ in range(4)] == [True, True, True, False]
        after = await redis_ms(client)
        (key,) = await client.execute("KEYS", "*")
        assert key == b"covet:rl:s:0::3/10 seconds:k"
        # The key lives to the end of the next 10 s window (to the millisecond, rounded up),
        # read as an instant so that the time taken to read it does not matter.
        expires = await client.execute("PEXPIRETIME", key)
        end = round(expires / 10_000) * 10_000
        assert abs(expires - end) <= 1 and before + 10_000 < end <= after + 20_000
        await client.close()
    run(main())


def test_redis_script_reloads_after_script_flush(redis_clean):
    async def main():
        rl = redis_limiter(redis_clean, "5/minute")
        assert (await rl.ahit("k")).remaining == 4
        await rl.backend.redis.execute("SCRIPT", "FLUSH")
        assert (await rl.ahit("k")).remaining == 3
        await rl.backend.redis.close()
    run(main())


def test_redis_sync_face_and_reset(redis_clean):
    rl = redis_limiter(redis_clean, "1/minute")
    try:
        assert rl.hit("k").allowed and not rl.hit("k").allowed
        rl.reset("k")
        assert rl.hit("k").allowed
    finally:
        rl.close()


def test_redis_down_fails_open_by_default_and_logs_once(caplog):
    rl = RateLimiter("1/minute", backend=RedisLimiterBackend(Redis(port=free_port(), reconnect_backoff=0)))

    async def main():
        return [await rl.ahit("k") for _ in range(5)]

    with caplog.at_level(logging.ERROR, logger="covet.security.rate_limiting"):
        results = run(main())
    assert all(r == RateLimitResult(True, Limit(1, 60, "1/minute"), 1, 0.0, 0.0) for r in results)
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(
        "covet ratelimit: backend unavailable, failing open: cannot connect to Redis at 127.0.0.1:")


def test_redis_down_fails_closed_when_configured(caplog):
    rl = RateLimiter("100/minute", fail_open=False,
                     backend=RedisLimiterBackend(Redis(port=free_port())))
    try:
        with caplog.at_level(logging.ERROR, logger="covet.security.rate_limiting"):
            r = rl.hit("k")
        assert r == RateLimitResult(False, Limit(100, 60, "100/minute"), 0, 0.0, 1.0)
        assert caplog.records[0].getMessage().startswith("covet ratelimit: backend unavailable, failing closed: ")
    finally:
        rl.close()


# ---------------------------------------------------------------- through the app

from covet.core.app import Covet  # noqa: E402
from covet.core.errors import HTTPException  # noqa: E402
from covet.security.rate_limiting import RateLimitMiddleware, header_key, user_key  # noqa: E402
from covet.core.requests import Request  # noqa: E402
from covet.core.responses import JSONResponse  # noqa: E402
from covet.testing import TestClient  # noqa: E402


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
    limiter = redis_limiter(redis_clean, "2/minute")
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
        assert r.status_code == 429 and r.headers["retry-after"] == "30"  # one emission interval
        assert r.json()["detail"] == "rate limit of 2/minute exceeded; retry in 30 s"
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
