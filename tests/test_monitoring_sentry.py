"""covet.monitoring.sentry: unhandled errors become Sentry envelopes, posted in the background to
a fake endpoint here, with secrets scrubbed and limits obeyed."""
import http.server
import json
import threading

import pytest

from covet import Covet
from covet.middleware import RequestIDMiddleware
from covet.monitoring.sentry import FILTERED, SentryIntegration, parse_dsn
from covet.testing import TestClient


class FakeSentry:
    """A Sentry envelope endpoint on 127.0.0.1: keeps what it receives; answers ``status`` with
    ``headers``."""

    def __init__(self, status=200, headers=None):
        self.received = []
        self.status, self.headers = status, headers or {}
        self.arrived = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.received.append((self.path, dict(self.headers), body))
                self.send_response(fake.status)
                for k, v in fake.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                fake.arrived.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def dsn(self, key="pub123", project=7):
        return "http://%s@127.0.0.1:%d/%d" % (key, self.port, project)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = FakeSentry()
    yield server
    server.close()


def envelope(body):
    header, item, payload, rest = body.split(b"\n", 3)
    assert rest == b""
    item = json.loads(item)
    assert item["type"] == "event" and item["length"] == len(payload)
    return json.loads(header), json.loads(payload)


def test_parse_dsn():
    assert parse_dsn("https://abc@o1.ingest.sentry.io/42") == ("https://o1.ingest.sentry.io/api/42/envelope/", "abc")
    assert parse_dsn("http://k@localhost:9000/sentry/3") == ("http://localhost:9000/sentry/api/3/envelope/", "k")
    for bad in ("https://o1.ingest.sentry.io/42", "ftp://k@h/1", "https://k@h/project"):
        with pytest.raises(ValueError):
            parse_dsn(bad)


def test_an_unhandled_error_becomes_a_scrubbed_event(fake):
    sentry = SentryIntegration(dsn=fake.dsn(), environment="staging", release="shop@1.4.2", server_name="web-1",
                               tags={"region": "eu"})
    app = Covet()
    app.add_middleware(RequestIDMiddleware)
    app.add_integration(sentry)

    @app.get("/pay")
    async def pay():
        try:
            {}["card"]
        except KeyError as exc:
            raise ValueError("payment failed for ada@example.com") from exc

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/pay?password=hunter2&page=2", headers={
            "Authorization": "Bearer abc", "Cookie": "session=s3cret", "X-Request-ID": "rid-5", "User-Agent": "t"})
    assert response.status_code == 500
    assert sentry.flush(10) and len(fake.received) == 1
    path, headers, body = fake.received[0]
    assert path == "/api/7/envelope/" and headers["Content-Type"] == "application/x-sentry-envelope"
    assert headers["X-Sentry-Auth"] == "Sentry sentry_version=7, sentry_key=pub123, sentry_client=covet.python/1.0"
    head, event = envelope(body)
    assert head["event_id"] == event["event_id"] and head["dsn"] == fake.dsn()
    assert (event["level"], event["environment"], event["release"], event["server_name"], event["platform"]) == (
        "error", "staging", "shop@1.4.2", "web-1", "python")
    assert event["tags"] == {"region": "eu", "request_id": "rid-5"}
    first, last = event["exception"]["values"]
    assert (first["type"], last["type"], last["value"]) == ("KeyError", "ValueError", "payment failed for [email]")
    frame = last["stacktrace"]["frames"][-1]
    assert frame["function"] == "pay" and frame["in_app"] is True
    assert frame["context_line"].strip() == 'raise ValueError("payment failed for ada@example.com") from exc'
    assert len(frame["pre_context"]) == 5 and frame["abs_path"].endswith("test_monitoring_sentry.py")
    request = event["request"]
    assert request["method"] == "GET" and request["url"].endswith("/pay")
    assert request["headers"]["authorization"] == FILTERED and request["headers"]["cookie"] == FILTERED
    assert request["headers"]["user-agent"] == "t"
    assert request["query_string"] == "password=%5BFiltered%5D&page=2"
    # (the test's own source lines, sent as the frame's context, do hold the word: not the request)
    assert "hunter2" not in json.dumps(request) and "s3cret" not in json.dumps(request)


def test_manual_capture_messages_and_no_dsn(fake):
    sentry = SentryIntegration(dsn=fake.dsn())
    try:
        raise RuntimeError("by hand")
    except RuntimeError as e:
        event_id = sentry.capture_exception(e, extra={"order": 7, "token": "t0k"})
    assert len(event_id) == 32
    assert sentry.capture_message("disk at 91%", level="warning")
    assert sentry.capture_exception() is None  # nothing being handled
    assert sentry.flush(10)
    events = [envelope(body)[1] for _, _, body in fake.received]
    assert events[0]["event_id"] == event_id and events[0]["extra"] == {"order": 7, "token": FILTERED}
    assert (events[1]["level"], events[1]["message"]) == ("warning", {"formatted": "disk at 91%"})
    quiet = SentryIntegration(dsn=None)
    assert quiet.capture_message("x") is None and quiet.capture_exception(ValueError()) is None


def test_the_client_and_the_server_limits_are_obeyed():
    limited = FakeSentry(status=429, headers={"Retry-After": "120"})
    try:
        sentry = SentryIntegration(dsn=limited.dsn(), max_events_per_minute=2)
        assert sentry.capture_message("one") and sentry.flush(10)
        assert sentry.capture_message("two") is None  # the server said: not for 120 s
        assert sentry.dropped == 2 and len(limited.received) == 1
    finally:
        limited.close()
    ok = FakeSentry()
    try:
        sentry = SentryIntegration(dsn=ok.dsn(), max_events_per_minute=2)
        assert [bool(sentry.capture_message(str(i))) for i in range(3)] == [True, True, False]
        assert sentry.flush(10) and len(ok.received) == 2 and sentry.dropped == 1
    finally:
        ok.close()


def test_a_dead_sentry_never_fails_the_request():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    sentry = SentryIntegration(dsn="http://k@127.0.0.1:%d/1" % port, timeout=1)
    app = Covet()
    app.add_integration(sentry)

    @app.get("/boom")
    def boom():
        raise RuntimeError("x")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    assert sentry.flush(10) and sentry.sent == 0 and sentry.dropped == 1


def test_bad_settings():
    with pytest.raises(ValueError, match="traces_sample_rate"):
        SentryIntegration(dsn=None, traces_sample_rate=2)
    with pytest.raises(ValueError, match="DSN"):
        SentryIntegration(dsn="not a dsn")
