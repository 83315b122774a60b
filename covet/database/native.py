"""Connections of async-native drivers: a driver connection that lives on an event loop.

covet's own PostgreSQL client speaks the protocol on asyncio streams, so unlike a DB-API driver it
needs no worker thread: a query is a coroutine on the loop that opened the connection. The pool,
the transactions and ``db.sync`` are written against :class:`covet.database.backend.RawConnection`'s
three ways of running a job (``run`` for async callers, ``call`` for sync ones, ``post`` for
clean-up nobody waits for); :class:`LoopConnection` gives the same three on a loop:

- ``run`` from the connection's own loop is the driver's coroutine itself, awaited in the caller's
  task: no thread, no extra task. From another loop (a connection opened by ``db.sync``, used by
  async code) the coroutine is handed to its loop and the result comes back as a future.
- ``call`` (sync code, a thread that is not the loop's) hands the coroutine to the connection's
  loop and waits. A connection first opened by sync code lives on the backend's own small loop
  thread (:meth:`AsyncBackend.sync_loop`), since plain ``def`` code and scripts have no loop.
- ``post`` runs jobs in the order posted, each after the one before it has finished, as a worker
  thread runs its queue: a cancelled request's rollback goes after the statement it interrupted.

A connection whose loop has closed (``asyncio.run`` returned while the pool still held it) is dead:
the pool finds it so (:meth:`LoopConnection.alive`) and opens another.
"""
import asyncio
import inspect
import threading
import weakref
from typing import Any, Callable, Optional, Set, Tuple

from .backend import Backend, RawConnection

__all__ = ["AsyncBackend", "LoopConnection"]

_running_loop = asyncio._get_running_loop  # public in asyncio.events.__all__; None off a loop's thread


async def _job(fn: Callable[..., Any], args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _after(previous: "Optional[asyncio.Future[Any]]", fn: Callable[..., Any], args: Any) -> Any:
    if previous is not None and not previous.done():
        try:
            await asyncio.wait([previous])
        except BaseException:  # cancelled itself (the loop is ending): the job still runs below
            pass
    return await _job(fn, args)


class LoopConnection(RawConnection):
    """A driver connection bound to the event loop it was opened on (see the module docstring)."""

    __slots__ = ("loop", "_tail", "_gone")

    def __init__(self, backend: "AsyncBackend") -> None:
        super().__init__(backend)
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._tail: "Optional[asyncio.Future[Any]]" = None  # the last posted job

    # ``closed`` also says whether the driver closed the connection itself (a protocol error, a
    # server that went away): such a connection is discarded at checkin, never reused.
    @property  # type: ignore[override]
    def closed(self) -> bool:
        driver = self.dbapi
        return self._gone or (driver is not None and driver.closed)

    @closed.setter
    def closed(self, value: bool) -> None:
        self._gone = value

    def alive(self, loop: Optional[asyncio.AbstractEventLoop]) -> bool:
        """Whether a caller on ``loop`` (None: a thread with no loop) can use this connection."""
        own = self.loop
        if own is None or self.closed or own.is_closed():
            return False
        return own is loop or own.is_running()

    def run(self, loop: Any, fn: Callable[..., Any], *args: Any) -> Any:
        own = self.loop
        if own is None:
            own = self.loop = loop  # opened here: the connection lives on this loop
            _watch(self, loop)
        if own is loop:
            if self._tail is None or self._tail.done():
                self._tail = None
                return fn(*args)  # an async backend's methods return awaitables: no wrapper
            return _after(self._tail, fn, args)
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_after(self._tail, fn, args), own), loop=loop)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        own = self.loop
        if own is None:
            own = self.loop = self.backend.sync_loop()  # type: ignore[attr-defined]
            own.call_soon_threadsafe(_watch, self, own)
        if own is _running_loop():
            raise RuntimeError("a sync database call on its connection's own event loop would wait forever")
        return asyncio.run_coroutine_threadsafe(_after(self._tail, fn, args), own).result()

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        own = self.loop
        if own is None or own.is_closed():
            # Nothing ever ran on it, or its loop is gone: the driver cannot be reached; close
            # jobs have nothing to do, and anything else must not reuse it.
            self._gone = True
            if not inspect.iscoroutinefunction(fn):
                fn(*args)
            return
        if own is _running_loop():
            self._chain(fn, args)
        else:
            try:
                own.call_soon_threadsafe(self._chain, fn, args)
            except RuntimeError:  # closed in between
                self._gone = True

    def _chain(self, fn: Callable[..., Any], args: Any) -> None:
        task = self.loop.create_task(_after(self._tail, fn, args))  # type: ignore[union-attr]
        task.add_done_callback(_consume)
        self._tail = task

    def __del__(self) -> None:
        # Unlike a thread's connection, this one cannot be closed from a finaliser (that would
        # mean running the loop): its transport closes itself when collected.
        pass

    async def aclose(self) -> None:
        if self._gone:
            return
        own = self.loop
        if self.dbapi is None or own is None or own.is_closed():
            self._gone = True
            return
        self._gone = True
        _unwatch(self)
        job = _after(self._tail, self.backend.close, (self,))
        if own is _running_loop():
            await job
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(job, own))

    def close(self) -> None:
        if self._gone:
            return
        if self.dbapi is not None:
            self.post(self.backend.close, self)  # after what is still running on it
        self._gone = True
        _unwatch(self)


# -- closing what a loop leaves behind -------------------------------------------------------
# A connection still open when its loop ends (asyncio.run returning without db.disconnect(), a
# test that forgot it) could never be closed afterwards: its transport needs the loop, and would
# be reported unclosed when collected. So each loop with connections of ours gets one idle
# "reaper" task. asyncio.run cancels every task before it closes the loop; cancelled, the reaper
# closes the connections still open (Terminate, then the socket), while the loop still runs.
_watched: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Tuple[asyncio.Task[None], Set[LoopConnection]]]" = (
    weakref.WeakKeyDictionary())


def _watch(raw: LoopConnection, loop: asyncio.AbstractEventLoop) -> None:
    entry = _watched.get(loop)
    if entry is None or entry[0].done():
        conns: Set[LoopConnection] = set()
        task = loop.create_task(_reap(conns))
        entry = _watched[loop] = (task, conns)
    entry[1].add(raw)


def _unwatch(raw: LoopConnection) -> None:
    loop = raw.loop
    entry = _watched.get(loop) if loop is not None else None
    if entry is not None:
        entry[1].discard(raw)
        if not entry[1]:
            del _watched[loop]  # type: ignore[arg-type]
            if not loop.is_closed():  # type: ignore[union-attr]
                try:
                    loop.call_soon_threadsafe(entry[0].cancel)  # type: ignore[union-attr]
                except RuntimeError:
                    pass


async def _reap(conns: Set[LoopConnection]) -> None:
    try:
        await asyncio.get_running_loop().create_future()  # until cancelled
    except asyncio.CancelledError:
        for raw in list(conns):
            conns.discard(raw)
            if raw._gone or raw.dbapi is None:
                continue
            raw._gone = True
            try:
                await raw.backend.close(raw)
            except BaseException:
                pass  # going away regardless
        raise


def _consume(task: "asyncio.Task[Any]") -> None:
    # A posted job's failure has nobody to go to; the job itself logs what matters.
    if not task.cancelled():
        task.exception()


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    ready.set()
    try:
        loop.run_forever()
        # Stopped (its backend was collected): end as asyncio.run ends, so the reaper closes the
        # connections still open here, then close the loop itself.
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    finally:
        loop.close()


def _stop(loop: asyncio.AbstractEventLoop) -> None:
    if not loop.is_closed():
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass


class AsyncBackend(Backend):
    """A backend whose driver is async-native: its methods return awaitables, run by
    :class:`LoopConnection`. ``sync_loop`` is the loop thread that serves ``db.sync``."""

    raw_class = LoopConnection

    def __init__(self, name: str, paramstyle: str) -> None:
        super().__init__(None, self._no_dbapi, paramstyle, name)
        self._sync_loop: Optional[asyncio.AbstractEventLoop] = None
        self._sync_lock = threading.Lock()

    @staticmethod
    def _no_dbapi() -> Any:
        raise TypeError("an async-native backend opens connections with open(), not a DB-API connect")

    def sync_loop(self) -> asyncio.AbstractEventLoop:
        """The loop (on a daemon thread of its own) where connections opened by sync code live."""
        with self._sync_lock:
            loop = self._sync_loop
            if loop is None or loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                threading.Thread(target=_serve, args=(loop, ready), name="covet-db-sync-loop", daemon=True).start()
                ready.wait()
                self._sync_loop = loop
                weakref.finalize(self, _stop, loop)
            return loop
