"""covet.core.multipart: every parser case fed whole, byte by byte and in seeded random chunks."""
import asyncio
import gc
import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from covet import Covet, Request
from covet.core import multipart as mp
from covet.core import multipart_parser
from covet.core.multipart import (
    Finished, MultipartError, MultipartLimits, MultipartParser, PartBegin, PartData, PartEnd,
    UploadFile, get_boundary, parse_multipart, parse_multipart_bytes, parse_options_header,
)

B = b"boundary"
CD = b'Content-Disposition: form-data; name="%s"'


def part(name, data=b"", filename=None, content_type=None, headers=()):
    """One encapsulation without its delimiter: header lines, blank line, data."""
    cd = CD % name.encode()
    if filename is not None:
        cd += b'; filename="%s"' % filename.encode()
    lines = [cd] + ([b"Content-Type: " + content_type.encode()] if content_type else []) + list(headers)
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n" + data


def body(*parts, preamble=b"", epilogue=b"\r\n"):
    inner = b"".join(b"--" + B + b"\r\n" + p + b"\r\n" for p in parts)
    return preamble + inner + b"--" + B + b"--" + epilogue


def cd_header(name, filename=None):
    value = 'form-data; name="%s"' % name
    if filename is not None:
        value += '; filename="%s"' % filename
    return ("content-disposition", value)


def splits(data, bytewise=True):
    """(label, chunk iterator) for each feeding strategy; chunks are produced lazily."""
    yield "whole", iter([data])
    if bytewise:
        yield "bytewise", (data[i:i + 1] for i in range(len(data)))
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        top = max(2, min(len(data) // 5, 70000))

        def chunks(rng=rng, top=top):
            i = 0
            while i < len(data):
                n = rng.randint(1, top)
                yield data[i:i + n]
                i += n

        yield "random-%d" % seed, chunks()


def normalize(events):
    """Merge adjacent PartData: how the data is split depends on how it was fed."""
    out = []
    for event in events:
        if isinstance(event, PartData) and out and isinstance(out[-1], PartData):
            out[-1] = PartData(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def parse(data, limits=None, bytewise=True, boundary=B):
    """Events of ``data`` fed every way (identical), and again with trailing epilogue bytes."""
    results = {}
    for extra in (b"", b"trailing bytes after the end"):
        for label, chunks in splits(data + extra, bytewise):
            parser = MultipartParser(boundary, limits)
            events = []
            for chunk in chunks:
                events += parser.feed(chunk)
            events += parser.close()
            assert not any(isinstance(e, PartData) and not e.data for e in events)
            results[label, extra] = normalize(events)
    first = next(iter(results.values()))
    assert all(r == first for r in results.values()), results
    return first


def parse_error(data, limits=None, bytewise=True):
    """The MultipartError every strategy raises, plus the bytes fed when each raised."""
    errors, offsets = set(), []
    for label, chunks in splits(data, bytewise):
        parser, fed = MultipartParser(B, limits), 0
        with pytest.raises(MultipartError) as info:
            for chunk in chunks:
                fed += len(chunk)
                parser.feed(chunk)
            fed += 1  # marks "raised by close()"
            parser.close()
        errors.add((info.value.status, info.value.detail))
        offsets.append(fed)
    assert len(errors) == 1, errors
    return errors.pop(), offsets


def close_items(items):
    for _, value in items:
        if isinstance(value, UploadFile):
            value.file.close()


# -- events -------------------------------------------------------------------------------------


def test_simple_fields():
    data = body(part("a", b"hello"), part("b", b"world wide"))
    assert parse(data) == [
        PartBegin("a", None, None, [cd_header("a")]), PartData(b"hello"), PartEnd(),
        PartBegin("b", None, None, [cd_header("b")]), PartData(b"world wide"), PartEnd(),
        Finished(),
    ]


def test_file_with_filename_and_content_type():
    data = body(part("upload", b"\x00\xffPNG\r\n", "pic.png", "image/png", [b"X-Extra:  v  "]))
    assert parse(data) == [
        PartBegin("upload", "pic.png", "image/png",
                  [cd_header("upload", "pic.png"), ("content-type", "image/png"), ("x-extra", "v")]),
        PartData(b"\x00\xffPNG\r\n"), PartEnd(), Finished(),
    ]


def test_filename_star_utf8_wins_over_filename():
    cd = b"Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt; filename=\"naive.txt\""
    events = parse(body(cd + b"\r\n\r\nx"))
    assert events[0].filename == "na\u00efve \u20ac.txt"
    assert events[0].name == "f"


def test_raw_utf8_filename_is_decoded():
    events = parse(body(part("f", b"x", "r\u00e9sum\u00e9.pdf")))
    assert events[0].filename == "r\u00e9sum\u00e9.pdf"


def test_empty_field_has_no_data_event():
    assert parse(body(part("a"), part("b", b"1"))) == [
        PartBegin("a", None, None, [cd_header("a")]), PartEnd(),
        PartBegin("b", None, None, [cd_header("b")]), PartData(b"1"), PartEnd(), Finished(),
    ]


def test_empty_file_and_empty_filename():
    assert parse(body(part("f", b"", "empty.txt"), part("g", b"", ""))) == [
        PartBegin("f", "empty.txt", None, [cd_header("f", "empty.txt")]), PartEnd(),
        PartBegin("g", "", None, [cd_header("g", "")]), PartEnd(), Finished(),
    ]


def test_preamble_and_epilogue_are_ignored():
    data = body(part("a", b"1"), preamble=b"This is a preamble.\r\n--bound\r\n", epilogue=b"\r\nepi--boundary--\r\n")
    assert parse(data) == [PartBegin("a", None, None, [cd_header("a")]), PartData(b"1"), PartEnd(), Finished()]


def test_body_with_only_closing_boundary_has_no_parts():
    assert parse(b"--boundary--") == [Finished()]
    assert parse(b"--boundary--\r\n") == [Finished()]


def test_transport_padding_after_boundary():
    data = (b"--boundary \t \r\n" + part("a", b"1") + b"\r\n--boundary\t\r\n" + part("b", b"2")
            + b"\r\n--boundary--  \r\n")
    assert parse(data) == [
        PartBegin("a", None, None, [cd_header("a")]), PartData(b"1"), PartEnd(),
        PartBegin("b", None, None, [cd_header("b")]), PartData(b"2"), PartEnd(), Finished(),
    ]


@pytest.mark.parametrize("payload", [
    b"\r\n--boundar", b"\r\n--boundar\r\n--", b"--boundary", b"x--boundary\r\n", b"\r\n-", b"\r",
    b"\r\n\r\n\r\n", b"\r\n--BOUNDARY", b"\r\r\n--bound",
])
def test_data_resembling_the_delimiter_is_kept(payload):
    events = parse(body(part("f", payload, "x.bin")))
    assert events[1:] == [PartData(payload), PartEnd(), Finished()]


def test_header_names_are_lowercased_and_values_stripped():
    data = body(b"CONTENT-disposition:form-data; NAME=\"a\"\r\nContent-TYPE: \t text/plain; charset=utf-8 \t\r\n\r\nv")
    assert parse(data)[0] == PartBegin("a", None, "text/plain; charset=utf-8", [
        ("content-disposition", 'form-data; NAME="a"'), ("content-type", "text/plain; charset=utf-8")])


# -- malformed input: 400 -----------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"", b"preamble only", b"--boundary", b"--boundary\r\n", b"--boundary\r\nContent-Disposition: form",
    body(part("a", b"1"))[:-len(b"--boundary--\r\n")], body(part("a", b"1"))[:-3],
    b"--boundary\r\n" + part("a", b"data without end"),
])
def test_missing_final_boundary_is_400_at_close(data):
    (status, detail), offsets = parse_error(data)
    assert (status, detail) == (400, "multipart: body ended before the closing boundary")
    assert offsets == [len(data) + 1] * len(offsets)


def test_parser_stays_failed_and_close_repeats_the_error():
    parser = MultipartParser(B)
    with pytest.raises(MultipartError):
        parser.feed(b"--boundary\r\nno colon\r\n")
    with pytest.raises(MultipartError) as info:
        parser.feed(body(part("a")))
    assert info.value.detail == "multipart: part header line has no colon"
    with pytest.raises(MultipartError):
        parser.close()


def test_feed_after_finished_is_ignored_and_close_is_idempotent():
    parser = MultipartParser(B)
    assert parser.feed(b"--boundary--") == [Finished()]
    assert parser.feed(b"--boundary\r\nanything") == []
    assert parser.close() == []
    assert parser.close() == []


@pytest.mark.parametrize("headers, detail", [
    (b"Content-Type: text/plain\r\n", "multipart: part is missing Content-Disposition: form-data"),
    (b"", "multipart: part is missing Content-Disposition: form-data"),
    (b'Content-Disposition: attachment; name="a"\r\n', "multipart: part is missing Content-Disposition: form-data"),
    (b'Content-Disposition: form-data; filename="a"\r\n', "multipart: Content-Disposition has no name parameter"),
    (b"Content-Disposition: form-data\r\n", "multipart: Content-Disposition has no name parameter"),
    (b'Content-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"\r\n',
     "multipart: part has more than one Content-Disposition"),
])
def test_content_disposition_form_data_with_name_is_required(headers, detail):
    assert parse_error(b"--boundary\r\n" + headers + b"\r\nx\r\n--boundary--")[0] == (400, detail)


@pytest.mark.parametrize("line, detail", [
    (b"no colon here", "multipart: part header line has no colon"),
    (b"X-A: 1\nX-B: 2", "multipart: bare LF in part headers"),
    (b"\nX-B: 2", "multipart: bare LF in part headers"),
    (b"X-A: 1\rX-B: 2", "multipart: bare CR in part headers"),
    (b"X-A : 1", "multipart: invalid part header name 'X-A '"),
    (b": 1", "multipart: invalid part header name ''"),
    (b"X(A): 1", "multipart: invalid part header name 'X(A)'"),
    (b" folded: 1", "multipart: obsolete line folding in part headers (RFC 9112 \u00a75.2)"),
    (b"X-A: a\x00b", "multipart: control character in part header value"),
    (b"X-A: a\x7fb", "multipart: control character in part header value"),
])
def test_bad_part_header_line_is_400(line, detail):
    data = b"--boundary\r\n" + (CD % b"a") + b"\r\n" + line + b"\r\n\r\nv\r\n--boundary--"
    assert parse_error(data)[0] == (400, detail)


@pytest.mark.parametrize("data", [
    b"--boundaryX\r\n", b"--boundary  --\r\n", b"--boundary-x", b"--boundary \tx",
    b"--boundary\rX", b"--boundary\n" + part("a"),
    body(part("a", b"1")).replace(b"\r\n--boundary--", b"\r\n--boundaryx--"),
])
def test_garbage_after_boundary_is_400(data):
    assert parse_error(data)[0] == (400, "multipart: expected CRLF after boundary")


# -- limits: 413 as soon as crossed -------------------------------------------------------------


def test_max_parts_100k_empty_parts_fails_fast():
    one = b"--boundary\r\n" + part("a") + b"\r\n"
    data = one * 100000 + b"--boundary--"
    (status, detail), offsets = parse_error(data)
    assert (status, detail) == (413, "multipart: body exceeds max_parts (1000 parts)")
    # Whole-body feeding aside, the error comes right after the 1001st opening boundary line.
    assert offsets[0] == len(data)
    assert all(o <= 1000 * len(one) + len(b"--boundary\r\n") + 70000 for o in offsets[1:])
    assert offsets[1] == 1000 * len(one) + len(b"--boundary\r\n")


def test_max_parts_allows_exactly_the_limit():
    limits = MultipartLimits(max_parts=3)
    assert len(parse(body(part("a"), part("b"), part("c")), limits)) == 7
    assert parse_error(body(part("a"), part("b"), part("c"), part("d")), limits)[0] == (
        413, "multipart: body exceeds max_parts (3 parts)")


def test_max_field_size():
    limits = MultipartLimits(max_field_size=100)
    assert parse(body(part("a", b"x" * 100)), limits)[1] == PartData(b"x" * 100)
    (status, detail), offsets = parse_error(body(part("a", b"x" * 10000)), limits)
    assert (status, detail) == (413, "multipart: field part exceeds max_field_size (100 bytes)")
    # Streaming: raised within one delimiter of the 101st byte, not at the end of the part.
    start = len(b"--boundary\r\n" + part("a"))
    assert offsets[1] == start + 101 + len(b"\r\n--boundary") - 1
    # a file part is not a field: the field limit does not apply
    assert parse(body(part("f", b"x" * 1000, "f.txt")), limits, bytewise=False)[1] == PartData(b"x" * 1000)


def test_max_file_size():
    limits = MultipartLimits(max_file_size=1024)
    assert parse(body(part("f", b"y" * 1024, "f.bin")), limits)[1] == PartData(b"y" * 1024)
    (status, detail), offsets = parse_error(body(part("f", b"y" * 100000, "f.bin")), limits)
    assert (status, detail) == (413, "multipart: file part exceeds max_file_size (1024 bytes)")
    start = len(b"--boundary\r\n" + part("f", b"", "f.bin"))
    assert offsets[1] == start + 1025 + len(b"\r\n--boundary") - 1


def test_default_file_limit_message_names_the_setting():
    err = multipart_parser._too_large("file part", "max_file_size", 1048576)
    assert (err.status, err.detail, str(err)) == (
        413, "multipart: file part exceeds max_file_size (1048576 bytes)",
        "multipart: file part exceeds max_file_size (1048576 bytes)")


def test_max_part_header_size():
    limits = MultipartLimits(max_part_header_size=200)
    fits = part("a", b"v", headers=[b"X-Pad: " + b"p" * (200 - len(CD % b"a") - 2 - 9 - 2)])
    assert len(fits) == 200 + 1
    assert parse(body(fits), limits)[-2:] == [PartEnd(), Finished()]
    big = part("a", b"v", headers=[b"X-Pad: " + b"p" * 10000])
    assert parse_error(body(big), limits)[0] == (
        413, "multipart: part header section exceeds max_part_header_size (200 bytes)")


def test_unterminated_header_line_fails_before_its_end():
    limits = MultipartLimits(max_part_header_size=1000)
    data = b"--boundary\r\nX-Long: " + b"a" * 100000
    (status, detail), offsets = parse_error(data, limits)
    assert (status, detail) == (413, "multipart: part header section exceeds max_part_header_size (1000 bytes)")
    assert offsets[1] == len(b"--boundary\r\n") + 1001


def test_transport_padding_counts_toward_header_size():
    limits = MultipartLimits(max_part_header_size=100)
    data = b"--boundary" + b" " * 5000 + b"\r\n" + part("a") + b"\r\n--boundary--"
    (status, detail), offsets = parse_error(data, limits)
    assert status == 413 and offsets[1] == len(b"--boundary") + 101


def test_max_header_count_per_part():
    limits = MultipartLimits(max_header_count_per_part=4)
    three = [b"X-%d: v" % i for i in range(3)]
    assert len(parse(body(part("a", b"", headers=three)), limits)[0].headers) == 4
    assert parse_error(body(part("a", b"", headers=three + [b"X-3: v"])), limits)[0] == (
        413, "multipart: part exceeds max_header_count_per_part (4 headers)")


def test_default_header_count_is_16():
    fifteen = [b"X-%d: v" % i for i in range(15)]
    assert len(parse(body(part("a", headers=fifteen)))[0].headers) == 16
    assert parse_error(body(part("a", headers=fifteen + [b"X-16: v"])))[0][0] == 413


# -- linear time on adversarial data ------------------------------------------------------------


def file_size(events):
    return sum(len(e.data) for e in events if isinstance(e, PartData))


def test_huge_crlf_file_body_is_linear():
    payload = b"\r\n" * (2560 * 1024)
    events = parse(body(part("f", payload, "crlf.bin")), bytewise=False)
    assert file_size(events) == len(payload) == 5 * 1024 * 1024
    assert events[-2:] == [PartEnd(), Finished()]
    small = b"\r\n" * 10000
    assert file_size(parse(body(part("f", small, "crlf.bin")))) == 20000


@pytest.mark.parametrize("payload", [
    (b"\r\n--" + B[:-1] + b"x") * 200000,
    b"\r" + b"a" * (5 * 1024 * 1024),
    b"\n" + b"-" * (3 * 1024 * 1024),
])
def test_near_miss_delimiters_are_linear(payload):
    events = parse(body(part("f", payload, "f.bin")), bytewise=False)
    assert file_size(events) == len(payload)


def test_look_behind_is_bounded_by_the_delimiter():
    parser = MultipartParser(B)
    parser.feed(b"--boundary\r\n" + part("f", b"", "f.bin"))
    fed = emitted = 0
    rng = random.Random(7)
    for _ in range(2000):
        chunk = b"\r" + bytes(rng.choice(b"\r\n-ab") for _ in range(rng.randint(0, 40)))
        fed += len(chunk)
        emitted += file_size(parser.feed(chunk))
        assert fed - emitted <= len(b"\r\n--boundary") - 1


# -- boundary -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type, detail", [
    ("multipart/form-data", "multipart: Content-Type has no boundary parameter"),
    ("multipart/form-data; charset=utf-8", "multipart: Content-Type has no boundary parameter"),
    ("multipart/form-data; boundary=", "multipart: boundary is empty"),
    ('multipart/form-data; boundary=""', "multipart: boundary is empty"),
    ("multipart/form-data; boundary=" + "b" * 71, "multipart: boundary is longer than 70 characters (RFC 2046)"),
    ('multipart/form-data; boundary="a\\\x01b"', 'multipart: malformed boundary parameter (expected '
     'boundary=token or boundary="..." without backslashes, RFC 9110 §5.6.6)'),
    ("multipart/form-data; boundary=caf\u00e9",
     "multipart: unquoted boundary must be a token; quote it (RFC 2045 §5.1)"),
    ("", "multipart: Content-Type has no boundary parameter"),
])
def test_bad_boundary_is_400(content_type, detail):
    with pytest.raises(MultipartError) as info:
        get_boundary(content_type)
    assert (info.value.status, info.value.detail) == (400, detail)


@pytest.mark.parametrize("boundary", [b"", b"x" * 71, b"a\r\nb", "", "\u00e9"])
def test_parser_rejects_bad_boundary(boundary):
    with pytest.raises(MultipartError) as info:
        MultipartParser(boundary)
    assert info.value.status == 400


def test_boundary_of_70_characters_and_quoted_boundary_work():
    long = "'()+_,-./:=? " * 5 + "abcde"
    assert len(long) == 70
    assert get_boundary('multipart/form-data; boundary="%s"' % long) == long.encode()
    data = b"--" + long.encode() + b"\r\n" + part("a", b"1") + b"\r\n--" + long.encode() + b"--"
    assert parse(data, boundary=long.encode())[1:] == [PartData(b"1"), PartEnd(), Finished()]
    assert get_boundary("Multipart/Form-Data; BOUNDARY=----WebKitFormBoundaryx7") == b"----WebKitFormBoundaryx7"


# -- boundary: RFC 2046 §5.1.1 exactly, read one way only ---------------------------------------
# A proxy (or WAF) and covet must never see different boundaries in one Content-Type, else they
# split parts differently. Python's own two parsers disagree on every value refused below, e.g.
# email.policy.HTTP reads "boundary=a=b" as "a" and compat32 as "a=b".

MALFORMED = ('multipart: malformed boundary parameter (expected boundary=token or boundary="..." '
             'without backslashes, RFC 9110 §5.6.6)')
UNQUOTED = "multipart: unquoted boundary must be a token; quote it (RFC 2045 §5.1)"
DUPLICATE = "multipart: Content-Type has more than one boundary parameter"
EXTENDED = "multipart: boundary parameter in RFC 2231 form (boundary*) is not accepted"
TRAILING_SPACE = "multipart: boundary ends in a space (RFC 2046 §5.1.1)"


def outside(char):
    return "multipart: boundary contains %r, which RFC 2046 bchars does not allow" % char


BOUNDARY_REFUSALS = [
    # duplicates, any case, any form, and one hidden from a quote-aware reader in a quoted value
    ("multipart/form-data; boundary=a; boundary=b", DUPLICATE),
    ("multipart/form-data; boundary=a; boundary=a", DUPLICATE),
    ("multipart/form-data; boundary=a; BOUNDARY=b", DUPLICATE),
    ("multipart/form-data; Boundary=a;boundary=b", DUPLICATE),
    ('multipart/form-data; boundary="a"; boundary=b', DUPLICATE),
    ("multipart/form-data; boundary; boundary=b", DUPLICATE),
    ('multipart/form-data; charset="x; boundary=evil"; boundary=good', DUPLICATE),
    ('multipart/form-data; charset="x\\"; boundary=evil"; boundary=good', DUPLICATE),
    ('multipart/form-data; charset="x; boundary=evil"', "multipart: Content-Type has no boundary parameter"),
    # RFC 2231 / RFC 8187 forms
    ("multipart/form-data; boundary*=UTF-8''abc", EXTENDED),
    ("multipart/form-data; boundary=a; boundary*=UTF-8''b", EXTENDED),
    ("multipart/form-data; boundary*0=ab; boundary*1=cd", EXTENDED),
    ("multipart/form-data; BOUNDARY*=us-ascii'en'abc", EXTENDED),
    # not exactly a parameter
    ("multipart/form-data; boundary", MALFORMED),
    ("multipart/form-data; boundary =abc", MALFORMED),
    ("multipart/form-data; boundary= abc", MALFORMED),
    ("multipart/form-data; boundary\t=abc", MALFORMED),
    ('multipart/form-data; boundary="abc', MALFORMED),
    ('multipart/form-data; boundary="abc"def', MALFORMED),
    ('multipart/form-data; boundary="abc"def; charset=utf-8', MALFORMED),
    ('multipart/form-data; boundary="a\\bc"', MALFORMED),
    ('multipart/form-data; boundary="a\\\x01b"', MALFORMED),
    ('multipart/form-data; boundary="a\\"b"', MALFORMED),
    # tspecials and spaces only inside quotes
    ("multipart/form-data; boundary=a b", UNQUOTED),
    ("multipart/form-data; boundary=a=b", UNQUOTED),
    ("multipart/form-data; boundary==_Part_1", UNQUOTED),
    ("multipart/form-data; boundary=a:b", UNQUOTED),
    ("multipart/form-data; boundary=a/b", UNQUOTED),
    ("multipart/form-data; boundary=a?b", UNQUOTED),
    ("multipart/form-data; boundary=(ab)", UNQUOTED),
    ("multipart/form-data; boundary=a,b", UNQUOTED),
    ("multipart/form-data; boundary=a, multipart/form-data; boundary=b", DUPLICATE),
    ('multipart/form-data; boundary=a"b', UNQUOTED),
    ("multipart/form-data; boundary=caf\u00e9", UNQUOTED),
    # empty, too long, trailing space
    ("multipart/form-data; boundary=", "multipart: boundary is empty"),
    ('multipart/form-data; boundary=""', "multipart: boundary is empty"),
    ("multipart/form-data; boundary=" + "b" * 71, "multipart: boundary is longer than 70 characters (RFC 2046)"),
    ('multipart/form-data; boundary="%s"' % ("b" * 71), "multipart: boundary is longer than 70 characters (RFC 2046)"),
    ('multipart/form-data; boundary="abc "', TRAILING_SPACE),
    ('multipart/form-data; boundary=" "', TRAILING_SPACE),
    ('multipart/form-data; boundary="a b "; charset=utf-8', TRAILING_SPACE),
    # outside bchars: tchars that are not bchars, quoted specials that are not bchars, controls
    ("multipart/form-data; boundary=a!b", outside("!")),
    ("multipart/form-data; boundary=a#b", outside("#")),
    ("multipart/form-data; boundary=a$b", outside("$")),
    ("multipart/form-data; boundary=a%b", outside("%")),
    ("multipart/form-data; boundary=a&b", outside("&")),
    ("multipart/form-data; boundary=a*b", outside("*")),
    ("multipart/form-data; boundary=a^b", outside("^")),
    ("multipart/form-data; boundary=a`b", outside("`")),
    ("multipart/form-data; boundary=a|b", outside("|")),
    ("multipart/form-data; boundary=a~b", outside("~")),
    ('multipart/form-data; boundary="a@b"', outside("@")),
    ('multipart/form-data; boundary="a;b"', outside(";")),
    ('multipart/form-data; boundary="a<b>"', outside("<")),
    ('multipart/form-data; boundary="a[b]"', outside("[")),
    ('multipart/form-data; boundary="a{b}"', outside("{")),
    ('multipart/form-data; boundary="a\tb"', outside("\t")),
    ('multipart/form-data; boundary="a\x7fb"', outside("\x7f")),
    ('multipart/form-data; boundary="a\x01b"', outside("\x01")),
    ('multipart/form-data; boundary="caf\u00e9"', outside("\u00e9")),
]


@pytest.mark.parametrize("content_type, detail", BOUNDARY_REFUSALS)
def test_boundary_outside_rfc_2046_is_refused(content_type, detail):
    with pytest.raises(MultipartError) as info:
        get_boundary(content_type)
    assert (info.value.status, info.value.detail) == (400, detail)


def boundary_form_app():
    app = Covet()

    @app.post("/upload")
    async def upload(request: Request):
        form = await request.form()
        out = []
        for key, value in form.multi_items():
            out.append([key, (await value.read()).decode() if isinstance(value, UploadFile) else value])
        return out

    return app


def byte_by_byte(data):
    """A receive() that hands the body over one byte per call, then b"" (end of body)."""
    chunks = [data[i:i + 1] for i in range(len(data))]

    async def receive():
        return chunks.pop(0) if chunks else b""
    return receive


@pytest.mark.parametrize("content_type, detail", BOUNDARY_REFUSALS)
def test_boundary_refusal_is_a_400_problem(client, dispatch, content_type, detail):
    data = b"--x\r\n" + part("a", b"1") + b"\r\n--x--\r\n"
    r = client(boundary_form_app()).post("/upload", content=data, headers={"content-type": content_type})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail,
                        "instance": "/upload"}
    streamed = dispatch(boundary_form_app(), "POST", "/upload", headers=[("content-type", content_type)],
                        receive=byte_by_byte(data))
    assert (streamed.status_code, json.loads(streamed.body)["detail"]) == (400, detail)


BOUNDARY_ACCEPTED = [
    ("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", "----WebKitFormBoundary7MA4YWxkTrZu0gW"),
    ("multipart/form-data; boundary=----geckoformboundaryc4f6d1b5e0a2", "----geckoformboundaryc4f6d1b5e0a2"),
    ("multipart/form-data; boundary=" + "-" * 24 + "d74496d66958873e", "-" * 24 + "d74496d66958873e"),
    ("multipart/form-data; boundary=0bd2a31bbd9c4bd1b1e3a9a5ad7d6f1c", "0bd2a31bbd9c4bd1b1e3a9a5ad7d6f1c"),
    ('multipart/form-data; boundary="===============7330845974216740156=="', "===============7330845974216740156=="),
    ("multipart/form-data; boundary=a'b+c_d-e.f", "a'b+c_d-e.f"),
    ('multipart/form-data; boundary="a b"', "a b"),
    ('multipart/form-data; boundary=" a"', " a"),
    ('multipart/form-data; boundary="\'()+_,-./:=? x"', "'()+_,-./:=? x"),
    ("multipart/form-data;boundary=abc", "abc"),
    ("multipart/form-data; boundary=abc ; charset=utf-8", "abc"),
    ('multipart/form-data; boundary="abc"\t; charset=utf-8', "abc"),
    ('multipart/form-data; charset="x;y"; boundary=abc', "abc"),
    ('multipart/form-data; charset="boundary=evil"; boundary=abc', "abc"),
    ("Multipart/Form-Data; BOUNDARY=abc", "abc"),
    ("multipart/form-data; boundary=" + "b" * 70, "b" * 70),
]


@pytest.mark.parametrize("content_type, boundary", BOUNDARY_ACCEPTED)
def test_boundary_inside_rfc_2046_is_read(client, dispatch, content_type, boundary):
    assert get_boundary(content_type) == boundary.encode()
    raw = boundary.encode()
    data = (b"preamble\r\n--" + raw + b" \t\r\n" + part("a", b"1\r\n--" + raw[:-1]) + b"\r\n--" + raw + b"\r\n"
            + part("f", b"x", "f.txt") + b"\r\n--" + raw + b"--\r\n")
    assert parse(data, boundary=raw) == [
        PartBegin("a", None, None, [cd_header("a")]), PartData(b"1\r\n--" + raw[:-1]), PartEnd(),
        PartBegin("f", "f.txt", None, [cd_header("f", "f.txt")]), PartData(b"x"), PartEnd(), Finished()]
    expected = [["a", "1\r\n--" + boundary[:-1]], ["f", "x"]]
    r = client(boundary_form_app()).post("/upload", content=data, headers={"content-type": content_type})
    assert (r.status_code, r.json()) == (200, expected)
    streamed = dispatch(boundary_form_app(), "POST", "/upload", headers=[("content-type", content_type)],
                        receive=byte_by_byte(data))
    assert (streamed.status_code, json.loads(streamed.body)) == (200, expected)


@pytest.mark.parametrize("boundary, detail", [
    (b"abc ", TRAILING_SPACE),
    ("abc ", TRAILING_SPACE),
    (b"a@b", outside("@")),
    (b"a\tb", outside("\t")),
    (b"a\xffb", outside("\xff")),
    ("a\u20acb", outside("\u20ac")),
    (b"a\"b", outside('"')),
])
def test_parser_refuses_boundary_outside_bchars(boundary, detail):
    with pytest.raises(MultipartError) as info:
        MultipartParser(boundary)
    assert (info.value.status, info.value.detail) == (400, detail)


def test_parser_takes_a_boundary_with_inner_spaces():
    data = b"--a b\r\n" + part("a", b"1") + b"\r\n--a b--"
    assert parse(data, boundary="a b")[1:] == [PartData(b"1"), PartEnd(), Finished()]


# -- parse_options_header -----------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("multipart/form-data; boundary=abc", ("multipart/form-data", {"boundary": "abc"})),
    ('Multipart/Form-Data; Boundary="abc"; charset=utf-8', ("multipart/form-data", {"boundary": "abc", "charset": "utf-8"})),
    ('form-data; name="a\\"b\\\\c"', ("form-data", {"name": 'a"b\\c'})),
    ('form-data; name="semi;colon"; filename="x.txt"', ("form-data", {"name": "semi;colon", "filename": "x.txt"})),
    ("text/plain", ("text/plain", {})),
    ("  text/plain  ;", ("text/plain", {})),
    ("", ("", {})),
    (";;;", ("", {})),
    ("not a type; a=1", ("", {"a": "1"})),
    ("text/plain; a = 1 ; b", ("text/plain", {"a": "1"})),
    ("text/plain; a=1; a=2", ("text/plain", {"a": "1"})),
    ('text/plain; a="unterminated', ("text/plain", {"a": "unterminated"})),
    ('text/plain; a="x"junk; b=2', ("text/plain", {"a": "x", "b": "2"})),
    ('text/plain; a="trailing\\', ("text/plain", {"a": "trailing"})),
    ("text/plain; =x; b=2", ("text/plain", {"b": "2"})),
    ("text/plain; a b=1", ("text/plain", {})),
    ("attachment; filename*=UTF-8''%E2%82%AC%20rates.txt", ("attachment", {"filename": "\u20ac rates.txt"})),
    ("attachment; filename*=iso-8859-1'en'%A3%20rates", ("attachment", {"filename": "\u00a3 rates"})),
    ("attachment; filename*=UTF-8''%FF; filename=fallback", ("attachment", {"filename": "fallback"})),
    ("attachment; filename*=koi8-r''%C1; filename=fallback", ("attachment", {"filename": "fallback"})),
    ("attachment; filename*=nonsense", ("attachment", {})),
    (b"form-data; name=\"b\"", ("form-data", {"name": "b"})),
    (None, ("", {})),
])
def test_parse_options_header(value, expected):
    assert parse_options_header(value) == expected


@pytest.mark.parametrize("value, expected", [
    (";" * 100000, ("", {})),
    ("a/b" + "; " * 50000, ("a/b", {})),
    ('a/b; x="' + "\\" * 100000, ("a/b", {"x": "\\" * 50000})),
    ('a/b; x="' + '\\"' * 50000 + '"', ("a/b", {"x": '"' * 50000})),
    ('a/b; x=' + '"' * 100000, ("a/b", {"x": ""})),
    ("a/b; " + "x=" * 50000, ("a/b", {"x": "x=" * 49999})),
    ("a/b; " + "k=v;" * 25000, ("a/b", {"k": "v"})),
    ("a/b; " + '"=' * 50000, ("a/b", {})),
    ("=" * 100000, ("", {})),
    ("a" * 100000 + "/b", ("a" * 100000 + "/b", {})),
    ("a/b; n*=UTF-8''" + "%" * 100000, ("a/b", {"n": "%" * 100000})),
])
def test_parse_options_header_pathological_inputs_complete(value, expected):
    assert parse_options_header(value) == expected


# -- MultipartLimits ----------------------------------------------------------------------------


def test_limits_defaults_and_immutability():
    limits = MultipartLimits()
    assert (limits.max_parts, limits.max_field_size, limits.max_file_size, limits.max_part_header_size,
            limits.max_header_count_per_part, limits.spool_max_size) == (
        1000, 1048576, 104857600, 16384, 16, 1048576)
    with pytest.raises(AttributeError):
        limits.max_parts = 5
    assert MultipartLimits(max_parts=5) == MultipartLimits(max_parts=5) != limits
    assert repr(MultipartLimits(max_parts=5)).startswith("MultipartLimits(max_parts=5, max_field_size=1048576,")


@pytest.mark.parametrize("kwargs, error", [
    ({"max_parts": 0}, ValueError), ({"spool_max_size": 0}, ValueError), ({"max_file_size": -1}, ValueError),
    ({"max_parts": "10"}, TypeError), ({"max_field_size": 1.5}, TypeError), ({"max_parts": True}, TypeError),
])
def test_limits_reject_bad_values(kwargs, error):
    with pytest.raises(error):
        MultipartLimits(**kwargs)


def test_limits_are_keyword_only():
    with pytest.raises(TypeError):
        MultipartLimits(10)


# -- UploadFile ---------------------------------------------------------------------------------


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self):
        super().__init__(max_workers=1)
        self.calls = 0

    def submit(self, fn, *args, **kwargs):
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


def run_counting(coro_fn):
    executor = CountingExecutor()

    async def main():
        asyncio.get_running_loop().set_default_executor(executor)
        return await coro_fn(executor)

    return asyncio.run(main())


def test_upload_file_in_memory_stays_on_the_loop(tmp_path):
    async def scenario(executor):
        upload = UploadFile("a.txt", "text/plain", [("x", "y")])
        await upload.write(b"hello ")
        await upload.write(b"world")
        assert (upload.size, upload.in_memory, executor.calls) == (11, True, 0)
        assert await upload.seek(0) == 0
        assert await upload.read(5) == b"hello"
        assert await upload.read() == b" world"
        assert executor.calls == 0
        await upload.seek(3)
        assert await upload.save(str(tmp_path / "out.txt")) == 11  # disk write: in a thread
        assert executor.calls == 1
        assert await upload.read() == b"lo world"  # save() restored the position
        await upload.close()
        assert upload.file.closed and executor.calls == 1
        return upload

    upload = run_counting(scenario)
    assert (tmp_path / "out.txt").read_bytes() == b"hello world"
    assert repr(upload) == "UploadFile(filename='a.txt', content_type='text/plain', size=11)"
    assert upload.headers == [("x", "y")]


def test_upload_file_rollover_to_disk_runs_in_executor(tmp_path):
    async def scenario(executor):
        upload = UploadFile("big.bin", spool_max_size=10)
        await upload.write(b"0123456789")
        assert (upload.in_memory, executor.calls) == (True, 0)
        await upload.write(b"A")  # crosses spool_max_size: the rollover itself is disk I/O
        assert (upload.in_memory, upload.file._rolled, executor.calls) == (False, True, 1)
        await upload.write(b"BC")
        assert await upload.seek(0) == 0
        assert await upload.read(4) == b"0123"
        assert await upload.read() == b"456789ABC"
        assert executor.calls == 5
        assert await upload.save(tmp_path / "big.bin") == 13
        await upload.close()
        assert executor.calls == 7 and upload.file.closed
        return upload

    assert run_counting(scenario).size == 13
    assert (tmp_path / "big.bin").read_bytes() == b"0123456789ABC"


# -- parse_multipart / parse_multipart_bytes ----------------------------------------------------


async def agen(chunks):
    for chunk in chunks:
        yield chunk


def parse_async(data, limits=None, charset="utf-8", chunk=7):
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    return asyncio.run(parse_multipart(agen(chunks), B, limits, charset))


def describe(items):
    out = []
    for name, value in items:
        if isinstance(value, UploadFile):
            content = value.file.read()
            out.append((name, (value.filename, value.content_type, value.size, content, value.in_memory)))
        else:
            out.append((name, value))
    close_items(items)
    return out


FORM = body(part("title", "Caf\u00e9".encode()), part("doc", b"%PDF-1.7\r\n", "d.pdf", "application/pdf"),
            part("title", b"second"), part("empty", b"", ""))
FORM_ITEMS = [
    ("title", "Caf\u00e9"), ("doc", ("d.pdf", "application/pdf", 10, b"%PDF-1.7\r\n", True)),
    ("title", "second"), ("empty", ("", None, 0, b"", True)),
]


def test_parse_multipart_async_and_sync_agree():
    assert describe(parse_async(FORM)) == FORM_ITEMS
    assert describe(parse_async(FORM, chunk=1)) == FORM_ITEMS
    assert describe(parse_multipart_bytes(FORM, B)) == FORM_ITEMS
    assert describe(parse_multipart_bytes(FORM, "boundary")) == FORM_ITEMS


def test_files_roll_to_disk_and_are_rewound():
    data = body(part("f", b"z" * 5000, "z.bin"))
    limits = MultipartLimits(spool_max_size=1000)
    assert describe(parse_async(data, limits, chunk=333)) == [("f", ("z.bin", None, 5000, b"z" * 5000, False))]
    assert describe(parse_multipart_bytes(data, B, limits)) == [("f", ("z.bin", None, 5000, b"z" * 5000, False))]


def test_field_charsets():
    data = body(part("a", "\u00e9".encode("latin-1"), content_type="text/plain; charset=ISO-8859-1"),
                part("b", "\u00e9".encode("latin-1")))
    assert parse_multipart_bytes(data, B, charset="latin-1") == [("a", "\u00e9"), ("b", "\u00e9")]
    data = body(part("_charset_", b"windows-1252"), part("c", b"\x80"), part("d", b"\xc3\xa9", content_type="text/plain; charset=utf-8"))
    assert parse_multipart_bytes(data, B) == [("_charset_", "windows-1252"), ("c", "\u20ac"), ("d", "\u00e9")]


@pytest.mark.parametrize("data, detail", [
    (body(part("name", b"\xff\xfe")), "multipart: field 'name' is not valid utf-8"),
    (body(part("n", b"x", content_type="text/plain; charset=klingon")), "multipart: field 'n' has unknown charset 'klingon'"),
    (body(part("n", b"x", content_type="text/plain; charset=base64")), "multipart: field 'n' has unknown charset 'base64'"),
    (body(part("_charset_", b"rot13")), "multipart: field '_charset_' names unknown charset 'rot13'"),
    (body(part("e", b"", content_type="text/plain; charset=nope")), "multipart: field 'e' has unknown charset 'nope'"),
])
def test_undecodable_field_is_400_naming_the_field(data, detail):
    for parse_fn in (lambda: parse_async(data), lambda: parse_multipart_bytes(data, B)):
        with pytest.raises(MultipartError) as info:
            parse_fn()
        assert (info.value.status, info.value.detail) == (400, detail)


@pytest.fixture
def recorded_uploads(monkeypatch):
    made = []

    class Recording(UploadFile):
        __slots__ = ()

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(mp, "UploadFile", Recording)
    return made


BROKEN = body(part("a", b"x" * 3000, "a.bin"), part("b", b"y" * 3000, "b.bin"), b"X-No-Disposition: 1\r\n\r\n")


def test_temp_files_are_closed_on_error_async(recorded_uploads):
    with pytest.raises(MultipartError) as info:
        parse_async(BROKEN, MultipartLimits(spool_max_size=100), chunk=500)
    assert info.value.detail == "multipart: part is missing Content-Disposition: form-data"
    assert [u.filename for u in recorded_uploads] == ["a.bin", "b.bin"]
    assert recorded_uploads[0].file._rolled and all(u.file.closed for u in recorded_uploads)
    gc.collect()  # an unclosed temporary file would warn here, and warnings fail the suite


@pytest.mark.parametrize("data, detail", [
    (body(part("a", b"x" * 3000, "a.bin"))[:-20], "multipart: body ended before the closing boundary"),
    (body(part("a", b"x" * 3000, "a.bin"), part("t", b"\xff")), "multipart: field 't' is not valid utf-8"),
])
def test_temp_files_are_closed_on_error_sync(recorded_uploads, data, detail):
    with pytest.raises(MultipartError) as info:
        parse_multipart_bytes(data, B, MultipartLimits(spool_max_size=100))
    assert info.value.detail == detail
    assert len(recorded_uploads) == 1 and recorded_uploads[0].file._rolled
    assert recorded_uploads[0].file.closed
    gc.collect()


def test_temp_files_are_closed_when_the_stream_fails(recorded_uploads):
    class Disconnect(Exception):
        pass

    async def stream():
        yield body(part("a", b"x" * 3000, "a.bin"))[:-20]
        raise Disconnect()

    with pytest.raises(Disconnect):
        asyncio.run(parse_multipart(stream(), B, MultipartLimits(spool_max_size=100)))
    assert len(recorded_uploads) == 1 and recorded_uploads[0].file.closed
    gc.collect()


def test_limit_error_from_parse_multipart():
    with pytest.raises(MultipartError) as info:
        parse_async(body(part("f", b"x" * 2000, "f.bin")), MultipartLimits(max_file_size=1000))
    assert (info.value.status, info.value.detail) == (413, "multipart: file part exceeds max_file_size (1000 bytes)")


# -- never a crash ------------------------------------------------------------------------------


def outcome(chunks):
    parser, events = MultipartParser(B), []
    try:
        for chunk in chunks:
            events += parser.feed(chunk)
        events += parser.close()
    except MultipartError as exc:
        return ("error", exc.status, exc.detail)
    return ("ok", tuple(normalize(events)))


def test_mutated_bodies_parse_or_raise_multipart_error():
    rng = random.Random(2024)
    seed = body(part("a", b"1"), part("f", b"\r\n--bo", "f.txt", "text/plain"), part("b"))
    alphabet = b"\r\n-:; \"=boundary\x00\xff"
    outcomes = set()
    for _ in range(1500):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            op = rng.randrange(3)
            if op == 0:
                data[i] = rng.choice(alphabet)
            elif op == 1:
                del data[i:i + rng.randint(1, 6)]
            else:
                data[i:i] = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        results = [outcome(chunks) for label, chunks in splits(bytes(data)) if label != "random-2"]
        result = results[0]
        assert all(r == result for r in results), results
        outcomes.add(result[0])
        if result[0] == "error":
            assert result[1] == 400 and result[2].startswith("multipart: ")
            continue
        try:  # the collector agrees with the parser
            items = parse_multipart_bytes(bytes(data), B)
        except MultipartError as exc:
            assert "charset" in exc.detail or "valid utf-8" in exc.detail
        else:
            assert len(items) == sum(isinstance(e, PartEnd) for e in result[1])
            close_items(items)
    assert outcomes == {"ok", "error"}


def test_two_content_type_lines_are_refused(dispatch):
    # RFC 9110 §5.3: Content-Type is a singleton field. Readers that keep the first line and
    # readers that keep the last would frame the body with different boundaries.
    data = b"--a\r\n" + part("x", b"1") + b"\r\n--a--\r\n"
    headers = [("content-type", "multipart/form-data; boundary=a"), ("content-type", "multipart/form-data; boundary=b")]
    for receive in (byte_by_byte(data), None):
        r = dispatch(boundary_form_app(), "POST", "/upload", headers=headers, receive=receive,
                     body=None if receive else data)
        assert (r.status_code, json.loads(r.body)["detail"]) == (
            400, "multipart: Content-Type header appears more than once")
    single = dispatch(boundary_form_app(), "POST", "/upload", headers=headers[:1], receive=byte_by_byte(data))
    assert (single.status_code, json.loads(single.body)) == (200, [["x", "1"]])
