"""Where template names live while a template compiles: Jinja2-style scopes, each name a
Python local ``l_<scope>_<name>``, and the generated functions that read the context.

A name is read from the context once, at the start of the function that needs it; a
name assigned inside a scope starts each entry with the outer value (see ``init_names``).
"""
from ..core._codegen import Emitter
from . import _nodes as n

__all__ = ["INLINE", "Func", "Scope", "Scoping"]

# The local of ``loop`` in a for-loop whose loop attributes are computed inline.
INLINE = "<inline loop>"


class Scope:
    """Names stored in one template scope and the Python locals holding them."""

    __slots__ = ("id", "parent", "names", "inline_loop")

    def __init__(self, id_, parent, names):
        self.id = id_
        self.parent = parent
        self.names = names
        self.inline_loop = None


class Func:
    """A Python function being generated: its body and its context reads."""

    __slots__ = ("parent", "code", "ctx_names", "top_scope")

    def __init__(self, parent):
        self.parent = parent
        self.code = Emitter(1)  # the body; each line tagged with its template line
        self.ctx_names = {}     # template name -> local read from _c in the prologue
        self.top_scope = None


class Scoping:
    """Mixin of the template compiler: scopes, and the Python expression for a template name.

    Example: in ``{% for x in xs %}{{ x }}{% endfor %}`` at the top of a template, the loop
    body is scope 1 and ``self.lookup("x")`` answers ``("l_1_x", <that scope>)``.
    """

    def new_scope(self, body, bound, extra=()):
        stored = set(bound)
        stored.update(extra)
        self.collect_stores(body, stored)
        self.scope_ids += 1
        id_ = self.scope_ids - 1
        names = {name: "l_%d_%s" % (id_, name) for name in stored}
        return Scope(id_, self.scope, names)

    def collect_stores(self, stmts, acc):
        for stmt in stmts:
            t = type(stmt)
            if t is n.Assign:
                self.target_names(stmt.target, acc)
            elif t is n.AssignBlock:
                acc.add(stmt.target.name)
            elif t is n.Macro:
                acc.add(stmt.name)
            elif t is n.Import:
                acc.add(stmt.target)
            elif t is n.FromImport:
                acc.update(alias for _, alias in stmt.names)
            elif t is n.If:
                self.collect_stores(stmt.body, acc)
                self.collect_stores(stmt.else_, acc)
            elif t is n.AutoEscape:
                self.collect_stores(stmt.body, acc)
        return acc

    def target_names(self, target, acc):
        if isinstance(target, n.Name):
            acc.add(target.name)
        elif isinstance(target, n.TupleLit):
            for item in target.items:
                self.target_names(item, acc)
        return acc

    def init_names(self, body, scope, bound):
        """Names stored in ``scope`` that may be read before this scope assigns them."""
        stored = set(scope.names) - set(bound)
        if not stored:
            return ()
        assigned = set()
        needs = set()

        def check(loads):
            if "*" in loads:
                needs.update(stored - assigned)
            else:
                needs.update((loads & stored) - assigned)

        def walk(stmts, conditional):
            for stmt in stmts:
                t = type(stmt)
                if t is n.If:
                    check(self.loads(stmt.test))
                    walk(stmt.body, True)
                    walk(stmt.else_, True)
                    continue
                if t is n.AutoEscape:
                    walk(stmt.body, conditional)
                    continue
                loads = self.loads(stmt)
                if t is n.Macro:
                    loads = loads - {stmt.name}
                check(loads)
                if not conditional:
                    self.collect_stores([stmt], assigned)

        walk(body, False)
        return sorted(needs)

    def loads(self, node):
        """Template names ``node`` may read ('*' when it hands all locals to another template)."""
        memo = self.loads_memo
        key = id(node)
        if key in memo:
            return memo[key]
        result = set()
        t = type(node)
        if t is n.Name or t is n.NSRef:
            result.add(node.name)
        elif t is n.Block:
            if node.scoped:
                result.add("*")
            memo[key] = result
            return result
        elif (t is n.Include or t is n.Import or t is n.FromImport) and node.with_context:
            result.add("*")
        if t is n.Assign:
            children = [node.node] + ([node.target] if isinstance(node.target, n.NSRef) else [])
        elif t is n.For:
            children = [node.iter, node.test] + node.body + node.else_
        elif t is n.With:
            children = node.values + node.body
        elif t is n.Macro or t is n.CallBlock:
            children = list(node.defaults) + node.body + ([node.call] if t is n.CallBlock else [])
        else:
            children = node.children()
        for child in children:
            if child is not None:
                result |= self.loads(child)
        memo[key] = result
        return result

    def lookup(self, name):
        """The Python expression that reads template name ``name`` here."""
        scope = self.scope
        while scope is not None:
            local = scope.names.get(name)
            if local is not None:
                return local, scope
            scope = scope.parent
        func = self.func
        while func.parent is not None:
            func = func.parent
        local = func.ctx_names.get(name)
        if local is None:
            local = func.ctx_names[name] = "l_%d_%s" % (func.top_scope.id, name)
        return local, None

    def visible_locals(self, with_loop=False):
        """Python dict source of every template local visible here (for include/scoped blocks)."""
        seen = {}
        scope = self.scope
        while scope is not None:
            for name, local in scope.names.items():
                if name not in seen and local != INLINE and (with_loop or name != "loop"):
                    seen[name] = local
            scope = scope.parent
        if not seen:
            return "{}"
        return "{%s}" % ", ".join("%r: %s" % (k, v) for k, v in sorted(seen.items()))

    def enter_scope(self, body, bound=(), extra=(), lineno=0):
        """Open a scope for ``body``; emits the copies of outer values it starts from."""
        scope = self.new_scope(body, bound, extra=extra)
        needs = self.init_names(body, scope, tuple(bound) + tuple(extra))
        inits = []
        for name in needs:
            outer, _ = self.lookup(name)
            inits.append((scope.names[name], outer))
        self.scope = scope
        for local, outer in inits:
            self.emit("%s = %s" % (local, outer), lineno)
        return scope

    def lookup_is_context(self, name):
        scope = self.scope
        while scope is not None:
            if name in scope.names:
                return False
            scope = scope.parent
        return True
