"""WebSocketManager: membership, rooms, users, broadcast encoding, slow clients (closed with 1008,
RFC 6455 §7.4.1) and the cross-worker fan-out hook. In-process, over a recording channel."""
import asyncio

import pytest

from covet.websocket import OVERFLOW_CLOSE_CODE, WebSocket, WebSocketManager, WebSocketState


class RecordingChannel:
    """A channel that records what is sent; ``blocked`` makes every send wait (a client that stops
    reading), and ``sent_event`` fires on each message."""

    def __init__(self, blocked=False):
        self.sent = []
        self.closed = None
        self.accepted = False
        self.gate = asyncio.Event()
        if not blocked:
            self.gate.set()
        self.sent_event = asyncio.Event()

    async def accept(self, subprotocol, headers):
        self.accepted = True

    async def refuse(self, status, headers, body):
        raise AssertionError("not expected")

    async def receive(self):
        await asyncio.Event().wait()

    async def send(self, data):
        await self.gate.wait()
        self.sent.append(data)
        self.sent_event.set()

    async def close(self, code, reason):
        self.closed = (code, reason)


def socket(blocked=False):
    channel = RecordingChannel(blocked)
    return WebSocket("/ws", channel=channel), channel


async def settle(*channels, count):
    """Wait until each channel has received ``count`` messages (a timeout only as a safety net)."""
    async def wait(ch):
        while len(ch.sent) < count:
            ch.sent_event.clear()
            await ch.sent_event.wait()
    await asyncio.wait_for(asyncio.gather(*(wait(c) for c in channels)), 5)


def run(coro):
    return asyncio.run(coro)


def test_connect_accepts_and_tracks_rooms_and_users():
    async def main():
        manager = WebSocketManager()
        a, ca = socket()
        b, cb = socket()
        await manager.connect(a, user_id="ada", rooms=["lobby", "x"])
        await manager.connect(b, rooms=["lobby"])
        assert ca.accepted and cb.accepted
        assert a.connection_state is WebSocketState.CONNECTED
        assert set(manager.connections()) == {a, b}
        assert set(manager.connections("lobby")) == {a, b}
        assert manager.connections("x") == [a]
        assert manager.rooms(a) == {"lobby", "x"}
        await manager.leave(a, "x")
        await manager.leave(a, "never-joined")
        assert manager.connections("x") == []
        await manager.join(b, "y")
        assert manager.connections("y") == [b]
        await manager.disconnect(a)
        await manager.disconnect(a)  # twice: nothing
        assert manager.connections() == [b] and len(manager) == 1
        assert await manager.send_to_user("ada", "gone") == 0
        with pytest.raises(ValueError, match="not connected"):
            await manager.join(a, "lobby")
        await manager.disconnect(b)
        assert manager._rooms == {} and manager._users == {}

    run(main())


def test_broadcast_encodes_once_by_type_and_honours_room_and_exclude():
    async def main():
        manager = WebSocketManager()
        a, ca = socket()
        b, cb = socket()
        c, cc = socket()
        await manager.connect(a, rooms=["r"])
        await manager.connect(b, rooms=["r"])
        await manager.connect(c)
        assert await manager.broadcast("text") == 3
        assert await manager.broadcast(b"\x00bin", room="r") == 2
        assert await manager.broadcast({"k": [1, "é"]}, room="r", exclude=a) == 1
        assert await manager.broadcast("last", exclude=[a, b]) == 1
        await settle(cb, count=3)
        await settle(cc, count=2)
        await settle(ca, count=2)
        assert ca.sent == ["text", b"\x00bin"]
        assert cb.sent == ["text", b"\x00bin", '{"k":[1,"é"]}']
        assert cc.sent == ["text", "last"]
        for ws in (a, b, c):
            await manager.disconnect(ws)

    run(main())


def test_send_to_user_reaches_every_connection_of_that_user():
    async def main():
        manager = WebSocketManager()
        a, ca = socket()
        b, cb = socket()
        c, cc = socket()
        await manager.connect(a, user_id=1)
        await manager.connect(b, user_id=1)
        await manager.connect(c, user_id=2)
        assert await manager.send_to_user(1, "hi") == 2
        await settle(ca, cb, count=1)
        assert ca.sent == cb.sent == ["hi"] and cc.sent == []
        for ws in (a, b, c):
            await manager.disconnect(ws)

    run(main())


def test_a_slow_client_is_closed_1008_and_dropped_while_others_get_every_message():
    async def main():
        manager = WebSocketManager(send_queue_size=2)
        fast, cf = socket()
        slow, cs = socket(blocked=True)
        await manager.connect(fast, rooms=["r"])
        await manager.connect(slow, rooms=["r"])
        counts = []
        for i in range(6):
            counts.append(await manager.broadcast("m%d" % i, room="r"))
            await settle(cf, count=i + 1)  # the fast client keeps up
        # The slow writer holds m0 in its send; m1 and m2 fill its queue; m3 overflows it.
        assert counts == [2, 2, 2, 1, 1, 1]
        assert cf.sent == ["m%d" % i for i in range(6)]
        assert slow not in manager.connections() and manager.connections("r") == [fast]
        assert manager.overflow_count == 1
        await asyncio.wait_for(asyncio.gather(*manager._closing), 5)
        assert cs.closed == (OVERFLOW_CLOSE_CODE, "client too slow: send queue overflowed")
        assert slow.connection_state is WebSocketState.DISCONNECTED
        assert cs.sent == []
        await manager.disconnect(fast)

    run(main())


def test_broadcast_does_not_wait_for_a_blocked_client():
    async def main():
        manager = WebSocketManager()
        blocked, cb = socket(blocked=True)
        await manager.connect(blocked)
        # Returns although the client's send never completes: it only enqueued.
        await asyncio.wait_for(manager.broadcast("x"), 1)
        await asyncio.wait_for(manager.broadcast("y"), 1)
        assert cb.sent == []
        await manager.disconnect(blocked)

    run(main())


def test_a_connection_the_app_closed_is_dropped_by_its_writer():
    async def main():
        manager = WebSocketManager()
        a, ca = socket()
        await manager.connect(a)
        await a.close()
        await manager.broadcast("late")
        writer = manager._conns[a].writer
        await asyncio.wait_for(writer, 5)
        assert a not in manager.connections()
        assert ca.sent == []

    run(main())


class ImmediateChannel(RecordingChannel):
    """A door that can also write without waiting (as covet's server does while the client keeps
    up); ``room`` False makes it push back, as a socket whose buffer is full."""

    def __init__(self):
        super().__init__()
        self.room = True
        self.nowait = []

    def send_nowait(self, data):
        if not self.room:
            return False
        self.sent.append(data)
        self.nowait.append(data)
        return True


def test_broadcast_writes_at_once_to_a_client_that_keeps_up_with_no_queue_or_task():
    async def main():
        manager = WebSocketManager()
        channel = ImmediateChannel()
        ws = WebSocket("/ws", channel=channel)
        await manager.connect(ws)
        assert await manager.broadcast("a") == 1
        assert await manager.broadcast(b"b") == 1
        assert channel.sent == channel.nowait == ["a", b"b"]  # written during broadcast: no await needed
        assert manager._conns[ws].queue is None and manager._conns[ws].writer is None
        await manager.disconnect(ws)

    run(main())


def test_messages_behind_a_queued_one_wait_in_order_and_the_queue_goes_when_drained():
    async def main():
        manager = WebSocketManager(send_queue_size=3)
        channel = ImmediateChannel()
        ws = WebSocket("/ws", channel=channel)
        await manager.connect(ws)
        channel.room = False
        channel.gate.clear()  # the awaited send waits too: the client is not reading
        assert await manager.broadcast("1") == 1
        channel.room = True  # room again, but "2" must not overtake "1"
        assert await manager.broadcast("2") == 1
        assert channel.nowait == [] and list(manager._conns[ws].queue) == ["1", "2"]
        writer = manager._conns[ws].writer
        channel.gate.set()
        await asyncio.wait_for(writer, 5)
        assert channel.sent == ["1", "2"] and channel.nowait == []
        assert manager._conns[ws].queue is None and manager._conns[ws].writer is None
        assert await manager.broadcast("3") == 1
        assert channel.nowait == ["3"]  # straight out again
        await manager.disconnect(ws)

    run(main())


def test_send_nowait_refuses_before_accept_after_close_and_on_a_door_without_it():
    async def main():
        channel = ImmediateChannel()
        ws = WebSocket("/ws", channel=channel)
        assert ws.send_nowait("early") is False  # not accepted: send_text would accept first
        await ws.accept()
        assert ws.send_nowait("x") is True
        await ws.close()
        assert ws.send_nowait("late") is False
        assert channel.sent == ["x"]
        plain, recording = socket()
        await plain.accept()
        assert plain.send_nowait("y") is False and recording.sent == []
        with pytest.raises(TypeError):
            plain.send_nowait({"not": "encoded"})

    run(main())


def test_send_queue_size_must_be_positive():
    with pytest.raises(ValueError):
        WebSocketManager(send_queue_size=0)


class MemoryFanout:
    """Two or more managers joined in-process, as a pub/sub backend joins workers."""

    def __init__(self, bus):
        self.bus = bus
        bus.append(self)
        self.deliver = None
        self.published = []

    def attach(self, deliver):
        self.deliver = deliver

    async def publish(self, envelope):
        self.published.append(envelope)
        for peer in self.bus:  # including ourselves, as Redis pub/sub does
            peer.deliver(dict(envelope))


def test_fanout_carries_broadcasts_and_user_messages_to_the_other_workers():
    async def main():
        bus = []
        worker1 = WebSocketManager(fanout=MemoryFanout(bus))
        worker2 = WebSocketManager(fanout=MemoryFanout(bus))
        a, ca = socket()
        b, cb = socket()
        await worker1.connect(a, user_id="u1", rooms=["r"])
        await worker2.connect(b, user_id="u2", rooms=["r"])
        assert await worker1.broadcast({"n": 1}, room="r") == 1
        await settle(ca, cb, count=1)
        assert ca.sent == cb.sent == ['{"n":1}']  # once each: worker1 ignored its own echo
        await worker1.send_to_user("u2", "direct")
        await settle(cb, count=2)
        assert cb.sent[1] == "direct" and ca.sent == ['{"n":1}']
        await worker2.broadcast("everyone")
        await settle(ca, count=2)
        await settle(cb, count=3)
        assert ca.sent[-1] == "everyone"
        assert bus[0].published[0] == {"origin": worker1.origin, "room": "r", "user": None, "message": {"n": 1}}
        await worker1.disconnect(a)
        await worker2.disconnect(b)

    run(main())
