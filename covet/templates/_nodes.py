"""The template syntax tree: statements and expressions the parser builds."""

__all__ = []  # internal


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


def _define(name, fields):
    cls = type(name, (Node,), {"__slots__": fields, "fields": fields})
    globals()[name] = cls
    __all__.append(name)
    return cls


# statements
_define("Output", ("nodes",))               # nodes: str (template data) or expression
_define("If", ("test", "body", "else_"))
_define("For", ("target", "iter", "body", "else_", "test", "recursive"))
_define("Break", ())
_define("Continue", ())
_define("Assign", ("target", "node"))
_define("AssignBlock", ("target", "filters", "body"))
_define("With", ("targets", "values", "body"))
_define("Block", ("name", "body", "scoped", "required"))
_define("Extends", ("template",))
_define("Include", ("template", "with_context", "ignore_missing"))
_define("Import", ("template", "target", "with_context"))
_define("FromImport", ("template", "names", "with_context"))  # names: [(name, alias)]
_define("Macro", ("name", "args", "defaults", "body"))
_define("CallBlock", ("call", "args", "defaults", "body"))
_define("FilterBlock", ("filters", "body"))  # filters: Filter nodes whose .node is None
_define("AutoEscape", ("value", "body"))

# expressions
_define("Const", ("value",))
_define("Name", ("name",))
_define("NSRef", ("name", "attr"))          # assignment target ns.attr
_define("TupleLit", ("items",))
_define("ListLit", ("items",))
_define("DictLit", ("pairs",))              # pairs: [(key, value)]
_define("Getattr", ("node", "attr"))
_define("Getitem", ("node", "arg"))
_define("SliceLit", ("start", "stop", "step"))
_define("Call", ("node", "args", "kwargs", "dyn_args", "dyn_kwargs"))  # kwargs: [(name, node)]
_define("Filter", ("node", "name", "args", "kwargs", "dyn_args", "dyn_kwargs"))
_define("Test", ("node", "name", "args", "kwargs", "dyn_args", "dyn_kwargs", "negated"))
_define("CondExpr", ("test", "expr1", "expr2"))
_define("BinOp", ("op", "left", "right"))
_define("Concat", ("nodes",))
_define("Compare", ("expr", "ops"))         # ops: [(op, node)]
_define("And", ("left", "right"))
_define("Or", ("left", "right"))
_define("Not", ("node",))
_define("Neg", ("node",))
_define("Pos", ("node",))
