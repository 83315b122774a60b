"""examples/auth_api.py: login with hashed passwords, a bearer token, a protected route, an
admin-only route, a permission-guarded route and refresh, all through the test client."""
import importlib.util
import pathlib
import sys

import pytest

from covet.security import verify_password

APP_FILE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "auth_api.py"
SECRET = b"example-test-secret-0123456789abcdef"


def load_example():
    spec = importlib.util.spec_from_file_location("example_auth_api", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would: typing.get_type_hints on Python 3.9 looks the
    # dataclasses' module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load_example()


@pytest.fixture
def api(client, example):
    return client(example.create_app(SECRET))


def login(api, username, password):
    return api.post("/login", json={"username": username, "password": password})


def bearer(token):
    return {"Authorization": "Bearer " + token}


def problem(status, detail, instance):
    title = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 422: "Unprocessable Content"}[status]
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance}


def test_passwords_are_stored_hashed_with_the_explicit_demo_cost(client, example):
    app = example.create_app(SECRET)
    for name, (password, _roles) in example.DEMO_USERS.items():
        stored = app.state.users[name]["password_hash"]
        assert password not in stored
        assert stored.startswith(("$scrypt$ln=10,r=8,p=1$", "$pbkdf2-sha256$i=10000$"))
        assert verify_password(password, stored)


def test_login_returns_a_token_pair(api):
    r = login(api, "alice", "wonderland")
    assert r.status_code == 200
    pair = r.json()
    assert sorted(pair) == ["access_token", "expires_in", "refresh_token", "token_type"]
    assert (pair["token_type"], pair["expires_in"]) == ("Bearer", 900)


@pytest.mark.parametrize("username, password", [("alice", "WONDERLAND"), ("alice", ""), ("mallory", "wonderland")])
def test_bad_credentials_are_401_with_the_same_answer(api, username, password):
    r = login(api, username, password)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == problem(401, "incorrect username or password", "/login")


def test_login_body_is_validated(api):
    r = api.post("/login", json={"username": "alice"})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "password"]]


def test_protected_route(api):
    r = api.get("/me")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert r.json() == problem(401, "a bearer token is required", "/me")
    token = login(api, "carol", "singer").json()["access_token"]
    assert api.get("/me", headers=bearer(token)).json() == {"username": "carol", "roles": ["viewer"]}
    r = api.get("/me", headers=bearer(token.rsplit(".", 1)[0] + "." + "A" * 43))
    assert (r.status_code, r.headers["www-authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert r.json() == problem(401, "signature verification failed", "/me")


@pytest.mark.parametrize("username, password, status", [
    ("alice", "wonderland", 200),
    ("bob", "builder", 403),
    ("carol", "singer", 403),
])
def test_admin_only_route(api, username, password, status):
    token = login(api, username, password).json()["access_token"]
    r = api.get("/admin/users", headers=bearer(token))
    assert r.status_code == status
    if status == 200:
        assert r.json() == [{"username": "alice", "roles": ["admin"]}, {"username": "bob", "roles": ["editor"]},
                            {"username": "carol", "roles": ["viewer"]}]
    else:
        assert r.json() == problem(403, "role 'admin' is required", "/admin/users")


def test_admin_route_without_token_is_401(api):
    assert api.get("/admin/users").status_code == 401


@pytest.mark.parametrize("username, password, status", [
    ("alice", "wonderland", 200),  # admin inherits editor's posts:delete
    ("bob", "builder", 200),
    ("carol", "singer", 403),
])
def test_permission_route(api, username, password, status):
    token = login(api, username, password).json()["access_token"]
    r = api.delete("/posts/1", headers=bearer(token))
    assert r.status_code == status
    if status == 200:
        assert r.json() == {"deleted": 1, "by": username}
    else:
        assert r.json() == problem(403, "permission 'posts:delete' is required", "/posts/1")


def test_refresh_gives_a_working_new_pair(api):
    pair = login(api, "bob", "builder").json()
    r = api.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    new = r.json()
    assert new["refresh_token"] != pair["refresh_token"]
    assert api.get("/me", headers=bearer(new["access_token"])).json() == {"username": "bob", "roles": ["editor"]}


def test_access_token_cannot_refresh_and_refresh_token_cannot_access(api):
    pair = login(api, "bob", "builder").json()
    r = api.post("/refresh", json={"refresh_token": pair["access_token"]})
    assert (r.status_code, r.headers["www-authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert r.json() == problem(401, "token is not a refresh token", "/refresh")
    r = api.get("/me", headers=bearer(pair["refresh_token"]))
    assert r.json() == problem(401, "token is not an access token", "/me")


def test_tokens_from_another_secret_are_refused(client, example):
    other = client(example.create_app(b"another-secret-0123456789abcdefghij"))
    token = login(other, "alice", "wonderland").json()["access_token"]
    mine = client(example.create_app(SECRET))
    assert mine.get("/me", headers=bearer(token)).status_code == 401


def test_every_guarded_route_names_the_bearer_scheme_in_the_document(example):
    # RBAC guards (decorator and dependency) name their authenticator's scheme, as require_token
    # does: /docs puts a lock on them and sends the token it was given.
    doc = example.create_app(SECRET).openapi()
    assert doc["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    security = {(path, method): op.get("security") for path, item in doc["paths"].items()
                for method, op in item.items()}
    assert security == {
        ("/login", "post"): None, ("/refresh", "post"): None,
        ("/me", "get"): [{"bearerAuth": []}],
        ("/admin/users", "get"): [{"bearerAuth": []}],
        ("/posts/{post_id}", "delete"): [{"bearerAuth": []}],
    }
