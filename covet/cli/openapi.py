"""``covet openapi [APP]``: the app's OpenAPI document as JSON on stdout.

Example::

    python -m covet openapi app.py > openapi.json
"""
import argparse
import json
import sys
from typing import Any

from .loader import load_app

__all__ = ["add_parser", "command"]


def add_parser(subparsers: Any) -> None:
    """Register ``openapi`` on the ``covet`` argument parser."""
    openapi = subparsers.add_parser("openapi", help="print the OpenAPI document as JSON")
    openapi.set_defaults(handler=command)
    openapi.add_argument("app", nargs="?")


def command(args: argparse.Namespace) -> int:
    """Print the document (indented, UTF-8 kept); 1 when the app has no ``openapi()``."""
    app = load_app(args.app)
    build = getattr(app, "openapi", None)
    if build is None:
        print("covet: this version of covet has no OpenAPI support", file=sys.stderr)
        return 1
    print(json.dumps(build(), indent=2, ensure_ascii=False, default=str))
    return 0
