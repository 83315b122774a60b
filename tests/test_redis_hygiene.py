"""covet.redis pool hygiene: one reply's total element count is bounded."""
import asyncio
import tracemalloc

import pytest

from covet.redis import DEFAULT_MAX_REPLY_ELEMENTS, NEED_DATA, ProtocolError, Redis, RespParser


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
