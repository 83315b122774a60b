"""The ORM's own exceptions (a leaf: it imports nothing of covet).

Bad *values* are not here: a value that does not fit its column is the client's mistake and raises
``covet.core.errors.RequestValidationError`` (a 422), see :mod:`covet.database.orm.types`. Errors the
database reports (a unique violation) arrive as :mod:`covet.database.errors` classes. What is left is
the ORM used the wrong way, and a row that went away.

Example::

    from covet.database.orm import NotLoadedError

    try:
        user.posts
    except NotLoadedError as exc:
        print(exc)   # User.posts was not loaded: add .options(load("posts")) to the query ...
"""
__all__ = ["ORMError", "NotLoadedError", "ObjectNotFound", "InvalidValue"]


class ORMError(Exception):
    """The ORM was used in a way it cannot honour (a model without a primary key, a relationship
    it cannot work out, an unsaved object where a saved one is needed)."""


class NotLoadedError(ORMError):
    """A relationship was touched that its query did not load. covet never loads lazily (a hidden
    query per attribute access is the N+1 problem); the message names the ``.options(load(...))``
    that loads it."""


class ObjectNotFound(ORMError, LookupError):
    """The row behind an object is gone: ``refresh`` or an update of an object deleted meanwhile."""


class InvalidValue(ValueError):
    """One value does not fit its column: ``msg`` and ``type`` in covet.validation's vocabulary
    (``type`` is the JSON Schema keyword that failed: ``type``, ``maxLength``, ``format``...).

    The ORM gathers these into one ``RequestValidationError`` with every problem of an object.
    """

    def __init__(self, msg: str, type: str) -> None:
        super().__init__(msg)
        self.msg = msg
        self.type = type
