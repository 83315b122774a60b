"""The page cache: whole responses of GET/HEAD route handlers, with ETag and 304.

``page_decorator`` builds the decorator behind ``Cache.cache_page`` and
``covet.cache.decorators.cache_page``; ``PagePolicy`` decides, once per route, what a
request's key is and which responses may be shared.
"""
import hashlib
from typing import Any, Callable, Iterable, List, Optional

from ..core._wrap import route_status, wrap_handler
from ..core.responses import Response, to_response
from .backend import MISSING, Backend
from .keys import bounded_key
from .results import F, response_from_record, response_record

__all__ = ["PagePolicy", "page_decorator", "DEFAULT_VARY", "DEFAULT_PAGE_PREFIX"]

# Request headers that select a cached variant unless told otherwise.
DEFAULT_VARY = ("Accept", "Accept-Encoding")
DEFAULT_PAGE_PREFIX = "page:"

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# RFC 9110 §15.4.5: a 304 carries the headers a 200 would have among these.
_NOT_MODIFIED_HEADERS = frozenset((b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"))
# Entries that fail to rebuild (a foreign or damaged entry in a shared store) are rebuilt, never served.
_DAMAGED = (TypeError, ValueError, AttributeError)


def _header_list(value: str) -> List[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
    mine = etag[2:] if etag.startswith("W/") else etag
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == mine:
            return True
    return False


def _conditional(request: Any, response: Response) -> Response:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is None:
        return response
    etag = response.headers.get("etag")
    if etag is None or not _etag_matches(if_none_match, etag):
        return response
    keep = [(k, v) for k, v in response.raw_headers if k in _NOT_MODIFIED_HEADERS]
    return Response(b"", 304, keep)


class PagePolicy:
    """What the page cache decides for one route, precomputed at decoration.

    :param vary: request headers whose values are part of the key (and of the ``Vary`` header).
    :param prefix: prepended to every key.
    """

    __slots__ = ("vary", "vary_set", "vary_header", "prefix")

    def __init__(self, vary: Iterable[str], prefix: str) -> None:
        if isinstance(vary, str):
            vary = (vary,)
        names = []
        for name in vary:
            if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
                raise ValueError("vary must list header names, got %r" % (name,))
            names.append(name.lower())
        self.vary = tuple(names)
        self.vary_set = frozenset(names)
        self.vary_header = ", ".join(vary)
        self.prefix = prefix

    def key(self, request: Any) -> Optional[str]:
        """The cache key of this request, or None when it must bypass the page cache."""
        if request.method not in ("GET", "HEAD"):
            return None
        headers = request.headers
        # A request with credentials gets a page built for them: never serve or store it
        # under a shared key, unless the route says pages vary by Authorization.
        if "authorization" not in self.vary_set and headers.get("authorization") is not None:
            return None
        parts = [request.root_path + request.raw_path, request.query_string]
        for name in self.vary:
            parts.append(headers.get(name) or "")
        return bounded_key(self.prefix, "\x00".join(parts))

    def entry(self, response: Response) -> Optional[List[Any]]:
        """``[status, headers, body]`` to store, adding ETag and Vary to ``response``; None if not cacheable."""
        if response.status_code != 200 or response.streaming:
            return None
        headers = response.headers
        if headers.get("set-cookie") is not None:
            return None
        directives = [d.split("=", 1)[0] for d in _header_list(",".join(headers.getlist("cache-control")))]
        if "private" in directives or "no-store" in directives:
            return None
        varies = _header_list(",".join(headers.getlist("vary")))
        if "*" in varies or not set(varies) <= self.vary_set:
            return None  # the page depends on headers our key does not include
        if headers.get("etag") is None:
            headers["etag"] = '"%s"' % hashlib.blake2b(response.body, digest_size=16).hexdigest()
        if self.vary and not varies:
            headers["vary"] = self.vary_header
        # Plain JSON-able lists, so a Redis backend can share pages between workers.
        return response_record(response)

    def serve(self, request: Any, entry: Any) -> Optional[Response]:
        """The stored page (or its 304) for ``entry``; None when there is none or it is damaged."""
        if entry is MISSING:
            return None
        try:
            page = response_from_record(entry)
        except _DAMAGED:
            return None
        return _conditional(request, page)


def page_decorator(backend_for: Callable[[Any], Backend], ttl: Optional[float], vary: Iterable[str],
                   key_prefix: str) -> Callable[[F], F]:
    """The page-cache decorator: ``backend_for(request)`` is where pages live, ``ttl`` their
    lifetime (None: that backend's default).

    Example::

        decorate = page_decorator(lambda request: cache.backend, 60.0, DEFAULT_VARY, "page:")
    """
    policy = PagePolicy(vary, key_prefix)

    async def async_body(request: Any, call: Callable[[], Any]) -> Any:
        key = policy.key(request)
        if key is None:
            return await call()
        backend = backend_for(request)
        page = policy.serve(request, await backend.aget(key, MISSING))
        if page is not None:
            return page
        response = to_response(await call(), route_status(request))
        entry = policy.entry(response)
        if entry is not None:
            await backend.aset(key, entry, ttl)
        return _conditional(request, response)

    def sync_body(request: Any, call: Callable[[], Any]) -> Any:
        key = policy.key(request)
        if key is None:
            return call()
        backend = backend_for(request)
        page = policy.serve(request, backend.get(key, MISSING))
        if page is not None:
            return page
        response = to_response(call(), route_status(request))
        entry = policy.entry(response)
        if entry is not None:
            backend.set(key, entry, ttl)
        return _conditional(request, response)

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise TypeError("cache_page() decorates route handlers, got %r" % (fn,))
        return wrap_handler(fn, async_body, sync_body)  # type: ignore[no-any-return]

    return decorate
