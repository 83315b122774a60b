"""A real PostgreSQL server for the tests: ``initdb`` into a temporary folder, started once per session.

``tests/conftest.py`` imports the session fixture ``postgres_server``, so every test module can ask
for it by name::

    def test_select(postgres_server):
        url = postgres_server.url("md5user", sslmode="verify-full", sslrootcert=postgres_server.ca_file)

The server listens on 127.0.0.1 on a free port, with TLS (a throwaway CA made with the ``openssl``
binary, server certificate for 127.0.0.1 and localhost), and one login role per authentication
method (``USERS``). Where the server binaries (Debian package ``postgresql``: they live in
/usr/lib/postgresql/<version>/bin, not on PATH) or ``openssl`` cannot be found, the tests that ask for
it are skipped and the reason is printed once. ``COVET_PG_BINDIR`` names the binaries' folder
instead of searching (an empty folder hides them: that is how the skip path is tested).

This module needs only the standard library until pytest is importable, so that
``benchmarks/pg_server.py`` can start the same server from a venv without pytest.
"""
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import quote, urlencode

BINDIR_ENV = "COVET_PG_BINDIR"
# initdb and postgres make the server; psql runs the setup script (roles, the database).
NEEDED_BINARIES = ("initdb", "postgres", "psql")
# SSLRequest: length 8, then the code 80877103 (1234 in the high half, 5679 in the low one).
# https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SSLREQUEST
SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"


class PgUser(NamedTuple):
    """A login role of the test server and the pg_hba.conf method its TCP connections meet."""

    name: str
    password: Optional[str]
    method: str


SUPERUSER = "postgres"
DATABASE = "covet_test"
# One role per authentication method covet's client speaks. The superuser's password is set by
# initdb (--pwfile) and stored as a SCRAM verifier; md5user's is stored as an md5 hash, because a
# role whose stored password is a SCRAM verifier is asked for SCRAM even on an "md5" line
# (https://www.postgresql.org/docs/current/auth-password.html).
USERS: Dict[str, PgUser] = {
    SUPERUSER: PgUser(SUPERUSER, "scram-secret", "scram-sha-256"),
    "md5user": PgUser("md5user", "md5-secret", "md5"),
    "clearuser": PgUser("clearuser", "clear-secret", "password"),
    "trustuser": PgUser("trustuser", None, "trust"),
}

# Settings for a throwaway server that starts fast and answers the same everywhere. Durability is
# switched off (fsync, full pages, synchronous commit, minimal WAL): the folder dies with the run.
# jit off: compiling a test query with LLVM costs more than running it. Messages in English and
# times in UTC so that tests may compare them exactly.
SERVER_SETTINGS: Dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "ssl": "on",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "32MB",
    "max_connections": "100",
    "jit": "off",
    "autovacuum": "off",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "lc_messages": "C",
    "password_encryption": "scram-sha-256",
    "logging_collector": "off",
}

# The throwaway CA and the server certificate. Own config file, so that the machine's openssl.cnf
# adds nothing. The key identifiers are there because Python 3.13's default context verifies with
# X509_V_FLAG_X509_STRICT, which wants a leaf's Authority Key Identifier.
OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = covet test CA
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""
# P-256 keys: made in milliseconds (an RSA key takes a good part of a second on a slow machine).
# Signed with SHA-256, which is also the hash of SCRAM's tls-server-end-point channel binding.
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (as in redis_fixture, which
    imports pytest: this module must not)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _version_key(folder: str) -> Tuple[int, ...]:
    """/usr/lib/postgresql/15/bin -> (15,): the newest installed version comes first."""
    version = os.path.basename(os.path.dirname(folder))
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def find_bindir() -> Tuple[Optional[str], str]:
    """``(folder, "")`` holding initdb, postgres and psql, or ``(None, reason)``.

    ``COVET_PG_BINDIR`` names the folder; otherwise the newest /usr/lib/postgresql/<version>/bin,
    then the folder of an ``initdb`` on PATH (distributions that put it there).

    >>> find_bindir()  # doctest: +SKIP
    ('/usr/lib/postgresql/15/bin', '')
    """
    override = os.environ.get(BINDIR_ENV)
    if override is not None:
        candidates = [override]
    else:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(os.path.dirname(os.path.realpath(on_path)))
    for folder in candidates:
        if all(os.path.isfile(os.path.join(folder, name)) and os.access(os.path.join(folder, name), os.X_OK)
               for name in NEEDED_BINARIES):
            return folder, ""
    where = ("%s=%s" % (BINDIR_ENV, override) if override is not None
             else ", ".join(candidates) or "/usr/lib/postgresql/*/bin nor on PATH")
    return None, ("PostgreSQL server binaries not found (Debian package postgresql): no %s in %s"
                  % ("/".join(NEEDED_BINARIES), where))


def server_account() -> Optional[Tuple[int, int]]:
    """``(uid, gid)`` to run initdb and postgres as, or None to run them as ourselves.

    postgres refuses to run as root ("root execution of the PostgreSQL server is not permitted"),
    so root hands the server to the ``postgres`` system user that the Debian package creates.
    Raises LookupError when root has no such user.
    """
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise LookupError("running as root and there is no 'postgres' system user to run the server as "
                          "(the Debian package postgresql creates it)") from None
    if entry.pw_uid == 0:
        raise LookupError("the 'postgres' system user is root: postgres refuses to run as root")
    return entry.pw_uid, entry.pw_gid


def unavailable_reason() -> Optional[str]:
    """Why no server can be started here, or None when everything it needs is found."""
    bindir, reason = find_bindir()
    if bindir is None:
        return reason
    if shutil.which("openssl") is None:
        return ("openssl not found on PATH (Debian package openssl): "
                "the PostgreSQL fixture makes its TLS certificate with it")
    try:
        server_account()
    except LookupError as exc:
        return str(exc)
    return None


def ssl_request(host: str, port: int, timeout: float = 5.0) -> bytes:
    """Send an SSLRequest and return the server's one-byte answer: b"S" (TLS on) or b"N"."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(SSL_REQUEST)
        return sock.recv(1)


def _base_folder(account: Optional[Tuple[int, int]]) -> str:
    """A fresh temporary folder, owned by the user the server runs as."""
    parent = tempfile.gettempdir()
    if account is not None and not _traversable(parent):
        parent = "/tmp"  # a TMPDIR under /root cannot be entered by the postgres user
    base = tempfile.mkdtemp(prefix="covet-pg-", dir=parent)
    if account is not None:
        os.chown(base, *account)
    return base


def _traversable(path: str) -> bool:
    """Every folder from / down to ``path`` may be entered by any user."""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _conf_value(value: str) -> str:
    """A postgresql.conf string literal (quotes doubled, backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _clean_env() -> Dict[str, str]:
    """Our environment without libpq's PG* variables (a PGHOST or PGSSLMODE of the caller's must
    not reach the setup's psql) and in the C locale."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


class PostgresServer:
    """A throwaway PostgreSQL server in a temporary folder; ``stop()`` shuts it down and removes it.

    Starts in the constructor (initdb, TLS certificate, roles, database ``covet_test``) and is a
    context manager::

        with PostgresServer() as pg:
            print(pg.url(sslmode="verify-full", sslrootcert=pg.ca_file))

    Attributes: ``host`` ("127.0.0.1"), ``port``, ``user`` (the superuser, SCRAM), ``password``,
    ``database``, ``ca_file`` (the CA that signed the server certificate), ``socket_dir`` (its Unix
    socket folder, where ``local`` connections are trusted), ``bindir``, ``data_dir``, ``log_file``,
    ``users`` (``USERS``: name -> PgUser). ``bindir`` defaults to ``find_bindir()``'s; ``settings``
    (postgresql.conf names to values) override ``SERVER_SETTINGS``. A start that fails raises
    RuntimeError with the tool's output and leaves no folder or process behind.
    """

    host = "127.0.0.1"

    def __init__(self, bindir: Optional[str] = None, settings: Optional[Dict[str, str]] = None) -> None:
        if bindir is None:
            bindir, reason = find_bindir()
            if bindir is None:
                raise RuntimeError(reason)
        self.bindir = bindir
        self.user = SUPERUSER
        self.password = USERS[SUPERUSER].password
        self.database = DATABASE
        self.users = dict(USERS)
        self.port = 0
        self.proc: Optional["subprocess.Popen[bytes]"] = None
        self._account = server_account()
        self._log = None
        self.dir = _base_folder(self._account)
        self.socket_dir = self.dir
        self.data_dir = os.path.join(self.dir, "data")
        self.log_file = os.path.join(self.dir, "postgres.log")
        self.ca_file = os.path.join(self.dir, "tls", "ca.crt")
        try:
            self._log = open(self.log_file, "ab")
            self._make_certificates()
            self._initdb()
            self._configure(dict(SERVER_SETTINGS, **(settings or {})))
            self._start()
            self._create_roles()
        except BaseException:
            self.stop()
            raise

    # -- the steps, in order ------------------------------------------------------------------------

    def binary(self, name: str) -> str:
        """The path of one of the server's binaries (``psql``, ``pg_ctl``, ...)."""
        return os.path.join(self.bindir, name)

    def _run(self, argv: List[str], as_server: bool, what: str, stdin: Optional[bytes] = None) -> None:
        """Run a setup command, its output into the log; a failure raises with that output."""
        options = {}
        if as_server and self._account is not None:
            uid, gid = self._account
            options = {"user": uid, "group": gid, "extra_groups": []}
        done = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=_clean_env(), cwd=self.dir, **options)
        assert self._log is not None
        self._log.write(done.stdout)
        self._log.flush()
        if done.returncode != 0:
            output = done.stdout.decode(errors="replace")
            raise RuntimeError("%s failed (exit %d): %s" % (what, done.returncode, output))

    def _make_certificates(self) -> None:
        tls = os.path.dirname(self.ca_file)
        os.mkdir(tls, 0o700)
        config = os.path.join(tls, "openssl.cnf")
        with open(config, "w") as f:
            f.write(OPENSSL_CONFIG)
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError(unavailable_reason() or "openssl not found")

        def path(name: str) -> str:
            return os.path.join(tls, name)

        self._run([openssl, "req", "-x509", "-config", config, "-extensions", "ca_ext", *EC_KEY,
                   "-keyout", path("ca.key"), "-out", path("ca.crt"), "-days", "7", "-sha256",
                   "-subj", "/CN=covet test CA"], False, "openssl (CA)")
        self._run([openssl, "req", "-new", "-config", config, *EC_KEY, "-keyout", path("server.key"),
                   "-out", path("server.csr"), "-subj", "/CN=localhost"], False, "openssl (server key)")
        self._run([openssl, "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                   "-set_serial", "0x%s" % os.urandom(8).hex(), "-days", "7", "-sha256", "-extfile", config,
                   "-extensions", "server_ext", "-out", path("server.crt")], False, "openssl (server certificate)")
        # postgres refuses a key file that others may read ("has group or world access").
        os.chmod(path("server.key"), 0o600)
        if self._account is not None:
            for name in os.listdir(tls):
                os.chown(path(name), *self._account)
            os.chown(tls, *self._account)

    def _initdb(self) -> None:
        pwfile = os.path.join(self.dir, "pwfile")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        if self._account is not None:
            os.chown(pwfile, *self._account)
        try:
            # --no-sync: nothing here must survive a crash, and syncing 40 MB is most of initdb's time.
            self._run([self.binary("initdb"), "-D", self.data_dir, "-U", SUPERUSER, "--pwfile", pwfile,
                       "--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "-E", "UTF8", "--no-sync"],
                      True, "initdb")
        finally:
            os.unlink(pwfile)

    def _configure(self, settings: Dict[str, str]) -> None:
        tls = os.path.dirname(self.ca_file)
        settings = dict(settings, unix_socket_directories=self.socket_dir,
                        ssl_cert_file=os.path.join(tls, "server.crt"), ssl_key_file=os.path.join(tls, "server.key"))
        # Appended: the last occurrence of a setting in postgresql.conf wins.
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("\n# covet tests (tests/pg_fixture.py)\n")
            for name, value in settings.items():
                f.write("%s = %s\n" % (name, _conf_value(value)))
        # First matching line wins: each test role's own method, then SCRAM for everyone else.
        # "host" matches TCP with and without TLS, so that both can be tested. The Unix socket is
        # trusted: its folder is private to the server's user (and root).
        lines = ["local all all trust"]
        lines += ["host all %s 127.0.0.1/32 %s" % (u.name, u.method) for u in USERS.values() if u.name != SUPERUSER]
        lines.append("host all all 127.0.0.1/32 scram-sha-256")
        with open(os.path.join(self.data_dir, "pg_hba.conf"), "w") as f:
            f.write("# TYPE DATABASE USER ADDRESS METHOD (tests/pg_fixture.py)\n" + "\n".join(lines) + "\n")

    def _start(self) -> None:
        """Start postgres on a free port; a port taken meanwhile by someone else means another try."""
        for _ in range(5):
            self.port = free_port()
            offset = os.path.getsize(self.log_file)
            options = {}
            if self._account is not None:
                uid, gid = self._account
                options = {"user": uid, "group": gid, "extra_groups": []}
            # Its own session: a Ctrl-C in the terminal reaches pytest, whose teardown stops the
            # server, rather than the server directly.
            self.proc = subprocess.Popen([self.binary("postgres"), "-D", self.data_dir, "-p", str(self.port)],
                                         stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                         env=_clean_env(), cwd=self.dir, start_new_session=True, **options)
            if self._wait_ready():
                return
            self.proc.wait()
            output = self._log_since(offset)
            if "could not bind" not in output and "could not create any TCP/IP sockets" not in output:
                raise RuntimeError("postgres exited with %d before it was ready: %s" % (self.proc.returncode, output))
        raise RuntimeError("postgres found no free port in 5 tries: %s" % self._log_since(0))

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        """True once the server accepts connections; False if it exited first.

        postmaster.pid's 8th line turns "ready" when the server accepts connections (what
        ``pg_ctl start -w`` waits for): the TCP listener is open before that, while the startup
        process still runs, and would refuse a session with "the database system is starting up".
        Then an SSLRequest on the TCP port proves the listener and TLS are up.
        """
        assert self.proc is not None
        pidfile = os.path.join(self.data_dir, "postmaster.pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with open(pidfile) as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                answer = ssl_request(self.host, self.port)
                if answer != b"S":
                    raise RuntimeError("postgres answered the SSLRequest with %r, not b'S': TLS is off" % answer)
                return True
            time.sleep(0.01)
        raise RuntimeError("postgres was not ready within %d s: %s" % (timeout, self._log_since(0)))

    def _create_roles(self) -> None:
        script = []
        for u in USERS.values():
            if u.name == SUPERUSER:
                continue
            # The stored form follows password_encryption at the time the password is set.
            encryption = "md5" if u.method == "md5" else "scram-sha-256"
            script.append("SET password_encryption = '%s';" % encryption)
            password = "PASSWORD '%s'" % u.password.replace("'", "''") if u.password is not None else ""
            script.append('CREATE ROLE "%s" LOGIN %s;' % (u.name, password))
        script.append('CREATE DATABASE "%s";' % DATABASE)
        script.append('\\connect "%s"' % DATABASE)
        # Since PostgreSQL 15 only the database owner may create in schema public; the test roles
        # are not owners, and their tests make tables.
        script.append("GRANT CREATE ON SCHEMA public TO PUBLIC;")
        self._run([self.binary("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                   "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres", "-f", "-"],
                  False, "psql (roles and database)", stdin="\n".join(script).encode() + b"\n")

    # -- using it --------------------------------------------------------------------------------------

    def url(self, user: Optional[str] = None, *, password: Optional[str] = None, database: Optional[str] = None,
            **query: str) -> str:
        """``postgresql://user:password@127.0.0.1:port/database?query`` for one of ``users``.

        The password defaults to the role's own (none for ``trustuser`` and unknown names); pass
        ``password=`` to send another. Keyword arguments become the query, in order, e.g.
        ``url("md5user", sslmode="verify-full", sslrootcert=pg.ca_file)``.
        """
        user = user or self.user
        if password is None:
            known = self.users.get(user)
            password = known.password if known is not None else None
        userinfo = quote(user, safe="")
        if password is not None:
            userinfo += ":" + quote(password, safe="")
        url = "postgresql://%s@%s:%d/%s" % (userinfo, self.host, self.port, quote(database or self.database, safe=""))
        if query:
            url += "?" + urlencode(query, quote_via=quote, safe="/")
        return url

    def log(self) -> str:
        """The server's log so far (initdb, openssl and postgres output)."""
        return self._log_since(0)

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT: what ``pg_ctl stop -m fast`` sends), then the folder goes.

        https://www.postgresql.org/docs/current/server-shutdown.html
        """
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the postmaster and its backends
                self.proc.wait()
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


try:
    import pytest
except ImportError:  # benchmarks/pg_server.py: the class above without the fixture
    pytest = None

if pytest is not None:
    _told: List[bool] = []

    def _skip(config: "pytest.Config", reason: str) -> None:
        """Skip, and say why once on the terminal: a skip's reason is otherwise listed only under
        -rs, and a write to stderr here would be captured with the test's output."""
        if not _told:
            _told.append(True)
            capture = config.pluginmanager.getplugin("capturemanager")
            reporter = config.pluginmanager.getplugin("terminalreporter")
            if capture is not None and reporter is not None:
                with capture.global_and_fixture_disabled():
                    reporter.write_line("\n[postgres tests] skipped: %s" % reason)
            else:
                sys.stderr.write("\n[postgres tests] skipped: %s\n" % reason)
        pytest.skip(reason)

    @pytest.fixture(scope="session")
    def postgres_server(request: "pytest.FixtureRequest"):
        """The session's one PostgresServer; skips (with the reason) where none can be started."""
        reason = unavailable_reason()
        if reason is not None:
            _skip(request.config, reason)
        server = PostgresServer()
        try:
            yield server
        finally:
            server.stop()


__all__ = ["PostgresServer", "PgUser", "USERS", "SUPERUSER", "DATABASE", "BINDIR_ENV", "find_bindir",
           "server_account", "unavailable_reason", "ssl_request", "free_port"]
if pytest is not None:
    __all__.append("postgres_server")
