"""A test app for tests/browser/test_docs_schemes.py: one route per security scheme of
covet.security, each answering 200 with what it read, and a token endpoint for the OAuth2
password flow (RFC 6749 §4.3) that OAuth2PasswordBearer points the docs page at.

``app`` keeps what Authorize got in memory only; ``persisting`` keeps it in sessionStorage
(``docs_options={"persist_authorization": True}``).
"""
import hmac
import secrets
from typing import Dict

from covet import Covet, Depends, Form, HTTPException, JSONResponse
from covet.security import APIKeyCookie, APIKeyQuery, HTTPBasic, OAuth2PasswordBearer

USER, PASSWORD = "ann", "s3cret:with colon"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def create_app(persist: bool = False) -> Covet:
    app = Covet(title="schemes test", docs_options={"persist_authorization": persist})
    basic = HTTPBasic(description="ann and her password")
    query_key = APIKeyQuery("key", description="q-key")
    cookie_key = APIKeyCookie("session_key", description="c-key")
    password_flow = OAuth2PasswordBearer("/token", scopes={"read": "Read things", "write": "Change things"})
    tokens: Dict[str, str] = {}

    @app.post("/token", tags=["oauth2"])
    def token(grant_type: str = Form(), username: str = Form(""), password: str = Form(""), scope: str = Form("")):
        """The password grant: a token for ann."""
        if grant_type != "password":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if not (_same(username, USER) and _same(password, PASSWORD)):
            return JSONResponse({"error": "invalid_grant", "error_description": "wrong user name or password"}, 400)
        issued = secrets.token_urlsafe(16)
        tokens[issued] = scope
        return JSONResponse({"access_token": issued, "token_type": "bearer", "scope": scope},
                            headers={"Cache-Control": "no-store"})

    def check(ok: bool) -> None:
        if not ok:
            raise HTTPException(401, "wrong credentials", {"WWW-Authenticate": "Basic"})

    @app.get("/basic", tags=["checks"])
    def by_basic(credentials=Depends(basic)):
        check(_same(credentials.username, USER) and _same(credentials.password, PASSWORD))
        return {"user": credentials.username}

    @app.get("/query", tags=["checks"])
    def by_query(key: str = Depends(query_key)):
        check(_same(key, "q-key"))
        return {"key": key}

    @app.get("/cookie", tags=["checks"])
    def by_cookie(key: str = Depends(cookie_key)):
        check(_same(key, "c-key"))
        return {"key": key}

    @app.get("/oauth", tags=["checks"])
    def by_oauth(token: str = Depends(password_flow)):
        check(token in tokens)
        return {"scope": tokens[token]}

    return app


app = create_app()
persisting = create_app(persist=True)
