"""A row as the database layer returns it: a dict with attribute access and positional reads.

``Record`` is a ``dict`` subclass, so a row is already what a JSON response wants (``return
{"users": rows}`` needs no conversion), ``dict(row)`` copies it, and ``row["name"]`` is a plain
dict lookup. ``row.name`` reads the same value, and ``row[0]`` the first column: both go through
hooks that run only when the plain lookup misses, so the common path costs nothing extra. A query
whose columns share a name (``SELECT * FROM a JOIN b``) keeps the last one under that name: alias
columns (``b.id AS b_id``) to keep both.

Example::

    row = await db.fetch_one("SELECT id, name FROM users WHERE id = ?", 1)
    row["name"] == row.name == row[1]
"""
from typing import Any

__all__ = ["Record"]


class Record(dict):
    """One row: ``row["col"]``, ``row.col``, ``row[0]``; a dict in every other respect."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError("this row has no column %r (it has %s)" % (name, ", ".join(map(repr, self)) or "none")) from None

    def __missing__(self, key: Any) -> Any:
        # Only misses reach here: an int is a position (DB-API rows are sequences, and seed code
        # indexes them), anything else is a missing column.
        if type(key) is int:
            try:
                return list(self.values())[key]
            except IndexError:
                raise IndexError("row has %d columns, no column %d" % (len(self), key)) from None
        raise KeyError(key)

    def __repr__(self) -> str:
        return "Record(%s)" % ", ".join("%s=%r" % item for item in self.items())
