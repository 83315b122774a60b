"""covet.logging: JSON lines, the request's context in every line, personal data masked."""
import asyncio
import io
import json
import logging
import uuid

import pytest

from covet import Covet
from covet.logging import (JSONFormatter, PIIFilter, StructuredLogger, configure_logging, current_context,
                           log_context, luhn_valid, mask_pii)
from covet.middleware import RequestIDMiddleware
from server_helpers import RunningServer, read_response


def record(msg="hello %s", args=("world",), level=logging.INFO, name="shop", exc_info=None, **extra):
    rec = logging.LogRecord(name, level, __file__, 10, msg, args, exc_info)
    rec.__dict__.update(extra)
    return rec


def test_a_record_is_one_json_line_with_context_extra_and_static_fields():
    formatter = JSONFormatter(static_fields={"service": "shop"})
    with log_context(request_id="r-1", user=7):
        with log_context(user=8, step="pay"):
            line = formatter.format(record(order=12, payload={"a": [1, 2]}))
            assert current_context() == {"request_id": "r-1", "user": 8, "step": "pay"}
        assert current_context() == {"request_id": "r-1", "user": 7}
    assert current_context() == {}
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:4] == ["timestamp", "level", "logger", "message"]
    assert data["timestamp"].endswith("Z") and len(data["timestamp"]) == 24
    del data["timestamp"]
    assert data == {"level": "INFO", "logger": "shop", "message": "hello world", "request_id": "r-1", "user": 8,
                    "step": "pay", "order": 12, "payload": {"a": [1, 2]}, "service": "shop"}


def test_exceptions_newlines_and_values_json_cannot_write():
    formatter = JSONFormatter()
    try:
        raise ValueError("bad\nline")
    except ValueError:
        import sys
        rec = record("failed: %s", ("x\ny",), exc_info=sys.exc_info(), when=uuid.UUID(int=1), raw=b"\xff")
    line = formatter.format(rec)
    assert line.count("\n") == 0  # a message cannot forge a second line
    data = json.loads(line)
    assert data["message"] == "failed: x\ny"
    assert data["exception"].startswith("Traceback") and "ValueError: bad\nline" in data["exception"]
    assert data["when"] == "00000000-0000-0000-0000-000000000001" and data["raw"] == "b'\\xff'"


@pytest.mark.parametrize("text, masked", [
    ("mail ada@example.com now", "mail [email] now"),
    ("card 4111 1111 1111 1111 ok", "card [card] ok"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("card 4111111111111111", "card [card]"),
    ("order 4111111111111112", "order 4111111111111112"),      # fails Luhn: an order number stays
    ("phone 0612345678", "phone 0612345678"),                   # too short for a card
    ("Authorization: Bearer eyJhbGciOi.J9.sig-_x=", "Authorization: Bearer [masked]"),
    ("basic dXNlcjpwYXNz", "basic [masked]"),
    ("Authorization: BEARER abc.def", "Authorization: BEARER [masked]"),  # the pre-check once missed these
    ("BeArEr abc", "BeArEr [masked]"),
    ("BASIC dXNlcjpwYXNz", "BASIC [masked]"),
    ("nothing here", "nothing here"),
])
def test_mask_pii_in_text(text, masked):
    assert mask_pii(text) == masked


def test_mask_pii_in_fields_and_the_luhn_check():
    data = {"email": "ada@example.com", "password": "hunter2", "api_key": "k", "X-Authorization": "x",
            "client_secret": "s", "refresh_token": None, "nested": [{"card_number": 4111111111111111},
                                                                   {"note": "pay 5500 0000 0000 0004"}], "n": 5}
    assert mask_pii(data) == {"email": "[email]", "password": "[masked]", "api_key": "[masked]",
                              "X-Authorization": "[masked]", "client_secret": "[masked]", "refresh_token": None,
                              "nested": [{"card_number": "[masked]"}, {"note": "pay [card]"}], "n": 5}
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    deep = current = {}
    for _ in range(100):
        current["k"] = {}
        current = current["k"]
    assert mask_pii(deep) is not None  # bounded recursion


def test_masking_can_be_turned_off_and_the_filter_serves_text_logs():
    rec = record("to ada@example.com", ())
    assert json.loads(JSONFormatter(pii=False).format(rec))["message"] == "to ada@example.com"
    assert json.loads(JSONFormatter().format(rec))["message"] == "to [email]"
    rec = record("token for %s", ("ada@example.com",))
    assert PIIFilter().filter(rec) and rec.getMessage() == "token for [email]"


def test_the_seed_structured_logger_in_a_middleware():
    stream = io.StringIO()
    logger = StructuredLogger(level="INFO", format="json", correlation_id=True, performance_tracking=True,
                              stream=stream, name="test.seed")
    app = Covet()

    @app.middleware("http")
    async def logging_middleware(request, call_next):
        correlation_id = request.headers.get("X-Correlation-ID", str(uuid.uuid4()))
        with logger.context(correlation_id=correlation_id, endpoint=request.url.path):
            logger.info("Request started", extra={"method": request.method, "path": request.url.path,
                                                   "user_agent": request.headers.get("user-agent")})
            response = await call_next(request)
            logger.info("Request completed", extra={"status_code": response.status_code})
            return response

    @app.get("/orders")
    async def orders():
        with logger.timed("load orders", count=2):
            await asyncio.sleep(0)
        return {"ok": True}

    from covet.testing import TestClient
    with TestClient(app) as client:
        assert client.get("/orders", headers={"X-Correlation-ID": "c-9", "User-Agent": "t"}).status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["Request started", "load orders", "Request completed"]
    assert all(line["correlation_id"] == "c-9" and line["endpoint"] == "/orders" for line in lines)
    assert (lines[0]["method"], lines[0]["user_agent"], lines[2]["status_code"]) == ("GET", "t", 200)
    assert lines[1]["count"] == 2 and lines[1]["duration_ms"] >= 0


def test_the_request_id_reaches_log_lines_problem_bodies_and_the_access_log(caplog):
    stream = io.StringIO()
    logger = StructuredLogger(stream=stream, name="test.rid")
    app = Covet()
    app.add_middleware(RequestIDMiddleware)

    @app.get("/fail")
    async def fail():
        logger.warning("about to fail", reason="test")
        raise RuntimeError("boom")

    caplog.set_level(logging.INFO, logger="covet.access")
    with RunningServer(app, access_log=True) as srv, srv.connect() as s:
        s.sendall(b"GET /fail HTTP/1.1\r\nHost: x\r\nX-Request-ID: rid-77\r\n\r\n")
        status, headers, body, _ = read_response(s)
    assert status.startswith("HTTP/1.1 500 ") and json.loads(body)["request_id"] == "rid-77"
    line = json.loads(stream.getvalue())
    assert (line["request_id"], line["correlation_id"], line["reason"]) == ("rid-77", "rid-77", "test")
    access = [r for r in caplog.records if r.name == "covet.access"]
    assert len(access) == 1 and access[0].request_id == "rid-77"
    assert json.loads(JSONFormatter().format(access[0]))["request_id"] == "rid-77"


def test_configure_logging_and_bad_formats():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json", "warning", stream=stream)
        logging.getLogger("covet.test").warning("careful with %s", "bob@example.com")
        logging.getLogger("covet.test").info("not shown")
        (line,) = stream.getvalue().splitlines()
        assert json.loads(line)["message"] == "careful with [email]"
        stream.truncate(0)
        stream.seek(0)
        configure_logging("text", "info", stream=stream)
        logging.getLogger("covet.test").info("to %s", "bob@example.com")
        assert stream.getvalue() == "INFO covet.test: to [email]\n"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    with pytest.raises(ValueError, match="format is 'json' or 'text', not 'xml'"):
        configure_logging("xml")
    with pytest.raises(ValueError, match="format is 'json' or 'text'"):
        StructuredLogger(format="yaml")


def test_fields_named_like_record_attributes_are_kept_not_lost():
    stream = io.StringIO()
    logger = StructuredLogger(stream=stream, name="test.clash")
    logger.info("hi", extra={"message": "mine", "args": [1]}, name="n")
    line = json.loads(stream.getvalue())
    assert (line["message"], line["field_message"], line["field_args"], line["field_name"]) == ("hi", "mine", [1], "n")
