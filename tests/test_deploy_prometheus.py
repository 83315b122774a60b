"""deploy/: the alert rules, their unit tests, the scrape config and the Grafana dashboard, checked by
Prometheus itself.

``promtool`` checks and unit-tests the rules; a real ``prometheus`` (Debian package ``prometheus``;
``make test`` installs it when it can) scrapes a covet server while the test drives traffic, and
every dashboard panel's expression is asked of its HTTP API. Prometheus listens on a port of its own
on 127.0.0.1 with its own data folder: a ``prometheus`` service the package may have started on
9090 is neither used nor disturbed.
"""
import asyncio
import json
import math
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from server_helpers import REPO, RunningServer

DEPLOY = os.path.join(REPO, "deploy")
ALERTS = os.path.join(DEPLOY, "prometheus", "alerts.yml")
ALERTS_TEST = os.path.join(DEPLOY, "prometheus", "alerts_test.yml")
SCRAPE = os.path.join(DEPLOY, "prometheus", "scrape.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "covet-overview.json")
# `covet new` copies the package's files; deploy/ at the root of the repository repeats them.
PACKAGED = os.path.join(REPO, "covet", "cli", "project_template", "deploy")
DEPLOY_FILES = ["grafana/covet-overview.json", "prometheus/alerts.yml", "prometheus/alerts_test.yml",
                "prometheus/scrape.yml"]
SEVERITIES = {"warning", "critical"}
GROUPS = ["application-health", "performance", "circuit-breakers", "rate-limiting", "authentication",
          "external-services", "dependencies", "cache", "resources", "retries", "validation"]

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found: install the Debian package prometheus (make test does when it can)")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not found: install the Debian package prometheus (make test does when it can)")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# -- the YAML subset the two rule files use, read line by line ------------------------------------------
def alert_blocks(text):
    """{alert name: {field: value}} of alerts.yml (``expr``, ``for``, ``severity``, annotations)."""
    alerts, current = {}, None
    for line in text.splitlines():
        m = re.match(r"\s+- alert: (\S+)$", line)
        if m:
            assert m.group(1) not in alerts, "alert %s defined twice" % m.group(1)
            current = alerts[m.group(1)] = {}
            continue
        m = re.match(r"\s+(expr|for|severity|summary|description|runbook): (.+)$", line)
        if m and current is not None:
            current[m.group(1)] = m.group(2)
    return alerts


def unit_cases(text):
    """{alert name: set of "fires"/"silent"} of the alert_rule_test entries of alerts_test.yml."""
    cases, name = {}, None
    for line in text.splitlines():
        m = re.match(r"\s+alertname: (\S+)$", line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"\s+exp_alerts:(.*)$", line)
        if m:
            assert name is not None, "exp_alerts before any alertname"
            cases.setdefault(name, set()).add("silent" if m.group(1).strip() == "[]" else "fires")
            name = None
    return cases


def recorded_families():
    """The family names docs/metrics.md lists (first column of its tables, and the domain families)."""
    text = read(os.path.join(REPO, "docs", "metrics.md"))
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, re.M)) | set(re.findall(r"# ([a-z_]+_total)\{", text))


PROMQL_WORDS = {"by", "without", "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool",
                "offset"}


def families_in(expr):
    """The metric names an expression reads (label matchers, groupings and functions left out)."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
        word = m.group(0)
        if word in PROMQL_WORDS or bare[m.end():].lstrip().startswith("("):
            continue
        names.add(re.sub(r"_(bucket|sum|count)$", "", word))
    return names


def dashboard_targets():
    dashboard = json.loads(read(DASHBOARD))
    return [(panel["title"], target["refId"], target["expr"]) for panel in dashboard["panels"]
            for target in panel["targets"]]


# -- the files ----------------------------------------------------------------------------------------
def test_covet_new_copies_are_the_repository_files():
    for path in DEPLOY_FILES:
        assert read(os.path.join(PACKAGED, path)) == read(os.path.join(DEPLOY, path)), (
            "%s differs from the copy covet new ships: cp covet/cli/project_template/deploy/%s deploy/%s"
            % (path, path, path))


def test_every_alert_has_for_severity_and_annotations():
    alerts = alert_blocks(read(ALERTS))
    assert len(alerts) >= 20
    for name, fields in alerts.items():
        assert re.fullmatch(r"\d+[smh]", fields.get("for", "")), "%s has no for:" % name
        assert fields.get("severity") in SEVERITIES, name
        for field in ("expr", "summary", "description", "runbook"):
            assert fields.get(field), "%s has no %s" % (name, field)
    groups = re.findall(r"^  - name: covet-(\S+)$", read(ALERTS), re.M)
    assert groups == GROUPS


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    alerts = set(alert_blocks(read(ALERTS)))
    cases = unit_cases(read(ALERTS_TEST))
    assert set(cases) == alerts
    missing = {name: {"fires", "silent"} - kinds for name, kinds in cases.items() if kinds != {"fires", "silent"}}
    assert missing == {}


def test_rules_and_dashboard_read_only_families_covet_records():
    known = recorded_families() | {"up", "ALERTS"}
    assert {"http_requests_total", "errors_total", "circuit_breaker_state", "user_actions_total"} <= known
    exprs = [fields["expr"] for fields in alert_blocks(read(ALERTS)).values()]
    exprs += [expr for _, _, expr in dashboard_targets()]
    used = set().union(*(families_in(expr) for expr in exprs))
    assert used - known == set()
    assert {"cache_hits_total", "cache_misses_total", "health_check_status"} <= used


def test_dashboard_variables_and_route_filter():
    dashboard = json.loads(read(DASHBOARD))
    assert dashboard["uid"] == "covet-overview" and 36 <= dashboard["schemaVersion"] <= 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    route = variables["route"]
    assert route["type"] == "query" and route["query"]["query"] == "label_values(http_requests_total, route)"
    assert route["includeAll"] and route["allValue"] == ".*"
    titles = [p["title"] for p in dashboard["panels"]]
    assert titles == ["Request rate", "Latency p50 / p95 / p99", "Error rate by type", "Circuit breaker states",
                      "Rate limit hits", "Dependency health", "Cache hit rate", "Auth failures",
                      "External service calls"]
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            # Every family with a route label is filtered by $route.
            if re.search(r"\b(http_requests_total|http_request_duration_seconds_bucket|errors_total)\b", target["expr"]):
                assert target["expr"].count('route=~"$route"') == len(re.findall(
                    r"\b(?:http_requests_total|http_request_duration_seconds_bucket|errors_total)\{", target["expr"])), (
                    panel["title"], target["expr"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids)


# -- promtool ---------------------------------------------------------------------------------------
def promtool(*args):
    return subprocess.run([PROMTOOL] + list(args), cwd=os.path.join(DEPLOY, "prometheus"), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)


@needs_promtool
def test_promtool_check_rules():
    proc = promtool("check", "rules", "alerts.yml")
    assert proc.returncode == 0, proc.stdout
    assert "SUCCESS: %d rules found" % len(alert_blocks(read(ALERTS))) in proc.stdout


@needs_promtool
def test_promtool_test_rules():
    proc = promtool("test", "rules", "alerts_test.yml")
    assert proc.returncode == 0, proc.stdout
    assert "SUCCESS" in proc.stdout


@needs_promtool
def test_promtool_test_rules_fails_when_a_threshold_moves(tmp_path):
    # The unit tests can fail: with HighErrorRate's threshold lowered, its silent case fires.
    rules = read(ALERTS).replace("sum by (job) (rate(http_requests_total[5m])) > 0.05",
                                 "sum by (job) (rate(http_requests_total[5m])) > 0.001", 1)
    assert rules != read(ALERTS)
    (tmp_path / "alerts.yml").write_text(rules)
    shutil.copy(ALERTS_TEST, str(tmp_path / "alerts_test.yml"))
    proc = subprocess.run([PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=str(tmp_path), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert proc.returncode == 1
    assert re.findall(r"alertname: (\w+)", proc.stdout) == ["CovetHighErrorRate"]


@needs_promtool
def test_promtool_check_config():
    proc = promtool("check", "config", "scrape.yml")
    assert proc.returncode == 0, proc.stdout
    assert "SUCCESS: scrape.yml is valid prometheus config file syntax" in proc.stdout


# -- a real Prometheus scraping a real covet server ----------------------------------------------------------
def covet_app():
    """An app whose routes make every panel move: errors of each kind, a rate-limit refusal, an open
    breaker, refused tokens, a failed login, a denied permission, cache reads and health checks."""
    from covet import Covet, HTTPException
    from covet.cache import Cache
    from covet.monitoring import HealthChecker, MetricsManager, Registry
    from covet.monitoring.backends import PrometheusBackend
    from covet.resilience import CircuitBreaker, CircuitOpenError
    from covet.security import JWTAuth, RateLimiter, RoleBasedAccessControl, hash_password, verify_password

    metrics = MetricsManager(PrometheusBackend(Registry()))
    app = Covet()
    app.enable_metrics(metrics=metrics)
    limiter = RateLimiter("2/minute")
    auth = JWTAuth(secret_key="k" * 40)
    rbac = RoleBasedAccessControl()
    rbac.add_role("admin", permissions=["delete"])
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=600, name="payments")
    cache = Cache()
    health = HealthChecker()
    stored = hash_password("s3cret", scheme="pbkdf2-sha256", iterations=1000)   # fast: a test
    health.add_check("database", lambda: True)

    def queue():
        raise ConnectionError("queue unreachable")
    health.add_check("queue", queue, critical=False)
    # covet's own cache families: a cache given to watch_cache is read at each scrape.
    app.state.business_metrics.watch_cache("default", cache)

    @app.get("/ok")
    async def ok():
        return {"ok": True}

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    @app.get("/limited")
    @limiter.limit("2/minute")
    async def limited(request):
        return {"ok": True}

    @app.get("/me")
    @auth.require_token
    async def me(request):
        return request.state.user

    @app.get("/admin")
    @auth.require_token
    @rbac.require_permission("delete")
    async def admin(request):
        return {"ok": True}

    @app.get("/login")
    async def login():
        if not verify_password("wrong", stored):
            raise HTTPException(401, "bad credentials")
        return {"ok": True}

    @breaker
    def charge():
        raise ConnectionError("payments unreachable")

    @app.get("/pay")
    async def pay():
        try:
            charge()
        except CircuitOpenError:
            raise HTTPException(503, "payments refused by the open breaker")
        except ConnectionError:
            raise HTTPException(502, "payments unreachable")

    @app.get("/cached/{key}")
    async def cached(key: str):
        found = cache.get(key)
        if found is None:
            cache.set(key, key.upper())
        return {"value": found}

    @app.get("/health")
    async def check_health():
        report = await health.run()  # covet sets health_check_status for each check it runs
        return {"status": report.status}

    # A scrape waits while the test holds ``gate``: a round of traffic falls between two scrapes, so
    # every series it creates has its first sample in the same scrape, and their rates share one
    # extrapolation (the values can then be compared with the requests sent, exactly).
    gate = threading.Lock()

    async def hold_scrapes(request, call_next):
        if request.path == "/metrics":
            await asyncio.get_running_loop().run_in_executor(None, gate.acquire)
            gate.release()
        return await call_next(request)
    app.add_middleware(hold_scrapes)
    token = auth.create_token({"sub": "bob", "roles": []})
    return app, limiter, token, gate


# One round of traffic: (path, headers, status). Sent twice: series are born in the first round, so
# that the second moves every rate (Prometheus takes a series' first sample as its start, not 0).
def traffic(token, round_):
    bad = {"Authorization": "Bearer x.y.z"}
    plain = {"Authorization": "Bearer " + token}
    return ([("/ok", {}, 200)] * 4 + [("/boom", {}, 500), ("/missing", {}, 404), ("/missing/too", {}, 404)]
            + [("/limited", {}, None)] * 3 + [("/me", bad, 401), ("/admin", plain, 403), ("/login", {}, 401)]
            + [("/pay", {}, None)] * 3 + [("/cached/a%d" % round_, {}, 200)] * 3
            + [("/cached/b%d" % round_, {}, 200), ("/health", {}, 200)])


def get(url, headers=None):
    """(status, body) of a GET, error statuses included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A prometheus process with its own folder and port; ``query`` asks its HTTP API."""

    def __init__(self, folder, target):
        config = read(SCRAPE)
        for old, new in (("scrape_interval: 15s", "scrape_interval: 1s"), ("evaluation_interval: 15s",
                         "evaluation_interval: 1s"), ("scrape_timeout: 10s", "scrape_timeout: 1s"),
                         ("- 127.0.0.1:8000", "- " + target)):
            assert config.count(old) == 1, old
            config = config.replace(old, new)
        self.folder = folder
        with open(os.path.join(folder, "prometheus.yml"), "w") as f:
            f.write(config)
        shutil.copy(ALERTS, os.path.join(folder, "alerts.yml"))
        self.proc = None
        for _ in range(3):  # the port was free a moment ago; another process may have taken it since
            self.port = free_port()
            self.log = open(os.path.join(folder, "prometheus.log"), "w")
            self.proc = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + os.path.join(folder, "prometheus.yml"),
                 "--storage.tsdb.path=" + os.path.join(folder, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                cwd=folder, stdout=self.log, stderr=subprocess.STDOUT)
            if self.wait_ready():
                return
            self.stop()
            if "address already in use" not in self.log_text():
                break
        raise AssertionError("prometheus did not start:\n" + self.log_text())

    def log_text(self):
        return read(os.path.join(self.folder, "prometheus.log"))

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if get("http://127.0.0.1:%d/-/ready" % self.port)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params))
        status, body = get(url)
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr, at=None):
        """{labels as a sorted tuple of pairs: value} of an instant query (now, or at ``at``)."""
        data = self.api("query", query=expr, **({"time": "%.3f" % at} if at is not None else {}))
        assert data["resultType"] == "vector", data
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in data["result"]}

    def wait_for(self, what, check, timeout=15.0):
        """Poll until ``check()`` is true (a scrape has brought what we wait for), or fail."""
        deadline = time.monotonic() + timeout
        while True:
            last = check()
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError("prometheus did not see %s in %s s" % (what, timeout))
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def approx(value):
    return pytest.approx(value, rel=1e-9)


def by(result, label):
    return {dict(key).get(label): value for key, value in result.items()}


RATE = "1m"


def panel_expr(expr, route=".*"):
    return expr.replace("$route", route).replace("$__rate_interval", RATE).replace("$__interval", RATE)


@needs_prometheus
@pytest.mark.slow
def test_prometheus_scrapes_covet_and_every_panel_has_the_traffic(tmp_path):
    app, limiter, token, gate = covet_app()
    server = RunningServer(app)
    prometheus = None
    try:
        prometheus = Prometheus(str(tmp_path), "127.0.0.1:%d" % server.port)

        def target_up():
            active = prometheus.api("targets")["activeTargets"]
            return [t for t in active if t["labels"]["job"] == "covet" and t["health"] == "up"]
        [target] = prometheus.wait_for("the covet target up", target_up)
        assert target["scrapeUrl"] == "http://127.0.0.1:%d/metrics" % server.port

        sent = {}
        for round_ in (1, 2):
            with gate:
                for path, headers, status in traffic(token, round_):
                    got, _ = get(server.url + path, headers)
                    if status is not None:
                        assert got == status, (path, got)
                    sent[(path, got)] = sent.get((path, got), 0) + 1
            total = sum(sent.values())
            prometheus.wait_for("round %d" % round_, lambda: prometheus.query(
                'sum(http_requests_total{route!="/metrics"})') == {(): float(total)})
        limiter.close()

        # The raw counters agree with the traffic, exactly.
        assert sent[("/limited", 200)] == 2 and sent[("/limited", 429)] == 4
        assert sent[("/pay", 502)] == 2 and sent[("/pay", 503)] == 4
        requests = prometheus.query('sum by (route, status) (http_requests_total{route!="/metrics"})')
        assert requests == {
            (("route", "/ok"), ("status", "200")): 8.0, (("route", "/boom"), ("status", "500")): 2.0,
            (("route", "<unmatched>"), ("status", "404")): 4.0, (("route", "/limited"), ("status", "200")): 2.0,
            (("route", "/limited"), ("status", "429")): 4.0, (("route", "/me"), ("status", "401")): 2.0,
            (("route", "/admin"), ("status", "403")): 2.0, (("route", "/login"), ("status", "401")): 2.0,
            (("route", "/pay"), ("status", "502")): 2.0, (("route", "/pay"), ("status", "503")): 4.0,
            (("route", "/cached/{key}"), ("status", "200")): 8.0, (("route", "/health"), ("status", "200")): 2.0}
        assert prometheus.query("sum(rate_limit_hits_total)") == {(): 4.0}
        assert prometheus.query("sum(rate_limit_checks_total)") == {(): 6.0}
        assert by(prometheus.query("sum by (name) (circuit_breaker_failures_total)"), "name") == {"payments": 2.0}

        panels = {}
        at = time.time()   # every panel at one instant, as Grafana asks them
        for title, ref, expr in dashboard_targets():
            result = prometheus.query(panel_expr(expr), at)
            assert result, "panel %r (%s) returned no data: %s" % (title, ref, panel_expr(expr))
            assert all(not math.isnan(v) for v in result.values()), (title, ref, result)
            panels[title, ref] = result

        # Rates. Both rounds send the same requests, so a series born in the first round has its first
        # sample (the round's count) equal to the second round's increase, in the same scrapes as every
        # other such series: Prometheus extrapolates them alike, and each rate is the requests sent in
        # a round times one factor f. Series that exist from the start (the label-less rate-limit
        # counters, and the token, password and permission results, made at 0) share another, g.
        # Series whose rounds differ (429s and 503s: the limit and the breaker were already closed to
        # the second round) are checked for movement only.
        rate = by(panels["Request rate", "A"], "route")
        f = rate["/ok"] / 4
        assert f > 0
        # (/limited and /pay sum series of different rounds: 200 then 429, 502 then 503.)
        assert rate == {"/ok": 4 * f, "/boom": approx(f), "<unmatched>": approx(2 * f), "/limited": rate["/limited"],
                        "/me": approx(f), "/admin": approx(f), "/login": approx(f), "/pay": rate["/pay"],
                        "/cached/{key}": approx(4 * f), "/health": approx(f), "/metrics": rate["/metrics"]}
        assert rate["/limited"] > 0 and rate["/pay"] > 0 and rate["/metrics"] > 0
        only_ok = prometheus.query(panel_expr(dict(((t, r), e) for t, r, e in dashboard_targets())[
            "Request rate", "A"], route="/ok"), at)
        assert by(only_ok, "route") == {"/ok": rate["/ok"]}   # the $route filter
        statuses = by(panels["Request rate", "B"], "status")
        assert statuses == {"200": statuses["200"], "401": approx(2 * f), "403": approx(f), "404": approx(2 * f),
                            "429": statuses["429"], "500": approx(f), "502": 0.0, "503": statuses["503"]}
        assert statuses["429"] > 0 and statuses["503"] > 0

        p50, p95, p99 = (panels["Latency p50 / p95 / p99", ref][()] for ref in "ABC")
        assert 0 < p50 <= p95 <= p99 < 10

        errors = by(panels["Error rate by type", "A"], "type")   # /boom raises: "exception", not "server_error"
        assert errors == {"exception": approx(f), "not_found": approx(2 * f), "unauthorized": approx(2 * f),
                          "forbidden": approx(f), "bad_gateway": 0.0, "rate_limited": errors["rate_limited"],
                          "unavailable": errors["unavailable"]}
        assert errors["rate_limited"] > 0 and errors["unavailable"] > 0

        assert by(panels["Circuit breaker states", "A"], "name") == {"payments": 2.0}

        tokens = by(panels["Auth failures", "A"], "result")
        g = tokens["invalid"] / 2
        assert g > 0
        assert panels["Rate limit hits", "A"] == {(): approx(4 * g)}
        assert panels["Rate limit hits", "B"] == {(): approx(6 * g)}
        assert by(panels["Rate limit hits", "C"], "route") == {"/limited": errors["rate_limited"]}

        assert by(panels["Dependency health", "A"], "check") == {"database": 1.0, "queue": 0.0}
        # Each round reads a<round> three times (a miss, two hits) and b<round> once (a miss).
        assert by(panels["Cache hit rate", "A"], "cache") == {"default": approx(0.5)}

        assert tokens == {"invalid": 2 * g, "missing": 0.0, "expired": 0.0}
        assert panels["Auth failures", "B"] == {(): approx(2 * g)}
        assert panels["Auth failures", "C"] == {(): approx(2 * g)}
        assert by(panels["Auth failures", "D"], "route") == {"/me": approx(f), "/login": approx(f)}

        calls = {(dict(k)["service"], dict(k)["outcome"]): v for k, v in panels["External service calls", "A"].items()}
        assert calls == {("payments", "failure"): approx(3 * f)}
        failures = by(panels["External service calls", "B"], "error")
        assert failures == {"ConnectionError": 0.0, "CircuitOpenError": failures["CircuitOpenError"]}
        assert failures["CircuitOpenError"] > 0

        # Prometheus loaded every rule of alerts.yml and evaluates them without error.
        def evaluated():
            rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
            return rules if all(r["health"] == "ok" for r in rules) else None
        rules = prometheus.wait_for("every rule evaluated", evaluated)
        assert sorted(r["name"] for r in rules) == sorted(alert_blocks(read(ALERTS)))
        # Printed for docs/metrics.md (pytest -s shows it).
        for (title, ref), result in sorted(panels.items()):
            print("%s %s %s" % (title, ref, json.dumps({", ".join("%s=%s" % p for p in k if p[0] not in (
                "job", "instance")): round(v, 4) for k, v in result.items()}, sort_keys=True)))
    finally:
        if prometheus is not None:
            prometheus.stop()
        server.stop()
