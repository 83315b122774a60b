"""OTLP/HTTP JSON export of finished spans, in batches, on a daemon thread.

What Jaeger (port 4318), Grafana Tempo and the OpenTelemetry Collector accept today: a ``POST``
of ``{endpoint}/v1/traces`` with ``Content-Type: application/json`` carrying an
``ExportTraceServiceRequest`` in the OTLP JSON encoding (opentelemetry-proto, "JSON Protobuf
Encoding": trace and span ids as lowercase hex, not base64; 64-bit integers such as
``startTimeUnixNano`` as decimal strings; enums as integers; lowerCamelCase field names).

Requests never wait for the collector: ending a span only appends it to a bounded queue. When
the queue is full the span is dropped and counted (``dropped``), as the OpenTelemetry SDK's BatchSpanProcessor does; a dead or slow collector costs lost spans, never
request latency. Failures are logged at most once a minute.

Example::

    exporter = BatchExporter("http://localhost:4318", resource={"service.name": "shop"})
    exporter.export(span)           # from any thread; returns at once
    exporter.flush(timeout=5.0)     # wait until what was queued has been sent (or failed)
"""
import atexit
import collections
import http.client
import json
import logging
import os
import threading
import time
import weakref
from typing import Any, Dict, Iterable, List, Mapping, Optional
from urllib.parse import urlsplit

from .._logging import ThrottledLog

__all__ = ["BatchExporter", "encode_spans", "any_value", "traces_url", "DEFAULT_ENDPOINT"]

logger = logging.getLogger("covet.monitoring.tracing")

#: The OTLP/HTTP default (OpenTelemetry specification, "OTLP Exporter Configuration").
DEFAULT_ENDPOINT = "http://localhost:4318"

_SCOPE = '{"name":"covet.monitoring.tracing"}'


def traces_url(endpoint: str) -> str:
    """The URL spans are posted to: ``endpoint`` + ``/v1/traces`` unless it already ends so.

    The specification appends ``v1/traces`` to a base endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``);
    a URL that already names the traces path is kept as given. Only http and https.

    Example::

        traces_url("http://collector:4318")   # 'http://collector:4318/v1/traces'
    """
    if not isinstance(endpoint, str):
        raise TypeError("endpoint must be a str URL, got %r" % (endpoint,))
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("endpoint must be an http:// or https:// URL with a host, got %r" % (endpoint,))
    if any(c in endpoint for c in "\r\n\t "):
        raise ValueError("endpoint must not contain whitespace or control characters, got %r" % (endpoint,))
    parts.port  # a malformed port raises ValueError here, at configuration time
    if parts.path.rstrip("/").endswith("/v1/traces"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"


def any_value(value: Any) -> Dict[str, Any]:
    """``value`` as an OTLP ``AnyValue`` (bool before int: ``True`` is an int in Python).

    Example::

        any_value(200)      # {'intValue': '200'}  (int64 is a string in OTLP JSON)
    """
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, bytes):
        return {"stringValue": value.decode("utf-8", "replace")}
    return {"stringValue": str(value)}


# The batch is written as JSON text directly, with json's C string encoder: building the nested
# dicts of the proto's JSON mapping and dumping them cost about 30 us per span, on the thread
# that shares the GIL with the event loop.
_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _value_json(value: Any) -> str:
    t = type(value)
    if t is str:
        return '{"stringValue":%s}' % _str(value)
    if t is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if t is int:
        return '{"intValue":"%d"}' % value
    if t is float and value == value and value not in (float("inf"), float("-inf")):
        return '{"doubleValue":%r}' % value
    if t is float:  # proto3 JSON mapping: non-finite doubles are the strings NaN, Infinity, -Infinity
        return '{"doubleValue":"%s"}' % ("NaN" if value != value else "Infinity" if value > 0 else "-Infinity")
    return json.dumps(any_value(value), separators=(",", ":"))


_KEYS: Dict[str, str] = {}  # attribute names repeat in every span: their JSON is made once


def _attributes_json(attrs: Mapping[str, Any]) -> str:
    out = []
    keys = _KEYS
    for k, v in attrs.items():
        head = keys.get(k)
        if head is None:
            head = '{"key":%s,"value":' % _str(str(k))
            if len(keys) < 4096:  # user-chosen names could be unbounded
                keys[k] = head
        t = type(v)
        if t is str:
            out.append('%s{"stringValue":%s}}' % (head, _str(v)))
        elif t is int:
            out.append('%s{"intValue":"%d"}}' % (head, v))
        else:
            out.append("%s%s}" % (head, _value_json(v)))
    return ",".join(out)


def _span_json(span: Any) -> str:
    ctx = span.context
    parts = ['{"traceId":"%032x","spanId":"%016x"' % (ctx.trace_id, ctx.span_id)]
    if span.parent_span_id:
        parts.append(',"parentSpanId":"%016x"' % span.parent_span_id)
    if ctx.trace_state:
        parts.append(',"traceState":%s' % _str(ctx.trace_state))
    # W3C trace flags in the low byte of ``flags`` (OTLP 1.1).
    parts.append(',"flags":%d,"name":%s,"kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s]'
                 % (ctx.trace_flags, _str(span.name), span.kind, span.start_time, span.end_time,
                    _attributes_json(span.attributes)))
    if span.events:
        parts.append(',"events":[%s]' % ",".join(
            '{"timeUnixNano":"%d","name":%s,"attributes":[%s]}' % (t, _str(n), _attributes_json(a))
            for t, n, a in span.events))
    if span.status_message:
        parts.append(',"status":{"code":%d,"message":%s}}' % (span.status_code, _str(span.status_message)))
    else:
        parts.append(',"status":{"code":%d}}' % span.status_code)
    return "".join(parts)


def encode_spans(spans: Iterable[Any], resource: Mapping[str, Any]) -> bytes:
    """The body of an OTLP/HTTP JSON export: an ``ExportTraceServiceRequest`` for finished ``spans``.

    Example::

        body = json.loads(encode_spans([span], {"service.name": "shop"}))
        body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]   # 32 hex digits
    """
    text = '{"resourceSpans":[{"resource":{"attributes":[%s]},"scopeSpans":[{"scope":%s,"spans":[%s]}]}]}' % (
        _attributes_json(resource), _SCOPE, ",".join(_span_json(s) for s in spans))
    return text.encode("ascii")


class BatchExporter:
    """Queue finished spans and post them to an OTLP/HTTP JSON endpoint from a daemon thread.

    :param endpoint: the collector's base URL (``/v1/traces`` is appended) or the full traces URL.
    :param resource: resource attributes (``service.name`` ...) sent with every batch.
    :param max_queue_size: spans waiting at most; more are dropped and counted in ``dropped``.
    :param max_batch_size: spans per request; a full batch is sent at once.
    :param interval: seconds between sends of a partial batch.
    :param timeout: seconds a send may take (connect and answer) before it counts as failed.
    :param headers: extra request headers (a collector's API key, for instance).

    Counters (read them from any thread): ``exported`` spans accepted by the collector,
    ``dropped`` spans refused because the queue was full, ``failed`` spans whose send failed.

    Example::

        exporter = BatchExporter("http://localhost:4318", {"service.name": "shop"}, timeout=2.0)
    """

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, resource: Optional[Mapping[str, Any]] = None,
                 max_queue_size: int = 2048, max_batch_size: int = 512, interval: float = 5.0,
                 timeout: float = 3.0, headers: Optional[Mapping[str, str]] = None) -> None:
        for name, value in (("max_queue_size", max_queue_size), ("max_batch_size", max_batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError("%s must be an int >= 1, got %r" % (name, value))
        for name, value in (("interval", interval), ("timeout", timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError("%s must be a number > 0, got %r" % (name, value))
        self.url = traces_url(endpoint)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.resource: Dict[str, Any] = dict(resource or {})
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.headers = {"Content-Type": "application/json"}
        for k, v in (headers or {}).items():
            if any(c in str(k) + str(v) for c in "\r\n\0"):
                raise ValueError("header %r carries CR, LF or NUL" % (k,))
            self.headers[str(k)] = str(v)
        self.exported = 0
        self.dropped = 0
        self.failed = 0
        self._log = ThrottledLog(logger, 60.0)
        self._lock = threading.Lock()
        self._spans: "Optional[collections.deque[Any]]" = None
        self._wake = threading.Event()
        self._flushes: List[threading.Event] = []
        self._thread: Optional[threading.Thread] = None
        self._pid = 0
        self._closed = False

    def _start(self) -> "collections.deque[Any]":
        # Lazily, and again in a forked worker: the parent's thread does not exist in the child.
        with self._lock:
            if self._spans is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._spans = collections.deque()
                self._wake = threading.Event()
                self._flushes = []
                self._thread = threading.Thread(target=self._run, args=(self._spans, self._wake),
                                                name="covet-otlp-exporter", daemon=True)
                self._thread.start()
                _live.add(self)
            return self._spans

    def export(self, span: Any) -> None:
        """Queue one finished span; never blocks. A full queue drops it (counted in ``dropped``)."""
        spans = self._spans
        if spans is None or self._pid != os.getpid():
            if self._closed:
                return
            spans = self._start()
        n = len(spans)
        if n >= self.max_queue_size:
            with self._lock:
                self.dropped += 1
            return
        # A deque append, not queue.Queue.put: the exporter thread is woken once per full batch
        # (or by the interval), not once per span, so it does not contend for the GIL with the
        # event loop on every request.
        spans.append(span)
        if n + 1 >= self.max_batch_size:
            self._wake.set()

    def flush(self, timeout: Optional[float] = None, wait: bool = True) -> bool:
        """Send what is queued now. With ``wait``, block up to ``timeout`` seconds until it has been
        sent or has failed; returns False when that did not happen in time.

        Example::

            exporter.flush(timeout=5.0)
        """
        if self._spans is None or self._pid != os.getpid():
            return True
        done = threading.Event()
        with self._lock:
            self._flushes.append(done)
        self._wake.set()
        return done.wait(timeout) if wait else True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Send what is queued and stop the thread; later spans are discarded."""
        self._closed = True
        thread = self._thread
        if self._spans is None or thread is None or self._pid != os.getpid():
            return
        self._wake.set()
        thread.join(timeout)
        _live.discard(self)

    def _run(self, spans: "collections.deque[Any]", wake: threading.Event) -> None:
        size = self.max_batch_size
        while True:
            wake.wait(self.interval)
            wake.clear()  # before taking the flush requests: one made after this wakes us again
            with self._lock:
                flushes, self._flushes = self._flushes, []
            closed = self._closed
            while spans:
                self._send([spans.popleft() for _ in range(min(size, len(spans)))])
            for done in flushes:
                done.set()
            if closed:
                return

    def _send(self, batch: List[Any]) -> None:
        if not batch:
            return
        try:
            body = encode_spans(batch, self.resource)
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            try:
                conn.request("POST", self._path, body, self.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            finally:
                conn.close()
        except Exception as exc:  # a collector's failure must never reach the application
            self._failed(batch, "%s: %s" % (type(exc).__name__, exc))
            return
        if 200 <= status < 300:
            self.exported += len(batch)
        else:
            self._failed(batch, "HTTP %d" % status)

    def _failed(self, batch: List[Any], reason: str) -> None:
        self.failed += len(batch)
        self._log.error("could not export %d spans to %s: %s", len(batch), self.url, reason)

    def __repr__(self) -> str:
        return "<BatchExporter %s>" % self.url


# Exporters with a running thread, so spans still queued at interpreter exit are sent (daemon
# threads are killed without warning); weak, so a dropped exporter is not kept alive.
_live: "weakref.WeakSet[BatchExporter]" = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for exporter in list(_live):
        exporter.shutdown(timeout=exporter.timeout)
