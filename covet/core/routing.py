"""The router: path templates, converters, a segment tree, reverse routing.

Static paths are found with one dict lookup. Everything else goes through
a tree of path segments, compiled into Python source on first use: literal
children first, then typed parameters, then ``str`` parameters, then
``path`` (rest of the path), backtracking when a branch fails. The path is
split on its raw (still percent-encoded) slashes and each segment decoded
once, so ``%2F`` inside a segment never becomes a new segment.
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

import math
import re
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar
from urllib.parse import quote, unquote, urlencode

from ._codegen import Emitter

__all__ = [
    "Router", "Route", "Mount", "Converter", "StringConverter", "IntConverter", "FloatConverter",
    "UUIDConverter", "PathConverter", "NoMatchFound", "METHODS", "RouteGroup", "RouteDecorators", "CallableT",
]

#: A handler, middleware or hook as the user wrote it: decorators hand it back unchanged, so a type
#: checker still sees the decorated function as itself.
CallableT = TypeVar("CallableT", bound=Callable[..., Any])

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


class NoMatchFound(LookupError):
    """url_for: no route has that name, or the parameters do not fit it."""


class Converter:
    """Turns one path segment into a value and back.

    Subclass it, set ``regex`` (for one segment, without anchors) and
    override ``convert`` and ``to_url``; register it with
    ``app.register_converter("slug", SlugConverter())``.
    """

    regex: str = "[^/]+"
    # Lower tries first among parameters at the same position.
    priority: int = 50
    # True when convert() returns its input (no conversion pass needed).
    identity: bool = False
    # The Python type convert() returns, when it is one (lets the injector
    # trust a value the router already converted).
    value_type: Optional[type] = None

    def __init__(self) -> None:
        self._match = re.compile(self.regex).fullmatch

    def matches(self, segment: str) -> bool:
        return self._match(segment) is not None

    def convert(self, value: str) -> Any:
        return value

    def to_url(self, value: Any) -> str:
        return str(value)


class StringConverter(Converter):
    """``{name}``: one non-empty segment, as str."""

    priority = 90
    identity = True
    value_type = str

    def matches(self, segment):  # PERF: the common case needs no regex
        return segment != ""


class IntConverter(Converter):
    """``{name:int}``: ASCII digits only, as int."""

    regex = "[0-9]{1,30}"
    priority = 10
    value_type = int

    def matches(self, segment):  # PERF: str methods beat a regex call
        return segment.isdigit() and segment.isascii() and len(segment) <= 30

    def convert(self, value):
        return int(value)

    def to_url(self, value):
        if isinstance(value, bool):
            raise ValueError("%r is a bool, not an integer" % value)
        number = int(value)
        if not isinstance(value, str) and number != value:  # 1.5 would silently become 1
            raise ValueError("%r is not an integer" % (value,))
        value = number
        if value < 0:
            raise ValueError("negative integers are not supported by the int converter")
        return str(value)


class FloatConverter(Converter):
    """``{name:float}``: digits with an optional fraction, as float."""

    regex = r"[0-9]{1,30}(?:\.[0-9]{1,30})?"
    priority = 20
    value_type = float

    def convert(self, value):
        return float(value)

    def to_url(self, value):
        if isinstance(value, bool):
            raise ValueError("%r is a bool, not a number" % value)
        value = float(value)
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise ValueError("the float converter takes finite non-negative numbers")
        if value == int(value):
            return "%d" % value
        # repr is the shortest text that reads back as the same float; the
        # converter takes no exponent, so 1e-07 is written out in full.
        text = repr(value)
        if "e" in text:
            import decimal  # only here: url_for with a tiny or huge float

            text = format(decimal.Decimal(text), "f")
        return text


def _uuid_from_hex(value, _UUID=uuid.UUID):
    """uuid.UUID(value) for a segment whose shape the converter's regex already proved.

    PERF: ``UUID(hex)`` strips a ``urn:uuid:`` prefix and braces, removes
    hyphens and checks the length before it parses; the shape is known here,
    so the hex is parsed once and handed over as ``int=``, which the public
    constructor takes with only a range check.
    """
    return _UUID(int=int(value.replace("-", ""), 16))


class UUIDConverter(Converter):
    """``{name:uuid}``: a hyphenated UUID, as uuid.UUID."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    priority = 15
    value_type = uuid.UUID

    def convert(self, value):
        return _uuid_from_hex(value)


class PathConverter(Converter):
    """``{name:path}``: the rest of the path, slashes included (last position only)."""

    regex = ".*"
    priority = 100
    identity = True
    value_type = str

    def matches(self, segment):  # any text, newlines too
        return True


DEFAULT_CONVERTERS = {
    "str": StringConverter(),
    "int": IntConverter(),
    "float": FloatConverter(),
    "uuid": UUIDConverter(),
    "path": PathConverter(),
}

# pchar characters (RFC 3986 §3.3) that need no percent-encoding in a path.
_SAFE = "@:!$&'()*+,;=-._~"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?\}")


class _Pattern:
    """A segment with literals around parameters, such as ``{name}.{ext:str}``."""

    priority = 5

    def __init__(self, template, converters):
        regex, self.convs, pos = "", [], 0
        for m in _PARAM.finditer(template):
            regex += re.escape(template[pos:m.start()])
            conv = converters[m.group(2) or "str"]
            regex += "(%s)" % (conv.regex if not isinstance(conv, StringConverter) else "[^/]+?")
            self.convs.append(conv)
            pos = m.end()
        regex += re.escape(template[pos:])
        self.key = ("re", regex)
        self._match = re.compile(regex).fullmatch

    def match(self, decoded):
        m = self._match(decoded)
        return None if m is None else m.groups()


def _quote_value(value, is_path):
    """Percent-encode a parameter value for a URL path.

    "." and ".." are encoded as well: clients remove such dot segments
    (RFC 3986 §5.2.4) before sending, so the value would never arrive.
    """
    if is_path:
        return "/".join(_quote_value(part, False) for part in value.split("/"))
    if value in (".", ".."):
        return "%2E" * len(value)
    return quote(value, safe=_SAFE)


def _split_template(path, converters):
    """Compile a path template into tree keys and parameter names."""
    if not path.startswith("/"):
        raise ValueError("route path must start with '/': %r" % path)
    keys, names = [], []
    segments = path[1:].split("/")
    for i, seg in enumerate(segments):
        params = list(_PARAM.finditer(seg))
        if not params:
            if "{" in seg or "}" in seg:
                raise ValueError("malformed parameter in route path %r: %r" % (path, seg))
            keys.append(("s", seg))
            continue
        for m in params:
            conv_name = m.group(2) or "str"
            if conv_name not in converters:
                raise ValueError("unknown converter %r in route path %r" % (conv_name, path))
            if m.group(1) in names:
                raise ValueError("parameter %r appears twice in route path %r" % (m.group(1), path))
            names.append(m.group(1))
        if len(params) == 1 and params[0].group(0) == seg:
            conv = converters[params[0].group(2) or "str"]
            if isinstance(conv, PathConverter):
                if i != len(segments) - 1:
                    raise ValueError("a {name:path} parameter must be the last segment: %r" % path)
                keys.append(("path", conv))
            else:
                keys.append(("p", conv))
        else:
            if any(m.group(2) == "path" for m in params):
                raise ValueError("a {name:path} parameter must fill its whole segment: %r" % path)
            keys.append(("re", _Pattern(seg, converters)))
    return keys, names


def _param_builder(names, convs):
    """``build(values) -> {name: converted value}`` for one route, generated once.

    PERF: a dict display with the conversions inlined costs a third of
    ``dict(zip(names, [c.convert(v) ...]))``. Names are identifiers
    (``_PARAM`` guarantees it), so the generated source is safe.
    """
    namespace = {}
    items = []
    for i, (name, conv) in enumerate(zip(names, convs)):
        if conv.identity:
            expr = "v[%d]" % i
        elif type(conv) is IntConverter:
            expr = "int(v[%d])" % i
        elif type(conv) is UUIDConverter:
            namespace["_uuid"] = _uuid_from_hex
            expr = "_uuid(v[%d])" % i
        else:
            namespace["c%d" % i] = conv.convert
            expr = "c%d(v[%d])" % (i, i)
        items.append("%r: %s" % (name, expr))
    e = Emitter()
    with e.block("def build(v)"):
        e.line("return {%s}" % ", ".join(items))
    exec(compile(e.source(), "<covet route params>", "exec"), namespace)
    return namespace["build"]


class _Node:
    __slots__ = ("static", "dynamic", "catchall", "routes")

    def __init__(self):
        self.static = {}
        self.dynamic = []   # [(key, matcher, node)] sorted by priority
        self.catchall = None  # (converter, node)
        self.routes = None  # {method: Route}


class RouteDecorators:
    """The route decorators, written once over ``add_route`` for Covet, Router and RouteGroup.

    Each returns the function it decorates, unchanged.

    Example::

        @app.get("/items/{item_id:int}")          # also post, put, patch, delete, options, head
        async def read_item(item_id: int):
            return {"id": item_id}

        @app.route("/items", methods=["GET", "POST"])
        async def items(request: Request):
            ...
    """

    __slots__ = ()

    add_route: Callable[..., Route]  # each class that mixes this in defines it

    def route(self, path: str, methods: Optional[Iterable[str]] = None, name: Optional[str] = None,
              **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator: ``@app.route("/x", methods=["GET", "POST"])`` (GET when ``methods`` is omitted)."""
        def decorator(fn: CallableT) -> CallableT:
            self.add_route(path, fn, methods=methods, name=name, **options)
            return fn
        return decorator

    def get(self, path: str, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for a GET route; HEAD is answered from it, with no body."""
        return self.route(path, methods=["GET"], **options)

    def post(self, path: str, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for a POST route."""
        return self.route(path, methods=["POST"], **options)

    def put(self, path: str, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for a PUT route."""
        return self.route(path, methods=["PUT"], **options)

    def patch(self, path: str, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for a PATCH route."""
        return self.route(path, methods=["PATCH"], **options)

    def delete(self, path: str, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for a DELETE route."""
        return self.route(path, methods=["DELETE"], **options)

    def options(self, path: str, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for an OPTIONS route (without one, OPTIONS answers 204 with Allow)."""
        return self.route(path, methods=["OPTIONS"], **options)

    def head(self, path: str, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for an explicit HEAD route."""
        return self.route(path, methods=["HEAD"], **options)


class Route:
    """One path template bound to an endpoint for a set of methods."""

    __slots__ = ("path", "endpoint", "methods", "name", "middleware", "dependencies", "options",
                 "param_names", "keys", "handle", "is_static", "include_in_schema", "plan",
                 "build_params", "param_convs")

    def __init__(self, path: str, endpoint: Callable[..., Any], methods: Set[str], name: Optional[str],
                 middleware: Iterable[Any], dependencies: Iterable[Any], options: Dict[str, Any],
                 converters: Dict[str, Converter]) -> None:
        self.path = path
        self.endpoint = endpoint
        self.methods = methods
        self.name = name
        self.middleware = list(middleware)
        self.dependencies = list(dependencies)
        self.options = options
        self.include_in_schema = options.get("include_in_schema", True)
        self.keys, self.param_names = _split_template(path, converters)
        self.is_static = not self.param_names
        convs = []
        for kind, key in self.keys:
            if kind == "re":
                convs.extend(key.convs)
            elif kind != "s":
                convs.append(key)
        self.param_convs = tuple(convs)
        self.build_params = _param_builder(self.param_names, convs)
        self.handle: Optional[Callable[..., Any]] = None  # set by the Router's compile hook
        self.plan = None  # the injector plan, set with handle

    def url_path(self, params: Dict[str, Any]) -> str:
        """Build this route's path from parameter values (consumed from ``params``)."""
        out = []
        for tmpl, (kind, key) in zip(self.path[1:].split("/"), self.keys):
            if kind == "s":
                out.append(quote(key, safe=_SAFE))
                continue
            convs = key.convs if kind == "re" else [key]
            seg, text, values, pos = "", "", [], 0
            for m, conv in zip(_PARAM.finditer(tmpl), convs):
                name = m.group(1)
                value = conv.to_url(params.pop(name))
                # The path must lead back here: the value has to be one its
                # converter takes, as the router will see it after decoding.
                if kind != "re" and not conv.matches(value):
                    raise ValueError("%r is not a value of {%s} (its converter refuses it)" % (value, name))
                values.append(value)
                literal = tmpl[pos:m.start()]
                text += literal + value
                seg += quote(literal, safe=_SAFE) + _quote_value(value, kind == "path")
                pos = m.end()
            if kind == "re" and key.match(text + tmpl[pos:]) != tuple(values):
                raise ValueError("%r would not split back into the values given" % (text + tmpl[pos:]))
            out.append(seg + quote(tmpl[pos:], safe=_SAFE))
        url = "/" + "/".join(out)
        # Never produce a scheme-relative URL (//evil.com or /\evil.com):
        # a redirect to it would leave the site (werkzeug CVE-2020-28724).
        if url.startswith("//"):
            url = "/%2F" + url[2:]
        return url

    def __repr__(self) -> str:
        return "Route(%r, methods=%r, name=%r)" % (self.path, sorted(self.methods), self.name)


class Mount:
    """Another app served under a path prefix."""

    __slots__ = ("prefix", "app", "name")

    def __init__(self, prefix: str, app: Any, name: Optional[str] = None) -> None:
        self.prefix = prefix.rstrip("/")
        self.app = app
        self.name = name


class Router(RouteDecorators):
    """Routes in registration order, indexed for matching; usable on its own and included into an app.

    Example::

        router = Router()

        @router.get("/items/{item_id:int}")
        async def read_item(item_id: int):
            return {"id": item_id}

        app.include_router(router, prefix="/api")
    """

    def __init__(self, prefix: str = "", middleware: Optional[Sequence[Any]] = None,
                 dependencies: Optional[Sequence[Any]] = None, tags: Optional[Sequence[str]] = None,
                 redirect_slashes: bool = True) -> None:
        self.prefix = prefix.rstrip("/")
        self.middleware = list(middleware or ())
        self.dependencies = list(dependencies or ())
        self.tags = list(tags or ())
        self.redirect_slashes = redirect_slashes
        self.routes: List[Route] = []
        self.mounts: List[Mount] = []
        self.converters = dict(DEFAULT_CONVERTERS)
        self._static = {}   # decoded path -> {method: Route}
        self._root = _Node()
        self._compiled = None  # the generated match(), once a request needed it
        self.matcher_source = None
        self._names = {}
        # Hook that turns a Route into its request handler; the app sets it
        # to build the injector. A bare Router keeps routes for inclusion.
        self.compile_route: Optional[Callable[[Route], Callable[..., Any]]] = None

    # -- registration -------------------------------------------------
    def register_converter(self, name: str, converter: Converter) -> None:
        """Make ``{x:name}`` available in paths registered from now on."""
        if not isinstance(converter, Converter):
            raise TypeError("converter must be a covet.routing.Converter instance")
        self.converters[name] = converter

    def add_route(self, path: str, endpoint: Callable[..., Any], methods: Optional[Iterable[str]] = None,
                  name: Optional[str] = None, middleware: Iterable[Any] = (), dependencies: Iterable[Any] = (),
                  **options: Any) -> Route:
        """Register ``endpoint`` for ``path``; returns the Route. Conflicts raise ValueError."""
        if methods is None:
            methods = ["GET"]
        if isinstance(methods, str):
            methods = [methods]
        methods = {m.upper() for m in methods}
        for m in methods:
            if not m or not m.isalpha():
                raise ValueError("invalid HTTP method %r" % m)
        if self.tags and "tags" not in options:
            options["tags"] = list(self.tags)
        full_path = self.prefix + path
        if name is None:
            name = getattr(endpoint, "__name__", None)
        route = Route(full_path, endpoint, methods, name,
                      self.middleware + list(middleware), self.dependencies + list(dependencies),
                      options, self.converters)
        # Compile first: a handler that cannot be compiled must leave no
        # half-registered route behind.
        if self.compile_route is not None:
            route.handle = self.compile_route(route)
        self._insert(route)
        self.routes.append(route)
        if name and name not in self._names:
            self._names[name] = route
        return route

    def _insert(self, route):
        if self._compiled is not None:  # recompiled on the next match
            if self.__dict__.get("match") is self._compiled:
                del self.__dict__["match"]
            self._compiled = None
        node = self._root
        for kind, key in route.keys:
            if kind == "s":
                node = node.static.setdefault(key, _Node())
            elif kind == "path":
                if node.catchall is None:
                    node.catchall = (key, _Node())
                elif type(node.catchall[0]) is not type(key):
                    raise ValueError("route %r conflicts with another {..:path} route at the same position" % route.path)
                node = node.catchall[1]
            else:
                ident = (type(key).__name__, getattr(key, "regex", None)) if kind == "p" else key.key
                for k, _m, child in node.dynamic:
                    if k == ident:
                        node = child
                        break
                else:
                    child = _Node()
                    node.dynamic.append((ident, key, child))
                    node.dynamic.sort(key=lambda e: e[1].priority)
                    node = child
        if node.routes is None:
            node.routes = {}
        for m in route.methods:
            other = node.routes.get(m)
            if other is not None:
                raise ValueError(
                    "route conflict: %s %s (%s) overlaps %s %s (%s), registered earlier"
                    % (m, route.path, route.name, m, other.path, other.name)
                )
        for m in route.methods:
            node.routes[m] = route
        if route.is_static:
            self._static.setdefault(route.path, {}).update((m, route) for m in route.methods)

    def include_router(self, router: Router, prefix: str = "") -> None:
        """Copy another Router's routes into this one, under ``prefix``."""
        prefix = prefix.rstrip("/")
        for name, conv in router.converters.items():
            self.converters.setdefault(name, conv)
        for r in router.routes:
            opts = dict(r.options)
            self.add_route(prefix + r.path, r.endpoint,
                           methods=r.methods, name=r.name, middleware=r.middleware,
                           dependencies=r.dependencies, **opts)
        for m in router.mounts:
            self.mount(prefix + m.prefix, m.app, m.name)

    def mount(self, prefix: str, app: Any, name: Optional[str] = None) -> None:
        """Serve another app (anything with ``dispatch``) under ``prefix``."""
        if not prefix.startswith("/") or prefix == "/":
            raise ValueError("mount prefix must start with '/' and not be '/' alone: %r" % prefix)
        self.mounts.append(Mount(prefix, app, name))

    def group(self, prefix: str, middleware: Optional[Sequence[Any]] = None,
              dependencies: Optional[Sequence[Any]] = None, tags: Optional[Sequence[str]] = None) -> RouteGroup:
        """A RouteGroup under ``prefix``: ``api = app.group("/api", middleware=[...], dependencies=[...])``."""
        return RouteGroup(self, prefix, middleware, dependencies, tags)

    route_group = group

    # -- matching -----------------------------------------------------
    def match(self, method, raw_path):
        """Find the route for a request.

        Returns ``(route, params)`` on a match, ``(None, allowed_methods)``
        when the path exists but not for this method, and ``(None, None)``
        when nothing matches.
        """
        # The first call compiles the whole lookup (static dict, then the
        # tree) into one function and binds it on the instance, where it
        # shadows this method until a route is added. PERF: every later call
        # goes straight to the generated code, one call level fewer.
        # A bound method taken before the first call still ends up here: it
        # finds the compiled function and calls it.
        matcher = self._compiled
        if matcher is None:
            matcher, self.matcher_source = compile_tree(self._root, self._static, self._miss)
            self._compiled = self.__dict__["match"] = matcher
        return matcher(method, raw_path)

    def _miss(self, segments):
        """No route for this method: ``(None, allowed methods)`` if the path exists, else ``(None, None)``."""
        allowed = set()
        _collect(self._root, segments, 1, allowed)
        if allowed:
            if "GET" in allowed:
                allowed.add("HEAD")
            allowed.add("OPTIONS")
            return None, allowed
        return None, None

    def find_mount(self, raw_path: str) -> Tuple[Optional[Mount], Optional[str]]:
        """The mount whose prefix starts ``raw_path``, and the rest of the path."""
        for m in self.mounts:
            p = m.prefix
            if raw_path == p or (raw_path.startswith(p) and raw_path[len(p)] == "/"):
                return m, raw_path[len(p):] or "/"
        return None, None

    def all_methods(self) -> Set[str]:
        """Every method some route answers (for ``OPTIONS *``)."""
        methods = {"OPTIONS"}
        for r in self.routes:
            methods |= r.methods
        if "GET" in methods:
            methods.add("HEAD")
        return methods

    # -- reverse routing ----------------------------------------------
    def url_path_for(self, name: str, /, **params: Any) -> str:
        """The path of the route called ``name`` (first registered wins); extra params become the query string.

        Example::

            app.url_for("get_user", user_id=3, tab="posts")  # '/users/3?tab=posts'
        """
        route = self._names.get(name)
        if route is None:
            for m in self.mounts:
                finder = getattr(m.app, "url_for", None)
                if finder is not None:
                    try:
                        return m.prefix + finder(name, **params)
                    except NoMatchFound:
                        continue
            raise NoMatchFound("no route named %r" % name)
        missing = [p for p in route.param_names if p not in params]
        if missing:
            raise NoMatchFound("route %r needs parameter(s) %s" % (name, ", ".join(missing)))
        params = dict(params)
        try:
            path = route.url_path(params)
        except (ValueError, TypeError) as exc:
            raise NoMatchFound("route %r: %s" % (name, exc)) from None
        items: List[Tuple[str, str]] = []
        for k, v in params.items():  # None leaves the key out, as in werkzeug and Starlette
            if isinstance(v, (list, tuple)):
                items.extend((k, str(x)) for x in v if x is not None)
            elif v is not None:
                items.append((k, str(v)))
        if items:
            path += "?" + urlencode(items)
        return path


# Nodes with more static children than this dispatch through a dict of
# generated sub-functions instead of a chain of string compares.
_FANOUT = 4


class _Codegen:
    """Compile the segment tree into the source of one matcher function.

    PERF (falcon's compiled router does the same): nested ``if`` blocks
    replace the interpreted walk; falling out of a block is backtracking, so
    the precedence is the walk's: literal, then typed, then str, then path.
    The source is kept on the router as ``matcher_source`` for inspection.
    """

    def __init__(self):
        self.ns = {"_dec": _decode, "_UUID": uuid.UUID, "_fromhex": bytes.fromhex, "_from_bytes": int.from_bytes}
        self.uuid_bytes = {}  # segment variable -> its bytes, where a UUID test made them
        self.functions = []  # Emitters, one per generated function
        self.counter = 0

    def name(self, prefix, obj):
        self.counter += 1
        key = "%s%d" % (prefix, self.counter)
        self.ns[key] = obj
        return key

    def carried(self, captured):
        """The locals a sub-function needs from its caller: the captured values and their UUID bytes."""
        return "".join(", " + c for c in captured + [self.uuid_bytes[c] for c in captured if c in self.uuid_bytes])

    def function(self, fname, node, depth, captured):
        e = Emitter()
        with e.block("def %s(segs, n, method%s)" % (fname, self.carried(captured))):
            self.node(node, depth, captured, e)
            e.line("return None")
        self.functions.append(e)

    def pick(self, routes, e, captured, extra=None):
        r = self.name("R", routes)
        vals = list(captured) + ([extra] if extra else [])
        e.line("r = %s.get(method)" % r)
        with e.block("if r is None and method == 'HEAD'"):
            e.line("r = %s.get('GET')" % r)
        with e.block("if r is not None"):
            self.build(set(routes.values()), vals, e)

    def build(self, routes, vals, e):
        """Return ``r, {name: converted value}``, the conversions inlined.

        PERF: one call and one tuple fewer than handing raw values to
        ``route.build_params``. Inlined only when every route at the leaf
        names its parameters alike and uses the same converter objects.
        """
        first = next(iter(routes))
        if any(r.param_names != first.param_names or
               any(a is not b for a, b in zip(r.param_convs, first.param_convs)) for r in routes):
            e.line("return r, r.build_params((%s))" % "".join(v + ", " for v in vals))
            return
        items = []
        for name, conv, val in zip(first.param_names, first.param_convs, vals):
            if conv.identity:
                expr = val
            elif type(conv) is IntConverter:
                expr = "int(%s)" % val
            elif type(conv) is UUIDConverter:  # _uuid_from_hex, inlined
                b = self.uuid_bytes.get(val)
                # PERF: the matcher's UUID test already made the 16 bytes; one C call makes the int
                value = ("_from_bytes(%s, 'big')" % b) if b else ("int(%s.replace('-', ''), 16)" % val)
                expr = "_UUID(int=%s)" % value
            else:
                expr = "%s(%s)" % (self.name("C", conv.convert), val)
            items.append("%r: %s" % (name, expr))
        e.line("return r, {%s}" % ", ".join(items))

    def node(self, node, i, captured, e):
        if node.routes:
            with e.block("if n == %d" % (i + 1)):
                self.pick(node.routes, e, captured)
        catchall = node.catchall
        if catchall is not None and catchall[1].routes:
            # the rest of the path, possibly empty
            with e.block("if n == %d" % (i + 1)):
                self.pick(catchall[1].routes, e, captured, "''")
        if not (node.static or node.dynamic or (catchall is not None and catchall[1].routes)):
            return
        with e.block("if n > %d" % (i + 1)):
            self.children(node, i, captured, e)

    def children(self, node, i, captured, e):
        """Segment ``i + 1`` exists: try the literals, then the parameters, then the rest of the path."""
        # Segments arrive decoded. A literal never holds '/', so a segment
        # that does (from %2F) can never equal one: no extra check needed.
        s = "s%d" % i
        e.line("%s = segs[%d]" % (s, i + 1))
        if len(node.static) > _FANOUT:
            table = {}
            for key, child in node.static.items():
                fname = self.name("F", None)
                self.function(fname, child, i + 1, captured)
                table[key] = fname
            t = self.name("T", table)  # names now; functions bound after exec
            e.line("f = %s.get(%s)" % (t, s))
            with e.block("if f is not None"):
                e.line("found = f(segs, n, method%s)" % self.carried(captured))
                with e.block("if found is not None"):
                    e.line("return found")
        else:
            for key, child in node.static.items():
                with e.block("if %s == %r" % (s, key)):
                    self.node(child, i + 1, captured, e)
        for _key, matcher, child in node.dynamic:
            if isinstance(matcher, _Pattern):
                m = self.name("P", matcher.match)
                g = "g%d" % i
                e.line("%s = %s(%s)" % (g, m, s))
                with e.block("if %s is not None" % g):
                    # a pattern's groups become locals so that deeper code can name them
                    names = []
                    for k in range(len(matcher.convs)):
                        nm = "q%d_%d" % (i, k)
                        e.line("%s = %s[%d]" % (nm, g, k))
                        names.append(nm)
                    self.node(child, i + 1, captured + names, e)
            elif type(matcher) is UUIDConverter:
                # PERF: the same language as the regex, in half its time:
                # hyphens in place, and bytes.fromhex() taking exactly 16
                # bytes from the rest (it refuses the sign, underscore, 0x
                # and non-ASCII digits that int(..., 16) would take, and
                # whitespace or extra hyphens leave fewer than 16 bytes).
                b = "b%d" % i
                with e.block("if len(%s) == 36 and %s[8] == %s[13] == %s[18] == %s[23] == '-'" % ((s,) * 5)):
                    with e.block("try"):
                        e.line("%s = _fromhex(%s.replace('-', ''))" % (b, s))
                    with e.block("except ValueError"):
                        e.line("%s = b''" % b)
                    with e.block("if len(%s) == 16" % b):
                        self.uuid_bytes[s] = b
                        self.node(child, i + 1, captured + [s], e)
                        del self.uuid_bytes[s]
            else:
                if isinstance(matcher, StringConverter):
                    test = s
                elif type(matcher) is IntConverter:
                    test = "%s.isdigit() and %s.isascii() and len(%s) <= 30" % (s, s, s)
                elif type(matcher).matches is Converter.matches:
                    test = "%s(%s) is not None" % (self.name("M", matcher._match), s)  # the regex itself
                else:
                    test = "%s(%s)" % (self.name("M", matcher.matches), s)
                with e.block("if %s" % test):
                    self.node(child, i + 1, captured + [s], e)
        catchall = node.catchall
        if catchall is not None and catchall[1].routes:
            rest = "rest%d" % i
            e.line("%s = '/'.join(segs[%d:])" % (rest, i + 1))
            self.pick(catchall[1].routes, e, captured, rest)


def compile_tree(root, static, miss):
    """(match(method, raw_path) -> (route, params) or a miss, its source).

    ``static`` maps raw paths to ``{method: Route}``; ``miss(segments)``
    answers when no route fits (405's Allow, or nothing).
    """
    cg = _Codegen()
    cg.ns["_static_get"] = static.get
    cg.ns["_miss"] = miss
    e = Emitter()
    with e.block("def match(method, raw_path)"):
        e.line("# '*' (OPTIONS *) or garbage: never a route, never the root")
        with e.block("if raw_path[:1] != '/'"):
            e.line("return None, None")
        with e.block("if '%' not in raw_path"):
            e.line("methods = _static_get(raw_path)")
            with e.block("if methods is not None"):
                e.line("r = methods.get(method)")
                with e.block("if r is None and method == 'HEAD'"):
                    e.line("r = methods.get('GET')")
                with e.block("if r is not None"):
                    e.line("return r, {}")
            e.line("segs = raw = raw_path.split('/')")
        # Percent-decoding happens once per segment, after splitting on the
        # raw '/', so that %2F stays inside its segment; segs[0] is the empty
        # string before the first slash.
        with e.block("else"):
            e.line("raw = raw_path.split('/')")
            e.line("segs = [_dec(x) for x in raw]")
        e.line("n = len(segs)")
        with e.block("try"):  # an empty router leaves the block to the emitter's pass
            cg.node(root, 0, [], e)
        with e.block("except ValueError"):
            e.line("# a custom converter's regex matched but convert() refused")
            e.line("return None, None")
        e.line("return _miss(raw)")
    cg.functions.append(e)
    source = "\n".join(f.source() for f in reversed(cg.functions))
    exec(compile(source, "<covet router>", "exec"), cg.ns)
    for key, value in list(cg.ns.items()):
        if key.startswith("T") and isinstance(value, dict):
            for seg, fname in list(value.items()):
                value[seg] = cg.ns[fname]
    return cg.ns["match"], source


def _decode(segment):
    # Bytes that are not UTF-8 become U+FFFD, as in uvicorn and werkzeug: lone
    # surrogates would make every JSON or HTML rendering of the value fail (500).
    return unquote(segment, errors="replace") if "%" in segment else segment


def _collect(node, segs, i, allowed):
    """Every method any route matching this path answers (for 405's Allow)."""
    if i == len(segs):
        if node.routes:
            allowed.update(node.routes)
        if node.catchall is not None and node.catchall[1].routes:
            allowed.update(node.catchall[1].routes)
        return
    decoded = _decode(segs[i])
    child = node.static.get(decoded)
    if child is not None and "/" not in decoded:
        _collect(child, segs, i + 1, allowed)
    for _key, matcher, child in node.dynamic:
        ok = matcher.match(decoded) is not None if isinstance(matcher, _Pattern) else matcher.matches(decoded)
        if ok:
            _collect(child, segs, i + 1, allowed)
    if node.catchall is not None and node.catchall[1].routes:
        allowed.update(node.catchall[1].routes)


class RouteGroup(Router):
    """Routes under a common prefix with shared middleware, dependencies and tags.

    Example::

        api = app.group("/api/v1", middleware=[require_key], dependencies=[Depends(audit)])

        @api.get("/items")
        async def items():
            return []
    """

    def __init__(self, parent: Router, prefix: str = "", middleware: Optional[Sequence[Any]] = None,
                 dependencies: Optional[Sequence[Any]] = None, tags: Optional[Sequence[str]] = None) -> None:
        self.parent = parent
        self.prefix = prefix.rstrip("/")
        self.middleware = list(middleware or ())
        self.dependencies = list(dependencies or ())
        self.tags = list(tags or ())
        self._own: List[Route] = []

    def add_route(self, path: str, endpoint: Callable[..., Any], methods: Optional[Iterable[str]] = None,
                  name: Optional[str] = None, middleware: Iterable[Any] = (), dependencies: Iterable[Any] = (),
                  **options: Any) -> Route:
        """Register on the parent with this group's prefix, middleware and dependencies added."""
        if self.tags and "tags" not in options:
            options["tags"] = list(self.tags)
        route = self.parent.add_route(self.prefix + path, endpoint, methods=methods, name=name,
                                      middleware=self.middleware + list(middleware),
                                      dependencies=self.dependencies + list(dependencies), **options)
        self._own.append(route)
        return route

    def mount(self, prefix: str, app: Any, name: Optional[str] = None) -> None:
        """Mount under this group's prefix."""
        self.parent.mount(self.prefix + prefix, app, name)

    @property
    def routes(self) -> List[Route]:  # type: ignore[override]
        """The routes registered through this group and its sub-groups, in order."""
        return list(self._own)

    def register_converter(self, name: str, converter: Converter) -> None:
        """Register on the router this group registers on."""
        self.parent.register_converter(name, converter)

    @property
    def converters(self) -> Dict[str, Converter]:  # type: ignore[override]
        """The converters of the router this group registers on."""
        return self.parent.converters

