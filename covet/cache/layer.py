"""``CacheLayer``: a cache you await (``await layer.get(key)``), and ``MultiLevelCache``, one made of levels.

A ``Cache`` answers plain calls (``cache.get``) and coroutines with an ``a`` prefix
(``cache.aget``). A ``CacheLayer`` is the coroutine face of a ``Cache`` under the plain names,
for code where every cache call is awaited: a level reached over the network
(``app.redis_cache``) or a chain of levels (``MultiLevelCache``). Its ``cache`` attribute is
the ``Cache`` behind it, for plain-``def`` code.
"""
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, overload

from .backend import DEFAULT_TTL, Backend
from .cache import Cache
from .config import LevelSpec, backend_from_levels
from .memory import DEFAULT_MAXSIZE
from .page import DEFAULT_PAGE_PREFIX, DEFAULT_VARY
from .results import F
from .strategies import CacheStrategy

__all__ = ["CacheLayer", "MultiLevelCache"]


class CacheLayer:
    """A cache whose operations are coroutines under their plain names.

    :param backend: any backend (default: memory); ``maxsize`` and ``ttl`` as for ``Cache``.

    Example::

        layer = CacheLayer(RedisBackend.from_url("redis://localhost:6379"), ttl=3600)
        await layer.set("answer", 42)
        assert await layer.get("answer") == 42
    """

    def __init__(self, backend: Optional[Backend] = None, *, ttl: Optional[float] = DEFAULT_TTL,
                 maxsize: int = DEFAULT_MAXSIZE) -> None:
        #: The ``Cache`` behind this layer: the same entries through plain methods.
        self.cache = Cache(maxsize, ttl, backend)

    def __repr__(self) -> str:
        return "<%s %s ttl=%g>" % (type(self).__name__, type(self.cache.backend).__name__, self.cache.default_ttl)

    @property
    def backend(self) -> Backend:
        """The backend behind the layer."""
        return self.cache.backend

    async def get(self, key: Any, default: Any = None) -> Any:
        """The value, or ``default`` when absent or expired (or the store is down)."""
        return await self.cache.aget(key, default)

    async def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` for ``ttl`` seconds (default: the layer's); False when the store is down."""
        return await self.cache.aset(key, value, ttl)

    async def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there."""
        return await self.cache.adelete(key)

    async def clear(self) -> None:
        """Remove every entry of this layer (with Redis: every key under its prefix)."""
        await self.cache.aclear()

    async def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""
        return await self.cache.aget_many(keys)

    async def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item of ``mapping``."""
        return await self.cache.aset_many(mapping, ttl)

    async def incr(self, key: Any, delta: int = 1) -> Optional[int]:
        """Add ``delta`` to an integer entry and return it; None when the store is down."""
        return await self.cache.aincr(key, delta)

    async def decr(self, key: Any, delta: int = 1) -> Optional[int]:
        """``incr(key, -delta)``."""
        return await self.cache.adecr(key, delta)

    async def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present entry a new lifetime; True when present."""
        return await self.cache.atouch(key, ttl)

    async def has(self, key: Any) -> bool:
        """True when the key is present and not expired."""
        return await self.cache.ahas(key)

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; the number removed."""
        return await self.cache.adelete_prefix(prefix)

    async def get_or_set(self, key: Any, factory: Callable[[], Any], ttl: Optional[float] = None,
                         refresh_after: Optional[float] = None) -> Any:
        """Cache-aside with single-flight (``Cache.aget_or_set``); ``factory`` may be async or plain."""
        return await self.cache.aget_or_set(key, factory, ttl, refresh_after)

    async def set_through(self, key: Any, value: Any, write: Callable[[Any], Any],
                          ttl: Optional[float] = None) -> Any:
        """Write-through (``Cache.aset_through``); ``write`` may be async or plain."""
        return await self.cache.aset_through(key, value, write, ttl)

    # -- the strategies under the API template's names (docs/caching.md) -------------------
    async def get_or_fetch(self, key: Any, fetch_func: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Cache-aside with single flight (``Cache.aget_or_fetch``).

        Example::

            user = await cache.get_or_fetch("user:123", lambda: db.get_user(123), ttl=300)
        """
        return await self.cache.aget_or_fetch(key, fetch_func, ttl)

    async def get_with_refresh(self, key: Any, fetch_func: Callable[[], Any], ttl: Optional[float] = None) -> Any:
        """Refresh-ahead at 80 % of the ttl (``Cache.aget_with_refresh``)."""
        return await self.cache.aget_with_refresh(key, fetch_func, ttl)

    async def set_write_through(self, key: Any, value: Any, write_func: Callable[[Any], Any],
                                ttl: Optional[float] = None) -> Any:
        """Write-through (``Cache.aset_write_through``)."""
        return await self.cache.aset_write_through(key, value, write_func, ttl)

    async def set_write_behind(self, key: Any, value: Any, write_func: Callable[[Any], Any],
                               ttl: Optional[float] = None) -> bool:
        """Write-behind (``Cache.aset_write_behind``): cached now, written in the next batch."""
        return await self.cache.aset_write_behind(key, value, write_func, ttl)

    async def flush(self) -> None:
        """Run the queued write-behind writes now (``Cache.aflush``)."""
        await self.cache.aflush()

    async def invalidate_pattern(self, pattern: str, allow_all: bool = False) -> int:
        """Remove the keys matching a glob, at every level (``Cache.ainvalidate_pattern``)."""
        return await self.cache.ainvalidate_pattern(pattern, allow_all)

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
        """Decorator for plain and async functions (``Cache.cached``)."""
        return self.cache.cached(ttl, key, refresh_after, key_prefix=key_prefix, key_func=key_func,
                                 strategy=strategy)

    def cache_page(self, ttl: Optional[float] = None, vary: Iterable[str] = DEFAULT_VARY,
                   key_prefix: str = DEFAULT_PAGE_PREFIX) -> Callable[[F], F]:
        """Decorator for GET/HEAD route handlers (``Cache.cache_page``)."""
        return self.cache.cache_page(ttl, vary, key_prefix)

    def stats(self) -> Dict[str, Optional[int]]:
        """``{"hits", "misses", "evictions", "expirations", "size"}``."""
        return self.cache.stats()

    async def close(self) -> None:
        """Write what write-behind has queued, wait for background refreshes, then release the
        backend's threads and connections."""
        await self.cache.aclose()


class MultiLevelCache(CacheLayer):
    """A ``CacheLayer`` over levels, nearest first: memory levels in front of a shared one.

    Each level is a spec dict (``{"type": "memory", "size": 1000}``,
    ``{"type": "redis", "url": "redis://localhost:6379"}``; see ``covet.cache.config``) or a
    backend object. A read tries each level in turn and copies what it finds into the levels in
    front; a write goes to all. A memory level in front keeps a copy for at most its ``ttl``
    (default 5 s), the staleness another worker's write may show here.

    Example::

        cache = MultiLevelCache([
            {"type": "memory", "size": 1000},
            {"type": "redis", "url": "redis://localhost:6379"},
        ])
        await cache.set("data:1", {"id": 1}, ttl=3600)
        assert await cache.get("data:1") == {"id": 1}
    """

    def __init__(self, levels: Sequence[LevelSpec], *, ttl: Optional[float] = DEFAULT_TTL) -> None:
        super().__init__(backend_from_levels(levels), ttl=ttl)
