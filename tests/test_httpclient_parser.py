"""The sans-IO response parser of covet.httpclient, on byte strings.

Every accepted input is fed three ways (whole, one byte at a time, and split in two at every
offset) and must give the same events; every refusal is checked for its exact error type and
the rule its message names.
"""
import pytest

from covet.httpclient.errors import ProtocolError, ResponseTooLarge
from covet.httpclient.parser import (
    MAX_INTERIM_RESPONSES,
    NEED_DATA,
    Data,
    EndOfMessage,
    ResponseHead,
    ResponseParser,
)


def run(pieces, method="GET", eof=False, **limits):
    """Feed ``pieces`` in turn; return (events with Data coalesced, parser)."""
    parser = ResponseParser(method, **limits)
    events = []

    def drain():
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, Data) and events and isinstance(events[-1], Data):
                events[-1] = Data(events[-1].data + event.data)
            else:
                events.append(event)
            if isinstance(event, EndOfMessage):
                return

    for piece in pieces:
        parser.feed(piece)
        drain()
    if eof:
        parser.feed(b"")
        drain()
    return events, parser


def parse_all_ways(data, method="GET", eof=False, **limits):
    """Events for ``data`` fed whole, byte by byte and split at every offset; all must agree."""
    whole, parser = run([data], method, eof, **limits)
    bytewise, _ = run([data[i:i + 1] for i in range(len(data))], method, eof, **limits)
    assert bytewise == whole
    for i in range(1, len(data)):
        split, _ = run([data[:i], data[i:]], method, eof, **limits)
        assert split == whole, "split at %d" % i
    return whole, parser


def refuse(data, method="GET", eof=False, error=ProtocolError, **limits):
    """The error raised for ``data``, fed whole and byte by byte (same type both ways)."""
    with pytest.raises(error) as whole:
        run([data], method, eof, **limits)
    with pytest.raises(error) as bytewise:
        run([data[i:i + 1] for i in range(len(data))], method, eof, **limits)
    assert type(whole.value) is type(bytewise.value) is error
    return str(whole.value)


def head(status=200, reason="OK", version="1.1", headers=(), keep_alive=True):
    return ResponseHead(status, reason, version, list(headers), keep_alive)


# -- accepted ------------------------------------------------------------------------------------

def test_content_length_body_and_connection_is_reusable():
    events, parser = parse_all_ways(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello")
    assert events == [head(headers=[(b"content-length", b"5"), (b"x-a", b"b")]), Data(b"hello"),
                      EndOfMessage()]
    assert parser.reusable and parser.finished


def test_header_names_are_lower_cased_and_ows_trimmed():
    events, _ = parse_all_ways(b"HTTP/1.1 200 OK\r\nX-Thing:  \t v a \t\r\nContent-Length: 0\r\n\r\n")
    assert events[0].headers == [(b"x-thing", b"v a"), (b"content-length", b"0")]


def test_chunked_body_with_extensions_and_trailers():
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n")
    events, parser = parse_all_ways(data)
    assert events == [head(headers=[(b"transfer-encoding", b"chunked")]), Data(b"hello 0123456789"),
                      EndOfMessage([(b"x-checksum", b"abc")])]
    assert parser.reusable


def test_chunked_without_trailers_and_upper_case_hex():
    events, _ = parse_all_ways(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
                               b"B\r\nhello world\r\n0\r\n\r\n")
    assert events[1:] == [Data(b"hello world"), EndOfMessage()]


def test_read_until_close_ends_at_eof_and_is_not_reusable():
    events, parser = parse_all_ways(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it",
                                    eof=True)
    assert events == [head(headers=[(b"content-type", b"text/plain")], keep_alive=False),
                      Data(b"all of it"), EndOfMessage()]
    assert parser.finished and not parser.reusable


def test_head_response_has_no_body_whatever_its_content_length():
    events, parser = parse_all_ways(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", method="HEAD")
    assert events == [head(headers=[(b"content-length", b"1000")]), EndOfMessage()]
    assert parser.reusable


@pytest.mark.parametrize("status, reason", [(204, "No Content"), (304, "Not Modified")])
def test_204_and_304_have_no_body(status, reason):
    data = b"HTTP/1.1 %d %s\r\nContent-Length: 7\r\n\r\n" % (status, reason.encode())
    events, parser = parse_all_ways(data)
    assert events == [head(status, reason, headers=[(b"content-length", b"7")]), EndOfMessage()]
    assert parser.reusable


def test_interim_100_continue_and_103_are_skipped():
    data = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    events, _ = parse_all_ways(data)
    assert events == [head(201, "Created", headers=[(b"content-length", b"2")]), Data(b"ok"),
                      EndOfMessage()]


def test_101_ends_the_message_and_the_connection():
    events, parser = parse_all_ways(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
    assert events[0].status_code == 101 and isinstance(events[1], EndOfMessage)
    assert not parser.reusable


def test_status_line_without_reason_is_accepted():
    events, _ = parse_all_ways(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
    assert events[0] == head(reason="", headers=[(b"content-length", b"0")])
    events, _ = parse_all_ways(b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n")
    assert events[0].reason == "" and events[0].status_code == 404


@pytest.mark.parametrize("data, keep_alive", [
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
])
def test_keep_alive_rules(data, keep_alive):
    events, parser = parse_all_ways(data)
    assert events[0].keep_alive is keep_alive
    assert parser.reusable is keep_alive


def test_identical_content_length_repeats_are_one():
    events, _ = parse_all_ways(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok")
    assert events[1:] == [Data(b"ok"), EndOfMessage()]


def test_bytes_after_the_response_make_the_connection_unusable():
    events, parser = run([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"])
    assert events[-1] == EndOfMessage() and not parser.reusable


def test_eof_after_a_complete_response_makes_it_unusable():
    events, parser = run([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], eof=True)
    assert events[-1] == EndOfMessage() and not parser.reusable


def test_next_event_after_the_end_needs_data():
    _, parser = run([b"HTTP/1.1 204 No Content\r\n\r\n"])
    assert parser.next_event() is NEED_DATA


# -- refused -------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 099 OK\r\n\r\n", "malformed status line"),
    (b"http/1.1 200 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1  200 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 200 O\x00K\r\n\r\n", "malformed status line"),
    (b"ICY 200 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version HTTP/2.0"),
    (b"HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version HTTP/1.2"),
    (b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare CR or LF"),
    (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare CR or LF"),
    (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold"),
    (b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", "is not a token"),
    (b"HTTP/1.1 200 OK\r\nX\x01: a\r\n\r\n", "is not a token"),
    (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "without a colon"),
    (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", "control character in the value"),
    (b"HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n", "control character in the value"),
])
def test_malformed_heads_are_refused(data, message):
    assert message in refuse(data)


@pytest.mark.parametrize("value", [b"+1", b"-1", b"1_0", b"0x1", b"1 0", b"", b"\xd9\xa1",
                                   b"12345678901234567890"])
def test_invalid_content_length_is_refused(value):
    assert "is not 1*DIGIT" in refuse(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n")


def test_conflicting_content_lengths_are_refused():
    assert "conflicting Content-Length" in refuse(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
    assert "conflicting Content-Length" in refuse(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab")


def test_content_length_with_transfer_encoding_is_refused():
    assert "both Transfer-Encoding and Content-Length" in refuse(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")


@pytest.mark.parametrize("te", [b"gzip, chunked", b"chunked, chunked", b"chunked, identity",
                                b"\x0bchunked", b"identity", b"chunked;q=1"])
def test_transfer_codings_other_than_one_chunked_are_refused(te):
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n"
    message = refuse(data)
    assert "unsupported Transfer-Encoding" in message or "control character" in message


def test_transfer_encoding_in_http10_is_refused():
    assert "HTTP/1.0 response" in refuse(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")


@pytest.mark.parametrize("line", [b"+5", b"-5", b"0x5", b" 5", b"5_0", b"", b"g",
                                  b"1" * 17, b"5;a\nb", b"5;a\x00"])
def test_bad_chunk_sizes_are_refused(line):
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + line + b"\r\nhello\r\n0\r\n\r\n"
    assert "is not 1*HEXDIG" in refuse(data)


def test_chunk_data_must_end_in_crlf():
    # h11 CVE-2025-43859
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
    assert "not followed by CRLF" in refuse(data)


def test_chunk_line_length_is_bounded():
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + b"a" * 100
    assert "chunk size line longer than 64" in refuse(data, max_chunk_line=64)


def test_trailers_are_bounded_and_checked():
    base = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    assert "trailer section larger than 32" in refuse(base + b"X: " + b"a" * 40, max_trailer_bytes=32)
    assert "trailer section larger than 32" in refuse(base + b"X: " + b"a" * 40 + b"\r\n\r\n",
                                                     max_trailer_bytes=32)
    assert "obs-fold" in refuse(base + b"X: a\r\n b\r\n\r\n")
    assert "control character" in refuse(base + b"X: a\x01\r\n\r\n")


def test_status_line_length_is_bounded():
    assert "status line longer than 32" in refuse(b"HTTP/1.1 200 " + b"O" * 40, max_status_line=32)
    assert "status line longer than 32" in refuse(b"HTTP/1.1 200 " + b"O" * 40 + b"\r\n\r\n",
                                                  max_status_line=32)


def test_header_section_is_bounded():
    big = b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200
    assert "header section larger than 100" in refuse(big, max_header_bytes=100)
    assert "header section larger than 100" in refuse(big + b"\r\n\r\n", max_header_bytes=100)


def test_header_count_is_bounded():
    data = b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 11 + b"\r\n"
    assert "more than 10 header fields" in refuse(data, max_header_count=10)


def test_interim_responses_are_bounded():
    data = b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM_RESPONSES + 1)
    assert "interim (1xx) responses" in refuse(data)


def test_body_over_the_limit_by_content_length():
    message = refuse(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", error=ResponseTooLarge,
                     max_response_size=10)
    assert "Content-Length 11 exceeds max_response_size (10 bytes)" in message


def test_body_over_the_limit_chunked_and_until_close():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n"
    assert "chunked body exceeds" in refuse(chunked, error=ResponseTooLarge, max_response_size=10)
    until_close = b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 11
    assert "exceeds max_response_size" in refuse(until_close, error=ResponseTooLarge, max_response_size=10)


@pytest.mark.parametrize("data, message", [
    (b"", "without a response"),
    (b"HTTP/1.1 200 OK\r\nContent-", "before the end of the response head"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "7 bytes before the end of the body"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "end of the chunked body"),
])
def test_eof_before_the_end_is_refused(data, message):
    assert message in refuse(data, eof=True)


def test_an_error_is_final():
    parser = ResponseParser()
    parser.feed(b"HTTP/9.9 200 OK\r\n\r\n")
    with pytest.raises(ProtocolError):
        parser.next_event()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(ProtocolError, match="unsupported HTTP version"):
        parser.next_event()


def test_hostile_input_is_linear():
    # 1 MB of junk in a header value and in a chunk extension: refused quickly, no backtracking.
    parser = ResponseParser(max_header_bytes=2000000)
    parser.feed(b"HTTP/1.1 200 OK\r\nX: " + b"a\t" * 500000 + b"\x01\r\n\r\n")
    with pytest.raises(ProtocolError, match="control character"):
        parser.next_event()


# -- Content-Encoding decoding (covet.httpclient.decoding) ----------------------------------------

def test_decode_gzip_zlib_deflate_raw_deflate_and_unknown_codings():
    import gzip
    import zlib

    from covet.httpclient.decoding import decode_content

    data = b"hello " * 100
    assert decode_content(gzip.compress(data), ["gzip"], 10000) == data
    assert decode_content(zlib.compress(data), ["deflate"], 10000) == data
    raw = zlib.compressobj(wbits=-15)
    assert decode_content(raw.compress(data) + raw.flush(), [" Deflate "], 10000) == data
    assert decode_content(gzip.compress(zlib.compress(data)), ["deflate", "gzip"], 10000) == data
    assert decode_content(b"as sent", ["br"], 10000) == b"as sent"
    assert decode_content(b"as sent", ["identity"], 10000) == b"as sent"
    with pytest.raises(ResponseTooLarge, match="gzip-decoded body exceeds max_response_size .599 bytes"):
        decode_content(gzip.compress(data), ["gzip"], 599)
    with pytest.raises(ProtocolError, match="truncated gzip content"):
        decode_content(gzip.compress(data)[:-12], ["gzip"], 10000)
