"""Bounded, streaming multipart/form-data parser (RFC 7578 on RFC 2046), sans-IO, and its limits.

``MultipartParser`` turns bytes into events (``PartBegin``, ``PartData``, ``PartEnd``,
``Finished``) and enforces every limit of ``MultipartLimits`` while streaming. Every
failure is a ``MultipartError`` carrying the HTTP status to answer with (400 malformed,
413 limit exceeded). It reads no stream and makes no file: ``covet.core.multipart``
drives it and turns file parts into ``UploadFile`` objects.

Example::

    parser = MultipartParser(get_boundary(content_type), MultipartLimits(max_parts=50))
    events = parser.feed(body) + parser.close()
"""
import re
from typing import Dict, List, Optional, Tuple, Union
from urllib.parse import unquote_to_bytes

__all__ = [
    "DEFAULT_LIMITS", "Event", "Finished", "MultipartError", "MultipartLimits", "MultipartParser", "PartBegin",
    "PartData", "PartEnd", "get_boundary", "parse_options_header",
]

# Starlette's fix for CVE-2023-30798 (unbounded part count) chose 1000; werkzeug's
# max_form_parts (CVE-2023-25577) defaults to 1000 as well.
MAX_PARTS = 1000
# A part without filename is held in memory: Starlette's CVE-2024-47874 fix caps it at 1 MiB.
MAX_FIELD_SIZE = 1024 * 1024
MAX_FILE_SIZE = 100 * 1024 * 1024
# Part headers are buffered until their blank line; h11 caps a whole head at 16 KiB.
MAX_PART_HEADER_SIZE = 16 * 1024
MAX_HEADER_COUNT_PER_PART = 16
# In memory up to this size, then a temporary file (Starlette's default spool size too).
SPOOL_MAX_SIZE = 1024 * 1024
# RFC 2046 §5.1.1: "boundary := 0*69<bchars> bcharsnospace", i.e. 1 to 70 characters.
MAX_BOUNDARY_LENGTH = 70
# RFC 2046 §5.1.1: bchars := bcharsnospace / " "; bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" /
# "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?". Nothing else, so no two readers disagree.
BOUNDARY_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=? "

# RFC 9110 §5.6.2: token = 1*tchar
_TCHARS = r"!#$%&'*+.^_`|~0-9A-Za-z-"
_TOKEN = re.compile("[%s]+" % _TCHARS)
_TOKEN_B = re.compile(b"[%s]+" % _TCHARS.encode())
_MEDIA_TYPE = re.compile("[{0}]+(?:/[{0}]+)?".format(_TCHARS))
# One quantifier each, no nesting (python-multipart CVE-2024-24762 was a nested-quantifier ReDoS).
_QUOTED_RUN = re.compile(r'[^"\\]*')
_NAME_RUN = re.compile(r"[^=;]*")
# RFC 9110 §5.5: field values carry no CTL except HTAB.
_BAD_VALUE_BYTE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 2046 §5.1.1 transport-padding := *LWSP-char
_PADDING = re.compile(b"[ \t]*")
_NOT_BCHAR = re.compile("[^%s]" % re.escape(BOUNDARY_CHARS))
# RFC 9110 §5.6.6 parameter-value = token / quoted-string, and for the boundary a quoted-string
# without quoted-pairs: a backslash is never a bchar, and a reader that does not unescape sees
# another boundary (email.policy.HTTP reads boundary="a\bc" as abc, the compat32 parser as a\bc).
_EXACT_BOUNDARY_VALUE = re.compile(r'[%s]*|"[^"\\]*"' % _TCHARS)


class MultipartError(Exception):
    """A malformed body (``status`` 400) or an exceeded limit (413); ``detail`` says which."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status

    def __repr__(self) -> str:
        return "MultipartError(%r, status=%d)" % (self.detail, self.status)


def _too_large(what: str, limit: str, value: int, unit: str = "bytes") -> MultipartError:
    return MultipartError("multipart: %s exceeds %s (%d %s)" % (what, limit, value, unit), 413)


class MultipartLimits:
    """Immutable multipart limits; each is a keyword argument.

    :param max_parts: parts per body (fields and files together).
    :param max_field_size: bytes of one part without a filename (held in memory).
    :param max_file_size: bytes of one part with a filename.
    :param max_part_header_size: bytes of one part's header section, padding included.
    :param max_header_count_per_part: header lines in one part.
    :param spool_max_size: bytes of a file kept in memory before it rolls to a temporary file.

    Example::

        MultipartLimits(max_file_size=10 * 1024 * 1024)
    """

    __slots__ = ("max_parts", "max_field_size", "max_file_size", "max_part_header_size",
                 "max_header_count_per_part", "spool_max_size")

    def __init__(self, *, max_parts: int = MAX_PARTS, max_field_size: int = MAX_FIELD_SIZE,
                 max_file_size: int = MAX_FILE_SIZE, max_part_header_size: int = MAX_PART_HEADER_SIZE,
                 max_header_count_per_part: int = MAX_HEADER_COUNT_PER_PART,
                 spool_max_size: int = SPOOL_MAX_SIZE) -> None:
        values = locals()
        for name in self.__slots__:
            value = values[name]
            if type(value) is not int:
                raise TypeError("MultipartLimits.%s must be an int, got %r" % (name, value))
            # spool_max_size=0 would mean "never roll over" to SpooledTemporaryFile.
            if value < 1:
                raise ValueError("MultipartLimits.%s must be at least 1, got %d" % (name, value))
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("MultipartLimits is immutable; build a new one")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MultipartLimits):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        return "MultipartLimits(%s)" % ", ".join("%s=%d" % (n, getattr(self, n)) for n in self.__slots__)


DEFAULT_LIMITS = MultipartLimits()


def _decode_ext_value(value: str) -> Optional[str]:
    """RFC 8187 §3.2.1 ext-value ``charset'[language]'pct-encoded``, or None when invalid."""
    parts = value.split("'", 2)
    if len(parts) != 3 or parts[0].lower() not in ("utf-8", "iso-8859-1"):
        return None
    try:
        return unquote_to_bytes(parts[2]).decode(parts[0])
    except UnicodeDecodeError:
        return None


def _parameters(value: str, pos: int, raw: Optional[List[Tuple[str, Optional[str], str]]] = None,
                ) -> Dict[str, str]:
    """The ``; name=value`` parameters of ``value`` from ``pos`` on, as parse_options_header gives them.

    With ``raw``, every parameter is also appended to it as it was written: (text between ";"
    and "=", text between "=" and the ";" that ends it or None without "=", unquoted value).
    A quoted ";" does not end a parameter. Each character is scanned a bounded number of times.
    """
    params = {}  # type: Dict[str, str]
    extended = {}  # type: Dict[str, str]
    end = len(value)
    while pos < end:
        match = _NAME_RUN.match(value, pos)
        raw_name, pos = match.group(), match.end()
        if pos >= end or value[pos] == ";":
            if raw is not None:
                raw.append((raw_name, None, ""))
            pos += 1  # a parameter without "=" carries nothing
            continue
        pos += 1
        start = pos
        while pos < end and value[pos] in " \t":
            pos += 1
        if pos < end and value[pos] == '"':
            pos += 1
            pieces = []
            while pos < end:
                match = _QUOTED_RUN.match(value, pos)
                pieces.append(match.group())
                pos = match.end()
                if pos >= end:
                    break  # unterminated: keep what was there
                if value[pos] == '"':
                    pos += 1
                    break
                pieces.append(value[pos + 1:pos + 2])  # quoted-pair: the octet after "\"
                pos += 2
            param = "".join(pieces)
            nxt = value.find(";", pos)  # skip junk between the closing quote and ";"
            stop = end if nxt < 0 else nxt
        else:
            nxt = value.find(";", pos)
            stop = end if nxt < 0 else nxt
            param = value[pos:stop].strip(" \t")
        if raw is not None:
            raw.append((raw_name, value[start:stop], param))
        pos = stop + 1
        name = raw_name.strip(" \t").lower()
        if not _TOKEN.fullmatch(name):
            continue
        if name.endswith("*"):
            decoded = _decode_ext_value(param)
            if decoded is not None:
                extended.setdefault(name[:-1], decoded)
        else:
            params.setdefault(name, param)
    # RFC 6266 §4.3: when both forms are present, the extended one is preferred.
    params.update(extended)
    return params


def parse_options_header(value: str) -> Tuple[str, Dict[str, str]]:
    """Split ``type/subtype; k=v; k2="q"`` into (lower-cased type, {lower-cased key: value}).

    Never raises: junk gives ``("", {})`` or the best partial result. Quoted strings are
    unquoted (RFC 9110 §5.6.4); ``key*=UTF-8''...`` (RFC 8187) is decoded and wins over
    ``key``; of repeated keys the first is kept. Runs in linear time.

    Example::

        parse_options_header('multipart/form-data; boundary="a b"')
        # ('multipart/form-data', {'boundary': 'a b'})
    """
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str):
        return "", {}
    semi = value.find(";")
    head = (value if semi < 0 else value[:semi]).strip(" \t").lower()
    media_type = head if _MEDIA_TYPE.fullmatch(head) else ""
    if semi < 0:
        return media_type, {}
    return media_type, _parameters(value, semi + 1)


def _check_boundary(boundary: Union[bytes, str]) -> bytes:
    text = boundary.decode("latin-1") if isinstance(boundary, (bytes, bytearray)) else boundary
    if not text:
        raise MultipartError("multipart: boundary is empty")
    if len(text) > MAX_BOUNDARY_LENGTH:
        raise MultipartError("multipart: boundary is longer than %d characters (RFC 2046)"
                             % MAX_BOUNDARY_LENGTH)
    bad = _NOT_BCHAR.search(text)
    if bad is not None:
        raise MultipartError("multipart: boundary contains %r, which RFC 2046 bchars does not allow"
                             % bad.group())
    # The grammar ends in bcharsnospace: a space before the line's CRLF is transport padding.
    if text[-1] == " ":
        raise MultipartError("multipart: boundary ends in a space (RFC 2046 §5.1.1)")
    return text.encode("ascii")


_MALFORMED_BOUNDARY = ('multipart: malformed boundary parameter (expected boundary=token or '
                       'boundary="..." without backslashes, RFC 9110 §5.6.6)')


def _is_boundary_name(name: str) -> bool:
    return name == "boundary" or name.startswith("boundary*")


def get_boundary(content_type: str) -> bytes:
    """The checked ``boundary`` parameter of a Content-Type value; MultipartError(400) otherwise.

    Only a value that every reader splits the same way is taken: exactly one ``boundary``
    parameter (in any case), written ``boundary=token`` or ``boundary="..."`` with no
    backslash, of RFC 2046 bchars, 1 to 70 long, not ending in a space. RFC 2231 forms
    (``boundary*=``) are refused.

    Example::

        get_boundary("multipart/form-data; boundary=xyz")  # b'xyz'
    """
    if isinstance(content_type, (bytes, bytearray)):
        content_type = bytes(content_type).decode("latin-1")
    semi = content_type.find(";") if isinstance(content_type, str) else -1
    written = []  # type: List[Tuple[str, Optional[str], str]]
    if semi >= 0:
        _parameters(content_type, semi + 1, written)
    found = [param for param in written if _is_boundary_name(param[0].strip(" \t").lower())]
    if not found:
        raise MultipartError("multipart: Content-Type has no boundary parameter")
    if any(raw_name.strip(" \t").lower() != "boundary" for raw_name, _, _ in found):
        # A boundary is ASCII already, and readers disagree on whether boundary* beats boundary
        # (covet's parse_options_header prefers it, RFC 6266 §4.3; Python's email package does not).
        raise MultipartError("multipart: boundary parameter in RFC 2231 form (boundary*) is not accepted")
    # Counted again as a reader that splits on every ";" sees it, quoted or not: a boundary
    # hidden in another parameter's quoted value must not be taken by a proxy and ignored here.
    naive = sum(_is_boundary_name(piece.partition("=")[0].strip(" \t").lower())
                for piece in content_type[semi + 1:].split(";"))
    if len(found) > 1 or naive > 1:
        raise MultipartError("multipart: Content-Type has more than one boundary parameter")
    raw_name, raw_value, boundary = found[0]
    # RFC 9110 §5.6.6: no whitespace around "=", and the value is a token or a quoted-string.
    if raw_value is None or raw_name[-1:] in (" ", "\t") or raw_value[:1] in (" ", "\t"):
        raise MultipartError(_MALFORMED_BOUNDARY)
    if not _EXACT_BOUNDARY_VALUE.fullmatch(raw_value.rstrip(" \t")):
        if raw_value[:1] != '"':
            # RFC 2045 §5.1: tspecials (space, "=", "/", ":", "?", "(", ")", ",") only when quoted.
            raise MultipartError("multipart: unquoted boundary must be a token; quote it (RFC 2045 §5.1)")
        raise MultipartError(_MALFORMED_BOUNDARY)
    return _check_boundary(boundary)


class _Event:
    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.__slots__))


class PartBegin(_Event):
    """A part's headers are complete; ``filename`` is None for a plain field."""

    __slots__ = ("name", "filename", "content_type", "headers")

    def __init__(self, name: str, filename: Optional[str], content_type: Optional[str],
                 headers: List[Tuple[str, str]]) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.headers = headers


class PartData(_Event):
    """A piece of the current part's body (any split: join consecutive pieces)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class PartEnd(_Event):
    """The current part's body is complete."""

    __slots__ = ()


class Finished(_Event):
    """The closing boundary was read; what follows is epilogue and is ignored."""

    __slots__ = ()


Event = Union[PartBegin, PartData, PartEnd, Finished]
_PREAMBLE, _AFTER_BOUNDARY, _HEADERS, _BODY, _DONE = range(5)


class MultipartParser:
    """Sans-IO multipart/form-data parser: ``feed(bytes)`` and ``close()`` return events.

    Memory is bounded by the limits plus one delimiter of look-behind; every limit
    raises ``MultipartError(413)`` as soon as it is crossed.

    Example::

        parser = MultipartParser(b"xyz")
        events = parser.feed(body) + parser.close()
    """

    __slots__ = ("_delim", "_limits", "_state", "_buf", "_scan", "_parts", "_header_bytes",
                 "_headers", "_padded", "_is_file", "_size", "_error")

    def __init__(self, boundary: Union[bytes, str], limits: Optional[MultipartLimits] = None) -> None:
        # RFC 2046 §5.1.1: the delimiter is CRLF "--" boundary; the CRLF belongs to it,
        # not to the part. A virtual CRLF lets the first boundary open the body.
        self._delim = b"\r\n--" + _check_boundary(boundary)
        self._limits = limits or DEFAULT_LIMITS
        self._state, self._buf = _PREAMBLE, bytearray(b"\r\n")
        self._scan = self._parts = self._header_bytes = self._size = 0
        self._headers = []  # type: List[Tuple[str, str]]
        self._padded = self._is_file = False
        self._error = None  # type: Optional[MultipartError]

    def feed(self, data: bytes) -> List[Event]:
        """Consume ``data``; return the events it completes. Raises MultipartError."""
        if self._error is not None:
            raise self._error
        if self._state == _DONE:
            return []
        self._buf += data
        events = []  # type: List[Event]
        step = (self._delimited, self._after_boundary, self._header_lines, self._delimited)
        try:
            while self._state != _DONE and step[self._state](events):
                pass
        except MultipartError as exc:
            self._error, self._buf = exc, bytearray()
            raise
        return events

    def close(self) -> List[Event]:
        """Signal the end of the body; MultipartError(400) unless the closing boundary came."""
        if self._error is None and self._state != _DONE:
            self._error = MultipartError("multipart: body ended before the closing boundary")
        if self._error is not None:
            raise self._error
        return []

    def _delimited(self, events: List[Event]) -> bool:
        # werkzeug CVE-2023-46136: keep only len(delimiter)-1 bytes of look-behind, so no byte
        # is scanned more than that many times whatever the CR/LF layout of the data.
        buf, delim, in_body = self._buf, self._delim, self._state == _BODY
        found = buf.find(delim)
        cut = found if found >= 0 else len(buf) - len(delim) + 1
        if cut > 0:
            if in_body:
                self._emit(events, cut)
            else:
                del buf[:cut]  # preamble (RFC 2046: to be ignored)
        if found < 0:
            return False
        del buf[:len(delim)]
        if in_body:
            events.append(PartEnd())
        self._state, self._padded, self._header_bytes = _AFTER_BOUNDARY, False, 0
        return True

    def _emit(self, events: List[Event], count: int) -> None:
        self._size += count
        limits = self._limits
        if self._is_file and self._size > limits.max_file_size:
            raise _too_large("file part", "max_file_size", limits.max_file_size)
        if not self._is_file and self._size > limits.max_field_size:
            raise _too_large("field part", "max_field_size", limits.max_field_size)
        with memoryview(self._buf) as view:
            data = view[:count].tobytes()
        del self._buf[:count]
        events.append(PartData(data))

    def _count_header_bytes(self, count: int) -> None:
        self._header_bytes += count
        if self._header_bytes > self._limits.max_part_header_size:
            raise _too_large("part header section", "max_part_header_size",
                             self._limits.max_part_header_size)

    def _after_boundary(self, events: List[Event]) -> bool:
        buf = self._buf
        if not self._padded:
            if buf[:2] == b"--":  # close-delimiter; the rest is epilogue
                self._state = _DONE
                self._buf = bytearray()
                events.append(Finished())
                return False
            if buf == b"" or buf == b"-":
                return False
        pad = _PADDING.match(buf).end()
        if pad:
            self._padded = True
            self._count_header_bytes(pad)  # padding is unbounded in the RFC; not here
            del buf[:pad]
        if len(buf) < 2 and buf in (b"", b"\r"):
            return False
        if buf[:2] != b"\r\n":
            raise MultipartError("multipart: expected CRLF after boundary")
        del buf[:2]
        self._parts += 1
        if self._parts > self._limits.max_parts:
            raise _too_large("body", "max_parts", self._limits.max_parts, "parts")
        self._state, self._headers, self._scan = _HEADERS, [], 0
        return True

    def _header_lines(self, events: List[Event]) -> bool:
        buf, limits = self._buf, self._limits
        while True:
            lf = buf.find(b"\n", self._scan)
            if lf < 0:
                self._scan = len(buf)
                if self._header_bytes + len(buf) > limits.max_part_header_size:
                    self._count_header_bytes(len(buf))
                return False
            self._count_header_bytes(lf + 1)
            # RFC 7578 §4.8 / RFC 5322: lines end in CRLF; a bare LF is rejected like
            # waitress CVE-2019-16785 rejects it in HTTP heads.
            if lf == 0 or buf[lf - 1] != 13:
                raise MultipartError("multipart: bare LF in part headers")
            line = bytes(buf[:lf - 1])
            del buf[:lf + 1]
            self._scan = 0
            if not line:
                self._begin_part(events)
                return True
            self._header_line(line)

    def _header_line(self, line: bytes) -> None:
        if b"\r" in line:
            raise MultipartError("multipart: bare CR in part headers")
        if line[:1] in (b" ", b"\t"):
            raise MultipartError("multipart: obsolete line folding in part headers (RFC 9112 §5.2)")
        colon = line.find(b":")
        if colon < 0:
            raise MultipartError("multipart: part header line has no colon")
        name = line[:colon]
        if not _TOKEN_B.fullmatch(name):
            raise MultipartError("multipart: invalid part header name %r" % name.decode("latin-1"))
        raw = line[colon + 1:].strip(b" \t")
        if _BAD_VALUE_BYTE.search(raw):
            raise MultipartError("multipart: control character in part header value")
        try:
            value = raw.decode("utf-8")  # browsers send file names as raw UTF-8
        except UnicodeDecodeError:
            value = raw.decode("latin-1")
        self._headers.append((name.decode("ascii").lower(), value))
        if len(self._headers) > self._limits.max_header_count_per_part:
            raise _too_large("part", "max_header_count_per_part",
                             self._limits.max_header_count_per_part, "headers")

    def _begin_part(self, events: List[Event]) -> None:
        dispositions = [v for k, v in self._headers if k == "content-disposition"]
        if len(dispositions) > 1:
            raise MultipartError("multipart: part has more than one Content-Disposition")
        kind, params = parse_options_header(dispositions[0]) if dispositions else ("", {})
        # RFC 7578 §4.2: each part has Content-Disposition: form-data with a name.
        if kind != "form-data":
            raise MultipartError("multipart: part is missing Content-Disposition: form-data")
        if "name" not in params:
            raise MultipartError("multipart: Content-Disposition has no name parameter")
        content_type = next((v for k, v in self._headers if k == "content-type"), None)
        filename = params.get("filename")
        self._state, self._is_file, self._size = _BODY, filename is not None, 0
        events.append(PartBegin(params["name"], filename, content_type, self._headers))
