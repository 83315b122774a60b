"""``ProductionValidator``: is this app, its database, Redis and settings ready for production?

Six checks, each a coroutine returning ``{"status": "pass"|"fail", "message": str, "details": dict}``:

- ``check_database_connectivity``: ``SELECT 1`` on the database (an SQLite file must already exist).
- ``check_redis_connectivity``: ``PING`` to Redis.
- ``check_security_configuration``: debug off, a strong secret key, ``Secure`` cookies, HSTS, CSRF
  protection when form routes exist, API docs hidden (unless allowed).
- ``check_performance_requirements``: workers against CPU cores, database pool sizes, uvloop (info).
- ``check_monitoring_setup``: a ``/metrics`` route and ``/health`` routes.
- ``check_backup_configuration``: a writable backup folder (``BACKUP_DIR``) away from the database.

Each setting is taken from the constructor's argument, else the app's config (``app.config``),
else the environment: ``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``, ``DEBUG``, ``BACKUP_DIR``,
``WEB_CONCURRENCY`` (workers). With no app given, the app is the one ``python -m covet run`` would
serve: ``app`` in app.py or main.py of the current folder. A database or Redis that is configured
nowhere is not checked, and the check passes saying so: the validator cannot tell an app that
needs no Redis from one that forgot it (``require_database=True``/``require_redis=True`` make
that a failure).

``python -m covet check APP`` runs them all (``--security``: the security check alone).

Example::

    validator = ProductionValidator(app, secret_key=os.environ["SECRET_KEY"])
    result = await validator.check_security_configuration()
    if result["status"] == "fail":
        print(result["message"])
"""
import asyncio
import importlib.util
import inspect
import math
import os
import re
import time
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .config import reveal
from .core.dependencies import File, Form
from .database import DatabaseManager
from .database.config import parse_url
from .redis import Redis
from .security.csrf import CSRFProtection
from .security.headers import SecurityHeadersMiddleware
from .security.sessions import MIN_KEY_BYTES, SessionMiddleware

__all__ = ["ProductionValidator", "CHECKS", "secret_key_problem", "form_routes"]

#: The checks in the order ``covet check`` runs and prints them: (label, method name).
CHECKS = (
    ("Database", "check_database_connectivity"),
    ("Redis", "check_redis_connectivity"),
    ("Security", "check_security_configuration"),
    ("Performance", "check_performance_requirements"),
    ("Monitoring", "check_monitoring_setup"),
    ("Backup", "check_backup_configuration"),
)

# Secrets copied from a tutorial or a .env.example: compared with letters and digits only, lower case.
_PLACEHOLDERS = frozenset((
    "secret", "secretkey", "mysecret", "mysecretkey", "supersecret", "yoursecretkey", "yoursecretkeyhere",
    "changeme", "changethis", "changeit", "replaceme", "password", "test", "testing", "dev", "development",
    "default", "insecure", "example", "keyboardcat", "xxx",
))
_PLACEHOLDER_PARTS = ("changeme", "changethis", "replaceme", "yoursecret", "insecure", "placeholder",
                      "notsecret", "keyboardcat", "dontuseinproduction", "notforproduction")
# A Shannon estimate from the key's own character counts undercounts short random keys (32 hex
# characters, 128 real bits, score about 115), so the bar sits below 128 and catches what it is for:
# repeated or patterned keys (a 40-character "abcabc..." scores 63).
MIN_ENTROPY_BITS = 96
_UNSAFE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
_TRUE = frozenset(("1", "true", "yes", "on"))
DEFAULT_TIMEOUT = 5.0


def _result(ok: bool, message: str, **details: Any) -> Dict[str, Any]:
    return {"status": "pass" if ok else "fail", "message": message, "details": details}


def secret_key_problem(secret: Any, name: str = "SECRET_KEY") -> Optional[str]:
    """Why ``secret`` is not fit to sign cookies and tokens, or None when it is.

    Refused: a known placeholder (``"your-secret-key"``, ``"change-me"``...), fewer than
    ``MIN_KEY_BYTES`` (32) characters, or under ``MIN_ENTROPY_BITS`` by its character frequencies.

    Example::

        secret_key_problem("change-me")                 # "SECRET_KEY is a placeholder ('change-me')..."
        secret_key_problem(secrets.token_urlsafe(32))   # None
    """
    value = reveal(secret)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or not value:
        return "%s is empty" % name
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    if folded in _PLACEHOLDERS or any(part in folded for part in _PLACEHOLDER_PARTS):
        return "%s is a placeholder (%r): generate one with secrets.token_urlsafe(32)" % (name, value[:24])
    if len(value) < MIN_KEY_BYTES:
        return "%s is %d characters; use at least %d (secrets.token_urlsafe(32))" % (name, len(value), MIN_KEY_BYTES)
    counts = Counter(value)
    bits = -sum(n * math.log2(n / len(value)) for n in counts.values())
    if bits < MIN_ENTROPY_BITS:
        return ("%s looks patterned: about %d bits by its character frequencies, under %d; use "
                "secrets.token_urlsafe(32)" % (name, bits, MIN_ENTROPY_BITS))
    return None


def _is_form_param(default: Any, annotation: Any) -> bool:
    if isinstance(default, (Form, File)):
        return True
    return any(isinstance(m, (Form, File)) for m in getattr(annotation, "__metadata__", ()))


def form_routes(app: Any) -> List[str]:
    """``"METHOD /path"`` of each route taking a form body (a ``Form``/``File`` parameter) by an
    unsafe method: the routes a cross-site form can post to.

    A handler that reads ``await request.form()`` itself declares nothing and is not seen.

    Example::

        form_routes(app)   # ["POST /login"]
    """
    found = []
    for route in app.routes:
        methods = sorted(set(route.methods) & _UNSAFE_METHODS)
        if not methods:
            continue
        try:
            params = inspect.signature(route.endpoint).parameters.values()
        except (TypeError, ValueError):
            continue
        if any(_is_form_param(p.default, p.annotation) for p in params):
            found.extend("%s %s" % (m, route.path) for m in methods)
    return found


class ProductionValidator:
    """Checks an app and its services against production needs; every check is a coroutine
    returning ``{"status": "pass"|"fail", "message": ..., "details": {...}}``.

    :param app: the app (default: ``app`` of app.py or main.py in the current folder, if any).
    :param database: a ``DatabaseManager`` or a URL (default: ``app.state.database``, else
        ``DATABASE_URL``). A URL is opened for the check and closed after.
    :param redis: a ``Redis`` client or a URL (default: ``REDIS_URL``, or the app's config's).
    :param secret_key: the application secret to judge (default: ``SECRET_KEY``).
    :param workers: the number of worker processes (default: ``WEB_CONCURRENCY``, else 1).
    :param backup_dir: where backups go (default: ``BACKUP_DIR``).
    :param allow_docs: True when ``/docs`` and ``/openapi.json`` are meant to be public.
    :param require_database: fail, rather than pass, when no database is configured.
    :param require_redis: fail, rather than pass, when no Redis is configured.
    :param environ: the variables to read instead of ``os.environ`` (tests).
    :param timeout: seconds a connectivity check may take.

    Example::

        validator = ProductionValidator(app, workers=4)
        results = await validator.run_all()   # {"Database": {...}, "Redis": {...}, ...}
    """

    def __init__(self, app: Any = None, database: Any = None, redis: Any = None, *, secret_key: Any = None,
                 workers: Optional[int] = None, backup_dir: Optional[str] = None, allow_docs: bool = False,
                 require_database: bool = False, require_redis: bool = False,
                 environ: Optional[Mapping[str, str]] = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError("workers must be a positive integer, got %r" % (workers,))
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds, got %r" % (timeout,))
        self._app = app
        self._app_error: Optional[str] = None
        self._app_looked = app is not None
        self.database = database
        self.redis = redis
        self.secret_key = secret_key
        self.workers = workers
        self.backup_dir = backup_dir
        self.allow_docs = allow_docs
        self.require_database = require_database
        self.require_redis = require_redis
        self.environ = os.environ if environ is None else environ
        self.timeout = float(timeout)

    # -- where settings come from ------------------------------------------------------------
    @property
    def app(self) -> Any:
        """The app checked: the one given, else the one found in app.py/main.py (None if none)."""
        if not self._app_looked:
            self._app_looked = True
            # Deferred: covet.cli imports this module for `covet check`.
            from .cli.loader import AppLoadError, load_app
            if not any(os.path.exists(f) for f in ("app.py", "main.py")):
                self._app_error = "no app given and no app.py or main.py in %s" % os.getcwd()
            else:
                try:
                    self._app = load_app(None)
                except AppLoadError as exc:
                    self._app_error = str(exc)
        return self._app

    def setting(self, name: str) -> Any:
        """A setting from the app's config, else the environment (None when neither has it)."""
        config = getattr(self.app, "config", None)
        if config is not None and getattr(config, name, None) is not None:
            return reveal(getattr(config, name))
        return self.environ.get(name)

    def _database(self) -> Any:
        """The database object, its URL, or None."""
        db = self.database
        if db is None and self.app is not None:
            db = getattr(self.app.state, "database", None)
        if db is None:
            db = self.setting("DATABASE_URL") or None
        return db

    def _database_config(self) -> Any:
        """The database's ``DatabaseConfig`` (None: no database); ValueError for a malformed URL."""
        db = self._database()
        return parse_url(db) if isinstance(db, str) else getattr(db, "config", None)

    def _bad_url(self) -> Optional[Dict[str, Any]]:
        """The failing result for a malformed database URL, else None."""
        try:
            self._database_config()
        except ValueError as exc:
            return _result(False, "bad database URL: %s" % exc)
        return None

    def _redis(self) -> Tuple[Any, bool]:
        client = self.redis
        if client is None and self.app is not None:
            client = getattr(self.app.state, "redis_url", None)
        if client is None:
            client = self.setting("REDIS_URL") or None
        if isinstance(client, str):
            return Redis.from_url(client), True
        return client, False

    def _workers(self) -> int:
        if self.workers is not None:
            return self.workers
        raw = self.setting("WEB_CONCURRENCY")
        try:
            return max(1, int(raw)) if raw not in (None, "") else 1
        except (TypeError, ValueError):
            return 1

    # -- the checks ---------------------------------------------------------------------------
    async def check_database_connectivity(self) -> Dict[str, Any]:
        """``SELECT 1`` within ``timeout``; an SQLite file that does not exist yet fails (connecting
        would create an empty one, and the app would then fail on its first query)."""
        db = self._database()
        bad = self._bad_url()
        if bad is not None:
            return bad
        if db is None:
            return _result(not self.require_database,
                           "no database configured (no database=, app.state.database or DATABASE_URL)",
                           configured=False)
        config = self._database_config()
        path = getattr(config, "database", None)
        if getattr(config, "driver", None) == "sqlite" and path != ":memory:" and not os.path.exists(path):
            return _result(False, "sqlite database file %s does not exist (python -m covet db migrate creates it)"
                           % path, url=config.url)
        # A URL is opened for this check only. (DatabaseManager() also makes itself the process's
        # default database, which is harmless in `covet check`, a process of its own.)
        owned = isinstance(db, str)
        if owned:
            db = DatabaseManager(db)
        label = getattr(db, "url", None) or repr(db)
        was_connected = getattr(db, "connected", True)
        start = time.perf_counter()
        try:
            value = await asyncio.wait_for(db.fetch_val("SELECT 1"), self.timeout)
        except asyncio.TimeoutError:
            return _result(False, "%s did not answer SELECT 1 within %gs" % (label, self.timeout), url=label)
        except Exception as exc:
            return _result(False, "%s: %s: %s" % (label, type(exc).__name__, exc), url=label)
        finally:
            if owned or not was_connected:
                await db.disconnect()
        ms = round((time.perf_counter() - start) * 1000, 1)
        if value != 1:
            return _result(False, "%s answered SELECT 1 with %r" % (label, value), url=label)
        return _result(True, "%s answers SELECT 1" % label, url=label, milliseconds=ms)

    async def check_redis_connectivity(self) -> Dict[str, Any]:
        """``PING`` within ``timeout``."""
        client, owned = self._redis()
        if client is None:
            return _result(not self.require_redis, "no Redis configured (no redis= or REDIS_URL)", configured=False)
        address = getattr(client, "address", repr(client))
        start = time.perf_counter()
        try:
            reply = await asyncio.wait_for(client.ping(), self.timeout)
        except asyncio.TimeoutError:
            return _result(False, "Redis at %s did not answer PING within %gs" % (address, self.timeout))
        except Exception as exc:
            return _result(False, "Redis at %s: %s: %s" % (address, type(exc).__name__, exc))
        finally:
            if owned:
                await client.close()
        ms = round((time.perf_counter() - start) * 1000, 1)
        if reply not in (True, "PONG", b"PONG"):
            return _result(False, "Redis at %s answered PING with %r" % (address, reply))
        return _result(True, "Redis at %s answers PING" % address, address=address, milliseconds=ms)

    async def check_security_configuration(self) -> Dict[str, Any]:
        """Debug, the secret key, cookies, HSTS, CSRF for form routes, docs exposure; every problem
        found is in the message, joined by ``"; "``."""
        problems: List[str] = []
        checked: List[str] = []
        app = self.app
        debug = app.debug if app is not None else str(self.setting("DEBUG") or "").strip().lower() in _TRUE
        checked.append("debug")
        if debug:
            problems.append("debug is on (tracebacks in error pages): set DEBUG=false")
        secret = self.secret_key if self.secret_key is not None else self.setting("SECRET_KEY")
        if secret is None and app is not None:
            secret = getattr(app, "secret_key", None)
        if secret is not None:
            checked.append("secret key")
            problem = secret_key_problem(secret)
            if problem:
                problems.append(problem)
        if app is not None:
            checked.extend(("cookies", "HSTS", "CSRF", "docs"))
            problems.extend(_app_security_problems(app, self.allow_docs))
            problems.extend(_promises_not_kept(app, self.setting))
        details = {"checked": checked, "problems": problems}
        if app is None:
            details["app"] = self._app_error
        if problems:
            return _result(False, "; ".join(problems), **details)
        if app is None:
            return _result(True, "debug off%s; %s: middleware and routes not checked"
                           % (", secret key strong" if secret is not None else "", self._app_error), **details)
        return _result(True, "debug off%s, cookies Secure, HSTS on, CSRF where forms are, docs %s"
                       % (", secret key strong" if secret is not None else "",
                          "public (allowed)" if _docs_urls(app) else "off"), **details)

    async def check_performance_requirements(self) -> Dict[str, Any]:
        """Workers against cores (at most 2 x cores + 1: more only adds context switches), the
        database pool per worker and in all, and whether uvloop is installed (information only)."""
        workers = self._workers()
        cores = os.cpu_count() or 1
        details: Dict[str, Any] = {"workers": workers, "cores": cores,
                                   "uvloop": importlib.util.find_spec("uvloop") is not None}
        bad = self._bad_url()
        if bad is not None:
            return bad
        per_worker = getattr(self._database_config(), "max_connections", None)
        if per_worker is not None:
            # Each worker has its own pool: PostgreSQL's max_connections must cover the total.
            details["database_connections"] = {"per_worker": per_worker, "total": per_worker * workers}
        if workers > 2 * cores + 1:
            return _result(False, "%d workers on %d cores: use at most %d (2 x cores + 1)"
                           % (workers, cores, 2 * cores + 1), **details)
        return _result(True, "%d worker%s on %d core%s" % (workers, "" if workers == 1 else "s", cores,
                                                           "" if cores == 1 else "s"), **details)

    async def check_monitoring_setup(self) -> Dict[str, Any]:
        """A ``/metrics`` route (Prometheus) and ``/health`` routes (``HealthChecker``'s router)."""
        app = self.app
        if app is None:
            return _result(False, "%s: cannot look for /metrics and /health routes" % self._app_error)
        paths = [r.path for r in app.routes] + [m.prefix for m in app.router.mounts]
        metrics = [p for p in paths if p == "/metrics"]
        health = sorted(p for p in paths if p == "/health" or p.startswith("/health/"))
        missing = []
        if not metrics:
            missing.append("no /metrics route (app.enable_metrics())")
        if not health:
            missing.append("no /health routes (app.include_router(health.router, prefix=\"/health\"))")
        if missing:
            return _result(False, "; ".join(missing), health=health, metrics=bool(metrics))
        return _result(True, "/metrics and %s are served" % ", ".join(health), health=health, metrics=True)

    async def check_backup_configuration(self) -> Dict[str, Any]:
        """What can be checked from here: a backup folder (``BACKUP_DIR``) that exists, is writable
        and is not the database's own folder; for SQLite, that the database's folder is writable
        (the WAL files live there) and the database is a file. Whether backups are actually taken
        on schedule is the job of cron or the platform; the newest file there is reported."""
        bad = self._bad_url()
        if bad is not None:
            return bad
        config = self._database_config()
        if config is None:
            return _result(True, "no database configured: nothing to back up", configured=False)
        driver = getattr(config, "driver", None)
        db_folder = None
        if driver == "sqlite":
            if config.database == ":memory:":
                return _result(False, "the database is in memory: nothing survives a restart")
            db_folder = os.path.dirname(os.path.abspath(config.database))
            if not os.access(db_folder, os.W_OK):
                return _result(False, "the folder of the sqlite database, %s, is not writable" % db_folder)
        backup_dir = self.backup_dir or self.setting("BACKUP_DIR")
        if not backup_dir:
            return _result(False, "no backup folder: set BACKUP_DIR", driver=driver)
        backup_dir = os.path.abspath(str(backup_dir))
        if not os.path.isdir(backup_dir):
            return _result(False, "BACKUP_DIR %s is not a folder" % backup_dir)
        if not os.access(backup_dir, os.W_OK):
            return _result(False, "BACKUP_DIR %s is not writable" % backup_dir)
        if db_folder is not None and os.path.samefile(backup_dir, db_folder):
            return _result(False, "BACKUP_DIR %s is the database's own folder" % backup_dir)
        newest = _newest_file(backup_dir)
        return _result(True, "backups go to %s (writable)" % backup_dir, backup_dir=backup_dir, driver=driver,
                       newest_backup=newest)

    async def run_all(self, only: Optional[List[str]] = None) -> Dict[str, Dict[str, Any]]:
        """Every check (or those labelled in ``only``), concurrently: ``{label: result}`` in ``CHECKS`` order.

        Example::

            results = await ProductionValidator(app).run_all(["Security"])
        """
        chosen = [(label, name) for label, name in CHECKS if only is None or label in only]
        self.app  # resolved once here, before the checks run side by side
        results = await asyncio.gather(*(getattr(self, name)() for _, name in chosen))
        return {label: result for (label, _), result in zip(chosen, results)}


def _docs_urls(app: Any) -> List[str]:
    return [u for u in (getattr(app, "docs_url", None), getattr(app, "openapi_url", None)) if u]


def _app_security_problems(app: Any, allow_docs: bool) -> List[str]:
    problems = []
    stack = app.middleware_stack
    for mw in stack:
        if isinstance(mw, (SessionMiddleware, CSRFProtection)) and not mw.https_only:
            # A cookie without Secure is sent over plain HTTP too (RFC 6265 §4.1.2.5).
            problems.append("%s sets cookie %r without Secure: pass https_only=True"
                            % (type(mw).__name__, mw.cookie_name))
    headers = [mw for mw in stack if isinstance(mw, SecurityHeadersMiddleware)]
    if not headers:
        problems.append("no SecurityHeadersMiddleware: no HSTS (add it with hsts=True)")
    elif not any(mw.hsts for mw in headers):
        problems.append("SecurityHeadersMiddleware without HSTS: pass hsts=True (RFC 6797)")
    forms = form_routes(app)
    if forms and not any(isinstance(mw, CSRFProtection) for mw in stack):
        problems.append("form routes without CSRFProtection: %s" % ", ".join(forms))
    docs = _docs_urls(app)
    if docs and not allow_docs:
        problems.append("API docs are public at %s: Covet(docs_url=None, openapi_url=None), or allow them"
                        % " and ".join(docs))
    return problems


def _promises_not_kept(app: Any, setting: Any) -> List[str]:
    # The seed's config flags (CSRF_PROTECTION = True, RATE_LIMITING = True) are promises the app
    # makes; covet does not act on them by itself (docs/config.md), so the check holds the app to them.
    problems = []
    stack = app.middleware_stack
    if _on(setting("CSRF_PROTECTION")) and not any(isinstance(mw, CSRFProtection) for mw in stack):
        problems.append("the config says CSRF_PROTECTION but no CSRFProtection middleware is installed")
    if _on(setting("RATE_LIMITING")) and not any(
            type(mw).__module__.startswith("covet.security.rate_limiting") or "ratelimit" in type(mw).__name__.lower()
            for mw in stack):
        problems.append("the config says RATE_LIMITING but no rate-limit middleware is installed "
                        "(app.add_middleware(RateLimitMiddleware(...)))")
    return problems


def _on(value: Any) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def _newest_file(folder: str) -> Optional[Dict[str, Any]]:
    best: Optional[Tuple[float, str]] = None
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file():
                mtime = entry.stat().st_mtime
                if best is None or mtime > best[0]:
                    best = (mtime, entry.name)
    if best is None:
        return None
    return {"name": best[1], "age_hours": round((time.time() - best[0]) / 3600, 1)}
