"""The OpenAPI 3.1 document (the /docs page: tests/test_openapi_docs.py)."""
import importlib.util
import pathlib
import re
import sys
from typing import List, Optional

import pytest

from covet import Body, Covet, Depends, Header, Path, Query, TestClient
from covet.validation import Field, Model

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_example(name):
    spec = importlib.util.spec_from_file_location("example_" + name, ROOT / "examples" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # get_type_hints on 3.9 looks the module up here
    spec.loader.exec_module(module)
    return module.app


class Task(Model):
    title: str = Field(min_length=1, max_length=200)
    priority: int = Field(1, ge=1, le=5)
    tags: List[str] = []


def make_app():
    app = Covet(title="Tasks", version="2.0.0", description="A task list")

    async def api_key(x_api_key: str = Header(description="the key")):
        return x_api_key

    @app.get("/tasks/{task_id:int}", tags=["tasks"], responses={404: {"description": "No such task"}})
    async def get_task(task_id: int, verbose: bool = Query(False, description="more"), key=Depends(api_key)):
        """Read one task.

        Returns the task with this id.
        """
        return {}

    @app.get("/tasks")
    async def list_tasks(limit: int = Query(10, ge=1, le=100), tag: List[str] = Query([]),
                         q: Optional[str] = Query(None, min_length=2, pattern="^[a-z]+$")):
        return []

    @app.post("/tasks", status_code=201, response_model=Task, tags=["tasks"])
    async def create_task(task: Task):
        return task

    @app.put("/tasks/{task_id}/note")
    async def set_note(task_id: int = Path(ge=1), note: str = Body(embed=True)):
        return None

    @app.get("/hidden", include_in_schema=False)
    async def hidden():
        return {}

    @app.delete("/files/{path:path}", deprecated=True)
    async def delete_file():
        return None

    return app


@pytest.fixture
def doc():
    with TestClient(make_app()) as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        return r.json()


def test_document_header_and_info(doc):
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "Tasks", "version": "2.0.0", "description": "A task list"}


def test_paths_use_openapi_templates_and_skip_hidden_routes(doc):
    assert sorted(doc["paths"]) == ["/files/{path}", "/tasks", "/tasks/{task_id}", "/tasks/{task_id}/note"]


def test_parameters_carry_type_location_constraints_and_descriptions(doc):
    op = doc["paths"]["/tasks/{task_id}"]["get"]
    assert op["parameters"] == [
        {"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "verbose", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
         "description": "more"},
        {"name": "x-api-key", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "the key"},
    ]
    params = {p["name"]: p for p in doc["paths"]["/tasks"]["get"]["parameters"]}
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert params["tag"]["schema"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert params["tag"]["explode"] is True
    assert params["q"]["schema"] == {"type": "string", "minLength": 2, "pattern": "^[a-z]+$"}
    assert params["q"]["required"] is False


def test_summary_description_tags_and_deprecated(doc):
    op = doc["paths"]["/tasks/{task_id}"]["get"]
    assert op["summary"] == "Read one task."
    assert op["description"] == "Returns the task with this id."
    assert op["tags"] == ["tasks"]
    assert doc["paths"]["/files/{path}"]["delete"]["deprecated"] is True


def test_model_body_and_response_model_go_to_components(doc):
    op = doc["paths"]["/tasks"]["post"]
    assert op["requestBody"] == {
        "required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}}
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Task"}
    task = doc["components"]["schemas"]["Task"]
    assert task["properties"]["title"] == {"type": "string", "minLength": 1, "maxLength": 200}
    assert task["required"] == ["title"]


def test_embedded_body_is_an_object_with_that_key(doc):
    op = doc["paths"]["/tasks/{task_id}/note"]["put"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "type": "object", "properties": {"note": {"type": "string"}}, "required": ["note"]}
    assert op["parameters"][0]["schema"] == {"type": "integer", "minimum": 1}


def test_validating_routes_document_the_422_problem_shape(doc):
    op = doc["paths"]["/tasks"]["post"]
    ref = op["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"]
    shape = resolve(doc, ref)
    assert shape["required"] == ["type", "title", "status", "errors"]
    assert shape["properties"]["errors"]["items"]["required"] == ["loc", "msg", "type"]
    # a route without parameters or body does not validate anything
    assert "422" not in doc["paths"]["/files/{path}"]["delete"]["responses"]


def test_declared_error_responses_use_the_problem_schema(doc):
    r404 = doc["paths"]["/tasks/{task_id}"]["get"]["responses"]["404"]
    assert r404["description"] == "No such task"
    assert r404["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def structural_problems(doc):
    """The OpenAPI 3.1 rules that matter for clients: declared path params, resolvable refs, unique ids."""
    problems = []
    ids = set()
    for path, item in doc["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            if declared != names:
                problems.append("%s %s declares %s, path has %s" % (method, path, sorted(declared), sorted(names)))
            for p in op.get("parameters", []):
                if p["in"] == "path" and p.get("required") is not True:
                    problems.append("%s %s: path parameter %s not required" % (method, path, p["name"]))
            if op["operationId"] in ids:
                problems.append("duplicate operationId %s" % op["operationId"])
            ids.add(op["operationId"])
            if not op.get("responses"):
                problems.append("%s %s has no responses" % (method, path))

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    try:
                        resolve(doc, v)
                    except (KeyError, AssertionError):
                        problems.append("unresolvable $ref %s" % v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)
    return problems


def test_document_is_structurally_valid(doc):
    assert structural_problems(doc) == []


def test_todo_example_document_is_structurally_valid(tmp_path):
    load_example("todo_api")
    app = sys.modules["example_todo_api"].create_app(database_url="sqlite:///%s" % (tmp_path / "todo.db"))
    with TestClient(app) as c:  # starting the app migrates its database: a file of the test's own
        doc = c.get("/openapi.json").json()
    assert doc["paths"], "the example has routes"
    assert structural_problems(doc) == []


def test_structural_check_catches_a_broken_document():
    broken = {"paths": {"/a/{x}": {"get": {"operationId": "a", "responses": {"200": {"$ref": "#/nope"}}}},
                        "/b": {"get": {"operationId": "a", "responses": {}}}},
              "components": {}}
    assert structural_problems(broken) == [
        "get /a/{x} declares [], path has ['x']",
        "duplicate operationId a",
        "get /b has no responses",
        "unresolvable $ref #/nope",
    ]


def test_a_user_route_wins_over_the_built_in_docs():
    app = Covet()

    @app.get("/docs")
    async def my_docs():
        return {"mine": True}

    with TestClient(app) as c:
        assert c.get("/docs").json() == {"mine": True}


def test_document_is_rebuilt_when_routes_change():
    app = Covet()

    @app.get("/a")
    async def a():
        return {}

    first = app.openapi()
    assert app.openapi() is first

    @app.get("/b")
    async def b():
        return {}

    assert sorted(app.openapi()["paths"]) == ["/a", "/b"]


def test_mounted_apps_appear_under_their_prefix():
    sub = Covet()

    @sub.get("/items/{item_id:int}")
    async def item(item_id: int):
        return {}

    app = Covet()
    app.mount("/sub", sub)
    doc = app.openapi()
    assert list(doc["paths"]) == ["/sub/items/{item_id}"]
    assert structural_problems(doc) == []


def test_routes_that_depend_on_jwt_auth_document_a_bearer_scheme():
    from covet import JWTAuth

    auth = JWTAuth("k" * 40)
    app = Covet()

    @app.get("/me")
    async def me(user=Depends(auth.current_user)):
        return user

    @app.get("/open")
    async def open_route():
        return {}

    doc = app.openapi()
    assert doc["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    assert doc["paths"]["/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in doc["paths"]["/open"]["get"]
    assert structural_problems(doc) == []


def test_routes_guarded_by_require_token_document_a_bearer_scheme():
    # The decorator form guards the route as much as the dependency form does.
    from covet import JWTAuth

    auth = JWTAuth("k" * 40)
    app = Covet()
    admin = app.group("/admin", middleware=[])

    @app.get("/me")
    @auth.require_token
    async def me():
        return {}

    @admin.get("/stats")
    @auth.require_token()
    def stats():
        return {}

    @app.get("/open")
    async def open_route():
        return {}

    doc = app.openapi()
    assert doc["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    assert doc["paths"]["/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/admin/stats"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in doc["paths"]["/open"]["get"]
    assert structural_problems(doc) == []


def test_a_summary_wrapped_over_lines_is_one_summary():
    app = Covet()

    @app.get("/a")
    async def a():
        """Filter the things by this and that, then
        paginate them.

        The rest is the description."""

    op = app.openapi()["paths"]["/a"]["get"]
    assert op["summary"] == "Filter the things by this and that, then paginate them."
    assert op["description"] == "The rest is the description."
