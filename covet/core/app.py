"""Covet: the application object. Routes, groups, mounts, middleware, lifecycle, errors.

``Covet.dispatch(request) -> Response`` is the one entry point: the test
client, the HTTP server and the ASGI adapter all call it.
"""
import concurrent.futures
import inspect
import logging
import traceback

from ._chain import chain, is_async_callable, run_sync
from .datastructures import HeaderValueError, State
from .errors import HTTPException, RequestValidationError, problem_response
from ._injection import build_handler, teardown
from .responses import Response, to_response
from .routing import Router
from .services import service

__all__ = ["Covet", "CovetApp"]

logger = logging.getLogger("covet.error")
# C0, DEL and C1: a decoded path (%0d%0a) in a log line would let a client
# forge log lines or terminal escapes (uvicorn CVE-2020-7694).
_LOG_CTRL = {i: "\\x%02x" % i for i in list(range(32)) + list(range(127, 160))}

# Sync handlers and dependencies share one bounded pool: FastAPI's 40-token
# anyio limit surprised users because nobody documented it (anyio#447);
# ours is the ``thread_pool_size`` argument.
DEFAULT_THREAD_POOL_SIZE = 40


class Covet:
    """The application: register routes on it, then serve it or test it.

    Example::

        app = Covet()

        @app.get("/users/{user_id:int}")
        async def get_user(user_id: int, verbose: bool = False):
            return {"id": user_id}
    """

    def __init__(self, debug=False, lifespan=None, middleware=None, exception_handlers=None,
                 thread_pool_size=DEFAULT_THREAD_POOL_SIZE, redirect_slashes=True, multipart_limits=None,
                 title="covet app", version="0.1.0", description="", openapi_url="/openapi.json",
                 docs_url="/docs", max_body_size=None, dependencies=None):
        self.debug = debug
        self.lifespan = lifespan
        self.thread_pool_size = thread_pool_size
        self.multipart_limits = multipart_limits
        # Request-body limit under an ASGI server (covet's own server enforces its Limits).
        self.max_body_size = max_body_size
        self.title, self.version, self.description = title, version, description
        self.openapi_url, self.docs_url = openapi_url, docs_url
        self.state = State()
        # App-level dependencies run for every route registered on this app.
        self.router = Router(redirect_slashes=redirect_slashes, dependencies=dependencies)
        self.router.compile_route = build_handler
        self._middleware = []
        for mw in middleware or ():
            self.add_middleware(mw)
        self._handlers = {}
        for key, handler in (exception_handlers or {}).items():
            self.add_exception_handler(key, handler)
        self._on_startup = []
        self._on_shutdown = []
        self._lifespan_cm = None
        self._executor = None
        self._chain = None
        self._openapi = None
        self.started = False

    # -- routes (delegated to the router) -------------------------------
    def add_route(self, path, endpoint, methods=None, name=None, **options):
        """Register ``endpoint`` for ``path`` and ``methods``; returns the Route."""
        return self.router.add_route(path, endpoint, methods=methods, name=name, **options)

    def route(self, path, methods=None, name=None, **options):
        """Decorator: ``@app.route("/x", methods=["GET", "POST"])``."""
        return self.router.route(path, methods=methods, name=name, **options)

    def get(self, path, **options):
        """Decorator for a GET route; HEAD is answered from it with no body."""
        return self.router.route(path, methods=["GET"], **options)

    def post(self, path, **options):
        """Decorator for a POST route."""
        return self.router.route(path, methods=["POST"], **options)

    def put(self, path, **options):
        """Decorator for a PUT route."""
        return self.router.route(path, methods=["PUT"], **options)

    def patch(self, path, **options):
        """Decorator for a PATCH route."""
        return self.router.route(path, methods=["PATCH"], **options)

    def delete(self, path, **options):
        """Decorator for a DELETE route."""
        return self.router.route(path, methods=["DELETE"], **options)

    def options(self, path, **options):
        """Decorator for an OPTIONS route (without one, OPTIONS answers 204 with Allow)."""
        return self.router.route(path, methods=["OPTIONS"], **options)

    def head(self, path, **options):
        """Decorator for an explicit HEAD route."""
        return self.router.route(path, methods=["HEAD"], **options)

    def group(self, prefix, middleware=None, dependencies=None, tags=None):
        """Routes under ``prefix`` sharing middleware and dependencies (same decorators as the app)."""
        return self.router.group(prefix, middleware, dependencies, tags)

    route_group = group

    def include_router(self, router, prefix=""):
        """Add a separately built Router's routes under ``prefix``."""
        self.router.include_router(router, prefix)

    def mount(self, prefix, app, name=None):
        """Serve another Covet app under ``prefix`` (its own middleware and error handlers apply)."""
        self.router.mount(prefix, app, name)

    def register_converter(self, name, converter):
        """Make ``{x:name}`` path parameters available."""
        self.router.register_converter(name, converter)

    def url_for(self, name, /, **params):
        """The path of the route named ``name``; unused params become the query string."""
        return self.router.url_path_for(name, **params)

    @property
    def routes(self):
        """Every Route, in registration order."""
        return self.router.routes

    # -- middleware and errors -------------------------------------------
    def add_middleware(self, middleware, **options):
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

    def middleware(self, fn_or_type=None):
        """Decorator form of add_middleware: ``@app.middleware`` (or ``@app.middleware("http")``)."""
        if callable(fn_or_type):
            self.add_middleware(fn_or_type)
            return fn_or_type

        def decorator(fn):
            self.add_middleware(fn)
            return fn
        return decorator

    def add_exception_handler(self, key, handler):
        """Answer an exception class (or an HTTP status code) with ``handler(request, exc)``."""
        if not (isinstance(key, int) or (inspect.isclass(key) and issubclass(key, BaseException))):
            raise TypeError("exception_handler key must be an exception class or a status code")
        self._handlers[key] = handler

    def exception_handler(self, key):
        """Decorator: ``@app.exception_handler(ValueError)`` or ``@app.exception_handler(404)``."""
        def decorator(fn):
            self.add_exception_handler(key, fn)
            return fn
        return decorator

    # -- lifecycle ---------------------------------------------------------
    def on_startup(self, fn):
        """Decorator: run ``fn`` (sync or async) when the app starts."""
        self._on_startup.append(fn)
        return fn

    def on_shutdown(self, fn):
        """Decorator: run ``fn`` (sync or async) when the app stops."""
        self._on_shutdown.append(fn)
        return fn

    async def startup(self):
        """Enter the lifespan context, then run startup hooks (and those of mounted apps)."""
        if self.started:
            return
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

    async def shutdown(self):
        """Run shutdown hooks (mounted apps first), leave the lifespan context, stop the thread pool."""
        if not self.started:
            return
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
    def executor(self):
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
    async def dispatch(self, request):
        """Answer one request: middleware -> router -> handler -> Response. Never raises (see raise_server_exceptions)."""
        if request.app is None:
            request.app = self
        handler = self._chain
        if handler is None:
            handler = self._chain = chain(self._middleware, self._route)
        try:
            try:
                response = await handler(request)
            except HTTPException as exc:
                # Raised by middleware (an auth check, request.json() on a bad
                # body): the client's error, so its 4xx, never a 500 (bottle CVE-2022-31799).
                response = await self._on_http_exception(request, exc)
            if not isinstance(response, Response):
                response = to_response(response)
        except Exception as exc:
            if isinstance(exc, HeaderValueError):  # from middleware or an exception handler
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

    async def _route(self, request):
        try:
            route, params = self.router.match(request.method, request.raw_path)
            if route is not None:
                request.route = route
                request.path_params = params
                return await route.handle(request)
            return await self._no_route(request, params)
        except Exception as exc:
            request._error = exc
            handler = self._lookup_handler(exc)
            if handler is not None:
                return await self._call_handler(handler, request, exc)
            if isinstance(exc, HTTPException):
                return http_error_response(request, exc)
            if isinstance(exc, HeaderValueError):
                return self._header_refused(request, exc)
            raise

    def _header_refused(self, request, exc):
        # CR or LF in a header value nearly always comes from the request (an
        # echoed parameter, a redirect target): the client's error, so a 400,
        # with nothing of the bad header sent. Logged, since it may be a bug.
        logger.warning("refused a response header in %s %s: %s", request.method,
                       request.path.translate(_LOG_CTRL), str(exc).translate(_LOG_CTRL))
        return problem_response(request, 400, "the response would have carried a header value with CR, LF or "
                                "NUL, or outside Latin-1; it was not sent")

    async def _no_route(self, request, allowed):
        method = request.method
        if allowed is not None:
            allow = ", ".join(sorted(allowed))
            if method == "OPTIONS":
                return Response(b"", 204, {"Allow": allow})
            raise HTTPException(405, "method %s is not allowed for %s" % (method, request.path), {"Allow": allow})
        raw = request.raw_path
        if method in ("GET", "HEAD") and raw in (self.openapi_url, self.docs_url):
            return self._serve_docs(request, raw)
        if raw == "*" and method == "OPTIONS":
            return Response(b"", 204, {"Allow": ", ".join(sorted(self.router.all_methods()))})
        mount, rest = self.router.find_mount(raw)
        if mount is not None:
            request.raw_path = rest
            request.root_path = request.root_path + mount.prefix
            request._path = None
            request.app = mount.app
            return await mount.app.dispatch(request)
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

    async def _on_http_exception(self, request, exc):
        request._error = exc
        handler = self._lookup_handler(exc)
        if handler is not None:
            return await self._call_handler(handler, request, exc)
        return http_error_response(request, exc)

    def _lookup_handler(self, exc):
        handlers = self._handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPException):
            h = handlers.get(exc.status_code)
            if h is not None:
                return h
        for cls in type(exc).__mro__:
            if cls is Exception or cls is BaseException:
                break
            h = handlers.get(cls)
            if h is not None:
                return h
        return None

    async def _call_handler(self, handler, request, exc):
        if is_async_callable(handler):
            result = await handler(request, exc)
        else:
            result = await run_sync(request, handler, request, exc)
        return to_response(result)

    async def _server_error(self, request, exc):
        rid = request.headers.get("x-request-id") or getattr(request.state, "__dict__", {}).get("request_id")
        logger.error(
            "unhandled %s in %s %s%s", type(exc).__name__, request.method, request.path.translate(_LOG_CTRL),
            " (request id %s)" % str(rid).translate(_LOG_CTRL) if rid else "", exc_info=(type(exc), exc, exc.__traceback__),
        )
        handler = self._handlers.get(500) or self._handlers.get(Exception)
        if handler is not None:
            try:
                return await self._call_handler(handler, request, exc)
            except Exception:
                logger.exception("the 500 handler itself failed")
        detail = None
        if self.debug:
            detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return problem_response(request, 500, detail)

    # -- OpenAPI -----------------------------------------------------------
    def openapi(self):
        """The OpenAPI 3.1 document of this app (built once, rebuilt when routes change)."""
        key = (len(self.router.routes), len(self.router.mounts))
        if self._openapi is None or self._openapi[0] != key:
            self._openapi = (key, service("openapi").build_openapi(self))
        return self._openapi[1]

    def _serve_docs(self, request, path):
        from .responses import HTMLResponse, JSONResponse

        if path == self.openapi_url:
            return JSONResponse(self.openapi())
        url = request.root_path + self.openapi_url if self.openapi_url else ""
        return HTMLResponse(service("openapi").docs_page(self.title, url))

    # -- serving -----------------------------------------------------------
    def run(self, host="127.0.0.1", port=8000, **options):
        """Serve with covet's HTTP/1.1 server; takes the options of ``python -m covet run``."""
        service("server").run(self, host=host, port=port, **options)

    async def __call__(self, scope, receive, send):
        """ASGI 3 entry point: ``uvicorn module:app`` serves a Covet app."""
        await service("asgi").handle(self, scope, receive, send)

    def __repr__(self):
        return "<Covet %d routes>" % len(self.router.routes)


CovetApp = Covet


def http_error_response(request, exc):
    """The default response for an HTTPException (problem+json or HTML)."""
    errors = exc.errors if isinstance(exc, RequestValidationError) else None
    return problem_response(request, exc.status_code, exc.detail, exc.headers, errors, exc.type, exc.title)


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
