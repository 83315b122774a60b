"""Lazy package exports: a name's module is imported the first time the name is used.

PEP 562 lets a package define ``__getattr__`` and ``__dir__``; ``import covet``
then costs nothing for the parts an app does not touch.
"""
import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package, table, namespace):
    """``(__getattr__, __dir__)`` for ``package``, whose ``table`` maps public names to submodules.

    Example::

        __getattr__, __dir__ = lazy_exports("covet.security", {"JWT": "jwt"}, globals())
    """
    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError("module %r has no attribute %r" % (package, name))
        value = getattr(importlib.import_module(package + "." + module), name)
        namespace[name] = value  # found once; later lookups never reach __getattr__
        return value

    def __dir__():
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
