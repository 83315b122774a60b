"""covet's database layer: SQLite built in, any DB-API 2.0 driver plugged in, one async API.

``DatabaseManager`` (also ``Database``) holds a pool of connections and runs queries without
blocking the event loop; ``QueryBuilder`` composes SQL with parameters; ``covet.database.orm`` maps
classes to tables; ``covet.database.migrations`` versions the schema. Every name loads on first use
(PEP 562): ``import covet.database`` costs nothing until a name is touched. docs/database.md is
the guide.

Example::

    from covet import Covet, Depends
    from covet.database import DatabaseManager

    app = Covet()
    db = DatabaseManager("sqlite:///app.db")
    app.add_database(db)

    @app.get("/users")
    async def users():
        return {"users": await db.fetch_all("SELECT id, name FROM users ORDER BY id")}
"""
from typing import TYPE_CHECKING

from covet._lazy import lazy_exports

if TYPE_CHECKING:
    from covet.database.errors import (
        DatabaseError as DatabaseError, IntegrityError as IntegrityError, InterfaceError as InterfaceError,
        InvalidIdentifier as InvalidIdentifier, OperationalError as OperationalError, PoolTimeout as PoolTimeout,
        ProgrammingError as ProgrammingError, DataError as DataError, NotSupportedError as NotSupportedError,
    )
    from covet.database.identifiers import quote_identifier as quote_identifier
    from covet.database.config import DatabaseConfig as DatabaseConfig
    from covet.database.connection import Connection as Connection, ExecuteResult as ExecuteResult
    from covet.database.manager import (
        Database as Database, DatabaseManager as DatabaseManager, default_database as default_database,
    )
    from covet.database.optimizer import PreparedQuery as PreparedQuery, QueryOptimizer as QueryOptimizer
    from covet.database.pool import ConnectionPool as ConnectionPool
    from covet.database.records import Record as Record
    from covet.database.session import Session as Session
    from covet.database.query_builder import (
        Fragment as Fragment, QueryBuilder as QueryBuilder, and_ as and_, in_ as in_, not_ as not_, or_ as or_,
        raw as raw,
    )
    from covet.database.orm import (
        Column as Column, ForeignKey as ForeignKey, Model as Model, NotLoadedError as NotLoadedError,
        ObjectNotFound as ObjectNotFound, ORMError as ORMError, create_all as create_all,
        create_table_sql as create_table_sql, drop_all as drop_all, func as func, load as load,
        relationship as relationship,
    )
    from covet.database.migrations import Migration as Migration, MigrationError as MigrationError, migrate as migrate

# public name -> module under covet.database that defines it
_EXPORTS = {
    "DatabaseError": "errors", "InterfaceError": "errors", "OperationalError": "errors",
    "ProgrammingError": "errors", "IntegrityError": "errors", "DataError": "errors",
    "NotSupportedError": "errors", "PoolTimeout": "errors", "InvalidIdentifier": "errors",
    "quote_identifier": "identifiers",
    "DatabaseConfig": "config",
    "Connection": "connection", "ExecuteResult": "connection",
    "DatabaseManager": "manager", "Database": "manager", "default_database": "manager",
    "QueryOptimizer": "optimizer", "PreparedQuery": "optimizer",
    "ConnectionPool": "pool",
    "Record": "records",
    "Session": "session",
    "QueryBuilder": "query_builder", "and_": "query_builder", "or_": "query_builder", "not_": "query_builder",
    "in_": "query_builder", "raw": "query_builder", "Fragment": "query_builder",
    # the ORM (its own and_/or_/not_ stay in covet.database.orm: these names are the builder's)
    "Model": "orm", "Column": "orm", "ForeignKey": "orm", "relationship": "orm", "load": "orm", "func": "orm",
    "create_all": "orm", "drop_all": "orm", "create_table_sql": "orm", "ORMError": "orm",
    "NotLoadedError": "orm", "ObjectNotFound": "orm",
    "Migration": "migrations", "migrate": "migrations", "MigrationError": "migrations",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("covet.database", _EXPORTS, globals())
