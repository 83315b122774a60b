"""``covet run [APP]``: serve an app over HTTP/1.1 (one process, pre-forked workers, or under the reloader).

Options are checked before the app is imported and the port bound, so a typo in a certificate
path or an impossible option combination is a one-line message and exit status 1 or 2, not a
traceback from deep inside the server.

Example::

    python -m covet run app.py --port 0 --workers 2 --no-access-log
"""
import argparse
import errno
import os
import ssl
import sys
from typing import Any, Optional, Tuple

from .loader import load_app

__all__ = ["add_parser", "command", "tls_problem", "resolve_server", "DEFAULT_SERVER"]


def add_parser(subparsers: Any) -> None:
    """Register ``run`` and its options on the ``covet`` argument parser."""
    run = subparsers.add_parser("run", help="serve an app over HTTP/1.1")
    run.set_defaults(handler=command)
    run.add_argument("app", nargs="?", help="module:attribute or file.py (default: app in app.py or main.py)")
    # No defaults here: what the command line leaves out comes from the app's config (HOST, PORT,
    # WORKERS), then from DEFAULT_SERVER (resolve_server).
    run.add_argument("--host", default=None, help="default: the config's HOST, else 127.0.0.1")
    run.add_argument("--port", type=int, default=None,
                     help="0 picks a free port (printed on start); default: the config's PORT, else 8000")
    run.add_argument("--workers", type=int, default=None, help="default: the config's WORKERS, else 1")
    run.add_argument("--reload", action="store_true", help="restart when a .py file under this folder changes")
    run.add_argument("--ssl-certfile")
    run.add_argument("--ssl-keyfile")
    run.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    run.add_argument("--log-format", default="text", choices=["text", "json"],
                     help="json: one JSON object per log line, personal data masked (covet.logging)")
    # On by default, as uvicorn's console is: someone watching `covet run` wants to see each
    # request. --access-log stays accepted so that existing scripts keep working.
    run.add_argument("--access-log", dest="access_log", action="store_true", default=True,
                     help="log one line per request to covet.access (the default)")
    run.add_argument("--no-access-log", dest="access_log", action="store_false",
                     help="do not log a line per request (e.g. behind a proxy that logs already)")
    run.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                     help="comma-separated IPs/CIDRs trusted for X-Forwarded-*/Forwarded ('*' for all)")
    run.add_argument("--root-path", default="",
                     help="the prefix a proxy strips before passing requests on (e.g. /api): put back in the URLs "
                          "the app makes")
    run.add_argument("--max-connections", type=int, default=1000)
    run.add_argument("--max-connections-per-client", type=int, default=None,
                     help="connections one client address may hold (off by default; not behind a proxy)")
    run.add_argument("--timeout-keep-alive", type=float, default=5.0)
    run.add_argument("--timeout-head", type=float, default=10.0)
    run.add_argument("--timeout-body", type=float, default=30.0)
    run.add_argument("--min-body-rate", type=int, default=500,
                     help="bytes/s a request body must keep up after --timeout-body of waiting (0: off)")
    run.add_argument("--timeout-graceful-shutdown", type=float, default=10.0)
    run.add_argument("--max-body-size", type=int, default=16 * 1024 * 1024)
    run.add_argument("--ws-ping-interval", type=float, default=20.0,
                     help="seconds between WebSocket keepalive pings (0: off)")
    run.add_argument("--ws-ping-timeout", type=float, default=20.0,
                     help="seconds a WebSocket pong may take before the connection is closed (0: off)")
    run.add_argument("--ws-handshake-timeout", type=float, default=10.0,
                     help="seconds the app has to accept or refuse a WebSocket handshake (then 503; 0: off)")
    run.add_argument("--ws-idle-timeout", type=float, default=None,
                     help="close (1001) a WebSocket whose client sent no message for this many seconds "
                          "(default: off)")
    run.add_argument("--ws-max-message-size", type=int, default=1 << 20,
                     help="largest WebSocket message in bytes, after inflating (bigger: close 1009)")
    run.add_argument("--ws-per-message-deflate", dest="ws_per_message_deflate", action="store_true",
                     default=True, help="compress WebSocket messages when the client offers it (the default)")
    run.add_argument("--no-ws-per-message-deflate", dest="ws_per_message_deflate", action="store_false")
    run.add_argument("--ws-origins", default=None,
                     help="comma-separated Origins allowed to open WebSockets (default: any)")
    run.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio",
                     help="uvloop only if installed and asked for")


#: Where ``covet run`` listens when neither the command line nor the app's config says.
DEFAULT_SERVER = {"host": "127.0.0.1", "port": 8000, "workers": 1}


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def resolve_server(args: argparse.Namespace, app: Any) -> Tuple[str, int, int]:
    """``(host, port, workers)``: the command line's, else the app's config's (``HOST``, ``PORT``,
    ``WORKERS``), else :data:`DEFAULT_SERVER`. A config value of the wrong type is a ``TypeError``.

    Example::

        resolve_server(args, app)   # ('0.0.0.0', 8080, 4) with PORT=8080 WORKERS=4 HOST=0.0.0.0 in .env
    """
    config = getattr(app, "config", None)
    out = []
    for name, kind in (("host", str), ("port", int), ("workers", int)):
        value = getattr(args, name)
        if value is None and config is not None:
            value = getattr(config, name.upper(), None)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
                raise TypeError("the config's %s must be %s, got %r" % (name.upper(), kind.__name__, value))
        out.append(_or(value, DEFAULT_SERVER[name]))
    if out[2] < 1:
        raise ValueError("workers must be at least 1, got %d" % out[2])
    return out[0], out[1], out[2]


def tls_problem(certfile: str, keyfile: str) -> Optional[str]:
    """Why the certificate and key cannot be used, or None (checked before the app is loaded).

    Example::

        tls_problem("cert.pem", "key.pem")   # 'no such file: cert.pem' when it is missing
    """
    for path in (certfile, keyfile):
        if not os.path.isfile(path):
            return "no such file: %s" % path
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        return "%s and %s are not a PEM certificate and its private key (%s)" % (certfile, keyfile, exc)
    except OSError as exc:
        return "cannot read %s / %s: %s" % (certfile, keyfile, exc.strerror or exc)
    return None


def command(args: argparse.Namespace) -> int:
    """Run the server until SIGINT/SIGTERM; the exit status (0 after a graceful stop)."""
    # The server is imported here, not at the top: `covet routes` and `covet --version` do not
    # need it, and it is most of the start-up time of the command line.
    from ..server import run as server
    from ..server.http11 import Limits
    from ..server.server import loop_problem

    if args.reload:
        from ..server.workers import run_with_reload

        return run_with_reload(sys.argv if sys.argv[0] != "-c" else ["covet"] + sys.argv[1:])
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        print("covet: --ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    if args.ssl_certfile is not None:
        problem = tls_problem(args.ssl_certfile, args.ssl_keyfile)
        if problem:
            print("covet: %s" % problem, file=sys.stderr)
            return 1
    problem = loop_problem(args.loop)
    if problem:
        print("covet: %s" % problem, file=sys.stderr)
        return 1
    settings = dict(
        access_log=args.access_log, ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
        forwarded_allow_ips=args.forwarded_allow_ips, root_path=args.root_path, max_connections=args.max_connections,
        max_connections_per_client=args.max_connections_per_client,
        keepalive_timeout=args.timeout_keep_alive, head_timeout=args.timeout_head,
        body_timeout=args.timeout_body, min_body_rate=args.min_body_rate,
        shutdown_timeout=args.timeout_graceful_shutdown, ws_ping_interval=args.ws_ping_interval,
        ws_ping_timeout=args.ws_ping_timeout, ws_max_message_size=args.ws_max_message_size,
        ws_per_message_deflate=args.ws_per_message_deflate, ws_origins=args.ws_origins,
        ws_handshake_timeout=args.ws_handshake_timeout, ws_idle_timeout=args.ws_idle_timeout)
    try:
        # Settings are checked before the app is imported: a bad value is a usage error (exit 2),
        # not a traceback.
        from ..server.config import ServerConfig

        settings["limits"] = Limits(max_body_size=args.max_body_size)
        ServerConfig(host=args.host or DEFAULT_SERVER["host"], port=_or(args.port, DEFAULT_SERVER["port"]),
                     **settings)
    except (TypeError, ValueError) as exc:
        print("covet: %s" % exc, file=sys.stderr)
        return 2
    if args.log_format == "json":
        # Before the app is imported, so that its own logging at import time is JSON too; the
        # server's basicConfig then finds the root logger configured and leaves it.
        from ..logging import configure_logging

        configure_logging("json", args.log_level)
    app = load_app(args.app)
    try:
        host, port, workers = resolve_server(args, app)
        ServerConfig(host=host, port=port, **settings)  # the config's values get the same checks
    except (TypeError, ValueError) as exc:
        print("covet: %s" % exc, file=sys.stderr)
        return 2
    args.host, args.port = host, port  # for the messages below
    try:
        server.run(app, host=host, port=port, workers=workers,
                   loop=None if args.loop == "asyncio" else "uvloop", log_level=args.log_level, **settings)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print("covet: %s:%d is already in use (another server running? try --port)" % (args.host, args.port),
                  file=sys.stderr)
            return 1
        if exc.errno == errno.EACCES:
            print("covet: no permission to listen on %s:%d" % (args.host, args.port), file=sys.stderr)
            return 1
        raise
    except ImportError as exc:
        print("covet: %s" % exc, file=sys.stderr)
        return 1
    return 0
