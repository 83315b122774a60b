"""examples/blog/app.py in Chromium: a user writes a post through the form, gets it back with
its errors when a field is missing, and a form whose CSRF token was tampered with is refused."""
import re

import pytest
from playwright.sync_api import Page, expect

BLOG = "examples/blog/app.py"


@pytest.fixture
def blog(serve):
    return serve(BLOG, env={"BLOG_SECRET_KEY": "browser-test-secret-0123456789abcdef"})


def submit(page: Page, method: str = "POST"):
    """Click Publish and return the answer to the form's request."""
    with page.expect_response(lambda r: r.request.method == method and r.url.endswith("/new")) as answer:
        page.get_by_role("button", name="Publish").click()
    return answer.value


def test_a_post_written_in_the_form_is_published_with_a_flash(blog, page):
    page.goto(blog.url + "/")
    page.get_by_role("link", name="Write").click()
    expect(page).to_have_url(blog.url + "/new")
    expect(page.get_by_role("heading", name="New post")).to_be_visible()
    page.get_by_label("Title").fill("Written in a browser")
    page.get_by_label("Tags, separated by commas").fill("browser, news")
    page.get_by_label("Text").fill("First paragraph.\n\nSecond paragraph.")

    answer = submit(page)
    assert answer.status == 303
    assert answer.headers["location"] == "/posts/written-in-a-browser"
    expect(page).to_have_url(blog.url + "/posts/written-in-a-browser")
    expect(page.locator("p.flash.success")).to_have_text("Your post is published.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Written in a browser")
    expect(page.locator("article p.tags")).to_have_text("browser, news")
    expect(page.locator("article > p:not(.tags)")).to_have_text(["First paragraph.", "Second paragraph."])
    expect(page.locator("footer")).to_have_text("covet blog · 3 posts")

    # The flash is shown once: the next page has none; the post heads the home page.
    page.get_by_role("link", name="Home").click()
    expect(page).to_have_url(blog.url + "/")
    expect(page.locator("p.flash")).to_have_count(0)
    expect(page.locator("article.summary h2")).to_have_text(
        ["Written in a browser", "Templates compile to Python", "Hello, covet"])
    expect(page.locator("aside li")).to_have_text(
        ["browser (1)", "news (2)", "speed (1)", "templates (1)"])


def test_an_empty_title_brings_the_form_back_with_its_error_and_the_other_fields_kept(blog, page, guard):
    # Chromium logs every 4xx answer to a navigation as a console error; this one is expected.
    guard.allow_console(r"status of 422 \(Unprocessable")
    page.goto(blog.url + "/new")
    page.get_by_label("Tags, separated by commas").fill("Not A Tag")
    page.get_by_label("Text").fill("Kept <b>as typed</b>")

    answer = submit(page)
    assert answer.status == 422
    expect(page).to_have_url(blog.url + "/new")
    title_field = page.locator(".field", has=page.get_by_label("Title"))
    expect(title_field).to_have_class("field invalid")
    expect(title_field.locator("p.error")).to_have_text("A title is required.")
    tags_field = page.locator(".field", has=page.get_by_label("Tags, separated by commas"))
    expect(tags_field.locator("p.error")).to_have_text("Up to 5 tags: lower-case letters, digits and dashes.")
    expect(page.locator("p.error")).to_have_count(2)
    expect(page.get_by_label("Title")).to_have_value("")
    expect(page.get_by_label("Tags, separated by commas")).to_have_value("Not A Tag")
    expect(page.get_by_label("Text")).to_have_value("Kept <b>as typed</b>")
    expect(page.locator("p.flash")).to_have_count(0)

    # Corrected in place, the same form (with a fresh CSRF token) goes through.
    page.get_by_label("Title").fill("Fixed")
    page.get_by_label("Tags, separated by commas").fill("not-a-tag")
    assert submit(page).status == 303
    expect(page.locator("p.flash.success")).to_have_text("Your post is published.")
    expect(page.locator("article p:not(.tags)")).to_have_text("Kept <b>as typed</b>")


def test_a_form_with_a_tampered_csrf_token_is_refused(blog, page, guard):
    guard.allow_console(r"status of 40[34] \((Forbidden|Not Found)\)")
    page.goto(blog.url + "/new")
    token = page.locator("input[name=csrf_token]")
    expect(token).to_have_attribute("value", re.compile(r"^[A-Za-z0-9_-]{86}$"))
    # Another token of the right shape: it unmasks to some other secret than this session's.
    page.evaluate("""() => {
        const field = document.querySelector("input[name=csrf_token]");
        field.value = (field.value[0] === "A" ? "B" : "A") + field.value.slice(1);
    }""")
    page.get_by_label("Title").fill("Forged")
    page.get_by_label("Text").fill("x")

    answer = submit(page)
    assert answer.status == 403
    expect(page).to_have_title("403 Forbidden")
    expect(page.get_by_role("heading", level=1)).to_have_text("403 Forbidden")
    expect(page.locator("p")).to_have_text(re.compile(r"^CSRF check failed: the token is invalid; "))

    # Nothing was stored.
    missing = page.goto(blog.url + "/posts/forged")
    assert missing.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_a_form_whose_token_was_removed_is_refused(blog, page, guard):
    guard.allow_console(r"status of 403 \(Forbidden\)")
    page.goto(blog.url + "/new")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.get_by_label("Title").fill("Forged")
    page.get_by_label("Text").fill("x")
    assert submit(page).status == 403
    expect(page.locator("p")).to_have_text(re.compile(
        r"^CSRF check failed: no token in the X-CSRF-Token header or the csrf_token form field; "))
