"""covet.deployment.ProductionValidator and ``covet check``: apps set up badly and well, exact
messages, the API reference's example run as written against a real SQLite file and Redis."""
import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from covet import Covet
from covet.cli import main
from covet.core.dependencies import Form
from covet.database import DatabaseManager
from covet.deployment import ProductionValidator, form_routes, secret_key_problem
from covet.monitoring.health import HealthChecker
from covet.security.csrf import CSRFProtection
from covet.security.headers import SecurityHeadersMiddleware
from covet.security.sessions import SessionMiddleware
from redis_fixture import redis_server  # noqa: F401  (a fixture)
from server_helpers import REPO

KEY = "kP3vX9qL2mZ8rT5wY1nB6cD4fG7hJ0sA-uE_iO"   # 38 characters, no repeats to speak of


def run(coro):
    return asyncio.run(coro)


def good_app():
    app = Covet(docs_url=None, openapi_url=None)
    app.add_middleware(SecurityHeadersMiddleware, hsts=True)
    app.add_middleware(SessionMiddleware, secret_key=KEY, https_only=True)
    app.add_middleware(CSRFProtection(secret_key=KEY, https_only=True))
    health = HealthChecker()
    app.include_router(health.router, prefix="/health")

    @app.get("/metrics")
    async def metrics():
        return ""

    @app.post("/login")
    async def login(username: str = Form()):
        return {"user": username}
    return app


def bad_app():
    app = Covet(debug=True)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(SessionMiddleware, secret_key=KEY)

    @app.post("/login")
    async def login(username: str = Form()):
        return {"user": username}

    @app.put("/profile")
    async def profile(photo: bytes = Form()):
        return {}

    @app.post("/api/items")
    async def items(request):
        return {}
    return app


# -- secrets -------------------------------------------------------------------------------------
@pytest.mark.parametrize("secret, problem", [
    ("your-secret-key", "SECRET_KEY is a placeholder ('your-secret-key'): generate one with secrets.token_urlsafe(32)"),
    ("change-me", "SECRET_KEY is a placeholder ('change-me'): generate one with secrets.token_urlsafe(32)"),
    ("CHANGE_ME_IN_PRODUCTION_0123456789abcdef", "SECRET_KEY is a placeholder ('CHANGE_ME_IN_PRODUCTION_'): "
                                                 "generate one with secrets.token_urlsafe(32)"),
    ("s3cr3t-Val", "SECRET_KEY is 10 characters; use at least 32 (secrets.token_urlsafe(32))"),
    ("ab" * 20, "SECRET_KEY looks patterned: about 40 bits by its character frequencies, under 96; use "
                "secrets.token_urlsafe(32)"),
    ("", "SECRET_KEY is empty"),
    (None, "SECRET_KEY is empty"),
])
def test_weak_secrets(secret, problem):
    assert secret_key_problem(secret) == problem


def test_strong_secrets():
    assert secret_key_problem(KEY) is None
    assert secret_key_problem("0123456789abcdef" * 2) is None          # 32 hex digits: 128 bits
    assert secret_key_problem(KEY.encode()) is None


# -- security ----------------------------------------------------------------------------------
def test_security_of_a_bad_app():
    result = run(ProductionValidator(bad_app(), secret_key="change-me").check_security_configuration())
    problems = [
        "debug is on (tracebacks in error pages): set DEBUG=false",
        "SECRET_KEY is a placeholder ('change-me'): generate one with secrets.token_urlsafe(32)",
        "SessionMiddleware sets cookie 'session' without Secure: pass https_only=True",
        "SecurityHeadersMiddleware without HSTS: pass hsts=True (RFC 6797)",
        "form routes without CSRFProtection: POST /login, PUT /profile",
        "API docs are public at /docs and /openapi.json: Covet(docs_url=None, openapi_url=None), or allow them",
    ]
    assert result == {"status": "fail", "message": "; ".join(problems),
                      "details": {"checked": ["debug", "secret key", "cookies", "HSTS", "CSRF", "docs"],
                                  "problems": problems}}


def test_security_of_a_good_app():
    result = run(ProductionValidator(good_app(), secret_key=KEY).check_security_configuration())
    assert result["status"] == "pass"
    assert result["message"] == "debug off, secret key strong, cookies Secure, HSTS on, CSRF where forms are, docs off"


def test_security_without_headers_middleware_and_docs_allowed():
    app = Covet()
    result = run(ProductionValidator(app, allow_docs=True, environ={}).check_security_configuration())
    assert result["message"] == "no SecurityHeadersMiddleware: no HSTS (add it with hsts=True)"
    app.add_middleware(SecurityHeadersMiddleware, hsts="max-age=63072000; includeSubDomains")
    result = run(ProductionValidator(app, allow_docs=True, environ={}).check_security_configuration())
    assert result["message"] == "debug off, cookies Secure, HSTS on, CSRF where forms are, docs public (allowed)"


def test_secret_and_debug_from_config_and_environment():
    from covet.config import Config, Secret

    class Settings(Config):
        SECRET_KEY: Secret
        DEBUG: bool = False

    app = good_app()
    app.config = Settings(SECRET_KEY="change-me", env_file=None, environ={})
    result = run(ProductionValidator(app, environ={"SECRET_KEY": KEY}).check_security_configuration())
    assert result["message"] == ("SECRET_KEY is a placeholder ('change-me'): generate one with "
                                 "secrets.token_urlsafe(32)")   # the app's config wins over the environment
    app.config = None
    result = run(ProductionValidator(app, environ={"SECRET_KEY": KEY}).check_security_configuration())
    assert result["status"] == "pass"


def test_the_configs_csrf_and_rate_limiting_flags_are_held_to_and_app_secret_key_is_judged():
    from covet.config import Config, Secret
    from covet.security.rate_limiting import RateLimiter, RateLimitMiddleware

    class Seed(Config):  # the seed's flags
        SECRET_KEY: Secret
        CSRF_PROTECTION: bool = True
        RATE_LIMITING: bool = True

    def app_with(*middleware):
        app = Covet(docs_url=None, openapi_url=None, config=Seed(SECRET_KEY="change-me", env_file=None, environ={}))
        app.add_middleware(SecurityHeadersMiddleware, hsts=True)
        for mw in middleware:
            app.add_middleware(mw)
        return app

    result = run(ProductionValidator(app_with(), environ={}).check_security_configuration())
    assert result["details"]["problems"] == [
        "SECRET_KEY is a placeholder ('change-me'): generate one with secrets.token_urlsafe(32)",
        "the config says CSRF_PROTECTION but no CSRFProtection middleware is installed",
        "the config says RATE_LIMITING but no rate-limit middleware is installed "
        "(app.add_middleware(RateLimitMiddleware(...)))",
    ]
    app = app_with(CSRFProtection(secret_key=KEY, https_only=True), RateLimitMiddleware(RateLimiter("100/minute")))
    result = run(ProductionValidator(app, environ={}).check_security_configuration())
    assert result["details"]["problems"] == [
        "SECRET_KEY is a placeholder ('change-me'): generate one with secrets.token_urlsafe(32)"]
    app.config, app.secret_key = None, Secret(KEY)  # no config: app.secret_key is what is judged
    result = run(ProductionValidator(app, environ={}).check_security_configuration())
    assert result["status"] == "pass", result
    app.secret_key = Secret("change-me")
    result = run(ProductionValidator(app, environ={}).check_security_configuration())
    assert result["status"] == "fail"


def test_security_with_no_app_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    validator = ProductionValidator(environ={"DEBUG": "on", "SECRET_KEY": KEY})
    result = run(validator.check_security_configuration())
    assert result["message"] == "debug is on (tracebacks in error pages): set DEBUG=false"
    validator = ProductionValidator(environ={"DEBUG": "false"})
    result = run(validator.check_security_configuration())
    assert result["message"] == "debug off; no app given and no app.py or main.py in %s: middleware and routes " \
                                "not checked" % tmp_path
    monitoring = run(validator.check_monitoring_setup())
    assert monitoring == {"status": "fail", "message": "no app given and no app.py or main.py in %s: cannot look "
                                                       "for /metrics and /health routes" % tmp_path, "details": {}}


def test_form_routes_seen_through_annotated():
    from typing import Annotated  # Python 3.9 has it
    app = Covet()

    @app.patch("/a")
    async def a(name: Annotated[str, Form()]):
        return {}

    @app.get("/b")
    async def b(name: str = Form()):   # a safe method: not a CSRF target
        return {}
    assert form_routes(app) == ["PATCH /a"]


# -- monitoring, performance ------------------------------------------------------------------
def test_monitoring():
    assert run(ProductionValidator(good_app()).check_monitoring_setup()) == {
        "status": "pass", "message": "/metrics and /health, /health/live, /health/ready are served",
        "details": {"health": ["/health", "/health/live", "/health/ready"], "metrics": True}}
    assert run(ProductionValidator(Covet()).check_monitoring_setup()) == {
        "status": "fail", "message": "no /metrics route (app.enable_metrics()); no /health routes "
                                     "(app.include_router(health.router, prefix=\"/health\"))",
        "details": {"health": [], "metrics": False}}


def test_performance(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    result = run(ProductionValidator(Covet(), workers=6, environ={}).check_performance_requirements())
    assert result["status"] == "fail"
    assert result["message"] == "6 workers on 2 cores: use at most 5 (2 x cores + 1)"
    result = run(ProductionValidator(Covet(), environ={"WEB_CONCURRENCY": "4",
                                                       "DATABASE_URL": "sqlite:///x.db?pool_size=3"})
                 .check_performance_requirements())
    assert result["message"] == "4 workers on 2 cores"
    assert result["details"]["database_connections"] == {"per_worker": 3, "total": 12}
    assert isinstance(result["details"]["uvloop"], bool)
    result = run(ProductionValidator(Covet(), environ={}).check_performance_requirements())
    assert result["message"] == "1 worker on 2 cores"
    with pytest.raises(ValueError):
        ProductionValidator(workers=0)


# -- database, redis, backups --------------------------------------------------------------------
def test_database_checks(tmp_path):
    path = tmp_path / "app.db"
    url = "sqlite:///%s" % path
    missing = run(ProductionValidator(Covet(), environ={"DATABASE_URL": url}).check_database_connectivity())
    assert missing["message"] == "sqlite database file %s does not exist (python -m covet db migrate creates it)" % path
    assert not path.exists()   # the check did not create it
    sqlite3.connect(str(path)).close()
    ok = run(ProductionValidator(Covet(), environ={"DATABASE_URL": url}).check_database_connectivity())
    assert (ok["status"], ok["message"]) == ("pass", "%s answers SELECT 1" % url)
    db = DatabaseManager(url)
    app = Covet()
    app.add_database(db)
    ok = run(ProductionValidator(app, environ={}).check_database_connectivity())
    assert ok["status"] == "pass" and db.connected is False   # left as it was found
    none = run(ProductionValidator(Covet(), environ={}).check_database_connectivity())
    assert none == {"status": "pass", "message": "no database configured (no database=, app.state.database or "
                                                 "DATABASE_URL)", "details": {"configured": False}}
    required = run(ProductionValidator(Covet(), environ={}, require_database=True).check_database_connectivity())
    assert required["status"] == "fail"
    (tmp_path / "dir.db").mkdir()
    broken = run(ProductionValidator(database="sqlite:///%s" % (tmp_path / "dir.db")).check_database_connectivity())
    assert broken["status"] == "fail"
    assert broken["message"].startswith("sqlite:///%s: OperationalError: " % (tmp_path / "dir.db"))


def test_redis_checks(redis_server):  # noqa: F811
    ok = run(ProductionValidator(Covet(), environ={"REDIS_URL": redis_server.url}).check_redis_connectivity())
    assert (ok["status"], ok["message"]) == ("pass", "Redis at %s:%d answers PING" % (redis_server.host,
                                                                                       redis_server.port))
    none = run(ProductionValidator(Covet(), environ={}).check_redis_connectivity())
    assert none == {"status": "pass", "message": "no Redis configured (no redis= or REDIS_URL)",
                    "details": {"configured": False}}
    assert run(ProductionValidator(Covet(), environ={}, require_redis=True).check_redis_connectivity())["status"] \
        == "fail"


def test_redis_refused():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(ProductionValidator(redis="redis://127.0.0.1:%d/0" % port).check_redis_connectivity())
    assert result["status"] == "fail"
    assert result["message"].startswith("Redis at 127.0.0.1:%d: " % port)


def test_backup_checks(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    url = "sqlite:///%s" % (data / "app.db")

    def check(**env):
        return run(ProductionValidator(Covet(), environ=dict(env, DATABASE_URL=url)).check_backup_configuration())
    assert check()["message"] == "no backup folder: set BACKUP_DIR"
    assert check(BACKUP_DIR=str(tmp_path / "nope"))["message"] == "BACKUP_DIR %s is not a folder" % (tmp_path / "nope")
    assert check(BACKUP_DIR=str(data))["message"] == "BACKUP_DIR %s is the database's own folder" % data
    backups = tmp_path / "backups"
    backups.mkdir()
    ok = check(BACKUP_DIR=str(backups))
    assert (ok["status"], ok["message"]) == ("pass", "backups go to %s (writable)" % backups)
    assert ok["details"]["newest_backup"] is None
    (backups / "app-1.db").write_bytes(b"x")
    assert check(BACKUP_DIR=str(backups))["details"]["newest_backup"] == {"name": "app-1.db", "age_hours": 0.0}
    memory = run(ProductionValidator(Covet(), environ={"DATABASE_URL": "sqlite://"}).check_backup_configuration())
    assert memory["message"] == "the database is in memory: nothing survives a restart"
    assert run(ProductionValidator(Covet(), environ={}).check_backup_configuration())["message"] == \
        "no database configured: nothing to back up"


def test_malformed_database_url_is_a_failure_not_a_crash():
    validator = ProductionValidator(Covet(), environ={"DATABASE_URL": "sqlite://app.db"})
    message = ("bad database URL: a SQLite URL has three slashes before a relative path (sqlite:///app.db) and four "
               "before an absolute one (sqlite:////var/lib/app.db): 'sqlite://app.db'")
    results = run(validator.run_all(["Database", "Performance", "Backup"]))
    assert results == {label: {"status": "fail", "message": message, "details": {}}
                       for label in ("Database", "Performance", "Backup")}


# -- the API reference's example, as written ---------------------------------------------------
SEED_EXAMPLE = '''
# deployment/validate.py
from covet.deployment import ProductionValidator

validator = ProductionValidator()

async def validate_production_readiness():
    checks = [
        validator.check_database_connectivity(),
        validator.check_redis_connectivity(),
        validator.check_security_configuration(),
        validator.check_performance_requirements(),
        validator.check_monitoring_setup(),
        validator.check_backup_configuration()
    ]
    
    results = await asyncio.gather(*checks)
    
    for check_name, result in zip([
        "Database", "Redis", "Security", "Performance", 
        "Monitoring", "Backup"
    ], results):
        if result["status"] == "pass":
            print(f"\u2705 {check_name}: {result['message']}")
        else:
            print(f"\u274c {check_name}: {result['message']}")
            return False
    
    return True

if __name__ == "__main__":
    if asyncio.run(validate_production_readiness()):
        print("\U0001f680 Ready for production deployment!")
    else:
        print("\U0001f6ab Production deployment blocked - fix issues above")
        sys.exit(1)
'''

PROJECT_APP = '''
from covet import Covet
from covet.monitoring.health import HealthChecker
from covet.security.headers import SecurityHeadersMiddleware

app = Covet(docs_url=None, openapi_url=None)
app.add_middleware(SecurityHeadersMiddleware, hsts=True)
health = HealthChecker()
app.include_router(health.router, prefix="/health")


@app.get("/metrics")
async def metrics():
    return ""
'''


def project(tmp_path):
    (tmp_path / "app.py").write_text(PROJECT_APP)
    (tmp_path / "deployment").mkdir()
    # The reference's block uses asyncio and sys without importing them: the two imports go first.
    (tmp_path / "deployment" / "validate.py").write_text("import asyncio\nimport sys\n" + SEED_EXAMPLE,
                                                         encoding="utf-8")
    (tmp_path / "backups").mkdir()
    (tmp_path / "data").mkdir()
    sqlite3.connect(str(tmp_path / "data" / "app.db")).close()
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONIOENCODING="utf-8", SECRET_KEY=KEY, WEB_CONCURRENCY="1",
               DATABASE_URL="sqlite:///%s" % (tmp_path / "data" / "app.db"), BACKUP_DIR=str(tmp_path / "backups"))
    env.pop("REDIS_URL", None)
    env.pop("DEBUG", None)
    return env


def run_seed(tmp_path, env):
    return subprocess.run([sys.executable, os.path.join("deployment", "validate.py")], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, encoding="utf-8")


def test_seed_example_ready(tmp_path, redis_server):  # noqa: F811
    env = project(tmp_path)
    env["REDIS_URL"] = redis_server.url
    proc = run_seed(tmp_path, env)
    assert proc.stderr == ""
    cores = os.cpu_count() or 1
    assert proc.stdout.splitlines() == [
        "\u2705 Database: sqlite:///%s answers SELECT 1" % (tmp_path / "data" / "app.db"),
        "\u2705 Redis: Redis at %s:%d answers PING" % (redis_server.host, redis_server.port),
        "\u2705 Security: debug off, secret key strong, cookies Secure, HSTS on, CSRF where forms are, docs off",
        "\u2705 Performance: 1 worker on %d core%s" % (cores, "" if cores == 1 else "s"),
        "\u2705 Monitoring: /metrics and /health, /health/live, /health/ready are served",
        "\u2705 Backup: backups go to %s (writable)" % (tmp_path / "backups"),
        "\U0001f680 Ready for production deployment!",
    ]
    assert proc.returncode == 0


def test_seed_example_blocked(tmp_path):
    env = project(tmp_path)
    env["SECRET_KEY"] = "your-secret-key"
    proc = run_seed(tmp_path, env)
    assert proc.stdout.splitlines()[2:] == [
        "\u274c Security: SECRET_KEY is a placeholder ('your-secret-key'): generate one with secrets.token_urlsafe(32)",
        "\U0001f6ab Production deployment blocked - fix issues above",
    ]
    assert proc.returncode == 1


# -- covet check --------------------------------------------------------------------------------
def test_cli_check(tmp_path, monkeypatch, capsys):
    env = project(tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "BACKUP_DIR", "SECRET_KEY", "WEB_CONCURRENCY"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delitem(sys.modules, "app", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert main(["check", "app.py"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "pass  Database     sqlite:///%s answers SELECT 1" % (tmp_path / "data" / "app.db"),
        "pass  Redis        no Redis configured (no redis= or REDIS_URL)",
        "pass  Security     debug off, secret key strong, cookies Secure, HSTS on, CSRF where forms are, docs off",
        "pass  Performance  1 worker on 2 cores",
        "pass  Monitoring   /metrics and /health, /health/live, /health/ready are served",
        "pass  Backup       backups go to %s (writable)" % (tmp_path / "backups"),
    ]
    assert main(["check", "app.py", "--workers", "9", "--require-redis"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "fail  Redis        no Redis configured (no redis= or REDIS_URL)"
    assert out[3] == "fail  Performance  9 workers on 2 cores: use at most 5 (2 x cores + 1)"
    monkeypatch.setenv("SECRET_KEY", "change-me")
    assert main(["check", "app.py", "--security"]) == 1
    assert capsys.readouterr().out == ("fail  Security     SECRET_KEY is a placeholder ('change-me'): generate one "
                                       "with secrets.token_urlsafe(32)\n")
    # The API reference's CI step: the same check under its name.
    assert main(["security-scan", "app.py"]) == 1
    assert capsys.readouterr().out == ("fail  Security     SECRET_KEY is a placeholder ('change-me'): generate one "
                                       "with secrets.token_urlsafe(32)\n")
    monkeypatch.setenv("SECRET_KEY", env["SECRET_KEY"])
    assert main(["security-scan"]) == 0  # app.py found by default
    assert capsys.readouterr().out.startswith("pass  Security     debug off, secret key strong")
    sys.modules.pop("app", None)


def test_cli_check_refusals(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "nope.py"]) == 1
    assert capsys.readouterr().err == "covet: no such file: nope.py\n"
    with pytest.raises(SystemExit) as info:
        main(["check", "--workers", "0"])
    assert info.value.code == 2
    assert "expected a whole number of at least 1, got '0'" in capsys.readouterr().err


def test_cli_check_subprocess_exit_code(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent('''
        from covet import Covet
        app = Covet(debug=True)
    '''))
    env = dict(os.environ, PYTHONPATH=REPO)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "BACKUP_DIR", "DEBUG"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-m", "covet", "check", "--security", "--allow-docs"], cwd=str(tmp_path),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert proc.stdout == ("fail  Security     debug is on (tracebacks in error pages): set DEBUG=false; "
                           "no SecurityHeadersMiddleware: no HSTS (add it with hsts=True)\n")
    assert proc.returncode == 1
