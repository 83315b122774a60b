"""Each small example starts under `python -m covet run` and its first page loads in Chromium with
nothing for the guard to report; and the guard itself reports what it is there to report."""
import re

import pytest
from playwright.sync_api import expect


@pytest.mark.parametrize("target, path, visible", [
    ("examples/hello.py", "/", "Hello from covet"),
    ("examples/auth_api.py", "/docs", None),
    ("examples/todo_api.py", "/docs", None),
])
def test_an_example_starts_and_its_page_loads_cleanly(serve, page, target, path, visible):
    served = serve(target)
    response = page.goto(served.url + path)
    assert response.status == 200
    if visible is not None:
        expect(page.locator("body")).to_contain_text(visible)
    else:
        # The docs page is titled after the app (Covet(title=...)); docs-ui's tests look inside it.
        title = {"examples/auth_api.py": "auth example", "examples/todo_api.py": "todo API"}[target]
        expect(page).to_have_title(re.compile(re.escape(title)))
    assert "serving on " + served.url in served.output()


def test_the_guard_records_console_errors_uncaught_exceptions_and_other_hosts(serve, page, guard):
    served = serve("examples/hello.py")
    page.goto(served.url + "/")
    assert guard.records == []

    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("console.error('deliberate: x')")
    assert [(p.kind, p.text) for p in guard.records] == [("console", "deliberate: x")]
    guard.clear()

    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('deliberate: thrown') }, 0)")
    assert [(p.kind, p.text) for p in guard.records] == [("pageerror", "Error: deliberate: thrown")]
    guard.clear()

    # The proxy refuses it: the request never leaves the machine, and the fetch fails.
    outcome = page.evaluate("fetch('http://example.com/tracker.js').then(() => 'loaded', () => 'blocked')")
    assert outcome == "blocked"
    requests = [p for p in guard.records if p.kind == "request"]
    assert requests == [("request", "GET to another host", "http://example.com/tracker.js")]
    guard.clear()

    # A console error the test expects is not recorded; others still are.
    guard.allow_console(r"^deliberate: expected")
    with page.expect_console_message(lambda m: m.text == "deliberate: other"):
        page.evaluate("console.error('deliberate: expected 1'); console.error('deliberate: other')")
    assert [p.text for p in guard.records] == ["deliberate: other"]
    guard.clear()


def test_each_new_page_is_its_own_user_and_is_guarded_too(serve, page, new_page, guard):
    served = serve("examples/hello.py")
    other = new_page()
    assert other.context is not page.context
    page.goto(served.url + "/")
    page.evaluate("document.cookie = 'who=first; path=/'")
    other.goto(served.url + "/")
    assert other.evaluate("document.cookie") == ""
    with other.expect_console_message():
        other.evaluate("console.error('deliberate: second page')")
    assert [p.text for p in guard.records] == ["deliberate: second page"]
    guard.clear()
