"""Reads on the event loop's own thread, with a time budget, for SQLite files.

A thread hop (post a job to a connection's thread, wake the loop when it is done) costs two
thread switches and a pipe write: tens of microseconds, more on a busy machine. SQLite runs in the
process, and a read by key takes a few microseconds. So a read outside a transaction is first
tried right here, on the loop's thread, on a connection of its own, under two guards that keep
the promise that the event loop is never blocked:

- a **time budget** (``inline_read_budget``, 1 ms): SQLite calls a progress handler every
  thousand virtual-machine steps, which stops the statement once the budget is spent. A read has
  no side effects, so it then simply runs again on a connection's thread; and a statement stopped
  :data:`STRIKES` times is remembered, so a slow statement goes straight to a thread from then on
  (the clock is the wall clock: a read the operating system paused on a busy machine overruns
  through no fault of its own, so one overrun is not enough to condemn it);
- **no waiting for locks**: the connection's busy timeout is zero, so a read that would wait
  (rare in WAL mode: a checkpoint truncating the log, recovery after a crash) fails at once and
  goes to a thread, where waiting is harmless.

``db.sync`` reads use the same per-thread connection on the calling worker thread, with no time
budget (blocking a worker is its job) but the same refusal to wait for a lock: like Django's
per-thread connections, this skips the pool's checkout for the commonest statement.

Writes, transactions (their statements run on the transaction's connection), ``iterate``,
``:memory:`` databases and connections made by a ``connection_factory`` always use threads.
``inline_read_budget=0`` turns it off.
"""
import sqlite3
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from .backend import RawConnection, SQLiteBackend
from .errors import OperationalError, translate_error

__all__ = ["InlineReads", "PROGRESS_STEPS", "STRIKES"]

#: SQLite virtual-machine steps between two looks at the clock: a few tens of microseconds of
#: work, so the budget is kept to within that, and a read by key (fewer steps) never pays a look.
PROGRESS_STEPS = 1000

#: Statements remembered as too slow to run inline (bounded: SQL comes from code).
_MAX_SLOW = 1024

#: Overruns before a statement is sent to threads for good. Three: one or two can be a pause of
#: the whole process (a busy machine); a statement that really needs more than the budget
#: overruns every time, and three reruns cost it a few milliseconds once.
STRIKES = 3

_perf_counter = time.perf_counter


class InlineReads:
    """Per event-loop thread, one extra read connection used inline (see the module docstring)."""

    def __init__(self, backend: SQLiteBackend, budget: float) -> None:
        self.backend = backend
        self.budget = budget
        self.slow: Set[str] = set()
        self._strikes: Dict[str, int] = {}
        self._local = threading.local()
        self._opened: List[RawConnection] = []
        self._lock = threading.Lock()
        # A database dropped without disconnect() closes these when collected. A weakref callback,
        # because the garbage collector runs those before any finaliser: left to themselves, the
        # sqlite3 connections could be finalised first, which Python 3.13 reports as unclosed.
        weakref.finalize(self, _close_all, self._opened)  # the list is never rebound, only emptied

    def current(self) -> Optional[RawConnection]:
        """This thread's inline connection, if it has been opened."""
        return self._local.__dict__.get("raw")

    def open(self) -> RawConnection:
        """Open this thread's inline connection (the caller does it off the loop, once)."""
        config = self.backend.config
        conn = sqlite3.connect(config.database, timeout=0, isolation_level=None, check_same_thread=False,
                               uri=config.database.startswith("file:"), cached_statements=256)
        try:
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.create_function("now", 0, self.backend.now)
            conn.row_factory = self.backend.row_factory
            deadline = [0.0]

            def progress() -> bool:
                return _perf_counter() > deadline[0]  # True stops the statement (SQLITE_INTERRUPT)

            conn.set_progress_handler(progress, PROGRESS_STEPS)
        except sqlite3.Error:
            conn.close()
            raise
        raw = RawConnection(self.backend)
        raw.dbapi = conn
        raw.deadline = deadline  # type: ignore[attr-defined]
        with self._lock:
            self._opened.append(raw)
        return raw

    def adopt(self, raw: RawConnection) -> Optional[RawConnection]:
        """Make ``raw`` (opened by :meth:`open`, maybe on another thread) this thread's connection.

        None when the database was disconnected while ``raw`` was being opened: :meth:`close`
        has closed it, and the caller goes through the pool instead.
        """
        with self._lock:
            if raw.closed:
                return None
            self._local.raw = raw
        return raw

    def run(self, raw: RawConnection, fn: Callable[..., Any], sql: str, params: Sequence[Any],
            budget: Optional[float] = None) -> Any:
        """``fn(raw, sql, params)`` inline; :data:`MOVE` if it must go to a thread instead.

        ``budget`` defaults to the configured one (the loop's thread); sync callers, on threads
        of their own, pass ``inf``: they may block, they only must not wait for a lock here.
        """
        raw.deadline[0] = _perf_counter() + (self.budget if budget is None else budget)  # type: ignore[attr-defined]
        try:
            return fn(raw, sql, params)
        except OperationalError as exc:
            return self._refused(exc, sql)

    def fetch_one(self, raw: RawConnection, sql: str, params: Sequence[Any], budget: Optional[float] = None) -> Any:
        """``run(raw, backend.fetch_one, sql, params, budget)`` written out: the commonest read of
        all (a row by key), one Python call fewer."""
        raw.deadline[0] = _perf_counter() + (self.budget if budget is None else budget)  # type: ignore[attr-defined]
        try:
            return raw.dbapi.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            error = translate_error(exc)
            if isinstance(error, OperationalError):
                return self._refused(error, sql)
            raise error from exc

    def _refused(self, exc: OperationalError, sql: str) -> Any:
        # MOVE for what a thread can do instead (an overrun, a lock wait); anything else is raised.
        message = str(exc)
        if message == "interrupted":
            strikes = self._strikes.get(sql, 0) + 1
            if strikes >= STRIKES:
                self._strikes.pop(sql, None)
                if len(self.slow) < _MAX_SLOW:
                    self.slow.add(sql)
            elif len(self._strikes) < _MAX_SLOW:
                self._strikes[sql] = strikes
            return MOVE
        if "locked" in message or "busy" in message:
            return MOVE
        raise exc

    def close(self) -> None:
        with self._lock:
            opened = list(self._opened)
            del self._opened[:]
            for raw in opened:
                raw.closed = True  # under the lock: a connection being opened now is never adopted
            self._local = threading.local()
        _close_all(opened)


def _close_all(opened: List[RawConnection]) -> None:
    for raw in opened:
        raw.closed = True
        try:
            raw.dbapi.close()
        except sqlite3.Error:
            pass
    del opened[:]


class _Move:
    """The marker :meth:`InlineReads.run` returns for "run it on a thread"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MOVE"


MOVE = _Move()
