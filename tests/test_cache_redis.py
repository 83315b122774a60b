"""covet.cache Redis and two-level backends against a real redis-server (tests/redis_fixture.py)."""
import asyncio
import logging
import math
import threading

import pytest

from cache_helpers import Clock, redis_cache, run
from covet.cache import Cache, RedisBackend, TwoLevelBackend
from covet.redis import Redis
from redis_fixture import free_port, redis_clean, redis_ms, redis_server  # noqa: F401  (fixtures)


def test_redis_backend_async_face(redis_clean):
    async def main():
        cache = redis_cache(redis_clean)
        assert await cache.aget("k") is None
        before = await redis_ms(cache.backend.redis)
        assert await cache.aset("k", {"a": [1, 2.5, None, "é"]}) is True
        after = await redis_ms(cache.backend.redis)
        assert await cache.aget("k") == {"a": [1, 2.5, None, "é"]}
        assert await cache.aset("t", (1, 2)) is True
        assert await cache.aget("t") == [1, 2]  # JSON: tuples come back as lists
        assert await cache.aset("none", None) is True
        assert await cache.aget("none", "dflt") is None
        # The expiry as an instant on Redis's clock, so a slow test cannot move it.
        expires = await cache.backend.redis.execute("PEXPIRETIME", "covet:cache:k")
        assert before + 30_000 - 1 <= expires <= after + 30_000 + 1
        assert await cache.aset("forever", 1, ttl=math.inf) is True
        assert await cache.backend.redis.pttl("covet:cache:forever") == -1
        assert await cache.aset_many({"m:1": 1, "m:2": 2}, ttl=5) is True
        assert await cache.aget_many(["m:1", "m:3", "m:2"]) == {"m:1": 1, "m:2": 2}
        assert await cache.aincr("n", 3) == 3 and await cache.adecr("n") == 2
        assert 0 < await cache.backend.redis.pttl("covet:cache:n") <= 30_000
        with pytest.raises(TypeError, match="^cannot increment 'k': its cached value is not an integer$"):
            await cache.aincr("k")
        assert await cache.atouch("k", 100) is True and await cache.atouch("nope") is False
        assert await cache.atouch("k", math.inf) is True
        assert await cache.backend.redis.pttl("covet:cache:k") == -1
        assert await cache.ahas("k") is True and await cache.ahas("nope") is False
        assert await cache.adelete("k") is True and await cache.adelete("k") is False
        stats = cache.stats()
        assert stats == {"hits": 5, "misses": 2, "evictions": None, "expirations": None, "size": None}
        await cache.aclose()
        await cache.backend.redis.close()
    run(main())


def test_redis_backend_delete_prefix_is_literal_and_clear_keeps_other_keys(redis_clean):
    async def main():
        cache = redis_cache(redis_clean)
        r = cache.backend.redis
        await r.set("not-ours", 1)
        await cache.aset_many({"a*b:1": 1, "a*b:2": 2, "axb:1": 3, "a?": 4})
        assert await cache.adelete_prefix("a*b:") == 2
        assert await cache.aget_many(["a*b:1", "axb:1", "a?"]) == {"axb:1": 3, "a?": 4}
        await cache.aclear()
        assert await r.execute("KEYS", "*") == [b"not-ours"]
        await r.close()
    run(main())


def test_redis_backend_plain_face_from_threads(redis_clean):
    cache = redis_cache(redis_clean)
    try:
        def work(i):
            cache.set("t:%d" % i, i)
            cache.incr("total", i)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cache.get("total") == 120
        assert cache.get_many(["t:0", "t:15"]) == {"t:0": 0, "t:15": 15}
        assert cache.has("t:3") and cache.touch("t:3", 5) and cache.delete("t:3")
        assert cache.delete_prefix("t:") == 15
        assert cache.get_or_set("g", lambda: [1]) == [1]
        assert cache.set_many({"x": 1}) is True
        cache.clear()
        assert cache.get("total") is None
    finally:
        cache.close()


def test_redis_backend_pickle_and_custom_serializers(redis_clean):
    class Codec:
        @staticmethod
        def dumps(v):
            return repr(v).encode()

        @staticmethod
        def loads(b):
            return "decoded:" + b.decode()

    async def main():
        cache = redis_cache(redis_clean, serializer="pickle")
        await cache.aset("p", {"s": {1, 2}, "t": (1,)})
        assert await cache.aget("p") == {"s": {1, 2}, "t": (1,)}
        cache2 = redis_cache(redis_clean, serializer=Codec(), prefix="c:")
        await cache2.aset("x", 5)
        assert await cache2.aget("x") == "decoded:5"
        with pytest.raises(TypeError):
            await redis_cache(redis_clean).aset("bad", object())  # JSON cannot: the caller's bug
        await cache.backend.redis.close()
        await cache2.backend.redis.close()
    run(main())
    with pytest.raises(ValueError, match="^serializer must be 'json', 'pickle' or an object"):
        RedisBackend(Redis(), serializer="yaml")
    with pytest.raises(TypeError, match="^RedisBackend needs a covet.redis.Redis client"):
        RedisBackend("redis://localhost")
    with pytest.raises(TypeError, match="^Redis cache keys must be str, got 1$"):
        redis_cache(redis_clean).backend._key(1)


def test_redis_backend_corrupt_value_is_a_logged_miss(redis_clean, caplog):
    async def main():
        cache = redis_cache(redis_clean)
        await cache.backend.redis.set("covet:cache:bad", b"\xff not json")
        assert await cache.aget("bad", "dflt") == "dflt"
        assert await cache.aget_or_set("bad", lambda: "rebuilt") == "rebuilt"
        assert await cache.aget("bad") == "rebuilt"
        await cache.backend.redis.close()

    with caplog.at_level(logging.ERROR, logger="covet.cache"):
        run(main())
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("covet cache: cannot decode the value of 'bad' from Redis: ")


def test_redis_down_is_a_miss_and_logged_once_per_interval(caplog):
    async def main():
        cache = Cache(backend=RedisBackend(Redis(port=free_port(), reconnect_backoff=0), log_interval=60))
        assert await cache.aget("k", "dflt") == "dflt"
        assert await cache.aset("k", 1) is False
        assert await cache.aincr("n") is None
        assert await cache.ahas("k") is False
        assert await cache.adelete("k") is False
        assert await cache.atouch("k") is False
        assert await cache.aget_many(["a", "b"]) == {}
        assert await cache.aset_many({"a": 1}) is False
        assert await cache.adelete_prefix("a") == 0
        assert await cache.aget_or_set("k", lambda: "computed") == "computed"
        assert await cache.aget_or_set("k", lambda: "again", refresh_after=1) == "again"
        await cache.aclear()

    with caplog.at_level(logging.ERROR, logger="covet.cache"):
        run(main())
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(
        "covet cache: Redis GET failed, carrying on without the cache: cannot connect to Redis at 127.0.0.1:")


def test_redis_down_plain_face_never_raises(caplog):
    cache = Cache(backend=RedisBackend(Redis(port=free_port()), log_interval=60))
    try:
        with caplog.at_level(logging.ERROR, logger="covet.cache"):
            assert cache.get("k") is None
            assert cache.set("k", 1) is False
            assert cache.incr("k") is None
            assert cache.get_or_set("k", lambda: 3) == 3
        assert len(caplog.records) == 1
    finally:
        cache.close()


def test_redis_single_flight_and_refresh_ahead(redis_clean):
    async def main():
        cache = redis_cache(redis_clean)
        calls = []

        async def factory():
            calls.append(1)
            await asyncio.sleep(0.05)
            return len(calls)

        assert await asyncio.gather(*[cache.aget_or_set("k", factory, ttl=10, refresh_after=0.05)
                                      for _ in range(20)]) == [1] * 20
        assert calls == [1]
        await asyncio.sleep(0.1)
        assert await cache.aget_or_set("k", factory, ttl=10, refresh_after=0.05) == 1  # stale
        await cache.single_flight.drain()
        assert await cache.aget("k") == 2
        await cache.aclose()
        await cache.backend.redis.close()
    run(main())


# ---------------------------------------------------------------- two levels

def test_two_level_serves_locally_within_local_ttl(redis_clean):
    async def main():
        clock = Clock()
        shared = RedisBackend(Redis(port=redis_clean.port))
        cache = Cache(ttl=60, backend=TwoLevelBackend(shared, local_ttl=5, clock=clock))
        other = Cache(ttl=60, backend=RedisBackend(Redis(port=redis_clean.port)))  # another worker
        await other.aset("k", "v1")
        assert await cache.aget("k") == "v1"  # from Redis, now kept locally
        await other.aset("k", "v2")
        assert await cache.aget("k") == "v1"  # local copy, within local_ttl
        clock.now += 5
        assert await cache.aget("k") == "v2"
        value, left = await cache.backend.aget_with_ttl("k")
        assert value == "v2" and 55 < left <= 60
        await cache.aset("mine", 1)
        assert await other.aget("mine") == 1
        assert await cache.aincr("count", 2) == 2 and await other.aget("count") == 2
        await other.aset("gm", 3)
        assert await cache.aget_many(["mine", "gm", "nope"]) == {"mine": 1, "gm": 3}
        assert await cache.ahas("gm") and await cache.adelete("gm") and not await other.ahas("gm")
        assert await cache.aset_many({"p:1": 1, "p:2": 2}) is True
        assert await cache.adelete_prefix("p:") == 2 and await cache.aget("p:1") is None
        assert await cache.atouch("mine", 100) is True
        stats = cache.stats()
        assert stats["size"] >= 1 and stats["hits"] >= 3
        await cache.aclear()
        assert await other.aget("mine") is None
        await cache.aclose()
        await shared.redis.close()
        await other.backend.redis.close()
    run(main())


def test_two_level_plain_face(redis_clean):
    shared = RedisBackend(Redis(port=redis_clean.port))
    cache = Cache(ttl=60, backend=TwoLevelBackend(shared, local_ttl=1))
    try:
        assert cache.set("k", [1]) is True
        assert cache.get("k") == [1] and cache.has("k")
        assert cache.get_or_set("g", lambda: "x") == "x"
        assert cache.incr("n") == 1 and cache.touch("n") is True
        assert cache.set_many({"a": 1}) and cache.get_many(["a", "b"]) == {"a": 1}
        assert cache.delete("a") is True and cache.delete_prefix("") >= 2
        cache.clear()
    finally:
        cache.close()


def test_a_database_row_is_stored_as_its_dict_and_a_datetime_is_still_refused(redis_clean):
    import datetime
    import sqlite3

    from covet.cache import Cache
    from covet.cache.redis import RedisBackend
    from covet.database.records import SQLiteRecord

    conn = sqlite3.connect(":memory:")
    conn.row_factory = SQLiteRecord
    row = conn.execute("SELECT 1 AS id, 'pen' AS name").fetchone()
    conn.close()
    cache = Cache(backend=RedisBackend.from_url(redis_clean.url))
    try:
        cache.set("row", row)
        assert cache.get("row") == {"id": 1, "name": "pen"}
        with pytest.raises(TypeError, match="Object of type datetime is not JSON serializable"):
            cache.set("when", datetime.datetime(2026, 12, 7, 13, 0, tzinfo=datetime.timezone.utc))
    finally:
        cache.close()
