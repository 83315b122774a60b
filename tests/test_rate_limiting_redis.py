"""The Redis backend of covet.security.rate_limiting against a real redis-server: the Lua scripts'
numbers, keys and expiry, exact counts from coroutines and threads, storage URLs, clear(), and what
happens when Redis is down."""
import asyncio
import logging
import threading

import pytest

from covet.security.rate_limiting import (
    Limit,
    RateLimiter,
    UNAVAILABLE_RETRY_AFTER,
    RateLimitResult,
    RedisLimiterBackend,
    StoreUnavailableResult,
)
from covet.redis import Redis
from redis_fixture import free_port, redis_clean, redis_ms, redis_server  # noqa: F401  (fixtures)


def run(coro):
    return asyncio.run(coro)

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
    assert all(r.unavailable for r in results)  # allowed, and saying why
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(
        "covet ratelimit: backend unavailable, failing open: cannot connect to Redis at 127.0.0.1:")


def test_redis_down_fails_closed_when_configured(caplog):
    rl = RateLimiter("100/minute", fail_open=False,
                     backend=RedisLimiterBackend(Redis(port=free_port())))
    try:
        with caplog.at_level(logging.ERROR, logger="covet.security.rate_limiting"):
            r = rl.hit("k")
        assert r == RateLimitResult(False, Limit(100, 60, "100/minute"), 0, 0.0, UNAVAILABLE_RETRY_AFTER)
        assert type(r) is StoreUnavailableResult and r.unavailable is True
        assert (rl.refusal_status(r), rl.refusal_detail(r)) == (503, "rate limit store unavailable")
        assert caplog.records[0].getMessage().startswith("covet ratelimit: backend unavailable, failing closed: ")
    finally:
        rl.close()


# ---------------------------------------------------------------- storage URLs and clear()

def test_seed_form_storage_redis_url(redis_clean):
    from covet.core.app import Covet
    from covet.testing import TestClient

    rate_limiter = RateLimiter(default_limits="100/hour", storage=redis_clean.url)
    backend = rate_limiter.backend
    assert isinstance(backend, RedisLimiterBackend) and backend.owns_client
    assert (backend.redis.host, backend.redis.port, backend.prefix) == ("127.0.0.1", redis_clean.port, "covet:rl:")
    app = Covet()
    app.on_shutdown(rate_limiter.aclose)
    calls = []

    @app.route("/api/data")
    @rate_limiter.limit("10/minute")
    async def limited_endpoint(request):
        calls.append(1)
        return {"data": "response"}

    @app.get("/sync")
    @rate_limiter.limit("2/minute")
    def sync_endpoint():
        calls.append(2)
        return {"ok": True}

    with TestClient(app) as client:
        assert [client.get("/api/data").status_code for _ in range(11)] == [200] * 10 + [429]
        assert [client.get("/sync").status_code for _ in range(3)] == [200, 200, 429]
        assert calls == [1] * 10 + [2] * 2
    keys = redis_clean.command("KEYS", "covet:rl:*").split(b"\r\n")[2::2]
    assert sorted(keys) == sorted(b"covet:rl:g:%d:%s:%s:testclient" % (len(scope), scope, limit) for scope, limit in (
        (b"test_rate_limiting_redis.test_seed_form_storage_redis_url.<locals>.limited_endpoint", b"10/minute"),
        (b"test_rate_limiting_redis.test_seed_form_storage_redis_url.<locals>.sync_endpoint", b"2/minute")))


def test_seed_form_default_and_burst_rate_in_redis(redis_clean):
    async def main():
        limiter = RateLimiter(default_rate="100/hour", burst_rate="10/minute", storage=redis_clean.url)
        try:
            results = [await limiter.ahit("10.0.0.1") for _ in range(11)]
            keys = sorted(await limiter.backend.redis.execute("KEYS", "*"))
        finally:
            await limiter.aclose()
        return results, keys

    results, keys = run(main())
    assert [r.allowed for r in results] == [True] * 10 + [False]
    assert str(results[10].limit) == "10/minute"
    assert keys == [b"covet:rl:g:0::10/minute:10.0.0.1", b"covet:rl:g:0::100/hour:10.0.0.1"]


def test_aclose_closes_the_client_the_limiter_made_and_only_that(redis_clean):
    async def main():
        owned = RateLimiter(storage=redis_clean.url)
        given = Redis(port=redis_clean.port)
        borrowed = RateLimiter(backend=RedisLimiterBackend(given))
        await owned.ahit("k")
        await borrowed.ahit("k")
        clients = int(redis_clean.command("INFO", "clients").split(b"connected_clients:")[1].split(b"\r\n")[0])
        await owned.aclose()
        await borrowed.aclose()
        after = int(redis_clean.command("INFO", "clients").split(b"connected_clients:")[1].split(b"\r\n")[0])
        assert after == clients - 1  # the borrowed client's connection stays open: it is the caller's
        try:
            assert await given.execute("PING") == "PONG"
        finally:
            await given.close()

    run(main())


def test_clear_deletes_every_key_under_the_prefix_and_nothing_else(redis_clean):
    redis_clean.command("SET", "app:session", "keep")
    redis_clean.command("SET", "covet:rl2:x", "keep")  # another prefix sharing the start

    async def main():
        rl = RateLimiter("1/minute", backend=RedisLimiterBackend(Redis(port=redis_clean.port)))
        odd = RateLimiter("1/minute", strategy="sliding-window",
                          backend=RedisLimiterBackend(Redis(port=redis_clean.port), prefix="t[1]*:"))
        for i in range(2500):  # more than one SCAN page
            await rl.ahit("k%d" % i)
        await rl.ahit("k0", "2/hour", scope="login")
        await odd.ahit("k")
        redis_clean.command("SET", "t1x:not-ours", "keep")  # what the unescaped glob t[1]*: would match
        assert not (await rl.ahit("k0")).allowed
        await rl.aclear()
        remaining = sorted(await rl.backend.redis.execute("KEYS", "*"))
        assert remaining == [b"app:session", b"covet:rl2:x", b"t1x:not-ours", b"t[1]*:s:0::1/minute:k"]
        assert (await rl.ahit("k0")).allowed
        await odd.aclear()
        assert sorted(await rl.backend.redis.execute("KEYS", "*")) == [
            b"app:session", b"covet:rl2:x", b"covet:rl:g:0::1/minute:k0", b"t1x:not-ours"]
        await rl.backend.redis.close()
        await odd.backend.redis.close()

    run(main())


def test_clear_from_plain_code_between_tests(redis_clean):
    limiter = RateLimiter("1/minute", storage=redis_clean.url)
    try:
        assert limiter.hit("k").allowed and not limiter.hit("k").allowed
        limiter.clear()  # what a pytest fixture calls
        assert limiter.hit("k").allowed
        assert redis_clean.command("DBSIZE") == b":1\r\n"
    finally:
        limiter.close()


def test_redis_huge_keys_are_stored_hashed(redis_clean):
    async def main():
        rl = RateLimiter("1/minute", storage=redis_clean.url)
        try:
            huge = "x" * 500_000
            assert (await rl.ahit(huge)).allowed and not (await rl.ahit(huge)).allowed
            (key,) = await rl.backend.redis.execute("KEYS", "*")
        finally:
            await rl.aclose()
        return key

    key = run(main())
    assert key.startswith(b"covet:rl:g:0::1/minute:sha256:") and len(key) == len("covet:rl:g:0::1/minute:") + 71


def test_redis_gcra_after_the_server_clock_went_back_refuses_for_at_most_one_interval(redis_clean):
    # Redis TIME follows the server's wall clock; a key stored before a jump back of an hour
    # holds an arrival time an hour ahead. It may not lock the client out for that hour.
    async def main():
        rl = redis_limiter(redis_clean, "5/minute")
        assert (await rl.ahit("k")).allowed
        client = rl.backend.redis
        (key,) = await client.execute("KEYS", "*")
        ahead = int(await client.execute("GET", key)) + 3600 * 10**6  # microseconds, as the script stores
        await client.execute("SET", key, str(ahead))
        refused = await rl.ahit("k")
        assert not refused.allowed and 0 < refused.retry_after <= 12  # one interval of 5/minute
        await client.close()
    run(main())
