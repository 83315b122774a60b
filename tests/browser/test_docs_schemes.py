"""The Authorize dialog of /docs with every other kind of scheme (tests/browser/apps/schemes_app.py):
HTTP basic, an API key in the query and in a cookie, the OAuth2 password flow; and whether what
was entered outlives a reload (only with persist_authorization, and only in sessionStorage)."""
import base64
import json
import re

from playwright.sync_api import expect

from test_docs_support import (auth_dialog, authorize, curl_text, execute_json, open_docs, open_op, scheme_form,
                               scheme_section)

APP = "tests/browser/apps/schemes_app.py"
PASSWORD = "s3cret:with colon"


def test_http_basic_sends_the_encoded_credentials(serve, page, guard):
    served = serve(APP)
    open_docs(page, served.url + "/docs")
    authorize(page, "HTTPBasic", {"Username": "ann", "Password": PASSWORD})
    section = open_op(page, "by_basic_get")
    assert execute_json(section, 200) == {"user": "ann"}
    encoded = base64.b64encode(("ann:" + PASSWORD).encode()).decode()
    assert "-H 'Authorization: Basic %s'" % encoded in curl_text(section)


def test_api_key_in_the_query(serve, page, guard):
    served = serve(APP)
    open_docs(page, served.url + "/docs")
    authorize(page, "APIKeyQuery", {"Value": "q-key"})
    section = open_op(page, "by_query_get")
    assert execute_json(section, 200) == {"key": "q-key"}
    expect(section.locator(".result pre.url")).to_have_text(served.url + "/query?key=q-key")
    assert curl_text(section).startswith("curl --globoff -X GET '%s/query?key=q-key'" % served.url)


def test_api_key_in_a_cookie_is_set_for_the_request_only(serve, page, guard):
    served = serve(APP)
    open_docs(page, served.url + "/docs")
    authorize(page, "APIKeyCookie", {"Value": "c-key"})
    section = open_op(page, "by_cookie_get")
    assert execute_json(section, 200) == {"key": "c-key"}
    assert "-b 'session_key=c-key'" in curl_text(section)
    # Taken away as soon as the answer came: no other request of the page carries it.
    assert page.evaluate("document.cookie") == ""
    assert page.context.cookies() == []


def test_oauth2_password_flow_shows_a_refusal_then_gets_a_token(serve, page, guard):
    guard.allow_console(r"status of 400 \(Bad Request\)")
    served = serve(APP)
    open_docs(page, served.url + "/docs")
    dialog = auth_dialog(page)
    form = scheme_form(dialog, "OAuth2PasswordBearer password flow")
    form.get_by_label("Username", exact=True).fill("ann")
    form.get_by_label("Password", exact=True).fill("wrong")
    form.get_by_role("checkbox", name="write").uncheck()
    form.get_by_role("button", name=re.compile("^Authorize")).click()
    section = scheme_section(dialog, "OAuth2PasswordBearer")
    expect(section.get_by_role("alert")).to_have_text(
        "Token request failed: invalid_grant: wrong user name or password")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name=re.compile("^Authorize")).click()
    expect(section.locator(".state")).to_have_text("Authorized as ann (scope: read)")
    expect(section.get_by_role("alert")).to_have_count(0)
    page.keyboard.press("Escape")
    oauth = open_op(page, "by_oauth_get")
    assert execute_json(oauth, 200) == {"scope": "read"}
    assert re.search(r"-H 'Authorization: Bearer [\w-]+'", curl_text(oauth))


def _stored(page):
    return page.evaluate("[JSON.stringify(Object.assign({}, sessionStorage)), localStorage.length]")


def test_persist_authorization_keeps_credentials_in_session_storage_across_a_reload(serve, page, guard):
    served = serve(APP + ":persisting")
    open_docs(page, served.url + "/docs")
    authorize(page, "APIKeyQuery", {"Value": "q-key"})
    session, local = _stored(page)
    assert local == 0 and "q-key" in session
    page.reload()
    expect(page.locator("#by_query_get .lock")).to_have_class(re.compile(r"\bon\b"))
    dialog = auth_dialog(page)
    expect(scheme_section(dialog, "APIKeyQuery").locator(".state")).to_have_text("Authorized")
    page.keyboard.press("Escape")
    assert execute_json(open_op(page, "by_query_get"), 200) == {"key": "q-key"}
    assert _stored(page)[1] == 0
    # Logout forgets it in the storage too.
    dialog = auth_dialog(page)
    scheme_section(dialog, "APIKeyQuery").get_by_role("button", name="Logout APIKeyQuery").click()
    expect(scheme_section(dialog, "APIKeyQuery").locator(".state")).to_have_text("Not authorized")
    assert "q-key" not in _stored(page)[0]


def test_without_persist_authorization_a_reload_forgets_the_credentials(serve, page, guard):
    served = serve(APP)
    open_docs(page, served.url + "/docs")
    authorize(page, "APIKeyQuery", {"Value": "q-key"})
    assert _stored(page) == ["{}", 0]
    page.reload()
    expect(page.locator("#by_query_get .lock")).to_have_attribute("aria-label", re.compile("^Not authorized"))
    dialog = auth_dialog(page)
    expect(scheme_section(dialog, "APIKeyQuery").locator(".state")).to_have_text("Not authorized")
    assert json.loads(_stored(page)[0]) == {}
