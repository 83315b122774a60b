"""The parts the query builder assembles statements from: SQL fragments with their values, and
the checks that turn names, orders and row counts into SQL.

A :class:`Fragment` is SQL text with ``?`` placeholders and the values for them, in order. Text
from the code becomes one through :func:`fragment` (placeholders of any accepted style rewritten
by :func:`covet.database.params.to_qmark`); names become one only through
:func:`~covet.database.identifiers.quote_identifier`. :mod:`covet.database.query_builder` is the
public face of these names: import them from there.

Example::

    and_(("age >= ?", 18), in_("role", ["admin", "staff"]))
    # Fragment(sql='(age >= ?) AND ("role" IN (?, ?))', params=(18, 'admin', 'staff'))
"""
from typing import Any, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from covet.database.errors import InvalidIdentifier, ProgrammingError
from covet.database.identifiers import is_identifier, quote_identifier
from covet.database.params import to_qmark

__all__ = [
    "MAX_ROW_COUNT", "Fragment", "Condition", "Column", "fragment", "raw", "as_condition", "combine", "and_", "or_",
    "not_", "in_", "expression", "select_column", "column_list", "expression_list", "alias", "table_reference",
    "order_term", "row_count", "conditions_into", "assignments",
]

#: The largest ``limit``/``offset``: both databases hold them as signed 64-bit integers, and a
#: larger Python int fails inside the driver ("Python int too large to convert to SQLite INTEGER").
MAX_ROW_COUNT = 2 ** 63 - 1


class Fragment(NamedTuple):
    """A piece of SQL with its values, its placeholders already ``?``: what :func:`raw`,
    :func:`and_`, :func:`or_`, :func:`not_` and :func:`in_` return, and what the builder accepts
    wherever it accepts SQL text.

    Example::

        in_("id", [1, 2])        # Fragment(sql='"id" IN (?, ?)', params=(1, 2))
    """
    sql: str
    params: Tuple[Any, ...] = ()


#: A condition: SQL text without values, ``(sql, *values)``, or a Fragment.
Condition = Union[str, Tuple[Any, ...], Fragment]
#: A column or expression: a name (``"name"``, ``"users.name"``, ``"*"``) or a Fragment.
Column = Union[str, Fragment]

_ALWAYS = Fragment("1 = 1")
_NEVER = Fragment("1 = 0")


def fragment(sql: Any, params: Sequence[Any]) -> Fragment:
    """``sql`` (any accepted placeholder style) rewritten to ``?``, with ``params`` in the order of
    its placeholders: ``$n`` reordered, ``:name``/``%(name)s`` taken from one mapping.

    Refuses with :class:`ProgrammingError` a fragment that mixes styles or whose values do not
    match its placeholders, when it is added rather than when the whole statement runs.
    """
    if not isinstance(sql, str):
        raise TypeError("SQL text must be a str, not %s" % type(sql).__name__)
    # to_qmark scans each text once and caches it: fragments come from code, so a handful.
    translation = to_qmark(sql)
    values = tuple(translation.bind(params))
    if len(values) != translation.count:
        raise ProgrammingError("%r has %d placeholder(s) but %d value(s) were given"
                               % (sql, translation.count, len(values)))
    return Fragment(translation.sql, values)


def raw(sql: str, *params: Any) -> Fragment:
    """SQL written in the code, passed through as is: an expression where a name is expected
    (a column, ``order_by``, ``group_by``, an ``update`` value), or a condition.

    Never build ``sql`` from user input; values go in ``params``.

    Example::

        qb.select("orders", ["user_id", raw("count(*) AS n")]).group_by("user_id")
        qb.update("posts", {"views": raw('"views" + ?', 1)}).where("id = ?", post_id)
    """
    return fragment(sql, params)


def as_condition(cond: Any, params: Sequence[Any] = ()) -> Fragment:
    """A :data:`Condition` (SQL text and ``params``, a ``(sql, *values)`` tuple, a Fragment) as a
    Fragment."""
    if isinstance(cond, Fragment):
        if params:
            raise TypeError("a Fragment holds its own values: where(raw(sql, *values)), not where(fragment, *values)")
        return cond
    if isinstance(cond, tuple):
        if params or not cond:
            raise TypeError("a condition tuple is (sql, *values), with no values after it")
        return fragment(cond[0], cond[1:])
    return fragment(cond, params)


def combine(conditions: Sequence[Fragment], operator: str, empty: Fragment) -> Fragment:
    """``conditions`` joined by ``operator`` (``" AND "``, ``" OR "``); ``empty`` when there are none."""
    if not conditions:
        return empty
    if len(conditions) == 1:
        return conditions[0]
    # Each part in parentheses: a part may itself be "a OR b", and AND binds tighter than OR.
    return Fragment(operator.join("(%s)" % c.sql for c in conditions),
                    tuple(v for c in conditions for v in c.params))


def and_(*conditions: Condition) -> Fragment:
    """All of ``conditions``; with none, ``1 = 1`` (true, as an empty conjunction is).

    Example::

        and_(("age >= ?", 18), ("country = ?", "NZ"))   # (age >= ?) AND (country = ?)
    """
    return combine([as_condition(c) for c in conditions], " AND ", _ALWAYS)


def or_(*conditions: Condition) -> Fragment:
    """Any of ``conditions``; with none, ``1 = 0`` (false, as an empty disjunction is).

    Example::

        qb.select("users").where(or_(("role = ?", "admin"), "is_owner"))
    """
    return combine([as_condition(c) for c in conditions], " OR ", _NEVER)


def not_(cond: Condition) -> Fragment:
    """``cond`` negated: ``NOT (...)``.

    Example::

        not_(in_("status", ["banned", "deleted"]))
    """
    c = as_condition(cond)
    return Fragment("NOT (%s)" % c.sql, c.params)


def in_(column: Column, values: Any) -> Fragment:
    """``column IN (?, ...)`` with one parameter per value, or ``column IN (subquery)`` for a
    select statement (or a Fragment holding one).

    An empty list gives ``1 = 0``: it matches no row, as an empty set should, where ``x IN ()``
    would be a syntax error on PostgreSQL (SQL's grammar wants at least one element).

    Example::

        in_("id", [3, 5])                                  # "id" IN (?, ?)
        in_("id", qb.select("orders", ["user_id"]))        # "id" IN (SELECT "user_id" FROM "orders")
    """
    target = expression(column)
    subquery = getattr(values, "sql", None)
    if isinstance(subquery, str):  # a SelectQuery or a Fragment: anything with .sql and .params
        return Fragment("%s IN (%s)" % (target.sql, subquery), target.params + tuple(values.params))
    if isinstance(values, (str, bytes, bytearray, Mapping)) or not isinstance(values, Iterable):
        raise TypeError("in_() takes a list of values or a select, not %s" % type(values).__name__)
    values = tuple(values)
    if not values:
        return _NEVER
    return Fragment("%s IN (%s)" % (target.sql, ", ".join("?" * len(values))), target.params + values)


def expression(item: Any) -> Fragment:
    """A name (quoted) or a Fragment (as is): a group_by term, an in_() column."""
    if isinstance(item, Fragment):
        return item
    return Fragment(quote_identifier(item))


def select_column(item: Any) -> Fragment:
    """A select or returning column: a name, ``*``, ``table.*``, a Fragment, or
    ``(name_or_fragment, alias)``."""
    if isinstance(item, Fragment):  # a Fragment is a tuple too: it must be recognised first
        return item
    if isinstance(item, tuple):
        if len(item) != 2:
            raise InvalidIdentifier("a column with an alias is (column, alias), not %r" % (item,))
        column = select_column(item[0])
        return Fragment("%s AS %s" % (column.sql, alias(item[1])), column.params)
    if item == "*":
        return Fragment("*")
    if isinstance(item, str) and item.endswith(".*"):
        return Fragment(quote_identifier(item[:-2]) + ".*")
    return expression(item)


def column_list(columns: Any) -> Fragment:
    """One column or a list of them (see :func:`select_column`), comma-separated."""
    if isinstance(columns, (str, Fragment)):
        columns = (columns,)
    parts = [select_column(c) for c in columns]
    if not parts:
        raise ValueError("select at least one column (the default is *)")
    return Fragment(", ".join(p.sql for p in parts), tuple(v for p in parts for v in p.params))


def expression_list(items: Sequence[Any]) -> Fragment:
    """Names and Fragments, comma-separated: a ``GROUP BY`` list (no ``*``, no aliases)."""
    parts = [expression(item) for item in items]
    return Fragment(", ".join(p.sql for p in parts), tuple(v for p in parts for v in p.params))


def alias(name: Any) -> str:
    """A table or column alias, quoted: one plain identifier (``schema.name`` names a table, it
    cannot be what a table is called)."""
    if not is_identifier(name):
        raise InvalidIdentifier("%r is not a valid alias: use letters, digits, _ and $ (not first)" % (name,))
    return quote_identifier(name)


def table_reference(table: Any) -> str:
    """``"name"`` or ``("name", "alias")``, quoted."""
    if isinstance(table, tuple):
        if len(table) != 2:
            raise InvalidIdentifier("a table with an alias is (table, alias), not %r" % (table,))
        return "%s AS %s" % (quote_identifier(table[0]), alias(table[1]))
    return quote_identifier(table)


_DIRECTIONS = {"asc": "", "desc": " DESC"}


def order_term(item: Any) -> Fragment:
    """``"name"``, ``"-name"`` (descending), ``("name", "asc" | "desc")`` or a Fragment."""
    if isinstance(item, Fragment):
        return item
    if isinstance(item, tuple):
        if len(item) != 2 or not isinstance(item[1], str) or item[1].lower() not in _DIRECTIONS:
            raise InvalidIdentifier("an order is (column, 'asc' or 'desc'), not %r" % (item,))
        return Fragment(quote_identifier(item[0]) + _DIRECTIONS[item[1].lower()])
    if isinstance(item, str) and item.startswith("-"):
        return Fragment(quote_identifier(item[1:]) + " DESC")
    return Fragment(quote_identifier(item))


def row_count(value: Any, what: str) -> Optional[int]:
    """``value`` checked as a LIMIT or OFFSET: None, or an int from 0 to :data:`MAX_ROW_COUNT`."""
    # bool is an int subclass, and "10" from a query string is not a number yet: both refused,
    # so what reaches the database is exactly the count the code meant.
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ROW_COUNT:
        raise ValueError("%s must be an int from 0 to %d, not %r" % (what, MAX_ROW_COUNT, value))
    return value


def conditions_into(keyword: str, conditions: Sequence[Fragment], parts: List[str], params: List[Any]) -> None:
    """Append ``keyword`` and the ANDed ``conditions`` (if any) to a statement being built."""
    if conditions:
        combined = combine(conditions, " AND ", _ALWAYS)
        parts.append(keyword)
        parts.append(combined.sql)
        params.extend(combined.params)


def assignments(values: Any, verb: str) -> Tuple[List[str], List[Fragment]]:
    """The quoted names and value fragments of one row (``?`` for a value, a Fragment as is)."""
    if not isinstance(values, Mapping):
        raise TypeError("%s takes a mapping of column to value, not %s" % (verb, type(values).__name__))
    names = [quote_identifier(name) for name in values]
    return names, [v if isinstance(v, Fragment) else Fragment("?", (v,)) for v in values.values()]
