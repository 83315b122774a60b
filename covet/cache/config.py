"""Backends by name: the level specs of ``MultiLevelCache`` and the ``backend=`` of ``CacheManager``.

A spec is a dict with a ``"type"``:

- ``{"type": "memory", "size": 1000, "ttl": 5}``: a ``MemoryBackend`` of ``size`` entries. In
  front of another level, ``ttl`` is how long it keeps a copy (default ``DEFAULT_LOCAL_TTL``).
- ``{"type": "redis", "url": "redis://host:6379/0", "prefix": "myapp:", "serializer": "json"}``:
  a ``RedisBackend`` on a client of its own, closed with the cache.

Unknown types and keys are refused with a ``ValueError`` that names them.
"""
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .backend import DEFAULT_TTL, Backend, check_ttl
from .memory import DEFAULT_MAXSIZE, MemoryBackend
from .multilevel import DEFAULT_LOCAL_TTL, MultiLevelBackend

__all__ = ["LevelSpec", "backend_from_spec", "backend_from_levels", "spec_for_backend", "redis_url_from_env",
           "REDIS_URL_VARIABLES", "CacheConfigError"]

#: A level: a spec dict, or a backend object used as is.
LevelSpec = Union[Mapping[str, Any], Backend]

#: Environment variables read, in order, when no Redis URL is given.
REDIS_URL_VARIABLES = ("COVET_REDIS_URL", "REDIS_URL")

_KEYS = {
    "memory": frozenset(("type", "size", "ttl")),
    "redis": frozenset(("type", "url", "prefix", "serializer", "log_interval")),
}


class CacheConfigError(RuntimeError):
    """A cache was asked for that is not configured (no Redis URL), with how to configure it."""


def redis_url_from_env() -> Optional[str]:
    """The first of ``COVET_REDIS_URL``, ``REDIS_URL`` that is set and not empty, else None."""
    for name in REDIS_URL_VARIABLES:
        url = os.environ.get(name)
        if url:
            return url
    return None


def backend_from_spec(spec: LevelSpec, front: bool = False) -> Backend:
    """The backend a spec names; ``front`` when another level sits behind it.

    Example::

        backend_from_spec({"type": "redis", "url": "redis://localhost:6379"})
    """
    if isinstance(spec, Backend):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError("a cache level is a dict like {'type': 'memory', 'size': 1000} or a backend, got %r"
                        % (spec,))
    kind = spec.get("type")
    allowed = _KEYS.get(kind)  # type: ignore[arg-type]
    if allowed is None:
        raise ValueError("cache level type must be one of %s, got %r" % (", ".join(map(repr, sorted(_KEYS))), kind))
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError("unknown key(s) %s in a %r cache level; it takes %s"
                         % (", ".join(map(repr, unknown)), kind, ", ".join(sorted(allowed))))
    if "ttl" in spec and not front:
        raise ValueError("only a level in front of another takes 'ttl' (how long it keeps a copy); "
                         "the cache's own default ttl is MultiLevelCache(levels, ttl=...)")
    if kind == "memory":
        # The last level's ttl is the cache's default, set by the cache.
        ttl = check_ttl(spec.get("ttl", DEFAULT_LOCAL_TTL)) if front else DEFAULT_TTL
        return MemoryBackend(spec.get("size", DEFAULT_MAXSIZE), ttl)
    from .redis import RedisBackend  # only a Redis level loads the Redis client

    url = spec.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError("a 'redis' cache level needs 'url', e.g. {'type': 'redis', 'url': 'redis://localhost:6379'}")
    options = {name: spec[name] for name in ("prefix", "serializer", "log_interval") if name in spec}
    return RedisBackend.from_url(url, **options)


def backend_from_levels(levels: Sequence[LevelSpec]) -> Backend:
    """One backend for ``levels`` (nearest first): the level itself when there is one,
    else a ``MultiLevelBackend``."""
    if isinstance(levels, (str, bytes, Mapping)) or not isinstance(levels, Sequence):
        raise TypeError("levels must be a list of level specs, nearest first, got %r" % (levels,))
    if not levels:
        raise ValueError("a multi-level cache needs at least one level")
    built: List[Backend] = [backend_from_spec(spec, front=i < len(levels) - 1) for i, spec in enumerate(levels)]
    return built[0] if len(built) == 1 else MultiLevelBackend(built)


def spec_for_backend(name: str, redis_url: Optional[str], maxsize: int, options: Dict[str, Any]) -> Dict[str, Any]:
    """The spec ``CacheManager(backend=name, ...)`` stands for."""
    if name == "memory":
        return {"type": "memory", "size": maxsize}
    if name == "redis":
        url = redis_url or redis_url_from_env()
        if not url:
            raise CacheConfigError("CacheManager(backend='redis') needs a Redis URL: pass redis_url="
                                   "'redis://host:6379/0' or set the COVET_REDIS_URL environment variable")
        return dict(options, type="redis", url=url)
    raise ValueError("backend must be 'memory', 'redis' or a covet.cache.Backend, got %r" % (name,))
