"""Saving, deleting and re-reading one object: what ``Session.commit()`` and ``refresh()`` call.

An object's bookkeeping lives in an :class:`InstanceState` beside its column values: whether its row
exists, the stored values as last written or read (the *snapshot*: an UPDATE sets only the columns
whose stored form differs from it, so a JSON dict changed in place is saved too), the relationships
loaded for it, and what a flush changed (so a rolled-back transaction can be undone on the object).

The session calls ``await obj.__covet_flush__(conn, "save" | "delete")`` for each pending object,
in the order they were added, inside one transaction, and ``await obj.__covet_refresh__(conn)``
for ``refresh``; the Model methods of those names call :func:`save`, :func:`delete`, :func:`refresh`.
"""
from typing import Any, Dict, List, Optional

from ...core.errors import RequestValidationError
from .columns import MISSING, Column, Table
from .dialects import dialect_name, supports_returning
from .errors import InvalidValue, ObjectNotFound, ORMError
from .sql import delete_by_pk_sql, insert_sql, select_by_pk_sql, update_by_pk_sql

__all__ = ["STATE", "LOC_PREFIX", "InstanceState", "state_of", "error_entry", "check_values", "hydrate",
           "save", "delete", "refresh", "undo"]

#: Where an object's bookkeeping is kept in its ``__dict__``.
STATE = "_covet_state"

#: The start of ``loc`` in the errors of a 422: the values of a model usually come from the request
#: body (``User(**await request.json())``), and covet's own body validation says ``["body", field]``,
#: so a client sees one shape whichever of the two refused its data.
LOC_PREFIX = ("body",)


class InstanceState:
    """The ORM's bookkeeping for one object (see the module docstring)."""

    __slots__ = ("persistent", "deleted", "snapshot", "loaded", "assigned", "path", "undo")

    def __init__(self) -> None:
        self.persistent = False                       # its row exists (it was saved or read)
        self.deleted = False                          # deleted through a session
        self.snapshot: Optional[Dict[str, Any]] = None  # column key -> stored value, as in the row
        self.loaded: Dict[str, Any] = {}              # relationship key -> object, list or None
        self.assigned: set = set()                    # many-to-one keys set by the program
        self.path = ""                                # the load() path that fetched it ("posts.")
        self.undo: Optional[tuple] = None             # what the last flush changed


def state_of(obj: Any) -> InstanceState:
    return obj.__dict__[STATE]


def error_entry(key: str, exc: InvalidValue) -> Dict[str, Any]:
    """One 422 error in covet's shape: ``{"loc": ["body", key], "msg": ..., "type": ...}``."""
    return {"loc": list(LOC_PREFIX) + [key], "msg": exc.msg, "type": exc.type}


def check_values(obj: Any, table: Table) -> List[Dict[str, Any]]:
    """Every column value of ``obj`` checked again (a last guard before the database: values are
    checked on assignment, but a JSON value may have been changed in place since)."""
    errors = []
    values = obj.__dict__
    for col in table.columns:
        try:
            col.validate(values.get(col.key))
        except InvalidValue as exc:
            errors.append(error_entry(col.key or "", exc))
    return errors


def _stored(col: Column, value: Any, dialect: str) -> Any:
    return None if value is None else col.type.to_db(value, dialect)


def _stored_values(obj: Any, table: Table, dialect: str) -> Dict[str, Any]:
    values = obj.__dict__
    return {c.key: _stored(c, values[c.key], dialect) for c in table.columns}


def _set_from_row(obj: Any, table: Table, row: Any, dialect: str) -> Dict[str, Any]:
    values = obj.__dict__
    snapshot = {}
    for col in table.columns:
        raw = row[col.name]
        snapshot[col.key] = raw
        values[col.key] = None if raw is None else col.type.from_db(raw, dialect)
    return snapshot


def hydrate(model: Any, row: Any, dialect: str, path: str = "") -> Any:
    """An instance of ``model`` for a row read from the database (no checks: the row is the truth)."""
    obj = model.__new__(model)
    state = InstanceState()
    state.persistent = True
    state.path = path
    obj.__dict__[STATE] = state
    state.snapshot = _set_from_row(obj, model.__table__, row, dialect)
    return obj


def _describe(obj: Any, table: Table) -> str:
    keys = ", ".join("%s=%r" % (c.key, obj.__dict__.get(c.key)) for c in table.primary_key)
    return "%s(%s)" % (type(obj).__name__, keys)


def _link_assigned(obj: Any, state: InstanceState, table: Table) -> None:
    # post.author = user, with user saved earlier in this commit: its key is known only now.
    for key in sorted(state.assigned):
        link = table.relationships[key].resolve()
        target = state.loaded.get(key)
        if target is None:
            obj.__dict__[link.local.key] = None
            continue
        value = target.__dict__.get(link.remote.key)
        if value is None:
            raise ORMError("%s.%s is a %s without a %s yet: add it to the session before this %s (a commit "
                           "saves objects in the order they were added)" % (
                               type(obj).__name__, key, type(target).__name__, link.remote.key, type(obj).__name__))
        obj.__dict__[link.local.key] = value


async def save(obj: Any, conn: Any) -> None:
    """INSERT a new object (then it has its auto-numbered key) or UPDATE the changed columns of a
    saved one. A value that does not fit its column raises RequestValidationError (422)."""
    table: Table = type(obj).__table__
    state = state_of(obj)
    state.undo = None  # what an earlier, committed flush did is not this one's to undo
    dialect = dialect_name(conn)
    _link_assigned(obj, state, table)
    errors = check_values(obj, table)
    if errors:
        raise RequestValidationError(errors)
    if state.persistent:
        await _update(obj, conn, table, state, dialect)
    else:
        await _insert(obj, conn, table, state, dialect)


def _remember(obj: Any, state: InstanceState, keys: List[str]) -> None:
    values = obj.__dict__
    state.undo = (state.persistent, state.deleted, state.snapshot, {k: values[k] for k in keys})


async def _insert(obj: Any, conn: Any, table: Table, state: InstanceState, dialect: str) -> None:
    values = obj.__dict__
    auto = table.autoincrement
    needs_key = auto is not None and values[auto.key] is None
    cols = [c for c in table.columns if not (needs_key and c is auto)]
    params = [_stored(c, values[c.key], dialect) for c in cols]
    returning = needs_key and supports_returning(conn)
    sql = insert_sql(table, [c.key or "" for c in cols], returning)
    _remember(obj, state, [auto.key] if needs_key and auto is not None and auto.key else [])
    if returning:
        row = await conn.fetch_one(sql, *params)
        new_key = row[auto.name] if row is not None and auto is not None else None
    else:
        result = await conn.execute(sql, *params)
        new_key = getattr(result, "lastrowid", None) if needs_key else None
    if needs_key and auto is not None:
        if new_key is None:
            raise ORMError("the database did not report the key of the new %s row" % table.name)
        values[auto.key] = auto.type.from_db(new_key, dialect)
    state.persistent, state.deleted = True, False
    state.snapshot = _stored_values(obj, table, dialect)


async def _update(obj: Any, conn: Any, table: Table, state: InstanceState, dialect: str) -> None:
    values = obj.__dict__
    snapshot = state.snapshot or {}
    current = _stored_values(obj, table, dialect)
    changed = {c.key for c in table.columns if current[c.key] != snapshot.get(c.key)}
    if not changed:
        return
    touched = [c for c in table.columns if c.onupdate is not MISSING and c.key not in changed]
    _remember(obj, state, [c.key or "" for c in touched])
    for col in touched:
        values[col.key] = col.make_default("onupdate")
        current[col.key] = _stored(col, values[col.key], dialect)
        changed.add(col.key)
    keys = [c.key or "" for c in table.columns if c.key in changed]
    params = [current[k] for k in keys] + [snapshot[c.key] for c in table.primary_key]
    result = await conn.execute(update_by_pk_sql(table, keys), *params)
    if getattr(result, "rowcount", 1) == 0:
        raise ObjectNotFound("%s has no row any more (deleted meanwhile?)" % _describe(obj, table))
    state.snapshot = current


async def delete(obj: Any, conn: Any) -> None:
    """DELETE the object's row (by the primary key it was read or saved with)."""
    table: Table = type(obj).__table__
    state = state_of(obj)
    state.undo = None
    if not state.persistent or state.snapshot is None:
        raise ORMError("%s was never saved, so there is no row to delete" % _describe(obj, table))
    await conn.execute(delete_by_pk_sql(table), *[state.snapshot[c.key] for c in table.primary_key])
    _remember(obj, state, [])  # after the DELETE ran: had it failed, nothing would need undoing
    state.persistent, state.deleted, state.snapshot = False, True, None


async def refresh(obj: Any, conn: Any) -> None:
    """Read the object's row again: every column takes the stored value (relationships stay as loaded)."""
    table: Table = type(obj).__table__
    state = state_of(obj)
    if not state.persistent or state.snapshot is None:
        raise ORMError("%s was never saved, so there is no row to read" % _describe(obj, table))
    row = await conn.fetch_one(select_by_pk_sql(table), *[state.snapshot[c.key] for c in table.primary_key])
    if row is None:
        raise ObjectNotFound("%s has no row any more (deleted meanwhile?)" % _describe(obj, table))
    state.snapshot = _set_from_row(obj, table, row, dialect_name(conn))


def undo(obj: Any) -> None:
    """Put the object back as it was before its last flush (its transaction rolled back): a new
    object forgets the key it was given, a deleted one exists again."""
    state = state_of(obj)
    if state.undo is None:
        return
    state.persistent, state.deleted, state.snapshot, values = state.undo
    obj.__dict__.update(values)
    state.undo = None
