"""The HTTP/1.1 server: asyncio streams moving bytes between sockets and the sans-IO parser.

One task per connection reads what the socket has (up to 64 KiB), parses
every complete request in it, answers them in order, and writes all the
answers of that batch with one ``write`` (pipelining costs one syscall per
batch, not per request). Deadlines are times stored on the connection and
checked by one server tick (no timer per request): the request head (from
accept or its first byte, absolute, so a client trickling one byte a second
is cut off) and idle keep-alive; a body read has its own timeout.
"""
import asyncio
import ipaddress
import logging
import os
import signal
import socket
import ssl as ssl_module
import sys
import time
from email.utils import formatdate

from ..core.errors import HTTPException, problem_response
from ..core.requests import Request
from ..core.responses import wire_headers
from ..core.status import NO_CONTENT, NO_CONTENT_LENGTH
from .http11 import LAST_CHUNK, NEED_DATA, Body, EndOfMessage, Limits, ProtocolError, RequestParser, chunk, response_head

__all__ = ["ServerConfig", "Server", "run", "serve"]

logger = logging.getLogger("covet.error")
access_logger = logging.getLogger("covet.access")

# Defaults, each with its reason (docs/server.md has the table).
DEFAULT_HEAD_TIMEOUT = 10.0       # whole request head, from accept or from its first byte: slowloris bound
DEFAULT_KEEPALIVE_TIMEOUT = 5.0   # idle between requests; nginx uses 75 s, uvicorn 5 s
DEFAULT_BODY_TIMEOUT = 30.0       # waiting for the next piece of a request body
# After the first body_timeout of waiting, a body must keep coming at this rate
# (bytes per second), as Apache's mod_reqtimeout MinRate: a client trickling a
# byte every few seconds cannot hold a connection until the size limit.
DEFAULT_MIN_BODY_RATE = 500
DEFAULT_MAX_CONNECTIONS = 1000    # beyond it, new connections wait in the kernel's backlog
DEFAULT_SHUTDOWN_TIMEOUT = 10.0   # in-flight requests get this long after SIGTERM
DEFAULT_BACKLOG = 2048
READ_SIZE = 65536
# Drain the socket only when this much is queued: drain() is an await per
# response, and small answers fit the kernel buffer anyway.
WRITE_HIGH_WATER = 256 * 1024
# Longest wait for a client to stop sending after we answered without reading all it sent.
LINGER_TIMEOUT = 2.0


class ServerConfig:
    """Every server setting, with the defaults above; ``python -m covet run`` options map onto it."""

    def __init__(self, host="127.0.0.1", port=8000, limits=None, head_timeout=DEFAULT_HEAD_TIMEOUT,
                 keepalive_timeout=DEFAULT_KEEPALIVE_TIMEOUT, body_timeout=DEFAULT_BODY_TIMEOUT,
                 max_connections=DEFAULT_MAX_CONNECTIONS, shutdown_timeout=DEFAULT_SHUTDOWN_TIMEOUT,
                 forwarded_allow_ips="127.0.0.1", access_log=False, ssl_certfile=None, ssl_keyfile=None,
                 ssl_context=None, backlog=DEFAULT_BACKLOG, server_header=True, min_body_rate=DEFAULT_MIN_BODY_RATE):
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.head_timeout = head_timeout
        self.keepalive_timeout = keepalive_timeout
        self.body_timeout = body_timeout
        if min_body_rate < 0:
            raise ValueError("min_body_rate is bytes per second, 0 (off) or more, got %r" % (min_body_rate,))
        self.min_body_rate = min_body_rate
        self.max_connections = max_connections
        self.shutdown_timeout = shutdown_timeout
        self.trusted = _TrustedProxies(forwarded_allow_ips)
        self.access_log = access_log
        self.backlog = backlog
        self.server_header = server_header
        if ssl_context is None and ssl_certfile:
            ssl_context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(ssl_certfile, ssl_keyfile)
        self.ssl = ssl_context


class _TrustedProxies:
    """Which peers may tell us the client address (X-Forwarded-For, Forwarded)."""

    def __init__(self, spec):
        if isinstance(spec, str):
            spec = [s.strip() for s in spec.split(",") if s.strip()]
        self.all = "*" in spec
        self.networks = []
        self.literals = set()
        for item in spec or ():
            if item == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.literals.add(item)  # e.g. "unix:" or a hostname

    def __contains__(self, host):
        if self.all:
            return True
        if host in self.literals:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def __bool__(self):
        return self.all or bool(self.networks) or bool(self.literals)


def _forwarded_client(headers, peer_host, trusted):
    """(client host, scheme or None) from proxy headers, trusting only configured proxies.

    The right-most address that is not a trusted proxy is the client
    (uvicorn#1068: left-most can be forged by the client itself).
    """
    hops = []
    proto = None
    for name, value in headers:
        if name == b"x-forwarded-for":
            hops.extend(h.strip() for h in value.decode("latin-1").split(","))
        elif name == b"x-forwarded-proto":
            proto = value.decode("latin-1").split(",")[-1].strip().lower()
        elif name == b"forwarded":
            for element in value.decode("latin-1").split(","):
                for pair in element.split(";"):
                    k, _, v = pair.partition("=")
                    k = k.strip().lower()
                    v = v.strip().strip('"')
                    if k == "for":
                        if v.startswith("[") and "]" in v:
                            v = v[1:v.index("]")]
                        elif v.count(":") == 1:
                            v = v.split(":")[0]
                        hops.append(v)
                    elif k == "proto":
                        proto = v.lower()
    client = peer_host
    for hop in reversed(hops):
        if not hop:
            continue
        client = hop
        if hop not in trusted:
            break
    if proto not in ("http", "https", "ws", "wss"):
        proto = None
    return client, proto


class _DateCache:
    """The Date header value, recomputed at most once per second."""

    __slots__ = ("second", "value")

    def __init__(self):
        self.second = 0
        self.value = b""

    def get(self):
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.value = formatdate(now, usegmt=True).encode("ascii")
        return self.value


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_CLOSE = (b"connection", b"close")
# C0, DEL and C1 (a proxy header decoded as latin-1 can hold \x9b, the 8-bit CSI).
_CTRL = {i: "\\x%02x" % i for i in list(range(32)) + list(range(127, 160))}


def _log_safe(text):
    # Control characters in logged paths would let a client forge log lines
    # or terminal escapes (uvicorn CVE-2020-7694).
    return text.translate(_CTRL)


class _ClientGone(HTTPException):
    """The client closed the connection while we were reading its body (nothing will be sent)."""

    def __init__(self):
        super().__init__(400, "client closed the connection before the body was complete")


class _Connection:
    """One client connection: its parser, streams, deadlines and state."""

    __slots__ = ("server", "reader", "writer", "transport", "parser", "client", "sockname", "scheme",
                 "deadline", "partial", "idle", "out", "out_size", "proxied", "lingering")

    def __init__(self, server, reader, writer):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        self.parser = RequestParser(server.config.limits)
        peer = writer.get_extra_info("peername")
        self.client = (peer[0], peer[1]) if isinstance(peer, tuple) else ("unix", 0) if peer is not None else None
        sock = writer.get_extra_info("sockname")
        self.sockname = (sock[0], sock[1]) if isinstance(sock, tuple) else None
        self.scheme = "https" if writer.get_extra_info("sslcontext") is not None else "http"
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
        if self.lingering or not (self.partial or self._has_partial_head()):
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

    def _has_partial_head(self):
        return self.parser.pending() > 0

    # -- the loop ------------------------------------------------------------
    async def run(self):
        server = self.server
        config = server.config
        parser = self.parser
        reader = self.reader
        dispatch = server.app.dispatch
        served = 0
        head_started = None
        try:
            while True:
                try:
                    # PERF: with nothing buffered between requests there is nothing to parse.
                    event = parser.next_event() if parser.pending() else NEED_DATA
                except ProtocolError as exc:
                    self.flush()
                    self.transport.write(server.error_bytes(exc.status, exc.detail, close=True))
                    await self.linger()
                    return
                if event is NEED_DATA:
                    self.flush()
                    if self.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                        await self.drain()
                    if server.shutting_down and not self._has_partial_head():
                        return
                    if self._has_partial_head():
                        if head_started is None:
                            head_started = server.loop.time()
                        remaining = config.head_timeout - (server.loop.time() - head_started)
                        self._arm(max(remaining, 0.0), True)
                    elif served:
                        self.idle = True
                        self._arm(config.keepalive_timeout, False)
                    else:
                        self._arm(config.head_timeout, False)
                    data = await reader.read(READ_SIZE)
                    if self.lingering:
                        await self.linger()  # expire() answered 408 while we waited
                        return
                    self._disarm()
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
        if self.proxied:
            host, proto = _forwarded_client(head.headers, client[0], server.config.trusted)
            client = (host, client[1])
            if proto:
                scheme = "https" if proto in ("https", "wss") else "http"
        body_state = None
        if has_body:
            body_state = _BodyReader(self, head.expect_continue)
            request = Request(head.method, path, query, head.headers, client, scheme, self.sockname,
                              head.version, receive=body_state.receive, app=server.app)
        else:
            request = Request(head.method, path, query, head.headers, client, scheme, self.sockname,
                              head.version, body=b"", app=server.app)
        start = time.perf_counter() if server.config.access_log else 0.0
        response = await dispatch(request)
        if self.transport.is_closing():
            _spawn_after_send(server, response)  # the client left: still release what the request holds
            return False
        keep_alive = head.keep_alive and not server.shutting_down
        if body_state is not None and not body_state.finished:
            keep_alive = keep_alive and body_state.skip_rest()
        if body_state is not None and body_state.failed:
            keep_alive = False
        if keep_alive and response.streaming and head.version == "1.0" and not any(
                k == b"content-length" for k, _ in response.raw_headers):
            keep_alive = False  # RFC 9112 §6.3: a body without length ends with the connection
        if keep_alive and _CLOSE in response.raw_headers:
            keep_alive = False  # RFC 9112 §9.6: the app said close; read no further request
        try:
            sent = await self.send(response, head, keep_alive)
        except BaseException:
            # A reset mid-stream must not skip yield-dependency teardown and temp-file cleanup.
            _spawn_after_send(server, response)
            raise
        if server.config.access_log:
            access_logger.info('%s:%s - "%s %s HTTP/%s" %d %d %.1fms', _log_safe(client[0]) if client else "-",
                               client[1] if client else "-", head.method, _log_safe(target), head.version,
                               response.status_code, sent, (time.perf_counter() - start) * 1000)
        if response._after is not None or response.background is not None:
            self.flush()
            _spawn_after_send(server, response)
        if body_state is not None and not body_state.finished:
            await self.linger()  # the client may still be sending the body we did not read
        return keep_alive

    async def send(self, response, head, keep_alive):
        """Serialise ``response``; returns the number of body bytes sent."""
        server = self.server
        status = response.status_code
        headers = response.raw_headers
        if status in NO_CONTENT_LENGTH:  # PERF: the check inline, the call only when it can matter
            headers = wire_headers(status, headers)
        extra = server.common_headers()
        version = head.version
        if not keep_alive:
            if version == "1.1" and _CLOSE not in headers:
                extra = extra + [_CLOSE]
        elif version == "1.0":
            extra = extra + [(b"connection", b"keep-alive")]
        if not response.streaming:
            body = response.body
            data = response_head(status, headers + extra, version)
            size = len(body)
            out = self.out
            # RFC 9112 §6.3: HEAD, 1xx, 204 and 304 answers end at the head; a
            # body set anyway would be read as the start of the next response.
            if not size or head.method == "HEAD" or status in NO_CONTENT:
                out.append(data)
                self.out_size += len(data)
                size = 0
            else:
                # One write for head and body: no Nagle/delayed-ACK stall.
                out.append(data + body if size < 16384 else data)
                if size >= 16384:
                    out.append(body)
                self.out_size += len(data) + size
            if self.out_size > WRITE_HIGH_WATER:
                # A pipelined batch's answers are bounded too: hand them over and wait if the socket backs up.
                self.flush()
                if self.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    await self.drain()
            return size
        # Streaming: chunked on 1.1 unless the app set Content-Length; close-delimited on 1.0.
        has_length = any(k == b"content-length" for k, _ in headers)
        chunked = version == "1.1" and not has_length and status not in NO_CONTENT
        if chunked:
            extra = extra + [(b"transfer-encoding", b"chunked")]
        self.out.append(response_head(status, headers + extra, version))
        self.flush()
        sent = 0
        iterator = response.iter_body()
        try:
            if head.method == "HEAD" or status in NO_CONTENT:
                return 0
            writer = self.writer
            async for data in iterator:
                sent += len(data)
                writer.write(chunk(data) if chunked else data)
                await self.drain()
            if chunked:
                writer.write(LAST_CHUNK)
        finally:
            # The app's own generator too: leaving ``async for`` does not close it, and
            # its cleanup (files, cursors) must run when the client goes away mid-stream.
            for it in (iterator, getattr(response, "body_iterator", None)):
                aclose = getattr(it, "aclose", None)
                if aclose is not None:
                    await aclose()
        return sent


def _spawn_after_send(server, response):
    if response._after is not None or response.background is not None:
        server.spawn(response.after_send())


class _BodyReader:
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
                conn.transport.write(_CONTINUE)
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
            finally:
                self.waited += loop.time() - started
            if not data:
                self.failed = True
                raise _ClientGone()
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


class Server:
    """Serves one Covet app on one listening socket (per process)."""

    def __init__(self, app, config=None, sock=None):
        self.app = app
        self.config = config or ServerConfig()
        self.sock = sock
        self.loop = None
        self.connections = set()
        self.tasks = set()
        self.shutting_down = False
        self.started = None
        self._accept_task = None
        self._slots = None
        self._date = _DateCache()
        self._tick = None
        self._tick_interval = 1.0
        self._server_pair = [(b"server", b"covet")] if self.config.server_header else []
        self._common = None
        self._common_second = -1
        self.bound = None
        self._stopped = None

    def common_headers(self):
        """Date (and Server) headers shared by every response this second."""
        d = self._date
        value = d.get()
        if d.second != self._common_second:
            self._common_second = d.second
            self._common = self._server_pair + [(b"date", value)]
        return self._common

    def error_bytes(self, status, detail, close=True):
        """A complete problem+json response for errors found before a Request exists."""
        response = problem_response(None, status, detail)
        headers = response.raw_headers + self.common_headers()
        if close:
            headers = headers + [(b"connection", b"close")]
        return response_head(status, headers) + response.body

    def spawn(self, coro):
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task):
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("after-response task failed", exc_info=task.exception())

    def create_socket(self):
        """Bind the listening socket (unless one was given); returns it."""
        if self.sock is not None:
            return self.sock
        self.sock = bind_socket(self.config.host, self.config.port, self.config.backlog)
        return self.sock

    async def start(self):
        """Start accepting; returns once listening (``self.bound`` holds the address)."""
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        sock = self.create_socket()
        sock.setblocking(False)
        self.bound = sock.getsockname()
        self._slots = asyncio.Semaphore(self.config.max_connections)
        await self.app.startup()
        self._accept_task = self.loop.create_task(self._accept_loop(sock))
        c = self.config
        self._tick_interval = min(1.0, max(0.01, min(c.head_timeout, c.keepalive_timeout) / 4))
        self._tick = self.loop.call_later(self._tick_interval, self._on_tick)

    def _on_tick(self):
        now = self.loop.time()
        for conn in list(self.connections):
            deadline = conn.deadline
            if deadline is not None and now >= deadline:
                conn.expire()
        self._tick = self.loop.call_later(self._tick_interval, self._on_tick)

    async def _accept_loop(self, sock):
        loop = self.loop
        while not self.shutting_down:
            # At the connection limit we stop calling accept(): new clients
            # wait in the kernel backlog instead of taking memory here.
            await self._slots.acquire()
            try:
                conn, _addr = await loop.sock_accept(sock)
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except OSError as exc:
                self._slots.release()
                logger.error("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.spawn(self._serve_socket(conn))

    async def _serve_socket(self, sock):
        loop = self.loop
        reader = asyncio.StreamReader(limit=READ_SIZE, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            if self.config.ssl is None:
                transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock)
            else:
                # The handshake is part of the head: a client that never sends its
                # ClientHello must not hold a slot for asyncio's default 60 s.
                transport, _ = await loop.connect_accepted_socket(
                    lambda: protocol, sock, ssl=self.config.ssl, ssl_handshake_timeout=self.config.head_timeout)
        except (OSError, ssl_module.SSLError) as exc:
            logger.debug("connection setup failed: %s", exc)
            sock.close()
            self._slots.release()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        conn = _Connection(self, reader, writer)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
            self._slots.release()

    def begin_shutdown(self):
        """Stop accepting; idle keep-alive connections close now, busy ones after their response."""
        if self.shutting_down:
            return
        self.shutting_down = True
        if self._accept_task is not None:
            self._accept_task.cancel()
        if self.sock is not None:
            self.sock.close()
        for conn in list(self.connections):
            if conn.idle and not conn._has_partial_head():
                conn.transport.close()
        if self._stopped is not None:
            self._stopped.set()

    async def shutdown(self):
        """Graceful stop: wait for in-flight requests up to the deadline, then run shutdown hooks."""
        self.begin_shutdown()
        deadline = self.loop.time() + self.config.shutdown_timeout
        while self.connections and self.loop.time() < deadline:
            for conn in list(self.connections):
                if conn.idle and not conn._has_partial_head():
                    conn.transport.close()
            await asyncio.sleep(0.05)
        pending = [t for t in self.tasks if not t.done()]
        if pending:
            left = max(deadline - self.loop.time(), 0.1)
            done, pending = await asyncio.wait(pending, timeout=left)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        for conn in list(self.connections):
            conn.transport.abort()
        if self._tick is not None:
            self._tick.cancel()
        await self.app.shutdown()

    async def serve(self, install_signals=True, ready=None, on_signal=None):
        """Run until SIGINT/SIGTERM (or ``begin_shutdown``), then shut down gracefully.

        ``on_signal(server)`` runs on the first of those signals, before the shutdown begins.
        """
        await self.start()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    self.loop.add_signal_handler(sig, self._signalled, on_signal)
                except (NotImplementedError, RuntimeError, ValueError):
                    # No signal handlers here (Windows, a loop outside the main thread):
                    # shutdown then comes from begin_shutdown() or KeyboardInterrupt.
                    pass
        if ready is not None:
            ready(self)
        await self._stopped.wait()
        await self.shutdown()

    def _signalled(self, on_signal):
        if on_signal is not None and not self.shutting_down:
            on_signal(self)
        self.begin_shutdown()


def bind_socket(host, port, backlog=DEFAULT_BACKLOG, reuse_port=False):
    """A listening TCP socket (IPv6 when ``host`` has a colon)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _announce(server):
    host, port = server.bound[0], server.bound[1]
    scheme = "https" if server.config.ssl else "http"
    shown = "[%s]" % host if ":" in host else host
    print("covet: serving on %s://%s:%d (pid %d; press CTRL+C to quit)" % (scheme, shown, port, os.getpid()),
          flush=True)


def announce_shutdown(server, prefix="covet:"):
    """The line printed when SIGINT/SIGTERM starts a graceful shutdown (docs/server.md)."""
    n = len(server.connections)
    print("%s shutting down (%d connection%s open)" % (prefix, n, "" if n == 1 else "s"), flush=True)


def announce_stopped():
    """The last line of a server process that stopped gracefully."""
    print("covet: stopped", flush=True)


def serve(app, config, sock=None, ready=_announce, loop_name=None, on_signal=announce_shutdown,
          stopped=announce_stopped):
    """Run one server process until it is told to stop; ``stopped()`` runs after a graceful stop."""
    if loop_name == "uvloop":
        import uvloop  # opt-in only: never a dependency

        uvloop.install()
    server = Server(app, config, sock)
    asyncio.run(server.serve(ready=ready, on_signal=on_signal))
    if stopped is not None:
        stopped()


def run(app, host="127.0.0.1", port=8000, workers=1, reload=False, loop=None, log_level=None, **options):
    """``app.run(...)`` and ``python -m covet run``: one process, or ``workers`` pre-forked ones."""
    if log_level:
        logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    elif not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = ServerConfig(host=host, port=port, **options)
    if reload:
        from .workers import RELOADER_CHILD_ENV, run_with_reload

        if not os.environ.get(RELOADER_CHILD_ENV):
            # app.run(reload=True) in a script: the reloader re-runs that script.
            if not sys.argv or sys.argv[0] in ("", "-c"):
                raise RuntimeError("reload=True needs a script to re-run: use `python app.py` "
                                   "or `python -m covet run app.py --reload`")
            return run_with_reload(sys.argv, command=[sys.executable] + sys.argv)
    if workers and workers > 1:
        from .workers import run_workers

        return run_workers(app, config, workers, loop_name=loop)
    serve(app, config, loop_name=loop)
