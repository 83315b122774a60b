"""The memory backend: a bounded LRU with a deadline per entry, in this process."""
import collections
import threading
import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from .backend import DEFAULT_TTL, MISSING, SyncFace, check_delta, check_prefix, check_ttl, not_an_integer, stats_dict

__all__ = ["MemoryBackend", "DEFAULT_MAXSIZE"]

DEFAULT_MAXSIZE = 10_000


class MemoryBackend(SyncFace):
    """A bounded LRU with a deadline per entry, guarded by one lock (thread-safe).

    Entries past their deadline are never returned: reads drop them, and the least
    recently used entry goes first when ``maxsize`` is reached, whatever the keys.
    Keys may be any hashable. It writes the plain face; the coroutines come from ``SyncFace``.

    :param maxsize: most entries held.
    :param ttl: default lifetime in seconds (``math.inf``: none).
    :param clock: monotonic seconds; replace it in tests.

    Example::

        cache = Cache(backend=MemoryBackend(maxsize=1000, ttl=60))
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError("maxsize must be a positive integer, got %r" % (maxsize,))
        self.maxsize = maxsize
        self.default_ttl = check_ttl(ttl)
        self._clock = clock
        # key -> (value, deadline); order is recency of use, oldest first.
        self._data: "collections.OrderedDict[Any, Tuple[Any, float]]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._expirations = 0

    def _deadline(self, ttl: Optional[float]) -> float:
        # PERF: resolve_ttl() written inline: one call less on every set.
        return self._clock() + (self.default_ttl if ttl is None else check_ttl(ttl))

    def _store(self, key: Any, value: Any, deadline: float) -> None:
        # Caller holds the lock.
        data = self._data
        data[key] = (value, deadline)
        data.move_to_end(key)
        if len(data) > self.maxsize:
            _, (_, old_deadline) = data.popitem(last=False)
            if old_deadline <= self._clock():
                self._expirations += 1
            else:
                self._evictions += 1

    def _live(self, key: Any) -> Optional[Tuple[Any, float]]:
        # Caller holds the lock. The entry if present and not expired; an expired one is dropped.
        entry = self._data.get(key)
        if entry is not None:
            if entry[1] > self._clock():
                return entry
            del self._data[key]
            self._expirations += 1
        return None

    def get(self, key: Any, default: Any = None) -> Any:
        """The value, or ``default`` when absent or expired."""
        # PERF: the hot path of every cache hit; _live() inlined.
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                if entry[1] > self._clock():
                    self._data.move_to_end(key)
                    self._hits += 1
                    return entry[0]
                del self._data[key]
                self._expirations += 1
            self._misses += 1
            return default

    def get_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left)``, or ``(MISSING, 0.0)``."""
        with self._lock:
            entry = self._live(key)
            if entry is None:
                self._misses += 1
                return MISSING, 0.0
            self._data.move_to_end(key)
            self._hits += 1
            return entry[0], entry[1] - self._clock()

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` for ``ttl`` seconds (default: the backend's); True."""
        deadline = self._deadline(ttl)
        with self._lock:
            self._store(key, value, deadline)
        return True

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""
        out = {}
        for key in keys:
            value = self.get(key, MISSING)
            if value is not MISSING:
                out[key] = value
        return out

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item with one deadline; True."""
        deadline = self._deadline(ttl)
        with self._lock:
            for key, value in mapping.items():
                self._store(key, value, deadline)
        return True

    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there (expired or not)."""
        with self._lock:
            return self._data.pop(key, MISSING) is not MISSING

    def clear(self) -> None:
        """Remove everything (statistics are kept)."""
        with self._lock:
            self._data.clear()

    def incr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Add ``delta`` to an integer value and return it; a missing key starts at 0 with ``ttl``,
        an existing one keeps its deadline."""
        delta = check_delta(delta)
        fresh_deadline = self._deadline(ttl)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                self._store(key, delta, fresh_deadline)
                return delta
            value = entry[0]
            if isinstance(value, bool) or not isinstance(value, int):
                raise not_an_integer(key)
            value += delta
            self._data[key] = (value, entry[1])
            self._data.move_to_end(key)
            return value

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present key a new lifetime; True when it was present."""
        deadline = self._deadline(ttl)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return False
            self._data[key] = (entry[0], deadline)
            self._data.move_to_end(key)
            return True

    def has(self, key: Any) -> bool:
        """True when the key is present and not expired (no hit or miss counted, no recency change)."""
        with self._lock:
            return self._live(key) is not None

    def delete_prefix(self, prefix: str) -> int:
        """Remove every str key starting with ``prefix``; the number removed."""
        check_prefix(prefix)
        with self._lock:
            doomed = [k for k in self._data if isinstance(k, str) and k.startswith(prefix)]
            for k in doomed:
                del self._data[k]
            return len(doomed)

    def stats(self) -> Dict[str, Optional[int]]:
        """hits, misses, evictions (live entries pushed out by maxsize), expirations, size."""
        with self._lock:
            return stats_dict(self._hits, self._misses, self._evictions, self._expirations, len(self._data))
