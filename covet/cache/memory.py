"""The memory backend: an LRU with a deadline per entry, in this process, bounded in entries and in bytes.

Keys often come from clients (a page's URL, a function's arguments), so the store is bounded
both ways: past ``maxsize`` entries or ``maxbytes`` estimated bytes, the least recently used
entries go. ``estimate_size`` is the estimate.
"""
import collections
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from .backend import DEFAULT_TTL, MISSING, SyncFace, check_delta, check_prefix, check_ttl, not_an_integer, stats_dict
from .keys import glob_regex

__all__ = ["MemoryBackend", "DEFAULT_MAXSIZE", "DEFAULT_MAXBYTES", "ENTRY_OVERHEAD", "estimate_size"]

#: Most entries of a memory backend by default.
DEFAULT_MAXSIZE = 10_000
#: Most estimated bytes of a memory backend by default: 64 MiB holds the default 10,000 entries
#: at 6 KiB each (a typical HTML page or JSON document), and caps what a flood of distinct keys
#: (junk query strings, spoofed arguments) can make one worker hold, whatever the entry count.
DEFAULT_MAXBYTES = 64 * 1024 * 1024
#: Bytes an entry costs besides its key and value: the ordered dict's slot and link, the entry
#: tuple, its deadline and its size (about 230 bytes, measured with tracemalloc on CPython 3.11).
ENTRY_OVERHEAD = 240
# How deep estimate_size follows containers; deeper objects count their own size only. Bounds
# the walk on self-referencing values.
_MAX_DEPTH = 16
_LEAVES = frozenset((str, bytes, int, float, bool, type(None), complex))
_SEQUENCES = frozenset((list, tuple, set, frozenset))


def estimate_size(value: Any, _depth: int = 0) -> int:
    """Bytes ``value`` holds, as the memory backend counts them.

    ``sys.getsizeof`` of the value, plus, for lists, tuples, sets, frozensets and dicts, the
    estimates of their items (keys and values), and for other objects the estimate of their
    ``__dict__``. An object reachable twice is counted twice (an over-estimate); objects deeper
    than 16 levels, and the insides of objects with ``__slots__`` or of C types, count only
    their own ``sys.getsizeof``.

    Example::

        estimate_size(b"x" * 1000)   # 1033 on CPython
    """
    size = sys.getsizeof(value, 64)
    t = type(value)
    if t in _LEAVES or _depth >= _MAX_DEPTH:
        return size
    _depth += 1
    if t in _SEQUENCES:
        for item in value:
            size += estimate_size(item, _depth)
    elif t is dict:
        for k, v in value.items():
            size += estimate_size(k, _depth) + estimate_size(v, _depth)
    else:
        attrs = getattr(value, "__dict__", None)
        if type(attrs) is dict:
            size += estimate_size(attrs, _depth)
    return size


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("%s must be a positive integer, got %r" % (name, value))
    return value


class MemoryBackend(SyncFace):
    """An LRU with a deadline per entry, bounded in entries and in bytes, guarded by one lock
    (thread-safe).

    Entries past their deadline are never returned: reads drop them. When a store takes the
    backend past ``maxsize`` entries or ``maxbytes`` bytes (each entry costs
    ``estimate_size(key) + estimate_size(value) + ENTRY_OVERHEAD``), the least recently used
    entries go first, whatever the keys. A value that alone costs more than ``maxbytes`` is
    not stored: ``set`` returns False and drops what the key held before. Keys may be any
    hashable. It writes the plain face; the coroutines come from ``SyncFace``.

    :param maxsize: most entries held.
    :param ttl: default lifetime in seconds (``math.inf``: none).
    :param clock: monotonic seconds; replace it in tests.
    :param maxbytes: most estimated bytes held (keys, values and per-entry overhead).
    :attr total_bytes: the estimated bytes held now.

    Example::

        cache = Cache(backend=MemoryBackend(maxsize=1000, ttl=60, maxbytes=16 * 1024 * 1024))
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic, maxbytes: int = DEFAULT_MAXBYTES) -> None:
        self.maxsize = _check_positive("maxsize", maxsize)
        self.maxbytes = _check_positive("maxbytes", maxbytes)
        self.default_ttl = check_ttl(ttl)
        self._clock = clock
        # key -> (value, deadline, estimated bytes); order is recency of use, oldest first.
        self._data: "collections.OrderedDict[Any, Tuple[Any, float, int]]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._expirations = 0
        self.total_bytes = 0

    def _deadline(self, ttl: Optional[float]) -> float:
        # PERF: resolve_ttl() written inline: one call less on every set.
        return self._clock() + (self.default_ttl if ttl is None else check_ttl(ttl))

    def _store(self, key: Any, value: Any, deadline: float) -> bool:
        # Caller holds the lock. False when the value alone is over maxbytes (then not stored).
        data = self._data
        size = estimate_size(key) + estimate_size(value) + ENTRY_OVERHEAD
        old = data.pop(key, None)
        if old is not None:
            self.total_bytes -= old[2]
        if size > self.maxbytes:
            return False
        data[key] = (value, deadline, size)
        self.total_bytes += size
        while len(data) > self.maxsize or self.total_bytes > self.maxbytes:
            _, (_, old_deadline, old_size) = data.popitem(last=False)
            self.total_bytes -= old_size
            if old_deadline <= self._clock():
                self._expirations += 1
            else:
                self._evictions += 1
        return True

    def _drop(self, key: Any) -> bool:
        # Caller holds the lock.
        entry = self._data.pop(key, None)
        if entry is None:
            return False
        self.total_bytes -= entry[2]
        return True

    def _live(self, key: Any) -> Optional[Tuple[Any, float]]:
        # Caller holds the lock. The entry if present and not expired; an expired one is dropped.
        entry = self._data.get(key)
        if entry is not None:
            if entry[1] > self._clock():
                return entry
            self._drop(key)
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
                self._drop(key)
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
        """Store ``value`` for ``ttl`` seconds (default: the backend's); False when it alone is over
        ``maxbytes`` (not stored, and the key's old value dropped)."""
        deadline = self._deadline(ttl)
        with self._lock:
            return self._store(key, value, deadline)

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""
        out = {}
        for key in keys:
            value = self.get(key, MISSING)
            if value is not MISSING:
                out[key] = value
        return out

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item with one deadline; False when one was over ``maxbytes`` (the rest are stored)."""
        deadline = self._deadline(ttl)
        stored = True
        with self._lock:
            for key, value in mapping.items():
                stored = self._store(key, value, deadline) and stored
        return stored

    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there (expired or not)."""
        with self._lock:
            return self._drop(key)

    def clear(self) -> None:
        """Remove everything (statistics are kept)."""
        with self._lock:
            self._data.clear()
            self.total_bytes = 0

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
            self._store(key, value + delta, entry[1])
            return value + delta

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present key a new lifetime; True when it was present."""
        deadline = self._deadline(ttl)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return False
            self._data[key] = (entry[0], deadline, entry[2])
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
                self._drop(k)
            return len(doomed)

    def delete_pattern(self, pattern: str) -> int:
        """Remove every str key matching the glob ``pattern`` (as Redis's MATCH); the number removed."""
        match = glob_regex(pattern).match
        with self._lock:
            doomed = [k for k in self._data if isinstance(k, str) and match(k)]
            for k in doomed:
                self._drop(k)
            return len(doomed)

    def stats(self) -> Dict[str, Optional[int]]:
        """hits, misses, evictions (live entries pushed out by maxsize or maxbytes), expirations, size
        (entries; ``total_bytes`` has their estimated bytes)."""
        with self._lock:
            return stats_dict(self._hits, self._misses, self._evictions, self._expirations, len(self._data))
