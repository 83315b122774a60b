"""Input validation under ``covet.security``: the rules-dict ``Validator`` of ``covet.validation``.

The same classes as ``covet.validation.Validator`` and ``covet.validation.ValidationError``
(one implementation): a rules dict is compiled once into a JSON schema, and
``validate`` returns the data or raises ``ValidationError`` listing every problem.

Example::

    from covet.security.validation import Validator, ValidationError

    validator = Validator({
        "name": {"required": True, "max_length": 100},
        "email": {"required": True, "email": True},
        "age": {"type": "integer", "min": 0, "max": 150},
    })
    try:
        data = validator.validate(await request.json())
    except ValidationError as e:
        return {"errors": e.errors}, 400
"""
from ..validation import SchemaError, ValidationError, Validator

__all__ = ["Validator", "ValidationError", "SchemaError"]
