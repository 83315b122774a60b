"""covet.cache: TTL + LRU memory store, both faces, single-flight, refresh-ahead, decorators,
write-through, and the Redis and two-level backends against a real redis-server."""
import asyncio
import logging
import math
import threading

import pytest

from covet.cache import MISSING, Cache, MemoryBackend, RedisBackend, TwoLevelBackend, cached
from covet.redis import Redis
from redis_fixture import free_port, redis_clean, redis_ms, redis_server  # noqa: F401  (fixtures)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def memory_cache(maxsize=100, ttl=10):
    clock = Clock()
    return Cache(ttl=ttl, backend=MemoryBackend(maxsize, clock=clock)), clock


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------- the memory store

def test_get_set_delete_has_and_none_values():
    cache, _ = memory_cache()
    assert cache.get("a") is None
    assert cache.get("a", "dflt") == "dflt"
    assert cache.set("a", 1) is True
    assert cache.get("a") == 1
    cache.set("none", None)
    assert cache.get("none", "dflt") is None
    assert cache.has("none") and not cache.has("zzz")
    assert cache.delete("a") is True and cache.delete("a") is False
    assert cache.get("a") is None
    cache.clear()
    assert cache.stats()["size"] == 0


def test_expired_entries_are_never_returned():
    cache, clock = memory_cache(ttl=10)
    cache.set("a", 1)
    cache.set("b", 2, ttl=1.5)
    cache.set("c", 3, ttl=math.inf)
    clock.now += 1.4999
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, 2, 3)
    clock.now += 0.0001  # exactly at the deadline: gone
    assert cache.get("b") is None and not cache.has("b")
    clock.now += 8.5
    assert cache.get("a") is None
    clock.now += 10 ** 9
    assert cache.get("c") == 3
    assert cache.stats() == {"hits": 4, "misses": 2, "evictions": 0, "expirations": 2, "size": 1}


def test_lru_eviction_keeps_recently_used_and_counts():
    cache, clock = memory_cache(maxsize=3)
    for k in "abc":
        cache.set(k, k)
    assert cache.get("a") == "a"  # a is now the most recent
    cache.set("d", "d")  # evicts b
    assert [k for k in "abcd" if cache.has(k)] == ["a", "c", "d"]
    cache.set("e", "e", ttl=1)  # evicts a (live)
    clock.now += 2
    cache.set("f", "f")  # evicts c (live)
    cache.set("g", "g")  # evicts d (live)
    cache.set("h", "h")  # evicts e (expired): counted as an expiration
    assert cache.stats() == {"hits": 1, "misses": 0, "evictions": 4, "expirations": 1, "size": 3}
    assert [k for k in "efgh" if cache.has(k)] == ["f", "g", "h"]


def test_a_million_distinct_keys_stay_within_maxsize():
    cache = Cache(maxsize=1000, ttl=60)
    for i in range(1_000_000):
        cache.set("k%d" % i, i)
    stats = cache.stats()
    assert stats["size"] == 1000
    assert stats["evictions"] == 999_000
    assert cache.get("k999999") == 999999 and cache.get("k0") is None
    assert len(cache.backend._data) == 1000


def test_many_keys_get_set_incr_touch_delete_prefix():
    cache, clock = memory_cache()
    assert cache.set_many({"user:1": "a", "user:2": "b", "item:1": "c"}, ttl=5) is True
    assert cache.get_many(["user:1", "user:3", "item:1"]) == {"user:1": "a", "item:1": "c"}
    assert cache.incr("n") == 1 and cache.incr("n", 10) == 11 and cache.decr("n", 2) == 9
    assert cache.touch("user:1", ttl=100) is True and cache.touch("nope") is False
    clock.now += 6
    assert cache.get("user:1") == "a" and cache.get("user:2") is None
    assert cache.delete_prefix("user:") == 1
    assert cache.delete_prefix("zzz") == 0
    cache.set(("tuple", "key"), 1)  # any hashable in memory; ignored by delete_prefix
    assert cache.delete_prefix("") == 2
    assert cache.get(("tuple", "key")) == 1


def test_incr_keeps_the_deadline_of_an_existing_entry():
    cache, clock = memory_cache(ttl=10)
    cache.incr("n")
    clock.now += 9
    assert cache.incr("n") == 2
    clock.now += 1
    assert cache.get("n") is None
    assert cache.incr("n") == 1  # expired counter starts again


@pytest.mark.parametrize("value", ["1", 1.5, True, None, [1]])
def test_incr_refuses_non_integer_values(value):
    cache, _ = memory_cache()
    cache.set("x", value)
    with pytest.raises(TypeError) as e:
        cache.incr("x")
    assert str(e.value) == "cannot increment 'x': its cached value is not an integer"


@pytest.mark.parametrize("delta", [1.5, "1", True, None])
def test_incr_amount_must_be_an_int(delta):
    cache, _ = memory_cache()
    with pytest.raises(TypeError) as e:
        cache.incr("x", delta)
    assert str(e.value) == "incr/decr amount must be an int, got %r" % (delta,)


@pytest.mark.parametrize("ttl, exc, message", [
    (0, ValueError, "ttl must be > 0 seconds (math.inf for no expiry), got 0"),
    (-1, ValueError, "ttl must be > 0 seconds (math.inf for no expiry), got -1"),
    (float("nan"), ValueError, "ttl must be > 0 seconds (math.inf for no expiry), got nan"),
    ("5", TypeError, "ttl must be a number of seconds, got '5'"),
    (True, TypeError, "ttl must be a number of seconds, got True"),
])
def test_bad_ttls_are_rejected_everywhere(ttl, exc, message):
    cache, _ = memory_cache()
    for call in (lambda: Cache(ttl=ttl), lambda: cache.set("k", 1, ttl=ttl), lambda: cache.touch("k", ttl),
                 lambda: cache.set_many({"k": 1}, ttl), lambda: cache.cached(ttl=ttl),
                 lambda: cache.get_or_set("k", lambda: 1, ttl=ttl)):
        with pytest.raises(exc) as e:
            call()
        assert str(e.value) == message


@pytest.mark.parametrize("maxsize", [0, -5, 1.5, True, "10"])
def test_bad_maxsize(maxsize):
    with pytest.raises(ValueError) as e:
        Cache(maxsize=maxsize)
    assert str(e.value) == "maxsize must be a positive integer, got %r" % (maxsize,)


def test_ttl_none_means_no_expiry():
    clock = Clock()
    cache = Cache(ttl=None, backend=MemoryBackend(clock=clock))
    cache.set("k", 1)
    clock.now += 10 ** 12
    assert cache.get("k") == 1


def test_unhashable_key_is_a_type_error():
    cache, _ = memory_cache()
    with pytest.raises(TypeError):
        cache.set(["list"], 1)


def test_thread_safe_under_contention():
    cache = Cache(maxsize=50, ttl=60)
    errors = []

    def work(t):
        try:
            for i in range(5000):
                cache.incr("counter")
                cache.set("k%d-%d" % (t, i % 100), i)
                cache.get("k%d-%d" % (t, (i * 7) % 100))
                # Under the backend's lock: a store inserts, then evicts, inside it, so an
                # unlocked peek could see the 51st entry between the two.
                with cache.backend._lock:
                    assert len(cache.backend._data) <= 50
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.get("counter") == 40000
    assert cache.stats()["size"] == 50


def test_async_face():
    async def main():
        cache, clock = memory_cache()
        assert await cache.aset("a", 1) is True
        assert await cache.aget("a") == 1 and await cache.aget("b", 2) == 2
        assert await cache.aset_many({"x:1": 1, "x:2": 2}) is True
        assert await cache.aget_many(["x:1", "x:3"]) == {"x:1": 1}
        assert await cache.aincr("n", 5) == 5 and await cache.adecr("n") == 4
        assert await cache.atouch("a", 100) is True
        assert await cache.ahas("a") is True
        assert await cache.adelete_prefix("x:") == 2
        assert await cache.adelete("a") is True
        await cache.aclear()
        assert cache.stats()["size"] == 0
        await cache.aclose()
    run(main())


# ---------------------------------------------------------------- single-flight

def joined_by(cache, n):
    """An event set once ``n`` misses have joined the key's flight (the leader's included).

    A factory that waits on it outlasts every waiter's arrival however the threads are
    scheduled; a fixed sleep did not, on a busy machine.
    """
    joined = []
    everyone = threading.Event()
    join = cache._join

    def counting_join(key, loop):
        flight = join(key, loop)
        joined.append(key)
        if len(joined) == n:
            everyone.set()
        return flight

    cache._join = counting_join
    return everyone


def test_sync_single_flight_runs_the_factory_once():
    cache = Cache()
    calls = []
    barrier = threading.Barrier(10)
    results = []
    everyone = joined_by(cache, 10)

    def factory():
        calls.append(1)
        assert everyone.wait(10)
        return {"v": 1}

    def worker():
        barrier.wait()
        results.append(cache.get_or_set("k", factory))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert results == [{"v": 1}] * 10
    assert all(r is results[0] for r in results)
    assert cache.get_or_set("k", factory) == {"v": 1} and calls == [1]


def test_sync_factory_error_reaches_every_waiter_and_is_not_cached():
    cache = Cache()
    barrier = threading.Barrier(6)
    seen = []
    calls = []
    everyone = joined_by(cache, 6)

    def factory():
        calls.append(1)
        assert everyone.wait(10)
        raise LookupError("db down")

    def worker():
        barrier.wait()
        try:
            cache.get_or_set("k", factory)
        except LookupError as exc:
            seen.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert len(seen) == 6 and all(str(e) == "db down" for e in seen)
    assert cache.has("k") is False
    assert cache.get_or_set("k", lambda: "ok") == "ok"


def test_sync_get_or_set_refuses_an_async_factory():
    cache = Cache()

    async def factory():
        return 1

    with pytest.raises(TypeError) as e:
        cache.get_or_set("k", factory)
    assert str(e.value) == "get_or_set() got an async factory for 'k'; use aget_or_set()"
    assert cache._flights == {}


def test_async_single_flight_with_async_and_sync_factories():
    async def main():
        cache = Cache()
        calls = []

        async def afactory():
            calls.append("a")
            await asyncio.sleep(0.05)
            return "A"

        def sfactory():
            calls.append("s")
            return "S"

        got = await asyncio.gather(*[cache.aget_or_set("a", afactory) for _ in range(50)])
        assert got == ["A"] * 50 and calls == ["a"]
        got = await asyncio.gather(*[cache.aget_or_set("s", sfactory) for _ in range(50)])
        assert got == ["S"] * 50 and calls == ["a", "s"]
        assert await cache.aget_or_set("a", afactory) == "A" and len(calls) == 2
        await cache.aclose()
    run(main())


def test_async_factory_error_reaches_every_waiter_and_is_not_cached():
    async def main():
        cache = Cache()
        calls = []

        async def factory():
            calls.append(1)
            await asyncio.sleep(0.02)
            raise KeyError("missing row")

        got = await asyncio.gather(*[cache.aget_or_set("k", factory) for _ in range(20)], return_exceptions=True)
        assert calls == [1]
        assert all(isinstance(g, KeyError) and g.args == ("missing row",) for g in got)
        assert await cache.ahas("k") is False
        assert await cache.aget_or_set("k", lambda: 7) == 7
    run(main())


def test_cancelled_caller_does_not_cancel_the_shared_factory():
    async def main():
        cache = Cache()
        release = asyncio.Event()
        calls = []

        async def factory():
            calls.append(1)
            await release.wait()
            return "done"

        first = asyncio.ensure_future(cache.aget_or_set("k", factory))
        second = asyncio.ensure_future(cache.aget_or_set("k", factory))
        await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.sleep(0)
        release.set()
        assert await second == "done"
        assert first.cancelled()
        assert calls == [1] and cache.get("k") == "done"
    run(main())


def test_thread_waits_on_an_async_leader_and_sync_call_on_the_loop_does_not_deadlock():
    async def main():
        cache = Cache()
        release = asyncio.Event()

        async def factory():
            await release.wait()
            return "from-async"

        leader = asyncio.ensure_future(cache.aget_or_set("k", factory))
        await asyncio.sleep(0.01)
        # A plain call on the loop's own thread cannot wait for the loop: it computes itself.
        assert cache.get_or_set("k", lambda: "inline") == "inline"
        cache.delete("k")
        out = []
        t = threading.Thread(target=lambda: out.append(cache.get_or_set("k", lambda: "thread")))
        t.start()
        await asyncio.sleep(0.05)
        release.set()
        assert await leader == "from-async"
        await asyncio.get_running_loop().run_in_executor(None, t.join)
        assert out == ["from-async"]
    run(main())


# ---------------------------------------------------------------- refresh-ahead

def test_refresh_ahead_sync_serves_stale_and_refreshes_in_background():
    clock = Clock()
    cache = Cache(ttl=10, backend=MemoryBackend(clock=clock))
    version = [0]

    def factory():
        version[0] += 1
        return "v%d" % version[0]

    assert cache.get_or_set("k", factory, refresh_after=5) == "v1"
    clock.now += 4.9
    assert cache.get_or_set("k", factory, refresh_after=5) == "v1"
    assert version == [1]
    clock.now += 0.2
    assert cache.get_or_set("k", factory, refresh_after=5) == "v1"  # stale, served at once
    cache.close()  # waits for the refresh thread
    assert version == [2]
    assert cache.get("k") == "v2"
    clock.now += 9.9
    assert cache.get("k") == "v2"  # the refresh gave it a full ttl


def test_refresh_ahead_async_and_a_failing_refresh_keeps_the_stale_value(caplog):
    async def main():
        clock = Clock()
        cache = Cache(ttl=10, backend=MemoryBackend(clock=clock))
        answers = ["v1", RuntimeError("backend flaky"), "v3"]

        async def factory():
            a = answers.pop(0)
            if isinstance(a, Exception):
                raise a
            return a

        assert await cache.aget_or_set("k", factory, refresh_after=3) == "v1"
        clock.now += 3
        assert await cache.aget_or_set("k", factory, refresh_after=3) == "v1"
        await asyncio.gather(*cache._tasks)
        assert cache.get("k") == "v1"  # refresh failed: stale value stays
        assert await cache.aget_or_set("k", factory, refresh_after=3) == "v1"
        await cache.aclose()
        assert cache.get("k") == "v3"

    with caplog.at_level(logging.WARNING, logger="covet.cache"):
        run(main())
    assert [r.getMessage() for r in caplog.records] == [
        "covet cache: refreshing 'k' failed; the cached value stays until it expires: RuntimeError('backend flaky')"]


@pytest.mark.parametrize("ttl, refresh_after, message", [
    (10, 10, "refresh_after (10 s) must be shorter than the ttl (10 s)"),
    (None, 5, "refresh_after needs a finite ttl: an entry that never expires has no age to refresh at"),
    (10, 0, "refresh_after must be > 0 seconds (math.inf for no expiry), got 0"),
])
def test_bad_refresh_after(ttl, refresh_after, message):
    cache = Cache(ttl=ttl)
    with pytest.raises(ValueError) as e:
        cache.get_or_set("k", lambda: 1, refresh_after=refresh_after)
    assert str(e.value) == message
    with pytest.raises(ValueError):
        cache.cached(refresh_after=refresh_after)


# ---------------------------------------------------------------- decorators

def test_cached_sync_function_keys_and_override():
    cache = Cache()
    calls = []

    @cache.cached(ttl=30)
    def add(a, b=0, *, scale=1):
        """Add."""
        calls.append((a, b, scale))
        return (a + b) * scale

    assert add(1, 2) == 3 and add(1, 2) == 3
    assert add(1, b=2) == 3  # a different key from add(1, 2), by design
    assert add(1, 2, scale=10) == 30
    assert calls == [(1, 2, 1), (1, 2, 1), (1, 2, 10)]
    assert add.__name__ == "add" and add.__doc__ == "Add."
    qual = __name__ + ".test_cached_sync_function_keys_and_override.<locals>.add"
    assert add.cache_key(1, 2) == qual + "(1, 2)"
    assert add.cache_key(1, b=2, scale=3) == qual + "(1, b=2, scale=3)"
    assert add.cache_key("x", [1, (2,)], {"b": None, "a": b"z"}, {3, 1}) == (
        qual + "('x', [1, (2,)], {'a': b'z', 'b': None}, set({1, 3}))")
    cache.delete(add.cache_key(1, 2))
    add(1, 2)
    assert len(calls) == 4

    @cache.cached(key=lambda user_id: "user:%d" % user_id)
    def load(user_id):
        return {"id": user_id}

    assert load(7) == {"id": 7} and cache.get("user:7") == {"id": 7}


def test_cached_bare_async_and_module_level():
    async def main():
        cache = Cache()
        calls = []

        @cache.cached
        async def square(x):
            calls.append(x)
            await asyncio.sleep(0)
            return x * x

        assert await asyncio.gather(square(3), square(3), square(4)) == [9, 9, 16]
        assert calls == [3, 4]

        @cached(cache, ttl=5)
        def double(x):
            calls.append(("d", x))
            return 2 * x

        assert double(2) == 4 and double(2) == 4
        assert calls == [3, 4, ("d", 2)]
    run(main())


def test_cached_rejects_arguments_it_cannot_key():
    cache = Cache()

    @cache.cached()
    def f(obj):
        return 1

    with pytest.raises(TypeError) as e:
        f(object())
    assert str(e.value) == "cannot build a cache key from a object argument; pass key= to cached()"
    with pytest.raises(TypeError, match="^key must be a callable"):
        cache.cached(key="fixed")
    with pytest.raises(TypeError, match="^cached\\(\\) needs a Cache"):
        cached("not a cache")
    with pytest.raises(TypeError, match="must be called"):
        cached(cache, f)


# ---------------------------------------------------------------- write-through

def test_set_through_writes_first_then_caches():
    cache = Cache()
    store = {}

    def write(user):
        store[user["id"]] = user
        return "saved"

    assert cache.set_through("user:1", {"id": 1}, write) == "saved"
    assert store == {1: {"id": 1}} and cache.get("user:1") == {"id": 1}

    def failing(user):
        raise IOError("disk full")

    with pytest.raises(IOError, match="disk full"):
        cache.set_through("user:1", {"id": 1, "v": 2}, failing)
    assert cache.has("user:1") is False  # may no longer match the store

    async def awrite(user):
        return "nope"

    with pytest.raises(TypeError, match=r"^set_through\(\) got an async write; use aset_through\(\)$"):
        cache.set_through("user:2", {}, awrite)
    assert cache.has("user:2") is False


def test_aset_through_accepts_async_and_plain_writers():
    async def main():
        cache = Cache()
        written = []

        async def awrite(v):
            written.append(v)
            return len(written)

        assert await cache.aset_through("a", 1, awrite) == 1
        assert await cache.aset_through("b", 2, written.append) is None
        assert written == [1, 2] and cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    run(main())


# ---------------------------------------------------------------- Redis backend

def redis_cache(server, **kw):
    return Cache(ttl=30, backend=RedisBackend(Redis(port=server.port), **kw))


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
        await asyncio.gather(*cache._tasks)
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


def test_missing_sentinel_is_falsy_and_named():
    assert not MISSING and repr(MISSING) == "MISSING"
    assert repr(Cache()) == "<Cache MemoryBackend ttl=300>"


# ---------------------------------------------------------------- cache_page through the app

from covet.core.app import Covet  # noqa: E402
from covet.core.requests import Request  # noqa: E402
from covet.core.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402
from covet.testing import TestClient  # noqa: E402


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
