"""``Model``: a class whose ``Column`` attributes map it to a table.

Defining a subclass builds everything once: the columns bound to the class (``User.email`` is an
SQL operand), the :class:`~covet.database.orm.columns.Table`, the relationships, and the entry in the
registry. Columns and relationships declared on an abstract base (``__abstract__ = True``) or on a
plain mixin class are copied into each model that inherits them.

An instance is built from keyword arguments, every value checked against its column; all problems
are raised at once as ``RequestValidationError`` (a 422 problem+json when it escapes a handler),
each as ``{"loc": ["body", attribute], "msg": ..., "type": ...}``. Assignments are checked the same way.

Example::

    from covet.database.orm import Model, Column, Integer, String, DateTime, func

    class User(Model):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        name = Column(String(100), nullable=False)
        email = Column(String(255), unique=True)
        created_at = Column(DateTime, default=func.now())

    user = User(name="Ada", email="ada@example.com")
    db.add(user)
    await db.commit()
    user.id            # 1
"""
from typing import Any, ClassVar, Dict, List

from ...core.errors import RequestValidationError
from .columns import Column, Table
from .errors import InvalidValue
from .persistence import delete, delete_many, error_entry, refresh, save, save_many, undo
from .query import Query
from .relationships import Relationship
from .schema import Registry, default_registry
from .serialize import field_specs, from_validated, to_dict
from .state import STATE, InstanceState, state_of

__all__ = ["Model", "RESERVED"]

#: Names a column or relationship cannot take: they are Model's own attributes.
RESERVED = frozenset(("query", "to_dict", "registry", "metadata"))


def _declared(cls: type) -> Dict[str, Any]:
    """Columns and relationships visible on ``cls``, bases first, a redefinition in place."""
    found: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        for name, value in klass.__dict__.items():
            if isinstance(value, (Column, Relationship)):
                found[name] = (klass, value)
            elif name in found:
                found.pop(name)  # a base's column hidden by a plain attribute of a subclass
    return found


class Model:
    """Base class of mapped classes (see the module docstring).

    Class attributes: ``__tablename__`` (required on a concrete model), ``__abstract__`` (a base that
    has no table and holds its own ``registry``), ``__table__`` (built), ``registry``.
    """

    __abstract__: ClassVar[bool] = True
    __tablename__: ClassVar[str]
    __table__: ClassVar[Table]
    registry: ClassVar[Registry] = default_registry
    # covet.validation's record protocol (see serialize.py): on for concrete models only.
    __covet_model__: ClassVar[bool] = False
    _covet_extra: ClassVar[str] = "ignore"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("__abstract__", False):
            if "registry" not in cls.__dict__:
                cls.registry = Registry(parent=cls.registry, name=cls.__name__)
            if "__tablename__" in cls.__dict__:
                raise TypeError("%s is abstract: it has no table, so no __tablename__" % cls.__name__)
            cls.__covet_model__ = False
            return
        for base in cls.__mro__[1:]:
            if isinstance(base.__dict__.get("__table__"), Table):
                raise TypeError("%s subclasses the model %s: derive models from Model or from an abstract base "
                                "(__abstract__ = True)" % (cls.__name__, base.__name__))
        name = cls.__dict__.get("__tablename__")
        if not isinstance(name, str):
            raise TypeError("%s needs __tablename__ = \"...\" (or __abstract__ = True for a base class)"
                            % cls.__name__)
        columns: List[Column] = []
        relationships: Dict[str, Relationship] = {}
        for key, (owner, attr) in _declared(cls).items():
            if key in RESERVED or key.startswith("_"):
                raise TypeError("%s.%s: %r is not a column name a model can use" % (cls.__name__, key, key))
            if owner is not cls or attr.model is not None:
                attr = attr.copy()  # inherited, or the same object on two classes: each gets its own
                setattr(cls, key, attr)
            if isinstance(attr, Column):
                attr.bind(cls, key, name)
                columns.append(attr)
            else:
                attr.bind(cls, key)
                relationships[key] = attr
        cls.__table__ = Table(cls, name, columns, relationships)
        cls.__covet_model__ = True
        cls.registry.register(cls)

    def __init__(self, /, **values: Any) -> None:  # positional-only: a column may be called "self"
        table = type(self).__dict__.get("__table__")
        if table is None:
            raise TypeError("%s is abstract: only models with a __tablename__ have instances" % type(self).__name__)
        data = self.__dict__
        data[STATE] = InstanceState()
        errors = []
        related = {k: values.pop(k) for k in [k for k in values if k in table.relationships]}
        # post = Post(author=user): the key column is filled from the object (when it is saved, if
        # the user is new), so it is not missing.
        links = [table.relationships[k].resolve() for k in related]
        linked = {link.local.key for link in links if not link.many}
        for col in table.columns:
            key = col.key
            if key in values:
                try:
                    data[key] = col.validate(values.pop(key))
                except InvalidValue as exc:
                    errors.append(error_entry(key, exc))
                    data[key] = None
            elif col.has_default:
                data[key] = col.make_default()
            else:
                data[key] = None
                if not (col.nullable or col.is_autoincrement or key in linked):
                    errors.append({"loc": ["body", key], "msg": "field required", "type": "required"})
        for key, value in related.items():
            setattr(self, key, value)
        for key in values:
            # A key that is no column is refused, not dropped: a typo would lose data silently.
            errors.append({"loc": ["body", key], "msg": "additional property not allowed",
                           "type": "additionalProperties"})
        if errors:
            raise RequestValidationError(errors)

    def _covet_assign(self, column: Column, value: Any) -> None:
        """Set a column's value (``user.name = ...``), checked first; 422 when it does not fit."""
        try:
            value = column.validate(value)
        except InvalidValue as exc:
            raise RequestValidationError([error_entry(column.key or "", exc)]) from None
        self.__dict__[column.key] = value
        if column.foreign_key is not None:
            # The object a many-to-one relationship loaded or was given is not the one the key
            # names any more: forget it rather than show a stale one.
            state = state_of(self)
            for key, rel in type(self).__table__.relationships.items():
                if key in state.loaded and not rel.resolve().many and rel.resolve().local is column:
                    del state.loaded[key]
                    state.assigned.discard(key)

    # -- queries ----------------------------------------------------------------
    @classmethod
    def query(cls, db: Any) -> Query:
        """A query on this model's table, run on ``db`` (a DatabaseManager, Session or Connection).

        Example::

            user = await User.query(db).filter(User.email == email).first()
        """
        return Query(cls, db)

    # -- output -------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """The object as JSON data: columns (ISO dates, decimal strings, base64 bytes) and the
        relationships that were loaded.

        Example::

            user.to_dict()  # {'id': 1, 'name': 'Ada', 'email': 'ada@example.com', 'created_at': '2024-...'}
        """
        return to_dict(self)

    def __repr__(self) -> str:
        table = type(self).__dict__.get("__table__")
        if table is None:
            return object.__repr__(self)
        values = self.__dict__
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % (c.key, values.get(c.key))
                                                           for c in table.columns))

    # -- the session's unit of work (covet.database.Session) -------------------------------
    async def __covet_flush__(self, conn: Any, op: str) -> None:
        """Called by ``Session.commit()``/``flush()``: ``op`` is ``"save"`` (INSERT or UPDATE) or ``"delete"``."""
        if op == "save":
            await save(self, conn)
        elif op == "delete":
            await delete(self, conn)
        else:
            raise ValueError("__covet_flush__: op must be 'save' or 'delete', got %r" % (op,))

    @classmethod
    async def __covet_flush_many__(cls, conn: Any, op: str, objs: List["Model"]) -> None:
        """Called by the session for a run of consecutive pending objects of this class and one
        ``op``: new ones go in multi-row INSERTs, deletes in ``DELETE ... IN`` (persistence.py)."""
        for obj in objs:
            if type(obj) is not cls:
                raise TypeError("__covet_flush_many__ of %s got a %s" % (cls.__name__, type(obj).__name__))
        if op == "save":
            await save_many(objs, conn)
        elif op == "delete":
            await delete_many(objs, conn)
        else:
            raise ValueError("__covet_flush_many__: op must be 'save' or 'delete', got %r" % (op,))

    async def __covet_refresh__(self, conn: Any) -> None:
        """Called by ``Session.refresh(obj)``: read the row again."""
        await refresh(self, conn)

    def __covet_rollback__(self) -> None:
        """Called by the session when the transaction this object was flushed in rolled back: the
        object forgets what that flush did (a new object its key)."""
        undo(self)

    # -- covet.validation's record protocol (serialize.py) -------------------------------------
    @classmethod
    def _covet_fields(cls) -> List[Any]:
        return field_specs(cls)

    @classmethod
    def _from_validated(cls, data: Dict[str, Any]) -> "Model":
        return from_validated(cls, data)
