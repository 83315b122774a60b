"""Path converters: how one ``{name:type}`` segment is matched, converted and written back.

The built-ins are ``str`` (the default), ``int``, ``float``, ``uuid`` and
``path``; ``app.register_converter(name, converter)`` adds more. The
router's generated matcher inlines the built-ins' tests and conversions
(``covet.core._matcher``), so their behaviour here and there is one rule.
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

import math
import re
from typing import Any, Optional

__all__ = [
    "Converter", "StringConverter", "IntConverter", "FloatConverter", "UUIDConverter", "PathConverter",
    "DEFAULT_CONVERTERS",
]


class Converter:
    """Turns one path segment into a value and back.

    Subclass it, set ``regex`` (for one segment, without anchors) and
    override ``convert`` and ``to_url``; register it with
    ``app.register_converter("slug", SlugConverter())``.
    """

    regex: str = "[^/]+"
    # Lower tries first among parameters at the same position.
    priority: int = 50
    # True when convert() returns its input (no conversion pass needed).
    identity: bool = False
    # The Python type convert() returns, when it is one (lets the injector
    # trust a value the router already converted).
    value_type: Optional[type] = None

    def __init__(self) -> None:
        self._match = re.compile(self.regex).fullmatch

    def matches(self, segment: str) -> bool:
        return self._match(segment) is not None

    def convert(self, value: str) -> Any:
        return value

    def to_url(self, value: Any) -> str:
        return str(value)


class StringConverter(Converter):
    """``{name}``: one non-empty segment, as str."""

    priority = 90
    identity = True
    value_type = str

    def matches(self, segment):  # PERF: the common case needs no regex
        return segment != ""


class IntConverter(Converter):
    """``{name:int}``: ASCII digits only, as int."""

    regex = "[0-9]{1,30}"
    priority = 10
    value_type = int

    def matches(self, segment):  # PERF: str methods beat a regex call
        return segment.isdigit() and segment.isascii() and len(segment) <= 30

    def convert(self, value):
        return int(value)

    def to_url(self, value):
        if isinstance(value, bool):
            raise ValueError("%r is a bool, not an integer" % value)
        number = int(value)
        if not isinstance(value, str) and number != value:  # 1.5 would silently become 1
            raise ValueError("%r is not an integer" % (value,))
        value = number
        if value < 0:
            raise ValueError("negative integers are not supported by the int converter")
        return str(value)


class FloatConverter(Converter):
    """``{name:float}``: digits with an optional fraction, as float."""

    regex = r"[0-9]{1,30}(?:\.[0-9]{1,30})?"
    priority = 20
    value_type = float

    def convert(self, value):
        return float(value)

    def to_url(self, value):
        if isinstance(value, bool):
            raise ValueError("%r is a bool, not a number" % value)
        value = float(value)
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise ValueError("the float converter takes finite non-negative numbers")
        if value == int(value):
            return "%d" % value
        # repr is the shortest text that reads back as the same float; the
        # converter takes no exponent, so 1e-07 is written out in full.
        text = repr(value)
        if "e" in text:
            import decimal  # only here: url_for with a tiny or huge float

            text = format(decimal.Decimal(text), "f")
        return text


# uuid.UUID, once a {name:uuid} route needs it: the uuid module costs about 3 ms to import, which
# an app without UUID routes need not pay at start-up.
_UUID: Any = None


def load_uuid() -> Any:
    """uuid.UUID, importing the uuid module the first time a route asks for it."""
    global _UUID
    if _UUID is None:
        import uuid

        _UUID = uuid.UUID
    return _UUID


def uuid_from_hex(value: str) -> Any:
    """uuid.UUID(value) for a segment whose shape the converter's regex already proved.

    The route that uses it called ``load_uuid()`` when it was made.

    PERF: ``UUID(hex)`` strips a ``urn:uuid:`` prefix and braces, removes
    hyphens and checks the length before it parses; the shape is known here,
    so the hex is parsed once and handed over as ``int=``, which the public
    constructor takes with only a range check.
    """
    return _UUID(int=int(value.replace("-", ""), 16))


class UUIDConverter(Converter):
    """``{name:uuid}``: a hyphenated UUID, as uuid.UUID."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    priority = 15

    @property
    def value_type(self) -> Any:  # type: ignore[override]
        return load_uuid()

    def convert(self, value):
        return load_uuid()(int=int(value.replace("-", ""), 16))


class PathConverter(Converter):
    """``{name:path}``: the rest of the path, slashes included (last position only)."""

    regex = ".*"
    priority = 100
    identity = True
    value_type = str

    def matches(self, segment):  # any text, newlines too
        return True


DEFAULT_CONVERTERS = {
    "str": StringConverter(),
    "int": IntConverter(),
    "float": FloatConverter(),
    "uuid": UUIDConverter(),
    "path": PathConverter(),
}
