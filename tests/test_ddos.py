"""DDoSProtector: thresholds and blocks on a fake clock, a bounded table under an address-rotating
flood, IPv6 /64 grouping, the CIDR allow-list, Redis shared between two protectors (and failing open
when it is down), and the seed's security middleware end to end with RateLimiter.allow_request."""
import asyncio
import logging
import random
from types import SimpleNamespace

import pytest

from covet import Address, Covet, Response, State, TestClient
from covet.security import DDoSProtector, RateLimiter
from redis_fixture import free_port, redis_clean, redis_server  # noqa: F401  (fixtures)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def protector(**kw):
    clock = Clock()
    kw.setdefault("threshold", 3)
    kw.setdefault("block_duration", 60)
    return DDoSProtector(clock=clock, **kw), clock


# ---------------------------------------------------------------- in memory

def test_threshold_per_window_then_block_then_expiry(caplog):
    ddos, clock = protector()
    with caplog.at_level(logging.WARNING, logger="covet.security"):
        assert [ddos.allow("203.0.113.1") for _ in range(5)] == [True, True, True, False, False]
    assert [r.getMessage() for r in caplog.records] == [
        "covet ddos: blocked 203.0.113.1 for 60 s after more than 3 requests in 1 s"]  # once per block
    assert ddos.is_blocked("203.0.113.1") and not ddos.is_blocked("203.0.113.2")
    assert ddos.allow("203.0.113.2") is True  # others are not affected
    clock.now += 59.9
    assert ddos.allow("203.0.113.1") is False
    clock.now += 0.1
    assert ddos.allow("203.0.113.1") is True  # the block is over: a fresh window
    assert not ddos.is_blocked("203.0.113.1")


def test_a_new_window_resets_the_count():
    ddos, clock = protector(window=2.0)
    for _ in range(10):
        assert [ddos.allow("198.51.100.9") for _ in range(3)] == [True] * 3
        clock.now += 2.0
    clock.now += 0.5
    assert [ddos.allow("198.51.100.9") for _ in range(4)] == [True, True, True, False]


def test_coroutine_face_counts_the_same_table():
    ddos, _ = protector()

    async def main():
        return [await ddos.allow_request("192.0.2.1") for _ in range(4)]

    assert asyncio.run(main()) == [True, True, True, False]
    assert ddos.allow("192.0.2.1") is False


def test_a_flood_of_random_addresses_keeps_the_table_bounded():
    ddos, clock = protector(max_tracked=1000)
    rng = random.Random(7)
    # A blocked client that keeps sending stays recent, so rotation does not evict it.
    for _ in range(4):
        ddos.allow("203.0.113.66")
    for i in range(20000):
        assert ddos.allow("10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256))) is True
        if i % 100 == 0:
            assert ddos.allow("203.0.113.66") is False
        if i % 1000 == 0:
            clock.now += 0.5
    assert len(ddos) == 1000
    assert ddos.evictions > 18000
    v6 = [ddos.allow("2001:db8:%x:%x::1" % (rng.randrange(65536), rng.randrange(65536))) for _ in range(5000)]
    assert all(v6) and len(ddos) == 1000


def test_ipv6_is_counted_per_64():
    ddos, _ = protector()
    assert ddos.client_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    results = [ddos.allow("2001:db8:1:2::%x" % i) for i in range(1, 6)]
    assert results == [True, True, True, False, False]  # one /64, five addresses: one client
    assert ddos.allow("2001:db8:1:3::1") is True  # the next /64 is someone else
    assert ddos.allow("fe80::1%eth0") is True and ddos.client_key("fe80::1%eth0") == "fe80::/64"


def test_ipv4_mapped_addresses_count_as_ipv4():
    ddos, _ = protector()
    assert ddos.client_key("::ffff:203.0.113.5") == "203.0.113.5"
    assert [ddos.allow("::ffff:203.0.113.5"), ddos.allow("203.0.113.5"), ddos.allow("::ffff:203.0.113.5"),
            ddos.allow("203.0.113.5")] == [True, True, True, False]


def test_whitelist_is_never_counted_nor_blocked():
    ddos, _ = protector(whitelist=["192.168.1.0/24", "2001:db8::/32", "10.0.0.7", "172.16.5.9/16"])
    for ip in ("192.168.1.200", "2001:db8:ffff::1", "10.0.0.7", "172.16.200.1", "::ffff:192.168.1.3"):
        assert all(ddos.allow(ip) for _ in range(100)), ip
        assert ddos.client_key(ip) is None
    assert len(ddos) == 0
    assert [ddos.allow("192.168.2.1") for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize("ip", ["testclient", "unix", "", "1.2.3", "1.2.3.4.5", "::g", "1.2.3.4/24", " 1.2.3.4",
                                None, b"1.2.3.4", 16909060])
def test_invalid_addresses_raise_value_error(ip):
    ddos, _ = protector()
    with pytest.raises(ValueError, match="not an IP address"):
        ddos.allow(ip)
    with pytest.raises(ValueError, match="not an IP address"):
        asyncio.run(ddos.allow_request(ip))


@pytest.mark.parametrize("kwargs, error", [
    ({"whitelist": ["192.168.1.0/33"]}, ValueError), ({"whitelist": ["example.com"]}, ValueError),
    ({"whitelist": "192.168.1.0/24"}, TypeError), ({"whitelist": [3]}, TypeError),
    ({"threshold": 0}, ValueError), ({"threshold": 1.5}, ValueError), ({"threshold": True}, ValueError),
    ({"block_duration": -1}, ValueError), ({"window": 0}, ValueError), ({"max_tracked": 0}, ValueError),
    ({"storage": "memcached://x"}, ValueError), ({"storage": 3}, TypeError),
])
def test_bad_settings_are_refused(kwargs, error):
    with pytest.raises(error):
        DDoSProtector(**kwargs)


def test_unblock_and_clear():
    ddos, _ = protector()
    for _ in range(4):
        ddos.allow("203.0.113.1")
    ddos.unblock("203.0.113.1")
    assert ddos.allow("203.0.113.1") is True
    ddos.clear()
    assert len(ddos) == 0 and ddos.evictions == 0
    assert repr(DDoSProtector(threshold=5)) == "<DDoSProtector 5/1s block 300s memory>"


# ---------------------------------------------------------------- Redis

def test_two_protectors_share_counts_and_blocks_through_redis(redis_clean):
    async def main():
        a = DDoSProtector(threshold=5, block_duration=60, window=60, storage=redis_clean.url)
        b = DDoSProtector(threshold=5, block_duration=60, window=60, storage=redis_clean.url)
        try:
            first = [await a.allow_request("203.0.113.7") for _ in range(3)]
            second = [await b.allow_request("203.0.113.7") for _ in range(3)]
            after = [await a.allow_request("203.0.113.7"), await b.allow_request("203.0.113.7")]
            other = await b.allow_request("203.0.113.8")
            v6 = [await a.allow_request("2001:db8::%x" % i) for i in range(1, 8)]
            ttl = await a.redis.pttl("covet:ddos:b:203.0.113.7")
            counter = await a.redis.get("covet:ddos:c:203.0.113.8")
            await b.aunblock("203.0.113.7")
            unblocked = await a.allow_request("203.0.113.7")
            return first, second, after, other, v6, ttl, counter, unblocked, len(a), len(b)
        finally:
            await a.aclose()
            await b.aclose()

    first, second, after, other, v6, ttl, counter, unblocked, la, lb = asyncio.run(main())
    assert first == [True] * 3 and second == [True, True, False]
    assert after == [False, False] and other is True
    assert v6 == [True] * 5 + [False, False]
    assert 59000 < ttl <= 60000
    assert counter == b"1"
    assert unblocked is True
    assert la == lb == 0  # nothing kept in process memory with Redis storage


def test_plain_face_works_with_redis(redis_clean):
    ddos = DDoSProtector(threshold=2, block_duration=60, storage=redis_clean.url)
    try:
        assert [ddos.allow("192.0.2.9") for _ in range(3)] == [True, True, False]
    finally:
        ddos.close()
        asyncio.run(ddos.redis.close())


def test_redis_down_fails_open_with_one_log_line(caplog):
    async def main():
        ddos = DDoSProtector(threshold=1, storage="redis://127.0.0.1:%d/0" % free_port())
        try:
            return [await ddos.allow_request("203.0.113.1") for _ in range(5)]
        finally:
            await ddos.aclose()

    with caplog.at_level(logging.ERROR, logger="covet.security"):
        assert asyncio.run(main()) == [True] * 5
    lines = [r.getMessage() for r in caplog.records if r.name == "covet.security"]
    assert len(lines) == 1 and lines[0].startswith("covet ddos: Redis unavailable, allowing requests (failing open)")


# ---------------------------------------------------------------- the seed's middleware, end to end

def seed_app(redis_url):
    app = Covet()
    rate_limiter = RateLimiter(default_rate="100/hour", burst_rate="10/minute", storage=redis_url)
    ddos_protector = DDoSProtector(threshold=5, block_duration=300, whitelist=["192.168.1.0/24"])

    @app.middleware("security")
    async def security_middleware(request, call_next):
        if not await ddos_protector.allow_request(request.client.host):
            return Response("Rate limited", status_code=429)
        if not await rate_limiter.allow_request(request):
            return Response("Rate limited", status_code=429)
        return await call_next(request)

    @app.get("/")
    async def index():
        return {"ok": True}

    app.on_shutdown(rate_limiter.aclose)
    return app, rate_limiter


def test_seed_security_middleware_blocks_a_flooding_client(redis_clean):
    app, _ = seed_app(redis_clean.url)
    with TestClient(app, client=("203.0.113.50", 40000)) as client:
        codes = [client.get("/").status_code for _ in range(7)]
        body = client.get("/")
    assert codes == [200] * 5 + [429, 429]
    assert body.status_code == 429 and body.text == "Rate limited"
    with TestClient(app, client=("192.168.1.20", 40000)) as client:  # whitelisted for the DDoS layer...
        codes = [client.get("/").status_code for _ in range(12)]
    assert codes == [200] * 10 + [429, 429]  # ...but the rate limiter's 10/minute burst still applies


def test_rate_limiter_allow_request_counts_the_default_limits(redis_clean):
    async def main():
        limiter = RateLimiter(default_rate="100/hour", burst_rate="3/minute", storage=redis_clean.url)
        request = SimpleNamespace(client=Address("198.51.100.1", 1), state=State())
        try:
            results = [await limiter.allow_request(request) for _ in range(4)]
            return results, request.state.rate_limit
        finally:
            await limiter.aclose()

    results, last = asyncio.run(main())
    assert results == [True, True, True, False]
    assert last.allowed is False and str(last.limit) == "3/minute"
