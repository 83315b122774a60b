"""The template compiler's for-loops: plain, with inline ``loop`` attributes, with a full
``loop`` object, filtered (``for x in xs if cond``) and recursive; break and continue."""
from . import _nodes as n
from ._scopes import INLINE, Func, Scope

__all__ = ["INLINE_LOOP_ATTRS", "Loops"]

# Loop attributes that can be computed from an enumerate() counter and the
# sequence length without building a loop object (PERF: the 100-row table
# benchmark went from ~2x to ~1x of its plain-loop time with this).
INLINE_LOOP_ATTRS = {
    "index0": "{i}", "index": "({i} + 1)", "first": "({i} == 0)", "last": "({i} == {n} - 1)",
    "length": "{n}", "revindex": "({n} - {i})", "revindex0": "({n} - {i} - 1)",
    "depth": "1", "depth0": "0",
}
_NEEDS_LENGTH = frozenset(("last", "length", "revindex", "revindex0"))


class Loops:
    """Mixin of the template compiler: ``for`` statements.

    Example: ``{% for x in xs %}{{ loop.index }}{% endfor %}`` compiles to
    ``for _i1, l_1_x in _enum(...)`` with ``loop.index`` written as ``(_i1 + 1)``.
    """

    def stmt_For(self, node):
        lineno = node.lineno
        usage = "none" if not node.recursive else "full"
        if usage == "none":
            usage, attrs = self.loop_usage(node.body)
        else:
            attrs = set()
        iter_code = self.expr(node.iter)
        if node.recursive:
            self.recursive_for(node, iter_code)
            return
        else_flag = None
        if node.else_:
            else_flag = self.tmp("_f")
            self.emit("%s = True" % else_flag, lineno)
        target_names = self.target_names(node.target, set())
        extra = ("loop",) if usage != "none" else ()
        outer_scope = self.scope
        if node.test is not None:
            iter_code = self.filtered_iter(node, iter_code, target_names)
        scope = self.new_scope(node.body, target_names, extra=extra)
        if usage == "inline":
            i_var, n_var = self.tmp("_i"), self.tmp("_n")
            scope.names["loop"] = INLINE
            scope.inline_loop = (i_var, n_var)
            self.scope = scope
            target = self.target_code(node.target)
            if attrs & _NEEDS_LENGTH:
                seq = self.tmp("_s")
                self.emit("%s = _seq(%s); %s = _len(%s)" % (seq, iter_code, n_var, seq), lineno)
                iter_code = seq
            header = "for %s, %s in _enum(%s)" % (i_var, target, iter_code)
        elif usage == "full":
            self.scope = scope
            loop_local = scope.names["loop"]
            self.emit("%s = _Loop(%s)" % (loop_local, iter_code), lineno)
            header = "for %s in %s" % (self.target_code(node.target), loop_local)
        else:
            self.scope = scope
            header = "for %s in %s" % (self.target_code(node.target), iter_code)
        with self.block(header, lineno):
            self.loop_body(node, scope, outer_scope, tuple(target_names) + extra, else_flag)
        self.scope = outer_scope
        if else_flag:
            self.body("if %s" % else_flag, node.else_, lineno)

    def loop_body(self, node, scope, outer_scope, bound, else_flag):
        """A for-loop's body: clear the else flag, copy outer values in, then the statements."""
        lineno = node.lineno
        if else_flag:
            self.emit("%s = False" % else_flag, lineno)
        self.scope = outer_scope
        needs = self.init_names(node.body, scope, bound)
        inits = [(scope.names[name], self.lookup(name)[0]) for name in needs]
        self.scope = scope
        for local, outer in inits:
            self.emit("%s = %s" % (local, outer), lineno)
        lines = self.func.code.lines
        before = len(lines)
        self.statements(node.body)
        if len(lines) == before:
            self.emit("pass", lineno)

    def filtered_iter(self, node, iter_code, target_names):
        """``for x in xs if cond``: a generator expression yielding the kept items."""
        names = {name: "l_%d_%s" % (self.scope_ids, name) for name in target_names}
        self.scope_ids += 1
        outer = self.scope
        self.scope = Scope(self.scope_ids - 1, outer, names)
        try:
            cond = self.expr(node.test)
            target = self.target_code(node.target)
        finally:
            self.scope = outer
        if isinstance(node.target, n.Name):
            return "(%s for %s in %s if %s)" % (target, target, iter_code, cond)
        item = self.tmp("_it")
        return "(%s for %s in %s for %s in (%s,) if %s)" % (item, item, iter_code, target, item, cond)

    def recursive_for(self, node, iter_code):
        lineno = node.lineno
        fname = self.tmp("_loop")
        outer_scope, outer_func = self.scope, self.func
        outer_writers = (self.buf, self.w, self.x)
        func = Func(outer_func)
        func.top_scope = outer_func.top_scope
        self.func = func
        self.buf, self.w, self.x = "_o", "_w", "_x"
        target_names = self.target_names(node.target, set())
        if node.test is not None:
            loop_iter = self.filtered_iter(node, "_it", target_names)
        else:
            loop_iter = "_it"
        else_flag = None
        if node.else_:
            else_flag = self.tmp("_f")
            self.emit("%s = True" % else_flag, lineno)
        scope = self.new_scope(node.body, target_names, extra=("loop",))
        loop_local = scope.names["loop"]
        self.emit("%s = _Loop(%s, _d, %s)" % (loop_local, loop_iter, fname), lineno)
        self.scope = scope
        with self.block("for %s in %s" % (self.target_code(node.target), loop_local), lineno):
            self.loop_body(node, scope, outer_scope, tuple(target_names) + ("loop",), else_flag)
        self.scope = outer_scope
        if else_flag:
            self.body("if %s" % else_flag, node.else_, lineno)
        wrap = "_mk" if self.autoescape else ""
        finished = self.finish_function("def %s(_it, _d)" % fname, func, lineno,
                                        tail=("return %s(''.join(_o))" % wrap,), own_buffer=True)
        self.func = outer_func
        self.buf, self.w, self.x = outer_writers
        self.func.code.extend(finished)  # the nested def, at the current indentation
        if not self.suppress_output:
            with self.guarded(lineno):
                self.emit("%s(%s(%s, 0))" % (self.w, fname, iter_code), lineno)

    def loop_usage(self, body):
        """How ``loop`` is used in a loop body: 'none', 'inline' (simple attributes) or 'full'."""
        attrs = set()
        state = ["none"]

        def is_loop(node):
            return type(node) is n.Name and node.name == "loop"

        def visit(node):
            t = type(node)
            if t is n.For:  # its body has a loop of its own
                for child in [node.iter, node.test] + node.else_:
                    if child is not None:
                        visit(child)
                return
            if t is n.Block:
                if node.scoped and "loop" in self.loads_deep_names(node.body):
                    state[0] = "full"
                return
            if t is n.Getattr and is_loop(node.node):
                if node.attr in INLINE_LOOP_ATTRS:
                    attrs.add(node.attr)
                    if state[0] == "none":
                        state[0] = "inline"
                else:
                    state[0] = "full"
                return
            if t is n.Call and type(node.node) is n.Getattr and node.node.attr == "cycle" \
                    and is_loop(node.node.node) and node.args and not node.kwargs \
                    and node.dyn_args is None and node.dyn_kwargs is None:
                if state[0] == "none":
                    state[0] = "inline"
                for arg in node.args:
                    visit(arg)
                return
            if is_loop(node):
                state[0] = "full"
                return
            for child in node.children():
                visit(child)

        for stmt in body:
            visit(stmt)
            if state[0] == "full":
                break
        return state[0], attrs

    def loads_deep_names(self, stmts):
        """Every name read anywhere in ``stmts``, blocks included."""
        names = set()
        stack = list(stmts)
        while stack:
            node = stack.pop()
            if type(node) is n.Name:
                names.add(node.name)
            stack.extend(node.children())
        return names

    def stmt_Break(self, node):
        self.emit("break", node.lineno)

    def stmt_Continue(self, node):
        self.emit("continue", node.lineno)
