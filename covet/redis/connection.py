"""One connection to Redis: an asyncio stream pair, its ``RespParser``, and the AUTH/SELECT handshake.

The connection only moves bytes: it writes a packed payload and feeds what the server sends to
the parser until the expected number of replies is out. Timeouts, retries and pooling are the
caller's (``pool.py``, ``client.py``).

Example::

    conn = await open_connection(host="127.0.0.1", port=6379, address="127.0.0.1:6379")
    [pong] = await conn.roundtrip(pack_command("PING"), 1)
    await conn.close()
"""
import asyncio
import ssl as _ssl
from typing import Any, Awaitable, List, Optional, Tuple

from .errors import RedisConnectionError, RedisTimeoutError, ReplyError
from .resp import DEFAULT_MAX_BULK_LEN, DEFAULT_MAX_REPLY_ELEMENTS, NEED_DATA, RespParser, pack_command

__all__ = ["Connection", "ConnectionDropped", "CountingStreamReader", "open_connection", "with_timeout", "READ_SIZE"]

# One read takes what the kernel has, up to this; large bulk replies arrive over several reads.
READ_SIZE = 65536


class ConnectionDropped(RedisConnectionError):
    """The server closed or reset the connection before any reply byte arrived.

    Only then is a retry on a fresh connection safe: the command may not have run. The client
    re-raises it as a plain ``RedisConnectionError`` when it does not retry.
    """


class CountingStreamReader(asyncio.StreamReader):
    """A ``StreamReader`` that counts the bytes the transport fed it.

    Against the bytes the connection has read, the count tells whether the server sent anything
    nobody asked for yet (a late reply arriving while the connection sat in the pool).

    Example::

        reader = CountingStreamReader()
        reader.feed_data(b"+OK\\r\\n")
        assert reader.received == 5
    """

    received = 0

    def feed_data(self, data: bytes) -> None:
        self.received += len(data)
        super().feed_data(data)


class Connection:
    """A stream pair and its parser, bound to the event loop that opened it.

    Example::

        replies = await conn.roundtrip(pack_command("SET", "k", "v") + pack_command("GET", "k"), 2)
    """

    __slots__ = ("reader", "writer", "parser", "loop", "used", "epoch", "consumed")

    def __init__(self, reader: CountingStreamReader, writer: asyncio.StreamWriter, parser: RespParser,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = parser
        self.loop = loop
        self.used = False  # has completed a round trip, so it may have gone stale in the pool
        self.epoch = 0  # the pool's close() count when it was opened
        self.consumed = 0  # bytes taken from the reader; reader.received minus this is still unread there

    def alive(self) -> bool:
        """Open, not at EOF, and with no unread byte, in the parser or still in the reader (a reply left
        behind, or one the server sent unasked, would answer the next command)."""
        return (not self.writer.is_closing() and not self.reader.at_eof() and self.parser.buffered == 0
                and self.reader.received == self.consumed)

    async def roundtrip(self, payload: bytes, count: int) -> List[Any]:
        """Write ``payload`` and return the next ``count`` replies, error replies in place."""
        parser = self.parser
        received = False
        try:
            self.writer.write(payload)
            await self.writer.drain()
            replies: List[Any] = []
            while True:
                reply = parser.gets()
                while reply is not NEED_DATA:
                    replies.append(reply)
                    if len(replies) == count:
                        self.used = True
                        return replies
                    reply = parser.gets()
                data = await self.reader.read(READ_SIZE)
                self.consumed += len(data)
                if not data:
                    raise (RedisConnectionError if received else ConnectionDropped)("connection closed by the server")
                received = True
                parser.feed(data)
        except OSError as exc:
            raise (RedisConnectionError if received else ConnectionDropped)(
                "connection to Redis lost: %s" % exc) from exc

    def abort(self) -> None:
        """Drop the connection at once (no goodbye): after a timeout or broken RESP nothing on it can be trusted."""
        try:
            self.writer.transport.abort()
        except RuntimeError:
            # Its loop is already closed; nothing can be scheduled on it any more.
            pass

    async def close(self) -> None:
        """Close politely and wait until the transport is closed."""
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (OSError, RuntimeError):
            pass


async def with_timeout(aw: Awaitable[Any], timeout: Optional[float], what: str) -> Any:
    """``await aw``, raising ``RedisTimeoutError("<what> timed out after N s")`` past ``timeout`` (None: no limit)."""
    if timeout is None:
        return await aw
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise RedisTimeoutError("%s timed out after %g s" % (what, timeout)) from None


async def open_connection(
    *,
    address: str,
    host: str = "127.0.0.1",
    port: int = 6379,
    unix_socket_path: Optional[str] = None,
    ssl: Optional[_ssl.SSLContext] = None,
    timeout: Optional[float] = None,
    password: Optional[str] = None,
    username: Optional[str] = None,
    db: int = 0,
    max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
    max_reply_elements: int = DEFAULT_MAX_REPLY_ELEMENTS,
) -> Connection:
    """Open a connection and run AUTH and SELECT on it, all within ``timeout``.

    ``address`` names the server in error messages (without credentials). A refused AUTH or
    SELECT is a ``RedisConnectionError``: the connection is unusable for the client's settings.
    """
    loop = asyncio.get_running_loop()
    # asyncio.open_connection, with a reader that counts what it is fed.
    reader = CountingStreamReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        if unix_socket_path:
            opening = loop.create_unix_connection(lambda: protocol, unix_socket_path, ssl=ssl)
        else:
            opening = loop.create_connection(lambda: protocol, host, port, ssl=ssl)
        transport, _ = await with_timeout(opening, timeout, "connecting to Redis at %s" % address)
    except OSError as exc:
        raise RedisConnectionError("cannot connect to Redis at %s: %s" % (address, exc)) from exc
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    parser = RespParser(max_bulk_len=max_bulk_len, max_reply_elements=max_reply_elements)
    conn = Connection(reader, writer, parser, loop)
    hello: List[Tuple[Any, ...]] = []
    if password is not None:
        hello.append(("AUTH", username, password) if username else ("AUTH", password))
    if db:
        hello.append(("SELECT", db))
    if hello:
        try:
            replies = await with_timeout(conn.roundtrip(b"".join(pack_command(*c) for c in hello), len(hello)),
                                         timeout, "AUTH/SELECT on Redis at %s" % address)
        except BaseException:
            conn.abort()
            raise
        for cmd, reply in zip(hello, replies):
            if isinstance(reply, ReplyError):
                conn.abort()
                raise RedisConnectionError("%s failed on Redis at %s: %s" % (cmd[0], address, reply))
        conn.used = False
    return conn
