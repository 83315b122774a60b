"""The seed's business metrics: what covet's own parts record once metrics are on, and helpers for
the domain's own families.

``app.enable_metrics()`` makes a :class:`BusinessMetrics` beside the HTTP metrics. The HTTP
middleware hands it each request's outcome, so errors, sizes and slow requests cost a few
lookups per request. Slow database statements come through the database probe
(``covet._probes``). Process memory and CPU are read from ``/proc`` or ``resource`` at each
scrape.

Every label value is bounded: routes are templates (``/users/{id}``), error types come from a
fixed table, and the values a domain helper is given are folded into ``other`` once
``cardinality_limit`` distinct values have been seen. A client cannot create series at will.

Example::

    metrics = app.enable_metrics()
    business = app.state.business_metrics
    business.track_user_action("signup")
    business.track_records_processed("invoices", 250)
"""
import os
import threading
import time
from typing import Any, Dict, Optional, Sequence, Tuple

from .._probes import AUTH_ATTEMPT, DATABASE, HEALTH_CHECK, PERMISSION_CHECK, RATE_LIMIT, TOKEN_CHECK
from .registry import MetricsManager

__all__ = ["BusinessMetrics", "BoundedLabel", "SIZE_BUCKETS", "DEFAULT_CARDINALITY_LIMIT",
           "DEFAULT_SLOW_REQUEST", "DEFAULT_SLOW_QUERY", "OTHER", "error_type"]

#: Distinct values a helper's label keeps before it answers ``other``.
DEFAULT_CARDINALITY_LIMIT = 100
#: Seconds after which a request counts in ``slow_requests_total``.
DEFAULT_SLOW_REQUEST = 1.0
#: Seconds after which a database statement counts in ``slow_queries_total``.
DEFAULT_SLOW_QUERY = 0.5
OTHER = "other"
#: Request and response sizes, in bytes: 100 B to 10 MB.
SIZE_BUCKETS = (100.0, 1000.0, 10000.0, 100000.0, 1000000.0, 10000000.0, float("inf"))

# The error types of errors_total: a fixed table, so the label has these values and no others.
_ERROR_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                408: "timeout", 409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "validation",
                429: "rate_limited", 500: "server_error", 502: "bad_gateway", 503: "unavailable", 504: "timeout"}


def error_type(status: int, exception: bool = False) -> str:
    """The ``type`` label of ``errors_total`` for an answer with ``status``."""
    if exception:
        return "exception"
    found = _ERROR_TYPES.get(status)
    if found is not None:
        return found
    return "client_error" if status < 500 else "server_error"


class BoundedLabel:
    """Label values as given until ``limit`` distinct ones have been seen; ``other`` after that.

    Example::

        actions = BoundedLabel(100)
        actions("signup")   # "signup"; the 101st distinct value and later ones: "other"
    """

    __slots__ = ("limit", "_seen", "_lock")

    def __init__(self, limit: int = DEFAULT_CARDINALITY_LIMIT) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("a cardinality limit is a positive integer, got %r" % (limit,))
        self.limit = limit
        self._seen: Dict[str, None] = {}
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        text = value if isinstance(value, str) else str(value)
        if text in self._seen:
            return text
        with self._lock:
            if text in self._seen:
                return text
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen[text] = None
        return text

    def __len__(self) -> int:
        return len(self._seen)


class BusinessMetrics:
    """The seed's families in ``manager``'s registry, recorded by covet's parts.

    :param slow_request: seconds after which a request is counted in ``slow_requests_total``.
    :param slow_query: seconds after which a database statement is counted in ``slow_queries_total``.
    :param cardinality_limit: distinct values each domain helper's label keeps before ``other``.
    """

    def __init__(self, manager: MetricsManager, slow_request: float = DEFAULT_SLOW_REQUEST,
                 slow_query: float = DEFAULT_SLOW_QUERY, cardinality_limit: int = DEFAULT_CARDINALITY_LIMIT) -> None:
        for name, value in (("slow_request", slow_request), ("slow_query", slow_query)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError("%s is seconds (> 0), got %r" % (name, value))
        self.slow_request = float(slow_request)
        self.slow_query = float(slow_query)
        m = manager
        self.errors = m.counter("errors_total", "Error answers, by type, route template and status.",
                                ["type", "route", "status"])
        self.validation_errors = m.counter("validation_errors_total", "Requests refused by input validation (422).",
                                           ["route"])
        self.unhandled = m.counter("exceptions_unhandled_total", "Exceptions no handler caught, by class.",
                                   ["exception"])
        self.request_size = m.histogram("api_request_size_bytes", "Request body sizes, by method and route template.",
                                        ["method", "route"], buckets=SIZE_BUCKETS)
        self.response_size = m.histogram("api_response_size_bytes",
                                         "Response body sizes, by method and route template.",
                                         ["method", "route"], buckets=SIZE_BUCKETS)
        self.slow_requests = m.counter("slow_requests_total", "Requests slower than the slow-request threshold.",
                                       ["method", "route"])
        self.slow_queries = m.counter("slow_queries_total", "Database statements slower than the threshold.",
                                      ["system", "operation"])
        self.user_actions = m.counter("user_actions_total", "Actions of users, by action.", ["action"])
        self.feature_usage = m.counter("feature_usage_total", "Uses of features, by feature.", ["feature"])
        self.records_processed = m.counter("records_processed_total", "Records processed, by kind.", ["kind"])
        self.memory = m.gauge("process_resident_memory_bytes", "Resident memory of the process.",
                              multiprocess_mode="liveall")
        self.cpu = m.gauge("process_cpu_seconds", "CPU time (user + system) used by the process.",
                           multiprocess_mode="liveall")
        self._actions = BoundedLabel(cardinality_limit)
        self._features = BoundedLabel(cardinality_limit)
        self._kinds = BoundedLabel(cardinality_limit)
        self._exceptions = BoundedLabel(cardinality_limit)
        self._operations = BoundedLabel(cardinality_limit)
        self.auth_attempts = m.counter("auth_attempts_total", "Password checks (login attempts), by result.",
                                       ["result"])
        self.token_validations = m.counter("auth_token_validations_total", "Bearer tokens checked, by result.",
                                           ["result"])
        self.permission_checks = m.counter("permission_checks_total", "Permission and role checks, by result.",
                                           ["result"])
        self.rate_limit_checks = m.counter("rate_limit_checks_total", "Requests counted against a rate limit.")
        self.rate_limit_hits = m.counter("rate_limit_hits_total", "Requests refused by a rate limit.")
        self.health = m.gauge("health_check_status", "1 when the health check passed at its last run, else 0.",
                              ["check"], multiprocess_mode="max")
        self.cache_hits = m.counter("cache_hits_total", "Cache lookups that found a value, by cache.", ["cache"])
        self.cache_misses = m.counter("cache_misses_total", "Cache lookups that found nothing, by cache.", ["cache"])
        self._checks = BoundedLabel(cardinality_limit)
        self._caches: Dict[str, Any] = {}
        self._cache_seen: Dict[str, Tuple[int, int]] = {}
        self._cache_lock = threading.Lock()
        attempts = {True: self.auth_attempts.labels("success"), False: self.auth_attempts.labels("failure")}
        tokens = {r: self.token_validations.labels(r) for r in ("valid", "missing", "expired", "invalid")}
        permissions = {True: self.permission_checks.labels("allowed"), False: self.permission_checks.labels("denied")}
        checks, hits = self.rate_limit_checks, self.rate_limit_hits

        def on_rate_limit(allowed: bool) -> None:
            checks.inc()
            if not allowed:
                hits.inc()
        self._stops = [DATABASE.add(self._on_statement), AUTH_ATTEMPT.add(lambda ok: attempts[bool(ok)].inc()),
                       TOKEN_CHECK.add(lambda result: tokens[result].inc()),
                       PERMISSION_CHECK.add(lambda allowed: permissions[bool(allowed)].inc()),
                       RATE_LIMIT.add(on_rate_limit),
                       HEALTH_CHECK.add(lambda name, ok: self.health.labels(self._checks(name)).set(1 if ok else 0))]

    # -- what covet's parts report ---------------------------------------------------------------
    def size_children(self, method: str, route: str) -> Tuple[Any, Any]:
        """The request-size and response-size series of one method and route (the HTTP metrics
        middleware finds them once per series and records the sizes itself, under its lock)."""
        return self.request_size.labels(method, route), self.response_size.labels(method, route)

    def request_done(self, method: str, route: str, status: int, elapsed: float,
                     exception: Optional[BaseException]) -> None:
        """A request that failed, raised or was slow (the HTTP metrics middleware calls this)."""
        if elapsed > self.slow_request:
            self.slow_requests.labels(method, route).inc()
        if status >= 400 or exception is not None:
            self.errors.labels(error_type(status, exception is not None), route, str(status)).inc()
            if status == 422:
                self.validation_errors.labels(route).inc()
            if exception is not None:
                self.unhandled.labels(self._exceptions(type(exception).__name__)).inc()

    def _on_statement(self, attributes: Dict[str, Any], statement: str) -> Any:
        start = time.perf_counter()

        def done(error: Optional[BaseException], outcome: Any) -> None:
            if time.perf_counter() - start > self.slow_query:
                word = statement.split(None, 1)[0].upper() if statement.strip() else ""
                self.slow_queries.labels(attributes.get("db.system.name", "unknown"), self._operations(word)).inc()
        return done

    def watch_cache(self, name: str, cache: Any) -> None:
        """Report ``cache``'s hits and misses (its ``stats()``) as ``cache_hits_total`` and
        ``cache_misses_total`` with ``cache=name``, read at each scrape. ``app.memory_cache`` and
        ``app.redis_cache`` are watched as ``memory`` and ``redis`` once made.

        Example::

            business.watch_cache("sessions", session_cache)
        """
        if not callable(getattr(cache, "stats", None)):
            raise TypeError("watch_cache takes a covet.cache cache (an object with stats()), got %r" % (cache,))
        with self._cache_lock:
            self._caches[str(name)] = cache

    def collect_caches(self) -> None:
        """Move each watched cache's hits and misses since the last scrape into the counters."""
        with self._cache_lock:
            caches = list(self._caches.items())
        for name, cache in caches:
            stats = cache.stats()
            hits, misses = stats.get("hits") or 0, stats.get("misses") or 0
            with self._cache_lock:
                last_hits, last_misses = self._cache_seen.get(name, (0, 0))
                self._cache_seen[name] = (hits, misses)
            # A cache that was cleared (counts back to 0) starts again from there.
            self.cache_hits.labels(name).inc(hits - last_hits if hits >= last_hits else hits)
            self.cache_misses.labels(name).inc(misses - last_misses if misses >= last_misses else misses)

    def collect_process(self) -> None:
        """Read the process's memory and CPU now (called before each scrape)."""
        import resource  # POSIX only; loaded with the first scrape

        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu.set(usage.ru_utime + usage.ru_stime)
        try:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            rss = usage.ru_maxrss * 1024  # Linux reports KiB; the peak, where /proc is missing
        self.memory.set(rss)

    # -- the domain's own families -----------------------------------------------------------------
    def track_user_action(self, action: str) -> None:
        """Count one ``action`` of a user (``"signup"``, ``"checkout"``)."""
        self.user_actions.labels(self._actions(action)).inc()

    def track_feature_usage(self, feature: str) -> None:
        """Count one use of ``feature``."""
        self.feature_usage.labels(self._features(feature)).inc()

    def track_records_processed(self, kind: str, count: int = 1) -> None:
        """Count ``count`` records of ``kind`` processed (a batch job's progress)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("count is a whole number, 0 or more, got %r" % (count,))
        self.records_processed.labels(self._kinds(kind)).inc(count)

    def close(self) -> None:
        """Stop observing covet's parts (database statements, security checks)."""
        for stop in self._stops:
            stop()


def families() -> Sequence[str]:
    """The names of the families :class:`BusinessMetrics` registers (for docs and tests)."""
    return ("errors_total", "validation_errors_total", "exceptions_unhandled_total", "api_request_size_bytes",
            "api_response_size_bytes", "slow_requests_total", "slow_queries_total", "user_actions_total",
            "feature_usage_total", "records_processed_total", "process_resident_memory_bytes", "process_cpu_seconds",
            "auth_attempts_total", "auth_token_validations_total", "permission_checks_total", "rate_limit_checks_total",
            "rate_limit_hits_total", "health_check_status", "cache_hits_total", "cache_misses_total")
