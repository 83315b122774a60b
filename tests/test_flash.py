"""covet.flash_messages: flash() / get_flashed_messages() over the real SessionMiddleware, with
Flask's semantics (consumed on first read, one redirect survived, all taken even when filtered),
the bounds that keep a full queue inside one cookie (RFC 6265 §6.1), and the error without sessions."""
import base64
import json

import pytest

from covet import Covet, RedirectResponse, Request, flash, get_flashed_messages
from covet import flash_messages
from covet.cache import Cache
from covet.flash_messages import (FLASH_SESSION_KEY, MAX_FLASH_CATEGORY_BYTES, MAX_FLASH_MESSAGE_BYTES,
                                  MAX_FLASHED_MESSAGES)
from covet.security import SessionMiddleware
from covet.security.sessions import MAX_COOKIE_BYTES
from covet.templates import Markup, TemplateEngine

KEY = "flash-secret-key-0123456789abcdefghij"
LAYOUT = ("{% for category, message in get_flashed_messages(with_categories=true) %}"
          "<p class=\"flash {{ category }}\">{{ message }}</p>\n{% endfor %}<main>{{ body }}</main>")


@pytest.fixture
def engine(tmp_path):
    (tmp_path / "page.html").write_text(LAYOUT, encoding="utf-8")
    return TemplateEngine(str(tmp_path))


def flash_app(engine, sessions=True, **session_options):
    app = Covet()
    if sessions:
        app.add_middleware(SessionMiddleware, secret_key=KEY, **session_options)

    @app.post("/notes")
    async def add_note(request: Request):
        data = await request.json()
        for message in data["messages"]:
            flash(request, message, data.get("category", "info"))
        return RedirectResponse("/page", status_code=303)

    @app.get("/page")
    def page(request: Request):
        return engine.response(request, "page.html", {"body": "page"})

    @app.get("/json")
    def as_json(request: Request):
        kind = request.query_params.get("filter")
        return {"first": get_flashed_messages(request, with_categories=True,
                                              category_filter=[kind] if kind else ()),
                "again": get_flashed_messages(request)}

    @app.get("/session")
    def session(request: Request):
        return dict(request.session)

    return app


def session_payload(set_cookie):
    """The JSON of a signed session cookie (payload.timestamp.signature)."""
    value = set_cookie.split(";", 1)[0].split("=", 1)[1]
    payload = value.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_message_survives_one_redirect_and_is_shown_once(client, engine):
    c = client(flash_app(engine))
    r = c.post("/notes", json={"messages": ["Post published."], "category": "success"})
    assert r.status_code == 200 and r.url.endswith("/page")  # the 303 was followed
    assert r.text == '<p class="flash success">Post published.</p>\n<main>page</main>'
    again = c.get("/page")
    assert again.text == "<main>page</main>"


def test_the_message_waits_in_the_session_until_a_page_reads_it(client, engine):
    c = client(flash_app(engine))
    r = c.post("/notes", json={"messages": ["one", "two"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/page"
    assert session_payload(r.headers["set-cookie"]) == {FLASH_SESSION_KEY: [["info", "one"], ["info", "two"]]}
    assert c.get("/session").json() == {FLASH_SESSION_KEY: [["info", "one"], ["info", "two"]]}
    shown = c.get("/page")
    assert shown.text == ('<p class="flash info">one</p>\n<p class="flash info">two</p>\n<main>page</main>')
    # the queue was the whole session: reading it empties the session, so the cookie goes
    assert shown.headers["set-cookie"] == ('session=""; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; '
                                           'HttpOnly; SameSite=Lax')
    assert c.get("/session").json() == {}


def test_messages_are_escaped_and_markup_is_not_kept(client, engine):
    c = client(flash_app(engine))

    @c.app.post("/markup")
    def markup(request: Request):
        flash(request, Markup("<b>bold</b>"), "warn")
        return "ok"

    r = c.post("/notes", json={"messages": ['<script>alert("x")</script>'], "category": '"><i>'})
    assert r.text == ('<p class="flash &#34;&gt;&lt;i&gt;">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>\n'
                      "<main>page</main>")
    c.post("/markup")
    assert c.get("/page").text == '<p class="flash warn">&lt;b&gt;bold&lt;/b&gt;</p>\n<main>page</main>'


def test_categories_filter_and_the_first_read_takes_everything(client, engine):
    c = client(flash_app(engine))
    c.post("/notes", json={"messages": ["Saved."], "category": "info"}, follow_redirects=False)
    c.post("/notes", json={"messages": ["Title taken.", "Body empty."], "category": "error"},
           follow_redirects=False)
    r = c.get("/json", params={"filter": "error"})
    # later calls in the same request see what the first took, filtered or not
    assert r.json() == {"first": [["error", "Title taken."], ["error", "Body empty."]],
                        "again": ["Saved.", "Title taken.", "Body empty."]}
    # as in Flask, the filtered-out message was consumed too
    assert c.get("/json").json() == {"first": [], "again": []}


def test_get_flashed_messages_without_arguments_gives_the_texts(client, engine):
    c = client(flash_app(engine))
    c.post("/notes", json={"messages": ["a", "b"]}, follow_redirects=False)
    assert c.get("/json", params={"filter": "nothing-of-this-kind"}).json() == {"first": [], "again": ["a", "b"]}


def test_a_category_filter_given_as_one_string_is_one_category():
    request = Request("GET", "/")
    request.session = {FLASH_SESSION_KEY: [["e", "x"], ["error", "y"]]}
    assert get_flashed_messages(request, category_filter="error") == ["y"]


def test_the_queue_is_bounded_the_oldest_unread_messages_go(client, engine):
    c = client(flash_app(engine))
    for n in range(MAX_FLASHED_MESSAGES + 3):
        c.post("/notes", json={"messages": ["note %d" % n]}, follow_redirects=False)
    assert MAX_FLASHED_MESSAGES == 8
    assert c.get("/json").json()["again"] == ["note %d" % n for n in range(3, 11)]


def test_the_bounds_are_read_at_each_call(monkeypatch):
    monkeypatch.setattr(flash_messages, "MAX_FLASHED_MESSAGES", 2)
    monkeypatch.setattr(flash_messages, "MAX_FLASH_MESSAGE_BYTES", 3)
    request = Request("GET", "/")
    request.session = {}
    for text in ("a", "b", "abc"):
        flash(request, text)
    assert request.session == {FLASH_SESSION_KEY: [["info", "b"], ["info", "abc"]]}
    with pytest.raises(ValueError) as exc:
        flash(request, "abcd")
    assert str(exc.value) == ("a flashed message is at most 3 bytes as stored "
                              "(covet.flash_messages.MAX_FLASH_MESSAGE_BYTES), got 4")


@pytest.mark.parametrize("message, size", [
    ("x" * 201, 201),
    ("é" * 101, 202),             # two bytes of UTF-8 each
    ('"' * 101, 202),             # stored as \"
    ("\x01" * 34, 204),           # stored as \u0001
])
def test_a_message_over_the_limit_is_refused_with_its_stored_size(message, size):
    request = Request("GET", "/")
    request.session = {}
    with pytest.raises(ValueError) as exc:
        flash(request, message)
    assert str(exc.value) == ("a flashed message is at most 200 bytes as stored "
                              "(covet.flash_messages.MAX_FLASH_MESSAGE_BYTES), got %d" % size)
    assert request.session == {}


def test_a_message_at_the_limit_is_accepted():
    request = Request("GET", "/")
    request.session = {}
    flash(request, "é" * 100)
    assert request.session == {FLASH_SESSION_KEY: [["info", "é" * 100]]}


@pytest.mark.parametrize("message, category, error, text", [
    (b"bytes", "info", TypeError, "a flashed message must be a str, got bytes"),
    (None, "info", TypeError, "a flashed message must be a str, got NoneType"),
    ("m", 3, TypeError, "a flash category must be a str, got int"),
    ("m", "", ValueError, "a flash category is 1 to 32 bytes as stored "
                          "(covet.flash_messages.MAX_FLASH_CATEGORY_BYTES), got 0"),
    ("m", "c" * 33, ValueError, "a flash category is 1 to 32 bytes as stored "
                                "(covet.flash_messages.MAX_FLASH_CATEGORY_BYTES), got 33"),
    ("\ud800", "info", ValueError, "flashed text must be valid Unicode (it holds a lone surrogate)"),
])
def test_bad_messages_and_categories_are_refused(message, category, error, text):
    request = Request("GET", "/")
    request.session = {}
    with pytest.raises(error) as exc:
        flash(request, message, category)
    assert str(exc.value) == text
    assert request.session == {}


def test_a_full_queue_of_the_largest_messages_fits_in_the_cookie(client, engine):
    worst = "\x01" * (MAX_FLASH_MESSAGE_BYTES // 6)
    category = "c" * MAX_FLASH_CATEGORY_BYTES
    c = client(flash_app(engine))
    r = c.post("/notes", json={"messages": [worst] * MAX_FLASHED_MESSAGES, "category": category},
               follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].split(";", 1)[0]
    assert len(cookie) < MAX_COOKIE_BYTES - 1000  # room left for the rest of the session
    big = "é" * (MAX_FLASH_MESSAGE_BYTES // 2)
    r = c.post("/notes", json={"messages": [big] * MAX_FLASHED_MESSAGES, "category": category},
               follow_redirects=False)
    assert len(r.headers["set-cookie"].split(";", 1)[0]) < MAX_COOKIE_BYTES - 1000
    assert c.get("/json").json()["again"] == [big] * MAX_FLASHED_MESSAGES


def test_server_side_sessions_carry_the_queue_too(client, engine):
    c = client(flash_app(engine, backend=Cache()))
    r = c.post("/notes", json={"messages": ["kept on the server"]})
    assert r.text == '<p class="flash info">kept on the server</p>\n<main>page</main>'
    assert c.get("/page").text == "<main>page</main>"


def test_a_malformed_stored_queue_is_ignored_not_an_error():
    request = Request("GET", "/")
    request.session = {FLASH_SESSION_KEY: [["info", "kept"], ["only one"], [1, "x"], "text", ["a", "b", "c"]]}
    assert get_flashed_messages(request, with_categories=True) == [("info", "kept")]
    request = Request("GET", "/")
    request.session = {FLASH_SESSION_KEY: {"not": "a list"}}
    assert get_flashed_messages(request) == []
    flash(request, "new")
    assert request.session == {FLASH_SESSION_KEY: [["info", "new"]]}


def test_flash_keeps_adding_to_a_queue_read_earlier_in_the_request():
    request = Request("GET", "/")
    request.session = {FLASH_SESSION_KEY: [["info", "old"]]}
    assert get_flashed_messages(request) == ["old"]
    flash(request, "for the next page")
    assert get_flashed_messages(request) == ["old"]
    assert request.session == {FLASH_SESSION_KEY: [["info", "for the next page"]]}


def test_without_sessions_both_functions_say_what_to_add():
    request = Request("GET", "/")
    with pytest.raises(RuntimeError) as exc:
        flash(request, "hello")
    assert str(exc.value) == ("flash() needs request.session: add SessionMiddleware "
                              "(covet.security.sessions) to the app, or to the group that serves this route")
    with pytest.raises(RuntimeError) as exc:
        get_flashed_messages(request)
    assert str(exc.value).startswith("get_flashed_messages() needs request.session: add SessionMiddleware")


def test_a_template_that_reads_flashes_without_sessions_fails_with_that_error(client, engine):
    c = client(flash_app(engine, sessions=False))
    with pytest.raises(RuntimeError) as exc:
        c.get("/page")
    assert str(exc.value).startswith("get_flashed_messages() needs request.session")
    c = client(flash_app(engine, sessions=False), raise_server_exceptions=False)
    r = c.get("/page")
    assert r.status_code == 500
    assert "SessionMiddleware" not in r.text  # no traceback or internals for the client
