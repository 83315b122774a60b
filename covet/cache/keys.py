"""Cache keys made from a function's arguments or a request, bounded in length.

A key is text a reader can recognise (``"shop.views.product(3, currency='USD')"``) unless it
is longer than ``MAX_KEY_LENGTH``: then it is the function name (or prefix) and a SHA-256 of
the rest, so a huge argument or query string cannot make a huge entry in memory or in Redis.
"""
import hashlib
from typing import Any, Callable

__all__ = ["MAX_KEY_LENGTH", "bounded_key", "key_part", "function_key"]

# Longer keys are hashed. 200 characters keep every readable key a reader would write by hand
# and bound what a key costs in memory and on the wire.
MAX_KEY_LENGTH = 200

_PLAIN_TYPES = frozenset((str, int, float, bool, type(None), bytes))


def bounded_key(prefix: str, rest: str) -> str:
    """``prefix + rest``, or ``prefix + "sha256:" + hex digest of rest`` when that is over ``MAX_KEY_LENGTH``."""
    if len(prefix) + len(rest) <= MAX_KEY_LENGTH:
        return prefix + rest
    return prefix + "sha256:" + hashlib.sha256(rest.encode("utf-8", "surrogatepass")).hexdigest()


def key_part(value: Any) -> str:
    """A stable text for one argument: the repr of str, bytes, numbers, bool, None and
    lists/tuples/dicts/sets of them (dicts and sets sorted); ``TypeError`` for anything else."""
    t = type(value)
    if t in _PLAIN_TYPES:
        return repr(value)
    if t is tuple:
        inner = ", ".join(key_part(v) for v in value)
        return "(" + inner + ("," if len(value) == 1 else "") + ")"
    if t is list:
        return "[" + ", ".join(key_part(v) for v in value) + "]"
    if t is dict:
        items = sorted((key_part(k), key_part(v)) for k, v in value.items())
        return "{" + ", ".join("%s: %s" % kv for kv in items) + "}"
    if t is set or t is frozenset:
        return t.__name__ + "({" + ", ".join(sorted(key_part(v) for v in value)) + "})"
    raise TypeError("cannot build a cache key from a %s argument; pass key= to cached()" % t.__name__)


def function_key(func: Callable[..., Any]) -> Callable[..., str]:
    """``make_key(*args, **kwargs)`` for ``func``: its qualified name and its arguments.

    Example::

        function_key(load_user)(3, full=True)   # "app.users.load_user(3, full=True)"
    """
    name = "%s.%s(" % (func.__module__, func.__qualname__)

    def make_key(*args: Any, **kwargs: Any) -> str:
        parts = [key_part(a) for a in args]
        parts += ["%s=%s" % (k, key_part(kwargs[k])) for k in sorted(kwargs)]
        return bounded_key(name, ", ".join(parts) + ")")

    return make_key
