"""SQL statements composed from parts, each name checked and each value a parameter.

``QueryBuilder(db)`` starts statements (``select``, ``insert``, ``update``, ``delete``); each method
of a statement returns a *new* statement, so a query kept in a module and refined per request
never carries one request's conditions into the next. ``.sql`` and ``.params`` show what will run;
the terminal methods (``fetch_all``, ``fetch_one``, ``fetch_val``, ``iterate``, ``execute``,
``count``, ``exists``) hand them to the database's methods of the same name.

Three kinds of input, three rules:

- **Names** (tables, columns, ``order_by``, ``group_by``, join tables) go through
  :func:`~covet.database.identifiers.quote_identifier`: a name taken from a request
  (``?sort=-name``) is a real name or an :class:`~covet.database.errors.InvalidIdentifier`, never SQL.
- **Values** are parameters, always, ``LIMIT`` and ``OFFSET`` included.
- **SQL text** (``where``, ``having``, join conditions, :func:`raw`) is the programmer's and is
  passed through as written: never build it from request data.

A condition may use any placeholder style covet accepts (``?``, ``%s``, ``$1``, ``:name``,
``%(name)s``); :func:`covet.database.params.to_qmark` rewrites each fragment to ``?`` when it is
added, so one statement never mixes styles, and the builder's own placeholders are ``?`` too.

Example::

    qb = QueryBuilder(db)
    users = await qb.select("users").where("name ILIKE %s", f"%{q}%").order_by("-id").limit(20).fetch_all()
    await qb.insert("users", {"name": "Ada", "email": "ada@example.com"}).execute()
    await qb.update("users", {"active": False}).where(in_("id", stale_ids)).execute()
"""
import abc
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

from covet.database._fragments import (
    MAX_ROW_COUNT, Column, Condition, Fragment, and_, as_condition, assignments, column_list, conditions_into,
    expression_list, in_, not_, or_, order_term, raw, row_count, table_reference,
)
from covet.database.errors import InterfaceError, NotSupportedError, ProgrammingError
from covet.database.identifiers import quote_identifier

if TYPE_CHECKING:
    from covet.database.records import Record

__all__ = [
    "QueryBuilder", "SelectQuery", "InsertQuery", "UpdateQuery", "DeleteQuery", "Fragment",
    "raw", "and_", "or_", "not_", "in_", "MAX_ROW_COUNT",
]

# Each method returns a statement of its own class, so a type checker follows the chain.
_S = TypeVar("_S", bound="_Statement")
_F = TypeVar("_F", bound="_Filtered")
_T = TypeVar("_T")


class _Statement(abc.ABC):
    """What every statement shares: ``.sql`` and ``.params``, built on first use and kept (a
    statement never changes), and the terminal methods that run them."""
    __slots__ = ("_builder", "_table", "_compiled")
    _FIELDS: Tuple[str, ...] = ("_builder", "_table")

    def _replace(self: _S, **changes: Any) -> _S:
        new = object.__new__(type(self))
        for name in self._FIELDS:
            setattr(new, name, changes[name] if name in changes else getattr(self, name))
        new._compiled = None
        return new

    @abc.abstractmethod
    def _compile(self) -> Tuple[str, Any]:
        """This statement's SQL and parameters (built once, kept in ``_compiled``)."""

    def _statement(self) -> Tuple[str, Any]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile()
        return compiled

    @property
    def sql(self) -> str:
        """The statement's SQL, with ``?`` placeholders."""
        return self._statement()[0]

    @property
    def params(self) -> Tuple[Any, ...]:
        """The values for the placeholders of :attr:`sql`, in order."""
        return self._statement()[1]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        try:
            sql, params = self._statement()
        except ProgrammingError as exc:
            return "<%s refused: %s>" % (type(self).__name__, exc)
        return "<%s %r %r>" % (type(self).__name__, sql, params)

    def _database(self) -> Any:
        db = self._builder.db
        if db is None:
            raise InterfaceError("this QueryBuilder has no database: QueryBuilder(db) runs statements, "
                                 "QueryBuilder() only builds them")
        return db

    def _rows_statement(self, method: str) -> Tuple[str, Any]:
        return self._statement()

    async def execute(self) -> Any:
        """Run the statement; the database's ``ExecuteResult`` (``.rowcount``, ``.lastrowid``)."""
        sql, params = self._statement()
        return await self._database().execute(sql, *params)

    async def fetch_all(self) -> List["Record"]:
        """Every row."""
        sql, params = self._rows_statement("fetch_all")
        return await self._database().fetch_all(sql, *params)  # type: ignore[no-any-return]

    async def fetch_one(self) -> Optional["Record"]:
        """The first row, or None."""
        sql, params = self._rows_statement("fetch_one")
        return await self._database().fetch_one(sql, *params)  # type: ignore[no-any-return]

    async def fetch_val(self) -> Any:
        """The first column of the first row, or None."""
        sql, params = self._rows_statement("fetch_val")
        return await self._database().fetch_val(sql, *params)

    def iterate(self) -> AsyncIterator["Record"]:
        """The rows, streamed: ``async for row in query.iterate(): ...``."""
        sql, params = self._rows_statement("iterate")
        return self._database().iterate(sql, *params)  # type: ignore[no-any-return]


class _Filtered(_Statement):
    __slots__ = ("_where",)
    _FIELDS = _Statement._FIELDS + ("_where",)

    def where(self: _F, condition: Condition, *params: Any) -> _F:
        """A new statement that also requires ``condition`` (every ``where`` is ANDed).

        ``condition`` is SQL text from the code with its ``params``, or a :class:`Fragment`
        (:func:`and_`, :func:`or_`, :func:`not_`, :func:`in_`, :func:`raw`).

        Example::

            qb.select("users").where("age >= ?", 18).where(in_("role", roles))
        """
        return self._replace(_where=self._where + (as_condition(condition, params),))


class _Returning:
    """``returning(...)`` for the statements that change rows (mixed in; holds no state)."""
    __slots__ = ()

    def returning(self: _T, *columns: Column) -> _T:
        """A new statement that returns ``columns`` of each changed row: read them with
        ``fetch_one``/``fetch_val``/``fetch_all``. Needs SQLite 3.35+ or PostgreSQL.

        Example::

            new_id = await qb.insert("users", {"name": "Ada"}).returning("id").fetch_val()
        """
        statement: Any = self
        if not columns:
            raise ValueError("returning() needs at least one column")
        if not statement._builder.supports_returning:
            raise NotSupportedError("RETURNING is not supported by this database (SQLite before 3.35)")
        if getattr(statement, "_many", False):
            raise ProgrammingError("returning() needs a single-row insert: a batch runs through execute_many, "
                                   "which returns no rows")
        return statement._replace(_returning=column_list(columns))  # type: ignore[no-any-return]

    def _rows_statement(self: Any, method: str) -> Tuple[str, Any]:
        if self._returning is None:
            raise ProgrammingError("%s() needs returning(...): without it %s returns no rows; use execute()"
                                   % (method, self._verb.split()[0]))
        return self._statement()  # type: ignore[no-any-return]

    def _returning_into(self: Any, parts: List[str], params: List[Any]) -> None:
        if self._returning is not None:
            parts.append(" RETURNING ")
            parts.append(self._returning.sql)
            params.extend(self._returning.params)


class _Guarded:
    """The refusal of an UPDATE or DELETE with no ``where`` (mixed in; holds no state)."""
    __slots__ = ()

    def all_rows(self: _T) -> _T:
        """A new statement allowed to run without ``where``: it changes every row of the table.

        Example::

            await qb.update("sessions", {"valid": False}).all_rows().execute()
        """
        statement: Any = self
        return statement._replace(_all_rows=True)  # type: ignore[no-any-return]

    def _check_guard(self: Any) -> None:
        # An UPDATE or DELETE whose where() was forgotten (or skipped by an `if`) changes the
        # whole table; making "every row" an explicit call turns that slip into an error.
        if not self._where and not self._all_rows:
            raise ProgrammingError("%s %s has no where(): add one, or call .all_rows() to change every row"
                                   % (self._verb, self._table))


class SelectQuery(_Filtered):
    """A ``SELECT``: from :meth:`QueryBuilder.select`. Every method returns a new query.

    Example::

        recent = qb.select("posts", ["id", "title"]).where("published").order_by("-created_at")
        page = await recent.limit(20).offset(40).fetch_all()
        total = await recent.count()
    """
    __slots__ = ("_columns", "_plain_columns", "_distinct", "_joins", "_group_by", "_having", "_order_by", "_limit",
                 "_offset")
    _FIELDS = _Filtered._FIELDS + __slots__

    def __init__(self, builder: "QueryBuilder", table: Any, columns: Any = "*") -> None:
        self._builder = builder
        self._table = table_reference(table)
        items = (columns,) if isinstance(columns, (str, Fragment)) else tuple(columns)
        self._columns = column_list(items)
        # A raw() column may be an aggregate (count(*), sum(total)) that folds every row into one,
        # so only a query of plain names may be counted without its columns.
        self._plain_columns = not any(isinstance(item, Fragment) or (isinstance(item, tuple) and item
                                                                    and isinstance(item[0], Fragment))
                                      for item in items)
        self._distinct = False
        self._where: Tuple[Fragment, ...] = ()
        self._joins: Tuple[Fragment, ...] = ()
        self._group_by: Optional[Fragment] = None
        self._having: Tuple[Fragment, ...] = ()
        self._order_by: Optional[Fragment] = None
        self._limit: Optional[int] = None
        self._offset: Optional[int] = None
        self._compiled = None

    def distinct(self, distinct: bool = True) -> "SelectQuery":
        """``SELECT DISTINCT``: each different row once."""
        return self._replace(_distinct=bool(distinct))

    def join(self, table: Any, on: Condition, *params: Any) -> "SelectQuery":
        """``JOIN table ON on``: rows with a match in both. ``table`` may be ``(name, alias)``.

        Example::

            qb.select("users", ["users.name", "orders.total"]).join("orders", '"orders"."user_id" = "users"."id"')
        """
        return self._join("JOIN", table, on, params)

    def left_join(self, table: Any, on: Condition, *params: Any) -> "SelectQuery":
        """``LEFT JOIN table ON on``: every row of the left side, NULLs where nothing matches."""
        return self._join("LEFT JOIN", table, on, params)

    def _join(self, kind: str, table: Any, on: Any, params: Sequence[Any]) -> "SelectQuery":
        on_clause = as_condition(on, params)
        clause = Fragment("%s %s ON %s" % (kind, table_reference(table), on_clause.sql), on_clause.params)
        return self._replace(_joins=self._joins + (clause,))

    def group_by(self, *columns: Column) -> "SelectQuery":
        """``GROUP BY columns``, replacing any earlier ``group_by``; none removes it."""
        return self._replace(_group_by=expression_list(columns) if columns else None)

    def having(self, condition: Condition, *params: Any) -> "SelectQuery":
        """A condition on groups (every ``having`` is ANDed), like :meth:`where`.

        Example::

            spent = raw("sum(total) AS spent")
            qb.select("orders", ["user_id", spent]).group_by("user_id").having("sum(total) > ?", 100)
        """
        return self._replace(_having=self._having + (as_condition(condition, params),))

    def order_by(self, *terms: Any) -> "SelectQuery":
        """``ORDER BY``, replacing any earlier order (so a default order can be overridden per
        request); none removes it. A term is ``"name"``, ``"-name"`` (descending),
        ``("name", "asc" | "desc")`` or a :class:`Fragment`; anything else is refused with
        :class:`~covet.database.errors.InvalidIdentifier`.

        Example::

            query.order_by(request.query_params.get("sort", "-created_at"), "id")
        """
        if not terms:
            return self._replace(_order_by=None)
        parts = [order_term(t) for t in terms]
        return self._replace(_order_by=Fragment(", ".join(p.sql for p in parts),
                                                tuple(v for p in parts for v in p.params)))

    def limit(self, count: Optional[int]) -> "SelectQuery":
        """At most ``count`` rows (an int from 0; None removes the limit). Sent as a parameter."""
        return self._replace(_limit=row_count(count, "limit"))

    def offset(self, count: Optional[int]) -> "SelectQuery":
        """Skip the first ``count`` rows (an int from 0; None removes it). Sent as a parameter."""
        return self._replace(_offset=row_count(count, "offset"))

    def _from_into(self, parts: List[str], params: List[Any]) -> None:
        parts.append(" FROM ")
        parts.append(self._table)
        for join in self._joins:
            parts.append(" ")
            parts.append(join.sql)
            params.extend(join.params)
        conditions_into(" WHERE ", self._where, parts, params)

    def _compile(self) -> Tuple[str, Tuple[Any, ...]]:
        parts = ["SELECT DISTINCT " if self._distinct else "SELECT ", self._columns.sql]
        params = list(self._columns.params)
        self._from_into(parts, params)
        if self._group_by is not None:
            parts.append(" GROUP BY ")
            parts.append(self._group_by.sql)
            params.extend(self._group_by.params)
        conditions_into(" HAVING ", self._having, parts, params)
        if self._order_by is not None:
            parts.append(" ORDER BY ")
            parts.append(self._order_by.sql)
            params.extend(self._order_by.params)
        if self._limit is not None:
            parts.append(" LIMIT ?")
            params.append(self._limit)
        elif self._offset is not None and self._builder.dialect_name == "sqlite":
            # SQLite's grammar has OFFSET only after LIMIT; a negative limit means "no limit"
            # (https://www.sqlite.org/lang_select.html#limitoffset). PostgreSQL takes OFFSET alone.
            parts.append(" LIMIT -1")
        if self._offset is not None:
            parts.append(" OFFSET ?")
            params.append(self._offset)
        return "".join(parts), tuple(params)

    def _count_statement(self) -> Tuple[str, Tuple[Any, ...]]:
        if (self._plain_columns and self._group_by is None and not self._having and not self._distinct
                and self._limit is None and self._offset is None):
            # The rows are the FROM/WHERE rows: count them directly, without the columns and
            # the order, which cannot change the count.
            parts = ["SELECT COUNT(*)"]
            params: List[Any] = []
            self._from_into(parts, params)
            return "".join(parts), tuple(params)
        # Expressions, groups, distinct rows or a window of rows: count what the query itself returns.
        sql, values = self._statement()
        return 'SELECT COUNT(*) FROM (%s) AS "counted"' % sql, values

    async def count(self) -> int:
        """How many rows the query returns (``SELECT COUNT(*)``).

        Example::

            total = await qb.select("users").where("active").count()
        """
        sql, params = self._count_statement()
        return int(await self._database().fetch_val(sql, *params))

    async def exists(self) -> bool:
        """Whether the query returns any row (``SELECT EXISTS (...)``, which stops at the first).

        Example::

            taken = await qb.select("users").where("email = ?", email).exists()
        """
        sql, params = self._statement()
        return bool(await self._database().fetch_val("SELECT EXISTS (%s)" % sql, *params))




class InsertQuery(_Returning, _Statement):
    """An ``INSERT`` of one row or of a batch: from :meth:`QueryBuilder.insert`.

    For a batch, ``.params`` is the list of row tuples and :meth:`execute` runs the statement
    once per row through ``execute_many``, returning the number of rows inserted.

    Example::

        await qb.insert("tags", [{"name": "a"}, {"name": "b"}]).execute()     # 2
    """
    __slots__ = ("_values", "_rows", "_many", "_returning")
    _FIELDS = _Statement._FIELDS + __slots__
    _verb = "INSERT"

    def __init__(self, builder: "QueryBuilder", table: Any, values: Any) -> None:
        self._builder = builder
        self._table = quote_identifier(table)
        self._returning: Optional[Fragment] = None
        self._compiled = None
        if isinstance(values, Mapping):
            names, fragments = assignments(values, "insert()")
            self._many = False
            self._rows: Tuple[Any, ...] = ()
            self._values = (names, fragments)
            return
        if isinstance(values, (str, bytes, bytearray)) or not isinstance(values, Iterable):
            raise TypeError("insert() takes a mapping or a list of mappings, not %s" % type(values).__name__)
        rows = list(values)
        if not rows:
            raise ValueError("insert() of an empty list: there is no row (and so no column) to insert")
        first = rows[0]
        if not isinstance(first, Mapping) or not first:
            raise TypeError("each row of a batch insert must be a non-empty mapping, not %r" % (first,))
        keys = first.keys()
        names = [quote_identifier(name) for name in keys]
        order = tuple(keys)
        batch = []
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping) or row.keys() != keys:
                raise ValueError("row %d of the batch has columns %s, row 0 has %s: every row needs the same columns"
                                 % (index, list(row) if isinstance(row, Mapping) else repr(row), list(keys)))
            values_ = tuple(row[name] for name in order)
            if any(isinstance(v, Fragment) for v in values_):
                raise TypeError("a batch insert takes values only; insert a row with an SQL expression on its own")
            batch.append(values_)
        self._many = True
        self._rows = tuple(batch)
        self._values = (names, [Fragment("?")] * len(names))

    @property
    def params(self) -> Any:
        """The values for one row (a tuple), or for a batch the list of row tuples."""
        return self._statement()[1]

    def _compile(self) -> Tuple[str, Any]:
        names, fragments = self._values
        parts = ["INSERT INTO ", self._table]
        params: List[Any] = []
        if names:
            parts.append(" (%s) VALUES (%s)" % (", ".join(names), ", ".join(f.sql for f in fragments)))
            for f in fragments:
                params.extend(f.params)
        else:
            parts.append(" DEFAULT VALUES")
        self._returning_into(parts, params)
        if self._many:
            return "".join(parts), list(self._rows)
        return "".join(parts), tuple(params)

    async def execute(self) -> Any:
        """Run the insert: the ``ExecuteResult`` (``.lastrowid``) for one row; the number of rows
        for a batch."""
        sql, params = self._statement()
        if self._many:
            return await self._database().execute_many(sql, params)
        return await self._database().execute(sql, *params)


class UpdateQuery(_Returning, _Guarded, _Filtered):
    """An ``UPDATE``: from :meth:`QueryBuilder.update`. Refused without :meth:`where` unless
    :meth:`all_rows` says every row is meant.

    Example::

        await qb.update("users", {"name": name}).where("id = ?", user_id).execute()
    """
    __slots__ = ("_set", "_all_rows", "_returning")
    _FIELDS = _Filtered._FIELDS + __slots__
    _verb = "UPDATE"

    def __init__(self, builder: "QueryBuilder", table: Any, values: Any) -> None:
        names, fragments = assignments(values, "update()")
        if not names:
            raise ValueError("update() needs at least one column to set")
        self._builder = builder
        self._table = quote_identifier(table)
        self._set = Fragment(", ".join("%s = %s" % (n, f.sql) for n, f in zip(names, fragments)),
                             tuple(v for f in fragments for v in f.params))
        self._where: Tuple[Fragment, ...] = ()
        self._all_rows = False
        self._returning: Optional[Fragment] = None
        self._compiled = None

    def _compile(self) -> Tuple[str, Tuple[Any, ...]]:
        self._check_guard()
        parts = ["UPDATE ", self._table, " SET ", self._set.sql]
        params = list(self._set.params)
        conditions_into(" WHERE ", self._where, parts, params)
        self._returning_into(parts, params)
        return "".join(parts), tuple(params)


class DeleteQuery(_Returning, _Guarded, _Filtered):
    """A ``DELETE``: from :meth:`QueryBuilder.delete`. Refused without :meth:`where` unless
    :meth:`all_rows` says every row is meant.

    Example::

        await qb.delete("sessions").where("expires_at < ?", now).execute()
    """
    __slots__ = ("_all_rows", "_returning")
    _FIELDS = _Filtered._FIELDS + __slots__
    _verb = "DELETE FROM"

    def __init__(self, builder: "QueryBuilder", table: Any) -> None:
        self._builder = builder
        self._table = quote_identifier(table)
        self._where: Tuple[Fragment, ...] = ()
        self._all_rows = False
        self._returning: Optional[Fragment] = None
        self._compiled = None

    def _compile(self) -> Tuple[str, Tuple[Any, ...]]:
        self._check_guard()
        parts = ["DELETE FROM ", self._table]
        params: List[Any] = []
        conditions_into(" WHERE ", self._where, parts, params)
        self._returning_into(parts, params)
        return "".join(parts), tuple(params)


class QueryBuilder:
    """Starts statements against ``db`` (a ``DatabaseManager``, a ``Session``, a ``Connection``:
    anything with ``fetch_all``/``fetch_one``/``fetch_val``/``execute``/``execute_many``/``iterate``).

    The builder holds nothing but ``db``, and every statement is immutable, so one builder (and
    any statement built from it) can be shared by every request. ``QueryBuilder()`` without a
    database only builds: ``.sql`` and ``.params`` work, the terminal methods raise.

    Example::

        qb = QueryBuilder(db)
        users = await qb.select("users").where("name ILIKE %s", f"%{query}%").fetch_all()
    """
    __slots__ = ("db",)

    def __init__(self, db: Any = None) -> None:
        self.db = db

    @property
    def dialect_name(self) -> str:
        """The database's dialect (``"sqlite"``, ``"postgresql"``); ``"sqlite"`` without one."""
        return getattr(getattr(self.db, "dialect", None), "name", "sqlite")  # type: ignore[no-any-return]

    @property
    def supports_returning(self) -> bool:
        """Whether the database understands ``RETURNING`` (assumed so when it does not say)."""
        return bool(getattr(getattr(self.db, "dialect", None), "supports_returning", True))

    def select(self, table: Any, columns: Any = "*") -> SelectQuery:
        """``SELECT columns FROM table``. ``table`` is a name or ``(name, alias)``; ``columns`` a
        name, a list of names, ``"*"``, ``"table.*"``, :func:`raw` expressions or
        ``(column, alias)`` pairs.

        Example::

            qb.select("users", ["id", "name", ("email", "contact")])
        """
        return SelectQuery(self, table, columns)

    def insert(self, table: str, values: Any) -> InsertQuery:
        """``INSERT INTO table``: one row from a mapping, or a batch from a list of mappings with
        the same keys. An empty mapping inserts a row of defaults.

        Example::

            result = await qb.insert("users", {"name": "Ada"}).execute()     # result.lastrowid
        """
        return InsertQuery(self, table, values)

    def update(self, table: str, values: Mapping[str, Any]) -> UpdateQuery:
        """``UPDATE table SET ...``; follow with :meth:`~UpdateQuery.where` (or ``all_rows()``).

        Example::

            await qb.update("users", {"active": False}).where("id = ?", 7).execute()
        """
        return UpdateQuery(self, table, values)

    def delete(self, table: str) -> DeleteQuery:
        """``DELETE FROM table``; follow with :meth:`~DeleteQuery.where` (or ``all_rows()``).

        Example::

            await qb.delete("users").where("id = ?", 7).execute()
        """
        return DeleteQuery(self, table)
