"""The WebSocket benchmark app on Starlette (served by uvicorn; benchmarks/bench_ws.py).

    uvicorn --app-dir benchmarks/http/apps starlette_ws_app:app --ws websockets --http httptools --loop uvloop

``/echo`` sends every message back as it came; ``/broadcast`` sends a message from any client to
every connected client (the sender too) with the loop Starlette's documentation shows: one
``await send_text`` per connection.
"""
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

CLIENTS = set()


async def echo(websocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            await websocket.send_text(text)
        else:
            await websocket.send_bytes(message["bytes"])


async def broadcast(websocket):
    await websocket.accept()
    CLIENTS.add(websocket)
    try:
        async for text in websocket.iter_text():
            for client in list(CLIENTS):
                await client.send_text(text)
    finally:
        CLIENTS.discard(websocket)


app = Starlette(routes=[WebSocketRoute("/echo", echo), WebSocketRoute("/broadcast", broadcast)])
