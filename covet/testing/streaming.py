"""Reading a response as it streams: ``client.stream("GET", "/feed")``.

A plain ``client.get`` reads a streamed body to its end, which never comes for an endless stream
(server-sent events, a live feed). ``stream`` hands the body over chunk by chunk, and leaving the
``with`` block before the end is what a real client's disconnect is: the body iterator is closed
and the after-send work runs, by the same rules as on the server (covet.core.driver).
"""
import asyncio
from typing import Any, AsyncIterator, Iterator, List, Optional

from ..core import driver
from ..core.datastructures import Headers

__all__ = ["StreamedResponse", "open_stream"]

_END = object()


class StreamedResponse:
    """A response whose body is read as it comes: ``status_code``, ``headers``, then the chunks.

    Example::

        with client.stream("GET", "/events") as r:
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                if b"done" in chunk:
                    break          # the app's generator is closed here, as on a disconnect
    """

    __test__ = False

    def __init__(self, status_code: int, headers: Headers, url: str, request_method: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self.url = url
        self.request_method = request_method
        self._queue: "asyncio.Queue[Any]" = asyncio.Queue(maxsize=1)
        self._task: "Optional[asyncio.Task[None]]" = None
        self._response: Any = None
        self._portal: Any = None
        self._done = False
        self._raise = True

    # -- the async face ------------------------------------------------------
    async def anext_chunk(self) -> Optional[bytes]:
        """The next chunk, or None at the end of the body. An error of the app's iterator is raised here."""
        if self._done:
            return None
        item = await self._queue.get()
        if item is _END:
            self._done = True
            return None
        if isinstance(item, BaseException):
            self._done = True
            if self._raise:
                raise item
            return None  # on the wire the body would stop here
        return item

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's chunks as the app yields them."""
        while True:
            chunk = await self.anext_chunk()
            if chunk is None:
                return
            yield chunk

    async def aread(self) -> bytes:
        """The rest of the body."""
        parts: List[bytes] = []
        async for chunk in self.aiter_bytes():
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Stop reading: what a client's disconnect does. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            if not task.done():
                task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        response, self._response = self._response, None
        if response is not None:
            await response.after_send()
        self._done = True

    # -- the sync face (TestClient), through its portal ---------------------
    def iter_bytes(self) -> Iterator[bytes]:
        """The body's chunks as the app yields them (sync client)."""
        while True:
            chunk = self._portal.call(self.anext_chunk())
            if chunk is None:
                return
            yield chunk

    def read(self) -> bytes:
        """The rest of the body (sync client)."""
        return b"".join(self.iter_bytes())

    def close(self) -> None:
        """Stop reading (sync client)."""
        self._portal.call(self.aclose())

    def __repr__(self) -> str:
        return "<StreamedResponse %d>" % self.status_code


async def open_stream(client: Any, request: Any, url: str) -> StreamedResponse:
    """Dispatch ``request`` and start moving its body into a :class:`StreamedResponse`."""
    response = await client.app.dispatch(request)
    status, headers, body, send_body = driver.start(response, request.method)
    result = StreamedResponse(status, Headers(list(headers)), url, request.method)
    result._response = response
    result._raise = client.raise_server_exceptions
    queue = result._queue

    async def pump() -> None:
        try:
            if body is not None:
                if body:
                    await queue.put(body)
            else:
                await driver.stream(response, send_body, queue.put)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(exc)
            return
        await queue.put(_END)

    result._task = asyncio.ensure_future(pump())
    return result
