"""A user's type checker sees functions under covet's cache decorators as themselves, and the cache
package's names (and each app's caches) with their own types.

mypy is not a dependency of covet or of its tests: the mypy test runs only where mypy is importable.
"""
import ast
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

USER_FILE = '''
from typing import Dict, List, Tuple

from covet import Covet
from covet.cache import Cache, CacheLayer, CacheManager, MultiLevelCache, cached
from covet.cache.app_caches import memory_cache, redis_cache
from covet.cache.decorators import cache_page, cache_result

app = Covet()
cache = Cache(ttl=60)
manager = CacheManager("redis://localhost:6379")
layer = CacheLayer()
levels = MultiLevelCache([{"type": "memory", "size": 10}])


@app.get("/a/{n:int}")
@cache.cached(ttl=60)
async def a(n: int) -> Dict[str, int]:
    return {"n": n}


@manager.cached(ttl=30, key=lambda n: "b:%d" % n)
def b(n: int) -> Tuple[Dict[str, int], int]:
    return {"n": n}, 201


@cache.cached
def c() -> List[str]:
    return []


@layer.cached(ttl=5, refresh_after=1)
async def d(x: str) -> str:
    return x


@levels.cached
def e(x: str) -> str:
    return x


@cache_result(ttl=300)
async def f(user_id: int) -> Dict[str, int]:
    return {"u": user_id}


@cache_result
def g() -> int:
    return 1


@app.get("/h")
@cache_page(ttl=600)
async def h() -> Dict[str, str]:
    return {"dashboard": "data"}


@cache_page
def i() -> str:
    return "x"


@cache.cache_page(60, vary=("Accept",))
def j(q: str = "") -> str:
    return q


@cached(cache, ttl=60)
def k(n: int, s: str = "") -> bytes:
    return b""


reveal_type(a)
reveal_type(b)
reveal_type(c)
reveal_type(d)
reveal_type(e)
reveal_type(f)
reveal_type(g)
reveal_type(h)
reveal_type(i)
reveal_type(j)
reveal_type(k)
reveal_type(memory_cache(app))
reveal_type(redis_cache(app))
reveal_type(manager)

late: int = b(1)[1] + len(c()) + g()
wrong = cache.cached(ttl="soon")
'''

# Written as recent mypy prints types; older ones qualify builtins ("builtins.int").
EXPECTED = [
    "def (n: int) -> typing.Coroutine[Any, Any, dict[str, int]]",
    "def (n: int) -> tuple[dict[str, int], int]",
    "def () -> list[str]",
    "def (x: str) -> typing.Coroutine[Any, Any, str]",
    "def (x: str) -> str",
    "def (user_id: int) -> typing.Coroutine[Any, Any, dict[str, int]]",
    "def () -> int",
    "def () -> typing.Coroutine[Any, Any, dict[str, str]]",
    "def () -> str",
    "def (q: str =) -> str",
    "def (n: int, s: str =) -> bytes",
    "covet.cache.cache.Cache",
    "covet.cache.layer.CacheLayer",
    "covet.cache.manager.CacheManager",
]


def normalise(revealed):
    return re.sub(r"\b(builtins\.)", "", revealed).replace("Tuple[", "tuple[").replace("Dict[", "dict[") \
        .replace("List[", "list[")


def test_decorated_functions_keep_their_own_types_under_mypy_strict(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed here; covet does not depend on it")
    user = tmp_path / "user_cache.py"
    user.write_text(textwrap.dedent(USER_FILE), encoding="utf-8")
    env = dict(os.environ, MYPYPATH=str(ROOT))
    # --follow-imports=silent: judge the user's file only, as mypy does for an installed covet.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
         "--cache-dir", str(tmp_path / "cache"), "--no-pretty", str(user)],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600,
    )
    lines = result.stdout.splitlines()
    errors = [line for line in lines if ": error: " in line]
    # The one line that misuses a decorator is the one error: a ttl is seconds, not text.
    assert len(errors) == 1 and 'No overload variant of "cached" of "Cache" matches argument type "str"' in \
        errors[0], result.stdout + result.stderr
    revealed = [normalise(re.search(r'Revealed type is "(.*)"$', line).group(1))
                for line in lines if "Revealed type is" in line]
    assert revealed == EXPECTED


def test_the_cache_package_declares_its_names_to_type_checkers():
    # covet/cache/__init__.py loads names lazily; its TYPE_CHECKING imports must name the same
    # module for each public name, or a type checker would see Any (or the wrong thing) for it.
    from covet import cache

    tree = ast.parse((ROOT / "covet" / "cache" / "__init__.py").read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    assert all(alias.asname == alias.name for node in block.body for alias in node.names)
    declared = {alias.name: node.module for node in block.body for alias in node.names}
    assert declared == cache._EXPORTS
