"""The caching examples of covet's API reference, run as written: CacheManager with Redis,
MultiLevelCache, cache_result and cache_page, and app.memory_cache / app.redis_cache.

Redis examples run against a real redis-server (tests/redis_fixture.py). The reference's
``db`` and computations are stand-ins that count their calls.
"""
import datetime

import pytest

from covet import Covet
from covet.cache import CacheLayer, CacheManager, MultiLevelCache
from covet.cache.decorators import cache_page, cache_result, default_cache
from covet.testing import TestClient
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)


class FakeDB:
    """``await db.fetch_one(sql, *args)`` returning a row and counting the calls."""

    def __init__(self):
        self.calls = []

    async def fetch_one(self, sql, *args):
        self.calls.append((sql, args))
        return {"id": args[0], "name": "item %d" % args[0]}


@pytest.fixture
def fresh_default_cache():
    # The fixture pattern of docs/cache.md: module-level caches start every test empty.
    default_cache.clear()
    yield default_cache
    default_cache.clear()


# ---------------------------------------------------------------- Caching System: Redis Integration

def test_cache_manager_with_redis_caches_a_route_for_its_ttl(redis_clean):
    app = Covet()
    calls = []

    def perform_complex_calculation():
        calls.append(1)
        return 42

    cache = CacheManager(
        backend="redis",
        redis_url=redis_clean.url,
        default_ttl=3600
    )

    @app.route("/expensive-operation")
    @cache.cached(ttl=1800)  # 30 minutes
    async def expensive_operation():
        # Expensive computation
        result = perform_complex_calculation()
        return {"result": result}

    app.on_shutdown(cache.aclose)
    with TestClient(app) as client:
        assert client.get("/expensive-operation").json() == {"result": 42}
        assert client.get("/expensive-operation").json() == {"result": 42}
        assert calls == [1]
        key = expensive_operation.cache_key()
        assert key == "test_cache_seed.test_cache_manager_with_redis_caches_a_route_for_its_ttl.<locals>." \
                      "expensive_operation()"
        pttl = int(redis_clean.command("PTTL", "covet:cache:" + key)[1:-2])
        assert 1_790_000 < pttl <= 1_800_000
        # The rest of the manager: get/set/delete/clear on the plain face, default_ttl 3600.
        assert cache.set("greeting", "hello") is True
        assert cache.get("greeting") == "hello"
        assert 3_590_000 < int(redis_clean.command("PTTL", "covet:cache:greeting")[1:-2]) <= 3_600_000
        assert cache.delete("greeting") is True and cache.get("greeting") is None
        cache.clear()
        assert client.get("/expensive-operation").json() == {"result": 42}
        assert calls == [1, 1]


def test_cache_manager_with_memory_is_a_cache_of_this_process():
    cache = CacheManager(backend="memory", default_ttl=60, maxsize=2)
    calls = []

    @cache.cached(ttl=30)
    def double(x):
        calls.append(x)
        return 2 * x

    assert [double(1), double(1), double(2)] == [2, 2, 4]
    assert calls == [1, 2]
    assert cache.set("a", 1) and cache.get("a") == 1
    assert cache.stats()["size"] == 2  # maxsize
    cache.clear()
    assert cache.get("a") is None and double(1) == 2 and calls == [1, 2, 1]
    assert repr(cache) == "<CacheManager MemoryBackend ttl=60>"


# ---------------------------------------------------------------- Examples: Complete REST API Example

class UsersDB:
    """``fetch_all``/``fetch_one`` with rows as a database driver returns them (dates included)."""

    def __init__(self):
        self.calls = []
        self.rows = {1: {"id": 1, "name": "Ada", "joined": datetime.date(2020, 1, 2)}}

    async def fetch_all(self, sql):
        self.calls.append(sql)
        return list(self.rows.values())

    async def fetch_one(self, sql, user_id):
        self.calls.append(sql)
        return self.rows.get(user_id)


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_complete_rest_api_example_caches_its_user_list(request, backend):
    app = Covet()
    db = UsersDB()
    if backend == "redis":
        redis_clean = request.getfixturevalue("redis_clean")
        cache = CacheManager(redis_clean.url)
    else:
        cache = CacheManager(backend="memory")

    @app.route("/users", methods=["GET"])
    @cache.cached(ttl=300)
    async def list_users():
        users = await db.fetch_all("SELECT * FROM users")
        return {"users": users}

    @app.route("/users/{user_id}", methods=["GET"])
    @cache.cached(ttl=300)  # the reference does not cache this one; (body, status) answers must survive it
    async def get_user(user_id: int):
        user = await db.fetch_one("SELECT * FROM users WHERE id = %s", user_id)

        if not user:
            return {"error": "User not found"}, 404

        return {"user": user}

    app.on_shutdown(cache.aclose)
    with TestClient(app) as client:
        for _ in range(2):
            r = client.get("/users")
            assert (r.status_code, r.json()) == (200, {"users": [{"id": 1, "name": "Ada", "joined": "2020-01-02"}]})
            r = client.get("/users/2")
            assert (r.status_code, r.json()) == (404, {"error": "User not found"})
            assert client.get("/users/1").json() == {"user": {"id": 1, "name": "Ada", "joined": "2020-01-02"}}
        assert db.calls == ["SELECT * FROM users", "SELECT * FROM users WHERE id = %s",
                            "SELECT * FROM users WHERE id = %s"]
    if backend == "redis":
        assert redis_clean.command("EXISTS", "covet:cache:" + list_users.cache_key()) == b":1\r\n"
    cache.close()


# ---------------------------------------------------------------- Caching System: Multi-level Caching

def test_multi_level_cache_in_front_of_redis(redis_clean):
    app = Covet()
    db = FakeDB()
    url = redis_clean.url

    cache = MultiLevelCache([
        {"type": "memory", "size": 1000},
        {"type": "redis", "url": url}
    ])

    @app.route("/data/{item_id}")
    async def get_data(item_id: int):
        cache_key = f"data:{item_id}"

        # Try cache first
        cached_data = await cache.get(cache_key)
        if cached_data:
            return cached_data

        # Fetch from database
        data = await db.fetch_one("SELECT * FROM items WHERE id = %s", item_id)

        # Cache the result
        await cache.set(cache_key, data, ttl=3600)

        return data

    app.on_shutdown(cache.close)
    other_worker = MultiLevelCache([{"type": "redis", "url": url}])
    app.on_shutdown(other_worker.close)
    with TestClient(app) as client:
        assert client.get("/data/7").json() == {"id": 7, "name": "item 7"}
        assert client.get("/data/7").json() == {"id": 7, "name": "item 7"}
        assert db.calls == [("SELECT * FROM items WHERE id = %s", (7,))]
        assert client.get("/data/8").json()["id"] == 8 and len(db.calls) == 2
        # Both levels hold it: memory (a hit there first), and Redis for the other workers.
        assert cache.backend.near[0].stats()["hits"] == 1
        assert other_worker.cache.get("data:7") == {"id": 7, "name": "item 7"}  # its plain face
        assert 3_590_000 < int(redis_clean.command("PTTL", "covet:cache:data:7")[1:-2]) <= 3_600_000
        assert isinstance(cache, CacheLayer)


# ---------------------------------------------------------------- Caching System: Cache Decorators

def test_cache_result_and_cache_page(fresh_default_cache):
    app = Covet()
    db = FakeDB()
    pages = []

    @cache_result(ttl=300)
    async def get_user_preferences(user_id: int):
        return await db.fetch_one("SELECT * FROM preferences WHERE user_id = %s", user_id)

    @app.route("/dashboard")
    @cache_page(ttl=600)  # Cache entire page for 10 minutes
    async def dashboard():
        pages.append(1)
        return {"dashboard": "data"}

    @app.route("/prefs/{user_id}")
    async def prefs(user_id: int):
        return await get_user_preferences(user_id)

    with TestClient(app) as client:
        first = client.get("/dashboard")
        again = client.get("/dashboard")
        assert first.json() == again.json() == {"dashboard": "data"}
        assert first.headers["etag"] == again.headers["etag"]
        assert pages == [1]
        assert client.get("/prefs/1").json() == client.get("/prefs/1").json() == {"id": 1, "name": "item 1"}
        assert client.get("/prefs/2").json()["id"] == 2
        assert [args for _, args in db.calls] == [(1,), (2,)]
        # Where each one lives: results in default_cache, pages in the app's own memory cache.
        assert fresh_default_cache.get(get_user_preferences.cache_key(1)) == {"id": 1, "name": "item 1"}
        assert app.memory_cache.delete_prefix("page:") == 1
        assert client.get("/dashboard").json() == {"dashboard": "data"} and pages == [1, 1]


# ---------------------------------------------------------------- Performance Optimization: Caching Strategies

def test_app_memory_cache_in_front_of_app_redis_cache(redis_clean):
    app = Covet()
    app.state.redis_url = redis_clean.url
    computed = []

    async def expensive_computation(param):
        computed.append(param)
        return {"param": param, "value": len(param)}

    @app.route("/api/heavy-computation/{param}")
    async def heavy_computation(param: str):
        cache_key = f"computation:{param}"

        # L1: Memory cache (fastest)
        result = app.memory_cache.get(cache_key)
        if result:
            return result

        # L2: Redis cache (fast)
        result = await app.redis_cache.get(cache_key)
        if result:
            app.memory_cache.set(cache_key, result, ttl=60)
            return result

        # L3: Compute (slowest)
        result = await expensive_computation(param)

        # Cache at all levels
        await app.redis_cache.set(cache_key, result, ttl=3600)
        app.memory_cache.set(cache_key, result, ttl=60)

        return result

    with TestClient(app) as client:
        assert client.get("/api/heavy-computation/abc").json() == {"param": "abc", "value": 3}
        assert computed == ["abc"]
        memory_stats = app.memory_cache.stats()
        assert client.get("/api/heavy-computation/abc").json() == {"param": "abc", "value": 3}
        assert app.memory_cache.stats()["hits"] == memory_stats["hits"] + 1  # L1 answered
        app.memory_cache.clear()  # as another worker would be: L1 empty, L2 warm
        assert client.get("/api/heavy-computation/abc").json() == {"param": "abc", "value": 3}
        assert computed == ["abc"]
        value, left = app.memory_cache.backend.get_with_ttl("computation:abc")
        assert value == {"param": "abc", "value": 3} and 59 < left <= 60
        assert 3_590_000 < int(redis_clean.command("PTTL", "covet:cache:computation:abc")[1:-2]) <= 3_600_000
        assert isinstance(app.redis_cache, CacheLayer)
