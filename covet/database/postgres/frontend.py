"""The messages a PostgreSQL client sends (protocol version 3), sans-IO: each function returns the
bytes of one message, for the connection to write
(https://www.postgresql.org/docs/current/protocol-message-formats.html). Messages without
arguments are constants: ``SSL_REQUEST``, ``SYNC``, ``FLUSH``, ``TERMINATE``, ``COPY_DONE``.

Strings go out as UTF-8 with a terminating NUL. One that contains a NUL is refused with
:class:`~covet.database.postgres.errors.EncodeError`: the server would end the string there and
read the rest as more of the message, an injection. Counts, lengths and numbers are checked
against their protocol fields the same way, so nothing is silently truncated.

``covet.database.postgres.protocol`` re-exports every name here, next to the parser.

Example::

    out = parse("", "SELECT $1::int", [23]) + bind("", "", [0], [b"7"], [0]) + execute("") + SYNC
    assert query("SELECT 1") == b"Q\\x00\\x00\\x00\\rSELECT 1\\x00"
"""
import hashlib
import struct
from typing import Mapping, Optional, Sequence

from .errors import EncodeError, ProtocolError

__all__ = [
    "startup_message", "cancel_request", "password_message", "sasl_initial_response", "sasl_response",
    "query", "parse", "bind", "describe", "execute", "close", "copy_data", "copy_fail",
    "md5_password", "read_ssl_response",
    "SSL_REQUEST", "SYNC", "FLUSH", "TERMINATE", "COPY_DONE",
    "PROTOCOL_VERSION", "MAX_FRONTEND_MESSAGE_LEN", "MAX_STARTUP_PACKET_LEN", "MAX_SECRET_KEY_LEN",
]

# The server's own limit on what a client sends: PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1,
# src/include/libpq/libpq.h), the length field included. A longer message would be refused,
# after being sent in full.
MAX_FRONTEND_MESSAGE_LEN = (1 << 30) - 2
# MAX_STARTUP_PACKET_LENGTH (src/include/libpq/pqcomm.h): the server refuses a longer one.
MAX_STARTUP_PACKET_LEN = 10000
# Protocol 3.2 (PostgreSQL 18) lets the cancel key grow from 4 bytes to at most 256.
MAX_SECRET_KEY_LEN = 256

#: Protocol 3.0: major 3 in the high 16 bits, minor 0 in the low ones.
PROTOCOL_VERSION = 3 << 16
_SSL_REQUEST_CODE = 80877103  # 1234 << 16 | 5679
_CANCEL_REQUEST_CODE = 80877102  # 1234 << 16 | 5678

_U16 = struct.Struct("!H")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_INT32_MAX = 2 ** 31 - 1

# --- messages ---------------------------------------------------------------------------------

SSL_REQUEST = struct.pack("!ii", 8, _SSL_REQUEST_CODE)
SYNC = b"S\x00\x00\x00\x04"
FLUSH = b"H\x00\x00\x00\x04"
TERMINATE = b"X\x00\x00\x00\x04"
COPY_DONE = b"c\x00\x00\x00\x04"


def _cstring(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodeError("%s is not valid Unicode (it holds a lone surrogate)" % what) from None
    if b"\x00" in data:
        raise EncodeError("%s contains a NUL character: PostgreSQL would end the string there and "
                          "read the rest as more of the message" % what)
    return data + b"\x00"


def _message(kind: bytes, body: bytes) -> bytes:
    size = len(body) + 4
    if size > MAX_FRONTEND_MESSAGE_LEN:
        raise EncodeError("a %d-byte message exceeds the server's limit of %d bytes"
                          % (size, MAX_FRONTEND_MESSAGE_LEN))
    return kind + _I32.pack(size) + body


def _formats(codes: Sequence[int], what: str) -> bytes:
    n = len(codes)
    if n > 0xFFFF:
        raise EncodeError("%d %s do not fit the protocol's 16-bit count" % (n, what))
    for code in codes:
        if code != 0 and code != 1:
            raise EncodeError("%s must be 0 (text) or 1 (binary), not %r" % (what, code))
    return struct.pack("!H%dh" % n, n, *codes)


def startup_message(params: Mapping[str, str], minor_version: int = 0) -> bytes:
    """StartupMessage: protocol 3.``minor_version`` and the session's parameters (``user`` is
    required; ``database``, ``application_name``, ``client_encoding``, ``options``, ...).

    Example::

        startup_message({"user": "app", "database": "shop", "client_encoding": "UTF8"})
    """
    if "user" not in params:
        raise EncodeError("the startup message needs a 'user' parameter")
    if not 0 <= minor_version <= 0xFFFF:
        raise EncodeError("protocol minor version %r out of range" % (minor_version,))
    parts = [_U32.pack(PROTOCOL_VERSION | minor_version)]
    for name, value in params.items():
        if not name:
            raise EncodeError("a startup parameter needs a name")
        parts.append(_cstring(name, "a startup parameter name"))
        parts.append(_cstring(value, "startup parameter %r" % name))
    parts.append(b"\x00")
    body = b"".join(parts)
    if len(body) + 4 > MAX_STARTUP_PACKET_LEN:
        raise EncodeError("the startup message would be %d bytes; the server refuses more than %d"
                          % (len(body) + 4, MAX_STARTUP_PACKET_LEN))
    return _I32.pack(len(body) + 4) + body


def cancel_request(pid: int, secret: bytes) -> bytes:
    """CancelRequest, sent on a new connection, for the session of BackendKeyData ``pid``/``secret``.

    Example::

        cancel_request(4242, b"\\x00\\x01\\x02\\x03")
    """
    if not 4 <= len(secret) <= MAX_SECRET_KEY_LEN:
        raise EncodeError("a cancel key is 4 to %d bytes, not %d" % (MAX_SECRET_KEY_LEN, len(secret)))
    if not -2 ** 31 <= pid <= _INT32_MAX:
        raise EncodeError("process id %r out of the int32 range" % (pid,))
    return struct.pack("!iii", 12 + len(secret), _CANCEL_REQUEST_CODE, pid) + bytes(secret)


def password_message(password: str) -> bytes:
    """PasswordMessage: the password in clear, or ``md5_password(...)``'s hash.

    Example::

        assert password_message("pw") == b"p\\x00\\x00\\x00\\x07pw\\x00"
    """
    return _message(b"p", _cstring(password, "the password"))


def sasl_initial_response(mechanism: str, data: Optional[bytes]) -> bytes:
    """SASLInitialResponse: the chosen mechanism and the client's first message (``None`` for none).

    Example::

        sasl_initial_response(scram.mechanism, scram.client_first_message())
    """
    if data is None:
        return _message(b"p", _cstring(mechanism, "the SASL mechanism") + b"\xff\xff\xff\xff")
    return _message(b"p", _cstring(mechanism, "the SASL mechanism") + _I32.pack(len(data)) + bytes(data))


def sasl_response(data: bytes) -> bytes:
    """SASLResponse: the client's next SASL message (for SCRAM, client-final-message).

    Example::

        sasl_response(scram.client_final_message(challenge.data))
    """
    return _message(b"p", bytes(data))


def query(sql: str) -> bytes:
    """Query: the simple protocol (one or more statements, text results, no parameters).

    Example::

        assert query("SELECT 1") == b"Q\\x00\\x00\\x00\\rSELECT 1\\x00"
    """
    return _message(b"Q", _cstring(sql, "the query"))


def parse(name: str, sql: str, param_oids: Sequence[int] = ()) -> bytes:
    """Parse: prepare ``sql`` as statement ``name`` (``""``: the unnamed one), with the types of
    its ``$n`` parameters (0 lets the server infer one).

    Example::

        parse("stmt1", "SELECT name FROM users WHERE id = $1", [23])   # 23: int4
    """
    n = len(param_oids)
    if n > 0xFFFF:
        raise EncodeError("%d parameters: the protocol allows at most 65535" % n)
    try:
        oids = struct.pack("!H%dI" % n, n, *param_oids)
    except struct.error:
        raise EncodeError("parameter type OIDs must be integers from 0 to 4294967295, not %r"
                          % (list(param_oids),)) from None
    return _message(b"P", _cstring(name, "the statement name") + _cstring(sql, "the query") + oids)


def bind(portal: str, statement: str, param_formats: Sequence[int], values: Sequence[Optional[bytes]],
         result_formats: Sequence[int] = ()) -> bytes:
    """Bind: make portal ``portal`` from prepared ``statement`` with encoded parameter ``values``
    (``None`` is NULL). ``param_formats`` has no code (all text), one for all, or one per value;
    ``result_formats`` likewise for the result columns.

    Example::

        bind("", "stmt1", [1], [b"\\x00\\x00\\x00\\x07", None], [1])
    """
    n = len(values)
    if n > 0xFFFF:
        raise EncodeError("%d parameter values: the protocol allows at most 65535" % n)
    if len(param_formats) not in (0, 1, n):
        raise EncodeError("%d parameter format codes for %d values: give none, one, or one per value"
                          % (len(param_formats), n))
    parts = [_cstring(portal, "the portal name"), _cstring(statement, "the statement name"),
             _formats(param_formats, "parameter format codes"), _U16.pack(n)]
    append = parts.append
    pack = _I32.pack
    for value in values:
        if value is None:
            append(b"\xff\xff\xff\xff")
        else:
            size = len(value)
            if size > _INT32_MAX:
                raise EncodeError("a parameter of %d bytes exceeds the protocol's int32 length" % size)
            append(pack(size))
            append(value)
    append(_formats(result_formats, "result format codes"))
    return _message(b"B", b"".join(parts))


def _target(kind: str, name: str, what: str) -> bytes:
    if kind != "S" and kind != "P":
        raise EncodeError("%s takes 'S' (a statement) or 'P' (a portal), not %r" % (what, kind))
    return kind.encode("ascii") + _cstring(name, "the statement or portal name")


def describe(kind: str, name: str) -> bytes:
    """Describe statement (``"S"``: ParameterDescription, then RowDescription or NoData) or
    portal (``"P"``: RowDescription or NoData) ``name``.

    Example::

        describe("S", "stmt1")
    """
    return _message(b"D", _target(kind, name, "Describe"))


def execute(portal: str, max_rows: int = 0) -> bytes:
    """Execute ``portal``, returning at most ``max_rows`` rows (0: all), then PortalSuspended if more remain.

    Example::

        execute("", 100)   # the unnamed portal, 100 rows at a time
    """
    if not 0 <= max_rows <= _INT32_MAX:
        raise EncodeError("max_rows must be from 0 (no limit) to %d, not %r" % (_INT32_MAX, max_rows))
    return _message(b"E", _cstring(portal, "the portal name") + _I32.pack(max_rows))


def close(kind: str, name: str) -> bytes:
    """Close statement (``"S"``) or portal (``"P"``) ``name``; CloseComplete answers even if it did not exist.

    Example::

        close("S", "stmt1")
    """
    return _message(b"C", _target(kind, name, "Close"))


def copy_data(data: bytes) -> bytes:
    """CopyData: a chunk of COPY FROM STDIN data (any split; rows may span messages).

    Example::

        assert copy_data(b"1\\tx\\n") == b"d\\x00\\x00\\x00\\x081\\tx\\n"
    """
    size = len(data) + 4
    if size > MAX_FRONTEND_MESSAGE_LEN:
        raise EncodeError("a %d-byte CopyData exceeds the server's limit of %d bytes; send smaller chunks"
                          % (size, MAX_FRONTEND_MESSAGE_LEN))
    return b"d" + _I32.pack(size) + bytes(data)


def copy_fail(message: str) -> bytes:
    """CopyFail: abort COPY FROM STDIN; the server answers with an ErrorResponse carrying ``message``.

    Example::

        copy_fail("the upload was cancelled")
    """
    return _message(b"f", _cstring(message, "the CopyFail message"))


def md5_password(user: str, password: str, salt: bytes) -> str:
    """The PasswordMessage text for AuthenticationMD5Password: ``"md5"`` followed by
    ``md5(md5(password + user) + salt)`` in hex (protocol-flow, "AuthenticationMD5Password").

    Example::

        assert md5_password("u", "p", b"\\x01\\x02\\x03\\x04").startswith("md5")
    """
    if len(salt) != 4:
        raise EncodeError("the md5 salt is 4 bytes, not %d" % len(salt))
    inner = hashlib.md5((password + user).encode("utf-8")).hexdigest().encode("ascii")
    return "md5" + hashlib.md5(inner + bytes(salt)).hexdigest()


def read_ssl_response(data: bytes) -> bool:
    """The server's one-byte answer to SSL_REQUEST: ``True`` for ``S`` (start TLS now), ``False``
    for ``N`` (no TLS here). ``data`` is everything received so far, which must be that one byte:
    bytes after it arrived unencrypted and a man in the middle may have put them there
    (CVE-2021-23222), so they are refused. An ErrorResponse instead (a server before 7.0, or not
    PostgreSQL) is refused without showing its text, which no authenticated server sent
    (CVE-2024-10977).

    Example::

        assert read_ssl_response(b"S") is True and read_ssl_response(b"N") is False
    """
    if data[:1] == b"E":
        raise ProtocolError("the server answered SSLRequest with an error message, not 'S' or 'N' "
                            "(a server older than PostgreSQL 7.0, or not PostgreSQL)")
    if data not in (b"S", b"N"):
        if len(data) > 1 and data[:1] in (b"S", b"N"):
            raise ProtocolError("the server sent %d unencrypted bytes after its answer to SSLRequest; "
                                "refused, as they may come from a man in the middle (CVE-2021-23222)"
                                % (len(data) - 1))
        raise ProtocolError("the server answered SSLRequest with %r, not 'S' or 'N'" % (bytes(data[:16]),))
    return data == b"S"
