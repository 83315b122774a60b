"""covet.redis: the sans-IO RESP2 reader on byte strings, and the client against a real redis-server."""
import asyncio
import threading

import pytest

from covet.redis import (
    DEFAULT_MAX_BULK_LEN,
    NEED_DATA,
    BlockingRedis,
    ProtocolError,
    Redis,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ReplyError,
    RespParser,
    pack_command,
)
from redis_fixture import free_port, redis_clean, redis_server, start_redis, start_redis_on  # noqa: F401  (fixtures)


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------- the reader

REPLIES = [
    (b"+OK\r\n", "OK"),
    (b"+\r\n", ""),
    (b"-ERR unknown command 'FOO'\r\n", ReplyError("ERR unknown command 'FOO'")),
    (b":0\r\n", 0),
    (b":-42\r\n", -42),
    (b":9223372036854775807\r\n", 2 ** 63 - 1),
    (b":-9223372036854775808\r\n", -(2 ** 63)),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),
    (b"*0\r\n", []),
    (b"*-1\r\n", None),
    (b"*3\r\n:1\r\n$1\r\nx\r\n$-1\r\n", [1, b"x", None]),
    (b"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n+a\r\n", [[1, 2], ["a"]]),
    (b"*2\r\n*0\r\n*-1\r\n", [[], None]),
    (b"*2\r\n-ERR x\r\n:3\r\n", [ReplyError("ERR x"), 3]),
    (b"+caf\xc3\xa9\r\n", "caf\u00e9"),
]


def same(a, b):
    if isinstance(a, ReplyError) or isinstance(b, ReplyError):
        return type(a) is type(b) and a.args == b.args
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def read_all(parser):
    out = []
    while True:
        r = parser.gets()
        if r is NEED_DATA:
            return out
        out.append(r)


@pytest.mark.parametrize("data, expected", REPLIES)
def test_reply_fed_whole(data, expected):
    p = RespParser()
    p.feed(data)
    got = read_all(p)
    assert len(got) == 1 and same(got[0], expected)
    assert p.buffered == 0


@pytest.mark.parametrize("data, expected", REPLIES)
def test_reply_fed_one_byte_at_a_time(data, expected):
    p = RespParser()
    got = []
    for i in range(len(data)):
        p.feed(data[i:i + 1])
        got += read_all(p)
        if i < len(data) - 1:
            assert got == []
    assert len(got) == 1 and same(got[0], expected)


@pytest.mark.parametrize("data, expected", REPLIES)
def test_trailing_partial_reply_stays_unread(data, expected):
    p = RespParser()
    p.feed(data + b"+PART")
    got = read_all(p)
    assert len(got) == 1 and same(got[0], expected)
    assert p.buffered == 5
    p.feed(b"IAL\r\n*2\r\n:1\r\n")
    assert p.gets() == "PARTIAL"
    assert p.gets() is NEED_DATA
    assert p.buffered == 0  # the open array's first element is parsed and held
    p.feed(b"$2\r\nok\r\n")
    assert p.gets() == [1, b"ok"]
    assert p.gets() is NEED_DATA


@pytest.mark.parametrize("data, expected", REPLIES)
def test_reply_split_in_two_at_every_offset(data, expected):
    for cut in range(len(data) + 1):
        p = RespParser()
        p.feed(data[:cut])
        got = read_all(p)
        if cut < len(data):
            assert got == [], cut
        p.feed(data[cut:])
        got += read_all(p)
        assert len(got) == 1 and same(got[0], expected), cut
        assert p.buffered == 0


def test_all_replies_back_to_back_split_at_every_offset():
    stream = b"".join(d for d, _ in REPLIES)
    for cut in range(len(stream) + 1):
        p = RespParser()
        p.feed(stream[:cut])
        got = read_all(p)
        p.feed(stream[cut:])
        got += read_all(p)
        assert len(got) == len(REPLIES), cut
        assert all(same(g, e) for g, (_, e) in zip(got, REPLIES)), cut


def test_all_replies_back_to_back_whole_and_bytewise():
    stream = b"".join(d for d, _ in REPLIES)
    p = RespParser()
    p.feed(stream)
    whole = read_all(p)
    p = RespParser()
    bytewise = []
    for i in range(len(stream)):
        p.feed(stream[i:i + 1])
        bytewise += read_all(p)
    for got in (whole, bytewise):
        assert len(got) == len(REPLIES)
        assert all(same(g, e) for g, (_, e) in zip(got, REPLIES))


@pytest.mark.parametrize("data, message", [
    (b"$+1\r\nx\r\n", "invalid bulk length b'+1'"),
    (b"$ 1\r\nx\r\n", "invalid bulk length b' 1'"),
    (b"$01\r\nx\r\n", "invalid bulk length b'01'"),
    (b"$1_0\r\n", "invalid bulk length b'1_0'"),
    (b"$0x1\r\n", "invalid bulk length b'0x1'"),
    (b"$-2\r\n", "invalid bulk length b'-2'"),
    (b"$\xd9\xa1\r\n", "invalid bulk length b'\\xd9\\xa1'"),
    (b"$\r\n", "invalid bulk length b''"),
    (b"$12345678901234567890\r\n", "invalid bulk length b'12345678901234567890'"),
    (b"*x\r\n", "invalid array length b'x'"),
    (b"*-5\r\n", "invalid array length b'-5'"),
    (b":1.5\r\n", "invalid integer reply b'1.5'"),
    (b":-0\r\n", "invalid integer reply b'-0'"),
    (b":+3\r\n", "invalid integer reply b'+3'"),
    (b":9223372036854775808\r\n", "integer reply out of the signed 64-bit range"),
    (b"$3\r\nabcX\r\n", "bulk string not followed by CRLF"),
    (b"!3\r\nabc\r\n", "unknown reply type byte b'!'"),
    (b"\r\n", "unknown reply type byte b'\\r'"),
    (b"$536870913\r\n", "bulk length 536870913 exceeds max_bulk_len=536870912"),
])
def test_malformed_replies_raise_protocol_error(data, message):
    p = RespParser()
    p.feed(data)
    with pytest.raises(ProtocolError) as e:
        read_all(p)
    assert str(e.value) == message
    # A failed parser stays failed: the connection must be dropped.
    with pytest.raises(ProtocolError):
        p.feed(b"+OK\r\n")
    with pytest.raises(ProtocolError):
        p.gets()


def test_default_bulk_limit_is_redis_proto_max_bulk_len():
    assert DEFAULT_MAX_BULK_LEN == 512 * 1024 * 1024
    p = RespParser()
    p.feed(b"$536870912\r\n")
    assert p.gets() is NEED_DATA  # allowed: waits for the body, which is not preallocated
    assert p.buffered == 0


def test_oversized_bulk_is_rejected_at_its_header_before_any_body():
    p = RespParser(max_bulk_len=10)
    p.feed(b"$1")
    assert p.gets() is NEED_DATA
    p.feed(b"1\r\n")
    with pytest.raises(ProtocolError, match="^bulk length 11 exceeds max_bulk_len=10$"):
        p.gets()


def test_array_length_and_depth_limits():
    p = RespParser(max_array_len=3)
    p.feed(b"*4\r\n")
    with pytest.raises(ProtocolError, match="^array length 4 exceeds max_array_len=3$"):
        p.gets()
    p = RespParser(max_depth=2)
    p.feed(b"*1\r\n*1\r\n:1\r\n")
    assert p.gets() == [[1]]
    p.feed(b"*1\r\n*1\r\n*1\r\n:1\r\n")
    with pytest.raises(ProtocolError, match="^arrays nested deeper than max_depth=2$"):
        p.gets()


def test_line_without_crlf_cannot_grow_the_buffer_past_max_line():
    p = RespParser(max_line=8)
    p.feed(b"+" + b"a" * 8 + b"\r\n")
    assert p.gets() == "a" * 8
    p.feed(b"+" + b"a" * 9)
    assert p.gets() is NEED_DATA
    p.feed(b"\r")  # 11 bytes (type + 8 + CRLF) seen without a CRLF: too long
    with pytest.raises(ProtocolError, match="^reply line longer than max_line=8 bytes$"):
        p.gets()


def test_huge_array_header_allocates_nothing_up_front():
    p = RespParser(max_reply_elements=4000000000)  # the default total refuses such a header outright
    p.feed(b"*4000000000\r\n:1\r\n")
    assert p.gets() is NEED_DATA
    assert len(p._stack) == 1 and p._stack[0][0] == [1]


@pytest.mark.parametrize("kwargs", [{"max_bulk_len": 0}, {"max_array_len": -1}, {"max_depth": True},
                                    {"max_line": 1.5}])
def test_parser_limits_must_be_positive_integers(kwargs):
    with pytest.raises(ValueError, match="must be a positive integer"):
        RespParser(**kwargs)


def test_pack_command():
    assert pack_command("SET", b"k\r\n", 10, 1.5) == (
        b"*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n10\r\n$3\r\n1.5\r\n")
    assert pack_command("GET", "caf\u00e9") == b"*2\r\n$3\r\nGET\r\n$5\r\ncaf\xc3\xa9\r\n"
    assert pack_command("X", bytearray(b"ab"), memoryview(b"c")) == b"*3\r\n$1\r\nX\r\n$2\r\nab\r\n$1\r\nc\r\n"


@pytest.mark.parametrize("arg, name", [(None, "NoneType"), (True, "bool"), ([1], "list"), ({}, "dict")])
def test_pack_command_rejects_other_types(arg, name):
    with pytest.raises(TypeError) as e:
        pack_command("SET", "k", arg)
    assert str(e.value) == "Redis arguments must be bytes, str, int or float, not %s" % name


def test_pack_command_needs_a_name():
    with pytest.raises(ValueError, match="^a Redis command needs at least its name$"):
        pack_command()


def test_error_hierarchy():
    assert issubclass(RedisConnectionError, RedisError)
    assert issubclass(RedisTimeoutError, RedisError)
    assert issubclass(ReplyError, RedisError)
    assert issubclass(ProtocolError, RedisConnectionError)
    assert ReplyError("NOSCRIPT No matching script").code == "NOSCRIPT"


def test_the_public_surface_is_importable_from_covet_redis():
    import covet.redis as package

    names = ["Redis", "Pipeline", "Script", "BlockingRedis", "RespParser", "pack_command", "NEED_DATA",
             "RedisError", "RedisConnectionError", "RedisTimeoutError", "ReplyError", "ProtocolError",
             "DEFAULT_MAX_BULK_LEN", "DEFAULT_MAX_ARRAY_LEN", "DEFAULT_MAX_REPLY_ELEMENTS", "DEFAULT_MAX_DEPTH",
             "DEFAULT_MAX_LINE",
             "DEFAULT_MAX_CONNECTIONS", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_SOCKET_TIMEOUT",
             "DEFAULT_RECONNECT_BACKOFF", "PubSub", "DEFAULT_MAX_BUFFERED_MESSAGES", "DEFAULT_MAX_BUFFERED_BYTES",
             "DEFAULT_PUBSUB_BACKOFF", "DEFAULT_PUBSUB_MAX_BACKOFF", "DEFAULT_HEALTH_CHECK_INTERVAL"]
    assert sorted(package.__all__) == sorted(names)
    assert all(getattr(package, name) is not None for name in names)
    from covet import Redis as top, RedisError as top_error

    assert (top, top_error) == (Redis, RedisError)


def test_settings_defaults_and_the_pool_they_reach():
    r = Redis()
    assert (r.max_connections, r.connect_timeout, r.socket_timeout, r.pool_timeout, r.reconnect_backoff) == (
        10, 2.0, 2.0, 2.0, 0.5)
    assert Redis(socket_timeout=None).pool_timeout is None
    assert Redis(socket_timeout=1.5, pool_timeout=None).pool_timeout is None
    assert Redis(socket_timeout=1.5, pool_timeout=0.25).pool_timeout == 0.25
    b = Redis(port=6390, db=2, max_connections=3, pool_timeout=0.5, reconnect_backoff=0).blocking()
    assert isinstance(b, BlockingRedis) and repr(b.client) == "<Redis 127.0.0.1:6390 db=2>"
    assert (b.client.max_connections, b.client.pool_timeout, b.client.reconnect_backoff) == (3, 0.5, 0.0)
    with pytest.raises(AttributeError, match="^BlockingRedis has no attribute 'nope'$"):
        b.nope
    b.close()  # never started: nothing to stop


# ---------------------------------------------------------------- URLs and settings

def test_from_url_full():
    r = Redis.from_url("redis://alice:s%40cret@cache.internal:6380/3?socket_timeout=0.5&max_connections=4")
    assert (r.host, r.port, r.db, r.username, r.password) == ("cache.internal", 6380, 3, "alice", "s@cret")
    assert (r.socket_timeout, r.max_connections, r.pool_timeout) == (0.5, 4, 0.5)
    assert r.ssl is None
    assert repr(r) == "<Redis cache.internal:6380 db=3>"


def test_from_url_defaults_password_only_tls_and_unix():
    r = Redis.from_url("redis://localhost")
    assert (r.host, r.port, r.db, r.username, r.password) == ("localhost", 6379, 0, None, None)
    r = Redis.from_url("redis://:pw@h/")
    assert (r.username, r.password, r.db) == (None, "pw", 0)
    r = Redis.from_url("rediss://h:1")
    assert r.ssl is not None
    r = Redis.from_url("unix:///run/redis.sock?db=2&password=x")
    assert (r.unix_socket_path, r.db, r.password, r.address) == ("/run/redis.sock", 2, "x", "unix:/run/redis.sock")
    assert Redis.from_url("redis://h/1", db=5).db == 5


@pytest.mark.parametrize("url, message", [
    ("http://h", "invalid Redis URL 'http://h': scheme must be redis, rediss or unix"),
    ("redis://h:99999", "invalid Redis URL 'redis://h:99999': Port out of range 0-65535"),
    ("redis://h/db", "invalid Redis URL 'redis://h/db': the path must be a database number"),
    ("redis://h/0?timeout=1", "invalid Redis URL 'redis://h/0?timeout=1': unknown option 'timeout'"),
    ("redis://h/0?db=x", "invalid Redis URL 'redis://h/0?db=x': bad value for db"),
    ("unix://", "invalid Redis URL 'unix://': unix:// needs a socket path"),
])
def test_from_url_rejects_bad_urls(url, message):
    with pytest.raises(ValueError) as e:
        Redis.from_url(url)
    assert str(e.value) == message


@pytest.mark.parametrize("kwargs, message", [
    ({"db": -1}, "db must be a non-negative integer, got -1"),
    ({"max_connections": 0}, "max_connections must be a positive integer, got 0"),
    ({"socket_timeout": 0}, "socket_timeout must be a positive number of seconds or None, got 0"),
    ({"connect_timeout": "1"}, "connect_timeout must be a positive number of seconds or None, got '1'"),
    ({"pool_timeout": -2}, "pool_timeout must be a positive number of seconds or None, got -2"),
    ({"max_bulk_len": 0}, "max_bulk_len must be a positive integer, got 0"),
    ({"socket_timeout": True}, "socket_timeout must be a positive number of seconds or None, got True"),
    ({"reconnect_backoff": -1}, "reconnect_backoff must be >= 0, got -1"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError) as e:
        Redis(**kwargs)
    assert str(e.value) == message


# ---------------------------------------------------------------- misbehaving servers (no redis needed)

async def fake_server(handler):
    async def guarded(reader, writer):
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_hostile_bulk_length_is_a_protocol_error_and_the_connection_is_dropped():
    async def handler(reader, writer):
        await reader.read(100)
        writer.write(b"$99999999999\r\n")
        await writer.drain()
        await reader.read(100)
        writer.close()

    async def main():
        server, port = await fake_server(handler)
        async with server:
            r = Redis(port=port)
            with pytest.raises(ProtocolError, match="^bulk length 99999999999 exceeds max_bulk_len=536870912$"):
                await r.get("k")
            assert r._pool.size == 0 and r._pool.idle == []
            await r.close()
    run(main())


def test_server_that_never_answers_times_out():
    async def handler(reader, writer):
        await reader.read(100)
        await asyncio.sleep(5)

    async def main():
        server, port = await fake_server(handler)
        r = Redis(port=port, socket_timeout=0.05)
        with pytest.raises(RedisTimeoutError, match=r"^Redis command timed out after 0.05 s$"):
            await r.ping()
        assert r._pool.size == 0
        server.close()
        await r.close()
    run(main())


def test_auth_that_never_answers_times_out_as_connect_timeout():
    async def handler(reader, writer):
        await reader.read(100)
        await asyncio.sleep(5)

    async def main():
        server, port = await fake_server(handler)
        r = Redis(port=port, password="x", connect_timeout=0.05)
        with pytest.raises(RedisTimeoutError, match=r"^AUTH/SELECT on Redis at 127.0.0.1:\d+ timed out after 0.05 s$"):
            await r.ping()
        server.close()
    run(main())


def test_server_closing_mid_reply_is_a_connection_error():
    async def handler(reader, writer):
        await reader.read(100)
        writer.write(b"$10\r\nabc")
        await writer.drain()
        writer.close()

    async def main():
        server, port = await fake_server(handler)
        r = Redis(port=port)
        with pytest.raises(RedisConnectionError, match="^connection closed by the server$"):
            await r.get("k")
        server.close()
    run(main())


def test_nothing_listening_is_a_connection_error_then_fails_fast_for_the_backoff():
    port = free_port()

    async def main():
        r = Redis(port=port, reconnect_backoff=30)
        with pytest.raises(RedisConnectionError) as e:
            await r.ping()
        assert str(e.value).startswith("cannot connect to Redis at 127.0.0.1:%d: " % port)
        with pytest.raises(RedisConnectionError) as e:
            await r.ping()
        assert str(e.value).startswith("Redis at 127.0.0.1:%d is unavailable (cannot connect" % port)
        assert r._pool.size == 0
    run(main())


# ---------------------------------------------------------------- against redis-server

def client(server, **kw):
    return Redis(port=server.port, **kw)


def test_basic_commands(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            assert await r.ping() is True
            assert await r.get("missing") is None
            assert await r.set("k", "v\r\n\x00") is True
            assert await r.get("k") == b"v\r\n\x00"
            assert await r.set("k", "w", nx=True) is False
            assert await r.set("other", "w", xx=True) is False
            assert await r.setex("s", 100, b"x") is True
            assert 0 < await r.ttl("s") <= 100
            assert await r.ttl("k") == -1 and await r.ttl("nope") == -2
            assert await r.set("p", 1, px=50000) is True
            assert 0 < await r.pttl("p") <= 50000
            assert await r.mget("k", "missing", "p") == [b"v\r\n\x00", None, b"1"]
            assert await r.incrby("n") == 1
            assert await r.incrby("n", 41) == 42
            assert await r.expire("n", 10) is True and await r.expire("nope", 10) is False
            assert await r.pexpire("n", 10000) is True
            assert await r.exists("k", "n", "nope") == 2
            assert await r.delete("k", "n", "nope") == 2
            assert await r.execute("HSET", "h", "f", "v") == 1
            assert await r.execute("HGET", "h", "f") == b"v"
            assert await r.command("HGETALL", "h") == [b"f", b"v"]
    run(main())


def test_error_reply_raises_reply_error(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            await r.execute("RPUSH", "list", "a")
            with pytest.raises(ReplyError) as e:
                await r.get("list")
            assert e.value.code == "WRONGTYPE"
            assert str(e.value).startswith("WRONGTYPE Operation against a key holding the wrong kind of value")
            with pytest.raises(ReplyError, match="^ERR unknown command"):
                await r.execute("NOSUCHCOMMAND")
            assert await r.ping() is True  # the connection is still in sync
    run(main())


def test_scan_walks_every_key(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            p = r.pipeline()
            for i in range(250):
                p.set("scan:%d" % i, i)
            p.set("other", 1)
            await p.execute()
            seen, cursor = set(), 0
            while True:
                cursor, keys = await r.scan(cursor, match="scan:*", count=50)
                seen.update(keys)
                if cursor == 0:
                    break
            assert seen == {b"scan:%d" % i for i in range(250)}
    run(main())


def test_pipeline_returns_replies_in_order_with_errors_in_place(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            await r.execute("RPUSH", "list", "a")
            p = r.pipeline().set("a", 1).incrby("a", 2).get("list").get("a").expire("a", 5)
            assert len(p) == 5
            replies = await p.execute(raise_on_error=False)
            assert replies[:2] == [True, 3]
            assert isinstance(replies[2], ReplyError) and replies[2].code == "WRONGTYPE"
            assert replies[3:] == [b"3", True]
            assert len(p) == 0
            with pytest.raises(ReplyError, match="^WRONGTYPE"):
                await r.pipeline().incrby("a").get("list").execute()
            assert await r.get("a") == b"4"  # the rest of the pipeline still ran
            assert await r.pipeline().execute() == []
            with pytest.raises(TypeError):
                r.pipeline().set("a", None)
    run(main())


def test_script_uses_evalsha_and_falls_back_to_eval_after_script_flush(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            script = r.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            assert len(script.sha) == 40
            assert await script(keys=["n"], args=[5]) == 5  # not loaded yet: NOSCRIPT -> EVAL
            assert await r.execute("SCRIPT", "EXISTS", script.sha) == [1]
            assert await r.evalsha(script.sha, ["n"], [1]) == 6
            await r.execute("SCRIPT", "FLUSH")
            assert await script(keys=["n"], args=[2]) == 8
            assert await r.script_load("return 1") == r.script("return 1").sha
            bad = r.script("return redis.call('NOPE')")
            with pytest.raises(ReplyError):
                await bad()
    run(main())


def test_auth_with_acl_user_and_select(redis_clean):
    async def main():
        async with client(redis_clean) as admin:
            await admin.execute("ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all")
            url = "redis://alice:pw@127.0.0.1:%d/3" % redis_clean.port
            async with Redis.from_url(url) as r:
                assert await r.execute("ACL", "WHOAMI") == b"alice"
                await r.set("in3", "yes")
                assert await admin.exists("in3") == 0
                # SELECT lasts one round trip (the connection is not pooled after it): a pipeline.
                assert await admin.pipeline().command("SELECT", 3).get("in3").execute() == ["OK", b"yes"]
            bad = Redis.from_url("redis://alice:wrong@127.0.0.1:%d" % redis_clean.port)
            with pytest.raises(RedisConnectionError) as e:
                await bad.ping()
            assert str(e.value).startswith("AUTH failed on Redis at 127.0.0.1:%d: WRONGPASS" % redis_clean.port)
            await admin.execute("ACL", "DELUSER", "alice")
    run(main())


def test_password_auth_against_requirepass_server():
    server = start_redis("--requirepass", "s3cret")
    try:
        async def main():
            async with Redis.from_url("redis://:s3cret@127.0.0.1:%d" % server.port) as r:
                assert await r.ping() is True
            async with Redis(port=server.port) as r:
                with pytest.raises(ReplyError, match="^NOAUTH"):
                    await r.ping()
        run(main())
    finally:
        server.stop()


def test_pool_never_opens_more_than_max_connections(redis_clean):
    async def main():
        # No pool timeout: the last pair of BLPOPs waits for the first two, however slow the machine.
        async with client(redis_clean, max_connections=2, pool_timeout=None) as r, client(redis_clean) as watcher:
            tasks = [asyncio.ensure_future(r.execute("BLPOP", "nothing", "0.3")) for _ in range(6)]
            seen = set()
            while not all(t.done() for t in tasks):
                listing = await watcher.execute("CLIENT", "LIST")
                seen.add(listing.count(b"cmd=blpop"))
                await asyncio.sleep(0.01)
            assert max(seen) == 2  # two at a time: never more, and the pool did fill
            assert await asyncio.gather(*tasks) == [None] * 6
            assert r._pool.size == 2 and len(r._pool.idle) == 2
    run(main())


def test_pool_wait_times_out(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1, pool_timeout=0.05) as r:
            blocker = asyncio.ensure_future(r.execute("BLPOP", "nothing", "0.5"))
            await asyncio.sleep(0.02)
            with pytest.raises(RedisTimeoutError, match=r"^no free Redis connection within 0.05 s$"):
                await r.ping()
            assert await blocker is None
            assert await r.ping() is True
    run(main())


def test_cancelled_waiter_does_not_leak_the_connection(redis_clean):
    async def main():
        async with client(redis_clean, max_connections=1) as r:
            blocker = asyncio.ensure_future(r.execute("BLPOP", "nothing", "0.2"))
            await asyncio.sleep(0.02)
            waiter = asyncio.ensure_future(r.ping())
            await asyncio.sleep(0.02)
            waiter.cancel()
            await blocker
            assert await r.ping() is True
            assert r._pool.size == 1
    run(main())


def test_command_timeout_drops_the_connection_and_the_next_command_works(redis_clean):
    async def main():
        # A BLPOP that never answers, so the timeout can be long enough for the PING after it to
        # answer in time on a loaded machine.
        async with client(redis_clean, socket_timeout=0.5) as r:
            with pytest.raises(RedisTimeoutError):
                await r.execute("BLPOP", "nothing", "0")
            assert r._pool.size == 0
            assert await r.ping() is True
    run(main())


def test_reconnects_after_the_server_drops_a_pooled_connection(redis_clean):
    async def main():
        async with client(redis_clean) as r, client(redis_clean) as admin:
            first = await r.execute("CLIENT", "ID")
            assert await admin.execute("CLIENT", "KILL", "ID", first) == 1
            assert await r.set("k", "v") is True
            second = await r.execute("CLIENT", "ID")
            assert second != first
            assert await r.get("k") == b"v"
    run(main())


def test_reconnects_after_a_server_restart():
    server = start_redis()
    port = server.port
    try:
        async def main():
            async with Redis(port=port, reconnect_backoff=0) as r:
                assert await r.set("k", "1") is True
                server.stop()
                with pytest.raises(RedisConnectionError):
                    await r.get("k")
                with pytest.raises(RedisConnectionError):
                    await r.get("k")
                restarted = start_redis_on(port)
                try:
                    assert await r.get("k") is None  # fresh server, no persistence
                    assert await r.ping() is True
                finally:
                    restarted.stop()
        run(main())
    finally:
        server.stop()



def test_client_survives_being_used_from_a_second_event_loop(redis_clean):
    r = client(redis_clean)

    async def use():
        assert await r.ping() is True
        await r.close()

    run(use())
    run(use())


def test_blocking_face_from_many_threads(redis_clean):
    b = client(redis_clean).blocking()
    assert isinstance(b, BlockingRedis)
    try:
        def work(i):
            b.set("t:%d" % i, i)
            b.incrby("total", i)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert b.get("total") == b"190"
        assert b.mget("t:0", "t:19") == [b"0", b"19"]
        assert b.execute("EXISTS", "t:5") == 1
        assert b.run(lambda r: r.pipeline().get("t:1").get("t:2").execute()) == [b"1", b"2"]
        with pytest.raises(AttributeError):
            b.nosuchmethod
    finally:
        b.close()
    b.close()  # twice is harmless


def test_close_also_closes_connections_lent_at_the_time(redis_clean):
    async def main():
        async with client(redis_clean) as r:
            pending = asyncio.ensure_future(r.execute("BLPOP", "nothing", "0.1"))
            await asyncio.sleep(0.02)
            await r.close()
            assert await pending is None
            assert r._pool.idle == [] and r._pool.size == 0
            assert await r.ping() is True  # a closed client opens new connections on demand
            assert r._pool.size == 1
    run(main())
