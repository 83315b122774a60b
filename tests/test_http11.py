"""covet.server.http11: the sans-IO request parser and the response serializer.

Every input is parsed three ways (as h11's tests/test_io.py does): fed whole, fed one byte at a time, and
followed by the next pipelined request, whose bytes must stay unread and parse afterwards.
"""
import http.client
import io

import pytest

from covet.server.http11 import (
    target_path,
    LAST_CHUNK, NEED_DATA, Body, EndOfMessage, Limits, ProtocolError, RequestHead, RequestParser,
    check_header_name, check_header_value, chunk, response_head,
)

NEXT = b"GET /next HTTP/1.1\r\nHost: n\r\n\r\n"
NEXT_EVENTS = [RequestHead("GET", "/next", "1.1", [(b"host", b"n")]), EndOfMessage()]
MODES = ["whole", "bytewise", "trailing"]


def merge(events):
    """Consecutive Body events joined into one, so the three feeding modes compare equal."""
    out = []
    for event in events:
        if type(event) is Body and out and type(out[-1]) is Body:
            out[-1] = Body(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def drain(parser, events, stop_at_end=False):
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return False
        events.append(event)
        if stop_at_end and type(event) is EndOfMessage:
            return True


def parse(data, mode, limits=None):
    """The events of the first request in ``data``, parsed in the given mode."""
    parser = RequestParser(limits)
    events = []
    if mode == "bytewise":
        for i in range(len(data)):
            parser.feed(data[i:i + 1])
            drain(parser, events)
        assert parser.remaining() == b""
    elif mode == "whole":
        parser.feed(data)
        drain(parser, events)
        assert parser.remaining() == b""
    else:
        parser.feed(data + NEXT)
        assert drain(parser, events, stop_at_end=True), "no EndOfMessage"
        assert parser.remaining() == NEXT
        rest = []
        drain(parser, rest)
        assert rest == NEXT_EVENTS
    return merge(events)


def parse_error(data, mode="whole", limits=None):
    """The ProtocolError raised while parsing ``data`` in the given mode."""
    parser = RequestParser(limits)
    pieces = [data[i:i + 1] for i in range(len(data))] if mode == "bytewise" else [
        data + NEXT if mode == "trailing" else data]
    with pytest.raises(ProtocolError) as info:
        for piece in pieces:
            parser.feed(piece)
            drain(parser, [])
    error = info.value
    # The parser is dead: the same error again, more bytes ignored, nothing left to hand off.
    parser.feed(NEXT)
    with pytest.raises(ProtocolError) as again:
        parser.next_event()
    assert again.value is error
    assert parser.remaining() == b""
    return error


def head(method="GET", target="/", version="1.1", headers=((b"host", b"a"),), **kw):
    return RequestHead(method, target, version, list(headers), **kw)


# --- accepted requests -----------------------------------------------------------------------

SIMPLE_CASES = [
    # (request bytes, expected events)
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", [head(), EndOfMessage()]),
    (b"GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n",
     [head(target="/a/b?c=d&e", headers=[(b"host", b"example.com:8080"), (b"accept", b"*/*")]),
      EndOfMessage()]),
    # Names lower-cased, order and duplicates kept, OWS trimmed, empty value, obs-text kept.
    (b"GET / HTTP/1.1\r\nHOST: a\r\nCookie: x=1\r\nX-Pad:  \t spaced  out \t \r\ncookie: y=2\r\n"
     b"X-Empty:\r\nX-Latin: caf\xe9\r\n\r\n",
     [head(headers=[(b"host", b"a"), (b"cookie", b"x=1"), (b"x-pad", b"spaced  out"),
                    (b"cookie", b"y=2"), (b"x-empty", b""), (b"x-latin", b"caf\xe9")]),
      EndOfMessage()]),
    # HTTP/1.0: Host optional, keep-alive off unless asked for.
    (b"GET / HTTP/1.0\r\n\r\n", [head(version="1.0", headers=[], keep_alive=False),
                                 EndOfMessage()]),
    (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
     [head(version="1.0", headers=[(b"connection", b"Keep-Alive")]), EndOfMessage()]),
    (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
     [head(headers=[(b"host", b"a"), (b"connection", b"close")], keep_alive=False),
      EndOfMessage()]),
    (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n",
     [head(headers=[(b"host", b"a"), (b"connection", b"keep-alive, CLOSE")], keep_alive=False),
      EndOfMessage()]),
    # Content-Length bodies, leading zeros allowed (1*DIGIT), zero length has no Body event.
    (b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
     [head("POST", "/f", headers=[(b"host", b"a"), (b"content-length", b"5")], content_length=5),
      Body(b"hello"), EndOfMessage()]),
    (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 003\r\n\r\nabc",
     [head("PUT", headers=[(b"host", b"a"), (b"content-length", b"003")], content_length=3),
      Body(b"abc"), EndOfMessage()]),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
     [head("POST", headers=[(b"host", b"a"), (b"content-length", b"0")], content_length=0),
      EndOfMessage()]),
    # Chunked, case-insensitive coding, extensions (token and quoted-string), trailers.
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
     b"5\r\nhello\r\n1;ext\r\n \r\nA ; n = v ;q=\"a;\\\"b\"\r\n0123456789\r\n0\r\n"
     b"X-Sum: 1\r\nX-Other:  two \r\n\r\n",
     [head("POST", headers=[(b"host", b"a"), (b"transfer-encoding", b"Chunked")], chunked=True),
      Body(b"hello 0123456789"), EndOfMessage([(b"x-sum", b"1"), (b"x-other", b"two")])]),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     [head("POST", headers=[(b"host", b"a"), (b"transfer-encoding", b"chunked")], chunked=True),
      EndOfMessage()]),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfF\r\n" + b"x" * 255
     + b"\r\n0;last\r\n\r\n",
     [head("POST", headers=[(b"host", b"a"), (b"transfer-encoding", b"chunked")], chunked=True),
      Body(b"x" * 255), EndOfMessage()]),
    # Target forms (RFC 9112 §3.2) and methods that are tokens.
    (b"GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n",
     [head(target="http://example.com/x?y", headers=[(b"host", b"example.com")]),
      EndOfMessage()]),
    (b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", [head("OPTIONS", "*"), EndOfMessage()]),
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
     [head("CONNECT", "example.com:443", headers=[(b"host", b"example.com:443")]),
      EndOfMessage()]),
    (b"PURGE /cache HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n",
     [head("PURGE", "/cache", headers=[(b"host", b"[::1]:8000")]), EndOfMessage()]),
    (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", [head(headers=[(b"host", b"")]), EndOfMessage()]),
    # Expect: 100-continue (ignored on HTTP/1.0, RFC 9110 §10.1.1).
    (b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
     [head("PUT", headers=[(b"host", b"a"), (b"expect", b"100-Continue"),
                           (b"content-length", b"1")], expect_continue=True, content_length=1),
      Body(b"x"), EndOfMessage()]),
    (b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
     [head("PUT", version="1.0", headers=[(b"expect", b"100-continue"), (b"content-length", b"1")],
           keep_alive=False, content_length=1), Body(b"x"), EndOfMessage()]),
    # Upgrade only counts with "Connection: upgrade" on HTTP/1.1 (RFC 9110 §7.8).
    (b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
     b"Upgrade: websocket\r\n\r\n",
     [head(target="/ws", headers=[(b"host", b"a"), (b"connection", b"keep-alive, Upgrade"),
                                  (b"upgrade", b"websocket")], upgrade=b"websocket"),
      EndOfMessage()]),
    (b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n",
     [head(headers=[(b"host", b"a"), (b"upgrade", b"h2c")]), EndOfMessage()]),
    (b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
     [head(version="1.0", headers=[(b"connection", b"upgrade"), (b"upgrade", b"websocket")],
           keep_alive=False), EndOfMessage()]),
    # RFC 9112 §2.2: empty lines before the request-line are ignored.
    (b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", [head(), EndOfMessage()]),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data,expected", SIMPLE_CASES)
def test_simple_cases_parse_the_same_in_every_mode(data, expected, mode):
    assert parse(data, mode) == expected


def request_bytes(events):
    """A test-side writer: the wire form of a RequestHead, Body and EndOfMessage sequence."""
    first = events[0]
    out = [b"%s %s HTTP/%s\r\n" % (first.method.encode(), first.target.encode(),
                                   first.version.encode())]
    out += [b"%s: %s\r\n" % pair for pair in first.headers]
    out.append(b"\r\n")
    for event in events[1:]:
        if type(event) is Body:
            out.append(chunk(event.data) if first.chunked else event.data)
        elif first.chunked:
            out.append(b"0\r\n" + b"".join(b"%s: %s\r\n" % pair for pair in event.trailers)
                       + b"\r\n")
    return b"".join(out)


@pytest.mark.parametrize("data,expected", SIMPLE_CASES)
def test_round_trip_through_writer_and_reader(data, expected):
    assert parse(request_bytes(expected), "whole") == expected


def test_ten_pipelined_requests_in_one_buffer():
    requests, expected = [], []
    for i in range(10):
        if i % 3 == 0:
            body = b"body-%d" % i
            requests.append(b"POST /%d HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s"
                            % (i, len(body), body))
            expected += [head("POST", "/%d" % i, headers=[
                (b"host", b"a"), (b"content-length", b"%d" % len(body))],
                content_length=len(body)), Body(body), EndOfMessage()]
        elif i % 3 == 1:
            requests.append(b"POST /%d HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" % i)
            expected += [head("POST", "/%d" % i, headers=[
                (b"host", b"a"), (b"transfer-encoding", b"chunked")], chunked=True),
                Body(b"abcde"), EndOfMessage()]
        else:
            requests.append(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)
            expected += [head(target="/%d" % i), EndOfMessage()]
    data = b"".join(requests)
    for step in (len(data), 1, 7):
        parser = RequestParser()
        events = []
        for i in range(0, len(data), step):
            parser.feed(data[i:i + step])
            drain(parser, events)
        assert merge(events) == expected
        assert parser.remaining() == b""


def test_body_events_come_as_data_arrives():
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    assert type(parser.next_event()) is RequestHead
    assert parser.next_event() == Body(b"abc")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"defghij")
    assert parser.next_event() == Body(b"defghij")
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() is NEED_DATA


def test_chunked_body_is_coalesced_and_trailers_follow_the_data():
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"1\r\na\r\n1\r\nb\r\n2\r\ncd\r\n3\r\nef")
    assert type(parser.next_event()) is RequestHead
    assert parser.next_event() == Body(b"abcdef")  # the partial chunk too
    assert parser.next_event() is NEED_DATA
    parser.feed(b"g\r\n0\r\nT: 1\r\n\r\n")
    assert parser.next_event() == Body(b"g")
    assert parser.next_event() == EndOfMessage([(b"t", b"1")])


def test_many_one_byte_chunks_parse_in_linear_time():
    count = 50000
    data = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"1\r\nx\r\n" * count + b"0\r\n\r\n")
    events = parse(data, "whole", Limits(max_body_size=count))
    assert events[1:] == [Body(b"x" * count), EndOfMessage()]
    parser = RequestParser()
    parser.feed(data[:60])
    drain(parser, [])
    for i in range(60, len(data), 5):  # awkward piece boundaries, many small events
        parser.feed(data[i:i + 5])
        drain(parser, [])
    assert parser.remaining() == b""


def test_large_bodies_arrive_intact():
    body = bytes(range(256)) * 400  # 100 KiB, large enough for the single-copy path
    data = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    assert parse(data, "trailing")[1:] == [Body(body), EndOfMessage()]
    data = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk(body) + chunk(body[:5]) + LAST_CHUNK)
    assert parse(data, "trailing")[1:] == [Body(body + body[:5]), EndOfMessage()]
    parser = RequestParser()
    parser.feed(data[:70000])
    events = []
    drain(parser, events)
    assert events[1] == Body(data[data.index(b"\r\n\r\n") + 4 + 7:70000])  # "19000\r\n"


def test_upgrade_hands_off_the_unread_bytes():
    parser = RequestParser()
    parser.feed(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
                b"\x81\x05hello")
    event = parser.next_event()
    assert event.upgrade == b"websocket"
    assert parser.next_event() == EndOfMessage()
    assert parser.remaining() == b"\x81\x05hello"


def test_pending_counts_unconsumed_bytes():
    parser = RequestParser()
    assert parser.pending() == 0
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HT")
    assert parser.pending() == 36
    assert parser.next_event() == head()
    assert parser.pending() == 9
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() is NEED_DATA
    assert parser.pending() == 9  # a partial head: the server's head timeout applies
    parser.feed(b"TP/1.1\r\nHost: a\r\n\r\n")
    assert parser.next_event() == head(target="/x")
    assert parser.pending() == 0


def test_leading_empty_lines_fed_one_at_a_time():
    parser = RequestParser()
    for piece in (b"\r", b"\n", b"\r\n", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"):
        parser.feed(piece)
    assert parser.next_event() == head()


# --- rejections ------------------------------------------------------------------------------

def request(*header_lines, body=b"", version=b"1.1", line=None):
    line = line if line is not None else b"POST / HTTP/" + version
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in header_lines) + b"\r\n" + body


HOST = b"Host: a"
TE = b"Transfer-Encoding: chunked"

REJECTIONS = [
    # (status, request bytes, why): request smuggling and framing (RFC 9112 §6, §7; the CVEs named below).
    # 1. CL and TE together (aiohttp CVE-2023-47641).
    (400, request(HOST, b"Content-Length: 3", TE, body=b"0\r\n\r\n"), "CL+TE"),
    (400, request(HOST, TE, b"Content-Length: 3", body=b"0\r\n\r\n"), "TE+CL"),
    # 2. Several Content-Length, equal or not, or a list (waitress CVE-2019-16792).
    (400, request(HOST, b"Content-Length: 1", b"Content-Length: 1", body=b"x"), "two equal CL"),
    (400, request(HOST, b"Content-Length: 1", b"Content-Length: 2", body=b"xy"), "two CL"),
    (400, request(HOST, b"Content-Length: 1, 1", body=b"x"), "CL list"),
    # 3. Content-Length that is not 1*DIGIT (tornado GHSA-qppv, waitress CVE-2022-24761).
    (400, request(HOST, b"Content-Length: +1", body=b"x"), "CL +1"),
    (400, request(HOST, b"Content-Length: -0"), "CL -0"),
    (400, request(HOST, b"Content-Length: 1_0", body=b"x" * 10), "CL 1_0"),
    (400, request(HOST, b"Content-Length: 0x1", body=b"x"), "CL 0x1"),
    (400, request(HOST, b"Content-Length: 1 0", body=b"x" * 10), "CL inner space"),
    (400, request(HOST, b"Content-Length: \x0b1", body=b"x"), "CL vertical tab"),
    (400, request(HOST, "Content-Length: \u0661".encode("utf-8"), body=b"x"), "CL Arabic digit"),
    (400, request(HOST, b"Content-Length: " + b"1" * 20), "CL 20 digits"),
    (400, request(HOST, b"Content-Length:"), "CL empty"),
    # 4. Transfer-Encoding other than exactly one chunked (gunicorn CVE-2024-1135/6827,
    #    waitress CVE-2019-16786/16789).
    (501, request(HOST, b"Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n"), "gzip,chunked"),
    (501, request(HOST, b"Transfer-Encoding: gzip", TE, body=b"0\r\n\r\n"), "two TE gzip+chunked"),
    (400, request(HOST, b"Transfer-Encoding: chunked, identity", body=b"0\r\n\r\n"), "not final"),
    (400, request(HOST, TE, TE, body=b"0\r\n\r\n"), "two TE chunked"),
    (400, request(HOST, b"Transfer-Encoding: chunked, chunked", body=b"0\r\n\r\n"), "twice"),
    (400, request(HOST, b"Transfer-Encoding: identity"), "identity"),
    (400, request(HOST, b"Transfer-Encoding: gzip", body=b"x"), "gzip alone"),
    (400, request(HOST, b"Transfer-Encoding: \x0bchunked", body=b"0\r\n\r\n"), "VT chunked"),
    (400, request(HOST, b"Transfer-Encoding: chunked foo", body=b"0\r\n\r\n"), "junk"),
    (400, request(HOST, b"Transfer-Encoding: chunked,", body=b"0\r\n\r\n"), "empty member"),
    (400, request(HOST, b"Transfer-Encoding: chunked;q=1", body=b"0\r\n\r\n"), "parameter"),
    (400, request(TE, version=b"1.0", body=b"0\r\n\r\n"), "TE on HTTP/1.0"),
    # 5. Chunk framing (h11 CVE-2025-43859, aiohttp CVE-2024-52304 / CVE-2025-53643).
    (400, request(HOST, TE, body=b"5\r\nhello!\r\n0\r\n\r\n"), "data not followed by CRLF"),
    (400, request(HOST, TE, body=b"5\r\nhelloXY0\r\n\r\n"), "junk after data"),
    (400, request(HOST, TE, body=b"5\r\nhello\n0\r\n\r\n"), "LF after data"),
    (400, request(HOST, TE, body=b"5\r\nhello\r\r\n0\r\n\r\n"), "CR CR LF after data"),
    (400, request(HOST, TE, body=b"0x5\r\nhello\r\n0\r\n\r\n"), "size 0x5"),
    (400, request(HOST, TE, body=b"+5\r\nhello\r\n0\r\n\r\n"), "size +5"),
    (400, request(HOST, TE, body=b"-5\r\nhello\r\n0\r\n\r\n"), "size -5"),
    (400, request(HOST, TE, body=b" 5\r\nhello\r\n0\r\n\r\n"), "size leading space"),
    (400, request(HOST, TE, body=b"5 \r\nhello\r\n0\r\n\r\n"), "size trailing space"),
    (400, request(HOST, TE, body=b"5_0\r\nhello\r\n0\r\n\r\n"), "size 5_0"),
    (400, request(HOST, TE, body=b"\r\nhello\r\n0\r\n\r\n"), "empty size"),
    (400, request(HOST, TE, body=b"g\r\nhello\r\n0\r\n\r\n"), "size g"),
    (400, request(HOST, TE, body=b"1" * 17 + b"\r\n"), "17 hex digits"),
    (400, request(HOST, TE, body=b"5\nhello\r\n0\r\n\r\n"), "size line bare LF"),
    (400, request(HOST, TE, body=b"5;a\nb\r\nhello\r\n0\r\n\r\n"), "LF in extension"),
    (400, request(HOST, TE, body=b"5;a\rb\r\nhello\r\n0\r\n\r\n"), "CR in extension"),
    (400, request(HOST, TE, body=b"5;\r\nhello\r\n0\r\n\r\n"), "empty extension name"),
    (400, request(HOST, TE, body=b"5;=x\r\nhello\r\n0\r\n\r\n"), "extension without name"),
    (400, request(HOST, TE, body=b"5;a=\"x\r\nhello\r\n0\r\n\r\n"), "unterminated quoted"),
    (400, request(HOST, TE, body=b"5;a=b c\r\nhello\r\n0\r\n\r\n"), "space in ext value"),
    (400, request(HOST, TE, body=b"5;a=\x01\r\nhello\r\n0\r\n\r\n"), "CTL in extension"),
    (400, request(HOST, TE, body=b"0\r\nX: a\nY: b\r\n\r\n"), "trailer bare LF"),
    (400, request(HOST, TE, body=b"0\r\nX: a\r\n folded\r\n\r\n"), "trailer obs-fold"),
    (400, request(HOST, TE, body=b"0\r\nno colon\r\n\r\n"), "trailer without colon"),
    (400, request(HOST, TE, body=b"0\r\nX: \x00\r\n\r\n"), "trailer NUL"),
    # 6. Line terminators other than CRLF (waitress CVE-2019-16785, aiohttp CVE-2023-37276).
    (400, b"GET / HTTP/1.1\nHost: a\r\n\r\n", "request line bare LF"),
    (400, b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", "header bare LF"),
    (400, b"GET / HTTP/1.1\r\nHost: a\n\n", "bare LF LF end"),
    (400, b"GET / HTTP/1.1\rHost: a\r\n\r\n", "request line bare CR"),
    (400, b"GET / HTTP/1.1\r\nHost: a\r\nX: \rTransfer-Encoding: chunked\r\n\r\n", "CR in value"),
    (400, b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "leading bare LF"),
    (400, b"\r\n" * 9 + b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "too many leading empty lines"),
    (400, request(HOST, b"X: a", b" folded"), "obs-fold SP"),
    (400, request(HOST, b"X: a", b"\tfolded"), "obs-fold HTAB"),
    (400, request(b" Host: a"), "first line folded"),
    (400, request(HOST, b"Content-Length : 0"), "space before colon"),
    (400, request(HOST, b"Content-Length\t: 0"), "tab before colon"),
    # 7. Names that are not tokens; values with NUL, CR, LF or other CTLs (aiohttp CVE-2024-23829).
    (400, request(HOST, b"X(y): 1"), "name with ("),
    (400, request(HOST, b": empty name"), "empty name"),
    (400, request(HOST, b"no colon at all"), "no colon"),
    (400, request(HOST, "N\u00e4me: 1".encode("utf-8")), "non-ASCII name"),
    (400, request(HOST, b"X: a\x00b"), "NUL in value"),
    (400, request(HOST, b"X: a\x01b"), "SOH in value"),
    (400, request(HOST, b"X: a\x7fb"), "DEL in value"),
    (400, request(HOST, b"X: \x1b[31m"), "ESC in value"),
    # 8. Request line: method, target, version, number of parts.
    (400, request(HOST, line=b"G(T / HTTP/1.1"), "method not a token"),
    (400, request(HOST, line=b" / HTTP/1.1"), "empty method"),
    (400, request(HOST, line=b"GET /a b HTTP/1.1"), "space in target"),
    (400, request(HOST, line=b"GET /a\x01b HTTP/1.1"), "CTL in target"),
    (400, request(HOST, line=b"GET /a\tb HTTP/1.1"), "tab in target"),
    (400, request(HOST, line="GET /\u00e9 HTTP/1.1".encode("utf-8")), "non-ASCII target"),
    (400, request(HOST, line=b"GET /"), "two parts"),
    (400, request(HOST, line=b"GET / HTTP/1.1 extra"), "four parts"),
    (400, request(HOST, line=b"GET  / HTTP/1.1"), "double space"),
    (400, request(HOST, line=b"GET / HTTP/1.1 "), "trailing space"),
    (400, request(HOST, line=b"GET / http/1.1"), "lower-case HTTP-name"),
    (400, request(HOST, line=b"GET / HTTP/1"), "version without minor"),
    (400, request(HOST, line=b"GET / HTTP/11"), "version 11"),
    (400, request(HOST, line=b"GET / HTTP/1.1.1"), "version 1.1.1"),
    (400, request(HOST, line=b"GET / HTTP/\xd9\xa1.1"), "Unicode digit version"),
    (505, request(HOST, line=b"GET / HTTP/2.0"), "HTTP/2.0"),
    (505, request(HOST, line=b"GET / HTTP/1.2"), "HTTP/1.2"),
    (505, request(line=b"GET / HTTP/0.9"), "HTTP/0.9"),
    (400, request(HOST, line=b"GET * HTTP/1.1"), "asterisk-form not OPTIONS"),
    (400, request(HOST, line=b"CONNECT / HTTP/1.1"), "CONNECT origin-form"),
    (400, request(HOST, line=b"CONNECT example.com HTTP/1.1"), "CONNECT without port"),
    (400, request(HOST, line=b"GET ?x HTTP/1.1"), "no form matches"),
    (400, request(HOST, line=b"GET 1http://a/ HTTP/1.1"), "bad scheme"),
    # 9. Host (RFC 9112 §3.2, h11 _events.py).
    (400, request(), "HTTP/1.1 without Host"),
    (400, request(HOST, b"Host: b"), "two Host"),
    (400, request(HOST, HOST), "two equal Host"),
    (400, request(b"Host: a", b"host: a", version=b"1.0"), "two Host on 1.0"),
    (400, request(b"Host: a b"), "space in Host"),
    (400, request(b"Host: a/b"), "slash in Host"),
    (400, request(b"Host: a@b"), "userinfo in Host"),
    (400, request(b"Host: a:b"), "port not digits"),
    # Expectations other than 100-continue (RFC 9110 §10.1.1).
    (417, request(HOST, b"Expect: 200-ok"), "unknown expectation"),
    (417, request(HOST, b"Expect: 100-continue, foo"), "extra expectation"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status,data,why", REJECTIONS, ids=[r[2] for r in REJECTIONS])
def test_rejections_have_their_status_in_every_mode(status, data, why, mode):
    assert parse_error(data, mode).status == status


def test_rejections_name_the_rule():
    assert parse_error(request(HOST, b"X: a", b" b")).detail == (
        "obs-fold continuation line (RFC 9112 §5.2)")
    assert parse_error(request(HOST, b"X : a")).detail == (
        "whitespace between field name and colon (RFC 9112 §5.1)")
    assert parse_error(request(HOST, TE, body=b"5\r\nhello!")).detail == (
        "chunk data not followed by CRLF (RFC 9112 §7.1)")
    assert parse_error(request()).detail == "missing Host (RFC 9112 §3.2)"
    error = parse_error(request(HOST, b"Transfer-Encoding: gzip, chunked"))
    assert (error.status, error.detail) == (501, "unsupported transfer coding 'gzip'")
    assert str(error) == "501 unsupported transfer coding 'gzip'"


def test_no_pipelined_request_is_parsed_after_an_error():
    # waitress CVE-2024-49768: the request after a framing error must never be seen.
    parser = RequestParser()
    parser.feed(request(HOST, b"Content-Length: 1", b"Content-Length: 1", body=b"x") + NEXT * 3)
    with pytest.raises(ProtocolError) as first:
        parser.next_event()
    for _ in range(3):
        with pytest.raises(ProtocolError) as again:
            parser.next_event()
        assert again.value is first.value


def test_request_without_length_has_an_empty_body_even_with_bytes_after_it():
    # Requests are never close-delimited: the bytes after the head are the next request.
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n")
    assert parser.next_event().content_length is None
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() == head(headers=[(b"host", b"b")])


# --- limits ----------------------------------------------------------------------------------

SMALL = Limits(max_request_line=20, max_header_bytes=40, max_header_count=2, max_body_size=10,
               max_chunk_line=8, max_trailer_bytes=12)

LIMIT_CASES = [
    (414, b"GET /" + b"a" * 12 + b" HTTP/1.1\r\nHost: a\r\n\r\n"),
    (431, b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 30 + b"\r\n\r\n"),
    (431, b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n"),
    (413, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"),
    (413, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n"),
    (400, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;abcdefg\r\nhello"),
    (431, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 123456789\r\n"),
    (431, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\nY: 2\r\n"
          b"Z: 3\r\n\r\n"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status,data", LIMIT_CASES)
def test_limits_give_their_status_in_every_mode(status, data, mode):
    assert parse_error(data, mode, SMALL).status == status


def test_limits_exactly_at_the_bound_are_accepted():
    data = (b"POST /" + b"a" * 5 + b" HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 24 + b"\r\n\r\n")
    assert len(b"POST /aaaaa HTTP/1.1") == 20 and len(data.split(b"\r\n", 1)[1]) == 40
    for mode in MODES:
        assert parse(data, mode, SMALL)[0].target == "/aaaaa"
        assert parse_error(data.replace(b"/a", b"/aa"), mode, SMALL).status == 414
        assert parse_error(data.replace(b"X: ", b"X:  "), mode, SMALL).status == 431
    data = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;abcdef\r\nhello\r\n5\r\nworld\r\n0\r\nX: 12345\r\n\r\n")
    assert parse(data, "bytewise", SMALL)[1:] == [Body(b"helloworld"),
                                                  EndOfMessage([(b"x", b"12345")])]


def test_limits_are_enforced_before_the_head_is_complete():
    parser = RequestParser(Limits(max_request_line=100))
    parser.feed(b"GET /" + b"a" * 95)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"\r")  # 101 bytes, but the CR may still end a line of 100
    assert parser.next_event() is NEED_DATA
    parser = RequestParser(Limits(max_request_line=100))
    parser.feed(b"GET /" + b"a" * 96)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 414
    parser = RequestParser(Limits(max_header_bytes=100))
    parser.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 97)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"a")
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 431
    # A default parser stops a head without end at 64 KiB, not later.
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(ProtocolError) as info:
        for _ in range(100):
            parser.feed(b"X-Filler: " + b"z" * 1000 + b"\r\n")
            parser.next_event()
    assert info.value.status == 431


def test_limits_settings_are_checked():
    assert Limits().max_header_bytes == 64 * 1024
    assert repr(Limits(max_body_size=1)) == (
        "Limits(max_request_line=8192, max_header_bytes=65536, max_header_count=100, "
        "max_body_size=1, max_chunk_line=4096, max_trailer_bytes=8192)")
    with pytest.raises(TypeError, match="max_body_size must be an int, not str"):
        Limits(max_body_size="1")
    with pytest.raises(TypeError, match="max_header_count must be an int, not bool"):
        Limits(max_header_count=True)
    with pytest.raises(ValueError, match="max_request_line must be >= 0, got -1"):
        Limits(max_request_line=-1)


# --- hostile long inputs: every regex must stay linear (waitress CVE-2020-5236) ---------------

BIG = Limits(max_request_line=1 << 20, max_header_bytes=1 << 20, max_chunk_line=1 << 20,
             max_trailer_bytes=1 << 20, max_header_count=1 << 20)
JUNK = 100000
HOSTILE = [
    (400, request(HOST, line=b"GET /" + b"a" * JUNK + b" HTTP/1.1x")),
    (400, request(HOST, line=b"G" * JUNK + b"\x00")),
    (400, request(HOST, line=b"GET " + b"a:" * JUNK + b"\x00 HTTP/1.1")),
    (400, request(HOST, line=b"CONNECT " + b"a" * JUNK + b":x HTTP/1.1")),
    (505, request(HOST, line=b"GET /" + b"a" * JUNK + b" HTTP/9.9")),
    (400, request(HOST, b"X: " + b" \t" * JUNK + b"\x00")),
    (400, request(HOST, b"X: " + b"a " * JUNK + b"\x00")),
    (400, request(HOST, b"X" * JUNK + b" : 1")),
    (400, request(HOST, b"X" * JUNK)),
    (400, request(b"Host: " + b"a" * JUNK + b"/")),
    (400, request(b"Host: [" + b":" * JUNK)),
    (400, request(HOST, b"Content-Length: " + b"1" * JUNK)),
    (501, request(HOST, b"Transfer-Encoding: " + b"gzip, " * JUNK + b"chunked")),
    (400, request(HOST, b"Transfer-Encoding: " + b"gzip, " * JUNK + b"chunked x")),
    (400, request(HOST, b"Connection: " + b"a," * JUNK + b"\x01")),
    (417, request(HOST, b"Expect: " + b"100-continue," * (JUNK // 10) + b"x")),
    (400, request(HOST, TE, body=b"1" * JUNK + b"\r\n")),
    (400, request(HOST, TE, body=b"1" + b";a" * JUNK + b" \r\n")),
    (400, request(HOST, TE, body=b"1;a=\"" + b"\\" * JUNK + b"\r\n")),
    (400, request(HOST, TE, body=b"1;a=\"" + b"\\a" * JUNK + b"\r\n")),
    (400, request(HOST, TE, body=b"1" + b" \t" * JUNK + b";\r\n")),
    (400, request(HOST, TE, body=b"0\r\nX: " + b"a" * JUNK + b"\x00\r\n\r\n")),
    (400, request(HOST, b"X: a\r\n" * JUNK + b"bad line")),
]


@pytest.mark.parametrize("status,data", HOSTILE, ids=range(len(HOSTILE)))
def test_long_invalid_input_is_rejected_quickly(status, data):
    assert parse_error(data, "whole", BIG).status == status


def test_long_valid_input_parses():
    data = request(HOST, b"X: " + b"a " * JUNK + b"b", TE,
                   body=b"1;" + b"a=b;" * JUNK + b"c=\"" + b"\\\"" * JUNK + b"\"\r\nx\r\n0\r\n\r\n")
    events = parse(data, "whole", BIG)
    assert events[0].headers[1] == (b"x", b"a " * JUNK + b"b")
    assert events[1:] == [Body(b"x"), EndOfMessage()]


# --- serializer ------------------------------------------------------------------------------

def test_response_head_status_lines():
    assert response_head(200, [(b"content-length", b"2"), (b"server", b"covet")]) == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nserver: covet\r\n\r\n")
    assert response_head(404, []) == b"HTTP/1.1 404 Not Found\r\n\r\n"
    assert response_head(204, [], version="1.0") == b"HTTP/1.0 204 No Content\r\n\r\n"
    # RFC 9112 §4: the reason-phrase may be empty, the SP before it stays.
    assert response_head(599, []) == b"HTTP/1.1 599 \r\n\r\n"
    assert response_head(299, [(b"x", b"y")]) == b"HTTP/1.1 299 \r\nx: y\r\n\r\n"
    assert response_head(100, []) == b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.mark.parametrize("status", [99, 600, 0, -200, "200", None])
def test_response_head_rejects_status_outside_100_599(status):
    with pytest.raises(ValueError, match="status must be an int from 100 to 599, got"):
        response_head(status, [])


def test_response_head_rejects_unknown_version():
    with pytest.raises(ValueError, match="version must be '1.1' or '1.0', got '2'"):
        response_head(200, [], version="2")


def test_chunk_framing():
    assert chunk(b"") == b""
    assert chunk(b"abc") == b"3\r\nabc\r\n"
    assert chunk(b"x" * 255) == b"ff\r\n" + b"x" * 255 + b"\r\n"
    assert chunk(bytearray(b"\r\n")) == b"2\r\n\r\n\r\n"
    assert LAST_CHUNK == b"0\r\n\r\n"


@pytest.mark.parametrize("value,ok", [
    (b"", True), (b"text/html; charset=utf-8", True), (b"a\tb", True), (b"caf\xe9", True),
    (b"a\r\nSet-Cookie: x", False), (b"a\nb", False), (b"a\rb", False), (b"\x00", False),
    (b"\x7f", False), (b"\x1b[0m", False),
])
def test_check_header_value(value, ok):
    assert check_header_value(value) is ok


@pytest.mark.parametrize("name,ok", [
    (b"content-type", True), (b"X-Custom_1.2~!#$%&'*+^`|", True), (b"", False), (b"a b", False),
    (b"a:b", False), (b"a\r\n", False), (b"caf\xe9", False), (b"(x)", False),
])
def test_check_header_name(name, ok):
    assert check_header_name(name) is ok


class FakeSocket:
    """Enough of a socket for http.client to read a response from / write a request to."""

    def __init__(self, data=b""):
        self.data = data
        self.sent = []

    def makefile(self, mode):
        return io.BytesIO(self.data)

    def sendall(self, data):
        self.sent.append(bytes(data))


def read_with_http_client(raw, method="GET"):
    response = http.client.HTTPResponse(FakeSocket(raw), method=method)
    response.begin()
    body = response.read()
    response.close()
    return response.status, response.reason, response.getheaders(), body


def test_stdlib_client_reads_our_responses():
    raw = response_head(200, [(b"content-type", b"text/plain"), (b"content-length", b"5")])
    assert read_with_http_client(raw + b"hello") == (
        200, "OK", [("content-type", "text/plain"), ("content-length", "5")], b"hello")
    raw = response_head(201, [(b"transfer-encoding", b"chunked")])
    raw += chunk(b"hel") + chunk(b"") + chunk(b"lo" * 100) + LAST_CHUNK
    assert read_with_http_client(raw) == (
        201, "Created", [("transfer-encoding", "chunked")], b"hel" + b"lo" * 100)
    raw = response_head(599, [(b"content-length", b"0")], version="1.0")
    assert read_with_http_client(raw) == (599, "", [("content-length", "0")], b"")


def test_we_read_the_stdlib_clients_requests():
    sock = FakeSocket()
    conn = http.client.HTTPConnection("example.com", 8080)
    conn.sock = sock
    conn.request("POST", "/items?x=1", body=b'{"a": 1}',
                 headers={"Content-Type": "application/json", "X-Trace": "t-1"})
    conn = http.client.HTTPConnection("example.com", 8080)  # one request per client object
    conn.sock = sock
    conn.putrequest("PUT", "/stream")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(chunk(b"part one, ") + chunk(b"part two") + LAST_CHUNK)
    parser = RequestParser()
    parser.feed(b"".join(sock.sent))
    events = []
    drain(parser, events)
    assert merge(events) == [
        RequestHead("POST", "/items?x=1", "1.1", [
            (b"host", b"example.com:8080"), (b"accept-encoding", b"identity"),
            (b"content-length", b"8"), (b"content-type", b"application/json"),
            (b"x-trace", b"t-1")], content_length=8),
        Body(b'{"a": 1}'), EndOfMessage(),
        RequestHead("PUT", "/stream", "1.1", [
            (b"host", b"example.com:8080"), (b"accept-encoding", b"identity"),
            (b"transfer-encoding", b"chunked")], chunked=True),
        Body(b"part one, part two"), EndOfMessage(),
    ]


def test_event_reprs():
    assert repr(Body(b"x")) == "Body(data=b'x')"
    assert repr(EndOfMessage()) == "EndOfMessage(trailers=[])"
    assert repr(NEED_DATA) == "NEED_DATA"
    assert repr(head()) == (
        "RequestHead(method='GET', target='/', version='1.1', headers=[(b'host', b'a')], "
        "keep_alive=True, expect_continue=False, content_length=None, chunked=False, "
        "upgrade=None, forwarded=False)")


@pytest.mark.parametrize("name", [b"forwarded", b"x-forwarded-for", b"x-forwarded-proto"])
def test_head_notes_proxy_headers(name):
    # The server runs its proxy logic only for a head that has one of these.
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n" + name + b": x\r\n\r\n")
    assert parser.next_event().forwarded is True
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded: x\r\n\r\n")
    assert parser.next_event().forwarded is False


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data, instance", [
    (request(HOST, b"Content-Length: 1", b"Content-Length: 1"), "/"),
    (request(HOST, b"X : a", line=b"GET /a%20b?x=1 HTTP/1.1"), "/a%20b"),
    (request(HOST, TE, b"Content-Length: 3", line=b"POST http://a/up?x HTTP/1.1"), "/up"),
    (request(HOST, b"Expect: nope", line=b"PUT http://a HTTP/1.1"), "/"),
    (request(HOST, TE, body=b"zz\r\n", line=b"POST /chunks HTTP/1.1"), "/chunks"),
    (request(HOST, line=b"GET / HTTP/3.0"), "/"),
    (request(HOST, line=b"GET foo HTTP/1.1"), None),
    (request(HOST, line=b"OPTIONS * HTTP/1.1") + b"GET\r\n\r\n", None),
    (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", None),
])
def test_errors_carry_the_path_of_the_request_they_concern(data, instance, mode):
    # RFC 9457 §3.1.5: the server's own problem documents name the request, once its line was read.
    assert parse_error(data, mode).instance == instance


def test_target_path():
    assert target_path(b"/a/b?c=d") == "/a/b"
    assert target_path(b"https://h:1/x/y?z") == "/x/y"
    assert target_path(b"http://h") == "/"
    assert (target_path(b"*"), target_path(b"h:443")) == (None, None)
