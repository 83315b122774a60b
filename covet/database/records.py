"""A row as the database layer returns it: a mapping with attribute access and positional reads.

Every row is a :class:`Record`: ``row["name"]``, ``row.name`` and ``row[1]`` read a column,
``dict(row)`` and ``row.to_dict()`` copy it, ``row.keys()``/``values()``/``items()``/``get()``
work as on a dict, iterating it gives the column names (as a dict does), it compares equal to a
dict with the same items, and a handler may return it as JSON as it is. A query whose columns
share a name (``SELECT * FROM a JOIN b``) answers the first one by name: alias columns
(``b.id AS b_id``) to read both.

Two classes implement it, both registered as ``Record`` (``isinstance(row, Record)`` holds):
:class:`MappingRecord`, a ``dict`` subclass, for drivers in general; and, for SQLite,
:class:`SQLiteRecord`, a subclass of ``sqlite3.Row`` that the driver builds in C as it reads each
row. That is what keeps ``fetch_all`` close to raw ``sqlite3``: building a dict per row in Python
costs more than reading the row (benchmarks/bench_db.py).

Example::

    row = await db.fetch_one("SELECT id, name FROM users WHERE id = ?", 1)
    row["name"] == row.name == row[1]
    row == {"id": 1, "name": "ann"}
"""
import abc
import sqlite3
from typing import Any, Dict, Iterator, List, Mapping, Tuple

__all__ = ["Record", "MappingRecord", "SQLiteRecord"]

_row_values = sqlite3.Row.__iter__  # the values, as sqlite3.Row iterates them


class Record(abc.ABC):
    """The row protocol; see the module docstring. Methods here serve both implementations."""

    __slots__ = ()

    @abc.abstractmethod
    def keys(self) -> Any:
        """The column names, in order."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and friends probe for dunders
        try:
            return self[name]
        except (KeyError, IndexError):
            raise AttributeError("this row has no column %r (it has %s)"
                                 % (name, ", ".join(map(repr, self.keys())) or "none")) from None

    def to_dict(self) -> Dict[str, Any]:
        """A plain dict of the row (also what JSON responses use)."""
        return {key: self[key] for key in self.keys()}

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except (KeyError, IndexError):
            return default

    def values(self) -> List[Any]:
        return [self[key] for key in self.keys()]

    def items(self) -> List[Tuple[str, Any]]:
        return [(key, self[key]) for key in self.keys()]

    def __repr__(self) -> str:
        return "Record(%s)" % ", ".join("%s=%r" % item for item in self.items())


class MappingRecord(dict, Record):  # type: ignore[misc]
    """A row as a ``dict`` (drivers other than SQLite): dict lookups by name at dict speed."""

    __slots__ = ()

    def __missing__(self, key: Any) -> Any:
        # Only misses reach here: an int is a position (DB-API rows are sequences).
        if type(key) is int:
            try:
                return list(dict.values(self))[key]
            except IndexError:
                raise IndexError("row has %d columns, no column %d" % (len(self), key)) from None
        raise KeyError(key)

    keys = dict.keys
    values = dict.values  # type: ignore[assignment]
    items = dict.items  # type: ignore[assignment]
    get = dict.get

    def to_dict(self) -> Dict[str, Any]:
        return dict(self)

    __repr__ = Record.__repr__


class SQLiteRecord(sqlite3.Row, Record):
    """A row built by ``sqlite3`` itself (its ``row_factory``); the same protocol as a dict row."""

    __slots__ = ()

    def __iter__(self) -> Iterator[str]:  # as a dict: the keys (sqlite3.Row alone yields values)
        return iter(self.keys())

    def to_dict(self) -> Dict[str, Any]:
        return dict(zip(self.keys(), _row_values(self)))  # both lists come from C

    def values(self) -> List[Any]:
        return list(_row_values(self))

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Mapping, Record)):
            return self.to_dict() == (other.to_dict() if isinstance(other, Record) else dict(other))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # equal to dicts, which are unhashable
    __repr__ = Record.__repr__
