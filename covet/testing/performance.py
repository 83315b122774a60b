"""PerformanceTest: load-test an app in-process (covet's real server in a thread) or a running server.

``load_test`` drives N concurrent keep-alive connections ("users") with covet's load generator
(``covet.testing.loadgen``) and returns a ``LoadResults``: counts, error rate, throughput and
latency percentiles from a bounded HDR-style histogram (``covet.testing.histogram``).

In-process, the server and the generator share one interpreter and its GIL: the figures are
those of one core doing both jobs, which is what a test on a CI machine can assert on. For
throughput figures, serve the app with ``python -m covet run`` and point ``url=`` at it, or run
``python -m covet performance-test --url ...`` from another process (docs/testing.md).

Example::

    from covet.testing.performance import PerformanceTest

    def test_endpoint_performance():
        with PerformanceTest(app) as perf:
            results = perf.load_test("/api/fast", concurrent_users=100, requests_per_user=10)
            assert results.avg_response_time < 0.1  # 100ms
            assert results.requests_per_second > 1000
            assert results.error_rate < 0.01  # 1%
"""
import asyncio
import threading
from typing import Any, Container, Dict, Mapping, Optional

from .histogram import EXACT_BELOW_US, SUB_BUCKET_BITS, LatencyHistogram
from .loadgen import DEFAULT_OK_STATUSES, DEFAULT_TIMEOUT, LoadPlan, LoadStats, run_load
from .server import ServerThread

__all__ = ["PerformanceTest", "LoadResults", "PERCENTILES"]

#: The percentiles every result carries, as attributes p50 ... p999.
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9))


class LoadResults:
    """The figures of one load test. Times are in seconds, like ``avg_response_time``.

    - ``total_requests``: outcomes counted (``successful + failed``); in a counted run exactly
      ``concurrent_users * requests_per_user``.
    - ``failed``: statuses outside ``ok_statuses`` plus requests without a response; ``errors``
      splits them by kind (status, timeout, closed, connect, protocol); ``error_rate`` is
      ``failed / total_requests``.
    - ``duration``: seconds from the first request to the last outcome (counted run) or the
      deadline (timed run); ``requests_per_second`` is ``total_requests / duration``.
    - ``avg_response_time``, ``min_response_time``, ``max_response_time``: exact, over every
      response received (any status); ``p50`` ... ``p999``: from the histogram, never below the
      true value in whole microseconds and at most 0.79 % above (exact below 256 µs).
    - ``status_counts``: ``{status: count}``; ``bytes_received``: everything read from the
      sockets; ``reconnects``; ``retried``: pipelined requests sent again after a connection
      closed under them; ``client_cpu_time`` / ``client_cpu_per_request``: the generator's own
      CPU (its thread), to see whether it was the bottleneck.

    Example::

        print(results.report())
        json.dumps(results.as_dict())
    """

    def __init__(self, stats: LoadStats, plan: LoadPlan) -> None:
        self.histogram = stats.histogram  # type: LatencyHistogram
        self.url = plan.url
        self.method = plan.method
        self.concurrent_users = plan.users
        self.requests_per_user = plan.requests_per_user
        self.pipeline = plan.depth
        self.total_requests = stats.total
        self.successful = stats.successful
        self.failed = stats.total - stats.successful
        self.errors = dict(stats.errors)  # type: Dict[str, int]
        self.error_rate = self.failed / stats.total if stats.total else 0.0
        self.duration = max(stats.ended_ns - stats.started_ns, 1) / 1e9
        self.requests_per_second = stats.total / self.duration
        h = stats.histogram
        self.responses = h.count
        self.avg_response_time = h.mean_us / 1e6
        self.min_response_time = h.min_us / 1e6
        self.max_response_time = h.max_us / 1e6
        values = h.percentiles(tuple(q for _, q in PERCENTILES))
        self.percentiles = {q: values[q] / 1e6 for _, q in PERCENTILES}  # type: Dict[float, float]
        self.p50, self.p90, self.p95, self.p99, self.p999 = (self.percentiles[q] for _, q in PERCENTILES)
        self.status_counts = dict(sorted(stats.status_counts.items()))  # type: Dict[int, int]
        self.bytes_received = stats.bytes_received
        self.reconnects = stats.reconnects
        self.retried = stats.retried
        self.client_cpu_time = stats.cpu_ns / 1e9
        self.client_cpu_per_request = self.client_cpu_time / stats.total if stats.total else 0.0

    def percentile(self, q: float) -> float:
        """Any percentile (0 < q <= 100), in seconds, with the histogram's resolution."""
        return self.histogram.percentile(q) / 1e6

    def render_histogram(self, rows: int = 12, width: int = 40) -> str:
        """The latency distribution as a text bar chart (log-spaced rows)."""
        return self.histogram.render(rows, width)

    def as_dict(self) -> Dict[str, Any]:
        """Everything as JSON-ready values (status codes as string keys; times in seconds;
        ``histogram`` as ``[lowest_us, highest_us, count]`` per non-empty bucket)."""
        return {
            "url": self.url, "method": self.method, "concurrent_users": self.concurrent_users,
            "requests_per_user": self.requests_per_user, "pipeline": self.pipeline,
            "total_requests": self.total_requests, "successful": self.successful, "failed": self.failed,
            "error_rate": self.error_rate, "errors": dict(self.errors), "duration": self.duration,
            "requests_per_second": self.requests_per_second, "responses": self.responses,
            "avg_response_time": self.avg_response_time, "min_response_time": self.min_response_time,
            "max_response_time": self.max_response_time,
            "percentiles": {name: self.percentiles[q] for name, q in PERCENTILES},
            "status_counts": {str(k): v for k, v in self.status_counts.items()},
            "bytes_received": self.bytes_received, "reconnects": self.reconnects, "retried": self.retried,
            "client_cpu_time": self.client_cpu_time, "client_cpu_per_request": self.client_cpu_per_request,
            "histogram_resolution": {"exact_below_us": EXACT_BELOW_US,
                                     "relative_width": 1.0 / (1 << SUB_BUCKET_BITS)},
            "histogram": [list(b) for b in self.histogram.buckets()],
        }

    def report(self) -> str:
        """A human-readable summary, the histogram included (what ``covet performance-test`` prints)."""
        ms = 1000.0
        lines = [
            "%s %s: %d users, %s, pipeline %d" % (
                self.method, self.url, self.concurrent_users,
                "%d requests each" % self.requests_per_user if self.requests_per_user else
                "%.1f s" % self.duration, self.pipeline),
            "  requests   %d in %.3f s: %.1f req/s" % (self.total_requests, self.duration,
                                                      self.requests_per_second),
            "  successful %d, failed %d (error rate %.2f%%)" % (self.successful, self.failed,
                                                              100.0 * self.error_rate),
        ]
        if self.failed:
            lines.append("  errors     " + ", ".join("%s %d" % kv for kv in self.errors.items() if kv[1]))
        lines.append("  statuses   " + (", ".join("%d: %d" % kv for kv in self.status_counts.items()) or "none"))
        lines.append("  latency    avg %.3f ms, min %.3f ms, max %.3f ms" % (
            self.avg_response_time * ms, self.min_response_time * ms, self.max_response_time * ms))
        lines.append("  percentile " + ", ".join("%s %.3f ms" % (name, self.percentiles[q] * ms)
                                                 for name, q in PERCENTILES))
        lines.append("  received   %d bytes; %d reconnects, %d retried" % (
            self.bytes_received, self.reconnects, self.retried))
        lines.append("  generator  %.1f us CPU per request (%.3f s in all)" % (
            self.client_cpu_per_request * 1e6, self.client_cpu_time))
        lines.append(self.render_histogram())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "<LoadResults %d requests, %.1f req/s, error rate %.4f, p99 %.3f ms>" % (
            self.total_requests, self.requests_per_second, self.error_rate, self.p99 * 1000)


class PerformanceTest:
    """Load-test ``app`` through covet's real server in a thread, or a running server at ``url``.

    :param app: a Covet app, served on 127.0.0.1 with a free port while the ``with`` block runs
        (startup and shutdown hooks included).
    :param url: instead of ``app``: the base URL of a running server (``http://127.0.0.1:8000``).
    :param timeout: default seconds a request may wait for its response (then it is an error).
    :param server_options: ``ServerConfig`` settings for the in-process server
        (e.g. ``{"max_connections": 2000}``).

    Example::

        with PerformanceTest(url="http://127.0.0.1:8000") as perf:
            r = perf.load_test("/", concurrent_users=64, duration=10, pipeline=4)
            print(r.report())
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, app: Any = None, *, url: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT,
                 server_options: Optional[Mapping[str, Any]] = None) -> None:
        if (app is None) == (url is None):
            raise ValueError("PerformanceTest needs an app or a url=, not both")
        self.app = app
        self.base_url = url.rstrip("/") if url is not None else None
        self.timeout = timeout
        self.server_options = dict(server_options or {})
        self.server = None  # type: Optional[ServerThread]

    def start(self) -> "PerformanceTest":
        """Start the in-process server (``with`` does it; ``load_test`` too, if needed)."""
        if self.app is not None and self.server is None:
            options = dict(self.server_options)
            # Room for many users: a test with 1,000 users should not meet the 1,000 default.
            options.setdefault("max_connections", 10000)
            self.server = ServerThread(self.app, **options).start()
            self.base_url = self.server.url
        return self

    def close(self) -> None:
        """Stop the in-process server (graceful: shutdown hooks run)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> "PerformanceTest":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def plan(self, path: str = "/", *, concurrent_users: int = 50, requests_per_user: Optional[int] = None,
             duration: Optional[float] = None, pipeline: int = 1, warmup: float = 0.0, method: str = "GET",
             headers: Optional[Mapping[str, str]] = None, json: Any = None, body: Optional[bytes] = None,
             timeout: Optional[float] = None, ok_statuses: Container[int] = DEFAULT_OK_STATUSES,
             verify: bool = True) -> LoadPlan:
        """The ``LoadPlan`` that ``load_test`` runs with the same arguments (request encoded once)."""
        self.start()
        if not path.startswith(("http://", "https://")):
            path = (self.base_url or "") + ("" if path.startswith("/") else "/") + path
        return LoadPlan.build(path, method, headers=headers, json=json, body=body, verify=verify,
                              users=concurrent_users, requests_per_user=requests_per_user, duration=duration,
                              depth=pipeline, warmup=warmup, ok_statuses=ok_statuses,
                              timeout=self.timeout if timeout is None else timeout)

    def load_test(self, path: str = "/", **options: Any) -> LoadResults:
        """Run a load test and return its ``LoadResults``.

        :param path: a path on the app / base URL (or a full URL).
        :param concurrent_users: connections, each with its own requests (default 50).
        :param requests_per_user: requests each user sends (default 100), or
        :param duration: seconds to run instead (requests in flight at the end are not counted).
        :param pipeline: requests written ahead on each connection (HTTP/1.1 pipelining; 1 = off).
        :param warmup: seconds of load before the measurement starts (not counted).
        :param method: ``headers``, ``json`` / ``body``: the request, encoded once.
        :param timeout: seconds a request may wait for its response (default: the test's).
        :param ok_statuses: the statuses that count as successes (default 200-399).

        Example::

            perf.load_test("/items", method="POST", json={"name": "x"}, concurrent_users=8,
                           duration=5, ok_statuses={201})
        """
        plan = self.plan(path, **options)
        stats = _run_sync(run_load(plan))
        return LoadResults(stats, plan)

    async def aload_test(self, path: str = "/", **options: Any) -> LoadResults:
        """``load_test`` for async code: runs on the caller's event loop.

        In-process, the app is served by the server thread either way, so the caller's loop
        only drives the connections.
        """
        plan = self.plan(path, **options)
        return LoadResults(await run_load(plan), plan)


def _run_sync(coro: Any) -> LoadStats:
    """Run the generator on a fresh event loop: here, or in a helper thread if this thread already
    runs a loop (a sync test helper called from an async test)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box = []  # type: list

    def main() -> None:
        try:
            box.append((True, asyncio.run(coro)))
        except BaseException as exc:  # handed back to the caller below
            box.append((False, exc))

    thread = threading.Thread(target=main, name="covet-load-generator", daemon=True)
    thread.start()
    thread.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value

