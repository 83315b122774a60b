"""Sans-IO HTTP/1.1 response parser (RFC 9112): bytes in with ``feed``, events out with ``next_event``.

No sockets, no asyncio. One parser reads one response (after any 1xx interim responses) to the
request whose method it was told. ``feed(b"")`` means the server closed the connection.

Events: one ``ResponseHead``, zero or more ``Data``, one ``EndOfMessage``; ``NEED_DATA`` when the
buffer holds no complete event. Any violation raises ``ProtocolError`` (``ResponseTooLarge`` for a
body over the limit); the error is final, and the connection must be closed, since after a
framing error nobody knows where the next response starts (the desync behind response
smuggling). The rules are those of the server's request parser (covet.server.http11) seen
from the other side; docs/httpclient.md lists them.

Example::

    parser = ResponseParser("GET")
    parser.feed(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
    parser.next_event()   # ResponseHead(status_code=200, reason='OK', ...)
    parser.next_event()   # Data(data=b'hi')
    parser.next_event()   # EndOfMessage(trailers=[])
    parser.reusable       # True: the connection may carry the next request
"""
import re
from typing import Any, List, Optional, Tuple, Union

from ..server.http11 import (
    DEFAULT_MAX_CHUNK_LINE, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADER_COUNT, DEFAULT_MAX_REQUEST_LINE,
    DEFAULT_MAX_TRAILER_BYTES, NEED_DATA, Body, EndOfMessage, Event, check_header_name, check_header_value,
)
from .errors import ProtocolError, ResponseTooLarge

__all__ = ["ResponseParser", "ResponseHead", "Data", "EndOfMessage", "NEED_DATA",
           "DEFAULT_MAX_STATUS_LINE", "DEFAULT_MAX_HEADER_BYTES", "DEFAULT_MAX_HEADER_COUNT",
           "DEFAULT_MAX_RESPONSE_SIZE", "DEFAULT_MAX_CHUNK_LINE", "DEFAULT_MAX_TRAILER_BYTES",
           "MAX_INTERIM_RESPONSES"]

Header = Tuple[bytes, bytes]

# --- Limits: each a named default; going over one raises ProtocolError naming it. The header,
# chunk and trailer bounds are the server's (covet.server.http11 says why each is what it is): a
# response is read with the same care as a request.

# The status line is "HTTP/1.1 200 OK": a few dozen bytes; the server's request-line bound.
DEFAULT_MAX_STATUS_LINE = DEFAULT_MAX_REQUEST_LINE
# The whole body (decoded from chunks; checked against Content-Length before reading). The
# client buffers responses in memory, so this is the memory one response may take.
DEFAULT_MAX_RESPONSE_SIZE = 16 * 1024 * 1024
# RFC 9110 §15.2: a client MUST accept 1xx responses it did not expect, any number of them; a
# server that sends them without end would keep us reading for ever, so we stop at this many.
MAX_INTERIM_RESPONSES = 16

# --- Grammar (RFC 9112), compiled once; no nested quantifiers, so nothing backtracks.

# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]; status-code =
# 3DIGIT; reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). The SP before an empty reason is
# often missing in the wild ("HTTP/1.1 200"); h11 and http.client accept that, so do we: the
# reason carries no framing meaning.
_STATUS_LINE = re.compile(rb"HTTP/([0-9])\.([0-9]) ([1-9][0-9][0-9])(?: ([\t\x20-\x7e\x80-\xff]*))?").fullmatch
# RFC 9110 §8.6: Content-Length = 1*DIGIT, matched before int() so "+1", "-0", "1_0", " 1" and
# "0x1" never reach it (tornado GHSA-qppv-j76h-2rpx, waitress CVE-2022-24761); 19 digits stay
# below 2**63.
_CONTENT_LENGTH = re.compile(rb"[0-9]{1,19}").fullmatch
# RFC 9112 §7.1: chunk-size = 1*HEXDIG (16 digits at most: 2**64), then the chunk-ext from its
# ";" in field-value octets only: no CR, LF or other CTL inside (aiohttp CVE-2024-52304).
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[\t\x20-\x7e\x80-\xff]*)?").fullmatch

_VERSIONS = {(b"1", b"1"): "1.1", (b"1", b"0"): "1.0"}

# Parser states.
# _EOM: the body is complete and EndOfMessage is due.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _UNTIL_CLOSE, _EOM, _DONE, _DEAD = range(10)


class ResponseHead(Event):
    """The status line and header section of the final response; header names are lower-case.

    ``keep_alive``: whether the server lets the connection persist (RFC 9112 §9.3).
    """

    __slots__ = ("status_code", "reason", "http_version", "headers", "keep_alive")

    def __init__(self, status_code: int, reason: str, http_version: str, headers: List[Header],
                 keep_alive: bool = True) -> None:
        self.status_code = status_code
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive


#: A piece of the body, as much as was buffered (chunked framing already removed): the server
#: parser's body event, under the name this parser's users know it by.
Data = Body

ResponseEvent = Union[ResponseHead, Data, EndOfMessage, Any]  # Any: NEED_DATA


def _list_items(values: List[bytes]) -> List[bytes]:
    """RFC 9110 §5.6.1 list members of one or more field lines, lower-cased, OWS trimmed."""
    return [item.strip(b" \t").lower() for v in values for item in v.split(b",")]


def _parse_fields(block: bytes, max_count: int, what: str) -> List[Header]:
    """Field lines (``block`` without its final CRLF) to (lower-case name, value) pairs."""
    if not block:
        return []
    lines = block.split(b"\r\n")
    if len(lines) > max_count:
        raise ProtocolError("more than %d %s fields" % (max_count, what))
    fields = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError("obs-fold continuation line in the %s (RFC 9112 §5.2)" % what)
        name, colon, value = line.partition(b":")
        if not colon:
            raise ProtocolError("%s line without a colon (RFC 9112 §5)" % what)
        if not check_header_name(name):
            raise ProtocolError("%s field name %r is not a token (RFC 9110 §5.1; RFC 9112 §5.1 "
                                "forbids whitespace before the colon)" % (what, name[:64]))
        if not check_header_value(value):
            # CR, LF, NUL or another control inside a value: aiohttp CVE-2023-37276 / 2024-23829.
            raise ProtocolError("control character in the value of %s field %r (RFC 9110 §5.5)"
                                % (what, name.decode("ascii")))
        fields.append((name.lower(), value.strip(b" \t")))
    return fields


def _check_line_ends(block: bytes, what: str) -> None:
    """Refuse a bare CR or LF: lines end in CRLF only (RFC 9112 §2.2; waitress CVE-2019-16785)."""
    if block.count(b"\n") != block.count(b"\r\n") or block.count(b"\r") != block.count(b"\r\n"):
        raise ProtocolError("bare CR or LF in the %s (RFC 9112 §2.2: lines end in CRLF)" % what)


class ResponseParser:
    """Incremental HTTP/1.1 response parser for one request; see the module docstring.

    :param method: the request's method; a HEAD response has no body (RFC 9112 §6.3 rule 1).
    :param max_response_size: the largest body accepted (``ResponseTooLarge`` beyond it).

    Example::

        parser = ResponseParser("HEAD")
        parser.feed(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\n")
        parser.next_event(), parser.next_event()   # ResponseHead(...), EndOfMessage(...)
    """

    __slots__ = ("method", "_buf", "_state", "_error", "_eof", "_remaining", "_total",
                 "_keep_alive", "_interim", "_max_status_line", "_max_header_bytes",
                 "_max_header_count", "_max_body", "_max_chunk_line", "_max_trailer")

    def __init__(self, method: str = "GET", *, max_status_line: int = DEFAULT_MAX_STATUS_LINE,
                 max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
                 max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
                 max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
                 max_chunk_line: int = DEFAULT_MAX_CHUNK_LINE,
                 max_trailer_bytes: int = DEFAULT_MAX_TRAILER_BYTES) -> None:
        self.method = method.upper()
        self._max_status_line = max_status_line
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._max_body = max_response_size
        self._max_chunk_line = max_chunk_line
        self._max_trailer = max_trailer_bytes
        self._buf = bytearray()
        self._state = _HEAD
        self._error = None  # type: Optional[ProtocolError]
        self._eof = False
        self._remaining = 0
        self._total = 0
        self._keep_alive = False
        self._interim = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes; ``b""`` means the server closed its side (end of file)."""
        if not data:
            self._eof = True
        elif self._state != _DEAD:
            self._buf += data

    @property
    def finished(self) -> bool:
        """True once ``EndOfMessage`` was returned."""
        return self._state == _DONE

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry another request: the response is complete, the server
        keeps the connection alive, and it sent nothing after the response (stray bytes would be
        read as the next response: a desync)."""
        return self._state == _DONE and self._keep_alive and not self._buf and not self._eof

    def take_trailing_data(self) -> bytes:
        """The bytes received after the end of this response, removed from this parser.

        They are the start of the next responses when requests were pipelined (RFC 9112 §9.3.2):
        the caller feeds them to the parser of the next request, whose response comes first.
        Only a finished parser gives them up (``ProtocolError`` before ``EndOfMessage``); after
        the call ``reusable`` says whether the connection persists.

        Example::

            parser.feed(b"HTTP/1.1 204 No Content\\r\\n\\r\\nHTTP/1.1 204 No Content\\r\\n\\r\\n")
            parser.next_event(), parser.next_event()   # ResponseHead(...), EndOfMessage(...)
            following = ResponseParser("GET")
            following.feed(parser.take_trailing_data())   # the second response
        """
        if self._state != _DONE:
            raise ProtocolError("take_trailing_data() before the end of the response")
        data = bytes(self._buf)
        self._buf = bytearray()
        return data

    def next_event(self) -> ResponseEvent:
        """The next event, or NEED_DATA; raises ProtocolError (final) on an invalid response."""
        if self._state == _DEAD:
            raise self._error.with_traceback(None)  # type: ignore[union-attr]
        try:
            if self._state == _HEAD:
                return self._read_head()
            if self._state == _LENGTH:
                return self._read_length()
            if self._state == _UNTIL_CLOSE:
                return self._read_until_close()
            if self._state == _EOM:
                self._state = _DONE
                return EndOfMessage()
            if self._state == _DONE:
                return NEED_DATA
            return self._read_chunked()
        except ProtocolError as exc:
            self._state = _DEAD
            self._error = exc
            self._buf = bytearray()
            raise

    # -- head ------------------------------------------------------------------------------------

    def _read_head(self) -> ResponseEvent:
        while True:
            buf = self._buf
            end = buf.find(b"\r\n\r\n")
            line_end = buf.find(b"\r\n", 0, self._max_status_line + 2)
            if end == -1:
                self._check_incomplete_head(line_end)
                if self._eof:
                    if buf:
                        raise ProtocolError("connection closed before the end of the response head")
                    raise ProtocolError("server closed the connection without a response")
                return NEED_DATA
            if line_end == -1:
                raise ProtocolError("status line longer than %d bytes" % self._max_status_line)
            if end - line_end > self._max_header_bytes:
                raise ProtocolError("response header section larger than %d bytes"
                                    % self._max_header_bytes)
            head = bytes(buf[:end])
            del buf[:end + 4]
            _check_line_ends(head, "response head")
            status_line, _, block = head.partition(b"\r\n")
            match = _STATUS_LINE(status_line)
            if match is None:
                raise ProtocolError("malformed status line %r (RFC 9112 §4: HTTP-version SP "
                                    "3DIGIT SP reason)" % status_line[:80])
            major, minor, code, reason = match.groups()
            version = _VERSIONS.get((major, minor))
            if version is None:
                raise ProtocolError("unsupported HTTP version HTTP/%s.%s (RFC 9112 §2.3)"
                                    % (major.decode(), minor.decode()))
            status = int(code)
            headers = _parse_fields(block, self._max_header_count, "header")
            if status < 200 and status != 101:
                # RFC 9110 §15.2: interim responses (100 Continue, 103 Early Hints) precede the
                # final one; they have no body, so skip them and read on.
                self._interim += 1
                if self._interim > MAX_INTERIM_RESPONSES:
                    raise ProtocolError("more than %d interim (1xx) responses" % MAX_INTERIM_RESPONSES)
                continue
            reason_text = (reason or b"").decode("latin-1")
            return self._start_body(status, reason_text, version, headers)

    def _check_incomplete_head(self, line_end: int) -> None:
        # Limits are enforced on an incomplete head too, as soon as they are certainly
        # exceeded, so a server cannot make us buffer without end.
        buf = self._buf
        n = len(buf)
        if line_end == -1:
            if n - (n > 0 and buf[n - 1] == 13) > self._max_status_line:
                raise ProtocolError("status line longer than %d bytes" % self._max_status_line)
        elif n - line_end - 2 > self._max_header_bytes:
            raise ProtocolError("response header section larger than %d bytes"
                                % self._max_header_bytes)

    def _start_body(self, status: int, reason: str, version: str, headers: List[Header]) -> ResponseHead:
        lengths = []  # type: List[bytes]
        te = []  # type: List[bytes]
        connection = []  # type: List[bytes]
        for name, value in headers:
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                te.append(value)
            elif name == b"connection":
                connection.append(value)
        # RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
        tokens = _list_items(connection)
        keep_alive = b"close" not in tokens and (version == "1.1" or b"keep-alive" in tokens)
        head = ResponseHead(status, reason, version, headers, keep_alive)
        # RFC 9112 §6.3 rule 1: responses to HEAD, and 1xx, 204 and 304 responses, end with the
        # header section whatever their framing headers say. A 101 hands the connection over to
        # another protocol: we never asked for one, so the connection is not reused.
        if self.method == "HEAD" or status in (101, 204, 304):
            if status == 101:
                keep_alive = False
            self._finish(keep_alive)
            return head
        content_length = self._content_length(lengths)
        if te:
            if content_length is not None:
                # RFC 9112 §6.1: a message with both "ought to be handled as an error"; a client
                # that trusts either can be desynchronised (aiohttp CVE-2023-47641).
                raise ProtocolError("both Transfer-Encoding and Content-Length in the response "
                                    "(RFC 9112 §6.1)")
            if version == "1.0":
                raise ProtocolError("Transfer-Encoding in an HTTP/1.0 response (RFC 9112 §6.1)")
            if _list_items(te) != [b"chunked"]:
                # Only one "chunked", exactly: a coding list that two parsers could read
                # differently is how TE smuggling works (gunicorn CVE-2024-1135, waitress
                # CVE-2019-16786/16789). RFC 9112 §6.3 rule 4 would read a non-chunked coding
                # until close; no server covet talks to sends one, so it is refused instead.
                raise ProtocolError("unsupported Transfer-Encoding %r (only a single chunked is "
                                    "accepted)" % b", ".join(te).decode("latin-1")[:80])
            self._keep_alive = keep_alive
            self._state = _CHUNK_SIZE
            return head
        if content_length is not None:
            if content_length > self._max_body:
                raise ResponseTooLarge("Content-Length %d exceeds max_response_size (%d bytes)"
                                       % (content_length, self._max_body))
            if content_length == 0:
                self._finish(keep_alive)
            else:
                self._keep_alive = keep_alive
                self._remaining = content_length
                self._state = _LENGTH
            return head
        # RFC 9112 §6.3 rule 8: no framing: the body runs until the server closes the
        # connection, which therefore cannot be reused.
        head.keep_alive = False
        self._keep_alive = False
        self._state = _UNTIL_CLOSE
        return head

    @staticmethod
    def _content_length(values: List[bytes]) -> Optional[int]:
        if not values:
            return None
        # RFC 9110 §8.6: a list of identical values ("42, 42", or the field repeated) may be
        # taken as one; different values are an unrecoverable error (waitress CVE-2019-16792).
        items = {item.strip(b" \t") for value in values for item in value.split(b",")}
        if len(items) != 1:
            raise ProtocolError("conflicting Content-Length values in the response (RFC 9110 §8.6)")
        value = items.pop()
        if not _CONTENT_LENGTH(value):
            raise ProtocolError("Content-Length %r is not 1*DIGIT (RFC 9110 §8.6)"
                                % value.decode("latin-1")[:40])
        return int(value)

    def _finish(self, keep_alive: bool) -> None:
        self._keep_alive = keep_alive
        self._state = _EOM

    # -- bodies ----------------------------------------------------------------------------------

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _read_length(self) -> ResponseEvent:
        if not self._buf:
            if self._eof:
                raise ProtocolError("connection closed %d bytes before the end of the body "
                                    "(Content-Length)" % self._remaining)
            return NEED_DATA
        data = self._take(min(len(self._buf), self._remaining))
        self._remaining -= len(data)
        if not self._remaining:
            self._state = _EOM
        return Data(data)

    def _read_until_close(self) -> ResponseEvent:
        if self._buf:
            self._total += len(self._buf)
            if self._total > self._max_body:
                raise ResponseTooLarge("response body exceeds max_response_size (%d bytes)"
                                       % self._max_body)
            return Data(self._take(len(self._buf)))
        if self._eof:
            self._state = _DONE
            return EndOfMessage()
        return NEED_DATA

    def _read_chunked(self) -> ResponseEvent:
        # Everything decodable from the buffer is coalesced into one Data event.
        buf = self._buf
        parts = []
        pos = 0
        state = self._state
        while True:
            if state == _CHUNK_SIZE:
                limit = self._max_chunk_line
                i = buf.find(b"\r\n", pos, pos + limit + 2)
                if i == -1:
                    if len(buf) - pos - (buf[-1:] == b"\r") > limit:
                        raise ProtocolError("chunk size line longer than %d bytes" % limit)
                    break
                match = _CHUNK_LINE(buf, pos, i)
                if match is None:
                    raise ProtocolError("chunk size %r is not 1*HEXDIG of at most 16 digits "
                                        "(RFC 9112 §7.1)" % bytes(buf[pos:i])[:40])
                size = int(match.group(1), 16)
                pos = i + 2
                if size == 0:
                    state = _TRAILERS
                    continue
                self._total += size
                if self._total > self._max_body:
                    raise ResponseTooLarge("chunked body exceeds max_response_size (%d bytes)"
                                           % self._max_body)
                self._remaining = size
                state = _CHUNK_DATA
            if state == _CHUNK_DATA:
                take = min(len(buf) - pos, self._remaining)
                if take:
                    parts.append(bytes(buf[pos:pos + take]))
                    pos += take
                    self._remaining -= take
                if self._remaining:
                    break
                state = _CHUNK_CRLF
            if state == _CHUNK_CRLF:
                tail = buf[pos:pos + 2]
                if tail != b"\r\n"[:len(tail)]:
                    # h11 CVE-2025-43859: anything but exactly CRLF after the chunk data lets
                    # two parsers that agree on the size disagree on what follows.
                    raise ProtocolError("chunk data not followed by CRLF (RFC 9112 §7.1)")
                if len(tail) < 2:
                    break
                pos += 2
                state = _CHUNK_SIZE
                continue
            if state == _TRAILERS:
                if parts:
                    break  # deliver the data first; the trailers come with EndOfMessage
                trailers = self._read_trailers(pos)
                if trailers is None:
                    break
                self._state = _DONE
                return EndOfMessage(trailers)
        del buf[:pos]
        self._state = state
        if parts:
            return Data(b"".join(parts))
        if self._eof:
            raise ProtocolError("connection closed before the end of the chunked body")
        return NEED_DATA

    def _read_trailers(self, pos: int) -> Optional[List[Header]]:
        # RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ) CRLF, parsed with the header
        # rules (aiohttp CVE-2025-53643). Returns None while incomplete.
        buf = self._buf
        if buf[pos:pos + 2] == b"\r\n":
            del buf[:pos + 2]
            return []
        limit = self._max_trailer
        end = buf.find(b"\r\n\r\n", pos)
        if end == -1:
            if len(buf) - pos > limit:
                raise ProtocolError("trailer section larger than %d bytes" % limit)
            return None
        if end + 4 - pos > limit:
            raise ProtocolError("trailer section larger than %d bytes" % limit)
        block = bytes(buf[pos:end])
        _check_line_ends(block, "trailer section")
        del buf[:end + 4]
        return _parse_fields(block, self._max_header_count, "trailer")
