"""``app.run(...)`` and ``python -m covet run``: one process, pre-forked workers, or the reloader.

This module sits above the server and the worker manager and imports both; neither imports it.
"""
import logging
import os
import sys

from .config import ServerConfig
from .server import LOOPS, loop_problem, serve
from .workers import RELOADER_CHILD_ENV, run_with_reload, run_workers

__all__ = ["run"]


def run(app, host="127.0.0.1", port=8000, workers=1, reload=False, loop=None, log_level=None, **options):
    """``app.run(...)`` and ``python -m covet run``: one process, or ``workers`` pre-forked ones."""
    if log_level:
        logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    elif not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = ServerConfig(host=host, port=port, **options)
    problem = loop_problem(loop)
    if problem:  # before any worker is forked: each would fail alone
        raise (ValueError if loop not in LOOPS else RuntimeError)(problem)
    if reload:
        if not os.environ.get(RELOADER_CHILD_ENV):
            # app.run(reload=True) in a script: the reloader re-runs that script.
            if not sys.argv or sys.argv[0] in ("", "-c"):
                raise RuntimeError("reload=True needs a script to re-run: use `python app.py` "
                                   "or `python -m covet run app.py --reload`")
            return run_with_reload(sys.argv, command=[sys.executable] + sys.argv)
    if workers and workers > 1:
        return run_workers(app, config, workers, loop_name=loop)
    serve(app, config, loop_name=loop)
