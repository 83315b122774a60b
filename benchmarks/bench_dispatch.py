"""In-process cost of Covet.dispatch and of router matching (stdlib only; Starlette's router as a peer when installed).

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


def router_table():
    """100 routes, 10 static and 90 dynamic of varied shapes: [(template, methods, probe method, probe path)]."""
    table = []
    for i in range(10):
        table.append(("/static/page%d" % i, ["GET"], "GET", "/static/page%d" % i))
    for i in range(30):
        table.append(("/api/v1/res%d/{id:int}" % i, ["GET"], "GET", "/api/v1/res%d/%d" % (i, 1000 + i)))
    for i in range(30):
        table.append(("/api/v2/res%d/{slug}/items/{item_id:int}" % i, ["GET"], "GET",
                      "/api/v2/res%d/some-slug/items/%d" % (i, i)))
    for i in range(20):
        table.append(("/org%d/{org}/repos/{repo}/files/{path:path}" % i, ["GET"], "GET",
                      "/org%d/acme/repos/web/files/src/main/app.py" % i))
    for i in range(10):
        table.append(("/uuid%d/{u:uuid}" % i, ["GET", "POST"], "POST",
                      "/uuid%d/12345678-1234-5678-1234-567812345678" % i))
    assert len(table) == 100
    return table


def build_router_table():
    """The table in a covet app; returns (app, [(method, path)] one per route)."""
    app = Covet()

    def handler():
        return None

    for i, (template, methods, _m, _p) in enumerate(router_table()):
        app.add_route(template, handler, methods=methods, name="r%d" % i)
    return app, [(m, p) for _t, _ms, m, p in router_table()]


def starlette_matcher():
    """The same table in Starlette's router, matched the way its Router does; None if not installed."""
    try:
        from starlette.routing import Match, Route
    except ImportError:
        return None

    async def handler(request):
        return None

    routes = [Route(t, handler, methods=ms) for t, ms, _m, _p in router_table()]
    full = Match.FULL

    def match(method, path):
        # Starlette's Router.app loop: first FULL match wins, else the first PARTIAL (405).
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        partial = None
        for route in routes:
            m, child = route.matches(scope)
            if m is full:
                scope.update(child)
                return route, child["path_params"]
            if partial is None and m is not Match.NONE:
                partial = route
        return partial, None
    return match


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
    rapp.router.match("GET", "/")  # compiles the matcher, as the first request would
    contenders = [("covet", rapp.router.match)]  # the compiled function the app calls per request
    peer = starlette_matcher()
    if peer is not None:
        contenders.append(("starlette", peer))
    runs = []  # [(contender index, probe index, run)]
    for c, (name, match) in enumerate(contenders):
        for i, (method, path) in enumerate(probes):
            found, params = match(method, path)
            assert found is not None and params is not None, (name, path)

            def run(n, match=match, method=method, path=path):
                for _ in range(n):
                    match(method, path)
            runs.append((c, i, run))
    # Rounds go over all 100 routes (and the peer's) in turn, so that a burst
    # of noise from another process on this shared machine spreads over every
    # route's samples instead of landing on the few timed during it; three
    # times as many rounds as --repeat, of fewer calls, keep the worst of 100
    # medians from being one unlucky route.
    number = max(args.number // 20, 500)
    samples = [[[] for _ in probes] for _ in contenders]
    for _ in range(3 * args.repeat):
        for c, i, run in runs:
            n = number if c == 0 else max(number // 10, 50)  # the peer scans linearly: fewer calls
            t0 = time.perf_counter_ns()
            run(n)
            samples[c][i].append((time.perf_counter_ns() - t0) / n / 1000.0)
    per = [[statistics.median(s) for s in contender] for contender in samples]
    worst = max(per[0])
    worst_path = probes[per[0].index(worst)][1]
    print("router match, 100 routes (10 static, 90 dynamic): median %.2f µs, worst %.2f µs (%s)  target < 2 µs: %s"
          % (statistics.median(per[0]), worst, worst_path, "met" if worst < 2.0 else "MISSED"))
    if peer is None:
        print("  starlette: peer not installed")
    else:
        print("  starlette Router, same table, same run: median %.2f µs (%.1fx covet), worst %.2f µs (%.1fx)"
              % (statistics.median(per[1]), statistics.median(per[1]) / statistics.median(per[0]),
                 max(per[1]), max(per[1]) / worst))


if __name__ == "__main__":
    main()
