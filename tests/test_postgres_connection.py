"""PGConnection against the real server of tests/pg_fixture.py (skipped where it cannot start)."""
import asyncio
import datetime
import decimal
import ssl
import uuid

import pytest

from covet.database.errors import IntegrityError, OperationalError
from covet.database.postgres import protocol
from covet.database.postgres.connection import PGConnection, QueryResult, quote_ident
from covet.database.postgres.errors import (InvalidPassword, ProtocolError, QueryCanceled, SQLSyntaxError,
                                            UndefinedTable, UniqueViolation, InFailedSQLTransaction, EncodeError,
                                            CharacterNotInRepertoire, AdminShutdown)
from covet.database.postgres.types import TypeCodecError
from covet.database.postgres.startup import AuthenticationRefused, ConnectError, parse_url
from covet.database.records import MappingRecord


def run(coro):
    return asyncio.run(coro)


def connect(pg, user=None, **kw):
    return PGConnection.connect_url(pg.url(user, **kw.pop("query", {})), **kw)


# --- URL parsing (no server) ----------------------------------------------------------------------

def test_parse_url_parts_and_escapes():
    kw = parse_url("postgresql://u%40x:p%3Ass@[::1]:6543/my%20db?sslmode=verify-ca&sslrootcert=/ca.pem"
                   "&connect_timeout=2.5&application_name=api")
    assert kw == {"host": "::1", "port": 6543, "user": "u@x", "password": "p:ss", "database": "my db",
                  "ssl_mode": "verify-ca", "ca_file": "/ca.pem", "connect_timeout": 2.5, "application_name": "api"}
    assert parse_url("postgres://app@db")["port"] == 5432
    assert parse_url("postgres://app@db")["password"] is None


@pytest.mark.parametrize("url, message", [
    ("mysql://u@h/db", "a PostgreSQL URL starts with postgresql://, not 'mysql://'"),
    ("postgresql://h/db", "the URL names no user (postgresql://USER@host/db)"),
    ("postgresql://u@h:99999/db", "the URL's port is not a number from 0 to 65535"),
    ("postgresql://u@h/db?ssl_mode=disable", "unknown URL parameter 'ssl_mode' (covet understands sslmode, "
                                              "sslrootcert, connect_timeout, application_name, channel_binding, "
                                              "statement_timeout, statement_cache_size, allow_md5, allow_cleartext)"),
    ("postgresql://u@h/db?connect_timeout=soon", "connect_timeout='soon' is not a number of seconds"),
])
def test_parse_url_refusals(url, message):
    with pytest.raises(ValueError) as info:
        parse_url(url)
    assert str(info.value) == message


def test_bad_ssl_mode_and_contradictions_refused_before_connecting():
    with pytest.raises(ValueError, match="ssl_mode must be one of disable, prefer, require, verify-ca, verify-full"):
        run(PGConnection.connect("127.0.0.1", 1, "u", ssl_mode="allow"))
    with pytest.raises(ValueError, match="contradictory"):
        run(PGConnection.connect("127.0.0.1", 1, "u", ssl_mode="disable", ca_file="/x"))


def test_quote_ident():
    assert quote_ident('a"b') == '"a""b"'
    with pytest.raises(ValueError):
        quote_ident("")


# --- connecting and authenticating -----------------------------------------------------------

def test_scram_over_tls_verify_full_binds_the_channel(postgres_server):
    async def main():
        conn = await connect(postgres_server, query={"sslmode": "verify-full", "sslrootcert": postgres_server.ca_file})
        try:
            assert conn.tls is True
            assert conn.parameters["client_encoding"] == "UTF8"
            assert conn.parameters["DateStyle"] == "ISO, MDY"
            assert conn.parameters["TimeZone"] == "UTC"
            assert conn.parameters["application_name"] == "covet"
            assert conn.backend_pid > 0 and conn.transaction_status == "I" and not conn.in_transaction
            row = await conn.fetch_one("SELECT ssl, current_user AS who FROM pg_stat_ssl, current_user "
                                       "WHERE pid = pg_backend_pid()")
            assert dict(row) == {"ssl": True, "who": "postgres"}
        finally:
            await conn.close()
        assert conn.closed and not conn.broken
    run(main())


def test_ca_given_means_verify_full_by_default(postgres_server):
    async def main():
        conn = await PGConnection.connect(postgres_server.host, postgres_server.port, "postgres", "scram-secret",
                                          postgres_server.database, ca_file=postgres_server.ca_file,
                                          channel_binding="require")
        assert conn.tls
        await conn.close()
    run(main())


def test_wrong_ca_refused(postgres_server, tmp_path):
    other = tmp_path / "other-ca.pem"
    # Any CA that did not sign the server's certificate: the system's default bundle will not have it.
    ctx = ssl.create_default_context()
    ctx.check_hostname = True

    async def main():
        with pytest.raises(ConnectError) as info:
            await PGConnection.connect(postgres_server.host, postgres_server.port, "postgres", "scram-secret",
                                       postgres_server.database, ssl_context=ctx)
        assert "TLS with 127.0.0.1:%d failed (sslmode=verify-full)" % postgres_server.port in str(info.value)
        assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    run(main())
    assert not other.exists()


def test_hostname_mismatch_refused_by_verify_full_but_not_verify_ca(postgres_server):
    async def main():
        with pytest.raises(ConnectError, match="TLS with"):
            # the certificate names 127.0.0.1 and localhost; "127.1" reaches the same server (inet_aton), but is neither name
            await PGConnection.connect("127.1", postgres_server.port, "postgres", "scram-secret",
                                       postgres_server.database, ca_file=postgres_server.ca_file)
        conn = await PGConnection.connect("127.1", postgres_server.port, "postgres", "scram-secret",
                                          postgres_server.database, ca_file=postgres_server.ca_file,
                                          ssl_mode="verify-ca")
        assert conn.tls
        await conn.close()
    run(main())


def test_sslmode_disable_and_require(postgres_server):
    async def main():
        plain = await connect(postgres_server, query={"sslmode": "disable"})
        assert plain.tls is False
        assert await plain.fetch_val("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False
        await plain.close()
        required = await connect(postgres_server, query={"sslmode": "require"})
        assert required.tls is True
        await required.close()
    run(main())


def test_wrong_password_refused_by_the_server(postgres_server):
    async def main():
        with pytest.raises(InvalidPassword) as info:
            await PGConnection.connect_url(postgres_server.url("postgres", password="wrong"))
        assert info.value.sqlstate == "28P01"
        assert str(info.value) == 'password authentication failed for user "postgres"'
        with pytest.raises(AuthenticationRefused, match=r"the server asks for a password \(SCRAM\) and none"):
            await PGConnection.connect(postgres_server.host, postgres_server.port, "postgres", None,
                                       postgres_server.database)
    run(main())


def test_md5_refused_by_default_and_accepted_when_allowed(postgres_server):
    async def main():
        with pytest.raises(AuthenticationRefused) as info:
            await connect(postgres_server, "md5user")
        assert str(info.value).startswith("the server asks for md5 password authentication, which covet refuses "
                                          "unless allow_md5=True")
        conn = await connect(postgres_server, "md5user", allow_md5=True)
        assert await conn.fetch_val("SELECT current_user") == "md5user"
        await conn.close()
    run(main())


def test_cleartext_needs_permission_and_tls(postgres_server):
    async def main():
        with pytest.raises(AuthenticationRefused, match="unless allow_cleartext=True"):
            await connect(postgres_server, "clearuser", query={"sslmode": "require"})
        with pytest.raises(AuthenticationRefused, match="on a connection without TLS"):
            await connect(postgres_server, "clearuser", query={"sslmode": "disable"}, allow_cleartext=True)
        conn = await connect(postgres_server, "clearuser", query={"sslmode": "require"}, allow_cleartext=True)
        assert await conn.fetch_val("SELECT current_user") == "clearuser"
        await conn.close()
    run(main())


def test_trust_and_scram_without_tls(postgres_server):
    async def main():
        conn = await connect(postgres_server, "trustuser", query={"sslmode": "disable"})
        assert await conn.fetch_val("SELECT current_user") == "trustuser"
        await conn.close()
        conn = await connect(postgres_server, query={"sslmode": "disable"})  # SCRAM without binding
        assert await conn.fetch_val("SELECT 1") == 1
        await conn.close()
    run(main())


def test_channel_binding_require_without_tls_refused(postgres_server):
    async def main():
        with pytest.raises(AuthenticationRefused, match="channel binding is required"):
            await connect(postgres_server, query={"sslmode": "disable"}, channel_binding="require")
    run(main())


def test_connect_errors(postgres_server):
    async def main():
        with pytest.raises(ConnectError, match="cannot connect to 127.0.0.1:1"):
            await PGConnection.connect("127.0.0.1", 1, "postgres", "x")
        # a listener that never answers: the connect timeout bounds it
        held = []
        server = await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(ConnectError, match=r"connecting to 127.0.0.1:%d timed out after 0.2s" % port):
            await PGConnection.connect("127.0.0.1", port, "postgres", "x", connect_timeout=0.2)
        for writer in held:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
    run(main())


# --- a recorded server in a test double: AuthenticationOk before the SCRAM proof -----------------

def test_authentication_ok_before_scram_proof_is_refused():
    async def main():
        async def fake(reader, writer):
            await reader.readexactly(8)  # SSLRequest
            writer.write(b"N")
            length = int.from_bytes(await reader.readexactly(4), "big")
            await reader.readexactly(length - 4)
            # AuthenticationSASL offering SCRAM-SHA-256, then at once AuthenticationOk
            body = (10).to_bytes(4, "big") + b"SCRAM-SHA-256\x00\x00"
            writer.write(b"R" + (len(body) + 4).to_bytes(4, "big") + body)
            writer.write(b"R\x00\x00\x00\x08\x00\x00\x00\x00")
            await writer.drain()
            await reader.read()
            writer.close()
        server = await asyncio.start_server(fake, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(AuthenticationRefused) as info:
            await PGConnection.connect("127.0.0.1", port, "u", "pw")
        assert str(info.value) == ("the server accepted the login before proving it knows the password "
                                   "(SCRAM exchange unfinished): refused")
        server.close()
        await server.wait_closed()
    run(main())


def test_trailing_bytes_after_ssl_answer_refused():
    async def main():
        async def fake(reader, writer):
            await reader.readexactly(8)
            writer.write(b"S\x16\x03\x01")  # not 'S' alone: may be a man in the middle's bytes
            await writer.drain()
            writer.close()
        server = await asyncio.start_server(fake, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        # the byte after 'S' is never read as plaintext: it goes to the TLS handshake, which fails
        with pytest.raises(ConnectError):
            await PGConnection.connect("127.0.0.1", port, "u", "pw", ssl_mode="require", connect_timeout=5)
        server.close()
        await server.wait_closed()
    run(main())


# --- queries ----------------------------------------------------------------------------------

def session(pg, body, **kw):
    """Run ``body(conn)`` on a fresh connection (TLS off: faster, and TLS is tested above)."""
    async def main():
        conn = await connect(pg, query={"sslmode": "disable"}, **kw)
        try:
            return await body(conn)
        finally:
            await conn.close()
    return run(main())


def test_fetch_types_and_records(postgres_server):
    async def body(conn):
        rows = await conn.fetch_all(
            "SELECT $1::int AS i, $2::text AS t, $3::numeric AS n, $4::timestamptz AS ts, $5::uuid AS u, "
            "$6::int[] AS a, NULL::text AS z, $7::bytea AS b, $8::bool AS f",
            [7, "héllo", decimal.Decimal("1.50"), datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc),
             uuid.UUID(int=5), [1, None, 3], b"\x00\xff", False])
        assert len(rows) == 1 and isinstance(rows[0], MappingRecord)
        assert dict(rows[0]) == {"i": 7, "t": "héllo", "n": decimal.Decimal("1.50"),
                                 "ts": datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc),
                                 "u": uuid.UUID(int=5), "a": [1, None, 3], "z": None, "b": b"\x00\xff",
                                 "f": False}
        assert rows[0][0] == 7
        assert await conn.fetch_all("SELECT g FROM generate_series(1, $1) g", [4]) == [
            {"g": 1}, {"g": 2}, {"g": 3}, {"g": 4}]
        assert await conn.fetch_all("SELECT g FROM generate_series(1, 10) g", limit=2) == [{"g": 1}, {"g": 2}]
        assert await conn.fetch_one("SELECT 1 AS x WHERE false") is None
        assert await conn.fetch_val("SELECT 'a', 'b'", column=1) == "b"
        assert await conn.fetch_val("SELECT 1 WHERE false") is None
        assert await conn.fetch_all("") == []
    session(postgres_server, body)


def test_execute_rowcount_and_statement_cache(postgres_server):
    async def body(conn):
        await conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY, name text)")
        assert await conn.execute("INSERT INTO t VALUES ($1, $2), ($3, $4)", [1, "a", 2, "b"]) == (2, None)
        assert await conn.execute("UPDATE t SET name = $1", ["c"]) == (2, None)
        cached = len(conn._statements)
        for i in range(3):
            assert await conn.fetch_val("SELECT name FROM t WHERE id = $1", [1]) == "c"
        assert len(conn._statements) == cached + 1  # one statement for three runs
        # the same SQL with another parameter type is another statement
        assert await conn.fetch_val("SELECT name FROM t WHERE id = $1", ["2"]) == "c"
        assert len(conn._statements) == cached + 2
        names = await conn.fetch_all("SELECT name FROM pg_prepared_statements ORDER BY name")
        assert len(names) == len(conn._statements)
    session(postgres_server, body)


def test_statement_cache_evicts_and_closes_on_the_server(postgres_server):
    async def body(conn):
        for i in range(5):
            assert await conn.fetch_val("SELECT %d" % i) == i
        assert [k[0] for k in conn._statements] == ["SELECT 2", "SELECT 3", "SELECT 4"]
        count = await conn.fetch_val("SELECT count(*) FROM pg_prepared_statements")
        assert count == 3  # the evicted two were Closed: only the cached ones (this one is cached after)
    session(postgres_server, body, statement_cache_size=3)


def test_execute_many_pipelines_in_one_implicit_transaction(postgres_server):
    async def body(conn):
        await conn.execute("CREATE TEMP TABLE m (id int PRIMARY KEY, v text)")
        assert await conn.execute_many("INSERT INTO m VALUES ($1, $2)", [(1, "a"), (2, None), (3, "c")]) == 3
        assert await conn.execute_many("INSERT INTO m VALUES ($1, $2)", []) == 0
        # NULL first, then an int: the parameter types merge
        await conn.execute("CREATE TEMP TABLE n (x bigint)")
        assert await conn.execute_many("INSERT INTO n VALUES ($1)", ((None,), (5,), (2 ** 40,))) == 3
        assert await conn.fetch_all("SELECT x FROM n ORDER BY x NULLS FIRST") == [{"x": None}, {"x": 5},
                                                                                    {"x": 2 ** 40}]
        with pytest.raises(UniqueViolation) as info:
            await conn.execute_many("INSERT INTO m VALUES ($1, $2)", [(4, "d"), (1, "dup"), (5, "e")])
        assert info.value.constraint_name == "m_pkey"
        assert await conn.fetch_val("SELECT count(*) FROM m") == 3  # all or nothing
        assert not conn.in_transaction
    session(postgres_server, body)


def test_server_errors_leave_the_connection_usable(postgres_server):
    async def body(conn):
        with pytest.raises(SQLSyntaxError) as info:
            await conn.fetch_all("SELEC 1")
        assert str(info.value) == 'syntax error at or near "SELEC"' and info.value.position == 1
        with pytest.raises(UndefinedTable):
            await conn.execute("DELETE FROM nowhere")
        with pytest.raises(IntegrityError):
            await conn.simple_query("CREATE TEMP TABLE u (id int UNIQUE); INSERT INTO u VALUES (1), (1)")
        with pytest.raises(Exception) as info:  # division by zero raised while rows stream
            await conn.fetch_all("SELECT 1 / (g - 3) FROM generate_series(1, 5) g")
        assert info.value.sqlstate == "22012"
        assert not conn.broken and conn.is_usable
        assert await conn.fetch_val("SELECT $1::text", ["still fine"]) == "still fine"
    session(postgres_server, body)


def test_encode_refusal_before_sending_keeps_the_connection(postgres_server):
    async def body(conn):
        with pytest.raises(TypeCodecError, match="cannot send a builtins.object to PostgreSQL"):
            await conn.fetch_all("SELECT $1", [object()])
        with pytest.raises(EncodeError):  # a NUL would end the query early: refused, not sent
            await conn.fetch_all("SELECT 1 -- \x00")
        with pytest.raises(CharacterNotInRepertoire):  # the server's refusal of a NUL in text
            await conn.fetch_all("SELECT $1::text", ["nul\x00inside"])
        assert not conn.broken
        assert await conn.fetch_val("SELECT 2") == 2
    session(postgres_server, body)


def test_simple_query_script(postgres_server):
    async def body(conn):
        results = await conn.simple_query("CREATE TEMP TABLE s (a int, b text); INSERT INTO s VALUES (1, 'x'), "
                                          "(2, NULL); SELECT a, b FROM s ORDER BY a")
        assert results == [QueryResult("CREATE TABLE", []), QueryResult("INSERT 0 2", []),
                           QueryResult("SELECT 2", [{"a": 1, "b": "x"}, {"a": 2, "b": None}])]
        assert await conn.simple_query("") == []
    session(postgres_server, body)


def test_notice_goes_to_logging(postgres_server, caplog):
    async def body(conn):
        with caplog.at_level("INFO", logger="covet.database.postgres"):
            await conn.simple_query("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
    session(postgres_server, body)
    assert [r.getMessage() for r in caplog.records] == ["PostgreSQL NOTICE: hello 42"]


def test_protocol_error_breaks_the_connection(postgres_server):
    async def body(conn):
        conn._parser.feed(b"\x01\x00\x00\x00\x04")  # garbage ahead of the server's reply
        with pytest.raises(ProtocolError):
            await conn.fetch_val("SELECT 1")
        assert conn.broken and conn.closed and not conn.is_usable
        with pytest.raises(OperationalError, match="the connection is broken"):
            await conn.fetch_val("SELECT 1")
    session(postgres_server, body)


# --- transactions -------------------------------------------------------------------------------

def test_transaction_status_and_savepoints(postgres_server):
    async def body(conn):
        await conn.execute("CREATE TEMP TABLE tx (v int)")
        await conn.begin()
        assert conn.in_transaction and conn.transaction_status == "T"
        await conn.execute("INSERT INTO tx VALUES (1)")
        await conn.savepoint("sp1")
        await conn.execute("INSERT INTO tx VALUES (2)")
        with pytest.raises(SQLSyntaxError):
            await conn.execute("INSERT INTO")
        assert conn.transaction_status == "E"
        with pytest.raises(InFailedSQLTransaction):
            await conn.fetch_val("SELECT 1")
        await conn.rollback_to_savepoint("sp1")
        assert conn.transaction_status == "T"
        await conn.savepoint("sp2")
        await conn.execute("INSERT INTO tx VALUES (3)")
        await conn.release_savepoint("sp2")
        await conn.commit()
        assert not conn.in_transaction and conn.transaction_status == "I"
        assert await conn.fetch_all("SELECT v FROM tx ORDER BY v") == [{"v": 1}, {"v": 3}]
        await conn.begin("serializable", readonly=True)
        assert await conn.fetch_val("SHOW transaction_isolation") == "serializable"
        assert await conn.fetch_val("SHOW transaction_read_only") == "on"
        await conn.rollback()
        assert not conn.in_transaction
        with pytest.raises(ValueError, match="a savepoint name is a plain identifier"):
            await conn.savepoint("x; DROP TABLE tx")
        with pytest.raises(ValueError, match="isolation must be one of"):
            await conn.begin("chaos")
    session(postgres_server, body)


# --- cancellation and timeouts -------------------------------------------------------------------

def test_cancelled_task_cancels_the_query_and_keeps_the_connection(postgres_server):
    async def body(conn):
        loop = asyncio.get_running_loop()
        watcher = await connect(postgres_server, query={"sslmode": "disable"})
        try:
            task = asyncio.ensure_future(conn.fetch_val("SELECT pg_sleep(10)"))
            # wait for the server to show the query running (no sleep-and-hope)
            while not await watcher.fetch_val(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' "
                    "AND query = 'SELECT pg_sleep(10)'", [conn.backend_pid]):
                await asyncio.sleep(0.01)
            started = loop.time()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert loop.time() - started < 1.0
            assert conn.is_usable and not conn.broken
            assert await conn.fetch_val("SELECT 'after'") == "after"
            # the backend is idle again, not still sleeping
            assert await watcher.fetch_val("SELECT state FROM pg_stat_activity WHERE pid = $1",
                                           [conn.backend_pid]) == "idle"
        finally:
            await watcher.close()
    session(postgres_server, body)


def test_statement_timeout(postgres_server):
    async def body(conn):
        with pytest.raises(QueryCanceled) as info:
            await conn.fetch_val("SELECT pg_sleep(5)")
        assert info.value.sqlstate == "57014"
        assert str(info.value) == "canceling statement due to statement timeout"
        await conn.set_statement_timeout(None)
        assert await conn.fetch_val("SHOW statement_timeout") == "0"
        await conn.set_statement_timeout(1.5)
        assert await conn.fetch_val("SHOW statement_timeout") == "1500ms"
    session(postgres_server, body, statement_timeout=0.1)


# --- LISTEN / NOTIFY ------------------------------------------------------------------------------

def test_listen_notify_while_idle_and_during_queries(postgres_server):
    async def body(conn):
        other = await connect(postgres_server, query={"sslmode": "disable"})
        try:
            await conn.listen("jobs")
            await conn.listen('odd "name"')
            received = []
            seen_two = asyncio.Event()

            async def consume():
                async for note in conn.notifications():
                    received.append((note.channel, note.payload, note.pid == other.backend_pid))
                    if len(received) == 3:
                        seen_two.set()
                        return

            consumer = asyncio.ensure_future(consume())
            await other.notify("jobs", "one")
            # a query on the listening connection meanwhile: it takes the socket from the idle reader
            assert await conn.fetch_val("SELECT 41 + 1") == 42
            await other.notify('odd "name"', "two")
            await other.execute("NOTIFY jobs, 'three'")
            await asyncio.wait_for(seen_two.wait(), 5)
            await consumer
            assert received == [("jobs", "one", True), ('odd "name"', "two", True), ("jobs", "three", True)]
            await conn.unlisten()
            assert await conn.fetch_val("SELECT count(*) FROM pg_listening_channels()") == 0
        finally:
            await other.close()
    session(postgres_server, body)


def test_notification_queue_is_bounded(postgres_server):
    async def body(conn):
        await conn.listen("flood")
        await conn.simple_query("SELECT pg_notify('flood', g::text) FROM generate_series(1, 5) g")
        assert conn.notifications_dropped == 2
        got = []
        async for note in conn.notifications():
            got.append(note.payload)
            if len(got) == 3:
                break
        assert got == ["3", "4", "5"]
    session(postgres_server, body, max_notifications=3)


def test_notifications_end_when_the_connection_closes(postgres_server):
    async def body(conn):
        async def consume():
            return [n async for n in conn.notifications()]
        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0)  # let it start waiting on the socket
        await conn.fetch_val("SELECT 1")  # takes the socket over and gives it back
        await conn.close()
        assert await asyncio.wait_for(consumer, 5) == []
    session(postgres_server, body)


# --- COPY ------------------------------------------------------------------------------------------

def test_copy_from_and_to(postgres_server):
    async def body(conn):
        await conn.execute("CREATE TEMP TABLE c (id int, name text)")
        assert await conn.copy_from("COPY c FROM STDIN", b"1\tAda\n2\tGrace\n") == 2

        async def more():
            yield "3\tBarbara\n"
            yield b"4\t\\N\n"
        assert await conn.copy_from("COPY c FROM STDIN", more()) == 2
        assert await conn.copy_from("COPY c FROM STDIN", [b"5\tE\n"]) == 1
        assert b"".join(await conn.copy_to("COPY c TO STDOUT")) == (
            b"1\tAda\n2\tGrace\n3\tBarbara\n4\t\\N\n5\tE\n")
        seen = []
        assert await conn.copy_to("COPY (SELECT id FROM c ORDER BY id) TO STDOUT (FORMAT csv)", seen.append) == 5
        assert b"".join(seen) == b"1\n2\n3\n4\n5\n"

        def broken():
            yield b"6\tF\n"
            raise RuntimeError("source failed")
        with pytest.raises(RuntimeError, match="source failed"):
            await conn.copy_from("COPY c FROM STDIN", broken())
        assert await conn.fetch_val("SELECT count(*) FROM c") == 5  # nothing of the failed COPY
        with pytest.raises(Exception) as info:
            await conn.copy_from("COPY c FROM STDIN", b"not a number\tx\n")
        assert info.value.sqlstate == "22P02"
        with pytest.raises(ValueError, match="copy_to\\(\\) needs a COPY ... TO STDOUT statement"):
            await conn.copy_to("SELECT 1")
        assert conn.is_usable
    session(postgres_server, body)


def test_close_sends_terminate(postgres_server):
    async def body(conn):
        watcher = await connect(postgres_server, query={"sslmode": "disable"})
        pid = conn.backend_pid
        await conn.close()
        await conn.close()  # twice: nothing
        # the backend exits on Terminate: wait for it to leave pg_stat_activity
        while await watcher.fetch_val("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [pid]):
            await asyncio.sleep(0.01)
        with pytest.raises(OperationalError, match="the connection is closed"):
            await conn.fetch_val("SELECT 1")
        await watcher.close()
    session(postgres_server, body)


def test_stale_cached_plan_is_dropped_and_prepared_again(postgres_server):
    async def body(conn):
        await conn.execute("CREATE TEMP TABLE st (a int)")
        await conn.execute("INSERT INTO st VALUES (1)")
        assert await conn.fetch_all("SELECT * FROM st") == [{"a": 1}]
        await conn.execute("ALTER TABLE st ADD COLUMN b text DEFAULT 'x'")
        with pytest.raises(Exception) as info:  # the cached plan's result type changed
            await conn.fetch_all("SELECT * FROM st")
        assert info.value.sqlstate == "0A000"
        assert await conn.fetch_all("SELECT * FROM st") == [{"a": 1, "b": "x"}]
        # the dropped statement was Closed on the server (its CloseComplete read in the next batch)
        names = await conn.fetch_all("SELECT name FROM pg_prepared_statements")
        assert {r["name"] for r in names} == {s.name for s in conn._statements.values()}
        # CREATE, INSERT, ALTER, the new SELECT * and this query; not the stale SELECT * (covet_3)
        assert sorted(r["name"] for r in names) == ["covet_1", "covet_2", "covet_4", "covet_5", "covet_6"]

        assert await conn.simple_query("SELECT 1 AS one") == [QueryResult("SELECT 1", [{"one": 1}])]
    session(postgres_server, body)


def test_a_value_that_fails_to_decode_is_raised_after_draining(postgres_server):
    from covet.database.postgres.types import DEFAULT_REGISTRY

    registry = DEFAULT_REGISTRY.copy()

    def refuse(data):
        raise ValueError("no thanks")
    registry.register_type(25, name="text", decode_text=refuse, decode_binary=refuse)

    async def body(conn):
        with pytest.raises(TypeCodecError):
            await conn.fetch_all("SELECT g::text FROM generate_series(1, 3) g")
        assert not conn.broken and conn.is_usable
        assert await conn.fetch_val("SELECT 5") == 5
    session(postgres_server, body, registry=registry)


def test_without_statement_cache_nothing_stays_prepared(postgres_server):
    async def body(conn):
        for i in range(3):
            assert await conn.fetch_val("SELECT $1::int * 2", [i]) == i * 2
        assert await conn.fetch_val("SELECT count(*) FROM pg_prepared_statements") == 0
    session(postgres_server, body, statement_cache_size=0)


def test_message_length_bound_breaks_the_connection(postgres_server):
    async def body(conn):
        assert await conn.fetch_val("SELECT repeat('x', 100)") == "x" * 100
        with pytest.raises(ProtocolError) as info:
            await conn.fetch_val("SELECT repeat('x', 5000)")
        assert str(info.value) == "DataRow message of 5010 bytes exceeds max_message_len=4096"
        assert conn.broken and conn.closed
    session(postgres_server, body, max_message_len=4096)


def test_cancelled_copy_from_sends_copy_fail(postgres_server):
    async def body(conn):
        await conn.execute("CREATE TEMP TABLE cc (v int)")
        first_sent = asyncio.Event()
        never = asyncio.Event()

        async def slow():
            yield b"1\n"
            first_sent.set()
            await never.wait()  # the data source stalls
            yield b"2\n"

        task = asyncio.ensure_future(conn.copy_from("COPY cc FROM STDIN", slow()))
        await first_sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert conn.is_usable and not conn.in_transaction
        assert await conn.fetch_val("SELECT count(*) FROM cc") == 0
    session(postgres_server, body)


def test_cancel_while_waiting_for_the_lock_sends_nothing(postgres_server):
    async def body(conn):
        first = asyncio.ensure_future(conn.fetch_val("SELECT 1"))
        second = asyncio.ensure_future(conn.fetch_val("SELECT 2"))
        await asyncio.sleep(0)  # both started: the second waits for the lock
        second.cancel()
        assert await first == 1
        with pytest.raises(asyncio.CancelledError):
            await second
        assert conn.is_usable and await conn.fetch_val("SELECT 3") == 3
    session(postgres_server, body)


def test_types_registered_by_name_are_resolved_at_connect(postgres_server, caplog):
    from covet.database.postgres.types import DEFAULT_REGISTRY

    registry = DEFAULT_REGISTRY.copy()
    registry.register_type("pg_lsn", decode_text=lambda text: ("lsn", text))
    registry.register_type("no_such_type", decode_text=str)

    async def body(conn):
        assert registry.unresolved_types() == ("no_such_type",)
        assert await conn.fetch_val("SELECT '0/16B3748'::pg_lsn") == ("lsn", "0/16B3748")
        assert await conn.fetch_val("SELECT ARRAY['0/1'::pg_lsn]") == [("lsn", "0/1")]
    with caplog.at_level("WARNING", logger="covet.database.postgres"):
        session(postgres_server, body, registry=registry)
    assert [r.getMessage() for r in caplog.records] == [
        "PostgreSQL types no_such_type are registered by name but not in this database: their values come back "
        "as text"]


def test_unix_socket_folder_as_host_and_cancel_through_it(postgres_server):
    async def main():
        conn = await PGConnection.connect(postgres_server.socket_dir, postgres_server.port, "postgres",
                                          database=postgres_server.database, ssl_mode="require")
        try:
            assert conn.tls is False  # a Unix socket never negotiates TLS (libpq's rule)
            assert await conn.fetch_val("SELECT current_user") == "postgres"
            assert await conn.fetch_val("SELECT client_addr FROM pg_stat_activity WHERE pid = pg_backend_pid()") is None
            task = asyncio.ensure_future(conn.fetch_val("SELECT pg_sleep(10)"))
            while not await postgres_probe(postgres_server, conn.backend_pid):
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await conn.fetch_val("SELECT 'usable'") == "usable"
        finally:
            await conn.close()
        with pytest.raises(ConnectError, match=r"cannot connect to /nonexistent/.s.PGSQL.5432: "):
            await PGConnection.connect("/nonexistent", 5432, "postgres")
    run(main())


async def postgres_probe(pg, pid):
    """Whether backend ``pid`` is running a query (seen from another connection)."""
    async with await connect(pg, query={"sslmode": "disable"}) as watcher:
        return await watcher.fetch_val("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' "
                                       "AND wait_event = 'PgSleep'", [pid])


def test_terminated_backend_raises_the_servers_error_and_breaks(postgres_server):
    async def body(conn):
        async with await connect(postgres_server, query={"sslmode": "disable"}) as admin:
            assert await admin.fetch_val("SELECT pg_terminate_backend($1)", [conn.backend_pid]) is True
            while await admin.fetch_val("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [conn.backend_pid]):
                await asyncio.sleep(0.01)
        with pytest.raises(AdminShutdown) as info:
            await conn.fetch_val("SELECT 1")
        assert info.value.sqlstate == "57P01"
        assert str(info.value) == "terminating connection due to administrator command"
        assert conn.broken and conn.closed
    session(postgres_server, body)


# --- a scripted server (runs without PostgreSQL): what covet sends and how it reads the replies -----

def _msg(kind, body):
    return kind + (len(body) + 4).to_bytes(4, "big") + body


def _status(name, value):
    return _msg(b"S", name.encode() + b"\x00" + value.encode() + b"\x00")


def test_scripted_trust_startup_and_one_query():
    seen = {}

    async def server(reader, writer):
        assert await reader.readexactly(8) == protocol.SSL_REQUEST
        writer.write(b"N")
        length = int.from_bytes(await reader.readexactly(4), "big")
        packet = await reader.readexactly(length - 4)
        words = packet[4:].split(b"\x00")
        seen["startup"] = dict(zip(words[0:-2:2], words[1:-2:2]))
        writer.write(_msg(b"R", b"\x00\x00\x00\x00") + _status("server_version", "16.4")
                     + _status("client_encoding", "UTF8")
                     + _msg(b"K", (4242).to_bytes(4, "big") + b"\x01\x02\x03\x04") + _msg(b"Z", b"I"))
        # Parse + Describe + Sync for the first use of the statement
        head = await reader.readexactly(5)
        parse = await reader.readexactly(int.from_bytes(head[1:], "big") - 4)
        seen["parse"] = (head[:1], parse)
        await reader.readexactly(len(protocol.describe("S", "covet_1")) + len(protocol.SYNC))
        field = b"n\x00" + b"\x00" * 6 + (23).to_bytes(4, "big") + (4).to_bytes(2, "big") + b"\xff\xff\xff\xff\x00\x00"
        writer.write(_msg(b"1", b"") + _msg(b"t", b"\x00\x01\x00\x00\x00\x17")
                     + _msg(b"T", b"\x00\x01" + field) + _msg(b"Z", b"I"))
        # Bind + Execute + Sync
        head = await reader.readexactly(5)
        seen["bind"] = await reader.readexactly(int.from_bytes(head[1:], "big") - 4)
        await reader.readexactly(len(protocol.execute("", 0)) + len(protocol.SYNC))
        writer.write(_msg(b"2", b"") + _msg(b"D", b"\x00\x01\x00\x00\x00\x04\x00\x00\x00\x2a")
                     + _msg(b"N", b"SNOTICE\x00Mhi\x00\x00") + _msg(b"C", b"SELECT 1\x00") + _msg(b"Z", b"I"))
        seen["terminate"] = await reader.read()
        writer.close()

    async def main():
        srv = await asyncio.start_server(server, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        conn = await PGConnection.connect("127.0.0.1", port, "app", None, "shop", application_name="api")
        assert (conn.backend_pid, conn.tls, conn.parameters) == (
            4242, False, {"server_version": "16.4", "client_encoding": "UTF8"})
        assert await conn.fetch_all("SELECT $1::int AS n", [42]) == [{"n": 42}]
        await conn.close()
        srv.close()
        await srv.wait_closed()

    run(main())
    assert seen["startup"] == {b"user": b"app", b"database": b"shop", b"client_encoding": b"UTF8",
                               b"DateStyle": b"ISO", b"IntervalStyle": b"postgres", b"TimeZone": b"UTC",
                               b"application_name": b"api"}
    # the int is declared int2, the smallest type that holds it, and sent in binary
    assert seen["parse"] == (b"P", b"covet_1\x00SELECT $1::int AS n\x00\x00\x01\x00\x00\x00\x15")
    # one binary parameter of 2 bytes; the int4 result column asked for in binary
    assert seen["bind"] == b"\x00covet_1\x00\x00\x01\x00\x01\x00\x01\x00\x00\x00\x02\x00\x2a\x00\x01\x00\x01"
    assert seen["terminate"] == protocol.TERMINATE


def test_copy_to_sink_error_is_raised_after_draining(postgres_server):
    async def body(conn):
        async def sink(chunk):
            raise OSError("disk full")
        with pytest.raises(OSError, match="disk full"):
            await conn.copy_to("COPY (SELECT g FROM generate_series(1, 1000) g) TO STDOUT", sink)
        assert conn.is_usable and not conn.broken
        assert await conn.fetch_val("SELECT 7") == 7
    session(postgres_server, body)
