"""The markers that say where a handler argument comes from: ``Query``, ``Path``, ``Header``,
``Cookie``, ``Body`` and ``Depends`` (the seed's ``covet.core.dependencies``).

They only describe; ``covet.core._injection`` reads them once, when a route is added, and builds
the code that fills the arguments of every request.

Example::

    from covet.core.dependencies import Depends, Query

    @app.get("/items")
    async def items(page: int = Query(1, ge=1), db=Depends(get_db)):
        ...
"""
import re

__all__ = ["REQUIRED", "Param", "Query", "Path", "Header", "Cookie", "Body", "Depends"]

# The default of a parameter that has none: the request must supply it.
REQUIRED = ...


class Param:
    """Where a handler argument comes from, with its default and constraints (see Query, Path, ...)."""

    kind = None
    __slots__ = ("default", "default_factory", "alias", "gt", "ge", "lt", "le", "min_length", "max_length",
                 "pattern", "title", "description", "examples", "deprecated", "include_in_schema",
                 "convert_underscores", "embed", "media_type", "_regex")

    def __init__(self, default=REQUIRED, *, default_factory=None, alias=None, gt=None, ge=None, lt=None,
                 le=None, min_length=None, max_length=None, pattern=None, title=None, description=None,
                 examples=None, deprecated=None, include_in_schema=True, convert_underscores=True,
                 embed=False, media_type="application/json"):
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.gt, self.ge, self.lt, self.le = gt, ge, lt, le
        self.min_length, self.max_length = min_length, max_length
        self.pattern = pattern
        self._regex = re.compile(pattern) if pattern is not None else None
        self.title, self.description, self.examples = title, description, examples
        self.deprecated, self.include_in_schema = deprecated, include_in_schema
        self.convert_underscores = convert_underscores
        self.embed, self.media_type = embed, media_type

    @property
    def required(self):
        return self.default is REQUIRED and self.default_factory is None

    def __repr__(self):
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


class Depends:
    """A dependency: ``db = Depends(get_db)``; sync, async, generator or async-generator.

    Its own parameters are injected the same way; a dependency used twice
    in one request runs once (``use_cache=False`` to run it each time).
    """

    __slots__ = ("dependency", "use_cache")

    def __init__(self, dependency=None, *, use_cache=True):
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self):
        return "Depends(%s)" % getattr(self.dependency, "__qualname__", self.dependency)
