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

Once accepted, the channel takes the transport over from the connection's stream
(``transport.set_protocol``): it is the asyncio Protocol of the socket, and ``data_received``
feeds the codec and handles its events there and then: pings are answered, pongs stop the pong
timer, the close handshake is done, and whole messages go to the handler, straight into its
waiting ``receive()`` (one task wake-up per message, no reader task). When the handler falls
behind by ``RECEIVE_QUEUE_SIZE`` messages, the transport stops reading and TCP pushes back on
the client. The server
pings every ``ws_ping_interval`` seconds and closes (1011) a connection whose pong has not come
within ``ws_ping_timeout``.

Two more deadlines. The handshake request is bounded by ``head_timeout`` like any request head;
then the app has ``ws_handshake_timeout`` to accept or refuse. Past it the client gets **503**
(RFC 9110 §15.6.4: the server could not answer in time; not 408, §15.5.9, which says the
client's request was late and which clients may repeat at once) and the connection closes; the
handler's later ``accept`` raises ``WebSocketDisconnect(1006)``: no WebSocket was ever open.
With ``ws_idle_timeout`` set, a connection whose client has sent no message for that long is
closed with **1001** (RFC 6455 §7.4.1, "going away": the server leaves, nothing was wrong with the
client; 1000 would say the connection's purpose was fulfilled). Pings and pongs do not count: they
are what keeps an idle connection open. It is off by default: a silent client that answers pings
is alive. Writes wait for the socket to drain once more than
``WRITE_HIGH_WATER`` is queued (the transport's ``pause_writing``), for at most ``body_timeout``;
a client that stops reading for longer is dropped.

A WebSocket holds its connection's slot (``max_connections``) until it ends; a graceful shutdown
closes every WebSocket with 1001 and waits for them up to ``shutdown_timeout``.
"""
import asyncio
import logging

from ..core.errors import WebSocketDisconnect
from ..core.problems import problem_response
from ..websocket.connection import WebSocket, serve_websocket
from .config import LINGER_TIMEOUT
from .http11 import response_head
from .websocket import (
    CLIENT_WINDOW_BITS, NEED_DATA, SERVER_WINDOW_BITS, BytesMessage, CloseReceived, HandshakeError, Ping, Pong,
    ProtocolFailure, TextMessage, WebSocketConnection, check_handshake, handshake_response, negotiate_deflate,
)

__all__ = ["serve_upgrade", "ServerChannel", "RECEIVE_QUEUE_SIZE", "CLOSE_TIMEOUT", "FAILURE_FLUSH_TIMEOUT",
           "WRITE_HIGH_WATER"]

logger = logging.getLogger("covet.error")

#: Whole messages read ahead of the handler. Past it the transport stops reading the socket, so a
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
    if config.ws_handshake_timeout:
        channel.handshake_timer = server.loop.call_later(config.ws_handshake_timeout, channel.handshake_timed_out,
                                                         path)
    websocket = WebSocket(path, query, head.headers, client, "wss" if scheme == "https" else "ws", conn.sockname,
                          channel, app=server.app, root_path=server.root_path, subprotocols=handshake.subprotocols)
    conn.ws = channel
    try:
        await serve_websocket(server.app, websocket)
    finally:
        conn.ws = None
        await channel.finish()
    return channel.status



class ServerChannel(asyncio.Protocol):
    """The channel of a WebSocket on covet's server (see ``covet.websocket.Channel``); once
    accepted, also the asyncio Protocol of its socket.

    PERF: one object per connection, slotted, that allocates nothing while the connection is idle
    but its ping timer: the pong, close and flush timers exist only while armed, the receive
    waiter only while the handler waits, drain waiters only while the socket pushes back.
    """

    __slots__ = ("conn", "handshake", "config", "loop", "transport", "ws", "status", "incoming", "waiter",
                 "gone", "failure", "held", "lingering", "ended", "end_waiter", "app_done", "write_paused",
                 "drain_waiters", "ping_timer", "pong_timer", "close_timer", "flush_timer", "handshake_timer",
                 "idle_timer", "last_seen")

    def __init__(self, conn, handshake):
        self.conn = conn
        self.handshake = handshake
        self.config = conn.server.config
        self.loop = conn.server.loop
        self.transport = conn.transport
        self.ws = None  # the codec's WebSocketConnection, once accepted
        self.status = None  # 101, or the status of the refusal (access log)
        self.incoming = None  # a list, once the handler falls behind: messages it has not taken yet
        self.waiter = None  # the future a receive() waits on while the queue is empty
        self.gone = None  # (code, reason) once closed, told to the handler after the queued messages
        self.failure = None  # a ProtocolFailure waiting for the handler to answer what came before it
        self.held = False  # reading paused: the queue is full
        self.lingering = False  # our close after a failure is out; input is read and dropped
        self.ended = False  # nothing more will be read: the close handshake is over or the stream gone
        self.end_waiter = None  # finish() waits on it for ``ended``
        self.app_done = False
        self.write_paused = False  # the transport holds more than WRITE_HIGH_WATER
        self.drain_waiters = None
        self.ping_timer = self.pong_timer = self.close_timer = self.flush_timer = None
        self.handshake_timer = self.idle_timer = None
        self.last_seen = 0.0  # loop time of the client's last message, kept only with ws_idle_timeout

    # -- the handshake -------------------------------------------------------------
    def handshake_timed_out(self, path):
        """ws_handshake_timeout passed with the handshake unanswered: refuse it with 503 now."""
        self.handshake_timer = None
        if self.status is not None:
            return
        self.status = 503
        conn = self.conn
        response = problem_response(None, 503, "the WebSocket handshake was not answered in time", instance=path)
        conn.flush()
        self._write(response_head(503, list(response.raw_headers) + conn.server.common_headers() + [CLOSE])
                    + response.body)
        # A client waits for our answer before it sends anything more (RFC 6455 §4.1): no unread
        # input to linger for.
        self.transport.close()

    def _answering(self):
        if self.handshake_timer is not None:
            self.handshake_timer.cancel()
            self.handshake_timer = None
        if self.status is not None:  # the handshake timed out: the client has had its 503
            raise WebSocketDisconnect(1006, "WebSocket handshake timed out")

    async def accept(self, subprotocol, headers):
        self._answering()
        config = self.config
        extensions = params = None
        if config.ws_per_message_deflate and self.handshake.extensions:
            negotiated = negotiate_deflate(self.handshake.extensions, server_max_window_bits=SERVER_WINDOW_BITS,
                                           client_max_window_bits=CLIENT_WINDOW_BITS)
            if negotiated is not None:
                extensions, params = negotiated
        self.ws = ws = WebSocketConnection(max_message_size=config.ws_max_message_size, deflate=params)
        conn = self.conn
        conn.flush()
        transport = self.transport
        transport.write(handshake_response(self.handshake.key, subprotocol, extensions,
                                           list(headers) + conn.server.common_headers()))
        self.status = 101
        self.handshake = None  # answered: nothing of it is needed any more
        # From here the socket's bytes come to data_received. The stream may hold some already
        # (after the handshake's own bytes, which the parser kept): frames the client sent right
        # behind its handshake. feed_eof() lets read() hand them over without waiting.
        transport.set_protocol(self)
        transport.set_write_buffer_limits(WRITE_HIGH_WATER)  # pause_writing, if due, comes to us
        rest = conn.parser.remaining()
        if rest:
            ws.feed(rest)
        reader = conn.reader
        ended = reader.ended or reader.exception() is not None
        reader.feed_eof()
        try:
            rest = await reader.read()
        except (ConnectionError, OSError):
            rest, ended = b"", True
        if rest:
            ws.feed(rest)
        if ended:
            ws.feed(b"")  # the stream ended before we took it over: the codec says 1006
        self._schedule_ping()
        idle = config.ws_idle_timeout
        if idle:
            self.last_seen = self.loop.time()
            self.idle_timer = self.loop.call_later(idle, self._idle_check)
        self._process()

    async def refuse(self, status, headers, body):
        try:
            self._answering()
        except WebSocketDisconnect:
            return  # already refused with 503
        self.status = status
        conn = self.conn
        conn.flush()
        conn.transport.write(response_head(status, list(headers) + conn.server.common_headers() + [CLOSE]) + body)
        await conn.linger()

    # -- the Protocol: bytes in ------------------------------------------------------
    def data_received(self, data):
        if self.lingering:
            return  # after our close following a failure: dropped (RFC 9112 §9.6 lingering close)
        self.ws.feed(data)
        self._process()

    def eof_received(self):
        if not self.lingering:
            self.ws.feed(b"")  # the codec reports 1006 once the bytes before the end are handled
            self._process()
        self._end()
        return False  # asyncio closes the transport

    def connection_lost(self, exc):
        if not self.ended and not self.lingering:
            self.ws.feed(b"")
            self._process()
        if self.gone is None and self.failure is None:
            self.gone = (1006, "")
        self._end()
        self._wake()
        waiters, self.drain_waiters = self.drain_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)
        self._stop_timers()

    def _process(self):
        """Handle the codec's events until it needs bytes, the queue is full or reading is over."""
        ws = self.ws
        try:
            while True:
                incoming = self.incoming
                if incoming is not None and len(incoming) >= RECEIVE_QUEUE_SIZE and not self.app_done:
                    if not self.held:
                        self.held = True
                        self.transport.pause_reading()  # TCP pushes back until the handler catches up
                    return
                event = ws.next_event()
                if event is NEED_DATA:
                    return
                kind = type(event)
                if kind is TextMessage:
                    self._deliver({"type": "websocket.receive", "text": event.data})
                elif kind is BytesMessage:
                    self._deliver({"type": "websocket.receive", "bytes": event.data})
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
                    self.transport.close()  # §7.1.1: the server closes TCP first
                    self._end()
                    return
                elif kind is ProtocolFailure:
                    # The handler first answers the messages that came before the bad frame.
                    self.failure = event
                    self.transport.pause_reading()
                    if incoming or self.waiter is None:
                        if not self.app_done:
                            self.flush_timer = self.loop.call_later(FAILURE_FLUSH_TIMEOUT, self._fail)
                            return
                    self._fail()
                    return
        except Exception:
            logger.exception("WebSocket reader failed")
            self._set_gone(1011, "")
            self.transport.abort()
            self._end()

    def _deliver(self, message):
        if self.idle_timer is not None:
            self.last_seen = self.loop.time()
        if self.app_done:
            return  # the handler has returned: nobody will read it
        waiter = self.waiter
        if waiter is not None and not self.incoming and not waiter.done():
            self.waiter = None
            waiter.set_result(message)  # PERF: straight to the waiting handler, no queue
        elif self.incoming is None:
            self.incoming = [message]
        else:
            self.incoming.append(message)

    def _fail(self):
        """Send our close for the protocol failure, then linger: the client may still be sending,
        and closing with its bytes unread would reset our close frame away (RFC 9112 §9.6)."""
        failure, self.failure = self.failure, None
        if failure is None:
            return
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None
        self._write(self.ws.close(failure.code, failure.reason))
        self._set_gone(failure.code, failure.reason)
        transport = self.transport
        if transport.is_closing() or not transport.can_write_eof():
            transport.close()  # TLS: close_notify ends the stream instead
            self._end()
            return
        transport.write_eof()
        self.lingering = True
        transport.resume_reading()
        self._stop_timers()
        self.close_timer = self.loop.call_later(LINGER_TIMEOUT, self._linger_over)

    def _linger_over(self):
        self.close_timer = None
        self.transport.close()
        self._end()

    def _end(self):
        """Reading is over (close handshake done, stream gone, or the linger after a failure)."""
        if self.lingering and not self.transport.is_closing():
            return  # eof_received while lingering: asyncio closes the transport next
        self.ended = True
        if self.pong_timer is not None or self.ping_timer is not None or self.idle_timer is not None:
            self._stop_timers(keep_close=True)
        waiter = self.end_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _set_gone(self, code, reason):
        if self.gone is None:
            self.gone = (code, reason)
        self._wake()

    def _wake(self):
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def receive(self):
        while True:
            incoming = self.incoming
            if incoming:
                message = incoming.pop(0)
                if not incoming:
                    self.incoming = None
                if self.held:
                    self.held = False
                    self._process()
                    if not self.held and self.failure is None and not self.ended and not self.write_paused:
                        self.transport.resume_reading()
                return message
            if self.failure is not None:
                self._fail()  # the handler has answered every message before the bad frame
            if self.gone is not None:
                return {"type": "websocket.disconnect", "code": self.gone[0], "reason": self.gone[1]}
            if self.waiter is not None:
                # Each message goes to one waiting receive(); which of two tasks would get the next
                # one is a race the app cannot mean (the websockets package refuses it too).
                raise RuntimeError("another task is already waiting in receive() on this WebSocket")
            waiter = self.waiter = self.loop.create_future()
            try:
                message = await waiter
            except asyncio.CancelledError:
                if self.waiter is waiter:
                    self.waiter = None
                elif waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    # Delivered as we were cancelled: keep it for the next receive.
                    self.incoming = [waiter.result()] + (self.incoming or [])
                raise
            if message is not None:
                return message

    # -- writing -------------------------------------------------------------------
    def _write(self, data):
        transport = self.transport
        if data and not transport.is_closing():
            transport.write(data)

    async def send(self, data):
        ws = self.ws
        transport = self.transport
        if self.gone is not None or ws.state != "OPEN" or transport.is_closing():
            code, reason = self.gone or (1006, "")
            raise WebSocketDisconnect(code, reason)
        transport.write(ws.send_text(data) if type(data) is str else ws.send_bytes(data))
        if self.write_paused:
            await self._drain()

    def send_nowait(self, data):
        """Write a message now unless that would mean waiting (the socket pushes back, or the
        connection is closing); False when nothing was written (WebSocketManager's fast path)."""
        ws = self.ws
        transport = self.transport
        if self.write_paused or ws is None or self.gone is not None or ws.state != "OPEN" or transport.is_closing():
            return False
        transport.write(ws.send_text(data) if type(data) is str else ws.send_bytes(data))
        return True

    def pause_writing(self):
        self.write_paused = True
        # Our pongs and close echoes are written as the client's frames are read: a client that
        # sends pings (RFC 6455 §5.5.2: each MUST be answered) but never reads would grow our
        # write buffer without bound. Past WRITE_HIGH_WATER we stop reading until it drains.
        if not self.lingering and not self.ended:
            self.transport.pause_reading()

    def resume_writing(self):
        self.write_paused = False
        if not self.held and self.failure is None and not self.ended and not self.lingering:
            self.transport.resume_reading()
        waiters, self.drain_waiters = self.drain_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def _drain(self):
        waiter = self.loop.create_future()
        if self.drain_waiters is None:
            self.drain_waiters = []
        self.drain_waiters.append(waiter)
        try:
            # Without a deadline a client that never reads holds its slot forever.
            await asyncio.wait_for(waiter, self.config.body_timeout)
        except asyncio.TimeoutError:
            self._drop(1006, "client stopped reading")
        finally:
            if self.drain_waiters is not None and waiter in self.drain_waiters:
                self.drain_waiters.remove(waiter)
        if self.gone is not None and self.transport.is_closing():
            raise WebSocketDisconnect(*self.gone)

    def _drop(self, code, reason):
        self._set_gone(code, reason)
        self.transport.abort()

    async def close(self, code, reason):
        self._close(code, reason)

    def _close(self, code, reason):
        ws = self.ws
        if ws is None:
            return
        self._write(ws.close(code, reason))
        if self.close_timer is None and not self.transport.is_closing():
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
        if ws.state != "OPEN" or self.gone is not None or self.ended:
            return
        # No pong is expected while reading is paused for the handler.
        if self.pong_timer is None and not self.held and self.failure is None:
            self._write(ws.send_ping(_PING_PAYLOAD))
            if self.config.ws_ping_timeout:
                self.pong_timer = self.loop.call_later(self.config.ws_ping_timeout, self._pong_timed_out)
        self._schedule_ping()

    def _idle_check(self):
        self.idle_timer = None
        if self.gone is not None or self.ended:
            return
        # Held: the client is not idle, the handler is behind (its messages wait in the codec).
        left = 0.0 if self.held else self.last_seen + self.config.ws_idle_timeout - self.loop.time()
        if self.held or left > 0:
            self.idle_timer = self.loop.call_later(left or self.config.ws_idle_timeout, self._idle_check)
            return
        self._close(1001, "idle timeout")
        self._set_gone(1001, "idle timeout")

    def _pong_timed_out(self):
        self.pong_timer = None
        if self.ws.state == "OPEN":
            self._close(1011, "keepalive ping timeout")
            self._set_gone(1011, "keepalive ping timeout")

    def _stop_timers(self, keep_close=False):
        for name in ("ping_timer", "pong_timer", "flush_timer", "idle_timer") if keep_close else (
                "ping_timer", "pong_timer", "flush_timer", "idle_timer", "close_timer", "handshake_timer"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    async def finish(self):
        """After the handler: wait for the close handshake (bounded by CLOSE_TIMEOUT), then stop."""
        self.app_done = True
        self.incoming = None
        if self.ws is not None and not self.ended:
            self._fail()  # a failure held for the handler's answers: the handler has no more
            if self.held:
                self.held = False
                self._process()  # app_done: the rest is read and dropped, up to the close
                if not self.ended and not self.lingering and not self.write_paused:
                    self.transport.resume_reading()
            if not self.ended:
                self.end_waiter = self.loop.create_future()
                try:
                    await asyncio.wait_for(self.end_waiter, CLOSE_TIMEOUT + LINGER_TIMEOUT)
                except asyncio.TimeoutError:
                    self.transport.abort()
        self._stop_timers()
