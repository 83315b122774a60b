"""The keywords a schema may use, grouped by the kind of value they check, and readers for
their values (a bound, a count, a multipleOf divisor)."""
import math
from decimal import Decimal
from typing import Any, Tuple

from ._errors import SchemaError

__all__ = ["ACTIVE", "APPLICATOR_KW", "ARRAY_KW", "COERCIBLE", "MISSING", "NUMERIC_BOUNDS", "NUMERIC_KW", "OBJECT_KW",
           "STRING_KW", "TYPES", "UNSUPPORTED", "active", "fraction_parts", "read_count", "read_number"]

TYPES = ("null", "boolean", "object", "array", "number", "string", "integer")
COERCIBLE = frozenset(("integer", "number", "boolean", "null", "array"))
NUMERIC_KW = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
# (keyword, the comparison that FAILS it, the message's words): one table for numbers and for
# covet's decimal strings.
NUMERIC_BOUNDS = (("minimum", "<", "greater than or equal to"),
                  ("exclusiveMinimum", "<=", "greater than"),
                  ("maximum", ">", "less than or equal to"),
                  ("exclusiveMaximum", ">=", "less than"))
STRING_KW = ("minLength", "maxLength", "pattern", "format")
ARRAY_KW = ("minItems", "maxItems", "uniqueItems", "prefixItems", "items", "contains")
OBJECT_KW = ("properties", "required", "patternProperties", "additionalProperties", "propertyNames",
             "minProperties", "maxProperties", "dependentRequired", "dependentSchemas")
APPLICATOR_KW = ("$ref", "allOf", "anyOf", "oneOf", "not", "if")
ACTIVE = frozenset(("type", "enum", "const") + NUMERIC_KW + STRING_KW + ARRAY_KW + OBJECT_KW
                   + APPLICATOR_KW)
# Core keywords whose meaning covet does not implement: refusing them beats silently
# accepting data the schema author meant to reject.
UNSUPPORTED = ("$dynamicRef", "$recursiveRef", "unevaluatedProperties", "unevaluatedItems")

# A keyword that is absent (a default, additionalProperties): None is a value.
MISSING = object()


def active(schema: Any) -> bool:
    """Does this schema check anything (False does; True and annotation-only objects do not)?"""
    if schema is True:
        return False
    if not isinstance(schema, dict):
        return True
    return bool(ACTIVE.intersection(schema)) or any(k in schema for k in UNSUPPORTED)


def read_number(value: Any, keyword: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise SchemaError("%s must be a number, got %r" % (keyword, value))
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError("%s must be finite, got %r" % (keyword, value))
    return value


def read_count(value: Any, keyword: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaError("%s must be a non-negative integer, got %r" % (keyword, value))
    return value


def fraction_parts(divisor: Any) -> Tuple[int, int]:
    """multipleOf as numerator/scale with scale a power of ten: 0.01 -> (1, 100), 1.5 -> (15, 10)."""
    exact = Decimal(divisor) if isinstance(divisor, (int, Decimal)) else Decimal(repr(divisor))
    sign, digits, exponent = exact.normalize().as_tuple()
    if exponent >= 0:
        return int(exact), 1
    return int("".join(map(str, digits))), 10 ** (-exponent)
