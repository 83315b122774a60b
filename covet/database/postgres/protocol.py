"""PostgreSQL's frontend/backend protocol, version 3, sans-IO: :class:`BackendParser` turns the
server's bytes into the messages of :mod:`covet.database.postgres.messages`, and the encoders of
:mod:`covet.database.postgres.frontend` turn requests into bytes; both modules' names are
re-exported here, so ``protocol.bind(...)`` and ``protocol.DataRow`` are the one import a
connection needs. No sockets,
no asyncio: the connection moves the bytes
(https://www.postgresql.org/docs/current/protocol-message-formats.html).

Every limit on what the server sends is named below with its reason; a message that breaks one,
or is malformed in any way, raises :class:`~covet.database.postgres.errors.ProtocolError`, and the
parser refuses all further input: the connection must be closed.

Example::

    out = parse("", "SELECT $1::int", [23]) + bind("", "", [0], [b"7"], [0]) + execute("") + SYNC
    p = BackendParser()
    p.feed(b"1\\x00\\x00\\x00\\x042\\x00\\x00\\x00\\x04")
    assert list(p) == [ParseComplete(), BindComplete()] and p.next_message() is None
"""
import struct
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

from .errors import ProtocolError
from .frontend import (
    COPY_DONE, FLUSH, MAX_FRONTEND_MESSAGE_LEN, MAX_SECRET_KEY_LEN, MAX_STARTUP_PACKET_LEN, PROTOCOL_VERSION,
    SSL_REQUEST, SYNC, TERMINATE, bind, cancel_request, close, copy_data, copy_fail, describe, execute,
    md5_password, parse, password_message, query, read_ssl_response, sasl_initial_response, sasl_response,
    startup_message,
)
from .messages import (
    AuthenticationCleartextPassword, AuthenticationMD5Password, AuthenticationOk, AuthenticationSASL,
    AuthenticationSASLContinue, AuthenticationSASLFinal, BackendKeyData, BackendMessage, BindComplete,
    CloseComplete, CommandComplete, CopyBothResponse, CopyData, CopyDone, CopyInResponse, CopyOutResponse,
    DataRow, EmptyQueryResponse, ErrorResponse, Field, NegotiateProtocolVersion, NoData, NoticeResponse,
    NotificationResponse, ParameterDescription, ParameterStatus, ParseComplete, PortalSuspended, ReadyForQuery,
    RowDescription,
)

__all__ = [
    "BackendParser", "DEFAULT_MAX_MESSAGE_LEN", "MAX_SHORT_MESSAGE_LEN",
    # re-exported from .frontend
    "startup_message", "cancel_request", "password_message", "sasl_initial_response", "sasl_response",
    "query", "parse", "bind", "describe", "execute", "close", "copy_data", "copy_fail",
    "md5_password", "read_ssl_response", "SSL_REQUEST", "SYNC", "FLUSH", "TERMINATE", "COPY_DONE",
    "PROTOCOL_VERSION", "MAX_FRONTEND_MESSAGE_LEN", "MAX_STARTUP_PACKET_LEN", "MAX_SECRET_KEY_LEN",
    # re-exported from .messages
    "BackendMessage", "AuthenticationOk", "AuthenticationCleartextPassword", "AuthenticationMD5Password",
    "AuthenticationSASL", "AuthenticationSASLContinue", "AuthenticationSASLFinal", "ParameterStatus",
    "BackendKeyData", "ReadyForQuery", "Field", "RowDescription", "DataRow", "CommandComplete",
    "EmptyQueryResponse", "ErrorResponse", "NoticeResponse", "ParseComplete", "BindComplete", "CloseComplete",
    "NoData", "ParameterDescription", "PortalSuspended", "CopyInResponse", "CopyOutResponse",
    "CopyBothResponse", "CopyData", "CopyDone", "NotificationResponse", "NegotiateProtocolVersion",
]

# The longest message accepted from the server, its length field included. PostgreSQL builds
# every message body in a StringInfo, which cannot grow past MaxAllocSize (1 GB - 1,
# src/include/utils/memutils.h), so no server sends more; a longer length field is a broken or
# hostile server and is refused from its 5-byte header, before any of the body is buffered.
# A caller that knows its rows are small may lower it (BackendParser(max_message_len=...)).
DEFAULT_MAX_MESSAGE_LEN = 0x3FFFFFFF + 4
# libpq's rule (fe-protocol3.c, pqParseInput3): "Large lengths should only be believed for a few
# message types". Only rows and their descriptions, COPY data, errors, notices, notifications and
# parameter descriptions (65535 parameters take 262 KB; libpq forks add 't' too) can be long; a
# ReadyForQuery or an authentication request of 31 KB is a stream out of sync.
MAX_SHORT_MESSAGE_LEN = 30000
_LONG_TYPES = frozenset(b"TDdENAt")

_U16 = struct.Struct("!H")
_I32 = struct.Struct("!i")
_HEADER = struct.Struct("!Bi")
_FIELD = struct.Struct("!IhIhih")  # RowDescription, after each name
_INT32_MAX = 2 ** 31 - 1

# --- backend messages -------------------------------------------------------------------------

# The messages without fields: one shared instance each.
_AUTHENTICATION_OK = AuthenticationOk()
_AUTHENTICATION_CLEARTEXT_PASSWORD = AuthenticationCleartextPassword()


class _Malformed(Exception):
    """A message whose content contradicts its format; BackendParser names the message."""


def _string(data: bytes, pos: int, end: int, what: str) -> Tuple[str, int]:
    nul = data.find(b"\x00", pos, end)
    if nul < 0:
        raise _Malformed("%s is not terminated by a NUL within the message" % what)
    try:
        return data[pos:nul].decode("utf-8"), nul + 1
    except UnicodeDecodeError:
        raise _Malformed("%s is not valid UTF-8" % what) from None


def _exactly(pos: int, end: int) -> None:
    if pos != end:
        raise _Malformed("%d bytes left over at its end" % (end - pos))


def _empty(message: BackendMessage) -> Callable[[bytes, int, int], BackendMessage]:
    def decode(data: bytes, pos: int, end: int) -> BackendMessage:
        _exactly(pos, end)
        return message
    return decode


# Authentication request codes covet does not speak, by the name pg_hba.conf gives them.
_UNSUPPORTED_AUTH = {2: "Kerberos V5", 6: "SCM credential", 7: "GSSAPI", 8: "GSSAPI", 9: "SSPI"}


def _authentication(data: bytes, pos: int, end: int) -> BackendMessage:
    if end - pos < 4:
        raise _Malformed("no request code")
    (code,) = _I32.unpack_from(data, pos)
    pos += 4
    if code == 0:
        _exactly(pos, end)
        return _AUTHENTICATION_OK
    if code == 10:
        mechanisms = []
        while True:
            name, pos = _string(data, pos, end, "a SASL mechanism name")
            if not name:
                break
            mechanisms.append(name)
        _exactly(pos, end)
        if not mechanisms:
            raise _Malformed("an empty list of SASL mechanisms")
        return AuthenticationSASL(tuple(mechanisms))
    if code == 11:
        return AuthenticationSASLContinue(data[pos:end])
    if code == 12:
        return AuthenticationSASLFinal(data[pos:end])
    if code == 5:
        if end - pos != 4:
            raise _Malformed("an md5 salt of %d bytes, not 4" % (end - pos))
        return AuthenticationMD5Password(data[pos:end])
    if code == 3:
        _exactly(pos, end)
        return _AUTHENTICATION_CLEARTEXT_PASSWORD
    if code in _UNSUPPORTED_AUTH:
        raise ProtocolError("the server asks for %s authentication, which covet does not speak; allow "
                            "scram-sha-256 (or md5, password, trust) for this user in pg_hba.conf"
                            % _UNSUPPORTED_AUTH[code])
    raise _Malformed("unknown authentication request code %d" % code)


def _parameter_status(data: bytes, pos: int, end: int) -> BackendMessage:
    name, pos = _string(data, pos, end, "the parameter name")
    value, pos = _string(data, pos, end, "the parameter value")
    _exactly(pos, end)
    return ParameterStatus(name, value)


def _backend_key_data(data: bytes, pos: int, end: int) -> BackendMessage:
    if not 8 <= end - pos <= 4 + MAX_SECRET_KEY_LEN:
        raise _Malformed("%d bytes, not a process id and a 4- to %d-byte key" % (end - pos, MAX_SECRET_KEY_LEN))
    return BackendKeyData(_I32.unpack_from(data, pos)[0], data[pos + 4:end])


_STATUSES = {73: "I", 84: "T", 69: "E"}


def _ready_for_query(data: bytes, pos: int, end: int) -> BackendMessage:
    if end - pos != 1 or data[pos] not in _STATUSES:
        raise _Malformed("transaction status %r is not I, T or E" % (data[pos:end][:8],))
    return ReadyForQuery(_STATUSES[data[pos]])


def _row_description(data: bytes, pos: int, end: int) -> BackendMessage:
    if end - pos < 2:
        raise _Malformed("no field count")
    (count,) = _U16.unpack_from(data, pos)
    pos += 2
    # Each field takes at least 19 bytes (an empty name's NUL, then 18): a count that cannot fit
    # is refused before anything is built for it.
    if count * 19 > end - pos:
        raise _Malformed("%d fields cannot fit in %d bytes" % (count, end - pos))
    fields = []
    for _ in range(count):
        name, pos = _string(data, pos, end, "a field name")
        if end - pos < 18:
            raise _Malformed("field %r is cut short" % name)
        table_oid, column, type_oid, size, modifier, fmt = _FIELD.unpack_from(data, pos)
        pos += 18
        if fmt != 0 and fmt != 1:
            raise _Malformed("field %r has format code %d, not 0 or 1" % (name, fmt))
        fields.append(Field(name, table_oid, column, type_oid, size, modifier, fmt))
    _exactly(pos, end)
    return RowDescription(tuple(fields))


def _data_row(data: bytes, pos: int, end: int) -> BackendMessage:
    return DataRow(_row_values(data, pos, end))


def _row_values(data: bytes, pos: int, end: int) -> List[Optional[bytes]]:
    if end - pos < 2:
        raise _Malformed("no column count")
    count = data[pos] << 8 | data[pos + 1]
    pos += 2
    # Each column takes at least its 4-byte length: refuse a count that cannot fit up front.
    if count * 4 > end - pos:
        raise _Malformed("%d columns cannot fit in %d bytes" % (count, end - pos))
    first = pos
    values: List[Optional[bytes]] = [None] * count
    unpack = _I32.unpack_from
    # PERF: the hot loop checks the message's end once, after the last column (about 12% faster
    # than checking each column). A malformed row can make it read past its message, never past
    # the received data (struct.error; slices stop there), and _data_row_fault then walks the row
    # again with every check to name the fault.
    try:
        for index in range(count):
            size = unpack(data, pos)[0]
            pos += 4
            if size >= 0:
                stop = pos + size
                values[index] = data[pos:stop]
                pos = stop
            elif size != -1:
                break
        else:
            if pos == end:
                return values
    except struct.error:
        pass
    raise _Malformed(_data_row_fault(data, first, end, count))


def _data_row_fault(data: bytes, pos: int, end: int, count: int) -> str:
    for index in range(count):
        if pos + 4 > end:
            return "column %d is cut short" % index
        (size,) = _I32.unpack_from(data, pos)
        pos += 4
        if size < -1:
            return "column %d has length %d" % (index, size)
        if size > end - pos:
            return "column %d's %d bytes run past the message's end" % (index, size)
        pos += max(size, 0)
    return "%d bytes left over at its end" % (end - pos)


def _command_complete(data: bytes, pos: int, end: int) -> BackendMessage:
    tag, pos = _string(data, pos, end, "the command tag")
    _exactly(pos, end)
    return CommandComplete(tag)


def _response_fields(data: bytes, pos: int, end: int) -> Dict[str, str]:
    fields = {}
    while True:
        if pos >= end:
            raise _Malformed("its fields are not terminated by a zero byte")
        code = data[pos]
        pos += 1
        if code == 0:
            _exactly(pos, end)
            return fields
        nul = data.find(b"\x00", pos, end)
        if nul < 0:
            raise _Malformed("field %r is not terminated by a NUL within the message" % chr(code))
        # "replace": errors at startup may come in the server's own encoding, before
        # client_encoding applies; an error's text must never make things worse.
        fields[chr(code)] = data[pos:nul].decode("utf-8", "replace")
        pos = nul + 1


def _error_response(data: bytes, pos: int, end: int) -> BackendMessage:
    return ErrorResponse(_response_fields(data, pos, end))


def _notice_response(data: bytes, pos: int, end: int) -> BackendMessage:
    return NoticeResponse(_response_fields(data, pos, end))


def _parameter_description(data: bytes, pos: int, end: int) -> BackendMessage:
    if end - pos < 2:
        raise _Malformed("no parameter count")
    (count,) = _U16.unpack_from(data, pos)
    if end - pos != 2 + 4 * count:
        raise _Malformed("%d parameter types in %d bytes" % (count, end - pos - 2))
    return ParameterDescription(struct.unpack_from("!%dI" % count, data, pos + 2))


def _copy_formats(data: bytes, pos: int, end: int) -> Tuple[int, Tuple[int, ...]]:
    if end - pos < 3:
        raise _Malformed("no format and column count")
    overall = data[pos]
    (count,) = _U16.unpack_from(data, pos + 1)
    if end - pos != 3 + 2 * count:
        raise _Malformed("%d column formats in %d bytes" % (count, end - pos - 3))
    formats = struct.unpack_from("!%dh" % count, data, pos + 3)
    if overall > 1 or any(f != 0 and f != 1 for f in formats):
        raise _Malformed("format codes must be 0 or 1")
    return overall, formats


def _copy_in(data: bytes, pos: int, end: int) -> BackendMessage:
    return CopyInResponse(*_copy_formats(data, pos, end))


def _copy_out(data: bytes, pos: int, end: int) -> BackendMessage:
    return CopyOutResponse(*_copy_formats(data, pos, end))


def _copy_both(data: bytes, pos: int, end: int) -> BackendMessage:
    return CopyBothResponse(*_copy_formats(data, pos, end))


def _copy_data(data: bytes, pos: int, end: int) -> BackendMessage:
    return CopyData(data[pos:end])


def _notification(data: bytes, pos: int, end: int) -> BackendMessage:
    if end - pos < 4:
        raise _Malformed("no process id")
    (pid,) = _I32.unpack_from(data, pos)
    channel, pos = _string(data, pos + 4, end, "the channel name")
    payload, pos = _string(data, pos, end, "the payload")
    _exactly(pos, end)
    return NotificationResponse(pid, channel, payload)


def _negotiate_protocol_version(data: bytes, pos: int, end: int) -> BackendMessage:
    if end - pos < 8:
        raise _Malformed("no version and option count")
    newest, count = struct.unpack_from("!ii", data, pos)
    pos += 8
    if count < 0 or count > end - pos:
        raise _Malformed("%d option names cannot fit in %d bytes" % (count, end - pos))
    names = []
    for _ in range(count):
        name, pos = _string(data, pos, end, "an option name")
        names.append(name)
    _exactly(pos, end)
    return NegotiateProtocolVersion(newest, tuple(names))


_Decoder = Callable[[bytes, int, int], BackendMessage]

# Message type byte -> (name for errors, decoder).
_DECODERS: Dict[int, Tuple[str, _Decoder]] = {
    ord("R"): ("Authentication", _authentication),
    ord("S"): ("ParameterStatus", _parameter_status),
    ord("K"): ("BackendKeyData", _backend_key_data),
    ord("Z"): ("ReadyForQuery", _ready_for_query),
    ord("T"): ("RowDescription", _row_description),
    ord("D"): ("DataRow", _data_row),
    ord("C"): ("CommandComplete", _command_complete),
    ord("I"): ("EmptyQueryResponse", _empty(EmptyQueryResponse())),
    ord("E"): ("ErrorResponse", _error_response),
    ord("N"): ("NoticeResponse", _notice_response),
    ord("1"): ("ParseComplete", _empty(ParseComplete())),
    ord("2"): ("BindComplete", _empty(BindComplete())),
    ord("3"): ("CloseComplete", _empty(CloseComplete())),
    ord("n"): ("NoData", _empty(NoData())),
    ord("t"): ("ParameterDescription", _parameter_description),
    ord("s"): ("PortalSuspended", _empty(PortalSuspended())),
    ord("G"): ("CopyInResponse", _copy_in),
    ord("H"): ("CopyOutResponse", _copy_out),
    ord("W"): ("CopyBothResponse", _copy_both),
    ord("d"): ("CopyData", _copy_data),
    ord("c"): ("CopyDone", _empty(CopyDone())),
    ord("A"): ("NotificationResponse", _notification),
    ord("v"): ("NegotiateProtocolVersion", _negotiate_protocol_version),
}


class BackendParser:
    """Sans-IO reader of the server's messages: ``feed(bytes)``, then ``next_message()`` until it
    returns ``None`` (or iterate: ``for msg in parser``, which stops when no complete message is
    buffered and may be resumed after the next ``feed``).

    :param max_message_len: the longest message accepted, its length field included (default
        ``DEFAULT_MAX_MESSAGE_LEN``, 1 GiB, the most a PostgreSQL server can send).

    A malformed message, an unknown type byte, or a length below 4, above ``max_message_len``,
    or above ``MAX_SHORT_MESSAGE_LEN`` for a type that is never long, raises ``ProtocolError``
    (a length as soon as its 5-byte header is in); from then on the parser refuses everything.

    Example::

        p = BackendParser()
        p.feed(b"Z\\x00\\x00\\x00\\x05I")
        assert p.next_message() == ReadyForQuery("I") and p.next_message() is None
    """

    __slots__ = ("_data", "_pos", "_more", "_failed", "max_message_len")

    def __init__(self, max_message_len: int = DEFAULT_MAX_MESSAGE_LEN) -> None:
        if isinstance(max_message_len, bool) or not isinstance(max_message_len, int) \
                or not 5 <= max_message_len <= _INT32_MAX:
            raise ValueError("max_message_len must be an int from 5 to %d, not %r" % (_INT32_MAX, max_message_len))
        self.max_message_len = max_message_len
        # Bytes are parsed from an immutable snapshot, ``_data`` from ``_pos``, so each value is
        # one slice (one copy); bytes fed later wait in ``_more`` and join the snapshot only once
        # a whole message is there, so a large message arriving in many pieces is copied once.
        self._data = b""
        self._pos = 0
        self._more = bytearray()
        self._failed: Optional[str] = None

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Append bytes received from the server."""
        if self._failed is not None:
            raise ProtocolError(self._failed)
        if type(data) is bytes and not self._more and self._pos >= len(self._data):
            # PERF: nothing pending, so the chunk itself becomes the snapshot, uncopied.
            self._data = data
            self._pos = 0
        else:
            self._more += data

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as part of a message."""
        return len(self._data) - self._pos + len(self._more)

    def _fail(self, message: str) -> ProtocolError:
        self._failed = message
        self._data = b""
        self._pos = 0
        self._more = bytearray()
        return ProtocolError(message)

    def next_message(self) -> Optional[BackendMessage]:
        """The next complete message, or ``None`` when the buffer holds none."""
        if self._failed is not None:
            raise ProtocolError(self._failed)
        while True:
            data = self._data
            pos = self._pos
            available = len(data) - pos
            if available >= 5:
                kind, length = _HEADER.unpack_from(data, pos)
                entry = _DECODERS.get(kind)
                if entry is None:
                    raise self._fail("unknown message type %r" % (bytes((kind,)),))
                if length < 4:
                    raise self._fail("%s message with length %d (at least 4: the length counts itself)"
                                     % (entry[0], length))
                if length > self.max_message_len:
                    raise self._fail("%s message of %d bytes exceeds max_message_len=%d"
                                     % (entry[0], length, self.max_message_len))
                if length > MAX_SHORT_MESSAGE_LEN and kind not in _LONG_TYPES:
                    raise self._fail("%s message of %d bytes: only rows, COPY data, errors, notices and "
                                     "notifications may exceed %d" % (entry[0], length, MAX_SHORT_MESSAGE_LEN))
                end = pos + 1 + length
                if end <= len(data):
                    self._pos = end
                    try:
                        return entry[1](data, pos + 5, end)
                    except _Malformed as exc:
                        raise self._fail("malformed %s message: %s" % (entry[0], exc)) from None
                    except ProtocolError as exc:
                        raise self._fail(str(exc)) from None
                needed = 1 + length
            else:
                needed = 5
            more = self._more
            if available + len(more) < needed:
                if available == 0 and not more:
                    self._data = b""  # let a consumed chunk go
                    self._pos = 0
                return None
            self._data = data[pos:] + more
            self._pos = 0
            self._more = bytearray()

    def data_rows(self) -> List[List[Optional[bytes]]]:
        """The values of the complete DataRow messages at the head of the buffer, in order, as
        ``next_message`` would return them one by one (``DataRow.values``), with the same checks;
        empty when the next message is not a complete DataRow. PERF: a 1,000-row reply is
        parsed in one call, with no message object per row.

        Example::

            p = BackendParser()
            p.feed(b"D\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x017Z\x00\x00\x00\x05I")
            assert p.data_rows() == [[b"7"]] and p.next_message() == ReadyForQuery("I")
        """
        if self._failed is not None:
            raise ProtocolError(self._failed)
        rows: List[List[Optional[bytes]]] = []
        data = self._data
        pos = self._pos
        size = len(data)
        limit = self.max_message_len
        unpack = _HEADER.unpack_from
        append = rows.append
        while size - pos >= 5:
            kind, length = unpack(data, pos)
            if kind != 68 or length < 4 or length > limit:  # not a DataRow ("D"), or next_message's to refuse
                break
            end = pos + 1 + length
            if end > size:
                break  # incomplete, or continued in bytes fed since: next_message joins them
            try:
                append(_row_values(data, pos + 5, end))
            except _Malformed as exc:
                raise self._fail("malformed DataRow message: %s" % exc) from None
            pos = end
        self._pos = pos
        return rows

    def __iter__(self) -> Iterator[BackendMessage]:
        """The complete messages buffered now, in order."""
        while True:
            message = self.next_message()
            if message is None:
                return
            yield message
