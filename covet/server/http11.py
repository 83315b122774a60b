"""Sans-IO HTTP/1.1 (RFC 9112): a request parser (bytes in, events out) and a response serializer.

No sockets, no asyncio: the server feeds bytes to ``RequestParser.feed`` and pulls events with
``next_event`` until ``NEED_DATA``. The parser is strict wherever leniency has enabled request
smuggling elsewhere; a rejection is a ``ProtocolError`` carrying the status to answer before
closing the connection. docs/http11.md lists what is accepted and rejected, and why.
"""
import re
from typing import List, Optional, Tuple

from ..core.status import PHRASES

__all__ = [
    "Limits", "ProtocolError", "Event", "RequestHead", "Body", "EndOfMessage", "NEED_DATA", "RequestParser",
    "response_head", "chunk", "target_path", "LAST_CHUNK", "check_header_value", "check_header_name",
]

Header = Tuple[bytes, bytes]

# --- Limits. Each default is named, says why, and maps to the status that reports it.

# 414. RFC 9112 §3 recommends supporting request-lines of at least 8000 octets; nginx's
# large_client_header_buffers and h11's default incomplete-event size sit at the same order.
DEFAULT_MAX_REQUEST_LINE = 8 * 1024
# 431. The whole header section; 64 KiB is Node's and Tomcat's order of magnitude and still
# far above what browsers send (cookies included), while bounding memory per connection.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
# 431. Same default as CPython http.client (_MAXHEADERS) and aiohttp's max_field_count range.
DEFAULT_MAX_HEADER_COUNT = 100
# 413. Checked against Content-Length before reading and against the decoded size of chunked
# bodies while reading; 16 MiB fits form uploads and JSON APIs (nginx's 1 MiB, aiohttp's 1 MiB
# surprised users: aiohttp#4474) while stopping unbounded uploads.
DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
# 400. chunk-size plus chunk-ext on one line. Extensions are unused by covet; they are validated
# (aiohttp CVE-2024-52304, waitress CVE-2022-24761) and bounded so a peer cannot make us buffer.
DEFAULT_MAX_CHUNK_LINE = 4096
# 431. The trailer section of a chunked body is parsed like headers (aiohttp CVE-2025-53643)
# and needs its own, smaller bound: trailers are rare and never large in practice.
DEFAULT_MAX_TRAILER_BYTES = 8 * 1024
# 400. RFC 9112 §2.2 lets a server ignore empty lines before a request-line (old clients sent a
# CRLF after a POST body); more than a few is not a client bug but a probe.
MAX_LEADING_EMPTY_LINES = 8


class Limits:
    """Size limits of the parser, keyword settings with documented defaults.

    Example: ``RequestParser(Limits(max_body_size=1024 * 1024))``
    """

    __slots__ = ("max_request_line", "max_header_bytes", "max_header_count", "max_body_size",
                 "max_chunk_line", "max_trailer_bytes")

    def __init__(self, *, max_request_line: int = DEFAULT_MAX_REQUEST_LINE,
                 max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
                 max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE,
                 max_chunk_line: int = DEFAULT_MAX_CHUNK_LINE,
                 max_trailer_bytes: int = DEFAULT_MAX_TRAILER_BYTES) -> None:
        for name, value in zip(self.__slots__, (max_request_line, max_header_bytes,
                                                max_header_count, max_body_size, max_chunk_line,
                                                max_trailer_bytes)):
            if type(value) is not int:
                raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
            if value < 0:
                raise ValueError("%s must be >= 0, got %d" % (name, value))
            setattr(self, name, value)

    def __repr__(self) -> str:
        return "Limits(%s)" % ", ".join("%s=%d" % (n, getattr(self, n)) for n in self.__slots__)


_DEFAULT_LIMITS = Limits()  # read-only: parsers copy the values they need at construction


# --- Grammar (RFC 9110 / RFC 9112) as named fragments, compiled once. No unbounded repetition
# applies to a group that itself holds one, so no pattern backtracks super-linearly on hostile
# input (waitress CVE-2020-5236); tests run 100 KB of junk against each.

# RFC 9110 §5.6.2: token = 1*tchar; tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
#   / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
# RFC 9110 §5.5: field-value = *field-content, made of field-vchar (VCHAR / obs-text), SP and
# HTAB. Every other CTL (NUL, CR, LF, ...) is excluded (aiohttp CVE-2023-37276, CVE-2024-23829).
_FIELD_CHARS = rb"[\t\x20-\x7e\x80-\xff]*"
# RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. The name is a token, so a space
# before the colon (§5.1 MUST reject) or a leading SP/HTAB (obs-fold, §5.2) cannot match. The
# OWS is kept in the group and stripped after the match: one quantifier, no backtracking.
# Anchored with ^ under re.M so a match can only begin at the start of a line.
_FIELD_LINE = rb"^(" + _TOKEN + rb"):(" + _FIELD_CHARS + rb")\r\n"
# RFC 9112 §3: request-line = method SP request-target SP HTTP-version; method = token.
# RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT (HTTP-name is case-sensitive).
# The target is VCHAR only: RFC 3986 has no CTL, SP or non-ASCII octet in a URI (h11 agrees).
_TARGET = rb"[\x21-\x7e]+"
_REQUEST_LINE = rb"(" + _TOKEN + rb") (" + _TARGET + rb") HTTP/([0-9]\.[0-9])"
# RFC 3986 §3.2.2-3.2.3: host = IP-literal / IPv4address / reg-name; port = *DIGIT.
_HOST = rb"(?:\[[0-9A-Za-z:.]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]*)(?::[0-9]*)?"
# RFC 9112 §3.2.2: absolute-form = absolute-URI; RFC 3986 §3.1 scheme = ALPHA *( ALPHA / DIGIT
# / "+" / "-" / "." ). The rest of the target is already restricted to VCHAR by _TARGET.
_ABSOLUTE_FORM = rb"[A-Za-z][-A-Za-z0-9+.]*:[\x21-\x7e]*"
# RFC 9112 §3.2.3: authority-form = uri-host ":" port (CONNECT only).
_AUTHORITY_FORM = rb"(?:\[[0-9A-Za-z:.]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]+):[0-9]+"
# RFC 9110 §8.6: Content-Length = 1*DIGIT. Matched before int() so "+1", "-0", "1_0", "1 0",
# "0x1" and Unicode digits never reach it (tornado GHSA-qppv-j76h-2rpx, waitress
# CVE-2022-24761); 19 digits keep the value below 2**63.
_CONTENT_LENGTH = rb"[0-9]{1,19}"
# RFC 9112 §7.1: chunk-size = 1*HEXDIG, bounded at 16 digits (2**64) for the same reason.
# Group 2 is the chunk-ext from its first ";" (the BWS before it is matched here), checked
# below; the charset excludes every CTL but HTAB, so no CR or LF (aiohttp CVE-2024-52304).
_CHUNK_LINE = rb"([0-9A-Fa-f]{1,16})(?:[ \t]*(;[\t\x20-\x7e\x80-\xff]*))?"
# RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE;
#   qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text;
#   quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
_QUOTED_STRING = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"'
# RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] );
# chunk-ext-val = token / quoted-string. One element per match, starting at its ";" (so
# findall cannot restart a long scan at every byte) and taking the BWS before the next ";".
# The elements found must tile the whole extension (checked by length), which stands in for
# the outer repetition.
_CHUNK_EXT = (rb";[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED_STRING
              + rb"))?(?:[ \t]+(?=;))?")

_field_lines = re.compile(_FIELD_LINE, re.M).findall
_request_line = re.compile(_REQUEST_LINE).fullmatch
_is_token = re.compile(_TOKEN).fullmatch
_is_host = re.compile(_HOST).fullmatch
_is_absolute_form = re.compile(_ABSOLUTE_FORM).fullmatch
_is_authority_form = re.compile(_AUTHORITY_FORM).fullmatch
_is_content_length = re.compile(_CONTENT_LENGTH).fullmatch
_chunk_line = re.compile(_CHUNK_LINE).fullmatch
_chunk_ext_items = re.compile(_CHUNK_EXT).findall
_bad_value_char = re.compile(rb"[^\t\x20-\x7e\x80-\xff]").search

_VERSIONS = {b"1.1": "1.1", b"1.0": "1.0"}
# PERF: the common methods skip a decode per request.
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                   "CONNECT", "TRACE")}
_SPECIAL = frozenset((b"host", b"content-length", b"transfer-encoding", b"connection", b"expect",
                      b"upgrade", b"forwarded", b"x-forwarded-for", b"x-forwarded-proto"))
# Proxy headers: noted while the head is parsed, so a request without them (the common case,
# even from a trusted proxy's own address) skips the proxy logic.
_FORWARDED = frozenset((b"forwarded", b"x-forwarded-for", b"x-forwarded-proto"))


# --- Events

class ProtocolError(Exception):
    """The request cannot be processed; answer with ``status`` and close the connection.

    ``instance`` is the path of the request it concerns (RFC 9457 §3.1.5), once its request line
    could be read; None before that (a malformed or over-long request line).
    """

    def __init__(self, status: int, detail: str, instance: Optional[str] = None) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.instance = instance

    def __str__(self) -> str:
        return "%d %s" % (self.status, self.detail)


class Event:
    """Base of the parsers' events (this module's and covet.httpclient's): compared by value."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (n, getattr(self, n)) for n in self.__slots__))


class RequestHead(Event):
    """A parsed request line and header section; header names are lower-case bytes."""

    __slots__ = ("method", "target", "version", "headers", "keep_alive", "expect_continue",
                 "content_length", "chunked", "upgrade", "forwarded")

    def __init__(self, method: str, target: str, version: str, headers: List[Header],
                 keep_alive: bool = True, expect_continue: bool = False,
                 content_length: Optional[int] = None, chunked: bool = False,
                 upgrade: Optional[bytes] = None, forwarded: bool = False) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.content_length = content_length
        self.chunked = chunked
        self.upgrade = upgrade
        # Whether Forwarded, X-Forwarded-For or X-Forwarded-Proto is present.
        self.forwarded = forwarded


class Body(Event):
    """A piece of the decoded request body, as much as was buffered."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class EndOfMessage(Event):
    """The message is complete; ``trailers`` holds the chunked trailer fields (lower-case names)."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: Optional[List[Header]] = None) -> None:
        self.trailers = [] if trailers is None else trailers


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()
"""Returned by ``next_event`` when the buffer holds no complete event: feed more bytes."""

# Parser states.
_HEAD, _BODY, _DONE, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _DEAD = range(8)


def _bad(detail: str) -> ProtocolError:
    return ProtocolError(400, detail)


def _copy(buf: bytearray, start: int, end: int) -> bytes:
    if end - start < 16384:
        return bytes(buf[start:end])
    with memoryview(buf) as view:  # PERF: one copy instead of two (x30 faster at 1 MiB)
        return bytes(view[start:end])


def _check_line_ends(buf: bytearray, lo: int, start: int, end: int) -> int:
    """Raise 400 on a bare LF or CR in buf[start:end] (lo: message start); return where to resume.

    RFC 9112 §2.2 lets a recipient accept bare LF; we do not (waitress CVE-2019-16785, aiohttp
    CVE-2023-37276): a front-end that splits lines differently is a smuggling vector.
    """
    i = buf.find(b"\n", start, end)
    while i != -1:
        if i == lo or buf[i - 1] != 13:
            raise _bad("bare LF as line terminator (RFC 9112 §2.2: lines end in CRLF)")
        i = buf.find(b"\n", i + 1, end)
    i = buf.find(b"\r", start, end)
    while i != -1:
        if i + 1 < end and buf[i + 1] != 10:
            raise _bad("bare CR (RFC 9112 §2.2: a CR must be followed by LF)")
        i = buf.find(b"\r", i + 1, end)
    return end - 1 if end > start and buf[end - 1] == 13 else end


def _parse_fields(buf: bytearray, start: int, end: int, max_count: int) -> List[Header]:
    """Parse the field lines in buf[start:end] (each ending in CRLF) into (name, value) pairs."""
    count = buf.count(b"\n", start, end)
    if count > max_count:
        raise ProtocolError(431, "more than %d header fields" % max_count)
    pairs = _field_lines(buf, start, end)
    if len(pairs) != count:
        # Each match starts at a line start and holds exactly one LF, so fewer matches than
        # LFs means some line is not a field-line; find which rule it breaks for the message.
        _explain_bad_field(bytes(buf[start:end]))
    return [(name.lower(), value.strip(b" \t")) for name, value in pairs]


def _explain_bad_field(block: bytes) -> None:
    """Raise the 400 naming the first rule a field line of ``block`` breaks."""
    for line in block.split(b"\r\n"):
        if b"\r" in line or b"\n" in line:
            raise _bad("bare CR or LF in a field line (RFC 9112 §2.2)")
        if line[:1] in (b" ", b"\t"):
            raise _bad("obs-fold continuation line (RFC 9112 §5.2)")
        name, colon, value = line.partition(b":")
        if not colon:
            raise _bad("field line without a colon (RFC 9112 §5)")
        if name[-1:] in (b" ", b"\t"):
            raise _bad("whitespace between field name and colon (RFC 9112 §5.1)")
        if not _is_token(name):
            raise _bad("field name is not a token (RFC 9110 §5.1)")
        if _bad_value_char(value):
            raise _bad("control character in field value (RFC 9110 §5.5)")
    raise _bad("malformed field line (RFC 9112 §5)")


def _list_items(values: List[bytes]) -> List[bytes]:
    """RFC 9110 §5.6.1 list members of one or more field lines, lower-cased, OWS trimmed."""
    if len(values) == 1 and b"," not in values[0]:
        return [values[0].lower()]  # PERF: "keep-alive", "close", "chunked"
    return [item.strip(b" \t").lower() for v in values for item in v.split(b",")]


class RequestParser:
    """Incremental HTTP/1.1 request parser: ``feed`` bytes, call ``next_event`` until NEED_DATA.

    Events per request: one ``RequestHead``, zero or more ``Body``, one ``EndOfMessage``; then
    the next pipelined request. A ``ProtocolError`` is final: every later call raises it again,
    so a pipeline is never parsed past a framing error (waitress CVE-2024-49768). Example::

        parser = RequestParser(); parser.feed(data); event = parser.next_event()
    """

    __slots__ = ("_buf", "_pos", "_state", "_error", "_scan", "_lf_scan", "_line_end", "_empty",
                 "_remaining", "_total", "_host", "_max_line", "_max_head", "_max_count",
                 "_max_body", "_max_chunk_line", "_max_trailer", "_target")

    def __init__(self, limits: Optional[Limits] = None) -> None:
        if limits is None:
            limits = _DEFAULT_LIMITS
        self._max_line = limits.max_request_line
        self._max_head = limits.max_header_bytes
        self._max_count = limits.max_header_count
        self._max_body = limits.max_body_size
        self._max_chunk_line = limits.max_chunk_line
        self._max_trailer = limits.max_trailer_bytes
        self._buf = bytearray()
        self._pos = 0
        self._error = None  # type: Optional[ProtocolError]
        self._remaining = 0
        self._total = 0
        self._host = None  # type: Optional[bytes]
        self._target = None  # type: Optional[bytes]
        self._start_head()

    def _start_head(self) -> None:
        self._target = None
        self._state = _HEAD
        self._scan = self._lf_scan = self._pos
        self._line_end = -1
        self._empty = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes to the buffer (ignored once the parser has failed)."""
        pos = self._pos
        if not pos:
            if self._state != _DEAD:
                self._buf += data
        elif pos == len(self._buf) and self._state == _HEAD:
            # PERF: everything was consumed (the usual case between requests): start afresh.
            self._buf = bytearray(data)
            self._pos = self._scan = self._lf_scan = 0
            self._line_end = -1
        else:
            # Deleting a bytearray's prefix only moves its start (amortised O(1)), so consumed
            # bytes are dropped here instead of being re-sliced per event.
            del self._buf[:pos]
            self._pos = 0
            self._scan -= pos
            self._lf_scan -= pos
            if self._line_end >= 0:
                self._line_end -= pos
            self._buf += data

    def remaining(self) -> bytes:
        """The buffered bytes not consumed by any event yet (for an Upgrade hand-off)."""
        return bytes(self._buf[self._pos:])

    def pending(self) -> int:
        """How many buffered bytes are not consumed yet (between requests: a partial head)."""
        return len(self._buf) - self._pos

    def next_event(self):  # -> Union[RequestHead, Body, EndOfMessage, _NeedData]
        """Return the next event, or NEED_DATA; raise ProtocolError on invalid input."""
        state = self._state
        try:
            if state == _HEAD:
                return self._read_head()
            if state == _DONE:
                self._start_head()
                return EndOfMessage([])
            if state == _BODY:
                return self._read_body()
            if state == _DEAD:
                raise self._error.with_traceback(None)  # type: ignore[union-attr]
            return self._read_chunked()
        except ProtocolError as exc:
            if exc.instance is None and self._target is not None:
                exc.instance = target_path(self._target)
            self._state = _DEAD
            self._error = exc
            self._buf = bytearray()
            self._pos = 0
            raise

    # -- request head --------------------------------------------------------------------------

    def _read_head(self):
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\r\n\r\n", self._scan)
        if end == -1:
            return self._head_incomplete(buf, pos)
        line_end = buf.find(b"\r\n", pos, end + 2)
        if line_end == pos:
            self._skip_empty_line()
            return self._read_head()
        if line_end - pos > self._max_line:
            raise ProtocolError(414, "request line longer than %d bytes" % self._max_line)
        if end + 4 - line_end - 2 > self._max_head:
            raise ProtocolError(431, "header section larger than %d bytes" % self._max_head)
        match = _request_line(buf, pos, line_end)
        if match is None:
            raise _bad("malformed request line (RFC 9112 §3: method SP request-target SP "
                       "HTTP-version CRLF)")
        method, target, version = match.groups()
        self._target = target
        version = _VERSIONS.get(version)
        if version is None:
            raise ProtocolError(505, "HTTP/%s is not supported (RFC 9112 §2.3)"
                                % match.group(3).decode())
        if target[0] != 47 or method == b"CONNECT":  # 47 is "/": origin-form is the fast path
            _check_target(method, target)
        if line_end == end:
            headers = []  # type: List[Header]
        else:
            headers = _parse_fields(buf, line_end + 2, end + 2, self._max_count)
        self._pos = end + 4
        host = 0
        content_length = None
        other = {}  # type: dict
        for name, value in headers:
            if name not in _SPECIAL:
                continue
            if name == b"host":
                host += 1
                if value != self._host:  # PERF: a keep-alive client repeats the same Host
                    if not _is_host(value):
                        raise _bad("invalid Host (RFC 9110 §7.2)")
                    self._host = value
            elif name == b"content-length":
                if content_length is not None:
                    # RFC 9112 §6.3 would allow identical repeats; we do not, because peers
                    # disagree on which copy wins (waitress CVE-2019-16792) and no real
                    # client sends two.
                    raise _bad("more than one Content-Length (RFC 9112 §6.3)")
                if not _is_content_length(value):
                    raise _bad("Content-Length is not 1*DIGIT (RFC 9110 §8.6)")
                content_length = int(value)
            else:
                other.setdefault(name, []).append(value)
        if other:
            get = other.get
            te, connection, expect, upgrade = (get(b"transfer-encoding"), get(b"connection"),
                                               get(b"expect"), get(b"upgrade"))
        else:
            te = connection = expect = upgrade = None  # PERF: only Host (and Content-Length) were sent
        http11 = version == "1.1"
        if host > 1 or (http11 and not host):
            # RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host or
            # with more than one Host field line.
            raise _bad("%s Host (RFC 9112 §3.2)" % ("missing" if not host else "more than one"))
        chunked = False
        if te is not None:
            if content_length is not None:
                # RFC 9112 §6.1: a server MAY reject both; we always do (aiohttp CVE-2023-47641).
                raise _bad("both Transfer-Encoding and Content-Length (RFC 9112 §6.1)")
            if not http11:
                # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
                raise _bad("Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)")
            _check_transfer_encoding(te)
            chunked = True
        if content_length is not None and content_length > self._max_body:
            raise ProtocolError(413, "Content-Length %d exceeds the limit of %d bytes"
                                % (content_length, self._max_body))
        expect_continue = False
        if expect is not None:
            for item in _list_items(expect):
                if item and item != b"100-continue":
                    raise ProtocolError(417, "unsupported expectation (RFC 9110 §10.1.1)")
            # RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
            expect_continue = http11
        # RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive". RFC 9110
        # §7.8: Upgrade counts only with "Connection: upgrade", and is ignored in HTTP/1.0.
        if connection is None:
            keep_alive = http11
            upgrade = None
        else:
            tokens = _list_items(connection)
            keep_alive = b"close" not in tokens and (http11 or b"keep-alive" in tokens)
            if upgrade is not None:
                upgrade = b", ".join(upgrade) if http11 and b"upgrade" in tokens else None
        if chunked:
            self._state = _CHUNK_SIZE
            self._total = 0
        elif content_length:
            self._state = _BODY
            self._remaining = content_length
        else:
            self._state = _DONE
        return RequestHead(_METHODS.get(method) or method.decode("ascii"),
                           target.decode("ascii"), version, headers, keep_alive, expect_continue,
                           content_length, chunked, upgrade,
                           bool(other) and not _FORWARDED.isdisjoint(other))

    def _skip_empty_line(self) -> None:
        # RFC 9112 §2.2: SHOULD ignore at least one empty line before the request-line.
        self._empty += 1
        if self._empty > MAX_LEADING_EMPTY_LINES:
            raise _bad("more than %d empty lines before the request line" % MAX_LEADING_EMPTY_LINES)
        self._pos += 2
        self._scan = self._lf_scan = self._pos
        self._line_end = -1

    def _head_incomplete(self, buf: bytearray, pos: int):
        n = len(buf)
        if n == pos:
            return NEED_DATA
        self._scan = max(pos, n - 3)
        self._lf_scan = _check_line_ends(buf, pos, self._lf_scan, n)
        line_end = self._line_end
        if line_end == -1:
            line_end = buf.find(b"\r\n", pos, pos + self._max_line + 2)
            if line_end == pos:
                self._skip_empty_line()
                return self._read_head()
            self._line_end = line_end
        # Limits are enforced on the incomplete head too, as soon as they are certainly
        # exceeded, so a peer cannot make us buffer without end (never truncate silently).
        if line_end == -1:
            if n - pos - (buf[n - 1] == 13) > self._max_line:
                raise ProtocolError(414, "request line longer than %d bytes" % self._max_line)
        elif line_end - pos > self._max_line:
            raise ProtocolError(414, "request line longer than %d bytes" % self._max_line)
        elif n - line_end - 2 > self._max_head:
            raise ProtocolError(431, "header section larger than %d bytes" % self._max_head)
        return NEED_DATA

    # -- bodies --------------------------------------------------------------------------------

    def _read_body(self):
        pos = self._pos
        take = len(self._buf) - pos
        if not take:
            return NEED_DATA
        if take >= self._remaining:
            take = self._remaining
            self._state = _DONE
        self._remaining -= take
        self._pos = pos + take
        return Body(_copy(self._buf, pos, pos + take))

    def _read_chunked(self):
        # Everything decodable from the buffer is coalesced into one Body; the work per chunk
        # is constant (offsets into the bytearray, no re-slicing of the rest), so many 1-byte
        # chunks cost linear time (aiohttp 3.13.3 advisory).
        buf = self._buf
        pos = self._pos
        n = len(buf)
        state = self._state
        remaining = self._remaining
        parts = []
        while True:
            if state == _CHUNK_SIZE:
                limit = self._max_chunk_line
                i = buf.find(b"\r\n", pos, pos + limit + 2)
                if i == -1:
                    if n - pos - (buf[n - 1] == 13 if n > pos else 0) > limit:
                        raise _bad("chunk size line longer than %d bytes" % limit)
                    _check_line_ends(buf, pos, pos, n)
                    break
                match = _chunk_line(buf, pos, i)
                if match is None:
                    raise _bad("chunk-size is not 1*HEXDIG of at most 16 digits (RFC 9112 §7.1)")
                size, ext = match.groups()
                if ext is not None and sum(map(len, _chunk_ext_items(ext))) != len(ext):
                    raise _bad("malformed chunk extension (RFC 9112 §7.1.1)")
                pos = i + 2
                remaining = int(size, 16)
                if not remaining:
                    state = _TRAILERS
                else:
                    self._total += remaining
                    if self._total > self._max_body:
                        raise ProtocolError(413, "chunked body exceeds the limit of %d bytes"
                                            % self._max_body)
                    state = _CHUNK_DATA
            if state == _CHUNK_DATA:
                end = pos + remaining
                if end + 2 <= n:  # PERF: the whole chunk and its CRLF are buffered
                    if buf[end] != 13 or buf[end + 1] != 10:
                        # h11 CVE-2025-43859: anything but exactly CRLF here desynchronises
                        # the peers that agree on the chunk size.
                        raise _bad("chunk data not followed by CRLF (RFC 9112 §7.1)")
                    parts.append(_copy(buf, pos, end))
                    pos = end + 2
                    state = _CHUNK_SIZE
                    continue
                if end > n:
                    end = n
                if end > pos:
                    parts.append(_copy(buf, pos, end))
                    remaining -= end - pos
                    pos = end
                if remaining:
                    break
                state = _CHUNK_CRLF
            if state == _CHUNK_CRLF:
                if n - pos < 2:
                    if n > pos and buf[pos] != 13:
                        raise _bad("chunk data not followed by CRLF (RFC 9112 §7.1)")
                    break
                if buf[pos] != 13 or buf[pos + 1] != 10:
                    raise _bad("chunk data not followed by CRLF (RFC 9112 §7.1)")
                pos += 2
                state = _CHUNK_SIZE
                continue
            if state == _TRAILERS:
                if parts:
                    break  # deliver the data first; the trailers come with EndOfMessage
                done = self._read_trailers(buf, pos, n)
                if done is None:
                    break
                self._pos = done[1]
                self._start_head()
                return EndOfMessage(done[0])
        self._pos = pos
        self._state = state
        self._remaining = remaining
        if not parts:
            return NEED_DATA
        return Body(parts[0] if len(parts) == 1 else b"".join(parts))

    def _read_trailers(self, buf: bytearray, pos: int, n: int):
        # RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then the final CRLF. Parsed
        # with the header rules and returned, never skipped (aiohttp CVE-2025-53643).
        # Returns (trailers, end of the section) or None when more data is needed.
        if n - pos < 2:
            _check_line_ends(buf, pos, pos, n)
            return None
        if buf[pos] == 13 and buf[pos + 1] == 10:
            return [], pos + 2
        limit = self._max_trailer
        end = buf.find(b"\r\n\r\n", pos, pos + limit + 4)
        if end == -1 or end + 4 - pos > limit:
            if end != -1 or n - pos > limit:
                raise ProtocolError(431, "trailer section larger than %d bytes" % limit)
            _check_line_ends(buf, pos, pos, n)
            return None
        return _parse_fields(buf, pos, end + 2, self._max_count), end + 4


def target_path(target: bytes) -> Optional[str]:
    """The path of a request-target (RFC 9112 §3.2): origin-form or absolute-form; else None."""
    if target[:1] != b"/":
        scheme_end = target.find(b"://")
        if scheme_end < 0:
            return None  # authority-form (CONNECT), asterisk-form: no path
        slash = target.find(b"/", scheme_end + 3)
        target = target[slash:] if slash >= 0 else b"/"
    end = target.find(b"?")
    return (target if end < 0 else target[:end]).decode("ascii", "replace")


def _check_target(method: bytes, target: bytes) -> None:
    """RFC 9112 §3.2: which request-target forms each method may use."""
    if method == b"CONNECT":
        # §3.2.3: CONNECT uses authority-form, and only CONNECT does.
        if not _is_authority_form(target):
            raise _bad("CONNECT needs an authority-form target (RFC 9112 §3.2.3)")
    elif target == b"*":
        # §3.2.4: asterisk-form is only used for a server-wide OPTIONS request.
        if method != b"OPTIONS":
            raise _bad("asterisk-form target is only allowed for OPTIONS (RFC 9112 §3.2.4)")
    elif target[0] != 47 and not _is_absolute_form(target):
        raise _bad("request target is neither origin-form nor absolute-form (RFC 9112 §3.2)")


def _check_transfer_encoding(values: List[bytes]) -> None:
    """Accept exactly one ``chunked`` coding; RFC 9112 §6.1 and §6.3 rule 4 decide the rest."""
    codings = _list_items(values)
    if codings == [b"chunked"]:
        return
    # No empty members, no parameters, no stray whitespace: a coding list that two parsers
    # could read differently is how TE smuggling works (gunicorn CVE-2024-1135, CVE-2024-6827;
    # waitress CVE-2019-16786, CVE-2019-16789).
    for coding in codings:
        if not _is_token(coding):
            raise _bad("malformed Transfer-Encoding (RFC 9112 §6.1)")
    if codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
        # §6.3: chunked not final -> 400; §7: chunked MUST NOT be applied more than once.
        raise _bad("chunked is not the final transfer coding exactly once (RFC 9112 §6.3)")
    # §6.1: a server that receives a transfer coding it does not understand SHOULD answer 501.
    raise ProtocolError(501, "unsupported transfer coding %r" % codings[0].decode("latin-1"))


# --- Serializer

def _status_lines(version: str):
    lines = {}
    for code in range(100, 600):
        # RFC 9112 §4: the reason-phrase may be empty; the SP before it is not.
        phrase = PHRASES.get(code, "")
        lines[code] = ("HTTP/%s %d %s\r\n" % (version, code, phrase)).encode("ascii")
    return lines


# Precomputed once: the status line for every code 100-599 and both versions.
_STATUS_LINES = {"1.1": _status_lines("1.1"), "1.0": _status_lines("1.0")}
_COLON_SP = b": ".join
_CRLF = b"\r\n".join
LAST_CHUNK = b"0\r\n\r\n"
"""The last-chunk and empty trailer section that end a chunked response (RFC 9112 §7.1)."""


def response_head(status: int, headers: List[Header], version: str = "1.1", tail: bytes = b"") -> bytes:
    """The status line and header section of a response, ending with the empty line.

    Names and values must already be clean bytes (see ``check_header_value``). ``tail`` is
    header lines already encoded, each ending with CRLF (the server's Date and Server lines,
    shared by every response of a second: PERF, encoded once, not per response). Example:
    ``response_head(200, [(b"content-length", b"2")])`` -> ``b"HTTP/1.1 200 OK\r\ncontent-...``
    """
    try:
        line = _STATUS_LINES[version][status]
    except KeyError:
        if version not in _STATUS_LINES:
            raise ValueError("version must be '1.1' or '1.0', got %r" % (version,)) from None
        raise ValueError("status must be an int from 100 to 599, got %r" % (status,)) from None
    if not headers:
        return line + tail + b"\r\n"
    return line + _CRLF(map(_COLON_SP, headers)) + b"\r\n" + tail + b"\r\n"


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked response body; empty data gives b"" (it would end the body)."""
    if not data:
        return b""
    return b"%x\r\n%s\r\n" % (len(data), data)


def check_header_value(value: bytes) -> bool:
    """True if ``value`` holds only field-value octets (no CR, LF, NUL or other CTL but HTAB)."""
    return _bad_value_char(value) is None


def check_header_name(name: bytes) -> bool:
    """True if ``name`` is a valid field name (an RFC 9110 token)."""
    return _is_token(name) is not None
