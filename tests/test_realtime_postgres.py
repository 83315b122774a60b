"""covet.database.postgres.broker: PostgresBroker (covet.realtime over LISTEN/NOTIFY) against the real
server of tests/pg_fixture.py (skipped where it cannot start), and RealtimeManager on top of it.

Two brokers stand for two worker processes: each has its own connections, as a process would.
Every wait ends on an event or a condition (WAIT is only a safety net).
"""
import asyncio
import json
import logging

import pytest

from covet.database.postgres import PostgresBroker
from covet.database.postgres.broker import (MAX_NOTIFY_CHANNEL, MAX_NOTIFY_PAYLOAD, check_notify_channel)
from covet.database.postgres.connection import PGConnection
from covet.database.postgres.startup import ConnectError
from covet.realtime import Broker, Message, RealtimeManager, RedisBroker, broker_from_url
from pg_fixture import free_port

WAIT = 10.0
DISCONNECT = object()


def run(coro):
    return asyncio.run(coro)


async def wait_until(condition):
    """Yield to the loop until ``condition()`` (a function or coroutine function) holds."""
    async def poll():
        while not (await condition() if asyncio.iscoroutinefunction(condition) else condition()):
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), WAIT)


def broker_for(pg, **options):
    options.setdefault("reconnect_backoff", 0.01)
    options.setdefault("max_reconnect_backoff", 0.05)
    return PostgresBroker.from_url(pg.url(), **options)


class Inbox:
    """A callback that queues the messages it gets; ``next()`` waits for one."""

    def __init__(self):
        self.queue = asyncio.Queue()

    def __call__(self, message):
        self.queue.put_nowait(message)

    async def next(self):
        return await asyncio.wait_for(self.queue.get(), WAIT)


async def listening(conn):
    return [r["c"] for r in await conn.fetch_all("SELECT pg_listening_channels() AS c ORDER BY 1")]


def other_tasks():
    return sorted(t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task())


def broker_tasks():
    """The brokers' own tasks (each reading connection also has a pending socket read of its own)."""
    return [name for name in other_tasks() if name.startswith("covet-broker-")]


class WebSocketDisconnect(Exception):
    pass


class FakeWebSocket:
    """The duck-typed WebSocket RealtimeManager documents, on asyncio queues (as in test_realtime.py)."""

    def __init__(self):
        self.accepted = False
        self.incoming = asyncio.Queue()
        self.sent = asyncio.Queue()
        self.closed_with = []

    async def accept(self):
        self.accepted = True

    async def send_text(self, text):
        await self.sent.put(text)

    async def receive(self):
        item = await self.incoming.get()
        if item is DISCONNECT:
            raise WebSocketDisconnect()
        return item

    async def close(self, code=1000):
        self.closed_with.append(code)

    def disconnect(self):
        self.incoming.put_nowait(DISCONNECT)

    async def next_text(self):
        return await asyncio.wait_for(self.sent.get(), WAIT)


# ---------------------------------------------------------------- two processes


def test_two_brokers_exchange_messages(postgres_server):
    async def main():
        one, two = broker_for(postgres_server), broker_for(postgres_server)
        try:
            inbox_one, inbox_two = Inbox(), Inbox()
            await one.subscribe("news", inbox_one)
            await two.subscribe("news", inbox_two)
            await two.subscribe("only-two", inbox_two)
            assert await one.publish("news", {"from": "one"}) == 1
            assert await two.publish("only-two", [1, "two"]) == 1
            for inbox in (inbox_one, inbox_two):
                m = await inbox.next()
                assert (m.channel, m.json, m.data) == ("news", '{"from":"one"}', {"from": "one"})
            m = await inbox_two.next()
            assert (m.channel, m.data, m.envelope) == ("only-two", [1, "two"], '{"channel":"only-two","data":[1,"two"]}')
            assert inbox_one.queue.empty()
            # Each broker: one LISTEN connection and one publishing connection, each with its reader.
            assert one.listener is not two.listener and one.publisher is not two.publisher
            assert broker_tasks() == ["covet-broker-listen"] * 2 + ["covet-broker-publish-watch"] * 2
            pids = {one.listener.backend_pid, two.listener.backend_pid, one.publisher.backend_pid,
                    two.publisher.backend_pid}
            rows = await one.publisher.fetch_all(
                "SELECT application_name AS a, count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1) "
                "GROUP BY 1 ORDER BY 1", [list(pids)])
            assert [(r["a"], r["n"]) for r in rows] == [("covet-broker-listen", 2), ("covet-broker-publish", 2)]
        finally:
            await one.close()
            await two.close()
    run(main())


def test_listen_only_while_a_callback_wants_the_channel(postgres_server):
    async def main():
        broker = broker_for(postgres_server)
        try:
            assert broker.listener is None  # nothing opened before the first subscription
            inboxes = [Inbox() for _ in range(3)]
            subs = [await broker.subscribe("room", inbox) for inbox in inboxes]
            other = await broker.subscribe("other", Inbox())
            assert await listening(broker.listener) == ["other", "room"]
            assert broker.channels_listened == ["other", "room"]
            assert broker.subscriber_count("room") == 3
            await broker.publish("room", "hi")
            assert [(await i.next()).data for i in inboxes] == ["hi"] * 3
            await subs[0].unsubscribe()
            await subs[1].unsubscribe()
            assert await listening(broker.listener) == ["other", "room"]  # one callback still wants it
            await subs[2].unsubscribe()
            await subs[2].unsubscribe()  # idempotent
            assert await listening(broker.listener) == ["other"]
            assert broker.channels == ["other"]
            await other.unsubscribe()
            assert await listening(broker.listener) == []
            assert broker.channels == [] and broker.channels_listened == []
            # The LISTEN connection stays for the next subscriber: one per broker, not one per channel.
            conn = broker.listener
            await broker.subscribe("again", Inbox())
            assert broker.listener is conn and await listening(conn) == ["again"]
        finally:
            await broker.close()
    run(main())


def test_channel_names_are_quoted_identifiers_and_case_counts(postgres_server):
    names = ["Orders", "orders", 'odd "name"', "*", "a b; DROP TABLE x", "caf\u00e9 \u2603", "x" * MAX_NOTIFY_CHANNEL,
             "\u00e9" * 31 + "x"]  # 63 bytes in UTF-8

    async def main():
        broker = broker_for(postgres_server)
        try:
            inboxes = {name: Inbox() for name in names}
            subs = {name: await broker.subscribe(name, inboxes[name]) for name in names}
            assert await listening(broker.listener) == sorted(names, key=lambda n: n.encode())
            for name in names:
                await broker.publish(name, name)
            for name in names:
                m = await inboxes[name].next()
                assert (m.channel, m.data) == (name, name)
                assert inboxes[name].queue.empty()
            # Leaving "*" is UNLISTEN "*", not UNLISTEN * (which would leave every channel).
            await subs["*"].unsubscribe()
            assert "*" not in await listening(broker.listener)
            assert len(await listening(broker.listener)) == len(names) - 1
            # "Orders" is not "orders": leaving one keeps the other.
            await subs["Orders"].unsubscribe()
            await broker.publish("Orders", "nobody")
            await broker.publish("orders", "lower")
            assert (await inboxes["orders"].next()).data == "lower"
            assert inboxes["Orders"].queue.empty()
        finally:
            await broker.close()
    run(main())


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("channel, error, message", [
    ("x" * (MAX_NOTIFY_CHANNEL + 1), ValueError, "identifier of at most 63 bytes of UTF-8, got 64"),
    ("\u00e9" * 32, ValueError, "identifier of at most 63 bytes of UTF-8, got 64"),
    ("a\x00b", ValueError, "cannot contain NUL"),
    ("", ValueError, "1 to 256 bytes"),
    (b"c", TypeError, "must be a str, not bytes"),
    ("\ud800", ValueError, "lone surrogate"),
])
def test_bad_channel_names_are_refused_before_anything_is_sent(postgres_server, channel, error, message):
    async def main():
        broker = broker_for(postgres_server)
        try:
            with pytest.raises(error, match=message):
                check_notify_channel(channel)
            with pytest.raises(error, match=message):
                await broker.subscribe(channel, Inbox())
            with pytest.raises(error, match=message):
                await broker.publish(channel, 1)
            if isinstance(channel, str):
                with pytest.raises(error, match=message):
                    await broker.publish_text(channel, "1")
            # Refused before connecting: no connection was opened, nothing is left.
            assert broker.listener is None and broker.publisher is None and broker.channels == []
            realtime = RealtimeManager(broker=broker)
            ws = FakeWebSocket()
            with pytest.raises(error, match=message):
                await realtime.subscribe(ws, ["fine", channel])
            assert not ws.accepted and broker.channels == []
        finally:
            await broker.close()
    run(main())


def test_payloads_over_the_notify_limit_are_refused_before_sending(postgres_server):
    async def main():
        broker = broker_for(postgres_server)
        try:
            inbox = Inbox()
            await broker.subscribe("big", inbox)
            # The JSON string "xxx...": 7997 characters and two quotes, 7999 bytes: the largest that fits.
            assert await broker.publish("big", "x" * (MAX_NOTIFY_PAYLOAD - 2)) == 1
            assert len((await inbox.next()).json) == MAX_NOTIFY_PAYLOAD
            with pytest.raises(ValueError, match="message of 8000 bytes exceeds max_message_size=7999"):
                await broker.publish("big", "x" * (MAX_NOTIFY_PAYLOAD - 1))
            # UTF-8 bytes count, not characters: 4000 two-byte characters and the quotes are 8002 bytes.
            with pytest.raises(ValueError, match="message of 8002 bytes exceeds max_message_size=7999"):
                await broker.publish("big", "\u00e9" * 4000)
            # publish_text (used by WebSocketManager's fan-out) checks PostgreSQL's limit itself.
            with pytest.raises(ValueError, match=r"message of 8000 bytes exceeds PostgreSQL's NOTIFY payload "
                                                 r"limit \(7999 bytes\)"):
                await broker.publish_text("big", "x" * 8000)
            assert await broker.publish("big", "after") == 1
            assert (await inbox.next()).data == "after"
            assert inbox.queue.empty()
        finally:
            await broker.close()
    run(main())


def test_settings_refused_when_the_broker_is_made(postgres_server):
    url = postgres_server.url()
    with pytest.raises(ValueError, match=r"max_message_size=8000 exceeds what PostgreSQL's NOTIFY carries \(7999"):
        PostgresBroker(url, max_message_size=8000)
    with pytest.raises(ValueError, match="max_message_size must be a positive integer"):
        PostgresBroker(url, max_message_size=0)
    with pytest.raises(ValueError, match="a PostgreSQL URL starts with postgresql://"):
        PostgresBroker("redis://127.0.0.1/0")
    with pytest.raises(TypeError, match="url must be a postgresql:// URL, not bytes"):
        PostgresBroker(b"postgresql://u@h/db")
    with pytest.raises(TypeError, match="connect_options: got an unexpected keyword argument 'sslmod'"):
        PostgresBroker.from_url(url, sslmod="require")
    for bad in (0, -1, True, "1", float("nan")):
        with pytest.raises(ValueError, match="reconnect_backoff must be a positive number of seconds"):
            PostgresBroker(url, reconnect_backoff=bad)
    with pytest.raises(ValueError, match="max_reconnect_backoff must not be below reconnect_backoff"):
        PostgresBroker(url, reconnect_backoff=2, max_reconnect_backoff=1)
    b = PostgresBroker.from_url(url, max_message_size=100, ca_file=None)
    assert (b.max_message_size, b.reconnect_backoff, b.max_reconnect_backoff) == (100, 0.1, 10.0)
    assert isinstance(b, Broker)


# ---------------------------------------------------------------- what other programs send


def test_plain_notify_payloads_json_or_not(postgres_server, caplog):
    caplog.set_level(logging.WARNING, "covet.realtime.postgres")

    async def main():
        broker = broker_for(postgres_server, max_message_size=20)
        try:
            inbox = Inbox()
            await broker.subscribe("c", inbox)
            async with await PGConnection.connect_url(postgres_server.url()) as sql:
                await sql.simple_query("NOTIFY c, 'not json'")
                await sql.simple_query("NOTIFY c")  # no payload: the empty string
                await sql.execute("SELECT pg_notify('c', $1)", ["x" * 21])  # over max_message_size: dropped
                await sql.execute("SELECT pg_notify('c', $1)", ["[1,NaN]"])
                await sql.execute("SELECT pg_notify('c', $1)", ['{"ok": true}'])
                await sql.execute("SELECT pg_notify('c', $1)", ["caf\u00e9"])
                await sql.execute("SELECT pg_notify('C', 'other case')")  # another channel: nobody here
            got = [await inbox.next() for _ in range(5)]
            assert [m.envelope for m in got] == [
                '{"channel":"c","data":"not json"}',
                '{"channel":"c","data":""}',
                '{"channel":"c","data":"[1,NaN]"}',
                '{"channel":"c","data":{"ok": true}}',
                '{"channel":"c","data":"caf\u00e9"}',
            ]
            assert got[3].data == {"ok": True}
            assert inbox.queue.empty()
        finally:
            await broker.close()
        assert [r.getMessage() for r in caplog.records] == [
            "dropped a notification of 21 bytes on channel 'c' (max_message_size=20)"]
    run(main())


def test_a_notify_is_sent_when_its_transaction_commits(postgres_server):
    async def main():
        broker = broker_for(postgres_server)
        try:
            inbox = Inbox()
            await broker.subscribe("c", inbox)
            async with await PGConnection.connect_url(postgres_server.url()) as tx, \
                    await PGConnection.connect_url(postgres_server.url()) as other:
                await tx.begin()
                await tx.execute("SELECT pg_notify('c', $1)", [broker.encode({"in": "transaction"})])
                await other.execute("SELECT pg_notify('c', '\"marker\"')")
                # The marker, sent after but committed first, arrives first: the transaction's is held.
                assert (await inbox.next()).data == "marker"
                assert inbox.queue.empty()
                await tx.commit()
                assert (await inbox.next()).data == {"in": "transaction"}
                await tx.begin()
                await tx.execute("SELECT pg_notify('c', '\"rolled back\"')")
                await tx.rollback()
                await other.execute("SELECT pg_notify('c', '\"last\"')")
                assert (await inbox.next()).data == "last"  # the rolled back one never left
        finally:
            await broker.close()
    run(main())


# ---------------------------------------------------------------- connections that go away


def test_reconnects_after_the_listen_backend_is_terminated(postgres_server, caplog):
    caplog.set_level(logging.INFO, "covet.realtime.postgres")

    async def main():
        broker = broker_for(postgres_server)
        try:
            inbox, other_inbox = Inbox(), Inbox()
            await broker.subscribe("c", inbox)
            await broker.subscribe("Other", other_inbox)
            old = broker.listener
            async with await PGConnection.connect_url(postgres_server.url()) as admin:
                assert await admin.fetch_val("SELECT pg_terminate_backend($1)", [old.backend_pid]) is True

                async def back():
                    conn = broker.listener
                    return broker.reconnects == 1 and conn is not old and await listening(conn) == ["Other", "c"]
                await wait_until(back)
                assert old.closed and old.broken
                assert broker.listener.backend_pid != old.backend_pid
                assert await broker.publish("c", "after") == 1
                assert await broker.publish("Other", "too") == 1
                assert (await inbox.next()).data == "after"
                assert (await other_inbox.next()).data == "too"
            assert broker_tasks() == ["covet-broker-listen", "covet-broker-publish-watch"]
        finally:
            await broker.close()
        messages = [r.getMessage() for r in caplog.records if r.name == "covet.realtime.postgres"]
        assert messages[0] == ("the LISTEN connection to PostgreSQL was lost; reconnecting. Notifications on "
                               "'Other', 'c' sent until it is back are lost (delivery is at most once)")
        assert messages[1].startswith("the LISTEN connection to PostgreSQL is back after ")
        assert messages[1].endswith(" s (1 attempts), listening on 2 channels again; notifications sent "
                                    "meanwhile were lost")
        assert len(messages) == 2
    run(main())


class Proxy:
    """A TCP relay to the server that can go down and come back on the same port: a server restart
    as the client sees it (connections cut, then refused, then accepted again)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = free_port()
        self.server = None
        self.pairs = []

    async def start(self):
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self):
        self.server.close()
        # Cut the relayed connections before waiting: since Python 3.12 wait_closed() also waits
        # for the server's accepted connections to close.
        for writer in self.pairs:
            writer.transport.abort()
        self.pairs.clear()
        await asyncio.wait_for(self.server.wait_closed(), WAIT)

    async def _relay(self, reader, writer):
        self.pairs.append(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        if not self.server.is_serving():  # stopped while connecting upstream
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self.pairs.append(up_writer)

        async def pipe(src, dst):
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def test_reconnects_with_backoff_through_a_server_outage(postgres_server, caplog):
    caplog.set_level(logging.WARNING, "covet.realtime.postgres")

    async def main():
        proxy = Proxy(postgres_server.port)
        await proxy.start()
        url = postgres_server.url().replace(":%d/" % postgres_server.port, ":%d/" % proxy.port)
        broker = PostgresBroker(url, reconnect_backoff=0.01, max_reconnect_backoff=0.02)
        direct = broker_for(postgres_server)  # another process, publishing straight to the server
        try:
            inbox_a, inbox_b = Inbox(), Inbox()
            await broker.subscribe("a", inbox_a)
            old = broker.listener
            await proxy.stop()

            def failed_twice():
                return sum("failed (attempt" in r.getMessage() for r in caplog.records) >= 2
            await wait_until(failed_twice)
            assert old.closed
            # While the server is away: a new subscription is taken (LISTENed on reconnection), and
            # what is published meanwhile is lost, not replayed later.
            await broker.subscribe("b", inbox_b)
            assert broker.channels_listened == ["a", "b"]
            assert await direct.publish("a", "lost") == 1
            await proxy.start()

            async def back():
                return broker.reconnects == 1 and await listening(broker.listener) == ["a", "b"]
            await wait_until(back)
            await direct.publish("a", "after")
            await direct.publish("b", "b too")
            assert (await inbox_a.next()).data == "after"
            assert (await inbox_b.next()).data == "b too"
            assert inbox_a.queue.empty()
        finally:
            await broker.close()
            await direct.close()
            await proxy.stop()
        failures = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
        assert failures[0].startswith("reconnecting the LISTEN connection to PostgreSQL failed (attempt 1): ")
        assert "next attempt in" in failures[0]
    run(main())


def test_a_drop_while_no_channel_is_wanted_reconnects_on_demand(postgres_server):
    async def main():
        broker = broker_for(postgres_server)
        try:
            sub = await broker.subscribe("c", Inbox())
            await sub.unsubscribe()
            old = broker.listener
            async with await PGConnection.connect_url(postgres_server.url()) as admin:
                await admin.fetch_val("SELECT pg_terminate_backend($1)", [old.backend_pid])
            await wait_until(lambda: broker.listener is None)
            assert broker.reconnects == 0 and other_tasks() == []
            inbox = Inbox()
            await broker.subscribe("c", inbox)
            assert broker.listener is not old and await listening(broker.listener) == ["c"]
            await broker.publish("c", 1)
            assert (await inbox.next()).data == 1
        finally:
            await broker.close()
    run(main())


def test_a_terminated_publishing_connection_is_replaced_before_the_next_publish(postgres_server):
    async def main():
        broker = broker_for(postgres_server)
        try:
            inbox = Inbox()
            await broker.subscribe("c", inbox)
            assert await broker.publish("c", 1) == 1
            old = broker.publisher
            async with await PGConnection.connect_url(postgres_server.url()) as admin:
                await admin.fetch_val("SELECT pg_terminate_backend($1)", [old.backend_pid])
            await wait_until(lambda: old.closed)  # noticed while idle, by the watching task
            assert await broker.publish("c", 2) == 1
            assert broker.publisher is not old and broker.publisher.backend_pid != old.backend_pid
            assert [(await inbox.next()).data for _ in range(2)] == [1, 2]
            assert broker_tasks() == ["covet-broker-listen", "covet-broker-publish-watch"]
        finally:
            await broker.close()
    run(main())


def test_the_first_subscribe_against_an_unreachable_server_fails_and_leaves_nothing():
    async def main():
        broker = PostgresBroker("postgresql://u:p@127.0.0.1:%d/db?connect_timeout=2" % free_port())
        with pytest.raises(ConnectError, match="cannot connect to 127.0.0.1"):
            await broker.subscribe("c", Inbox())
        assert broker.listener is None and broker.channels == [] and broker.channels_listened == []
        with pytest.raises(ConnectError, match="cannot connect to 127.0.0.1"):
            await broker.publish("c", 1)
        assert other_tasks() == []
        await broker.close()
    run(main())


def test_close_leaves_no_task_and_no_connection(postgres_server):
    async def main():
        broker = broker_for(postgres_server)
        try:
            await broker.subscribe("c", Inbox())
            await broker.publish("c", 1)
            pids = [broker.listener.backend_pid, broker.publisher.backend_pid]
            assert broker_tasks() == ["covet-broker-listen", "covet-broker-publish-watch"]
            await broker.close()
            assert other_tasks() == []
            assert broker.listener is None and broker.publisher is None and broker.channels == []
            async with await PGConnection.connect_url(postgres_server.url()) as admin:
                async def gone():
                    return await admin.fetch_val("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                                                 [pids]) == 0
                await wait_until(gone)
            await broker.close()  # twice is fine
            # Usable again: it connects on demand.
            inbox = Inbox()
            await broker.subscribe("c", inbox)
            await broker.publish("c", "again")
            assert (await inbox.next()).data == "again"
        finally:
            await broker.close()
        assert other_tasks() == []
    run(main())


# ---------------------------------------------------------------- RealtimeManager


def test_realtime_manager_end_to_end_across_two_workers(postgres_server):
    async def main():
        url = postgres_server.url()
        async with RealtimeManager(broker_url=url) as worker1, RealtimeManager(broker_url=url) as worker2:
            assert isinstance(worker1.broker, PostgresBroker)
            assert worker1.broker.max_message_size == MAX_NOTIFY_PAYLOAD
            ws = FakeWebSocket()
            task = asyncio.ensure_future(worker2.subscribe(ws, ["notifications", "Alerts"]))
            await wait_until(lambda: ws.accepted)  # accepted once both channels are LISTENed
            assert await listening(worker2.broker.listener) == ["Alerts", "notifications"]
            assert await worker1.publish("notifications", {"title": "from worker 1"}) == 1
            assert await ws.next_text() == '{"channel":"notifications","data":{"title":"from worker 1"}}'
            assert await worker1.publish("Alerts", "disk full") == 1
            assert await ws.next_text() == '{"channel":"Alerts","data":"disk full"}'
            assert worker1.broker.listener is None  # worker 1 never subscribed
            ws.disconnect()
            await asyncio.wait_for(task, WAIT)
            assert worker2.broker.channels == [] and ws.closed_with == []
            assert await listening(worker2.broker.listener) == []
        assert other_tasks() == []
    run(main())


def test_realtime_manager_broker_choice(postgres_server):
    url = postgres_server.url()
    assert isinstance(RealtimeManager(broker_url=url).broker, PostgresBroker)
    assert isinstance(RealtimeManager(broker_url=url.replace("postgresql://", "postgres://")).broker, PostgresBroker)
    assert RealtimeManager(broker_url=url, max_message_size=100).broker.max_message_size == 100
    assert isinstance(RealtimeManager(broker_url="redis://127.0.0.1:1/0").broker, RedisBroker)
    # redis_url stays Redis's, positional as before
    assert isinstance(RealtimeManager("redis://127.0.0.1:1/0").broker, RedisBroker)
    assert RealtimeManager().broker.max_message_size == 1 << 20
    assert isinstance(broker_from_url(url), PostgresBroker)
    with pytest.raises(ValueError, match="exceeds what PostgreSQL's NOTIFY carries"):
        RealtimeManager(broker_url=url, max_message_size=1 << 20)
    with pytest.raises(ValueError, match="pass one of redis_url, broker_url and broker, not both"):
        RealtimeManager("redis://x", broker_url=url)
    with pytest.raises(ValueError, match="not both"):
        RealtimeManager(broker_url=url, broker=PostgresBroker(url))
    with pytest.raises(ValueError, match="scheme must be redis, rediss or unix"):
        RealtimeManager(redis_url=url)  # Redis's URL parameter does not take PostgreSQL
    with pytest.raises(ValueError, match="a broker URL starts with redis://, rediss://, unix:// or "
                                         "postgresql://, not 'mysql://'"):
        broker_from_url("mysql://root:secret@db/x")
    with pytest.raises(ValueError, match="not a URL without a scheme"):
        broker_from_url("root:secret@db")
    with pytest.raises(TypeError, match="a broker URL must be a str, not NoneType"):
        broker_from_url(None)
    assert Message("c", "1").data == 1
