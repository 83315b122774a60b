"""covet.cache memory backend: TTL + LRU store, bounds, thread safety, both faces."""
import math
import re
import threading

import pytest

from cache_helpers import Clock, memory_cache, run
from covet.cache import DEFAULT_MAXBYTES, MISSING, Cache, MemoryBackend
from covet.cache.memory import ENTRY_OVERHEAD, estimate_size


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


@pytest.mark.slow  # a soak test: run once, on the main interpreter
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


def test_missing_sentinel_is_falsy_and_named():
    assert not MISSING and repr(MISSING) == "MISSING"
    assert repr(Cache()) == "<Cache MemoryBackend ttl=300>"


# ---------------------------------------------------------------- the byte bound

def test_100000_distinct_hostile_keys_stay_within_the_byte_bound():
    backend = MemoryBackend(maxsize=1_000_000, maxbytes=2_000_000, clock=Clock())
    cache = Cache(backend=backend)
    page = b"x" * 1000
    for i in range(100_000):
        assert cache.set("page:/search?junk=%d" % i, [200, [["content-type", "text/html"]], page]) is True
        assert backend.total_bytes <= 2_000_000
    stats = cache.stats()
    # Each entry costs its estimate; the cache holds as many as fit, the most recent ones.
    per_entry = estimate_size("page:/search?junk=99999") + estimate_size(
        [200, [["content-type", "text/html"]], page]) + ENTRY_OVERHEAD
    assert per_entry > 1000
    assert stats["size"] == len(backend._data) <= 2_000_000 // 1000
    assert stats["size"] >= 2_000_000 // (per_entry + 64)
    assert stats["evictions"] == 100_000 - stats["size"]
    assert cache.get("page:/search?junk=99999") is not None and cache.get("page:/search?junk=0") is None
    assert backend.total_bytes == sum(entry[2] for entry in backend._data.values())


def test_the_byte_bound_evicts_least_recently_used_first_and_tracks_replacements():
    backend = MemoryBackend(maxsize=100, maxbytes=12_000, clock=Clock())
    big = "b" * 3000  # about 3,350 bytes an entry: three fit, four do not
    for key in "abc":
        backend.set(key, big)
    before = backend.total_bytes
    backend.get("a")  # a is now the most recently used
    backend.set("d", big)  # over 12,000 bytes: b goes
    assert [k for k in "abcd" if backend.has(k)] == ["a", "c", "d"]
    backend.set("a", "small")  # a replacement gives its old size back
    assert backend.total_bytes < before
    backend.delete("c")
    backend.incr("n", 5)
    assert backend.total_bytes == sum(entry[2] for entry in backend._data.values())
    backend.clear()
    assert backend.total_bytes == 0


def test_a_value_larger_than_the_byte_bound_is_refused_and_the_old_one_dropped():
    backend = MemoryBackend(maxsize=100, maxbytes=10_000, clock=Clock())
    assert backend.set("k", "old") is True
    assert backend.set("k", "x" * 20_000) is False  # never stored, never evicts the rest
    assert backend.get("k", "absent") == "absent"  # the old value would be stale
    assert backend.set_many({"a": 1, "huge": b"x" * 20_000}) is False
    assert backend.get("a") == 1 and not backend.has("huge")
    assert backend.total_bytes == sum(entry[2] for entry in backend._data.values())


def test_the_size_estimate_counts_containers_and_survives_cycles():
    assert estimate_size(b"x" * 1000) >= 1000
    assert estimate_size("x" * 1000) >= 1000
    assert estimate_size([b"x" * 1000, {"k": "y" * 1000}]) >= 2000
    assert estimate_size((1, 2.0, None, True)) > estimate_size(())

    class Row:
        def __init__(self):
            self.blob = "z" * 5000

    assert estimate_size(Row()) >= 5000
    loop = []
    loop.append(loop)
    assert estimate_size(loop) > 0  # bounded depth, no RecursionError


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_maxbytes_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="^maxbytes must be a positive integer, got %s$" % re.escape(repr(bad))):
        MemoryBackend(maxbytes=bad)


def test_cache_passes_maxbytes_to_its_memory_backend():
    assert Cache(maxbytes=123_456).backend.maxbytes == 123_456
    assert Cache().backend.maxbytes == DEFAULT_MAXBYTES == 64 * 1024 * 1024
