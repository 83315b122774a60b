"""Schema ``pattern`` strings (ECMA-262 regexes) compiled as Python regular expressions."""
import re
from typing import Any

from ._errors import SchemaError

__all__ = ["compile_pattern"]


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
