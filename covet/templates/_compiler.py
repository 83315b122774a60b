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

Statements, loops, expressions and scopes are compiled by the mixins beside this module.
"""
from ..core._codegen import Emitter
from . import _nodes as n
from ._errors import TemplateSyntaxError
from ._expressions import Expressions
from ._loops import Loops
from ._scopes import Func, Scoping
from ._statements import Statements

__all__ = ["CodeGenerator"]


class CodeGenerator(Statements, Loops, Expressions, Scoping):
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
