"""covet.debugging: the profiler's report, bottlenecks and advice; memory growth; profiling one
request while debugging."""
import hashlib
import json
import re
import sqlite3
import time

import pytest

from covet import Covet
from covet.debugging import MemoryMonitor, PerformanceProfiler, ProfileRequestMiddleware
from covet.testing import TestClient


def busy_sql():
    # The rows are made by SQLite itself, not by a Python list: cProfile counts wall time, and on a
    # busy machine a preemption inside a Python function of the workload once pushed SQLite's
    # share under the threshold. Here nearly all the time is SQLite's, whatever the machine does.
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (n)")
    conn.execute("WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < 19999) "
                 "INSERT INTO t SELECT n FROM c")
    for _ in range(30):
        conn.execute("SELECT sum(n * n) FROM t WHERE n % 7 = 3").fetchone()
    conn.close()


def test_the_report_names_the_costly_functions_and_the_advice_the_database():
    profiler = PerformanceProfiler(threshold=0.3)
    with profiler:
        busy_sql()
    report = profiler.get_report()
    assert report["total_calls"] > 0 and report["wall_time"] >= report["total_time"] * 0.5
    assert set(report["functions"][0]) == {"function", "file", "line", "calls", "primitive_calls", "own_time",
                                           "cumulative_time", "share"}
    shares = [f["share"] for f in report["functions"]]
    assert shares == sorted(shares, reverse=True) and len(report["functions"]) <= 20
    bottlenecks = profiler.identify_bottlenecks()
    assert bottlenecks and all(b["share"] >= 0.3 for b in bottlenecks)
    assert any("sqlite3" in b["function"] for b in bottlenecks)
    advice = profiler.get_recommendations()
    assert advice[0].startswith("most of the time is spent in the database") and re.search(r"\(\d+% of the time\)$",
                                                                                             advice[0])


def test_advice_for_hashing_sleeping_and_nothing_in_particular():
    profiler = PerformanceProfiler(threshold=0.2)
    with profiler:
        hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 200000)
    assert profiler.get_recommendations()[0].startswith("hashing is a large share")
    with profiler:
        time.sleep(0.05)
    assert profiler.get_recommendations()[0].startswith("the code sleeps")
    with profiler:
        sum(i * i for i in range(1000))
    assert profiler.get_recommendations() == [
        "no single kind of work stands out: the time is spread over the application's own code; "
        "see the functions of get_report()"]


def test_the_profiler_refuses_what_it_cannot_answer():
    with pytest.raises(RuntimeError, match="nothing profiled yet"):
        PerformanceProfiler().get_report()
    with pytest.raises(ValueError):
        PerformanceProfiler(threshold=0)


def test_memory_growth_points_at_the_line_that_allocated():
    monitor = MemoryMonitor()
    assert monitor.get_memory_usage() > 1024 * 1024
    kept = []
    before = monitor.snapshot()
    kept.append([bytearray(1000) for _ in range(2000)])  # about 2 MB, held
    after = monitor.snapshot()
    top = monitor.top_growth(before, after, limit=3)
    monitor.stop()
    assert top[0]["where"].endswith("test_debugging.py:%d" % (test_memory_growth_points_at_the_line_that_allocated
                                                              .__code__.co_firstlineno + 5))
    assert top[0]["size_diff"] >= 2000 * 1000 and top[0]["count_diff"] >= 2000


def test_one_request_is_profiled_only_while_debugging():
    def build(debug):
        app = Covet(debug=debug)
        app.add_middleware(ProfileRequestMiddleware)

        @app.get("/slow")
        def slow():
            busy_sql()
            return {"done": True}
        return app

    with TestClient(build(True)) as client:
        plain = client.get("/slow")
        assert plain.json() == {"done": True}
        profiled = client.get("/slow", headers={"X-Covet-Profile": "1"})
        body = profiled.json()
        assert profiled.status_code == 200 and profiled.headers["content-type"] == "application/json"
        assert (body["path"], body["method"], body["status_code"]) == ("/slow", "GET", 200)
        assert body["report"]["total_calls"] > 0 and isinstance(body["recommendations"], list)
    with TestClient(build(False)) as client:  # not debugging: the header does nothing
        assert client.get("/slow", headers={"X-Covet-Profile": "1"}).json() == {"done": True}
