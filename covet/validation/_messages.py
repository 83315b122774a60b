"""The text of validation error messages, built once at compile time."""
import json
from decimal import Decimal
from typing import Any, Sequence

__all__ = ["enum_msg", "json_number", "json_text", "plural", "type_names"]


def json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def plural(count: int, noun: str, nouns: str = "") -> str:
    return "%d %s" % (count, noun if count == 1 else (nouns or noun + "s"))


def type_names(types: Sequence[str]) -> str:
    names = list(types)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def enum_msg(values: Sequence[Any]) -> str:
    text = ", ".join(json_text(value) for value in values)
    if len(text) > 200:
        text = text[:197] + "..."
    return "must be one of: " + text


def json_number(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    return json_text(value)
