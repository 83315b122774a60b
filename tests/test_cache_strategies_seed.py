"""The API template's cache strategies under their names (docs/caching.md), on memory, Redis and two-level:
get_or_fetch, get_with_refresh, set_write_through, set_write_behind, get_many/set_many, invalidate_pattern,
@cached(key_prefix=, key_func=, strategy=)."""
import asyncio
import logging
import os
import signal
import textwrap
import threading

import pytest

from covet.cache import (Cache, CacheLayer, CacheManager, CacheStrategy, MemoryBackend, MultiLevelCache, RedisBackend,
                         TwoLevelBackend, cached)
from covet.cache.keys import glob_escape, glob_regex
from covet.redis import Redis
from cache_helpers import joined_by
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)
from server_helpers import CovetProcess, http_get

KINDS = ["memory", "redis", "two-level"]


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(params=KINDS)
def make_backend(request):
    """A factory of fresh backends of one kind (Redis ones on the test server, each closing its own client)."""
    kind = request.param
    if kind == "memory":
        return lambda prefix="t:": MemoryBackend(1000)
    server = request.getfixturevalue("redis_clean")

    def make(prefix="t:"):
        backend = RedisBackend.from_url(server.url, prefix=prefix)
        return backend if kind == "redis" else TwoLevelBackend(backend)

    make.server = server
    return make


# ---------------------------------------------------------------- cache-aside: get_or_fetch

def test_get_or_fetch_runs_the_fetch_once_for_concurrent_callers(make_backend):
    async def main():
        layer = CacheLayer(make_backend(), ttl=30)
        calls = []
        release = asyncio.Event()

        async def fetch():
            calls.append(1)
            await release.wait()
            return {"id": 123}

        everyone = joined_by(layer.cache, 8)
        callers = [asyncio.ensure_future(layer.get_or_fetch("user:123", fetch, ttl=300)) for _ in range(8)]
        assert await asyncio.get_running_loop().run_in_executor(None, everyone.wait, 10)
        release.set()
        results = await asyncio.gather(*callers)
        assert results == [{"id": 123}] * 8 and calls == [1]
        assert await layer.get_or_fetch("user:123", fetch) == {"id": 123} and calls == [1]
        assert await layer.get("user:123") == {"id": 123}
        await layer.close()

    run(main())


def test_a_fetch_that_raises_reaches_every_caller_once_and_caches_nothing(make_backend):
    async def main():
        cache = Cache(ttl=30, backend=make_backend())
        calls = []
        release = asyncio.Event()

        async def fetch():
            calls.append(1)
            await release.wait()
            raise LookupError("db down")

        everyone = joined_by(cache, 6)
        callers = [asyncio.ensure_future(cache.aget_or_fetch("user:1", fetch)) for _ in range(6)]
        assert await asyncio.get_running_loop().run_in_executor(None, everyone.wait, 10)
        release.set()
        outcomes = await asyncio.gather(*callers, return_exceptions=True)
        assert calls == [1]
        assert len(outcomes) == 6 and all(isinstance(o, LookupError) and str(o) == "db down" for o in outcomes)
        assert not await cache.ahas("user:1")
        assert await cache.aget_or_fetch("user:1", lambda: "second") == "second"  # the next call tries again
        await cache.aclose()

    run(main())


def test_plain_get_or_fetch_and_its_error(make_backend):
    cache = Cache(ttl=30, backend=make_backend())

    def boom():
        raise KeyError("gone")

    with pytest.raises(KeyError):
        cache.get_or_fetch("k", boom)
    assert not cache.has("k")
    assert cache.get_or_fetch("k", lambda: [1, 2], ttl=60) == [1, 2]
    assert cache.get_or_fetch("k", boom) == [1, 2]
    cache.close()


# ---------------------------------------------------------------- refresh-ahead: get_with_refresh

def test_get_with_refresh_serves_the_old_value_and_refreshes_once_past_80_percent(make_backend):
    async def main():
        cache = Cache(ttl=30, backend=make_backend())
        calls = []
        release = asyncio.Event()

        async def fetch():
            calls.append(1)
            await release.wait()
            return "new"

        # Fresh: 10 s left of a 10 s ttl, no refresh.
        await cache.aset("cfg", "old", ttl=10)
        assert await cache.aget_with_refresh("cfg", fetch, ttl=10) == "old"
        await cache.single_flight.drain()
        assert calls == []
        # 1 s left of a 10 s ttl: 90 % old. Every caller gets "old" at once; one refresh runs.
        await cache.aset("cfg", "old", ttl=1)
        got = [await cache.aget_with_refresh("cfg", fetch, ttl=10) for _ in range(5)]
        assert got == ["old"] * 5
        await asyncio.sleep(0)
        assert calls == [1]
        release.set()
        await cache.single_flight.drain()
        value, left = await cache.backend.aget_with_ttl("cfg")
        assert value == "new" and 9 < left <= 10
        await cache.aclose()

    run(main())


def test_get_with_refresh_keeps_the_value_when_the_refresh_raises(make_backend, caplog):
    async def main():
        cache = Cache(ttl=30, backend=make_backend())

        async def fetch():
            raise ConnectionError("source down")

        await cache.aset("cfg", "old", ttl=1)
        with caplog.at_level(logging.WARNING, logger="covet.cache"):
            assert await cache.aget_with_refresh("cfg", fetch, ttl=10) == "old"
            await cache.single_flight.drain()
        assert await cache.aget("cfg") == "old"
        assert "refreshing 'cfg' failed" in caplog.text
        with pytest.raises(ValueError, match="finite ttl"):
            await cache.aget_with_refresh("x", fetch, ttl=float("inf"))
        await cache.aclose()

    run(main())


def test_plain_get_with_refresh_refreshes_on_a_thread():
    cache = Cache(ttl=30)
    done = threading.Event()

    def fetch():
        done.set()
        return "new"

    cache.set("cfg", "old", ttl=1)
    assert cache.get_with_refresh("cfg", fetch, ttl=10) == "old"
    assert done.wait(10)
    cache.close()  # waits for the refresh thread
    assert cache.get("cfg") == "new"


# ---------------------------------------------------------------- write-through

def test_set_write_through_writes_the_store_then_the_cache(make_backend):
    async def main():
        layer = CacheLayer(make_backend(), ttl=30)
        store = {}

        async def save(value):
            store["user:1"] = value
            return "saved"

        assert await layer.set_write_through("user:1", {"n": 1}, save, ttl=300) == "saved"
        assert store == {"user:1": {"n": 1}} and await layer.get("user:1") == {"n": 1}

        def broken(value):
            raise OSError("disk full")

        with pytest.raises(OSError, match="disk full"):
            await layer.set_write_through("user:1", {"n": 2}, broken)
        assert not await layer.has("user:1")  # the old copy may no longer match the store
        await layer.close()

    run(main())


# ---------------------------------------------------------------- write-behind

def test_set_write_behind_caches_at_once_and_writes_in_one_coalesced_batch(make_backend):
    async def main():
        cache = Cache(ttl=30, backend=make_backend())
        cache.write_behind.interval = 3600  # only the explicit flush writes
        written = []

        async def save(value):
            written.append(value)

        for i in range(5):
            assert await cache.aset_write_behind("user:%d" % i, {"v": i}, save) is True
        assert await cache.aset_write_behind("user:0", {"v": "last"}, save) is True  # replaces {"v": 0}
        assert await cache.aget("user:0") == {"v": "last"}
        assert written == [] and len(cache.write_behind) == 5
        await cache.aflush()
        assert sorted(map(str, written)) == sorted(map(str, [{"v": "last"}] + [{"v": i} for i in range(1, 5)]))
        assert len(written) == 5 and cache.write_behind.written == 5
        await cache.aclose()

    run(main())


def test_plain_set_write_behind_runs_on_the_interval_and_flushes_at_close(make_backend):
    cache = Cache(ttl=30, backend=make_backend())
    cache.write_behind.interval = 0.01
    first = threading.Event()
    written = []

    def save(value):
        written.append(value)
        first.set()

    assert cache.set_write_behind("a", 1, save) is True
    assert first.wait(10)  # the interval, not a flush, wrote it
    cache.write_behind.interval = 3600
    cache.set_write_behind("b", 2, save)
    cache.set_write_behind("c", 3, save)
    cache.close()
    assert sorted(written) == [1, 2, 3]
    assert cache.get("c") == 3  # still usable after close
    with pytest.raises(TypeError, match="use aset_write_behind"):
        async def asave(value):
            pass
        cache.set_write_behind("d", 4, asave)
    cache.close()


def test_a_failing_write_is_retried_then_dropped_logged_and_uncached(make_backend, caplog):
    async def main():
        cache = Cache(ttl=30, backend=make_backend())
        cache.write_behind.interval = 3600
        attempts = []

        def save(value):
            attempts.append(value)
            if len(attempts) < 2:
                raise OSError("transient")

        await cache.aset_write_behind("ok", "v", save)
        await cache.aflush()
        assert attempts == ["v"] and len(cache.write_behind) == 1  # put back for the next batch
        await cache.aflush()
        assert attempts == ["v", "v"] and len(cache.write_behind) == 0 and await cache.aget("ok") == "v"

        def never(value):
            raise OSError("db gone")

        await cache.aset_write_behind("bad", "x", never)
        with caplog.at_level(logging.ERROR, logger="covet.cache"):
            for _ in range(cache.write_behind.max_attempts):
                await cache.aflush()
        assert cache.write_behind.dropped == 1 and len(cache.write_behind) == 0
        assert not await cache.ahas("bad")
        assert "write-behind of 'bad' failed 3 times and was dropped" in caplog.text
        await cache.aclose()

    run(main())


def test_a_full_write_behind_queue_writes_through(make_backend):
    async def main():
        cache = Cache(ttl=30, backend=make_backend())
        cache.write_behind.interval = 3600
        cache.write_behind.max_pending = 2
        written = []
        assert await cache.aset_write_behind("a", 1, written.append) is True
        assert await cache.aset_write_behind("b", 2, written.append) is True
        assert await cache.aset_write_behind("a", 10, written.append) is True  # a queued key: replaced
        assert await cache.aset_write_behind("c", 3, written.append) is False  # full: written now
        assert written == [3] and await cache.aget("c") == 3
        await cache.aclose()
        assert sorted(written) == [2, 3, 10]

    run(main())


def test_write_behind_on_the_two_level_face(redis_clean):
    async def main():
        cache = MultiLevelCache([{"type": "memory", "size": 100}, {"type": "redis", "url": redis_clean.url}])
        written = []
        await cache.set_write_behind("user:1", {"n": 1}, written.append)
        assert await cache.get("user:1") == {"n": 1}
        await cache.close()  # the shutdown flush
        assert written == [{"n": 1}]

    run(main())


SERVED_APP = textwrap.dedent('''
    import os
    from covet import Covet

    app = Covet()
    OUT = os.environ["WRITE_BEHIND_OUT"]


    def save(value):
        with open(OUT, "a") as f:
            f.write("%d\\n" % value)


    async def asave(value):
        save(value)


    @app.get("/put/{n:int}")
    async def put(n: int):
        cache = app.memory_cache
        cache.write_behind.interval = 3600  # nothing is written before the shutdown
        await cache.aset_write_behind("k:%d" % n, n, save if n % 2 else asave)
        return {"waiting": len(cache.write_behind)}
''')


def test_sigterm_writes_every_queued_write_behind_value_exactly_once(tmp_path):
    (tmp_path / "served.py").write_text(SERVED_APP)
    out = tmp_path / "written.txt"
    n = 20
    with CovetProcess(["run", "served.py", "--port", "0"], cwd=str(tmp_path),
                      env={"WRITE_BEHIND_OUT": str(out)}) as p:
        port = p.wait_for(r"^covet: serving on http://127\.0\.0\.1:(\d+) ", stream="out").group(1)
        for i in range(n):
            assert http_get("http://127.0.0.1:%s/put/%d" % (port, i)) == (200, b'{"waiting":%d}' % (i + 1))
        assert not out.exists()
        assert p.stop(signal.SIGTERM) == 0
    assert sorted(int(line) for line in out.read_text().splitlines()) == list(range(n))


# ---------------------------------------------------------------- get_many / set_many

def test_get_many_and_set_many_on_every_backend(make_backend):
    async def main():
        layer = CacheLayer(make_backend(), ttl=30)
        await layer.set_many({"user:1": {"id": 1}, "user:2": {"id": 2}}, ttl=300)
        assert await layer.get_many(["user:1", "user:2", "user:3"]) == {"user:1": {"id": 1}, "user:2": {"id": 2}}
        await layer.close()

    run(main())


def test_get_many_and_set_many_are_one_round_trip_on_redis(redis_clean):
    async def main():
        client = Redis(port=redis_clean.port)
        trips = []
        roundtrip = client._roundtrip

        async def counted(payload, count, reusable=True):
            trips.append(count)
            return await roundtrip(payload, count, reusable)

        client._roundtrip = counted
        cache = Cache(ttl=30, backend=RedisBackend(client))
        await cache.aset_many({"user:%d" % i: i for i in range(50)}, ttl=300)
        assert trips == [50]  # fifty SET PX, one write and one read
        found = await cache.aget_many(["user:%d" % i for i in range(60)])
        assert found == {"user:%d" % i: i for i in range(50)} and trips == [50, 1]
        await cache.aclose()
        await client.close()

    run(main())


# ---------------------------------------------------------------- invalidate_pattern

def test_invalidate_pattern_removes_the_matching_keys_only(make_backend):
    async def main():
        layer = CacheLayer(make_backend(), ttl=30)
        await layer.set_many({"user:1": 1, "user:2": 2, "user:1:posts": 3, "users": 4, "post:1": 5, "user:[x]": 6})
        assert await layer.invalidate_pattern("user:?") == 2
        assert await layer.get_many(["user:1", "user:2", "user:1:posts"]) == {"user:1:posts": 3}
        assert await layer.invalidate_pattern("user:\\[*") == 1  # a literal [ in a key
        assert await layer.invalidate_pattern("user:*") == 1
        assert await layer.get_many(["users", "post:1", "user:[x]"]) == {"users": 4, "post:1": 5}
        with pytest.raises(ValueError, match="would remove every entry"):
            await layer.invalidate_pattern("*")
        with pytest.raises(ValueError, match="would remove every entry"):
            await layer.invalidate_pattern("")
        with pytest.raises(ValueError, match="never closed"):
            await layer.invalidate_pattern("user:[")
        assert await layer.invalidate_pattern("**", allow_all=True) == 2
        await layer.close()

    run(main())


def test_invalidate_pattern_escapes_a_prefix_full_of_glob_characters(make_backend):
    if not hasattr(make_backend, "server"):
        pytest.skip("a prefix is a Redis backend's")
    cache = Cache(ttl=30, backend=make_backend(prefix="a*[b]?:"))
    neighbour = Cache(ttl=30, backend=make_backend(prefix="aXb!:"))  # what the unescaped prefix would match
    cache.set("user:1", 1)
    neighbour.set("user:1", 2)
    assert cache.invalidate_pattern("user:*") == 1
    assert neighbour.get("user:1") == 2 and cache.get("user:1") is None
    assert make_backend.server.command("EXISTS", "aXb!:user:1") == b":1\r\n"
    cache.close()
    neighbour.close()


def test_two_level_invalidation_reaches_both_levels(redis_clean):
    cache = Cache(ttl=30, backend=TwoLevelBackend(RedisBackend.from_url(redis_clean.url), local_ttl=60))
    cache.set("user:1", 1)
    assert cache.backend.local.has("user:1")
    assert cache.invalidate_pattern("user:*") == 1
    assert not cache.backend.local.has("user:1") and cache.get("user:1") is None
    cache.close()


def test_glob_matches_as_redis_match_does():
    cases = [("user:*", "user:", True), ("u?er", "user", True), ("u?er", "uer", False), ("[a-c]x", "bx", True),
             ("[c-a]x", "bx", True), ("[^a]x", "ax", False), ("[^a]x", "bx", True), ("a\\*b", "a*b", True),
             ("a\\*b", "axb", False), ("x[]", "x", False), ("a\\", "a\\", True), ("*", "any\nline", True)]
    for pattern, key, expected in cases:
        assert (glob_regex(pattern).match(key) is not None) is expected, (pattern, key)
    assert glob_escape("a*[b]?\\:") == "a\\*\\[b\\]\\?\\\\:"
    assert glob_regex(glob_escape("a*[b]?\\:")).match("a*[b]?\\:")


# ---------------------------------------------------------------- @cached and CacheStrategy

def test_cached_with_key_prefix_key_func_and_refresh_ahead(make_backend):
    async def main():
        cache = CacheManager(backend=make_backend(), default_ttl=30)
        calls = []

        @cached(cache, key_prefix="user", ttl=600, key_func=lambda user_id, posts: "%s:%s" % (user_id, posts),
                strategy=CacheStrategy.REFRESH_AHEAD)
        async def get_user_with_posts(user_id: int, include_posts: bool = False):
            calls.append((user_id, include_posts))
            return {"id": user_id, "posts": include_posts}

        assert await get_user_with_posts(7) == {"id": 7, "posts": False}
        assert await get_user_with_posts(7, False) == {"id": 7, "posts": False}  # the same key
        assert calls == [(7, False)] and get_user_with_posts.cache_key(7) == "user:7:False"
        # Aged to 90 % of its ttl: served, and refreshed once in the background.
        await cache.aset("user:7:False", {"id": 7, "posts": "stale"}, ttl=60)
        assert await get_user_with_posts(7) == {"id": 7, "posts": "stale"}
        await cache.single_flight.drain()
        assert calls == [(7, False), (7, False)] and await get_user_with_posts(7) == {"id": 7, "posts": False}

        @cached(cache, key_prefix="user", ttl=300)
        def get_user(user_id):
            return {"id": user_id}

        assert get_user(123) == {"id": 123} and get_user.cache_key(123) == "user:123"
        assert await cache.ainvalidate_pattern("user:*") == 2
        await cache.aclose()

    run(main())


def test_cached_without_a_cache_uses_the_default_cache():
    from covet.cache.decorators import default_cache

    @cached(key_prefix="seed-user", ttl=300)
    async def get_user(user_id: int):
        return {"id": user_id}

    assert run(get_user(1)) == {"id": 1}
    assert default_cache.get("seed-user:1") == {"id": 1}
    default_cache.clear()


def test_cached_refuses_write_strategies_and_mixed_keys():
    cache = Cache()
    for strategy in (CacheStrategy.WRITE_THROUGH, CacheStrategy.WRITE_BEHIND):
        with pytest.raises(TypeError, match="is a strategy for writes"):
            cached(cache, ttl=60, strategy=strategy)
    with pytest.raises(TypeError, match="strategy must be a CacheStrategy"):
        cached(cache, ttl=60, strategy="refresh_ahead")
    with pytest.raises(TypeError, match="not both"):
        cached(cache, key=lambda: "k", key_prefix="p")
    with pytest.raises(TypeError, match="give key_prefix too"):
        cached(cache, key_func=lambda: "k")
    with pytest.raises(ValueError, match="refresh_after is refresh-ahead"):
        cached(cache, ttl=60, refresh_after=30, strategy=CacheStrategy.CACHE_ASIDE)
    with pytest.raises(ValueError, match="finite ttl"):
        cached(cache, ttl=float("inf"), strategy=CacheStrategy.REFRESH_AHEAD)
    with pytest.raises(TypeError, match="needs a Cache"):
        cached("not a cache")
