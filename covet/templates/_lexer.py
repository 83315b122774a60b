"""Template source -> flat token list (sans-IO: text in, tuples out).

A token is ``(type, value, lineno)``. Types: ``data`` (template text),
``var_begin``/``var_end`` (``{{ }}``), ``block_begin``/``block_end``
(``{% %}``), ``name``, ``string``, ``int``, ``float``, ``op`` and ``eof``.
Comments and ``{% raw %}`` are resolved here, as is all whitespace control
(``-`` on either side of a tag, ``+`` to opt out of lstrip/trim,
``trim_blocks`` and ``lstrip_blocks``), so the parser only sees data.
"""
import re
import unicodedata

from ._errors import TemplateSyntaxError

__all__ = ["tokenize"]

_TAG_START = re.compile(r"\{([{%#])([-+]?)")
_WS = re.compile(r"\s*")
_RAW_BEGIN = re.compile(r"\s*raw\s*([-+]?)%\}")
_RAW_END = re.compile(r"\{%([-+]?)\s*endraw\s*([-+]?)%\}")
_COMMENT_END = re.compile(r"(-?)#\}")
# Only spaces and tabs may precede a tag that lstrip_blocks removes to the
# line start; \s would also match the newline the rfind() stopped at.
_LINE_INDENT = re.compile(r"[ \t\f\v\r]+")

# Number grammar as Jinja2 3.x accepts it: underscores between digits,
# 0b/0o/0x prefixes, no leading zeros on decimals. Each alternative is a
# sequence of disjoint classes, so matching stays linear on any input.
_TOKEN = re.compile(
    r"""
    (?P<float>(?<!\.)(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?[eE][+\-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+))
  | (?P<int>0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0[xX](?:_?[0-9a-fA-F])+|[1-9](?:_?\d)*|0(?:_?0)*)
  | (?P<name>[^\W\d]\w*)
  | (?P<string>'[^'\\]*(?:\\.[^'\\]*)*'|"[^"\\]*(?:\\.[^"\\]*)*")
  | (?P<op>//|\*\*|==|!=|>=|<=|[-+*/%~\[\](){}<>=.:|,;])
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSING = {")": "(", "]": "[", "}": "{"}


# String literal escapes, as in Python. An unknown escape such as "\d" is kept
# as written (Python does the same); the unicode-escape codec would do it too
# but warns (DeprecationWarning) on every such template.
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}\n]*\}|[0-7]{1,3}|.)",
                     re.DOTALL)
_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n",
                   "r": "\r", "t": "\t", "v": "\v", "\n": ""}
_TRUNCATED = {"x": "truncated \\xXX escape", "u": "truncated \\uXXXX escape",
              "U": "truncated \\UXXXXXXXX escape", "N": "malformed \\N character escape"}


def _string_value(text, name, lineno):
    body = text[1:-1]
    if "\\" not in body:
        return body

    def replace(m):
        escape = m.group(1)
        first = escape[0]
        if len(escape) == 1:
            if first in _SIMPLE_ESCAPES:
                return _SIMPLE_ESCAPES[first]
            if first in _TRUNCATED:
                raise ValueError(_TRUNCATED[first])
        if first in "01234567":
            return chr(int(escape, 8))
        if first == "N":
            try:
                return unicodedata.lookup(escape[2:-1])
            except KeyError:
                raise ValueError("unknown Unicode character name") from None
        if first in "xuU":
            code = int(escape[1:], 16)
            if code > 0x10FFFF:
                raise ValueError("illegal Unicode character")
            return chr(code)
        return "\\" + escape

    try:
        return _ESCAPE.sub(replace, body)
    except ValueError as exc:
        raise TemplateSyntaxError("invalid escape in string literal %s (%s)" % (text, exc),
                                  name, lineno) from None


def tokenize(source, name=None, trim_blocks=False, lstrip_blocks=False,
             keep_trailing_newline=False):
    """Split ``source`` into tokens; raises TemplateSyntaxError naming ``name`` and the line."""
    # Jinja2 normalises newlines and drops one trailing newline by default.
    if "\r" in source:
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    if not keep_trailing_newline and source.endswith("\n"):
        source = source[:-1]
    tokens = []
    append = tokens.append
    pos = 0
    lineno = 1
    end = len(source)
    line_starting = True
    search = _TAG_START.search
    while pos < end:
        m = search(source, pos)
        if m is None:
            append(("data", source[pos:], lineno))
            lineno += source.count("\n", pos)
            break
        start = m.start()
        kind, sign = m.group(1), m.group(2)
        text = source[pos:start]
        raw_match = None
        if kind == "%":
            raw_match = _RAW_BEGIN.match(source, m.end())
        if text:
            if sign == "-":
                text = text.rstrip()
            elif lstrip_blocks and kind != "{" and sign != "+":
                l_pos = text.rfind("\n") + 1
                if (l_pos > 0 or line_starting) and _LINE_INDENT.fullmatch(text, l_pos):
                    text = text[:l_pos]
            if text:
                append(("data", text, lineno))
            lineno += source.count("\n", pos, start)
        tag_line = lineno
        if kind == "#":
            c = _COMMENT_END.search(source, m.end())
            if c is None:
                raise TemplateSyntaxError("missing end of comment tag '#}' (comment opened on line %d)"
                                          % tag_line, name, tag_line)
            lineno += source.count("\n", m.end(), c.end())
            pos, line_starting = _after_tag(source, c.end(), c.group(1), True, trim_blocks)
            lineno += source.count("\n", c.end(), pos)
            continue
        if raw_match is not None:
            r = _RAW_END.search(source, raw_match.end())
            if r is None:
                raise TemplateSyntaxError("missing '{%% endraw %%}' for the 'raw' tag opened on line %d"
                                          % tag_line, name, tag_line)
            # Jinja2 does not apply trim_blocks right after {% raw %}, only "-"
            body_start, _ = _after_tag(source, raw_match.end(), raw_match.group(1), False, trim_blocks)
            body = source[body_start:r.start()]
            if r.group(1) == "-":
                body = body.rstrip()
            elif lstrip_blocks and r.group(1) != "+":
                l_pos = body.rfind("\n") + 1
                if l_pos > 0 and _LINE_INDENT.fullmatch(body, l_pos):
                    body = body[:l_pos]
            if body:
                append(("data", body, lineno + source.count("\n", m.start(), body_start)))
            lineno += source.count("\n", m.start(), r.end())
            pos, line_starting = _after_tag(source, r.end(), r.group(2), True, trim_blocks)
            lineno += source.count("\n", r.end(), pos)
            continue
        if kind == "{":
            append(("var_begin", None, lineno))
        else:
            append(("block_begin", None, lineno))
        pos, lineno, line_starting = _tag_tokens(source, m.end(), lineno, kind, name, tag_line,
                                                 append, trim_blocks)
    append(("eof", None, lineno))
    return tokens


def _after_tag(source, pos, sign, is_block, trim_blocks):
    """Position after a tag's closing delimiter once '-' and trim_blocks are applied."""
    if sign == "-":
        new = _WS.match(source, pos).end()
        return new, new > pos and source[new - 1] == "\n"
    if is_block and trim_blocks and sign != "+" and source.startswith("\n", pos):
        return pos + 1, True
    return pos, False


def _tag_tokens(source, pos, lineno, kind, name, tag_line, append, trim_blocks):
    """Tokenize the inside of a ``{{ }}`` or ``{% %}`` tag up to its end delimiter."""
    is_block = kind == "%"
    closer = "%}" if is_block else "}}"
    end_type = "block_end" if is_block else "var_end"
    stack = []
    match = _TOKEN.match
    ws = _WS.match
    while True:
        w = ws(source, pos)
        if w.end() != pos:
            lineno += source.count("\n", pos, w.end())
            pos = w.end()
        if not stack:
            sign = None
            if source.startswith(closer, pos):
                sign = ""
            elif source.startswith(closer, pos + 1) and source[pos] in "-+" and (is_block or source[pos] == "-"):
                sign = source[pos]
            if sign is not None:
                append((end_type, None, lineno))
                tag_end = pos + len(sign) + 2
                new_pos, line_starting = _after_tag(source, tag_end, sign, is_block, trim_blocks)
                lineno += source.count("\n", tag_end, new_pos)
                return new_pos, lineno, line_starting
        m = match(source, pos)
        if m is None:
            if pos >= len(source):
                raise TemplateSyntaxError("unexpected end of template, expected %r to close the tag "
                                          "opened on line %d" % (closer, tag_line), name, lineno)
            ch = source[pos]
            if ch in "'\"":
                raise TemplateSyntaxError("unterminated string literal", name, lineno)
            raise TemplateSyntaxError("unexpected character %r in tag" % ch, name, lineno)
        kind_ = m.lastgroup
        text = m.group()
        if kind_ == "op":
            if text in "([{":
                stack.append(text)
            elif text in ")]}":
                if not stack:
                    raise TemplateSyntaxError("unexpected %r" % text, name, lineno)
                opener = stack.pop()
                if opener != _CLOSING[text]:
                    raise TemplateSyntaxError("unexpected %r, expected %r" % (
                        text, {"(": ")", "[": "]", "{": "}"}[opener]), name, lineno)
            append(("op", text, lineno))
        elif kind_ == "name":
            append(("name", text, lineno))
        elif kind_ == "string":
            append(("string", _string_value(text, name, lineno), lineno))
            lineno += text.count("\n")
        elif kind_ == "int":
            try:
                value = int(text.replace("_", ""), 0)
            except ValueError:  # over the int() digit limit (CVE-2020-10735)
                raise TemplateSyntaxError("integer literal too long", name, lineno) from None
            append(("int", value, lineno))
        else:
            append(("float", float(text.replace("_", "")), lineno))
        pos = m.end()
