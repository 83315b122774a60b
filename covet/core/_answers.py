"""How a Covet app answers an exception: a handler registered for it (its status code first,
then its classes), the problem document of an ``HTTPException``, a 400 for a response header
that cannot be sent, and a logged 500 for anything else.

``ErrorAnswers`` is a base of ``Covet`` (as ``RouteDecorators`` is), kept apart from the app's
wiring in app.py; it reads the app's ``_handlers``, ``_integrations`` and ``debug``.
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

import inspect
import logging
import traceback
from typing import Any, Callable, Dict, Optional, Type, Union

from ._chain import is_async_callable, run_sync
from .datastructures import HeaderValueError
from .errors import HTTPException, RequestValidationError
from .problems import problem_response
from .requests import Request
from .responses import Response, to_response
from .routing import CallableT

__all__ = ["ErrorAnswers", "ExceptionKey", "http_error_response", "log_safe", "LOG_CTRL"]

logger = logging.getLogger("covet.error")

#: An exception handler's key: an exception class, or a status code.
ExceptionKey = Union[int, Type[BaseException]]

#: C0, DEL and C1 escaped: a decoded path (%0d%0a) or a proxy header read as Latin-1 (\x9b, the
#: 8-bit CSI) in a log line would let a client forge log lines or terminal escapes (uvicorn
#: CVE-2020-7694). The one table for every log line that carries what a client sent.
LOG_CTRL = {i: "\\x%02x" % i for i in list(range(32)) + list(range(127, 160))}


def log_safe(text: str) -> str:
    """``text`` with its control characters escaped, for a log line."""
    return text.translate(LOG_CTRL)


def http_error_response(request: Request, exc: HTTPException) -> Response:
    """The default response for an HTTPException (problem+json or HTML)."""
    errors = exc.errors if isinstance(exc, RequestValidationError) else None
    return problem_response(request, exc.status_code, exc.detail, exc.headers, errors, exc.type, exc.title)


class ErrorAnswers:
    """Registering exception handlers, and the one rule that turns an exception into a response."""

    _handlers: Dict[ExceptionKey, Callable[..., Any]]
    _integrations: list
    debug: bool

    @property
    def exception_handlers(self) -> Dict[ExceptionKey, Callable[..., Any]]:
        """The handlers added so far, by exception class or status code (a copy: add with
        ``add_exception_handler``)."""
        return dict(self._handlers)

    def add_exception_handler(self, key: ExceptionKey, handler: Callable[..., Any]) -> None:
        """Answer an exception class (or an HTTP status code) with ``handler(request, exc)``."""
        if not (isinstance(key, int) or (inspect.isclass(key) and issubclass(key, BaseException))):
            raise TypeError("exception_handler key must be an exception class or a status code")
        self._handlers[key] = handler

    def exception_handler(self, key: ExceptionKey) -> Callable[[CallableT], CallableT]:
        """Decorator: ``@app.exception_handler(ValueError)`` or ``@app.exception_handler(404)``."""
        def decorator(fn: CallableT) -> CallableT:
            self.add_exception_handler(key, fn)
            return fn
        return decorator

    async def _answer_error(self, request: Request, exc: Exception) -> Optional[Response]:
        """The response the app gives for ``exc``, or None for an exception that becomes a 500.

        The one rule for every level: the router and handler (``_route``), and each app, group
        and route middleware's ``call_next``. So a middleware sees an error the app answers as
        the response it will be, whoever raised it. A registered handler (status code first,
        then the exception's classes), then the problem document of an HTTPException, then a
        400 for a header value that cannot be sent.
        """
        request._error = exc
        handler = self._lookup_handler(exc)
        if handler is not None:
            return await self._call_handler(handler, request, exc)
        if isinstance(exc, HTTPException):
            return http_error_response(request, exc)
        if isinstance(exc, HeaderValueError):
            return self._header_refused(request, exc)
        return None

    def _header_refused(self, request: Request, exc: Exception) -> Response:
        # CR or LF in a header value nearly always comes from the request (an
        # echoed parameter, a redirect target): the client's error, so a 400,
        # with nothing of the bad header sent. Logged, since it may be a bug.
        logger.warning("refused a response header in %s %s: %s", request.method,
                       request.path.translate(LOG_CTRL), str(exc).translate(LOG_CTRL))
        return problem_response(request, 400, "the response would have carried a header value with CR, LF or "
                                "NUL, or outside Latin-1; it was not sent")

    def _lookup_handler(self, exc: Exception) -> Optional[Callable[..., Any]]:
        handlers = self._handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPException):
            h = handlers.get(exc.status_code)
            if h is not None:
                return h
        for cls in type(exc).__mro__:
            if cls is Exception or cls is BaseException:
                break
            h = handlers.get(cls)
            if h is not None:
                return h
        return None

    async def _call_handler(self, handler: Callable[..., Any], request: Request, exc: Exception) -> Response:
        if is_async_callable(handler):
            result = await handler(request, exc)
        else:
            result = await run_sync(request, handler, request, exc)
        return to_response(result)

    async def _server_error(self, request: Request, exc: Exception) -> Response:
        # The id a request-id middleware settled on (it may have refused the client's) before the raw header.
        rid = getattr(request.state, "__dict__", {}).get("request_id") or request.headers.get("x-request-id")
        logger.error(
            "unhandled %s in %s %s%s", type(exc).__name__, request.method, request.path.translate(LOG_CTRL),
            " (request id %s)" % str(rid).translate(LOG_CTRL) if rid else "", exc_info=(type(exc), exc, exc.__traceback__),
        )
        for integration in self._integrations:
            capture = getattr(integration, "capture_request_error", None)
            if capture is not None:
                try:
                    capture(request, exc)
                except Exception:  # a reporter's own failure must not change the response
                    logger.exception("the integration %r failed to capture an error", integration)
        handler = self._handlers.get(500) or self._handlers.get(Exception)
        if handler is not None:
            try:
                return await self._call_handler(handler, request, exc)
            except Exception:
                logger.exception("the 500 handler itself failed")
        detail = None
        if self.debug:
            detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return problem_response(request, 500, detail)
