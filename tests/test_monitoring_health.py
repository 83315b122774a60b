"""covet.monitoring.health: HealthChecker, its checks and the /health, /health/live, /health/ready routes.

Probe semantics follow Kubernetes (liveness runs nothing, readiness looks at what the instance
needs to serve): https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
"""
import asyncio
import json
import math
import threading

import pytest

from covet import Covet
from covet.cache import Cache
from covet.core.routing import Router
from covet.database import DatabaseManager
from covet.monitoring.health import MAX_ERROR_LENGTH, HealthChecker
from covet.redis import Redis
from covet.testing import AsyncTestClient, TestClient
from redis_fixture import free_port, redis_server  # noqa: F401  (fixture)
from server_helpers import RunningServer, read_response


def run(coro):
    return asyncio.run(coro)


def app_with(health):
    app = Covet()
    app.include_router(health.router, prefix="/health")
    return app


def strip_durations(body):
    """The body with every duration_ms checked (a non-negative float) and removed."""
    assert isinstance(body.pop("duration_ms", 0.0), float)
    for entry in body.get("checks", {}).values():
        ms = entry.pop("duration_ms")
        assert isinstance(ms, float) and ms >= 0
    return body


def get(app, path):
    with TestClient(app) as client:
        r = client.get(path)
    return r.status_code, strip_durations(r.json())


# -- the three routes ---------------------------------------------------------------------------

def test_all_healthy():
    health = HealthChecker()

    @health.check("database")
    async def database():
        return {"status": "healthy", "version": "3.45"}

    @health.check("disk", critical=False)
    def disk():
        return True

    app = app_with(health)
    with TestClient(app) as client:
        r = client.get("/health")
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        assert r.status_code == 200
        assert strip_durations(r.json()) == {"status": "healthy", "checks": {
            "database": {"status": "healthy", "critical": True, "version": "3.45"},
            "disk": {"status": "healthy", "critical": False}}}
        r = client.get("/health/ready")
        assert (r.status_code, strip_durations(r.json())) == (200, {
            "status": "ready", "failing": [], "checks": {"database": {"status": "healthy", "critical": True,
                                                                      "version": "3.45"}}})


def test_a_failing_critical_check_is_503_and_listed_by_ready():
    health = HealthChecker()
    health.add_check("database", lambda: {"status": "unhealthy", "error": "no route to host"})
    health.add_check("cache", lambda: True, critical=False)
    app = app_with(health)
    assert get(app, "/health") == (503, {"status": "unhealthy", "checks": {
        "database": {"status": "unhealthy", "critical": True, "error": "no route to host"},
        "cache": {"status": "healthy", "critical": False}}})
    assert get(app, "/health/ready") == (503, {"status": "not ready", "failing": ["database"], "checks": {
        "database": {"status": "unhealthy", "critical": True, "error": "no route to host"}}})


def test_a_failing_non_critical_check_is_degraded_with_200_and_ready_ignores_it():
    calls = []
    health = HealthChecker()
    health.add_check("database", lambda: True)

    @health.check("search", critical=False)
    def search():
        calls.append("search")
        return False

    app = app_with(health)
    assert get(app, "/health") == (200, {"status": "degraded", "checks": {
        "database": {"status": "healthy", "critical": True},
        "search": {"status": "unhealthy", "critical": False}}})
    assert get(app, "/health/ready") == (200, {"status": "ready", "failing": [], "checks": {
        "database": {"status": "healthy", "critical": True}}})
    assert calls == ["search"]  # readiness runs the critical checks only


def test_live_runs_no_check():
    calls = []
    health = HealthChecker()
    health.add_check("database", lambda: calls.append(1) or False)
    app = app_with(health)
    with TestClient(app) as client:
        r = client.get("/health/live")
        assert (r.status_code, r.json(), r.headers["cache-control"]) == (200, {"status": "alive"}, "no-store")
        head = client.head("/health/live")
        assert (head.status_code, head.content) == (200, b"")
        assert client.post("/health/live").status_code == 405
    assert calls == []


def test_no_checks_is_healthy_and_ready():
    app = app_with(HealthChecker())
    assert get(app, "/health") == (200, {"status": "healthy", "checks": {}})
    assert get(app, "/health/ready") == (200, {"status": "ready", "failing": [], "checks": {}})


def test_the_seed_example_runs_as_written(tmp_path):
    # The API reference's "Health Checks" section, with its db and cache objects made real.
    db = DatabaseManager("sqlite:///%s" % (tmp_path / "app.db"))
    cache = Cache()
    cache.ping = lambda: asyncio.sleep(0)  # the reference's cache object answers ping()

    health = HealthChecker()

    @health.check("database")
    async def check_database():
        try:
            await db.execute("SELECT 1")
            return {"status": "healthy"}
        except Exception as e:
            return {"status": "unhealthy", "error": str(e)}

    @health.check("redis")
    async def check_redis():
        try:
            await cache.ping()
            return {"status": "healthy"}
        except Exception as e:
            return {"status": "unhealthy", "error": str(e)}

    app = Covet()
    app.add_database(db)
    app.include_router(health.router, prefix="/health")
    assert get(app, "/health") == (200, {"status": "healthy", "checks": {
        "database": {"status": "healthy", "critical": True}, "redis": {"status": "healthy", "critical": True}}})


# -- what a check may return or raise -------------------------------------------------------------

@pytest.mark.parametrize("value, entry", [
    (None, {"status": "healthy"}),
    (True, {"status": "healthy"}),
    (False, {"status": "unhealthy"}),
    ({"status": "healthy", "lag_s": 0.5}, {"status": "healthy", "lag_s": 0.5}),
    ({"status": "ok"}, {"status": "unhealthy",
                        "error": "returned status 'ok'; a check returns \"healthy\" or \"unhealthy\""}),
    ({"lag_s": 3}, {"status": "unhealthy", "lag_s": 3, "error": "returned a dict without \"status\""}),
    (1, {"status": "unhealthy", "error": "returned int; a check returns a dict, True/False or None"}),
    ("healthy", {"status": "unhealthy", "error": "returned str; a check returns a dict, True/False or None"}),
    ({"status": "healthy", "tags": {"a"}}, {"status": "healthy", "tags": "{'a'}"}),
    ({"status": "healthy", 1: "x", "b": object()}, {"status": "healthy", "1": "x", "b": "OBJECT"}),
])
def test_return_values(value, entry):
    health = HealthChecker()
    health.add_check("c", lambda: value)
    status, body = get(app_with(health), "/health")
    got = body["checks"]["c"]
    assert got.pop("critical") is True
    if got.get("b", "").startswith("<object object at"):
        got["b"] = "OBJECT"
    assert got == entry
    assert status == (200 if entry["status"] == "healthy" else 503)


def test_a_raising_check_reports_class_and_message_and_no_traceback():
    health = HealthChecker()

    @health.check("sync")
    def sync():
        raise ConnectionRefusedError(111, "Connection refused")

    @health.check("async")
    async def async_():
        raise KeyError("shard-3")

    @health.check("long")
    async def long():
        raise ValueError("x" * 1000)

    @health.check("bare")
    async def bare():
        raise RuntimeError()

    app = app_with(health)
    with TestClient(app) as client:
        r = client.get("/health")
    assert "Traceback" not in r.text and "line " not in r.text
    checks = r.json()["checks"]
    assert checks["sync"]["error"] == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert checks["async"]["error"] == "KeyError: 'shard-3'"
    assert checks["long"]["error"] == "ValueError: " + "x" * (MAX_ERROR_LENGTH - 15) + "..."
    assert len(checks["long"]["error"]) == MAX_ERROR_LENGTH
    assert checks["bare"]["error"] == "RuntimeError"
    assert r.status_code == 503


# -- concurrency, threads, timeouts -------------------------------------------------------------

def test_checks_run_concurrently():
    # Each check waits until the other has started: run one after the other, both time out.
    async def main():
        a_started, b_started = asyncio.Event(), asyncio.Event()
        health = HealthChecker(timeout=5.0)

        @health.check("a")
        async def a():
            a_started.set()
            await b_started.wait()
            return True

        @health.check("b")
        async def b():
            b_started.set()
            await a_started.wait()
            return True

        async with AsyncTestClient(app_with(health)) as client:
            r = await client.get("/health")
        return r.status_code, [c["status"] for c in r.json()["checks"].values()]

    assert run(main()) == (200, ["healthy", "healthy"])


def test_a_sync_check_runs_in_a_thread_and_the_loop_keeps_going():
    # The sync check blocks until an async check, which needs the loop, lets it go.
    release = threading.Event()
    threads = []

    async def main():
        health = HealthChecker(timeout=5.0)

        @health.check("blocking")
        def blocking():
            threads.append(threading.get_ident())
            return release.wait(5)

        @health.check("on_loop")
        async def on_loop():
            await asyncio.sleep(0)
            release.set()
            return True

        async with AsyncTestClient(app_with(health)) as client:
            r = await client.get("/health")
        return r.status_code, r.json()["checks"]["blocking"]["status"], threading.get_ident()

    status, blocking, loop_thread = run(main())
    assert (status, blocking) == (200, "healthy")
    assert len(threads) == 1 and threads[0] != loop_thread


def test_an_async_check_that_never_returns_times_out():
    health = HealthChecker()
    cancelled = []

    @health.check("stuck", timeout=0.2)
    async def stuck():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    health.add_check("fine", lambda: True, critical=False)
    app = app_with(health)
    assert get(app, "/health") == (503, {"status": "unhealthy", "checks": {
        "stuck": {"status": "unhealthy", "critical": True, "error": "timed out after 0.2 s"},
        "fine": {"status": "healthy", "critical": False}}})
    assert cancelled == [True]


def test_a_check_that_swallows_its_cancellation_does_not_hold_the_probe():
    async def main():
        release = asyncio.Event()
        health = HealthChecker()

        @health.check("stubborn", timeout=0.2)
        async def stubborn():
            while True:
                try:
                    await release.wait()
                    return True
                except asyncio.CancelledError:
                    continue  # refuses to stop

        async with AsyncTestClient(app_with(health)) as client:
            r = await client.get("/health/ready")
        release.set()  # now it ends
        await asyncio.sleep(0)
        return r.status_code, r.json()["failing"], r.json()["checks"]["stubborn"]["error"]

    assert run(main()) == (503, ["stubborn"], "timed out after 0.2 s")


def test_a_stuck_sync_check_holds_one_thread_however_many_probes_come():
    release, entered = threading.Event(), threading.Event()
    calls = []
    health = HealthChecker()

    @health.check("driver", timeout=0.2)
    def driver():
        calls.append(1)
        entered.set()
        release.wait(10)
        return True

    app = app_with(health)
    try:
        with TestClient(app) as client:
            for _ in range(3):
                r = client.get("/health/ready")
                assert (r.status_code, r.json()["checks"]["driver"]["error"]) == (503, "timed out after 0.2 s")
            assert calls == [1]  # the later probes waited on the same call
            release.set()
            while client.get("/health/ready").status_code != 200:
                pass  # the stuck call ends; the next probe that finds it done reads its answer
            assert client.get("/health/ready").status_code == 200
            assert len(calls) >= 2  # and once finished, each probe calls it anew
    finally:
        release.set()


def test_a_sync_check_returning_an_awaitable_is_awaited():
    health = HealthChecker()
    health.add_check("lambda", lambda: asyncio.sleep(0, result={"status": "healthy", "rows": 1}))
    assert get(app_with(health), "/health")[1]["checks"]["lambda"] == {
        "status": "healthy", "critical": True, "rows": 1}


# -- graceful shutdown ------------------------------------------------------------------------------

def test_ready_is_503_while_the_app_drains_and_runs_no_check():
    calls = []
    health = HealthChecker()
    health.add_check("database", lambda: calls.append(1) or True)
    app = app_with(health)
    with TestClient(app) as client:
        assert client.get("/health/ready").status_code == 200
        app.begin_drain()
        r = client.get("/health/ready")
        assert (r.status_code, r.json()) == (503, {"status": "shutting down", "failing": [], "checks": {}})
        assert client.get("/health/live").status_code == 200  # still serving what it has
        assert client.get("/health").status_code == 200        # the checks themselves still pass
    assert calls == [1, 1]


def test_shutdown_drains_and_startup_undrains():
    app = app_with(HealthChecker())
    sub = Covet()
    app.mount("/sub", sub)

    async def main():
        await app.startup()
        assert (app.draining, sub.draining) == (False, False)
        await app.shutdown()
        assert (app.draining, sub.draining) == (True, True)
        await app.startup()
        assert (app.draining, sub.draining) == (False, False)
        await app.shutdown()

    run(main())


def test_ready_turns_503_when_the_server_begins_a_graceful_shutdown_during_the_probe():
    started, release = threading.Event(), threading.Event()
    health = HealthChecker(timeout=5.0)

    @health.check("database")
    def database():
        started.set()
        release.wait(5)
        return True

    srv = RunningServer(app_with(health))
    try:
        with srv.connect() as s:
            s.sendall(b"GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            assert started.wait(5)
            srv.call(srv.server.begin_shutdown)  # what SIGTERM does
            release.set()
            status, headers, body, rest = read_response(s)
        assert (status, headers["connection"], rest) == ("HTTP/1.1 503 Service Unavailable", ["close"], b"")
        assert strip_durations(json.loads(body)) == {"status": "shutting down", "failing": [], "checks": {
            "database": {"status": "healthy", "critical": True}}}
    finally:
        release.set()
        srv.stop()


# -- ready-made checks -------------------------------------------------------------------------------

def test_database_check_against_sqlite(tmp_path):
    db = DatabaseManager("sqlite:///%s" % (tmp_path / "app.db"))
    health = HealthChecker()
    health.add_database(db)
    app = app_with(health)
    app.add_database(db)
    assert get(app, "/health/ready") == (200, {"status": "ready", "failing": [], "checks": {
        "database": {"status": "healthy", "system": "sqlite", "pool_size": 1, "pool_idle": 1, "critical": True}}})


def test_database_check_fails_when_the_database_cannot_be_opened(tmp_path):
    db = DatabaseManager("sqlite:///%s" % (tmp_path / "missing-dir" / "app.db"))
    health = HealthChecker()
    health.add_database(db, name="primary")
    status, body = get(app_with(health), "/health/ready")
    assert (status, body["status"], body["failing"]) == (503, "not ready", ["primary"])
    error = body["checks"]["primary"]["error"]
    assert error.startswith("OperationalError: ") and "unable to open database file" in error


def test_redis_check_against_a_real_server(redis_server):  # noqa: F811
    client = Redis(host=redis_server.host, port=redis_server.port)
    health = HealthChecker()
    health.add_redis(client)
    app = app_with(health)
    app.on_shutdown(client.close)
    assert get(app, "/health/ready") == (200, {"status": "ready", "failing": [], "checks": {
        "redis": {"status": "healthy", "address": "%s:%d" % (redis_server.host, redis_server.port),
                  "critical": True}}})


def test_redis_check_fails_when_nothing_listens():
    port = free_port()
    client = Redis(host="127.0.0.1", port=port, reconnect_backoff=0)
    health = HealthChecker()
    health.add_redis(client, name="sessions", timeout=1.0)
    app = app_with(health)
    app.on_shutdown(client.close)
    status, body = get(app, "/health/ready")
    assert (status, body["failing"]) == (503, ["sessions"])
    assert body["checks"]["sessions"]["error"].startswith(
        "RedisConnectionError: cannot connect to Redis at 127.0.0.1:%d: " % port)


def test_redis_check_wants_pong():
    class Odd:
        async def ping(self):
            return b"PONG?"

    health = HealthChecker()
    health.add_redis(Odd())
    assert get(app_with(health), "/health")[1]["checks"]["redis"] == {
        "status": "unhealthy", "critical": True, "error": "PING answered b'PONG?'"}


def test_cache_check_round_trip_leaves_nothing_behind():
    keys = []

    class Recording(Cache):
        async def aset(self, key, value, ttl=None):
            keys.append((key, value, ttl))
            return await super().aset(key, value, ttl)

    cache = Recording()
    health = HealthChecker()
    health.add_cache(cache)
    assert get(app_with(health), "/health") == (200, {"status": "healthy", "checks": {
        "cache": {"status": "healthy", "critical": False}}})
    [(key, value, ttl)] = keys
    assert (key, len(value), ttl) == ("covet:health:" + value, 32, 60)
    assert cache.has(key) is False


@pytest.mark.parametrize("stored, read, error", [
    (False, None, "set failed"),
    (True, "other", "read back 'other', not the value just set"),
])
def test_cache_check_failures(stored, read, error):
    deleted = []

    class Broken(Cache):
        async def aset(self, key, value, ttl=None):
            return stored

        async def aget(self, key, default=None):
            return read

        async def adelete(self, key):
            deleted.append(key)
            return True

    health = HealthChecker()
    health.add_cache(Broken(), critical=True)
    assert get(app_with(health), "/health") == (503, {"status": "unhealthy", "checks": {
        "cache": {"status": "unhealthy", "critical": True, "error": error}}})
    assert len(deleted) == (1 if stored else 0)


# -- refusals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", None, 3, "bad\nname"])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="non-empty printable string"):
        HealthChecker().add_check(name, lambda: True)


def test_duplicate_names_and_non_callables_are_refused():
    health = HealthChecker()
    health.add_check("db", lambda: True)
    with pytest.raises(ValueError, match="a check named 'db' is registered already"):
        health.add_check("db", lambda: True)
    with pytest.raises(TypeError, match="check 'x': expected a function, got 3"):
        health.add_check("x", 3)
    with pytest.raises(TypeError, match="critical must be True or False, got 'yes'"):
        health.add_check("y", lambda: True, critical="yes")
    assert health.names == ["db"]


@pytest.mark.parametrize("timeout, exc", [
    (0, ValueError), (-1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
    (True, TypeError), ("2", TypeError), (None, None),
])
def test_bad_timeouts_are_refused(timeout, exc):
    health = HealthChecker()
    if exc is None:
        health.add_check("c", lambda: True, timeout=timeout)  # None: the checker's default
        return
    with pytest.raises(exc, match="timeout must be"):
        health.add_check("c", lambda: True, timeout=timeout)
    with pytest.raises(exc, match="timeout must be"):
        HealthChecker(timeout=timeout)


def test_ready_made_checks_refuse_objects_without_the_methods():
    health = HealthChecker()
    with pytest.raises(TypeError, match="add_database takes a covet.database.DatabaseManager"):
        health.add_database(object())
    with pytest.raises(TypeError, match="add_redis takes a covet.redis.Redis"):
        health.add_redis("redis://localhost")
    with pytest.raises(TypeError, match="add_cache takes a covet.cache Cache"):
        health.add_cache({})
    assert health.names == []


def test_the_router_root_needs_a_prefix():
    health = HealthChecker()
    with pytest.raises(ValueError, match="route path '' is the root of a Router included with a prefix"):
        Covet().include_router(health.router)
    app = Covet()
    with pytest.raises(ValueError, match="route path '' is the root"):
        app.get("")(lambda: None)
    router = Router()
    router.get("")(lambda: {"root": True})
    app.include_router(router, prefix="/api/")
    with TestClient(app) as client:
        assert (client.get("/api").status_code, client.get("/api").json()) == (200, {"root": True})
    assert app.url_for("<lambda>") == "/api"


def test_the_objects_own_checks_under_names_of_your_choice(tmp_path, redis_server):  # noqa: F811
    db = DatabaseManager("sqlite:///%s" % (tmp_path / "app.db"))
    client = Redis(host=redis_server.host, port=redis_server.port)
    cache = Cache()
    health = HealthChecker()
    health.add_check("primary-db", db.health_check, timeout=1.0)
    health.add_check("sessions", client.health_check)
    health.add_check("pages", cache.health_check, critical=False)
    app = app_with(health)
    app.add_database(db)
    app.on_shutdown(client.close)
    status, body = get(app, "/health")
    assert status == 200 and body["status"] == "healthy"
    checks = {name: {k: v for k, v in c.items() if k != "duration_ms"} for name, c in body["checks"].items()}
    assert checks == {
        "primary-db": {"status": "healthy", "system": "sqlite", "pool_size": 1, "pool_idle": 1, "critical": True},
        "sessions": {"status": "healthy", "address": "%s:%d" % (redis_server.host, redis_server.port),
                     "critical": True},
        "pages": {"status": "healthy", "critical": False}}
