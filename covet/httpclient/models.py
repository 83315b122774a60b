"""What the client's requests and responses are made of: URLs, request headers, ClientResponse."""
import codecs
import datetime
import json as jsonlib
import re
from typing import Any, Dict, Iterator, List, MutableMapping, NamedTuple, Optional, Tuple
from urllib.parse import quote, urlsplit

from ..core.datastructures import Headers
from ..server.http11 import check_header_name, check_header_value
from .errors import HTTPStatusError, InvalidRequest

__all__ = ["Origin", "Target", "parse_url", "RequestHeaders", "ClientResponse"]

# RFC 3986 §3.3 / §3.4: characters that may stay as they are in a path or query. Anything else
# (space, CR, LF, non-ASCII...) is percent-encoded, so nothing in a URL can break the request line.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_has_control = re.compile("[\x00-\x1f\x7f]").search


class Origin(NamedTuple):
    """(scheme, host, port): what a pooled connection is keyed by (RFC 6454 origin)."""

    scheme: str
    host: str  # ASCII (IDNA-encoded), IPv6 without brackets
    port: int


class Target(NamedTuple):
    """A parsed request URL."""

    origin: Origin
    target: str     # origin-form: path and query, percent-encoded (RFC 9112 §3.2.1)
    host_header: str
    url: str        # the URL as it will be reported (no fragment)


def parse_url(url: str) -> Target:
    """Split ``url`` into what the request needs; only http and https, no credentials.

    Example::

        parse_url("https://bücher.example/a b?q=1").target   # '/a%20b?q=1'
    """
    if not isinstance(url, str):
        raise InvalidRequest("url must be a str, not %s" % type(url).__name__)
    if _has_control(url):
        # urlsplit silently deletes CR, LF and TAB (bpo-43882), so a URL built from user input
        # would be sent as something else than what was asked: refuse it, as header values.
        raise InvalidRequest("URL %r contains a control character" % url[:200])
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest("invalid URL %r: %s" % (url[:200], exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidRequest("unsupported URL scheme %r in %r: only http and https"
                             % (parts.scheme, url[:200]))
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and traces; ask for the header instead.
        raise InvalidRequest("credentials in the URL are not supported; send an Authorization header")
    host = parts.hostname
    if not host:
        raise InvalidRequest("URL %r has no host" % url[:200])
    ipv6 = ":" in host
    if not ipv6:
        try:
            host.encode("ascii")
        except UnicodeEncodeError:
            try:
                # RFC 5891 via the stdlib's IDNA 2003 codec: the A-label is what DNS and TLS see.
                host = host.encode("idna").decode("ascii")
            except UnicodeError as exc:
                raise InvalidRequest("invalid international host name %r: %s" % (host, exc)) from None
        if any(c in host for c in "\x00\r\n\t /\\@%") or not host.strip("."):
            raise InvalidRequest("invalid host %r" % host)
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    target = path + ("?" + quote(parts.query, safe=_QUERY_SAFE) if parts.query else "")
    bracketed = "[%s]" % host if ipv6 else host
    # RFC 9110 §7.2: Host is uri-host [":" port], the port omitted when it is the default.
    host_header = bracketed if port == _DEFAULT_PORTS[scheme] else "%s:%d" % (bracketed, port)
    return Target(Origin(scheme, host, port), target, host_header,
                  "%s://%s%s" % (scheme, host_header, target))


class RequestHeaders(MutableMapping[str, str]):
    """The headers of an outgoing request: a case-insensitive ``str`` mapping that keeps the
    first spelling of each name. Values are checked when the request is written, so a value
    with CR or LF is refused (``InvalidRequest``), never stripped or sent.

    Example::

        headers = RequestHeaders({"Accept": "application/json"})
        headers["traceparent"] = "00-...-01"
    """

    __slots__ = ("_items",)

    def __init__(self, initial: Any = None) -> None:
        self._items = {}  # type: Dict[str, Tuple[str, str]]
        if initial:
            self.update(initial)

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidRequest("header names and values must be str, got %r: %r" % (key, value))
        lower = key.lower()
        old = self._items.get(lower)
        self._items[lower] = (old[0] if old else key, value)

    def __delitem__(self, key: str) -> None:
        del self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return "RequestHeaders(%r)" % dict(self.items())

    def copy(self) -> "RequestHeaders":
        return RequestHeaders(self)

    def encode(self) -> bytes:
        """The header lines, each ending with CRLF; raises InvalidRequest on a bad name or value."""
        lines = []
        for name, value in self._items.values():
            try:
                raw_name, raw_value = name.encode("latin-1"), value.encode("latin-1")
            except UnicodeEncodeError:
                raise InvalidRequest("header %r is not latin-1; percent-encode it" % name) from None
            if not check_header_name(raw_name):
                raise InvalidRequest("invalid header name %r (RFC 9110 §5.1: a token)" % name)
            if not check_header_value(raw_value):
                # A CR or LF would end the header early and let the rest be read as another
                # header or request (response splitting: uvicorn CVE-2020-7695; aiohttp
                # CVE-2023-49081 for a client). Refused, never stripped.
                raise InvalidRequest("header %r: the value contains CR, LF, NUL or another control "
                                     "character (RFC 9110 §5.5)" % name)
            lines.append(b"%s: %s\r\n" % (raw_name, raw_value))
        return b"".join(lines)


def _charset(content_type: Optional[str]) -> Optional[str]:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').strip("'") or None
    return None


class ClientResponse:
    """A complete response: status, headers and the (decoded) body, read into memory.

    Example::

        response = await client.get("/users/1")
        response.status_code            # 200
        response.headers["content-type"]
        user = response.json()
    """

    __slots__ = ("status_code", "reason", "http_version", "headers", "content", "url", "method",
                 "elapsed", "history", "trailers")

    def __init__(self, status_code: int, reason: str, http_version: str, headers: Headers,
                 content: bytes, url: str, method: str, elapsed: datetime.timedelta,
                 history: Optional[List["ClientResponse"]] = None,
                 trailers: Optional[Headers] = None) -> None:
        self.status_code = status_code
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.content = content
        self.url = url
        self.method = method
        self.elapsed = elapsed
        # The redirect responses that led here, oldest first.
        self.history = [] if history is None else history
        self.trailers = Headers() if trailers is None else trailers

    @property
    def encoding(self) -> str:
        """The charset of Content-Type if Python knows it, else utf-8."""
        charset = _charset(self.headers.get("content-type"))
        if charset:
            try:
                return codecs.lookup(charset).name
            except LookupError:
                pass
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with ``encoding``; undecodable bytes become U+FFFD."""
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not JSON)."""
        return jsonlib.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    def raise_for_status(self) -> "ClientResponse":
        """Raise ``HTTPStatusError`` for a 4xx or 5xx status; return the response otherwise."""
        if 400 <= self.status_code < 600:
            kind = "client error" if self.status_code < 500 else "server error"
            raise HTTPStatusError("%d %s (%s) for %s %s" % (self.status_code, self.reason, kind,
                                                            self.method, self.url), self)
        return self

    def __repr__(self) -> str:
        return "<ClientResponse [%d %s]>" % (self.status_code, self.reason)

