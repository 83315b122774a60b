"""Interop check of issue 16: the same queries give the same Python values through covet's
PostgreSQL client and through psycopg 3, for every type covet decodes; the same Python values sent
as parameters come back the same; a row written by one driver reads back the same through the other.

    python3 benchmarks/pg_server.py -- benchmarks/.venv/bin/python benchmarks/pg_interop.py
    DATABASE_URL=postgresql://... benchmarks/.venv/bin/python benchmarks/pg_interop.py [-v]

Prints one line per difference and a summary; exits 1 on any difference, 2 when psycopg is not
installed or DATABASE_URL is missing. tests/test_postgres_interop.py runs it against the tests'
server.

Three parts:

1. **Results.** Each query of ``RESULT_CASES`` (a literal of each type, its edge values, NULL, its
   arrays) is read by five readers: covet's ``fetch_val`` (the formats covet asks for: binary for
   most types, text for numeric, json and the character types), covet's ``simple_query`` (every
   column in text), covet with every type asked in binary (a registry whose codecs all read
   binary), psycopg with text results and psycopg with binary results. psycopg's text reading is
   the reference; each other reader must give the same value by ``same()``. A query whose value
   Python cannot hold (``'infinity'::date``) must be refused by every reader. The timestamptz
   and timetz queries run again under the session time zones of ``ZONES``.
2. **Parameters in.** Each Python value of ``PARAM_CASES`` is sent to ``SELECT $1`` (covet) and
   ``SELECT %s`` (psycopg, binary and text dumpers), and, cast to the column type, back. Both
   drivers' answers must equal the value itself (by ``same()``) and each other.
3. **Across drivers.** Each value is inserted into a table column of its type by covet and by
   psycopg (parameters, not literals); covet reads psycopg's row and psycopg reads covet's; all
   four must equal the value.

``same(expected, got)`` is strict: the exact Python type, float signs and NaN, Decimal digits and
exponent (``Decimal('1.0')`` is not ``Decimal('1.00')``), the offset of an aware time, recursively
in lists and dicts. Where the two drivers legitimately differ in representation, one rule
(``RULES``) normalises, and the report says each time it applied:

- ``utc``: covet returns every timestamptz in UTC (docs/postgres-types.md), psycopg in the
  session TimeZone. Two aware datetimes compare as instants, and covet's must have offset 0.
- ``untyped-str``: both drivers send a list of ``str`` (or ``[]``) untyped (OID 0, so
  ``= ANY($1)`` works for any column type; docs/postgres-types.md): in a bare ``SELECT $1`` the
  server makes it ``text``, and the value read is the array's text. It is compared with the list
  sent after reading that text with covet's array text decoder. Cast to the column type, both
  are compared as lists with no rule.
- ``float4``: covet reads a float4 as the float4's own value in both formats (``0.1::float4`` is
  0.10000000149011612, as psycopg's binary loader and asyncpg give it); psycopg's text loader
  gives ``float(text)`` (0.1), another float8. psycopg's text value is rounded to float4
  (``struct`` ``f``) before comparing.
- ``char-nul``: psycopg's binary loader reads the empty ``"char"`` as ``'\\x00'``, its text
  loader (and covet, both formats) as ``''``; psycopg binary's ``'\\x00'`` is taken as ``''``.
"""
import argparse
import asyncio
import datetime as dt
import decimal
import ipaddress
import math
import os
import struct
import sys
import uuid
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from covet.database.postgres import PGConnection, TypeCodecError  # noqa: E402
from covet.database.postgres.arrays import decode_array_text  # noqa: E402
from covet.database.postgres.types import DEFAULT_REGISTRY, TypeRegistry  # noqa: E402

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # the peers live in benchmarks/.venv only
    psycopg = None

UTC = dt.timezone.utc
PLUS_0530 = dt.timezone(dt.timedelta(hours=5, minutes=30))
MINUS_08 = dt.timezone(dt.timedelta(hours=-8))
PLUS_0921 = dt.timezone(dt.timedelta(minutes=9, seconds=21))
ALL_BYTES = bytes(range(256))
UNICODE = "h\u00e9llo \u2603 \U0001F600 \u0645\u0631\u062d\u0628\u0627"

# The session time zones the timestamptz and timetz queries run under again: an offset with
# minutes, one west of UTC with DST, and Europe/Paris, whose 19th-century local mean time has an
# offset with seconds (+00:09:21).
ZONES = ("UTC", "Asia/Kolkata", "America/New_York", "Europe/Paris")

RULES = {
    "utc": "timestamptz: covet returns UTC, psycopg the session TimeZone; compared as instants, covet's offset 0",
    "untyped-str": "str lists go untyped (both drivers): bare SELECT $1 gives their array text, read with "
                   "covet's array decoder before comparing",
    "float4": "float4: covet gives the float4's own value (as psycopg binary, asyncpg); psycopg text float(text): "
              "rounded to float4 before comparing",
    "char-nul": 'psycopg binary reads the empty "char" as \'\\x00\', psycopg text and covet as \'\'',
}
_F4 = struct.Struct("f")


def normalise(label, reader, value, rules_used):
    """``value`` as read by ``reader`` after the rule that applies to it, if any (RULES)."""
    if label.startswith("float4") and reader == "psycopg text" and value is not None:
        rounded = _map(value, lambda x: _F4.unpack(_F4.pack(x))[0])
        if not _same_repr(rounded, value):
            rules_used.add("float4")
        return rounded
    if label == '"char"' and reader == "psycopg binary" and value == "\x00":
        rules_used.add("char-nul")
        return ""
    return value


def _map(value, function):
    if isinstance(value, list):
        return [_map(item, function) for item in value]
    return None if value is None else function(value)


def _same_repr(a, b):
    return repr(a) == repr(b)


def refused(sql):
    """A query whose value no Python type holds: every reader must raise."""
    return ("refused", sql)


def covet_refuses(sql, why):
    """A query psycopg answers wrongly (``why``): covet's readers must refuse it; psycopg's values
    are printed as a note, not compared."""
    return ("covet-refuses", sql, why)


# (label, SQL expression). Every expression is selected alone (``SELECT <expr> AS v``).
RESULT_CASES = [
    ("bool", "true"), ("bool", "false"), ("bool", "NULL::bool"),
    ("int2", "(-32768)::int2"), ("int2", "32767::int2"), ("int2", "0::int2"), ("int2", "NULL::int2"),
    ("int4", "(-2147483648)::int4"), ("int4", "2147483647::int4"), ("int4", "NULL::int4"),
    ("int8", "(-9223372036854775808)::int8"), ("int8", "9223372036854775807::int8"), ("int8", "NULL::int8"),
    ("oid", "4294967295::oid"), ("oid", "0::oid"), ("oid", "NULL::oid"),
    ("float4", "1.5::float4"), ("float4", "0.1::float4"), ("float4", "'-0'::float4"), ("float4", "'NaN'::float4"),
    ("float4", "'Infinity'::float4"), ("float4", "'-Infinity'::float4"), ("float4", "3.4028235e38::float4"),
    ("float4", "1e-45::float4"), ("float4", "NULL::float4"),
    ("float8", "0.1::float8"), ("float8", "'-0'::float8"), ("float8", "'NaN'::float8"),
    ("float8", "'Infinity'::float8"), ("float8", "'-Infinity'::float8"), ("float8", "1.7976931348623157e308::float8"),
    ("float8", "5e-324::float8"), ("float8", "(1/3.0)::float8"), ("float8", "NULL::float8"),
    ("numeric", "'NaN'::numeric"), ("numeric", "'Infinity'::numeric"), ("numeric", "'-Infinity'::numeric"),
    ("numeric", "0::numeric"), ("numeric", "0.000::numeric"), ("numeric", "'-0.000'::numeric"),
    ("numeric", "(-1.5)::numeric"), ("numeric", "12.30::numeric"), ("numeric", "1e30::numeric"),
    ("numeric", "1e-30::numeric"), ("numeric", "123456789012345678901234567890.123456789::numeric"),
    ("numeric", "0.00001::numeric"), ("numeric", "10000::numeric"), ("numeric", "9999.9999::numeric"),
    ("numeric", "(10::numeric ^ 1000)"), ("numeric", "round(1::numeric / 3, 1000)"),
    ("numeric", "(-(10::numeric ^ 131071))"), ("numeric", "round(1::numeric / 7, 16383)"),
    ("numeric", "1.5::numeric(10,4)"), ("numeric", "NULL::numeric"),
    ("text", "''::text"), ("text", "'%s'::text" % UNICODE), ("text", "'a\"b\\c{},NULL'::text"),
    ("text", "repeat('x', 100000)"), ("text", "NULL::text"),
    ("varchar", "'abc'::varchar(10)"), ("varchar", "''::varchar"), ("char", "'ab'::char(5)"),
    ("char", "''::char(3)"), ("char", "'\u00e9'::char(2)"), ("name", "'pg_class'::name"), ("name", "''::name"),
    ('"char"', "'a'::\"char\""), ('"char"', "''::\"char\""), ('"char"', "NULL::\"char\""),
    ("bytea", "''::bytea"), ("bytea", "'\\x00ff'::bytea"), ("bytea", "NULL::bytea"),
    ("bytea", "(SELECT string_agg(set_byte('\\x00'::bytea, 0, i), ''::bytea ORDER BY i) "
              "FROM generate_series(0, 255) AS i)"),
    ("date", "'2024-02-29'::date"), ("date", "'0001-01-01'::date"), ("date", "'9999-12-31'::date"),
    ("date", "'2000-01-01'::date"), ("date", "'1999-12-31'::date"), ("date", "NULL::date"),
    refused("'infinity'::date"), refused("'-infinity'::date"), refused("'0001-12-31 BC'::date"),
    refused("'10000-01-01'::date"),
    ("time", "'00:00'::time"), ("time", "'23:59:59.999999'::time"), ("time", "'12:34:56.5'::time"),
    ("time", "NULL::time"), refused("'24:00'::time"),
    ("timetz", "'12:00+05:30'::timetz"), ("timetz", "'00:00:00.000001-08'::timetz"),
    ("timetz", "'23:59:59.999999+00'::timetz"), ("timetz", "'12:00:00+00:09:21'::timetz"), ("timetz", "NULL::timetz"),
    ("timestamp", "'2024-01-01 12:00:00.123456'::timestamp"), ("timestamp", "'0001-01-01 00:00'::timestamp"),
    ("timestamp", "'9999-12-31 23:59:59.999999'::timestamp"), ("timestamp", "'1970-01-01'::timestamp"),
    ("timestamp", "NULL::timestamp"), refused("'infinity'::timestamp"), refused("'-infinity'::timestamp"),
    ("timestamptz", "'2024-01-01 12:00:00.123456+00'::timestamptz"),
    ("timestamptz", "'2024-07-01 12:00:00+05:30'::timestamptz"),
    ("timestamptz", "'2024-03-10 02:30:00-05'::timestamptz"),
    ("timestamptz", "'1900-01-01 00:00:00+00'::timestamptz"),
    ("timestamptz", "'1850-06-01 12:00:00+00'::timestamptz"),
    ("timestamptz", "'9999-12-31 12:00:00+00'::timestamptz"), ("timestamptz", "'0001-01-02 00:00:00+00'::timestamptz"),
    ("timestamptz", "NULL::timestamptz"), refused("'infinity'::timestamptz"),
    refused("'0001-01-01 00:30:00+01'::timestamptz"),  # year 0 in UTC (and in psycopg's UTC session)
    ("interval", "'0'::interval"), ("interval", "'1 year 2 mons 3 days 04:05:06.5'::interval"),
    ("interval", "'-1 year -2 mons'::interval"), ("interval", "'1 mon -1 days +23:59:59'::interval"),
    ("interval", "'-00:00:00.000001'::interval"), ("interval", "'1 day -00:00:01'::interval"),
    ("interval", "'100000 days 12:00:00'::interval"), ("interval", "'2562047788:00:54.775807'::interval"),
    ("interval", "'2739726 years'::interval"), refused("'2739727 years'::interval"), ("interval", "NULL::interval"),
    # psycopg's C loader multiplies years into a 32-bit day count that wraps: 178000000 years
    # (64,970,000,000 days, past timedelta's 999,999,999) comes out as 545,490,560 days.
    covet_refuses("'178000000 years'::interval", "psycopg wraps the day count at 2**32"),
    ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"), ("uuid", "'00000000-0000-0000-0000-000000000000'::uuid"),
    ("uuid", "NULL::uuid"),
    ("json", "'{\"a\": [1, 2.5, null, true, \"\u00e9\"], \"b\": {}}'::json"), ("json", "'[]'::json"),
    ("json", "'\"s\"'::json"), ("json", "'null'::json"), ("json", "'1e400'::json"), ("json", "NULL::json"),
    ("jsonb", "'{\"a\": [1, 2.5, null, true, \"\u00e9\"], \"b\": {}}'::jsonb"), ("jsonb", "'3'::jsonb"),
    ("jsonb", "'12345678901234567890.5'::jsonb"), ("jsonb", "NULL::jsonb"),
    ("inet", "'192.168.0.1'::inet"), ("inet", "'10.0.0.1/8'::inet"), ("inet", "'10.0.0.1/32'::inet"),
    ("inet", "'::1'::inet"), ("inet", "'fe80::1/64'::inet"), ("inet", "NULL::inet"),
    ("cidr", "'10.0.0.0/8'::cidr"), ("cidr", "'2001:db8::/32'::cidr"), ("cidr", "'192.168.1.7/32'::cidr"),
    ("cidr", "NULL::cidr"),
    # arrays: 1-D, 2-D, NULLs, empty, lower bounds, the quoting of text elements
    ("int4[]", "'{1,2,3}'::int4[]"), ("int4[]", "'{{1,2},{3,4}}'::int4[]"), ("int4[]", "'{1,NULL,3}'::int4[]"),
    ("int4[]", "'{}'::int4[]"), ("int4[]", "'[0:1]={1,2}'::int4[]"), ("int4[]", "'{{NULL,NULL}}'::int4[]"),
    ("int4[]", "NULL::int4[]"), ("int2[]", "'{1,-2}'::int2[]"), ("int8[]", "'{9223372036854775807}'::int8[]"),
    ("bool[]", "'{t,f,NULL}'::bool[]"), ("float4[]", "'{1.5,NaN,-Infinity}'::float4[]"),
    ("float8[]", "'{0.1,-0,Infinity,NULL}'::float8[]"),
    ("numeric[]", "'{1.10,NaN,-0.001,NULL}'::numeric[]"), ("numeric[]", "'{{1,2},{3.5,4}}'::numeric[]"),
    ("text[]", "ARRAY['', 'a b', 'NULL', NULL, 'say \"hi\"', 'back\\slash', '{}', ',', '%s']" % UNICODE),
    ("text[]", "'{{a,b},{c,d}}'::text[]"), ("text[]", "'{}'::text[]"), ("varchar[]", "'{x,y}'::varchar[]"),
    ("char[]", "'{a,bb}'::char(2)[]"), ("name[]", "'{a,b}'::name[]"), ('"char"[]', "'{a,b}'::\"char\"[]"),
    ("bytea[]", "ARRAY['\\x00ff'::bytea, ''::bytea, NULL]"),
    ("date[]", "'{2024-01-01,NULL}'::date[]"), ("time[]", "'{12:00,23:59:59.999999}'::time[]"),
    ("timetz[]", "'{12:00+02,13:00-03:30}'::timetz[]"),
    ("timestamp[]", "'{\"2024-01-01 00:00\",NULL}'::timestamp[]"),
    ("timestamptz[]", "'{\"2024-01-01 00:00+01\",\"1999-12-31 23:59:59.5-08\"}'::timestamptz[]"),
    ("interval[]", "'{\"1 day\",\"-1 mon\",NULL}'::interval[]"),
    ("uuid[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'::uuid[]"),
    ("json[]", "ARRAY['{\"a\":1}'::json, '[1,2]'::json, NULL]"), ("jsonb[]", "ARRAY['{\"a\":1}'::jsonb, 'null'::jsonb]"),
    ("inet[]", "'{192.168.0.1,10.0.0.1/8,::1}'::inet[]"), ("cidr[]", "'{10.0.0.0/8,2001:db8::/32}'::cidr[]"),
    ("oid[]", "'{1,4294967295}'::oid[]"),
]

# Queries run again under other session settings: each time zone of ZONES for the time types,
# bytea_output 'escape' for bytea (the text format's other spelling, which covet's text decoder
# reads too).
ZONE_CASES = [case for case in RESULT_CASES if case[0] in ("timestamptz", "timetz", "timestamptz[]", "timetz[]")]
BYTEA_CASES = [case for case in RESULT_CASES if case[0] in ("bytea", "bytea[]")]
BYTEA_ARRAY_SQL = "ARRAY['\\x00ff'::bytea, ''::bytea, NULL]"
assert ("bytea[]", BYTEA_ARRAY_SQL) in BYTEA_CASES

# (session, SQL) where psycopg's text loader is wrong: psycopg binary is the reference there, and
# psycopg text's value is printed as a note. Under bytea_output 'escape', psycopg's array parser
# takes the quotes of an empty element for its start: {"\\000\\377","",NULL} reads as
# [b'\x00\xff', b'",NULL}', None].
TEXT_REFERENCE_WRONG = {
    ("bytea_output escape", BYTEA_ARRAY_SQL): "psycopg's text array parser misreads an empty escape-format bytea",
}


# (label, Python value, column type for the table and the cast[, the value read back when it is
# not the value sent])
PARAM_CASES = [
    ("bool", True, "bool"), ("bool", False, "bool"),
    ("int2", 0, "int2"), ("int2", -32768, "int2"), ("int2", 32767, "int2"),
    ("int4", 2 ** 31 - 1, "int4"), ("int4", -2 ** 31, "int4"),
    ("int8", 2 ** 63 - 1, "int8"), ("int8", -2 ** 63, "int8"),
    # ints past int8 go as numeric, and numeric comes back as Decimal (both drivers)
    ("int > 64 bits", 2 ** 70, "numeric", Decimal(2 ** 70)), ("int > 64 bits", -(2 ** 64), "numeric", Decimal(-(2 ** 64))),
    ("float8", 1.5, "float8"), ("float8", -0.0, "float8"), ("float8", float("nan"), "float8"),
    ("float8", float("inf"), "float8"), ("float8", float("-inf"), "float8"), ("float8", 0.1, "float8"),
    ("float8", 1.7976931348623157e308, "float8"), ("float8", 5e-324, "float8"),
    ("numeric", Decimal("NaN"), "numeric"), ("numeric", Decimal("Infinity"), "numeric"),
    ("numeric", Decimal("-Infinity"), "numeric"), ("numeric", Decimal("0.000"), "numeric"),
    ("numeric", Decimal("-1.5"), "numeric"), ("numeric", Decimal("12.30"), "numeric"),
    # numeric has no exponent: a positive one comes back spelled out (dscale 0)
    ("numeric", Decimal("1E+30"), "numeric", Decimal(10 ** 30)), ("numeric", Decimal("1E-30"), "numeric"),
    ("numeric", Decimal("123456789012345678901234567890.123456789"), "numeric"),
    ("numeric", Decimal("0.00001"), "numeric"), ("numeric", Decimal("9999.9999"), "numeric"),
    ("numeric", Decimal("-0.0001"), "numeric"), ("numeric", Decimal(10) ** 1000, "numeric", Decimal(10 ** 1000)),
    ("numeric", Decimal("1E-16383"), "numeric"),
    ("text", "", "text"), ("text", UNICODE, "text"), ("text", 'a"b\\c{},', "text"), ("text", "NULL", "text"),
    ("text", " spaced ", "text"), ("varchar", "abc", "varchar"),
    ("bytea", b"", "bytea"), ("bytea", ALL_BYTES, "bytea"), ("bytea", b"\x00", "bytea"),
    ("date", dt.date(1, 1, 1), "date"), ("date", dt.date(9999, 12, 31), "date"), ("date", dt.date(2024, 2, 29), "date"),
    ("time", dt.time(0, 0), "time"), ("time", dt.time(23, 59, 59, 999999), "time"),
    ("timetz", dt.time(12, 0, tzinfo=PLUS_0530), "timetz"), ("timetz", dt.time(1, 2, 3, 4, tzinfo=MINUS_08), "timetz"),
    ("timetz", dt.time(12, 0, tzinfo=UTC), "timetz"),
    ("timestamp", dt.datetime(1, 1, 1), "timestamp"), ("timestamp", dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                                                                 "timestamp"),
    ("timestamp", dt.datetime(2024, 1, 1, 12, 0, 0, 123456), "timestamp"),
    ("timestamptz", dt.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC), "timestamptz"),
    ("timestamptz", dt.datetime(2024, 7, 1, 12, 0, tzinfo=PLUS_0530), "timestamptz"),
    ("timestamptz", dt.datetime(1900, 1, 1, 0, 0, tzinfo=PLUS_0921), "timestamptz"),
    ("timestamptz", dt.datetime(1, 1, 2, tzinfo=UTC), "timestamptz"),
    ("interval", dt.timedelta(0), "interval"), ("interval", dt.timedelta(days=-1, seconds=1), "interval"),
    ("interval", dt.timedelta(days=400, microseconds=1), "interval"),
    ("interval", dt.timedelta(microseconds=-1), "interval"),
    ("interval", dt.timedelta(days=999999999, seconds=86399, microseconds=999999), "interval"),
    ("uuid", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid"), ("uuid", uuid.UUID(int=0), "uuid"),
    ("jsonb", {"a": [1, 2.5, None, True, "\u00e9"], "b": {}}, "jsonb"), ("jsonb", {}, "jsonb"),
    ("inet", ipaddress.IPv4Address("192.168.0.1"), "inet"), ("inet", ipaddress.IPv4Interface("10.0.0.1/8"), "inet"),
    ("inet", ipaddress.IPv6Address("::1"), "inet"), ("inet", ipaddress.IPv6Interface("fe80::1/64"), "inet"),
    ("cidr", ipaddress.IPv4Network("10.0.0.0/8"), "cidr"), ("cidr", ipaddress.IPv6Network("2001:db8::/32"), "cidr"),
    ("int4[]", [1, 2, 3], "int4[]"), ("int4[]", [[1, 2], [3, 4]], "int4[]"), ("int4[]", [1, None, 3], "int4[]"),
    ("int8[]", [1, 2 ** 40], "int8[]"), ("bool[]", [True, False, None], "bool[]"),
    ("float8[]", [0.1, -0.0, float("inf"), None], "float8[]"),
    ("numeric[]", [Decimal("1.10"), None, Decimal("NaN")], "numeric[]"),
    ("text[]", ["a", "b c", "NULL", None, 'say "hi"', "", UNICODE], "text[]"), ("text[]", [], "text[]"),
    ("text[]", [["a", "b"], ["c", "d"]], "text[]"),
    ("bytea[]", [b"\x00\xff", b"", None], "bytea[]"), ("date[]", [dt.date(2024, 1, 1), None], "date[]"),
    ("timestamptz[]", [dt.datetime(2024, 1, 1, tzinfo=UTC), None], "timestamptz[]"),
    ("interval[]", [dt.timedelta(days=1), dt.timedelta(microseconds=-1)], "interval[]"),
    ("uuid[]", [uuid.UUID(int=1), None], "uuid[]"),
    ("inet[]", [ipaddress.IPv4Address("192.168.0.1"), ipaddress.IPv6Interface("fe80::1/64")], "inet[]"),
    ("NULL", None, "text"),
]


# --- comparison -------------------------------------------------------------------------------

class Outcome:
    """What one reader got: a value, or the exception it raised."""

    __slots__ = ("value", "error")

    def __init__(self, value=None, error=None):
        self.value = value
        self.error = error

    def __repr__(self):
        if self.error is not None:
            return "raised %s: %s" % (type(self.error).__name__, str(self.error).splitlines()[0][:100])
        return short(self.value)


def short(value):
    text = repr(value)
    return text if len(text) <= 160 else text[:150] + "...(%d chars)" % len(text)


def same(expected, got, rules_used):
    """None when ``got`` is ``expected`` by the strict rules of the module docstring, else why not.
    The normalisation rules that applied are added to ``rules_used``."""
    if type(expected) is not type(got):
        return "type %s, expected %s" % (type(got).__name__, type(expected).__name__)
    if isinstance(expected, float):
        if math.isnan(expected) and math.isnan(got):
            return None
        if expected == got and math.copysign(1.0, expected) == math.copysign(1.0, got):
            return None
        return "%r != %r" % (got, expected)
    if isinstance(expected, Decimal):
        return None if expected.as_tuple() == got.as_tuple() else "%s != %s" % (short(got), short(expected))
    if isinstance(expected, dt.datetime):
        if expected.tzinfo is None or got.tzinfo is None:
            if expected.tzinfo is not None or got.tzinfo is not None:
                return "aware and naive"
            return None if expected == got else "%r != %r" % (got, expected)
        if expected != got:
            return "instant %s != %s" % (got.isoformat(), expected.isoformat())
        if expected.utcoffset() != got.utcoffset():
            rules_used.add("utc")
        return None
    if isinstance(expected, dt.time):
        if expected != got or expected.utcoffset() != got.utcoffset():
            return "%r != %r" % (got, expected)
        return None
    if isinstance(expected, list):
        if len(expected) != len(got):
            return "%d elements, expected %d" % (len(got), len(expected))
        for index, (a, b) in enumerate(zip(expected, got)):
            why = same(a, b, rules_used)
            if why:
                return "[%d]: %s" % (index, why)
        return None
    if isinstance(expected, dict):
        if list(expected) != list(got) and sorted(expected) != sorted(got):
            return "keys %s, expected %s" % (sorted(got), sorted(expected))
        for key in expected:
            why = same(expected[key], got[key], rules_used)
            if why:
                return "[%r]: %s" % (key, why)
        return None
    return None if expected == got else "%s != %s" % (short(got), short(expected))


def utc_rule_check(reference, covet_value):
    """The ``utc`` rule's own half: covet's aware datetimes, anywhere in a value, are in UTC."""
    if isinstance(covet_value, dt.datetime) and covet_value.tzinfo is not None:
        return None if covet_value.utcoffset() == dt.timedelta(0) else "covet's timestamptz is not in UTC"
    if isinstance(covet_value, list) and isinstance(reference, list):
        for a, b in zip(reference, covet_value):
            why = utc_rule_check(a, b)
            if why:
                return why
    return None


# --- readers ------------------------------------------------------------------------------------

def all_binary_registry():
    """DEFAULT_REGISTRY with every type that has a binary decoder read in binary (numeric, json,
    text and "char" are read in text by default): covet's binary decoders meet the server's bytes."""
    registry = DEFAULT_REGISTRY.copy()
    for oid in list(range(1, 5000)):
        codec = registry.codec(oid)
        if codec is None or codec.element_oid or codec.decode_binary is None or codec.binary_results:
            continue
        registry.register_type(oid, name=codec.name, decode_text=codec.decode_text,
                               decode_binary=codec.decode_binary, encode_text=codec.encode_text,
                               encode_binary=codec.encode_binary, python_types=codec.python_types,
                               array_oid=codec.array_oid, binary_results=True, binary_params=codec.binary_params)
    return registry


class Readers:
    """The connections: covet (default formats), covet (all binary), psycopg; covet's default
    connection also runs the text reader (simple_query)."""

    def __init__(self, url, loop):
        self.loop = loop
        self.covet = loop.run_until_complete(PGConnection.connect_url(url))
        self.covet_binary = loop.run_until_complete(PGConnection.connect_url(url, registry=all_binary_registry()))
        self.psycopg = psycopg.connect(url, autocommit=True)

    def close(self):
        self.loop.run_until_complete(self.covet.close())
        self.loop.run_until_complete(self.covet_binary.close())
        self.psycopg.close()

    def set_zone(self, zone):
        self.set("SET TimeZone = '%s'" % zone)

    def set(self, sql):
        self.loop.run_until_complete(self.covet.simple_query(sql))
        self.loop.run_until_complete(self.covet_binary.simple_query(sql))
        self.psycopg.execute(sql)

    def run(self, name, call):
        try:
            return Outcome(call())
        except Exception as exc:  # a reader's refusal is an outcome, compared with the others'
            return Outcome(error=exc)

    def read_all(self, sql):
        """(reader name, Outcome) for each reader of one SELECT."""
        arun = self.loop.run_until_complete

        def simple():
            results = arun(self.covet.simple_query(sql))
            return list(results[-1].rows[0].values())[0]

        def via_psycopg(binary):
            return self.psycopg.cursor(binary=binary).execute(sql).fetchone()[0]

        return [
            ("psycopg text", self.run("psycopg text", lambda: via_psycopg(False))),
            ("psycopg binary", self.run("psycopg binary", lambda: via_psycopg(True))),
            ("covet", self.run("covet", lambda: arun(self.covet.fetch_val(sql)))),
            ("covet text", self.run("covet text", simple)),
            ("covet binary", self.run("covet binary", lambda: arun(self.covet_binary.fetch_val(sql)))),
        ]


def psycopg_param(value):
    """psycopg adapts a dict only when wrapped (covet sends a dict as jsonb by itself)."""
    return Jsonb(value) if isinstance(value, dict) else value


# --- the three parts ----------------------------------------------------------------------------

class Report:
    def __init__(self, verbose):
        self.verbose = verbose
        self.checks = 0
        self.failures = []
        self.rules = {}
        self.notes = []

    def note(self, text):
        self.notes.append(text)

    def check(self, where, why, rules_used=()):
        self.checks += 1
        for rule in rules_used:
            self.rules[rule] = self.rules.get(rule, 0) + 1
        if why:
            self.failures.append("%s: %s" % (where, why))
            print("DIFF  %s: %s" % (where, why))
        elif self.verbose:
            print("ok    %s%s" % (where, " (rule %s)" % ", ".join(sorted(rules_used)) if rules_used else ""))


def compare_results(readers, report, cases, zone):
    for label, sql, *why in cases:
        query = "SELECT %s AS v" % sql
        where = "%s %s%s" % (label, sql if len(sql) < 70 else sql[:67] + "...", "" if zone == "UTC" else " @ " + zone)
        outcomes = readers.read_all(query)
        if label == "refused":
            for name, outcome in outcomes:
                report.check("%s [%s]" % (where, name),
                             None if outcome.error is not None else "expected a refusal, got %s" % outcome)
            if report.verbose:
                for name, outcome in outcomes:
                    print("      %-15s %s" % (name, outcome))
            continue
        if label == "covet-refuses":
            for name, outcome in outcomes:
                if name.startswith("covet"):
                    report.check("%s [%s]" % (where, name),
                                 None if outcome.error is not None else "expected a refusal, got %s" % outcome)
                else:
                    report.note("%s [%s] gives %s: %s" % (where, name, outcome, why[0]))
            continue
        known = TEXT_REFERENCE_WRONG.get((zone, sql))
        if known is not None:
            report.note("%s [psycopg text] gives %s: %s" % (where, outcomes[0][1], known))
            outcomes = outcomes[1:]  # psycopg binary becomes the reference
        reference = outcomes[0][1]
        if reference.error is not None:
            report.check(where, "the reference (%s) raised %r" % (outcomes[0][0], reference))
            continue
        reference_rules = set()
        expected = normalise(label, outcomes[0][0], reference.value, reference_rules)
        for name, outcome in outcomes[1:]:
            rules_used = set(reference_rules)
            if outcome.error is not None:
                why = "%r" % outcome
            else:
                why = same(expected, normalise(label, name, outcome.value, rules_used), rules_used)
                if not why and name.startswith("covet"):
                    why = utc_rule_check(reference.value, outcome.value)
            report.check("%s [%s]" % (where, name), why, rules_used)


def compare_params(readers, report):
    arun = readers.loop.run_until_complete
    for label, value, column_type, expected in _params():
        for sql_covet, sql_psycopg, cast in (("SELECT $1", "SELECT %s", False),
                                             ("SELECT $1::" + column_type, "SELECT %s::" + column_type, True)):
            where = "param %s %s%s" % (label, short(value)[:60], " ::" + column_type if cast else "")
            got = {}
            try:
                got["covet"] = Outcome(arun(readers.covet.fetch_val(sql_covet, [value])))
            except Exception as exc:
                got["covet"] = Outcome(error=exc)
            for binary in (False, True):
                name = "psycopg %s" % ("binary" if binary else "text")
                try:
                    cursor = readers.psycopg.cursor(binary=binary)
                    got[name] = Outcome(cursor.execute(sql_psycopg, [psycopg_param(value)]).fetchone()[0])
                except Exception as exc:
                    got[name] = Outcome(error=exc)
            for name, outcome in got.items():
                rules_used = set()
                if outcome.error is not None:
                    why = repr(outcome)
                else:
                    received = outcome.value
                    if (not cast and isinstance(value, list) and isinstance(received, str)
                            and all(isinstance(x, str) for x in _flat(value) if x is not None)):
                        received = decode_array_text(received, str)
                        rules_used.add("untyped-str")
                    why = same(expected, received, rules_used)
                report.check("%s [%s]" % (where, name), why, rules_used)


def _params():
    """PARAM_CASES as (label, value, column type, value expected back)."""
    for case in PARAM_CASES:
        yield case if len(case) == 4 else case + (case[1],)


def _flat(value):
    for item in value:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


def compare_tables(readers, report):
    arun = readers.loop.run_until_complete
    psy = readers.psycopg
    columns = sorted({case[2] for case in PARAM_CASES})
    tables = {}
    for index, column_type in enumerate(columns):
        table = "interop_%d" % index
        tables[column_type] = table
        psy.execute("DROP TABLE IF EXISTS %s" % table)
        psy.execute("CREATE TABLE %s (id int PRIMARY KEY, writer text NOT NULL, v %s)" % (table, column_type))
    try:
        for number, (label, value, column_type, expected) in enumerate(_params()):
            table = tables[column_type]
            where = "table %s %s" % (column_type, short(value)[:60])
            try:
                arun(readers.covet.execute("INSERT INTO %s (id, writer, v) VALUES ($1, $2, $3)" % table,
                                           [2 * number, "covet", value]))
                psy.execute("INSERT INTO %s (id, writer, v) VALUES (%%s, %%s, %%s)" % table,
                            [2 * number + 1, "psycopg", psycopg_param(value)])
            except Exception as exc:
                report.check(where, "insert raised %s: %s" % (type(exc).__name__, exc))
                continue
            for reader in ("covet", "psycopg text", "psycopg binary"):
                for writer, row_id in (("covet", 2 * number), ("psycopg", 2 * number + 1)):
                    sql = "SELECT v FROM %s WHERE id = %d" % (table, row_id)
                    try:
                        if reader == "covet":
                            got = arun(readers.covet.fetch_val(sql))
                        else:
                            got = psy.cursor(binary=reader.endswith("binary")).execute(sql).fetchone()[0]
                    except Exception as exc:
                        report.check("%s [%s wrote, %s read]" % (where, writer, reader),
                                     "raised %s: %s" % (type(exc).__name__, exc))
                        continue
                    rules_used = set()
                    why = same(expected, got, rules_used)
                    report.check("%s [%s wrote, %s read]" % (where, writer, reader), why, rules_used)
    finally:
        for table in tables.values():
            psy.execute("DROP TABLE IF EXISTS %s" % table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every check, not only differences")
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"), help="default: $DATABASE_URL")
    args = parser.parse_args(argv)
    if psycopg is None:
        print("pg_interop: psycopg is not installed (it lives in benchmarks/.venv)", file=sys.stderr)
        return 2
    if not args.url:
        print("pg_interop: no DATABASE_URL (run it under benchmarks/pg_server.py -- ...)", file=sys.stderr)
        return 2
    loop = asyncio.new_event_loop()
    readers = Readers(args.url, loop)
    report = Report(args.verbose)
    try:
        print("pg_interop: covet against psycopg %s (%s libpq wrapper), server %s"
              % (psycopg.__version__, psycopg.pq.__impl__, readers.covet.parameters.get("server_version")))
        for zone in ZONES:
            readers.set_zone(zone)
            compare_results(readers, report, RESULT_CASES if zone == "UTC" else ZONE_CASES, zone)
        readers.set_zone("UTC")
        readers.set("SET bytea_output = 'escape'")
        compare_results(readers, report, BYTEA_CASES, "bytea_output escape")
        readers.set("SET bytea_output = 'hex'")
        compare_params(readers, report)
        compare_tables(readers, report)
    finally:
        readers.close()
        loop.close()
    print("\npg_interop: %d checks, %d differences" % (report.checks, len(report.failures)))
    for text in report.notes:
        print("  note: a psycopg defect, not compared: " + text)
    for rule, count in sorted(report.rules.items()):
        print("  rule %-12s applied %4d times: %s" % (rule, count, RULES[rule]))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
