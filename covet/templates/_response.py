"""TemplateResponse, and the names a request puts into a template's context."""
from typing import Any, Dict, List, Mapping, Optional

from ..core.responses import HTMLResponse
from ..flash_messages import get_flashed_messages as _get_flashed_messages
from ._template import Template

__all__ = ["TemplateResponse", "request_context", "CSRF_STATE_KEY", "STATIC_ROUTE_NAME"]

# The route or mount whose URLs static(path) builds: app.static() registers its files under
# this name, as Starlette and Flask name theirs, and any route called "static" with a
# {path:path} parameter serves the same purpose.
STATIC_ROUTE_NAME = "static"

# Where CSRFMiddleware (covet.security.csrf) keeps the request's CSRF state: an object
# whose token() returns a fresh masked token. Found by this key on request.state, so
# that templates need not import covet.security; a test renders through the real
# middleware to keep the two in step.
CSRF_STATE_KEY = "_covet_csrf"


def request_context(request: Any) -> Dict[str, Any]:
    """The names a request adds to a template's context.

    ``request``; ``url_for(name, **params)``, the path of a route of the app that
    handles the request (``request.app.url_for``, under the request's ``root_path``
    when the app is mounted); and, when CSRFMiddleware runs for this request,
    ``csrf_token()``, a fresh masked token on every call. The token is made only when
    a template calls it, so pages without a form set no CSRF cookie. ``static(path)``
    is ``url_for("static", path=path)``, the URL of a static file; and
    ``get_flashed_messages(with_categories=False, category_filter=())`` takes the
    request's flashed messages (covet.flash_messages) out of the session.

    Example::

        request_context(request)["url_for"]("show_user", user_id=3)   # '/users/3'
        request_context(request)["static"]("css/app.css")              # '/static/css/app.css'
    """
    names: Dict[str, Any] = {"request": request}
    app = getattr(request, "app", None)
    if app is not None and callable(getattr(app, "url_for", None)):
        root = getattr(request, "root_path", "") or ""

        def url_for(name: str, /, **params: Any) -> str:
            return root + app.url_for(name, **params)

        def static(path: str) -> str:
            return root + app.url_for(STATIC_ROUTE_NAME, path=path)

        names["url_for"] = url_for
        names["static"] = static

    def get_flashed_messages(with_categories: bool = False, category_filter: Any = ()) -> List[Any]:
        # the session is looked up when called: a page that shows no messages needs no session
        return _get_flashed_messages(request, with_categories, category_filter)

    names["get_flashed_messages"] = get_flashed_messages
    state = getattr(request, "state", None)
    csrf = getattr(state, "__dict__", {}).get(CSRF_STATE_KEY) if state is not None else None
    if csrf is not None:
        def csrf_token(_request: Any = None) -> str:
            # also callable as csrf_token(request), the form covet.security.csrf_token takes
            return csrf.token()

        names["csrf_token"] = csrf_token
    return names


class TemplateResponse(HTMLResponse):
    """A rendered template as a ``text/html`` response.

    ``template`` and ``context`` (everything the template saw, request names
    included) stay on the response, so tests can look at what was rendered.
    ``TemplateEngine.response(request, name, context)`` builds one.

    Example::

        response = engine.response(request, "page.html", {"title": "Home"})
        response.template.name, response.context["title"]   # ('page.html', 'Home')
    """

    __slots__ = ("template", "context")

    def __init__(self, template: Template, context: Optional[Mapping[str, Any]] = None,
                 status_code: int = 200, headers: Any = None, media_type: Optional[str] = None,
                 background: Any = None) -> None:
        self.template = template
        self.context = dict(context) if context else {}
        super().__init__(template.render(self.context), status_code, headers, media_type, background)
