"""covet.security.jwt_auth: JWTAuth (tokens, refresh, the require_token decorator and the
current_user dependency, each 401 with its exact challenge). RBAC is tests/test_rbac.py."""
import base64
import hashlib
import hmac
import inspect
import json

import pytest

from covet import Covet, Depends, Request
from covet.core._chain import is_async_callable
from covet.core._wrap import route_middleware
from covet.core.errors import HTTPException
from covet.security import jwt_auth as auth_module
from covet.security import jwt as jwt_module
from covet.validation import Model
from covet.security import (
    ExpiredSignatureError,
    InvalidSignatureError,
    InvalidTokenTypeError,
    JWTAuth,
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


def test_require_token_above_the_route_decorator_raises_at_import():
    auth = JWTAuth(KEY)
    app = Covet()
    with pytest.raises(TypeError) as info:
        @auth.require_token
        @app.get("/secret")
        async def secret():
            return {"secret": 1}
    assert str(info.value) == (
        "@require_token must be written below @app.get(...)/@app.route(...): the route '/secret' has already "
        "been registered with the undecorated handler "
        "test_require_token_above_the_route_decorator_raises_at_import.<locals>.secret")
    secret = app.router.routes[0].endpoint  # the name was never bound: the decoration raised
    with pytest.raises(TypeError, match=r"^@require_token must be written below"):
        auth.require_token()(secret)
    assert route_middleware(secret) == ()  # nothing half-attached


class Item(Model):
    name: str


def decide_first_app(auth, calls):
    app = Covet()

    def dependency():
        calls.append("dependency")
        return 1

    @app.post("/items")
    @auth.require_token
    async def create(item: Item, d: int = Depends(dependency)):
        calls.append("handler")
        return {"name": item.name}

    @app.put("/sync/{n:int}")
    @auth.require_token
    def update(n: int, request: Request, d: int = Depends(dependency)):
        calls.append("handler")
        return {"n": n, "user": request.state.user["sub"]}

    return app


@pytest.mark.parametrize("body", [{"name": "x"}, {"bad": 1}, b"{not json", None])
@pytest.mark.parametrize("path, method", [("/items", "POST"), ("/sync/3", "PUT")])
def test_require_token_decides_before_dependencies_and_the_body(client, path, method, body):
    auth = JWTAuth(KEY)
    calls = []
    c = client(decide_first_app(auth, calls))
    if isinstance(body, bytes):
        kw, content_type = {"content": body}, {"content-type": "application/json"}
    else:
        kw, content_type = {"json": body}, {}
    for headers in ({}, bearer("x.y.z"), bearer(craft({"sub": "1"}, key=OTHER_KEY))):
        r = c.request(method, path, headers=dict(content_type, **headers), **kw)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] in ("Bearer", 'Bearer error="invalid_token"')
    assert calls == []  # no dependency ran, no handler, and the body was never read (no 400/422)


def test_require_token_then_dependencies_body_and_handler_run_once(client):
    auth = JWTAuth(KEY)
    calls = []
    c = client(decide_first_app(auth, calls))
    token = bearer(auth.create_token({"sub": "7"}))
    assert c.post("/items", json={"name": "x"}, headers=token).json() == {"name": "x"}
    assert calls == ["dependency", "handler"]
    assert c.post("/items", json={"bad": 1}, headers=token).status_code == 422  # the body, after the token
    assert c.put("/sync/3", headers=token).json() == {"n": 3, "user": "7"}
    assert calls == ["dependency", "handler", "dependency", "dependency", "handler"]


def test_require_token_on_a_bound_method(client):
    auth = JWTAuth(KEY)

    class Views:
        async def me(self, request: Request):
            return {"sub": request.state.user["sub"]}

    app = Covet()
    app.add_route("/me", auth.require_token(Views().me))
    c = client(app)
    assert c.get("/me").status_code == 401
    assert c.get("/me", headers=bearer(auth.create_token({"sub": "9"}))).json() == {"sub": "9"}


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


# ---------------------------------------------------------------- the API reference's form

def test_the_reference_example_login_and_protected_route(client):
    from covet.security.jwt_auth import JWTAuth as SeedJWTAuth

    # The reference's secret is 15 bytes: it works, with the RFC 7518 warning.
    with pytest.warns(UserWarning, match="HS256 key is 15 bytes; RFC 7518 3.2 requires at least 32"):
        jwt_auth = SeedJWTAuth(secret_key="your-secret-key", algorithm="HS256", expiration_time=3600)
    users = {"ada": "lovelace"}
    calls = []
    app = Covet()

    @app.route("/login", methods=["POST"])
    async def login(request):
        data = await request.json()
        if users.get(data["username"]) == data["password"]:
            token = jwt_auth.create_token({"user": data["username"]})
            return {"token": token}
        return {"error": "Invalid credentials"}, 401

    @app.route("/protected")
    @jwt_auth.require_token
    async def protected_route(request):
        calls.append(request.state.user)
        user = request.state.user
        return {"message": f"Hello, {user['user']}!"}

    c = client(app)
    r = c.post("/login", json={"username": "ada", "password": "wrong"})
    assert (r.status_code, r.json()) == (401, {"error": "Invalid credentials"})
    token = c.post("/login", json={"username": "ada", "password": "lovelace"}).json()["token"]
    claims = jwt_auth.decode(token)
    assert claims["user"] == "ada" and claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 3600
    r = c.get("/protected", headers=bearer(token))
    assert (r.status_code, r.json()) == (200, {"message": "Hello, ada!"})
    assert calls == [claims]
    r = c.get("/protected")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert r.json() == problem(401, MISSING, "/protected")
    assert len(calls) == 1


def test_rbac_names_stay_importable_from_jwt_auth():
    from covet.security import jwt_auth, rbac

    assert jwt_auth.RBAC is rbac.RBAC is rbac.RoleBasedAccessControl
    assert jwt_auth.RoleBasedAccessControl is rbac.RoleBasedAccessControl

