"""What covet reads from a type hint: ``Field`` constraints, the bare type under ``Annotated``,
``NewType`` and ``Required``, and the fields of a record (Model, dataclass, TypedDict).

The three walks over an annotation build on these: JSON schemas (``_schemas.py``), JSON -> Python
converters (``_convert.py``) and Python -> JSON serializers (``_serialize.py``).
"""
import collections.abc
import dataclasses
import decimal
import math
import types
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._errors import SchemaError
from ._patterns import pattern_search

__all__ = ["Field", "FieldSpec", "MISSING", "BASE64_PATTERN", "DICT_ORIGINS", "LIST_ORIGINS", "NONE_TYPE",
           "SET_ORIGINS", "describe", "identity", "is_model", "is_record", "is_typeddict", "is_union",
           "record_fields", "tuple_item", "tuple_shape", "unwrap"]

# "No default given": None and ... are both values a field may default to.
MISSING: Any = object()
NONE_TYPE = type(None)
_UNION_TYPE = getattr(types, "UnionType", None)  # int | None, Python 3.10+
_REQUIRED_WRAPPERS = tuple(w for w in (getattr(typing, "Required", None), getattr(typing, "NotRequired", None)) if w)
# RFC 4648 §4 base64 alphabet with padding, written so that the next character always decides
# the way on (a padded quantum must end the string): re runs it without backtracking.
BASE64_PATTERN = "^(?:[A-Za-z0-9+/]{2}(?:[A-Za-z0-9+/](?:[A-Za-z0-9+/]|=$)|==$))*$"
LIST_ORIGINS = (list, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Iterable,
                 collections.abc.Collection)
SET_ORIGINS = (set, frozenset, collections.abc.Set, collections.abc.MutableSet)
DICT_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


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


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and getattr(tp, "__covet_model__", False) is True


def is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def is_record(tp: Any) -> bool:
    return isinstance(tp, type) and (is_model(tp) or dataclasses.is_dataclass(tp) or is_typeddict(tp))


def is_union(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Union or (_UNION_TYPE is not None and isinstance(tp, _UNION_TYPE))


def tuple_shape(tp: Any) -> Optional[Tuple[Any, ...]]:
    """The member types of a fixed-length tuple hint (``()`` for ``Tuple[()]``), None when variadic."""
    args = typing.get_args(tp)
    if tp is tuple or tp is typing.Tuple or (len(args) == 2 and args[1] is Ellipsis):
        return None
    return () if args in ((), ((),)) else args


def tuple_item(tp: Any) -> Any:
    args = typing.get_args(tp)
    return args[0] if args and args[0] != () else Any


def describe(tp: Any) -> str:
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
                          "level before it is first used)" % (describe(tp), exc)) from None


def record_fields(tp: type) -> List[FieldSpec]:
    """The fields of a Model, dataclass or TypedDict, in declaration order."""
    if is_model(tp):
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


def identity(value: Any) -> Any:
    return value
