"""Where a database is and how many connections to keep: ``DatabaseConfig`` and URL parsing.

A database is named by a URL (``sqlite:///app.db``, ``sqlite:///:memory:``,
``postgresql://user:pass@host:5432/name``) or by the seed's keyword form; both become one
``DatabaseConfig``. The pool sizes follow SQLAlchemy's meaning, which the seed's names come from:
``pool_size`` connections are kept, ``max_overflow`` more may be opened under load and are closed
when returned.

Example::

    DatabaseConfig(driver="sqlite", database="app.db", pool_size=5)
    DatabaseConfig.from_url("postgresql://app:secret@db.internal/app?pool_size=20")
"""
import dataclasses
from typing import Any, Dict, Optional
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = ["DatabaseConfig", "parse_url", "DEFAULT_POOL_SIZE", "DEFAULT_ACQUIRE_TIMEOUT", "DEFAULT_BUSY_TIMEOUT",
           "DEFAULT_INLINE_READ_BUDGET"]

#: Connections kept open. Five serves a small app; SQLite gains nothing from more writers (one
#: writes at a time) and readers rarely need more than a handful.
DEFAULT_POOL_SIZE = 5
#: How long a request waits for a free connection before a clear error: long enough to ride out a
#: burst, short enough that a leak shows up as an error rather than a hung server.
DEFAULT_ACQUIRE_TIMEOUT = 30.0
#: SQLite's busy timeout: how long a statement waits for another process's write lock
#: (``PRAGMA busy_timeout``). Writers inside one process are queued by covet and never wait on it.
DEFAULT_BUSY_TIMEOUT = 5.0

_ALIASES = {"sqlite3": "sqlite", "postgres": "postgresql", "pgsql": "postgresql", "postgresql+covet": "postgresql"}
_INT_OPTIONS = ("pool_size", "max_overflow", "min_connections", "port")
_FLOAT_OPTIONS = ("pool_timeout", "idle_timeout", "busy_timeout", "inline_read_budget")
#: How long one SQLite read may run on the event loop's own thread before it is stopped and moved
#: to a connection's thread (docs/database.md, "Reads on the loop's thread"). A read by key takes
#: a few microseconds, less than the two thread switches of a hop; one millisecond is below what
#: asyncio itself calls a slow callback (100 ms) by two orders of magnitude.
DEFAULT_INLINE_READ_BUDGET = 0.001


@dataclasses.dataclass
class DatabaseConfig:
    """Everything needed to open and pool connections to one database.

    ``database`` is the file path for SQLite (``":memory:"`` for a private in-memory database)
    and the database name elsewhere. ``options`` carries driver settings that have no field here
    (they are passed on to the driver, e.g. ``sslmode``).
    """

    driver: str = "sqlite"
    host: Optional[str] = None
    port: Optional[int] = None
    database: str = ":memory:"
    username: Optional[str] = None
    password: Optional[str] = None
    pool_size: int = DEFAULT_POOL_SIZE
    max_overflow: int = 0
    min_connections: int = 1
    pool_timeout: float = DEFAULT_ACQUIRE_TIMEOUT
    idle_timeout: float = 300.0
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    inline_read_budget: float = DEFAULT_INLINE_READ_BUDGET
    options: Dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.driver = _ALIASES.get(self.driver.lower(), self.driver.lower())
        for name in _INT_OPTIONS:
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 0):
                raise ValueError("DatabaseConfig.%s must be a whole number >= 0, not %r" % (name, value))
        if self.pool_size < 1:
            raise ValueError("DatabaseConfig.pool_size must be at least 1")
        for name in _FLOAT_OPTIONS:
            if float(getattr(self, name)) < 0:
                raise ValueError("DatabaseConfig.%s must be >= 0" % name)

    @property
    def max_connections(self) -> int:
        """``pool_size + max_overflow``: the most connections open at once."""
        return self.pool_size + self.max_overflow

    @property
    def url(self) -> str:
        """The URL of this database, with the password hidden (for logs and ``repr``)."""
        return self.to_url(hide_password=True)

    def to_url(self, hide_password: bool = False) -> str:
        """The URL of this database; ``hide_password`` shows ``***`` instead of the password."""
        if self.driver == "sqlite":
            return "sqlite:///" + self.database
        auth = ""
        if self.username:
            auth = quote(self.username, safe="")
            if self.password:
                auth += ":" + ("***" if hide_password else quote(self.password, safe=""))
            auth += "@"
        host = self.host or ""
        if ":" in host:
            host = "[%s]" % host
        port = ":%d" % self.port if self.port else ""
        return "%s://%s%s%s/%s" % (self.driver, auth, host, port, quote(self.database, safe=""))

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> "DatabaseConfig":
        """Parse ``url``; query parameters that name fields (``?pool_size=20``) set them, others go to
        ``options``; keyword ``overrides`` win over both."""
        return parse_url(url, **overrides)


def parse_url(url: str, **overrides: Any) -> DatabaseConfig:
    """A :class:`DatabaseConfig` from a database URL.

    SQLite follows SQLAlchemy's convention: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``sqlite:///:memory:`` (and ``sqlite://`` alone is in memory too).
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValueError("a database URL looks like sqlite:///app.db or postgresql://user@host/name, not %r" % (url,))
    scheme, _, rest = url.partition("://")
    driver = _ALIASES.get(scheme.lower(), scheme.lower())
    query: Dict[str, str] = {}
    if "?" in rest:
        rest, _, qs = rest.partition("?")
        query = dict(parse_qsl(qs, keep_blank_values=True))
    fields: Dict[str, Any] = {"driver": driver}
    if driver == "sqlite":
        # "sqlite:///x" leaves "/x": the path is what follows the third slash
        if rest in ("", "/"):
            path = ":memory:"
        elif rest.startswith("/"):
            path = unquote(rest[1:])
        else:
            raise ValueError("a SQLite URL has three slashes before a relative path (sqlite:///app.db) and four before "
                             "an absolute one (sqlite:////var/lib/app.db): %r" % url)
        fields["database"] = path
    else:
        parts = urlsplit(driver + "://" + rest)
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port in %r is not a number from 1 to 65535" % url) from None
        fields.update(
            host=parts.hostname, port=port, database=unquote(parts.path.lstrip("/")),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )
    options: Dict[str, str] = {}
    for key, value in query.items():
        if key in _INT_OPTIONS:
            if not value.isdigit():
                raise ValueError("%s in the database URL must be a whole number, not %r" % (key, value))
            fields[key] = int(value)
        elif key in _FLOAT_OPTIONS:
            try:
                fields[key] = float(value)
            except ValueError:
                raise ValueError("%s in the database URL must be a number, not %r" % (key, value)) from None
        else:
            options[key] = value
    fields["options"] = options
    fields.update(overrides)
    return DatabaseConfig(**fields)
