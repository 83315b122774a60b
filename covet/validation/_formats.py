"""The ``format`` checkers (JSON Schema 2020-12 §7.3) and the RFC 3339 parsers behind them.

Every checker takes a str and returns a bool; regexes are ASCII-only and
matched with ``fullmatch`` so that a trailing newline or a non-ASCII digit
never slips through (``\\d`` and ``$`` would let both in).
"""
import datetime
import re
import types
import unicodedata
from typing import Callable, Mapping, Optional

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


# RFC 2673 §3.2 dotted-quad: four decimal octets 0-255 without leading zeros.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"{0}\.{0}\.{0}\.{0}".format(_OCTET))
_HEXTET = re.compile(r"[0-9A-Fa-f]{1,4}")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")


def is_ipv4(value: str) -> bool:
    """RFC 2673 dotted-quad IPv4 address."""
    return _IPV4.fullmatch(value) is not None


def is_ipv6(value: str) -> bool:
    """RFC 4291 §2.2 text form: eight hextets, one ``::``, optional dotted-quad tail; no zone id."""
    if _IPV6_CHARS.fullmatch(value) is None:
        return False
    if "." in value:
        head, _, tail = value.rpartition(":")
        if not is_ipv4(tail):
            return False
        value = head + ":0:0"
    if "::" in value:
        if value.count("::") > 1:
            return False
        left, right = value.split("::")
        groups = (left.split(":") if left else []) + (right.split(":") if right else [])
        if len(groups) > 7:
            return False
    else:
        groups = value.split(":")
        if len(groups) != 8:
            return False
    return all(_HEXTET.fullmatch(group) for group in groups)


# RFC 1123 §2.1 label: letters, digits, hyphens, not starting or ending with a hyphen, 1-63 chars.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# RFC 5892 §2.6 exceptions: code points whose IDNA2008 property is fixed by hand.
_IDNA_PVALID = frozenset("\u00df\u03c2\u06fd\u06fe\u0f0b\u3007")
_IDNA_DISALLOWED = frozenset("\u0640\u07fa\u302e\u302f\u3031\u3032\u3033\u3034\u3035\u303b")
_ARABIC_INDIC = frozenset(chr(c) for c in range(0x0660, 0x066A))
_EXT_ARABIC_INDIC = frozenset(chr(c) for c in range(0x06F0, 0x06FA))
# Scripts whose letters join (RFC 5892 Appendix A.1 Joining_Type L/D/R); unicodedata has no
# Joining_Type, so every letter of these scripts counts as dual-joining (an approximation).
_JOINING_SCRIPTS = ("ARABIC ", "SYRIAC ", "NKO ", "MONGOLIAN ", "PHAGS-PA ", "MANDAIC ",
                    "MANICHAEAN ", "PSALTER PAHLAVI ", "HANIFI ROHINGYA ", "SOGDIAN ", "ADLAM ")


def _name(char: str) -> str:
    return unicodedata.name(char, "")


def _joining(char: str) -> bool:
    return unicodedata.category(char).startswith("L") and _name(char).startswith(_JOINING_SCRIPTS)


def _transparent(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Me", "Cf")


def _is_han(char: str) -> bool:
    return _name(char).startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def _context_ok(label: str, i: int) -> bool:
    """RFC 5892 Appendix A: the CONTEXTJ and CONTEXTO rules."""
    char = label[i]
    before = label[i - 1] if i > 0 else ""
    after = label[i + 1] if i + 1 < len(label) else ""
    if char == "\u200d":  # ZERO WIDTH JOINER: only after a virama
        return before != "" and unicodedata.combining(before) == 9
    if char == "\u200c":  # ZERO WIDTH NON-JOINER: after a virama, or between joining letters
        if before and unicodedata.combining(before) == 9:
            return True
        j = i - 1
        while j >= 0 and _transparent(label[j]):
            j -= 1
        k = i + 1
        while k < len(label) and _transparent(label[k]):
            k += 1
        return j >= 0 and k < len(label) and _joining(label[j]) and _joining(label[k])
    if char == "\u00b7":  # MIDDLE DOT: between two 'l'
        return before == "l" and after == "l"
    if char == "\u0375":  # GREEK KERAIA: followed by Greek
        return after != "" and _name(after).startswith("GREEK")
    if char in "\u05f3\u05f4":  # HEBREW GERESH / GERSHAYIM: preceded by Hebrew
        return before != "" and _name(before).startswith("HEBREW")
    if char == "\u30fb":  # KATAKANA MIDDLE DOT: some Hiragana, Katakana or Han in the label
        return any(c != "\u30fb" and (_name(c).startswith(("HIRAGANA", "KATAKANA")) or _is_han(c))
                   for c in label)
    if char in _ARABIC_INDIC:
        return not any(c in _EXT_ARABIC_INDIC for c in label)
    if char in _EXT_ARABIC_INDIC:
        return not any(c in _ARABIC_INDIC for c in label)
    return True


_CONTEXTUAL = frozenset("\u200c\u200d\u00b7\u0375\u05f3\u05f4\u30fb") | _ARABIC_INDIC | _EXT_ARABIC_INDIC


def _u_label_ok(a_label: str) -> bool:
    """RFC 5891 §5.4 / RFC 5892: the Punycode of an ``xn--`` label decodes to a valid U-label."""
    try:
        ulabel = a_label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return False
    if not ulabel or ulabel.encode("punycode").decode("ascii") != a_label[4:].lower():
        return False
    if ulabel[2:4] == "--" or ulabel[0] == "-" or ulabel[-1] == "-":  # RFC 5891 §4.2.3.1
        return False
    if unicodedata.category(ulabel[0]).startswith("M"):  # RFC 5891 §4.2.3.2
        return False
    for i, char in enumerate(ulabel):
        if char in _IDNA_DISALLOWED:
            return False
        if char in _CONTEXTUAL:
            if not _context_ok(ulabel, i):
                return False
            continue
        if char in _IDNA_PVALID or char == "-":
            continue
        # RFC 5892 §2.2/§2.3: Unstable (changed by NFKC_Casefold) is DISALLOWED; LetterDigits are PVALID.
        if unicodedata.normalize("NFKC", char.casefold()) != char:
            return False
        if unicodedata.category(char) not in ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd"):
            return False
    return True


def is_hostname(value: str) -> bool:
    """RFC 1123 host name; ``xn--`` labels must be valid IDNA2008 A-labels (RFC 5890)."""
    if not value or len(value) > 253:
        return False
    for label in value.split("."):
        if _LABEL.fullmatch(label) is None:
            return False
        if label[2:4] == "--":
            # RFC 5891 §4.2.3.1: "--" in positions 3-4 is reserved for A-labels ("xn--").
            if label[:2].lower() != "xn" or not _u_label_ok(label):
                return False
    return True


# RFC 5321 §4.1.2: Local-part = Dot-string / Quoted-string.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = r'(?:{0}+(?:\.{0}+)*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*")'.format(_ATEXT)
_MAILBOX = re.compile(_LOCAL + r"@(.+)")


def is_email(value: str) -> bool:
    """RFC 5321 §4.1.2 Mailbox: dot-string or quoted local part, host name or address literal."""
    match = _MAILBOX.fullmatch(value)
    if match is None:
        return False
    domain = match.group(1)
    if len(value) - len(domain) - 1 > 64:  # RFC 5321 §4.5.3.1.1: local part at most 64 octets
        return False
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        if literal[:5].lower() == "ipv6:":
            return is_ipv6(literal[5:])
        return is_ipv4(literal)
    return is_hostname(domain)


# RFC 3986 Appendix A, transcribed; every repetition is over disjoint alternatives, so no backtracking blow-up.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = r"(?:[%s%s:@]|%s)" % (_UNRESERVED, _SUB_DELIMS, _PCT)
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_USERINFO = r"(?:[%s%s:]|%s)*" % (_UNRESERVED, _SUB_DELIMS, _PCT)
_REG_NAME = r"(?:[%s%s]|%s)*" % (_UNRESERVED, _SUB_DELIMS, _PCT)
_IP_LITERAL = r"\[([^\]/]*)\]"
_AUTHORITY = r"(?:%s@)?(?:%s|%s)(?::[0-9]*)?" % (_USERINFO, _IP_LITERAL, _REG_NAME)
_PATH_ABEMPTY = r"(?:/%s*)*" % _PCHAR
_PATH_ABSOLUTE = r"/(?:%s+(?:/%s*)*)?" % (_PCHAR, _PCHAR)
_PATH_ROOTLESS = r"%s+(?:/%s*)*" % (_PCHAR, _PCHAR)
_QUERY = r"(?:%s|[/?])*" % _PCHAR
_URI = re.compile(r"%s:(?://%s%s|%s|%s|)(?:\?%s)?(?:#%s)?" % (
    _SCHEME, _AUTHORITY, _PATH_ABEMPTY, _PATH_ABSOLUTE, _PATH_ROOTLESS, _QUERY, _QUERY))
# RFC 3986 §3.2.2: IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
_IPV_FUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[%s%s:]+" % (_UNRESERVED, _SUB_DELIMS))


def is_uri(value: str) -> bool:
    """RFC 3986 §3 URI (absolute: a scheme is required; no spaces, no non-ASCII)."""
    match = _URI.fullmatch(value)
    if match is None:
        return False
    literal = match.group(1)
    return literal is None or is_ipv6(literal) or _IPV_FUTURE.fullmatch(literal) is not None


# covet's own format for Decimal fields sent as strings: a JSON number's grammar, leading zeros allowed.
# At most 4 exponent digits: Decimal("1e999999999") is cheap to build, but
# int() or formatting it in a handler would hang or take gigabytes.
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,4})?")


def is_decimal(value: str) -> bool:
    """A decimal number written as a string: -12.50, 1e3 (no NaN, no Infinity, exponent within ±9999)."""
    return len(value) <= 4300 and _DECIMAL.fullmatch(value) is not None


FORMATS: Mapping[str, Callable[[str], bool]] = types.MappingProxyType({
    "date": is_date,
    "date-time": is_datetime,
    "time": is_time,
    "email": is_email,
    "uri": is_uri,
    "uuid": is_uuid,
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "hostname": is_hostname,
    "decimal": is_decimal,
})

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
