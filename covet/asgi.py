"""Covet as an ASGI 3 application: ``uvicorn module:app`` or ``hypercorn module:app`` serve it.

A thin door onto ``Covet.dispatch``: the scope becomes a Request, the
Response becomes ``http.response.start`` and ``http.response.body``
messages. ``lifespan`` runs the app's startup and shutdown.
"""
from urllib.parse import quote

from .core import driver
from .core.errors import HTTPException
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
        # No WebSocket support yet: refuse the handshake (ASGI spec: close before accept -> 403).
        await send({"type": "websocket.close", "code": 1000})
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
        headers, tuple(client) if client else None, scope.get("scheme", "http"),
        tuple(server) if server else None, scope.get("http_version", "1.1"), receive=receive_body,
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
