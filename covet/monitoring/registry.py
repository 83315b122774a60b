"""The registry of one exposition, and ``MetricsManager``, which makes metrics in it.

Example::

    from covet.monitoring import MetricsManager
    from covet.monitoring.backends import PrometheusBackend

    metrics = MetricsManager(PrometheusBackend())
    jobs = metrics.counter("jobs_total", "Jobs run.", ["queue"])
"""
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .exposition import MetricFamily
from .metrics import (
    DEFAULT_BUCKETS, LABEL_NAME, METRIC_NAME, Counter, Gauge, Histogram, MetricError, Summary, check_buckets,
)

__all__ = ["Registry", "REGISTRY", "MetricsManager"]


def _check_names(kind: Any, name: str, labelnames: Sequence[str]) -> Tuple[str, ...]:
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        raise MetricError("metric name %r is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*" % (name,))
    if isinstance(labelnames, str):
        raise MetricError("labelnames must be a list of names, not the string %r" % labelnames)
    names = tuple(labelnames)
    for label in names:
        if not isinstance(label, str) or not LABEL_NAME.match(label):
            raise MetricError("label name %r of %s is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]*" % (label, name))
        if label.startswith("__"):
            raise MetricError("label name %r of %s is reserved: names starting with __ belong to Prometheus"
                              % (label, name))
        if label in kind._reserved:
            raise MetricError("label name %r is reserved in a %s (it carries the %s)" % (
                label, kind.type, "bucket bound" if label == "le" else "quantile"))
    if len(set(names)) != len(names):
        raise MetricError("label names of %s repeat: %r" % (name, list(names)))
    return names


class Registry:
    """The metrics of one exposition. Registering a name again with the same definition returns the
    metric already there (a module imported twice, two apps in one process); a different
    definition, or a name whose samples would collide with another metric's, is refused.

    Example::

        registry = Registry()
        metrics = MetricsManager(PrometheusBackend(registry))
    """

    def __init__(self) -> None:
        self._metrics: Dict[str, Any] = {}
        self._samples: Dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, kind: Any, name: str, documentation: str = "", labelnames: Sequence[str] = (),
                 **options: Any) -> Any:
        """The ``kind`` metric (Counter, Gauge, Histogram, Summary) called ``name``, made if new."""
        names = _check_names(kind, name, labelnames)
        if not isinstance(documentation, str):
            raise MetricError("documentation of %s must be a string" % name)
        if kind is Counter and name.endswith("_total"):
            name = name[:-len("_total")]
        if "buckets" in options:
            options["buckets"] = check_buckets(name, options["buckets"])
        definition = (kind, names, documentation, tuple(sorted(options.items())))
        with self._lock:
            existing = self._metrics.get(name)
            if existing is not None:
                if existing.definition == definition:
                    return existing
                raise MetricError("%s is already registered as %r; a different definition is refused"
                                  % (name, existing))
            exposed = kind.sample_names(name)
            for sample in exposed:
                owner = self._samples.get(sample)
                if owner is not None:
                    raise MetricError("%s would expose %s, which %s already exposes" % (name, sample, owner))
            # Made only once accepted: in a worker, a metric's series are written to its file.
            metric = kind(name, documentation, names, **options)
            metric.definition = definition
            for sample in exposed:
                self._samples[sample] = name
            self._metrics[name] = metric
        return metric

    def unregister(self, name: str) -> None:
        """Remove the metric called ``name`` (a counter by its family name, without ``_total``)."""
        with self._lock:
            metric = self._metrics.pop(name, None)
            if metric is not None:
                for sample in metric.sample_names(name):
                    self._samples.pop(sample, None)

    def get(self, name: str) -> Optional[Any]:
        """The metric called ``name``, or None."""
        return self._metrics.get(name)

    def collect(self) -> List[MetricFamily]:
        """Every metric's samples now, in registration order."""
        return [m.collect() for m in list(self._metrics.values())]


#: The process-wide registry that ``PrometheusBackend()`` uses unless given another.
REGISTRY = Registry()


def _split(documentation: Union[str, Sequence[str]], labelnames: Sequence[str]) -> Tuple[str, Sequence[str]]:
    # metrics.counter("http_requests_total", ["method", "endpoint"]): the reference's second
    # positional argument is the label names.
    if not isinstance(documentation, str):
        if labelnames:
            raise MetricError("documentation must be a string; label names go in labelnames")
        return "", documentation
    return documentation, labelnames


class MetricsManager:
    """Makes metrics in its backend's registry and renders them for a scrape.

    Example::

        from covet.monitoring import MetricsManager
        from covet.monitoring.backends import PrometheusBackend

        metrics = MetricsManager(PrometheusBackend())
        requests = metrics.counter("http_requests_total", ["method", "endpoint"])
        requests.inc(method="GET", endpoint="/users/{id}")
        body, content_type = metrics.render()
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    @property
    def registry(self) -> Registry:
        """The registry the metrics live in."""
        return self.backend.registry

    def counter(self, name: str, documentation: Union[str, Sequence[str]] = "",
                labelnames: Sequence[str] = ()) -> Counter:
        """A counter; ``documentation`` may be left out: ``counter("jobs_total", ["queue"])``."""
        documentation, labelnames = _split(documentation, labelnames)
        return self.registry.register(Counter, name, documentation, labelnames)

    def gauge(self, name: str, documentation: Union[str, Sequence[str]] = "", labelnames: Sequence[str] = (),
              multiprocess_mode: str = "livesum") -> Gauge:
        """A gauge; ``multiprocess_mode`` says how workers' values combine (see Gauge)."""
        documentation, labelnames = _split(documentation, labelnames)
        return self.registry.register(Gauge, name, documentation, labelnames, multiprocess_mode=multiprocess_mode)

    def histogram(self, name: str, documentation: Union[str, Sequence[str]] = "", labelnames: Sequence[str] = (),
                  buckets: Sequence[float] = DEFAULT_BUCKETS) -> Histogram:
        """A histogram with these bucket upper bounds (``+Inf`` is added when missing)."""
        documentation, labelnames = _split(documentation, labelnames)
        return self.registry.register(Histogram, name, documentation, labelnames, buckets=buckets)

    def summary(self, name: str, documentation: Union[str, Sequence[str]] = "",
                labelnames: Sequence[str] = ()) -> Summary:
        """A summary (``_count`` and ``_sum``)."""
        documentation, labelnames = _split(documentation, labelnames)
        return self.registry.register(Summary, name, documentation, labelnames)

    def render(self, accept: Optional[str] = None) -> Tuple[bytes, str]:
        """``(body, content type)`` for a scrape whose ``Accept`` header is ``accept``."""
        return self.backend.render(accept)


