"""How values get into a cache: cache-aside with single-flight, refresh-ahead, write-through.

``SingleFlight`` runs a factory once for all concurrent misses of a key (threads and
coroutines alike) and, with ``refresh_after``, refreshes warm entries in the background.
``set_through``/``aset_through`` write to the store of record first, then to the cache.
Each works on any ``Backend``; ``Cache`` exposes them as methods. ``CacheStrategy`` names the
four strategies (write-behind lives in writebehind.py).
"""
import asyncio
import concurrent.futures
import enum
import inspect
import logging
import math
import threading
from typing import Any, Callable, Dict, Optional, Set, Tuple

from .backend import MISSING, Backend, check_ttl

__all__ = ["SingleFlight", "set_through", "aset_through", "check_refresh", "CacheStrategy", "REFRESH_AHEAD_FRACTION",
           "refresh_point", "check_strategy"]

logger = logging.getLogger("covet.cache")

# Refresh-ahead work started from plain-def code runs on this many threads.
REFRESH_THREADS = 2


#: ``get_with_refresh`` and ``CacheStrategy.REFRESH_AHEAD`` refresh an entry once it is this old, as a
#: fraction of its ttl: late enough that a hot key is fetched about once per ttl, early enough that
#: a slow fetch (up to a fifth of the ttl) ends before the entry expires.
REFRESH_AHEAD_FRACTION = 0.8


class CacheStrategy(enum.Enum):
    """The four ways values meet the store of record (docs/caching.md compares them).

    ``CACHE_ASIDE``: ``get_or_fetch`` (``get_or_set``): fetched on a miss, once per key at a time.
    ``REFRESH_AHEAD``: ``get_with_refresh``: also re-fetched in the background at 80 % of the ttl.
    ``WRITE_THROUGH``: ``set_write_through``: the store first, then the cache.
    ``WRITE_BEHIND``: ``set_write_behind``: the cache now, the store in the next batch.

    Example::

        @cached(key_prefix="config", ttl=3600, strategy=CacheStrategy.REFRESH_AHEAD)
        async def load_config(): ...
    """

    CACHE_ASIDE = "cache_aside"
    WRITE_THROUGH = "write_through"
    WRITE_BEHIND = "write_behind"
    REFRESH_AHEAD = "refresh_ahead"


def refresh_point(ttl: float) -> float:
    """Seconds after which refresh-ahead refreshes an entry of ``ttl`` seconds (80 % of it);
    ``ValueError`` for an entry that never expires.

    Example::

        refresh_point(300.0)   # 240.0
    """
    if ttl == math.inf:
        raise ValueError("refresh-ahead needs a finite ttl: an entry that never expires has no age to refresh at")
    return ttl * REFRESH_AHEAD_FRACTION


def check_strategy(strategy: Any, refresh_after: Any) -> bool:
    """True when a read decorator's ``strategy`` asks for refresh-ahead; ``TypeError`` for a write
    strategy (a decorator on a function that reads has no write to make) or anything else.

    Example::

        check_strategy(CacheStrategy.REFRESH_AHEAD, None)   # True
    """
    if strategy is None or strategy is CacheStrategy.CACHE_ASIDE:
        if strategy is CacheStrategy.CACHE_ASIDE and refresh_after is not None:
            raise ValueError("refresh_after is refresh-ahead: give strategy=CacheStrategy.REFRESH_AHEAD "
                             "or leave strategy out")
        return False
    if strategy is CacheStrategy.REFRESH_AHEAD:
        return True
    if isinstance(strategy, CacheStrategy):
        raise TypeError("%s is a strategy for writes (set_%s); a cached function only reads: use CACHE_ASIDE "
                        "or REFRESH_AHEAD" % (strategy, strategy.value))
    raise TypeError("strategy must be a CacheStrategy, got %r" % (strategy,))


def check_refresh(refresh_after: Any, ttl: float) -> float:
    """``refresh_after`` as seconds shorter than the finite ``ttl``, or ``ValueError``."""
    refresh_after = check_ttl(refresh_after, "refresh_after")
    if ttl == math.inf:
        raise ValueError("refresh_after needs a finite ttl: an entry that never expires has no age to refresh at")
    if not refresh_after < ttl:
        raise ValueError("refresh_after (%g s) must be shorter than the ttl (%g s)" % (refresh_after, ttl))
    return refresh_after


class Flight:
    """One factory run that concurrent misses of a key share."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        self.future: "concurrent.futures.Future[Any]" = concurrent.futures.Future()
        # RUNNING: a waiter's cancellation (via asyncio.wrap_future) cannot cancel it for the others.
        self.future.set_running_or_notify_cancel()
        self.loop = loop


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _refresh_failed(key: Any, exc: Exception) -> None:
    logger.warning("covet cache: refreshing %r failed; the cached value stays until it expires: %r", key, exc)


def _refuse_awaitable(value: Any, message: str) -> None:
    if inspect.isawaitable(value):
        close = getattr(value, "close", None)
        if close is not None:
            close()  # no "coroutine was never awaited" warning on top of the error
        raise TypeError(message)


class SingleFlight:
    """Cache-aside over ``backend``: the cached value, or the factory's, computed once per key at a time.

    :attr flights: key -> the ``Flight`` running now.

    Example::

        loader = SingleFlight(MemoryBackend())
        user = await loader.aget_or_set("user:1", load_user, ttl=60, refresh_after=None)
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.flights: Dict[Any, Flight] = {}
        self._lock = threading.Lock()
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._closed = False

    # -- the flight table ---------------------------------------------------------
    def join(self, key: Any, loop: Optional[asyncio.AbstractEventLoop]) -> Tuple[Flight, bool]:
        """The key's flight, and True when the caller is its leader (it must run the factory)."""
        with self._lock:
            flight = self.flights.get(key)
            if flight is not None:
                return flight, False
            flight = self.flights[key] = Flight(loop)
            return flight, True

    def _land(self, key: Any, flight: Flight) -> None:
        with self._lock:
            if self.flights.get(key) is flight:
                del self.flights[key]

    # -- plain -----------------------------------------------------------------------
    def get_or_set(self, key: Any, factory: Callable[[], Any], ttl: float, refresh_after: Optional[float]) -> Any:
        """The cached value, or ``factory()`` stored for ``ttl`` (seconds, already checked)."""
        backend = self.backend
        if refresh_after is None:
            value = backend.get(key, MISSING)
            if value is not MISSING:
                return value
        else:
            value, left = backend.get_with_ttl(key)
            if value is not MISSING:
                if ttl - left >= refresh_after:
                    self._refresh_in_thread(key, factory, ttl)
                return value
        flight, leader = self.join(key, None)
        if leader:
            # Checked again as leader: between this caller's miss and its join, another flight may
            # have stored the value and landed; running the factory again would store a second one.
            if refresh_after is None:
                value = backend.get(key, MISSING)
                if value is not MISSING:
                    self._land(key, flight)
                    flight.future.set_result(value)
                    return value
            return self._lead(key, factory, ttl, flight)
        if flight.loop is not None and flight.loop is _running_loop():
            # The leader is a coroutine on the loop this thread is blocking: waiting would deadlock.
            return self._compute(factory, key, ttl)
        return flight.future.result()

    def _compute(self, factory: Callable[[], Any], key: Any, ttl: float) -> Any:
        value = factory()
        _refuse_awaitable(value, "get_or_set() got an async factory for %r; use aget_or_set()" % (key,))
        self.backend.set(key, value, ttl)
        return value

    def _lead(self, key: Any, factory: Callable[[], Any], ttl: float, flight: Flight) -> Any:
        try:
            value = self._compute(factory, key, ttl)
        except BaseException as exc:
            self._land(key, flight)
            flight.future.set_exception(exc)
            raise
        self._land(key, flight)
        flight.future.set_result(value)
        return value

    def _refresh_in_thread(self, key: Any, factory: Callable[[], Any], ttl: float) -> None:
        flight, leader = self.join(key, None)
        if not leader:
            return
        with self._lock:
            if self._executor is None and not self._closed:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    REFRESH_THREADS, thread_name_prefix="covet-cache-refresh")
            executor = self._executor
        try:
            if executor is None:
                raise RuntimeError("cache closed")
            executor.submit(self._refresh_job, key, factory, ttl, flight)
        except RuntimeError:
            # Closed (or shutting down): refresh on the caller's thread instead.
            self._refresh_job(key, factory, ttl, flight)

    def _refresh_job(self, key: Any, factory: Callable[[], Any], ttl: float, flight: Flight) -> None:
        try:
            self._lead(key, factory, ttl, flight)
        except Exception as exc:
            _refresh_failed(key, exc)

    # -- coroutines ------------------------------------------------------------------
    async def aget_or_set(self, key: Any, factory: Callable[[], Any], ttl: float,
                          refresh_after: Optional[float]) -> Any:
        """Coroutine face of ``get_or_set``; ``factory`` may be async or plain.

        The factory runs in its own task, so a cancelled caller does not cancel it for the
        others waiting on the same key.
        """
        backend = self.backend
        if refresh_after is None:
            value = await backend.aget(key, MISSING)
            if value is not MISSING:
                return value
        else:
            value, left = await backend.aget_with_ttl(key)
            if value is not MISSING:
                if ttl - left >= refresh_after:
                    flight, leader = self.join(key, asyncio.get_running_loop())
                    if leader:
                        self._spawn(self._alead(key, factory, ttl, flight, background=True))
                return value
        flight, leader = self.join(key, asyncio.get_running_loop())
        if leader:
            self._spawn(self._alead(key, factory, ttl, flight, background=False, recheck=refresh_after is None))
        return await asyncio.wrap_future(flight.future)

    async def _alead(self, key: Any, factory: Callable[[], Any], ttl: float, flight: Flight,
                     background: bool, recheck: bool = False) -> None:
        try:
            if recheck:
                # Between the caller's miss and its join (an await on Redis, say), another flight
                # may have stored the value and landed: it is used, not computed a second time.
                value = await self.backend.aget(key, MISSING)
                if value is not MISSING:
                    self._land(key, flight)
                    flight.future.set_result(value)
                    return
            value = factory()
            if inspect.isawaitable(value):
                value = await value
            await self.backend.aset(key, value, ttl)
        except BaseException as exc:
            self._land(key, flight)
            flight.future.set_exception(exc)
            if background and isinstance(exc, Exception):
                _refresh_failed(key, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._land(key, flight)
        flight.future.set_result(value)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the background refreshes running now (tests use it instead of sleeping)."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Wait for refresh threads and stop them; later refreshes run on the caller's thread."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """``drain()``, then ``close()``."""
        await self.drain()
        self.close()


def set_through(backend: Backend, key: Any, value: Any, write: Callable[[Any], Any], ttl: float) -> Any:
    """Write-through: ``write(value)`` to the store of record, then cache ``value``.

    Returns what ``write`` returned. If ``write`` raises, the key is removed from the cache
    (it may no longer match the store) and the error propagates.
    """
    try:
        result = write(value)
        _refuse_awaitable(result, "set_through() got an async write; use aset_through()")
    except BaseException:
        backend.delete(key)
        raise
    backend.set(key, value, ttl)
    return result


async def aset_through(backend: Backend, key: Any, value: Any, write: Callable[[Any], Any], ttl: float) -> Any:
    """Coroutine face of ``set_through``; ``write`` may be async or plain."""
    try:
        result = write(value)
        if inspect.isawaitable(result):
            result = await result
    except BaseException:
        await backend.adelete(key)
        raise
    await backend.aset(key, value, ttl)
    return result
