"""The WebSocket examples of covet's API reference, run as written ("WebSocket Support" and
"WebSocket Chat Application"), through the in-process test client.

The reference's handler bodies are pasted unchanged; around them, only what the reference leaves
to its context (the app, ``jwt_auth``, ``import time``) and the test's own checks.
"""
import time  # the chat example calls time.time() and leaves the import to its context

import pytest

from covet import Covet
from covet.testing import TestClient, WebSocketRefused

SECRET = "seed-secret-key-of-at-least-32-bytes!"


# ------------------------------------------------------------------- WebSocket Support: Server + Auth

def make_support_app():
    from covet.security.jwt_auth import JWTAuth
    from covet.websocket import WebSocketManager

    app = Covet()
    jwt_auth = JWTAuth(secret_key=SECRET, algorithm="HS256", expiration_time=3600)

    ws_manager = WebSocketManager()

    @app.websocket("/ws")
    async def websocket_endpoint(websocket):
        await ws_manager.connect(websocket)

        try:
            while True:
                data = await websocket.receive_text()
                # Broadcast to all connected clients
                await ws_manager.broadcast(f"User said: {data}")
        except Exception:
            await ws_manager.disconnect(websocket)

    @app.websocket("/ws/authenticated")
    @jwt_auth.require_websocket_token
    async def authenticated_websocket(websocket):
        user = websocket.state.user
        await ws_manager.connect(websocket, user_id=user["id"])

        try:
            while True:
                data = await websocket.receive_text()
                await ws_manager.send_to_user(user["id"], f"Echo: {data}")
        except Exception:
            await ws_manager.disconnect(websocket)

    return app, jwt_auth, ws_manager


def test_websocket_server_broadcasts_to_every_client():
    app, _auth, manager = make_support_app()
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
            a.send_text("hello")
            assert a.receive_text() == "User said: hello"
            assert b.receive_text() == "User said: hello"
            b.send_text("hi back")
            assert a.receive_text() == "User said: hi back"
            assert b.receive_text() == "User said: hi back"
    assert len(manager) == 0  # each handler's except branch disconnected it


def test_authenticated_websocket_echoes_to_the_user_and_refuses_without_token():
    app, auth, manager = make_support_app()
    token = auth.create_token({"id": 42})
    other = auth.create_token({"id": 7})
    with TestClient(app) as client:
        with client.websocket_connect("/ws/authenticated", headers={"Authorization": "Bearer " + token}) as a, \
                client.websocket_connect("/ws/authenticated?token=" + token) as a2, \
                client.websocket_connect("/ws/authenticated", subprotocols=["bearer", other]) as b:
            assert b.subprotocol == "bearer"
            a.send_text("ping")
            assert a.receive_text() == "Echo: ping"
            assert a2.receive_text() == "Echo: ping"  # the same user's other connection
            b.send_text("mine")
            assert b.receive_text() == "Echo: mine"
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/ws/authenticated"):
                pass
        assert info.value.status_code == 403
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/ws/authenticated?token=forged.token.here"):
                pass
        assert info.value.status_code == 403
    assert len(manager) == 0


# ------------------------------------------------------------------ WebSocket Chat Application

def make_chat_app():
    from covet import CovetApp
    from covet.websocket import WebSocketManager
    from covet.security import JWTAuth

    app = CovetApp()
    ws_manager = WebSocketManager()
    auth = JWTAuth(SECRET)

    class ChatRoom:
        def __init__(self):
            self.connections = {}
            self.rooms = {}

        async def join_room(self, websocket, room_id, user_id):
            if room_id not in self.rooms:
                self.rooms[room_id] = set()

            self.rooms[room_id].add(websocket)
            self.connections[websocket] = {"room": room_id, "user": user_id}

            await self.broadcast_to_room(room_id, {
                "type": "user_joined",
                "user_id": user_id,
                "message": f"User {user_id} joined the room"
            }, exclude=websocket)

        async def leave_room(self, websocket):
            if websocket in self.connections:
                room_id = self.connections[websocket]["room"]
                user_id = self.connections[websocket]["user"]

                self.rooms[room_id].discard(websocket)
                del self.connections[websocket]

                await self.broadcast_to_room(room_id, {
                    "type": "user_left",
                    "user_id": user_id,
                    "message": f"User {user_id} left the room"
                })

        async def broadcast_to_room(self, room_id, message, exclude=None):
            if room_id in self.rooms:
                for websocket in self.rooms[room_id]:
                    if websocket != exclude:
                        await websocket.send_json(message)

    chat = ChatRoom()

    @app.websocket("/ws/chat/{room_id}")
    @auth.require_websocket_token
    async def chat_websocket(websocket, room_id: str):
        user_id = websocket.state.user["id"]

        await chat.join_room(websocket, room_id, user_id)

        try:
            while True:
                data = await websocket.receive_json()

                message = {
                    "type": "message",
                    "user_id": user_id,
                    "message": data["message"],
                    "timestamp": time.time()
                }

                await chat.broadcast_to_room(room_id, message)

        except Exception:
            await chat.leave_room(websocket)

    # REST endpoints for chat
    @app.route("/chat/rooms", methods=["GET"])
    @auth.require_token
    async def list_rooms():
        return {"rooms": list(chat.rooms.keys())}

    return app, auth, chat, ws_manager


def test_chat_room_join_message_leave():
    app, auth, chat, _manager = make_chat_app()
    ada = {"Authorization": "Bearer " + auth.create_token({"id": "ada"})}
    bob = {"Authorization": "Bearer " + auth.create_token({"id": "bob"})}
    with TestClient(app) as client:
        with client.websocket_connect("/ws/chat/lobby", headers=ada) as a:
            with client.websocket_connect("/ws/chat/lobby", headers=bob) as b:
                assert a.receive_json() == {"type": "user_joined", "user_id": "bob",
                                            "message": "User bob joined the room"}
                before = time.time()
                b.send_json({"message": "hello"})
                for ws in (a, b):
                    got = ws.receive_json()
                    assert {k: got[k] for k in ("type", "user_id", "message")} == {
                        "type": "message", "user_id": "bob", "message": "hello"}
                    assert before <= got["timestamp"] <= time.time()
                rooms = client.get("/chat/rooms", headers=ada)
                assert rooms.status_code == 200 and rooms.json() == {"rooms": ["lobby"]}
            assert a.receive_json() == {"type": "user_left", "user_id": "bob", "message": "User bob left the room"}
        assert chat.connections == {} and chat.rooms == {"lobby": set()}
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/ws/chat/lobby"):
                pass
        assert info.value.status_code == 403
        assert client.get("/chat/rooms").status_code == 401
