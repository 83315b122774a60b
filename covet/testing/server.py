"""ServerThread: covet's real HTTP/1.1 server on 127.0.0.1 (a free port) in a background thread.

The thread runs ``Server.serve`` on its own event loop, the code path of ``python -m covet run``
minus the process and the signal handlers: the app's startup and shutdown hooks run, requests
go through real sockets. Use it to test an app over the wire (a load test, an HTTP client, a
browser) from a synchronous test.

Example::

    with ServerThread(app) as server:
        urllib.request.urlopen(server.url + "/health").status   # 200
"""
import asyncio
import threading
from typing import Any, Optional

from ..server.http11 import Limits
from ..server.server import Server, ServerConfig

__all__ = ["ServerThread", "START_TIMEOUT"]

# Seconds the server may take to bind and run the app's startup hooks before start() gives up.
START_TIMEOUT = 30.0


class ServerThread:
    """A covet ``Server`` serving ``app`` in a daemon thread; ``stop()`` shuts it down gracefully.

    :param app: the Covet app.
    :param host: the address to listen on (loopback by default: nothing reaches it from outside).
    :param port: 0 picks a free port; ``port`` and ``url`` tell which after ``start()``.
    :param limits: a ``covet.server.http11.Limits`` or a dict of its settings.
    :param options: any other ``ServerConfig`` setting (``access_log`` is off by default here).

    Example::

        server = ServerThread(app, keepalive_timeout=1.0).start()
        try:
            print(server.url)   # http://127.0.0.1:41234
        finally:
            server.stop()
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, limits: Any = None,
                 **options: Any) -> None:
        if limits is not None and not isinstance(limits, Limits):
            limits = Limits(**limits)
        self.config = ServerConfig(host=host, port=port, limits=limits, **options)
        self.server = Server(app, self.config)
        self.loop = None  # type: Optional[asyncio.AbstractEventLoop]
        self.error = None  # type: Optional[BaseException]
        self.host = host
        self.port = port
        self._ready = threading.Event()
        self._thread = None  # type: Optional[threading.Thread]

    def start(self) -> "ServerThread":
        """Start serving; returns once the socket listens and the app's startup hooks ran.

        Raises what the server raised while starting (a port in use, a failing startup hook).
        """
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._main, name="covet-server-thread", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("the server did not start within %s s" % START_TIMEOUT)
        if self.error is not None:
            error, self.error = self.error, None
            self._thread.join()
            raise error
        self.host, self.port = self.server.bound[0], self.server.bound[1]
        return self

    def _main(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(install_signals=False, ready=lambda server: self._ready.set())

        try:
            # asyncio.run, as `covet run` does: leftover tasks cancelled, async generators closed.
            asyncio.run(main())
        except BaseException as exc:  # handed to the caller by start() or stop()
            self.error = exc
            # A failed start closes its own socket; one that failed later (serving) may not have.
            if self.server.sock is not None:
                self.server.sock.close()
        finally:
            self._ready.set()

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server (IPv6 hosts in brackets)."""
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (host, self.port)

    def is_alive(self) -> bool:
        """Whether the server thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down as on SIGTERM (in-flight requests finish) and wait for the thread.

        Re-raises anything the server raised while it ran.
        """
        thread = self._thread
        if thread is not None and thread.is_alive():
            if self.loop is not None:
                try:
                    self.loop.call_soon_threadsafe(self.server.begin_shutdown)
                except RuntimeError:
                    pass  # the loop closed in the meantime
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("the server did not stop within %s s" % timeout)
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
