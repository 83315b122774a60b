"""Keep-alive connections of the HTTP client, pooled per origin (scheme, host, port).

A connection is handed out to one request at a time; ``max_connections`` bounds how many a pool
opens to one origin (requests beyond it wait). An idle connection older than ``idle_timeout``,
or one the server has closed meanwhile, is dropped instead of reused. Whether a response left
its connection reusable is the parser's verdict (``ResponseParser.reusable``).
"""
import asyncio
import ssl
from typing import Dict, List, Optional, Set, Tuple

from .errors import ConnectError, ConnectTimeout
from .models import Origin

__all__ = ["Connection", "Pool", "DEFAULT_MAX_CONNECTIONS", "DEFAULT_IDLE_TIMEOUT"]

# Per origin, as browsers' 6 and httpx's max_keepalive_connections order of magnitude.
DEFAULT_MAX_CONNECTIONS = 10
# Shorter than the keep-alive timeout of common servers (covet's and nginx's 75 s, Apache's 5 s
# is the exception that makes the retry-once rule necessary), so we rarely reuse a connection
# the server is just closing.
DEFAULT_IDLE_TIMEOUT = 5.0


class Connection:
    """One stream pair to an origin; ``idle_since`` is the loop time it was last released."""

    __slots__ = ("origin", "reader", "writer", "idle_since")

    def __init__(self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()

    async def wait_closed(self) -> None:
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (Exception, asyncio.CancelledError):
            pass  # the peer reset it, or a TLS close_notify never came: closed either way


async def open_connection(origin: Origin, ssl_context: Optional[ssl.SSLContext],
                          timeout: Optional[float]) -> Connection:
    """Connect (and do the TLS handshake for https) within ``timeout`` seconds."""
    tls = ssl_context if origin.scheme == "https" else None
    where = "%s:%d" % (origin.host, origin.port)
    try:
        # server_hostname: SNI and the name the certificate must match (RFC 6125); for an IP
        # literal Python matches the certificate's IP SAN and sends no SNI (RFC 6066 §3).
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            origin.host, origin.port, ssl=tls, server_hostname=origin.host if tls else None,
            limit=2 ** 16), timeout)
    except asyncio.TimeoutError:
        raise ConnectTimeout("connecting to %s took longer than %s s" % (where, timeout)) from None
    except ssl.SSLCertVerificationError as exc:
        raise ConnectError("TLS certificate verification failed for %s: %s"
                           % (where, exc.verify_message or exc)) from exc
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError("cannot connect to %s: %s" % (where, exc)) from exc
    return Connection(origin, reader, writer)


class Pool:
    """Connections per origin, at most ``max_connections`` each, bound to the loop that uses it."""

    def __init__(self, ssl_context: Optional[ssl.SSLContext], *, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, connect_timeout: Optional[float] = None) -> None:
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self._idle = {}  # type: Dict[Origin, List[Connection]]
        self._slots = {}  # type: Dict[Origin, asyncio.Semaphore]
        self._open = set()  # type: Set[Connection]
        self._closing = set()  # type: Set[Connection]
        self.closed = False

    async def acquire(self, origin: Origin, fresh: bool = False) -> Tuple[Connection, bool]:
        """A connection to ``origin`` and whether it was reused; release it with ``release``."""
        if self.closed:
            raise RuntimeError("the HTTP client is closed")
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self.max_connections)
        await slots.acquire()
        try:
            idle = self._idle.get(origin)
            now = asyncio.get_running_loop().time()
            while idle and not fresh:
                conn = idle.pop()
                # at_eof: the server closed it while it sat idle and the loop has seen the FIN.
                if now - conn.idle_since > self.idle_timeout or conn.reader.at_eof():
                    self._discard(conn)
                    continue
                return conn, True
            conn = await open_connection(origin, self.ssl_context, self.connect_timeout)
            self._open.add(conn)
            return conn, False
        except BaseException:
            slots.release()
            raise

    def release(self, conn: Connection, reusable: bool) -> None:
        """Give ``conn`` back: pooled when ``reusable``, else closed."""
        if reusable and not self.closed:
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(conn.origin, []).append(conn)
        else:
            self._discard(conn)
        self._slots[conn.origin].release()

    def _discard(self, conn: Connection) -> None:
        self._open.discard(conn)
        conn.close()
        # Kept so that aclose() can wait for the last ones to finish closing; older ones are
        # long closed, so the set is bounded instead of growing with the client's lifetime.
        if len(self._closing) >= 64:
            self._closing.clear()
        self._closing.add(conn)

    def idle_count(self, origin: Origin) -> int:
        return len(self._idle.get(origin, ()))

    async def aclose(self) -> None:
        """Close every connection, pooled or in use, and wait until they are closed."""
        self.closed = True
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()
        closing, self._closing = self._closing, set()
        for conn in closing:
            await conn.wait_closed()
