"""The schema compiler's object keywords: properties and their defaults, required,
patternProperties, additionalProperties, propertyNames, sizes and dependencies."""
import math
from contextlib import nullcontext
from typing import Any, List, Optional

from ._errors import SchemaError
from ._keywords import MISSING, active, read_count
from ._messages import plural
from ._patterns import pattern_search
from ._source import Fn, St

__all__ = ["ObjectKeywords"]


def _literal(value: Any) -> Optional[str]:
    """Python source that builds a fresh copy of a JSON value, or None if it is not plain JSON."""
    if value is None or value is True or value is False or type(value) in (str, int):
        return repr(value)
    if type(value) is float:
        return repr(value) if math.isfinite(value) else None
    if type(value) is list:
        parts = [_literal(item) for item in value]
        return None if None in parts else "[" + "".join(p + ", " for p in parts) + "]"
    if type(value) is dict and all(type(key) is str for key in value):
        parts = [_literal(item) for item in value.values()]
        if None in parts:
            return None
        return "{" + "".join("%r: %s, " % (k, p) for k, p in zip(value, parts)) + "}"
    return None


class ObjectKeywords:
    """Mixin of the schema compiler: code for the object keywords.

    Example: ``{"required": ["id"]}`` becomes ``if 'id' not in x:`` appending a "required"
    error located at ``id``.
    """

    def gen_object(self, fn: Fn, s: dict, x: str, path: List[str], errs: str, st: St) -> None:
        props = s.get("properties", {})
        if not isinstance(props, dict):
            raise SchemaError("properties must be an object, got %r" % (props,))
        required = s.get("required", [])
        if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
            raise SchemaError("required must be a list of strings, got %r" % (required,))
        patterns = s.get("patternProperties", {})
        if not isinstance(patterns, dict):
            raise SchemaError("patternProperties must be an object, got %r" % (patterns,))
        extra = s.get("additionalProperties", MISSING)
        names = s.get("propertyNames", True)
        result = None
        defaults = {}
        if self.defaults:
            defaults = {k: self.default_of(sub) for k, sub in props.items()}
            defaults = {k: v for k, v in defaults.items() if v is not MISSING and k not in required}
        member_subs = list(props.values()) + list(patterns.values()) + ([] if extra is MISSING else [extra])
        if defaults or any(self.changes(sub) for sub in member_subs):
            result = self.var("r")
            fn.line("%s = %s" % (result, x))
        need = set(required)
        for key, sub in props.items():
            if not isinstance(key, str):
                raise SchemaError("property names must be strings, got %r" % (key,))
            kc = repr(key)
            if not active(sub):
                if key in need:
                    with fn.block("if %s not in %s" % (kc, x)):
                        self.err(fn, errs, path + [kc], "required", "field required")
                elif key in defaults:
                    with fn.block("if %s not in %s" % (kc, x)):
                        self.fill_default(fn, result, x, kc, defaults[key])
                continue
            with fn.block("if %s in %s" % (kc, x)):
                item = self.var("v")
                fn.line("%s = %s[%s]" % (item, x, kc))
                self.gen_member(fn, sub, x, item, kc, path, errs, st.descend(), result, "dict")
            if key in need:
                with fn.block("else"):
                    self.err(fn, errs, path + [kc], "required", "field required")
            elif key in defaults:
                with fn.block("else"):
                    self.fill_default(fn, result, x, kc, defaults[key])
        for key in required:
            if key not in props:
                with fn.block("if %r not in %s" % (key, x)):
                    self.err(fn, errs, path + [repr(key)], "required", "field required")
        if result is not None:
            fn.line("%s = %s" % (x, result))
        if patterns or extra is not MISSING or active(names):
            self.gen_members_loop(fn, s, props, patterns, extra, names, x, path, errs, st, result)
        for keyword, op, noun in (("minProperties", "<", "at least"), ("maxProperties", ">", "at most")):
            if keyword in s:
                n = read_count(s[keyword], keyword)
                with fn.block("if len(%s) %s %d" % (x, op, n)):
                    self.err(fn, errs, path, keyword, "must have %s %s" % (noun, plural(n, "property", "properties")))
        dependent = s.get("dependentRequired", {})
        if not isinstance(dependent, dict):
            raise SchemaError("dependentRequired must be an object, got %r" % (dependent,))
        for key, needs in dependent.items():
            if not isinstance(needs, list) or not all(isinstance(k, str) for k in needs):
                raise SchemaError("dependentRequired values must be lists of strings, got %r" % (needs,))
            if not needs:
                continue
            with fn.block("if %r in %s" % (key, x)):
                for other in needs:
                    with fn.block("if %r not in %s" % (other, x)):
                        self.err(fn, errs, path + [repr(other)], "dependentRequired",
                                 "field required when %r is present" % key)
        dependent_schemas = s.get("dependentSchemas", {})
        if not isinstance(dependent_schemas, dict):
            raise SchemaError("dependentSchemas must be an object, got %r" % (dependent_schemas,))
        for key, sub in dependent_schemas.items():
            if active(sub):
                with fn.block("if %r in %s" % (key, x)):
                    self.gen(fn, sub, x, path, errs, st)

    def fill_default(self, fn: Fn, result: str, x: str, key: str, value: Any) -> None:
        code = _literal(value)
        if code is None:
            code = "_deepcopy(%s)" % self.const(value)
        self.cow(fn, result, x, key, code, "dict")

    def gen_members_loop(self, fn: Fn, s: dict, props: dict, patterns: dict, extra: Any, names: Any,
                         x: str, path: List[str], errs: str, st: St, result: Optional[str]) -> None:
        compiled = [(self.const(pattern_search(p, "patternProperties key"), "P"), sub)
                    for p, sub in patterns.items()]
        changes = result is not None and (any(self.changes(sub) for _, sub in compiled)
                                          or (extra is not MISSING and self.changes(extra)))
        if changes:
            fn.line("%s = %s" % (result, x))
        only_extra = props and not compiled and not active(names)
        # PERF: with only named properties, one C-level subset test decides that no key needs a look
        guard = (fn.block("if not %s.issuperset(%s)" % (self.const(frozenset(props)), x)) if only_extra
                 else nullcontext())
        with guard, self.size_guard(fn, x, path, errs, "properties"):
            key, item = self.var("k"), self.var("v")
            with fn.block("for %s, %s in %s.items()" % (key, item, x)):
                inner = st.descend(loop=True)
                if changes:
                    original = self.var("o")
                    fn.line("%s = %s" % (original, item))
                if names is False:
                    self.err(fn, errs, path + [key], "propertyNames", "property name is not allowed")
                elif active(names):
                    found, _ = self.branch(fn, names, key, path + [key], st.descend())
                    with fn.block("if " + found):
                        self.err(fn, errs, path + [key], "propertyNames",
                                 "'invalid property name: ' + %s[0]['msg']" % found, msg_is_code=True)
                matched = None
                if compiled and extra is not MISSING:
                    matched = self.var("m")
                    fn.line("%s = False" % matched)
                for search, sub in compiled:
                    with fn.block("if type(%s) is str and %s(%s) is not None" % (key, search, key)):
                        if matched:
                            fn.line("%s = True" % matched)
                        self.gen(fn, sub, item, path + [key], errs, inner)
                if extra is not MISSING:
                    tests = []
                    if props:
                        tests.append("%s not in %s" % (key, self.const(frozenset(props))))
                    if matched:
                        tests.append("not " + matched)
                    if extra is False:
                        with fn.block("if " + (" and ".join(tests) or "True")):
                            self.err(fn, errs, path + [key], "additionalProperties", "additional property not allowed")
                    elif active(extra):
                        with fn.block("if " + (" and ".join(tests) or "True")):
                            self.gen(fn, extra, item, path + [key], errs, inner)
                if changes:
                    with fn.block("if %s is not %s" % (item, original)):
                        self.cow(fn, result, x, key, item, "dict")
        if changes:
            fn.line("%s = %s" % (x, result))
