"""``python -m covet`` and the ``covet`` script: run, routes, openapi, db, check, new.

One module per command (``run.py``, ``routes.py``, ``openapi.py``, ``db.py``, ``check.py``, ``new.py``), the argument parser and
dispatch in ``program.py``, and the APP argument's loader in ``loader.py``. ``covet.cli:main`` is
the console-script entry point.

Example::

    from covet.cli import load_app, main

    app = load_app("app.py")        # the object `covet run app.py` would serve
    main(["routes", "app.py"])      # prints the route table, returns 0
"""
from .loader import AppLoadError, load_app
from .program import main

__all__ = ["main", "load_app", "AppLoadError"]
