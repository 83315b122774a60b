"""Levels of cache: small per-process memory levels in front of one shared store.

Reads try the nearest level first and copy what they find into the levels in front of it;
writes go to every level. A memory level keeps a copy for at most its own ttl, so another
worker's write or delete is seen after at most that long: pick it as the staleness you accept.
"""
import copy
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

from .backend import MISSING, AsyncFace, Backend, check_delta, check_ttl, stats_dict
from .memory import MemoryBackend

__all__ = ["MultiLevelBackend", "TwoLevelBackend", "DEFAULT_LOCAL_TTL", "DEFAULT_LOCAL_MAXSIZE"]

T = TypeVar("T")

# How long a worker may serve its local copy without asking the shared level.
DEFAULT_LOCAL_TTL = 5.0
DEFAULT_LOCAL_MAXSIZE = 1024


class MultiLevelBackend(AsyncFace):
    """Memory levels in front of a last, shared level (usually ``RedisBackend``).

    Every level but the last is a ``MemoryBackend``, whose ``default_ttl`` bounds how long it
    keeps a copy. Counters (``incr``) and ``touch`` go to the last level only and drop the
    copies in front of it. It writes the coroutine face; the plain face runs through the last
    level's ``run_blocking``.

    :param levels: nearest first.
    :param clock: monotonic seconds, the memory levels' clock; replace it in tests.

    Example::

        backend = MultiLevelBackend([MemoryBackend(1000, ttl=5), RedisBackend(redis)])
    """

    def __init__(self, levels: Sequence[Backend], *, clock: Callable[[], float] = time.monotonic) -> None:
        levels = list(levels)
        if not levels:
            raise ValueError("a multi-level cache needs at least one level")
        for level in levels:
            if not isinstance(level, Backend):
                raise TypeError("each level must be a cache backend (covet.cache.Backend), got %r" % (level,))
        for level in levels[:-1]:
            if not isinstance(level, MemoryBackend):
                raise ValueError("every level but the last must be a memory level (nothing else is faster "
                                 "than the level behind it), got %r" % (level,))
        self.levels: Tuple[Backend, ...] = tuple(levels)
        # Memory levels hold (value, the last level's deadline) so refresh-ahead sees the real age.
        self.near: Tuple[MemoryBackend, ...] = tuple(levels[:-1])  # type: ignore[arg-type]
        self.far: Backend = levels[-1]
        self._clock = clock
        self._view: Optional["MultiLevelBackend"] = None

    @property
    def default_ttl(self) -> float:  # type: ignore[override]
        """The last level's default lifetime."""
        return self.far.default_ttl

    @default_ttl.setter
    def default_ttl(self, value: float) -> None:
        self.far.default_ttl = value

    # -- the memory levels ---------------------------------------------------------
    def _keep(self, key: Any, value: Any, left: float, levels: Sequence[MemoryBackend]) -> None:
        if left <= 0:
            return
        entry = (value, self._clock() + left)
        for level in levels:
            level.set(key, entry, min(level.default_ttl, left))

    def _near(self, key: Any) -> Tuple[Any, float]:
        # The nearest copy still alive at the last level, copied into the levels in front of it.
        for i, level in enumerate(self.near):
            entry = level.get(key, MISSING)
            if entry is not MISSING:
                left = entry[1] - self._clock()
                if left > 0:
                    self._keep(key, entry[0], left, self.near[:i])
                    return entry[0], left
        return MISSING, 0.0

    def _drop(self, key: Any) -> None:
        for level in self.near:
            level.delete(key)

    def _over(self, far: Backend) -> "MultiLevelBackend":
        # This backend with its last level replaced by ``far`` (the twin a private loop runs on).
        if far is self.far:
            return self
        view = self._view
        if view is None or view.far is not far:
            view = copy.copy(self)
            view.far, view._view = far, None
            self._view = view
        return view

    def run_blocking(self, call: Callable[[Backend], Awaitable[T]]) -> T:
        """Through the last level's ``run_blocking``; the memory levels are shared."""
        return self.far.run_blocking(lambda far: call(self._over(far)))

    # -- the coroutine face ------------------------------------------------------------
    async def aget(self, key: Any, default: Any = None) -> Any:
        """The nearest level that has it."""
        value, _ = await self.aget_with_ttl(key)
        return default if value is MISSING else value

    async def aget_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left at the last level)``, or ``(MISSING, 0.0)``."""
        value, left = self._near(key)
        if value is MISSING:
            value, left = await self.far.aget_with_ttl(key)
            if value is not MISSING:
                self._keep(key, value, left, self.near)
        return value, left

    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Every level; the result is the last level's (a value it refuses is kept nowhere)."""
        seconds = self.resolve_ttl(ttl)
        stored = await self.far.aset(key, value, seconds)
        self._keep(key, value, seconds, self.near)
        return stored

    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """The memory levels for what they have, one call to the last level for the rest."""
        out: Dict[Any, Any] = {}
        rest: List[Any] = []
        for key in keys:
            value, _ = self._near(key)
            if value is MISSING:
                rest.append(key)
            else:
                out[key] = value
        if rest:
            found = await self.far.aget_many(rest)
            for key, value in found.items():
                # The last level's deadline is unknown here; each copy lives its level's ttl at most.
                self._keep(key, value, self.far.default_ttl, self.near)
            out.update(found)
        return out

    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Every level."""
        seconds = self.resolve_ttl(ttl)
        stored = await self.far.aset_many(mapping, seconds)
        for key, value in mapping.items():
            self._keep(key, value, seconds, self.near)
        return stored

    async def adelete(self, key: Any) -> bool:
        """Every level; True when the last level had it."""
        self._drop(key)
        return await self.far.adelete(key)

    async def aclear(self) -> None:
        """Every level."""
        for level in self.near:
            level.clear()
        await self.far.aclear()

    async def aincr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """At the last level only (counters must be shared); the copies in front are dropped."""
        delta, seconds = check_delta(delta), self.resolve_ttl(ttl)
        self._drop(key)
        return await self.far.aincr(key, delta, seconds)

    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """At the last level; the copies in front are dropped so its deadline is read again."""
        seconds = self.resolve_ttl(ttl)
        self._drop(key)
        return await self.far.atouch(key, seconds)

    async def ahas(self, key: Any) -> bool:
        """Any level."""
        return self._near(key)[0] is not MISSING or await self.far.ahas(key)

    async def adelete_prefix(self, prefix: str) -> int:
        """Every level; the last level's count."""
        for level in self.near:
            level.delete_prefix(prefix)
        return await self.far.adelete_prefix(prefix)

    async def adelete_pattern(self, pattern: str) -> int:
        """Every level; the last level's count."""
        for level in self.near:
            level.delete_pattern(pattern)
        return await self.far.adelete_pattern(pattern)

    # -- the rest --------------------------------------------------------------------
    def stats(self) -> Dict[str, Optional[int]]:
        """hits at any level, misses at the last, and the nearest level's evictions, expirations, size."""
        figures = [level.stats() for level in self.levels]
        nearest = figures[0]
        return stats_dict(sum(f["hits"] or 0 for f in figures), figures[-1]["misses"], nearest["evictions"],
                          nearest["expirations"], nearest["size"])

    def close(self) -> None:
        """Close the last level's private resources."""
        self.far.close()

    async def aclose(self) -> None:
        """Coroutine face of ``close``."""
        await self.far.aclose()


class TwoLevelBackend(MultiLevelBackend):
    """A small per-process memory cache in front of a shared backend (usually ``RedisBackend``).

    Reads try memory first and keep what they fetch for at most ``local_ttl`` seconds;
    writes go to both.

    Example::

        cache = Cache(ttl=300, backend=TwoLevelBackend(RedisBackend(redis), local_ttl=5))
    """

    def __init__(self, remote: Backend, *, local_maxsize: int = DEFAULT_LOCAL_MAXSIZE,
                 local_ttl: float = DEFAULT_LOCAL_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        local = MemoryBackend(local_maxsize, check_ttl(local_ttl, "local_ttl"), clock)
        super().__init__([local, remote], clock=clock)

    @property
    def local(self) -> MemoryBackend:
        """The memory level."""
        return self.near[0]

    @property
    def remote(self) -> Backend:
        """The shared level."""
        return self.far

    @property
    def local_ttl(self) -> float:
        """How long the memory level keeps a copy."""
        return self.near[0].default_ttl
