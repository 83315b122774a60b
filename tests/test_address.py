"""request.client / request.server are Address(host, port) named tuples through every door: the real
server (TCP, proxy headers, WebSocket), the TestClient and the ASGI adapter."""
import asyncio
import json
import urllib.request

from covet import Address, Covet, Request, TestClient
from server_helpers import RunningServer


def client_app():
    app = Covet()

    @app.get("/who")
    async def who(request: Request):
        client, server = request.client, request.server
        return {"type": type(client).__name__, "host": client.host, "port": client.port,
                "tuple": list(client) == [client[0], client[1]], "server": [server.host, server.port],
                "server_type": type(server).__name__}

    @app.websocket("/ws")
    async def ws(websocket):
        await websocket.accept()
        await websocket.send_text("%s %s %s" % (type(websocket.client).__name__, websocket.client.host,
                                                websocket.client.port))
        await websocket.close()

    return app


def test_address_is_a_named_tuple():
    addr = Address("203.0.113.5", 443)
    host, port = addr
    assert (host, port) == ("203.0.113.5", 443) == addr
    assert addr.host == "203.0.113.5" and addr.port == 443 and isinstance(addr, tuple)


def test_testclient_gives_an_address():
    with TestClient(client_app()) as client:
        assert client.get("/who").json() == {"type": "Address", "host": "testclient", "port": 50000, "tuple": True,
                                             "server": ["testserver", 80], "server_type": "Address"}
    with TestClient(client_app(), client=("10.1.2.3", 1234)) as client:
        body = client.get("/who").json()
        assert (body["host"], body["port"]) == ("10.1.2.3", 1234)
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "Address 10.1.2.3 1234"


def test_real_server_gives_an_address():
    with RunningServer(client_app()) as srv:
        with urllib.request.urlopen("http://127.0.0.1:%d/who" % srv.port, timeout=5) as r:
            body = json.loads(r.read())
    assert body["type"] == "Address" and body["host"] == "127.0.0.1" and body["tuple"] is True
    assert isinstance(body["port"], int) and body["port"] > 0
    assert body["server"] == ["127.0.0.1", srv.port] and body["server_type"] == "Address"


def test_real_server_behind_a_trusted_proxy_gives_an_address():
    with RunningServer(client_app(), forwarded_allow_ips="127.0.0.1") as srv:
        req = urllib.request.Request("http://127.0.0.1:%d/who" % srv.port,
                                     headers={"X-Forwarded-For": "198.51.100.7"})
        with urllib.request.urlopen(req, timeout=5) as r:
            body = json.loads(r.read())
    assert body["type"] == "Address" and body["host"] == "198.51.100.7"


def test_asgi_gives_an_address():
    app = client_app()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/who", "query_string": b"", "root_path": "", "headers": [(b"host", b"example.test")],
             "client": ["203.0.113.5", 51000], "server": ["example.test", 80]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 5))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"type": "Address", "host": "203.0.113.5", "port": 51000, "tuple": True,
                                           "server": ["example.test", 80], "server_type": "Address"}
