"""covet.core.dependencies: where handler arguments come from, their conversion and constraints, Depends, lifecycles."""
import asyncio
import datetime
import decimal
import enum
import threading
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Dict, List, Literal, Optional, TypedDict

import pytest

from covet import (
    AsyncTestClient, BackgroundTasks, Body, Cookie, Covet, Depends, Header, HTTPException, Path, Query, Request,
    StreamingResponse,
)


def errors_of(response):
    """The ``errors`` list of a 422, after checking the rest of the problem document."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("errors", "instance")} == {
        "type": "about:blank", "title": "Unprocessable Content", "status": 422, "detail": "Request validation failed",
    }
    return body["errors"]


def err(loc, msg, type_):
    return {"loc": list(loc), "msg": msg, "type": type_}


INT_MSG = "must be of type integer"
FLOAT_MSG = "must be of type number"
BOOL_MSG = "must be of type boolean"


class Color(str, enum.Enum):
    red = "red"
    green = "green"


class Level(enum.Enum):
    low = 1
    high = 2


@pytest.fixture
def typed_app():
    app = Covet()

    @app.get("/s")
    async def s(q: str):
        return {"q": q}

    @app.get("/i")
    async def i(q: int):
        return {"q": q}

    @app.get("/f")
    async def f(q: float):
        return {"q": q}

    @app.get("/b")
    async def b(q: bool):
        return {"q": q}

    @app.get("/u")
    async def u(q: uuid.UUID):
        return {"q": str(q), "type": type(q).__name__}

    @app.get("/d")
    async def d(q: datetime.date):
        return {"q": q.isoformat(), "type": type(q).__name__}

    @app.get("/dt")
    async def dt(q: datetime.datetime):
        return {"q": q.isoformat(), "type": type(q).__name__}

    @app.get("/dec")
    async def dec(q: decimal.Decimal):
        return {"q": str(q), "type": type(q).__name__}

    @app.get("/e")
    async def e(q: Color):
        return {"q": q.value, "is_member": q is Color(q.value)}

    @app.get("/ie")
    async def ie(q: Level):
        return {"q": q.name}

    @app.get("/lit")
    async def lit(q: Literal["asc", "desc"] = "asc"):
        return {"q": q}

    @app.get("/opt")
    async def opt(q: Optional[int] = None):
        return {"q": q}

    @app.get("/list")
    async def lst(q: List[int] = Query([])):
        return {"q": q}

    @app.get("/plainlist")
    async def plainlist(tag: List[str]):
        return {"tag": tag}

    @app.get("/untyped")
    async def untyped(q="dflt"):
        return {"q": q}

    return app


# -- query: each simple type ---------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("/s?q=hello%20world", {"q": "hello world"}),
    ("/s?q=", {"q": ""}),
    ("/i?q=42", {"q": 42}),
    ("/i?q=-7", {"q": -7}),
    ("/f?q=1.5", {"q": 1.5}),
    ("/f?q=1e3", {"q": 1000.0}),
    ("/f?q=-2", {"q": -2.0}),
    ("/u?q=12345678-1234-5678-1234-567812345678", {"q": "12345678-1234-5678-1234-567812345678", "type": "UUID"}),
    ("/d?q=2024-02-29", {"q": "2024-02-29", "type": "date"}),
    ("/dt?q=2024-01-02T03:04:05Z", {"q": "2024-01-02T03:04:05+00:00", "type": "datetime"}),
    ("/dt?q=2024-01-02T03:04:05.250%2B02:00", {"q": "2024-01-02T03:04:05.250000+02:00", "type": "datetime"}),
    ("/dec?q=1.10", {"q": "1.10", "type": "Decimal"}),
    ("/dec?q=" + "1" * 101, {"q": "1" * 101, "type": "Decimal"}),
    ("/e?q=green", {"q": "green", "is_member": True}),
    ("/ie?q=2", {"q": "high"}),
    ("/lit?q=desc", {"q": "desc"}),
    ("/lit", {"q": "asc"}),
    ("/opt", {"q": None}),
    ("/opt?q=5", {"q": 5}),
    ("/list?q=1&q=2&q=3", {"q": [1, 2, 3]}),
    ("/list", {"q": []}),
    ("/plainlist?tag=a&tag=b", {"tag": ["a", "b"]}),
    ("/untyped?q=x", {"q": "x"}),
    ("/untyped", {"q": "dflt"}),
])
def test_query_values_are_converted_to_the_annotation(client, typed_app, url, expected):
    r = client(typed_app).get(url)
    assert r.status_code == 200, r.text
    assert r.json() == expected


@pytest.mark.parametrize("text", ["true", "True", "TRUE", "1", "yes", "on"])
def test_bool_true_forms(client, typed_app, text):
    assert client(typed_app).get("/b", params={"q": text}).json() == {"q": True}


@pytest.mark.parametrize("text", ["false", "False", "0", "no", "off"])
def test_bool_false_forms(client, typed_app, text):
    assert client(typed_app).get("/b", params={"q": text}).json() == {"q": False}


@pytest.mark.parametrize("url, error", [
    ("/i?q=abc", err(["query", "q"], INT_MSG, "type")),
    ("/i?q=1.0", err(["query", "q"], INT_MSG, "type")),
    ("/i?q=1_000", err(["query", "q"], INT_MSG, "type")),
    ("/i?q=%D9%A3", err(["query", "q"], INT_MSG, "type")),
    ("/i?q=" + "9" * 5000, err(["query", "q"], INT_MSG, "type")),
    ("/i?q=", err(["query", "q"], INT_MSG, "type")),
    ("/f?q=abc", err(["query", "q"], FLOAT_MSG, "type")),
    ("/f?q=nan", err(["query", "q"], FLOAT_MSG, "type")),
    ("/f?q=inf", err(["query", "q"], FLOAT_MSG, "type")),
    ("/f?q=1_0", err(["query", "q"], FLOAT_MSG, "type")),
    ("/b?q=maybe", err(["query", "q"], BOOL_MSG, "type")),
    ("/b?q=t", err(["query", "q"], BOOL_MSG, "type")),
    ("/b?q=y", err(["query", "q"], BOOL_MSG, "type")),
    ("/b?q=f", err(["query", "q"], BOOL_MSG, "type")),
    ("/b?q=n", err(["query", "q"], BOOL_MSG, "type")),
    ("/u?q=nope", err(["query", "q"], "must be a UUID", "format")),
    ("/d?q=2023-02-29", err(["query", "q"], "must be a date (YYYY-MM-DD)", "format")),
    ("/d?q=yesterday", err(["query", "q"], "must be a date (YYYY-MM-DD)", "format")),
    ("/dt?q=2024-01-02T25:00:00Z", err(["query", "q"], "must be an RFC 3339 date-time with offset", "format")),
    ("/dec?q=NaN", err(["query", "q"], "must be a decimal number", "format")),
    ("/dec?q=1.5.6", err(["query", "q"], "must be a decimal number", "format")),
    # Strict where a lenient parse would guess: a sign, a bare hex UUID, a naive time.
    ("/i?q=%2B3", err(["query", "q"], INT_MSG, "type")),
    ("/u?q=12345678123456781234567812345678", err(["query", "q"], "must be a UUID", "format")),
    ("/dt?q=2024-01-02T03:04:05", err(["query", "q"], "must be an RFC 3339 date-time with offset", "format")),
    ("/e?q=blue", err(["query", "q"], 'must be one of: "red", "green"', "enum")),
    ("/ie?q=3", err(["query", "q"], "must be one of: 1, 2", "enum")),
    ("/lit?q=up", err(["query", "q"], 'must be one of: "asc", "desc"', "enum")),
    ("/opt?q=x", err(["query", "q"], INT_MSG, "type")),
    ("/list?q=1&q=x", err(["query", "q", 1], INT_MSG, "type")),
    ("/s", err(["query", "q"], "field required", "required")),
    ("/plainlist", err(["query", "tag"], "field required", "required")),
])
def test_bad_query_values_give_one_exact_422_error(client, typed_app, url, error):
    r = client(typed_app).get(url)
    assert errors_of(r) == [error]
    assert r.json()["instance"] == url.partition("?")[0]


def test_the_last_of_repeated_keys_wins_for_a_scalar(client, typed_app):
    assert client(typed_app).get("/i?q=1&q=2").json() == {"q": 2}


# -- Query constraints -------------------------------------------------------------------

def test_query_numeric_constraints(client):
    app = Covet()

    @app.get("/n")
    async def n(a: int = Query(0, ge=1), b: int = Query(5, gt=1), c: float = Query(0.0, le=1.5), d: int = Query(0, lt=10)):
        return [a, b, c, d]

    c = client(app)
    assert c.get("/n?a=1&b=2&c=1.5&d=9").json() == [1, 2, 1.5, 9]
    assert errors_of(c.get("/n?a=0&b=1&c=1.6&d=10")) == [
        err(["query", "a"], "must be greater than or equal to 1", "minimum"),
        err(["query", "b"], "must be greater than 1", "exclusiveMinimum"),
        err(["query", "c"], "must be less than or equal to 1.5", "maximum"),
        err(["query", "d"], "must be less than 10", "exclusiveMaximum"),
    ]


def test_query_string_constraints_pattern_and_alias(client):
    app = Covet()

    @app.get("/t")
    async def t(name: str = Query(min_length=2, max_length=4), code: str = Query("ab", pattern="^[a-z]+$"),
                item_id: int = Query(0, alias="item-id"), tags: List[str] = Query([], min_length=2)):
        return {"name": name, "code": code, "item_id": item_id, "tags": tags}

    c = client(app)
    assert c.get("/t?name=abc&code=xyz&item-id=4&tags=a&tags=b").json() == {
        "name": "abc", "code": "xyz", "item_id": 4, "tags": ["a", "b"]}
    assert errors_of(c.get("/t?name=a&code=X1&item_id=4&tags=a")) == [
        err(["query", "name"], "must be at least 2 characters long", "minLength"),
        err(["query", "code"], 'must match pattern "^[a-z]+$"', "pattern"),
        err(["query", "tags"], "must contain at least 2 items", "minItems"),
    ]
    assert errors_of(c.get("/t?name=abcde")) == [
        err(["query", "name"], "must be at most 4 characters long", "maxLength"),
    ]
    assert errors_of(c.get("/t?name=ab&item-id=x")) == [err(["query", "item-id"], INT_MSG, "type")]


def test_annotated_query_declarations(client):
    app = Covet()

    @app.get("/a")
    async def a(page: Annotated[int, Query(ge=1)] = 1, size: Annotated[Optional[int], Query(alias="per")] = None):
        return [page, size]

    c = client(app)
    assert c.get("/a").json() == [1, None]
    assert c.get("/a?page=3&per=20").json() == [3, 20]
    assert errors_of(c.get("/a?page=0")) == [
        err(["query", "page"], "must be greater than or equal to 1", "minimum")]


def test_default_factory(client):
    app = Covet()

    @app.get("/f")
    async def f(tags: List[str] = Query(default_factory=lambda: ["x"])):
        return tags

    assert client(app).get("/f").json() == ["x"]


# -- path parameters ---------------------------------------------------------------------

def test_path_annotation_failure_is_404_and_constraint_failure_is_422(client):
    app = Covet()

    @app.get("/items/{item_id}")
    async def item(item_id: int = Path(ge=1)):
        return {"item_id": item_id}

    c = client(app)
    assert c.get("/items/5").json() == {"item_id": 5}
    r = c.get("/items/abc")
    assert r.status_code == 404
    assert r.json() == {"type": "about:blank", "title": "Not Found", "status": 404, "instance": "/items/abc"}
    assert errors_of(c.get("/items/0")) == [
        err(["path", "item_id"], "must be greater than or equal to 1", "minimum")]


def test_path_converter_type_stands_without_annotation_and_str_annotation_wins(client):
    app = Covet()

    @app.get("/a/{n:int}")
    async def a(n):
        return {"n": n}

    @app.get("/b/{n:int}")
    async def b(n: str):
        return {"n": n}

    @app.get("/c/{u:uuid}")
    async def c_(u):
        return {"type": type(u).__name__}

    c = client(app)
    assert c.get("/a/7").json() == {"n": 7}
    assert c.get("/b/7").json() == {"n": "7"}
    assert c.get("/c/12345678-1234-5678-1234-567812345678").json() == {"type": "UUID"}


def test_enum_and_uuid_path_annotations_that_do_not_convert_are_404(client):
    app = Covet()

    @app.get("/c/{color}")
    async def color(color: Color):
        return color

    @app.get("/u/{u}")
    async def by_uuid(u: uuid.UUID):
        return str(u)

    c = client(app)
    assert c.get("/c/red").json() == "red"
    assert [c.get(url).status_code for url in ("/c/blue", "/u/x", "/u/12345678-1234-5678-1234-56781234567")] == [404] * 3


def test_optional_lists_read_repeated_query_keys(client):
    app = Covet()

    @app.get("/ol")
    async def ol(q: Optional[List[int]] = Query(None), r: Optional[List[int]] = None):
        return {"q": q, "r": r}

    c = client(app)
    assert c.get("/ol").json() == {"q": None, "r": None}
    assert c.get("/ol?q=1&q=2&r=3").json() == {"q": [1, 2], "r": [3]}


def test_path_declared_without_a_template_param_fails_at_registration():
    app = Covet()

    async def h(x: int = Path()):
        return None

    with pytest.raises(TypeError, match="parameter 'x' is declared Path\\(\\) but the route path has no \\{x\\}"):
        app.add_route("/h", h)


def test_unreadable_parameter_type_fails_at_registration():
    app = Covet()

    async def h(x: complex):
        return None

    with pytest.raises(TypeError, match="cannot read parameter 'x' of type <class 'complex'> from the query"):
        app.add_route("/h", h)


def test_generator_handler_is_refused_at_registration():
    app = Covet()

    async def h():
        yield b"x"

    with pytest.raises(TypeError, match="a handler cannot be a generator; return a StreamingResponse"):
        app.add_route("/h", h)


# -- headers and cookies ---------------------------------------------------------------

def test_header_underscore_becomes_hyphen_alias_and_lists(client):
    app = Covet()

    @app.get("/h")
    async def h(user_agent: str = Header(), token: str = Header(alias="X-Token"),
                x_tag: List[str] = Header([]), raw_name: Optional[str] = Header(None, convert_underscores=False),
                x_n: int = Header(0)):
        return {"ua": user_agent, "token": token, "tags": x_tag, "raw": raw_name, "n": x_n}

    c = client(app)
    r = c.get("/h", headers={"User-Agent": "ua/1", "x-token": "t", "raw_name": "r", "X-N": "3"})
    assert r.json() == {"ua": "ua/1", "token": "t", "tags": [], "raw": "r", "n": 3}
    req = Request("GET", "/h", "", [(b"user-agent", b"u"), (b"x-token", b"t"), (b"x-tag", b"a"), (b"x-tag", b"b")])
    r = asyncio.run(app.dispatch(req))
    assert r.body == b'{"ua":"u","token":"t","tags":["a","b"],"raw":null,"n":0}'


def test_missing_and_bad_headers_are_422_with_hyphenated_loc(client):
    app = Covet()

    @app.get("/h")
    async def h(x_request_id: str = Header(), x_n: int = Header(0)):
        return None

    assert errors_of(client(app).get("/h", headers={"x-n": "many"})) == [
        err(["header", "x-request-id"], "field required", "required"),
        err(["header", "x-n"], INT_MSG, "type"),
    ]


def test_cookie_parameters(client):
    app = Covet()

    @app.get("/c")
    async def c_(session: str = Cookie(), theme: str = Cookie("light"), visits: int = Cookie(0)):
        return [session, theme, visits]

    c = client(app)
    assert c.get("/c", cookies={"session": "abc", "visits": "2"}).json() == ["abc", "light", 2]
    assert errors_of(c.get("/c", cookies={"visits": "x"})) == [
        err(["cookie", "session"], "field required", "required"),
        err(["cookie", "visits"], INT_MSG, "type"),
    ]


# -- the JSON body -----------------------------------------------------------------------

@dataclass
class Item:
    name: str
    price: float
    tags: List[str] = field(default_factory=list)


class Point(TypedDict):
    x: int
    y: int


@pytest.fixture
def body_app():
    app = Covet()

    @app.post("/dict")
    async def d(data: dict):
        return {"got": data}

    @app.post("/typed-dict")
    async def td(data: Dict[str, int]):
        return data

    @app.post("/list")
    async def lst(data: List[int] = Body()):  # a bare List[int] reads repeated query keys
        return {"sum": sum(data)}

    @app.post("/item")
    async def item(item: Item):
        return {"type": type(item).__name__, "item": item}

    @app.post("/point")
    async def point(p: Point):
        return {"type": type(p).__name__, "p": p}

    @app.post("/embed")
    async def embed(note: str = Body(embed=True)):
        return {"note": note}

    @app.post("/two")
    async def two(item: Item, point: Point, count: int = Body(1)):
        return {"item": item.name, "point": point, "count": count}

    @app.post("/optional")
    async def optional(data: Optional[dict] = None):
        return {"data": data}

    return app


@pytest.mark.parametrize("url, payload, expected", [
    ("/dict", {"a": [1, {"b": None}]}, {"got": {"a": [1, {"b": None}]}}),
    ("/typed-dict", {"a": 1, "b": 2}, {"a": 1, "b": 2}),
    ("/list", [1, 2, 3], {"sum": 6}),
    ("/item", {"name": "pen", "price": 2}, {"type": "Item", "item": {"name": "pen", "price": 2.0, "tags": []}}),
    ("/point", {"x": 1, "y": 2}, {"type": "dict", "p": {"x": 1, "y": 2}}),
    ("/embed", {"note": "hi"}, {"note": "hi"}),
    ("/two", {"item": {"name": "a", "price": 1}, "point": {"x": 0, "y": 1}},
     {"item": "a", "point": {"x": 0, "y": 1}, "count": 1}),
    ("/two", {"item": {"name": "a", "price": 1}, "point": {"x": 0, "y": 1}, "count": 4},
     {"item": "a", "point": {"x": 0, "y": 1}, "count": 4}),
])
def test_json_bodies_are_read_into_the_annotation(client, body_app, url, payload, expected):
    r = client(body_app).post(url, json=payload)
    assert r.status_code == 200, r.text
    assert r.json() == expected


@dataclass
class Line:
    qty: int


@dataclass
class Order:
    first: Line
    lines: List[Line] = field(default_factory=list)
    note: Optional[str] = None


def test_nested_dataclass_bodies_report_the_full_location(client):
    app = Covet()

    @app.post("/orders")
    async def orders(order: Order):
        return order

    c = client(app)
    assert c.post("/orders", json={"first": {"qty": 1}}).json() == {"first": {"qty": 1}, "lines": [], "note": None}
    assert errors_of(c.post("/orders", json={"first": {}, "lines": [{"qty": 2}, {"qty": "x"}], "note": 5})) == [
        err(["body", "first", "qty"], "field required", "required"),
        err(["body", "lines", 1, "qty"], INT_MSG, "type"),
        err(["body", "note"], "must be of type string or null", "type"),
    ]


def test_optional_body_may_be_absent(client, body_app):
    assert client(body_app).post("/optional").json() == {"data": None}


@pytest.mark.parametrize("url, payload, errors", [
    ("/dict", [1], [err(["body"], "must be of type object", "type")]),
    ("/typed-dict", {"a": "1"}, [err(["body", "a"], INT_MSG, "type")]),
    ("/list", [1, "2", True], [err(["body", 1], INT_MSG, "type"),
                               err(["body", 2], INT_MSG, "type")]),
    ("/list", {"a": 1}, [err(["body"], "must be of type array", "type")]),
    ("/item", {"name": 5, "tags": ["a", 1]}, [
        err(["body", "name"], "must be of type string", "type"),
        err(["body", "price"], "field required", "required"),
        err(["body", "tags", 1], "must be of type string", "type"),
    ]),
    ("/point", {"x": 1.5}, [err(["body", "x"], INT_MSG, "type"),
                            err(["body", "y"], "field required", "required")]),
    ("/embed", {"other": 1}, [err(["body", "note"], "field required", "required")]),
    ("/embed", "hi", [err(["body"], "must be of type object", "type")]),
    ("/two", {"item": {"name": "a", "price": "x"}}, [
        err(["body", "item", "price"], FLOAT_MSG, "type"),
        err(["body", "point"], "field required", "required"),
    ]),
])
def test_body_violations_are_listed_with_their_json_path(client, body_app, url, payload, errors):
    assert errors_of(client(body_app).post(url, json=payload)) == errors


def test_empty_body_for_a_required_body_is_422_required(client, body_app):
    c = client(body_app)
    assert errors_of(c.post("/dict")) == [err(["body"], "field required", "required")]
    assert errors_of(c.post("/two")) == [err(["body", "item"], "field required", "required"),
                                         err(["body", "point"], "field required", "required")]


@pytest.mark.parametrize("content_type", ["text/plain", "application/jsonx", "text/json", None,
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_body_is_parsed_only_when_declared_json(client, body_app, content_type):
    # A JSON text under another media type is never parsed as JSON, and a dict body
    # takes no form: a cross-site text/plain or form post cannot reach a JSON
    # endpoint past CSRF defences (FastAPI CVE-2021-32677).
    headers = {"content-type": content_type} if content_type else {}
    r = client(body_app).post("/dict", content=b'{"a": 1}', headers=headers)
    assert r.status_code == 415
    assert r.json()["detail"] == "expected Content-Type application/json, got %r" % (
        content_type.partition(";")[0] if content_type else "nothing")


def test_a_record_body_names_forms_in_its_415(client, body_app):
    r = client(body_app).post("/item", content=b'{"name": "x"}', headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["detail"] == "expected Content-Type application/json (or a form), got 'text/plain'"


@dataclass
class Signup:
    name: str
    age: int
    newsletter: bool = False
    tags: List[str] = field(default_factory=list)


def test_a_urlencoded_form_reaches_a_dataclass_body_with_coerced_values(client):
    app = Covet()

    @app.post("/signup")
    async def signup(s: Signup):
        return {"type": type(s).__name__, "s": s}

    c = client(app)
    r = c.post("/signup", data=[("name", "Ada"), ("age", "36"), ("newsletter", "on"), ("tags", "a"), ("tags", "b")])
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "Signup", "s": {"name": "Ada", "age": 36, "newsletter": True, "tags": ["a", "b"]}}
    assert c.post("/signup", data={"name": "Ada", "age": "36", "tags": "a"}).json()["s"] == {
        "name": "Ada", "age": 36, "newsletter": False, "tags": ["a"]}
    assert errors_of(c.post("/signup", data={"name": "Ada", "age": "x", "newsletter": "maybe"})) == [
        err(["body", "age"], INT_MSG, "type"),
        err(["body", "newsletter"], BOOL_MSG, "type"),
    ]
    # A missing field of a body read as a form: the detail names the Content-Type that made it so.
    r = c.post("/signup", data={"age": "x", "newsletter": "maybe"})
    assert r.status_code == 422
    assert r.json()["detail"] == ("the body was read as a form (Content-Type: application/x-www-form-urlencoded); "
                                  "send application/json")
    assert r.json()["errors"] == [
        err(["body", "name"], "field required", "required"),
        err(["body", "age"], INT_MSG, "type"),
        err(["body", "newsletter"], BOOL_MSG, "type"),
    ]


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json",
    "application/problem+json",
])
def test_json_media_types_are_accepted(client, body_app, content_type):
    r = client(body_app).post("/dict", content=b'{"a": 1}', headers={"content-type": content_type})
    assert r.json() == {"got": {"a": 1}}


@pytest.mark.parametrize("body, detail", [
    (b'{"a":', "malformed JSON: Expecting value at position 5"),
    (b"nul", "malformed JSON: Expecting value at position 0"),
    (b"\xff{}", "malformed JSON: not UTF-8"),
    (b"[" * 10000 + b"]" * 10000, "malformed JSON: nested too deeply"),
    (b"{\"a\":" * 10000 + b"1" + b"}" * 10000, "malformed JSON: nested too deeply"),
    (b"1" * 5000, "malformed JSON: number too large"),
    (b'{"n": -' + b"9" * 5000 + b"}", "malformed JSON: number too large"),
    (b'{"n": NaN}', "malformed JSON: NaN is not a JSON value"),
    (b"[Infinity]", "malformed JSON: Infinity is not a JSON value"),
    (b"[1e999]", "malformed JSON: number out of range"),
])
def test_malformed_json_body_is_400(client, body_app, body, detail):
    r = client(body_app).post("/dict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail,
                        "instance": "/dict"}


def test_every_violation_of_a_request_comes_in_one_422(client):
    app = Covet()

    def needs_token(x_token: str = Header()):
        return x_token

    @app.post("/all/{n}")
    async def everything(n: int = Path(le=10), q: int = Query(), flag: bool = Query(False),
                         sid: str = Cookie(), token=Depends(needs_token), item: Item = Body()):
        return None

    r = client(app).post("/all/11?flag=perhaps", json={"name": 1, "price": 2})
    assert errors_of(r) == [
        err(["path", "n"], "must be less than or equal to 10", "maximum"),
        err(["query", "q"], "field required", "required"),
        err(["query", "flag"], BOOL_MSG, "type"),
        err(["cookie", "sid"], "field required", "required"),
        err(["header", "x-token"], "field required", "required"),
        err(["body", "name"], "must be of type string", "type"),
    ]


# -- Depends -----------------------------------------------------------------------------------

def test_sync_async_generator_and_async_generator_dependencies(client):
    app = Covet()

    def sync_dep():
        return "sync:" + threading.current_thread().name.split("_")[0]

    async def async_dep():
        return "async"

    def gen_dep():
        yield "gen"

    async def agen_dep():
        yield "agen"

    @app.get("/d")
    async def d(a=Depends(sync_dep), b=Depends(async_dep), c=Depends(gen_dep), e=Depends(agen_dep)):
        return [a, b, c, e]

    assert client(app).get("/d").json() == ["sync:covet-worker", "async", "gen", "agen"]


def test_dependencies_take_request_params_and_other_dependencies(client):
    app = Covet()

    def get_db(request: Request):
        return {"path": request.path}

    async def get_user(db=Depends(get_db), user_id: int = Query(alias="uid")):
        return {"db": db, "user": user_id}

    @app.get("/me")
    def me(user=Depends(get_user), req: Request = None):
        return {"user": user, "method": req.method}

    c = client(app)
    assert c.get("/me?uid=3").json() == {"user": {"db": {"path": "/me"}, "user": 3}, "method": "GET"}
    assert errors_of(c.get("/me?uid=x")) == [err(["query", "uid"], INT_MSG, "type")]


def test_class_and_annotation_dependencies(client):
    app = Covet()

    class Pager:
        def __init__(self, page: int = 1, size: int = Query(10, le=100)):
            self.page, self.size = page, size

    @app.get("/p")
    async def p(pager: Pager = Depends()):
        return [pager.page, pager.size]

    c = client(app)
    assert c.get("/p?page=2").json() == [2, 10]
    assert errors_of(c.get("/p?size=1000")) == [
        err(["query", "size"], "must be less than or equal to 100", "maximum")]


def test_dependency_used_twice_runs_once_per_request(client):
    app = Covet()
    calls = []

    def counter():
        calls.append(1)
        return len(calls)

    def a(n=Depends(counter)):
        return n

    def b(n=Depends(counter)):
        return n

    @app.get("/c")
    async def c_(x=Depends(a), y=Depends(b), z=Depends(counter)):
        return [x, y, z]

    c = client(app)
    assert c.get("/c").json() == [1, 1, 1]
    assert c.get("/c").json() == [2, 2, 2]
    assert len(calls) == 2


def test_use_cache_false_runs_the_dependency_each_time(client):
    app = Covet()
    calls = []

    def counter():
        calls.append(1)
        return len(calls)

    @app.get("/c")
    async def c_(x=Depends(counter), y=Depends(counter, use_cache=False)):
        return [x, y]

    assert client(app).get("/c").json() == [1, 2]


def test_dependency_raising_http_exception_answers_with_it(client):
    app = Covet()

    def auth(authorization: Optional[str] = Header(None)):
        if authorization != "Bearer ok":
            raise HTTPException(401, "bad token", headers={"WWW-Authenticate": "Bearer"})
        return "user"

    @app.get("/private")
    async def private(user=Depends(auth)):
        return user

    c = client(app)
    r = c.get("/private")
    assert (r.status_code, r.headers["www-authenticate"], r.json()["detail"]) == (401, "Bearer", "bad token")
    assert c.get("/private", headers={"authorization": "Bearer ok"}).text == "user"


def test_dependency_that_does_not_yield_is_an_error(client):
    app = Covet()

    def broken():
        if False:
            yield

    @app.get("/x")
    async def x(d=Depends(broken)):
        return None

    with pytest.raises(RuntimeError, match="did not yield"):
        client(app).get("/x")


def lifecycle_app(events, raise_in_handler=None):
    app = Covet()

    def sync_resource():
        events.append("sync setup")
        try:
            yield "S"
        except Exception as exc:
            events.append("sync saw %s" % type(exc).__name__)
            raise
        finally:
            events.append("sync teardown")

    async def async_resource(s=Depends(sync_resource)):
        events.append("async setup")
        try:
            yield "A"
        except Exception as exc:
            events.append("async saw %s" % type(exc).__name__)
            raise
        finally:
            events.append("async teardown")

    def stream():
        events.append("body sent")
        yield b"body"

    @app.get("/r")
    async def r(a=Depends(async_resource), tasks: BackgroundTasks = None):
        events.append("handler")
        tasks.add_task(events.append, "background 1")

        async def second():
            events.append("background 2")
        tasks.add_task(second)
        if raise_in_handler is not None:
            raise raise_in_handler
        return StreamingResponse(stream())

    return app


def test_order_setup_handler_response_sent_background_then_teardown(client):
    events = []
    r = client(lifecycle_app(events)).get("/r")
    assert r.content == b"body"
    assert events == [
        "sync setup", "async setup", "handler", "body sent", "background 1", "background 2",
        "async teardown", "sync teardown",
    ]


def test_handler_exception_is_thrown_into_yield_dependencies(client):
    events = []
    r = client(lifecycle_app(events, ValueError("boom")), raise_server_exceptions=False).get("/r")
    assert r.status_code == 500
    assert events == [
        "sync setup", "async setup", "handler",
        "async saw ValueError", "async teardown", "sync saw ValueError", "sync teardown",
    ]


def test_yield_dependencies_close_even_when_the_test_client_raises(client):
    events = []
    with pytest.raises(ValueError, match="boom"):
        client(lifecycle_app(events, ValueError("boom"))).get("/r")
    assert events[-4:] == ["async saw ValueError", "async teardown", "sync saw ValueError", "sync teardown"]


def test_http_exception_from_the_handler_reaches_yield_dependencies(client):
    events = []
    r = client(lifecycle_app(events, HTTPException(409, "taken"))).get("/r")
    assert (r.status_code, r.json()["detail"]) == (409, "taken")
    assert "async saw HTTPException" in events and events[-1] == "sync teardown"


def test_failing_teardown_is_logged_and_the_response_stands(client, caplog):
    app = Covet()

    def dep():
        yield 1
        raise RuntimeError("close failed")

    def twice():
        yield 2
        yield 3

    @app.get("/x")
    async def x(a=Depends(dep), b=Depends(twice)):
        return [a, b]

    assert client(app).get("/x").json() == [1, 2]
    assert [(rec.getMessage(), rec.exc_info[0]) for rec in caplog.records] == [
        ("dependency test_failing_teardown_is_logged_and_the_response_stands.<locals>.twice failed during teardown",
         RuntimeError),
        ("dependency test_failing_teardown_is_logged_and_the_response_stands.<locals>.dep failed during teardown",
         RuntimeError),
    ]


def test_failing_background_task_is_logged_and_the_rest_still_run(client, caplog):
    app = Covet()
    done = []

    def bad():
        raise RuntimeError("task failed")

    @app.post("/t")
    async def t(tasks: BackgroundTasks):
        tasks.add_task(bad)
        tasks.add_task(done.append, "ok")
        return {"queued": 2}

    r = client(app).post("/t")
    assert r.json() == {"queued": 2}
    assert done == ["ok"]
    assert [rec.getMessage() for rec in caplog.records] == ["background task 'test_failing_background_task_is_logged_and_the_rest_still_run.<locals>.bad' failed"]


def test_app_level_and_group_dependencies_run_before_the_handler(client):
    order = []

    def app_dep():
        order.append("app")

    def group_dep():
        order.append("group")

    app = Covet(dependencies=[Depends(app_dep)])
    api = app.group("/api", dependencies=[group_dep])

    @api.get("/x")
    async def x():
        order.append("handler")

    @app.get("/y")
    async def y():
        order.append("plain")

    c = client(app)
    assert c.get("/api/x").status_code == 204
    assert c.get("/y").status_code == 204
    assert order == ["app", "group", "handler", "app", "plain"]


def test_app_level_dependency_can_refuse_every_request(client):
    def api_key(x_key: str = Header()):
        if x_key != "k":
            raise HTTPException(403, "wrong key")

    app = Covet(dependencies=[Depends(api_key)])

    @app.get("/x")
    async def x():
        return "in"

    c = client(app)
    assert c.get("/x", headers={"x-key": "k"}).text == "in"
    assert c.get("/x", headers={"x-key": "no"}).status_code == 403
    assert errors_of(c.get("/x")) == [err(["header", "x-key"], "field required", "required")]


# -- handler shapes ---------------------------------------------------------------------------

def test_handler_without_parameters_and_status_code_option(client):
    app = Covet()

    @app.get("/none")
    def none():
        return {"ok": True}

    @app.post("/created", status_code=201)
    async def created():
        return {"id": 1}

    @app.post("/created-empty", status_code=201)
    async def created_empty():
        return None

    c = client(app)
    assert c.get("/none").json() == {"ok": True}
    r = c.post("/created")
    assert (r.status_code, r.json()) == (201, {"id": 1})
    r = c.post("/created-empty")
    assert (r.status_code, r.content, r.headers["content-length"]) == (201, b"", "0")


def test_request_injected_by_name_or_annotation_in_sync_and_async_handlers(client):
    app = Covet()

    @app.get("/a")
    def a(request):
        return request.path

    @app.get("/b")
    async def b(req: Request):
        return req.path

    c = client(app)
    assert (c.get("/a").text, c.get("/b").text) == ("/a", "/b")


# -- sync handlers run in the thread pool -------------------------------------------------------

def test_blocking_sync_handler_does_not_stall_async_routes():
    app = Covet(thread_pool_size=2)
    gate = threading.Event()

    @app.get("/block")
    def block():
        return {"released": gate.wait(10), "thread": threading.current_thread().name.split("_")[0]}

    @app.get("/release")
    async def release():
        gate.set()
        return "released"

    async def main():
        async with AsyncTestClient(app) as c:
            blocked, released = await asyncio.gather(c.get("/block"), c.get("/release"))
        return blocked.json(), released.text

    assert asyncio.run(main()) == ({"released": True, "thread": "covet-worker"}, "released")


def test_thread_pool_size_bounds_concurrent_sync_handlers():
    app = Covet(thread_pool_size=2)
    lock = threading.Lock()
    running = []
    peak = []
    both_in = threading.Barrier(2, timeout=10)

    @app.get("/w")
    def work():
        with lock:
            running.append(1)
            peak.append(len(running))
        both_in.wait()
        with lock:
            running.pop()
        return None

    async def main():
        async with AsyncTestClient(app) as c:
            rs = await asyncio.gather(*[c.get("/w") for _ in range(6)])
        return [r.status_code for r in rs]

    assert asyncio.run(main()) == [204] * 6
    assert max(peak) == 2
    assert app.thread_pool_size == 2


def test_a_decimal_with_a_huge_exponent_is_refused(client):
    from decimal import Decimal

    app = Covet()

    @app.get("/dec")
    async def dec(q: Decimal):
        return {"q": str(q)}

    c = client(app)
    assert c.get("/dec?q=1e9999").json() == {"q": "1E+9999"}
    assert errors_of(c.get("/dec?q=1e99999")) == [err(["query", "q"], "must be a decimal number", "format")]
