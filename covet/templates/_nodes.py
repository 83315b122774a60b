"""The template syntax tree: statements and expressions the parser builds."""

__all__ = [
    "Node", "Output", "If", "For", "Break", "Continue", "Assign", "AssignBlock", "With", "Block",
    "Extends", "Include", "Import", "FromImport", "Macro", "CallBlock", "FilterBlock", "AutoEscape",
    "Const", "Name", "NSRef", "TupleLit", "ListLit", "DictLit", "Getattr", "Getitem", "SliceLit",
    "Call", "Filter", "Test", "CondExpr", "BinOp", "Concat", "Compare", "And", "Or", "Not", "Neg",
    "Pos",
]


class Node:
    """Base node: ``fields`` name the children, ``lineno`` the template line."""

    __slots__ = ("lineno",)
    fields = ()

    def __init__(self, *args, lineno=0):
        for field, value in zip(self.fields, args):
            setattr(self, field, value)
        self.lineno = lineno

    def children(self):
        """Yield every child node (lists and pairs are flattened)."""
        for field in self.fields:
            yield from _flatten(getattr(self, field))

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.fields))


def _flatten(value):
    if isinstance(value, Node):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)


# statements

class Output(Node):
    """Template data (str) and ``{{ }}`` expressions, written in order."""

    __slots__ = ("nodes",)
    fields = __slots__


class If(Node):
    """``{% if %}`` with its ``elif`` chain folded into ``else_``."""

    __slots__ = ("test", "body", "else_")
    fields = __slots__


class For(Node):
    """``{% for target in iter if test %}`` (``recursive`` allows ``loop(...)``)."""

    __slots__ = ("target", "iter", "body", "else_", "test", "recursive")
    fields = __slots__


class Break(Node):
    """``{% break %}``."""

    __slots__ = ()
    fields = __slots__


class Continue(Node):
    """``{% continue %}``."""

    __slots__ = ()
    fields = __slots__


class Assign(Node):
    """``{% set target = node %}``."""

    __slots__ = ("target", "node")
    fields = __slots__


class AssignBlock(Node):
    """``{% set target | filters %}body{% endset %}``."""

    __slots__ = ("target", "filters", "body")
    fields = __slots__


class With(Node):
    """``{% with a = 1, b = 2 %}``."""

    __slots__ = ("targets", "values", "body")
    fields = __slots__


class Block(Node):
    """``{% block name [scoped] [required] %}``."""

    __slots__ = ("name", "body", "scoped", "required")
    fields = __slots__


class Extends(Node):
    """``{% extends template %}``."""

    __slots__ = ("template",)
    fields = __slots__


class Include(Node):
    """``{% include template [ignore missing] [with/without context] %}``."""

    __slots__ = ("template", "with_context", "ignore_missing")
    fields = __slots__


class Import(Node):
    """``{% import template as target %}``."""

    __slots__ = ("template", "target", "with_context")
    fields = __slots__


class FromImport(Node):
    """``{% from template import name as alias %}``; ``names`` holds (name, alias) pairs."""

    __slots__ = ("template", "names", "with_context")
    fields = __slots__


class Macro(Node):
    """``{% macro name(args, defaults) %}``."""

    __slots__ = ("name", "args", "defaults", "body")
    fields = __slots__


class CallBlock(Node):
    """``{% call(args) macro(...) %}``: ``call`` is the Call node of the macro."""

    __slots__ = ("call", "args", "defaults", "body")
    fields = __slots__


class FilterBlock(Node):
    """``{% filter f %}``; each Filter node's ``node`` is None."""

    __slots__ = ("filters", "body")
    fields = __slots__


class AutoEscape(Node):
    """``{% autoescape true|false %}``."""

    __slots__ = ("value", "body")
    fields = __slots__


# expressions

class Const(Node):
    """A literal value."""

    __slots__ = ("value",)
    fields = __slots__


class Name(Node):
    """A variable read."""

    __slots__ = ("name",)
    fields = __slots__


class NSRef(Node):
    """``ns.attr`` as an assignment target."""

    __slots__ = ("name", "attr")
    fields = __slots__


class TupleLit(Node):
    """``(a, b)``."""

    __slots__ = ("items",)
    fields = __slots__


class ListLit(Node):
    """``[a, b]``."""

    __slots__ = ("items",)
    fields = __slots__


class DictLit(Node):
    """``{k: v}``; ``pairs`` holds (key, value) nodes."""

    __slots__ = ("pairs",)
    fields = __slots__


class Getattr(Node):
    """``node.attr``."""

    __slots__ = ("node", "attr")
    fields = __slots__


class Getitem(Node):
    """``node[arg]``."""

    __slots__ = ("node", "arg")
    fields = __slots__


class SliceLit(Node):
    """``start:stop:step`` inside a subscript."""

    __slots__ = ("start", "stop", "step")
    fields = __slots__


class Call(Node):
    """``node(args, name=value, *dyn_args, **dyn_kwargs)``; ``kwargs`` holds (name, node) pairs."""

    __slots__ = ("node", "args", "kwargs", "dyn_args", "dyn_kwargs")
    fields = __slots__


class Filter(Node):
    """``node|name(args)``."""

    __slots__ = ("node", "name", "args", "kwargs", "dyn_args", "dyn_kwargs")
    fields = __slots__


class Test(Node):
    """``node is [not] name(args)``."""

    __slots__ = ("node", "name", "args", "kwargs", "dyn_args", "dyn_kwargs", "negated")
    fields = __slots__


class CondExpr(Node):
    """``expr1 if test else expr2`` (``expr2`` None without ``else``)."""

    __slots__ = ("test", "expr1", "expr2")
    fields = __slots__


class BinOp(Node):
    """An arithmetic operator, ``op`` its Python spelling."""

    __slots__ = ("op", "left", "right")
    fields = __slots__


class Concat(Node):
    """``a ~ b``."""

    __slots__ = ("nodes",)
    fields = __slots__


class Compare(Node):
    """``expr op node ...``; ``ops`` holds (op, node) pairs."""

    __slots__ = ("expr", "ops")
    fields = __slots__


class And(Node):
    """``left and right``."""

    __slots__ = ("left", "right")
    fields = __slots__


class Or(Node):
    """``left or right``."""

    __slots__ = ("left", "right")
    fields = __slots__


class Not(Node):
    """``not node``."""

    __slots__ = ("node",)
    fields = __slots__


class Neg(Node):
    """``-node``."""

    __slots__ = ("node",)
    fields = __slots__


class Pos(Node):
    """``+node``."""

    __slots__ = ("node",)
    fields = __slots__
