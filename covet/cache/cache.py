"""``Cache``: the object applications hold. Two faces over one backend, plus the strategies.

Every operation has a plain method (``get``, ``set``, ...) and a coroutine with an ``a``
prefix (``aget``, ``aset``, ...), whatever the backend (see backend.py for who does the work).
"""
import asyncio
import inspect
import math
import uuid
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, overload

from .backend import DEFAULT_TTL, Backend, check_delta, check_ttl
from .memory import DEFAULT_MAXBYTES, DEFAULT_MAXSIZE, MemoryBackend
from .page import DEFAULT_PAGE_PREFIX, DEFAULT_VARY, page_decorator
from .results import F, cached_decorator
from .keys import check_pattern
from .strategies import (CacheStrategy, SingleFlight, aset_through, check_refresh, check_strategy, refresh_point,
                         set_through)
from .writebehind import WriteBehind

__all__ = ["Cache"]


class Cache:
    """A cache with sync and async faces over a backend (memory by default).

    :param maxsize: most entries of the default memory backend (unused with ``backend=``).
    :param ttl: default lifetime in seconds; None or ``math.inf`` for no expiry.
    :param backend: a ``Backend``: ``MemoryBackend`` (default), ``RedisBackend``,
        ``MultiLevelBackend``/``TwoLevelBackend`` or your own; the cache sets its default
        ttl. A backend belongs to one cache.
    :param maxbytes: most estimated bytes of the default memory backend (unused with ``backend=``).
    :attr single_flight: the ``SingleFlight`` behind ``get_or_set`` and ``cached``.
    :attr write_behind: the ``WriteBehind`` queue behind ``set_write_behind`` (its ``interval``,
        ``max_pending`` and ``max_attempts`` are settable).

    Example::

        cache = Cache(ttl=60)
        cache.set("answer", 42)
        assert cache.get("answer") == 42
        user = await cache.aget_or_set("user:1", lambda: db.load_user(1))
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, ttl: Optional[float] = DEFAULT_TTL,
                 backend: Optional[Backend] = None, *, maxbytes: int = DEFAULT_MAXBYTES) -> None:
        ttl = math.inf if ttl is None else check_ttl(ttl)
        if backend is None:
            backend = MemoryBackend(maxsize, ttl, maxbytes=maxbytes)
        elif isinstance(backend, str):
            raise TypeError("Cache(backend=...) takes a backend object; for a backend by name use "
                            "CacheManager(backend=%r, ...)" % (backend,))
        elif not isinstance(backend, Backend):
            raise TypeError("backend must implement covet.cache.Backend (subclass SyncFace or AsyncFace), got %r"
                            % (backend,))
        else:
            backend.default_ttl = ttl
        self.backend = backend
        self.single_flight = SingleFlight(backend)
        self.write_behind = WriteBehind(backend)
        if type(self).get is Cache.get and type(self).set is Cache.set:
            # PERF: the plain face is the backend's bound methods: one call less on every hit.
            self.get = backend.get  # type: ignore[assignment]
            self.set = backend.set  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<%s %s ttl=%g>" % (type(self).__name__, type(self.backend).__name__, self.default_ttl)

    @property
    def default_ttl(self) -> float:
        """Seconds an entry lives when ``ttl`` is None (``math.inf``: no expiry); the backend's."""
        return self.backend.default_ttl

    @default_ttl.setter
    def default_ttl(self, ttl: Optional[float]) -> None:
        self.backend.default_ttl = math.inf if ttl is None else check_ttl(ttl)

    def _resolve_ttl(self, ttl: Optional[float]) -> float:
        return self.backend.resolve_ttl(ttl)

    def _resolve_refresh(self, ttl: Any, refresh_after: Optional[float]) -> Any:
        seconds = self._resolve_ttl(ttl)
        return seconds, (None if refresh_after is None else check_refresh(refresh_after, seconds))

    # -- the plain face --------------------------------------------------------
    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[no-redef]
        """The value, or ``default`` when absent or expired."""
        return self.backend.get(key, default)

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:  # type: ignore[no-redef]
        """Store ``value`` for ``ttl`` seconds (default: the cache's)."""
        return self.backend.set(key, value, ttl)

    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there."""
        return self.backend.delete(key)

    def clear(self) -> None:
        """Remove every entry (with Redis: every key under this cache's prefix).

        Between tests, this resets a cache your app keeps at module level (docs/cache.md).
        """
        self.backend.clear()

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""
        return self.backend.get_many(keys)

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item of ``mapping``."""
        return self.backend.set_many(mapping, ttl)

    def incr(self, key: Any, delta: int = 1) -> Optional[int]:
        """Add ``delta`` to an integer entry (a missing one starts at 0) and return the new value.
        TypeError when the entry is not an integer; None when a remote store is down."""
        return self.backend.incr(key, delta)

    def decr(self, key: Any, delta: int = 1) -> Optional[int]:
        """``incr(key, -delta)``."""
        return self.backend.incr(key, -check_delta(delta))

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present entry a new lifetime; True when present."""
        return self.backend.touch(key, ttl)

    def has(self, key: Any) -> bool:
        """True when the key is present and not expired."""
        return self.backend.has(key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; the number removed."""
        return self.backend.delete_prefix(prefix)

    def stats(self) -> Dict[str, Optional[int]]:
        """``{"hits", "misses", "evictions", "expirations", "size"}`` (None where a backend cannot know)."""
        return self.backend.stats()

    # -- the coroutine face ----------------------------------------------------
    async def aget(self, key: Any, default: Any = None) -> Any:
        """Coroutine face of ``get``."""
        return await self.backend.aget(key, default)

    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set``."""
        return await self.backend.aset(key, value, ttl)

    async def adelete(self, key: Any) -> bool:
        """Coroutine face of ``delete``."""
        return await self.backend.adelete(key)

    async def health_check(self) -> Dict[str, Any]:
        """A health check for ``HealthChecker``: a fresh random value stored, read back and deleted.

        Example::

            health.add_check("cache", cache.health_check, critical=False)
        """
        token = uuid.uuid4().hex
        key = "covet:health:" + token  # fresh per probe: overlapping probes never read each other's
        # A short ttl: a probe cancelled between set and delete leaves nothing for long.
        if not await self.aset(key, token, ttl=60):
            return {"status": "unhealthy", "error": "set failed"}
        try:
            value = await self.aget(key)
        finally:
            await self.adelete(key)
        if value != token:
            return {"status": "unhealthy", "error": "read back %r, not the value just set" % (value,)}
        return {"status": "healthy"}

    async def ping(self) -> bool:
        """True when the store answers a write and a read back (:meth:`health_check`); a store that
        does not raises ``ConnectionError``, with what went wrong. The API reference's health
        check calls it.

        Example::

            await cache.ping()
        """
        result = await self.health_check()
        if result["status"] != "healthy":
            raise ConnectionError("the cache store did not answer: %s" % result.get("error", "unknown"))
        return True

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        await self.backend.aclear()

    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """Coroutine face of ``get_many``."""
        return await self.backend.aget_many(keys)

    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set_many``."""
        return await self.backend.aset_many(mapping, ttl)

    async def aincr(self, key: Any, delta: int = 1) -> Optional[int]:
        """Coroutine face of ``incr``."""
        return await self.backend.aincr(key, delta)

    async def adecr(self, key: Any, delta: int = 1) -> Optional[int]:
        """Coroutine face of ``decr``."""
        return await self.backend.aincr(key, -check_delta(delta))

    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``touch``."""
        return await self.backend.atouch(key, ttl)

    async def ahas(self, key: Any) -> bool:
        """Coroutine face of ``has``."""
        return await self.backend.ahas(key)

    async def adelete_prefix(self, prefix: str) -> int:
        """Coroutine face of ``delete_prefix``."""
        return await self.backend.adelete_prefix(prefix)

    # -- strategies (strategies.py) ------------------------------------------------
    def get_or_set(self, key: Any, factory: Callable[[], Any], ttl: Optional[float] = None,
                   refresh_after: Optional[float] = None) -> Any:
        """The cached value, or ``factory()`` stored for ``ttl``.

        Concurrent misses of one key run the factory once; its exception is not
        cached and reaches every waiter. With ``refresh_after`` (seconds), an entry
        older than that is returned as is while one background thread refreshes it.
        The factory must be a plain function here (``aget_or_set`` takes async ones).
        """
        seconds, refresh = self._resolve_refresh(ttl, refresh_after)
        return self.single_flight.get_or_set(key, factory, seconds, refresh)

    async def aget_or_set(self, key: Any, factory: Callable[[], Any], ttl: Optional[float] = None,
                          refresh_after: Optional[float] = None) -> Any:
        """Coroutine face of ``get_or_set``; ``factory`` may be async or plain.

        The factory runs in its own task, so a cancelled caller does not cancel it
        for the others waiting on the same key.
        """
        seconds, refresh = self._resolve_refresh(ttl, refresh_after)
        return await self.single_flight.aget_or_set(key, factory, seconds, refresh)

    def set_through(self, key: Any, value: Any, write: Callable[[Any], Any], ttl: Optional[float] = None) -> Any:
        """Write-through: ``write(value)`` to the store of record, then cache ``value``.

        Returns what ``write`` returned. If ``write`` raises, the key is removed
        from the cache (it may no longer match the store) and the error propagates.
        """
        return set_through(self.backend, key, value, write, self._resolve_ttl(ttl))

    async def aset_through(self, key: Any, value: Any, write: Callable[[Any], Any],
                           ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``set_through``; ``write`` may be async or plain."""
        return await aset_through(self.backend, key, value, write, self._resolve_ttl(ttl))

    # -- the strategies under the names of the API template (docs/caching.md) -------------
    def get_or_fetch(self, key: Any, fetch_func: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside: ``get_or_set`` under its other name (single flight; an error is not cached)."""
        return self.get_or_set(key, fetch_func, ttl)

    async def aget_or_fetch(self, key: Any, fetch_func: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``get_or_fetch``; ``fetch_func`` may be async or plain.

        Example::

            user = await cache.aget_or_fetch("user:123", lambda: db.get_user(123), ttl=300)
        """
        return await self.aget_or_set(key, fetch_func, ttl)

    def get_with_refresh(self, key: Any, fetch_func: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Refresh-ahead: ``get_or_set`` with ``refresh_after`` at 80 % of the (finite) ttl.

        Callers get the cached value at once; once it is older than 80 % of its ttl one background
        refresh (per key at a time) replaces it. A miss fetches as ``get_or_fetch`` does.
        """
        seconds = self._resolve_ttl(ttl)
        return self.single_flight.get_or_set(key, fetch_func, seconds, refresh_point(seconds))

    async def aget_with_refresh(self, key: Any, fetch_func: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``get_with_refresh``; the refresh runs in a task.

        Example::

            config = await cache.aget_with_refresh("app:config", fetch_config, ttl=3600)
        """
        seconds = self._resolve_ttl(ttl)
        return await self.single_flight.aget_or_set(key, fetch_func, seconds, refresh_point(seconds))

    def set_write_through(self, key: Any, value: Any, write_func: Callable[[Any], Any],
                          ttl: Optional[float] = None) -> Any:
        """Write-through: ``set_through`` under its other name (``write_func(value)``, then the cache)."""
        return self.set_through(key, value, write_func, ttl)

    async def aset_write_through(self, key: Any, value: Any, write_func: Callable[[Any], Any],
                                 ttl: Optional[float] = None) -> Any:
        """Coroutine face of ``set_write_through``; ``write_func`` may be async or plain."""
        return await self.aset_through(key, value, write_func, ttl)

    def set_write_behind(self, key: Any, value: Any, write_func: Callable[[Any], Any],
                         ttl: Optional[float] = None) -> bool:
        """Write-behind: cache ``value`` now; ``write_func(value)`` runs in the next batch (writebehind.py).

        True when the write was queued (a queued write of the same key is replaced); False when
        the queue was full and the write ran here, write-through. ``write_func`` must be plain:
        an async one needs ``aset_write_behind`` (its loop runs it).

        Example::

            cache.set_write_behind("user:123", user, db.save_user)
        """
        if not callable(write_func):
            raise TypeError("write_func must be a callable taking the value, got %r" % (write_func,))
        if inspect.iscoroutinefunction(write_func):
            raise TypeError("set_write_behind() got an async write_func; use aset_write_behind()")
        seconds = self._resolve_ttl(ttl)
        self.backend.set(key, value, seconds)
        if self.write_behind.enqueue(key, value, write_func, None):
            return True
        set_through(self.backend, key, value, write_func, seconds)
        return False

    async def aset_write_behind(self, key: Any, value: Any, write_func: Callable[[Any], Any],
                                ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set_write_behind``; an async ``write_func`` is awaited on this loop.

        Example::

            await cache.aset_write_behind("user:123", user, lambda v: db.save_user(v), ttl=300)
        """
        if not callable(write_func):
            raise TypeError("write_func must be a callable taking the value, got %r" % (write_func,))
        seconds = self._resolve_ttl(ttl)
        await self.backend.aset(key, value, seconds)
        if self.write_behind.enqueue(key, value, write_func, asyncio.get_running_loop()):
            return True
        await aset_through(self.backend, key, value, write_func, seconds)
        return False

    def flush(self) -> None:
        """Run the queued write-behind writes now and wait for them (coroutines: ``aflush``)."""
        self.write_behind.flush()

    async def aflush(self) -> None:
        """Coroutine face of ``flush``."""
        await self.write_behind.aflush()

    def invalidate_pattern(self, pattern: str, allow_all: bool = False) -> int:
        """Remove every key matching the glob ``pattern`` (``*``, ``?``, ``[a-z]``, ``[^a]``, ``\\``
        escapes, as Redis's MATCH); the number removed.

        Keys are matched without the Redis backend's prefix. A pattern that is empty or only
        ``*`` would remove everything: ``ValueError`` unless ``allow_all=True``. Redis walks the
        keys with SCAN (never KEYS) and removes them with UNLINK, in batches.

        Example::

            removed = cache.invalidate_pattern("user:*")
        """
        return self.backend.delete_pattern(check_pattern(pattern, allow_all))

    async def ainvalidate_pattern(self, pattern: str, allow_all: bool = False) -> int:
        """Coroutine face of ``invalidate_pattern``."""
        return await self.backend.adelete_pattern(check_pattern(pattern, allow_all))

    # -- decorators ------------------------------------------------------------------
    @overload
    def cached(self, ttl: F) -> F: ...

    @overload
    def cached(self, ttl: Optional[float] = None, key: Optional[Callable[..., Any]] = None,
               refresh_after: Optional[float] = None, *, key_prefix: Optional[str] = None,
               key_func: Optional[Callable[..., Any]] = None,
               strategy: Optional[CacheStrategy] = None) -> Callable[[F], F]: ...

    def cached(self, ttl: Any = None, key: Optional[Callable[..., Any]] = None,
               refresh_after: Optional[float] = None, *, key_prefix: Optional[str] = None,
               key_func: Optional[Callable[..., Any]] = None, strategy: Optional[CacheStrategy] = None) -> Any:
        """Decorator caching a plain or async function's results by its arguments.

        The default key is the function's qualified name and the repr of its
        arguments (str, bytes, numbers, bool, None and lists/tuples/dicts/sets of them;
        anything else raises TypeError asking for ``key=``); keys over
        ``keys.MAX_KEY_LENGTH`` characters are hashed. ``key=`` is a callable
        taking the same arguments and returning the key. ``f(1, 2)`` and ``f(1, b=2)``
        are different keys. The wrapper's ``cache_key(*args, **kwargs)`` gives the key,
        for ``cache.delete``.

        ``key_prefix="user"`` makes keys ``"user:<arguments>"`` instead (``"user:123"``, which
        ``invalidate_pattern("user:*")`` reaches); with ``key_func``, ``"user:" + str(key_func(...))``,
        ``key_func`` taking the function's arguments with their defaults filled in
        (``keys.prefixed_key``). ``strategy=CacheStrategy.REFRESH_AHEAD`` refreshes at 80 % of
        the ttl (``refresh_after`` may say when instead); ``CACHE_ASIDE`` (the default) does
        not. The write strategies are for writes, not a read decorator: ``TypeError``.

        Results are stored as they are, except that a ``Response`` is kept as a record
        rebuilt into a new ``Response`` on every call (a streaming one raises ``TypeError``)
        and a tuple comes back a tuple from any backend. On a route handler the response
        the result becomes is what is kept (see ``results.freeze_route``), so a hit answers
        with the same status, headers and body.

        Example::

            @cache.cached(ttl=30, key=lambda user_id: "user:%d" % user_id)
            def load_user(user_id): ...
        """
        if callable(ttl) and key is None and refresh_after is None and key_prefix is None and key_func is None \
                and strategy is None:
            return self.cached()(ttl)  # used bare: @cache.cached
        refresh_ahead = check_strategy(strategy, refresh_after)
        seconds, refresh = self._resolve_refresh(ttl, refresh_after)
        if refresh_ahead and refresh is None:
            refresh = refresh_point(seconds)
        if key is not None and not callable(key):
            raise TypeError("key must be a callable returning the cache key, got %r" % (key,))
        if key is not None and (key_prefix is not None or key_func is not None):
            raise TypeError("give key= (the whole key) or key_prefix=/key_func=, not both")
        if key_func is not None and key_prefix is None:
            raise TypeError("key_func= makes the part of the key after key_prefix=; give key_prefix too "
                            "(or key= for the whole key)")
        return cached_decorator(self.single_flight, seconds, refresh, key, key_prefix, key_func)

    def cache_page(self, ttl: Optional[float] = None, vary: Iterable[str] = DEFAULT_VARY,
                   key_prefix: str = DEFAULT_PAGE_PREFIX, vary_query: Any = None) -> Callable[[F], F]:
        """Decorator for GET/HEAD route handlers: cache the whole response (status, headers, body).

        The key is the path, the query parameters that can change the page, and the request
        headers named in ``vary``. With ``vary_query=None`` those parameters are the ones the
        handler and its dependencies declare (``Query`` or plain parameters), in any order,
        others ignored; a handler or dependency that takes the ``Request`` may read any of
        them, so the whole query string counts, unless ``vary_query`` lists the parameters it
        reads. ``vary_query="*"`` always keys on the whole query string. ``Accept`` counts
        only as "HTML preferred or not" unless the handler reads it (a ``Header`` parameter
        or the ``Request``).
        Only 200 responses with a body in full are stored; responses that set a cookie,
        say ``Cache-Control: private`` or ``no-store``, or ``Vary`` on a header not in
        ``vary`` are served but not stored. Requests with an ``Authorization`` header
        bypass the page cache unless ``vary`` names it. Stored pages get an ``ETag`` (a
        hash of the body unless the handler set one) and answer a matching
        ``If-None-Match`` with 304. Other methods call the handler untouched.

        Example::

            @app.get("/products")
            @cache.cache_page(60, vary=("Accept", "Accept-Language"))
            async def products(): ...
        """
        backend = self.backend
        return page_decorator(lambda request: backend, self._resolve_ttl(ttl), vary, key_prefix, vary_query)

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        """Write what write-behind has queued, then stop refresh threads and the backend's private
        resources. The cache stays usable (threads start again when needed). From a coroutine whose
        loop queued async writes, use ``aclose``."""
        self.write_behind.close()
        self.single_flight.close()
        self.backend.close()

    async def aclose(self) -> None:
        """Coroutine face of ``close``; also waits for running background refreshes."""
        await self.write_behind.aclose()
        await self.single_flight.aclose()
        await self.backend.aclose()

