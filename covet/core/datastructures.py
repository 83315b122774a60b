"""Headers, QueryParams, FormData, URL, State: the data structures users read.

Request headers are kept as the raw ``(name, value)`` byte pairs the parser
produced (names lower-cased) and are only decoded on access.
"""
from typing import NamedTuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit


__all__ = [
    "Headers", "MutableHeaders", "QueryParams", "FormData", "URL", "State", "Address",
    "ImmutableMultiDict",
]

# Query strings with more fields than this are refused (400): parsing cost
# and memory grow with the count, and no real form has this many.
MAX_QUERY_FIELDS = 1000


def __getattr__(name: str) -> object:
    # UploadFile (covet.core.uploads) is reachable here too, where the other data structures are;
    # it is loaded on first use, so an app that parses no multipart form never imports it
    # (nor tempfile's users) at start-up.
    if name == "UploadFile":
        from .uploads import UploadFile

        return UploadFile
    raise AttributeError("module 'covet.core.datastructures' has no attribute %r" % name)


class Address(NamedTuple):
    """A peer's ``(host, port)``: ``request.client`` and ``request.server``; still a tuple, so
    ``host, port = request.client`` works too.

    Example::

        request.client.host   # '203.0.113.7' (after the trusted-proxy rules), or 'unix' on a Unix socket
        request.client.port   # 51544
    """

    host: str
    port: int


class HeaderValueError(ValueError):
    """A header name or value that would split or corrupt the response (CR, LF, NUL, not Latin-1).

    Example::

        try:
            response.headers["x-echo"] = user_text
        except HeaderValueError:
            response.headers["x-echo"] = urllib.parse.quote(user_text)

    Left uncaught in a handler, the app answers 400 (see docs/requests-responses.md).
    """


def _bad_header_value(value):
    # RFC 9110 §5.5: field values never contain CR, LF or NUL; a value that
    # does would split the response (uvicorn CVE-2020-7695, gunicorn CVE-2018-1000164).
    return "\r" in value or "\n" in value or "\x00" in value


def encode_header(name, value):
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    if not isinstance(value, str):
        value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    if not name or _bad_header_value(name) or any(c in name for c in " \t:"):
        raise HeaderValueError("invalid header name: %r" % name)
    if _bad_header_value(value):
        raise HeaderValueError("header %s: value contains CR, LF or NUL" % name)
    try:
        return name.lower().encode("latin-1"), value.encode("latin-1")
    except UnicodeEncodeError:
        raise HeaderValueError("header %s: value is not latin-1; percent-encode it" % name) from None


class Headers:
    """Case-insensitive, multi-valued, order-preserving, read-only headers.

    Example::

        h = Headers([(b"accept", b"text/html"), (b"x-a", b"1"), (b"x-a", b"2")])
        h["Accept"]        # 'text/html'
        h.getlist("x-a")   # ['1', '2']
    """

    __slots__ = ("raw",)

    def __init__(self, raw=None):
        if raw is None:
            raw = []
        elif isinstance(raw, dict):
            raw = [encode_header(k, v) for k, v in raw.items()]
        elif isinstance(raw, Headers):
            raw = list(raw.raw)
        self.raw = raw

    def get(self, key, default=None):
        """The first value for ``key`` (any case), or ``default``."""
        k = key.lower().encode("latin-1")
        for name, value in self.raw:
            if name == k:
                return value.decode("latin-1")
        return default

    def getlist(self, key):
        """Every value for ``key``, in order."""
        k = key.lower().encode("latin-1")
        return [v.decode("latin-1") for n, v in self.raw if n == k]

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        k = key.lower().encode("latin-1")
        return any(n == k for n, _ in self.raw)

    def keys(self):
        return [n.decode("latin-1") for n, _ in self.raw]

    def values(self):
        return [v.decode("latin-1") for _, v in self.raw]

    def items(self):
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.raw]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.raw)

    def __eq__(self, other):
        if isinstance(other, Headers):
            return sorted(self.raw) == sorted(other.raw)
        return NotImplemented

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.items())


class MutableHeaders(Headers):
    """Response headers: like ``Headers``, plus ``[k] = v``, ``append``, ``del``, ``setdefault``.

    Values containing CR, LF or NUL raise ``ValueError`` (no header injection).

    Example::

        response.headers["Cache-Control"] = "no-store"
        response.headers.append("Vary", "Accept")
    """

    __slots__ = ()

    def __setitem__(self, key, value):
        name, val = encode_header(key, value)
        raw = self.raw
        found = False
        i = 0
        while i < len(raw):
            if raw[i][0] == name:
                if found:
                    del raw[i]
                    continue
                raw[i] = (name, val)
                found = True
            i += 1
        if not found:
            raw.append((name, val))

    def __delitem__(self, key):
        k = key.lower().encode("latin-1")
        self.raw[:] = [(n, v) for n, v in self.raw if n != k]

    def append(self, key, value):
        """Add a value, keeping existing ones (for Set-Cookie, Vary...)."""
        self.raw.append(encode_header(key, value))

    def setdefault(self, key, value):
        """Set ``key`` unless present; return the value in force."""
        existing = self.get(key)
        if existing is None:
            self[key] = value
            return value
        return existing

    def update(self, other):
        """Set every key of a dict or Headers (replacing)."""
        items = other.items() if hasattr(other, "items") else other
        for k, v in items:
            self[k] = v


class ImmutableMultiDict:
    """A read-only multi-dict: ``[k]`` and ``get`` give the last value, ``getlist`` all of them."""

    __slots__ = ("_list", "_dict")

    def __init__(self, items=()):
        if isinstance(items, dict):
            items = list(items.items())
        elif isinstance(items, ImmutableMultiDict):
            items = items.multi_items()
        self._list = list(items)
        self._dict = {k: v for k, v in self._list}

    def getlist(self, key):
        """Every value for ``key``, in order."""
        return [v for k, v in self._list if k == key]

    def get(self, key, default=None):
        return self._dict.get(key, default)

    def multi_items(self):
        """Every (key, value) pair in order, repeated keys included."""
        return list(self._list)

    def keys(self):
        return self._dict.keys()

    def values(self):
        return self._dict.values()

    def items(self):
        return self._dict.items()

    def __getitem__(self, key):
        return self._dict[key]

    def __contains__(self, key):
        return key in self._dict

    def __iter__(self):
        return iter(self._dict)

    def __len__(self):
        return len(self._dict)

    def __eq__(self, other):
        if isinstance(other, ImmutableMultiDict):
            return sorted(self._list, key=repr) == sorted(other._list, key=repr)
        return NotImplemented

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self._list)


class QueryParams(ImmutableMultiDict):
    """The query string as a multi-dict, split on ``&`` only (never ``;``: bottle CVE-2020-28473).

    Example::

        q = QueryParams("page=2&tag=a&tag=b")
        q.get("page", 1, type=int)  # 2
        q.getlist("tag")            # ['a', 'b']
    """

    __slots__ = ()

    def __init__(self, query=""):
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(query, str):
            try:
                query = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS, separator="&")
            except ValueError:
                from .errors import HTTPException

                raise HTTPException(400, "too many query parameters (limit %d)" % MAX_QUERY_FIELDS) from None
        super().__init__(query)

    def get(self, key, default=None, type=None):
        """The last value for ``key``; with ``type=``, converted, or ``default`` when that fails."""
        value = self._dict.get(key)
        if value is None:
            return default
        if type is not None:
            try:
                return type(value)
            except (TypeError, ValueError):
                return default
        return value

    def __str__(self):
        return urlencode(self._list)


class FormData(ImmutableMultiDict):
    """A parsed form: str values for fields, ``UploadFile`` for files. ``await form.close()`` closes the files."""

    __slots__ = ()

    async def close(self):
        """Close every uploaded file."""
        for _, value in self._list:
            close = getattr(value, "close", None)
            if close is not None:
                await close()


class URL:
    """A parsed URL with ``scheme``, ``netloc``, ``hostname``, ``port``, ``path``, ``query``.

    Example::

        url = URL("https://example.com:8443/a?x=1")
        url.port                          # 8443
        str(url.replace(path="/b"))       # 'https://example.com:8443/b?x=1'
        str(url.include_query_params(y=2))  # 'https://example.com:8443/a?x=1&y=2'
    """

    __slots__ = ("_url", "_parts")

    def __init__(self, url=""):
        self._url = url
        self._parts = None

    @property
    def parts(self):
        if self._parts is None:
            self._parts = urlsplit(self._url)
        return self._parts

    scheme = property(lambda self: self.parts.scheme)
    netloc = property(lambda self: self.parts.netloc)
    path = property(lambda self: self.parts.path)
    query = property(lambda self: self.parts.query)
    fragment = property(lambda self: self.parts.fragment)
    hostname = property(lambda self: self.parts.hostname)

    @property
    def port(self):
        try:
            return self.parts.port
        except ValueError:
            return None

    def replace(self, **kwargs):
        """A copy with some of scheme, netloc, path, query, fragment replaced."""
        return URL(urlunsplit(self.parts._replace(**kwargs)))

    def include_query_params(self, **params):
        """A copy with these query parameters set (replacing existing ones)."""
        items = [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True) if k not in params]
        items.extend((k, str(v)) for k, v in params.items())
        return self.replace(query=urlencode(items))

    def __str__(self):
        return self._url

    def __repr__(self):
        return "URL(%r)" % self._url

    def __eq__(self, other):
        return str(self) == str(other)

    def __hash__(self):
        return hash(self._url)


class State:
    """An attribute bag: ``app.state.db = ...``, ``request.state.user = ...``.

    Reading a missing attribute raises ``AttributeError`` naming it.
    """

    def __init__(self, **values):
        self.__dict__.update(values)

    def __getattr__(self, name):
        raise AttributeError("state has no attribute %r" % name)

    def __contains__(self, name):
        return name in self.__dict__

    def __repr__(self):
        return "State(%s)" % ", ".join("%s=%r" % kv for kv in self.__dict__.items())


def quote_path(path):
    """Percent-encode a path for a Location header or url_for (keeps ``/``)."""
    return quote(path, safe="/:@!$&'()*+,;=-._~")
