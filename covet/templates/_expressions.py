"""The template compiler's expressions: literals, names, attribute and item access (through
the sandbox's guards), calls, filters, tests and operators, each to one Python expression."""
import keyword
import math

from . import _nodes as n
from ._loops import INLINE_LOOP_ATTRS
from ._runtime import UNSAFE_ATTRIBUTES
from ._scopes import INLINE

__all__ = ["Expressions", "Raw"]

_DICT_ATTRS = frozenset(dir(dict))


class Expressions:
    """Mixin of the template compiler: ``expr(node)`` is the Python source of an expression.

    Example: ``user.name|upper`` compiles to ``_f_upper(_gad(l_0_user, 'name'))``.
    """

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
        if local == INLINE:  # pragma: no cover - loop_usage() sends bare uses to 'full'
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
            if local == INLINE:
                return scope.inline_loop
        return None

    def expr_Getattr(self, node):
        inline = self.inline_loop(node.node)
        if inline is not None:
            return INLINE_LOOP_ATTRS[node.attr].format(i=inline[0], n=inline[1])
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
            code = value.code if isinstance(value, Raw) else self.expr(value)
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


class Raw:
    """Already-compiled Python source used as an argument (the caller of a call block)."""

    __slots__ = ("code",)

    def __init__(self, code):
        self.code = code
