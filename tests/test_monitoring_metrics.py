"""covet.monitoring metrics: the registry, the two exposition formats (parsed back by a strict parser
written here from the format documents), the built-in HTTP metrics, and multiprocess scrapes."""
import asyncio
import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from covet import Covet, HTTPException, PlainTextResponse
from covet.monitoring import MetricError, MetricsManager, Registry
from covet.monitoring.backends import PrometheusBackend
from covet.monitoring.exposition import choose_format
from covet.monitoring.multiprocess import METRICS_DIR_ENV, mark_process_dead
from covet.testing import TestClient

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


# -- a strict parser of the two formats --------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_LINE = re.compile(r"(%s)(?:\{(.*)\})? (\S+)\Z" % NAME)
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
ESCAPE = re.compile(r"\\(.)")
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("", "_sum", "_count")}


def unescape(text, allowed):
    def one(m):
        if m.group(1) not in allowed:
            raise AssertionError("bad escape \\%s in %r" % (m.group(1), text))
        return {"n": "\n"}.get(m.group(1), m.group(1))
    return ESCAPE.sub(one, text)


def parse_labels(text):
    labels, pos = [], 0
    while pos < len(text):
        m = LABEL_PAIR.match(text, pos)
        assert m, "bad label set at %r" % text[pos:]
        labels.append((m.group(1), unescape(m.group(2), '\\"n')))
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", text
            pos += 1
    assert len({k for k, _ in labels}) == len(labels), "repeated label in %r" % text
    return tuple(labels)


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?", text), text
    return float(text)


def parse(body, openmetrics=False):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}, checking every line's grammar,
    that each sample belongs to the family declared above it, and histogram consistency."""
    text = body.decode("utf-8")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    if openmetrics:
        assert lines[-1] == "# EOF"
        lines = lines[:-1]
    assert "# EOF" not in lines
    families, current = {}, None
    for line in lines:
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6], line[7:].split(" ", 1)[0], line[7:].split(" ", 1)[1]
            assert re.fullmatch(NAME, name), line
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            assert not fam["samples"], "metadata after samples: %r" % line
            if kind == "HELP":
                fam["help"] = unescape(rest, '\\n"' if openmetrics else "\\n")
            else:
                assert rest in SUFFIXES, line
                fam["type"] = rest
            current = name
            continue
        assert not line.startswith("#"), line
        m = SAMPLE_LINE.match(line)
        assert m, "not a sample line: %r" % line
        fam = families[current]
        base = current[:-len("_total")] if fam["type"] == "counter" and not openmetrics else current
        assert m.group(1) in [base + s for s in SUFFIXES[fam["type"]]], (current, line)
        fam["samples"].append((m.group(1), parse_labels(m.group(2) or ""), parse_value(m.group(3))))
    for name, fam in families.items():
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    series = {}
    for sample, labels, value in samples:
        key = tuple(p for p in labels if p[0] != "le")
        series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if sample == name + "_bucket":
            series[key]["buckets"].append((dict(labels)["le"], value))
        else:
            series[key][sample[len(name) + 1:]] = value
    for key, s in series.items():
        bounds = [parse_value(le) for le, _ in s["buckets"]]
        assert bounds == sorted(bounds) and bounds[-1] == math.inf, (name, key, bounds)
        counts = [v for _, v in s["buckets"]]
        assert counts == sorted(counts), "buckets of %s not cumulative: %r" % (name, counts)
        assert s["count"] == counts[-1] and s["sum"] is not None


def values(families, family, sample=None):
    """{labels-without-le-or-with: value} of one family's samples named ``sample``."""
    fam = families[family]
    return {labels: value for name, labels, value in fam["samples"] if sample is None or name == sample}


def manager():
    return MetricsManager(PrometheusBackend(Registry()))


# -- the registry and the text formats ------------------------------------------------------------

def test_text_format_exactly_with_escaping():
    m = manager()
    c = m.counter("jobs_total", 'Jobs run\\done\nby "queue".', ["queue"])
    c.inc(queue='a"b\\c\nd')
    c.labels("plain").inc(2.5)
    g = m.gauge("temperature", labelnames=())
    g.set(-3)
    body, ctype = m.render()
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    assert body == (
        b'# HELP jobs_total Jobs run\\\\done\\nby "queue".\n'
        b"# TYPE jobs_total counter\n"
        b'jobs_total{queue="a\\"b\\\\c\\nd"} 1.0\n'
        b'jobs_total{queue="plain"} 2.5\n'
        b"# TYPE temperature gauge\n"
        b"temperature -3.0\n"
    )
    fams = parse(body)
    assert fams["jobs_total"]["help"] == 'Jobs run\\done\nby "queue".'
    assert values(fams, "jobs_total") == {(("queue", 'a"b\\c\nd'),): 1.0, (("queue", "plain"),): 2.5}


def test_openmetrics_format_exactly():
    m = manager()
    m.counter("jobs", 'Say "hi"', ["queue"]).inc(queue="q")
    body, ctype = m.render(PROMETHEUS_ACCEPT)
    assert ctype == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert body == (b'# HELP jobs Say \\"hi\\"\n# TYPE jobs counter\njobs_total{queue="q"} 1.0\n# EOF\n')
    assert parse(body, openmetrics=True)["jobs"]["help"] == 'Say "hi"'


def test_histogram_buckets_are_cumulative_with_inf_sum_and_count():
    m = manager()
    h = m.histogram("latency_seconds", "Latency.", ["op"], buckets=(0.25, 1, 2.5))
    for v in (0.1, 0.25, 0.5, 3.0):
        h.observe(v, op="read")
    fams = parse(m.render()[0])
    assert fams["latency_seconds"]["type"] == "histogram"
    assert fams["latency_seconds"]["samples"] == [
        ("latency_seconds_bucket", (("op", "read"), ("le", "0.25")), 2.0),
        ("latency_seconds_bucket", (("op", "read"), ("le", "1.0")), 3.0),
        ("latency_seconds_bucket", (("op", "read"), ("le", "2.5")), 3.0),
        ("latency_seconds_bucket", (("op", "read"), ("le", "+Inf")), 4.0),
        ("latency_seconds_count", (("op", "read"),), 4.0),
        ("latency_seconds_sum", (("op", "read"),), 3.85),
    ]
    om = parse(m.render("application/openmetrics-text")[0], openmetrics=True)
    assert om["latency_seconds"]["samples"] == fams["latency_seconds"]["samples"]


def test_summary_gauge_and_timers_sync_and_async():
    m = manager()
    s = m.summary("upload_bytes", "Sizes.")
    s.observe(100)
    s.observe(28)
    g = m.gauge("busy")
    with g.track_inprogress():
        assert g.labels().get() == 1.0
    g.inc(5)
    g.dec(2)
    h = m.histogram("work_seconds", buckets=(1000,))

    @h.time()
    def sync_work():
        return "done"

    @h.time()
    async def async_work():
        await asyncio.sleep(0)
        return "async done"

    assert sync_work() == "done" and sync_work.__name__ == "sync_work"
    assert asyncio.run(async_work()) == "async done"
    with h.time():
        pass
    fams = parse(m.render()[0])
    assert fams["upload_bytes"]["samples"] == [("upload_bytes_count", (), 2.0), ("upload_bytes_sum", (), 128.0)]
    assert fams["busy"]["samples"] == [("busy", (), 3.0)]
    buckets = values(fams, "work_seconds", "work_seconds_bucket")
    assert buckets == {(("le", "1000.0"),): 3.0, (("le", "+Inf"),): 3.0}
    assert 0 <= values(fams, "work_seconds", "work_seconds_sum")[()] < 1000


@pytest.mark.parametrize("call, message", [
    (lambda m: m.counter("1jobs"), "metric name '1jobs' is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*"),
    (lambda m: m.gauge("jobs-done"), "metric name 'jobs-done' is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*"),
    (lambda m: m.counter("jobs", ["__secret"]),
     "label name '__secret' of jobs is reserved: names starting with __ belong to Prometheus"),
    (lambda m: m.counter("jobs", ["a-b"]),
     "label name 'a-b' of jobs is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]*"),
    (lambda m: m.histogram("h", ["le"]), "label name 'le' is reserved in a histogram (it carries the bucket bound)"),
    (lambda m: m.summary("s", ["quantile"]),
     "label name 'quantile' is reserved in a summary (it carries the quantile)"),
    (lambda m: m.counter("jobs", ["a", "a"]), "label names of jobs repeat: ['a', 'a']"),
    (lambda m: m.counter("jobs", "Doc.", "queue"), "labelnames must be a list of names, not the string 'queue'"),
    (lambda m: m.histogram("h", buckets=(1, 1)), "histogram h: buckets must increase strictly, got [1, 1]"),
    (lambda m: m.histogram("h", buckets=(float("nan"),)), "histogram h: a bucket bound cannot be NaN"),
    (lambda m: m.gauge("g", multiprocess_mode="avg"),
     "multiprocess_mode must be one of all, liveall, sum, livesum, max, min, not 'avg'"),
])
def test_bad_definitions_are_refused_with_the_rule(call, message):
    with pytest.raises(MetricError) as err:
        call(manager())
    assert str(err.value) == message


def test_bad_uses_are_refused_and_same_definition_is_shared():
    m = manager()
    c = m.counter("jobs_total", "Jobs.", ["queue"])
    assert m.counter("jobs", "Jobs.", ["queue"]) is c  # the same family, with or without _total
    with pytest.raises(MetricError) as err:
        m.counter("jobs_total", "Jobs.", ["queue", "host"])
    assert str(err.value) == ("jobs is already registered as <Counter jobs['queue']>; "
                              "a different definition is refused")
    with pytest.raises(MetricError) as err:
        m.gauge("jobs_total")
    assert str(err.value) == "jobs_total would expose jobs_total, which jobs already exposes"
    with pytest.raises(MetricError) as err:
        c.inc()
    assert str(err.value) == "jobs has labels (queue): pass them (queue=...) or use .labels(...)"
    with pytest.raises(MetricError) as err:
        c.labels(queue="a").inc(-1)
    assert str(err.value) == "a counter only goes up: inc(-1) refused; use a gauge for values that go down"
    with pytest.raises(MetricError) as err:
        c.labels("a", "b")
    assert str(err.value) == "jobs has labels (queue); got 2 values"
    with pytest.raises(MetricError) as err:
        c.labels(host="x")
    assert str(err.value) == "jobs has labels (queue); got (host)"
    with pytest.raises(MetricError) as err:
        m.histogram("h").observe(float("nan"))
    assert str(err.value) == "NaN cannot be observed: it would turn the sum into NaN for good"
    c.labels(7).inc()  # label values are text: 7 and "7" are one series
    c.labels("7").inc()
    assert values(parse(m.render()[0]), "jobs_total") == {(("queue", "a"),): 0.0, (("queue", "7"),): 2.0}


def test_the_reference_example_runs_as_shown():
    # API reference, "Monitoring & Observability / Metrics Collection".
    import time

    metrics = MetricsManager(PrometheusBackend(Registry()))
    request_counter = metrics.counter("http_requests_total", ["method", "endpoint"])
    response_time = metrics.histogram("http_request_duration_seconds")
    app = Covet()

    @app.middleware("metrics")
    async def metrics_middleware(request, call_next):
        start_time = time.time()
        response = await call_next(request)
        duration = time.time() - start_time
        request_counter.inc(method=request.method, endpoint=request.url.path)
        response_time.observe(duration)
        return response

    @app.get("/")
    async def index():
        return {"ok": True}

    assert TestClient(app).get("/").status_code == 200
    fams = parse(metrics.render()[0])
    assert values(fams, "http_requests_total") == {(("method", "GET"), ("endpoint", "/")): 1.0}
    assert values(fams, "http_request_duration_seconds", "http_request_duration_seconds_count") == {(): 1.0}


@pytest.mark.parametrize("accept, openmetrics", [
    (PROMETHEUS_ACCEPT, True),
    ("application/openmetrics-text", True),
    ("application/openmetrics-text; version=0.0.1", False),
    ("text/plain;version=0.0.4", False),
    ("text/plain, application/openmetrics-text;q=0.5", False),
    ("application/openmetrics-text;q=0", False),
    ("*/*", False),
    (None, False),
])
def test_format_negotiation(accept, openmetrics):
    assert choose_format(accept) is openmetrics


# -- the built-in HTTP metrics -------------------------------------------------------------------

def metrics_app():
    app = Covet()
    metrics = app.enable_metrics(metrics=manager())

    @app.get("/users/{user_id:int}")
    async def user(user_id: int):
        return {"id": user_id}

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    @app.get("/teapot")
    async def teapot():
        raise HTTPException(418)

    sub = Covet()

    @sub.get("/items/{item}")
    async def item(item: str):
        return PlainTextResponse(item)

    app.mount("/api", sub)
    return app, metrics


def test_http_metrics_count_by_route_template_and_status():
    app, _ = metrics_app()
    client = TestClient(app, raise_server_exceptions=False)
    assert [client.get(p).status_code for p in ("/users/1", "/users/2", "/teapot", "/boom", "/api/items/x")] \
        == [200, 200, 418, 500, 200]
    assert client.request("BREW", "/users/1").status_code == 405
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert resp.headers["cache-control"] == "no-store"
    fams = parse(resp.content)
    assert values(fams, "http_requests_total") == {
        (("method", "GET"), ("route", "/users/{user_id}"), ("status", "200")): 2.0,
        (("method", "GET"), ("route", "/teapot"), ("status", "418")): 1.0,
        (("method", "GET"), ("route", "/boom"), ("status", "500")): 1.0,
        (("method", "GET"), ("route", "/api/items/{item}"), ("status", "200")): 1.0,
        (("method", "<other>"), ("route", "<unmatched>"), ("status", "405")): 1.0,
    }
    counts = values(fams, "http_request_duration_seconds", "http_request_duration_seconds_count")
    assert counts == {(("method", "GET"), ("route", "/users/{user_id}")): 2.0,
                      (("method", "GET"), ("route", "/teapot")): 1.0, (("method", "GET"), ("route", "/boom")): 1.0,
                      (("method", "GET"), ("route", "/api/items/{item}")): 1.0,
                      (("method", "<other>"), ("route", "<unmatched>")): 1.0}
    # The scrape itself is the one request in progress.
    assert fams["http_requests_in_progress"]["samples"] == [("http_requests_in_progress", (), 1.0)]


def test_unmatched_paths_share_one_series_whatever_the_client_sends():
    app, _ = metrics_app()
    client = TestClient(app)
    for i in range(200):
        assert client.get("/scan/%d/%s" % (i, "x" * i)).status_code == 404
    assert client.request("PROPFIND", "/x%d" % 1).status_code == 404
    assert client.request("M-SEARCH", "/x").status_code == 404  # any method outside the known ones is <other>
    fams = parse(client.get("/metrics").content)
    assert values(fams, "http_requests_total") == {
        (("method", "GET"), ("route", "<unmatched>"), ("status", "404")): 200.0,
        (("method", "<other>"), ("route", "<unmatched>"), ("status", "404")): 2.0,
    }


def test_openmetrics_scrape_and_refusals_of_enable_metrics():
    app, _ = metrics_app()
    client = TestClient(app)
    client.get("/users/5")
    resp = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    assert resp.headers["content-type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    fams = parse(resp.content, openmetrics=True)
    assert fams["http_requests"]["type"] == "counter"
    assert values(fams, "http_requests")[(("method", "GET"), ("route", "/users/{user_id}"), ("status", "200"))] == 1.0
    with pytest.raises(RuntimeError) as err:
        app.enable_metrics("/other")
    assert str(err.value) == "metrics are already enabled on this app, at /metrics"
    with pytest.raises(ValueError) as err:
        Covet().enable_metrics("metrics")
    assert str(err.value) == "the metrics path must start with /, got 'metrics'"


def test_in_progress_gauge_counts_requests_being_answered():
    app = Covet()
    metrics = app.enable_metrics(metrics=manager(), path="/m")
    gauge = metrics.registry.get("http_requests_in_progress")
    seen = []

    @app.get("/slow")
    async def slow():
        seen.append(gauge.labels().get())
        return "ok"

    client = TestClient(app)
    client.get("/slow")
    assert seen == [1.0]
    assert gauge.labels().get() == 0.0


# -- several processes --------------------------------------------------------------------------

WRITER = textwrap.dedent('''
    import os, signal, sys
    from covet.monitoring import MetricsManager, Registry
    from covet.monitoring.backends import PrometheusBackend

    m = MetricsManager(PrometheusBackend(Registry()))
    amount = float(sys.argv[1])
    m.counter("jobs_total", "Jobs.", ["queue"]).inc(amount, queue="mail")
    m.histogram("job_seconds", "Job time.", buckets=(1, 10)).observe(amount)
    m.gauge("workers_busy", "Busy.").set(1)
    m.gauge("last_size", "Per worker.", multiprocess_mode="all").set(amount)
    m.gauge("peak", "Max.", multiprocess_mode="max").set(amount)
    print("ready", os.getpid(), flush=True)
    if sys.argv[2] == "stay":
        sys.stdin.readline()
    elif sys.argv[2] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
''')


def run_writer(script, folder, amount, how):
    env = dict(os.environ, PYTHONPATH=REPO, **{METRICS_DIR_ENV: str(folder)})
    proc = subprocess.Popen([sys.executable, str(script), str(amount), how], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()  # the event: its metrics are written
    assert line[0] == "ready"
    return proc, int(line[1])


def finish(proc, release=False):
    """The exit code of a writer; ``release`` lets a "stay" one go (it waits for a line)."""
    with proc:
        if release:
            proc.stdin.write("\n")
            proc.stdin.flush()
        return proc.wait(30)


def test_one_scrape_sums_processes_including_exited_and_killed_ones(tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    exited, exited_pid = run_writer(script, folder, 3, "exit")
    assert finish(exited) == 0
    killed, killed_pid = run_writer(script, folder, 5, "die")
    assert finish(killed) == -signal.SIGKILL
    alive, alive_pid = run_writer(script, folder, 4, "stay")
    try:
        monkeypatch.setenv(METRICS_DIR_ENV, str(folder))
        body, _ = MetricsManager(PrometheusBackend(Registry())).render()
    finally:
        assert finish(alive, release=True) == 0
    fams = parse(body)
    assert values(fams, "jobs_total") == {(("queue", "mail"),): 12.0}
    assert fams["job_seconds"]["samples"] == [
        ("job_seconds_bucket", (("le", "1.0"),), 0.0), ("job_seconds_bucket", (("le", "10.0"),), 3.0),
        ("job_seconds_bucket", (("le", "+Inf"),), 3.0), ("job_seconds_count", (), 3.0), ("job_seconds_sum", (), 12.0)]
    assert values(fams, "workers_busy") == {(): 1.0}  # livesum: only the live process
    assert values(fams, "last_size") == {(("pid", str(exited_pid)),): 3.0, (("pid", str(killed_pid)),): 5.0,
                                         (("pid", str(alive_pid)),): 4.0}
    assert values(fams, "peak") == {(): 5.0}
    mark_process_dead(alive_pid, str(folder))
    names = sorted(f.name for f in folder.iterdir())
    assert "gauge_livesum_%d.db" % alive_pid not in names and "counter_%d.db" % alive_pid in names


FORKER = textwrap.dedent('''
    import json, os, sys
    from covet.monitoring import MetricsManager, Registry
    from covet.monitoring.backends import PrometheusBackend
    from covet.monitoring.multiprocess import collect

    m = MetricsManager(PrometheusBackend(Registry()))
    jobs = m.counter("jobs_total", "Jobs.")       # made before the folder is known, as an app at import
    jobs.inc(100)                                 # the parent's own count stays the parent's
    os.environ["COVET_METRICS_DIR"] = sys.argv[1]
    pids = []
    for n in (1, 2):
        pid = os.fork()
        if pid == 0:
            jobs.inc(n)
            os._exit(0)
        pids.append(pid)
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    fams = collect(sys.argv[1])
    print(json.dumps({"codes": codes, "parent": jobs.labels().get(),
                      "samples": [[f.name, f.samples] for f in fams]}))
''')


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forked workers need os.fork")
def test_forked_workers_write_their_own_files(tmp_path):
    script = tmp_path / "forker.py"
    script.write_text(FORKER)
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], env=dict(os.environ, PYTHONPATH=REPO),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result == {"codes": [0, 0], "parent": 100.0, "samples": [["jobs", [["jobs_total", [], 3.0]]]]}
    assert len([f for f in os.listdir(tmp_path) if f.startswith("counter_")]) == 2


WORKERS_APP = textwrap.dedent('''
    import os
    from covet import Covet, PlainTextResponse

    app = Covet()
    app.enable_metrics()

    @app.get("/pid")
    async def pid():
        return PlainTextResponse(str(os.getpid()))
''')


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs os.fork (POSIX)")
def test_two_workers_one_scrape_and_a_killed_worker_keeps_its_counts(tmp_path):
    from server_helpers import CovetProcess, http_get

    (tmp_path / "metrics_app.py").write_text(WORKERS_APP)
    env = {METRICS_DIR_ENV: ""}  # let the server make its own folder
    with CovetProcess(["run", "metrics_app.py", "--port", "0", "--workers", "2", "--no-access-log"],
                      cwd=str(tmp_path), env=env) as p:
        port = int(p.wait_for(r"^covet: serving on http://127\.0\.0\.1:(\d+) with 2 workers", stream="out").group(1))
        for _ in range(2):
            p.wait_for(r"^covet: worker (\d+) accepting$", stream="out")
        answered = []
        for _ in range(30):
            status, body = http_get("http://127.0.0.1:%d/pid" % port)
            assert status == 200
            answered.append(int(body))
        victim = answered[-1]
        os.kill(victim, signal.SIGKILL)
        p.wait_for(r"^covet: worker (\d+) accepting$", stream="out")  # its replacement
        status, body = http_get("http://127.0.0.1:%d/metrics" % port)
        assert status == 200
        fams = parse(body)
        assert values(fams, "http_requests_total")[
            (("method", "GET"), ("route", "/pid"), ("status", "200"))] == 30.0
        assert values(fams, "http_requests_in_progress") == {(): 1.0}
        assert p.stop(signal.SIGTERM) == 0


def test_a_worker_files_values_are_little_endian_doubles_whatever_the_hosts_byte_order(tmp_path):
    import mmap
    import struct

    from covet.monitoring import multiprocess
    from covet.monitoring.metrics import VALUE_LOCK

    path = tmp_path / "f.db"
    path.write_bytes(b"\0" * 64)
    with open(path, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 64)
        multiprocess._LittleEndianDoubles(mm)[3] = 2.5   # the big-endian host's writer
        assert struct.unpack_from("<d", mm, 24)[0] == 2.5
        view = multiprocess._doubles(mm)                 # this host's
        view[5] = -1.25
        assert struct.unpack_from("<d", mm, 40)[0] == -1.25
        if isinstance(view, memoryview):
            view.release()  # an exported buffer keeps an mmap from closing
        mm.close()
    cells = multiprocess.FileCells("counter", ["a", "bb", "a-much-longer-key-to-pad"], str(tmp_path), VALUE_LOCK)
    cells.add(2, 4.0)
    cells.add2(0, 1.0, 1, 0.5)
    data = (tmp_path / ("counter_%d.db" % os.getpid())).read_bytes()
    assert [struct.unpack_from("<d", data, 8 * i)[0] for i in cells._index] == [1.0, 0.5, 4.0]
