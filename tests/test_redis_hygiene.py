"""covet.redis pool hygiene: a connection whose state changed is never handed to the next caller, a late or
unsolicited reply never answers the next command, and one reply's total element count is bounded."""
import asyncio
import time
import tracemalloc

import pytest

from covet.redis import DEFAULT_MAX_REPLY_ELEMENTS, NEED_DATA, ProtocolError, Redis, RedisTimeoutError, RespParser
from covet.redis.state import leaves_state
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)


def run(coro):
    return asyncio.run(coro)


def read_all(parser):
    out = []
    while True:
        r = parser.gets()
        if r is NEED_DATA:
            return out
        out.append(r)


def feeds(data):
    """The ways a stream can arrive: whole, byte by byte, and split in two at every offset."""
    yield [data]
    yield [data[i:i + 1] for i in range(len(data))]
    for cut in range(len(data) + 1):
        yield [data[:cut], data[cut:]]


def parse_in_pieces(parser, pieces):
    got = []
    for piece in pieces:
        parser.feed(piece)
        got += read_all(parser)
    return got


# ---------------------------------------------------------------- total elements of one reply (sans-IO)

NESTED = b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*1\r\n:4\r\n"  # 2 + 3 + 1 = 6 elements


def test_default_total_element_limit():
    assert DEFAULT_MAX_REPLY_ELEMENTS == 500_000
    assert RespParser().max_reply_elements == DEFAULT_MAX_REPLY_ELEMENTS


def test_nested_reply_within_the_total_limit_parses_however_it_arrives():
    for pieces in feeds(NESTED):
        p = RespParser(max_reply_elements=6)
        assert parse_in_pieces(p, pieces) == [[[1, 2, 3], [4]]], pieces


def test_nested_reply_over_the_total_limit_is_refused_however_it_arrives():
    # No single header is over max_array_len: only the total is.
    for pieces in feeds(NESTED):
        p = RespParser(max_reply_elements=5, max_array_len=3)
        with pytest.raises(ProtocolError) as e:
            parse_in_pieces(p, pieces)
        assert str(e.value) == "reply with more than max_reply_elements=5 elements", pieces
        with pytest.raises(ProtocolError):
            p.gets()  # a failed parser stays failed: the connection is dropped


def test_total_is_refused_at_the_header_that_crosses_it_before_any_element_arrives():
    p = RespParser(max_reply_elements=5)
    p.feed(b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n")
    assert p.gets() is NEED_DATA
    p.feed(b"*1\r\n")  # 2 + 3 + 1: its elements have not arrived, the header alone is refused
    with pytest.raises(ProtocolError, match=r"^reply with more than max_reply_elements=5 elements$"):
        p.gets()


def test_total_counts_each_reply_afresh():
    data = b"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n" * 3 + NESTED
    for pieces in feeds(data):
        p = RespParser(max_reply_elements=6)
        assert parse_in_pieces(p, pieces) == [[1, 2, 3, 4, 5]] * 3 + [[[1, 2, 3], [4]]]


def test_a_million_empty_arrays_are_refused_at_the_default_limit_without_building_them():
    p = RespParser()
    p.feed(b"*1000000\r\n" + b"*0\r\n" * 1000)
    with pytest.raises(ProtocolError, match=r"^reply with more than max_reply_elements=500000 elements$"):
        p.gets()
    # Spread over arrays that each stay under every per-array bound, the total still stops it.
    p = RespParser()
    p.feed(b"*3\r\n*200000\r\n" + b"*0\r\n" * 200000 + b"*200000\r\n" + b"*0\r\n" * 200000 + b"*200000\r\n")
    with pytest.raises(ProtocolError, match=r"^reply with more than max_reply_elements=500000 elements$"):
        p.gets()


@pytest.mark.parametrize("value", [0, -1, True, 1.5, None])
def test_max_reply_elements_must_be_a_positive_integer(value):
    with pytest.raises(ValueError, match="^max_reply_elements must be a positive integer"):
        RespParser(max_reply_elements=value)
    with pytest.raises(ValueError, match="^max_reply_elements must be a positive integer"):
        Redis(max_reply_elements=value)


def test_the_client_setting_reaches_its_clone():
    r = Redis(max_reply_elements=7)
    assert r.max_reply_elements == 7 and r.clone().max_reply_elements == 7
    assert Redis().max_reply_elements == DEFAULT_MAX_REPLY_ELEMENTS


# ---------------------------------------------------------------- which round trips leave a connection changed

@pytest.mark.parametrize("commands, changed", [
    ([("GET", "k")], False),
    ([("SUBSCRIBE", "ch")], True),
    ([(b"psubscribe", b"c*")], True),
    ([("unsubscribe",)], True),
    ([("MONITOR",)], True),
    ([("SELECT", 0)], True),
    ([("AUTH", "pw")], True),
    ([("HELLO", 3)], True),
    ([("RESET",)], True),
    ([("QUIT",)], True),
    ([("READONLY",)], True),
    ([("CLIENT", "REPLY", "OFF")], True),
    ([("client", b"setname", "x")], True),
    ([("CLIENT", "ID")], False),
    ([("CLIENT",)], False),
    ([("MULTI",)], True),
    ([("MULTI",), ("INCR", "n")], True),
    ([("MULTI",), ("INCR", "n"), ("EXEC",)], False),
    ([("MULTI",), ("INCR", "n"), ("DISCARD",)], False),
    ([("MULTI",), ("EXEC",), ("MULTI",)], True),
    ([("WATCH", "k")], True),
    ([("WATCH", "k"), ("UNWATCH",)], False),
    ([("WATCH", "k"), ("MULTI",), ("SET", "k", 1), ("EXEC",)], False),
    ([("EXEC",)], False),
    ([(1, 2)], False),
])
def test_leaves_state(commands, changed):
    assert leaves_state(commands) is changed


# ---------------------------------------------------------------- fake servers (no redis-server needed)

class FakeRedis:
    """An asyncio server on 127.0.0.1 port 0 that reads commands with ``RespParser`` and answers each with
    ``answer(args)`` (bytes to write). ``writers`` holds one writer per accepted connection."""

    def __init__(self, answer):
        self.answer = answer
        self.writers = []
        self.tasks = []
        self.server = None
        self.port = 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        for w in self.writers:
            w.close()
        await asyncio.gather(*self.tasks)  # each ends at the EOF its close() brings
        await self.server.wait_closed()

    async def _serve(self, reader, writer):
        self.writers.append(writer)
        self.tasks.append(asyncio.current_task())
        parser = RespParser()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                parser.feed(data)
                for args in read_all(parser):
                    reply = self.answer(args)
                    if isinstance(reply, bytes):
                        writer.write(reply)
                    else:
                        await reply(writer)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


def ping_get(args):
    return {b"PING": b"+PONG\r\n", b"GET": b"$1\r\nv\r\n"}[args[0]]


async def until(condition, what, timeout=5.0):
    """Wait, yielding to the loop, until ``condition()`` holds (an event we observe, not a guess at its time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.001)


def test_a_late_unsolicited_reply_left_in_the_stream_reader_never_answers_the_next_command():
    async def main():
        async with FakeRedis(ping_get) as fake, Redis(port=fake.port) as r:
            assert await r.ping() is True
            [conn] = r._pool.idle
            # The server speaks out of turn while the connection sits in the pool: the bytes land in
            # the StreamReader, not yet in the parser.
            fake.writers[0].write(b"+STRAY\r\n")
            await fake.writers[0].drain()
            await until(lambda: len(conn.reader._buffer) == 8, "the stray reply to reach the client")
            assert conn.parser.buffered == 0
            assert await r.get("k") == b"v"
            assert len(fake.writers) == 2  # the tainted connection was dropped, a fresh one answered
            assert r._pool.size == 1 and r._pool.idle != [conn]
    run(main())


def test_an_extra_reply_in_the_same_read_never_answers_the_next_command():
    def answer(args):
        return b"+PONG\r\n+STRAY\r\n" if args[0] == b"PING" else ping_get(args)

    async def main():
        async with FakeRedis(answer) as fake, Redis(port=fake.port) as r:
            assert await r.ping() is True
            assert await r.get("k") == b"v"
            assert len(fake.writers) == 2
    run(main())


def test_a_reply_of_millions_of_empty_arrays_is_refused_before_memory_grows():
    chunk = b"*0\r\n" * 65536

    async def flood(writer):
        writer.write(b"*1000000\r\n")
        for _ in range(48):  # 3,145,728 empty arrays, each 4 bytes on the wire and 64 in a list
            writer.write(chunk)
            await writer.drain()

    async def main():
        async with FakeRedis(lambda args: flood) as fake, Redis(port=fake.port) as r:
            tracemalloc.start()
            try:
                with pytest.raises(ProtocolError, match=r"^reply with more than max_reply_elements=500000 elements$"):
                    await r.execute("LRANGE", "l", 0, -1)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 4 * 1024 * 1024, peak
            assert r._pool.size == 0 and r._pool.idle == []
    run(main())


def test_a_late_reply_to_a_timed_out_command_never_answers_the_next_caller():
    async def main():
        release = asyncio.Event()

        async def slow(writer):
            await release.wait()
            writer.write(b"$4\r\nlate\r\n")

        def answer(args):
            return slow if args[0] == b"GET" and args[1] == b"slow" else ping_get(args)

        async with FakeRedis(answer) as fake, Redis(port=fake.port, socket_timeout=0.5, max_connections=1) as r:
            with pytest.raises(RedisTimeoutError):
                await r.get("slow")
            release.set()
            assert await r.get("k") == b"v"
            assert len(fake.writers) == 2
    run(main())


# ---------------------------------------------------------------- against redis-server

def client(server, **kw):
    return Redis(port=server.port, **kw)


def test_timed_out_command_then_the_next_caller_reads_its_own_reply(redis_clean):
    async def main():
        async with client(redis_clean, socket_timeout=0.5, max_connections=1) as r, client(redis_clean) as admin:
            await r.set("k", "v")
            first = await r.execute("CLIENT", "ID")
            with pytest.raises(RedisTimeoutError):
                await r.execute("BLPOP", "queue", "0")
            # Were the timed-out connection pooled, this push would answer its BLPOP and that late reply
            # would be read by the next command.
            await admin.execute("LPUSH", "queue", "x")
            assert await r.get("k") == b"v"
            assert await r.execute("CLIENT", "ID") != first
            assert r._pool.size == 1
    run(main())


def test_multi_without_exec_is_not_handed_to_the_next_caller(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r:
            assert await r.execute("MULTI") == "OK"
            assert await r.set("k", "v") is True  # on a connection inside MULTI this would be QUEUED
            assert await r.get("k") == b"v"
            assert r._pool.size == 1
    run(main())


def test_watch_without_exec_is_not_handed_to_the_next_caller(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r, client(redis_clean) as admin:
            assert await r.execute("WATCH", "k") == "OK"
            await admin.set("k", "changed")
            # A leftover WATCH would make this transaction fail (EXEC answers nil).
            replies = await r.pipeline().command("MULTI").command("SET", "k", "mine").command("EXEC").execute()
            assert replies == ["OK", "QUEUED", ["OK"]]
            assert await r.get("k") == b"mine"
    run(main())


def test_a_whole_transaction_in_one_pipeline_keeps_its_connection(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r:
            first = await r.execute("CLIENT", "ID")
            replies = await r.pipeline().command("WATCH", "k").command("MULTI").incrby("k").command("EXEC").execute()
            assert replies == ["OK", "OK", "QUEUED", [1]]
            replies = await r.pipeline().command("MULTI").incrby("k").command("DISCARD").execute()
            assert replies == ["OK", "QUEUED", "OK"]
            assert await r.execute("CLIENT", "ID") == first
            assert await r.get("k") == b"1"
    run(main())


def test_a_pipeline_that_leaves_multi_open_is_discarded(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r:
            assert await r.pipeline().command("MULTI").command("SET", "k", "queued").execute() == ["OK", "QUEUED"]
            assert await r.get("k") is None  # never executed: the transaction died with its connection
            assert await r.set("k", "v") is True
            assert await r.get("k") == b"v"
    run(main())


def test_subscribe_is_not_handed_to_the_next_caller(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r, client(redis_clean) as admin:
            await admin.set("k", "v")
            assert await r.execute("SUBSCRIBE", "news") == [b"subscribe", b"news", 1]
            await admin.execute("PUBLISH", "news", "hello")
            # A subscribed connection refuses GET and receives the message unasked.
            assert await r.get("k") == b"v"
            assert await r.ping() is True
            assert r._pool.size == 1
    run(main())


@pytest.mark.parametrize("command", [("PSUBSCRIBE", "n*"), ("SSUBSCRIBE", "news")])
def test_pattern_and_shard_subscribe_are_not_handed_to_the_next_caller(redis_clean, command):
    async def main():
        async with client(redis_clean, max_connections=1) as r:
            assert (await r.execute(*command))[0] == command[0].lower().encode()
            assert await r.set("k", "v") is True
            assert await r.get("k") == b"v"
    run(main())


def test_select_lasts_one_round_trip(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r:
            assert await r.execute("SELECT", 3) == "OK"
            assert await r.set("k", "in0") is True  # the client's own database, not 3
            assert await r.pipeline().command("SELECT", 3).get("k").execute() == ["OK", None]
            assert await r.get("k") == b"in0"
    run(main())


def test_lower_case_and_bytes_command_names_are_recognised(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r:
            assert await r.execute(b"multi") == "OK"
            assert await r.set("k", "v") is True
            assert await r.execute("client", "setname", "tainted") == "OK"
            assert await r.execute("CLIENT", "GETNAME") is None
            assert await r.execute("Client", "Id") == await r.execute("CLIENT", "ID")  # a plain CLIENT keeps it
    run(main())


def test_hello_and_reset_are_not_handed_to_the_next_caller(redis_clean):
    async def main():
        async with client(redis_clean, db=2, max_connections=1) as r:
            await r.set("k", "in2")
            assert await r.execute("RESET") == "RESET"  # back to database 0 on that connection
            assert await r.get("k") == b"in2"
            hello = await r.execute("HELLO", 2, "SETNAME", "x")
            assert b"proto" in hello
            assert await r.execute("CLIENT", "GETNAME") is None
    run(main())
