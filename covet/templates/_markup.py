"""Markup (trusted HTML) and the HTML escaping used by the template engine.

Escaping replaces the five characters that matter in HTML text and in quoted
attribute values (`&`, `<`, `>`, `"`, `'`), with the same entities as
MarkupSafe so output is byte-for-byte what Jinja2 users expect.
"""
import html
import re
import string

__all__ = ["Markup", "escape", "soft_str", "escape_str"]


def escape_str(s):
    """Escape a value for HTML and return a plain str (the renderer's hot path)."""
    # PERF: exact str first (the common case); `in` tests are cheaper than five
    # replace() calls when nothing needs escaping (measured ~135 ns vs ~175 ns).
    if s.__class__ is str:
        if "&" in s or "<" in s or ">" in s or '"' in s or "'" in s:
            return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace('"', "&#34;").replace("'", "&#39;"))
        return s
    if s.__class__ is Markup:
        return s
    if s.__class__ is int:
        return str(s)
    html_method = getattr(s, "__html__", None)
    if html_method is not None:
        return html_method()
    s = str(s)
    if "&" in s or "<" in s or ">" in s or '"' in s or "'" in s:
        return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&#34;").replace("'", "&#39;"))
    return s


def escape(s):
    """Escape `& < > " '` in ``s`` and return Markup; Markup passes through unchanged."""
    if s.__class__ is Markup:
        return s
    if hasattr(s, "__html__"):
        return Markup(s.__html__())
    return Markup(escape_str(str(s)))


def soft_str(s):
    """Return ``s`` unchanged if it is a str (Markup included), else ``str(s)``."""
    if isinstance(s, str):
        return s
    return str(s)


class _EscapeArg:
    """Wraps one operand of ``Markup % x`` so that it is escaped when formatted."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __getitem__(self, key):
        return _EscapeArg(self.obj[key])

    def __str__(self):
        return str(escape(self.obj))

    def __repr__(self):
        return str(escape(repr(self.obj)))

    def __int__(self):
        return int(self.obj)

    def __float__(self):
        return float(self.obj)

    def __index__(self):
        return self.obj.__index__()


# A format field naming an attribute that starts with "_" ("{0.__class__}")
# reaches interpreter internals; Jinja2's sandbox had this hole
# (CVE-2016-10745), so every format() reachable from a template refuses it.
_PRIVATE_FIELD = re.compile(r"\.\s*_")


class SafeFormatter(string.Formatter):
    """str.format that refuses fields such as ``{0.__class__}``."""

    def __init__(self, escape_values=False):
        self.escape_values = escape_values

    def get_field(self, field_name, args, kwargs):
        if _PRIVATE_FIELD.search(field_name) or field_name.startswith("_"):
            from ._errors import SecurityError
            raise SecurityError("format field %r refers to a private attribute" % field_name)
        return super().get_field(field_name, args, kwargs)

    def format_field(self, value, format_spec):
        if not self.escape_values:
            return super().format_field(value, format_spec)
        if hasattr(value, "__html_format__"):
            return value.__html_format__(format_spec)
        if hasattr(value, "__html__"):
            if format_spec:
                raise ValueError("format spec %r given for an object with __html__" % format_spec)
            return value.__html__()
        return escape_str(super().format_field(value, format_spec))


_TAGS_AND_COMMENTS = re.compile(r"<!--.*?-->|<[^>]*>", re.S)


class Markup(str):
    """A str holding trusted HTML: escaping leaves it as is, and mixing it with a
    plain str escapes the plain str.

    Example::

        Markup("<b>%s</b>") % "<i>"   # Markup('<b>&lt;i&gt;</b>')
    """

    __slots__ = ()

    def __new__(cls, base="", encoding=None, errors="strict"):
        if hasattr(base, "__html__"):
            base = base.__html__()
        if encoding is None:
            return super().__new__(cls, base)
        return super().__new__(cls, base, encoding, errors)

    def __html__(self):
        return self

    def __add__(self, other):
        if isinstance(other, str) or hasattr(other, "__html__"):
            return self.__class__(str.__add__(self, escape(other)))
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, str) or hasattr(other, "__html__"):
            return escape(other).__add__(self)
        return NotImplemented

    def __mul__(self, n):
        if isinstance(n, int):
            return self.__class__(str.__mul__(self, n))
        return NotImplemented

    __rmul__ = __mul__

    def __mod__(self, arg):
        if isinstance(arg, tuple):
            arg = tuple(_EscapeArg(x) for x in arg)
        elif hasattr(type(arg), "__getitem__") and not isinstance(arg, str):
            arg = _EscapeArg(arg)
        else:
            arg = (_EscapeArg(arg),)
        return self.__class__(str.__mod__(self, arg))

    def __repr__(self):
        return "%s(%s)" % (self.__class__.__name__, str.__repr__(self))

    def __getitem__(self, key):
        return self.__class__(str.__getitem__(self, key))

    def join(self, seq):
        """Join ``seq`` with this Markup as separator, escaping the plain items."""
        return self.__class__(str.join(self, map(escape, seq)))

    def split(self, sep=None, maxsplit=-1):
        """str.split, returning Markup parts."""
        return [self.__class__(v) for v in str.split(self, sep, maxsplit)]

    def rsplit(self, sep=None, maxsplit=-1):
        """str.rsplit, returning Markup parts."""
        return [self.__class__(v) for v in str.rsplit(self, sep, maxsplit)]

    def splitlines(self, keepends=False):
        """str.splitlines, returning Markup lines."""
        return [self.__class__(v) for v in str.splitlines(self, keepends)]

    def partition(self, sep):
        """str.partition with an escaped separator, returning Markup parts."""
        return tuple(map(self.__class__, str.partition(self, escape(sep))))

    def rpartition(self, sep):
        """str.rpartition with an escaped separator, returning Markup parts."""
        return tuple(map(self.__class__, str.rpartition(self, escape(sep))))

    def unescape(self):
        """Convert entities back to characters and return a plain str."""
        return html.unescape(str(self))

    def striptags(self):
        """Remove comments and tags, collapse whitespace, unescape: a plain str."""
        text = _TAGS_AND_COMMENTS.sub("", str(self))
        return Markup(" ".join(text.split())).unescape()

    @classmethod
    def escape(cls, s):
        """Escape ``s`` and return an instance of this class."""
        rv = escape(s)
        if rv.__class__ is not cls:
            return cls(rv)
        return rv

    def format(self, *args, **kwargs):
        """str.format escaping every field value; private attributes are refused."""
        return self.__class__(SafeFormatter(True).vformat(self, args, kwargs))

    def format_map(self, mapping):
        """str.format_map escaping every field value; private attributes are refused."""
        return self.__class__(SafeFormatter(True).vformat(self, (), mapping))

    def __html_format__(self, format_spec):
        if format_spec:
            raise ValueError("Markup takes no format spec")
        return self


def _wrap_escaping(name):
    method = getattr(str, name)

    def wrapped(self, *args, **kwargs):
        args = [escape(a) if isinstance(a, str) else a for a in args]
        for key, value in kwargs.items():
            if isinstance(value, str):
                kwargs[key] = escape(value)
        return self.__class__(method(self, *args, **kwargs))

    wrapped.__name__ = name
    wrapped.__qualname__ = "Markup." + name
    wrapped.__doc__ = "str.%s on Markup: string arguments are escaped, the result is Markup." % name
    return wrapped


for _name in ("capitalize", "title", "lower", "upper", "replace", "ljust", "rjust",
              "lstrip", "rstrip", "center", "strip", "translate", "expandtabs",
              "swapcase", "zfill", "casefold", "removeprefix", "removesuffix"):
    if hasattr(str, _name):
        setattr(Markup, _name, _wrap_escaping(_name))
del _name
