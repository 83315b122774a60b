"""covet.realtime: RealtimeManager and its brokers, with a fake WebSocket, in process and over a real redis-server.

The fake implements the duck-typed interface RealtimeManager documents (``accepted``, ``accept()``,
``send_text()``, ``receive()`` raising ``WebSocketDisconnect``, ``close(code)``) on asyncio queues.
Close codes are RFC 6455 §7.4.1's.
"""
import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

import covet
from covet.realtime import (
    CLOSE_POLICY_VIOLATION,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_QUEUE_SIZE,
    MAX_CHANNEL_LENGTH,
    MAX_CHANNELS_PER_SUBSCRIBE,
    Broker,
    InProcessBroker,
    Message,
    RealtimeManager,
    RedisBroker,
    Subscription,
)
from covet.redis import Redis
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WAIT = 10.0  # a safety net only: every wait ends on an event or a condition
DISCONNECT = object()


def run(coro):
    return asyncio.run(coro)


class WebSocketDisconnect(Exception):
    def __init__(self, code=1000):
        super().__init__(code)
        self.code = code


class FakeWebSocket:
    """The interface RealtimeManager relies on, on asyncio queues; ``gate`` (an Event) holds every send."""

    def __init__(self, accepted=False, gate=None):
        self.accepted = accepted
        self.accept_calls = 0
        self.incoming = asyncio.Queue()
        self.sent = asyncio.Queue()
        self.gate = gate
        self.closed_with = []
        self.send_calls = 0

    async def accept(self):
        self.accept_calls += 1
        self.accepted = True

    async def send_text(self, text):
        assert isinstance(text, str)
        self.send_calls += 1
        if self.gate is not None:
            await self.gate.wait()
        await self.sent.put(text)

    async def receive(self):
        item = await self.incoming.get()
        if item is DISCONNECT:
            raise WebSocketDisconnect(1001)
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self, code=1000):
        self.closed_with.append(code)

    def disconnect(self):
        self.incoming.put_nowait(DISCONNECT)

    async def next_text(self):
        return await asyncio.wait_for(self.sent.get(), WAIT)


async def wait_until(condition):
    """Yield to the loop until ``condition()`` holds (WAIT seconds at most)."""
    async def poll():
        while not await condition() if asyncio.iscoroutinefunction(condition) else not condition():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), WAIT)


async def subscribed(realtime, websocket, channels):
    """Start ``realtime.subscribe(websocket, channels)`` and return its task once every channel is joined."""
    names = [channels] if isinstance(channels, str) else list(dict.fromkeys(channels))
    before = {c: realtime.broker.subscriber_count(c) for c in names}
    task = asyncio.ensure_future(realtime.subscribe(websocket, channels))
    await wait_until(lambda: task.done() or all(realtime.broker.subscriber_count(c) > before[c] for c in names))
    return task


def only_current_task():
    return asyncio.all_tasks() == {asyncio.current_task()}


# ---------------------------------------------------------------- in process


def test_the_seed_handler_in_process():
    async def main():
        realtime = RealtimeManager()
        assert isinstance(realtime.broker, InProcessBroker)
        ws = FakeWebSocket()
        task = await subscribed(realtime, ws, ["notifications", "alerts"])
        assert ws.accept_calls == 1
        assert await realtime.publish("notifications", {"title": "hi", "n": 1}) == 1
        assert await realtime.publish("alerts", "disk full") == 1
        assert await realtime.publish("elsewhere", "nobody") == 0
        assert await ws.next_text() == '{"channel":"notifications","data":{"title":"hi","n":1}}'
        assert json.loads(await ws.next_text()) == {"channel": "alerts", "data": "disk full"}
        assert ws.sent.empty()
        ws.disconnect()
        assert await asyncio.wait_for(task, WAIT) is None
        assert realtime.broker.channels == []
        assert ws.closed_with == []  # the client closed; nothing to send back
        assert only_current_task()
        await realtime.close()
    run(main())


@pytest.mark.parametrize("message, envelope", [
    ({"a": [1, 2.5, None, True]}, '{"channel":"c","data":{"a":[1,2.5,null,true]}}'),
    ("caf\u00e9 \u2603", '{"channel":"c","data":"caf\u00e9 \u2603"}'),
    (None, '{"channel":"c","data":null}'),
    ([], '{"channel":"c","data":[]}'),
    (0, '{"channel":"c","data":0}'),
    ("</script>", '{"channel":"c","data":"</script>"}'),
])
def test_the_envelope(message, envelope):
    async def main():
        realtime = RealtimeManager()
        ws = FakeWebSocket(accepted=True)
        task = await subscribed(realtime, ws, "c")  # one name as a str
        await realtime.publish("c", message)
        assert await ws.next_text() == envelope
        assert json.loads(envelope) == {"channel": "c", "data": message}
        assert ws.accept_calls == 0  # already accepted
        ws.disconnect()
        await task
    run(main())


def test_many_sockets_receive_the_same_envelope_object():
    async def main():
        realtime = RealtimeManager()
        sockets = [FakeWebSocket() for _ in range(3)]
        tasks = [await subscribed(realtime, ws, ["room"]) for ws in sockets]
        assert await realtime.publish("room", {"x": 1}) == 3
        texts = [await ws.next_text() for ws in sockets]
        assert texts[0] == '{"channel":"room","data":{"x":1}}'
        assert texts[0] is texts[1] is texts[2]  # encoded once, shared
        sockets[0].disconnect()
        await tasks[0]
        assert await realtime.publish("room", 2) == 2
        for ws in sockets:
            ws.disconnect()
        await asyncio.gather(*tasks)
        assert realtime.broker.channels == [] and only_current_task()
    run(main())


def test_a_slow_socket_is_closed_1008_and_does_not_stall_the_others():
    async def main():
        realtime = RealtimeManager(queue_size=3)
        slow = FakeWebSocket(gate=asyncio.Event())  # never lets a send finish
        fast = FakeWebSocket()
        slow_task = await subscribed(realtime, slow, ["feed"])
        fast_task = await subscribed(realtime, fast, ["feed"])
        for i in range(5):
            assert await realtime.publish("feed", i) == 2
            assert json.loads(await fast.next_text())["data"] == i  # the fast one keeps up
        # The slow one holds 0 in send_text and 1, 2, 3 in its queue; 4 overflowed it.
        await asyncio.wait_for(slow_task, WAIT)
        assert slow.closed_with == [CLOSE_POLICY_VIOLATION]
        assert slow.send_calls == 1
        assert await realtime.publish("feed", 5) == 1
        assert await fast.next_text() == '{"channel":"feed","data":5}'
        assert realtime.broker.channels == ["feed"]
        fast.disconnect()
        await fast_task
        assert realtime.broker.channels == [] and only_current_task()
    run(main())


def test_a_queue_exactly_full_is_not_an_overflow():
    async def main():
        gate = asyncio.Event()
        realtime = RealtimeManager(queue_size=2)
        ws = FakeWebSocket(gate=gate)
        task = await subscribed(realtime, ws, ["feed"])
        await realtime.publish("feed", 0)
        await wait_until(lambda: ws.send_calls == 1)  # 0 is being sent
        await realtime.publish("feed", 1)
        await realtime.publish("feed", 2)  # the queue holds 1 and 2: full, not over
        gate.set()
        assert [json.loads(await ws.next_text())["data"] for _ in range(3)] == [0, 1, 2]
        assert ws.closed_with == []
        ws.disconnect()
        await task
    run(main())


def test_the_client_messages_are_read_and_discarded_and_an_asgi_disconnect_ends_it():
    async def main():
        realtime = RealtimeManager()
        ws = FakeWebSocket()
        task = await subscribed(realtime, ws, ["c"])
        ws.incoming.put_nowait({"type": "websocket.receive", "text": "hello?"})
        ws.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        assert await asyncio.wait_for(task, WAIT) is None
        assert ws.incoming.empty() and realtime.broker.channels == [] and only_current_task()
    run(main())


def test_a_send_to_a_vanished_client_ends_quietly():
    async def main():
        class Gone(FakeWebSocket):
            async def send_text(self, text):
                raise WebSocketDisconnect(1006)

        realtime = RealtimeManager()
        ws = Gone()
        task = await subscribed(realtime, ws, ["c"])
        await realtime.publish("c", 1)
        assert await asyncio.wait_for(task, WAIT) is None
        assert realtime.broker.channels == [] and only_current_task()
    run(main())


def test_another_error_from_the_socket_propagates_after_cleanup():
    async def main():
        realtime = RealtimeManager()
        ws = FakeWebSocket()
        task = await subscribed(realtime, ws, ["c", "d"])
        ws.incoming.put_nowait(RuntimeError("the socket broke"))
        with pytest.raises(RuntimeError, match="the socket broke"):
            await asyncio.wait_for(task, WAIT)
        assert realtime.broker.channels == [] and only_current_task()
    run(main())


def test_cancelling_the_handler_unsubscribes_and_leaves_no_task():
    async def main():
        realtime = RealtimeManager()
        ws = FakeWebSocket()
        task = await subscribed(realtime, ws, ["c"])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert realtime.broker.channels == [] and only_current_task()
        assert await realtime.publish("c", 1) == 0
    run(main())


# ---------------------------------------------------------------- the broker's callback API


def test_callback_subscriptions():
    async def main():
        broker = InProcessBroker()
        inbox = []
        sub = await broker.subscribe("news", inbox.append)
        assert isinstance(sub, Subscription) and sub.active
        assert (broker.subscriber_count("news"), broker.subscriber_count("other")) == (1, 0)
        async with await broker.subscribe("news", lambda m: inbox.append(("second", m.data))):
            assert await broker.publish("news", {"t": 1}) == 2
        assert await broker.publish("news", {"t": 2}) == 1
        await sub.unsubscribe()
        await sub.unsubscribe()  # idempotent
        assert await broker.publish("news", {"t": 3}) == 0
        assert broker.channels == []
        assert [m.data if isinstance(m, Message) else m for m in inbox] == [{"t": 1}, ("second", {"t": 1}), {"t": 2}]
        first = inbox[0]
        assert (first.channel, first.json, first.envelope) == ("news", '{"t":1}', '{"channel":"news","data":{"t":1}}')
    run(main())


def test_a_failing_callback_is_logged_and_the_others_still_run(caplog):
    async def main():
        broker = InProcessBroker()
        got = []

        def broken(message):
            raise ValueError("boom")

        await broker.subscribe("c", broken)
        await broker.subscribe("c", got.append)
        with caplog.at_level(logging.ERROR, logger="covet.realtime"):
            assert await broker.publish("c", "x") == 2
        assert [m.data for m in got] == ["x"]
        assert "failed on channel 'c'" in caplog.text and "boom" in caplog.text
    run(main())


def test_the_publisher_mutating_its_object_later_changes_nothing_delivered():
    async def main():
        broker = InProcessBroker()
        got = []
        await broker.subscribe("c", got.append)
        message = {"items": [1]}
        await broker.publish("c", message)
        message["items"].append(2)
        assert got[0].data == {"items": [1]}
    run(main())


def test_message_decoding_of_foreign_payloads():
    m = RedisBroker.decode("c", b'{"a": 1}')
    assert (m.data, m.envelope) == ({"a": 1}, '{"channel":"c","data":{"a": 1}}')
    for payload, text in [(b"plain text", "plain text"), (b"NaN", "NaN"), (b"[Infinity]", "[Infinity]"),
                          (b"\xff\xfe", "\ufffd\ufffd"), (b"", "")]:
        m = RedisBroker.decode("c", payload)
        assert m.data == text
        assert json.loads(m.envelope) == {"channel": "c", "data": text}
    assert repr(Message("c", "1")) == "<Message 'c' 1>"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("channel, error, message", [
    (5, TypeError, "must be a str, not int"),
    (b"c", TypeError, "must be a str, not bytes"),
    ("", ValueError, "1 to 256 bytes"),
    ("x" * (MAX_CHANNEL_LENGTH + 1), ValueError, "got 257"),
    ("\u00e9" * 129, ValueError, "got 258"),  # 129 characters, 258 UTF-8 bytes
    ("\ud800", ValueError, "lone surrogate"),
])
def test_bad_channel_names(channel, error, message):
    async def main():
        realtime = RealtimeManager()
        with pytest.raises(error, match=message):
            await realtime.publish(channel, 1)
        with pytest.raises(error, match=message):
            await realtime.broker.subscribe(channel, print)
        ws = FakeWebSocket()
        with pytest.raises(error, match=message):
            await realtime.subscribe(ws, ["ok", channel])
        assert ws.accept_calls == 0 and realtime.broker.channels == []
        assert await realtime.publish("x" * MAX_CHANNEL_LENGTH, 1) == 0  # the longest name is fine
    run(main())


@pytest.mark.parametrize("channels, error, message", [
    ([], ValueError, "at least one channel"),
    (b"news", TypeError, "not bytes"),
    ({"news": 1}, TypeError, "not dict"),
    (5, TypeError, "not int"),
    (["c%d" % i for i in range(MAX_CHANNELS_PER_SUBSCRIBE + 1)], ValueError, "at most 64 channels"),
])
def test_bad_channel_lists(channels, error, message):
    async def main():
        realtime = RealtimeManager()
        ws = FakeWebSocket()
        with pytest.raises(error, match=message):
            await realtime.subscribe(ws, channels)
        assert ws.accept_calls == 0
    run(main())


def test_duplicate_channels_count_once():
    async def main():
        realtime = RealtimeManager()
        ws = FakeWebSocket()
        task = await subscribed(realtime, ws, ["a", "a"] * MAX_CHANNELS_PER_SUBSCRIBE)
        assert await realtime.publish("a", 1) == 1
        assert await ws.next_text() == '{"channel":"a","data":1}'
        ws.disconnect()
        await task
    run(main())


@pytest.mark.parametrize("message, error, text", [
    (object(), TypeError, "JSON-serialisable"),
    ({1j: 1}, TypeError, "JSON-serialisable"),
    (float("nan"), ValueError, "JSON-serialisable"),
    ({"x": float("inf")}, ValueError, "JSON-serialisable"),
    ("x" * DEFAULT_MAX_MESSAGE_SIZE, ValueError, "exceeds max_message_size"),
])
def test_bad_messages_are_refused_at_publish(message, error, text):
    async def main():
        realtime = RealtimeManager()
        got = []
        await realtime.broker.subscribe("c", got.append)
        with pytest.raises(error, match=text):
            await realtime.publish("c", message)
        assert got == []
    run(main())


def test_the_size_limit_counts_utf8_bytes():
    async def main():
        broker = InProcessBroker(max_message_size=10)
        assert await broker.publish("c", "\u00e9" * 4) == 0  # "éééé" with quotes: 10 bytes
        with pytest.raises(ValueError, match="message of 12 bytes exceeds max_message_size=10"):
            await broker.publish("c", "\u00e9" * 5)
    run(main())


def test_settings():
    r = RealtimeManager()
    assert (r.queue_size, r.broker.max_message_size) == (DEFAULT_QUEUE_SIZE, DEFAULT_MAX_MESSAGE_SIZE) == (100, 1 << 20)
    assert isinstance(RealtimeManager("redis://127.0.0.1:1/0").broker, RedisBroker)
    b = InProcessBroker()
    assert RealtimeManager(broker=b).broker is b
    with pytest.raises(ValueError, match="not both"):
        RealtimeManager("redis://x", broker=b)
    with pytest.raises(TypeError, match="must be a covet.realtime.Broker"):
        RealtimeManager(broker=object())
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="queue_size"):
            RealtimeManager(queue_size=bad)
    with pytest.raises(ValueError, match="max_message_size"):
        InProcessBroker(max_message_size=0)
    with pytest.raises(TypeError, match="covet.redis.Redis client"):
        RedisBroker("redis://x")

    async def not_callable():
        with pytest.raises(TypeError, match="callback must be callable"):
            await b.subscribe("c", "print")
    run(not_callable())
    assert covet.RealtimeManager is RealtimeManager and "RealtimeManager" in covet.__all__
    assert issubclass(InProcessBroker, Broker) and issubclass(RedisBroker, Broker)


# ---------------------------------------------------------------- over Redis


def test_two_workers_a_publish_in_one_reaches_a_socket_held_by_the_other(redis_clean):
    async def main():
        async with RealtimeManager(redis_clean.url) as worker1, RealtimeManager(redis_clean.url) as worker2:
            assert worker1.broker.redis is not worker2.broker.redis
            ws = FakeWebSocket()
            task = await subscribed(worker2, ws, ["notifications", "alerts"])
            assert ws.accept_calls == 1
            assert await worker1.publish("notifications", {"title": "from worker 1"}) == 1
            assert await ws.next_text() == '{"channel":"notifications","data":{"title":"from worker 1"}}'
            assert await worker1.publish("alerts", [1, 2]) == 1
            assert await ws.next_text() == '{"channel":"alerts","data":[1,2]}'
            # worker 1 never subscribed: it holds no subscriber connection
            assert worker1.broker.pubsub is None
            ws.disconnect()
            await asyncio.wait_for(task, WAIT)
            assert worker2.broker.channels == []
            async with Redis(port=redis_clean.port) as admin:
                assert await admin.execute("PUBSUB", "NUMSUB", "notifications", "alerts") == [
                    b"notifications", 0, b"alerts", 0]
            assert await worker1.publish("notifications", "late") == 0
            # What is left running belongs to worker 2's broker, until it closes.
            names = sorted(t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task())
            assert names == ["covet-realtime-dispatch", "covet-redis-pubsub-reader"]
        assert only_current_task()
    run(main())


def test_one_redis_subscription_per_channel_per_process(redis_clean):
    async def main():
        async with RealtimeManager(redis_clean.url) as worker, Redis(port=redis_clean.port) as admin:
            sockets = [FakeWebSocket() for _ in range(5)]
            tasks = [await subscribed(worker, ws, ["room"]) for ws in sockets]
            assert await admin.execute("PUBSUB", "NUMSUB", "room") == [b"room", 1]
            kinds = await admin.execute("CLIENT", "LIST", "TYPE", "pubsub")
            assert kinds.count(b"\n") == 1
            assert await admin.publish("room", '{"n":1}') == 1  # one process, one receiver on the server
            texts = [await ws.next_text() for ws in sockets]
            assert texts == ['{"channel":"room","data":{"n":1}}'] * 5
            for ws in sockets[:4]:
                ws.disconnect()
            await asyncio.gather(*tasks[:4])
            assert await admin.execute("PUBSUB", "NUMSUB", "room") == [b"room", 1]  # one socket still wants it
            sockets[4].disconnect()
            await tasks[4]
            assert await admin.execute("PUBSUB", "NUMSUB", "room") == [b"room", 0]
    run(main())


def test_foreign_and_oversized_payloads_over_redis(redis_clean):
    async def main():
        broker = RedisBroker(Redis(port=redis_clean.port), owns_client=True, max_message_size=20)
        realtime = RealtimeManager(broker=broker)
        try:
            ws = FakeWebSocket()
            task = await subscribed(realtime, ws, ["c"])
            async with Redis(port=redis_clean.port) as other:  # another program publishing
                await other.publish("c", "not json")
                await other.publish("c", b"x" * 21)  # over the limit: dropped
                await other.publish("c", b"[1,NaN]")
                await other.publish("c", b'{"ok":true}')
            assert await ws.next_text() == '{"channel":"c","data":"not json"}'
            assert await ws.next_text() == '{"channel":"c","data":"[1,NaN]"}'
            assert await ws.next_text() == '{"channel":"c","data":{"ok":true}}'
            ws.disconnect()
            await task
        finally:
            await realtime.close()
        assert only_current_task()
    run(main())


def test_the_redis_broker_resubscribes_after_its_connection_is_killed(redis_clean):
    async def main():
        broker = RedisBroker(Redis(port=redis_clean.port), owns_client=True,
                             pubsub_options={"reconnect_backoff": 0.01})
        async with RealtimeManager(broker=broker) as realtime, Redis(port=redis_clean.port) as admin:
            ws = FakeWebSocket()
            task = await subscribed(realtime, ws, ["c"])
            assert await admin.execute("CLIENT", "KILL", "TYPE", "pubsub") == 1

            async def resubscribed():
                return broker.pubsub.reconnects == 1 and await admin.execute("PUBSUB", "NUMSUB", "c") == [b"c", 1]
            await wait_until(resubscribed)
            assert await realtime.publish("c", "after") == 1
            assert await ws.next_text() == '{"channel":"c","data":"after"}'
            ws.disconnect()
            await task
    run(main())


def test_the_first_subscribe_against_a_dead_redis_fails_and_leaves_nothing(redis_clean):
    async def main():
        from redis_fixture import free_port
        async with RealtimeManager("redis://127.0.0.1:%d/0?connect_timeout=1" % free_port()) as realtime:
            ws = FakeWebSocket()
            with pytest.raises(covet.RedisError, match="cannot connect"):
                await realtime.subscribe(ws, ["a", "b"])
            assert realtime.broker.channels == []
            assert realtime.broker.pubsub.channels == []
        assert only_current_task()
    run(main())


PUBLISHER = textwrap.dedent("""
    import asyncio, sys
    from covet.realtime import RealtimeManager

    async def main():
        async with RealtimeManager(sys.argv[1]) as realtime:
            print(await realtime.publish("notifications", {"from": "process", "n": int(sys.argv[2])}))

    asyncio.run(main())
""")


@pytest.mark.slow
def test_a_publish_in_another_os_process_reaches_the_socket(redis_clean):
    async def main():
        async with RealtimeManager(redis_clean.url) as realtime:
            ws = FakeWebSocket()
            task = await subscribed(realtime, ws, ["notifications"])
            env = dict(os.environ, PYTHONPATH=ROOT)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", PUBLISHER, redis_clean.url, "7", env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), WAIT * 3)
            assert (proc.returncode, out, err) == (0, b"1\n", b"")
            assert await ws.next_text() == '{"channel":"notifications","data":{"from":"process","n":7}}'
            ws.disconnect()
            await task
    run(main())


def test_a_broker_without_its_transport_cannot_be_made():
    # Broker is the contract; a subclass that leaves out publish_text/listen/unlisten fails at
    # construction, not at the first message.
    from covet.realtime import Broker

    class Half(Broker):
        async def publish_text(self, channel, text):
            return 0

    with pytest.raises(TypeError):
        Broker()
    with pytest.raises(TypeError):
        Half()
