"""``HTTPClient``: covet's asynchronous HTTP/1.1 client on asyncio streams, standard library only.

Each request: parse the URL, build the headers, tell the HTTP_CLIENT probe's observers (tracing
adds ``traceparent`` there), write the head and body, read the response with the sans-IO
``ResponseParser``, decode gzip/deflate, follow redirects if asked. Connections are kept alive
and pooled per origin. docs/httpclient.md has the whole story.
"""
import asyncio
import datetime
import json as jsonlib
import ssl
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode, urljoin

from .._probes import HTTP_CLIENT, finish
from ..core.datastructures import Headers
from ..server.http11 import check_header_name
from .decoding import ACCEPT_ENCODING, decode_content
from .errors import HTTPClientError, InvalidRequest, ProtocolError, RequestTimeout, TooManyRedirects
from .models import ClientResponse, RequestHeaders, Target, parse_url
from .parser import DEFAULT_MAX_RESPONSE_SIZE, NEED_DATA, Data, EndOfMessage, ResponseHead, ResponseParser
from .pool import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Connection, Pool

__all__ = ["HTTPClient", "request", "get", "post", "DEFAULT_TIMEOUT", "DEFAULT_MAX_REDIRECTS",
           "DEFAULT_USER_AGENT"]

# Seconds for a whole request (connect, send, read the whole response, every redirect hop).
# Like httpx's 5 s and aiohttp's 300 s, a finite default: a call to a hung service must end.
DEFAULT_TIMEOUT = 10.0
# Browsers follow about 20; RFC 9110 §15.4 only asks clients to detect loops. Five is plenty for
# service-to-service calls and ends a loop quickly.
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_USER_AGENT = "covet-httpclient"

# RFC 9110 §9.2.2: methods whose repetition has the same effect as one call; only these are
# retried when a pooled connection dies before any byte of the response arrived.
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
# RFC 9110 §15.4: the redirects we follow. 301/302 are changed to GET by every browser (the RFC
# allows it, §15.4.2-3), 303 means "GET this instead"; 307/308 keep method and body.
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
# Credentials that must not follow a redirect to another origin (curl CVE-2018-1000007, requests
# CVE-2018-18074, httpx does the same).
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_READ_SIZE = 65536

Verify = Union[bool, str, ssl.SSLContext]


class _ClientTimeout:
    """The default of ``request(timeout=...)``: the client's own timeout (None means "no limit")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CLIENT_TIMEOUT"


CLIENT_TIMEOUT: Any = _ClientTimeout()


class _ConnectionLost(Exception):
    """The connection failed before the response was complete; says whether a retry is safe."""

    def __init__(self, on_write: bool, got_bytes: bool, detail: str) -> None:
        super().__init__(detail)
        self.on_write = on_write
        self.got_bytes = got_bytes


def _ssl_context(verify: Verify) -> Optional[ssl.SSLContext]:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        # Certificate and host name checks on, the platform's CA store, TLS 1.2+.
        return ssl.create_default_context()
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    raise TypeError("verify must be True, False, a CA file path or an ssl.SSLContext, got %r" % (verify,))


def _body(json: Any, data: Any, content: Any) -> Tuple[Optional[bytes], Optional[str]]:
    """(body bytes, Content-Type) from the one body argument given."""
    given = [name for name, value in (("json", json), ("data", data), ("content", content))
             if value is not None]
    if len(given) > 1:
        raise InvalidRequest("pass one of json, data and content, not %s" % " and ".join(given))
    if json is not None:
        return (jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
                "application/json")
    if data is not None:
        if isinstance(data, (Mapping, list, tuple)):
            return urlencode(data, doseq=True).encode("ascii"), "application/x-www-form-urlencoded"
        content = data
    if content is None:
        return None, None
    if isinstance(content, str):
        return content.encode("utf-8"), None
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content), None
    raise InvalidRequest("content must be bytes or str, not %s" % type(content).__name__)


class HTTPClient:
    """An asynchronous HTTP/1.1 client with a keep-alive connection pool per origin.

    :param base_url: prefix for relative URLs (``client.get("/users")``).
    :param headers: sent with every request (a request's own headers win).
    :param timeout: seconds for a whole request, redirects included (``RequestTimeout``).
    :param connect_timeout: seconds for TCP connect plus TLS handshake (default: ``timeout``).
    :param max_connections: open connections per origin; more requests wait for one.
    :param max_response_size: the largest body, before and after decompression (``ResponseTooLarge``).
    :param verify: True (system CAs), a CA file path, an ``ssl.SSLContext``, or False (no checks).
    :param follow_redirects: follow 301/302/303/307/308 up to ``max_redirects`` times.
    :param idle_timeout: seconds an unused connection stays in the pool.

    Example::

        async with HTTPClient("https://api.example.com", headers={"Authorization": "Bearer t"}) as client:
            response = await client.get("/users", params={"page": 2})
            response.raise_for_status()
            users = response.json()
    """

    def __init__(self, base_url: Optional[str] = None, *, headers: Optional[Mapping[str, str]] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT, connect_timeout: Optional[float] = None,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE, verify: Verify = True,
                 follow_redirects: bool = False, max_redirects: int = DEFAULT_MAX_REDIRECTS,
                 user_agent: str = DEFAULT_USER_AGENT, idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> None:
        if base_url is not None:
            parse_url(base_url)  # refuse a bad base URL now, not at the first request
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1, got %r" % (max_connections,))
        self.base_url = base_url
        self.headers = RequestHeaders({"User-Agent": user_agent, "Accept": "*/*",
                                       "Accept-Encoding": ACCEPT_ENCODING})
        if headers:
            self.headers.update(headers)
        self.timeout = timeout
        self.max_response_size = max_response_size
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self._pool = Pool(_ssl_context(verify), max_connections=max_connections, idle_timeout=idle_timeout,
                          connect_timeout=connect_timeout if connect_timeout is not None else timeout)

    async def __aenter__(self) -> "HTTPClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection; the client cannot be used afterwards."""
        await self._pool.aclose()

    # -- the verbs ---------------------------------------------------------------------------

    async def get(self, url: str, **kwargs: Any) -> ClientResponse:
        """``request("GET", url, **kwargs)``."""
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> ClientResponse:
        """``request("HEAD", url, **kwargs)``."""
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str, **kwargs: Any) -> ClientResponse:
        """``request("OPTIONS", url, **kwargs)``."""
        return await self.request("OPTIONS", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> ClientResponse:
        """``request("DELETE", url, **kwargs)``."""
        return await self.request("DELETE", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> ClientResponse:
        """``request("POST", url, **kwargs)``."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> ClientResponse:
        """``request("PUT", url, **kwargs)``."""
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> ClientResponse:
        """``request("PATCH", url, **kwargs)``."""
        return await self.request("PATCH", url, **kwargs)

    async def request(self, method: str, url: str, *,
                      params: Union[None, Mapping[str, Any], Sequence[Tuple[str, Any]]] = None,
                      headers: Optional[Mapping[str, str]] = None, json: Any = None, data: Any = None,
                      content: Union[None, bytes, str] = None, timeout: Any = CLIENT_TIMEOUT,
                      follow_redirects: Optional[bool] = None) -> ClientResponse:
        """Send a request and read the whole response.

        :param params: query parameters, appended to the URL's own (lists repeat the key).
        :param json: a body serialised as JSON (``application/json``).
        :param data: a dict or list of pairs sent as a form (``application/x-www-form-urlencoded``),
            or bytes/str sent as they are.
        :param content: bytes or str sent as they are.
        :param timeout: seconds for this request, redirects included, or None for no limit;
            by default the client's.

        Example::

            response = await client.request("POST", "/items", json={"name": "pen"}, timeout=2.0)
        """
        if not isinstance(method, str) or not check_header_name(method.encode("latin-1", "replace")):
            # RFC 9110 §9.1: method = token; anything else could inject into the request line
            # (aiohttp CVE-2023-49082).
            raise InvalidRequest("invalid method %r" % (method,))
        method = method.upper()
        if timeout is CLIENT_TIMEOUT:
            timeout = self.timeout
        elif timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                      or timeout <= 0):
            raise InvalidRequest("timeout is seconds (> 0) or None (no limit), got %r" % (timeout,))
        if follow_redirects is None:
            follow_redirects = self.follow_redirects
        target = parse_url(self._absolute(url, params))
        body, content_type = _body(json, data, content)
        request_headers = self.headers.copy()
        if content_type is not None:
            request_headers["Content-Type"] = content_type
        if headers:
            request_headers.update(headers)
        if "transfer-encoding" in request_headers:
            raise InvalidRequest("Transfer-Encoding cannot be set: request bodies are sent with "
                                 "Content-Length")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        history = []  # type: List[ClientResponse]
        seen = {(method, target.url)}
        while True:
            response = await self._hop(method, target, request_headers, body, deadline, timeout)
            if not (follow_redirects and response.status_code in _REDIRECTS
                    and "location" in response.headers):
                response.history = history
                return response
            history.append(response)
            if len(history) > self.max_redirects:
                raise TooManyRedirects("more than %d redirects, the last to %s"
                                       % (self.max_redirects, response.url))
            location = response.headers["location"]
            try:
                next_target = parse_url(urljoin(target.url, location))
            except InvalidRequest as exc:
                raise ProtocolError("redirect to an unusable location %r: %s" % (location[:200], exc)) from None
            if response.status_code in (301, 302, 303) and method != "HEAD":
                # RFC 9110 §15.4.4: 303 means "GET the other resource"; 301/302 as browsers do.
                method = "GET"
                body = None
                for name in ("content-type", "content-length"):
                    request_headers.pop(name, None)
            if next_target.origin != target.origin:
                for name in _CREDENTIAL_HEADERS:
                    request_headers.pop(name, None)
            if (method, next_target.url) in seen:
                # The same request again would get the same answer (RFC 9110 §15.4: a client
                # SHOULD detect infinite redirection loops): stop now, not at max_redirects.
                raise TooManyRedirects("redirect loop: %s %s was already requested" % (method, next_target.url))
            seen.add((method, next_target.url))
            target = next_target

    def _absolute(self, url: str, params: Any) -> str:
        if not isinstance(url, str):
            raise InvalidRequest("url must be a str, not %s" % type(url).__name__)
        if self.base_url is not None and not url.lower().startswith(("http://", "https://")):
            url = self.base_url.rstrip("/") + "/" + url.lstrip("/")
        if params:
            url = url.partition("#")[0]  # the fragment is never sent (RFC 9110 §4.2.5)
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url

    # -- one request on the wire ---------------------------------------------------------------

    async def _hop(self, method: str, target: Target, base_headers: RequestHeaders, body: Optional[bytes],
                   deadline: Optional[float], timeout: Optional[float]) -> ClientResponse:
        """One request/response exchange (a redirect hop), reported to the HTTP_CLIENT probe."""
        headers = RequestHeaders({"Host": target.host_header})
        headers.update(base_headers)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            # RFC 9110 §8.6: a user agent SHOULD send Content-Length when there is content or
            # the method expects some (an empty POST says "0", not "read until close").
            headers["Content-Length"] = str(len(body or b""))
        finishers = None
        if HTTP_CLIENT.observers:
            # Before the head is written, so that an observer's headers (traceparent) go out.
            finishers = HTTP_CLIENT.start(method, target.url, headers)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            wire_head = b"%s %s HTTP/1.1\r\n%s\r\n" % (method.encode("ascii"), target.target.encode("ascii"),
                                                      headers.encode())
            remaining = None if deadline is None else deadline - started
            if remaining is not None and remaining <= 0:
                raise asyncio.TimeoutError
            head, content, trailers = await asyncio.wait_for(
                self._exchange(method, target, wire_head, body), remaining)
            encodings = [c for v in _values(head.headers, b"content-encoding") for c in v.split(",")]
            if encodings:
                content = decode_content(content, encodings, self.max_response_size)
        except HTTPClientError as exc:
            finish(finishers, exc, None)
            raise
        except asyncio.TimeoutError:
            error = RequestTimeout("%s %s took longer than %s s" % (method, target.url, timeout))
            finish(finishers, error, None)
            raise error from None
        except BaseException as exc:
            finish(finishers, exc, None)
            raise
        response = ClientResponse(head.status_code, head.reason, head.http_version, Headers(head.headers),
                                  content, target.url, method,
                                  datetime.timedelta(seconds=loop.time() - started),
                                  trailers=Headers(trailers))
        finish(finishers, None, response.status_code)
        return response

    async def _exchange(self, method: str, target: Target, wire_head: bytes,
                        body: Optional[bytes]) -> Tuple[ResponseHead, bytes, list]:
        """Write the request and read its response, retrying once on a fresh connection when a
        pooled one turns out dead (the server closed it while idle: RFC 9112 §9.3.1 expects
        clients to retry then)."""
        fresh = False
        while True:
            conn, reused = await self._pool.acquire(target.origin, fresh)
            try:
                result = await self._roundtrip(conn, method, wire_head, body)
            except _ConnectionLost as lost:
                self._pool.release(conn, False)
                # Only if nothing of a response arrived, and either the request never reached
                # the server (write failed) or repeating it is harmless (idempotent method).
                if reused and not fresh and not lost.got_bytes and (lost.on_write or method in _IDEMPOTENT):
                    fresh = True
                    continue
                raise ProtocolError("%s %s: %s" % (method, target.url, lost)) from None
            except BaseException:
                self._pool.release(conn, False)
                raise
            parser = result[3]
            self._pool.release(conn, parser.reusable)
            return result[0], result[1], result[2]

    async def _roundtrip(self, conn: Connection, method: str, wire_head: bytes,
                         body: Optional[bytes]) -> Tuple[ResponseHead, bytes, list, ResponseParser]:
        try:
            conn.writer.write(wire_head + body if body and len(body) < 65536 else wire_head)
            if body and len(body) >= 65536:
                conn.writer.write(body)  # PERF: no copy of a large body into the head's buffer
            await conn.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise _ConnectionLost(True, False, "connection lost while sending the request (%s)" % exc) from None
        parser = ResponseParser(method, max_response_size=self.max_response_size)
        got_bytes = False
        head = None  # type: Optional[ResponseHead]
        parts = []  # type: List[bytes]
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                try:
                    data = await conn.reader.read(_READ_SIZE)
                except (ConnectionError, OSError) as exc:
                    raise _ConnectionLost(False, got_bytes, "connection lost while reading the response "
                                                            "(%s)" % exc) from None
                if not data and not got_bytes:
                    raise _ConnectionLost(False, False, "the server closed the connection without a response")
                got_bytes = True
                parser.feed(data)
            elif isinstance(event, Data):
                parts.append(event.data)
            elif isinstance(event, ResponseHead):
                head = event
            elif isinstance(event, EndOfMessage):
                assert head is not None
                return head, b"".join(parts), event.trailers, parser


def _values(raw: List[Tuple[bytes, bytes]], name: bytes) -> List[str]:
    return [v.decode("latin-1") for n, v in raw if n == name]


async def request(method: str, url: str, *, timeout: Optional[float] = DEFAULT_TIMEOUT, verify: Verify = True,
                  follow_redirects: bool = False, max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
                  **kwargs: Any) -> ClientResponse:
    """One request on a one-shot client (its connection is closed afterwards).

    Takes ``HTTPClient.request``'s keyword arguments. Example::

        response = await covet.httpclient.request("GET", "https://example.com/health", timeout=2)
    """
    async with HTTPClient(timeout=timeout, verify=verify, follow_redirects=follow_redirects,
                          max_response_size=max_response_size) as client:
        return await client.request(method, url, **kwargs)


async def get(url: str, **kwargs: Any) -> ClientResponse:
    """``request("GET", url, **kwargs)`` on a one-shot client. Example::

        status = (await covet.httpclient.get("http://127.0.0.1:8000/health")).status_code
    """
    return await request("GET", url, **kwargs)


async def post(url: str, **kwargs: Any) -> ClientResponse:
    """``request("POST", url, **kwargs)`` on a one-shot client. Example::

        await covet.httpclient.post("http://hooks.internal/deploy", json={"sha": sha})
    """
    return await request("POST", url, **kwargs)
