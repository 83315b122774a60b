"""Schema migrations: ``Migration`` classes and numbered ``.sql`` files, applied in order, each in
its own transaction, recorded with a checksum, one worker at a time.

Two ways to write a migration, mixed freely:

- a class whose ``up()`` (and ``down()``) return SQL; its version is its ``version`` attribute,
  else its place in definition order (1, 2, ...); its name is its ``name`` attribute, else the
  class name in snake case (``CreateUsersTable`` -> ``create_users_table``);
- a file ``NNNN_name.sql`` with ``-- up`` and ``-- down`` sections
  (:mod:`covet.database.migration_files`), in ``migrations/`` or the folder given.

The table ``covet_migrations`` (version, name, checksum, applied_at) records what ran. An applied
migration whose SQL was edited since is reported by :func:`status` and stops :func:`migrate`.

Example::

    from covet.database.migrations import Migration, migrate

    class CreateUsersTable(Migration):
        def up(self):
            return "CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL);"

        def down(self):
            return "DROP TABLE users;"

    await migrate("up")                  # every pending migration, in version order
    await migrate("down", steps=1)       # the newest one rolled back
"""
import abc
import datetime
import hashlib
import logging
import os
import re
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Type, Union

from .errors import DatabaseError
from .identifiers import quote_identifier
from .manager import DatabaseManager, default_database
from .migration_files import (
    MigrationError, MigrationScript, checksum, check_unique, format_version, has_sql, load_directory, normalise_sql,
    transaction_control,
)

__all__ = [
    "Migration", "migrate", "status", "Migrator", "MigrationError", "MigrationScript", "MigrationState",
    "MigrationStatus", "registered_migrations", "collect_migrations", "DEFAULT_TABLE", "DEFAULT_DIRECTORY",
]

logger = logging.getLogger("covet.database.migrations")

#: The table that records applied migrations.
DEFAULT_TABLE = "covet_migrations"

#: The folder of ``.sql`` migrations used when none is given, relative to the current directory
#: (where ``covet db`` and the app run), and only if it exists.
DEFAULT_DIRECTORY = "migrations"

# Migration subclasses in definition order: what migrate() runs when it is given no list.
_registry: List[Type["Migration"]] = []

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class Migration(abc.ABC):
    """A migration written in Python: ``up()`` returns the SQL that applies it, ``down()`` the SQL
    that undoes it (None, the default, when it cannot be undone).

    Defining a subclass registers it: :func:`migrate` with no ``migrations=`` runs the registered
    classes in definition order. ``class Base(Migration, register=False)`` makes a base class that
    is not itself a migration. Class attributes:

    - ``version``: an int (or digits) that orders it among the migrations and identifies it in
      the record table. Without it, the version is the class's place in definition order (1, 2,
      ...): append new classes at the end, or give every class a ``version``.
    - ``name``: recorded with the version; the class name in snake case by default.

    The SQL may hold several statements; PostgreSQL spellings ``SERIAL`` and ``DEFAULT NOW()``
    also run on SQLite (the database layer rewrites them).

    Example::

        class AddEmailIndex(Migration):
            version = 2

            def up(self):
                return "CREATE UNIQUE INDEX users_email ON users (email);"

            def down(self):
                return "DROP INDEX users_email;"
    """

    version: Optional[int] = None
    name: Optional[str] = None

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not register:
            return
        if cls.up is Migration.up:
            raise TypeError("%s is a Migration without up(): define up() to return its SQL" % cls.__qualname__)
        _check_version(cls.version, cls.__qualname__)
        if cls.name is not None and (not isinstance(cls.name, str) or not cls.name.strip()):
            raise TypeError("%s.name must be a non-empty string, not %r" % (cls.__qualname__, cls.name))
        _registry.append(cls)

    @abc.abstractmethod
    def up(self) -> str:
        """The SQL that applies this migration (a registered subclass must define it)."""

    def down(self) -> Optional[str]:
        """The SQL that undoes ``up()``; None when the migration cannot be rolled back."""
        return None


def _check_version(version: object, owner: str) -> Optional[int]:
    if version is None:
        return None
    if isinstance(version, str) and version.isdigit() and version.isascii():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2 ** 63:
        raise TypeError("%s.version must be a positive int (or digits), not %r" % (owner, version))
    return version


def registered_migrations() -> List[Type[Migration]]:
    """The Migration subclasses defined so far, in definition order.

    Example::

        [m.__name__ for m in registered_migrations()]   # ['CreateUsersTable', 'AddEmailIndex']
    """
    return list(_registry)


def _class_script(migration: Union[Type[Migration], Migration], position: int) -> MigrationScript:
    instance = migration() if isinstance(migration, type) else migration
    cls = type(instance)
    origin = "class %s.%s" % (cls.__module__, cls.__qualname__)
    version = _check_version(cls.version, cls.__qualname__) or position
    name = cls.name or _CAMEL_BOUNDARY.sub("_", cls.__name__).lower()
    up = instance.up()
    if not isinstance(up, str):
        raise MigrationError("%s.up() must return the SQL as a string, not %s" % (origin, type(up).__name__))
    if not has_sql(up):
        raise MigrationError("%s.up() returned no SQL" % origin)
    down = instance.down()
    if down is not None and not isinstance(down, str):
        raise MigrationError("%s.down() must return the SQL as a string or None, not %s"
                             % (origin, type(down).__name__))
    return MigrationScript(version, name, normalise_sql(up), None if down is None else normalise_sql(down),
                           checksum(up), origin)


def collect_migrations(migrations: Optional[Iterable[Any]] = None,
                       directory: Optional[str] = None) -> List[MigrationScript]:
    """Every migration to consider, in version order: the classes (``migrations``, else the
    registered ones) and the ``.sql`` files of ``directory`` (else ``migrations/`` if it exists).

    A class without a ``version`` takes its 1-based place in the sequence. Two migrations with one
    version are an error naming both.

    Example::

        [(s.version, s.name) for s in collect_migrations()]   # [(1, 'create_users_table')]
    """
    sources = registered_migrations() if migrations is None else list(migrations)
    scripts: List[MigrationScript] = []
    for position, item in enumerate(sources, 1):
        if isinstance(item, MigrationScript):
            scripts.append(item)
        elif isinstance(item, Migration) or isinstance(item, type) and issubclass(item, Migration):
            scripts.append(_class_script(item, position))
        else:
            raise TypeError("migrations must be Migration classes, not %r" % (item,))
    if directory is not None:
        scripts.extend(load_directory(os.fspath(directory)))
    elif os.path.isdir(DEFAULT_DIRECTORY):
        scripts.extend(load_directory(DEFAULT_DIRECTORY))
    return check_unique(scripts)


class MigrationState(NamedTuple):
    """One line of :func:`status`: a migration and where it stands.

    ``state`` is ``"applied"``, ``"pending"``, ``"changed"`` (applied, but its SQL or name differs
    now; ``detail`` says how) or ``"missing"`` (applied, but no file or class has its version).
    """

    version: int
    name: str
    state: str
    applied_at: Optional[str]
    origin: Optional[str]
    detail: str = ""


class MigrationStatus:
    """What :func:`status` returns: every migration known to the code or the database, by version.

    Example::

        s = await status()
        [m.name for m in s.pending]   # ['add_email_index']
        s.up_to_date                  # False
    """

    __slots__ = ("migrations",)

    def __init__(self, migrations: List[MigrationState]) -> None:
        self.migrations = migrations

    def _where(self, state: str) -> List[MigrationState]:
        return [m for m in self.migrations if m.state == state]

    @property
    def applied(self) -> List[MigrationState]:
        """Applied and unchanged."""
        return self._where("applied")

    @property
    def pending(self) -> List[MigrationState]:
        """Not applied yet."""
        return self._where("pending")

    @property
    def changed(self) -> List[MigrationState]:
        """Applied, then edited: :func:`migrate` refuses to go on until this is resolved."""
        return self._where("changed")

    @property
    def missing(self) -> List[MigrationState]:
        """Applied, but neither a file nor a class has the version any more."""
        return self._where("missing")

    @property
    def up_to_date(self) -> bool:
        """Nothing pending and nothing changed."""
        return not self.pending and not self.changed

    def __repr__(self) -> str:
        return "<MigrationStatus %s>" % " ".join("%s:%s" % (format_version(m.version), m.state)
                                                 for m in self.migrations)


def _changed_detail(script: MigrationScript, row: Any) -> str:
    if row["name"] != script.name:
        return ("version %s was applied as %r but is now %r (%s)"
                % (format_version(script.version), row["name"], script.name, script.origin))
    if row["checksum"] != script.checksum:
        return "%s was edited after it was applied" % script.origin
    return ""


class Migrator:
    """Runs migrations against one database: what :func:`migrate` and :func:`status` use.

    Every migration runs in its own transaction with the migration lock held (SQLite: the write
    lock its ``BEGIN IMMEDIATE`` takes; PostgreSQL: ``pg_advisory_xact_lock``), and re-reads the
    record table inside it: of two workers starting together, one applies a migration and the
    other finds it applied and skips it. A failing statement rolls back the whole migration.

    Example::

        migrator = Migrator(db, directory="migrations")
        await migrator.up()
        print((await migrator.status()).pending)
    """

    def __init__(self, db: Optional[DatabaseManager] = None, *, migrations: Optional[Iterable[Any]] = None,
                 directory: Optional[str] = None, table: str = DEFAULT_TABLE,
                 progress: Optional[Callable[[str, MigrationScript], None]] = None) -> None:
        if db is None:
            db = default_database()
        self.db = db
        self.migrations = None if migrations is None else list(migrations)
        self.directory = directory
        self.table = table
        #: Called as ``progress("up" or "down", script)`` as soon as each migration commits (the
        #: command line prints it then, so a later failure does not hide what was done).
        self.progress = progress
        quoted = quote_identifier(table)
        # The statements are built once per Migrator: the table name is the only variable part.
        self._create = ("CREATE TABLE IF NOT EXISTS %s (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
                        "checksum TEXT NOT NULL, applied_at TEXT NOT NULL)" % quoted)
        self._select = "SELECT version, name, checksum, applied_at FROM %s ORDER BY version" % quoted
        self._select_one = "SELECT version FROM %s WHERE version = ?" % quoted
        self._insert = "INSERT INTO %s (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)" % quoted
        self._delete = "DELETE FROM %s WHERE version = ?" % quoted
        # One advisory-lock key per record table, stable across processes and Python versions
        # (hash() is salted per process): the first 8 bytes of a SHA-256, as a signed bigint.
        digest = hashlib.sha256(("covet.migrations:" + table).encode("utf-8")).digest()
        self._lock_key = int.from_bytes(digest[:8], "big", signed=True)

    def scripts(self) -> List[MigrationScript]:
        """The migrations of the code and the folder, in version order (read afresh each call)."""
        return collect_migrations(self.migrations, self.directory)

    async def _lock(self) -> None:
        # SQLite needs nothing more: db.transaction() began with BEGIN IMMEDIATE, which holds the
        # database's one write lock until commit. PostgreSQL: a transaction-scoped advisory lock
        # (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS), freed
        # at commit or rollback, so a crashed worker cannot leave it held.
        if self.db.dialect.name == "postgresql":
            await self.db.fetch_val("SELECT pg_advisory_xact_lock(?)", self._lock_key)

    async def _table_exists(self) -> bool:
        schema, _, name = self.table.rpartition(".")
        if self.db.dialect.name == "sqlite":
            # An attached database's tables are listed in its own sqlite_master.
            prefix = quote_identifier(schema) + "." if schema else ""
            sql = "SELECT 1 FROM %ssqlite_master WHERE type = 'table' AND name = ?" % prefix
            return await self.db.fetch_val(sql, name) is not None
        sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = ?" % (
            "?" if schema else "current_schema()")
        return await self.db.fetch_val(sql, *([schema, name] if schema else [name])) is not None

    async def _ensure_table(self) -> None:
        if await self._table_exists():
            return
        # Under the lock: two PostgreSQL sessions running CREATE TABLE IF NOT EXISTS at once can
        # still collide on the catalog's unique index.
        async with self.db.transaction():
            await self._lock()
            await self.db.execute(self._create)

    async def _applied(self) -> Dict[int, Any]:
        return {int(row["version"]): row for row in await self.db.fetch_all(self._select)}

    async def status(self) -> MigrationStatus:
        """Every migration and its state; creates nothing in the database.

        Example::

            [(m.name, m.state) for m in (await migrator.status()).migrations]
        """
        await self.db.connect()
        scripts = {s.version: s for s in self.scripts()}
        applied = await self._applied() if await self._table_exists() else {}
        states = []
        for version in sorted(set(scripts) | set(applied)):
            script, row = scripts.get(version), applied.get(version)
            if row is None:
                states.append(MigrationState(version, script.name, "pending", None, script.origin))
            elif script is None:
                states.append(MigrationState(version, row["name"], "missing", row["applied_at"], None,
                                             "applied, but no migration file or class has this version"))
            else:
                detail = _changed_detail(script, row)
                states.append(MigrationState(version, script.name, "changed" if detail else "applied",
                                             row["applied_at"], script.origin, detail))
        return MigrationStatus(states)

    def _target(self, target: Union[int, str], scripts: List[MigrationScript], applied: Dict[int, Any],
                allow_zero: bool) -> int:
        if isinstance(target, str) and not target.isdigit():
            named = [s.version for s in scripts if s.name == target]
            if len(named) == 1:
                return named[0]
            raise MigrationError("no migration named %r" % target if not named else
                                 "%d migrations are named %r: give the version" % (len(named), target))
        if isinstance(target, bool) or not isinstance(target, (int, str)):
            raise TypeError("target must be a version (int) or a migration name, not %r" % (target,))
        version = int(target)
        if version == 0 and allow_zero:
            return 0
        if version not in applied and all(s.version != version for s in scripts):
            raise MigrationError("no migration with version %s" % format_version(version))
        return version

    async def up(self, target: Union[int, str, None] = None, steps: Optional[int] = None) -> List[MigrationScript]:
        """Apply the pending migrations in version order (up to ``target`` inclusive, or the next
        ``steps``); the ones this call applied.

        Refuses to start, applying nothing, while an applied migration has changed.

        Example::

            [s.name for s in await migrator.up()]   # ['create_users', 'add_email_index']
        """
        _check_steps(steps, target)
        scripts = self.scripts()
        await self.db.connect()
        await self._ensure_table()
        applied = await self._applied()
        changed = [_changed_detail(s, applied[s.version]) for s in scripts if s.version in applied]
        changed = [c for c in changed if c]
        if changed:
            raise MigrationError("applied migrations have changed, so none was run: %s. Restore them, or roll "
                                 "them back and migrate again" % "; ".join(changed))
        pending = [s for s in scripts if s.version not in applied]
        if target is not None:
            limit = self._target(target, scripts, applied, allow_zero=False)
            pending = [s for s in pending if s.version <= limit]
        if steps is not None:
            pending = pending[:steps]
        self._check_statements(pending, "up")
        done = []
        for script in pending:
            if await self._run(script, "up"):
                done.append(script)
        return done

    async def down(self, steps: Optional[int] = None, target: Union[int, str, None] = None) -> List[MigrationScript]:
        """Roll back the newest applied migrations: ``steps`` of them (1 by default), or every one
        above ``target`` (``target=0``: all); the ones this call rolled back, newest first.

        Every migration to undo is checked first (its code exists, it has down SQL, it is the one
        that was applied): if one cannot be undone, none is.

        Example::

            await migrator.down(steps=2)
        """
        _check_steps(steps, target)
        scripts = self.scripts()
        await self.db.connect()
        if not await self._table_exists():
            return []
        applied = await self._applied()
        newest_first = sorted(applied, reverse=True)
        if target is None:
            undo = newest_first[:1 if steps is None else steps]
        else:
            limit = self._target(target, scripts, applied, allow_zero=True)
            undo = [v for v in newest_first if v > limit]
        by_version = {s.version: s for s in scripts}
        plan = []
        for version in undo:
            script, row = by_version.get(version), applied[version]
            if script is None:
                raise MigrationError("migration %s %s is applied but no file or class has its version any more: it "
                                     "cannot be rolled back" % (format_version(version), row["name"]))
            if row["name"] != script.name:
                raise MigrationError("cannot roll back: %s" % _changed_detail(script, row))
            if script.down is None:
                raise MigrationError("migration %s has no down SQL: it cannot be rolled back" % script.label)
            if not has_sql(script.down):
                raise MigrationError("migration %s has an empty down section: it cannot be rolled back"
                                     % script.label)
            plan.append(script)
        self._check_statements(plan, "down")
        done = []
        for script in plan:
            if await self._run(script, "down"):
                done.append(script)
        return done

    def _check_statements(self, plan: List[MigrationScript], direction: str) -> None:
        """Refuse, before anything runs, a migration that would commit or roll back by itself."""
        for script in plan:
            sql = script.up if direction == "up" else script.down or ""
            keyword = transaction_control(self.db.backend.split_script(sql))
            if keyword is not None:
                raise MigrationError("migration %s has a %s statement of its own: every migration runs in one "
                                     "transaction (so that it is applied whole or not at all); leave out BEGIN, "
                                     "COMMIT and ROLLBACK" % (script.label, keyword))

    async def _run(self, script: MigrationScript, direction: str) -> bool:
        """Apply or undo one migration in its own locked transaction; False if another worker
        already had."""
        db = self.db
        try:
            async with db.transaction():
                await self._lock()
                # Read again under the lock: the set read before may be stale by now.
                recorded = await db.fetch_val(self._select_one, script.version) is not None
                if recorded == (direction == "up"):
                    return False
                if direction == "up":
                    await db.execute_script(script.up)
                    applied_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                    await db.execute(self._insert, script.version, script.name, script.checksum, applied_at)
                else:
                    await db.execute_script(script.down or "")
                    await db.execute(self._delete, script.version)
        except MigrationError:
            raise
        except Exception as exc:
            verb = "failed" if direction == "up" else "failed to roll back"
            raise MigrationError("migration %s %s, so none of it was %s: %s"
                                 % (script.label, verb, "applied" if direction == "up" else "undone",
                                    exc)) from exc
        logger.info("%s migration %s", "applied" if direction == "up" else "rolled back", script.label)
        if self.progress is not None:
            self.progress(direction, script)
        return True


def _check_steps(steps: Optional[int], target: object) -> None:
    if steps is not None:
        if target is not None:
            raise ValueError("give steps or target, not both")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError("steps must be a positive int, not %r" % (steps,))


async def migrate(direction: str = "up", *, target: Union[int, str, None] = None, steps: Optional[int] = None,
                  db: Optional[DatabaseManager] = None, migrations: Optional[Iterable[Any]] = None,
                  directory: Optional[str] = None, table: str = DEFAULT_TABLE) -> List[MigrationScript]:
    """Migrate ``db`` (default: ``default_database()``) ``"up"`` or ``"down"``; the migrations run.

    ``up``: every pending migration, or those up to ``target`` (a version or a name), or the next
    ``steps``. ``down``: the newest applied one, or ``steps`` of them, or all above ``target``
    (``0`` for all). ``migrations``: the classes to consider (default: every Migration subclass
    defined so far); ``directory``: the folder of ``.sql`` files (default: ``migrations/`` if it
    exists).

    Example::

        await migrate("up")
        await migrate("up", target=3)
        await migrate("down", steps=1)
    """
    migrator = Migrator(db, migrations=migrations, directory=directory, table=table)
    if direction == "up":
        return await migrator.up(target=target, steps=steps)
    if direction == "down":
        return await migrator.down(steps=steps, target=target)
    raise ValueError("direction must be 'up' or 'down', not %r" % (direction,))


async def status(*, db: Optional[DatabaseManager] = None, migrations: Optional[Iterable[Any]] = None,
                 directory: Optional[str] = None, table: str = DEFAULT_TABLE) -> MigrationStatus:
    """Every migration and whether it is applied, pending, changed or missing.

    Example::

        s = await status()
        if s.changed:
            raise SystemExit("edited migrations: %s" % [m.name for m in s.changed])
    """
    return await Migrator(db, migrations=migrations, directory=directory, table=table).status()
