"""HTTPException and RFC 9457 problem details.

Every framework error (404, 405, 413, 422, ...) and every ``HTTPException``
becomes an ``application/problem+json`` body unless the client prefers HTML.
"""
import html
import json

from .status import PHRASES

__all__ = ["HTTPException", "RequestValidationError", "problem_response", "status_phrase"]

_PHRASES = PHRASES


def status_phrase(status_code):
    """The reason phrase for a status code ('' for unknown codes).

    Example::

        status_phrase(404)  # 'Not Found'
    """
    return _PHRASES.get(status_code, "")


class HTTPException(Exception):
    """An error that becomes an HTTP response: ``raise HTTPException(404, "User not found")``.

    ``detail`` is a string or any JSON value; ``headers`` are added to the
    error response (``{"WWW-Authenticate": "Bearer"}``).
    """

    def __init__(self, status_code, detail=None, headers=None, type=None, title=None):
        self.status_code = int(status_code)
        self.detail = detail
        self.headers = dict(headers) if headers else None
        self.type = type
        self.title = title
        super().__init__(status_code, detail)

    def __repr__(self):
        return "%s(status_code=%d, detail=%r)" % (type(self).__name__, self.status_code, self.detail)

    def __str__(self):
        return "%d %s" % (self.status_code, self.detail if self.detail is not None else status_phrase(self.status_code))


class RequestValidationError(HTTPException):
    """422: what was wrong with the request, every problem at once.

    ``errors`` is a list of ``{"loc": [...], "msg": str, "type": str}``.
    """

    def __init__(self, errors, status_code=422, detail="Request validation failed"):
        super().__init__(status_code, detail)
        self.errors = list(errors)


def _prefers_html(accept):
    """True when the Accept header ranks text/html above any JSON type.

    curl's ``*/*`` ranks both equally and gets JSON; a browser's
    ``text/html,...,*/*;q=0.8`` gets HTML.
    """
    if not accept or "html" not in accept:
        return False
    best_html = best_json = 0.0
    for item in accept.split(",")[:50]:
        media, _, params = item.partition(";")
        media = media.strip().lower()
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v.strip()[:5])
                except ValueError:
                    q = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, q)
        elif media in ("application/json", "application/problem+json", "application/*", "*/*"):
            best_json = max(best_json, q)
    return best_html > best_json


def problem_body(status_code, detail=None, instance=None, errors=None, type=None, title=None):
    """The RFC 9457 problem document as a dict."""
    body = {
        "type": type or "about:blank",
        "title": title or status_phrase(status_code) or "Error",
        "status": status_code,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return body


_HTML_PAGE = (
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>{status} {title}</title></head>"
    "<body><h1>{status} {title}</h1>{detail}</body></html>"
)


def problem_response(request, status_code, detail=None, headers=None, errors=None, type=None, title=None):
    """Build the error Response for ``status_code``: problem+json, or HTML when the client prefers it."""
    from .responses import Response

    accept = request.headers.get("accept") if request is not None else None
    # The full path the client asked for, also inside a mounted app.
    instance = request.root_path + request.path if request is not None else None
    body = problem_body(status_code, detail, instance, errors, type, title)
    if _prefers_html(accept):
        if detail is None:
            detail_html = ""
        else:
            text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
            detail_html = "<p>%s</p>" % html.escape(text)
        if errors:
            detail_html += "<ul>%s</ul>" % "".join(
                "<li>%s: %s</li>" % (html.escape(".".join(str(p) for p in e.get("loc", ()))), html.escape(str(e.get("msg"))))
                for e in errors
            )
        content = _HTML_PAGE.format(status=status_code, title=html.escape(body["title"]), detail=detail_html)
        # A lone surrogate (from "\ud800" in a JSON body) has no UTF-8 form: "?" in its place.
        return Response(content.encode("utf-8", "replace"), status_code, headers, media_type="text/html; charset=utf-8")
    try:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON escapes it as \ud800 instead of a 500
        content = json.dumps(body, separators=(",", ":"), default=str).encode("ascii")
    return Response(content, status_code, headers, media_type="application/problem+json")
