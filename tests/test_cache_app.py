"""app.memory_cache and app.redis_cache (the kernel's ``cache`` service), and resetting caches
between tests with clear()."""
import asyncio
import logging
import subprocess
import sys

import pytest

from covet import Covet
from covet.cache import Cache, CacheConfigError, CacheLayer, MemoryBackend, RedisBackend
from covet.cache.decorators import default_cache
from covet.core import services
from covet.testing import TestClient
from redis_fixture import free_port, redis_clean, redis_server  # noqa: F401  (fixtures)

NO_URL = ("app.redis_cache needs a Redis URL: set app.state.redis_url = 'redis://host:6379/0' before its "
          "first use, or the COVET_REDIS_URL (or REDIS_URL) environment variable")


@pytest.fixture
def no_redis_env(monkeypatch):
    monkeypatch.delenv("COVET_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return monkeypatch


def client_count(server):
    """Client connections the Redis server has open, this check's own excluded."""
    listing = server.command("CLIENT", "LIST")
    return len([line for line in listing.split(b"\n") if b"id=" in line]) - 1


# ---------------------------------------------------------------- app.memory_cache

def test_memory_cache_is_made_once_per_app_and_is_read_only():
    app, other = Covet(), Covet()
    cache = app.memory_cache
    assert isinstance(cache, Cache) and isinstance(cache.backend, MemoryBackend)
    assert app.memory_cache is cache and other.memory_cache is not cache
    assert cache.default_ttl == 300 and cache.backend.maxsize == 10_000
    cache.set("k", "v", ttl=60)
    assert app.memory_cache.get("k") == "v" and other.memory_cache.get("k") is None
    with pytest.raises(AttributeError):
        app.memory_cache = Cache()
    with pytest.raises(AttributeError):
        app.redis_cache = None


def test_the_kernel_reaches_the_cache_through_its_service_only():
    assert services.roles()["cache"] == "covet.cache"
    code = ("import sys; import covet.core.app as a; assert 'covet.cache' not in sys.modules; "
            "a.Covet().memory_cache.set('k', 1); assert 'covet.cache.cache' in sys.modules; "
            "assert 'covet.redis' not in sys.modules, 'the Redis client loads only for Redis'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- app.redis_cache

def test_redis_cache_without_a_url_says_how_to_configure_it(no_redis_env):
    app = Covet()
    for _ in range(2):  # not cached as a failure: configuring later works
        with pytest.raises(CacheConfigError) as e:
            app.redis_cache
        assert str(e.value) == NO_URL
    calls = []

    @app.get("/r")
    async def uses_redis():
        calls.append(1)
        return await app.redis_cache.get("k", "none")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/r")
        assert r.status_code == 500 and calls == [1]


@pytest.mark.parametrize("where", ["state", "COVET_REDIS_URL", "REDIS_URL"])
def test_redis_cache_url_from_state_or_environment(redis_clean, no_redis_env, where):
    app = Covet()
    if where == "state":
        no_redis_env.setenv("COVET_REDIS_URL", "redis://127.0.0.1:%d/0" % free_port())  # state wins
        app.state.redis_url = redis_clean.url
    else:
        no_redis_env.setenv(where, redis_clean.url)
    layer = app.redis_cache
    assert isinstance(layer, CacheLayer) and isinstance(layer.backend, RedisBackend)
    assert app.redis_cache is layer and layer.backend.redis.port == redis_clean.port

    @app.get("/r/{key}")
    async def read(key: str):
        await app.redis_cache.set(key, {"k": key}, ttl=3600)
        return await app.redis_cache.get(key)

    with TestClient(app) as client:
        assert client.get("/r/x").json() == {"k": "x"}
        assert redis_clean.command("GET", "covet:cache:x") == b'$9\r\n{"k":"x"}\r\n'


def test_redis_cache_connections_close_when_the_app_shuts_down(redis_clean):
    app = Covet()
    app.state.redis_url = redis_clean.url

    @app.get("/r")
    async def read():
        return {"v": await app.redis_cache.incr("hits")}

    before = client_count(redis_clean)  # other tests' clients, if any are still open
    with TestClient(app) as client:
        assert client.get("/r").json() == {"v": 1}
        assert client_count(redis_clean) == before + 1  # pooled, idle
    assert client_count(redis_clean) == before
    with TestClient(app) as client:  # the same app serves again: the cache reconnects
        assert client.get("/r").json() == {"v": 2}
    assert client_count(redis_clean) == before


def test_redis_cache_down_fails_open_with_one_log_line(caplog):
    app = Covet()
    app.state.redis_url = "redis://127.0.0.1:%d/0" % free_port()
    computed = []

    @app.get("/c/{param}")
    async def compute(param: str):
        result = await app.redis_cache.get(param)
        if result is None:
            computed.append(param)
            result = {"param": param}
            await app.redis_cache.set(param, result, ttl=3600)
        return result

    with caplog.at_level(logging.ERROR, logger="covet.cache"):
        with TestClient(app) as client:
            for _ in range(3):
                assert client.get("/c/a").json() == {"param": "a"}
    assert computed == ["a", "a", "a"]
    assert [r.getMessage().split(": cannot connect")[0] for r in caplog.records] == [
        "covet cache: Redis GET failed, carrying on without the cache"]


# ---------------------------------------------------------------- clear() between tests

MODULE_CACHE = Cache(ttl=60)  # state at module level, as in an app's own module


@pytest.fixture
def fresh_caches():
    # The pattern docs/cache.md shows: empty before and after each test.
    MODULE_CACHE.clear()
    default_cache.clear()
    yield
    MODULE_CACHE.clear()
    default_cache.clear()


@pytest.mark.parametrize("run", range(2))
def test_a_module_level_cache_starts_empty_in_every_test(fresh_caches, run):
    assert MODULE_CACHE.stats()["size"] == 0 and default_cache.stats()["size"] == 0
    calls = []

    @MODULE_CACHE.cached
    def answer():
        calls.append(1)
        return 42

    assert answer() == answer() == 42 and calls == [1]
    default_cache.set("seen", run)


def test_clear_on_both_faces_and_on_a_layer(redis_clean):
    async def main():
        cache = Cache()
        cache.set("a", 1)
        await cache.aclear()
        assert cache.get("a") is None
        cache.set("a", 1)
        cache.clear()
        assert await cache.aget("a") is None
        layer = CacheLayer(RedisBackend.from_url(redis_clean.url))
        await layer.set("a", 1)
        assert await layer.clear() is None
        assert await layer.get("a") is None
        await layer.set("b", 2)
        layer.cache.clear()  # its plain face, from plain code
        assert await layer.has("b") is False
        await layer.close()

    asyncio.run(main())
