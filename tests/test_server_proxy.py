"""Proxy headers (trusted peers only, right-most untrusted hop) and the access log, over real sockets."""
import json
import logging
import re

import pytest

from server_helpers import RunningServer, make_app, read_response, recv_all

pytestmark = pytest.mark.slow


def info(srv, *headers):
    with srv.connect() as s:
        s.sendall(b"GET /info HTTP/1.1\r\nHost: app.test\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n")
        status, _, body, _ = read_response(s)
        port = s.getsockname()[1]
    assert status == "HTTP/1.1 200 OK"
    data = json.loads(body)
    assert data["client"][1] == port  # the port is always the peer's
    return data["client"][0], data["scheme"], data["url"]


@pytest.fixture(scope="module")
def default():
    # forwarded_allow_ips defaults to 127.0.0.1: the test client is a trusted proxy.
    with RunningServer(make_app()) as s:
        yield s


@pytest.fixture(scope="module")
def untrusted():
    with RunningServer(make_app(), forwarded_allow_ips="10.0.0.1") as s:
        yield s


def test_no_proxy_headers(default):
    assert info(default) == ("127.0.0.1", "http", "http://app.test/info")


def test_x_forwarded_for_from_a_trusted_peer(default):
    assert info(default, b"X-Forwarded-For: 203.0.113.7")[0] == "203.0.113.7"


def test_right_most_untrusted_hop_wins(default):
    # The left-most entry is whatever the client wrote; only the hop our proxy added counts
    # (uvicorn#1068).
    assert info(default, b"X-Forwarded-For: 6.6.6.6, 203.0.113.7")[0] == "203.0.113.7"


def test_trusted_hops_are_skipped_from_the_right(default):
    assert info(default, b"X-Forwarded-For: 203.0.113.7, 127.0.0.1")[0] == "203.0.113.7"


def test_several_x_forwarded_for_lines_are_one_list(default):
    assert info(default, b"X-Forwarded-For: 6.6.6.6", b"X-Forwarded-For: 203.0.113.9")[0] == "203.0.113.9"


def test_x_forwarded_proto(default):
    assert info(default, b"X-Forwarded-Proto: https") == ("127.0.0.1", "https", "https://app.test/info")


def test_x_forwarded_proto_with_a_bogus_value_is_ignored(default):
    assert info(default, b"X-Forwarded-Proto: javascript")[1] == "http"


def test_forwarded_header(default):
    assert info(default, b"Forwarded: for=198.51.100.2;proto=https") == (
        "198.51.100.2", "https", "https://app.test/info")


def test_forwarded_header_with_port_ipv6_and_several_elements(default):
    assert info(default, b"Forwarded: for=192.0.2.60:8080")[0] == "192.0.2.60"
    assert info(default, b'Forwarded: for="[2001:db8::1]:4711"')[0] == "2001:db8::1"
    assert info(default, b"Forwarded: for=6.6.6.6, for=198.51.100.3")[0] == "198.51.100.3"


def test_headers_from_an_untrusted_peer_are_ignored(untrusted):
    assert info(untrusted, b"X-Forwarded-For: 203.0.113.7", b"X-Forwarded-Proto: https",
                b"Forwarded: for=198.51.100.2;proto=https") == ("127.0.0.1", "http", "http://app.test/info")


def test_cidr_and_list_of_trusted_proxies():
    with RunningServer(make_app(), forwarded_allow_ips="127.0.0.0/8, 10.0.0.0/8") as srv:
        assert info(srv, b"X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.1.2.3")[0] == "203.0.113.7"


def test_trust_everything_takes_the_left_most_hop():
    # "*" means every hop is a trusted proxy, so the first address is believed: only for
    # deployments where nothing but the proxy can reach the server.
    with RunningServer(make_app(), forwarded_allow_ips="*") as srv:
        assert info(srv, b"X-Forwarded-For: 6.6.6.6, 203.0.113.7")[0] == "6.6.6.6"


# -- access log ---------------------------------------------------------------------------

LINE = re.compile(r'^127\.0\.0\.1:(\d+) - "GET /nope\?q=%1b\[31m HTTP/1\.1" 404 (\d+) (\d+\.\d)ms$')


def test_access_log_is_off_by_default(default, caplog):
    caplog.set_level(logging.INFO, logger="covet.access")
    info(default)
    assert [r for r in caplog.records if r.name == "covet.access"] == []


def test_access_log_line_format(caplog):
    caplog.set_level(logging.INFO, logger="covet.access")
    with RunningServer(make_app(), access_log=True, forwarded_allow_ips="") as srv, srv.connect() as s:
        s.sendall(b"GET /nope?q=%1b[31m HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(s)
        port = s.getsockname()[1]
    lines = [r.getMessage() for r in caplog.records if r.name == "covet.access"]
    assert len(lines) == 1
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert (int(m.group(1)), int(m.group(2))) == (port, len(body))


def test_access_log_escapes_control_characters_from_proxy_headers(caplog):
    # Field values may carry obs-text; as latin-1, \x9b is the C1 "CSI" a terminal obeys
    # (uvicorn CVE-2020-7694: escapes written to the log).
    caplog.set_level(logging.INFO, logger="covet.access")
    with RunningServer(make_app(), access_log=True) as srv, srv.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: evil\x9b2J\x85x\r\n\r\n")
        read_response(s)
    lines = [r.getMessage() for r in caplog.records if r.name == "covet.access"]
    assert len(lines) == 1
    assert lines[0].startswith("evil\\x9b2J\\x85x:")
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", lines[0])


def test_access_log_is_settled_at_start_from_the_loggers_level(caplog):
    # --log-level warning (or a covet.access logger above INFO) turns it off, and then no request
    # pays for building a line the logger would drop.
    caplog.set_level(logging.WARNING, logger="covet.access")
    with RunningServer(make_app(), access_log=True) as srv, srv.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert recv_all(s).startswith(b"HTTP/1.1 200 ")
        assert srv.server.access_log is False
    assert [r for r in caplog.records if r.name == "covet.access"] == []
    caplog.set_level(logging.INFO, logger="covet.access")
    with RunningServer(make_app(), access_log=True) as srv:
        assert srv.server.access_log is True


# -- root_path: the prefix a proxy strips ----------------------------------------------------------

def root_path_app():
    from covet import Covet, Request, WebSocket

    app = Covet()

    @app.get("/where")
    async def where(request: Request):
        return {"path": request.path, "root_path": request.root_path, "url": str(request.url),
                "me": request.url_for("where")}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(websocket.root_path)
        await websocket.close()

    return app


def test_root_path_goes_into_the_urls_the_app_makes_and_the_docs_page():
    with RunningServer(root_path_app(), root_path="/api") as srv:
        with srv.connect() as s:
            s.sendall(b"GET /where HTTP/1.1\r\nHost: app.test\r\n\r\n")
            status, _, body, _ = read_response(s)
            assert status == "HTTP/1.1 200 OK"
            assert json.loads(body) == {"path": "/where", "root_path": "/api", "url": "http://app.test/api/where",
                                        "me": "/api/where"}
            s.sendall(b"GET /docs HTTP/1.1\r\nHost: app.test\r\n\r\n")
            status, _, page, _ = read_response(s)
            assert status == "HTTP/1.1 200 OK"
            assert b'<script src="/api/docs/docs.js" defer></script>' in page
            s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: app.test\r\n\r\n")
            status, _, doc, _ = read_response(s)
            assert json.loads(doc)["servers"] == [{"url": "/api"}]
        with srv.connect() as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            data = b""
            # Until the first frame: unmasked text "/api" (RFC 6455 §5.2: 0x81, length 4). The
            # socket has a timeout: a frame that never comes fails the test.
            while b"\x81\x04/api" not in data:
                chunk = s.recv(4096)
                assert chunk, data
                data += chunk
            assert data.startswith(b"HTTP/1.1 101 ")


@pytest.mark.parametrize("bad", ["api", "/api/", "/a b", "/a?b", "/a#b", "/a\r\nX: y", 5])
def test_a_root_path_that_is_not_a_clean_path_is_refused(bad):
    from covet.server.config import ServerConfig

    with pytest.raises(ValueError, match="root_path must be empty or a path"):
        ServerConfig(root_path=bad)


def test_covet_run_takes_root_path_and_refuses_a_bad_one(capsys):
    from covet.cli import main

    assert main(["run", "--root-path", "/a b", "nowhere:app"]) == 2
    assert "root_path must be empty or a path" in capsys.readouterr().err
