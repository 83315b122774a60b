"""covet.security.jwt_auth: JWTAuth (tokens, refresh, the require_token decorator and the
current_user dependency, each 401 with its exact challenge) and RBAC (inheritance, cycles,
guards as decorators and dependencies, 403)."""
import base64
import hashlib
import hmac
import inspect
import json

import pytest

from covet import Covet, Depends, Request
from covet.core._chain import is_async_callable
from covet.core.errors import HTTPException
from covet.security import jwt_auth as auth_module
from covet.security import jwt as jwt_module
from covet.security import (
    RBAC,
    ExpiredSignatureError,
    InvalidSignatureError,
    InvalidTokenTypeError,
    JWTAuth,
    RoleBasedAccessControl,
)

KEY = b"0123456789abcdef" * 2  # 32 bytes: enough for HS256, so no warning
OTHER_KEY = b"fedcba9876543210" * 2
NOW = 1700000000


class FrozenClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    frozen = FrozenClock(NOW)
    monkeypatch.setattr(jwt_module, "time", frozen)
    monkeypatch.setattr(auth_module, "time", frozen)
    return frozen


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


# ---------------------------------------------------------------- tokens

def test_create_token_adds_typ_iat_exp_and_jti():
    auth = JWTAuth(KEY)
    claims = auth.decode(auth.create_token({"sub": "42", "roles": ["admin"]}))
    jti = claims.pop("jti")
    assert isinstance(jti, str) and len(jti) == 22
    assert claims == {"sub": "42", "roles": ["admin"], "typ": "access", "iat": NOW, "exp": NOW + 3600}


def test_create_token_expires_in_and_timedelta_expiration():
    import datetime

    auth = JWTAuth(KEY, expiration_time=datetime.timedelta(minutes=15))
    assert auth.decode(auth.create_token({"sub": "1"}))["exp"] == NOW + 900
    assert auth.decode(auth.create_token({"sub": "1"}, expires_in=60))["exp"] == NOW + 60


def test_tokens_get_distinct_jti():
    auth = JWTAuth(KEY)
    assert auth.decode(auth.create_token({}))["jti"] != auth.decode(auth.create_token({}))["jti"]


@pytest.mark.parametrize("claims, error, message", [
    ({"typ": "refresh"}, ValueError, "the typ claim is set by JWTAuth ('access' or 'refresh')"),
    ([("sub", "1")], TypeError, "claims must be a mapping"),
])
def test_create_token_refuses_bad_claims(claims, error, message):
    with pytest.raises(error) as info:
        JWTAuth(KEY).create_token(claims)
    assert str(info.value) == message


@pytest.mark.parametrize("kwargs, error, message", [
    ({"expiration_time": 0}, ValueError, "expiration_time and refresh_expiration_time must be positive"),
    ({"refresh_expiration_time": -1}, ValueError, "expiration_time and refresh_expiration_time must be positive"),
    ({"expiration_time": "1h"}, TypeError, "expiration_time must be a number of seconds or a timedelta"),
    ({"realm": 'a"b'}, ValueError, "realm must be printable ASCII without '\"' or '\\\\'"),
    ({"algorithm": "RS256"}, ValueError, "algorithm must be one of HS256, HS384, HS512"),
])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        JWTAuth(KEY, **kwargs)
    assert str(info.value) == message


def test_token_pair_shape_and_lifetimes():
    auth = JWTAuth(KEY, expiration_time=600, refresh_expiration_time=86400)
    pair = auth.create_token_pair({"sub": "7", "roles": ["viewer"]})
    assert sorted(pair) == ["access_token", "expires_in", "refresh_token", "token_type"]
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 600
    access = auth.decode(pair["access_token"])
    refresh = auth.decode(pair["refresh_token"], "refresh")
    assert (access["typ"], access["exp"], access["sub"], access["roles"]) == ("access", NOW + 600, "7", ["viewer"])
    assert (refresh["typ"], refresh["exp"], refresh["sub"], refresh["roles"]) == ("refresh", NOW + 86400, "7", ["viewer"])


def test_refresh_token_is_not_an_access_token_and_the_other_way_round():
    auth = JWTAuth(KEY)
    pair = auth.create_token_pair({"sub": "7"})
    with pytest.raises(InvalidTokenTypeError) as info:
        auth.decode(pair["refresh_token"])
    assert str(info.value) == "token is not an access token"
    with pytest.raises(InvalidTokenTypeError) as info:
        auth.decode(pair["access_token"], "refresh")
    assert str(info.value) == "token is not a refresh token"


def test_token_without_typ_counts_as_access_only():
    auth = JWTAuth(KEY)
    token = craft({"sub": "9", "exp": NOW + 60})
    assert auth.decode(token) == {"sub": "9", "exp": NOW + 60}
    with pytest.raises(InvalidTokenTypeError):
        auth.decode(token, "refresh")
    with pytest.raises(InvalidTokenTypeError):
        auth.decode(craft({"sub": "9", "typ": "id"}))


def test_decode_rejects_unknown_token_type_argument():
    with pytest.raises(ValueError) as info:
        JWTAuth(KEY).decode(craft({}), "id")
    assert str(info.value) == "token_type must be 'access' or 'refresh'"


def test_refresh_mints_a_new_pair_with_the_same_claims(clock):
    auth = JWTAuth(KEY)
    old = auth.create_token_pair({"sub": "7", "roles": ["editor"]})
    clock.now = NOW + 100
    new = auth.refresh(old["refresh_token"])
    access = auth.decode(new["access_token"])
    assert (access["sub"], access["roles"], access["iat"], access["exp"]) == ("7", ["editor"], NOW + 100, NOW + 3700)
    refreshed = auth.decode(new["refresh_token"], "refresh")
    assert refreshed["jti"] != auth.decode(old["refresh_token"], "refresh")["jti"]
    assert refreshed["exp"] == NOW + 100 + 14 * 24 * 3600


@pytest.mark.parametrize("make, detail", [
    (lambda auth: auth.create_token({"sub": "7"}), "token is not a refresh token"),
    (lambda auth: craft({"typ": "refresh", "exp": NOW - 1}), "token has expired"),
    (lambda auth: craft({"typ": "refresh"}, key=OTHER_KEY), "signature verification failed"),
    (lambda auth: "", "refresh token is missing"),
    (lambda auth: None, "refresh token is missing"),
])
def test_refresh_refuses_with_401(make, detail):
    auth = JWTAuth(KEY)
    with pytest.raises(HTTPException) as info:
        auth.refresh(make(auth))
    assert (info.value.status_code, info.value.detail) == (401, detail)
    assert info.value.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def test_decode_errors_are_the_jwt_errors():
    auth = JWTAuth(KEY)
    with pytest.raises(ExpiredSignatureError):
        auth.decode(craft({"exp": NOW}))
    with pytest.raises(InvalidSignatureError):
        auth.decode(craft({}, key=OTHER_KEY))


def test_key_rotation_by_kid():
    old = JWTAuth({"2024": KEY}, kid="2024")
    both = JWTAuth({"2024": KEY, "2025": OTHER_KEY}, kid="2025")
    old_token = old.create_token({"sub": "1"})
    assert both.decode(old_token)["sub"] == "1"
    new_token = both.create_token({"sub": "2"})
    header = json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))
    assert header["kid"] == "2025"


# ---------------------------------------------------------------- require_token / current_user

def auth_app(auth):
    app = Covet()

    @app.get("/me")
    @auth.require_token
    async def me(request: Request, verbose: bool = False):
        return {"user": request.state.user, "verbose": verbose}

    @app.get("/sync")
    @auth.require_token()
    def sync_me(request: Request):
        return request.state.user

    @app.get("/dep")
    async def dep(user: dict = Depends(auth.current_user)):
        return user

    @app.get("/open")
    async def open_route():
        return {"ok": True}

    return app


MISSING = "a bearer token is required"


@pytest.mark.parametrize("path", ["/me", "/sync", "/dep"])
@pytest.mark.parametrize("headers, challenge, detail", [
    ({}, "Bearer", MISSING),
    ({"Authorization": ""}, "Bearer", MISSING),
    ({"Authorization": "Bearer"}, "Bearer", MISSING),
    ({"Authorization": "Bearer    "}, "Bearer", MISSING),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer", MISSING),
    ({"Authorization": "Bearer not-a-token"}, 'Bearer error="invalid_token"',
     "token must have 3 dot-separated segments, found 1"),
    ({"Authorization": "Bearer " + craft({"sub": "1", "exp": NOW})}, 'Bearer error="invalid_token"',
     "token has expired"),
    ({"Authorization": "Bearer " + craft({"sub": "1"}, key=OTHER_KEY)}, 'Bearer error="invalid_token"',
     "signature verification failed"),
    ({"Authorization": "Bearer " + craft({"sub": "1"}, header={"alg": "none"})}, 'Bearer error="invalid_token"',
     "token algorithm is not HS256"),
    ({"Authorization": "Bearer " + craft({"sub": "1", "typ": "refresh"})}, 'Bearer error="invalid_token"',
     "token is not an access token"),
])
def test_auth_failures_are_401_with_the_rfc6750_challenge(client, path, headers, challenge, detail):
    c = client(auth_app(JWTAuth(KEY)))
    r = c.get(path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == challenge
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == problem(401, detail, path)


def test_realm_goes_into_both_challenges(client):
    c = client(auth_app(JWTAuth(KEY, realm="api")))
    assert c.get("/me").headers["www-authenticate"] == 'Bearer realm="api"'
    assert c.get("/me", headers=bearer("x.y.z")).headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_valid_token_sets_request_state_user(client):
    auth = JWTAuth(KEY)
    token = auth.create_token({"sub": "42"})
    claims = auth.decode(token)
    c = client(auth_app(auth))
    r = c.get("/me", params={"verbose": "true"}, headers=bearer(token))
    assert r.status_code == 200
    assert r.json() == {"user": claims, "verbose": True}
    assert c.get("/sync", headers=bearer(token)).json() == claims
    assert c.get("/dep", headers=bearer(token)).json() == claims
    assert c.get("/me", headers={"Authorization": "bEaReR  " + token}).status_code == 200
    assert c.get("/open").json() == {"ok": True}


def test_require_token_keeps_the_handler_signature():
    auth = JWTAuth(KEY)

    async def handler(item_id: int, q: str = "x"):
        return item_id

    wrapped = auth.require_token(handler)
    params = inspect.signature(wrapped).parameters
    assert list(params)[:2] == ["item_id", "q"]
    assert wrapped.__name__ == "handler"
    assert is_async_callable(wrapped)


def test_require_token_refuses_non_callables():
    with pytest.raises(TypeError) as info:
        JWTAuth(KEY).require_token(42)
    assert str(info.value) == "expected a route handler, got 42"


def test_authenticate_returns_claims_and_sets_state(client):
    auth = JWTAuth(KEY)
    app = Covet()

    @app.middleware
    async def authenticate_all(request, call_next):
        if request.path.startswith("/api"):
            auth.authenticate(request)
        return await call_next(request)

    @app.get("/api/x")
    async def x(request: Request):
        return request.state.user

    c = client(app)
    r = c.get("/api/x")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    token = auth.create_token({"sub": "5"})
    assert c.get("/api/x", headers=bearer(token)).json()["sub"] == "5"


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

    c = client(app)
    assert c.get("/a", headers=token_for(auth, "admin")).json() == {"ok": "a"}
    assert c.get("/a", headers=token_for(auth, "viewer")).status_code == 403
    assert c.get("/a").status_code == 401


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
