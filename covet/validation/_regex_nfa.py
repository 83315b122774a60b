"""A pattern tree as an automaton: a linear-time search, and the proof that ``re`` is safe.

``Program`` is a Thompson NFA (K. Thompson, "Regular expression search algorithm", 1968;
the simulation RE2 runs). ``Program.search`` keeps the set of live states while it reads
the string once, so it costs at most len(value) x len(program) steps whatever the pattern.

``re`` backtracks, which is exponential on patterns such as ``^(a+)+$`` (CWE-1333).
``backtracking_is_linear`` proves a pattern safe for it: from every point of the
pattern, at most one way forward can consume any given character, so the backtracker
never holds two live choices; and a search is anchored at the start, or consumes a
bounded number of characters from each start position, or never fails once an attempt
has read a character (so no start position costs more than a failed first step).
"""
import re
from typing import Callable, Dict, List, Optional, Tuple

from ._regex_syntax import Alt, Assertion, Cat, CharItem, Empty, Node, Repeat

__all__ = ["MAX_PROGRAM", "Program", "backtracking_is_linear", "build_program"]

# Instructions of one pattern's automaton: search costs value length x this, so a
# pattern such as "(a|b){1,5000}x{1,5000}" that needs more is refused at compile time.
MAX_PROGRAM = 20_000
# Ways forward from one point of the pattern that the linearity proof enumerates before
# it gives up (the pattern then runs on the automaton, which is always safe).
_MAX_PATHS = 256

_CHAR, _SPLIT, _ASSERT, _MATCH = 0, 1, 2, 3
# Repeat counts the proof looks at: x{5,9} shows the same junctions (mandatory to
# mandatory, to optional, optional to optional, to what follows) as x{2,4}.
_PROOF_COUNT = 2
_CACHE_CHARS = 4096


class _TooLarge(Exception):
    pass


def _char_test(item: CharItem) -> Callable[[str], bool]:
    if item.chars is not None and len(item.chars) == 1:
        return next(iter(item.chars)).__eq__
    fullmatch = re.compile(item.text, item.flags).fullmatch
    cache: Dict[str, bool] = {}

    def test(char: str) -> bool:
        known = cache.get(char)
        if known is None:
            known = fullmatch(char) is not None
            if len(cache) < _CACHE_CHARS:  # bounded: a hostile value cannot grow it
                cache[char] = known
        return known
    return test


def _assert_test(node: Assertion) -> Callable[[str, int], bool]:
    if node.at_start_only:
        return lambda s, i: i == 0
    if node.at_end_only:
        return lambda s, i: i == len(s)
    # match(s, i) sees the characters around i, as the whole pattern would
    match = re.compile(node.text, node.flags).match
    return lambda s, i: match(s, i) is not None


class Program:
    """A Thompson automaton of a pattern tree, built once; ``search(value)`` in linear time.

    Example: ``Program(parse("^(a+)+$", flags)).search("a" * 50 + "!")`` is None at once.
    """

    def __init__(self, tree: Node, proof_only: bool = False, limit: int = MAX_PROGRAM) -> None:
        self.ops: List[int] = []
        self.arg: List[object] = []
        self.nxt: List[int] = []
        self.alt: List[int] = []
        self.proof_only, self.limit = proof_only, limit
        self.nodes: List[object] = []  # the tree item of each CHAR/ASSERT instruction
        match = self._emit(_MATCH, None, -1)
        self.start = self._compile(tree, match)
        self.size = len(self.ops)

    def _emit(self, op: int, arg: object, nxt: int, alt: int = -1) -> int:
        if len(self.ops) >= self.limit:
            raise _TooLarge()
        self.ops.append(op)
        self.nodes.append(arg)
        if not self.proof_only and op == _CHAR:
            arg = _char_test(arg)  # type: ignore[arg-type]
        elif not self.proof_only and op == _ASSERT:
            arg = _assert_test(arg)  # type: ignore[arg-type]
        self.arg.append(arg)
        self.nxt.append(nxt)
        self.alt.append(alt)
        return len(self.ops) - 1

    def _compile(self, node: Node, nxt: int) -> int:
        if isinstance(node, CharItem):
            return self._emit(_CHAR, node, nxt)
        if isinstance(node, Assertion):
            return self._emit(_ASSERT, node, nxt)
        if isinstance(node, Cat):
            for item in reversed(node.items):
                nxt = self._compile(item, nxt)
            return nxt
        if isinstance(node, Alt):
            starts = [self._compile(branch, nxt) for branch in node.branches]
            pc = starts[-1]
            for start in reversed(starts[:-1]):
                pc = self._emit(_SPLIT, None, start, pc)
            return pc
        if isinstance(node, Repeat):
            low, high = node.low, node.high
            if self.proof_only:
                low = min(low, _PROOF_COUNT)
                high = None if high is None else low + min(high - node.low, _PROOF_COUNT)
            if high is None:
                loop = self._emit(_SPLIT, None, -1, nxt)
                self.nxt[loop] = self._compile(node.body, loop)
                pc = loop
            else:
                pc = nxt
                for _ in range(high - low):
                    pc = self._emit(_SPLIT, None, self._compile(node.body, pc), nxt)
            for _ in range(low):
                pc = self._compile(node.body, pc)
            return pc
        assert isinstance(node, Empty)
        return nxt

    def search(self, value: str) -> Optional[bool]:
        """True when the pattern matches somewhere in ``value``, else None (as ``re.search``)."""
        ops, arg, nxt, alt, start = self.ops, self.arg, self.nxt, self.alt, self.start
        seen = [-1] * len(ops)
        end = len(value)
        current: List[int] = []
        for i in range(end + 1):
            # every state reached at i; a new attempt starts at each position (search)
            stack = current + [start] if i else [start]
            chars: List[int] = []
            while stack:
                pc = stack.pop()
                if seen[pc] == i:
                    continue
                seen[pc] = i
                op = ops[pc]
                if op == _CHAR:
                    chars.append(pc)
                elif op == _SPLIT:
                    stack.append(alt[pc])
                    stack.append(nxt[pc])
                elif op == _ASSERT:
                    if arg[pc](value, i):  # type: ignore[operator]
                        stack.append(nxt[pc])
                else:
                    return True
            if i == end:
                break
            char = value[i]
            current = [nxt[pc] for pc in chars if arg[pc](char)]  # type: ignore[operator]
        return None


def _ways_forward(prog: Program, pc: int, after_char: bool) -> Optional[List[Tuple[int, bool, bool]]]:
    """Every epsilon path from ``pc`` to a character test or the end, as (instruction, passed
    a start anchor, passed no assertion at all); None past _MAX_PATHS. A path that loops
    back on itself is a repeat of an empty iteration, which re stops, and one through an
    impossible anchor is dropped."""
    out: List[Tuple[int, bool, bool]] = []
    stack: List[Tuple[int, frozenset, bool, bool, bool]] = [(pc, frozenset(), False, False, True)]
    steps = 0
    while stack:
        steps += 1
        if steps > _MAX_PATHS * 8 or len(out) > _MAX_PATHS:
            return None
        pc, on_path, anchored, at_end, free = stack.pop()
        if pc in on_path:
            continue
        on_path = on_path | {pc}
        op = prog.ops[pc]
        if op == _CHAR:
            if not at_end:
                out.append((pc, anchored, free))
        elif op == _MATCH:
            out.append((pc, anchored, free))
        elif op == _SPLIT:
            stack.append((prog.alt[pc], on_path, anchored, at_end, free))
            stack.append((prog.nxt[pc], on_path, anchored, at_end, free))
        else:
            node = prog.nodes[pc]
            if node.at_start_only and after_char:  # type: ignore[union-attr]
                continue
            stack.append((prog.nxt[pc], on_path, anchored or node.at_start_only,  # type: ignore[union-attr]
                          at_end or node.at_end_only, False))  # type: ignore[union-attr]
    return out


def _disjoint(a: CharItem, b: CharItem, tests: Dict[int, Callable[[str], bool]]) -> bool:
    if a.chars is not None:
        test = tests.setdefault(id(b), _char_test(b))
        return not any(test(c) for c in a.chars)
    if b.chars is not None:
        test = tests.setdefault(id(a), _char_test(a))
        return not any(test(c) for c in b.chars)
    return False


def _bounded(node: Node) -> bool:
    if isinstance(node, Repeat):
        return node.high is not None and _bounded(node.body)
    if isinstance(node, Cat):
        return all(_bounded(item) for item in node.items)
    if isinstance(node, Alt):
        return all(_bounded(branch) for branch in node.branches)
    return True


def backtracking_is_linear(tree: Node) -> bool:
    """Whether ``re.search`` runs this pattern tree in time linear in the value (see module).

    Example: True for ``^[a-z]+-[0-9]+$``, False for ``^(a+)+$`` and for ``[0-9]+x``
    (unanchored: every start position could consume the rest of the value).
    """
    try:
        prog = Program(tree, proof_only=True)
    except _TooLarge:
        return False
    points = [(prog.start, False)]
    points += [(prog.nxt[pc], True) for pc in range(prog.size) if prog.ops[pc] == _CHAR]
    tests: Dict[int, Callable[[str], bool]] = {}
    anchored = True
    # an attempt that has read a character and can always stop with a match never fails
    never_fails_late = True
    for point, after_char in points:
        ways = _ways_forward(prog, point, after_char)
        if ways is None:
            return False
        if not after_char:
            anchored = all(flag for _, flag, _ in ways)
        elif not any(prog.ops[pc] == _MATCH and free for pc, _, free in ways):
            never_fails_late = False
        consuming = [pc for pc, _, _ in ways if prog.ops[pc] == _CHAR]
        for i, first in enumerate(consuming):
            for second in consuming[i + 1:]:
                if first == second or not _disjoint(prog.nodes[first], prog.nodes[second], tests):  # type: ignore
                    return False
    return anchored or never_fails_late or _bounded(tree)


def build_program(tree: Node) -> Optional[Program]:
    """The automaton of ``tree``, or None when it would exceed MAX_PROGRAM instructions."""
    try:
        return Program(tree)
    except _TooLarge:
        return None
