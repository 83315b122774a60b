"""``Session``: the unit of work a request gets from ``Depends(db.session)``.

Objects added to a session are written together by :meth:`Session.commit`: one transaction,
every pending object flushed in the order it was added, then COMMIT; if anything fails, all of it
is rolled back and the error is raised. The session holds no connection until it needs one and
gives it back at commit, rollback or the end of the request, so a handler that only reads through
it costs no more than one that uses ``db`` directly.

Objects take part through two methods, which the ORM's models implement:
``await obj.__covet_flush__(conn, op)`` (``op`` is ``"save"`` or ``"delete"``) and
``await obj.__covet_refresh__(conn)``; and, when they define it, ``obj.__covet_rollback__()`` is called
for each object flushed in a transaction that then rolled back (a new object forgets the key its
INSERT gave it: kept, it would name a row that does not exist, or a later row that reuses the key).

Batches: when an object's class defines ``await cls.__covet_flush_many__(conn, op, objs)``, a run
of consecutive pending objects of exactly that class and the same ``op`` is handed to it in one
call (in the order they were added), so that the class can write them with few statements (one
multi-row INSERT instead of a thousand). Runs keep the order of the pending list; a run of one
object, or a class without the hook, gets ``__covet_flush__``. Every object of a run counts as
flushed before the call, so on a rollback ``__covet_rollback__`` is called for each of them: the
class must make that a no-op for an object its failed batch never reached.

Example::

    @app.post("/users", status_code=201)
    async def create_user(data: UserIn, session = Depends(db.session)):
        user = User(name=data.name, email=data.email)
        session.add(user)
        await session.commit()
        return {"id": user.id, "name": user.name}
"""
from typing import Any, AsyncIterator, Dict, Iterable, List, Optional, Tuple

from .connection import Connection, ExecuteResult, Transaction
from .errors import InterfaceError
from .records import Record

__all__ = ["Session"]


class Session:
    """Pending changes and the transaction that writes them; the query methods of the database."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.dialect = db.dialect
        # id(obj) -> (op, obj), in the order added: a dict, so that adding the thousandth object does
        # not compare it with the 999 before it (it holds the object, so the id stays its own).
        self._pending: Dict[int, Tuple[str, Any]] = {}
        self._conn: Optional[Connection] = None
        self._tx: Optional[Transaction] = None
        self._flushed: List[Any] = []  # objects flushed in the open transaction

    # -- connection and transaction --------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    async def begin(self) -> None:
        """Start the session's transaction now (``flush`` and ``commit`` do it when needed)."""
        if self._tx is not None:
            return
        raw = await self.db.pool.checkout()
        conn = Connection(self.db.pool, raw, self.db.gate)
        tx = Transaction(conn)
        try:
            await tx.__aenter__()
        except BaseException:
            conn.release()
            raise
        self._conn, self._tx = conn, tx

    async def _finish(self, commit: bool) -> None:
        tx, conn = self._tx, self._conn
        self._tx = self._conn = None
        flushed, self._flushed = self._flushed, []
        if tx is None:
            return
        committed = False
        try:
            if commit:
                await tx.commit()
                committed = True
            else:
                await tx.rollback()
        finally:
            conn.release()
            if not committed:
                for obj in reversed(flushed):
                    undo = getattr(obj, "__covet_rollback__", None)
                    if undo is not None:
                        undo()

    # -- the unit of work -------------------------------------------------------------------
    def add(self, obj: Any) -> None:
        """Save ``obj`` (insert or update) at the next flush or commit."""
        if not hasattr(obj, "__covet_flush__"):
            raise InterfaceError("%s cannot be added to a session: it is not a covet.database.orm Model"
                                 % type(obj).__name__)
        self._pending[id(obj)] = ("save", obj)  # an object already pending keeps its place

    def add_all(self, objs: Iterable[Any]) -> None:
        for obj in objs:
            self.add(obj)

    def delete(self, obj: Any) -> None:
        """Delete ``obj``'s row at the next flush or commit."""
        if not hasattr(obj, "__covet_flush__"):
            raise InterfaceError("%s cannot be deleted through a session: it is not a covet.database.orm Model"
                                 % type(obj).__name__)
        self._pending.pop(id(obj), None)
        self._pending[id(obj)] = ("delete", obj)

    @property
    def pending(self) -> List[Any]:
        """Objects waiting for the next flush."""
        return [obj for _, obj in self._pending.values()]

    async def flush(self) -> None:
        """Write pending objects inside the session's transaction, without committing."""
        if not self._pending:
            return
        await self.begin()
        pending, self._pending = list(self._pending.values()), {}
        conn = self._conn
        try:
            i, n = 0, len(pending)
            while i < n:
                op, obj = pending[i]
                cls = type(obj)
                many = getattr(cls, "__covet_flush_many__", None)
                j = i + 1
                if many is not None:
                    while j < n and pending[j][0] == op and type(pending[j][1]) is cls:
                        j += 1
                if j - i > 1:
                    run = [o for _, o in pending[i:j]]
                    self._flushed.extend(run)
                    await many(conn, op, run)
                else:
                    self._flushed.append(obj)
                    await obj.__covet_flush__(conn, op)
                i = j
        except BaseException:
            await self._finish(commit=False)
            raise

    async def commit(self) -> None:
        """Flush, then commit: all of it or, on an error, none of it (and the error is raised)."""
        try:
            await self.flush()
        except BaseException:
            self._pending = {}
            raise
        await self._finish(commit=True)

    async def rollback(self) -> None:
        """Forget pending objects and roll back what was flushed."""
        self._pending = {}
        await self._finish(commit=False)

    async def refresh(self, obj: Any) -> None:
        """Reload ``obj`` from its row (inside the session's transaction if one is open)."""
        if self._conn is not None:
            await obj.__covet_refresh__(self._conn)
            return
        async with self.db.connection() as conn:
            await obj.__covet_refresh__(conn)

    async def close(self) -> None:
        """End of the request: roll back anything not committed, give the connection back."""
        self._pending = {}
        await self._finish(commit=False)

    # -- queries -----------------------------------------------------------------------------
    def _target(self) -> Any:
        return self._conn if self._conn is not None else self.db

    async def fetch_all(self, sql: str, *params: Any) -> List[Record]:
        return await self._target().fetch_all(sql, *params)

    async def fetch_one(self, sql: str, *params: Any) -> Optional[Record]:
        return await self._target().fetch_one(sql, *params)

    async def fetch_val(self, sql: str, *params: Any) -> Any:
        return await self._target().fetch_val(sql, *params)

    async def execute(self, sql: str, *params: Any) -> ExecuteResult:
        return await self._target().execute(sql, *params)

    async def execute_many(self, sql: str, seq_of_params: Iterable[Any]) -> int:
        return await self._target().execute_many(sql, seq_of_params)

    async def iterate(self, sql: str, *params: Any) -> AsyncIterator[Record]:
        async for row in self._target().iterate(sql, *params):
            yield row

    def transaction(self, readonly: bool = False) -> Transaction:
        """A savepoint inside the session's transaction, or a transaction of the database."""
        if self._conn is not None:
            return self._conn.transaction(readonly)
        return self.db.transaction(readonly)

    fetch = fetch_all
    fetchrow = fetch_one
    fetchval = fetch_val
