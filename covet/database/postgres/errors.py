"""PostgreSQL's errors as covet's database exceptions (a leaf module: exceptions and their table).

An ``ErrorResponse`` from the server becomes a :class:`ServerError` chosen by its SQLSTATE
(https://www.postgresql.org/docs/current/errcodes-appendix.html): the exact code when covet names
it (``23505`` is :class:`UniqueViolation`), else the code's two-character class (``23`` is
:class:`IntegrityConstraintViolation`), else :class:`ServerError` itself. Every class also derives
from the PEP 249 class of ``covet.database.errors`` that fits it, the mapping psycopg2 uses
(``psycopg/error_type.c``), so that code written against sqlite's exceptions catches PostgreSQL's:
a unique violation is an :class:`~covet.database.errors.IntegrityError` on both. The classes
psycopg2 files under PEP 249's ``InternalError``, which covet's layer does not define (invalid
transaction state, savepoint, PL/pgSQL and internal errors), are plain ``DatabaseError``\\ s here.

Besides the server's errors: :class:`ProtocolError` (the server's bytes are not the protocol, or
exceed a limit: the connection must be discarded), :class:`EncodeError` (a value cannot be put in a
message, such as a NUL inside a string) and :class:`ScramError` (SCRAM authentication failed on the
client's side, such as a server that cannot prove it knows the password).

Example::

    try:
        await conn.execute("INSERT INTO users (email) VALUES ($1)", email)
    except UniqueViolation as exc:          # also an IntegrityError
        print(exc.sqlstate, exc.constraint_name, exc.detail)
"""
from typing import Dict, Mapping, Optional, Type

from covet.database.errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)

__all__ = [
    "ProtocolError", "EncodeError", "ScramError", "ServerError", "error_from_response",
    # SQLSTATE classes
    "SQLStatementNotYetComplete", "ConnectionException", "TriggeredActionException", "FeatureNotSupported",
    "InvalidTransactionInitiation", "LocatorException", "InvalidGrantor", "InvalidRoleSpecification",
    "DiagnosticsException", "CaseNotFound", "CardinalityViolation", "DataException",
    "IntegrityConstraintViolation", "InvalidCursorState", "InvalidTransactionState", "InvalidSQLStatementName",
    "TriggeredDataChangeViolation", "AuthenticationFailed", "DependentPrivilegeDescriptorsStillExist",
    "InvalidTransactionTermination", "SQLRoutineException", "InvalidCursorName", "ExternalRoutineException",
    "ExternalRoutineInvocationException", "SavepointException", "InvalidCatalogName", "InvalidSchemaName",
    "TransactionRollback", "SyntaxErrorOrAccessRuleViolation", "WithCheckOptionViolation",
    "InsufficientResources", "ProgramLimitExceeded", "ObjectNotInPrerequisiteState", "OperatorIntervention",
    "ExternalSystemError", "SnapshotTooOld", "ConfigFileError", "FDWError", "PLpgSQLError", "InternalError",
    # single SQLSTATEs
    "ConnectionFailure", "ProtocolViolation", "StringDataRightTruncation", "NumericValueOutOfRange",
    "InvalidDatetimeFormat", "DatetimeFieldOverflow", "DivisionByZero", "CharacterNotInRepertoire",
    "InvalidTextRepresentation", "InvalidParameterValue", "RestrictViolation", "NotNullViolation",
    "ForeignKeyViolation", "UniqueViolation", "CheckViolation", "ExclusionViolation", "ReadOnlySQLTransaction",
    "InFailedSQLTransaction", "IdleInTransactionSessionTimeout", "InvalidAuthorizationSpecification",
    "InvalidPassword", "SerializationFailure", "DeadlockDetected", "SQLSyntaxError", "InsufficientPrivilege",
    "UndefinedColumn", "UndefinedFunction", "UndefinedTable", "UndefinedObject", "DuplicateColumn",
    "DuplicateObject", "DuplicateTable", "AmbiguousColumn", "DatatypeMismatch", "DiskFull", "OutOfMemory",
    "TooManyConnections", "StatementTooComplex", "LockNotAvailable", "QueryCanceled", "AdminShutdown",
    "CrashShutdown", "CannotConnectNow", "DatabaseDropped", "IdleSessionTimeout", "RaiseException",
]


class ProtocolError(OperationalError):
    """The server sent bytes that are not PostgreSQL's protocol (version 3), or that exceed a limit.

    An ``OperationalError``, like a lost connection, because that is what it amounts to: the
    message boundaries are lost, so the connection that saw it must be closed and never returned
    to a pool (the parser refuses all further input).
    """


class EncodeError(ProgrammingError, ValueError):
    """A value cannot be written into a frontend message: a NUL inside a string (PostgreSQL's
    strings end at the first NUL, so the rest would be read as more of the message: an injection),
    text that is not valid Unicode, or a number or count outside its protocol field.

    Example::

        protocol.query("SELECT 1\\x00; DROP TABLE users")   # raises EncodeError
    """


class ScramError(OperationalError):
    """SCRAM-SHA-256 authentication failed on covet's side: the server's messages are malformed,
    its nonce does not extend ours, its iteration count is out of bounds, channel binding was
    required and is not possible, or the server could not prove that it knows the password
    (RFC 5802 §3: the client verifies the server's signature, so an impostor is refused)."""


class ServerError(DatabaseError):
    """An ``ErrorResponse`` from the server, with its fields.

    ``str(exc)`` reads like psycopg's: the primary message, then ``DETAIL:`` and ``HINT:`` lines.
    ``fields`` holds every field the server sent, keyed by its one-letter code
    (https://www.postgresql.org/docs/current/protocol-error-fields.html); the properties name
    the common ones.

    :param message: the text of the exception.
    :param fields: the response's fields (``{"C": "23505", "M": "...", ...}``).

    Example::

        exc = error_from_response({"S": "ERROR", "C": "42P01", "M": 'relation "nope" does not exist'})
        assert type(exc) is UndefinedTable and exc.sqlstate == "42P01"
    """

    def __init__(self, message: str = "", fields: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(message)
        self.fields: Dict[str, str] = dict(fields) if fields else {}

    @property
    def sqlstate(self) -> Optional[str]:
        """The five-character SQLSTATE code (field ``C``)."""
        return self.fields.get("C")

    @property
    def severity(self) -> Optional[str]:
        """``ERROR``, ``FATAL`` or ``PANIC``: the untranslated field ``V`` (9.6+), else ``S``."""
        return self.fields.get("V") or self.fields.get("S")

    @property
    def detail(self) -> Optional[str]:
        """The secondary message (field ``D``)."""
        return self.fields.get("D")

    @property
    def hint(self) -> Optional[str]:
        """A suggestion what to do about it (field ``H``)."""
        return self.fields.get("H")

    @property
    def position(self) -> Optional[int]:
        """Where in the query the error is, a 1-based character index (field ``P``)."""
        value = self.fields.get("P", "")
        return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None

    @property
    def schema_name(self) -> Optional[str]:
        """The schema of the object concerned (field ``s``)."""
        return self.fields.get("s")

    @property
    def table_name(self) -> Optional[str]:
        """The table concerned (field ``t``)."""
        return self.fields.get("t")

    @property
    def column_name(self) -> Optional[str]:
        """The column concerned (field ``c``)."""
        return self.fields.get("c")

    @property
    def constraint_name(self) -> Optional[str]:
        """The constraint that was violated (field ``n``)."""
        return self.fields.get("n")

    @property
    def data_type_name(self) -> Optional[str]:
        """The data type concerned (field ``d``)."""
        return self.fields.get("d")


# --- one class per SQLSTATE class (the code's first two characters) ---------------------------

class SQLStatementNotYetComplete(ServerError):
    """Class 03."""


class ConnectionException(ServerError, OperationalError):
    """Class 08: the connection failed, or the server refused it."""


class TriggeredActionException(ServerError):
    """Class 09."""


class FeatureNotSupported(ServerError, NotSupportedError):
    """Class 0A: the server does not offer what was asked."""


class InvalidTransactionInitiation(ServerError):
    """Class 0B."""


class LocatorException(ServerError):
    """Class 0F."""


class InvalidGrantor(ServerError):
    """Class 0L."""


class InvalidRoleSpecification(ServerError):
    """Class 0P."""


class DiagnosticsException(ServerError):
    """Class 0Z."""


class CaseNotFound(ServerError, ProgrammingError):
    """Class 20: a PL/pgSQL CASE without a matching branch."""


class CardinalityViolation(ServerError, ProgrammingError):
    """Class 21: a subquery used as a value returned more than one row."""


class DataException(ServerError, DataError):
    """Class 22: a value does not fit its type or range."""


class IntegrityConstraintViolation(ServerError, IntegrityError):
    """Class 23: a constraint refused the change."""


class InvalidCursorState(ServerError):
    """Class 24."""


class InvalidTransactionState(ServerError):
    """Class 25: not possible in the transaction's state (aborted, read-only, ...)."""


class InvalidSQLStatementName(ServerError, OperationalError):
    """Class 26: no prepared statement of that name."""


class TriggeredDataChangeViolation(ServerError, OperationalError):
    """Class 27."""


class AuthenticationFailed(ServerError, OperationalError):
    """Class 28 (invalid authorization specification): the server refused the login."""


class DependentPrivilegeDescriptorsStillExist(ServerError):
    """Class 2B."""


class InvalidTransactionTermination(ServerError):
    """Class 2D."""


class SQLRoutineException(ServerError):
    """Class 2F."""


class InvalidCursorName(ServerError, OperationalError):
    """Class 34."""


class ExternalRoutineException(ServerError):
    """Class 38."""


class ExternalRoutineInvocationException(ServerError):
    """Class 39."""


class SavepointException(ServerError):
    """Class 3B: no savepoint of that name."""


class InvalidCatalogName(ServerError, ProgrammingError):
    """Class 3D: the database does not exist."""


class InvalidSchemaName(ServerError, ProgrammingError):
    """Class 3F: the schema does not exist."""


class TransactionRollback(ServerError, OperationalError):
    """Class 40: the transaction was rolled back; running it again may succeed."""


class SyntaxErrorOrAccessRuleViolation(ServerError, ProgrammingError):
    """Class 42: the SQL is wrong, names something missing, or lacks a privilege."""


class WithCheckOptionViolation(ServerError, ProgrammingError):
    """Class 44."""


class InsufficientResources(ServerError, OperationalError):
    """Class 53: out of disk, memory or connections."""


class ProgramLimitExceeded(ServerError, OperationalError):
    """Class 54."""


class ObjectNotInPrerequisiteState(ServerError, OperationalError):
    """Class 55: such as a lock that could not be taken (NOWAIT, lock_timeout)."""


class OperatorIntervention(ServerError, OperationalError):
    """Class 57: cancelled, or the server is shutting down or starting up."""


class ExternalSystemError(ServerError, OperationalError):
    """Class 58 (system error): an error outside PostgreSQL, such as an I/O error."""


class SnapshotTooOld(ServerError):
    """Class 72."""


class ConfigFileError(ServerError):
    """Class F0."""


class FDWError(ServerError, OperationalError):
    """Class HV: a foreign data wrapper failed."""


class PLpgSQLError(ServerError):
    """Class P0: raised by PL/pgSQL (``RAISE EXCEPTION`` is P0001)."""


class InternalError(ServerError):
    """Class XX: the server failed internally (data corruption, a bug)."""


# --- single SQLSTATEs that applications commonly catch -------------------------------------------

class ConnectionFailure(ConnectionException):
    """08006."""


class ProtocolViolation(ConnectionException):
    """08P01: the server says covet broke the protocol."""


class StringDataRightTruncation(DataException):
    """22001: a string too long for its column (``varchar(n)``)."""


class NumericValueOutOfRange(DataException):
    """22003."""


class InvalidDatetimeFormat(DataException):
    """22007."""


class DatetimeFieldOverflow(DataException):
    """22008."""


class DivisionByZero(DataException):
    """22012."""


class CharacterNotInRepertoire(DataException):
    """22021: bytes that are not valid in the database's encoding."""


class InvalidParameterValue(DataException):
    """22023."""


class InvalidTextRepresentation(DataException):
    """22P02: text that is not a value of its type (``'abc'::int``)."""


class RestrictViolation(IntegrityConstraintViolation):
    """23001."""


class NotNullViolation(IntegrityConstraintViolation):
    """23502."""


class ForeignKeyViolation(IntegrityConstraintViolation):
    """23503."""


class UniqueViolation(IntegrityConstraintViolation):
    """23505."""


class CheckViolation(IntegrityConstraintViolation):
    """23514."""


class ExclusionViolation(IntegrityConstraintViolation):
    """23P01."""


class ReadOnlySQLTransaction(InvalidTransactionState):
    """25006: a write in a read-only transaction (or on a standby)."""


class InFailedSQLTransaction(InvalidTransactionState):
    """25P02: an earlier statement failed; only ROLLBACK is accepted until then."""


class IdleInTransactionSessionTimeout(InvalidTransactionState):
    """25P03."""


class InvalidAuthorizationSpecification(AuthenticationFailed):
    """28000: such as no pg_hba.conf entry for this host and user."""


class InvalidPassword(AuthenticationFailed):
    """28P01: wrong password (or user, which the server does not tell apart)."""


class SerializationFailure(TransactionRollback):
    """40001: retry the transaction."""


class DeadlockDetected(TransactionRollback):
    """40P01: retry the transaction."""


class InsufficientPrivilege(SyntaxErrorOrAccessRuleViolation):
    """42501."""


class SQLSyntaxError(SyntaxErrorOrAccessRuleViolation):
    """42601 (named so as not to hide Python's ``SyntaxError``)."""


class DuplicateColumn(SyntaxErrorOrAccessRuleViolation):
    """42701."""


class AmbiguousColumn(SyntaxErrorOrAccessRuleViolation):
    """42702."""


class UndefinedColumn(SyntaxErrorOrAccessRuleViolation):
    """42703."""


class UndefinedObject(SyntaxErrorOrAccessRuleViolation):
    """42704."""


class DuplicateObject(SyntaxErrorOrAccessRuleViolation):
    """42710."""


class DatatypeMismatch(SyntaxErrorOrAccessRuleViolation):
    """42804."""


class UndefinedFunction(SyntaxErrorOrAccessRuleViolation):
    """42883."""


class UndefinedTable(SyntaxErrorOrAccessRuleViolation):
    """42P01."""


class DuplicateTable(SyntaxErrorOrAccessRuleViolation):
    """42P07."""


class DiskFull(InsufficientResources):
    """53100."""


class OutOfMemory(InsufficientResources):
    """53200."""


class TooManyConnections(InsufficientResources):
    """53300: max_connections reached."""


class StatementTooComplex(ProgramLimitExceeded):
    """54001."""


class LockNotAvailable(ObjectNotInPrerequisiteState):
    """55P03."""


class QueryCanceled(OperatorIntervention):
    """57014: cancelled by a CancelRequest or by statement_timeout."""


class AdminShutdown(OperatorIntervention):
    """57P01: the server is shutting down, or an administrator ended the session."""


class CrashShutdown(OperatorIntervention):
    """57P02."""


class CannotConnectNow(OperatorIntervention):
    """57P03: the server is starting up or in recovery."""


class DatabaseDropped(OperatorIntervention):
    """57P04."""


class IdleSessionTimeout(OperatorIntervention):
    """57P05."""


class RaiseException(PLpgSQLError):
    """P0001: ``RAISE EXCEPTION`` in PL/pgSQL."""


_BY_CLASS: Dict[str, Type[ServerError]] = {
    "03": SQLStatementNotYetComplete, "08": ConnectionException, "09": TriggeredActionException,
    "0A": FeatureNotSupported, "0B": InvalidTransactionInitiation, "0F": LocatorException,
    "0L": InvalidGrantor, "0P": InvalidRoleSpecification, "0Z": DiagnosticsException, "20": CaseNotFound,
    "21": CardinalityViolation, "22": DataException, "23": IntegrityConstraintViolation,
    "24": InvalidCursorState, "25": InvalidTransactionState, "26": InvalidSQLStatementName,
    "27": TriggeredDataChangeViolation, "28": AuthenticationFailed, "2B": DependentPrivilegeDescriptorsStillExist,
    "2D": InvalidTransactionTermination, "2F": SQLRoutineException, "34": InvalidCursorName,
    "38": ExternalRoutineException, "39": ExternalRoutineInvocationException, "3B": SavepointException,
    "3D": InvalidCatalogName, "3F": InvalidSchemaName, "40": TransactionRollback,
    "42": SyntaxErrorOrAccessRuleViolation, "44": WithCheckOptionViolation, "53": InsufficientResources,
    "54": ProgramLimitExceeded, "55": ObjectNotInPrerequisiteState, "57": OperatorIntervention,
    "58": ExternalSystemError, "72": SnapshotTooOld, "F0": ConfigFileError, "HV": FDWError,
    "P0": PLpgSQLError, "XX": InternalError,
}

_BY_SQLSTATE: Dict[str, Type[ServerError]] = {
    "08006": ConnectionFailure, "08P01": ProtocolViolation,
    "22001": StringDataRightTruncation, "22003": NumericValueOutOfRange, "22007": InvalidDatetimeFormat,
    "22008": DatetimeFieldOverflow, "22012": DivisionByZero, "22021": CharacterNotInRepertoire,
    "22023": InvalidParameterValue, "22P02": InvalidTextRepresentation,
    "23001": RestrictViolation, "23502": NotNullViolation, "23503": ForeignKeyViolation,
    "23505": UniqueViolation, "23514": CheckViolation, "23P01": ExclusionViolation,
    "25006": ReadOnlySQLTransaction, "25P02": InFailedSQLTransaction, "25P03": IdleInTransactionSessionTimeout,
    "28000": InvalidAuthorizationSpecification, "28P01": InvalidPassword,
    "40001": SerializationFailure, "40P01": DeadlockDetected,
    "42501": InsufficientPrivilege, "42601": SQLSyntaxError, "42701": DuplicateColumn, "42702": AmbiguousColumn,
    "42703": UndefinedColumn, "42704": UndefinedObject, "42710": DuplicateObject, "42804": DatatypeMismatch,
    "42883": UndefinedFunction, "42P01": UndefinedTable, "42P07": DuplicateTable,
    "53100": DiskFull, "53200": OutOfMemory, "53300": TooManyConnections, "54001": StatementTooComplex,
    "55P03": LockNotAvailable,
    "57014": QueryCanceled, "57P01": AdminShutdown, "57P02": CrashShutdown, "57P03": CannotConnectNow,
    "57P04": DatabaseDropped, "57P05": IdleSessionTimeout,
    "P0001": RaiseException,
}


def _text(fields: Mapping[str, str]) -> str:
    # psycopg's str(exc): the primary message, then libpq's "DETAIL:  " and "HINT:  " lines
    # (two spaces after the colon, as psql prints them).
    text = fields.get("M") or "the server reported an error without a message"
    detail = fields.get("D")
    if detail:
        text += "\nDETAIL:  " + detail
    hint = fields.get("H")
    if hint:
        text += "\nHINT:  " + hint
    return text


def error_from_response(fields: Mapping[str, str]) -> ServerError:
    """The exception for an ``ErrorResponse``'s fields: by SQLSTATE, then by its class, else
    :class:`ServerError`.

    :param fields: the response's fields by one-letter code (``ErrorResponse.fields``).

    Example::

        exc = error_from_response({"S": "ERROR", "V": "ERROR", "C": "23505",
                                   "M": 'duplicate key value violates unique constraint "users_pkey"',
                                   "D": "Key (id)=(1) already exists."})
        assert isinstance(exc, UniqueViolation) and isinstance(exc, IntegrityError)
        assert str(exc) == ('duplicate key value violates unique constraint "users_pkey"\\n'
                            'DETAIL:  Key (id)=(1) already exists.')
    """
    code = fields.get("C") or ""
    cls = _BY_SQLSTATE.get(code)
    if cls is None:
        cls = _BY_CLASS.get(code[:2], ServerError) if len(code) == 5 else ServerError
    return cls(_text(fields), fields)
