"""Table and column names in SQL: validated, then quoted.

Values reach the database only as parameters (covet has no API that formats a value into SQL).
Names cannot be parameters, so every name the query builder, the ORM and the migrations put into
SQL goes through :func:`quote_identifier`: it accepts a plain identifier (optionally one
``schema.name``), refuses anything else with :class:`InvalidIdentifier`, and returns it
double-quoted, the SQL standard's delimited identifier that SQLite and PostgreSQL share. A name
that came from a request (``?sort=name``) is therefore either a real identifier or an error, never
SQL: ``name; DROP TABLE users`` and ``name" --`` are refused, not escaped.

Example::

    quote_identifier("users")          # '"users"'
    quote_identifier("main.users")     # '"main"."users"'
    quote_identifier('x"; DROP')       # InvalidIdentifier
"""
import re
from typing import Iterable, List

from .errors import InvalidIdentifier

__all__ = ["IDENTIFIER", "MAX_IDENTIFIER_LENGTH", "quote_identifier", "quote_identifiers", "is_identifier"]

#: PostgreSQL truncates names past 63 bytes (NAMEDATALEN - 1); refusing longer ones keeps a name
#: meaning the same thing on every database covet speaks to.
MAX_IDENTIFIER_LENGTH = 63

#: A letter or underscore, then letters, digits, underscores or ``$`` (PostgreSQL's rule for
#: unquoted names, ASCII only).
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")

_cache = {}


def is_identifier(name: object) -> bool:
    """True if ``name`` is a plain identifier covet will quote."""
    return isinstance(name, str) and len(name) <= MAX_IDENTIFIER_LENGTH and IDENTIFIER.match(name) is not None


def quote_identifier(name: str) -> str:
    """``name`` validated and double-quoted; ``schema.name`` becomes ``"schema"."name"``.

    Raises :class:`InvalidIdentifier` for anything but one or two plain identifiers.
    """
    quoted = _cache.get(name)
    if quoted is not None:
        return quoted
    if not isinstance(name, str):
        raise InvalidIdentifier("an SQL name must be a string, not %s" % type(name).__name__)
    parts = name.split(".")
    if len(parts) > 2 or not all(is_identifier(p) for p in parts):
        raise InvalidIdentifier(
            "%r is not a valid SQL name: use letters, digits, _ and $ (not first), at most %d characters"
            % (name[:80], MAX_IDENTIFIER_LENGTH))
    quoted = ".".join('"%s"' % p for p in parts)
    if len(_cache) < 4096:  # names come from code, so few; the bound keeps request-supplied ones from growing it
        _cache[name] = quoted
    return quoted


def quote_identifiers(names: Iterable[str]) -> List[str]:
    """Each name through :func:`quote_identifier`."""
    return [quote_identifier(n) for n in names]
