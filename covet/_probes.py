"""Probes: where covet's clients report their outgoing calls to whoever observes them.

The database layer reports each statement, the Redis client each command, and the HTTP client
each request. Tracing turns those reports into CLIENT spans and metrics counts and times them.
Neither side imports the other: both import this leaf module.

A client tests ``probe.observers`` before it does anything else. An app that observes nothing
therefore pays one attribute test per call, and no object is made.

An observer is called when the call starts, with the probe's arguments (below). It returns a
*finish* callable, or None when it does not care about this call. ``finish(error, outcome)`` is
called exactly once when the call ends:

- ``error`` is the exception that ended it, or None;
- ``outcome`` is the probe's result detail (below), or None.

An observer that raises is logged and skipped: observing a call must never fail it.

The probes and their arguments:

- ``DATABASE(attributes, statement)``: ``attributes`` is the database's constant attributes
  (``db.system``, ``db.namespace``, ``server.address``, ``server.port``, as the OpenTelemetry
  semantic conventions name them); ``statement`` is the SQL as written.
- ``REDIS(attributes, command, size)``: ``command`` is the upper-cased command name, or
  ``"PIPELINE"`` for a pipeline of ``size`` commands. The arguments are never passed on: they
  are user data.
- ``HTTP_CLIENT(method, url, headers)``: ``headers`` is the outgoing request's mutable header
  mapping, so that tracing can add ``traceparent``. The outcome is the response's status code.

Signals are events without a duration, emitted by the security features for the business metrics:
``TOKEN_CHECK``, ``AUTH_ATTEMPT``, ``PERMISSION_CHECK``, ``RATE_LIMIT`` and ``HEALTH_CHECK`` (their arguments are
below, where they are defined).
"""
import logging
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["Probe", "Signal", "Finish", "Observer", "DATABASE", "REDIS", "HTTP_CLIENT", "finish", "TOKEN_CHECK",
           "AUTH_ATTEMPT", "PERMISSION_CHECK", "RATE_LIMIT", "HEALTH_CHECK"]

Finish = Callable[[Optional[BaseException], Any], None]
Observer = Callable[..., Optional[Finish]]

_log = logging.getLogger("covet.probes")


class _Observed:
    """A named point and its observers: a tuple that is replaced, never mutated, so that a call
    iterating it while another thread adds an observer sees the old tuple whole."""

    __slots__ = ("name", "observers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.observers: Tuple[Observer, ...] = ()

    def add(self, observer: Observer) -> Callable[[], None]:
        """Observe this point. Returns a function that stops observing."""
        if not callable(observer):
            raise TypeError("an observer must be callable, got %r" % (observer,))
        self.observers = self.observers + (observer,)

        def remove() -> None:
            self.observers = tuple(o for o in self.observers if o is not observer)
        return remove

    def __repr__(self) -> str:
        return "<%s %s, %d observers>" % (type(self).__name__, self.name, len(self.observers))


class Probe(_Observed):
    """One kind of outgoing call, and the observers of it."""

    __slots__ = ()

    def start(self, *args: Any) -> Optional[List[Finish]]:
        """Tell the observers that a call starts. Returns their finish callables, or None."""
        finishers: Optional[List[Finish]] = None
        for observer in self.observers:
            try:
                done = observer(*args)
            except Exception:
                _log.exception("observer %r of the %s probe failed; the call goes on", observer, self.name)
                continue
            if done is not None:
                if finishers is None:
                    finishers = [done]
                else:
                    finishers.append(done)
        return finishers


def finish(finishers: Optional[List[Finish]], error: Optional[BaseException] = None, outcome: Any = None) -> None:
    """Tell the observers that started with a call that it ended; never raises."""
    if not finishers:
        return
    for done in finishers:
        try:
            done(error, outcome)
        except Exception:
            _log.exception("a probe observer's finish %r failed; the call goes on", done)


class Signal(_Observed):
    """One kind of event that has no duration (a token checked, a permission refused), and its
    observers: ``signal.emit(*args)`` calls each, as a probe's start does, and never raises."""

    __slots__ = ()

    def emit(self, *args: Any) -> None:
        """Tell the observers (callers test ``signal.observers`` first, to skip building args)."""
        for observer in self.observers:
            try:
                observer(*args)
            except Exception:
                _log.exception("observer %r of the %s signal failed; the caller goes on", observer, self.name)


DATABASE = Probe("database")
REDIS = Probe("redis")
HTTP_CLIENT = Probe("http.client")
#: ``(result)``: a bearer token checked: "valid", "missing", "expired" or "invalid".
TOKEN_CHECK = Signal("token.check")
#: ``(success)``: a password checked against its hash (a login attempt).
AUTH_ATTEMPT = Signal("auth.attempt")
#: ``(allowed)``: a permission or role check of a request.
PERMISSION_CHECK = Signal("permission.check")
#: ``(allowed)``: a request counted against a rate limit.
RATE_LIMIT = Signal("rate.limit")
#: ``(name, healthy)``: a health check's outcome, each time a probe runs it.
HEALTH_CHECK = Signal("health.check")
