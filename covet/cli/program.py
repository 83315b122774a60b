"""The ``covet`` program: its arguments, and which command module runs.

Each command is a module of this package with ``add_parser(subparsers)``, which registers its
arguments and sets ``handler``, and ``command(args)``, which returns the exit status.

(This module is not called ``main.py``: ``covet.cli.main`` is the entry-point function, and a
submodule of the same name would be hidden behind it.)

Example::

    import sys
    from covet.cli import main

    sys.exit(main(["routes", "app.py"]))
"""
import argparse
import sys
from typing import List, Optional

from .. import __version__
from . import check, db, generate, new, openapi, performance_test, routes, run
from .loader import AppLoadError

__all__ = ["main", "build_parser", "COMMANDS"]

#: The command modules, in the order ``covet --help`` lists them.
COMMANDS = (run, routes, openapi, db, check, new, generate, performance_test)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``covet`` with every command's sub-parser."""
    parser = argparse.ArgumentParser(prog="covet", description="covet: a web framework on the standard library alone")
    parser.add_argument("--version", action="version", version="covet %s" % __version__)
    subparsers = parser.add_subparsers(dest="command")
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m covet`` and the ``covet`` script; returns the exit status.

    Example::

        assert main(["routes", "app.py"]) == 0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except AppLoadError as exc:
        print("covet: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
