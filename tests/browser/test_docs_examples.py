"""/docs of the examples, driven in Chromium as a person would (issue 20's named cases).

- examples/todo_api.py: the API key entered once in Authorize, then a todo created, listed and
  deleted from the page; the lock icons sit on the write operations only.
- examples/auth_api.py: log in from the page, authorize with the bearer token it answered, call a
  protected route (200), log out in the dialog and get the 401 problem.
- examples/oauth2_api.py: the authorization code flow with PKCE against covet's OAuth2 server,
  through the popup and /docs/oauth2-redirect; again behind the security-headers middleware
  (tests/browser/apps/oauth2_strict_app.py); a redirect with another state is ignored, one with an error ends the flow.
"""
import json
import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from conftest import free_port
from test_docs_support import (auth_dialog, authorize, body_box, curl_text, execute, execute_json, open_docs,
                               open_op, scheme_form, scheme_section)

SECRET = "docs-browser-test-secret-0123456789abcdef"


def test_todo_api_create_list_delete_with_the_api_key_entered_once(serve, page, guard):
    served = serve("examples/todo_api.py")
    open_docs(page, served.url + "/docs")
    # Locks on the writes only, open until authorized.
    for op_id in ("create_todo_post", "replace_todo_put", "delete_todo_delete"):
        lock = page.locator("#%s .lock" % op_id)
        expect(lock).to_have_attribute("aria-label", re.compile("^Not authorized: APIKeyHeader"))
    for op_id in ("list_todos_get", "get_todo_get"):
        expect(page.locator("#%s .lock" % op_id)).to_have_count(0)

    authorize(page, "APIKeyHeader", {"Value": "dev-key"})
    expect(page.locator("#cv-authorize")).to_have_text("Authorized")
    expect(page.locator(".lock.on")).to_have_count(3)
    expect(page.locator("#create_todo_post .lock")).to_have_attribute("aria-label", re.compile("^Authorized"))

    create = open_op(page, "create_todo_post")
    box = body_box(create)
    assert json.loads(box.input_value()) == {"title": "string", "done": False}  # prefilled from the schema
    box.fill(json.dumps({"title": "water the plants", "done": False}, indent=2))
    todo = execute_json(create, 201)
    assert todo["title"] == "water the plants" and todo["done"] is False
    assert "-H 'X-API-Key: dev-key'" in curl_text(create)
    assert "--data-raw '{" in curl_text(create)
    expect(create.locator(".result pre.headers")).to_contain_text("location: /api/v1/todos/%d" % todo["id"])

    listing = open_op(page, "list_todos_get")
    listed = execute_json(listing, 200)
    assert [t["title"] for t in listed["items"]] == ["water the plants"]
    assert "X-API-Key" not in curl_text(listing)  # reads do not name the scheme: no key sent

    delete = open_op(page, "delete_todo_delete")
    delete.get_by_label("todo_id", exact=True).fill(str(todo["id"]))
    assert execute(delete, 204) == "(no body)"
    assert execute_json(listing, 200)["items"] == []


def test_auth_api_login_bearer_token_then_logout_gives_the_401_problem(serve, page, guard):
    guard.allow_console(r"status of 401 \(Unauthorized\)")
    served = serve("examples/auth_api.py", env={"COVET_SECRET": SECRET})
    open_docs(page, served.url + "/docs")
    login = open_op(page, "login_post")
    body_box(login).fill(json.dumps({"username": "alice", "password": "wonderland"}))
    token = execute_json(login, 200)["access_token"]

    authorize(page, "bearerAuth", {"Token": token})
    me = open_op(page, "me_get")
    assert execute_json(me, 200) == {"username": "alice", "roles": ["admin"]}
    assert "-H 'Authorization: Bearer %s'" % token in curl_text(me)

    dialog = auth_dialog(page)
    scheme_section(dialog, "bearerAuth").get_by_role("button", name="Logout bearerAuth").click()
    expect(scheme_section(dialog, "bearerAuth").locator(".state")).to_have_text("Not authorized")
    expect(scheme_form(dialog, "bearerAuth")).to_be_visible()
    expect(scheme_form(dialog, "bearerAuth").get_by_label("Token")).to_be_focused()  # focus stays in the scheme
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    problem = execute_json(me, 401)
    assert problem["status"] == 401 and problem["title"] == "Unauthorized"
    expect(me.locator(".result pre.headers")).to_contain_text("content-type: application/problem+json")
    assert "Authorization" not in curl_text(me)


@pytest.mark.parametrize("target", ["examples/oauth2_api.py", "tests/browser/apps/oauth2_strict_app.py"])
def test_oauth2_api_authorization_code_with_pkce_through_the_popup(serve, page, guard, target):
    port = free_port()
    served = serve(target, port=port, env={
        "COVET_SECRET": SECRET, "DOCS_REDIRECT_URI": "http://127.0.0.1:%d/docs/oauth2-redirect" % port})
    response = page.goto(served.url + "/docs")
    if "strict" in target:  # the popup keeps its opener only where both sides are same-origin
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        assert response.headers["content-security-policy"] == "default-src 'self'"
    expect(page.locator("section.op").first).to_be_visible()
    expect(page.locator("#list_notes_get .lock")).not_to_have_class(re.compile(r"\bon\b"))
    dialog = auth_dialog(page)
    form = scheme_form(dialog, "OAuth2 authorizationCode flow")
    expect(form.get_by_label("client_id", exact=True)).to_have_value("docs")  # docs_options' oauth2_client_id
    expect(form.get_by_role("checkbox", name="notes:read")).to_be_checked()
    with page.expect_popup() as opened:
        form.get_by_role("button", name="Authorize OAuth2 (authorizationCode)").click()
    popup = opened.value
    # covet's server sends the browser to the example's sign-in form first.
    popup.get_by_label("User").fill("alice")
    popup.get_by_label("Password").fill("wonderland")
    with popup.expect_event("close"):
        popup.get_by_role("button", name="Sign in").click()
    expect(scheme_section(dialog, "OAuth2").locator(".state")).to_have_text(
        "Authorized (scope: notes:read notes:write)")
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator(".lock.on")).to_have_count(3)

    add = open_op(page, "add_note_post")
    assert "text" in json.loads(body_box(add).input_value())  # prefilled from NoteIn
    body_box(add).fill('{"text": "buy milk"}')
    assert execute_json(add, 201) == {"count": 1}
    assert re.search(r"-H 'Authorization: Bearer [\w.-]+'", curl_text(add))
    assert execute_json(open_op(page, "list_notes_get"), 200) == ["buy milk"]
    assert execute_json(open_op(page, "me_get"), 200) == {
        "user": "alice", "scope": "notes:read notes:write", "client": "docs"}


def test_oauth2_redirect_with_another_state_is_ignored_and_one_with_the_flows_state_ends_it(serve, page, guard):
    port = free_port()
    served = serve("examples/oauth2_api.py", port=port, env={
        "COVET_SECRET": SECRET, "DOCS_REDIRECT_URI": "http://127.0.0.1:%d/docs/oauth2-redirect" % port})
    open_docs(page, served.url + "/docs")
    dialog = auth_dialog(page)
    section = scheme_section(dialog, "OAuth2")
    form = scheme_form(dialog, "OAuth2 authorizationCode flow")
    with page.expect_popup() as opened:
        form.get_by_role("button", name=re.compile("^Authorize")).click()
    popup = opened.value
    waiting = "Waiting for the sign-in window\u2026"
    expect(section.get_by_role("alert")).to_have_text(waiting)
    expect(popup).to_have_url(re.compile(r"/login\?next="))
    state = re.search(r"state%3D([\w-]+)", popup.url).group(1)
    # Other windows of the site land on the redirect page: the docs page hears them on the
    # BroadcastChannel. One with another state is another tab's flow (or forged): ignored, this
    # flow keeps waiting. Only the flow's own state ends it, here with the error it carries; had
    # the first message cancelled the flow, the second would have found nothing pending.
    for query in ("code=stolen&state=forged", "error=access_denied&error_description=the+user+said+no&state=" + state):
        other = page.context.new_page()  # same context: same origin storage, same channel
        other.goto(served.url + "/docs/oauth2-redirect?" + query)
        expect(other.locator("#cv-status")).to_have_text("Sign-in finished: you can close this window.")
        assert urlparse(other.url).query == ""  # the code left the address bar
        if "forged" in query:
            expect(section.get_by_role("alert")).to_have_text(waiting)
    expect(section.get_by_role("alert")).to_have_text("Sign-in failed: access_denied: the user said no")
    expect(section.locator(".state")).to_have_text("Not authorized")
    popup.close()
