"""Type hints -> JSON schemas. Models, dataclasses and TypedDicts become named ``$defs`` entries
(``$ref`` handles recursion)."""
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import re
import typing
import uuid
from typing import Any, Dict, List, Optional

from ._errors import SchemaError
from ._serialize import serializer_for
from ._types import (
    BASE64_PATTERN, DICT_ORIGINS, LIST_ORIGINS, MISSING, NONE_TYPE, SET_ORIGINS, Field, describe, is_model, is_record,
    is_union, record_fields, tuple_item, tuple_shape, unwrap,
)

__all__ = ["schema_for"]


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
            raise SchemaError("%s has a value %r that JSON cannot carry" % (describe(where), value))
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
        raise SchemaError("cannot find a free $defs name for %s" % describe(tp))

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
        if is_model(tp) and tp._covet_extra == "forbid":
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
        if tp is None or tp is NONE_TYPE:
            return {"type": "null"}
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if is_union(tp):
            members = [a for a in args if a is not NONE_TYPE]
            branches = [self.schema(a) for a in members]
            if len(members) < len(args):
                branches.append({"type": "null"})
            return branches[0] if len(branches) == 1 else {"anyOf": branches}
        if origin is typing.Literal:
            return _enum_schema([a.value if isinstance(a, enum.Enum) else a for a in args], tp)
        if origin in LIST_ORIGINS or tp in (list, collections.abc.Sequence):
            return self.array(args[0] if args else Any)
        if origin in SET_ORIGINS or tp in (set, frozenset):
            return dict(self.array(args[0] if args else Any), uniqueItems=True)
        if origin is tuple or tp is tuple:
            shape = tuple_shape(tp)
            if shape is None:
                return self.array(tuple_item(tp))
            if not shape:
                return {"type": "array", "maxItems": 0}
            return {"type": "array", "prefixItems": [self.schema(a) for a in shape], "items": False,
                    "minItems": len(shape), "maxItems": len(shape)}
        if origin in DICT_ORIGINS or tp in (dict, collections.abc.Mapping):
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
            if is_record(tp):
                return self.ref(tp)
        raise SchemaError("unsupported annotation %s: use str, int, float, bool, bytes, Decimal, UUID, "
                          "date, datetime, time, an Enum, Literal, Optional/Union, List/Set/Tuple/Dict, "
                          "a Model, a dataclass or a TypedDict" % describe(tp))

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
                          "or a str Enum/Literal)" % describe(key))


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
    if is_record(tp) and not fields:
        name = builder.names[tp]
        if builder.refs[name] == 1:  # not recursive: the record itself is the document
            schema = local.pop(name)
    if local:
        schema = dict(schema)
        schema["$defs"] = local
    return schema

