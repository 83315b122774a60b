"""The schema compiler's array keywords: sizes, uniqueItems, prefixItems, items, contains."""
from typing import List

from ._errors import SchemaError
from ._keywords import active, read_count
from ._messages import plural
from ._source import Fn, St

__all__ = ["ArrayKeywords"]


class ArrayKeywords:
    """Mixin of the schema compiler: code for the array keywords.

    Example: ``{"items": {"type": "integer"}}`` becomes a ``for`` loop over the array that
    checks each item, its error located at the item's index.
    """

    def gen_array(self, fn: Fn, s: dict, x: str, path: List[str], errs: str, st: St) -> None:
        if "minItems" in s:
            n = read_count(s["minItems"], "minItems")
            with fn.block("if len(%s) < %d" % (x, n)):
                self.err(fn, errs, path, "minItems", "must contain at least %s" % plural(n, "item"))
        if "maxItems" in s:
            n = read_count(s["maxItems"], "maxItems")
            with fn.block("if len(%s) > %d" % (x, n)):
                self.err(fn, errs, path, "maxItems", "must contain at most %s" % plural(n, "item"))
        if s.get("uniqueItems") is True:
            dup = self.var("u")
            fn.line("%s = _dupes(%s, %d)" % (dup, x, self.max_depth))
            with fn.block("if %s is _FAIL" % dup):
                self.err(fn, errs, path, "depth", self.depth_msg())
            with fn.block("elif %s is not None" % dup):
                self.err(fn, errs, path, "uniqueItems",
                         "'must not contain duplicates (items %d and %d are equal)' % " + dup, msg_is_code=True)
        prefix = s.get("prefixItems", [])
        if not isinstance(prefix, list):
            raise SchemaError("prefixItems must be a list of schemas, got %r" % (prefix,))
        items = s.get("items", True)
        if isinstance(items, list):
            raise SchemaError("items must be a schema in draft 2020-12; use prefixItems for tuples")
        result = None
        if any(self.changes(sub) for sub in prefix) or self.changes(items):
            result = self.var("r")
            fn.line("%s = %s" % (result, x))
        for index, sub in enumerate(prefix):
            if not active(sub):
                continue
            with fn.block("if len(%s) > %d" % (x, index)):
                item = self.var("v")
                fn.line("%s = %s[%d]" % (item, x, index))
                self.gen_member(fn, sub, x, item, repr(index), path, errs, st.descend(), result, "list")
        if items is False:
            with fn.block("if len(%s) > %d" % (x, len(prefix))):
                self.err(fn, errs, path, "items", "must contain at most %s" % plural(len(prefix), "item"))
        elif active(items):
            with self.size_guard(fn, x, path, errs, "items"):
                index, item = self.var("i"), self.var("v")
                if prefix:
                    header = "for %s in range(%d, len(%s))" % (index, len(prefix), x)
                else:
                    header = "for %s, %s in enumerate(%s)" % (index, item, x)
                with fn.block(header):
                    if prefix:
                        fn.line("%s = %s[%s]" % (item, x, index))
                    self.gen_member(fn, items, x, item, index, path, errs, st.descend(loop=True), result, "list")
        if result is not None:
            fn.line("%s = %s" % (x, result))
        if "contains" in s:
            self.gen_contains(fn, s, x, path, errs, st)

    def gen_contains(self, fn: Fn, s: dict, x: str, path: List[str], errs: str, st: St) -> None:
        low = read_count(s.get("minContains", 1), "minContains")
        high = read_count(s["maxContains"], "maxContains") if "maxContains" in s else None
        if low == 0 and high is None:
            return
        count, item = self.var("n"), self.var("v")
        fn.line("%s = 0" % count)
        with self.size_guard(fn, x, path, errs, "items"), fn.block("for %s in %s" % (item, x)):
            test = self.pure(s["contains"], item)
            if test is None:
                found = self.var("e")
                fn.line("%s = []" % found)
                self.gen(fn, s["contains"], item, path, found, st.descend(loop=True))
                test = "not " + found
            with fn.block("if " + test):
                fn.line("%s += 1" % count)
        if low > 0:
            with fn.block("if %s < %d" % (count, low)):
                self.err(fn, errs, path, "minContains" if "minContains" in s else "contains",
                         "must contain at least %s matching the contains schema" % plural(low, "item"))
        if high is not None:
            with fn.block("if %s > %d" % (count, high)):
                self.err(fn, errs, path, "maxContains",
                         "must contain at most %s matching the contains schema" % plural(high, "item"))
