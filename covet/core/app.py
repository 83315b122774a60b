"""Covet: the application object. Routes, groups, mounts, middleware, lifecycle, errors.

``Covet.dispatch(request) -> Response`` is the one entry point: the test
client, the HTTP server and the ASGI adapter all call it.
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

import concurrent.futures
import inspect
import logging
import weakref
from typing import (
    TYPE_CHECKING, Any, AsyncContextManager, Callable, Dict, List, Mapping, Optional, Sequence,
    overload,
)

from ._answers import ErrorAnswers, ExceptionKey
from ._chain import chain, guard
from ._paths import PLAIN_PATH
from .datastructures import HeaderValueError, State
from .errors import HTTPException, WebSocketDisconnect
from ._injection import build_handler, build_websocket_handler, teardown
from ._plan import Plan, check_one_body
from ._solve import invalid, solve
from .requests import Request
from .responses import Response, to_response
from .routing import WEBSOCKET, CallableT, Mount, Route, RouteDecorators, RouteGroup, Router
from .services import service

if TYPE_CHECKING:
    from .multipart import MultipartLimits
    from .routing import Converter

__all__ = ["Covet", "CovetApp", "debug_enabled"]

# Mounted apps nest; endpoint_for follows them this deep, then gives up (None).
MAX_MOUNT_DEPTH = 8

logger = logging.getLogger("covet.error")

# What the /docs page serves under its own URL besides itself (covet.openapi answers them).
DOCS_FILES = frozenset(("/docs.js", "/docs.css", "/oauth2-redirect"))

def _docs_url(name: str, value: Optional[str]) -> Optional[str]:
    # The page's own URLs are built on it ("<docs_url>/docs.js"): "/" would make that //docs.js.
    if value is not None and (not isinstance(value, str) or not value or not PLAIN_PATH.fullmatch(value)):
        raise ValueError("%s must be None or a path like /docs (no trailing /, query or spaces), got %r"
                         % (name, value))
    return value


# Sync handlers and dependencies share one bounded pool: FastAPI's 40-token
# anyio limit surprised users because nobody documented it (anyio#447);
# ours is the ``thread_pool_size`` argument.
DEFAULT_THREAD_POOL_SIZE = 40

# The apps of this process whose debug is on, held weakly: an app that is dropped leaves
# the set by itself. Read through debug_enabled().
_debug_apps: weakref.WeakSet = weakref.WeakSet()


def debug_enabled() -> bool:
    """Whether some Covet app of this process has ``debug`` on, now.

    For features whose default follows debug mode but that hold no app: the template
    engine's ``auto_reload=None`` reloads edited templates while this is true. Cheap
    (a length check), so it may be asked on every render.

    Example::

        app = Covet(debug=True)
        debug_enabled()   # True
        app.debug = False
        debug_enabled()   # False, unless another app has debug on
    """
    return bool(_debug_apps)


class Covet(RouteDecorators, ErrorAnswers):
    """The application: register routes on it, then serve it or test it.

    Example::

        app = Covet()

        @app.get("/users/{user_id:int}")
        async def get_user(user_id: int, verbose: bool = False):
            return {"id": user_id}
    """

    #: True from the moment a graceful shutdown begins (covet's server stopped accepting, or
    #: ``shutdown()`` runs) until the next ``startup()``: readiness probes answer 503 meanwhile, so
    #: load balancers send this instance nothing new while it finishes what it has.
    draining = False

    def __init__(self, debug: Optional[bool] = None,
                 lifespan: Optional[Callable[[Covet], AsyncContextManager[Any]]] = None,
                 middleware: Optional[Sequence[Any]] = None,
                 exception_handlers: Optional[Mapping[ExceptionKey, Callable[..., Any]]] = None,
                 thread_pool_size: int = DEFAULT_THREAD_POOL_SIZE, redirect_slashes: bool = True,
                 multipart_limits: Optional[MultipartLimits] = None, title: str = "covet app",
                 version: str = "0.1.0", description: str = "", openapi_url: Optional[str] = "/openapi.json",
                 docs_url: Optional[str] = "/docs", max_body_size: Optional[int] = None,
                 dependencies: Optional[Sequence[Any]] = None, config: Optional[Any] = None,
                 security_config: Optional[Any] = None,
                 openapi_tags: Optional[Sequence[Mapping[str, Any]]] = None,
                 docs_options: Optional[Mapping[str, Any]] = None) -> None:
        self.debug = bool(debug)
        #: The configuration object the app was made with (``covet.config.Config``), or None.
        self.config = config
        #: The application secret (a config's ``SECRET_KEY``), for ``SessionMiddleware(secret_key=
        #: app.secret_key)`` and the like; None until set. covet never signs with it unasked.
        self.secret_key: Any = None
        self.lifespan = lifespan
        self.thread_pool_size = thread_pool_size
        self.multipart_limits = multipart_limits
        # Request-body limit under an ASGI server (covet's own server enforces its Limits).
        self.max_body_size = max_body_size
        self.title, self.version, self.description = title, version, description
        self.openapi_url, self.docs_url = _docs_url("openapi_url", openapi_url), _docs_url("docs_url", docs_url)
        if docs_url is not None and openapi_url is not None and (
                openapi_url == docs_url or (openapi_url.startswith(docs_url) and openapi_url[len(docs_url):] in DOCS_FILES)):
            raise ValueError("openapi_url %r is taken by the docs page at %r" % (openapi_url, docs_url))
        #: The document's top-level ``tags``: ``[{"name": ..., "description": ...}]``, in display order.
        self.openapi_tags = [dict(tag) for tag in openapi_tags or ()]
        #: Settings of the /docs page (``persist_authorization``, ``oauth2_client_id``), checked here.
        self.docs_options: Dict[str, Any] = (service("openapi").check_docs_options(docs_options)
                                             if docs_options else {})
        self.state = State()
        # App-level dependencies run for every route registered on this app.
        self.router = Router(redirect_slashes=redirect_slashes, dependencies=dependencies)
        self.router.compile_route = self._compile_route
        self.router.compile_mount = self._compile_mount
        self._middleware: List[Any] = []
        for mw in middleware or ():
            self.add_middleware(mw)
        self._handlers: Dict[ExceptionKey, Callable[..., Any]] = {}
        for key, handler in (exception_handlers or {}).items():
            self.add_exception_handler(key, handler)
        self._on_startup: List[Callable[[], Any]] = []
        self._on_shutdown: List[Callable[[], Any]] = []
        self._integrations: List[Any] = []
        self._lifespan_cm: Optional[AsyncContextManager[Any]] = None
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._chain: Optional[Callable[[Request], Any]] = None
        self._openapi: Optional[Any] = None
        self.started = False
        if isinstance(config, Mapping):  # the reference's form: a dict of settings
            config = service("config").from_mapping(config)
            self.config = config
        if config is not None:
            # Duck-typed: the kernel imports no feature (docs/architecture.md). The config applies
            # the settings it names (DEBUG, SECRET_KEY, SENTRY_DSN ...: covet.config.Config.configure_app).
            configure = getattr(config, "configure_app", None)
            if configure is None:
                raise TypeError("config must be a covet.config.Config (an object with configure_app(app)), got %r"
                                % type(config).__name__)
            configure(self)
            if debug is not None:  # an explicit debug= wins over the config's DEBUG
                self.debug = debug
        if security_config is not None:
            # covet.security.SecurityConfig: the security middleware it names, added here.
            configure = getattr(security_config, "configure_app", None)
            if configure is None:
                raise TypeError("security_config must be a covet.security.SecurityConfig, got %r"
                                % type(security_config).__name__)
            configure(self)

    @property
    def debug(self) -> bool:
        """Tracebacks in 500 responses and, in features that follow it, debug behaviour
        (templates reload when edited); may be switched at any time."""
        return self._debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._debug = bool(value)
        if self._debug:
            _debug_apps.add(self)
        else:
            _debug_apps.discard(self)

    # -- routes (delegated to the router; the decorators come from RouteDecorators) -----
    def add_route(self, path: str, endpoint: Callable[..., Any], methods: Optional[Sequence[str]] = None,
                  name: Optional[str] = None, **options: Any) -> Route:
        """Register ``endpoint`` for ``path`` and ``methods``; returns the Route."""
        return self.router.add_route(path, endpoint, methods=methods, name=name, **options)

    def _compile_route(self, route: Route) -> Callable[[Request], Any]:
        if WEBSOCKET in route.methods:
            return build_websocket_handler(route, self._answer_error)
        return build_handler(route, self._answer_error)

    def _compile_mount(self, mount: Mount) -> Callable[[Request], Any]:
        # A mount made through a group: the group's dependencies, then the mounted app, inside
        # the group's middleware, as for the group's routes. Errors are answered by this app.
        async def enter(request: Request) -> Response:
            return await _enter_mount(request, mount, request.raw_path[len(mount.prefix):] or "/")

        endpoint = enter
        if mount.dependencies:
            def mounted_app() -> None:
                """Stands for the mounted app in the plan of the group's dependencies."""
            mounted_app.__qualname__ = "mount %s" % mount.prefix
            plan = Plan(mounted_app, {}, mount.dependencies)
            form_ok = check_one_body(plan, mounted_app)

            async def endpoint(request: Request) -> Response:
                errors: List[Dict[str, Any]] = []
                await solve(plan, request, errors)
                if errors:
                    raise invalid(request, errors, form_ok)
                return await enter(request)
        if mount.middleware:
            endpoint = chain(mount.middleware, guard(endpoint, self._answer_error), self._answer_error)
        return endpoint

    def group(self, prefix: str, middleware: Optional[Sequence[Any]] = None,
              dependencies: Optional[Sequence[Any]] = None, tags: Optional[Sequence[str]] = None) -> RouteGroup:
        """Routes under ``prefix`` sharing middleware and dependencies (same decorators as the app)."""
        return self.router.group(prefix, middleware, dependencies, tags)

    route_group = group

    def include_router(self, router: Router, prefix: str = "") -> None:
        """Add a separately built Router's routes under ``prefix``."""
        self.router.include_router(router, prefix)

    def mount(self, prefix: str, app: Any, name: Optional[str] = None) -> None:
        """Serve another Covet app under ``prefix`` (its own middleware and error handlers apply)."""
        self.router.mount(prefix, app, name)

    def static(self, prefix: str, directory: str, name: str = "static", **options: Any) -> None:
        """Serve ``directory`` under ``prefix``: ``mount(prefix, StaticFiles(directory, **options), name)``."""
        self.mount(prefix, service("staticfiles").StaticFiles(directory, **options), name)

    def register_converter(self, name: str, converter: Converter) -> None:
        """Make ``{x:name}`` path parameters available."""
        self.router.register_converter(name, converter)

    def url_for(self, name: str, /, **params: Any) -> str:
        """The path of the route named ``name``; unused params become the query string."""
        return self.router.url_path_for(name, **params)

    def endpoint_for(self, request: Any) -> Optional[Callable[..., Any]]:
        """The handler this app will call for ``request``, found as dispatch will find it (its
        router, then its mounts); None when no route matches or the path exists only for
        other methods (a 405).

        For middleware that honours per-handler marks (``@csrf_exempt``, ``@limiter.exempt``)
        before routing has happened; inside route or group middleware the matched route is used.
        The router may raise for a path it refuses: callers that must fail closed treat that as None.
        """
        route = getattr(request, "route", None)
        if route is not None:  # group or route middleware: routing already happened
            return route.endpoint
        app: Any = self
        path = request.raw_path
        for _ in range(MAX_MOUNT_DEPTH):
            router = getattr(app, "router", None)
            if router is None:
                return None
            found, allowed = router.match(request.method, path)
            if found is not None:
                return found.endpoint
            if allowed is not None:
                return None
            mount, rest = router.find_mount(path)
            if mount is None:
                return None
            app, path = mount.app, rest
        return None

    @property
    def routes(self) -> List[Route]:
        """Every Route, in registration order."""
        return self.router.routes

    # -- middleware and errors -------------------------------------------
    def add_middleware(self, middleware: Any, **options: Any) -> None:
        """Add a middleware: a function, an object, or a class with its options.

        The first added is the outermost: it sees the request first and the response last.
        """
        if inspect.isclass(middleware):
            middleware = middleware(**options)
        elif options:
            raise TypeError("options are only accepted with a middleware class")
        if not callable(middleware):
            raise TypeError("middleware must be callable as mw(request, call_next)")
        self._middleware.append(middleware)
        self._chain = None

    @property
    def middleware_stack(self) -> List[Any]:
        """The app's middleware, outermost first (a copy: add with ``add_middleware``).

        Read by tools that inspect an app's set-up, ``covet.deployment.ProductionValidator``.
        """
        return list(self._middleware)

    @overload
    def middleware(self, fn_or_type: CallableT) -> CallableT: ...

    @overload
    def middleware(self, fn_or_type: Optional[str] = None) -> Callable[[CallableT], CallableT]: ...

    def middleware(self, fn_or_type: Any = None) -> Any:
        """Decorator form of add_middleware: ``@app.middleware`` (or ``@app.middleware("http")``)."""
        if callable(fn_or_type):
            self.add_middleware(fn_or_type)
            return fn_or_type

        def decorator(fn: CallableT) -> CallableT:
            self.add_middleware(fn)
            return fn
        return decorator

    # -- lifecycle ---------------------------------------------------------
    def on_startup(self, fn: CallableT) -> CallableT:
        """Decorator: run ``fn`` (sync or async) when the app starts."""
        self._on_startup.append(fn)
        return fn

    def on_shutdown(self, fn: CallableT) -> CallableT:
        """Decorator: run ``fn`` (sync or async) when the app stops."""
        self._on_shutdown.append(fn)
        return fn

    def add_database(self, db: Any, name: str = "database") -> None:
        """Tie a database to the app's life: ``db.connect()`` at start-up, ``db.disconnect()`` at
        shutdown, and ``app.state.database`` (or ``name``) holds it. Any object with those two
        coroutine methods will do; covet's is ``covet.database.DatabaseManager``."""
        setattr(self.state, name, db)
        attach = getattr(db, "attach", None)
        if attach is not None:
            attach(self)
        self.on_startup(db.connect)
        self.on_shutdown(db.disconnect)

    def add_integration(self, integration: Any) -> None:
        """Plug in an integration (``covet.monitoring.sentry.SentryIntegration``...): its
        ``setup(app)`` runs now, and its ``capture_request_error(request, exc)``, if it has one,
        sees every unhandled error of a request, after it is logged."""
        self._integrations.append(integration)
        setup = getattr(integration, "setup", None)
        if setup is not None:
            setup(self)

    def include_oauth2(self, oauth2: Any) -> None:
        """Serve an OAuth 2.1 authorization server on this app: ``oauth2.setup(self)`` registers its
        endpoints (authorize, token, revoke, introspect, metadata). Duck-typed: the kernel imports
        no feature; covet's server is ``covet.security.oauth2.OAuth2Server`` (docs/oauth2.md).

        Example::

            oauth2 = OAuth2Server(clients={"app": {"secret": s, "redirect_uris": [callback]}})
            app.include_oauth2(oauth2)
        """
        oauth2.setup(self)

    def begin_drain(self) -> None:
        """Mark this app and its mounted apps as draining (see ``draining``). Idempotent.

        covet's server calls it on SIGTERM, before the in-flight requests finish; ``shutdown()``
        calls it too, which covers ASGI servers and the test client.

        Example::

            app.begin_drain()
            app.draining   # True: GET /health/ready answers 503
        """
        self.draining = True
        for m in self.router.mounts:
            begin = getattr(m.app, "begin_drain", None)
            if begin is not None:
                begin()

    def enable_metrics(self, path: str = "/metrics", **options: Any) -> Any:
        """Serve Prometheus metrics at ``path`` and count every request by method, route template
        and status (with durations and requests in progress); returns the ``MetricsManager``
        for your own metrics. Options: ``covet.monitoring.enable_metrics``."""
        return service("metrics").enable_metrics(self, path, **options)

    async def startup(self) -> None:
        """Enter the lifespan context, then run startup hooks (and those of mounted apps)."""
        if self.started:
            return
        self.draining = False
        if self.lifespan is not None:
            self._lifespan_cm = self.lifespan(self)
            await self._lifespan_cm.__aenter__()
        for fn in self._on_startup:
            result = fn()
            if inspect.isawaitable(result):
                await result
        for m in self.router.mounts:
            if hasattr(m.app, "startup"):
                await m.app.startup()
        self.started = True

    async def shutdown(self) -> None:
        """Run shutdown hooks (mounted apps first), leave the lifespan context, stop the thread pool."""
        if not self.started:
            return
        self.begin_drain()
        self.started = False
        try:
            for m in self.router.mounts:
                if hasattr(m.app, "shutdown"):
                    await m.app.shutdown()
            for fn in self._on_shutdown:
                try:
                    result = fn()
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception("shutdown hook %r failed", fn)
            if self._lifespan_cm is not None:
                cm, self._lifespan_cm = self._lifespan_cm, None
                await cm.__aexit__(None, None, None)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None

    @property
    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """The bounded thread pool for sync handlers and dependencies (created on first use)."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.thread_pool_size, thread_name_prefix="covet-worker"
            )
        return self._executor

    # -- caches (made by the "cache" service, covet.cache, on first use) -----
    @property
    def memory_cache(self):
        """This app's in-process cache, plain methods: ``app.memory_cache.get(key)``."""
        return service("cache").memory_cache(self)

    @property
    def redis_cache(self):
        """This app's Redis cache, coroutines: ``await app.redis_cache.get(key)``; its URL is
        ``app.state.redis_url`` or the ``COVET_REDIS_URL``/``REDIS_URL`` environment variable."""
        return service("cache").redis_cache(self)

    # -- dispatch ----------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        """Answer one request: middleware -> router -> handler -> Response. Never raises (see raise_server_exceptions)."""
        if request.app is None:
            request.app = self
        handler = self._chain
        if handler is None:
            handler = self._chain = chain(self._middleware, self._route, self._answer_error)
        try:
            try:
                response = await handler(request)
            except HTTPException as exc:
                # Raised by an exception handler: answered like any other (bottle CVE-2022-31799
                # was a 500 for the client's own error).
                response = await self._answer_error(request, exc)
            if not isinstance(response, Response):
                response = to_response(response)
        except Exception as exc:
            if isinstance(exc, HeaderValueError):  # from an exception handler
                response = self._header_refused(request, exc)
                _attach_after_send(request, response, exc)
                return response
            response = await self._server_error(request, exc)
            _attach_after_send(request, response, exc)
            if request._raise:
                # The test client raises instead of sending: finish the request's
                # life first, so yield dependencies still see the error and close.
                await response.after_send()
                raise
            return response
        if request._background is not None or request._cleanups or request._form is not None:
            _attach_after_send(request, response, None)
        return response

    async def dispatch_websocket(self, websocket: Request) -> Optional[Response]:
        """Run the WebSocket route for ``websocket`` (a ``covet.websocket.WebSocket``).

        Matches the path among the WebSocket routes (and those of mounted apps), fills the
        handler's arguments as for HTTP, and runs the route middleware and the handler. The app's
        own (HTTP) middleware does not run. Returns None when the handler ran to its end (or
        ended with ``WebSocketDisconnect``); otherwise the Response for what stopped it: 404 with
        no route, 405 for an HTTP-only path, 422 for arguments that do not resolve, the status
        of an ``HTTPException`` raised by a guard, a dependency or the handler, 500 (logged) for
        any other exception. The door that called it (covet.websocket.serve_websocket) refuses the
        handshake with that response, or closes a socket already accepted (1011 for a 5xx,
        1008 otherwise). Yield dependencies are torn down before it returns.
        """
        if websocket.app is None:
            websocket.app = self
        error: Optional[BaseException] = None
        try:
            route, params = self.router.match(WEBSOCKET, websocket.raw_path)
            if route is None:
                return await self._no_websocket_route(websocket, params)
            websocket.route = route
            websocket.path_params = params
            return await route.handle(websocket)
        except WebSocketDisconnect:
            return None
        except Exception as exc:
            error = exc
            response = await self._answer_error(websocket, exc)
            if response is None:
                response = await self._server_error(websocket, exc)
            return response
        finally:
            gens, websocket._cleanups = websocket._cleanups, None
            if gens:
                await teardown(websocket, gens, error)

    async def _no_websocket_route(self, websocket: Request, allowed: Optional[set]) -> Optional[Response]:
        if allowed is not None:
            raise HTTPException(405, "%s takes no WebSocket; it answers HTTP" % websocket.path,
                                {"Allow": ", ".join(sorted(allowed))})
        mount, rest = self.router.find_mount(websocket.raw_path)
        if mount is not None and rest is not None and hasattr(mount.app, "dispatch_websocket"):
            if mount.middleware or mount.dependencies:
                # The group's guards are HTTP middleware and dependencies planned for HTTP: a
                # WebSocket would pass them by unchecked, so it is not let through at all.
                raise HTTPException(403, "WebSockets are not served through a mount whose group has "
                                    "middleware or dependencies")
            websocket.raw_path = rest
            websocket.root_path = websocket.root_path + mount.prefix
            websocket._path = None
            websocket.app = mount.app
            return await mount.app.dispatch_websocket(websocket)
        raise HTTPException(404, "no WebSocket route for %s" % websocket.path)

    async def _route(self, request: Request) -> Any:
        try:
            route, params = self.router.match(request.method, request.raw_path)
            if route is not None:
                request.route = route
                request.path_params = params
                return await route.handle(request)
            return await self._no_route(request, params)
        except Exception as exc:
            response = await self._answer_error(request, exc)
            if response is None:
                raise
            return response

    async def _no_route(self, request: Request, allowed: Optional[set]) -> Any:
        method = request.method
        if allowed is not None:
            if allowed == {WEBSOCKET}:
                # RFC 9110 §15.5.22: 426 names the protocol to switch to in Upgrade.
                raise HTTPException(426, "%s is a WebSocket endpoint; open it with a WebSocket handshake"
                                    % request.path, {"Upgrade": "websocket", "Connection": "Upgrade"})
            allow = ", ".join(sorted(allowed))
            if method == "OPTIONS":
                return Response(b"", 204, {"Allow": allow})
            raise HTTPException(405, "method %s is not allowed for %s" % (method, request.path), {"Allow": allow})
        raw = request.raw_path
        if self._is_docs_path(raw):
            if method in ("GET", "HEAD"):
                return service("openapi").serve_docs(self, request, raw)
            raise HTTPException(405, "method %s is not allowed for %s" % (method, request.path), {"Allow": "GET, HEAD"})
        if self.docs_url is not None and raw == self.docs_url + "/" and method in ("GET", "HEAD"):
            return Response(b"", 308, {"Location": request.root_path + self.docs_url})
        if raw == "*" and method == "OPTIONS":
            return Response(b"", 204, {"Allow": ", ".join(sorted(self.router.all_methods()))})
        mount, rest = self.router.find_mount(raw)
        if mount is not None and rest is not None:
            if mount.handle is not None:  # group middleware or dependencies first
                return await mount.handle(request)
            return await _enter_mount(request, mount, rest)
        if self.router.redirect_slashes and raw.startswith("/") and raw != "/":
            alt = raw[:-1] if raw.endswith("/") else raw + "/"
            # Never redirect to //host or /\host: browsers read those as another site.
            if not alt.startswith(("//", "/\\")) and alt != "":
                found, other = self.router.match(method, alt)
                if found is not None or other is not None:
                    location = request.root_path + alt
                    if request.query_string:
                        location += "?" + request.query_string
                    return Response(b"", 308, {"Location": location})
        raise HTTPException(404, "no route for %s" % request.path)

    # -- OpenAPI -----------------------------------------------------------
    def openapi(self) -> Dict[str, Any]:
        """The OpenAPI 3.1 document of this app (built once, rebuilt when routes change)."""
        key = (len(self.router.routes), len(self.router.mounts))
        if self._openapi is None or self._openapi[0] != key:
            self._openapi = (key, service("openapi").build_openapi(self))
        return self._openapi[1]

    def _is_docs_path(self, path: str) -> bool:
        # The document, the page and the page's own files (script, style, OAuth2 redirect page).
        if path == self.openapi_url:
            return True
        docs = self.docs_url
        return docs is not None and (path == docs or (path.startswith(docs) and path[len(docs):] in DOCS_FILES))

    # -- serving -----------------------------------------------------------
    def run(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve with covet's HTTP/1.1 server; takes the options of ``python -m covet run``."""
        service("server").run(self, host=host, port=port, **options)

    async def __call__(self, scope: Dict[str, Any], receive: Callable[[], Any], send: Callable[[Dict[str, Any]], Any]) -> None:
        """ASGI 3 entry point: ``uvicorn module:app`` serves a Covet app."""
        await service("asgi").handle(self, scope, receive, send)

    def __repr__(self) -> str:
        return "<Covet %d routes>" % len(self.router.routes)


CovetApp = Covet


async def _enter_mount(request: Request, mount: Mount, rest: str) -> Response:
    # The mounted app sees the rest of the path, the prefix as its root_path.
    request.raw_path = rest
    request.root_path = request.root_path + mount.prefix
    request._path = None
    request.app = mount.app
    return await mount.app.dispatch(request)


def _attach_after_send(request, response, exc):
    # Background tasks run, then yield-dependencies are torn down, once the
    # response is out. Taken off the request so that a mounting app does not
    # attach them twice.
    bg, request._background = request._background, None
    # Only after a handler that returned: a failed signup sends no welcome
    # mail (as in Starlette and FastAPI, where the tasks belong to the response).
    if bg is not None and len(bg) and exc is None and request._error is None and response.background is not bg:
        response.call_after_send(bg)
    form = request._form
    if form is not None:
        # Uploaded files live in temp files until the response is out.
        response.call_after_send(form.close)
    gens, request._cleanups = request._cleanups, None
    if gens:
        error = exc if exc is not None else request._error

        async def _teardown():
            await teardown(request, gens, error)
        response.call_after_send(_teardown)
