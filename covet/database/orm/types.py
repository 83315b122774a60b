"""Column types: what a value may be in Python, how it is stored, and its SQL type name.

Each type does four things with a value:

- ``parse(value)``: accept it (or its JSON spelling: an ISO string for a date, a string for a
  decimal) and return the Python value, or raise :class:`InvalidValue` naming what is wrong in
  covet.validation's words (``must be of type string`` / ``type``);
- ``check(value)``: the column's limits (``String(100)`` is at most 100 characters, ``Integer`` fits
  32 bits, ``Numeric(10, 2)`` has two decimals);
- ``to_db(value, dialect)`` / ``from_db(value, dialect)``: the stored form and back;
- ``to_json(value)``: the value in ``to_dict()``.

Storage on SQLite (which has no date, decimal, boolean or JSON types) keeps values exact and
ordered: a ``DateTime`` is UTC ISO 8601 text of one fixed width (``2024-05-01T09:30:00.000000+00:00``,
so text order is time order and ``filter(Event.at > t)`` compares correctly); a ``Numeric`` is its
decimal text (a REAL would round ``0.1``); ``JSON`` is compact JSON text; a ``Boolean`` is 0 or 1.
PostgreSQL stores each natively. A value read back is the value written: an aware UTC datetime,
a Decimal, a bool.

Example::

    String(100).validate("x" * 101)   # InvalidValue: must be at most 100 characters long
    DateTime().validate("2024-05-01T09:30:00+02:00")
    # datetime.datetime(2024, 5, 1, 7, 30, tzinfo=datetime.timezone.utc)
"""
import abc
import base64
import datetime
import decimal
import json
import math
import re
from typing import Any, Dict, Optional

from .dialects import POSTGRESQL, SQLITE
from .errors import InvalidValue

__all__ = ["TypeEngine", "Integer", "BigInteger", "String", "Text", "Boolean", "Float", "Numeric", "Date",
           "DateTime", "JSON", "LargeBinary", "utc_now", "INT32", "INT64"]

#: Bounds of PostgreSQL's INTEGER and BIGINT. SQLite would store any 64-bit integer, but a value
#: refused by PostgreSQL later should be refused now, with a 422, on every database.
INT32 = (-2 ** 31, 2 ** 31 - 1)
INT64 = (-2 ** 63, 2 ** 63 - 1)

_UTC = datetime.timezone.utc
# RFC 3339 §5.6 date-time, also with a space for "T" (SQLite's CURRENT_TIMESTAMP writes one) and
# more than six fraction digits (truncated: Python keeps microseconds).
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                       r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?\Z")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
# A decimal number as JSON spells it (no "NaN", "Infinity", spaces or underscores, which
# decimal.Decimal would otherwise take).
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


def utc_now() -> datetime.datetime:
    """The current time as an aware UTC datetime (what ``func.now()`` gives as a default)."""
    return datetime.datetime.now(_UTC)


def _format_datetime(value: datetime.datetime) -> str:
    # Fixed width (year padded, microseconds always present): text order equals time order.
    v = value.astimezone(_UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (v.year, v.month, v.day, v.hour, v.minute, v.second,
                                                         v.microsecond)


def parse_datetime(text: str, naive_is_utc: bool) -> Optional[datetime.datetime]:
    """An RFC 3339 date-time as an aware UTC datetime; None if it is not one. Without an offset it
    is refused, unless ``naive_is_utc`` (text SQLite wrote itself: CURRENT_TIMESTAMP is UTC)."""
    m = _DATETIME.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
    if zulu:
        tz: Optional[datetime.tzinfo] = _UTC
    elif sign:
        if int(off_h) > 23 or int(off_m) > 59:
            return None
        offset = datetime.timedelta(hours=int(off_h), minutes=int(off_m))
        tz = datetime.timezone(-offset if sign == "-" else offset)
    elif naive_is_utc:
        tz = _UTC
    else:
        return None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
    except ValueError:  # 2023-02-30, hour 25, second 60
        return None
    return value.astimezone(_UTC)


class TypeEngine(abc.ABC):
    """Base of the column types. ``json_type`` names the type in "must be of type ..."; ``python_type``
    is the annotation covet.validation sees (response_model, body parameters, OpenAPI).

    Example::

        Integer().validate(True)   # InvalidValue: must be of type integer
    """

    json_type = "string"
    python_type: Any = object
    #: The Python type whose values ``from_db`` returns unchanged, whatever the dialect (None: it
    #: must always be called). Declared beside each ``from_db``: a row loader skips the call for
    #: such values (covet.database.orm.rows), and a subclass that overrides ``from_db`` without
    #: declaring it again is always called.
    from_db_passes: Optional[type] = None

    def parse(self, value: Any) -> Any:
        """The Python value for ``value`` (converted from its JSON spelling), or InvalidValue."""
        return value

    def check(self, value: Any) -> Any:
        """``value`` (already parsed) within the column's limits, or InvalidValue."""
        return value

    def validate(self, value: Any) -> Any:
        """``check(parse(value))``: what an assignment to a column runs."""
        return self.check(self.parse(value))

    def to_db(self, value: Any, dialect: str) -> Any:
        """The stored form of a parsed value."""
        return value

    def bind(self, value: Any, dialect: str) -> Any:
        """A value compared with the column, in its stored form. Parsed, not checked: a search for a
        string longer than the column is no error, it finds nothing."""
        return self.to_db(self.parse(value), dialect)

    def from_db(self, value: Any, dialect: str) -> Any:
        """The Python value of what the database returned (None stays None)."""
        return value

    def to_json(self, value: Any) -> Any:
        """The value as JSON data, for ``to_dict()``."""
        return value

    @abc.abstractmethod
    def sql_type(self, dialect: str) -> str:
        """The type's name in CREATE TABLE."""

    def field_options(self) -> Dict[str, Any]:
        """covet.validation ``Field`` options that say the same as ``check`` (for the JSON schema)."""
        return {}

    def type_error(self) -> InvalidValue:
        return InvalidValue("must be of type " + self.json_type, "type")

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


class Integer(TypeEngine):
    """A 32-bit integer (PostgreSQL INTEGER). An integral float (``3.0``, as JSON may spell 3) is taken."""

    json_type = "integer"
    python_type = int
    bounds = INT32

    def parse(self, value: Any) -> Any:
        if type(value) is int:
            return value
        if isinstance(value, bool):
            raise self.type_error()
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self.type_error()

    def check(self, value: Any) -> Any:
        low, high = self.bounds
        if value < low:
            raise InvalidValue("must be greater than or equal to %d" % low, "minimum")
        if value > high:
            raise InvalidValue("must be less than or equal to %d" % high, "maximum")
        return value

    from_db_passes = int

    def from_db(self, value: Any, dialect: str) -> Any:
        return None if value is None else int(value)

    def sql_type(self, dialect: str) -> str:
        return "INTEGER"

    def field_options(self) -> Dict[str, Any]:
        return {"ge": self.bounds[0], "le": self.bounds[1]}


class BigInteger(Integer):
    """A 64-bit integer (BIGINT)."""

    bounds = INT64

    def sql_type(self, dialect: str) -> str:
        return "BIGINT"


class String(TypeEngine):
    """Text of at most ``length`` characters (VARCHAR(length)); ``String()`` has no limit.

    SQLite does not enforce VARCHAR lengths, so the ORM does, before the database sees the value.
    NUL characters are refused: PostgreSQL cannot store them in text.
    """

    python_type = str

    def __init__(self, length: Optional[int] = None) -> None:
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
            raise TypeError("String(length) takes a positive integer, got %r" % (length,))
        self.length = length

    def parse(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.type_error()
        return str(value)

    def check(self, value: Any) -> Any:
        if self.length is not None and len(value) > self.length:
            raise InvalidValue("must be at most %d character%s long" % (self.length, "" if self.length == 1 else "s"),
                               "maxLength")
        if "\x00" in value:
            raise InvalidValue("must not contain NUL characters", "pattern")
        return value

    def sql_type(self, dialect: str) -> str:
        return "VARCHAR" if self.length is None else "VARCHAR(%d)" % self.length

    def field_options(self) -> Dict[str, Any]:
        return {} if self.length is None else {"max_length": self.length}

    def __repr__(self) -> str:
        return "String(%s)" % ("" if self.length is None else self.length)


class Text(String):
    """Text of any length (TEXT)."""

    def __init__(self) -> None:
        super().__init__(None)

    def sql_type(self, dialect: str) -> str:
        return "TEXT"

    def __repr__(self) -> str:
        return "Text()"


class Boolean(TypeEngine):
    """True or False (BOOLEAN; 0/1 on SQLite). Only a bool is taken: ``1`` or ``"yes"`` are refused."""

    json_type = "boolean"
    python_type = bool

    def parse(self, value: Any) -> Any:
        if type(value) is not bool:
            raise self.type_error()
        return value

    def to_db(self, value: Any, dialect: str) -> Any:
        return int(value) if dialect == SQLITE else value

    from_db_passes = bool

    def from_db(self, value: Any, dialect: str) -> Any:
        return None if value is None else bool(value)

    def sql_type(self, dialect: str) -> str:
        return "BOOLEAN"


class Float(TypeEngine):
    """A double-precision float. NaN and infinities are refused (JSON has no spelling for them, and
    SQLite would store NaN as NULL)."""

    json_type = "number"
    python_type = float

    def parse(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.type_error()
        try:
            value = float(value)
        except OverflowError:  # an int past 1.8e308
            raise InvalidValue("must be a finite number", "type") from None
        if not math.isfinite(value):
            raise InvalidValue("must be a finite number", "type")
        return value

    from_db_passes = float

    def from_db(self, value: Any, dialect: str) -> Any:
        return None if value is None else float(value)

    def sql_type(self, dialect: str) -> str:
        return "DOUBLE PRECISION" if dialect == POSTGRESQL else "REAL"


class Numeric(TypeEngine):
    """An exact decimal, ``Numeric(precision, scale)`` digits in all and after the point.

    Takes a Decimal, an int, a float (as the decimal its repr spells: 0.1 is 0.1) or a decimal
    string (JSON bodies carry money as "12.50"); returns a Decimal, with ``scale`` decimals when
    given. Stored as text on SQLite, whose REAL would round it: on SQLite, equality filters on a
    Numeric column work but ``<``/``>`` compare text; keep integer cents where order matters.
    """

    json_type = "number or string"
    python_type = decimal.Decimal

    def __init__(self, precision: Optional[int] = None, scale: Optional[int] = None) -> None:
        for name, v in (("precision", precision), ("scale", scale)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise TypeError("Numeric(%s=) takes a non-negative integer, got %r" % (name, v))
        if scale is not None and precision is None:
            raise TypeError("Numeric(scale=) needs a precision too, as in SQL: Numeric(10, 2)")
        if precision is not None and (precision < 1 or (scale or 0) > precision):
            raise TypeError("Numeric(%r, %r): precision must be at least 1 and at least the scale" % (precision, scale))
        self.precision, self.scale = precision, scale
        self._step = decimal.Decimal(1).scaleb(-scale) if scale is not None else None
        # Room for every digit the column holds: quantize must not fail for want of precision.
        self._context = decimal.Context(prec=(precision or 0) + 30)

    def parse(self, value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            result = value
        elif isinstance(value, bool):
            raise self.type_error()
        elif isinstance(value, int):
            result = decimal.Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidValue("must be a finite number", "type")
            result = decimal.Decimal(repr(value))
        elif isinstance(value, str):
            if len(value) > 1000 or not _DECIMAL.match(value):
                raise InvalidValue("must be a decimal number", "format")
            result = decimal.Decimal(value)
        else:
            raise self.type_error()
        if not result.is_finite():
            raise InvalidValue("must be a finite number", "type")
        return result

    def check(self, value: Any) -> Any:
        if self.precision is not None:
            limit = decimal.Decimal(10) ** (self.precision - (self.scale or 0))
            if value >= limit:
                raise InvalidValue("must be less than %s" % limit, "exclusiveMaximum")
            if value <= -limit:
                raise InvalidValue("must be greater than %s" % -limit, "exclusiveMinimum")
        if self._step is not None:
            rounded = value.quantize(self._step, context=self._context)
            if rounded != value:
                raise InvalidValue("must be a multiple of %s" % self._step, "multipleOf")
            value = rounded  # 1.5 in Numeric(10, 2) is 1.50, as PostgreSQL returns it
        return value

    def to_db(self, value: Any, dialect: str) -> Any:
        return str(value) if dialect == SQLITE else value

    def bind(self, value: Any, dialect: str) -> Any:
        value = self.parse(value)
        if self._step is not None:
            try:
                rounded = value.quantize(self._step, context=self._context)
            except decimal.InvalidOperation:  # too large for the column: it matches nothing
                rounded = value
            if rounded == value:
                value = rounded  # 20 is stored as "20.00": compare text with text
        return self.to_db(value, dialect)

    from_db_passes = decimal.Decimal

    def from_db(self, value: Any, dialect: str) -> Any:
        if value is None or isinstance(value, decimal.Decimal):
            return value
        return decimal.Decimal(repr(value) if isinstance(value, float) else str(value))

    def to_json(self, value: Any) -> Any:
        return str(value)  # a string: a JSON number would pass through a float in most clients

    def sql_type(self, dialect: str) -> str:
        if dialect == SQLITE:
            return "TEXT"  # TEXT affinity: NUMERIC affinity would turn "0.10" into the REAL 0.1
        if self.precision is None:
            return "NUMERIC"
        return "NUMERIC(%d, %d)" % (self.precision, self.scale or 0)

    def __repr__(self) -> str:
        return "Numeric(%s)" % ", ".join(str(v) for v in (self.precision, self.scale) if v is not None)


class Date(TypeEngine):
    """A calendar date: a ``datetime.date`` (not a datetime) or ``"YYYY-MM-DD"``."""

    python_type = datetime.date

    def parse(self, value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            raise InvalidValue("must be a date (YYYY-MM-DD), not a date and time", "format")
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            m = _DATE.match(value)
            if m is not None:
                try:
                    return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    pass
            raise InvalidValue("must be a date (YYYY-MM-DD)", "format")
        raise self.type_error()

    def to_db(self, value: Any, dialect: str) -> Any:
        return value.isoformat() if dialect == SQLITE else value

    from_db_passes = datetime.date

    def from_db(self, value: Any, dialect: str) -> Any:
        if value is None or (isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)):
            return value
        if isinstance(value, datetime.datetime):
            return value.date()
        return datetime.date.fromisoformat(str(value)[:10])

    def to_json(self, value: Any) -> Any:
        return value.isoformat()

    def sql_type(self, dialect: str) -> str:
        return "TEXT" if dialect == SQLITE else "DATE"


class DateTime(TypeEngine):
    """An instant: an aware ``datetime`` or an RFC 3339 string with an offset; held in UTC.

    A naive datetime is refused: which zone it meant is a guess, and a wrong guess shifts the data
    by hours without an error. Read back as an aware UTC datetime (text that SQLite wrote itself
    without an offset, by CURRENT_TIMESTAMP, is UTC).
    """

    python_type = datetime.datetime

    def parse(self, value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise InvalidValue("must be a datetime with a time zone (a naive datetime is ambiguous)", "format")
            return value.astimezone(_UTC)
        if isinstance(value, str):
            parsed = parse_datetime(value, naive_is_utc=False)
            if parsed is None:
                raise InvalidValue("must be an RFC 3339 date-time with offset", "format")
            return parsed
        raise self.type_error()

    def to_db(self, value: Any, dialect: str) -> Any:
        return _format_datetime(value) if dialect == SQLITE else value

    def from_db(self, value: Any, dialect: str) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime.datetime):
            return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
        parsed = parse_datetime(str(value), naive_is_utc=True)
        if parsed is None:
            raise ValueError("not a date-time in the database: %r" % (value,))
        return parsed

    def to_json(self, value: Any) -> Any:
        return value.isoformat()

    def sql_type(self, dialect: str) -> str:
        return "TEXT" if dialect == SQLITE else "TIMESTAMP WITH TIME ZONE"


class JSON(TypeEngine):
    """Any JSON value (dict, list, str, number, bool; None is SQL NULL). The value is kept as JSON
    reads it back (tuples become lists, keys strings), so the object equals what a query returns;
    changes made inside it in place are saved too (the ORM compares the JSON text)."""

    json_type = "JSON data"

    def parse(self, value: Any) -> Any:
        try:
            return json.loads(_dump_json(value))
        except (TypeError, ValueError, RecursionError):
            raise InvalidValue("must be JSON data (objects, arrays, strings, finite numbers, booleans, null)",
                               "type") from None

    def to_db(self, value: Any, dialect: str) -> Any:
        return _dump_json(value)

    def from_db(self, value: Any, dialect: str) -> Any:
        if isinstance(value, (str, bytes, bytearray)):
            return json.loads(value)
        return value

    def sql_type(self, dialect: str) -> str:
        return "TEXT" if dialect == SQLITE else "JSONB"


def _dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class LargeBinary(TypeEngine):
    """Bytes (BLOB; BYTEA on PostgreSQL), at most ``length`` of them when given. In ``to_dict()`` they
    are base64 text (RFC 4648 §4)."""

    json_type = "bytes"
    python_type = bytes

    def __init__(self, length: Optional[int] = None) -> None:
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
            raise TypeError("LargeBinary(length) takes a positive integer, got %r" % (length,))
        self.length = length

    def parse(self, value: Any) -> Any:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise self.type_error()
        return bytes(value)

    def check(self, value: Any) -> Any:
        if self.length is not None and len(value) > self.length:
            raise InvalidValue("must be at most %d bytes long" % self.length, "maxLength")
        return value

    from_db_passes = bytes

    def from_db(self, value: Any, dialect: str) -> Any:
        return None if value is None else bytes(value)

    def to_json(self, value: Any) -> Any:
        return base64.b64encode(value).decode("ascii")

    def sql_type(self, dialect: str) -> str:
        return "BLOB" if dialect == SQLITE else "BYTEA"
