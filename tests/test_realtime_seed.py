"""The seed's "Real-time Features" example, as written, with covet's own WebSocket: through the test
client and over a real server, on a real redis-server. A client whose handshake completed is
subscribed, so what is published after it arrives."""
import asyncio
import json

import pytest

from covet import Covet
from covet.realtime import RealtimeManager
from covet.testing import AsyncTestClient
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)
from server_helpers import RunningServer
from ws_client import Closed, WSClient, close_all

WAIT = 5.0


def seed_app(redis_url):
    app = Covet()
    realtime = RealtimeManager(redis_url=redis_url)
    app.on_shutdown(realtime.close)

    # Publish to channels
    @app.route("/notify", methods=["POST"])
    async def notify(request):
        data = await request.json()
        await realtime.publish("notifications", data)
        return {"status": "sent"}

    # Subscribe to channels
    @app.websocket("/ws/notifications")
    async def notifications_ws(websocket):
        await realtime.subscribe(websocket, ["notifications", "alerts"])

    return app, realtime


def test_the_seed_example_through_the_test_client(redis_clean):
    app, realtime = seed_app(redis_clean.url)

    async def main():
        async with AsyncTestClient(app) as client:
            async with client.websocket_connect("/ws/notifications") as ws:
                assert realtime.broker.channels == ["notifications", "alerts"]
                r = await client.post("/notify", json={"title": "deployed"})
                assert (r.status_code, r.json()) == (200, {"status": "sent"})
                assert await asyncio.wait_for(ws.receive_text(), WAIT) == (
                    '{"channel":"notifications","data":{"title":"deployed"}}')
                assert await realtime.publish("alerts", [1, 2]) == 1
                assert json.loads(await asyncio.wait_for(ws.receive_text(), WAIT)) == {
                    "channel": "alerts", "data": [1, 2]}
                await ws.send_text("the client's own messages are read and dropped")
            # Leaving the block disconnected the client: subscribe returned and unsubscribed.
            assert realtime.broker.channels == []

    asyncio.run(main())


@pytest.fixture
def served(redis_clean):
    app, realtime = seed_app(redis_clean.url)
    server = RunningServer(app)
    try:
        yield server, realtime
    finally:
        close_all()
        server.stop()


def post(port, path, body):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_the_seed_example_over_a_real_server(served):
    server, realtime = served
    a = WSClient(server.port, "/ws/notifications")
    b = WSClient(server.port, "/ws/notifications")
    assert post(server.port, "/notify", {"n": 1}) == (200, {"status": "sent"})
    assert a.receive() == b.receive() == '{"channel":"notifications","data":{"n":1}}'
    a.send_text("ignored")
    a.close(1000)
    assert a.wait_closed() == (1000, "")
    assert post(server.port, "/notify", {"n": 2}) == (200, {"status": "sent"})
    assert b.receive() == '{"channel":"notifications","data":{"n":2}}'
    b.close(1001)
    with pytest.raises(Closed):
        b.receive()
