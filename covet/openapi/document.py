"""The OpenAPI 3.1 document of an app.

Built from what registration already knows: each route's injector plan
(parameters, constraints, body annotations) and ``covet.validation``'s
type-hint -> JSON Schema mapping. Nothing is described twice. The document
is built on first request and cached until routes change.
"""
import inspect
import json
import re

from ..core._paths import PARAM
from ..core._plan import walk_plans
from ..core._wrap import route_middleware
from ..validation import schema_for

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{name}"
_AUTO_METHODS = ("HEAD", "OPTIONS")

_CONVERTER_SCHEMAS = {
    "IntConverter": {"type": "integer", "minimum": 0},
    "FloatConverter": {"type": "number", "minimum": 0},
    "UUIDConverter": {"type": "string", "format": "uuid"},
}

_VALIDATION_ERROR = {
    "type": "object",
    "title": "ValidationProblem",
    "description": "RFC 9457 problem details with every violation of the request.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        },
    },
    "required": ["type", "title", "status", "errors"],
}

_PROBLEM = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}


def _constraints(schema, marker):
    schema = dict(schema)
    for attr, key in (("gt", "exclusiveMinimum"), ("ge", "minimum"), ("lt", "exclusiveMaximum"),
                      ("le", "maximum"), ("min_length", "minLength"), ("max_length", "maxLength"),
                      ("pattern", "pattern")):
        value = getattr(marker, attr, None)
        if value is None:
            continue
        if key in ("minLength", "maxLength") and schema.get("type") == "array":
            key = "minItems" if key == "minLength" else "maxItems"
        schema[key] = value
    if getattr(marker, "title", None):
        schema["title"] = marker.title
    return schema


def _json_safe(value):
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _parameters(route, defs):
    params = []
    declared = set()
    plan = route.plan
    for p in walk_plans(plan) if plan is not None else ():
        for src in p.sources:
            where = src.kind
            key = src.key
            if (where, key) in declared:
                continue
            declared.add((where, key))
            marker = src.marker
            if marker is not None and not marker.include_in_schema:
                continue
            schema = _param_schema(src, defs)
            entry = {"name": key, "in": where, "required": bool(src.required) or where == "path", "schema": schema}
            if marker is not None:
                if marker.description:
                    entry["description"] = marker.description
                if marker.deprecated:
                    entry["deprecated"] = True
                if marker.examples:
                    entry["examples"] = {str(i): {"value": v} for i, v in enumerate(marker.examples)}
            if where == "query" and src.collect is not None:
                entry["style"] = "form"
                entry["explode"] = True
            params.append(entry)
    # Path parameters the handler does not take are still part of the path.
    converters = dict(zip(route.param_names, route.param_convs))
    for name in route.param_names:
        if ("path", name) not in declared:
            conv = converters.get(name)
            schema = dict(_CONVERTER_SCHEMAS.get(type(conv).__name__, {"type": "string"}))
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _param_schema(src, defs):
    """The JSON schema of a query, path, header, cookie or form value: its type and constraints."""
    if src.annotation is inspect.Parameter.empty:
        schema = {"type": "string"}
    else:
        schema = schema_for(src.annotation, defs=defs, ref_template=_REF)
    if src.collect is not None and schema.get("type") != "array":
        schema = {"type": "array", "items": schema}
    schema = _constraints(schema, src.marker)
    if not src.required and src.default is not None and _json_safe(src.default):
        schema["default"] = src.default
    return schema


# A file part, spelled as Swagger UI and the common client generators read it.
_BINARY = {"type": "string", "format": "binary"}


def _form_body(fields, defs):
    """Form()/File() parameters as one form object: multipart when a file is among them."""
    props, required, files = {}, [], False
    for f in fields:
        if f.marker is not None and not f.marker.include_in_schema:
            continue
        if f.marker.kind == "file":
            files = True
            schema = {"type": "array", "items": dict(_BINARY)} if f.many else dict(_BINARY)
            if f.marker.description:
                schema["description"] = f.marker.description
        else:
            schema = _param_schema(f, defs)
            if f.marker.description:
                schema["description"] = f.marker.description
        props[f.key] = schema
        if f.required:
            required.append(f.key)
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    media = "multipart/form-data" if files else "application/x-www-form-urlencoded"
    return {"required": bool(required), "content": {media: {"schema": schema}}}


def _request_body(route, defs):
    plan = route.plan
    if plan is None:
        return None
    fields = [f for p in walk_plans(plan) for f in p.form]
    if fields:
        return _form_body(fields, defs)
    bodies = [b for p in walk_plans(plan) for b in p.body]
    if not bodies:
        return None
    if len(bodies) == 1 and not bodies[0][5]:
        b = bodies[0]
        schema = schema_for(b.annotation, defs=defs, ref_template=_REF) if b.annotation is not inspect.Parameter.empty else {}
        required = bool(b[2])
    else:
        props, req = {}, []
        for b in bodies:
            props[b[4]] = schema_for(b.annotation, defs=defs, ref_template=_REF) if b.annotation is not inspect.Parameter.empty else {}
            if b[2]:
                req.append(b[4])
        schema = {"type": "object", "properties": props}
        if req:
            schema["required"] = req
        required = bool(req)
    media = getattr(bodies[0].marker, "media_type", None) or "application/json"
    return {"required": required, "content": {media: {"schema": schema}}}


def _docstring(fn):
    # The summary is the first paragraph, its lines joined: a first sentence wrapped over two
    # lines is still one summary (PEP 257 asks for one line; many docstrings wrap anyway).
    doc = inspect.getdoc(fn) or ""
    first, _, rest = doc.partition("\n\n")
    return " ".join(line.strip() for line in first.splitlines() if line.strip()), rest.strip()


def _operation_id(route, method, used):
    base = "%s_%s" % (route.name or "op", method.lower())
    base = re.sub(r"[^A-Za-z0-9_]", "_", base)
    op_id, n = base, 2
    while op_id in used:
        op_id = "%s_%d" % (base, n)
        n += 1
    used.add(op_id)
    return op_id


def _responses(route, defs, validates):
    options = route.options
    status = str(options.get("status_code") or 200)
    model = options.get("response_model")
    ok = {"description": options.get("response_description", "Successful Response")}
    if status != "204":
        schema = schema_for(model, defs=defs, ref_template=_REF) if model is not None else {}
        ok["content"] = {"application/json": {"schema": schema}}
    responses = {status: ok}
    if validates:
        responses["422"] = {
            "description": "Validation Error",
            "content": {"application/problem+json": {"schema": {"$ref": _REF.format(name="ValidationProblem")}}},
        }
    for code, spec in (options.get("responses") or {}).items():
        spec = dict(spec) if isinstance(spec, dict) else {"description": str(spec)}
        spec.setdefault("description", "")
        rmodel = spec.pop("model", None)
        if rmodel is not None:
            spec["content"] = {"application/json": {"schema": schema_for(rmodel, defs=defs, ref_template=_REF)}}
        elif "content" not in spec and str(code)[:1] in "45":
            spec["content"] = {"application/problem+json": {"schema": {"$ref": _REF.format(name="Problem")}}}
        responses[str(code)] = spec
    # In status order, as readers (and the /docs page) list them.
    return dict(sorted(responses.items()))


def _security(route):
    """The schemes a route's guards and dependencies declare, and the scopes each needs.

    Any guard (route middleware) or dependency callable, or the object a bound method belongs
    to, may carry ``openapi_security`` ({scheme name: scheme}) and ``openapi_scopes``.
    """
    schemes, scopes = {}, {}

    def add(obj):
        spec = getattr(obj, "openapi_security", None)
        if not spec:
            return False
        schemes.update(spec)
        for name in spec:
            wanted = scopes.setdefault(name, [])
            wanted.extend(s for s in getattr(obj, "openapi_scopes", ()) if s not in wanted)
        return True

    # Guards written as decorators (``@auth.require_token``) are route middleware.
    for mw in list(route.middleware) + list(route_middleware(route.endpoint)):
        add(mw)
    for p in walk_plans(route.plan) if route.plan is not None else ():
        for _name, dep, _sub in p.deps:
            fn = dep.dependency
            if not add(fn):
                add(getattr(fn, "__self__", None))
    return schemes, scopes


_FLOW_URLS = ("authorizationUrl", "tokenUrl", "refreshUrl")


def _under(prefix, schemes):
    """``schemes`` with the OAuth2 URLs that are paths of a mounted app moved under its prefix.

    A mounted app's OAuth2 server answers at prefix + "/oauth/token"; in the parent's document,
    whose server is the parent, "/oauth/token" would name the parent's path.
    """
    if not prefix:
        return schemes
    moved = {}
    for name, scheme in schemes.items():
        flows = scheme.get("flows") if isinstance(scheme, dict) else None
        if isinstance(flows, dict):
            scheme = dict(scheme, flows={
                kind: {k: prefix + v if k in _FLOW_URLS and isinstance(v, str) and v.startswith("/")
                       and not v.startswith("//") else v for k, v in flow.items()}
                for kind, flow in flows.items()})
        moved[name] = scheme
    return moved


def build_openapi(app, prefix="", doc=None, used=None):
    """The OpenAPI 3.1 document for ``app`` (mounted Covet apps included under their prefix)."""
    top = doc is None
    if top:
        doc = {
            "openapi": "3.1.0",
            "info": {"title": app.title, "version": app.version},
            "paths": {},
            "components": {"schemas": {"Problem": _PROBLEM, "ValidationProblem": _VALIDATION_ERROR}},
        }
        if app.description:
            doc["info"]["description"] = app.description
        tags = getattr(app, "openapi_tags", None)
        if tags:
            doc["tags"] = [dict(tag) for tag in tags]
        used = set()
    defs = doc["components"]["schemas"]
    security_schemes = doc["components"].setdefault("securitySchemes", {})
    for route in app.routes:
        if not route.include_in_schema:
            continue
        path = prefix + PARAM.sub(r"{\1}", route.path)
        item = doc["paths"].setdefault(path, {})
        params = _parameters(route, defs)
        body = _request_body(route, defs)
        summary, description = _docstring(route.endpoint)
        schemes, scopes = _security(route)
        security_schemes.update(_under(prefix, schemes))
        for method in sorted(route.methods):
            if method in _AUTO_METHODS and len(route.methods) > 1:
                continue
            op = {"operationId": _operation_id(route, method, used)}
            opts = route.options
            op["summary"] = opts.get("summary") or summary or (route.name or "").replace("_", " ").capitalize()
            if opts.get("description") or description:
                op["description"] = opts.get("description") or description
            if opts.get("tags"):
                op["tags"] = list(opts["tags"])
            if opts.get("deprecated"):
                op["deprecated"] = True
            if params:
                op["parameters"] = params
            if body is not None and method not in ("GET", "HEAD", "DELETE"):
                op["requestBody"] = body
            validates = body is not None or any(
                pl.sources for pl in (walk_plans(route.plan) if route.plan is not None else ()))
            op["responses"] = _responses(route, defs, validates)
            if schemes:
                # One requirement naming every scheme: the route checks all of them.
                op["security"] = [{name: scopes[name] for name in schemes}]
            item[method.lower()] = op
    for m in app.router.mounts:
        if hasattr(m.app, "routes") and hasattr(m.app, "router"):
            build_openapi(m.app, prefix + m.prefix, doc, used)
    if top and not security_schemes:
        del doc["components"]["securitySchemes"]
    return doc
