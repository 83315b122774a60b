"""covet's PostgreSQL type codecs, on byte strings alone (no server): every built-in type in both
wire formats, byte-exact against what PostgreSQL sends, the edge values each side cannot hold, the
parameter rules, and bytes from a hostile server.

SERVER_VALUES was recorded from PostgreSQL 15 (Debian 15.18) with TimeZone 'Europe/Paris',
DateStyle ISO and IntervalStyle postgres: for each value, ``SELECT '<covet's text>'::type`` gave
the text column and ``encode(<type>send('<covet's text>'::type), 'hex')`` the binary one, so each
row checks that the server reads covet's text encoding, that covet reads both server outputs back
to the value, and that covet's binary encoding is the server's byte for byte.
"""
import enum
import math
import struct
import uuid
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from ipaddress import (IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network,
                       ip_address, ip_network)
from typing import Optional
from uuid import UUID

import pytest

from covet.database.errors import DataError
from covet.database.postgres.arrays import (MAX_DIMENSIONS, array_shape, decode_array_binary, decode_array_text,
                                            encode_array_binary, encode_array_text)
from covet.database.postgres.types import (
    BINARY_FORMAT, BOOL, BYTEA, CHAR, CIDR, DATE, DEFAULT_REGISTRY, FLOAT4, FLOAT8, INET, INT2, INT4, INT8,
    INTERVAL, JSON, JSONB, NAME, NUMERIC, OID, TEXT, TEXT_FORMAT, TIME, TIMESTAMP, TIMESTAMPTZ, TIMETZ, UNSPECIFIED,
    VARCHAR, BPCHAR, Json, MalformedValueError, Parameter, TypeCodecError, TypeRegistry, register_type, result_format,
)
from covet.database.postgres.types import UUID as UUID_OID

R = DEFAULT_REGISTRY
UTC = timezone.utc
INF = float("inf")
NAN = float("nan")


def tz(hours: int, minutes: int = 0, seconds: int = 0) -> timezone:
    return timezone(timedelta(hours=hours, minutes=minutes, seconds=seconds))


def same(a, b) -> bool:
    """Equal, NaN equal to NaN, and the same repr (Decimal('12.30') is not Decimal('12.3') here)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan() and b.is_nan():
        return True
    if isinstance(a, datetime) and isinstance(b, datetime) and (a.tzinfo is None) != (b.tzinfo is None):
        return False
    return a == b and (isinstance(a, datetime) or repr(a) == repr(b) or a == b and type(a) is type(b))


# (type OID, Python value, server's text output, server's binary output in hex)
SERVER_VALUES = [
    (BOOL, True, 't', '01'),
    (BOOL, False, 'f', '00'),
    (INT2, -32768, '-32768', '8000'),
    (INT2, 32767, '32767', '7fff'),
    (INT4, -2147483648, '-2147483648', '80000000'),
    (INT8, 9223372036854775807, '9223372036854775807', '7fffffffffffffff'),
    (OID, 4294967295, '4294967295', 'ffffffff'),
    (FLOAT4, 1.5, '1.5', '3fc00000'),
    (FLOAT4, INF, 'Infinity', '7f800000'),
    (FLOAT8, 0.1, '0.1', '3fb999999999999a'),
    (FLOAT8, -1e+300, '-1e+300', 'fe37e43c8800759c'),
    (FLOAT8, -INF, '-Infinity', 'fff0000000000000'),
    (FLOAT8, 5e-324, '5e-324', '0000000000000001'),
    (NUMERIC, Decimal('12.34'), '12.34', '0002000000000002000c0d48'),
    (NUMERIC, Decimal('-0.000100'), '-0.000100', '0001ffff400000060001'),
    (NUMERIC, Decimal('1E+40'), '10000000000000000000000000000000000000000', '0001000a000000000001'),
    (NUMERIC, Decimal('NaN'), 'NaN', '00000000c0000000'),
    (NUMERIC, Decimal('-Infinity'), '-Infinity', '00000000f0000020'),
    (NUMERIC, Decimal('1E-30'), '0.000000000000000000000000000001', '0001fff80000001e0064'),
    (TEXT, 'a b', 'a b', '612062'),
    (TEXT, 'é', 'é', 'c3a9'),
    (TEXT, '', '', ''),
    (BYTEA, b'\x00\xff\\', '\\x00ff5c', '00ff5c'),
    (BYTEA, b'', '\\x', ''),
    (UUID_OID, UUID('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc999c0b4ef8bb6d6bb9bd380a11'),
    (INET, IPv4Address('192.168.0.1'), '192.168.0.1', '02200004c0a80001'),
    (INET, IPv4Interface('10.1.2.3/8'), '10.1.2.3/8', '020800040a010203'),
    (INET, IPv6Interface('2001:db8::1/64'), '2001:db8::1/64', '0340001020010db8000000000000000000000001'),
    (CIDR, IPv4Network('10.0.0.0/8'), '10.0.0.0/8', '020801040a000000'),
    (CIDR, IPv6Network('::/0'), '::/0', '0300011000000000000000000000000000000000'),
    (JSONB, {'a': [1, 'x,"y"'], 'é': None}, '{"a": [1, "x,\\"y\\""], "é": null}', '017b2261223a205b312c2022782c5c22795c22225d2c2022c3a9223a206e756c6c7d'),
    (JSON, [1, {'b': 2}], '[1,{"b":2}]', '5b312c7b2262223a327d5d'),
    (DATE, date(1, 1, 1), '0001-01-01', 'fff4dbf9'),
    (DATE, date(9999, 12, 31), '9999-12-31', '002c95d3'),
    (DATE, date(2024, 2, 29), '2024-02-29', '00002279'),
    (TIME, time(0, 0), '00:00:00', '0000000000000000'),
    (TIME, time(23, 59, 59, 999999), '23:59:59.999999', '000000141dd75fff'),
    (TIMETZ, time(12, 0, tzinfo=tz(-3, -30)), '12:00:00-03:30', '0000000a0eebb00000003138'),
    (TIMETZ, time(1, 2, 3, 500000, tzinfo=tz(5, 30, 15)), '01:02:03.5+05:30:15', '00000000ddf019e0ffffb299'),
    (TIMESTAMP, datetime(1, 1, 1, 0, 0), '0001-01-01 00:00:00', 'ff1fe2ffc59c6000'),
    (TIMESTAMP, datetime(2024, 1, 2, 3, 4, 5, 123456), '2024-01-02 03:04:05.123456', '0002b0ec8517d580'),
    (TIMESTAMP, datetime(9999, 12, 31, 23, 59, 59, 999999), '9999-12-31 23:59:59.999999', '0380e70b913b7fff'),
    (TIMESTAMPTZ, datetime(2024, 3, 31, 1, 30, tzinfo=UTC), '2024-03-31 03:30:00+02', '0002b7e9947e7600'),
    (TIMESTAMPTZ, datetime(1900, 1, 1, 0, 0, tzinfo=UTC), '1900-01-01 00:09:21+00:09:21', 'fff4c9ee7c0b8000'),
    (TIMESTAMPTZ, datetime(2024, 6, 1, 12, 0, tzinfo=tz(9)), '2024-06-01 05:00:00+02', '0002bcca10852c00'),
    (INTERVAL, timedelta(days=-1, seconds=86399, microseconds=999999), '-1 days +23:59:59.999999', '000000141dd75fffffffffff00000000'),
    (INTERVAL, timedelta(days=2, seconds=82800), '2 days 23:00:00', '000000134743bc000000000200000000'),
    (INTERVAL, timedelta(days=-400, seconds=3, microseconds=500000), '-400 days +00:00:03.5', '00000000003567e0fffffe7000000000'),
    (INTERVAL, timedelta(0), '00:00:00', '00000000000000000000000000000000'),
    (INTERVAL, timedelta(days=999999999), '999999999 days', '00000000000000003b9ac9ff00000000'),
    (1007, [1, None, 3], '{1,NULL,3}', '00000001000000010000001700000003000000010000000400000001ffffffff0000000400000003'),  # int4[]
    (1007, [[1, 2], [3, 4]], '{{1,2},{3,4}}', '000000020000000000000017000000020000000100000002000000010000000400000001000000040000000200000004000000030000000400000004'),  # int4[]
    (1007, [], '{}', '000000000000000000000017'),  # int4[]
    (1009, ['a b', None, 'NULL', 'x"y', 'back\\slash', '{c}', 'é', ' lead', ''], '{"a b",NULL,"NULL","x\\"y","back\\\\slash","{c}",é," lead",""}', '000000010000000100000019000000090000000100000003612062ffffffff000000044e554c4c000000037822790000000a6261636b5c736c617368000000037b637d00000002c3a900000005206c65616400000000'),  # text[]
    (1001, [b'\x01\xff', None], '{"\\\\x01ff",NULL}', '00000001000000010000001100000002000000010000000201ffffffffff'),  # bytea[]
    (1231, [Decimal('1.5'), Decimal('NaN'), None], '{1.5,NaN,NULL}', '0000000100000001000006a400000003000000010000000c0002000000000001000113880000000800000000c0000000ffffffff'),  # numeric[]
    (1185, [datetime(2024, 1, 1, 10, 0, tzinfo=UTC)], '{"2024-01-01 11:00:00+01"}', '0000000100000000000004a00000000100000001000000080002b0de36ada800'),  # timestamptz[]
    (3807, [{'a': '{x}'}, None], '{"{\\"a\\": \\"{x}\\"}",NULL}', '000000010000000100000eda00000002000000010000000d017b2261223a20227b787d227dffffffff'),  # jsonb[]
    (1115, [datetime(2024, 1, 1, 10, 0)], '{"2024-01-01 10:00:00"}', '00000001000000000000045a0000000100000001000000080002b0de36ada800'),  # timestamp[]
    (1187, [timedelta(days=-1, seconds=86395)], '{"-1 days +23:59:55"}', '0000000100000000000004a2000000010000000100000010000000141d8b14c0ffffffff00000000'),  # interval[]
    (1041, [IPv6Address('::1')], '{::1}', '0000000100000000000003650000000100000001000000140380001000000000000000000000000000000001'),  # inet[]
    (2951, [UUID('00000000-0000-0000-0000-000000000005')], '{00000000-0000-0000-0000-000000000005}', '000000010000000000000b8600000001000000010000001000000000000000000000000000000005'),  # uuid[]
    (1000, [True, None, False], '{t,NULL,f}', '00000001000000010000001000000003000000010000000101ffffffff0000000100'),  # bool[]
    (1183, [time(1, 2)], '{01:02:00}', '00000001000000000000043b00000001000000010000000800000000ddbab200'),  # time[]
    (1021, [1.5, NAN], '{1.5,NaN}', '0000000100000000000002bc0000000200000001000000043fc00000000000047fc00000'),  # float4[]
    (1028, [1, 4294967295], '{1,4294967295}', '00000001000000000000001a0000000200000001000000040000000100000004ffffffff'),  # oid[]
    (1270, [time(12, 0, tzinfo=UTC)], '{12:00:00+00}', '0000000100000000000004f200000001000000010000000c0000000a0eebb00000000000'),  # timetz[]
    (199, [{'a': 1}], '{"{\\"a\\":1}"}', '0000000100000000000000720000000100000001000000077b2261223a317d'),  # json[]
]

# Binary encodings that differ from the server's bytes and are still what it reads: jsonb_send
# prints JSON with spaces (covet sends none); numeric_send puts a display scale into the header
# of an infinity, which numeric_recv ignores.
NOT_BYTE_EXACT = {JSON, JSONB, 199, 3807}


def _ids(rows):
    return ["%s:%r" % (R.type_name(row[0]), row[1])[:60] for row in rows]


@pytest.mark.parametrize("oid, value, text, hexed", SERVER_VALUES, ids=_ids(SERVER_VALUES))
def test_server_outputs_decode_to_the_value(oid, value, text, hexed):
    from_text = R.decode(oid, TEXT_FORMAT, text.encode("utf-8"))
    from_binary = R.decode(oid, BINARY_FORMAT, bytes.fromhex(hexed))
    assert same(from_text, value)
    assert same(from_binary, value)
    if oid in (TIMESTAMPTZ, 1185):  # timestamptz is aware and in UTC whatever the session zone
        for decoded in (from_text, from_binary):
            for item in (decoded if isinstance(decoded, list) else [decoded]):
                assert item.tzinfo is UTC


@pytest.mark.parametrize("oid, value, text, hexed", SERVER_VALUES, ids=_ids(SERVER_VALUES))
def test_declared_parameters_encode_as_the_server_sends(oid, value, text, hexed):
    param = R.encode_as(value, oid)
    assert param.oid == oid
    if param.format == BINARY_FORMAT:
        if oid in NOT_BYTE_EXACT or (oid == NUMERIC and value.is_infinite()):
            assert same(R.decode(oid, BINARY_FORMAT, param.data), value)
        else:
            assert param.data.hex() == hexed
    else:
        assert same(R.decode(oid, TEXT_FORMAT, param.data), value)


@pytest.mark.parametrize("oid, value, text, hexed", SERVER_VALUES, ids=_ids(SERVER_VALUES))
def test_text_encoding_round_trips(oid, value, text, hexed):
    codec = R.codec(oid)
    assert same(codec.decode_text(codec.encode_text(value)), value)


def test_every_builtin_type_and_its_array_is_registered():
    scalars = [BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID, JSON, JSONB, FLOAT4, FLOAT8, CIDR, INET, BPCHAR,
               VARCHAR, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ, NUMERIC, UUID_OID]
    arrays = {BOOL: 1000, BYTEA: 1001, CHAR: 1002, NAME: 1003, INT8: 1016, INT2: 1005, INT4: 1007, TEXT: 1009,
              OID: 1028, JSON: 199, JSONB: 3807, FLOAT4: 1021, FLOAT8: 1022, CIDR: 651, INET: 1041, BPCHAR: 1014,
              VARCHAR: 1015, DATE: 1182, TIME: 1183, TIMESTAMP: 1115, TIMESTAMPTZ: 1185, INTERVAL: 1187,
              TIMETZ: 1270, NUMERIC: 1231, UUID_OID: 2951}
    for oid in scalars:
        codec = R.codec(oid)
        assert codec is not None and codec.array_oid == arrays[oid]
        array = R.codec(arrays[oid])
        assert array.element_oid == oid and array.name == codec.name + "[]"
        assert array.decode_binary is not None and R.result_format(arrays[oid]) == BINARY_FORMAT


def test_result_formats_binary_where_it_pays_text_elsewhere():
    binary = [BOOL, BYTEA, INT2, INT4, INT8, OID, FLOAT4, FLOAT8, UUID_OID, INET, CIDR, DATE, TIME, TIMETZ,
              TIMESTAMP, TIMESTAMPTZ, INTERVAL, 1007, 1009, 1231]
    text = [TEXT, VARCHAR, BPCHAR, NAME, CHAR, JSON, JSONB, NUMERIC, 705, 2278, 999999]
    assert [result_format(oid) for oid in binary] == [1] * len(binary)
    assert [result_format(oid) for oid in text] == [0] * len(text)


# --- numeric ------------------------------------------------------------------------------------

def numeric_bytes(ndigits, weight, sign, dscale, *digits):
    return struct.pack("!hhHH%dH" % len(digits), ndigits, weight, sign, dscale, *digits)


def test_numeric_binary_layout_of_the_documented_example():
    # 12.34: ndigits=2, weight=0, sign=0, dscale=2, base-10000 digits [12, 3400]
    assert R.encode(Decimal("12.34")) == Parameter(NUMERIC, 1, numeric_bytes(2, 0, 0, 2, 12, 3400))
    assert R.decode(NUMERIC, 1, numeric_bytes(2, 0, 0, 2, 12, 3400)) == Decimal("12.34")


@pytest.mark.parametrize("text, layout", [
    ("0", (0, 0, 0, 0)), ("0.00", (0, 0, 0, 2)), ("-0", (0, 0, 0, 0)), ("10000", (1, 1, 0, 0, 1)),
    ("0.0001", (1, -1, 0, 4, 1)), ("-1.5", (2, 0, 0x4000, 1, 1, 5000)), ("1E+1000", (1, 250, 0, 0, 1)),
    ("1E-1000", (1, -250, 0, 1000, 1)), ("NaN", (0, 0, 0xC000, 0)), ("Infinity", (0, 0, 0xD000, 0)),
    ("-Infinity", (0, 0, 0xF000, 0)), ("123456789.000100", (4, 2, 0, 6, 1, 2345, 6789, 1)),
])
def test_numeric_binary_layouts(text, layout):
    assert R.codec(NUMERIC).encode_binary(Decimal(text)) == numeric_bytes(*layout)


@pytest.mark.parametrize("text", [
    "0", "0.000", "-0.5", "1", "-1", "9999", "10000", "99999999.99999999", "0.00000001", "1E+1000", "1E-1000",
    "-3.14159265358979323846264338327950288419716939937510", "1" * 1000 + "." + "9" * 1000, "1E+131071",
    "1E-16383", "123.4500", "NaN", "Infinity", "-Infinity",
])
def test_numeric_round_trips_in_both_formats(text):
    codec = R.codec(NUMERIC)
    value = Decimal(text)
    from_binary = codec.decode_binary(codec.encode_binary(value))
    from_text = codec.decode_text(codec.encode_text(value))
    # the decoded exponent is -dscale, as the server's own text output gives it
    expected = value if value.is_nan() or value.is_infinite() or value.as_tuple().exponent <= 0 \
        else Decimal(codec.encode_text(value))
    assert same(from_binary, expected) and same(from_text, expected)
    if not value.is_nan():
        assert from_binary == value


def test_numeric_negative_zero_is_zero_and_ints_floats_go_exactly():
    codec = R.codec(NUMERIC)
    assert codec.encode_binary(Decimal("-0.00")) == numeric_bytes(0, 0, 0, 2)
    assert codec.encode_text(Decimal("-0.00")) == "0.00"
    assert codec.encode_text(0.1) == "0.1"  # the float's shortest repr, not its binary expansion
    assert R.encode_as(2 ** 70, NUMERIC).data == codec.encode_binary(Decimal(2 ** 70))
    assert R.encode(2 ** 70).oid == NUMERIC and R.encode(-2 ** 63).oid == INT8


def test_numeric_digits_past_the_display_scale_are_cut_as_numeric_recv_does():
    # digits [1, 2345] weight 0 is 1.2345; dscale 2 shows 1.23 (trunc_var, no rounding)
    assert R.decode(NUMERIC, 1, numeric_bytes(2, 0, 0, 2, 1, 2345)) == Decimal("1.23")
    assert str(R.decode(NUMERIC, 1, numeric_bytes(1, 0, 0, 3, 7))) == "7.000"


@pytest.mark.parametrize("value, message", [
    (Decimal("sNaN"), "signalling NaN"),
    (Decimal("1E+131072"), "more than 131072 digits before the decimal point"),
    (Decimal("1E-16384"), "has 16384 decimals, numeric takes at most 16383"),
    (Decimal("1E+999999999"), "more than 131072 digits"),
])
def test_numeric_out_of_range_refused_before_building_it(value, message):
    for encode in (R.codec(NUMERIC).encode_binary, R.codec(NUMERIC).encode_text):
        with pytest.raises(TypeCodecError, match=message):
            encode(value)
    with pytest.raises(TypeCodecError, match=message):
        R.encode(value)


@pytest.mark.parametrize("data, message", [
    (b"\x00\x01\x00", "shorter than its header"),
    (numeric_bytes(3, 0, 0, 0, 1, 2), "3 digits announced, 4 bytes of digits sent"),
    (numeric_bytes(1, 0, 0, 0, 10000), "digit above 9999"),
    (numeric_bytes(1, 0, 0x1234, 0, 1), "header of .* is not valid"),
    (numeric_bytes(0, 0, 0, 0x4000), "header of .* is not valid"),
    (numeric_bytes(-1, 0, 0, 0), "header of .* is not valid"),
    (numeric_bytes(1, 0, 0xC000, 0, 1), "special value .* carries digits"),
])
def test_numeric_hostile_binary_refused(data, message):
    with pytest.raises(MalformedValueError, match=message):
        R.codec(NUMERIC).decode_binary(data)


@pytest.mark.parametrize("text", ["1e5", "1_000", " 1", "١", "+1", "1.", ".5", "nan", "inf", ""])
def test_numeric_text_that_numeric_out_never_prints_is_refused(text):
    with pytest.raises(MalformedValueError):
        R.codec(NUMERIC).decode_text(text)
