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
from typing import (Any, AsyncIterator, Awaitable, Callable, Deque, Dict, Iterable, List, NamedTuple, Optional,
                    Sequence, Tuple, Union)

from covet.database.postgres import frontend, messages
from covet.database.postgres.errors import ProtocolError, ServerError, error_from_response
from covet.database.postgres.protocol import DEFAULT_MAX_MESSAGE_LEN
from covet.database.postgres.startup import (BASE_SETTINGS, ConnectError, Session, open_session, parse_url,
                                             resolve_ssl)
from covet.database.postgres.types import DEFAULT_REGISTRY, TypeRegistry
from covet.database.records import MappingRecord

__all__ = ["PGConnection", "QueryResult", "quote_ident"]

logger = logging.getLogger("covet.database.postgres")

_READ_SIZE = 65536
_COPY_CHUNK = 65536
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
    __slots__ = ("name", "param_oids", "names", "formats", "decode_row")

    def __init__(self, name: str, param_oids: Tuple[int, ...], names: Tuple[str, ...], formats: Tuple[int, ...],
                 decode_row: Callable[[Sequence[Optional[bytes]]], Tuple[Any, ...]]) -> None:
        self.name, self.param_oids, self.names, self.formats, self.decode_row = (
            name, param_oids, names, formats, decode_row)


class PGConnection:
    """One authenticated PostgreSQL session. Make it with :meth:`connect` or :meth:`connect_url`;
    one operation runs at a time (others wait their turn).

    Example::

        async with await PGConnection.connect("127.0.0.1", 5432, "app", "secret", "shop") as conn:
            assert await conn.fetch_val("SELECT $1::int + 1", [41]) == 42
    """

    def __init__(self, session: Session, host: str, port: int, registry: TypeRegistry,
                 statement_cache_size: int = 256, max_notifications: int = 10000,
                 cancel_timeout: float = 5.0) -> None:
        self._reader, self._writer, self._parser = session.reader, session.writer, session.parser
        self.parameters: Dict[str, str] = session.parameters
        self.backend_pid, self._secret = session.pid, session.secret
        self.tls = session.tls
        self._status = session.status
        self._host, self._port = host, port
        self.registry = registry
        self.statement_cache_size = statement_cache_size
        self.cancel_timeout = cancel_timeout
        self._statements: "collections.OrderedDict[Tuple[str, Tuple[int, ...]], _Statement]" = (
            collections.OrderedDict())
        self._counter = 0
        self._lock = asyncio.Lock()
        self._pending = 0  # ReadyForQuery messages still owed to us (one per Sync or Query)
        self._copy_in = False
        self.broken = False
        self.closed = False
        self._notifications: Deque[messages.NotificationResponse] = collections.deque()
        self.max_notifications = max_notifications
        self.notifications_dropped = 0
        self._wake = asyncio.Event()
        self._idle_read: "Optional[asyncio.Future[bytes]]" = None

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
        return cls(session, host, port, registry or DEFAULT_REGISTRY, statement_cache_size, max_notifications)

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

    async def close(self) -> None:
        """Send Terminate and close the socket; closing twice does nothing."""
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        try:
            if not self.broken:
                self._writer.write(frontend.TERMINATE)
            self._writer.close()
            await self._writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass  # the peer is gone already: closed is closed

    def _break(self, reason: BaseException) -> None:
        if not self.broken:
            logger.warning("PostgreSQL connection to %s:%d is broken and closed: %s", self._host, self._port, reason)
        self.broken = True
        self.closed = True
        self._wake.set()
        self._writer.close()

    async def __aenter__(self) -> "PGConnection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # --- state ---------------------------------------------------------------------------------

    @property
    def transaction_status(self) -> str:
        """The last ReadyForQuery's status: ``I`` idle, ``T`` in a transaction, ``E`` in a failed one."""
        return self._status

    @property
    def in_transaction(self) -> bool:
        return self._status != "I"

    @property
    def is_usable(self) -> bool:
        """Open, not broken and not in the middle of anything: what a pool checks before reuse."""
        return not self.closed and not self._lock.locked() and self._pending == 0

    # --- reading ---------------------------------------------------------------------------------

    async def _recv(self) -> messages.BackendMessage:
        """The next message of the current operation; asynchronous ones are handled here."""
        parser = self._parser
        while True:
            message = parser.next_message()
            if message is None:
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    raise ConnectError("the server closed the connection")
                parser.feed(data)
                continue
            kind = type(message)
            if kind is messages.NotificationResponse:
                self._queue_notification(message)  # type: ignore[arg-type]
            elif kind is messages.ParameterStatus:
                self.parameters[message.name] = message.value  # type: ignore[attr-defined]
            elif kind is messages.NoticeResponse:
                logger.info("PostgreSQL %s: %s", message.severity, message.message)  # type: ignore[attr-defined]
            else:
                if kind is messages.ReadyForQuery:
                    self._pending -= 1
                    self._status = message.status  # type: ignore[attr-defined]
                return message

    async def _finish(self, error: Optional[ServerError]) -> None:
        """Read to the ReadyForQuery of the current Sync, keeping the first server error."""
        while self._pending:
            message = await self._recv()
            if isinstance(message, messages.ErrorResponse) and error is None:
                error = error_from_response(message.fields)
        if error is not None:
            raise error

    def _unexpected(self, message: messages.BackendMessage) -> ProtocolError:
        return ProtocolError("unexpected %s from the server" % type(message).__name__)

    # --- the operation frame ---------------------------------------------------------------------

    async def _operation(self, work: Callable[[], Awaitable[Any]]) -> Any:
        if self.closed:
            raise ConnectError("the connection is %s" % ("broken" if self.broken else "closed"))
        async with self._lock:
            try:
                await self._take_idle_read()
                return await work()
            except asyncio.CancelledError:
                await self._recover_from_cancel()
                raise
            except ServerError:
                raise  # already read to ReadyForQuery: the connection is fine
            except BaseException as exc:
                # Nothing sent yet (a value that cannot be encoded): the connection is intact.
                if self._pending or isinstance(exc, (ProtocolError, ConnectError, OSError, ssl.SSLError)):
                    self._break(exc)
                raise
            finally:
                self._wake.set()

    async def _recover_from_cancel(self) -> None:
        if self._pending == 0 or self.closed:
            return
        try:
            await asyncio.wait_for(self._cancel_and_drain(), self.cancel_timeout)
        except BaseException as exc:  # a second cancellation or a timeout: give the connection up
            self._break(exc)

    async def _cancel_and_drain(self) -> None:
        if self._copy_in:
            # The server waits for our data, not running anything a CancelRequest would stop.
            self._writer.write(frontend.copy_fail("cancelled by the client"))
            self._copy_in = False
        else:
            reader, writer = await asyncio.open_connection(self._host, self._port)
            try:
                writer.write(frontend.cancel_request(self.backend_pid, self._secret))
                # The server closes the cancel connection once it has signalled the backend:
                # waiting for that keeps a late cancel from hitting the next query.
                await reader.read()
            finally:
                writer.close()
        while self._pending:
            await self._recv()

    def _send(self, data: bytes, syncs: int = 1) -> None:
        # No drain() before reading the replies: a large pipeline could otherwise fill both
        # directions' buffers and deadlock; asyncio's transport keeps writing while we read.
        self._writer.write(data)
        self._pending += syncs

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
        self._counter += 1
        name = "covet_%d" % self._counter
        batch = []
        while self.statement_cache_size and len(self._statements) >= self.statement_cache_size:
            _, evicted = self._statements.popitem(last=False)
            batch.append(frontend.close("S", evicted.name))  # free it on the server too
        batch += [frontend.parse(name, sql, oids), frontend.describe("S", name), frontend.SYNC]
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
        total row count (rows go to ``rows`` when it is a list)."""
        names, decode_row = statement.names, statement.decode_row
        count = 0
        error = None
        while self._pending:
            message = await self._recv()
            kind = type(message)
            if kind is messages.DataRow:
                if rows is not None and error is None:
                    values = decode_row(message.values)  # type: ignore[attr-defined]
                    rows.append(values if raw else MappingRecord(zip(names, values)))
            elif kind is messages.CommandComplete:
                count += message.row_count or 0  # type: ignore[attr-defined]
            elif kind is messages.ErrorResponse:
                if error is None:
                    error = error_from_response(message.fields)  # type: ignore[attr-defined]
                    if error.sqlstate in ("0A000", "26000"):  # a cached plan gone stale, or gone
                        self._forget(statement)
            elif kind not in (messages.BindComplete, messages.PortalSuspended, messages.EmptyQueryResponse,
                              messages.ReadyForQuery, messages.CloseComplete):
                raise self._unexpected(message)
        if error is not None:
            raise error
        return count

    def _forget(self, statement: _Statement) -> None:
        for key, cached in list(self._statements.items()):
            if cached is statement:
                del self._statements[key]
                self._send(frontend.close("S", statement.name), 0)  # answered before the next ReadyForQuery

    async def _query(self, sql: str, params: Sequence[Any], rows: Optional[List[Any]],
                     max_rows: int = 0, raw: bool = False) -> int:
        oids, formats, values = self._encode(params)

        async def work() -> int:
            statement = await self._prepare(sql, oids)
            self._send(frontend.bind("", statement.name, formats, values, statement.formats)
                       + frontend.execute("", max_rows) + frontend.SYNC)
            return await self._read_results(statement, rows, raw)

        return await self._operation(work)

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
            parts = []
            for _, formats, values in encoded:
                parts.append(bind("", statement.name, formats, values, statement.formats))
                parts.append(execute)
            parts.append(frontend.SYNC)
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
            error = None
            while self._pending:
                message = await self._recv()
                kind = type(message)
                if kind is messages.RowDescription:
                    fields = message.fields  # type: ignore[attr-defined]
                    names = tuple([f.name for f in fields])
                    decode_row = self.registry.row_decoder([f.type_oid for f in fields], [f.format for f in fields])
                elif kind is messages.DataRow and decode_row is not None:
                    rows.append(MappingRecord(zip(names, decode_row(message.values))))  # type: ignore[attr-defined]
                elif kind is messages.CommandComplete:
                    results.append(QueryResult(message.tag, rows))  # type: ignore[attr-defined]
                    rows, decode_row = [], None
                elif kind is messages.ErrorResponse:
                    error = error or error_from_response(message.fields)  # type: ignore[attr-defined]
                elif kind is messages.CopyInResponse:
                    self._writer.write(frontend.copy_fail("COPY FROM STDIN needs copy_from()"))
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


    # --- LISTEN / NOTIFY ------------------------------------------------------------------------

    def _queue_notification(self, message: messages.NotificationResponse) -> None:
        if len(self._notifications) >= self.max_notifications:
            # Bounded: a listener that does not keep up loses the oldest, counted, not memory.
            self._notifications.popleft()
            self.notifications_dropped += 1
        self._notifications.append(message)
        self._wake.set()

    async def _take_idle_read(self) -> None:
        """Stop a ``notifications()`` reader waiting on the idle socket, keeping what it read."""
        task = self._idle_read
        if task is None:
            return
        self._idle_read = None
        task.cancel()
        try:
            data = await task
        except asyncio.CancelledError:
            return  # StreamReader.read cancelled while waiting loses nothing
        if data:
            self._parser.feed(data)
        else:
            raise ConnectError("the server closed the connection")

    async def listen(self, channel: str) -> None:
        """LISTEN on a channel; its notifications come from :meth:`notifications`."""
        await self.simple_query("LISTEN " + quote_ident(channel))

    async def unlisten(self, channel: str = "*") -> None:
        await self.simple_query("UNLISTEN " + ("*" if channel == "*" else quote_ident(channel)))

    async def notify(self, channel: str, payload: str = "") -> None:
        await self.execute("SELECT pg_notify($1, $2)", [channel, payload])

    async def notifications(self) -> AsyncIterator[messages.NotificationResponse]:
        """Notifications (``.channel``, ``.payload``, ``.pid``) as they arrive, until the
        connection closes. Queries may run on the connection meanwhile. At most
        ``max_notifications`` wait unread; beyond, the oldest are dropped and counted in
        ``notifications_dropped``.

        Example::

            await conn.listen("jobs")
            async for note in conn.notifications():
                print(note.channel, note.payload)
        """
        queue = self._notifications
        while True:
            if queue:
                yield queue.popleft()
                continue
            if self.closed:
                return
            if self._lock.locked() or self._idle_read is not None:
                self._wake.clear()
                await self._wake.wait()  # the running operation reads, and queues what comes
                continue
            await self._idle_wait()

    async def _idle_wait(self) -> None:
        parser = self._parser
        message = parser.next_message()
        if message is None:
            task = asyncio.ensure_future(self._reader.read(_READ_SIZE))
            self._idle_read = task
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError:
                if self._idle_read is task:
                    self._idle_read = None
                    task.cancel()
                raise
            if self._idle_read is not task:
                return  # an operation took the socket, and the data with it
            self._idle_read = None
            if task.cancelled():
                return
            try:
                data = task.result()
            except (OSError, ssl.SSLError) as exc:
                self._break(exc)
                return
            if not data:
                self._break(ConnectError("the server closed the connection"))
                return
            try:
                parser.feed(data)
                message = parser.next_message()
            except ProtocolError as exc:
                self._break(exc)
                return
        while message is not None:
            kind = type(message)
            if kind is messages.NotificationResponse:
                self._queue_notification(message)  # type: ignore[arg-type]
            elif kind is messages.ParameterStatus:
                self.parameters[message.name] = message.value  # type: ignore[attr-defined]
            elif kind is messages.NoticeResponse:
                logger.info("PostgreSQL %s: %s", message.severity, message.message)  # type: ignore[attr-defined]
            elif kind is messages.ErrorResponse:  # FATAL while idle: the server is going away
                self._break(error_from_response(message.fields))  # type: ignore[attr-defined]
                return
            else:
                self._break(self._unexpected(message))
                return
            message = parser.next_message()

    # --- COPY ------------------------------------------------------------------------------------

    async def copy_to(self, sql: str, sink: Optional[Callable[[bytes], Any]] = None) -> Union[int, List[bytes]]:
        """Run ``COPY ... TO STDOUT``. With ``sink`` (a function or coroutine function) each chunk
        goes to it as it arrives and the row count is returned; without, the chunks are
        collected and returned (all in memory: use a sink for large tables).

        Example::

            chunks = await conn.copy_to("COPY users TO STDOUT (FORMAT csv)")
        """
        data = frontend.query(sql)
        chunks: List[bytes] = []

        async def work() -> int:
            self._send(data)
            count, error, started = 0, None, False
            while self._pending:
                message = await self._recv()
                kind = type(message)
                if kind is messages.CopyData:
                    if error is None:
                        if sink is None:
                            chunks.append(message.data)  # type: ignore[attr-defined]
                        else:
                            result = sink(message.data)  # type: ignore[attr-defined]
                            if asyncio.iscoroutine(result):
                                await result
                elif kind is messages.CopyOutResponse:
                    started = True
                elif kind is messages.CommandComplete:
                    count = message.row_count or 0  # type: ignore[attr-defined]
                elif kind is messages.ErrorResponse:
                    error = error or error_from_response(message.fields)  # type: ignore[attr-defined]
                elif kind is messages.CopyInResponse:
                    self._writer.write(frontend.copy_fail("copy_to() runs COPY TO STDOUT only"))
                elif kind not in (messages.CopyDone, messages.ReadyForQuery, messages.RowDescription,
                                  messages.DataRow, messages.EmptyQueryResponse):
                    raise self._unexpected(message)
            if error is not None:
                raise error
            if not started:
                raise ValueError("copy_to() needs a COPY ... TO STDOUT statement")
            return count

        count = await self._operation(work)
        return count if sink is not None else chunks

    async def copy_from(self, sql: str, data: Union[bytes, str, Iterable[Union[bytes, str]],
                                                    AsyncIterator[Union[bytes, str]]]) -> int:
        """Run ``COPY ... FROM STDIN`` with ``data``: bytes, or an (async) iterable of bytes or
        str chunks. The row count. An exception from the iterable sends CopyFail (nothing is
        loaded) and is raised.

        Example::

            await conn.copy_from("COPY users (id, name) FROM STDIN", b"1\tAda\n2\tGrace\n")
        """
        query = frontend.query(sql)

        async def chunks() -> AsyncIterator[bytes]:
            if isinstance(data, (bytes, bytearray, memoryview, str)):
                whole = data.encode("utf-8") if isinstance(data, str) else bytes(data)
                for start in range(0, len(whole), _COPY_CHUNK):
                    yield whole[start:start + _COPY_CHUNK]
            elif hasattr(data, "__aiter__"):
                async for chunk in data:  # type: ignore[union-attr]
                    yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
            else:
                for chunk in data:  # type: ignore[union-attr]
                    yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)

        async def work() -> int:
            self._send(query)
            count, error = 0, None
            while self._pending:
                message = await self._recv()
                kind = type(message)
                if kind is messages.CopyInResponse:
                    self._copy_in = True
                    try:
                        async for chunk in chunks():
                            if chunk:
                                self._writer.write(frontend.copy_data(chunk))
                                await self._writer.drain()  # the server reads all of it: no deadlock
                    except Exception as exc:
                        self._copy_in = False
                        self._writer.write(frontend.copy_fail("client error: %s" % type(exc).__name__))
                        try:
                            await self._finish(None)
                        except ServerError:
                            pass  # the server's "COPY from stdin failed", caused by the exception below
                        raise exc
                    self._copy_in = False
                    self._writer.write(frontend.COPY_DONE)
                elif kind is messages.CommandComplete:
                    count = message.row_count or 0  # type: ignore[attr-defined]
                elif kind is messages.ErrorResponse:
                    error = error or error_from_response(message.fields)  # type: ignore[attr-defined]
                elif kind is messages.CopyOutResponse:
                    error = error or ServerError("copy_from() runs COPY FROM STDIN only")
                elif kind not in (messages.ReadyForQuery, messages.CopyData, messages.CopyDone,
                                  messages.RowDescription, messages.DataRow, messages.EmptyQueryResponse):
                    raise self._unexpected(message)
            if error is not None:
                raise error
            return count

        return await self._operation(work)

def _savepoint_name(name: str) -> str:
    if not _SAVEPOINT.fullmatch(name):
        raise ValueError("a savepoint name is a plain identifier (letters, digits, _), not %r" % (name,))
    return name

