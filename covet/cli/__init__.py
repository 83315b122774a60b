"""``python -m covet``: run, routes, openapi, new."""
import argparse
import errno
import importlib
import importlib.util
import json
import os
import sys
import traceback

__all__ = ["main", "load_app"]


class AppLoadError(Exception):
    """The APP argument could not be turned into an app (the message says why)."""


def _user_traceback():
    """The traceback being handled, without the leading frames of this loader and importlib."""
    etype, exc, tb = sys.exc_info()
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name != __file__ and "importlib" not in name:
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(etype, exc, tb)).rstrip("\n")


def load_app(spec=None):
    """Import ``module:attribute``, a path to a .py file (``file.py[:attr]``), or find ``app`` in app.py/main.py."""
    if sys.path[0] != os.getcwd():
        sys.path.insert(0, os.getcwd())
    if not spec:
        for candidate in ("app.py", "main.py"):
            if os.path.exists(candidate):
                spec = candidate
                break
        else:
            raise AppLoadError("no APP given and no app.py or main.py in %s" % os.getcwd())
    attr = "app"
    target = spec
    if spec.endswith(".py") or os.sep in spec or spec.count(":") == 1 and spec.split(":")[0].endswith(".py"):
        if ":" in spec and not os.path.exists(spec):
            target, attr = spec.rsplit(":", 1)
        if not os.path.exists(target):
            raise AppLoadError("no such file: %s" % target)
        module_name = os.path.splitext(os.path.basename(target))[0]
        directory = os.path.dirname(os.path.abspath(target))
        if directory not in sys.path:
            sys.path.insert(0, directory)
        mspec = importlib.util.spec_from_file_location(module_name, target)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[module_name] = module
        try:
            mspec.loader.exec_module(module)
        except Exception:
            raise AppLoadError("error while importing %s:\n%s" % (target, _user_traceback())) from None
    else:
        if ":" in spec:
            target, attr = spec.split(":", 1)
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and target.startswith(exc.name):
                raise AppLoadError("no module named %r (run from the project folder, or give a .py path)" % target) from None
            raise AppLoadError("error while importing %s:\n%s" % (target, _user_traceback())) from None
        except Exception:
            raise AppLoadError("error while importing %s:\n%s" % (target, _user_traceback())) from None
    app = module
    for part in attr.split("."):
        if not hasattr(app, part):
            raise AppLoadError("%s has no attribute %r" % (target, attr))
        app = getattr(app, part)
    if callable(app) and not hasattr(app, "dispatch") and not hasattr(app, "router"):
        try:
            app = app()  # an app factory
        except Exception:
            raise AppLoadError("error while calling the app factory %s:%s:\n%s" % (target, attr, _user_traceback())) from None
    if not hasattr(app, "dispatch"):
        raise AppLoadError("%s:%s is not a Covet app" % (target, attr))
    return app


def _parser():
    from .. import __version__

    p = argparse.ArgumentParser(prog="covet", description="covet: a web framework on the standard library alone")
    p.add_argument("--version", action="version", version="covet %s" % __version__)
    sub = p.add_subparsers(dest="command")

    run = sub.add_parser("run", help="serve an app over HTTP/1.1")
    run.add_argument("app", nargs="?", help="module:attribute or file.py (default: app in app.py or main.py)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed on start)")
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--reload", action="store_true", help="restart when a .py file under this folder changes")
    run.add_argument("--ssl-certfile")
    run.add_argument("--ssl-keyfile")
    run.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    run.add_argument("--access-log", action="store_true", help="log one line per request")
    run.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                     help="comma-separated IPs/CIDRs trusted for X-Forwarded-*/Forwarded ('*' for all)")
    run.add_argument("--max-connections", type=int, default=1000)
    run.add_argument("--timeout-keep-alive", type=float, default=5.0)
    run.add_argument("--timeout-head", type=float, default=10.0)
    run.add_argument("--timeout-body", type=float, default=30.0)
    run.add_argument("--min-body-rate", type=int, default=500,
                     help="bytes/s a request body must keep up after --timeout-body of waiting (0: off)")
    run.add_argument("--timeout-graceful-shutdown", type=float, default=10.0)
    run.add_argument("--max-body-size", type=int, default=16 * 1024 * 1024)
    run.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio",
                     help="uvloop only if installed and asked for")

    routes = sub.add_parser("routes", help="list the routes: method, path, name, handler")
    routes.add_argument("app", nargs="?")

    openapi = sub.add_parser("openapi", help="print the OpenAPI document as JSON")
    openapi.add_argument("app", nargs="?")
    return p


def _tls_problem(certfile, keyfile):
    """Why the certificate and key cannot be used, or None (checked before the app is loaded)."""
    import ssl

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


def _cmd_run(args):
    from ..server.http11 import Limits
    from ..server.run import run

    if args.reload:
        from ..server.workers import run_with_reload

        return run_with_reload(sys.argv if sys.argv[0] != "-c" else ["covet"] + sys.argv[1:])
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        print("covet: --ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    if args.ssl_certfile is not None:
        problem = _tls_problem(args.ssl_certfile, args.ssl_keyfile)
        if problem:
            print("covet: %s" % problem, file=sys.stderr)
            return 1
    if args.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        print("covet: --loop uvloop needs uvloop installed (pip install uvloop)", file=sys.stderr)
        return 1
    app = load_app(args.app)
    try:
        run(app, host=args.host, port=args.port, workers=args.workers, loop=None if args.loop == "asyncio" else "uvloop",
            log_level=args.log_level, access_log=args.access_log, ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile, forwarded_allow_ips=args.forwarded_allow_ips,
            max_connections=args.max_connections, keepalive_timeout=args.timeout_keep_alive,
            head_timeout=args.timeout_head, body_timeout=args.timeout_body, min_body_rate=args.min_body_rate,
            shutdown_timeout=args.timeout_graceful_shutdown, limits=Limits(max_body_size=args.max_body_size))
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


def _cmd_routes(args):
    app = load_app(args.app)
    rows = [("METHODS", "PATH", "NAME", "HANDLER")]
    for r in app.routes:
        fn = r.endpoint
        handler = "%s.%s" % (getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", repr(fn)))
        rows.append((",".join(sorted(r.methods)), r.path, r.name or "", handler))
    for m in app.router.mounts:
        rows.append(("*", m.prefix + "/...", m.name or "", "mount: %r" % (m.app,)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip())
    return 0


def _cmd_openapi(args):
    app = load_app(args.app)
    build = getattr(app, "openapi", None)
    if build is None:
        print("covet: this version of covet has no OpenAPI support", file=sys.stderr)
        return 1
    print(json.dumps(build(), indent=2, ensure_ascii=False, default=str))
    return 0


def main(argv=None):
    """Entry point of ``python -m covet`` and the ``covet`` script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"run": _cmd_run, "routes": _cmd_routes, "openapi": _cmd_openapi}[args.command](args)
    except AppLoadError as exc:
        print("covet: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
