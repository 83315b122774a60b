"""Models, dataclasses and TypedDicts as handler bodies, and response_model (issue 5)."""
import datetime
import logging
from dataclasses import dataclass
from typing import List, Optional, TypedDict

import pytest

from covet import Body, Covet, TestClient
from covet.validation import Field, Model


class Task(Model):
    title: str = Field(min_length=1, max_length=200)
    priority: int = Field(1, ge=1, le=5)
    tags: List[str] = []
    due: Optional[datetime.date] = None


class Public(Model):
    id: int
    title: str


@dataclass
class Point:
    x: int
    y: int = 0


class Pair(TypedDict):
    a: int
    b: str


def problem(r):
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["type"], body["title"], body["status"]) == ("about:blank", "Unprocessable Content", 422)
    return body["errors"]


@pytest.fixture
def app():
    app = Covet()

    @app.post("/tasks", status_code=201)
    async def create(task: Task):
        return {"cls": type(task).__name__, "due": task.due, "task": task.to_dict()}

    @app.post("/tasks/bulk")
    async def bulk(tasks: List[Task]):
        return {"titles": [t.title for t in tasks]}

    @app.post("/point")
    async def point(p: Point):
        return {"cls": type(p).__name__, "x": p.x, "y": p.y}

    @app.post("/pair")
    async def pair(p: Pair):
        return p

    @app.post("/named")
    async def named(task: Task = Body(embed=True)):
        return {"title": task.title}

    @app.get("/public/{item_id:int}", response_model=Public)
    async def public(item_id: int):
        return {"id": item_id, "title": "t", "password": "hunter2"}

    @app.get("/many", response_model=List[Public])
    async def many():
        return [Public(id=1, title="a"), {"id": 2, "title": "b", "extra": True}]

    @app.get("/broken", response_model=Public)
    async def broken():
        return {"id": "not a number"}

    @app.post("/echo", response_model=Task, status_code=201)
    async def echo(task: Task):
        return task, 201, {"X-Echo": "1"}

    return app


def test_a_model_parameter_is_the_validated_json_body(app):
    with TestClient(app) as c:
        r = c.post("/tasks", json={"title": "write docs", "due": "2026-12-01", "tags": ["a"]})
    assert r.status_code == 201
    assert r.json() == {"cls": "Task", "due": "2026-12-01",
                        "task": {"title": "write docs", "priority": 1, "tags": ["a"], "due": "2026-12-01"}}


def test_every_body_violation_is_listed_with_its_location(app):
    with TestClient(app) as c:
        errors = problem(c.post("/tasks", json={"title": "", "priority": 9, "due": "soon", "tags": [1]}))
    assert errors == [
        {"loc": ["body", "title"], "msg": "must be at least 1 character long", "type": "minLength"},
        {"loc": ["body", "priority"], "msg": "must be less than or equal to 5", "type": "maximum"},
        {"loc": ["body", "tags", 0], "msg": "must be of type string", "type": "type"},
        {"loc": ["body", "due"], "msg": "must be a date (YYYY-MM-DD)", "type": "format"},
    ]


def test_a_missing_body_is_required(app):
    with TestClient(app) as c:
        assert problem(c.post("/tasks")) == [{"loc": ["body"], "msg": "field required", "type": "required"}]


def test_a_list_of_models_is_a_body_too(app):
    with TestClient(app) as c:
        assert c.post("/tasks/bulk", json=[{"title": "a"}, {"title": "b"}]).json() == {"titles": ["a", "b"]}
        assert problem(c.post("/tasks/bulk", json=[{"title": "a"}, {}])) == [
            {"loc": ["body", 1, "title"], "msg": "field required", "type": "required"}]


def test_dataclass_and_typeddict_bodies(app):
    with TestClient(app) as c:
        assert c.post("/point", json={"x": 3}).json() == {"cls": "Point", "x": 3, "y": 0}
        assert c.post("/pair", json={"a": 1, "b": "x"}).json() == {"a": 1, "b": "x"}
        assert problem(c.post("/pair", json={"a": "1"})) == [
            {"loc": ["body", "a"], "msg": "must be of type integer", "type": "type"},
            {"loc": ["body", "b"], "msg": "field required", "type": "required"},
        ]


def test_a_model_body_may_come_from_a_form_with_coerced_values(app):
    with TestClient(app) as c:
        r = c.post("/tasks", data={"title": "from a form", "priority": "3", "tags": ["x", "y"]})
    assert r.status_code == 201
    assert r.json()["task"] == {"title": "from a form", "priority": 3, "tags": ["x", "y"], "due": None}


def test_embedded_model_body(app):
    with TestClient(app) as c:
        assert c.post("/named", json={"task": {"title": "t"}}).json() == {"title": "t"}
        assert problem(c.post("/named", json={"title": "t"})) == [
            {"loc": ["body", "task"], "msg": "field required", "type": "required"}]


def test_response_model_filters_undeclared_keys(app):
    with TestClient(app) as c:
        assert c.get("/public/7").json() == {"id": 7, "title": "t"}
        assert c.get("/many").json() == [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]


def test_response_model_keeps_status_and_headers_of_a_tuple(app):
    with TestClient(app) as c:
        r = c.post("/echo", json={"title": "x", "priority": 2})
    assert (r.status_code, r.headers["x-echo"]) == (201, "1")
    assert r.json() == {"title": "x", "priority": 2, "tags": [], "due": None}


def test_a_response_that_breaks_its_model_is_a_logged_500(app, caplog):
    with caplog.at_level(logging.ERROR, logger="covet.error"):
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/broken")
    assert r.status_code == 500
    assert "password" not in r.text and "not a number" not in r.text
    assert any("ResponseValidationError" in rec.getMessage() for rec in caplog.records)


def test_a_model_body_sent_as_a_form_says_so_when_a_field_is_missing(app):
    with TestClient(app) as c:
        # requests' data= where json= was meant: nested values cannot travel in a form.
        r = c.post("/tasks", data={"task": "write docs", "priority": "2"})
        assert r.status_code == 422
        assert r.json()["detail"] == ("the body was read as a form (Content-Type: application/x-www-form-urlencoded); "
                                      "send application/json")
        assert problem(r) == [{"loc": ["body", "title"], "msg": "field required", "type": "required"}]
        r = c.post("/tasks", data={"priority": "2"}, files={"tags": ("t.txt", b"x")})
        assert r.json()["detail"] == "the body was read as a form (Content-Type: multipart/form-data); send application/json"
        # The same fault in JSON, or a form with only bad values, keeps the usual detail.
        assert c.post("/tasks", json={"priority": 2}).json()["detail"] == "Request validation failed"
        r = c.post("/tasks", data={"title": "t", "priority": "9"})
        assert (r.status_code, r.json()["detail"]) == (422, "Request validation failed")


class Meeting(Model):
    title: str
    day: datetime.date
    also: List[datetime.date] = []


@dataclass
class Holiday:
    name: str
    day: datetime.date


def test_a_dict_with_python_values_passes_its_response_model():
    # The handler's dict holds a date (as a Model instance would): it is serialised by the
    # model's field types before the check, as FastAPI users expect, not refused with a 500.
    app = Covet()

    @app.get("/meeting", response_model=Meeting)
    async def meeting():
        return {"title": "review", "day": datetime.date(2026, 12, 7), "also": [datetime.date(2026, 12, 8)],
                "secret": "dropped"}

    @app.get("/holiday", response_model=Holiday)
    async def holiday():
        return {"name": "new year", "day": datetime.date(2027, 1, 1)}

    @app.get("/bad", response_model=Meeting)
    async def bad():
        return {"title": "review", "day": "not a date"}

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/meeting")
    assert r.status_code == 200
    assert r.json() == {"title": "review", "day": "2026-12-07", "also": ["2026-12-08"]}
    r = client.get("/holiday")
    assert r.status_code == 200
    assert r.json() == {"name": "new year", "day": "2027-01-01"}
    assert client.get("/bad").status_code == 500  # still checked: a wrong value is a server bug


@dataclass
class FieldedNote:
    text: str = Field(min_length=1, max_length=5, examples=["milk"])
    count: int = Field(3, ge=1)
    tags: List[str] = Field(default_factory=list)


def test_a_dataclass_field_declared_with_field_is_checked_and_defaulted_as_in_a_model():
    # Before, the Field object was the dataclass's default: {} reached the handler with the Field
    # itself as the text, and no constraint was checked.
    app = Covet()

    @app.post("/notes")
    async def add(note: FieldedNote):
        return {"text": note.text, "count": note.count, "tags": note.tags}

    with TestClient(app) as c:
        assert c.post("/notes", json={"text": "ok"}).json() == {"text": "ok", "count": 3, "tags": []}
        assert c.post("/notes", json={"text": "ok", "count": 2, "tags": ["a"]}).json() == {
            "text": "ok", "count": 2, "tags": ["a"]}
        for body, loc, msg in (({}, ["body", "text"], "field required"),
                               ({"text": ""}, ["body", "text"], "must be at least 1 character long"),
                               ({"text": "toolong"}, ["body", "text"], "must be at most 5 characters long"),
                               ({"text": "ok", "count": 0}, ["body", "count"], "must be greater than or equal to 1")):
            r = c.post("/notes", json=body)
            assert r.status_code == 422, body
            assert [(e["loc"], e["msg"]) for e in r.json()["errors"]] == [(loc, msg)]
    schema = app.openapi()["components"]["schemas"]["FieldedNote"]
    assert schema["required"] == ["text"]
    assert schema["properties"]["text"] == {"type": "string", "minLength": 1, "maxLength": 5, "examples": ["milk"]}
    assert schema["properties"]["count"] == {"type": "integer", "minimum": 1, "default": 3}
