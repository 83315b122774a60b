"""The two exceptions of covet.validation: bad data and bad schemas."""
from typing import Any, Dict, List

__all__ = ["SchemaError", "ValidationError"]


class ValidationError(ValueError):
    """An instance did not match its schema; ``errors`` lists every problem found.

    Each error is ``{"loc": [key or index, ...], "msg": str, "type": keyword}``,
    in a stable order (schema keyword order, then property / item order).

    Example::

        try:
            validate({"age": -1}, {"properties": {"age": {"minimum": 0}}})
        except ValidationError as exc:
            exc.errors  # [{'loc': ['age'], 'msg': 'must be greater than or equal to 0', 'type': 'minimum'}]
    """

    def __init__(self, errors: List[Dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        count = len(self.errors)
        lines = ["%d validation error%s" % (count, "" if count == 1 else "s")]
        for error in self.errors:
            where = ".".join(str(part) for part in error.get("loc", ())) or "(root)"
            lines.append("  %s: %s [%s]" % (where, error.get("msg"), error.get("type")))
        return "\n".join(lines)


class SchemaError(ValueError):
    """A schema (or Model, rules dict, annotation) is malformed or uses an unsupported feature.

    Raised once, when the schema is compiled, never while validating data.
    """
