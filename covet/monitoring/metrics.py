"""Counters, gauges, histograms and summaries: their values, label children and timers.

Names follow the Prometheus data model (https://prometheus.io/docs/concepts/data_model/): a metric
name matches ``[a-zA-Z_:][a-zA-Z0-9_:]*``, a label name ``[a-zA-Z_][a-zA-Z0-9_]*`` and does not start
with ``__`` (reserved for Prometheus itself); ``le`` is the histogram's bucket label and ``quantile``
the summary's, so neither may be declared on those. Anything else is refused at registration with
the rule it breaks, never at scrape time.

Cost: ``labels(...)`` is a dict lookup once the child exists; an increment is one lock and one add
(plus one ``struct.pack_into`` when the values live in a multiprocess file). Hold on to the child
(``c = counter.labels("GET")``) in hot code.
"""
import bisect
import functools
import inspect
import math
import os
import re
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Sequence, Tuple, TypeVar

from .exposition import MetricFamily, Sample
from .multiprocess import GAUGE_MODES, FileCells, directory, forget_files, make_key

__all__ = [
    "Counter", "Gauge", "Histogram", "Summary", "DEFAULT_BUCKETS", "MetricError", "VALUE_LOCK",
    "METRIC_NAME", "LABEL_NAME", "LocalCells", "check_buckets",
]

F = TypeVar("F", bound=Callable[..., Any])

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
#: prometheus_client's defaults: request latencies from 5 ms to 10 s.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)


class MetricError(ValueError):
    """A metric or label name, label set, bucket list or value that the data model refuses."""


# One lock guards every metric value of the process. Under the GIL threads never update values
# truly in parallel, and a critical section is a few additions, so a lock per value buys nothing
# but lets the HTTP middleware record a request (gauge, counter, histogram) with one acquisition.
VALUE_LOCK = threading.Lock()
if hasattr(os, "register_at_fork"):
    # Held across fork, so that a child never inherits it locked by a thread that did not follow.
    os.register_at_fork(before=VALUE_LOCK.acquire, after_in_parent=VALUE_LOCK.release,
                        after_in_child=VALUE_LOCK.release)


class LocalCells:
    """A child metric's values in this process's memory, guarded by ``VALUE_LOCK``. The
    ``*_locked`` methods are for a caller that holds the lock already."""
    __slots__ = ("values",)

    def __init__(self, count: int) -> None:
        self.values = [0.0] * count

    def add_locked(self, i: int, amount: float) -> None:
        self.values[i] += amount

    def add2_locked(self, i: int, a: float, j: int, b: float) -> None:
        values = self.values
        values[i] += a
        values[j] += b

    def add(self, i: int, amount: float) -> None:
        with VALUE_LOCK:
            self.values[i] += amount

    def add2(self, i: int, a: float, j: int, b: float) -> None:
        with VALUE_LOCK:
            values = self.values
            values[i] += a
            values[j] += b

    def set(self, i: int, value: float) -> None:
        with VALUE_LOCK:
            self.values[i] = value

    def snapshot(self) -> List[float]:
        with VALUE_LOCK:
            return list(self.values)


class _Timer:
    """``with metric.time():`` or ``@metric.time()``: the elapsed seconds go to ``observe``."""
    __slots__ = ("_observe", "_start")

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe
        self._start = 0.0

    def __enter__(self) -> "_Timer":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._observe(time.perf_counter() - self._start)

    def __call__(self, fn: F) -> F:
        observe = self._observe
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    observe(time.perf_counter() - start)
            return timed_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                observe(time.perf_counter() - start)
        return timed  # type: ignore[return-value]


# Every metric of this process, so that a forked worker can move their values into its own file.
_ALL: "weakref.WeakSet[_Metric]" = weakref.WeakSet()


class _Child:
    __slots__ = ("cells", "labelvalues", "__weakref__")

    def __init__(self, cells: Any, labelvalues: Tuple[str, ...]) -> None:
        self.cells = cells
        self.labelvalues = labelvalues


class _CounterChild(_Child):
    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise MetricError("a counter only goes up: inc(%r) refused; use a gauge for values that go down" % amount)
        self.cells.add(0, amount)

    def get(self) -> float:
        return self.cells.snapshot()[0]


class _GaugeChild(_Child):
    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        self.cells.add(0, amount)

    def dec(self, amount: float = 1.0) -> None:
        self.cells.add(0, -amount)

    def set(self, value: float) -> None:
        self.cells.set(0, float(value))

    def set_to_current_time(self) -> None:
        self.cells.set(0, time.time())

    def time(self) -> _Timer:
        """Set the gauge to the duration of a block or of each call of a function."""
        return _Timer(self.set)

    def track_inprogress(self) -> "_InProgress":
        """Up by one while a block or a call runs."""
        return _InProgress(self)

    def get(self) -> float:
        return self.cells.snapshot()[0]


class _InProgress:
    __slots__ = ("_gauge",)

    def __init__(self, gauge: _GaugeChild) -> None:
        self._gauge = gauge

    def __enter__(self) -> None:
        self._gauge.inc()

    def __exit__(self, *exc: Any) -> None:
        self._gauge.dec()


class _ObservingChild(_Child):
    __slots__ = ("_bounds", "_last")

    def __init__(self, cells: Any, labelvalues: Tuple[str, ...], bounds: Tuple[float, ...]) -> None:
        super().__init__(cells, labelvalues)
        self._bounds = bounds
        self._last = len(bounds)  # the index of the sum, after the buckets (0 buckets: a summary)

    def observe(self, amount: float) -> None:
        if amount != amount:
            raise MetricError("NaN cannot be observed: it would turn the sum into NaN for good")
        if self._last:
            self.cells.add2(bisect.bisect_left(self._bounds, amount), 1.0, self._last, amount)
        else:
            self.cells.add2(0, 1.0, 1, amount)

    def time(self) -> _Timer:
        """Observe the duration of a block (``with``) or of each call of a function (decorator)."""
        return _Timer(self.observe)


class _Metric:
    """A metric family: its name, help and label names, and one child per label-value tuple."""
    type = ""
    _reserved: Tuple[str, ...] = ()
    _child_class: Any = _Child

    def __init__(self, name: str, documentation: str, labelnames: Tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.definition: Tuple[Any, ...] = ()
        self._children: Dict[Tuple[str, ...], Any] = {}
        self._lock = threading.Lock()
        self._solo = self._new_child(()) if not labelnames else None
        _ALL.add(self)

    # -- what subclasses define ------------------------------------------
    @staticmethod
    def sample_names(name: str) -> List[str]:
        """The names this metric's samples (and family) take in an exposition."""
        return [name]

    def _keys(self, labelvalues: Tuple[str, ...]) -> List[str]:
        return [make_key(self.name, self.name, self.labelnames, labelvalues, self.documentation)]

    def _file_kind(self) -> str:
        return self.type

    def _samples(self, child: Any, labels: Tuple[Tuple[str, str], ...], values: List[float]) -> List[Sample]:
        return [(self.name, labels, values[0])]

    def _new_child(self, labelvalues: Tuple[str, ...]) -> Any:
        return self._child_class(self._make_cells(labelvalues), labelvalues)

    # -- shared ------------------------------------------------------------
    def _make_cells(self, labelvalues: Tuple[str, ...]) -> Any:
        keys = self._keys(labelvalues)
        folder = directory()
        if folder is None:
            return LocalCells(len(keys))
        return FileCells(self._file_kind(), keys, folder, VALUE_LOCK)

    def _rebind(self) -> None:
        for child in list(self._children.values()) + ([self._solo] if self._solo is not None else []):
            child.cells = self._make_cells(child.labelvalues)

    def labels(self, *values: Any, **named: Any) -> Any:
        """The child for these label values (positional in ``labelnames`` order, or by name).

        Example::

            requests = metrics.counter("jobs_total", "Jobs.", ["queue"])
            requests.labels("mail").inc()
            requests.labels(queue="mail").inc()
        """
        if not named:
            child = self._children.get(values)
            if child is not None:
                return child
        elif values:
            raise MetricError("labels() takes values by position or by name, not both")
        else:
            if set(named) != set(self.labelnames):
                raise MetricError("%s has labels %s; got %s" % (
                    self.name, _names(self.labelnames), _names(sorted(named))))
            values = tuple(named[n] for n in self.labelnames)
        if not self.labelnames:
            if values:
                raise MetricError("%s has no labels; got %d value%s" % (
                    self.name, len(values), "" if len(values) == 1 else "s"))
            return self._solo  # labels() of a metric without labels: its one series
        if len(values) != len(self.labelnames):
            raise MetricError("%s has labels %s; got %d value%s" % (
                self.name, _names(self.labelnames), len(values), "" if len(values) == 1 else "s"))
        key = tuple(v if type(v) is str else str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children.get(key)
                if child is None:
                    child = self._children[key] = self._new_child(key)
        return child

    def _one(self, labels: Dict[str, Any]) -> Any:
        if labels:
            return self.labels(**labels)
        if self._solo is None:
            raise MetricError("%s has labels %s: pass them (%s) or use .labels(...)" % (
                self.name, _names(self.labelnames), ", ".join("%s=..." % n for n in self.labelnames)))
        return self._solo

    def remove(self, *values: Any) -> None:
        """Forget the child for these label values (its series disappears from the next scrape)."""
        with self._lock:
            self._children.pop(tuple(str(v) for v in values), None)

    def collect(self) -> MetricFamily:
        """This metric's samples now, as the exposition renders them."""
        samples: List[Sample] = []
        children = [self._solo] if self._solo is not None else list(self._children.values())
        for child in children:
            labels = tuple(zip(self.labelnames, child.labelvalues))
            samples.extend(self._samples(child, labels, child.cells.snapshot()))
        return MetricFamily(self.name, self.type, self.documentation, samples)

    def __repr__(self) -> str:
        return "<%s %s%s>" % (type(self).__name__, self.name, list(self.labelnames) if self.labelnames else "")


def _names(names: Sequence[str]) -> str:
    return "(" + ", ".join(names) + ")"


class Counter(_Metric):
    """A value that only goes up. Registered under ``jobs_total`` or ``jobs``: either way the family is
    ``jobs`` and the sample ``jobs_total`` (the OpenMetrics rule, as prometheus_client does).

    Example::

        jobs = metrics.counter("jobs_total", "Jobs run.", ["queue"])
        jobs.inc(queue="mail")
        jobs.labels("mail").inc(2)
    """
    type = "counter"
    _child_class = _CounterChild

    @staticmethod
    def sample_names(name: str) -> List[str]:
        return [name, name + "_total"]

    def _keys(self, labelvalues: Tuple[str, ...]) -> List[str]:
        return [make_key(self.name, self.name + "_total", self.labelnames, labelvalues, self.documentation)]

    def _samples(self, child: Any, labels: Tuple[Tuple[str, str], ...], values: List[float]) -> List[Sample]:
        return [(self.name + "_total", labels, values[0])]

    def inc(self, amount: float = 1.0, **labels: Any) -> None:
        """Add ``amount`` (not negative) to the series named by ``labels``."""
        # PERF: the child's work done here, one call less on the common unlabelled path.
        child = self._solo if not labels else self.labels(**labels)
        if child is None:
            child = self._one(labels)
        if amount < 0:
            raise MetricError("a counter only goes up: inc(%r) refused; use a gauge for values that go down" % amount)
        child.cells.add(0, amount)


class Gauge(_Metric):
    """A value that goes up and down. ``multiprocess_mode`` says how workers' values combine:
    ``livesum`` (default: the sum over live workers), ``sum``, ``max``, ``min``, ``all`` and
    ``liveall`` (one series per worker, with a ``pid`` label).

    Example::

        queue = metrics.gauge("queue_depth", "Jobs waiting.")
        queue.set(12)
        queue.dec()
    """
    type = "gauge"
    _child_class = _GaugeChild

    def __init__(self, name: str, documentation: str, labelnames: Tuple[str, ...],
                 multiprocess_mode: str = "livesum") -> None:
        if multiprocess_mode not in GAUGE_MODES:
            raise MetricError("multiprocess_mode must be one of %s, not %r"
                              % (", ".join(GAUGE_MODES), multiprocess_mode))
        if multiprocess_mode in ("all", "liveall") and "pid" in labelnames:
            raise MetricError("label pid is added by multiprocess_mode=%r; name yours otherwise" % multiprocess_mode)
        self.multiprocess_mode = multiprocess_mode
        super().__init__(name, documentation, labelnames)

    def _file_kind(self) -> str:
        return "gauge_" + self.multiprocess_mode

    def inc(self, amount: float = 1.0, **labels: Any) -> None:
        """Add ``amount``."""
        child = self._solo if not labels else self.labels(**labels)
        if child is None:
            child = self._one(labels)
        child.cells.add(0, amount)

    def dec(self, amount: float = 1.0, **labels: Any) -> None:
        """Subtract ``amount``."""
        child = self._solo if not labels else self.labels(**labels)
        if child is None:
            child = self._one(labels)
        child.cells.add(0, -amount)

    def set(self, value: float, **labels: Any) -> None:
        """Set to ``value``."""
        self._one(labels).set(value)

    def set_to_current_time(self, **labels: Any) -> None:
        """Set to the Unix time now."""
        self._one(labels).set_to_current_time()

    def time(self, **labels: Any) -> _Timer:
        """Set to the duration of a block or call: ``with g.time():`` or ``@g.time()``."""
        return self._one(labels).time()

    def track_inprogress(self, **labels: Any) -> _InProgress:
        """Up by one while a block runs: ``with g.track_inprogress():``."""
        return self._one(labels).track_inprogress()


class Histogram(_Metric):
    """Observations counted in cumulative buckets (``le``), with their ``_sum`` and ``_count``.

    Example::

        latency = metrics.histogram("db_query_seconds", "Query time.", buckets=(0.001, 0.01, 0.1, 1))
        with latency.time():
            run_query()
    """
    type = "histogram"
    _reserved = ("le",)
    _child_class = _ObservingChild

    def __init__(self, name: str, documentation: str, labelnames: Tuple[str, ...],
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self.buckets = check_buckets(name, buckets)
        self._les = [_le(b) for b in self.buckets]
        super().__init__(name, documentation, labelnames)

    def _new_child(self, labelvalues: Tuple[str, ...]) -> Any:
        return _ObservingChild(self._make_cells(labelvalues), labelvalues, self.buckets)

    @staticmethod
    def sample_names(name: str) -> List[str]:
        return [name, name + "_bucket", name + "_sum", name + "_count"]

    def _keys(self, labelvalues: Tuple[str, ...]) -> List[str]:
        names, doc = self.labelnames + ("le",), self.documentation
        keys = [make_key(self.name, self.name + "_bucket", names, labelvalues + (le,), doc) for le in self._les]
        keys.append(make_key(self.name, self.name + "_sum", self.labelnames, labelvalues, doc))
        return keys

    def _samples(self, child: Any, labels: Tuple[Tuple[str, str], ...], values: List[float]) -> List[Sample]:
        out: List[Sample] = []
        total = 0.0
        for le, count in zip(self._les, values):
            total += count
            out.append((self.name + "_bucket", labels + (("le", le),), total))
        out.append((self.name + "_count", labels, total))
        out.append((self.name + "_sum", labels, values[-1]))
        return out

    def observe(self, amount: float, **labels: Any) -> None:
        """Count ``amount`` in its bucket and add it to the sum."""
        self._one(labels).observe(amount)

    def time(self, **labels: Any) -> _Timer:
        """Observe the duration of a block or call: ``with h.time():`` or ``@h.time()`` (sync or async)."""
        return self._one(labels).time()


class Summary(_Metric):
    """Observations as a ``_count`` and a ``_sum`` (no quantiles, as prometheus_client: quantiles over
    workers cannot be added up; use a histogram and ``histogram_quantile()`` for those).

    Example::

        sizes = metrics.summary("upload_bytes", "Upload sizes.")
        sizes.observe(2048)
    """
    type = "summary"
    _reserved = ("quantile",)
    _child_class = _ObservingChild

    def _new_child(self, labelvalues: Tuple[str, ...]) -> Any:
        return _ObservingChild(self._make_cells(labelvalues), labelvalues, ())

    @staticmethod
    def sample_names(name: str) -> List[str]:
        return [name, name + "_sum", name + "_count"]

    def _keys(self, labelvalues: Tuple[str, ...]) -> List[str]:
        doc = self.documentation
        return [make_key(self.name, self.name + "_count", self.labelnames, labelvalues, doc),
                make_key(self.name, self.name + "_sum", self.labelnames, labelvalues, doc)]

    def _samples(self, child: Any, labels: Tuple[Tuple[str, str], ...], values: List[float]) -> List[Sample]:
        return [(self.name + "_count", labels, values[0]), (self.name + "_sum", labels, values[1])]

    def observe(self, amount: float, **labels: Any) -> None:
        """Add one observation of ``amount``."""
        self._one(labels).observe(amount)

    def time(self, **labels: Any) -> _Timer:
        """Observe the duration of a block or call: ``with s.time():`` or ``@s.time()`` (sync or async)."""
        return self._one(labels).time()


def _le(bound: float) -> str:
    # The bucket label as both formats spell a float: "+Inf", "0.005", "1.0".
    return "+Inf" if bound == math.inf else repr(float(bound))


def check_buckets(name: str, buckets: Sequence[float]) -> Tuple[float, ...]:
    """The bucket bounds of histogram ``name`` as floats, ``+Inf`` added; MetricError if unusable."""
    try:
        bounds = [float(b) for b in buckets]
    except (TypeError, ValueError):
        raise MetricError("histogram %s: buckets must be numbers, got %r" % (name, buckets)) from None
    if any(b != b for b in bounds):
        raise MetricError("histogram %s: a bucket bound cannot be NaN" % name)
    if not bounds or bounds[-1] != math.inf:
        bounds.append(math.inf)  # the +Inf bucket is mandatory: it is the count
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise MetricError("histogram %s: buckets must increase strictly, got %r" % (name, list(buckets)))
    return tuple(bounds)


def _after_fork_in_child() -> None:
    # The parent's open files carry the parent's pid; a worker forked with COVET_METRICS_DIR
    # set writes its own files, starting from zero (the parent's counts are the parent's).
    forget_files()
    if directory() is None:
        return
    for metric in list(_ALL):
        metric._rebind()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
