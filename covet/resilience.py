"""Calls to other systems that may fail: ``retry``, ``CircuitBreaker`` and ``timeout``.

A downstream service that is slow or down should cost a request a bounded, predictable amount, and
should not be hammered while it recovers. The three pieces compose in that order, outermost first:
``retry`` (a transient failure is tried again, after a growing, jittered pause), ``CircuitBreaker``
(after repeated failures, calls fail at once for a while instead of waiting on a dead service)
and ``timeout`` (no single attempt waits longer than its budget).

Each works on sync and async callables, as a decorator or around one call. Both ``retry`` and
``CircuitBreaker`` can report to a metrics manager (anything with ``counter(name, documentation,
labelnames)`` and ``gauge(...)`` returning metrics with ``.labels(...)``, as
``covet.monitoring.MetricsManager`` does) under the names of the API reference's operations list:
``retry_attempts_total``, ``retry_exhausted_total``, ``retry_success_after_failure_total``,
``circuit_breaker_state`` (0 closed, 1 half-open, 2 open), ``circuit_breaker_failures_total`` and
``circuit_breaker_state_changes_total``.

Example::

    payments = CircuitBreaker(failure_threshold=5, recovery_timeout=30, name="payments")

    @retry(attempts=3, backoff=0.2, on=(ConnectionError, TimeoutError))
    @payments
    async def charge(order):
        async with timeout(2.0):
            return await payments_api.charge(order)
"""
import asyncio
import contextvars
import functools
import inspect
import random
import threading
import time
from typing import Any, Callable, Iterable, List, Optional, Tuple, Type, TypeVar, Union

__all__ = ["report_to", "retry", "Retry", "CircuitBreaker", "CircuitOpenError", "timeout", "TimeoutExpired", "CLOSED", "OPEN",
           "HALF_OPEN"]

F = TypeVar("F", bound=Callable[..., Any])
Exceptions = Union[Type[BaseException], Tuple[Type[BaseException], ...]]

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
#: the gauge's value per state, as the API reference's operations list numbers them
_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class CircuitOpenError(RuntimeError):
    """Raised instead of calling while a breaker is open (or its half-open trials are all taken).
    ``retry_after`` says in how many seconds it will let a trial call through."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__("circuit %r is open: calls fail at once for %.1f s more (the service failed repeatedly)"
                         % (name, max(retry_after, 0.0)))
        self.name = name
        self.retry_after = max(retry_after, 0.0)


# asyncio.TimeoutError is the builtin TimeoutError from 3.11; before, another class. Catching
# either catches this.
_TIMEOUT_BASES: Tuple[type, ...] = ((TimeoutError,) if asyncio.TimeoutError is TimeoutError
                                    else (TimeoutError, asyncio.TimeoutError))


class TimeoutExpired(*_TIMEOUT_BASES):  # type: ignore[misc]
    """What ``timeout`` raises: a ``TimeoutError`` (and ``asyncio.TimeoutError``) naming the budget."""


# -- where metrics go when none are given ----------------------------------------------------------

_default: List[Any] = [None]  # the manager of report_to(); None: not reported
_outermost: "contextvars.ContextVar[bool]" = contextvars.ContextVar("covet_external_call", default=False)


def report_to(manager: Any) -> None:
    """Record the metrics of every ``Retry`` and ``CircuitBreaker`` made without ``metrics=`` in
    ``manager``, and the external-service families of the calls they wrap (``app.enable_metrics()``
    calls this; None stops it).

    Example::

        report_to(app.enable_metrics())
    """
    _default[0] = manager
    _ServiceMetrics.cached = None


class _ServiceMetrics:
    """external_service_calls_total / _duration_seconds / _errors_total, by service."""

    cached: Optional["_ServiceMetrics"] = None

    def __init__(self, manager: Any) -> None:
        self.calls = manager.counter("external_service_calls_total", "Calls to a dependency, by service and outcome",
                                     ["service", "outcome"])
        self.duration = manager.histogram("external_service_duration_seconds", "Time calls to a dependency took",
                                          ["service"])
        self.errors = manager.counter("external_service_errors_total", "Failed calls to a dependency, by error",
                                      ["service", "error"])

    @classmethod
    def current(cls) -> Optional["_ServiceMetrics"]:
        manager = _default[0]
        if manager is None:
            return None
        found = cls.cached
        if found is None:
            found = cls.cached = _ServiceMetrics(manager)
        return found

    def record(self, service: str, elapsed: float, error: Optional[BaseException]) -> None:
        self.calls.labels(service, "success" if error is None else "failure").inc()
        self.duration.labels(service).observe(elapsed)
        if error is not None:
            self.errors.labels(service, type(error).__name__).inc()


def _service_call(service: str) -> Any:
    """(metrics, start, token) when this is the outermost wrapped call and metrics are on, else None."""
    metrics = _ServiceMetrics.current()
    if metrics is None or _outermost.get():
        return None
    return metrics, time.perf_counter(), _outermost.set(True)


def _service_done(started: Any, service: str, error: Optional[BaseException]) -> None:
    if started is not None:
        metrics, start, token = started
        _outermost.reset(token)
        metrics.record(service, time.perf_counter() - start, error)


# -- retry ----------------------------------------------------------------------------------------

class Retry:
    """The policy behind :func:`retry`: also usable directly, ``await policy.call_async(fn, ...)``."""

    def __init__(self, attempts: int = 3, backoff: float = 0.1, max_backoff: float = 10.0, jitter: bool = True,
                 on: Exceptions = (Exception,), giveup: Exceptions = (CircuitOpenError,),
                 name: Optional[str] = None, metrics: Any = None, rng: Optional[random.Random] = None) -> None:
        if type(attempts) is not int or attempts < 1:
            raise ValueError("attempts must be a whole number of at least 1, not %r" % (attempts,))
        if backoff < 0 or max_backoff < 0:
            raise ValueError("backoff and max_backoff are seconds, 0 or more")
        self.attempts = attempts
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.jitter = jitter
        self.on = on if isinstance(on, tuple) else (on,)
        self.giveup = giveup if isinstance(giveup, tuple) else (giveup,)
        self.name = name
        self._random = rng or random.Random()
        self._metrics = _RetryMetrics(metrics) if metrics is not None else None

    def delay(self, failures: int) -> float:
        """The pause after the ``failures``-th failure: ``backoff * 2**(failures-1)``, at most
        ``max_backoff``; with jitter a uniform draw below it ("full jitter": callers that failed
        together do not come back together)."""
        ceiling = min(self.max_backoff, self.backoff * (2 ** (failures - 1)))
        return self._random.uniform(0, ceiling) if self.jitter else ceiling

    def _retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, self.on) and not isinstance(exc, self.giveup)

    def _operation(self, fn: Callable[..., Any]) -> str:
        return self.name or getattr(fn, "__qualname__", None) or repr(fn)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, tried up to ``attempts`` times; the last error is raised."""
        operation = self._operation(fn)
        started = _service_call(operation)
        try:
            result = self._call(operation, fn, *args, **kwargs)
        except BaseException as exc:
            _service_done(started, operation, exc)
            raise
        _service_done(started, operation, None)
        return result

    def _call(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                if not self._retryable(exc) or attempt == self.attempts:
                    self._record(operation, attempt, "exhausted" if self._retryable(exc) else "failed")
                    raise
                self._record(operation, attempt, "retry")
                time.sleep(self.delay(attempt))
            else:
                self._record(operation, attempt, "success")
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def call_async(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``await fn(*args, **kwargs)``, as :meth:`call`; the pauses are ``asyncio.sleep``."""
        operation = self._operation(fn)
        started = _service_call(operation)
        try:
            result = await self._call_async(operation, fn, *args, **kwargs)
        except BaseException as exc:
            _service_done(started, operation, exc)
            raise
        _service_done(started, operation, None)
        return result

    async def _call_async(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                if not self._retryable(exc) or attempt == self.attempts:
                    self._record(operation, attempt, "exhausted" if self._retryable(exc) else "failed")
                    raise
                self._record(operation, attempt, "retry")
                await asyncio.sleep(self.delay(attempt))
            else:
                self._record(operation, attempt, "success")
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _record(self, operation: str, attempt: int, outcome: str) -> None:
        # outcome: "retry" (failed, tried again), "success", "exhausted" (failed every attempt) or
        # "failed" (an error retry does not handle)
        metrics = self._metrics
        if metrics is None and _default[0] is not None:
            metrics = _RetryMetrics.of(_default[0])
        if metrics is not None:
            metrics.record(operation, attempt, outcome)

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(fn, *args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)
        return wrapper  # type: ignore[return-value]


def retry(attempts: int = 3, backoff: float = 0.1, max_backoff: float = 10.0, jitter: bool = True,
          on: Exceptions = (Exception,), giveup: Exceptions = (CircuitOpenError,), name: Optional[str] = None,
          metrics: Any = None) -> Retry:
    """A decorator (sync or async) that calls again after a failure of a kind in ``on``.

    Only exceptions (``Exception`` subclasses) in ``on`` are retried; cancellation and
    ``KeyboardInterrupt`` never are, nor ``giveup`` (by default an open circuit: retrying it
    would only wait). After the last attempt the last error is raised as it was.

    Example::

        @retry(attempts=4, backoff=0.5, on=(ConnectionError,))
        def fetch_rates():
            return client.get("/rates")
    """
    return Retry(attempts, backoff, max_backoff, jitter, on, giveup, name, metrics)


class _RetryMetrics:
    _last: Tuple[Any, Any] = (None, None)  # (manager, its _RetryMetrics): report_to()'s, made once

    @classmethod
    def of(cls, manager: Any) -> "_RetryMetrics":
        last = cls._last
        if last[0] is not manager:
            last = cls._last = (manager, cls(manager))
        return last[1]  # type: ignore[no-any-return]

    def __init__(self, manager: Any) -> None:
        self.attempts = manager.counter("retry_attempts_total", "Calls made, first attempts and retries",
                                        ["operation"])
        self.exhausted = manager.counter("retry_exhausted_total", "Operations that failed after every attempt",
                                         ["operation"])
        self.recovered = manager.counter("retry_success_after_failure_total",
                                         "Operations that succeeded after failing first", ["operation"])

    def record(self, operation: str, attempt: int, outcome: str) -> None:
        self.attempts.labels(operation=operation).inc()
        if outcome == "exhausted":
            self.exhausted.labels(operation=operation).inc()
        elif outcome == "success" and attempt > 1:
            self.recovered.labels(operation=operation).inc()


# -- the circuit breaker --------------------------------------------------------------------------

class CircuitBreaker:
    """Fail fast while a dependency is down.

    *Closed*: calls go through; ``failure_threshold`` failures in a row (of the kinds in
    ``expected_exceptions``) open it. *Open*: every call raises :class:`CircuitOpenError` at once,
    for ``recovery_timeout`` seconds. *Half-open*: then up to ``half_open_max_calls`` trial calls
    go through at a time; as many successes close it, one failure opens it again. A success while
    closed resets the count. Safe to share between threads and tasks.

    Example::

        breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=10, name="search")

        @breaker
        async def search(q):
            return await search_api.get(q)
    """

    def __init__(self, failure_threshold: int = 5, recovery_timeout: float = 30.0, half_open_max_calls: int = 1,
                 expected_exceptions: Exceptions = (Exception,), name: str = "default", metrics: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if type(failure_threshold) is not int or failure_threshold < 1:
            raise ValueError("failure_threshold must be a whole number of at least 1")
        if type(half_open_max_calls) is not int or half_open_max_calls < 1:
            raise ValueError("half_open_max_calls must be a whole number of at least 1")
        if recovery_timeout < 0:
            raise ValueError("recovery_timeout is seconds, 0 or more")
        self.failure_threshold = failure_threshold
        self.recovery_timeout = float(recovery_timeout)
        self.half_open_max_calls = half_open_max_calls
        self.expected_exceptions = (expected_exceptions if isinstance(expected_exceptions, tuple)
                                    else (expected_exceptions,))
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0          # in a row, while closed
        self._opened_at = 0.0
        self._trials = 0            # half-open calls running
        self._successes = 0         # half-open calls that succeeded
        self.failures_total = 0
        self.state_changes_total = 0
        self._listeners: List[Callable[[str, str], None]] = []
        self._metrics = _BreakerMetrics(metrics, name) if metrics is not None else None
        self._own_metrics = metrics is not None

    def _reporting(self) -> Optional["_BreakerMetrics"]:
        # Without metrics=, the manager of report_to() (app.enable_metrics()), from when it is set.
        if not self._own_metrics:
            manager = _default[0]
            current = self._metrics
            if manager is None:
                self._metrics = None
            elif current is None or current.manager is not manager:
                self._metrics = _BreakerMetrics(manager, self.name, _STATE_VALUE[self._state])
        return self._metrics

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (an open breaker whose timeout has passed
        reads as half-open: the next call is a trial)."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.recovery_timeout:
                return HALF_OPEN
            return self._state

    def on_state_change(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(old, new)`` on every change of state (under the breaker's lock: keep it quick)."""
        self._listeners.append(listener)

    def _set(self, state: str) -> None:
        # Under self._lock.
        old, self._state = self._state, state
        if old == state:
            return
        self.state_changes_total += 1
        metrics = self._reporting()
        if metrics is not None:
            metrics.changed(old, state)
        for listener in self._listeners:
            listener(old, state)

    def _before(self) -> bool:
        """Let a call through (True for a half-open trial) or raise CircuitOpenError."""
        with self._lock:
            if self._state == OPEN:
                waited = self._clock() - self._opened_at
                if waited < self.recovery_timeout:
                    raise CircuitOpenError(self.name, self.recovery_timeout - waited)
                self._set(HALF_OPEN)
                self._trials = self._successes = 0
            if self._state == HALF_OPEN:
                if self._trials >= self.half_open_max_calls:
                    raise CircuitOpenError(self.name, 0.0)
                self._trials += 1
                return True
            return False

    def _after(self, trial: bool, error: Optional[BaseException]) -> None:
        counted = error is not None and isinstance(error, self.expected_exceptions)
        with self._lock:
            if trial and self._state == HALF_OPEN:
                self._trials -= 1
            if counted:
                self.failures_total += 1
                metrics = self._reporting()
                if metrics is not None:
                    metrics.failed()
                if self._state == HALF_OPEN or (self._state == CLOSED and self._failures + 1 >= self.failure_threshold):
                    self._failures = 0
                    self._opened_at = self._clock()
                    self._set(OPEN)
                elif self._state == CLOSED:
                    self._failures += 1
            elif error is None:
                if self._state == HALF_OPEN and trial:
                    self._successes += 1
                    if self._successes >= self.half_open_max_calls:
                        self._failures = 0
                        self._set(CLOSED)
                elif self._state == CLOSED:
                    self._failures = 0
            # an exception not in expected_exceptions (a caller's mistake, a cancellation) counts
            # neither way

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` through the breaker."""
        started = _service_call(self.name)
        try:
            trial = self._before()
        except BaseException as exc:
            _service_done(started, self.name, exc)
            raise
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._after(trial, exc)
            _service_done(started, self.name, exc)
            raise
        self._after(trial, None)
        _service_done(started, self.name, None)
        return result

    async def call_async(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``await fn(*args, **kwargs)`` through the breaker."""
        started = _service_call(self.name)
        try:
            trial = self._before()
        except BaseException as exc:
            _service_done(started, self.name, exc)
            raise
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._after(trial, exc)
            _service_done(started, self.name, exc)
            raise
        self._after(trial, None)
        _service_done(started, self.name, None)
        return result

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(fn, *args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)
        return wrapper  # type: ignore[return-value]

    def reset(self) -> None:
        """Close the breaker now (an operator knows the service is back)."""
        with self._lock:
            self._failures = self._trials = self._successes = 0
            self._set(CLOSED)

    def __repr__(self) -> str:
        return "<CircuitBreaker %r %s>" % (self.name, self.state)


class _BreakerMetrics:
    def __init__(self, manager: Any, name: str, state: int = 0) -> None:
        self.manager = manager
        self.name = name
        self.state = manager.gauge("circuit_breaker_state", "0 closed, 1 half-open, 2 open", ["name"])
        self.failures = manager.counter("circuit_breaker_failures_total", "Failures counted by the breaker",
                                        ["name"])
        self.changes = manager.counter("circuit_breaker_state_changes_total", "Changes of state",
                                       ["name", "from_state", "to_state"])
        self.state.labels(name=name).set(state)

    def changed(self, old: str, new: str) -> None:
        self.state.labels(name=self.name).set(_STATE_VALUE[new])
        self.changes.labels(name=self.name, from_state=old, to_state=new).inc()

    def failed(self) -> None:
        self.failures.labels(name=self.name).inc()


# -- timeout --------------------------------------------------------------------------------------

class timeout:  # noqa: N801  a context manager used like a function, as asyncio.timeout
    """``async with timeout(2.0):`` the block is cancelled after that many seconds and
    :class:`TimeoutExpired` raised (a ``TimeoutError``); as a decorator, ``@timeout(2.0)`` bounds
    each call of an async function. ``None`` means no limit. A cancellation from outside the
    block is never mistaken for the timeout: it goes on as a cancellation.

    Example::

        async with timeout(0.5):
            rates = await fetch_rates()
    """

    def __init__(self, seconds: Optional[float]) -> None:
        if seconds is not None and seconds < 0:
            raise ValueError("a timeout is seconds, 0 or more (or None for none)")
        self.seconds = seconds
        self.expired = False
        self._task: "Optional[asyncio.Task[Any]]" = None
        self._handle: Optional[asyncio.TimerHandle] = None

    def __call__(self, fn: F) -> F:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError("@timeout bounds async functions; a blocking call cannot be interrupted safely")
        seconds = self.seconds

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            async with timeout(seconds):
                return await fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    async def __aenter__(self) -> "timeout":
        if self.seconds is not None:
            task = asyncio.current_task()
            if task is None:
                raise RuntimeError("timeout() is used inside a task")
            self._task = task
            self._handle = asyncio.get_running_loop().call_later(self.seconds, self._expire)
        return self

    def _expire(self) -> None:
        self.expired = True
        self._task.cancel()  # type: ignore[union-attr]

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self.expired and exc_type is asyncio.CancelledError:
            uncancel = getattr(self._task, "uncancel", None)
            if uncancel is not None and uncancel() > 0:
                return None  # cancelled from outside as well: that cancellation goes on (3.11+)
            raise TimeoutExpired("timed out after %s s" % _seconds(self.seconds)) from None
        return None


def _seconds(value: Optional[float]) -> str:
    return ("%g" % value) if value is not None else "no limit"
