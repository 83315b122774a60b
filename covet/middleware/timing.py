"""TimingMiddleware: how long the app took, in a ``Server-Timing`` response header.

Browsers show ``Server-Timing`` in their developer tools next to the network timings (W3C Server
Timing, https://www.w3.org/TR/server-timing/). The header reads ``app;dur=12.345``: the time in
milliseconds from the moment this middleware saw the request to the moment the response object
came back, which for a streamed body is the time to its first byte, not to its end.

Timings tell an attacker how long work took (a cache hit against a miss, a user that exists
against one that does not; W3C Server Timing §6, "Privacy and Security"), so ``when=`` can limit
the header to some requests: your own network, a debug flag, a signed-in administrator.

Example::

    from covet.middleware import TimingMiddleware

    app.add_middleware(TimingMiddleware)                                  # every response
    app.add_middleware(TimingMiddleware, when=lambda request: app.debug)  # only while debugging
"""
import re
import time
from typing import Any, Callable, Optional

from ..core.datastructures import encode_header

__all__ = ["TimingMiddleware", "DEFAULT_METRIC"]

DEFAULT_METRIC = "app"

# W3C Server Timing §3: server-timing-metric = metric-name *( OWS ";" OWS server-timing-param ),
# metric-name = token (RFC 9110 §5.6.2).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _quoted(text: str) -> str:
    # RFC 9110 §5.6.4 quoted-string: '"' and '\' are escaped; controls are refused by encode_header.
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


class TimingMiddleware:
    """Add ``Server-Timing: <metric>;dur=<ms>`` to responses.

    :param metric: the metric name, a token (``app``).
    :param description: an optional ``desc`` shown by developer tools.
    :param when: ``when(request) -> bool``; the header is added only when it returns true
        (the time is measured either way). None adds it to every response.

    An existing ``Server-Timing`` (from a middleware further in, or the handler) is kept; this
    one is added after it, as the header is a list (W3C Server Timing §3).

    Example::

        app.add_middleware(TimingMiddleware, metric="total", description="covet app")
    """

    def __init__(self, metric: str = DEFAULT_METRIC, description: Optional[str] = None,
                 when: Optional[Callable[[Any], bool]] = None) -> None:
        if not isinstance(metric, str) or not _TOKEN.fullmatch(metric):
            raise ValueError("metric must be a token (letters, digits, !#$%%&'*+-.^_`|~), got %r" % (metric,))
        prefix = metric
        if description is not None:
            prefix += ";desc=" + _quoted(description)
        encode_header("server-timing", prefix)  # CR, LF, NUL or non-Latin-1 fail here, not per request
        self.metric = metric
        self.description = description
        self.when = when
        self._prefix = (prefix + ";dur=").encode("latin-1")

    async def __call__(self, request: Any, call_next: Any) -> Any:
        start = time.perf_counter()
        response = await call_next(request)
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        when = self.when
        if when is None or when(request):
            response.raw_headers.append((b"server-timing", self._prefix + (b"%.3f" % elapsed_ms)))
        return response

    def __repr__(self) -> str:
        return "<TimingMiddleware %s>" % self.metric
