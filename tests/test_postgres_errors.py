"""covet.database.postgres.errors: an ErrorResponse's fields become the exception of its SQLSTATE
(https://www.postgresql.org/docs/current/errcodes-appendix.html), a subclass of the PEP 249 class
of covet.database.errors that fits it, with the fields and a psycopg-like message."""
import pytest

from covet.database import errors as dbapi
from covet.database.postgres import errors as pg
from covet.database.postgres.errors import ServerError, error_from_response
from covet.database.postgres.protocol import BackendParser


def error(code, **fields):
    return error_from_response(dict({"S": "ERROR", "V": "ERROR", "C": code, "M": "boom"}, **fields))


@pytest.mark.parametrize("code, cls, dbapi_class", [
    ("23505", pg.UniqueViolation, dbapi.IntegrityError),
    ("23503", pg.ForeignKeyViolation, dbapi.IntegrityError),
    ("23502", pg.NotNullViolation, dbapi.IntegrityError),
    ("23514", pg.CheckViolation, dbapi.IntegrityError),
    ("23P01", pg.ExclusionViolation, dbapi.IntegrityError),
    ("23001", pg.RestrictViolation, dbapi.IntegrityError),
    ("40001", pg.SerializationFailure, dbapi.OperationalError),
    ("40P01", pg.DeadlockDetected, dbapi.OperationalError),
    ("57014", pg.QueryCanceled, dbapi.OperationalError),
    ("57P01", pg.AdminShutdown, dbapi.OperationalError),
    ("57P03", pg.CannotConnectNow, dbapi.OperationalError),
    ("53300", pg.TooManyConnections, dbapi.OperationalError),
    ("55P03", pg.LockNotAvailable, dbapi.OperationalError),
    ("08P01", pg.ProtocolViolation, dbapi.OperationalError),
    ("42P01", pg.UndefinedTable, dbapi.ProgrammingError),
    ("42703", pg.UndefinedColumn, dbapi.ProgrammingError),
    ("42601", pg.SQLSyntaxError, dbapi.ProgrammingError),
    ("42501", pg.InsufficientPrivilege, dbapi.ProgrammingError),
    ("42P07", pg.DuplicateTable, dbapi.ProgrammingError),
    ("42883", pg.UndefinedFunction, dbapi.ProgrammingError),
    ("22003", pg.NumericValueOutOfRange, dbapi.DataError),
    ("22P02", pg.InvalidTextRepresentation, dbapi.DataError),
    ("22012", pg.DivisionByZero, dbapi.DataError),
    ("22001", pg.StringDataRightTruncation, dbapi.DataError),
    ("28P01", pg.InvalidPassword, dbapi.OperationalError),
    ("28000", pg.InvalidAuthorizationSpecification, dbapi.OperationalError),
    ("25P02", pg.InFailedSQLTransaction, dbapi.DatabaseError),
    ("25006", pg.ReadOnlySQLTransaction, dbapi.DatabaseError),
    ("P0001", pg.RaiseException, dbapi.DatabaseError),
])
def test_named_sqlstates(code, cls, dbapi_class):
    exc = error(code)
    assert type(exc) is cls
    assert isinstance(exc, dbapi_class) and isinstance(exc, ServerError) and isinstance(exc, dbapi.DatabaseError)
    assert exc.sqlstate == code


@pytest.mark.parametrize("code, cls, dbapi_class", [
    ("23000", pg.IntegrityConstraintViolation, dbapi.IntegrityError),   # the class's own code
    ("23999", pg.IntegrityConstraintViolation, dbapi.IntegrityError),   # one covet does not name
    ("22023", pg.InvalidParameterValue, dbapi.DataError),
    ("22004", pg.DataException, dbapi.DataError),                        # null_value_not_allowed
    ("40002", pg.TransactionRollback, dbapi.OperationalError),           # integrity constraint violation in 40
    ("42P10", pg.SyntaxErrorOrAccessRuleViolation, dbapi.ProgrammingError),
    ("28XYZ", pg.AuthenticationFailed, dbapi.OperationalError),
    ("0A000", pg.FeatureNotSupported, dbapi.NotSupportedError),
    ("08001", pg.ConnectionException, dbapi.OperationalError),
    ("08006", pg.ConnectionFailure, dbapi.OperationalError),
    ("3D000", pg.InvalidCatalogName, dbapi.ProgrammingError),           # database does not exist
    ("3F000", pg.InvalidSchemaName, dbapi.ProgrammingError),
    ("21000", pg.CardinalityViolation, dbapi.ProgrammingError),
    ("53100", pg.DiskFull, dbapi.OperationalError),
    ("53400", pg.InsufficientResources, dbapi.OperationalError),
    ("54000", pg.ProgramLimitExceeded, dbapi.OperationalError),
    ("57P05", pg.IdleSessionTimeout, dbapi.OperationalError),
    ("58030", pg.ExternalSystemError, dbapi.OperationalError),
    ("HV000", pg.FDWError, dbapi.OperationalError),
    ("3B001", pg.SavepointException, dbapi.DatabaseError),
    ("XX000", pg.InternalError, dbapi.DatabaseError),
    ("XX001", pg.InternalError, dbapi.DatabaseError),
    ("F0000", pg.ConfigFileError, dbapi.DatabaseError),
    ("P0002", pg.PLpgSQLError, dbapi.DatabaseError),
    ("72000", pg.SnapshotTooOld, dbapi.DatabaseError),
])
def test_class_level_fallbacks(code, cls, dbapi_class):
    exc = error(code)
    assert type(exc) is cls and isinstance(exc, dbapi_class)


@pytest.mark.parametrize("fields", [{"C": "99999", "M": "x"}, {"C": "", "M": "x"}, {"M": "x"}, {"C": "23", "M": "x"},
                                    {"C": "2350", "M": "x"}, {"C": "235050", "M": "x"}])
def test_unknown_or_malformed_sqlstates_are_plain_server_errors(fields):
    assert type(error_from_response(fields)) is ServerError


def test_every_sqlstate_class_maps_to_a_class_derived_from_server_error():
    for code, cls in pg._BY_CLASS.items():
        assert issubclass(cls, ServerError) and type(error(code + "999")) is cls, code
    for code, cls in pg._BY_SQLSTATE.items():
        assert type(error(code)) is cls and issubclass(cls, pg._BY_CLASS[code[:2]]), code


def test_the_message_reads_like_psycopg():
    exc = error_from_response({"S": "ERROR", "V": "ERROR", "C": "23505",
                               "M": 'duplicate key value violates unique constraint "t_pkey"',
                               "D": "Key (a)=(1) already exists.", "H": "Pick another key.", "s": "public",
                               "t": "t", "n": "t_pkey", "F": "nbtinsert.c", "L": "664", "R": "_bt_check_unique"})
    assert str(exc) == ('duplicate key value violates unique constraint "t_pkey"\n'
                        "DETAIL:  Key (a)=(1) already exists.\n"
                        "HINT:  Pick another key.")
    assert exc.args == (str(exc),)
    assert (exc.sqlstate, exc.severity, exc.detail, exc.hint) == (
        "23505", "ERROR", "Key (a)=(1) already exists.", "Pick another key.")
    assert (exc.schema_name, exc.table_name, exc.constraint_name, exc.column_name, exc.data_type_name) == (
        "public", "t", "t_pkey", None, None)
    assert exc.fields["R"] == "_bt_check_unique"


def test_a_message_without_detail_or_hint_is_the_primary_message_alone():
    assert str(error("42P01", M='relation "nope" does not exist')) == 'relation "nope" does not exist'
    assert str(error_from_response({"C": "42P01"})) == "the server reported an error without a message"


def test_severity_prefers_the_untranslated_field():
    assert error_from_response({"S": "FATAL", "C": "28P01", "M": "x"}).severity == "FATAL"
    assert error_from_response({"S": "FATAL", "V": "FATAL", "C": "28P01", "M": "x"}).severity == "FATAL"
    assert error_from_response({"S": "SCHWERWIEGEND", "V": "FATAL", "C": "28P01", "M": "x"}).severity == "FATAL"
    assert error_from_response({"M": "x"}).severity is None


@pytest.mark.parametrize("value, position", [("25", 25), ("1", 1), ("", None), ("x", None), ("-1", None),
                                             ("\u0663", None), ("9" * 12, None)])
def test_position(value, position):
    assert error("42601", P=value).position == position
    assert error("42601").position is None


def test_the_exception_keeps_a_copy_of_the_fields():
    fields = {"C": "23505", "M": "dup"}
    exc = error_from_response(fields)
    fields["M"] = "changed"
    assert exc.fields == {"C": "23505", "M": "dup"}


def test_classes_can_be_raised_by_hand():
    exc = pg.UniqueViolation("dup")
    assert str(exc) == "dup" and exc.fields == {} and exc.sqlstate is None and exc.severity is None
    with pytest.raises(dbapi.IntegrityError):
        raise exc


def test_from_a_recorded_error_response():
    # PostgreSQL 15's answer to SELECT * FROM nope, through the parser.
    p = BackendParser()
    p.feed(b"E\x00\x00\x00gSERROR\x00VERROR\x00C42P01\x00Mrelation \"nope\" does not exist\x00P25\x00"
           b"Fparse_relation.c\x00L1392\x00RparserOpenTable\x00\x00")
    exc = error_from_response(p.next_message().fields)
    assert type(exc) is pg.UndefinedTable
    assert str(exc) == 'relation "nope" does not exist'
    assert exc.position == 25


def test_sql_syntax_error_does_not_hide_the_builtin():
    assert pg.SQLSyntaxError is not SyntaxError and not issubclass(pg.SQLSyntaxError, SyntaxError)
    assert not hasattr(pg, "SyntaxError")


def test_client_side_errors():
    assert issubclass(pg.ProtocolError, dbapi.OperationalError)
    assert issubclass(pg.ScramError, dbapi.OperationalError)
    assert issubclass(pg.EncodeError, dbapi.ProgrammingError) and issubclass(pg.EncodeError, ValueError)
    for cls in (pg.ProtocolError, pg.ScramError, pg.EncodeError):
        assert not issubclass(cls, ServerError)


def test_every_public_name_is_exported():
    for name in pg.__all__:
        assert getattr(pg, name).__module__ == "covet.database.postgres.errors", name
    classes = {v for v in vars(pg).values() if isinstance(v, type) and issubclass(v, Exception)
               and v.__module__ == pg.__name__}
    assert classes == {getattr(pg, name) for name in pg.__all__ if isinstance(getattr(pg, name), type)}


def test_the_package_exports_lazily():
    import covet.database.postgres as package

    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert package.UniqueViolation is pg.UniqueViolation
    assert package.protocol.__name__ == "covet.database.postgres.protocol"
    assert package.BackendParser.__module__ == "covet.database.postgres.protocol"
    assert package.ScramClient.__module__ == "covet.database.postgres.scram"
    with pytest.raises(AttributeError):
        package.NoSuchThing
