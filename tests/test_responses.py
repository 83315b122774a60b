"""covet.core.responses and return-value conversion: bodies, headers, cookies, redirects, streaming, files."""
import asyncio
import dataclasses
import datetime
import decimal
import enum
import logging
import os
import uuid
from email.utils import formatdate
from urllib.parse import quote

import pytest

from covet import (
    Covet, FileResponse, HeaderValueError, HTTPException, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response,
    StreamingResponse,
)
from covet.core.responses import to_response
from covet.core.responses import dump_json, json_default
from covet.testing import TestClient


def headers_of(response):
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]


def collect(response):
    async def go():
        return b"".join([c async for c in response.iter_body()])
    return asyncio.run(go())


# -- plain responses ------------------------------------------------------------------------

def test_response_defaults_and_content_length():
    r = Response(b"abc")
    assert (r.status_code, r.body, headers_of(r)) == (200, b"abc", [("content-length", "3")])
    r = Response("héllo", 201, {"X-A": "1"}, media_type="text/plain")
    assert r.body == "héllo".encode("utf-8")
    assert headers_of(r) == [("x-a", "1"), ("content-type", "text/plain; charset=utf-8"), ("content-length", "6")]
    assert repr(r) == "<Response 201>"


@pytest.mark.parametrize("status", [101, 204, 304])
def test_no_content_length_on_1xx_204_304(status):
    assert headers_of(Response(b"", status)) == []


def test_caller_set_content_type_and_length_are_kept():
    r = Response(b"abc", headers={"Content-Type": "x/y", "Content-Length": "3"}, media_type="text/plain")
    assert headers_of(r) == [("content-type", "x/y"), ("content-length", "3")]


def test_typed_responses_media_types():
    assert headers_of(HTMLResponse("<b>x</b>"))[0] == ("content-type", "text/html; charset=utf-8")
    assert headers_of(PlainTextResponse("x"))[0] == ("content-type", "text/plain; charset=utf-8")
    assert headers_of(JSONResponse({"a": 1}))[0] == ("content-type", "application/json")


def test_json_is_compact_utf8_and_refuses_nan():
    r = JSONResponse({"a": [1, 2.5, None, True], "é": "✓"}, status_code=201)
    assert r.status_code == 201
    assert r.body == '{"a":[1,2.5,null,true],"é":"✓"}'.encode("utf-8")
    with pytest.raises(ValueError):
        JSONResponse({"x": float("nan")})
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        JSONResponse(object())


class Mood(enum.Enum):
    happy = "happy"
    count = 3


@dataclasses.dataclass
class Pt:
    x: int
    when: datetime.date


def test_json_default_conversions():
    value = {
        "dt": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "d": datetime.date(2024, 1, 2),
        "t": datetime.time(3, 4),
        "u": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "dec": decimal.Decimal("1.10"),
        "e": Mood.happy,
        "n": Mood.count,
        "dc": Pt(1, datetime.date(2020, 5, 6)),
        "s": frozenset([1]),
        "tu": (1, 2),
    }
    assert dump_json(value) == (
        b'{"dt":"2024-01-02T03:04:05+00:00","d":"2024-01-02","t":"03:04:00",'
        b'"u":"12345678-1234-5678-1234-567812345678","dec":"1.10","e":"happy","n":3,'
        b'"dc":{"x":1,"when":"2020-05-06"},"s":[1],"tu":[1,2]}'
    )

    class WithToDict:
        def to_dict(self):
            return {"k": "v"}
    assert json_default(WithToDict()) == {"k": "v"}


def test_lone_surrogates_are_escaped_instead_of_failing():
    assert JSONResponse(["\ud800", "é"]).body == b'["\\ud800","\\u00e9"]'
    assert dump_json("\udcff") == b'"\\udcff"'


# -- return values through the app -----------------------------------------------------------

@pytest.mark.parametrize("value, status, content_type, body", [
    ({"a": 1}, 200, "application/json", b'{"a":1}'),
    ([1, "x"], 200, "application/json", b'[1,"x"]'),
    ("<p>hi</p>", 200, "text/html; charset=utf-8", b"<p>hi</p>"),
    (b"\x00\x01", 200, "application/octet-stream", b"\x00\x01"),
    (None, 204, None, b""),
    (({"a": 1}, 201), 201, "application/json", b'{"a":1}'),
    (("made", 202, {"X-Id": "7"}), 202, "text/html; charset=utf-8", b"made"),
    ((None, 201), 201, None, b""),
    (({"gone": True}, 204), 204, "application/json", b""),  # a 204 never carries a body
    (Pt(1, datetime.date(2020, 1, 1)), 200, "application/json", b'{"x":1,"when":"2020-01-01"}'),
    (datetime.datetime(2020, 1, 1, 12, 0), 200, "application/json", b'"2020-01-01T12:00:00"'),
    (uuid.UUID(int=1), 200, "application/json", b'"00000000-0000-0000-0000-000000000001"'),
    (decimal.Decimal("0.1"), 200, "application/json", b'"0.1"'),
    (Mood.count, 200, "application/json", b"3"),
    (7, 200, "application/json", b"7"),
    (True, 200, "application/json", b"true"),
])
def test_return_values_become_responses(client, value, status, content_type, body):
    app = Covet()

    @app.get("/v")
    async def v():
        return value

    r = client(app).get("/v")
    assert r.status_code == status
    assert r.headers.get("content-type") == content_type
    assert r.content == body
    if isinstance(value, tuple) and len(value) == 3:
        assert r.headers["x-id"] == "7"


def test_tuple_with_204_drops_content_length_and_3_tuple_accepts_header_pairs():
    r = to_response(({"x": 1}, 204))
    assert "content-length" not in dict(headers_of(r))
    r = to_response(("x", 200, [("X-A", "1"), ("X-B", "2")]))
    assert headers_of(r) == [("content-type", "text/html; charset=utf-8"), ("content-length", "1"),
                             ("x-a", "1"), ("x-b", "2")]


def test_a_returned_response_is_used_as_is(client):
    app = Covet()

    @app.get("/r")
    async def r():
        return PlainTextResponse("teapot", 418, {"X-Why": "because"})

    r = client(app).get("/r")
    assert (r.status_code, r.text, r.headers["x-why"]) == (418, "teapot", "because")


# -- header injection ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b"])
def test_header_values_with_cr_lf_nul_are_refused(value):
    with pytest.raises(ValueError, match="value contains CR, LF or NUL"):
        Response(b"", headers={"X-A": value})
    r = Response(b"")
    with pytest.raises(ValueError, match="value contains CR, LF or NUL"):
        r.headers["X-A"] = value
    with pytest.raises(ValueError, match="value contains CR, LF or NUL"):
        r.headers.append("X-A", value)
    assert headers_of(r) == [("content-length", "0")]


@pytest.mark.parametrize("name", ["", "X A", "X:A", "X\r\nA", "X\tA"])
def test_bad_header_names_are_refused(name):
    with pytest.raises(ValueError, match="invalid header name"):
        Response(b"", headers={name: "v"})


def test_non_latin1_header_value_is_refused_with_advice():
    with pytest.raises(ValueError, match="header X-A: value is not latin-1; percent-encode it"):
        Response(b"", headers={"X-A": "✓"})


def test_injected_header_from_request_data_is_a_400_and_never_sent(client, caplog):
    app = Covet()

    @app.get("/h")
    async def h(v: str):
        return "x", 200, {"X-Echo": v}

    @app.get("/cookie")
    async def cookie(v: str):
        response = PlainTextResponse("x")
        response.set_cookie("pref", v)
        return response

    @app.get("/go")
    async def go(to: str):
        return RedirectResponse(to)

    @app.get("/latin")
    async def latin(v: str):
        response = PlainTextResponse("x")
        response.headers["x-name"] = v
        return response

    async def echo_mw(request, call_next):
        response = await call_next(request)
        if "mw" in request.query_params:
            response.headers["x-mw"] = request.query_params["mw"]
        return response
    app.add_middleware(echo_mw)

    c = client(app)  # raise_server_exceptions stays on: a 400 is an answer, not a server error
    assert c.get("/h", params={"v": "fine"}).headers["x-echo"] == "fine"
    for url, params in [("/h", {"v": "a\r\nSet-Cookie: admin=1"}), ("/cookie", {"v": "a;\nDomain=evil"}),
                        ("/go", {"to": "/x\r\nSet-Cookie: admin=1"}), ("/latin", {"v": "\u2603"}),
                        ("/h", {"v": "ok", "mw": "\r\nSet-Cookie: admin=1"}), ("/h", {"v": "a\x00b"})]:
        with caplog.at_level(logging.WARNING, logger="covet"):
            r = c.get(url, params=params)
        assert r.status_code == 400, url
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == ("the response would have carried a header value with CR, LF or NUL, "
                                      "or outside Latin-1; it was not sent")
        assert "set-cookie" not in r.headers and "x-echo" not in r.headers and "location" not in r.headers
    assert "refused a response header in GET /h" in caplog.text


def test_header_value_error_is_a_value_error_a_handler_may_catch(client):
    app = Covet()

    @app.get("/h")
    async def h(v: str):
        response = PlainTextResponse("x")
        try:
            response.headers["x-echo"] = v
        except HeaderValueError:
            response.headers["x-echo"] = quote(v)
        return response

    assert issubclass(HeaderValueError, ValueError)
    assert client(app).get("/h", params={"v": "a\nb"}).headers["x-echo"] == "a%0Ab"


# -- cookies -------------------------------------------------------------------------------------

def test_set_cookie_with_every_attribute():
    r = Response(b"")
    r.set_cookie("sid", "abc", max_age=3600, expires=0, path="/p", domain="example.com", secure=True,
                 httponly=True, samesite="strict", partitioned=True)
    assert r.raw_headers[-1] == (b"set-cookie", b"sid=abc; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                                                b"Path=/p; Domain=example.com; Secure; HttpOnly; SameSite=Strict; "
                                                b"Partitioned")


def test_set_cookie_defaults_and_quoting():
    r = Response(b"")
    r.set_cookie("a", "plain")
    r.set_cookie("b", 'x y"z\\')
    r.set_cookie("c", 42, samesite=None, path=None)
    r.set_cookie("d", "v", samesite="NONE", secure=True)
    assert [v for k, v in headers_of(r) if k == "set-cookie"] == [
        "a=plain; Path=/; SameSite=Lax",
        'b="x y\\"z\\\\"; Path=/; SameSite=Lax',
        "c=42",
        "d=v; Path=/; Secure; SameSite=None",
    ]


def test_set_cookie_expires_from_datetime_or_timestamp_or_string():
    r = Response(b"")
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    r.set_cookie("a", "1", expires=when)
    r.set_cookie("b", "1", expires=1893553445)
    r.set_cookie("c", "1", expires="Wed, 02 Jan 2030 03:04:05 GMT")
    expected = "Expires=%s" % formatdate(when.timestamp(), usegmt=True)
    assert expected == "Expires=Wed, 02 Jan 2030 03:04:05 GMT"
    assert all(expected in v for k, v in headers_of(r) if k == "set-cookie")


def test_delete_cookie():
    r = Response(b"")
    r.delete_cookie("sid", path="/app", domain="example.com")
    assert headers_of(r)[-1] == ("set-cookie", 'sid=""; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; '
                                               "Path=/app; Domain=example.com; SameSite=Lax")


@pytest.mark.parametrize("kwargs, message", [
    ({"value": "a;b"}, "cookie value contains ';', CR, LF or NUL"),
    ({"value": "a\r\nSet-Cookie: admin=1"}, "cookie value contains"),
    ({"value": "a\nb"}, "cookie value contains"),
    ({"value": "a\x00"}, "cookie value contains"),
    ({"path": "/; Domain=evil.com"}, "cookie path contains"),
    ({"path": "/\r\nX-A: 1"}, "cookie path contains"),
    ({"domain": "example.com; Secure"}, "cookie domain contains"),
    ({"domain": "example.com\n"}, "cookie domain contains"),
    ({"expires": "Thu; Path=/x"}, "cookie expires contains"),
    ({"samesite": "sometimes"}, "samesite must be 'strict', 'lax' or 'none', not 'sometimes'"),
])
def test_cookie_injection_attempts_raise_value_error(kwargs, message):
    r = Response(b"")
    args = {"key": "sid", "value": "v"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", "\\(")):
        r.set_cookie(**args)
    assert [k for k, _ in headers_of(r)] == ["content-length"]


@pytest.mark.parametrize("key", ["", "a b", "a;b", "a=b", "a\r\n", "a,b", 'a"b', "é"])
def test_cookie_names_must_be_tokens(key):
    with pytest.raises(ValueError, match="invalid cookie name"):
        Response(b"").set_cookie(key, "v")


# -- redirects -------------------------------------------------------------------------------------

def test_redirect_defaults_to_307_and_percent_encodes_non_ascii():
    r = RedirectResponse("/a b/ü?x=1&y=%20#frag")
    assert r.status_code == 307
    assert headers_of(r) == [("content-length", "0"), ("location", "/a%20b/%C3%BC?x=1&y=%20#frag")]
    assert RedirectResponse("https://example.com/x", 303).status_code == 303


@pytest.mark.parametrize("url", ["/x\r\nSet-Cookie: a=1", "/x\n", "/x\r", "/x\x00"])
def test_redirect_with_cr_lf_nul_is_refused(url):
    with pytest.raises(ValueError, match="redirect URL contains CR, LF or NUL"):
        RedirectResponse(url)


# -- streaming ---------------------------------------------------------------------------------------

def test_streaming_from_a_sync_iterator(client):
    app = Covet()

    @app.get("/s")
    def s():
        return StreamingResponse(iter(["a", b"b", "", "ç"]), media_type="text/plain")

    r = client(app).get("/s")
    assert r.content == "abç".encode("utf-8")
    assert r.headers.items() == [("content-type", "text/plain; charset=utf-8")]


def test_streaming_from_an_async_generator(client):
    app = Covet()

    async def numbers():
        for i in range(3):
            await asyncio.sleep(0)
            yield "%d\n" % i

    @app.get("/s")
    async def s():
        return StreamingResponse(numbers(), headers={"X-Kind": "numbers"})

    r = client(app).get("/s")
    assert (r.content, r.headers["x-kind"], "content-length" in r.headers) == (b"0\n1\n2\n", "numbers", False)


def test_streaming_error_after_start_raises_in_the_test_client(client):
    app = Covet()

    async def broken():
        yield b"a"
        raise RuntimeError("stream broke")

    @app.get("/s")
    async def s():
        return StreamingResponse(broken())

    with pytest.raises(RuntimeError, match="stream broke"):
        client(app).get("/s")
    assert client(app, raise_server_exceptions=False).get("/s").content == b"a"


def test_streaming_response_background_runs_after_the_body():
    events = []

    def gen():
        events.append("body")
        yield b"x"

    async def task():
        events.append("background")

    r = StreamingResponse(gen(), background=task)

    async def go():
        body = b"".join([c async for c in r.iter_body()])
        await r.after_send()
        return body

    assert asyncio.run(go()) == b"x"
    assert events == ["body", "background"]


# -- files ----------------------------------------------------------------------------------------

def test_file_response_headers_and_content(tmp_path, client):
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n" * 50000)
    mtime = os.stat(path).st_mtime

    app = Covet()

    @app.get("/f")
    async def f():
        return FileResponse(path, filename="report.csv", chunk_size=4096)

    r = client(app).get("/f")
    assert r.content == b"a,b\n" * 50000
    assert r.headers.items() == [
        ("content-length", "200000"),
        ("last-modified", formatdate(mtime, usegmt=True)),
        ("etag", '"%x-%x"' % (os.stat(path).st_mtime_ns, 200000)),  # RFC 9110 §8.8.3: strong, from mtime and size
        ("content-disposition", 'attachment; filename="report.csv"'),
        ("content-type", "text/csv; charset=utf-8"),
    ]


def test_file_response_non_ascii_filename_gets_filename_star(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00")
    r = FileResponse(str(path), filename='résumé "final".pdf', content_disposition_type="inline")
    headers = dict(headers_of(r))
    assert headers["content-disposition"] == (
        "inline; filename=\"r?sum? final.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf")
    assert headers["content-type"] == "application/pdf"
    assert collect(r) == b"\x00"


def test_file_response_without_filename_guesses_type_from_path(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<p>x</p>")
    r = FileResponse(path)
    headers = dict(headers_of(r))
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "content-disposition" not in headers
    assert collect(r) == b"<p>x</p>"


def test_file_response_for_missing_file_or_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="FileResponse: no such file: "):
        FileResponse(tmp_path / "nope.txt")
    with pytest.raises(IsADirectoryError, match="FileResponse: not a regular file: "):
        FileResponse(tmp_path)


# -- after_send ------------------------------------------------------------------------------------

def test_after_send_runs_background_then_callbacks_once():
    events = []

    async def bg():
        events.append("bg")

    r = Response(b"", background=bg)

    async def cb():
        events.append("cb")

    r.call_after_send(cb)

    async def go():
        await r.after_send()
        await r.after_send()

    asyncio.run(go())
    assert events == ["bg", "cb"]


@pytest.mark.parametrize("cls", [Response, StreamingResponse])
def test_media_type_with_cr_lf_is_refused(cls):
    # Before: media_type went into Content-Type unchecked, so a media type
    # taken from the request (?format=...) could split the response.
    content = b"" if cls is Response else iter([b""])
    with pytest.raises(ValueError, match="^header content-type: value contains CR, LF or NUL$"):
        cls(content, media_type="text/plain\r\nSet-Cookie: a=b")


@pytest.mark.parametrize("status", [101, 204, 304])
def test_statuses_without_content_never_carry_a_body(status):
    app = Covet()

    @app.get("/r")
    async def r():
        return Response(b"body", status)

    @app.get("/e")
    async def e():
        raise HTTPException(status)

    @app.get("/late")
    async def late():
        response = PlainTextResponse("body")
        response.status_code = status
        return response

    @app.get("/tuple")
    async def tuple_():
        return PlainTextResponse("body"), status  # the status is set after the body, as in /late

    assert Response(b"body", status).body == b""
    with TestClient(app) as c:
        for url in ("/r", "/e", "/late", "/tuple"):
            res = c.get(url)
            assert (res.status_code, res.content) == (status, b""), url
            if status != 304 or url not in ("/late", "/tuple"):
                assert "content-length" not in res.headers, url


def test_the_kernel_loads_no_module_an_app_has_not_used_yet():
    # Cold start (serverless, CLI tools, tests): datetime, dataclasses, html, uuid, http.cookies and
    # hashlib load with their first use (a datetime to serialise, an HTML error page, a {x:uuid}
    # route, a cookie set, a page-cache entry), not with every app or server.
    import subprocess
    import sys

    code = ("import sys; from covet import Covet; import covet.server.server; Covet(); "
            "print(sorted(m for m in ('html', 'datetime', 'dataclasses', 'uuid', 'http.cookies', 'hashlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_json_default_still_serialises_what_it_did():
    import dataclasses
    import datetime
    import decimal
    import uuid

    @dataclasses.dataclass
    class Point:
        x: int

    assert json_default(datetime.date(2024, 1, 2)) == "2024-01-02"
    assert json_default(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert json_default(decimal.Decimal("1.50")) == "1.50"
    assert json_default(Point(3)) == {"x": 3}
    with pytest.raises(TypeError):
        json_default(Point)  # the class itself is not data


def test_abandoned_sync_body_closes_its_generator_at_once():
    # A client that leaves mid-body: the sync generator's finally runs when the body is closed,
    # not at garbage collection (the generator object is still referenced here).
    events = []

    def numbers():
        try:
            for i in range(100):
                yield b"%d\n" % i
        finally:
            events.append("closed")

    gen = numbers()
    response = StreamingResponse(gen)

    async def take_one():
        body = response.iter_body()
        first = await body.__anext__()
        await body.aclose()
        return first

    assert asyncio.run(take_one()) == b"0\n"
    assert events == ["closed"]
    assert gen.gi_frame is None  # finished, not merely unreferenced
