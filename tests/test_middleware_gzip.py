"""GZipMiddleware: content codings by Accept-Encoding (RFC 9110 §12.5.3), the gzip and zlib formats
(RFC 1952, RFC 1950 as RFC 9110 §8.4.1.2 defines "deflate"), Vary (§12.5.5), ETag strength
(§8.8.3), HEAD (§9.3.2), 206 (§14.4) and streamed bodies, through the test client, the real server
and the ASGI door.
"""
import asyncio
import gzip
import http.client
import json
import threading
import zlib

import pytest

from covet import (
    BackgroundTasks, Covet, EventSourceResponse, FileResponse, JSONResponse, PlainTextResponse, Response,
    StreamingResponse,
)
from covet.asgi import handle
from covet.middleware import GZipMiddleware
from covet.middleware import gzip as gzip_module
from covet.middleware.gzip import choose_encoding, is_compressible, parse_accept_encoding
from covet.testing import TestClient
from server_helpers import RunningServer, parse_head, recv_until

WAIT = 5.0  # a safety net only: every wait below ends on an event
TEXT = "".join("line %d of a body that compresses well\n" % i for i in range(100))  # 3,890 bytes
PARTS = [TEXT[i * 800:(i + 1) * 800] for i in range(5)]  # the whole of TEXT in five chunks
DATA = {"items": [{"id": i, "name": "item %d" % i, "tags": ["a", "b"]} for i in range(60)]}
DATA_BYTES = json.dumps(DATA, separators=(",", ":")).encode()


def gunzip(data):
    # wbits 31: the gzip format only (RFC 1952); a zlib or raw stream fails to decode.
    d = zlib.decompressobj(31)
    out = d.decompress(data)
    assert d.eof and d.unused_data == b""
    return out


def unzlib(data):
    # wbits 15: the zlib format only (RFC 1950), what HTTP's "deflate" is.
    d = zlib.decompressobj(15)
    out = d.decompress(data)
    assert d.eof and d.unused_data == b""
    return out


def make_app(**options):
    app = Covet()
    app.add_middleware(GZipMiddleware, **options)
    log = app.state.log = []

    @app.get("/json")
    async def data():
        return DATA

    @app.get("/text")
    async def text():
        return PlainTextResponse(TEXT)

    @app.get("/sized/{n:int}")
    async def sized(n: int):
        return PlainTextResponse("x" * n)

    @app.get("/typed")
    async def typed(t: str):
        return Response(TEXT.encode(), media_type=t)

    @app.get("/untyped")
    async def untyped():
        response = Response(TEXT.encode())
        assert all(k != b"content-type" for k, _ in response.raw_headers)
        return response

    @app.get("/with")
    async def with_headers(name: str, value: str):
        return PlainTextResponse(TEXT, headers={name: value})

    @app.get("/etag")
    async def etag():
        return PlainTextResponse(TEXT, headers={"ETag": '"v1"'})

    @app.get("/weak-etag")
    async def weak_etag():
        return PlainTextResponse(TEXT, headers={"ETag": 'W/"v1"'})

    @app.get("/not-modified")
    async def not_modified():
        return Response(b"", 304, headers={"ETag": '"v1"'})

    @app.get("/no-content")
    async def no_content():
        return Response(b"", 204)

    @app.get("/partial")
    async def partial():
        return PlainTextResponse(TEXT[:1000], status_code=206, headers={"Content-Range": "bytes 0-999/3690"})

    @app.get("/stream")
    async def stream():
        async def parts():
            try:
                for part in PARTS:
                    yield part
            finally:
                log.append("stream closed")
        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/stream-sized/{n:int}")
    async def stream_sized(n: int):
        return StreamingResponse(iter([b"y" * n]), media_type="text/plain", headers={"Content-Length": str(n)})

    @app.get("/events")
    async def events():
        async def gen():
            yield {"data": TEXT}
        return EventSourceResponse(gen(), ping=None)

    @app.get("/event-stream-type")
    async def event_stream_type():
        return StreamingResponse(iter([TEXT]), media_type="text/event-stream")

    class Live(StreamingResponse):
        __slots__ = ()
        unbuffered = True

    @app.get("/live")
    async def live():
        return Live(iter([TEXT]), media_type="text/plain")

    @app.get("/background")
    async def background(tasks: BackgroundTasks):
        tasks.add_task(log.append, "task ran")
        return StreamingResponse(iter([TEXT]), media_type="text/plain")

    @app.head("/explicit-head")
    async def explicit_head():
        return Response(b"", headers={"Content-Length": "3690", "Content-Type": "text/plain; charset=utf-8"})

    @app.get("/empty")
    async def empty():
        return PlainTextResponse("")

    return app


@pytest.fixture
def client():
    return TestClient(make_app())


GZ = {"Accept-Encoding": "gzip"}


# -- Accept-Encoding ------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("gzip", {"gzip": 1.0}),
    ("gzip;q=0.8, br, identity;q=0", {"gzip": 0.8, "br": 1.0, "identity": 0.0}),
    ("GZip;Q=0.5", {"gzip": 0.5}),
    ("x-gzip", {"gzip": 1.0}),                      # RFC 9110 §8.4.1.3
    ("gzip ; q=0.5 , deflate", {"gzip": 0.5, "deflate": 1.0}),
    ("gzip;q=1.000", {"gzip": 1.0}),
    ("gzip;q=0.", {"gzip": 0.0}),
    ("gzip;q=0.125", {"gzip": 0.125}),
    ("gzip;q=1.001", {}), ("gzip;q=2", {}), ("gzip;q=-1", {}), ("gzip;q=0.0001", {}), ("gzip;q=", {}),
    ("gzip;q=0.5;q=0.6", {}), ("gzip;level=1", {}), ("gzip;q=1e0", {}), ("gzip;q=٠", {}),
    ("", {}), (",,,", {}), ("gzip,,deflate", {"gzip": 1.0, "deflate": 1.0}),
    ("gzip;q=0, gzip", {"gzip": 0.0}),              # the first mention wins
    ("g zip", {}), ("gzip\x00", {}), ("\"gzip\"", {}), ("*", {"*": 1.0}),
])
def test_parse_accept_encoding(value, expected):
    assert parse_accept_encoding(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("gzip", "gzip"),
    ("deflate", "deflate"),
    ("gzip, deflate", "gzip"),
    ("deflate, gzip", "gzip"),                      # equal q: gzip, the first offered
    ("deflate;q=1, gzip;q=0.5", "deflate"),
    ("gzip;q=0", None),
    ("gzip;q=0, deflate", "deflate"),
    ("gzip;q=0, deflate;q=0", None),
    ("*", "gzip"),
    ("*;q=0", None),
    ("*;q=0, gzip", "gzip"),                        # the named coding beats the wildcard
    ("gzip;q=0, *", "deflate"),
    ("br", None),
    ("br, *;q=0.1", "gzip"),
    ("identity", None),
    ("identity;q=0", None),                         # nothing acceptable: identity anyway, never an error
    ("identity;q=0, gzip", "gzip"),
    ("gzip;q=0.5, identity", None),                 # identity preferred
    ("gzip;q=0.5, identity;q=0.5", "gzip"),
    ("gzip;q=0.5, *;q=0.8", "deflate"),
    ("gzip;q=0.001", "gzip"),
    ("x-gzip", "gzip"),
    ("", None),
])
def test_choose_encoding(value, expected):
    assert choose_encoding(parse_accept_encoding(value)) == expected


def test_choose_encoding_without_deflate_on_offer():
    assert choose_encoding(parse_accept_encoding("deflate, gzip;q=0.1"), ("gzip",)) == "gzip"
    assert choose_encoding(parse_accept_encoding("deflate"), ("gzip",)) is None


@pytest.mark.parametrize("value, coding", [
    ("gzip", "gzip"), ("deflate", "deflate"), ("deflate;q=1, gzip;q=0.9", "deflate"), ("*", "gzip"),
    ("gzip;q=0", None), ("identity", None), ("br", None), ("gzip;q=0.5, identity", None),
])
def test_the_coding_sent_follows_accept_encoding(client, value, coding):
    r = client.get("/text", headers={"Accept-Encoding": value})
    assert r.status_code == 200
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers.get("content-encoding") == coding
    assert r.headers["content-length"] == str(len(r.content))
    decode = {"gzip": gunzip, "deflate": unzlib, None: bytes}[coding]
    assert decode(r.content) == TEXT.encode()


def test_several_accept_encoding_lines_are_one_list():
    # RFC 9110 §5.3: "gzip;q=0" and "deflate" on two lines read as "gzip;q=0, deflate".
    sent = asgi_call(make_app(), "/text", [(b"accept-encoding", b"gzip;q=0"), (b"accept-encoding", b"deflate")])
    assert (b"content-encoding", b"deflate") in sent[0]["headers"]
    assert unzlib(sent[1]["body"]) == TEXT.encode()


@pytest.mark.parametrize("value", [
    "gzip;q=abc", "gzip;q", ";", ";;;q=1", "q=1", "gzip;q=0.5;", "\tgzip\t", "gzip;q=1;q=1", "gzip, ;q=0",
    "ÿgzip", "gzip" + ", x" * 5000, "x" * 8000, "gzip;q=0." + "0" * 4000, "*;q=0.5, *;q=0",
])
def test_a_bad_accept_encoding_is_never_an_error(client, value):
    r = client.get("/text", headers={"Accept-Encoding": value})
    assert r.status_code == 200
    coding = r.headers.get("content-encoding")
    assert coding in (None, "gzip")
    assert (gunzip(r.content) if coding else r.content) == TEXT.encode()


def test_deflate_can_be_turned_off():
    client = TestClient(make_app(deflate=False))
    r = client.get("/text", headers={"Accept-Encoding": "deflate"})
    assert "content-encoding" not in r.headers
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.content == TEXT.encode()
    assert client.get("/text", headers={"Accept-Encoding": "deflate, gzip;q=0.1"}).headers["content-encoding"] == "gzip"


def test_the_parsed_values_table_stays_bounded():
    mw = GZipMiddleware()
    app = Covet()
    app.add_middleware(mw)
    app.get("/t")(lambda: PlainTextResponse(TEXT))
    client = TestClient(app)
    for i in range(gzip_module.ACCEPT_CACHE_SIZE * 3):
        assert client.get("/t", headers={"Accept-Encoding": "gzip, x%d" % i}).headers["content-encoding"] == "gzip"
    assert len(mw._choices) <= gzip_module.ACCEPT_CACHE_SIZE
    client.get("/t", headers={"Accept-Encoding": "gzip, " + "y" * 300})
    assert all(len(k) <= 256 for k in mw._choices)


# -- what a compressed response looks like -------------------------------------------------------

def test_json_is_gzipped_with_exact_headers(client):
    r = client.get("/json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert r.status_code == 200
    assert r.headers.items() == [
        ("content-type", "application/json"), ("vary", "Accept-Encoding"),
        ("content-encoding", "gzip"), ("content-length", str(len(r.content))),
    ]
    assert gunzip(r.content) == DATA_BYTES
    assert len(r.content) < len(DATA_BYTES) // 4
    assert gzip.decompress(r.content) == DATA_BYTES  # what a gzip tool reads


def test_deflate_is_the_zlib_format(client):
    r = client.get("/json", headers={"Accept-Encoding": "deflate"})
    assert r.headers["content-encoding"] == "deflate"
    assert r.headers["content-length"] == str(len(r.content))
    assert r.content[0] & 0x0F == 8 and (r.content[0] * 256 + r.content[1]) % 31 == 0  # RFC 1950 §2.2 header
    assert unzlib(r.content) == DATA_BYTES
    with pytest.raises(zlib.error):
        zlib.decompress(r.content, -15)  # not a raw RFC 1951 stream


@pytest.mark.parametrize("level", [1, 6, 9])
def test_compresslevel_is_used(level):
    r = TestClient(make_app(compresslevel=level)).get("/json", headers=GZ)
    expected = zlib.compressobj(level, zlib.DEFLATED, 31)
    assert r.content == expected.compress(DATA_BYTES) + expected.flush()


def test_the_same_body_compresses_to_the_same_bytes(client):
    # No timestamp in the gzip header (MTIME 0, RFC 1952 §2.3.1): equal bodies, equal bytes.
    a = client.get("/json", headers=GZ).content
    b = client.get("/json", headers=GZ).content
    assert a == b and a[4:8] == b"\x00\x00\x00\x00"


def test_a_response_without_content_type_is_compressed(client):
    r = client.get("/untyped", headers=GZ)
    assert r.headers["content-encoding"] == "gzip"
    assert gunzip(r.content) == TEXT.encode()


def test_without_accept_encoding_the_body_is_untouched_but_varies(client):
    r = client.get("/text")
    assert r.headers.items() == [
        ("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(TEXT))),
        ("vary", "Accept-Encoding"),
    ]
    assert r.content == TEXT.encode()


# -- minimum_size -------------------------------------------------------------------------------

@pytest.mark.parametrize("n, compressed", [(1, False), (499, False), (500, True), (5000, True)])
def test_bodies_under_minimum_size_are_untouched(client, n, compressed):
    r = client.get("/sized/%d" % n, headers=GZ)
    if compressed:
        assert r.headers["content-encoding"] == "gzip"
        assert gunzip(r.content) == b"x" * n
    else:
        # Never compressed at this size, so the response does not vary with Accept-Encoding.
        assert r.headers.items() == [("content-type", "text/plain; charset=utf-8"), ("content-length", str(n))]
        assert r.content == b"x" * n


def test_minimum_size_is_configurable():
    client = TestClient(make_app(minimum_size=10))
    assert client.get("/sized/10", headers=GZ).headers["content-encoding"] == "gzip"
    assert "content-encoding" not in client.get("/sized/9", headers=GZ).headers


def test_an_empty_body_is_never_compressed():
    r = TestClient(make_app(minimum_size=0)).get("/empty", headers=GZ)
    assert r.headers.items() == [("content-type", "text/plain; charset=utf-8"), ("content-length", "0")]
    assert r.content == b""


@pytest.mark.parametrize("n, compressed", [(499, False), (500, True)])
def test_a_streamed_body_is_measured_by_its_content_length(client, n, compressed):
    r = client.get("/stream-sized/%d" % n, headers=GZ)
    if compressed:
        assert r.headers.items() == [("content-type", "text/plain; charset=utf-8"), ("vary", "Accept-Encoding"),
                                     ("content-encoding", "gzip")]
        assert gunzip(r.content) == b"y" * n
    else:
        assert r.headers.items() == [("content-length", str(n)), ("content-type", "text/plain; charset=utf-8")]
        assert r.content == b"y" * n


# -- what is never compressed -----------------------------------------------------------------

@pytest.mark.parametrize("media_type", [
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "audio/mpeg", "audio/ogg",
    "video/mp4", "video/webm", "application/zip", "application/gzip", "application/x-gzip",
    "application/x-bzip2", "application/x-xz", "application/zstd", "application/x-7z-compressed",
    "application/vnd.rar", "application/pdf", "font/woff", "font/woff2", "application/epub+zip",
    "application/java-archive",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text", "IMAGE/PNG", "image/png; q=1",
])
def test_already_compressed_types_are_untouched(client, media_type):
    r = client.get("/typed", params={"t": media_type}, headers=GZ)
    assert r.headers.items() == [("content-type", media_type), ("content-length", str(len(TEXT)))]
    assert r.content == TEXT.encode()
    assert not is_compressible(media_type)


@pytest.mark.parametrize("media_type", [
    "text/html; charset=utf-8", "text/css", "text/csv", "application/json", "application/problem+json",
    "application/javascript", "text/javascript", "application/xml", "application/atom+xml", "image/svg+xml",
    "image/bmp", "image/x-icon", "font/ttf", "font/otf", "application/wasm", "application/octet-stream",
    "application/x-tar", "application/vnd.api+json",
])
def test_compressible_types_are_compressed(client, media_type):
    r = client.get("/typed", params={"t": media_type}, headers=GZ)
    assert r.headers["content-encoding"] == "gzip"
    assert gunzip(r.content) == TEXT.encode()
    assert is_compressible(media_type)


def test_exclude_media_types_adds_to_the_list():
    client = TestClient(make_app(exclude_media_types=["application/x-custom", "model/*"]))
    for media_type in ("application/x-custom", "model/gltf-binary", "Model/Vrml"):
        r = client.get("/typed", params={"t": media_type}, headers=GZ)
        assert "content-encoding" not in r.headers and r.content == TEXT.encode()
    assert client.get("/typed", params={"t": "application/json"}, headers=GZ).headers["content-encoding"] == "gzip"


def test_already_encoded_responses_are_untouched(client):
    r = client.get("/with", params={"name": "Content-Encoding", "value": "br"}, headers=GZ)
    assert r.headers.items() == [("content-encoding", "br"), ("content-type", "text/plain; charset=utf-8"),
                                 ("content-length", str(len(TEXT)))]
    assert r.content == TEXT.encode()


@pytest.mark.parametrize("value", ["no-transform", "private, No-Transform", "no-store,no-transform"])
def test_cache_control_no_transform_opts_out(client, value):
    # RFC 9111 §5.2.2.6: the response's own request not to be transformed.
    r = client.get("/with", params={"name": "Cache-Control", "value": value}, headers=GZ)
    assert r.headers.items() == [("cache-control", value), ("content-type", "text/plain; charset=utf-8"),
                                 ("content-length", str(len(TEXT)))]
    assert r.content == TEXT.encode()


def test_a_206_is_untouched(client):
    # RFC 9110 §14.4: Content-Range counts bytes of the representation as it is, uncompressed.
    r = client.get("/partial", headers=GZ)
    assert r.status_code == 206
    assert r.headers.items() == [("content-range", "bytes 0-999/3690"), ("content-type", "text/plain; charset=utf-8"),
                                 ("content-length", "1000")]
    assert r.content == TEXT[:1000].encode()


def test_any_response_with_content_range_is_untouched(client):
    r = client.get("/with", params={"name": "Content-Range", "value": "bytes */3690"}, headers=GZ)
    assert "content-encoding" not in r.headers and "vary" not in r.headers
    assert r.content == TEXT.encode()


def test_a_204_is_untouched(client):
    r = client.get("/no-content", headers=GZ)
    assert r.status_code == 204
    assert r.headers.items() == []


def test_event_streams_pass_untouched(client):
    # docs/sse.md: a compressing middleware must not touch text/event-stream or unbuffered responses.
    with client.stream("GET", "/events", headers=GZ) as r:
        assert "content-encoding" not in r.headers and "vary" not in r.headers
        assert r.read() == b"".join(b"data: %s\n" % line for line in TEXT.encode().split(b"\n")) + b"\n"
    r = client.get("/event-stream-type", headers=GZ)
    assert r.headers.items() == [("content-type", "text/event-stream; charset=utf-8")]
    assert r.content == TEXT.encode()


def test_unbuffered_responses_pass_untouched(client):
    r = client.get("/live", headers=GZ)
    assert r.headers.items() == [("content-type", "text/plain; charset=utf-8")]
    assert r.content == TEXT.encode()


# -- Vary and ETag ---------------------------------------------------------------------------------

@pytest.mark.parametrize("existing, expected", [
    ("Origin", "Origin, Accept-Encoding"),
    ("Accept-Language, Cookie", "Accept-Language, Cookie, Accept-Encoding"),
    ("accept-encoding", "accept-encoding"),
    ("Origin, Accept-Encoding", "Origin, Accept-Encoding"),
    ("*", "*"),
])
def test_vary_is_appended_to(client, existing, expected):
    for headers in (GZ, {}):
        r = client.get("/with", params={"name": "Vary", "value": existing}, headers=headers)
        assert r.headers.getlist("vary") == [expected]


def test_a_strong_etag_is_made_weak(client):
    r = client.get("/etag", headers=GZ)
    assert r.headers["etag"] == 'W/"v1"'
    assert r.headers["content-encoding"] == "gzip"
    # The uncompressed representation keeps its strong validator (RFC 9110 §8.8.3).
    assert client.get("/etag").headers["etag"] == '"v1"'


def test_a_weak_etag_stays_as_it_is(client):
    assert client.get("/weak-etag", headers=GZ).headers["etag"] == 'W/"v1"'


def test_a_304_has_the_headers_its_200_would_have(client):
    # RFC 9110 §15.4.5: a 304 carries the ETag and Vary the 200 would have carried.
    r = client.get("/not-modified", headers=GZ)
    assert r.status_code == 304
    assert r.headers.items() == [("etag", 'W/"v1"'), ("vary", "Accept-Encoding")]
    r = client.get("/not-modified")
    assert r.headers.items() == [("etag", '"v1"'), ("vary", "Accept-Encoding")]


# -- HEAD ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/json", "/text", "/etag", "/stream", "/sized/100", "/typed?t=image/png"])
@pytest.mark.parametrize("accept", ["gzip", "deflate", "identity", None])
def test_head_gets_the_headers_get_gets(client, path, accept):
    headers = {"Accept-Encoding": accept} if accept else {}
    get = client.get(path, headers=headers)
    head = client.head(path, headers=headers)
    assert head.status_code == get.status_code == 200
    assert head.headers.items() == get.headers.items()
    assert head.content == b""


def test_head_never_starts_the_stream_and_still_closes_it():
    app = make_app()
    client = TestClient(app)
    r = client.head("/stream", headers=GZ)
    assert r.headers["content-encoding"] == "gzip" and r.content == b""
    assert app.state.log == []  # the generator was never started, so it has nothing to close
    client.get("/stream", headers=GZ)
    assert app.state.log == ["stream closed"]


def test_an_explicit_head_route_gets_coding_headers_without_a_length(client):
    # The compressed size cannot be known without the body: RFC 9110 §9.3.2 lets HEAD omit it.
    r = client.head("/explicit-head", headers=GZ)
    assert r.headers.items() == [("content-type", "text/plain; charset=utf-8"), ("vary", "Accept-Encoding"),
                                 ("content-encoding", "gzip")]


# -- streaming ------------------------------------------------------------------------------

def test_a_stream_is_compressed_piece_by_piece(client):
    with client.stream("GET", "/stream", headers=GZ) as r:
        assert r.headers.items() == [("content-type", "text/plain; charset=utf-8"), ("vary", "Accept-Encoding"),
                                     ("content-encoding", "gzip")]
        d = zlib.decompressobj(31)
        pieces = list(r.iter_bytes())
    # One piece per chunk the app yielded, each decoding to that chunk at once (Z_SYNC_FLUSH),
    # then the end of the stream with the gzip trailer.
    assert len(pieces) == 6
    for piece, part in zip(pieces[:5], PARTS):
        assert d.decompress(piece) == part.encode()
    assert d.decompress(pieces[5]) == b"" and d.eof
    assert gunzip(b"".join(pieces)) == TEXT.encode()


def test_a_file_loses_its_content_length_when_compressed(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(TEXT * 100)
    app = Covet()
    app.add_middleware(GZipMiddleware)
    app.get("/file")(lambda: FileResponse(str(path), chunk_size=4096))
    r = TestClient(app).get("/file", headers=GZ)
    assert "content-length" not in r.headers
    assert r.headers["content-encoding"] == "gzip" and r.headers["content-type"] == "text/html; charset=utf-8"
    assert gunzip(r.content) == (TEXT * 100).encode()


def test_background_tasks_run_after_a_compressed_stream():
    app = make_app()
    r = TestClient(app).get("/background", headers=GZ)
    assert gunzip(r.content) == TEXT.encode()
    assert app.state.log == ["task ran"]


def test_leaving_a_compressed_stream_early_closes_the_app_generator():
    app = make_app()
    with TestClient(app).stream("GET", "/stream", headers=GZ) as r:
        first = next(r.iter_bytes())
        assert zlib.decompressobj(31).decompress(first) == PARTS[0].encode()
    assert app.state.log == ["stream closed"]


def test_an_error_in_the_app_stream_reaches_the_door_and_closes_it():
    app = Covet()
    app.add_middleware(GZipMiddleware)
    closed = []

    @app.get("/broken")
    async def broken():
        async def parts():
            try:
                yield TEXT
                raise RuntimeError("disk on fire")
            finally:
                closed.append(True)
        return StreamingResponse(parts(), media_type="text/plain")

    with TestClient(app).stream("GET", "/broken", headers=GZ) as r:
        assert zlib.decompressobj(31).decompress(next(r.iter_bytes())) == TEXT.encode()
        with pytest.raises(RuntimeError, match="disk on fire"):
            r.read()
    assert closed == [True]


def test_large_bodies_are_compressed_off_the_event_loop(monkeypatch):
    threads = []
    real = gzip_module._compress_whole

    def recording(body, level, wbits):
        threads.append(threading.get_ident())
        return real(body, level, wbits)

    monkeypatch.setattr(gzip_module, "_compress_whole", recording)
    app = Covet()
    app.add_middleware(GZipMiddleware, offload_size=len(DATA_BYTES))
    loop_threads = []

    @app.get("/json")
    async def data():
        loop_threads.append(threading.get_ident())
        return DATA

    @app.get("/small")
    async def small():
        loop_threads.append(threading.get_ident())
        return PlainTextResponse(TEXT[:len(DATA_BYTES) - 1])

    client = TestClient(app)
    assert gunzip(client.get("/json", headers=GZ).content) == DATA_BYTES
    assert gunzip(client.get("/small", headers=GZ).content) == TEXT[:len(DATA_BYTES) - 1].encode()
    assert len(threads) == 2
    assert threads[0] != loop_threads[0]  # len(DATA_BYTES) >= offload_size: a pool thread
    assert threads[1] == loop_threads[1]  # smaller: on the loop


@pytest.mark.parametrize("options, message", [
    ({"compresslevel": 0}, "compresslevel"), ({"compresslevel": 10}, "compresslevel"),
    ({"compresslevel": "6"}, "compresslevel"), ({"minimum_size": -1}, "minimum_size"),
    ({"offload_size": -1}, "offload_size"), ({"exclude_media_types": ["png"]}, "exclude_media_types"),
])
def test_bad_settings_fail_at_start_up(options, message):
    with pytest.raises(ValueError, match=message):
        GZipMiddleware(**options)


def test_repr():
    assert repr(GZipMiddleware(deflate=False)) == "<GZipMiddleware minimum_size=500 compresslevel=6 encodings=gzip>"


# -- the real server -------------------------------------------------------------------------

def read_chunk(sock, buffered):
    """One chunk of a chunked body (RFC 9112 §7.1): (data, rest); data b"" is the last chunk."""
    line, rest = recv_until(sock, b"\r\n", buffered)
    size = int(line[:-2], 16)
    while len(rest) < size + 2:
        more = sock.recv(65536)
        assert more, "connection closed inside a chunk"
        rest += more
    assert rest[size:size + 2] == b"\r\n"
    return rest[:size], rest[size + 2:]


def test_over_the_wire_the_first_piece_arrives_before_the_second_is_made():
    app = Covet()
    app.add_middleware(GZipMiddleware)
    release = threading.Event()
    progress = []

    @app.get("/slow")
    async def slow():
        async def parts():
            progress.append("first")
            yield TEXT
            # Wait for the client to have decoded the first piece: a middleware that held the
            # first piece back until it had more input would never let this return.
            await asyncio.get_running_loop().run_in_executor(None, release.wait, WAIT)
            progress.append("second")
            yield TEXT.upper()
        return StreamingResponse(parts(), media_type="text/plain")

    with RunningServer(app) as server:
        sock = server.connect()
        try:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
            head, rest = recv_until(sock, b"\r\n\r\n")
            status, headers = parse_head(head)
            assert status == "HTTP/1.1 200 OK"
            assert headers["content-encoding"] == ["gzip"] and headers["vary"] == ["Accept-Encoding"]
            assert headers["transfer-encoding"] == ["chunked"] and "content-length" not in headers
            d = zlib.decompressobj(31)
            data, rest = read_chunk(sock, rest)
            assert d.decompress(data) == TEXT.encode()
            assert progress == ["first"]  # the second chunk is not made yet
            release.set()
            data, rest = read_chunk(sock, rest)
            assert d.decompress(data) == TEXT.upper().encode()
            data, rest = read_chunk(sock, rest)
            assert d.decompress(data) == b"" and d.eof
            assert read_chunk(sock, rest) == (b"", b"")
            assert progress == ["first", "second"]
        finally:
            release.set()
            sock.close()


def test_over_the_wire_get_and_head_agree_and_bodies_decode():
    with RunningServer(make_app()) as server:
        for path, expected in (("/json", DATA_BYTES), ("/text", TEXT.encode())):
            answers = {}
            for method in ("GET", "HEAD"):
                conn = http.client.HTTPConnection(server.host, server.port, timeout=WAIT)
                try:
                    conn.request(method, path, headers={"Accept-Encoding": "gzip"})
                    resp = conn.getresponse()
                    answers[method] = (resp.status, sorted((k.lower(), v) for k, v in resp.getheaders()
                                                           if k.lower() != "date"), resp.read())
                finally:
                    conn.close()
            assert answers["GET"][:2] == answers["HEAD"][:2]
            assert answers["HEAD"][2] == b""
            assert gunzip(answers["GET"][2]) == expected
            assert ("content-encoding", "gzip") in answers["GET"][1]


# -- the ASGI door ---------------------------------------------------------------------------

def asgi_call(app, path, headers=()):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "query_string": b"", "root_path": "", "headers": [(b"host", b"t")] + list(headers),
             "client": ("127.0.0.1", 5000), "server": ("t", 80)}
    asyncio.run(asyncio.wait_for(handle(app, scope, receive, send), WAIT))
    return sent


def test_through_the_asgi_door():
    app = make_app()
    sent = asgi_call(app, "/json", [(b"accept-encoding", b"gzip")])
    assert sent[0]["status"] == 200
    assert sent[0]["headers"] == [(b"content-type", b"application/json"), (b"vary", b"Accept-Encoding"),
                                  (b"content-encoding", b"gzip"), (b"content-length", b"%d" % len(sent[1]["body"]))]
    assert gunzip(sent[1]["body"]) == DATA_BYTES
    sent = asgi_call(app, "/stream", [(b"accept-encoding", b"gzip")])
    pieces = [m["body"] for m in sent[1:]]
    assert pieces[-1] == b"" and len(pieces) == 7  # five pieces, the trailer, the end
    assert gunzip(b"".join(pieces)) == TEXT.encode()
    assert app.state.log == ["stream closed"]
