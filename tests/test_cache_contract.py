"""The backend contract (covet/cache/backend.py) run against every backend, through both faces.

Each test body is written once against a ``Face`` (the plain methods or the ``a`` coroutines of
one backend) and runs for: memory, Redis (a real redis-server), two levels over Redis, two levels
over memory, three levels, and a backend written in this file from the documented recipe.
"""
import asyncio
import functools
import logging
import math
import pickle
import threading
import time

import pytest

from cache_helpers import run
from covet.cache import (MISSING, AsyncFace, Backend, Cache, MemoryBackend, MultiLevelBackend, RedisBackend,
                         SyncFace, TwoLevelBackend)
from covet.cache.backend import check_delta, check_ttl, not_an_integer, stats_dict
from covet.cache.keys import glob_regex
from covet.redis import Redis
from redis_fixture import free_port, redis_clean, redis_server  # noqa: F401  (fixtures)


class DictBackend(AsyncFace):
    """A backend of one's own, written the way docs/cache.md says: the coroutine face and
    ``run_blocking``; AsyncFace gives the plain face."""

    def __init__(self):
        self.default_ttl = 300.0
        self.data = {}  # key -> (value, deadline)
        self.hits = self.misses = 0

    def _live(self, key):
        entry = self.data.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            del self.data[key]
            entry = None
        return entry

    def run_blocking(self, call):
        return asyncio.run(call(self))  # nothing here is bound to a loop

    async def aget(self, key, default=None):
        value, _ = await self.aget_with_ttl(key)
        return default if value is MISSING else value

    async def aget_with_ttl(self, key):
        entry = self._live(key)
        if entry is None:
            self.misses += 1
            return MISSING, 0.0
        self.hits += 1
        return entry[0], entry[1] - time.monotonic()

    async def aset(self, key, value, ttl=None):
        self.data[key] = (value, time.monotonic() + self.resolve_ttl(ttl))
        return True

    async def aget_many(self, keys):
        found = {k: await self.aget(k, MISSING) for k in keys}
        return {k: v for k, v in found.items() if v is not MISSING}

    async def aset_many(self, mapping, ttl=None):
        for k, v in mapping.items():
            await self.aset(k, v, ttl)
        return True

    async def adelete(self, key):
        return self.data.pop(key, None) is not None

    async def aclear(self):
        self.data.clear()

    async def aincr(self, key, delta=1, ttl=None):
        delta, ttl = check_delta(delta), self.resolve_ttl(ttl)
        entry = self._live(key)
        if entry is None:
            await self.aset(key, delta, ttl)
            return delta
        if isinstance(entry[0], bool) or not isinstance(entry[0], int):
            raise not_an_integer(key)
        self.data[key] = (entry[0] + delta, entry[1])
        return entry[0] + delta

    async def atouch(self, key, ttl=None):
        deadline = time.monotonic() + self.resolve_ttl(ttl)
        entry = self._live(key)
        if entry is None:
            return False
        self.data[key] = (entry[0], deadline)
        return True

    async def ahas(self, key):
        return self._live(key) is not None

    async def adelete_prefix(self, prefix):
        doomed = [k for k in self.data if isinstance(k, str) and k.startswith(prefix)]
        for k in doomed:
            del self.data[k]
        return len(doomed)

    async def adelete_pattern(self, pattern):
        match = glob_regex(pattern).match
        doomed = [k for k in self.data if isinstance(k, str) and match(k)]
        for k in doomed:
            del self.data[k]
        return len(doomed)

    def stats(self):
        return stats_dict(self.hits, self.misses, size=len(self.data))


# name -> (needs Redis, factory(redis_url) -> backend)
BACKENDS = {
    "memory": (False, lambda url: MemoryBackend(1000)),
    "redis": (True, lambda url: RedisBackend.from_url(url)),
    "two-level-redis": (True, lambda url: TwoLevelBackend(RedisBackend.from_url(url))),
    "two-level-memory": (False, lambda url: TwoLevelBackend(MemoryBackend(1000))),
    "three-levels": (True, lambda url: MultiLevelBackend(
        [MemoryBackend(10, ttl=1), MemoryBackend(1000, ttl=5), RedisBackend.from_url(url)])),
    "own-backend": (False, lambda url: DictBackend()),
}

OPS = ("get", "get_with_ttl", "set", "get_many", "set_many", "delete", "clear", "incr", "touch", "has",
       "delete_prefix", "delete_pattern")


class Face:
    """One face of a backend as coroutines: the ``a`` methods, or the plain ones called from a
    worker thread, as a plain-``def`` handler in the thread pool calls them."""

    def __init__(self, backend, face):
        self.backend = backend
        self.face = face
        for op in OPS:
            if face == "plain":
                setattr(self, op, self._plain(getattr(backend, op)))
            else:
                setattr(self, op, getattr(backend, "a" + op))

    @staticmethod
    def _plain(method):
        async def call(*args, **kwargs):
            return await asyncio.get_running_loop().run_in_executor(None, functools.partial(method, *args, **kwargs))
        return call


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    needs_redis, make = BACKENDS[request.param]
    url = request.getfixturevalue("redis_clean").url if needs_redis else None
    made = make(url)
    yield made
    made.close()


@pytest.fixture(params=["plain", "coroutine"])
def face(request, backend):
    return Face(backend, request.param)


def stores_objects(backend):
    """True when no level serialises values (nothing of the chain is in Redis)."""
    return not any(isinstance(level, RedisBackend) for level in getattr(backend, "levels", (backend,)))


def in_loop(face, body):
    """Run ``body(face)`` on a loop and close the coroutine face's connections on that loop."""
    async def main():
        try:
            await body(face)
        finally:
            await face.backend.aclose()
    run(main())


async def eventually(check, timeout=5.0):
    """Wait for ``await check()`` to be true (an expiry on a server's clock), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in %s s" % timeout
        await asyncio.sleep(0.005)


# ---------------------------------------------------------------- the operations

def test_get_set_delete_has_and_none_is_a_value(face):
    async def body(f):
        assert await f.get("a") is None and await f.get("a", "dflt") == "dflt"
        assert await f.set("a", {"n": [1, 2]}) is True
        assert await f.get("a") == {"n": [1, 2]}
        assert await f.set("none", None) is True
        assert await f.get("none", "dflt") is None
        assert await f.has("none") is True and await f.has("zzz") is False
        assert await f.delete("a") is True and await f.delete("a") is False
        assert await f.get("a", MISSING) is MISSING
    in_loop(face, body)


def test_ttls_are_reported_and_honoured(face):
    async def body(f):
        await f.set("ten", 1, ttl=10)
        await f.set("forever", 2, ttl=math.inf)
        value, left = await f.get_with_ttl("ten")
        assert value == 1 and 9 < left <= 10
        assert await f.get_with_ttl("forever") == (2, math.inf)
        assert await f.get_with_ttl("nope") == (MISSING, 0.0)
        await f.set("short", 3, ttl=0.05)

        async def gone():
            return await f.get("short", MISSING) is MISSING and not await f.has("short")
        await eventually(gone)
        assert await f.get("ten") == 1
    in_loop(face, body)


@pytest.mark.parametrize("ttl, exc", [(0, ValueError), (-1, ValueError), (float("nan"), ValueError),
                                      ("5", TypeError), (True, TypeError)])
def test_bad_ttls_are_refused_before_anything_is_stored(face, ttl, exc):
    async def body(f):
        for call in (lambda: f.set("k", 1, ttl=ttl), lambda: f.set_many({"k": 1}, ttl),
                     lambda: f.touch("k", ttl), lambda: f.incr("n", 1, ttl)):
            with pytest.raises(exc):
                await call()
        assert await f.has("k") is False and await f.has("n") is False
    in_loop(face, body)


def test_many_keys(face):
    async def body(f):
        assert await f.set_many({"user:1": "a", "user:2": "b", "item:1": "c"}, 30) is True
        assert await f.get_many(["user:1", "user:3", "item:1"]) == {"user:1": "a", "item:1": "c"}
        assert await f.get_many([]) == {}
        assert await f.set_many({}) is True
    in_loop(face, body)


def test_counters(face):
    async def body(f):
        assert await f.incr("n") == 1
        assert await f.incr("n", 10) == 11
        assert await f.incr("n", -2) == 9
        assert await f.get("n") == 9
        value, left = await f.get_with_ttl("n")
        assert value == 9 and 0 < left <= 300  # the default ttl, kept by later increments
        await f.set("s", "text")
        with pytest.raises(TypeError) as e:
            await f.incr("s")
        assert str(e.value) == "cannot increment 's': its cached value is not an integer"
        with pytest.raises(TypeError) as e:
            await f.incr("n", 1.5)
        assert str(e.value) == "incr/decr amount must be an int, got 1.5"
    in_loop(face, body)


def test_touch(face):
    async def body(f):
        await f.set("k", 1, ttl=5)
        assert await f.touch("k", 100) is True
        value, left = await f.get_with_ttl("k")
        assert value == 1 and 99 < left <= 100
        assert await f.touch("k", math.inf) is True
        assert await f.get_with_ttl("k") == (1, math.inf)
        assert await f.touch("nope") is False
    in_loop(face, body)


def test_delete_prefix_is_literal(face):
    async def body(f):
        await f.set_many({"a*b:1": 1, "a*b:2": 2, "axb:1": 3, "a?": 4})
        assert await f.delete_prefix("a*b:") == 2
        assert await f.get_many(["a*b:1", "axb:1", "a?"]) == {"axb:1": 3, "a?": 4}
        assert await f.delete_prefix("zzz") == 0
        with pytest.raises(TypeError):
            await f.delete_prefix(b"a")
    in_loop(face, body)


def test_clear_removes_every_entry(face):
    async def body(f):
        await f.set_many({"a": 1, "b": 2})
        await f.incr("n")
        assert await f.clear() is None
        assert await f.get_many(["a", "b", "n"]) == {}
        assert await f.set("a", 3) is True and await f.get("a") == 3  # usable afterwards
    in_loop(face, body)


def test_huge_keys_and_values_round_trip(face):
    big_key = "k" * 1_000_000
    big_value = "v" * 1_000_000

    async def body(f):
        assert await f.set(big_key, big_value) is True
        assert await f.get(big_key) == big_value
        assert await f.delete(big_key) is True
    in_loop(face, body)


def test_values_a_store_cannot_hold_raise_type_error_and_are_kept_nowhere(face):
    lock = threading.Lock()

    async def body(f):
        if stores_objects(f.backend):
            assert await f.set("lock", lock) is True
            assert await f.get("lock") is lock  # memory keeps the object itself
            return
        with pytest.raises(TypeError, match="^cannot store the value of 'lock' in Redis: "):
            await f.set("lock", lock)
        with pytest.raises(TypeError):
            await f.set_many({"ok": 1, "lock": lock})
        assert await f.has("lock") is False and await f.get("lock", MISSING) is MISSING
    in_loop(face, body)


def test_stats_have_one_shape(face):
    async def body(f):
        await f.set("a", 1)
        await f.get("a")
        await f.get("b")
        stats = f.backend.stats()
        assert set(stats) == {"hits", "misses", "evictions", "expirations", "size"}
        assert stats["hits"] >= 1 and stats["misses"] >= 1
    in_loop(face, body)


# ---------------------------------------------------------------- through a Cache

def test_single_flight_runs_the_factory_once_per_backend(backend):
    async def main():
        cache = Cache(ttl=30, backend=backend)
        calls = []

        async def factory():
            calls.append(1)
            await asyncio.sleep(0.02)
            return {"v": len(calls)}

        assert await asyncio.gather(*[cache.aget_or_set("k", factory) for _ in range(20)]) == [{"v": 1}] * 20
        assert await cache.aget_or_set("k", factory) == {"v": 1}
        assert calls == [1]
        await cache.aclear()
        assert await cache.aget_or_set("k", factory) == {"v": 2} and len(calls) == 2
        await cache.aclose()
    run(main())


def test_cached_function_call_counts_on_both_faces(backend):
    cache = Cache(ttl=30, backend=backend)
    calls = []

    @cache.cached
    def square(x):
        calls.append(x)
        return x * x

    assert [square(3), square(3), square(4)] == [9, 9, 16]
    assert calls == [3, 4]
    cache.clear()
    assert square(3) == 9 and calls == [3, 4, 3]
    cache.close()


# ---------------------------------------------------------------- the contract itself

def test_a_backend_missing_operations_cannot_be_made():
    class Half(SyncFace):
        def get(self, key, default=None):
            return default

    with pytest.raises(TypeError) as e:
        Half()
    for name in ("delete_prefix", "delete_pattern", "get_with_ttl", "set", "stats"):
        assert name in str(e.value)
    with pytest.raises(TypeError):
        Backend()


def test_the_face_mixins_write_every_operation_of_the_other_face():
    for op in OPS:
        assert op in vars(AsyncFace) and "a" + op in vars(SyncFace), op
        assert getattr(Backend, op).__isabstractmethod__ and getattr(Backend, "a" + op).__isabstractmethod__


def test_the_plain_face_of_a_sync_backend_drives_coroutines_without_a_loop():
    backend = MemoryBackend()
    backend.set("k", 1)
    assert backend.run_blocking(lambda b: b.aget("k")) == 1

    async def waits(b):
        await asyncio.sleep(0)  # I/O: a loop is needed after all

    with pytest.raises(RuntimeError, match="^a coroutine over MemoryBackend waited for I/O"):
        backend.run_blocking(waits)


def test_ttl_and_delta_checks():
    assert check_ttl(5) == 5.0 and check_ttl(math.inf) == math.inf
    with pytest.raises(ValueError, match="^refresh_after must be > 0"):
        check_ttl(0, "refresh_after")
    assert check_delta(-3) == -3
    assert str(not_an_integer("x")) == "cannot increment 'x': its cached value is not an integer"


def test_multi_level_refuses_levels_it_cannot_chain():
    with pytest.raises(ValueError, match="^a multi-level cache needs at least one level$"):
        MultiLevelBackend([])
    with pytest.raises(TypeError, match="^each level must be a cache backend"):
        MultiLevelBackend([MemoryBackend(), "redis://localhost"])
    with pytest.raises(ValueError, match="^every level but the last must be a memory level"):
        MultiLevelBackend([RedisBackend(Redis()), MemoryBackend()])


def test_redis_backend_from_url_owns_and_closes_its_client(redis_clean):
    async def main():
        backend = RedisBackend.from_url(redis_clean.url, prefix="own:")
        assert backend.owns_client is True and backend.prefix == "own:"
        assert await backend.aset("k", 1) is True
        assert redis_clean.command("EXISTS", "own:k") == b":1\r\n"
        await backend.aclose()
        shared = RedisBackend(Redis(port=redis_clean.port))
        assert shared.owns_client is False
        await shared.aset("k", 2)
        await shared.aclose()
        assert await shared.aget("k") == 2  # the caller's client is still open: closing it is theirs
        await shared.redis.close()
    run(main())


def test_redis_down_every_backend_fails_open_with_one_log_line(caplog):
    url = "redis://127.0.0.1:%d/0" % free_port()
    for make in (lambda: RedisBackend.from_url(url, log_interval=60),
                 lambda: TwoLevelBackend(RedisBackend.from_url(url, log_interval=60))):
        caplog.clear()
        backend = make()

        async def main():
            cache = Cache(backend=backend)
            calls = []
            assert await cache.aget("k", "dflt") == "dflt"
            assert await cache.aset("k", 1) is False
            assert await cache.aincr("n") is None
            assert await cache.aget_or_set("x", lambda: calls.append(1) or "computed") == "computed"
            assert calls == [1]
            await cache.aclose()

        with caplog.at_level(logging.ERROR, logger="covet.cache"):
            run(main())
            # The plain face too; two levels keep the value in memory while Redis is away.
            assert backend.get("k", "dflt") == (1 if isinstance(backend, TwoLevelBackend) else "dflt")
        backend.close()
        assert len(caplog.records) == 1, [r.getMessage() for r in caplog.records]
        assert caplog.records[0].getMessage().startswith(
            "covet cache: Redis GET failed, carrying on without the cache: ")


def test_pickle_serializer_refuses_unpicklable_values_with_type_error(redis_clean):
    async def main():
        backend = RedisBackend.from_url(redis_clean.url, serializer="pickle")
        with pytest.raises(TypeError, match="^cannot store the value of 'fn' in Redis: "):
            await backend.aset("fn", lambda: 1)
        assert await backend.ahas("fn") is False
        assert await backend.aset("ok", {1, 2}) is True and await backend.aget("ok") == {1, 2}
        await backend.aclose()
    run(main())
    assert pickle.loads(pickle.dumps({1, 2})) == {1, 2}
