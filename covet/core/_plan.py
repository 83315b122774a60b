"""Handler signature -> plan, built once at registration.

Where each argument comes from: ``request``/``Request`` and
``BackgroundTasks`` are injected; names in the path template are path
parameters; ``Query``/``Path``/``Header``/``Cookie``/``Body``/``Form``/``File``
declare a source and constraints; ``Depends`` runs a dependency; a dict,
dataclass, Model or TypedDict annotation is the JSON body; an ``UploadFile``
annotation is a file of a multipart form (``File()`` also takes ``bytes``, the
file's content); any other simple type comes from
the query string. A ``Plan`` holds, for one function, the readers of its
arguments (each reads and checks one value of a request) and the plans of its
dependencies; ``covet.core._solve`` runs it per request.

Example::

    plan = Plan(handler, path_types(route), route.dependencies)
    form_ok = check_one_body(plan, handler)
"""
import inspect
import sys
import typing

from ._chain import is_async_callable
from .background import BackgroundTasks
from .dependencies import REQUIRED, Body, Depends, File, Param, Path, Query
from .errors import HTTPException
from .requests import Request
from .services import service

__all__ = ["Factory", "Plan", "check_one_body", "path_types", "qual", "validation_types", "walk_plans"]

# The validation package's error type, known once the type system is first asked for (a check
# only exists after that, so the ``except`` clauses that name it never see None).
ValidationError = None


def validation_types():
    """The validation service (schema_for, compile_schema, converter_for, serializer_for)."""
    global ValidationError
    types = service("validation")
    ValidationError = types.ValidationError
    return types


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
        # dataclasses.is_dataclass, without importing dataclasses for apps that declare none
        hasattr(tp, "__dataclass_fields__") or _is_typeddict(tp) or getattr(tp, "__covet_model__", False)
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
    types = validation_types()
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
    schema = dict(validation_types().schema_for(tp)) if tp is not inspect.Parameter.empty else {"type": "string"}
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
            return self.default() if isinstance(self.default, Factory) else self.default
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
    """One ``File()`` argument: the UploadFile(s) of a multipart form field.

    With ``content`` (annotated ``bytes``), ``covet.core._solve`` then reads each one whole.
    """

    __slots__ = ("name", "key", "many", "content", "default", "required", "loc", "max_size", "marker")

    def resolve(self, form, errors):
        # A file input left empty still sends a part, with filename="" and no data (HTML's
        # form submission algorithm): that is no file.
        values = [v for v in form.getlist(self.key) if not (type(v) is not str and v.filename == "" and not v.size)]
        if not values:
            if self.required:
                errors.append({"loc": list(self.loc), "msg": "field required", "type": "required"})
                return None
            return self.default() if isinstance(self.default, Factory) else self.default
        if any(type(v) is str for v in values):  # a form's values are str or UploadFile
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


class Factory:
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self):
        return self.fn()



class Plan:
    """Everything needed to call one function (handler or dependency) with injected arguments."""

    __slots__ = ("fn", "call_kind", "sources", "specials", "deps", "body", "body_embed", "is_async", "simple",
                 "form_ok", "form", "contents", "websocket")

    def __init__(self, fn, path_names, extra_deps=(), owner=None, websocket=False):
        self.fn = fn
        # On a WebSocket route a parameter named ``websocket`` gets the WebSocket (a Request), in
        # the handler and in its dependencies alike.
        self.websocket = websocket
        self.sources = []
        self.specials = []   # (name, kind)
        self.deps = []       # (name or None, Depends, Plan)
        self.body = []       # (name, converter, required, default, loc)
        self.form = []       # _Source (kind "form") and _FileSource: fields of a form body
        self.contents = []   # the _FileSources of self.form annotated bytes: read whole per request
        for d in extra_deps:
            if not isinstance(d, Depends):
                d = Depends(d)
            self.deps.append((None, d, Plan(d.dependency, path_names, websocket=websocket)))
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
                raise TypeError("%s: Depends() on %r needs a callable or an annotation" % (qual(owner), name))
            self.deps.append((name, dep, Plan(dep.dependency, path_names, websocket=self.websocket)))
            return
        if marker is None and (name == "request" or (name == "websocket" and self.websocket)
                               or (isinstance(tp, type) and issubclass(tp, Request))):
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
                            % (qual(owner), name, marker.alias or name))
        required = marker.required
        dflt = None if marker.default is REQUIRED else marker.default
        if marker.default_factory is not None:
            dflt = Factory(marker.default_factory)
            required = False
        if marker.kind == "body":
            conv = _body_converter(tp)
            key = marker.alias or name
            self.body.append(_BodyParam(name, conv, required, dflt, key, marker.embed, tp, marker))
            return
        if marker.kind == "file":
            src = _file_source(name, tp, marker, required, dflt, owner)
            self.form.append(src)
            if src.content:
                self.contents.append(src)
            return
        if marker.kind == "form" and (_is_body_type(tp) or _upload_type(tp) is not None):
            raise TypeError("%s: Form() parameter %r reads one text field; annotate it with a simple type "
                            "(str, int, List[str], ...)%s" % (qual(owner), name, (
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
            types = validation_types()
            try:
                schema = _param_schema(tp, marker)
                check = types.compile_schema(schema, coerce=True)
                convert = types.converter_for(tp) if tp is not inspect.Parameter.empty else None
            except (TypeError, ValueError) as exc:
                raise TypeError("%s: cannot read parameter %r of type %r from the %s: %s"
                                % (qual(owner), name, tp, marker.kind, exc)) from None
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
    uploads = sys.modules.get("covet.core.uploads")
    if uploads is None:
        # No annotation can name UploadFile before its module is loaded; not importing it here
        # keeps the multipart machinery (and tempfile) out of the start-up of apps without forms.
        return None
    UploadFile = uploads.UploadFile
    if isinstance(tp, type) and issubclass(tp, UploadFile):
        return "one"
    if _collection(tp) is not None:
        args = typing.get_args(tp)
        if args and isinstance(args[0], type) and issubclass(args[0], UploadFile):
            return "many"
    return None


def _file_kind(tp):
    """(many, content) for a File() annotation: UploadFile or bytes, or a sequence of one; else None."""
    if tp is inspect.Parameter.empty or tp is typing.Any:
        return False, False
    if tp is bytes:
        return False, True
    if _collection(tp) is not None and typing.get_args(tp)[:1] == (bytes,):
        return True, True
    kind = _upload_type(tp)
    return None if kind is None else (kind == "many", False)


def _file_source(name, tp, marker, required, default, owner):
    kind = _file_kind(tp)
    if kind is None:
        raise TypeError("%s: File() parameter %r must be annotated UploadFile, bytes, or a List of either, "
                        "not %r" % (qual(owner), name, tp))
    src = _FileSource()
    src.name = name
    src.key = marker.alias or name
    src.many, src.content = kind
    src.default = default
    src.required = required
    src.loc = ("body", src.key)
    src.max_size = marker.max_size
    src.marker = marker
    return src


def qual(fn):
    return getattr(fn, "__qualname__", repr(fn))



def path_types(route):
    """{path parameter: the Python type its converter produces (or None)}."""
    return {name: getattr(conv, "value_type", None) for name, conv in zip(route.param_names, route.param_convs)}


def walk_plans(plan, seen=None):
    """The plan and the plans of its dependencies, once each (for checks and the OpenAPI document)."""
    seen = set() if seen is None else seen
    if id(plan) in seen:
        return
    seen.add(id(plan))
    yield plan
    for _name, _dep, sub in plan.deps:
        yield from walk_plans(sub, seen)


def check_one_body(plan, fn):
    """A request has one body: JSON (or a form read as a whole) or form fields, never both.

    And a file field is taken either as bytes (read whole, then closed) or as UploadFile by the
    handler and its dependencies, not both: the UploadFile would arrive closed.
    """
    plans = list(walk_plans(plan))
    bodies = [b[0] for p in plans for b in p.body]
    fields = [f.name for p in plans for f in p.form]
    if bodies and fields:
        raise TypeError(
            "%s: Form()/File() parameters (%s) and a body parameter (%s) cannot share one request body; "
            "read the form field by field with Form()/File(), or whole as one Model parameter"
            % (qual(fn), ", ".join(fields), ", ".join(bodies)))
    as_bytes = {}
    for f in (f for p in plans for f in p.form if isinstance(f, _FileSource)):
        if as_bytes.setdefault(f.key, f.content) != f.content:
            raise TypeError(
                "%s: file field %r is taken both as bytes and as UploadFile; bytes are read whole and the "
                "file is closed, so take it as UploadFile everywhere (``await upload.read()``)" % (qual(fn), f.key))
    return any(p.form_ok for p in plans)
