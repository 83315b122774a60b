"""Handler signature -> injector, built once at registration.

Where each argument comes from: ``request``/``Request`` and
``BackgroundTasks`` are injected; names in the path template are path
parameters; ``Query``/``Path``/``Header``/``Cookie``/``Body`` declare a
source and constraints; ``Depends`` runs a dependency; a dict, dataclass,
Model or TypedDict annotation is the JSON body; any other simple type comes
from the query string. Every violation of one request is collected into a
single 422 with an ``errors`` list of ``{loc, msg, type}``.

Order of a request's life (tested, documented in docs/dependencies.md):
dependency setup -> handler -> response built -> response sent ->
background tasks -> dependency teardown (``yield`` dependencies see the
handler's exception, if any, thrown in at their ``yield``).
"""
import dataclasses
import datetime
import decimal
import enum
import inspect
import logging
import math
import re
import typing
import uuid

from ._chain import chain, is_async_callable, run_sync
from .background import BackgroundTasks
from .errors import HTTPException, RequestValidationError
from .requests import Request, parse_json
from .responses import HTMLResponse, JSONResponse, Response

__all__ = ["Param", "Query", "Path", "Header", "Cookie", "Body", "Depends", "build_handler", "to_response"]

logger = logging.getLogger("covet.error")

_REQUIRED = ...


class Param:
    """Where a handler argument comes from, with its default and constraints (see Query, Path, ...)."""

    kind = None
    __slots__ = ("default", "default_factory", "alias", "gt", "ge", "lt", "le", "min_length", "max_length",
                 "pattern", "title", "description", "examples", "deprecated", "include_in_schema",
                 "convert_underscores", "embed", "media_type", "_regex")

    def __init__(self, default=_REQUIRED, *, default_factory=None, alias=None, gt=None, ge=None, lt=None,
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
        return self.default is _REQUIRED and self.default_factory is None

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


# -- string -> value conversion (query, path, header, cookie) -------------

_INT = re.compile(r"[+-]?[0-9]{1,4300}")
_TRUE = frozenset(("true", "1", "yes", "on", "t", "y"))
_FALSE = frozenset(("false", "0", "no", "off", "f", "n"))


class _Invalid(Exception):
    def __init__(self, type_, msg):
        self.type = type_
        self.msg = msg


def _conv_int(s):
    if _INT.fullmatch(s) is None:
        raise _Invalid("int_parsing", "Input should be a valid integer, unable to parse string as an integer")
    return int(s)


def _conv_float(s):
    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if math.isnan(v) or math.isinf(v) or "_" in s:
        raise _Invalid("float_parsing", "Input should be a valid number, unable to parse string as a number")
    return v


def _conv_bool(s):
    low = s.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input")


def _conv_uuid(s):
    try:
        return uuid.UUID(s)
    except ValueError:
        raise _Invalid("uuid_parsing", "Input should be a valid UUID") from None


def _conv_decimal(s):
    try:
        v = decimal.Decimal(s)
    except decimal.InvalidOperation:
        v = None
    if v is None or not v.is_finite() or len(s) > 100:
        raise _Invalid("decimal_parsing", "Input should be a valid decimal")
    return v


def _iso(cls, type_, msg):
    def conv(s):
        text = s[:-1] + "+00:00" if s.endswith(("Z", "z")) and cls is not datetime.date else s
        try:
            return cls.fromisoformat(text)
        except ValueError:
            raise _Invalid(type_, msg) from None
    return conv


_SCALARS = {
    str: str,
    int: _conv_int,
    float: _conv_float,
    bool: _conv_bool,
    uuid.UUID: _conv_uuid,
    decimal.Decimal: _conv_decimal,
    datetime.datetime: _iso(datetime.datetime, "datetime_parsing", "Input should be a valid datetime"),
    datetime.date: _iso(datetime.date, "date_parsing", "Input should be a valid date in the format YYYY-MM-DD"),
    datetime.time: _iso(datetime.time, "time_parsing", "Input should be a valid time"),
}


def _choices_msg(values):
    reprs = ["%r" % (v,) for v in values]
    return "Input should be " + (", ".join(reprs[:-1]) + " or " + reprs[-1] if len(reprs) > 1 else reprs[0])


def _enum_converter(cls):
    by_str = {str(m.value): m for m in cls}
    msg = _choices_msg([m.value for m in cls])

    def conv(s):
        m = by_str.get(s)
        if m is None:
            raise _Invalid("enum", msg)
        return m
    return conv


def _literal_converter(values):
    by_str = {str(v).lower() if isinstance(v, bool) else str(v): v for v in values}
    msg = _choices_msg(list(values))

    def conv(s):
        if s in by_str:
            return by_str[s]
        raise _Invalid("literal_error", msg)
    return conv


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


def _scalar_converter(tp):
    if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
        return str
    if tp in _SCALARS:
        return _SCALARS[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_converter(tp)
    if typing.get_origin(tp) is typing.Literal:
        return _literal_converter(typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, (str, int, float)):
        base = next(b for b in (bool, int, float, str) if issubclass(tp, b))
        inner = _SCALARS[base]
        return lambda s: tp(inner(s))
    return None


def _string_converter(tp):
    """(convert(str) -> value, collection type or None) for a simple annotation; None when not simple."""
    origin = typing.get_origin(tp)
    if tp in (list, set, tuple, frozenset) or origin in _LIST_ORIGINS:
        args = typing.get_args(tp)
        item = args[0] if args else str
        inner = _scalar_converter(item)
        if inner is None:
            return None
        collect = {set: set, frozenset: frozenset, tuple: tuple}.get(origin or tp, list)
        return inner, collect
    conv = _scalar_converter(tp)
    return (conv, None) if conv is not None else None


def _is_body_type(tp):
    origin = typing.get_origin(tp)
    if origin is list and _string_converter(tp) is not None:
        return False  # List[int], List[str]...: repeated query keys (issue 2)
    if tp in (dict, list) or origin in (dict, list, typing.Union):
        return True
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp) or _is_typeddict(tp):
            return True
        if callable(getattr(tp, "parse", None)) and callable(getattr(tp, "json_schema", None)):
            return True
    return False


def _is_typeddict(tp):
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__") and hasattr(tp, "__total__")


# -- JSON body values ----------------------------------------------------

def _json_converter(tp):
    """convert(value, loc, errors) for a JSON body annotation (no string coercion)."""
    tp, optional, _ = _unwrap(tp)
    if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
        return lambda v, loc, errors: v
    base = _json_converter_for(tp)
    if not optional:
        return base
    return lambda v, loc, errors: None if v is None else base(v, loc, errors)


def _type_error(errors, loc, type_, msg):
    errors.append({"loc": list(loc), "msg": msg, "type": type_})


def _json_converter_for(tp):
    origin = typing.get_origin(tp)
    if tp is bool:
        def conv(v, loc, errors):
            if v is True or v is False:
                return v
            _type_error(errors, loc, "bool_type", "Input should be a valid boolean")
        return conv
    if tp is int:
        def conv(v, loc, errors):
            if type(v) is int or (type(v) is float and v.is_integer()):
                return int(v)
            _type_error(errors, loc, "int_type", "Input should be a valid integer")
        return conv
    if tp is float:
        def conv(v, loc, errors):
            if type(v) in (int, float):
                return float(v)
            _type_error(errors, loc, "float_type", "Input should be a valid number")
        return conv
    if tp is str:
        def conv(v, loc, errors):
            if type(v) is str:
                return v
            _type_error(errors, loc, "string_type", "Input should be a valid string")
        return conv
    string_conv = _scalar_converter(tp)
    if string_conv is not None:  # UUID, dates, Decimal, Enum, Literal arrive as JSON strings (or numbers)
        def conv(v, loc, errors):
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                _type_error(errors, loc, "string_type", "Input should be a valid string")
                return None
            try:
                return string_conv(str(v))
            except _Invalid as exc:
                _type_error(errors, loc, exc.type, exc.msg)
        return conv
    if tp is dict or origin is dict:
        args = typing.get_args(tp)
        val_conv = _json_converter(args[1]) if len(args) == 2 else None

        def conv(v, loc, errors):
            if not isinstance(v, dict):
                _type_error(errors, loc, "dict_type", "Input should be a valid dictionary")
                return None
            if val_conv is None:
                return v
            return {k: val_conv(x, loc + [k], errors) for k, x in v.items()}
        return conv
    if tp in (list, set, tuple) or origin in (list, set, tuple, frozenset):
        args = typing.get_args(tp)
        item_conv = _json_converter(args[0]) if args else None
        collect = {set: set, frozenset: frozenset, tuple: tuple}.get(origin or tp, list)

        def conv(v, loc, errors):
            if not isinstance(v, list):
                _type_error(errors, loc, "list_type", "Input should be a valid list")
                return None
            if item_conv is None:
                return collect(v)
            return collect(item_conv(x, loc + [i], errors) for i, x in enumerate(v))
        return conv
    if isinstance(tp, type) and callable(getattr(tp, "parse", None)) and callable(getattr(tp, "json_schema", None)):
        def conv(v, loc, errors):
            try:
                return tp.parse(v)
            except Exception as exc:
                sub = getattr(exc, "errors", None)
                if not isinstance(sub, list):
                    raise
                for e in sub:
                    errors.append({"loc": list(loc) + list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")})
        return conv
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _is_typeddict(tp)):
        return _record_converter(tp)
    raise TypeError("covet cannot read a request body into %r" % (tp,))


def _record_converter(tp):
    hints = typing.get_type_hints(tp)
    if dataclasses.is_dataclass(tp):
        fields = []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            fields.append((f.name, required, _json_converter(hints.get(f.name, typing.Any))))
        build = tp
    else:
        required_keys = getattr(tp, "__required_keys__", set(hints) if tp.__total__ else set())
        fields = [(name, name in required_keys, _json_converter(h)) for name, h in hints.items()]
        build = dict

    def conv(v, loc, errors):
        if not isinstance(v, dict):
            _type_error(errors, loc, "dict_type", "Input should be a valid dictionary")
            return None
        before = len(errors)
        kwargs = {}
        for name, required, fconv in fields:
            if name in v:
                kwargs[name] = fconv(v[name], loc + [name], errors)
            elif required:
                _type_error(errors, loc + [name], "missing", "Field required")
        if len(errors) > before:
            return None
        return build(**kwargs)
    return conv


# -- constraints ----------------------------------------------------------

def _constraint_checker(p):
    checks = []
    if p.gt is not None:
        checks.append((lambda v, b=p.gt: v > b, "greater_than", "Input should be greater than %s" % p.gt))
    if p.ge is not None:
        checks.append((lambda v, b=p.ge: v >= b, "greater_than_equal", "Input should be greater than or equal to %s" % p.ge))
    if p.lt is not None:
        checks.append((lambda v, b=p.lt: v < b, "less_than", "Input should be less than %s" % p.lt))
    if p.le is not None:
        checks.append((lambda v, b=p.le: v <= b, "less_than_equal", "Input should be less than or equal to %s" % p.le))
    if p.min_length is not None:
        checks.append((lambda v, n=p.min_length: len(v) >= n, "too_short",
                       "Should have at least %d item%s" % (p.min_length, "" if p.min_length == 1 else "s")))
    if p.max_length is not None:
        checks.append((lambda v, n=p.max_length: len(v) <= n, "too_long",
                       "Should have at most %d item%s" % (p.max_length, "" if p.max_length == 1 else "s")))
    if p._regex is not None:
        checks.append((lambda v, r=p._regex: r.search(v) is not None, "string_pattern_mismatch",
                       "String should match pattern '%s'" % p.pattern))
    if not checks:
        return None

    def check(value, loc, errors):
        for ok, type_, msg in checks:
            try:
                good = ok(value)
            except TypeError:
                good = True  # constraint does not apply to this type
            if not good:
                if type_ in ("too_short", "too_long") and isinstance(value, str):
                    type_ = "string_" + type_
                    msg = msg.replace("Should have", "String should have").replace("item", "character")
                errors.append({"loc": list(loc), "msg": msg, "type": type_})
                return False
        return True
    return check


# -- the plan -------------------------------------------------------------

class _Source:
    """One argument read from the query, path, headers or cookies."""

    __slots__ = ("name", "kind", "key", "conv", "collect", "default", "required", "check", "loc", "strict_404",
                 "annotation", "marker")

    def resolve(self, request, errors):
        kind = self.kind
        if kind == "path":
            raw = request.path_params.get(self.key)
            present = self.key in request.path_params
            values = [raw] if present else []
        elif kind == "query":
            values = request.query_params.getlist(self.key) if self.collect else _one(request.query_params.get(self.key))
        elif kind == "header":
            values = request.headers.getlist(self.key)
            if not self.collect and values:
                values = values[:1]
        else:
            v = request.cookies.get(self.key)
            values = [] if v is None else [v]
        if not values:
            if self.required:
                errors.append({"loc": list(self.loc), "msg": "Field required", "type": "missing"})
                return None
            return self.default() if isinstance(self.default, _Factory) else self.default
        try:
            if self.collect is not None:
                value = self.collect(self.conv(v) if isinstance(v, str) else v for v in values)
            else:
                v = values[0]
                value = self.conv(v) if isinstance(v, str) else _reconvert(self.conv, v)
        except _Invalid as exc:
            if self.strict_404:
                raise HTTPException(404) from None
            errors.append({"loc": list(self.loc), "msg": exc.msg, "type": exc.type})
            return None
        if self.check is not None:
            self.check(value, self.loc, errors)
        return value


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


def _one(v):
    return [] if v is None else [v]


def _as_typed(s):
    return s


def _reconvert(conv, v):
    # A path value the router already typed ({id:int}) meets a handler
    # annotation: convert through its string form, unless it already fits.
    # With no annotation the converter's type stands ({id:int} -> int).
    if conv is _as_typed:
        return v
    if conv is str:
        return str(v)
    return conv(str(v))


class _Plan:
    """Everything needed to call one function (handler or dependency) with injected arguments."""

    __slots__ = ("fn", "call_kind", "sources", "specials", "deps", "body", "body_embed", "is_async", "simple")

    def __init__(self, fn, path_names, extra_deps=(), owner=None):
        self.fn = fn
        self.sources = []
        self.specials = []   # (name, kind)
        self.deps = []       # (name or None, Depends, _Plan)
        self.body = []       # (name, converter, required, default, loc)
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
        self.is_async = is_async_callable(fn) or inspect.isasyncgenfunction(fn)
        if inspect.isasyncgenfunction(fn):
            self.call_kind = "agen"
        elif inspect.isgeneratorfunction(fn):
            self.call_kind = "gen"
        elif is_async_callable(fn):
            self.call_kind = "async"
        else:
            self.call_kind = "sync"
        self.simple = not self.deps and not self.body

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
        dflt = None if marker.default is _REQUIRED else marker.default
        if marker.default_factory is not None:
            dflt = _Factory(marker.default_factory)
            required = False
        if marker.kind == "body":
            conv = _json_converter(annotation if typing.get_origin(annotation) is not getattr(typing, "Annotated", None) else tp)
            key = marker.alias or name
            self.body.append(_BodyParam(name, conv, required, dflt, key, marker.embed, tp, marker))
            return
        conv = _string_converter(tp)
        if conv is None:
            raise TypeError("%s: cannot read parameter %r of type %r from the %s" % (_qual(owner), name, tp, marker.kind))
        fn, collect = conv
        if marker.kind == "path" and tp is inspect.Parameter.empty:
            fn = _as_typed
        src = _Source()
        src.name = name
        src.kind = marker.kind
        if marker.kind == "header":
            key = marker.alias or (name.replace("_", "-") if marker.convert_underscores else name)
            key = key.lower()
        else:
            key = marker.alias or name
        src.key = key
        src.conv = fn
        src.collect = collect
        src.default = dflt
        src.required = required
        src.check = _constraint_checker(marker)
        src.loc = (marker.kind, key)
        src.strict_404 = marker.kind == "path"
        src.annotation = tp
        src.marker = marker
        self.sources.append(src)


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
    return kwargs


_JSON_MEDIA = re.compile(r"application/(?:[a-z0-9.+-]*\+)?json")


async def _solve_body(plan, request, kwargs, errors):
    body = await request.body()
    if not body:
        data = _MISSING
    else:
        media = request.content_type
        # JSON is parsed only when declared as JSON: a form post cannot
        # smuggle a JSON body past CSRF defences (FastAPI CVE-2021-32677).
        if _JSON_MEDIA.fullmatch(media) is None:
            raise HTTPException(415, "expected Content-Type application/json, got %r" % (media or "nothing"))
        data = parse_json(body)
    if not plan.body_embed:
        name, conv, required, dflt, key = plan.body[0][:5]
        if data is _MISSING:
            if required:
                errors.append({"loc": ["body"], "msg": "Field required", "type": "missing"})
            kwargs[name] = dflt() if isinstance(dflt, _Factory) else dflt
            return
        kwargs[name] = conv(data, ["body"], errors)
        return
    if data is not _MISSING and not isinstance(data, dict):
        errors.append({"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"})
        return
    for name, conv, required, dflt, key in (b[:5] for b in plan.body):
        if data is _MISSING or key not in data:
            if required:
                errors.append({"loc": ["body", key], "msg": "Field required", "type": "missing"})
            kwargs[name] = dflt() if isinstance(dflt, _Factory) else dflt
        else:
            kwargs[name] = conv(data[key], ["body", key], errors)


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
        if status in (204, 304) or status < 200:
            response.raw_headers[:] = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
        return response
    return JSONResponse(result, status_code or 200)


def build_handler(route):
    """Compile a Route into ``async handle(request) -> Response``: injector, call, conversion, group middleware."""
    plan = _Plan(route.endpoint, set(route.param_names), route.dependencies)
    fn = route.endpoint
    status = route.options.get("status_code")
    kind = plan.call_kind
    if kind in ("gen", "agen"):
        raise TypeError("%s: a handler cannot be a generator; return a StreamingResponse" % _qual(fn))

    if not plan.sources and not plan.specials and plan.simple:
        if kind == "async":
            async def endpoint(request):
                return to_response(await fn(), status)
        else:
            async def endpoint(request):
                return to_response(await run_sync(request, fn), status)
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
            return to_response(await fn(**kwargs), status)
    else:
        async def endpoint(request):
            errors = []
            kwargs = await _solve(plan, request, errors)
            if errors:
                raise RequestValidationError(errors)
            if kind == "async":
                result = await fn(**kwargs)
            else:
                result = await run_sync(request, fn, **kwargs)
            return to_response(result, status)

    route.plan = plan
    if route.middleware:
        return chain(route.middleware, endpoint)
    return endpoint
