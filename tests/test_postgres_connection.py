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
                                            UndefinedTable, UniqueViolation, InFailedSQLTransaction)
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
                                              "sslrootcert, connect_timeout, application_name, channel_binding)"),
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
