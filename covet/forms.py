"""Validation errors as per-field messages, for showing an HTML form again with its errors.

``form_errors(exc)`` turns a ``ValidationError`` (covet.validation), a
``RequestValidationError`` (the 422 of a handler's ``Form()`` fields or Model body), a
422 problem document, or a plain list of ``{"loc", "msg", "type"}`` errors into
``{"field": ["message", ...]}``, so a template shows each message next to its field
without a loop over ``loc``.

Example::

    class Signup(Model):
        email: str = Field(format="email")
        age: int = Field(ge=13)

    @app.post("/signup")
    async def signup(request: Request):
        form = await request.form()
        try:
            user = Signup.parse(dict(form.items()))
        except ValidationError as exc:
            return engine.response(request, "signup.html",
                                   {"values": form, "errors": form_errors(exc)}, status_code=422)
        ...

    # signup.html:  <input name="email" value="{{ values.email }}">
    #               {% for message in errors.email %}<p class="error">{{ message }}</p>{% endfor %}
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .core.errors import RequestValidationError

__all__ = ["form_errors", "FORM_ERRORS_KEY", "REQUEST_LOCATION", "LOC_SEPARATOR"]

# The key of errors that belong to the form as a whole, not to one field (a loc of [] or
# of the body itself: "must be of type object"). An empty string, because a template reads
# errors[""] as undefined when there is none, where a "__all__" key would be refused by the
# template engine's private-name guard.
FORM_ERRORS_KEY = ""
# Where a request's form fields are located in a RequestValidationError (and a 422 problem):
# covet puts Form() fields and the fields of a Model body under "body" (docs/dependencies.md).
REQUEST_LOCATION = ("body",)
# Nested locations are joined with this: ["address", "city"] -> "address.city",
# ["tags", 0] -> "tags.0", as ValidationError's own text and the HTML 422 page show them.
LOC_SEPARATOR = "."


def form_errors(errors: Any, *, strip: Optional[Union[str, Sequence[Any]]] = None,
                messages: Optional[Mapping[str, str]] = None) -> Dict[str, List[str]]:
    """Per-field messages: ``{"title": ["field required"], "address.city": [...]}``.

    :param errors: a ``ValidationError`` or ``RequestValidationError`` (anything with an
        ``errors`` list), a problem document (a dict with an ``"errors"`` list, as a 422 answer
        carries), or the list itself.
    :param strip: the leading ``loc`` items to drop, a str or a sequence. None, the default,
        drops ``"body"`` for a ``RequestValidationError`` or a problem document (whose locs
        start where the value came from) and nothing otherwise (a ``ValidationError`` from
        ``Model.parse`` or ``validate`` is relative to the data already). Errors located
        elsewhere (a query parameter: ``["query", "page"]``) keep their whole path
        (``"query.page"``).
    :param messages: replacement texts, by ``"field.type"`` for one field
        (``{"title.required": "A title, please."}``) or by error ``type`` for all
        (``{"required": "Please fill this in."}``); the field's key wins. Other errors keep
        their ``msg``.
    :returns: field -> messages, fields and messages in the order of the errors, a message
        given twice for one field kept once. Nested locs are joined with ``"."``; errors of
        the form as a whole are under ``""`` (``FORM_ERRORS_KEY``).

    Example::

        form_errors(ValidationError([{"loc": ["age"], "msg": "must be >= 13", "type": "minimum"}]))
        # {'age': ['must be >= 13']}
        form_errors(RequestValidationError([{"loc": ["body", "tags", 1], "msg": "too long",
                                             "type": "maxLength"}]))
        # {'tags.1': ['too long']}
    """
    from_request = isinstance(errors, RequestValidationError)
    if isinstance(errors, Mapping):
        from_request = True  # a problem document answers a request
        items = errors.get("errors")
    elif isinstance(errors, (list, tuple)):
        items = errors
    else:
        items = getattr(errors, "errors", None)
        if items is None:
            raise TypeError("form_errors() takes a ValidationError, a RequestValidationError, a problem "
                            "document or a list of errors, not %s" % type(errors).__name__)
    if strip is None:
        prefix = list(REQUEST_LOCATION) if from_request else []
    elif isinstance(strip, str):
        prefix = [strip]
    else:
        prefix = list(strip)
    result: Dict[str, List[str]] = {}
    for error in items if isinstance(items, (list, tuple)) else ():
        if not isinstance(error, Mapping):
            continue  # a problem document from elsewhere may hold anything
        loc = error.get("loc")
        loc = list(loc) if isinstance(loc, (list, tuple)) else []
        if prefix and loc[:len(prefix)] == prefix:
            loc = loc[len(prefix):]
        key = LOC_SEPARATOR.join(str(part) for part in loc) if loc else FORM_ERRORS_KEY
        kind = error.get("type")
        text = None
        if messages and isinstance(kind, str):
            # the field's own text first ("title.required"), then the type's ("required")
            text = messages.get(key + "." + kind) if key else None
            if text is None:
                text = messages.get(kind)
        if text is None:
            text = error.get("msg")
            text = "" if text is None else str(text)
        found = result.setdefault(key, [])
        if text not in found:
            found.append(text)
    return result
