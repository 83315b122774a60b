"""covet.security.schemes: credentials as dependencies, and the schemes they put in the document."""
import base64

import pytest

from covet import Covet, Depends
from covet.security import (
    APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBasic, HTTPBasicCredentials, HTTPBearer,
    OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OAuth2Server,
)
from covet.security.schemes import parse_basic
from covet.testing import TestClient


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")


def make_app():
    app = Covet()
    header, query, cookie = APIKeyHeader("X-API-Key"), APIKeyQuery("api_key"), APIKeyCookie("session_key")
    bearer, http_basic = HTTPBearer(bearer_format="JWT"), HTTPBasic(realm="admin")
    password = OAuth2PasswordBearer("/token", scopes={"read": "read things"})
    optional = APIKeyHeader("X-API-Key", scheme_name="OptionalKey", auto_error=False)

    @app.get("/header")
    async def by_header(key: str = Depends(header)):
        return {"key": key}

    @app.get("/query")
    async def by_query(key: str = Depends(query)):
        return {"key": key}

    @app.get("/cookie")
    async def by_cookie(key: str = Depends(cookie)):
        return {"key": key}

    @app.get("/bearer")
    async def by_bearer(token: str = Depends(bearer)):
        return {"token": token}

    @app.get("/basic")
    async def by_basic(credentials: HTTPBasicCredentials = Depends(http_basic)):
        return {"username": credentials.username, "password": credentials.password}

    @app.get("/password")
    async def by_password(token: str = Depends(password)):
        return {"token": token}

    @app.get("/optional")
    async def anonymous_too(key=Depends(optional)):
        return {"key": key}

    return app


@pytest.fixture
def client():
    with TestClient(make_app()) as c:
        yield c


@pytest.mark.parametrize("path, kwargs, field, value", [
    ("/header", {"headers": {"X-API-Key": "k1"}}, "key", "k1"),
    ("/query", {"params": {"api_key": "k2"}}, "key", "k2"),
    ("/cookie", {"cookies": {"session_key": "k3"}}, "key", "k3"),
    ("/bearer", {"headers": {"Authorization": "Bearer t.o.k"}}, "token", "t.o.k"),
    ("/bearer", {"headers": {"Authorization": "bEaReR   t.o.k  "}}, "token", "t.o.k"),
    ("/password", {"headers": {"Authorization": "Bearer abc"}}, "token", "abc"),
])
def test_each_scheme_gives_its_credential(client, path, kwargs, field, value):
    r = client.get(path, **kwargs)
    assert r.status_code == 200
    assert r.json() == {field: value}


def test_basic_gives_user_and_password_and_keeps_colons_in_the_password(client):
    r = client.get("/basic", headers={"Authorization": basic("zoë", "a:b:c")})
    assert r.status_code == 200
    assert r.json() == {"username": "zoë", "password": "a:b:c"}


@pytest.mark.parametrize("path, kwargs, challenge, needed", [
    ("/header", {}, "APIKey", "the header X-API-Key"),
    ("/header", {"headers": {"X-API-Key": ""}}, "APIKey", "the header X-API-Key"),
    ("/query", {"params": {"other": "x"}}, "APIKey", "the query api_key"),
    ("/cookie", {}, "APIKey", "the cookie session_key"),
    ("/bearer", {"headers": {"Authorization": "Basic abc"}}, "Bearer", "a bearer token"),
    ("/bearer", {"headers": {"Authorization": "Bearer"}}, "Bearer", "a bearer token"),
    ("/password", {}, "Bearer", "a bearer token"),
    ("/basic", {}, 'Basic realm="admin", charset="UTF-8"', "a user name and password (HTTP Basic)"),
    # Not base64, no colon, not UTF-8: malformed credentials are no credentials.
    ("/basic", {"headers": {"Authorization": "Basic !!!"}}, 'Basic realm="admin", charset="UTF-8"', None),
    ("/basic", {"headers": {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}},
     'Basic realm="admin", charset="UTF-8"', None),
    ("/basic", {"headers": {"Authorization": "Basic " + base64.b64encode(b"u:\xff").decode()}},
     'Basic realm="admin", charset="UTF-8"', None),
])
def test_a_missing_or_malformed_credential_is_a_401_problem_with_a_challenge(client, path, kwargs, challenge, needed):
    r = client.get(path, **kwargs)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == challenge
    assert r.headers["content-type"] == "application/problem+json"
    if needed is not None:
        assert r.json()["detail"] == "not authenticated: %s required" % needed


def test_auto_error_false_gives_none(client):
    assert client.get("/optional").json() == {"key": None}
    assert client.get("/optional", headers={"X-API-Key": "z"}).json() == {"key": "z"}


def test_parse_basic():
    assert parse_basic("QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == ("Aladdin", "open sesame")
    assert parse_basic(base64.b64encode(b":").decode()) == ("", "")
    assert parse_basic("QWxhZGRpbjpvcGVuIHNlc2FtZQ") is None  # padding missing: not strict base64
    assert parse_basic("") is None


def test_the_document_declares_every_scheme_once_and_each_route_names_its_own():
    doc = make_app().openapi()
    assert doc["components"]["securitySchemes"] == {
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "APIKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
        "APIKeyCookie": {"type": "apiKey", "in": "cookie", "name": "session_key"},
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "HTTPBasic": {"type": "http", "scheme": "basic"},
        "OAuth2PasswordBearer": {"type": "oauth2", "flows": {"password": {
            "tokenUrl": "/token", "scopes": {"read": "read things"}}}},
        "OptionalKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    security = {path: item["get"]["security"] for path, item in doc["paths"].items()}
    assert security == {
        "/header": [{"APIKeyHeader": []}], "/query": [{"APIKeyQuery": []}], "/cookie": [{"APIKeyCookie": []}],
        "/bearer": [{"HTTPBearer": []}], "/basic": [{"HTTPBasic": []}],
        "/password": [{"OAuth2PasswordBearer": []}], "/optional": [{"OptionalKey": []}],
    }
    # The credential is the scheme's, not a parameter of the operation.
    assert all("parameters" not in item["get"] for item in doc["paths"].values())


def test_authorization_code_bearer_declares_its_flow():
    scheme = OAuth2AuthorizationCodeBearer("https://id.example/authorize", "https://id.example/token",
                                           scopes=["a", "b"], description="company login")
    assert scheme.openapi_security == {"OAuth2AuthorizationCodeBearer": {
        "type": "oauth2", "description": "company login",
        "flows": {"authorizationCode": {"authorizationUrl": "https://id.example/authorize",
                                        "tokenUrl": "https://id.example/token", "scopes": {"a": "", "b": ""}}}}}


def test_bad_construction_is_refused():
    with pytest.raises(ValueError):
        APIKeyHeader("")
    with pytest.raises(ValueError):
        HTTPBasic(realm='a"b')


def test_oauth2_server_routes_declare_the_code_flow_with_their_scopes():
    app = Covet()
    oauth2 = OAuth2Server(clients={"docs": {"redirect_uris": ["http://127.0.0.1:8000/docs/oauth2-redirect"]}},
                          scopes=["notes:read", "notes:write"], issuer="http://127.0.0.1:8000")
    app.include_oauth2(oauth2)

    @app.get("/notes")
    async def notes(claims: dict = Depends(oauth2.require_scopes("notes:read"))):
        return []

    @app.delete("/notes/{note_id}")
    @oauth2.require_scopes("notes:write")
    async def delete_note(note_id: int):
        return None

    @app.get("/me")
    async def me(claims: dict = Depends(oauth2.jwt_auth.current_user)):
        return claims

    doc = app.openapi()
    assert doc["components"]["securitySchemes"] == {"OAuth2": {"type": "oauth2", "flows": {"authorizationCode": {
        "authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token", "refreshUrl": "/oauth/token",
        "scopes": {"notes:read": "", "notes:write": ""}}}}}
    assert doc["paths"]["/notes"]["get"]["security"] == [{"OAuth2": ["notes:read"]}]
    assert doc["paths"]["/notes/{note_id}"]["delete"]["security"] == [{"OAuth2": ["notes:write"]}]
    assert doc["paths"]["/me"]["get"]["security"] == [{"OAuth2": []}]


def test_a_mounted_oauth2_server_is_named_under_its_prefix_in_the_parent_document():
    sub = Covet()
    oauth2 = OAuth2Server(clients={"docs": {"redirect_uris": ["http://127.0.0.1:8000/docs/oauth2-redirect"]}},
                          scopes=["read"], issuer="http://127.0.0.1:8000")
    sub.include_oauth2(oauth2)

    @sub.get("/notes")
    async def notes(claims: dict = Depends(oauth2.require_scopes("read"))):
        return []

    parent = Covet()
    parent.mount("/auth", sub)
    flow = parent.openapi()["components"]["securitySchemes"]["OAuth2"]["flows"]["authorizationCode"]
    assert (flow["authorizationUrl"], flow["tokenUrl"], flow["refreshUrl"]) == (
        "/auth/oauth/authorize", "/auth/oauth/token", "/auth/oauth/token")
    # The sub-app's own document (served at /auth/openapi.json, server /auth) keeps its paths.
    assert sub.openapi()["components"]["securitySchemes"]["OAuth2"]["flows"]["authorizationCode"][
        "tokenUrl"] == "/oauth/token"
    # An absolute URL is left as it is.
    absolute = OAuth2AuthorizationCodeBearer("https://id.example/a", "https://id.example/t")

    @sub.get("/other")
    async def other(token: str = Depends(absolute)):
        return []

    parent = Covet()
    parent.mount("/auth", sub)
    assert parent.openapi()["components"]["securitySchemes"]["OAuth2AuthorizationCodeBearer"]["flows"][
        "authorizationCode"]["tokenUrl"] == "https://id.example/t"


@pytest.mark.parametrize("value", [
    "Og=",                                                # bad padding
    base64.b64encode(b"u:p").decode() + "=",             # extra padding
    base64.b64encode(b"u:p\x00").decode(),                # a control character (RFC 7617 §2)
    base64.b64encode(b"u\x7f:p").decode(),
    base64.b64encode("u:p\u0085".encode()).decode(),      # a C1 control
])
def test_parse_basic_refuses_non_canonical_base64_and_control_characters(value):
    assert parse_basic(value) is None


def test_a_bearer_value_that_is_not_a_b64token_is_none(client):
    for value in ("Bearer a b", 'Bearer "abc"', "Bearer a\tb"):
        assert client.get("/bearer", headers={"Authorization": value}).status_code == 401, value
    assert client.get("/bearer", headers={"Authorization": "Bearer a-b.c~d+e/f=="}).json() == {"token": "a-b.c~d+e/f=="}


def test_a_scheme_without_read_cannot_be_made():
    from covet.security.schemes import SecurityScheme

    class Incomplete(SecurityScheme):
        scheme = {"type": "http", "scheme": "digest"}

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()
