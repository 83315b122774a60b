"""Lazy package exports: a name's module is imported the first time the name is used.

PEP 562 lets a package define ``__getattr__`` and ``__dir__``; ``import covet``
then costs nothing for the parts an app does not touch.
"""
import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package, table, namespace, base=None):
    """``(__getattr__, __dir__)`` for ``package``, whose ``table`` maps public names to submodules.

    A name whose submodule ends with that same name is the submodule itself
    (``{"status": "core.status"}`` makes ``from covet import status`` the module).
    The submodules are relative to ``package``, or to ``base`` when given (a package that
    re-exports names of its siblings: ``covet.middleware`` re-exports ``covet.security``'s).

    Example::

        __getattr__, __dir__ = lazy_exports("covet.security", {"JWT": "jwt"}, globals())
    """
    root = base if base is not None else package

    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError("module %r has no attribute %r" % (package, name))
        loaded = importlib.import_module(root + "." + module)
        value = loaded if module.rpartition(".")[2] == name else getattr(loaded, name)
        namespace[name] = value  # found once; later lookups never reach __getattr__
        return value

    def __dir__():
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
