"""Input protection for handlers: ``InputValidator``, ``SQLInjectionProtector``, ``XSSProtector``.

- ``InputValidator().validate(data, rules)`` runs covet's rules-dict ``Validator`` (one engine,
  ``covet.validation``), compiled once per distinct rules dict, and turns its errors into a 422
  problem+json (``RequestValidationError``). Fields the rules do not name are dropped by default.
- ``SQLInjectionProtector().sanitize(data)`` does not make SQL safe: placeholders do, and covet's
  database layer offers no other way to pass a value. It refuses (400) input whose *shape* is wrong
  where a name or a plain word is expected (``?sort=name;DROP TABLE x``), logs the attempt, and
  otherwise returns the data untouched. It never rewrites text.
- ``XSSProtector().sanitize(data)`` turns every string in nested data into allow-listed HTML
  (``covet.security.sanitize``), or, with ``strip=True``, into text with all markup removed.

Example::

    validator, sql, xss = InputValidator(), SQLInjectionProtector(), XSSProtector()

    @app.post("/api/data")
    async def create(request):
        data = validator.validate(await request.json(), {"name": {"required": True, "max_length": 100}})
        return await save(xss.sanitize(sql.sanitize(data)))
"""
import json
import logging
import re
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..core.errors import RequestValidationError
from ..database import InvalidIdentifier, quote_identifier
from ..validation import ValidationError, Validator, compile_schema
from .sanitize import HTMLSanitizer

__all__ = ["InputValidator", "SQLInjectionProtector", "XSSProtector", "IDENTIFIER_FIELD_NAMES",
           "RULES_CACHE_SIZE", "UNKNOWN_FIELDS"]

logger = logging.getLogger("covet.security")

#: Distinct rules dicts compiled and kept by one ``InputValidator`` (least recently used go first):
#: an app has a few dozen; the bound keeps rules built per request from growing memory.
RULES_CACHE_SIZE = 256
#: What ``InputValidator`` does with fields its rules do not name.
UNKNOWN_FIELDS = ("drop", "keep", "reject")
#: Keys whose values ``SQLInjectionProtector()`` (no fields declared) checks as SQL names, at any depth.
IDENTIFIER_FIELD_NAMES = frozenset({"sort", "sort_by", "order_by", "column", "columns", "table", "field"})
# How much of a refused value goes to the log (repr'd, so control characters cannot forge lines).
_LOGGED_CHARS = 64


class InputValidator:
    """Validate request data against a rules dict; a failure is a 422 listing every problem.

    The rules are those of ``covet.validation.Validator`` (``required``, ``type``, ``min``/``max``,
    ``min_length``/``max_length``, ``pattern``, ``email``/``url``/``uuid``/``date`` flags, ``choices``,
    ``nullable``, ``default``, ``items``, ``fields``...), compiled once per distinct rules dict.

    :param rules: rules used when ``validate`` gets none.
    :param unknown: fields the rules do not name: ``"drop"`` (default: the handler sees only declared
        fields, so an extra ``"is_admin": true`` never reaches it), ``"keep"``, or ``"reject"`` (422).
        Applies to nested ``fields`` too.
    :param coerce: convert strings to the declared type (``"3"`` -> 3), for query and form values.
    :param location: first element of each error's ``loc`` (``"body"``, ``"query"``), as in covet's
        other 422 answers; None for none.

    Example::

        validator = InputValidator()
        data = validator.validate(await request.json(), {
            "name": {"required": True, "max_length": 100, "pattern": r"^[a-zA-Z\\s]+$"},
            "email": {"required": True, "email": True},
        })
    """

    def __init__(self, rules: Optional[Mapping[str, Any]] = None, *, unknown: str = "drop", coerce: bool = False,
                 location: Optional[str] = "body") -> None:
        if unknown not in UNKNOWN_FIELDS:
            raise ValueError("unknown must be one of %s, got %r" % (", ".join(UNKNOWN_FIELDS), unknown))
        self.unknown = unknown
        self.coerce = bool(coerce)
        self.location = location
        self._cache: "OrderedDict[str, Callable[[Any], Any]]" = OrderedDict()
        self._lock = threading.Lock()
        self.rules = rules
        self._default = self._compile(rules) if rules is not None else None

    def validate(self, data: Any, rules: Optional[Mapping[str, Any]] = None) -> Any:
        """``data`` checked against ``rules`` (or the validator's own): a new dict with defaults filled
        in and undeclared fields dropped (``unknown="drop"``). Raises ``RequestValidationError`` (422)
        with every error; a malformed rules dict raises ``SchemaError``.
        """
        if rules is None:
            if self._default is None:
                raise TypeError("validate() needs rules: validate(data, rules) or InputValidator(rules)")
            check = self._default
        else:
            check = self._compiled(rules)
        try:
            return check(data)
        except ValidationError as exc:
            errors = exc.errors
            if self.location is not None:
                errors = [dict(error, loc=[self.location] + list(error.get("loc", ()))) for error in errors]
            raise RequestValidationError(errors) from None

    __call__ = validate

    def _compiled(self, rules: Mapping[str, Any]) -> Callable[[Any], Any]:
        try:
            key = json.dumps(rules, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return self._compile(rules)  # not JSON (a default that is an object): compiled each time
        cache = self._cache
        with self._lock:
            found = cache.get(key)
            if found is not None:
                cache.move_to_end(key)
                return found
        compiled = self._compile(rules)
        with self._lock:
            cache[key] = compiled
            while len(cache) > RULES_CACHE_SIZE:
                cache.popitem(last=False)
        return compiled

    def _compile(self, rules: Mapping[str, Any]) -> Callable[[Any], Any]:
        validator = Validator(dict(rules), coerce=self.coerce)
        if self.unknown == "keep":
            return validator.validate
        if self.unknown == "reject":
            return compile_schema(_closed(validator.schema), self.coerce)
        check = validator.validate

        def validate_and_drop(data: Any) -> Any:
            return _drop_unknown(check(data), validator.rules)
        return validate_and_drop

    def __repr__(self) -> str:
        return "<InputValidator unknown=%s%s>" % (self.unknown, " coerce" if self.coerce else "")


def _closed(schema: Any) -> Any:
    # The schema with additionalProperties: false on every object that lists its properties.
    if isinstance(schema, dict):
        out = {key: _closed(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


def _drop_unknown(data: Any, rules: Mapping[str, Any]) -> Any:
    if not isinstance(data, dict):
        return data
    out = {}
    for name, rule in rules.items():
        if name not in data:
            continue
        value = data[name]
        if isinstance(rule, dict):
            value = _drop_nested(value, rule)
        out[name] = value
    return out


def _drop_nested(value: Any, rule: Mapping[str, Any]) -> Any:
    if "fields" in rule and isinstance(value, dict):
        return _drop_unknown(value, rule["fields"])
    items = rule.get("items")
    if isinstance(items, dict) and isinstance(value, list):
        return [_drop_nested(item, items) for item in value]
    return value


# -- SQL --------------------------------------------------------------------------------------------

# A plain word field: letters, digits, spaces and . , - only, an apostrophe only inside a word
# (O'Brien, rock'n'roll). Refused: ; quotes at a word's edge, " ` \ = ( ) * / # and "--" (comment).
_WORD_CHARS = re.compile(r"[\w \t.,'\u2019-]*\Z")
_LOOSE_QUOTE = re.compile(r"(?<!\w)['\u2019]|['\u2019](?!\w)|--")
# "-name" / "+name": the sort-direction convention, not part of the name.
_DIRECTION = ("-", "+")


class SQLInjectionProtector:
    """Refuse (400) request values shaped like SQL where a name or a plain word is expected.

    This is not what keeps SQL injection out: placeholders are, and covet's database layer has no
    API that formats a value into SQL (names go through ``quote_identifier``). What this adds is an
    early, logged 400 for probes, in the places where input is not a value:

    - ``identifier_fields``: values must be SQL names by covet.database's rule (letters, digits,
      ``_``, ``$``, optionally ``schema.name``, at most 63 characters), optionally with a leading
      ``-``/``+`` (a sort direction); a list must hold only such names;
    - ``word_fields``: values must be plain words (letters, digits, spaces, ``.``, ``,``, ``-``,
      an apostrophe inside a word); numbers pass.

    With neither given, values under the keys in ``IDENTIFIER_FIELD_NAMES`` (``sort``, ``order_by``,
    ``column``...) are checked as names, and nothing else: free text ("O'Brien -- the best; DROP me a
    line") is never judged, because no pattern can tell an attack from a sentence, and as a
    parameter it is harmless. Keys are matched at any depth of nested dicts and lists.

    ``sanitize`` returns ``data`` itself when it passes; it never rewrites text. A refusal raises
    ``RequestValidationError`` with status 400 (problem+json listing each field) and logs a warning
    on the ``covet.security`` logger with the field and at most 64 characters of the value.

    Example::

        sql = SQLInjectionProtector(identifier_fields=["sort", "column"], word_fields=["name"])
        params = sql.sanitize(dict(request.query_params))   # ?sort=name;DROP -> 400
    """

    def __init__(self, identifier_fields: Optional[Iterable[str]] = None,
                 word_fields: Optional[Iterable[str]] = None, *, location: Optional[str] = "body") -> None:
        #: True when fields were named; False for the default (keys in IDENTIFIER_FIELD_NAMES).
        self.declared = identifier_fields is not None or word_fields is not None
        if self.declared:
            self.identifier_fields = frozenset(_field_names(identifier_fields, "identifier_fields"))
        else:
            self.identifier_fields = IDENTIFIER_FIELD_NAMES
        self.word_fields = frozenset(_field_names(word_fields, "word_fields"))
        self.location = location

    def sanitize(self, data: Any) -> Any:
        """``data`` unchanged, or ``RequestValidationError`` (400) naming each offending field."""
        errors: List[Dict[str, Any]] = []
        self._walk(data, [] if self.location is None else [self.location], errors)
        if errors:
            raise RequestValidationError(errors, status_code=400,
                                         detail="request values are not valid SQL names or plain words")
        return data

    __call__ = sanitize

    def check(self, name: str, value: Any) -> Optional[str]:
        """Why ``value`` is refused for field ``name`` (None when it passes or is not checked)."""
        if name in self.identifier_fields:
            return self._check_identifier(value)
        if name in self.word_fields:
            return _check_word(value)
        return None

    def _walk(self, data: Any, loc: List[Any], errors: List[Dict[str, Any]]) -> None:
        if isinstance(data, dict):
            for key, value in data.items():
                problem = self.check(key, value) if isinstance(key, str) else None
                if problem is not None:
                    self._refuse(loc + [key], value, problem, errors)
                elif isinstance(value, (dict, list, tuple)):
                    self._walk(value, loc + [key], errors)
        elif isinstance(data, (list, tuple)):
            for index, value in enumerate(data):
                if isinstance(value, (dict, list, tuple)):
                    self._walk(value, loc + [index], errors)

    def _check_identifier(self, value: Any) -> Optional[str]:
        if isinstance(value, (list, tuple)):
            for item in value:
                problem = self._check_identifier(item)
                if problem is not None:
                    return problem
            return None
        if not isinstance(value, str):
            if not self.declared:
                return None  # a key that only looks like a name field ("table": {...}) is left alone
            return "must be an SQL name (a string)"
        name = value[1:] if value.startswith(_DIRECTION) else value
        try:
            quote_identifier(name)
        except InvalidIdentifier:
            return "must be an SQL name: letters, digits, _ and $, optionally schema.name"
        return None

    def _refuse(self, loc: List[Any], value: Any, problem: str, errors: List[Dict[str, Any]]) -> None:
        field = ".".join(str(part) for part in loc[1 if self.location is not None else 0:])
        shown = value[:_LOGGED_CHARS] if isinstance(value, str) else type(value).__name__
        logger.warning("covet security: refused SQL-like input in field %r (%d chars): %r", field[:_LOGGED_CHARS],
                       len(value) if isinstance(value, str) else 0, shown)
        errors.append({"loc": loc, "msg": problem, "type": "sql_injection"})

    def __repr__(self) -> str:
        return "<SQLInjectionProtector identifiers=%s words=%s>" % (sorted(self.identifier_fields),
                                                                    sorted(self.word_fields))


def _check_word(value: Any) -> Optional[str]:
    if value is None or isinstance(value, (bool, int, float)):
        return None
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = _check_word(item)
            if problem is not None:
                return problem
        return None
    if not isinstance(value, str):
        return "must be plain words (a string)"
    if _WORD_CHARS.match(value) is None or _LOOSE_QUOTE.search(value) is not None:
        return "must be plain words: letters, digits, spaces, . , - and apostrophes inside words"
    return None


def _field_names(names: Optional[Iterable[str]], what: str) -> Tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError("%s is a list of field names, not the string %r" % (what, names))
    out = tuple(names or ())
    for name in out:
        if not isinstance(name, str):
            raise TypeError("%s holds field names (str), got %r" % (what, name))
    return out


# -- XSS ------------------------------------------------------------------------------------------

class XSSProtector:
    """Make every string in request data safe to put into an HTML page.

    Each string is read as HTML and rewritten from an allow-list (``covet.security.sanitize``):
    allowed tags and attributes stay, URLs only with http, https, mailto or relative, ``style``,
    ``on*``, ``<script>``/``<style>`` (with content), comments and CDATA go, text is escaped, and
    links get ``rel="noopener noreferrer"``. The result is HTML: insert it unescaped (``|safe`` in
    a template), since escaping it again would show ``&amp;amp;``. With ``strip=True`` all markup
    goes and the text stays (still escaped, so ``a < b`` becomes ``a &lt; b``).

    Dict keys, numbers, booleans and None are left alone; dicts, lists and tuples are rebuilt.

    :param allowed_tags: tag names kept (default: ``covet.security.sanitize.ALLOWED_TAGS``).
    :param allowed_attributes: ``{tag: [attribute, ...]}``, ``"*"`` for all tags.
    :param allowed_protocols: URL schemes kept (default http, https, mailto).
    :param strip: remove all markup.

    Example::

        xss = XSSProtector()
        xss.sanitize({"bio": '<b>Hi</b><img src=x onerror=alert(1)>'})   # {'bio': '<b>Hi</b>'}
        XSSProtector(strip=True).clean("<i>Tom</i> & Jerry")             # 'Tom &amp; Jerry'
    """

    def __init__(self, allowed_tags: Optional[Iterable[str]] = None,
                 allowed_attributes: Optional[Mapping[str, Iterable[str]]] = None,
                 allowed_protocols: Optional[Iterable[str]] = None, *, strip: bool = False) -> None:
        self.sanitizer = HTMLSanitizer(allowed_tags, allowed_attributes, allowed_protocols, strip)

    @property
    def strip(self) -> bool:
        """Whether all markup is removed."""
        return self.sanitizer.strip

    def clean(self, text: str) -> str:
        """One string as sanitised HTML."""
        return self.sanitizer.clean(text)

    def sanitize(self, data: Any) -> Any:
        """``data`` with every string (at any depth of dicts, lists and tuples) sanitised."""
        if isinstance(data, str):
            return self.sanitizer.clean(data)
        if isinstance(data, dict):
            return {key: self.sanitize(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.sanitize(value) for value in data]
        if isinstance(data, tuple):
            return tuple(self.sanitize(value) for value in data)
        return data

    __call__ = sanitize

    def __repr__(self) -> str:
        return "<XSSProtector%s>" % (" strip" if self.strip else "")
