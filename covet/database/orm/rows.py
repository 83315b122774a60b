"""Rows of a model's SELECT turned into instances, with the per-row work cut to what a row needs.

The ORM's SELECTs list every column of the table in declaration order (``select_sql``), so what
to do with a row is known before the query runs: which value goes to which attribute, and which
columns need converting. A :class:`RowLoader`, built once per table and dialect and kept on the
table, holds that answer. Per row it then reads the values in one C call (by position from an
``sqlite3.Row`` or a tuple, by name from a dict), builds the instance's values without a Python
call per column, keeps the stored values for the object's state (made only when first asked for:
covet.database.orm.state), and calls ``from_db`` only for a value whose type is not one that
``from_db`` returns unchanged (``TypeEngine.from_db_passes``): on SQLite an ``Integer`` column's
ints and a ``String``'s text pass as they are, a ``Boolean``'s 0/1 and a ``DateTime``'s text are
converted. Values from the database are not validated again (they were
checked on their way in, and the row is the truth); the result is what converting every column
with ``from_db`` gives.

Example::

    sql, params = User.query(db).limit(100).to_sql()
    users = row_loader(User, "sqlite").load(await db.fetch_all(sql, *params))
"""
import sqlite3
from operator import itemgetter
from typing import Any, Callable, Iterable, List, Optional, Tuple

from .columns import Column, Table
from .state import STATE
from .types import TypeEngine

__all__ = ["RowLoader", "row_loader", "converter"]

# Rows read by position: the ORM's SELECTs list the table's columns in order. sqlite3.Row (covet's
# SQLiteRecord) answers a position in C, while a name is a case-insensitive scan of its columns.
_POSITIONAL = (tuple, list, sqlite3.Row)


def converter(col: Column) -> Optional[Tuple[Optional[type], Callable[[Any, str], Any]]]:
    """``(type that passes unchanged or None, from_db)`` for a column whose values may need
    converting, or None when its type's ``from_db`` returns every value as it is.

    ``from_db_passes`` counts only where it is declared beside the ``from_db`` in use, so a
    subclass that overrides ``from_db`` alone is always called.

    Example::

        converter(User.name)      # None: String.from_db is TypeEngine's, which returns its value
        converter(User.id)[0]     # int: Integer.from_db returns an int as it is
    """
    type_ = col.type
    for klass in type(type_).__mro__:
        if "from_db" in klass.__dict__:
            if klass is TypeEngine:
                return None
            return klass.__dict__.get("from_db_passes"), type_.from_db
    return None  # not reached: TypeEngine defines from_db


def _getter(indexes: Iterable[Any]) -> Callable[[Any], Tuple[Any, ...]]:
    items = tuple(indexes)
    if len(items) == 1:
        only = items[0]
        return lambda row: (row[only],)  # itemgetter of one item returns the item, not a tuple
    return itemgetter(*items)


class RowLoader:
    """Builds instances of one model from its SELECT's rows, for one dialect (see the module docstring).

    Example::

        objs = row_loader(User, "sqlite").load(rows)
    """

    __slots__ = ("model", "dialect", "keys", "by_position", "by_name", "conversions")

    def __init__(self, model: Any, dialect: str) -> None:
        table: Table = model.__table__
        self.model = model
        self.dialect = dialect
        self.keys = tuple(c.key for c in table.columns)
        self.by_position = _getter(range(len(table.columns)))
        self.by_name = _getter(c.name for c in table.columns)
        conversions = []
        for col in table.columns:
            found = converter(col)
            if found is not None:
                conversions.append((col.key, found[0], found[1]))
        self.conversions = tuple(conversions)

    def values(self, row: Any) -> Tuple[dict, dict]:
        """(snapshot, values) of one row: the stored values and the Python ones, by attribute."""
        snapshot = dict(zip(self.keys, (self.by_position if isinstance(row, _POSITIONAL) else self.by_name)(row)))
        values = snapshot.copy()
        dialect = self.dialect
        for key, passes, from_db in self.conversions:
            value = values[key]
            if value is not None and value.__class__ is not passes:
                values[key] = from_db(value, dialect)
        return snapshot, values

    def load(self, rows: List[Any], path: str = "") -> List[Any]:
        """An instance per row, persistent, with its snapshot; ``path`` is the ``load()`` path that
        fetched them (``"posts."``), empty for a query's own results."""
        if not rows:
            return []
        # The loop is values() written out: this runs once per row of every query.
        get = self.by_position if isinstance(rows[0], _POSITIONAL) else self.by_name
        keys, conversions, dialect = self.keys, self.conversions, self.dialect
        model = self.model
        new = model.__new__
        out = []
        append = out.append
        for row in rows:
            stored = get(row)
            values = dict(zip(keys, stored))
            for key, passes, from_db in conversions:
                value = values[key]
                if value is not None and value.__class__ is not passes:
                    values[key] = from_db(value, dialect)
            # The stored values become the snapshot when the object's state is first asked for
            # (covet.database.orm.state): most objects a query builds are only read.
            values[STATE] = (stored, path)
            obj = new(model)
            obj.__dict__ = values
            append(obj)
        return out


def row_loader(model: Any, dialect: str) -> RowLoader:
    """The :class:`RowLoader` of ``model`` for ``dialect``, built on first use and kept on its table.

    Example::

        row_loader(User, "sqlite") is row_loader(User, "sqlite")   # True
    """
    loaders = model.__table__.loaders
    loader = loaders.get(dialect)
    if loader is None:
        loader = loaders[dialect] = RowLoader(model, dialect)
    return loader
