"""examples/chat.py: through the test client (tokens, rooms, broadcast, the SSE feed, the page), and
two real server processes sharing one real redis-server (a message sent to one reaches a socket
held by the other; an HTTP POST to one reaches an SSE reader of the other)."""
import asyncio
import http.client
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

from covet.testing import AsyncTestClient, TestClient, WebSocketRefused
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)
from ws_client import WSClient, close_all

ROOT = pathlib.Path(__file__).resolve().parent.parent
APP_FILE = ROOT / "examples" / "chat.py"
SECRET = b"chat-example-test-secret-0123456789"
WAIT = 5.0  # seconds: a safety net for events that come at once


def load_example():
    spec = importlib.util.spec_from_file_location("example_chat", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load_example()


def run(coro):
    return asyncio.run(coro)


async def within(awaitable):
    return await asyncio.wait_for(awaitable, WAIT)


async def token(client, name):
    r = await client.post("/token", json={"username": name})
    assert r.status_code == 200
    return r.json()["access_token"]


def without_ts(message):
    assert isinstance(message.pop("ts"), float)
    return message


# -- the test client ---------------------------------------------------------------------------

def test_the_page_is_html_with_the_websocket_and_the_feed(example):
    with TestClient(example.create_app(SECRET)) as client:
        r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert '["bearer", token]' in r.text                  # the subprotocol convention of docs/websockets.md
    assert 'new EventSource("/rooms/"' in r.text
    assert "textContent" in r.text and "innerHTML" not in r.text


def test_token_is_a_valid_jwt_for_the_name(example):
    app = example.create_app(SECRET)
    with TestClient(app) as client:
        r = client.post("/token", json={"username": "ada"})
        assert r.status_code == 200
        body = r.json()
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
        for bad, loc in (({"username": ""}, ["body", "username"]), ({"username": "a b"}, ["body", "username"]),
                         ({"username": "x" * 33}, ["body", "username"]), ({"name": "ada"}, ["body", "username"]),
                         (["ada"], ["body"])):
            r = client.post("/token", json=bad)
            assert r.status_code == 422, bad
            assert [e["loc"] for e in r.json()["errors"]] == [loc], bad


def test_a_socket_without_a_valid_token_is_refused_with_403(example):
    with TestClient(example.create_app(SECRET)) as client:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            with pytest.raises(WebSocketRefused) as info:
                with client.websocket_connect("/ws/chat/lobby", headers=headers):
                    pass
            assert info.value.status_code == 403
        other = example.create_app(b"another-secret-another-secret-0000")
        with TestClient(other) as other_client:
            forged = other_client.post("/token", json={"username": "eve"}).json()["access_token"]
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/ws/chat/lobby", subprotocols=["bearer", forged]):
                pass
        assert info.value.status_code == 403


def test_a_bad_room_id_is_refused_before_accept(example):
    with TestClient(example.create_app(SECRET)) as client:
        good = client.post("/token", json={"username": "ada"}).json()["access_token"]
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/ws/chat/no%20spaces", headers={"Authorization": "Bearer " + good}):
                pass
        assert info.value.status_code == 422


def test_room_broadcast_reaches_the_room_and_not_another_room(example):
    async def main():
        async with AsyncTestClient(example.create_app(SECRET)) as client:
            ada, bob, cy = [await token(client, n) for n in ("ada", "bob", "cy")]
            async with client.websocket_connect("/ws/chat/lobby", subprotocols=["bearer", ada]) as a:
                assert a.subprotocol == "bearer"
                assert await within(a.receive_json()) == {"type": "join", "room": "lobby", "user": "ada", "members": 1}
                bearer = {"Authorization": "Bearer " + bob}
                async with client.websocket_connect("/ws/chat/lobby", headers=bearer) as b, \
                        client.websocket_connect("/ws/chat/attic?token=" + cy) as c:
                    joined = {"type": "join", "room": "lobby", "user": "bob", "members": 2}
                    assert await within(a.receive_json()) == joined
                    assert await within(b.receive_json()) == joined
                    assert await within(c.receive_json()) == {"type": "join", "room": "attic", "user": "cy",
                                                               "members": 1}
                    await b.send_json({"message": "hello lobby"})
                    said = {"type": "message", "room": "lobby", "user": "bob", "text": "hello lobby"}
                    assert without_ts(await within(a.receive_json())) == said
                    assert without_ts(await within(b.receive_json())) == said
                    await c.send_json({"message": "hello attic"})
                    assert without_ts(await within(c.receive_json())) == {
                        "type": "message", "room": "attic", "user": "cy", "text": "hello attic"}
                    # Bad input: an error to the sender only, the connection lives on.
                    for bad in ("not json", '["x"]', json.dumps({"message": ""}), json.dumps({"message": "x" * 2001})):
                        await a.send_text(bad)
                        assert await within(a.receive_json()) == {
                            "type": "error", "detail": 'send {"message": "<1 to 2000 characters>"}'}
                    await a.send_json({"message": "still here"})
                    assert without_ts(await within(b.receive_json()))["text"] == "still here"
                    assert without_ts(await within(a.receive_json()))["text"] == "still here"
                assert await within(a.receive_json()) == {"type": "leave", "room": "lobby", "user": "bob",
                                                          "members": 1}
                # The attic's message never reached the lobby: the next thing a gets is what it sends.
                await a.send_json({"message": "last"})
                assert without_ts(await within(a.receive_json()))["text"] == "last"
            r = await client.get("/chat/rooms")
            assert r.status_code == 200
            assert r.json() == {"rooms": [{"room": "attic", "members": 0, "messages": 1},
                                          {"room": "lobby", "members": 0, "messages": 3}]}

    run(main())


def test_the_feed_tells_joins_messages_and_leaves(example):
    async def main():
        async with AsyncTestClient(example.create_app(SECRET)) as client:
            ada = await token(client, "ada")
            async with client.stream("GET", "/rooms/lobby/events") as feed:
                assert feed.status_code == 200
                assert feed.headers["content-type"] == "text/event-stream; charset=utf-8"
                assert feed.headers["cache-control"] == "no-cache"
                # The first event: the room now (and proof the feed is subscribed).
                assert await within(feed.anext_chunk()) == (
                    b'event: room\ndata: {"room":"lobby","members":0,"messages":0}\n\n')
                async with client.websocket_connect("/ws/chat/lobby", subprotocols=["bearer", ada]) as a:
                    await within(a.receive_json())
                    await a.send_json({"message": "one"})
                    await within(a.receive_json())
                r = await client.post("/chat/rooms/lobby/messages", json={"message": "two"},
                                      headers={"Authorization": "Bearer " + ada})
                assert (r.status_code, r.json()) == (200, {"status": "sent"})
                chunks = [await within(feed.anext_chunk()) for _ in range(4)]
            assert chunks == [
                b'event: join\ndata: {"type":"join","user":"ada","members":1}\n\n',
                b'event: message\ndata: {"type":"message","user":"ada","messages":1}\n\n',
                b'event: leave\ndata: {"type":"leave","user":"ada","members":0}\n\n',
                b'event: message\ndata: {"type":"message","user":"ada","messages":2}\n\n',
            ]
            # The stream's end unsubscribed it.
            assert client.app.state.realtime.broker.subscriber_count("chat:room:lobby") == 0

    run(main())


def test_posting_needs_a_token_and_a_message(example):
    with TestClient(example.create_app(SECRET)) as client:
        r = client.post("/chat/rooms/lobby/messages", json={"message": "x"})
        assert r.status_code == 401
        good = {"Authorization": "Bearer " + client.post("/token", json={"username": "ada"}).json()["access_token"]}
        for bad in ({"text": "x"}, {"message": ""}, {"message": "x" * 2001}, {"message": 5}):
            r = client.post("/chat/rooms/lobby/messages", json=bad, headers=good)
            assert r.status_code == 422, bad
            assert [e["loc"] for e in r.json()["errors"]] == [["body", "message"]], bad
        assert client.post("/chat/rooms/a%20b/messages", json={"message": "x"}, headers=good).status_code == 422
        assert client.get("/rooms/a%20b/events").status_code == 422


def test_redis_url_comes_from_the_environment_like_the_caches(example, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("COVET_REDIS_URL", "redis://127.0.0.1:1/0")
    app = example.create_app(SECRET)
    assert app.state.manager.fanout.redis_url == "redis://127.0.0.1:1/0"
    assert type(app.state.realtime.broker).__name__ == "RedisBroker"
    monkeypatch.delenv("COVET_REDIS_URL")
    app = example.create_app(SECRET)
    assert app.state.manager.fanout is None
    assert type(app.state.realtime.broker).__name__ == "InProcessBroker"


# -- two server processes, one redis-server -----------------------------------------------------

class ChatProcess:
    """``python -m covet run examples/chat.py --port 0`` with REDIS_URL and a shared COVET_SECRET."""

    def __init__(self, redis_url):
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", REDIS_URL=redis_url,
                   COVET_SECRET=SECRET.decode())
        env.pop("COVET_REDIS_URL", None)
        self.proc = subprocess.Popen(
            # A short grace period: an open event stream is waited for up to it when the test stops us.
            [sys.executable, "-m", "covet", "run", "examples/chat.py", "--port", "0",
             "--timeout-graceful-shutdown", "1"],
            cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("covet: serving on http://127.0.0.1:"), line
        self.port = int(line.split("127.0.0.1:")[1].split()[0])

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=dict(headers or {}, **({"Content-Type": "application/json"} if body else {})))
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            conn.close()

    def token(self, name):
        status, body = self.request("POST", "/token", {"username": name})
        assert status == 200
        return body["access_token"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        finally:
            self.proc.stdout.close()


@pytest.fixture
def two_processes(redis_clean):
    procs = []
    try:
        procs.append(ChatProcess(redis_clean.url))
        procs.append(ChatProcess(redis_clean.url))
        yield procs
    finally:
        close_all()
        for p in procs:
            p.stop()


def receive_json(client):
    return json.loads(client.receive())


@pytest.mark.slow
def test_two_processes_share_rooms_through_redis(two_processes):
    one, two = two_processes
    ada = WSClient(one.port, "/ws/chat/lobby", subprotocols=["bearer", one.token("ada")])
    assert ada.subprotocol == "bearer"
    assert receive_json(ada) == {"type": "join", "room": "lobby", "user": "ada", "members": 1}
    # Process two accepted bob's token, signed by process one's shared COVET_SECRET.
    bob = WSClient(two.port, "/ws/chat/lobby", subprotocols=["bearer", one.token("bob")])
    joined = {"type": "join", "room": "lobby", "user": "bob", "members": 2}   # counts live in Redis
    assert receive_json(bob) == joined
    assert receive_json(ada) == joined                                     # ada is held by process one

    # A message sent to process one reaches the socket held by process two.
    ada.send_text(json.dumps({"message": "from one"}))
    said = {"type": "message", "room": "lobby", "user": "ada", "text": "from one"}
    assert without_ts(receive_json(bob)) == said
    assert without_ts(receive_json(ada)) == said

    # A WebSocketManager broadcast from an HTTP handler of process two reaches process one.
    status, _ = two.request("POST", "/chat/rooms/lobby/messages", {"message": "over http"},
                            {"Authorization": "Bearer " + two.token("cy")})
    assert status == 200
    said = {"type": "message", "room": "lobby", "user": "cy", "text": "over http"}
    assert without_ts(receive_json(ada)) == said
    assert without_ts(receive_json(bob)) == said

    # Another room in another process hears none of it.
    attic = WSClient(two.port, "/ws/chat/attic", headers=["Authorization: Bearer " + two.token("dee")])
    assert receive_json(attic)["room"] == "attic"
    bob.close()
    bob.wait_closed()
    assert receive_json(ada) == {"type": "leave", "room": "lobby", "user": "bob", "members": 1}
    ada.send_text(json.dumps({"message": "only the lobby"}))
    assert without_ts(receive_json(ada))["text"] == "only the lobby"
    attic.send_text(json.dumps({"message": "attic"}))
    assert without_ts(receive_json(attic))["text"] == "attic"   # not "only the lobby": it never came

    status, body = one.request("GET", "/chat/rooms")
    assert (status, body) == (200, {"rooms": [{"room": "attic", "members": 1, "messages": 1},
                                              {"room": "lobby", "members": 1, "messages": 3}]})


def read_event(response):
    """One SSE event (its lines) from an http.client response of a chunked event stream."""
    lines = []
    while True:
        line = response.readline()
        assert line, "the event stream ended"
        if line == b"\n":
            if lines and not all(l.startswith(b":") for l in lines):
                return lines
            lines = []
            continue
        lines.append(line.rstrip(b"\n"))


@pytest.mark.slow
def test_a_post_to_one_process_reaches_the_feed_read_from_the_other(two_processes):
    one, two = two_processes
    conn = http.client.HTTPConnection("127.0.0.1", two.port, timeout=WAIT)
    try:
        conn.request("GET", "/rooms/lobby/events")
        feed = conn.getresponse()
        assert feed.status == 200
        assert feed.getheader("content-type") == "text/event-stream; charset=utf-8"
        # The first event is sent once the feed is subscribed (in process two, through Redis).
        assert read_event(feed) == [b"event: room", b'data: {"room":"lobby","members":0,"messages":0}']
        status, _ = one.request("POST", "/chat/rooms/lobby/messages", {"message": "hi"},
                                {"Authorization": "Bearer " + one.token("ada")})
        assert status == 200
        assert read_event(feed) == [b"event: message", b'data: {"type":"message","user":"ada","messages":1}']
    finally:
        conn.close()
