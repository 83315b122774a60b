"""``QueryOptimizer.prepare``: statements checked and translated once, at start-up.

Every statement covet runs is translated to the driver's placeholder style once and cached (see
:mod:`covet.database.params`), and SQLite's driver keeps compiled statements per connection
(``cached_statements``). ``prepare`` moves that first translation to where the statement is
written, so a malformed one (mixed placeholder styles) fails at import instead of at the first
request, and returns a :class:`PreparedQuery`: the SQL itself (a ``str``), usable anywhere SQL
is, which also knows its placeholder count.

Example::

    optimizer = QueryOptimizer()
    SEARCH = optimizer.prepare("SELECT id, name FROM users WHERE name ILIKE $1 ORDER BY name LIMIT 100")

    async with pool.acquire() as conn:
        rows = await conn.fetch(SEARCH, f"%{q}%")
"""
from typing import Dict, Tuple

from .params import PARAMSTYLES, translate

__all__ = ["QueryOptimizer", "PreparedQuery"]


class PreparedQuery(str):
    """SQL checked by :meth:`QueryOptimizer.prepare`: a ``str`` with ``placeholders`` and ``style``."""

    placeholders: int = 0
    style: str = "none"


class QueryOptimizer:
    """Prepares statements once (``prepare``) and keeps them by text."""

    def __init__(self, paramstyles: Tuple[str, ...] = ("qmark",), sqlite: bool = True) -> None:
        for style in paramstyles:
            if style not in PARAMSTYLES:
                raise ValueError("unknown paramstyle %r" % style)
        self.paramstyles = paramstyles
        self.sqlite = sqlite
        self._prepared: Dict[str, PreparedQuery] = {}

    def prepare(self, sql: str) -> PreparedQuery:
        """``sql`` checked and translated now (for each paramstyle given at construction)."""
        found = self._prepared.get(sql)
        if found is not None:
            return found
        translation = None
        for style in self.paramstyles:
            translation = translate(sql, style, self.sqlite and style == "qmark")
        query = PreparedQuery(sql)
        if translation is not None:
            query.placeholders = translation.count
            query.style = translation.style
        self._prepared[sql] = query
        return query

    def __len__(self) -> int:
        return len(self._prepared)
