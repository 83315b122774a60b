"""WebSocketManager across workers: BrokerFanout over a covet.realtime broker (in-process and a real
redis-server), its wire form, what it refuses and drops, and its lifecycle."""
import asyncio
import json
import logging

import pytest

from covet.realtime import InProcessBroker, RedisBroker
from covet.redis import Redis
from covet.websocket import DEFAULT_FANOUT_CHANNEL, BrokerFanout, WebSocket, WebSocketManager
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)


class RecordingChannel:
    def __init__(self):
        self.sent = []
        self.sent_event = asyncio.Event()

    async def accept(self, subprotocol, headers):
        pass

    async def receive(self):
        await asyncio.Event().wait()

    async def send(self, data):
        self.sent.append(data)
        self.sent_event.set()

    async def close(self, code, reason):
        pass


def socket():
    channel = RecordingChannel()
    return WebSocket("/ws", channel=channel), channel


async def settle(*channels, count):
    async def wait(ch):
        while len(ch.sent) < count:
            ch.sent_event.clear()
            await ch.sent_event.wait()
    await asyncio.wait_for(asyncio.gather(*(wait(c) for c in channels)), 5)


def run(coro):
    return asyncio.run(coro)


def two_workers(broker):
    return (WebSocketManager(fanout=BrokerFanout(broker, channel="t")),
            WebSocketManager(fanout=BrokerFanout(broker, channel="t")))


def test_broadcast_room_user_and_bytes_cross_through_a_broker():
    async def main():
        w1, w2 = two_workers(InProcessBroker())
        a, ca = socket()
        b, cb = socket()
        c, cc = socket()
        await w1.connect(a, user_id="ada", rooms=["lobby"])
        await w2.connect(b, user_id="bob", rooms=["lobby"])
        await w2.connect(c, user_id=7, rooms=[3])
        assert await w1.broadcast({"n": 1}, room="lobby") == 1      # the local count
        await settle(ca, cb, count=1)
        assert ca.sent == cb.sent == ['{"n":1}'] and cc.sent == []  # w1 skipped its own echo
        await w1.send_to_user(7, b"\x00\xff")
        await settle(cc, count=1)
        assert cc.sent == [b"\x00\xff"]
        await w1.broadcast("to room 3", room=3)
        await settle(cc, count=2)
        assert cc.sent[1] == "to room 3" and cb.sent == ['{"n":1}']
        await w2.broadcast("all")
        await settle(ca, cb, count=2)
        await settle(cc, count=3)
        assert ca.sent[1] == cb.sent[1] == cc.sent[2] == "all"

    run(main())


def test_exclude_is_local_only():
    async def main():
        w1, w2 = two_workers(InProcessBroker())
        a, ca = socket()
        a2, ca2 = socket()
        b, cb = socket()
        await w1.connect(a, rooms=["r"])
        await w1.connect(a2, rooms=["r"])
        await w2.connect(b, rooms=["r"])
        assert await w1.broadcast("hi", room="r", exclude=a) == 1
        await settle(ca2, cb, count=1)
        assert ca.sent == [] and ca2.sent == cb.sent == ["hi"]

    run(main())


def test_the_wire_form():
    seen = []
    broker = InProcessBroker()

    async def main():
        await broker.subscribe("t", seen.append)
        w1, _ = two_workers(broker)
        await w1.broadcast({"a": [1, "é"]}, room="r")
        await w1.send_to_user(5, "x")
        await w1.broadcast(b"\x01\x02")
        return w1.origin

    origin = run(main())
    assert [json.loads(m.json) for m in seen] == [
        {"origin": origin, "room": "r", "user": None, "json": {"a": [1, "é"]}},
        {"origin": origin, "room": None, "user": 5, "text": "x"},
        {"origin": origin, "room": None, "user": None, "bytes": "AQI="},
    ]


@pytest.mark.parametrize("room, user", [(("a", 1), None), (None, ("u",)), (1.5, None), (None, True)])
def test_targets_json_cannot_give_back_equal_are_refused(room, user):
    async def main():
        w1, _ = two_workers(InProcessBroker())
        with pytest.raises(TypeError, match="must be a str or an int"):
            if user is None:
                await w1.broadcast("x", room=room)
            else:
                await w1.send_to_user(user, "x")

    run(main())


def test_a_message_over_the_envelope_limit_is_refused():
    async def main():
        manager = WebSocketManager(fanout=BrokerFanout(InProcessBroker(), channel="t"))
        with pytest.raises(ValueError, match="exceeds max_message_size"):
            await manager.broadcast("x" * (5 * 1024 * 1024))

    run(main())


@pytest.mark.parametrize("data", [
    "just text", [1], {"room": "r"}, {"origin": 1, "text": "x"},
    {"origin": "o", "text": "x", "json": 1}, {"origin": "o"}, {"origin": "o", "text": 5},
    {"origin": "o", "bytes": "not base64!"}, {"origin": "o", "bytes": 12}, {"origin": "o", "room": [1], "text": "x"},
    {"origin": "o", "user": 1.5, "text": "x"},
])
def test_foreign_payloads_on_the_channel_are_dropped_and_logged(data, caplog):
    async def main():
        broker = InProcessBroker()
        manager = WebSocketManager(fanout=BrokerFanout(broker, channel="t"))
        a, ca = socket()
        await manager.connect(a, rooms=["r"])
        with caplog.at_level(logging.ERROR, "covet.websocket"):
            await broker.publish("t", data)
        await broker.publish("t", {"origin": "other", "room": None, "user": None, "text": "ok"})
        await settle(ca, count=1)
        assert ca.sent == ["ok"]
        assert manager.fanout.dropped == 1

    run(main())
    assert "not a covet envelope" in caplog.text


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="not both"):
        WebSocketManager(fanout=BrokerFanout(InProcessBroker()), redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="pass redis_url too"):
        WebSocketManager(channel="c")
    with pytest.raises(ValueError, match="one of them"):
        BrokerFanout()
    with pytest.raises(ValueError, match="one of them"):
        BrokerFanout(InProcessBroker(), redis_url="redis://x")
    with pytest.raises(TypeError):
        BrokerFanout(object())
    with pytest.raises(ValueError):
        BrokerFanout(InProcessBroker(), channel="")
    manager = WebSocketManager(redis_url="redis://127.0.0.1:1/0")
    assert manager.fanout.channel == DEFAULT_FANOUT_CHANNEL == "covet:ws:broadcast"
    assert manager.fanout.broker is None  # nothing made before the first use in a running loop
    assert WebSocketManager(redis_url="redis://127.0.0.1:1/0", channel="chat").fanout.channel == "chat"


def test_origin_is_new_in_a_forked_process(monkeypatch):
    import covet.websocket.manager as manager_module

    manager = WebSocketManager()
    first = manager.origin
    assert manager.origin == first
    real = manager_module.os.getpid()
    monkeypatch.setattr(manager_module.os, "getpid", lambda: real + 1)
    assert manager.origin != first


# -- a real redis-server -----------------------------------------------------------------------

def test_two_managers_on_two_redis_connections(redis_clean):
    async def main():
        w1 = WebSocketManager(redis_url=redis_clean.url)
        w2 = WebSocketManager(redis_url=redis_clean.url)
        probe = Redis.from_url(redis_clean.url)
        try:
            a, ca = socket()
            b, cb = socket()
            await w1.connect(a, user_id="ada", rooms=["lobby"])
            await w2.connect(b, user_id="bob", rooms=["lobby"])
            # Each worker subscribed during connect: the channel has two subscribers now.
            assert await probe.execute("PUBSUB", "NUMSUB", DEFAULT_FANOUT_CHANNEL) == [
                DEFAULT_FANOUT_CHANNEL.encode(), 2]
            await w1.broadcast({"text": "hi"}, room="lobby")
            await settle(ca, cb, count=1)
            assert ca.sent == cb.sent == ['{"text":"hi"}']
            await w2.send_to_user("ada", b"\x00")
            await settle(ca, count=2)
            assert ca.sent[1] == b"\x00" and cb.sent == ['{"text":"hi"}']
            assert isinstance(w1.fanout.broker, RedisBroker)
            await w1.close()
            await w2.close()
            assert w1.fanout.broker is None and not w1.fanout.started
            assert await probe.execute("PUBSUB", "NUMSUB", DEFAULT_FANOUT_CHANNEL) == [
                DEFAULT_FANOUT_CHANNEL.encode(), 0]
        finally:
            await probe.close()

    run(main())


def test_redis_unreachable_keeps_local_broadcasts_working(caplog):
    from redis_fixture import free_port

    async def main():
        manager = WebSocketManager(redis_url="redis://127.0.0.1:%d/0" % free_port())
        a, ca = socket()
        with caplog.at_level(logging.ERROR, "covet.websocket"):
            await manager.connect(a, rooms=["r"])
            assert not manager.fanout.started
            assert await manager.broadcast("still here", room="r") == 1
        await settle(ca, count=1)
        assert ca.sent == ["still here"]
        await manager.close()

    run(main())
    assert "cannot subscribe" in caplog.text
