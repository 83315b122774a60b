"""Turning the APP argument into an app: ``module:attribute``, a ``.py`` path, or ``app`` in app.py/main.py.

Every way it can fail is an ``AppLoadError`` whose message says why, with the traceback of the
user's own code when their module or factory raised (the frames of this loader and of importlib
are left out: they are noise to someone fixing their app).

Example::

    app = load_app("myproject.web:create_app")   # a factory is called once with no arguments
"""
import importlib
import importlib.util
import os
import sys
import traceback
from typing import Any, Optional

__all__ = ["AppLoadError", "load_app"]


class AppLoadError(Exception):
    """The APP argument could not be turned into an app (the message says why).

    Example::

        try:
            load_app("nope.py")
        except AppLoadError as exc:
            assert str(exc) == "no such file: nope.py"
    """


def _user_traceback() -> str:
    """The traceback being handled, without the leading frames of this loader and importlib."""
    etype, exc, tb = sys.exc_info()
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name != __file__ and "importlib" not in name:
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(etype, exc, tb)).rstrip("\n")


def load_app(spec: Optional[str] = None) -> Any:
    """Import ``module:attribute``, a path to a .py file (``file.py[:attr]``), or find ``app`` in app.py/main.py.

    The attribute may be an app or a factory that returns one. The current folder goes first on
    ``sys.path``, and a file's own folder too, so the app can import its neighbours.

    Example::

        app = load_app("app.py:api")
    """
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
