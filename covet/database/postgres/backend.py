"""PostgreSQL behind ``DatabaseManager``: covet's own client as a backend of the database layer.

``DatabaseManager("postgresql://app:secret@db.internal/shop")`` picks this backend (through
``covet.database.backend.backend_for``); the pool, transactions, the builder, the ORM and the
migrations then run on PostgreSQL unchanged. Every method returns an awaitable run on the
connection's event loop (``covet.database.native.LoopConnection``): no thread per connection.

What differs from SQLite, and why:

- placeholders become ``$1``.. (paramstyle ``dollar``), whatever style the SQL was written in;
- ``execute`` reports no ``lastrowid`` (PostgreSQL has none: the ORM uses ``RETURNING``);
- no write gate: PostgreSQL's row locks let writers run side by side;
- a script runs as one simple-protocol Query, so outside a transaction it is all or nothing;
- ``iterate`` streams through a server-side cursor (``DECLARE ... CURSOR``), inside the current
  transaction or in one it opens for the purpose;
- a connection that saw a protocol error or lost its server is discarded at checkin
  (``PGConnection.closed``), never handed out again.

Example::

    db = DatabaseManager("postgresql://app:secret@127.0.0.1:5432/shop?sslmode=require")
    await db.connect()
    row = await db.fetch_one("SELECT id, name FROM users WHERE id = ?", 1)
"""
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

from covet.database.backend import Dialect, RawConnection
from covet.database.config import DatabaseConfig
from covet.database.errors import DatabaseError, ProgrammingError
from covet.database.native import AsyncBackend
from covet.database.postgres.connection import PGConnection
from covet.database.postgres.startup import url_options
from covet.database.records import Record

__all__ = ["PostgresBackend", "connect_options"]


def connect_options(config: DatabaseConfig) -> dict:
    """``PGConnection.connect`` keywords for a :class:`DatabaseConfig` (its URL's query
    parameters that are not pool settings: ``sslmode``, ``sslrootcert``, ``connect_timeout``...).

    Example::

        config = DatabaseConfig.from_url("postgresql://app:pw@db/shop?sslmode=require")
        assert connect_options(config)["ssl_mode"] == "require"
    """
    kw = {"host": config.host or "localhost", "port": config.port or 5432, "user": config.username or "postgres",
          "password": config.password, "database": config.database or None}
    kw.update(url_options(config.options.items()))
    return kw


class _Cursor:
    """A server-side cursor of ``iterate``: its name and whether it opened its own transaction."""

    __slots__ = ("raw", "name", "own_transaction")

    def __init__(self, raw: RawConnection, name: str, own_transaction: bool) -> None:
        self.raw, self.name, self.own_transaction = raw, name, own_transaction


#: Cursors open per connection (by the driver connection's id): names are reused, so the FETCH
#: statements prepared for them stay a handful in the statement cache.
_open_cursors: Dict[int, int] = {}


class PostgresBackend(AsyncBackend):
    """covet's PostgreSQL client (``covet.database.postgres``) as a database backend.

    ``connection_factory``, when given, is an async callable returning a connected
    :class:`PGConnection` (your own TLS context, a registry with your types).
    """

    name = "postgresql"
    ping_after = 30.0

    def __init__(self, config: DatabaseConfig,
                 connection_factory: Optional[Callable[[], Awaitable[PGConnection]]] = None) -> None:
        super().__init__("postgresql", "dollar")
        self.config = config
        self.dialect = Dialect("postgresql", "dollar", True)
        self._factory = connection_factory
        self._options = connect_options(config) if connection_factory is None else {}

    # -- life -----------------------------------------------------------------------------
    async def open(self, raw: RawConnection) -> None:
        if self._factory is not None:
            raw.dbapi = await self._factory()
        else:
            raw.dbapi = await PGConnection.connect(**self._options)

    async def close(self, raw: RawConnection) -> None:
        if raw.dbapi is not None:
            await raw.dbapi.close()

    async def ping(self, raw: RawConnection) -> bool:
        try:
            await raw.dbapi.simple_query("")
            return not raw.dbapi.closed
        except DatabaseError:
            return False

    # -- statements: each returns the client's own coroutine (no wrapper frame per query) -------
    def fetch_all(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Awaitable[List[Record]]:
        return raw.dbapi.fetch_all(sql, params)  # type: ignore[no-any-return]

    def fetch_one(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Awaitable[Optional[Record]]:
        return raw.dbapi.fetch_one(sql, params)  # type: ignore[no-any-return]

    def fetch_val(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Awaitable[Any]:
        return raw.dbapi.fetch_val(sql, params)  # type: ignore[no-any-return]

    def execute(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Awaitable[Tuple[int, None]]:
        return raw.dbapi.execute(sql, params)  # type: ignore[no-any-return]

    def execute_many(self, raw: RawConnection, sql: str, seq: List[Any]) -> Awaitable[int]:
        return raw.dbapi.execute_many(sql, seq)  # type: ignore[no-any-return]

    def script_statements(self, script: str) -> List[str]:
        # A script takes no parameters, so nothing in it is a placeholder to translate (a jsonb
        # `?` operator stays one); the server splits it, dollar quotes and all.
        return [script]

    async def execute_script(self, raw: RawConnection, statements: List[str]) -> None:
        pg = raw.dbapi
        # A script's own BEGIN without its COMMIT (or one whose statement failed after BEGIN) is
        # rolled back here: the next user of the connection must not find itself inside it (as
        # on SQLite: covet.database.backend.SQLiteBackend). A failure keeps its own error.
        try:
            for script in statements:
                await pg.simple_query(script)
        except BaseException:
            if raw.depth == 0 and pg.in_transaction and not pg.closed:
                await pg.rollback()
            raise
        if raw.depth == 0 and pg.in_transaction:
            await pg.rollback()
            raise ProgrammingError("the script began a transaction it did not end (BEGIN without COMMIT): "
                                   "it was rolled back")

    # -- iterate: a server-side cursor ------------------------------------------------------
    async def cursor_open(self, raw: RawConnection, sql: str, params: Sequence[Any]) -> Tuple[_Cursor, List[str]]:
        pg = raw.dbapi
        own = raw.depth == 0 and not pg.in_transaction  # a cursor lives in a transaction
        if own:
            await pg.begin()
        depth = _open_cursors.get(id(pg), 0)
        cursor = _Cursor(raw, "covet_cursor_%d" % depth, own)
        _open_cursors[id(pg)] = depth + 1
        try:
            await pg.execute("DECLARE %s NO SCROLL CURSOR FOR %s" % (cursor.name, sql), params)
        except BaseException:
            self._forget_cursor(pg)
            if own and not pg.closed:
                await pg.rollback()
            raise
        return cursor, []

    @staticmethod
    def _forget_cursor(pg: PGConnection) -> None:
        left = _open_cursors.pop(id(pg), 1) - 1
        if left > 0:
            _open_cursors[id(pg)] = left

    async def cursor_batch(self, cursor: _Cursor, names: List[str], size: int) -> List[Record]:
        return await cursor.raw.dbapi.fetch_all("FETCH FORWARD %d FROM %s" % (size, cursor.name))  # type: ignore

    async def cursor_close(self, raw: RawConnection, cursor: _Cursor) -> None:
        pg = raw.dbapi
        self._forget_cursor(pg)
        if pg.closed:
            return
        try:
            if cursor.own_transaction:
                await pg.rollback() if pg.transaction_status == "E" else await pg.commit()
            elif pg.transaction_status == "T":
                await pg.simple_query("CLOSE " + cursor.name)
        except DatabaseError:
            pass  # the transaction's own end reports what went wrong

    # -- transactions -----------------------------------------------------------------------
    async def begin(self, raw: RawConnection, readonly: bool) -> None:
        if raw.depth == 0:
            await raw.dbapi.begin(readonly=readonly)
        else:
            await raw.dbapi.savepoint("covet_%d" % raw.depth)
        raw.depth += 1
        if raw.depth == 1:
            raw.readonly = readonly

    async def commit(self, raw: RawConnection) -> None:
        pg = raw.dbapi
        try:
            if raw.depth == 1:
                if pg.transaction_status == "E":
                    # COMMIT of a failed transaction is a ROLLBACK (the server says so only in a
                    # warning): a commit that did not happen is an error here.
                    await pg.rollback()
                    raise ProgrammingError("the transaction had failed (a statement in it raised an error that was "
                                           "caught): it was rolled back, not committed")
                await pg.commit()
            else:
                await pg.release_savepoint("covet_%d" % (raw.depth - 1))
        except BaseException:
            await self._abandon_async(raw)
            raise
        raw.depth -= 1

    async def rollback(self, raw: RawConnection) -> None:
        pg = raw.dbapi
        try:
            if raw.depth <= 1:
                if pg.in_transaction:
                    await pg.rollback()
            else:
                name = "covet_%d" % (raw.depth - 1)
                await pg.rollback_to_savepoint(name)
                await pg.release_savepoint(name)
        except BaseException:
            await self._abandon_async(raw)
            raise
        raw.depth = max(raw.depth - 1, 0)

    async def end(self, raw: RawConnection, commit: bool) -> None:  # type: ignore[override]
        if commit:
            await self.commit(raw)
        else:
            await self.rollback(raw)

    async def _abandon_async(self, raw: RawConnection) -> None:
        # A level that cannot end cleanly: roll the whole transaction back; a connection that
        # cannot even do that is discarded.
        raw.depth = 0
        pg = raw.dbapi
        try:
            if not pg.closed and pg.in_transaction:
                await pg.rollback()
        except BaseException:
            raw.closed = True

    async def reset(self, raw: RawConnection) -> None:  # type: ignore[override]
        """Leave no transaction open (a connection back from a cancelled or failed request)."""
        pg = raw.dbapi
        try:
            if pg is not None and not pg.closed and (raw.depth or pg.in_transaction):
                await pg.rollback()
        except BaseException:
            raw.closed = True
        finally:
            raw.depth = 0
