"""Route -> ``async handle(request) -> Response``, compiled once at registration.

The handler's signature becomes a plan (``covet.core._plan``), which is filled per request
(``covet.core._solve``); the result becomes a response, checked against and filtered to the
route's ``response_model`` when it has one; group, route and handler-carried middleware wrap it.

Example::

    route.handle = build_handler(route, on_error)
"""
from ._chain import chain, guard, run_sync
from ._plan import Plan, check_one_body, path_types, qual, validation_types, walk_plans
from ._solve import invalid, solve, teardown
from ._wrap import route_middleware
from .background import BackgroundTasks
from .errors import RequestValidationError
from .responses import JSONResponse, Response, to_response

# teardown (for the app, after a response is sent) and walk_plans (for the OpenAPI document) are
# importable from here too, beside build_handler.
__all__ = ["build_handler", "build_websocket_handler", "teardown", "walk_plans", "ResponseValidationError"]


class ResponseValidationError(Exception):
    """A handler returned something its ``response_model`` does not allow: a server bug, answered with 500."""

    def __init__(self, handler, errors):
        super().__init__("%s returned a value that does not match its response_model: %r" % (handler, errors))
        self.errors = errors


def _response_filter(model, fn, status):
    """result -> JSONResponse checked against, and filtered to, ``response_model``."""
    types = validation_types()
    compile_schema, converter_for, schema_for, serializer_for = (
        types.compile_schema, types.converter_for, types.schema_for, types.serializer_for)
    error_type = types.ValidationError

    serialize = serializer_for(model)
    check = compile_schema(schema_for(model))
    convert = converter_for(model)

    def respond(result):
        if isinstance(result, Response):
            return result
        rest = ()
        if type(result) is tuple and 2 <= len(result) <= 3:
            result, rest = result[0], result[1:]
        data = serialize(result)
        try:
            data = check(data)
        except error_type as exc:
            raise ResponseValidationError(qual(fn), exc.errors) from None
        if convert is not None:
            # Through the Python type and back: keys the model does not declare are dropped.
            data = serialize(convert(data))
        response = JSONResponse(data, status or 200)
        return to_response((response,) + rest) if rest else response
    return respond


def build_handler(route, on_error=None):
    """Compile a Route into ``async handle(request) -> Response``: injector, call, conversion, group and route
    middleware, and the middleware the handler carries (``add_route_middleware``), innermost.

    ``on_error(request, exc)`` is the app's answer to an exception (a Response, or None to let it
    propagate); with it, route and group middleware see the errors the app answers as responses.
    """
    fn = route.endpoint
    plan = Plan(fn, path_types(route), route.dependencies)
    form_ok = check_one_body(plan, fn)
    status = route.options.get("status_code")
    model = route.options.get("response_model")
    if model is not None:
        filtered = _response_filter(model, fn, status)

        def respond(result, status):
            return filtered(result)
    else:
        respond = to_response
    kind = plan.call_kind
    if kind in ("gen", "agen"):
        raise TypeError("%s: a handler cannot be a generator; return a StreamingResponse" % qual(fn))

    if not plan.sources and not plan.specials and plan.simple:
        if kind == "async":
            async def endpoint(request):
                return respond(await fn(), status)
        else:
            async def endpoint(request):
                return respond(await run_sync(request, fn), status)
    elif plan.simple and kind == "async":
        sources, specials = plan.sources, plan.specials

        async def endpoint(request):  # PERF: no dependencies, no body: no awaits before the call
            errors = []
            kwargs = {}
            for src in sources:
                kwargs[src.name] = src.resolve(request, errors)
            for name, sk in specials:
                if sk == "request":
                    kwargs[name] = request
                else:
                    if request._background is None:
                        request._background = BackgroundTasks()
                    kwargs[name] = request._background
            if errors:
                raise RequestValidationError(errors)
            return respond(await fn(**kwargs), status)
    else:
        async def endpoint(request):
            errors = []
            kwargs = await solve(plan, request, errors)
            if errors:
                raise invalid(request, errors, form_ok)
            if kind == "async":
                result = await fn(**kwargs)
            else:
                result = await run_sync(request, fn, **kwargs)
            return respond(result, status)

    route.plan = plan
    route.respond = respond
    middleware = route.middleware + list(route_middleware(fn))
    if middleware:
        if on_error is not None:
            endpoint = guard(endpoint, on_error)
        return chain(middleware, endpoint, on_error)
    return endpoint


def build_websocket_handler(route, on_error=None):
    """Compile a WebSocket Route into ``async handle(websocket) -> Optional[Response]``.

    The handler's arguments are planned and solved as for HTTP (path converters, Query, Header,
    Cookie, Depends; ``websocket`` names the connection). Route middleware (the route's group or
    router middleware and what decorators attach: ``require_websocket_token``, RBAC guards) runs
    around it; the app's own middleware does not. Returns None when the handler ran to its end;
    otherwise the response that answered an error or that a middleware gave instead of calling
    the handler (the door refuses the handshake with it, or closes an accepted socket).
    A WebSocket has no body: a body, form or BackgroundTasks parameter is refused here.
    """
    fn = route.endpoint
    plan = Plan(fn, path_types(route), route.dependencies, websocket=True)
    if plan.call_kind != "async":
        raise TypeError("%s: a WebSocket handler must be an async def" % qual(fn))
    for p in walk_plans(plan):
        if p.body or p.form:
            raise TypeError("%s: a WebSocket handshake has no body; read messages with "
                            "websocket.receive_json() instead of a body parameter" % qual(fn))
        if any(kind == "background" for _name, kind in p.specials):
            raise TypeError("%s: BackgroundTasks run after an HTTP response, and a WebSocket has none; "
                            "start an asyncio task instead" % qual(fn))

    async def endpoint(websocket):
        errors = []
        kwargs = await solve(plan, websocket, errors)
        if errors:
            raise RequestValidationError(errors)
        await fn(**kwargs)

    route.plan = plan
    middleware = route.middleware + list(route_middleware(fn))
    if not middleware:
        return endpoint
    inner = guard(_answered(endpoint), on_error) if on_error is not None else _answered(endpoint)
    chained = chain(middleware, inner, on_error)

    async def handle(websocket):
        result = await chained(websocket)
        return None if type(result) is _Handled else result
    return handle


class _Handled(Response):
    """What route middleware sees as the answer of a WebSocket handler that ran to its end."""

    __slots__ = ()


def _answered(endpoint):
    async def answered(websocket):
        await endpoint(websocket)
        return _Handled(b"")
    return answered
