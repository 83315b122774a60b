"""Covet as an ASGI 3 application: ``uvicorn module:app`` or ``hypercorn module:app`` serve it.

A thin door onto ``Covet.dispatch``: the scope becomes a Request, the
Response becomes ``http.response.start`` and ``http.response.body``
messages. ``lifespan`` runs the app's startup and shutdown. A ``websocket``
scope runs the app's WebSocket routes (``Covet.dispatch_websocket``) through
the same ``WebSocket`` class as covet's server, over ASGI messages; a refusal
before accept is an HTTP answer when the server offers the
``websocket.http.response`` extension, else ``websocket.close`` (the server
answers 403).
"""
from urllib.parse import quote

from .core import driver
from .core.datastructures import Address
from .core.errors import HTTPException, WebSocketDisconnect
from .core.requests import Request

# Same default as the server's Limits.max_body_size; Covet(max_body_size=...) changes it.
DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024

__all__ = ["handle"]


class ClientDisconnect(HTTPException):
    """The ASGI server reported ``http.disconnect`` while the body was being read."""

    def __init__(self):
        super().__init__(400, "client disconnected before the body was complete")


async def handle(app, scope, receive, send):
    """Serve one ASGI connection scope with ``app``."""
    kind = scope["type"]
    if kind == "http":
        await _http(app, scope, receive, send)
    elif kind == "lifespan":
        await _lifespan(app, receive, send)
    elif kind == "websocket":
        await _websocket(app, scope, receive, send)
    else:
        raise ValueError("unsupported ASGI scope type %r" % kind)


async def _lifespan(app, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await app.startup()
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": "%s: %s" % (type(exc).__name__, exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await app.shutdown()
            except Exception as exc:
                await send({"type": "lifespan.shutdown.failed", "message": "%s: %s" % (type(exc).__name__, exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


def _raw_path(scope):
    raw = scope.get("raw_path")
    if raw:
        path = raw.decode("latin-1")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        return path
    return quote(scope.get("path", "/"), safe="/:@!$&'()*+,;=-._~")


async def _http(app, scope, receive, send):
    done = False

    limit = getattr(app, "max_body_size", None) or DEFAULT_MAX_BODY_SIZE
    received = [0]

    async def receive_body():
        nonlocal done
        # An empty chunk with more_body=True is allowed by the ASGI spec; b"" tells
        # Request.stream() the body ended, so it is returned only at the real end.
        while not done:
            message = await receive()
            if message["type"] == "http.disconnect":
                done = True
                raise ClientDisconnect()
            if not message.get("more_body", False):
                done = True
            body = message.get("body", b"")
            if body:
                received[0] += len(body)
                if received[0] > limit:
                    done = True
                    # The same limit and status as covet's own server (uvicorn has none).
                    raise HTTPException(413, "request body larger than %d bytes" % limit)
                return body
        return b""

    headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", ())]
    client = scope.get("client")
    server = scope.get("server")
    request = Request(
        scope.get("method", "GET"), _raw_path(scope), scope.get("query_string", b"").decode("latin-1"),
        headers, _address(client), scope.get("scheme", "http"),
        _address(server), scope.get("http_version", "1.1"), receive=receive_body,
        app=app, root_path=scope.get("root_path", ""),
    )
    response = await app.dispatch(request)
    try:
        # covet.core.driver decides what goes out (headers, whether a body may, closing the stream).
        status, headers, body, send_body = driver.start(response, request.method)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if body is not None:
            await send({"type": "http.response.body", "body": body})
        else:
            async def write(chunk):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

            await driver.stream(response, send_body, write)
            await send({"type": "http.response.body", "body": b""})
    finally:
        # Also when send() raised (client gone): yield dependencies and temp files are released.
        await response.after_send()


def _address(client):
    # The ASGI scope's [host, port] (a list after a JSON round trip; port None on a Unix socket)
    # as request.client.host / .port.
    return Address(client[0], client[1]) if client else None


async def _websocket(app, scope, receive, send):
    from .websocket.connection import WebSocket, serve_websocket  # loaded with the first WebSocket

    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before the handshake reached the app
    headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", ())]
    client = scope.get("client")
    server = scope.get("server")
    websocket = WebSocket(
        _raw_path(scope), scope.get("query_string", b"").decode("latin-1"), headers,
        _address(client), scope.get("scheme", "ws"), _address(server),
        _Channel(scope, receive, send), app=app, root_path=scope.get("root_path", ""),
        subprotocols=scope.get("subprotocols") or None,
    )
    await serve_websocket(app, websocket)


class _Channel:
    """A WebSocket's channel over ASGI messages (see ``covet.websocket.Channel``)."""

    __slots__ = ("scope", "_receive", "_send")

    def __init__(self, scope, receive, send):
        self.scope = scope
        self._receive = receive
        self._send = send

    async def accept(self, subprotocol, headers):
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": list(headers)})

    async def refuse(self, status, headers, body):
        if "websocket.http.response" in (self.scope.get("extensions") or {}):
            await self._send({"type": "websocket.http.response.start", "status": status, "headers": list(headers)})
            await self._send({"type": "websocket.http.response.body", "body": body})
        else:
            # ASGI: a close before accept makes the server answer the handshake with 403.
            await self._send({"type": "websocket.close", "code": 1008, "reason": ""})

    async def receive(self):
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            if text is not None:
                return {"type": "websocket.receive", "text": text}
            return {"type": "websocket.receive", "bytes": message.get("bytes") or b""}
        if kind == "websocket.disconnect":
            return {"type": "websocket.disconnect", "code": message.get("code", 1005),
                    "reason": message.get("reason") or ""}
        raise RuntimeError("unexpected ASGI message %r on a WebSocket" % kind)

    async def send(self, data):
        key = "text" if isinstance(data, str) else "bytes"
        try:
            await self._send({"type": "websocket.send", key: data})
        except OSError:  # uvicorn's ClientDisconnected: the client has gone
            raise WebSocketDisconnect(1006, "") from None

    async def close(self, code, reason):
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:
            pass
