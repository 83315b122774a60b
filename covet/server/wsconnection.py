"""One WebSocket on covet's server: the handshake checks, then the loop that moves frames.

``Connection.handle`` hands over a request head that asks to upgrade to a WebSocket
(``Connection: upgrade`` and ``Upgrade: websocket``, RFC 9110 §7.8). ``serve_upgrade`` then:

1. checks the handshake with the codec (``covet.server.websocket.check_handshake``): a bad one
   gets the HandshakeError's status (400, or 426 with ``Sec-WebSocket-Version: 13``) as
   problem+json, and the connection closes;
2. checks ``Origin`` against ``ws_origins`` when that allow-list is set (403 otherwise): a browser
   sends cookies with a cross-site WebSocket handshake, and the same-origin policy does not stop
   the page that opened it from reading the answers, so without this check any site a user visits
   can talk to the app as that user (cross-site WebSocket hijacking). A handshake without
   ``Origin`` comes from a non-browser client, which carries no one's cookies by accident; it is
   let through;
3. builds a ``WebSocket`` over a ``ServerChannel`` and runs the app's route
   (``covet.websocket.serve_websocket``): the app accepts (101) or refuses (an HTTP answer).

The channel's reader task reads frames with the codec, answers pings, does the close handshake,
and hands whole messages to the handler through a bounded queue (when the handler falls behind by
``RECEIVE_QUEUE_SIZE`` messages, reading stops and TCP pushes back on the client). The server
pings every ``ws_ping_interval`` seconds and closes (1011) a connection whose pong has not come
within ``ws_ping_timeout``. There is no idle timeout: a connection whose client answers pings is
alive, however long it stays silent. The handshake request itself is bounded by the server's
``head_timeout`` like any request head. Writes wait for the socket to drain once more than
``WRITE_HIGH_WATER`` is queued, for at most ``body_timeout``; a client that stops reading for
longer is dropped.

A WebSocket holds its connection's slot (``max_connections``) until it ends; a graceful shutdown
closes every WebSocket with 1001 and waits for them up to ``shutdown_timeout``.
"""
import asyncio
import collections
import logging

from ..core.errors import WebSocketDisconnect
from ..core.problems import problem_response
from ..websocket.connection import WebSocket, serve_websocket
from .config import LINGER_TIMEOUT, READ_SIZE
from .http11 import response_head
from .websocket import (
    NEED_DATA, BytesMessage, CloseReceived, HandshakeError, Ping, Pong, ProtocolFailure, TextMessage,
    WebSocketConnection, check_handshake, handshake_response, negotiate_deflate,
)

__all__ = ["serve_upgrade", "ServerChannel", "RECEIVE_QUEUE_SIZE", "CLOSE_TIMEOUT", "FAILURE_FLUSH_TIMEOUT",
           "WRITE_HIGH_WATER"]

logger = logging.getLogger("covet.error")

#: Whole messages read ahead of the handler. Past it the reader stops reading the socket, so a
#: client that sends faster than the handler receives is held back by TCP instead of by our
#: memory (32 in the websockets package, 16 here: up to 16 x ws_max_message_size per connection).
RECEIVE_QUEUE_SIZE = 16

#: After our close frame, how long the client has to answer with its own before the TCP
#: connection is dropped (RFC 6455 §7.1.1: the server closes TCP once the close handshake is done;
#: a client that never answers must not hold the slot).
CLOSE_TIMEOUT = 5.0

#: On a protocol failure, how long our close frame waits for the handler to finish the messages
#: that arrived before the bad frame, so their answers reach the client ahead of the close (RFC
#: 6455 §7.1.7 fails the connection, not the valid messages before it; Autobahn 3.2, 4.1.3, 5.15).
#: A handler that does not come back to receive in time (one that only sends) holds it no longer.
FAILURE_FLUSH_TIMEOUT = 2.0

#: Queued output past which a send waits for the socket to drain (backpressure): small messages
#: fit the kernel buffer and never wait; a client that stops reading makes its sender wait.
WRITE_HIGH_WATER = 64 * 1024

CLOSE = (b"connection", b"close")
_PING_PAYLOAD = b"covet"


async def serve_upgrade(conn, head, path, query, client, scheme, has_body):
    """Serve the WebSocket asked for by ``head`` on ``conn``; the connection closes afterwards.

    Returns the status of the answer to the handshake (101, or the refusal's) for the access log.
    """
    server = conn.server
    config = server.config
    try:
        if has_body:
            raise HandshakeError(400, "a WebSocket handshake carries no body")
        handshake = check_handshake(head.method, head.headers)
        allowed = config.ws_origins
        if allowed is not None and handshake.origin is not None and handshake.origin.lower() not in allowed:
            raise HandshakeError(403, "origin %s may not open WebSockets here" % handshake.origin)
    except HandshakeError as exc:
        response = problem_response(None, exc.status, exc.detail, instance=path)
        headers = list(response.raw_headers) + list(exc.headers) + server.common_headers() + [CLOSE]
        conn.flush()
        conn.transport.write(response_head(exc.status, headers) + response.body)
        await conn.linger()
        return exc.status
    channel = ServerChannel(conn, handshake)
    websocket = WebSocket(path, query, head.headers, client, "wss" if scheme == "https" else "ws", conn.sockname,
                          channel, app=server.app, subprotocols=handshake.subprotocols)
    conn.ws = channel
    try:
        await serve_websocket(server.app, websocket)
    finally:
        conn.ws = None
        await channel.finish()
    return channel.status


class ServerChannel:
    """The channel of a WebSocket on covet's server (see ``covet.websocket.Channel``)."""

    __slots__ = ("conn", "handshake", "config", "loop", "ws", "status", "incoming", "readable", "space",
                 "gone", "reader", "ping_timer", "pong_timer", "close_timer", "drain_lock", "app_done",
                 "busy", "caught_up")

    def __init__(self, conn, handshake):
        self.conn = conn
        self.handshake = handshake
        self.config = conn.server.config
        self.loop = conn.server.loop
        self.ws = None  # the codec's WebSocketConnection, once accepted
        self.status = None  # 101, or the status of the refusal (access log)
        self.incoming = collections.deque()
        self.readable = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.gone = None  # (code, reason) once closed, told to the handler after the queued messages
        self.reader = None
        self.ping_timer = self.pong_timer = self.close_timer = None
        self.drain_lock = asyncio.Lock()
        self.app_done = False
        self.busy = False  # a message was handed to the handler, which has not asked for the next yet
        self.caught_up = asyncio.Event()  # set when the handler waits on an empty queue, or returned

    # -- the handshake -------------------------------------------------------------
    async def accept(self, subprotocol, headers):
        config = self.config
        extensions = params = None
        if config.ws_per_message_deflate and self.handshake.extensions:
            negotiated = negotiate_deflate(self.handshake.extensions)
            if negotiated is not None:
                extensions, params = negotiated
        self.ws = WebSocketConnection(max_message_size=config.ws_max_message_size, deflate=params)
        conn = self.conn
        conn.flush()
        conn.transport.write(handshake_response(self.handshake.key, subprotocol, extensions,
                                                list(headers) + conn.server.common_headers()))
        self.status = 101
        rest = conn.parser.remaining()  # frames the client sent right behind its handshake
        if rest:
            self.ws.feed(rest)
        self.reader = self.loop.create_task(self._read())
        self._schedule_ping()

    async def refuse(self, status, headers, body):
        self.status = status
        conn = self.conn
        conn.flush()
        conn.transport.write(response_head(status, list(headers) + conn.server.common_headers() + [CLOSE]) + body)
        await conn.linger()

    # -- reading -------------------------------------------------------------------
    async def _read(self):
        ws = self.ws
        reader = self.conn.reader
        try:
            while True:
                event = ws.next_event()
                if event is NEED_DATA:
                    try:
                        data = await reader.read(READ_SIZE)
                    except (ConnectionError, OSError):
                        data = b""
                    ws.feed(data)  # b"": the stream ended, the codec says CloseReceived(1006)
                    continue
                kind = type(event)
                if kind is TextMessage:
                    await self._put({"type": "websocket.receive", "text": event.data})
                elif kind is BytesMessage:
                    await self._put({"type": "websocket.receive", "bytes": event.data})
                elif kind is Ping:
                    if ws.state == "OPEN":  # RFC 6455 §5.5.3: answer with the ping's payload
                        self._write(ws.send_pong(event.payload))
                elif kind is Pong:
                    if self.pong_timer is not None:
                        self.pong_timer.cancel()
                        self.pong_timer = None
                elif kind is CloseReceived:
                    # RFC 6455 §5.5.1: echo the code (1005, "no code", is answered with 1000).
                    code = event.code
                    self._write(ws.close(1000 if code in (1005, 1006) else code))
                    self._set_gone(code, event.reason)
                    self.conn.transport.close()  # §7.1.1: the server closes TCP first
                    return
                elif kind is ProtocolFailure:
                    await self._handler_caught_up()
                    self._write(ws.close(event.code, event.reason))
                    self._set_gone(event.code, event.reason)
                    await self.conn.linger()  # the client may still be sending: no RST over our close
                    self.conn.transport.close()
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("WebSocket reader failed")
            self._set_gone(1011, "")
            self.conn.transport.abort()
        finally:
            self._stop_timers(keep_close=True)

    async def _put(self, message):
        while len(self.incoming) >= RECEIVE_QUEUE_SIZE and not self.app_done:
            self.space.clear()
            await self.space.wait()
        if self.app_done:
            return  # the handler has returned: nobody will read it
        self.incoming.append(message)
        self.readable.set()

    async def _handler_caught_up(self):
        """Wait (up to FAILURE_FLUSH_TIMEOUT) until the handler has taken every queued message and
        come back for the next, so the answers it sends to them go out before our close."""
        deadline = self.loop.time() + FAILURE_FLUSH_TIMEOUT
        while (self.incoming or self.busy) and not self.app_done:
            self.caught_up.clear()
            left = deadline - self.loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.caught_up.wait(), left)
            except asyncio.TimeoutError:
                return

    def _set_gone(self, code, reason):
        if self.gone is None:
            self.gone = (code, reason)
        self.readable.set()

    async def receive(self):
        while True:
            if self.incoming:
                message = self.incoming.popleft()
                if not self.incoming and self.gone is None:
                    self.readable.clear()
                self.space.set()
                self.busy = True
                return message
            self.busy = False
            self.caught_up.set()
            if self.gone is not None:
                return {"type": "websocket.disconnect", "code": self.gone[0], "reason": self.gone[1]}
            self.readable.clear()
            await self.readable.wait()

    # -- writing -------------------------------------------------------------------
    def _write(self, data):
        transport = self.conn.transport
        if data and not transport.is_closing():
            transport.write(data)

    async def send(self, data):
        ws = self.ws
        if self.gone is not None or ws.state != "OPEN" or self.conn.transport.is_closing():
            code, reason = self.gone or (1006, "")
            raise WebSocketDisconnect(code, reason)
        transport = self.conn.transport
        transport.write(ws.send_text(data) if type(data) is str else ws.send_bytes(data))
        if transport.get_write_buffer_size() > WRITE_HIGH_WATER:
            await self._drain()

    async def _drain(self):
        # One waiter at a time: StreamWriter.drain() allows only one before Python 3.12.
        async with self.drain_lock:
            if self.conn.transport.get_write_buffer_size() <= WRITE_HIGH_WATER:
                return
            try:
                await asyncio.wait_for(self.conn.writer.drain(), self.config.body_timeout)
            except asyncio.TimeoutError:
                self._drop(1006, "client stopped reading")
            except (ConnectionError, OSError):
                self._drop(1006, "")
        if self.gone is not None and self.conn.transport.is_closing():
            raise WebSocketDisconnect(*self.gone)

    def _drop(self, code, reason):
        self._set_gone(code, reason)
        self.conn.transport.abort()

    async def close(self, code, reason):
        self._close(code, reason)

    def _close(self, code, reason):
        ws = self.ws
        if ws is None:
            return
        self._write(ws.close(code, reason))
        if self.close_timer is None and not self.conn.transport.is_closing():
            self.close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._close_timed_out)

    def _close_timed_out(self):
        self.close_timer = None
        self._drop(1006, "no close frame from the client in time")

    def shutdown(self):
        """Graceful server shutdown: close with 1001 (going away); the handler's receive raises."""
        if self.ws is None:
            return
        self._close(1001, "server shutting down")
        self._set_gone(1001, "server shutting down")

    # -- keepalive -----------------------------------------------------------------
    def _schedule_ping(self):
        interval = self.config.ws_ping_interval
        if interval:
            self.ping_timer = self.loop.call_later(interval, self._ping)

    def _ping(self):
        self.ping_timer = None
        ws = self.ws
        if ws.state != "OPEN" or self.gone is not None:
            return
        # No pong is expected while the reader waits for the handler (it is not reading the socket).
        if self.pong_timer is None and self.space.is_set():
            self._write(ws.send_ping(_PING_PAYLOAD))
            if self.config.ws_ping_timeout:
                self.pong_timer = self.loop.call_later(self.config.ws_ping_timeout, self._pong_timed_out)
        self._schedule_ping()

    def _pong_timed_out(self):
        self.pong_timer = None
        if self.ws.state == "OPEN":
            self._close(1011, "keepalive ping timeout")
            self._set_gone(1011, "keepalive ping timeout")

    def _stop_timers(self, keep_close=False):
        for name in ("ping_timer", "pong_timer") if keep_close else ("ping_timer", "pong_timer", "close_timer"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    async def finish(self):
        """After the handler: wait for the close handshake (bounded by CLOSE_TIMEOUT), then stop."""
        self.app_done = True
        self.space.set()
        self.caught_up.set()
        reader = self.reader
        if reader is not None:
            if not reader.done():
                done, _ = await asyncio.wait({reader}, timeout=CLOSE_TIMEOUT + LINGER_TIMEOUT)
                if not done:
                    reader.cancel()
                    await asyncio.wait({reader})
        self._stop_timers()
