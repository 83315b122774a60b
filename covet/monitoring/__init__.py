"""Operating covet: metrics for Prometheus, health checks (``covet.monitoring.health``) and errors to
Sentry (``covet.monitoring.sentry``).

Names load on first use (PEP 562), so ``import covet.monitoring`` costs nothing until one is touched.

Example::

    from covet.monitoring import MetricsManager
    from covet.monitoring.backends import PrometheusBackend

    metrics = MetricsManager(PrometheusBackend())
"""
from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .backends import PrometheusBackend as PrometheusBackend
    from .instrumentation import HTTPMetrics as HTTPMetrics, enable_metrics as enable_metrics
    from .metrics import (
        Counter as Counter, Gauge as Gauge, Histogram as Histogram, MetricError as MetricError, Summary as Summary,
    )
    from .registry import REGISTRY as REGISTRY, MetricsManager as MetricsManager, Registry as Registry
    from .multiprocess import mark_process_dead as mark_process_dead
    from .health import HealthChecker as HealthChecker
    from .performance import PerformanceMonitor as PerformanceMonitor
    from .tracing import (TracingMiddleware as TracingMiddleware, Tracer as Tracer, trace as trace, inject as inject,
                          current_span as current_span)

# public name -> submodule that defines it
_EXPORTS = {
    "MetricsManager": "registry", "Registry": "registry", "REGISTRY": "registry", "MetricError": "metrics",
    "Counter": "metrics", "Gauge": "metrics", "Histogram": "metrics", "Summary": "metrics",
    "PrometheusBackend": "backends",
    "enable_metrics": "instrumentation", "HTTPMetrics": "instrumentation",
    "mark_process_dead": "multiprocess",
    "HealthChecker": "health",
    "TracingMiddleware": "tracing", "Tracer": "tracing", "trace": "tracing", "inject": "tracing",
    "current_span": "tracing", "PerformanceMonitor": "performance",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("covet.monitoring", _EXPORTS, globals())
