"""``PGConnection``: one PostgreSQL session on asyncio streams, on top of the sans-IO codec.

Queries use the extended protocol (Parse/Bind/Describe/Execute/Sync) with ``$1`` placeholders and a
per-connection LRU cache of named prepared statements keyed by the SQL and the parameters' type
OIDs; ``simple_query`` runs scripts. A server error (``ErrorResponse``) is raised after the
connection has read up to ReadyForQuery, so the connection stays usable; a protocol error, an
unexpected message or a lost connection marks it ``broken`` and closes it: never reuse it. A task
cancelled while its query runs sends a CancelRequest and drains before the cancellation goes on,
so the connection can go back to a pool. docs/postgres-protocol.md, "The connection".

Example::

    conn = await PGConnection.connect_url("postgresql://app:secret@127.0.0.1/shop?sslmode=verify-full"
                                          "&sslrootcert=/etc/ssl/pg-ca.pem")
    rows = await conn.fetch_all("SELECT id, name FROM users WHERE id > $1", [10])
    await conn.close()
"""
import asyncio
import collections
import logging
import re
import ssl
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from covet.database.postgres import frontend, messages
from covet.database.postgres.channel import PGChannel
from covet.database.postgres.errors import error_from_response
from covet.database.postgres.protocol import DEFAULT_MAX_MESSAGE_LEN
from covet.database.postgres.startup import (BASE_SETTINGS, ConnectError, Session, open_session, parse_url,
                                             resolve_ssl)
from covet.database.postgres.types import DEFAULT_REGISTRY, TypeRegistry
from covet.database.records import MappingRecord

__all__ = ["PGConnection", "QueryResult", "quote_ident"]

logger = logging.getLogger("covet.database.postgres")

_DataRow, _ReadyForQuery = messages.DataRow, messages.ReadyForQuery
_ASYNC_KINDS = frozenset((messages.NotificationResponse, messages.ParameterStatus, messages.NoticeResponse))
_SAVEPOINT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_ISOLATION = {"read committed": "READ COMMITTED", "repeatable read": "REPEATABLE READ",
              "serializable": "SERIALIZABLE", "read uncommitted": "READ UNCOMMITTED"}


class QueryResult(NamedTuple):
    """One statement's outcome in ``simple_query``: its command tag and its rows (text-decoded)."""

    tag: str
    rows: List[MappingRecord]


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes, inner quotes doubled.

    Example::

        assert quote_ident('a"b') == '"a""b"'
    """
    if not name or "\x00" in name:
        raise ValueError("an identifier is a non-empty string without NUL")
    return '"' + name.replace('"', '""') + '"'


class _Statement:
    __slots__ = ("name", "param_oids", "names", "formats", "decode_row", "plain")

    def __init__(self, name: str, param_oids: Tuple[int, ...], names: Tuple[str, ...], formats: Tuple[int, ...],
                 decode_row: Callable[[Sequence[Optional[bytes]]], Tuple[Any, ...]]) -> None:
        self.name, self.param_oids, self.names, self.formats, self.decode_row = (
            name, param_oids, names, formats, decode_row)
        # PERF: Bind + Execute + Sync without parameters, by Execute's row limit: built once
        # per statement, not per call.
        self.plain: Dict[int, bytes] = {}

    def bind_plain(self, max_rows: int) -> bytes:
        data = self.plain.get(max_rows)
        if data is None:
            data = (frontend.bind("", self.name, (), (), self.formats) + frontend.execute("", max_rows)
                    + frontend.SYNC)
            if len(self.plain) < 4:  # fetch_all's limit can be anything: keep the common few
                self.plain[max_rows] = data
        return data


class PGConnection(PGChannel):
    """One authenticated PostgreSQL session. Make it with :meth:`connect` or :meth:`connect_url`;
    one operation runs at a time (others wait their turn).

    Example::

        async with await PGConnection.connect("127.0.0.1", 5432, "app", "secret", "shop") as conn:
            assert await conn.fetch_val("SELECT $1::int + 1", [41]) == 42
    """

    def __init__(self, session: Session, host: str, port: int, registry: TypeRegistry,
                 statement_cache_size: int = 256, max_notifications: int = 10000,
                 cancel_timeout: float = 5.0) -> None:
        super().__init__(session, host, port, max_notifications, cancel_timeout)
        self.registry = registry
        self.statement_cache_size = statement_cache_size
        self._statements: "collections.OrderedDict[Tuple[str, Tuple[int, ...]], _Statement]" = (
            collections.OrderedDict())
        self._counter = 0
        self._to_close: List[str] = []

    # --- opening and closing -----------------------------------------------------------------

    @classmethod
    async def connect(cls, host: str = "localhost", port: int = 5432, user: str = "postgres",
                      password: Optional[str] = None, database: Optional[str] = None, *,
                      ssl_mode: Optional[str] = None, ssl_context: Optional[ssl.SSLContext] = None,
                      ca_file: Optional[str] = None, connect_timeout: Optional[float] = 10.0,
                      server_settings: Optional[Dict[str, str]] = None, application_name: Optional[str] = None,
                      statement_timeout: Optional[float] = None, allow_md5: bool = False,
                      allow_cleartext: bool = False, channel_binding: str = "prefer",
                      registry: Optional[TypeRegistry] = None, statement_cache_size: int = 256,
                      max_message_len: int = DEFAULT_MAX_MESSAGE_LEN,
                      max_notifications: int = 10000) -> "PGConnection":
        """Connect and authenticate, up to the first ReadyForQuery.

        :param ssl_mode: libpq's ``sslmode``; default ``verify-full`` when ``ca_file`` or
            ``ssl_context`` is given, else ``prefer``.
        :param statement_timeout: seconds, sent as the session's ``statement_timeout``.
        :param allow_md5: accept md5 password authentication (refused by default).
        :param allow_cleartext: send the password in clear when asked, on TLS only.

        Example::

            conn = await PGConnection.connect("127.0.0.1", 5432, "app", "secret", "shop",
                                              ca_file="/etc/ssl/pg-ca.pem")
        """
        mode, context = resolve_ssl(ssl_mode, ssl_context, ca_file)
        if statement_cache_size < 0:
            raise ValueError("statement_cache_size must be 0 or more")
        settings = dict(BASE_SETTINGS)
        settings["application_name"] = application_name or "covet"
        if statement_timeout is not None:
            settings["statement_timeout"] = "%d" % max(1, round(statement_timeout * 1000))
        settings.update(server_settings or {})
        coro = open_session(host, port, user, password, database, ssl_mode=mode, ssl_context=context,
                            settings=settings, allow_md5=allow_md5, allow_cleartext=allow_cleartext,
                            channel_binding=channel_binding, max_message_len=max_message_len)
        try:
            session = await asyncio.wait_for(coro, connect_timeout)
        except asyncio.TimeoutError:
            raise ConnectError("connecting to %s:%d timed out after %ss" % (host, port, connect_timeout)) from None
        except OSError as exc:
            raise ConnectError("cannot connect to %s:%d: %s" % (host, port, exc)) from None
        conn = cls(session, host, port, registry or DEFAULT_REGISTRY, statement_cache_size, max_notifications)
        if conn.registry.unresolved_types():
            try:
                await conn._resolve_types()
            except BaseException:
                await conn.close()
                raise
        return conn

    async def _resolve_types(self) -> None:
        """Look up the OIDs of the types the registry names but cannot number yet (an
        extension's, whose OIDs differ per database): once, at connect."""
        names = list(self.registry.unresolved_types())
        rows = await self.fetch_all("SELECT typname, oid, typarray FROM pg_catalog.pg_type WHERE typname = ANY($1) "
                                    "ORDER BY oid", [names])
        for row in rows:
            if row["typname"] in self.registry.unresolved_types():
                self.registry.resolve_type(row["typname"], oid=row["oid"], array_oid=row["typarray"])
        missing = self.registry.unresolved_types()
        if missing:
            logger.warning("PostgreSQL types %s are registered by name but not in this database: their values "
                           "come back as text", ", ".join(missing))

    @classmethod
    async def connect_url(cls, url: str, **options: Any) -> "PGConnection":
        """:meth:`connect` with the parts of a ``postgresql://user:pw@host:port/db?sslmode=...``
        URL (``sslmode``, ``sslrootcert``, ``connect_timeout``, ``application_name``,
        ``channel_binding``); ``options`` add to or override them.

        Example::

            conn = await PGConnection.connect_url("postgresql://app:pw@127.0.0.1:5432/shop?sslmode=require")
        """
        kw = parse_url(url)
        kw.update(options)
        return await cls.connect(**kw)

    # --- extended-protocol queries ----------------------------------------------------------------

    def _encode(self, params: Sequence[Any]) -> Tuple[Tuple[int, ...], List[int], List[Optional[bytes]]]:
        encode = self.registry.encode
        encoded = [encode(value) for value in params]
        return (tuple([p.oid for p in encoded]), [p.format for p in encoded], [p.data for p in encoded])

    async def _prepare(self, sql: str, oids: Tuple[int, ...]) -> _Statement:
        key = (sql, oids)
        statement = self._statements.get(key)
        if statement is not None:
            self._statements.move_to_end(key)
            return statement
        if self.statement_cache_size:
            self._counter += 1
            name = "covet_%d" % self._counter
        else:
            name = ""  # no cache: the unnamed statement, replaced by the next Parse, leaks nothing
        prepare = frontend.parse(name, sql, oids) + frontend.describe("S", name) + frontend.SYNC
        while self.statement_cache_size and len(self._statements) >= self.statement_cache_size:
            _, evicted = self._statements.popitem(last=False)
            self._to_close.append(evicted.name)  # free it on the server too
        batch = [self._closes(), prepare]
        self._send(b"".join(batch))
        param_oids: Tuple[int, ...] = oids
        fields: Tuple[messages.Field, ...] = ()
        error = None
        while self._pending:
            message = await self._recv()
            kind = type(message)
            if kind is messages.ParameterDescription:
                param_oids = message.oids  # type: ignore[attr-defined]
            elif kind is messages.RowDescription:
                fields = message.fields  # type: ignore[attr-defined]
            elif kind is messages.ErrorResponse:
                error = error or error_from_response(message.fields)  # type: ignore[attr-defined]
            elif kind not in (messages.ParseComplete, messages.CloseComplete, messages.NoData,
                              messages.ReadyForQuery):
                raise self._unexpected(message)
        if error is not None:
            raise error
        type_oids = [f.type_oid for f in fields]
        formats = tuple([self.registry.result_format(oid) for oid in type_oids])
        statement = _Statement(name, param_oids, tuple([f.name for f in fields]), formats,
                               self.registry.row_decoder(type_oids, formats))
        if self.statement_cache_size:
            self._statements[key] = statement
        return statement

    async def _read_results(self, statement: _Statement, rows: Optional[List[Any]], raw: bool = False) -> int:
        """Read BindComplete, rows and the completion of each Execute up to ReadyForQuery: the
        total row count when ``rows`` is None, else 0 (the rows go to ``rows``). A value that fails to decode is
        raised after the rest is read, so the connection stays in step."""
        names, decode_row = statement.names, statement.decode_row
        count = 0
        error: Optional[Exception] = None
        # PERF: _recv's loop written out here, so that every complete message (each row) is
        # handled without a coroutine call or an await; only waiting for bytes awaits.
        next_message, data_rows = self._parser.next_message, self._parser.data_rows
        wire = self._wire
        while self._pending:
            message = next_message()
            if message is None:
                await wire.more()
                continue
            kind = type(message)
            if kind is _DataRow:
                batch = data_rows()  # the rows received after this one, parsed in one call
                if rows is not None and error is None:
                    batch.insert(0, message.values)  # type: ignore[attr-defined]
                    append = rows.append
                    try:
                        if raw:
                            for fields in batch:
                                append(decode_row(fields))
                        else:
                            for fields in batch:
                                append(MappingRecord(zip(names, decode_row(fields))))
                    except Exception as exc:  # TypeCodecError, or a user codec's own
                        error = exc
            elif kind is _ReadyForQuery:
                self._pending -= 1
                self._status = message.status  # type: ignore[attr-defined]
            elif kind is messages.CommandComplete:
                if rows is None:  # PERF: the fetches count their rows themselves
                    count += message.row_count or 0  # type: ignore[attr-defined]
            elif kind in _ASYNC_KINDS:
                self._asynchronous(message)
            elif kind is messages.ErrorResponse:
                self._check_fatal(message)  # type: ignore[arg-type]
                if error is None:
                    error = error_from_response(message.fields)  # type: ignore[attr-defined]
                    # A cached plan whose result type changed (ALTER TABLE) or that is gone:
                    # drop it, so that the next call prepares the statement again.
                    if error.sqlstate in ("0A000", "26000"):
                        self._forget(statement)
            elif kind not in (messages.BindComplete, messages.PortalSuspended, messages.EmptyQueryResponse,
                              messages.CloseComplete):
                raise self._unexpected(message)
        if error is not None:
            raise error
        return count

    def _forget(self, statement: _Statement) -> None:
        for key, cached in list(self._statements.items()):
            if cached is statement:
                del self._statements[key]
                self._to_close.append(statement.name)  # Closed in the next extended batch

    def _closes(self) -> bytes:
        """Close messages for statements dropped from the cache, to lead the next batch (their
        CloseComplete replies come first, where the readers of that batch expect them)."""
        if not self._to_close:
            return b""
        names, self._to_close = self._to_close, []
        return b"".join([frontend.close("S", name) for name in names])

    async def _query(self, sql: str, params: Sequence[Any], rows: Optional[List[Any]],
                     max_rows: int = 0, raw: bool = False) -> int:
        if params:
            oids, formats, values = self._encode(params)
        else:
            oids, formats, values = (), [], []
        # PERF: PGChannel._operation written out (no closure, no coroutine for the frame); the
        # same turn-taking and the same handling of what an exception leaves.
        if self._busy or self.closed or self._idle_reader:
            await self._take_turn()
        else:
            self._busy = True
        try:
            key = (sql, oids)
            statement = self._statements.get(key)
            if statement is None:
                statement = await self._prepare(sql, oids)
            else:
                self._statements.move_to_end(key)
            if values:
                bound = (frontend.bind("", statement.name, formats, values, statement.formats)
                         + frontend.execute("", max_rows) + frontend.SYNC)
            else:
                bound = statement.bind_plain(max_rows)
            if self._to_close:
                bound = self._closes() + bound
            self._wire.write(bound)
            self._pending += 1
            return await self._read_results(statement, rows, raw)
        except BaseException as exc:
            await self._failed(exc)
            raise
        finally:
            self._end_turn()

    async def fetch_all(self, sql: str, params: Sequence[Any] = (), *,
                        limit: Optional[int] = None) -> List[MappingRecord]:
        """Every row (as dicts) the statement returns, all held in memory; ``limit`` stops the
        server after that many rows (Execute's row limit), bounding the memory taken.

        Example::

            rows = await conn.fetch_all("SELECT id, name FROM users WHERE team = $1", ["core"])
            assert rows[0]["name"] == "Ada"
        """
        if limit is not None and not 0 < limit <= 0x7FFFFFFF:
            raise ValueError("limit must be from 1 to 2147483647")
        rows: List[MappingRecord] = []
        await self._query(sql, params, rows, limit or 0)
        return rows

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Optional[MappingRecord]:
        """The first row, or None; the server stops after it."""
        rows: List[MappingRecord] = []
        await self._query(sql, params, rows, 1)
        return rows[0] if rows else None

    async def fetch_val(self, sql: str, params: Sequence[Any] = (), column: int = 0) -> Any:
        """One value of the first row (None without a row), by position: columns of the same
        name count apart here (a dict row keeps the last of them)."""
        rows: List[Tuple[Any, ...]] = []
        await self._query(sql, params, rows, 1, raw=True)
        return rows[0][column] if rows else None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Tuple[int, None]:
        """Run one statement: ``(rowcount, None)`` (PostgreSQL has no lastrowid: use RETURNING)."""
        return (await self._query(sql, params, None), None)

    async def execute_many(self, sql: str, seq_of_params: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each parameter set, all pipelined before one Sync: one round
        trip, and one implicit transaction (all or nothing) outside an explicit one. The total
        row count.

        Example::

            await conn.execute_many("INSERT INTO t (a, b) VALUES ($1, $2)", [(1, "x"), (2, "y")])
        """
        sets = list(seq_of_params)
        encoded = [self._encode(params) for params in sets]
        if not encoded:
            return 0
        oids = self._merged_oids([e[0] for e in encoded])
        for index, (row_oids, formats, values) in enumerate(encoded):
            if row_oids != oids:
                encoded[index] = self._retyped(sets[index], row_oids, oids,
                                               formats, values)

        async def work() -> int:
            statement = await self._prepare(sql, oids)
            bind, execute = frontend.bind, frontend.execute("", 0)
            parts = [b""]
            for _, formats, values in encoded:
                parts.append(bind("", statement.name, formats, values, statement.formats))
                parts.append(execute)
            parts.append(frontend.SYNC)
            parts[0] = self._closes()
            self._send(b"".join(parts))
            return await self._read_results(statement, None)

        return await self._operation(work)

    @staticmethod
    def _merged_oids(all_oids: List[Tuple[int, ...]]) -> Tuple[int, ...]:
        """Per column, the one type OID the non-NULL values agree on, else 0 (let the server infer)."""
        merged = []
        for column in zip(*all_oids):
            kinds = set(column) - {0}
            merged.append(kinds.pop() if len(kinds) == 1 else 0)
        return tuple(merged)

    def _retyped(self, params: Sequence[Any], row_oids: Tuple[int, ...], oids: Tuple[int, ...],
                 formats: List[int], values: List[Optional[bytes]]) -> Tuple[Tuple[int, ...], List[int],
                                                                             List[Optional[bytes]]]:
        # A value whose type differs from the statement's goes as its own text, which the
        # statement's parameter type parses (as psql would send it).
        formats, values = list(formats), list(values)
        for i, (mine, shared) in enumerate(zip(row_oids, oids)):
            if mine != shared and values[i] is not None and formats[i] == 1:
                codec = self.registry.codec(mine)
                if codec is None:
                    raise ValueError("no text encoding for parameter $%d" % (i + 1))
                formats[i], values[i] = 0, codec.encode_text(params[i]).encode("utf-8")
        return oids, formats, values

    # --- simple queries and transactions ----------------------------------------------------

    async def simple_query(self, sql: str) -> List[QueryResult]:
        """Run a script (several statements, no parameters) with the simple protocol: each
        statement's tag and rows, text-decoded. Outside a transaction the script runs as one.

        Example::

            results = await conn.simple_query("CREATE TABLE t (a int); INSERT INTO t VALUES (1)")
            assert [r.tag for r in results] == ["CREATE TABLE", "INSERT 0 1"]
        """
        data = frontend.query(sql)

        async def work() -> List[QueryResult]:
            self._send(data)
            results: List[QueryResult] = []
            rows: List[MappingRecord] = []
            names: Tuple[str, ...] = ()
            decode_row: Optional[Callable[[Sequence[Optional[bytes]]], Tuple[Any, ...]]] = None
            error: Optional[Exception] = None
            while self._pending:
                message = await self._recv()
                kind = type(message)
                if kind is messages.RowDescription:
                    fields = message.fields  # type: ignore[attr-defined]
                    names = tuple([f.name for f in fields])
                    decode_row = self.registry.row_decoder([f.type_oid for f in fields], [f.format for f in fields])
                elif kind is messages.DataRow and decode_row is not None:
                    if error is None:
                        try:  # a value that fails to decode is raised once the rest is read, as in _read_results
                            rows.append(MappingRecord(zip(names, decode_row(message.values))))  # type: ignore[attr-defined]
                        except Exception as exc:
                            error = exc
                elif kind is messages.CommandComplete:
                    results.append(QueryResult(message.tag, rows))  # type: ignore[attr-defined]
                    rows, decode_row = [], None
                elif kind is messages.ErrorResponse:
                    error = error or error_from_response(message.fields)  # type: ignore[attr-defined]
                elif kind is messages.CopyInResponse:
                    self._wire.write(frontend.copy_fail("COPY FROM STDIN needs copy_from()"))
                elif kind not in (messages.EmptyQueryResponse, messages.ReadyForQuery, messages.CopyOutResponse,
                                  messages.CopyData, messages.CopyDone):
                    raise self._unexpected(message)
            if error is not None:
                raise error
            return results

        return await self._operation(work)

    async def begin(self, isolation: Optional[str] = None, readonly: bool = False) -> None:
        """BEGIN, with an isolation level (``"serializable"``, ...) and READ ONLY if asked."""
        sql = "BEGIN"
        if isolation is not None:
            if isolation.lower() not in _ISOLATION:
                raise ValueError("isolation must be one of %s" % ", ".join(sorted(_ISOLATION)))
            sql += " ISOLATION LEVEL " + _ISOLATION[isolation.lower()]
        await self.simple_query(sql + (" READ ONLY" if readonly else ""))

    async def commit(self) -> None:
        await self.simple_query("COMMIT")

    async def rollback(self) -> None:
        await self.simple_query("ROLLBACK")

    async def savepoint(self, name: str) -> None:
        await self.simple_query("SAVEPOINT " + _savepoint_name(name))

    async def release_savepoint(self, name: str) -> None:
        await self.simple_query("RELEASE SAVEPOINT " + _savepoint_name(name))

    async def rollback_to_savepoint(self, name: str) -> None:
        await self.simple_query("ROLLBACK TO SAVEPOINT " + _savepoint_name(name))

    async def set_statement_timeout(self, seconds: Optional[float]) -> None:
        """The session's ``statement_timeout`` (None: no limit); a query running longer raises
        ``QueryCanceled``."""
        ms = 0 if seconds is None else max(1, round(seconds * 1000))
        await self.simple_query("SET statement_timeout = %d" % ms)


    # --- LISTEN / NOTIFY (notifications() is PGChannel's) ---------------------------------------

    async def listen(self, channel: str) -> None:
        """LISTEN on a channel; its notifications come from :meth:`notifications`."""
        await self.simple_query("LISTEN " + quote_ident(channel))

    async def unlisten(self, channel: str = "*") -> None:
        await self.simple_query("UNLISTEN " + ("*" if channel == "*" else quote_ident(channel)))

    async def notify(self, channel: str, payload: str = "") -> None:
        await self.execute("SELECT pg_notify($1, $2)", [channel, payload])

def _savepoint_name(name: str) -> str:
    if not _SAVEPOINT.fullmatch(name):
        raise ValueError("a savepoint name is a plain identifier (letters, digits, _), not %r" % (name,))
    return name

