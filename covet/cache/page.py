"""The page cache: whole responses of GET/HEAD route handlers, with ETag and 304.

``page_decorator`` builds the decorator behind ``Cache.cache_page`` and
``covet.cache.decorators.cache_page``; ``PagePolicy`` decides, once per route, what a
request's key is and which responses may be shared.

A key holds only what can change the answer, so that a client cannot fill the cache with
copies of one page by varying what the handler never reads (junk query parameters, made-up
``Accept`` values): the query parameters the route's handler and dependencies declare (or
``vary_query`` names), and the ``Accept`` header reduced to what covet's negotiation tells
apart (whether HTML is preferred), unless the handler reads that header itself.
"""
import re
from operator import itemgetter
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple, Union

from ..core._plan import walk_plans
from ..core._wrap import REQUEST_PARAM, route_response, wrap_handler
from ..core.conditional import (
    content_etag, evaluate_preconditions, not_modified_headers, parse_http_date, read_conditions,
)
from ..core.problems import prefers_html, problem_response
from ..core.responses import Response
from .backend import MISSING, Backend
from .keys import bounded_key
from .results import F, response_from_record, response_record

__all__ = ["PagePolicy", "page_decorator", "normal_path", "DEFAULT_VARY", "DEFAULT_PAGE_PREFIX", "ALL_QUERY",
           "MAX_ROUTES_PER_POLICY"]

# Request headers that select a cached variant unless told otherwise.
DEFAULT_VARY = ("Accept", "Accept-Encoding")
DEFAULT_PAGE_PREFIX = "page:"
#: ``vary_query=ALL_QUERY``: the whole query string, as sent, is part of the key.
ALL_QUERY = "*"
#: Routes whose key rules one policy remembers (routes are made by code, never by clients; the
#: bound only keeps a decorated handler registered on app after app, as in a test suite, from
#: holding every old route).
MAX_ROUTES_PER_POLICY = 64

# RFC 3986 §2.3 and §6.2.2.2: a percent-encoded unreserved character is that character, and
# hex digits are case-insensitive; "/%70a" and "/pa" reach the same route with the same value.
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _pct_normal(match: "re.Match[str]") -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def normal_path(raw_path: str) -> str:
    """``raw_path`` with percent-encoding normalised (RFC 3986 §6.2.2.2), so that a client cannot
    make one page many keys by encoding its path differently.

    Example::

        normal_path("/%70a/%2f")   # "/pa/%2F"
    """
    return _PCT.sub(_pct_normal, raw_path) if "%" in raw_path else raw_path


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Entries that fail to rebuild (a foreign or damaged entry in a shared store) are rebuilt, never served.
_DAMAGED = (TypeError, ValueError, AttributeError)


def _header_list(value: str) -> List[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def _conditional(request: Any, response: Response) -> Response:
    # RFC 9110 §13.2.2, by the kernel's one copy of the rules (covet.core.conditional).
    conditions = read_conditions(request.raw_headers)
    if conditions is None:
        return response
    headers = response.headers
    modified = headers.get("last-modified")
    status = evaluate_preconditions(request.method, conditions, headers.get("etag"),
                                    parse_http_date(modified) if modified is not None else None)
    if status is None:
        return response
    if status == 304:
        return Response(b"", 304, not_modified_headers(response.raw_headers))
    return problem_response(request, 412, "the page does not match the request's If-Match or "
                            "If-Unmodified-Since")


def _check_vary_query(vary_query: Any) -> Optional[Union[str, FrozenSet[str]]]:
    if vary_query is None or vary_query == ALL_QUERY:
        return vary_query  # type: ignore[no-any-return]
    names = (vary_query,) if isinstance(vary_query, str) else vary_query
    try:
        names = tuple(names)
    except TypeError:
        names = (vary_query,)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError("vary_query must be None, %r or query parameter names, got %r" % (ALL_QUERY, name))
    return frozenset(names)


class _RouteKey:
    """What of a request can change one route's page: ``query`` names (sorted; None: the whole
    query string), whether the raw ``Accept`` value matters, the request headers and cookies the
    handler and its dependencies declare, and whether the whole Cookie header counts (a handler
    taking the Request may read the session or any cookie)."""

    __slots__ = ("query", "raw_accept", "headers", "cookies", "all_cookies")

    def __init__(self, query: Optional[FrozenSet[str]], raw_accept: bool, headers: Tuple[str, ...] = (),
                 cookies: Tuple[str, ...] = (), all_cookies: bool = False) -> None:
        self.query = query
        self.raw_accept = raw_accept
        self.headers = headers
        self.cookies = cookies
        self.all_cookies = all_cookies


def _route_key(route: Any, vary_query: Optional[Union[str, FrozenSet[str]]]) -> _RouteKey:
    plan = getattr(route, "plan", None)
    if plan is None:  # not served through a route: nothing is known, so everything counts
        return _RouteKey(None, True, all_cookies=True)
    plans = list(walk_plans(plan))
    # A handler or dependency taking the Request may read any parameter, header or cookie.
    takes_request = any(kind == "request" and name != REQUEST_PARAM for p in plans for name, kind in p.specials)
    declared = frozenset(src.key for p in plans for src in p.sources if src.kind == "query")
    reads_accept = takes_request or any(
        src.kind == "header" and src.key == "accept" for p in plans for src in p.sources)
    # Declared headers and cookies change the page as surely as query parameters do: a page built
    # from one client's cookie must never be served to another.
    headers = tuple(sorted({src.key for p in plans for src in p.sources if src.kind == "header"}))
    cookies = tuple(sorted({src.key for p in plans for src in p.sources if src.kind == "cookie"}))
    if vary_query == ALL_QUERY or (vary_query is None and takes_request):
        return _RouteKey(None, reads_accept, headers, cookies, takes_request)
    extra = vary_query if isinstance(vary_query, frozenset) else frozenset()
    return _RouteKey(declared | extra, reads_accept, headers, cookies, takes_request)


class PagePolicy:
    """What the page cache decides for one route, precomputed at decoration (and, for what the
    route's handler reads, at its first request).

    :param vary: request headers whose values are part of the key (and of the ``Vary`` header).
    :param prefix: prepended to every key.
    :param vary_query: None: the query parameters the route's handler and its dependencies
        declare, or the whole query string when one of them takes the ``Request``; ``"*"``:
        the whole query string; names: those parameters and the declared ones.
    """

    __slots__ = ("vary", "vary_set", "vary_header", "prefix", "vary_query", "_routes")

    def __init__(self, vary: Iterable[str], prefix: str, vary_query: Any = None) -> None:
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
        self.vary_query = _check_vary_query(vary_query)
        self._routes: Dict[Any, _RouteKey] = {}

    def _for_route(self, route: Any) -> _RouteKey:
        found = self._routes.get(route)
        if found is None:
            found = _route_key(route, self.vary_query)
            if len(self._routes) >= MAX_ROUTES_PER_POLICY:
                self._routes.clear()
            self._routes[route] = found
        return found

    def key(self, request: Any) -> Optional[str]:
        """The cache key of this request, or None when it must bypass the page cache."""
        if request.method not in ("GET", "HEAD"):
            return None
        headers = request.headers
        # A request with credentials gets a page built for them: never serve or store it
        # under a shared key, unless the route says pages vary by Authorization.
        if "authorization" not in self.vary_set and headers.get("authorization") is not None:
            return None
        rk = self._for_route(request.route)
        wanted = rk.query
        if wanted is None:
            query = request.query_string
        elif wanted and request.query_string:
            # The parameters read, sorted by name (a stable sort keeps a repeated one's order).
            picked = [kv for kv in request.query_params.multi_items() if kv[0] in wanted]
            picked.sort(key=itemgetter(0))
            query = repr(picked)
        else:
            query = ""
        parts = [request.root_path + normal_path(request.raw_path), query]
        for name in self.vary:
            value = headers.get(name) or ""
            if name == "accept" and not rk.raw_accept:
                # What covet's own negotiation can tell apart (problem pages: HTML or JSON).
                value = "html" if prefers_html(value) else ""
            parts.append(value)
        if rk.headers:
            parts.append(repr([headers.getlist(name) for name in rk.headers]))
        if rk.all_cookies:
            parts.append(headers.get("cookie") or "")
        elif rk.cookies:
            cookies = request.cookies
            parts.append(repr([cookies.get(name) for name in rk.cookies]))
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
            headers["etag"] = content_etag(response.body)
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
                   key_prefix: str, vary_query: Any = None) -> Callable[[F], F]:
    """The page-cache decorator: ``backend_for(request)`` is where pages live, ``ttl`` their
    lifetime (None: that backend's default), ``vary_query`` as in ``PagePolicy``.

    Example::

        decorate = page_decorator(lambda request: cache.backend, 60.0, DEFAULT_VARY, "page:")
    """
    policy = PagePolicy(vary, key_prefix, vary_query)

    async def async_body(request: Any, call: Callable[[], Any]) -> Any:
        key = policy.key(request)
        if key is None:
            return await call()
        backend = backend_for(request)
        page = policy.serve(request, await backend.aget(key, MISSING))
        if page is not None:
            return page
        response = route_response(request, await call())
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
        response = route_response(request, call())
        entry = policy.entry(response)
        if entry is not None:
            backend.set(key, entry, ttl)
        return _conditional(request, response)

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise TypeError("cache_page() decorates route handlers, got %r" % (fn,))
        return wrap_handler(fn, async_body, sync_body)  # type: ignore[no-any-return]

    return decorate
