"""Dates, times, timestamps and intervals, text and binary.

Binary formats (``date_send``, ``time_send``, ``timetz_send``, ``timestamp_send``,
``interval_send`` in PostgreSQL's ``src/backend/utils/adt/date.c`` and ``timestamp.c``; integer
datetimes, the only kind since PostgreSQL 10)::

    date         int32  days since 2000-01-01 (INT32_MAX / INT32_MIN: 'infinity' / '-infinity')
    time         int64  microseconds since midnight, 0 to 86,400,000,000 ('24:00:00' included)
    timetz       int64  microseconds, then int32 zone offset in seconds WEST of UTC (+02 is -7200)
    timestamp    int64  microseconds since 2000-01-01 00:00:00 (INT64_MAX / INT64_MIN: infinities)
    timestamptz  int64  the same instant counted in UTC
    interval     int64  microseconds, int32 days, int32 months

Text formats are those of ``DateStyle = 'ISO'`` and ``IntervalStyle = 'postgres'`` (the server
defaults, which the connection asks for at startup): ``2024-03-31 03:30:00.5+02``,
``0044-03-15 BC``, ``1 year 2 mons -3 days +04:05:06.789``.

Choices where PostgreSQL and Python differ (docs/postgres-types.md tells users):

- ``infinity``, ``-infinity``, years before 1 (BC) and after 9999, and the time ``24:00:00``
  have no Python value: decoding them raises :class:`TypeCodecError` naming the value (psycopg
  does the same); a user who wants ``date.max`` registers a decoder that says so.
- timestamptz decodes to an aware ``datetime`` in UTC, whatever the session TimeZone.
- An interval's months become days as psycopg counts them: 12 months = 365 days, the other
  months 30 days each. ``timedelta`` has no months; this is PostgreSQL's own approximation
  (``interval '1 mon' = interval '30 days'`` is true) with a year of 365 days.

Example::

    assert decode_date_binary(b"\\x00\\x00\\x00\\x01") == date(2000, 1, 2)
    assert decode_interval_text("1 day -00:00:01") == timedelta(days=1, seconds=-1)
"""
import re
import struct
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional

from ._typeerrors import MalformedValueError, TypeCodecError, describe
from .oids import DATE, INTERVAL, TIME, TIMESTAMP, TIMESTAMPTZ, TIMETZ

__all__ = [
    "decode_date_text", "decode_date_binary", "encode_date_text", "encode_date_binary",
    "decode_time_text", "decode_time_binary", "encode_time_text", "encode_time_binary",
    "decode_timetz_text", "decode_timetz_binary", "encode_timetz_text", "encode_timetz_binary",
    "decode_timestamp_text", "decode_timestamp_binary", "encode_timestamp_text", "encode_timestamp_binary",
    "decode_timestamptz_text", "decode_timestamptz_binary", "encode_timestamptz_text",
    "encode_timestamptz_binary",
    "decode_interval_text", "decode_interval_binary", "encode_interval_text", "encode_interval_binary",
    "is_aware", "time_offset",
]

_EPOCH_DATE = date(2000, 1, 1)
_EPOCH_ORDINAL = _EPOCH_DATE.toordinal()
_EPOCH = datetime(2000, 1, 1)
_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=timezone.utc)
_UTC = timezone.utc
_DAY_US = 86_400_000_000
_INT32 = struct.Struct("!i")
_INT64 = struct.Struct("!q")
_TIMETZ = struct.Struct("!qi")
_INTERVAL = struct.Struct("!qii")
_INT32_MAX, _INT32_MIN = 2 ** 31 - 1, -2 ** 31
_INT64_MAX, _INT64_MIN = 2 ** 63 - 1, -2 ** 63
_ZERO = timedelta(0)
_ONE_US = timedelta(microseconds=1)

# DateStyle ISO. Years may have more than four digits (10000-01-01) and BC is a suffix; the
# offset of timestamptz and timetz is +HH, +HH:MM or +HH:MM:SS (local mean time before 1900 has
# seconds: Europe/Paris prints 1900-01-01 00:09:21+00:09:21).
_DATE_RE = r"([0-9]{4,})-([0-9]{2})-([0-9]{2})"
_TIME_RE = r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
_ZONE_RE = r"([-+])([0-9]{2})(?::([0-9]{2}))?(?::([0-9]{2}))?"
_DATE_TEXT = re.compile(_DATE_RE + r"( BC)?", re.ASCII)
_TIME_TEXT = re.compile(_TIME_RE, re.ASCII)
_TIMETZ_TEXT = re.compile(_TIME_RE + _ZONE_RE, re.ASCII)
_TIMESTAMP_TEXT = re.compile(_DATE_RE + " " + _TIME_RE + r"( BC)?", re.ASCII)
_TIMESTAMPTZ_TEXT = re.compile(_DATE_RE + " " + _TIME_RE + _ZONE_RE + r"( BC)?", re.ASCII)
# IntervalStyle postgres: "[N year[s]] [N mon[s]] [N day[s]] [[+-]H:MM:SS[.f]]", one space
# between parts; every number may carry its own sign ("1 mon -1 days +23:59:59"). Hours are
# unbounded up to int64 microseconds (2562047788:00:54.775807).
_INTERVAL_TEXT = re.compile(
    r"(?:([-+]?[0-9]{1,10}) years?(?: |$))?(?:([-+]?[0-9]{1,10}) mons?(?: |$))?"
    r"(?:([-+]?[0-9]{1,10}) days?(?: |$))?(?:([-+]?)([0-9]{1,10}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?)?",
    re.ASCII)


def _out_of_range(kind: str, text: str, oid: int) -> TypeCodecError:
    return TypeCodecError("%s %r is outside Python's range (years 1 to 9999)" % (kind, text), oid)


def _micros(fraction: Optional[str]) -> int:
    return int(fraction.ljust(6, "0")) if fraction else 0


def _offset(sign: str, hours: str, minutes: Optional[str], seconds: Optional[str]) -> timezone:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0), seconds=int(seconds or 0))
    return timezone(-delta if sign == "-" else delta)


def is_aware(value: Any) -> bool:
    """Whether a datetime is aware in Python's sense: it has an offset (a tzinfo that returns
    None from utcoffset makes it naive)."""
    return value.tzinfo is not None and value.utcoffset() is not None


def time_offset(value: time) -> Optional[timedelta]:
    """The UTC offset of an aware time, None for a naive one; a time whose zone has no fixed
    offset (a zoneinfo zone: its offset depends on the date) is refused."""
    if value.tzinfo is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        raise TypeCodecError("%r has a time zone without a fixed offset; timetz needs one: use "
                             "datetime.timezone(timedelta(...))" % (value,), TIMETZ)
    if offset % timedelta(seconds=1):
        raise TypeCodecError("%r has an offset of a fraction of a second; timetz takes whole seconds"
                             % (value,), TIMETZ)
    return offset


# --- date ---------------------------------------------------------------------------------------

def decode_date_text(text: str) -> date:
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        if text in ("infinity", "-infinity"):
            raise TypeCodecError("date %r has no Python value" % text, DATE)
        raise MalformedValueError("date: %r is not an ISO date (is DateStyle ISO?)" % text[:40], DATE)
    year, month, day, bc = match.groups()
    if bc or len(year) > 4 or year == "0000":
        raise _out_of_range("date", text, DATE)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise MalformedValueError("date: %r is not a valid date" % text[:40], DATE) from None


def decode_date_binary(data: bytes) -> date:
    if len(data) != 4:
        raise MalformedValueError("date: %d bytes, not 4" % len(data), DATE)
    days = _INT32.unpack(data)[0]
    if days in (_INT32_MAX, _INT32_MIN):
        raise TypeCodecError("date %r has no Python value" % ("infinity" if days > 0 else "-infinity"), DATE)
    ordinal = days + _EPOCH_ORDINAL
    if not 1 <= ordinal <= 3652059:  # date.max.toordinal()
        raise _out_of_range("date", "%+d days from 2000-01-01" % days, DATE)
    return date.fromordinal(ordinal)


def encode_date_text(value: Any) -> str:
    return value.isoformat()  # type: ignore[no-any-return]


def encode_date_binary(value: Any) -> bytes:
    return _INT32.pack(value.toordinal() - _EPOCH_ORDINAL)


# --- time and timetz ----------------------------------------------------------------------------

def _time_from(text: str, hour: str, minute: str, second: str, fraction: Optional[str],
               tz: Optional[timezone], oid: int) -> time:
    if hour == "24":
        raise TypeCodecError("time %r has no Python value (Python's time ends at 23:59:59.999999)" % text, oid)
    try:
        return time(int(hour), int(minute), int(second), _micros(fraction), tz)
    except ValueError:
        raise MalformedValueError("time: %r is not a time of day" % text[:40], oid) from None


def decode_time_text(text: str) -> time:
    match = _TIME_TEXT.fullmatch(text)
    if match is None:
        raise MalformedValueError("time: %r is not HH:MM:SS" % text[:40], TIME)
    hour, minute, second, fraction = match.groups()
    return _time_from(text, hour, minute, second, fraction, None, TIME)


def decode_timetz_text(text: str) -> time:
    match = _TIMETZ_TEXT.fullmatch(text)
    if match is None:
        raise MalformedValueError("timetz: %r is not HH:MM:SS+ZZ" % text[:40], TIMETZ)
    hour, minute, second, fraction, sign, zone_hours, zone_minutes, zone_seconds = match.groups()
    return _time_from(text, hour, minute, second, fraction, _offset(sign, zone_hours, zone_minutes, zone_seconds),
                      TIMETZ)


def _time_from_micros(micros: int, tz: Optional[timezone], oid: int) -> time:
    if not 0 <= micros < _DAY_US:
        if micros == _DAY_US:
            raise TypeCodecError("time '24:00:00' has no Python value (Python's time ends at "
                                 "23:59:59.999999)", oid)
        raise MalformedValueError("time: %d microseconds is not a time of day" % micros, oid)
    seconds, micro = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, micro, tz)


def decode_time_binary(data: bytes) -> time:
    if len(data) != 8:
        raise MalformedValueError("time: %d bytes, not 8" % len(data), TIME)
    return _time_from_micros(_INT64.unpack(data)[0], None, TIME)


def decode_timetz_binary(data: bytes) -> time:
    if len(data) != 12:
        raise MalformedValueError("timetz: %d bytes, not 12" % len(data), TIMETZ)
    micros, west = _TIMETZ.unpack(data)
    # TZ_MAX_OFFSET-ish: PostgreSQL keeps zones within +-15:59:59; timezone() takes under 24h.
    if not -86_399 <= west <= 86_399:
        raise MalformedValueError("timetz: zone offset %d seconds is out of range" % west, TIMETZ)
    return _time_from_micros(micros, timezone(timedelta(seconds=-west)), TIMETZ)


def _time_micros(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def encode_time_text(value: Any) -> str:
    # A zone on a value for a plain time column is dropped, as PostgreSQL's own timetz::time cast does.
    return value.replace(tzinfo=None).isoformat()  # type: ignore[no-any-return]


def encode_time_binary(value: Any) -> bytes:
    return _INT64.pack(_time_micros(value))


def encode_timetz_text(value: Any) -> str:
    offset = time_offset(value)
    if offset is None:
        raise TypeCodecError("%r is a naive time; timetz needs an offset" % (value,), TIMETZ)
    return value.replace(tzinfo=timezone(offset)).isoformat()  # type: ignore[no-any-return]


def encode_timetz_binary(value: Any) -> bytes:
    offset = time_offset(value)
    if offset is None:
        raise TypeCodecError("%r is a naive time; timetz needs an offset" % (value,), TIMETZ)
    return _TIMETZ.pack(_time_micros(value), -(offset // timedelta(seconds=1)))


# --- timestamp and timestamptz ------------------------------------------------------------------

def _parse_timestamp(text: str, pattern: "re.Pattern[str]", oid: int) -> datetime:
    match = pattern.fullmatch(text)
    if match is None:
        if text in ("infinity", "-infinity"):
            raise TypeCodecError("timestamp %r has no Python value" % text, oid)
        raise MalformedValueError("timestamp: %r is not an ISO timestamp (is DateStyle ISO?)" % text[:40], oid)
    groups = match.groups()
    year, month, day, hour, minute, second, fraction = groups[:7]
    tz = _offset(*groups[7:11]) if oid == TIMESTAMPTZ else None
    if groups[-1] or len(year) > 4 or year == "0000":
        raise _out_of_range("timestamp", text, oid)
    try:
        value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), _micros(fraction), tz)
        return value.astimezone(_UTC) if tz is not None else value
    except OverflowError:  # 0001-01-01 00:30:00+01 is in year 0 in UTC
        raise _out_of_range("timestamp", text, oid) from None
    except ValueError:
        raise MalformedValueError("timestamp: %r is not a valid date and time" % text[:40], oid) from None


def decode_timestamp_text(text: str) -> datetime:
    return _parse_timestamp(text, _TIMESTAMP_TEXT, TIMESTAMP)


def decode_timestamptz_text(text: str) -> datetime:
    return _parse_timestamp(text, _TIMESTAMPTZ_TEXT, TIMESTAMPTZ)


def _from_micros(data: bytes, epoch: datetime, oid: int) -> datetime:
    if len(data) != 8:
        raise MalformedValueError("timestamp: %d bytes, not 8" % len(data), oid)
    micros = _INT64.unpack(data)[0]
    try:
        return epoch + timedelta(microseconds=micros)
    except OverflowError:
        if micros in (_INT64_MAX, _INT64_MIN):
            raise TypeCodecError("timestamp %r has no Python value"
                                 % ("infinity" if micros > 0 else "-infinity"), oid) from None
        raise _out_of_range("timestamp", "%+d microseconds from 2000-01-01" % micros, oid) from None


def decode_timestamp_binary(data: bytes) -> datetime:
    return _from_micros(data, _EPOCH, TIMESTAMP)


def decode_timestamptz_binary(data: bytes) -> datetime:
    return _from_micros(data, _EPOCH_UTC, TIMESTAMPTZ)


def _delta_micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _refuse_aware(value: Any) -> None:
    # The server would drop the offset of '2024-01-01 12:00+05' read as a timestamp, where a
    # timestamptz parameter cast to timestamp converts it to the session TimeZone: two different
    # readings of one value, so neither is guessed.
    if is_aware(value):
        raise TypeCodecError("%r is aware; a timestamp (without time zone) parameter takes a naive datetime: "
                             "convert it with .astimezone(zone).replace(tzinfo=None)" % (value,), TIMESTAMP)


def encode_timestamp_text(value: Any) -> str:
    _refuse_aware(value)
    return value.isoformat(" ")  # type: ignore[no-any-return]


def encode_timestamp_binary(value: Any) -> bytes:
    _refuse_aware(value)
    return _INT64.pack(_delta_micros(value - _EPOCH))


def encode_timestamptz_text(value: Any) -> str:
    # An aware value goes in UTC; a naive one without an offset, which the server reads in its
    # session TimeZone (the same as a timestamp parameter cast to timestamptz).
    if is_aware(value):
        value = value.astimezone(_UTC)
    return value.isoformat(" ")  # type: ignore[no-any-return]


def encode_timestamptz_binary(value: Any) -> bytes:
    if not is_aware(value):
        raise TypeCodecError("%r is naive; a timestamptz in binary needs an aware datetime" % (value,), TIMESTAMPTZ)
    return _INT64.pack(_delta_micros(value - _EPOCH_UTC))


# --- interval -----------------------------------------------------------------------------------

def _interval(days: int, micros: int, shown: str) -> timedelta:
    try:
        return timedelta(days=days, microseconds=micros)
    except OverflowError:
        raise TypeCodecError("interval %s is outside Python's timedelta range (999999999 days)" % shown,
                             INTERVAL) from None


def _month_days(months: int) -> int:
    years, rest = divmod(abs(months), 12)
    days = 365 * years + 30 * rest
    return -days if months < 0 else days


def decode_interval_text(text: str) -> timedelta:
    match = _INTERVAL_TEXT.fullmatch(text)
    if match is None or not text or text.endswith(" "):
        if text in ("infinity", "-infinity"):
            raise TypeCodecError("interval %r has no Python value" % text, INTERVAL)
        raise MalformedValueError("interval: %r is not in IntervalStyle 'postgres'" % text[:60], INTERVAL)
    years, months, days, sign, hours, minutes, seconds, fraction = match.groups()
    total_days = 365 * int(years or 0) + 30 * int(months or 0) + int(days or 0)
    micros = 0
    if hours is not None:
        micros = (int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * 1_000_000 + _micros(fraction)
        if sign == "-":
            micros = -micros
    return _interval(total_days, micros, repr(text))


def decode_interval_binary(data: bytes) -> timedelta:
    if len(data) != 16:
        raise MalformedValueError("interval: %d bytes, not 16" % len(data), INTERVAL)
    micros, days, months = _INTERVAL.unpack(data)
    if (micros, days, months) in ((_INT64_MAX, _INT32_MAX, _INT32_MAX), (_INT64_MIN, _INT32_MIN, _INT32_MIN)):
        # PostgreSQL 17's infinite intervals
        raise TypeCodecError("interval %r has no Python value" % ("infinity" if micros > 0 else "-infinity"),
                             INTERVAL)
    return _interval(days + _month_days(months), micros, describe(data))


def encode_interval_text(value: Any) -> str:
    # timedelta keeps days signed and the time of day non-negative: the server's own output
    # style, with the explicit '+' that keeps the time positive under any IntervalStyle.
    minutes, second = divmod(value.seconds, 60)
    hour, minute = divmod(minutes, 60)
    return "%d days +%02d:%02d:%02d.%06d" % (value.days, hour, minute, second, value.microseconds)


def encode_interval_binary(value: Any) -> bytes:
    # Days stay days (as psycopg sends them): '1 day' added to a timestamptz keeps the wall-clock
    # time across a DST change, where 24 hours would not.
    return _INTERVAL.pack(value.seconds * 1_000_000 + value.microseconds, value.days, 0)
