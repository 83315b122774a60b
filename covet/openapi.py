"""The OpenAPI 3.1 document of an app, and the self-contained /docs page.

Built from what registration already knows: each route's injector plan
(parameters, constraints, body annotations) and ``covet.validation``'s
type-hint -> JSON Schema mapping. Nothing is described twice. The document
is built on first request and cached until routes change.
"""
import html
import inspect
import json
import re

from .core._paths import PARAM
from .core._plan import walk_plans
from .core._wrap import route_middleware
from .validation import schema_for

__all__ = ["build_openapi", "docs_page"]

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
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\n")
    return summary.strip(), rest.strip()


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
    return responses


def _security(route):
    schemes = {}
    # Guards written as decorators (``@auth.require_token``) are route middleware.
    for mw in list(route.middleware) + list(route_middleware(route.endpoint)):
        spec = getattr(mw, "openapi_security", None)
        if spec:
            schemes.update(spec)
    for p in walk_plans(route.plan) if route.plan is not None else ():
        for _name, dep, _sub in p.deps:
            fn = dep.dependency
            owner = getattr(fn, "__self__", None)
            spec = getattr(fn, "openapi_security", None) or getattr(owner, "openapi_security", None)
            if spec:
                schemes.update(spec)
    return schemes


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
        schemes = _security(route)
        security_schemes.update(schemes)
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
                op["security"] = [{name: []} for name in schemes]
            item[method.lower()] = op
    for m in app.router.mounts:
        if hasattr(m.app, "routes") and hasattr(m.app, "router"):
            build_openapi(m.app, prefix + m.prefix, doc, used)
    if top and not security_schemes:
        del doc["components"]["securitySchemes"]
    return doc


def docs_page(title, openapi_url):
    """The /docs page: plain HTML and JavaScript, no CDN, no external file."""
    return _DOCS_HTML.replace("__TITLE__", html.escape(title)).replace(
        "__OPENAPI_URL__", json.dumps(openapi_url).replace("<", "\\u003c"))


_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>__TITLE__ - API docs</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{background:#1d232b;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:980px;margin:0 auto;padding:16px}
details{background:#fff;border:1px solid #d8dce2;border-radius:6px;margin:8px 0}
summary{cursor:pointer;padding:10px 12px;display:flex;gap:12px;align-items:center}
.m{font:bold 12px monospace;padding:3px 8px;border-radius:4px;color:#fff;min-width:56px;text-align:center}
.get{background:#2f7d32}.post{background:#1565c0}.put{background:#ef6c00}.patch{background:#6a1b9a}
.delete{background:#c62828}.options,.head{background:#546e7a}
.p{font-family:monospace}.s{color:#5c6670}.body{padding:0 14px 14px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceef1;padding:4px 6px;text-align:left;vertical-align:top}
pre{background:#f0f2f5;padding:8px;border-radius:4px;overflow:auto;max-height:360px}
input,textarea{font:13px monospace;width:100%;box-sizing:border-box}button{margin-top:6px;padding:5px 14px}
</style></head>
<body><header><h1>__TITLE__</h1><div class="s" id="ver"></div></header><main id="ops">Loading...</main>
<script>
(function () {
  "use strict";
  var url = __OPENAPI_URL__;
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); } });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function resolve(doc, schema) {
    if (schema && schema.$ref) { return doc.components.schemas[schema.$ref.split("/").pop()] || schema; }
    return schema;
  }
  function render(doc) {
    document.getElementById("ver").textContent = "version " + doc.info.version + " - OpenAPI " + doc.openapi;
    var ops = document.getElementById("ops");
    ops.textContent = "";
    Object.keys(doc.paths).forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method];
        var box = el("details", {}, [el("summary", {}, [
          el("span", {"class": "m " + method, text: method.toUpperCase()}),
          el("span", {"class": "p", text: path}), el("span", {"class": "s", text: op.summary || ""})])]);
        var body = el("div", {"class": "body"});
        if (op.description) { body.appendChild(el("p", {text: op.description})); }
        var inputs = {};
        var params = op.parameters || [];
        if (params.length) {
          var rows = [el("tr", {}, [el("th", {text: "name"}), el("th", {text: "in"}), el("th", {text: "schema"}), el("th", {text: "value"})])];
          params.forEach(function (p) {
            var input = el("input", {placeholder: p.required ? "required" : "optional"});
            inputs[p.in + ":" + p.name] = input;
            rows.push(el("tr", {}, [el("td", {"class": "p", text: p.name + (p.required ? " *" : "")}), el("td", {text: p.in}),
              el("td", {}, [el("pre", {text: JSON.stringify(resolve(doc, p.schema))})]), el("td", {}, [input])]));
          });
          body.appendChild(el("table", {}, rows));
        }
        var bodyInput = null;
        if (op.requestBody) {
          var media = Object.keys(op.requestBody.content)[0];
          body.appendChild(el("h4", {text: "Request body (" + media + ")"}));
          body.appendChild(el("pre", {text: JSON.stringify(resolve(doc, op.requestBody.content[media].schema), null, 2)}));
          bodyInput = el("textarea", {rows: "5", placeholder: "{}"});
          body.appendChild(bodyInput);
        }
        body.appendChild(el("h4", {text: "Responses"}));
        Object.keys(op.responses).forEach(function (code) {
          var r = op.responses[code];
          var content = r.content ? r.content[Object.keys(r.content)[0]] : null;
          body.appendChild(el("div", {}, [el("b", {text: code + " "}), el("span", {text: r.description || ""})]));
          if (content && content.schema && Object.keys(content.schema).length) {
            body.appendChild(el("pre", {text: JSON.stringify(resolve(doc, content.schema), null, 2)}));
          }
        });
        var out = el("pre", {text: ""});
        var send = el("button", {text: "Send request"});
        send.addEventListener("click", function () {
          var target = path, query = [], headers = {};
          params.forEach(function (p) {
            var v = inputs[p.in + ":" + p.name].value;
            if (v === "") { return; }
            if (p.in === "path") { target = target.replace("{" + p.name + "}", encodeURIComponent(v)); }
            else if (p.in === "query") { query.push(encodeURIComponent(p.name) + "=" + encodeURIComponent(v)); }
            else if (p.in === "header") { headers[p.name] = v; }
          });
          var init = {method: method.toUpperCase(), headers: headers};
          if (bodyInput && bodyInput.value) { init.body = bodyInput.value; headers["Content-Type"] = "application/json"; }
          out.textContent = "...";
          fetch(target + (query.length ? "?" + query.join("&") : ""), init).then(function (res) {
            return res.text().then(function (text) { out.textContent = res.status + " " + res.statusText + "\\n\\n" + text; });
          }).catch(function (err) { out.textContent = String(err); });
        });
        body.appendChild(send);
        body.appendChild(out);
        box.appendChild(body);
        ops.appendChild(box);
      });
    });
  }
  fetch(url).then(function (r) { return r.json(); }).then(render).catch(function (err) {
    document.getElementById("ops").textContent = "Could not load " + url + ": " + err;
  });
})();
</script></body></html>
"""
