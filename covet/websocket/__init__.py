"""WebSockets: ``WebSocket``, ``WebSocketDisconnect``, ``WebSocketState`` and ``WebSocketManager``.

A ``WebSocket`` (``covet.websocket.connection``) is a ``Request`` that can also accept, send,
receive and close; it talks to the wire through a small channel, so the same class runs over
covet's server, under an ASGI server and in the test client. ``WebSocketManager``
(``covet.websocket.manager``) keeps a process's connections by room and user and broadcasts to
them without waiting for any one client. docs/websockets.md has the whole story.

Example::

    from covet.websocket import WebSocketManager

    manager = WebSocketManager()

    @app.websocket("/ws/{room}")
    async def room_ws(websocket, room: str):
        await manager.connect(websocket, rooms=[room])
        try:
            async for text in websocket:
                await manager.broadcast(text, room=room)
        finally:
            await manager.disconnect(websocket)
"""
from typing import Any

from ..core.errors import WebSocketDisconnect
from .connection import (
    NORMAL_CLOSE_CODES, WS_INTERNAL_ERROR_REASON, Channel, WebSocket, WebSocketState, parse_subprotocols,
    serve_websocket,
)
from .manager import DEFAULT_SEND_QUEUE_SIZE, OVERFLOW_CLOSE_CODE, Fanout, WebSocketManager

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState", "WebSocketManager", "Fanout", "BrokerFanout",
           "Channel", "serve_websocket", "parse_subprotocols", "NORMAL_CLOSE_CODES", "WS_INTERNAL_ERROR_REASON",
           "DEFAULT_SEND_QUEUE_SIZE", "OVERFLOW_CLOSE_CODE", "DEFAULT_FANOUT_CHANNEL"]

# Loaded on first use: the fan-out needs the Redis client, which a server without it never imports.
_LAZY = {"BrokerFanout", "DEFAULT_FANOUT_CHANNEL", "DEFAULT_FANOUT_MAX_MESSAGE_SIZE"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import fanout
        return getattr(fanout, name)
    raise AttributeError("module 'covet.websocket' has no attribute %r" % (name,))
