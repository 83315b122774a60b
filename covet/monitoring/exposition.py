"""The two text formats a Prometheus scraper reads, and the choice between them.

* Prometheus text exposition format 0.0.4
  (https://prometheus.io/docs/instrumenting/exposition_formats/): ``# HELP`` escapes backslash and
  newline, label values escape backslash, double quote and newline; a counter's ``# TYPE`` line names
  its ``_total`` sample.
* OpenMetrics 1.0 (https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md):
  ``application/openmetrics-text; version=1.0.0``: the counter family drops ``_total`` (its sample
  keeps it), ``# HELP`` escapes the double quote as well, and the body ends with ``# EOF``.

Both are rendered from the same :class:`MetricFamily` list, which the in-process registry and the
multiprocess collector both produce.
"""
import math
from typing import List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "MetricFamily", "Sample", "render", "choose_format", "format_value",
    "TEXT_CONTENT_TYPE", "OPENMETRICS_CONTENT_TYPE",
]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

#: ``(sample name, ((label, value), ...), value)``
Sample = Tuple[str, Tuple[Tuple[str, str], ...], float]


class MetricFamily(NamedTuple):
    """One metric as exposed: its family name (a counter's without ``_total``), type, help, samples.

    Example::

        MetricFamily("jobs", "counter", "Jobs done.", [("jobs_total", (("queue", "mail"),), 3.0)])
    """
    name: str
    type: str
    help: str
    samples: List[Sample]


_LABEL_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_HELP_ESCAPES_TEXT = str.maketrans({"\\": "\\\\", "\n": "\\n"})
_HELP_ESCAPES_OM = _LABEL_ESCAPES


def format_value(value: float) -> str:
    """A sample value or ``le`` bound as both formats spell it: ``+Inf``, ``-Inf``, ``NaN``, else the
    shortest repr that reads back as the same float (``1.0``, ``0.005``, ``1e-07``).

    Example::

        format_value(float("inf"))   # '+Inf'
    """
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _labels(pairs: Sequence[Tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join('%s="%s"' % (k, v.translate(_LABEL_ESCAPES)) for k, v in pairs) + "}"


def render(families: Sequence[MetricFamily], openmetrics: bool = False) -> bytes:
    """The exposition body for ``families`` in the text format 0.0.4, or OpenMetrics 1.0.

    Example::

        render([MetricFamily("up", "gauge", "", [("up", (), 1.0)])])   # b'# TYPE up gauge\\nup 1.0\\n'
    """
    out: List[str] = []
    help_escapes = _HELP_ESCAPES_OM if openmetrics else _HELP_ESCAPES_TEXT
    for fam in families:
        # 0.0.4 has no family name distinct from the sample: a counter is typed under its _total name.
        name = fam.name if openmetrics or fam.type != "counter" else fam.name + "_total"
        if fam.help:  # HELP is optional in both formats; an empty one says nothing
            out.append("# HELP %s %s\n" % (name, fam.help.translate(help_escapes)))
        out.append("# TYPE %s %s\n" % (name, fam.type))
        for sample_name, labels, value in fam.samples:
            out.append("%s%s %s\n" % (sample_name, _labels(labels), format_value(value)))
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")


def _media_ranges(accept: str):
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        params = {}
        for f in fields[1:]:
            key, _, value = f.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        yield media, params, q


def choose_format(accept: Optional[str]) -> bool:
    """True when the scraper's ``Accept`` prefers OpenMetrics 1.0 to the text format 0.0.4.

    Prometheus asks ``application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5``
    (RFC 9110 §12.5.1 weights); OpenMetrics is chosen when a range for it (version 1.0.0, or none)
    weighs at least as much as any range the text format matches.

    Example::

        choose_format("application/openmetrics-text; version=1.0.0")   # True
    """
    if not accept:
        return False
    om_q = text_q = 0.0
    for media, params, q in _media_ranges(accept):
        if media == "application/openmetrics-text" and params.get("version", "1.0.0") == "1.0.0":
            om_q = max(om_q, q)
        elif media in ("text/plain", "text/*", "*/*"):
            text_q = max(text_q, q)
    return om_q > 0 and om_q >= text_q
