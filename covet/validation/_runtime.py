"""The run-time helpers that compiled validators call, and the namespace they run in.

A validator's source names these as ``_coerce``, ``_in_enum``, ``_mult_bad`` and so on;
``RUNTIME`` maps those names to the functions here and seeds every validator's globals.
Each helper runs while validating (per request), so each is written for the common case.
"""
import copy
import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._errors import ValidationError

__all__ = ["RUNTIME", "canon"]

_KIND_TYPES = frozenset(("type", "const", "enum", "false"))


class _Fail:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<cannot coerce>"


_FAIL = _Fail()


class _Deep(Exception):
    pass


_BOOL, _ARRAY, _OBJECT = object(), object(), object()
# Strings that coerce mode turns into integers/numbers: ASCII digits only (int() alone would take
# "1_000", " 7", "١٢" or "+5"), and at most 4300 digits (CPython's CVE-2020-10735 limit).
_INT_TEXT = re.compile(r"-?[0-9]{1,4300}")
_NUMBER_TEXT = re.compile(r"-?[0-9]{1,4300}(?:\.[0-9]{1,4300})?(?:[eE][+-]?[0-9]{1,5})?")
_TRUE_TEXT = frozenset(("true", "1", "yes", "on"))
_FALSE_TEXT = frozenset(("false", "0", "no", "off"))
_NULL_TEXT = frozenset(("", "null"))


def _coerce(value: Any, types: Tuple[str, ...]) -> Any:
    """A string (query, path, header, form value) converted to the first type it can be, or _FAIL."""
    if isinstance(value, str):
        for kind in types:
            if kind == "integer":
                if _INT_TEXT.fullmatch(value):
                    return int(value)
            elif kind == "number":
                if _NUMBER_TEXT.fullmatch(value):
                    if "." not in value and "e" not in value and "E" not in value:
                        return int(value)
                    number = float(value)
                    if math.isfinite(number):
                        return number
            elif kind == "boolean":
                lowered = value.lower()
                if lowered in _TRUE_TEXT:
                    return True
                if lowered in _FALSE_TEXT:
                    return False
            elif kind == "null":
                if value in _NULL_TEXT:
                    return None
            elif kind == "array":
                return [value]  # one query/header/form value where a list is declared
    return _FAIL


def _isint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _isnum(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def canon(value: Any, depth: int) -> Any:
    """A hashable form where JSON-equal values are equal: 1 == 1.0, True != 1, key order ignored."""
    kind = type(value)
    if kind is str or value is None or kind is int or kind is float:
        return value
    if kind is bool:
        return (_BOOL, value)
    if isinstance(value, (list, tuple)):
        if depth <= 0:
            raise _Deep()
        return (_ARRAY, tuple([canon(item, depth - 1) for item in value]))
    if isinstance(value, dict):
        if depth <= 0:
            raise _Deep()
        return (_OBJECT, frozenset([(key, canon(item, depth - 1)) for key, item in value.items()]))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return (_OBJECT, repr(value))


def _in_enum(value: Any, canon_values: frozenset, depth: int) -> bool:
    try:
        return canon(value, depth) in canon_values
    except _Deep:
        return False


def _dupes(items: Sequence[Any], depth: int) -> Any:
    """(first, second) indexes of two equal items, None, or _FAIL when nesting is too deep."""
    seen: Dict[Any, int] = {}
    try:
        for index, item in enumerate(items):
            first = seen.setdefault(canon(item, depth), index)
            if first != index:
                return first, index
    except _Deep:
        return _FAIL
    return None


# Below this magnitude of value*scale, a float's nearest-integer test is exact (see _mult_bad).
_FAST_MULTIPLE_LIMIT = float(2 ** 50)


def _mult_bad(value: Any, numerator: int, scale: int) -> bool:
    """True when ``value`` is not a multiple of numerator/scale, compared as decimals.

    The divisor is exact (0.01 is 1/100), and so is the value taken as the shortest
    decimal that round-trips (``repr``), which is what a JSON document wrote: 0.07 is a
    multiple of 0.01 here, though ``0.07 / 0.01`` is 7.000000000000001. When
    |value*scale| < 2**50 the ulp of value is below 1/(4*scale), so a float equal to
    n/scale can only come from the decimal n/scale itself: one round() decides.
    """
    if not isinstance(value, float):
        if isinstance(value, int):
            return value * scale % numerator != 0
        value = float(value)
    scaled = value * scale
    if -_FAST_MULTIPLE_LIMIT < scaled < _FAST_MULTIPLE_LIMIT:
        whole = round(scaled)
        return whole / scale != value or whole % numerator != 0
    return (Fraction(repr(value)) * scale / numerator).denominator != 1


def _dec_mult_bad(value: Decimal, numerator: int, scale: int) -> bool:
    return (Fraction(value) * scale / numerator).denominator != 1


def _branch_fail(errors: List[dict], loc: list, lists: List[List[dict]], combined: Optional[str],
                 generic: str, keyword: str) -> None:
    """Report a failed anyOf/oneOf: the one branch that fits the value's kind, else one error."""
    fitting = [errs for errs in lists
               if not any(e["type"] in _KIND_TYPES and e["loc"] == loc for e in errs)]
    if len(fitting) == 1:
        errors.extend(fitting[0])
        return
    if not fitting and combined is not None and all(
            any(e["type"] == "type" and e["loc"] == loc for e in errs) for errs in lists):
        errors.append({"loc": loc, "msg": combined, "type": "type"})
        return
    errors.append({"loc": loc, "msg": generic, "type": keyword})


RUNTIME = {
    "_FAIL": _FAIL, "_coerce": _coerce, "_isint": _isint, "_isnum": _isnum, "_in_enum": _in_enum,
    "_canon": canon, "_Deep": _Deep, "_dupes": _dupes, "_mult_bad": _mult_bad,
    "_dec_mult_bad": _dec_mult_bad, "_Decimal": Decimal, "_branch_fail": _branch_fail,
    "ValidationError": ValidationError, "_deepcopy": copy.deepcopy,
}
