"""JSON Schema (draft 2020-12 subset) compiled to Python source, once per schema.

``compile_schema(schema)`` walks the schema a single time and writes one
Python function that checks an instance with straight-line code: no schema
is looked at while validating. Nested subschemas are inlined; a ``$ref``
that recurses (``#``, a tree of ``$defs``) or one used many times becomes
its own function. The source stays inspectable as ``validator.source``.

On the valid path the generated code only tests and reads; error dicts and
their ``loc`` lists are built only when something fails. Values are
replaced (never mutated) when a default is filled in or, in coerce mode, a
string is converted: the container holding them is copied on first write.

The keyword families are written by mixins beside this module (numbers and strings,
arrays, objects, applicators) and the schema is read by another (``$ref`` resolution,
types, defaults); the helpers the generated code calls live in ``_runtime``.
"""
from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Dict, List, Optional, Tuple

from ..core._codegen import Block, Emitter
from ._compile_applicators import ApplicatorKeywords
from ._compile_arrays import ArrayKeywords
from ._compile_objects import ObjectKeywords
from ._compile_reading import SchemaReading, has_property_default
from ._compile_scalars import ScalarKeywords
from ._errors import SchemaError
from ._keywords import ACTIVE, ARRAY_KW, COERCIBLE, NUMERIC_KW, OBJECT_KW, STRING_KW, UNSUPPORTED
from ._messages import enum_msg, json_text, type_names
from ._runtime import RUNTIME, canon
from ._source import Fn, St, type_test

__all__ = ["DEFAULT_MAX_DEPTH", "DEFAULT_MAX_ITEMS", "DEFAULT_MAX_STRING_LENGTH", "compile_schema"]

# Nesting levels of objects/arrays the validator follows through a recursive $ref (and
# that enum/const/uniqueItems compare) before answering with a "depth" error. Pydantic and
# JSON parsers stop hostile nesting in the same range; 64 levels fit any real document and
# keep the interpreter stack far from its 1000-frame limit (a RecursionError never escapes).
DEFAULT_MAX_DEPTH = 64
# Items of one array (or properties of one object) that the validator iterates over. Work is
# linear, but a body with millions of elements should fail fast with a clear "size" error.
DEFAULT_MAX_ITEMS = 100_000
# Characters of a string checked against a ``pattern`` or ``format``: every check is linear
# (_patterns.pattern_search), but its cost still grows with the input (cf. CVE-2020-5236), so
# very long strings are refused before matching.
DEFAULT_MAX_STRING_LENGTH = 100_000

# Python allows 100 indentation levels and 20 nested loops per function: split well before.
_MAX_LEVEL = 40
_MAX_LOOPS = 12


class _Compiler(ScalarKeywords, ArrayKeywords, ObjectKeywords, ApplicatorKeywords, SchemaReading):
    def __init__(self, root: Any, coerce: bool, defaults: bool, max_depth: int, max_items: int,
                 max_string_length: int) -> None:
        self.root = root
        self.coerce = coerce
        self.defaults = defaults
        self.max_depth = max_depth
        self.max_items = max_items
        self.max_string = max_string_length
        self.ns: Dict[str, Any] = dict(RUNTIME)
        self.counter = 0
        self.done: List[Fn] = []
        self.queue: List[Tuple[Fn, Any, St]] = []
        self.functions: Dict[Any, str] = {}
        self.inlined: Dict[str, int] = {}
        self.cycle_checked: set = set()
        self.change_memo: Dict[int, bool] = {}
        self.keep: List[Any] = []  # schemas keyed by id() stay alive while compiling
        self.any_change = coerce or (defaults and has_property_default(root))

    # -- names
    def var(self, prefix: str) -> str:
        self.counter += 1
        return "%s%d" % (prefix, self.counter)

    def const(self, value: Any, prefix: str = "C") -> str:
        name = self.var(prefix)
        self.ns[name] = value
        return name

    # -- entry
    def compile(self) -> Callable[[Any], Any]:
        fn = Fn("validate", root=True)
        self.gen(fn, self.root, "x", [], "errs", St())
        while self.queue:
            sub, schema, st = self.queue.pop(0)
            with sub.block("if depth > %d" % self.max_depth):
                sub.line("errs.append({'loc': [*path], 'msg': %r, 'type': 'depth'})" % self.depth_msg())
                sub.line("return x")
            self.gen(sub, schema, "x", ["*path"], "errs", st)
            sub.line("return x")
            self.done.append(sub)
        module = Emitter()
        for sub in self.done:
            with module.block("def %s(x, errs, path, depth)" % sub.name):
                module.extend(sub.code)
        with module.block("def validate(x)"):
            module.line("errs = []")
            with module.block("try"):
                module.extend(fn.code)
            with module.block("except RecursionError"):
                module.line("errs.append({'loc': [], 'msg': %r, 'type': 'depth'})" % self.depth_msg())
            with module.block("if errs"):
                module.line("raise ValidationError(errs)")
            module.line("return x")
        source = module.source()
        exec(compile(source, "<covet.validation schema>", "exec"), self.ns)
        validator = self.ns["validate"]
        validator.source = source
        validator.schema = self.root
        return validator

    def depth_msg(self) -> str:
        return "nesting is deeper than the limit of %d levels" % self.max_depth

    # -- helpers for emitted code
    def err(self, fn: Fn, errs: str, path: List[str], keyword: str, msg: str, msg_is_code: bool = False) -> None:
        fn.line("%s.append({'loc': [%s], 'msg': %s, 'type': %r})"
                % (errs, ", ".join(path), msg if msg_is_code else repr(msg), keyword))

    def loc(self, path: List[str]) -> str:
        return "[%s]" % ", ".join(path)

    def cow(self, fn: Fn, result: str, x: str, key: str, value: str, kind: str) -> None:
        """Copy-on-write: the first changed member copies the container, never the input itself."""
        with fn.block("if %s is %s" % (result, x)):
            fn.line("%s = %s(%s)" % (result, kind, x))
        fn.line("%s[%s] = %s" % (result, key, value))

    # -- used by several keyword families
    def size_guard(self, fn: Fn, x: str, path: List[str], errs: str, noun: str) -> Block:
        """``with self.size_guard(...)``: a "size" error past max_items, else the body."""
        with fn.block("if len(%s) > %d" % (x, self.max_items)):
            self.err(fn, errs, path, "size", "has more than %d %s, the limit" % (self.max_items, noun))
        return fn.block("else")

    def gen_member(self, fn: Fn, sub: Any, x: str, item: str, key: str, path: List[str], errs: str,
                   st: St, result: Optional[str], kind: str) -> None:
        """Check one array item / object member; write it back into ``result`` if it changed."""
        changed = result is not None and self.changes(sub)
        if changed:
            original = self.var("o")
            fn.line("%s = %s" % (original, item))
        self.gen(fn, sub, item, path + [key], errs, st)
        if changed:
            with fn.block("if %s is not %s" % (item, original)):
                self.cow(fn, result, x, key, item, kind)

    def function_for(self, key: Any, schema: Any, embedded: bool = False) -> str:
        """A shared function for a $ref target (key: its pointer) or a deep subschema (key: its id)."""
        name = self.functions.get(key)
        if name is None:
            name = self.functions[key] = self.var("f")
            self.keep.append(schema)
            stack = (key,) if isinstance(key, str) else ()
            self.queue.append((Fn(name, root=False), schema, St(stack=stack, embedded=embedded)))
        return name

    def call(self, fn: Fn, name: str, schema: Any, x: str, path: List[str], errs: str, st: St) -> None:
        depth = "%s + %d" % (fn.depth, st.sd) if st.sd else fn.depth
        args = "%s, %s, %s, %s" % (x, errs, self.loc(path), depth)
        if self.changes(schema):
            fn.line("%s = %s(%s)" % (x, name, args))
        else:
            fn.line("%s(%s)" % (name, args))

    def branch(self, fn: Fn, sub: Any, x: str, path: List[str], st: St) -> Tuple[str, str]:
        """Check ``x`` against a subschema into a private errors list; return (list, value) names."""
        found, value = self.var("e"), self.var("v")
        fn.line("%s = []" % found)
        fn.line("%s = %s" % (value, x))
        self.gen(fn, sub, value, path, found, st)
        return found, value

    # -- the generator
    def gen(self, fn: Fn, schema: Any, x: str, path: List[str], errs: str, st: St) -> None:
        """Emit code checking local ``x`` against ``schema``; afterwards ``x`` holds the result."""
        if schema is True:
            return
        if schema is False:
            self.err(fn, errs, path, "false", "no value is allowed here")
            return
        if not isinstance(schema, dict):
            raise SchemaError("a schema must be an object or a boolean, got %r" % (schema,))
        for keyword in UNSUPPORTED:
            if keyword in schema:
                raise SchemaError("%s is not supported by covet's validator" % keyword)
        if not ACTIVE.intersection(schema):
            return
        if fn.level > _MAX_LEVEL or st.loops > _MAX_LOOPS:
            self.call(fn, self.function_for(id(schema), schema, st.embedded), schema, x, path, errs, st)
            return
        if "$id" in schema and schema is not self.root:
            st = st.inside_id()
        types = self.types_of(schema)
        rest = any(k in schema for k in ACTIVE if k != "type")
        if types is None:
            self.gen_rest(fn, schema, x, path, errs, st, None)
            return
        test = type_test(types, x)
        msg = "must be of type " + type_names(types)
        if self.coerce and COERCIBLE.intersection(types):
            ok, converted = self.var("ok"), self.var("t")
            fn.line("%s = %s" % (ok, test))
            with fn.block("if not %s" % ok):
                fn.line("%s = _coerce(%s, %r)" % (converted, x, types))
                with fn.block("if %s is _FAIL" % converted):
                    self.err(fn, errs, path, "type", msg)
                with fn.block("else"):
                    fn.line("%s = %s" % (x, converted))
                    fn.line("%s = True" % ok)
            if rest:
                with fn.block("if %s" % ok):
                    self.gen_rest(fn, schema, x, path, errs, st, types)
            return
        with fn.block("if not %s" % test):
            self.err(fn, errs, path, "type", msg)
        if rest:
            with fn.block("else"):
                self.gen_rest(fn, schema, x, path, errs, st, types)

    def guard(self, fn: Fn, types: Optional[Tuple[str, ...]], kinds: Tuple[str, ...], test: str) -> ContextManager:
        """``with self.guard(...)``: an ``if`` limiting type-specific keywords to their kind, unless the type
        already does."""
        if types is not None and set(types) <= set(kinds):
            return nullcontext()
        return fn.block("if " + test)

    def gen_rest(self, fn: Fn, s: dict, x: str, path: List[str], errs: str, st: St,
                 types: Optional[Tuple[str, ...]]) -> None:
        if "enum" in s:
            self.gen_enum(fn, s["enum"], x, path, errs)
        if "const" in s:
            self.gen_const(fn, s["const"], x, path, errs)
        if any(k in s for k in NUMERIC_KW):
            with self.guard(fn, types, ("integer", "number"),
                            "type(%s) is int or type(%s) is float or _isnum(%s)" % (x, x, x)):
                self.gen_numeric(fn, s, x, path, errs)
        if any(k in s for k in STRING_KW):
            with self.guard(fn, types, ("string",), "isinstance(%s, str)" % x):
                self.gen_string(fn, s, x, path, errs)
        if any(k in s for k in ARRAY_KW):
            with self.guard(fn, types, ("array",), "isinstance(%s, (list, tuple))" % x):
                self.gen_array(fn, s, x, path, errs, st)
        if any(k in s for k in OBJECT_KW):
            with self.guard(fn, types, ("object",), "isinstance(%s, dict)" % x):
                self.gen_object(fn, s, x, path, errs, st)
        if "$ref" in s:
            self.gen_ref(fn, s["$ref"], x, path, errs, st)
        if "allOf" in s:
            for sub in self.schema_list(s, "allOf"):
                self.gen(fn, sub, x, path, errs, st)
        if "anyOf" in s:
            self.gen_any_of(fn, self.schema_list(s, "anyOf"), x, path, errs, st)
        if "oneOf" in s:
            self.gen_one_of(fn, self.schema_list(s, "oneOf"), x, path, errs, st)
        if "not" in s:
            self.gen_not(fn, s["not"], x, path, errs, st)
        if "if" in s and ("then" in s or "else" in s):
            self.gen_if(fn, s, x, path, errs, st)

    def schema_list(self, s: dict, keyword: str) -> list:
        subs = s[keyword]
        if not isinstance(subs, list) or not subs:
            raise SchemaError("%s must be a non-empty list of schemas, got %r" % (keyword, subs))
        return subs

    # -- any type
    def gen_enum(self, fn: Fn, values: Any, x: str, path: List[str], errs: str) -> None:
        if not isinstance(values, list):
            raise SchemaError("enum must be a list, got %r" % (values,))
        msg = enum_msg(values)
        canonical = self.const(frozenset(canon(v, 10 ** 6) for v in values))
        if values and all(type(v) is str for v in values):
            strings = self.const(frozenset(values))
            test = "(%s in %s if type(%s) is str else _in_enum(%s, %s, %d))" % (
                x, strings, x, x, canonical, self.max_depth)
        else:
            test = "_in_enum(%s, %s, %d)" % (x, canonical, self.max_depth)
        with fn.block("if not " + test):
            self.err(fn, errs, path, "enum", msg)

    def gen_const(self, fn: Fn, value: Any, x: str, path: List[str], errs: str) -> None:
        if value is None or value is True or value is False:
            test = "%s is %r" % (x, value)
        elif type(value) is str:
            test = "%s == %r" % (x, value)
        else:
            test = "_in_enum(%s, %s, %d)" % (x, self.const(frozenset([canon(value, 10 ** 6)])), self.max_depth)
        with fn.block("if not (%s)" % test):
            self.err(fn, errs, path, "const", "must be equal to " + json_text(value))


def compile_schema(schema: Any, coerce: bool = False, *, defaults: bool = True,
                   max_depth: int = DEFAULT_MAX_DEPTH, max_items: int = DEFAULT_MAX_ITEMS,
                   max_string_length: int = DEFAULT_MAX_STRING_LENGTH) -> Callable[[Any], Any]:
    """Compile a JSON schema (draft 2020-12 subset) into a fast validating function.

    The function returns the instance, or a copy with defaults filled in (and, with
    ``coerce=True``, strings converted to the declared integer/number/boolean/null/array
    type); it never mutates its argument. It raises ``ValidationError`` listing every error.

    :param schema: a JSON schema (dict or bool).
    :param coerce: convert strings from query/path/header/form values ("3" -> 3).
    :param defaults: fill missing properties that declare a ``default``.
    :param max_depth: nesting followed through recursive ``$ref`` before a "depth" error.
    :param max_items: elements of one array/object iterated before a "size" error.
    :param max_string_length: characters checked against ``pattern``/``format``.
    :raises SchemaError: the schema is malformed or uses an unsupported feature.

    Example::

        check = compile_schema({"type": "object", "required": ["id"],
                                "properties": {"id": {"type": "integer", "minimum": 1}}})
        check({"id": 3})       # {'id': 3}
        check({"id": 0})       # ValidationError: id: must be greater than or equal to 1
    """
    for name, value in (("max_depth", max_depth), ("max_items", max_items),
                        ("max_string_length", max_string_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("%s must be a positive integer, got %r" % (name, value))
    if max_depth > 500:
        raise ValueError("max_depth must be at most 500 (the interpreter stack), got %d" % max_depth)
    try:
        return _Compiler(schema, bool(coerce), bool(defaults), max_depth, max_items, max_string_length).compile()
    except RecursionError:
        raise SchemaError("the schema is nested too deeply to compile") from None
