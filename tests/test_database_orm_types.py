"""ORM column types on their own: what each accepts, the errors it gives in covet.validation's words,
the stored form on SQLite and PostgreSQL, and the way back."""
import datetime
import decimal
import random

import pytest

from covet.database.orm import (JSON, BigInteger, Boolean, Date, DateTime, Float, Integer, InvalidValue, LargeBinary,
                                Numeric, String, Text)
from covet.database.orm.types import parse_datetime, utc_now

UTC = datetime.timezone.utc
D = decimal.Decimal


def refused(type_, value):
    with pytest.raises(InvalidValue) as info:
        type_.validate(value)
    return info.value.msg, info.value.type


# -- integers -------------------------------------------------------------------------------

def test_integer_takes_ints_and_integral_floats_only():
    assert Integer().validate(5) == 5
    assert Integer().validate(3.0) == 3 and type(Integer().validate(3.0)) is int  # JSON may spell 3 as 3.0
    for bad in (True, "5", 3.5, None, [1]):
        assert refused(Integer(), bad) == ("must be of type integer", "type")


def test_integer_bounds_are_postgresqls():
    assert Integer().validate(2 ** 31 - 1) == 2 ** 31 - 1
    assert refused(Integer(), 2 ** 31) == ("must be less than or equal to 2147483647", "maximum")
    assert refused(Integer(), -2 ** 31 - 1) == ("must be greater than or equal to -2147483648", "minimum")
    assert BigInteger().validate(2 ** 63 - 1) == 2 ** 63 - 1
    assert refused(BigInteger(), 2 ** 63) == ("must be less than or equal to 9223372036854775807", "maximum")


# -- text -------------------------------------------------------------------------------------

def test_string_length_is_counted_in_characters_and_enforced():
    assert String(3).validate("héé") == "héé"
    assert refused(String(3), "abcd") == ("must be at most 3 characters long", "maxLength")
    assert refused(String(1), "ab") == ("must be at most 1 character long", "maxLength")
    assert String().validate("x" * 100000) == "x" * 100000
    assert refused(String(10), 12) == ("must be of type string", "type")
    assert refused(String(10), b"ab") == ("must be of type string", "type")


def test_text_refuses_nul_which_postgresql_cannot_store():
    assert refused(Text(), "a\x00b") == ("must not contain NUL characters", "pattern")
    assert refused(String(10), "\x00") == ("must not contain NUL characters", "pattern")


@pytest.mark.parametrize("bad", [0, -1, True, "10", 1.5])
def test_string_length_must_be_a_positive_int(bad):
    with pytest.raises(TypeError, match="String\\(length\\) takes a positive integer"):
        String(bad)


# -- booleans and floats --------------------------------------------------------------------

def test_boolean_takes_bool_only_and_stores_0_or_1_on_sqlite():
    assert Boolean().validate(False) is False
    for bad in (1, 0, "true", None):
        assert refused(Boolean(), bad) == ("must be of type boolean", "type")
    assert Boolean().to_db(True, "sqlite") == 1 and Boolean().to_db(False, "sqlite") == 0
    assert Boolean().to_db(True, "postgresql") is True
    assert Boolean().from_db(1, "sqlite") is True and Boolean().from_db(0, "sqlite") is False


def test_float_refuses_what_json_cannot_say():
    assert Float().validate(2) == 2.0 and type(Float().validate(2)) is float
    for bad in (float("nan"), float("inf"), -float("inf"), 10 ** 400):
        assert refused(Float(), bad) == ("must be a finite number", "type")
    for bad in ("1.5", True, None):
        assert refused(Float(), bad) == ("must be of type number", "type")


# -- decimals ---------------------------------------------------------------------------------

def test_numeric_keeps_exact_decimals_with_the_columns_scale():
    money = Numeric(10, 2)
    assert money.validate("1.5") == D("1.50") and str(money.validate("1.5")) == "1.50"
    assert str(money.validate(0.1)) == "0.10"   # the decimal the float's repr spells, not 0.1000000000000000055
    assert str(money.validate(7)) == "7.00"
    assert str(money.validate(D("2.300"))) == "2.30"  # trailing zeros are not extra precision
    assert money.validate("99999999.99") == D("99999999.99")


def test_numeric_refusals():
    money = Numeric(10, 2)
    assert refused(money, "1.234") == ("must be a multiple of 0.01", "multipleOf")
    assert refused(money, "100000000") == ("must be less than 100000000", "exclusiveMaximum")
    assert refused(money, -100000000) == ("must be greater than -100000000", "exclusiveMinimum")
    for bad in ("NaN", "Infinity", "1_000", " 1", "1e", "", "0x10"):
        assert refused(money, bad) == ("must be a decimal number", "format")
    assert refused(money, "9" * 1001) == ("must be a decimal number", "format")
    assert refused(money, D("NaN")) == ("must be a finite number", "type")
    assert refused(money, float("inf")) == ("must be a finite number", "type")
    for bad in (True, None, [1]):
        assert refused(money, bad) == ("must be of type number or string", "type")
    # A huge exponent is refused by the precision, before any arithmetic on it.
    assert refused(money, "1e999999999") == ("must be less than 100000000", "exclusiveMaximum")


def test_numeric_is_text_on_sqlite_and_comes_back_as_decimal():
    money = Numeric(10, 2)
    assert money.to_db(D("1.50"), "sqlite") == "1.50"
    assert money.to_db(D("1.50"), "postgresql") == D("1.50")
    assert money.from_db("1.50", "sqlite") == D("1.50") and str(money.from_db("1.50", "sqlite")) == "1.50"
    assert money.from_db(0.1, "sqlite") == D("0.1")
    assert money.to_json(D("1.50")) == "1.50"
    assert Numeric().validate("12345678901234567890.123456789") == D("12345678901234567890.123456789")


@pytest.mark.parametrize("args", [(None, 2), (0,), (2, 3), (-1,), (True,)])
def test_numeric_arguments_are_checked(args):
    with pytest.raises(TypeError):
        Numeric(*args)


# -- dates and times --------------------------------------------------------------------------

def test_date_takes_dates_and_iso_text():
    assert Date().validate("2024-02-29") == datetime.date(2024, 2, 29)
    assert Date().validate(datetime.date(2024, 1, 1)) == datetime.date(2024, 1, 1)
    for bad in ("2023-02-29", "2024-2-1", "20240201", "2024-02-01T00:00:00"):
        assert refused(Date(), bad) == ("must be a date (YYYY-MM-DD)", "format")
    assert refused(Date(), datetime.datetime(2024, 1, 1, tzinfo=UTC)) == (
        "must be a date (YYYY-MM-DD), not a date and time", "format")
    assert refused(Date(), 20240101) == ("must be of type string", "type")
    assert Date().to_db(datetime.date(2024, 2, 29), "sqlite") == "2024-02-29"
    assert Date().from_db("2024-02-29", "sqlite") == datetime.date(2024, 2, 29)


def test_datetime_is_held_in_utc_and_naive_ones_are_refused():
    two = datetime.timezone(datetime.timedelta(hours=2))
    assert DateTime().validate(datetime.datetime(2024, 5, 1, 9, 30, tzinfo=two)) == \
        datetime.datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert DateTime().validate(datetime.datetime(2024, 5, 1, 9, 30, tzinfo=two)).tzinfo is UTC
    assert DateTime().validate("2024-05-01T09:30:00+02:00") == datetime.datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert DateTime().validate("2024-05-01T09:30:00.123456789Z") == \
        datetime.datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)
    assert DateTime().validate("2024-05-01t09:30:00-05:30") == datetime.datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
    assert refused(DateTime(), datetime.datetime(2024, 5, 1)) == (
        "must be a datetime with a time zone (a naive datetime is ambiguous)", "format")
    for bad in ("2024-05-01T09:30:00", "2024-05-01", "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z",
                "2024-05-01T09:30:00+24:00", "yesterday"):
        assert refused(DateTime(), bad) == ("must be an RFC 3339 date-time with offset", "format")
    assert refused(DateTime(), 1714555800) == ("must be of type string", "type")


def test_datetime_text_on_sqlite_has_one_width_so_text_order_is_time_order():
    stored = DateTime().to_db(datetime.datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "sqlite")
    assert stored == "0999-01-02T03:04:05.000000+00:00"
    rng = random.Random(7)
    times = [datetime.datetime(rng.randrange(1, 9999), rng.randrange(1, 13), rng.randrange(1, 29),
                               rng.randrange(24), rng.randrange(60), rng.randrange(60),
                               rng.choice([0, rng.randrange(1000000)]), tzinfo=UTC) for _ in range(300)]
    texts = [DateTime().to_db(t, "sqlite") for t in times]
    assert sorted(texts) == [DateTime().to_db(t, "sqlite") for t in sorted(times)]
    assert {len(t) for t in texts} == {32}


def test_datetime_read_back_is_aware_utc_also_for_text_sqlite_wrote_itself():
    assert DateTime().from_db("2024-05-01T07:30:00.000000+00:00", "sqlite") == \
        datetime.datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    # CURRENT_TIMESTAMP and covet's now(): UTC, with a space and no offset.
    assert DateTime().from_db("2024-05-01 07:30:00", "sqlite") == datetime.datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert DateTime().from_db(datetime.datetime(2024, 5, 1), "postgresql").tzinfo is UTC
    with pytest.raises(ValueError, match="not a date-time in the database"):
        DateTime().from_db("garbage", "sqlite")
    assert parse_datetime("2024-05-01 07:30:00", naive_is_utc=False) is None


def test_utc_now_is_aware():
    before = datetime.datetime.now(UTC)
    now = utc_now()
    assert now.tzinfo is UTC and before <= now <= datetime.datetime.now(UTC)


# -- JSON and bytes -----------------------------------------------------------------------------

def test_json_keeps_the_value_json_reads_back():
    value = {"a": (1, 2), 3: "x", "n": None}
    assert JSON().validate(value) == {"a": [1, 2], "3": "x", "n": None}
    assert JSON().validate([1, "é"]) == [1, "é"]
    assert JSON().to_db({"b": [1, 2], "é": True}, "sqlite") == '{"b":[1,2],"é":true}'
    assert JSON().from_db('{"b":[1,2]}', "sqlite") == {"b": [1, 2]}
    assert JSON().from_db({"b": 1}, "postgresql") == {"b": 1}
    cycle = []
    cycle.append(cycle)
    for bad in (float("nan"), {"x": object()}, {1, 2}, cycle, D("1.5")):
        assert refused(JSON(), bad) == (
            "must be JSON data (objects, arrays, strings, finite numbers, booleans, null)", "type")


def test_large_binary_is_bytes_and_base64_in_json():
    assert LargeBinary().validate(bytearray(b"\x00\xff")) == b"\x00\xff"
    assert LargeBinary().validate(memoryview(b"ab")) == b"ab"
    assert refused(LargeBinary(), "AAE=") == ("must be of type bytes", "type")
    assert refused(LargeBinary(4), b"12345") == ("must be at most 4 bytes long", "maxLength")
    assert LargeBinary().to_json(b"\x00\x01") == "AAE="
    assert LargeBinary().from_db(memoryview(b"ab"), "postgresql") == b"ab"


# -- names in DDL ----------------------------------------------------------------------------------

@pytest.mark.parametrize("type_, sqlite, postgresql", [
    (Integer(), "INTEGER", "INTEGER"),
    (BigInteger(), "BIGINT", "BIGINT"),
    (String(100), "VARCHAR(100)", "VARCHAR(100)"),
    (String(), "VARCHAR", "VARCHAR"),
    (Text(), "TEXT", "TEXT"),
    (Boolean(), "BOOLEAN", "BOOLEAN"),
    (Float(), "REAL", "DOUBLE PRECISION"),
    (Numeric(10, 2), "TEXT", "NUMERIC(10, 2)"),
    (Numeric(), "TEXT", "NUMERIC"),
    (Date(), "TEXT", "DATE"),
    (DateTime(), "TEXT", "TIMESTAMP WITH TIME ZONE"),
    (JSON(), "TEXT", "JSONB"),
    (LargeBinary(), "BLOB", "BYTEA"),
])
def test_sql_type_names(type_, sqlite, postgresql):
    assert (type_.sql_type("sqlite"), type_.sql_type("postgresql")) == (sqlite, postgresql)


def test_reprs():
    assert [repr(t) for t in (String(5), String(), Text(), Numeric(10, 2), Numeric(), Integer())] == [
        "String(5)", "String()", "Text()", "Numeric(10, 2)", "Numeric()", "Integer()"]
