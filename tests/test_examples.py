"""examples/hello.py and examples/todo_api.py, driven through the in-process TestClient.

The examples are imported by path (examples/ is not a package), so what is
tested is exactly the file a reader runs.
"""
import importlib.util
import os
import pathlib
import subprocess
import sys
import urllib.request

import pytest

from covet.testing import TestClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KEY = {"X-API-Key": "dev-key"}


def load(name):
    spec = importlib.util.spec_from_file_location("example_" + name, EXAMPLES / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    # Registered as importlib's recipe does (and as `covet run` does): on 3.9,
    # typing.get_type_hints() looks a dataclass's module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def problem(status, title, detail=None, instance=None, errors=None):
    body = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return body


@pytest.fixture
def hello():
    with TestClient(load("hello").app) as client:
        yield client


@pytest.fixture
def todo_module():
    return load("todo_api")


@pytest.fixture
def todos(todo_module, tmp_path):
    with TestClient(todo_module.create_app(database_url="sqlite:///%s" % (tmp_path / "todo.db"))) as client:
        yield client


# -- hello.py --------------------------------------------------------------

def test_hello_index_is_json(hello):
    r = hello.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"message": "Hello from covet", "try": ["/hello/Ada", "/add/2/3", "/search?q=covet"]}


def test_hello_name_is_html_with_query_flag(hello):
    r = hello.get("/hello/Ada")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == "<h1>Hello, Ada.</h1>"
    assert hello.get("/hello/Ada", params={"excited": "true"}).text == "<h1>Hello, Ada!</h1>"
    assert hello.get("/hello/Ada?excited=0").text == "<h1>Hello, Ada.</h1>"


def test_hello_escapes_the_name_and_decodes_it_once(hello):
    assert hello.get("/hello/%3Cb%3E").text == "<h1>Hello, &lt;b&gt;.</h1>"
    assert hello.get("/hello/caf%C3%A9").text == "<h1>Hello, café.</h1>"


def test_hello_bad_flag_is_422_naming_the_parameter(hello):
    r = hello.get("/hello/Ada?excited=maybe")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == problem(422, "Unprocessable Content", "Request validation failed", "/hello/Ada", [
        {"loc": ["query", "excited"], "msg": "must be of type boolean", "type": "type"},
    ])


def test_hello_add_converts_path_ints_and_404s_on_other_text(hello):
    assert hello.get("/add/2/3").json() == {"a": 2, "b": 3, "sum": 5}
    r = hello.get("/add/2/x")
    assert r.status_code == 404
    assert r.json() == problem(404, "Not Found", "no route for /add/2/x", "/add/2/x")


def test_hello_search_filters_and_limits(hello):
    assert hello.get("/search?q=COV").json() == {"q": "COV", "results": ["covet", "cover", "coven", "covert"]}
    assert hello.get("/search", params={"q": "cov", "limit": 2}).json() == {"q": "cov", "results": ["covet", "cover"]}


def test_hello_search_collects_every_error(hello):
    r = hello.get("/search?limit=0")
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"loc": ["query", "q"], "msg": "field required", "type": "required"},
        {"loc": ["query", "limit"], "msg": "must be greater than or equal to 1", "type": "minimum"},
    ]
    r = hello.get("/search?q=&limit=101")
    assert r.json()["errors"] == [
        {"loc": ["query", "q"], "msg": "must be at least 1 character long", "type": "minLength"},
        {"loc": ["query", "limit"], "msg": "must be less than or equal to 100", "type": "maximum"},
    ]


def test_hello_time_sets_status_and_headers_from_a_tuple(hello):
    r = hello.get("/time")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert list(r.json()) == ["unix"] and isinstance(r.json()["unix"], int)


def test_hello_head_405_options_and_trailing_slash(hello):
    get = hello.get("/")
    head = hello.head("/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    r = hello.post("/")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS"
    r = hello.options("/add/1/2")
    assert (r.status_code, r.headers["allow"], r.content) == (204, "GET, HEAD, OPTIONS", b"")
    r = hello.get("/hello/Ada/?excited=1", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (308, "/hello/Ada?excited=1")
    assert hello.get("/hello/Ada/?excited=1").text == "<h1>Hello, Ada!</h1>"


def test_hello_unknown_path_is_problem_json_or_html_for_browsers(hello):
    r = hello.get("/nowhere")
    assert r.status_code == 404
    assert r.json() == problem(404, "Not Found", "no route for /nowhere", "/nowhere")
    r = hello.get("/nowhere", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == ('<!doctype html><html><head><meta charset="utf-8"><title>404 Not Found</title></head>'
                      "<body><h1>404 Not Found</h1><p>no route for /nowhere</p></body></html>")


@pytest.mark.slow
def test_hello_is_served_by_python_m_covet_run():
    # What `make run` does, on a free port instead of 8000.
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "covet", "run", "examples/hello.py", "--port", "0"],
        cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("covet: serving on http://127.0.0.1:"), line
        port = int(line.split("127.0.0.1:")[1].split()[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/add/20/22" % port, timeout=10) as r:
            assert r.status == 200
            assert r.read() == b'{"a":20,"b":22,"sum":42}'
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        finally:
            proc.stdout.close()


# -- todo_api.py: the CRUD cycle ------------------------------------------

def test_todo_crud_cycle(todos):
    r = todos.get("/api/v1/todos")
    assert (r.status_code, r.json()) == (200, {"items": [], "total": 0, "limit": 20, "offset": 0})

    r = todos.post("/api/v1/todos", json={"title": "buy milk"}, headers=KEY)
    assert r.status_code == 201
    assert r.headers["location"] == "/api/v1/todos/1"
    assert r.json() == {"id": 1, "title": "buy milk", "done": False}
    r = todos.post("/api/v1/todos", json={"title": "walk the dog", "done": True}, headers=KEY)
    assert (r.status_code, r.headers["location"]) == (201, "/api/v1/todos/2")

    assert todos.get("/api/v1/todos/1").json() == {"id": 1, "title": "buy milk", "done": False}
    assert todos.get("/api/v1/todos").json() == {
        "items": [{"id": 1, "title": "buy milk", "done": False}, {"id": 2, "title": "walk the dog", "done": True}],
        "total": 2, "limit": 20, "offset": 0,
    }

    r = todos.put("/api/v1/todos/1", json={"title": "buy oat milk", "done": True}, headers=KEY)
    assert (r.status_code, r.json()) == (200, {"id": 1, "title": "buy oat milk", "done": True})
    assert todos.get("/api/v1/todos/1").json() == {"id": 1, "title": "buy oat milk", "done": True}

    r = todos.delete("/api/v1/todos/1", headers=KEY)
    assert (r.status_code, r.content) == (204, b"")
    assert "content-type" not in r.headers and "content-length" not in r.headers
    assert todos.get("/api/v1/todos/1").status_code == 404
    assert todos.get("/api/v1/todos").json()["total"] == 1

    r = todos.post("/api/v1/todos", json={"title": "ids are not reused"}, headers=KEY)
    assert r.json()["id"] == 3


def test_todo_list_filters_and_paginates(todos):
    for title, done in [("buy milk", False), ("walk the dog", True), ("buy bread", True), ("call mum", False)]:
        assert todos.post("/api/v1/todos", json={"title": title, "done": done}, headers=KEY).status_code == 201

    def ids(query):
        r = todos.get("/api/v1/todos" + query)
        assert r.status_code == 200, r.text
        body = r.json()
        return [t["id"] for t in body["items"]], body["total"]

    assert ids("?done=true") == ([2, 3], 2)
    assert ids("?done=false") == ([1, 4], 2)
    assert ids("?q=BUY") == ([1, 3], 2)
    assert ids("?q=buy&done=yes") == ([3], 1)
    assert ids("?limit=2") == ([1, 2], 4)
    assert ids("?limit=2&offset=2") == ([3, 4], 4)
    assert ids("?limit=2&offset=3") == ([4], 4)
    assert ids("?offset=10") == ([], 4)
    assert todos.get("/api/v1/todos?limit=1&offset=1").json() == {
        "items": [{"id": 2, "title": "walk the dog", "done": True}], "total": 4, "limit": 1, "offset": 1,
    }


def test_todo_search_treats_like_wildcards_as_text(todos):
    for title in ["100% done", "1000 done", "a_b", "axb"]:
        assert todos.post("/api/v1/todos", json={"title": title}, headers=KEY).status_code == 201
    titles = lambda q: [t["title"] for t in todos.get("/api/v1/todos", params={"q": q}).json()["items"]]
    assert titles("0%") == ["100% done"]
    assert titles("a_b") == ["a_b"]
    assert titles("\\") == []


def test_todo_title_too_long_for_its_column_is_422(todos):
    r = todos.post("/api/v1/todos", json={"title": "x" * 201}, headers=KEY)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "title"]]
    assert todos.get("/api/v1/todos").json()["total"] == 0


def test_todo_data_lives_in_the_database_file_across_restarts(todo_module, tmp_path):
    import sqlite3

    url = "sqlite:///%s" % (tmp_path / "todo.db")
    with TestClient(todo_module.create_app(database_url=url)) as first:
        assert first.post("/api/v1/todos", json={"title": "kept"}, headers=KEY).status_code == 201
    with TestClient(todo_module.create_app(database_url=url)) as second:  # the migration is not run twice
        assert second.get("/api/v1/todos/1").json() == {"id": 1, "title": "kept", "done": False}
    conn = sqlite3.connect(str(tmp_path / "todo.db"))
    try:
        assert conn.execute("SELECT version, name FROM covet_migrations").fetchall() == [(1, "create_todos")]
    finally:
        conn.close()


def test_todo_apps_do_not_share_state(todo_module, tmp_path):
    a_url, b_url = ("sqlite:///%s" % (tmp_path / name) for name in ("a.db", "b.db"))
    with TestClient(todo_module.create_app(database_url=a_url)) as a, \
            TestClient(todo_module.create_app("other-key", database_url=b_url)) as b:
        assert a.post("/api/v1/todos", json={"title": "only in a"}, headers=KEY).status_code == 201
        assert b.get("/api/v1/todos").json()["total"] == 0
        assert b.post("/api/v1/todos", json={"title": "x"}, headers=KEY).status_code == 401
        assert b.post("/api/v1/todos", json={"title": "x"}, headers={"X-API-Key": "other-key"}).status_code == 201


def test_todo_module_level_app_is_ready_for_covet_run(todo_module):
    paths = [(sorted(r.methods), r.path, r.name) for r in todo_module.app.routes]
    assert paths == [
        (["GET"], "/api/v1/todos", "list_todos"),
        (["GET"], "/api/v1/todos/{todo_id:int}", "get_todo"),
        (["POST"], "/api/v1/todos", "create_todo"),
        (["PUT"], "/api/v1/todos/{todo_id:int}", "replace_todo"),
        (["DELETE"], "/api/v1/todos/{todo_id:int}", "delete_todo"),
    ]
    assert todo_module.app.url_for("get_todo", todo_id=7) == "/api/v1/todos/7"


# -- todo_api.py: the errors ------------------------------------------------

def test_todo_unknown_ids_are_404_problems(todos):
    for method, kw in [("GET", {}), ("PUT", {"json": {"title": "x"}, "headers": KEY}), ("DELETE", {"headers": KEY})]:
        r = todos.request(method, "/api/v1/todos/99", **kw)
        assert r.status_code == 404, method
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == problem(404, "Not Found", "todo 99 not found", "/api/v1/todos/99")


def test_todo_non_integer_id_is_404_not_422(todos):
    r = todos.get("/api/v1/todos/abc")
    assert r.status_code == 404
    assert r.json() == problem(404, "Not Found", "no route for /api/v1/todos/abc", "/api/v1/todos/abc")
    assert todos.get("/api/v1/todos/-1").status_code == 404


def test_todo_writes_need_the_api_key(todos):
    expected = problem(401, "Unauthorized", "missing or wrong X-API-Key header", "/api/v1/todos")
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}):
        r = todos.post("/api/v1/todos", json={"title": "x"}, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "X-API-Key"
        assert r.json() == expected
    assert todos.delete("/api/v1/todos/1").status_code == 401
    assert todos.put("/api/v1/todos/1", json={"title": "x"}).status_code == 401
    assert todos.get("/api/v1/todos").json()["total"] == 0  # nothing was written


def test_todo_bad_query_lists_every_error(todos):
    r = todos.get("/api/v1/todos?done=maybe&q=&limit=0&offset=-1")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == problem(422, "Unprocessable Content", "Request validation failed", "/api/v1/todos", [
        {"loc": ["query", "done"], "msg": "must be of type boolean", "type": "type"},
        {"loc": ["query", "q"], "msg": "must be at least 1 character long", "type": "minLength"},
        {"loc": ["query", "limit"], "msg": "must be greater than or equal to 1", "type": "minimum"},
        {"loc": ["query", "offset"], "msg": "must be greater than or equal to 0", "type": "minimum"},
    ])
    r = todos.get("/api/v1/todos?limit=101&offset=x")
    assert r.json()["errors"] == [
        {"loc": ["query", "limit"], "msg": "must be less than or equal to 100", "type": "maximum"},
        {"loc": ["query", "offset"], "msg": "must be of type integer", "type": "type"},
    ]


def test_todo_bad_body_is_422_with_each_field(todos):
    r = todos.post("/api/v1/todos", json={"done": "yes"}, headers=KEY)
    assert r.status_code == 422
    assert r.json() == problem(422, "Unprocessable Content", "Request validation failed", "/api/v1/todos", BODY_ERRORS)
    r = todos.post("/api/v1/todos", json=["buy milk"], headers=KEY)
    assert r.status_code == 422
    assert r.json()["errors"] == LIST_BODY_ERRORS
    r = todos.post("/api/v1/todos", headers=KEY)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": ["body"], "msg": "field required", "type": "required"}]
    assert todos.get("/api/v1/todos").json()["total"] == 0


BODY_ERRORS = [
    {"loc": ["body", "title"], "msg": "field required", "type": "required"},
    {"loc": ["body", "done"], "msg": "must be of type boolean", "type": "type"},
]
LIST_BODY_ERRORS = [{"loc": ["body"], "msg": "must be of type object", "type": "type"}]


def test_todo_malformed_json_is_400(todos):
    r = todos.post("/api/v1/todos", content=b'{"title": ', headers={**KEY, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == problem(400, "Bad Request", "malformed JSON: Expecting value at position 10", "/api/v1/todos")


def test_todo_body_that_is_not_json_is_415(todos):
    r = todos.post("/api/v1/todos", content=b"title=x", headers={**KEY, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["title"] == "Unsupported Media Type"
    assert r.json()["detail"].endswith("got 'text/plain'")
    assert todos.get("/api/v1/todos").json()["total"] == 0


def test_todo_wrong_method_is_405_with_allow(todos):
    r = todos.patch("/api/v1/todos/1", json={"done": True}, headers=KEY)
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PUT"
    assert r.json() == problem(405, "Method Not Allowed", "method PATCH is not allowed for /api/v1/todos/1",
                               "/api/v1/todos/1")
    r = todos.delete("/api/v1/todos", headers=KEY)
    assert (r.status_code, r.headers["allow"]) == (405, "GET, HEAD, OPTIONS, POST")
    r = todos.options("/api/v1/todos")
    assert (r.status_code, r.headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")


def test_todo_trailing_slash_redirects_keep_the_query(todos):
    r = todos.get("/api/v1/todos/?limit=5", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (308, "/api/v1/todos?limit=5")
    r = todos.get("/api/v1/todos/?limit=5")
    assert r.status_code == 200 and r.json()["limit"] == 5
    assert [h.status_code for h in r.history] == [308]
