"""The rules the Redis client's settings are checked by, one copy each (parser limits and client settings)."""
from typing import Any

__all__ = ["positive_int", "non_negative_int", "seconds_or_none"]


def positive_int(name: str, value: Any) -> int:
    """``value`` when it is an int >= 1 (not a bool); ValueError naming the setting otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("%s must be a positive integer, got %r" % (name, value))
    return value


def non_negative_int(name: str, value: Any) -> int:
    """``value`` when it is an int >= 0 (not a bool); ValueError naming the setting otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("%s must be a non-negative integer, got %r" % (name, value))
    return value


def seconds_or_none(name: str, value: Any) -> Any:
    """``value`` when it is None (no limit) or a positive number of seconds; ValueError otherwise."""
    if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
        raise ValueError("%s must be a positive number of seconds or None, got %r" % (name, value))
    return value
