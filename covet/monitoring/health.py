"""Health checks: ``HealthChecker`` and the ``/health``, ``/health/live`` and ``/health/ready`` routes.

A check is a function, sync or async, that returns ``{"status": "healthy"|"unhealthy", ...}``
(or True/False, or None for healthy) or raises. Every probe runs its checks concurrently, each
under its own timeout; a sync check runs in a thread of its own so that a stuck driver cannot
stall the event loop. The three routes follow the Kubernetes probe model
(https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/):
liveness runs no check at all, readiness looks at the critical checks and turns 503 while the
app drains for a graceful shutdown, and ``/health`` reports everything with details and timings.
"""
import asyncio
import concurrent.futures
import inspect
import json
import math
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, TypeVar

from .._probes import HEALTH_CHECK
from ..core._chain import is_async_callable
from ..core.requests import Request
from ..core.responses import JSONResponse
from ..core.routing import Router

__all__ = ["HealthChecker", "CheckResult", "HealthReport", "DEFAULT_TIMEOUT", "MAX_ERROR_LENGTH"]

CheckT = TypeVar("CheckT", bound=Callable[..., Any])

#: Seconds a check may take unless ``check(..., timeout=)`` says otherwise. A probe answers within
#: the longest timeout of its checks; give the probe's own ``timeoutSeconds`` (Kubernetes' default
#: is 1 s) more than that, or the kubelet gives up before the body says which check was slow.
DEFAULT_TIMEOUT = 2.0

#: An exception message in a health body is cut to this many characters: the body is for an
#: operator's eye and a load balancer's status check, not for a dump of whatever a driver said.
MAX_ERROR_LENGTH = 200

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"

# RFC 9111 §5.2.2.5: a cached probe answer would hide the instance's present state.
_HEADERS = {"Cache-Control": "no-store"}


class CheckResult(NamedTuple):
    """The outcome of one check in one probe."""

    name: str
    status: str                 # "healthy" or "unhealthy"
    critical: bool
    duration_ms: float
    details: Dict[str, Any]     # what the check returned besides its status, or {"error": ...}

    def as_json(self) -> Dict[str, Any]:
        """The check's entry in a health body: details, then status, critical and duration_ms."""
        body = dict(self.details)
        body.update(status=self.status, critical=self.critical, duration_ms=self.duration_ms)
        return body


class HealthReport(NamedTuple):
    """The outcome of one probe: every result, in registration order."""

    results: List[CheckResult]
    duration_ms: float

    @property
    def failing_critical(self) -> List[str]:
        """Names of the critical checks that failed, in registration order."""
        return [r.name for r in self.results if r.critical and r.status != HEALTHY]

    @property
    def status(self) -> str:
        """``healthy``; ``degraded`` when only non-critical checks failed; ``unhealthy`` otherwise."""
        if self.failing_critical:
            return UNHEALTHY
        if any(r.status != HEALTHY for r in self.results):
            return "degraded"
        return HEALTHY


class _Check:
    """A registered check, and for a sync one, its call still running in a thread (if any)."""

    __slots__ = ("name", "fn", "critical", "timeout", "is_async", "lock", "pending")

    def __init__(self, name: str, fn: Callable[[], Any], critical: bool, timeout: float) -> None:
        self.name = name
        self.fn = fn
        self.critical = critical
        self.timeout = timeout
        self.is_async = is_async_callable(fn)
        self.lock = threading.Lock()
        self.pending: Optional["concurrent.futures.Future[Any]"] = None

    def start_in_thread(self) -> "concurrent.futures.Future[Any]":
        """The running call of this sync check, started if none is.

        One call at a time: a probe that comes while an earlier call still runs (it may have
        timed out and be stuck in a driver) waits for that call, so a hung check holds one
        thread, not one per probe. The thread is a daemon: a stuck check must not hold the
        process at exit, as a ``ThreadPoolExecutor`` worker would (it is joined at exit).
        """
        with self.lock:
            future = self.pending
            if future is None or future.done():
                future = self.pending = concurrent.futures.Future()
                # Running from the start: a probe that gives up cancels its own wait, and must not
                # cancel the call that another probe is waiting for.
                future.set_running_or_notify_cancel()
                threading.Thread(target=_call_into, args=(self.fn, future), daemon=True,
                                 name="covet-health-%s" % self.name).start()
            return future


def _call_into(fn: Callable[[], Any], future: "concurrent.futures.Future[Any]") -> None:
    try:
        result = fn()
    except BaseException as exc:  # handed to the probe, which reports it
        future.set_exception(exc)
    else:
        future.set_result(result)


def _check_timeout(timeout: Any) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds, got %r" % (timeout,))
    timeout = float(timeout)
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError("timeout must be a positive finite number of seconds, got %r" % (timeout,))
    return timeout


def _error(exc: BaseException) -> str:
    # Class and message only: a traceback in a probe body would show code paths to whoever can
    # reach /health (CWE-209).
    text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    if len(text) > MAX_ERROR_LENGTH:
        text = text[:MAX_ERROR_LENGTH - 3] + "..."
    return text


def _jsonable(details: Dict[str, Any]) -> Dict[str, Any]:
    """``details`` if it encodes as JSON; else the same with unknown values as their ``str``."""
    try:
        json.dumps(details)
        return details
    except (TypeError, ValueError):
        try:
            return json.loads(json.dumps(details, default=str))
        except (TypeError, ValueError) as exc:  # keys that are not strings, circular values
            return {"error": "details not JSON-encodable: %s" % _error(exc)}


def _outcome(value: Any) -> Tuple[str, Dict[str, Any]]:
    """A check's return value as (status, details); anything unexpected is unhealthy."""
    if value is None or value is True:
        return HEALTHY, {}
    if value is False:
        return UNHEALTHY, {}
    if isinstance(value, dict):
        details = {k: v for k, v in value.items() if k != "status"}
        status = value.get("status")
        if status in (HEALTHY, UNHEALTHY):
            return status, _jsonable(details)
        # Fail closed: a check that says "ok" or forgets its status is not taken as healthy.
        details["error"] = ('returned status %r; a check returns "healthy" or "unhealthy"' % (status,)
                            if "status" in value else 'returned a dict without "status"')
        return UNHEALTHY, _jsonable(details)
    return UNHEALTHY, {"error": "returned %s; a check returns a dict, True/False or None"
                                % type(value).__name__}


class HealthChecker:
    """Health checks and the routes that report them.

    :param timeout: the default per-check timeout in seconds (``DEFAULT_TIMEOUT``).

    ``app.include_router(health.router, prefix="/health")`` serves:

    - ``GET /health``: every check, concurrently; 200 unless a critical check fails (503);
    - ``GET /health/live``: 200 while the process answers; runs no check;
    - ``GET /health/ready``: the critical checks; 503 with the failing ones listed, and 503
      without running any while the app drains for a graceful shutdown.

    Example::

        health = HealthChecker()

        @health.check("database", critical=True, timeout=2.0)
        async def check_database():
            await db.execute("SELECT 1")
            return {"status": "healthy"}

        health.add_redis(redis)                 # PING
        app.include_router(health.router, prefix="/health")
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = _check_timeout(timeout)
        self._checks: List[_Check] = []
        self._router: Optional[Router] = None

    @property
    def names(self) -> List[str]:
        """The registered checks' names, in registration order."""
        return [c.name for c in self._checks]

    def add_check(self, name: str, fn: Callable[[], Any], critical: bool = True,
                  timeout: Optional[float] = None) -> None:
        """Register ``fn`` (sync or async, no arguments) as the check ``name``.

        :param critical: whether its failure makes ``/health`` and ``/health/ready`` answer 503
            (a non-critical failure shows as ``degraded`` with 200).
        :param timeout: seconds before it counts as failed (default: the checker's).

        Example::

            health.add_check("disk", lambda: shutil.disk_usage("/").free > 1 << 30, critical=False)
        """
        if not isinstance(name, str) or not name or not name.isprintable():
            raise ValueError("a check's name is a non-empty printable string, got %r" % (name,))
        if any(c.name == name for c in self._checks):
            raise ValueError("a check named %r is registered already" % name)
        if not callable(fn):
            raise TypeError("check %r: expected a function, got %r" % (name, fn))
        if not isinstance(critical, bool):
            raise TypeError("critical must be True or False, got %r" % (critical,))
        self._checks.append(_Check(name, fn, critical, self.timeout if timeout is None else _check_timeout(timeout)))

    def check(self, name: str, critical: bool = True, timeout: Optional[float] = None) -> Callable[[CheckT], CheckT]:
        """Decorator form of ``add_check``; returns the function unchanged.

        Example::

            @health.check("queue", critical=False, timeout=0.5)
            def check_queue():
                return {"status": "healthy", "depth": queue.qsize()}
        """
        def decorator(fn: CheckT) -> CheckT:
            self.add_check(name, fn, critical, timeout)
            return fn
        return decorator

    # -- ready-made checks ---------------------------------------------------------------
    def add_database(self, db: Any, name: str = "database", critical: bool = True,
                     timeout: Optional[float] = None) -> None:
        """A check that runs ``SELECT 1`` through ``db.fetch_val`` (``covet.database.DatabaseManager``
        or any object with that coroutine method).

        Example::

            health.add_database(DatabaseManager("sqlite:///app.db"))
        """
        own = getattr(db, "health_check", None)
        if callable(own):  # DatabaseManager's own check
            self.add_check(name, own, critical, timeout)
            return
        fetch_val = getattr(db, "fetch_val", None)
        if not callable(fetch_val):
            raise TypeError("add_database takes a covet.database.DatabaseManager (an object with "
                            "async fetch_val), got %r" % (db,))

        async def check_database() -> Dict[str, Any]:
            value = await fetch_val("SELECT 1")
            if value != 1:
                return {"status": UNHEALTHY, "error": "SELECT 1 returned %r" % (value,)}
            return {"status": HEALTHY}
        self.add_check(name, check_database, critical, timeout)

    def add_redis(self, redis: Any, name: str = "redis", critical: bool = True,
                  timeout: Optional[float] = None) -> None:
        """A check that sends ``PING`` with ``covet.redis.Redis`` (any object whose ``ping()``
        returns an awaitable of True). For ``BlockingRedis`` register a plain ``def`` check.

        Example::

            health.add_redis(Redis.from_url("redis://localhost:6379"))
        """
        own = getattr(redis, "health_check", None)
        if callable(own):  # covet.redis.Redis's own check
            self.add_check(name, own, critical, timeout)
            return
        ping = getattr(redis, "ping", None)
        if not callable(ping):
            raise TypeError("add_redis takes a covet.redis.Redis (an object with ping()), got %r" % (redis,))

        async def check_redis() -> Dict[str, Any]:
            answer = ping()
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is not True:
                return {"status": UNHEALTHY, "error": "PING answered %r" % (answer,)}
            return {"status": HEALTHY}
        self.add_check(name, check_redis, critical, timeout)

    def add_cache(self, cache: Any, name: str = "cache", critical: bool = False,
                  timeout: Optional[float] = None) -> None:
        """The cache's own ``health_check``: it stores a random value under a fresh key, reads it
        back and deletes it (``covet.cache`` ``Cache``, ``CacheManager``).

        Not critical by default: an app with a cache in front of its database still serves,
        only slower, when the cache is down.

        Example::

            health.add_cache(CacheManager("redis://localhost:6379"))
        """
        own = getattr(cache, "health_check", None)
        if not callable(own):
            raise TypeError("add_cache takes a covet.cache Cache or CacheManager (an object with async "
                            "health_check), got %r" % (cache,))
        self.add_check(name, own, critical, timeout)

    # -- running -------------------------------------------------------------------------
    async def run(self, critical_only: bool = False) -> HealthReport:
        """Run the checks (or only the critical ones) concurrently; never raises for a check.

        Example::

            report = await health.run()
            report.status, report.failing_critical
        """
        start = time.perf_counter()
        checks = [c for c in self._checks if c.critical or not critical_only]
        results = await asyncio.gather(*(self._run_one(c) for c in checks))
        return HealthReport(list(results), _ms(start))

    async def _run_one(self, check: _Check) -> CheckResult:
        start = time.perf_counter()
        task = asyncio.ensure_future(self._call(check))
        try:
            done, _ = await asyncio.wait({task}, timeout=check.timeout)
        except asyncio.CancelledError:  # the probe itself was cancelled: so are its checks
            task.cancel()
            raise
        if not done:
            # Not awaited: a check that swallows its cancellation must not hold the probe.
            task.cancel()
            task.add_done_callback(_consume)
            status, details = UNHEALTHY, {"error": "timed out after %s s" % check.timeout}
        elif task.cancelled():
            status, details = UNHEALTHY, {"error": "cancelled"}
        elif task.exception() is not None:
            exc = task.exception()
            assert exc is not None
            status, details = UNHEALTHY, {"error": _error(exc)}
        else:
            status, details = _outcome(task.result())
        if HEALTH_CHECK.observers:  # health_check_status in the business metrics
            HEALTH_CHECK.emit(check.name, status == HEALTHY)
        return CheckResult(check.name, status, check.critical, _ms(start), details)

    async def _call(self, check: _Check) -> Any:
        if check.is_async:
            return await check.fn()
        result = await asyncio.wrap_future(check.start_in_thread())
        if inspect.isawaitable(result):  # lambda: db.fetch_val("SELECT 1")
            result = await result
        return result

    # -- routes --------------------------------------------------------------------------
    @property
    def router(self) -> Router:
        """The routes ``""``, ``/live`` and ``/ready``, for ``app.include_router(health.router,
        prefix="/health")``; built once."""
        if self._router is None:
            router = Router()
            router.add_route("", self._health, methods=["GET"], name="health", include_in_schema=False)
            router.add_route("/live", self._live, methods=["GET"], name="health_live", include_in_schema=False)
            router.add_route("/ready", self._ready, methods=["GET"], name="health_ready", include_in_schema=False)
            self._router = router
        return self._router

    async def _health(self) -> JSONResponse:
        report = await self.run()
        body = {"status": report.status, "duration_ms": report.duration_ms,
                "checks": {r.name: r.as_json() for r in report.results}}
        return JSONResponse(body, status_code=503 if report.failing_critical else 200, headers=_HEADERS)

    async def _live(self) -> JSONResponse:
        return JSONResponse({"status": "alive"}, headers=_HEADERS)

    async def _ready(self, request: Request) -> JSONResponse:
        app = request.app
        if getattr(app, "draining", False):
            return _not_ready("shutting down", [], {})
        report = await self.run(critical_only=True)
        checks = {r.name: r.as_json() for r in report.results}
        failing = report.failing_critical
        if getattr(app, "draining", False):  # the drain began while the checks ran
            return _not_ready("shutting down", failing, checks)
        if failing:
            return _not_ready("not ready", failing, checks)
        return JSONResponse({"status": "ready", "failing": [], "checks": checks}, headers=_HEADERS)

    def __repr__(self) -> str:
        return "<HealthChecker %s>" % ", ".join(self.names)


def _not_ready(status: str, failing: List[str], checks: Dict[str, Any]) -> JSONResponse:
    return JSONResponse({"status": status, "failing": failing, "checks": checks}, status_code=503,
                        headers=_HEADERS)


def _consume(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
