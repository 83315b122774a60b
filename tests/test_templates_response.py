"""Request-aware template responses: engine.response(request, name, context) and TemplateResponse,
with request, url_for and csrf_token in the context; and the Template Engine examples of covet's
API reference (directory=, render in a handler, inheritance, add_filter, ``|filter:arg``)."""
import re

import pytest

from covet import Covet, Request
from covet.core.responses import HTMLResponse
from covet.security import CSRFMiddleware, SessionMiddleware
from covet.templates import TemplateEngine, TemplateResponse

KEY = "templates-csrf-secret-0123456789abcdef"


def write(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_response_puts_request_and_url_for_into_the_context(client, tmp_path):
    write(tmp_path, {"user.html": "{{ request.method }} {{ request.path }} {{ url_for('show_user', user_id=7) }} "
                                  "{{ url_for('show_user', user_id=user.id, tab='a b') }} {{ user.name }}"})
    engine = TemplateEngine(directory=str(tmp_path))
    app = Covet()
    seen = []

    @app.get("/users/{user_id:int}")
    def show_user(request: Request, user_id: int):
        response = engine.response(request, "user.html", {"user": {"id": user_id, "name": "<Ann>"}},
                                   status_code=203, headers={"X-Page": "user"})
        seen.append(response)
        return response

    r = client(app).get("/users/3")
    assert r.status_code == 203 and r.headers["x-page"] == "user"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == "GET /users/3 /users/7 /users/3?tab=a+b &lt;Ann&gt;"
    response = seen[0]
    assert type(response) is TemplateResponse and isinstance(response, HTMLResponse)
    assert response.template.name == "user.html"
    assert sorted(response.context) == ["get_flashed_messages", "request", "static", "url_for", "user"]
    assert response.context["user"] == {"id": 3, "name": "<Ann>"}


def test_names_in_the_context_win_over_the_request_names(client, tmp_path):
    write(tmp_path, {"p.html": "{{ request }}|{{ url_for }}"})
    engine = TemplateEngine(str(tmp_path))
    app = Covet()

    @app.get("/")
    def page(request: Request):
        return engine.response(request, "p.html", {"request": "mine", "url_for": "also mine"})

    assert client(app).get("/").text == "mine|also mine"


def test_url_for_in_a_mounted_app_includes_the_mount_prefix(client, tmp_path):
    write(tmp_path, {"p.html": "{{ url_for('item', item_id=5) }}"})
    engine = TemplateEngine(str(tmp_path))
    admin = Covet()

    @admin.get("/items/{item_id:int}")
    def item(request: Request, item_id: int):
        return engine.response(request, "p.html")

    app = Covet()
    app.mount("/admin", admin)
    assert client(app).get("/admin/items/1").text == "/admin/items/5"


def test_url_for_an_unknown_route_is_an_error_naming_it(client, tmp_path):
    from covet.core.routing import NoMatchFound

    write(tmp_path, {"p.html": "{{ url_for('nowhere') }}"})
    engine = TemplateEngine(str(tmp_path))
    app = Covet()

    @app.get("/")
    def page(request: Request):
        return engine.response(request, "p.html")

    with pytest.raises(NoMatchFound) as info:
        client(app).get("/")
    assert str(info.value) == "no route named 'nowhere'"


def static_app(engine, template):
    app = Covet()

    @app.get("/assets/{path:path}", name="static")
    def static_file(path: str):
        return "file " + path

    @app.get("/page")
    def page(request: Request):
        return engine.response(request, template)

    return app


def test_static_builds_the_url_of_the_route_named_static(client, tmp_path):
    # Any route (or, with app.static(), the mount) called "static" with a {path:path} parameter.
    write(tmp_path, {"p.html": '<link rel="stylesheet" href="{{ static("css/app.css") }}">\n'
                               '<img src="{{ static("img/a b&c.png") }}">\n'
                               '<script src="{{ url_for("static", path="js/app.js") }}"></script>'})
    c = client(static_app(TemplateEngine(str(tmp_path)), "p.html"))
    r = c.get("/page")
    assert r.text == ('<link rel="stylesheet" href="/assets/css/app.css">\n'
                      '<img src="/assets/img/a%20b&amp;c.png">\n'
                      '<script src="/assets/js/app.js"></script>')
    assert c.get("/assets/css/app.css").text == "file css/app.css"
    assert c.get("/assets/img/a%20b&c.png").text == "file img/a b&c.png"


def test_static_in_a_mounted_app_includes_the_mount_prefix(client, tmp_path):
    write(tmp_path, {"p.html": '{{ static("app.css") }}'})
    app = Covet()
    app.mount("/shop", static_app(TemplateEngine(str(tmp_path)), "p.html"))
    c = client(app)
    assert c.get("/shop/page").text == "/shop/assets/app.css"
    assert c.get("/shop/assets/app.css").text == "file app.css"


def test_static_without_a_static_route_is_an_error_naming_it(client, tmp_path):
    from covet.core.routing import NoMatchFound

    write(tmp_path, {"p.html": '{{ static("app.css") }}'})
    engine = TemplateEngine(str(tmp_path))
    app = Covet()

    @app.get("/")
    def page(request: Request):
        return engine.response(request, "p.html")

    with pytest.raises(NoMatchFound) as info:
        client(app).get("/")
    assert str(info.value) == "no route named 'static'"


def csrf_app(engine, sessions=False):
    app = Covet()
    if sessions:
        app.add_middleware(SessionMiddleware, secret_key=KEY)
    app.add_middleware(CSRFMiddleware, secret_key=KEY)

    @app.get("/form")
    def form(request: Request):
        return engine.response(request, "form.html")

    @app.get("/plain")
    def plain(request: Request):
        return engine.response(request, "plain.html")

    @app.post("/comment")
    async def comment(request: Request):
        return {"text": (await request.form()).get("text")}

    return app


FORM = '<input type="hidden" name="csrf_token" value="([A-Za-z0-9_-]{86})">'


@pytest.mark.parametrize("sessions", [False, True])
@pytest.mark.parametrize("call", ["csrf_token()", "csrf_token(request)"])
def test_csrf_token_is_in_the_context_when_the_middleware_runs(client, tmp_path, sessions, call):
    write(tmp_path, {"form.html": '<input type="hidden" name="csrf_token" value="{{ %s }}">' % call,
                     "plain.html": "no form"})
    c = client(csrf_app(TemplateEngine(str(tmp_path)), sessions))
    first = re.fullmatch(FORM, c.get("/form").text).group(1)
    second = re.fullmatch(FORM, c.get("/form").text).group(1)
    assert first != second  # masked afresh on every call (BREACH)
    assert c.post("/comment", data={"csrf_token": first, "text": "hi"}).json() == {"text": "hi"}
    assert c.post("/comment", data={"csrf_token": second, "text": "ho"}).json() == {"text": "ho"}
    assert c.post("/comment", data={"text": "no token"}).status_code == 403


def test_a_page_that_never_calls_csrf_token_sets_no_cookie(client, tmp_path):
    write(tmp_path, {"form.html": "{{ csrf_token() }}", "plain.html": "no form"})
    c = client(csrf_app(TemplateEngine(str(tmp_path))))
    r = c.get("/plain")
    assert r.text == "no form" and "set-cookie" not in r.headers
    r = c.get("/form")
    assert r.headers["set-cookie"].startswith("csrftoken=")


def test_without_the_csrf_middleware_csrf_token_is_undefined(client, tmp_path):
    write(tmp_path, {"p.html": "{% if csrf_token is defined %}{{ csrf_token() }}{% else %}none{% endif %}"})
    engine = TemplateEngine(str(tmp_path))
    app = Covet()

    @app.get("/")
    def page(request: Request):
        response = engine.response(request, "p.html")
        assert "csrf_token" not in response.context
        return response

    assert client(app).get("/").text == "none"


def test_response_without_a_request_renders_the_context_as_given(tmp_path):
    write(tmp_path, {"p.html": "{{ url_for is defined }} {{ x }}"})
    engine = TemplateEngine(str(tmp_path))
    response = engine.response("p.html", {"x": 1}, 201)
    assert (response.status_code, response.body, response.context) == (201, b"False 1", {"x": 1})
    assert engine.response("p.html", context={"x": 2}).body == b"False 2"
    with pytest.raises(TypeError) as info:
        engine.response(None)
    assert str(info.value) == "response() needs the template name"


def test_template_response_built_directly(tmp_path):
    write(tmp_path, {"feed.xml": "<feed>{{ title }}</feed>"})
    engine = TemplateEngine(str(tmp_path))
    response = TemplateResponse(engine.get_template("feed.xml"), {"title": "a&b"}, media_type="application/atom+xml")
    assert response.body == b"<feed>a&amp;b</feed>"
    assert (b"content-type", b"application/atom+xml") in response.raw_headers


# -- the API reference's Template Engine examples -------------------------------------------------

def test_api_reference_examples(client, tmp_path):
    write(tmp_path, {
        "base.html": "<title>{% block title %}Default Title{% endblock %}</title>"
                     "<nav>{% block nav %}{% endblock %}</nav><main>{% block content %}{% endblock %}</main>",
        "page.html": "<h1>{{ title }}</h1>{% if users %}<ul>{% for user in users %}<li>{{ user.name }}</li>"
                     "{% endfor %}</ul>{% else %}<p>No users found.</p>{% endif %}",
        "child.html": "{% extends \"base.html\" %}{% block title %}Child{% endblock %}"
                      "{% block content %}<h1>Content</h1>{% endblock %}",
        "filters.html": "{{ name|upper }} {{ description|truncate:10 }} {{ description|truncate(4) }}",
    })
    templates = TemplateEngine(directory=str(tmp_path))
    templates.add_filter("upper", lambda x: x.upper())
    templates.add_filter("truncate", lambda x, length=50: x[:length] + "..." if len(x) > length else x)
    app = Covet()

    @app.route("/page")
    async def render_page():
        context = {"title": "Users", "users": [{"name": "Alice"}, {"name": "Bob"}]}
        return templates.render("page.html", context)

    r = client(app).get("/page")
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == "<h1>Users</h1><ul><li>Alice</li><li>Bob</li></ul>"
    assert templates.render("page.html", {"title": "None", "users": []}) == "<h1>None</h1><p>No users found.</p>"
    assert templates.render("child.html") == "<title>Child</title><nav></nav><main><h1>Content</h1></main>"
    # the user's filters replace the built-in upper and truncate; `|f:arg` passes one argument
    assert templates.render("filters.html", name="ann", description="a long description") == \
        "ANN a long des... a lo..."
