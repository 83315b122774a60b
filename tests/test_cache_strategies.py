"""covet.cache strategies: single-flight, refresh-ahead, the cached decorator, write-through."""
import asyncio
import logging
import threading

import pytest

from cache_helpers import Clock, joined_by, run
from covet.cache import Cache, MemoryBackend, cached


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
    assert cache.single_flight.flights == {}


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
        await cache.single_flight.drain()
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


@pytest.mark.slow  # a soak test: run once, on the main interpreter
def test_cached_under_100000_distinct_hostile_arguments_stays_within_its_bounds():
    from covet.cache.keys import MAX_KEY_LENGTH

    backend = MemoryBackend(maxsize=5_000, maxbytes=3_000_000)
    cache = Cache(backend=backend)
    calls = []

    @cache.cached(ttl=60)
    def search(term):
        calls.append(1)
        return "result for " + term

    for i in range(100_000):
        term = "%d:" % i + "q" * (i % 2000)  # what a client typed: distinct, up to 2 KB
        assert search(term).endswith(term)
    assert len(calls) == 100_000
    stats = cache.stats()
    assert stats["size"] == len(backend._data) <= 5_000
    assert backend.total_bytes <= 3_000_000
    assert stats["evictions"] == 100_000 - stats["size"]
    assert max(len(key) for key in backend._data) <= MAX_KEY_LENGTH + len("sha256:") + 64
    assert cache.single_flight.flights == {}  # nothing left behind per key


def test_a_miss_that_joins_after_the_flight_landed_takes_the_stored_value_not_a_second_run():
    # The race: a caller misses, and before it joins, another caller's flight stores the value and
    # lands. Forced here by a backend whose first lookup lets the other caller run meanwhile.
    from covet.cache import Cache
    from covet.cache.memory import MemoryBackend

    calls = []

    async def factory():
        calls.append(1)
        return {"v": len(calls)}

    async def main():
        other = {}

        class SlowFirstMiss(MemoryBackend):
            first = True

            async def aget(self, key, default=None):
                value = await super().aget(key, default)
                if self.first:
                    self.first = False
                    await other["call"]  # the other caller's whole flight runs during this lookup
                return value

        cache = Cache(ttl=30, backend=SlowFirstMiss())
        other["call"] = asyncio.ensure_future(cache.aget_or_set("k", factory))
        first = await cache.aget_or_set("k", factory)
        second = await other["call"]
        await cache.aclose()
        return first, second

    assert asyncio.run(main()) == ({"v": 1}, {"v": 1})
    assert calls == [1]
