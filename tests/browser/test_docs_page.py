"""The /docs page itself: schema trees, every kind of "Try it out" input, finding operations
(filter, deep links, keyboard), a phone's width, a strict Content-Security-Policy, a mounted app,
and document text that holds markup. Apps under tests/browser/apps/."""
import json
import os
import re
import struct

from playwright.sync_api import expect

from test_docs_support import auth_dialog, authorize, body_box, curl_text, execute_json, open_docs, open_op

SCHEMA_APP = "tests/browser/apps/schema_app.py"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Each .f-row of a tree as [name, type, required, [chips], description].
ROWS = """el => Array.from(el.querySelectorAll('.f-row')).map(r => [
  (r.querySelector('.f-name') || {}).textContent || null, r.querySelector('.f-type').textContent,
  !!r.querySelector('.req'), Array.from(r.querySelectorAll('.chip')).map(c => c.textContent),
  (r.querySelector('.f-desc') || {}).textContent || null])"""


def test_schema_tree_shows_fields_constraints_nullability_refs_and_recursion(serve, page, guard):
    served = serve(SCHEMA_APP)
    open_docs(page, served.url + "/docs")
    create = open_op(page, "create_customer_post")
    schema = create.locator(".schema").first
    rows = schema.evaluate(ROWS)
    assert rows[:8] == [
        [None, "Customer (object)", False, [], None],
        ["name", "string", True, ["minLength: 2", "maxLength: 60"], "Full name,\nas printed on invoices."],
        ["email", "string", True, ["format: email"], None],
        ["age", "integer", False, ["nullable", "minimum: 18", "maximum: 130", "default: null"], None],
        ["tags", "array of string", False, ["maxItems: 5"], None],
        ["[items]", "string", False, [], None],
        ["address", "Address (object)", True, [], None],
        ["street", "string", True, ["minLength: 1", "maxLength: 80"], "Street and number."],
    ]
    assert ["zip_code", "string", True, ["pattern: ^[0-9]{5}$"], "Five digits."] in rows
    assert ["shipping", "Address (object)", False, ["nullable", "default: null"], None] in rows
    assert ["tier", "string", False, ["enum: basic, gold, platinum", "default: basic"], None] in rows
    assert ["balance", "number", False, ["exclusiveMinimum: -1000", "multipleOf: 0.01", "default: 0"], None] in rows
    at = rows.index(["ref", "anyOf", False, ["default: 0"], "A number or a code."])  # a union, its options below
    assert rows[at + 1:at + 5] == [["option 1", "integer", False, [], None], ["option 2", "string", False, [], None],
                                   ["scores", "object", False, [], None],
                                   ["[additional properties]", "integer", False, [], None]]
    # The description keeps its line break on screen (white-space: pre-wrap).
    assert "Full name,\nas printed on invoices." in schema.locator(".f-desc").first.inner_text()

    # A recursive schema is named, not followed: favourite -> children -> [items] is Category again.
    children = schema.locator("summary", has=page.locator(".f-name", has_text=re.compile("^children$")))
    expect(children).to_have_count(1)
    expect(children.locator("xpath=..")).not_to_have_attribute("open", "")
    children.click()
    expect(schema.locator(".f-type", has_text="Category (recursive)")).to_be_visible()

    # The raw schema is one click away, as text.
    toggle = schema.get_by_role("button", name="Show the schema as JSON")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    raw = json.loads(schema.locator("pre").inner_text())
    assert raw["title"] == "Customer" and raw["properties"]["address"] == {"$ref": "#/components/schemas/Address"}
    expect(schema.locator("ul.tree.root")).to_be_hidden()
    toggle.click()
    expect(schema.locator("ul.tree.root")).to_be_visible()

    # The body box holds an example built from the schema: examples, defaults, formats, nested models.
    assert json.loads(body_box(create).input_value()) == {
        "name": "string", "email": "user@example.com", "age": None, "tags": ["vip"],
        "address": {"street": "string", "zip_code": "string", "country": "FR"},
        "shipping": None, "favourite": None, "tier": "basic", "balance": 0, "ref": 0,
        "scores": {"additionalProp1": 0}}

    # The Schemas section lists components.schemas; Category there shows its recursion too.
    category = page.locator("details.schema-def", has=page.locator("summary", has_text=re.compile("^Category$")))
    category.locator("summary").first.click()
    expect(category.locator(".f-type", has_text="Category (recursive)")).to_be_visible()


def test_try_it_inputs_by_type_query_arrays_enum_boolean_number_and_header(serve, page, guard):
    served = serve(SCHEMA_APP)
    open_docs(page, served.url + "/docs")
    search = open_op(page, "search_get")
    expect(search.get_by_label("limit", exact=True)).to_have_value("10")  # the default, in a number input
    expect(search.get_by_label("limit", exact=True)).to_have_attribute("type", "number")
    kind = search.get_by_label("kind", exact=True)
    expect(kind).to_have_value("books")
    kind.select_option("films")
    search.get_by_label("exact", exact=True).select_option("true")
    search.get_by_label("q item 1").fill("a b")
    search.get_by_role("button", name="Add a q item").click()
    search.get_by_label("q item 2").fill("c&d")
    search.get_by_role("button", name="Add a q item").click()
    search.get_by_role("button", name="Remove this q item").nth(2).click()
    expect(search.get_by_label(re.compile("^q item"))).to_have_count(2)
    search.get_by_label("x-trace", exact=True).fill("t-1")
    assert execute_json(search, 200) == {"q": ["a b", "c&d"], "kind": "films", "exact": True, "limit": 10,
                                         "trace": "t-1"}
    url = served.url + "/search?q=a+b&q=c%26d&kind=films&exact=true&limit=10"
    expect(search.locator(".result pre.url")).to_have_text(url)
    assert curl_text(search) == "curl --globoff -X GET '%s' \\\n  -H 'x-trace: t-1'" % url


def test_try_it_forms_urlencoded_and_multipart_with_files_and_required_fields(serve, page, guard, tmp_path):
    served = serve(SCHEMA_APP)
    open_docs(page, served.url + "/docs")
    contact = open_op(page, "contact_post")
    contact.get_by_role("button", name=re.compile("^Execute")).click()
    expect(contact.get_by_role("alert")).to_have_text("Required and missing: name")
    expect(contact.get_by_label("name", exact=True)).to_have_class(re.compile(r"\binvalid\b"))
    expect(contact.locator(".result")).to_be_empty()  # nothing was sent
    contact.get_by_label("name", exact=True).fill("Zoë O'Brien")
    contact.get_by_label("topics item 1").fill("news")
    contact.get_by_role("button", name="Add a topics item").click()
    contact.get_by_label("topics item 2").fill("a=b")
    assert execute_json(contact, 200) == {"name": "Zoë O'Brien", "topics": ["news", "a=b"]}
    expect(contact.get_by_role("alert")).to_be_hidden()
    # curl --data-urlencode writes the urlencoded Content-Type itself, as fetch does.
    assert curl_text(contact) == (
        "curl --globoff -X POST '%s/contact' \\\n  --data-urlencode 'name=Zoë O'\\''Brien' "
        "\\\n  --data-urlencode 'topics=news' \\\n  --data-urlencode 'topics=a=b'" % served.url)

    (tmp_path / "a.txt").write_text("first")
    (tmp_path / "b.txt").write_text("second")
    upload = open_op(page, "upload_post")
    upload.get_by_label("title", exact=True).fill("two files")
    upload.get_by_label("files item 1").set_input_files(str(tmp_path / "a.txt"))
    upload.get_by_role("button", name="Add a files item").click()
    upload.get_by_label("files item 2").set_input_files(str(tmp_path / "b.txt"))
    assert execute_json(upload, 200) == {"title": "two files", "files": [["a.txt", "first"], ["b.txt", "second"]]}
    curl = curl_text(upload)
    assert "--form-string 'title=two files' \\\n  -F 'files=@\"a.txt\"' \\\n  -F 'files=@\"b.txt\"'" in curl
    assert "Content-Type" not in curl  # curl -F writes the multipart type and its boundary


def test_filter_matches_path_method_summary_operation_id_and_tag(serve, page, guard):
    served = serve(SCHEMA_APP)
    open_docs(page, served.url + "/docs")
    ops = page.locator("section.op:visible")
    expect(ops).to_have_count(6)
    box = page.get_by_role("searchbox", name=re.compile("^Filter operations"))
    for words, visible in (("CATEG", ["list_categories_get"]), ("post", ["contact_post", "upload_post",
                           "create_customer_post"]), ("every kind", ["search_get"]), ("upload_po", ["upload_post"]),
                           ("forms", ["contact_post", "upload_post"])):
        box.fill(words)
        expect(ops).to_have_count(len(visible))
        assert ops.evaluate_all("els => els.map(e => e.id)") == visible
    expect(page.locator("section.tag:visible h2")).to_have_text(["forms"])  # groups without a match hide
    box.fill("no such thing")
    expect(ops).to_have_count(0)
    expect(page.get_by_text("No operation matches the filter.")).to_be_visible()
    box.fill("")
    expect(ops).to_have_count(6)
    # The document's tags in their order, then the others as met, untagged operations last.
    expect(page.locator("section.tag h2")).to_have_text(["search", "forms", "customers", "categories", "default"])
    expect(page.locator("section.tag", has=page.get_by_role("heading", name="forms"))).to_contain_text("Form bodies.")


def test_deep_links_open_the_operation_and_opening_one_sets_the_hash(serve, page, guard):
    served = serve(SCHEMA_APP)
    page.set_viewport_size({"width": 1280, "height": 500})
    page.goto(served.url + "/docs#upload_post")
    toggle = page.locator("#upload_post .op-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_be_in_viewport()
    expect(toggle).to_be_focused()
    page.evaluate("location.hash = '#search_get'")  # a hashchange, as a link on the page would do
    expect(page.locator("#search_get .op-toggle")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#search_get .op-toggle")).to_be_in_viewport()
    page.locator("#contact_post .op-toggle").click()
    expect(page).to_have_url(served.url + "/docs#contact_post")


def test_keyboard_slash_filter_tab_enter_space_and_the_dialog(serve, page, guard):
    served = serve("examples/todo_api.py")
    open_docs(page, served.url + "/docs")
    page.locator("body").press("/")
    expect(page.locator("#cv-filter")).to_be_focused()
    expect(page.locator("#cv-filter")).to_have_value("")  # the "/" is not typed into it
    page.keyboard.press("Tab")
    expect(page.locator("#cv-authorize")).to_be_focused()
    page.keyboard.press("Tab")
    first = page.locator("#list_todos_get .op-toggle")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    expect(first).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Space")
    expect(first).to_have_attribute("aria-expanded", "false")

    page.locator("#cv-authorize").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Available authorizations")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-modal", "true")
    for _ in range(8):  # focus stays in the modal dialog
        page.keyboard.press("Tab")
        assert dialog.evaluate("d => d.contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#cv-authorize")).to_be_focused()  # focus goes back where it was

    # A lock opens the dialog too, and gets the focus back.
    page.locator("#create_todo_post .lock").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#create_todo_post .lock")).to_be_focused()


def test_a_phone_width_has_no_horizontal_scroll(serve, page, guard):
    page.set_viewport_size({"width": 375, "height": 740})
    for app, op_ids in (("examples/todo_api.py", ["list_todos_get", "create_todo_post", "delete_todo_delete"]),
                        (SCHEMA_APP, ["create_customer_post", "search_get", "upload_post"]),
                        ("tests/browser/apps/plain_app.py", ["list_deployments_get"])):
        served = serve(app)
        open_docs(page, served.url + "/docs")
        for op_id in op_ids:
            open_op(page, op_id)
        if app == SCHEMA_APP:
            search = open_op(page, "search_get")
            search.get_by_label("q item 1").fill("x" * 300)  # a long value in the URL and curl line
            execute_json(search, 200)
            # Parameter tables are stacked: each cell as wide as the row.
            cells = search.locator("table.params td").evaluate_all("tds => tds.map(td => td.offsetLeft)")
            assert len(set(cells)) == 1
        elif app.startswith("examples"):
            auth_dialog(page)
            page.keyboard.press("Escape")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_under_a_strict_content_security_policy(serve, page, guard):
    guard.allow_console(r"status of 401 \(Unauthorized\)")
    served = serve("tests/browser/apps/csp_app.py")
    response = page.goto(served.url + "/docs")
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    expect(page.locator("section.op")).to_have_count(2)
    add = open_op(page, "add_item_post")
    assert execute_json(add, 401)["title"] == "Unauthorized"  # no key yet
    authorize(page, "APIKeyHeader", {"Value": "k"})
    body_box(add).fill('{"name": "pen"}')
    assert execute_json(add, 201) == {"id": 1, "name": "pen", "price": 1.5}
    get = open_op(page, "get_item_get")
    get.get_by_label("item_id", exact=True).fill("1")
    assert execute_json(get, 200) == {"name": "pen", "price": 1.5}
    # The lock icons and chips were drawn (SVG through the DOM, styles from docs.css).
    assert page.locator("#add_item_post .lock svg").count() == 1
    assert page.locator(".method.post").evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"


def test_a_mounted_app_serves_its_page_and_tries_under_its_prefix(serve, page, guard):
    served = serve("tests/browser/apps/csp_app.py:parent")
    response = page.goto(served.url + "/v1/docs")
    assert response.headers["content-security-policy"] == "default-src 'self'"
    expect(page.locator("section.op")).to_have_count(2)
    authorize(page, "APIKeyHeader", {"Value": "k"})
    add = open_op(page, "add_item_post")
    assert execute_json(add, 201)["name"] == "string"
    expect(add.locator(".result pre.url")).to_have_text(served.url + "/v1/items")
    get = open_op(page, "get_item_get")
    get.get_by_label("item_id", exact=True).fill("1")
    assert execute_json(get, 200)["name"] == "string"
    expect(get.locator(".result pre.url")).to_have_text(served.url + "/v1/items/1")


def test_document_text_is_shown_as_text_never_as_markup(serve, page, guard):
    served = serve("tests/browser/apps/xss_app.py")
    alerts = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    x = "<img src=x onerror=alert(1)>"
    open_docs(page, served.url + "/docs")
    expect(page.locator("#cv-title")).to_have_text("Shop " + x)
    assert page.title() == "Shop %s - API docs" % x
    expect(page.get_by_text("About " + x)).to_be_visible()
    expect(page.get_by_text("Tag " + x)).to_be_visible()
    expect(page.locator("#make_thing_post .summary")).to_have_text("Make <script>alert(2)</script> things.")
    section = open_op(page, "make_thing_post")
    expect(section.get_by_text("Details: <img src=y onerror=alert(3)>")).to_be_visible()
    expect(section.get_by_text("Note " + x)).to_be_visible()
    expect(section.get_by_label("note", exact=True)).to_have_value(x)
    expect(section.get_by_text("Teapot " + x)).to_be_visible()
    expect(section.locator(".chip", has_text="enum: plain, <b>bold</b>").first).to_be_visible()
    assert json.loads(body_box(section).input_value())["label"] == x
    dialog = auth_dialog(page)
    expect(dialog.get_by_text("Key " + x)).to_be_visible()
    assert page.locator("img, script:not([src]), b").count() == 0
    assert alerts == []


def test_screenshot_of_the_todo_api_page(serve, page, guard, tmp_path):
    """docs/img/docs-page.png for docs/openapi.md, rewritten with COVET_UPDATE_SCREENSHOTS=1."""
    served = serve("examples/todo_api.py")
    page.set_viewport_size({"width": 1280, "height": 1000})
    open_docs(page, served.url + "/docs")
    authorize(page, "APIKeyHeader", {"Value": "dev-key"})
    create = open_op(page, "create_todo_post")
    body_box(create).fill(json.dumps({"title": "water the plants", "done": False}, indent=2))
    execute_json(create, 201)
    page.locator("#create_todo_post .op-toggle").blur()
    page.evaluate("window.scrollTo(0, 0)")
    update = os.environ.get("COVET_UPDATE_SCREENSHOTS") == "1"
    target = os.path.join(REPO, "docs", "img", "docs-page.png") if update else str(tmp_path / "docs-page.png")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    page.screenshot(path=target, full_page=True)
    with open(target, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">I", head[16:20])[0] == 1280  # the IHDR width


def test_errors_loading_the_document_are_shown_on_the_page(serve, page, guard):
    guard.allow_console(r"status of 500 \(Internal Server Error\)")
    served = serve("tests/browser/apps/plain_app.py")
    page.route("**/openapi.json", lambda route: route.fulfill(status=500, body="boom"))
    page.goto(served.url + "/docs")
    expect(page.locator("#cv-main .error")).to_have_text(
        "Could not show the API document /openapi.json: 500 Internal Server Error")
    page.unroute("**/openapi.json")
    page.route("**/openapi.json", lambda route: route.fulfill(status=200, body="{not json",
                                                              content_type="application/json"))
    page.reload()
    expect(page.locator("#cv-main .error")).to_contain_text("Could not show the API document /openapi.json: ")
    page.unroute("**/openapi.json")
    page.route("**/openapi.json", lambda route: route.fulfill(status=200, body="[1, 2]",
                                                              content_type="application/json"))
    page.reload()
    expect(page.locator("#cv-main .error")).to_have_text(
        "Could not show the API document /openapi.json: not an OpenAPI document")


def test_a_page_whose_document_is_turned_off_says_so(serve, page, guard):
    served = serve("tests/browser/apps/plain_app.py:no_document")
    page.goto(served.url + "/docs")
    expect(page.locator("#cv-main .error")).to_have_text(
        "This app's OpenAPI document is turned off: nothing to show.")
    expect(page.locator("#cv-authorize")).to_be_hidden()


def test_copy_puts_the_curl_command_on_the_clipboard_or_selects_it(serve, page, guard):
    served = serve("tests/browser/apps/plain_app.py")
    open_docs(page, served.url + "/docs")
    hello = open_op(page, "hello_get")
    hello.get_by_label("name", exact=True).fill("it's me")
    assert execute_json(hello, 200) == {"hello": "it's me"}
    curl = "curl --globoff -X GET '%s/hello/it'\\''s%%20me'" % served.url
    assert curl_text(hello) == curl
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    copy = hello.get_by_role("button", name="Copy the curl command")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == curl
    # Where there is no clipboard (a page not served over https or from localhost), the text is
    # selected instead, for Ctrl+C.
    page.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    assert execute_json(hello, 200) == {"hello": "it's me"}  # a fresh result, a fresh button
    copy.click()
    expect(copy).to_have_text("Selected: press Ctrl+C")
    assert page.evaluate("getSelection().toString()") == curl
