"""A user's type checker sees covet's decorated handlers as themselves (route, middleware, hook and
security decorators alike) and accepts the markers.

mypy is not a dependency of covet or of its tests: this runs only where mypy is importable.
"""
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

USER_FILE = '''
from typing import Any, Dict, List, Optional

from covet import (AsyncTestClient, Body, Cookie, Covet, Depends, File, Form, Header, HTTPException, Path, Query,
                   Request, Response, RouteGroup, Router, TestClient, UploadFile)
from covet.core import status
from covet.security import JWTAuth, RateLimiter, RoleBasedAccessControl, csrf_exempt


def get_db() -> Dict[str, int]:
    return {"users": 3}


app = Covet(title="typed")


@app.get("/items/{item_id:int}")
async def read_item(item_id: int = Path(ge=1), q: str = Query("x", min_length=1), token: str = Header("t"),
                    session: Optional[str] = Cookie(None), db: Dict[str, int] = Depends(get_db)) -> Dict[str, int]:
    return {"id": item_id, "users": db["users"]}


@app.post("/notes", status_code=status.HTTP_201_CREATED)
def create_note(text: str = Body(embed=True)) -> Dict[str, str]:
    return {"text": text}


@app.route("/forms", methods=["POST"])
async def upload(title: str = Form(), doc: UploadFile = File(max_size="1MB"),
                 more: List[UploadFile] = File(default_factory=list)) -> str:
    return title


api: RouteGroup = app.group("/api")
router = Router()


@api.put("/a")
async def put_a(request: Request) -> str:
    return request.path


@router.delete("/b")
def delete_b() -> None:
    return None


@app.middleware
async def timing(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    return response


@app.middleware("http")
async def other(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    return response


@app.exception_handler(HTTPException)
async def on_http(request: Request, exc: Exception) -> Dict[str, str]:
    return {"error": str(exc)}


@app.on_startup
async def start() -> None:
    return None


reveal_type(read_item)
reveal_type(create_note)
reveal_type(upload)
reveal_type(put_a)
reveal_type(delete_b)
reveal_type(timing)
reveal_type(on_http)
reveal_type(start)

auth = JWTAuth("k" * 32)
rbac = RoleBasedAccessControl(auth=auth)
limiter = RateLimiter("10/minute")


@app.post("/secure/{n:int}")
@csrf_exempt
@limiter.limit("5/minute")
@rbac.require_permission("posts:write")
@rbac.require_roles("admin", "editor")
@auth.require_token
async def secure(n: int, request: Request) -> Dict[str, int]:
    return {"n": n}


@app.get("/called")
@auth.require_token()
def called(user: Any = Depends(rbac.require_roles("admin"))) -> str:
    return "ok"


@app.get("/free")
@limiter.exempt
async def free() -> None:
    return None


reveal_type(secure)
reveal_type(called)
reveal_type(free)


def check() -> int:
    with TestClient(app) as client:
        r = client.get("/items/3", params={"q": "y"}, headers={"x": "1"})
        code: int = r.status_code
        reveal_type(r)
    return code + status.HTTP_404_NOT_FOUND


async def acheck() -> bytes:
    async with AsyncTestClient(app) as client:
        r = await client.post("/notes", json={"text": "t"})
        return r.content
'''

# What mypy must reveal: each decorated function with its own signature, never Any. Written as
# recent mypy prints types; older ones qualify builtins ("builtins.int") and spell Union[str, None].
EXPECTED = [
    "def (item_id: int =, q: str =, token: str =, session: str | None =, db: dict[str, int] =) "
    "-> typing.Coroutine[Any, Any, dict[str, int]]",
    "def (text: str =) -> dict[str, str]",
    "def (title: str =, doc: covet.core.uploads.UploadFile =, more: list[covet.core.uploads.UploadFile] =) "
    "-> typing.Coroutine[Any, Any, str]",
    "def (request: covet.core.requests.Request) -> typing.Coroutine[Any, Any, str]",
    "def ()",
    "def (request: covet.core.requests.Request, call_next: Any) "
    "-> typing.Coroutine[Any, Any, covet.core.responses.Response]",
    "def (request: covet.core.requests.Request, exc: Exception) -> typing.Coroutine[Any, Any, dict[str, str]]",
    "def () -> typing.Coroutine[Any, Any, None]",
    "def (n: int, request: covet.core.requests.Request) -> typing.Coroutine[Any, Any, dict[str, int]]",
    "def (user: Any =) -> str",
    "def () -> typing.Coroutine[Any, Any, None]",
    "covet.testing.TestResponse",
]


def normalise(revealed):
    revealed = revealed.replace("builtins.", "")
    return re.sub(r"Union\[(\w+), None\]", r"\1 | None", revealed)


def test_decorated_handlers_keep_their_own_types_under_mypy_strict(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed here; covet does not depend on it")
    user = tmp_path / "user_app.py"
    user.write_text(textwrap.dedent(USER_FILE), encoding="utf-8")
    env = dict(os.environ, MYPYPATH=str(ROOT))
    # --follow-imports=silent: judge the user's file only, as mypy does for an installed covet.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
         "--cache-dir", str(tmp_path / "cache"), "--no-pretty", str(user)],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600,
    )
    lines = result.stdout.splitlines()
    assert [line for line in lines if "Revealed type is" not in line] == [], result.stdout + result.stderr
    revealed = [normalise(re.search(r'Revealed type is "(.*)"$', line).group(1)) for line in lines]
    assert revealed == EXPECTED


def test_the_package_declares_the_kernel_names_to_type_checkers():
    # covet/__init__.py loads names lazily; its TYPE_CHECKING imports must name the same module
    # for each kernel name, or a type checker would see Any (or the wrong thing) for it.
    import ast

    import covet

    tree = ast.parse((ROOT / "covet" / "__init__.py").read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    declared = {alias.name: node.module for node in block.body for alias in node.names}
    assert all(alias.asname == alias.name for node in block.body for alias in node.names)
    kernel = {name: module for name, module in covet._EXPORTS.items() if module.startswith(("core.", "testing"))}
    # A module exported as itself ("status": "core.status") is imported from its package.
    kernel = {name: module.rpartition(".")[0] if module.rpartition(".")[2] == name else module
              for name, module in kernel.items()}
    assert declared == kernel


def test_the_security_package_declares_its_lazy_names_to_type_checkers():
    # covet.security loads its HTTP-facing names lazily too; ``from covet.security import JWTAuth``
    # must give a type checker the class (and so its typed decorators), not Any.
    import ast

    import covet.security

    tree = ast.parse((ROOT / "covet" / "security" / "__init__.py").read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    declared = {alias.name: node.module for node in block.body for alias in node.names}
    assert all(alias.asname == alias.name for node in block.body for alias in node.names)
    assert declared == {name: "covet.security." + module for name, module in covet.security._LAZY.items()}
