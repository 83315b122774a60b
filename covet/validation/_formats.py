"""The ``format`` checkers (JSON Schema 2020-12 §7.3) and the RFC 3339 parsers behind them.

Every checker takes a str and returns a bool; regexes are ASCII-only and
matched with ``fullmatch`` so that a trailing newline or a non-ASCII digit
never slips through (``\\d`` and ``$`` would let both in).
"""
import datetime
import re
import types
from typing import Callable, Dict, Iterator, Mapping, Optional

__all__ = ["FORMATS", "parse_datetime", "parse_time"]

# RFC 3339 §5.6: full-date = date-fullyear "-" date-month "-" date-mday
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# partial-time = time-hour ":" time-minute ":" time-second [time-secfrac];
# time-offset = "Z" / ("+" / "-") time-hour ":" time-minute; §5.6 NOTE: "T" and "Z" may be lower case.
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
_FULL_TIME = re.compile(_TIME)
_DATE_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]" + _TIME)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_days(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month - 1]


def _date_ok(year: str, month: str, day: str) -> bool:
    # Year 0000 is RFC 3339 but not a Python date: accepting it would let a
    # valid value crash the conversion to date/datetime (a 500, not a 422).
    m = int(month)
    return year != "0000" and 1 <= m <= 12 and 1 <= int(day) <= _month_days(int(year), m)


def _time_ok(hour, minute, second, sign, off_hour, off_minute) -> bool:
    h, m, s = int(hour), int(minute), int(second)
    if h > 23 or m > 59 or s > 60:
        return False
    offset = 0
    if sign is not None:
        oh, om = int(off_hour), int(off_minute)
        if oh > 23 or om > 59:
            return False
        offset = (oh * 60 + om) * (1 if sign == "+" else -1)
    # RFC 3339 §5.7: a leap second (:60) exists only at 23:59 UTC.
    return s < 60 or (h * 60 + m - offset) % 1440 == 23 * 60 + 59


def is_date(value: str) -> bool:
    """RFC 3339 full-date: 2024-02-29."""
    match = _DATE.fullmatch(value)
    return match is not None and _date_ok(*match.groups())


def is_time(value: str) -> bool:
    """RFC 3339 full-time (offset required): 08:30:06.25Z, 23:59:60+00:00."""
    match = _FULL_TIME.fullmatch(value)
    if match is None:
        return False
    hour, minute, second, _, sign, oh, om = match.groups()
    return _time_ok(hour, minute, second, sign, oh, om)


def is_datetime(value: str) -> bool:
    """RFC 3339 date-time (offset required): 2024-01-15T08:30:00Z."""
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second, _, sign, oh, om = match.groups()
    return _date_ok(year, month, day) and _time_ok(hour, minute, second, sign, oh, om)


def _fraction_to_micro(frac: Optional[str]) -> int:
    return int((frac or "0")[:6].ljust(6, "0"))


def _tz(sign: Optional[str], oh: Optional[str], om: Optional[str]) -> datetime.tzinfo:
    if sign is None:
        return datetime.timezone.utc
    delta = datetime.timedelta(hours=int(oh), minutes=int(om))
    return datetime.timezone(-delta if sign == "-" else delta)


def parse_datetime(value: str) -> datetime.datetime:
    """An aware datetime from a valid RFC 3339 date-time.

    Digits past microseconds are truncated; a leap second (:60) becomes
    :59.999999 because ``datetime`` cannot hold it.
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None or not is_datetime(value):
        raise ValueError("not an RFC 3339 date-time: %r" % (value,))
    year, month, day, hour, minute, second, frac, sign, oh, om = match.groups()
    micro = _fraction_to_micro(frac)
    sec = int(second)
    if sec == 60:
        sec, micro = 59, 999999
    return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), sec, micro,
                             tzinfo=_tz(sign, oh, om))


def parse_time(value: str) -> datetime.time:
    """An aware time from a valid RFC 3339 full-time (same rules as ``parse_datetime``)."""
    match = _FULL_TIME.fullmatch(value)
    if match is None or not is_time(value):
        raise ValueError("not an RFC 3339 time: %r" % (value,))
    hour, minute, second, frac, sign, oh, om = match.groups()
    micro = _fraction_to_micro(frac)
    sec = int(second)
    if sec == 60:
        sec, micro = 59, 999999
    return datetime.time(int(hour), int(minute), sec, micro, tzinfo=_tz(sign, oh, om))


# RFC 4122 §3 string representation (any version and variant nibble).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_uuid(value: str) -> bool:
    """RFC 4122 hyphenated form, any case."""
    return _UUID.fullmatch(value) is not None


# covet's own format for Decimal fields sent as strings: a JSON number's grammar, leading zeros allowed.
# At most 4 exponent digits: Decimal("1e999999999") is cheap to build, but
# int() or formatting it in a handler would hang or take gigabytes.
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,4})?")


def is_decimal(value: str) -> bool:
    """A decimal number written as a string: -12.50, 1e3 (no NaN, no Infinity, exponent within ±9999)."""
    return len(value) <= 4300 and _DECIMAL.fullmatch(value) is not None


class _Formats(Mapping):
    """``format`` name -> checker. The network formats (email, uri, hostname, ipv4, ipv6) live in
    ``_formats_net``, whose URI grammar and IDNA tables cost about a millisecond to build: it is
    imported with the first schema that names one of them, not with every app."""

    _NETWORK = ("email", "uri", "ipv4", "ipv6", "hostname")

    def __init__(self) -> None:
        self._checkers: Dict[str, Callable[[str], bool]] = {
            "date": is_date, "date-time": is_datetime, "time": is_time, "uuid": is_uuid, "decimal": is_decimal,
        }

    def __getitem__(self, name: str) -> Callable[[str], bool]:
        checker = self._checkers.get(name)
        if checker is None and name in self._NETWORK:
            from . import _formats_net as net

            self._checkers.update({"email": net.is_email, "uri": net.is_uri, "ipv4": net.is_ipv4,
                                   "ipv6": net.is_ipv6, "hostname": net.is_hostname})
            checker = self._checkers[name]
        if checker is None:
            raise KeyError(name)
        return checker

    def __iter__(self) -> Iterator[str]:
        return iter(FORMAT_NAMES)

    def __len__(self) -> int:
        return len(FORMAT_NAMES)


FORMATS: Mapping[str, Callable[[str], bool]] = _Formats()

FORMAT_NAMES = types.MappingProxyType({
    "date": "a date (YYYY-MM-DD)",
    "date-time": "an RFC 3339 date-time with offset",
    "time": "an RFC 3339 time with offset",
    "email": "an email address",
    "uri": "an absolute URI",
    "uuid": "a UUID",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "hostname": "a host name",
    "decimal": "a decimal number",
})
