"""RFC 9457 problem details: how every framework error and every ``HTTPException`` is drawn.

``application/problem+json`` (``type``, ``title``, ``status``, ``detail``, ``instance`` and, for
validation, ``errors``), or a small HTML page when the client prefers HTML.
"""
import json

from .errors import status_phrase
from .responses import Response

__all__ = ["problem_response", "problem_body", "prefers_html"]


def prefers_html(accept):
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


def problem_response(request, status_code, detail=None, headers=None, errors=None, type=None, title=None,
                     instance=None):
    """Build the error Response for ``status_code``: problem+json, or HTML when the client prefers it.

    ``instance`` is the request's path, taken from ``request``; pass it when there is no Request yet
    (the server's own answers to a request it could not parse).
    """
    accept = request.headers.get("accept") if request is not None else None
    # The full path the client asked for, also inside a mounted app.
    if request is not None:
        instance = request.root_path + request.path
    body = problem_body(status_code, detail, instance, errors, type, title)
    if request is not None:
        # The id RequestIDMiddleware gave the request (an extension member, RFC 9457 §3.2): the
        # client can quote it, and it finds the request's log lines.
        rid = getattr(request.state, "__dict__", {}).get("request_id")
        if rid is not None:
            body["request_id"] = rid
    if prefers_html(accept):
        import html  # only for browsers' error pages; not loaded at start-up

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
