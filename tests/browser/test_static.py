"""The blog's style sheet (examples/blog/static/app.css, served by ``app.static``) in Chromium: the
page is styled by it, and the browser keeps it in its cache and revalidates it with
``If-None-Match``, getting a 304 with no body while it is unchanged.

The blog serves its static files with ``max_age=0`` (``Cache-Control: public, max-age=0``): stale
at once, so every page view asks again. Without a Cache-Control, Chromium would be free to reuse the
file for a while without asking (heuristic freshness, RFC 9111 §4.2.2), and a normal reload does not
revalidate subresources, so no 304 would be seen; this is why the example sets it."""
import re

import pytest
from playwright.sync_api import Page, Response, expect

ETAG = re.compile(r'^"[^"]+"$')


@pytest.fixture
def blog(serve):
    return serve("examples/blog/app.py")


def stylesheet_answers(page: Page):
    """The answers to the page's requests for app.css, in order, as they arrive."""
    seen = []
    page.on("response", lambda r: seen.append(r) if r.url.endswith("/static/app.css") else None)
    return seen


def computed(page: Page, selector: str, prop: str) -> str:
    return page.evaluate("([s, p]) => getComputedStyle(document.querySelector(s)).getPropertyValue(p)",
                         [selector, prop])


def test_the_stylesheet_styles_the_page(blog, page):
    page.goto(blog.url + "/")
    expect(page.locator("link[rel=stylesheet]")).to_have_attribute("href", "/static/app.css")
    # Rules of app.css, as the browser applied them (and not the browser's defaults).
    assert computed(page, "body", "max-width") == "768px"  # 48rem
    assert computed(page, "body", "color") == "rgb(34, 34, 34)"  # #222
    assert computed(page, ".blog", "display") == "flex"
    assert computed(page, ".blog", "column-gap") == "32px"  # 2rem
    assert computed(page, "nav a.active", "font-weight") == "700"
    assert computed(page, "nav a:not(.active)", "font-weight") == "400"


def test_a_reload_revalidates_the_stylesheet_and_gets_a_304(blog, page):
    answers = stylesheet_answers(page)
    page.goto(blog.url + "/")
    assert [r.status for r in answers] == [200]
    first: Response = answers[0]
    etag = first.header_value("etag")
    assert etag is not None and ETAG.match(etag)
    assert first.header_value("cache-control") == "public, max-age=0"
    assert first.request.header_value("if-none-match") is None
    color = computed(page, "body", "color")

    page.reload()  # returns after the load event: the style sheet's answer is in
    expect(page.locator("footer")).to_have_text("covet blog · 2 posts")
    assert [r.status for r in answers] == [200, 304]
    again = answers[1]
    assert again.request.header_value("if-none-match") == etag
    assert again.header_value("etag") == etag
    assert again.header_value("content-length") in (None, "0")
    # The cached copy was used: the page is styled as before.
    assert computed(page, "body", "color") == color == "rgb(34, 34, 34)"


def test_following_a_link_revalidates_too(blog, page):
    answers = stylesheet_answers(page)
    page.goto(blog.url + "/")
    with page.expect_response(lambda r: r.url.endswith("/static/app.css")):
        page.get_by_role("link", name="Hello, covet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, covet")
    assert [r.status for r in answers] == [200, 304]
    assert answers[1].request.header_value("if-none-match") == answers[0].header_value("etag")
    assert computed(page, "body", "max-width") == "768px"
