"""Which database an ORM statement is for: a name the types and the DDL choose by.

Anything the ORM is given to run queries on (a ``DatabaseManager``, a ``Session``, a
``Connection``) carries a ``dialect`` with a ``name`` and ``supports_returning``; the DDL
functions also take the plain name, so that a migration tool can ask for PostgreSQL's DDL
without a PostgreSQL server.

Example::

    dialect_name(db)            # 'sqlite'
    dialect_name("postgresql")  # 'postgresql'
"""
import sqlite3
from typing import Any

__all__ = ["SQLITE", "POSTGRESQL", "DIALECTS", "dialect_name", "supports_returning", "max_parameters"]

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

#: The dialects the ORM writes SQL for. Others would need their own type names and value
#: conversions (types.py), so they are refused rather than guessed at.
DIALECTS = (SQLITE, POSTGRESQL)

# Second names a URL or a driver may use for the same database.
_ALIASES = {"sqlite": SQLITE, "sqlite3": SQLITE, "postgresql": POSTGRESQL, "postgres": POSTGRESQL,
            "pg": POSTGRESQL}


def _dialect(obj: Any) -> Any:
    dialect = getattr(obj, "dialect", None)
    return dialect if dialect is not None else obj


def dialect_name(obj: Any) -> str:
    """The dialect of ``obj``: a name, a Dialect, or anything with a ``.dialect`` (database,
    session, connection). ValueError for a database the ORM does not write SQL for."""
    dialect = _dialect(obj)
    name = dialect if isinstance(dialect, str) else getattr(dialect, "name", None)
    found = _ALIASES.get(name.lower()) if isinstance(name, str) else None
    if found is None:
        raise ValueError("the ORM writes SQL for %s, not for %r" % (" and ".join(DIALECTS), name if name else obj))
    return found


def supports_returning(obj: Any) -> bool:
    """Does the database of ``obj`` take ``INSERT ... RETURNING``? (SQLite since 3.35, PostgreSQL.)"""
    dialect = _dialect(obj)
    flag = getattr(dialect, "supports_returning", None)
    if isinstance(flag, bool):
        return flag
    return dialect_name(obj) == POSTGRESQL


def max_parameters(dialect: str) -> int:
    """How many parameters one statement may carry: SQLite's SQLITE_MAX_VARIABLE_NUMBER (32,766
    since 3.32.0, 999 before: https://www.sqlite.org/limits.html#max_variable_number) for the
    sqlite3 module's library, PostgreSQL's 65,535 (its protocol counts them in 16 bits)."""
    if dialect == SQLITE:
        return 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
    return 65535
