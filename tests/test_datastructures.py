"""covet.core.datastructures: Headers, MutableHeaders, QueryParams, FormData, URL, State, Address."""
import asyncio

import pytest

from covet import HTTPException
from covet.core.datastructures import (
    URL, Address, FormData, Headers, ImmutableMultiDict, MutableHeaders, QueryParams, State, quote_path,
)
from covet.core.multipart import UploadFile


# -- Headers ---------------------------------------------------------------------------------

def test_headers_are_case_insensitive_multi_valued_and_ordered():
    h = Headers([(b"accept", b"text/html"), (b"x-a", b"1"), (b"set-cookie", b"a=1"), (b"x-a", b"2")])
    assert h["Accept"] == h["ACCEPT"] == h.get("accept") == "text/html"
    assert h.get("x-a") == "1"
    assert h.getlist("X-A") == ["1", "2"]
    assert h.getlist("nope") == []
    assert h.get("nope") is None and h.get("nope", "d") == "d"
    assert "X-a" in h and "x-b" not in h
    assert h.keys() == ["accept", "x-a", "set-cookie", "x-a"]
    assert h.values() == ["text/html", "1", "a=1", "2"]
    assert h.items()[1] == ("x-a", "1")
    assert list(h) == h.keys()
    assert len(h) == 4
    with pytest.raises(KeyError):
        h["nope"]


def test_headers_from_a_dict_are_validated_and_lower_cased():
    h = Headers({"Content-Type": "text/plain", "X-N": 5})
    assert h.raw == [(b"content-type", b"text/plain"), (b"x-n", b"5")]
    with pytest.raises(ValueError, match="value contains CR, LF or NUL"):
        Headers({"X": "a\nb"})


def test_headers_decode_latin1_and_compare_ignoring_order():
    h = Headers([(b"x", "café".encode("latin-1"))])
    assert h["x"] == "café"
    assert Headers([(b"a", b"1"), (b"b", b"2")]) == Headers([(b"b", b"2"), (b"a", b"1")])
    assert Headers([(b"a", b"1")]) != Headers([(b"a", b"2")])
    assert Headers(Headers([(b"a", b"1")])).raw == [(b"a", b"1")]
    assert repr(Headers([(b"a", b"1")])) == "Headers([('a', '1')])"


def test_mutable_headers_set_replaces_every_value_append_keeps_them():
    raw = [(b"vary", b"a"), (b"x", b"1"), (b"vary", b"b")]
    h = MutableHeaders(raw)
    h["Vary"] = "c"
    assert raw == [(b"vary", b"c"), (b"x", b"1")]
    h.append("Vary", "d")
    assert h.getlist("vary") == ["c", "d"]
    del h["VARY"]
    assert raw == [(b"x", b"1")]
    assert h.setdefault("x", "2") == "1"
    assert h.setdefault("y", "3") == "3"
    h.update({"x": "9", "z": "0"})
    assert raw == [(b"x", b"9"), (b"y", b"3"), (b"z", b"0")]


@pytest.mark.parametrize("op", ["set", "append", "setdefault", "update"])
@pytest.mark.parametrize("value", ["a\r\nb", "\n", "a\x00"])
def test_mutable_headers_refuse_injection_on_every_write(op, value):
    h = MutableHeaders([])
    with pytest.raises(ValueError):
        if op == "set":
            h["X"] = value
        elif op == "append":
            h.append("X", value)
        elif op == "setdefault":
            h.setdefault("X", value)
        else:
            h.update({"X": value})
    assert h.raw == []


# -- multi-dicts ----------------------------------------------------------------------------

def test_immutable_multidict_last_value_wins_and_getlist_keeps_all():
    d = ImmutableMultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert (d["a"], d.get("a"), d.getlist("a")) == ("3", "3", ["1", "3"])
    assert list(d) == ["a", "b"] and len(d) == 2 and "b" in d
    assert list(d.items()) == [("a", "3"), ("b", "2")]
    assert d.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert d == ImmutableMultiDict([("a", "3"), ("a", "1"), ("b", "2")])
    assert ImmutableMultiDict({"k": "v"}).multi_items() == [("k", "v")]
    assert ImmutableMultiDict(d).multi_items() == d.multi_items()


def test_query_params_parse_split_on_ampersand_and_convert():
    q = QueryParams("page=2&tag=a&tag=b&empty=&semi=1;x=2&plus=a+b&pct=%26")
    assert q.get("page", 1, type=int) == 2
    assert q.get("missing", 1, type=int) == 1
    assert q.get("tag") == "b" and q.getlist("tag") == ["a", "b"]
    assert q.get("empty") == "" and q.get("semi") == "1;x=2"
    assert q.get("plus") == "a b" and q.get("pct") == "&"
    assert q.get("tag", 0, type=int) == 0
    assert str(QueryParams("a=1&b=x y")) == "a=1&b=x+y"
    assert QueryParams(b"a=%C3%A9").get("a") == "é"
    assert QueryParams([("a", "1")]).get("a") == "1"


def test_query_params_over_the_field_limit_raise_400():
    QueryParams("&".join(["a=1"] * 1000))
    with pytest.raises(HTTPException) as info:
        QueryParams("&".join(["a=1"] * 1001))
    assert (info.value.status_code, info.value.detail) == (400, "too many query parameters (limit 1000)")


def test_form_data_close_closes_every_upload():
    upload = UploadFile("a.txt", "text/plain")
    form = FormData([("name", "x"), ("file", upload)])
    assert form["file"] is upload
    asyncio.run(form.close())
    assert upload.file.closed


# -- URL, State, Address ------------------------------------------------------------------------

def test_url_parts_replace_and_query_params():
    url = URL("https://example.com:8443/a/b?x=1&y=2#top")
    assert (url.scheme, url.netloc, url.hostname, url.port, url.path, url.query, url.fragment) == (
        "https", "example.com:8443", "example.com", 8443, "/a/b", "x=1&y=2", "top")
    assert str(url.replace(path="/c")) == "https://example.com:8443/c?x=1&y=2#top"
    assert str(url.include_query_params(y=3, z="a b")) == "https://example.com:8443/a/b?x=1&y=3&z=a+b#top"
    assert URL("http://h:notaport/").port is None
    assert URL("http://h/") == "http://h/" and hash(URL("http://h/")) == hash(URL("http://h/"))
    assert repr(URL("http://h/")) == "URL('http://h/')"


def test_state_attribute_bag():
    s = State(a=1)
    s.b = 2
    assert (s.a, s.b, "a" in s, "c" in s) == (1, 2, True, False)
    with pytest.raises(AttributeError, match="state has no attribute 'c'"):
        s.c
    assert repr(s) == "State(a=1, b=2)"


def test_address_is_a_named_pair():
    a = Address("127.0.0.1", 5000)
    assert (a.host, a.port) == ("127.0.0.1", 5000) and a == ("127.0.0.1", 5000)


def test_quote_path_keeps_slashes_and_sub_delims():
    assert quote_path("/a b/ü;x=1") == "/a%20b/%C3%BC;x=1"
