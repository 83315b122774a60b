"""The schema compiler's number and string keywords: bounds, multipleOf, lengths, pattern, format."""
from decimal import Decimal
from typing import List

from ._errors import SchemaError
from ._formats import FORMAT_NAMES, FORMATS
from ._keywords import NUMERIC_BOUNDS, NUMERIC_KW, fraction_parts, read_count, read_number
from ._messages import json_number, json_text, plural
from ._patterns import pattern_search
from ._source import Fn

__all__ = ["ScalarKeywords"]


class ScalarKeywords:
    """Mixin of the schema compiler: code for the number and string keywords.

    Example: ``{"minimum": 1}`` becomes ``if x < 1:`` appending a "minimum" error.
    """

    # -- numbers
    def gen_numeric(self, fn: Fn, s: dict, x: str, path: List[str], errs: str) -> None:
        for keyword, op, text in NUMERIC_BOUNDS:
            if keyword in s:
                bound = read_number(s[keyword], keyword)
                code = repr(bound) if not isinstance(bound, Decimal) else self.const(bound)
                with fn.block("if %s %s %s" % (x, op, code)):
                    self.err(fn, errs, path, keyword, "must be %s %s" % (text, json_number(bound)))
        if "multipleOf" in s:
            divisor = read_number(s["multipleOf"], "multipleOf")
            if divisor <= 0:
                raise SchemaError("multipleOf must be greater than 0, got %r" % (divisor,))
            numerator, scale = fraction_parts(divisor)
            int_test = "%s %% %d" % (x, numerator) if scale == 1 else "%s * %d %% %d" % (x, scale, numerator)
            with fn.block("if (%s if type(%s) is int else _mult_bad(%s, %d, %d))" % (int_test, x, x, numerator, scale)):
                self.err(fn, errs, path, "multipleOf", "must be a multiple of " + json_number(divisor))

    # -- strings
    def gen_string(self, fn: Fn, s: dict, x: str, path: List[str], errs: str) -> None:
        # A value over maxLength is invalid whatever its pattern says, so the pattern is not
        # run: maxLength bounds the characters a user-declared regex ever reads. A value under
        # minLength is short, so its pattern error is still listed (a form shows both), as are
        # formats, covet's own linear checks.
        length_ok = ""
        if "minLength" in s:
            n = read_count(s["minLength"], "minLength")
            with fn.block("if len(%s) < %d" % (x, n)):
                self.err(fn, errs, path, "minLength", "must be at least %s long" % plural(n, "character"))
        if "maxLength" in s:
            n = read_count(s["maxLength"], "maxLength")
            length_ok = "len(%s) <= %d and " % (x, n)
            with fn.block("if len(%s) > %d" % (x, n)):
                self.err(fn, errs, path, "maxLength", "must be at most %s long" % plural(n, "character"))
        pattern = None
        if "pattern" in s:
            pattern = self.const(pattern_search(s["pattern"]), "P")
        fmt = s.get("format")
        checker = FORMATS.get(fmt) if isinstance(fmt, str) else None
        decimal_bounds = fmt == "decimal" and any(k in s for k in NUMERIC_KW)
        if pattern is None and checker is None:
            return
        with fn.block("if len(%s) > %d" % (x, self.max_string)):
            self.err(fn, errs, path, "size", "is longer than %d characters, the limit for pattern and "
                     "format checks" % self.max_string)
        with fn.block("else"):
            if pattern is not None:
                with fn.block("if %s%s(%s) is None" % (length_ok, pattern, x)):
                    self.err(fn, errs, path, "pattern", "must match pattern %s" % json_text(s["pattern"]))
            if checker is not None:
                with fn.block("if not %s(%s)" % (self.const(checker, "F"), x)):
                    self.err(fn, errs, path, "format", "must be %s" % FORMAT_NAMES[fmt])
                if decimal_bounds:
                    with fn.block("else"):
                        self.gen_decimal_bounds(fn, s, x, path, errs)

    def gen_decimal_bounds(self, fn: Fn, s: dict, x: str, path: List[str], errs: str) -> None:
        """covet's ``format: decimal``: numeric keywords also bound decimal strings, compared exactly."""
        d = self.var("d")
        fn.line("%s = _Decimal(%s)" % (d, x))
        for keyword, op, text in NUMERIC_BOUNDS:
            if keyword in s:
                bound = read_number(s[keyword], keyword)
                exact = self.const(Decimal(repr(bound)) if isinstance(bound, float) else Decimal(bound))
                with fn.block("if %s %s %s" % (d, op, exact)):
                    self.err(fn, errs, path, keyword, "must be %s %s" % (text, json_number(bound)))
        if "multipleOf" in s:
            numerator, scale = fraction_parts(s["multipleOf"])
            with fn.block("if _dec_mult_bad(%s, %d, %d)" % (d, numerator, scale)):
                self.err(fn, errs, path, "multipleOf", "must be a multiple of " + json_number(s["multipleOf"]))
