"""The stream side of a PostgreSQL session: reading messages, one operation at a time, what a
cancelled task leaves behind, closing, notifications and COPY. ``PGConnection``
(``covet.database.postgres.connection``) adds connecting and queries on top. The bytes arrive
through a ``PGWire`` protocol (``covet.database.postgres.wire``) straight into the parser: a
reader handles every complete message without awaiting, and awaits only for more bytes.

Every operation runs in ``_operation`` (or, for queries, the same frame written out in
``PGConnection._query``): it holds the turn (a flag, and a FIFO of futures when contended:
cheaper than an ``asyncio.Lock`` on the uncontended path every query takes), counts the ReadyForQuery messages it is
owed (one per Sync or Query sent) and, whatever happens, leaves the session either idle and
usable or ``broken`` and closed:

- a server error is raised after reading to ReadyForQuery: the session is idle again;
- a cancelled task sends a CancelRequest on a new connection (or CopyFail during COPY FROM),
  waits for the server to close that connection, then reads to ReadyForQuery before the
  cancellation goes on, within ``cancel_timeout`` seconds;
- a protocol error, an unexpected message, a lost connection or a failed recovery marks the
  session ``broken`` and closes it.

Example::

    channel = PGChannel(session, "127.0.0.1", 5432)   # normally made by PGConnection.connect
    assert channel.transaction_status == "I"
"""
import asyncio
import collections
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Deque, Dict, Iterable, List, Optional, Union

from covet.database.postgres import frontend, messages
from covet.database.postgres.errors import ProtocolError, ServerError, error_from_response
from covet.database.postgres.startup import ConnectError, Session, open_socket

__all__ = ["PGChannel"]

logger = logging.getLogger("covet.database.postgres")

_COPY_CHUNK = 65536
# Messages the server may send at any time (protocol-flow, "Asynchronous Operations").
_ASYNC_KINDS = frozenset((messages.NotificationResponse, messages.ParameterStatus, messages.NoticeResponse))


class PGChannel:
    """One session's stream: see the module docstring. Not made directly: use ``PGConnection``.

    Example::

        async for note in conn.notifications():   # conn: a PGConnection, which is a PGChannel
            print(note.channel, note.payload)
    """

    def __init__(self, session: Session, host: str, port: int, max_notifications: int = 10000,
                 cancel_timeout: float = 5.0) -> None:
        self._wire, self._parser = session.wire, session.parser
        self.parameters: Dict[str, str] = session.parameters
        self.backend_pid, self._secret = session.pid, session.secret
        self.tls = session.tls
        self._status = session.status
        self._host, self._port = host, port
        self.cancel_timeout = cancel_timeout
        self._busy = False  # an operation holds the turn
        self._turns: "Deque[asyncio.Future[None]]" = collections.deque()  # operations waiting for it, FIFO
        self._pending = 0  # ReadyForQuery messages still owed to us (one per Sync or Query)
        self._copy_in = False
        self.broken = False
        self.closed = False
        self._notifications: Deque[messages.NotificationResponse] = collections.deque()
        self.max_notifications = max_notifications
        self.notifications_dropped = 0
        self._wake = asyncio.Event()
        self._idle_reader = False  # a notifications() iterator waits for bytes on the idle session

    async def close(self) -> None:
        """Send Terminate and close the socket; closing twice does nothing."""
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        if not self.broken and not self._wire.lost:
            self._wire.write(frontend.TERMINATE)
        self._wire.close()
        await self._wire.wait_closed()

    def _break(self, reason: BaseException) -> None:
        if not self.broken:
            logger.warning("PostgreSQL connection to %s:%d is broken and closed: %s", self._host, self._port, reason)
        self.broken = True
        self.closed = True
        self._wake.set()
        self._wire.close()

    async def __aenter__(self) -> "PGChannel":
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
        return not self.closed and not self._busy and self._pending == 0

    # --- reading ---------------------------------------------------------------------------------

    async def _recv(self) -> messages.BackendMessage:
        """The next message of the current operation; asynchronous ones are handled here.
        (The row readers of ``PGConnection`` inline this loop: a coroutine per row costs.)"""
        next_message = self._parser.next_message
        while True:
            message = next_message()
            if message is None:
                await self._wire.more()
                continue
            kind = type(message)
            if kind in _ASYNC_KINDS:
                self._asynchronous(message)
                continue
            if kind is messages.ReadyForQuery:
                self._pending -= 1
                self._status = message.status  # type: ignore[attr-defined]
            elif kind is messages.ErrorResponse:
                self._check_fatal(message)  # type: ignore[arg-type]
            return message

    def _asynchronous(self, message: messages.BackendMessage) -> None:
        """Handle a NotificationResponse, ParameterStatus or NoticeResponse."""
        kind = type(message)
        if kind is messages.NotificationResponse:
            self._queue_notification(message)  # type: ignore[arg-type]
        elif kind is messages.ParameterStatus:
            self.parameters[message.name] = message.value  # type: ignore[attr-defined]
        else:
            logger.info("PostgreSQL %s: %s", message.severity, message.message)  # type: ignore[attr-defined]

    def _check_fatal(self, message: messages.ErrorResponse) -> None:
        if message.severity in ("FATAL", "PANIC"):
            # The server ends the session after this (an admin shutdown, a terminated backend):
            # raise its error, not the end of stream that follows, and never reuse the connection.
            error = error_from_response(message.fields)
            self._break(error)
            raise error

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
        if self._busy or self.closed or self._idle_reader:
            await self._take_turn()
        else:
            self._busy = True
        try:
            return await work()
        except BaseException as exc:
            await self._failed(exc)
            raise
        finally:
            self._end_turn()

    async def _take_turn(self) -> None:
        """The slow way in: closed, another operation running (wait in FIFO order), or an idle
        notifications() reader to stop."""
        if self.closed:
            raise ConnectError("the connection is %s" % ("broken" if self.broken else "closed"))
        if self._busy:
            turn = asyncio.get_running_loop().create_future()
            self._turns.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.cancelled():
                    self._turns.remove(turn)
                else:
                    self._end_turn()  # handed the turn as the cancellation came: pass it on
                raise
            if self.closed:  # the operation before broke the connection
                self._end_turn()
                raise ConnectError("the connection is %s" % ("broken" if self.broken else "closed"))
        self._busy = True
        if self._idle_reader:
            # A notifications() reader waits for bytes: wake it; it sees the turn taken and waits
            # for the operation to end, which reads (and queues) whatever comes meanwhile.
            self._wire.release()

    def _end_turn(self) -> None:
        turns = self._turns
        while turns:
            turn = turns.popleft()
            if not turn.done():
                turn.set_result(None)  # handed over: _busy stays set
                self._wake.set()
                return
        self._busy = False
        self._wake.set()

    async def _failed(self, exc: BaseException) -> None:
        """What an exception out of an operation leaves: see the module docstring."""
        if isinstance(exc, asyncio.CancelledError):
            await self._recover_from_cancel()
        elif isinstance(exc, ServerError):
            pass  # already read to ReadyForQuery: the connection is fine
        elif self._pending or isinstance(exc, (ProtocolError, ConnectError)):
            # Nothing owed (a value that cannot be encoded, a caller's sink that failed after
            # the reply was read): the connection is intact. A socket error while reading
            # leaves a reply owed, so it breaks the connection by that test.
            self._break(exc)

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
            self._wire.write(frontend.copy_fail("cancelled by the client"))
            self._copy_in = False
        else:
            reader, writer = await asyncio.open_connection(sock=await open_socket(self._host, self._port))
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
        self._wire.write(data)
        self._pending += syncs

    def _queue_notification(self, message: messages.NotificationResponse) -> None:
        if len(self._notifications) >= self.max_notifications:
            # Bounded: a listener that does not keep up loses the oldest, counted, not memory.
            self._notifications.popleft()
            self.notifications_dropped += 1
        self._notifications.append(message)
        self._wake.set()

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
            if self._busy or self._idle_reader:
                self._wake.clear()
                await self._wake.wait()  # the running operation reads, and queues what comes
                continue
            await self._idle_wait()

    async def _idle_wait(self) -> None:
        """Handle what arrived while idle; if that is nothing, wait for more bytes (or for an
        operation to take the turn), then return to ``notifications()``, which looks again."""
        parser = self._parser
        while True:
            try:
                message = parser.next_message()
            except ProtocolError as exc:
                self._break(exc)
                return
            if message is None:
                break
            kind = type(message)
            if kind in _ASYNC_KINDS:
                self._asynchronous(message)
            elif kind is messages.ErrorResponse:  # FATAL while idle: the server is going away
                self._break(error_from_response(message.fields))  # type: ignore[attr-defined]
                return
            else:
                self._break(self._unexpected(message))
                return
        if self._notifications:
            return
        try:
            more = self._wire.more()
        except ConnectError as exc:
            self._break(exc)
            return
        self._idle_reader = True
        try:
            await more
        finally:
            self._idle_reader = False
            self._wake.set()  # other notifications() iterators look again

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
            count, started = 0, False
            error: Optional[Exception] = None
            while self._pending:
                message = await self._recv()
                kind = type(message)
                if kind is messages.CopyData:
                    if error is None:
                        if sink is None:
                            chunks.append(message.data)  # type: ignore[attr-defined]
                        else:
                            try:
                                result = sink(message.data)  # type: ignore[attr-defined]
                                if asyncio.iscoroutine(result):
                                    await result
                            except Exception as exc:  # raised once the rest is read: the connection stays in step
                                error = exc
                elif kind is messages.CopyOutResponse:
                    started = True
                elif kind is messages.CommandComplete:
                    count = message.row_count or 0  # type: ignore[attr-defined]
                elif kind is messages.ErrorResponse:
                    error = error or error_from_response(message.fields)  # type: ignore[attr-defined]
                elif kind is messages.CopyInResponse:
                    self._wire.write(frontend.copy_fail("copy_to() runs COPY TO STDOUT only"))
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
                                self._wire.write(frontend.copy_data(chunk))
                                await self._wire.drain()  # the server reads all of it: no deadlock
                    except Exception as exc:
                        self._copy_in = False
                        self._wire.write(frontend.copy_fail("client error: %s" % type(exc).__name__))
                        try:
                            await self._finish(None)
                        except ServerError:
                            pass  # the server's "COPY from stdin failed", caused by the exception below
                        raise exc
                    self._copy_in = False
                    self._wire.write(frontend.COPY_DONE)
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
