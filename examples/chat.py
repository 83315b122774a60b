"""A chat: rooms over WebSockets, a JWT on connect, an SSE feed of room activity, one HTML page.

Run it:   python -m covet run examples/chat.py            then open http://127.0.0.1:8000/
Workers:  REDIS_URL=redis://127.0.0.1:6379/0 COVET_SECRET=... python -m covet run examples/chat.py --workers 4
Test it:  tests/test_example_chat.py (the test client, and two server processes sharing a redis-server).

    GET    /                               the page (inline JS: a WebSocket and an EventSource)
    POST   /token        {"username": ..}  a demo access token (no password: see below)
    WS     /ws/chat/{room_id}              the room; token in the "bearer" subprotocol, the
                                           Authorization header or ?token=; send {"message": "..."}
    GET    /rooms/{room_id}/events         text/event-stream: "room" (first, the current counts),
                                           then "join", "leave" and "message" events
    GET    /chat/rooms                     the rooms with their member and message counts
    POST   /chat/rooms/{room_id}/messages  {"message": ..} with a bearer token: say it over HTTP

What a socket receives: {"type": "join"|"leave", "room", "user", "members"} and
{"type": "message", "room", "user", "text", "ts"}; {"type": "error", "detail"} answers a message
that is not {"message": "<1 to 2000 characters>"}.

One process needs nothing else. With COVET_REDIS_URL or REDIS_URL set (as for covet's caches),
every worker and host running it shares the rooms: the WebSocketManager and the RealtimeManager
carry messages through Redis pub/sub, and the counts live in two Redis hashes.

Demo choices a real application must not copy:
- /token gives a token to anyone for any name. Put a login in front of it (examples/auth_api.py).
- Without COVET_SECRET a random key is made at start-up: tokens die with the process, and
  separate processes (not --workers, which fork after it is made) do not accept each other's.
- Member counts in Redis are not repaired when a worker is killed while sockets are open.
"""
import asyncio
import collections
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

from covet import Covet, EventSourceResponse, HTMLResponse, HTTPException, Request, ServerSentEvent
from covet.cache.config import redis_url_from_env
from covet.realtime import Message, RealtimeManager
from covet.redis import Redis
from covet.security import JWTAuth
from covet.validation import Field
from covet.websocket import WebSocket, WebSocketManager

# Room ids and user names go into URLs, Redis keys and channel names: a short, plain alphabet.
NAME = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
# Longest chat message, in characters: a chat line, not a document.
MAX_MESSAGE_LENGTH = 2000
# Activity events waiting for one slow SSE reader; past it the stream ends (the browser
# reconnects and starts again from the current counts) instead of holding events without bound.
FEED_QUEUE_SIZE = 100
# Access tokens live an hour: the page asks for a new one when it reconnects.
TOKEN_LIFETIME = 3600


@dataclass
class TokenRequest:
    """Who asks for a token (no password: a demo, see the module docstring)."""

    username: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", examples=["ada"])


@dataclass
class ChatMessage:
    """A line said in a room."""

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_LENGTH, examples=["hello, room"])


def check_name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise HTTPException(422, "%s must be 1 to 32 letters, digits, '_' or '-'" % what)
    return value


def feed_channel(room_id: str) -> str:
    return "chat:room:" + room_id


class MemoryStats:
    """Member and message counts of the rooms of this process."""

    def __init__(self) -> None:
        self.members: Dict[str, int] = {}
        self.messages: Dict[str, int] = {}

    async def add_member(self, room: str, delta: int) -> int:
        n = self.members[room] = self.members.get(room, 0) + delta
        return n

    async def add_message(self, room: str) -> int:
        n = self.messages[room] = self.messages.get(room, 0) + 1
        return n

    async def rooms(self) -> Dict[str, Dict[str, int]]:
        names = set(self.members) | set(self.messages)
        return {r: {"members": self.members.get(r, 0), "messages": self.messages.get(r, 0)} for r in names}

    async def room(self, room: str) -> Dict[str, int]:
        return {"members": self.members.get(room, 0), "messages": self.messages.get(room, 0)}

    async def close(self) -> None:
        pass


class RedisStats(MemoryStats):
    """The same counts in two Redis hashes, shared by every worker."""

    MEMBERS, MESSAGES = "chat:members", "chat:messages"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.redis = Redis.from_url(url)

    async def add_member(self, room: str, delta: int) -> int:
        return int(await self.redis.execute("HINCRBY", self.MEMBERS, room, delta))

    async def add_message(self, room: str) -> int:
        return int(await self.redis.execute("HINCRBY", self.MESSAGES, room, 1))

    async def rooms(self) -> Dict[str, Dict[str, int]]:
        members = _hash(await self.redis.execute("HGETALL", self.MEMBERS))
        messages = _hash(await self.redis.execute("HGETALL", self.MESSAGES))
        return {r: {"members": members.get(r, 0), "messages": messages.get(r, 0)}
                for r in set(members) | set(messages)}

    async def room(self, room: str) -> Dict[str, int]:
        members = await self.redis.execute("HGET", self.MEMBERS, room)
        messages = await self.redis.execute("HGET", self.MESSAGES, room)
        return {"members": int(members or 0), "messages": int(messages or 0)}

    async def close(self) -> None:
        await self.redis.close()


def _hash(flat: Any) -> Dict[str, int]:
    return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}


def create_app(secret: Any = None, redis_url: Optional[str] = None) -> Covet:
    """The chat; ``secret`` signs tokens ($COVET_SECRET, else random), ``redis_url`` joins workers
    ($COVET_REDIS_URL or $REDIS_URL, else one process)."""
    if secret is None:
        secret = os.environ.get("COVET_SECRET") or secrets.token_bytes(32)
    if redis_url is None:
        redis_url = redis_url_from_env()
    auth = JWTAuth(secret, expiration_time=TOKEN_LIFETIME)
    # Both connect to Redis at first use, inside each worker: nothing is opened before --workers forks.
    manager = WebSocketManager(redis_url=redis_url)
    realtime = RealtimeManager(redis_url=redis_url)
    stats = RedisStats(redis_url) if redis_url else MemoryStats()

    app = Covet(title="chat example")
    app.state.manager, app.state.realtime, app.state.stats = manager, realtime, stats
    app.on_shutdown(manager.close)
    app.on_shutdown(realtime.close)
    app.on_shutdown(stats.close)

    async def activity(room_id: str, event: Dict[str, Any]) -> None:
        """Tell the room's sockets (every worker) and its SSE feed (every worker)."""
        await manager.broadcast({"type": event["type"], "room": room_id, **event}, room=room_id)
        await realtime.publish(feed_channel(room_id), event)

    async def say(room_id: str, user: str, text: Any) -> None:
        if not isinstance(text, str) or not 0 < len(text) <= MAX_MESSAGE_LENGTH:
            raise ValueError("send {\"message\": \"<1 to %d characters>\"}" % MAX_MESSAGE_LENGTH)
        count = await stats.add_message(room_id)
        await manager.broadcast({"type": "message", "room": room_id, "user": user, "text": text,
                                 "ts": time.time()}, room=room_id)
        await realtime.publish(feed_channel(room_id), {"type": "message", "user": user, "messages": count})

    @app.get("/")
    async def page():
        return HTMLResponse(PAGE)

    @app.post("/token")
    async def token(body: TokenRequest):
        """A demo access token for any name (the body is checked: a 422 names what is wrong)."""
        return {"access_token": auth.create_token({"sub": body.username}), "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME}

    @app.get("/chat/rooms")
    async def rooms():
        table = await stats.rooms()
        return {"rooms": [dict(room=name, **table[name]) for name in sorted(table)]}

    @app.post("/chat/rooms/{room_id}/messages")
    @auth.require_token
    async def post_message(request: Request, room_id: str, body: ChatMessage):
        """Say something in a room over HTTP: its sockets and its feed see it as if typed."""
        check_name("room_id", room_id)
        await say(room_id, request.state.user["sub"], body.message)
        return {"status": "sent"}

    @app.websocket("/ws/chat/{room_id}")
    @auth.require_websocket_token
    async def chat(websocket: WebSocket, room_id: str):
        check_name("room_id", room_id)
        user = websocket.state.user["sub"]
        await manager.connect(websocket, user_id=user, rooms=[room_id])
        try:
            await activity(room_id, {"type": "join", "user": user, "members": await stats.add_member(room_id, 1)})
            async for data in websocket:
                try:
                    message = _json_object(data)
                    await say(room_id, user, message.get("message"))
                except ValueError as exc:
                    await websocket.send_json({"type": "error", "detail": str(exc)})
        finally:
            await manager.disconnect(websocket)
            # Shielded: the bookkeeping finishes even when the server cancels the handler on shutdown.
            await asyncio.shield(_left(room_id, user))

    async def _left(room_id: str, user: str) -> None:
        await activity(room_id, {"type": "leave", "user": user, "members": await stats.add_member(room_id, -1)})

    @app.get("/rooms/{room_id}/events")
    async def room_events(room_id: str):
        check_name("room_id", room_id)
        pending: "collections.deque[Message]" = collections.deque()
        ready = asyncio.Event()
        overflowed = []

        def on_message(message: Message) -> None:  # called in the loop for every event: must not block
            if len(pending) >= FEED_QUEUE_SIZE:
                overflowed.append(True)  # too slow: the stream ends, the browser reconnects
            else:
                pending.append(message)
            ready.set()

        async def events():
            # Subscribed before the first event goes out, so the counts in it are never older than
            # the events that follow (and inside the generator, whose end always unsubscribes).
            subscription = await realtime.broker.subscribe(feed_channel(room_id), on_message)
            try:
                yield ServerSentEvent(event="room", data=dict(room=room_id, **await stats.room(room_id)))
                while not overflowed:
                    if not pending:
                        ready.clear()
                        await ready.wait()
                        continue
                    message = pending.popleft()
                    yield ServerSentEvent(event=message.data["type"], data=message.json)
            finally:
                await subscription.unsubscribe()

        return EventSourceResponse(events())

    return app


def _json_object(data: Any) -> Dict[str, Any]:
    try:
        value = json.loads(data)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise ValueError("send {\"message\": \"<1 to %d characters>\"}" % MAX_MESSAGE_LENGTH)
    return value


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>covet chat</title>
<style>
  body { font: 15px system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; }
  #log { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; }
  #feed { color: #666; font-size: 13px; }
  .me { color: #05a; }
</style>
</head>
<body>
<h1>covet chat</h1>
<form id="join">
  <input id="name" placeholder="your name" required pattern="[A-Za-z0-9_\\-]{1,32}">
  <input id="room" placeholder="room" value="lobby" required pattern="[A-Za-z0-9_\\-]{1,32}">
  <button>Join</button>
</form>
<div id="log"></div>
<form id="say"><input id="text" size="60" maxlength="2000" disabled> <button disabled>Send</button></form>
<p id="feed"></p>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let socket = null, feed = null;

function line(text, cls) {
  const p = document.createElement("div");
  p.textContent = text;                 // text, never HTML: messages come from other users
  if (cls) p.className = cls;
  $("log").appendChild(p);
  $("log").scrollTop = $("log").scrollHeight;
}

$("join").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("name").value, room = $("room").value;
  const r = await fetch("/token", {method: "POST", headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify({username: name})});
  if (!r.ok) { line("could not get a token: " + r.status); return; }
  const token = (await r.json()).access_token;
  if (socket) socket.close();
  if (feed) feed.close();
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  // Browsers cannot set headers on a WebSocket: the token rides in the "bearer" subprotocol.
  socket = new WebSocket(scheme + location.host + "/ws/chat/" + encodeURIComponent(room), ["bearer", token]);
  socket.onopen = () => { $("text").disabled = false; $("say").querySelector("button").disabled = false; };
  socket.onclose = (ev) => line("disconnected (" + ev.code + ")");
  socket.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "message") line(m.user + ": " + m.text, m.user === name ? "me" : "");
    else if (m.type === "join") line(m.user + " joined (" + m.members + " here)");
    else if (m.type === "leave") line(m.user + " left (" + m.members + " here)");
    else if (m.type === "error") line("error: " + m.detail);
  };
  feed = new EventSource("/rooms/" + encodeURIComponent(room) + "/events");
  const counts = {members: 0, messages: 0};
  const show = () => { $("feed").textContent = room + ": " + counts.members + " members, "
                                               + counts.messages + " messages"; };
  feed.addEventListener("room", (ev) => { Object.assign(counts, JSON.parse(ev.data)); show(); });
  for (const kind of ["join", "leave"]) {
    feed.addEventListener(kind, (ev) => { counts.members = JSON.parse(ev.data).members; show(); });
  }
  feed.addEventListener("message", (ev) => { counts.messages = JSON.parse(ev.data).messages; show(); });
});

$("say").addEventListener("submit", (e) => {
  e.preventDefault();
  if (socket && socket.readyState === WebSocket.OPEN && $("text").value) {
    socket.send(JSON.stringify({message: $("text").value}));
    $("text").value = "";
  }
});
</script>
</body>
</html>
"""

app = create_app()
