"""RESP2, sans-IO: ``RespParser`` turns bytes from the server into replies, ``pack_command`` turns
arguments into the bytes of one command. No sockets, no asyncio; the connection moves the bytes.

Replies: simple strings are ``str`` ("OK", "PONG"), bulk strings ``bytes`` (``None`` for a nil
bulk), integers ``int``, arrays ``list`` (``None`` for a nil array), and an error reply is a
``ReplyError`` instance (returned, not raised: the caller decides).

Every limit is named below with its reason, so a hostile or broken server cannot make the parser
allocate without bound.

Example::

    assert pack_command("GET", "k") == b"*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n"
    p = RespParser()
    p.feed(b"$5\\r\\nhello\\r\\n")
    assert p.gets() == b"hello" and p.gets() is NEED_DATA
"""
import re
from typing import Any, List, Optional

from ._checks import positive_int
from .errors import ProtocolError, ReplyError

__all__ = [
    "RespParser",
    "pack_command",
    "NEED_DATA",
    "DEFAULT_MAX_BULK_LEN",
    "DEFAULT_MAX_ARRAY_LEN",
    "DEFAULT_MAX_REPLY_ELEMENTS",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINE",
]

# Redis's own `proto-max-bulk-len` default: no legitimate reply carries a
# larger bulk string, so a longer length header is a broken or hostile server.
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
# hiredis's REDIS_READER_MAX_ARRAY_ELEMENTS (its fix for CVE-2021-32765). The
# parser never preallocates an array; the bound only stops absurd headers early.
DEFAULT_MAX_ARRAY_LEN = 2 ** 32 - 1
# Elements of one reply, nested ones included (the sum of its array headers).
# Memory does not follow the bytes received: `*0\r\n` is 4 bytes on the wire and
# a 56-byte list plus an 8-byte slot in its parent, so per-array bounds alone let
# one reply of millions of empty arrays grow memory 16 times faster than the
# bytes arrive. 500,000 keeps one reply to about 32 MB of objects (error
# elements, the costliest, about 85 MB); SCAN and MGET pages are far smaller.
# A header that would cross it is refused before its elements arrive.
DEFAULT_MAX_REPLY_ELEMENTS = 500_000
# Nesting of arrays in one reply. Real replies (XREAD, EVAL tables) stay well
# under 10 levels.
DEFAULT_MAX_DEPTH = 32
# Longest status, error or integer line. A server that sends a line without
# CRLF cannot grow our buffer past this.
DEFAULT_MAX_LINE = 64 * 1024


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by ``RespParser.gets()`` when the buffer holds no complete reply.
NEED_DATA = _NeedData()

# RESP2 wire numbers are matched before int() sees them (no "+1", " 1",
# "1_0", Unicode digits or 4,300-digit strings: CVE-2020-10735).
_INT_RE = re.compile(rb"0|-?[1-9][0-9]{0,18}")
_LEN_RE = re.compile(rb"-1|0|[1-9][0-9]{0,18}")
_INT64_MIN = -(2 ** 63)
_INT64_MAX = 2 ** 63 - 1

_PLUS, _MINUS, _COLON, _DOLLAR, _STAR = 43, 45, 58, 36, 42


class RespParser:
    """Sans-IO RESP2 reply reader: ``feed(bytes)``, then ``gets()`` until it returns ``NEED_DATA``.

    :param max_bulk_len: longest bulk string accepted (default 512 MB, Redis's proto-max-bulk-len).
    :param max_array_len: most elements one array header may announce.
    :param max_reply_elements: most elements in one reply, nested arrays' included.
    :param max_depth: deepest nesting of arrays.
    :param max_line: longest simple-string, error or integer line.

    A violation raises ``ProtocolError`` and the parser refuses further input.

    Example::

        p = RespParser()
        p.feed(b"+OK\\r\\n$3\\r\\nabc\\r\\n")
        assert p.gets() == "OK" and p.gets() == b"abc" and p.gets() is NEED_DATA
    """

    __slots__ = ("_buf", "_pos", "_stack", "_bulk", "_failed", "_elements", "max_bulk_len", "max_array_len",
                 "max_reply_elements", "max_depth", "max_line")

    def __init__(
        self,
        max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
        max_array_len: int = DEFAULT_MAX_ARRAY_LEN,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_line: int = DEFAULT_MAX_LINE,
        max_reply_elements: int = DEFAULT_MAX_REPLY_ELEMENTS,
    ) -> None:
        self.max_bulk_len = positive_int("max_bulk_len", max_bulk_len)
        self.max_array_len = positive_int("max_array_len", max_array_len)
        self.max_depth = positive_int("max_depth", max_depth)
        self.max_line = positive_int("max_line", max_line)
        self.max_reply_elements = positive_int("max_reply_elements", max_reply_elements)
        self._buf = bytearray()
        self._pos = 0
        self._stack: List[list] = []  # [items, still expected] per open array
        self._bulk = -1  # body length of a bulk string whose header was read
        self._elements = 0  # elements announced so far by the array headers of the reply being read
        self._failed: Optional[str] = None

    def feed(self, data: bytes) -> None:
        """Append bytes received from the server."""
        if self._failed is not None:
            raise ProtocolError(self._failed)
        if self._pos:
            # bytearray deletes from the front in O(1) amortised time.
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as part of a reply."""
        return len(self._buf) - self._pos

    def _fail(self, message: str) -> ProtocolError:
        self._failed = message
        self._buf = bytearray()
        self._pos = 0
        self._stack = []
        return ProtocolError(message)

    def _number(self, regex: Any, start: int, end: int, what: str) -> int:
        buf = self._buf
        if regex.fullmatch(buf, start, end) is None:
            raise self._fail("invalid %s %r" % (what, bytes(buf[start:end][:40])))
        return int(buf[start:end])

    def gets(self) -> Any:
        """Return the next complete reply, or ``NEED_DATA``."""
        if self._failed is not None:
            raise ProtocolError(self._failed)
        buf = self._buf
        pos = self._pos
        stack = self._stack
        while True:
            if self._bulk >= 0:
                end = pos + self._bulk
                if len(buf) < end + 2:
                    self._pos = pos
                    return NEED_DATA
                if buf[end:end + 2] != b"\r\n":
                    raise self._fail("bulk string not followed by CRLF")
                value: Any = bytes(buf[pos:end])
                pos = end + 2
                self._bulk = -1
            else:
                limit = pos + self.max_line + 3
                eol = buf.find(b"\r\n", pos, limit)
                if eol < 0:
                    if len(buf) >= limit:
                        raise self._fail("reply line longer than max_line=%d bytes" % self.max_line)
                    self._pos = pos
                    return NEED_DATA
                kind = buf[pos]
                start = pos + 1
                pos = eol + 2
                if kind == _PLUS:
                    value = buf[start:eol].decode("utf-8", "replace")
                elif kind == _MINUS:
                    value = ReplyError(buf[start:eol].decode("utf-8", "replace"))
                elif kind == _COLON:
                    value = self._number(_INT_RE, start, eol, "integer reply")
                    if not _INT64_MIN <= value <= _INT64_MAX:
                        raise self._fail("integer reply out of the signed 64-bit range")
                elif kind == _DOLLAR:
                    n = self._number(_LEN_RE, start, eol, "bulk length")
                    if n > self.max_bulk_len:
                        raise self._fail("bulk length %d exceeds max_bulk_len=%d" % (n, self.max_bulk_len))
                    if n >= 0:
                        self._bulk = n
                        continue
                    value = None
                elif kind == _STAR:
                    n = self._number(_LEN_RE, start, eol, "array length")
                    if n > self.max_array_len:
                        raise self._fail("array length %d exceeds max_array_len=%d" % (n, self.max_array_len))
                    if n > 0:
                        self._elements += n
                        if self._elements > self.max_reply_elements:
                            raise self._fail("reply with more than max_reply_elements=%d elements"
                                             % self.max_reply_elements)
                        if len(stack) >= self.max_depth:
                            raise self._fail("arrays nested deeper than max_depth=%d" % self.max_depth)
                        stack.append([[], n])
                        continue
                    value = [] if n == 0 else None
                else:
                    raise self._fail("unknown reply type byte %r" % bytes((kind,)))
            while stack:
                top = stack[-1]
                top[0].append(value)
                top[1] -= 1
                if top[1]:
                    break
                value = top[0]
                stack.pop()
            else:
                self._pos = pos
                self._elements = 0
                return value


def _encode_arg(arg: Any) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8")
    if isinstance(arg, int) and not isinstance(arg, bool):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(arg).encode("ascii")
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    raise TypeError("Redis arguments must be bytes, str, int or float, not %s" % type(arg).__name__)


def pack_command(*args: Any) -> bytes:
    """Encode one command as a RESP array of bulk strings.

    Example::

        assert pack_command("GET", "k") == b"*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n"
    """
    if not args:
        raise ValueError("a Redis command needs at least its name")
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _encode_arg(arg)
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)
