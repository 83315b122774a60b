"""Framing errors, smuggling attempts and limits over real sockets (RFC 9112 §6-§7, and the CVEs named below).

Every case gets its status as an ``application/problem+json`` body and the
connection is closed right after it (``recv`` returns b""): a pipeline is
never read past a framing error (waitress CVE-2024-49768). The parser's own
rules are unit-tested in test_http11.py; here each is checked end to end.
"""
import json
import re
import socket
import threading

import pytest

from covet.core.errors import status_phrase
from server_helpers import RunningServer, assert_closed, make_app, parse_head, read_response, recv_all

pytestmark = pytest.mark.slow

BAD_LINE = "malformed request line (RFC 9112 §3: method SP request-target SP HTTP-version CRLF)"
BAD_CL = "Content-Length is not 1*DIGIT (RFC 9110 §8.6)"
BAD_CHUNK = "chunk-size is not 1*HEXDIG of at most 16 digits (RFC 9112 §7.1)"
NO_CRLF = "chunk data not followed by CRLF (RFC 9112 §7.1)"
TE_ORDER = "chunked is not the final transfer coding exactly once (RFC 9112 §6.3)"
BAD_TE = "malformed Transfer-Encoding (RFC 9112 §6.1)"
CTL = "control character in field value (RFC 9110 §5.5)"
BAD_FIELD_LF = "bare CR or LF in a field line (RFC 9112 §2.2)"
FOLD = "obs-fold continuation line (RFC 9112 §5.2)"
NAME_WS = "whitespace between field name and colon (RFC 9112 §5.1)"
NOT_TOKEN = "field name is not a token (RFC 9110 §5.1)"
BAD_HOST = "invalid Host (RFC 9110 §7.2)"
GET = b"GET / HTTP/1.1\r\nHost: x\r\n"
H = b"POST /echo HTTP/1.1\r\nHost: x\r\n"
TE = H + b"Transfer-Encoding: chunked\r\n\r\n"

# (id, request bytes, status, detail): rejected from the head, before any handler runs.
HEAD_CASES = [
    # 1. Content-Length with Transfer-Encoding (aiohttp CVE-2023-47641)
    ("cl_and_te", H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     "both Transfer-Encoding and Content-Length (RFC 9112 §6.1)"),
    ("te_and_cl", H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400,
     "both Transfer-Encoding and Content-Length (RFC 9112 §6.1)"),
    # 2. several Content-Length values (waitress CVE-2019-16792)
    ("two_cl_equal", H + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", 400,
     "more than one Content-Length (RFC 9112 §6.3)"),
    ("two_cl_differ", H + b"Content-Length: 2\r\nContent-Length: 0\r\n\r\nok", 400,
     "more than one Content-Length (RFC 9112 §6.3)"),
    ("cl_list", H + b"Content-Length: 2, 2\r\n\r\nok", 400, BAD_CL),
    # 3. Content-Length that is not plain digits (tornado GHSA-qppv, waitress CVE-2022-24761)
    ("cl_plus", H + b"Content-Length: +2\r\n\r\nok", 400, BAD_CL),
    ("cl_minus_zero", H + b"Content-Length: -0\r\n\r\n", 400, BAD_CL),
    ("cl_underscore", H + b"Content-Length: 1_0\r\n\r\n0123456789", 400, BAD_CL),
    ("cl_inner_space", H + b"Content-Length: 1 0\r\n\r\n0123456789", 400, BAD_CL),
    ("cl_hex", H + b"Content-Length: 0x2\r\n\r\nok", 400, BAD_CL),
    ("cl_unicode_digit", H + "Content-Length: \u0662\r\n\r\nok".encode("utf-8"), 400, BAD_CL),
    ("cl_20_digits", H + b"Content-Length: 00000000000000000002\r\n\r\nok", 400, BAD_CL),
    ("cl_empty", H + b"Content-Length: \r\n\r\n", 400, BAD_CL),
    # 4. Transfer-Encoding other than exactly one chunked (gunicorn CVE-2024-1135, CVE-2024-6827;
    #    waitress CVE-2019-16786, CVE-2019-16789)
    ("te_gzip_chunked", H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
     "unsupported transfer coding 'gzip'"),
    ("te_chunked_identity", H + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400, TE_ORDER),
    ("te_identity", H + b"Transfer-Encoding: identity\r\n\r\n", 400, TE_ORDER),
    ("te_two_headers", H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     TE_ORDER),
    ("te_chunked_twice", H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, TE_ORDER),
    ("te_vtab", H + b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400, CTL),
    ("te_junk_after", H + b"Transfer-Encoding: chunked x\r\n\r\n0\r\n\r\n", 400, BAD_TE),
    ("te_empty_member", H + b"Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", 400, BAD_TE),
    ("te_in_http10", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)"),
    # 6. bare LF / bare CR (waitress CVE-2019-16785, aiohttp CVE-2023-37276), obs-fold, space before colon
    ("bare_lf_request_line", b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("bare_lf_headers", GET + b"X-A: 1\nX-B: 2\r\n\r\n", 400, BAD_FIELD_LF),
    ("bare_lf_everywhere", b"GET / HTTP/1.1\nHost: x\n\n", 400,
     "bare LF as line terminator (RFC 9112 §2.2: lines end in CRLF)"),
    ("bare_cr_request_line", b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400, BAD_LINE),
    ("bare_cr_in_value", GET + b"X-A: 1\rTransfer-Encoding: chunked\r\n\r\n", 400, BAD_FIELD_LF),
    ("obs_fold", GET + b"X-A: 1\r\n 2\r\n\r\n", 400, FOLD),
    ("obs_fold_tab", GET + b"X-A: 1\r\n\t2\r\n\r\n", 400, FOLD),
    ("leading_space_first_header", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, FOLD),
    ("space_before_colon", GET + b"Content-Length : 0\r\n\r\n", 400, NAME_WS),
    ("tab_before_colon", GET + b"X-A\t: 1\r\n\r\n", 400, NAME_WS),
    # 7. field names outside token, CTLs in values (aiohttp CVE-2024-23829)
    ("name_not_token", GET + b"X(A): 1\r\n\r\n", 400, NOT_TOKEN),
    ("name_non_ascii", GET + b"X-\xc3\xa9: 1\r\n\r\n", 400, NOT_TOKEN),
    ("name_empty", GET + b": 1\r\n\r\n", 400, NOT_TOKEN),
    ("no_colon", GET + b"X-A\r\n\r\n", 400, "field line without a colon (RFC 9112 §5)"),
    ("value_nul", GET + b"X-A: a\x00b\r\n\r\n", 400, CTL),
    ("value_ctl", GET + b"X-A: a\x01b\r\n\r\n", 400, CTL),
    ("value_del", GET + b"X-A: a\x7fb\r\n\r\n", 400, CTL),
    ("value_esc", GET + b"X-A: \x1b[31m\r\n\r\n", 400, CTL),
    # 8. method, version, target
    ("method_not_token", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("version_2", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0 is not supported (RFC 9112 §2.3)"),
    ("version_12", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505, "HTTP/1.2 is not supported (RFC 9112 §2.3)"),
    ("version_09", b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505, "HTTP/0.9 is not supported (RFC 9112 §2.3)"),
    ("version_lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("version_missing", b"GET /\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("version_garbage", b"GET / HTTP/11\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("target_space", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("target_ctl", b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("target_non_ascii", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("target_tab", b"GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("two_spaces", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("four_parts", b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("one_part", b"GET\r\nHost: x\r\n\r\n", 400, BAD_LINE),
    ("tls_hello_on_plain_port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, BAD_LINE),
    ("asterisk_not_options", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "asterisk-form target is only allowed for OPTIONS (RFC 9112 §3.2.4)"),
    ("bad_target_form", b"GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "request target is neither origin-form nor absolute-form (RFC 9112 §3.2)"),
    ("connect_origin_form", b"CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "CONNECT needs an authority-form target (RFC 9112 §3.2.3)"),
    ("too_many_empty_lines", b"\r\n" * 9 + GET + b"\r\n", 400, "more than 8 empty lines before the request line"),
    # 9. Host (RFC 9112 §3.2)
    ("no_host", b"GET / HTTP/1.1\r\n\r\n", 400, "missing Host (RFC 9112 §3.2)"),
    ("two_hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host (RFC 9112 §3.2)"),
    ("bad_host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, BAD_HOST),
    ("bad_host_slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, BAD_HOST),
]

# Errors inside a chunked body surface when the /echo handler reads it (item 3 and 5:
# h11 CVE-2025-43859, aiohttp CVE-2024-52304 and CVE-2025-53643).
BODY_CASES = [
    ("chunk_size_plus", TE + b"+2\r\nok\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_size_minus", TE + b"-0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_size_0x", TE + b"0x2\r\nok\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_size_underscore", TE + b"1_0\r\n0123456789abcdef\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_size_leading_space", TE + b" 2\r\nok\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_size_17_digits", TE + b"00000000000000002\r\nok\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_size_unicode", TE + "\u0662\r\nok\r\n0\r\n\r\n".encode("utf-8"), 400, BAD_CHUNK),
    ("chunk_size_empty", TE + b"\r\nok\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_data_not_crlf", TE + b"2\r\nokX\r\n0\r\n\r\n", 400, NO_CRLF),
    ("chunk_data_lf_only", TE + b"2\r\nok\n0\r\n\r\n", 400, NO_CRLF),
    ("chunk_ext_lf", TE + b"2;a\nb\r\nok\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_ext_cr", TE + b"2;a\rb\r\nok\r\n0\r\n\r\n", 400, BAD_CHUNK),
    ("chunk_ext_malformed", TE + b"2;=\r\nok\r\n0\r\n\r\n", 400, "malformed chunk extension (RFC 9112 §7.1.1)"),
    ("chunk_line_too_long", TE + b"2;a=" + b"b" * 5000 + b"\r\nok\r\n0\r\n\r\n", 400,
     "chunk size line longer than 4096 bytes"),
    ("trailer_obs_fold", TE + b"0\r\nX-T: a\r\n b\r\n\r\n", 400, FOLD),
    ("trailer_ctl", TE + b"0\r\nX-T: a\x00\r\n\r\n", 400, CTL),
    ("trailer_too_big", TE + b"0\r\nX-T: " + b"a" * 9000 + b"\r\n\r\n", 431, "trailer section larger than 8192 bytes"),
]

# Status lines and problem titles use one table: RFC 9110 names on every Python version.
PHRASES = {400: "Bad Request", 413: "Content Too Large", 414: "URI Too Long",
           431: "Request Header Fields Too Large", 501: "Not Implemented", 505: "HTTP Version Not Supported"}
TITLES = {code: status_phrase(code) for code in PHRASES}


@pytest.fixture(scope="module")
def server():
    with RunningServer(make_app()) as s:
        yield s


@pytest.fixture(scope="module")
def limited():
    limits = dict(max_request_line=100, max_header_bytes=300, max_header_count=5, max_body_size=50)
    with RunningServer(make_app(), limits=limits) as s:
        yield s


def exchange(srv, data):
    """Send ``data`` in one write; return every byte the server sends before it closes."""
    with srv.connect() as s:
        s.sendall(data)
        return recv_all(s)


def check_problem(data, status, detail, instance=None):
    """``data`` is exactly one problem+json response with Connection: close, and nothing after it."""
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, data
    line, headers = parse_head(head)
    assert line == "HTTP/1.1 %d %s" % (status, PHRASES[status])
    assert headers["content-type"] == ["application/problem+json"]
    assert headers["connection"] == ["close"]
    assert headers["content-length"] == [str(len(body))]  # so nothing follows the body
    expected = {"type": "about:blank", "title": TITLES[status], "status": status, "detail": detail}
    if instance is not None:
        expected["instance"] = instance
    assert json.loads(body) == expected
    return body


_REQUEST_LINE = re.compile(rb"(?:\r\n){0,8}[!#$%&'*+.^_`|~0-9A-Za-z-]+ ([\x21-\x7e]+) HTTP/[0-9]\.[0-9]\r\n")


def expected_instance(data):
    """RFC 9457 ``instance``: the request's path, once its request line could be read."""
    match = _REQUEST_LINE.match(data)
    if match is None or not match.group(1).startswith(b"/"):
        return None
    return match.group(1).split(b"?")[0].decode()


@pytest.mark.parametrize("data, status, detail", [c[1:] for c in HEAD_CASES], ids=[c[0] for c in HEAD_CASES])
def test_rejected_head_gets_status_and_close(server, data, status, detail):
    check_problem(exchange(server, data), status, detail, instance=expected_instance(data))


@pytest.mark.parametrize("data, status, detail", [c[1:] for c in BODY_CASES], ids=[c[0] for c in BODY_CASES])
def test_rejected_chunked_body_gets_status_and_close(server, data, status, detail):
    check_problem(exchange(server, data), status, detail, instance="/echo")


@pytest.mark.parametrize("data, status, detail", [c[1:] for c in HEAD_CASES[:6]], ids=[c[0] for c in HEAD_CASES[:6]])
def test_rejected_head_fed_one_byte_at_a_time(server, data, status, detail):
    with server.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the last bytes
        check_problem(recv_all(s), status, detail, instance=expected_instance(data))


def test_no_pipelined_request_is_read_after_a_framing_error(server):
    # The smuggled second request must never be answered (waitress CVE-2024-49768).
    data = exchange(server, H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nok"
                    + GET + b"\r\n" + GET + b"\r\n")
    check_problem(data, 400, "more than one Content-Length (RFC 9112 §6.3)", instance=expected_instance(H))


def test_no_pipelined_request_is_read_after_a_bad_chunk(server):
    data = exchange(server, TE + b"2\r\nokXX0\r\n\r\n" + GET + b"\r\n")
    check_problem(data, 400, NO_CRLF, instance="/echo")


def test_bad_chunk_to_a_handler_that_ignores_the_body_closes(server):
    # The handler answered without reading; the body that follows cannot be framed, so the
    # connection closes after the answer and the pipelined request is dropped.
    data = exchange(server, b"POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"2\r\nokXX0\r\n\r\n" + GET + b"\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    line, headers = parse_head(head)
    assert (line, headers["connection"], body) == ("HTTP/1.1 200 OK", ["close"], b"ignored")


def test_valid_requests_still_served_after_rejections(server):
    with server.connect() as s:
        s.sendall(GET + b"\r\n")
        assert read_response(s)[2] == b"hello"


# -- limits (§3 item 10 and 12): each with its own status, never silent truncation --------

def test_request_line_over_the_limit_is_414(limited):
    check_problem(exchange(limited, b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414,
                  "request line longer than 100 bytes")


def test_request_line_over_the_limit_without_crlf_is_414(limited):
    # The line never ends: the limit is enforced on the incomplete head (no unbounded buffering).
    check_problem(exchange(limited, b"GET /" + b"a" * 200), 414, "request line longer than 100 bytes")


def test_request_line_at_the_limit_is_served(limited):
    path = b"/" + b"a" * (100 - len(b"GET / HTTP/1.1"))
    line = b"GET " + path + b" HTTP/1.1"
    assert len(line) == 100
    data = exchange(limited, line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n")


def test_header_section_over_the_limit_is_431(limited):
    check_problem(exchange(limited, GET + b"X-Big: " + b"b" * 300 + b"\r\n\r\n"), 431,
                  "header section larger than 300 bytes")


def test_header_section_over_the_limit_without_end_is_431(limited):
    check_problem(exchange(limited, GET + b"X-Big: " + b"b" * 400), 431, "header section larger than 300 bytes")


def test_header_count_over_the_limit_is_431(limited):
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(5))  # plus Host: six fields
    check_problem(exchange(limited, GET + fields + b"\r\n"), 431, "more than 5 header fields", instance="/")


def test_header_count_at_the_limit_is_served(limited):
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(3))  # Host, Connection and three more
    data = exchange(limited, GET + b"Connection: close\r\n" + fields + b"\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"hello")


def test_content_length_over_the_limit_is_413_before_the_body_is_sent(limited):
    # Answered from the head alone: the client has not sent a byte of the body.
    # The server's own problems name the request they answer, as the app's do (RFC 9457 §3.1.5).
    check_problem(exchange(limited, H + b"Content-Length: 51\r\n\r\n"), 413,
                  "Content-Length 51 exceeds the limit of 50 bytes", instance="/echo")
    check_problem(exchange(limited, b"POST /echo/%7E?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 51\r\n\r\n"), 413,
                  "Content-Length 51 exceeds the limit of 50 bytes", instance="/echo/%7E")
    check_problem(exchange(limited, b"POST http://x/echo?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 51\r\n\r\n"), 413,
                  "Content-Length 51 exceeds the limit of 50 bytes", instance="/echo")


def test_content_length_over_the_limit_while_the_client_keeps_sending(limited):
    # A client that sends its (large) body anyway still gets to read the 413.
    with limited.connect() as s:
        s.sendall(H + b"Content-Length: 10000000\r\n\r\n")

        def pump():
            try:
                for _ in range(200):
                    s.sendall(b"z" * 50000)
            except OSError:
                pass  # the server closed: expected

        t = threading.Thread(target=pump)
        t.start()
        try:
            head = s.recv(65536)
        finally:
            t.join(10)
    assert head.startswith(b"HTTP/1.1 413 ")


def test_content_length_at_the_limit_is_served(limited):
    with limited.connect() as s:
        s.sendall(H + b"Content-Length: 50\r\n\r\n" + b"q" * 50)
        status, _, body, _ = read_response(s)
    assert (status, body) == ("HTTP/1.1 200 OK", b"q" * 50)


def test_chunked_body_over_the_limit_is_413(limited):
    data = exchange(limited, TE + b"20\r\n" + b"c" * 32 + b"\r\n20\r\n" + b"c" * 32 + b"\r\n0\r\n\r\n")
    check_problem(data, 413, "chunked body exceeds the limit of 50 bytes", instance="/echo")


def test_chunked_body_over_the_limit_in_many_small_chunks_is_413(limited):
    data = exchange(limited, TE + b"1\r\nc\r\n" * 51 + b"0\r\n\r\n")
    check_problem(data, 413, "chunked body exceeds the limit of 50 bytes", instance="/echo")


def test_chunked_body_at_the_limit_is_served(limited):
    with limited.connect() as s:
        s.sendall(TE + b"32\r\n" + b"c" * 50 + b"\r\n0\r\n\r\n")
        status, _, body, _ = read_response(s)
    assert (status, body) == ("HTTP/1.1 200 OK", b"c" * 50)


def test_chunked_body_over_the_limit_that_the_handler_ignores_closes(limited):
    data = exchange(limited, b"POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"40\r\n" + b"c" * 64 + b"\r\n0\r\n\r\n" + GET + b"\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    line, headers = parse_head(head)
    assert (line, headers["connection"], body) == ("HTTP/1.1 200 OK", ["close"], b"ignored")


def test_limits_do_not_leak_into_the_next_connection(limited):
    assert_closed_after = exchange(limited, H + b"Content-Length: 51\r\n\r\n")
    assert assert_closed_after.startswith(b"HTTP/1.1 413 ")
    with limited.connect() as s:
        s.sendall(H + b"Content-Length: 3\r\n\r\nabc")
        assert read_response(s)[2] == b"abc"
        s.sendall(GET + b"Connection: close\r\n\r\n")
        assert read_response(s)[2] == b"hello"
        assert_closed(s)
