"""The messages a PostgreSQL server sends (protocol version 3), as small slotted objects.

:class:`~covet.database.postgres.protocol.BackendParser` returns these; their layout on the wire is
in https://www.postgresql.org/docs/current/protocol-message-formats.html. Messages compare equal
when they are of the same class with equal fields (unlike tuples, ``ParseComplete`` never equals
``BindComplete``). Test a message's kind with ``type(msg) is ParseComplete`` (or ``isinstance``);
the parser returns one shared instance of each message that has no fields.

Text fields (names, tags, channels) are ``str`` decoded from UTF-8, the client_encoding covet
asks for; values in a :class:`DataRow` are left as ``bytes`` (``None`` for SQL NULL) for the
type codecs.

Example::

    row = DataRow([b"1", None])
    assert row == DataRow([b"1", None]) and row.values[1] is None
"""
from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "BackendMessage",
    "AuthenticationOk", "AuthenticationCleartextPassword", "AuthenticationMD5Password",
    "AuthenticationSASL", "AuthenticationSASLContinue", "AuthenticationSASLFinal",
    "ParameterStatus", "BackendKeyData", "ReadyForQuery", "Field", "RowDescription", "DataRow",
    "CommandComplete", "EmptyQueryResponse", "ErrorResponse", "NoticeResponse", "ParseComplete",
    "BindComplete", "CloseComplete", "NoData", "ParameterDescription", "PortalSuspended",
    "CopyInResponse", "CopyOutResponse", "CopyBothResponse", "CopyData", "CopyDone",
    "NotificationResponse", "NegotiateProtocolVersion",
]


class BackendMessage:
    """Base of every backend message: slotted, equal by class and fields, readable ``repr``."""

    __slots__ = ()

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in type(self).__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # DataRow holds a list; equality is by value

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in type(self).__slots__))


# --- authentication ('R') ---------------------------------------------------------------------

class AuthenticationOk(BackendMessage):
    """The login succeeded (code 0); ParameterStatus, BackendKeyData and ReadyForQuery follow."""

    __slots__ = ()


class AuthenticationCleartextPassword(BackendMessage):
    """The server asks for the password in clear (code 3)."""

    __slots__ = ()


class AuthenticationMD5Password(BackendMessage):
    """The server asks for the md5 hash of the password (code 5) with this 4-byte ``salt``."""

    __slots__ = ("salt",)

    def __init__(self, salt: bytes) -> None:
        self.salt = salt


class AuthenticationSASL(BackendMessage):
    """The server asks for SASL (code 10), offering ``mechanisms`` in its order of preference
    (``("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256")`` on TLS)."""

    __slots__ = ("mechanisms",)

    def __init__(self, mechanisms: Tuple[str, ...]) -> None:
        self.mechanisms = mechanisms


class AuthenticationSASLContinue(BackendMessage):
    """A SASL challenge (code 11): for SCRAM, the server-first-message."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class AuthenticationSASLFinal(BackendMessage):
    """The SASL outcome (code 12): for SCRAM, the server-final-message with its signature."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


# --- session ----------------------------------------------------------------------------------

class ParameterStatus(BackendMessage):
    """A run-time parameter's value (``server_version``, ``TimeZone``, ...), at startup and on change."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value


class BackendKeyData(BackendMessage):
    """The ``pid`` and ``secret`` that a CancelRequest for this session must carry. The secret is
    4 bytes in protocol 3.0 and up to 256 in 3.2 (PostgreSQL 18), so it is kept as ``bytes``."""

    __slots__ = ("pid", "secret")

    def __init__(self, pid: int, secret: bytes) -> None:
        self.pid = pid
        self.secret = secret


class ReadyForQuery(BackendMessage):
    """The server waits for a query; ``status`` is ``"I"`` (idle), ``"T"`` (in a transaction)
    or ``"E"`` (in a failed transaction: only ROLLBACK will be accepted)."""

    __slots__ = ("status",)

    def __init__(self, status: str) -> None:
        self.status = status


class NegotiateProtocolVersion(BackendMessage):
    """The server speaks an older minor version than asked (``newest_minor``) and did not
    recognise these ``_pq_.`` startup options (``unrecognized``)."""

    __slots__ = ("newest_minor", "unrecognized")

    def __init__(self, newest_minor: int, unrecognized: Tuple[str, ...]) -> None:
        self.newest_minor = newest_minor
        self.unrecognized = unrecognized


class NotificationResponse(BackendMessage):
    """A NOTIFY on a channel this session LISTENs to, from the session ``pid``."""

    __slots__ = ("pid", "channel", "payload")

    def __init__(self, pid: int, channel: str, payload: str) -> None:
        self.pid = pid
        self.channel = channel
        self.payload = payload


class _ResponseFields(BackendMessage):
    # ErrorResponse and NoticeResponse share the layout: fields keyed by one-letter codes
    # (https://www.postgresql.org/docs/current/protocol-error-fields.html).
    __slots__ = ()
    fields: Dict[str, str]

    @property
    def severity(self) -> Optional[str]:
        """``ERROR``, ``FATAL``, ``PANIC``, ``WARNING``, ``NOTICE``, ...: the untranslated ``V``
        (PostgreSQL 9.6+), else the possibly translated ``S``."""
        return self.fields.get("V") or self.fields.get("S")

    @property
    def sqlstate(self) -> Optional[str]:
        """The SQLSTATE code (``C``)."""
        return self.fields.get("C")

    @property
    def message(self) -> Optional[str]:
        """The primary message (``M``)."""
        return self.fields.get("M")

    @property
    def detail(self) -> Optional[str]:
        """The secondary message (``D``)."""
        return self.fields.get("D")

    @property
    def hint(self) -> Optional[str]:
        """A suggestion (``H``)."""
        return self.fields.get("H")


class ErrorResponse(_ResponseFields):
    """An error; ``covet.database.postgres.errors.error_from_response(msg.fields)`` makes the
    exception. A ReadyForQuery follows unless the severity is FATAL or PANIC (the server then
    closes the connection)."""

    __slots__ = ("fields",)

    def __init__(self, fields: Dict[str, str]) -> None:
        self.fields = fields


class NoticeResponse(_ResponseFields):
    """A warning or notice, with the same fields as an error; the query goes on."""

    __slots__ = ("fields",)

    def __init__(self, fields: Dict[str, str]) -> None:
        self.fields = fields


# --- queries ----------------------------------------------------------------------------------

class Field(BackendMessage):
    """One column of a RowDescription: its ``name``, the ``table_oid`` and attribute number
    (``column``) it comes from (0 when it is not a plain column), its ``type_oid``, ``size``
    (pg_type.typlen, negative for variable length), ``modifier`` (pg_attribute.atttypmod, such
    as the n of varchar(n) plus 4) and ``format`` (0 text, 1 binary)."""

    __slots__ = ("name", "table_oid", "column", "type_oid", "size", "modifier", "format")

    def __init__(self, name: str, table_oid: int, column: int, type_oid: int, size: int, modifier: int,
                 format: int) -> None:
        self.name = name
        self.table_oid = table_oid
        self.column = column
        self.type_oid = type_oid
        self.size = size
        self.modifier = modifier
        self.format = format


class RowDescription(BackendMessage):
    """The columns of the rows that follow (or that a statement would return, after Describe)."""

    __slots__ = ("fields",)

    def __init__(self, fields: Tuple[Field, ...]) -> None:
        self.fields = fields


class DataRow(BackendMessage):
    """One row: a list of column values, each ``bytes`` (text or binary, as the RowDescription
    says) or ``None`` for NULL. Each value is its own ``bytes`` object, one copy out of the
    received data: small values are cheaper that way than memoryviews, the codecs read ``bytes``
    directly, and a kept value does not pin the whole network buffer in memory."""

    __slots__ = ("values",)

    def __init__(self, values: List[Optional[bytes]]) -> None:
        self.values = values


class CommandComplete(BackendMessage):
    """A statement finished; ``tag`` is its command tag (``"INSERT 0 3"``, ``"SELECT 10"``)."""

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag

    @property
    def row_count(self) -> Optional[int]:
        """Rows the statement affected or returned, from the tag's last word, for the commands
        whose tag carries one (INSERT, DELETE, UPDATE, MERGE, SELECT, MOVE, FETCH, COPY); else
        ``None``.

        Example::

            assert CommandComplete("INSERT 0 3").row_count == 3
            assert CommandComplete("CREATE TABLE").row_count is None
        """
        command, _, rest = self.tag.partition(" ")
        if command not in _COUNTED or not rest:
            return None
        last = rest.rpartition(" ")[2]
        return int(last) if last.isascii() and last.isdigit() else None


# The commands whose tag ends with a row count (protocol-message-formats, CommandComplete).
_COUNTED = frozenset(("INSERT", "DELETE", "UPDATE", "MERGE", "SELECT", "MOVE", "FETCH", "COPY"))


class EmptyQueryResponse(BackendMessage):
    """The query string was empty (it stands in for CommandComplete)."""

    __slots__ = ()


class ParseComplete(BackendMessage):
    """Parse succeeded."""

    __slots__ = ()


class BindComplete(BackendMessage):
    """Bind succeeded."""

    __slots__ = ()


class CloseComplete(BackendMessage):
    """Close succeeded."""

    __slots__ = ()


class NoData(BackendMessage):
    """Describe: the statement or portal returns no rows."""

    __slots__ = ()


class PortalSuspended(BackendMessage):
    """Execute stopped at its row limit; Execute the portal again for more."""

    __slots__ = ()


class ParameterDescription(BackendMessage):
    """Describe of a statement: the type OIDs of its parameters."""

    __slots__ = ("oids",)

    def __init__(self, oids: Tuple[int, ...]) -> None:
        self.oids = oids


# --- COPY -------------------------------------------------------------------------------------

class CopyInResponse(BackendMessage):
    """COPY FROM STDIN began: send CopyData, then CopyDone (or CopyFail). ``format`` is 0 (text)
    or 1 (binary); ``column_formats`` holds one such code per column."""

    __slots__ = ("format", "column_formats")

    def __init__(self, format: int, column_formats: Tuple[int, ...]) -> None:
        self.format = format
        self.column_formats = column_formats


class CopyOutResponse(BackendMessage):
    """COPY TO STDOUT began: CopyData messages follow, then CopyDone."""

    __slots__ = ("format", "column_formats")

    def __init__(self, format: int, column_formats: Tuple[int, ...]) -> None:
        self.format = format
        self.column_formats = column_formats


class CopyBothResponse(BackendMessage):
    """Both directions of COPY began (streaming replication only)."""

    __slots__ = ("format", "column_formats")

    def __init__(self, format: int, column_formats: Tuple[int, ...]) -> None:
        self.format = format
        self.column_formats = column_formats


class CopyData(BackendMessage):
    """A chunk of COPY data (for text COPY TO STDOUT, one row per message)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class CopyDone(BackendMessage):
    """The COPY data is complete."""

    __slots__ = ()

