"""covet.security.rbac: RoleBasedAccessControl (= RBAC): inheritance, cycles, guards as
decorators and dependencies (401 before 403, exact problem bodies), and the API reference's
form, ``require_permission`` with a role name."""
import base64
import hashlib
import hmac
import inspect
import json

import pytest

from covet import Covet, Depends, Request
from covet.core._chain import is_async_callable
from covet.security import RBAC, JWTAuth, RoleBasedAccessControl
from covet.validation import Model

KEY = b"0123456789abcdef" * 2  # 32 bytes: enough for HS256, so no warning
OTHER_KEY = b"fedcba9876543210" * 2
MISSING = "a bearer token is required"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def craft(payload, key=KEY, header=None):
    """A token built here with hmac, never with the code under test."""
    header = header or {"alg": "HS256", "typ": "JWT"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def problem(status, detail, instance):
    title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}[status]
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance}


def bearer(token):
    return {"Authorization": "Bearer " + token}


# ---------------------------------------------------------------- RBAC: roles

def make_rbac(**kwargs):
    rbac = RBAC(**kwargs)
    rbac.add_role("viewer", permissions=["posts:read"])
    rbac.add_role("editor", permissions=["posts:write"], inherits=["viewer"])
    rbac.add_role("admin", permissions=["users:manage"], inherits=["editor"])
    rbac.add_role("auditor", permissions=["logs:read"])
    return rbac


def test_alias():
    assert RoleBasedAccessControl is RBAC


def test_inheritance_grants_every_ancestor_permission():
    rbac = make_rbac()
    assert rbac.permissions_for(["admin"]) == {"users:manage", "posts:write", "posts:read"}
    assert rbac.permissions_for("editor") == {"posts:write", "posts:read"}
    assert rbac.permissions_for(["viewer", "auditor"]) == {"posts:read", "logs:read"}
    assert rbac.has_permission(["admin"], "posts:read") is True
    assert rbac.has_permission("editor", "users:manage") is False
    assert rbac.has_permission(["viewer", "auditor"], "logs:read") is True
    assert rbac.has_permission(["ghost"], "posts:read") is False
    assert rbac.has_permission([], "posts:read") is False
    assert rbac.roles == ["viewer", "editor", "admin", "auditor"]


def test_a_role_string_is_one_role_not_its_characters():
    rbac = RBAC()
    rbac.add_role("a", permissions=["p"])
    assert rbac.has_permission("abc", "p") is False
    assert rbac.has_permission("a", "p") is True


def test_has_role_follows_inheritance_upwards_only():
    rbac = make_rbac()
    assert rbac.has_role(["admin"], "viewer") is True
    assert rbac.has_role(["viewer"], "admin") is False
    assert rbac.has_role(["ghost"], "ghost") is True


def test_parent_may_be_defined_later():
    rbac = RBAC()
    rbac.add_role("admin", permissions=["a"], inherits=["staff"])
    assert rbac.permissions_for("admin") == {"a"}
    rbac.add_role("staff", permissions=["s"])
    assert rbac.permissions_for("admin") == {"a", "s"}


def test_redefining_a_role_updates_its_descendants():
    rbac = make_rbac()
    rbac.add_role("viewer", permissions=["posts:read", "comments:read"])
    assert rbac.has_permission("admin", "comments:read") is True


@pytest.mark.parametrize("steps, message", [
    ([("a", ["a"])], "role inheritance cycle: a -> a"),
    ([("a", ["b"]), ("b", ["a"])], "role inheritance cycle: b -> a -> b"),
    ([("a", ["b"]), ("b", ["c"]), ("c", ["a"])], "role inheritance cycle: c -> a -> b -> c"),
    ([("b", []), ("a", ["b"]), ("b", ["a"])], "role inheritance cycle: b -> a -> b"),
])
def test_cycles_are_refused_at_add_role(steps, message):
    rbac = RBAC()
    for name, parents in steps[:-1]:
        rbac.add_role(name, permissions=[name + ":p"], inherits=parents)
    before = {r: rbac.permissions_for(r) for r in rbac.roles}
    name, parents = steps[-1]
    with pytest.raises(ValueError) as info:
        rbac.add_role(name, permissions=["new"], inherits=parents)
    assert str(info.value) == message
    assert {r: rbac.permissions_for(r) for r in rbac.roles} == before


@pytest.mark.parametrize("args, kwargs, message", [
    (("",), {}, "a role name must be a non-empty string, got ''"),
    ((None,), {}, "a role name must be a non-empty string, got None"),
    (("a",), {"permissions": [1]}, "permissions must be non-empty strings, got 1"),
    (("a",), {"permissions": 5}, "permissions must be a string or a list of strings, got 5"),
    (("a",), {"inherits": [""]}, "inherits must be non-empty strings, got ''"),
])
def test_add_role_type_errors(args, kwargs, message):
    with pytest.raises(TypeError) as info:
        RBAC().add_role(*args, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("user, roles", [
    ({"roles": ["a", "b"]}, ["a", "b"]),
    ({"roles": "a"}, ["a"]),
    ({"roles": ["a", 1, None, {"x": 1}]}, ["a"]),
    ({"roles": 7}, []),
    ({"roles": {"a": 1}}, []),
    ({}, []),
    (None, []),
])
def test_user_roles_from_the_roles_claim(user, roles):
    assert RBAC().user_roles(user) == roles


def test_roles_claim_and_get_roles_are_configurable():
    assert RBAC(roles_claim="groups").user_roles({"groups": ["g"], "roles": ["r"]}) == ["g"]
    assert RBAC(get_roles=lambda user: user["scope"].split()).user_roles({"scope": "a b"}) == ["a", "b"]

    class User:
        roles = ["obj"]

    assert RBAC().user_roles(User()) == ["obj"]


@pytest.mark.parametrize("kwargs, message", [
    ({"auth": object()}, "auth must have an authenticate(request) method (a JWTAuth)"),
    ({"roles_claim": ""}, "roles_claim must be a non-empty string"),
    ({"get_roles": "roles"}, "get_roles must be callable as get_roles(user)"),
])
def test_rbac_constructor_errors(kwargs, message):
    with pytest.raises(TypeError) as info:
        RBAC(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("call, message", [
    (lambda r: r.require_permission(""), "permission must be a non-empty string"),
    (lambda r: r.require_roles(), "require_roles needs at least one role name"),
    (lambda r: r.require_roles("a", 3), "role names must be non-empty strings, got 3"),
])
def test_guard_argument_errors(call, message):
    with pytest.raises(TypeError) as info:
        call(RBAC())
    assert str(info.value) == message


# ---------------------------------------------------------------- RBAC: guards on routes

def rbac_app(auth, rbac):
    app = Covet()

    @app.post("/posts")
    @rbac.require_permission("posts:write")
    async def create_post(request: Request, title: str = "t"):
        return {"by": request.state.user["sub"], "title": title}

    @app.get("/drafts")
    async def drafts(user=Depends(rbac.require_permission("posts:read"))):
        return {"reader": user["sub"]}

    @app.delete("/users/{uid}")
    @rbac.require_roles("admin")
    def delete_user(uid: int):
        return {"deleted": uid}

    @app.get("/staff")
    async def staff(user=Depends(rbac.require_roles("auditor", "editor"))):
        return {"staff": user["sub"]}

    @app.get("/both")
    @rbac.require_roles("auditor", "editor", require_all=True)
    async def both():
        return {"ok": True}

    admin = app.group("/admin", dependencies=[Depends(rbac.require_roles("admin"))])

    @admin.get("/stats")
    async def stats():
        return {"users": 3}

    ops = app.group("/ops", dependencies=[rbac.require_roles("admin")])  # the guard itself, no Depends

    @ops.get("/health")
    async def health():
        return {"up": True}

    return app


def token_for(auth, *roles, sub="u1"):
    return bearer(auth.create_token({"sub": sub, "roles": list(roles)}))


@pytest.mark.parametrize("method, path, roles, status, body", [
    ("POST", "/posts", ["editor"], 200, {"by": "u1", "title": "t"}),
    ("POST", "/posts", ["admin"], 200, {"by": "u1", "title": "t"}),
    ("POST", "/posts", ["viewer"], 403, problem(403, "permission 'posts:write' is required", "/posts")),
    ("POST", "/posts", [], 403, problem(403, "permission 'posts:write' is required", "/posts")),
    ("GET", "/drafts", ["viewer"], 200, {"reader": "u1"}),
    ("GET", "/drafts", ["auditor"], 403, problem(403, "permission 'posts:read' is required", "/drafts")),
    ("DELETE", "/users/5", ["admin"], 200, {"deleted": 5}),
    ("DELETE", "/users/5", ["editor"], 403, problem(403, "role 'admin' is required", "/users/5")),
    ("GET", "/staff", ["auditor"], 200, {"staff": "u1"}),
    ("GET", "/staff", ["admin"], 200, {"staff": "u1"}),
    ("GET", "/staff", ["viewer"], 403, problem(403, "one of the roles 'auditor', 'editor' is required", "/staff")),
    ("GET", "/both", ["auditor", "admin"], 200, {"ok": True}),
    ("GET", "/both", ["admin"], 403, problem(403, "roles 'auditor', 'editor' are required", "/both")),
    ("GET", "/admin/stats", ["admin"], 200, {"users": 3}),
    ("GET", "/admin/stats", ["editor"], 403, problem(403, "role 'admin' is required", "/admin/stats")),
    ("GET", "/ops/health", ["admin"], 200, {"up": True}),
    ("GET", "/ops/health", ["viewer"], 403, problem(403, "role 'admin' is required", "/ops/health")),
])
def test_guard_matrix(client, method, path, roles, status, body):
    auth = JWTAuth(KEY)
    c = client(rbac_app(auth, make_rbac(auth=auth)))
    r = c.request(method, path, headers=token_for(auth, *roles))
    assert r.status_code == status
    assert r.json() == body
    if status == 403:
        assert r.headers["content-type"] == "application/problem+json"
        assert "www-authenticate" not in r.headers


@pytest.mark.parametrize("method, path", [("POST", "/posts"), ("GET", "/drafts"), ("DELETE", "/users/5"),
                                          ("GET", "/admin/stats")])
def test_guards_authenticate_first_401(client, method, path):
    auth = JWTAuth(KEY)
    c = client(rbac_app(auth, make_rbac(auth=auth)))
    r = c.request(method, path)
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert r.json() == problem(401, MISSING, path)
    r = c.request(method, path, headers=bearer(craft({"roles": ["admin"]}, key=OTHER_KEY)))
    assert (r.status_code, r.headers["www-authenticate"]) == (401, 'Bearer error="invalid_token"')


def test_guard_without_auth_reads_state_user_set_earlier(client):
    rbac = make_rbac()
    app = Covet()

    @app.middleware
    async def session_login(request, call_next):
        name = request.headers.get("x-user")
        if name:
            request.state.user = {"sub": name, "roles": [name]}
        return await call_next(request)

    @app.get("/edit")
    @rbac.require_permission("posts:write")
    async def edit(request: Request):
        return {"editor": request.state.user["sub"]}

    c = client(app)
    assert c.get("/edit", headers={"x-user": "editor"}).json() == {"editor": "editor"}
    assert c.get("/edit", headers={"x-user": "viewer"}).status_code == 403
    r = c.get("/edit")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert r.json() == problem(401, "authentication required", "/edit")


def test_guard_stacked_under_require_token_in_either_order(client):
    auth = JWTAuth(KEY)
    rbac = make_rbac()  # no auth=: relies on require_token having run first
    app = Covet()

    @app.get("/a")
    @auth.require_token
    @rbac.require_roles("admin")
    async def a():
        return {"ok": "a"}

    @app.get("/b")
    @rbac.require_roles("admin")         # above require_token: still checked after it
    @auth.require_token
    async def b():
        return {"ok": "b"}

    @app.get("/c")
    @make_rbac(auth=auth).require_permission("posts:write")
    @auth.require_token
    @rbac.require_roles("editor")
    def c_():
        return {"ok": "c"}

    c = client(app)
    for path in ("/a", "/b"):
        assert c.get(path, headers=token_for(auth, "admin")).json() == {"ok": path[1:]}
        r = c.get(path, headers=token_for(auth, "viewer"))
        assert (r.status_code, r.json()) == (403, problem(403, "role 'admin' is required", path))
        r = c.get(path)
        assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
        assert r.json() == problem(401, MISSING, path)
    assert c.get("/c", headers=token_for(auth, "editor")).json() == {"ok": "c"}
    assert c.get("/c", headers=token_for(auth, "admin")).json() == {"ok": "c"}   # admin inherits editor
    r = c.get("/c", headers=token_for(auth, "viewer"))
    assert (r.status_code, r.json()) == (403, problem(403, "permission 'posts:write' is required", "/c"))
    assert c.get("/c").status_code == 401


@pytest.mark.parametrize("make_guard", [lambda r: r.require_permission("posts:write"),
                                        lambda r: r.require_roles("admin")], ids=["permission", "roles"])
def test_guard_above_the_route_decorator_raises_at_import(make_guard):
    rbac = make_rbac()
    guard = make_guard(rbac)
    app = Covet()
    with pytest.raises(TypeError) as info:
        @guard
        @app.post("/admin")
        async def admin():
            return {"admin": 1}
    assert str(info.value) == (
        "@%s must be written below @app.get(...)/@app.route(...): the route '/admin' has already been "
        "registered with the undecorated handler "
        "test_guard_above_the_route_decorator_raises_at_import.<locals>.admin" % repr(guard)[len("<guard "):-1])


class Post(Model):
    title: str


@pytest.mark.parametrize("auth_given", [True, False], ids=["auth=", "require_token"])
@pytest.mark.parametrize("body", [{"title": "t"}, {"bad": 1}])
def test_guards_decide_before_dependencies_and_the_body(client, auth_given, body):
    auth = JWTAuth(KEY)
    rbac = make_rbac(auth=auth if auth_given else None)
    calls = []
    app = Covet()

    def dependency():
        calls.append("dependency")
        return 1

    async def create(post: Post, d: int = Depends(dependency)):
        calls.append("handler")
        return {"title": post.title}

    handler = rbac.require_permission("posts:write")(create)
    if not auth_given:
        handler = auth.require_token(handler)
    app.add_route("/posts", handler, methods=["POST"])
    c = client(app)
    r = c.post("/posts", json=body)
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    r = c.post("/posts", json=body, headers=token_for(auth, "viewer"))
    assert (r.status_code, r.json()) == (403, problem(403, "permission 'posts:write' is required", "/posts"))
    assert calls == []  # refused before any dependency ran or the body was read (no 422)
    r = c.post("/posts", json=body, headers=token_for(auth, "editor"))
    assert r.status_code == (200 if "title" in body else 422)
    assert calls == (["dependency", "handler"] if "title" in body else ["dependency"])


def test_guard_dependency_runs_on_the_event_loop():
    guard = make_rbac().require_roles("admin")
    assert is_async_callable(guard)
    assert list(inspect.signature(guard).parameters) == ["request"]
    assert repr(guard) == "<guard require_roles('admin')>"


def test_malformed_roles_claim_is_403_not_500(client):
    auth = JWTAuth(KEY)
    c = client(rbac_app(auth, make_rbac(auth=auth)))
    r = c.get("/drafts", headers=bearer(auth.create_token({"sub": "x", "roles": {"viewer": True}})))
    assert r.status_code == 403


# ---------------------------------------------------------------- the API reference's form

def reference_app(rbac, calls):
    """The reference's example, with a middleware standing in for the login that sets the user."""
    app = Covet()

    @app.middleware
    async def login(request, call_next):
        roles = request.headers.get("x-roles")
        if roles is not None:
            request.state.user = {"sub": "u1", "roles": roles.split()}
        return await call_next(request)

    @app.route("/admin/users")
    @rbac.require_permission("admin")
    async def admin_users(request):
        calls.append(request.state.user["sub"])
        return {"users": "admin data"}

    return app


@pytest.mark.parametrize("roles, status, body", [
    ("admin", 200, {"users": "admin data"}),
    ("user admin", 200, {"users": "admin data"}),
    ("superadmin", 200, {"users": "admin data"}),            # inherits admin
    ("user", 403, problem(403, "permission 'admin' is required", "/admin/users")),
    ("", 403, problem(403, "permission 'admin' is required", "/admin/users")),
    ("Admin", 403, problem(403, "permission 'admin' is required", "/admin/users")),
    (None, 401, problem(401, "authentication required", "/admin/users")),
])
def test_the_reference_example_require_permission_with_a_role_name(client, roles, status, body):
    from covet.security.rbac import RoleBasedAccessControl as SeedRBAC

    rbac = SeedRBAC()
    rbac.add_role("admin", permissions=["read", "write", "delete"])
    rbac.add_role("user", permissions=["read"])
    rbac.add_role("superadmin", inherits=["admin"])
    calls = []
    c = client(reference_app(rbac, calls))
    r = c.get("/admin/users", headers={} if roles is None else {"x-roles": roles})
    assert (r.status_code, r.json()) == (status, body)
    assert calls == (["u1"] if status == 200 else [])


def test_require_permission_still_checks_permissions(client):
    rbac = RoleBasedAccessControl()
    rbac.add_role("admin", permissions=["read", "write", "delete"])
    rbac.add_role("user", permissions=["read"])
    app = Covet()
    calls = []

    @app.middleware
    async def login(request, call_next):
        request.state.user = {"roles": request.headers.get("x-roles", "").split()}
        return await call_next(request)

    @app.post("/posts")
    @rbac.require_permission("write")
    async def write():
        calls.append("write")
        return {"ok": True}

    c = client(app)
    assert c.post("/posts", headers={"x-roles": "admin"}).status_code == 200
    r = c.post("/posts", headers={"x-roles": "user"})
    assert (r.status_code, r.json()) == (403, problem(403, "permission 'write' is required", "/posts"))
    # A claim naming the permission is no role: it grants nothing.
    assert c.post("/posts", headers={"x-roles": "write"}).status_code == 403
    assert calls == ["write"]


def test_allows_is_the_require_permission_test():
    rbac = RoleBasedAccessControl()
    rbac.add_role("admin", permissions=["read", "write", "delete"])
    rbac.add_role("user", permissions=["read"])
    rbac.add_role("root", inherits=["admin"])
    assert rbac.allows(["admin"], "admin") is True           # the role itself
    assert rbac.allows("root", "admin") is True              # inherited
    assert rbac.allows(["admin"], "delete") is True          # a permission it grants
    assert rbac.allows(["user"], "admin") is False
    assert rbac.allows(["user"], "write") is False
    assert rbac.allows(["ghost"], "ghost") is False          # undefined: only a permission, and ungranted
    assert rbac.allows((r for r in ["user", "root"]), "admin") is True   # a generator is read once
    # Permissions stay what was declared: the role name is not added to them.
    assert rbac.permissions_for("admin") == {"read", "write", "delete"}
    assert rbac.has_permission(["admin"], "admin") is False
    assert repr(rbac) == "<RoleBasedAccessControl 3 roles>"
