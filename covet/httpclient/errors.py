"""The exceptions of covet's HTTP client, and nothing else (a leaf: it imports no covet module).

::

    HTTPClientError
    ├── InvalidRequest      (also ValueError) a URL, header or body the client refuses to send
    ├── ConnectError        the connection (TCP or TLS) could not be made
    │   └── ConnectTimeout  (also RequestTimeout) ... in time
    ├── RequestTimeout      (also TimeoutError) the request did not complete in time
    ├── ProtocolError       the server's response breaks HTTP/1.1, or the connection was lost
    │   └── ResponseTooLarge  a response over ``max_response_size`` (before or after decoding)
    ├── TooManyRedirects
    └── HTTPStatusError     raised by ``ClientResponse.raise_for_status()`` for 4xx and 5xx

Example::

    try:
        response = await client.get("https://api.example.com/users/1")
        response.raise_for_status()
    except HTTPStatusError as exc:
        log.warning("api answered %d", exc.response.status_code)
    except HTTPClientError as exc:
        log.warning("api unreachable: %s", exc)
"""
from typing import Any

__all__ = ["HTTPClientError", "InvalidRequest", "ConnectError", "ConnectTimeout", "RequestTimeout",
           "ProtocolError", "ResponseTooLarge", "TooManyRedirects", "HTTPStatusError"]


class HTTPClientError(Exception):
    """The base of every error the HTTP client raises."""


class InvalidRequest(HTTPClientError, ValueError):
    """The request cannot be sent as given: a bad URL, a header with CR/LF, two bodies."""


class ConnectError(HTTPClientError):
    """No connection to the server: refused, unreachable, DNS failure, TLS handshake failure."""


class RequestTimeout(HTTPClientError, TimeoutError):
    """The request (connect, send, and read the whole response) took longer than its timeout."""


class ConnectTimeout(ConnectError, RequestTimeout):
    """The TCP connection or the TLS handshake took longer than ``connect_timeout``."""


class ProtocolError(HTTPClientError):
    """The response violates HTTP/1.1 framing rules, or the connection ended mid-response.

    The connection it came on is closed, never reused: after a framing error no one knows
    where the next response would start (response smuggling/desync).
    """


class ResponseTooLarge(ProtocolError):
    """The response body (or its decompressed form) is larger than ``max_response_size``."""


class TooManyRedirects(HTTPClientError):
    """More than ``max_redirects`` redirects were followed, or a redirect loop."""


class HTTPStatusError(HTTPClientError):
    """The response has a 4xx or 5xx status; ``response`` holds it (raised by raise_for_status)."""

    def __init__(self, message: str, response: Any) -> None:
        super().__init__(message)
        self.response = response
