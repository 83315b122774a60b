"""The kernel's plug-in points: services the kernel uses but does not own.

The kernel (``covet/core``) imports nothing from the rest of covet, so that it stays small, loads
fast and can never be part of an import cycle. A few kernel methods still need a feature:
``Covet.run`` serves with covet's HTTP/1.1 server, ``Covet.__call__`` speaks ASGI, typed
parameters and Model bodies are checked by the validation package, and ``/docs`` is drawn by the
OpenAPI module. The kernel asks for them by role (``service("server")``); the package façade,
``covet/__init__.py``, is the one place that says which module plays each role. An embedder or a
test may point a role elsewhere with :func:`provide`.

Example::

    from covet.core import services

    services.provide("validation", "my_project.types")   # before the first route is added
"""
import importlib
import threading
from types import ModuleType
from typing import Dict

__all__ = ["provide", "service", "roles"]

_targets: Dict[str, str] = {}
_loaded: Dict[str, ModuleType] = {}
_lock = threading.Lock()


def provide(role: str, module: str) -> None:
    """Say that ``module`` (a dotted module name) plays ``role``; it is imported on first use."""
    with _lock:
        _targets[role] = module
        _loaded.pop(role, None)


def service(role: str) -> ModuleType:
    """The module that plays ``role``, imported the first time it is asked for."""
    found = _loaded.get(role)
    if found is not None:
        return found
    try:
        target = _targets[role]
    except KeyError:
        raise LookupError("no module provides the kernel service %r; covet/__init__.py names them" % role) from None
    module = importlib.import_module(target)
    _loaded[role] = module
    return module


def roles() -> Dict[str, str]:
    """``{role: module}`` as configured (for ``python -m covet check`` and the tests)."""
    return dict(_targets)
