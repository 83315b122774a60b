"""The socket side of a PostgreSQL session as an ``asyncio.Protocol``: received bytes go straight
into the session's :class:`~covet.database.postgres.protocol.BackendParser`, and whoever reads
(an operation, or a ``notifications()`` iterator while idle) waits on one future that the next
bytes resolve. Compared with ``asyncio`` streams this skips the StreamReader's own buffer (a copy
per read) and its coroutine per read; the reader parses every complete message without awaiting.
(A ``BufferedProtocol`` receiving into one reused buffer measured no faster: the bytes must be
copied out for the parser to keep.)

Memory stays bounded as with streams: when more than ``HIGH_WATER`` bytes wait unparsed and nobody
is reading, the transport stops reading until someone waits for more (TCP then slows the server).

Example::

    wire = PGWire(parser, ConnectError)   # ConnectError: what a lost connection raises
    transport, _ = await loop.create_connection(lambda: wire, sock=sock)
    while parser.next_message() is None:
        await wire.more()   # raises ConnectError once the connection is gone
"""
import asyncio
from typing import Any, Optional

from covet.database.postgres.errors import ProtocolError
from covet.database.postgres.protocol import BackendParser

__all__ = ["PGWire", "HIGH_WATER"]

# Unparsed bytes held while nobody reads before reading pauses: StreamReader's 2 x 64 KiB, doubled
# because the kernel's reads here are up to 256 KiB.
HIGH_WATER = 256 * 1024


class PGWire(asyncio.Protocol):
    """Feeds a ``BackendParser`` from the transport; see the module docstring.

    Example::

        transport, wire = await loop.create_connection(lambda: PGWire(parser, ConnectError), sock=sock)
        transport.write(frontend.SYNC)
        await wire.more()
    """

    def __init__(self, parser: BackendParser, lost_error: type) -> None:
        self.parser = parser
        self.transport: Optional[asyncio.Transport] = None
        self._lost_error = lost_error
        self._waiter: "Optional[asyncio.Future[None]]" = None
        self._error: Optional[BaseException] = None  # set once the connection is gone
        self._paused = False
        self._write_paused = False
        self._drain: "Optional[asyncio.Future[None]]" = None
        self._closed: "Optional[asyncio.Future[None]]" = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()
        self._closed = self._loop.create_future()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed(data)
        except ProtocolError:
            pass  # a parser that failed refuses all input; the reader gets its error from next_message
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif not self._paused and self.parser.buffered > HIGH_WATER and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> Optional[bool]:
        return None  # close the transport: PostgreSQL never half-closes a session

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if exc is None:
            self._error = self._lost_error("the server closed the connection")
        else:
            self._error = self._lost_error("the connection failed: %s" % exc)
        self._wake(self._waiter)
        self._waiter = None
        self._wake(self._drain)
        self._drain = None
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake(self._drain)
        self._drain = None

    @staticmethod
    def _wake(future: "Optional[asyncio.Future[None]]") -> None:
        if future is not None and not future.done():
            future.set_result(None)

    # --- for the session -------------------------------------------------------------------------

    @property
    def lost(self) -> bool:
        """The connection is gone (closed by either side, or failed)."""
        return self._error is not None

    def more(self) -> "asyncio.Future[None]":
        """A future resolved when more bytes have been fed to the parser (or the connection is
        lost: the caller looks at the parser again, then calls ``more()``, which raises).
        One reader at a time: a second call replaces the first's future."""
        if self._error is not None:
            raise self._error
        if self._paused:
            self._paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        waiter = self._loop.create_future()  # type: ignore[union-attr]
        self._waiter = waiter
        return waiter

    def release(self) -> None:
        """Resolve the current reader's future (an operation taking over from an idle reader)."""
        self._wake(self._waiter)
        self._waiter = None

    def write(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark."""
        if self._error is not None:
            raise self._error
        if self._write_paused:
            if self._drain is None or self._drain.done():
                self._drain = self._loop.create_future()  # type: ignore[union-attr]
            await self._drain
            if self._error is not None:
                raise self._error

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def wait_closed(self) -> None:
        if self._closed is not None:
            await self._closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)  # type: ignore[union-attr]
