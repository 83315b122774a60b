"""The template compiler's statements other than loops: output, if, set, with, autoescape,
extends, block, include, import, macro, call and filter blocks."""
import keyword
import math
import re
from contextlib import nullcontext

from . import _nodes as n
from ._expressions import Raw
from ._filters import do_mark_safe
from ._markup import escape_str
from ._scopes import Func

__all__ = ["Statements"]

_LOCAL_NAME = re.compile(r"l_\d")
_SPECIAL_MACRO_NAMES = ("caller", "varargs", "kwargs")


class Statements:
    """Mixin of the template compiler: ``statements(stmts)`` emits the code of a template body.

    Example: ``Hello {{ name }}!`` in an autoescaped template compiles to
    ``_x(('Hello ', _e(l_0_name), '!'))``.
    """

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
        extra = list(call.kwargs) + [("caller", Raw(fname))]
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
