"""The WebSocket benchmark app on the websockets package (its asyncio server; benchmarks/bench_ws.py).

    python benchmarks/http/apps/websockets_app.py 8000

``/echo`` sends every message back as it came; ``/broadcast`` sends a message from any client to
every connected client (the sender too) with ``websockets.asyncio.server.broadcast``, the
package's own fan-out (it writes each frame without awaiting any one client). The C speed-ups
(``websockets.speedups``: masking and UTF-8 checks) must import, otherwise the app refuses to
start: the comparison is with the package at its fastest.
"""
import asyncio
import sys

import websockets.speedups  # noqa: F401  (refuse to measure the pure-Python fallback)
from websockets.asyncio.server import broadcast, serve

CLIENTS = set()


async def handler(websocket):
    path = websocket.request.path
    if path == "/echo":
        async for message in websocket:
            await websocket.send(message)
    elif path == "/broadcast":
        CLIENTS.add(websocket)
        try:
            async for message in websocket:
                broadcast(CLIENTS, message)
        finally:
            CLIENTS.discard(websocket)
    else:
        await websocket.close(1008, "no such path")


async def main(port):
    async with serve(handler, "127.0.0.1", port) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
