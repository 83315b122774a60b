"""covet.security.oauth2 end to end: the flows, and the refusals of RFC 6749 §10, RFC 6819 and
RFC 9700 that apply to an authorization server, through covet's TestClient."""
import base64
import json

import pytest

from covet import Covet
from covet.core.dependencies import Depends
from covet.security.csrf import CSRFProtection
from covet.security.jwt_auth import JWTAuth
from covet.security.oauth2 import MemoryStorage, OAuth2Server, make_verifier, s256_challenge
from covet.security.sessions import SessionMiddleware
from covet.testing import TestClient
from test_oauth2_helpers import (APP_SECRET, CALLBACK, OTHER_CALLBACK, PUBLIC_CALLBACK, SERVICE_SECRET, Clock,
                                 OAuthClient, api, basic, client_for, introspect, make_app, query_of)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def setup(clock):
    app, oauth2 = make_app(clock=clock)
    return client_for(app), oauth2


def jwt_parts(token):
    def load(segment):
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    header, payload, _ = token.split(".")
    return load(header), load(payload)


# -- the seed example --------------------------------------------------------------------------

def test_seed_example_runs_as_written_then_a_full_flow_through_it():
    app = Covet()
    # -- as in the API reference --
    oauth2 = OAuth2Server(
        authorization_endpoint="/oauth/authorize",
        token_endpoint="/oauth/token",
        clients={
            "client_id": {
                "secret": "client_secret",
                "redirect_uris": ["http://localhost:3000/callback"]
            }
        }
    )

    app.include_oauth2(oauth2)
    # -- then a login route of the app's own, so the default authenticate (the session) finds a user --
    app.add_middleware(SessionMiddleware, secret_key="s" * 32)

    @app.post("/login")
    async def login(request):
        request.session["user_id"] = 7
        return {"ok": True}

    http = TestClient(app, follow_redirects=False)
    verifier = make_verifier()
    params = {"response_type": "code", "client_id": "client_id", "redirect_uri": "http://localhost:3000/callback",
              "state": "abc", "code_challenge": s256_challenge(verifier), "code_challenge_method": "S256"}
    page = http.get("/oauth/authorize", params=params)
    assert page.status_code == 401
    assert "authenticate(request)" in page.text and "login_url" in page.text
    assert http.post("/login").status_code == 200
    page = http.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    client = OAuthClient(http, "client_id", "client_secret", "http://localhost:3000/callback", user=None)
    back = client.consent(page)
    assert back.status_code == 303
    query = query_of(back.headers["location"])
    assert back.headers["location"].startswith("http://localhost:3000/callback?code=")
    assert query["state"] == "abc" and query["iss"] == "http://testserver"
    tokens = client.exchange(query["code"], verifier)
    assert tokens.status_code == 200
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["scope"] == ""
    header, claims = jwt_parts(body["access_token"])
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    assert claims["sub"] == "7" and claims["client_id"] == "client_id"
    rotated = client.refresh(body["refresh_token"])
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != body["refresh_token"]
    assert client.revoke(rotated.json()["refresh_token"]).status_code == 200
    assert client.refresh(rotated.json()["refresh_token"]).json()["error"] == "invalid_grant"


# -- the happy paths -------------------------------------------------------------------------------

def test_full_flow_confidential_client_basic_auth(setup):
    http, oauth2 = setup
    client = OAuthClient(http)
    tokens = client.login("read write")
    assert tokens["scope"] == "read write"
    r = api(http, tokens["access_token"])
    assert r.status_code == 200 and r.json() == {"sub": "alice", "scope": "read write"}
    assert api(http, tokens["access_token"], "/api/write").json() == {"ok": True}
    info = introspect(http, tokens["access_token"])
    assert info["active"] is True and info["sub"] == "alice" and info["client_id"] == "app"
    assert info["scope"] == "read write" and info["token_type"] == "Bearer"
    refreshed = client.refresh(tokens["refresh_token"], scope="read")
    assert refreshed.status_code == 200
    assert refreshed.json()["scope"] == "read"
    # the rotated refresh token keeps the original scope (RFC 6749 §6)
    again = client.refresh(refreshed.json()["refresh_token"], scope="read write")
    assert again.status_code == 200 and again.json()["scope"] == "read write"
    rt_info = introspect(http, again.json()["refresh_token"])
    assert rt_info["active"] is True and rt_info["token_type"] == "refresh_token"


def test_full_flow_client_secret_post(setup):
    http, _ = setup
    tokens = OAuthClient(http, auth="post").login()
    assert api(http, tokens["access_token"]).status_code == 200


def test_public_client_with_pkce_only(setup):
    http, _ = setup
    client = OAuthClient(http, "spa", None, PUBLIC_CALLBACK, auth="none")
    tokens = client.login()
    assert api(http, tokens["access_token"]).status_code == 200
    assert client.refresh(tokens["refresh_token"]).status_code == 200


def test_redirect_uri_may_be_omitted_only_with_one_registered(setup):
    http, _ = setup
    spa = OAuthClient(http, "spa", None, PUBLIC_CALLBACK, auth="none")
    page, verifier = spa.authorize(redirect_uri=None)
    assert page.status_code == 200
    back = spa.consent(page)
    code = query_of(back.headers["location"])["code"]
    assert back.headers["location"].startswith(PUBLIC_CALLBACK + "?")
    # bound to the absence of the parameter: sending it now is a mismatch
    r = spa.post("/oauth/token", {"grant_type": "authorization_code", "code": code, "code_verifier": verifier})
    assert r.status_code == 200
    app_client = OAuthClient(http)
    page, _ = app_client.authorize(redirect_uri=None)
    assert page.status_code == 400 and "location" not in page.headers


def test_client_credentials_grant(setup):
    http, _ = setup
    r = http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "write"},
                  headers={"Authorization": basic("service", SERVICE_SECRET)})
    assert r.status_code == 200
    body = r.json()
    assert "refresh_token" not in body and body["scope"] == "write"
    assert jwt_parts(body["access_token"])[1]["sub"] == "service"
    r = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "spa"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "profile"},
                  headers={"Authorization": basic("service", SERVICE_SECRET)})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    # "app" is confidential and lists no grant_types: client_credentials is among its defaults
    r = OAuthClient(http).post("/oauth/token", {"grant_type": "client_credentials"})
    assert r.status_code == 200
    # "service" lists only client_credentials
    r = OAuthClient(http, "service", SERVICE_SECRET).post("/oauth/token", {"grant_type": "refresh_token",
                                                                           "refresh_token": "x" * 43})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_access_token_is_an_rfc9068_jwt_that_jwtauth_verifies(clock):
    app, oauth2 = make_app(clock=clock, issuer="https://auth.example")
    http = client_for(app)
    tokens = OAuthClient(http).login("read profile")
    header, claims = jwt_parts(tokens["access_token"])
    assert header["typ"] == "at+jwt"
    assert set(claims) == {"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope"}
    assert claims["iss"] == claims["aud"] == "https://auth.example"
    assert claims["exp"] - claims["iat"] == 900
    verified = JWTAuth("k" * 32, issuer="https://auth.example", audience="https://auth.example").decode(
        tokens["access_token"])
    assert verified["sub"] == "alice"
    assert oauth2.jwt_auth.decode(tokens["access_token"])["scope"] == "profile read"
    with pytest.raises(Exception):
        JWTAuth("k" * 32, issuer="https://other.example", audience="https://auth.example").decode(
            tokens["access_token"])


def test_metadata_document(clock):
    app, _ = make_app(clock=clock, issuer="https://auth.example")
    r = client_for(app).get("/.well-known/oauth-authorization-server")
    assert r.status_code == 200
    doc = r.json()
    assert doc["issuer"] == "https://auth.example"
    assert doc["token_endpoint"] == "https://auth.example/oauth/token"
    assert doc["authorization_endpoint"] == "https://auth.example/oauth/authorize"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert "password" not in doc["grant_types_supported"] and "implicit" not in doc["grant_types_supported"]
    assert doc["scopes_supported"] == ["profile", "read", "write"]


# -- authorization codes ------------------------------------------------------------------------------

def test_code_reuse_is_refused_and_revokes_the_tokens_it_issued(setup):
    http, _ = setup
    client = OAuthClient(http)
    code, verifier = client.get_code()
    first = client.exchange(code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    second = client.exchange(code, verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert second.headers["cache-control"] == "no-store"
    assert introspect(http, tokens["access_token"]) == {"active": False}
    assert introspect(http, tokens["refresh_token"]) == {"active": False}
    r = api(http, tokens["access_token"])
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert client.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_code_expires_after_60_seconds(setup, clock):
    http, _ = setup
    client = OAuthClient(http)
    code, verifier = client.get_code()
    clock.advance(60)
    r = client.exchange(code, verifier)
    assert r.status_code == 400 and r.json() == {"error": "invalid_grant",
                                                 "error_description": "the authorization code has expired"}


def test_code_within_its_lifetime_works(setup, clock):
    http, _ = setup
    client = OAuthClient(http)
    code, verifier = client.get_code()
    clock.advance(59)
    assert client.exchange(code, verifier).status_code == 200


@pytest.mark.parametrize("verifier", ["wrong", None, "a" * 43, "a" * 129, "bad verifier with spaces" * 3])
def test_wrong_or_missing_verifier(setup, verifier):
    http, _ = setup
    client = OAuthClient(http)
    code, _ = client.get_code()
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier is not None:
        data["code_verifier"] = verifier
    r = client.post("/oauth/token", data)
    assert r.status_code == 400
    assert r.json()["error"] == ("invalid_request" if verifier is None else "invalid_grant")


def test_code_redeemed_by_another_client_is_refused(setup):
    http, _ = setup
    code, verifier = OAuthClient(http).get_code()
    thief = OAuthClient(http, "spa", None, PUBLIC_CALLBACK, auth="none")
    r = thief.exchange(code, verifier, redirect_uri=CALLBACK)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_token_request_with_another_redirect_uri_is_refused(setup):
    http, _ = setup
    client = OAuthClient(http)
    code, verifier = client.get_code()
    r = client.exchange(code, verifier, redirect_uri=OTHER_CALLBACK)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # and without it, though the authorization request had one
    code, verifier = client.get_code()
    r = client.post("/oauth/token", {"grant_type": "authorization_code", "code": code, "code_verifier": verifier})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_unknown_code(setup):
    http, _ = setup
    r = OAuthClient(http).exchange("A" * 43, make_verifier())
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


# -- the authorization request -------------------------------------------------------------------------

@pytest.mark.parametrize("overrides,description", [
    ({"code_challenge_method": "plain"}, "code_challenge_method must be S256"),
    ({"code_challenge_method": None}, "code_challenge_method must be S256"),
    ({"code_challenge": None}, "code_challenge is required (PKCE, RFC 7636)"),
    ({"code_challenge": "short"}, "code_challenge is not an S256 challenge (43 base64url characters)"),
    ({"response_type": "token"}, "only response_type=code is supported"),
    ({"response_type": None}, "response_type is required"),
    ({"scope": "admin"}, "the client may not ask for some of these scopes"),
    ({"scope": "read  write"}, "scope must be scope tokens separated by single spaces"),
])
def test_bad_authorization_requests_go_back_to_the_registered_redirect(setup, overrides, description):
    http, _ = setup
    r, _ = OAuthClient(http).authorize(**overrides)  # a confidential client: PKCE is required all the same
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query["error_description"] == description
    assert query["state"] == "st-1" and query["iss"] == "http://testserver"
    assert query["error"] in ("invalid_request", "unsupported_response_type", "invalid_scope")


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback",
    CALLBACK + "/extra",
    CALLBACK + "?x=1",
    CALLBACK + "#frag",
    CALLBACK + "/",
    "https://app.example/callback/../callback",
    "https://app.example@evil.example/callback",
    "https://evil.example@app.example/callback",
    "https://APP.example/callback",
    "https://app.example:443/callback",
    "https://app.example.evil.example/callback",
    "http://app.example/callback",
    "//evil.example/callback",
    "javascript:alert(1)//https://app.example/callback",
    "https://app.example/%63allback",
])
def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(setup, redirect_uri):
    http, _ = setup
    r, _ = OAuthClient(http).authorize(redirect_uri=redirect_uri)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-frame-options"] == "DENY"
    assert "the redirect_uri is not one the client registered" in r.text


@pytest.mark.parametrize("client_id", ["nobody", None, "app\x00", "é"])
def test_unknown_client_gets_an_error_page(setup, client_id):
    http, _ = setup
    r, _ = OAuthClient(http, client_id=client_id).authorize()
    assert r.status_code == 400 and "location" not in r.headers


def test_repeated_parameters(setup):
    http, _ = setup
    verifier = make_verifier()
    base = [("response_type", "code"), ("client_id", "app"), ("redirect_uri", CALLBACK),
            ("code_challenge", s256_challenge(verifier)), ("code_challenge_method", "S256")]
    r = http.get("/oauth/authorize", params=base + [("client_id", "app")], headers={"x-user": "a"})
    assert r.status_code == 400 and "location" not in r.headers and "client_id is repeated" in r.text
    r = http.get("/oauth/authorize", params=base + [("scope", "read"), ("scope", "write"), ("state", "s")],
                 headers={"x-user": "a"})
    assert r.status_code == 302 and query_of(r.headers["location"])["error"] == "invalid_request"
    assert query_of(r.headers["location"])["state"] == "s"


def test_oversized_and_odd_parameters_are_4xx_never_500(setup):
    http, _ = setup
    client = OAuthClient(http)
    r, _ = client.authorize(state="s" * 5000)
    assert r.status_code == 302 and query_of(r.headers["location"])["error"] == "invalid_request"
    assert "state" not in query_of(r.headers["location"])
    r, _ = client.authorize(state="caf\u00e9")
    assert r.status_code == 302 and query_of(r.headers["location"])["error"] == "invalid_request"
    r = http.get("/oauth/authorize?" + "a=1&" * 1500)
    assert r.status_code == 400
    r = http.get("/oauth/authorize?client_id=" + "x" * 20000)
    assert r.status_code == 400
    r = http.get("/oauth/authorize?client_id=%ff%fe")
    assert r.status_code == 400
    for body, ctype in [(b"grant_type=authorization_code&code=" + b"x" * 20000, "application/x-www-form-urlencoded"),
                        (b'{"grant_type": "client_credentials"}', "application/json"),
                        (b"grant_type=%ff", "application/x-www-form-urlencoded"),
                        (b"&".join([b"a=1"] * 2000), "application/x-www-form-urlencoded"),
                        (b"", "application/x-www-form-urlencoded")]:
        r = http.post("/oauth/token", content=body, headers={"content-type": ctype})
        assert r.status_code == 400, (body[:40], r.text)
        assert r.json()["error"] == "invalid_request"
    r = http.post("/oauth/token", data={"grant_type": "password", "username": "a", "password": "b"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = http.post("/oauth/token", data={"grant_type": ["client_credentials", "client_credentials"]})
    assert r.status_code == 400 and r.json()["error_description"] == "parameter grant_type is repeated"
    r = http.get("/oauth/token")
    assert r.status_code == 405


# -- client authentication -----------------------------------------------------------------------------------

def test_wrong_client_secret_basic_and_post(setup):
    http, _ = setup
    code, verifier = OAuthClient(http).get_code()
    for auth in ("basic", "post"):
        wrong = OAuthClient(http, secret="not-the-secret", auth=auth)
        r = wrong.exchange(code, verifier)
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_client"
        assert r.headers["www-authenticate"] == 'Basic realm="oauth2"'
        assert r.headers["cache-control"] == "no-store"
    # the code was not spent by the failed attempts
    assert OAuthClient(http).exchange(code, verifier).status_code == 200


def test_client_authentication_edge_cases(setup):
    http, _ = setup
    data = {"grant_type": "client_credentials"}
    for header in ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic "]:
        r = http.post("/oauth/token", data=data, headers={"Authorization": header})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # two methods at once (RFC 6749 §2.3)
    r = http.post("/oauth/token", data=dict(data, client_secret=SERVICE_SECRET),
                  headers={"Authorization": basic("service", SERVICE_SECRET)})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    # a body client_id that contradicts Basic
    r = http.post("/oauth/token", data=dict(data, client_id="app"),
                  headers={"Authorization": basic("service", SERVICE_SECRET)})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    # no client at all, an unknown one, a public client presenting a secret
    assert http.post("/oauth/token", data=data).status_code == 401
    r = http.post("/oauth/token", data=dict(data, client_id="ghost", client_secret="x"))
    assert r.status_code == 401
    r = http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "spa",
                                        "client_secret": "guess"})
    assert r.status_code == 401
    # a confidential client without its secret, naming itself as a public one would
    r = http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "app"})
    assert r.status_code == 401
    # form-urlencoded Basic credentials (RFC 6749 §2.3.1)
    r = http.post("/oauth/token", data=data, headers={"Authorization": basic("service", "service%2Dsecret")})
    assert r.status_code == 200


# -- refresh tokens ---------------------------------------------------------------------------------------------

def test_refresh_token_reuse_revokes_the_whole_family(setup):
    http, _ = setup
    client = OAuthClient(http)
    tokens = client.login()
    first = client.refresh(tokens["refresh_token"]).json()
    second = client.refresh(first["refresh_token"]).json()
    # an attacker replays the first refresh token
    replay = client.refresh(tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # the newest refresh token is dead too, and so are the access tokens of the family
    assert client.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"
    for token in (tokens["access_token"], first["access_token"], second["access_token"], second["refresh_token"]):
        assert introspect(http, token) == {"active": False}
    assert api(http, second["access_token"]).status_code == 401
    # another grant of the same user and client is untouched
    other = client.login()
    assert api(http, other["access_token"]).status_code == 200


def test_scope_escalation_on_refresh_is_refused_and_leaves_the_token_usable(setup):
    http, _ = setup
    client = OAuthClient(http)
    tokens = client.login("read")
    r = client.refresh(tokens["refresh_token"], scope="read write")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    assert client.refresh(tokens["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_and_expiry(setup, clock):
    http, _ = setup
    tokens = OAuthClient(http).login()
    spa = OAuthClient(http, "spa", None, PUBLIC_CALLBACK, auth="none")
    assert spa.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    clock.advance(14 * 24 * 3600)
    assert OAuthClient(http).refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


# -- revocation and introspection ----------------------------------------------------------------------------

def test_revoking_an_access_token(clock):
    app, oauth2 = make_app(clock=clock, issuer="https://auth.example")
    http = client_for(app)
    client = OAuthClient(http)
    tokens = client.login()
    r = client.revoke(tokens["access_token"], hint="access_token")
    assert r.status_code == 200 and r.content == b""
    assert introspect(http, tokens["access_token"]) == {"active": False}
    r = api(http, tokens["access_token"])
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    # A verifier that reads only the JWT cannot know: it accepts the token until exp (docs/oauth2.md).
    assert oauth2.jwt_auth.decode(tokens["access_token"])["sub"] == "alice"
    # the refresh token of the grant still works (revoking one access token ends that token only)
    assert client.refresh(tokens["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_ends_the_grant(setup):
    http, _ = setup
    client = OAuthClient(http)
    tokens = client.login()
    assert client.revoke(tokens["refresh_token"], hint="refresh_token").status_code == 200
    assert introspect(http, tokens["access_token"]) == {"active": False}
    assert client.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revocation_edge_cases(setup):
    http, _ = setup
    client = OAuthClient(http)
    tokens = client.login()
    assert client.revoke("no-such-token").status_code == 200  # RFC 7009 §2.2
    assert client.revoke("a.b.c").status_code == 200
    spa = OAuthClient(http, "spa", None, PUBLIC_CALLBACK, auth="none")
    r = spa.revoke(tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = spa.revoke(tokens["access_token"])
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    assert introspect(http, tokens["access_token"])["active"] is True
    r = http.post("/oauth/revoke", data={"token": tokens["access_token"]})
    assert r.status_code == 401
    r = OAuthClient(http).post("/oauth/revoke", {})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_introspection_requires_a_confidential_client(setup):
    http, _ = setup
    tokens = OAuthClient(http).login()
    r = http.post("/oauth/introspect", data={"token": tokens["access_token"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = http.post("/oauth/introspect", data={"token": tokens["access_token"], "client_id": "spa"})
    assert r.status_code == 401
    r = http.post("/oauth/introspect", data={"token": tokens["access_token"]},
                  headers={"Authorization": basic("rs", "wrong")})
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="oauth2"'
    token = tokens["access_token"]
    # A well-formed token with another signature: a random signature ends in "AA" one time in
    # 1,024, and then "AA" would be no change at all ("AE" is canonical base64url too).
    forged = token[:-2] + ("AE" if token.endswith("AA") else "AA")
    assert forged != token
    for junk in ["x", "a.b.c", "x" * 8000, forged]:
        assert introspect(http, junk) == {"active": False}


def test_expired_access_token(setup, clock):
    http, _ = setup
    tokens = OAuthClient(http).login()
    clock.advance(900)
    assert introspect(http, tokens["access_token"]) == {"active": False}
    assert api(http, tokens["access_token"]).status_code == 401


# -- require_scopes --------------------------------------------------------------------------------------------

def test_require_scopes_answers_rfc6750(setup):
    http, _ = setup
    r = http.get("/api/read")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = http.get("/api/read", headers={"Authorization": "Bearer not a token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    r = http.get("/api/read", headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    tokens = OAuthClient(http).login("read")
    r = api(http, tokens["access_token"], "/api/write")
    assert r.status_code == 403
    assert r.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="read write"'
    forged = JWTAuth("x" * 32).jwt.encode(jwt_parts(tokens["access_token"])[1], headers={"typ": "at+jwt"})
    assert api(http, forged).status_code == 401


def test_require_scopes_without_revocation_check(clock):
    app, oauth2 = make_app(clock=clock, check_revocation=False)
    http = client_for(app)
    client = OAuthClient(http)
    tokens = client.login()
    client.revoke(tokens["access_token"])
    # documented: without the storage read, a revoked JWT passes until it expires
    assert api(http, tokens["access_token"]).status_code == 200
    clock.advance(900)
    assert api(http, tokens["access_token"]).status_code == 401


def test_require_scopes_rejects_bad_scope_names(setup):
    _, oauth2 = setup
    with pytest.raises(ValueError):
        oauth2.require_scopes("read write")


# -- the consent page -------------------------------------------------------------------------------------------

def test_consent_page_is_escaped_unframeable_and_uncached(setup):
    http, _ = setup
    page, _ = OAuthClient(http).authorize(scope="read profile")
    assert page.status_code == 200
    assert "The &lt;App&gt;" in page.text and "<App>" not in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<li>profile</li>" in page.text and "<li>read</li>" in page.text


def test_deny_sends_access_denied_with_state(setup):
    http, _ = setup
    client = OAuthClient(http)
    page, _ = client.authorize(state="keep-me")
    r = client.consent(page, decision="deny")
    assert r.status_code == 303
    assert query_of(r.headers["location"]) == {"error": "access_denied", "error_description":
                                               "the user denied the request", "state": "keep-me",
                                               "iss": "http://testserver"}


def test_consent_token_is_single_use_bound_to_the_user_and_unforgeable(setup, clock):
    http, _ = setup
    client = OAuthClient(http)
    page, _ = client.authorize()
    # another user (a victim lured to post it) cannot use it
    r = client.consent(page, user="mallory")
    assert r.status_code == 403 and "location" not in r.headers
    assert client.consent(page).status_code == 303
    replay = client.consent(page)
    assert replay.status_code == 400 and "already submitted" in replay.text
    r = http.post("/oauth/authorize", data={"consent_token": "forged.1.x", "decision": "allow"},
                  headers={"x-user": "alice"})
    assert r.status_code == 400 and "location" not in r.headers
    page, _ = client.authorize()
    clock.advance(601)
    r = client.consent(page)
    assert r.status_code == 400 and "expired" in r.text
    r = http.post("/oauth/authorize", json={"decision": "allow"}, headers={"x-user": "alice"})
    assert r.status_code == 400
    r = http.post("/oauth/authorize", data={"decision": "allow"})
    assert r.status_code == 400


def test_not_signed_in(setup):
    http, _ = setup
    r, _ = OAuthClient(http, user=None).authorize()
    assert r.status_code == 401
    assert "No user is signed in" in r.text


def test_login_url_redirect(clock):
    app, _ = make_app(clock=clock, login_url="/login")
    http = client_for(app)
    r, _ = OAuthClient(http, user=None).authorize()
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/login?next=%2Foauth%2Fauthorize%3Fresponse_type%3Dcode")


def test_consent_with_csrf_protection_installed():
    # No authenticate hook: the default reads the session's user_id.
    app, _ = make_app(clock=Clock(), authenticate=None)
    app.add_middleware(SessionMiddleware, secret_key="s" * 32)
    app.add_middleware(CSRFProtection(secret_key="c" * 32))

    @app.get("/test-login")
    async def test_login(request):
        request.session["user_id"] = "bob"
        return {}

    http = client_for(app)
    client = OAuthClient(http, user=None)
    page, _ = client.authorize()
    assert page.status_code == 401
    assert http.get("/test-login").status_code == 200
    page, verifier = client.authorize()
    assert page.status_code == 200
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.consent(page)
    assert r.status_code == 403  # CSRFProtection refuses the post without its token
    r = client.consent(page, extra={"csrf_token": csrf})
    assert r.status_code == 303 and "code=" in r.headers["location"]
    # the back channel is exempt from CSRF: no token, no cookie needed
    http.cookies.clear()
    code = query_of(r.headers["location"])["code"]
    r = OAuthClient(http).exchange(code, verifier)
    assert r.status_code == 200 and jwt_parts(r.json()["access_token"])[1]["sub"] == "bob"


def test_custom_consent_templates():
    app, _ = make_app(clock=Clock(), consent_template="<p>{{ client_name }} wants {{ scopes|join(',') }}</p>"
                      '<input name="consent_token" value="{{ consent_token }}">')
    http = client_for(app)
    page, _ = OAuthClient(http).authorize(scope="read write")
    assert page.text.startswith("<p>The &lt;App&gt; wants read,write</p>")
    assert page.headers["x-frame-options"] == "DENY"

    seen = {}

    async def page_fn(request, context):
        seen.update(context)
        return '<input name="consent_token" value="%s">' % context["consent_token"]

    app, _ = make_app(clock=Clock(), consent_template=page_fn)
    http = client_for(app)
    client = OAuthClient(http)
    page, _ = client.authorize()
    assert seen["client_id"] == "app" and seen["user"] == "alice" and seen["scopes"] == ["read"]
    assert client.consent(page).status_code == 303


def test_skip_consent_for_first_party_clients(clock):
    from test_oauth2_helpers import clients as base_clients
    config = base_clients()
    config["app"]["skip_consent"] = True
    app = Covet()
    oauth2 = OAuth2Server(clients=config, clock=clock, secret_key="k" * 32, authenticate=lambda r: "alice")
    app.include_oauth2(oauth2)
    r, _ = OAuthClient(client_for(app)).authorize(scope="read")
    assert r.status_code == 302 and "code=" in r.headers["location"]


# -- configuration ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("uri", ["javascript:alert(1)", "data:text/html,x", "https://a.example/cb#x", "/relative",
                                 "https://user@a.example/cb", "http://a.example/cb", "https://a.example/c b"])
def test_bad_redirect_uris_are_refused_at_registration(uri):
    with pytest.raises(ValueError):
        OAuth2Server(clients={"c": {"secret": "s", "redirect_uris": [uri]}})


def test_configuration_errors():
    with pytest.raises(ValueError):
        OAuth2Server(clients={"c": {"redirect_uris": [CALLBACK], "grant_types": ["client_credentials"]}})
    with pytest.raises(ValueError):
        OAuth2Server(clients={"c": {"secret": "s", "redirect_uris": [CALLBACK], "grant_types": ["password"]}})
    with pytest.raises(ValueError):
        OAuth2Server(clients={"c": {"secret": "s", "redirect_uris": [CALLBACK], "unknown": 1}})
    with pytest.raises(ValueError):
        OAuth2Server(issuer="https://a.example/?q=1")
    with pytest.raises(ValueError):
        OAuth2Server(token_endpoint="token")
    with pytest.raises(TypeError):
        OAuth2Server(clients={"c": {"secret": "s", "redirect_uris": CALLBACK}})
    server = OAuth2Server(clients={"c": {"secret": "plain", "redirect_uris": [CALLBACK]}})
    assert "plain" not in server.clients["c"].secret_hash  # stored hashed
    assert OAuth2Server(clients={"c": {"secret": "s", "redirect_uris": ["http://a.example/cb"]}},
                        allow_http_redirect_uris=True)


def test_setup_twice_is_refused(setup):
    _, oauth2 = setup
    with pytest.raises(RuntimeError):
        oauth2.setup(Covet())


def test_app_secret_key_signs_when_none_given():
    app = Covet()
    app.secret_key = "a" * 32
    oauth2 = OAuth2Server(clients={"c": {"secret": "s", "redirect_uris": [CALLBACK]}}, storage=MemoryStorage())
    app.include_oauth2(oauth2)
    assert oauth2.secret_key == "a" * 32
