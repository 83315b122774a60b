"""The exceptions that become HTTP answers: ``HTTPException`` and ``RequestValidationError``.

A leaf: it imports only the status table. How an error is drawn (RFC 9457 problem+json, or HTML
for a browser) lives in ``covet.core.problems``, above the responses.
"""
from .status import PHRASES

__all__ = ["HTTPException", "RequestValidationError", "WebSocketDisconnect", "status_phrase"]

_PHRASES = PHRASES


def status_phrase(status_code):
    """The reason phrase for a status code ('' for unknown codes).

    Example::

        status_phrase(404)  # 'Not Found'
    """
    return _PHRASES.get(status_code, "")


class HTTPException(Exception):
    """An error that becomes an HTTP response: ``raise HTTPException(404, "User not found")``.

    ``detail`` is a string or any JSON value; ``headers`` are added to the
    error response (``{"WWW-Authenticate": "Bearer"}``).
    """

    def __init__(self, status_code, detail=None, headers=None, type=None, title=None):
        self.status_code = int(status_code)
        self.detail = detail
        self.headers = dict(headers) if headers else None
        self.type = type
        self.title = title
        super().__init__(status_code, detail)

    def __repr__(self):
        return "%s(status_code=%d, detail=%r)" % (type(self).__name__, self.status_code, self.detail)

    def __str__(self):
        return "%d %s" % (self.status_code, self.detail if self.detail is not None else status_phrase(self.status_code))


class RequestValidationError(HTTPException):
    """422: what was wrong with the request, every problem at once.

    ``errors`` is a list of ``{"loc": [...], "msg": str, "type": str}``.
    """

    def __init__(self, errors, status_code=422, detail="Request validation failed"):
        super().__init__(status_code, detail)
        self.errors = list(errors)


class WebSocketDisconnect(Exception):
    """The WebSocket is closed: raised by ``receive*()`` once the client (or the server) closed it.

    ``code`` is the close code (RFC 6455 §7.4: 1000 normal, 1001 going away, 1005 when the
    close frame carried none, 1006 when the connection dropped without one); ``reason`` its text.
    A handler that lets it propagate ends normally: nothing is logged. Importable as
    ``covet.websocket.WebSocketDisconnect``.

    Example::

        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect as exc:
            print("gone with", exc.code)
    """

    def __init__(self, code=1000, reason=""):
        self.code = int(code)
        self.reason = reason or ""
        super().__init__(self.code, self.reason)

    def __repr__(self):
        return "WebSocketDisconnect(code=%d, reason=%r)" % (self.code, self.reason)
