"""Schema ``pattern`` strings (ECMA-262 regexes) compiled as Python regular expressions,
and run in time linear in the value: with ``re`` when the pattern is proved free of
catastrophic backtracking, else with a Thompson automaton (CWE-1333, regular-expression
denial of service)."""
import re
from typing import Any, Callable, Optional

from ._errors import SchemaError
from ._regex_nfa import MAX_PROGRAM, backtracking_is_linear, build_program
from ._regex_syntax import Unsupported, parse

__all__ = ["compile_pattern", "pattern_search"]


def _translate_pattern(pattern: str) -> str:
    """Make ``$`` mean end-of-string, as in JSON Schema's ECMA-262 regexes.

    Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` would accept
    "abc\\n"; ``\\Z`` does not. Escapes and character classes are copied unchanged.
    """
    out = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("]")
                i += 1
            continue
        elif char == "$":
            out.append(r"\Z")
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


def compile_pattern(pattern: Any, where: str = "pattern") -> "re.Pattern":
    """Compile a schema ``pattern`` once (``$`` anchors at the very end); SchemaError if invalid."""
    if not isinstance(pattern, str):
        raise SchemaError("%s must be a string, got %r" % (where, pattern))
    try:
        compiled = re.compile(pattern)
        if not compiled.flags & re.MULTILINE:
            compiled = re.compile(_translate_pattern(pattern))
    except re.error as exc:
        raise SchemaError("%s %r is not a valid Python regular expression: %s" % (where, pattern, exc)) from None
    return compiled


def pattern_search(pattern: Any, where: str = "pattern") -> Callable[[str], Optional[object]]:
    """A search function for a schema ``pattern``: not None when the pattern matches.

    It costs at most len(value) x pattern size steps: ``re``'s own search when the pattern
    is proved linear for a backtracking matcher, else a Thompson automaton. Features no
    linear-time matcher can run are refused with SchemaError.

    Example: ``pattern_search("^(a+)+$")("a" * 50 + "!")`` is None at once.
    """
    compiled = compile_pattern(pattern, where)
    try:
        tree = parse(compiled.pattern, compiled.flags)
    except Unsupported as exc:
        raise SchemaError("%s %r uses %s, which cannot be matched in time linear in the value" %
                          (where, pattern, exc)) from None
    if backtracking_is_linear(tree):
        return compiled.search
    program = build_program(tree)
    if program is None:
        raise SchemaError("%s %r needs more than %d automaton states to be matched in linear time; "
                          "use smaller repeat counts" % (where, pattern, MAX_PROGRAM))
    return program.search
