"""The WebSocket as a handler sees it: ``WebSocket``, ``WebSocketState``, the ``Channel`` it talks
through, and ``serve_websocket``, the rules every door follows.

A ``WebSocket`` is a ``Request`` (path, query, headers, cookies, client, state, url) that can also
accept, send, receive and close. It talks to the wire only through a small **channel**
(``Channel`` below), so the same class runs over covet's server, under an ASGI server and in the
test client; each of those doors builds a channel, a WebSocket, and calls ``serve_websocket``.

Rules every door shares (``serve_websocket``):

- the handler that returns without closing closes with 1000;
- an exception after accept closes with 1011 ("internal error"; logged to ``covet.error``, the
  client never sees it), an ``HTTPException`` with 1008;
- before accept, any refusal is a plain HTTP answer to the handshake: ``close()`` before accept
  is 403, an error is its own status (404 no route, 422 bad parameters, 401/403 from a guard).

Example::

    from covet.websocket import WebSocket, WebSocketDisconnect

    @app.websocket("/ws/{room}")
    async def chat(websocket: WebSocket, room: str):
        await websocket.accept()
        async for message in websocket:          # ends when the client closes normally
            await websocket.send_text("%s: %s" % (room, message))
"""
import enum
import json
import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..core import driver
from ..core.datastructures import encode_header
from ..core.errors import HTTPException, WebSocketDisconnect, status_phrase
from ..core.problems import problem_response
from ..core.requests import Request, parse_json

try:  # 3.8+: typing.Protocol
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState", "Channel",
           "serve_websocket", "parse_subprotocols", "NORMAL_CLOSE_CODES", "WS_INTERNAL_ERROR_REASON"]

logger = logging.getLogger("covet.error")

#: Close codes after which ``async for message in websocket`` simply ends (RFC 6455 §7.4.1: normal
#: closure, going away, and 1005 for a close frame that carried no code); others raise.
NORMAL_CLOSE_CODES = frozenset((1000, 1001, 1005))

#: The only reason an exception's close (1011) carries: the exception itself is logged, never sent
#: (a traceback or message would leak internals, as an HTTP 500 must not).
WS_INTERNAL_ERROR_REASON = "internal error"

# RFC 6455 §5.5: a control frame carries at most 125 bytes; the close code takes 2 of them.
_MAX_REASON_BYTES = 123


class WebSocketState(enum.Enum):
    """Where a WebSocket is in its life: before accept, open, closed (by either side)."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class Channel(Protocol):
    """What a WebSocket needs of its door. Messages in are ASGI-shaped dicts.

    - ``accept(subprotocol, headers)``: send the 101 answer (``headers``: (bytes, bytes) pairs).
    - ``refuse(status, headers, body)``: answer the handshake with a plain HTTP response instead.
    - ``receive()``: the next ``{"type": "websocket.receive", "text": str}`` or ``... "bytes": bytes}``,
      or ``{"type": "websocket.disconnect", "code": int, "reason": str}`` once closed.
    - ``send(data)``: one text (str) or binary (bytes) message; raises ``WebSocketDisconnect``
      when the connection is gone. It returns once the door took the message (its writes respect
      the socket's backpressure).
    - ``close(code, reason)``: start the close handshake (RFC 6455 §7.1.2).

    Optional: ``send_nowait(data) -> bool``, a plain method that writes the message only if that
    needs no waiting (``WebSocket.send_nowait``; covet's server has it, other doors need not).
    """

    async def accept(self, subprotocol: Optional[str], headers: List[Tuple[bytes, bytes]]) -> None: ...

    async def refuse(self, status: int, headers: List[Tuple[bytes, bytes]], body: bytes) -> None: ...

    async def receive(self) -> Dict[str, Any]: ...

    async def send(self, data: Union[str, bytes]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


def parse_subprotocols(headers: Sequence[Tuple[bytes, bytes]]) -> List[str]:
    """The subprotocols offered in ``Sec-WebSocket-Protocol`` headers, in order (RFC 6455 §4.1).

    Example::

        parse_subprotocols([(b"sec-websocket-protocol", b"chat, superchat")])  # ['chat', 'superchat']
    """
    out = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            out.extend(p.strip() for p in value.decode("latin-1").split(",") if p.strip())
    return out


class WebSocket(Request):
    """One WebSocket connection, as a handler sees it (a ``Request`` that also talks).

    ``accept``, ``receive``/``receive_text``/``receive_bytes``/``receive_json``,
    ``send_text``/``send_bytes``/``send_json``, ``close``, ``async for``; ``subprotocols`` (offered
    by the client), ``subprotocol`` (the accepted one), ``connection_state``, ``close_code`` and
    ``close_reason`` once closed. Sending or receiving before ``accept()`` accepts first, with no
    subprotocol. Hashable by identity (for sets of connections and dict keys).

    Example::

        @app.websocket("/echo")
        async def echo(websocket):
            await websocket.accept()
            while True:
                data = await websocket.receive_json()     # WebSocketDisconnect when the client leaves
                await websocket.send_json({"echo": data})
    """

    __slots__ = ("_channel", "_ws_state", "_offered", "subprotocol", "close_code", "close_reason",
                 "_client_gone")

    def __init__(self, path: str, query_string: str = "", headers: Optional[List[Tuple[bytes, bytes]]] = None,
                 client: Optional[Tuple[str, int]] = None, scheme: str = "ws",
                 server: Optional[Tuple[str, int]] = None, channel: Optional[Channel] = None,
                 app: Any = None, root_path: str = "", subprotocols: Optional[Sequence[str]] = None) -> None:
        super().__init__("GET", path, query_string, headers, client, scheme, server, "1.1", body=b"",
                         app=app, root_path=root_path)
        self._channel = channel
        self._ws_state = WebSocketState.CONNECTING
        self._offered = list(subprotocols) if subprotocols is not None else parse_subprotocols(self.raw_headers)
        self.subprotocol: Optional[str] = None
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        self._client_gone = False

    # Identity, not value: two connections with equal fields are still two clients.
    __hash__ = object.__hash__

    @property
    def subprotocols(self) -> List[str]:
        """The subprotocols the client offered (``Sec-WebSocket-Protocol``), in its order."""
        return list(self._offered)

    @property
    def connection_state(self) -> WebSocketState:
        """CONNECTING before accept, CONNECTED while open, DISCONNECTED once either side closed."""
        return self._ws_state

    # -- the handshake -------------------------------------------------------
    async def accept(self, subprotocol: Optional[str] = None,
                     headers: Union[None, Dict[str, str], Sequence[Tuple[Any, Any]]] = None) -> None:
        """Complete the handshake (101), choosing ``subprotocol`` among those offered.

        Accepting an accepted socket again without arguments does nothing (a guard such as
        ``require_websocket_token`` may have accepted already); with arguments it is an error.
        ``headers`` (a dict or pairs) go out with the 101 answer; CR/LF in them raise.
        """
        if self._ws_state is WebSocketState.CONNECTED:
            if subprotocol is None and not headers:
                return
            raise RuntimeError("the WebSocket is already accepted (subprotocol %r)" % (self.subprotocol,))
        if self._ws_state is WebSocketState.DISCONNECTED:
            raise RuntimeError("the WebSocket is closed")
        if subprotocol is not None and subprotocol not in self._offered:
            # RFC 6455 §4.2.2: the server selects one of the values the client sent.
            raise ValueError("subprotocol %r was not offered by the client (offered: %r)"
                             % (subprotocol, self._offered))
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or ())
        raw = [encode_header(k, v) for k, v in pairs]
        self._ws_state = WebSocketState.CONNECTED
        self.subprotocol = subprotocol
        try:
            await self._channel.accept(subprotocol, raw)
        except WebSocketDisconnect as exc:  # the door gave up on the handshake (its timeout)
            self._gone(exc.code, exc.reason)
            raise

    async def _refuse(self, response: Any) -> None:
        """Answer the handshake with ``response`` (an HTTP response) instead of accepting."""
        self._ws_state = WebSocketState.DISCONNECTED
        try:
            status, headers, body, _send = driver.start(response, "GET")
            await self._channel.refuse(status, list(headers), body or b"")
        finally:
            await response.after_send()

    # -- receiving -----------------------------------------------------------
    async def receive(self) -> Dict[str, Any]:
        """The next message as the channel gives it: ``{"type": "websocket.receive", "text": ...}``
        or ``{..., "bytes": ...}``. Raises ``WebSocketDisconnect(code, reason)`` once closed."""
        if self._ws_state is WebSocketState.CONNECTING:
            await self.accept()
        elif self._client_gone:
            raise WebSocketDisconnect(self.close_code or 1006, self.close_reason or "")
        message = await self._channel.receive()
        if message["type"] == "websocket.disconnect":
            self._gone(message.get("code", 1005), message.get("reason", ""))
            raise WebSocketDisconnect(self.close_code, self.close_reason)
        return message

    def _gone(self, code: int, reason: str) -> None:
        self._client_gone = True
        self._ws_state = WebSocketState.DISCONNECTED
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason or ""

    async def receive_text(self) -> str:
        """The next message, which must be text; a binary one closes with 1003 (RFC 6455 §7.4.1)."""
        message = await self.receive()
        text = message.get("text")
        if text is None:
            await self._refuse_data(1003, "expected a text message")
        return text

    async def receive_bytes(self) -> bytes:
        """The next message, which must be binary; a text one closes with 1003."""
        message = await self.receive()
        data = message.get("bytes")
        if data is None:
            await self._refuse_data(1003, "expected a binary message")
        return data

    async def receive_json(self) -> Any:
        """The next message (text, or UTF-8 bytes) parsed as JSON; malformed JSON closes with 1007
        (RFC 6455 §7.4.1: data inconsistent with the message's type). Limits as for request bodies."""
        message = await self.receive()
        data = message.get("text")
        if data is None:
            data = message.get("bytes")
        try:
            return parse_json(data)
        except HTTPException as exc:
            await self._refuse_data(1007, str(exc.detail))

    async def _refuse_data(self, code: int, reason: str) -> None:
        await self.close(code, reason)
        self._gone(code, reason)
        raise WebSocketDisconnect(code, reason)

    def __aiter__(self) -> "WebSocket":
        return self

    async def __anext__(self) -> Union[str, bytes]:
        try:
            message = await self.receive()
        except WebSocketDisconnect as exc:
            if exc.code in NORMAL_CLOSE_CODES:
                raise StopAsyncIteration from None
            raise
        text = message.get("text")
        return text if text is not None else message.get("bytes", b"")

    # -- sending -------------------------------------------------------------
    async def send_text(self, data: str) -> None:
        """Send a text message. To a client that has gone, nothing is sent and nothing raised: the
        handler learns of the disconnect from its next receive."""
        if not isinstance(data, str):
            raise TypeError("send_text takes str, got %s" % type(data).__name__)
        await self._send(data)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message (same rule for a client that has gone)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("send_bytes takes bytes, got %s" % type(data).__name__)
        await self._send(bytes(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as JSON, in a text message (or binary with ``mode="binary"``)."""
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        await self._send(text if mode == "text" else text.encode("utf-8"))

    def send_nowait(self, data: Union[str, bytes]) -> bool:
        """Send a message (str as text, bytes as binary) if it can go out at once, without waiting;
        True when it went. False, with nothing sent, when it would have to wait: before accept,
        once closed, while the client's socket pushes back, or on a door that only sends by
        awaiting (an ASGI server, the test client). Then ``send_text``/``send_bytes`` it.

        Example::

            if not websocket.send_nowait("tick"):
                await websocket.send_text("tick")
        """
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError("send_nowait takes str or bytes, got %s" % type(data).__name__)
        if self._ws_state is not WebSocketState.CONNECTED or self._client_gone:
            return False
        send_nowait = getattr(self._channel, "send_nowait", None)
        return send_nowait is not None and send_nowait(data)

    async def _send(self, data: Union[str, bytes]) -> None:
        if self._ws_state is WebSocketState.CONNECTING:
            await self.accept()
        if self._client_gone:
            return
        if self._ws_state is WebSocketState.DISCONNECTED:
            raise RuntimeError("cannot send on a WebSocket the application closed")
        try:
            await self._channel.send(data)
        except WebSocketDisconnect as exc:
            self._gone(exc.code, exc.reason)

    # -- closing -------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (at most 123 UTF-8 bytes, cut if longer).

        Before accept this refuses the handshake with HTTP 403. Closing twice does nothing.
        """
        if self._ws_state is WebSocketState.CONNECTING:
            await self._refuse(problem_response(self, 403, "the WebSocket handshake was refused"))
            return
        if self._ws_state is WebSocketState.DISCONNECTED:
            return
        reason = _cut_reason(reason)
        self._ws_state = WebSocketState.DISCONNECTED
        self.close_code, self.close_reason = code, reason
        await self._channel.close(code, reason)

    def __repr__(self) -> str:
        return "<WebSocket %s %s>" % (self.raw_path, self._ws_state.name)


def _cut_reason(reason: str) -> str:
    data = (reason or "").encode("utf-8")
    if len(data) <= _MAX_REASON_BYTES:
        return reason or ""
    return data[:_MAX_REASON_BYTES].decode("utf-8", errors="ignore")


async def serve_websocket(app: Any, websocket: WebSocket) -> None:
    """Run ``app``'s route for ``websocket`` and finish the connection by the rules above.

    Every door calls it once the handshake request is known to be valid. It returns when the
    handler has returned and the socket is closed or the handshake refused.
    """
    response = await app.dispatch_websocket(websocket)
    state = websocket.connection_state
    if state is WebSocketState.CONNECTING:
        if response is None:  # the handler returned without accepting: a refusal
            response = problem_response(websocket, 403, "the WebSocket handshake was refused")
        await websocket._refuse(response)
        return
    if state is WebSocketState.CONNECTED:
        if response is None:
            await websocket.close(1000)
        elif response.status_code >= 500:
            await websocket.close(1011, WS_INTERNAL_ERROR_REASON)
        else:
            # RFC 6455 §7.4.1: 1008, a message (or request) that violates the endpoint's policy.
            await websocket.close(1008, _title(response.status_code))
    if response is not None:
        await response.after_send()


def _title(status: int) -> str:
    return "%d %s" % (status, status_phrase(status))

