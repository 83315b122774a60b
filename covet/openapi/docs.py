"""The /docs page: an HTML shell, its script and style sheet, and the OAuth2 redirect page.

Four responses under ``app.docs_url`` (``/docs``):

- ``/docs``: the page, a few lines of HTML naming the script and the style sheet and carrying the
  page's settings in a ``data-config`` attribute;
- ``/docs/docs.js`` and ``/docs/docs.css``: the page's code and look (``assets/``), as separate
  responses so that the page runs under ``Content-Security-Policy: default-src 'self'``, which
  forbids inline scripts and styles;
- ``/docs/oauth2-redirect``: where an OAuth2 authorization server sends the browser back with a
  code; the same script hands the code to the page that opened it.

Every one carries a strong ``ETag`` and ``Cache-Control: no-cache``: browsers keep them and ask
again with ``If-None-Match``, and a new covet release is seen at once (a 304 costs one round trip).
Nothing here reaches another host: the page's only requests are for these files, the document and
the operations it tries.
"""
import html
import json
import os
import weakref
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple

from ..core.conditional import content_etag, evaluate_preconditions, not_modified_headers, read_conditions
from ..core.responses import JSONResponse, Response

__all__ = ["DOCS_OPTIONS", "check_docs_options", "serve_docs"]

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")

#: ``Covet(docs_options={...})``: each setting of the page and the type it takes.
#: ``persist_authorization`` keeps what was entered in Authorize in the tab's ``sessionStorage``
#: (never ``localStorage``: it would outlive the tab and be shared by every tab of the origin);
#: ``oauth2_client_id`` fills the client id of OAuth2 flows (the public client the page uses).
DOCS_OPTIONS = {"persist_authorization": bool, "oauth2_client_id": str}

_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8"}


def check_docs_options(options: Mapping[str, Any]) -> Dict[str, Any]:
    """``options`` checked against :data:`DOCS_OPTIONS`: a misspelt or mistyped setting fails at start-up.

    Example::

        check_docs_options({"persist_authorization": True})   # {'persist_authorization': True}
    """
    if not isinstance(options, Mapping):
        raise TypeError("docs_options must be a dict of %s, got %r" % (", ".join(sorted(DOCS_OPTIONS)), options))
    checked = {}
    for name, value in dict(options).items():
        kind = DOCS_OPTIONS.get(name)
        if kind is None:
            raise TypeError("unknown docs option %r; the options are %s" % (name, ", ".join(sorted(DOCS_OPTIONS))))
        if not isinstance(value, kind) and value is not None:
            raise TypeError("docs option %s must be a %s, got %r" % (name, kind.__name__, value))
        checked[name] = value
    return checked


class _File(NamedTuple):
    body: bytes
    etag: str
    media_type: str


_files: Dict[str, _File] = {}


def _asset(name: str) -> _File:
    # Read once per process: the files are part of covet and do not change under a running server.
    found = _files.get(name)
    if found is None:
        with open(os.path.join(ASSETS, name), "rb") as f:
            body = f.read()
        found = _files[name] = _File(body, content_etag(body), _MEDIA[os.path.splitext(name)[1]])
    return found


# The document and the pages of each app as sent, per (path, root path): made on the first request
# and again only when the document is rebuilt (routes were added), so a client asking for them in
# a loop costs a dict lookup, not a JSON encoding and a hash each time. The root paths of one app
# are its mount prefixes and its server's setting, a handful; the bound is there all the same.
_rendered: "weakref.WeakKeyDictionary[Any, Dict[Tuple[str, str], Tuple[Any, _File]]]" = weakref.WeakKeyDictionary()
_MAX_RENDERED = 16


def _render(app: Any, path: str, root: str, build: Callable[[Any], bytes], media_type: str) -> _File:
    doc = app.openapi()  # built once and kept by the app: the test of whether ours is current
    per_app = _rendered.get(app)
    if per_app is None:
        per_app = _rendered[app] = {}
    found = per_app.get((path, root))
    if found is not None and found[0] is doc:
        return found[1]
    if len(per_app) >= _MAX_RENDERED:
        per_app.clear()
    body = build(doc)
    made = _File(body, content_etag(body), media_type)
    per_app[(path, root)] = (doc, made)
    return made


def _answer(request: Any, file: _File, headers: Optional[Dict[str, str]] = None) -> Response:
    fields = {"ETag": file.etag, "Cache-Control": "no-cache"}
    fields.update(headers or {})
    response = Response(file.body, 200, fields, media_type=file.media_type)
    if evaluate_preconditions(request.method, read_conditions(request.raw_headers), file.etag) == 304:
        return Response(b"", 304, not_modified_headers(response.raw_headers))
    return response


def _fill(name: str, values: Mapping[str, str]) -> bytes:
    text = _asset(name).body.decode("utf-8")
    for key, value in values.items():
        text = text.replace(key, value)
    return text.encode("utf-8")


def serve_docs(app: Any, request: Any, path: str) -> Response:
    """The answer to a GET or HEAD of ``app.openapi_url``, ``app.docs_url`` or one of the page's files.

    Paths are made absolute with ``request.root_path``, so the page works for an app mounted under
    a prefix or served behind a proxy that strips one; the document then names that prefix as its
    server (``servers: [{"url": root_path}]``), which is where the page sends the requests it tries.
    """
    root = request.root_path
    if path == app.openapi_url:
        def document(doc: Dict[str, Any]) -> bytes:
            if root and "servers" not in doc:
                doc = dict(doc, servers=[{"url": root}])
            return JSONResponse(doc).body
        return _answer(request, _render(app, path, root, document, "application/json"))
    docs = app.docs_url
    base = html.escape(root + docs, quote=True)
    if path == docs:
        def page(doc: Dict[str, Any]) -> bytes:
            options = app.docs_options
            config = {
                "title": app.title,
                "openapiUrl": root + app.openapi_url if app.openapi_url else None,
                "oauth2RedirectUrl": root + docs + "/oauth2-redirect",
                "persistAuthorization": bool(options.get("persist_authorization")),
                "oauth2ClientId": options.get("oauth2_client_id"),
            }
            return _fill("docs.html", {"__TITLE__": html.escape(app.title, quote=True), "__ASSETS__": base,
                                       "__CONFIG__": html.escape(json.dumps(config), quote=True)})
        return _answer(request, _render(app, path, root, page, _MEDIA[".html"]))
    name = path[len(docs):]
    if name == "/oauth2-redirect":
        # The URL carries an authorization code: never sent on as a Referer, never stored
        # (RFC 9700 §4.2.4).
        redirect = _render(app, path, root, lambda doc: _fill("oauth2-redirect.html", {"__ASSETS__": base}),
                           _MEDIA[".html"])
        return _answer(request, redirect, headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
    return _answer(request, _asset(name[1:]))
