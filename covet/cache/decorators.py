"""Decorators that need no cache object in hand: ``cache_result``, ``cache_page``, and ``cached``.

- ``@cache_result(ttl=300)`` caches a plain or async function's results by its arguments in
  ``default_cache`` (a memory ``Cache`` of this process) unless ``cache=`` names another.
- ``@cache_page(ttl=600)`` caches a GET/HEAD route's whole response in the app's own memory
  cache (``app.memory_cache``) unless ``cache=`` names another.
- ``@cached(cache, ttl=60)`` is ``cache.cached(ttl=60)`` for code that imports functions;
  without a cache, ``@cached(key_prefix="user", ttl=300, strategy=CacheStrategy.REFRESH_AHEAD)``
  (the API template's form) uses ``default_cache``, as ``cache_result`` does.

Example::

    from covet.cache.decorators import cache_result, cache_page

    @cache_result(ttl=300)
    async def get_user_preferences(user_id: int): ...

    @app.get("/dashboard")
    @cache_page(ttl=600)
    async def dashboard(): ...
"""
from typing import Any, Callable, Iterable, Optional, Union, overload

from .app_caches import memory_cache
from .backend import check_ttl
from .cache import Cache
from .layer import CacheLayer
from .page import DEFAULT_PAGE_PREFIX, DEFAULT_VARY, page_decorator
from .results import F
from .strategies import CacheStrategy

__all__ = ["cache_result", "cache_page", "cached", "default_cache"]

#: Where ``cache_result`` keeps results when no ``cache=`` is given. Clear it between tests.
default_cache = Cache()


def _as_cache(cache: Union[Cache, CacheLayer], what: str) -> Cache:
    if isinstance(cache, Cache):
        return cache
    if isinstance(cache, CacheLayer):
        return cache.cache
    raise TypeError("%s needs a Cache or a CacheLayer, got %r" % (what, cache))


def cached(cache: Any = None, ttl: Any = None, key: Optional[Callable[..., Any]] = None,
           refresh_after: Optional[float] = None, *, key_prefix: Optional[str] = None,
           key_func: Optional[Callable[..., Any]] = None, strategy: Optional[CacheStrategy] = None) -> Any:
    """Module-level form of ``Cache.cached``: ``@cached(cache, ttl=60)``, or without a cache
    (``default_cache``): ``@cached(key_prefix="user", ttl=300)``.

    :param cache: a ``Cache`` or ``CacheLayer``; ``default_cache`` when None.
    :param key_prefix: keys are ``"<key_prefix>:<arguments>"`` (``"user:123"``).
    :param key_func: with ``key_prefix``: the part after it, from the function's arguments.
    :param strategy: ``CacheStrategy.CACHE_ASIDE`` (default) or ``REFRESH_AHEAD`` (80 % of the
        ttl); the write strategies raise ``TypeError`` (a read decorator has nothing to write).

    Example::

        @cached(cache, ttl=60)
        def load_settings(): ...

        @cached(key_prefix="user", ttl=600, key_func=lambda user_id, posts: f"{user_id}:{posts}",
                strategy=CacheStrategy.REFRESH_AHEAD)
        async def get_user_with_posts(user_id: int, include_posts: bool = False): ...
    """
    if cache is None:
        target = default_cache
    elif isinstance(cache, (Cache, CacheLayer)):
        target = _as_cache(cache, "cached()")
    elif callable(cache) and ttl is None and key is None and refresh_after is None and key_prefix is None \
            and key_func is None and strategy is None:
        return default_cache.cached()(cache)  # used bare: @cached
    else:
        raise TypeError("cached() needs a Cache or CacheLayer as its first argument (or none), got %r" % (cache,))
    if callable(ttl):
        raise TypeError("cached(cache, ...) must be called: @cached(cache, ttl=60)")
    return target.cached(ttl, key, refresh_after, key_prefix=key_prefix, key_func=key_func, strategy=strategy)


@overload
def cache_result(ttl: F) -> F: ...


@overload
def cache_result(ttl: Optional[float] = None, *, cache: Optional[Union[Cache, CacheLayer]] = None,
                 key: Optional[Callable[..., Any]] = None,
                 refresh_after: Optional[float] = None) -> Callable[[F], F]: ...


def cache_result(ttl: Any = None, *, cache: Optional[Union[Cache, CacheLayer]] = None,
                 key: Optional[Callable[..., Any]] = None, refresh_after: Optional[float] = None) -> Any:
    """Cache a plain or async function's results by its arguments (``Cache.cached``).

    Concurrent calls with the same arguments run the function once; an exception is not
    cached. The wrapper's ``cache_key(*args, **kwargs)`` gives an entry's key.

    :param ttl: seconds (default: the cache's, 300 s for ``default_cache``).
    :param cache: a ``Cache`` or ``CacheLayer``; ``default_cache`` when None.
    :param key: a callable taking the function's arguments and returning the key.
    :param refresh_after: seconds after which a hit is refreshed in the background.

    Example::

        @cache_result(ttl=300)
        async def get_user_preferences(user_id: int):
            return await db.fetch_one("SELECT * FROM preferences WHERE user_id = %s", user_id)
    """
    if callable(ttl) and cache is None and key is None and refresh_after is None:
        return cache_result()(ttl)  # used bare: @cache_result
    target = default_cache if cache is None else _as_cache(cache, "cache_result(cache=...)")
    return target.cached(ttl, key, refresh_after)


@overload
def cache_page(ttl: F) -> F: ...


@overload
def cache_page(ttl: Optional[float] = None, *, cache: Optional[Union[Cache, CacheLayer]] = None,
               vary: Iterable[str] = DEFAULT_VARY, key_prefix: str = DEFAULT_PAGE_PREFIX,
               vary_query: Any = None) -> Callable[[F], F]: ...


def cache_page(ttl: Any = None, *, cache: Optional[Union[Cache, CacheLayer]] = None,
               vary: Iterable[str] = DEFAULT_VARY, key_prefix: str = DEFAULT_PAGE_PREFIX,
               vary_query: Any = None) -> Any:
    """Cache a GET/HEAD route handler's whole response (see ``Cache.cache_page`` for what is stored).

    Without ``cache=``, pages live in the memory cache of the app serving the request
    (``app.memory_cache``), so each app, and each test's app, has its own. Put the decorator
    below the route decorator. ``vary_query`` says which query parameters are part of the key
    (see ``Cache.cache_page``).

    Example::

        @app.get("/dashboard")
        @cache_page(ttl=600)
        async def dashboard():
            return {"dashboard": "data"}
    """
    if callable(ttl) and cache is None:
        return cache_page()(ttl)  # used bare: @cache_page
    if cache is not None:
        return _as_cache(cache, "cache_page(cache=...)").cache_page(ttl, vary, key_prefix, vary_query)
    seconds = None if ttl is None else check_ttl(ttl)
    return page_decorator(lambda request: memory_cache(request.app).backend, seconds, vary, key_prefix, vary_query)
