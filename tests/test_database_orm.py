"""The ORM on real SQLite files: create_all, saving through the Session, the query API, eager
relationships, updates and deletes, rollback, and what the database refuses."""
import asyncio
import datetime
import decimal

import pytest
from db_backends import on_postgres

from covet.core.errors import RequestValidationError
from covet.database import DatabaseManager, IntegrityError, InvalidIdentifier
from covet.database.orm import (JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, Model,
                                NotLoadedError, Numeric, ObjectNotFound, ORMError, Registry, String, create_all, drop_all,
                                func, load, or_, relationship)

UTC = datetime.timezone.utc
D = decimal.Decimal


class Base(Model):
    __abstract__ = True
    registry = Registry()  # its models stay out of Model.registry


class Author(Base):
    __tablename__ = "authors"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)
    email = Column(String(100), unique=True)
    joined = Column(DateTime, default=func.now(), nullable=False)
    updated_at = Column(DateTime, onupdate=func.now())
    score = Column(Float)
    balance = Column(Numeric(10, 2))
    active = Column(Boolean, default=True, nullable=False)
    birthday = Column(Date)
    profile = Column(JSON)
    avatar = Column(LargeBinary)
    books = relationship("Book", order_by="-id")


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)
    author_id = Column(Integer, ForeignKey("authors.id", ondelete="CASCADE"), nullable=False, index=True)
    title = Column(String(100), nullable=False)
    author = relationship("Author")
    chapters = relationship("Chapter")


class Chapter(Base):
    __tablename__ = "chapters"
    id = Column(Integer, primary_key=True)
    book_id = Column(Integer, ForeignKey("books.id", ondelete="CASCADE"), nullable=False)
    n = Column(Integer, nullable=False)


class Counting:
    """Runs queries on ``target`` and records each statement (to count queries)."""

    def __init__(self, target):
        self.target = target
        self.dialect = target.dialect
        self.statements = []

    async def fetch_all(self, sql, *params):
        self.statements.append(sql)
        return await self.target.fetch_all(sql, *params)

    async def fetch_one(self, sql, *params):
        self.statements.append(sql)
        return await self.target.fetch_one(sql, *params)

    async def fetch_val(self, sql, *params):
        self.statements.append(sql)
        return await self.target.fetch_val(sql, *params)

    async def execute(self, sql, *params):
        self.statements.append(sql)
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


async def save(db, *objects):
    async with db.session_scope() as session:
        session.add_all(objects)
        await session.commit()


async def seed(db):
    """Three authors: ann (2 books, the first with 2 chapters), bob (1 book), cy (none)."""
    ann, bob, cy = Author(name="ann", email="ann@x"), Author(name="bob", email="bob@x"), Author(name="cy")
    await save(db, ann, bob, cy)
    b1, b2, b3 = Book(title="a1", author=ann), Book(title="a2", author=ann), Book(title="b1", author=bob)
    await save(db, b1, b2, b3)
    await save(db, Chapter(book_id=b1.id, n=1), Chapter(book_id=b1.id, n=2))
    return ann, bob, cy


def test_create_all_creates_the_tables_once_and_drop_all_drops_them(url):
    async def main():
        db = DatabaseManager(url)
        if on_postgres(url):  # tables and the ORM's own indexes (not those of keys and UNIQUE)
            tables = ("SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND "
                      "(relkind = 'r' OR (relkind = 'i' AND relname LIKE 'ix_%')) ORDER BY relname")
        else:
            tables = ("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' "
                      "ORDER BY name")
        statements = await create_all(db, Base)
        assert [s.split('"')[1] for s in statements] == ["authors", "books", "ix_books_author_id", "chapters"]
        assert [r["name"] for r in await db.fetch_all(tables)] == ["authors", "books", "chapters", "ix_books_author_id"]
        await save(db, Author(name="kept"))
        await create_all(db, [Author, Book, Chapter])  # IF NOT EXISTS: a second run changes nothing
        assert await db.fetch_val("SELECT name FROM authors") == "kept"
        assert await drop_all(db, Base) == ['DROP TABLE IF EXISTS "chapters"', 'DROP TABLE IF EXISTS "books"',
                                            'DROP TABLE IF EXISTS "authors"']
        assert await db.fetch_all(tables) == []
        await db.disconnect()
    run(main())


def test_commit_gives_the_object_its_key_and_its_defaults(url):
    async def main():
        db = await opened(url)
        before = datetime.datetime.now(UTC)
        author = Author(name="ann", email="ann@x")
        async with db.session_scope() as session:
            session.add(author)
            assert author.id is None
            await session.commit()
            assert author.id == 1
            joined = author.joined
            assert joined.tzinfo is UTC and before <= joined <= datetime.datetime.now(UTC)
            await session.refresh(author)
            assert author.joined == joined and author.active is True
        row = await db.fetch_one("SELECT id, joined, active FROM authors")
        if on_postgres(url):  # stored as timestamptz and boolean
            assert row == {"id": 1, "joined": joined, "active": True}
        else:
            assert row == {"id": 1, "joined": joined.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"), "active": 1}
        second = Author(name="bob")
        await save(db, second)
        assert second.id == 2
        await db.disconnect()
    run(main())


def test_every_type_is_stored_exactly_and_read_back_equal(url):
    async def main():
        db = await opened(url)
        two = datetime.timezone(datetime.timedelta(hours=2))
        author = Author(name="é 名", email="x@y", joined=datetime.datetime(2024, 5, 1, 9, 30, 0, 5, tzinfo=two),
                        score=0.1, balance="1234.5", active=False, birthday="1990-02-28",
                        profile={"langs": ["fr", "ja"], "n": 1.5, "ok": None}, avatar=b"\x00\xffPNG")
        await save(db, author)
        raw = await db.fetch_one("SELECT * FROM authors")
        if on_postgres(url):  # each in its own PostgreSQL type
            assert dict(raw) == {
                "id": 1, "name": "é 名", "email": "x@y",
                "joined": datetime.datetime(2024, 5, 1, 7, 30, 0, 5, tzinfo=UTC),
                "updated_at": None, "score": 0.1, "balance": D("1234.50"), "active": False,
                "birthday": datetime.date(1990, 2, 28), "profile": {"langs": ["fr", "ja"], "n": 1.5, "ok": None},
                "avatar": b"\x00\xffPNG"}
        else:
            assert dict(raw) == {
                "id": 1, "name": "é 名", "email": "x@y", "joined": "2024-05-01T07:30:00.000005+00:00",
                "updated_at": None, "score": 0.1, "balance": "1234.50", "active": 0, "birthday": "1990-02-28",
                "profile": '{"langs":["fr","ja"],"n":1.5,"ok":null}', "avatar": b"\x00\xffPNG"}
        found = await Author.query(db).get(1)
        assert found is not author
        assert (found.name, found.joined, found.score, found.balance, found.active, found.birthday, found.profile,
                found.avatar) == ("é 名", datetime.datetime(2024, 5, 1, 7, 30, 0, 5, tzinfo=UTC), 0.1, D("1234.50"),
                                  False, datetime.date(1990, 2, 28), {"langs": ["fr", "ja"], "n": 1.5, "ok": None},
                                  b"\x00\xffPNG")
        assert str(found.balance) == "1234.50" and found.active is False
        assert found.to_dict() == {
            "id": 1, "name": "é 名", "email": "x@y", "joined": "2024-05-01T07:30:00.000005+00:00",
            "updated_at": None, "score": 0.1, "balance": "1234.50", "active": False, "birthday": "1990-02-28",
            "profile": {"langs": ["fr", "ja"], "n": 1.5, "ok": None}, "avatar": "AP9QTkc="}
        # Text SQLite wrote itself (CURRENT_TIMESTAMP, covet's now()) reads as UTC.
        await db.execute("UPDATE authors SET updated_at = now()")
        again = await Author.query(db).get(1)
        assert again.updated_at.tzinfo is UTC
        await db.disconnect()
    run(main())


def test_without_returning_the_new_key_comes_from_lastrowid(sqlite_url, monkeypatch):  # PostgreSQL: no lastrowid
    url = sqlite_url

    async def main():
        db = await opened(url)
        monkeypatch.setattr(db.dialect, "supports_returning", False)
        author = Author(name="ann")
        async with db.connection() as conn:
            counting = Counting(conn)
            await author.__covet_flush__(counting, "save")
        assert author.id == 1
        assert counting.statements == [
            'INSERT INTO "authors" ("name", "email", "joined", "updated_at", "score", "balance", "active", '
            '"birthday", "profile", "avatar") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)']
        monkeypatch.setattr(db.dialect, "supports_returning", True)
        other = Author(name="bob")
        async with db.connection() as conn:
            counting = Counting(conn)
            await other.__covet_flush__(counting, "save")
        assert other.id == 2 and counting.statements[0].endswith(' RETURNING "id"')
        await db.disconnect()
    run(main())


def test_query_api(url):
    async def main():
        db = await opened(url)
        await save(db, *[Author(name=n, email="%s@x" % n if n != "dan" else None, score=float(i),
                                balance=D(i * 10), active=i % 2 == 0)
                         for i, n in enumerate(["ann", "bob", "cy", "dan", "eve"])])

        def names(objs):
            return [o.name for o in objs]
        q = Author.query(db)
        assert names(await q.order_by(Author.id.desc()).limit(2).all()) == ["eve", "dan"]
        assert names(await q.order_by("name").offset(3).all()) == ["dan", "eve"]
        assert names(await q.order_by("-score").limit(2).offset(1).all()) == ["dan", "cy"]
        assert names(await q.filter(Author.active == True).order_by("id").all()) == ["ann", "cy", "eve"]  # noqa
        assert names(await q.filter_by(active=False).all()) == ["bob", "dan"]
        assert names(await q.filter(Author.email.is_(None)).all()) == ["dan"]
        assert names(await q.filter(Author.email == None).all()) == ["dan"]  # noqa: E711
        assert names(await q.filter(Author.name.in_(["bob", "eve", "zed"])).order_by("id").all()) == ["bob", "eve"]
        assert names(await q.filter(Author.name.like("%e%")).order_by("id").all()) == ["eve"]
        assert names(await q.filter(Author.name.ilike("A%")).all()) == ["ann"]
        assert names(await q.filter(or_(Author.score < 1, Author.score > 3)).order_by("id").all()) == ["ann", "eve"]
        assert names(await q.filter(~(Author.score >= 1)).all()) == ["ann"]
        assert names(await q.filter(Author.score.between(1, 2)).order_by("id").all()) == ["bob", "cy"]
        assert names(await q.filter(Author.balance == D("20")).all()) == ["cy"]
        assert names(await q.filter(Author.joined <= func.now()).order_by("id").limit(1).all()) == ["ann"]
        assert (await q.filter(Author.name == "cy").first()).score == 2.0
        assert await q.filter(Author.name == "nobody").first() is None
        assert await q.count() == 5
        assert await q.filter(Author.active == False).count() == 2  # noqa: E712
        assert await q.limit(2).count() == 2 and await q.offset(4).count() == 1
        assert (await q.get(3)).name == "cy"
        assert await q.get(99) is None and await q.get(None) is None
        assert await q.filter(Author.active == True).get(2) is None  # noqa: E712 (filters apply to get)
        # The same queries on a Session and on a Connection.
        async with db.session_scope() as session:
            assert (await Author.query(session).get(1)).name == "ann"
        async with db.connection() as conn:
            assert await Author.query(conn).filter(Author.score > 2).count() == 2
        await db.disconnect()
    run(main())


def test_relationships_load_with_one_query_each(url):
    async def main():
        db = await opened(url)
        await seed(db)
        counting = Counting(db)
        authors = await Author.query(counting).order_by("id").options(load("books")).all()
        assert len(counting.statements) == 2
        assert counting.statements[1] == (
            'SELECT "id", "author_id", "title" FROM "books" WHERE "books"."author_id" IN (?, ?, ?) '
            'ORDER BY "books"."id" DESC')
        assert [[b.title for b in a.books] for a in authors] == [["a2", "a1"], ["b1"], []]
        with pytest.raises(NotLoadedError, match=r'Book.chapters was not loaded: add \.options\(load\("books.chapters"\)\)'):
            authors[0].books[0].chapters

        counting = Counting(db)
        authors = await Author.query(counting).order_by("id").options(load("books.chapters"), load("books")).all()
        assert len(counting.statements) == 3
        assert [[[c.n for c in b.chapters] for b in a.books] for a in authors] == [[[], [1, 2]], [[]], []]
        assert authors[0].to_dict()["books"][1]["chapters"] == [{"id": 1, "book_id": 1, "n": 1},
                                                               {"id": 2, "book_id": 1, "n": 2}]

        counting = Counting(db)
        books = await Book.query(counting).order_by("id").options(load(Book.author)).all()
        assert len(counting.statements) == 2 and "IN (?, ?)" in counting.statements[1]  # two distinct authors
        assert [b.author.name for b in books] == ["ann", "ann", "bob"]
        assert books[0].author is books[1].author  # one object per row within a load

        counting = Counting(db)
        assert await Author.query(counting).filter(Author.name == "zed").options(load("books")).all() == []
        assert len(counting.statements) == 1  # nothing found: no second query
        await db.disconnect()
    run(main())


def test_a_big_eager_load_is_split_into_chunks(url, monkeypatch):
    async def main():
        from covet.database.orm import relationships
        monkeypatch.setattr(relationships, "IN_CHUNK", 2)
        db = await opened(url)
        await seed(db)
        counting = Counting(db)
        authors = await Author.query(counting).order_by("id").options(load("books")).all()
        assert len(counting.statements) == 3  # three authors, two per IN
        assert [len(a.books) for a in authors] == [2, 1, 0]
        await db.disconnect()
    run(main())


def test_saving_a_changed_object_updates_only_what_changed(url):
    async def main():
        db = await opened(url)
        author = Author(name="ann", profile={"tags": []})
        await save(db, author)
        assert author.updated_at is None
        async with db.connection() as conn:
            counting = Counting(conn)
            await author.__covet_flush__(counting, "save")
            assert counting.statements == []  # nothing changed: no UPDATE, updated_at untouched
            assert author.updated_at is None
            author.name = "anne"
            await author.__covet_flush__(counting, "save")
            assert counting.statements == ['UPDATE "authors" SET "name" = ?, "updated_at" = ? WHERE "id" = ?']
            assert author.updated_at.tzinfo is UTC
            author.profile["tags"].append("new")  # changed in place: seen through the stored JSON text
            await author.__covet_flush__(counting, "save")
            assert counting.statements[-1] == 'UPDATE "authors" SET "updated_at" = ?, "profile" = ? WHERE "id" = ?'
        found = await Author.query(db).get(author.id)
        assert (found.name, found.profile, found.updated_at) == ("anne", {"tags": ["new"]}, author.updated_at)
        await db.disconnect()
    run(main())


def test_delete_through_the_session_and_what_follows(url):
    async def main():
        db = await opened(url)
        ann, bob, cy = await seed(db)
        async with db.session_scope() as session:
            session.delete(ann)
            await session.commit()
            assert await Author.query(session).get(ann.id) is None
            assert await Book.query(db).count() == 1  # ON DELETE CASCADE: foreign keys are enforced
            with pytest.raises(ORMError, match=r"Author\(id=1\) was never saved, so there is no row to read"):
                await session.refresh(ann)
            with pytest.raises(ORMError, match=r"Author\(id=None\) was never saved, so there is no row to delete"):
                session.delete(Author(name="new"))
                await session.commit()
            # Someone else deletes bob: saving or refreshing our copy says so.
            await db.execute("DELETE FROM authors WHERE id = ?", bob.id)
            with pytest.raises(ObjectNotFound, match=r"Author\(id=2\) has no row any more"):
                await session.refresh(bob)
            bob.name = "robert"
            session.add(bob)
            with pytest.raises(ObjectNotFound, match=r"Author\(id=2\) has no row any more"):
                await session.commit()
        # A deleted object added again is inserted again, with its key.
        await save(db, ann)
        assert (await Author.query(db).get(1)).name == "ann"
        await db.disconnect()
    run(main())


def test_bulk_update_and_delete(url):
    async def main():
        db = await opened(url)
        await seed(db)
        q = Author.query(db)
        assert await q.filter(Author.name.in_(["ann", "bob"])).update(active=False, balance="9.5") == 2
        rows = await db.fetch_all("SELECT name, active, balance, updated_at IS NOT NULL AS stamped FROM authors "
                                  "ORDER BY id")
        if on_postgres(url):
            assert [dict(r) for r in rows] == [{"name": "ann", "active": False, "balance": D("9.50"), "stamped": True},
                                               {"name": "bob", "active": False, "balance": D("9.50"), "stamped": True},
                                               {"name": "cy", "active": True, "balance": None, "stamped": False}]
        else:
            assert [dict(r) for r in rows] == [{"name": "ann", "active": 0, "balance": "9.50", "stamped": 1},
                                               {"name": "bob", "active": 0, "balance": "9.50", "stamped": 1},
                                               {"name": "cy", "active": 1, "balance": None, "stamped": 0}]
        with pytest.raises(RequestValidationError) as info:
            await q.update(name="x" * 51, active="no")
        assert info.value.errors == [
            {"loc": ["body", "name"], "msg": "must be at most 50 characters long", "type": "maxLength"},
            {"loc": ["body", "active"], "msg": "must be of type boolean", "type": "type"}]
        with pytest.raises(ValueError, match="update\\(\\): Author has no column 'nope'"):
            await q.update(nope=1)
        with pytest.raises(TypeError, match="limit/offset/order_by do not apply"):
            await q.limit(1).update(name="x")
        with pytest.raises(TypeError, match="limit/offset/order_by do not apply"):
            await q.order_by("id").delete()
        assert await Book.query(db).filter(Book.title.like("a%")).delete() == 2
        assert await Book.query(db).count() == 1
        assert await Chapter.query(db).count() == 0  # cascaded from book a1
        assert await Author.query(db).delete() == 3
        await db.disconnect()
    run(main())


def test_a_failed_commit_saves_nothing_and_new_objects_forget_their_keys(url):
    async def main():
        db = await opened(url)
        await save(db, Author(name="ann", email="ann@x"))
        first, clash = Author(name="new", email="new@x"), Author(name="dup", email="ann@x")
        async with db.session_scope() as session:
            session.add(first)
            session.add(clash)
            with pytest.raises(IntegrityError, match='unique constraint "authors_email_key"' if on_postgres(url)
                               else "UNIQUE constraint failed: authors.email"):
                await session.commit()
            assert session.pending == []
            assert first.id is None and clash.id is None  # the INSERT of `first` was rolled back
            assert await Author.query(db).count() == 1
            clash.email = "dup@x"
            session.add_all([first, clash])
            await session.commit()
        # a PostgreSQL sequence never gives a number back: the failed INSERTs took 2 and 3
        gone = 2 if on_postgres(url) else 0
        assert (first.id, clash.id) == (2 + gone, 3 + gone)
        assert [a.name for a in await Author.query(db).order_by("id").all()] == ["ann", "new", "dup"]
        # An explicit rollback after a flush undoes the flush on the object too.
        third = Author(name="third")
        async with db.session_scope() as session:
            session.add(third)
            await session.flush()
            assert third.id == 4 + gone
            await session.rollback()
            assert third.id is None
        assert await Author.query(db).count() == 3
        await db.disconnect()
    run(main())


def test_a_new_author_and_book_saved_in_one_commit(url):
    async def main():
        db = await opened(url)
        author = Author(name="ann")
        book = Book(title="first", author=author)
        assert book.author_id is None
        await save(db, author, book)  # the author first: the book takes its new key
        assert (author.id, book.author_id) == (1, 1)
        orphan_author = Author(name="bob")
        orphan = Book(title="second", author=orphan_author)
        with pytest.raises(ORMError, match="Book.author is a Author without a id yet: add it to the session before "
                                           "this Book"):
            await save(db, orphan, orphan_author)
        assert orphan_author.id is None and await Author.query(db).count() == 1
        with pytest.raises(IntegrityError, match="violates foreign key constraint" if on_postgres(url)
                           else "FOREIGN KEY constraint failed"):
            await save(db, Book(title="dangling", author_id=99))
        await db.disconnect()
    run(main())


def test_names_from_requests_cannot_reach_sql_and_values_stay_data(url):
    async def main():
        db = await opened(url)
        evil = "x'); DROP TABLE authors; --"
        await save(db, Author(name=evil))
        for bad in ('name; DROP TABLE authors', 'name" --', "-name)--"):
            with pytest.raises(InvalidIdentifier):
                await Author.query(db).order_by(bad).all()
        with pytest.raises(InvalidIdentifier):
            await Author.query(db).filter_by(**{"1=1 OR name": "x"}).all()
        assert [a.name for a in await Author.query(db).filter(Author.name == evil).all()] == [evil]
        assert await db.fetch_val("SELECT count(*) FROM authors") == 1
        await db.disconnect()
    run(main())


def test_refresh_reads_what_sql_changed(url):
    async def main():
        db = await opened(url)
        author = Author(name="ann", balance="1.00")
        await save(db, author)
        await db.execute("UPDATE authors SET name = ?, balance = ? WHERE id = ?", "anne", "2.50", author.id)
        async with db.session_scope() as session:
            await session.refresh(author)
        assert (author.name, author.balance) == ("anne", D("2.50"))
        # The refreshed row is the new snapshot: saving it again changes nothing.
        async with db.connection() as conn:
            counting = Counting(conn)
            await author.__covet_flush__(counting, "save")
        assert counting.statements == []
        await db.disconnect()
    run(main())


def test_the_flush_hook_refuses_unknown_operations_and_bad_values(url):
    async def main():
        db = await opened(url)
        author = Author(name="ann")
        async with db.connection() as conn:
            with pytest.raises(ValueError, match="op must be 'save' or 'delete', got 'upsert'"):
                await author.__covet_flush__(conn, "upsert")
            author.profile = {"a": [1]}
            author.profile["a"].append(float("nan"))  # changed in place into something JSON cannot hold
            with pytest.raises(RequestValidationError) as info:
                await author.__covet_flush__(conn, "save")
        assert info.value.errors == [{"loc": ["body", "profile"], "msg": "must be JSON data (objects, arrays, "
                                      "strings, finite numbers, booleans, null)", "type": "type"}]
        assert author.id is None
        await db.disconnect()
    run(main())


def test_a_composite_key_and_a_table_that_refers_to_itself(url):
    class Own(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class Membership(Own):
        __tablename__ = "memberships"
        user_id = Column(Integer, primary_key=True)
        group = Column(String(20), primary_key=True)
        role = Column(String(20), nullable=False)

    class Category(Own):
        __tablename__ = "categories"
        id = Column(Integer, primary_key=True)
        parent_id = Column(Integer, ForeignKey("categories.id"))
        name = Column(String(20), nullable=False)
        parent = relationship("Category", foreign_key="parent_id", many=False)
        children = relationship("Category", foreign_key="parent_id", many=True)

    async def main():
        db = DatabaseManager(url)
        await create_all(db, Own)
        await save(db, Membership(user_id=1, group="admins", role="owner"), Membership(user_id=1, group="ops", role="x"))
        q = Membership.query(db)
        assert (await q.get((1, "admins"))).role == "owner"
        assert (await q.get({"user_id": 1, "group": "ops"})).role == "x"
        assert await q.get((2, "admins")) is None
        with pytest.raises(TypeError, match="get\\(\\) of Membership takes a tuple of 2 values"):
            await q.get(1)
        member = await q.get((1, "ops"))
        member.role = "lead"
        await save(db, member)
        assert await db.fetch_val("SELECT role FROM memberships WHERE \"group\" = 'ops'") == "lead"

        root = Category(name="root")
        child = Category(name="child", parent=root)
        await save(db, root, child)
        found = await Category.query(db).order_by("id").options(load("children"), load("parent")).all()
        assert [(c.name, c.parent and c.parent.name, [k.name for k in c.children]) for c in found] == [
            ("root", None, ["child"]), ("child", "root", [])]
        await db.disconnect()
    run(main())
