"""Exceptions raised by the template engine.

Every error that comes from a template carries the template name and line;
``str(err)`` reads ``page.html, line 3: <what went wrong>``.
"""

__all__ = ["TemplateError", "TemplateSyntaxError", "TemplateNotFound",
           "UndefinedError", "SecurityError"]


class TemplateError(Exception):
    """Base class of every template error; ``template_name`` and ``lineno`` locate it."""

    def __init__(self, message, template_name=None, lineno=None):
        super().__init__(message)
        self.message = message
        self.template_name = template_name
        self.lineno = lineno

    def __str__(self):
        if self.template_name is not None and self.lineno:
            return "%s, line %d: %s" % (self.template_name, self.lineno, self.message)
        if self.template_name is not None:
            return "%s: %s" % (self.template_name, self.message)
        return self.message


class TemplateSyntaxError(TemplateError):
    """The template source is malformed; the message says what was expected."""


class TemplateNotFound(TemplateError, LookupError):
    """No template of that name exists in the engine's directories."""

    def __init__(self, name, message=None, template_name=None, lineno=None):
        if message is None:
            message = "template %r not found" % (name,)
        super().__init__(message, template_name, lineno)
        self.name = name


class UndefinedError(TemplateError):
    """An undefined value was used in a way that needs a real value."""


class SecurityError(TemplateError):
    """A template tried to reach a private attribute or a file outside its directories."""
