"""W3C Trace Context: the ``traceparent`` and ``tracestate`` headers (W3C Recommendation,
https://www.w3.org/TR/trace-context/), parsed strictly and written back.

A malformed ``traceparent`` is ignored (the receiver starts a new trace, §3.2.2), and then
``tracestate`` is not read either (§3.3.1: "if the vendor failed to parse traceparent, it MUST
NOT attempt to parse tracestate"). A malformed ``tracestate`` alone is dropped, keeping the
trace.

Example::

    ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    ctx.trace_id == 0x4bf92f3577b34da6a3ce929d0e0e4736 and ctx.sampled     # True
    format_traceparent(ctx)                                                # the same string
"""
import re
from typing import Iterable, NamedTuple, Optional

__all__ = ["SpanContext", "parse_traceparent", "parse_tracestate", "format_traceparent", "SAMPLED"]

#: The ``sampled`` bit of the trace flags (§3.2.2.5).
SAMPLED = 0x01

# §3.2.2: lowercase hex only ("Vendors MUST ... HEXDIGLC"); uppercase is invalid.
_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

# §3.3.1.3: keys are a simple key or tenant@system; values printable ASCII without "," and "=",
# not ending in a space.
_TS_KEY = re.compile(r"[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}")
_TS_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_TS_MAX_MEMBERS = 32  # §3.3.1.1
_OWS = " \t"


class SpanContext(NamedTuple):
    """What crosses process boundaries: the trace id (128 bits), the span id (64 bits), the trace
    flags and the ``tracestate`` (a normalised string, "" when none).

    Example::

        SpanContext(trace_id=1, span_id=2, trace_flags=SAMPLED).sampled   # True
    """

    trace_id: int
    span_id: int
    trace_flags: int = 0
    trace_state: str = ""
    remote: bool = False

    @property
    def sampled(self) -> bool:
        """True when the sampled flag is set."""
        return bool(self.trace_flags & SAMPLED)


def parse_traceparent(value: Optional[str]) -> Optional[SpanContext]:
    """The context a ``traceparent`` value names, or None when it is malformed (§3.2).

    Invalid: version ``ff``; uppercase or non-hex digits; wrong field lengths; an all-zero trace
    id or parent id; for version ``00``, anything after the flags. A later version may append
    fields after a ``-`` (§3.2.4: parse the first four, keep going).

    Example::

        parse_traceparent("00-" + "0" * 32 + "-00f067aa0ba902b7-01")   # None: all-zero trace id
    """
    if not isinstance(value, str):
        return None
    value = value.strip(_OWS)
    if len(value) < 55:
        return None
    m = _FIELDS.match(value)
    if m is None:
        return None
    version, trace_hex, span_hex, flags_hex = m.groups()
    if version == "ff":
        return None
    if len(value) > 55 and (version == "00" or value[55] != "-"):
        return None
    trace_id = int(trace_hex, 16)
    span_id = int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    # Only the flags this version defines are carried on (§3.2.2.5: the others are unused for 00;
    # a future version's bits are not ours to forward).
    return SpanContext(trace_id, span_id, int(flags_hex, 16) & SAMPLED, "", True)


def parse_tracestate(values: Iterable[str]) -> str:
    """The ``tracestate`` list from one or more header values (joined with ","), normalised to
    ``key=value`` members separated by ","; "" when any member is malformed, a key repeats, or
    there are more than 32 members (§3.3.1).

    Example::

        parse_tracestate(["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"])
        # 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'
    """
    members = []
    keys = set()
    for value in values:
        for member in value.split(","):
            member = member.strip(_OWS)
            if not member:
                continue  # empty members are allowed (§3.3.1.1)
            key, eq, val = member.partition("=")
            if not eq or not _TS_KEY.fullmatch(key) or not _TS_VALUE.fullmatch(val) or key in keys:
                return ""
            keys.add(key)
            members.append(member)
            if len(members) > _TS_MAX_MEMBERS:
                return ""
    return ",".join(members)


def format_traceparent(ctx: SpanContext) -> str:
    """The version-00 ``traceparent`` value for ``ctx``.

    Example::

        format_traceparent(SpanContext(1, 2, SAMPLED))
        # '00-00000000000000000000000000000001-0000000000000002-01'
    """
    return "00-%032x-%016x-%02x" % (ctx.trace_id, ctx.span_id, ctx.trace_flags & 0xFF)
