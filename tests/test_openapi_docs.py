"""The /docs page as the server sends it: the HTML shell, its files, ETags, prefixes and settings.

What the page does in a browser is tests/browser/test_docs*.py (``make test-browser``).
"""
import html
import json
import pathlib
import re

import pytest

from covet import Covet, TestClient
from covet.openapi import check_docs_options
from covet.security import SecurityHeadersMiddleware

ASSETS = pathlib.Path(__file__).resolve().parent.parent / "covet" / "openapi" / "assets"


def config_of(page):
    found = re.search(r'data-config="([^"]*)"', page)
    assert found, page
    return json.loads(html.unescape(found.group(1)))


def make_app(**options):
    app = Covet(title="Tasks", **options)

    @app.get("/tasks")
    async def tasks():
        return []

    return app


def test_the_page_names_its_script_and_style_and_carries_its_settings():
    with TestClient(make_app()) as c:
        r = c.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    page = r.text
    assert '<script src="/docs/docs.js" defer></script>' in page
    assert '<link rel="stylesheet" href="/docs/docs.css">' in page
    assert config_of(page) == {"title": "Tasks", "openapiUrl": "/openapi.json",
                               "oauth2RedirectUrl": "/docs/oauth2-redirect",
                               "persistAuthorization": False, "oauth2ClientId": None}


def test_the_page_has_nothing_inline_a_strict_csp_would_block_and_nothing_from_another_host():
    with TestClient(make_app()) as c:
        pages = [c.get("/docs").text, c.get("/docs/oauth2-redirect").text]
    for page in pages:
        assert re.search(r"<script(?![^>]*\bsrc=)", page) is None      # no inline script
        assert re.search(r"<style|\sstyle=", page) is None               # no inline style
        assert re.search(r"\son[a-z]+=", page) is None                   # no inline handler
        assert re.search(r"(src|href)=\"(?!/docs/)", page) is None        # files from here only
        assert "http://" not in page and "https://" not in page


@pytest.mark.parametrize("name, media_type", [("docs.js", "text/javascript; charset=utf-8"),
                                              ("docs.css", "text/css; charset=utf-8")])
def test_the_files_are_cacheable_and_revalidate_with_a_304(name, media_type):
    body = (ASSETS / name).read_bytes()
    with TestClient(make_app()) as c:
        r = c.get("/docs/" + name)
        assert r.status_code == 200
        assert r.content == body
        assert r.headers["content-type"] == media_type
        assert r.headers["cache-control"] == "no-cache"
        etag = r.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
        again = c.get("/docs/" + name, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert c.get("/docs/" + name, headers={"If-None-Match": '"other"'}).status_code == 200
        head = c.head("/docs/" + name)
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag


def test_the_page_itself_revalidates_too():
    with TestClient(make_app()) as c:
        etag = c.get("/docs").headers["etag"]
        assert c.get("/docs", headers={"If-None-Match": etag}).status_code == 304


def test_the_redirect_page_is_never_stored_and_never_sent_on_as_a_referer():
    with TestClient(make_app()) as c:
        r = c.get("/docs/oauth2-redirect?code=abc&state=x")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert 'data-page="oauth2-redirect"' in r.text
    assert '<script src="/docs/docs.js" defer></script>' in r.text


def test_other_paths_under_docs_are_not_found():
    with TestClient(make_app()) as c:
        for path in ("/docs/x.js", "/docs/../docs.js", "/docs/docs.js/", "/docsdocs.js", "/docs/docs.html"):
            assert c.get(path).status_code == 404, path


def test_other_methods_are_405_and_a_trailing_slash_redirects():
    parent = Covet()
    parent.mount("/v1", make_app())
    with TestClient(parent, follow_redirects=False) as c:
        for path in ("/v1/docs", "/v1/docs/docs.js", "/v1/openapi.json"):
            r = c.post(path)
            assert r.status_code == 405, path
            assert r.headers["allow"] == "GET, HEAD"
        r = c.get("/v1/docs/")
        assert r.status_code == 308 and r.headers["location"] == "/v1/docs"


def test_text_of_the_app_goes_into_the_page_escaped():
    app = make_app(docs_options={"oauth2_client_id": '"><script>alert(1)</script>'})
    app.title = '<img src=x onerror=alert(1)>"'
    with TestClient(app) as c:
        page = c.get("/docs").text
    assert "<img" not in page and "<script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;" in page
    config = config_of(page)
    assert config["title"] == '<img src=x onerror=alert(1)>"'
    assert config["oauth2ClientId"] == '"><script>alert(1)</script>'


def test_under_a_mount_every_url_carries_the_prefix_and_the_document_names_it_as_server():
    parent = Covet()
    parent.mount("/v1", make_app())
    with TestClient(parent) as c:
        page = c.get("/v1/docs").text
        assert '<script src="/v1/docs/docs.js" defer></script>' in page
        assert config_of(page)["openapiUrl"] == "/v1/openapi.json"
        assert config_of(page)["oauth2RedirectUrl"] == "/v1/docs/oauth2-redirect"
        assert c.get("/v1/docs/docs.js").status_code == 200
        doc = c.get("/v1/openapi.json").json()
        assert doc["servers"] == [{"url": "/v1"}]
        assert "/tasks" in doc["paths"]
        # The app's own document (cached) is not changed by one request's prefix.
        assert "servers" not in c.get("/openapi.json").json()


def test_docs_options_are_checked_when_the_app_is_made():
    app = make_app(docs_options={"persist_authorization": True, "oauth2_client_id": "docs"})
    with TestClient(app) as c:
        config = config_of(c.get("/docs").text)
    assert config["persistAuthorization"] is True and config["oauth2ClientId"] == "docs"
    with pytest.raises(TypeError, match="unknown docs option 'persist_authorisation'"):
        Covet(docs_options={"persist_authorisation": True})
    with pytest.raises(TypeError, match="persist_authorization must be a bool"):
        check_docs_options({"persist_authorization": "yes"})


def test_openapi_and_docs_can_be_moved_or_turned_off():
    moved = Covet(openapi_url="/api/schema.json", docs_url="/api/docs")
    off = Covet(openapi_url=None, docs_url=None)
    no_document = Covet(openapi_url=None)
    with TestClient(moved) as c:
        assert c.get("/api/schema.json").status_code == 200
        assert config_of(c.get("/api/docs").text)["openapiUrl"] == "/api/schema.json"
        assert c.get("/api/docs/docs.js").status_code == 200
        assert c.get("/openapi.json").status_code == 404
        assert c.get("/docs/docs.js").status_code == 404
    with TestClient(off) as c:
        for path in ("/openapi.json", "/docs", "/docs/docs.js", "/docs/docs.css", "/docs/oauth2-redirect"):
            assert c.get(path).status_code == 404, path
    with TestClient(no_document) as c:
        assert config_of(c.get("/docs").text)["openapiUrl"] is None


def test_the_security_headers_middleware_leaves_the_page_working():
    app = make_app()
    app.add_middleware(SecurityHeadersMiddleware(content_security_policy="default-src 'self'"))
    with TestClient(app) as c:
        r = c.get("/docs")
        js = c.get("/docs/docs.js")
    assert r.headers["content-security-policy"] == "default-src 'self'"
    # nosniff: the script must be sent as JavaScript or the browser refuses to run it.
    assert js.headers["x-content-type-options"] == "nosniff"
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"


def test_tags_with_descriptions_go_into_the_document_in_order():
    app = Covet(openapi_tags=[{"name": "b", "description": "Bees"}, {"name": "a"}])
    assert app.openapi()["tags"] == [{"name": "b", "description": "Bees"}, {"name": "a"}]
    assert "tags" not in Covet().openapi()


def test_the_script_builds_the_page_without_html_strings_and_stays_small():
    # The page puts the document's text on screen; none of it may be parsed as HTML.
    source = (ASSETS / "docs.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 # and nothing a strict CSP refuses: inline styles, script or data URLs
                 "javascript:", "data:", 'setAttribute("style"', ".style."):
        assert sink not in source, sink
    assert re.search(r"setTimeout\(\s*[\"'`]", source) is None  # no code in strings
    # Credentials are kept in memory, or sessionStorage when asked: never localStorage (used, not named).
    assert re.search(r"localStorage\s*[.\[]", source) is None
    assert "sessionStorage" in source
    # The budget: no framework, no build step, under 40 KB unminified.
    assert len(source.encode("utf-8")) < 40 * 1024


@pytest.mark.parametrize("kwargs, message", [
    ({"docs_url": "/"}, "docs_url must be None or a path like /docs"),
    ({"docs_url": "docs"}, "docs_url must be None or a path like /docs"),
    ({"docs_url": "//evil.example"}, "docs_url must be None or a path like /docs"),
    ({"docs_url": "/docs/"}, "docs_url must be None or a path like /docs"),
    ({"openapi_url": "/a b"}, "openapi_url must be None or a path like /docs"),
    ({"openapi_url": "/docs/docs.js"}, "openapi_url '/docs/docs.js' is taken by the docs page at '/docs'"),
    ({"openapi_url": "/docs"}, "openapi_url '/docs' is taken by the docs page at '/docs'"),
])
def test_urls_that_would_send_the_page_elsewhere_or_clash_are_refused(kwargs, message):
    # docs_url="/" would make the script's URL //docs.js: a request to the host "docs.js".
    with pytest.raises(ValueError, match=re.escape(message)):
        Covet(**kwargs)


def test_docs_options_must_be_a_dict():
    with pytest.raises(TypeError, match="docs_options must be a dict"):
        Covet(docs_options="persist")


def test_the_document_carries_an_etag_and_revalidates():
    with TestClient(make_app()) as c:
        r = c.get("/openapi.json")
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["content-type"] == "application/json"
        again = c.get("/openapi.json", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
        # A new route is a new document, and so a new tag.
        c.app.add_route("/more", lambda: None)
        assert c.get("/openapi.json", headers={"If-None-Match": r.headers["etag"]}).status_code == 200


def test_the_document_and_page_are_made_once_until_routes_change(monkeypatch):
    # A client fetching /openapi.json in a loop must not cost a JSON encoding and a hash each time.
    import covet.openapi.docs as docs_module

    made = []
    real_fill, real_json = docs_module._fill, docs_module.JSONResponse
    monkeypatch.setattr(docs_module, "_fill", lambda *a: made.append(a[0]) or real_fill(*a))
    monkeypatch.setattr(docs_module, "JSONResponse", lambda doc: made.append("openapi.json") or real_json(doc))
    app = make_app()
    client = TestClient(app)
    first = [client.get(p) for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect")]
    again = [client.get(p) for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect")] * 3
    assert made == ["openapi.json", "docs.html", "oauth2-redirect.html"]
    assert [(r.status_code, r.content, r.headers["etag"]) for r in again] == \
        [(r.status_code, r.content, r.headers["etag"]) for r in first] * 3

    @app.get("/later")
    async def later():
        return {}

    changed = client.get("/openapi.json")
    assert made[3:] == ["openapi.json"]
    assert "/later" in changed.json()["paths"] and changed.headers["etag"] != first[0].headers["etag"]
    assert client.get("/openapi.json", headers={"If-None-Match": changed.headers["etag"]}).status_code == 304
    assert made[3:] == ["openapi.json"]
