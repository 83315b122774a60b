"""numeric <-> ``decimal.Decimal``, text and binary, never through ``float``.

The binary format (``numeric_send`` in PostgreSQL's ``src/backend/utils/adt/numeric.c``) is a
header of four 16-bit fields, then the digits in base 10000, most significant first::

    ndigits  int16   number of base-10000 digits that follow
    weight   int16   power of 10000 of the first digit (0: units, -1: 1/10000, ...)
    sign     uint16  0x0000 positive, 0x4000 negative, 0xC000 NaN,
                     0xD000 +Infinity, 0xF000 -Infinity (the last two since PostgreSQL 14)
    dscale   uint16  digits shown after the decimal point (0 to 0x3FFF)
    digits   int16 * ndigits, each 0..9999

so 12.34 is ndigits=2, weight=0, sign=0, dscale=2, digits [12, 3400]. Leading and trailing zero
digits are not sent; zero is ndigits=0. A decoded Decimal always has exponent ``-dscale``, as
``Decimal(text)`` of the server's text output has, so both formats give equal tuples:
``Decimal("12.30")``, not ``Decimal("12.3")``.

Example::

    assert encode_numeric_binary(Decimal("12.34")) == bytes.fromhex("0002 0000 0000 0002 000c 0d48")
    assert decode_numeric_binary(bytes.fromhex("0002 0000 0000 0002 000c 0d48")) == Decimal("12.34")
"""
import re
import struct
from decimal import Decimal
from typing import Any, Tuple

from ._typeerrors import MalformedValueError, TypeCodecError, describe
from .oids import NUMERIC

__all__ = [
    "decode_numeric_text", "decode_numeric_binary", "encode_numeric_text", "encode_numeric_binary",
    "NUMERIC_MAX_WEIGHT_DIGITS", "NUMERIC_MAX_DSCALE",
]

_POS, _NEG, _NAN, _PINF, _NINF = 0x0000, 0x4000, 0xC000, 0xD000, 0xF000
_HEADER = struct.Struct("!hhHH")

# numeric.c: "up to 131072 digits before the decimal point; up to 16383 digits after"
# (NUMERIC_DSCALE_MAX = 0x3FFF). A value past these is refused here, before its text or its
# digits are built: Decimal("1E+999999999") is a valid Python value of a billion digits.
NUMERIC_MAX_WEIGHT_DIGITS = 131072
NUMERIC_MAX_DSCALE = 0x3FFF

# numeric_out never prints an exponent; NaN and [-]Infinity are its special values.
_NUMERIC_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?|NaN|-?Infinity", re.ASCII)


def decode_numeric_text(text: str) -> Decimal:
    if _NUMERIC_TEXT.fullmatch(text) is None:
        raise MalformedValueError("numeric: %r is not a decimal number" % text[:40], NUMERIC)
    return Decimal(text)


def decode_numeric_binary(data: bytes) -> Decimal:
    if len(data) < 8:
        raise MalformedValueError("numeric: %s is shorter than its header" % describe(data), NUMERIC)
    ndigits, weight, sign, dscale = _HEADER.unpack_from(data)
    if sign in (_NAN, _PINF, _NINF):
        if ndigits != 0 or len(data) != 8:
            raise MalformedValueError("numeric: special value %s carries digits" % describe(data), NUMERIC)
        return Decimal("NaN" if sign == _NAN else "Infinity" if sign == _PINF else "-Infinity")
    if sign not in (_POS, _NEG) or ndigits < 0 or dscale > NUMERIC_MAX_DSCALE:
        raise MalformedValueError("numeric: header of %s is not valid" % describe(data), NUMERIC)
    if len(data) != 8 + 2 * ndigits:
        raise MalformedValueError("numeric: %d digits announced, %d bytes of digits sent"
                                  % (ndigits, len(data) - 8), NUMERIC)
    digits = struct.unpack_from("!%dH" % ndigits, data, 8)
    if ndigits and max(digits) > 9999:
        raise MalformedValueError("numeric: a base-10000 digit above 9999 in %s" % describe(data), NUMERIC)
    text = "".join(["%04d" % digit for digit in digits]) or "0"
    # The digits stand for text * 10**exponent; the value is shown with dscale decimals, so the
    # exponent becomes -dscale: zeros appended, or digits past dscale cut (numeric_recv applies
    # trunc_var to them, it does not round).
    exponent = (weight - ndigits + 1) * 4 if ndigits else 0
    shift = exponent + dscale
    if shift > 0:
        text += "0" * shift
    elif shift < 0:
        text = text[:shift] or "0"
    return Decimal("%s%sE-%d" % ("-" if sign == _NEG else "", text, dscale))


def _finite_parts(value: Any) -> Tuple[int, str, int]:
    """(sign, digit string without leading zeros, exponent) of a finite number, range-checked."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        number = Decimal(repr(value))  # 0.1 is sent as 0.1, not as its binary expansion
    else:
        number = Decimal(value)
    if number.is_snan():
        raise TypeCodecError("signalling NaN has no numeric counterpart", NUMERIC)
    sign, digit_tuple, exponent = number.as_tuple()
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    if not isinstance(exponent, int):  # 'n' or 'F': handled by the callers before this
        raise TypeCodecError("%r is not finite" % (value,), NUMERIC)
    if -exponent > NUMERIC_MAX_DSCALE:
        raise TypeCodecError("%s has %d decimals, numeric takes at most %d"
                             % (_short(number), -exponent, NUMERIC_MAX_DSCALE), NUMERIC)
    if digits and len(digits) + exponent > NUMERIC_MAX_WEIGHT_DIGITS:
        raise TypeCodecError("%s has more than %d digits before the decimal point"
                             % (_short(number), NUMERIC_MAX_WEIGHT_DIGITS), NUMERIC)
    return sign, digits, exponent


def _short(number: Decimal) -> str:
    text = "%E" % number if len(number.as_tuple().digits) > 20 else str(number)
    return text


def _special(value: Any) -> int:
    """The sign word of NaN or an infinity, 0 for a finite value."""
    if isinstance(value, Decimal):
        if value.is_nan() and not value.is_snan():
            return _NAN
        if value.is_infinite():
            return _NINF if value.is_signed() else _PINF
    elif isinstance(value, float) and value != value:
        return _NAN
    elif isinstance(value, float) and value in (float("inf"), float("-inf")):
        return _PINF if value > 0 else _NINF
    return 0


def encode_numeric_text(value: Any) -> str:
    special = _special(value)
    if special:
        return {_NAN: "NaN", _PINF: "Infinity", _NINF: "-Infinity"}[special]
    sign, digits, exponent = _finite_parts(value)
    # Plain notation, never an exponent: servers before PostgreSQL 11 refuse exponents past 1000,
    # and _finite_parts bounded the length this builds.
    if exponent >= 0:
        body = (digits + "0" * exponent) if digits else "0"
    else:
        padded = digits.rjust(-exponent + 1, "0")
        body = padded[:exponent] + "." + padded[exponent:]
    return ("-" if sign and digits else "") + body


def encode_numeric_binary(value: Any) -> bytes:
    special = _special(value)
    if special:
        return _HEADER.pack(0, 0, special, 0)
    sign, digits, exponent = _finite_parts(value)
    dscale = max(0, -exponent)
    if not digits:
        return _HEADER.pack(0, 0, _POS, dscale)
    # Align the exponent on a base-10000 digit boundary, then cut the digit string in fours
    # from the right: 12.34 = 1234E-2 -> 123400E-4 -> "0012" "3400", weight 0.
    pad = exponent % 4
    digits += "0" * pad
    exponent -= pad
    digits = digits.rjust(len(digits) + (-len(digits)) % 4, "0")
    groups = [int(digits[i:i + 4]) for i in range(0, len(digits), 4)]
    weight = len(groups) - 1 + exponent // 4
    while groups[-1] == 0:
        groups.pop()
    if len(groups) > 0x7FFF:  # ndigits is an int16
        raise TypeCodecError("%s has too many digits for numeric" % _short(Decimal(value)), NUMERIC)
    return _HEADER.pack(len(groups), weight, _NEG if sign else _POS, dscale) + struct.pack(
        "!%dH" % len(groups), *groups)
