"""Business metrics: with metrics on, covet's own parts record the seed's families (errors by type,
validation errors, unhandled exceptions, sizes, slow requests and queries, process memory and CPU),
the domain helpers count what they are given, and every label stays bounded whatever clients send."""
import pytest

from covet import Covet, HTTPException
from covet.database import DatabaseManager
from covet.monitoring import MetricsManager, Registry
from covet.monitoring.backends import PrometheusBackend
from covet.monitoring.business import BoundedLabel, BusinessMetrics, error_type
from covet.monitoring.instrumentation import business_for
from covet.testing import TestClient
from test_monitoring_metrics import parse, values


def manager():
    return MetricsManager(PrometheusBackend(Registry()))


def app_with(metrics, **options):
    app = Covet()
    app.enable_metrics(metrics=metrics, **options)

    @app.route("/users/{user_id}", methods=["GET", "POST"])
    async def user(user_id: int, request):
        if request.method == "POST":
            body = await request.json()
            return {"id": user_id, "name": body["name"]}
        if user_id == 0:
            raise HTTPException(404, "no such user")
        if user_id == 13:
            raise RuntimeError("unlucky")
        return {"id": user_id}

    @app.route("/slow")
    async def slow():
        return {"ok": True}

    return app


def scrape(client):
    r = client.get("/metrics")
    assert r.status_code == 200
    return parse(r.content)


def test_errors_sizes_and_unhandled_exceptions_by_route_template():
    metrics = manager()
    app = app_with(metrics)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/users/1")
        client.get("/users/0")
        client.get("/users/abc")             # not an int: no such user either
        client.get("/users/13")
        client.post("/users/5", json={"name": "Ada"})
        client.post("/users/5", content=b"{bad", headers={"content-type": "application/json"})
        families = scrape(client)
    errors = {(dict(l)["type"], dict(l)["route"], dict(l)["status"]): v
              for _, l, v in families["errors_total"]["samples"]}
    assert errors == {("not_found", "/users/{user_id}", "404"): 2.0,
                      ("exception", "/users/{user_id}", "500"): 1.0, ("bad_request", "/users/{user_id}", "400"): 1.0}
    assert values(families, "exceptions_unhandled_total") == {(("exception", "RuntimeError"),): 1.0}
    sizes = {dict(l)["method"]: v for n, l, v in families["api_request_size_bytes"]["samples"]
             if n == "api_request_size_bytes_count"}
    assert sizes == {"GET": 0.0, "POST": 2.0}  # the two bodies; GETs have none to measure
    assert values(families, "api_response_size_bytes", "api_response_size_bytes_sum")[
        (("method", "POST"), ("route", "/users/{user_id}"))] > 0


def test_validation_errors_are_counted_by_route():
    metrics = manager()
    app = Covet()
    app.enable_metrics(metrics=metrics)

    @app.route("/items", methods=["POST"])
    async def items(count: int):
        return {"count": count}

    with TestClient(app) as client:
        assert client.post("/items?count=x").status_code == 422
        families = scrape(client)
    assert values(families, "validation_errors_total") == {(("route", "/items"),): 1.0}
    assert values(families, "errors_total")[(("type", "validation"), ("route", "/items"), ("status", "422"))] == 1.0


def test_slow_requests_and_slow_queries_over_their_thresholds(sqlite_url):
    metrics = manager()
    db = DatabaseManager(sqlite_url)
    app = Covet()
    app.enable_metrics(metrics=metrics, slow_request=0.000001, slow_query=0.000001)
    app.add_database(db)

    @app.route("/report")
    async def report():
        return {"n": await db.fetch_val("SELECT count(*) FROM (SELECT 1 UNION ALL SELECT 2)")}

    with TestClient(app) as client:
        assert client.get("/report").json() == {"n": 2}
        families = scrape(client)
    assert values(families, "slow_requests_total")[(("method", "GET"), ("route", "/report"))] == 1.0
    assert values(families, "slow_queries_total") == {(("system", "sqlite"), ("operation", "SELECT")): 1.0}
    business_for(metrics).close()


def test_process_memory_and_cpu_are_read_at_each_scrape():
    app = app_with(manager())
    with TestClient(app) as client:
        families = scrape(client)
    [(_, _, rss)] = families["process_resident_memory_bytes"]["samples"]
    [(_, _, cpu)] = families["process_cpu_seconds"]["samples"]
    assert rss > 10 * 1024 * 1024 and cpu > 0


def test_domain_helpers_and_a_flood_of_values_stays_bounded():
    metrics = manager()
    business = BusinessMetrics(metrics, cardinality_limit=10)
    try:
        for i in range(1000):
            business.track_user_action("action-%d" % i)
        business.track_feature_usage("export")
        business.track_records_processed("invoices", 250)
        business.track_records_processed("invoices", 50)
        with pytest.raises(ValueError, match="count is a whole number"):
            business.track_records_processed("invoices", -1)
        families = parse(metrics.render()[0])
    finally:
        business.close()
    actions = values(families, "user_actions_total")
    assert len(actions) == 11 and actions[(("action", "other"),)] == 990.0
    assert values(families, "feature_usage_total") == {(("feature", "export"),): 1.0}
    assert values(families, "records_processed_total") == {(("kind", "invoices"),): 300.0}


def test_a_flood_of_unknown_paths_and_methods_makes_no_new_series():
    metrics = manager()
    app = app_with(metrics)
    with TestClient(app) as client:
        for i in range(300):
            client.get("/nowhere/%d" % i)
            client.request("BREW%d" % (i % 50), "/users/1")
        families = scrape(client)
    assert len(families["errors_total"]["samples"]) <= 3
    assert {dict(l)["route"] for _, l, _ in families["errors_total"]["samples"]} <= {"<unmatched>", "/users/{user_id}"}


def test_bounded_label_and_error_types():
    label = BoundedLabel(2)
    assert [label(v) for v in ("a", "b", "c", "a", 7)] == ["a", "b", "other", "a", "other"]
    assert len(label) == 2
    with pytest.raises(ValueError):
        BoundedLabel(0)
    assert [error_type(s) for s in (404, 418, 422, 429, 500, 599)] == [
        "not_found", "client_error", "validation", "rate_limited", "server_error", "server_error"]
    assert error_type(500, exception=True) == "exception"


def test_one_business_metrics_per_registry_and_bad_thresholds():
    metrics = manager()
    a, b = Covet(), Covet()
    a.enable_metrics(metrics=metrics)
    b.enable_metrics(metrics=metrics)
    assert a.state.business_metrics is b.state.business_metrics
    with pytest.raises(ValueError, match="slow_query is seconds"):
        BusinessMetrics(manager(), slow_query=0)
    c = Covet()
    c.enable_metrics(metrics=manager(), business_metrics=False)
    assert not hasattr(c.state, "business_metrics")


def test_auth_tokens_permissions_and_passwords_are_counted_by_result():
    from covet.security import JWTAuth, RoleBasedAccessControl, hash_password, verify_password

    metrics = manager()
    app = Covet()
    app.enable_metrics(metrics=metrics)
    auth = JWTAuth(secret_key="k" * 40)
    rbac = RoleBasedAccessControl()
    rbac.add_role("admin", permissions=["delete"])

    @app.route("/me")
    @auth.require_token
    async def me(request):
        return request.state.user

    @app.route("/admin")
    @auth.require_token
    @rbac.require_permission("delete")
    async def admin(request):
        return {"ok": True}

    stored = hash_password("s3cret")
    assert verify_password("s3cret", stored) and not verify_password("nope", stored)
    good = auth.create_token({"sub": "ada", "roles": ["admin"]})
    plain = auth.create_token({"sub": "bob", "roles": []})
    import time
    expired = auth.jwt.encode({"sub": "ada", "typ": "access", "iat": int(time.time()) - 120,
                               "exp": int(time.time()) - 60})
    with TestClient(app) as client:
        client.get("/me", headers={"Authorization": "Bearer " + good})
        client.get("/me")
        client.get("/me", headers={"Authorization": "Bearer " + expired})
        client.get("/me", headers={"Authorization": "Bearer x.y.z"})
        client.get("/admin", headers={"Authorization": "Bearer " + good})
        assert client.get("/admin", headers={"Authorization": "Bearer " + plain}).status_code == 403
        families = scrape(client)
    assert values(families, "auth_token_validations_total") == {
        (("result", "valid"),): 3.0, (("result", "missing"),): 1.0, (("result", "expired"),): 1.0,
        (("result", "invalid"),): 1.0}
    assert values(families, "permission_checks_total") == {(("result", "allowed"),): 1.0,
                                                           (("result", "denied"),): 1.0}
    attempts = values(families, "auth_attempts_total")
    assert attempts[(("result", "success"),)] >= 1.0 and attempts[(("result", "failure"),)] >= 1.0


def test_breakers_and_retries_made_without_metrics_report_with_the_calls_they_wrap():
    from covet.resilience import CircuitBreaker, CircuitOpenError, retry

    metrics = manager()
    app = Covet()
    app.enable_metrics(metrics=metrics)
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=60, name="payments")
    calls = []

    @retry(attempts=3, backoff=0, name="rates")
    def rates():
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("flaky")
        return 1.1

    @breaker
    def charge(ok):
        if not ok:
            raise ConnectionError("down")
        return "charged"

    assert rates() == 1.1
    assert charge(True) == "charged"
    for _ in range(2):
        with pytest.raises(ConnectionError):
            charge(False)
    with pytest.raises(CircuitOpenError):
        charge(True)
    families = parse(metrics.render()[0])
    assert values(families, "circuit_breaker_state") == {(("name", "payments"),): 2.0}
    assert values(families, "circuit_breaker_failures_total") == {(("name", "payments"),): 2.0}
    assert values(families, "retry_success_after_failure_total") == {(("operation", "rates"),): 1.0}
    assert values(families, "external_service_calls_total") == {
        (("service", "rates"), ("outcome", "success")): 1.0, (("service", "payments"), ("outcome", "success")): 1.0,
        (("service", "payments"), ("outcome", "failure")): 3.0}
    assert values(families, "external_service_errors_total") == {
        (("service", "payments"), ("error", "ConnectionError")): 2.0,
        (("service", "payments"), ("error", "CircuitOpenError")): 1.0}
    assert values(families, "external_service_duration_seconds", "external_service_duration_seconds_count") == {
        (("service", "rates"),): 1.0, (("service", "payments"),): 4.0}


def test_rate_limit_checks_and_hits():
    from covet.security import RateLimiter

    metrics = manager()
    app = Covet()
    app.enable_metrics(metrics=metrics)
    limiter = RateLimiter("2/minute")

    @app.route("/api")
    @limiter.limit("2/minute")
    async def api(request):
        return {"ok": True}

    with TestClient(app) as client:
        assert [client.get("/api").status_code for _ in range(3)] == [200, 200, 429]
        families = scrape(client)
    limiter.close()
    assert values(families, "rate_limit_checks_total") == {(): 3.0}
    assert values(families, "rate_limit_hits_total") == {(): 1.0}


def test_cache_hits_and_misses_and_health_check_status():
    from covet.cache import Cache
    from covet.monitoring.health import HealthChecker

    metrics = manager()
    app = Covet()
    app.enable_metrics(metrics=metrics)
    sessions = Cache()
    app.state.business_metrics.watch_cache("sessions", sessions)
    health = HealthChecker()
    health.add_check("queue", lambda: {"status": "healthy"})
    health.add_check("mail", lambda: {"status": "unhealthy", "error": "smtp down"}, critical=False)
    app.include_router(health.router, prefix="/health")

    @app.route("/page")
    async def page():
        hit = app.memory_cache.get("page")
        app.memory_cache.set("page", "x", ttl=60)
        sessions.get("nobody")
        return {"hit": hit is not None}

    with TestClient(app) as client:
        assert [client.get("/page").json()["hit"] for _ in range(3)] == [False, True, True]
        client.get("/health")
        first = scrape(client)
        client.get("/page")
        second = scrape(client)
    assert values(first, "cache_hits_total") == {(("cache", "memory"),): 2.0, (("cache", "sessions"),): 0.0}
    assert values(first, "cache_misses_total") == {(("cache", "memory"),): 1.0, (("cache", "sessions"),): 3.0}
    assert values(second, "cache_hits_total")[(("cache", "memory"),)] == 3.0  # counted once, not again
    assert values(first, "health_check_status") == {(("check", "queue"),): 1.0, (("check", "mail"),): 0.0}
    with pytest.raises(TypeError, match="watch_cache takes"):
        app.state.business_metrics.watch_cache("x", object())


@pytest.mark.parametrize("value", ["9" * 400, "-5", "1e3", "", "0x10"])
def test_a_content_length_a_client_made_up_is_not_measured_and_hurts_nothing(value):
    metrics = manager()
    app = Covet()
    app.enable_metrics(metrics=metrics)

    @app.route("/x", methods=["POST"])
    async def x():
        return {"ok": True}

    with TestClient(app) as client:  # the in-process client passes the header as sent
        r = client.post("/x", content=b"", headers={"content-length": value})
        assert (r.status_code, r.json()) == (200, {"ok": True})
        families = scrape(client)
    counts = values(families, "api_request_size_bytes", "api_request_size_bytes_count")
    assert counts[(("method", "POST"), ("route", "/x"))] == 0.0
