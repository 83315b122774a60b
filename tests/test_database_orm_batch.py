"""Batched writes and the row loader, on real SQLite files: a session hands runs of consecutive
objects of one model and one op to ``Model.__covet_flush_many__`` (multi-row INSERT ... RETURNING,
DELETE ... IN), and a query's rows become instances through a loader built once per model."""
import asyncio
import datetime
import decimal
import sqlite3
import types

import pytest
from db_backends import on_postgres

from covet.core.errors import RequestValidationError
from covet.database import DatabaseManager, IntegrityError
from covet.database.orm import (JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, Model,
                                NotLoadedError, Numeric, ORMError, Registry, String, Text, create_all, func, load,
                                relationship)
from covet.database.orm.persistence import CHUNK_ROWS
from covet.database.orm.rows import converter, row_loader
from covet.database.orm.sql import delete_by_pks_sql, insert_rows_sql
from covet.database.orm.state import STATE, InstanceState, loaded_of, state_of
from covet.database.records import MappingRecord
from covet.database.session import Session

UTC = datetime.timezone.utc
D = decimal.Decimal


class Base(Model):
    __abstract__ = True
    registry = Registry()  # its models stay out of Model.registry


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    code = Column(String(20), unique=True)
    made = Column(DateTime, default=func.now(), nullable=False)
    active = Column(Boolean, default=True, nullable=False)
    price = Column(Numeric(8, 2), default=D("9.99"))
    tags = Column(JSON, default=lambda: ["new"])


class Note(Base):
    __tablename__ = "notes"
    id = Column(Integer, primary_key=True)
    item_id = Column(Integer, ForeignKey("items.id"), nullable=False)
    text = Column(Text, nullable=False)
    item = relationship("Item")


class Node(Base):
    __tablename__ = "nodes"
    id = Column(Integer, primary_key=True)
    parent_id = Column(Integer, ForeignKey("nodes.id"))
    name = Column(String(20), nullable=False)
    parent = relationship("Node", foreign_key="parent_id", many=False)


class Pair(Base):
    __tablename__ = "pairs"
    a = Column(Integer, primary_key=True)
    b = Column(String(10), primary_key=True)
    v = Column(Integer)


class Every(Base):
    __tablename__ = "every"
    id = Column(Integer, primary_key=True)
    big = Column(Integer)
    name = Column(String(20))
    text = Column(Text)
    flag = Column(Boolean)
    score = Column(Float)
    price = Column(Numeric(10, 2))
    day = Column(Date)
    at = Column(DateTime)
    data = Column(JSON)
    blob = Column(LargeBinary)


class Counting:
    """Runs statements on ``target`` and records each (the SQL and how many parameters)."""

    def __init__(self, target, dialect=None):
        self.target = target
        self.dialect = dialect if dialect is not None else target.dialect
        self.statements = []

    def _note(self, sql, params):
        self.statements.append((sql, len(params)))

    async def fetch_all(self, sql, *params):
        self._note(sql, params)
        return await self.target.fetch_all(sql, *params)

    async def fetch_one(self, sql, *params):
        self._note(sql, params)
        return await self.target.fetch_one(sql, *params)

    async def execute(self, sql, *params):
        self._note(sql, params)
        return await self.target.execute(sql, *params)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def url(database_url):
    return database_url


async def opened(url):
    db = DatabaseManager(url)
    await db.connect()
    await create_all(db, Base)
    return db


async def commit(db, *objects, deleted=()):
    async with db.session_scope() as session:
        session.add_all(objects)
        for obj in deleted:
            session.delete(obj)
        await session.commit()


def rows_of(statement):
    """How many VALUES groups (or IN values) a recorded statement carries."""
    sql, _ = statement
    return sql.count("(?") if " VALUES " in sql else sql.count("?")


# -- inserts ---------------------------------------------------------------------------------

def test_a_thousand_and_one_new_objects_get_ids_in_order_and_every_default(url):
    async def main():
        db = await opened(url)
        before = datetime.datetime.now(UTC)
        items = [Item(name="item%d" % i, code="c%d" % i) for i in range(1001)]
        await commit(db, *items)
        assert [item.id for item in items] == list(range(1, 1002))
        rows = await db.fetch_all("SELECT id, name, code, made, active, price, tags FROM items ORDER BY id")
        assert [(r["id"], r["name"], r["code"]) for r in rows] == [
            (i + 1, "item%d" % i, "c%d" % i) for i in range(1001)]
        stored = (True, decimal.Decimal("9.99"), ["new"]) if on_postgres(url) else (1, "9.99", '["new"]')
        assert all((r["active"], r["price"], r["tags"]) == stored for r in rows)
        for item, row in zip(items, rows):
            assert item.made >= before and item.made.tzinfo is UTC
            assert row["made"] == (item.made if on_postgres(url) else item.made.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"))
            assert (item.active, item.price, item.tags) == (True, D("9.99"), ["new"])
            state = state_of(item)
            assert state.persistent and not state.deleted
            # the snapshot holds the values as written: JSON text on both, native types on PostgreSQL
            native = {"active": True, "price": D("9.99")} if on_postgres(url) else {"active": 1, "price": "9.99"}
            assert state.snapshot == {"id": item.id, "name": item.name, "code": item.code, "made": row["made"],
                                      "tags": '["new"]', **native}
        # Saved objects are written as such: a change is one UPDATE of what changed.
        items[500].name = "renamed"
        await commit(db, *items)
        assert await db.fetch_val("SELECT name FROM items WHERE id = 501") == "renamed"
        assert await db.fetch_val("SELECT count(*) FROM items") == 1001
        await db.disconnect()
    run(main())


def test_new_objects_go_in_chunks_of_500_rows_with_returning(url):
    async def main():
        db = await opened(url)
        items = [Item(name="n%d" % i) for i in range(1001)]
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn)
                await Item.__covet_flush_many__(counting, "save", items)
        head = 'INSERT INTO "items" ("name", "code", "made", "active", "price", "tags") VALUES '
        assert [(sql[:len(head)], rows_of((sql, n)), n) for sql, n in counting.statements] == [
            (head, 500, 3000), (head, 500, 3000), (head, 1, 6)]
        assert all(sql.endswith(' RETURNING "id"') for sql, _ in counting.statements)
        assert counting.statements[0][0].count("), (") == 499
        assert [item.id for item in items] == list(range(1, 1002))
        assert CHUNK_ROWS == 500
        await db.disconnect()
    run(main())


def test_chunks_stay_within_sqlites_parameter_limit(url):
    class Own(Model):
        __abstract__ = True
        registry = Registry()

    fields = {"__tablename__": "wide", "id": Column(Integer, primary_key=True)}
    fields.update({"c%d" % i: Column(Integer, default=i) for i in range(70)})
    Wide = type("Wide", (Own,), fields)

    async def main():
        db = DatabaseManager(url)
        await create_all(db, Own)
        objs = [Wide() for _ in range(1000)]
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn)
                await Wide.__covet_flush_many__(counting, "save", objs)
        limit = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
        if on_postgres(url):
            limit = 65535  # the protocol counts parameters in 16 bits
        per = min(500, limit // 70)
        sizes = [rows_of(s) for s in counting.statements]
        assert sizes[:2] == [per, per] and sum(sizes) == 1000
        assert max(n for _, n in counting.statements) == per * 70 <= limit
        assert [o.id for o in objs] == list(range(1, 1001))
        assert await db.fetch_val("SELECT sum(c69) FROM wide") == 69000
        await db.disconnect()
    run(main())


def test_objects_with_and_without_a_given_key_are_written_in_their_order(url):
    async def main():
        db = await opened(url)
        items = [Item(name="a", id=10), Item(name="b", id=11), Item(name="c"), Item(name="d"), Item(name="e", id=40),
                 Item(name="f")]
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn)
                await Item.__covet_flush_many__(counting, "save", items)
        if on_postgres(url):
            # a PostgreSQL sequence does not see keys given explicitly: it counts from 1 regardless
            # (docs/database.md, "PostgreSQL")
            assert [item.id for item in items] == [10, 11, 1, 2, 40, 3]
        else:
            assert [item.id for item in items] == [10, 11, 12, 13, 40, 41]
        statements = [(sql.split(" VALUES ")[0].split("(")[1].split(",")[0], rows_of((sql, n)),
                       sql.endswith("RETURNING \"id\"")) for sql, n in counting.statements]
        assert statements == [('"id"', 2, False), ('"name"', 2, True), ('"id"', 1, False), ('"name"', 1, True)]
        names = [r["name"] for r in await db.fetch_all("SELECT name FROM items ORDER BY id")]
        assert names == list("cdfabe" if on_postgres(url) else "abcdef")
        await db.disconnect()
    run(main())


def test_without_returning_each_new_object_gets_its_key_from_its_own_insert(sqlite_url, monkeypatch):
    url = sqlite_url  # PostgreSQL always has RETURNING, and no lastrowid

    async def main():
        db = await opened(url)
        items = [Item(name="n%d" % i) for i in range(5)]
        no_returning = types.SimpleNamespace(name="sqlite", supports_returning=False)
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn, dialect=no_returning)
                await Item.__covet_flush_many__(counting, "save", items)
        assert [item.id for item in items] == [1, 2, 3, 4, 5]
        assert len(counting.statements) == 5 and not any("RETURNING" in sql for sql, _ in counting.statements)
        # Objects that carry their keys need no RETURNING: one multi-row INSERT still.
        keyed = [Item(name="k%d" % i, id=100 + i) for i in range(3)]
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn, dialect=no_returning)
                await Item.__covet_flush_many__(counting, "save", keyed)
        assert [rows_of(s) for s in counting.statements] == [3]
        assert [state_of(k).snapshot["id"] for k in keyed] == [100, 101, 102]
        await db.disconnect()
    run(main())


def test_an_object_that_refers_to_one_earlier_in_its_batch_waits_for_that_ones_key(url):
    async def main():
        db = await opened(url)
        root = Node(name="root")
        chain = [root]
        for i in range(4):
            chain.append(Node(name="n%d" % i, parent=chain[-1]))
        loose = [Node(name="loose%d" % i) for i in range(3)]
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn)
                await Node.__covet_flush_many__(counting, "save", chain + loose)
        assert [n.id for n in chain + loose] == [1, 2, 3, 4, 5, 6, 7, 8]
        assert [n.parent_id for n in chain] == [None, 1, 2, 3, 4]
        # Each link forces the batch before it out; the object itself starts the next one.
        assert [rows_of(s) for s in counting.statements] == [1, 1, 1, 1, 4]
        # An object later in the run still cannot lend its key to an earlier one.
        later = Node(name="later")
        early = Node(name="early", parent=later)
        with pytest.raises(ORMError, match="Node.parent is a Node without a id yet"):
            await commit(db, Node(name="x"), early, later)
        assert (later.id, early.id) == (None, None)
        assert await db.fetch_val("SELECT count(*) FROM nodes") == 8
        await db.disconnect()
    run(main())


def test_a_bad_value_in_a_batch_stops_the_commit_before_the_database_sees_it(url):
    async def main():
        db = await opened(url)
        items = [Item(name="ok%d" % i) for i in range(10)]
        items[6].tags = [1]
        items[6].tags.append(float("inf"))  # changed in place into something JSON cannot hold
        with pytest.raises(RequestValidationError) as info:
            await commit(db, *items)
        assert info.value.errors[0]["loc"] == ["body", "tags"]
        assert [item.id for item in items] == [None] * 10
        assert await db.fetch_val("SELECT count(*) FROM items") == 0
        await db.disconnect()
    run(main())


@pytest.mark.parametrize("clash_at", [3, 700, 1000])
def test_a_unique_violation_in_a_batch_rolls_back_the_commit_and_puts_every_object_back(url, clash_at):
    async def main():
        db = await opened(url)
        kept = Item(name="kept", code="kept")
        gone = Item(name="gone", code="gone")
        await commit(db, kept, gone)
        kept.name = "changed"
        items = [Item(name="i%d" % i, code="c%d" % i) for i in range(1001)]
        items[clash_at].code = "c1" if clash_at != 1 else "c2"  # the same code as an earlier object
        with pytest.raises(IntegrityError, match='unique constraint "items_code_key"' if on_postgres(url)
                           else "UNIQUE constraint failed: items.code"):
            await commit(db, kept, *items, deleted=[gone])
        assert [item.id for item in items] == [None] * 1001
        assert not any(state_of(item).persistent for item in items)
        assert state_of(gone).persistent and not state_of(gone).deleted and gone.id == 2
        assert state_of(kept).snapshot["name"] == "kept"  # its UPDATE was rolled back too
        assert [r["name"] for r in await db.fetch_all("SELECT name FROM items ORDER BY id")] == ["kept", "gone"]
        # Put right, the same objects save: every one gets a key, the update and delete happen.
        items[clash_at].code = "fixed"
        await commit(db, kept, *items, deleted=[gone])
        ids = [item.id for item in items]
        # a PostgreSQL sequence does not give back the numbers the failed INSERT took
        first = ids[0] if on_postgres(url) else 3
        assert ids == list(range(first, first + 1001)) and first >= 3
        assert await db.fetch_val("SELECT name FROM items WHERE id = 1") == "changed"
        assert await db.fetch_val("SELECT count(*) FROM items") == 1002
        await db.disconnect()
    run(main())


def test_an_object_a_failed_batch_never_reached_keeps_what_an_earlier_commit_did(url):
    async def main():
        db = await opened(url)
        first = Item(name="first", code="taken")
        await commit(db, first)  # its flush is committed: nothing of it is to be undone later
        clash = Item(name="clash", code="taken")
        first.name = "renamed"
        with pytest.raises(IntegrityError):
            await commit(db, clash, Item(name="other"), first)  # one run: the INSERT fails first
        assert first.id == 1 and state_of(first).persistent
        assert state_of(first).snapshot["name"] == "first"
        await commit(db, first)
        assert await db.fetch_val("SELECT name FROM items WHERE id = 1") == "renamed"
        await db.disconnect()
    run(main())


def test_the_pending_order_is_kept_across_runs_and_inside_a_run(url):
    async def main():
        db = await opened(url)
        old = Item(name="old", code="x")
        await commit(db, old)
        first = Item(name="first")
        note = Note(text="about first", item=first)  # needs first's key: first is written before it
        old.code = "y"                               # frees "x" ...
        last = Item(name="last", code="x")           # ... which the last object takes
        async with db.session_scope() as session:
            session.add_all([first, note, old, last])
            await session.commit()
        assert (first.id, note.item_id, old.id, last.id) == (2, 2, 1, 3)
        assert [(r["id"], r["code"]) for r in await db.fetch_all("SELECT id, code FROM items ORDER BY id")] == [
            (1, "y"), (2, None), (3, "x")]
        # Inside one run: INSERT of the new ones before, the UPDATE, the INSERT of those after.
        a, b, c, d = Item(name="a"), Item(name="b"), Item(name="c"), Item(name="d")
        old.name = "older"
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn)
                await Item.__covet_flush_many__(counting, "save", [a, b, old, c, d])
        assert [(sql.split()[0], rows_of((sql, n)) if sql.startswith("INSERT") else 1)
                for sql, n in counting.statements] == [("INSERT", 2), ("UPDATE", 1), ("INSERT", 2)]
        assert [o.id for o in (a, b, c, d)] == [4, 5, 6, 7]
        await db.disconnect()
    run(main())


def test_the_session_hands_runs_of_one_class_and_op_to_the_class(url):
    calls = []

    class Batched:
        def __init__(self, name):
            self.name = name

        async def __covet_flush__(self, conn, op):
            calls.append(("one", type(self).__name__, op, [self.name]))

        @classmethod
        async def __covet_flush_many__(cls, conn, op, objs):
            calls.append(("many", cls.__name__, op, [o.name for o in objs]))

    class Other(Batched):
        pass

    class Single:  # no batch hook: one call per object
        def __init__(self, name):
            self.name = name

        async def __covet_flush__(self, conn, op):
            calls.append(("one", "Single", op, [self.name]))

    async def main():
        db = DatabaseManager(url)
        a1, a2, b1, a3, a4, s1, s2, a5 = (Batched("a1"), Batched("a2"), Other("b1"), Batched("a3"), Batched("a4"),
                                          Single("s1"), Single("s2"), Batched("a5"))
        session = Session(db)
        for obj in (a1, a2, b1, a3, a4, s1, s2, a5):
            session.add(obj)
        session.delete(a4)   # moves to the end, as a delete
        session.add(a1)      # already pending: keeps its place
        session.delete(a5)
        assert session.pending == [a1, a2, b1, a3, s1, s2, a4, a5]
        await session.commit()
        assert calls == [("many", "Batched", "save", ["a1", "a2"]), ("one", "Other", "save", ["b1"]),
                         ("one", "Batched", "save", ["a3"]), ("one", "Single", "save", ["s1"]),
                         ("one", "Single", "save", ["s2"]), ("many", "Batched", "delete", ["a4", "a5"])]
        await session.close()
        await db.disconnect()
    run(main())


def test_a_failed_batch_puts_back_every_object_of_the_run(url):
    undone = []

    class Failing:
        def __init__(self, name):
            self.name = name

        async def __covet_flush__(self, conn, op):
            pass

        @classmethod
        async def __covet_flush_many__(cls, conn, op, objs):
            raise RuntimeError("batch failed")

        def __covet_rollback__(self):
            undone.append(self.name)

    async def main():
        db = DatabaseManager(url)
        session = Session(db)
        session.add_all([Failing("x"), Failing("y"), Failing("z")])
        with pytest.raises(RuntimeError, match="batch failed"):
            await session.commit()
        assert undone == ["z", "y", "x"] and session.pending == [] and not session.in_transaction
        await db.disconnect()
    run(main())


def test_the_batch_hook_refuses_unknown_operations_and_other_classes(url):
    async def main():
        db = await opened(url)
        async with db.connection() as conn:
            with pytest.raises(ValueError, match="op must be 'save' or 'delete', got 'upsert'"):
                await Item.__covet_flush_many__(conn, "upsert", [Item(name="a"), Item(name="b")])
            with pytest.raises(TypeError, match="__covet_flush_many__ of Item got a Note"):
                await Item.__covet_flush_many__(conn, "save", [Item(name="a"), Note(text="t", item_id=1)])
        with pytest.raises(ValueError):
            insert_rows_sql(Item.__table__, [], 2, True)
        with pytest.raises(ValueError):
            delete_by_pks_sql(Pair.__table__, 2)
        assert await db.fetch_val("SELECT count(*) FROM items") == 0
        await db.disconnect()
    run(main())


# -- deletes ---------------------------------------------------------------------------------

def test_many_deletes_go_in_chunks_and_a_rollback_brings_them_back(url):
    async def main():
        db = await opened(url)
        items = [Item(name="d%d" % i, code="d%d" % i) for i in range(1001)]
        await commit(db, *items)
        async with db.connection() as conn:
            async with conn.transaction() as tx:
                counting = Counting(conn)
                await Item.__covet_flush_many__(counting, "delete", items)
                assert [(sql.split(" IN ")[0], rows_of((sql, n))) for sql, n in counting.statements] == [
                    ('DELETE FROM "items" WHERE "id"', 500), ('DELETE FROM "items" WHERE "id"', 500),
                    ('DELETE FROM "items" WHERE "id"', 1)]
                assert all(state_of(i).deleted and not state_of(i).persistent for i in items)
                await tx.rollback()
        for item in items:
            item.__covet_rollback__()
        assert all(state_of(i).persistent and not state_of(i).deleted for i in items)
        # Through a session whose commit fails after the deletes ran: every object is back.
        async with db.session_scope() as session:
            for item in items[:600]:
                session.delete(item)
            session.add(Item(name="late", code="d900"))  # after the deletes, and it fails
            with pytest.raises(IntegrityError):
                await session.commit()
        assert all(state_of(i).persistent and not state_of(i).deleted for i in items[:600])
        assert await db.fetch_val("SELECT count(*) FROM items") == 1001
        await commit(db, deleted=items[:600])
        assert await db.fetch_val("SELECT count(*) FROM items") == 401
        assert await db.fetch_val("SELECT min(id) FROM items") == 601
        assert all(state_of(i).deleted for i in items[:600])
        await db.disconnect()
    run(main())


def test_deleting_an_unsaved_object_in_a_batch_deletes_nothing(url):
    async def main():
        db = await opened(url)
        saved = [Item(name="s%d" % i) for i in range(3)]
        await commit(db, *saved)
        async with db.session_scope() as session:
            for obj in saved[:2] + [Item(name="never")]:
                session.delete(obj)
            with pytest.raises(ORMError, match="Item\\(id=None\\) was never saved, so there is no row to delete"):
                await session.commit()
        assert all(state_of(s).persistent for s in saved)
        assert await db.fetch_val("SELECT count(*) FROM items") == 3
        await db.disconnect()
    run(main())


def test_a_composite_key_is_deleted_and_inserted_in_batches_too(url):
    async def main():
        db = await opened(url)
        pairs = [Pair(a=i, b="x%d" % i, v=i * 2) for i in range(5)]
        async with db.connection() as conn:
            async with conn.transaction():
                counting = Counting(conn)
                await Pair.__covet_flush_many__(counting, "save", pairs)
        assert [rows_of(s) for s in counting.statements] == [5]
        assert not any("RETURNING" in sql for sql, _ in counting.statements)
        await commit(db, deleted=pairs[:3])
        assert [(r["a"], r["b"]) for r in await db.fetch_all("SELECT a, b FROM pairs ORDER BY a")] == [
            (3, "x3"), (4, "x4")]
        assert all(state_of(p).deleted for p in pairs[:3])
        await db.disconnect()
    run(main())


# -- the row loader --------------------------------------------------------------------------

def _by_from_db(model, row):
    """What converting every column with its type's from_db gives (the loader must give the same)."""
    return {c.key: None if row[c.name] is None else c.type.from_db(row[c.name], "sqlite")
            for c in model.__table__.columns}


def test_loaded_objects_equal_converting_every_column(sqlite_url):  # SQLite's loose column types
    url = sqlite_url
    async def main():
        db = await opened(url)
        await db.execute_many(
            "INSERT INTO every (big, name, text, flag, score, price, day, at, data, blob) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(5, "n", "t", 1, 1.5, "12.50", "2024-02-29", "2024-05-01T07:30:00.000005+00:00", '{"a":[1,2]}',
              b"\x00\x01"),
             (None, None, None, None, None, None, None, None, None, None),
             # What raw SQL may leave behind: a REAL in an INTEGER column, 2 for a boolean, an
             # integer in a REAL column, text SQLite wrote without an offset, a JSON scalar.
             (3.5, "", "", 2, 2, "0.10", "1999-12-31", "2024-05-01 07:30:00", "7", b""),
             (2 ** 40, "x" * 20, "é", 0, -0.0, "-1.00", "2000-01-01", "2024-05-01T09:30:00+02:00", "null", b"\xff")])
        raw = await db.fetch_all('SELECT * FROM every ORDER BY "id"')
        found = await Every.query(db).order_by("id").all()
        assert len(found) == 4
        for obj, row in zip(found, raw):
            expected = _by_from_db(Every, row)
            assert {c.key: obj.__dict__[c.key] for c in Every.__table__.columns} == expected
            assert [type(obj.__dict__[k]) for k in expected] == [type(v) for v in expected.values()]
            assert state_of(obj).snapshot == dict(row) and state_of(obj).persistent
        assert (found[2].big, found[2].flag, found[2].score, found[2].data) == (3, True, 2.0, 7)
        assert (type(found[2].big), raw[2]["big"]) == (int, 3.5)  # int(3.5), as from_db gives
        assert found[2].at == datetime.datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
        assert found[3].at == datetime.datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
        assert found[0].price == D("12.50") and found[0].day == datetime.date(2024, 2, 29)
        # Rows that are dicts (drivers other than SQLite) are read by name, with the same result.
        loader = row_loader(Every, "sqlite")
        as_dicts = loader.load([MappingRecord(dict(row)) for row in raw], "x.")
        assert [o.to_dict() for o in as_dicts] == [o.to_dict() for o in found]
        assert [state_of(o).path for o in as_dicts] == ["x."] * 4
        assert loader.load([]) == []
        # A changed object of a loaded row saves only what changed.
        found[0].name = "m"
        async with db.connection() as conn:
            counting = Counting(conn)
            await found[0].__covet_flush__(counting, "save")
        assert [sql for sql, _ in counting.statements] == ['UPDATE "every" SET "name" = ? WHERE "id" = ?']
        await db.disconnect()
    run(main())


def test_only_columns_whose_type_may_change_a_value_are_converted():
    class Cents(Integer):
        def from_db(self, value, dialect):  # overrides from_db without from_db_passes: always called
            return None if value is None else value * 100

    class Own(Model):
        __abstract__ = True
        registry = Registry()

    class Priced(Own):
        __tablename__ = "priced"
        id = Column(Integer, primary_key=True)
        cents = Column(Cents)
        label = Column(String(10))
        on = Column(Boolean)

    table = Priced.__table__
    assert converter(table.by_key["label"]) is None
    assert converter(table.by_key["id"])[0] is int
    assert converter(table.by_key["on"])[0] is bool
    assert converter(table.by_key["cents"])[0] is None
    loader = row_loader(Priced, "sqlite")
    assert loader is row_loader(Priced, "sqlite") and loader is not row_loader(Priced, "postgresql")
    assert [key for key, _, _ in loader.conversions] == ["id", "cents", "on"]
    (obj,) = loader.load([(1, 7, "x", 1)])
    assert (obj.id, obj.cents, obj.label, obj.on) == (1, 700, "x", True)
    (one,) = row_loader(Single, "sqlite").load([(4,)])
    assert one.id == 4 and state_of(one).snapshot == {"id": 4}


def test_a_loaded_object_gets_its_state_when_first_asked(url):
    async def main():
        db = await opened(url)
        item = Item(name="it", code="c")
        await commit(db, item, Note(text="a", item=item))
        (found,) = await Item.query(db).all()
        packed = found.__dict__[STATE]
        assert type(packed) is tuple and packed[1] == ""  # no InstanceState made yet
        assert found.to_dict()["name"] == "it" and loaded_of(found) == {}
        assert found.__dict__[STATE] is packed  # reading and serialising made none either
        state = state_of(found)
        assert isinstance(state, InstanceState) and found.__dict__[STATE] is state and state_of(found) is state
        assert (state.persistent, state.deleted, state.path, state.loaded, state.undo) == (True, False, "", {}, None)
        stored = ({"active": True, "price": decimal.Decimal("9.99"), "tags": ["new"]} if on_postgres(url)
                  else {"active": 1, "price": "9.99", "tags": '["new"]'})
        assert state.snapshot == {"id": 1, "name": "it", "code": "c", "made": item.__dict__[STATE].snapshot["made"],
                                  **stored}
        # Touching a relationship that was not loaded still names the load() to add.
        (note,) = await Note.query(db).all()
        with pytest.raises(NotLoadedError, match=r'add \.options\(load\("item"\)\) to the query'):
            note.item
        # Assigning a relationship makes the state, and the save that follows uses its snapshot.
        (note,) = await Note.query(db).all()
        other = Item(name="other")
        await commit(db, other)
        note.item = other
        await commit(db, note)
        assert await db.fetch_val("SELECT item_id FROM notes") == other.id == 2
        await db.disconnect()
    run(main())


class Single(Base):
    __tablename__ = "singles"
    id = Column(Integer, primary_key=True)


def test_loaded_relationships_use_the_loader_with_their_path(url):
    async def main():
        db = await opened(url)
        item = Item(name="it")
        await commit(db, item, *[Note(text="n%d" % i, item=item) for i in range(3)])
        notes = await Note.query(db).options(load("item")).all()
        assert [n.item.name for n in notes] == ["it"] * 3
        assert state_of(notes[0].item).path == "item."
        await db.disconnect()
    run(main())
