"""The template engine: Jinja-style syntax compiled to Python, autoescaped.

Example::

    from covet.templates import TemplateEngine

    engine = TemplateEngine("templates")
    engine.render("page.html", {"user": user})
    engine.render_string("Hello {{ name }}!", name="<world>")   # 'Hello &lt;world&gt;!'

See docs/templates.md for the syntax, the escaping rules and where behaviour
differs from Jinja2.
"""
from .._lazy import lazy_exports
from ._engine import TemplateEngine
from ._errors import (SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError,
                      UndefinedError)
from ._markup import Markup, escape
from ._template import Template

# TemplateResponse loads the HTTP kernel's responses: imported on first use (PEP 562),
# so rendering templates outside a web app does not pay for it.
__getattr__, __dir__ = lazy_exports("covet.templates", {"TemplateResponse": "_response"}, globals())

__all__ = ["TemplateEngine", "Template", "TemplateResponse", "Markup", "escape", "TemplateError",
           "TemplateSyntaxError", "TemplateNotFound", "UndefinedError", "SecurityError"]
