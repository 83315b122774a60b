"""In-process cost of Covet.dispatch and of router matching (stdlib only).

    python3 benchmarks/bench_dispatch.py [--repeat 7] [--number 20000]

Prints the median time per call over ``--repeat`` batches of ``--number``
calls. Targets (issue 2): router match < 2 µs for any of 100 routes; a full
static dict-returning dispatch < 15 µs.
"""
import argparse
import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from covet import Covet, Depends, Query, Request  # noqa: E402


def build_app():
    app = Covet()

    @app.get("/static")
    async def static():
        return {"message": "Hello, World!"}

    @app.get("/users/{user_id:int}/posts/{slug}")
    async def two_params(user_id: int, slug: str):
        return {"user": user_id, "slug": slug}

    async def current_user():
        return {"name": "ada"}

    @app.get("/items")
    async def with_dep(user=Depends(current_user), limit: int = Query(10, ge=1, le=100)):
        return {"user": user["name"], "limit": limit}

    return app


def build_router_table():
    """100 routes: 10 static, 90 dynamic of varied shapes; returns (app, [(method, path)] one per route)."""
    app = Covet()
    probes = []

    def handler():
        return None

    for i in range(10):
        app.add_route("/static/page%d" % i, handler, name="s%d" % i)
        probes.append(("GET", "/static/page%d" % i))
    for i in range(30):
        app.add_route("/api/v1/res%d/{id:int}" % i, handler, name="a%d" % i)
        probes.append(("GET", "/api/v1/res%d/%d" % (i, 1000 + i)))
    for i in range(30):
        app.add_route("/api/v2/res%d/{slug}/items/{item_id:int}" % i, handler, name="b%d" % i)
        probes.append(("GET", "/api/v2/res%d/some-slug/items/%d" % (i, i)))
    for i in range(20):
        app.add_route("/org%d/{org}/repos/{repo}/files/{path:path}" % i, handler, name="c%d" % i)
        probes.append(("GET", "/org%d/acme/repos/web/files/src/main/app.py" % i))
    for i in range(10):
        app.add_route("/uuid%d/{u:uuid}" % i, handler, methods=["GET", "POST"], name="d%d" % i)
        probes.append(("POST", "/uuid%d/12345678-1234-5678-1234-567812345678" % i))
    assert len(app.routes) == 100
    return app, probes


def timeit(fn, number, repeat):
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn(number)
        samples.append((time.perf_counter_ns() - t0) / number / 1000.0)
    return statistics.median(samples)


def make_request(app, path, query=""):
    return Request("GET", path, query, [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")],
                   ("127.0.0.1", 1234), "http", ("127.0.0.1", 8000), "1.1", body=b"", app=app)


def bench_dispatch(app, path, query, number, repeat, expect):
    loop = asyncio.new_event_loop()
    dispatch = app.dispatch

    async def batch(n):
        for _ in range(n):
            r = await dispatch(make_request(app, path, query))
        assert r.status_code == expect, (path, r.status_code, r.body)

    def run(n):
        loop.run_until_complete(batch(n))

    run(100)
    try:
        return timeit(run, number, repeat)
    finally:
        loop.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--number", type=int, default=20000)
    args = ap.parse_args()
    app = build_app()
    print("covet dispatch, median of %d x %d calls (µs per call; Python %s)"
          % (args.repeat, args.number, sys.version.split()[0]))
    rows = [
        ("static route returning a dict", "/static", "", 200, 15.0),
        ("two typed path params", "/users/42/posts/hello-world", "", 200, None),
        ("Depends + Query", "/items", "limit=20", 200, None),
        ("404", "/nowhere/at/all", "", 404, None),
    ]
    for label, path, query, status, target in rows:
        us = bench_dispatch(app, path, query, args.number, args.repeat, status)
        verdict = "" if target is None else ("  target < %.0f µs: %s" % (target, "met" if us < target else "MISSED"))
        print("  %-34s %7.2f µs%s" % (label, us, verdict))

    rapp, probes = build_router_table()
    match = rapp.router.match
    worst = 0.0
    worst_path = None
    per = []
    for method, path in probes:
        found, _ = match(method, path)
        assert found is not None, path

        def run(n, method=method, path=path):
            for _ in range(n):
                match(method, path)
        us = timeit(run, max(args.number // 4, 1000), args.repeat)
        per.append(us)
        if us > worst:
            worst, worst_path = us, path
    print("router match, 100 routes (10 static, 90 dynamic): median %.2f µs, worst %.2f µs (%s)  target < 2 µs: %s"
          % (statistics.median(per), worst, worst_path, "met" if worst < 2.0 else "MISSED"))


if __name__ == "__main__":
    main()
