"""SQL expressions built with Python operators: ``User.email == x`` is a condition, not a bool.

A column on a model class (``User.email``) is an :class:`Operand`: comparing it with a value gives a
:class:`ClauseElement` that renders as SQL with a ``?`` placeholder and carries the value as a
parameter, converted to its stored form by the column's type (a datetime becomes the same UTC text
the column holds, so comparisons on SQLite compare like with like). Names reach SQL only through
``quote_identifier``; values only as parameters.

Conditions combine with ``&``, ``|`` and ``~`` (or ``and_``, ``or_``, ``not_``). Python's own
``and``/``or``/``not`` would silently keep one side, so a condition refuses to be a bool.

Example::

    cond = (User.email == "a@b.c") | User.name.like("A%")
    compiler = Compiler("sqlite")
    compiler.render(cond)   # '("users"."email" = ? OR "users"."name" LIKE ?)'
    compiler.params         # ['a@b.c', 'A%']
"""
import abc
from typing import Any, Iterable, List, Optional

from ..identifiers import is_identifier
from .dialects import POSTGRESQL
from .errors import InvalidValue
from .types import DateTime, utc_now

__all__ = ["Compiler", "ClauseElement", "Operand", "BindValue", "BinaryExpression", "BooleanClause", "Not",
           "IsNull", "InList", "Between", "Ordering", "FunctionCall", "NowFunction", "Func", "func",
           "and_", "or_", "not_"]


class Compiler:
    """Renders elements of one statement and collects their parameters, in order."""

    __slots__ = ("dialect", "params")

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.params: List[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def render(self, element: "ClauseElement") -> str:
        return element.compile(self)


class ClauseElement(abc.ABC):
    """A piece of SQL with its parameters. Combine with ``&`` (AND), ``|`` (OR), ``~`` (NOT)."""

    __slots__ = ()

    @abc.abstractmethod
    def compile(self, compiler: Compiler) -> str:
        """This element's SQL, its values added to ``compiler``'s parameters."""

    def __and__(self, other: Any) -> "ClauseElement":
        return and_(self, other)

    def __rand__(self, other: Any) -> "ClauseElement":
        return and_(other, self)

    def __or__(self, other: Any) -> "ClauseElement":
        return or_(self, other)

    def __ror__(self, other: Any) -> "ClauseElement":
        return or_(other, self)

    def __invert__(self) -> "ClauseElement":
        return Not(self)

    def __bool__(self) -> bool:
        raise TypeError("an SQL condition has no truth value: combine conditions with & and | (or and_(), "
                        "or_()), not with Python's and/or, and test columns with .is_(None), not `is None`")

    def __repr__(self) -> str:
        compiler = Compiler("sqlite")
        return "<%s %s %r>" % (type(self).__name__, self.compile(compiler), compiler.params)


def _condition(value: Any) -> ClauseElement:
    if not isinstance(value, ClauseElement):
        raise TypeError("expected an SQL condition such as User.id == 1, got %r" % (value,))
    return value


class Operand(ClauseElement):
    """Something that compares: a column, a function call. ``type`` (a TypeEngine or None) converts
    the values it is compared with."""

    __slots__ = ()
    type: Any = None

    def _bind(self, value: Any) -> ClauseElement:
        return value if isinstance(value, ClauseElement) else BindValue(value, self)

    def __eq__(self, other: Any) -> ClauseElement:  # type: ignore[override]
        if other is None:
            return IsNull(self, negate=False)
        return BinaryExpression(self, "=", self._bind(other))

    def __ne__(self, other: Any) -> ClauseElement:  # type: ignore[override]
        if other is None:
            return IsNull(self, negate=True)
        return BinaryExpression(self, "<>", self._bind(other))

    def __lt__(self, other: Any) -> ClauseElement:
        return BinaryExpression(self, "<", self._bind(other))

    def __le__(self, other: Any) -> ClauseElement:
        return BinaryExpression(self, "<=", self._bind(other))

    def __gt__(self, other: Any) -> ClauseElement:
        return BinaryExpression(self, ">", self._bind(other))

    def __ge__(self, other: Any) -> ClauseElement:
        return BinaryExpression(self, ">=", self._bind(other))

    # Defining __eq__ would make instances unhashable; columns are used as dict keys by identity.
    __hash__ = ClauseElement.__hash__

    def in_(self, values: Iterable[Any]) -> ClauseElement:
        """``column IN (?, ?, ...)``; an empty list matches nothing."""
        return InList(self, [self._bind(v) for v in _values(values)], negate=False)

    def not_in(self, values: Iterable[Any]) -> ClauseElement:
        """``column NOT IN (?, ...)``; an empty list matches everything."""
        return InList(self, [self._bind(v) for v in _values(values)], negate=True)

    def like(self, pattern: str, escape: Optional[str] = None) -> ClauseElement:
        """``column LIKE ?`` (``%`` any run, ``_`` one character); ``escape`` names the character that
        makes them literal. Case-insensitive for ASCII on SQLite, case-sensitive on PostgreSQL."""
        return BinaryExpression(self, "LIKE", _pattern(pattern, escape))

    def ilike(self, pattern: str, escape: Optional[str] = None) -> ClauseElement:
        """Case-insensitive LIKE (ILIKE on PostgreSQL; SQLite's LIKE already ignores ASCII case)."""
        return BinaryExpression(self, "ILIKE", _pattern(pattern, escape))

    def not_like(self, pattern: str, escape: Optional[str] = None) -> ClauseElement:
        """``column NOT LIKE ?``."""
        return BinaryExpression(self, "NOT LIKE", _pattern(pattern, escape))

    def is_(self, value: None) -> ClauseElement:
        """``column IS NULL`` (only None: ``== x`` compares with values)."""
        if value is not None:
            raise TypeError(".is_() takes None only (IS NULL); compare values with ==")
        return IsNull(self, negate=False)

    def is_not(self, value: None) -> ClauseElement:
        """``column IS NOT NULL``."""
        if value is not None:
            raise TypeError(".is_not() takes None only (IS NOT NULL); compare values with !=")
        return IsNull(self, negate=True)

    isnot = is_not

    def between(self, low: Any, high: Any) -> ClauseElement:
        """``column BETWEEN ? AND ?`` (both ends included)."""
        return Between(self, self._bind(low), self._bind(high))

    def asc(self) -> "Ordering":
        """Ascending, for ``order_by``."""
        return Ordering(self, descending=False)

    def desc(self) -> "Ordering":
        """Descending, for ``order_by``."""
        return Ordering(self, descending=True)

    def describe(self) -> str:
        return type(self).__name__


def _values(values: Any) -> List[Any]:
    if isinstance(values, (str, bytes, bytearray)) or not hasattr(values, "__iter__"):
        raise TypeError("in_() takes a list of values, not %r" % (values,))
    return list(values)


class _Pattern(ClauseElement):
    __slots__ = ("pattern", "escape")

    def __init__(self, pattern: str, escape: Optional[str]) -> None:
        self.pattern, self.escape = pattern, escape

    def compile(self, compiler: Compiler) -> str:
        sql = compiler.bind(self.pattern)
        if self.escape is not None:
            sql += " ESCAPE " + compiler.bind(self.escape)
        return sql


def _pattern(pattern: Any, escape: Optional[str]) -> ClauseElement:
    if not isinstance(pattern, str):
        raise TypeError("a LIKE pattern must be a string, got %r" % (pattern,))
    if escape is not None and (not isinstance(escape, str) or len(escape) != 1):
        raise TypeError("escape must be one character, got %r" % (escape,))
    return _Pattern(pattern, escape)


class BindValue(ClauseElement):
    """A value as a parameter, converted by the type of the operand it is compared with."""

    __slots__ = ("value", "target")

    def __init__(self, value: Any, target: Optional[Operand] = None) -> None:
        self.value, self.target = value, target

    def compile(self, compiler: Compiler) -> str:
        value = self.value
        type_ = getattr(self.target, "type", None)
        if type_ is not None and value is not None:
            try:
                value = type_.bind(value, compiler.dialect)
            except InvalidValue as exc:
                # The developer compared a column with a value of another type (a str from the
                # query string against an Integer column, say): convert it first.
                raise TypeError("%s is compared with %r, which %s" % (
                    self.target.describe() if self.target is not None else "a column", value, exc.msg)) from None
        return compiler.bind(value)


_OPERATORS = frozenset(("=", "<>", "<", "<=", ">", ">=", "LIKE", "ILIKE", "NOT LIKE"))


class BinaryExpression(ClauseElement):
    """``left op right`` for one of the comparison operators."""

    __slots__ = ("left", "op", "right")

    def __init__(self, left: ClauseElement, op: str, right: ClauseElement) -> None:
        if op not in _OPERATORS:
            raise ValueError("unknown SQL operator %r" % (op,))
        self.left, self.op, self.right = left, op, right

    def compile(self, compiler: Compiler) -> str:
        op = self.op
        if op == "ILIKE" and compiler.dialect != POSTGRESQL:
            op = "LIKE"  # SQLite has no ILIKE; its LIKE ignores ASCII case already
        return "%s %s %s" % (self.left.compile(compiler), op, self.right.compile(compiler))


class BooleanClause(ClauseElement):
    """Conditions joined by AND or OR, parenthesised."""

    __slots__ = ("op", "clauses")

    def __init__(self, op: str, clauses: List[ClauseElement]) -> None:
        self.op, self.clauses = op, clauses

    def compile(self, compiler: Compiler) -> str:
        return "(%s)" % (" %s " % self.op).join(c.compile(compiler) for c in self.clauses)


class Not(ClauseElement):
    """``NOT (condition)``."""

    __slots__ = ("clause",)

    def __init__(self, clause: ClauseElement) -> None:
        self.clause = _condition(clause)

    def compile(self, compiler: Compiler) -> str:
        return "NOT (%s)" % self.clause.compile(compiler)


class IsNull(ClauseElement):
    """``x IS NULL`` / ``x IS NOT NULL``."""

    __slots__ = ("element", "negate")

    def __init__(self, element: ClauseElement, negate: bool) -> None:
        self.element, self.negate = element, negate

    def compile(self, compiler: Compiler) -> str:
        return "%s IS %sNULL" % (self.element.compile(compiler), "NOT " if self.negate else "")


class InList(ClauseElement):
    """``x IN (...)``; empty lists render as a constant condition (``IN ()`` is not SQL)."""

    __slots__ = ("element", "values", "negate")

    def __init__(self, element: ClauseElement, values: List[ClauseElement], negate: bool) -> None:
        self.element, self.values, self.negate = element, values, negate

    def compile(self, compiler: Compiler) -> str:
        if not self.values:
            return "1 = 1" if self.negate else "1 = 0"
        return "%s %sIN (%s)" % (self.element.compile(compiler), "NOT " if self.negate else "",
                                 ", ".join(v.compile(compiler) for v in self.values))


class Between(ClauseElement):
    """``x BETWEEN low AND high``."""

    __slots__ = ("element", "low", "high")

    def __init__(self, element: ClauseElement, low: ClauseElement, high: ClauseElement) -> None:
        self.element, self.low, self.high = element, low, high

    def compile(self, compiler: Compiler) -> str:
        return "%s BETWEEN %s AND %s" % (self.element.compile(compiler), self.low.compile(compiler),
                                         self.high.compile(compiler))


class Ordering(ClauseElement):
    """A sort key for ``order_by``: ``x ASC`` or ``x DESC``."""

    __slots__ = ("element", "descending")

    def __init__(self, element: ClauseElement, descending: bool) -> None:
        self.element, self.descending = element, descending

    def compile(self, compiler: Compiler) -> str:
        return "%s %s" % (self.element.compile(compiler), "DESC" if self.descending else "ASC")

    def __bool__(self) -> bool:
        raise TypeError("an ordering is for order_by(), it has no truth value")


class FunctionCall(Operand):
    """An SQL function applied to columns or values: ``func.lower(User.name) == "ada"``."""

    __slots__ = ("name", "args")

    def __init__(self, name: str, args: List[Any]) -> None:
        self.name = name
        self.args = [a if isinstance(a, ClauseElement) else BindValue(a) for a in args]

    def compile(self, compiler: Compiler) -> str:
        return "%s(%s)" % (self.name, ", ".join(a.compile(compiler) for a in self.args))

    def describe(self) -> str:
        return "%s()" % self.name


class NowFunction(Operand):
    """``func.now()``: the current time, taken in Python, as an aware UTC datetime.

    As a column default it is evaluated when the object is built, so the object knows its value
    without a round trip; in a condition it is a parameter in the column's stored form. It is never
    the database's ``now()``: SQLite's writes ``YYYY-MM-DD HH:MM:SS``, which would not compare with
    the ORM's fixed-width UTC text.
    """

    __slots__ = ()
    type = DateTime()

    def evaluate(self) -> Any:
        return utc_now()

    def compile(self, compiler: Compiler) -> str:
        return compiler.bind(self.type.to_db(self.evaluate(), compiler.dialect))

    def describe(self) -> str:
        return "now()"


class Func:
    """``func.<name>(*args)``: an SQL function call; ``func.now()`` is the current time (see
    :class:`NowFunction`). The name must be a plain identifier.

    Example::

        User.query(db).filter(func.lower(User.email) == email.lower())
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name.lower() in ("now", "current_timestamp"):
            return lambda: NowFunction()
        if not is_identifier(name):
            raise AttributeError("%r is not an SQL function name" % (name,))
        return lambda *args: FunctionCall(name, list(args))


#: The function namespace (covet's own, in place of SQLAlchemy's ``func``).
func = Func()


def _join(op: str, clauses: Any) -> ClauseElement:
    if not clauses:
        raise TypeError("%s_() needs at least one condition" % op.lower())
    flat: List[ClauseElement] = []
    for clause in clauses:
        clause = _condition(clause)
        if isinstance(clause, BooleanClause) and clause.op == op:
            flat.extend(clause.clauses)
        else:
            flat.append(clause)
    return flat[0] if len(flat) == 1 else BooleanClause(op, flat)


def and_(*clauses: Any) -> ClauseElement:
    """All of the conditions: ``and_(User.age >= 18, User.active == True)``."""
    return _join("AND", clauses)


def or_(*clauses: Any) -> ClauseElement:
    """Any of the conditions: ``or_(User.name == "a", User.name == "b")``."""
    return _join("OR", clauses)


def not_(clause: Any) -> ClauseElement:
    """The negation of a condition: ``not_(User.email.like("%@test"))``."""
    return Not(clause)
