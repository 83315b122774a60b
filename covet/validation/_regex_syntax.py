"""The structure of a schema ``pattern``: a Python ``re`` pattern read into a small tree.

Only the structure is read here (sequence, alternation, repetition, zero-width
assertions). Each single-character item (a literal, an escape, ``.``, a class) keeps
its source text and is compiled with ``re`` on its own, so what a character matches
(case folding, Unicode ``\\w``, ranges) is exactly what Python says. The pattern has
already compiled with ``re``, so the reader may assume it is well formed.

Features whose matching cannot be bounded by a linear-time automaton (backreferences,
lookaround, conditionals, atomic groups, possessive quantifiers) raise
``Unsupported``.
"""
import re
import unicodedata
from typing import FrozenSet, List, Optional, Tuple

__all__ = ["Alt", "Assertion", "Cat", "CharItem", "Empty", "MAX_FINITE_CLASS", "Node", "Repeat",
           "Unsupported", "parse"]

# Classes with at most this many characters (after expanding ranges) are kept as an
# explicit set, which lets the linearity proof show two items disjoint. Larger ones are
# only known through their matcher.
MAX_FINITE_CLASS = 4096

_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE,
              "a": re.ASCII, "u": re.UNICODE, "L": 0}
_VERBOSE_SPACE = " \t\n\r\v\f"
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_CATEGORIES = frozenset("dDwWsS")
_OCTAL = "01234567"


class Unsupported(ValueError):
    """A pattern feature that a linear-time matcher cannot run (backreference, lookaround...)."""


class Node:
    __slots__ = ()


class Empty(Node):
    __slots__ = ()


class CharItem(Node):
    """One character test: ``text`` compiled with ``flags``; ``chars`` the exact set when small."""

    __slots__ = ("text", "flags", "chars")

    def __init__(self, text: str, flags: int, chars: Optional[FrozenSet[str]]) -> None:
        self.text, self.flags = text, flags
        # a case-insensitive item matches more than its letters: only its matcher knows
        self.chars = None if flags & re.IGNORECASE else chars


class Assertion(Node):
    """A zero-width test (``^``, ``$``, ``\\A``, ``\\Z``, ``\\b``, ``\\B``) at a position."""

    __slots__ = ("text", "flags")

    def __init__(self, text: str, flags: int) -> None:
        self.text, self.flags = text, flags

    @property
    def at_start_only(self) -> bool:
        return self.text == "\\A" or self.text == "^" and not self.flags & re.MULTILINE

    @property
    def at_end_only(self) -> bool:
        return self.text == "\\Z"


class Cat(Node):
    __slots__ = ("items",)

    def __init__(self, items: List[Node]) -> None:
        self.items = items


class Alt(Node):
    __slots__ = ("branches",)

    def __init__(self, branches: List[Node]) -> None:
        self.branches = branches


class Repeat(Node):
    """``body`` at least ``low`` and at most ``high`` times (``None``: no bound)."""

    __slots__ = ("body", "low", "high")

    def __init__(self, body: Node, low: int, high: Optional[int]) -> None:
        self.body, self.low, self.high = body, low, high


def _escape_char(text: str) -> Optional[str]:
    """The one character an escape such as ``\\x41`` or ``\\.`` stands for; None for ``\\d``..."""
    kind = text[1]
    if kind in _CATEGORIES:
        return None
    if kind in "xuU":
        return chr(int(text[2:], 16))
    if kind == "N":
        return unicodedata.lookup(text[3:-1])
    if kind in _OCTAL:
        return chr(int(text[1:], 8))
    return _SIMPLE_ESCAPES.get(kind, kind)


class _Reader:
    def __init__(self, pattern: str) -> None:
        self.src, self.pos, self.n = pattern, 0, len(pattern)

    def peek(self, k: int = 0) -> str:
        return self.src[self.pos + k] if self.pos + k < self.n else ""

    def escape_text(self, in_class: bool) -> str:
        """The source of the escape at pos (pos on the backslash); pos moves past it."""
        src, i = self.src, self.pos
        kind = src[i + 1]
        end = i + 2
        if kind == "x":
            end = i + 4
        elif kind == "u":
            end = i + 6
        elif kind == "U":
            end = i + 10
        elif kind == "N":
            end = src.index("}", i) + 1
        elif kind == "0" or (in_class and kind in _OCTAL):
            while end < min(i + 4, self.n) and src[end] in _OCTAL:
                end += 1
        elif kind in "123456789":
            # as in re: three octal digits are a character, anything else a group reference
            if kind in _OCTAL and len(src[i + 2:i + 4]) == 2 and all(d in _OCTAL for d in src[i + 2:i + 4]):
                end = i + 4
            else:
                raise Unsupported("backreferences")
        self.pos = end
        return src[i:end]

    def skip_verbose(self, flags: int) -> None:
        if not flags & re.VERBOSE:
            return
        while self.pos < self.n:
            char = self.src[self.pos]
            if char in _VERBOSE_SPACE:
                self.pos += 1
            elif char == "#":
                end = self.src.find("\n", self.pos)
                self.pos = self.n if end < 0 else end + 1
            else:
                return

    def read_class(self, flags: int) -> CharItem:
        start = self.pos
        self.pos += 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        members: List[Tuple[str, str]] = []
        finite = not negated
        first = True
        while True:
            char = self.peek()
            if char == "]" and not first:
                self.pos += 1
                break
            first = False
            low = self.class_member(flags)
            if low is None:
                finite = False
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high = self.class_member(flags)
                if low is not None and high is not None:
                    members.append((low, high))
            elif low is not None:
                members.append((low, low))
        chars: Optional[FrozenSet[str]] = None
        if finite and sum(ord(b) - ord(a) + 1 for a, b in members) <= MAX_FINITE_CLASS:
            chars = frozenset(chr(c) for a, b in members for c in range(ord(a), ord(b) + 1))
        return CharItem(self.src[start:self.pos], flags, chars)

    def class_member(self, flags: int) -> Optional[str]:
        if self.peek() == "\\":
            return _escape_char(self.escape_text(True))
        self.pos += 1
        return self.src[self.pos - 1]

    def parse_alternation(self, flags: int) -> Node:
        branches = [self.parse_sequence(flags)]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.parse_sequence(flags))
        return branches[0] if len(branches) == 1 else Alt(branches)

    def parse_sequence(self, flags: int) -> Node:
        items: List[Node] = []
        while True:
            self.skip_verbose(flags)
            char = self.peek()
            if char in ("", "|", ")"):
                break
            # as in re, a quantifier applies to the last item (comments and flags are no items)
            bounds = self.read_quantifier() if items else None
            if bounds is not None:
                if self.peek() == "?":
                    self.pos += 1  # lazy: a search only asks whether any match exists
                elif self.peek() == "+":
                    raise Unsupported("possessive quantifiers")
                items[-1] = Repeat(items[-1], bounds[0], bounds[1])
                continue
            atom = self.parse_atom(flags)
            if atom is not None:
                items.append(atom)
        if not items:
            return Empty()
        return items[0] if len(items) == 1 else Cat(items)

    def read_quantifier(self) -> Optional[Tuple[int, Optional[int]]]:
        char = self.peek()
        if char in ("*", "+", "?"):
            self.pos += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        if char != "{" or self.peek(1) == "}":
            return None
        match = re.compile(r"\{([0-9]*)(?:(,)([0-9]*))?\}").match(self.src, self.pos)
        if match is None:
            return None  # a literal "{", read as an atom next
        self.pos = match.end()
        low = int(match.group(1) or 0)
        if match.group(2) is None:
            return low, low
        return low, int(match.group(3)) if match.group(3) else None

    def parse_atom(self, flags: int) -> Optional[Node]:
        src = self.src
        char = src[self.pos]
        if char == "(":
            return self.parse_group(flags)
        if char == "[":
            return self.read_class(flags)
        if char in "^$":
            self.pos += 1
            return Assertion(char, flags)
        if char == ".":
            self.pos += 1
            return CharItem(".", flags, None)
        if char == "\\":
            kind = src[self.pos + 1]
            if kind in "AZbB":
                self.pos += 2
                return Assertion("\\" + kind, flags)
            text = self.escape_text(False)
            literal = _escape_char(text)
            return CharItem(text, flags, None if literal is None else frozenset(literal))
        self.pos += 1
        return CharItem(re.escape(char), flags, frozenset(char))

    def parse_group(self, flags: int) -> Optional[Node]:
        src = self.src
        self.pos += 1
        if self.peek() != "?":
            return self.group_body(flags)
        self.pos += 1
        kind = self.peek()
        if kind == ":":
            self.pos += 1
            return self.group_body(flags)
        if kind == "P" and self.peek(1) == "<":
            self.pos = src.index(">", self.pos) + 1
            return self.group_body(flags)
        if kind == "#":
            self.pos = src.index(")", self.pos) + 1
            return None
        if kind == "P" and self.peek(1) == "=":
            raise Unsupported("backreferences")
        if kind in "=!" or kind == "<" and self.peek(1) in "=!":
            raise Unsupported("lookahead and lookbehind assertions")
        if kind == "(":
            raise Unsupported("conditional groups")
        if kind == ">":
            raise Unsupported("atomic groups")
        return self.flag_group(flags)

    def flag_group(self, flags: int) -> Optional[Node]:
        on, off, sign = 0, 0, 1
        while True:
            char = self.src[self.pos]
            self.pos += 1
            if char == "-":
                sign = -1
            elif char == ")":
                return None  # global flags: re.compile already put them in the pattern's flags
            elif char == ":":
                return self.group_body((flags | on) & ~off)
            elif sign > 0:
                on |= _FLAG_BITS[char]
                if char == "a":
                    off |= re.UNICODE  # re refuses ASCII and UNICODE together
            else:
                off |= _FLAG_BITS[char]

    def group_body(self, flags: int) -> Node:
        node = self.parse_alternation(flags)
        self.pos += 1  # the ")"
        return node


def parse(pattern: str, flags: int) -> Node:
    """The tree of ``pattern`` (already accepted by ``re.compile``, whose flags are ``flags``).

    Example: ``parse("^a+$", re.compile("^a+$").flags)`` is a Cat of an Assertion, a Repeat
    of a CharItem and an Assertion. Raises Unsupported for backreferences and lookaround.
    """
    reader = _Reader(pattern)
    node = reader.parse_alternation(flags)
    if reader.pos != reader.n:  # an unbalanced ")" cannot have compiled; be explicit anyway
        raise Unsupported("the pattern's structure at position %d" % reader.pos)
    return node
