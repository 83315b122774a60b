"""The schema compiler's applicators: ``$ref``, anyOf, oneOf, not, if/then/else (allOf is
inlined by the compiler itself)."""
from typing import Any, List, Optional

from ._errors import SchemaError
from ._keywords import active
from ._messages import type_names
from ._source import Fn, St

__all__ = ["ApplicatorKeywords"]

# Schemas are inlined up to this many times each; past it they become a shared function.
_MAX_INLINE = 4


class ApplicatorKeywords:
    """Mixin of the schema compiler: code for the keywords that apply other schemas.

    Example: ``{"anyOf": [{"type": "string"}, {"type": "null"}]}`` becomes one expression,
    ``ok = (type(x) is str ...) or (x is None)``, and an error when it is false.
    """

    def gen_ref(self, fn: Fn, ref: Any, x: str, path: List[str], errs: str, st: St) -> None:
        if st.embedded:
            raise SchemaError("$ref %r sits inside a subschema with its own $id; "
                              "embedded schema resources are not supported" % (ref,))
        pointer, target = self.resolve(ref)
        self.check_cycle(pointer)
        if pointer in st.stack or self.inlined.get(pointer, 0) >= _MAX_INLINE:
            self.call(fn, self.function_for(pointer, target), target, x, path, errs, st)
            return
        self.inlined[pointer] = self.inlined.get(pointer, 0) + 1
        self.gen(fn, target, x, path, errs, st.push(pointer))

    def combined_type_msg(self, subs: list) -> Optional[str]:
        names: List[str] = []
        for sub in subs:
            declared = self.declared_types(sub)
            if declared is None:
                return None
            names.extend(t for t in declared if t not in names)
        return "must be of type " + type_names(names)

    def gen_any_of(self, fn: Fn, subs: list, x: str, path: List[str], errs: str, st: St) -> None:
        if len(subs) == 1:
            self.gen(fn, subs[0], x, path, errs, st)
            return
        tests = [self.pure(sub, x) for sub in subs]
        changes = [self.changes(sub) for sub in subs]
        order = list(range(len(subs)))
        if not any(changes):  # order does not matter when no branch rewrites the value
            order.sort(key=lambda i: tests[i] is None)
        ok = self.var("ok")
        lists: List[str] = []
        leading = []
        while order and tests[order[0]] is not None:
            leading.append(tests[order.pop(0)])
        fn.line("%s = %s" % (ok, " or ".join("(%s)" % t for t in leading) if leading else "False"))
        for i in order:
            if tests[i] is not None:
                with fn.block("if not %s and (%s)" % (ok, tests[i])):
                    fn.line("%s = True" % ok)
                continue
            with fn.block("if not %s" % ok):
                found, value = self.branch(fn, subs[i], x, path, st)
                with fn.block("if not %s" % found):
                    fn.line("%s = True" % ok)
                    if changes[i]:
                        fn.line("%s = %s" % (x, value))
            lists.append(found)
        with fn.block("if not %s" % ok):
            fn.line("_branch_fail(%s, %s, [%s], %r, %r, 'anyOf')" % (
                errs, self.loc(path), ", ".join(lists), self.combined_type_msg(subs),
                "must match at least one of the allowed schemas"))

    def gen_one_of(self, fn: Fn, subs: list, x: str, path: List[str], errs: str, st: St) -> None:
        count = self.var("n")
        fn.line("%s = 0" % count)
        changes = any(self.changes(sub) for sub in subs)
        picked = self.var("v") if changes else None
        if picked:
            fn.line("%s = %s" % (picked, x))
        lists = []
        for sub in subs:
            test = self.pure(sub, x)
            if test is not None:
                with fn.block("if %s" % test):
                    fn.line("%s += 1" % count)
                continue
            found, value = self.branch(fn, sub, x, path, st)
            with fn.block("if not %s" % found):
                fn.line("%s += 1" % count)
                if picked:
                    fn.line("%s = %s" % (picked, value))
            lists.append(found)
        with fn.block("if %s == 0" % count):
            fn.line("_branch_fail(%s, %s, [%s], %r, %r, 'oneOf')" % (
                errs, self.loc(path), ", ".join(lists), self.combined_type_msg(subs),
                "must match exactly one of the allowed schemas"))
        with fn.block("elif %s > 1" % count):
            self.err(fn, errs, path, "oneOf",
                     "'must match exactly one of the allowed schemas, but matched %%d' %% %s" % count, msg_is_code=True)
        if picked:
            with fn.block("else"):
                fn.line("%s = %s" % (x, picked))

    def gen_not(self, fn: Fn, sub: Any, x: str, path: List[str], errs: str, st: St) -> None:
        test = self.pure(sub, x)
        if test is None:
            found, _ = self.branch(fn, sub, x, path, st)
            test = "not " + found
        with fn.block("if " + test):
            self.err(fn, errs, path, "not", "must not match the excluded schema")

    def gen_if(self, fn: Fn, s: dict, x: str, path: List[str], errs: str, st: St) -> None:
        then, otherwise = s.get("then", True), s.get("else", True)
        if not active(then) and not active(otherwise):
            return
        test = self.pure(s["if"], x)
        if test is None:
            found, _ = self.branch(fn, s["if"], x, path, st)
            test = "not " + found
        if active(then):
            with fn.block("if " + test):
                self.gen(fn, then, x, path, errs, st)
            if active(otherwise):
                with fn.block("else"):
                    self.gen(fn, otherwise, x, path, errs, st)
        else:
            with fn.block("if not (%s)" % test):
                self.gen(fn, otherwise, x, path, errs, st)
