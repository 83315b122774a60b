"""The set of models (a :class:`Registry`) and the DDL that creates and drops their tables.

Every concrete model is recorded in the registry of the abstract base it derives from, and in
that base's parents' up to ``Model.registry``: an application that declares
``class Base(Model): __abstract__ = True`` gets its own set (``Base.registry``), which is also how
``create_all`` and a migration tool pick "the application's models" (``app:Base``).

:func:`create_table_sql` is the DDL for a set of models in one dialect: ``CREATE TABLE IF NOT EXISTS``
for each, in foreign key order (a table after the tables it refers to), then ``CREATE INDEX IF NOT
EXISTS`` for ``index=True`` columns. :func:`create_all` / :func:`drop_all` run it in one transaction.

Example::

    for statement in create_table_sql(Base, "sqlite"):
        print(statement + ";")
    await create_all(db, Base)
"""
import hashlib
from typing import Any, Dict, Iterable, List, Optional

from ..identifiers import MAX_IDENTIFIER_LENGTH, quote_identifier
from .columns import Column, Table
from .dialects import SQLITE, dialect_name
from .errors import ORMError

__all__ = ["Registry", "default_registry", "models_of", "sort_models", "column_ddl", "create_table_sql",
           "drop_table_sql", "create_all", "drop_all"]


class Registry:
    """The concrete models below one abstract base, in the order they were defined.

    ``resolve("Post")`` finds a model by class name or table name (for ``relationship("Post")``),
    looking here first, then in the parent registries.

    Example::

        class Base(Model):
            __abstract__ = True

        Base.registry.models                      # [User, Post] once they are defined
        await Base.registry.create_all(db)
    """

    def __init__(self, parent: Optional["Registry"] = None, name: str = "") -> None:
        self.parent = parent
        self.name = name
        self._models: Dict[Any, Any] = {}

    def register(self, model: Any) -> None:
        """Record ``model`` here and in every parent. A class defined again under the same module
        and qualified name (a reloaded module) replaces the old one."""
        self._models[(model.__module__, model.__qualname__)] = model
        if self.parent is not None:
            self.parent.register(model)

    @property
    def models(self) -> List[Any]:
        """The models, in definition order."""
        return list(self._models.values())

    def __iter__(self) -> Any:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self._models)

    def resolve(self, name: str) -> Any:
        """The model called ``name`` (class or table name); ORMError when none or several are."""
        registry: Optional[Registry] = self
        while registry is not None:
            found = [m for m in registry._models.values() if name in (m.__name__, m.__tablename__)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ORMError("%d models are called %r (%s): give the relationship the class itself, or put "
                               "the models under their own abstract base" % (
                                   len(found), name, ", ".join("%s.%s" % (m.__module__, m.__qualname__)
                                                               for m in found)))
            registry = registry.parent
        raise ORMError("no model is called %r (is its module imported?)" % (name,))

    def create_table_sql(self, dialect: Any, if_not_exists: bool = True) -> List[str]:
        """:func:`create_table_sql` for these models."""
        return create_table_sql(self, dialect, if_not_exists)

    async def create_all(self, db: Any) -> List[str]:
        """:func:`create_all` for these models."""
        return await create_all(db, self)

    async def drop_all(self, db: Any) -> List[str]:
        """:func:`drop_all` for these models."""
        return await drop_all(db, self)

    def __repr__(self) -> str:
        return "<Registry %s: %s>" % (self.name or "?", ", ".join(m.__name__ for m in self._models.values()))


#: The registry of ``Model`` itself: every concrete model.
default_registry = Registry(name="Model")


def _is_concrete(model: Any) -> bool:
    return isinstance(model, type) and isinstance(model.__dict__.get("__table__"), Table)


def models_of(models: Any = None) -> List[Any]:
    """The concrete models ``models`` stands for: None (every model), a Registry, an abstract base
    (its registry), a model class, or an iterable of these. TypeError for anything else; ORMError
    when two of them map to the same table."""
    if models is None:
        found = default_registry.models
    elif isinstance(models, Registry):
        found = models.models
    elif _is_concrete(models):
        found = [models]
    elif isinstance(models, type) and isinstance(getattr(models, "registry", None), Registry) \
            and models.__dict__.get("__abstract__"):
        found = models.registry.models
    elif isinstance(models, type) or isinstance(models, (str, bytes)) or not hasattr(models, "__iter__"):
        raise TypeError("expected models: a model class, an abstract base, a Registry or a list, got %r" % (models,))
    else:
        found = []
        for item in models:
            found.extend(m for m in models_of(item) if not any(m is f for f in found))
    tables: Dict[str, Any] = {}
    for model in found:
        name = model.__table__.name
        other = tables.setdefault(name, model)
        if other is not model:
            raise ORMError("%s.%s and %s.%s both map to the table %r" % (
                other.__module__, other.__qualname__, model.__module__, model.__qualname__, name))
    return list(found)


def _references(model: Any) -> List[str]:
    table: Table = model.__table__
    out = []
    for col in table.columns:
        if col.foreign_key is not None:
            target = col.foreign_key.resolve()[0]
            if target != table.name and target not in out:
                out.append(target)
    return out


def sort_models(models: Any) -> List[Any]:
    """The models with each after the tables it refers to (definition order otherwise).
    ORMError for a cycle of foreign keys: no order creates those tables on PostgreSQL."""
    pending = models_of(models)
    names = {m.__table__.name for m in pending}
    done: set = set()
    ordered = []
    while pending:
        for model in pending:
            if all(t in done or t not in names for t in _references(model)):
                break
        else:
            raise ORMError("the foreign keys of %s form a cycle: no table can be created first (make one of "
                           "them a plain column and add the constraint in a migration)"
                           % ", ".join(sorted(m.__table__.name for m in pending)))
        ordered.append(model)
        done.add(model.__table__.name)
        pending = [m for m in pending if m is not model]
    return ordered


def column_ddl(col: Column, table: Table, dialect: str) -> str:
    """One column's definition in CREATE TABLE."""
    parts = [col.quoted_name]
    single_pk = col.primary_key and len(table.primary_key) == 1
    if table.autoincrement is col:
        if dialect == SQLITE:
            # Exactly "INTEGER PRIMARY KEY" makes the column SQLite's rowid, numbered by the
            # database (sqlite.org/lang_createtable.html#rowid); BIGINT would not.
            parts.append("INTEGER PRIMARY KEY")
        else:
            parts.append("%s GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" % col.type.sql_type(dialect))
    else:
        parts.append(col.type.sql_type(dialect))
        if not col.nullable:
            parts.append("NOT NULL")  # also on keys: SQLite lets a non-integer PRIMARY KEY be NULL
        if single_pk:
            parts.append("PRIMARY KEY")
    if col.unique and not single_pk:
        parts.append("UNIQUE")
    fk = col.foreign_key
    if fk is not None:
        target, column = fk.resolve()
        parts.append("REFERENCES %s (%s)" % (quote_identifier(target), quote_identifier(column)))
        if fk.ondelete:
            parts.append("ON DELETE " + fk.ondelete)
        if fk.onupdate:
            parts.append("ON UPDATE " + fk.onupdate)
    return " ".join(parts)


def _index_name(table: Table, col: Column) -> str:
    name = "ix_%s_%s" % (table.name.rpartition(".")[2], col.name)
    if len(name) > MAX_IDENTIFIER_LENGTH:
        # Still unique per (table, column) when cut to PostgreSQL's 63 characters.
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        name = name[:MAX_IDENTIFIER_LENGTH - 9] + "_" + digest
    return name


def _table_sql(table: Table, dialect: str, if_not_exists: bool) -> List[str]:
    lines = [column_ddl(c, table, dialect) for c in table.columns]
    if len(table.primary_key) > 1:
        lines.append("PRIMARY KEY (%s)" % ", ".join(c.quoted_name for c in table.primary_key))
    guard = "IF NOT EXISTS " if if_not_exists else ""
    out = ["CREATE TABLE %s%s (\n    %s\n)" % (guard, table.quoted, ",\n    ".join(lines))]
    schema, _, bare = table.name.rpartition(".")
    for col in table.columns:
        if col.index and not col.unique and not col.primary_key:
            index = _index_name(table, col)
            if dialect == SQLITE:
                # SQLite names the schema on the index and not on its table; PostgreSQL the other way.
                where, on = (schema + "." + index if schema else index), bare
            else:
                where, on = index, table.name
            out.append("CREATE INDEX %s%s ON %s (%s)" % (guard, quote_identifier(where), quote_identifier(on),
                                                          col.quoted_name))
    return out


def create_table_sql(models: Any, dialect: Any, if_not_exists: bool = True) -> List[str]:
    """The DDL that creates the tables of ``models`` (see :func:`models_of`) in ``dialect`` (a name such
    as ``"sqlite"``/``"postgresql"``, or a database, session or connection): one string per statement,
    without a trailing semicolon, tables in foreign key order, each followed by its indexes.

    Example::

        create_table_sql([User, Post], "sqlite")
        # ['CREATE TABLE IF NOT EXISTS "users" (\\n    "id" INTEGER PRIMARY KEY, ...\\n)', ...]
    """
    name = dialect_name(dialect)
    out: List[str] = []
    for model in sort_models(models):
        out.extend(_table_sql(model.__table__, name, if_not_exists))
    return out


def drop_table_sql(models: Any, dialect: Any, if_exists: bool = True) -> List[str]:
    """``DROP TABLE [IF EXISTS]`` for each model, tables referring to others first."""
    dialect_name(dialect)
    guard = "IF EXISTS " if if_exists else ""
    return ["DROP TABLE %s%s" % (guard, m.__table__.quoted) for m in reversed(sort_models(models))]


async def _run(db: Any, statements: Iterable[str]) -> None:
    async with db.transaction():
        for statement in statements:
            await db.execute(statement)


async def create_all(db: Any, models: Any = None) -> List[str]:
    """Create the tables of ``models`` (default: every model) that do not exist yet, in one
    transaction; returns the statements run.

    Example::

        await create_all(db)            # every model defined
        await create_all(db, Base)      # the models below an abstract base
    """
    statements = create_table_sql(models, db)
    await _run(db, statements)
    return statements


async def drop_all(db: Any, models: Any = None) -> List[str]:
    """Drop the tables of ``models`` (default: every model) that exist, in one transaction."""
    statements = drop_table_sql(models, db)
    await _run(db, statements)
    return statements
