"""Columns, foreign keys and the table a model class maps to.

``Column(String(100), nullable=False)`` on a model class is three things: the declaration the DDL
and the checks are built from, an SQL operand on the class (``User.name == "ada"``), and the
attribute on instances (``user.name``), where every assignment is checked against the column
before the database can see it.

Example::

    class Post(Model):
        __tablename__ = "posts"
        id = Column(Integer, primary_key=True)
        author_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
        title = Column(String(200), nullable=False)
        published = Column(Boolean, default=False, nullable=False)
"""
from typing import Any, Dict, List, Optional, Tuple

from ..identifiers import quote_identifier
from .errors import InvalidValue, ORMError
from .expressions import Compiler, FunctionCall, NowFunction, Operand
from .types import Integer, TypeEngine

__all__ = ["Column", "ForeignKey", "Table", "MISSING", "FK_ACTIONS"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: "No default given" (None is a default a nullable column may have).
MISSING: Any = _Missing()

#: What ON DELETE / ON UPDATE may say (SQL:2016 §11.8 <referential action>): these words go into
#: the DDL, so nothing else is accepted.
FK_ACTIONS = frozenset(("CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"))


class ForeignKey:
    """A reference to another table's column: ``ForeignKey("users.id")`` or ``ForeignKey(User.id)``,
    with optional ``ondelete``/``onupdate`` actions (``"CASCADE"``, ``"SET NULL"``, ...).

    SQLite checks foreign keys only with ``PRAGMA foreign_keys = ON`` (covet's SQLite connections set it).
    """

    __slots__ = ("target", "ondelete", "onupdate")

    def __init__(self, target: Any, ondelete: Optional[str] = None, onupdate: Optional[str] = None) -> None:
        if not isinstance(target, (str, Column)):
            raise TypeError("ForeignKey() takes 'table.column' or a model column, got %r" % (target,))
        if isinstance(target, str):
            if "." not in target:
                raise ValueError("ForeignKey(%r): name the column too, as in 'users.id'" % (target,))
            table, _, column = target.rpartition(".")
            quote_identifier(table)  # refused here, where the model is declared, not at create_all
            quote_identifier(column)
        self.target = target
        self.ondelete = _action("ondelete", ondelete)
        self.onupdate = _action("onupdate", onupdate)

    def resolve(self) -> Tuple[str, str]:
        """(table name, column name) of the target, both validated as SQL names."""
        if isinstance(self.target, Column):
            if self.target.table_name is None:
                raise ORMError("ForeignKey(%r): that column belongs to no model yet" % (self.target,))
            return self.target.table_name, self.target.name
        table, _, column = self.target.rpartition(".")
        return table, column

    def __repr__(self) -> str:
        return "ForeignKey(%r)" % (self.target if isinstance(self.target, str) else self.target.describe())


def _action(which: str, action: Optional[str]) -> Optional[str]:
    if action is None:
        return None
    normal = " ".join(str(action).upper().split())
    if normal not in FK_ACTIONS:
        raise ValueError("%s=%r: use one of %s" % (which, action, ", ".join(sorted(FK_ACTIONS))))
    return normal


class Column(Operand):
    """A column of a model's table.

    :param type_: a type class or instance (``Integer``, ``String(100)``); a leading string argument
        names the database column when it differs from the attribute (``Column("e_mail", String(255))``).
    :param primary_key: part of the primary key. A single Integer primary key is auto-numbered.
    :param nullable: may be NULL (default: True, except for primary keys).
    :param unique: a UNIQUE constraint; ``index``: a CREATE INDEX.
    :param default: a value, a zero-argument callable or ``func.now()``, applied when an object is
        built without that attribute (in Python: the object holds it before it is saved).
    :param onupdate: the same, applied whenever a changed object is saved (``updated_at``).

    Example::

        email = Column(String(255), unique=True, nullable=False)
    """

    __slots__ = ("key", "name", "type", "primary_key", "nullable", "unique", "index", "default", "onupdate",
                 "foreign_key", "autoincrement", "doc", "model", "table_name", "_sql")

    def __init__(self, *args: Any, primary_key: bool = False, nullable: Optional[bool] = None, unique: bool = False,
                 index: bool = False, default: Any = MISSING, onupdate: Any = MISSING, name: Optional[str] = None,
                 autoincrement: Any = "auto", doc: Optional[str] = None) -> None:
        rest = list(args)
        if rest and isinstance(rest[0], str):
            if name is not None:
                raise TypeError("Column() got the column name twice")
            name = rest.pop(0)
        if not rest:
            raise TypeError("Column() needs a type: Column(Integer), Column(String(100))")
        type_ = rest.pop(0)
        if isinstance(type_, type) and issubclass(type_, TypeEngine):
            type_ = type_()
        if not isinstance(type_, TypeEngine):
            raise TypeError("Column(): %r is not a column type (Integer, String(100), DateTime, ...)" % (type_,))
        foreign_keys = [a for a in rest if isinstance(a, ForeignKey)]
        if len(foreign_keys) != len(rest) or len(foreign_keys) > 1:
            raise TypeError("Column() takes a type and at most one ForeignKey as positional arguments, got %r"
                            % (tuple(rest),))
        if autoincrement not in ("auto", True, False):
            raise TypeError("autoincrement must be 'auto', True or False, got %r" % (autoincrement,))
        if autoincrement is True and not (primary_key and isinstance(type_, Integer)):
            raise TypeError("autoincrement=True is for an Integer primary key")
        if name is not None:
            quote_identifier(name)
        self.key: Optional[str] = None
        self.name = name
        self.type = type_
        self.primary_key = bool(primary_key)
        self.nullable = (not primary_key) if nullable is None else bool(nullable)
        if self.primary_key and self.nullable:
            raise TypeError("a primary key column cannot be nullable")
        self.unique, self.index = bool(unique), bool(index)
        self.default = _check_default("default", type_, default)
        self.onupdate = _check_default("onupdate", type_, onupdate)
        self.foreign_key = foreign_keys[0] if foreign_keys else None
        self.autoincrement = autoincrement
        self.doc = doc
        self.model: Any = None
        self.table_name: Optional[str] = None
        self._sql = ""

    def copy(self) -> "Column":
        """An unbound copy, for a subclass inheriting this column from an abstract base or mixin."""
        args: List[Any] = [self.type] + ([self.foreign_key] if self.foreign_key is not None else [])
        return Column(*args, primary_key=self.primary_key, nullable=self.nullable, unique=self.unique,
                      index=self.index, default=self.default, onupdate=self.onupdate,
                      name=self.name if self.name != self.key else None, autoincrement=self.autoincrement,
                      doc=self.doc)

    def bind(self, model: Any, key: str, table_name: str) -> None:
        """Attach to ``model`` as attribute ``key`` of table ``table_name`` (done by Model)."""
        self.key = key
        if self.name is None:
            self.name = key
        self.model, self.table_name = model, table_name
        self._sql = "%s.%s" % (quote_identifier(table_name), quote_identifier(self.name))

    # -- values -----------------------------------------------------------
    @property
    def has_default(self) -> bool:
        return self.default is not MISSING

    @property
    def has_onupdate(self) -> bool:
        return self.onupdate is not MISSING

    def validate(self, value: Any) -> Any:
        """``value`` parsed and checked for this column, or InvalidValue (None for a NOT NULL column too)."""
        if value is None:
            if self.nullable or self.is_autoincrement:
                return None
            raise (InvalidValue("must not be null", "type") if self.type.json_type == "JSON data"
                   else self.type.type_error())
        return self.type.validate(value)

    def make_default(self, which: str = "default") -> Any:
        """A fresh value of ``default`` (or ``onupdate``), checked like an assigned one."""
        spec = self.default if which == "default" else self.onupdate
        if isinstance(spec, NowFunction):
            raw = spec.evaluate()
        elif callable(spec):
            raw = spec()
        else:
            raw = spec
        try:
            return self.validate(raw)  # also copies a JSON default: instances never share one
        except InvalidValue as exc:
            raise TypeError("the %s of %s gave %r, which %s" % (which, self.describe(), raw, exc.msg)) from None

    @property
    def is_autoincrement(self) -> bool:
        """Numbered by the database: an Integer primary key that is the table's only one."""
        model = self.model
        table = getattr(model, "__table__", None) if model is not None else None
        return table is not None and table.autoincrement is self

    # -- SQL --------------------------------------------------------------
    def compile(self, compiler: Compiler) -> str:
        if not self._sql:
            raise ORMError("this column belongs to no model: %r" % (self,))
        return self._sql

    @property
    def quoted_name(self) -> str:
        """The column's quoted name, unqualified (for INSERT column lists and DDL)."""
        return quote_identifier(self.name or "")

    def describe(self) -> str:
        owner = getattr(self.model, "__name__", None)
        return "%s.%s" % (owner, self.key) if owner else "Column(%r)" % (self.type,)

    # -- the attribute on instances --------------------------------------
    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.key]
        except KeyError:
            raise AttributeError("%s has no value for %r" % (type(obj).__name__, self.key)) from None

    def __set__(self, obj: Any, value: Any) -> None:
        obj._covet_assign(self, value)

    def __repr__(self) -> str:
        if self.model is not None:
            return "<Column %s %r>" % (self.describe(), self.type)
        return "<Column %r>" % (self.type,)


def _check_default(which: str, type_: TypeEngine, default: Any) -> Any:
    if isinstance(default, FunctionCall):
        raise TypeError("%s=func.%s(): of the SQL functions only func.now() is a default (pass a callable "
                        "for others)" % (which, default.name))
    if default is MISSING or default is None or isinstance(default, NowFunction) or callable(default):
        return default
    try:
        type_.validate(default)
    except InvalidValue as exc:
        raise TypeError("%s=%r %s" % (which, default, exc.msg)) from None
    return default


class Table:
    """The table a concrete model maps to: its name, columns (in declaration order), primary key
    and relationships; built once, when the class is defined."""

    __slots__ = ("model", "name", "quoted", "columns", "by_key", "by_name", "primary_key", "autoincrement",
                 "relationships", "sql_cache", "loaders")

    def __init__(self, model: Any, name: str, columns: List[Column], relationships: Dict[str, Any]) -> None:
        self.model = model
        self.name = name
        self.quoted = quote_identifier(name)
        self.columns = tuple(columns)
        self.by_key = {c.key: c for c in columns}
        self.by_name: Dict[str, Column] = {}
        for c in columns:
            if c.name in self.by_name:
                raise TypeError("%s: columns %r and %r are both named %r in the table"
                                % (model.__name__, self.by_name[c.name].key, c.key, c.name))
            self.by_name[c.name or ""] = c
        self.primary_key = tuple(c for c in columns if c.primary_key)
        if not self.primary_key:
            raise TypeError("%s has no primary key: add Column(Integer, primary_key=True)" % model.__name__)
        single = self.primary_key[0] if len(self.primary_key) == 1 else None
        if single is not None and isinstance(single.type, Integer) and single.autoincrement is not False:
            self.autoincrement: Optional[Column] = single
        else:
            if any(c.autoincrement is True for c in self.primary_key):
                raise TypeError("%s: autoincrement=True needs a single Integer primary key" % model.__name__)
            self.autoincrement = None
        self.relationships = relationships
        #: Statements built for this table (covet.database.orm.sql), by what they do.
        self.sql_cache: Dict[Any, Any] = {}
        #: Row loaders for this table's SELECTs, by dialect (covet.database.orm.rows).
        self.loaders: Dict[str, Any] = {}

    def __repr__(self) -> str:
        return "<Table %s (%s)>" % (self.name, ", ".join(c.name or "" for c in self.columns))
