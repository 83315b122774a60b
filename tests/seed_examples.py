"""The Python examples of covet's API reference (seed 004), for tests/test_seed_examples.py.

``tests/seeds/004_api_reference.txt`` is a copy of ``../shared/seeds/004_*.txt`` (a test checks
that they are the same whenever the original is there), so the examples run from a clean clone.

``example(n)`` is the n-th ```python block (1-based, in the order of the file), as written.
``fill(n, (old, new), ...)`` is the same block with the blanks a user fills in: each ``old``
must occur in it, so that a change to the reference breaks the test that depends on it instead
of silently testing something else. ``run(n, namespace, *fills)`` executes it in
``namespace`` (top-level ``await`` allowed, as the reference writes it) and returns the
namespace.
"""
import ast
import asyncio
import inspect
import pathlib
import re
from typing import Any, Dict, List, Tuple

SEED = pathlib.Path(__file__).resolve().parent / "seeds" / "004_api_reference.txt"
ORIGINALS = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"

_BLOCKS: List[Tuple[str, str]] = []


def blocks() -> List[Tuple[str, str]]:
    """[(the heading above it, code)] for every ```python block of the reference."""
    if not _BLOCKS:
        heading = ""
        text = SEED.read_text(encoding="utf-8")
        for m in re.finditer(r"^(#+ [^\n]*)$|^```python\n(.*?)^```", text, re.M | re.S):
            if m.group(1):
                heading = m.group(1).lstrip("# ").strip()
            else:
                _BLOCKS.append((heading, m.group(2)))
    return _BLOCKS


def fenced(language: str) -> List[str]:
    """Every ```language block of the reference (the templates are ```html)."""
    return re.findall(r"^```%s\n(.*?)^```" % language, SEED.read_text(encoding="utf-8"), re.M | re.S)


def example(n: int) -> str:
    """The n-th Python example, as written."""
    return blocks()[n - 1][1]


def heading(n: int) -> str:
    return blocks()[n - 1][0]


def fill(n: int, *fills: Tuple[str, str]) -> str:
    """Example n with each ``old`` text replaced by ``new`` (each ``old`` must be there)."""
    code = example(n)
    for old, new in fills:
        assert old in code, "example %d (%s) no longer contains %r" % (n, heading(n), old)
        code = code.replace(old, new)
    return code


def run(n: int, namespace: Dict[str, Any], *fills: Tuple[str, str]) -> Dict[str, Any]:
    """Execute example n (with ``fills``) in ``namespace``; top-level ``await`` is run to the end."""
    code = fill(n, *fills)
    compiled = compile(code, "<seed 004 example %d: %s>" % (n, heading(n)), "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)  # noqa: S307 - the reference's own examples
    if inspect.iscoroutine(result):
        asyncio.run(result)
    return namespace
