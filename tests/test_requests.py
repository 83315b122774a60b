"""covet.core.requests: the Request object, cookies, query, body/json/text/form, multipart through the app."""
import asyncio
import json

import pytest

from covet import Covet, HTTPException, MultipartLimits, Request, UploadFile
from covet.core.datastructures import MAX_QUERY_FIELDS
from covet.core.requests import MAX_COOKIES, parse_cookie_header, parse_json


def make_request(method="GET", path="/", query="", headers=(), body=None, receive=None):
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return Request(method, path, query, raw, client=("10.0.0.1", 4321), body=body, receive=receive)


def chunks_receiver(*chunks):
    """A receive() that yields ``chunks`` then b"" (end of body), counting its calls."""
    queue = list(chunks)
    calls = []

    async def receive():
        calls.append(1)
        return queue.pop(0) if queue else b""
    receive.calls = calls
    return receive


def run(coro):
    return asyncio.run(coro)


# -- attributes ---------------------------------------------------------------------------

def test_request_attributes():
    r = make_request("GET", "/caf%C3%A9/a%2Fb", "x=1&x=2&y=",
                     headers=[("host", "example.com:8080"), ("content-type", "Application/JSON; charset=UTF-8")])
    assert r.method == "GET"
    assert r.raw_path == "/caf%C3%A9/a%2Fb"
    assert r.path == "/café/a/b"
    assert r.query_params.getlist("x") == ["1", "2"]
    assert r.query_params.get("y") == ""
    assert str(r.url) == "http://example.com:8080/caf%C3%A9/a%2Fb?x=1&x=2&y="
    assert str(r.base_url) == "http://example.com:8080/"
    assert r.content_type == "application/json"
    assert r.client == ("10.0.0.1", 4321)
    assert r.headers["HOST"] == "example.com:8080"
    assert repr(r) == "<Request GET /caf%C3%A9/a%2Fb>"


def test_url_falls_back_to_server_address_then_localhost():
    r = Request("GET", "/x", "", [], server=("10.1.1.1", 81))
    assert str(r.url) == "http://10.1.1.1:81/x"
    assert str(Request("GET", "/x").url) == "http://localhost/x"


def test_state_is_per_request_and_names_missing_attributes():
    r = make_request()
    r.state.user = "ada"
    assert r.state.user == "ada" and "user" in r.state
    with pytest.raises(AttributeError, match="state has no attribute 'nope'"):
        r.state.nope
    assert "user" not in make_request().state


# -- cookies ---------------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("a=1; b=2", {"a": "1", "b": "2"}),
    ('a="x y"; b="\\"q\\""', {"a": "x y", "b": '"q"'}),
    ('a="\\101\\102"', {"a": "AB"}),
    ("a=1;b=2;;  ; c = 3 ", {"a": "1", "b": "2", "c": "3"}),
    ("a=1; a=2", {"a": "1"}),
    ("a=x=y", {"a": "x=y"}),
    ("a=", {"a": ""}),
    ("=x=y", {}),
    ("=__Host-sid=evil; __Host-sid=good", {"__Host-sid": "good"}),
    ("__Host-sid=good; =__Host-sid=evil", {"__Host-sid": "good"}),
    ("noequals; b=2", {"b": "2"}),
    ('"quoted"=1; b(c)=2; d e=3; f=4', {"f": "4"}),
    ("a=\x00\x01; b=\u00e9", {"a": "\x00\x01", "b": "\u00e9"}),
    ("", {}),
    (None, {}),
])
def test_cookie_header_parsing_never_raises(header, expected):
    assert parse_cookie_header(header) == expected


def test_ten_thousand_cookies_keep_the_first_max_cookies():
    header = "; ".join("c%d=%d" % (i, i) for i in range(10000))
    cookies = parse_cookie_header(header)
    assert len(cookies) == MAX_COOKIES == 256
    assert cookies["c0"] == "0" and cookies["c255"] == "255" and "c256" not in cookies


def test_backslash_heavy_quoted_cookie_is_decoded_in_one_pass():
    # CPython CVE-2024-7592: http.cookies' unquoting was quadratic on this input.
    value = '"' + "\\" * 200000 + '"'
    assert parse_cookie_header("a=" + value) == {"a": "\\" * 100000}
    assert parse_cookie_header('a="' + "\\0" * 50000 + '"') == {"a": "0" * 50000}


def test_request_cookies_come_from_the_cookie_header():
    r = make_request(headers=[("cookie", "sid=abc; =bad=1; theme=dark")])
    assert r.cookies == {"sid": "abc", "theme": "dark"}
    assert make_request().cookies == {}


# -- query string ------------------------------------------------------------------------------

def test_query_is_split_on_ampersand_only_never_semicolon(client):
    app = Covet()

    @app.get("/q")
    async def q(request: Request):
        return request.query_params.multi_items()

    c = client(app)
    assert c.get("/q?a=1;b=2&c=3").json() == [["a", "1;b=2"], ["c", "3"]]
    assert c.get("/q?a=%26&b=x+y&b=%2B").json() == [["a", "&"], ["b", "x y"], ["b", "+"]]


def test_more_than_max_query_fields_is_400(client):
    app = Covet()

    @app.get("/q")
    async def q(request: Request):
        return len(request.query_params.multi_items())

    c = client(app)
    assert MAX_QUERY_FIELDS == 1000
    assert c.get("/q?" + "&".join("k%d=1" % i for i in range(1000))).json() == 1000
    r = c.get("/q?" + "&".join("k%d=1" % i for i in range(1001)))
    assert r.status_code == 400
    assert r.json()["detail"] == "too many query parameters (limit 1000)"


def test_too_many_query_fields_for_an_injected_param_is_400_too(client):
    app = Covet()

    @app.get("/q")
    async def q(page: int = 1):
        return page

    r = client(app).get("/q?" + "&".join(["page=2"] * 1001))
    assert r.status_code == 400


# -- body, text, json ------------------------------------------------------------------------

def test_body_is_read_once_from_the_stream_and_cached():
    receive = chunks_receiver(b'{"a"', b": 1}")
    r = make_request("POST", body=None, receive=receive)

    async def go():
        first = await r.body()
        second = await r.body()
        streamed = [c async for c in r.stream()]
        return first, second, streamed, await r.json()

    assert run(go()) == (b'{"a": 1}', b'{"a": 1}', [b'{"a": 1}'], {"a": 1})
    assert len(receive.calls) == 3


def test_stream_can_be_consumed_only_once():
    r = make_request("POST", receive=chunks_receiver(b"ab", b"cd"))

    async def go():
        got = [c async for c in r.stream()]
        with pytest.raises(RuntimeError, match="the request body was already streamed"):
            [c async for c in r.stream()]
        return got

    assert run(go()) == [b"ab", b"cd"]


def test_middleware_reading_the_body_does_not_starve_the_handler(dispatch):
    app = Covet()
    seen = []

    @app.middleware
    async def peek(request, call_next):
        seen.append(await request.body())
        return await call_next(request)

    @app.post("/echo")
    async def echo(request: Request, payload: dict):
        return {"json": await request.json(), "payload": payload, "text": await request.text()}

    receive = chunks_receiver(b'{"k":', b' "v"}')
    r = dispatch(app, "POST", "/echo", headers=[("content-type", "application/json")], receive=receive)
    assert json.loads(r.body) == {"json": {"k": "v"}, "payload": {"k": "v"}, "text": '{"k": "v"}'}
    assert seen == [b'{"k": "v"}']


def test_text_uses_the_declared_charset():
    r = make_request("POST", headers=[("content-type", 'text/plain; charset="latin-1"')], body="café".encode("latin-1"))
    assert run(r.text()) == "café"
    r = make_request("POST", body="café".encode("utf-8"))
    assert run(r.text()) == "café"


@pytest.mark.parametrize("content_type, body, detail", [
    ("text/plain; charset=utf-8", b"\xff", "request body is not valid utf-8 text"),
    ("text/plain; charset=klingon", b"x", "request body is not valid klingon text"),
])
def test_text_that_does_not_decode_is_400(content_type, body, detail):
    r = make_request("POST", headers=[("content-type", content_type)], body=body)
    with pytest.raises(HTTPException) as info:
        run(r.text())
    assert (info.value.status_code, info.value.detail) == (400, detail)


@pytest.mark.parametrize("body, detail", [
    (b"", "request body is empty; expected JSON"),
    (b"{", "malformed JSON: Expecting property name enclosed in double quotes at position 1"),
    (b"[1, 2", "malformed JSON: Expecting ',' delimiter at position 5"),
    (b"\xfe\xff", "malformed JSON: not UTF-8"),
    (b"[" * 100000, "malformed JSON: nested too deeply"),
    (b"1" * 4301, "malformed JSON: number too large"),
    (b"1" * 1000000, "malformed JSON: number too large"),
    (b"1e" + b"9" * 1000000, "malformed JSON: number out of range"),
    (b"NaN", "malformed JSON: NaN is not a JSON value"),
    (b"-Infinity", "malformed JSON: -Infinity is not a JSON value"),
    (b"1.5e400", "malformed JSON: number out of range"),
])
def test_parse_json_turns_every_failure_into_400(body, detail):
    with pytest.raises(HTTPException) as info:
        parse_json(body)
    assert (info.value.status_code, info.value.detail) == (400, detail)


def test_parse_json_duplicate_keys_last_wins_and_big_ints_within_the_limit_pass():
    assert parse_json(b'{"a": 1, "a": 2}') == {"a": 2}
    assert parse_json(b"9" * 4300) == int("9" * 4300)
    assert parse_json(b"[1.5e300, -0.0]") == [1.5e300, -0.0]


def test_request_json_on_bad_input_is_a_400_response(client):
    app = Covet()

    @app.post("/j")
    async def j(request: Request):
        return await request.json()

    c = client(app)
    r = c.post("/j", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"type": "about:blank", "title": "Bad Request", "status": 400,
                        "detail": "malformed JSON: Expecting property name enclosed in double quotes at position 1",
                        "instance": "/j"}
    assert c.post("/j", json={"ok": [1]}).json() == {"ok": [1]}
    # A lone surrogate is valid JSON grammar; echoing it must not 500.
    r = c.post("/j", content=b'["\\ud800", "\xc3\xa9"]', headers={"content-type": "application/json"})
    assert (r.status_code, r.content) == (200, b'["\\ud800","\\u00e9"]')


# -- forms --------------------------------------------------------------------------------------

def form_app(**options):
    app = Covet(**options)

    @app.post("/form")
    async def form(request: Request):
        data = await request.form()
        out = []
        for key, value in data.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                out.append([key, {"filename": value.filename, "content_type": value.content_type,
                                  "size": value.size, "content": content.decode("latin-1")}])
            else:
                out.append([key, value])
        return out

    return app


def test_urlencoded_form(client):
    c = client(form_app())
    assert c.post("/form", data={"a": "1", "b": ["x y", "ü"]}).json() == [["a", "1"], ["b", "x y"], ["b", "ü"]]
    assert c.post("/form", content=b"a=1;b=2", headers={"content-type": "application/x-www-form-urlencoded"}).json() == [
        ["a", "1;b=2"]]


def test_urlencoded_form_that_is_not_utf8_is_400(client):
    r = client(form_app()).post("/form", content=b"a=\xff", headers={"content-type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()["detail"]) == (400, "form body is not valid UTF-8")


def test_urlencoded_form_with_too_many_fields_is_400_named_as_a_form(client):
    c = client(form_app())
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert len(c.post("/form", content=b"&".join(b"k%d=1" % i for i in range(1000)), headers=form).json()) == 1000
    r = c.post("/form", content=b"&".join(b"k%d=1" % i for i in range(1001)), headers=form)
    assert (r.status_code, r.json()["detail"]) == (400, "too many form fields (limit 1000)")


def test_multipart_form_with_fields_and_files(client):
    r = client(form_app()).post("/form", data={"title": "Report"}, files={
        "doc": ("q3.pdf", b"%PDF-1.7 \x00\x01", "application/pdf"),
        "notes": ("n.txt", "héllo"),
    })
    assert r.json() == [
        ["title", "Report"],
        ["doc", {"filename": "q3.pdf", "content_type": "application/pdf", "size": 11,
                 "content": "%PDF-1.7 \x00\x01"}],
        ["notes", {"filename": "n.txt", "content_type": "application/octet-stream", "size": 6,
                   "content": "héllo".encode("utf-8").decode("latin-1")}],
    ]


def test_upload_file_save_and_close_after_the_response(client, tmp_path):
    app = Covet()
    kept = []

    @app.post("/up")
    async def up(request: Request):
        upload = (await request.form())["file"]
        kept.append(upload)
        written = await upload.save(str(tmp_path / "saved.bin"))
        return {"written": written, "closed": upload.file.closed}

    r = client(app).post("/up", files={"file": ("a.bin", b"x" * 5000)})
    assert r.json() == {"written": 5000, "closed": False}
    assert (tmp_path / "saved.bin").read_bytes() == b"x" * 5000
    assert kept[0].file.closed


@pytest.mark.parametrize("kwargs, detail", [
    ({"files": {"up": ("a.txt", b"x" * 11)}}, "multipart: file part exceeds max_file_size (10 bytes)"),
    ({"data": {"f": "123456"}, "files": {"up": ("a", b"")}}, "multipart: field part exceeds max_field_size (5 bytes)"),
    ({"files": [("a", ("a", b"")), ("b", ("b", b"")), ("c", ("c", b"")), ("d", ("d", b""))]},
     "multipart: body exceeds max_parts (3 parts)"),
])
def test_multipart_over_the_app_limits_is_413(client, kwargs, detail):
    app = form_app(multipart_limits=MultipartLimits(max_file_size=10, max_field_size=5, max_parts=3))
    r = client(app).post("/form", **kwargs)
    assert r.status_code == 413
    assert r.json() == {"type": "about:blank", "title": "Content Too Large", "status": 413, "detail": detail,
                        "instance": "/form"}


def test_multipart_at_the_limits_passes(client):
    app = form_app(multipart_limits=MultipartLimits(max_file_size=10, max_field_size=5, max_parts=3))
    r = client(app).post("/form", data={"f": "12345"}, files={"up": ("a", b"x" * 10)})
    assert r.status_code == 200


@pytest.mark.parametrize("content_type, body, status, detail", [
    ("multipart/form-data; boundary=x", b"--x\r\n", 400, "multipart: body ended before the closing boundary"),
    ("multipart/form-data", b"x", 400, "multipart: Content-Type has no boundary parameter"),
    ("application/json", b"{}", 415,
     "expected a form (application/x-www-form-urlencoded or multipart/form-data), got 'application/json'"),
    ("", b"a=1", 415, "expected a form (application/x-www-form-urlencoded or multipart/form-data), got ''"),
    ("multipart/form-data-x; boundary=x", b"--x--", 415,
     "expected a form (application/x-www-form-urlencoded or multipart/form-data), got 'multipart/form-data-x'"),
    ("application/x-www-form-urlencodedx", b"a=1", 415,
     "expected a form (application/x-www-form-urlencoded or multipart/form-data), got 'application/x-www-form-urlencodedx'"),
])
def test_bad_forms_are_4xx(client, content_type, body, status, detail):
    headers = {"content-type": content_type} if content_type else {}
    r = client(form_app()).post("/form", content=body, headers=headers)
    assert (r.status_code, r.json()["detail"]) == (status, detail)


def test_form_media_type_parameters_are_parsed_separately(client):
    r = client(form_app()).post("/form", content=b"a=1", headers={
        "content-type": "Application/X-WWW-Form-Urlencoded; charset=utf-8"})
    assert r.json() == [["a", "1"]]


def test_empty_body_without_content_type_is_an_empty_form(client):
    assert client(form_app()).post("/form").json() == []


def test_form_is_parsed_once_per_request():
    r = make_request("POST", headers=[("content-type", "application/x-www-form-urlencoded")], body=b"a=1")

    async def go():
        return (await r.form()) is (await r.form())

    assert run(go()) is True


def test_multipart_streamed_in_chunks_through_dispatch(dispatch):
    from covet.testing import encode_multipart

    body, ctype = encode_multipart({"a": "1"}, {"f": ("f.txt", b"0123456789" * 100)}, boundary="bound")
    receive = chunks_receiver(*[body[i:i + 7] for i in range(0, len(body), 7)])
    r = dispatch(form_app(), "POST", "/form", headers=[("content-type", ctype)], receive=receive)
    assert json.loads(r.body) == [["a", "1"], ["f", {"filename": "f.txt", "content_type": "application/octet-stream",
                                                      "size": 1000, "content": "0123456789" * 100}]]


def test_request_is_slotted():
    assert not hasattr(make_request(), "__dict__")


def test_datastructures_defines_every_name_it_exports_and_loads_uploadfile_on_first_use():
    # Names in __all__ are real module attributes, so static tools and
    # `from covet.core.datastructures import *` see them; UploadFile is reachable from here too,
    # but loaded only when asked for: an app that parses no multipart form never imports it.
    import subprocess
    import sys

    from covet.core import datastructures, multipart

    assert [n for n in datastructures.__all__ if n not in vars(datastructures)] == []
    assert datastructures.UploadFile is multipart.UploadFile
    code = ("import sys; from covet import Covet; Covet(); import covet.core.datastructures as d; "
            "assert 'covet.core.uploads' not in sys.modules; d.UploadFile; assert 'covet.core.uploads' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
