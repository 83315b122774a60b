"""TLS with a throw-away certificate made by ``openssl`` for the test (skipped when openssl is absent)."""
import http.client
import json
import shutil
import ssl
import subprocess

import pytest

from server_helpers import CLIENT_TIMEOUT, RunningServer, make_app, read_response, recv_all

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate"),
]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """(certfile, keyfile): a self-signed P-256 certificate for localhost and 127.0.0.1, valid one day."""
    d = tmp_path_factory.mktemp("tls")
    certfile, keyfile = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", keyfile, "-out", certfile, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
    )
    return certfile, keyfile


@pytest.fixture(scope="module")
def tls_server(cert):
    # The head deadline is also the TLS handshake's: a second, not less, so a loaded machine still
    # finishes the handshake of the tests that expect one in time.
    with RunningServer(make_app(), ssl_certfile=cert[0], ssl_keyfile=cert[1], head_timeout=1.0) as s:
        yield s


def client_context(cert):
    ctx = ssl.create_default_context(cafile=cert[0])
    return ctx


def test_https_request_with_http_client(tls_server, cert):
    conn = http.client.HTTPSConnection("127.0.0.1", tls_server.port, timeout=CLIENT_TIMEOUT,
                                       context=client_context(cert))
    try:
        conn.request("GET", "/info")
        r = conn.getresponse()
        assert r.status == 200
        data = json.loads(r.read())
        assert data["scheme"] == "https"
        assert data["url"] == "https://127.0.0.1:%d/info" % tls_server.port
        conn.request("POST", "/echo", body=b"over tls")  # same TLS connection, kept alive
        assert conn.getresponse().read() == b"over tls"
    finally:
        conn.close()


def test_tls_pipelining(tls_server, cert):
    raw = tls_server.connect()
    with client_context(cert).wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"".join(b"GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5)))
        rest = b""
        for i in range(5):
            status, _, body, rest = read_response(s, rest)
            assert body == b"n=%d" % i


def test_plain_http_on_the_tls_port_is_dropped_and_the_server_lives_on(tls_server, cert):
    with tls_server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = recv_all(s)
        except ConnectionResetError:
            data = b""
    assert not data.startswith(b"HTTP/1.1 200")
    test_https_request_with_http_client(tls_server, cert)


def test_silent_connection_on_the_tls_port_is_closed_by_the_head_deadline(tls_server):
    # A client that never starts the handshake must not hold a connection slot for
    # asyncio's default 60 s handshake timeout.
    with tls_server.connect() as s:
        try:
            assert recv_all(s) == b""
        except ConnectionResetError:
            pass


def test_client_that_stalls_after_the_handshake_gets_408(tls_server, cert):
    raw = tls_server.connect()
    with client_context(cert).wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        try:
            data = recv_all(s)
        except ssl.SSLEOFError:
            pytest.fail("the server closed without close_notify")
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_bad_certificate_files_are_reported(tmp_path):
    from covet.server.server import ServerConfig

    with pytest.raises(FileNotFoundError):
        ServerConfig(ssl_certfile=str(tmp_path / "missing.pem"), ssl_keyfile=str(tmp_path / "missing.key"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ssl.SSLError):
        ServerConfig(ssl_certfile=str(junk), ssl_keyfile=str(junk))


def test_cli_serves_https(cert, tmp_path):
    from server_helpers import CovetProcess

    (tmp_path / "tls_app.py").write_text("from covet import Covet\napp = Covet()\napp.add_route('/', lambda: 'secure')\n")
    with CovetProcess(["run", "tls_app.py", "--port", "0", "--ssl-certfile", cert[0], "--ssl-keyfile", cert[1]],
                      cwd=str(tmp_path)) as p:
        port = int(p.wait_for(r"^covet: serving on https://127\.0\.0\.1:(\d+) ", stream="out").group(1))
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT, context=client_context(cert))
        try:
            conn.request("GET", "/")
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, b"secure")
        finally:
            conn.close()
        assert p.stop() == 0
