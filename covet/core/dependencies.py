"""The markers that say where a handler argument comes from: ``Query``, ``Path``, ``Header``,
``Cookie``, ``Body``, ``Form``, ``File`` and ``Depends`` (the seed's ``covet.core.dependencies``).

They only describe; ``covet.core._injection`` reads them once, when a route is added, and builds
the code that fills the arguments of every request.

Example::

    from covet.core.dependencies import Depends, Query

    @app.get("/items")
    async def items(page: int = Query(1, ge=1), db=Depends(get_db)):
        ...
"""
import re
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional, Sequence, Union

__all__ = ["REQUIRED", "Param", "Query", "Path", "Header", "Cookie", "Body", "Form", "File", "Depends",
           "parse_size"]

# The default of a parameter that has none: the request must supply it.
REQUIRED: Any = ...

if TYPE_CHECKING:
    # A marker stands where the value it describes goes (``page: int = Query(1)``), so a type
    # checker must accept it for any annotation: deriving from Any says so, and keeps the
    # markers' own keyword arguments checked. At run time they are plain classes.
    _Marker = Any
else:
    _Marker = object


class Param(_Marker):  # type: ignore[misc]
    """Where a handler argument comes from, with its default and constraints (see Query, Path, ...)."""

    kind: ClassVar[Optional[str]] = None
    # The body media type the OpenAPI document names for this source.
    default_media_type: ClassVar[str] = "application/json"
    __slots__ = ("default", "default_factory", "alias", "gt", "ge", "lt", "le", "min_length", "max_length",
                 "pattern", "title", "description", "examples", "deprecated", "include_in_schema",
                 "convert_underscores", "embed", "media_type", "_regex")

    def __init__(self, default: Any = REQUIRED, *, default_factory: Optional[Callable[[], Any]] = None,
                 alias: Optional[str] = None, gt: Any = None, ge: Any = None, lt: Any = None, le: Any = None,
                 min_length: Optional[int] = None, max_length: Optional[int] = None,
                 pattern: Optional[str] = None, title: Optional[str] = None, description: Optional[str] = None,
                 examples: Optional[Sequence[Any]] = None, deprecated: Optional[bool] = None,
                 include_in_schema: bool = True, convert_underscores: bool = True, embed: bool = False,
                 media_type: Optional[str] = None) -> None:
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.gt, self.ge, self.lt, self.le = gt, ge, lt, le
        self.min_length, self.max_length = min_length, max_length
        self.pattern = pattern
        # Compiled here so that a bad pattern fails where it is written, not on a request.
        self._regex = re.compile(pattern) if pattern is not None else None
        self.title, self.description, self.examples = title, description, examples
        self.deprecated, self.include_in_schema = deprecated, include_in_schema
        self.convert_underscores = convert_underscores
        self.embed, self.media_type = embed, media_type or self.default_media_type

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and self.default_factory is None

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self.default)


class Query(Param):
    """A query-string parameter: ``page: int = Query(1, ge=1)``."""

    kind = "query"
    __slots__ = ()


class Path(Param):
    """A path parameter with constraints: ``item_id: int = Path(ge=1)``."""

    kind = "path"
    __slots__ = ()


class Header(Param):
    """A request header; ``user_agent`` reads ``User-Agent`` (``convert_underscores=False`` or ``alias=`` to change)."""

    kind = "header"
    __slots__ = ()


class Cookie(Param):
    """A request cookie: ``session_id: str = Cookie(None)``."""

    kind = "cookie"
    __slots__ = ()


class Body(Param):
    """The JSON body, or with ``embed=True`` the key of that name in it: ``note: str = Body(embed=True)``."""

    kind = "body"
    __slots__ = ()


class Form(Param):
    """One field of a form body (urlencoded or multipart), read and checked like a query value.

    Example::

        @app.post("/login")
        async def login(username: str = Form(min_length=1), remember: bool = Form(False)):
            ...
    """

    kind = "form"
    default_media_type = "application/x-www-form-urlencoded"
    __slots__ = ()


# "50MB", "512 KiB", "1gb": a number and an optional unit. KB, MB and GB count in 1024s, as
# nginx's client_max_body_size does; the IEC spellings (KiB, MiB, GiB) mean the same.
_SIZE = re.compile(r"\s*([0-9]{1,15})\s*(b|kb|kib|k|mb|mib|m|gb|gib|g)?\s*", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
          "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}


def parse_size(value: Union[int, str]) -> int:
    """A size in bytes from an int or a string such as ``"50MB"`` (KB, MB, GB count in 1024s).

    Raises ``ValueError`` for anything else, or for less than one byte.

    Example::

        parse_size("50MB")  # 52428800
        parse_size(1024)    # 1024
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("a size is an int of bytes or a string such as '50MB', got %r" % (value,))
    if isinstance(value, str):
        m = _SIZE.fullmatch(value)
        if m is None:
            raise ValueError("a size is a number with an optional unit (B, KB, MB, GB), got %r" % value)
        size = int(m.group(1)) * _UNITS[m.group(2) and m.group(2).lower()]
    else:
        size = value
    if size < 1:
        raise ValueError("a size must be at least one byte, got %r" % (value,))
    return size


class File(Param):
    """A file part of a multipart form: ``upload: UploadFile = File()``, or several with
    ``List[UploadFile]``; annotated ``bytes`` (or ``List[bytes]``) the content is read whole and
    the file closed. ``max_size`` (bytes, or a string such as ``"50MB"``) answers a larger file
    with 413.

    Example::

        @app.post("/avatar")
        async def avatar(picture: UploadFile = File(max_size="2MB")):
            return {"name": picture.filename, "bytes": picture.size}
    """

    kind = "file"
    default_media_type = "multipart/form-data"
    __slots__ = ("max_size",)

    def __init__(self, default: Any = REQUIRED, *, max_size: Union[int, str, None] = None,
                 **options: Any) -> None:
        super().__init__(default, **options)
        self.max_size = parse_size(max_size) if max_size is not None else None


class Depends(_Marker):  # type: ignore[misc]
    """A dependency: ``db = Depends(get_db)``; sync, async, generator or async-generator.

    Its own parameters are injected the same way; a dependency used twice
    in one request runs once (``use_cache=False`` to run it each time).

    Example::

        async def get_db():
            async with pool.connection() as db:
                yield db

        @app.get("/users")
        async def users(db=Depends(get_db)):
            return await db.fetch_all("SELECT name FROM users")
    """

    __slots__ = ("dependency", "use_cache")

    def __init__(self, dependency: Optional[Callable[..., Any]] = None, *, use_cache: bool = True) -> None:
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        return "Depends(%s)" % getattr(self.dependency, "__qualname__", self.dependency)
