"""OTLP/HTTP JSON export of finished spans, in batches, on a daemon thread.

What Jaeger (port 4318), Grafana Tempo and the OpenTelemetry Collector accept today: a ``POST``
of ``{endpoint}/v1/traces`` with ``Content-Type: application/json`` carrying an
``ExportTraceServiceRequest`` in the OTLP JSON encoding (opentelemetry-proto, "JSON Protobuf
Encoding": trace and span ids as lowercase hex, not base64; 64-bit integers such as
``startTimeUnixNano`` as decimal strings; enums as integers; lowerCamelCase field names).

Requests never wait for the collector: ending a span only puts it in a bounded queue
(``put_nowait``). When the queue is full the span is dropped and counted (``dropped``), as the
OpenTelemetry SDK's BatchSpanProcessor does; a dead or slow collector costs lost spans, never
request latency. Failures are logged at most once a minute.

Example::

    exporter = BatchExporter("http://localhost:4318", resource={"service.name": "shop"})
    exporter.export(span)           # from any thread; returns at once
    exporter.flush(timeout=5.0)     # wait until what was queued has been sent (or failed)
"""
import atexit
import http.client
import json
import logging
import os
import queue
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

_SCOPE = {"name": "covet.monitoring.tracing"}


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


def _attributes(attrs: Mapping[str, Any]) -> List[Dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items()]


def _span_json(span: Any) -> Dict[str, Any]:
    ctx = span.context
    out: Dict[str, Any] = {
        "traceId": "%032x" % ctx.trace_id,
        "spanId": "%016x" % ctx.span_id,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": _attributes(span.attributes),
        # W3C trace flags in the low byte (proto field ``flags``, OTLP 1.1).
        "flags": ctx.trace_flags,
    }
    if span.parent_span_id:
        out["parentSpanId"] = "%016x" % span.parent_span_id
    if ctx.trace_state:
        out["traceState"] = ctx.trace_state
    if span.events:
        out["events"] = [{"timeUnixNano": str(t), "name": n, "attributes": _attributes(a)} for t, n, a in span.events]
    status: Dict[str, Any] = {"code": span.status_code}
    if span.status_message:
        status["message"] = span.status_message
    out["status"] = status
    return out


def encode_spans(spans: Iterable[Any], resource: Mapping[str, Any]) -> Dict[str, Any]:
    """An ``ExportTraceServiceRequest`` (as a dict ready for ``json.dumps``) for finished ``spans``.

    Example::

        body = encode_spans([span], {"service.name": "shop"})
        body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]   # 32 hex digits
    """
    return {"resourceSpans": [{
        "resource": {"attributes": _attributes(resource)},
        "scopeSpans": [{"scope": _SCOPE, "spans": [_span_json(s) for s in spans]}],
    }]}


_FLUSH = object()
_STOP = object()


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
        self._queue: "Optional[queue.Queue[Any]]" = None
        self._thread: Optional[threading.Thread] = None
        self._pid = 0
        self._closed = False

    def _start(self) -> "queue.Queue[Any]":
        # Lazily, and again in a forked worker: the parent's thread does not exist in the child.
        with self._lock:
            if self._queue is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.Queue(self.max_queue_size)
                self._thread = threading.Thread(target=self._run, args=(self._queue,),
                                                name="covet-otlp-exporter", daemon=True)
                self._thread.start()
                _live.add(self)
            return self._queue

    def export(self, span: Any) -> None:
        """Queue one finished span; never blocks. A full queue drops it (counted in ``dropped``)."""
        q = self._queue
        if q is None or self._pid != os.getpid():
            if self._closed:
                return
            q = self._start()
        try:
            q.put_nowait(span)
        except queue.Full:
            with self._lock:
                self.dropped += 1

    def flush(self, timeout: Optional[float] = None, wait: bool = True) -> bool:
        """Send what is queued now. With ``wait``, block up to ``timeout`` seconds until it has been
        sent or has failed; returns False when that did not happen in time (or the queue was full).

        Example::

            exporter.flush(timeout=5.0)
        """
        q = self._queue
        if q is None or self._pid != os.getpid():
            return True
        done = threading.Event()
        try:
            if wait:
                q.put((_FLUSH, done), timeout=timeout)
            else:
                q.put_nowait((_FLUSH, done))
        except queue.Full:
            return False
        return done.wait(timeout) if wait else True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Send what is queued and stop the thread; later spans are discarded."""
        self._closed = True
        q, thread = self._queue, self._thread
        if q is None or thread is None or self._pid != os.getpid():
            return
        try:
            q.put((_STOP, None), timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)
        with self._lock:
            self._queue = None
        _live.discard(self)

    def _run(self, q: "queue.Queue[Any]") -> None:
        batch: List[Any] = []
        deadline = time.monotonic() + self.interval
        while True:
            try:
                item = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            if isinstance(item, tuple) and item and (item[0] is _FLUSH or item[0] is _STOP):
                self._send(batch)
                batch = []
                if item[0] is _STOP:
                    return
                item[1].set()
                deadline = time.monotonic() + self.interval
                continue
            if item is not None:
                batch.append(item)
            if len(batch) >= self.max_batch_size or time.monotonic() >= deadline:
                self._send(batch)
                batch = []
                deadline = time.monotonic() + self.interval

    def _send(self, batch: List[Any]) -> None:
        if not batch:
            return
        try:
            body = json.dumps(encode_spans(batch, self.resource), separators=(",", ":")).encode("utf-8")
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
