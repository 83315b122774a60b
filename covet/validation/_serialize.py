"""Python -> JSON serializers, and whether a type needs one at all."""
import base64
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import inspect
import typing
import uuid
from typing import Any, Callable, Dict, List, Optional

from ._errors import SchemaError
from ._types import (
    DICT_ORIGINS, LIST_ORIGINS, NONE_TYPE, SET_ORIGINS, describe, identity, is_model, is_record, is_typeddict, is_union,
    record_fields, tuple_item, tuple_shape, unwrap,
)

__all__ = ["Serializers", "needs_serializing", "serializer_for"]


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
        if tp is Any or tp is object or tp is None or tp is NONE_TYPE or tp is inspect.Parameter.empty:
            return None
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if is_union(tp):
            parts = [p for p in (self.build(a) for a in args if a is not NONE_TYPE) if p is not None]
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
        sequence = (origin in LIST_ORIGINS or tp in (list, collections.abc.Sequence) or origin in SET_ORIGINS
                    or tp in (set, frozenset) or origin is tuple or tp is tuple)
        if sequence:
            shape = tuple_shape(tp) if (origin is tuple or tp is tuple) else None
            if shape is not None:
                each = [self.build(a) or identity for a in shape]

                def fixed(value: Any) -> Any:
                    if not isinstance(value, (list, tuple)):
                        return value
                    return [c(v) for c, v in zip(each, value)] + list(value[len(each):])
                return fixed
            item = self.build(tuple_item(tp) if (origin is tuple or tp is tuple) else args[0] if args else Any)
            item = item or identity
            unordered = origin in SET_ORIGINS or tp in (set, frozenset)

            def many(value: Any) -> Any:
                if isinstance(value, (set, frozenset)) or (unordered and isinstance(value, (list, tuple))):
                    return [item(v) for v in _sorted_list(value)]
                if isinstance(value, (list, tuple)):
                    return [item(v) for v in value]
                return value
            return many
        if origin in DICT_ORIGINS or tp in (dict, collections.abc.Mapping):
            key = (self.build(args[0]) if args else None) or identity
            if args and unwrap(args[0])[0] is int:
                key = _int_key
            item = (self.build(args[1]) if args else None) or identity

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
            if is_model(tp):
                fields = self.by_key(tp)

                def model(value: Any) -> Any:
                    if isinstance(value, tp):
                        return value.to_dict()
                    if getattr(type(value), "__covet_model__", False):
                        # A record of another type (an ORM instance under response_model=UserOut):
                        # its data, which the schema then checks and the conversion filters.
                        value = value.to_dict()
                    if isinstance(value, dict):  # a handler's dict in the model's shape
                        return {k: fields.get(k, identity)(v) for k, v in value.items()}
                    return value
                return model
            if is_record(tp):
                return self.record(tp)
        raise SchemaError("unsupported annotation %s" % describe(tp))

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
        plan = [(spec.name, spec.key, self.build(spec.hint) or identity) for spec in record_fields(tp)]
        if dataclasses.is_dataclass(tp):
            fields = self.by_key(tp)

            def serialize(value: Any) -> Any:
                if isinstance(value, dict):  # a handler's dict in the dataclass's shape
                    return {k: fields.get(k, identity)(v) for k, v in value.items()}
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
    return Serializers().build(annotation) or identity


def needs_serializing(annotation: Any) -> bool:
    """Can a Python value of this type differ from its JSON form (dates, Enums, Models...)?"""
    tp, _ = unwrap(annotation)
    if tp is Any or tp is object or tp is None or tp is NONE_TYPE:
        return False
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if is_union(tp) or origin in LIST_ORIGINS or origin in DICT_ORIGINS:
        return any(needs_serializing(a) for a in args)
    if origin is typing.Literal:
        return any(isinstance(a, enum.Enum) for a in args)
    if is_typeddict(tp):
        return any(needs_serializing(spec.hint) for spec in record_fields(tp))
    return not (tp in (int, float, bool, str, list, dict) or tp in LIST_ORIGINS or tp in DICT_ORIGINS)
