"""``User.query(db)``: filter, order, limit, then fetch, count, update or delete.

A Query is immutable: each method returns a new one, so a base query can be shared and refined.
Nothing runs until an ``await``: ``all()``, ``first()``, ``get(pk)``, ``count()``, and the bulk
``update(**values)`` / ``delete()``. ``db`` is whatever runs queries: a ``DatabaseManager``, a
request's ``Session`` or a ``Connection``.

Example::

    users = await (User.query(db)
                   .filter(User.email.like("%@example.com"), User.active == True)
                   .order_by(User.id.desc())
                   .limit(10)
                   .options(load("posts"))
                   .all())
    n = await User.query(db).filter(User.active == False).delete()
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...core.errors import RequestValidationError
from ..identifiers import quote_identifier
from .columns import Column, Table
from .dialects import dialect_name
from .errors import InvalidValue
from .expressions import ClauseElement, Compiler, Ordering, and_
from .persistence import error_entry
from .relationships import eager_load, load_tree
from .rows import row_loader
from .sql import count_sql, delete_sql, select_sql, update_sql

__all__ = ["Query"]


def _count(value: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("%s() takes a non-negative integer or None, got %r" % (what, value))
    return value


class Query:
    """A SELECT on one model's table, built step by step; made by ``Model.query(db)``.

    Example::

        recent = await User.query(db).filter(User.id > 100).order_by("-id").limit(5).all()
    """

    __slots__ = ("model", "db", "_where", "_order", "_limit", "_offset", "_load")

    def __init__(self, model: Any, db: Any) -> None:
        if getattr(model, "__table__", None) is None:
            raise TypeError("%r is not a concrete model (it has no __tablename__)" % (model,))
        if not callable(getattr(db, "fetch_all", None)):
            raise TypeError("query() takes a DatabaseManager, a Session or a Connection, got %r" % (db,))
        self.model, self.db = model, db
        self._where: List[ClauseElement] = []
        self._order: List[ClauseElement] = []
        self._limit: Optional[int] = None
        self._offset: Optional[int] = None
        self._load: Dict[str, Any] = {}

    def _copy(self) -> "Query":
        q = Query.__new__(Query)
        q.model, q.db = self.model, self.db
        q._where, q._order = list(self._where), list(self._order)
        q._limit, q._offset, q._load = self._limit, self._offset, dict(self._load)
        return q

    @property
    def table(self) -> Table:
        return self.model.__table__

    # -- building --------------------------------------------------------------
    def filter(self, *conditions: Any) -> "Query":
        """Only rows matching every condition: ``filter(User.age >= 18, User.name.like("A%"))``."""
        q = self._copy()
        for condition in conditions:
            if not isinstance(condition, ClauseElement) or isinstance(condition, (Column, Ordering)):
                raise TypeError("filter() takes conditions such as User.id == 1, got %r" % (condition,))
            q._where.append(condition)
        return q

    where = filter

    def filter_by(self, **values: Any) -> "Query":
        """Equality on columns by attribute name: ``filter_by(email=x, active=True)``."""
        return self.filter(*[self._column(key, "filter_by") == value for key, value in values.items()])

    def _column(self, key: str, what: str) -> Column:
        col = self.table.by_key.get(key)
        if col is None:
            # A name from a request (?sort=...) must not reach SQL: it is a column or an error.
            quote_identifier(key)
            raise ValueError("%s(): %s has no column %r" % (what, self.model.__name__, key))
        return col

    def order_by(self, *keys: Any) -> "Query":
        """Sort by columns: ``User.id``, ``User.id.desc()``, or a column's name (``"name"``, ``"-name"``
        for descending, handy for ``?sort=-name``; a name that is not a column raises ValueError).
        ``order_by()`` with nothing clears the order."""
        q = self._copy()
        if not keys:
            q._order = []
            return q
        for key in keys:
            if isinstance(key, str):
                descending = key.startswith("-")
                key = Ordering(self._column(key[1:] if descending else key, "order_by"), descending)
            elif isinstance(key, Column):
                key = Ordering(key, descending=False)
            elif not isinstance(key, (Ordering, ClauseElement)):
                raise TypeError("order_by() takes columns, .asc()/.desc() or column names, got %r" % (key,))
            q._order.append(key)
        return q

    def limit(self, n: Optional[int]) -> "Query":
        """At most ``n`` rows (None: no limit)."""
        q = self._copy()
        q._limit = _count(n, "limit")
        return q

    def offset(self, n: Optional[int]) -> "Query":
        """Skip the first ``n`` rows."""
        q = self._copy()
        q._offset = _count(n, "offset")
        return q

    def options(self, *loads: Any) -> "Query":
        """Relationships to load with the results: ``options(load("posts"), load("posts.comments"))``."""
        q = self._copy()
        load_tree(self.model, loads, q._load)
        return q

    def _condition(self) -> Optional[ClauseElement]:
        return and_(*self._where) if self._where else None

    def _dialect(self) -> str:
        return dialect_name(self.db)

    def to_sql(self) -> Tuple[str, List[Any]]:
        """The SELECT this query runs and its parameters (for logs and tests)."""
        compiler = Compiler(self._dialect())
        sql = select_sql(self.table, compiler, self._condition(), self._order, self._limit, self._offset)
        return sql, compiler.params

    # -- running ---------------------------------------------------------------
    async def _fetch(self, limit: Optional[int]) -> List[Any]:
        dialect = self._dialect()
        compiler = Compiler(dialect)
        sql = select_sql(self.table, compiler, self._condition(), self._order, limit, self._offset)
        rows = await self.db.fetch_all(sql, *compiler.params)
        objects = row_loader(self.model, dialect).load(rows)
        if self._load:
            await eager_load(self.db, self.model, objects, self._load)
        return objects

    async def all(self) -> List[Any]:
        """Every matching object (and the relationships asked for with ``options``)."""
        return await self._fetch(self._limit)

    async def first(self) -> Optional[Any]:
        """The first matching object, or None."""
        found = await self._fetch(1 if self._limit is None else min(self._limit, 1))
        return found[0] if found else None

    async def get(self, pk: Any) -> Optional[Any]:
        """The object with primary key ``pk`` (a tuple or a dict for a composite key), or None.
        The query's filters apply too (``query.filter(User.active == True).get(5)``)."""
        keys = self.table.primary_key
        if len(keys) == 1:
            values: Sequence[Any] = [pk]
        elif isinstance(pk, dict):
            if set(pk) != {c.key for c in keys}:
                raise TypeError("get() of %s takes the keys %s" % (self.model.__name__, [c.key for c in keys]))
            values = [pk[c.key] for c in keys]
        elif isinstance(pk, (tuple, list)) and len(pk) == len(keys):
            values = list(pk)
        else:
            raise TypeError("get() of %s takes a tuple of %d values" % (self.model.__name__, len(keys)))
        if any(v is None for v in values):
            return None
        return await self.filter(*[c == v for c, v in zip(keys, values)]).first()

    async def count(self) -> int:
        """How many rows match (within limit/offset when they are set)."""
        compiler = Compiler(self._dialect())
        sql = count_sql(self.table, compiler, self._condition(), self._limit, self._offset)
        return int(await self.db.fetch_val(sql, *compiler.params) or 0)

    def _bulk_check(self, what: str) -> None:
        if self._limit is not None or self._offset or self._order:
            raise TypeError("%s() acts on every row the filters match; limit/offset/order_by do not apply "
                            "(SQLite's UPDATE and DELETE take no LIMIT)" % what)

    async def update(self, **values: Any) -> int:
        """Set columns on every matching row, in one UPDATE; returns how many rows matched.

        Values are checked like assignments (a bad one raises RequestValidationError, 422); ``onupdate``
        columns are set too. Objects already in memory are not changed: refresh them.
        """
        self._bulk_check("update")
        if not values:
            raise TypeError("update() needs at least one column=value")
        dialect = self._dialect()
        table = self.table
        errors = []
        parsed: Dict[str, Any] = {}
        for key, value in values.items():
            col = self._column(key, "update")
            try:
                parsed[key] = col.validate(value)
            except InvalidValue as exc:
                errors.append(error_entry(key, exc))
        if errors:
            raise RequestValidationError(errors)
        for col in table.columns:
            if col.has_onupdate and col.key not in parsed:
                parsed[col.key or ""] = col.make_default("onupdate")
        stored = [(key, None if value is None else table.by_key[key].type.to_db(value, dialect))
                  for key, value in parsed.items()]
        compiler = Compiler(dialect)
        sql = update_sql(table, compiler, stored, self._condition())
        result = await self.db.execute(sql, *compiler.params)
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete(self) -> int:
        """Delete every matching row, in one DELETE; returns how many. With no filter, every row."""
        self._bulk_check("delete")
        compiler = Compiler(self._dialect())
        sql = delete_sql(self.table, compiler, self._condition())
        result = await self.db.execute(sql, *compiler.params)
        return int(getattr(result, "rowcount", 0) or 0)

    def __repr__(self) -> str:
        return "<Query %s where=%d order=%d limit=%r offset=%r load=%s>" % (
            self.model.__name__, len(self._where), len(self._order), self._limit, self._offset, sorted(self._load))
