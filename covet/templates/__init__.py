"""The template engine: Jinja-style syntax compiled to Python, autoescaped.

Example::

    from covet.templates import TemplateEngine

    engine = TemplateEngine("templates")
    engine.render("page.html", {"user": user})
    engine.render_string("Hello {{ name }}!", name="<world>")   # 'Hello &lt;world&gt;!'

See docs/templates.md for the syntax, the escaping rules and where behaviour
differs from Jinja2.
"""
from ._engine import Template, TemplateEngine
from ._errors import (SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError,
                      UndefinedError)
from ._markup import Markup, escape

__all__ = ["TemplateEngine", "Template", "Markup", "escape", "TemplateError",
           "TemplateSyntaxError", "TemplateNotFound", "UndefinedError", "SecurityError"]
