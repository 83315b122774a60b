"""TestClient and AsyncTestClient: call ``app.dispatch`` in-process, no sockets.

The sync client runs the app on its own event loop in a helper thread (a
"portal"), so lifespan and requests share one loop, and it also works from
inside an async test whose loop is already running (Starlette #440).
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

import asyncio
import binascii
import contextlib
import io
import json as jsonlib
import os
import threading
import time
import weakref
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any, AsyncIterator, Awaitable, Iterator, Mapping, Optional, Protocol, Sequence, Tuple, Union
from urllib.parse import quote, urlencode, urljoin, urlsplit

from ..core import driver
from ..core.datastructures import Address, Headers
from ..core.requests import Request
from .streaming import StreamedResponse, open_stream

__all__ = ["TestClient", "AsyncTestClient", "TestResponse", "StreamedResponse", "WebSocketRefused"]


def __getattr__(name: str) -> Any:
    # The WebSocket side of the clients loads with the first websocket_connect.
    if name in ("WebSocketRefused", "WebSocketSession", "AsyncWebSocketSession"):
        from . import websocket

        return getattr(websocket, name)
    raise AttributeError("module 'covet.testing' has no attribute %r" % name)

_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
MAX_REDIRECTS = 20


class TestResponse:
    """What a test client call returns: ``status_code``, ``headers``, ``content``, ``text``, ``json()``, ``cookies``."""

    __test__ = False  # not a pytest test class

    def __init__(self, status_code: int, headers: Headers, content: bytes, url: str, request_method: str,
                 history: Sequence[TestResponse] = ()) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url
        self.request_method = request_method
        self.history = list(history)

    @property
    def text(self) -> str:
        """The body decoded with the charset of Content-Type (utf-8 by default)."""
        charset = "utf-8"
        for part in (self.headers.get("content-type") or "").split(";")[1:]:
            k, _, v = part.partition("=")
            if k.strip().lower() == "charset":
                charset = v.strip().strip('"')
        return self.content.decode(charset, errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.content)

    @property
    def cookies(self) -> dict:
        """Cookies this response set, as a dict (deleted ones map to '')."""
        jar = {}
        for header in self.headers.getlist("set-cookie"):
            for name, value, _expired in _parse_set_cookie(header):
                jar[name] = value
        return jar

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    def __repr__(self) -> str:
        return "<TestResponse [%d]>" % self.status_code


def _parse_set_cookie(header):
    c = SimpleCookie()
    try:
        c.load(header)
    except CookieError:
        return []
    out = []
    for name, morsel in c.items():
        expired = False
        if morsel["max-age"]:
            try:
                expired = int(morsel["max-age"]) <= 0
            except ValueError:
                pass
        elif morsel["expires"]:
            try:
                expired = parsedate_to_datetime(morsel["expires"]).timestamp() <= time.time()
            except (TypeError, ValueError):
                pass
        out.append((name, morsel.value, expired))
    return out


def encode_multipart(data, files, boundary=None):
    """Encode fields and files as multipart/form-data; returns (body, content_type).

    ``files`` maps a field name to bytes, a file object, or a tuple
    ``(filename, content[, content_type])``; a list of pairs allows repeats.
    """
    boundary = boundary or binascii.hexlify(os.urandom(16)).decode()
    out = io.BytesIO()
    for name, value in _pairs(data):
        out.write(b"--%s\r\n" % boundary.encode())
        out.write(b'Content-Disposition: form-data; name="%s"\r\n\r\n' % _q(name))
        out.write(value if isinstance(value, bytes) else str(value).encode("utf-8"))
        out.write(b"\r\n")
    for name, spec in _pairs(files):
        ctype = "application/octet-stream"
        if isinstance(spec, tuple):
            filename, content = spec[0], spec[1]
            if len(spec) > 2:
                ctype = spec[2]
        else:
            filename, content = getattr(spec, "name", name), spec
            filename = os.path.basename(str(filename))
        if hasattr(content, "read"):
            content = content.read()
        if isinstance(content, str):
            content = content.encode("utf-8")
        out.write(b"--%s\r\n" % boundary.encode())
        out.write(b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n' % (_q(name), _q(filename)))
        out.write(b"Content-Type: %s\r\n\r\n" % ctype.encode("latin-1"))
        out.write(content)
        out.write(b"\r\n")
    out.write(b"--%s--\r\n" % boundary.encode())
    return out.getvalue(), "multipart/form-data; boundary=%s" % boundary


def _q(text):
    return str(text).replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A").encode("utf-8")


def _pairs(obj):
    if not obj:
        return []
    out = []
    for k, v in (obj.items() if hasattr(obj, "items") else obj):
        if isinstance(v, list):
            out.extend((k, x) for x in v)
        else:
            out.append((k, v))
    return out


class _Core:
    """Request building, cookies and redirects, shared by both clients."""

    __test__ = False

    def __init__(self, app: Any, base_url: str = "http://testserver", raise_server_exceptions: bool = True,
                 cookies: Optional[Mapping[str, str]] = None, headers: Optional[Mapping[str, str]] = None,
                 follow_redirects: bool = True, client: Tuple[str, int] = ("testclient", 50000)) -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.raise_server_exceptions = raise_server_exceptions
        self.cookies = dict(cookies or {})
        self.headers = dict(headers or {})
        self.follow_redirects = follow_redirects
        # request.client.host / .port, as through the server and ASGI.
        self.client = Address(*client) if client is not None else None

    def _build(self, method, url, params, json, data, files, headers, cookies, content):
        full = url if url.startswith(("http://", "https://")) else self.base_url + ("" if url.startswith("/") else "/") + url
        parts = urlsplit(full)
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        # As a browser or httpx would send it: a real server never passes non-ASCII or spaces on.
        query = quote(parts.query, safe=_QUERY_SAFE)
        if params:
            extra = urlencode(_pairs(params), doseq=True)
            query = query + "&" + extra if query else extra
        hdrs = {"host": parts.netloc, "user-agent": "testclient", "accept": "*/*"}
        for src in (self.headers, headers or {}):
            for k, v in src.items():
                hdrs[k.lower()] = v
        body = b""
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            hdrs.setdefault("content-type", "application/json")
        elif files:
            body, ctype = encode_multipart(data, files)
            hdrs.setdefault("content-type", ctype)
        elif isinstance(data, (dict, list)):
            body = urlencode(_pairs(data), doseq=True).encode("utf-8")
            hdrs.setdefault("content-type", "application/x-www-form-urlencoded")
        elif data is not None or content is not None:
            body = data if data is not None else content
            if isinstance(body, str):
                body = body.encode("utf-8")
        if body or method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("content-length", str(len(body)))
        jar = dict(self.cookies)
        jar.update(cookies or {})
        if jar:
            hdrs["cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
        raw = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in hdrs.items()]
        port = parts.port or (443 if parts.scheme == "https" else 80)
        request = Request(method, path, query, raw, client=self.client, scheme=parts.scheme,
                          server=Address(parts.hostname or "testserver", port), body=body)
        request._raise = self.raise_server_exceptions
        return request, full

    async def _exchange(self, request):
        """(status, headers, body) of one request, sent out by the rules of covet.core.driver."""
        response = await self.app.dispatch(request)
        try:
            status, headers, body, send_body = driver.start(response, request.method)
            if body is None:
                chunks = []

                async def write(chunk):
                    chunks.append(chunk)
                try:
                    await driver.stream(response, send_body, write)
                except Exception:
                    # On the wire the body would stop here: the client sees what came before.
                    if self.raise_server_exceptions:
                        raise
                body = b"".join(chunks)
        finally:
            await response.after_send()
        return status, headers, body

    def _keep_cookies(self, headers):
        for header in headers.getlist("set-cookie"):
            for name, value, expired in _parse_set_cookie(header):
                if expired:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value

    async def _send(self, method, url, params=None, json=None, data=None, files=None, headers=None,
                    cookies=None, content=None, follow_redirects=None):
        if not getattr(self.app, "started", True):
            await self.app.startup()
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        history = []
        method = method.upper()
        while True:
            request, full = self._build(method, url, params, json, data, files, headers, cookies, content)
            status, raw_headers, body = await self._exchange(request)
            result = TestResponse(status, Headers(list(raw_headers)), body, full, method, history)
            self._keep_cookies(result.headers)
            if not (follow and result.is_redirect) or len(history) >= MAX_REDIRECTS:
                return result
            history.append(result)
            url = urljoin(full, result.headers["location"])
            params = None
            if result.status_code == 303 or (result.status_code in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else "HEAD"
                json = data = files = content = None


# The request methods are made once by _verbs(); these describe them to type checkers.
Params = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]


class SyncVerb(Protocol):
    """``client.get(url, ...)`` and the other verbs of TestClient."""

    def __call__(self, url: str, *, params: Params = None, json: Any = None, data: Any = None, files: Any = None,
                 headers: Optional[Mapping[str, str]] = None, cookies: Optional[Mapping[str, str]] = None,
                 content: Union[bytes, str, None] = None, follow_redirects: Optional[bool] = None) -> TestResponse:
        ...


class AsyncVerb(Protocol):
    """``await client.get(url, ...)`` and the other verbs of AsyncTestClient."""

    def __call__(self, url: str, *, params: Params = None, json: Any = None, data: Any = None, files: Any = None,
                 headers: Optional[Mapping[str, str]] = None, cookies: Optional[Mapping[str, str]] = None,
                 content: Union[bytes, str, None] = None,
                 follow_redirects: Optional[bool] = None) -> Awaitable[TestResponse]:
        ...


class SyncRequest(Protocol):
    """``client.request(method, url, ...)`` of TestClient, with the verbs' keywords."""

    def __call__(self, method: str, url: str, **kw: Any) -> TestResponse:
        ...


class AsyncRequest(Protocol):
    """``await client.request(method, url, ...)`` of AsyncTestClient, with the verbs' keywords."""

    def __call__(self, method: str, url: str, **kw: Any) -> Awaitable[TestResponse]:
        ...


def _verbs(call):
    def request(self, method, url, **kw):
        """Send any method: ``client.request("PROPFIND", "/x")``."""
        return call(self, method, url, **kw)

    def make(m):
        def verb(self, url, **kw):
            return call(self, m, url, **kw)
        verb.__name__ = m.lower()
        verb.__doc__ = "Send a %s request; keywords: params, json, data, files, headers, cookies, content, follow_redirects." % m
        return verb
    ns = {"request": request}
    for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
        ns[m.lower()] = make(m)
    return ns


class _Portal:
    """An event loop in a daemon thread that runs coroutines for a sync caller."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="covet-testclient", daemon=True)
        self.thread.start()

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self):
        if self.loop.is_closed():
            return
        # Finish async generators on the portal's own thread: the caller may
        # be inside a running loop, where run_until_complete() would refuse.
        try:
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_asyncgens(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


def _sync_call(self, method, url, **kw):
    return self._portal_().call(self._send(method, url, **kw))


class TestClient(_Core):
    """Synchronous in-process client. ``with TestClient(app) as client:`` runs startup and shutdown.

    Without ``with``, startup runs before the first request and shutdown on ``close()``.

    Example::

        with TestClient(app) as client:
            r = client.get("/users/3", params={"verbose": "true"})
            assert r.status_code == 200 and r.json() == {"id": 3}
    """

    __test__ = False
    locals().update(_verbs(_sync_call))
    request: SyncRequest
    get: SyncVerb
    post: SyncVerb
    put: SyncVerb
    patch: SyncVerb
    delete: SyncVerb
    options: SyncVerb
    head: SyncVerb

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self._portal = None
        self._finalizer = None

    def _portal_(self):
        if self._portal is None:
            self._portal = _Portal()
            self._finalizer = weakref.finalize(self, self._portal.stop)
        return self._portal

    def __enter__(self) -> TestClient:
        self._portal_().call(self.app.startup())
        return self

    @contextlib.contextmanager
    def stream(self, method: str, url: str, params: Any = None, json: Any = None, data: Any = None,
               files: Any = None, headers: Optional[Mapping[str, str]] = None,
               cookies: Optional[Mapping[str, str]] = None, content: Any = None) -> Iterator[StreamedResponse]:
        """Send a request and read its body as it streams; leaving the block early is a disconnect.

        Example::

            with client.stream("GET", "/events") as r:
                first = next(r.iter_bytes())
        """
        portal = self._portal_()
        if not getattr(self.app, "started", True):
            portal.call(self.app.startup())
        request, full = self._build(method.upper(), url, params, json, data, files, headers, cookies, content)
        response = portal.call(open_stream(self, request, full))
        response._portal = portal
        self._keep_cookies(response.headers)
        try:
            yield response
        finally:
            response.close()

    @contextlib.contextmanager
    def websocket_connect(self, url: str, headers: Optional[Mapping[str, str]] = None,
                          subprotocols: Optional[Sequence[str]] = None) -> Iterator[Any]:
        """Open a WebSocket to the app in-process; the block's end closes it (1000) and waits for the
        handler. A refused handshake raises ``WebSocketRefused`` (its ``status_code``, ``json()``).

        Example::

            with client.websocket_connect("/ws", subprotocols=["chat"]) as ws:
                ws.send_text("hello")
                assert ws.receive_text() == "echo: hello"
        """
        from .websocket import WebSocketSession, open_websocket

        portal = self._portal_()
        session = portal.call(open_websocket(self, url, dict(headers or {}), subprotocols))
        sync = WebSocketSession(session, portal)
        try:
            yield sync
        finally:
            sync.finish()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Run the app's shutdown (if it started) and stop the helper loop."""
        if self._portal is None:
            return
        try:
            if getattr(self.app, "started", False):
                self._portal.call(self.app.shutdown())
        finally:
            self._finalizer()
            self._portal = None


async def _async_call(self, method, url, **kw):
    return await self._send(method, url, **kw)


class AsyncTestClient(_Core):
    """The same client with coroutine methods, for use inside a running loop.

    Example::

        async with AsyncTestClient(app) as client:
            r = await client.post("/items", json={"name": "x"})
    """

    __test__ = False
    locals().update(_verbs(_async_call))
    request: AsyncRequest
    get: AsyncVerb
    post: AsyncVerb
    put: AsyncVerb
    patch: AsyncVerb
    delete: AsyncVerb
    options: AsyncVerb
    head: AsyncVerb

    async def __aenter__(self) -> AsyncTestClient:
        await self.app.startup()
        return self

    @contextlib.asynccontextmanager
    async def stream(self, method: str, url: str, params: Any = None, json: Any = None, data: Any = None,
                     files: Any = None, headers: Optional[Mapping[str, str]] = None,
                     cookies: Optional[Mapping[str, str]] = None,
                     content: Any = None) -> AsyncIterator[StreamedResponse]:
        """Send a request and read its body as it streams; leaving the block early is a disconnect.

        Example::

            async with client.stream("GET", "/events") as r:
                async for chunk in r.aiter_bytes():
                    break
        """
        if not getattr(self.app, "started", True):
            await self.app.startup()
        request, full = self._build(method.upper(), url, params, json, data, files, headers, cookies, content)
        response = await open_stream(self, request, full)
        self._keep_cookies(response.headers)
        try:
            yield response
        finally:
            await response.aclose()

    @contextlib.asynccontextmanager
    async def websocket_connect(self, url: str, headers: Optional[Mapping[str, str]] = None,
                                subprotocols: Optional[Sequence[str]] = None) -> AsyncIterator[Any]:
        """``async with client.websocket_connect("/ws") as ws:`` (coroutine methods; see TestClient).

        Example::

            async with client.websocket_connect("/ws") as ws:
                await ws.send_json({"n": 1})
                assert await ws.receive_json() == {"n": 2}
        """
        from .websocket import open_websocket

        session = await open_websocket(self, url, dict(headers or {}), subprotocols)
        try:
            yield session
        finally:
            await session.finish()

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()

    async def aclose(self) -> None:
        """Run the app's shutdown if it started."""
        await self.app.shutdown()
