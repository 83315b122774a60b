"""``app.enable_metrics()``: the ``/metrics`` route and the built-in HTTP metrics.

Three metrics describe the traffic, with labels whose values are bounded whatever clients send:

* ``http_requests_total{method, route, status}``: requests answered;
* ``http_request_duration_seconds{method, route}``: a histogram of the time spent answering;
* ``http_requests_in_progress``: requests being answered now.

``route`` is the matched route's template (``/users/{id}``), never the raw path: every unmatched
path (404, 405, redirects) shares ``<unmatched>``, and ``method`` is ``<other>`` for methods outside
RFC 9110's and PATCH, so a scanner cannot create series at will.
"""
import threading
import time
import weakref
from bisect import bisect_left
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from covet.core._paths import PARAM
from covet.core.requests import Request
from covet import resilience
from covet.cache import app_caches
from covet.core.responses import Response

from .backends import PrometheusBackend
from .business import SIZE_BUCKETS, BusinessMetrics
from .metrics import DEFAULT_BUCKETS, VALUE_LOCK
from .registry import MetricsManager

__all__ = ["enable_metrics", "HTTPMetrics", "UNMATCHED", "OTHER_METHOD", "KNOWN_METHODS", "business_for"]

UNMATCHED = "<unmatched>"
OTHER_METHOD = "<other>"
#: RFC 9110 §9 methods and PATCH (RFC 5789); any other method is counted as ``<other>``.
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))
# Methods whose requests carry no body to measure (RFC 9110 §9.3: a body there has no meaning).
_BODILESS = frozenset(("GET", "HEAD", "OPTIONS", "DELETE", "TRACE", "CONNECT"))
# Label children kept per (method, route, root paths, status). The keys are bounded by the routes,
# but a cap keeps the cache from growing should an ASGI server hand over varying root paths.
MAX_CACHED_SERIES = 10000

_enabled: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def route_label(route: Any, entry_root: str, exit_root: str, status: int) -> str:
    """The ``route`` label: the template of the route that answered (converters left out:
    ``/users/{id:int}`` is ``/users/{id}``), under the prefix of the mounts the request went
    through; ``<unmatched>`` when no route did."""
    prefix = exit_root[len(entry_root):] if exit_root.startswith(entry_root) else ""
    if route is not None:
        return prefix + PARAM.sub(r"{\1}", route.path)
    if prefix and status != 404:
        return prefix + "/{path}"  # a mounted app that is not a Covet app (static files)
    return UNMATCHED


class HTTPMetrics:
    """The built-in HTTP metrics and the middleware that records them.

    Example::

        http = HTTPMetrics(MetricsManager(PrometheusBackend()))
        app.add_middleware(http.middleware())
    """

    def __init__(self, metrics: MetricsManager, buckets: Sequence[float] = DEFAULT_BUCKETS,
                 business: Optional[BusinessMetrics] = None) -> None:
        self.business = business
        self.requests = metrics.counter(
            "http_requests_total", "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"])
        self.duration = metrics.histogram(
            "http_request_duration_seconds", "Time spent answering HTTP requests, by method and route template.",
            ["method", "route"], buckets=buckets)
        self.in_progress = metrics.gauge("http_requests_in_progress", "HTTP requests being answered now.",
                                         multiprocess_mode="livesum")

    def middleware(self) -> Callable[[Request, Callable[[Request], Any]], Any]:
        """An app middleware recording every request that reaches it."""
        requests, duration = self.requests, self.duration
        gauge = self.in_progress.labels()
        bounds = duration.buckets
        sum_index = len(bounds)
        perf = time.perf_counter
        known = KNOWN_METHODS
        lock = VALUE_LOCK
        # PERF: the label children are found once per (method, route, status) and reused: no
        # string formatting and no label lookup per request, and one lock for the three updates.
        # Their ``cells`` are read per request: a forked worker gives every child new ones.
        series: Dict[Tuple[Any, ...], Tuple[Any, Any, str, Any]] = {}
        business = self.business
        slow = business.slow_request if business is not None else 0.0
        size_sum = len(SIZE_BUCKETS)

        def resolve(key: Tuple[Any, ...]) -> Tuple[Any, Any, str, Any]:
            method, route, entry_root, exit_root, status = key
            label = route_label(route, entry_root, exit_root, status)
            pair = (requests.labels(method, label, str(status)), duration.labels(method, label), label,
                    business.size_children(method, label) if business is not None else None)
            if len(series) < MAX_CACHED_SERIES:
                series[key] = pair
            return pair

        async def metrics_middleware(request: Request, call_next: Callable[[Request], Any]) -> Any:
            root = request.root_path
            with lock:
                gauge.cells.add_locked(0, 1.0)
            start = perf()
            status = 500  # what an exception escaping the app becomes
            escaped: Optional[BaseException] = None
            response = None
            try:
                response = await call_next(request)
                status = getattr(response, "status_code", 200)
            except Exception as exc:
                escaped = exc
                raise
            finally:
                elapsed = perf() - start
                method = request.method
                if method not in known:
                    method = OTHER_METHOD
                key = (method, request.route, root, request.root_path, status)
                pair = series.get(key)
                if pair is None:
                    pair = resolve(key)
                bucket = bisect_left(bounds, elapsed)
                sizes = pair[3]
                if sizes is not None:
                    # PERF: the sizes go in under the same lock, through children found once per
                    # series; GET, HEAD, OPTIONS and DELETE carry no body to measure.
                    body = getattr(response, "body", None)
                    out = len(body) if type(body) is bytes else -1
                    length = -1
                    if method not in _BODILESS:
                        # A client's number: ASCII digits and at most 18 of them (no float overflow
                        # in the histogram's sum, whatever a server in front of us let through).
                        text = request.headers.get("content-length")
                        length = int(text) if text and len(text) < 19 and text.isascii() and text.isdigit() else -1
                with lock:
                    gauge.cells.add_locked(0, -1.0)
                    pair[0].cells.add_locked(0, 1.0)
                    pair[1].cells.add2_locked(bucket, 1.0, sum_index, elapsed)
                    if sizes is not None:
                        if out >= 0:
                            sizes[1].cells.add2_locked(bisect_left(SIZE_BUCKETS, out), 1.0, size_sum, out)
                        if length >= 0:
                            sizes[0].cells.add2_locked(bisect_left(SIZE_BUCKETS, length), 1.0, size_sum, length)
                if sizes is not None and (status >= 400 or escaped is not None or elapsed > slow):
                    business.request_done(method, pair[2], status, elapsed, escaped)
            return response

        return metrics_middleware


def enable_metrics(app: Any, path: str = "/metrics", metrics: Optional[MetricsManager] = None,
                   http_metrics: bool = True, buckets: Sequence[float] = DEFAULT_BUCKETS,
                   business_metrics: bool = True, **business_options: Any) -> MetricsManager:
    """Serve ``metrics`` (default: ``MetricsManager(PrometheusBackend())``, the process-wide registry)
    at ``path`` and, with ``http_metrics``, record the built-in HTTP metrics through an app
    middleware (it measures what is added after it; call this first to measure every middleware).
    Returns the manager, for your own metrics. ``app.enable_metrics(...)`` calls this.

    Example::

        app = Covet()
        metrics = app.enable_metrics()
        signups = metrics.counter("signups_total", "Accounts created.")
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("the metrics path must start with /, got %r" % (path,))
    if app in _enabled:
        raise RuntimeError("metrics are already enabled on this app, at %s" % _enabled[app])
    manager = metrics if metrics is not None else MetricsManager(PrometheusBackend())

    business = business_for(manager, **business_options) if business_metrics else None
    if business is not None:
        app.state.business_metrics = business
        # Retries and circuit breakers made without metrics= report here, with the calls they wrap.
        resilience.report_to(manager)

    async def metrics_endpoint(request: Request) -> Response:
        if business is not None:
            for name, cache in app_caches.made(app).items():
                business.watch_cache(name, cache)
            business.collect_caches()
            business.collect_process()
        body, content_type = manager.render(request.headers.get("accept"))
        # A scrape is a reading of now: no cache may answer the next one.
        return Response(body, 200, {"content-type": content_type, "cache-control": "no-store"})

    app.add_route(path, metrics_endpoint, methods=["GET"], name="metrics", include_in_schema=False)
    if http_metrics:
        app.add_middleware(HTTPMetrics(manager, buckets, business).middleware())
    _enabled[app] = path
    return manager


_business: "weakref.WeakKeyDictionary[Any, BusinessMetrics]" = weakref.WeakKeyDictionary()
_business_lock = threading.Lock()


def business_for(manager: MetricsManager, **options: Any) -> BusinessMetrics:
    """The one :class:`BusinessMetrics` of ``manager``'s registry (made with ``options`` the first
    time): two apps on one registry share it, so a slow statement is counted once."""
    with _business_lock:
        found = _business.get(manager.registry)
        if found is None:
            found = _business[manager.registry] = BusinessMetrics(manager, **options)
        return found
