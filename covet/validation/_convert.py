"""JSON -> Python converters. They assume the value already passed the schema, so they never check."""
import base64
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import inspect
import typing
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._compiler import compile_schema
from ._errors import SchemaError, ValidationError
from ._formats import parse_datetime, parse_time
from ._schemas import schema_for
from ._types import (
    DICT_ORIGINS, LIST_ORIGINS, NONE_TYPE, SET_ORIGINS, describe, identity, is_model, is_record, is_typeddict, is_union,
    record_fields, tuple_item, tuple_shape, unwrap,
)

__all__ = ["Converters", "converter_for", "to_int"]


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
        if tp is Any or tp is object or tp is None or tp is NONE_TYPE or tp is inspect.Parameter.empty:
            return None
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if is_union(tp):
            return self.union(args)
        if origin is typing.Literal:
            values = [a.value if isinstance(a, enum.Enum) else a for a in args]
            members = {a.value: a for a in args if isinstance(a, enum.Enum)}
            if members:
                return lambda value: members.get(value, value)
            if any(type(v) is int for v in values):
                return _literal_int
            return None
        if origin in LIST_ORIGINS or tp in (list, collections.abc.Sequence):
            item = self.build(args[0]) if args else None
            return list if item is None else (lambda value: [item(v) for v in value])
        if origin in SET_ORIGINS or tp in (set, frozenset):
            kind = frozenset if (origin or tp) is frozenset else set
            if args and not _hashable(args[0]):
                raise SchemaError("set items must be hashable, %s is not" % describe(args[0]))
            item = self.build(args[0]) if args else None
            return kind if item is None else (lambda value: kind([item(v) for v in value]))
        if origin is tuple or tp is tuple:
            shape = tuple_shape(tp)
            if shape is None:
                item = self.build(tuple_item(tp))
                return tuple if item is None else (lambda value: tuple([item(v) for v in value]))
            if not shape:
                return tuple
            each = [self.build(a) or identity for a in shape]
            return lambda value: tuple([c(v) for c, v in zip(each, value)])
        if origin in DICT_ORIGINS or tp in (dict, collections.abc.Mapping):
            key = self.build(args[0]) if args else None
            item = self.build(args[1]) if args else None
            if key is None and item is None:
                return dict
            key, item = key or identity, item or identity
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
            if is_model(tp):
                spec = tp.__dict__.get("_covet_spec_")  # prepared: call its builder directly (PERF)
                return spec.build if spec is not None else tp._from_validated
            if is_record(tp):
                return self.record(tp)
        raise SchemaError("unsupported annotation %s" % describe(tp))

    def union(self, args: Tuple[Any, ...]) -> Optional[Callable[[Any], Any]]:
        members = [a for a in args if a is not NONE_TYPE]
        converters = [self.build(a) for a in members]
        if len(members) == 1:
            return None if converters[0] is None else _maybe(converters[0])
        if all(c is None for c in converters):
            return None
        # The first member whose schema accepts the value decides, as anyOf validated it.
        checks = [_compile_for(a) for a in members]
        pairs = list(zip(checks, [c or identity for c in converters]))

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
        plan = [(spec.name, spec.key, self.build(spec.hint) or identity) for spec in specs]
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
    if is_union(tp):
        return all(_hashable(a) for a in typing.get_args(tp))
    if origin in LIST_ORIGINS or origin in DICT_ORIGINS or origin in (set, collections.abc.Set,
                                                                         collections.abc.MutableSet):
        return False
    if origin is tuple:
        return all(_hashable(a) for a in typing.get_args(tp) if a is not Ellipsis)
    if tp in (list, dict, set, Any, object) or is_model(tp) or is_typeddict(tp):
        return False
    if dataclasses.is_dataclass(tp):
        return tp.__hash__ is not None
    return True


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
    return Converters().build(annotation) or identity

