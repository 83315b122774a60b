"""The fast paths of the PostgreSQL client: BackendParser.data_rows (rows parsed in one call),
PGWire (the asyncio.Protocol feeding the parser: waking, pausing, a lost connection), the FIFO
turn that replaced asyncio.Lock, and the cached Bind of parameterless statements."""
import asyncio
import json
import struct

import pytest

from covet.database.postgres.connection import PGConnection
from covet.database.postgres.errors import ProtocolError
from covet.database.postgres.protocol import BackendParser, CommandComplete, DataRow, ReadyForQuery
from covet.database.postgres.startup import ConnectError
from covet.database.postgres.wire import HIGH_WATER, PGWire


def msg(kind, body):
    return kind + struct.pack("!i", len(body) + 4) + body


def row(*values):
    parts = [struct.pack("!H", len(values))]
    for value in values:
        parts.append(b"\xff\xff\xff\xff" if value is None else struct.pack("!i", len(value)) + value)
    return msg(b"D", b"".join(parts))


READY = msg(b"Z", b"I")
DONE = msg(b"C", b"SELECT 3\x00")


# --- BackendParser.data_rows ------------------------------------------------------------------

def test_data_rows_takes_the_complete_rows_at_the_head_and_stops_at_another_message():
    p = BackendParser()
    p.feed(row(b"1", None) + row(b"2", b"") + row(b"3", b"x") + DONE + row(b"4") + READY)
    assert p.next_message() == DataRow([b"1", None])
    assert p.data_rows() == [[b"2", b""], [b"3", b"x"]]
    assert p.data_rows() == []  # a CommandComplete comes next: left to next_message
    assert p.next_message() == CommandComplete("SELECT 3")
    assert p.data_rows() == [[b"4"]]
    assert p.next_message() == ReadyForQuery("I") and p.next_message() is None and p.buffered == 0


def test_data_rows_leaves_a_row_cut_short_until_the_rest_arrives():
    p = BackendParser()
    data = row(b"1") + row(b"22") + READY
    p.feed(data[:20])  # the first row (11 bytes) and part of the second
    assert p.data_rows() == [[b"1"]]
    assert p.data_rows() == [] and p.next_message() is None
    p.feed(data[20:])
    assert p.next_message() == DataRow([b"22"])
    assert p.next_message() == ReadyForQuery("I")


def test_data_rows_refuses_a_malformed_row_and_the_parser_stays_dead():
    p = BackendParser()
    p.feed(row(b"1") + msg(b"D", b"\x00\x02\x00\x00\x00\x01x"))  # two columns announced, one sent
    with pytest.raises(ProtocolError) as info:
        p.data_rows()
    assert str(info.value) == "malformed DataRow message: 2 columns cannot fit in 5 bytes"
    with pytest.raises(ProtocolError):
        p.next_message()
    with pytest.raises(ProtocolError):
        p.data_rows()


def test_data_rows_leaves_a_row_over_max_message_len_to_next_message_which_refuses_it():
    p = BackendParser(max_message_len=20)
    p.feed(row(b"1") + row(b"x" * 30))
    assert p.data_rows() == [[b"1"]]
    assert p.data_rows() == []
    with pytest.raises(ProtocolError, match="DataRow message of 40 bytes exceeds max_message_len=20"):
        p.next_message()


# --- PGWire -----------------------------------------------------------------------------------

class FakeTransport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.calls, self.written, self.closed = [], [], False

    def pause_reading(self):
        self.calls.append("pause")

    def resume_reading(self):
        self.calls.append("resume")

    def write(self, data):
        self.written.append(data)

    def close(self):
        self.closed = True


def test_wire_wakes_its_reader_once_per_chunk_and_pauses_only_when_nobody_reads():
    async def main():
        parser = BackendParser()
        wire = PGWire(parser, ConnectError)
        transport = FakeTransport()
        wire.connection_made(transport)
        waiter = wire.more()
        wire.data_received(row(b"1"))
        assert waiter.done() and parser.next_message() == DataRow([b"1"])
        big = row(b"x" * HIGH_WATER)
        wire.data_received(big[:HIGH_WATER // 2])  # nobody reads, below the mark: keep reading
        assert transport.calls == []
        wire.data_received(big[HIGH_WATER // 2:HIGH_WATER + 1])  # past the mark: pause
        assert transport.calls == ["pause"]
        wire.data_received(big[HIGH_WATER + 1:])  # bytes already in flight are still taken
        assert transport.calls == ["pause"]
        waiter = wire.more()  # the reader wants more: reading resumes
        assert transport.calls == ["pause", "resume"] and not waiter.done()
        assert parser.next_message() == DataRow([b"x" * HIGH_WATER])
    asyncio.run(main())


def test_wire_lost_wakes_the_reader_then_more_raises_connect_error():
    async def main():
        wire = PGWire(BackendParser(), ConnectError)
        wire.connection_made(FakeTransport())
        waiter = wire.more()
        wire.connection_lost(ConnectionResetError("reset by peer"))
        assert waiter.done() and wire.lost
        with pytest.raises(ConnectError, match="the connection failed: reset by peer"):
            wire.more()
        with pytest.raises(ConnectError, match="the connection failed"):
            await wire.drain()
        await asyncio.wait_for(wire.wait_closed(), 1)

        wire = PGWire(BackendParser(), ConnectError)
        wire.connection_made(FakeTransport())
        wire.connection_lost(None)
        with pytest.raises(ConnectError, match="the server closed the connection"):
            wire.more()
    asyncio.run(main())


def test_wire_drain_waits_while_the_transport_says_its_buffer_is_full():
    async def main():
        wire = PGWire(BackendParser(), ConnectError)
        wire.connection_made(FakeTransport())
        await asyncio.wait_for(wire.drain(), 1)  # not paused: returns at once
        wire.pause_writing()
        drained = asyncio.ensure_future(wire.drain())
        await asyncio.sleep(0)
        assert not drained.done()
        wire.resume_writing()
        await asyncio.wait_for(drained, 1)
    asyncio.run(main())


# --- against the server -----------------------------------------------------------------------

def session(pg, body):
    async def main():
        conn = await PGConnection.connect_url(pg.url(None, sslmode="disable"))
        try:
            return await body(conn)
        finally:
            await conn.close()
    return asyncio.run(main())


def test_operations_take_their_turns_in_order_and_a_cancelled_waiter_is_skipped(postgres_server):
    async def body(conn):
        order = []

        async def query(n):
            value = await conn.fetch_val("SELECT $1::int", [n])
            order.append(value)
            return value
        tasks = [asyncio.ensure_future(query(n)) for n in range(6)]
        await asyncio.sleep(0)  # all started: the first runs, five wait
        tasks[2].cancel()
        tasks[4].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert order == [0, 1, 3, 5]
        assert [type(d).__name__ if isinstance(d, BaseException) else d for d in done] == [
            0, 1, "CancelledError", 3, "CancelledError", 5]
        assert conn.is_usable and await conn.fetch_val("SELECT 7") == 7
    session(postgres_server, body)


def test_a_waiter_cancelled_as_it_is_handed_the_turn_passes_it_on(postgres_server):
    async def body(conn):
        async def first_then_cancel_second():
            value = await conn.fetch_val("SELECT 1")
            # The turn is now the second's, which has not run yet: cancel it there.
            assert not second.done()
            second.cancel()
            return value
        first = asyncio.ensure_future(first_then_cancel_second())
        second = asyncio.ensure_future(conn.fetch_val("SELECT 2"))
        third = asyncio.ensure_future(conn.fetch_val("SELECT 3"))
        await asyncio.sleep(0)
        assert await first == 1
        with pytest.raises(asyncio.CancelledError):
            await second
        assert await asyncio.wait_for(third, 5) == 3
        assert conn.is_usable and conn._pending == 0
    session(postgres_server, body)


def test_parameterless_statements_reuse_their_bind_and_many_rows_arrive_whole(postgres_server):
    async def body(conn):
        for _ in range(3):
            assert await conn.fetch_val("SELECT 41 + 1") == 42
        statement = next(s for (sql, _), s in conn._statements.items() if sql == "SELECT 41 + 1")
        assert sorted(statement.plain) == [1]  # fetch_val's row limit, built once
        rows = await conn.fetch_all("SELECT g, repeat('x', g % 50) AS s FROM generate_series(1, 20000) g")
        assert len(rows) == 20000 and rows[-1] == {"g": 20000, "s": ""} and rows[48]["s"] == "x" * 49
        assert await conn.fetch_all("SELECT g FROM generate_series(1, 5000) g", limit=3) == [
            {"g": 1}, {"g": 2}, {"g": 3}]
        assert (await conn.execute("SELECT g FROM generate_series(1, 5000) g"))[0] == 5000
    session(postgres_server, body)


def test_json_decoding_takes_the_scanner_path_and_keeps_json_loads_behaviour():
    from covet.database.postgres.types import DEFAULT_REGISTRY, JSON, TypeCodecError
    decode = DEFAULT_REGISTRY.codec(JSON).decode_text
    assert decode('{"a":[1,2.5,null,true],"b":"é"}') == {"a": [1, 2.5, None, True], "b": "é"}
    assert decode('  {"a": 1}\n') == {"a": 1}  # json (not jsonb) keeps the input's whitespace
    assert decode("7") == 7 and decode('"x"') == "x"
    for bad in ["", '{"a":1} x', '{"a":}', "\ufeff1", "[1,", "nul"]:
        with pytest.raises(ValueError) as expected:
            json.loads(bad)
        with pytest.raises(ValueError) as info:
            decode(bad)
        assert type(info.value) is type(expected.value) and str(info.value) == str(expected.value)
    with pytest.raises(TypeCodecError, match="json: nested too deeply to decode"):
        decode("[" * 100000 + "]" * 100000)
