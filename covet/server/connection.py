"""One client connection: the loop that reads requests, dispatches them and writes the answers.

One task per connection reads what the socket has (up to 64 KiB), parses every complete request
in it, answers them in order, and writes all the answers of that batch with one ``write``
(pipelining costs one syscall per batch, not per request). Deadlines are times stored on the
connection and checked by the server's tick (no timer per request): the request head (from accept
or its first byte, absolute, so a client trickling one byte a second is cut off) and idle
keep-alive; a body read has its own timeout.

The connection knows its server only through a few attributes (``app``, ``config``, ``loop``,
``shutting_down``, ``common_headers()``, ``error_bytes()``, ``spawn()``), so this module does not
import the server.
"""
import asyncio
import logging
import os
import time

from ..core._answers import log_safe
from ..core.datastructures import Address
from ..core.driver import file_segment, send_file, start as driver_start, stream as driver_stream
from ..core.errors import HTTPException
from ..core.requests import Request
from ..core.status import NO_CONTENT
from .config import INLINE_FILE_MAX, LINGER_TIMEOUT, READ_SIZE, SENDFILE_SLICE, WRITE_HIGH_WATER
from .http11 import LAST_CHUNK, NEED_DATA, Body, EndOfMessage, ProtocolError, RequestParser, chunk, response_head
from .proxy import forwarded_client

__all__ = ["Connection", "ConnectionReader", "BodyReader", "ClientGone", "CLOSE", "CONTINUE", "log_safe",
           "spawn_after_send"]

logger = logging.getLogger("covet.error")
access_logger = logging.getLogger("covet.access")

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CLOSE = (b"connection", b"close")


class ConnectionReader(asyncio.StreamReader):
    """asyncio's StreamReader, noting when the stream ended (the peer's EOF, or the connection lost).

    A WebSocket takes the transport over from the stream after its 101 (covet.server.wsconnection)
    and must know whether the stream it inherits had already ended: once it has, the transport
    never reports that end again.
    """

    ended = False

    def feed_eof(self) -> None:
        self.ended = True
        super().feed_eof()


class ClientGone(HTTPException):
    """The client closed the connection while we were reading its body (nothing will be sent)."""

    def __init__(self):
        super().__init__(400, "client closed the connection before the body was complete")


class Connection:
    """One client connection: its parser, streams, deadlines and state."""

    __slots__ = ("server", "reader", "writer", "transport", "parser", "client", "sockname", "scheme",
                 "deadline", "partial", "idle", "out", "out_size", "proxied", "lingering", "ws", "live",
                 "zero_copy")

    def __init__(self, server, reader, writer):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        self.parser = RequestParser(server.config.limits)
        peer = writer.get_extra_info("peername")
        # Address is a tuple with names (request.client.host / .port), made once per connection.
        self.client = (Address(peer[0], peer[1]) if isinstance(peer, tuple) else Address("unix", 0)
                       if peer is not None else None)
        sock = writer.get_extra_info("sockname")
        self.sockname = Address(sock[0], sock[1]) if isinstance(sock, tuple) else None
        self.scheme = "https" if writer.get_extra_info("sslcontext") is not None else "http"
        # Files go out with loop.sendfile (os.sendfile: no copy through Python) on plain TCP; TLS
        # must encrypt every byte in user space, so there they are read in chunks and written.
        self.zero_copy = self.scheme == "http" and hasattr(server.loop, "sendfile")
        # Decided once per connection: the peer does not change.
        trusted = server.config.trusted
        self.proxied = bool(trusted) and self.client is not None and self.client[0] in trusted
        # Loop time after which the pending read is abandoned (checked by
        # the server's tick; PERF: no timer object per request).
        self.deadline = None
        self.partial = False
        self.idle = True
        self.out = []
        self.out_size = 0
        self.lingering = False
        self.live = None  # the task sending a live stream (an unbuffered response), see stop_stream
        self.ws = None  # the WebSocket channel while this connection carries one (graceful shutdown closes it)

    # -- deadlines --------------------------------------------------------
    def _arm(self, seconds, partial):
        self.deadline = self.server.loop.time() + seconds
        self.partial = partial

    def _disarm(self):
        self.deadline = None

    def expire(self):
        """The deadline passed: 408 if a request head was under way, then close."""
        self.deadline = None
        transport = self.transport
        if transport.is_closing():
            return
        if self.lingering or not (self.partial or self.has_partial_head()):
            transport.close()
            return
        # RFC 9110 §15.5.9: 408 tells the client we gave up waiting for the request.
        transport.write(self.server.error_bytes(408, "request head not received in time"))
        if not transport.can_write_eof():
            transport.close()  # TLS: close_notify follows the 408
            return
        # A client still sending its head would get RST for the bytes we leave unread, and RST can
        # destroy the 408 in flight (RFC 9112 §9.6). So half-close, and let run() drop what still
        # arrives until the client closes; this deadline bounds the wait.
        transport.write_eof()
        self.lingering = True
        self._arm(LINGER_TIMEOUT, False)

    def has_partial_head(self):
        return self.parser.pending() > 0

    # -- making room at the connection limit -------------------------------------------------
    def sheddable(self):
        """Whether closing now loses nothing: waiting for a request (its first or the next one),
        with no byte of it received and no byte of the last answer still queued.

        Only the run() loop's wait for a request head arms a deadline while ``idle`` and not
        ``partial``; a running handler, a body read, a drain and a lingering close never do.
        """
        return (self.idle and self.deadline is not None and not self.partial and not self.lingering
                and not self.parser.pending() and not self.transport.get_write_buffer_size()
                and not self.transport.is_closing())

    def shed(self):
        """Close this idle connection now, to admit a new client (the server is at its limit).

        abort(), not close(): nothing is queued to flush, and a TLS close would wait for the
        client's close_notify while the new client waits for the slot. A client whose next
        request crosses the close retries it on a new connection (RFC 9112 §9.3.1).
        """
        self.deadline = None
        self.transport.abort()

    # -- the loop ------------------------------------------------------------
    async def run(self):
        server = self.server
        config = server.config
        parser = self.parser
        reader = self.reader
        dispatch = server.app.dispatch
        loop_time = server.loop.time
        served = 0
        head_started = None
        try:
            while True:
                # PERF: with nothing buffered between requests there is nothing to parse.
                partial = parser.pending()
                if partial:
                    try:
                        event = parser.next_event()
                    except ProtocolError as exc:
                        self.flush()
                        self.transport.write(server.error_bytes(exc.status, exc.detail, close=True,
                                                                instance=exc.instance))
                        await self.linger()
                        return
                else:
                    event = NEED_DATA
                if event is NEED_DATA:
                    # Between requests the parser holds nothing or a partial head, never body bytes
                    # (handle() consumes or skips every body), so ``partial`` means a head under way.
                    if self.out:
                        self.flush()
                    if self.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                        await self.drain()
                    if partial:
                        now = loop_time()
                        if head_started is None:
                            head_started = now
                        self._arm(max(config.head_timeout - (now - head_started), 0.0), True)
                    elif server.shutting_down:
                        return
                    elif served:
                        self.idle = True
                        # PERF: _arm() inline.
                        self.deadline = loop_time() + config.keepalive_timeout
                        self.partial = False
                    else:
                        self._arm(config.head_timeout, False)
                    data = await reader.read(READ_SIZE)
                    if self.lingering:
                        await self.linger()  # expire() answered 408 while we waited
                        return
                    self.deadline = None
                    if not data:
                        return
                    parser.feed(data)
                    continue
                if type(event) is EndOfMessage:
                    continue
                # a RequestHead
                head_started = None
                self.idle = False
                served += 1
                keep_alive = await self.handle(event, dispatch)
                if not keep_alive or server.shutting_down:
                    self.flush()
                    return
        except ConnectionError:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("connection handler failed")
        finally:
            self._disarm()
            self.flush()
            if not self.transport.is_closing():
                self.transport.close()

    async def linger(self):
        """Before closing with unread input: half-close, then read and drop input for a while.

        Closing a socket whose receive buffer holds data makes the kernel send
        RST, which can destroy the error response still in flight to the client
        (RFC 9112 §9.6; nginx and Apache "lingering close").
        """
        self.flush()
        transport = self.transport
        if transport.is_closing() or not transport.can_write_eof():
            return  # TLS: close_notify ends the stream instead
        loop = self.server.loop
        deadline = loop.time() + LINGER_TIMEOUT
        try:
            transport.write_eof()
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0 or not await asyncio.wait_for(self.reader.read(READ_SIZE), remaining):
                    return
        except (asyncio.TimeoutError, OSError):
            pass  # the client is gone (ENOTCONN, reset) or too slow to stop: close now

    async def drain(self):
        """Wait for the client to take queued output; a client that stops reading is cut off."""
        if not self.transport.get_write_buffer_size():
            await self.writer.drain()  # PERF: nothing queued, no timer
            return
        try:
            # Without a deadline a client that never reads holds its slot forever.
            await asyncio.wait_for(self.writer.drain(), self.server.config.body_timeout)
        except asyncio.TimeoutError:
            self.transport.abort()
            raise ConnectionResetError("client stopped reading the response") from None

    def flush(self):
        if self.out:
            out = self.out
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
            self.out_size = 0

    async def handle(self, head, dispatch):
        """Answer one request; returns whether the connection stays open."""
        server = self.server
        parser = self.parser
        target = head.target
        q = target.find("?")
        if q >= 0:
            path, query = target[:q], target[q + 1:]
        else:
            path, query = target, ""
        if path[:1] != "/" and path != "*":
            # absolute-form (RFC 9112 §3.2.2): keep only the path.
            scheme_end = path.find("://")
            slash = path.find("/", scheme_end + 3) if scheme_end >= 0 else -1
            path = path[slash:] if slash >= 0 else "/"
        has_body = head.chunked or head.content_length
        if not has_body:
            parser.next_event()  # its EndOfMessage: no I/O, no body
        client = self.client
        scheme = self.scheme
        if self.proxied and head.forwarded:
            host, proto = forwarded_client(head.headers, client[0], server.config.trusted)
            client = Address(host, client[1])
            if proto:
                scheme = "https" if proto in ("https", "wss") else "http"
        if head.upgrade is not None:
            # RFC 9110 §7.8: an upgrade counts only with "Connection: upgrade" on HTTP/1.1, which the
            # parser checked; any other Upgrade header is ignored and the request served as HTTP.
            from .websocket import is_upgrade_request

            if is_upgrade_request(head.method, head.headers):
                from .wsconnection import serve_upgrade  # loaded with the first WebSocket

                self.idle = False
                start = time.perf_counter()
                status = await serve_upgrade(self, head, path, query, client, scheme, bool(has_body))
                if server.access_log:  # one line when the WebSocket ends: 101 and how long it lived
                    access_logger.info('%s:%s - "%s %s HTTP/%s" %d %.1fms', log_safe(client[0]) if client else "-",
                                       client[1] if client else "-", head.method, log_safe(target), head.version,
                                       status or 0, (time.perf_counter() - start) * 1000)
                return False
        body_state = None
        if has_body:
            body_state = BodyReader(self, head.expect_continue)
            request = Request(head.method, path, query, head.headers, client, scheme, self.sockname,
                              head.version, receive=body_state.receive, app=server.app)
        else:
            request = Request(head.method, path, query, head.headers, client, scheme, self.sockname,
                              head.version, body=b"", app=server.app)
        if server.root_path:  # PERF: a test, not a keyword argument, for the usual empty prefix
            request.root_path = server.root_path
        start = time.perf_counter() if server.access_log else 0.0
        response = await dispatch(request)
        if self.transport.is_closing():
            spawn_after_send(server, response)  # the client left: still release what the request holds
            return False
        keep_alive = head.keep_alive and not server.shutting_down
        if body_state is not None and not body_state.finished:
            keep_alive = keep_alive and body_state.skip_rest()
        if body_state is not None and body_state.failed:
            keep_alive = False
        if keep_alive and response.streaming and head.version == "1.0" and not any(
                k == b"content-length" for k, _ in response.raw_headers):
            keep_alive = False  # RFC 9112 §6.3: a body without length ends with the connection
        if keep_alive and CLOSE in response.raw_headers:
            keep_alive = False  # RFC 9112 §9.6: the app said close; read no further request
        try:
            # covet.core.driver decides what goes out (headers, whether a body may, closing the stream).
            status, headers, body, send_body = driver_start(response, head.method)
            if body is not None:
                sent = self.queue(status, headers, body, head.version, keep_alive)
                if self.out_size > WRITE_HIGH_WATER:
                    # A pipelined batch's answers are bounded too: hand them over and wait if the
                    # socket backs up.
                    self.flush()
                    if self.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                        await self.drain()
            else:
                sent = await self.send_stream(response, status, headers, send_body, head.version, keep_alive)
        except BaseException:
            # A reset mid-stream must not skip yield-dependency teardown and temp-file cleanup.
            spawn_after_send(server, response)
            raise
        if server.access_log:
            # The request's id (RequestIDMiddleware) as a field, for JSON logs (covet.logging).
            rid = request.state.__dict__.get("request_id")
            access_logger.info('%s:%s - "%s %s HTTP/%s" %d %d %.1fms', log_safe(client[0]) if client else "-",
                               client[1] if client else "-", head.method, log_safe(target), head.version,
                               response.status_code, sent, (time.perf_counter() - start) * 1000,
                               extra=None if rid is None else {"request_id": rid})
        if response._after is not None or response.background is not None:
            self.flush()
            spawn_after_send(server, response)
        if body_state is not None and not body_state.finished:
            await self.linger()  # the client may still be sending the body we did not read
        return keep_alive

    def tail(self, headers, version, keep_alive):
        """The header lines the server adds: Date and Server, and Connection where it must be said."""
        tail = self.server.common_tail()
        if not keep_alive:
            if version == "1.1" and CLOSE not in headers:
                tail += b"connection: close\r\n"
        elif version == "1.0":
            tail += b"connection: keep-alive\r\n"
        return tail

    def queue(self, status, headers, body, version, keep_alive):
        """Queue a whole response for the batch's one write (PERF: no coroutine); returns the body size."""
        data = response_head(status, headers, version, self.tail(headers, version, keep_alive))
        size = len(body)
        if not size:
            self.out.append(data)
        elif size < 16384:
            self.out.append(data + body)  # one write for head and body: no Nagle/delayed-ACK stall
        else:
            self.out.append(data)
            self.out.append(body)
        self.out_size += len(data) + size
        return size

    async def send_stream(self, response, status, headers, send_body, version, keep_alive):
        """Send a streamed body; returns the number of body bytes sent."""
        # Streaming: chunked on 1.1 unless the app set Content-Length; close-delimited on 1.0.
        has_length = any(k == b"content-length" for k, _ in headers)
        chunked = version == "1.1" and not has_length and status not in NO_CONTENT
        tail = self.tail(headers, version, keep_alive)
        if chunked:
            tail += b"transfer-encoding: chunked\r\n"
        self.out.append(response_head(status, headers, version, tail))
        segment = file_segment(response, send_body) if self.zero_copy and not chunked else None
        if segment is not None and segment[2] <= INLINE_FILE_MAX and _HAS_PREAD:
            try:
                return await send_file(response, self.send_inline)  # the head goes out with the bytes
            finally:
                self.flush()  # an empty body, or an error: the head alone
        self.flush()
        writer = self.writer
        drain = self.drain

        if chunked:
            async def write(data):
                writer.write(chunk(data))
                await drain()
        else:
            async def write(data):
                writer.write(data)
                await drain()

        if segment is not None:
            return await send_file(response, self.sendfile)
        if not response.unbuffered:
            sent = await driver_stream(response, send_body, write)
        else:
            # A live stream (server-sent events) has no end of its own: a graceful shutdown ends
            # it (stop_stream) with a proper last chunk, so the client reconnects (to the next
            # server of a rolling restart) instead of holding the shutdown for its whole deadline.
            task = self.server.loop.create_task(driver_stream(response, send_body, write))
            self.live = task
            try:
                sent = await task
            except asyncio.CancelledError:
                if not (self.live is None and task.cancelled()):
                    raise  # we were cancelled ourselves, not told to stop the stream
                sent = 0
            finally:
                self.live = None
        if chunked and send_body:
            writer.write(LAST_CHUNK)
        return sent

    async def send_inline(self, file, offset, count):
        """Send ``count`` (at most INLINE_FILE_MAX) bytes of ``file`` from ``offset`` with the
        queued response head, in one write; returns how many (fewer when the file shrank)."""
        data = os.pread(file.fileno(), count, offset)
        self.out.append(data)
        self.flush()
        if self.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
            await self.drain()
        return len(data)

    async def sendfile(self, file, offset, count):
        """Send ``count`` bytes of ``file`` from ``offset`` with ``loop.sendfile``; returns how many
        went out (fewer when the file shrank). Slice by slice, each within ``body_timeout``."""
        loop = self.server.loop
        transport = self.transport
        timeout = self.server.config.body_timeout
        sent = 0
        while sent < count:
            if transport.is_closing():
                raise ConnectionResetError("the client went away during a file response")
            size = min(SENDFILE_SLICE, count - sent)
            try:
                got = await asyncio.wait_for(loop.sendfile(transport, file, offset + sent, size), timeout)
            except asyncio.TimeoutError:
                transport.abort()
                raise ConnectionResetError("client stopped reading the response") from None
            sent += got
            if got < size:
                break  # the file is shorter than it was: the driver ends the exchange
        return sent

    def stop_stream(self):
        """End a live stream being sent (graceful shutdown); the connection then closes."""
        task, self.live = self.live, None
        if task is not None:
            task.cancel()


# os.pread is POSIX only; elsewhere every file goes out through loop.sendfile.
_HAS_PREAD = hasattr(os, "pread")


def spawn_after_send(server, response):
    if response._after is not None or response.background is not None:
        server.spawn(response.after_send())


class BodyReader:
    """Feeds a request body from the parser to ``request.stream()``, reading the socket as needed."""

    __slots__ = ("conn", "expect_continue", "finished", "failed", "waited", "received")

    def __init__(self, conn, expect_continue):
        self.conn = conn
        self.expect_continue = expect_continue
        self.finished = False
        self.failed = False
        # Only time spent waiting on the client counts against its rate, not
        # time the handler spends between reads (TCP holds the client back then).
        self.waited = 0.0
        self.received = 0

    async def receive(self):
        if self.finished:
            return b""
        conn = self.conn
        parser = conn.parser
        while True:
            try:
                event = parser.next_event()
            except ProtocolError as exc:
                self.failed = True
                raise HTTPException(exc.status, exc.detail) from None
            if type(event) is Body:
                return event.data
            if type(event) is EndOfMessage:
                self.finished = True
                return b""
            if self.expect_continue:
                # RFC 9110 §10.1.1: send 100 only once the handler wants the body.
                self.expect_continue = False
                conn.flush()
                conn.transport.write(CONTINUE)
            config = conn.server.config
            budget = config.body_timeout
            rate = config.min_body_rate
            if rate:
                # The first body_timeout of waiting is free; after it, each
                # second of waiting must be paid for with `rate` bytes.
                budget = min(budget, config.body_timeout + self.received / rate - self.waited)
                if budget <= 0:
                    self.failed = True
                    raise HTTPException(408, "request body arriving slower than %d bytes a second" % rate)
            loop = conn.server.loop
            started = loop.time()
            try:
                data = await asyncio.wait_for(conn.reader.read(READ_SIZE), budget)
            except asyncio.TimeoutError:
                self.failed = True
                if budget < config.body_timeout:
                    raise HTTPException(408, "request body arriving slower than %d bytes a second" % rate) from None
                raise HTTPException(408, "request body not received in time") from None
            except ConnectionError:
                # A client that resets mid-body is gone, as one that closes is: the handler's read
                # fails with the same 400, and no "unhandled error" lands in the log.
                self.failed = True
                raise ClientGone() from None
            finally:
                self.waited += loop.time() - started
            if not data:
                self.failed = True
                raise ClientGone()
            self.received += len(data)
            parser.feed(data)

    def skip_rest(self):
        """Consume an unread body that is already buffered; False when the connection must close instead."""
        if self.expect_continue:
            return False  # the client never sent it: closing is the only safe framing
        parser = self.conn.parser
        while True:
            try:
                event = parser.next_event()
            except ProtocolError:
                return False
            if type(event) is EndOfMessage:
                self.finished = True
                return True
            if event is NEED_DATA:
                return False
