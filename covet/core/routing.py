"""The router: routes, mounts and groups, the segment tree they are registered into, reverse routing.

``Router.match`` runs a matcher compiled from the tree (``covet.core._matcher``);
path templates are parsed in ``covet.core._paths`` and the ``{name:type}``
converters live in ``covet.core.converters``, re-exported here.
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar
from urllib.parse import quote, urlencode

from ._matcher import Node, collect_methods, compile_tree
from ._paths import PARAM, PATH_SAFE, param_builder, quote_value, split_template
from ._wrap import mark_routed
from .converters import (
    DEFAULT_CONVERTERS, Converter, FloatConverter, IntConverter, PathConverter, StringConverter, UUIDConverter,
)

__all__ = [
    "Router", "Route", "Mount", "Converter", "StringConverter", "IntConverter", "FloatConverter",
    "UUIDConverter", "PathConverter", "NoMatchFound", "METHODS", "WEBSOCKET", "RouteGroup", "RouteDecorators",
    "CallableT",
]

#: A handler, middleware or hook as the user wrote it: decorators hand it back unchanged, so a type
#: checker still sees the decorated function as itself.
CallableT = TypeVar("CallableT", bound=Callable[..., Any])

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

#: The method set of a WebSocket route: a pseudo-method no HTTP request carries, so such a route
#: never answers HTTP (a plain request to its path gets 426 Upgrade Required, RFC 9110 §15.5.22)
#: and ``Covet.dispatch_websocket`` finds it with ``router.match(WEBSOCKET, path)``. It is left
#: out of Allow headers, ``OPTIONS *`` and the OpenAPI document.
WEBSOCKET = "WEBSOCKET"


class NoMatchFound(LookupError):
    """url_for: no route has that name, or the parameters do not fit it."""


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

    def add_websocket_route(self, path: str, endpoint: Callable[..., Any], name: Optional[str] = None,
                            **options: Any) -> Route:
        """Register an ``async def`` WebSocket handler for ``path``; returns the Route.

        Path converters, ``Depends`` and Query/Header/Cookie/Path parameters work as on HTTP
        routes; a parameter named ``websocket`` (or annotated ``WebSocket``) gets the connection.
        The route answers no HTTP method and stays out of the OpenAPI document.

        Example::

            app.add_websocket_route("/ws/{room}", chat)
        """
        options.setdefault("include_in_schema", False)
        return self.add_route(path, endpoint, methods=[WEBSOCKET], name=name, **options)

    def websocket(self, path: str, name: Optional[str] = None, **options: Any) -> Callable[[CallableT], CallableT]:
        """Decorator for a WebSocket route (see ``add_websocket_route``).

        Example::

            @app.websocket("/ws/{room}")
            async def chat(websocket, room: str):
                await websocket.accept()
                async for message in websocket:
                    await websocket.send_text("%s: %s" % (room, message))
        """
        def decorator(fn: CallableT) -> CallableT:
            self.add_websocket_route(path, fn, name=name, **options)
            return fn
        return decorator


class Route:
    """One path template bound to an endpoint for a set of methods."""

    __slots__ = ("path", "endpoint", "methods", "name", "middleware", "dependencies", "options",
                 "param_names", "keys", "handle", "is_static", "include_in_schema", "plan",
                 "build_params", "param_convs", "respond")

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
        # "" (a bare Router's own root, FastAPI's ``@router.get("")``) becomes ``prefix`` alone once
        # included; until then it is indexed as "/".
        self.keys, self.param_names = split_template(path or "/", converters)
        self.is_static = not self.param_names
        convs = []
        for kind, key in self.keys:
            if kind == "re":
                convs.extend(key.convs)
            elif kind != "s":
                convs.append(key)
        self.param_convs = tuple(convs)
        self.build_params = param_builder(self.param_names, convs)
        self.handle: Optional[Callable[..., Any]] = None  # set by the Router's compile hook
        self.plan = None  # the injector plan, set with handle
        # result, status -> Response: to_response, or the response_model filter (set with handle).
        self.respond: Optional[Callable[[Any, Optional[int]], Any]] = None

    def url_path(self, params: Dict[str, Any]) -> str:
        """Build this route's path from parameter values (consumed from ``params``)."""
        out = []
        for tmpl, (kind, key) in zip(self.path[1:].split("/"), self.keys):
            if kind == "s":
                out.append(quote(key, safe=PATH_SAFE))
                continue
            convs = key.convs if kind == "re" else [key]
            seg, text, values, pos = "", "", [], 0
            for m, conv in zip(PARAM.finditer(tmpl), convs):
                name = m.group(1)
                value = conv.to_url(params.pop(name))
                # The path must lead back here: the value has to be one its
                # converter takes, as the router will see it after decoding.
                if kind != "re" and not conv.matches(value):
                    raise ValueError("%r is not a value of {%s} (its converter refuses it)" % (value, name))
                values.append(value)
                literal = tmpl[pos:m.start()]
                text += literal + value
                seg += quote(literal, safe=PATH_SAFE) + quote_value(value, kind == "path")
                pos = m.end()
            if kind == "re" and key.match(text + tmpl[pos:]) != tuple(values):
                raise ValueError("%r would not split back into the values given" % (text + tmpl[pos:]))
            out.append(seg + quote(tmpl[pos:], safe=PATH_SAFE))
        url = "/" + "/".join(out)
        # Never produce a scheme-relative URL (//evil.com or /\evil.com):
        # a redirect to it would leave the site (werkzeug CVE-2020-28724).
        if url.startswith("//"):
            url = "/%2F" + url[2:]
        return url

    def __repr__(self) -> str:
        return "Route(%r, methods=%r, name=%r)" % (self.path, sorted(self.methods), self.name)


class Mount:
    """Another app served under a path prefix, with the middleware and dependencies of the
    groups it was mounted through (run before the request enters the app)."""

    __slots__ = ("prefix", "app", "name", "middleware", "dependencies", "handle")

    def __init__(self, prefix: str, app: Any, name: Optional[str] = None, middleware: Iterable[Any] = (),
                 dependencies: Iterable[Any] = ()) -> None:
        self.prefix = prefix.rstrip("/")
        self.app = app
        self.name = name
        self.middleware = list(middleware)
        self.dependencies = list(dependencies)
        # ``async handle(request) -> Response`` running them, then the app; set by the Router's
        # compile_mount hook when there is something to run. None: straight into the app.
        self.handle: Optional[Callable[..., Any]] = None


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
        self._root = Node()
        self._compiled = None  # the generated match(), once a request needed it
        self.matcher_source = None
        self._names = {}
        # Hook that turns a Route into its request handler; the app sets it
        # to build the injector. A bare Router keeps routes for inclusion.
        self.compile_route: Optional[Callable[[Route], Callable[..., Any]]] = None
        # The same for a Mount that carries group middleware or dependencies.
        self.compile_mount: Optional[Callable[[Mount], Callable[..., Any]]] = None

    # -- registration -------------------------------------------------
    def register_converter(self, name: str, converter: Converter) -> None:
        """Make ``{x:name}`` available in paths registered from now on."""
        if not isinstance(converter, Converter):
            raise TypeError("converter must be a covet.core.routing.Converter instance (also importable as "
                            "covet.Converter), got %r" % (converter,))
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
        if WEBSOCKET in methods and len(methods) > 1:
            raise ValueError("a WebSocket route answers no HTTP method: register %s separately "
                             "(@app.websocket for the WebSocket)" % ", ".join(sorted(methods - {WEBSOCKET})))
        if self.tags and "tags" not in options:
            options["tags"] = list(self.tags)
        full_path = self.prefix + path
        if full_path == "" and self.compile_route is not None:
            raise ValueError("route path '' is the root of a Router included with a prefix "
                             "(app.include_router(router, prefix=\"/health\") serves it at /health); "
                             "an app's own routes start with '/'")
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
        # Decorators that act on the handler refuse it from now on (written above the route decorator).
        mark_routed(endpoint, full_path)
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
                node = node.static.setdefault(key, Node())
            elif kind == "path":
                if node.catchall is None:
                    node.catchall = (key, Node())
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
                    child = Node()
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
            self.mount(prefix + m.prefix, m.app, m.name, middleware=m.middleware, dependencies=m.dependencies)

    def mount(self, prefix: str, app: Any, name: Optional[str] = None, middleware: Iterable[Any] = (),
              dependencies: Iterable[Any] = ()) -> None:
        """Serve another app (anything with ``dispatch``) under ``prefix``.

        ``middleware`` and ``dependencies`` (a group passes its own) run for every request to
        the mounted app, before it sees the request, as they would for a route.
        """
        if not prefix.startswith("/") or prefix == "/":
            raise ValueError("mount prefix must start with '/' and not be '/' alone: %r" % prefix)
        mount = Mount(prefix, app, name, middleware, dependencies)
        # Compiled first, like a route: a dependency that cannot be planned leaves no mount behind.
        if self.compile_mount is not None and (mount.middleware or mount.dependencies):
            mount.handle = self.compile_mount(mount)
        self.mounts.append(mount)

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
        collect_methods(self._root, segments, 1, allowed)
        if allowed == {WEBSOCKET}:
            return None, allowed  # a WebSocket-only path: the app answers HTTP with 426
        allowed.discard(WEBSOCKET)
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
        methods.discard(WEBSOCKET)
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
                if m.name == name and m.name is not None and set(params) == {"path"}:
                    # A named mount and a path in it, as Starlette's url_for("static", path=...);
                    # a mounted app that names its files itself (hashed static URLs) says how.
                    file_path = getattr(m.app, "url_path", None)
                    return m.prefix + (file_path(params["path"]) if file_path is not None
                                       else "/" + quote(str(params["path"]).lstrip("/")))
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

    def mount(self, prefix: str, app: Any, name: Optional[str] = None, middleware: Iterable[Any] = (),
              dependencies: Iterable[Any] = ()) -> None:
        """Mount under this group's prefix; the group's middleware and dependencies run for every
        request to the mounted app (outside its own middleware), so a group's guard protects it.

        Example::

            admin = app.group("/admin", middleware=[require_admin])
            admin.mount("/files", files_app)      # /admin/files/... passes require_admin first
        """
        self.parent.mount(self.prefix + prefix, app, name, middleware=self.middleware + list(middleware),
                          dependencies=self.dependencies + list(dependencies))

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
