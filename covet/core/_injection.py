"""Handler signature -> injector, built once at registration.

Where each argument comes from: ``request``/``Request`` and
``BackgroundTasks`` are injected; names in the path template are path
parameters; ``Query``/``Path``/``Header``/``Cookie``/``Body``/``Form``/``File``
declare a source and constraints; ``Depends`` runs a dependency; a dict,
dataclass, Model or TypedDict annotation is the JSON body; an ``UploadFile``
annotation is a file of a multipart form; any other simple type comes from
the query string. Every violation of one request is collected into a
single 422 with an ``errors`` list of ``{loc, msg, type}``.

Order of a request's life (tested, documented in docs/dependencies.md):
dependency setup -> handler -> response built -> response sent ->
background tasks -> dependency teardown (``yield`` dependencies see the
handler's exception, if any, thrown in at their ``yield``).
"""
import dataclasses
import inspect
import logging
import re
import typing

from ._chain import chain, guard, is_async_callable, run_sync
from ._wrap import route_middleware
from .background import BackgroundTasks
from .dependencies import REQUIRED, Body, Depends, File, Param, Path, Query
from .errors import HTTPException, RequestValidationError
from .multipart import UploadFile
from .requests import Request, parse_json
from .responses import JSONResponse, Response, to_response
from .services import service

# The validation package's error type, known once the type system is first asked for (a check
# only exists after that, so the ``except`` clauses that name it never see None).
ValidationError = None


def _types():
    """The validation service (schema_for, compile_schema, converter_for, serializer_for)."""
    global ValidationError
    types = service("validation")
    ValidationError = types.ValidationError
    return types

__all__ = ["build_handler", "teardown", "walk_plans", "ResponseValidationError"]

logger = logging.getLogger("covet.error")

def _unwrap(tp):
    """(inner type, optional?, marker from Annotated or None)."""
    marker = None
    optional = False
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated if hasattr(typing, "Annotated") else False:
            args = typing.get_args(tp)
            tp = args[0]
            for meta in args[1:]:
                if isinstance(meta, (Param, Depends)):
                    marker = meta
            continue
        if origin is typing.Union:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) < len(typing.get_args(tp)):
                optional = True
            if len(args) == 1:
                tp = args[0]
                continue
        return tp, optional, marker


_LIST_ORIGINS = (list, set, frozenset, tuple, typing.Sequence if hasattr(typing, "Sequence") else list)


def _collection(tp):
    """list/set/tuple/frozenset when ``tp`` collects repeated values (``List[int]``), else None."""
    origin = typing.get_origin(tp)
    if tp in (list, set, tuple, frozenset) or origin in _LIST_ORIGINS:
        return {set: set, frozenset: frozenset, tuple: tuple}.get(origin or tp, list)
    return None


def _is_record(tp):
    return isinstance(tp, type) and (
        dataclasses.is_dataclass(tp) or _is_typeddict(tp) or getattr(tp, "__covet_model__", False)
    )


def _is_body_type(tp):
    """Does an unmarked parameter of this type come from the body? dicts and records do,
    and so do containers of them; lists of simple values come from repeated query keys."""
    tp, _, _ = _unwrap(tp)
    if tp is dict or typing.get_origin(tp) is dict or _is_record(tp):
        return True
    origin = typing.get_origin(tp)
    if origin in _LIST_ORIGINS or origin is typing.Union:
        return any(_is_body_type(a) for a in typing.get_args(tp) if a is not type(None) and a is not Ellipsis)
    return False


def _is_typeddict(tp):
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__") and hasattr(tp, "__total__")


# -- body values: covet.validation does the checking and the conversion ---

def _body_converter(annotation):
    """convert(value, loc, errors, coerce) for a body annotation, built once at registration.

    JSON bodies are checked as they are; form bodies (strings) with the
    validator's coercion mode. Errors carry the JSON Schema keyword that failed.
    """
    if annotation is inspect.Parameter.empty or annotation is typing.Any or annotation is object:
        return lambda v, loc, errors, coerce=False: v
    types = _types()
    schema_for, compile_schema, converter_for = types.schema_for, types.compile_schema, types.converter_for
    error_type = types.ValidationError

    schema = schema_for(annotation)
    checks = {False: compile_schema(schema)}
    convert = converter_for(annotation)

    def conv(value, loc, errors, coerce=False):
        check = checks.get(coerce)
        if check is None:
            check = checks[coerce] = compile_schema(schema, coerce=True)
        try:
            value = check(value)
        except error_type as exc:
            errors.extend({"loc": loc + list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors)
            return None
        return convert(value) if convert is not None else value
    return conv


# -- query, path, header and cookie values --------------------------------
# covet.validation checks and converts them in its coercion mode, so every
# 422 speaks one vocabulary: the JSON Schema keyword that failed.

_KEYWORDS = (("gt", "exclusiveMinimum"), ("ge", "minimum"), ("lt", "exclusiveMaximum"), ("le", "maximum"),
             ("min_length", "minLength"), ("max_length", "maxLength"), ("pattern", "pattern"))
# Errors that mean "this is not a value of the parameter's type": 404 on a path.
_CONVERSION_ERRORS = frozenset(("type", "format", "enum", "const"))


def _param_schema(tp, marker):
    """The JSON schema of one parameter: its type plus the marker's constraints."""
    schema = dict(_types().schema_for(tp)) if tp is not inspect.Parameter.empty else {"type": "string"}
    for attr, key in _KEYWORDS:
        value = getattr(marker, attr)
        if value is None:
            continue
        if schema.get("type") == "array" and key in ("minLength", "maxLength"):
            key = "minItems" if key == "minLength" else "maxItems"
        schema[key] = value
    return schema


# -- the plan -------------------------------------------------------------

class _Source:
    """One argument read from the query, path, headers, cookies or a form field."""

    __slots__ = ("name", "kind", "key", "check", "convert", "collect", "default", "required", "loc",
                 "strict_404", "annotation", "marker", "trusted")

    def resolve(self, request, errors):
        """The converted value, or None with the problems appended to ``errors``.

        ``request`` is the Request; for a form field it is the request's parsed FormData.
        """
        kind = self.kind
        if kind == "query":
            if self.collect is not None:
                values = request.query_params.getlist(self.key)
            else:
                v = request.query_params.get(self.key)
                values = () if v is None else (v,)
        elif kind == "path":
            params = request.path_params
            values = (params[self.key],) if self.key in params else ()
        elif kind == "header":
            values = request.headers.getlist(self.key)
        elif kind == "cookie":
            v = request.cookies.get(self.key)
            values = () if v is None else (v,)
        else:
            values = request.getlist(self.key)
            if self.collect is None:
                values = values[-1:]  # the last of repeated keys wins, as in the query
            if any(type(v) is not str for v in values):
                errors.append({"loc": list(self.loc), "msg": "must be a text field, not a file", "type": "type"})
                return None
        if not values:
            if self.required:
                errors.append({"loc": list(self.loc), "msg": "field required", "type": "required"})
                return None
            return self.default() if isinstance(self.default, _Factory) else self.default
        if self.collect is not None:
            # A set parameter collapses repeats instead of failing uniqueItems.
            raw = list(dict.fromkeys(values)) if self.collect in (set, frozenset) else list(values)
        else:
            raw = values[0]
            if kind == "path" and not self.trusted and not isinstance(raw, str):
                raw = str(raw)  # {id:int} meets another annotation: check its text
        if self.check is None:
            return raw
        try:
            value = self.check(raw)
        except ValidationError as exc:
            if self.strict_404 and any(e["type"] in _CONVERSION_ERRORS for e in exc.errors):
                raise HTTPException(404) from None
            loc = list(self.loc)
            errors.extend({"loc": loc + e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors)
            return None
        return self.convert(value) if self.convert is not None else value


class _FileSource:
    """One ``File()`` argument: the UploadFile(s) of a multipart form field."""

    __slots__ = ("name", "key", "many", "default", "required", "loc", "max_size", "marker")

    def resolve(self, form, errors):
        # A file input left empty still sends a part, with filename="" and no data (HTML's
        # form submission algorithm): that is no file.
        values = [v for v in form.getlist(self.key) if not (type(v) is not str and v.filename == "" and not v.size)]
        if not values:
            if self.required:
                errors.append({"loc": list(self.loc), "msg": "field required", "type": "required"})
                return None
            return self.default() if isinstance(self.default, _Factory) else self.default
        if any(not isinstance(v, UploadFile) for v in values):
            errors.append({"loc": list(self.loc), "msg": "must be a file", "type": "type"})
            return None
        limit = self.max_size
        if limit is not None:
            for upload in values:
                if upload.size > limit:
                    raise HTTPException(413, "file field %r exceeds max_size (%d bytes)" % (self.key, limit))
        return values if self.many else values[-1]


class _BodyParam(tuple):
    """(name, conv, required, default, key, embed, annotation, marker) of one body argument."""

    __slots__ = ()

    def __new__(cls, *fields):
        return tuple.__new__(cls, fields)

    annotation = property(lambda self: self[6])
    marker = property(lambda self: self[7])


class _Factory:
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self):
        return self.fn()



class _Plan:
    """Everything needed to call one function (handler or dependency) with injected arguments."""

    __slots__ = ("fn", "call_kind", "sources", "specials", "deps", "body", "body_embed", "is_async", "simple",
                 "form_ok", "form")

    def __init__(self, fn, path_names, extra_deps=(), owner=None):
        self.fn = fn
        self.sources = []
        self.specials = []   # (name, kind)
        self.deps = []       # (name or None, Depends, _Plan)
        self.body = []       # (name, converter, required, default, loc)
        self.form = []       # _Source (kind "form") and _FileSource: fields of a form body
        for d in extra_deps:
            if not isinstance(d, Depends):
                d = Depends(d)
            self.deps.append((None, d, _Plan(d.dependency, path_names)))
        target = fn
        if inspect.isclass(fn):
            target = fn.__init__
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception:
            hints = {}
        if sig is not None:
            for p in sig.parameters.values():
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                self._add(p, hints.get(p.name, p.annotation), path_names, owner or fn)
        body_count = len(self.body)
        self.body_embed = body_count > 1 or any(b[5] for b in self.body)
        # Issue 5: a Model, dataclass or TypedDict body may also come from a
        # form. Nothing else does: every extra way in is a way around CSRF
        # defences for cookie-authenticated JSON APIs (FastAPI CVE-2021-32677).
        self.form_ok = body_count == 1 and not self.body_embed and _is_record(self.body[0].annotation)
        self.is_async = is_async_callable(fn) or inspect.isasyncgenfunction(fn)
        if inspect.isasyncgenfunction(fn):
            self.call_kind = "agen"
        elif inspect.isgeneratorfunction(fn):
            self.call_kind = "gen"
        elif is_async_callable(fn):
            self.call_kind = "async"
        else:
            self.call_kind = "sync"
        self.simple = not self.deps and not self.body and not self.form

    def _add(self, p, annotation, path_names, owner):
        name = p.name
        tp, optional, marker = _unwrap(annotation)
        default = p.default
        if isinstance(default, (Param, Depends)):
            marker = default
            default = marker.default if isinstance(marker, Param) else inspect.Parameter.empty
        elif marker is not None and isinstance(marker, Param) and default is not inspect.Parameter.empty:
            marker.default = default
        if isinstance(marker, Depends):
            dep = marker if marker.dependency is not None else Depends(tp, use_cache=marker.use_cache)
            if dep.dependency is None or dep.dependency is inspect.Parameter.empty:
                raise TypeError("%s: Depends() on %r needs a callable or an annotation" % (_qual(owner), name))
            self.deps.append((name, dep, _Plan(dep.dependency, path_names)))
            return
        if marker is None and (name == "request" or (isinstance(tp, type) and issubclass(tp, Request))):
            self.specials.append((name, "request"))
            return
        if marker is None and isinstance(tp, type) and issubclass(tp, BackgroundTasks):
            self.specials.append((name, "background"))
            return
        if marker is None:
            if name in path_names:
                marker = Path()
            elif tp is not inspect.Parameter.empty and _is_body_type(tp):
                marker = Body()
            elif _upload_type(tp) is not None:
                marker = File()
            else:
                marker = Query()
            if default is not inspect.Parameter.empty:
                marker.default = default
        elif default is inspect.Parameter.empty:
            default = marker.default
        if marker.kind == "path" and name not in path_names and (marker.alias or name) not in path_names:
            raise TypeError("%s: parameter %r is declared Path() but the route path has no {%s}"
                            % (_qual(owner), name, marker.alias or name))
        required = marker.required
        dflt = None if marker.default is REQUIRED else marker.default
        if marker.default_factory is not None:
            dflt = _Factory(marker.default_factory)
            required = False
        if marker.kind == "body":
            conv = _body_converter(tp)
            key = marker.alias or name
            self.body.append(_BodyParam(name, conv, required, dflt, key, marker.embed, tp, marker))
            return
        if marker.kind == "file":
            self.form.append(_file_source(name, tp, marker, required, dflt, owner))
            return
        if marker.kind == "form" and (_is_body_type(tp) or _upload_type(tp) is not None):
            raise TypeError("%s: Form() parameter %r reads one text field; annotate it with a simple type "
                            "(str, int, List[str], ...)%s" % (_qual(owner), name, (
                                ", or use File() for a file" if _upload_type(tp) is not None else
                                ", or take the whole form as a Model parameter")))
        unconstrained = not any(getattr(marker, a) is not None for a, _ in _KEYWORDS)
        # The router already made {id:int} an int: nothing to check again.
        trusted = marker.kind == "path" and unconstrained and (
            tp is inspect.Parameter.empty or path_names.get(marker.alias or name) is tp)
        if trusted or ((tp is str or tp is inspect.Parameter.empty) and unconstrained):
            # PERF: a plain string needs no checking or conversion (and no compiler).
            check = convert = None
        else:
            types = _types()
            try:
                schema = _param_schema(tp, marker)
                check = types.compile_schema(schema, coerce=True)
                convert = types.converter_for(tp) if tp is not inspect.Parameter.empty else None
            except (TypeError, ValueError) as exc:
                raise TypeError("%s: cannot read parameter %r of type %r from the %s: %s"
                                % (_qual(owner), name, tp, marker.kind, exc)) from None
        src = _Source()
        src.name = name
        src.kind = marker.kind
        if marker.kind == "header":
            key = marker.alias or (name.replace("_", "-") if marker.convert_underscores else name)
            key = key.lower()
        else:
            key = marker.alias or name
        src.key = key
        src.check = check
        src.convert = convert
        src.collect = _collection(tp)
        src.trusted = trusted
        src.default = dflt
        src.required = required
        # A form field is part of the body: its errors are located there, as a Model's fields are.
        src.loc = ("body", key) if marker.kind == "form" else (marker.kind, key)
        src.strict_404 = marker.kind == "path"
        src.annotation = tp
        src.marker = marker
        (self.form if marker.kind == "form" else self.sources).append(src)


def _upload_type(tp):
    """"one" for UploadFile, "many" for List[UploadFile] (or another sequence of it), else None."""
    if isinstance(tp, type) and issubclass(tp, UploadFile):
        return "one"
    if _collection(tp) is not None:
        args = typing.get_args(tp)
        if args and isinstance(args[0], type) and issubclass(args[0], UploadFile):
            return "many"
    return None


def _file_source(name, tp, marker, required, default, owner):
    kind = "one" if tp is inspect.Parameter.empty or tp is typing.Any else _upload_type(tp)
    if kind is None:
        raise TypeError("%s: File() parameter %r must be annotated UploadFile or List[UploadFile], not %r"
                        % (_qual(owner), name, tp))
    src = _FileSource()
    src.name = name
    src.key = marker.alias or name
    src.many = kind == "many"
    src.default = default
    src.required = required
    src.loc = ("body", src.key)
    src.max_size = marker.max_size
    src.marker = marker
    return src


def _qual(fn):
    return getattr(fn, "__qualname__", repr(fn))


async def _solve(plan, request, errors):
    """Fill the arguments of ``plan.fn``; errors are appended, not raised."""
    kwargs = {}
    for src in plan.sources:
        kwargs[src.name] = src.resolve(request, errors)
    for name, kind in plan.specials:
        if kind == "request":
            kwargs[name] = request
        else:
            if request._background is None:
                request._background = BackgroundTasks()
            kwargs[name] = request._background
    for name, dep, sub in plan.deps:
        value = await _call_dependency(dep, sub, request, errors)
        if name is not None:
            kwargs[name] = value
    if plan.body:
        await _solve_body(plan, request, kwargs, errors)
    elif plan.form:
        # Parsed once per request (request.form() caches it), whoever asks first: CSRF
        # middleware, a dependency or the handler. Not a form: 415 from request.form().
        form = await request.form()
        for src in plan.form:
            kwargs[src.name] = src.resolve(form, errors)
    return kwargs


_JSON_MEDIA = re.compile(r"application/(?:[a-z0-9.+-]*\+)?json")


_FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _read_body_data(request, form_ok):
    """(data, coerce): parsed JSON, or a form as a dict (repeated keys -> lists) to coerce."""
    media = request.content_type
    if form_ok and media in _FORM_MEDIA:
        form = await request.form()
        if not len(form):
            return _MISSING, True
        data = {}
        for k, v in form.multi_items():
            if k in data:
                prev = data[k]
                data[k] = prev + [v] if isinstance(prev, list) else [prev, v]
            else:
                data[k] = v
        return data, True
    body = await request.body()
    if not body:
        return _MISSING, False
    # JSON is parsed only when declared as JSON: a form post cannot
    # smuggle a JSON body past CSRF defences (FastAPI CVE-2021-32677).
    if _JSON_MEDIA.fullmatch(media) is None:
        expected = "application/json (or a form)" if form_ok else "application/json"
        raise HTTPException(415, "expected Content-Type %s, got %r" % (expected, media or "nothing"))
    return parse_json(body), False


async def _solve_body(plan, request, kwargs, errors):
    data, coerce = await _read_body_data(request, plan.form_ok)
    if not plan.body_embed:
        name, conv, required, dflt, key = plan.body[0][:5]
        if data is _MISSING:
            if required:
                errors.append({"loc": ["body"], "msg": "field required", "type": "required"})
            kwargs[name] = dflt() if isinstance(dflt, _Factory) else dflt
            return
        kwargs[name] = conv(data, ["body"], errors, coerce)
        return
    if data is not _MISSING and not isinstance(data, dict):
        errors.append({"loc": ["body"], "msg": "must be of type object", "type": "type"})
        return
    for name, conv, required, dflt, key in (b[:5] for b in plan.body):
        if data is _MISSING or key not in data:
            if required:
                errors.append({"loc": ["body", key], "msg": "field required", "type": "required"})
            kwargs[name] = dflt() if isinstance(dflt, _Factory) else dflt
        else:
            kwargs[name] = conv(data[key], ["body", key], errors, coerce)


_MISSING = object()


async def _call_dependency(dep, plan, request, errors):
    cache = request._cache
    if dep.use_cache and cache is not None and dep.dependency in cache:
        return cache[dep.dependency]
    before = len(errors)
    kwargs = await _solve(plan, request, errors)
    if len(errors) > before:
        return None
    kind = plan.call_kind
    fn = plan.fn
    if kind == "async":
        value = await fn(**kwargs)
    elif kind == "sync":
        value = await run_sync(request, fn, **kwargs)
    elif kind == "agen":
        gen = fn(**kwargs)
        try:
            value = await gen.__anext__()
        except StopAsyncIteration:
            raise RuntimeError("dependency %s did not yield" % _qual(fn)) from None
        _push_cleanup(request, gen)
    else:
        gen = fn(**kwargs)
        value = await run_sync(request, _first, gen)
        _push_cleanup(request, gen)
    if dep.use_cache:
        if request._cache is None:
            request._cache = {}
        request._cache[dep.dependency] = value
    return value


def _push_cleanup(request, gen):
    if request._cleanups is None:
        request._cleanups = []
    request._cleanups.append(gen)


def _first(gen):
    # StopIteration cannot cross a Future (it would end the awaiting
    # coroutine); turn it into a clear error here, in the worker thread.
    try:
        return next(gen)
    except StopIteration:
        raise RuntimeError("dependency %s did not yield" % _qual(gen)) from None


def _finish(gen, exc):
    try:
        if exc is None:
            next(gen)
        else:
            gen.throw(exc)
    except StopIteration:
        return
    gen.close()
    raise RuntimeError("dependency %s yielded more than once" % _qual(gen))


async def _afinish(gen, exc):
    try:
        if exc is None:
            await gen.__anext__()
        else:
            await gen.athrow(exc)
    except StopAsyncIteration:
        return
    await gen.aclose()
    raise RuntimeError("dependency %s yielded more than once" % _qual(gen))


async def teardown(request, gens, exc=None):
    """Close ``yield`` dependencies in reverse order; the handler's exception is thrown in at the yield."""
    for gen in reversed(gens):
        try:
            if inspect.isasyncgen(gen):
                await _afinish(gen, exc)
            else:
                await run_sync(request, _finish, gen, exc)
        except Exception as e:
            if e is not exc:  # re-raising the handler's error is the normal way out
                logger.exception("dependency %s failed during teardown", _qual(gen))


def _path_types(route):
    """{path parameter: the Python type its converter produces (or None)}."""
    return {name: getattr(conv, "value_type", None) for name, conv in zip(route.param_names, route.param_convs)}


class ResponseValidationError(Exception):
    """A handler returned something its ``response_model`` does not allow: a server bug, answered with 500."""

    def __init__(self, handler, errors):
        super().__init__("%s returned a value that does not match its response_model: %r" % (handler, errors))
        self.errors = errors


def _response_filter(model, fn, status):
    """result -> JSONResponse checked against, and filtered to, ``response_model``."""
    types = _types()
    compile_schema, converter_for, schema_for, serializer_for = (
        types.compile_schema, types.converter_for, types.schema_for, types.serializer_for)

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
        except ValidationError as exc:
            raise ResponseValidationError(_qual(fn), exc.errors) from None
        if convert is not None:
            # Through the Python type and back: keys the model does not declare are dropped.
            data = serialize(convert(data))
        response = JSONResponse(data, status or 200)
        return to_response((response,) + rest) if rest else response
    return respond


def walk_plans(plan, seen=None):
    """The plan and the plans of its dependencies, once each (for checks and the OpenAPI document)."""
    seen = set() if seen is None else seen
    if id(plan) in seen:
        return
    seen.add(id(plan))
    yield plan
    for _name, _dep, sub in plan.deps:
        yield from walk_plans(sub, seen)


def _check_one_body(plan, fn):
    """A request has one body: JSON (or a form read as a whole) or form fields, never both."""
    plans = list(walk_plans(plan))
    bodies = [b[0] for p in plans for b in p.body]
    fields = [f.name for p in plans for f in p.form]
    if bodies and fields:
        raise TypeError(
            "%s: Form()/File() parameters (%s) and a body parameter (%s) cannot share one request body; "
            "read the form field by field with Form()/File(), or whole as one Model parameter"
            % (_qual(fn), ", ".join(fields), ", ".join(bodies)))
    return any(p.form_ok for p in plans)


def _invalid(request, errors, form_ok):
    """The 422 for ``errors``; it says so when a JSON-or-form body was read as a form."""
    if form_ok and request.content_type in _FORM_MEDIA and any(
            e["type"] == "required" and e["loc"][:1] == ["body"] for e in errors):
        # A client that meant JSON and sent a form (requests' data= for json=) sees "field
        # required" for keys it believes it sent: name the cause.
        return RequestValidationError(errors, detail="the body was read as a form (Content-Type: %s); "
                                      "send application/json" % request.content_type)
    return RequestValidationError(errors)


def build_handler(route, on_error=None):
    """Compile a Route into ``async handle(request) -> Response``: injector, call, conversion, group and route
    middleware, and the middleware the handler carries (``add_route_middleware``), innermost.

    ``on_error(request, exc)`` is the app's answer to an exception (a Response, or None to let it
    propagate); with it, route and group middleware see the errors the app answers as responses.
    """
    fn = route.endpoint
    plan = _Plan(fn, _path_types(route), route.dependencies)
    form_ok = _check_one_body(plan, fn)
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
        raise TypeError("%s: a handler cannot be a generator; return a StreamingResponse" % _qual(fn))

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
            kwargs = await _solve(plan, request, errors)
            if errors:
                raise _invalid(request, errors, form_ok)
            if kind == "async":
                result = await fn(**kwargs)
            else:
                result = await run_sync(request, fn, **kwargs)
            return respond(result, status)

    route.plan = plan
    middleware = route.middleware + list(route_middleware(fn))
    if middleware:
        if on_error is not None:
            endpoint = guard(endpoint, on_error)
        return chain(middleware, endpoint, on_error)
    return endpoint
