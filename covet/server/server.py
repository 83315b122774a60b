"""The HTTP/1.1 server: accepts connections on one listening socket and hands each to a Connection.

It owns what all connections share: the app, the config, the loop, the slots that bound the
number of connections (and, at that bound, the choice of idle connections to close so that a new
client gets in), the once-a-second tick that enforces every connection's deadline, the
Date header of this second, the after-response tasks, and graceful shutdown.
"""
import asyncio
import heapq
import importlib.util
import logging
import os
import signal
import socket
import ssl as ssl_module
import sys
import time
from typing import Optional

from ..core.conditional import http_date
from ..core.problems import problem_response
from .config import DEFAULT_BACKLOG, READ_SIZE, SHED_LOG_INTERVAL, ServerConfig, shed_batch
from .connection import Connection, ConnectionReader, access_logger
from .http11 import response_head

__all__ = ["Server", "bind_socket", "serve", "loop_problem", "LOOPS", "ServerConfig", "announce", "announce_shutdown", "announce_stopped", "say"]

logger = logging.getLogger("covet.error")


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
            self.value = http_date(now).encode("ascii")
        return self.value


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
        # At the connection limit: whether an accepted client waits for a slot, the idle
        # connections closed for it that have not ended yet, how many were closed in all.
        self.waiting = False
        self._leaving = set()
        self.shed_count = 0
        self._shed_logged = None
        # Open connections per client address, when max_connections_per_client is set.
        self.per_client = {}
        self.refused_count = 0
        self._date = _DateCache()
        self._tick = None
        self._tick_interval = 1.0
        self._server_pair = [(b"server", b"covet")] if self.config.server_header else []
        self._common = None
        self._common_tail = b""
        self._common_second = -1
        self.bound = None
        self._stopped = None
        # Whether each request writes an access-log line; settled in start(), see there.
        self.access_log = False
        self.root_path = self.config.root_path

    def common_headers(self):
        """Date (and Server) headers shared by every response this second."""
        d = self._date
        value = d.get()
        if d.second != self._common_second:
            self._common_second = d.second
            self._common = self._server_pair + [(b"date", value)]
            self._common_tail = b"".join(b"%s: %s\r\n" % pair for pair in self._common)
        return self._common

    def common_tail(self):
        """The same headers as ``common_headers()``, encoded as header lines (see ``response_head``)."""
        if int(time.time()) != self._common_second:
            self.common_headers()
        return self._common_tail

    def error_bytes(self, status, detail, close=True, instance=None):
        """A complete problem+json response for errors found before a Request exists."""
        response = problem_response(None, status, detail, instance=instance)
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
        # PERF: decided once, not per request: the line's arguments (two translate() calls, a
        # clock read) cost about a microsecond even when the logger would drop the record,
        # e.g. under --log-level warning.
        self.access_log = bool(self.config.access_log) and access_logger.isEnabledFor(logging.INFO)
        owned = self.sock is None
        sock = self.create_socket()
        sock.setblocking(False)
        self.bound = sock.getsockname()
        self._slots = asyncio.Semaphore(self.config.max_connections)
        try:
            await self.app.startup()
        except BaseException:
            if owned:  # bound here for nothing: a failed start leaves no listening socket behind
                sock.close()
                self.sock = None
            raise
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
        if self.waiting:
            # A client waits for a slot and nothing was idle when it came: a connection that
            # has since finished its request can make room now.
            self.shed_idle()
        self._tick = self.loop.call_later(self._tick_interval, self._on_tick)

    async def _accept_loop(self, sock):
        loop = self.loop
        slots = self._slots
        while not self.shutting_down:
            try:
                conn, _addr = await loop.sock_accept(sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                logger.error("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            host = None
            if self.config.max_connections_per_client is not None and conn.family in (
                    socket.AF_INET, socket.AF_INET6):
                host = _addr[0]
                count = self.per_client.get(host, 0)
                if count >= self.config.max_connections_per_client:
                    # Refused before it takes a slot or reads a byte: the client sees its
                    # connection closed (a reset when its request is already here).
                    self.refused_count += 1
                    conn.close()
                    continue
                self.per_client[host] = count + 1
            if slots.locked():
                # At the limit, this one client is held while idle connections make room; the
                # rest wait in the kernel's backlog (we call accept() again only once it is in).
                self.waiting = True
                try:
                    self.shed_idle()
                    await slots.acquire()
                except BaseException:
                    conn.close()  # shutdown began while it waited
                    self._client_left(host)
                    raise
                finally:
                    self.waiting = False
            else:
                await slots.acquire()  # free: returns at once
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.spawn(self._serve_socket(conn, host))

    def _client_left(self, host):
        if host is not None:
            left = self.per_client[host] - 1
            if left:
                self.per_client[host] = left
            else:
                del self.per_client[host]  # bounded by open connections, not by addresses ever seen

    def shed_idle(self):
        """At the connection limit, close idle connections to admit the client waiting for a slot.

        Idle means waiting for a request with nothing of it received (see
        ``Connection.sheddable``); a connection with a request under way is never closed. The
        ones nearest their own deadline go first: among keep-alive connections, those idle the
        longest. Up to ``shed_batch(max_connections)`` go at once; none while earlier ones are
        still on their way out (their slots are about to free). Returns how many were closed.
        """
        if self._leaving:
            return 0
        idle = [conn for conn in self.connections if conn.sheddable()]
        if not idle:
            return 0
        n = shed_batch(self.config.max_connections)
        victims = heapq.nsmallest(n, idle, key=_deadline) if n > 1 else [min(idle, key=_deadline)]
        self.shed_count += len(victims)
        for conn in victims:
            self._leaving.add(conn)
            conn.shed()
        now = self.loop.time()
        if self._shed_logged is None or now - self._shed_logged >= SHED_LOG_INTERVAL:
            self._shed_logged = now
            logger.warning("connection limit reached (max_connections=%d): closing idle connections to admit "
                           "new clients", self.config.max_connections)
        return len(victims)

    async def _serve_socket(self, sock, host=None):
        loop = self.loop
        reader = ConnectionReader(limit=READ_SIZE, loop=loop)
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
            self._client_left(host)
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        conn = Connection(self, reader, writer)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
            self._leaving.discard(conn)
            self._slots.release()
            self._client_left(host)

    def begin_shutdown(self):
        """Stop accepting; idle keep-alive connections close now, busy ones after their response."""
        if self.shutting_down:
            return
        self.shutting_down = True
        begin_drain = getattr(self.app, "begin_drain", None)
        if begin_drain is not None:
            begin_drain()  # readiness answers 503 for the requests still in flight (covet.monitoring.health)
        if self._accept_task is not None:
            self._accept_task.cancel()
        if self.sock is not None:
            self.sock.close()
        for conn in list(self.connections):
            if conn.ws is not None:
                conn.ws.shutdown()  # 1001 going away; shutdown() waits for them up to its deadline
            elif conn.live is not None:
                conn.stop_stream()  # a live stream (SSE) ends now; the client reconnects elsewhere
            elif conn.idle and not conn.has_partial_head():
                conn.transport.close()
        if self._stopped is not None:
            self._stopped.set()

    async def shutdown(self):
        """Graceful stop: wait for in-flight requests up to the deadline, then run shutdown hooks."""
        self.begin_shutdown()
        deadline = self.loop.time() + self.config.shutdown_timeout
        while self.connections and self.loop.time() < deadline:
            for conn in list(self.connections):
                if conn.idle and not conn.has_partial_head():
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


def _deadline(conn):
    return conn.deadline


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


def say(line):
    """Print one status line with one write: workers share their parent's stdout, and print()
    writes the newline apart, so two workers' lines could interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def announce(server):
    """The line printed once the server listens (tests and scripts wait for it)."""
    host, port = server.bound[0], server.bound[1]
    scheme = "https" if server.config.ssl else "http"
    shown = "[%s]" % host if ":" in host else host
    say("covet: serving on %s://%s:%d (pid %d; press CTRL+C to quit)" % (scheme, shown, port, os.getpid()))


def announce_shutdown(server, prefix="covet:"):
    """The line printed when SIGINT/SIGTERM starts a graceful shutdown (docs/server.md)."""
    n = len(server.connections)
    say("%s shutting down (%d connection%s open)" % (prefix, n, "" if n == 1 else "s"))


def announce_stopped():
    """The last line of a server process that stopped gracefully."""
    say("covet: stopped")


#: The event loops a server runs on: asyncio's own, or uvloop when installed and asked for.
LOOPS = ("asyncio", "uvloop")
UVLOOP_MISSING = "--loop uvloop needs uvloop installed (pip install uvloop)"


def loop_problem(loop_name: Optional[str]) -> Optional[str]:
    """Why ``loop_name`` cannot be served on, or None. Checked before a worker is forked or an app
    is imported, so that a misspelt loop is an error and not asyncio in its place."""
    if loop_name is None or loop_name == "asyncio":
        return None
    if loop_name not in LOOPS:
        return "the loop is one of %s, not %r" % (", ".join(LOOPS), loop_name)
    if importlib.util.find_spec("uvloop") is None:
        return UVLOOP_MISSING
    return None


def serve(app, config, sock=None, ready=announce, loop_name=None, on_signal=announce_shutdown,
          stopped=announce_stopped):
    """Run one server process until it is told to stop; ``stopped()`` runs after a graceful stop."""
    problem = loop_problem(loop_name)
    if problem:
        raise RuntimeError(problem)
    if loop_name == "uvloop":
        try:
            import uvloop  # opt-in, never a dependency: docs/server.md "The one optional import"
        except ImportError:  # found by loop_problem but broken (a wheel for another Python)
            raise RuntimeError(UVLOOP_MISSING) from None
        uvloop.install()
    server = Server(app, config, sock)
    asyncio.run(server.serve(ready=ready, on_signal=on_signal))
    if stopped is not None:
        stopped()
