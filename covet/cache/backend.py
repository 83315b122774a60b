"""The backend contract: what a store must do to sit behind a ``Cache``.

A backend keeps entries (key -> value with a deadline) and offers every operation twice: a
plain method (``get``) and a coroutine with an ``a`` prefix (``aget``). It writes ONE of the
two faces and inherits the other from a mixin:

- ``SyncFace`` for stores that answer at once (``MemoryBackend``): the backend writes the
  plain methods; the coroutines call them (they never block for long, so they never yield).
- ``AsyncFace`` for stores behind I/O (``RedisBackend``, ``MultiLevelBackend``): the backend
  writes the coroutines and ``run_blocking``; the plain methods run the coroutines to completion
  through ``run_blocking``, so plain-``def`` code (handlers in the thread pool) can use them.

The same split as cachetools' ``Cache`` (one base class, each store implements it once) and
limits' ``storage/base.py`` (the contract written down as an abstract class).

Rules every backend keeps (the contract tests in tests/test_cache_contract.py run them against
each backend):

- ``get`` never returns an expired entry; ``default`` when absent. ``None`` is a value.
- TTLs are seconds, checked by ``check_ttl``; ``None`` means the backend's ``default_ttl``
  (``resolve_ttl``); ``math.inf`` means no expiry.
- ``incr`` on a missing key starts at 0 with the ttl; an existing counter keeps its deadline;
  a value that is not an int raises ``not_an_integer(key)``.
- A store that is down is a miss, not an exception: reads return the default, writes False,
  ``incr`` None; a value the store cannot hold (unserialisable) raises ``TypeError``.

Example (a backend of your own)::

    class DictBackend(SyncFace):
        def __init__(self, ttl=DEFAULT_TTL):
            self.default_ttl = check_ttl(ttl)
            self.data = {}
        def get(self, key, default=None): ...
        # ... every plain method of Backend; aget() and the other coroutines come from SyncFace.
"""
import abc
from typing import Any, Awaitable, Callable, Dict, Iterable, Mapping, Optional, Tuple, TypeVar

__all__ = ["Backend", "SyncFace", "AsyncFace", "MISSING", "DEFAULT_TTL", "check_ttl", "check_delta",
           "check_prefix", "not_an_integer", "stats_dict"]

T = TypeVar("T")

DEFAULT_TTL = 300.0


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: Returned as ``default`` sentinel where None is a legitimate cached value.
MISSING: Any = _Missing()


def check_ttl(ttl: Any, name: str = "ttl") -> float:
    """``ttl`` as float seconds, or ``TypeError``/``ValueError`` naming the bad value."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError("%s must be a number of seconds, got %r" % (name, ttl))
    if not ttl > 0:  # also rejects NaN
        raise ValueError("%s must be > 0 seconds (math.inf for no expiry), got %r" % (name, ttl))
    return float(ttl)


def check_delta(delta: Any) -> int:
    """An ``incr``/``decr`` amount: an int (not a bool)."""
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise TypeError("incr/decr amount must be an int, got %r" % (delta,))
    return delta


def check_prefix(prefix: Any) -> str:
    """A ``delete_prefix`` prefix: a str."""
    if not isinstance(prefix, str):
        raise TypeError("prefix must be a str, got %r" % (prefix,))
    return prefix


def not_an_integer(key: Any) -> TypeError:
    """The error ``incr`` raises when the cached value is not an integer."""
    return TypeError("cannot increment %r: its cached value is not an integer" % (key,))


def stats_dict(hits: int, misses: Optional[int], evictions: Optional[int] = None,
               expirations: Optional[int] = None, size: Optional[int] = None) -> Dict[str, Optional[int]]:
    """The shape of ``stats()``; None where a backend cannot know."""
    return {"hits": hits, "misses": misses, "evictions": evictions, "expirations": expirations, "size": size}


class Backend(abc.ABC):
    """The contract. Subclass ``SyncFace`` or ``AsyncFace`` rather than this class.

    :attr default_ttl: seconds used when an operation's ``ttl`` is None (``Cache`` sets it).
    """

    default_ttl: float = DEFAULT_TTL

    def resolve_ttl(self, ttl: Optional[float]) -> float:
        """``ttl`` checked, or ``default_ttl`` when None."""
        return self.default_ttl if ttl is None else check_ttl(ttl)

    # -- the plain face ----------------------------------------------------------
    @abc.abstractmethod
    def get(self, key: Any, default: Any = None) -> Any:
        """The value, or ``default`` when absent or expired."""

    @abc.abstractmethod
    def get_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left)`` (``math.inf`` without expiry), or ``(MISSING, 0.0)``."""

    @abc.abstractmethod
    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Store ``value`` for ``ttl`` seconds; False when the store is down."""

    @abc.abstractmethod
    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""

    @abc.abstractmethod
    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item with one ttl; False when the store is down."""

    @abc.abstractmethod
    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Remove every entry of this cache (and nothing else of a shared store)."""

    @abc.abstractmethod
    def incr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Add ``delta`` to an integer entry and return it; None when the store is down."""

    @abc.abstractmethod
    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present entry a new lifetime; True when it was present."""

    @abc.abstractmethod
    def has(self, key: Any) -> bool:
        """True when the key is present and not expired."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every str key starting with ``prefix``; the number removed."""

    @abc.abstractmethod
    def delete_pattern(self, pattern: str) -> int:
        """Remove every str key matching the glob ``pattern`` (Redis's glob: ``keys.glob_regex``);
        the number removed."""

    # -- the coroutine face ---------------------------------------------------------
    @abc.abstractmethod
    async def aget(self, key: Any, default: Any = None) -> Any:
        """Coroutine face of ``get``."""

    @abc.abstractmethod
    async def aget_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """Coroutine face of ``get_with_ttl``."""

    @abc.abstractmethod
    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set``."""

    @abc.abstractmethod
    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """Coroutine face of ``get_many``."""

    @abc.abstractmethod
    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set_many``."""

    @abc.abstractmethod
    async def adelete(self, key: Any) -> bool:
        """Coroutine face of ``delete``."""

    @abc.abstractmethod
    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""

    @abc.abstractmethod
    async def aincr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Coroutine face of ``incr``."""

    @abc.abstractmethod
    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``touch``."""

    @abc.abstractmethod
    async def ahas(self, key: Any) -> bool:
        """Coroutine face of ``has``."""

    @abc.abstractmethod
    async def adelete_prefix(self, prefix: str) -> int:
        """Coroutine face of ``delete_prefix``."""

    @abc.abstractmethod
    async def adelete_pattern(self, pattern: str) -> int:
        """Coroutine face of ``delete_pattern``."""

    # -- the rest --------------------------------------------------------------------
    @abc.abstractmethod
    def run_blocking(self, call: Callable[["Backend"], Awaitable[T]]) -> T:
        """Run ``await call(backend)`` to completion from plain code and return its result.

        ``backend`` is this backend as it exists where the coroutine runs (an ``AsyncFace``
        backend may hand over a twin bound to a private event loop). A multi-level backend
        written as coroutines uses its last level's ``run_blocking`` for its own plain face.
        """

    @abc.abstractmethod
    def stats(self) -> Dict[str, Optional[int]]:
        """``stats_dict(...)``: hits, misses, evictions, expirations, size (None where unknown)."""

    def close(self) -> None:
        """Release what the plain face holds (threads); the backend stays usable. Nothing by default."""

    async def aclose(self) -> None:
        """Release what both faces hold (connections too). ``close()`` by default."""
        self.close()


class SyncFace(Backend):
    """Mixin for a backend that writes the plain face: the coroutines call the plain methods.

    Those never block for long (a lock held for a dict operation), so calling them on the
    event loop is fine, and the coroutines never suspend.
    """

    async def aget(self, key: Any, default: Any = None) -> Any:
        """Coroutine face of ``get``."""
        return self.get(key, default)

    async def aget_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """Coroutine face of ``get_with_ttl``."""
        return self.get_with_ttl(key)

    async def aset(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set``."""
        return self.set(key, value, ttl)

    async def aget_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """Coroutine face of ``get_many``."""
        return self.get_many(keys)

    async def aset_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``set_many``."""
        return self.set_many(mapping, ttl)

    async def adelete(self, key: Any) -> bool:
        """Coroutine face of ``delete``."""
        return self.delete(key)

    async def aclear(self) -> None:
        """Coroutine face of ``clear``."""
        self.clear()

    async def aincr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Coroutine face of ``incr``."""
        return self.incr(key, delta, ttl)

    async def atouch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Coroutine face of ``touch``."""
        return self.touch(key, ttl)

    async def ahas(self, key: Any) -> bool:
        """Coroutine face of ``has``."""
        return self.has(key)

    async def adelete_prefix(self, prefix: str) -> int:
        """Coroutine face of ``delete_prefix``."""
        return self.delete_prefix(prefix)

    async def adelete_pattern(self, pattern: str) -> int:
        """Coroutine face of ``delete_pattern``."""
        return self.delete_pattern(pattern)

    def run_blocking(self, call: Callable[[Backend], Awaitable[T]]) -> T:
        """Drive ``call(self)`` without an event loop: this backend's coroutines never suspend."""
        coro: Any = call(self)
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        coro.close()
        raise RuntimeError("a coroutine over %s waited for I/O; run it on an event loop" % type(self).__name__)


class AsyncFace(Backend):
    """Mixin for a backend that writes the coroutine face and ``run_blocking``: the plain methods
    run the coroutines through ``run_blocking``.

    TTLs and amounts are checked here, in the caller's thread, before anything runs elsewhere.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        """The value, or ``default`` (also when the store is down)."""
        return self.run_blocking(lambda b: b.aget(key, default))

    def get_with_ttl(self, key: Any) -> Tuple[Any, float]:
        """``(value, seconds left)``, or ``(MISSING, 0.0)``."""
        return self.run_blocking(lambda b: b.aget_with_ttl(key))

    def set(self, key: Any, value: Any, ttl: Optional[float] = None) -> bool:
        """Store the value; False when the store is down."""
        seconds = self.resolve_ttl(ttl)
        return self.run_blocking(lambda b: b.aset(key, value, seconds))

    def get_many(self, keys: Iterable[Any]) -> Dict[Any, Any]:
        """A dict of the keys that are present."""
        keys = list(keys)
        return self.run_blocking(lambda b: b.aget_many(keys))

    def set_many(self, mapping: Mapping[Any, Any], ttl: Optional[float] = None) -> bool:
        """Store every item; False when the store is down."""
        seconds = self.resolve_ttl(ttl)
        return self.run_blocking(lambda b: b.aset_many(mapping, seconds))

    def delete(self, key: Any) -> bool:
        """Remove the key; True when it was there."""
        return self.run_blocking(lambda b: b.adelete(key))

    def clear(self) -> None:
        """Remove every entry of this cache."""
        self.run_blocking(lambda b: b.aclear())

    def incr(self, key: Any, delta: int = 1, ttl: Optional[float] = None) -> Optional[int]:
        """Add ``delta``; a new key starts at 0 with ``ttl``. None when the store is down."""
        delta, seconds = check_delta(delta), self.resolve_ttl(ttl)
        return self.run_blocking(lambda b: b.aincr(key, delta, seconds))

    def touch(self, key: Any, ttl: Optional[float] = None) -> bool:
        """Give a present key a new lifetime."""
        seconds = self.resolve_ttl(ttl)
        return self.run_blocking(lambda b: b.atouch(key, seconds))

    def has(self, key: Any) -> bool:
        """True when the key exists."""
        return self.run_blocking(lambda b: b.ahas(key))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; the number removed."""
        return self.run_blocking(lambda b: b.adelete_prefix(prefix))

    def delete_pattern(self, pattern: str) -> int:
        """Remove every key matching the glob ``pattern``; the number removed."""
        return self.run_blocking(lambda b: b.adelete_pattern(pattern))

