"""The PostgreSQL test server (tests/pg_fixture.py) is what later tests rely on: TLS that verifies
for 127.0.0.1 and localhost, one role per authentication method, refusals of wrong passwords, a
clean stop, and a clear skip where the binaries are missing.

psql (from the same package) is the client here, and only here: covet's own client is tested
against this server by its own tests.
"""
import hashlib
import os
import pathlib
import re
import socket
import ssl
import subprocess
import sys

import pytest

from pg_fixture import (BINDIR_ENV, SSL_REQUEST, USERS, PostgresServer, find_bindir, ssl_request,
                        unavailable_reason)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def psql(server, conninfo, sql, password=None):
    """Run ``sql`` with psql on ``conninfo`` (a URL or key=value string), PGPASSWORD=``password``.

    -w: never prompt (a missing password is an error, not a hang); no PG* variable of the caller's
    reaches it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if password is not None:
        env["PGPASSWORD"] = password
    return subprocess.run([server.binary("psql"), "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-d", conninfo,
                           "-c", sql], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60)


def conninfo(server, user, host="127.0.0.1", sslmode="verify-full"):
    """A libpq key=value string without a password (that comes from PGPASSWORD)."""
    return "host=%s port=%d user=%s dbname=%s sslmode=%s sslrootcert=%s" % (
        host, server.port, user, server.database, sslmode, server.ca_file)


def tls_socket(server, hostname, context):
    """A TCP connection switched to TLS the PostgreSQL way: SSLRequest, b"S", then the handshake."""
    sock = socket.create_connection((server.host, server.port), timeout=5)
    try:
        sock.sendall(SSL_REQUEST)
        assert sock.recv(1) == b"S"
        return context.wrap_socket(sock, server_hostname=hostname)
    except BaseException:
        sock.close()
        raise


# -- the server --------------------------------------------------------------------------------------

def test_ssl_request_is_answered_with_s(postgres_server):
    with socket.create_connection((postgres_server.host, postgres_server.port), timeout=5) as sock:
        sock.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
        assert sock.recv(1) == b"S"
    assert ssl_request(postgres_server.host, postgres_server.port) == b"S"


@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost"])
def test_certificate_verifies_with_the_ca_for_both_names(postgres_server, hostname):
    context = ssl.create_default_context(cafile=postgres_server.ca_file)  # strict checks on 3.13
    with tls_socket(postgres_server, hostname, context) as tls:
        cert = tls.getpeercert()
    assert cert["subjectAltName"] == (("IP Address", "127.0.0.1"), ("DNS", "localhost"))
    assert cert["subject"] == ((("commonName", "localhost"),),)
    assert cert["issuer"] == ((("commonName", "covet test CA"),),)


def test_certificate_is_refused_for_another_name_or_without_the_ca(postgres_server):
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        tls_socket(postgres_server, "example.com", ssl.create_default_context(cafile=postgres_server.ca_file))
    assert "Hostname mismatch, certificate is not valid for 'example.com'" in str(info.value)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        tls_socket(postgres_server, "localhost", ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # trusts no CA
    assert "unable to get local issuer certificate" in str(info.value)


def test_settings_for_a_fast_deterministic_server(postgres_server):
    done = psql(postgres_server, conninfo(postgres_server, "postgres"),
                "SELECT current_setting('fsync'), current_setting('TimeZone'), current_setting('server_encoding'),"
                " current_setting('lc_messages'), current_setting('listen_addresses'), current_setting('ssl'),"
                " current_setting('unix_socket_directories') = %s" % ("'%s'" % postgres_server.socket_dir),
                password=postgres_server.password)
    assert (done.returncode, done.stdout, done.stderr) == (0, "off|UTC|UTF8|C|127.0.0.1|on|t\n", "")


# -- authentication ------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_psql_scram_over_tls_verify_full(postgres_server, host):
    done = psql(postgres_server, conninfo(postgres_server, "postgres", host=host),
                "SELECT 1", password=postgres_server.password)
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")
    done = psql(postgres_server, conninfo(postgres_server, "postgres", host=host),
                "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                password=postgres_server.password)
    assert (done.returncode, done.stdout, done.stderr) == (0, "postgres|t\n", "")


def test_url_carries_user_password_and_query(postgres_server):
    url = postgres_server.url("md5user", sslmode="verify-full", sslrootcert=postgres_server.ca_file)
    done = psql(postgres_server, url, "SELECT current_user, current_database()")
    assert (done.returncode, done.stdout, done.stderr) == (0, "md5user|covet_test\n", "")


@pytest.mark.parametrize("user", ["postgres", "md5user", "clearuser", "trustuser"])
@pytest.mark.parametrize("sslmode", ["verify-full", "disable"])
def test_each_role_logs_in_with_tls_and_without(postgres_server, user, sslmode):
    done = psql(postgres_server, conninfo(postgres_server, user, sslmode=sslmode),
                "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                password=USERS[user].password)
    ssl_used = "f" if sslmode == "disable" else "t"
    assert (done.returncode, done.stdout, done.stderr) == (0, "%s|%s\n" % (user, ssl_used), "")


def test_each_role_meets_its_own_hba_line(postgres_server):
    done = psql(postgres_server, conninfo(postgres_server, "postgres"),
                "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','), coalesce(address, ''),"
                " auth_method, error IS NULL FROM pg_hba_file_rules ORDER BY line_number",
                password=postgres_server.password)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "local|all|all||trust|t",
        "host|all|md5user|127.0.0.1|md5|t",
        "host|all|clearuser|127.0.0.1|password|t",
        "host|all|trustuser|127.0.0.1|trust|t",
        "host|all|all|127.0.0.1|scram-sha-256|t",
    ]


def test_passwords_are_stored_in_the_form_their_method_needs(postgres_server):
    # An md5 line with a SCRAM verifier stored would silently do SCRAM: md5user's must be md5.
    done = psql(postgres_server, conninfo(postgres_server, "postgres"),
                "SELECT rolname, coalesce(rolpassword, '<none>') FROM pg_authid"
                " WHERE rolname IN ('postgres', 'md5user', 'clearuser', 'trustuser') ORDER BY rolname",
                password=postgres_server.password)
    rows = dict(line.split("|", 1) for line in done.stdout.splitlines())
    assert sorted(rows) == ["clearuser", "md5user", "postgres", "trustuser"]
    assert rows["md5user"] == "md5" + hashlib.md5(b"md5-secretmd5user").hexdigest()
    assert rows["postgres"].startswith("SCRAM-SHA-256$4096:")
    assert rows["clearuser"].startswith("SCRAM-SHA-256$4096:")
    assert rows["trustuser"] == "<none>"


@pytest.mark.parametrize("user", ["postgres", "md5user", "clearuser", "nosuchuser"])
def test_wrong_password_is_refused(postgres_server, user):
    done = psql(postgres_server, conninfo(postgres_server, user), "SELECT 1", password="wrong")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.endswith('FATAL:  password authentication failed for user "%s"\n' % user)


def test_missing_password_is_refused(postgres_server):
    done = psql(postgres_server, conninfo(postgres_server, "postgres"), "SELECT 1")
    assert done.returncode == 2
    assert done.stderr.endswith("fe_sendauth: no password supplied\n")


def test_test_roles_may_create_tables_in_the_test_database(postgres_server):
    done = psql(postgres_server, conninfo(postgres_server, "md5user"),
                "CREATE TABLE pg_fixture_probe (id int); INSERT INTO pg_fixture_probe VALUES (7);"
                " SELECT id FROM pg_fixture_probe; DROP TABLE pg_fixture_probe",
                password=USERS["md5user"].password)
    assert (done.returncode, done.stdout, done.stderr) == (0, "7\n", "")


# -- the helper's API --------------------------------------------------------------------------------

def test_url_quotes_and_defaults(postgres_server):
    port = postgres_server.port
    assert postgres_server.url() == "postgresql://postgres:scram-secret@127.0.0.1:%d/covet_test" % port
    assert postgres_server.url("trustuser") == "postgresql://trustuser@127.0.0.1:%d/covet_test" % port
    assert postgres_server.url("md5user", sslmode="verify-full", sslrootcert="/a b/ca.crt") == (
        "postgresql://md5user:md5-secret@127.0.0.1:%d/covet_test?sslmode=verify-full&sslrootcert=/a%%20b/ca.crt" % port)
    assert postgres_server.url("a@b", password="p:w/@?", database="x/y") == (
        "postgresql://a%%40b:p%%3Aw%%2F%%40%%3F@127.0.0.1:%d/x%%2Fy" % port)
    assert postgres_server.url("nosuchuser") == "postgresql://nosuchuser@127.0.0.1:%d/covet_test" % port
    assert postgres_server.url("postgres", password="") == "postgresql://postgres:@127.0.0.1:%d/covet_test" % port


def test_find_bindir_honours_the_override(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(BINDIR_ENV, str(empty))
    assert find_bindir() == (None, "PostgreSQL server binaries not found (Debian package postgresql): "
                                   "no initdb/postgres/psql in %s=%s" % (BINDIR_ENV, empty))
    assert unavailable_reason() == find_bindir()[1]
    full = tmp_path / "full"
    full.mkdir()
    for name in ("initdb", "postgres"):
        (full / name).write_text("#!/bin/sh\n")
        (full / name).chmod(0o755)
    (full / "psql").write_text("#!/bin/sh\n")  # not executable: not a psql
    monkeypatch.setenv(BINDIR_ENV, str(full))
    assert find_bindir()[0] is None
    (full / "psql").chmod(0o755)
    assert find_bindir() == (str(full), "")


@pytest.mark.slow
def test_tests_skip_with_the_reason_when_the_binaries_are_hidden(tmp_path):
    env = dict(os.environ, **{BINDIR_ENV: str(tmp_path)})
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                           "tests/test_pg_fixture.py", "-k", "scram_over_tls or ssl_request"],
                          cwd=str(ROOT), capture_output=True, text=True, env=env, timeout=120)
    reason = ("PostgreSQL server binaries not found (Debian package postgresql): no initdb/postgres/psql in "
              "%s=%s" % (BINDIR_ENV, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^3 skipped, \d+ deselected in ", done.stdout, re.M), done.stdout
    # Said once on the terminal, whatever the reporting options, and listed under -rs for all three.
    assert done.stdout.count("[postgres tests] skipped: " + reason + "\n") == 1
    listed = re.findall(r"^SKIPPED \[(\d+)\] tests/test_pg_fixture.py:\d+: (.*)$", done.stdout, re.M)
    assert sorted(set(r for _, r in listed)) == [reason]
    assert sum(int(n) for n, _ in listed) == 3


@pytest.mark.slow
def test_benchmark_script_serves_a_command_then_stops_and_leaves_nothing(postgres_server):
    # benchmarks/pg_server.py: a server of its own (a second PostgresServer, run to its end by the
    # with block), its URL in DATABASE_URL for the command, the command's exit code for its own.
    # postgres_server first: skips here too without the binaries.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    command = [postgres_server.binary("psql"), "-X", "-q", "-A", "-t", "-w", "-c",
               "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]
    done = subprocess.run([sys.executable, "benchmarks/pg_server.py", "--user", "md5user", "--sslmode", "verify-full",
                           "--", "sh", "-c", 'exec "$@" -d "$DATABASE_URL"; exit 9', "sh", *command],
                          cwd=str(ROOT), capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    url, answer = done.stdout.splitlines()
    folder = re.search(r"^pg_server: PostgreSQL in (\S+) ", done.stderr, re.M).group(1)
    port = int(re.search(r"@127\.0\.0\.1:(\d+)/", url).group(1))
    assert url == ("postgresql://md5user:md5-secret@127.0.0.1:%d/covet_test"
                   "?sslmode=verify-full&sslrootcert=%s/tls/ca.crt" % (port, folder))
    assert answer == "md5user|t"
    assert port != postgres_server.port
    assert not os.path.exists(folder)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.slow
def test_a_server_that_cannot_start_says_why_and_leaves_nothing(postgres_server, monkeypatch):
    made = []
    real_mkdtemp = __import__("tempfile").mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr("tempfile.mkdtemp", recording_mkdtemp)
    with pytest.raises(RuntimeError) as info:
        PostgresServer(settings={"shared_buffers": "plenty"})
    assert str(info.value).startswith("postgres exited with 1 before it was ready: ")
    assert 'invalid value for parameter "shared_buffers": "plenty"' in str(info.value)
    assert len(made) == 1 and not os.path.exists(made[0])
