"""Statements reported to the database probe (``covet._probes.DATABASE``), for tracing and metrics.

Each statement is reported once, where it runs: the ``DatabaseManager`` methods for a statement
outside a transaction, the ``Connection`` methods inside one. Callers test
``DATABASE.observers`` first, so an app that observes nothing pays one attribute test.
"""
from typing import Any, Awaitable, Callable, Dict

from .._probes import DATABASE, finish
from .config import DatabaseConfig

__all__ = ["DATABASE", "probe_attributes", "observed", "observed_call"]


def probe_attributes(config: DatabaseConfig, system: str) -> Dict[str, Any]:
    """The attributes every statement of this database carries (OpenTelemetry database semantic
    conventions: ``db.system.name``, ``db.namespace``, ``server.address``, ``server.port``)."""
    attributes: Dict[str, Any] = {"db.system.name": system, "db.namespace": config.database}
    if config.host:
        attributes["server.address"] = config.host
        if config.port:
            attributes["server.port"] = config.port
    return attributes


async def observed(attributes: Dict[str, Any], sql: str, awaitable: Awaitable[Any]) -> Any:
    """Await ``awaitable`` (one statement) with the probe's observers told of its start and end."""
    finishers = DATABASE.start(attributes, sql)
    try:
        result = await awaitable
    except BaseException as exc:
        finish(finishers, exc)
        raise
    finish(finishers, None, result)
    return result


def observed_call(attributes: Dict[str, Any], sql: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` (one statement, on this thread) with the probe's observers told of it."""
    finishers = DATABASE.start(attributes, sql)
    try:
        result = fn(*args)
    except BaseException as exc:
        finish(finishers, exc)
        raise
    finish(finishers, None, result)
    return result
