"""Migration sources without a database: ``NNNN_name.sql`` files, their ``-- up`` / ``-- down``
sections, checksums, version order, and writing the next numbered file.

Everything here is pure (files in, :class:`MigrationScript` records out) so that the rules a
migration folder must follow are tested without a database; :mod:`covet.database.migrations`
runs the scripts.

A migration file::

    -- 0001_create_users.sql
    -- up
    CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL);
    CREATE INDEX users_name ON users (name);

    -- down
    DROP TABLE users;

Example::

    scripts = load_directory("migrations")          # sorted by version, checked for duplicates
    path = new_migration_file("migrations", "add user roles")   # migrations/0002_add_user_roles.sql
"""
import hashlib
import os
import re
import textwrap
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from .errors import DatabaseError

__all__ = [
    "MigrationError", "MigrationScript", "FILE_NAME", "MAX_VERSION", "checksum", "normalise_sql", "has_sql",
    "transaction_control",
    "parse_migration", "load_file", "load_directory", "check_unique", "migration_name",
    "next_version", "new_migration_file", "NEW_FILE_TEMPLATE", "format_version",
]

#: ``0001_create_users.sql``: digits, an underscore, a name of letters, digits and underscores.
#: The digits are the version (compared as a number, so ``2`` < ``10`` whatever the padding, and a
#: timestamp such as ``20240501120000`` works too).
FILE_NAME = re.compile(r"(\d+)_([A-Za-z0-9_]+)\.sql\Z")

#: Versions are stored in a 64-bit integer column (SQLite INTEGER, PostgreSQL BIGINT).
MAX_VERSION = 2 ** 63 - 1

#: A section marker: a whole line ``-- up`` or ``-- down`` (any case, an optional colon), the
#: convention of dbmate and sql-migrate, which keeps a migration file valid SQL for any other tool.
_MARKER = re.compile(r"^[ \t]*--[ \t]*(up|down)[ \t]*:?[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)

# Comments only decide whether a section holds any SQL at all; they are never removed from what
# runs (the database skips them itself).
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)

# A statement that opens, ends or abandons a transaction: inside a migration it would break the one
# transaction the migration runs in (a COMMIT half-way makes the first half permanent even if the
# rest fails). ROLLBACK TO SAVEPOINT stays inside it, so it is allowed.
_TRANSACTION_CONTROL = re.compile(r"(BEGIN|COMMIT|END|ABORT|START\s+TRANSACTION|ROLLBACK(?!\s+TO\b))\b",
                                  re.IGNORECASE)

#: What ``covet db new NAME`` writes: both sections, each with a comment saying what goes there.
#: A section left with only comments is refused when it would run (an empty ``-- up`` would be
#: recorded as applied, and an empty ``-- down`` would pretend to undo it).
NEW_FILE_TEMPLATE = """-- up
-- The SQL that applies this migration, e.g. CREATE TABLE / ALTER TABLE ... ;


-- down
-- The SQL that undoes the up section, e.g. DROP TABLE ... ;

"""

#: Longest name accepted by ``new_migration_file`` (it becomes part of a file name).
MAX_NAME_LENGTH = 80

_NEW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]*\Z")


class MigrationError(DatabaseError):
    """A migration cannot be loaded, applied or rolled back; the message names the migration.

    Example::

        try:
            await migrate("up")
        except MigrationError as exc:
            print(exc)   # migration 0002 add_email (migrations/0002_add_email.sql) failed ...
    """


class MigrationScript(NamedTuple):
    """One migration, from a file or a :class:`~covet.database.migrations.Migration` class.

    ``down`` is None for a migration that cannot be rolled back. ``checksum`` covers the up SQL
    only: it is what was applied, so editing it afterwards is reported, while fixing a down
    section is allowed. ``origin`` says where it came from, for messages.

    Example::

        script = load_file("migrations/0001_create_users.sql")
        (script.version, script.name)   # (1, 'create_users')
    """

    version: int
    name: str
    up: str
    down: Optional[str]
    checksum: str
    origin: str

    @property
    def label(self) -> str:
        """``0001 create_users (migrations/0001_create_users.sql)``: how messages name it."""
        return "%s %s (%s)" % (format_version(self.version), self.name, self.origin)


def format_version(version: int) -> str:
    """A version as the files write it: at least four digits (``1`` -> ``'0001'``)."""
    return "%04d" % version


def normalise_sql(sql: str) -> str:
    """``sql`` as migrations store and checksum it: ``\n`` line endings, no trailing blanks, the
    common indentation removed, no blank lines around it.

    Line endings and trailing blanks change when a file passes through another editor or a git
    checkout on Windows, and a class's triple-quoted SQL is re-indented when the class moves;
    none of it changes the SQL, so none of it changes the checksum.

    Example::

        normalise_sql("\n    CREATE TABLE t (\r\n      x INT  \r\n    );\n")   # 'CREATE TABLE t (\n  x INT\n);'
    """
    lines = sql.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return textwrap.dedent("\n".join(line.rstrip() for line in lines)).strip("\n")


def checksum(sql: str) -> str:
    """The SHA-256 (hex) of ``sql`` after :func:`normalise_sql`.

    Example::

        checksum("CREATE TABLE t (x INT);\\r\\n") == checksum("CREATE TABLE t (x INT);")   # True
    """
    return hashlib.sha256(normalise_sql(sql).encode("utf-8")).hexdigest()


def has_sql(sql: Optional[str]) -> bool:
    """True if ``sql`` holds anything but whitespace and comments."""
    return bool(sql) and bool(_COMMENTS.sub("", sql).strip())


def transaction_control(statements: Iterable[str]) -> Optional[str]:
    """The keyword (``BEGIN``, ``COMMIT``, ...) of the first statement that controls the transaction
    itself, or None. ``statements`` come split by the database's own rules (a trigger's
    ``BEGIN ... END`` is inside its CREATE TRIGGER statement, not a statement of its own).

    Example::

        transaction_control(["CREATE TABLE t (x INT)", "COMMIT"])   # 'COMMIT'
    """
    for statement in statements:
        match = _TRANSACTION_CONTROL.match(_COMMENTS.sub(" ", statement).lstrip())
        if match is not None:
            return " ".join(match.group(1).upper().split())
    return None


def parse_migration(text: str, origin: str) -> Tuple[str, Optional[str]]:
    """``(up, down)`` of a migration file's text; ``down`` is None when there is no ``-- down``.

    Only comments and blank lines may come before ``-- up``; each section appears once; the up
    section must hold SQL. ``origin`` (the file name) goes into every error message.

    Example::

        parse_migration("-- up\\nCREATE TABLE t (x INT);\\n-- down\\nDROP TABLE t;\\n", "0001_t.sql")
        # ('CREATE TABLE t (x INT);', 'DROP TABLE t;')
    """
    markers = list(_MARKER.finditer(text))
    sections: Dict[str, str] = {}
    if not markers:
        raise MigrationError("%s has no '-- up' line: write '-- up', the SQL, then '-- down' and the SQL that "
                             "undoes it" % origin)
    if has_sql(text[:markers[0].start()]):
        raise MigrationError("%s has SQL before its first '-- up' / '-- down' line" % origin)
    for i, marker in enumerate(markers):
        kind = marker.group(1).lower()
        if kind in sections:
            line = text.count("\n", 0, marker.start()) + 1
            raise MigrationError("%s has a second '-- %s' line (line %d)" % (origin, kind, line))
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        sections[kind] = normalise_sql(text[marker.end():end])
    if "up" not in sections:
        raise MigrationError("%s has no '-- up' line" % origin)
    if not has_sql(sections["up"]):
        raise MigrationError("%s: the '-- up' section is empty (write the SQL that applies the migration)" % origin)
    return sections["up"], sections.get("down")


def load_file(path: str) -> MigrationScript:
    """The :class:`MigrationScript` of one ``NNNN_name.sql`` file.

    Example::

        load_file("migrations/0001_create_users.sql").name   # 'create_users'
    """
    base = os.path.basename(path)
    match = FILE_NAME.match(base)
    if match is None:
        raise MigrationError("%s is not a migration file name: expected NNNN_name.sql (digits, an underscore, "
                             "then letters, digits and underscores)" % path)
    version = int(match.group(1))
    if not 0 < version <= MAX_VERSION:
        raise MigrationError("%s: the version must be between 1 and %d" % (path, MAX_VERSION))
    try:
        # utf-8-sig: a byte order mark left by a Windows editor is not SQL.
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise MigrationError("%s is not UTF-8 text (%s)" % (path, exc.reason)) from None
    except OSError as exc:
        raise MigrationError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    up, down = parse_migration(text, path)
    return MigrationScript(version, match.group(2), up, down, checksum(up), path)


def _listing(directory: str) -> List[str]:
    """The ``.sql`` file names of ``directory`` (hidden files, folders and other files left out)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        raise MigrationError("no migrations folder %s" % directory) from None
    except NotADirectoryError:
        raise MigrationError("%s is not a folder" % directory) from None
    return sorted(n for n in names
                  if n.lower().endswith(".sql") and not n.startswith(".")
                  and os.path.isfile(os.path.join(directory, n)))


def load_directory(directory: str) -> List[MigrationScript]:
    """Every migration file of ``directory``, in version order.

    A ``.sql`` file whose name does not follow ``NNNN_name.sql`` is an error, not skipped: a
    migration misnamed ``001-create.sql`` would otherwise never run and nobody would know. Other
    files (a README, ``__init__.py``) are left alone.

    Example::

        [s.version for s in load_directory("migrations")]   # [1, 2, 3]
    """
    scripts = [load_file(os.path.join(directory, name)) for name in _listing(directory)]
    return check_unique(scripts)


def check_unique(scripts: Iterable[MigrationScript]) -> List[MigrationScript]:
    """``scripts`` sorted by version; two with the same version are an error naming both.

    Example::

        check_unique([b, a])   # [a, b] when a.version < b.version
    """
    ordered = sorted(scripts, key=lambda s: s.version)
    for first, second in zip(ordered, ordered[1:]):
        if first.version == second.version:
            raise MigrationError("two migrations have version %s: %s and %s"
                                 % (format_version(first.version), first.origin, second.origin))
    return ordered


def migration_name(name: str) -> str:
    """The file-name form of a name given to ``new``: lower case, words joined by ``_``.

    Letters, digits, spaces, ``-`` and ``_`` only: a name is part of a file name, so a ``/`` or
    ``..`` is refused rather than quietly changed.

    Example::

        migration_name("Add user-roles")   # 'add_user_roles'
    """
    stripped = name.strip()
    if not stripped or not _NEW_NAME.match(stripped) or len(stripped) > MAX_NAME_LENGTH:
        raise MigrationError("%r is not a migration name: use letters, digits, spaces, '-' and '_' (at most %d, "
                             "starting with a letter or digit)" % (name[:100], MAX_NAME_LENGTH))
    return re.sub(r"[ _-]+", "_", stripped).strip("_").lower()


def next_version(directory: str) -> Tuple[int, int]:
    """``(version, digits)`` for the next file of ``directory``: one past the highest, padded as wide
    as the widest existing number and at least 4 digits.

    Only file names count (a half-written migration does not stop ``new``).

    Example::

        next_version("migrations")   # (3, 4) when 0001_... and 0002_... exist
    """
    highest, width = 0, 4
    if os.path.isdir(directory):
        for name in _listing(directory):
            match = FILE_NAME.match(name)
            if match:
                highest = max(highest, int(match.group(1)))
                width = max(width, len(match.group(1)))
    if highest >= MAX_VERSION:
        raise MigrationError("%s already has version %d, the highest there can be" % (directory, highest))
    return highest + 1, width


def new_migration_file(directory: str, name: str, up: Optional[str] = None, down: Optional[str] = None) -> str:
    """Write the next numbered migration file in ``directory`` (created if missing); its path.

    Without ``up``/``down`` the file has both sections with a comment saying what goes in each;
    with them (autogenerated SQL) the sections hold that SQL. An existing file is never replaced.

    Example::

        new_migration_file("migrations", "create users")   # 'migrations/0001_create_users.sql'
    """
    slug = migration_name(name)
    os.makedirs(directory, exist_ok=True)
    version, width = next_version(directory)
    path = os.path.join(directory, "%0*d_%s.sql" % (width, version, slug))
    if up is None:
        text = NEW_FILE_TEMPLATE
    else:
        text = "-- up\n%s\n\n-- down\n%s\n" % (up.strip("\n"), (down or "").strip("\n"))
    try:
        # "x": another `covet db new` that picked the same number a moment earlier wins; this one
        # fails instead of overwriting its file.
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise MigrationError("%s exists already" % path) from None
    return path
