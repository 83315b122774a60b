"""Bad input to the cache: configuration by name (CacheManager, MultiLevelCache levels), keys
that are too long to keep as they are, values a store cannot hold, and Redis going away."""
import asyncio
import logging
import math

import pytest

from covet import Covet
from covet.cache import Cache, CacheConfigError, CacheManager, MemoryBackend, MultiLevelCache, RedisBackend
from covet.cache.decorators import cache_page, cache_result, default_cache
from covet.cache.keys import MAX_KEY_LENGTH, bounded_key
from covet.redis import Redis
from covet.testing import TestClient
from redis_fixture import free_port, redis_clean, redis_server  # noqa: F401  (fixtures)


@pytest.fixture
def no_redis_env(monkeypatch):
    monkeypatch.delenv("COVET_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return monkeypatch


# ---------------------------------------------------------------- configuration by name

@pytest.mark.parametrize("kwargs, exc, message", [
    ({"backend": "memcached"}, ValueError, "backend must be 'memory', 'redis' or a covet.cache.Backend, got 'memcached'"),
    ({"backend": Redis()}, TypeError, "backend must be 'memory', 'redis' or a covet.cache.Backend, got <Redis "
                                      "127.0.0.1:6379 db=0>"),
    ({"backend": "memory", "redis_url": "redis://x"}, ValueError, "redis_url is for backend='redis', not 'memory'"),
    ({"backend": "memory", "prefix": "p:"}, ValueError, "prefix: options of the redis backend, not of 'memory'"),
    ({"backend": MemoryBackend(), "redis_url": "redis://x"}, ValueError,
     "redis_url and Redis options go with backend='redis', not with a backend object"),
    ({"backend": "redis", "redis_url": "http://x"}, ValueError,
     "invalid Redis URL 'http://x': scheme must be redis, rediss or unix"),
    ({"backend": "redis", "redis_url": "redis://x", "colour": "red"}, ValueError,
     "unknown key(s) 'colour' in a 'redis' cache level; it takes log_interval, prefix, serializer, type, url"),
    ({"default_ttl": 0}, ValueError, "ttl must be > 0 seconds (math.inf for no expiry), got 0"),
    ({"backend": "redis://a:6379", "redis_url": "redis://b:6379"}, ValueError,
     "CacheManager('redis://a:6379', redis_url='redis://b:6379'): give the Redis URL once"),
    ({"backend": "http://localhost:6379"}, ValueError,
     "backend must be 'memory', 'redis' or a covet.cache.Backend, got 'http://localhost:6379'"),
    ({"backend": "redis://x", "maxsize": 10, "colour": "red"}, ValueError,
     "unknown key(s) 'colour' in a 'redis' cache level; it takes log_interval, prefix, serializer, type, url"),
])
def test_cache_manager_refuses_bad_configuration(kwargs, exc, message):
    with pytest.raises(exc) as e:
        CacheManager(**kwargs)
    assert str(e.value) == message


def test_cache_manager_redis_url_from_the_environment_or_a_clear_error(no_redis_env, redis_clean):
    with pytest.raises(CacheConfigError) as e:
        CacheManager(backend="redis")
    assert str(e.value) == ("CacheManager(backend='redis') needs a Redis URL: pass redis_url='redis://host:6379/0' "
                            "or set the COVET_REDIS_URL environment variable")
    no_redis_env.setenv("REDIS_URL", redis_clean.url)
    cache = CacheManager(backend="redis", prefix="env:")
    try:
        assert cache.set("k", 1) is True
        assert redis_clean.command("GET", "env:k") == b"$1\r\n1\r\n"
    finally:
        cache.close()


def test_a_redis_url_as_the_first_argument_names_the_redis_backend(redis_clean):
    # The API reference writes CacheManager("redis://localhost:6379").
    cache = CacheManager(redis_clean.url, default_ttl=60, prefix="url:")
    try:
        assert isinstance(cache.backend, RedisBackend) and cache.backend.prefix == "url:"
        assert cache.set("k", [1, 2]) is True and cache.get("k") == [1, 2]
        assert redis_clean.command("GET", "url:k") == b"$5\r\n[1,2]\r\n"
        assert 59_000 < int(redis_clean.command("PTTL", "url:k")[1:-2]) <= 60_000
    finally:
        cache.close()


@pytest.mark.parametrize("url, where", [
    ("rediss://cache.example:6380/2", ("cache.example", 6380, 2, True)),
    ("REDIS://cache.example", ("cache.example", 6379, 0, False)),
    ("unix:///run/redis.sock?db=3", ("/run/redis.sock", None, 3, False)),
])
def test_every_redis_url_scheme_names_the_redis_backend(url, where):
    cache = CacheManager(url)  # nothing connects until the first command
    redis = cache.backend.redis
    assert isinstance(cache.backend, RedisBackend)
    assert (redis.unix_socket_path or redis.host, None if redis.unix_socket_path else redis.port, redis.db,
            redis.ssl is not None) == where
    cache.close()


def test_a_backend_name_given_to_cache_points_to_cache_manager():
    with pytest.raises(TypeError) as e:
        Cache(backend="redis")
    assert str(e.value) == ("Cache(backend=...) takes a backend object; for a backend by name use "
                            "CacheManager(backend='redis', ...)")


def test_a_backend_must_implement_the_contract_and_shares_the_default_ttl():
    with pytest.raises(TypeError) as e:
        Cache(backend={})
    assert str(e.value) == "backend must implement covet.cache.Backend (subclass SyncFace or AsyncFace), got {}"
    cache = Cache(ttl=10)
    cache.default_ttl = 5
    assert cache.backend.default_ttl == 5.0
    cache.set("k", 1)
    assert 4 < cache.backend.get_with_ttl("k")[1] <= 5
    cache.default_ttl = None
    assert cache.backend.default_ttl == math.inf
    with pytest.raises(ValueError):
        cache.default_ttl = -1


@pytest.mark.parametrize("levels, exc, message", [
    ([], ValueError, "a multi-level cache needs at least one level"),
    ({"type": "memory"}, TypeError, "levels must be a list of level specs, nearest first, got {'type': 'memory'}"),
    (["memory"], TypeError, "a cache level is a dict like {'type': 'memory', 'size': 1000} or a backend, got 'memory'"),
    ([{"type": "disk"}], ValueError, "cache level type must be one of 'memory', 'redis', got 'disk'"),
    ([{"size": 10}], ValueError, "cache level type must be one of 'memory', 'redis', got None"),
    ([{"type": "memory", "maxsize": 10}], ValueError,
     "unknown key(s) 'maxsize' in a 'memory' cache level; it takes size, ttl, type"),
    ([{"type": "memory", "size": 0}], ValueError, "maxsize must be a positive integer, got 0"),
    ([{"type": "memory", "ttl": 5}], ValueError,
     "only a level in front of another takes 'ttl' (how long it keeps a copy); "
     "the cache's own default ttl is MultiLevelCache(levels, ttl=...)"),
    ([{"type": "memory", "ttl": -1}, {"type": "memory"}], ValueError,
     "ttl must be > 0 seconds (math.inf for no expiry), got -1"),
    ([{"type": "redis"}], ValueError,
     "a 'redis' cache level needs 'url', e.g. {'type': 'redis', 'url': 'redis://localhost:6379'}"),
    ([{"type": "redis", "url": "redis://a"}, {"type": "memory"}], ValueError,
     "every level but the last must be a memory level (nothing else is faster than the level behind it), "
     "got <RedisBackend a:6379 prefix='covet:cache:'>"),
])
def test_multi_level_cache_refuses_bad_levels(levels, exc, message):
    with pytest.raises(exc) as e:
        MultiLevelCache(levels)
    assert str(e.value) == message


def test_multi_level_cache_levels_as_specs_and_objects():
    async def main():
        one = MultiLevelCache([{"type": "memory", "size": 3}], ttl=60)
        assert isinstance(one.backend, MemoryBackend) and one.backend.maxsize == 3
        assert one.cache.default_ttl == 60 == one.backend.default_ttl
        two = MultiLevelCache([{"type": "memory", "size": 10, "ttl": 2}, MemoryBackend(100)])
        assert [level.default_ttl for level in two.backend.levels] == [2, 300]
        await two.set("k", "v", ttl=30)
        assert await two.get("k") == "v" and two.backend.near[0].get("k")[0] == "v"
        assert repr(two) == "<MultiLevelCache MultiLevelBackend ttl=300>"
        await two.close()
    asyncio.run(main())


def test_decorators_refuse_what_is_not_a_cache():
    with pytest.raises(TypeError, match="^cache_result\\(cache=...\\) needs a Cache or a CacheLayer, got 'x'$"):
        cache_result(cache="x")
    with pytest.raises(TypeError, match="^cache_page\\(cache=...\\) needs a Cache or a CacheLayer, got 3$"):
        cache_page(60, cache=3)
    with pytest.raises(ValueError, match="^ttl must be > 0"):
        cache_page(0)
    with pytest.raises(ValueError, match="^vary must list header names"):
        cache_page(60, vary=("bad header",))


def test_cache_result_bare_and_on_a_given_cache_or_layer():
    default_cache.clear()
    calls = []

    @cache_result
    def plain(x):
        calls.append(("plain", x))
        return x

    layer = MultiLevelCache([{"type": "memory"}], ttl=5)

    @cache_result(ttl=2, cache=layer)
    async def on_layer(x):
        calls.append(("layer", x))
        return x

    assert plain(1) == plain(1) == 1
    assert default_cache.get(plain.cache_key(1)) == 1

    async def main():
        assert await on_layer(2) == await on_layer(2) == 2
        value, left = await layer.backend.aget_with_ttl(on_layer.cache_key(2))
        assert value == 2 and 1 < left <= 2
    asyncio.run(main())
    assert calls == [("plain", 1), ("layer", 2)]
    default_cache.clear()


# ---------------------------------------------------------------- keys too long to keep

def test_huge_arguments_make_bounded_keys_and_still_hit():
    cache = Cache()
    calls = []

    @cache.cached
    def length(text):
        calls.append(1)
        return len(text)

    huge = "x" * 1_000_000
    assert length(huge) == length(huge) == 1_000_000
    assert calls == [1]
    key = length.cache_key(huge)
    assert len(key) <= MAX_KEY_LENGTH and "sha256:" in key
    assert key != length.cache_key(huge + "y")
    assert length.cache_key("short").endswith(".length('short')")
    assert bounded_key("p:", "a" * 198) == "p:" + "a" * 198
    assert bounded_key("p:", "a" * 199).startswith("p:sha256:")


def test_a_huge_query_string_makes_a_bounded_page_key():
    app = Covet()
    calls = []

    @app.get("/search")
    @cache_page(ttl=60)
    async def search(q: str = ""):
        calls.append(1)
        return {"n": len(q)}

    with TestClient(app) as client:
        q = "z" * 50_000
        assert client.get("/search", params={"q": q}).json() == {"n": 50_000}
        assert client.get("/search", params={"q": q}).json() == {"n": 50_000}
        assert calls == [1]
        assert app.memory_cache.delete_prefix("page:sha256:") == 1


# ---------------------------------------------------------------- values a store cannot hold

def test_a_cached_result_redis_cannot_hold_raises_and_is_not_kept(redis_clean):
    app = Covet()
    cache = CacheManager(backend="redis", redis_url=redis_clean.url)
    calls = []

    @app.get("/obj")
    @cache.cached(ttl=60)
    async def obj():
        calls.append(1)
        return {"when": object()}  # JSON cannot encode it: a bug in the handler, reported as one

    app.on_shutdown(cache.aclose)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/obj").status_code == 500
        assert client.get("/obj").status_code == 500
    assert calls == [1, 1]
    assert redis_clean.command("DBSIZE") == b":0\r\n"
    with pytest.raises(TypeError, match="^cannot store the value of 'k' in Redis: Object of type object"):
        cache.set("k", object())
    cache.close()


# ---------------------------------------------------------------- Redis going away

def test_a_cached_route_answers_while_redis_is_down_and_logs_once(caplog):
    app = Covet()
    cache = CacheManager(backend="redis", redis_url="redis://127.0.0.1:%d/0" % free_port(), default_ttl=60)
    calls = []

    @app.get("/expensive")
    @cache.cached(ttl=30)
    async def expensive():
        calls.append(1)
        return {"result": len(calls)}

    app.on_shutdown(cache.aclose)
    with caplog.at_level(logging.ERROR, logger="covet.cache"):
        with TestClient(app) as client:
            assert [client.get("/expensive").json()["result"] for _ in range(3)] == [1, 2, 3]
        assert cache.get("k", "dflt") == "dflt" and cache.set("k", 1) is False
    cache.close()
    assert calls == [1, 1, 1]
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("covet cache: Redis GET failed, carrying on without the cache: ")


def test_redis_coming_back_is_used_again(redis_clean):
    async def main():
        backend = RedisBackend(Redis(port=redis_clean.port, reconnect_backoff=0))
        cache = Cache(backend=backend)
        assert await cache.aset("k", 1) is True
        redis_clean.command("CLIENT", "KILL", "TYPE", "normal")  # a restart, from the client's side
        assert await cache.aget("k") == 1  # the pooled connection is replaced
        await backend.redis.close()
    asyncio.run(main())
