"""Byte ranges (RFC 9110 §14): parsing ``Range``, choosing what to send, ``Content-Range``.

covet answers a Range request with one part or none: a single range (or several that overlap or
touch, coalesced as §14.2 allows) is a 206 with ``Content-Range``; ranges that stay apart after
coalescing get the whole representation, a 200, as §14.2 lets a server ignore Range. That
keeps every partial answer one contiguous slice of the file (which ``sendfile`` sends without a
copy) and leaves no multipart body to build; browsers and download managers ask for one range.

Example::

    choice = choose_range(read_conditions(request.raw_headers), size, etag, mtime)
    choice.status    # 200 (send it all), 206 (send choice.range) or 416 (Content-Range: bytes */size)
"""
import re
from typing import List, NamedTuple, Optional

from .conditional import Conditions, if_range_holds

__all__ = ["MAX_RANGES", "RangeSpec", "ByteRange", "parse_range", "satisfiable_ranges", "coalesce",
           "content_range", "unsatisfied_range", "RangeChoice", "choose_range"]

# A Range field listing more ranges than this is ignored and the whole representation sent (a
# 200). Apache's answer to CVE-2011-3192 ("Apache Killer": hundreds of overlapping ranges
# multiplied the work and memory per request) was the same, its MaxRanges directive (default
# 200); Starlette's CVE-2025-62727 was quadratic work on many ranges. Parsing stops at the
# bound, and coalescing sorts at most this many, so a request's cost does not grow with its
# Range field; no answer is ever larger than the file.
MAX_RANGES = 100

# Ranges closer than this many bytes are merged into one (RFC 9110 §14.2: a server MAY
# coalesce ranges "separated by a gap that is smaller than the overhead of sending multiple
# parts"; a multipart part header is about that long).
COALESCE_GAP = 80

# §14.1.1: first-pos, last-pos and suffix-length are 1*DIGIT; more digits than this is a
# number larger than any file, read as "past the end" without calling int() on it
# (CVE-2020-10735: int() on thousands of digits is quadratic).
_MAX_DIGITS = 18
_FAR = 10 ** _MAX_DIGITS

# range-set = 1#range-spec ; range-spec = int-range / suffix-range / other-range
# int-range = first-pos "-" [ last-pos ] ; suffix-range = "-" suffix-length
_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


class RangeSpec(NamedTuple):
    """One range-spec as sent: ``first`` None is a suffix range of ``last`` bytes; ``last`` None is open."""

    first: Optional[int]
    last: Optional[int]


class ByteRange(NamedTuple):
    """Bytes ``start`` to ``stop - 1`` of a representation (``stop`` exclusive, as Python slices)."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else _FAR


def parse_range(value: str) -> Optional[List[RangeSpec]]:
    """The range-specs of a ``Range`` value, or None when it must be ignored.

    None for another unit than ``bytes`` (§14.2: ignore an unknown unit), for an invalid
    ranges-specifier (a last-pos before its first-pos, a spec that is not ``N-``, ``N-M`` or
    ``-N``, no spec at all: §14.1.1, §14.2), and for more than ``MAX_RANGES`` specs. Whitespace
    around list members and empty members are allowed (§5.6.1); inside a spec they are not.

    Example::

        parse_range("bytes=0-499")          # [RangeSpec(first=0, last=499)]
        parse_range("bytes=-500")           # [RangeSpec(first=None, last=500)]
        parse_range("bytes=9500-")          # [RangeSpec(first=9500, last=None)]
        parse_range("bytes=500-600,601-999")
        parse_range("items=0-5")            # None
    """
    unit, eq, ranges = value.partition("=")
    if not eq or unit.strip(" \t").lower() != "bytes":  # §14.1: range units are case-insensitive
        return None
    specs: List[RangeSpec] = []
    for member in ranges.split(","):
        member = member.strip(" \t")
        if not member:
            continue
        if len(specs) >= MAX_RANGES:
            return None
        m = _SPEC.fullmatch(member)
        if m is None:
            return None
        first, last = m.groups()
        if first:
            spec = RangeSpec(_number(first), _number(last) if last else None)
            if spec.last is not None and spec.last < spec.first:
                return None  # §14.1.1: invalid
        elif last:
            spec = RangeSpec(None, _number(last))
        else:
            return None  # "-" alone
        specs.append(spec)
    return specs or None


def satisfiable_ranges(specs: List[RangeSpec], size: int) -> List[ByteRange]:
    """The specs that select at least one byte of a ``size``-byte representation, clamped to it.

    §14.1.1: an int-range is satisfiable when its first-pos is below the size (a last-pos past
    the end means the end); a suffix range when its length is not zero (longer than the
    representation means all of it). An empty list means none is: answer 416.

    Example::

        satisfiable_ranges(parse_range("bytes=9500-,20000-"), 10000)   # [ByteRange(9500, 10000)]
    """
    out = []
    for first, last in specs:
        if first is None:
            if last and size:
                out.append(ByteRange(max(size - last, 0), size))
        elif first < size:
            out.append(ByteRange(first, size if last is None or last >= size else last + 1))
    return out


def coalesce(ranges: List[ByteRange], gap: int = COALESCE_GAP) -> List[ByteRange]:
    """``ranges`` sorted, with those that overlap or lie within ``gap`` bytes of each other merged.

    Example::

        coalesce([ByteRange(500, 701), ByteRange(601, 1000)])   # [ByteRange(500, 1000)]
    """
    merged: List[ByteRange] = []
    for r in sorted(ranges):
        if merged and r.start <= merged[-1].stop + gap:
            if r.stop > merged[-1].stop:
                merged[-1] = ByteRange(merged[-1].start, r.stop)
        else:
            merged.append(r)
    return merged


def content_range(r: ByteRange, size: int) -> str:
    """The Content-Range of a 206 (§14.4): ``bytes 0-499/1234``, last byte inclusive."""
    return "bytes %d-%d/%d" % (r.start, r.stop - 1, size)


def unsatisfied_range(size: int) -> str:
    """The Content-Range of a 416 (§15.5.17): ``bytes */1234``."""
    return "bytes */%d" % size


class RangeChoice(NamedTuple):
    """What to send: ``status`` 200 (all of it), 206 (``range``) or 416 (nothing)."""

    status: int
    range: Optional[ByteRange]


_WHOLE = RangeChoice(200, None)
_UNSATISFIABLE = RangeChoice(416, None)


def choose_range(conditions: Optional[Conditions], size: int, etag: Optional[str] = None,
                 last_modified: Optional[float] = None) -> RangeChoice:
    """The answer to a GET's Range for a ``size``-byte representation, after its preconditions.

    The last step of RFC 9110 §13.2.2: If-Range, when sent, must hold (:func:`if_range_holds`)
    or the Range is ignored. Then Range: ignored when invalid or too long (200); 416 when no
    range is satisfiable; 206 for one range once coalesced; 200 for several apart.

    Example::

        c = read_conditions([(b"range", b"bytes=-500")])
        choose_range(c, 10000)   # RangeChoice(status=206, range=ByteRange(start=9500, stop=10000))
    """
    if conditions is None or conditions.range is None:
        return _WHOLE
    if conditions.if_range is not None and not if_range_holds(conditions.if_range, etag, last_modified):
        return _WHOLE
    specs = parse_range(conditions.range)
    if specs is None:
        return _WHOLE
    ranges = satisfiable_ranges(specs, size)
    if not ranges:
        # A zero-length representation satisfies only a suffix range, which still selects no
        # byte: there is no Content-Range to send for it, so it gets its (empty) whole.
        if size == 0 and any(s.first is None and s.last for s in specs):
            return _WHOLE
        return _UNSATISFIABLE
    ranges = coalesce(ranges)
    return RangeChoice(206, ranges[0]) if len(ranges) == 1 else _WHOLE
