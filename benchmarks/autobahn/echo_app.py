"""The testee for Autobahn's fuzzing client: one WebSocket route that echoes every message.

Served by ``run.py`` with ``python -m covet run benchmarks/autobahn/echo_app.py`` (covet's own
server, permessage-deflate on). Text comes back as text and binary as binary; the server itself
answers pings and does the close handshake (RFC 6455 §5.5, §7), which is what the cases check.
"""
from covet import Covet
from covet.websocket import WebSocket

app = Covet()


@app.websocket("/")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket:
        if type(message) is str:
            await websocket.send_text(message)
        else:
            await websocket.send_bytes(message)
