"""Relationships between models, loaded eagerly and on request only.

``relationship("Post")`` on ``User`` is one-to-many when ``Post`` has the foreign key to ``users``,
many-to-one when ``User`` has a foreign key to ``posts``; covet works out which from the columns
(``foreign_key=`` picks one when there are several, ``many=`` says which way a table that refers to
itself goes).

Nothing is ever loaded behind the program's back: ``User.query(db).options(load("posts"))`` loads the
posts of every user found with *one* more query (``WHERE "posts"."author_id" IN (?, ...)``), and
``load("posts.comments")`` one more for their comments. Touching ``user.posts`` when it was not
loaded raises :class:`NotLoadedError` naming the ``.options(load("posts"))`` to add: a lazy load
per attribute access is the N+1 queries problem, and an async program cannot hide an await in an
attribute anyway.

Example::

    class User(Model):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        posts = relationship("Post", order_by="-id")

    class Post(Model):
        __tablename__ = "posts"
        id = Column(Integer, primary_key=True)
        author_id = Column(Integer, ForeignKey("users.id"), nullable=False)
        author = relationship("User")

    users = await User.query(db).options(load("posts")).all()
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .columns import Column, Table
from .dialects import dialect_name
from .errors import NotLoadedError, ORMError
from .expressions import ClauseElement, Compiler, Ordering
from .rows import row_loader
from .state import loaded_of, state_of
from .sql import select_sql

__all__ = ["Relationship", "Link", "LoadOption", "relationship", "load", "load_tree", "eager_load", "IN_CHUNK"]

#: Keys per ``IN (...)`` of an eager load. SQLite before 3.32 allowed 999 parameters per statement;
#: larger sets are loaded in several queries of this size.
IN_CHUNK = 500


class Link:
    """How a relationship joins, once worked out: ``local`` is the foreign key column (on the model
    for many-to-one, on the target for one-to-many), ``remote`` the column it refers to."""

    __slots__ = ("target", "many", "local", "remote")

    def __init__(self, target: Any, many: bool, local: Column, remote: Column) -> None:
        self.target, self.many, self.local, self.remote = target, many, local, remote


class Relationship:
    """The attribute ``relationship()`` puts on a model class (see the module docstring)."""

    __slots__ = ("target", "foreign_key", "many", "order_by", "key", "model", "_link")

    def __init__(self, target: Any, foreign_key: Any = None, many: Optional[bool] = None,
                 order_by: Optional[str] = None) -> None:
        if not isinstance(target, (str, type)):
            raise TypeError("relationship() takes a model class or its name, got %r" % (target,))
        if foreign_key is not None and not isinstance(foreign_key, (str, Column)):
            raise TypeError("foreign_key= takes a column or its attribute name, got %r" % (foreign_key,))
        if order_by is not None and not isinstance(order_by, str):
            raise TypeError("order_by= takes a column name of the target, '-name' for descending")
        self.target, self.foreign_key, self.many, self.order_by = target, foreign_key, many, order_by
        self.key: Optional[str] = None
        self.model: Any = None
        self._link: Optional[Link] = None

    def copy(self) -> "Relationship":
        return Relationship(self.target, self.foreign_key, self.many, self.order_by)

    def bind(self, model: Any, key: str) -> None:
        self.model, self.key = model, key

    def describe(self) -> str:
        return "%s.%s" % (getattr(self.model, "__name__", "?"), self.key)

    # -- working out the join ----------------------------------------------------
    def target_model(self) -> Any:
        if isinstance(self.target, type):
            if getattr(self.target, "__table__", None) is None:
                raise ORMError("%s: %r is not a concrete model" % (self.describe(), self.target))
            return self.target
        return self.model.registry.resolve(self.target)

    def resolve(self) -> Link:
        """The Link, worked out on first use (the target may be defined after this model)."""
        link = self._link
        if link is None:
            link = self._link = self._work_out()
        return link

    def _work_out(self) -> Link:
        model, target = self.model, self.target_model()
        mine: Table = model.__table__
        theirs: Table = target.__table__
        outgoing = [c for c in mine.columns if c.foreign_key is not None and c.foreign_key.resolve()[0] == theirs.name]
        incoming = [c for c in theirs.columns if c.foreign_key is not None and c.foreign_key.resolve()[0] == mine.name]
        if self.foreign_key is not None:
            key = self.foreign_key if isinstance(self.foreign_key, str) else self.foreign_key.key
            outgoing = [c for c in outgoing if c.key == key and (not isinstance(self.foreign_key, Column)
                                                                  or c is self.foreign_key)]
            incoming = [c for c in incoming if c.key == key and (not isinstance(self.foreign_key, Column)
                                                                  or c is self.foreign_key)]
        if model is target:  # a table referring to itself: both lists are the same columns
            if self.many is None:
                raise ORMError("%s: %s refers to itself; say many=False (the row this one points to) or "
                               "many=True (the rows pointing to this one)" % (self.describe(), model.__name__))
            outgoing, incoming = ([], incoming) if self.many else (outgoing, [])
        elif self.many is True:
            outgoing = []
        elif self.many is False:
            incoming = []
        found = [(False, c) for c in outgoing] + [(True, c) for c in incoming]
        if not found:
            raise ORMError("%s: no foreign key joins %s and %s (add a Column(..., ForeignKey(%r)))" % (
                self.describe(), mine.name, theirs.name, "%s.id" % theirs.name))
        if len(found) > 1:
            raise ORMError("%s: several foreign keys join %s and %s (%s); name one with foreign_key=" % (
                self.describe(), mine.name, theirs.name, ", ".join(c.describe() for _, c in found)))
        many, local = found[0]
        referred_table = mine if many else theirs
        referred = referred_table.by_name.get(local.foreign_key.resolve()[1])  # type: ignore[union-attr]
        if referred is None:
            raise ORMError("%s refers to a column %s has not got" % (local.describe(), referred_table.name))
        return Link(target, many, local, referred)

    # -- the attribute on instances ---------------------------------------------
    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        loaded = loaded_of(obj)
        if self.key in loaded:
            return loaded[self.key]
        path = state_of(obj).path + (self.key or "")
        raise NotLoadedError(
            '%s was not loaded: add .options(load("%s")) to the query that fetched this %s (covet never '
            "loads a relationship behind your back)" % (self.describe(), path, type(obj).__name__))

    def __set__(self, obj: Any, value: Any) -> None:
        link = self.resolve()
        if link.many:
            raise TypeError("%s is the list of %s pointing here: set the many-to-one side on each of them "
                            "instead" % (self.describe(), link.target.__name__))
        if value is not None and not isinstance(value, link.target):
            raise TypeError("%s takes a %s or None, not %r" % (self.describe(), link.target.__name__, value))
        state = state_of(obj)
        state.loaded[self.key] = value
        state.assigned.add(self.key)
        remote = None if value is None else value.__dict__.get(link.remote.key)
        if value is None or remote is not None:
            obj.__dict__[link.local.key] = remote  # known now; a new target's key is copied when saved

    def __repr__(self) -> str:
        return "<relationship %s -> %s>" % (self.describe(), getattr(self.target, "__name__", self.target))


def relationship(target: Any, foreign_key: Any = None, many: Optional[bool] = None,
                 order_by: Optional[str] = None) -> Any:
    """A relationship to ``target`` (a model class or its name, resolved on first use).

    :param foreign_key: the foreign key column (or its attribute name) when more than one joins the two.
    :param many: True for the list of rows pointing here, False for the row this one points to; needed
        only for a table that refers to itself.
    :param order_by: a column of the target that orders a loaded list (``"-created_at"``: descending);
        by default the target's primary key.

    Example::

        posts = relationship("Post", order_by="-id")
    """
    return Relationship(target, foreign_key, many, order_by)


class LoadOption:
    """``load("posts.comments")``: a relationship path to load eagerly (see :func:`load`)."""

    __slots__ = ("path",)

    def __init__(self, path: Tuple[str, ...]) -> None:
        self.path = path

    def __repr__(self) -> str:
        return "load(%r)" % ".".join(self.path)


def load(path: Any) -> LoadOption:
    """Load a relationship with the objects a query returns: ``.options(load("posts"))``, a dotted path
    for nested ones (``load("posts.comments")``), or the attribute itself (``load(User.posts)``).

    One extra query per relationship on the path, whatever the number of objects.
    """
    if isinstance(path, Relationship):
        return LoadOption((path.key or "",))
    if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
        raise TypeError("load() takes a relationship name such as 'posts' or 'posts.comments', got %r" % (path,))
    return LoadOption(tuple(path.split(".")))


def load_tree(model: Any, options: Sequence[Any], tree: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The paths of ``options`` merged into a tree ``{"posts": {"comments": {}}}``, each step checked
    to be a relationship of the model it starts from."""
    tree = {} if tree is None else tree
    for option in options:
        if not isinstance(option, LoadOption):
            raise TypeError("options() takes load(...) options, got %r" % (option,))
        node, current = tree, model
        for part in option.path:
            rel = current.__table__.relationships.get(part)
            if rel is None:
                names = ", ".join(sorted(current.__table__.relationships)) or "none"
                raise ValueError("%s has no relationship %r (it has: %s)" % (current.__name__, part, names))
            node = node.setdefault(part, {})
            current = rel.resolve().target
    return tree


def _order(link: Link, rel: Relationship) -> List[ClauseElement]:
    table: Table = link.target.__table__
    if rel.order_by is None:
        return [Ordering(c, descending=False) for c in table.primary_key]
    name = rel.order_by.lstrip("-")
    col = table.by_key.get(name)
    if col is None:
        raise ORMError("%s: order_by=%r is not a column of %s" % (rel.describe(), rel.order_by, link.target.__name__))
    return [Ordering(col, descending=rel.order_by.startswith("-"))]


async def _fetch_in(runner: Any, dialect: str, link: Link, column: Column, keys: List[Any],
                    order: List[ClauseElement], path: str) -> List[Any]:
    found: List[Any] = []
    table: Table = link.target.__table__
    loader = row_loader(link.target, dialect)
    for start in range(0, len(keys), IN_CHUNK):
        compiler = Compiler(dialect)
        sql = select_sql(table, compiler, column.in_(keys[start:start + IN_CHUNK]), order)
        found.extend(loader.load(await runner.fetch_all(sql, *compiler.params), path))
    return found


async def eager_load(runner: Any, model: Any, objects: List[Any], tree: Dict[str, Any], prefix: str = "") -> None:
    """Load the relationships in ``tree`` for ``objects`` (all of ``model``), one query per step."""
    if not objects or not tree:
        return
    dialect = dialect_name(runner)
    for key, subtree in tree.items():
        rel: Relationship = model.__table__.relationships[key]
        link = rel.resolve()
        path = "%s%s." % (prefix, key)
        if link.many:
            # One-to-many: the rows whose foreign key holds one of our referenced values.
            keys = list(dict.fromkeys(v for v in (o.__dict__[link.remote.key] for o in objects) if v is not None))
            related = await _fetch_in(runner, dialect, link, link.local, keys, _order(link, rel), path) if keys else []
            groups: Dict[Any, List[Any]] = {}
            for child in related:
                groups.setdefault(child.__dict__[link.local.key], []).append(child)
            for obj in objects:
                state_of(obj).loaded[key] = list(groups.get(obj.__dict__[link.remote.key], ()))
        else:
            # Many-to-one: the rows our foreign keys point to.
            keys = list(dict.fromkeys(v for v in (o.__dict__[link.local.key] for o in objects) if v is not None))
            related = await _fetch_in(runner, dialect, link, link.remote, keys, [], path) if keys else []
            by_key = {target.__dict__[link.remote.key]: target for target in related}
            for obj in objects:
                state_of(obj).loaded[key] = by_key.get(obj.__dict__[link.local.key])
        if subtree:
            await eager_load(runner, link.target, related, subtree, path)
