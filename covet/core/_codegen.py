"""The one emitter behind covet's code generators: the router, templates and schemas.

Each generator writes Python source line by line and compiles it once, at
registration. Indentation is structural: ``with emitter.block("if x"):``
writes ``if x:`` and indents whatever the ``with`` body emits, so a block
that is opened is always closed, and an empty one gets ``pass``
(fastjsonschema's generator works the same way with ``with self.l(...)``).
Every line carries an optional tag; the template compiler tags each line
with the template line it came from, to map errors back.
"""
from typing import Any, List, Tuple

__all__ = ["Emitter", "Block", "INDENT"]

INDENT = "    "


class Emitter:
    """Python source under construction: ``(level, code, tag)`` lines.

    :param level: the indentation level of the first line (see ``extend``).

    Example::

        e = Emitter()
        with e.block("def double(x)"):
            with e.block("if x is None"):
                e.line("return 0")
            e.line("return 2 * x")
        e.source()   # 'def double(x):\\n    if x is None:\\n        return 0\\n    return 2 * x\\n'
    """

    __slots__ = ("lines", "level", "base")

    def __init__(self, level: int = 0) -> None:
        self.lines: List[Tuple[int, str, Any]] = []
        self.level = level
        self.base = level

    def line(self, code: str, tag: Any = None) -> None:
        """Add one line at the current indentation."""
        self.lines.append((self.level, code, tag))

    def block(self, header: str, tag: Any = None) -> "Block":
        """``with e.block("for x in xs"):`` -- the header (a colon is added), then an indented body."""
        return Block(self, header, tag)

    def extend(self, other: "Emitter") -> None:
        """Append the lines of ``other``, its starting level placed at this emitter's current level."""
        shift = self.level - other.base
        self.lines.extend([(level + shift, code, tag) for level, code, tag in other.lines])

    def source(self) -> str:
        """The text, one line per line, ending with a newline."""
        return "\n".join([INDENT * level + code for level, code, _ in self.lines]) + "\n"

    def tags(self) -> List[Any]:
        """The tag of every line, in order."""
        return [tag for _, _, tag in self.lines]


class Block:
    """The context manager ``Emitter.block`` returns: writes the header on entry, dedents on exit."""

    __slots__ = ("emitter", "header", "tag", "mark")

    def __init__(self, emitter: Emitter, header: str, tag: Any) -> None:
        self.emitter = emitter
        self.header = header
        self.tag = tag
        self.mark = -1

    def __enter__(self) -> Emitter:
        e = self.emitter
        e.line(self.header + ":", self.tag)
        e.level += 1
        self.mark = len(e.lines)
        return e

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        e = self.emitter
        if exc_type is None and len(e.lines) == self.mark:
            e.line("pass", self.tag)
        e.level -= 1
