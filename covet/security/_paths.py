"""Path patterns for security middleware, matched on the segments the router matches.

A decision on a path (is this request exempt from the CSRF check?) must see the
same path as the router that picks the handler, or a client can spell one path
so that the middleware sees another. The router splits the raw path on ``/``
first and percent-decodes each segment after (``covet.core._paths.split_path``),
so ``/webhooks%2Fx/delete`` is the two segments ``webhooks/x`` and ``delete``:
the route ``/{section}/delete``, not anything under ``/webhooks/``. Patterns are
therefore compared segment by segment, never as one decoded string.

``router_path(raw_path)`` writes those segments as one unambiguous string for
regexes; ``PathPatterns`` compiles a list of patterns once and answers per request.
"""
import re
from typing import Iterable, Pattern, Tuple, Union

from ..core._paths import split_path

__all__ = ["PathPatterns", "router_path"]


def _escape(segment: str) -> str:
    # "%" first, so that the "%2F" written for a "/" inside a segment is never read as "/".
    return segment.replace("%", "%25").replace("/", "%2F") if ("%" in segment or "/" in segment) else segment


def router_path(raw_path: str) -> str:
    """The path as the router sees it: ``/`` between segments, each segment decoded, with a
    ``%`` or ``/`` inside a segment written ``%25`` or ``%2F``. Every ``/`` in it is a segment
    boundary, and two raw paths with the same segments give the same string. A path that does
    not start with ``/`` (``*``) gives ``""``.

    Example::

        router_path("/api/%77ebhook")         # '/api/webhook'
        router_path("/webhooks%2Fx/delete")   # '/webhooks%2Fx/delete': one segment "webhooks/x"
        router_path("/caf%C3%A9/%2541")       # '/café/%2541': the segment "%41"
    """
    if "%" not in raw_path:  # PERF: nothing decodes, so the raw path is already that string
        return raw_path if raw_path[:1] == "/" else ""
    segments = split_path(raw_path)
    return "/" + "/".join(_escape(s) for s in segments) if segments else ""


class PathPatterns:
    """A set of path patterns, tested against a request's raw path as the router splits it.

    - ``"/api/webhook"``: exactly that path. Each segment is compared, decoded, with the
      request's decoded segment, as a route's literal segment is (``/api/%77ebhook`` is it;
      ``/api%2Fwebhook``, one segment, is not).
    - ``"/webhooks/*"``: a last segment ``*`` stands for the rest of the path, one or more
      whole segments of any content (``/webhooks/`` and ``/webhooks/a/b`` match; ``/webhooks``
      and ``/webhooks%2Fa`` do not).
    - ``"/api/*/hook"``: any other ``*`` segment stands for exactly one non-empty segment,
      as a ``{name}`` parameter does.
    - A compiled regex must match the whole of ``router_path(raw_path)``.

    A ``*`` inside a segment (``"/webhooks*"``), a string not starting with ``/`` and a bytes
    regex are refused with ``ValueError``/``TypeError`` when the patterns are built.

    Example::

        exempt = PathPatterns(["/api/webhook", "/webhooks/*", re.compile(r"/v[0-9]+/ping")])
        exempt("/webhooks/github")       # True
        exempt("/webhooks%2Fx/delete")   # False: the segments are "webhooks/x" and "delete"
    """

    __slots__ = ("exact", "prefixes", "patterns", "empty")

    def __init__(self, patterns: Iterable[Union[str, Pattern[str]]], what: str = "paths") -> None:
        exact, prefixes, regexes = set(), [], []  # type: set, List[str], List[Pattern[str]]
        for p in patterns:
            if isinstance(p, str):
                kind, value = _compile(p, what)
                if kind == "exact":
                    exact.add(value)
                elif kind == "prefix":
                    prefixes.append(value)
                else:
                    regexes.append(re.compile(value))
            elif hasattr(p, "fullmatch"):
                if not isinstance(getattr(p, "pattern", None), str):
                    raise TypeError("%s are matched against text: compile the regex from a str, got %r" % (what, p))
                regexes.append(p)
            else:
                raise TypeError("%s are strings or compiled regexes, got %r" % (what, p))
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)  # type: Tuple[str, ...]
        self.patterns = tuple(regexes)  # type: Tuple[Pattern[str], ...]
        self.empty = not (exact or prefixes or regexes)

    def __call__(self, raw_path: str) -> bool:
        """True when ``raw_path`` (a request's ``raw_path``, still percent-encoded) matches."""
        if self.empty:
            return False
        path = router_path(raw_path)
        if not path:
            return False
        return (path in self.exact or (bool(self.prefixes) and path.startswith(self.prefixes))
                or any(p.fullmatch(path) for p in self.patterns))

    def __repr__(self) -> str:
        return "PathPatterns(exact=%r, prefixes=%r, patterns=%r)" % (
            sorted(self.exact), list(self.prefixes), [p.pattern for p in self.patterns])


def _compile(pattern: str, what: str) -> Tuple[str, str]:
    """("exact", path) | ("prefix", path ending in "/") | ("regex", source), all in router_path form."""
    if not pattern.startswith("/"):
        raise ValueError("%s start with '/', as route paths do, got %r" % (what, pattern))
    segments = pattern[1:].split("/")
    for seg in segments:
        if "*" in seg and seg != "*":
            raise ValueError("in %s a '*' stands for whole segments (\"/webhooks/*\"), "
                             "not part of one, got %r" % (what, pattern))
    # Pattern segments are literal text, as a route's are: "%" in one is a "%".
    written = [_escape(s) for s in segments]
    if "*" not in segments:
        return "exact", "/" + "/".join(written)
    if segments.index("*") == len(segments) - 1:
        return "prefix", "/" + "".join(s + "/" for s in written[:-1])
    parts = []
    for i, seg in enumerate(written):
        if seg != "*":
            parts.append(re.escape(seg))
        elif i == len(written) - 1:
            parts.append(".*")   # the rest: whole segments, since every "/" is a boundary
        else:
            parts.append("[^/]+")  # one non-empty segment
    return "regex", "/" + "/".join(parts)
