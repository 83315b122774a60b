"""TimingMiddleware: Server-Timing (W3C Server Timing §3: metric-name *( OWS ";" OWS param ),
dur in milliseconds, desc a token or quoted-string, RFC 9110 §5.6.4).
"""
import asyncio
import http.client
import re

import pytest

from covet import Covet, PlainTextResponse, Request
from covet.middleware import TimingMiddleware
from covet.testing import TestClient
from server_helpers import RunningServer

DUR = r"[0-9]+\.[0-9]{3}"


def make_app(**options):
    app = Covet()
    app.add_middleware(TimingMiddleware, **options)

    @app.get("/")
    async def index():
        return PlainTextResponse("ok")

    @app.get("/inner")
    async def inner():
        return PlainTextResponse("ok", headers={"Server-Timing": "db;dur=1.5"})

    @app.get("/slow")
    async def slow():
        # A measurable pause that ends on an event (a timer), not a sleep the test hopes about.
        done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.05, done.set_result, None)
        await done
        return PlainTextResponse("ok")

    return app


def test_server_timing_is_added():
    r = TestClient(make_app()).get("/")
    assert re.fullmatch("app;dur=" + DUR, r.headers["server-timing"])


def test_the_duration_is_the_time_the_app_took():
    r = TestClient(make_app()).get("/slow")
    dur = float(r.headers["server-timing"].split("dur=")[1])
    assert 50.0 <= dur < 5000.0


def test_an_inner_server_timing_is_kept():
    r = TestClient(make_app()).get("/inner")
    values = r.headers.getlist("server-timing")
    assert values[0] == "db;dur=1.5"
    assert re.fullmatch("app;dur=" + DUR, values[1])


def test_metric_and_description():
    r = TestClient(make_app(metric="total", description='covet "app" \\ 1')).get("/")
    assert re.fullmatch(r'total;desc="covet \\"app\\" \\\\ 1";dur=' + DUR, r.headers["server-timing"])


def test_only_when_asked():
    client = TestClient(make_app(when=lambda request: request.headers.get("x-debug") == "1"))
    assert "server-timing" not in client.get("/").headers
    assert re.fullmatch("app;dur=" + DUR, client.get("/", headers={"X-Debug": "1"}).headers["server-timing"])


@pytest.mark.parametrize("options", [{"metric": ""}, {"metric": "a b"}, {"metric": "a;b"},
                                     {"description": "line\r\nbreak"}, {"description": "\u20ac"}])
def test_bad_settings_fail_at_start_up(options):
    with pytest.raises(ValueError):
        TimingMiddleware(**options)


def test_over_the_wire():
    with RunningServer(make_app()) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.read() == b"ok"
            assert re.fullmatch("app;dur=" + DUR, resp.getheader("server-timing"))
        finally:
            conn.close()
