"""Model: a record class declared with annotations and validated by one compiled schema.

Everything is prepared once per class, when it is defined: the field list, the
JSON schema, the compiled validator, the converters and serializers. Building
an instance is then: rename aliases, serialize Python-only values (dates,
Enums, nested Models) to JSON form, run the compiled validator, convert.
A class whose annotations name a class defined later is prepared on first use.
"""
import copy
import datetime
import decimal
import enum
import inspect
import json
import threading
import typing
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..core._codegen import Emitter
from ._compiler import compile_schema
from ._errors import SchemaError
from ._convert import Converters, to_int
from ._schemas import schema_for
from ._serialize import Serializers, needs_serializing
from ._types import MISSING, Field, FieldSpec, unwrap

__all__ = ["Model"]

# Preparing a class may run on several threads at its first use; one lock makes it happen once.
_BUILD_LOCK = threading.RLock()
_RESERVED = frozenset(("parse", "to_dict", "to_json", "json_schema"))
_IMMUTABLE = (type(None), bool, int, float, str, bytes, decimal.Decimal, uuid.UUID, datetime.date,
              datetime.time, datetime.timedelta, enum.Enum)


class _Unresolved(Exception):
    """An annotation names something not defined yet: prepare the class on first use."""


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.replace("typing.", "").startswith("ClassVar")
    return annotation is typing.ClassVar or typing.get_origin(annotation) is typing.ClassVar


def _immutable(value: Any) -> bool:
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(v) for v in value)
    return isinstance(value, _IMMUTABLE)


class _Spec:
    """What a Model class needs at run time, computed once."""

    __slots__ = ("names", "schema", "validate", "values", "build", "renames", "prepass", "out", "source")

    def __init__(self, cls: type, fields: List[FieldSpec]) -> None:
        self.names = [f.name for f in fields]
        self.schema = schema_for(cls)
        self.validate = compile_schema(self.schema, defaults=False)
        converters, serializers = Converters(), Serializers()
        self.values, self.build, self.source = _generate(cls, fields, converters)
        self.renames = [(f.name, f.key) for f in fields if f.name != f.key]
        self.out = [(f.name, f.key, serializers.build(f.hint)) for f in fields]
        self.prepass = [(key, ser) for (name, key, ser), f in zip(self.out, fields)
                        if ser is not None and needs_serializing(f.hint)]


def _generate(cls: type, fields: List[FieldSpec], converters: Converters) -> Tuple[Callable, Callable, str]:
    """Generate ``values(data)`` (attribute -> converted value, defaults included) and ``build(data)``
    (a new instance holding them) for data that passed the class's schema.

    PERF: one dict display per instance instead of a loop over the fields.
    """
    namespace: Dict[str, Any] = {"_deepcopy": copy.deepcopy, "_new": object.__new__, "_cls": cls}
    items = []
    for index, f in enumerate(fields):
        convert = converters.build(f.hint)
        if convert is to_int:
            value = "(_v if type(_v := d[%r]) is int else int(_v))" % f.key
        elif convert is not None:
            namespace["c%d" % index] = convert
            value = "c%d(d[%r])" % (index, f.key)
        else:
            value = "d[%r]" % f.key
        if not f.required:
            value = "%s if %r in d else %s" % (value, f.key, _default_code(f, index, namespace))
        items.append("%r: %s" % (f.name, value))
    display = "{%s}" % ", ".join(items)
    e = Emitter()
    with e.block("def values(d)"):
        e.line("return %s" % display)
    e.line("")
    with e.block("def build(d)"):
        e.line("obj = _new(_cls)")
        e.line("obj.__dict__ = %s" % display)
        e.line("return obj")
    source = e.source()
    exec(compile(source, "<covet Model %s>" % cls.__qualname__, "exec"), namespace)
    return namespace["values"], namespace["build"], source


def _default_code(f: FieldSpec, index: int, namespace: Dict[str, Any]) -> str:
    """An expression giving a fresh default each time: defaults are never shared by instances."""
    if f.factory is not None:
        namespace["f%d" % index] = f.factory
        return "f%d()" % index
    default = f.default
    namespace["D%d" % index] = default
    if _immutable(default):
        return "D%d" % index
    if type(default) in (list, dict) and not default:
        return "[]" if type(default) is list else "{}"
    return "_deepcopy(D%d)" % index


def _resolve_fields(cls: type) -> List[FieldSpec]:
    try:
        hints = typing.get_type_hints(cls, include_extras=True, localns={cls.__name__: cls})
    except NameError as exc:
        raise _Unresolved("%s: %s" % (cls.__qualname__, exc)) from None
    fields = []
    keys: Dict[str, str] = {}
    for name, raw in cls._covet_raw_.items():
        hint = hints[name]
        _, annotated = unwrap(hint)
        field = None
        for extra in annotated + ([raw] if isinstance(raw, Field) else []):
            field = extra if field is None else field.merged(extra)
        default, factory = MISSING, None
        if isinstance(raw, Field) or (raw is MISSING and field is not None):
            if field is not None and field.default_factory is not None:
                factory = field.default_factory
            elif field is not None and field.default is not ...:
                default = field.default
        elif raw is not MISSING:
            default = raw
        key = field.alias if field is not None and field.alias else name
        if key in keys:
            raise SchemaError("%s: fields %r and %r both use the JSON key %r" % (cls.__qualname__, keys[key], name, key))
        keys[key] = name
        fields.append(FieldSpec(name, key, hint, raw if isinstance(raw, Field) else None,
                                 default is MISSING and factory is None, default, factory))
    return fields


def _prepare(cls: type) -> _Spec:
    if cls is Model:
        raise TypeError("Model has no fields: subclass it")
    with _BUILD_LOCK:
        spec = cls.__dict__.get("_covet_spec_")
        if spec is None:
            try:
                spec = _Spec(cls, cls._covet_fields())
            except _Unresolved as exc:
                raise SchemaError("cannot resolve the annotations of %s (define every class it names "
                                  "before using it)" % exc) from None
            cls._covet_spec_ = spec
        return spec


class Model:
    """Base class for validated records declared with type annotations.

    Each annotated attribute is a field; its default (a value or ``Field(...)``)
    makes it optional. ``Task(**data)`` and ``Task.parse(obj)`` validate through
    the compiled schema and raise ``ValidationError`` with every error; values are
    converted to their annotation (ISO strings to dates, str to UUID/Enum...).
    Defaults are copied for each instance. Pass ``extra="forbid"`` in the class
    line to reject unknown keys (they are ignored by default). Assigning to an
    attribute later is not validated.

    Example::

        class Task(Model):
            title: str = Field(min_length=1, max_length=200)
            priority: int = Field(1, ge=1, le=5)
            tags: List[str] = []
            due: Optional[date] = None

        task = Task.parse({"title": "Write docs", "due": "2026-12-01"})
        task.due           # datetime.date(2026, 12, 1)
        task.to_dict()     # {'title': 'Write docs', 'priority': 1, 'tags': [], 'due': '2026-12-01'}
    """

    __covet_model__ = False
    _covet_extra = "ignore"
    _covet_raw_: Dict[str, Any] = {}
    _covet_fields_: Optional[List[FieldSpec]] = None
    _covet_spec_: Optional[_Spec] = None

    def __init_subclass__(cls, extra: Optional[str] = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if extra is not None:
            if extra not in ("ignore", "forbid"):
                raise TypeError("extra must be 'ignore' or 'forbid', got %r" % (extra,))
            cls._covet_extra = extra
        cls.__covet_model__ = True
        raw: Dict[str, Any] = {}
        for base in reversed(cls.__mro__[1:]):
            raw.update(base.__dict__.get("_covet_raw_", {}))
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.startswith("_") or _is_classvar(annotation):
                continue
            if name in _RESERVED:
                raise TypeError("%s: a field cannot be named %r (a Model method)" % (cls.__qualname__, name))
            value = cls.__dict__.get(name, MISSING)
            if value is not MISSING:
                if isinstance(value, (staticmethod, classmethod, property)) or inspect.isfunction(value):
                    raise TypeError("%s.%s is annotated as a field but defined as a method"
                                    % (cls.__qualname__, name))
                # The default lives in the field list, not on the class: an instance can never
                # fall back to one shared (mutable) class attribute.
                delattr(cls, name)
            raw[name] = value
        cls._covet_raw_ = raw
        cls._covet_fields_ = None
        cls._covet_spec_ = None
        try:
            _prepare_or_defer(cls)
        except _Unresolved:
            pass

    @classmethod
    def _covet_fields(cls) -> List[FieldSpec]:
        fields = cls.__dict__.get("_covet_fields_")
        if fields is None:
            with _BUILD_LOCK:
                fields = cls.__dict__.get("_covet_fields_") or _resolve_fields(cls)
                cls._covet_fields_ = fields
        return fields

    @classmethod
    def _from_validated(cls, data: Dict[str, Any]) -> "Model":
        """An instance from data that already passed this class's schema (no checks)."""
        return (cls.__dict__.get("_covet_spec_") or _prepare(cls)).build(data)

    def __init__(self, /, **data: Any) -> None:  # positional-only: a field may be called "self"
        spec = type(self).__dict__.get("_covet_spec_") or _prepare(type(self))
        for name, key in spec.renames:
            if name in data:
                if key in data:
                    raise TypeError("%s() got both %r and its alias %r" % (type(self).__name__, name, key))
                data[key] = data.pop(name)
        for key, serialize in spec.prepass:
            if key in data:
                data[key] = serialize(data[key])
        self.__dict__.update(spec.values(spec.validate(data)))

    @classmethod
    def parse(cls, obj: Any) -> "Model":
        """Validate JSON data (a dict) and build an instance; an instance is returned as is.

        :raises ValidationError: with every error, ``loc`` relative to the object.
        """
        if isinstance(obj, cls):
            return obj
        spec = cls.__dict__.get("_covet_spec_") or _prepare(cls)
        return spec.build(spec.validate(obj))

    @classmethod
    def json_schema(cls) -> Dict[str, Any]:
        """The JSON schema of this Model (nested records under ``$defs``); a copy, safe to modify."""
        spec = cls.__dict__.get("_covet_spec_") or _prepare(cls)
        return copy.deepcopy(spec.schema)

    def to_dict(self) -> Dict[str, Any]:
        """The instance as plain JSON data, keyed by alias; ``Task.parse(t.to_dict()) == t``."""
        spec = type(self).__dict__.get("_covet_spec_") or _prepare(type(self))
        values = self.__dict__
        return {key: values[name] if serialize is None else serialize(values[name])
                for name, key, serialize in spec.out}

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as JSON text (compact, UTF-8 kept); keyword arguments go to ``json.dumps``."""
        options: Dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}
        options.update(kwargs)
        return json.dumps(self.to_dict(), **options)

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        spec = type(self).__dict__.get("_covet_spec_") or _prepare(type(self))
        values = self.__dict__
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % (name, values.get(name)) for name in spec.names))


def _prepare_or_defer(cls: type) -> None:
    """Prepare now; let _Unresolved through so the class is prepared on first use instead."""
    with _BUILD_LOCK:
        cls._covet_fields_ = _resolve_fields(cls)
        cls._covet_spec_ = _Spec(cls, cls._covet_fields_)

