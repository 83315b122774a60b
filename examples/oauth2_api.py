"""An API behind covet's own OAuth 2.1 server, tried from /docs with the authorization code flow.

Run it:   python -m covet run examples/oauth2_api.py          then open http://127.0.0.1:8000/docs
          Authorize -> OAuth2 -> Authorize: a window asks you to sign in (alice / wonderland),
          then every "notes" operation carries the access token.
Test it:  tests/test_example_oauth2.py (the test client), tests/browser/test_docs*.py (Chromium).

    GET  /login, POST /login        a sign-in form (session cookie, CSRF token)
    GET  /oauth/authorize           covet.security.oauth2.OAuth2Server (and /oauth/token, ...)
    GET  /api/notes                 scope notes:read
    POST /api/notes                 scope notes:write     {"text": "..."}
    GET  /api/me                    any access token of this server

The /docs page is a *public* OAuth2 client (no secret: it runs in a browser), "docs", registered
with exactly one redirect URI, the page's ``/docs/oauth2-redirect`` on the address it is served
from: http://127.0.0.1:8000 unless $DOCS_REDIRECT_URI names another. It uses PKCE (S256), which
covet's server requires of every client. ``docs_options={"oauth2_client_id": "docs"}`` fills the
client id in the Authorize dialog.

Demo choices a real application must not copy: one user with a low-cost password hash (see
examples/auth_api.py), and a random key per process without $COVET_SECRET.
"""
import os
import secrets
from dataclasses import dataclass
from html import escape
from typing import Any, Dict, List
from urllib.parse import urlsplit

from covet import Covet, Depends, Form, HTMLResponse, RedirectResponse, Request
from covet.security import CSRFProtection, SessionMiddleware, csrf_token, hash_password, verify_password
from covet.security.oauth2 import OAuth2Server
from covet.validation import Field

DEMO_HASH_COST = {"ln": 10, "iterations": 10_000}
DEMO_USERS = {"alice": "wonderland"}
SCOPES = ["notes:read", "notes:write"]

LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in to notes</h1>%s
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="%s"><input type="hidden" name="next" value="%s">
<label>User <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form></body></html>"""


@dataclass
class NoteIn:
    text: str = Field(min_length=1, max_length=500, examples=["buy milk"])


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else "/": a login must not redirect elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def create_app(secret: Any = None, redirect_uri: str = None) -> Covet:
    secret = secret or os.environ.get("COVET_SECRET") or secrets.token_bytes(32)
    redirect_uri = redirect_uri or os.environ.get("DOCS_REDIRECT_URI",
                                                  "http://127.0.0.1:8000/docs/oauth2-redirect")
    issuer = "{0.scheme}://{0.netloc}".format(urlsplit(redirect_uri))
    app = Covet(title="notes API (OAuth2)", version="1.0.0",
                description="Notes behind covet's OAuth 2.1 server; Authorize signs in with the code flow.",
                openapi_tags=[{"name": "notes", "description": "Your notes; each scope allows one kind of access."}],
                docs_options={"oauth2_client_id": "docs"})
    app.add_middleware(SessionMiddleware, secret_key=secret)      # first: the outer one
    # The API takes bearer tokens, which a browser never sends on its own: CSRF cannot ride on them.
    app.add_middleware(CSRFProtection, secret_key=secret, exempt_paths=["/api/*"])
    users = {name: hash_password(password, **DEMO_HASH_COST) for name, password in DEMO_USERS.items()}
    dummy = hash_password(secrets.token_urlsafe(16), **DEMO_HASH_COST)
    notes: Dict[str, List[str]] = {}

    oauth2 = OAuth2Server(
        clients={"docs": {"name": "API docs", "redirect_uris": [redirect_uri], "skip_consent": True}},
        scopes=SCOPES, secret_key=secret, issuer=issuer, login_url="/login")
    app.include_oauth2(oauth2)

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/"):
        return HTMLResponse(LOGIN_PAGE % ("", escape(csrf_token(request)), escape(local_path(next))))

    @app.post("/login", include_in_schema=False)
    def login(request: Request, username: str = Form(max_length=100), password: str = Form(max_length=200),
              next: str = Form("/")):
        # A plain def: the hash runs in the thread pool, not on the event loop.
        stored = users.get(username)
        ok = verify_password(password, stored if stored is not None else dummy) and stored is not None
        if not ok:
            page = LOGIN_PAGE % ('<p role="alert">Wrong user name or password.</p>',
                                 escape(csrf_token(request)), escape(local_path(next)))
            return HTMLResponse(page, 401)
        request.session["user_id"] = username
        return RedirectResponse(local_path(next), 303)

    read, write = oauth2.require_scopes("notes:read"), oauth2.require_scopes("notes:write")

    @app.get("/api/notes", tags=["notes"])
    async def list_notes(claims: dict = Depends(read)):
        """Your notes, oldest first."""
        return notes.get(claims["sub"], [])

    @app.post("/api/notes", tags=["notes"], status_code=201)
    async def add_note(note: NoteIn, claims: dict = Depends(write)):
        """Add a note."""
        mine = notes.setdefault(claims["sub"], [])
        mine.append(note.text)
        return {"count": len(mine)}

    @app.get("/api/me", tags=["notes"])
    async def me(claims: dict = Depends(oauth2.jwt_auth.current_user)):
        """Who the token speaks for, and what it allows."""
        return {"user": claims["sub"], "scope": claims.get("scope", ""), "client": claims.get("client_id")}

    return app


app = create_app()
