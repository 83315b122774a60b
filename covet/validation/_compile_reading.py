"""What the schema compiler reads from a schema before writing code for it: where a ``$ref``
leads, the declared types, a property's default, and whether validating can change the value."""
from typing import Any, List, Optional, Tuple
from urllib.parse import unquote

from ._errors import SchemaError
from ._keywords import ACTIVE, COERCIBLE, MISSING, TYPES, UNSUPPORTED
from ._source import type_test

__all__ = ["SchemaReading", "has_property_default"]


class SchemaReading:
    """Mixin of the schema compiler: questions about the schema, answered at compile time.

    Uses the compiler's ``root``, ``coerce``, ``defaults``, ``any_change``, ``cycle_checked``
    and ``change_memo``. Example: with ``root = {"$defs": {"n": {"type": "integer"}}}``,
    ``self.resolve("#/$defs/n")`` is ``("#/$defs/n", {"type": "integer"})``.
    """

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
        if not isinstance(types, (list, tuple)) or not types or any(t not in TYPES for t in types):
            raise SchemaError("type must be one of %s or a non-empty list of them, got %r" % (", ".join(TYPES), raw))
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
        return MISSING

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
        if self.coerce and types and COERCIBLE.intersection(types):
            return True
        props = schema.get("properties")
        if self.defaults and isinstance(props, dict):
            if any(self.default_of(sub) is not MISSING for sub in props.values()):
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
        if not isinstance(schema, dict) or any(k in ACTIVE and k != "type" for k in schema):
            return None
        if any(k in schema for k in UNSUPPORTED):
            return None
        types = self.types_of(schema)
        if types is None:
            return "True"
        if self.coerce and COERCIBLE.intersection(types):
            return None
        return type_test(types, x)

    def declared_types(self, schema: Any) -> Optional[Tuple[str, ...]]:
        if isinstance(schema, dict):
            types = self.types_of(schema)
            if types is not None:
                return types
            if set(schema) & ACTIVE == {"$ref"}:
                return self.declared_types(self.resolve(schema["$ref"])[1])
        return None


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


def has_property_default(schema: Any, seen: Optional[set] = None) -> bool:
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
