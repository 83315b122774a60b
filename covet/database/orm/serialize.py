"""Models as JSON data, and as record types that covet.validation understands.

``to_dict(obj)`` gives the columns as JSON values (ISO 8601 dates, decimals as strings, bytes as
base64) plus the relationships that were loaded, nested; covet's JSON encoder calls ``to_dict()``,
so a handler may return a model instance or a list of them.

covet.validation treats a class with ``__covet_model__ = True`` as a record type when it offers
``_covet_fields()`` (its fields as ``FieldSpec``), ``_from_validated(data)`` (an instance from data
that passed the schema) and ``to_dict()``. Model provides the three from this module, so a model
class works as a ``response_model`` (the output is checked against, and filtered to, the columns),
as a body parameter (``async def create(user: User)``: the body is validated against the columns'
schema, 422 otherwise) and in the OpenAPI document.
"""
from typing import Any, Callable, Dict, List, Optional, Tuple

from .columns import Table
from .expressions import NowFunction
from .state import loaded_of

__all__ = ["to_dict", "field_specs", "from_validated"]


def _columns(obj: Any, table: Table) -> Dict[str, Any]:
    values = obj.__dict__
    out = {}
    for col in table.columns:
        value = values.get(col.key)
        out[col.key] = None if value is None else col.type.to_json(value)
    return out


def to_dict(obj: Any, _path: Optional[set] = None) -> Dict[str, Any]:
    """``obj`` as JSON data: every column by attribute name, then each loaded relationship (an object,
    a list or None). An object met again inside itself (user -> posts -> author, the same user) is
    given by its columns only, so the output is finite."""
    table: Table = type(obj).__table__
    out = _columns(obj, table)
    loaded = loaded_of(obj)
    if not loaded:
        return out
    path = set() if _path is None else _path
    path.add(id(obj))
    for key, value in loaded.items():
        if isinstance(value, list):
            out[key] = [_nested(v, path) for v in value]
        else:
            out[key] = None if value is None else _nested(value, path)
    path.discard(id(obj))
    return out


def _nested(obj: Any, path: set) -> Dict[str, Any]:
    if id(obj) in path:
        return _columns(obj, type(obj).__table__)
    return to_dict(obj, path)


def field_specs(model: Any) -> List[Any]:
    """The columns of ``model`` as covet.validation ``FieldSpec`` records (built once per class)."""
    specs = model.__dict__.get("_covet_field_specs")
    if specs is None:
        specs = [spec for spec, _ in _build(model)]
        model._covet_field_specs = specs
    return specs


def _build(model: Any) -> List[Tuple[Any, Callable[[Any], Any]]]:
    # Imported on first use: only an app that puts a model in a signature or a response_model pays.
    from ...validation import Field, converter_for
    from ...validation._types import MISSING, FieldSpec

    out = []
    table: Table = model.__table__
    for col in table.columns:
        hint: Any = col.type.python_type
        if hint is object:
            hint = Any
        optional = col.nullable or col.is_autoincrement
        if optional and hint is not Any:
            hint = Optional[hint]
        options = col.type.field_options()
        field = Field(**options) if options else None
        default, factory = MISSING, None
        if col.has_default:
            spec_default = col.default
            if isinstance(spec_default, NowFunction) or callable(spec_default):
                factory = col.make_default
            else:
                default = spec_default
        elif optional:
            default = None
        required = default is MISSING and factory is None
        key = col.key or ""
        out.append((FieldSpec(key, key, hint, field, required, default, factory), converter_for(hint)))
    return out


def from_validated(model: Any, data: Dict[str, Any]) -> Any:
    """An instance of ``model`` from JSON data that passed its schema: values converted to their
    Python types (ISO text to datetimes, base64 to bytes), keys that are not columns dropped."""
    converters = model.__dict__.get("_covet_field_converters")
    if converters is None:
        converters = {spec.key: convert for spec, convert in _build(model)}
        model._covet_field_converters = converters
    return model(**{key: converters[key](value) for key, value in data.items() if key in converters})
