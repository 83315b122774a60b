"""WebSocketManager: the open connections of a process, by room and by user, and broadcast to them.

One slow client never stalls a broadcast. A message goes out at once to every connection whose
socket can take it without waiting (``WebSocket.send_nowait``: covet's server, while the client
keeps up); for the others it waits in that connection's bounded send queue, drained by a writer
task of its own. ``broadcast`` and ``send_to_user`` never wait for a client. PERF: the queue and
the task exist only while messages wait, so an idle connection costs the manager one small record,
and a broadcast to 1,000 clients that keep up is 1,000 writes with no task switch.
A client whose queue is full (it reads slower than messages come) is closed with 1008 (RFC 6455
§7.4.1, policy violation) and dropped, so its backlog cannot grow without bound (the same reason
the ``websockets`` package bounds its write buffer and uvicorn its queues).

Across workers: ``redis_url=`` (a ``BrokerFanout`` on Redis pub/sub, ``covet.websocket.fanout``),
or ``fanout=``, any object that carries envelopes between the managers of several processes
(``Fanout`` below): ``broadcast`` and ``send_to_user`` then also reach connections held by other
workers. Without either, the manager reaches the connections of its own process.

Example::

    from covet.websocket import WebSocketManager

    manager = WebSocketManager()

    @app.websocket("/ws/{room}")
    async def room_ws(websocket, room: str):
        await manager.connect(websocket, rooms=[room])
        try:
            async for text in websocket:
                await manager.broadcast(text, room=room, exclude=websocket)
        finally:
            await manager.disconnect(websocket)
"""
import asyncio
import collections
import json
import logging
import os
import uuid
from typing import Any, Callable, Deque, Dict, Hashable, Iterable, List, Optional, Set, Union

from .connection import WebSocket, WebSocketState

try:
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore

__all__ = ["WebSocketManager", "Fanout", "DEFAULT_SEND_QUEUE_SIZE", "OVERFLOW_CLOSE_CODE"]

logger = logging.getLogger("covet.error")

#: Messages waiting for one connection before it counts as too slow. 64 absorbs a burst of a busy
#: room while a healthy client's socket drains; a client that falls this far behind is closed
#: rather than holding memory that grows with every broadcast.
DEFAULT_SEND_QUEUE_SIZE = 64

#: The close code for a client dropped because its send queue overflowed (RFC 6455 §7.4.1: 1008,
#: the endpoint's policy; a 1009 would wrongly blame one message's size).
OVERFLOW_CLOSE_CODE = 1008


class Fanout(Protocol):
    """Carries broadcast envelopes between the WebSocketManagers of several workers.

    ``attach(deliver)`` is called once by the manager; the fanout calls ``deliver(envelope)`` for
    every envelope another worker published. ``publish(envelope)`` sends one to every worker
    (including, harmlessly, this one: the manager ignores its own by ``envelope["origin"]``).
    An envelope is a dict with ``origin``, ``room``, ``user`` and ``message`` (str, bytes or a
    JSON value); a fanout over a wire serialises it.

    Optionally, ``async start()`` (the manager awaits it on each ``connect`` until it returns true,
    so a worker is listening before its sockets count on it) and ``async close()`` (awaited by
    ``WebSocketManager.close()``).
    """

    def attach(self, deliver: Callable[[Dict[str, Any]], None]) -> None: ...

    async def publish(self, envelope: Dict[str, Any]) -> None: ...


class _Connection:
    __slots__ = ("websocket", "user_id", "rooms", "queue", "writer")

    def __init__(self, websocket: WebSocket, user_id: Any) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.rooms: Set[Hashable] = set()
        # Both only while messages wait for this client (its socket pushed back).
        self.queue: "Optional[Deque[Union[str, bytes]]]" = None
        self.writer: "Optional[asyncio.Task[None]]" = None


class WebSocketManager:
    """The connections of this process, by room and user; broadcast without waiting for any one client.

    :param send_queue_size: messages queued per connection before it is closed as too slow (1008).
    :param fanout: optional ``Fanout`` that carries broadcasts to the managers of other workers.
    :param redis_url: carry them through Redis pub/sub instead (a ``BrokerFanout`` on a
        ``RedisBroker``, connected at first use in the running loop); not with ``fanout``.
    :param channel: the Redis channel for ``redis_url`` (default ``"covet:ws:broadcast"``).

    With ``redis_url`` (or a fanout that holds connections), close the manager on shutdown:
    ``app.on_shutdown(manager.close)``.

    Example::

        manager = WebSocketManager()
        await manager.connect(websocket, user_id="ada", rooms=["lobby"])
        await manager.broadcast({"type": "joined", "user": "ada"}, room="lobby", exclude=websocket)
        await manager.send_to_user("ada", "welcome")
    """

    def __init__(self, send_queue_size: int = DEFAULT_SEND_QUEUE_SIZE, fanout: Optional[Fanout] = None, *,
                 redis_url: Optional[str] = None, channel: Optional[str] = None) -> None:
        if type(send_queue_size) is not int or send_queue_size < 1:
            raise ValueError("send_queue_size must be a positive integer, got %r" % (send_queue_size,))
        if redis_url is not None:
            if fanout is not None:
                raise ValueError("pass fanout or redis_url, not both")
            # Imported here: only a manager that crosses workers needs the Redis client loaded.
            from .fanout import DEFAULT_FANOUT_CHANNEL, BrokerFanout
            fanout = BrokerFanout(redis_url=redis_url,
                                  channel=DEFAULT_FANOUT_CHANNEL if channel is None else channel)
        elif channel is not None:
            raise ValueError("channel= names the Redis channel of redis_url=; pass redis_url too")
        self.send_queue_size = send_queue_size
        self._conns: Dict[WebSocket, _Connection] = {}
        self._rooms: Dict[Hashable, Set[WebSocket]] = {}
        self._users: Dict[Any, Set[WebSocket]] = {}
        self.overflow_count = 0
        self._closing: Set["asyncio.Task[None]"] = set()  # held until done (the loop keeps weak refs)
        self._origin = ("", 0)
        self.fanout = fanout
        self._fanout_started = False
        if fanout is not None:
            fanout.attach(self._deliver_envelope)

    @property
    def origin(self) -> str:
        """This manager's id in envelopes, one per process: a manager made at import is copied into
        every worker that ``--workers`` forks, and each copy must still tell its envelopes apart."""
        pid = os.getpid()
        if self._origin[1] != pid:
            self._origin = (uuid.uuid4().hex, pid)
        return self._origin[0]

    async def close(self) -> None:
        """Release the fanout (with ``redis_url``: its Redis connections). Sockets stay open (the
        server closes them with 1001 on shutdown); a later ``connect`` or ``broadcast`` starts the
        fanout again.

        Example::

            app.on_shutdown(manager.close)
        """
        self._fanout_started = False
        close = getattr(self.fanout, "close", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> "WebSocketManager":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _start_fanout(self) -> None:
        start = getattr(self.fanout, "start", None)
        if start is None:
            self._fanout_started = True
            return
        self._fanout_started = bool(await start())

    # -- membership ------------------------------------------------------------
    async def connect(self, websocket: WebSocket, user_id: Any = None, rooms: Iterable[Hashable] = ()) -> None:
        """Accept ``websocket`` (unless accepted already) and add it, for ``user_id`` and in ``rooms``."""
        if websocket.connection_state is WebSocketState.CONNECTING:
            await websocket.accept()
        if websocket in self._conns:
            conn = self._conns[websocket]
        else:
            conn = self._conns[websocket] = _Connection(websocket, user_id)
            if user_id is not None:
                self._users.setdefault(user_id, set()).add(websocket)
        for room in rooms:
            self._join(conn, room)
        if self.fanout is not None and not self._fanout_started:
            await self._start_fanout()

    async def disconnect(self, websocket: WebSocket) -> None:
        """Forget ``websocket``: its rooms, its user, its queued messages. It is not closed here (a
        handler calls this once the client has gone; close it first to end it yourself)."""
        self._forget(websocket)

    def _forget(self, websocket: WebSocket) -> None:
        conn = self._conns.pop(websocket, None)
        if conn is None:
            return
        for room in conn.rooms:
            members = self._rooms.get(room)
            if members is not None:
                members.discard(websocket)
                if not members:
                    del self._rooms[room]
        if conn.user_id is not None:
            sockets = self._users.get(conn.user_id)
            if sockets is not None:
                sockets.discard(websocket)
                if not sockets:
                    del self._users[conn.user_id]
        writer = conn.writer
        if writer is not None and writer is not _current_task():
            writer.cancel()

    async def join(self, websocket: WebSocket, room: Hashable) -> None:
        """Add a connected ``websocket`` to ``room`` (ValueError when it was never connected)."""
        self._join(self._conn(websocket), room)

    async def leave(self, websocket: WebSocket, room: Hashable) -> None:
        """Take ``websocket`` out of ``room`` (nothing happens when it is not in it)."""
        conn = self._conns.get(websocket)
        if conn is None or room not in conn.rooms:
            return
        conn.rooms.discard(room)
        members = self._rooms[room]
        members.discard(websocket)
        if not members:
            del self._rooms[room]

    def _conn(self, websocket: WebSocket) -> _Connection:
        conn = self._conns.get(websocket)
        if conn is None:
            raise ValueError("%r is not connected to this manager: await manager.connect(websocket) first"
                             % (websocket,))
        return conn

    def _join(self, conn: _Connection, room: Hashable) -> None:
        conn.rooms.add(room)
        self._rooms.setdefault(room, set()).add(conn.websocket)

    def connections(self, room: Optional[Hashable] = None) -> List[WebSocket]:
        """The connections of this process (in ``room``, when given)."""
        if room is None:
            return list(self._conns)
        return list(self._rooms.get(room, ()))

    def rooms(self, websocket: WebSocket) -> Set[Hashable]:
        """The rooms ``websocket`` is in."""
        conn = self._conns.get(websocket)
        return set(conn.rooms) if conn is not None else set()

    # -- sending ---------------------------------------------------------------
    async def broadcast(self, message: Any, room: Optional[Hashable] = None,
                        exclude: Union[None, WebSocket, Iterable[WebSocket]] = None) -> int:
        """Queue ``message`` for every connection (of ``room``), except ``exclude``; returns how many
        of this process's connections got it. str goes as text, bytes as binary, anything else as
        JSON text. It does not wait for any client to read it."""
        payload = _payload(message)
        targets = self._conns.keys() if room is None else self._rooms.get(room, ())
        n = self._enqueue(targets, payload, exclude)
        if self.fanout is not None:
            await self.fanout.publish({"origin": self.origin, "room": room, "user": None, "message": message})
        return n

    async def send_to_user(self, user_id: Any, message: Any) -> int:
        """Queue ``message`` for every connection of ``user_id``; returns how many (in this process)."""
        n = self._enqueue(self._users.get(user_id, ()), _payload(message), None)
        if self.fanout is not None:
            await self.fanout.publish({"origin": self.origin, "room": None, "user": user_id, "message": message})
        return n

    def _deliver_envelope(self, envelope: Dict[str, Any]) -> None:
        if envelope.get("origin") == self.origin:
            return
        payload = _payload(envelope["message"])
        user = envelope.get("user")
        if user is not None:
            self._enqueue(self._users.get(user, ()), payload, None)
        else:
            room = envelope.get("room")
            self._enqueue(self._conns.keys() if room is None else self._rooms.get(room, ()), payload, None)

    def _enqueue(self, targets: Iterable[WebSocket], payload: Union[str, bytes],
                 exclude: Union[None, WebSocket, Iterable[WebSocket]]) -> int:
        if exclude is None:
            skip: Any = ()
        elif isinstance(exclude, WebSocket):
            skip = (exclude,)
        else:
            skip = set(exclude)
        n = 0
        overflowed = []
        conns = self._conns
        size = self.send_queue_size
        for websocket in list(targets):
            if websocket in skip:
                continue
            conn = conns.get(websocket)
            if conn is None:
                continue
            queue = conn.queue
            if queue is None:
                # Nothing waits for this client: straight to its socket if it can take it now.
                if websocket.send_nowait(payload):
                    n += 1
                    continue
                queue = conn.queue = collections.deque()
            if len(queue) >= size:
                overflowed.append(conn)
                continue
            queue.append(payload)
            n += 1
            if conn.writer is None:
                conn.writer = asyncio.get_running_loop().create_task(self._write(conn))
        for conn in overflowed:
            self._overflow(conn)
        return n

    def _overflow(self, conn: _Connection) -> None:
        self.overflow_count += 1
        websocket = conn.websocket
        logger.warning("WebSocket %s: closed with %d, its send queue (%d messages) overflowed: the client "
                       "reads slower than messages are sent", websocket.raw_path, OVERFLOW_CLOSE_CODE,
                       self.send_queue_size)
        # Dropped at once (its writer cancelled), closed in the background: broadcast must not wait
        # for this client.
        self._forget(websocket)
        task = asyncio.get_running_loop().create_task(
            _close_quietly(websocket, OVERFLOW_CLOSE_CODE, "client too slow: send queue overflowed"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _write(self, conn: _Connection) -> None:
        """Send the messages waiting for one client, in order; gone once none waits."""
        websocket = conn.websocket
        queue = conn.queue
        while True:
            if not queue:
                # Nothing left: later messages may go straight out again (no await between this
                # check and the reset, so none can slip in behind the queue).
                conn.queue = conn.writer = None
                return
            payload = queue.popleft()
            if websocket.connection_state is WebSocketState.DISCONNECTED:
                self._forget(websocket)
                return
            try:
                if type(payload) is str:
                    await websocket.send_text(payload)
                else:
                    await websocket.send_bytes(payload)
            except RuntimeError:  # the application closed it
                self._forget(websocket)
                return
            except Exception:
                logger.exception("WebSocket %s: sending a broadcast failed", websocket.raw_path)
                self._forget(websocket)
                return

    def __len__(self) -> int:
        return len(self._conns)

    def __repr__(self) -> str:
        return "<WebSocketManager %d connections, %d rooms>" % (len(self._conns), len(self._rooms))


def _payload(message: Any) -> Union[str, bytes]:
    if isinstance(message, (str, bytes)):
        return message
    if isinstance(message, (bytearray, memoryview)):
        return bytes(message)
    # Encoded once per broadcast, not once per connection.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _current_task() -> "Optional[asyncio.Task[Any]]":
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code, reason)
    except Exception:
        logger.debug("closing a slow WebSocket failed", exc_info=True)
