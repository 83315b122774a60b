"""The pieces of generated source every keyword family writes with: the function being
written, where in the schema the generator stands, and the test for a JSON type."""
from typing import Sequence, Tuple

from ..core._codegen import Emitter

__all__ = ["Fn", "St", "type_test"]


class Fn:
    """One generated function: its name and its body, at the level it will sit in the module."""

    def __init__(self, name: str, root: bool) -> None:
        self.name = name
        self.root = root
        # validate()'s checks sit inside its ``try:``, a shared function's directly in its body
        self.code = Emitter(2 if root else 1)
        self.line = self.code.line
        self.block = self.code.block
        self.base_path = [] if root else ["*path"]
        self.depth = "0" if root else "depth"

    @property
    def level(self) -> int:
        """The indentation level code is emitted at now (Python allows 100)."""
        return self.code.level


class St:
    """Where code is being generated: inlined $ref targets, static depth, loop nesting."""

    __slots__ = ("stack", "sd", "loops", "embedded")

    def __init__(self, stack: Tuple[str, ...] = (), sd: int = 0, loops: int = 0, embedded: bool = False):
        self.stack, self.sd, self.loops, self.embedded = stack, sd, loops, embedded

    def descend(self, loop: bool = False) -> "St":
        return St(self.stack, self.sd + 1, self.loops + loop, self.embedded)

    def push(self, pointer: str) -> "St":
        return St(self.stack + (pointer,), self.sd, self.loops, self.embedded)

    def inside_id(self) -> "St":
        return St(self.stack, self.sd, self.loops, True)


def type_test(types: Sequence[str], x: str) -> str:
    tests = []
    for kind in types:
        if kind == "null":
            tests.append("%s is None" % x)
        elif kind == "boolean":
            tests.append("%s is True or %s is False" % (x, x))
        elif kind == "integer":
            tests.append("type(%s) is int or type(%s) is float and %s.is_integer() or _isint(%s)" % (x, x, x, x))
        elif kind == "number":
            # x - x == 0.0 is False for inf and nan, which JSON cannot carry.
            tests.append("type(%s) is int or type(%s) is float and %s - %s == 0.0 or _isnum(%s)" % (x, x, x, x, x))
        elif kind == "string":
            tests.append("type(%s) is str or isinstance(%s, str)" % (x, x))
        elif kind == "array":
            tests.append("type(%s) is list or isinstance(%s, (list, tuple))" % (x, x))
        elif kind == "object":
            tests.append("type(%s) is dict or isinstance(%s, dict)" % (x, x))
    return "(%s)" % " or ".join("(%s)" % t for t in tests) if len(tests) > 1 else "(%s)" % tests[0]
