"""covet's outgoing HTTP/1.1 client on asyncio streams, standard library only.

One concept per module, bottom up:

- ``errors``: ``HTTPClientError`` and its family (a leaf).
- ``parser``: the sans-IO response parser, ``ResponseParser`` (bytes in, events out, named limits).
- ``models``: URL parsing, ``RequestHeaders`` (the mutable outgoing headers) and ``ClientResponse``.
- ``decoding``: gzip/deflate ``Content-Encoding``, bounded while it decompresses.
- ``pool``: keep-alive connections per origin, TLS with SNI and host name checks.
- ``client``: ``HTTPClient`` (requests, redirects, timeouts, the retry of a dead pooled
  connection, the HTTP_CLIENT probe that tracing uses to add ``traceparent``), and the one-shot
  ``request``/``get``/``post``.

Example::

    from covet.httpclient import HTTPClient

    async with HTTPClient("http://inventory.internal:8000", timeout=5.0) as client:
        response = await client.post("/reserve", json={"sku": "pen", "count": 2})
        response.raise_for_status()
        reservation = response.json()
"""
from .client import DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, HTTPClient, get, post, request
from .errors import (
    ConnectError,
    ConnectTimeout,
    HTTPClientError,
    HTTPStatusError,
    InvalidRequest,
    ProtocolError,
    RequestTimeout,
    ResponseTooLarge,
    TooManyRedirects,
)
from .models import ClientResponse, RequestHeaders
from .parser import DEFAULT_MAX_RESPONSE_SIZE, ResponseParser
from .pool import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS

__all__ = [
    "HTTPClient",
    "ClientResponse",
    "RequestHeaders",
    "ResponseParser",
    "request",
    "get",
    "post",
    "HTTPClientError",
    "InvalidRequest",
    "ConnectError",
    "ConnectTimeout",
    "RequestTimeout",
    "ProtocolError",
    "ResponseTooLarge",
    "TooManyRedirects",
    "HTTPStatusError",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_USER_AGENT",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_IDLE_TIMEOUT",
]
