"""RequestIDMiddleware: a valid incoming X-Request-ID is kept, anything else replaced, the id is on
request.state and in the response (header values must not carry CR/LF, RFC 9110 §5.5; ids land in
logs, where control characters forge lines, uvicorn CVE-2020-7694).
"""
import http.client
import logging
import re

import pytest

from covet import Covet, PlainTextResponse, Request
from covet.middleware import RequestIDMiddleware
from covet.middleware.request_id import MAX_REQUEST_ID_LENGTH, new_request_id
from covet.testing import TestClient
from server_helpers import RunningServer

HEX32 = re.compile(r"[0-9a-f]{32}")


def make_app(**options):
    app = Covet()
    app.add_middleware(RequestIDMiddleware, **options)

    @app.get("/")
    async def index(request: Request):
        return {"request_id": request.state.request_id}

    @app.get("/sets-its-own")
    async def own():
        return PlainTextResponse("x", headers={"X-Request-ID": "from-handler"})

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    return app


@pytest.fixture
def client():
    return TestClient(make_app(), raise_server_exceptions=False)


def test_a_new_id_is_made_when_none_is_sent(client):
    r = client.get("/")
    rid = r.json()["request_id"]
    assert HEX32.fullmatch(rid)
    assert r.headers.getlist("x-request-id") == [rid]
    assert client.get("/").json()["request_id"] != rid  # one per request


@pytest.mark.parametrize("incoming", [
    "abc", "3f2a9c1e-7b4d-4e0a-9c1e-7b4d4e0a9c1e", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "Root=1-67891233-abcdef012345678912345678", "a.b_c~d:e+f/g=h@i", "x" * MAX_REQUEST_ID_LENGTH,
])
def test_a_valid_incoming_id_is_kept(client, incoming):
    r = client.get("/", headers={"X-Request-ID": incoming})
    assert r.json() == {"request_id": incoming}
    assert r.headers.getlist("x-request-id") == [incoming]


@pytest.mark.parametrize("incoming", [
    "", " ", "x" * (MAX_REQUEST_ID_LENGTH + 1), "has space", "quote\"d", "semi;colon", "com,ma", "tab\tx",
    "<script>", "caf\u00e9", "back\\slash", "new\x7fline", "(paren)", "x" * 100000,
])
def test_an_invalid_incoming_id_is_replaced(client, incoming):
    r = client.get("/", headers={"X-Request-ID": incoming})
    assert r.status_code == 200
    rid = r.json()["request_id"]
    assert HEX32.fullmatch(rid)
    assert r.headers.getlist("x-request-id") == [rid]


def test_surrounding_whitespace_is_not_part_of_the_id(client):
    assert client.get("/", headers={"X-Request-ID": "  abc  "}).json() == {"request_id": "abc"}


def test_the_header_name_is_configurable():
    client = TestClient(make_app(header_name="X-Correlation-ID"))
    r = client.get("/", headers={"X-Correlation-ID": "corr-1", "X-Request-ID": "ignored"})
    assert r.json() == {"request_id": "corr-1"}
    assert r.headers["x-correlation-id"] == "corr-1"
    assert "x-request-id" not in r.headers


def test_incoming_ids_can_be_ignored():
    r = TestClient(make_app(trust_incoming=False)).get("/", headers={"X-Request-ID": "chosen-by-client"})
    assert HEX32.fullmatch(r.json()["request_id"])


def test_max_length_and_generator_are_configurable():
    client = TestClient(make_app(max_length=4, generator=lambda: "generated"))
    assert client.get("/", headers={"X-Request-ID": "abcd"}).json() == {"request_id": "abcd"}
    assert client.get("/", headers={"X-Request-ID": "abcde"}).json() == {"request_id": "generated"}


def test_the_middleware_id_replaces_one_the_handler_set(client):
    r = client.get("/sets-its-own", headers={"X-Request-ID": "mine"})
    assert r.headers.getlist("x-request-id") == ["mine"]


def test_an_error_answer_carries_the_id(client):
    r = client.get("/missing", headers={"X-Request-ID": "trace-41"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "trace-41"


def test_the_log_of_an_unhandled_error_names_the_id(client, caplog):
    # The 500 itself is made by the app after every middleware has returned (docs/middleware.md).
    with caplog.at_level(logging.ERROR, logger="covet.error"):
        r = client.get("/boom", headers={"X-Request-ID": "trace-42"})
    assert r.status_code == 500
    assert "(request id trace-42)" in caplog.text


def test_new_ids_are_random_hex():
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(HEX32.fullmatch(i) for i in ids)


@pytest.mark.parametrize("options", [{"max_length": 0}, {"header_name": "bad name"}, {"header_name": "a\r\nb"},
                                     {"header_name": "x(y)"}])
def test_bad_settings_fail_at_start_up(options):
    with pytest.raises(ValueError):
        RequestIDMiddleware(**options)


def test_over_the_wire():
    with RunningServer(make_app()) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            conn.request("GET", "/", headers={"X-Request-ID": "wire-1"})
            resp = conn.getresponse()
            assert resp.read() == b'{"request_id":"wire-1"}'
            assert resp.getheader("x-request-id") == "wire-1"
            conn.request("GET", "/", headers={"X-Request-ID": "bad id"})
            resp = conn.getresponse()
            rid = resp.getheader("x-request-id")
            assert HEX32.fullmatch(rid) and resp.read() == b'{"request_id":"%s"}' % rid.encode()
        finally:
            conn.close()


def test_the_log_names_the_id_the_middleware_chose_not_a_refused_one(client, caplog):
    # A client's id that the middleware refused (here: too long) never reaches the log; the
    # one it generated in its place does (a client could otherwise write 500 bytes into it).
    with caplog.at_level(logging.ERROR, logger="covet.error"):
        r = client.get("/boom", headers={"X-Request-ID": "x" * 500})
    assert r.status_code == 500
    assert "x" * 500 not in caplog.text
    assert "(request id " in caplog.text
