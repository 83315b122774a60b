"""Client spans: each database statement and each Redis command run inside a traced request is a
CLIENT span, a child of the span that ran it. The spans are received by a fake OTLP endpoint and
checked field by field.

The attributes follow the OpenTelemetry database semantic conventions. A statement outside a
request, or inside an unsampled one, makes no span. A Redis command's arguments never reach a
span. The probes themselves (covet._probes) are tested at the end: an observer that fails never
fails the call.
"""
import asyncio
import json
import logging

import pytest

from covet import Covet, Request
from covet._probes import DATABASE, HTTP_CLIENT, REDIS, Probe, finish
from covet.database import DatabaseManager
from covet.monitoring.tracing import SpanKind, StatusCode, TracingMiddleware, current_span, trace
from covet.redis import Redis, ReplyError
from covet.testing import TestClient
from db_backends import on_postgres
from otlp_collector import Collector, attrs, collector, no_default_tracer  # noqa: F401  (fixtures)
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def tracers_shut_down(collector, monkeypatch):
    # No exporter thread outlives its test's collector (asking for it: set up before, torn down after).
    import covet.monitoring.tracing as tracing_module
    made = TRACERS
    real = tracing_module.Tracer.__init__

    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        made.append(self)
    monkeypatch.setattr(tracing_module.Tracer, "__init__", init)
    yield
    for tracer in made:
        tracer.shutdown(1)
    del made[:]


TRACERS = []  # every Tracer made in the running test (tracers_shut_down)
H = "db_app.<locals>."  # a handler span is named by the handler's qualified name


def spans_by_name(spans):
    out = {}
    for s in spans:
        out.setdefault(s["name"], []).append(s)
    return out


def db_app(url, collector, sample_rate=1.0):
    db = DatabaseManager(url)
    app = Covet()
    app.add_database(db)
    tracing = TracingMiddleware(service_name="shop", endpoint=collector.url, sample_rate=sample_rate)
    app.add_middleware(tracing)

    @app.on_startup
    async def schema():
        # Outside any request: no span.
        await db.execute("CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL)")

    @app.post("/items/{name}")
    async def add(name: str):
        await db.execute("INSERT INTO items (name) VALUES (?)", name)
        return {"count": await db.fetch_val("SELECT count(*) FROM items")}

    @app.get("/items")
    async def listing():
        rows = await db.fetch_all("SELECT id, name FROM items ORDER BY id")
        one = await db.fetch_one("SELECT name FROM items WHERE id = ?", 1)
        return {"rows": len(rows), "first": one["name"] if one else None}

    @app.post("/tx")
    async def in_transaction():
        async with db.transaction() as tx:
            await tx.connection.execute('UPDATE "items" SET name = ? WHERE id = ?', "renamed", 1)
            streamed = [row["name"] async for row in tx.connection.iterate("SELECT name FROM items ORDER BY id")]
        return {"streamed": streamed}

    @app.get("/sync")
    def sync_handler():
        return {"n": db.sync.fetch_val("SELECT count(*) FROM items")}

    @app.get("/traced")
    async def traced_work():
        await helper_work(db)
        return {"ok": True}

    return app, tracing


@trace("helper_work")
async def helper_work(db):
    await db.fetch_all("SELECT 1")


def test_statements_in_a_request_are_client_spans_of_the_handler(database_url, collector):
    app, tracing = db_app(database_url, collector)
    with TestClient(app) as client:
        assert client.post("/items/apple").json() == {"count": 1}
        assert client.get("/items").json() == {"rows": 1, "first": "apple"}
    assert tracing.tracer.flush(5)
    spans = collector.spans()
    names = spans_by_name(spans)
    system = "postgresql" if on_postgres(database_url) else "sqlite"
    # Two requests: a SERVER span and a handler span each, and four statements. The CREATE TABLE
    # of start-up ran outside a request and is not there.
    assert sorted(names) == sorted(["POST /items/{name}", "GET /items", H + "add", H + "listing",
                                    "INSERT items", "SELECT items"])
    assert len(names["SELECT items"]) == 3
    handler = names[H + "add"][0]
    insert = names["INSERT items"][0]
    assert insert["kind"] == SpanKind.CLIENT
    assert insert["parentSpanId"] == handler["spanId"] and insert["traceId"] == handler["traceId"]
    a = attrs(insert)
    assert a["db.system.name"] == system
    assert a["db.operation.name"] == "INSERT" and a["db.collection.name"] == "items"
    assert a["db.query.text"] == "INSERT INTO items (name) VALUES (?)"
    assert a["db.namespace"]
    if system == "postgresql":
        assert a["server.address"] == "127.0.0.1" and isinstance(a["server.port"], int)
    assert insert["status"] == {} or insert["status"].get("code", 0) == StatusCode.UNSET
    listed = [s for s in names["SELECT items"] if attrs(s)["db.query.text"].startswith("SELECT id, name")][0]
    assert attrs(listed)["db.response.returned_rows"] == 1
    assert int(insert["endTimeUnixNano"]) >= int(insert["startTimeUnixNano"])


def test_a_failing_statement_marks_its_span_error_with_the_exception(database_url, collector):
    app, tracing = db_app(database_url, collector)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/items/apple").status_code == 200
        r = client.post("/items/apple")  # the UNIQUE constraint
        assert r.status_code in (409, 500)
    assert tracing.tracer.flush(5)
    inserts = spans_by_name(collector.spans())["INSERT items"]
    assert len(inserts) == 2
    failed = [s for s in inserts if s["status"].get("code") == StatusCode.ERROR]
    assert len(failed) == 1
    a = attrs(failed[0])
    assert a["error.type"].endswith(("IntegrityError", "UniqueViolation"))
    [event] = failed[0]["events"]
    assert event["name"] == "exception"


def test_statements_in_a_transaction_and_a_stream_are_spans_too(database_url, collector):
    app, tracing = db_app(database_url, collector)
    with TestClient(app) as client:
        client.post("/items/apple")
        client.post("/items/pear")
        assert client.post("/tx").json() == {"streamed": ["renamed", "pear"]}
    assert tracing.tracer.flush(5)
    names = spans_by_name(collector.spans())
    handler = names[H + "in_transaction"][0]
    [update] = names["UPDATE items"]
    assert attrs(update)["db.collection.name"] == "items"  # the quotes are not part of the name
    assert update["parentSpanId"] == handler["spanId"]
    [stream] = [s for s in names["SELECT items"] if attrs(s)["db.query.text"] == "SELECT name FROM items ORDER BY id"]
    assert stream["parentSpanId"] == handler["spanId"]
    assert stream["status"].get("code", 0) != StatusCode.ERROR


def test_a_sync_handlers_statements_and_a_traced_functions_are_children_of_the_right_span(sqlite_url, collector):
    app, tracing = db_app(sqlite_url, collector)
    with TestClient(app) as client:
        assert client.get("/sync").json() == {"n": 0}
        assert client.get("/traced").json() == {"ok": True}
    assert tracing.tracer.flush(5)
    names = spans_by_name(collector.spans())
    [count] = names["SELECT items"]
    assert count["parentSpanId"] == names[H + "sync_handler"][0]["spanId"]
    [select_1] = names["SELECT"]  # no table: the operation alone names it
    assert select_1["parentSpanId"] == names["helper_work"][0]["spanId"]


def test_an_unsampled_request_and_no_tracer_make_no_statement_spans(sqlite_url, collector):
    app, tracing = db_app(sqlite_url, collector, sample_rate=0.0)
    with TestClient(app) as client:
        assert client.post("/items/apple").json() == {"count": 1}
    assert tracing.tracer.flush(5)
    assert collector.spans() == []


def test_redis_commands_are_client_spans_without_their_arguments(redis_clean, collector):
    app = Covet()
    tracing = TracingMiddleware(service_name="shop", endpoint=collector.url)
    app.add_middleware(tracing)
    redis = Redis(redis_clean.host, redis_clean.port, db=3)

    @app.get("/r")
    async def use_redis():
        await redis.set("session:alice", "s3cret-value")
        value = await redis.get("session:alice")
        replies = await redis.pipeline().incrby("hits").incrby("hits").execute()
        try:
            await redis.execute("LPUSH", "session:alice", "x")  # WRONGTYPE
        except ReplyError:
            pass
        await redis.close()
        return {"value": value.decode(), "hits": replies}

    with TestClient(app) as client:
        assert client.get("/r").json() == {"value": "s3cret-value", "hits": [1, 2]}
    assert tracing.tracer.flush(5)
    spans = collector.spans()
    names = spans_by_name(spans)
    handler = names["test_redis_commands_are_client_spans_without_their_arguments.<locals>.use_redis"][0]
    for name in ("SET", "GET", "PIPELINE", "LPUSH"):
        [span] = names[name]
        assert span["kind"] == SpanKind.CLIENT and span["parentSpanId"] == handler["spanId"]
        a = attrs(span)
        assert a["db.system.name"] == "redis" and a["db.namespace"] == "3"
        assert a["server.address"] == redis_clean.host and a["server.port"] == redis_clean.port
        assert a["db.operation.name"] == name
    assert attrs(names["PIPELINE"][0])["db.operation.batch.size"] == 2
    assert names["LPUSH"][0]["status"]["code"] == StatusCode.ERROR
    assert names["GET"][0]["status"].get("code", 0) == StatusCode.UNSET
    exported = json.dumps(spans)
    assert "s3cret-value" not in exported and "session:alice" not in exported


# -- the probes ------------------------------------------------------------------------------

def test_an_observer_that_fails_never_fails_the_call_and_is_logged(sqlite_url, caplog):
    calls = []

    def broken(attributes, statement):
        raise RuntimeError("observer bug")

    def finish_broken(attributes, statement):
        def done(error, outcome):
            calls.append((statement, error, outcome))
            raise RuntimeError("finish bug")
        return done

    remove_a = DATABASE.add(broken)
    remove_b = DATABASE.add(finish_broken)
    try:
        async def go():
            db = DatabaseManager(sqlite_url)
            try:
                await db.execute("CREATE TABLE t (x INTEGER)")
                await db.execute("INSERT INTO t VALUES (?)", 1)
                assert await db.fetch_all("SELECT x FROM t") == [{"x": 1}]
                with pytest.raises(Exception):
                    await db.execute("INSERT INTO nowhere VALUES (1)")
            finally:
                await db.disconnect()
        with caplog.at_level(logging.ERROR, logger="covet.probes"):
            asyncio.run(go())
    finally:
        remove_a()
        remove_b()
    assert broken not in DATABASE.observers and finish_broken not in DATABASE.observers
    # Each statement finished exactly once, with its outcome or its error.
    assert [c[0] for c in calls] == ["CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (?)", "SELECT x FROM t",
                                     "INSERT INTO nowhere VALUES (1)"]
    assert calls[2][1] is None and calls[2][2] == [{"x": 1}]
    assert calls[3][1] is not None and calls[3][2] is None
    messages = [r.getMessage() for r in caplog.records]
    assert sum("observer" in m and "failed" in m for m in messages) == 8


def test_probe_add_remove_and_refusals():
    probe = Probe("test")
    assert not probe.observers and probe.start("x") is None
    seen = []
    remove = probe.add(lambda *a: (lambda e, o: seen.append((a, e, o))))
    probe.add(lambda *a: None)  # not interested in this call
    finishers = probe.start("x", 1)
    assert len(finishers) == 1
    finish(finishers, None, "ok")
    finish(None)  # nothing started: nothing to do
    assert seen == [(("x", 1), None, "ok")]
    remove()
    assert len(probe.observers) == 1
    with pytest.raises(TypeError, match="callable"):
        probe.add("not a function")
    assert "test" in repr(probe)


def test_an_outgoing_http_request_gets_the_traceparent_of_a_client_span(collector):
    tracing = TracingMiddleware(service_name="shop", endpoint=collector.url)
    with tracing.span("work") as parent:
        headers = {"accept": "application/json"}
        finishers = HTTP_CLIENT.start("GET", "http://user:pw@api.example:8080/v1/x?sig=abc&q=1", headers)
        finish(finishers, None, 404)
    assert tracing.tracer.flush(5)
    names = spans_by_name(collector.spans())
    [client_span] = names["GET"]
    assert client_span["kind"] == SpanKind.CLIENT
    assert client_span["parentSpanId"] == names["work"][0]["spanId"]
    assert headers["traceparent"] == "00-%s-%s-01" % (client_span["traceId"], client_span["spanId"])
    a = attrs(client_span)
    assert a["url.full"] == "http://api.example:8080/v1/x?sig=REDACTED&q=1"
    assert a["server.address"] == "api.example" and a["server.port"] == 8080
    assert a["http.response.status_code"] == 404 and a["error.type"] == "404"
    assert client_span["status"]["code"] == StatusCode.ERROR
    assert parent.context.trace_id == int(client_span["traceId"], 16)
    assert current_span() is None
    # Outside any span nothing is added.
    headers = {}
    finish(HTTP_CLIENT.start("GET", "http://x/", headers), None, 200)
    assert headers == {}
    assert REDIS.observers  # the tracer observes all three probes


def test_a_call_with_covets_http_client_continues_the_trace_in_the_service_called(collector):
    from covet.httpclient import HTTPClient
    from server_helpers import RunningServer

    downstream = Covet()
    downstream.add_middleware(TracingMiddleware(service_name="stock", endpoint=collector.url))

    @downstream.get("/stock/{sku}")
    async def stock(sku: str, request: Request):
        return {"sku": sku, "traceparent": request.headers.get("traceparent")}

    server = RunningServer(downstream)
    try:
        app = Covet()
        tracing = TracingMiddleware(service_name="shop", endpoint=collector.url)
        app.add_middleware(tracing)

        @app.get("/order")
        async def order():
            async with HTTPClient("http://127.0.0.1:%d" % server.port) as client:
                answer = await client.get("/stock/pen")
                missing = await client.get("/nowhere")
            return {"stock": answer.json(), "missing": missing.status_code}

        with TestClient(app) as client:
            body = client.get("/order").json()
        assert body["missing"] == 404
        # Both services' spans ended before their answers were sent: flushing both sends them all.
        assert all(t.flush(5) for t in TRACERS) and len(TRACERS) == 2
        spans = collector.spans()
    finally:
        server.stop()
    names = spans_by_name(spans)
    handler = names["test_a_call_with_covets_http_client_continues_the_trace_in_the_service_called.<locals>.order"][0]
    calls = [s for s in names["GET"] if s["kind"] == SpanKind.CLIENT]  # "GET" is also /nowhere's SERVER span
    assert len(calls) == 2 and all(c["parentSpanId"] == handler["spanId"] for c in calls)
    [ok] = [c for c in calls if attrs(c)["http.response.status_code"] == 200]
    [nf] = [c for c in calls if attrs(c)["http.response.status_code"] == 404]
    assert ok["kind"] == SpanKind.CLIENT and attrs(ok)["url.full"] == "http://127.0.0.1:%d/stock/pen" % server.port
    assert nf["status"]["code"] == StatusCode.ERROR and attrs(nf)["error.type"] == "404"
    # What went on the wire: the client span's own ids.
    assert body["stock"]["traceparent"] == "00-%s-%s-01" % (ok["traceId"], ok["spanId"])
    [remote] = names["GET /stock/{sku}"]
    assert remote["traceId"] == handler["traceId"] and remote["parentSpanId"] == ok["spanId"]
