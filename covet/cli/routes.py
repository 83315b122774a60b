"""``covet routes [APP]``: the route table (methods, path, name, handler), mounts last.

Example::

    $ python -m covet routes app.py
    METHODS  PATH             NAME      HANDLER
    GET      /users/{id:int}  get_user  app.get_user
"""
import argparse
from typing import Any

from .loader import load_app

__all__ = ["add_parser", "command"]


def add_parser(subparsers: Any) -> None:
    """Register ``routes`` on the ``covet`` argument parser."""
    routes = subparsers.add_parser("routes", help="list the routes: method, path, name, handler")
    routes.set_defaults(handler=command)
    routes.add_argument("app", nargs="?")


def command(args: argparse.Namespace) -> int:
    """Print the table, columns aligned; exit status 0."""
    app = load_app(args.app)
    rows = [("METHODS", "PATH", "NAME", "HANDLER")]
    for r in app.routes:
        fn = r.endpoint
        handler = "%s.%s" % (getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", repr(fn)))
        # A WebSocket route's pseudo-method (covet.core.routing.WEBSOCKET) is shown as WS.
        methods = "WS" if r.methods == {"WEBSOCKET"} else ",".join(sorted(r.methods))
        rows.append((methods, r.path, r.name or "", handler))
    for m in app.router.mounts:
        rows.append(("*", m.prefix + "/...", m.name or "", "mount: %r" % (m.app,)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip())
    return 0
