"""Tracing: spans received by a fake OTLP/HTTP endpoint and checked field by field (OTLP JSON
encoding of opentelemetry-proto), W3C Trace Context in (every malformed case of §3.2 ignored)
and out (inject), parent-based ratio sampling, and a dead or stalled collector that never holds
up a request (checked by events: the request completes while the collector still holds the export).
"""
import asyncio
import http.server
import json
import logging
import re
import socket
import threading

import pytest

from covet import Covet, Request
from covet.logging import JSONFormatter, current_context
from covet.monitoring.otlp import BatchExporter, any_value, traces_url
from covet.monitoring.tracecontext import SpanContext, format_traceparent, parse_tracestate, parse_traceparent
from covet.monitoring.tracing import (
    SpanKind, StatusCode, Tracer, TracingMiddleware, current_span, get_tracer, inject, trace,
)
from covet.testing import TestClient
from otlp_collector import Collector, attrs, collector, no_default_tracer  # noqa: F401  (fixtures)

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@trace("load_user")
def load_user(uid):
    return {"id": uid}


@trace()
async def score(uid):
    await asyncio.sleep(0)
    with current_span().tracer.span("inner", attributes={"step": 1}) as span:
        span.set_attribute("done", True)
    return uid * 2


def make_app(collector_url, **options):
    app = Covet()
    tracing = TracingMiddleware(service_name="shop", endpoint=collector_url, **options)
    app.add_middleware(tracing)

    @app.get("/users/{uid:int}")
    async def get_user(uid: int):
        user = load_user(uid)
        user["score"] = await score(uid)
        user["log"] = dict(current_context())
        user["out"] = inject({})
        return user

    @app.get("/boom")
    async def boom():
        raise ValueError("bad thing")

    @app.get("/fail")
    async def fail():
        return {"x": 1}, 503

    @app.get("/missing")
    async def missing():
        return {"x": 1}, 404

    return app, tracing


def run(collector, path, **kw):
    app, tracing = make_app(collector.url, **kw.pop("options", {}))
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get(path, **kw)
    assert tracing.tracer.flush(5)
    return r, collector.spans(), tracing


def by_name(spans):
    return {s["name"]: s for s in spans}


def test_a_request_exports_server_handler_and_traced_spans_field_by_field(collector):
    r, spans, tracing = run(collector, "/users/7?q=1&sig=secret", headers={"User-Agent": "probe/1"})
    assert r.status_code == 200
    assert [s["name"] for s in spans] == ["load_user", "inner", "score", "make_app.<locals>.get_user",
                                          "GET /users/{uid:int}"]
    s = by_name(spans)
    server, handler = s["GET /users/{uid:int}"], s["make_app.<locals>.get_user"]
    for span in spans:
        assert HEX32.fullmatch(span["traceId"]) and span["traceId"] == server["traceId"]
        assert HEX16.fullmatch(span["spanId"]) and span["flags"] == 1
        assert int(span["startTimeUnixNano"]) <= int(span["endTimeUnixNano"])
        assert isinstance(span["startTimeUnixNano"], str) and isinstance(span["endTimeUnixNano"], str)
    assert len({span["spanId"] for span in spans}) == 5
    assert "parentSpanId" not in server
    assert handler["parentSpanId"] == server["spanId"]
    assert s["load_user"]["parentSpanId"] == handler["spanId"]
    assert s["score"]["parentSpanId"] == handler["spanId"]
    assert s["inner"]["parentSpanId"] == s["score"]["spanId"]
    assert server["kind"] == SpanKind.SERVER == 2 and handler["kind"] == s["score"]["kind"] == SpanKind.INTERNAL == 1
    assert int(server["startTimeUnixNano"]) <= int(handler["startTimeUnixNano"])
    assert int(handler["endTimeUnixNano"]) <= int(server["endTimeUnixNano"])
    assert server["status"] == {"code": StatusCode.UNSET} and handler["status"] == {"code": 0}
    assert attrs(server) == {
        "http.request.method": "GET", "url.scheme": "http", "url.path": "/users/7",
        "url.query": "q=1&sig=REDACTED", "server.address": "testserver", "server.port": 80,
        "network.protocol.version": "1.1", "user_agent.original": "probe/1",
        "http.route": "/users/{uid:int}", "http.response.status_code": 200,
        "client.address": "testclient", "client.port": 50000,
    }
    assert attrs(handler) == {"code.function": "get_user", "code.namespace": __name__}
    assert attrs(s["inner"]) == {"step": 1, "done": True}
    body = r.json()
    # The log context carries the ids of the span current in the handler; inject writes the same.
    assert body["log"] == {"trace_id": server["traceId"], "span_id": handler["spanId"]}
    assert body["out"] == {"traceparent": "00-%s-%s-01" % (server["traceId"], handler["spanId"])}


def test_the_resource_and_scope_and_the_json_encoding(collector):
    app, tracing = make_app(collector.url, resource_attributes={"deployment.environment": "test"})
    TestClient(app).get("/users/1")
    assert tracing.tracer.flush(5)
    path, ctype, body = collector.requests.get_nowait()
    rs, = body["resourceSpans"]
    assert rs["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "shop"}},
        {"key": "telemetry.sdk.name", "value": {"stringValue": "covet"}},
        {"key": "telemetry.sdk.language", "value": {"stringValue": "python"}},
        {"key": "deployment.environment", "value": {"stringValue": "test"}},
    ]
    assert rs["scopeSpans"][0]["scope"] == {"name": "covet.monitoring.tracing"}
    assert any_value(True) == {"boolValue": True} and any_value(3) == {"intValue": "3"}
    assert any_value(1.5) == {"doubleValue": 1.5} and any_value(b"x") == {"stringValue": "x"}
    assert any_value([1, "a"]) == {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}]}}


def test_an_exception_marks_both_spans_error_with_an_exception_event(collector):
    r, spans, _ = run(collector, "/boom")
    assert r.status_code == 500
    s = by_name(spans)
    server, handler = s["GET /boom"], s["make_app.<locals>.boom"]
    for span in (server, handler):
        assert span["status"] == {"code": 2, "message": "ValueError: bad thing"}
        event, = span["events"]
        assert event["name"] == "exception"
        ea = attrs(event)
        assert ea["exception.type"] == "ValueError" and ea["exception.message"] == "bad thing"
        assert ea["exception.stacktrace"].startswith("Traceback (most recent call last)")
        assert 'raise ValueError("bad thing")' in ea["exception.stacktrace"]
        assert int(span["startTimeUnixNano"]) <= int(event["timeUnixNano"]) <= int(span["endTimeUnixNano"])
    assert attrs(server)["http.response.status_code"] == 500 and attrs(server)["error.type"] == "ValueError"


def test_5xx_is_error_4xx_is_not_and_unmatched_paths_share_one_name(collector):
    _, spans, _ = run(collector, "/fail")
    server = by_name(spans)["GET /fail"]
    assert server["status"] == {"code": 2}
    assert attrs(server)["error.type"] == "503" and attrs(server)["http.response.status_code"] == 503
    _, spans, _ = run(collector, "/missing")
    assert by_name(spans)["GET /missing"]["status"] == {"code": 0}
    _, spans, _ = run(collector, "/no/such/7")
    server = by_name(spans)["GET"]  # no route: the method alone, never the raw path
    assert "http.route" not in attrs(server) and attrs(server)["http.response.status_code"] == 404
    assert by_name(spans)["handler"]["parentSpanId"] == server["spanId"]


def test_an_unknown_method_is_other(collector):
    app, tracing = make_app(collector.url)
    TestClient(app).request("FROB", "/users/1")
    assert tracing.tracer.flush(5)
    server = by_name(collector.spans())["HTTP"]
    assert attrs(server)["http.request.method"] == "_OTHER"
    assert attrs(server)["http.request.method_original"] == "FROB"


def test_a_mounted_apps_route_includes_the_mount_prefix(collector):
    inner = Covet()

    @inner.get("/items/{id}")
    async def item(id: str):
        return {"id": id}

    app, tracing = make_app(collector.url)
    app.mount("/api", inner)
    assert TestClient(app).get("/api/items/3").status_code == 200
    assert tracing.tracer.flush(5)
    server = by_name(collector.spans())["GET /api/items/{id}"]
    assert attrs(server)["http.route"] == "/api/items/{id}" and attrs(server)["url.path"] == "/api/items/3"


def test_an_incoming_traceparent_is_continued_with_its_tracestate(collector):
    r, spans, _ = run(collector, "/users/1", headers={"traceparent": TP, "tracestate": "rojo=00f067aa0ba902b7, congo=t61"})
    server = by_name(spans)["GET /users/{uid:int}"]
    assert server["traceId"] == TRACE and server["parentSpanId"] == PARENT
    assert server["traceState"] == "rojo=00f067aa0ba902b7,congo=t61"
    assert all(s["traceId"] == TRACE and s["traceState"] == "rojo=00f067aa0ba902b7,congo=t61" for s in spans)
    assert r.json()["out"]["tracestate"] == "rojo=00f067aa0ba902b7,congo=t61"
    assert r.json()["out"]["traceparent"].startswith("00-%s-" % TRACE)


MALFORMED = [
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   # version ff is invalid
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   # all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   # all-zero parent id
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   # uppercase hex
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
    "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",    # short trace id
    "00-4bf92f3577b34da6a3ce929d0e0e47360-00f067aa0ba902b7-01",  # long trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",    # short parent id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",    # short flags
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",  # version 00 with more after flags
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
    "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",  # wrong separators
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902g7-01",   # not hex
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what",  # a future version's extra needs "-"
    "", "00", "hello",
]


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_traceparent_starts_a_new_trace_and_drops_tracestate(collector, value):
    assert parse_traceparent(value) is None
    _, spans, _ = run(collector, "/users/1", headers={"traceparent": value, "tracestate": "rojo=1"})
    server = by_name(spans)["GET /users/{uid:int}"]
    assert "parentSpanId" not in server and server["traceId"] != TRACE and "traceState" not in server


def test_two_traceparent_headers_start_a_new_trace(collector):
    app, tracing = make_app(collector.url)
    tp = TP.encode()
    request = Request("GET", "/users/1", headers=[(b"host", b"h"), (b"traceparent", tp), (b"traceparent", tp)])
    assert asyncio.run(app.dispatch(request)).status_code == 200
    assert tracing.tracer.flush(5)
    server = by_name(collector.spans())["GET /users/{uid:int}"]
    assert "parentSpanId" not in server and server["traceId"] != TRACE


def test_traceparent_versions_and_flags():
    ctx = parse_traceparent(" \t" + TP + " ")  # optional whitespace around the value is allowed
    assert ctx == SpanContext(int(TRACE, 16), int(PARENT, 16), 1, "", True)
    future = parse_traceparent("cc-%s-%s-03-what-the-future-will-be-like" % (TRACE, PARENT))
    assert future.trace_id == int(TRACE, 16) and future.trace_flags == 1  # unknown flag bits dropped
    assert parse_traceparent("00-%s-%s-00" % (TRACE, PARENT)).sampled is False
    assert parse_traceparent(None) is None and parse_traceparent(b"00") is None
    assert format_traceparent(SpanContext(1, 2, 1)) == "00-00000000000000000000000000000001-0000000000000002-01"
    assert format_traceparent(ctx) == TP


@pytest.mark.parametrize("values, expected", [
    (["a=1,b=2"], "a=1,b=2"),
    (["a=1", "b=2"], "a=1,b=2"),                  # several headers are one list
    (["a=1 , ,\tb=2"], "a=1,b=2"),                # empty members and whitespace are allowed
    (["tenant@sys=x y"], "tenant@sys=x y"),       # multi-tenant key; a space inside a value
    (["A=1"], ""),                                # keys are lowercase
    (["a=1,a=2"], ""),                            # a repeated key
    (["a=1=2"], ""),                              # "=" in a value
    (["a=x "], "a=x"),                            # trailing whitespace is OWS, not the value
    (["a="], ""),                                 # empty value
    (["a"], ""),
    (["a=\x01"], ""),
    ([",".join("k%d=v" % i for i in range(33))], ""),  # more than 32 members
    ([",".join("k%d=v" % i for i in range(32))], ",".join("k%d=v" % i for i in range(32))),
])
def test_tracestate_parsing(values, expected):
    assert parse_tracestate(values) == expected


def test_a_bad_tracestate_alone_is_dropped_keeping_the_trace(collector):
    _, spans, _ = run(collector, "/users/1", headers={"traceparent": TP, "tracestate": "Bad=1"})
    server = by_name(spans)["GET /users/{uid:int}"]
    assert server["traceId"] == TRACE and server["parentSpanId"] == PARENT and "traceState" not in server


def test_sampling_zero_exports_nothing_but_still_propagates(collector):
    app, tracing = make_app(collector.url, sample_rate=0.0)
    client = TestClient(app)
    outs = [client.get("/users/%d" % i).json()["out"]["traceparent"] for i in range(20)]
    assert tracing.tracer.flush(5)
    assert collector.requests.empty() and tracing.tracer.exporter.exported == 0
    assert all(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", o) for o in outs)
    assert len({o[3:35] for o in outs}) == 20


def test_sampling_one_exports_everything(collector):
    app, tracing = make_app(collector.url, sample_rate=1.0)
    client = TestClient(app)
    for i in range(20):
        client.get("/users/%d" % i)
    assert tracing.tracer.flush(5)
    spans = collector.spans()
    assert len(spans) == 100 and tracing.tracer.exporter.exported == 100
    assert len({s["traceId"] for s in spans}) == 20


def test_the_parents_sampled_flag_wins_over_the_rate(collector):
    app, tracing = make_app(collector.url, sample_rate=0.0)
    TestClient(app).get("/users/1", headers={"traceparent": TP})
    assert tracing.tracer.flush(5)
    assert {s["traceId"] for s in collector.spans()} == {TRACE}
    app, tracing = make_app(collector.url, sample_rate=1.0)
    r = TestClient(app).get("/users/1", headers={"traceparent": TP[:-2] + "00"})
    assert tracing.tracer.flush(5)
    assert collector.requests.empty()
    assert r.json()["out"]["traceparent"].startswith("00-%s-" % TRACE) and r.json()["out"]["traceparent"].endswith("-00")


def test_the_ratio_is_decided_by_the_trace_ids_low_64_bits():
    tracer = Tracer("t", sample_rate=0.5, exporter=BatchExporter("http://127.0.0.1:9"))
    assert tracer.sampled((1 << 64) + (1 << 63) - 1) is True
    assert tracer.sampled(1 << 63) is False
    assert Tracer("t", sample_rate=1.0, exporter=tracer.exporter).sampled((1 << 64) - 1) is True
    assert Tracer("t", sample_rate=0.0, exporter=tracer.exporter).sampled(0) is False


@pytest.mark.parametrize("kwargs, message", [
    ({"sample_rate": 1.5}, "sample_rate must be a number from 0.0 to 1.0, got 1.5"),
    ({"sample_rate": True}, "sample_rate must be a number from 0.0 to 1.0, got True"),
    ({"endpoint": "ftp://x"}, "endpoint must be an http:// or https:// URL with a host, got 'ftp://x'"),
    ({"endpoint": "http://x:99999"}, "Port out of range 0-65535"),
    ({"endpoint": "http://x/\r\nHost: y"}, "endpoint must not contain whitespace or control characters, "
                                           "got 'http://x/\\r\\nHost: y'"),
    ({"service_name": ""}, "service_name must be a non-empty str, got ''"),
    ({"timeout": 0}, "timeout must be a number > 0, got 0"),
    ({"max_queue_size": 0}, "max_queue_size must be an int >= 1, got 0"),
    ({"endpoint": "http://a", "jaeger_endpoint": "http://b"}, "give endpoint or jaeger_endpoint, not both"),
])
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError) as info:
        TracingMiddleware(**kwargs)
    assert str(info.value) == message


def test_endpoints():
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("https://c/otlp/v1/traces") == "https://c/otlp/v1/traces"
    seed = TracingMiddleware(service_name="covetpy-app", jaeger_endpoint="http://localhost:14268/api/traces")
    assert seed.tracer.exporter.url == "http://localhost:4318/v1/traces"


def test_trace_outside_a_request_and_without_a_tracer(collector):
    assert load_user(3) == {"id": 3}  # untraced: nothing to record it with
    assert get_tracer() is None and inject({}) == {}
    _, tracing = make_app(collector.url)
    assert get_tracer() is tracing.tracer
    assert load_user(4) == {"id": 4}  # a root span of its own trace
    with tracing.span("job") as job:
        with pytest.raises(KeyError):
            with tracing.tracer.span("step"):
                raise KeyError("k")
    assert tracing.tracer.flush(5)
    s = by_name(collector.spans())
    assert "parentSpanId" not in s["load_user"] and "parentSpanId" not in s["job"]
    assert s["step"]["parentSpanId"] == s["job"]["spanId"] and s["step"]["status"]["code"] == 2
    assert s["job"]["status"] == {"code": 0} and job.end_time >= job.start_time


def test_trace_refuses_generators_and_bad_names():
    with pytest.raises(TypeError) as info:
        @trace("gen")
        def gen():
            yield 1
    assert str(info.value).startswith("@trace cannot time a generator function")
    with pytest.raises(TypeError) as info:
        trace(5)
    assert str(info.value) == "trace() takes a non-empty span name, got 5"

    @trace
    def bare():
        return 1
    assert bare() == 1 and bare.__name__ == "bare"


def test_json_log_lines_of_a_request_carry_trace_and_span_ids(collector):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JSONFormatter())
    log = logging.getLogger("test.tracing.app")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        app, tracing = make_app(collector.url)

        @app.get("/logs")
        async def logs():
            log.info("hello")
            return {}

        TestClient(app).get("/logs", headers={"traceparent": TP})
    finally:
        log.removeHandler(handler)
    assert tracing.tracer.flush(5)
    line = json.loads(records[0])
    handler_span = by_name(collector.spans())[
        "test_json_log_lines_of_a_request_carry_trace_and_span_ids.<locals>.logs"]
    assert line["trace_id"] == TRACE and line["span_id"] == handler_span["spanId"]
    assert current_context() == {}


def test_a_stalled_collector_never_holds_up_a_request_and_a_full_queue_drops_and_counts(collector):
    collector.hold.clear()  # the collector takes the export and does not answer
    app, tracing = make_app(collector.url, max_queue_size=10, interval=60.0, timeout=30.0)
    exporter = tracing.tracer.exporter
    client = TestClient(app)
    client.get("/users/1")  # 5 spans
    assert exporter.flush(wait=False)
    assert collector.arrived.wait(5)  # the exporter thread is now inside the POST, blocked
    for i in range(3):  # 15 spans into a queue of 10 (the flush marker took no slot: it was consumed)
        assert client.get("/users/%d" % i).status_code == 200
    assert not collector.hold.is_set() and exporter.exported == 0  # completed while the export was held
    assert exporter.dropped == 5
    collector.hold.set()
    assert exporter.flush(5)
    assert exporter.exported == 15 and exporter.failed == 0


def test_a_slow_collector_times_out_and_is_logged(collector, caplog):
    collector.hold.clear()
    app, tracing = make_app(collector.url, timeout=0.2)
    with caplog.at_level(logging.ERROR, logger="covet.monitoring.tracing"):
        assert TestClient(app).get("/users/1").status_code == 200
        assert tracing.tracer.flush(5)
    assert tracing.tracer.exporter.failed == 5 and tracing.tracer.exporter.exported == 0
    record, = caplog.records
    assert record.getMessage() == "could not export 5 spans to %s/v1/traces: timeout: timed out" % collector.url \
        or record.getMessage() == "could not export 5 spans to %s/v1/traces: TimeoutError: timed out" % collector.url


def test_a_dead_collector_fails_no_request_and_logs_throttled(caplog):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()  # nothing listens: connection refused
    app, tracing = make_app(url)
    client = TestClient(app)
    with caplog.at_level(logging.ERROR, logger="covet.monitoring.tracing"):
        for i in range(2):
            assert client.get("/users/%d" % i).status_code == 200
            assert tracing.tracer.flush(5)
    assert tracing.tracer.exporter.failed == 10
    record, = caplog.records  # the second failure, within the minute, is held back
    assert record.getMessage() == "could not export 5 spans to %s/v1/traces: ConnectionRefusedError: " \
                                  "[Errno 111] Connection refused" % url


def test_a_non_2xx_answer_is_a_failure(caplog):
    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app, tracing = make_app("http://127.0.0.1:%d" % server.server_address[1])
        with caplog.at_level(logging.ERROR, logger="covet.monitoring.tracing"):
            TestClient(app).get("/users/1")
            assert tracing.tracer.flush(5)
        assert tracing.tracer.exporter.failed == 5
        assert caplog.records[0].getMessage().endswith(": HTTP 400")
    finally:
        server.shutdown()
        server.server_close()


def test_a_full_batch_is_sent_without_waiting_for_the_interval(collector):
    app, tracing = make_app(collector.url, max_batch_size=5, interval=60.0)
    TestClient(app).get("/users/1")
    assert collector.arrived.wait(5)  # no flush: five spans filled a batch
    path, ctype, body = collector.requests.get(timeout=5)
    assert len(body["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 5


def test_attribute_values_of_every_type_are_encoded_as_otlp_anyvalues(collector):
    _, tracing = make_app(collector.url)
    with tracing.span("types", attributes={"f": 1.5, "nan": float("nan"), "inf": float("-inf"), "b": False,
                                           "l": [1, "a"], "u": "caf\u00e9 \"q\"\n", 7: "key made a str"}):
        pass
    assert tracing.tracer.flush(5)
    span, = collector.spans()
    assert span["attributes"] == [
        {"key": "f", "value": {"doubleValue": 1.5}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "l", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}]}}},
        {"key": "u", "value": {"stringValue": "caf\u00e9 \"q\"\n"}},
        {"key": "7", "value": {"stringValue": "key made a str"}},
    ]
