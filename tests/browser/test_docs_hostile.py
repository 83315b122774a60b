"""/docs against crafted OpenAPI documents (the review of the page, /work/wt/review-docs.md): other
origins, OAuth2 URLs that are not http(s), names that exist on Object.prototype, operationIds that
look like the page's own ids, cookies, missing crypto.subtle, schema graphs that would hang the
tab, alternatives of security requirements, curl lines that must send what the page sent, and
Logout. The app (tests/browser/apps/crafted_app.py) serves the document each test writes and echoes
every request."""
import json
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from test_docs_support import (auth_dialog, authorize, body_box, curl_text, execute, execute_json, open_docs,
                               open_op, scheme_form, scheme_section)

APP = "tests/browser/apps/crafted_app.py"
OK = {"200": {"description": "ok"}}


def op(op_id, **fields):
    return dict({"operationId": op_id, "responses": OK}, **fields)


def json_body(schema):
    return {"content": {"application/json": {"schema": schema}}}


def serve_document(serve, tmp_path, paths, schemes=None, schemas=None, **extra):
    doc = dict({"openapi": "3.1.0", "info": {"title": "crafted", "version": "1"}, "paths": paths,
                "components": {"securitySchemes": schemes or {}, "schemas": schemas or {}}}, **extra)
    target = tmp_path / ("doc%d.json" % len(list(tmp_path.glob("doc*.json"))))
    target.write_text(json.dumps(doc))
    return serve(APP, env={"DOCS_DOCUMENT": str(target)})


def section_of(page, path):
    """The operation whose path reads exactly ``path`` (for operationIds that give no id)."""
    return page.locator("section.op", has=page.locator(".path", has_text=re.compile("^%s$" % re.escape(path))))


def echo_requests(page):
    """The page's requests to /echo..., as "METHOD url", recorded from now on."""
    seen = []
    page.on("request", lambda r: "/echo" in r.url and r.method != "OPTIONS" and seen.append(r.method + " " + r.url))
    return seen


# -- finding 2: one resolved URL, shown and fetched; credentials to the page's origin only --------

def test_a_server_on_another_origin_gets_the_request_without_credentials_and_the_page_says_so(serve, page, guard,
                                                                                              tmp_path):
    other = serve_document(serve, tmp_path, {})
    served = serve_document(serve, tmp_path, {"/echo": {"post": op(
        "post_echo", security=[{"bearer": []}], requestBody=json_body({"type": "object"}),
        parameters=[{"name": "c", "in": "cookie", "schema": {"type": "string", "default": "cookie-param"}}])}},
        schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        # Protocol-relative: fetch resolves it to another host and port, not to a path of this one.
        servers=[{"url": "//127.0.0.1:%d" % other.port}])
    open_docs(page, served.url + "/docs")
    authorize(page, "bearer", {"Token": "SECRET-TOKEN"})
    section = open_op(page, "post_echo")
    echo = execute_json(section, 200)
    assert echo["headers"]["host"] == "127.0.0.1:%d" % other.port  # it went where the URL says
    assert "authorization" not in echo["headers"] and echo["cookies"] == {}
    expect(section.locator(".result pre.url")).to_have_text("%s/echo" % other.url)
    curl = curl_text(section)
    assert curl.startswith("curl --globoff -X POST '%s/echo'" % other.url)
    assert "SECRET-TOKEN" not in curl and "-b " not in curl
    expect(section.locator(".result .warn")).to_have_text("credentials not sent to " + other.url)


# -- finding 3: OAuth2 URLs are http or https, or refused ----------------------------------------

def test_oauth2_urls_that_are_not_http_are_refused_in_the_dialog_never_opened(serve, page, guard, tmp_path):
    served = serve_document(serve, tmp_path, {"/echo": {"get": op("get_echo", security=[{"code": []}, {"pw": []}])}},
                            schemes={
        "code": {"type": "oauth2", "flows": {"authorizationCode": {
            "authorizationUrl": "javascript:opener.PWNED=1//", "tokenUrl": "/token", "scopes": {}}}},
        "pw": {"type": "oauth2", "flows": {"password": {
            "tokenUrl": "data:text/html,<script>opener.PWNED=2</script>", "scopes": {}}}}})
    popups = []
    page.on("popup", lambda popup: popups.append(popup))
    open_docs(page, served.url + "/docs")
    dialog = auth_dialog(page)
    scheme_form(dialog, "code authorizationCode flow").get_by_role("button", name=re.compile("^Authorize")).click()
    expect(scheme_section(dialog, "code").get_by_role("alert")).to_have_text(
        "Could not start the sign-in: javascript:opener.PWNED=1// is not an http or https URL: refused")
    form = scheme_form(dialog, "pw password flow")
    form.get_by_label("Username", exact=True).fill("ann")
    form.get_by_label("Password", exact=True).fill("secret")
    form.get_by_role("button", name=re.compile("^Authorize")).click()
    expect(scheme_section(dialog, "pw").get_by_role("alert")).to_have_text(
        "Token request failed: data:text/html,<script>opener.PWNED=2</script> is not an http or https URL: refused")
    assert popups == [] and page.evaluate("window.PWNED") is None


# -- finding 4: names that exist on Object.prototype ---------------------------------------------

PROTO_THING = {"type": "object", "required": ["__proto__"], "properties": {
    "__proto__": {"type": "string", "example": "P"}, "constructor": {"type": "string"}, "toString": {"type": "integer"}}}


def test_names_of_object_prototype_are_plain_names_tags_ids_schemes_properties_and_links(serve, page, guard,
                                                                                         tmp_path):
    served = serve_document(serve, tmp_path, {"/echo": {
        "get": op("valueOf", tags=["constructor"], security=[{"toString": []}]),
        "post": op("__proto__", tags=["__proto__", "toString"], security=[{"constructor": []}],
                   parameters=[{"name": "__proto__", "in": "header", "schema": {"type": "string", "default": "hv"}}],
                   requestBody=json_body({"$ref": "#/components/schemas/__proto__"}))}},
        schemes={"constructor": {"type": "apiKey", "in": "header", "name": "X-Key"}},
        schemas={"__proto__": PROTO_THING}, tags=[{"name": "constructor", "description": "Tag C."}])
    # A link to a name every object has: the page draws, and the hash opens nothing.
    page.goto(served.url + "/docs#toString")
    expect(page.locator("section.tag h2")).to_have_text(["constructor", "__proto__", "toString"])
    expect(page.get_by_text("Tag C.")).to_be_visible()
    for name in ("constructor", "hasOwnProperty", "valueOf"):  # valueOf is an operationId
        page.evaluate("name => { location.hash = '#' + name; }", name)
    expect(page.locator("section.op[id='valueOf'] .op-toggle")).to_have_attribute("aria-expanded", "true")
    page.evaluate("location.hash = '#__proto__'")
    post = page.locator("section.op[id='__proto__']").first
    expect(post.locator(".op-toggle")).to_have_attribute("aria-expanded", "true")

    # A requirement naming a scheme the document lacks ("toString") is no scheme: no lock, nothing sent.
    get = page.locator("section.op[id='valueOf']")
    expect(get.locator(".lock")).to_have_count(0)
    assert "x-key" not in execute_json(get, 200)["headers"]

    assert json.loads(body_box(post).input_value()) == {"__proto__": "P", "constructor": "string", "toString": 0}
    expect(post.locator(".lock")).to_have_attribute("aria-label", "Not authorized: constructor")
    authorize(page, "constructor", {"Value": "K1"})
    expect(post.locator(".lock")).to_have_attribute("aria-label", "Authorized: constructor")
    echo = execute_json(post, 200)
    assert echo["headers"]["x-key"] == "K1" and echo["headers"]["__proto__"] == "hv"
    assert json.loads(echo["body"]) == {"__proto__": "P", "constructor": "string", "toString": 0}


# -- finding 10: operationIds cannot take the page's own ids -------------------------------------

def test_operation_ids_like_the_pages_own_ids_take_none_of_them(serve, page, guard, tmp_path):
    query = [{"name": "q", "in": "query", "schema": {"type": "string"}}]
    names = ["cv-none", "cv-main", "cv-filter", "cv-in-1", "cv-authorize"]
    served = serve_document(serve, tmp_path, {"/echo/%d" % i: {"get": op(n, parameters=query)}
                                              for i, n in enumerate(names)},
                            schemes={"k": {"type": "apiKey", "in": "header", "name": "K"}})
    open_docs(page, served.url + "/docs")
    assert page.evaluate("['main', 'filter', 'authorize'].map(k => document.getElementById('cv-' + k).tagName)") == [
        "MAIN", "INPUT", "BUTTON"]
    expect(page.locator("section.op[id^='cv-']")).to_have_count(0)
    box = page.get_by_role("searchbox", name=re.compile("^Filter operations"))
    box.fill("cv-none")
    expect(page.locator("section.op:visible")).to_have_count(1)
    expect(page.get_by_text("No operation matches the filter.")).to_be_hidden()
    box.fill("zzz")
    expect(page.locator("section.op:visible")).to_have_count(0)
    expect(page.get_by_text("No operation matches the filter.")).to_be_visible()
    box.fill("")
    # Deep links still find them, and opening one by a click still sets the hash.
    page.evaluate("location.hash = '#cv-in-1'")
    target = section_of(page, "/echo/3")
    expect(target.locator(".op-toggle")).to_have_attribute("aria-expanded", "true")
    target.get_by_label("q", exact=True).fill("x")  # its label still names its input
    assert execute_json(target, 200)["query"] == "q=x"
    section_of(page, "/echo/0").locator(".op-toggle").click()
    expect(page).to_have_url(served.url + "/docs#cv-none")
    auth_dialog(page)  # the Authorize button is the page's, whatever an operation is called


# -- finding 5: cookies are sent as typed or refused; a readable cookie of that name comes back ---

def test_cookie_values_are_sent_as_typed_or_refused_and_the_pages_cookie_is_restored(serve, page, guard, tmp_path):
    served = serve_document(serve, tmp_path, {"/echo": {"get": op(
        "cookie_op", security=[{"ck": []}], parameters=[{"name": "c", "in": "cookie", "schema": {"type": "string"}}])}},
        schemes={"ck": {"type": "apiKey", "in": "cookie", "name": "sid"}})
    open_docs(page, served.url + "/docs")
    page.evaluate("document.cookie = 'c=REALVALUE; path=/'")
    sent = echo_requests(page)
    section = open_op(page, "cookie_op")
    value = section.get_by_label("c", exact=True)
    value.fill("typed-1")
    assert execute_json(section, 200)["cookies"] == {"c": "typed-1"}
    assert "-b 'c=typed-1'" in curl_text(section)
    assert page.evaluate("document.cookie") == "c=REALVALUE"  # the page's own cookie is back

    value.fill("a b;c=d")  # curl would read two cookies; percent-encoding would send another value
    section.get_by_role("button", name=re.compile("^Execute")).click()
    expect(section.locator("p.error")).to_have_text(
        'Cookie c: "a b;c=d" is not a valid cookie (RFC 6265: no spaces, controls, ", comma, ; or \\).')
    value.fill("typed-2")
    authorize(page, "ck", {"Value": 'x"y'})
    section.get_by_role("button", name=re.compile("^Execute")).click()
    expect(section.locator("p.error")).to_have_text(
        'Cookie sid: "x"y" is not a valid cookie (RFC 6265: no spaces, controls, ", comma, ; or \\).')
    assert len(sent) == 1  # neither refusal sent anything

    dialog = auth_dialog(page)
    scheme_section(dialog, "ck").get_by_role("button", name="Logout ck").click()
    page.keyboard.press("Escape")
    authorize(page, "ck", {"Value": "S1"})
    assert execute_json(section, 200)["cookies"] == {"c": "typed-2", "sid": "S1"}
    expect(section.locator("p.error")).to_be_hidden()
    assert page.evaluate("document.cookie") == "c=REALVALUE"  # sid was the page's for one request only
    assert len(sent) == 2


# -- finding 7: no crypto.subtle (plain http to a LAN address) -----------------------------------

def test_the_code_flow_without_crypto_subtle_says_it_needs_https_and_opens_no_window(serve, page, guard, tmp_path):
    served = serve_document(serve, tmp_path, {"/echo": {"get": op("get_echo", security=[{"code": []}])}}, schemes={
        "code": {"type": "oauth2", "flows": {"authorizationCode": {
            "authorizationUrl": "/authorize", "tokenUrl": "/token", "scopes": {}}}}})
    # The tests' pages are 127.0.0.1, a secure context; a page on http://192.0.2.2 has no
    # crypto.subtle, as this one now.
    page.add_init_script("Object.defineProperty(crypto, 'subtle', {get: () => undefined})")
    popups = []
    page.on("popup", lambda popup: popups.append(popup))
    open_docs(page, served.url + "/docs")
    assert page.evaluate("crypto.subtle") is None
    dialog = auth_dialog(page)
    scheme_form(dialog, "code authorizationCode flow").get_by_role("button", name=re.compile("^Authorize")).click()
    expect(scheme_section(dialog, "code").get_by_role("alert")).to_have_text(
        "Could not start the sign-in: the code flow needs https or localhost for PKCE")
    assert popups == []


# -- findings 8 and 9: examples are bounded and odd schemas never throw ---------------------------

def test_examples_of_wide_shared_graphs_bad_refs_and_absurd_constraints_are_built_at_once(serve, page, guard,
                                                                                         tmp_path):
    # S0..S11, 8 properties each, all a $ref to the next: 8^12 paths without a memo.
    schemas = {"S%d" % i: {"type": "object", "properties": {"p%d" % k: {"$ref": "#/components/schemas/S%d" % (i + 1)}
                                                             for k in range(8)}} for i in range(11)}
    schemas["S11"] = {"type": "string"}
    schemas["100%"] = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}
    schemas["Odd"] = {"type": "object", "properties": {
        "long": {"type": "string", "minLength": 1000000000}, "nan": {"type": "string", "minLength": "x"},
        "many": {"type": "array", "items": {"type": "integer"}, "minItems": 1000000000, "maxItems": 1e300},
        "what": {"type": "array", "items": {"type": "boolean"}, "minItems": "lots"},
        "bad": {"$ref": "#/components/schemas/100%"}}}
    served = serve_document(serve, tmp_path, {
        "/echo": {"post": op("expo", requestBody=json_body({"$ref": "#/components/schemas/S0"})),
                  "put": op("odd", requestBody=json_body({"$ref": "#/components/schemas/Odd"}))}}, schemas=schemas)
    page.goto(served.url + "/docs#expo")  # a deep link builds the example on load
    expo = page.locator("section.op[id='expo']")
    expect(expo.locator(".op-toggle")).to_have_attribute("aria-expanded", "true")
    text = body_box(expo).input_value()
    level = json.loads(text)
    # NODES (2000) bounds the example as expanded: the schemas are shared, but the text is not,
    # and 8^6 leaves would be megabytes in the box.
    assert len(text) < 100_000
    # Built depth first: the first branch takes the budget, the branches after it are left out.
    for _ in range(6):  # six levels down, then it stops empty: DEPTH is 6
        assert "p0" in level
        level = level["p0"]
    assert level == {}

    odd = open_op(page, "odd")
    assert json.loads(body_box(odd).input_value()) == {
        "long": "string" + "x" * 58, "nan": "string", "many": [0, 0, 0], "what": [True], "bad": {"n": 3}}
    expect(odd.locator(".f-type", has_text="100% (object)")).to_be_visible()
    box = page.locator("details.schema-def", has=page.locator("summary", has_text=re.compile("^100%$")))
    box.locator("summary").click()
    expect(box.locator(".f-name", has_text="n")).to_be_visible()


# -- finding 11: one alternative of the security requirements ------------------------------------

def test_only_the_first_fully_authorized_alternative_is_sent(serve, page, guard, tmp_path):
    served = serve_document(serve, tmp_path, {
        "/echo": {"get": op("any_of_three", security=[{"hk": []}, {"qk": []}, {"ck": []}])},
        "/echo/both": {"get": op("both_or_cookie", security=[{"hk": [], "qk": []}, {"ck": []}])}},
        schemes={"hk": {"type": "apiKey", "in": "header", "name": "X-Key"},
                 "qk": {"type": "apiKey", "in": "query", "name": "key"},
                 "ck": {"type": "apiKey", "in": "cookie", "name": "ck"}})
    open_docs(page, served.url + "/docs")
    for scheme, value in (("hk", "K1"), ("qk", "Q1"), ("ck", "C1")):
        authorize(page, scheme, {"Value": value})
    three = open_op(page, "any_of_three")
    echo = execute_json(three, 200)
    assert echo["headers"]["x-key"] == "K1" and echo["query"] == "" and echo["cookies"] == {}
    assert "key=Q1" not in curl_text(three) and "-b" not in curl_text(three)

    dialog = auth_dialog(page)
    scheme_section(dialog, "qk").get_by_role("button", name="Logout qk").click()
    page.keyboard.press("Escape")
    both = open_op(page, "both_or_cookie")  # hk alone does not make the first one: the cookie it is
    echo = execute_json(both, 200)
    assert "x-key" not in echo["headers"] and echo["query"] == "" and echo["cookies"] == {"ck": "C1"}
    dialog = auth_dialog(page)
    scheme_section(dialog, "hk").get_by_role("button", name="Logout hk").click()
    page.keyboard.press("Escape")
    echo = execute_json(three, 200)
    assert "x-key" not in echo["headers"] and echo["cookies"] == {"ck": "C1"}


# -- finding 12: the curl line sends what the page sent ------------------------------------------

def _run_curl(line, cwd):
    done = subprocess.run(["bash", "-c", line + " --silent --show-error"], cwd=str(cwd), capture_output=True,
                          text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_curl_lines_send_the_same_request_as_the_page(serve, page, guard, tmp_path):
    text = {"type": "string"}
    served = serve_document(serve, tmp_path, {
        "/echo": {"post": op("multipart", requestBody={"content": {"multipart/form-data": {"schema": {
            "type": "object", "properties": {"s": text, "t": text, "file": {"type": "string", "format": "binary"}}}}}}),
                  "put": op("urlencoded", requestBody={"content": {"application/x-www-form-urlencoded": {
                      "schema": {"type": "object", "properties": {"a&b=c%": text}}}}})},
        "/echo/[a]/{p}": {"get": op("dots", parameters=[{"name": "p", "in": "path", "required": True,
                                                         "schema": text}])}})
    open_docs(page, served.url + "/docs")
    files = tmp_path / "up"
    files.mkdir()
    name = 'a;b,c".txt'
    (files / name).write_text("content")

    multipart = open_op(page, "multipart")
    multipart.get_by_label("s", exact=True).fill("v;type=text/html")
    multipart.get_by_label("t", exact=True).fill("@/etc/passwd")
    multipart.get_by_label("file", exact=True).set_input_files(str(files / name))
    sent = execute_json(multipart, 200)
    assert sent["body"][:2] == [["s", "v;type=text/html"], ["t", "@/etc/passwd"]]
    curl = curl_text(multipart)
    assert "--form-string 's=v;type=text/html'" in curl and "-F 'file=@\"a;b,c\\\".txt\"'" in curl
    assert _run_curl(curl, files)["body"] == sent["body"]

    form = open_op(page, "urlencoded")
    form.get_by_label("a&b=c%", exact=True).fill("x y&z=%")
    sent = execute_json(form, 200)
    assert sent["body"] == [["a&b=c%", "x y&z=%"]]
    assert "--data-urlencode 'a%26b%3Dc%25=x y&z=%'" in curl_text(form)
    assert _run_curl(curl_text(form), files)["body"] == sent["body"]

    dots = open_op(page, "dots")
    value = dots.get_by_label("p", exact=True)
    value.fill("...")  # not a dot segment: sent as it is, [a] too (curl without --globoff would glob)
    sent = execute_json(dots, 200)
    assert sent["path"] == "/echo/[a]/..."
    assert _run_curl(curl_text(dots), files)["path"] == sent["path"]
    requests = echo_requests(page)
    for dot in ("..", "."):  # every URL parser drops these, even as %2E: refused, not sent elsewhere
        value.fill(dot)
        dots.get_by_role("button", name=re.compile("^Execute")).click()
        expect(dots.locator("p.error")).to_have_text('p: "%s" cannot be sent as a path segment.' % dot)
    assert requests == []


# -- finding 13: Logout takes the secret off the screen ------------------------------------------

def test_logout_clears_the_results_that_showed_the_credential(serve, page, guard, tmp_path):
    served = serve_document(serve, tmp_path, {
        "/echo": {"get": op("with_token", security=[{"bearer": []}])},
        "/echo/open": {"get": op("without_token")}}, schemes={"bearer": {"type": "http", "scheme": "bearer"}})
    open_docs(page, served.url + "/docs")
    authorize(page, "bearer", {"Token": "SECRET-C"})
    secured, free = open_op(page, "with_token"), open_op(page, "without_token")
    assert execute_json(secured, 200)["headers"]["authorization"] == "Bearer SECRET-C"
    assert "-H 'Authorization: Bearer SECRET-C'" in curl_text(secured)
    execute(free, 200)
    dialog = auth_dialog(page)
    scheme_section(dialog, "bearer").get_by_role("button", name="Logout bearer").click()
    expect(scheme_section(dialog, "bearer").locator(".state")).to_have_text("Not authorized")
    expect(secured.locator(".result")).to_be_empty()
    expect(free.locator(".result pre.curl")).to_be_visible()  # it never carried the token
    assert "SECRET-C" not in page.content()
