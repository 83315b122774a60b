"""Where a ``MetricsManager``'s metrics go: ``PrometheusBackend`` keeps them for a Prometheus scrape.

Example::

    from covet.monitoring import MetricsManager
    from covet.monitoring.backends import PrometheusBackend

    metrics = MetricsManager(PrometheusBackend())
"""
from typing import List, Optional, Tuple

from .exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, MetricFamily, choose_format, render
from .registry import REGISTRY, Registry
from .multiprocess import collect, directory

__all__ = ["PrometheusBackend"]


class PrometheusBackend:
    """Metrics kept in a registry (the process-wide ``REGISTRY`` unless given one) and rendered in the
    Prometheus text format 0.0.4, or OpenMetrics 1.0 when the scraper asks for it. Under
    ``--workers N`` (``COVET_METRICS_DIR`` set) a scrape reads every worker's file instead, so one
    scrape of any worker reports the whole server.

    Example::

        backend = PrometheusBackend()
        body, content_type = backend.render("application/openmetrics-text; version=1.0.0")
    """

    def __init__(self, registry: Optional[Registry] = None) -> None:
        self.registry = registry if registry is not None else REGISTRY

    def collect(self) -> List[MetricFamily]:
        """The families to expose now: this registry's, or every worker's when they share a folder."""
        folder = directory()
        if folder is not None:
            return collect(folder)
        return self.registry.collect()

    def render(self, accept: Optional[str] = None) -> Tuple[bytes, str]:
        """``(body, content type)`` for a scrape with this ``Accept`` header."""
        openmetrics = choose_format(accept)
        body = render(self.collect(), openmetrics)
        return body, OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
