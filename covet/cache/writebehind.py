"""Write-behind: the value goes into the cache at once; the write to the store of record waits in a
queue that one background thread empties in batches, every ``interval`` seconds and at close.

Rules (docs/caching.md says what each one risks):

- **Coalescing.** The queue holds one write per key: a later ``set_write_behind`` of a key whose
  write has not run yet replaces it (value and ``write_func``), so the store sees the last value
  only. Writes of one key never run concurrently or out of order: one thread runs them all.
- **Where a write runs.** ``write_func(value)`` is called on the flusher thread. If it returns an
  awaitable (an ``async def``, or a lambda around one) it is awaited on the event loop of the
  coroutine that queued it (``aset_write_behind``), so a database client bound to that loop works;
  that loop must still be running when the batch is flushed (``await cache.aclose()`` on it is).
- **Failures.** A write that raises is put back for the next batch, unless a newer write of the key
  has been queued meanwhile (the newer one wins); after ``max_attempts`` failures it is dropped,
  the key is deleted from the cache (it no longer matches the store, as with write-through) and one
  line per minute goes to the ``covet.cache`` logger.
- **Bounded.** At most ``max_pending`` keys wait; when full, ``enqueue`` says no and the caller
  writes through at once (back-pressure instead of dropping or growing without bound).
- **Shutdown.** ``close()``/``aclose()`` run batches until the queue is empty (each write gets its
  remaining attempts) and stop the thread; a later write starts a new one. A crash (SIGKILL, power
  loss) loses what is queued: at most the writes of the last ``interval`` seconds, plus writes
  waiting for a retry.
"""
import asyncio
import concurrent.futures
import inspect
import logging
import threading
from typing import Any, Awaitable, Callable, Dict, List, Optional

from .._logging import ThrottledLog
from .backend import Backend

__all__ = ["WriteBehind", "DEFAULT_FLUSH_INTERVAL", "DEFAULT_MAX_PENDING", "DEFAULT_MAX_ATTEMPTS", "WRITE_TIMEOUT"]

logger = logging.getLogger("covet.cache")

#: Seconds between two batches: what a crash may lose, against how many writes one batch coalesces.
DEFAULT_FLUSH_INTERVAL = 1.0
#: Keys whose write may wait at once (the memory backend's default entry count): past it, writes
#: go through at once rather than grow the queue without bound.
DEFAULT_MAX_PENDING = 10_000
#: Times a write is tried before it is dropped and logged.
DEFAULT_MAX_ATTEMPTS = 3
#: Seconds the flusher waits for one async write on its event loop before counting it a failure
#: (a write that hangs must not stop every other key's).
WRITE_TIMEOUT = 30.0
# One error line per this many seconds, however many writes fail.
_LOG_INTERVAL = 60.0


class PendingWrite:
    """One queued write: ``write(value)`` for ``key``, queued from ``loop`` (None: plain code)."""

    __slots__ = ("key", "value", "write", "loop", "attempts")

    def __init__(self, key: Any, value: Any, write: Callable[[Any], Any],
                 loop: Optional[asyncio.AbstractEventLoop]) -> None:
        self.key = key
        self.value = value
        self.write = write
        self.loop = loop
        self.attempts = 0


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class WriteBehind:
    """The write-behind queue of one cache and the thread that empties it.

    :param backend: the cache's backend (a write dropped after its last attempt deletes its key there).
    :attr interval: seconds between batches (settable; the next wait uses it).
    :attr max_pending: most keys waiting; a full queue makes the caller write through.
    :attr max_attempts: tries per write before it is dropped and logged.
    :attr written: writes that succeeded; :attr dropped: writes given up.

    Example::

        cache.write_behind.interval = 0.5          # Cache(...).write_behind is one of these
        cache.set_write_behind("user:1", user, db.save_user)
        cache.flush()                              # now, instead of within 0.5 s
    """

    def __init__(self, backend: Backend, interval: float = DEFAULT_FLUSH_INTERVAL,
                 max_pending: int = DEFAULT_MAX_PENDING, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.backend = backend
        self.interval = interval
        self.max_pending = max_pending
        self.max_attempts = max_attempts
        self.written = 0
        self.dropped = 0
        # key -> its write; insertion order is the order batches run in.
        self._pending: Dict[Any, PendingWrite] = {}
        self._cond = threading.Condition(threading.Lock())
        self._waiters: List["concurrent.futures.Future[None]"] = []
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._log = ThrottledLog(logger, _LOG_INTERVAL)

    def __len__(self) -> int:
        """Writes waiting now."""
        with self._cond:
            return len(self._pending)

    # -- queueing ----------------------------------------------------------------------
    def enqueue(self, key: Any, value: Any, write: Callable[[Any], Any],
                loop: Optional[asyncio.AbstractEventLoop]) -> bool:
        """Queue ``write(value)`` for ``key``, replacing a write of the key still waiting; False
        (nothing queued) when ``max_pending`` other keys wait: the caller writes through."""
        with self._cond:
            pending = self._pending
            if pending.pop(key, None) is None and len(pending) >= self.max_pending:
                return False
            pending[key] = PendingWrite(key, value, write, loop)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="covet-cache-write-behind", daemon=True)
                self._thread.start()
            return True

    # -- flushing (the thread) ---------------------------------------------------------------
    def _run(self) -> None:
        waiters: List["concurrent.futures.Future[None]"] = []
        while True:
            with self._cond:
                if not self._waiters and not self._stopping and not waiters:
                    self._cond.wait(self.interval)
                # Waiters that arrive during the batch below stay for the next one: a flush waits
                # for a batch that started after it asked.
                waiters += self._waiters
                self._waiters = []
                final = self._stopping
            self._batch()
            if final:
                with self._cond:
                    if self._pending:
                        continue  # retries, or writes queued while closing: one more batch
                    self._thread, self._stopping = None, False
                    waiters += self._waiters
                    self._waiters = []
            for waiter in waiters:
                waiter.set_result(None)
            waiters = []
            if final:
                return

    def _batch(self) -> None:
        with self._cond:
            batch, self._pending = list(self._pending.values()), {}
        for item in batch:
            try:
                self._write(item)
            except BaseException as exc:  # even SystemExit from a write must not kill the flusher
                self._failed(item, exc)
            else:
                self.written += 1

    def _write(self, item: PendingWrite) -> None:
        result = item.write(item.value)
        if not inspect.isawaitable(result):
            return
        loop = item.loop
        if loop is None or loop.is_closed() or not loop.is_running():
            close = getattr(result, "close", None)
            if close is not None:
                close()  # no "coroutine was never awaited" warning on top of the error
            if loop is None:
                item.attempts = self.max_attempts  # it can never work: no retry
                raise TypeError("set_write_behind() got an async write_func; use aset_write_behind() "
                                "from a coroutine")
            raise RuntimeError("the event loop that queued this write is no longer running")
        future = asyncio.run_coroutine_threadsafe(_await(result), loop)
        try:
            future.result(WRITE_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("the write took longer than %g s" % WRITE_TIMEOUT) from None

    def _failed(self, item: PendingWrite, exc: BaseException) -> None:
        item.attempts += 1
        with self._cond:
            if item.key in self._pending:
                return  # a newer write of the key is queued: it replaces this one
            if item.attempts < self.max_attempts:
                self._pending[item.key] = item
                return
            self.dropped += 1
        self._log.error("covet cache: write-behind of %r failed %d times and was dropped (the key is removed "
                        "from the cache): %r", item.key, item.attempts, exc)
        try:
            self.backend.delete(item.key)
        except Exception as delete_exc:  # a store that is down: the entry expires with its ttl
            self._log.error("covet cache: could not delete %r after its write failed: %r", item.key, delete_exc)

    # -- asking the thread ----------------------------------------------------------------------
    def _ask(self, stop: bool) -> "Optional[concurrent.futures.Future[None]]":
        # A future done when a batch that started after now has run (and, with ``stop``, the
        # queue is empty and the thread gone). None when there is nothing to do.
        with self._cond:
            if self._thread is None:
                return None
            waiter: "concurrent.futures.Future[None]" = concurrent.futures.Future()
            self._waiters.append(waiter)
            if stop:
                self._stopping = True
            self._cond.notify()
            return waiter

    def _check_not_on_own_loop(self, what: str) -> None:
        loop = _running_loop()
        if loop is None:
            return
        with self._cond:
            mine = any(item.loop is loop for item in self._pending.values())
        if mine:
            # The thread would wait for this loop to run the writes while this call blocks it.
            raise RuntimeError("cache.%s() on the event loop whose coroutines queued writes would block it "
                               "forever; use await cache.a%s()" % (what, what))

    def flush(self) -> None:
        """Run a batch now and wait for it (from plain code; coroutines use ``aflush``)."""
        self._check_not_on_own_loop("flush")
        waiter = self._ask(stop=False)
        if waiter is not None:
            waiter.result()

    async def aflush(self) -> None:
        """Coroutine face of ``flush``: the loop stays free to run the async writes meanwhile."""
        waiter = self._ask(stop=False)
        if waiter is not None:
            await asyncio.wrap_future(waiter)

    def close(self) -> None:
        """Write everything queued (each write gets its remaining attempts), then stop the thread."""
        self._check_not_on_own_loop("close")
        waiter = self._ask(stop=True)
        if waiter is not None:
            waiter.result()

    async def aclose(self) -> None:
        """Coroutine face of ``close``."""
        waiter = self._ask(stop=True)
        if waiter is not None:
            await asyncio.wrap_future(waiter)
