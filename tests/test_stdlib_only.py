"""covet/ imports only the standard library: the promise users copy the folder for."""
import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "covet"


def stdlib_names():
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python 3.9
        text = (pathlib.Path(__file__).parent / "stdlib_3_9.txt").read_text()
        names = {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}
    return set(names) | {"__future__"}


def imported_top_levels(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


# Optional speed-ups a user may have installed, imported only when asked for
# explicitly and behind a guarded import; each is listed and justified in
# docs/server.md ("The one optional import").
OPT_IN = {"uvloop"}


def test_covet_imports_only_the_standard_library():
    std = stdlib_names()
    files = sorted(ROOT.rglob("*.py"))
    assert files, "covet/ has no modules"
    bad = [
        f"{p.relative_to(ROOT.parent)}:{line}: {name}"
        for p in files
        for line, name in imported_top_levels(p)
        if name != "covet" and name not in std and name not in OPT_IN
    ]
    assert bad == []


def test_guard_catches_a_third_party_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import requests\nfrom os import path\n")
    names = [n for _, n in imported_top_levels(f)]
    assert names == ["requests", "os"]
    assert "requests" not in stdlib_names()


@pytest.mark.parametrize("name", ["asyncio", "json", "hmac", "ssl", "sqlite3"])
def test_stdlib_list_knows_common_modules(name):
    assert name in stdlib_names()


def test_every_opt_in_import_is_guarded_and_documented():
    # An opt-in module is never imported at module level (importing covet must not need it),
    # only inside a function under an `if`, and docs/server.md names the file that imports it.
    docs = (ROOT.parent / "docs" / "server.md").read_text(encoding="utf-8")
    section = docs.split("## The one optional import", 1)[1].split("\n## ", 1)[0]
    seen = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        guarded = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for cond in ast.walk(fn):
                    if isinstance(cond, ast.If):
                        guarded.update(id(n) for n in ast.walk(cond))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] in OPT_IN for a in node.names):
                rel = str(path.relative_to(ROOT.parent))
                seen.append(rel)
                assert id(node) in guarded, "%s:%d imports an opt-in module unguarded" % (rel, node.lineno)
                assert "`%s`" % rel in section, "%s imports an opt-in module: list it in docs/server.md" % rel
    assert seen == ["covet/server/server.py"]
