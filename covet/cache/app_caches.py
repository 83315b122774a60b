"""Each app's own caches: ``app.memory_cache`` and ``app.redis_cache``.

The kernel's ``Covet.memory_cache``/``Covet.redis_cache`` properties ask the ``cache``
service (this package) for them; each is made on first use and lives as long as the app.

- ``app.memory_cache`` is a memory ``Cache`` (plain methods: ``app.memory_cache.get(key)``); its
  write-behind queue is written out when the app shuts down.
- ``app.redis_cache`` is a ``CacheLayer`` over Redis (coroutines: ``await app.redis_cache.get(key)``)
  at ``app.state.redis_url``, else the ``COVET_REDIS_URL`` or ``REDIS_URL`` environment variable.
  With none of them it raises ``CacheConfigError`` saying so: a silent memory fallback would
  give each worker its own "shared" cache. Its connections close when the app shuts down.

Both take their default TTL from ``app.state.cache_ttl`` when set (``CACHE_TTL`` of the app's
``covet.config.Config``), else the cache's own default.
"""
import threading
import weakref
from typing import Any, Dict, Optional

from .backend import DEFAULT_TTL
from .cache import Cache
from .config import CacheConfigError, backend_from_spec, redis_url_from_env
from .layer import CacheLayer

__all__ = ["memory_cache", "redis_cache", "redis_url_for", "ttl_for", "made"]


class _AppCaches:
    __slots__ = ("memory", "redis")

    def __init__(self) -> None:
        self.memory: Optional[Cache] = None
        self.redis: Optional[CacheLayer] = None


# app -> its caches; an app that is garbage collected takes its caches with it.
_caches: "weakref.WeakKeyDictionary[Any, _AppCaches]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _of(app: Any) -> _AppCaches:
    # Caller holds _lock.
    caches = _caches.get(app)
    if caches is None:
        caches = _caches[app] = _AppCaches()
    return caches


def redis_url_for(app: Any) -> str:
    """``app.state.redis_url``, else ``COVET_REDIS_URL``, else ``REDIS_URL``; ``CacheConfigError`` without any."""
    state = app.state
    url = state.redis_url if "redis_url" in state else redis_url_from_env()
    if not url:
        raise CacheConfigError(
            "app.redis_cache needs a Redis URL: set app.state.redis_url = 'redis://host:6379/0' before its "
            "first use, or the COVET_REDIS_URL (or REDIS_URL) environment variable")
    return url


def ttl_for(app: Any) -> float:
    """``app.state.cache_ttl`` if set, else ``DEFAULT_TTL``: the default TTL of the app's caches."""
    state = app.state
    return state.cache_ttl if "cache_ttl" in state else DEFAULT_TTL


def made(app: Any) -> Dict[str, Any]:
    """The app's caches made so far: ``{"memory": ..., "redis": ...}``, either or both or neither
    (the metrics endpoint reports their hits and misses without making one).

    Example::

        made(app)   # {"memory": <Cache ...>} once app.memory_cache has been used
    """
    caches = _caches.get(app)
    if caches is None:
        return {}
    return {name: cache for name, cache in (("memory", caches.memory), ("redis", caches.redis)) if cache is not None}


def memory_cache(app: Any) -> Cache:
    """The app's memory ``Cache``, made on first use.

    Example::

        app.memory_cache.set("greeting", "hello", ttl=60)   # the kernel's property calls this
    """
    caches = _caches.get(app)
    if caches is not None and caches.memory is not None:
        return caches.memory  # PERF: no lock once made
    with _lock:
        caches = _of(app)
        if caches.memory is None:
            cache = Cache(ttl=ttl_for(app))
            # Writes queued by set_write_behind reach their store before the app stops (SIGTERM
            # runs the shutdown hooks); the cache stays usable if the app serves again.
            app.on_shutdown(cache.aclose)
            caches.memory = cache
        return caches.memory


def redis_cache(app: Any) -> CacheLayer:
    """The app's Redis ``CacheLayer``, made on first use; closed when the app shuts down.

    Example::

        app.state.redis_url = "redis://localhost:6379/0"
        await app.redis_cache.set("k", 1, ttl=3600)
    """
    caches = _caches.get(app)
    if caches is not None and caches.redis is not None:
        return caches.redis
    with _lock:
        caches = _of(app)
        if caches.redis is None:
            layer = CacheLayer(backend_from_spec({"type": "redis", "url": redis_url_for(app)}), ttl=ttl_for(app))
            app.on_shutdown(layer.close)
            caches.redis = layer
        return caches.redis
