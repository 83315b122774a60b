"""Validator: the rules-dict form of older covet releases, translated once into a JSON schema."""
from typing import Any, Dict, List, Tuple

from ._compiler import compile_schema
from ._errors import SchemaError

__all__ = ["Validator"]

_TYPES = {"string": "string", "str": "string", "integer": "integer", "int": "integer",
          "number": "number", "float": "number", "boolean": "boolean", "bool": "boolean",
          "array": "array", "list": "array", "object": "object", "dict": "object", "null": "null"}
# rule -> (JSON Schema keyword, the type it implies when the rule gives none)
_KEYWORDS = {
    "min": ("minimum", "number"), "max": ("maximum", "number"),
    "gt": ("exclusiveMinimum", "number"), "lt": ("exclusiveMaximum", "number"),
    "multiple_of": ("multipleOf", "number"),
    "min_length": ("minLength", "string"), "minlength": ("minLength", "string"),
    "max_length": ("maxLength", "string"), "maxlength": ("maxLength", "string"),
    "pattern": ("pattern", "string"), "regex": ("pattern", "string"), "format": ("format", "string"),
    "min_items": ("minItems", "array"), "max_items": ("maxItems", "array"),
    "choices": ("enum", None), "allowed": ("enum", None), "enum": ("enum", None),
    "title": ("title", None), "description": ("description", None),
}
_FORMAT_FLAGS = {"email": "email", "url": "uri", "uri": "uri", "uuid": "uuid", "date": "date",
                 "datetime": "date-time", "ipv4": "ipv4", "ipv6": "ipv6", "hostname": "hostname"}
_OTHER = ("required", "type", "nullable", "default", "items", "fields", "unique")
_KNOWN = sorted(set(_KEYWORDS) | set(_FORMAT_FLAGS) | set(_OTHER))


def _object_schema(rules: Any, where: str) -> Dict[str, Any]:
    if not isinstance(rules, dict):
        raise SchemaError("%s: rules must be a dict of field name -> rule dict, got %r" % (where, rules))
    props: Dict[str, Any] = {}
    required: List[str] = []
    for name, rule in rules.items():
        if not isinstance(name, str):
            raise SchemaError("%s: field names must be strings, got %r" % (where, name))
        schema, is_required = _field_schema(rule, "%s.%s" % (where, name) if where else name)
        props[name] = schema
        if is_required:
            required.append(name)
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _field_schema(rule: Any, where: str) -> Tuple[Dict[str, Any], bool]:
    if not isinstance(rule, dict):
        raise SchemaError("%s: a rule must be a dict such as {'required': True}, got %r" % (where, rule))
    unknown = [key for key in rule if key not in _KNOWN]
    if unknown:
        raise SchemaError("%s: unknown rule %r (known rules: %s)" % (where, unknown[0], ", ".join(_KNOWN)))
    schema: Dict[str, Any] = {}
    implied = None
    if "type" in rule:
        if rule["type"] not in _TYPES:
            raise SchemaError("%s: unknown type %r (use one of %s)" % (where, rule["type"], ", ".join(_TYPES)))
        schema["type"] = _TYPES[rule["type"]]
    for key, value in rule.items():
        if key in _KEYWORDS:
            keyword, kind = _KEYWORDS[key]
            schema[keyword] = value
            implied = implied or kind
        elif key in _FORMAT_FLAGS:
            if value is True:
                schema["format"] = _FORMAT_FLAGS[key]
                implied = implied or "string"
            elif value is not False:
                raise SchemaError("%s: %s must be True or False, got %r" % (where, key, value))
        elif key in ("required", "nullable", "unique"):
            if not isinstance(value, bool):
                raise SchemaError("%s: %s must be True or False, got %r" % (where, key, value))
    if rule.get("unique"):
        schema["uniqueItems"] = True
        implied = implied or "array"
    if "items" in rule:
        schema["items"], _ = _field_schema(rule["items"], where + "[]")
        implied = implied or "array"
    if "fields" in rule:
        schema.update(_object_schema(rule["fields"], where))
    if "type" not in schema and implied:
        schema["type"] = implied
    if rule.get("nullable"):
        if "enum" in schema:
            schema["enum"] = list(schema["enum"]) + [None]
        schema = {"anyOf": [schema, {"type": "null"}]}
    if "default" in rule:
        schema["default"] = rule["default"]
    return schema, rule.get("required", False)


class Validator:
    """Validate dicts with the rules-dict form of older covet docs, compiled once.

    Each field maps to a rule dict: ``required``, ``type`` (string/integer/number/
    boolean/array/object, or str/int/float/bool/list/dict), ``min``/``max``/``gt``/``lt``,
    ``min_length``/``max_length``, ``pattern``, ``email``/``url``/``uuid``/``date``/
    ``datetime`` flags, ``choices``, ``nullable``, ``default``, ``items`` (a rule for list
    items), ``fields`` (nested rules), ``unique``. ``.schema`` is the JSON schema it became.

    Example::

        users = Validator({"name": {"required": True, "max_length": 100},
                           "email": {"required": True, "email": True},
                           "age": {"type": "integer", "min": 0, "max": 150}})
        users.validate({"name": "Ada", "email": "ada@example.com"})
    """

    __slots__ = ("rules", "schema", "_check")

    def __init__(self, rules: Dict[str, Any], *, coerce: bool = False) -> None:
        self.rules = rules
        self.schema = _object_schema(rules, "")
        self._check = compile_schema(self.schema, coerce)

    def validate(self, data: Any) -> Any:
        """Return ``data`` (defaults filled in) or raise ``ValidationError`` with every error."""
        return self._check(data)

    __call__ = validate

    def __repr__(self) -> str:
        return "Validator(%r)" % (self.rules,)
