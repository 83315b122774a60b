"""Caching: a bounded TTL + LRU store in memory, Redis and multi-level backends, and the
strategies on top (cache-aside with single-flight, refresh-ahead, write-through, write-behind,
whole pages; docs/caching.md).

Faces: every operation of a ``Cache`` has a plain method (``get``, ``set``, ...) and a
coroutine with an ``a`` prefix (``aget``, ``aset``, ...). A ``CacheLayer`` (and
``MultiLevelCache``) is the coroutine face under the plain names: ``await layer.get(key)``.

TTLs are seconds (int or float > 0); ``math.inf`` stores without expiry and
``ttl=None`` means the cache's default. Keys are strings (the memory backend
accepts any hashable, Redis needs str).

The modules, one concept each: ``backend`` (the contract every backend implements, and the
two face mixins), ``memory``, ``redis``, ``multilevel`` (the backends), ``strategies``,
``writebehind``, ``keys``, ``page`` (the page cache), ``cache`` (``Cache``), ``manager`` (``CacheManager``),
``layer`` (``CacheLayer``, ``MultiLevelCache``), ``config`` (backends by name),
``decorators`` (``cache_result``, ``cache_page``, ``cached``) and ``app_caches``
(``app.memory_cache``, ``app.redis_cache``: this package is the kernel's ``cache`` service).

Example::

    cache = Cache(maxsize=10_000, ttl=300)

    @cache.cached(ttl=60)
    async def load_user(user_id: int) -> dict:
        return await db.fetch_user(user_id)
"""
from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    # What type checkers and editors see (at run time these load lazily, from _EXPORTS below).
    from .app_caches import memory_cache as memory_cache, redis_cache as redis_cache
    from .backend import (
        DEFAULT_TTL as DEFAULT_TTL, MISSING as MISSING, AsyncFace as AsyncFace, Backend as Backend,
        SyncFace as SyncFace,
    )
    from .cache import Cache as Cache
    from .config import CacheConfigError as CacheConfigError
    from .decorators import cache_page as cache_page, cache_result as cache_result, cached as cached
    from .layer import CacheLayer as CacheLayer, MultiLevelCache as MultiLevelCache
    from .manager import CacheManager as CacheManager
    from .memory import (
        DEFAULT_MAXBYTES as DEFAULT_MAXBYTES, DEFAULT_MAXSIZE as DEFAULT_MAXSIZE, MemoryBackend as MemoryBackend,
    )
    from .multilevel import MultiLevelBackend as MultiLevelBackend, TwoLevelBackend as TwoLevelBackend
    from .page import DEFAULT_VARY as DEFAULT_VARY
    from .redis import RedisBackend as RedisBackend
    from .strategies import CacheStrategy as CacheStrategy
    from .writebehind import WriteBehind as WriteBehind

# public name -> submodule that defines it (imported on first use: the Redis client only when asked for)
_EXPORTS = {
    "Cache": "cache",
    "CacheManager": "manager",
    "CacheLayer": "layer", "MultiLevelCache": "layer",
    "cached": "decorators", "cache_result": "decorators", "cache_page": "decorators",
    "Backend": "backend", "SyncFace": "backend", "AsyncFace": "backend", "MISSING": "backend",
    "DEFAULT_TTL": "backend",
    "MemoryBackend": "memory", "DEFAULT_MAXSIZE": "memory", "DEFAULT_MAXBYTES": "memory",
    "RedisBackend": "redis",
    "MultiLevelBackend": "multilevel", "TwoLevelBackend": "multilevel",
    "DEFAULT_VARY": "page",
    "CacheConfigError": "config",
    "CacheStrategy": "strategies", "WriteBehind": "writebehind",
    "memory_cache": "app_caches", "redis_cache": "app_caches",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("covet.cache", _EXPORTS, globals())
