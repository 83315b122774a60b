"""Per-request cost of covet's built-in HTTP metrics, and a counter increment against prometheus_client.

    python3 benchmarks/bench_metrics.py [--repeat 7] [--number 20000]

Same run, same process: the same app dispatched in-process without metrics, with
``app.enable_metrics()`` (values in memory), and with the values in a worker's mmap file (as under
``--workers N``); the difference is the metrics' cost per request. Batches alternate between the
apps so that a busy machine slows all of them alike; each figure is the median over ``--repeat``
batches of ``--number`` requests, with the fastest batch beside it (on a shared machine the
fastest is the figure least disturbed by other processes). Targets (issue 17): metrics under 3 µs per request;
prometheus_client's counter increment at most as fast as ours. Issue 21: the business metrics at most
1 µs per request over the HTTP metrics alone.
"""
import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from covet import Covet, Request  # noqa: E402
from covet.monitoring import MetricsManager, Registry  # noqa: E402
from covet.monitoring.backends import PrometheusBackend  # noqa: E402
from covet.monitoring.multiprocess import METRICS_DIR_ENV  # noqa: E402


def build_app(metrics, business=True):
    app = Covet()
    if metrics:
        app.enable_metrics(metrics=MetricsManager(PrometheusBackend(Registry())), business_metrics=business)

    @app.get("/users/{user_id:int}")
    async def user(user_id: int):
        return {"id": user_id}

    return app


def make_request(app):
    return Request("GET", "/users/42", "", [(b"host", b"bench"), (b"accept", b"*/*")],
                   ("127.0.0.1", 1234), "http", ("127.0.0.1", 8000), "1.1", body=b"", app=app)


def dispatcher(app, loop):
    dispatch = app.dispatch

    async def batch(n):
        for _ in range(n):
            r = await dispatch(make_request(app))
        assert r.status_code == 200, r.body

    def run(n):
        loop.run_until_complete(batch(n))
    run(200)
    return run


def per_call_us(fn, number):
    t0 = time.perf_counter_ns()
    fn(number)
    return (time.perf_counter_ns() - t0) / number / 1000.0


def interleaved(runs, number, repeat):
    samples = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            samples[name].append(per_call_us(fn, number))
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def loop_of(op):
    def run(n):
        for _ in range(n):
            op()
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args()

    loop = asyncio.new_event_loop()
    runs = {"without metrics": dispatcher(build_app(False), loop),
            "HTTP metrics only": dispatcher(build_app(True, business=False), loop),
            "with metrics (in memory)": dispatcher(build_app(True), loop)}
    folder = tempfile.mkdtemp(prefix="covet-bench-metrics-")
    os.environ[METRICS_DIR_ENV] = folder
    try:
        runs["with metrics (worker file)"] = dispatcher(build_app(True), loop)
        got = interleaved(runs, args.number, args.repeat)
    finally:
        del os.environ[METRICS_DIR_ENV]
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)
        loop.close()
    base, base_min = got["without metrics"]
    print("dispatch GET /users/42, µs per request (median, fastest of %d batches of %d)" % (args.repeat, args.number))
    for name, (us, fastest) in got.items():
        extra = "" if name == "without metrics" else "   metrics cost %+.2f (fastest %+.2f)" % (
            us - base, fastest - base_min)
        print("  %-28s %7.2f %7.2f%s" % (name, us, fastest, extra))
    http_only, http_min = got["HTTP metrics only"]
    business, business_min = got["with metrics (in memory)"]
    print("business metrics over HTTP metrics alone: %+.2f µs (fastest %+.2f); issue 21's target: at most +1 µs"
          % (business - http_only, business_min - http_min))

    m = MetricsManager(PrometheusBackend(Registry()))
    plain = m.counter("plain_total", "Plain.")
    labelled = m.counter("labelled_total", "Labelled.", ["method"]).labels("GET")
    ops = {"covet counter.inc()": plain.inc, "covet child.inc() (labels bound)": labelled.inc,
           "covet counter.labels('GET').inc()": lambda c=m.registry.get("labelled"): c.labels("GET").inc()}
    try:
        import prometheus_client
    except ImportError:
        prometheus_client = None
        print("prometheus_client not installed (benchmarks/requirements.txt): covet figures only")
    if prometheus_client is not None:
        reg = prometheus_client.CollectorRegistry()
        p_plain = prometheus_client.Counter("plain", "Plain.", registry=reg)
        p_family = prometheus_client.Counter("labelled", "Labelled.", ["method"], registry=reg)
        p_child = p_family.labels("GET")
        ops.update({"prometheus_client counter.inc()": p_plain.inc,
                    "prometheus_client child.inc() (labels bound)": p_child.inc,
                    "prometheus_client counter.labels('GET').inc()": lambda: p_family.labels("GET").inc()})
    got = interleaved({k: loop_of(v) for k, v in ops.items()}, args.number * 5, args.repeat)
    print("counter increment, ns per call (median, fastest)")
    for name, (us, fastest) in got.items():
        print("  %-46s %7.0f %7.0f" % (name, us * 1000, fastest * 1000))


if __name__ == "__main__":
    main()
