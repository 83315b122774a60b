"""examples/oauth2_api.py: sign in, the code flow with PKCE as the /docs page runs it, the scoped API."""
import os
import re
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from covet.security.oauth2 import make_verifier, s256_challenge
from covet.testing import TestClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import oauth2_api  # noqa: E402

REDIRECT = "http://127.0.0.1:8123/docs/oauth2-redirect"


@pytest.fixture
def client():
    with TestClient(oauth2_api.create_app(secret=b"k" * 32, redirect_uri=REDIRECT), follow_redirects=False,
                    base_url="http://127.0.0.1:8123") as c:
        yield c


def csrf_of(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def authorize_query(verifier, scope="notes:read notes:write"):
    return {"response_type": "code", "client_id": "docs", "redirect_uri": REDIRECT, "scope": scope,
            "state": "s1", "code_challenge": s256_challenge(verifier), "code_challenge_method": "S256"}


def sign_in_and_get_token(client, scope="notes:read notes:write"):
    verifier = make_verifier()
    r = client.get("/oauth/authorize", params=authorize_query(verifier, scope))
    assert r.status_code == 303
    login = r.headers["location"]
    assert login.startswith("/login?next=")
    page = client.get(login)
    assert page.status_code == 200
    next_url = re.search(r'name="next" value="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    r = client.post("/login", data={"username": "alice", "password": "wonderland", "next": next_url,
                                    "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == next_url
    r = client.get(next_url)  # back at the authorization endpoint, signed in: no consent for "docs"
    assert r.status_code in (302, 303)
    back = urlsplit(r.headers["location"])
    assert "%s://%s%s" % (back.scheme, back.netloc, back.path) == REDIRECT
    query = parse_qs(back.query)
    assert query["state"] == ["s1"] and query["iss"] == ["http://127.0.0.1:8123"]
    r = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": query["code"][0],
                                          "redirect_uri": REDIRECT, "client_id": "docs", "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_the_code_flow_of_the_docs_page_gives_a_token_the_api_takes(client):
    token = sign_in_and_get_token(client)
    auth = {"Authorization": "Bearer " + token}
    assert client.post("/api/notes", json={"text": "buy milk"}, headers=auth).json() == {"count": 1}
    assert client.get("/api/notes", headers=auth).json() == ["buy milk"]
    me = client.get("/api/me", headers=auth).json()
    assert me == {"user": "alice", "scope": "notes:read notes:write", "client": "docs"}


def test_a_token_without_the_write_scope_cannot_write(client):
    token = sign_in_and_get_token(client, scope="notes:read")
    r = client.post("/api/notes", json={"text": "x"}, headers={"Authorization": "Bearer " + token})
    assert r.status_code == 403
    assert r.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="notes:write"'


def test_no_token_is_a_401_problem(client):
    r = client.get("/api/notes")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json"


def test_a_wrong_password_shows_the_form_again_and_signs_nobody_in(client):
    page = client.get("/login?next=/docs")
    r = client.post("/login", data={"username": "alice", "password": "nope", "next": "/docs",
                                    "csrf_token": csrf_of(page.text)})
    assert r.status_code == 401
    assert "Wrong user name or password." in r.text
    # Still not signed in: the authorization endpoint sends the visitor to the login page again.
    r = client.get("/oauth/authorize", params=authorize_query(make_verifier()))
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"])
def test_login_never_redirects_to_another_site(client, target):
    page = client.get("/login", params={"next": target})
    assert 'name="next" value="/"' in page.text
    r = client.post("/login", data={"username": "alice", "password": "wonderland", "next": target,
                                    "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_login_without_the_csrf_token_is_refused(client):
    r = client.post("/login", data={"username": "alice", "password": "wonderland", "next": "/"})
    assert r.status_code == 403


def test_the_document_declares_the_code_flow_and_the_docs_page_knows_the_client(client):
    doc = client.get("/openapi.json").json()
    flow = doc["components"]["securitySchemes"]["OAuth2"]["flows"]["authorizationCode"]
    assert flow == {"authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token", "scopes": {"notes:read": "", "notes:write": ""}}
    assert doc["paths"]["/api/notes"]["post"]["security"] == [{"OAuth2": ["notes:write"]}]
    assert doc["tags"] == [{"name": "notes", "description": "Your notes; each scope allows one kind of access."}]
    assert "/login" not in doc["paths"]
    # The server's own endpoints are grouped apart from the API's.
    assert doc["paths"]["/oauth/token"]["post"]["tags"] == ["oauth2"]
    assert client.app.docs_options == {"oauth2_client_id": "docs"}
