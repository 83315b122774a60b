"""Cache keys made from a function's arguments or a request, bounded in length; key patterns.

A key is text a reader can recognise (``"shop.views.product(3, currency='USD')"``) unless it
is longer than ``MAX_KEY_LENGTH``: then it is the function name (or prefix) and a SHA-256 of
the rest, so a huge argument or query string cannot make a huge entry in memory or in Redis.

Patterns (``invalidate_pattern("user:*")``) are Redis's glob, one rule for every backend:
``glob_regex`` is the memory backend's matcher, ``glob_escape`` makes text match literally.
"""
import hashlib
import inspect
import re
from typing import Any, Callable, Optional, Pattern

__all__ = ["MAX_KEY_LENGTH", "bounded_key", "key_part", "function_key", "prefixed_key", "glob_escape",
           "glob_regex", "check_pattern"]

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


def prefixed_key(func: Callable[..., Any], key_prefix: str,
                 key_func: Optional[Callable[..., Any]] = None) -> Callable[..., str]:
    """``make_key(*args, **kwargs)`` for ``@cached(key_prefix=..., key_func=...)``: ``"<prefix>:<rest>"``.

    The call is first bound to ``func``'s signature with its defaults filled in, so ``f(1)`` and
    ``f(1, False)`` are one key. ``rest`` is ``str(key_func(*args, **kwargs))`` of those bound
    arguments, or else their ``key_part``s joined by ``:`` (``get_user(123)`` -> ``"user:123"``,
    which ``invalidate_pattern("user:*")`` reaches).

    Example::

        prefixed_key(get_user_with_posts, "user", lambda user_id, posts: "%s:%s" % (user_id, posts))(7)
        # "user:7:False"
    """
    if not isinstance(key_prefix, str) or not key_prefix:
        raise TypeError("key_prefix must be a non-empty str, got %r" % (key_prefix,))
    if key_func is not None and not callable(key_func):
        raise TypeError("key_func must be a callable returning the key's part after the prefix, got %r" % (key_func,))
    try:
        sig: Optional[inspect.Signature] = inspect.signature(func)
    except (TypeError, ValueError):
        sig = None
    head = key_prefix + ":"

    def make_key(*args: Any, **kwargs: Any) -> str:
        if sig is not None:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        if key_func is not None:
            return bounded_key(head, str(key_func(*args, **kwargs)))
        parts = [key_part(a) for a in args]
        parts += ["%s=%s" % (k, key_part(kwargs[k])) for k in sorted(kwargs)]
        return bounded_key(head, ":".join(parts))

    return make_key


# The characters Redis's glob gives a meaning to (util.c stringmatchlen); "\\" escapes them.
_GLOB_SPECIAL = frozenset("*?[]\\")


def glob_escape(text: str) -> str:
    """``text`` as a glob that matches only itself (a cache's own prefix inside a SCAN MATCH pattern).

    Example::

        glob_escape("app[1]:")   # "app\\[1\\]:"
    """
    return "".join("\\" + c if c in _GLOB_SPECIAL else c for c in text)


def glob_regex(pattern: str) -> "Pattern[str]":
    """A compiled regex matching whole keys as Redis's ``MATCH`` does: ``*`` any run, ``?`` one
    character, ``[abc]``/``[a-z]``/``[^abc]`` a class, ``\\x`` the character x. Case-sensitive.
    ``ValueError`` for a ``[`` that is never closed (Redis would read the class to the end).

    Example::

        glob_regex("user:*").match("user:42") is not None   # True
    """
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = i + 1
            negate = j < n and pattern[j] == "^"
            if negate:
                j += 1
            items = []
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\" and j + 1 < n:
                    j += 1
                    items.append(re.escape(pattern[j]))
                elif j + 2 < n and pattern[j + 1] == "-" and pattern[j + 2] != "]":
                    lo, hi = sorted((pattern[j], pattern[j + 2]))  # Redis swaps a reversed range
                    items.append(re.escape(lo) + "-" + re.escape(hi))
                    j += 2
                else:
                    items.append(re.escape(pattern[j]))
                j += 1
            if j >= n:
                raise ValueError("pattern %r has a [ that is never closed" % (pattern,))
            if items:
                out.append("[" + ("^" if negate else "") + "".join(items) + "]")
            else:
                out.append("." if negate else "(?!)")  # "[]" matches nothing, "[^]" anything
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def check_pattern(pattern: Any, allow_all: bool = False) -> str:
    """A pattern ``invalidate_pattern`` accepts: a str, valid glob, not empty and not only ``*``
    (which would remove every entry) unless ``allow_all``.

    Example::

        check_pattern("user:*")          # "user:*"
        check_pattern("*", allow_all=True)
    """
    if not isinstance(pattern, str):
        raise TypeError("pattern must be a str glob such as 'user:*', got %r" % (pattern,))
    if not allow_all and not pattern.strip("*"):
        raise ValueError("pattern %r would remove every entry of the cache; pass allow_all=True if that is "
                         "meant (or call clear())" % (pattern,))
    glob_regex(pattern)  # the same ValueError on every backend for a malformed pattern
    return pattern
