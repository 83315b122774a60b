"""``CacheManager``: a ``Cache`` configured by name (``backend="memory"`` or ``"redis"``)."""
from typing import Any, Optional, Union

from .backend import DEFAULT_TTL, Backend
from .cache import Cache
from .config import backend_from_spec, spec_for_backend
from .memory import DEFAULT_MAXSIZE

__all__ = ["CacheManager", "REDIS_URL_SCHEMES"]

#: A ``backend`` that starts with one of these is a Redis URL: ``CacheManager("redis://host:6379")``.
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")


class CacheManager(Cache):
    """A ``Cache`` whose backend is named: ``"memory"`` (this process) or ``"redis"`` (shared).

    Everything else is ``Cache``: ``get``/``set``/``delete``/``clear`` and their ``a``
    coroutines, ``get_or_set``, ``@cached``, ``cache_page``. With ``"redis"`` the cache makes its
    own client from ``redis_url`` (or the ``COVET_REDIS_URL``/``REDIS_URL`` environment
    variable) and ``aclose()`` closes it; ``CacheConfigError`` when there is no URL at all.

    :param backend: ``"memory"``, ``"redis"``, a backend object, or a Redis URL (``redis://``,
        ``rediss://``, ``unix://``), which means ``"redis"`` with that URL.
    :param redis_url: ``redis://[[user]:password@]host[:port][/db]`` (also ``rediss://``, ``unix://``).
    :param default_ttl: seconds; None for no expiry.
    :param maxsize: most entries of a memory backend.
    :param redis_options: ``prefix``, ``serializer``, ``log_interval`` of ``RedisBackend``.

    Example::

        cache = CacheManager(backend="redis", redis_url="redis://localhost:6379", default_ttl=3600)
        same_kind = CacheManager("redis://localhost:6379")      # the URL alone names the backend

        @app.get("/expensive-operation")
        @cache.cached(ttl=1800)
        async def expensive_operation():
            return {"result": perform_complex_calculation()}
    """

    def __init__(self, backend: Union[str, Backend] = "memory", redis_url: Optional[str] = None,
                 default_ttl: Optional[float] = DEFAULT_TTL, *, maxsize: int = DEFAULT_MAXSIZE,
                 **redis_options: Any) -> None:
        if isinstance(backend, str):
            if backend.lower().startswith(REDIS_URL_SCHEMES):
                # CacheManager("redis://localhost:6379"): the URL names the Redis backend.
                if redis_url is not None:
                    raise ValueError("CacheManager(%r, redis_url=%r): give the Redis URL once" % (backend, redis_url))
                backend, redis_url = "redis", backend
            if redis_options and backend != "redis":
                raise ValueError("%s: options of the redis backend, not of %r"
                                 % (", ".join(sorted(redis_options)), backend))
            if redis_url is not None and backend != "redis":
                raise ValueError("redis_url is for backend='redis', not %r" % (backend,))
            backend = backend_from_spec(spec_for_backend(backend, redis_url, maxsize, redis_options))
        elif not isinstance(backend, Backend):
            raise TypeError("backend must be 'memory', 'redis' or a covet.cache.Backend, got %r" % (backend,))
        elif redis_url is not None or redis_options:
            raise ValueError("redis_url and Redis options go with backend='redis', not with a backend object")
        super().__init__(maxsize, default_ttl, backend)
