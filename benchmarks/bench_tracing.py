"""The per-request cost of TracingMiddleware, sampling at 0 and at 1, against the same app without it.

    python3 benchmarks/bench_tracing.py [--repeat 7] [--number 5000]

A direct ``app.dispatch`` loop (no sockets) over one route with a path parameter; the rounds of
the three apps are interleaved in the same run and the medians compared. The exporter posts to
a port where nothing listens, with a queue large enough that no span is dropped during a
round: the figure is what the request path pays (span objects, ids, attributes, log context,
the queue put), not the export, which runs on the exporter's thread.
"""
import argparse
import asyncio
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from covet import Covet, Request  # noqa: E402
from covet.monitoring.tracing import TracingMiddleware  # noqa: E402


def build_app(tracing):
    app = Covet()
    if tracing is not None:
        app.add_middleware(tracing)

    @app.get("/users/{uid:int}")
    async def user(uid: int):
        return {"id": uid}

    return app


def make_request():
    return Request("GET", "/users/7", "", [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")],
                   client=("127.0.0.1", 5000), server=("127.0.0.1", 8000))


async def per_request(app, number):
    start = time.perf_counter()
    for _ in range(number):
        response = await app.dispatch(make_request())
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    return elapsed / number * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args()
    logging.getLogger("covet.monitoring.tracing").disabled = True  # the refused exports are expected
    dead = "http://127.0.0.1:9"
    options = {"endpoint": dead, "max_queue_size": args.number * 4, "interval": 3600.0}
    off = TracingMiddleware(service_name="b", sample_rate=0.0, **options)
    on = TracingMiddleware(service_name="b", sample_rate=1.0, **options)
    apps = [("no tracing", build_app(None), None), ("tracing, sample_rate=0", build_app(off), off),
            ("tracing, sample_rate=1", build_app(on), on)]
    print("load average at start: %.2f" % os.getloadavg()[0])
    results = {name: [] for name, _, _ in apps}

    async def run():
        for _ in range(args.repeat):
            for name, app, tracing in apps:
                results[name].append(await per_request(app, args.number))
                if tracing is not None:
                    tracing.tracer.flush(60)  # empty the queue between rounds, outside the timing
    asyncio.run(run())
    base = statistics.median(results["no tracing"])
    for name, _, _ in apps:
        median = statistics.median(results[name])
        print("%-24s %7.2f us per request  (+%.2f us)" % (name, median, median - base))
    print("load average at end: %.2f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
