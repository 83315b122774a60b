"""Validation: a JSON-schema-lite compiler, Model/Field records and type hints -> schemas.

- ``compile_schema(schema, coerce=False)`` turns a JSON Schema (draft 2020-12 subset)
  into a function, once; ``validate(instance, schema)`` does the same through a cache.
- ``Model`` and ``Field`` declare records with annotations; ``schema_for`` and
  ``converter_for`` map any supported type hint to a schema and to a JSON -> Python converter.
- ``Validator(rules)`` keeps the rules-dict form of older covet releases.

Every failure raises ``ValidationError`` with all errors as
``{"loc": [...], "msg": str, "type": keyword}``. See docs/validation.md.
"""
import json
import threading
from collections import OrderedDict
from typing import Any, Callable, Tuple

from .._lazy import lazy_exports
from ._errors import SchemaError, ValidationError

# The compiler and the type mapping are imported on first use (PEP 562): an
# app whose parameters are all plain strings never loads them, which keeps
# a server's start-up memory down.
_LAZY = {
    "DEFAULT_MAX_DEPTH": "_compiler", "DEFAULT_MAX_ITEMS": "_compiler",
    "DEFAULT_MAX_STRING_LENGTH": "_compiler", "compile_schema": "_compiler",
    "Model": "_model", "Validator": "_rules",
    "Field": "_types", "converter_for": "_convert", "schema_for": "_schemas", "serializer_for": "_serialize",
}


__getattr__, __dir__ = lazy_exports("covet.validation", _LAZY, globals())

__all__ = [
    "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_ITEMS", "DEFAULT_MAX_STRING_LENGTH", "Field", "Model",
    "SchemaError", "ValidationError", "Validator", "compile_schema", "converter_for", "schema_for",
    "serializer_for", "validate",
]

# Compiled schemas kept by ``validate``: enough for every schema of a large app, bounded so
# that schemas built per request (an anti-pattern) cannot grow memory without limit.
VALIDATE_CACHE_SIZE = 256


class _SchemaCache:
    """A bounded LRU of compiled validators keyed by the schema's canonical JSON text."""

    __slots__ = ("_entries", "_lock", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self._entries: "OrderedDict[Tuple[str, bool], Callable[[Any], Any]]" = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def get(self, schema: Any, coerce: bool) -> Callable[[Any], Any]:
        try:
            text = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise SchemaError("schema is not JSON (%s); use compile_schema() for such schemas" % exc) from None
        key = (text, coerce)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        from ._compiler import compile_schema

        compiled = compile_schema(schema, coerce)
        with self._lock:
            self._entries[key] = compiled
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_cache = _SchemaCache(VALIDATE_CACHE_SIZE)


def validate(instance: Any, schema: Any, coerce: bool = False) -> Any:
    """Validate ``instance`` against ``schema``; return it with defaults filled in.

    Compiled schemas are cached (by their JSON text, at most ``VALIDATE_CACHE_SIZE``);
    on a hot path, keep the function from ``compile_schema`` instead.

    :raises ValidationError: with every error found.
    :raises SchemaError: the schema is invalid or unsupported.

    Example::

        validate({"age": 30}, {"properties": {"age": {"type": "integer"}}})  # {'age': 30}
    """
    return _cache.get(schema, bool(coerce))(instance)
