"""The ASGI door's ``websocket`` scope (ASGI 3 WebSocket spec): covet WebSocket routes under an ASGI
server. A scripted fake server checks the exact messages; uvicorn (from benchmarks/.venv, when it
is installed) serves a covet app to a raw RFC 6455 client over a real socket."""
import asyncio
import os
import re
import subprocess
import sys
import textwrap

import pytest

from covet import Covet, Query
from covet.websocket import WebSocketDisconnect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_PYTHON = os.path.join(ROOT, "benchmarks", ".venv", "bin", "python")
if not os.path.exists(BENCH_PYTHON):
    BENCH_PYTHON = "/work/main/benchmarks/.venv/bin/python"


def make_app(seen):
    app = Covet()

    @app.websocket("/ws/{room}")
    async def room(websocket, room: str, n: int = Query(1)):
        await websocket.accept(subprotocol="chat", headers={"x-room": room})
        try:
            async for message in websocket:
                await websocket.send_text("%s/%d: %s" % (room, n, message))
        except WebSocketDisconnect as exc:
            seen.append(exc.code)
            raise
        seen.append("ended")

    @app.websocket("/boom")
    async def boom(websocket):
        await websocket.accept()
        raise RuntimeError("hidden")

    return app


def run_scope(app, path, incoming, query=b"", extensions=None, subprotocols=()):
    sent = []
    queue = list(incoming)

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": query,
             "headers": [(b"host", b"example.com"), (b"sec-websocket-protocol", b"chat")],
             "subprotocols": list(subprotocols), "scheme": "ws", "client": ("1.2.3.4", 5), "server": ("e", 80)}
    if extensions is not None:
        scope["extensions"] = extensions
    asyncio.run(app(scope, receive, send))
    return sent


def test_accept_messages_and_client_disconnect():
    seen = []
    sent = run_scope(make_app(seen), "/ws/lobby", [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.receive", "bytes": b"b", "text": None},
        {"type": "websocket.disconnect", "code": 1001},
    ], query=b"n=2", subprotocols=["chat"])
    assert sent == [
        {"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-room", b"lobby")]},
        {"type": "websocket.send", "text": "lobby/2: hi"},
        {"type": "websocket.send", "text": "lobby/2: b'b'"},
    ]
    assert seen == ["ended"]  # 1001 is a normal end of `async for`


def test_refusal_uses_the_http_response_extension_or_close():
    seen = []
    sent = run_scope(make_app(seen), "/nowhere", [{"type": "websocket.connect"}],
                     extensions={"websocket.http.response": {}})
    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 404
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert sent[1]["type"] == "websocket.http.response.body" and b'"status":404' in sent[1]["body"]
    sent = run_scope(make_app(seen), "/ws/x", [{"type": "websocket.connect"}], query=b"n=bad")
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]  # the server answers 403


def test_handler_exception_closes_1011_without_detail():
    sent = run_scope(make_app([]), "/boom", [{"type": "websocket.connect"}])
    assert sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []},
                    {"type": "websocket.close", "code": 1011, "reason": "internal error"}]


def test_disconnect_before_connect_runs_nothing():
    assert run_scope(make_app([]), "/ws/x", [{"type": "websocket.disconnect", "code": 1006}]) == []


APP_SOURCE = """
from covet import Covet

app = Covet()

@app.websocket("/ws/{room}")
async def room(websocket, room: str):
    await websocket.accept(subprotocol="chat" if "chat" in websocket.subprotocols else None)
    async for message in websocket:
        await websocket.send_text("%s: %s" % (room, message))
    await websocket.close(4000, "done")
"""


@pytest.mark.skipif(not os.path.exists(BENCH_PYTHON), reason="benchmarks/.venv with uvicorn is not installed")
def test_under_uvicorn_over_a_real_socket(tmp_path):
    check = subprocess.run([BENCH_PYTHON, "-c", "import uvicorn, wsproto"], capture_output=True)
    if check.returncode:
        pytest.skip("uvicorn or wsproto missing from benchmarks/.venv")
    (tmp_path / "wsapp.py").write_text(textwrap.dedent(APP_SOURCE))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    proc = subprocess.Popen([BENCH_PYTHON, "-m", "uvicorn", "wsapp:app", "--port", "0", "--ws", "wsproto",
                             "--log-level", "info", "--no-access-log"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), text=True)
    try:
        port = None
        for line in proc.stdout:  # waits for uvicorn's "running on" line
            m = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port is not None, "uvicorn did not start"
        sys.path.insert(0, os.path.dirname(__file__))
        from ws_client import Refused, WSClient, close_all

        try:
            c = WSClient(port, "/ws/lobby", subprotocols=["chat"])
            assert c.subprotocol == "chat"
            c.send_text("hello")
            assert c.receive() == "lobby: hello"
            c.close(1000)
            assert c.wait_closed()[0] == 1000
            with pytest.raises(Refused) as info:
                WSClient(port, "/nope")
            assert info.value.status == 404, info.value.status  # uvicorn offers websocket.http.response
        finally:
            close_all()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
