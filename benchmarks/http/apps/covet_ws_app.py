"""The WebSocket benchmark app on covet: /echo and /broadcast (benchmarks/bench_ws.py).

    python -m covet run benchmarks/http/apps/covet_ws_app.py --port 8000

- ``/echo`` sends every message back as it came (text as text, binary as binary);
- ``/broadcast`` joins a ``WebSocketManager``; a message from any client goes to every
  connected client (the sender too) through ``manager.broadcast``.
"""
from covet import Covet
from covet.websocket import WebSocketManager

app = Covet()
manager = WebSocketManager()


@app.websocket("/echo")
async def echo(websocket):
    """Each message back to its sender."""
    await websocket.accept()
    async for message in websocket:
        if type(message) is str:
            await websocket.send_text(message)
        else:
            await websocket.send_bytes(message)


@app.websocket("/broadcast")
async def broadcast(websocket):
    """Each message to every connected client."""
    await manager.connect(websocket)
    try:
        async for message in websocket:
            await manager.broadcast(message)
    finally:
        await manager.disconnect(websocket)
