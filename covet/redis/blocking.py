"""``BlockingRedis``: the async client for plain ``def`` code, on a private event-loop thread.

The sync faces of the cache and the rate limiter, and handlers that run in the thread pool, call
it; each call hands a coroutine to the client's own loop and waits for its result.

Example::

    r = Redis(port=6380).blocking()
    r.set("k", "v")
    assert r.get("k") == b"v"
    r.close()
"""
import asyncio
import threading
from typing import Any, Awaitable, Callable, Optional, Protocol

from .commands import Commands

__all__ = ["BlockingRedis", "AsyncClient"]


class AsyncClient(Protocol):
    """What ``BlockingRedis`` needs of the client it runs (a ``Redis``; named here, not imported,
    because ``Redis.blocking()`` builds a ``BlockingRedis``)."""

    def execute(self, *args: Any) -> Awaitable[Any]:
        """Run any command and return its raw reply."""
        ...

    def close(self) -> Awaitable[None]:
        """Close the client's connections."""
        ...


class BlockingRedis:
    """A blocking face on a ``Redis`` client that lives on a private event-loop thread.

    Every command method of ``Redis`` is available and blocks until its reply
    (``BlockingRedis(r).get("k")``); ``run(fn)`` runs ``await fn(client)`` there for
    anything else (scripts, pipelines). The thread starts on first use; ``close()`` stops it.
    Do not call it from a coroutine on the same thread's loop—use the async client there.

    Example::

        r = Redis(port=6380).blocking()
        r.set("k", "v")
        assert r.get("k") == b"v"
        r.close()
    """

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="covet-redis-blocking", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, fn: Callable[[AsyncClient], Awaitable[Any]]) -> Any:
        """Run ``await fn(client)`` on the client's thread and return its result (or raise its error)."""
        loop = self._loop or self._start()
        if self._thread is threading.current_thread():
            raise RuntimeError("BlockingRedis called from its own loop thread")
        future = asyncio.run_coroutine_threadsafe(fn(self.client), loop)
        return future.result()

    def execute(self, *args: Any) -> Any:
        """Run any command and return its raw reply."""
        return self.run(lambda r: r.execute(*args))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(Commands, name, None)
        if method is None or name.startswith("_"):
            raise AttributeError("BlockingRedis has no attribute %r" % name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.run(lambda r: getattr(r, name)(*args, **kwargs))

        call.__name__ = name
        call.__doc__ = method.__doc__
        return call

    def close(self) -> None:
        """Close the client's connections and stop the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.client.close(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
