"""Caching: a bounded TTL + LRU store in memory, Redis and multi-level backends, and the
strategies on top (cache-aside with single-flight, refresh-ahead, write-through, whole pages).

Faces: every operation of a ``Cache`` has a plain method (``get``, ``set``, ...) and a
coroutine with an ``a`` prefix (``aget``, ``aset``, ...). A ``CacheLayer`` (and
``MultiLevelCache``) is the coroutine face under the plain names: ``await layer.get(key)``.

TTLs are seconds (int or float > 0); ``math.inf`` stores without expiry and
``ttl=None`` means the cache's default. Keys are strings (the memory backend
accepts any hashable, Redis needs str).

The modules, one concept each: ``backend`` (the contract every backend implements, and the
two face mixins), ``memory``, ``redis``, ``multilevel`` (the backends), ``strategies``,
``keys``, ``page`` (the page cache), ``cache`` (``Cache``), ``manager`` (``CacheManager``),
``layer`` (``CacheLayer``, ``MultiLevelCache``), ``config`` (backends by name),
``decorators`` (``cache_result``, ``cache_page``, ``cached``) and ``app_caches``
(``app.memory_cache``, ``app.redis_cache``: this package is the kernel's ``cache`` service).

Example::

    cache = Cache(maxsize=10_000, ttl=300)

    @cache.cached(ttl=60)
    async def load_user(user_id: int) -> dict:
        return await db.fetch_user(user_id)
"""
from .._lazy import lazy_exports

# public name -> submodule that defines it (imported on first use: the Redis client only when asked for)
_EXPORTS = {
    "Cache": "cache",
    "CacheManager": "manager",
    "CacheLayer": "layer", "MultiLevelCache": "layer",
    "cached": "decorators", "cache_result": "decorators", "cache_page": "decorators",
    "Backend": "backend", "SyncFace": "backend", "AsyncFace": "backend", "MISSING": "backend",
    "DEFAULT_TTL": "backend",
    "MemoryBackend": "memory", "DEFAULT_MAXSIZE": "memory",
    "RedisBackend": "redis",
    "MultiLevelBackend": "multilevel", "TwoLevelBackend": "multilevel",
    "DEFAULT_VARY": "page",
    "CacheConfigError": "config",
    "memory_cache": "app_caches", "redis_cache": "app_caches",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("covet.cache", _EXPORTS, globals())
