"""Tokens -> syntax tree, with Jinja2's grammar and operator precedence.

Precedence, loosest first: ``x if c else y``, ``or``, ``and``, ``not``,
comparisons (``== != < <= > >= in``, ``not in``; chained), ``+ -``, ``~``,
``* / // %``, ``**`` (left-associative, as in Jinja2), unary ``- +``, then
primaries with ``.attr``, ``[item]``, ``(call)``, ``|filter`` and ``is test``.
Every error names the template, the line and what was expected.
"""
from . import _nodes as n
from ._errors import TemplateSyntaxError

__all__ = ["Parser"]

_COMPARE_OPS = frozenset(("==", "!=", "<", "<=", ">", ">="))
_END_OF_EXPR = frozenset(("var_end", "block_end", "eof"))
_TEST_ARG_START = frozenset(("name", "string", "int", "float"))
_DESCRIBE = {"var_end": "end of print statement '}}'", "block_end": "end of statement '%}'",
             "eof": "end of template", "var_begin": "'{{'", "block_begin": "'{%'",
             "data": "template data"}
# Tags that only make sense inside another tag; met on their own they mean an
# unbalanced template, which gets its own message.
_INNER_TAGS = frozenset(("elif", "else", "endif", "endfor", "endblock", "endmacro", "endcall",
                         "endfilter", "endset", "endwith", "endautoescape", "endraw"))


def describe(token):
    """Human words for a token, used in 'expected X, got Y' messages."""
    type_, value, _ = token
    if type_ in _DESCRIBE:
        return _DESCRIBE[type_]
    if type_ == "string":
        return "string %r" % (value,)
    if type_ in ("int", "float"):
        return "number %r" % (value,)
    return repr(value)


def _quote_list(names):
    names = ["'%s'" % x for x in names]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


class Parser:
    """Recursive-descent parser over the token list of one template."""

    def __init__(self, tokens, name):
        self.tokens = tokens
        self.pos = 0
        self.name = name
        self.open_tags = []       # [(end tags, opening tag, line)] for error messages
        self.block_names = set()
        self.loop_depth = [0]     # one entry per function body (macro/call start anew)
        self.no_colon = 0         # >0 inside dict keys and subscripts: ':' is not a filter argument
        self.has_super = False

    # token stream -----------------------------------------------------------------
    @property
    def current(self):
        return self.tokens[self.pos]

    def look(self):
        """The token after the current one."""
        return self.tokens[min(self.pos + 1, len(self.tokens) - 1)]

    def advance(self):
        tok = self.tokens[self.pos]
        if tok[0] != "eof":
            self.pos += 1
        return tok

    def fail(self, message, lineno=None):
        raise TemplateSyntaxError(message, self.name, lineno or self.current[2])

    def is_op(self, value):
        tok = self.tokens[self.pos]
        return tok[0] == "op" and tok[1] == value

    def is_name(self, value):
        tok = self.tokens[self.pos]
        return tok[0] == "name" and tok[1] == value

    def skip_op(self, value):
        if self.is_op(value):
            self.pos += 1
            return True
        return False

    def skip_name(self, value):
        if self.is_name(value):
            self.pos += 1
            return True
        return False

    def expect_op(self, value):
        if not self.is_op(value):
            self.fail("expected %r, got %s" % (value, describe(self.current)))
        return self.advance()

    def expect_name(self, what="a name"):
        tok = self.current
        if tok[0] != "name":
            self.fail("expected %s, got %s" % (what, describe(tok)))
        self.pos += 1
        return tok[1]

    def expect_keyword(self, word):
        if not self.is_name(word):
            self.fail("expected '%s', got %s" % (word, describe(self.current)))
        self.pos += 1

    def expect_end(self, tag):
        tok = self.current
        if tok[0] != "block_end":
            self.fail("expected end of statement '%%}' after the '%s' tag, got %s" % (tag, describe(tok)))
        self.pos += 1

    # template structure -----------------------------------------------------------
    def parse(self):
        """Parse the whole template and return its list of statements."""
        try:
            return self.subparse(None)
        except RecursionError:
            self.fail("the template nests too deeply (tags or parentheses)")

    def subparse(self, end_tags):
        """Statements up to one of ``end_tags`` (left current) or the end of the template."""
        body = []
        pieces = []
        tokens = self.tokens
        while True:
            type_, value, lineno = tokens[self.pos]
            if type_ == "data":
                pieces.append(value)
                self.pos += 1
                if len(pieces) == 1:
                    first_line = lineno
            elif type_ == "var_begin":
                self.pos += 1
                if not pieces:
                    first_line = lineno
                if tokens[self.pos][0] == "var_end":
                    self.fail("expected an expression, got end of print statement '}}'")
                pieces.append(self.parse_tuple())
                tok = self.current
                if tok[0] != "var_end":
                    self.fail("expected end of print statement '}}', got %s" % describe(tok))
                self.pos += 1
            elif type_ == "block_begin":
                if pieces:
                    body.append(n.Output(pieces, lineno=first_line))
                    pieces = []
                self.pos += 1
                tok = self.current
                if tok[0] != "name":
                    self.fail("expected a tag name, got %s" % describe(tok))
                if end_tags is not None and tok[1] in end_tags:
                    return body
                stmt = self.parse_statement()
                if stmt is not None:
                    body.append(stmt)
            else:  # eof
                if pieces:
                    body.append(n.Output(pieces, lineno=first_line))
                if end_tags is not None:
                    ends, tag, line = self.open_tags[-1]
                    self.fail("unexpected end of template, expected %s to close the '%s' tag opened "
                              "on line %d" % (_quote_list(ends), tag, line))
                return body

    def parse_statement(self):
        tok = self.current
        tag = tok[1]
        handler = getattr(self, "parse_" + tag, None) if tag in _TAGS else None
        if handler is None:
            if self.open_tags:
                ends, opener, line = self.open_tags[-1]
                what = "unexpected" if tag in _INNER_TAGS else "unknown tag"
                self.fail("%s '%s', expected %s to close the '%s' tag opened on line %d"
                          % (what, tag, _quote_list(ends), opener, line))
            if tag in _INNER_TAGS:
                self.fail("unexpected '%s': no open tag to close" % tag)
            self.fail("unknown tag '%s'" % tag)
        self.pos += 1
        return handler(tok[2])

    def parse_body(self, tag, lineno, end_tags):
        """Statements of ``tag``'s body; the stream is left on the matching end tag's name."""
        self.open_tags.append((end_tags, tag, lineno))
        body = self.subparse(end_tags)
        self.open_tags.pop()
        return body

    def close(self, end_tag):
        """Consume ``end_tag`` (current) and its ``%}``."""
        self.pos += 1
        self.expect_end(end_tag)

    # tags -------------------------------------------------------------------------
    def parse_if(self, lineno):
        test = self.parse_tuple(with_condexpr=False)
        self.expect_end("if")
        node = n.If(test, None, [], lineno=lineno)
        result = node
        while True:
            node.body = self.parse_body("if", lineno, ("elif", "else", "endif"))
            tok = self.current
            if tok[1] == "elif":
                self.pos += 1
                test = self.parse_tuple(with_condexpr=False)
                self.expect_end("elif")
                new = n.If(test, None, [], lineno=tok[2])
                node.else_ = [new]
                node = new
                continue
            if tok[1] == "else":
                self.pos += 1
                self.expect_end("else")
                node.else_ = self.parse_body("if", lineno, ("endif",))
            self.close("endif")
            return result

    def parse_for(self, lineno):
        target = self.parse_assign_target(("in",))
        self.expect_keyword("in")
        iter_ = self.parse_tuple(with_condexpr=False, extra_end=("recursive",))
        test = None
        if self.skip_name("if"):
            test = self.parse_expression()
        recursive = self.skip_name("recursive")
        self.expect_end("for")
        self.loop_depth[-1] += 1
        body = self.parse_body("for", lineno, ("endfor", "else"))
        self.loop_depth[-1] -= 1
        else_ = []
        if self.current[1] == "else":
            self.pos += 1
            self.expect_end("else")
            else_ = self.parse_body("for", lineno, ("endfor",))
        self.close("endfor")
        return n.For(target, iter_, body, else_, test, recursive, lineno=lineno)

    def parse_break(self, lineno):
        if not self.loop_depth[-1]:
            self.fail("'break' outside of a 'for' loop", lineno)
        self.expect_end("break")
        return n.Break(lineno=lineno)

    def parse_continue(self, lineno):
        if not self.loop_depth[-1]:
            self.fail("'continue' outside of a 'for' loop", lineno)
        self.expect_end("continue")
        return n.Continue(lineno=lineno)

    def parse_set(self, lineno):
        target = self.parse_assign_target(("=", "|"), allow_namespace=True)
        if self.skip_op("="):
            expr = self.parse_tuple()
            self.expect_end("set")
            return n.Assign(target, expr, lineno=lineno)
        if not isinstance(target, n.Name):
            self.fail("a block 'set' assigns to a single name")
        filters = []
        if self.is_op("|"):
            filters = self.parse_filter_chain()
        self.expect_end("set")
        body = self.parse_inner_body("set", lineno, ("endset",))
        self.close("endset")
        return n.AssignBlock(target, filters, body, lineno=lineno)

    def parse_with(self, lineno):
        targets, values = [], []
        while self.current[0] != "block_end":
            if targets:
                self.expect_op(",")
            targets.append(self.parse_assign_target(("=",)))
            self.expect_op("=")
            values.append(self.parse_expression())
        self.expect_end("with")
        body = self.parse_inner_body("with", lineno, ("endwith",))
        self.close("endwith")
        return n.With(targets, values, body, lineno=lineno)

    def parse_block(self, lineno):
        name = self.expect_name("a block name")
        if name in self.block_names:
            self.fail("block '%s' defined twice" % name, lineno)
        self.block_names.add(name)
        scoped = required = False
        while self.current[0] == "name":
            if self.skip_name("scoped"):
                scoped = True
            elif self.skip_name("required"):
                required = True
            else:
                self.fail("expected 'scoped', 'required' or end of statement '%%}', got %s"
                          % describe(self.current))
        self.expect_end("block")
        self.loop_depth.append(0)
        body = self.parse_body("block", lineno, ("endblock",))
        self.loop_depth.pop()
        self.pos += 1
        if self.current[0] == "name":
            end_name = self.advance()[1]
            if end_name != name:
                self.fail("'endblock %s' does not match the 'block %s' opened on line %d"
                          % (end_name, name, lineno))
        self.expect_end("endblock")
        if required:
            for stmt in body:
                if not (isinstance(stmt, n.Output) and all(isinstance(x, str) and not x.strip()
                                                            for x in stmt.nodes)):
                    self.fail("required block '%s' may only contain whitespace and comments"
                              % name, lineno)
        return n.Block(name, body, scoped, required, lineno=lineno)

    def parse_extends(self, lineno):
        node = n.Extends(self.parse_expression(), lineno=lineno)
        self.expect_end("extends")
        return node

    def parse_context_modifier(self, default, tag):
        tok = self.current
        if tok[0] == "name" and tok[1] in ("with", "without") and self.look()[:2] == ("name", "context"):
            self.pos += 2
            return tok[1] == "with"
        return default

    def parse_include(self, lineno):
        template = self.parse_expression()
        ignore_missing = False
        if self.is_name("ignore") and self.look()[:2] == ("name", "missing"):
            self.pos += 2
            ignore_missing = True
        with_context = self.parse_context_modifier(True, "include")
        self.expect_end("include")
        return n.Include(template, with_context, ignore_missing, lineno=lineno)

    def parse_import(self, lineno):
        template = self.parse_expression()
        self.expect_keyword("as")
        target = self.expect_name("a name after 'as'")
        with_context = self.parse_context_modifier(False, "import")
        self.expect_end("import")
        return n.Import(template, target, with_context, lineno=lineno)

    def parse_from(self, lineno):
        template = self.parse_expression()
        self.expect_keyword("import")
        names = []
        with_context = False
        while True:
            if self.current[0] == "block_end":
                break
            if names:
                self.expect_op(",")
                if self.current[0] == "block_end":
                    break
            tok = self.current
            if tok[0] == "name" and tok[1] in ("with", "without") and self.look()[:2] == ("name", "context"):
                with_context = self.parse_context_modifier(False, "from")
                break
            name = self.expect_name("a name to import")
            if name.startswith("_"):
                self.fail("names starting with an underscore cannot be imported: %r" % name)
            alias = name
            if self.skip_name("as"):
                alias = self.expect_name("a name after 'as'")
            names.append((name, alias))
            tok = self.current
            if tok[0] == "name" and tok[1] in ("with", "without"):
                with_context = self.parse_context_modifier(False, "from")
                break
        if not names:
            self.fail("expected a name to import, got %s" % describe(self.current))
        self.expect_end("from")
        return n.FromImport(template, names, with_context, lineno=lineno)

    def parse_signature(self):
        args, defaults = [], []
        self.expect_op("(")
        while not self.is_op(")"):
            if args:
                self.expect_op(",")
                if self.is_op(")"):
                    break
            name = self.expect_name("an argument name")
            if name in args:
                self.fail("duplicate argument %r" % name)
            args.append(name)
            if self.skip_op("="):
                defaults.append(self.parse_expression())
            elif defaults:
                self.fail("argument %r without a default follows an argument with one" % name)
        self.pos += 1
        return args, defaults

    def parse_inner_body(self, tag, lineno, end_tags, new_function=False):
        if new_function:
            self.loop_depth.append(0)
        body = self.parse_body(tag, lineno, end_tags)
        if new_function:
            self.loop_depth.pop()
        return body

    def parse_macro(self, lineno):
        name = self.expect_name("a macro name")
        if self.current[0] != "op" or self.current[1] != "(":
            self.fail("expected '(' after the macro name, got %s" % describe(self.current))
        args, defaults = self.parse_signature()
        self.expect_end("macro")
        body = self.parse_inner_body("macro", lineno, ("endmacro",), new_function=True)
        self.pos += 1
        if self.current[0] == "name":
            end_name = self.advance()[1]
            if end_name != name:
                self.fail("'endmacro %s' does not match the 'macro %s' opened on line %d"
                          % (end_name, name, lineno))
        self.expect_end("endmacro")
        return n.Macro(name, args, defaults, body, lineno=lineno)

    def parse_call(self, lineno):
        args, defaults = [], []
        if self.is_op("("):
            args, defaults = self.parse_signature()
        call = self.parse_expression()
        if not isinstance(call, n.Call):
            self.fail("the 'call' tag expects a macro call, such as {% call m() %}", lineno)
        self.expect_end("call")
        body = self.parse_inner_body("call", lineno, ("endcall",), new_function=True)
        self.close("endcall")
        return n.CallBlock(call, args, defaults, body, lineno=lineno)

    def parse_filter(self, lineno):
        filters = self.parse_filter_chain(first_inline=True)
        self.expect_end("filter")
        body = self.parse_inner_body("filter", lineno, ("endfilter",))
        self.close("endfilter")
        return n.FilterBlock(filters, body, lineno=lineno)

    def parse_autoescape(self, lineno):
        value = self.parse_expression()
        if not (isinstance(value, n.Const) and isinstance(value.value, bool)):
            self.fail("'autoescape' takes true or false", lineno)
        self.expect_end("autoescape")
        body = self.parse_body("autoescape", lineno, ("endautoescape",))
        self.close("endautoescape")
        return n.AutoEscape(value.value, body, lineno=lineno)

    # assignment targets -----------------------------------------------------------
    def parse_assign_target(self, end_words, allow_namespace=False):
        lineno = self.current[2]
        if allow_namespace and self.current[0] == "name" and self.look()[:2] == ("op", "."):
            name = self.advance()[1]
            self.pos += 1
            attr = self.expect_name("an attribute name")
            if attr.startswith("_"):
                self.fail("cannot assign to the private attribute %r" % attr)
            return n.NSRef(name, attr, lineno=lineno)
        items = [self.parse_target_item()]
        is_tuple = False
        while self.skip_op(","):
            is_tuple = True
            tok = self.current
            if tok[0] == "block_end" or (tok[0] in ("name", "op") and tok[1] in end_words):
                break
            items.append(self.parse_target_item())
        if is_tuple:
            return n.TupleLit(items, lineno=lineno)
        return items[0]

    def parse_target_item(self):
        tok = self.current
        if tok[0] == "name":
            if tok[1] in ("true", "false", "none", "True", "False", "None"):
                self.fail("cannot assign to %r" % tok[1])
            self.pos += 1
            return n.Name(tok[1], lineno=tok[2])
        if self.skip_op("("):
            items = [self.parse_target_item()]
            while self.skip_op(","):
                if self.is_op(")"):
                    break
                items.append(self.parse_target_item())
            self.expect_op(")")
            return n.TupleLit(items, lineno=tok[2])
        self.fail("expected a name to assign to, got %s" % describe(tok))

    # expressions ------------------------------------------------------------------
    def parse_tuple(self, with_condexpr=True, extra_end=(), explicit_parentheses=False):
        lineno = self.current[2]
        items = []
        is_tuple = False
        while True:
            if items:
                self.expect_op(",")
            tok = self.current
            if tok[0] in _END_OF_EXPR or (tok[0] == "op" and tok[1] == ")") or \
                    (tok[0] == "name" and tok[1] in extra_end):
                break
            if with_condexpr:
                items.append(self.parse_expression())
            else:
                items.append(self.parse_or())
            if self.is_op(","):
                is_tuple = True
            else:
                break
        if not is_tuple:
            if items:
                return items[0]
            if not explicit_parentheses:
                self.fail("expected an expression, got %s" % describe(self.current))
        return n.TupleLit(items, lineno=lineno)

    def parse_expression(self, with_condexpr=True):
        if with_condexpr:
            return self.parse_condexpr()
        return self.parse_or()

    def parse_condexpr(self):
        lineno = self.current[2]
        expr1 = self.parse_or()
        while self.skip_name("if"):
            expr2 = self.parse_or()
            expr3 = self.parse_condexpr() if self.skip_name("else") else None
            expr1 = n.CondExpr(expr2, expr1, expr3, lineno=lineno)
        return expr1

    def parse_or(self):
        lineno = self.current[2]
        left = self.parse_and()
        while self.skip_name("or"):
            left = n.Or(left, self.parse_and(), lineno=lineno)
        return left

    def parse_and(self):
        lineno = self.current[2]
        left = self.parse_not()
        while self.skip_name("and"):
            left = n.And(left, self.parse_not(), lineno=lineno)
        return left

    def parse_not(self):
        tok = self.current
        if tok[0] == "name" and tok[1] == "not":
            self.pos += 1
            return n.Not(self.parse_not(), lineno=tok[2])
        return self.parse_compare()

    def parse_compare(self):
        lineno = self.current[2]
        expr = self.parse_math1()
        ops = []
        while True:
            tok = self.current
            if tok[0] == "op" and tok[1] in _COMPARE_OPS:
                self.pos += 1
                ops.append((tok[1], self.parse_math1()))
            elif tok[0] == "name" and tok[1] == "in":
                self.pos += 1
                ops.append(("in", self.parse_math1()))
            elif tok[0] == "name" and tok[1] == "not" and self.look()[:2] == ("name", "in"):
                self.pos += 2
                ops.append(("not in", self.parse_math1()))
            else:
                break
        if not ops:
            return expr
        return n.Compare(expr, ops, lineno=lineno)

    def parse_math1(self):
        lineno = self.current[2]
        left = self.parse_concat()
        while True:
            tok = self.current
            if tok[0] == "op" and tok[1] in ("+", "-"):
                self.pos += 1
                left = n.BinOp(tok[1], left, self.parse_concat(), lineno=lineno)
            else:
                return left

    def parse_concat(self):
        lineno = self.current[2]
        items = [self.parse_math2()]
        while self.skip_op("~"):
            items.append(self.parse_math2())
        if len(items) == 1:
            return items[0]
        return n.Concat(items, lineno=lineno)

    def parse_math2(self):
        lineno = self.current[2]
        left = self.parse_pow()
        while True:
            tok = self.current
            if tok[0] == "op" and tok[1] in ("*", "/", "//", "%"):
                self.pos += 1
                left = n.BinOp(tok[1], left, self.parse_pow(), lineno=lineno)
            else:
                return left

    def parse_pow(self):
        lineno = self.current[2]
        left = self.parse_unary()
        while self.skip_op("**"):
            left = n.BinOp("**", left, self.parse_unary(), lineno=lineno)
        return left

    def parse_unary(self, with_filter=True):
        tok = self.current
        if tok[0] == "op" and tok[1] == "-":
            self.pos += 1
            node = n.Neg(self.parse_unary(False), lineno=tok[2])
        elif tok[0] == "op" and tok[1] == "+":
            self.pos += 1
            node = n.Pos(self.parse_unary(False), lineno=tok[2])
        else:
            node = self.parse_postfix(self.parse_primary())
        if with_filter:
            node = self.parse_filter_expr(node)
        return node

    def parse_primary(self):
        type_, value, lineno = tok = self.current
        if type_ == "name":
            self.pos += 1
            if value in ("true", "True"):
                return n.Const(True, lineno=lineno)
            if value in ("false", "False"):
                return n.Const(False, lineno=lineno)
            if value in ("none", "None"):
                return n.Const(None, lineno=lineno)
            return n.Name(value, lineno=lineno)
        if type_ == "string":
            self.pos += 1
            parts = [value]
            while self.current[0] == "string":
                parts.append(self.advance()[1])
            return n.Const("".join(parts), lineno=lineno)
        if type_ in ("int", "float"):
            self.pos += 1
            return n.Const(value, lineno=lineno)
        if type_ == "op":
            saved = self.no_colon
            self.no_colon = 0
            try:
                if value == "(":
                    self.pos += 1
                    node = self.parse_tuple(explicit_parentheses=True)
                    self.expect_op(")")
                    return node
                if value == "[":
                    return self.parse_list()
                if value == "{":
                    return self.parse_dict()
            finally:
                self.no_colon = saved
        self.fail("expected an expression, got %s" % describe(tok))

    def parse_list(self):
        lineno = self.advance()[2]
        items = []
        while not self.is_op("]"):
            if items:
                self.expect_op(",")
                if self.is_op("]"):
                    break
            items.append(self.parse_expression())
        self.pos += 1
        return n.ListLit(items, lineno=lineno)

    def parse_dict(self):
        lineno = self.advance()[2]
        pairs = []
        while not self.is_op("}"):
            if pairs:
                self.expect_op(",")
                if self.is_op("}"):
                    break
            self.no_colon += 1
            key = self.parse_expression()
            self.no_colon -= 1
            self.expect_op(":")
            pairs.append((key, self.parse_expression()))
        self.pos += 1
        return n.DictLit(pairs, lineno=lineno)

    def parse_postfix(self, node):
        while True:
            tok = self.current
            if tok[0] != "op":
                return node
            if tok[1] == ".":
                self.pos += 1
                attr = self.current
                if attr[0] == "name":
                    self.pos += 1
                    node = n.Getattr(node, attr[1], lineno=tok[2])
                elif attr[0] == "int":
                    self.pos += 1
                    node = n.Getitem(node, n.Const(attr[1], lineno=tok[2]), lineno=tok[2])
                else:
                    self.fail("expected an attribute name after '.', got %s" % describe(attr))
            elif tok[1] == "[":
                node = self.parse_subscript(node)
            elif tok[1] == "(":
                node = self.parse_call_expr(node)
            else:
                return node

    def parse_subscript(self, node):
        lineno = self.advance()[2]
        saved = self.no_colon
        self.no_colon = 1
        items = []
        while not self.is_op("]"):
            if items:
                self.expect_op(",")
                if self.is_op("]"):
                    break
            items.append(self.parse_subscribed())
        self.no_colon = saved
        if not items:
            self.fail("expected a subscript, got ']'")
        self.pos += 1
        arg = items[0] if len(items) == 1 else n.TupleLit(items, lineno=lineno)
        return n.Getitem(node, arg, lineno=lineno)

    def parse_subscribed(self):
        lineno = self.current[2]
        parts = [None, None, None]
        if self.is_op(":"):
            index = 0
        else:
            expr = self.parse_expression()
            if not self.is_op(":"):
                return expr
            parts[0] = expr
            index = 0
        # a slice: [start]:[stop][:[step]]
        for index in (1, 2):
            if not self.skip_op(":"):
                break
            tok = self.current
            if not (tok[0] == "op" and tok[1] in ("]", ",", ":")):
                parts[index] = self.parse_expression()
        return n.SliceLit(parts[0], parts[1], parts[2], lineno=lineno)

    def parse_call_args(self):
        saved = self.no_colon
        self.no_colon = 0
        self.expect_op("(")
        args, kwargs = [], []
        dyn_args = dyn_kwargs = None
        first = True
        while not self.is_op(")"):
            if not first:
                self.expect_op(",")
                if self.is_op(")"):
                    break
            first = False
            if self.skip_op("**"):
                if dyn_kwargs is not None:
                    self.fail("only one '**' argument is allowed")
                dyn_kwargs = self.parse_expression()
            elif self.skip_op("*"):
                if dyn_args is not None or dyn_kwargs is not None:
                    self.fail("a '*' argument must come before keyword arguments and '**'")
                dyn_args = self.parse_expression()
            elif self.current[0] == "name" and self.look()[:2] == ("op", "="):
                if dyn_kwargs is not None:
                    self.fail("keyword arguments must come before a '**' argument")
                key = self.advance()[1]
                self.pos += 1
                kwargs.append((key, self.parse_expression()))
            else:
                if kwargs or dyn_args is not None or dyn_kwargs is not None:
                    self.fail("a positional argument follows a keyword or '*' argument")
                args.append(self.parse_expression())
        self.pos += 1
        self.no_colon = saved
        return args, kwargs, dyn_args, dyn_kwargs

    def parse_call_expr(self, node):
        lineno = self.current[2]
        args, kwargs, dyn_args, dyn_kwargs = self.parse_call_args()
        return n.Call(node, args, kwargs, dyn_args, dyn_kwargs, lineno=lineno)

    def parse_filter_expr(self, node):
        while True:
            tok = self.current
            if tok[0] == "op" and tok[1] == "|":
                node = self.parse_filter_chain(node)[-1]
            elif tok[0] == "name" and tok[1] == "is":
                node = self.parse_test(node)
            elif tok[0] == "op" and tok[1] == "(":
                node = self.parse_call_expr(node)
            else:
                return node

    def parse_filter_chain(self, node=None, first_inline=False):
        """``|f|g(x)|h:y`` applied to ``node``; returns the filters, innermost first."""
        filters = []
        inline = first_inline
        while inline or self.is_op("|"):
            if not inline:
                self.pos += 1
            inline = False
            lineno = self.current[2]
            name = self.expect_name("a filter name")
            args, kwargs, dyn_args, dyn_kwargs = [], [], None, None
            if self.is_op("("):
                args, kwargs, dyn_args, dyn_kwargs = self.parse_call_args()
            elif self.is_op(":") and not self.no_colon:
                # Django style: one argument after a colon, `x|truncate:30`
                self.pos += 1
                args = [self.parse_unary(False)]
            node = n.Filter(node, name, args, kwargs, dyn_args, dyn_kwargs, lineno=lineno)
            filters.append(node)
        return filters

    def parse_test(self, node):
        lineno = self.advance()[2]
        negated = self.skip_name("not")
        name = self.expect_name("a test name after 'is'")
        args, kwargs, dyn_args, dyn_kwargs = [], [], None, None
        tok = self.current
        if tok[0] == "op" and tok[1] == "(":
            args, kwargs, dyn_args, dyn_kwargs = self.parse_call_args()
        elif (tok[0] in _TEST_ARG_START or (tok[0] == "op" and tok[1] in ("[", "{"))) and \
                not (tok[0] == "name" and tok[1] in ("else", "or", "and", "if", "is", "not", "in")):
            args = [self.parse_postfix(self.parse_primary())]
        return n.Test(node, name, args, kwargs, dyn_args, dyn_kwargs, negated, lineno=lineno)


_TAGS = frozenset(("if", "for", "break", "continue", "set", "with", "block", "extends", "include",
                   "import", "from", "macro", "call", "filter", "autoescape"))
