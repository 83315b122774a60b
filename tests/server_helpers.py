"""Start a real covet ``Server`` on 127.0.0.1 (port 0) in a background thread, and talk to it.

The server runs ``Server.serve`` on its own event loop in a thread (no signal
handlers), exactly the code path of ``python -m covet run`` minus the process.
Configs default to short timeouts so that timeout tests finish in well under a
second. Every client socket made here has a timeout, so no test can hang.
"""
import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from covet.server.http11 import Limits
from covet.server.server import Server, ServerConfig

# Short enough for fast tests, long enough for a loaded CI machine to send a request.
FAST = dict(head_timeout=1.0, keepalive_timeout=1.0, body_timeout=1.0, shutdown_timeout=2.0)
CLIENT_TIMEOUT = 5.0


class RunningServer:
    """A ``Server`` serving ``app`` in a thread; ``stop()`` shuts it down gracefully and joins."""

    def __init__(self, app, limits=None, **options):
        settings = dict(FAST)
        settings.update(options)
        settings.setdefault("port", 0)
        if limits is not None and not isinstance(limits, Limits):
            limits = Limits(**limits)
        self.config = ServerConfig(limits=limits, **settings)
        self.server = Server(app, self.config)
        self.loop = None
        self.error = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="covet-test-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        if self.error is not None:
            raise self.error
        self.host, self.port = self.server.bound[0], self.server.bound[1]

    def _main(self):
        async def main():
            self.loop = asyncio.get_running_loop()
            await self.server.serve(install_signals=False, ready=lambda s: self._ready.set())

        try:
            # asyncio.run, like ``serve()``: leftover tasks are cancelled and async generators closed.
            asyncio.run(main())
        except BaseException as exc:  # reported to the test by start()/stop()
            self.error = exc
        finally:
            self._ready.set()

    def begin_shutdown(self):
        """Like SIGTERM: stop accepting, close idle connections, let in-flight requests finish."""
        self.loop.call_soon_threadsafe(self.server.begin_shutdown)

    def stop(self, timeout=10.0):
        """Shut down gracefully and wait for the thread; re-raise anything the server raised."""
        if self._thread.is_alive():
            try:
                self.loop.call_soon_threadsafe(self.server.begin_shutdown)
            except RuntimeError:
                pass  # the loop already closed
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("test server did not stop within %s s" % timeout)
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def is_alive(self):
        """Whether the server thread still runs."""
        return self._thread.is_alive()

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the server's loop and return its result (to inspect server state)."""
        done = threading.Event()
        box = []

        def run():
            try:
                box.append((True, fn(*args)))
            except BaseException as exc:
                box.append((False, exc))
            done.set()

        self.loop.call_soon_threadsafe(run)
        if not done.wait(5):
            raise RuntimeError("server loop did not run the call")
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def connect(self, timeout=CLIENT_TIMEOUT):
        """A raw client socket connected to the server, with a timeout."""
        return socket.create_connection((self.host, self.port), timeout=timeout)

    @property
    def url(self):
        """``http://127.0.0.1:PORT``."""
        return "http://%s:%d" % (self.host, self.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def recv_all(sock):
    """Read until the peer closes the connection; returns everything received."""
    parts = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(parts)
        parts.append(data)


def recv_until(sock, marker, buffered=b""):
    """Read until ``marker`` has been received; returns (up to and including marker, the rest)."""
    data = buffered
    while marker not in data:
        more = sock.recv(65536)
        if not more:
            raise AssertionError("connection closed before %r; got %r" % (marker, data))
        data += more
    i = data.index(marker) + len(marker)
    return data[:i], data[i:]


def parse_head(head):
    """(status line, {lower-case name: [values]}) of a raw response head."""
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers


def read_response(sock, buffered=b""):
    """Read one Content-Length-framed response: (status line, headers, body, leftover bytes).

    A 304 ends at its head whatever its Content-Length says (RFC 9110 §15.4.5).
    """
    head, rest = recv_until(sock, b"\r\n\r\n", buffered)
    status, headers = parse_head(head)
    length = int(headers.get("content-length", ["0"])[0]) if " 304 " not in status else 0
    while len(rest) < length:
        more = sock.recv(65536)
        if not more:
            raise AssertionError("connection closed inside a body; got %r" % rest)
        rest += more
    return status, headers, rest[:length], rest[length:]


def assert_closed(sock):
    """The server closed the connection: the next recv returns b'' (a reset counts too)."""
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return
    assert data == b"", "expected the connection to be closed, got %r" % data


def make_app():
    """The app most server tests use: plain, echo, ignore-the-body, streaming and introspection routes."""
    from covet import Covet, JSONResponse, PlainTextResponse, Request, Response, StreamingResponse

    app = Covet()

    @app.get("/")
    async def index():
        return PlainTextResponse("hello")

    @app.get("/n/{n:int}")
    async def number(n: int):
        return PlainTextResponse("n=%d" % n)

    @app.post("/echo")
    async def echo(request: Request):
        return Response(await request.body(), media_type="application/octet-stream")

    @app.post("/ignore")
    async def ignore():
        return PlainTextResponse("ignored")

    @app.get("/stream")
    async def stream():
        async def parts():
            for part in ("a", "bb", "ccc"):
                yield part
        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/big")
    async def big():
        return Response(b"x" * (1024 * 1024), media_type="application/octet-stream")

    @app.get("/info")
    async def info(request: Request):
        return JSONResponse({"client": list(request.client) if request.client else None,
                             "scheme": request.scheme, "version": request.http_version,
                             "url": str(request.url), "path": request.path,
                             "query": request.query_string})

    # Statuses that never carry a body, given one anyway (RFC 9112 §6.3).
    @app.get("/tuple204")
    async def tuple204():
        return {"a": 1}, 204

    @app.get("/late304")
    async def late304():
        response = PlainTextResponse("not for the wire")
        response.status_code = 304  # changed after the body was set, as a middleware might
        return response

    @app.get("/late204")
    async def late204():
        response = PlainTextResponse("not for the wire")
        response.status_code = 204  # its Content-Length has to go too (RFC 9110 §8.6)
        return response

    @app.get("/stream204")
    async def stream204():
        return StreamingResponse(iter([b"not ", b"sent"]), status_code=204, headers={"Content-Length": "8"})

    return app


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CovetProcess:
    """``python -m covet ARGS`` (or ``python SCRIPT ARGS``) as a subprocess, its output collected by threads.

    ``wait_for(pattern)`` returns the first new stdout/stderr line matching the regex
    (or raises after a timeout, with everything printed so far); ``stop()`` sends a
    signal and returns the exit code. Always used as a context manager so that no
    process outlives its test.
    """

    def __init__(self, args, cwd=None, env=None, script=None):
        environ = dict(os.environ)
        environ["PYTHONPATH"] = REPO + os.pathsep + environ.get("PYTHONPATH", "")
        environ.update(env or {})
        # ``script``: run ``python SCRIPT ARGS`` instead (an app file that calls app.run()).
        command = [sys.executable] + ([script] if script else ["-m", "covet"]) + list(args)
        self.proc = subprocess.Popen(command, cwd=cwd or REPO, env=environ,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.seen = []
        self._threads = [threading.Thread(target=self._pump, args=(stream, name), daemon=True)
                         for stream, name in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))]
        for t in self._threads:
            t.start()

    def _pump(self, stream, name):
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))
        stream.close()

    def wait_for(self, pattern, timeout=15.0, stream=None):
        """The ``re.Match`` of the first line (from now on) matching ``pattern``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line matching %r within %ss; output so far:\n%s"
                                     % (pattern, timeout, "\n".join("%s: %s" % x for x in self.seen)))
            try:
                name, line = self.lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty() and not any(t.is_alive() for t in self._threads):
                    raise AssertionError("process exited (%s) before a line matching %r; output:\n%s"
                                         % (self.proc.returncode, pattern,
                                            "\n".join("%s: %s" % x for x in self.seen))) from None
                continue
            self.seen.append((name, line))
            if stream in (None, name):
                m = regex.search(line)
                if m:
                    return m

    def output(self):
        """Every line printed so far: {"out": [...], "err": [...]}, once the process has ended."""
        for t in self._threads:
            t.join(5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return {k: [line for name, line in self.seen if name == k] for k in ("out", "err")}

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Send ``sig`` and return the exit code (the process is killed if it does not exit)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("covet did not exit within %ss of %s" % (timeout, sig))

    def wait(self, timeout=30.0):
        """Wait for the process to end on its own; returns the exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("covet did not exit within %ss" % timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self._threads:
            t.join(5)


def http_get(url, timeout=CLIENT_TIMEOUT):
    """(status, body) of a GET with urllib (HTTP errors included)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()
