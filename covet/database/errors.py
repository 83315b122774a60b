"""The database layer's exceptions: the DB-API 2.0 hierarchy (PEP 249), driver-independent.

A driver's own exception (``sqlite3.IntegrityError``, a PostgreSQL error response) is re-raised as
the class of the same name here, with the same message and the original as ``__cause__``, so that
application code catches one set of names whatever the database.

Example::

    from covet.database.errors import IntegrityError

    try:
        await db.execute("INSERT INTO users (email) VALUES (?)", email)
    except IntegrityError:
        raise HTTPException(409, "that email is taken")
"""
from typing import Optional, Type

__all__ = [
    "DatabaseError", "InterfaceError", "OperationalError", "ProgrammingError", "IntegrityError",
    "DataError", "NotSupportedError", "PoolTimeout", "InvalidIdentifier", "translate_error",
]


class DatabaseError(Exception):
    """Base of every error the database layer raises."""


class InterfaceError(DatabaseError):
    """The layer was misused: a closed database, a connection used after release."""


class OperationalError(DatabaseError):
    """The database could not do it: unreachable, locked, out of space."""


class ProgrammingError(DatabaseError):
    """The SQL or its parameters are wrong: a syntax error, a missing table, a placeholder count."""


class IntegrityError(DatabaseError):
    """A constraint refused the change: unique, foreign key, not null, check."""


class DataError(DatabaseError):
    """A value does not fit: out of range, wrong type for the column."""


class NotSupportedError(DatabaseError):
    """The database does not offer what was asked (RETURNING on an old SQLite, say)."""


class PoolTimeout(OperationalError):
    """No connection came free within the pool's ``acquire_timeout``."""


class InvalidIdentifier(ProgrammingError, ValueError):
    """A table or column name that is not a plain identifier (see :mod:`covet.database.identifiers`)."""


_BY_NAME = {cls.__name__: cls for cls in (
    InterfaceError, OperationalError, ProgrammingError, IntegrityError, DataError, NotSupportedError,
)}


def translate_error(exc: BaseException) -> DatabaseError:
    """The covet exception for a DB-API module's exception, matched by class name along its MRO
    (every PEP 249 module names its classes the same way)."""
    if isinstance(exc, DatabaseError):
        return exc
    target: Optional[Type[DatabaseError]] = None
    for klass in type(exc).__mro__:
        target = _BY_NAME.get(klass.__name__)
        if target is not None:
            break
    error = (target or DatabaseError)(str(exc))
    error.__cause__ = exc
    return error
