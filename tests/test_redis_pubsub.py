"""covet.redis.PubSub against a real redis-server: subscribe, patterns, reconnect, the buffer bound, bad input.

Delivery order is the server's: a subscriber's connection carries the messages published before
a PING ahead of that PING's PONG (RESP2 pub/sub), so ``await p.ping()`` after a PUBLISH that has
returned means every message it sent has been read into the buffer.
"""
import asyncio

import pytest

import redis_fixture
from covet.redis import (
    DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_BUFFERED_MESSAGES,
    PubSub,
    Redis,
    RedisConnectionError,
    RedisTimeoutError,
    ReplyError,
)
from redis_fixture import redis_clean, redis_server, start_redis, start_redis_on  # noqa: F401  (fixtures)

WAIT = 10.0  # a safety net only: every wait below ends on an event


def run(coro):
    return asyncio.run(coro)


def client(server, **kw):
    return Redis(port=server.port, **kw)


def msg(type_, channel=None, data=None, pattern=None):
    return {"type": type_, "channel": channel, "pattern": pattern, "data": data}


async def next_message(p, type_=None):
    """The next message (of ``type_`` when given), or a failure after WAIT seconds."""
    while True:
        message = await p.get_message(timeout=WAIT)
        assert message is not None, "no message within %s s" % WAIT
        if type_ is None or message["type"] == type_:
            return message



# ---------------------------------------------------------------- subscribe and receive


def test_subscribe_publish_receive(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub() as p:
            assert isinstance(p, PubSub) and not p.connected
            await p.subscribe("news", "sport")
            assert p.connected and p.channels == ["news", "sport"]
            assert await p.get_message(timeout=0) == msg("subscribe", "news", 1)
            assert await p.get_message(timeout=0) == msg("subscribe", "sport", 2)
            assert await r.publish("news", "hello") == 1
            assert await r.publish("nobody-listens", "x") == 0
            assert await next_message(p) == msg("message", "news", b"hello")
            await r.publish("sport", b"\x00\xff binary")
            assert await next_message(p) == msg("message", "sport", b"\x00\xff binary")
            assert await p.get_message(timeout=0) is None
    run(main())


def test_subscribe_returns_subscribed_so_nothing_published_after_it_is_missed(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(ignore_subscribe_messages=True) as p:
            await p.subscribe("a")
            assert await r.publish("a", "1") == 1
            await p.subscribe("b")  # a second subscribe on the open connection waits for its confirmation too
            assert await r.publish("b", "2") == 1
            assert await next_message(p) == msg("message", "a", b"1")
            assert await next_message(p) == msg("message", "b", b"2")
    run(main())


def test_patterns(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub() as p:
            await p.psubscribe("news.*")
            assert p.patterns == ["news.*"]
            assert await p.get_message(timeout=0) == msg("psubscribe", None, 1, pattern="news.*")
            assert await r.publish("news.eu", "hi") == 1
            assert await r.publish("sport.eu", "no") == 0
            assert await next_message(p) == msg("pmessage", "news.eu", b"hi", pattern="news.*")
            await p.punsubscribe("news.*")
            assert await p.get_message(timeout=0) == msg("punsubscribe", None, 0, pattern="news.*")
            assert p.patterns == []
            assert await r.publish("news.eu", "gone") == 0
    run(main())


def test_channel_and_pattern_both_match(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(ignore_subscribe_messages=True) as p:
            await p.subscribe("news.eu")
            await p.psubscribe("news.*")
            assert await r.publish("news.eu", "x") == 2
            got = [await next_message(p), await next_message(p)]
            assert got == [msg("message", "news.eu", b"x"), msg("pmessage", "news.eu", b"x", pattern="news.*")]
    run(main())


def test_unsubscribe(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub() as p:
            await p.subscribe("a", "b", "c")
            for _ in range(3):
                await next_message(p, "subscribe")
            await p.unsubscribe("a")
            assert await p.get_message(timeout=0) == msg("unsubscribe", "a", 2)
            assert p.channels == ["b", "c"]
            assert await r.publish("a", "x") == 0
            assert await r.publish("b", "y") == 1
            assert await next_message(p) == msg("message", "b", b"y")
            await p.unsubscribe()  # every channel
            assert [await p.get_message(timeout=0), await p.get_message(timeout=0)] == [
                msg("unsubscribe", "b", 1), msg("unsubscribe", "c", 0)]
            assert p.channels == []
            assert await r.publish("c", "z") == 0
            await p.unsubscribe()  # nothing left: nothing sent, nothing buffered
            assert await p.get_message(timeout=0) is None
            assert await p.ping() is True  # out of subscribed mode, PING answers +PONG
    run(main())


def test_ping_while_subscribed_and_before_any_subscription(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            async with r.pubsub() as p:
                assert await p.ping() is True  # opens the connection
                assert p.connected
            async with r.pubsub() as p:
                await p.subscribe("x")
                assert await p.ping() is True
                assert await p.get_message(timeout=0) == msg("subscribe", "x", 1)  # no PONG in the buffer
                assert await p.get_message(timeout=0) is None
    run(main())


def test_listen_yields_until_close(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            p = r.pubsub(ignore_subscribe_messages=True)
            await p.subscribe("feed")
            for i in range(3):
                await r.publish("feed", str(i))
            got = []
            async for message in p.listen():
                got.append(message["data"])
                if len(got) == 3:
                    await p.close()
            assert got == [b"0", b"1", b"2"]
            assert p.closed and not p.connected
    run(main())


def test_close_wakes_a_waiting_reader_and_leaves_no_task(redis_clean):
    async def main():
        before = asyncio.all_tasks()
        async with client(redis_clean) as r:
            p = r.pubsub()
            await p.subscribe("quiet")
            await next_message(p, "subscribe")
            waiting = asyncio.ensure_future(p.get_message())
            await asyncio.sleep(0)
            assert not waiting.done()
            await p.close()
            assert await asyncio.wait_for(waiting, WAIT) is None
            await p.close()  # twice is harmless
            assert asyncio.all_tasks() == before
            with pytest.raises(RedisConnectionError, match="closed"):
                await p.subscribe("again")
            assert await r.execute("PUBSUB", "NUMSUB", "quiet") == [b"quiet", 0]
    run(main())


def test_get_message_times_out_with_none(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub() as p:
            await p.subscribe("x")
            await next_message(p, "subscribe")
            assert await p.get_message(timeout=0) is None
            assert await p.get_message(timeout=0.01) is None
    run(main())


def test_concurrent_first_subscribes_are_all_made(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(ignore_subscribe_messages=True) as p:
            await asyncio.gather(*(p.subscribe("c%d" % i) for i in range(5)))
            assert sorted(p.channels) == ["c%d" % i for i in range(5)]
            for i in range(5):
                assert await r.publish("c%d" % i, "x") == 1
    run(main())


# ---------------------------------------------------------------- the pool is not involved


def test_the_pool_is_untouched_while_subscribed(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r, r.pubsub() as p:
            await p.subscribe("news")
            # The only pooled connection serves ordinary commands while the subscriber listens.
            assert await r.set("k", "v") is True
            assert await r.get("k") == b"v"
            assert r._pool.size == 1
            assert await r.execute("PUBSUB", "NUMSUB", "news") == [b"news", 1]
            kinds = await r.execute("CLIENT", "LIST", "TYPE", "pubsub")
            assert kinds.count(b"\n") == 1  # one subscriber connection, not in the pool
            await r.publish("news", "n")
            assert await next_message(p, "message") == msg("message", "news", b"n")
            assert r._pool.size == 1 and len(r._pool.idle) == 1
        assert r._pool.size == 0
    run(main())


def test_a_redis_error_reply_reaches_the_caller(redis_clean):
    async def main():
        async with client(redis_clean) as admin:
            await admin.execute("ACL", "SETUSER", "limited", "on", ">pw", "resetchannels", "&allowed*", "+@all")
            try:
                async with Redis(port=redis_clean.port, username="limited", password="pw") as r, r.pubsub() as p:
                    await p.subscribe("allowed1")
                    with pytest.raises(ReplyError) as info:
                        await p.subscribe("secret")
                    assert info.value.code == "NOPERM"
                    assert await p.ping() is True  # the connection goes on
            finally:
                await admin.execute("ACL", "DELUSER", "limited")
    run(main())


# ---------------------------------------------------------------- reconnect


def test_reconnect_after_client_kill_resubscribes_every_channel_and_pattern(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(reconnect_backoff=0.01) as p:
            await p.subscribe("a", "b")
            await p.psubscribe("p.*")
            for _ in range(3):
                await next_message(p)
            assert await r.execute("CLIENT", "KILL", "TYPE", "pubsub") == 1
            # The resubscription is announced like any subscription: wait for it.
            again = [await next_message(p) for _ in range(3)]
            assert again == [msg("subscribe", "a", 1), msg("subscribe", "b", 2),
                             msg("psubscribe", None, 3, pattern="p.*")]
            assert p.reconnects == 1
            assert await r.publish("a", "1") == 1
            assert await r.publish("p.x", "2") == 1
            assert await next_message(p) == msg("message", "a", b"1")
            assert await next_message(p) == msg("pmessage", "p.x", b"2", pattern="p.*")
    run(main())


def test_subscribe_while_reconnecting_is_made_when_the_connection_is_back(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(reconnect_backoff=0.01) as p:
            await p.subscribe("a")
            await next_message(p)
            await r.execute("CLIENT", "KILL", "TYPE", "pubsub")
            while p.connected:  # the reader notices the kill
                await asyncio.sleep(0)
            with pytest.raises(RedisConnectionError, match="down"):
                await p.ping()
            await p.subscribe("late")  # recorded; returns at once
            assert p.channels == ["a", "late"]
            assert [await next_message(p), await next_message(p)] == [msg("subscribe", "a", 1),
                                                                      msg("subscribe", "late", 2)]
            assert await r.publish("late", "x") == 1
    run(main())


def test_reconnect_after_a_server_restart():
    server = start_redis()
    port = server.port
    try:
        async def main():
            async with Redis(port=port, reconnect_backoff=0) as r, r.pubsub(reconnect_backoff=0.02) as p:
                await p.subscribe("news")
                await p.psubscribe("n*")
                await next_message(p)
                await next_message(p)
                server.stop()
                restarted = start_redis_on(port)
                try:
                    # Published while we were away or before we resubscribed: lost (at most once).
                    assert [await next_message(p), await next_message(p)] == [
                        msg("subscribe", "news", 1), msg("psubscribe", None, 2, pattern="n*")]
                    assert p.reconnects >= 1
                    assert await r.publish("news", "back") == 2
                    assert await next_message(p) == msg("message", "news", b"back")
                    assert await next_message(p) == msg("pmessage", "news", b"back", pattern="n*")
                finally:
                    restarted.stop()
        run(main())
    finally:
        server.stop()


def test_first_subscribe_against_a_dead_server_raises():
    async def main():
        async with Redis(port=redis_fixture.free_port(), connect_timeout=1) as r, r.pubsub() as p:
            with pytest.raises(RedisConnectionError, match="cannot connect"):
                await p.subscribe("x")
            with pytest.raises(RedisConnectionError, match="cannot connect"):
                await p.psubscribe("y")
            assert not p.connected and p.channels == [] and p.patterns == []
    run(main())


class SilentAfterSubscribe:
    """A server that confirms SUBSCRIBE on its first connection and then never answers again
    (a peer that vanished without FIN or RST); later connections behave."""

    def __init__(self):
        self.connections = 0
        self.second = asyncio.Event()

    async def handle(self, reader, writer):
        self.connections += 1
        first = self.connections == 1
        if not first:
            self.second.set()
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if line.upper() == b"SUBSCRIBE\r\n":
                    writer.write(b"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n")
                elif line.upper() == b"PING\r\n" and not first:
                    writer.write(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        finally:
            writer.close()


def test_a_missed_health_check_pong_drops_and_reconnects():
    async def main():
        fake = SilentAfterSubscribe()
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with Redis(port=port) as r, r.pubsub(health_check_interval=0.05, reconnect_backoff=0.01) as p:
                await p.subscribe("x")
                await asyncio.wait_for(fake.second.wait(), WAIT)
                assert await next_message(p) == msg("subscribe", "x", 1)  # the first confirmation
                assert await next_message(p) == msg("subscribe", "x", 1)  # the resubscription
                assert p.reconnects == 1
        finally:
            server.close()
            await server.wait_closed()
    run(main())


def test_a_reply_that_answers_nothing_asked_drops_the_connection_and_resubscribes():
    async def main():
        subscribed = []

        async def handle(reader, writer):
            subscribed.append(writer)
            try:
                while True:
                    line = await reader.readline()
                    if not line:
                        break
                    if line == b"SUBSCRIBE\r\n":
                        writer.write(b"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n")
                        if len(subscribed) > 1:
                            writer.write(b"*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$2\r\nok\r\n")
                    elif line == b"PING\r\n":
                        writer.write(b"+OK\r\n")  # neither a PONG nor a push
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with Redis(port=port) as r, r.pubsub(reconnect_backoff=0.01, ignore_subscribe_messages=True) as p:
                await p.subscribe("x")
                with pytest.raises(RedisConnectionError, match="unexpected reply to PING"):
                    await p.ping()
                assert await next_message(p) == msg("message", "x", b"ok")  # from the second connection
                assert p.reconnects == 1 and len(subscribed) == 2
        finally:
            server.close()
            await server.wait_closed()
    run(main())


# ---------------------------------------------------------------- the buffer bound


def test_buffer_defaults():
    p = Redis().pubsub()
    assert (p.max_buffered, p.max_buffered_bytes) == (DEFAULT_MAX_BUFFERED_MESSAGES, DEFAULT_MAX_BUFFERED_BYTES)
    assert (DEFAULT_MAX_BUFFERED_MESSAGES, DEFAULT_MAX_BUFFERED_BYTES) == (1000, 8 * 1024 * 1024)


def test_a_slow_consumer_loses_the_oldest_messages_past_the_bound(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(max_buffered=3, ignore_subscribe_messages=True) as p:
            await p.subscribe("firehose")
            for i in range(10):
                await r.publish("firehose", str(i))
            assert await p.ping() is True  # every message published above has been read
            assert p.dropped == 7
            got = [await p.get_message(timeout=0) for _ in range(4)]
            assert got == [msg("message", "firehose", b"7"), msg("message", "firehose", b"8"),
                           msg("message", "firehose", b"9"), None]
            await r.publish("firehose", "10")  # room again
            assert await next_message(p) == msg("message", "firehose", b"10")
            assert p.dropped == 7
    run(main())


def test_the_buffer_is_bounded_in_bytes_too_and_keeps_the_newest_message(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(max_buffered_bytes=10, ignore_subscribe_messages=True) as p:
            await p.subscribe("big")
            await r.publish("big", "aaaaaa")
            await r.publish("big", "bbbbbb")
            await r.publish("big", "c" * 50)  # larger than the bound alone: kept, everything older dropped
            await p.ping()
            assert p.dropped == 2
            assert await p.get_message(timeout=0) == msg("message", "big", b"c" * 50)
            assert await p.get_message(timeout=0) is None
    run(main())


def test_subscription_confirmations_count_against_the_bound(redis_clean):
    async def main():
        async with client(redis_clean) as r, r.pubsub(max_buffered=2) as p:
            await p.subscribe("a", "b", "c")
            assert p.dropped == 1
            assert [await p.get_message(timeout=0), await p.get_message(timeout=0)] == [
                msg("subscribe", "b", 2), msg("subscribe", "c", 3)]
    run(main())


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("method", ["subscribe", "psubscribe", "unsubscribe", "punsubscribe"])
@pytest.mark.parametrize("names, error, message", [
    ((5,), TypeError, "must be str, not int"),
    ((b"bytes",), TypeError, "must be str, not bytes"),
    (("ok", None), TypeError, "must be str, not NoneType"),
    (("",), ValueError, "must not be empty"),
    (("\ud800",), ValueError, "lone surrogate"),
])
def test_bad_names_are_refused_before_anything_is_sent(redis_clean, method, names, error, message):
    async def main():
        async with client(redis_clean) as r, r.pubsub() as p:
            with pytest.raises(error, match=message):
                await getattr(p, method)(*names)
            assert not p.connected and p.channels == [] and p.patterns == []
            await p.subscribe("fine")  # the object goes on
            assert p.channels == ["fine"]
    run(main())


@pytest.mark.parametrize("method", ["subscribe", "psubscribe"])
def test_subscribe_needs_a_name(method):
    async def main():
        with pytest.raises(ValueError, match="at least one name"):
            await getattr(Redis().pubsub(), method)()
    run(main())


@pytest.mark.parametrize("timeout", [-1, "1", True, float("nan")])
def test_bad_get_message_timeout(timeout):
    async def main():
        with pytest.raises(ValueError, match="timeout"):
            await Redis().pubsub().get_message(timeout=timeout)
    run(main())


@pytest.mark.parametrize("kwargs, message", [
    ({"max_buffered": 0}, "max_buffered must be a positive integer"),
    ({"max_buffered": True}, "max_buffered must be a positive integer"),
    ({"max_buffered_bytes": -1}, "max_buffered_bytes must be a positive integer"),
    ({"reconnect_backoff": 0}, "reconnect_backoff must be a positive number"),
    ({"reconnect_backoff": 5, "max_reconnect_backoff": 1}, "the first the smaller"),
    ({"health_check_interval": 0}, "health_check_interval must be a positive number"),
    ({"no_such_option": 1}, "no_such_option"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Redis().pubsub(**kwargs)


def test_a_timed_out_subscribe_raises_and_the_connection_is_replaced():
    async def main():
        async def handle(reader, writer):  # reads every command, answers none
            try:
                while await reader.readline():
                    pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with Redis(port=port, socket_timeout=0.05) as r, r.pubsub(reconnect_backoff=0.01) as p:
                with pytest.raises(RedisTimeoutError, match="subscribing on Redis"):
                    await p.subscribe("x")  # the first connect waits for the confirmation
                assert not p.connected
        finally:
            server.close()
            await server.wait_closed()
    run(main())
