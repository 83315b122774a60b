"""The shape of covet's imports (docs/architecture.md): no cycles, a kernel that imports no feature,
and no module that reaches into another module's private names.

Every import statement counts, at the top of a module and inside functions alike: an import
deferred into a function still makes the two modules depend on each other. The only way the
kernel reaches a feature is the role table of ``covet.core.services``, filled in by the package
façade, and the façade's own lazy table of public names.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "covet"


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules():
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def resolve(importer, is_package, node, modules):
    """The covet modules one import statement loads, as (target, imported names)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == "covet":
                yield alias.name, ()
        return
    if node.level:
        base = importer.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "covet":
        return
    names = []
    for alias in node.names:
        sub = target + "." + alias.name
        if sub in modules:
            yield sub, ()          # "from covet.security import jwt": the module jwt
        else:
            names.append(alias.name)
    if names:
        yield target, tuple(names)


def import_edges(modules=None):
    """[(importer, target, names, line)] for every covet-internal import in covet/."""
    modules = modules or all_modules()
    edges = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target, names in resolve(name, path.name == "__init__.py", node, modules):
                    edges.append((name, target, names, node.lineno))
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan), plus self-imports."""
    graph = {}
    for a, b, _, _ in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def in_kernel(name):
    return name == "covet.core" or name.startswith("covet.core.")


def test_no_import_cycles_between_covet_modules():
    assert cycles(import_edges()) == []


def test_the_kernel_imports_nothing_outside_covet_core():
    bad = ["%s:%d imports %s" % (a, line, b) for a, b, _, line in import_edges()
           if in_kernel(a) and not in_kernel(b)]
    assert bad == []


def test_no_module_imports_another_modules_private_names():
    # Shared helpers are public names in `_` modules (h11's layout); a leading underscore on a
    # name means "this module's own".
    bad = ["%s:%d takes %s from %s" % (a, line, n, b) for a, b, names, line in import_edges()
           for n in names if n.startswith("_") and not n.startswith("__")]
    assert bad == []


def test_the_kernels_services_are_named_by_the_facade_only():
    import covet
    from covet.core import services

    roles = services.roles()
    assert roles == {"validation": "covet.validation", "openapi": "covet.openapi",
                     "server": "covet.server.run", "asgi": "covet.asgi", "cache": "covet.cache",
                     "staticfiles": "covet.staticfiles", "metrics": "covet.monitoring.instrumentation",
                     "config": "covet.config"}
    for role in roles:
        assert services.service(role).__name__ == roles[role]
    assert covet.__name__ == "covet"


# -- the checker itself -------------------------------------------------------

def test_checker_sees_imports_inside_functions_and_relative_ones(tmp_path):
    pkg = tmp_path / "covet"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "app.py").write_text("def f():\n    from ..cache import x\n")
    (pkg / "cache.py").write_text("from .core.app import f\nfrom covet.core import _private\n")
    modules = {}
    for p in pkg.rglob("*.py"):
        parts = list(p.relative_to(tmp_path).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = p
    global ROOT
    saved, ROOT = ROOT, pkg
    try:
        edges = import_edges(modules)
    finally:
        ROOT = saved
    assert ("covet.core.app", "covet.cache", ("x",), 2) in edges
    assert ("covet.cache", "covet.core.app", ("f",), 1) in edges
    assert ("covet.cache", "covet.core", ("_private",), 2) in edges
    assert cycles(edges) == [["covet.cache", "covet.core.app"]]


@pytest.mark.parametrize("edges, expected", [
    ([("a", "b", (), 1), ("b", "c", (), 1)], []),
    ([("a", "b", (), 1), ("b", "a", (), 1)], [["a", "b"]]),
    ([("a", "a", (), 1)], [["a"]]),
    ([("a", "b", (), 1), ("b", "c", (), 1), ("c", "a", (), 1), ("c", "d", (), 1)], [["a", "b", "c"]]),
])
def test_cycle_finder(edges, expected):
    assert cycles(edges) == expected
