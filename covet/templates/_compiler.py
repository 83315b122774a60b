"""Syntax tree -> Python source for one module per template.

The generated module defines ``_root(_c, _o, _b)`` (the template body),
``_b_<name>(_c, _o, _b)`` for each block, ``_blocks`` and ``_exported``.
``_c`` is the context dict, ``_o`` the output list (the body appends to it;
the caller joins once), ``_b`` maps block names to their override stacks.

Template variables live in Python locals named ``l_<scope>_<name>``: a name
is read from the context once, at the start of the function that needs it,
and every later use is a local load. Scopes follow Jinja2: ``for``, ``with``,
macros, ``call``, ``filter`` and block ``set`` bodies are scopes; ``if`` is
not; a name assigned inside a scope starts each entry with the outer value.

Every generated line records the template line it came from (``line_map``)
so a runtime error can be reported at ``template, line N``.
"""
import keyword
import math
import re
from contextlib import nullcontext

from ..core._codegen import Emitter
from . import _nodes as n
from ._errors import TemplateSyntaxError
from ._filters import do_mark_safe
from ._markup import escape_str
from ._runtime import UNSAFE_ATTRIBUTES

__all__ = ["CodeGenerator"]

# Loop attributes that can be computed from an enumerate() counter and the
# sequence length without building a loop object (PERF: the 100-row table
# benchmark went from ~2x to ~1x of its plain-loop time with this).
_INLINE_LOOP_ATTRS = {
    "index0": "{i}", "index": "({i} + 1)", "first": "({i} == 0)", "last": "({i} == {n} - 1)",
    "length": "{n}", "revindex": "({n} - {i})", "revindex0": "({n} - {i} - 1)",
    "depth": "1", "depth0": "0",
}
_NEEDS_LENGTH = frozenset(("last", "length", "revindex", "revindex0"))
_DICT_ATTRS = frozenset(dir(dict))
_LOCAL_NAME = re.compile(r"l_\d")
_SPECIAL_MACRO_NAMES = ("caller", "varargs", "kwargs")
_INLINE = "<inline loop>"


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


class CodeGenerator:
    """Compile one parsed template into Python source plus a line map."""

    def __init__(self, name, autoescape, filters, tests):
        self.name = name
        self.autoescape = autoescape
        self.filters = filters
        self.tests = tests
        self.used_filters = set()
        self.used_tests = set()
        self.scope_ids = 0
        self.func = None
        self.scope = None
        self.root_scope = None
        self.root_func = None
        self.module_funcs = []
        self.block_name = None
        self.buf = "_o"
        self.w = "_w"
        self.x = "_x"
        self.suppress_output = False
        self.guard_outputs = False
        self.exported = []
        self.loads_memo = {}
        self.tmp_ids = 0
        self.has_extends = None

    # errors and emission ------------------------------------------------------------
    def fail(self, message, lineno):
        raise TemplateSyntaxError(message, self.name, lineno)

    def emit(self, code, lineno):
        self.func.code.line(code, lineno)

    def block(self, header, lineno):
        """``with self.block("if x", lineno):`` -- the statements emitted inside are its body."""
        return self.func.code.block(header, lineno)

    def tmp(self, prefix="_t"):
        self.tmp_ids += 1
        return "%s%d" % (prefix, self.tmp_ids)

    # entry point ----------------------------------------------------------------------
    def generate(self, body):
        """Return (python_source, line_map) for the template ``body``."""
        self.has_extends = self.find_extends(body)
        func = self.root_func = Func(None)
        self.func = func
        self.guard_outputs = self.has_extends == "nested"
        scope = self.new_scope(body, ())
        func.top_scope = self.root_scope = scope
        self.scope = scope
        for name in self.init_names(body, scope, ()):
            func.ctx_names[name] = scope.names[name]
        self.statements(body)
        prologue = []
        if self.has_extends:
            prologue.append("_p = None")
        tail = []
        if self.has_extends:
            tail.append("if _p is not None: _rt.extend(_p, _c, _o, _b)")
        module = self.finish_function("def _root(_c, _o, _b)", func, 1, prologue, tail)
        for block_function in self.module_funcs:
            module.extend(block_function)
        blocks = ", ".join("%r: _b_%s" % (b, b) for b in self.block_order)
        module.line("_blocks = {%s}" % blocks, 1)
        module.line("_exported = %r" % (tuple(self.exported),), 1)
        return module.source(), [1] + module.tags()

    block_order = ()

    def finish_function(self, header, func, lineno, prologue=(), tail=(), own_buffer=False):
        """A finished function (an Emitter at level 0): header, writers, context reads, body, tail.

        The context reads go first, but are known only once the body is generated.
        """
        e = Emitter()
        with e.block(header, lineno):
            if own_buffer:
                e.line("_o = []; _w = _o.append; _x = _o.extend", lineno)
            else:
                e.line("_w = _o.append; _x = _o.extend", lineno)
            for code in prologue:
                e.line(code, lineno)
            for name, local in func.ctx_names.items():
                e.line("%s = _c[%r]" % (local, name), lineno)
            e.extend(func.code)
            for code in tail:
                e.line(code, lineno)
            if len(e.lines) == 2:
                e.line("pass", lineno)
        return e

    def find_extends(self, body):
        """'top' if an unconditional extends is at the top level, 'nested' if one is nested."""
        found = None
        for stmt in body:
            if isinstance(stmt, n.Extends):
                found = found or "top"
            elif isinstance(stmt, (n.If, n.For, n.With, n.AutoEscape)):
                for child in self.walk_statements(stmt):
                    if isinstance(child, n.Extends):
                        return "nested"
        return found

    def walk_statements(self, stmt):
        """Every statement inside ``stmt``'s bodies, not entering blocks, macros or calls."""
        for field in ("body", "else_"):
            for child in getattr(stmt, field, None) or ():
                yield child
                if not isinstance(child, (n.Block, n.Macro, n.CallBlock)):
                    yield from self.walk_statements(child)

    # scopes -----------------------------------------------------------------------------
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
                if name not in seen and local != _INLINE and (with_loop or name != "loop"):
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

    # statements -------------------------------------------------------------------------
    def statements(self, stmts):
        for stmt in stmts:
            getattr(self, "stmt_" + type(stmt).__name__)(stmt)

    def body(self, header, stmts, lineno):
        """Emit ``header:`` and ``stmts`` as its body (``pass`` if they produced no line)."""
        with self.block(header, lineno):
            self.statements(stmts)

    def guarded(self, lineno):
        """``with self.guarded(lineno):`` -- output inside ``if _p is None:`` when an extends may have run."""
        if self.guard_outputs and self.func is self.root_func:
            return self.block("if _p is None", lineno)
        return nullcontext()

    def stmt_Output(self, node):
        if self.suppress_output:
            return
        parts = []          # [(code, lineno)]
        text = []
        line = node.lineno
        for item in node.nodes:
            if isinstance(item, str):
                text.append(item)
                continue
            if isinstance(item, n.Const) and (item.value is None or
                                              type(item.value) in (str, int, bool) or
                                              (type(item.value) is float and math.isfinite(item.value))):
                value = str(item.value)
                text.append(escape_str(value) if self.autoescape else value)
                continue
            if text:
                parts.append((repr("".join(text)), line))
                text = []
            line = item.lineno
            parts.append((self.output_expr(item), line))
        if text:
            parts.append((repr("".join(text)), line))
        if not parts:
            return
        with self.guarded(node.lineno):
            self.write_parts(parts)

    def write_parts(self, parts):
        if len(parts) == 1:
            self.emit("%s(%s)" % (self.w, parts[0][0]), parts[0][1])
            return
        # one physical line per template line, so errors point at the right line
        groups = []
        for code, line in parts:
            if groups and groups[-1][1] == line:
                groups[-1][0].append(code)
            else:
                groups.append(([code], line))
        if len(groups) == 1:
            self.emit("%s((%s))" % (self.x, ", ".join(groups[0][0])), groups[0][1])
            return
        last = len(groups) - 1
        for i, (codes, line) in enumerate(groups):
            code = ", ".join(codes)
            if i == 0:
                self.emit("%s((%s," % (self.x, code), line)
            elif i == last:
                self.emit("    %s))" % code, line)
            else:
                self.emit("    %s," % code, line)

    def output_expr(self, node):
        if isinstance(node, n.Filter) and node.name == "safe" and self.filters.get("safe") is do_mark_safe \
                and not node.args and not node.kwargs and node.dyn_args is None \
                and node.dyn_kwargs is None:
            return "_str(%s)" % self.expr(node.node)
        if self.autoescape:
            return "_e(%s)" % self.expr(node)
        return "_str(%s)" % self.expr(node)

    def stmt_If(self, node):
        self.body("if %s" % self.expr(node.test), node.body, node.lineno)
        else_ = node.else_
        while len(else_) == 1 and isinstance(else_[0], n.If):
            elif_ = else_[0]
            self.body("elif %s" % self.expr(elif_.test), elif_.body, elif_.lineno)
            else_ = elif_.else_
        if else_:
            self.body("else", else_, node.lineno)

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
            scope.names["loop"] = _INLINE
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
                if node.attr in _INLINE_LOOP_ATTRS:
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

    def at_template_top(self):
        return self.scope is self.root_scope and self.func is self.root_func

    def stmt_Assign(self, node):
        value = self.expr(node.node)
        target = node.target
        if isinstance(target, n.NSRef):
            ns_local, _ = self.lookup(target.name)
            self.emit("_nsset(%s, %r, %s)" % (ns_local, target.attr, value), node.lineno)
            return
        code = self.target_code(target)
        if self.at_template_top():
            names = sorted(self.target_names(target, set()))
            if isinstance(target, n.Name):
                self.emit("%s = _c[%r] = %s" % (code, target.name, value), node.lineno)
            else:
                self.emit("%s = %s" % (code, value), node.lineno)
                for name in names:
                    self.emit("_c[%r] = %s" % (name, self.scope.names[name]), node.lineno)
            self.export(names)
        else:
            self.emit("%s = %s" % (code, value), node.lineno)

    def export(self, names):
        for name in names:
            if not name.startswith("_") and name not in self.exported:
                self.exported.append(name)

    def target_code(self, target):
        if isinstance(target, n.Name):
            return self.scope.names[target.name]
        items = [self.target_code(item) for item in target.items]
        return "(%s,)" % ", ".join(items)

    def capture(self, body, lineno):
        """Render ``body`` into a fresh list inside its own scope; returns the list's name."""
        buf = self.tmp("_o")
        saved = (self.buf, self.w, self.x, self.scope, self.suppress_output)
        self.emit("%s = []; %s = %s.append; %s = %s.extend" % (buf, "_w" + buf[2:], buf,
                                                             "_x" + buf[2:], buf), lineno)
        self.buf, self.w, self.x = buf, "_w" + buf[2:], "_x" + buf[2:]
        self.suppress_output = False
        self.enter_scope(body, lineno=lineno)
        self.statements(body)
        self.buf, self.w, self.x, self.scope, self.suppress_output = saved
        return buf

    def joined(self, buf):
        if self.autoescape:
            return "_mk(''.join(%s))" % buf
        return "''.join(%s)" % buf

    def stmt_AssignBlock(self, node):
        buf = self.capture(node.body, node.lineno)
        value = self.joined(buf)
        for flt in node.filters:
            value = self.filter_code(flt, value)
        name = node.target.name
        local = self.scope.names[name]
        if self.at_template_top():
            self.emit("%s = _c[%r] = %s" % (local, name, value), node.lineno)
            self.export([name])
        else:
            self.emit("%s = %s" % (local, value), node.lineno)

    def stmt_With(self, node):
        temps = []
        for value in node.values:
            tmp = self.tmp()
            self.emit("%s = %s" % (tmp, self.expr(value)), node.lineno)
            temps.append(tmp)
        outer = self.scope
        bound = set()
        for target in node.targets:
            self.target_names(target, bound)
        self.enter_scope(node.body, bound=tuple(sorted(bound)), lineno=node.lineno)
        for target, tmp in zip(node.targets, temps):
            self.emit("%s = %s" % (self.target_code(target), tmp), node.lineno)
        self.statements(node.body)
        self.scope = outer

    def stmt_AutoEscape(self, node):
        saved = self.autoescape
        self.autoescape = node.value
        self.statements(node.body)
        self.autoescape = saved

    def stmt_Extends(self, node):
        if self.func is not self.root_func:
            self.fail("'extends' must be at the top level of a template, not inside a block, "
                      "macro or call", node.lineno)
        self.emit("if _p is not None: _rt.extended_twice(%r)" % self.name, node.lineno)
        self.emit("_p = _rt.load(%s, %r)" % (self.expr(node.template), self.name), node.lineno)
        if self.has_extends == "top" and self.scope is self.root_scope:
            # Jinja2: once a template extends another, its own top-level output is dropped
            self.suppress_output = True

    def stmt_Block(self, node):
        lineno = node.lineno
        if not self.suppress_output:
            ctx = "_c"
            if node.scoped:
                ctx = "_rt.derive(_c, %s)" % self.visible_locals(with_loop=True)
            with self.guarded(lineno):
                self.emit("_b[%r][0](%s, %s, _b)" % (node.name, ctx, self.buf), lineno)
        saved = (self.func, self.scope, self.buf, self.w, self.x, self.suppress_output,
                 self.block_name)
        func = Func(None)
        self.func = func
        self.scope = None
        self.buf, self.w, self.x = "_o", "_w", "_x"
        self.suppress_output = False
        self.block_name = node.name
        scope = self.new_scope(node.body, ())
        func.top_scope = scope
        self.scope = scope
        for name in self.init_names(node.body, scope, ()):
            func.ctx_names[name] = scope.names[name]
        if node.required:
            self.emit("_rt.required_block(%r, %r)" % (node.name, self.name), lineno)
        else:
            self.statements(node.body)
        finished = self.finish_function("def _b_%s(_c, _o, _b)" % node.name, func, lineno)
        (self.func, self.scope, self.buf, self.w, self.x, self.suppress_output,
         self.block_name) = saved
        self.module_funcs.append(finished)
        self.block_order = tuple(self.block_order) + (node.name,)

    def stmt_Include(self, node):
        if self.suppress_output:
            return
        ctx = "_rt.derive(_c, %s)" % self.visible_locals() if node.with_context else "_rt.new_context()"
        with self.guarded(node.lineno):
            self.emit("_rt.include(%s, %s, %s, %r, %r)" % (self.expr(node.template), ctx, self.buf,
                                                           node.ignore_missing, self.name), node.lineno)

    def module_code(self, node):
        ctx = "_rt.derive(_c, %s)" % self.visible_locals() if node.with_context else "None"
        return "_rt.import_(%s, %s, %r)" % (self.expr(node.template), ctx, self.name)

    def stmt_Import(self, node):
        local = self.scope.names[node.target]
        if self.at_template_top():
            self.emit("%s = _c[%r] = %s" % (local, node.target, self.module_code(node)), node.lineno)
        else:
            self.emit("%s = %s" % (local, self.module_code(node)), node.lineno)

    def stmt_FromImport(self, node):
        module = self.tmp("_m")
        self.emit("%s = %s" % (module, self.module_code(node)), node.lineno)
        top = self.at_template_top()
        for name, alias in node.names:
            local = self.scope.names[alias]
            value = "_rt.imported(%s, %r)" % (module, name)
            if top:
                self.emit("%s = _c[%r] = %s" % (local, alias, value), node.lineno)
            else:
                self.emit("%s = %s" % (local, value), node.lineno)

    def function(self, node, fname, kind, label_name):
        """Emit a nested def for a macro or a call block's caller; returns nothing."""
        lineno = node.lineno
        saved = (self.func, self.scope, self.buf, self.w, self.x, self.suppress_output)
        used = self.loads_in_function(node)
        specials = [s for s in _SPECIAL_MACRO_NAMES if s in used]
        func = Func(saved[0])
        func.top_scope = saved[0].top_scope
        self.func = func
        self.buf, self.w, self.x = "_o", "_w", "_x"
        self.suppress_output = False
        args = node.args
        fast = all(a.isidentifier() and not keyword.iskeyword(a) and not a.startswith("_")
                   and not _LOCAL_NAME.match(a) and a not in _SPECIAL_MACRO_NAMES for a in args)
        label = "macro %r" % label_name if kind == "macro" else "the caller of a 'call' block"
        scope = self.enter_scope(node.body, bound=tuple(args) + tuple(specials), lineno=lineno)
        if fast:
            params = ["%s=_MISS" % a for a in args] + ["*_va", "caller=_MISS", "**_kw"]
            header = "def %s(%s)" % (fname, ", ".join(params))
            values = list(args)
        else:
            header = "def %s(*_a, **_k)" % fname
            self.emit("_vals, _va, caller, _kw = _rt.bind_args(%r, %r, _a, _k)"
                      % (label, tuple(args)), lineno)
            values = ["_vals[%d]" % i for i in range(len(args))]
        first_default = len(args) - len(node.defaults)
        for i, (arg, value) in enumerate(zip(args, values)):
            local = scope.names[arg]
            if i >= first_default:
                default = self.expr(node.defaults[i - first_default])
            else:
                default = "_U(%r, hint=%r)" % (arg, "parameter %r was not provided" % arg)
            self.emit("%s = %s if %s is _MISS else %s" % (local, default, value, value), lineno)
        if "varargs" in specials:
            self.emit("%s = _va" % scope.names["varargs"], lineno)
        else:
            self.emit("if _va: _rt.too_many_args(%r, %d)" % (label, len(args)), lineno)
        if "kwargs" in specials:
            self.emit("%s = _kw" % scope.names["kwargs"], lineno)
        else:
            self.emit("if _kw: _rt.unexpected_kwarg(%r, _kw)" % label, lineno)
        if "caller" in specials:
            self.emit("%s = _U(None, hint='No caller defined') if caller is _MISS else caller"
                      % scope.names["caller"], lineno)
        else:
            self.emit("if caller is not _MISS: _rt.unexpected_caller(%r)" % label, lineno)
        self.statements(node.body)
        finished = self.finish_function(header, func, lineno,
                                        tail=("return %s" % self.joined("_o"),), own_buffer=True)
        self.func, self.scope, self.buf, self.w, self.x, self.suppress_output = saved
        self.func.code.extend(finished)  # the nested def, at the current indentation

    def loads_in_function(self, node):
        result = set()
        for child in list(node.defaults) + node.body:
            result |= self.loads(child)
        return result

    def stmt_Macro(self, node):
        local = self.scope.names[node.name]
        self.function(node, local, "macro", node.name)
        if self.at_template_top():
            self.emit("_c[%r] = %s" % (node.name, local), node.lineno)
            self.export([node.name])

    def stmt_CallBlock(self, node):
        fname = self.tmp("_caller")
        self.function(node, fname, "caller", "caller")
        if self.suppress_output:
            return
        call = node.call
        extra = list(call.kwargs) + [("caller", _Raw(fname))]
        code = self.call_code(call, extra_kwargs=extra)
        with self.guarded(node.lineno):
            self.emit("%s(%s)" % (self.w, "_e(%s)" % code if self.autoescape else "_str(%s)" % code),
                      node.lineno)

    def stmt_FilterBlock(self, node):
        buf = self.capture(node.body, node.lineno)
        value = self.joined(buf)
        for flt in node.filters:
            value = self.filter_code(flt, value)
        if self.suppress_output:
            return
        with self.guarded(node.lineno):
            self.emit("%s(%s)" % (self.w, "_e(%s)" % value if self.autoescape else "_str(%s)" % value),
                      node.lineno)

    # expressions ------------------------------------------------------------------------
    def expr(self, node):
        return getattr(self, "expr_" + type(node).__name__)(node)

    def expr_Const(self, node):
        value = node.value
        if type(value) is float and not math.isfinite(value):
            return "_float(%r)" % repr(value)
        return repr(value)

    def expr_Name(self, node):
        name = node.name
        if name == "self" and self.lookup_is_context("self"):
            return "_rt.template_ref(_c, _b)"
        local, _ = self.lookup(name)
        if local == _INLINE:  # pragma: no cover - loop_usage() sends bare uses to 'full'
            raise AssertionError("inline loop used as a value")
        return local

    def expr_TupleLit(self, node):
        if not node.items:
            return "()"
        return "(%s,)" % ", ".join(self.expr(item) for item in node.items)

    def expr_ListLit(self, node):
        return "[%s]" % ", ".join(self.expr(item) for item in node.items)

    def expr_DictLit(self, node):
        return "{%s}" % ", ".join("%s: %s" % (self.expr(k), self.expr(v)) for k, v in node.pairs)

    def inline_loop(self, node):
        """(index var, length var) if ``node`` is ``loop`` of an inlined for-loop."""
        if isinstance(node, n.Name) and node.name == "loop":
            local, scope = self.lookup("loop")
            if local == _INLINE:
                return scope.inline_loop
        return None

    def expr_Getattr(self, node):
        inline = self.inline_loop(node.node)
        if inline is not None:
            return _INLINE_LOOP_ATTRS[node.attr].format(i=inline[0], n=inline[1])
        obj = self.expr(node.node)
        attr = node.attr
        if attr.startswith("_") or attr in UNSAFE_ATTRIBUTES:
            return "_gap(%s, %r)" % (obj, attr)
        if attr in ("format", "format_map"):
            return "_gaf(%s, %r)" % (obj, attr)
        if attr in _DICT_ATTRS:
            return "_ga(%s, %r)" % (obj, attr)
        return "_gad(%s, %r)" % (obj, attr)

    def expr_Getitem(self, node):
        return "_gi(%s, %s)" % (self.expr(node.node), self.expr(node.arg))

    def expr_SliceLit(self, node):
        parts = [self.expr(p) if p is not None else "None" for p in (node.start, node.stop, node.step)]
        return "_slice(%s)" % ", ".join(parts)

    def call_args(self, args, kwargs, dyn_args, dyn_kwargs, prefix=()):
        out = list(prefix)
        out.extend(self.expr(a) for a in args)
        if dyn_args is not None:
            out.append("*%s" % self.expr(dyn_args))
        odd = []
        for key, value in kwargs:
            code = value.code if isinstance(value, _Raw) else self.expr(value)
            if key.isidentifier() and not keyword.iskeyword(key):
                out.append("%s=%s" % (key, code))
            else:
                odd.append("%r: %s" % (key, code))
        if odd:
            out.append("**{%s}" % ", ".join(odd))
        if dyn_kwargs is not None:
            out.append("**%s" % self.expr(dyn_kwargs))
        return ", ".join(out)

    def call_code(self, node, extra_kwargs=None):
        kwargs = node.kwargs if extra_kwargs is None else extra_kwargs
        func = node.node
        if isinstance(func, n.Name) and func.name == "super" and self.lookup_is_context("super"):
            if self.block_name is None:
                self.fail("super() can only be used inside a block", node.lineno)
            if node.args or kwargs or node.dyn_args is not None or node.dyn_kwargs is not None:
                self.fail("super() takes no arguments", node.lineno)
            return "_rt.super_(_c, _b, %r, _b_%s)" % (self.block_name, self.block_name)
        if isinstance(func, n.Getattr) and func.attr == "cycle":
            inline = self.inline_loop(func.node)
            if inline is not None:
                items = [self.expr(a) for a in node.args]
                return "(%s,)[%s %% %d]" % (", ".join(items), inline[0], len(items))
        return "%s(%s)" % (self.expr(func), self.call_args(node.args, kwargs, node.dyn_args,
                                                            node.dyn_kwargs))

    def lookup_is_context(self, name):
        scope = self.scope
        while scope is not None:
            if name in scope.names:
                return False
            scope = scope.parent
        return True

    def expr_Call(self, node):
        return self.call_code(node)

    def filter_code(self, node, value):
        name = node.name
        func = self.filters.get(name)
        if func is None:
            self.fail("no filter named %r" % name, node.lineno)
        self.used_filters.add(name)
        prefix = [value]
        if getattr(func, "covet_special", False):
            prefix = ["_rt", repr(self.autoescape), value]
        return "_f_%s(%s)" % (name, self.call_args(node.args, node.kwargs, node.dyn_args,
                                                  node.dyn_kwargs, prefix))

    def expr_Filter(self, node):
        return self.filter_code(node, self.expr(node.node))

    def expr_Test(self, node):
        name = node.name
        if name not in self.tests:
            self.fail("no test named %r" % name, node.lineno)
        self.used_tests.add(name)
        code = "_t_%s(%s)" % (name, self.call_args(node.args, node.kwargs, node.dyn_args,
                                                  node.dyn_kwargs, [self.expr(node.node)]))
        if node.negated:
            return "(not %s)" % code
        return code

    def expr_CondExpr(self, node):
        if node.expr2 is None:
            other = "_U(None, hint=%r)" % ("the inline if-expression on line %d evaluated to false "
                                           "and no else section was defined" % node.lineno)
        else:
            other = self.expr(node.expr2)
        return "(%s if %s else %s)" % (self.expr(node.expr1), self.expr(node.test), other)

    def expr_BinOp(self, node):
        return "(%s %s %s)" % (self.expr(node.left), node.op, self.expr(node.right))

    def expr_Concat(self, node):
        func = "_cat_m" if self.autoescape else "_cat_s"
        return "%s((%s,))" % (func, ", ".join(self.expr(item) for item in node.nodes))

    def expr_Compare(self, node):
        parts = [self.expr(node.expr)]
        for op, right in node.ops:
            parts.append(op)
            parts.append(self.expr(right))
        return "(%s)" % " ".join(parts)

    def expr_And(self, node):
        return "(%s and %s)" % (self.expr(node.left), self.expr(node.right))

    def expr_Or(self, node):
        return "(%s or %s)" % (self.expr(node.left), self.expr(node.right))

    def expr_Not(self, node):
        return "(not %s)" % self.expr(node.node)

    def expr_Neg(self, node):
        return "(-%s)" % self.expr(node.node)

    def expr_Pos(self, node):
        return "(+%s)" % self.expr(node.node)

    def expr_NSRef(self, node):  # pragma: no cover - parser only makes NSRef as a target
        raise AssertionError("NSRef used as a value")


class _Raw:
    """Already-compiled Python source used as an argument (the caller of a call block)."""

    __slots__ = ("code",)

    def __init__(self, code):
        self.code = code
