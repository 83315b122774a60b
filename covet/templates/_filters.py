"""Built-in filters and tests, with Jinja2's names, arguments and results.

A filter marked ``covet_special`` is called as ``f(runtime, autoescape,
value, *args)``: it needs the engine (undefined type, attribute paths with
the private-name guard, other filters/tests by name) or the autoescape state
of the template that calls it. Every other filter is ``f(value, *args)``,
which is also how user filters added with ``add_filter`` are called.
"""
import json
import math
import re
import textwrap
from collections import abc, namedtuple
from itertools import chain, groupby
from numbers import Number
from urllib.parse import quote_from_bytes

from ._errors import SecurityError, TemplateError
from ._markup import Markup, escape, soft_str
from ._runtime import UNSAFE_ATTRIBUTES, Undefined, object_type_repr

__all__ = ["FILTERS", "TESTS", "do_mark_safe"]


def _special(func):
    func.covet_special = True
    return func


def _lower_if_str(value):
    return value.lower() if isinstance(value, str) else value


def do_forceescape(value):
    """Escape even if the value is already Markup (double escapes)."""
    if hasattr(value, "__html__"):
        value = value.__html__()
    return escape(str(value))


def _url_quote(obj, for_qs=False):
    if not isinstance(obj, bytes):
        obj = str(obj).encode("utf-8")
    quoted = quote_from_bytes(obj, b"" if for_qs else b"/")
    return quoted.replace("%20", "+") if for_qs else quoted


def do_urlencode(value):
    """Percent-encode a string (``/`` kept) or a dict / pair list as a query string."""
    if isinstance(value, str) or not isinstance(value, abc.Iterable):
        return _url_quote(value)
    items = value.items() if isinstance(value, dict) else value
    return "&".join("%s=%s" % (_url_quote(k, True), _url_quote(v, True)) for k, v in items)


@_special
def do_replace(rt, autoescape, s, old, new, count=None):
    """Replace ``old`` by ``new`` (the first ``count`` times); Markup-aware under autoescape."""
    if count is None:
        count = -1
    if not autoescape:
        return str(s).replace(str(old), str(new), count)
    if (hasattr(old, "__html__") or hasattr(new, "__html__")) and not hasattr(s, "__html__"):
        s = escape(s)
    else:
        s = soft_str(s)
    return s.replace(soft_str(old), soft_str(new), count)


def do_upper(s):
    """Upper-case."""
    return soft_str(s).upper()


def do_lower(s):
    """Lower-case."""
    return soft_str(s).lower()


# A key with a space, '/', '>' or '=' would end the attribute name early
# (https://html.spec.whatwg.org/#attribute-name-state).
_ATTR_KEY_BAD = re.compile(r"[\s/>=]", flags=re.ASCII)


@_special
def do_xmlattr(rt, autoescape, d, autospace=True):
    """``{'class': 'a', 'id': none}`` -> ` class="a"`: values escaped, none/undefined skipped."""
    items = []
    for key, value in d.items():
        if value is None or isinstance(value, Undefined):
            continue
        if _ATTR_KEY_BAD.search(key) is not None:
            raise ValueError("invalid character in attribute name: %r" % key)
        items.append('%s="%s"' % (escape(key), escape(value)))
    result = " ".join(items)
    if autospace and result:
        result = " " + result
    return Markup(result) if autoescape else result


def do_capitalize(s):
    """First character upper-case, the rest lower-case."""
    return soft_str(s).capitalize()


_WORD_START = re.compile(r"([-\s({\[<]+)")


def do_title(s):
    """Each word starts upper-case, the rest lower-case."""
    return "".join(item[0].upper() + item[1:].lower()
                   for item in _WORD_START.split(soft_str(s)) if item)


def do_dictsort(value, case_sensitive=False, by="key", reverse=False):
    """(key, value) pairs of a dict sorted by key (or by value with ``by='value'``)."""
    if by == "key":
        pos = 0
    elif by == "value":
        pos = 1
    else:
        raise TemplateError("dictsort can only sort by 'key' or 'value', not %r" % (by,))

    def sort_key(item):
        return item[pos] if case_sensitive else _lower_if_str(item[pos])
    return sorted(value.items(), key=sort_key, reverse=reverse)


def _multi_attribute_getter(rt, attribute, postprocess=None):
    if isinstance(attribute, str) and "," in attribute:
        getters = [rt.attribute_path(part, postprocess=postprocess) for part in attribute.split(",")]
        return lambda item: [g(item) for g in getters]
    return rt.attribute_path(attribute, postprocess=postprocess)


@_special
def do_sort(rt, autoescape, value, reverse=False, case_sensitive=False, attribute=None):
    """Sorted list; ``attribute`` may be a dotted path or a comma list ``"age,name"``."""
    key = _multi_attribute_getter(rt, attribute, None if case_sensitive else _lower_if_str)
    return sorted(value, key=key, reverse=reverse)


@_special
def do_unique(rt, autoescape, value, case_sensitive=False, attribute=None):
    """Items in first-seen order without repeats (a list)."""
    key = rt.attribute_path(attribute, postprocess=None if case_sensitive else _lower_if_str)
    seen = set()
    result = []
    for item in value:
        k = key(item)
        if k not in seen:
            seen.add(k)
            result.append(item)
    return result


def _min_or_max(rt, value, func, case_sensitive, attribute):
    it = iter(value)
    try:
        first = next(it)
    except StopIteration:
        return rt.undefined(hint="no aggregated item, sequence was empty")
    key = rt.attribute_path(attribute, postprocess=None if case_sensitive else _lower_if_str)
    return func(chain([first], it), key=key)


@_special
def do_min(rt, autoescape, value, case_sensitive=False, attribute=None):
    """Smallest item (undefined if empty)."""
    return _min_or_max(rt, value, min, case_sensitive, attribute)


@_special
def do_max(rt, autoescape, value, case_sensitive=False, attribute=None):
    """Largest item (undefined if empty)."""
    return _min_or_max(rt, value, max, case_sensitive, attribute)


def do_default(value, default_value="", boolean=False):
    """``default_value`` if the value is undefined (or false, with ``boolean=true``)."""
    if isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


@_special
def do_join(rt, autoescape, value, d="", attribute=None):
    """Join items with ``d``; under autoescape plain items are escaped when any is Markup."""
    if attribute is not None:
        value = map(rt.attribute_path(attribute), value)
    if not autoescape:
        return str(d).join(map(str, value))
    if not hasattr(d, "__html__"):
        value = list(value)
        has_markup = False
        for i, item in enumerate(value):
            if hasattr(item, "__html__"):
                has_markup = True
            else:
                value[i] = str(item)
        return (escape(d) if has_markup else str(d)).join(value)
    return soft_str(d).join(map(soft_str, value))


def do_center(value, width=80):
    """Centre in a field of ``width`` characters."""
    return soft_str(value).center(width)


@_special
def do_first(rt, autoescape, seq):
    """First item (undefined if empty)."""
    try:
        return next(iter(seq))
    except StopIteration:
        return rt.undefined(hint="no first item, sequence was empty")


@_special
def do_last(rt, autoescape, seq):
    """Last item (undefined if empty)."""
    try:
        return next(iter(reversed(seq)))
    except StopIteration:
        return rt.undefined(hint="no last item, sequence was empty")


def do_indent(s, width=4, first=False, blank=False):
    """Indent every line but the first (and blank ones) by ``width`` spaces or a given string."""
    indentation = width if isinstance(width, str) else " " * width
    newline = "\n"
    if isinstance(s, Markup):
        indentation = Markup(indentation)
        newline = Markup(newline)
    s += newline
    if blank:
        result = (newline + indentation).join(s.splitlines())
    else:
        lines = s.splitlines()
        result = lines.pop(0)
        if lines:
            result += newline + newline.join(indentation + line if line else line for line in lines)
    if first:
        result = indentation + result
    return result


def do_truncate(s, length=255, killwords=False, end="...", leeway=None):
    """Cut to ``length`` characters at a word boundary, adding ``end``; ``leeway`` (5) spares
    strings that are only a little too long."""
    if leeway is None:
        leeway = 5
    if length < len(end):
        raise ValueError("truncate length must be at least len(end) = %d, got %d" % (len(end), length))
    if leeway < 0:
        raise ValueError("truncate leeway must be >= 0, got %d" % leeway)
    s = soft_str(s)
    if len(s) <= length + leeway:
        return s
    if killwords:
        return s[:length - len(end)] + end
    return s[:length - len(end)].rsplit(" ", 1)[0] + end


def do_wordwrap(s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
    """Wrap text at ``width`` columns, keeping existing line breaks."""
    if wrapstring is None:
        wrapstring = "\n"
    return wrapstring.join(
        wrapstring.join(textwrap.wrap(line, width=width, expand_tabs=False, replace_whitespace=False,
                                      break_long_words=break_long_words,
                                      break_on_hyphens=break_on_hyphens))
        for line in soft_str(s).splitlines())


_WORD = re.compile(r"\w+")


def do_wordcount(s):
    """Number of words."""
    return len(_WORD.findall(soft_str(s)))


def do_int(value, default=0, base=10):
    """Convert to int (strings in ``base``), ``default`` if that fails."""
    try:
        if isinstance(value, str):
            return int(value, base)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def do_float(value, default=0.0):
    """Convert to float, ``default`` if that fails."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def do_format(value, *args, **kwargs):
    """printf-style formatting: ``"%s - %s"|format(a, b)``."""
    if args and kwargs:
        raise TemplateError("format takes positional or keyword arguments, not both")
    return soft_str(value) % (kwargs or args)


def do_trim(value, chars=None):
    """Strip leading and trailing whitespace (or ``chars``)."""
    return soft_str(value).strip(chars)


def do_striptags(value):
    """Remove tags and comments, collapse whitespace, unescape entities."""
    if hasattr(value, "__html__"):
        value = value.__html__()
    return Markup(str(value)).striptags()


def do_slice(value, slices, fill_with=None):
    """Split into ``slices`` columns of near-equal length (a list of lists)."""
    seq = list(value)
    length = len(seq)
    per_slice, with_extra = divmod(length, slices)
    result = []
    offset = 0
    for number in range(slices):
        start = offset + number * per_slice
        if number < with_extra:
            offset += 1
        end = offset + (number + 1) * per_slice
        part = seq[start:end]
        if fill_with is not None and number >= with_extra:
            part.append(fill_with)
        result.append(part)
    return result


def do_batch(value, linecount, fill_with=None):
    """Split into rows of ``linecount`` items (the last one padded with ``fill_with``)."""
    result = []
    row = []
    for item in value:
        if len(row) == linecount:
            result.append(row)
            row = []
        row.append(item)
    if row:
        if fill_with is not None and len(row) < linecount:
            row += [fill_with] * (linecount - len(row))
        result.append(row)
    return result


def do_round(value, precision=0, method="common"):
    """Round half to even ('common'), or always up ('ceil') or down ('floor')."""
    if method == "common":
        return round(value, precision)
    if method not in ("ceil", "floor"):
        raise TemplateError("round method must be 'common', 'ceil' or 'floor', not %r" % (method,))
    func = getattr(math, method)
    return func(value * 10 ** precision) / 10 ** precision


class _Group(namedtuple("_Group", ("grouper", "list"))):
    __slots__ = ()

    def __repr__(self):
        return tuple.__repr__(self)

    def __str__(self):
        return tuple.__str__(self)


@_special
def do_groupby(rt, autoescape, value, attribute, default=None, case_sensitive=False):
    """Group items by ``attribute``: a sorted list of ``(grouper, list)`` pairs."""
    key = rt.attribute_path(attribute, default=default,
                            postprocess=None if case_sensitive else _lower_if_str)
    groups = [_Group(k, list(items)) for k, items in groupby(sorted(value, key=key), key)]
    if not case_sensitive:
        original = rt.attribute_path(attribute, default=default)
        groups = [_Group(original(items[0]), items) for _, items in groups]
    return groups


@_special
def do_sum(rt, autoescape, iterable, attribute=None, start=0):
    """Sum of the items (or of their ``attribute``) plus ``start``."""
    if attribute is not None:
        iterable = map(rt.attribute_path(attribute), iterable)
    return sum(iterable, start)


def do_list(value):
    """Convert to a list (a string becomes its characters)."""
    return list(value)


def do_mark_safe(value):
    """Mark as trusted HTML: it will not be escaped."""
    return Markup(value)


def do_reverse(value):
    """Reversed string, or a reversed iterator/list of the items."""
    if isinstance(value, str):
        return value[::-1]
    try:
        return list(reversed(value))
    except TypeError:
        items = list(value)
        items.reverse()
        return items


@_special
def do_attr(rt, autoescape, obj, name):
    """``getattr(obj, name)`` only (no item lookup); private names are refused."""
    if not isinstance(name, str):
        raise TemplateError("attr() needs a string name, got %s" % object_type_repr(name))
    if name.startswith("_") or name in UNSAFE_ATTRIBUTES:
        raise SecurityError("access to attribute %r of %s is refused: names starting with '_' "
                            "and interpreter internals are private" % (name, object_type_repr(obj)))
    if name in ("format", "format_map") and isinstance(obj, str):
        return rt.getattr_format(obj, name)
    try:
        return getattr(obj, name)
    except AttributeError:
        return rt.undefined(name, obj)


def _map_function(rt, autoescape, args, kwargs):
    if not args and "attribute" in kwargs:
        attribute = kwargs.pop("attribute")
        default = kwargs.pop("default", None)
        if kwargs:
            raise TemplateError("map() got an unexpected keyword argument %r" % next(iter(kwargs)))
        return rt.attribute_path(attribute, default=default)
    if not args:
        raise TemplateError("map() needs a filter name or attribute=")
    name, rest = args[0], args[1:]
    return lambda item: rt.call_filter(name, item, rest, kwargs, autoescape)


@_special
def do_map(rt, autoescape, value, *args, **kwargs):
    """Apply a filter to each item (``map('upper')``) or pick an attribute (``map(attribute='x')``)."""
    if not value:
        return []
    func = _map_function(rt, autoescape, args, kwargs)
    return [func(item) for item in value]


def _select(rt, value, args, kwargs, keep, by_attribute):
    if not value:
        return []
    if by_attribute:
        if not args:
            raise TemplateError("missing attribute name")
        transform = rt.attribute_path(args[0])
        args = args[1:]
    else:
        def transform(x):
            return x
    if args:
        name, rest = args[0], args[1:]

        def check(item):
            return rt.call_test(name, item, rest, kwargs)
    else:
        check = bool
    return [item for item in value if bool(check(transform(item))) is keep]


@_special
def do_select(rt, autoescape, value, *args, **kwargs):
    """Items passing a test (``select('odd')``), or truthy items."""
    return _select(rt, value, args, kwargs, True, False)


@_special
def do_reject(rt, autoescape, value, *args, **kwargs):
    """Items failing a test, or falsy items."""
    return _select(rt, value, args, kwargs, False, False)


@_special
def do_selectattr(rt, autoescape, value, *args, **kwargs):
    """Items whose attribute passes a test (or is truthy)."""
    return _select(rt, value, args, kwargs, True, True)


@_special
def do_rejectattr(rt, autoescape, value, *args, **kwargs):
    """Items whose attribute fails a test (or is falsy)."""
    return _select(rt, value, args, kwargs, False, True)


# JSON is safe inside <script> and single-quoted attributes once these four are
# \u escapes: no "</script>", no "<!--", no entity, no closing quote.
_JSON_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"))


def do_tojson(value, indent=None):
    """JSON (sorted keys) that is safe inside ``<script>`` and single-quoted attributes."""
    text = json.dumps(value, sort_keys=True, indent=indent)
    for char, replacement in _JSON_ESCAPES:
        text = text.replace(char, replacement)
    return Markup(text)


FILTERS = {
    "abs": abs, "attr": do_attr, "batch": do_batch, "capitalize": do_capitalize,
    "center": do_center, "count": len, "d": do_default, "default": do_default,
    "dictsort": do_dictsort, "e": escape, "escape": escape, "first": do_first, "float": do_float,
    "forceescape": do_forceescape, "format": do_format, "groupby": do_groupby, "indent": do_indent,
    "int": do_int, "join": do_join, "last": do_last, "length": len, "list": do_list,
    "lower": do_lower, "map": do_map, "max": do_max, "min": do_min, "replace": do_replace,
    "reverse": do_reverse, "round": do_round, "safe": do_mark_safe, "select": do_select,
    "reject": do_reject, "selectattr": do_selectattr, "rejectattr": do_rejectattr,
    "slice": do_slice, "sort": do_sort, "string": soft_str, "striptags": do_striptags,
    "sum": do_sum, "title": do_title, "tojson": do_tojson, "trim": do_trim,
    "truncate": do_truncate, "unique": do_unique, "upper": do_upper, "urlencode": do_urlencode,
    "wordcount": do_wordcount, "wordwrap": do_wordwrap, "xmlattr": do_xmlattr,
}


# tests ----------------------------------------------------------------------------


def test_defined(value):
    """Not undefined."""
    return not isinstance(value, Undefined)


def test_undefined(value):
    """Undefined."""
    return isinstance(value, Undefined)


def test_none(value):
    """``None``."""
    return value is None


def test_boolean(value):
    """``True`` or ``False``."""
    return value is True or value is False


def test_true(value):
    """``True`` itself."""
    return value is True


def test_false(value):
    """``False`` itself."""
    return value is False


def test_integer(value):
    """An int that is not a bool."""
    return isinstance(value, int) and value is not True and value is not False


def test_float(value):
    """A float."""
    return isinstance(value, float)


def test_number(value):
    """Any number (bools included, as in Python)."""
    return isinstance(value, Number)


def test_string(value):
    """A str (Markup included)."""
    return isinstance(value, str)


def test_mapping(value):
    """A dict or other mapping."""
    return isinstance(value, abc.Mapping)


def test_sequence(value):
    """Has a length and supports indexing (str, list, tuple, dict...)."""
    try:
        len(value)
        value.__getitem__  # noqa: B018 - the attribute's existence is the test
    except Exception:
        return False
    return True


def test_iterable(value):
    """``iter(value)`` works."""
    try:
        iter(value)
    except TypeError:
        return False
    return True


def test_callable(value):
    """Can be called."""
    return callable(value)


def test_even(value):
    """Divisible by 2."""
    return value % 2 == 0


def test_odd(value):
    """Not divisible by 2."""
    return value % 2 == 1


def test_divisibleby(value, num):
    """``value % num == 0``."""
    return value % num == 0


def test_sameas(value, other):
    """The same object (``is``)."""
    return value is other


def test_lower(value):
    """All cased characters are lower-case."""
    return str(value).islower()


def test_upper(value):
    """All cased characters are upper-case."""
    return str(value).isupper()


def test_escaped(value):
    """Already Markup (has ``__html__``)."""
    return hasattr(value, "__html__")


def test_in(value, seq):
    """``value in seq``."""
    return value in seq


def test_eq(value, other):
    """``==``."""
    return value == other


def test_ne(value, other):
    """``!=``."""
    return value != other


def test_lt(value, other):
    """``<``."""
    return value < other


def test_le(value, other):
    """``<=``."""
    return value <= other


def test_gt(value, other):
    """``>``."""
    return value > other


def test_ge(value, other):
    """``>=``."""
    return value >= other


TESTS = {
    "defined": test_defined, "undefined": test_undefined, "none": test_none,
    "boolean": test_boolean, "true": test_true, "false": test_false, "integer": test_integer,
    "float": test_float, "number": test_number, "string": test_string, "mapping": test_mapping,
    "sequence": test_sequence, "iterable": test_iterable, "callable": test_callable,
    "even": test_even, "odd": test_odd, "divisibleby": test_divisibleby, "sameas": test_sameas,
    "lower": test_lower, "upper": test_upper, "escaped": test_escaped, "in": test_in,
    "eq": test_eq, "equalto": test_eq, "ne": test_ne, "lt": test_lt, "lessthan": test_lt,
    "le": test_le, "gt": test_gt, "greaterthan": test_gt, "ge": test_ge,
}
