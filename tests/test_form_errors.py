"""covet.forms.form_errors: ValidationError, RequestValidationError, 422 problem documents and plain
error lists turned into per-field messages; and the re-rendered form built on it, checked as exact
HTML with the submitted values kept and escaped."""
from typing import List, Optional

import pytest

from covet import Covet, Form, Request, RequestValidationError, form_errors
from covet.forms import FORM_ERRORS_KEY
from covet.templates import TemplateEngine
from covet.validation import Field, Model, ValidationError


class Address(Model):
    city: str = Field(min_length=1)
    zip: str = Field(pattern="^[0-9]{5}$")


class Signup(Model):
    email: str = Field(format="email")
    body: str = Field(min_length=1)        # a field called "body", like the request location
    tags: List[str] = Field(default_factory=list, max_items=3)
    address: Optional[Address] = None


def errors_of(data):
    with pytest.raises(ValidationError) as exc:
        Signup.parse(data)
    return exc.value


def test_a_validation_error_gives_one_entry_per_field_nested_paths_joined_with_dots():
    exc = errors_of({"email": "nope", "body": "", "tags": ["a", 2],
                     "address": {"city": "", "zip": "1234"}})
    assert form_errors(exc) == {
        "email": ["must be an email address"],
        "body": ["must be at least 1 character long"],
        "tags.1": ["must be of type string"],
        "address.city": ["must be at least 1 character long"],
        "address.zip": ['must match pattern "^[0-9]{5}$"'],
    }


def test_a_validation_error_keeps_a_field_called_body():
    # Model.parse locates errors relative to the data: nothing is stripped by default
    assert form_errors(errors_of({"email": "a@example.com"})) == {"body": ["field required"]}


def test_a_request_validation_error_drops_the_body_location_and_keeps_the_others():
    exc = RequestValidationError([
        {"loc": ["query", "page"], "msg": "must be of type integer", "type": "type"},
        {"loc": ["body", "title"], "msg": "field required", "type": "required"},
        {"loc": ["body", "address", "city"], "msg": "too short", "type": "minLength"},
        {"loc": ["body"], "msg": "must be of type object", "type": "type"},
    ])
    assert form_errors(exc) == {"query.page": ["must be of type integer"], "title": ["field required"],
                                "address.city": ["too short"], FORM_ERRORS_KEY: ["must be of type object"]}
    assert FORM_ERRORS_KEY == ""


def test_a_422_problem_document_from_a_real_handler(client):
    app = Covet()

    @app.post("/signup")
    def signup(email: str = Form(min_length=3), age: int = Form(ge=13), page: int = 1):
        return {"ok": True}

    r = client(app).post("/signup", params={"page": "x"}, data={"email": "a", "age": "9"})
    assert r.status_code == 422
    problem = r.json()
    assert form_errors(problem) == {"query.page": ["must be of type integer"],
                                    "email": ["must be at least 3 characters long"],
                                    "age": ["must be greater than or equal to 13"]}


@pytest.mark.parametrize("strip, expected", [
    (None, {"body.title": ["x"], "query.q": ["y"]}),       # a plain list is taken as it is
    ((), {"body.title": ["x"], "query.q": ["y"]}),
    ("body", {"title": ["x"], "query.q": ["y"]}),
    (["body", "title"], {"": ["x"], "query.q": ["y"]}),
    (("query",), {"body.title": ["x"], "q": ["y"]}),
])
def test_strip_names_the_leading_location_to_drop(strip, expected):
    errors = [{"loc": ["body", "title"], "msg": "x", "type": "t"}, {"loc": ["query", "q"], "msg": "y", "type": "t"}]
    assert form_errors(errors, strip=strip) == expected
    assert form_errors(tuple(errors), strip=strip) == expected


def test_strip_applies_to_a_request_validation_error_too():
    exc = RequestValidationError([{"loc": ["body", "post", "title"], "msg": "x", "type": "t"}])
    assert form_errors(exc, strip=("body", "post")) == {"title": ["x"]}
    assert form_errors(exc, strip=()) == {"body.post.title": ["x"]}


def test_messages_replace_the_text_of_an_error_type_and_repeats_are_kept_once():
    errors = [
        {"loc": ["name"], "msg": "field required", "type": "required"},
        {"loc": ["email"], "msg": "must be an email address", "type": "format"},
        {"loc": ["email"], "msg": "must be at least 5 characters long", "type": "minLength"},
        {"loc": ["email"], "msg": "must be an email address", "type": "format"},
    ]
    assert form_errors(errors, messages={"required": "Please fill this in."}) == {
        "name": ["Please fill this in."],
        "email": ["must be an email address", "must be at least 5 characters long"],
    }


def test_messages_for_one_field_win_over_messages_for_the_type():
    errors = [
        {"loc": ["title"], "msg": "field required", "type": "required"},
        {"loc": ["body"], "msg": "field required", "type": "required"},
        {"loc": ["address", "city"], "msg": "field required", "type": "required"},
        {"loc": [], "msg": "must be of type object", "type": "type"},
    ]
    texts = {"title.required": "A title, please.", "address.city.required": "Which city?",
             "required": "Please fill this in.", "type": "Send the form again."}
    assert form_errors(errors, messages=texts) == {
        "title": ["A title, please."], "body": ["Please fill this in."], "address.city": ["Which city?"],
        "": ["Send the form again."]}


def test_malformed_entries_of_a_problem_from_elsewhere_are_skipped_or_kept_where_they_can_be():
    problem = {"errors": [
        "text", None, {"msg": "no loc"}, {"loc": "title", "msg": "loc not a list"},
        {"loc": ["n"], "msg": 5, "type": ["unhashable"]}, {"loc": ["m"]},
    ]}
    assert form_errors(problem, messages={"x": "y"}) == {"": ["no loc", "loc not a list"], "n": ["5"], "m": [""]}
    assert form_errors({"errors": "not a list"}) == {}
    assert form_errors({"title": "no errors key"}) == {}
    assert form_errors([]) == {}


def test_anything_else_is_a_type_error():
    with pytest.raises(TypeError) as exc:
        form_errors("title: required")
    assert str(exc.value) == ("form_errors() takes a ValidationError, a RequestValidationError, a problem "
                              "document or a list of errors, not str")


# -- the documented pattern: validate in the handler, show the form again -------------------------

FORM_TEMPLATE = """\
{% macro field(name, label) %}
<label for="f-{{ name }}">{{ label }}</label>
<input id="f-{{ name }}" name="{{ name }}" value="{{ values[name] }}"{% if errors[name] %} aria-invalid="true"{% endif %}>
{% for message in errors[name] %}
<p class="error">{{ message }}</p>
{% endfor %}
{% endmacro %}
{% for message in errors[""] %}<p class="error">{{ message }}</p>{% endfor %}
<form method="post">
{{ field("email", "Email") }}{{ field("body", "About you") }}{{ field("address.city", "City") }}</form>
"""


def signup_app(tmp_path):
    (tmp_path / "signup.html").write_text(FORM_TEMPLATE, encoding="utf-8")
    engine = TemplateEngine(str(tmp_path), trim_blocks=True, lstrip_blocks=True)
    app = Covet()

    @app.get("/signup")
    def blank(request: Request):
        return engine.response(request, "signup.html", {"values": {}, "errors": {}})

    @app.post("/signup")
    async def signup(request: Request):
        form = await request.form()
        data = {"email": form.get("email", ""), "body": form.get("body", "")}
        if form.get("address.city") is not None:
            data["address"] = {"city": form["address.city"], "zip": "12345"}
        try:
            Signup.parse(data)
        except ValidationError as exc:
            return engine.response(request, "signup.html", {"values": form, "errors": form_errors(exc)},
                                   status_code=422)
        return "welcome"

    return app


def test_the_blank_form(client, tmp_path):
    r = client(signup_app(tmp_path)).get("/signup")
    assert r.text == ('<form method="post">\n'
                      '<label for="f-email">Email</label>\n<input id="f-email" name="email" value="">\n'
                      '<label for="f-body">About you</label>\n<input id="f-body" name="body" value="">\n'
                      '<label for="f-address.city">City</label>\n'
                      '<input id="f-address.city" name="address.city" value="">\n</form>')


def test_errors_show_next_to_their_fields_with_the_submitted_values_escaped(client, tmp_path):
    c = client(signup_app(tmp_path))
    r = c.post("/signup", data={"email": '"><script>alert(1)</script>', "body": "", "address.city": ""})
    assert r.status_code == 422
    assert r.text == (
        '<form method="post">\n'
        '<label for="f-email">Email</label>\n'
        '<input id="f-email" name="email" value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'
        ' aria-invalid="true">\n<p class="error">must be an email address</p>\n'
        '<label for="f-body">About you</label>\n<input id="f-body" name="body" value="" aria-invalid="true">\n'
        '<p class="error">must be at least 1 character long</p>\n'
        '<label for="f-address.city">City</label>\n'
        '<input id="f-address.city" name="address.city" value="" aria-invalid="true">\n'
        '<p class="error">must be at least 1 character long</p>\n</form>')
    assert "<script>" not in r.text
    ok = c.post("/signup", data={"email": "ann@example.com", "body": "hi", "address.city": "Oslo"})
    assert (ok.status_code, ok.text) == (200, "welcome")


def test_an_exception_handler_can_show_the_form_of_form_parameters_again(client, tmp_path):
    # With Form() parameters the handler is not called on bad input: an HTML app's handler for
    # RequestValidationError shows the page again from the same parsed form.
    (tmp_path / "login.html").write_text(
        '<input name="user" value="{{ values.user }}">{{ errors.user|join(", ") }}', encoding="utf-8")
    engine = TemplateEngine(str(tmp_path))
    app = Covet()

    @app.exception_handler(RequestValidationError)
    async def show_form_again(request, exc):
        form = await request.form()
        return engine.response(request, "login.html", {"values": form, "errors": form_errors(exc)},
                               status_code=422)

    @app.post("/login")
    def login(user: str = Form(min_length=3, max_length=10)):
        return "hello " + user

    c = client(app)
    r = c.post("/login", data={"user": '"<'})
    assert (r.status_code, r.text) == (422, '<input name="user" value="&#34;&lt;">must be at least 3 characters long')
    assert c.post("/login", data={"user": "ann"}).text == "hello ann"
