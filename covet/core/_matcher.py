"""The router's segment tree and the matcher function compiled from it.

Static paths are found with one dict lookup. Everything else goes through
a tree of path segments, compiled into Python source on first use: literal
children first, then typed parameters, then ``str`` parameters, then
``path`` (rest of the path), backtracking when a branch fails. The path is
split on its raw (still percent-encoded) slashes and each segment decoded
once, so ``%2F`` inside a segment never becomes a new segment.
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ._codegen import Emitter
from ._paths import Pattern, decode_segment
from .converters import Converter, IntConverter, StringConverter, UUIDConverter, load_uuid

__all__ = ["Node", "compile_tree", "collect_methods"]


class Node:
    """One position in the segment tree: its literal, parameter and rest-of-path children, and its routes."""

    __slots__ = ("static", "dynamic", "catchall", "routes")

    def __init__(self) -> None:
        self.static = {}
        self.dynamic = []   # [(key, matcher, node)] sorted by priority
        self.catchall = None  # (converter, node)
        self.routes = None  # {method: Route}


# Nodes with more static children than this dispatch through a dict of
# generated sub-functions instead of a chain of string compares.
_FANOUT = 4


class _Codegen:
    """Compile the segment tree into the source of one matcher function.

    PERF (falcon's compiled router does the same): nested ``if`` blocks
    replace the interpreted walk; falling out of a block is backtracking, so
    the precedence is the walk's: literal, then typed, then str, then path.
    The source is kept on the router as ``matcher_source`` for inspection.
    """

    def __init__(self):
        self.ns = {"_dec": decode_segment, "_fromhex": bytes.fromhex, "_from_bytes": int.from_bytes}
        self.uuid_bytes = {}  # segment variable -> its bytes, where a UUID test made them
        self.functions = []  # Emitters, one per generated function
        self.counter = 0

    def name(self, prefix, obj):
        self.counter += 1
        key = "%s%d" % (prefix, self.counter)
        self.ns[key] = obj
        return key

    def carried(self, captured):
        """The locals a sub-function needs from its caller: the captured values and their UUID bytes."""
        return "".join(", " + c for c in captured + [self.uuid_bytes[c] for c in captured if c in self.uuid_bytes])

    def function(self, fname, node, depth, captured):
        e = Emitter()
        with e.block("def %s(segs, n, method%s)" % (fname, self.carried(captured))):
            self.node(node, depth, captured, e)
            e.line("return None")
        self.functions.append(e)

    def pick(self, routes, e, captured, extra=None):
        r = self.name("R", routes)
        vals = list(captured) + ([extra] if extra else [])
        e.line("r = %s.get(method)" % r)
        with e.block("if r is None and method == 'HEAD'"):
            e.line("r = %s.get('GET')" % r)
        with e.block("if r is not None"):
            self.build(set(routes.values()), vals, e)

    def build(self, routes, vals, e):
        """Return ``r, {name: converted value}``, the conversions inlined.

        PERF: one call and one tuple fewer than handing raw values to
        ``route.build_params``. Inlined only when every route at the leaf
        names its parameters alike and uses the same converter objects.
        """
        first = next(iter(routes))
        if any(r.param_names != first.param_names or
               any(a is not b for a, b in zip(r.param_convs, first.param_convs)) for r in routes):
            e.line("return r, r.build_params((%s))" % "".join(v + ", " for v in vals))
            return
        items = []
        for name, conv, val in zip(first.param_names, first.param_convs, vals):
            if conv.identity:
                expr = val
            elif type(conv) is IntConverter:
                expr = "int(%s)" % val
            elif type(conv) is UUIDConverter:  # uuid_from_hex, inlined
                self.ns["_UUID"] = load_uuid()  # imported with the first UUID route, not at start-up
                b = self.uuid_bytes.get(val)
                # PERF: the matcher's UUID test already made the 16 bytes; one C call makes the int
                value = ("_from_bytes(%s, 'big')" % b) if b else ("int(%s.replace('-', ''), 16)" % val)
                expr = "_UUID(int=%s)" % value
            else:
                expr = "%s(%s)" % (self.name("C", conv.convert), val)
            items.append("%r: %s" % (name, expr))
        e.line("return r, {%s}" % ", ".join(items))

    def node(self, node, i, captured, e):
        if node.routes:
            with e.block("if n == %d" % (i + 1)):
                self.pick(node.routes, e, captured)
        catchall = node.catchall
        if catchall is not None and catchall[1].routes:
            # the rest of the path, possibly empty
            with e.block("if n == %d" % (i + 1)):
                self.pick(catchall[1].routes, e, captured, "''")
        if not (node.static or node.dynamic or (catchall is not None and catchall[1].routes)):
            return
        with e.block("if n > %d" % (i + 1)):
            self.children(node, i, captured, e)

    def children(self, node, i, captured, e):
        """Segment ``i + 1`` exists: try the literals, then the parameters, then the rest of the path."""
        # Segments arrive decoded. A literal never holds '/', so a segment
        # that does (from %2F) can never equal one: no extra check needed.
        s = "s%d" % i
        e.line("%s = segs[%d]" % (s, i + 1))
        if len(node.static) > _FANOUT:
            table = {}
            for key, child in node.static.items():
                fname = self.name("F", None)
                self.function(fname, child, i + 1, captured)
                table[key] = fname
            t = self.name("T", table)  # names now; functions bound after exec
            e.line("f = %s.get(%s)" % (t, s))
            with e.block("if f is not None"):
                e.line("found = f(segs, n, method%s)" % self.carried(captured))
                with e.block("if found is not None"):
                    e.line("return found")
        else:
            for key, child in node.static.items():
                with e.block("if %s == %r" % (s, key)):
                    self.node(child, i + 1, captured, e)
        for _key, matcher, child in node.dynamic:
            if isinstance(matcher, Pattern):
                m = self.name("P", matcher.match)
                g = "g%d" % i
                e.line("%s = %s(%s)" % (g, m, s))
                with e.block("if %s is not None" % g):
                    # a pattern's groups become locals so that deeper code can name them
                    names = []
                    for k in range(len(matcher.convs)):
                        nm = "q%d_%d" % (i, k)
                        e.line("%s = %s[%d]" % (nm, g, k))
                        names.append(nm)
                    self.node(child, i + 1, captured + names, e)
            elif type(matcher) is UUIDConverter:
                # PERF: the same language as the regex, in half its time:
                # hyphens in place, and bytes.fromhex() taking exactly 16
                # bytes from the rest (it refuses the sign, underscore, 0x
                # and non-ASCII digits that int(..., 16) would take, and
                # whitespace or extra hyphens leave fewer than 16 bytes).
                b = "b%d" % i
                with e.block("if len(%s) == 36 and %s[8] == %s[13] == %s[18] == %s[23] == '-'" % ((s,) * 5)):
                    with e.block("try"):
                        e.line("%s = _fromhex(%s.replace('-', ''))" % (b, s))
                    with e.block("except ValueError"):
                        e.line("%s = b''" % b)
                    with e.block("if len(%s) == 16" % b):
                        self.uuid_bytes[s] = b
                        self.node(child, i + 1, captured + [s], e)
                        del self.uuid_bytes[s]
            else:
                if isinstance(matcher, StringConverter):
                    test = s
                elif type(matcher) is IntConverter:
                    test = "%s.isdigit() and %s.isascii() and len(%s) <= 30" % (s, s, s)
                elif type(matcher).matches is Converter.matches:
                    test = "%s(%s) is not None" % (self.name("M", matcher._match), s)  # the regex itself
                else:
                    test = "%s(%s)" % (self.name("M", matcher.matches), s)
                with e.block("if %s" % test):
                    self.node(child, i + 1, captured + [s], e)
        catchall = node.catchall
        if catchall is not None and catchall[1].routes:
            rest = "rest%d" % i
            e.line("%s = '/'.join(segs[%d:])" % (rest, i + 1))
            self.pick(catchall[1].routes, e, captured, rest)


def compile_tree(root: Node, static: Dict[str, Dict[str, Any]],
                 miss: Callable[[List[str]], Tuple[None, Optional[Set[str]]]]) -> Tuple[Callable[[str, str], Any], str]:
    """(match(method, raw_path) -> (route, params) or a miss, its source).

    ``static`` maps raw paths to ``{method: Route}``; ``miss(segments)``
    answers when no route fits (405's Allow, or nothing).
    """
    cg = _Codegen()
    cg.ns["_static_get"] = static.get
    cg.ns["_miss"] = miss
    e = Emitter()
    with e.block("def match(method, raw_path)"):
        e.line("# '*' (OPTIONS *) or garbage: never a route, never the root")
        with e.block("if raw_path[:1] != '/'"):
            e.line("return None, None")
        with e.block("if '%' not in raw_path"):
            e.line("methods = _static_get(raw_path)")
            with e.block("if methods is not None"):
                e.line("r = methods.get(method)")
                with e.block("if r is None and method == 'HEAD'"):
                    e.line("r = methods.get('GET')")
                with e.block("if r is not None"):
                    e.line("return r, {}")
            e.line("segs = raw = raw_path.split('/')")
        # Percent-decoding happens once per segment, after splitting on the
        # raw '/', so that %2F stays inside its segment; segs[0] is the empty
        # string before the first slash.
        with e.block("else"):
            e.line("raw = raw_path.split('/')")
            e.line("segs = [_dec(x) for x in raw]")
        e.line("n = len(segs)")
        with e.block("try"):  # an empty router leaves the block to the emitter's pass
            cg.node(root, 0, [], e)
        with e.block("except ValueError"):
            e.line("# a custom converter's regex matched but convert() refused")
            e.line("return None, None")
        e.line("return _miss(raw)")
    cg.functions.append(e)
    source = "\n".join(f.source() for f in reversed(cg.functions))
    exec(compile(source, "<covet router>", "exec"), cg.ns)
    for key, value in list(cg.ns.items()):
        if key.startswith("T") and isinstance(value, dict):
            for seg, fname in list(value.items()):
                value[seg] = cg.ns[fname]
    return cg.ns["match"], source


def collect_methods(node: Node, segs: List[str], i: int, allowed: Set[str]) -> None:
    """Every method any route matching this path answers (for 405's Allow)."""
    if i == len(segs):
        if node.routes:
            allowed.update(node.routes)
        if node.catchall is not None and node.catchall[1].routes:
            allowed.update(node.catchall[1].routes)
        return
    decoded = decode_segment(segs[i])
    child = node.static.get(decoded)
    if child is not None and "/" not in decoded:
        collect_methods(child, segs, i + 1, allowed)
    for _key, matcher, child in node.dynamic:
        ok = matcher.match(decoded) is not None if isinstance(matcher, Pattern) else matcher.matches(decoded)
        if ok:
            collect_methods(child, segs, i + 1, allowed)
    if node.catchall is not None and node.catchall[1].routes:
        allowed.update(node.catchall[1].routes)
