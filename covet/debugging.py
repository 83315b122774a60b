"""Finding where time and memory go: ``PerformanceProfiler``, ``MemoryMonitor`` and a profiling
switch for one request while debugging.

``PerformanceProfiler`` is ``cProfile`` with a report a person can act on: the functions that took
the time, the ones that stand out, and what the profile suggests (a database, the network, JSON,
templates, regular expressions, sleeping). ``MemoryMonitor`` reads the process's resident memory
and compares ``tracemalloc`` snapshots, so a leak shows as the lines that allocated it.

Example::

    profiler = PerformanceProfiler()
    with profiler:
        result = await slow_operation()
    report = profiler.get_report()            # {"total_time": ..., "functions": [...]}
    profiler.identify_bottlenecks()           # the functions above 10% of the time
    profiler.get_recommendations()            # ["most of the time is spent waiting for the database..."]
"""
import cProfile
import json
import os
import pstats
import sys
import time
import tracemalloc
from typing import Any, Callable, Dict, List, Optional, Tuple

from .core.responses import Response

__all__ = ["PerformanceProfiler", "MemoryMonitor", "ProfileRequestMiddleware"]

# What a function's file or name says about where the time goes, and what to do about it.
_HINTS: List[Tuple[Tuple[str, ...], str, str]] = [
    (("sqlite3", "covet/database", "postgres"), "database",
     "most of the time is spent in the database: look at the slowest queries (EXPLAIN), add indexes, fetch fewer "
     "rows or columns, and avoid one query per item in a loop"),
    (("socket", "ssl", "selectors", "asyncio/streams", "http/client", "urllib"), "network",
     "much of the time is spent waiting on the network: call other services concurrently (asyncio.gather), "
     "cache their answers, and set timeouts"),
    (("json/", "_json"), "serialisation",
     "JSON encoding or decoding is a large share: send less data, or paginate"),
    (("covet/templates",), "templates",
     "template rendering is a large share: cache rendered fragments, or move logic out of the template"),
    (("re/", "sre_", "_sre"), "regular expressions",
     "regular expressions are a large share: compile them once at start-up, and check for patterns that "
     "backtrack"),
    (("time.sleep", "asyncio/tasks.py:sleep", "<built-in method time.sleep>"), "sleeping",
     "the code sleeps: a sleep in a request handler is usually a retry or a poll that should be an event"),
    (("hashlib", "hmac", "pbkdf2", "scrypt"), "hashing",
     "hashing is a large share: password hashing is slow on purpose; cache verified tokens, not passwords"),
]


class PerformanceProfiler:
    """``with profiler:`` profiles the block (sync code, or the awaits of one task: other tasks
    that run meanwhile on the same thread are counted too); ``get_report()`` summarises it.

    :param threshold: the share of the total time above which a function is a bottleneck (0.1).
    :param limit: how many functions the report lists (20).
    """

    def __init__(self, threshold: float = 0.1, limit: int = 20) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("threshold is a share of the total time, above 0 and at most 1")
        self.threshold = threshold
        self.limit = limit
        self._profile: Optional[cProfile.Profile] = None
        self._stats: Optional[pstats.Stats] = None
        self.wall_time = 0.0
        self._start = 0.0

    def __enter__(self) -> "PerformanceProfiler":
        self._profile = cProfile.Profile()
        self._stats = None
        self._start = time.perf_counter()
        try:
            self._profile.enable()
        except ValueError as exc:  # another profiler is active (Python 3.12+ allows only one)
            self._profile = None
            raise RuntimeError("another profiler is already running in this thread") from exc
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._profile is not None:
            self._profile.disable()
        self.wall_time = time.perf_counter() - self._start

    def _rows(self) -> List[Dict[str, Any]]:
        if self._profile is None:
            raise RuntimeError("nothing profiled yet: use `with profiler:` first")
        if self._stats is None:
            self._stats = pstats.Stats(self._profile)
        rows = []
        table = self._stats.stats  # type: ignore[attr-defined]
        for (filename, line, name), (primitive, calls, own, cumulative, _callers) in table.items():
            rows.append({"function": name, "file": filename, "line": line, "calls": calls,
                         "primitive_calls": primitive, "own_time": own, "cumulative_time": cumulative})
        return rows

    def get_report(self) -> Dict[str, Any]:
        """The wall time of the block, the profiled time, the call count and the ``limit``
        functions with the most time of their own (seconds, rounded to microseconds)."""
        rows = self._rows()
        total = sum(r["own_time"] for r in rows)
        rows.sort(key=lambda r: r["own_time"], reverse=True)
        return {
            "wall_time": round(self.wall_time, 6),
            "total_time": round(total, 6),
            "total_calls": sum(r["calls"] for r in rows),
            "functions": [dict(r, own_time=round(r["own_time"], 6), cumulative_time=round(r["cumulative_time"], 6),
                               share=round(r["own_time"] / total, 4) if total else 0.0)
                          for r in rows[:self.limit]],
        }

    def identify_bottlenecks(self) -> List[Dict[str, Any]]:
        """The functions whose own time is above ``threshold`` of the total, the largest first."""
        return [f for f in self.get_report()["functions"] if f["share"] >= self.threshold]

    def get_recommendations(self) -> List[str]:
        """What the profile suggests, largest share first: one line per kind of cost (database,
        network, JSON, templates, regular expressions, sleeping, hashing) above ``threshold``."""
        rows = self._rows()
        total = sum(r["own_time"] for r in rows) or 1.0
        shares: Dict[str, float] = {}
        advice: Dict[str, str] = {}
        for row in rows:
            where = "%s:%s" % (row["file"].replace(os.sep, "/"), row["function"])
            for needles, kind, text in _HINTS:
                if any(n in where for n in needles):
                    shares[kind] = shares.get(kind, 0.0) + row["own_time"] / total
                    advice[kind] = text
                    break
        found = [(share, kind) for kind, share in shares.items() if share >= self.threshold]
        found.sort(reverse=True)
        lines = ["%s (%d%% of the time)" % (advice[kind], round(share * 100)) for share, kind in found]
        if not lines:
            lines.append("no single kind of work stands out: the time is spread over the application's own code; "
                         "see the functions of get_report()")
        return lines


class MemoryMonitor:
    """The process's memory, and where allocations grew between two points.

    ``get_memory_usage()`` is the resident set size in bytes (``/proc/self/statm`` on Linux, else
    the peak from ``resource``). ``snapshot()`` starts ``tracemalloc`` on first use (which slows
    allocation while it runs: for debugging, not for production) and ``top_growth(before, after)``
    lists the source lines whose allocations grew most.

    Example::

        monitor = MemoryMonitor()
        before = monitor.snapshot()
        handle_many_requests()
        for line in monitor.top_growth(before, monitor.snapshot(), limit=5):
            print(line["where"], line["size_diff"])
    """

    def __init__(self, frames: int = 1) -> None:
        self.frames = frames
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def get_memory_usage(self) -> int:
        """Resident memory of this process, in bytes."""
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * self._page
        except (OSError, ValueError, IndexError):
            import resource  # not on Windows: there /proc is missing too, and this says so

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux KiB

    def snapshot(self) -> tracemalloc.Snapshot:
        """A ``tracemalloc`` snapshot (tracing starts on the first call)."""
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)
        return tracemalloc.take_snapshot().filter_traces([
            tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")])

    def top_growth(self, before: tracemalloc.Snapshot, after: tracemalloc.Snapshot,
                   limit: int = 10) -> List[Dict[str, Any]]:
        """The ``limit`` source lines whose allocated size grew most from ``before`` to ``after``."""
        stats = after.compare_to(before, "lineno")
        grown = [s for s in stats if s.size_diff > 0][:limit]
        return [{"where": "%s:%d" % (s.traceback[0].filename, s.traceback[0].lineno), "size_diff": s.size_diff,
                 "count_diff": s.count_diff, "size": s.size} for s in grown]

    def stop(self) -> None:
        """Stop ``tracemalloc`` (snapshots end)."""
        if tracemalloc.is_tracing():
            tracemalloc.stop()


class ProfileRequestMiddleware:
    """While the app runs with ``debug=True``, a request carrying ``X-Covet-Profile: 1`` is
    profiled and answered with the profile (JSON) instead of its response; with debug off the
    header does nothing. For finding out why one endpoint is slow, on a development machine.

    Example::

        app = Covet(debug=True)
        app.add_middleware(ProfileRequestMiddleware)
        # curl -H 'X-Covet-Profile: 1' localhost:8000/slow
    """

    def __init__(self, header_name: str = "X-Covet-Profile",
                 profiler_factory: Callable[[], PerformanceProfiler] = PerformanceProfiler) -> None:
        self._name = header_name.lower().encode("latin-1")
        self.factory = profiler_factory

    async def __call__(self, request: Any, call_next: Any) -> Any:
        app = request.app
        if not getattr(app, "debug", False) or not any(k == self._name and v.strip() == b"1"
                                                         for k, v in request.raw_headers):
            return await call_next(request)
        profiler = self.factory()
        with profiler:
            response = await call_next(request)
        body = {"path": request.path, "method": request.method, "status_code": response.status_code,
                "report": profiler.get_report(), "bottlenecks": profiler.identify_bottlenecks(),
                "recommendations": profiler.get_recommendations()}
        return Response(json.dumps(body, default=str).encode(), 200, media_type="application/json")
