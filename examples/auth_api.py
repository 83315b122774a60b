"""A JSON API with password login, bearer tokens, roles and token refresh.

Run it:   COVET_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))') \\
          python -m covet run examples/auth_api.py
Test it:  tests/test_example_auth.py drives every endpoint through the test client.

    POST   /login          {"username": "alice", "password": "..."} -> access and refresh token
    POST   /refresh        {"refresh_token": "..."}                  -> a new pair
    GET    /me             any valid access token                    -> the token's claims
    GET    /admin/users    role "admin" (decorator form)             -> the user list
    DELETE /posts/{id}     permission "posts:delete" (dependency)    -> editors and admins

Demo users: alice/wonderland (admin), bob/builder (editor), carol/singer (viewer).

Two demo choices that a real application must not copy:
- The passwords are hashed at start-up with a deliberately LOW cost (scrypt N=2**10, or
  10,000 PBKDF2 rounds), passed explicitly to ``hash_password``, so that the example and
  its test start fast. Real code hashes once, at sign-up, with the defaults, and stores
  the hash.
- Without COVET_SECRET a random key is made at start-up, so tokens die with the process.
"""
import os
import secrets
from dataclasses import dataclass

from covet import Covet, Depends, HTTPException, Request
from covet.security import RBAC, JWTAuth, hash_password, verify_password

# Demo only: far below the defaults (ln=14, 600,000 iterations); see the module docstring.
DEMO_HASH_COST = {"ln": 10, "iterations": 10_000}

DEMO_USERS = {
    "alice": ("wonderland", ["admin"]),
    "bob": ("builder", ["editor"]),
    "carol": ("singer", ["viewer"]),
}


@dataclass
class Credentials:
    username: str
    password: str


@dataclass
class RefreshRequest:
    refresh_token: str


def make_rbac(auth):
    """Roles inherit downwards: an admin is an editor, an editor is a viewer."""
    rbac = RBAC(auth=auth)
    rbac.add_role("viewer", permissions=["posts:read"])
    rbac.add_role("editor", permissions=["posts:write", "posts:delete"], inherits=["viewer"])
    rbac.add_role("admin", permissions=["users:read"], inherits=["editor"])
    return rbac


def create_app(secret=None):
    """The API; ``secret`` signs the tokens (default: $COVET_SECRET, else a random key)."""
    if secret is None:
        secret = os.environ.get("COVET_SECRET") or secrets.token_bytes(32)
    auth = JWTAuth(secret, expiration_time=900, refresh_expiration_time=7 * 24 * 3600)
    rbac = make_rbac(auth)
    users = {name: {"password_hash": hash_password(password, **DEMO_HASH_COST), "roles": roles}
             for name, (password, roles) in DEMO_USERS.items()}
    # Verifying against this for unknown names makes them cost as much as wrong passwords,
    # so response times do not tell which user names exist.
    dummy_hash = hash_password(secrets.token_urlsafe(16), **DEMO_HASH_COST)
    posts = {1: "Hello", 2: "Second post"}

    app = Covet(title="auth example")
    app.state.users = users

    @app.post("/login")
    def login(credentials: Credentials):
        # A plain def: the hash runs in the thread pool, not on the event loop.
        user = users.get(credentials.username)
        stored = user["password_hash"] if user is not None else dummy_hash
        if not verify_password(credentials.password, stored) or user is None:
            raise HTTPException(401, "incorrect username or password", {"WWW-Authenticate": "Bearer"})
        return auth.create_token_pair({"sub": credentials.username, "roles": user["roles"]})

    @app.post("/refresh")
    async def refresh(body: RefreshRequest):
        return auth.refresh(body.refresh_token)

    @app.get("/me")
    @auth.require_token
    async def me(request: Request):
        user = request.state.user
        return {"username": user["sub"], "roles": user["roles"]}

    @app.get("/admin/users")
    @rbac.require_roles("admin")
    async def list_users():
        return [{"username": name, "roles": u["roles"]} for name, u in sorted(users.items())]

    @app.delete("/posts/{post_id:int}")
    async def delete_post(post_id: int, user=Depends(rbac.require_permission("posts:delete"))):
        if posts.pop(post_id, None) is None:
            raise HTTPException(404, "no post %d" % post_id)
        return {"deleted": post_id, "by": user["sub"]}

    return app


app = create_app()
