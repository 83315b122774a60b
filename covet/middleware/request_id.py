"""RequestIDMiddleware: one id per request, on ``request.state.request_id`` and in the response.

An id the client (or a proxy in front) sent in ``X-Request-ID`` is kept when it is short and
made of safe characters, so one id follows a request through every service that logs it;
anything else is replaced by a fresh random id. The id goes back in the same response header.

Example::

    from covet.middleware import RequestIDMiddleware

    app.add_middleware(RequestIDMiddleware)

    @app.get("/")
    async def index(request: Request):
        return {"request_id": request.state.request_id}
"""
import re
import secrets
from typing import Any, Callable, Optional

from ..core.datastructures import encode_header
from ..logging import log_context

__all__ = ["RequestIDMiddleware", "DEFAULT_HEADER", "MAX_REQUEST_ID_LENGTH", "new_request_id"]

DEFAULT_HEADER = "X-Request-ID"

# An incoming id lands in every log line of the request and goes back out in a header, so its size
# is bounded: 128 holds a UUID (36), a W3C traceparent (55) and the ids load balancers make
# (Heroku's router accepts 20 to 200 characters; AWS ALB's X-Amzn-Trace-Id is about 50).
MAX_REQUEST_ID_LENGTH = 128

# Letters, digits and "-._~:+/=@": what UUIDs, base64 and trace ids use. No space, quote, comma,
# semicolon, CR, LF or other control: such an id could forge log lines (uvicorn CVE-2020-7694
# escaped them for the same reason) or split the header it is echoed in (RFC 9110 §5.5).
_SAFE_CHARS = r"[A-Za-z0-9\-._~:+/=@]"


def new_request_id() -> str:
    """A fresh id: 128 random bits from ``secrets``, as 32 hex digits.

    Example::

        new_request_id()   # '3f2a9c...'
    """
    return secrets.token_hex(16)


class RequestIDMiddleware:
    """Keep a valid incoming request id or make one; put it on ``request.state`` and the response.

    :param header_name: the request and response header (``X-Request-ID``).
    :param trust_incoming: keep a valid id the client sent; False makes a new id for every
        request (when no trusted proxy sets one, a client could otherwise pick the id that
        ends up in your logs).
    :param max_length: the longest incoming id kept (``MAX_REQUEST_ID_LENGTH``).
    :param generator: makes new ids (``new_request_id``); its ids are not checked.

    Example::

        app.add_middleware(RequestIDMiddleware, header_name="X-Correlation-ID")
    """

    def __init__(self, header_name: str = DEFAULT_HEADER, trust_incoming: bool = True,
                 max_length: int = MAX_REQUEST_ID_LENGTH,
                 generator: Optional[Callable[[], str]] = None) -> None:
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError("max_length must be an int >= 1, got %r" % (max_length,))
        name, _ = encode_header(header_name, "")  # a bad header name fails here, not per request
        if any(c in header_name for c in "()<>@,;\\\"/[]?={}"):
            raise ValueError("header_name must be a token (RFC 9110 §5.1), got %r" % (header_name,))
        self.header_name = header_name
        self.trust_incoming = trust_incoming
        self.max_length = max_length
        self.generator = generator or new_request_id
        self._name = name
        self._valid = re.compile("%s{1,%d}" % (_SAFE_CHARS, max_length))

    def request_id_for(self, request: Any) -> str:
        """The id for ``request``: its valid incoming header value, or a new one."""
        if self.trust_incoming:
            name = self._name
            for k, v in request.raw_headers:
                if k == name:
                    if len(v) <= self.max_length:
                        value = v.decode("latin-1").strip()
                        if self._valid.fullmatch(value):
                            return value
                    break  # only the first: two ids for one request is no id
        return self.generator()

    async def __call__(self, request: Any, call_next: Any) -> Any:
        rid = self.request_id_for(request)
        request.state.request_id = rid
        with log_context(request_id=rid):  # every log line of the request carries it (covet.logging)
            response = await call_next(request)
        name = self._name
        raw = [h for h in response.raw_headers if h[0] != name]  # ours is the one in the logs
        raw.append(encode_header(name, rid))
        response.raw_headers = raw
        return response

    def __repr__(self) -> str:
        return "<RequestIDMiddleware %s>" % self.header_name
