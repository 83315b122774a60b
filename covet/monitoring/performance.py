"""``PerformanceMonitor``: metrics and traces from one object, as the API reference shows it.

It holds a ``MetricsManager`` (served at ``prometheus_endpoint`` once the app is given it) and, when
a trace endpoint is named, a ``TracingMiddleware``; ``trace`` and ``timer`` record both a span and
a duration histogram, so a slow operation shows on a dashboard and in the trace of the request
that ran it.

Example::

    monitor = PerformanceMonitor(prometheus_endpoint="/metrics", jaeger_endpoint="http://jaeger:14268/api/traces")
    app.add_integration(monitor)          # serves /metrics and traces every request

    @monitor.trace("database_operation")
    async def complex_database_operation():
        async with monitor.timer("query_execution"):
            result = await db.fetch_all("SELECT * FROM complex_view")
        monitor.counter("database_queries").inc()
        monitor.histogram("result_size").observe(len(result))
        return result
"""
import functools
import inspect
import time
from typing import Any, Callable, Optional, Sequence, TypeVar

from .backends import PrometheusBackend
from .registry import MetricsManager
from .tracing import TracingMiddleware, current_span, trace as _trace

__all__ = ["PerformanceMonitor"]

F = TypeVar("F", bound=Callable[..., Any])


class _Timer:
    """``with`` / ``async with``: observes the block's duration, inside a span of the same name."""

    __slots__ = ("monitor", "name", "_start", "_span")

    def __init__(self, monitor: "PerformanceMonitor", name: str) -> None:
        self.monitor, self.name = monitor, name
        self._start = 0.0
        self._span: Any = None

    def __enter__(self) -> "_Timer":
        if self.monitor.tracing is not None and current_span() is not None:
            self._span = self.monitor.tracing.span(self.name)
            self._span.__enter__()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.monitor._timers.labels(name=self.name).observe(time.perf_counter() - self._start)
        if self._span is not None:
            self._span.__exit__(*exc)

    async def __aenter__(self) -> "_Timer":
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)


class PerformanceMonitor:
    """Metrics, timers and traces together; see the module docstring.

    :param prometheus_endpoint: where ``app.add_integration(monitor)`` serves the metrics (None: not served).
    :param jaeger_endpoint: Jaeger's collector (its OTLP port is used, as ``TracingMiddleware`` does).
    :param otlp_endpoint: an OpenTelemetry endpoint instead; with neither, nothing is traced.
    :param metrics: a ``MetricsManager`` to use (default: one on the process-wide registry).
    """

    def __init__(self, prometheus_endpoint: Optional[str] = "/metrics", jaeger_endpoint: Optional[str] = None,
                 otlp_endpoint: Optional[str] = None, service_name: str = "covet-app", sample_rate: float = 1.0,
                 metrics: Optional[MetricsManager] = None) -> None:
        self.prometheus_endpoint = prometheus_endpoint
        self.metrics = metrics or MetricsManager(PrometheusBackend())
        self.tracing: Optional[TracingMiddleware] = None
        if jaeger_endpoint is not None or otlp_endpoint is not None:
            self.tracing = TracingMiddleware(service_name=service_name, endpoint=otlp_endpoint,
                                             jaeger_endpoint=jaeger_endpoint, sample_rate=sample_rate)
        self._operations = self.metrics.histogram("covet_operation_duration_seconds",
                                                  "Duration of operations marked with monitor.trace", ["operation"])
        self._timers = self.metrics.histogram("covet_timer_duration_seconds",
                                              "Duration of blocks timed with monitor.timer", ["name"])

    def setup(self, app: Any) -> None:
        """Called by ``app.add_integration(monitor)``: serve the metrics (with the built-in HTTP
        metrics) and trace every request, when configured."""
        if self.prometheus_endpoint is not None:
            app.enable_metrics(self.prometheus_endpoint, metrics=self.metrics)
        if self.tracing is not None:
            app.add_middleware(self.tracing)

    # -- metrics --------------------------------------------------------------------------------
    def counter(self, name: str, documentation: Any = "", labelnames: Sequence[str] = ()) -> Any:
        """The counter ``name`` (made on first use; the same one afterwards)."""
        return self.metrics.counter(name, documentation, labelnames)

    def gauge(self, name: str, documentation: Any = "", labelnames: Sequence[str] = ()) -> Any:
        return self.metrics.gauge(name, documentation, labelnames)

    def histogram(self, name: str, documentation: Any = "", labelnames: Sequence[str] = (), **options: Any) -> Any:
        return self.metrics.histogram(name, documentation, labelnames, **options)

    def timer(self, name: str) -> _Timer:
        """``with monitor.timer("x"):`` or ``async with``: the block's duration goes to
        ``covet_timer_duration_seconds{name="x"}``, and inside a traced request it is a span."""
        return _Timer(self, name)

    # -- traces -------------------------------------------------------------------------------
    def trace(self, name: Optional[str] = None) -> Callable[[F], F]:
        """Decorate a function (sync or async): each call is a span (when tracing is configured)
        and its duration goes to ``covet_operation_duration_seconds{operation=name}``."""
        def decorate(fn: F) -> F:
            operation = name or fn.__qualname__
            child = self._operations.labels(operation=operation)
            traced = _trace(operation)(fn) if self.tracing is not None else fn
            if inspect.iscoroutinefunction(fn):
                @functools.wraps(fn)
                async def async_timed(*args: Any, **kwargs: Any) -> Any:
                    start = time.perf_counter()
                    try:
                        return await traced(*args, **kwargs)
                    finally:
                        child.observe(time.perf_counter() - start)
                return async_timed  # type: ignore[return-value]

            @functools.wraps(fn)
            def timed(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return traced(*args, **kwargs)
                finally:
                    child.observe(time.perf_counter() - start)
            return timed  # type: ignore[return-value]
        return decorate
