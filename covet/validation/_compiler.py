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
"""
import copy
import json
import math
import re
from contextlib import nullcontext
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, ContextManager, Dict, List, Optional, Sequence, Tuple
from urllib.parse import unquote

from ..core._codegen import Block, Emitter
from ._errors import SchemaError, ValidationError
from ._formats import FORMAT_NAMES, FORMATS

__all__ = ["DEFAULT_MAX_DEPTH", "DEFAULT_MAX_ITEMS", "DEFAULT_MAX_STRING_LENGTH", "compile_schema"]

# Nesting levels of objects/arrays the validator follows through a recursive $ref (and
# that enum/const/uniqueItems compare) before answering with a "depth" error. Pydantic and
# JSON parsers stop hostile nesting in the same range; 64 levels fit any real document and
# keep the interpreter stack far from its 1000-frame limit (a RecursionError never escapes).
DEFAULT_MAX_DEPTH = 64
# Items of one array (or properties of one object) that the validator iterates over. Work is
# linear, but a body with millions of elements should fail fast with a clear "size" error.
DEFAULT_MAX_ITEMS = 100_000
# Characters of a string checked against a ``pattern`` or ``format``: regex cost grows with the
# input (quadratic patterns, cf. CVE-2020-5236), so very long strings are refused before matching.
DEFAULT_MAX_STRING_LENGTH = 100_000

_TYPES = ("null", "boolean", "object", "array", "number", "string", "integer")
_COERCIBLE = frozenset(("integer", "number", "boolean", "null", "array"))
_NUMERIC_KW = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_STRING_KW = ("minLength", "maxLength", "pattern", "format")
_ARRAY_KW = ("minItems", "maxItems", "uniqueItems", "prefixItems", "items", "contains")
_OBJECT_KW = ("properties", "required", "patternProperties", "additionalProperties", "propertyNames",
              "minProperties", "maxProperties", "dependentRequired", "dependentSchemas")
_APPLICATOR_KW = ("$ref", "allOf", "anyOf", "oneOf", "not", "if")
_ACTIVE = frozenset(("type", "enum", "const") + _NUMERIC_KW + _STRING_KW + _ARRAY_KW + _OBJECT_KW
                    + _APPLICATOR_KW)
# Core keywords whose meaning covet does not implement: refusing them beats silently
# accepting data the schema author meant to reject.
_UNSUPPORTED = ("$dynamicRef", "$recursiveRef", "unevaluatedProperties", "unevaluatedItems")
# Schemas are inlined up to this many times each; past it they become a shared function.
_MAX_INLINE = 4
# Python allows 100 indentation levels and 20 nested loops per function: split well before.
_MAX_LEVEL = 40
_MAX_LOOPS = 12
_KIND_TYPES = frozenset(("type", "const", "enum", "false"))


# ---------------------------------------------------------------- run-time helpers

class _Fail:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<cannot coerce>"


_FAIL = _Fail()


class _Deep(Exception):
    pass


_BOOL, _ARRAY, _OBJECT = object(), object(), object()
# Strings that coerce mode turns into integers/numbers: ASCII digits only (int() alone would take
# "1_000", " 7", "١٢" or "+5"), and at most 4300 digits (CPython's CVE-2020-10735 limit).
_INT_TEXT = re.compile(r"-?[0-9]{1,4300}")
_NUMBER_TEXT = re.compile(r"-?[0-9]{1,4300}(?:\.[0-9]{1,4300})?(?:[eE][+-]?[0-9]{1,5})?")
_TRUE_TEXT = frozenset(("true", "1", "yes", "on"))
_FALSE_TEXT = frozenset(("false", "0", "no", "off"))
_NULL_TEXT = frozenset(("", "null"))


def _coerce(value: Any, types: Tuple[str, ...]) -> Any:
    """A string (query, path, header, form value) converted to the first type it can be, or _FAIL."""
    if isinstance(value, str):
        for kind in types:
            if kind == "integer":
                if _INT_TEXT.fullmatch(value):
                    return int(value)
            elif kind == "number":
                if _NUMBER_TEXT.fullmatch(value):
                    if "." not in value and "e" not in value and "E" not in value:
                        return int(value)
                    number = float(value)
                    if math.isfinite(number):
                        return number
            elif kind == "boolean":
                lowered = value.lower()
                if lowered in _TRUE_TEXT:
                    return True
                if lowered in _FALSE_TEXT:
                    return False
            elif kind == "null":
                if value in _NULL_TEXT:
                    return None
            elif kind == "array":
                return [value]  # one query/header/form value where a list is declared
    return _FAIL


def _isint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _isnum(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _canon(value: Any, depth: int) -> Any:
    """A hashable form where JSON-equal values are equal: 1 == 1.0, True != 1, key order ignored."""
    kind = type(value)
    if kind is str or value is None or kind is int or kind is float:
        return value
    if kind is bool:
        return (_BOOL, value)
    if isinstance(value, (list, tuple)):
        if depth <= 0:
            raise _Deep()
        return (_ARRAY, tuple([_canon(item, depth - 1) for item in value]))
    if isinstance(value, dict):
        if depth <= 0:
            raise _Deep()
        return (_OBJECT, frozenset([(key, _canon(item, depth - 1)) for key, item in value.items()]))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return (_OBJECT, repr(value))


def _in_enum(value: Any, canon_values: frozenset, depth: int) -> bool:
    try:
        return _canon(value, depth) in canon_values
    except _Deep:
        return False


def _dupes(items: Sequence[Any], depth: int) -> Any:
    """(first, second) indexes of two equal items, None, or _FAIL when nesting is too deep."""
    seen: Dict[Any, int] = {}
    try:
        for index, item in enumerate(items):
            first = seen.setdefault(_canon(item, depth), index)
            if first != index:
                return first, index
    except _Deep:
        return _FAIL
    return None


# Below this magnitude of value*scale, a float's nearest-integer test is exact (see _mult_bad).
_FAST_MULTIPLE_LIMIT = float(2 ** 50)


def _mult_bad(value: Any, numerator: int, scale: int) -> bool:
    """True when ``value`` is not a multiple of numerator/scale, compared as decimals.

    The divisor is exact (0.01 is 1/100), and so is the value taken as the shortest
    decimal that round-trips (``repr``), which is what a JSON document wrote: 0.07 is a
    multiple of 0.01 here, though ``0.07 / 0.01`` is 7.000000000000001. When
    |value*scale| < 2**50 the ulp of value is below 1/(4*scale), so a float equal to
    n/scale can only come from the decimal n/scale itself: one round() decides.
    """
    if not isinstance(value, float):
        if isinstance(value, int):
            return value * scale % numerator != 0
        value = float(value)
    scaled = value * scale
    if -_FAST_MULTIPLE_LIMIT < scaled < _FAST_MULTIPLE_LIMIT:
        whole = round(scaled)
        return whole / scale != value or whole % numerator != 0
    return (Fraction(repr(value)) * scale / numerator).denominator != 1


def _dec_mult_bad(value: Decimal, numerator: int, scale: int) -> bool:
    return (Fraction(value) * scale / numerator).denominator != 1


def _branch_fail(errors: List[dict], loc: list, lists: List[List[dict]], combined: Optional[str],
                 generic: str, keyword: str) -> None:
    """Report a failed anyOf/oneOf: the one branch that fits the value's kind, else one error."""
    fitting = [errs for errs in lists
               if not any(e["type"] in _KIND_TYPES and e["loc"] == loc for e in errs)]
    if len(fitting) == 1:
        errors.extend(fitting[0])
        return
    if not fitting and combined is not None and all(
            any(e["type"] == "type" and e["loc"] == loc for e in errs) for errs in lists):
        errors.append({"loc": loc, "msg": combined, "type": "type"})
        return
    errors.append({"loc": loc, "msg": generic, "type": keyword})


_RUNTIME = {
    "_FAIL": _FAIL, "_coerce": _coerce, "_isint": _isint, "_isnum": _isnum, "_in_enum": _in_enum,
    "_canon": _canon, "_Deep": _Deep, "_dupes": _dupes, "_mult_bad": _mult_bad,
    "_dec_mult_bad": _dec_mult_bad, "_Decimal": Decimal, "_branch_fail": _branch_fail,
    "ValidationError": ValidationError, "_deepcopy": copy.deepcopy,
}


# ---------------------------------------------------------------- messages

def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def _plural(count: int, noun: str, nouns: str = "") -> str:
    return "%d %s" % (count, noun if count == 1 else (nouns or noun + "s"))


def _type_names(types: Sequence[str]) -> str:
    names = list(types)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _enum_msg(values: Sequence[Any]) -> str:
    text = ", ".join(_json(value) for value in values)
    if len(text) > 200:
        text = text[:197] + "..."
    return "must be one of: " + text


# ---------------------------------------------------------------- code generation

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


def _number(value: Any, keyword: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise SchemaError("%s must be a number, got %r" % (keyword, value))
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError("%s must be finite, got %r" % (keyword, value))
    return value


def _count(value: Any, keyword: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaError("%s must be a non-negative integer, got %r" % (keyword, value))
    return value


def _fraction_parts(divisor: Any) -> Tuple[int, int]:
    """multipleOf as numerator/scale with scale a power of ten: 0.01 -> (1, 100), 1.5 -> (15, 10)."""
    exact = Decimal(divisor) if isinstance(divisor, (int, Decimal)) else Decimal(repr(divisor))
    sign, digits, exponent = exact.normalize().as_tuple()
    if exponent >= 0:
        return int(exact), 1
    return int("".join(map(str, digits))), 10 ** (-exponent)


class _Fn:
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


class _St:
    """Where code is being generated: inlined $ref targets, static depth, loop nesting."""

    __slots__ = ("stack", "sd", "loops", "embedded")

    def __init__(self, stack: Tuple[str, ...] = (), sd: int = 0, loops: int = 0, embedded: bool = False):
        self.stack, self.sd, self.loops, self.embedded = stack, sd, loops, embedded

    def descend(self, loop: bool = False) -> "_St":
        return _St(self.stack, self.sd + 1, self.loops + loop, self.embedded)

    def push(self, pointer: str) -> "_St":
        return _St(self.stack + (pointer,), self.sd, self.loops, self.embedded)

    def inside_id(self) -> "_St":
        return _St(self.stack, self.sd, self.loops, True)


_MISSING = object()


class _Compiler:
    def __init__(self, root: Any, coerce: bool, defaults: bool, max_depth: int, max_items: int,
                 max_string_length: int) -> None:
        self.root = root
        self.coerce = coerce
        self.defaults = defaults
        self.max_depth = max_depth
        self.max_items = max_items
        self.max_string = max_string_length
        self.ns: Dict[str, Any] = dict(_RUNTIME)
        self.counter = 0
        self.done: List[_Fn] = []
        self.queue: List[Tuple[_Fn, Any, _St]] = []
        self.functions: Dict[Any, str] = {}
        self.inlined: Dict[str, int] = {}
        self.cycle_checked: set = set()
        self.change_memo: Dict[int, bool] = {}
        self.keep: List[Any] = []  # schemas keyed by id() stay alive while compiling
        self.any_change = coerce or (defaults and _has_property_default(root))

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
        fn = _Fn("validate", root=True)
        self.gen(fn, self.root, "x", [], "errs", _St())
        while self.queue:
            sub, schema, st = self.queue.pop(0)
            with sub.block("if depth > %d" % self.max_depth):
                sub.line("errs.append({'loc': [*path], 'msg': %r, 'type': 'depth'})" % self._depth_msg())
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
                module.line("errs.append({'loc': [], 'msg': %r, 'type': 'depth'})" % self._depth_msg())
            with module.block("if errs"):
                module.line("raise ValidationError(errs)")
            module.line("return x")
        source = module.source()
        exec(compile(source, "<covet.validation schema>", "exec"), self.ns)
        validator = self.ns["validate"]
        validator.source = source
        validator.schema = self.root
        return validator

    def _depth_msg(self) -> str:
        return "nesting is deeper than the limit of %d levels" % self.max_depth

    # -- helpers for emitted code
    def err(self, fn: _Fn, errs: str, path: List[str], keyword: str, msg: str, msg_is_code: bool = False) -> None:
        fn.line("%s.append({'loc': [%s], 'msg': %s, 'type': %r})"
                % (errs, ", ".join(path), msg if msg_is_code else repr(msg), keyword))

    def loc(self, path: List[str]) -> str:
        return "[%s]" % ", ".join(path)

    def cow(self, fn: _Fn, result: str, x: str, key: str, value: str, kind: str) -> None:
        """Copy-on-write: the first changed member copies the container, never the input itself."""
        with fn.block("if %s is %s" % (result, x)):
            fn.line("%s = %s(%s)" % (result, kind, x))
        fn.line("%s[%s] = %s" % (result, key, value))

    # -- schema inspection
    def resolve(self, ref: Any) -> Tuple[str, Any]:
        if not isinstance(ref, str):
            raise SchemaError("$ref must be a string, got %r" % (ref,))
        if not ref.startswith("#"):
            raise SchemaError("$ref %r is not supported: only references inside the schema "
                              "('#', '#/$defs/name', any JSON pointer) are" % ref)
        fragment = unquote(ref[1:])
        if fragment and not fragment.startswith("/"):
            raise SchemaError("$ref %r is not supported: $anchor references are not implemented" % ref)
        node = self.root
        for token in fragment.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and token.isascii() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaError("$ref %r does not resolve inside the schema" % ref)
        if not isinstance(node, (dict, bool)):
            raise SchemaError("$ref %r points at %r, which is not a schema" % (ref, node))
        return "#" + fragment, node

    def check_cycle(self, pointer: str) -> None:
        """Refuse $ref loops that never step into the instance: they would recurse forever."""
        if pointer in self.cycle_checked:
            return
        path: List[str] = []

        def visit(ptr: str, schema: Any) -> None:
            if ptr in path:
                raise SchemaError("$ref cycle %s never descends into the instance"
                                  % " -> ".join(path[path.index(ptr):] + [ptr]))
            if ptr in self.cycle_checked:
                return
            path.append(ptr)
            for ref in _same_instance_refs(schema):
                visit(*self.resolve(ref))
            path.pop()
            self.cycle_checked.add(ptr)

        visit(*self.resolve(pointer))

    def types_of(self, schema: Any) -> Optional[Tuple[str, ...]]:
        if not isinstance(schema, dict) or "type" not in schema:
            return None
        raw = schema["type"]
        types = (raw,) if isinstance(raw, str) else raw
        if not isinstance(types, (list, tuple)) or not types or any(t not in _TYPES for t in types):
            raise SchemaError("type must be one of %s or a non-empty list of them, got %r" % (", ".join(_TYPES), raw))
        if len(set(types)) != len(types):
            raise SchemaError("type lists %r more than once" % (raw,))
        return tuple(types)

    def default_of(self, schema: Any) -> Any:
        """A property's default: its own, or that of the schema its $ref chain leads to."""
        seen = set()
        while isinstance(schema, dict) and id(schema) not in seen:
            if "default" in schema:
                return schema["default"]
            ref = schema.get("$ref")
            if "$id" in schema or not isinstance(ref, str) or not ref.startswith("#"):
                break
            seen.add(id(schema))
            try:
                schema = self.resolve(ref)[1]
            except SchemaError:  # reported with context when the $ref itself is compiled
                break
        return _MISSING

    def changes(self, schema: Any) -> bool:
        """Can validating against ``schema`` return a different object (defaults, coercion)?"""
        if not self.any_change or not isinstance(schema, dict):
            return False
        key = id(schema)
        if key not in self.change_memo:
            self.change_memo[key] = self._changes(schema, set())
        return self.change_memo[key]

    def _changes(self, schema: Any, visiting: set) -> bool:
        if not isinstance(schema, dict) or id(schema) in visiting:
            return False
        if self.change_memo.get(id(schema)):
            return True
        visiting.add(id(schema))
        types = self.types_of(schema)
        if self.coerce and types and _COERCIBLE.intersection(types):
            return True
        props = schema.get("properties")
        if self.defaults and isinstance(props, dict):
            if any(self.default_of(sub) is not _MISSING for sub in props.values()):
                return True
        for sub in _result_children(schema):
            if self._changes(sub, visiting):
                return True
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            return self._changes(self.resolve(ref)[1], visiting)
        return False

    def pure(self, schema: Any, x: str) -> Optional[str]:
        """A plain expression for schemas that only test the type (no errors list needed)."""
        if schema is True:
            return "True"
        if schema is False:
            return "False"
        if not isinstance(schema, dict) or any(k in _ACTIVE and k != "type" for k in schema):
            return None
        if any(k in schema for k in _UNSUPPORTED):
            return None
        types = self.types_of(schema)
        if types is None:
            return "True"
        if self.coerce and _COERCIBLE.intersection(types):
            return None
        return _type_test(types, x)

    def declared_types(self, schema: Any) -> Optional[Tuple[str, ...]]:
        if isinstance(schema, dict):
            types = self.types_of(schema)
            if types is not None:
                return types
            if set(schema) & _ACTIVE == {"$ref"}:
                return self.declared_types(self.resolve(schema["$ref"])[1])
        return None

    # -- the generator
    def gen(self, fn: _Fn, schema: Any, x: str, path: List[str], errs: str, st: _St) -> None:
        """Emit code checking local ``x`` against ``schema``; afterwards ``x`` holds the result."""
        if schema is True:
            return
        if schema is False:
            self.err(fn, errs, path, "false", "no value is allowed here")
            return
        if not isinstance(schema, dict):
            raise SchemaError("a schema must be an object or a boolean, got %r" % (schema,))
        for keyword in _UNSUPPORTED:
            if keyword in schema:
                raise SchemaError("%s is not supported by covet's validator" % keyword)
        if not _ACTIVE.intersection(schema):
            return
        if fn.level > _MAX_LEVEL or st.loops > _MAX_LOOPS:
            self.call(fn, self.function_for(id(schema), schema, st.embedded), schema, x, path, errs, st)
            return
        if "$id" in schema and schema is not self.root:
            st = st.inside_id()
        types = self.types_of(schema)
        rest = any(k in schema for k in _ACTIVE if k != "type")
        if types is None:
            self.gen_rest(fn, schema, x, path, errs, st, None)
            return
        test = _type_test(types, x)
        msg = "must be of type " + _type_names(types)
        if self.coerce and _COERCIBLE.intersection(types):
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

    def guard(self, fn: _Fn, types: Optional[Tuple[str, ...]], kinds: Tuple[str, ...], test: str) -> ContextManager:
        """``with self.guard(...)``: an ``if`` limiting type-specific keywords to their kind, unless the type
        already does."""
        if types is not None and set(types) <= set(kinds):
            return nullcontext()
        return fn.block("if " + test)

    def gen_rest(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str, st: _St,
                 types: Optional[Tuple[str, ...]]) -> None:
        if "enum" in s:
            self.gen_enum(fn, s["enum"], x, path, errs)
        if "const" in s:
            self.gen_const(fn, s["const"], x, path, errs)
        if any(k in s for k in _NUMERIC_KW):
            with self.guard(fn, types, ("integer", "number"),
                            "type(%s) is int or type(%s) is float or _isnum(%s)" % (x, x, x)):
                self.gen_numeric(fn, s, x, path, errs)
        if any(k in s for k in _STRING_KW):
            with self.guard(fn, types, ("string",), "isinstance(%s, str)" % x):
                self.gen_string(fn, s, x, path, errs)
        if any(k in s for k in _ARRAY_KW):
            with self.guard(fn, types, ("array",), "isinstance(%s, (list, tuple))" % x):
                self.gen_array(fn, s, x, path, errs, st)
        if any(k in s for k in _OBJECT_KW):
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
    def gen_enum(self, fn: _Fn, values: Any, x: str, path: List[str], errs: str) -> None:
        if not isinstance(values, list):
            raise SchemaError("enum must be a list, got %r" % (values,))
        msg = _enum_msg(values)
        canon = self.const(frozenset(_canon(v, 10 ** 6) for v in values))
        if values and all(type(v) is str for v in values):
            strings = self.const(frozenset(values))
            test = "(%s in %s if type(%s) is str else _in_enum(%s, %s, %d))" % (
                x, strings, x, x, canon, self.max_depth)
        else:
            test = "_in_enum(%s, %s, %d)" % (x, canon, self.max_depth)
        with fn.block("if not " + test):
            self.err(fn, errs, path, "enum", msg)

    def gen_const(self, fn: _Fn, value: Any, x: str, path: List[str], errs: str) -> None:
        if value is None or value is True or value is False:
            test = "%s is %r" % (x, value)
        elif type(value) is str:
            test = "%s == %r" % (x, value)
        else:
            test = "_in_enum(%s, %s, %d)" % (x, self.const(frozenset([_canon(value, 10 ** 6)])), self.max_depth)
        with fn.block("if not (%s)" % test):
            self.err(fn, errs, path, "const", "must be equal to " + _json(value))

    # -- numbers
    def gen_numeric(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str) -> None:
        for keyword, op, text in (("minimum", "<", "greater than or equal to"),
                                  ("exclusiveMinimum", "<=", "greater than"),
                                  ("maximum", ">", "less than or equal to"),
                                  ("exclusiveMaximum", ">=", "less than")):
            if keyword in s:
                bound = _number(s[keyword], keyword)
                code = repr(bound) if not isinstance(bound, Decimal) else self.const(bound)
                with fn.block("if %s %s %s" % (x, op, code)):
                    self.err(fn, errs, path, keyword, "must be %s %s" % (text, _json_number(bound)))
        if "multipleOf" in s:
            divisor = _number(s["multipleOf"], "multipleOf")
            if divisor <= 0:
                raise SchemaError("multipleOf must be greater than 0, got %r" % (divisor,))
            numerator, scale = _fraction_parts(divisor)
            int_test = "%s %% %d" % (x, numerator) if scale == 1 else "%s * %d %% %d" % (x, scale, numerator)
            with fn.block("if (%s if type(%s) is int else _mult_bad(%s, %d, %d))" % (int_test, x, x, numerator, scale)):
                self.err(fn, errs, path, "multipleOf", "must be a multiple of " + _json_number(divisor))

    # -- strings
    def gen_string(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str) -> None:
        if "minLength" in s:
            n = _count(s["minLength"], "minLength")
            with fn.block("if len(%s) < %d" % (x, n)):
                self.err(fn, errs, path, "minLength", "must be at least %s long" % _plural(n, "character"))
        if "maxLength" in s:
            n = _count(s["maxLength"], "maxLength")
            with fn.block("if len(%s) > %d" % (x, n)):
                self.err(fn, errs, path, "maxLength", "must be at most %s long" % _plural(n, "character"))
        pattern = None
        if "pattern" in s:
            pattern = self.const(compile_pattern(s["pattern"]).search, "P")
        fmt = s.get("format")
        checker = FORMATS.get(fmt) if isinstance(fmt, str) else None
        decimal_bounds = fmt == "decimal" and any(k in s for k in _NUMERIC_KW)
        if pattern is None and checker is None:
            return
        with fn.block("if len(%s) > %d" % (x, self.max_string)):
            self.err(fn, errs, path, "size", "is longer than %d characters, the limit for pattern and "
                     "format checks" % self.max_string)
        with fn.block("else"):
            if pattern is not None:
                with fn.block("if %s(%s) is None" % (pattern, x)):
                    self.err(fn, errs, path, "pattern", "must match pattern %s" % _json(s["pattern"]))
            if checker is not None:
                with fn.block("if not %s(%s)" % (self.const(checker, "F"), x)):
                    self.err(fn, errs, path, "format", "must be %s" % FORMAT_NAMES[fmt])
                if decimal_bounds:
                    with fn.block("else"):
                        self.gen_decimal_bounds(fn, s, x, path, errs)

    def gen_decimal_bounds(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str) -> None:
        """covet's ``format: decimal``: numeric keywords also bound decimal strings, compared exactly."""
        d = self.var("d")
        fn.line("%s = _Decimal(%s)" % (d, x))
        for keyword, op, text in (("minimum", "<", "greater than or equal to"),
                                  ("exclusiveMinimum", "<=", "greater than"),
                                  ("maximum", ">", "less than or equal to"),
                                  ("exclusiveMaximum", ">=", "less than")):
            if keyword in s:
                bound = _number(s[keyword], keyword)
                exact = self.const(Decimal(repr(bound)) if isinstance(bound, float) else Decimal(bound))
                with fn.block("if %s %s %s" % (d, op, exact)):
                    self.err(fn, errs, path, keyword, "must be %s %s" % (text, _json_number(bound)))
        if "multipleOf" in s:
            numerator, scale = _fraction_parts(s["multipleOf"])
            with fn.block("if _dec_mult_bad(%s, %d, %d)" % (d, numerator, scale)):
                self.err(fn, errs, path, "multipleOf", "must be a multiple of " + _json_number(s["multipleOf"]))

    # -- arrays
    def size_guard(self, fn: _Fn, x: str, path: List[str], errs: str, noun: str) -> Block:
        """``with self.size_guard(...)``: a "size" error past max_items, else the body."""
        with fn.block("if len(%s) > %d" % (x, self.max_items)):
            self.err(fn, errs, path, "size", "has more than %d %s, the limit" % (self.max_items, noun))
        return fn.block("else")

    def gen_array(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str, st: _St) -> None:
        if "minItems" in s:
            n = _count(s["minItems"], "minItems")
            with fn.block("if len(%s) < %d" % (x, n)):
                self.err(fn, errs, path, "minItems", "must contain at least %s" % _plural(n, "item"))
        if "maxItems" in s:
            n = _count(s["maxItems"], "maxItems")
            with fn.block("if len(%s) > %d" % (x, n)):
                self.err(fn, errs, path, "maxItems", "must contain at most %s" % _plural(n, "item"))
        if s.get("uniqueItems") is True:
            dup = self.var("u")
            fn.line("%s = _dupes(%s, %d)" % (dup, x, self.max_depth))
            with fn.block("if %s is _FAIL" % dup):
                self.err(fn, errs, path, "depth", self._depth_msg())
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
            if not _active(sub):
                continue
            with fn.block("if len(%s) > %d" % (x, index)):
                item = self.var("v")
                fn.line("%s = %s[%d]" % (item, x, index))
                self.gen_member(fn, sub, x, item, repr(index), path, errs, st.descend(), result, "list")
        if items is False:
            with fn.block("if len(%s) > %d" % (x, len(prefix))):
                self.err(fn, errs, path, "items", "must contain at most %s" % _plural(len(prefix), "item"))
        elif _active(items):
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

    def gen_member(self, fn: _Fn, sub: Any, x: str, item: str, key: str, path: List[str], errs: str,
                   st: _St, result: Optional[str], kind: str) -> None:
        """Check one array item / object member; write it back into ``result`` if it changed."""
        changed = result is not None and self.changes(sub)
        if changed:
            original = self.var("o")
            fn.line("%s = %s" % (original, item))
        self.gen(fn, sub, item, path + [key], errs, st)
        if changed:
            with fn.block("if %s is not %s" % (item, original)):
                self.cow(fn, result, x, key, item, kind)

    def gen_contains(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str, st: _St) -> None:
        low = _count(s.get("minContains", 1), "minContains")
        high = _count(s["maxContains"], "maxContains") if "maxContains" in s else None
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
                         "must contain at least %s matching the contains schema" % _plural(low, "item"))
        if high is not None:
            with fn.block("if %s > %d" % (count, high)):
                self.err(fn, errs, path, "maxContains",
                         "must contain at most %s matching the contains schema" % _plural(high, "item"))

    # -- objects
    def gen_object(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str, st: _St) -> None:
        props = s.get("properties", {})
        if not isinstance(props, dict):
            raise SchemaError("properties must be an object, got %r" % (props,))
        required = s.get("required", [])
        if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
            raise SchemaError("required must be a list of strings, got %r" % (required,))
        patterns = s.get("patternProperties", {})
        if not isinstance(patterns, dict):
            raise SchemaError("patternProperties must be an object, got %r" % (patterns,))
        extra = s.get("additionalProperties", _MISSING)
        names = s.get("propertyNames", True)
        result = None
        defaults = {}
        if self.defaults:
            defaults = {k: self.default_of(sub) for k, sub in props.items()}
            defaults = {k: v for k, v in defaults.items() if v is not _MISSING and k not in required}
        member_subs = list(props.values()) + list(patterns.values()) + ([] if extra is _MISSING else [extra])
        if defaults or any(self.changes(sub) for sub in member_subs):
            result = self.var("r")
            fn.line("%s = %s" % (result, x))
        need = set(required)
        for key, sub in props.items():
            if not isinstance(key, str):
                raise SchemaError("property names must be strings, got %r" % (key,))
            kc = repr(key)
            if not _active(sub):
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
        if patterns or extra is not _MISSING or _active(names):
            self.gen_members_loop(fn, s, props, patterns, extra, names, x, path, errs, st, result)
        for keyword, op, noun in (("minProperties", "<", "at least"), ("maxProperties", ">", "at most")):
            if keyword in s:
                n = _count(s[keyword], keyword)
                with fn.block("if len(%s) %s %d" % (x, op, n)):
                    self.err(fn, errs, path, keyword, "must have %s %s" % (noun, _plural(n, "property", "properties")))
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
            if _active(sub):
                with fn.block("if %r in %s" % (key, x)):
                    self.gen(fn, sub, x, path, errs, st)

    def fill_default(self, fn: _Fn, result: str, x: str, key: str, value: Any) -> None:
        code = _literal(value)
        if code is None:
            code = "_deepcopy(%s)" % self.const(value)
        self.cow(fn, result, x, key, code, "dict")

    def gen_members_loop(self, fn: _Fn, s: dict, props: dict, patterns: dict, extra: Any, names: Any,
                         x: str, path: List[str], errs: str, st: _St, result: Optional[str]) -> None:
        compiled = [(self.const(compile_pattern(p, "patternProperties key").search, "P"), sub)
                    for p, sub in patterns.items()]
        changes = result is not None and (any(self.changes(sub) for _, sub in compiled)
                                          or (extra is not _MISSING and self.changes(extra)))
        if changes:
            fn.line("%s = %s" % (result, x))
        only_extra = props and not compiled and not _active(names)
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
                elif _active(names):
                    found, _ = self.branch(fn, names, key, path + [key], st.descend())
                    with fn.block("if " + found):
                        self.err(fn, errs, path + [key], "propertyNames",
                                 "'invalid property name: ' + %s[0]['msg']" % found, msg_is_code=True)
                matched = None
                if compiled and extra is not _MISSING:
                    matched = self.var("m")
                    fn.line("%s = False" % matched)
                for search, sub in compiled:
                    with fn.block("if type(%s) is str and %s(%s) is not None" % (key, search, key)):
                        if matched:
                            fn.line("%s = True" % matched)
                        self.gen(fn, sub, item, path + [key], errs, inner)
                if extra is not _MISSING:
                    tests = []
                    if props:
                        tests.append("%s not in %s" % (key, self.const(frozenset(props))))
                    if matched:
                        tests.append("not " + matched)
                    if extra is False:
                        with fn.block("if " + (" and ".join(tests) or "True")):
                            self.err(fn, errs, path + [key], "additionalProperties", "additional property not allowed")
                    elif _active(extra):
                        with fn.block("if " + (" and ".join(tests) or "True")):
                            self.gen(fn, extra, item, path + [key], errs, inner)
                if changes:
                    with fn.block("if %s is not %s" % (item, original)):
                        self.cow(fn, result, x, key, item, "dict")
        if changes:
            fn.line("%s = %s" % (x, result))

    # -- applicators
    def gen_ref(self, fn: _Fn, ref: Any, x: str, path: List[str], errs: str, st: _St) -> None:
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

    def function_for(self, key: Any, schema: Any, embedded: bool = False) -> str:
        """A shared function for a $ref target (key: its pointer) or a deep subschema (key: its id)."""
        name = self.functions.get(key)
        if name is None:
            name = self.functions[key] = self.var("f")
            self.keep.append(schema)
            stack = (key,) if isinstance(key, str) else ()
            self.queue.append((_Fn(name, root=False), schema, _St(stack=stack, embedded=embedded)))
        return name

    def call(self, fn: _Fn, name: str, schema: Any, x: str, path: List[str], errs: str, st: _St) -> None:
        depth = "%s + %d" % (fn.depth, st.sd) if st.sd else fn.depth
        args = "%s, %s, %s, %s" % (x, errs, self.loc(path), depth)
        if self.changes(schema):
            fn.line("%s = %s(%s)" % (x, name, args))
        else:
            fn.line("%s(%s)" % (name, args))

    def branch(self, fn: _Fn, sub: Any, x: str, path: List[str], st: _St) -> Tuple[str, str]:
        """Check ``x`` against a subschema into a private errors list; return (list, value) names."""
        found, value = self.var("e"), self.var("v")
        fn.line("%s = []" % found)
        fn.line("%s = %s" % (value, x))
        self.gen(fn, sub, value, path, found, st)
        return found, value

    def combined_type_msg(self, subs: list) -> Optional[str]:
        names: List[str] = []
        for sub in subs:
            declared = self.declared_types(sub)
            if declared is None:
                return None
            names.extend(t for t in declared if t not in names)
        return "must be of type " + _type_names(names)

    def gen_any_of(self, fn: _Fn, subs: list, x: str, path: List[str], errs: str, st: _St) -> None:
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

    def gen_one_of(self, fn: _Fn, subs: list, x: str, path: List[str], errs: str, st: _St) -> None:
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

    def gen_not(self, fn: _Fn, sub: Any, x: str, path: List[str], errs: str, st: _St) -> None:
        test = self.pure(sub, x)
        if test is None:
            found, _ = self.branch(fn, sub, x, path, st)
            test = "not " + found
        with fn.block("if " + test):
            self.err(fn, errs, path, "not", "must not match the excluded schema")

    def gen_if(self, fn: _Fn, s: dict, x: str, path: List[str], errs: str, st: _St) -> None:
        then, otherwise = s.get("then", True), s.get("else", True)
        if not _active(then) and not _active(otherwise):
            return
        test = self.pure(s["if"], x)
        if test is None:
            found, _ = self.branch(fn, s["if"], x, path, st)
            test = "not " + found
        if _active(then):
            with fn.block("if " + test):
                self.gen(fn, then, x, path, errs, st)
            if _active(otherwise):
                with fn.block("else"):
                    self.gen(fn, otherwise, x, path, errs, st)
        else:
            with fn.block("if not (%s)" % test):
                self.gen(fn, otherwise, x, path, errs, st)


def _json_number(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    return _json(value)


def _active(schema: Any) -> bool:
    """Does this schema check anything (False does; True and annotation-only objects do not)?"""
    if schema is True:
        return False
    if not isinstance(schema, dict):
        return True
    return bool(_ACTIVE.intersection(schema)) or any(k in schema for k in _UNSUPPORTED)


def _type_test(types: Sequence[str], x: str) -> str:
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


def _result_children(schema: dict):
    """Subschemas whose result becomes (part of) this schema's result."""
    for keyword in ("properties", "patternProperties", "dependentSchemas"):
        value = schema.get(keyword)
        if isinstance(value, dict):
            yield from value.values()
    for keyword in ("additionalProperties", "items", "then", "else"):
        if keyword in schema:
            yield schema[keyword]
    for keyword in ("prefixItems", "allOf", "anyOf", "oneOf"):
        value = schema.get(keyword)
        if isinstance(value, list):
            yield from value


def _same_instance_refs(schema: Any):
    """$refs reachable from ``schema`` while staying on the same instance (no descent)."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        yield schema["$ref"]
    for keyword in ("allOf", "anyOf", "oneOf"):
        value = schema.get(keyword)
        if isinstance(value, list):
            for sub in value:
                yield from _same_instance_refs(sub)
    for keyword in ("not", "if", "then", "else"):
        if keyword in schema:
            yield from _same_instance_refs(schema[keyword])
    value = schema.get("dependentSchemas")
    if isinstance(value, dict):
        for sub in value.values():
            yield from _same_instance_refs(sub)


def _has_property_default(schema: Any, seen: Optional[set] = None) -> bool:
    """Does any ``properties`` member anywhere in the document declare a default?"""
    stack = [schema]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict) and any(isinstance(s, dict) and "default" in s for s in props.values()):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


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
