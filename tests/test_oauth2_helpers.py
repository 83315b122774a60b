"""Helpers of the tests/test_oauth2*.py files (no tests here): a settable clock, fast client
secrets, and a small OAuth client that does what a real one does (PKCE, following the
redirect, exchanging the code, refreshing, revoking, introspecting) through covet's TestClient."""
import base64
import re
import time
from urllib.parse import parse_qs, urlsplit

from covet import Covet
from covet.core.dependencies import Depends
from covet.security.oauth2 import OAuth2Server, make_verifier, s256_challenge
from covet.security.passwords import hash_password
from covet.testing import TestClient

CALLBACK = "https://app.example/callback"
OTHER_CALLBACK = "https://app.example/other"
PUBLIC_CALLBACK = "http://127.0.0.1:8765/cb"
SERVICE_SECRET = "service-secret"
APP_SECRET = "app-secret"
RS_SECRET = "rs-secret"


def fast_hash(secret):
    # A low PBKDF2 count keeps the suite quick; the hashing itself is covet.security.passwords'.
    return hash_password(secret, scheme="pbkdf2-sha256", iterations=1000)


HASHES = {APP_SECRET: fast_hash(APP_SECRET), SERVICE_SECRET: fast_hash(SERVICE_SECRET), RS_SECRET: fast_hash(RS_SECRET)}


class Clock:
    """A clock the tests move by hand: never sleep to expire a code."""

    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def clients():
    return {
        "app": {"secret_hash": HASHES[APP_SECRET], "redirect_uris": [CALLBACK, OTHER_CALLBACK],
                "scopes": ["read", "write", "profile"], "name": "The <App>"},
        "spa": {"redirect_uris": [PUBLIC_CALLBACK], "scopes": ["read"]},
        "service": {"secret_hash": HASHES[SERVICE_SECRET], "redirect_uris": [], "scopes": ["read", "write"],
                    "grant_types": ["client_credentials"]},
        "rs": {"secret_hash": HASHES[RS_SECRET], "grant_types": ["client_credentials"]},
    }


def header_user(request):
    """The test's authenticate hook: the X-User header names the signed-in user."""
    return request.headers.get("x-user")


def make_app(storage=None, clock=None, **options):
    """An app with an OAuth2Server (returned too) and two protected routes."""
    app = Covet()
    options.setdefault("authenticate", header_user)
    oauth2 = OAuth2Server(clients=clients(), scopes=["read", "write", "profile"], storage=storage,
                          clock=clock or Clock(), secret_key="k" * 32, **options)
    app.include_oauth2(oauth2)

    @app.get("/api/read")
    async def read(claims: dict = Depends(oauth2.require_scopes("read"))):
        return {"sub": claims["sub"], "scope": claims["scope"]}

    @app.get("/api/write")
    @oauth2.require_scopes("read", "write")
    async def write():
        return {"ok": True}

    return app, oauth2


def basic(client_id, secret):
    return "Basic " + base64.b64encode(("%s:%s" % (client_id, secret)).encode()).decode()


def query_of(location):
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


class OAuthClient:
    """A client of the server, written from RFC 6749 and RFC 7636 (not from covet's code)."""

    def __init__(self, http, client_id="app", secret=APP_SECRET, redirect_uri=CALLBACK, auth="basic", user="alice"):
        self.http = http
        self.client_id = client_id
        self.secret = secret
        self.redirect_uri = redirect_uri
        self.auth = auth
        self.user = user

    def authorize(self, scope="read", state="st-1", verifier=None, **overrides):
        """GET the authorization endpoint; returns (response, verifier)."""
        verifier = verifier or make_verifier()
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": scope, "state": state, "code_challenge": s256_challenge(verifier),
                  "code_challenge_method": "S256"}
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        headers = {"x-user": self.user} if self.user else {}
        return self.http.get("/oauth/authorize", params=params, headers=headers, follow_redirects=False), verifier

    def consent(self, page, decision="allow", user=None, extra=None):
        token = re.search(r'name="consent_token" value="([^"]+)"', page.text).group(1)
        data = {"consent_token": token, "decision": decision}
        data.update(extra or {})
        headers = {"x-user": user or self.user}
        return self.http.post("/oauth/authorize", data=data, headers=headers, follow_redirects=False)

    def get_code(self, scope="read", state="st-1"):
        page, verifier = self.authorize(scope=scope, state=state)
        assert page.status_code == 200, page.text
        back = self.consent(page)
        assert back.status_code == 303, back.text
        assert back.headers["location"].startswith(self.redirect_uri + "?")
        query = query_of(back.headers["location"])
        assert query["state"] == state
        return query["code"], verifier

    def token_request(self, data, auth=None):
        auth = auth or self.auth
        data = dict(data)
        headers = {}
        if auth == "basic" and self.secret is not None:
            headers["Authorization"] = basic(self.client_id, self.secret)
        elif auth == "post" and self.secret is not None:
            data.update(client_id=self.client_id, client_secret=self.secret)
        else:
            data["client_id"] = self.client_id
        return data, headers

    def post(self, path, data, auth=None):
        data, headers = self.token_request(data, auth)
        return self.http.post(path, data=data, headers=headers)

    def exchange(self, code, verifier, redirect_uri=None):
        return self.post("/oauth/token", {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": redirect_uri or self.redirect_uri,
                                          "code_verifier": verifier})

    def login(self, scope="read"):
        code, verifier = self.get_code(scope)
        r = self.exchange(code, verifier)
        assert r.status_code == 200, r.text
        return r.json()

    def refresh(self, refresh_token, scope=None):
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope is not None:
            data["scope"] = scope
        return self.post("/oauth/token", data)

    def revoke(self, token, hint=None):
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        return self.post("/oauth/revoke", data)


def introspect(http, token, client_id="rs", secret=RS_SECRET):
    r = http.post("/oauth/introspect", data={"token": token}, headers={"Authorization": basic(client_id, secret)})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def api(http, token, path="/api/read"):
    return http.get(path, headers={"Authorization": "Bearer " + token})


def client_for(app):
    return TestClient(app, follow_redirects=False)
