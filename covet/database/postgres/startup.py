"""Opening a PostgreSQL session on asyncio: the TCP connection, ``sslmode`` and TLS, the startup
message and authentication, up to the first ReadyForQuery. ``PGConnection.connect`` runs it;
the connection's queries are ``covet.database.postgres.connection``.

TLS starts after the SSLRequest exchange, which happens on the raw socket with the event loop's
``sock_sendall``/``sock_recv`` (reading exactly one byte, so nothing the server sends after its
answer is consumed unencrypted: CVE-2021-23222); the socket is then handed to
``loop.create_connection(sock=..., ssl=...)`` with a ``PGWire`` protocol
(``covet.database.postgres.wire``). That works on Python 3.9 to 3.13 alike, where
``StreamWriter.start_tls`` exists only from 3.11.

Example::

    params = parse_url("postgresql://app:secret@db.example:5432/shop?sslmode=verify-full")
    assert params["host"] == "db.example" and params["ssl_mode"] == "verify-full"
"""
import asyncio
import logging
import socket
import ssl
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from covet.database.errors import OperationalError
from covet.database.postgres import frontend, messages
from covet.database.postgres.errors import ProtocolError, ScramError, error_from_response
from covet.database.postgres.protocol import BackendParser
from covet.database.postgres.scram import ScramClient
from covet.database.postgres.wire import PGWire

__all__ = ["ConnectError", "AuthenticationRefused", "SSL_MODES", "parse_url", "make_ssl_context",
           "Session", "open_session", "read_message", "resolve_ssl",
           "open_socket"]

logger = logging.getLogger("covet.database.postgres")

SSL_MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_PORT = 5432
# What covet's rows and dates rely on (docs/postgres-types.md): UTF-8 text, ISO dates that the
# text decoders parse, intervals in the style they parse, and UTC so timestamptz text is stable.
BASE_SETTINGS = {"client_encoding": "UTF8", "DateStyle": "ISO", "IntervalStyle": "postgres", "TimeZone": "UTC"}
# URL query parameters covet understands (libpq's names); any other is refused, as libpq does,
# so that a misspelt "sslmode" cannot silently mean no TLS.
_URL_PARAMS = ("sslmode", "sslrootcert", "connect_timeout", "application_name", "channel_binding",
               "statement_timeout", "statement_cache_size", "allow_md5", "allow_cleartext")


class ConnectError(OperationalError):
    """covet refused or could not complete the connection itself (TLS unavailable or unverified,
    a server that closed the connection): not an error the server reported."""


class AuthenticationRefused(ConnectError):
    """covet refused an authentication method the server asked for (md5 without ``allow_md5``,
    cleartext without ``allow_cleartext`` or without TLS, a password missing), or a server that
    skipped the proof SCRAM requires."""


def parse_url(url: str) -> Dict[str, Any]:
    """The keyword arguments of ``PGConnection.connect`` for a ``postgresql://`` URL.

    Example::

        kw = parse_url("postgresql://u:p%40ss@127.0.0.1:5433/db?sslmode=require")
        assert (kw["user"], kw["password"], kw["port"], kw["database"]) == ("u", "p@ss", 5433, "db")
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("a PostgreSQL URL starts with postgresql://, not %r" % (parts.scheme + "://",))
    if not parts.username:
        raise ValueError("the URL names no user (postgresql://USER@host/db)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError("the URL's port is not a number from 0 to 65535") from None
    kw: Dict[str, Any] = {
        "host": parts.hostname or "localhost", "port": port, "user": unquote(parts.username),
        "password": unquote(parts.password) if parts.password is not None else None,
        "database": unquote(parts.path.lstrip("/")) or None,
    }
    kw.update(url_options(parse_qsl(parts.query, keep_blank_values=True)))
    return kw


def url_options(pairs: Iterable[Tuple[str, str]]) -> Dict[str, Any]:
    """``PGConnection.connect`` keywords for a URL's query parameters (``sslmode``, ...).

    Example::

        assert url_options([("sslmode", "require")]) == {"ssl_mode": "require"}
    """
    kw: Dict[str, Any] = {}
    for name, value in pairs:
        if name not in _URL_PARAMS:
            raise ValueError("unknown URL parameter %r (covet understands %s)" % (name, ", ".join(_URL_PARAMS)))
        if name == "sslmode":
            kw["ssl_mode"] = value
        elif name == "sslrootcert":
            kw["ca_file"] = value
        elif name in ("connect_timeout", "statement_timeout"):
            try:
                kw[name] = float(value)
            except ValueError:
                raise ValueError("%s=%r is not a number of seconds" % (name, value)) from None
        elif name == "statement_cache_size":
            if not value.isdigit():
                raise ValueError("statement_cache_size=%r is not a whole number" % value)
            kw[name] = int(value)
        elif name in ("allow_md5", "allow_cleartext"):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError("%s=%r is not true or false" % (name, value))
            kw[name] = value.lower() in ("true", "1", "yes")
        else:
            kw[name] = value
    return kw


def make_ssl_context(ssl_mode: str, ca_file: Optional[str]) -> ssl.SSLContext:
    """The TLS context for an ``sslmode``: ``require`` and ``prefer`` encrypt without checking the
    certificate (libpq's meaning), ``verify-ca`` checks the chain, ``verify-full`` also the host
    name. Without ``ca_file`` the verifying modes use the system's trusted CAs.

    Example::

        ctx = make_ssl_context("verify-ca", "/etc/ssl/pg-ca.pem")
        assert ctx.verify_mode == ssl.CERT_REQUIRED and not ctx.check_hostname
    """
    ctx = ssl.create_default_context(cafile=ca_file)
    if ssl_mode in ("prefer", "require"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ssl_mode == "verify-ca":
        ctx.check_hostname = False
    return ctx


class Session:
    """An authenticated session after its first ReadyForQuery: the wire (whose parser may hold
    bytes already received), the server's parameters and cancel key, the transaction status."""

    __slots__ = ("wire", "parser", "parameters", "pid", "secret", "status", "tls")

    def __init__(self, wire: PGWire, parameters: Dict[str, str], pid: int, secret: bytes, status: str,
                 tls: bool) -> None:
        self.wire, self.parser = wire, wire.parser
        self.parameters, self.pid, self.secret, self.status, self.tls = parameters, pid, secret, status, tls


async def read_message(wire: PGWire) -> messages.BackendMessage:
    """The next message, waiting for more bytes as needed; ``ConnectError`` once the connection is gone.

    Example::

        message = await read_message(wire)
    """
    parser = wire.parser
    while True:
        message = parser.next_message()
        if message is not None:
            return message
        await wire.more()


async def open_socket(host: str, port: int) -> socket.socket:
    """A connected non-blocking socket: TCP to ``host``, or, when ``host`` is a folder (starts with
    ``/``), the server's Unix socket ``host/.s.PGSQL.port`` there, as libpq reads such a host.

    Example::

        sock = await open_socket("/var/run/postgresql", 5432)   # /var/run/postgresql/.s.PGSQL.5432
    """
    loop = asyncio.get_running_loop()
    if host.startswith("/"):
        path = "%s/.s.PGSQL.%d" % (host.rstrip("/"), port)
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.setblocking(False)
        try:
            await loop.sock_connect(unix, path)
        except OSError as exc:
            unix.close()
            raise ConnectError("cannot connect to %s: %s" % (path, exc)) from None
        return unix
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    last: Optional[BaseException] = None
    for family, kind, proto, _, address in infos:
        candidate = socket.socket(family, kind, proto)
        candidate.setblocking(False)
        try:
            await loop.sock_connect(candidate, address)
        except OSError as exc:
            candidate.close()
            last = exc
            continue
        except BaseException:
            candidate.close()
            raise
        candidate.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return candidate
    raise ConnectError("cannot connect to %s:%d: %s" % (host, port, last))


async def _negotiate_tls(host: str, port: int, ssl_mode: str, ctx: Optional[ssl.SSLContext],
                         parser: BackendParser) -> Tuple[PGWire, bool]:
    loop = asyncio.get_running_loop()
    sock = await open_socket(host, port)
    wire = PGWire(parser, ConnectError)
    try:
        # A Unix socket stays on this host: libpq does not ask for TLS there, whatever sslmode says.
        if ssl_mode == "disable" or sock.family == socket.AF_UNIX:
            await loop.create_connection(lambda: wire, sock=sock)
            return wire, False
        await loop.sock_sendall(sock, frontend.SSL_REQUEST)
        answer = await loop.sock_recv(sock, 1)  # one byte exactly: see the module docstring
        if not answer:
            raise ConnectError("the server closed the connection after SSLRequest")
        if frontend.read_ssl_response(answer):
            assert ctx is not None
            try:
                await loop.create_connection(lambda: wire, sock=sock, ssl=ctx, server_hostname=host)
            except ssl.SSLError as exc:
                raise ConnectError("TLS with %s:%d failed (sslmode=%s): %s" % (host, port, ssl_mode, exc)) from None
            return wire, True
        if ssl_mode != "prefer":
            raise ConnectError("the server at %s:%d does not accept TLS, and sslmode=%s requires it"
                               % (host, port, ssl_mode))
        await loop.create_connection(lambda: wire, sock=sock)
        return wire, False
    except BaseException:
        sock.close()
        raise


async def open_session(host: str, port: int, user: str, password: Optional[str], database: Optional[str], *,
                       ssl_mode: str, ssl_context: Optional[ssl.SSLContext], settings: Mapping[str, str],
                       allow_md5: bool, allow_cleartext: bool, channel_binding: str,
                       max_message_len: int) -> Session:
    """Connect, negotiate TLS, start up and authenticate (no timeout here: the caller bounds it).

    Example::

        session = await open_session("127.0.0.1", 5432, "app", "pw", "shop", ssl_mode="disable",
                                     ssl_context=None, settings=BASE_SETTINGS, allow_md5=False,
                                     allow_cleartext=False, channel_binding="prefer",
                                     max_message_len=DEFAULT_MAX_MESSAGE_LEN)
    """
    parser = BackendParser(max_message_len=max_message_len)
    wire, tls = await _negotiate_tls(host, port, ssl_mode, ssl_context, parser)
    writer = wire
    try:
        params = {"user": user}
        if database:
            params["database"] = database
        params.update(settings)
        writer.write(frontend.startup_message(params))
        certificate = None
        if tls:
            ssl_object = writer.get_extra_info("ssl_object")
            certificate = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        await _authenticate(wire, user, password, tls, certificate,
                            allow_md5, allow_cleartext, channel_binding)
        parameters: Dict[str, str] = {}
        pid, secret = 0, b""
        while True:
            message = await read_message(wire)
            if isinstance(message, messages.ParameterStatus):
                parameters[message.name] = message.value
            elif isinstance(message, messages.BackendKeyData):
                pid, secret = message.pid, message.secret
            elif isinstance(message, messages.ReadyForQuery):
                return Session(wire, parameters, pid, secret, message.status, tls)
            elif isinstance(message, messages.ErrorResponse):
                raise error_from_response(message.fields)
            elif isinstance(message, messages.NoticeResponse):
                logger.info("PostgreSQL notice: %s", message.message)
            elif not isinstance(message, messages.NegotiateProtocolVersion):
                raise ProtocolError("unexpected %s during startup" % type(message).__name__)
    except BaseException:
        writer.close()
        # Let the transport really close before the error leaves: a loop that ends right after
        # (asyncio.run around a refused connect) would otherwise leave the socket open.
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except Exception:
            pass
        raise


async def _authenticate(writer: PGWire, user: str, password: Optional[str], tls: bool, certificate: Optional[bytes],
                        allow_md5: bool, allow_cleartext: bool, channel_binding: str) -> None:
    scram: Optional[ScramClient] = None
    while True:
        message = await read_message(writer)
        if isinstance(message, messages.AuthenticationOk):
            if scram is not None and not scram.done:
                # Without this check a server (or a man in the middle) could skip the proof that
                # it knows the password (docs/postgres-protocol.md, Authentication).
                raise AuthenticationRefused("the server accepted the login before proving it knows the "
                                            "password (SCRAM exchange unfinished): refused")
            if channel_binding == "require" and (scram is None or scram.mechanism != "SCRAM-SHA-256-PLUS"):
                raise AuthenticationRefused("channel_binding=require, but the server authenticated without it")
            return
        if isinstance(message, messages.ErrorResponse):
            raise error_from_response(message.fields)
        if isinstance(message, messages.NoticeResponse):
            continue
        if isinstance(message, messages.AuthenticationSASL):
            if scram is not None:
                raise ProtocolError("the server started SASL twice")
            if password is None:
                raise AuthenticationRefused("the server asks for a password (SCRAM) and none was given")
            try:
                scram = ScramClient(message.mechanisms, password, certificate=certificate,
                                    channel_binding=channel_binding)
                writer.write(frontend.sasl_initial_response(scram.mechanism, scram.client_first_message()))
            except ScramError as exc:
                raise AuthenticationRefused(str(exc)) from None
        elif isinstance(message, messages.AuthenticationSASLContinue) and scram is not None:
            try:
                writer.write(frontend.sasl_response(scram.client_final_message(message.data)))
            except ScramError as exc:
                raise AuthenticationRefused(str(exc)) from None
        elif isinstance(message, messages.AuthenticationSASLFinal) and scram is not None:
            try:
                scram.verify_server_final(message.data)
            except ScramError as exc:
                raise AuthenticationRefused(str(exc)) from None
        elif isinstance(message, messages.AuthenticationMD5Password) and scram is None:
            if not allow_md5:
                raise AuthenticationRefused("the server asks for md5 password authentication, which covet "
                                            "refuses unless allow_md5=True (md5 is broken; use scram-sha-256 "
                                            "in pg_hba.conf)")
            if password is None:
                raise AuthenticationRefused("the server asks for a password (md5) and none was given")
            writer.write(frontend.password_message(frontend.md5_password(user, password, message.salt)))
        elif isinstance(message, messages.AuthenticationCleartextPassword) and scram is None:
            if not allow_cleartext:
                raise AuthenticationRefused("the server asks for the password in clear, which covet refuses "
                                            "unless allow_cleartext=True")
            if not tls:
                raise AuthenticationRefused("the server asks for the password in clear on a connection without "
                                            "TLS: refused even with allow_cleartext=True")
            if password is None:
                raise AuthenticationRefused("the server asks for a password and none was given")
            writer.write(frontend.password_message(password))
        else:
            raise ProtocolError("unexpected %s during authentication" % type(message).__name__)


def resolve_ssl(ssl_mode: Optional[str], ssl_context: Optional[ssl.SSLContext],
                ca_file: Optional[str]) -> Tuple[str, Optional[ssl.SSLContext]]:
    """The effective ``sslmode`` and context: ``verify-full`` by default when a CA or a context is
    given, else ``prefer``; a given context is used as it is.

    Example::

        mode, ctx = resolve_ssl(None, None, "/etc/ssl/pg-ca.pem")
        assert mode == "verify-full" and ctx.check_hostname
    """
    if ssl_mode is None:
        ssl_mode = "verify-full" if (ca_file or ssl_context) else "prefer"
    if ssl_mode not in SSL_MODES:
        raise ValueError("ssl_mode must be one of %s, not %r" % (", ".join(SSL_MODES), ssl_mode))
    if ssl_mode == "disable":
        if ssl_context is not None or ca_file:
            raise ValueError("ssl_mode='disable' with a CA file or an SSL context: contradictory")
        return ssl_mode, None
    if ssl_context is not None:
        if ca_file:
            raise ValueError("give ssl_context or ca_file, not both")
        return ssl_mode, ssl_context
    return ssl_mode, make_ssl_context(ssl_mode, ca_file)

