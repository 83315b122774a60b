"""Saving, deleting and re-reading objects: what ``Session.commit()`` and ``refresh()`` call.

An object's bookkeeping lives in an :class:`~covet.database.orm.state.InstanceState` beside its
column values (its snapshot of stored values, what a flush changed, the relationships loaded).

The session calls ``await obj.__covet_flush__(conn, "save" | "delete")`` for a pending object and
``await Model.__covet_flush_many__(conn, op, objs)`` for a run of consecutive pending objects of
one model and one op, in the order they were added, inside one transaction, and
``await obj.__covet_refresh__(conn)`` for ``refresh``; the Model methods of those names call
:func:`save`, :func:`delete`, :func:`save_many`, :func:`delete_many` and :func:`refresh`.

A run is written with few statements, in its order: consecutive new objects with the same columns
go in multi-row ``INSERT ... VALUES (...), (...) RETURNING <key>`` statements of at most
:data:`CHUNK_ROWS` rows (and the database's parameter limit); an object already saved gets its
own UPDATE between them; deletes of a single-column key go ``DELETE ... WHERE key IN (...)``
in chunks. No object is written before one added ahead of it, and an object that refers to a new
object of its own batch (a table that refers to itself: ``Category(parent=root)``) waits for the
INSERT that gives that object its key.
"""
from typing import Any, Dict, List

from ...core.errors import RequestValidationError
from .columns import MISSING, Column, Table
from .dialects import dialect_name, max_parameters, supports_returning
from .errors import InvalidValue, ObjectNotFound, ORMError
from .rows import row_loader
from .sql import delete_by_pk_sql, delete_by_pks_sql, insert_rows_sql, insert_sql, select_by_pk_sql, update_by_pk_sql
from .state import InstanceState, state_of

__all__ = ["LOC_PREFIX", "CHUNK_ROWS", "error_entry", "check_values", "save", "save_many", "delete",
           "delete_many", "refresh", "undo"]

#: Rows per multi-row INSERT and per ``DELETE ... IN``: a few hundred rows already make the cost
#: per statement negligible, and a bigger statement only takes longer to build and compile.
CHUNK_ROWS = 500

#: The start of ``loc`` in the errors of a 422: the values of a model usually come from the request
#: body (``User(**await request.json())``), and covet's own body validation says ``["body", field]``,
#: so a client sees one shape whichever of the two refused its data.
LOC_PREFIX = ("body",)


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


async def save_many(objs: List[Any], conn: Any) -> None:
    """Save objects of one model in their order (see the module docstring): what ``save`` does for
    each, with runs of new objects written by multi-row INSERTs."""
    if not objs:
        return
    for obj in objs:
        # Before anything can fail: the session undoes every object of a failed run, and an
        # object this run never reached must not be put back to before an older, committed flush.
        state_of(obj).undo = None
    table: Table = type(objs[0]).__table__
    dialect = dialect_name(conn)
    auto = table.autoincrement
    batch: List[Any] = []
    members: set = set()  # id() of the objects in batch
    batch_needs_key = False
    for obj in objs:
        state = state_of(obj)
        if state.persistent:
            await _insert_rows(batch, conn, table, dialect, batch_needs_key)
            batch, members = [], set()
            await save(obj, conn)
            continue
        if members and any(id(state.loaded.get(key)) in members for key in state.assigned):
            # It refers to an object of this batch, whose key the INSERT has yet to give it.
            await _insert_rows(batch, conn, table, dialect, batch_needs_key)
            batch, members = [], set()
        _link_assigned(obj, state, table)
        errors = check_values(obj, table)
        if errors:
            raise RequestValidationError(errors)
        needs_key = auto is not None and obj.__dict__[auto.key] is None
        if batch and needs_key is not batch_needs_key:
            # Another column list (a key given by the program, or not): another statement.
            await _insert_rows(batch, conn, table, dialect, batch_needs_key)
            batch, members = [], set()
        batch.append(obj)
        members.add(id(obj))
        batch_needs_key = needs_key
    await _insert_rows(batch, conn, table, dialect, batch_needs_key)


async def _insert_rows(objs: List[Any], conn: Any, table: Table, dialect: str, needs_key: bool) -> None:
    # New objects, already checked, with the same columns to write (all, or all but the key the
    # database numbers when needs_key).
    if not objs:
        return
    auto = table.autoincrement
    cols = [c for c in table.columns if not (needs_key and c is auto)]
    returning = needs_key and supports_returning(conn)
    if len(objs) == 1 or not cols or (needs_key and not returning):
        # One row; or no column to list (INSERT ... DEFAULT VALUES is one row); or keys that only
        # each INSERT's lastrowid can tell: an INSERT per object.
        for obj in objs:
            await _insert(obj, conn, table, state_of(obj), dialect)
        return
    keys = [c.key or "" for c in cols]
    per_chunk = max(1, min(CHUNK_ROWS, max_parameters(dialect) // len(cols)))
    undo_keys = [auto.key or ""] if needs_key and auto is not None else []
    for start in range(0, len(objs), per_chunk):
        chunk = objs[start:start + per_chunk]
        if len(chunk) == 1:
            await _insert(chunk[0], conn, table, state_of(chunk[0]), dialect)
            continue
        stored = [[_stored(c, obj.__dict__[c.key], dialect) for c in cols] for obj in chunk]
        params = [value for row in stored for value in row]
        sql = insert_rows_sql(table, keys, len(chunk), returning)
        for obj in chunk:
            _remember(obj, state_of(obj), undo_keys)
        if returning and auto is not None:
            # The keys come back a row per VALUES row, in VALUES order, which is what ties each to
            # its object. Neither SQLite nor PostgreSQL promises that order in its documentation,
            # but both produce it, and Django's bulk_create relies on it the same way
            # (can_return_rows_from_bulk_insert: SQLite >= 3.35 in
            # django/db/backends/sqlite3/features.py, and PostgreSQL). The count is checked.
            rows = await conn.fetch_all(sql, *params)
            if len(rows) != len(chunk):
                raise ORMError("the database returned %d keys for %d new %s rows" % (len(rows), len(chunk), table.name))
            for obj, row in zip(chunk, rows):
                new_key = row[auto.name]
                if new_key is None:
                    raise ORMError("the database did not report the key of the new %s row" % table.name)
                obj.__dict__[auto.key] = auto.type.from_db(new_key, dialect)
        else:
            await conn.execute(sql, *params)
        for obj, row_values in zip(chunk, stored):
            state = state_of(obj)
            state.persistent, state.deleted = True, False
            snapshot = dict(zip(keys, row_values))
            if undo_keys and auto is not None:
                snapshot[auto.key or ""] = _stored(auto, obj.__dict__[auto.key], dialect)
            state.snapshot = snapshot


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


async def delete_many(objs: List[Any], conn: Any) -> None:
    """DELETE the rows of objects of one model: ``DELETE ... WHERE key IN (...)`` per chunk of
    :data:`CHUNK_ROWS` (a DELETE per object when the key has several columns)."""
    if not objs:
        return
    for obj in objs:
        state_of(obj).undo = None  # as in save_many: an object never reached has nothing to undo
    table: Table = type(objs[0]).__table__
    if len(table.primary_key) != 1:
        for obj in objs:
            await delete(obj, conn)
        return
    for obj in objs:
        state = state_of(obj)
        if not state.persistent or state.snapshot is None:
            raise ORMError("%s was never saved, so there is no row to delete" % _describe(obj, table))
    key = table.primary_key[0].key
    for start in range(0, len(objs), CHUNK_ROWS):
        chunk = objs[start:start + CHUNK_ROWS]
        await conn.execute(delete_by_pks_sql(table, len(chunk)), *[state_of(obj).snapshot[key] for obj in chunk])
        for obj in chunk:
            state = state_of(obj)
            _remember(obj, state, [])  # after the DELETE ran, as in delete()
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
    snapshot, values = row_loader(type(obj), dialect_name(conn)).values(row)
    obj.__dict__.update(values)
    state.snapshot = snapshot


def undo(obj: Any) -> None:
    """Put the object back as it was before its last flush (its transaction rolled back): a new
    object forgets the key it was given, a deleted one exists again."""
    state = state_of(obj)
    if state.undo is None:
        return
    state.persistent, state.deleted, state.snapshot, values = state.undo
    obj.__dict__.update(values)
    state.undo = None
