"""Server-sent events (covet.sse), checked against WHATWG HTML §9.2 "Server-sent events".

Serialisation is checked on exact bytes and by reading them back with a small reader written from
§9.2.5/§9.2.6 (``read_events``). Streams are read as they come, through ``TestClient.stream``,
the ASGI door and covet's server over a real socket. Timing is observed, never slept for: a
generator waits on an event the test sets after it read a ping, and cleanup sets an event in the
generator's ``finally`` that the test waits on.
"""
import asyncio
import logging
import re
import socket
import threading
from typing import Optional

import pytest

import covet
from covet import Covet, Header, Request, Response, StreamingResponse
from covet.asgi import handle as asgi_handle
from covet.sse import (
    DEFAULT_PING_INTERVAL, PING, EventSourceResponse, ServerSentEvent, encode_event, last_event_id,
)
from covet.testing import AsyncTestClient, TestClient
from server_helpers import RunningServer, recv_until

WAIT = 5.0  # a safety net for waits on events, never the expected duration


def read_events(data):
    """(events, retry) as a browser reads ``data``: events are (type, data, last event id) (§9.2.6)."""
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    events, retry = [], None
    data_buffer, event_type, id_buffer = "", "", ""
    for line in re.split(r"\r\n|\r|\n", text)[:-1]:  # the last piece has no line end yet
        if line == "":
            if data_buffer == "":
                event_type = ""
                continue
            events.append((event_type or "message", data_buffer[:-1], id_buffer))
            data_buffer, event_type = "", ""
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_type = value
        elif field == "data":
            data_buffer += value + "\n"
        elif field == "id" and "\x00" not in value:
            id_buffer = value
        elif field == "retry" and value.isascii() and value.isdigit():
            retry = int(value)
    return events, retry


# -- serialisation (§9.2.5, §9.2.6) ---------------------------------------------------------

@pytest.mark.parametrize("item, expected", [
    ("hello", b"data: hello\n\n"),
    (ServerSentEvent("hello"), b"data: hello\n\n"),
    ({"data": "hello"}, b"data: hello\n\n"),
    # every line end of §9.2.5 splits, and a trailing one is kept as an empty last line
    ("one\r\ntwo\rthree\nfour\n", b"data: one\ndata: two\ndata: three\ndata: four\ndata: \n\n"),
    ("", b"data: \n\n"),
    ("  indented", b"data:   indented\n\n"),  # the parser drops one space after the colon, only one
    # \v, \f, \x85, U+2028 are text to an SSE parser: not split (str.splitlines would split them)
    ("a\x0bb\x0cc\x85d\u2028e", "data: a\x0bb\x0cc\x85d\u2028e\n\n".encode("utf-8")),
    ("caf\u00e9 \u2603 \U0001F600", b"data: caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80\n\n"),
    (ServerSentEvent(data="a\nb", event="update", id="42", retry=3000, comment="note"),
     b": note\nevent: update\nid: 42\nretry: 3000\ndata: a\ndata: b\n\n"),
    (ServerSentEvent(id=7), b"id: 7\n\n"),
    (ServerSentEvent(id=""), b"id: \n\n"),  # resets the client's last event id (§9.2.6)
    (ServerSentEvent(retry=0), b"retry: 0\n\n"),
    (ServerSentEvent(event=""), b"event: \n\n"),
    (ServerSentEvent(comment="keep\r\nalive"), b": keep\n: alive\n\n"),
    (ServerSentEvent(comment=""), b": \n\n"),
    ({"data": {"n": 1, "s": "\u00e9\n"}, "event": "json"}, b'event: json\ndata: {"n":1,"s":"\xc3\xa9\\n"}\n\n'),
    ({"data": [1, 2.5, None]}, b"data: [1,2.5,null]\n\n"),
    (ServerSentEvent(data=3), b"data: 3\n\n"),
    (b"data: pre-encoded\n\n", b"data: pre-encoded\n\n"),
    (bytearray(b"data: x\r\n\r\n"), b"data: x\r\n\r\n"),
])
def test_event_bytes(item, expected):
    assert encode_event(item) == expected


def test_an_event_has_its_exact_bytes_through_its_own_encode():
    assert ServerSentEvent(data="hello\nworld", event="greeting", id=7).encode() == \
        b"event: greeting\nid: 7\ndata: hello\ndata: world\n\n"


@pytest.mark.parametrize("data", [
    "one", "two\nlines", "ends with a newline\n", "\n", "\n\n", "crlf\r\nand cr\rand lf\n", "",
    "caf\u00e9 \U0001F600", "x" * 10000, ": not a comment", "data: nested", " leading space",
])
def test_data_reads_back_as_sent(data):
    # "" too: "data: " puts a line feed in the data buffer, so the event is dispatched with empty data.
    events, _ = read_events(encode_event(ServerSentEvent(data=data, event="e", id="i")))
    assert events == [("e", data.replace("\r\n", "\n").replace("\r", "\n"), "i")]


def test_a_stream_of_events_reads_back_with_ids_and_retry():
    stream = b"".join(encode_event(e) for e in [
        ServerSentEvent(retry=2500), ServerSentEvent(comment="hi"), "first",
        ServerSentEvent(data="second", id="2"), PING, ServerSentEvent(data="third", event="x"),
    ])
    assert read_events(stream) == ([("message", "first", ""), ("message", "second", "2"), ("x", "third", "2")], 2500)


@pytest.mark.parametrize("event, error", [
    # §9.2.6: an id with U+0000 is ignored by the client; CR/LF would start a new field.
    (ServerSentEvent(data="x", id="a\nb"), ValueError),
    (ServerSentEvent(data="x", id="a\rb"), ValueError),
    (ServerSentEvent(data="x", id="a\x00b"), ValueError),
    (ServerSentEvent(data="x", event="a\nevent: forged"), ValueError),
    (ServerSentEvent(data="x", event="a\rb"), ValueError),
    (ServerSentEvent(data="x", retry=-1), ValueError),
    (ServerSentEvent(data="x", retry="1000"), TypeError),
    (ServerSentEvent(data="x", retry=True), TypeError),
    (ServerSentEvent(data="x", retry=1.5), TypeError),
    (ServerSentEvent(data="x", id=True), TypeError),
    (ServerSentEvent(data="x", id=1.5), TypeError),
    (ServerSentEvent(data="x", event=1), TypeError),
    (ServerSentEvent(comment=b"bytes"), TypeError),
    (ServerSentEvent(), ValueError),  # nothing to send
    (ServerSentEvent(data="\ud800"), UnicodeEncodeError),  # a lone surrogate has no UTF-8 form
    (ServerSentEvent(data=float("nan")), ValueError),  # not JSON
    (ServerSentEvent(data=object()), TypeError),
])
def test_an_event_that_cannot_be_sent_is_refused_at_serialisation(event, error):
    with pytest.raises(error):
        event.encode()


@pytest.mark.parametrize("item, error", [
    ({"data": "x", "name": "y"}, TypeError),  # not a field
    (b"data: half an event\n", ValueError),  # a ping could land inside it
    (42, TypeError),
    (None, TypeError),
])
def test_an_item_that_is_not_an_event_is_refused(item, error):
    with pytest.raises(error):
        encode_event(item)


# -- the response -------------------------------------------------------------------------

def test_headers_are_exact_and_carry_no_length():
    response = EventSourceResponse(iter(()))
    assert response.raw_headers == [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ]
    assert response.status_code == 200 and response.streaming
    assert response.ping == DEFAULT_PING_INTERVAL == 15.0


def test_the_app_headers_come_first_and_replace_the_defaults_they_name():
    response = EventSourceResponse(iter(()), headers={"Cache-Control": "no-store", "X-Feed": "1"}, status_code=200)
    assert response.raw_headers == [
        (b"cache-control", b"no-store"), (b"x-feed", b"1"),
        (b"content-type", b"text/event-stream; charset=utf-8"), (b"x-accel-buffering", b"no"),
    ]


def test_a_content_length_is_refused():
    with pytest.raises(ValueError, match="Content-Length"):
        EventSourceResponse(iter(()), headers={"Content-Length": "10"})


@pytest.mark.parametrize("ping, expected", [(None, None), (0, None), (0.0, None), (1, 1.0), (0.25, 0.25)])
def test_ping_none_or_zero_disables_it(ping, expected):
    assert EventSourceResponse(iter(()), ping=ping).ping == expected


def test_content_that_is_not_iterable_fails_in_the_handler():
    with pytest.raises(TypeError):
        EventSourceResponse(42)


@pytest.mark.parametrize("ping, error", [
    (-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError), (True, TypeError), ("15", TypeError),
])
def test_a_bad_ping_is_refused(ping, error):
    with pytest.raises(error):
        EventSourceResponse(iter(()), ping=ping)


def test_the_unbuffered_flag_marks_event_streams_only():
    # What a compressing middleware checks (docs/sse.md): event streams pass through it untouched.
    assert EventSourceResponse(iter(())).unbuffered is True
    assert Response(b"x").unbuffered is False
    assert StreamingResponse(iter(())).unbuffered is False


def test_the_names_are_exported_from_covet():
    import covet.sse

    for name in ("EventSourceResponse", "ServerSentEvent", "last_event_id"):
        assert getattr(covet, name) is getattr(covet.sse, name)
        assert name in covet.__all__


# -- Last-Event-ID (§9.2.4) ---------------------------------------------------------------

def make_request(*headers):
    return Request("GET", "/feed", "", [(b"host", b"t")] + list(headers))


@pytest.mark.parametrize("headers, expected", [
    ((), None),
    (((b"last-event-id", b"41"),), "41"),
    (((b"last-event-id", b""),), None),
    (((b"last-event-id", "caf\u00e9".encode("utf-8")),), "caf\u00e9"),  # UTF-8 on the wire
    (((b"last-event-id", b"\xff\xfe"),), None),  # not UTF-8: treated as absent
])
def test_last_event_id(headers, expected):
    assert last_event_id(make_request(*headers)) == expected


def feed_app():
    app = Covet()
    log = []

    @app.get("/feed")
    async def feed(request: Request):
        since = last_event_id(request)
        log.append(since)
        start = int(since) + 1 if since is not None else 1

        async def events():
            for n in range(start, 5):
                yield ServerSentEvent(data="event %d" % n, id=n)

        return EventSourceResponse(events())

    return app, log


def test_the_header_is_also_a_declared_parameter():
    app = Covet()

    @app.get("/feed")
    async def feed(last_id: Optional[str] = Header(None, alias="last-event-id")):
        return EventSourceResponse(iter([ServerSentEvent(data=repr(last_id))]))

    with TestClient(app) as client:
        with client.stream("GET", "/feed", headers={"Last-Event-ID": "9"}) as r:
            assert r.read() == b"data: '9'\n\n"
        with client.stream("GET", "/feed") as r:
            assert r.read() == b"data: None\n\n"


def test_a_resuming_client_is_served_from_its_last_event_id():
    app, log = feed_app()
    with TestClient(app) as client:
        with client.stream("GET", "/feed") as r:
            assert r.read() == b"".join(b"id: %d\ndata: event %d\n\n" % (n, n) for n in (1, 2, 3, 4))
        with client.stream("GET", "/feed", headers={"Last-Event-ID": "2"}) as r:
            assert r.read() == b"id: 3\ndata: event 3\n\nid: 4\ndata: event 4\n\n"
    assert log == [None, "2"]


# -- streaming through the test client ---------------------------------------------------

def test_events_arrive_one_at_a_time_through_the_test_client():
    app = Covet()
    state = {}

    @app.get("/events")
    async def events():
        proceed = state["proceed"] = asyncio.Event()

        async def gen():
            yield ServerSentEvent(data="first", event="a")
            await proceed.wait()  # the test lets the second event go only after it read the first
            yield {"data": "second", "id": "2"}

        return EventSourceResponse(gen(), ping=None)

    async def main():
        async with AsyncTestClient(app) as client:
            async with client.stream("GET", "/events") as r:
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
                assert r.headers["cache-control"] == "no-cache"
                assert r.headers["x-accel-buffering"] == "no"
                assert "content-length" not in r.headers
                assert await r.anext_chunk() == b"event: a\ndata: first\n\n"
                state["proceed"].set()
                assert await r.anext_chunk() == b"id: 2\ndata: second\n\n"
                assert await r.anext_chunk() is None

    asyncio.run(main())


def pinging_app(ping):
    """/quiet: one event, a wait on ``proceed`` (set by the test), a second event, a wait on ``end``."""
    app = Covet()
    state = {"closed": 0}

    @app.get("/quiet")
    async def quiet():
        proceed = state["proceed"] = asyncio.Event()
        end = state["end"] = asyncio.Event()

        async def gen():
            # The times each event is handed over, taken on the server's side: the ping interval
            # counts from a moment no earlier than these, whatever delays delivery to the client.
            now = asyncio.get_running_loop().time
            try:
                state["one_at"] = now()
                yield "one"
                await proceed.wait()
                state["two_at"] = now()
                yield "two"
                await end.wait()
            finally:
                state["closed"] += 1

        return EventSourceResponse(gen(), ping=ping)

    return app, state


def test_a_quiet_stream_is_pinged_after_the_interval_and_never_sooner():
    ping = 0.05
    app, state = pinging_app(ping)

    async def main():
        loop = asyncio.get_running_loop()
        async with AsyncTestClient(app) as client:
            async with client.stream("GET", "/quiet") as r:
                assert await r.anext_chunk() == b"data: one\n\n"
                assert await asyncio.wait_for(r.anext_chunk(), WAIT) == PING == b": ping\n\n"
                assert loop.time() - state["one_at"] >= ping
                assert await asyncio.wait_for(r.anext_chunk(), WAIT) == PING  # still quiet: pinged again
                state["proceed"].set()
                assert await asyncio.wait_for(r.anext_chunk(), WAIT) == b"data: two\n\n"
                # The interval counts from the last thing sent, not from the last ping.
                assert await asyncio.wait_for(r.anext_chunk(), WAIT) == PING
                assert loop.time() - state["two_at"] >= ping
                state["end"].set()
                assert await asyncio.wait_for(r.anext_chunk(), WAIT) is None
        assert state["closed"] == 1

    asyncio.run(main())


def test_no_ping_without_an_interval():
    pinged, app_pinged_state = pinging_app(0.02)
    silent, silent_state = pinging_app(None)
    app = Covet()
    app.mount("/pinged", pinged)
    app.mount("/silent", silent)

    async def main():
        async with AsyncTestClient(app) as client:
            async with client.stream("GET", "/pinged/quiet") as p, client.stream("GET", "/silent/quiet") as s:
                assert await p.anext_chunk() == b"data: one\n\n"
                assert await s.anext_chunk() == b"data: one\n\n"
                # Three pings on the other stream mark time; the silent stream's next chunk is its event.
                for _ in range(3):
                    assert await asyncio.wait_for(p.anext_chunk(), WAIT) == PING
                silent_state["proceed"].set()
                assert await asyncio.wait_for(s.anext_chunk(), WAIT) == b"data: two\n\n"
        assert (app_pinged_state["closed"], silent_state["closed"]) == (1, 1)  # left early: closed

    asyncio.run(main())


class FakeLoop:
    """The two loop methods the ping timer uses, with a clock the test moves."""

    def __init__(self):
        self.now = 0.0
        self.scheduled = []

    def time(self):
        return self.now

    def call_at(self, when, callback):
        self.scheduled.append(when)
        return self

    def cancel(self):
        self.scheduled.append("cancelled")


def test_the_ping_timer_counts_quiet_from_the_last_thing_sent_with_one_timer_per_interval():
    from covet.sse import _Pacer

    async def main():  # an asyncio.Queue needs a loop on Python 3.9
        loop = FakeLoop()
        slot = asyncio.Queue(maxsize=1)
        pacer = _Pacer(loop, 10.0, slot)
        assert loop.scheduled == [10.0]
        # Events at 3, 6 and 9 only record the time: no timer per event.
        pacer.last = 9.0
        assert loop.scheduled == [10.0]
        loop.now = 10.0
        pacer.tick()  # 1 s since the last event: no ping, wake again 10 s after it
        assert slot.empty() and loop.scheduled == [10.0, 19.0]
        loop.now = 19.0
        pacer.tick()
        assert slot.get_nowait() == PING and loop.scheduled == [10.0, 19.0, 29.0]
        pacer.last = 19.0  # the consumer sent it
        slot.put_nowait(b"data: waiting\n\n")  # an event waits in the slot: as good as a ping
        loop.now = 29.0
        pacer.tick()
        assert slot.get_nowait() == b"data: waiting\n\n" and slot.empty()
        assert loop.scheduled[-1] == 39.0
        pacer.stop()
        assert loop.scheduled[-1] == "cancelled"

    asyncio.run(main())


def test_leaving_a_busy_stream_closes_its_generator_before_the_stream_is_done():
    app = Covet()
    closed = threading.Event()

    @app.get("/busy")
    async def busy():
        async def gen():
            try:
                n = 0
                while True:  # always one event ahead: suspended at its yield when the client leaves
                    yield str(n)
                    n += 1
            finally:
                closed.set()

        return EventSourceResponse(gen(), ping=60)

    with TestClient(app) as client:
        with client.stream("GET", "/busy") as r:
            assert next(r.iter_bytes()) == b"data: 0\n\n"
        assert closed.is_set()  # closed by the stream itself, not later by garbage collection


def test_pings_never_split_an_event():
    app = Covet()

    @app.get("/busy")
    async def busy():
        async def gen():
            for n in range(200):
                yield ServerSentEvent(data="line one\nline two %d" % n, id=n)
                await asyncio.sleep(0)  # lets the ping timer run between any two events

        return EventSourceResponse(gen(), ping=0.0005)

    with TestClient(app) as client, client.stream("GET", "/busy") as r:
        chunks = list(r.iter_bytes())
    events = [c for c in chunks if c != PING]
    assert events == [b"id: %d\ndata: line one\ndata: line two %d\n\n" % (n, n) for n in range(200)]
    assert read_events(b"".join(chunks))[0] == [("message", "line one\nline two %d" % n, str(n)) for n in range(200)]


def test_a_sync_generator_runs_in_its_own_thread_and_is_closed():
    app = Covet()
    seen = {}
    closed = threading.Event()

    @app.get("/sync")
    def sync_feed():
        def gen():
            try:
                seen["thread"] = threading.current_thread().name
                for n in range(3):
                    yield ServerSentEvent(data=str(n), id=n)
                yield "last"
            finally:
                seen["closed in"] = threading.current_thread().name
                closed.set()

        return EventSourceResponse(gen())

    with TestClient(app) as client, client.stream("GET", "/sync") as r:
        assert [c for c in r.iter_bytes()] == [
            b"id: 0\ndata: 0\n\n", b"id: 1\ndata: 1\n\n", b"id: 2\ndata: 2\n\n", b"data: last\n\n"]
    assert closed.wait(WAIT)
    assert seen == {"thread": "covet-sse", "closed in": "covet-sse"}


def test_leaving_a_sync_stream_early_closes_its_generator_in_its_thread():
    app = Covet()
    closed = threading.Event()
    where = []

    @app.get("/sync")
    def sync_feed():
        def gen():
            try:
                n = 0
                while True:
                    yield str(n)
                    n += 1
            finally:
                where.append(threading.current_thread().name)
                closed.set()

        return EventSourceResponse(gen(), ping=None)

    with TestClient(app) as client:
        with client.stream("GET", "/sync") as r:
            assert next(r.iter_bytes()) == b"data: 0\n\n"
        assert closed.wait(WAIT)
    assert where == ["covet-sse"]


def test_an_error_in_the_generator_ends_the_stream_in_the_test_client():
    app = Covet()

    @app.get("/fails")
    async def fails():
        async def gen():
            yield "before"
            raise RuntimeError("the feed broke")

        return EventSourceResponse(gen())

    with TestClient(app, raise_server_exceptions=False) as client, client.stream("GET", "/fails") as r:
        assert list(r.iter_bytes()) == [b"data: before\n\n"]
    with TestClient(app) as client, client.stream("GET", "/fails") as r:
        chunks = r.iter_bytes()
        assert next(chunks) == b"data: before\n\n"
        with pytest.raises(RuntimeError, match="the feed broke"):
            next(chunks)


def test_a_bad_event_ends_the_stream_like_an_error():
    app = Covet()

    @app.get("/bad")
    async def bad():
        async def gen():
            yield "fine"
            yield ServerSentEvent(data="x", id="a\nb")

        return EventSourceResponse(gen())

    with TestClient(app) as client, client.stream("GET", "/bad") as r:
        chunks = r.iter_bytes()
        assert next(chunks) == b"data: fine\n\n"
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            next(chunks)


def test_head_sends_the_headers_and_never_starts_the_generator():
    app = Covet()
    started = []

    @app.get("/events")
    async def events():
        async def gen():
            started.append(True)
            yield "x"

        return EventSourceResponse(gen())

    with TestClient(app) as client:
        r = client.head("/events")
    assert (r.status_code, r.content, r.headers["content-type"]) == (200, b"", "text/event-stream; charset=utf-8")
    assert started == []


# -- the ASGI door -------------------------------------------------------------------------

def run_asgi(app, path, headers=()):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"t")] + list(headers), "http_version": "1.1", "scheme": "http"}
    error = None
    try:
        asyncio.run(asgi_handle(app, scope, receive, send))
    except Exception as exc:
        error = exc
    return sent, error


def test_events_through_the_asgi_door():
    app, log = feed_app()
    sent, error = run_asgi(app, "/feed", [(b"last-event-id", b"2")])
    assert error is None
    assert sent[0] == {"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no")]}
    assert sent[1:] == [
        {"type": "http.response.body", "body": b"id: 3\ndata: event 3\n\n", "more_body": True},
        {"type": "http.response.body", "body": b"id: 4\ndata: event 4\n\n", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]
    assert log == ["2"]


def test_an_error_in_the_generator_ends_the_asgi_body_unfinished():
    app = Covet()
    closed = []

    @app.get("/fails")
    async def fails():
        async def gen():
            try:
                yield "before"
                raise RuntimeError("the feed broke")
            finally:
                closed.append(True)

        return EventSourceResponse(gen())

    sent, error = run_asgi(app, "/fails")
    assert isinstance(error, RuntimeError)  # the ASGI server logs it and drops the connection
    assert [m.get("body") for m in sent[1:]] == [b"data: before\n\n"]
    assert all(m.get("more_body") for m in sent[1:])  # no final message: the body is unfinished
    assert closed == [True]


# -- covet's server, over a real socket ----------------------------------------------------

def read_chunk(sock, buffered):
    """One chunk of a chunked body: (data, rest); data is None at the last chunk."""
    line, rest = recv_until(sock, b"\r\n", buffered)
    size = int(line[:-2], 16)
    if size == 0:
        end, rest = recv_until(sock, b"\r\n", rest)
        assert end == b"\r\n"  # no trailers
        return None, rest
    while len(rest) < size + 2:
        more = sock.recv(65536)
        if not more:
            raise AssertionError("connection closed inside a chunk; got %r" % rest)
        rest += more
    assert rest[size:size + 2] == b"\r\n"
    return rest[:size], rest[size + 2:]


def server_app():
    app = Covet()
    state = {}

    def on_loop():
        # asyncio.Events made on the server's loop, the first time a handler runs there.
        if "closed" not in state:
            state["closed"] = asyncio.Event()
            state["proceed"] = asyncio.Event()
            state["after"] = asyncio.Event()
        return state

    @app.get("/feed")
    async def feed(request: Request):
        s = on_loop()
        since = last_event_id(request)
        first = int(since) + 1 if since else 1

        async def gen():
            try:
                yield ServerSentEvent(data="event %d" % first, id=first, event="tick")
                await s["proceed"].wait()
                yield ServerSentEvent(data="event %d" % (first + 1), id=first + 1, event="tick")
            finally:
                s["closed"].set()

        return EventSourceResponse(gen(), ping=0.05, background=_setter(s["after"]))

    @app.get("/fails")
    async def fails():
        async def gen():
            yield "before"
            raise RuntimeError("secret detail of the feed")

        return EventSourceResponse(gen(), ping=None)

    return app, state


def _setter(event):
    from covet import BackgroundTasks

    tasks = BackgroundTasks()
    tasks.add_task(event.set)
    return tasks


def wait_on(srv, event):
    """Wait, from the test thread, for an asyncio.Event of the server's loop."""
    future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(event.wait(), WAIT), srv.loop)
    future.result(WAIT + 1)


def sse_tasks(srv):
    def find():
        return [t for t in asyncio.all_tasks() if "_pump" in repr(t)]
    return srv.call(find)


def test_a_stream_over_the_server_with_exact_headers_pings_and_resume():
    app, state = server_app()
    with RunningServer(app) as srv, srv.connect() as s:
        s.sendall(b"GET /feed HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 6\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"HTTP/1.1 200 OK"
        headers = [tuple(line.split(b": ", 1)) for line in lines[1:-2]]
        assert [h for h in headers if h[0] not in (b"date", b"server")] == [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            (b"transfer-encoding", b"chunked"),
        ]
        data, rest = read_chunk(s, rest)
        assert data == b"event: tick\nid: 7\ndata: event 7\n\n"
        data, rest = read_chunk(s, rest)
        assert data == PING
        srv.loop.call_soon_threadsafe(state["proceed"].set)
        while data == PING:
            data, rest = read_chunk(s, rest)
        assert data == b"event: tick\nid: 8\ndata: event 8\n\n"
        assert read_chunk(s, rest) == (None, b"")  # the generator ended: the last chunk
        wait_on(srv, state["closed"])
        # the connection stays usable for the next request
        s.sendall(b"GET /feed HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert read_chunk(s, rest)[0] == b"event: tick\nid: 1\ndata: event 1\n\n"


def test_a_client_that_closes_its_socket_closes_the_generator():
    app, state = server_app()
    with RunningServer(app) as srv:
        s = srv.connect()
        s.sendall(b"GET /feed HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        assert read_chunk(s, rest)[0] == b"event: tick\nid: 1\ndata: event 1\n\n"
        assert not state["closed"].is_set()
        assert len(sse_tasks(srv)) == 1  # the stream's one task, reading the generator
        s.close()
        # The generator waits forever; the next ping's write fails, and the stream is closed.
        wait_on(srv, state["closed"])
        wait_on(srv, state["after"])  # background tasks ran
        assert not state["proceed"].is_set()
        assert sse_tasks(srv) == []  # no pump task left behind


def test_a_sync_generator_blocked_when_the_client_leaves_is_closed_once_it_returns():
    app = Covet()
    items = __import__("queue").Queue()
    closed = threading.Event()
    after = threading.Event()

    @app.get("/sync")
    def sync_feed():
        def gen():
            try:
                yield "one"
                while True:
                    yield items.get()  # blocks its thread, not the loop
            finally:
                closed.set()

        return EventSourceResponse(gen(), ping=0.05, background=_threading_setter(after))

    with RunningServer(app) as srv:
        s = srv.connect()
        s.sendall(b"GET /sync HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        assert read_chunk(s, rest)[0] == b"data: one\n\n"
        s.close()
        assert after.wait(WAIT)  # the stream was closed on the loop (a ping's write failed)
        assert not closed.is_set()  # its thread is still inside next()
        items.put("unblock")
        assert closed.wait(WAIT)  # next() returned: the thread closed the generator
        assert sse_tasks(srv) == []


def _threading_setter(event):
    from covet import BackgroundTasks

    tasks = BackgroundTasks()
    tasks.add_task(event.set)
    return tasks


def test_an_error_in_the_generator_cuts_the_stream_and_is_logged_not_sent(caplog):
    caplog.set_level(logging.ERROR, logger="covet.error")
    app, _ = server_app()
    with RunningServer(app) as srv, srv.connect() as s:
        s.sendall(b"GET /fails HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        data, rest = read_chunk(s, rest)
        assert data == b"data: before\n\n"
        received = rest
        while True:  # the server closes the connection without the last chunk
            try:
                more = s.recv(65536)
            except ConnectionResetError:
                break
            if not more:
                break
            received += more
        assert received == b""
    errors = [r for r in caplog.records if r.name == "covet.error"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and str(errors[0].exc_info[1]) == "secret detail of the feed"


def test_http_1_0_gets_a_close_delimited_stream():
    app, state = server_app()
    with RunningServer(app) as srv, srv.connect() as s:
        s.sendall(b"GET /feed HTTP/1.0\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK\r\n")
        assert b"transfer-encoding" not in head.lower() and b"content-length" not in head.lower()
        rest, _ = recv_until(s, b"\n\n", rest)
        assert rest == b"event: tick\nid: 1\ndata: event 1\n\n"
        srv.loop.call_soon_threadsafe(state["proceed"].set)
        s.settimeout(WAIT)
        received = b""
        while True:
            more = s.recv(65536)
            if not more:
                break
            received += more
        assert received.replace(PING, b"") == b"event: tick\nid: 2\ndata: event 2\n\n"


def test_the_socket_sees_whole_events():
    # A raw reader of the wire: every chunk the server sends is one whole event or a ping.
    app, state = server_app()
    with RunningServer(app) as srv, srv.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"GET /feed HTTP/1.1\r\nHost: x\r\n\r\n")
        _, rest = recv_until(s, b"\r\n\r\n")
        chunks = []
        data, rest = read_chunk(s, rest)
        chunks.append(data)
        srv.loop.call_soon_threadsafe(state["proceed"].set)
        while data is not None:
            data, rest = read_chunk(s, rest)
            if data is not None:
                chunks.append(data)
    assert all(c == PING or c.endswith(b"\n\n") and c.count(b"\n\n") == 1 for c in chunks)
    assert read_events(b"".join(chunks))[0] == [("tick", "event 1", "1"), ("tick", "event 2", "2")]


def test_graceful_shutdown_ends_a_live_stream_with_its_last_chunk():
    # A stream that never ends on its own must not hold a graceful shutdown for its whole
    # deadline: it ends with the chunked body's last chunk (the client reconnects elsewhere).
    app, state = server_app()
    with RunningServer(app, shutdown_timeout=60) as srv:
        s = srv.connect()
        s.sendall(b"GET /feed HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = recv_until(s, b"\r\n\r\n")
        assert read_chunk(s, rest)[0] == b"event: tick\nid: 1\ndata: event 1\n\n"
        srv.begin_shutdown()
        data = rest
        while not data.endswith(b"0\r\n\r\n"):
            more = s.recv(4096)  # the socket's timeout is the safety net
            assert more, data
            data += more
        assert s.recv(4096) == b""  # and the connection closes
        s.close()
        wait_on(srv, state["closed"])  # the generator was closed
        assert not state["proceed"].is_set()
        srv._thread.join(WAIT)
        assert not srv.is_alive()  # the server stopped long before its 60 s deadline
