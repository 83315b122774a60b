"""Responses: what handlers return, and what the server serialises.

A response holds ``status_code``, ``raw_headers`` (a list of lower-cased
``(bytes, bytes)`` pairs, ``content-length`` included when the size is known)
and either ``body`` (bytes) or, when ``streaming`` is true, an async
``body_iterator``.
"""
import asyncio
import enum
import json
import os
import stat
import sys
from urllib.parse import quote

from .conditional import (
    evaluate_preconditions, file_etag, http_date, not_modified_headers, parse_http_date, read_conditions,
)
from .datastructures import HeaderValueError, MutableHeaders, encode_header
from .ranges import choose_range, content_range, unsatisfied_range
from .status import NO_CONTENT

__all__ = [
    "Response", "JSONResponse", "HTMLResponse", "PlainTextResponse", "RedirectResponse",
    "StreamingResponse", "FileResponse", "json_default",
]


def json_default(obj):
    """``default=`` for json.dumps: datetime/date/time (ISO 8601), UUID, Decimal, Enum, dataclasses,
    sets and tuples, and any object with a ``to_dict()`` (database rows, ORM models)."""
    # PERF: one dict lookup per object once its type has been seen: a list of 20 database rows
    # otherwise walked the whole chain of checks below 20 times (a quarter of such a request).
    convert = _converters.get(type(obj))
    if convert is None:
        convert = _converter_for(type(obj))
        if convert is None:
            raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)
        if len(_converters) < 1024:  # types, not values: a small set in any program
            _converters[type(obj)] = convert
    return convert(obj)


_converters = {}


def _isoformat(obj):
    return obj.isoformat()


def _enum_value(obj):
    return obj.value


def _asdict(obj):
    import dataclasses

    return dataclasses.asdict(obj)


def _call_to_dict(obj):
    return obj.to_dict()


def _converter_for(cls):
    # datetime, UUID, Decimal and dataclasses without importing their modules at start-up: an
    # object of one of these types can only exist once its module is loaded.
    dt = sys.modules.get("datetime")
    if dt is not None and issubclass(cls, (dt.datetime, dt.date, dt.time)):
        return _isoformat
    for module, name in (("uuid", "UUID"), ("decimal", "Decimal")):
        loaded = sys.modules.get(module)
        if loaded is not None and issubclass(cls, getattr(loaded, name)):
            return str
    if issubclass(cls, enum.Enum):
        return _enum_value
    if hasattr(cls, "__dataclass_fields__"):  # dataclasses.is_dataclass, for an instance's type
        return _asdict
    if issubclass(cls, (set, frozenset, tuple)):
        return list
    method = getattr(cls, "to_dict", None)
    if type(method) is _function:  # a plain method: call it directly, one call fewer per object
        return method
    if callable(method):
        return _call_to_dict
    return None


_function = type(_call_to_dict)


_py_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default, allow_nan=False).encode

if json.encoder.c_make_encoder is not None:
    # PERF: JSONEncoder.encode builds a new C encoder on every call (~1.5 µs);
    # this one is built once. Same output: compact, UTF-8, NaN refused.
    # No circular-reference markers: a cycle ends in RecursionError (a 500).
    _c_encode = json.encoder.c_make_encoder(
        None, json_default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def _dumps(content):
        return "".join(_c_encode(content, 0))
else:  # pragma: no cover - CPython always has the C accelerator
    _dumps = _py_dumps


def dump_json(content):
    """Serialise to compact UTF-8 JSON bytes."""
    text = _dumps(content)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _ascii_json(content)


_ascii_dumps = json.JSONEncoder(separators=(",", ":"), default=json_default, allow_nan=False).encode


def _ascii_json(content):
    # A lone surrogate (a JSON body may carry "\ud800") has no UTF-8 form:
    # escape it as JSON does instead of failing the response with a 500.
    return _ascii_dumps(content).encode("ascii")


# Cookie attribute values must not smuggle in new attributes or header lines
# (CPython CVE-2026-16052, bottle CVE-2016-9964).
def _check_cookie_part(what, value):
    if any(c in value for c in ";\r\n\x00"):
        raise HeaderValueError("cookie %s contains ';', CR, LF or NUL: %r" % (what, value))


# http.cookies' quoting, built with the first cookie set (the module costs about a millisecond
# to import, which an app that sets no cookie need not pay at start-up).
_cookie_quoter = None


def _quote_cookie_value(value: str) -> str:
    global _cookie_quoter
    if _cookie_quoter is None:
        from http.cookies import SimpleCookie

        _cookie_quoter = SimpleCookie()
    return _cookie_quoter.value_encode(value)[1]
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


class Response:
    """A response with a body known in full.

    Example::

        return Response(b"raw", 200, {"X-Thing": "1"}, media_type="application/octet-stream")
    """

    media_type = None
    charset = "utf-8"
    streaming = False
    # True: every chunk must reach the client as it is produced, so a middleware that compresses or
    # buffers bodies (gzip) passes the response through untouched. Server-sent events set it
    # (covet.sse); a subclass sets it for any other live stream. See docs/sse.md.
    unbuffered = False

    __slots__ = ("status_code", "body", "raw_headers", "background", "_after")

    # (b"content-type", ...) for the class's media_type, built once per class.
    _content_type = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        mt = cls.__dict__.get("media_type", cls.media_type)
        if mt is not None and mt.startswith("text/") and "charset=" not in mt:
            mt += "; charset=" + cls.charset
        cls._content_type = (b"content-type", mt.encode("latin-1")) if mt is not None else None

    def __init__(self, content=None, status_code=200, headers=None, media_type=None, background=None):
        self.status_code = status_code
        self.background = background
        self._after = None
        body = self.render(content)
        no_content = status_code in NO_CONTENT
        if no_content and not self.streaming:
            body = b""  # these never carry a body (RFC 9110 §15.3.5, §15.4.5)
        self.body = body
        if headers is None and media_type is None and not self.streaming:
            # PERF: the common case, with headers precomputed per class.
            ct = self._content_type
            raw = [ct] if ct is not None else []
            if not no_content:
                raw.append((b"content-length", b"%d" % len(body)))
            self.raw_headers = raw
            return
        media_type = media_type or self.media_type
        raw = []
        if headers:
            items = headers.items() if hasattr(headers, "items") else headers
            for k, v in items:
                raw.append(encode_header(k, v))
        names = {k for k, _ in raw}
        if media_type is not None and b"content-type" not in names:
            if media_type.startswith("text/") and "charset=" not in media_type:
                media_type += "; charset=" + self.charset
            raw.append(encode_header("content-type", media_type))  # CR/LF would split the response
        # RFC 9110 §8.6: no Content-Length on 1xx/204/304 responses.
        # A streaming body's size is unknown: no Content-Length unless the caller set one.
        if not self.streaming and not no_content and b"content-length" not in names:
            raw.append((b"content-length", b"%d" % len(body)))
        self.raw_headers = raw

    def render(self, content):
        """Turn ``content`` into bytes (subclasses override)."""
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, (bytearray, memoryview)):
            return bytes(content)
        return content.encode(self.charset)

    @property
    def headers(self):
        """A mutable, validating view of the response headers."""
        return MutableHeaders(self.raw_headers)

    def set_cookie(self, key, value="", max_age=None, expires=None, path="/", domain=None,
                   secure=False, httponly=False, samesite="lax", partitioned=False):
        """Add a Set-Cookie header; ``;``, CR, LF or NUL in any part raise ``HeaderValueError`` (a ``ValueError``).

        Example::

            response.set_cookie("sid", token, max_age=3600, httponly=True, secure=True)
        """
        # RFC 6265 §4.1.1: a name is an ASCII token ("é".isalnum() is true too).
        if not key or not key.isascii() or not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in key):
            raise HeaderValueError("invalid cookie name: %r" % (key,))
        value = str(value)
        _check_cookie_part("value", value)
        coded = _quote_cookie_value(value)
        parts = ["%s=%s" % (key, coded)]
        if max_age is not None:
            parts.append("Max-Age=%d" % int(max_age))
        if expires is not None:
            dt = sys.modules.get("datetime")  # a datetime object means the module is loaded
            if dt is not None and isinstance(expires, dt.datetime):
                expires = http_date(expires.timestamp())
            elif isinstance(expires, (int, float)):
                expires = http_date(expires)
            _check_cookie_part("expires", str(expires))
            parts.append("Expires=%s" % expires)
        if path is not None:
            _check_cookie_part("path", path)
            parts.append("Path=%s" % path)
        if domain is not None:
            _check_cookie_part("domain", domain)
            parts.append("Domain=%s" % domain)
        if secure:
            parts.append("Secure")
        if httponly:
            parts.append("HttpOnly")
        if samesite is not None:
            s = _SAMESITE.get(str(samesite).lower())
            if s is None:
                raise ValueError("samesite must be 'strict', 'lax' or 'none', not %r" % (samesite,))
            parts.append("SameSite=%s" % s)
        if partitioned:
            parts.append("Partitioned")
        self.raw_headers.append((b"set-cookie", "; ".join(parts).encode("latin-1")))

    def delete_cookie(self, key, path="/", domain=None, secure=False, httponly=False, samesite="lax"):
        """Tell the client to drop a cookie (Max-Age=0 and an expiry in the past)."""
        self.set_cookie(key, "", max_age=0, expires=0, path=path, domain=domain,
                        secure=secure, httponly=httponly, samesite=samesite)

    def call_after_send(self, fn):
        """Run ``await fn()`` after the response has been sent (used for cleanup and background tasks)."""
        if self._after is None:
            self._after = []
        self._after.append(fn)

    async def after_send(self):
        """Run the after-send callbacks, then the background tasks; servers call this once sent."""
        after, self._after = self._after, None
        bg, self.background = self.background, None
        if bg is not None:
            await bg()
        if after:
            for fn in after:
                await fn()

    def __repr__(self):
        return "<%s %d>" % (type(self).__name__, self.status_code)


class HTMLResponse(Response):
    """``text/html; charset=utf-8``."""

    __slots__ = ()
    media_type = "text/html"


class PlainTextResponse(Response):
    """``text/plain; charset=utf-8``."""

    __slots__ = ()
    media_type = "text/plain"


class JSONResponse(Response):
    """Compact JSON; datetime, UUID, Decimal, Enum and dataclasses are converted.

    Example::

        return JSONResponse({"id": 1}, status_code=201)
    """

    __slots__ = ()
    media_type = "application/json"

    def render(self, content):
        text = _dumps(content)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return _ascii_json(content)


class RedirectResponse(Response):
    """A redirect (307 by default) to ``url``; CR/LF in the URL raise ``HeaderValueError`` (a ``ValueError``).

    Example::

        return RedirectResponse("/login", status_code=303)
    """

    __slots__ = ()

    def __init__(self, url, status_code=307, headers=None, background=None):
        url = str(url)
        if any(c in url for c in "\r\n\x00"):
            raise HeaderValueError("redirect URL contains CR, LF or NUL")
        super().__init__(b"", status_code, headers, background=background)
        # Non-ASCII is percent-encoded; reserved characters are kept as given.
        self.raw_headers.append((b"location", quote(url, safe=":/%#?=@[]!$&'()*+,;~").encode("latin-1")))


async def _aiter_sync(iterator):
    # Each next() of a sync iterator may block (a generator reading a file):
    # run it in the default thread pool so the loop stays free.
    loop = asyncio.get_running_loop()
    it = iter(iterator)
    done = object()
    try:
        while True:
            chunk = await loop.run_in_executor(None, next, it, done)
            if chunk is done:
                return
            yield chunk
    finally:
        # A body abandoned part-way (the client left) closes the app's generator now, so its
        # ``finally`` (a file, a cursor) runs at once, not whenever garbage collection gets to it.
        close = getattr(it, "close", None)
        if close is not None:
            try:
                await loop.run_in_executor(None, close)
            except ValueError:
                pass  # its next() still runs in a thread (we were cancelled): it ends with that call


class StreamingResponse(Response):
    """A body produced by a sync or async iterator of str/bytes; sent chunked (or close-delimited on HTTP/1.0).

    Example::

        async def numbers():
            for i in range(3):
                yield "%d\\n" % i
        return StreamingResponse(numbers(), media_type="text/plain")
    """

    __slots__ = ("body_iterator",)
    streaming = True

    def __init__(self, content, status_code=200, headers=None, media_type=None, background=None):
        if hasattr(content, "__aiter__"):
            self.body_iterator = content
        else:
            self.body_iterator = _aiter_sync(content)
        super().__init__(None, status_code, headers, media_type, background)

    async def iter_body(self):
        """Yield the body as bytes chunks; the app's iterator is closed however this ends."""
        charset = self.charset
        try:
            async for chunk in self.body_iterator:
                if isinstance(chunk, str):
                    chunk = chunk.encode(charset)
                if chunk:
                    yield chunk
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


class FileResponse(StreamingResponse):
    """Send a file from disk: zero-copy ``sendfile`` on covet's server over plain TCP, chunked reads
    in the thread pool elsewhere (TLS, ASGI, the test client); never read whole into memory.

    It carries ``Content-Length``, ``Last-Modified`` and a strong ``ETag`` (``file_etag``). Given
    the ``request``, it also answers it by RFC 9110: its preconditions (``If-None-Match``,
    ``If-Modified-Since``, ``If-Match``, ``If-Unmodified-Since``) turn it into a 304 or 412, and a
    ``Range`` (with ``If-Range``) into a 206 or 416 (``covet.core.ranges``), with
    ``Accept-Ranges: bytes``. ``file``: an open binary file to send instead of opening ``path``
    (its ``fstat`` gives the validators; the response closes it).

    Example::

        @app.get("/reports/{name}")
        async def report(name: str, request: Request):
            return FileResponse(REPORTS / "q3.pdf", filename="q3.pdf", request=request)
    """

    __slots__ = ("path", "chunk_size", "size", "stat_result", "file", "offset", "length", "_source")

    def __init__(self, path, status_code=200, headers=None, media_type=None, filename=None,
                 background=None, chunk_size=64 * 1024, content_disposition_type="attachment",
                 request=None, file=None, stat_result=None):
        self.path = os.fspath(path)
        self.chunk_size = chunk_size
        self.file = file
        try:
            st = stat_result or (os.fstat(file.fileno()) if file is not None else os.stat(self.path))
        except OSError:
            self._close_now()
            raise FileNotFoundError("FileResponse: no such file: %s" % self.path) from None
        if not stat.S_ISREG(st.st_mode):
            self._close_now()
            raise IsADirectoryError("FileResponse: not a regular file: %s" % self.path)
        self.stat_result = st
        self.size = self.length = st.st_size
        self.offset = 0
        if media_type is None:
            import mimetypes

            media_type = mimetypes.guess_type(filename or self.path)[0] or "application/octet-stream"
        hdrs = dict(headers or {})
        hdrs.setdefault("content-length", str(st.st_size))
        hdrs.setdefault("last-modified", http_date(st.st_mtime))
        hdrs.setdefault("etag", file_etag(st))
        if request is not None:
            hdrs.setdefault("accept-ranges", "bytes")
        if filename is not None:
            ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
            disp = '%s; filename="%s"' % (content_disposition_type, ascii_name)
            if ascii_name != filename:
                disp += "; filename*=UTF-8''%s" % quote(filename)
            hdrs.setdefault("content-disposition", disp)
        super().__init__(self._chunks(), status_code, hdrs, media_type, background)
        self._source = self.body_iterator
        if request is not None and status_code == 200:
            self._answer(request)
        if file is not None:
            if self.length == 0 or (request is not None and request.method == "HEAD"):
                self._close_now()  # no byte of it will be read
            else:
                self.call_after_send(self._close_file)  # however the sending ends (or never starts)

    def _answer(self, request):
        # RFC 9110 §13.2.2: preconditions, then If-Range and Range (covet.core.conditional, .ranges).
        conditions = read_conditions(request.raw_headers)
        if conditions is None:
            return
        headers = self.headers
        etag, mtime = headers.get("etag"), self.stat_result.st_mtime
        modified = headers.get("last-modified")
        if modified is not None:
            mtime = parse_http_date(modified)
        status = evaluate_preconditions(request.method, conditions, etag, mtime)
        if status == 304:
            self.status_code = 304
            self.raw_headers = not_modified_headers(self.raw_headers)
            self.length = 0
            return
        if status is not None:  # 412
            self._empty(412)
            return
        if request.method not in ("GET", "HEAD"):
            return  # §14.2: GET is the only method with range handling
        choice = choose_range(conditions, self.size, etag, mtime)
        if choice.status == 206:
            r = choice.range
            self.status_code, self.offset, self.length = 206, r.start, r.length
            headers["content-length"] = str(r.length)
            headers["content-range"] = content_range(r, self.size)
        elif choice.status == 416:
            self._empty(416)
            headers["content-range"] = unsatisfied_range(self.size)

    def _empty(self, status_code):
        self.status_code = status_code
        self.length = 0
        keep = (b"content-type", b"content-length", b"content-disposition", b"last-modified", b"accept-ranges")
        self.raw_headers[:] = [h for h in self.raw_headers if h[0] not in keep] + [(b"content-length", b"0")]

    def file_segment(self):
        """``(file path, offset, length)`` of the body, or None once something replaced the body.

        For doors that can send a file without copying it (``sendfile``); a middleware that
        set another ``body_iterator`` (compression) is sent as any stream.
        """
        if self.body_iterator is not self._source:
            return None
        return self.path, self.offset, self.length

    async def open_file(self):
        """The open file of the body (opened now, in the thread pool, if the response was not given one)."""
        if self.file is None:
            loop = asyncio.get_running_loop()
            self.file = await loop.run_in_executor(None, open, self.path, "rb")
            self.call_after_send(self._close_file)
        return self.file

    def _close_now(self):
        f, self.file = self.file, None
        if f is not None:
            f.close()

    async def _close_file(self):
        self._close_now()

    async def _chunks(self):
        # Exactly the size announced in Content-Length: a file that grows while it is sent is cut
        # at that size (the bytes past it would be read as the next response, RFC 9112 §6.3); one
        # that shrinks ends short, and the driver then fails the exchange, which closes the
        # connection instead of keeping it alive with a shifted stream.
        if self.length <= 0:
            return
        loop = asyncio.get_running_loop()
        f = await self.open_file()
        try:
            position, remaining = self.offset, self.length
            while remaining > 0:
                chunk = await loop.run_in_executor(None, _read_at, f, position, min(self.chunk_size, remaining))
                if not chunk:
                    break
                position += len(chunk)
                remaining -= len(chunk)
                yield chunk
        finally:
            self.file = None
            await loop.run_in_executor(None, f.close)


def _read_at(f, position, size):
    # One thread hop per chunk: seek and read together (a sendfile attempt may have moved the position).
    f.seek(position)
    return f.read(size)


# -- return values -> Response --------------------------------------------

def to_response(result, status_code=None):
    """Turn a handler's return value into a Response (see docs/requests-responses.md)."""
    t = type(result)
    if t is dict or t is list:
        return JSONResponse(result, status_code or 200)
    if isinstance(result, Response):
        return result
    if t is str:
        return HTMLResponse(result, status_code or 200)
    if result is None:
        return Response(b"", status_code or 204)
    if t is bytes:
        return Response(result, status_code or 200, media_type="application/octet-stream")
    if t is tuple and 2 <= len(result) <= 3:
        body, status = result[0], result[1]
        response = to_response(body, status)
        response.status_code = status
        if len(result) == 3 and result[2]:
            hdrs = response.headers
            for k, v in (result[2].items() if hasattr(result[2], "items") else result[2]):
                hdrs[k] = v
        return response
    return JSONResponse(result, status_code or 200)
