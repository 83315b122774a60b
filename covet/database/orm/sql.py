"""The statements the ORM writes for one table: SELECT, INSERT, UPDATE and DELETE.

Every name is quoted (``Table.quoted``, ``Column.quoted_name``); every value is a ``?`` parameter,
covet's canonical placeholder, which the core translates for the driver. The statements an object
save needs (insert these columns, update those, delete by primary key) depend only on the table and
the set of columns, so they are built once and kept on the table's cache.

Example::

    sql = insert_sql(User.__table__, ["name", "email"], returning=True)
    # 'INSERT INTO "users" ("name", "email") VALUES (?, ?) RETURNING "id"'
"""
from typing import Any, Optional, Sequence, Tuple

from .columns import Table
from .dialects import POSTGRESQL
from .expressions import ClauseElement, Compiler

__all__ = ["select_sql", "count_sql", "insert_sql", "insert_rows_sql", "update_sql", "delete_sql",
           "select_by_pk_sql", "update_by_pk_sql", "delete_by_pk_sql", "delete_by_pks_sql", "limit_sql"]


def _cached(table: Table, key: Any, build: Any) -> Any:
    # Kept on the table itself: the statements live and die with the model class. Two threads
    # building the same statement at once store the same text, so no lock is needed.
    sql = table.sql_cache.get(key)
    if sql is None:
        sql = table.sql_cache[key] = build()
    return sql


def _pk_where(table: Table) -> str:
    return " AND ".join("%s = ?" % c.quoted_name for c in table.primary_key)


def limit_sql(compiler: Compiler, limit: Optional[int], offset: Optional[int]) -> str:
    """`` LIMIT ? OFFSET ?`` for what is set. SQLite needs a LIMIT before an OFFSET (-1: no limit)."""
    if limit is None and not offset:
        return ""
    if limit is None:
        if compiler.dialect == POSTGRESQL:
            return " OFFSET " + compiler.bind(offset)
        return " LIMIT -1 OFFSET " + compiler.bind(offset)
    sql = " LIMIT " + compiler.bind(limit)
    if offset:
        sql += " OFFSET " + compiler.bind(offset)
    return sql


def _select_list(table: Table) -> str:
    return _cached(table, "select-list", lambda: ", ".join(c.quoted_name for c in table.columns))


def select_sql(table: Table, compiler: Compiler, where: Optional[ClauseElement] = None,
               order_by: Sequence[ClauseElement] = (), limit: Optional[int] = None,
               offset: Optional[int] = None) -> str:
    """``SELECT <every column> FROM table [WHERE] [ORDER BY] [LIMIT/OFFSET]``; parameters go to ``compiler``."""
    sql = "SELECT %s FROM %s" % (_select_list(table), table.quoted)
    if where is not None:
        sql += " WHERE " + where.compile(compiler)
    if order_by:
        sql += " ORDER BY " + ", ".join(o.compile(compiler) for o in order_by)
    return sql + limit_sql(compiler, limit, offset)


def count_sql(table: Table, compiler: Compiler, where: Optional[ClauseElement] = None,
              limit: Optional[int] = None, offset: Optional[int] = None) -> str:
    """``SELECT COUNT(*)`` of the rows a query would return (a subquery when it is limited)."""
    condition = (" WHERE " + where.compile(compiler)) if where is not None else ""
    if limit is None and not offset:
        return "SELECT COUNT(*) FROM %s%s" % (table.quoted, condition)
    inner = "SELECT 1 FROM %s%s%s" % (table.quoted, condition, limit_sql(compiler, limit, offset))
    return 'SELECT COUNT(*) FROM (%s) AS "counted"' % inner


def insert_sql(table: Table, keys: Sequence[str], returning: bool) -> str:
    """INSERT of the columns ``keys``; with ``returning``, ``RETURNING`` the auto-numbered key."""
    def build() -> str:
        cols = [table.by_key[k] for k in keys]
        if cols:
            sql = "INSERT INTO %s (%s) VALUES (%s)" % (table.quoted, ", ".join(c.quoted_name for c in cols),
                                                      ", ".join("?" for _ in cols))
        else:
            sql = "INSERT INTO %s DEFAULT VALUES" % table.quoted
        if returning and table.autoincrement is not None:
            sql += " RETURNING " + table.autoincrement.quoted_name
        return sql
    return _cached(table, ("insert", tuple(keys), returning), build)


def insert_rows_sql(table: Table, keys: Sequence[str], rows: int, returning: bool) -> str:
    """One INSERT of ``rows`` rows of the columns ``keys`` (``VALUES (?, ?), (?, ?), ...``); with
    ``returning``, ``RETURNING`` the auto-numbered key, a row per inserted row.

    Only the parts are kept (a statement per row count would fill the cache with near-copies); the
    join of ``rows`` groups costs microseconds.
    """
    def build() -> Tuple[str, str, str]:
        cols = [table.by_key[k] for k in keys]
        head = "INSERT INTO %s (%s) VALUES " % (table.quoted, ", ".join(c.quoted_name for c in cols))
        group = "(%s)" % ", ".join("?" for _ in cols)
        tail = ""
        if returning and table.autoincrement is not None:
            tail = " RETURNING " + table.autoincrement.quoted_name
        return head, group, tail
    if not keys or rows < 1:
        raise ValueError("insert_rows_sql() needs at least one column and one row")
    head, group, tail = _cached(table, ("insert-rows", tuple(keys), returning), build)
    return head + ", ".join([group] * rows) + tail


def update_by_pk_sql(table: Table, keys: Sequence[str]) -> str:
    """``UPDATE table SET a = ?, ... WHERE <primary key> = ?``."""
    def build() -> str:
        sets = ", ".join("%s = ?" % table.by_key[k].quoted_name for k in keys)
        return "UPDATE %s SET %s WHERE %s" % (table.quoted, sets, _pk_where(table))
    return _cached(table, ("update", tuple(keys)), build)


def delete_by_pk_sql(table: Table) -> str:
    """``DELETE FROM table WHERE <primary key> = ?``."""
    return _cached(table, "delete", lambda: "DELETE FROM %s WHERE %s" % (table.quoted, _pk_where(table)))


def delete_by_pks_sql(table: Table, count: int) -> str:
    """``DELETE FROM table WHERE <key> IN (?, ...)`` of ``count`` rows, for a single-column key."""
    if len(table.primary_key) != 1 or count < 1:
        raise ValueError("delete_by_pks_sql() is for a single-column primary key and at least one row")
    head = _cached(table, "delete-in", lambda: "DELETE FROM %s WHERE %s IN (" % (
        table.quoted, table.primary_key[0].quoted_name))
    return head + ", ".join(["?"] * count) + ")"


def select_by_pk_sql(table: Table) -> str:
    """``SELECT <every column> FROM table WHERE <primary key> = ?``."""
    return _cached(table, "select-pk", lambda: "SELECT %s FROM %s WHERE %s" % (
        _select_list(table), table.quoted, _pk_where(table)))


def update_sql(table: Table, compiler: Compiler, values: Sequence[Tuple[str, Any]],
               where: Optional[ClauseElement]) -> str:
    """A bulk ``UPDATE table SET ... [WHERE ...]``; ``values`` are (column key, stored value)."""
    sets = ", ".join("%s = %s" % (table.by_key[k].quoted_name, compiler.bind(v)) for k, v in values)
    sql = "UPDATE %s SET %s" % (table.quoted, sets)
    return sql + (" WHERE " + where.compile(compiler) if where is not None else "")


def delete_sql(table: Table, compiler: Compiler, where: Optional[ClauseElement]) -> str:
    """A bulk ``DELETE FROM table [WHERE ...]``."""
    return "DELETE FROM %s%s" % (table.quoted, " WHERE " + where.compile(compiler) if where is not None else "")
