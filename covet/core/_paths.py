"""Path templates: ``/items/{id:int}`` split into tree keys, its parameters built, its values quoted.

``split_template`` turns a route's path into the keys of the router's
segment tree (a literal, a converter, a ``Pattern`` for a segment with
literals around its parameters, or the ``path`` rest) and its parameter
names; ``param_builder`` generates the function that converts matched
values into the handler's ``{name: value}``; ``quote_value`` and
``PATH_SAFE`` percent-encode values for ``url_for``; ``decode_segment``
and ``split_path`` read a request's raw path into the segments the router
matches, for anything else that decides on a path.
"""
from __future__ import annotations  # annotations here are for type checkers; covet never evaluates them

import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote, unquote

from ._codegen import Emitter
from .converters import Converter, IntConverter, PathConverter, StringConverter, UUIDConverter, load_uuid, uuid_from_hex

__all__ = ["PATH_SAFE", "PARAM", "PLAIN_PATH", "Pattern", "quote_value", "split_template", "param_builder",
           "decode_segment", "split_path"]

# pchar characters (RFC 3986 §3.3) that need no percent-encoding in a path.
PATH_SAFE = "@:!$&'()*+,;=-._~"
PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?\}")
#: A plain absolute path, or "": "/"-separated non-empty segments of pchar (RFC 3986 §3.3) and
#: %-escapes, no trailing "/", nothing a URL, a header or a log line could be split on. What the
#: app is told its own URLs are (docs_url, openapi_url, a server's root_path): "//host" or
#: "/docs/" would make the URLs built on it name another host or another path.
PLAIN_PATH = re.compile(r"(/[A-Za-z0-9%" + re.escape(PATH_SAFE) + r"]+)*")


class Pattern:
    """A segment with literals around parameters, such as ``{name}.{ext:str}``."""

    priority = 5

    def __init__(self, template: str, converters: Dict[str, Converter]) -> None:
        regex, self.convs, pos = "", [], 0
        for m in PARAM.finditer(template):
            regex += re.escape(template[pos:m.start()])
            conv = converters[m.group(2) or "str"]
            regex += "(%s)" % (conv.regex if not isinstance(conv, StringConverter) else "[^/]+?")
            self.convs.append(conv)
            pos = m.end()
        regex += re.escape(template[pos:])
        self.key = ("re", regex)
        self._match = re.compile(regex).fullmatch

    def match(self, decoded: str) -> Optional[Tuple[str, ...]]:
        m = self._match(decoded)
        return None if m is None else m.groups()


def decode_segment(segment: str) -> str:
    """One segment of a raw path, percent-decoded as the router decodes it.

    Bytes that are not UTF-8 become U+FFFD, as in uvicorn and werkzeug: lone
    surrogates would make every JSON or HTML rendering of the value fail (500).

    Example::

        decode_segment("caf%C3%A9")   # 'café'
        decode_segment("a%2Fb")       # 'a/b': still one segment
    """
    return unquote(segment, errors="replace") if "%" in segment else segment


def split_path(raw_path: str) -> List[str]:
    """The segments the router matches for ``raw_path`` (still percent-encoded).

    The path is split on its raw ``/`` first and each segment decoded after,
    so ``%2F`` stays inside its segment; nothing is collapsed or removed
    (empty segments, ``.`` and ``..`` stay). A path that does not start
    with ``/`` (``*``) has no segments: ``[]``.

    Example::

        split_path("/webhooks%2Fx/delete")   # ['webhooks/x', 'delete']
        split_path("/a//b/")                 # ['a', '', 'b', '']
    """
    if raw_path[:1] != "/":
        return []
    rest = raw_path[1:].split("/")
    return [decode_segment(s) for s in rest] if "%" in raw_path else rest


def quote_value(value: str, is_path: bool) -> str:
    """Percent-encode a parameter value for a URL path.

    "." and ".." are encoded as well: clients remove such dot segments
    (RFC 3986 §5.2.4) before sending, so the value would never arrive.
    """
    if is_path:
        return "/".join(quote_value(part, False) for part in value.split("/"))
    if value in (".", ".."):
        return "%2E" * len(value)
    return quote(value, safe=PATH_SAFE)


def split_template(path: str, converters: Dict[str, Converter]) -> Tuple[List[Tuple[str, Any]], List[str]]:
    """Compile a path template into tree keys and parameter names."""
    if not path.startswith("/"):
        raise ValueError("route path must start with '/': %r" % path)
    keys, names = [], []
    segments = path[1:].split("/")
    for i, seg in enumerate(segments):
        params = list(PARAM.finditer(seg))
        if not params:
            if "{" in seg or "}" in seg:
                raise ValueError("malformed parameter in route path %r: %r" % (path, seg))
            keys.append(("s", seg))
            continue
        for m in params:
            conv_name = m.group(2) or "str"
            if conv_name not in converters:
                raise ValueError("unknown converter %r in route path %r" % (conv_name, path))
            if m.group(1) in names:
                raise ValueError("parameter %r appears twice in route path %r" % (m.group(1), path))
            names.append(m.group(1))
        if len(params) == 1 and params[0].group(0) == seg:
            conv = converters[params[0].group(2) or "str"]
            if isinstance(conv, PathConverter):
                if i != len(segments) - 1:
                    raise ValueError("a {name:path} parameter must be the last segment: %r" % path)
                keys.append(("path", conv))
            else:
                keys.append(("p", conv))
        else:
            if any(m.group(2) == "path" for m in params):
                raise ValueError("a {name:path} parameter must fill its whole segment: %r" % path)
            keys.append(("re", Pattern(seg, converters)))
    return keys, names


def param_builder(names: Sequence[str], convs: Sequence[Converter]) -> Callable[[Sequence[str]], Dict[str, Any]]:
    """``build(values) -> {name: converted value}`` for one route, generated once.

    PERF: a dict display with the conversions inlined costs a third of
    ``dict(zip(names, [c.convert(v) ...]))``. Names are identifiers
    (``PARAM`` guarantees it), so the generated source is safe.
    """
    namespace = {}
    items = []
    for i, (name, conv) in enumerate(zip(names, convs)):
        if conv.identity:
            expr = "v[%d]" % i
        elif type(conv) is IntConverter:
            expr = "int(v[%d])" % i
        elif type(conv) is UUIDConverter:
            load_uuid()
            namespace["_uuid"] = uuid_from_hex
            expr = "_uuid(v[%d])" % i
        else:
            namespace["c%d" % i] = conv.convert
            expr = "c%d(v[%d])" % (i, i)
        items.append("%r: %s" % (name, expr))
    e = Emitter()
    with e.block("def build(v)"):
        e.line("return {%s}" % ", ".join(items))
    exec(compile(e.source(), "<covet route params>", "exec"), namespace)
    return namespace["build"]
