"""examples/blog: every page rendered through the test client, checked by exact fragments; the
style sheet served by the route named "static", the flash after posting, the form shown again
with its errors, and the CSRF token every post needs (a browser does the same in
tests/browser/test_blog.py)."""
import importlib.util
import pathlib
import re
import sys

import pytest

APP_FILE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "blog" / "app.py"
CSS_FILE = APP_FILE.parent / "static" / "app.css"
SECRET = "blog-test-secret-0123456789abcdefghij"


def load_blog():
    spec = importlib.util.spec_from_file_location("example_blog", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would: the blog's PostForm is a Model, and
    # typing.get_type_hints on Python 3.9 looks its module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def blog(client):
    return client(load_blog().create_app(secret_key=SECRET))


TOKEN_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([A-Za-z0-9_-]{86})">')


def form_token(c):
    """The CSRF token of the form, as a browser gets it: GET /new, read the hidden field."""
    page = c.get("/new")
    assert page.status_code == 200
    return TOKEN_FIELD.search(page.text).group(1)


def post(c, data, **options):
    """Submit the form as a browser does: the fields and the form's CSRF token."""
    return c.post("/new", data=dict(data, csrf_token=form_token(c)), **options)


NAV_HOME = '<header><nav>\n  <a href="/" class="active">Home</a>\n  <a href="/new">Write</a>\n</nav></header>'
TAGS = ("<h3>Tags</h3>\n    <ul>\n      <li>news (1)</li>\n      <li>speed (1)</li>\n"
        "      <li>templates (1)</li>\n    </ul>")


def test_index_lists_posts_newest_first_with_layout_sidebar_and_footer(blog):
    r = blog.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text.startswith("<!doctype html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n"
                             "  <title>Home &middot; covet blog</title>\n"
                             '  <link rel="stylesheet" href="/static/app.css">\n</head>\n<body>\n')
    assert NAV_HOME in r.text
    assert TAGS in r.text
    first = ('<article class="summary">\n  <h2><a href="/posts/templates-compile-to-python">Templates compile '
             'to Python</a></h2>\n  <p>Each template becomes a Python function.</p>\n</article>')
    second = ('<article class="summary">\n  <h2><a href="/posts/hello-covet">Hello, covet</a></h2>\n'
              '  <p>covet runs on the standard library alone.</p>\n</article>')
    assert first in r.text and second in r.text
    assert r.text.index(first) < r.text.index(second)
    assert r.text.endswith("  <footer>covet blog &middot; 2 posts</footer>\n</body>\n</html>")


def test_post_page(blog):
    r = blog.get("/posts/hello-covet")
    assert r.status_code == 200
    assert "<title>Hello, covet &middot; covet blog</title>" in r.text
    assert ('<article>\n  <h1>Hello, covet</h1>\n  <p class="tags">news</p>\n'
            "  <p>covet runs on the standard library alone.</p>\n"
            "  <p>This blog is one file and six templates.</p>\n</article>") in r.text
    assert '<a href="/">Home</a>' in r.text and TAGS in r.text


def test_unknown_post_is_a_404_page(blog):
    r = blog.get("/posts/<nope>")
    assert r.status_code == 404
    assert "<title>Not found &middot; covet blog</title>" in r.text
    assert "<h1>Not found</h1>\n<p>There is no post called &ldquo;&lt;nope&gt;&rdquo;.</p>" in r.text


def test_the_form_is_built_from_macros(blog):
    r = blog.get("/new")
    assert r.status_code == 200
    assert '<a href="/new" class="active">Write</a>' in r.text
    assert ('<form method="post" action="/new">\n'
            '<input type="hidden" name="csrf_token" value="%s">\n'
            '<div class="field">\n<label for="f-title">Title</label>\n'
            '<input id="f-title" name="title" value="">\n\n</div>\n\n'
            '<div class="field">\n<label for="f-tags">Tags, separated by commas</label>\n'
            '<input id="f-tags" name="tags" value="">\n\n</div>\n\n'
            '<div class="field">\n<label for="f-body">Text</label>\n'
            '<textarea id="f-body" name="body" rows="8"></textarea>\n\n</div>\n'
            '<button type="submit">Publish</button>\n</form>') % TOKEN_FIELD.search(r.text).group(1) in r.text


def test_invalid_form_is_shown_again_with_errors_and_escaped_values(blog):
    r = post(blog, {"title": "", "tags": "Bad Tag", "body": '"><script>x</script>'})
    assert r.status_code == 422
    assert ('<div class="field invalid">\n<label for="f-title">Title</label>\n'
            '<input id="f-title" name="title" value="">\n\n'
            '<p class="error">A title is required.</p>\n</div>') in r.text
    assert ('<input id="f-tags" name="tags" value="Bad Tag">\n\n'
            '<p class="error">Up to 5 tags: lower-case letters, digits and dashes.</p>') in r.text
    assert ('<textarea id="f-body" name="body" rows="8">&#34;&gt;&lt;script&gt;x&lt;/script&gt;</textarea>'
            in r.text)
    assert "<script>" not in r.text


def test_attribute_payload_in_a_refilled_value_stays_inside_the_quotes(blog):
    r = post(blog, {"title": '" autofocus onfocus="alert(1)', "tags": "", "body": ""})
    assert r.status_code == 422
    assert ('<input id="f-title" name="title" value="&#34; autofocus onfocus=&#34;alert(1)">' in r.text)
    assert '<p class="error">Write something.</p>' in r.text


def test_a_valid_post_is_stored_and_shown_escaped(blog):
    r = post(blog, {"title": "A <b>bold</b> move", "tags": "news, xss",
                                "body": "first <i>para</i>\r\n\r\nsecond"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/posts/a-b-bold-b-move"
    page = blog.get("/posts/a-b-bold-b-move")
    assert ("<article>\n  <h1>A &lt;b&gt;bold&lt;/b&gt; move</h1>\n  <p class=\"tags\">news, xss</p>\n"
            "  <p>first &lt;i&gt;para&lt;/i&gt;</p>\n  <p>second</p>\n</article>") in page.text
    index = blog.get("/")
    assert index.text.index("a-b-bold-b-move") < index.text.index("templates-compile-to-python")
    assert "<li>news (2)</li>" in index.text and "<li>xss (1)</li>" in index.text
    assert "<footer>covet blog &middot; 3 posts</footer>" in index.text
    again = post(blog, {"title": "A <b>bold</b> move", "tags": "", "body": "x"})
    assert again.status_code == 422
    assert '<p class="error">A post with this title exists already.</p>' in again.text


def test_each_app_has_its_own_posts(client):
    module = load_blog()
    one, two = client(module.create_app(secret_key=SECRET)), client(module.create_app(secret_key=SECRET))
    assert post(one, {"title": "Only here", "tags": "", "body": "x"}).status_code == 200
    assert two.get("/posts/only-here").status_code == 404
    assert module.app.state.posts == module.SEED


# -- static files, flash, the form with its errors (issue 14, the HTML side) --------------------------

def test_the_stylesheet_link_resolves_to_the_css_file(blog):
    page = blog.get("/posts/hello-covet")
    href = re.search(r'<link rel="stylesheet" href="([^"]+)">', page.text).group(1)
    assert href == "/static/app.css"
    css = blog.get(href)
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["x-content-type-options"] == "nosniff"
    # Stale at once, so browsers revalidate on every page (tests/browser/test_static.py sees the 304).
    assert css.headers["cache-control"] == "public, max-age=0"
    assert css.content == CSS_FILE.read_bytes()
    assert css.content.startswith(b"/* The blog's style sheet")


@pytest.mark.parametrize("path", ["/static/nope.css", "/static/../app.py", "/static/%2e%2e/app.py",
                                  "/static/..%2fapp.py", "/static/%2fetc%2fpasswd", "/static/",
                                  "/static/templates/base.html"])
def test_the_static_route_serves_only_the_files_of_its_folder(blog, path):
    r = blog.get(path)
    assert r.status_code == 404
    assert b"doctype" not in r.content and b"import" not in r.content


def test_the_flash_appears_once_after_the_redirect_and_not_again(blog):
    flash = '  <main>\n    <p class="flash success">Your post is published.</p>\n<div class="blog">'
    r = post(blog, {"title": "Flash news", "tags": "", "body": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/posts/flash-news"
    assert r.headers["set-cookie"].startswith("session=")
    shown = blog.get("/posts/flash-news")
    assert flash in shown.text
    assert shown.text.count("Your post is published.") == 1
    again = blog.get("/posts/flash-news")
    assert again.status_code == 200
    assert "class=\"flash" not in again.text
    assert '  <main>\n<div class="blog">' in again.text
    assert "class=\"flash" not in blog.get("/").text


def test_the_flash_waits_for_the_next_page_whichever_it_is(blog):
    post(blog, {"title": "Later", "tags": "", "body": "x"}, follow_redirects=False)
    index = blog.get("/")
    assert '<p class="flash success">Your post is published.</p>' in index.text
    assert "class=\"flash" not in blog.get("/posts/later").text


def test_a_refused_post_flashes_nothing(blog):
    r = post(blog, {"title": "", "tags": "", "body": ""})
    assert r.status_code == 422
    assert "set-cookie" not in r.headers
    assert "class=\"flash" not in r.text and "class=\"flash" not in blog.get("/").text


@pytest.mark.parametrize("title, message", [
    ("x" * 101, "At most 100 characters, please."),
    ("!!!", "The title needs at least one letter or digit."),
    ("Hello, covet", "A post with this title exists already."),
])
def test_each_title_error_is_shown_next_to_the_title_with_the_value_kept(blog, title, message):
    r = post(blog, {"title": title, "tags": "news", "body": "x"})
    assert r.status_code == 422
    assert ('<div class="field invalid">\n<label for="f-title">Title</label>\n'
            '<input id="f-title" name="title" value="%s">\n\n'
            '<p class="error">%s</p>\n</div>' % (title, message)) in r.text
    assert r.text.count('<p class="error">') == 1
    assert '<input id="f-tags" name="tags" value="news">\n\n</div>' in r.text


def test_a_body_over_the_limit_is_shown_with_its_error(blog):
    r = post(blog, {"title": "Long", "tags": "", "body": "<" * 20_001})
    assert r.status_code == 422
    assert ('<textarea id="f-body" name="body" rows="8">%s</textarea>\n\n'
            '<p class="error">At most 20000 characters, please.</p>\n</div>' % ("&lt;" * 20_001)) in r.text


def test_without_a_secret_key_the_app_makes_one(client, monkeypatch):
    monkeypatch.delenv("BLOG_SECRET_KEY", raising=False)
    c = client(load_blog().create_app())
    r = post(c, {"title": "Keyless", "tags": "", "body": "x"})
    assert '<p class="flash success">Your post is published.</p>' in r.text


# -- CSRF: the form's token, and posts without it or with another session's -------------------------

NO_TOKEN = ("CSRF check failed: no token in the X-CSRF-Token header or the csrf_token form field; a route that "
            "takes no cookie credentials (a webhook, a bearer-token API) can opt out: list its path in "
            "exempt_paths or decorate its handler with @csrf_exempt")


def test_the_form_token_is_masked_differently_on_every_page(blog):
    first, second = form_token(blog), form_token(blog)
    assert first != second
    for token in (first, second):  # both valid: the 422 is the form's own answer, past the CSRF check
        r = blog.post("/new", data={"title": "", "tags": "", "body": "x", "csrf_token": token})
        assert r.status_code == 422
        assert '<p class="error">A title is required.</p>' in r.text


def test_a_post_without_the_token_is_refused_with_403_and_nothing_is_stored(blog):
    form_token(blog)  # the session has its CSRF secret: only the token is missing
    r = blog.post("/new", data={"title": "Forged", "tags": "", "body": "x"}, follow_redirects=False)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Forbidden", "status": 403, "detail": NO_TOKEN,
                        "instance": "/new"}
    assert "set-cookie" not in r.headers
    assert blog.get("/posts/forged").status_code == 404
    assert "class=\"flash" not in blog.get("/").text


def test_a_browser_gets_the_refusal_as_an_html_page(blog):
    form_token(blog)
    r = blog.post("/new", data={"title": "Forged", "tags": "", "body": "x"},
                  headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 403
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == ('<!doctype html><html><head><meta charset="utf-8"><title>403 Forbidden</title></head>'
                      "<body><h1>403 Forbidden</h1><p>%s</p></body></html>" % NO_TOKEN)


def test_a_token_from_another_session_is_refused(client):
    module = load_blog()
    victim, attacker = client(module.create_app(secret_key=SECRET)), client(module.create_app(secret_key=SECRET))
    form_token(victim)
    stolen = form_token(attacker)  # valid, but for the attacker's session
    r = victim.post("/new", data={"title": "Forged", "tags": "", "body": "x", "csrf_token": stolen})
    assert r.status_code == 403
    assert r.json()["detail"].startswith("CSRF check failed: the token is invalid;")
    assert victim.get("/posts/forged").status_code == 404


def test_a_post_before_any_form_was_shown_is_refused(blog):
    r = blog.post("/new", data={"title": "Forged", "tags": "", "body": "x", "csrf_token": "x" * 86})
    assert r.status_code == 403
    assert r.json()["detail"].startswith("CSRF check failed: the session has no CSRF token;")
