"""Request: what a handler reads. Everything is parsed lazily, on first access.

The body is read once and cached on the request, so middleware that reads
it does not starve the handler (Starlette #495).
"""
import json
import re
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .datastructures import MAX_QUERY_FIELDS, URL, FormData, Headers, QueryParams, State
from .errors import HTTPException

__all__ = ["Request", "parse_cookie_header"]

# At most this many cookies are kept from one Cookie header: browsers cap a
# domain at ~180, and parsing stays linear either way.
MAX_COOKIES = 256

# Cookie names are RFC 6265 tokens; anything else is skipped, not an error.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_OCTAL = re.compile(r"\\([0-3][0-7][0-7])|\\(.)")


def _unquote_cookie(value):
    # One regex pass, linear in the value: http.cookies' loop was quadratic on
    # backslash-heavy input (CPython CVE-2024-7592).
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
        if "\\" in value:
            value = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)) if m.group(1) else m.group(2), value)
    return value


def parse_cookie_header(header: Optional[str]) -> Dict[str, str]:
    """Parse a Cookie header into a dict; bad pairs are skipped, it never raises.

    Nameless pairs such as ``=__Host-x=y`` are ignored (werkzeug CVE-2023-23934).

    Example::

        parse_cookie_header('a=1; b="x y"')  # {'a': '1', 'b': 'x y'}
    """
    cookies: Dict[str, str] = {}
    if not header:
        return cookies
    for n, chunk in enumerate(header.split(";")):
        if n >= MAX_COOKIES:
            break
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name or not _COOKIE_NAME.fullmatch(name):
            continue
        if name not in cookies:  # RFC 6265 §5.4: the first (most specific path) wins
            cookies[name] = _unquote_cookie(value.strip())
    return cookies


def _decode_path(raw_path):
    if "%" not in raw_path:
        return raw_path
    # Not UTF-8 -> U+FFFD (see _matcher._decode): a surrogate would crash the 404 page.
    return unquote(raw_path, errors="replace")


class Request:
    """An HTTP request, as handlers, middleware and dependencies see it.

    Example::

        @app.post("/echo")
        async def echo(request: Request):
            data = await request.json()
            return {"path": request.path, "got": data, "page": request.query_params.get("page", 1, type=int)}
    """

    __slots__ = (
        "method", "raw_path", "query_string", "raw_headers", "client", "scheme", "server",
        "http_version", "app", "path_params", "route", "root_path", "session",
        "_headers", "_query", "_cookies", "_body", "_json", "_form", "_receive", "_consumed",
        "_state", "_path", "_url", "_cache", "_cleanups", "_background", "_raise", "_error",
    )

    def __init__(self, method: str, path: str, query_string: str = "",
                 headers: Optional[List[Tuple[bytes, bytes]]] = None, client: Optional[Tuple[str, int]] = None,
                 scheme: str = "http", server: Optional[Tuple[str, int]] = None, http_version: str = "1.1",
                 body: Optional[bytes] = None, receive: Optional[Callable[[], Awaitable[bytes]]] = None,
                 app: Any = None, root_path: str = "") -> None:
        self.method = method
        self.raw_path = path
        self.query_string = query_string
        self.raw_headers = headers if headers is not None else []
        self.client = client
        self.scheme = scheme
        self.server = server
        self.http_version = http_version
        self.app = app
        self.path_params: Dict[str, Any] = {}
        self.route: Any = None
        self.root_path = root_path
        self.session = None
        self._headers: Optional[Headers] = None
        self._query: Optional[QueryParams] = None
        self._cookies: Optional[Dict[str, str]] = None
        self._body = body
        self._json: Any = _UNSET
        self._form: Optional[FormData] = None
        self._receive = receive
        self._consumed = False
        self._state: Optional[State] = None
        self._path: Optional[str] = None
        self._url: Optional[URL] = None
        self._cache: Optional[Dict[Any, Any]] = None
        self._cleanups: Optional[List[Any]] = None
        self._background: Any = None
        self._raise = False
        self._error: Optional[BaseException] = None

    @property
    def path(self) -> str:
        """The percent-decoded path (``/café`` for ``/caf%C3%A9``)."""
        if self._path is None:
            self._path = _decode_path(self.raw_path)
        return self._path

    def url_for(self, name: str, /, **params: Any) -> str:
        """The path of the route (or named mount) ``name`` of the app handling this request, under
        its ``root_path``, as templates' ``url_for`` gives it.

        Example::

            request.url_for("static", path="app.css")   # '/static/app.css'
        """
        return self.root_path + self.app.url_for(name, **params)

    @property
    def headers(self) -> Headers:
        """Case-insensitive, multi-valued request headers."""
        if self._headers is None:
            self._headers = Headers(self.raw_headers)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The query string as a multi-dict."""
        if self._query is None:
            self._query = QueryParams(self.query_string)
        return self._query

    @property
    def cookies(self) -> Dict[str, str]:
        """Request cookies as a dict (never raises on a malformed header)."""
        if self._cookies is None:
            self._cookies = parse_cookie_header(self.headers.get("cookie"))
        return self._cookies

    @property
    def state(self) -> State:
        """Per-request attribute bag for middleware and dependencies."""
        if self._state is None:
            self._state = State()
        return self._state

    @property
    def url(self) -> URL:
        """The full URL, as the client asked for it."""
        if self._url is None:
            host = self.headers.get("host")
            if not host and self.server:
                host = "%s:%s" % self.server
            target = self.root_path + self.raw_path
            if self.query_string:
                target += "?" + self.query_string
            self._url = URL("%s://%s%s" % (self.scheme, host or "localhost", target))
        return self._url

    @property
    def base_url(self) -> URL:
        """Scheme, host and root path, with a trailing slash."""
        u = self.url
        return URL("%s://%s%s/" % (u.scheme, u.netloc, self.root_path))

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters ('' when absent)."""
        return (self.headers.get("content-type") or "").partition(";")[0].strip().lower()

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive (once; after ``body()`` it yields the cached body)."""
        if self._body is not None:
            if self._body:
                yield self._body
            return
        if self._consumed:
            raise RuntimeError("the request body was already streamed")
        self._consumed = True
        receive = self._receive
        if receive is None:
            return
        while True:
            chunk = await receive()
            if not chunk:
                return
            yield chunk

    async def body(self) -> bytes:
        """The whole body as bytes, read once and cached."""
        if self._body is None:
            chunks = [c async for c in self.stream()]
            self._body = b"".join(chunks)
        return self._body

    async def text(self) -> str:
        """The body decoded with the charset of Content-Type (utf-8 by default); 400 if it does not decode."""
        body = await self.body()
        charset = "utf-8"
        ct = self.headers.get("content-type") or ""
        for param in ct.split(";")[1:]:
            k, _, v = param.partition("=")
            if k.strip().lower() == "charset":
                charset = v.strip().strip('"') or charset
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise HTTPException(400, "request body is not valid %s text" % charset) from None

    async def json(self) -> Any:
        """The body parsed as JSON; malformed, too deep or too large numbers give 400.

        Duplicate keys: the last one wins (as ``json.loads`` does).
        """
        if self._json is _UNSET:
            body = await self.body()
            self._json = parse_json(body)
        return self._json

    async def form(self) -> FormData:
        """The body as FormData: urlencoded or multipart (files are ``UploadFile``)."""
        if self._form is None:
            self._form = await _parse_form(self)
        return self._form

    def __repr__(self) -> str:
        return "<Request %s %s>" % (self.method, self.raw_path)


class _Unset:
    __slots__ = ()

    def __repr__(self):
        return "UNSET"


_UNSET = _Unset()


class _BadNumber(ValueError):
    """A number Python would read but JSON cannot carry back out (a 500 on echo otherwise)."""


def _no_constant(name):
    # NaN and Infinity are not JSON (RFC 8259 §6), though json.loads takes them.
    raise _BadNumber("%s is not a JSON value" % name)


def _finite_float(text):
    value = float(text)
    if value - value != 0:  # 1e999 -> inf
        raise _BadNumber("number out of range")
    return value


# PERF: one decoder built at import; json.loads(**hooks) would build one per call.
_decode_json = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float).decode


def parse_json(body: Any) -> Any:
    """Parse a JSON body (UTF-8, RFC 8259), turning every failure into a 400 problem."""
    if not body:
        raise HTTPException(400, "request body is empty; expected JSON")
    try:
        return _decode_json(body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body)
    except RecursionError:
        raise HTTPException(400, "malformed JSON: nested too deeply") from None
    except UnicodeDecodeError:
        raise HTTPException(400, "malformed JSON: not UTF-8") from None
    except ValueError as exc:
        # json.JSONDecodeError, and the int() digit limit (CVE-2020-10735)
        msg = exc.msg if hasattr(exc, "msg") else str(exc) if isinstance(exc, _BadNumber) else "number too large"
        pos = getattr(exc, "pos", None)
        where = " at position %d" % pos if pos is not None else ""
        raise HTTPException(400, "malformed JSON: %s%s" % (msg, where)) from None


async def _parse_form(request):
    ctype = request.headers.get("content-type") or ""
    media = ctype.partition(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "form body is not valid UTF-8") from None
        try:
            fields = QueryParams(text)
        except HTTPException:  # same limit as the query string, named for what the client sent
            raise HTTPException(400, "too many form fields (limit %d)" % MAX_QUERY_FIELDS) from None
        return FormData(fields.multi_items())
    if media == "multipart/form-data":
        from . import multipart  # loaded with the first multipart form, not at start-up

        limits = getattr(request.app, "multipart_limits", None) if request.app is not None else None
        # RFC 9110 §5.3: a singleton field; readers keeping the first or the last would frame differently.
        if len(request.headers.getlist("content-type")) > 1:
            raise HTTPException(400, "multipart: Content-Type header appears more than once")
        try:
            boundary = multipart.get_boundary(ctype)
            items = await multipart.parse_multipart(request.stream(), boundary, limits=limits)
        except multipart.MultipartError as exc:
            raise HTTPException(exc.status, exc.detail) from None
        return FormData(items)
    if media == "":
        body = await request.body()
        if not body:
            return FormData()
    raise HTTPException(415, "expected a form (application/x-www-form-urlencoded or multipart/form-data), got %r" % media)
