"""Type hints -> JSON schemas, JSON -> Python converters and Python -> JSON serializers.

One walk over an annotation builds each of the three; Models, dataclasses and
TypedDicts become named ``$defs`` entries (``$ref`` handles recursion). The
converters assume the value already passed the schema, so they never check.
"""
import base64
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import math
import re
import types
import typing
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._compiler import compile_schema
from ._patterns import pattern_search
from ._errors import SchemaError, ValidationError
from ._formats import parse_datetime, parse_time

__all__ = ["Field", "converter_for", "schema_for", "serializer_for",
           # shared with Model (_model.py)
           "MISSING", "FieldSpec", "Converters", "Serializers", "to_int", "unwrap", "needs_serializing"]

# "No default given": None and ... are both values a field may default to.
MISSING: Any = object()
_NONE_TYPE = type(None)
_UNION_TYPE = getattr(types, "UnionType", None)  # int | None, Python 3.10+
_REQUIRED_WRAPPERS = tuple(w for w in (getattr(typing, "Required", None), getattr(typing, "NotRequired", None)) if w)
# RFC 4648 §4 base64 alphabet with padding, written so that the next character always decides
# the way on (a padded quantum must end the string): re runs it without backtracking.
BASE64_PATTERN = "^(?:[A-Za-z0-9+/]{2}(?:[A-Za-z0-9+/](?:[A-Za-z0-9+/]|=$)|==$))*$"
_LIST_ORIGINS = (list, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Iterable,
                 collections.abc.Collection)
_SET_ORIGINS = (set, frozenset, collections.abc.Set, collections.abc.MutableSet)
_DICT_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


class Field:
    """Constraints and metadata of one Model field (or of ``Annotated[T, Field(...)]``).

    ``default`` (or ``default_factory``) makes the field optional; ``alias`` is its
    key in JSON. ``gt``/``ge``/``lt``/``le``/``multiple_of`` bound numbers;
    ``min_length``/``max_length`` bound strings (and lists/dicts);
    ``min_items``/``max_items`` bound lists; ``pattern`` and ``format`` check strings.

    Example::

        class Task(Model):
            title: str = Field(min_length=1, max_length=200)
            priority: int = Field(1, ge=1, le=5)
    """

    __slots__ = ("default", "default_factory", "alias", "title", "description", "examples", "gt", "ge",
                 "lt", "le", "multiple_of", "min_length", "max_length", "pattern", "min_items",
                 "max_items", "format")

    def __init__(self, default: Any = ..., *, default_factory: Optional[Callable[[], Any]] = None,
                 alias: Optional[str] = None, title: Optional[str] = None, description: Optional[str] = None,
                 examples: Optional[list] = None, gt: Any = None, ge: Any = None, lt: Any = None, le: Any = None,
                 multiple_of: Any = None, min_length: Optional[int] = None, max_length: Optional[int] = None,
                 pattern: Optional[str] = None, min_items: Optional[int] = None, max_items: Optional[int] = None,
                 format: Optional[str] = None) -> None:
        if default is not ... and default_factory is not None:
            raise TypeError("Field() takes a default or a default_factory, not both")
        if default_factory is not None and not callable(default_factory):
            raise TypeError("default_factory must be callable, got %r" % (default_factory,))
        for name, value in (("alias", alias), ("title", title), ("description", description), ("format", format)):
            if value is not None and not isinstance(value, str):
                raise TypeError("Field(%s=...) must be a string, got %r" % (name, value))
        if examples is not None and not isinstance(examples, list):
            raise TypeError("Field(examples=...) must be a list, got %r" % (examples,))
        for name, value in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le), ("multiple_of", multiple_of)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal))
                                      or not math.isfinite(value)):
                raise TypeError("Field(%s=...) must be a finite number, got %r" % (name, value))
        if multiple_of is not None and multiple_of <= 0:
            raise ValueError("Field(multiple_of=...) must be greater than 0, got %r" % (multiple_of,))
        for name, value in (("min_length", min_length), ("max_length", max_length),
                            ("min_items", min_items), ("max_items", max_items)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise TypeError("Field(%s=...) must be a non-negative integer, got %r" % (name, value))
        if pattern is not None:
            pattern_search(pattern, "Field(pattern=...)")
        self.default, self.default_factory, self.alias = default, default_factory, alias
        self.title, self.description, self.examples = title, description, examples
        self.gt, self.ge, self.lt, self.le, self.multiple_of = gt, ge, lt, le, multiple_of
        self.min_length, self.max_length, self.pattern = min_length, max_length, pattern
        self.min_items, self.max_items, self.format = min_items, max_items, format

    def __repr__(self) -> str:
        set_ = ["%s=%r" % (n, getattr(self, n)) for n in self.__slots__
                if getattr(self, n) is not (... if n == "default" else None)]
        return "Field(%s)" % ", ".join(set_)

    def merged(self, other: "Field") -> "Field":
        """A Field with ``other``'s settings where it sets them, this one's elsewhere."""
        out = Field.__new__(Field)
        for name in self.__slots__:
            mine, theirs = getattr(self, name), getattr(other, name)
            unset = ... if name == "default" else None
            setattr(out, name, theirs if theirs is not unset else mine)
        if other.default is not ... and other.default_factory is None:
            out.default_factory = None
        if other.default_factory is not None:
            out.default = ...
        return out

    @property
    def has_default(self) -> bool:
        """True when a default or default_factory makes the field optional."""
        return self.default is not ... or self.default_factory is not None


# ---------------------------------------------------------------- annotation helpers

def unwrap(tp: Any) -> Tuple[Any, List[Field]]:
    """(bare type, Fields from Annotated metadata), with NewType and Required/NotRequired peeled off."""
    found: List[Field] = []
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            found.extend(m for m in tp.__metadata__ if isinstance(m, Field))
            tp = tp.__origin__
        elif _REQUIRED_WRAPPERS and typing.get_origin(tp) in _REQUIRED_WRAPPERS:
            tp = typing.get_args(tp)[0]
        elif callable(tp) and hasattr(tp, "__supertype__"):  # typing.NewType
            tp = tp.__supertype__
        else:
            return tp, found


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and getattr(tp, "__covet_model__", False) is True


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and (_is_model(tp) or dataclasses.is_dataclass(tp) or _is_typeddict(tp))


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Union or (_UNION_TYPE is not None and isinstance(tp, _UNION_TYPE))


def _tuple_shape(tp: Any) -> Optional[Tuple[Any, ...]]:
    """The member types of a fixed-length tuple hint (``()`` for ``Tuple[()]``), None when variadic."""
    args = typing.get_args(tp)
    if tp is tuple or tp is typing.Tuple or (len(args) == 2 and args[1] is Ellipsis):
        return None
    return () if args in ((), ((),)) else args


def _tuple_item(tp: Any) -> Any:
    args = typing.get_args(tp)
    return args[0] if args and args[0] != () else Any


def _describe(tp: Any) -> str:
    return getattr(tp, "__qualname__", None) or repr(tp)


class FieldSpec:
    """One field of a record type: Python name, JSON key, annotation, default."""

    __slots__ = ("name", "key", "hint", "field", "required", "default", "factory")

    def __init__(self, name: str, key: str, hint: Any, field: Optional[Field], required: bool,
                 default: Any = MISSING, factory: Optional[Callable[[], Any]] = None) -> None:
        self.name, self.key, self.hint, self.field = name, key, hint, field
        self.required, self.default, self.factory = required, default, factory


def _hints(tp: type) -> Dict[str, Any]:
    try:
        return typing.get_type_hints(tp, include_extras=True, localns={tp.__name__: tp})
    except NameError as exc:
        raise SchemaError("cannot resolve the annotations of %s: %s (define the names it uses at module "
                          "level before it is first used)" % (_describe(tp), exc)) from None


def record_fields(tp: type) -> List[FieldSpec]:
    """The fields of a Model, dataclass or TypedDict, in declaration order."""
    if _is_model(tp):
        return tp._covet_fields()
    hints = _hints(tp)
    specs = []
    if dataclasses.is_dataclass(tp):
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            hint = hints.get(f.name, Any)
            _, fields = unwrap(hint)
            # ``text: str = Field(min_length=1)`` in a dataclass, as in a Model: the Field is the
            # field's constraints and its default, not a default value to hand the handler.
            raw = f.default if isinstance(f.default, Field) else None
            field = _merge_fields(fields + ([raw] if raw is not None else []))
            if raw is not None:
                factory = raw.default_factory
                default = raw.default if raw.default is not ... and factory is None else MISSING
            else:
                default = f.default if f.default is not dataclasses.MISSING else MISSING
                factory = f.default_factory if f.default_factory is not dataclasses.MISSING else None
            key = field.alias if field is not None and field.alias else f.name
            specs.append(FieldSpec(f.name, key, hint, raw, default is MISSING and factory is None,
                                    default, factory))
        return specs
    required_keys = tp.__required_keys__
    for name, hint in hints.items():
        specs.append(FieldSpec(name, name, hint, None, name in required_keys))
    return specs


def _merge_fields(fields: List[Field]) -> Optional[Field]:
    merged = None
    for field in fields:
        merged = field if merged is None else merged.merged(field)
    return merged


# ---------------------------------------------------------------- schemas

def _json_number(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _apply_field(schema: dict, field: Field) -> dict:
    """Add a Field's constraints (to the non-null branch of an Optional) and its annotations."""
    target = schema
    optional = (list(schema) == ["anyOf"] and len(schema["anyOf"]) == 2
                and schema["anyOf"][1] == {"type": "null"})
    if optional:
        target = schema["anyOf"][0]
    kind = target.get("type")
    constraints: Dict[str, Any] = {}
    for attr, keyword in (("gt", "exclusiveMinimum"), ("ge", "minimum"), ("lt", "exclusiveMaximum"),
                          ("le", "maximum"), ("multiple_of", "multipleOf")):
        value = getattr(field, attr)
        if value is not None:
            constraints[keyword] = _json_number(value)
    low, high = (("minItems", "maxItems") if kind == "array" else
                 ("minProperties", "maxProperties") if kind == "object" else ("minLength", "maxLength"))
    if field.min_length is not None:
        constraints[low] = field.min_length
    if field.max_length is not None:
        constraints[high] = field.max_length
    if field.min_items is not None:
        constraints["minItems"] = field.min_items
    if field.max_items is not None:
        constraints["maxItems"] = field.max_items
    if field.pattern is not None:
        constraints["pattern"] = field.pattern
    if field.format is not None:
        constraints["format"] = field.format
    if constraints:
        target = dict(target, **constraints)
        schema = {"anyOf": [target, {"type": "null"}]} if optional else target
    notes = {k: getattr(field, k) for k in ("title", "description", "examples") if getattr(field, k) is not None}
    return dict(schema, **notes) if notes else schema


def _enum_schema(values: List[Any], where: Any) -> dict:
    for value in values:
        if not (value is None or isinstance(value, (str, int, float, bool))):
            raise SchemaError("%s has a value %r that JSON cannot carry" % (_describe(where), value))
    kinds = []
    for value in values:
        kind = ("null" if value is None else "boolean" if isinstance(value, bool) else
                "integer" if isinstance(value, int) else "number" if isinstance(value, float) else "string")
        if kind not in kinds:
            kinds.append(kind)
    schema: Dict[str, Any] = {}
    if kinds:  # a declared type lets coerce mode turn "1" into 1 for Literal[1, 2]
        schema["type"] = kinds[0] if len(kinds) == 1 else kinds
    if len(values) == 1:
        schema["const"] = values[0]
    else:
        schema["enum"] = list(values)
    return schema


class _SchemaBuilder:
    def __init__(self, defs: Dict[str, Any], ref_template: str) -> None:
        self.defs = defs
        self.template = ref_template
        self.names: Dict[Any, str] = {}
        self.refs: Dict[str, int] = {}

    def ref(self, tp: type) -> dict:
        name = self.names.get(tp)
        if name is None:
            name = self.define(tp)
        self.refs[name] = self.refs.get(name, 0) + 1
        return {"$ref": self.template.format(name=name)}

    def define(self, tp: type) -> str:
        candidates = [tp.__name__, re.sub(r"[^A-Za-z0-9_.-]", "_", "%s.%s" % (tp.__module__, tp.__qualname__))]
        for attempt in range(100):
            name = candidates[attempt] if attempt < 2 else "%s_%d" % (candidates[1], attempt)
            if name in self.names.values():
                continue  # taken by another type in this document
            self.names[tp] = name
            schema = self.record_schema(tp)
            existing = self.defs.get(name, MISSING)
            if existing is MISSING or existing == schema:
                self.defs[name] = schema
                return name
            del self.names[tp]
        raise SchemaError("cannot find a free $defs name for %s" % _describe(tp))

    def record_schema(self, tp: type) -> dict:
        schema: Dict[str, Any] = {"type": "object", "title": tp.__name__}
        doc = tp.__dict__.get("__doc__")
        if doc and not (dataclasses.is_dataclass(tp) and doc.startswith(tp.__name__ + "(")):
            schema["description"] = inspect.cleandoc(doc)
        props: Dict[str, Any] = {}
        required = []
        for spec in record_fields(tp):
            prop = self.schema(spec.hint)
            if spec.field is not None:
                prop = _apply_field(prop, spec.field)
            if spec.default is not MISSING:
                default = _json_default(spec.hint, spec.default)
                if default is not MISSING:
                    prop = dict(prop, default=default)
            props[spec.key] = prop
            if spec.required:
                required.append(spec.key)
        schema["properties"] = props
        if required:
            schema["required"] = required
        if _is_model(tp) and tp._covet_extra == "forbid":
            schema["additionalProperties"] = False
        return schema

    def schema(self, hint: Any) -> dict:
        tp, fields = unwrap(hint)
        schema = self.bare(tp)
        for field in fields:
            schema = _apply_field(schema, field)
        return schema

    def bare(self, tp: Any) -> dict:
        if tp is Any or tp is object or tp is inspect.Parameter.empty:
            return {}
        if tp is None or tp is _NONE_TYPE:
            return {"type": "null"}
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if _is_union(tp):
            members = [a for a in args if a is not _NONE_TYPE]
            branches = [self.schema(a) for a in members]
            if len(members) < len(args):
                branches.append({"type": "null"})
            return branches[0] if len(branches) == 1 else {"anyOf": branches}
        if origin is typing.Literal:
            return _enum_schema([a.value if isinstance(a, enum.Enum) else a for a in args], tp)
        if origin in _LIST_ORIGINS or tp in (list, collections.abc.Sequence):
            return self.array(args[0] if args else Any)
        if origin in _SET_ORIGINS or tp in (set, frozenset):
            return dict(self.array(args[0] if args else Any), uniqueItems=True)
        if origin is tuple or tp is tuple:
            shape = _tuple_shape(tp)
            if shape is None:
                return self.array(_tuple_item(tp))
            if not shape:
                return {"type": "array", "maxItems": 0}
            return {"type": "array", "prefixItems": [self.schema(a) for a in shape], "items": False,
                    "minItems": len(shape), "maxItems": len(shape)}
        if origin in _DICT_ORIGINS or tp in (dict, collections.abc.Mapping):
            schema: Dict[str, Any] = {"type": "object"}
            if args:
                names = self.key_schema(args[0])
                if names:
                    schema["propertyNames"] = names
                values = self.schema(args[1])
                if values:
                    schema["additionalProperties"] = values
            return schema
        if origin is typing.ClassVar:
            raise SchemaError("ClassVar %r is not a field" % (tp,))
        if isinstance(tp, (str, typing.ForwardRef)):
            raise SchemaError("unresolved forward reference %r" % (tp,))
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return _enum_schema([m.value for m in tp], tp)
            if tp is bool:
                return {"type": "boolean"}
            if tp is int:
                return {"type": "integer"}
            if tp is float:
                return {"type": "number"}
            if tp is str:
                return {"type": "string"}
            if tp in (bytes, bytearray):
                return {"type": "string", "contentEncoding": "base64", "pattern": BASE64_PATTERN}
            if tp is decimal.Decimal:
                return {"type": ["number", "string"], "format": "decimal"}
            if tp is uuid.UUID:
                return {"type": "string", "format": "uuid"}
            if tp is datetime.datetime:
                return {"type": "string", "format": "date-time"}
            if tp is datetime.date:
                return {"type": "string", "format": "date"}
            if tp is datetime.time:
                return {"type": "string", "format": "time"}
            if _is_record(tp):
                return self.ref(tp)
        raise SchemaError("unsupported annotation %s: use str, int, float, bool, bytes, Decimal, UUID, "
                          "date, datetime, time, an Enum, Literal, Optional/Union, List/Set/Tuple/Dict, "
                          "a Model, a dataclass or a TypedDict" % _describe(tp))

    def array(self, item: Any) -> dict:
        items = self.schema(item)
        return {"type": "array", "items": items} if items else {"type": "array"}

    def key_schema(self, key: Any) -> dict:
        tp, _ = unwrap(key)
        if tp is str or tp is Any:
            return {}
        if tp is int:
            return {"pattern": "^-?[0-9]+$"}
        if tp is uuid.UUID:
            return {"format": "uuid"}
        if (isinstance(tp, type) and issubclass(tp, enum.Enum)) or typing.get_origin(tp) is typing.Literal:
            schema = self.bare(tp)
            if schema.get("type") == "string":
                return schema
        raise SchemaError("unsupported dict key type %s: JSON object keys are strings (use str, int, UUID "
                          "or a str Enum/Literal)" % _describe(key))


def _json_default(hint: Any, default: Any) -> Any:
    """The default as JSON for the schema, or MISSING when it has no JSON form."""
    try:
        value = serializer_for(hint)(default)
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError, SchemaError):
        return MISSING


def schema_for(annotation: Any, *, defs: Optional[Dict[str, Any]] = None,
               ref_template: str = "#/$defs/{name}") -> Dict[str, Any]:
    """The JSON schema of a type hint; Models, dataclasses and TypedDicts go to ``$defs``.

    Without ``defs`` the result stands alone (a record type at the top is inlined,
    with ``$defs`` for the others). With a ``defs`` dict (an OpenAPI
    ``components/schemas``), every record type is added there and referenced
    through ``ref_template``.

    Example::

        schema_for(Optional[List[int]])
        # {'anyOf': [{'type': 'array', 'items': {'type': 'integer'}}, {'type': 'null'}]}
    """
    if defs is not None:
        return _SchemaBuilder(defs, ref_template).schema(annotation)
    local: Dict[str, Any] = {}
    builder = _SchemaBuilder(local, "#/$defs/{name}")
    schema = builder.schema(annotation)
    tp, fields = unwrap(annotation)
    if _is_record(tp) and not fields:
        name = builder.names[tp]
        if builder.refs[name] == 1:  # not recursive: the record itself is the document
            schema = local.pop(name)
    if local:
        schema = dict(schema)
        schema["$defs"] = local
    return schema


# ---------------------------------------------------------------- JSON -> Python

def to_int(value: Any) -> int:
    """A validated integer as int (JSON may have spelled it 3.0)."""
    return value if type(value) is int else int(value)


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, float):
        return decimal.Decimal(repr(value))  # the decimal the JSON text spelled, not the binary float
    return decimal.Decimal(value)


def _b64decode(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _literal_int(value: Any) -> Any:
    return int(value) if type(value) is float else value


def _maybe(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


class Converters:
    """Builds JSON -> Python converters, one per record type however often it recurs.

    Example::

        Converters().build(List[datetime.date])(["2024-02-29"])  # [datetime.date(2024, 2, 29)]
    """

    def __init__(self) -> None:
        self.records: Dict[Any, Callable[[Any], Any]] = {}

    def build(self, hint: Any) -> Optional[Callable[[Any], Any]]:
        """A converter, or None when the validated JSON value already is the Python value."""
        tp, _ = unwrap(hint)
        if tp is Any or tp is object or tp is None or tp is _NONE_TYPE or tp is inspect.Parameter.empty:
            return None
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if _is_union(tp):
            return self.union(args)
        if origin is typing.Literal:
            values = [a.value if isinstance(a, enum.Enum) else a for a in args]
            members = {a.value: a for a in args if isinstance(a, enum.Enum)}
            if members:
                return lambda value: members.get(value, value)
            if any(type(v) is int for v in values):
                return _literal_int
            return None
        if origin in _LIST_ORIGINS or tp in (list, collections.abc.Sequence):
            item = self.build(args[0]) if args else None
            return list if item is None else (lambda value: [item(v) for v in value])
        if origin in _SET_ORIGINS or tp in (set, frozenset):
            kind = frozenset if (origin or tp) is frozenset else set
            if args and not _hashable(args[0]):
                raise SchemaError("set items must be hashable, %s is not" % _describe(args[0]))
            item = self.build(args[0]) if args else None
            return kind if item is None else (lambda value: kind([item(v) for v in value]))
        if origin is tuple or tp is tuple:
            shape = _tuple_shape(tp)
            if shape is None:
                item = self.build(_tuple_item(tp))
                return tuple if item is None else (lambda value: tuple([item(v) for v in value]))
            if not shape:
                return tuple
            each = [self.build(a) or _identity for a in shape]
            return lambda value: tuple([c(v) for c, v in zip(each, value)])
        if origin in _DICT_ORIGINS or tp in (dict, collections.abc.Mapping):
            key = self.build(args[0]) if args else None
            item = self.build(args[1]) if args else None
            if key is None and item is None:
                return dict
            key, item = key or _identity, item or _identity
            return lambda value: {key(k): item(v) for k, v in value.items()}
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return tp
            if tp is int:
                return to_int
            if tp is float:
                return float
            if tp in (bool, str):
                return None
            if tp is bytes:
                return _b64decode
            if tp is bytearray:
                return lambda value: bytearray(_b64decode(value))
            if tp is decimal.Decimal:
                return _to_decimal
            if tp is uuid.UUID:
                return uuid.UUID
            if tp is datetime.datetime:
                return parse_datetime
            if tp is datetime.date:
                return datetime.date.fromisoformat
            if tp is datetime.time:
                return parse_time
            if _is_model(tp):
                spec = tp.__dict__.get("_covet_spec_")  # prepared: call its builder directly (PERF)
                return spec.build if spec is not None else tp._from_validated
            if _is_record(tp):
                return self.record(tp)
        raise SchemaError("unsupported annotation %s" % _describe(tp))

    def union(self, args: Tuple[Any, ...]) -> Optional[Callable[[Any], Any]]:
        members = [a for a in args if a is not _NONE_TYPE]
        converters = [self.build(a) for a in members]
        if len(members) == 1:
            return None if converters[0] is None else _maybe(converters[0])
        if all(c is None for c in converters):
            return None
        # The first member whose schema accepts the value decides, as anyOf validated it.
        checks = [_compile_for(a) for a in members]
        pairs = list(zip(checks, [c or _identity for c in converters]))

        def convert(value: Any) -> Any:
            if value is None:
                return None
            for check, conv in pairs:
                try:
                    check(value)
                except ValidationError:
                    continue
                return conv(value)
            return value
        return convert

    def record(self, tp: type) -> Callable[[Any], Any]:
        found = self.records.get(tp)
        if found is not None:
            return found
        cell: List[Callable[[Any], Any]] = []
        self.records[tp] = lambda value: cell[0](value)  # a recursive reference resolves later
        specs = record_fields(tp)
        plan = [(spec.name, spec.key, self.build(spec.hint) or _identity) for spec in specs]
        if dataclasses.is_dataclass(tp):
            # Optional fields declared with Field(...): the dataclass's own default would be the
            # Field object, so a missing key gets the Field's default (or factory) here.
            fills = [(spec.name, spec.key, spec.factory if spec.factory is not None else _constant(spec.default))
                     for spec in specs if spec.field is not None and not spec.required]

            def convert(value: Any) -> Any:
                kwargs = {name: conv(value[key]) for name, key, conv in plan if key in value}
                for name, key, make in fills:
                    if key not in value:
                        kwargs[name] = make()
                return tp(**kwargs)
        else:
            def convert(value: Any) -> Any:
                return {key: conv(value[key]) for _, key, conv in plan if key in value}
        cell.append(convert)
        self.records[tp] = convert
        return convert


def _hashable(hint: Any) -> bool:
    """Can converted values of this type go into a set? (Models, dicts and lists cannot.)"""
    tp, _ = unwrap(hint)
    origin = typing.get_origin(tp)
    if _is_union(tp):
        return all(_hashable(a) for a in typing.get_args(tp))
    if origin in _LIST_ORIGINS or origin in _DICT_ORIGINS or origin in (set, collections.abc.Set,
                                                                         collections.abc.MutableSet):
        return False
    if origin is tuple:
        return all(_hashable(a) for a in typing.get_args(tp) if a is not Ellipsis)
    if tp in (list, dict, set, Any, object) or _is_model(tp) or _is_typeddict(tp):
        return False
    if dataclasses.is_dataclass(tp):
        return tp.__hash__ is not None
    return True


def _identity(value: Any) -> Any:
    return value


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _compile_for(annotation: Any) -> Callable[[Any], Any]:
    """A validator for one member of a Union, used to pick the member that converts a value."""
    return compile_schema(schema_for(annotation), defaults=False)


def converter_for(annotation: Any) -> Callable[[Any], Any]:
    """A function turning a value already valid for ``schema_for(annotation)`` into its Python form.

    ISO strings become date/datetime/time, strings UUID/Decimal/Enum, base64 bytes,
    dicts Model/dataclass instances, lists sets/tuples. Build it once; it does not validate.

    Example::

        to_python = converter_for(List[datetime.date])
        to_python(["2024-02-29"])  # [datetime.date(2024, 2, 29)]
    """
    return Converters().build(annotation) or _identity


# ---------------------------------------------------------------- Python -> JSON

def _sorted_list(values: Any) -> list:
    items = list(values)
    try:
        items.sort()
    except TypeError:
        pass
    return items


class Serializers:
    """Builds Python -> JSON serializers (the inverse of Converters), one per record type.

    Example::

        Serializers().build(Dict[str, datetime.date])({"due": datetime.date(2024, 2, 29)})
        # {'due': '2024-02-29'}
    """

    def __init__(self) -> None:
        self.records: Dict[Any, Callable[[Any], Any]] = {}
        self.keyed: Dict[Any, Dict[str, Callable[[Any], Any]]] = {}

    def build(self, hint: Any) -> Optional[Callable[[Any], Any]]:
        """A serializer, or None when values of this type are JSON as they are (str, int, ...)."""
        tp, _ = unwrap(hint)
        if tp is Any or tp is object or tp is None or tp is _NONE_TYPE or tp is inspect.Parameter.empty:
            return None
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if _is_union(tp):
            parts = [p for p in (self.build(a) for a in args if a is not _NONE_TYPE) if p is not None]
            if not parts:
                return None
            if len(parts) == 1:
                return parts[0]

            def union(value: Any) -> Any:
                for part in parts:
                    out = part(value)
                    if out is not value:
                        return out
                return value
            return union
        if origin is typing.Literal:
            if any(isinstance(a, enum.Enum) for a in args):
                return _enum_value
            return None
        sequence = (origin in _LIST_ORIGINS or tp in (list, collections.abc.Sequence) or origin in _SET_ORIGINS
                    or tp in (set, frozenset) or origin is tuple or tp is tuple)
        if sequence:
            shape = _tuple_shape(tp) if (origin is tuple or tp is tuple) else None
            if shape is not None:
                each = [self.build(a) or _identity for a in shape]

                def fixed(value: Any) -> Any:
                    if not isinstance(value, (list, tuple)):
                        return value
                    return [c(v) for c, v in zip(each, value)] + list(value[len(each):])
                return fixed
            item = self.build(_tuple_item(tp) if (origin is tuple or tp is tuple) else args[0] if args else Any)
            item = item or _identity
            unordered = origin in _SET_ORIGINS or tp in (set, frozenset)

            def many(value: Any) -> Any:
                if isinstance(value, (set, frozenset)) or (unordered and isinstance(value, (list, tuple))):
                    return [item(v) for v in _sorted_list(value)]
                if isinstance(value, (list, tuple)):
                    return [item(v) for v in value]
                return value
            return many
        if origin in _DICT_ORIGINS or tp in (dict, collections.abc.Mapping):
            key = (self.build(args[0]) if args else None) or _identity
            if args and unwrap(args[0])[0] is int:
                key = _int_key
            item = (self.build(args[1]) if args else None) or _identity

            def mapping(value: Any) -> Any:
                if isinstance(value, collections.abc.Mapping):
                    return {key(k): item(v) for k, v in value.items()}
                return value
            return mapping
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return _enum_value
            if tp in (int, float, bool, str):
                return None
            if tp in (bytes, bytearray):
                return _b64encode
            if tp is decimal.Decimal:
                return lambda value: str(value) if isinstance(value, decimal.Decimal) else value
            if tp is uuid.UUID:
                return lambda value: str(value) if isinstance(value, uuid.UUID) else value
            if tp is datetime.datetime:
                return lambda value: value.isoformat() if isinstance(value, datetime.datetime) else value
            if tp is datetime.date:
                return lambda value: value.isoformat() if isinstance(value, datetime.date) else value
            if tp is datetime.time:
                return lambda value: value.isoformat() if isinstance(value, datetime.time) else value
            if _is_model(tp):
                fields = self.by_key(tp)

                def model(value: Any) -> Any:
                    if isinstance(value, tp):
                        return value.to_dict()
                    if getattr(type(value), "__covet_model__", False):
                        # A record of another type (an ORM instance under response_model=UserOut):
                        # its data, which the schema then checks and the conversion filters.
                        value = value.to_dict()
                    if isinstance(value, dict):  # a handler's dict in the model's shape
                        return {k: fields.get(k, _identity)(v) for k, v in value.items()}
                    return value
                return model
            if _is_record(tp):
                return self.record(tp)
        raise SchemaError("unsupported annotation %s" % _describe(tp))

    def by_key(self, tp: type) -> Dict[str, Callable[[Any], Any]]:
        """Field serializers of a record by JSON key and by attribute name, for a dict in its shape.

        Filled once the record's own serializer is built (recursive records refer to themselves).
        """
        found = self.keyed.get(tp)
        if found is None:
            found = self.keyed[tp] = {}
            for spec in record_fields(tp):
                conv = self.build(spec.hint)
                if conv is not None:
                    found[spec.key] = found[spec.name] = conv
        return found

    def record(self, tp: type) -> Callable[[Any], Any]:
        found = self.records.get(tp)
        if found is not None:
            return found
        cell: List[Callable[[Any], Any]] = []
        self.records[tp] = lambda value: cell[0](value)
        plan = [(spec.name, spec.key, self.build(spec.hint) or _identity) for spec in record_fields(tp)]
        if dataclasses.is_dataclass(tp):
            fields = self.by_key(tp)

            def serialize(value: Any) -> Any:
                if isinstance(value, dict):  # a handler's dict in the dataclass's shape
                    return {k: fields.get(k, _identity)(v) for k, v in value.items()}
                if not isinstance(value, tp):
                    return value
                return {key: conv(getattr(value, name)) for name, key, conv in plan}
        else:
            def serialize(value: Any) -> Any:
                if not isinstance(value, dict):
                    return value
                return {key: conv(value[key]) for _, key, conv in plan if key in value}
        cell.append(serialize)
        self.records[tp] = serialize
        return serialize


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _b64encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


def _int_key(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def serializer_for(annotation: Any) -> Callable[[Any], Any]:
    """The inverse of ``converter_for``: a Python value of that type to plain JSON data.

    Values that are already JSON pass through unchanged, so it is safe on mixed input;
    containers are always copied.

    Example::

        serializer_for(Dict[str, datetime.date])({"due": datetime.date(2024, 2, 29)})
        # {'due': '2024-02-29'}
    """
    return Serializers().build(annotation) or _identity


def needs_serializing(annotation: Any) -> bool:
    """Can a Python value of this type differ from its JSON form (dates, Enums, Models...)?"""
    tp, _ = unwrap(annotation)
    if tp is Any or tp is object or tp is None or tp is _NONE_TYPE:
        return False
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if _is_union(tp) or origin in _LIST_ORIGINS or origin in _DICT_ORIGINS:
        return any(needs_serializing(a) for a in args)
    if origin is typing.Literal:
        return any(isinstance(a, enum.Enum) for a in args)
    if _is_typeddict(tp):
        return any(needs_serializing(spec.hint) for spec in record_fields(tp))
    return not (tp in (int, float, bool, str, list, dict) or tp in _LIST_ORIGINS or tp in _DICT_ORIGINS)
