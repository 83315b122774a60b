"""Static files (covet.staticfiles): headers, validators and 304/412, ranges, HEAD, types, dotfiles,
folders, precompressed siblings, hashed URLs, url_for, sendfile on the wire, and path traversal in
every spelling over real sockets and through the test client (starlette CVE-2023-29159, sanic
CVE-2017-16762, aiohttp CVE-2024-23334)."""
import gzip
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys

import pytest

from covet import Covet, FileResponse, Request, StaticFiles, TestClient
from covet.core.conditional import file_etag, http_date
from covet.server.config import INLINE_FILE_MAX, SENDFILE_SLICE
from covet.staticfiles import IMMUTABLE, MAX_NAME_LENGTH, MAX_PATH_SEGMENTS, media_type_for, safe_segments
from server_helpers import RunningServer, read_response

SECRET = b"TOP-SECRET-4f1d9c"   # in files that must never be served
OLD = 784111777                 # Sun, 06 Nov 1994 08:49:37 GMT


@pytest.fixture
def tree(tmp_path):
    """tmp/secret.txt beside tmp/public/, the served folder; tmp/public2 shares its name's prefix."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    pub = tmp_path / "public"
    (pub / "css").mkdir(parents=True)
    (pub / "docs").mkdir()
    (pub / "empty").mkdir()
    (pub / ".git").mkdir()
    (pub / ".well-known").mkdir()
    (pub / "css" / "app.css").write_bytes(b"body { color: red }\n")
    (pub / "app.js").write_bytes(b"console.log(1)\n")
    (pub / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (pub / "data.bin").write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    (pub / "docs" / "index.html").write_bytes(b"<h1>docs</h1>")
    (pub / "404.html").write_bytes(b"<h1>no such page</h1>")
    (pub / "a b.txt").write_bytes(b"spaced")
    (pub / "caf\u00e9.txt").write_bytes(b"accent")
    (pub / ".hidden").write_bytes(SECRET)
    (pub / ".git" / "config").write_bytes(SECRET)
    (pub / ".well-known" / "security.txt").write_bytes(b"Contact: x")
    style = b"p { margin: 0 }\n" * 64
    (pub / "style.css").write_bytes(style)
    (pub / "style.css.gz").write_bytes(gzip.compress(style, mtime=0))
    os.utime(pub / "data.bin", (OLD, OLD))
    os.symlink(pub / "css" / "app.css", pub / "inside_link.css")
    os.symlink(tmp_path / "secret.txt", pub / "out_link.txt")
    os.symlink(tmp_path, pub / "out_dir")
    (tmp_path / "public2").mkdir()
    (tmp_path / "public2" / "secret.txt").write_bytes(SECRET)
    return tmp_path


def make_app(tree, **options):
    app = Covet()
    app.static("/static", str(tree / "public"), **options)
    return app


def stat_of(tree, name):
    return os.stat(tree / "public" / name)


# -- a file, its headers, HEAD -------------------------------------------------------------------

def test_get_serves_the_file_with_exact_headers(tree, client):
    st = stat_of(tree, "css/app.css")
    r = client(make_app(tree)).get("/static/css/app.css")
    assert r.status_code == 200
    assert r.content == b"body { color: red }\n"
    assert r.headers.items() == [
        ("x-content-type-options", "nosniff"),
        ("vary", "Accept-Encoding"),
        ("content-length", "20"),
        ("last-modified", http_date(st.st_mtime)),
        ("etag", file_etag(st)),
        ("accept-ranges", "bytes"),
        ("content-type", "text/css; charset=utf-8"),
    ]


def test_head_has_the_headers_of_get_and_no_body(tree, client):
    c = client(make_app(tree))
    get, head = c.get("/static/data.bin"), c.head("/static/data.bin")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers.items() == get.headers.items()
    assert head.headers["content-length"] == "10240" and head.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize("name,media", [
    ("css/app.css", "text/css; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"),
    ("logo.png", "image/png"), ("docs/index.html", "text/html; charset=utf-8"),
    ("data.bin", "application/octet-stream"), ("a%20b.txt", "text/plain; charset=utf-8"),
    ("style.css.gz", "application/gzip"),
])
def test_content_type_from_the_name_with_utf8_for_text(tree, client, name, media):
    r = client(make_app(tree)).get("/static/" + name)
    assert (r.status_code, r.headers["content-type"], r.headers["x-content-type-options"]) == (200, media, "nosniff")


def test_names_up_to_name_max_are_served():
    assert safe_segments("/" + "n" * MAX_NAME_LENGTH) == ["n" * MAX_NAME_LENGTH]
    assert safe_segments("/" + "n" * (MAX_NAME_LENGTH + 1)) is None


def test_media_type_for():
    assert media_type_for("x.json") == "application/json; charset=utf-8"
    assert media_type_for("x.svg") == "image/svg+xml; charset=utf-8"
    assert media_type_for("x.woff2") == "font/woff2"
    assert media_type_for("x.unknownext") == "application/octet-stream"
    assert media_type_for("X.CSS") == "text/css; charset=utf-8"


def test_non_ascii_and_spaced_names(tree, client):
    c = client(make_app(tree))
    assert c.get("/static/caf%C3%A9.txt").content == b"accent"
    assert c.get("/static/a%20b.txt").content == b"spaced"


def test_only_get_and_head(tree, client):
    r = client(make_app(tree)).post("/static/css/app.css")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


# -- validators, 304, 412 (RFC 9110 §13) ----------------------------------------------------------

def test_if_none_match_gives_304_with_the_rfc_9110_15_4_5_headers(tree, client):
    c = client(make_app(tree, max_age=60))
    first = c.get("/static/css/app.css")
    etag = first.headers["etag"]
    r = c.get("/static/css/app.css", headers={"If-None-Match": 'W/"other", ' + etag})
    assert (r.status_code, r.content) == (304, b"")
    assert r.headers.items() == [("cache-control", "public, max-age=60"), ("vary", "Accept-Encoding"), ("etag", etag)]
    head = c.head("/static/css/app.css", headers={"If-None-Match": etag})
    assert head.status_code == 304
    assert c.get("/static/css/app.css", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_if_modified_since(tree, client):
    c = client(make_app(tree))
    assert c.get("/static/data.bin", headers={"If-Modified-Since": http_date(OLD)}).status_code == 304
    assert c.get("/static/data.bin", headers={"If-Modified-Since": http_date(OLD + 3600)}).status_code == 304
    r = c.get("/static/data.bin", headers={"If-Modified-Since": http_date(OLD - 1)})
    assert r.status_code == 200 and len(r.content) == 10240
    assert c.get("/static/data.bin", headers={"If-Modified-Since": "not a date"}).status_code == 200
    # RFC 9110 §13.2.2: If-None-Match decides; If-Modified-Since is then not looked at
    r = c.get("/static/data.bin", headers={"If-None-Match": '"stale"', "If-Modified-Since": http_date(OLD)})
    assert r.status_code == 200


def test_if_match_and_if_unmodified_since_fail_with_412(tree, client):
    c = client(make_app(tree))
    etag = c.get("/static/data.bin").headers["etag"]
    r = c.get("/static/data.bin", headers={"If-Match": '"stale"'})
    assert (r.status_code, r.content, r.headers["content-length"]) == (412, b"", "0")
    assert c.get("/static/data.bin", headers={"If-Match": etag}).status_code == 200
    assert c.get("/static/data.bin", headers={"If-Unmodified-Since": http_date(OLD - 1)}).status_code == 412
    assert c.get("/static/data.bin", headers={"If-Unmodified-Since": http_date(OLD)}).status_code == 200


# -- ranges (RFC 9110 §14) ------------------------------------------------------------------------

DATA = bytes(range(256)) * 40


@pytest.mark.parametrize("header,start,stop", [
    ("bytes=0-499", 0, 500), ("bytes=500-999", 500, 1000), ("bytes=-500", 9740, 10240),
    ("bytes=9740-", 9740, 10240), ("bytes=500-600,601-999", 500, 1000), ("bytes=0-99999", 0, 10240),
])
def test_a_range_is_a_206_with_its_content_range(tree, client, header, start, stop):
    r = client(make_app(tree)).get("/static/data.bin", headers={"Range": header})
    assert r.status_code == 206
    assert r.content == DATA[start:stop]
    assert r.headers["content-length"] == str(stop - start)
    assert r.headers["content-range"] == "bytes %d-%d/10240" % (start, stop - 1)
    assert r.headers["accept-ranges"] == "bytes" and r.headers["content-type"] == "application/octet-stream"


def test_ranges_far_apart_get_the_whole_file(tree, client):
    r = client(make_app(tree)).get("/static/data.bin", headers={"Range": "bytes=0-0,-1"})
    assert r.status_code == 200 and r.content == DATA and "content-range" not in r.headers


def test_an_unsatisfiable_range_is_416_with_the_size(tree, client):
    r = client(make_app(tree)).get("/static/data.bin", headers={"Range": "bytes=10240-"})
    assert (r.status_code, r.content) == (416, b"")
    assert r.headers["content-range"] == "bytes */10240" and r.headers["content-length"] == "0"


def test_an_invalid_range_is_ignored(tree, client):
    for header in ("bytes=5-1", "lines=0-1", "bytes=0-1-2", "bytes=" + ",".join(["0-0"] * 101)):
        r = client(make_app(tree)).get("/static/data.bin", headers={"Range": header})
        assert (r.status_code, r.content) == (200, DATA), header


def test_if_range(tree, client):
    c = client(make_app(tree))
    etag = c.get("/static/data.bin").headers["etag"]
    r = c.get("/static/data.bin", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (r.status_code, r.content) == (206, DATA[:10])
    r = c.get("/static/data.bin", headers={"Range": "bytes=0-9", "If-Range": '"changed"'})
    assert (r.status_code, r.content) == (200, DATA)
    r = c.get("/static/data.bin", headers={"Range": "bytes=0-9", "If-Range": http_date(OLD)})
    assert (r.status_code, r.content) == (206, DATA[:10])
    r = c.get("/static/data.bin", headers={"Range": "bytes=0-9", "If-Range": http_date(OLD + 1)})
    assert (r.status_code, r.content) == (200, DATA)


def test_head_with_a_range(tree, client):
    r = client(make_app(tree)).head("/static/data.bin", headers={"Range": "bytes=0-9"})
    assert (r.status_code, r.content, r.headers["content-range"], r.headers["content-length"]) == (
        206, b"", "bytes 0-9/10240", "10")


def test_a_handler_file_response_given_the_request_honours_range_and_304(tree, client):
    app = Covet()

    @app.get("/download")
    async def download(request: Request):
        return FileResponse(tree / "public" / "data.bin", filename="data.bin", request=request)

    c = client(app)
    r = c.get("/download", headers={"Range": "bytes=-10"})
    assert (r.status_code, r.content, r.headers["content-range"]) == (206, DATA[-10:], "bytes 10230-10239/10240")
    assert r.headers["content-disposition"] == 'attachment; filename="data.bin"'
    assert c.get("/download", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


# -- caching headers, hashed URLs, url_for ---------------------------------------------------------

def test_max_age(tree, client):
    assert client(make_app(tree, max_age=60)).get("/static/app.js").headers["cache-control"] == "public, max-age=60"
    assert "cache-control" not in client(make_app(tree)).get("/static/app.js").headers
    with pytest.raises(ValueError):
        StaticFiles(str(tree / "public"), max_age=-1)


def test_url_for_a_named_mount_in_python_and_in_templates(tree, client):
    from covet.templates import TemplateEngine

    (tree / "tpl").mkdir()
    (tree / "tpl" / "page.html").write_text("{{ url_for('static', path='css/app.css') }}")
    engine = TemplateEngine(directory=str(tree / "tpl"))
    app = make_app(tree)

    @app.get("/page")
    async def page(request: Request):
        return engine.response(request, "page.html", {})

    @app.get("/py")
    async def py(request: Request):
        return {"url": request.url_for("static", path="a b.txt")}

    assert app.url_for("static", path="css/app.css") == "/static/css/app.css"
    assert app.url_for("static", path="/css/app.css") == "/static/css/app.css"
    c = client(app)
    assert c.get("/page").text == "/static/css/app.css"
    assert c.get("/py").json() == {"url": "/static/a%20b.txt"}


def test_hashed_urls_are_immutable_and_change_with_the_content(tree, client):
    app = make_app(tree, hashed=True, max_age=60)
    c = client(app)
    url = app.url_for("static", path="css/app.css")
    digest = url.split(".")[-2]
    assert url == "/static/css/app.%s.css" % digest and len(digest) == 12
    r = c.get(url)
    assert (r.status_code, r.content, r.headers["cache-control"]) == (200, b"body { color: red }\n", IMMUTABLE)
    assert c.get("/static/css/app.css").headers["cache-control"] == "public, max-age=60"  # the plain name too
    # the file changes: a new URL; the old one still answers, with the new bytes, uncached
    (tree / "public" / "css" / "app.css").write_bytes(b"body { color: blue }\n")
    os.utime(tree / "public" / "css" / "app.css", (OLD, OLD))
    new_url = app.url_for("static", path="css/app.css")
    assert new_url != url
    old = c.get(url)
    assert (old.status_code, old.content, old.headers["cache-control"]) == (200, b"body { color: blue }\n", "no-cache")
    assert c.get(new_url).headers["cache-control"] == IMMUTABLE
    # names without an extension, dotted names, and files that do not exist
    assert app.url_for("static", path="data.bin").startswith("/static/data.")
    assert c.get(app.url_for("static", path="data.bin")).content == DATA
    assert app.url_for("static", path="missing.css") == "/static/missing.css"
    assert c.get("/static/css/app.0123456789ab.css").headers["cache-control"] == "no-cache"


# -- folders, html mode, dotfiles -----------------------------------------------------------------

def test_folders_are_404_without_html(tree, client):
    c = client(make_app(tree))
    for path in ("/static/docs", "/static/docs/", "/static/empty/", "/static", "/static/"):
        assert c.get(path).status_code == 404, path


def test_html_mode_serves_index_redirects_folders_and_uses_404_html(tree, client):
    c = client(make_app(tree, html=True), follow_redirects=False)
    r = c.get("/static/docs/")
    assert (r.status_code, r.content, r.headers["content-type"]) == (200, b"<h1>docs</h1>", "text/html; charset=utf-8")
    r = c.get("/static/docs?x=1")
    assert (r.status_code, r.headers["location"]) == (307, "/static/docs/?x=1")
    r = c.get("/static/nope.html")
    assert (r.status_code, r.content) == (404, b"<h1>no such page</h1>")
    assert c.get("/static/empty/").status_code == 404  # no index there: the 404 page
    assert c.get("/static/empty/").content == b"<h1>no such page</h1>"


def test_dotfiles_only_when_allowed(tree, client):
    c = client(make_app(tree))
    assert c.get("/static/.well-known/security.txt").status_code == 404
    c2 = client(make_app(tree, allow_dotfiles=True))
    assert c2.get("/static/.well-known/security.txt").content == b"Contact: x"
    assert c2.get("/static/.hidden").content == SECRET  # asked for: the operator's choice
    assert c2.get("/static/..").status_code == 404


# -- precompressed siblings ------------------------------------------------------------------------

def test_a_gz_sibling_goes_to_clients_that_accept_gzip(tree, client):
    c = client(make_app(tree))
    plain = c.get("/static/style.css", headers={"Accept-Encoding": "identity"})
    zipped = c.get("/static/style.css", headers={"Accept-Encoding": "br, gzip;q=0.5"})
    assert zipped.content == (tree / "public" / "style.css.gz").read_bytes()
    assert gzip.decompress(zipped.content) == plain.content
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.headers["content-type"] == plain.headers["content-type"] == "text/css; charset=utf-8"
    assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["etag"] != plain.headers["etag"]  # two representations, two strong tags
    assert zipped.headers["content-length"] == str(len(zipped.content))
    for refused in ("gzip;q=0", "*;q=0", "", "deflate", "gzip;q=0, *"):
        r = c.get("/static/style.css", headers={"Accept-Encoding": refused})
        assert "content-encoding" not in r.headers and r.content == plain.content, refused
    assert c.get("/static/style.css", headers={"Accept-Encoding": "*"}).headers["content-encoding"] == "gzip"
    assert "content-encoding" not in client(make_app(tree, precompressed=False)).get(
        "/static/style.css", headers={"Accept-Encoding": "gzip"}).headers


def test_a_stale_gz_sibling_is_not_served(tree, client):
    os.utime(tree / "public" / "style.css.gz", (OLD, OLD))
    r = client(make_app(tree)).get("/static/style.css", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers and r.content == (tree / "public" / "style.css").read_bytes()


# -- symlinks ---------------------------------------------------------------------------------------

def test_symlinks_inside_are_followed_and_those_leaving_only_when_allowed(tree, client):
    c = client(make_app(tree))
    assert c.get("/static/inside_link.css").content == b"body { color: red }\n"
    assert c.get("/static/out_link.txt").status_code == 404
    assert c.get("/static/out_dir/secret.txt").status_code == 404
    c2 = client(make_app(tree, follow_symlinks=True))
    assert c2.get("/static/out_link.txt").content == SECRET  # follow_symlinks: the operator's links lead anywhere
    assert c2.get("/static/..%2fsecret.txt").status_code == 404  # but ".." never


# -- traversal: every spelling, over real sockets and through the test client -----------------------

TRAVERSAL = [
    "/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/%2E%2E%2Fsecret.txt",
    "/.%2e/secret.txt", "/%2e./secret.txt", "/..%5csecret.txt", "/..\\secret.txt", "/%5c..%5csecret.txt",
    "/%2e%2e%5csecret.txt", "/css/../../secret.txt", "/css/..%2f..%2fsecret.txt", "/./../secret.txt",
    "/%2e/%2e%2e/secret.txt", "/..;/secret.txt", "/%c0%ae%c0%ae/secret.txt", "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt", "/%c1%9c..%c1%9csecret.txt", "/%252e%252e/secret.txt",
    "/..%252fsecret.txt", "/%00../secret.txt", "/..%00/secret.txt", "/secret.txt%00.css",
    "/css/app.css%00", "//secret.txt", "/%2fsecret.txt", "/%2f%2e%2e%2fsecret.txt", "/C:/secret.txt",
    "/C:\\secret.txt", "/c%3a%5csecret.txt", "/%43%3a/secret.txt", "/.../secret.txt", "/..../secret.txt",
    "/%20../secret.txt", "/..%20/secret.txt", "/secret.txt.", "/out_link.txt", "/out_dir/secret.txt",
    "/out_dir/public2/secret.txt", "/../public2/secret.txt", "/.hidden", "/.git/config", "/%2ehidden",
    "/%ef%bc%8e%ef%bc%8e/secret.txt", "/..%u2216secret.txt", "/%ed%a0%80/secret.txt", "/nul", "/con.txt",
    "/css/app.css::$DATA", "/css%2fapp.css/../../secret.txt", "/" + "a/" * (MAX_PATH_SEGMENTS + 1),
    "/%", "/%zz", "/..%2", "/\x7f", "/" + "a." * 2000 + "0123456789ab.css",
]


def test_the_traversal_table_is_long_enough():
    assert len(TRAVERSAL) >= 30 and len(set(TRAVERSAL)) == len(TRAVERSAL)


def test_safe_segments_refuses_every_spelling():
    for spelling in TRAVERSAL:
        segments = safe_segments(spelling)
        assert segments is None or ".." not in segments and all("/" not in s and "\\" not in s for s in segments), \
            spelling


@pytest.mark.parametrize("options", [{}, {"html": True}, {"hashed": True, "allow_dotfiles": False}])
def test_traversal_through_the_test_client_is_always_404(tree, options):
    app = make_app(tree, **options)
    with TestClient(app, follow_redirects=False) as c:
        for spelling in TRAVERSAL:
            r = c.get("/static" + spelling)
            assert r.status_code == 404, spelling
            assert SECRET not in r.content, spelling
        absolute = c.get("/static/" + str(tree / "secret.txt"))
        assert absolute.status_code == 404 and SECRET not in absolute.content


def test_traversal_over_a_real_socket_is_always_404_and_the_server_lives_on(tree):
    app = make_app(tree, html=True)
    with RunningServer(app) as running:
        with running.connect() as sock:
            buffered = b""
            # A request-target is VCHAR only (RFC 9112 §3.2): "/\x7f" is the parser's 400 before any
            # app sees it, so the socket carries every other spelling.
            wire = [s for s in TRAVERSAL if all(0x21 <= ord(c) <= 0x7e for c in s)]
            assert len(wire) >= 30
            for spelling in wire + ["/" + str(tree / "secret.txt"), "/static/../../secret.txt"]:
                target = ("/static" + spelling).encode("latin-1")
                sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
                status, headers, body, buffered = read_response(sock, buffered)
                assert status == "HTTP/1.1 404 Not Found", spelling
                assert SECRET not in body, spelling
            # the same connection and server still serve
            sock.sendall(b"GET /static/css/app.css HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body, _ = read_response(sock, buffered)
            assert (status, body) == ("HTTP/1.1 200 OK", b"body { color: red }\n")


def test_the_directory_itself_is_resolved_once(tree):
    link = tree / "public_link"
    os.symlink(tree / "public", link)
    files = StaticFiles(str(link))
    assert files.directory == os.path.realpath(str(tree / "public"))
    with pytest.raises(ValueError):
        StaticFiles(str(tree / "missing"))
    assert StaticFiles(str(tree / "missing"), check_dir=False).directory.endswith("missing")


# -- sending: one open, every descriptor closed, sendfile on plain TCP, chunks on TLS ---------------

def _open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_each_request_opens_its_file_once_and_closes_it(tree, client, monkeypatch):
    c = client(make_app(tree, html=True))
    c.get("/static/app.js")  # warm up (thread pool, imports)
    opened = []
    real_open = os.open

    def counting_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    before = _open_fds()
    monkeypatch.setattr(os, "open", counting_open)
    assert c.get("/static/data.bin").status_code == 200
    assert opened == [str(tree / "public" / "data.bin")]
    etag = c.get("/static/data.bin").headers["etag"]
    for headers, status in (({"Range": "bytes=0-1"}, 206), ({"Range": "bytes=99999-"}, 416),
                            ({"If-None-Match": etag}, 304), ({"If-Match": '"x"'}, 412), ({}, 200)):
        assert c.get("/static/data.bin", headers=headers).status_code == status
    assert c.head("/static/data.bin").status_code == 200
    assert c.get("/static/nope").status_code == 404
    assert c.get("/static/style.css", headers={"Accept-Encoding": "gzip"}).status_code == 200
    monkeypatch.undo()
    assert _open_fds() == before


def test_a_file_removed_after_it_was_opened_is_still_sent_whole(tree, client):
    path = tree / "public" / "gone.bin"
    path.write_bytes(b"g" * 100000)
    app = Covet()

    @app.get("/gone")
    async def gone(request: Request):
        response = FileResponse(path, file=open(path, "rb"), request=request)
        os.unlink(path)   # the open file still holds the bytes
        return response

    r = client(app).get("/gone")
    assert (r.status_code, r.content) == (200, b"g" * 100000)
    with RunningServer(app) as running:
        path.write_bytes(b"g" * 100000)
        with running.connect() as sock:
            sock.sendall(b"GET /gone HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body, _ = read_response(sock)
    assert (status, body) == ("HTTP/1.1 200 OK", b"g" * 100000)


def _count_sendfile(running):
    calls = []

    def install():
        loop = running.loop
        real = loop.sendfile

        async def sendfile(transport, file, offset=0, count=None, **kw):
            calls.append((offset, count))
            return await real(transport, file, offset, count, **kw)
        loop.sendfile = sendfile

    running.call(install)
    return calls


def test_plain_tcp_sends_files_with_sendfile_in_slices(tree):
    big = bytes(range(256)) * (3 * SENDFILE_SLICE // 256 + 10)  # three slices and a bit
    (tree / "public" / "big.bin").write_bytes(big)
    with RunningServer(make_app(tree)) as running:
        calls = _count_sendfile(running)
        with running.connect() as sock:
            sock.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                         b"GET /static/big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=10-19\r\n\r\n"
                         b"HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                         b"GET /static/css/app.css HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, body, rest = read_response(sock)
            assert (status, body) == ("HTTP/1.1 200 OK", big)
            status, headers, body, rest = read_response(sock, rest)
            assert (status, body, headers["content-range"]) == ("HTTP/1.1 206 Partial Content", big[10:20],
                                                                ["bytes 10-19/%d" % len(big)])
            head, rest = rest.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in rest else (None, rest)
            if head is None:
                from server_helpers import recv_until
                head, rest = recv_until(sock, b"\r\n\r\n", rest)
            assert head.startswith(b"HTTP/1.1 200 OK")   # HEAD: no body follows
            status, _, body, _ = read_response(sock, rest)
            assert (status, body) == ("HTTP/1.1 200 OK", b"body { color: red }\n")
    n = len(big)
    # The 10-byte range and the 20-byte file are read and sent with their heads (INLINE_FILE_MAX).
    assert calls == [(0, SENDFILE_SLICE), (SENDFILE_SLICE, SENDFILE_SLICE), (2 * SENDFILE_SLICE, SENDFILE_SLICE),
                     (3 * SENDFILE_SLICE, n - 3 * SENDFILE_SLICE)]


@pytest.mark.skipif(not hasattr(os, "pread"), reason="small slices are read with os.pread (POSIX)")
def test_plain_tcp_sends_small_files_and_slices_with_their_head_in_one_write(tree):
    edge = bytes(range(256)) * (INLINE_FILE_MAX // 256)   # exactly INLINE_FILE_MAX bytes
    over = edge + b"!"                                     # one byte more: sendfile
    (tree / "public" / "edge.bin").write_bytes(edge)
    (tree / "public" / "over.bin").write_bytes(over)
    with RunningServer(make_app(tree)) as running:
        calls = _count_sendfile(running)
        writes = []

        def spy_writes():
            # The first connection's transport: count its writes, as the client sees separate sends.
            conn = next(iter(running.server.connections))
            real = conn.transport.write

            def write(data):
                writes.append(bytes(data))
                return real(data)
            conn.transport.write = write

        with running.connect() as sock:
            sock.sendall(b"GET /static/app.js HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body, rest = read_response(sock)
            assert (status, body) == ("HTTP/1.1 200 OK", b"console.log(1)\n")
            running.call(spy_writes)
            sock.sendall(b"GET /static/edge.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body, rest = read_response(sock, rest)
            assert (status, body) == ("HTTP/1.1 200 OK", edge)
            sock.sendall(b"GET /static/over.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=5-\r\n\r\n")
            status, headers, body, rest = read_response(sock, rest)
            assert (status, body, headers["content-range"]) == (
                "HTTP/1.1 206 Partial Content", over[5:], ["bytes 5-%d/%d" % (len(over) - 1, len(over))])
            sock.sendall(b"GET /static/over.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body, rest = read_response(sock, rest)
            assert (status, body) == ("HTTP/1.1 200 OK", over)
    # app.js, edge.bin and the 206 (exactly INLINE_FILE_MAX bytes from offset 5) never used sendfile.
    assert calls == [(0, len(over))]
    assert len(writes) == 3
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n" + edge)
    assert writes[1].startswith(b"HTTP/1.1 206 Partial Content\r\n") and writes[1].endswith(over[5:])
    assert writes[2].startswith(b"HTTP/1.1 200 OK\r\n") and writes[2].endswith(b"\r\n\r\n")  # head; body by sendfile


def test_a_small_file_that_shrank_after_its_head_was_made_closes_the_connection(tree):
    path = tree / "public" / "shrinks.txt"
    app = Covet()

    @app.get("/shrinks")
    async def shrinks(request: Request):
        path.write_bytes(b"s" * 1000)
        response = FileResponse(path, file=open(path, "rb"), request=request)
        with open(path, "r+b") as f:
            f.truncate(400)   # Content-Length says 1000: only 400 are left to send
        return response

    with RunningServer(app) as running:
        with running.connect() as sock:
            sock.sendall(b"GET /shrinks HTTP/1.1\r\nHost: t\r\n\r\n")
            data = b""
            while True:
                got = sock.recv(65536)
                if not got:
                    break   # RFC 9112 §6.3: a body shorter than its Content-Length ends with the connection
                data += got
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 1000" in head.lower()
    assert body == b"s" * 400


def test_http_client_over_plain_tcp_reads_files_and_ranges(tree):
    with RunningServer(make_app(tree)) as running:
        conn = http.client.HTTPConnection(running.host, running.port, timeout=5)
        try:
            conn.request("GET", "/static/data.bin")
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, DATA)
            conn.request("GET", "/static/data.bin", headers={"Range": "bytes=-256"})
            r = conn.getresponse()
            assert (r.status, r.read()) == (206, DATA[-256:])
        finally:
            conn.close()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    d = tmp_path_factory.mktemp("tls")
    certfile, keyfile = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", keyfile, "-out", certfile, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
    )
    return certfile, keyfile


def test_tls_sends_files_in_chunks_without_sendfile(tree, cert):
    big = os.urandom(300000)
    (tree / "public" / "big.bin").write_bytes(big)
    with RunningServer(make_app(tree), ssl_certfile=cert[0], ssl_keyfile=cert[1]) as running:
        calls = _count_sendfile(running)
        ctx = ssl.create_default_context(cafile=cert[0])
        conn = http.client.HTTPSConnection("127.0.0.1", running.port, timeout=5, context=ctx)
        try:
            conn.request("GET", "/static/big.bin")
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, big)
            conn.request("GET", "/static/big.bin", headers={"Range": "bytes=100-199"})
            r = conn.getresponse()
            assert (r.status, r.read()) == (206, big[100:200])
        finally:
            conn.close()
    assert calls == []


def test_a_client_that_leaves_mid_file_does_not_hurt_the_server(tree):
    big = b"z" * (8 * SENDFILE_SLICE)
    (tree / "public" / "big.bin").write_bytes(big)
    with RunningServer(make_app(tree)) as running:
        with running.connect() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
        with running.connect() as sock:   # the server goes on
            sock.sendall(b"GET /static/css/app.css HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body, _ = read_response(sock)
            assert (status, body) == ("HTTP/1.1 200 OK", b"body { color: red }\n")


def test_repr_and_export():
    import covet

    assert covet.StaticFiles is StaticFiles
    assert repr(StaticFiles(os.path.dirname(__file__))).startswith("StaticFiles(")
    assert sys.modules["covet.staticfiles"].StaticFiles is StaticFiles


def test_under_asgi_files_and_ranges_go_out_in_chunks(tree):
    import asyncio

    app = make_app(tree)

    def call(path, headers=()):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [(b"host", b"t")] + list(headers), "http_version": "1.1", "scheme": "http"}
        asyncio.run(app(scope, receive, send))
        return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])

    status, headers, body = call("/static/data.bin")
    assert (status, body, headers[b"content-length"]) == (200, DATA, b"10240")
    status, headers, body = call("/static/data.bin", [(b"range", b"bytes=100-199")])
    assert (status, body, headers[b"content-range"]) == (206, DATA[100:200], b"bytes 100-199/10240")
    status, _, body = call("/static/..%2fsecret.txt")
    assert status == 404 and SECRET not in body
