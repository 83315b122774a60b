"""``client.websocket_connect(path)``: talk to an app's WebSocket routes in-process, no sockets.

The app runs its handler through the same ``WebSocket`` class and ``serve_websocket`` rules as on
covet's server; only the channel differs (two queues instead of frames on a socket). A refused
handshake raises ``WebSocketRefused`` carrying the HTTP status, headers and body.

Example::

    with TestClient(app) as client:
        with client.websocket_connect("/ws/lobby", subprotocols=["chat"]) as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "lobby: hi"
"""
import asyncio
import base64
import json as jsonlib
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..core.datastructures import Headers
from ..core.errors import HTTPException, WebSocketDisconnect
from ..websocket.connection import WebSocket, serve_websocket

__all__ = ["WebSocketRefused", "AsyncWebSocketSession", "WebSocketSession", "open_websocket",
           "HANDLER_EXIT_TIMEOUT"]

# After the client side closes, the handler gets this long to notice and return; then its task is
# cancelled, so a handler that never receives cannot hang a test run.
HANDLER_EXIT_TIMEOUT = 5.0


class WebSocketRefused(Exception):
    """The app answered the handshake with an HTTP response instead of accepting it.

    ``status_code``, ``headers`` (``Headers``), ``content`` (bytes) and ``json()``.
    """

    __test__ = False

    def __init__(self, status_code: int, headers: Headers, content: bytes) -> None:
        super().__init__("WebSocket handshake refused with HTTP %d" % status_code)
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        """The refusal's body parsed as JSON (a problem document)."""
        return jsonlib.loads(self.content)


class _Channel:
    """The in-process channel: queues between the app's WebSocket and the test's session."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.to_app: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.to_client: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.handshake = loop.create_future()
        self.client_close: Optional[Tuple[int, str]] = None

    async def accept(self, subprotocol: Optional[str], headers: List[Tuple[bytes, bytes]]) -> None:
        self.handshake.set_result(("accept", subprotocol, headers))

    async def refuse(self, status: int, headers: List[Tuple[bytes, bytes]], body: bytes) -> None:
        if not self.handshake.done():
            self.handshake.set_result(("refuse", status, headers, body))

    async def receive(self) -> Dict[str, Any]:
        return await self.to_app.get()

    async def send(self, data: Union[str, bytes]) -> None:
        if self.client_close is not None:
            raise WebSocketDisconnect(*self.client_close)
        key = "text" if isinstance(data, str) else "bytes"
        self.to_client.put_nowait({"type": "websocket.send", key: data})

    async def close(self, code: int, reason: str) -> None:
        self.to_client.put_nowait({"type": "websocket.close", "code": code, "reason": reason})


class AsyncWebSocketSession:
    """The test's end of an in-process WebSocket (``async with client.websocket_connect(...)``).

    ``send_text/send_bytes/send_json``, ``receive`` (the raw message dict),
    ``receive_text/receive_bytes/receive_json``, ``close``. Receiving after the app closed raises
    ``WebSocketDisconnect`` with the app's code and reason. ``subprotocol`` and ``headers`` are
    those of the app's 101 answer.
    """

    __test__ = False

    def __init__(self, channel: _Channel, websocket: WebSocket, task: "asyncio.Task[None]",
                 raise_server_exceptions: bool, subprotocol: Optional[str], headers: Headers) -> None:
        self._channel = channel
        self.websocket = websocket
        self._task = task
        self._raise = raise_server_exceptions
        self.subprotocol = subprotocol
        self.headers = headers
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None

    async def send_text(self, data: str) -> None:
        self._check_open()
        self._channel.to_app.put_nowait({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        self._check_open()
        self._channel.to_app.put_nowait({"type": "websocket.receive", "bytes": bytes(data)})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        text = jsonlib.dumps(data)
        await (self.send_text(text) if mode == "text" else self.send_bytes(text.encode("utf-8")))

    def _check_open(self) -> None:
        if self._channel.client_close is not None:
            raise RuntimeError("this WebSocket session is closed")

    async def receive(self) -> Dict[str, Any]:
        """The app's next message (``{"type": "websocket.send", "text"|"bytes": ...}``)."""
        if self.close_code is not None:
            raise WebSocketDisconnect(self.close_code, self.close_reason or "")
        message = await self._channel.to_client.get()
        if message["type"] == "websocket.close":
            self.close_code, self.close_reason = message["code"], message["reason"]
            raise WebSocketDisconnect(self.close_code, self.close_reason)
        return message

    async def receive_text(self) -> str:
        message = await self.receive()
        if "text" not in message:
            raise TypeError("expected a text message, got binary %r" % (message.get("bytes"),))
        return message["text"]

    async def receive_bytes(self) -> bytes:
        message = await self.receive()
        if "bytes" not in message:
            raise TypeError("expected a binary message, got text %r" % (message.get("text"),))
        return message["bytes"]

    async def receive_json(self) -> Any:
        message = await self.receive()
        return jsonlib.loads(message["text"] if "text" in message else message["bytes"])

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client's side: the app's next receive raises WebSocketDisconnect(code)."""
        if self._channel.client_close is None:
            self._channel.client_close = (code, reason)
            self._channel.to_app.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    async def finish(self) -> None:
        """Close (1000) if still open, wait for the handler to return, re-raise its unhandled error."""
        await self.close()
        task = self._task
        done, _ = await asyncio.wait({task}, timeout=HANDLER_EXIT_TIMEOUT)
        if not done:
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()
        _raise_server_error(self.websocket, self._raise)


def _raise_server_error(websocket: WebSocket, enabled: bool) -> None:
    # As with HTTP requests: an exception the app did not answer reaches the test.
    error = websocket._error
    if enabled and error is not None and isinstance(error, Exception) and not isinstance(
            error, (HTTPException, WebSocketDisconnect)):
        raise error


def _handshake_headers(headers: Optional[Dict[str, str]], subprotocols: Optional[Sequence[str]]) -> Dict[str, str]:
    out = {
        "connection": "upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
        "sec-websocket-key": base64.b64encode(os.urandom(16)).decode("ascii"),
    }
    if subprotocols:
        out["sec-websocket-protocol"] = ", ".join(subprotocols)
    for k, v in (headers or {}).items():
        out[k.lower()] = v
    return out


async def open_websocket(client: Any, url: str, headers: Optional[Dict[str, str]] = None,
                         subprotocols: Optional[Sequence[str]] = None) -> AsyncWebSocketSession:
    """Start the app's handler for ``url`` and wait for its answer to the handshake."""
    app = client.app
    if not getattr(app, "started", True):
        await app.startup()
    request, _full = client._build("GET", url, None, None, None, None, _handshake_headers(headers, subprotocols),
                                   None, None)
    loop = asyncio.get_running_loop()
    channel = _Channel(loop)
    websocket = WebSocket(request.raw_path, request.query_string, request.raw_headers, request.client,
                          "wss" if request.scheme == "https" else "ws", request.server, channel, app=app)
    task = loop.create_task(serve_websocket(app, websocket))
    await asyncio.wait({channel.handshake, task}, return_when=asyncio.FIRST_COMPLETED)
    if not channel.handshake.done():
        task.result()  # it raised: let the test see why
        raise RuntimeError("the app ended without answering the WebSocket handshake")
    answer = channel.handshake.result()
    if answer[0] == "refuse":
        await asyncio.wait({task}, timeout=HANDLER_EXIT_TIMEOUT)
        _raise_server_error(websocket, client.raise_server_exceptions)
        raise WebSocketRefused(answer[1], Headers(list(answer[2])), answer[3])
    return AsyncWebSocketSession(channel, websocket, task, client.raise_server_exceptions, answer[1],
                                 Headers(list(answer[2])))


class WebSocketSession:
    """The sync face of ``AsyncWebSocketSession`` for ``TestClient`` (each call runs on its portal).

    Example::

        with client.websocket_connect("/ws") as ws:
            ws.send_json({"n": 1})
            assert ws.receive_json() == {"n": 2}
    """

    __test__ = False

    def __init__(self, session: AsyncWebSocketSession, portal: Any) -> None:
        self._session = session
        self._portal = portal

    @property
    def subprotocol(self) -> Optional[str]:
        return self._session.subprotocol

    @property
    def headers(self) -> Headers:
        return self._session.headers

    @property
    def close_code(self) -> Optional[int]:
        return self._session.close_code

    @property
    def close_reason(self) -> Optional[str]:
        return self._session.close_reason

    def send_text(self, data: str) -> None:
        self._portal.call(self._session.send_text(data))

    def send_bytes(self, data: bytes) -> None:
        self._portal.call(self._session.send_bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        self._portal.call(self._session.send_json(data, mode))

    def receive(self) -> Dict[str, Any]:
        return self._portal.call(self._session.receive())

    def receive_text(self) -> str:
        return self._portal.call(self._session.receive_text())

    def receive_bytes(self) -> bytes:
        return self._portal.call(self._session.receive_bytes())

    def receive_json(self) -> Any:
        return self._portal.call(self._session.receive_json())

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._portal.call(self._session.close(code, reason))

    def finish(self) -> None:
        self._portal.call(self._session.finish())
