"""covet's ORM: classes mapped to tables, queries built with Python operators, explicit loading.

- ``Model``, ``Column``, ``ForeignKey`` and the types (``Integer``, ``BigInteger``, ``String``,
  ``Text``, ``Boolean``, ``Float``, ``Numeric``, ``Date``, ``DateTime``, ``JSON``, ``LargeBinary``)
  declare tables; ``func.now()`` is a default taken in Python (an aware UTC datetime).
- ``create_all(db)`` / ``drop_all(db)`` create and drop the tables; ``create_table_sql(models,
  dialect)`` is the DDL as a list of statements.
- ``db.add(obj)`` and ``await db.commit()`` on a request's ``Session`` save objects (the session
  calls each model's ``__covet_flush__``); ``Model.query(db)`` reads, bulk-updates and deletes.
- ``relationship()`` and ``load()``: related rows loaded with one more query, only when asked.

Values are checked against their columns before the database sees them; a value that does not fit
raises ``covet.core.errors.RequestValidationError`` (422). docs/database.md has the guide.

Example::

    from covet.database.orm import Model, Column, Integer, String, DateTime, func

    class User(Model):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        name = Column(String(100), nullable=False)
        email = Column(String(255), unique=True, nullable=False)
        created_at = Column(DateTime, default=func.now())

    await create_all(db)
    newest = await User.query(db).order_by(User.id.desc()).limit(10).all()
"""
from .columns import Column, ForeignKey, Table
from .errors import InvalidValue, NotLoadedError, ObjectNotFound, ORMError
from .expressions import and_, func, not_, or_
from .model import Model
from .query import Query
from .relationships import load, relationship
from .schema import Registry, create_all, create_table_sql, drop_all, drop_table_sql, models_of, sort_models
from .types import (JSON, BigInteger, Boolean, Date, DateTime, Float, Integer, LargeBinary, Numeric, String, Text,
                    TypeEngine)

__all__ = [
    "Model", "Column", "ForeignKey", "Table", "Query", "Registry",
    "Integer", "BigInteger", "String", "Text", "Boolean", "Float", "Numeric", "Date", "DateTime", "JSON",
    "LargeBinary", "TypeEngine",
    "func", "and_", "or_", "not_", "relationship", "load",
    "create_all", "drop_all", "create_table_sql", "drop_table_sql", "models_of", "sort_models",
    "ORMError", "NotLoadedError", "ObjectNotFound", "InvalidValue",
]
