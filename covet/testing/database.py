"""``TestDatabase``: a fresh database per test, its schema from your migrations and ORM models, rows
from dicts.

A ``TestDatabase`` is a :class:`~covet.database.DatabaseManager` (every query method, ``db.sync``,
transactions), so tests query it the way the app does. ``sqlite:///:memory:`` (the default) gives
each instance its own temporary SQLite *file*, not an in-memory database: every connection of
the pool sees the same data, WAL and locking behave as in production, and ``drop_all()`` deletes
it.

Example::

    from covet.testing.database import TestDatabase

    @pytest.fixture
    def db():
        with TestDatabase(fixtures={"users": [{"name": "Ada", "email": "ada@example.com"}]}) as db:
            yield db                                  # migrated and loaded; dropped afterwards

    def test_users(db):
        assert db.sync.fetch_val("SELECT count(*) FROM users") == 1
"""
import asyncio
import dataclasses
import json
import os
import shutil
import tempfile
import weakref
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from ..database.config import DatabaseConfig, parse_url
from ..database.errors import InterfaceError
from ..database.identifiers import quote_identifier
from ..database.manager import DatabaseManager
from ..database.migrations import Migrator
from ..database.orm import create_all as create_model_tables
from ..database.records import Record

__all__ = ["TestDatabase", "Fixtures"]

#: ``{table: [row, ...]}``: what :meth:`TestDatabase.load` inserts, in the order given.
Fixtures = Mapping[str, Sequence[Mapping[str, Any]]]

# What SQLite keeps beside a database file in WAL mode (and in rollback-journal mode).
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class TestDatabase(DatabaseManager):
    """A database for one test: ``create_all()`` migrates it, creates the ORM models' tables and
    loads ``fixtures``; ``drop_all()`` removes every table (and, for a temporary file, the file).

    :param url: ``sqlite:///:memory:`` (the default): a new temporary SQLite file. Any other URL is
        used as given (a PostgreSQL test database, a file you want to look at afterwards).
    :param migrations: the ``Migration`` classes that make the schema (default: every class
        defined so far, as ``migrate()`` does); ``[]`` for none.
    :param directory: the folder of ``.sql`` migrations (default: ``migrations/`` if it exists).
    :param models: the ORM models whose tables ``create_all()`` creates after the migrations
        (``CREATE TABLE IF NOT EXISTS``, so a table a migration made is left as it is): a model, a
        list, an abstract base or a ``Registry``; default: every model defined (``Model.registry``);
        ``[]`` for none.
    :param fixtures: rows that ``create_all()`` loads after migrating: ``{table: [dict, ...]}``
        or the path of a JSON file holding that.
    :param settings: passed on to ``DatabaseManager`` (``pool_size=``, ``busy_timeout=``, ...).

    Three ways to use it::

        db = TestDatabase(); await db.create_all(); ...; await db.drop_all()   # the seed's
        async with TestDatabase() as db: ...       # in a coroutine (asyncio.run in a plain test)
        with TestDatabase() as db: ...             # in a plain def test or pytest fixture

    Example::

        async with TestDatabase(directory="migrations") as db:
            users = (await db.load({"users": [{"name": "Ada", "email": "a@x.org"}]}))["users"]
            row = await db.fetch_one("SELECT * FROM users WHERE email = %s", "a@x.org")
            assert row["id"] == users[0]["id"]
    """

    __test__ = False  # a class named Test* that pytest must not collect

    def __init__(self, url: Union[str, DatabaseConfig] = "sqlite:///:memory:", *,
                 migrations: Optional[Iterable[Any]] = None, directory: Optional[str] = None,
                 models: Any = None, fixtures: Union[Fixtures, str, "os.PathLike[str]", None] = None,
                 **settings: Any) -> None:
        config = url if isinstance(url, DatabaseConfig) else parse_url(url)
        #: The folder holding the temporary database file, or None for a database given by URL.
        self.temporary_directory: Optional[str] = None
        if config.driver == "sqlite" and config.database in ("", ":memory:") and not settings.get(
                "connection_factory"):
            self.temporary_directory = tempfile.mkdtemp(prefix="covet-test-db-")
            config = dataclasses.replace(config, database=os.path.join(self.temporary_directory, "test.db"))
            # Removed when the object goes, or at exit, if drop_all() never ran (a test that crashed
            # in its set-up); drop_all() removes it at once.
            self._remove_directory = weakref.finalize(self, shutil.rmtree, self.temporary_directory, True)
        super().__init__(config, **settings)
        self.migrations = None if migrations is None else list(migrations)
        self.directory = directory
        self.models = models
        self.fixtures = fixtures

    # -- schema --------------------------------------------------------------------------------
    async def create_all(self) -> None:
        """Apply every migration, create the tables of ``models`` that do not exist yet, then load
        ``fixtures`` (if given).

        Example::

            db = TestDatabase(directory="migrations")
            await db.create_all()
        """
        if self.temporary_directory is not None:
            os.makedirs(self.temporary_directory, exist_ok=True)
        await self.connect()
        await Migrator(self, migrations=self.migrations, directory=self.directory).up()
        # Migrations first: they are the schema production gets, and the models' IF NOT EXISTS
        # leaves what they made alone.
        await create_model_tables(self, self.models)
        if self.fixtures is not None:
            await self.load(self.fixtures)

    async def drop_all(self) -> None:
        """Drop every table and view; a temporary database is closed and its file deleted.

        The database stays usable: ``create_all()`` afterwards starts from empty again.

        Example::

            await db.drop_all()
        """
        if self.temporary_directory is not None:
            await self.disconnect()
            base = os.path.join(self.temporary_directory, "test.db")
            for suffix in _SQLITE_SIDE_FILES:
                try:
                    os.remove(base + suffix)
                except FileNotFoundError:
                    pass
            return
        async with self.connection() as conn:
            if self.dialect.name == "sqlite":
                rows = await conn.fetch_all("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name")
                # With foreign keys on, dropping a referenced table first fails; the order of a
                # whole-schema drop does not matter once they are off (outside any transaction,
                # where SQLite ignores the pragma).
                await conn.execute("PRAGMA foreign_keys=OFF")
                try:
                    for row in rows:
                        kind, name = row["type"].upper(), quote_identifier(row["name"])
                        await conn.execute("DROP %s IF EXISTS %s" % (kind, name))
                finally:
                    await conn.execute("PRAGMA foreign_keys=ON")
            else:
                rows = await conn.fetch_all(
                    "SELECT table_name, table_type FROM information_schema.tables "
                    "WHERE table_schema = current_schema() ORDER BY table_type DESC, table_name")
                cascade = " CASCADE" if self.dialect.name == "postgresql" else ""
                for row in rows:
                    kind = "VIEW" if row["table_type"] == "VIEW" else "TABLE"
                    await conn.execute("DROP %s IF EXISTS %s%s" % (kind, quote_identifier(row["table_name"]), cascade))

    # -- rows ------------------------------------------------------------------------------------
    async def load(self, fixtures: Union[Fixtures, str, "os.PathLike[str]"]) -> Dict[str, List[Record]]:
        """Insert rows, table by table in the order given, in one transaction; the inserted rows as
        the database stored them (ids and defaults filled in), by table.

        ``fixtures`` is ``{table: [{column: value, ...}, ...]}`` or the path of a JSON file holding
        that. If one row fails (a unique email twice), nothing is loaded.

        Example::

            rows = await db.load({"users": [{"name": "Ada"}, {"name": "Bob"}],
                                  "posts": [{"user_id": 1, "title": "Hi"}]})
            rows["users"][1]["id"]   # 2
        """
        data = _read_fixtures(fixtures)
        returning = self.dialect.supports_returning
        loaded: Dict[str, List[Record]] = {}
        async with self.transaction():
            for table, rows in data.items():
                name = quote_identifier(table)
                loaded[table] = out = []
                for row in rows:
                    columns = list(row)
                    if columns:
                        sql = "INSERT INTO %s (%s) VALUES (%s)" % (
                            name, ", ".join(quote_identifier(c) for c in columns), ", ".join("?" * len(columns)))
                    else:
                        sql = "INSERT INTO %s DEFAULT VALUES" % name
                    values = [row[c] for c in columns]
                    if returning:
                        out.append(await self.fetch_one(sql + " RETURNING *", *values))
                    else:
                        # SQLite before 3.35: the row by the rowid the insert reports.
                        result = await self.execute(sql, *values)
                        out.append(await self.fetch_one("SELECT * FROM %s WHERE rowid = ?" % name, result.lastrowid))
        return loaded

    def load_sync(self, fixtures: Union[Fixtures, str, "os.PathLike[str]"]) -> Dict[str, List[Record]]:
        """:meth:`load` for plain ``def`` code (not on a running event loop's thread).

        Example::

            db.load_sync({"users": [{"name": "Ada"}]})
        """
        return _run(self.load(fixtures), "load_sync()", "await db.load(...)")

    # -- with / async with ------------------------------------------------------------------------
    async def __aenter__(self) -> "TestDatabase":
        await self.create_all()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self.drop_all()
        finally:
            await self.disconnect()

    def __enter__(self) -> "TestDatabase":
        _run(self.create_all(), "with TestDatabase()", "async with TestDatabase()")
        return self

    def __exit__(self, *exc: Any) -> None:
        _run(self.__aexit__(*exc), "with TestDatabase()", "async with TestDatabase()")

    def __repr__(self) -> str:
        return "<TestDatabase %s>" % self.url


def _run(coro: Any, what: str, instead: str) -> Any:
    """Run ``coro`` to its end on a loop of its own. The pool serves any loop, so the connections
    opened here serve the test's own ``asyncio.run`` or a TestClient's loop afterwards."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise InterfaceError("%s blocks, and this thread is running an event loop: use %s" % (what, instead))


def _read_fixtures(fixtures: Any) -> Fixtures:
    if isinstance(fixtures, (str, os.PathLike)):
        path = os.fspath(fixtures)
        try:
            with open(path, encoding="utf-8") as f:
                fixtures = json.load(f)
        except OSError as exc:
            raise ValueError("cannot read the fixtures file %s: %s" % (path, exc.strerror or exc)) from None
        except ValueError as exc:
            raise ValueError("the fixtures file %s is not JSON: %s" % (path, exc)) from None
    if not isinstance(fixtures, Mapping):
        raise TypeError("fixtures are {table: [row, ...]}, not %s" % type(fixtures).__name__)
    for table, rows in fixtures.items():
        if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
            raise TypeError("fixtures[%r] must be a list of rows, not %s" % (table, type(rows).__name__))
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise TypeError("fixtures[%r][%d] must be a dict of column: value, not %s"
                                % (table, i, type(row).__name__))
    return fixtures
