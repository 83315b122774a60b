"""Validators and conditional requests (RFC 9110 §8.8, §13): entity-tags, HTTP dates, and the order
in which preconditions are evaluated.

One copy of each rule, shared by the page cache (``covet.cache.page``), :class:`FileResponse` and
static files (``covet.staticfiles``). Pure functions on strings and numbers: no I/O, no Response.

Example::

    conditions = read_conditions(request.raw_headers)       # None when the request has none
    status = evaluate_preconditions(request.method, conditions, etag='"v1"', last_modified=mtime)
    # None: answer normally; 304 (Not Modified) or 412 (Precondition Failed): answer that instead
"""
import re
import time
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "EntityTag", "parse_etag", "parse_etag_list", "strong_match", "weak_match", "file_etag", "content_etag",
    "http_date", "parse_http_date", "Conditions", "read_conditions", "evaluate_preconditions", "if_range_holds",
    "NOT_MODIFIED_HEADERS", "not_modified_headers", "MAX_ETAGS",
]

Header = Tuple[bytes, bytes]

# A client listing more entity-tags than this in one If-Match / If-None-Match gets only the first
# ones compared: a cache holds a handful of stored variants, and the bound keeps one request from
# costing a comparison per byte of an 8 KiB header line (the same idea as MAX_RANGES).
MAX_ETAGS = 64


class EntityTag(NamedTuple):
    """An entity-tag (RFC 9110 §8.8.3): ``opaque`` is the quoted string, quotes included."""

    weak: bool
    opaque: str

    def __str__(self) -> str:
        return ("W/" + self.opaque) if self.weak else self.opaque


# RFC 9110 §8.8.3:
#   entity-tag = [ weak ] opaque-tag ; weak = %s"W/" ; opaque-tag = DQUOTE *etagc DQUOTE
#   etagc      = %x21 / %x23-7E / obs-text
# A list member (§5.6.1) is surrounded by optional whitespace and ends at a comma or the end.
# No nested quantifier, no overlap between the parts: linear on any input (waitress CVE-2020-5236).
_ETAG_MEMBER = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|\Z)')
_ETAG = re.compile(r'(W/)?("[\x21\x23-\x7e\x80-\xff]*")')


def parse_etag(value: str) -> Optional[EntityTag]:
    """One entity-tag (an ``ETag`` field value), or None when it is not one.

    Example::

        parse_etag('W/"xyzzy"')   # EntityTag(weak=True, opaque='"xyzzy"')
    """
    m = _ETAG.fullmatch(value.strip(" \t"))
    return EntityTag(m.group(1) is not None, m.group(2)) if m else None


def parse_etag_list(value: str) -> List[EntityTag]:
    """The entity-tags of an If-Match / If-None-Match value (``*`` is the caller's to test).

    Members that are not entity-tags (an unquoted ``xyzzy``) are skipped: they can match nothing.
    At most ``MAX_ETAGS`` are returned.

    Example::

        parse_etag_list('"xyzzy", W/"r2d2xxxx", "c3piozzzz"')   # three tags, the second weak
    """
    tags: List[EntityTag] = []
    pos, end = 0, len(value)
    while pos < end and len(tags) < MAX_ETAGS:
        m = _ETAG_MEMBER.match(value, pos)
        if m is not None:
            tags.append(EntityTag(m.group(1) is not None, m.group(2)))
            pos = m.end()
            continue
        if value[pos] in " \t,":  # §5.6.1: empty list elements are allowed
            pos += 1
            continue
        comma = value.find(",", pos)  # a malformed member: skip it
        pos = end if comma < 0 else comma + 1
    return tags


def strong_match(a: EntityTag, b: EntityTag) -> bool:
    """RFC 9110 §8.8.3.2: both strong and identical."""
    return not a.weak and not b.weak and a.opaque == b.opaque


def weak_match(a: EntityTag, b: EntityTag) -> bool:
    """RFC 9110 §8.8.3.2: identical opaque-tags, weak or not."""
    return a.opaque == b.opaque


def file_etag(stat_result: Any) -> str:
    """A strong entity-tag for a file from its ``os.stat`` result: modification time (ns) and size.

    Strong (RFC 9110 §8.8.1): a file rewritten with other bytes gets a new mtime; the nanosecond
    clock and the size together make two versions with one tag practically impossible. nginx
    uses seconds and size; the finer clock matters for a file rewritten twice in a second.

    Example::

        file_etag(os.stat("app.css"))   # '"17f3c2a1b0e4d5c6-1a2b"'
    """
    return '"%x-%x"' % (stat_result.st_mtime_ns, stat_result.st_size)


def content_etag(body: bytes) -> str:
    """A strong entity-tag from a body's bytes (a 128-bit BLAKE2b digest).

    Example::

        content_etag(b"hello")   # '"46fb7408d4f285228f4af516ea25851b"'
    """
    # PERF: hashlib (and OpenSSL's bindings behind it) loads with the first page-cache entry,
    # not with every server: start-up time and memory (see benchmarks/bench_import.py).
    import hashlib

    return '"%s"' % hashlib.blake2b(body, digest_size=16).hexdigest()


# -- HTTP dates (RFC 9110 §5.6.7) ------------------------------------------------------------------

# Written out here rather than taken from email.utils and calendar: both import datetime, which an
# app that never handles a date should not load at start-up.
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}


def http_date(timestamp: float) -> str:
    """``timestamp`` (seconds since the epoch) as an IMF-fixdate: ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    t = time.gmtime(timestamp)
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DAY_NAMES[t.tm_wday], t.tm_mday, _MONTH_NAMES[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
# IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT ; date1 = day SP month SP year
_IMF_FIXDATE = re.compile(_DAY + r", ([0-9]{2}) " + _MONTH + r" ([0-9]{4}) " + _TIME + r" GMT")
# rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT ; date2 = day "-" month "-" 2DIGIT
_RFC850_DATE = re.compile(_LONG_DAY + r", ([0-9]{2})-" + _MONTH + r"-([0-9]{2}) " + _TIME + r" GMT")
# asctime-date = day-name SP date3 SP time-of-day SP year ; date3 = month SP ( 2DIGIT / ( SP DIGIT ))
_ASCTIME_DATE = re.compile(_DAY + r" " + _MONTH + r" ([0-9 ][0-9]) " + _TIME + r" ([0-9]{4})")


def parse_http_date(value: str) -> Optional[int]:
    """Seconds since the epoch of an HTTP-date in any of its three forms, or None when invalid.

    Recipients must accept all three (RFC 9110 §5.6.7); anything else is not a date, and a
    conditional header holding it is ignored (§13.1.3, §13.1.4).

    Example::

        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")   # 784111777
        parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT")  # 784111777
        parse_http_date("Sun Nov  6 08:49:37 1994")        # 784111777
    """
    value = value.strip(" \t")
    m = _IMF_FIXDATE.fullmatch(value)
    if m is not None:
        day, month, year, hh, mm, ss = m.groups()
    else:
        m = _RFC850_DATE.fullmatch(value)
        if m is not None:
            day, month, yy, hh, mm, ss = m.groups()
            # §5.6.7: a two-digit year more than 50 years in the future is the most recent past
            # year with those digits.
            this_year = time.gmtime().tm_year
            year_n = this_year - this_year % 100 + int(yy)
            if year_n > this_year + 50:
                year_n -= 100
            year = str(year_n)
        else:
            m = _ASCTIME_DATE.fullmatch(value)
            if m is None:
                return None
            month, day, hh, mm, ss, year = m.groups()
    # Every field is digits of a fixed width (the regexes): int() is safe and bounded.
    n_day, n_hh, n_mm, n_ss = int(day), int(hh), int(mm), int(ss)
    n_month, n_year = _MONTHS[month], int(year)
    if not (1 <= n_day <= _month_days(n_year, n_month) and n_hh < 24 and n_mm < 60 and n_ss < 61):
        return None  # 31 Feb is no date
    # A leap second (:60) counts as :59, as POSIX time has no place for it.
    return _days_from_civil(n_year, n_month, n_day) * 86400 + n_hh * 3600 + n_mm * 60 + min(n_ss, 59)


# -- preconditions (RFC 9110 §13) ------------------------------------------------------------------

_NAMES = {b"if-match": 0, b"if-none-match": 1, b"if-modified-since": 2, b"if-unmodified-since": 3,
          b"if-range": 4, b"range": 5}


class Conditions:
    """A request's conditional fields and its Range, read in one pass over its headers.

    ``if_match`` and ``if_none_match`` join repeated lines with commas (RFC 9110 §5.3); the date
    fields and ``range`` are None unless sent exactly once (a second one makes the field invalid,
    §13.1.3, §13.1.4, §14.2), and a repeated If-Range is ``""``, which no representation matches.
    """

    __slots__ = ("if_match", "if_none_match", "if_modified_since", "if_unmodified_since", "if_range", "range")

    def __init__(self, if_match: Optional[str] = None, if_none_match: Optional[str] = None,
                 if_modified_since: Optional[str] = None, if_unmodified_since: Optional[str] = None,
                 if_range: Optional[str] = None, range: Optional[str] = None) -> None:
        self.if_match = if_match
        self.if_none_match = if_none_match
        self.if_modified_since = if_modified_since
        self.if_unmodified_since = if_unmodified_since
        self.if_range = if_range
        self.range = range


def read_conditions(raw_headers: Sequence[Header]) -> Optional[Conditions]:
    """The request's :class:`Conditions`, or None when it carries none of those fields (most requests).

    Example::

        read_conditions([(b"if-none-match", b'"a"'), (b"if-none-match", b'"b"')]).if_none_match   # '"a", "b"'
    """
    found: Optional[List[List[str]]] = None
    for name, value in raw_headers:
        i = _NAMES.get(name)
        if i is not None:
            if found is None:
                found = [[], [], [], [], [], []]
            found[i].append(value.decode("latin-1"))
    if found is None:
        return None

    def joined(values: List[str]) -> Optional[str]:
        return ", ".join(values) if values else None

    def single(values: List[str]) -> Optional[str]:
        return values[0] if len(values) == 1 else None

    # Two If-Range fields are no validator at all: "" matches nothing, so the Range is ignored
    # (the whole representation is sent, §13.1.5), rather than the If-Range forgotten.
    if_range = single(found[4]) if len(found[4]) < 2 else ""
    return Conditions(joined(found[0]), joined(found[1]), single(found[2]), single(found[3]), if_range,
                      single(found[5]))


def _any_matches(field: str, etag: Optional[EntityTag], exists: bool, weak: bool) -> bool:
    if field.strip(" \t") == "*":  # §13.1.1, §13.1.2: any current representation
        return exists
    if etag is None:
        return False
    compare = weak_match if weak else strong_match
    return any(compare(tag, etag) for tag in parse_etag_list(field))


def evaluate_preconditions(method: str, conditions: Optional[Conditions], etag: Optional[str] = None,
                           last_modified: Optional[float] = None, exists: bool = True) -> Optional[int]:
    """What the preconditions of a request for a resource decide, in RFC 9110 §13.2.2 order.

    Call it when the answer would otherwise be 2xx (§13.2.1). ``etag`` is the current ETag field
    value, ``last_modified`` the modification time (seconds), each None when the resource has none.
    Returns None (serve the request), 304 (Not Modified, only for GET and HEAD) or 412
    (Precondition Failed). If-Range is the Range step's (:func:`if_range_holds`).

    1. If-Match present: false (strong comparison) -> 412.
    2. Else If-Unmodified-Since, a valid date: modified after it -> 412.
    3. If-None-Match present: true (weak comparison) -> 304 for GET/HEAD, else 412.
    4. Else, for GET/HEAD, If-Modified-Since, a valid date: not modified after it -> 304.

    Example::

        c = read_conditions([(b"if-none-match", b'W/"v1"')])
        evaluate_preconditions("GET", c, etag='"v1"')   # 304 (If-None-Match compares weakly)
        evaluate_preconditions("PUT", c, etag='"v1"')   # 412
    """
    if conditions is None or method in ("CONNECT", "OPTIONS", "TRACE"):  # §13.2.1
        return None
    tag = parse_etag(etag) if etag is not None else None
    modified = int(last_modified) if last_modified is not None else None
    if conditions.if_match is not None:
        if not _any_matches(conditions.if_match, tag, exists, weak=False):
            return 412
    elif conditions.if_unmodified_since is not None and modified is not None:
        since = parse_http_date(conditions.if_unmodified_since)
        if since is not None and modified > since:  # an invalid date is ignored (§13.1.4)
            return 412
    safe = method in ("GET", "HEAD")
    if conditions.if_none_match is not None:
        if _any_matches(conditions.if_none_match, tag, exists, weak=True):
            return 304 if safe else 412
    elif safe and conditions.if_modified_since is not None and modified is not None:
        since = parse_http_date(conditions.if_modified_since)
        if since is not None and modified <= since:  # an invalid date is ignored (§13.1.3)
            return 304
    return None


def if_range_holds(value: str, etag: Optional[str], last_modified: Optional[float],
                   now: Optional[float] = None) -> bool:
    """Whether an If-Range value matches the current representation (RFC 9110 §13.1.5).

    An entity-tag matches by the strong comparison (a weak tag never does); a date matches
    when it equals the modification time exactly *and* that time is a strong validator, at
    least a second before now (§8.8.2.2). Anything else is false: the Range is then ignored
    and the whole representation sent.

    Example::

        if_range_holds('"v1"', '"v1"', None)      # True
        if_range_holds('W/"v1"', 'W/"v1"', None)  # False
    """
    value = value.strip(" \t")
    if value.startswith(('"', 'W/"')):  # §13.1.5: a DQUOTE in the first three characters
        tag, mine = parse_etag(value), parse_etag(etag) if etag is not None else None
        return tag is not None and mine is not None and strong_match(tag, mine)
    date = parse_http_date(value)
    if date is None or last_modified is None:
        return False
    if now is None:
        now = time.time()
    return int(last_modified) == date and now - date >= 1


# RFC 9110 §15.4.5: a 304 carries those of these a 200 would have; other representation
# metadata it should not (a Content-Length there would describe no body).
NOT_MODIFIED_HEADERS = frozenset((b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"))


def not_modified_headers(raw_headers: Sequence[Header]) -> List[Header]:
    """The headers of a 200 that its 304 keeps (``NOT_MODIFIED_HEADERS``), in their order.

    Example::

        not_modified_headers([(b"etag", b'"a"'), (b"content-length", b"5")])   # [(b"etag", b'"a"')]
    """
    return [(k, v) for k, v in raw_headers if k in NOT_MODIFIED_HEADERS]
