"""``covet check [APP]``: is the app ready for production? One line per check, exit 1 if any fails.

The checks are ``covet.deployment.ProductionValidator``'s; ``--security`` runs the security check
alone, as does ``covet security-scan`` (the API reference's CI step). Settings come from the app's config, else the
environment (``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``, ``BACKUP_DIR``, ``WEB_CONCURRENCY``).

Example::

    $ DATABASE_URL=sqlite:///app.db BACKUP_DIR=/var/backups/app python -m covet check app.py --workers 4
    pass  Database     sqlite:///app.db answers SELECT 1
    pass  Redis        no Redis configured (no redis= or REDIS_URL)
    fail  Security     SecurityHeadersMiddleware without HSTS: pass hsts=True (RFC 6797)
    ...
"""
import argparse
import asyncio
from typing import Any

from ..deployment import CHECKS, ProductionValidator
from .db import positive_int
from .loader import load_app

__all__ = ["add_parser", "command"]

_HELP = "check production readiness: database, Redis, security, performance, monitoring, backups"


def add_parser(subparsers: Any) -> None:
    """Register ``check`` on the ``covet`` argument parser."""
    check = subparsers.add_parser("check", help=_HELP, description=_HELP)
    check.set_defaults(handler=command)
    check.add_argument("app", nargs="?", help="module:attribute or file.py (default: app.py or main.py)")
    check.add_argument("--security", action="store_true", help="the security check only")
    check.add_argument("--workers", type=positive_int, metavar="N", help="worker processes to plan for "
                                                               "(default: $WEB_CONCURRENCY, else 1)")
    check.add_argument("--allow-docs", action="store_true", help="/docs and /openapi.json are meant to be public")
    check.add_argument("--require-database", action="store_true", help="fail when no database is configured")
    check.add_argument("--require-redis", action="store_true", help="fail when no Redis is configured")
    # The API reference's CI step runs `python -m covet security-scan`: the security check alone.
    scan = subparsers.add_parser("security-scan", help="the security part of check",
                                 description="the security part of `covet check`: debug, secret key, cookies, HSTS, "
                                             "CSRF, docs")
    scan.set_defaults(handler=command, security=True, workers=None, require_database=False, require_redis=False)
    scan.add_argument("app", nargs="?", help="module:attribute or file.py (default: app.py or main.py)")
    scan.add_argument("--allow-docs", action="store_true", help="/docs and /openapi.json are meant to be public")


def command(args: argparse.Namespace) -> int:
    """Run the checks, print ``pass|fail  LABEL  message`` for each; 0 when all pass, else 1."""
    app = load_app(args.app)
    validator = ProductionValidator(app, workers=args.workers, allow_docs=args.allow_docs,
                                    require_database=args.require_database, require_redis=args.require_redis)
    results = asyncio.run(validator.run_all(["Security"] if args.security else None))
    width = max(len(label) for label, _ in CHECKS)
    for label, result in results.items():
        print("%s  %s  %s" % (result["status"], label.ljust(width), result["message"]))
    return 0 if all(r["status"] == "pass" for r in results.values()) else 1
