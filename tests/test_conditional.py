"""The kernel's validators, preconditions and byte ranges (covet.core.conditional, covet.core.ranges),
checked against the examples of RFC 9110 (§5.6.7 dates, §8.8.3 entity-tags, §13 preconditions and
their §13.2.2 order, §14 ranges)."""
import os
import time

import pytest

from covet.core.conditional import (
    MAX_ETAGS, NOT_MODIFIED_HEADERS, Conditions, EntityTag, content_etag, evaluate_preconditions, file_etag,
    http_date, if_range_holds, not_modified_headers, parse_etag, parse_etag_list, parse_http_date,
    read_conditions, strong_match, weak_match,
)
from covet.core.ranges import (
    MAX_RANGES, ByteRange, RangeChoice, RangeSpec, choose_range, coalesce, content_range, parse_range,
    satisfiable_ranges, unsatisfied_range,
)

# RFC 9110 §5.6.7: the one instant in its three forms.
SUNDAY = 784111777


def conditions(**fields):
    raw = []
    for name, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            raw.append((name.replace("_", "-").encode(), v.encode("utf-8")))
    return read_conditions(raw)


# -- dates ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                  "Sun Nov  6 08:49:37 1994", "  Sun, 06 Nov 1994 08:49:37 GMT\t"])
def test_the_three_http_date_forms_of_rfc_9110_5_6_7(text):
    assert parse_http_date(text) == SUNDAY


@pytest.mark.parametrize("text", [
    "", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov +994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", "784111777", "Sun, ٠٦ Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT" + " " * 10000 + "x",
])
def test_what_is_not_an_http_date_is_none(text):
    assert parse_http_date(text) is None


def test_rfc850_two_digit_years_more_than_50_years_ahead_are_in_the_past():
    this_year = time.gmtime().tm_year
    ahead = (this_year + 49) % 100
    behind = (this_year + 51) % 100
    assert time.gmtime(parse_http_date("Monday, 01-Jan-%02d 00:00:00 GMT" % ahead)).tm_year == this_year + 49
    assert time.gmtime(parse_http_date("Monday, 01-Jan-%02d 00:00:00 GMT" % behind)).tm_year == this_year + 51 - 100


def test_http_date_writes_imf_fixdate_and_reads_back():
    assert http_date(SUNDAY) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT"
    for t in (0, 951782400, 4102444799, SUNDAY):
        assert parse_http_date(http_date(t)) == t


# -- entity-tags (RFC 9110 §8.8.3) ---------------------------------------------------------------

def test_entity_tags_parse_as_written():
    assert parse_etag('"xyzzy"') == EntityTag(False, '"xyzzy"')
    assert parse_etag('W/"xyzzy"') == EntityTag(True, '"xyzzy"')
    assert parse_etag('""') == EntityTag(False, '""')
    assert str(parse_etag('W/"a"')) == 'W/"a"'
    for bad in ('xyzzy', '"xy"zy"', 'w/"x"', '"x', 'W/ "x"', '"x y"'):
        assert parse_etag(bad) is None, bad


@pytest.mark.parametrize("a,b,strong,weak", [
    # RFC 9110 §8.8.3.2's table
    ('W/"1"', 'W/"1"', False, True),
    ('W/"1"', 'W/"2"', False, False),
    ('W/"1"', '"1"', False, True),
    ('"1"', '"1"', True, True),
])
def test_the_comparison_table_of_rfc_9110_8_8_3_2(a, b, strong, weak):
    ta, tb = parse_etag(a), parse_etag(b)
    assert strong_match(ta, tb) is strong and strong_match(tb, ta) is strong
    assert weak_match(ta, tb) is weak and weak_match(tb, ta) is weak


def test_etag_lists_skip_what_is_not_a_tag_and_keep_commas_inside_quotes():
    assert parse_etag_list('"xyzzy", "r2d2xxxx", "c3piozzzz"') == [
        EntityTag(False, '"xyzzy"'), EntityTag(False, '"r2d2xxxx"'), EntityTag(False, '"c3piozzzz"')]
    assert parse_etag_list('W/"xyzzy", W/"r2d2xxxx"') == [EntityTag(True, '"xyzzy"'), EntityTag(True, '"r2d2xxxx"')]
    assert parse_etag_list('"a,b" ,, \t"c"') == [EntityTag(False, '"a,b"'), EntityTag(False, '"c"')]
    assert parse_etag_list('bare, "ok", W/x, "also"') == [EntityTag(False, '"ok"'), EntityTag(False, '"also"')]
    assert parse_etag_list(", ".join('"%d"' % i for i in range(1000))) == [
        EntityTag(False, '"%d"' % i) for i in range(MAX_ETAGS)]


def test_file_and_content_etags_are_strong():
    st = os.stat(__file__)
    assert file_etag(st) == '"%x-%x"' % (st.st_mtime_ns, st.st_size)
    assert content_etag(b"hello") == '"46fb7408d4f285228f4af516ea25851b"'
    assert not parse_etag(file_etag(st)).weak and not parse_etag(content_etag(b"")).weak


# -- preconditions (RFC 9110 §13.1, §13.2.2) -----------------------------------------------------

def test_a_request_without_conditional_fields_has_no_conditions():
    assert read_conditions([(b"host", b"x"), (b"accept", b"*/*")]) is None
    assert evaluate_preconditions("GET", None, '"a"', SUNDAY) is None


def test_reading_conditions_joins_list_fields_and_drops_repeated_singletons():
    c = read_conditions([(b"if-none-match", b'"a"'), (b"if-none-match", b'"b"'), (b"if-modified-since", b"x"),
                         (b"if-modified-since", b"y"), (b"if-range", b'"a"'), (b"range", b"bytes=0-1")])
    assert (c.if_none_match, c.if_modified_since, c.if_range, c.range, c.if_match) == (
        '"a", "b"', None, '"a"', "bytes=0-1", None)


@pytest.mark.parametrize("field,status", [
    # RFC 9110 §13.1.2's examples against a current ETag of "xyzzy"
    ('"xyzzy"', 304), ('W/"xyzzy"', 304), ('"xyzzy", "r2d2xxxx", "c3piozzzz"', 304),
    ('W/"xyzzy", W/"r2d2xxxx", W/"c3piozzzz"', 304), ("*", 304), ('"other"', None), ("xyzzy", None),
])
def test_if_none_match_examples(field, status):
    c = conditions(if_none_match=field)
    assert evaluate_preconditions("GET", c, '"xyzzy"') == status
    assert evaluate_preconditions("HEAD", c, '"xyzzy"') == status
    # §13.1.2: for other methods a true If-None-Match is 412
    assert evaluate_preconditions("POST", c, '"xyzzy"') == (412 if status else None)


def test_if_none_match_star_is_false_when_there_is_no_representation():
    assert evaluate_preconditions("PUT", conditions(if_none_match="*"), None, exists=False) is None
    assert evaluate_preconditions("PUT", conditions(if_none_match="*"), None) == 412


@pytest.mark.parametrize("field,status", [
    # RFC 9110 §13.1.1's examples; If-Match uses the strong comparison
    ('"xyzzy"', None), ('"xyzzy", "r2d2xxxx", "c3piozzzz"', None), ("*", None),
    ('W/"xyzzy"', 412), ('"r2d2xxxx"', 412), ("", 412),
])
def test_if_match_examples(field, status):
    assert evaluate_preconditions("PUT", conditions(if_match=field), '"xyzzy"') == status
    assert evaluate_preconditions("GET", conditions(if_match=field), '"xyzzy"') == status


def test_if_match_never_matches_a_weak_current_etag_nor_a_missing_one():
    assert evaluate_preconditions("GET", conditions(if_match='W/"a"'), 'W/"a"') == 412
    assert evaluate_preconditions("GET", conditions(if_match='"a"'), None) == 412
    assert evaluate_preconditions("GET", conditions(if_match="*"), None, exists=False) == 412


def test_if_modified_since_and_if_unmodified_since():
    before, at, after = http_date(SUNDAY - 1), http_date(SUNDAY), http_date(SUNDAY + 1)
    assert evaluate_preconditions("GET", conditions(if_modified_since=at), None, SUNDAY) == 304
    assert evaluate_preconditions("GET", conditions(if_modified_since=after), None, SUNDAY + 0.9) == 304
    assert evaluate_preconditions("GET", conditions(if_modified_since=before), None, SUNDAY) is None
    assert evaluate_preconditions("GET", conditions(if_modified_since="garbage"), None, SUNDAY) is None
    assert evaluate_preconditions("GET", conditions(if_modified_since=at), None, None) is None  # no date known
    # §13.1.3: only for GET and HEAD
    assert evaluate_preconditions("POST", conditions(if_modified_since=at), None, SUNDAY) is None
    assert evaluate_preconditions("PUT", conditions(if_unmodified_since=before), None, SUNDAY) == 412
    assert evaluate_preconditions("PUT", conditions(if_unmodified_since=at), None, SUNDAY) is None
    assert evaluate_preconditions("PUT", conditions(if_unmodified_since="garbage"), None, SUNDAY) is None


def test_rfc_9110_13_2_2_order():
    tag, at, before = '"v1"', http_date(SUNDAY), http_date(SUNDAY - 10)
    # 1. If-Match false -> 412, whatever else says 304
    assert evaluate_preconditions("GET", conditions(if_match='"v0"', if_none_match=tag), tag, SUNDAY) == 412
    # 2. If-Unmodified-Since is not looked at when If-Match is present (and true)
    assert evaluate_preconditions("GET", conditions(if_match=tag, if_unmodified_since=before), tag, SUNDAY) is None
    assert evaluate_preconditions("GET", conditions(if_unmodified_since=before, if_none_match=tag), tag, SUNDAY) == 412
    # 3. If-None-Match decides alone: If-Modified-Since is ignored when it is present
    assert evaluate_preconditions("GET", conditions(if_none_match='"v0"', if_modified_since=at), tag, SUNDAY) is None
    assert evaluate_preconditions("GET", conditions(if_none_match=tag, if_modified_since=before), tag, SUNDAY) == 304
    # 4. If-Modified-Since only without If-None-Match
    assert evaluate_preconditions("GET", conditions(if_modified_since=at), tag, SUNDAY) == 304
    # §13.2.1: CONNECT, OPTIONS and TRACE ignore preconditions
    assert evaluate_preconditions("OPTIONS", conditions(if_match='"v0"'), tag) is None


def test_if_range_is_strong_or_exact():
    assert if_range_holds('"v1"', '"v1"', None)
    assert not if_range_holds('"v0"', '"v1"', None)
    assert not if_range_holds('W/"v1"', 'W/"v1"', None)   # §13.1.5: weak tags never match
    assert not if_range_holds('"v1"', 'W/"v1"', None)
    assert if_range_holds(http_date(SUNDAY), None, SUNDAY, now=SUNDAY + 5)
    assert not if_range_holds(http_date(SUNDAY), None, SUNDAY + 1, now=SUNDAY + 5)
    assert not if_range_holds(http_date(SUNDAY), None, SUNDAY - 1, now=SUNDAY + 5)
    # §8.8.2.2: a Last-Modified within the second of "now" is a weak validator
    assert not if_range_holds(http_date(SUNDAY), None, SUNDAY, now=SUNDAY + 0.5)
    assert not if_range_holds("garbage", '"v1"', SUNDAY)


def test_a_304_keeps_only_the_fields_rfc_9110_15_4_5_names():
    raw = [(b"content-type", b"text/css"), (b"etag", b'"a"'), (b"content-length", b"5"), (b"vary", b"Accept"),
           (b"cache-control", b"max-age=1"), (b"last-modified", b"x"), (b"expires", b"y")]
    assert not_modified_headers(raw) == [(b"etag", b'"a"'), (b"vary", b"Accept"), (b"cache-control", b"max-age=1"),
                                         (b"expires", b"y")]
    assert NOT_MODIFIED_HEADERS == {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"}


# -- ranges (RFC 9110 §14) ------------------------------------------------------------------------

SIZE = 10000  # §14.1.2's examples assume a 10000-byte representation


@pytest.mark.parametrize("header,ranges", [
    ("bytes=0-499", [ByteRange(0, 500)]),                      # the first 500 bytes
    ("bytes=500-999", [ByteRange(500, 1000)]),                 # the second 500 bytes
    ("bytes=-500", [ByteRange(9500, 10000)]),                  # the final 500 bytes
    ("bytes=9500-", [ByteRange(9500, 10000)]),                 # the final 500 bytes
    ("bytes=0-0,-1", [ByteRange(0, 1), ByteRange(9999, 10000)]),   # the first and last bytes only
    ("bytes=500-600,601-999", [ByteRange(500, 601), ByteRange(601, 1000)]),  # the second 500, not canonical
    ("bytes=500-700,601-999", [ByteRange(500, 701), ByteRange(601, 1000)]),
    ("bytes=0-999, 4500-5499, -1000", [ByteRange(0, 1000), ByteRange(4500, 5500), ByteRange(9000, 10000)]),
    ("bytes=9000-20000", [ByteRange(9000, 10000)]),            # a last-pos past the end means the end
    ("bytes=-20000", [ByteRange(0, 10000)]),                   # a suffix longer than it: all of it
    ("Bytes=0-1", [ByteRange(0, 2)]),                          # §14.1: units are case-insensitive
    ("bytes=0-1,,\t, 3-4 ,", [ByteRange(0, 2), ByteRange(3, 5)]),   # §5.6.1: OWS and empty members
    ("bytes=0-" + "9" * 5000, [ByteRange(0, 10000)]),          # huge numbers: no int() on 5000 digits
    ("bytes=000000000000000000000000000005-6", [ByteRange(5, 7)]),
])
def test_the_byte_range_examples_of_rfc_9110_14_1_2(header, ranges):
    assert satisfiable_ranges(parse_range(header), SIZE) == ranges


def test_parse_range_keeps_specs_as_sent():
    assert parse_range("bytes=0-499,-500,9500-") == [RangeSpec(0, 499), RangeSpec(None, 500), RangeSpec(9500, None)]


@pytest.mark.parametrize("header", [
    "items=0-5", "bytes", "bytes=", "bytes=,", "bytes=-", "bytes=5-1", "bytes=abc", "bytes=1-2-3", "bytes=0 -1",
    "bytes=0- 1", "bytes=+1-2", "bytes=0x1-2", "bytes=٠-١", "bytes=1.5-2", "bytes=0-1;x", "bytes 0-1", "bytes=-1-",
    "bytes=" + ",".join(["0-0"] * (MAX_RANGES + 1)),
])
def test_an_invalid_or_unknown_range_is_ignored(header):
    assert parse_range(header) is None
    assert choose_range(conditions(range=header), SIZE) == RangeChoice(200, None)


def test_unsatisfiable_ranges_are_416_with_the_size():
    for header in ("bytes=10000-", "bytes=-0", "bytes=20000-30000", "bytes=10000-,-0"):
        assert choose_range(conditions(range=header), SIZE) == RangeChoice(416, None), header
    assert unsatisfied_range(SIZE) == "bytes */10000"
    # one satisfiable range among unsatisfiable ones is served (§14.1.1)
    assert choose_range(conditions(range="bytes=20000-,0-9"), SIZE) == RangeChoice(206, ByteRange(0, 10))


def test_choose_range_serves_one_range_and_coalesces_overlapping_or_touching_ones():
    assert choose_range(conditions(range="bytes=0-499"), SIZE) == RangeChoice(206, ByteRange(0, 500))
    assert content_range(ByteRange(0, 500), SIZE) == "bytes 0-499/10000"
    assert choose_range(conditions(range="bytes=500-600,601-999"), SIZE) == RangeChoice(206, ByteRange(500, 1000))
    assert choose_range(conditions(range="bytes=500-700,601-999"), SIZE) == RangeChoice(206, ByteRange(500, 1000))
    # far apart: the whole representation (§14.2 lets a server ignore Range), never a multipart
    assert choose_range(conditions(range="bytes=0-0,-1"), SIZE) == RangeChoice(200, None)
    # CVE-2011-3192's shape: many overlapping ranges are one range, never more than the file
    many = "bytes=" + ",".join("0-%d" % (i * 10) for i in range(MAX_RANGES))
    assert choose_range(conditions(range=many), SIZE) == RangeChoice(206, ByteRange(0, 991))
    assert coalesce([ByteRange(9, 10), ByteRange(0, 5), ByteRange(3, 4)]) == [ByteRange(0, 10)]
    assert coalesce([ByteRange(0, 5), ByteRange(500, 600)]) == [ByteRange(0, 5), ByteRange(500, 600)]


def test_a_range_header_of_thousands_of_ranges_costs_one_pass():
    header = "bytes=" + ",".join("%d-%d" % (i, i) for i in range(0, 8000, 2))
    started = time.perf_counter()
    assert choose_range(conditions(range=header), SIZE) == RangeChoice(200, None)
    assert time.perf_counter() - started < 0.5  # a safety net; the work is bounded by MAX_RANGES


def test_if_range_gates_the_range():
    tag = '"v1"'
    assert choose_range(conditions(range="bytes=0-9", if_range=tag), SIZE, tag) == RangeChoice(206, ByteRange(0, 10))
    assert choose_range(conditions(range="bytes=0-9", if_range='"v0"'), SIZE, tag) == RangeChoice(200, None)
    assert choose_range(conditions(range="bytes=0-9", if_range=http_date(SUNDAY)), SIZE, tag,
                        SUNDAY) == RangeChoice(206, ByteRange(0, 10))
    # §13.1.5: If-Range without Range is ignored
    assert choose_range(conditions(if_range='"v0"'), SIZE, tag) == RangeChoice(200, None)
    # an If-Range sent twice is invalid: the Range is ignored
    assert choose_range(conditions(range="bytes=0-9", if_range=[tag, tag]), SIZE, tag) == RangeChoice(200, None)


def test_a_zero_length_representation():
    assert choose_range(conditions(range="bytes=0-"), 0) == RangeChoice(416, None)
    assert choose_range(conditions(range="bytes=-5"), 0) == RangeChoice(200, None)


def test_conditions_can_be_built_directly():
    c = Conditions(range="bytes=1-2")
    assert choose_range(c, 5) == RangeChoice(206, ByteRange(1, 3)) and ByteRange(1, 3).length == 2
