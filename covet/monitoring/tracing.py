"""Distributed tracing: spans for requests, handlers and your own code, exported over OTLP/HTTP JSON.

``TracingMiddleware`` opens a SERVER span per request (continuing the caller's trace from the W3C
``traceparent`` / ``tracestate`` headers, see :mod:`covet.monitoring.tracecontext`), a child span
around the handler, and puts ``trace_id`` / ``span_id`` into :func:`covet.logging.log_context`
so every JSON log line of the request carries them. ``@trace("name")`` and
``with tracer.span("name")`` add child spans of whatever span is current (a contextvar, so it
follows ``await`` and the thread pool). :func:`inject` writes the current ``traceparent`` into the
headers of an outgoing request. Finished spans go to a :class:`~covet.monitoring.otlp.BatchExporter`
(a daemon thread), so a dead or slow collector never slows a request.

Attributes follow the OpenTelemetry semantic conventions for HTTP servers (``http.request.method``,
``url.path``, ``http.route`` (the route template), ``http.response.status_code``,
``server.address`` ...); a 5xx answer or an exception marks the span ERROR, an exception also
adds an ``exception`` event (type, message, stacktrace).

Example::

    from covet.monitoring.tracing import TracingMiddleware, trace, inject

    tracing = TracingMiddleware(service_name="shop", endpoint="http://localhost:4318", sample_rate=0.25)
    app.add_middleware(tracing)

    @trace("charge_card")
    async def charge(order):
        headers = inject({})          # {'traceparent': '00-...-01'} for the payment service
        ...
"""
import contextvars
import functools
import inspect
import random
import re
import time
import traceback
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional, Tuple, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .._probes import DATABASE, HTTP_CLIENT, REDIS
from ..logging import log_context
from .otlp import DEFAULT_ENDPOINT, BatchExporter
from .tracecontext import SAMPLED, SpanContext, format_traceparent, parse_tracestate, parse_traceparent

__all__ = ["TracingMiddleware", "Tracer", "Span", "trace", "inject", "current_span", "get_tracer",
           "SpanKind", "StatusCode"]

F = TypeVar("F", bound=Callable[..., Any])


class SpanKind:
    """OTLP ``Span.SpanKind`` values (opentelemetry-proto trace.proto)."""

    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode:
    """OTLP ``Status.StatusCode`` values."""

    UNSET = 0
    OK = 1
    ERROR = 2


_current: "contextvars.ContextVar[Optional[Span]]" = contextvars.ContextVar("covet_current_span", default=None)
_default: List[Optional["Tracer"]] = [None]
_getrandbits = random.getrandbits  # ids need uniqueness, not secrecy (W3C §6.1); random reseeds after fork


def _new_span_id() -> int:
    span_id = 0
    while not span_id:  # all-zero is invalid (W3C §3.2.2.4)
        span_id = _getrandbits(64)
    return span_id


class Span:
    """One timed operation. A context manager: inside ``with``, it is the current span (children
    attach to it, log lines carry its ids); an exception leaving the block is recorded and marks it
    ERROR. A span that was not sampled records nothing but still carries its ids onward.

    Example::

        with tracer.span("resize", attributes={"image.width": 640}) as span:
            span.set_attribute("image.format", "webp")
    """

    __slots__ = ("name", "context", "parent_span_id", "kind", "start_time", "end_time", "attributes",
                 "events", "status_code", "status_message", "tracer", "recording", "_token", "_log")

    def __init__(self, tracer: "Tracer", name: str, context: SpanContext, parent_span_id: int = 0,
                 kind: int = SpanKind.INTERNAL, attributes: Optional[Mapping[str, Any]] = None) -> None:
        self.tracer = tracer
        self.name = name
        self.context = context
        self.parent_span_id = parent_span_id
        self.kind = kind
        self.recording = context.sampled
        self.start_time = time.time_ns()
        self.end_time = 0
        self.attributes: Dict[str, Any] = dict(attributes) if attributes and self.recording else {}
        self.events: List[Tuple[int, str, Dict[str, Any]]] = []
        self.status_code = StatusCode.UNSET
        self.status_message = ""
        self._token: Any = None
        self._log: Any = None

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (str, bool, int, float or a list of them)."""
        if self.recording:
            self.attributes[key] = value

    def add_event(self, name: str, attributes: Optional[Mapping[str, Any]] = None) -> None:
        """Add a timestamped event to the span."""
        if self.recording:
            self.events.append((time.time_ns(), name, dict(attributes or {})))

    def set_status(self, code: int, message: str = "") -> None:
        """Set the status: ``StatusCode.OK`` or ``StatusCode.ERROR`` (the message only goes with ERROR)."""
        if code not in (StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR):
            raise ValueError("status code must be StatusCode.UNSET, OK or ERROR, got %r" % (code,))
        if self.status_code == StatusCode.OK and code != StatusCode.OK:
            return  # OK is final (OpenTelemetry API, "Set Status")
        self.status_code = code
        self.status_message = message if code == StatusCode.ERROR else ""

    def record_exception(self, exc: BaseException) -> None:
        """Add an ``exception`` event (semantic conventions: type, message, stacktrace) and mark ERROR."""
        if not self.recording:
            return
        cls = type(exc)
        qualname = cls.__qualname__ if cls.__module__ == "builtins" else "%s.%s" % (cls.__module__, cls.__qualname__)
        self.add_event("exception", {
            "exception.type": qualname,
            "exception.message": str(exc),
            "exception.stacktrace": "".join(traceback.format_exception(cls, exc, exc.__traceback__)),
        })
        self.attributes.setdefault("error.type", qualname)
        self.set_status(StatusCode.ERROR, "%s: %s" % (cls.__name__, exc))

    def end(self) -> None:
        """Stop the clock and hand the span to the exporter (once; later calls do nothing)."""
        if self.end_time:
            return
        self.end_time = max(time.time_ns(), self.start_time)
        if self.recording:
            self.tracer.exporter.export(self)

    def __enter__(self) -> "Span":
        self._token = _current.set(self)
        ctx = self.context
        self._log = log_context(trace_id="%032x" % ctx.trace_id, span_id="%016x" % ctx.span_id)
        self._log.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc is not None and isinstance(exc, Exception):
                self.record_exception(exc)
            self.end()
        finally:
            self._log.__exit__(None, None, None)
            _current.reset(self._token)

    def __repr__(self) -> str:
        return "<Span %s trace=%032x span=%016x>" % (self.name, self.context.trace_id, self.context.span_id)


class Tracer:
    """Makes spans for one service and sends the sampled ones to an OTLP/HTTP JSON endpoint.

    :param service_name: the ``service.name`` resource attribute: how the backend lists you.
    :param endpoint: the collector's OTLP/HTTP base URL (``/v1/traces`` is appended).
    :param sample_rate: the share of new traces recorded (0.0 to 1.0), decided from the trace id
        so every service with the same rate agrees; a trace that comes in with a parent follows
        the parent's sampled flag (OpenTelemetry's ParentBased(TraceIdRatioBased) sampler).
    :param resource_attributes: more resource attributes (``deployment.environment`` ...).
    :param exporter: where finished spans go; by default a :class:`BatchExporter` to ``endpoint``
        with ``export_options`` (``timeout``, ``interval``, ``max_queue_size`` ...).

    Example::

        tracer = Tracer("shop", endpoint="http://collector:4318", sample_rate=0.1)
        with tracer.span("rebuild-index"):
            ...
    """

    def __init__(self, service_name: str, endpoint: str = DEFAULT_ENDPOINT, sample_rate: float = 1.0,
                 resource_attributes: Optional[Mapping[str, Any]] = None, exporter: Any = None,
                 **export_options: Any) -> None:
        if not isinstance(service_name, str) or not service_name:
            raise ValueError("service_name must be a non-empty str, got %r" % (service_name,))
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be a number from 0.0 to 1.0, got %r" % (sample_rate,))
        self.service_name = service_name
        self.sample_rate = float(sample_rate)
        # TraceIdRatioBased: sampled when the trace id's low 64 bits are below rate * 2**64
        # (OpenTelemetry SDK specification, "TraceIdRatioBased").
        self._bound = round(self.sample_rate * (1 << 64))
        resource = {"service.name": service_name, "telemetry.sdk.name": "covet", "telemetry.sdk.language": "python"}
        resource.update(resource_attributes or {})
        self.exporter = exporter if exporter is not None else BatchExporter(endpoint, resource, **export_options)
        _observe_clients()

    def sampled(self, trace_id: int) -> bool:
        """Whether a new trace with ``trace_id`` is recorded at this tracer's ``sample_rate``."""
        return (trace_id & 0xFFFFFFFFFFFFFFFF) < self._bound

    def start_span(self, name: str, kind: int = SpanKind.INTERNAL, parent: Any = None,
                   attributes: Optional[Mapping[str, Any]] = None) -> Span:
        """A new span, child of ``parent`` (a Span or a remote SpanContext) or of the current span.

        Pass ``parent=False`` to start a new trace whatever is current. Use it with ``with``, or
        call ``end()`` yourself.
        """
        if parent is None:
            parent = _current.get()
        if isinstance(parent, Span):
            parent = parent.context
        if parent:
            ctx = SpanContext(parent.trace_id, _new_span_id(), parent.trace_flags, parent.trace_state)
            return Span(self, name, ctx, parent.span_id, kind, attributes)
        trace_id = 0
        while not trace_id:
            trace_id = _getrandbits(128)
        flags = SAMPLED if (trace_id & 0xFFFFFFFFFFFFFFFF) < self._bound else 0
        return Span(self, name, SpanContext(trace_id, _new_span_id(), flags), 0, kind, attributes)

    def span(self, name: str, kind: int = SpanKind.INTERNAL, attributes: Optional[Mapping[str, Any]] = None) -> Span:
        """A child span of the current one, for ``with tracer.span("name") as span:``."""
        return self.start_span(name, kind, None, attributes)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Send the spans waiting in the exporter now; False when that took longer than ``timeout``."""
        return self.exporter.flush(timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Send what is waiting and stop the exporter."""
        self.exporter.shutdown(timeout)

    def __repr__(self) -> str:
        return "<Tracer %s sample_rate=%g>" % (self.service_name, self.sample_rate)


def get_tracer() -> Optional[Tracer]:
    """The tracer ``@trace`` uses outside any span: the last one a TracingMiddleware was made with."""
    return _default[0]


def current_span() -> Optional[Span]:
    """The span of the code running now, or None.

    Example::

        current_span().set_attribute("order.id", order.id)
    """
    return _current.get()


def inject(headers: MutableMapping[str, str], span: Optional[Span] = None) -> MutableMapping[str, str]:
    """Write the current (or ``span``'s) ``traceparent`` and ``tracestate`` into ``headers`` of an
    outgoing request, so the service called continues this trace; returns ``headers``. Outside a
    span it leaves them alone.

    Example::

        req = urllib.request.Request(url, headers=inject({"Accept": "application/json"}))
    """
    if span is None:
        span = _current.get()
    if span is not None:
        headers["traceparent"] = format_traceparent(span.context)
        if span.context.trace_state:
            headers["tracestate"] = span.context.trace_state
    return headers


class _NoSpan:
    """What ``@trace`` enters when there is no tracer at all: nothing to record or export."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _span_for(name: str, kind: int, attributes: Optional[Mapping[str, Any]]) -> Any:
    parent = _current.get()
    tracer = parent.tracer if parent is not None else _default[0]
    if tracer is None:
        return _NoSpan()
    return tracer.start_span(name, kind, parent, attributes)


def trace(name: Any = None, kind: int = SpanKind.INTERNAL, attributes: Optional[Mapping[str, Any]] = None) -> Any:
    """Decorate a function (sync or async) so each call is a span, child of the current span.

    The span name defaults to the function's qualified name. Outside a request the span starts a
    trace with the last TracingMiddleware's tracer; with none configured the call runs untraced.

    Example::

        @trace("business_operation")
        async def complex_business_logic():
            ...
    """
    if callable(name):  # bare @trace
        return trace(None, kind, attributes)(name)
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError("trace() takes a non-empty span name, got %r" % (name,))

    def decorate(fn: F) -> F:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            # The span would end when the generator is created, before any of its work.
            raise TypeError("@trace cannot time a generator function (%s); trace the code that consumes it"
                            % getattr(fn, "__qualname__", fn))
        span_name = name or getattr(fn, "__qualname__", None) or repr(fn)
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_traced(*args: Any, **kwargs: Any) -> Any:
                with _span_for(span_name, kind, attributes):
                    return await fn(*args, **kwargs)
            return async_traced  # type: ignore[return-value]

        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with _span_for(span_name, kind, attributes):
                return fn(*args, **kwargs)
        return traced  # type: ignore[return-value]

    return decorate


# -- client spans: database statements, Redis commands, outgoing HTTP (covet._probes) ---------

_observing: List[bool] = []
_SQL_OPERATION = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*([A-Za-z]+)", re.S)
_SQL_TARGET = {  # where the table name follows, per operation
    "SELECT": re.compile(r"\bFROM\s+([\w.\"]+)", re.I), "DELETE": re.compile(r"\bFROM\s+([\w.\"]+)", re.I),
    "INSERT": re.compile(r"\bINTO\s+([\w.\"]+)", re.I), "UPDATE": re.compile(r"\s*([\w.\"]+)"),
}
_MAX_QUERY_TEXT = 4096  # a generated IN (...) list of thousands stays a readable attribute


@functools.lru_cache(maxsize=512)
def _sql_summary(statement: str) -> Tuple[str, str]:
    """(operation, table) of a statement, for the span name ``SELECT users`` (semantic conventions)."""
    m = _SQL_OPERATION.match(statement)
    if m is None:
        return "", ""
    operation = m.group(1).upper()
    target = _SQL_TARGET.get(operation)
    if target is None:
        return operation, ""
    t = target.match(statement, m.end()) if operation == "UPDATE" else target.search(statement, m.end())
    return operation, t.group(1).replace('"', "") if t is not None else ""


def _client_span(name: str, attributes: Dict[str, Any], propagate: bool = False) -> Optional[Span]:
    # A client call is traced as a child of the span running it, only inside a recorded trace:
    # queries at start-up or in an unsampled request cost nothing more.
    parent = _current.get()
    if parent is None or not (parent.recording or propagate):
        return None
    return parent.tracer.start_span(name, SpanKind.CLIENT, parent, attributes)


def _end(span: Span, error: Optional[BaseException]) -> None:
    if error is not None:
        if isinstance(error, Exception):
            span.record_exception(error)
        else:  # cancelled: the caller gave up, which is not an exception worth a stack trace
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(StatusCode.ERROR, type(error).__name__)
    span.end()


def _on_statement(attributes: Dict[str, Any], statement: str) -> Any:
    parent = _current.get()
    if parent is None or not parent.recording:
        return None
    operation, table = _sql_summary(statement)
    name = ("%s %s" % (operation, table) if table else operation) or attributes.get("db.system.name", "db")
    span = parent.tracer.start_span(name, SpanKind.CLIENT, parent, attributes)
    a = span.attributes
    a["db.query.text"] = statement[:_MAX_QUERY_TEXT]
    if operation:
        a["db.operation.name"] = operation
    if table:
        a["db.collection.name"] = table

    def done(error: Optional[BaseException], outcome: Any) -> None:
        if error is None and isinstance(outcome, list):
            span.set_attribute("db.response.returned_rows", len(outcome))
        _end(span, error)
    return done


def _on_redis(attributes: Dict[str, Any], command: str, size: int) -> Any:
    span = _client_span(command, attributes)
    if span is None:
        return None
    span.attributes["db.operation.name"] = command
    if command == "PIPELINE":
        span.attributes["db.operation.batch.size"] = size
    return lambda error, outcome: _end(span, error)


def _on_http_request(method: str, url: str, headers: MutableMapping[str, str]) -> Any:
    # Propagation happens in unsampled traces too: the next service must see the decision.
    span = _client_span(method if method in _METHODS else "HTTP", {}, propagate=True)
    if span is None:
        return None
    inject(headers, span)
    if span.recording:
        parts = urlsplit(url)
        a = span.attributes
        a["http.request.method"] = method if method in _METHODS else "_OTHER"
        netloc = parts.netloc.rpartition("@")[2]  # userinfo never goes into a span (url.full)
        a["url.full"] = parts._replace(netloc=netloc, query=_SIGNED.sub(r"\1\2=REDACTED", parts.query)).geturl()
        if parts.hostname:
            a["server.address"] = parts.hostname
            a["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)

    def done(error: Optional[BaseException], status: Any) -> None:
        if error is None and isinstance(status, int):
            span.set_attribute("http.response.status_code", status)
            if status >= 400:  # a client span's error includes 4xx (semantic conventions)
                span.set_attribute("error.type", str(status))
                span.set_status(StatusCode.ERROR)
        _end(span, error)
    return done


def _observe_clients() -> None:
    if not _observing:
        _observing.append(True)
        DATABASE.add(_on_statement)
        REDIS.add(_on_redis)
        HTTP_CLIENT.add(_on_http_request)


# Semantic conventions: methods outside this set are reported as "_OTHER" (with the original in
# http.request.method_original), so a client cannot grow the span-name cardinality.
_METHODS = frozenset(["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"])
# Semantic conventions (url.query): the values of these signature parameters are redacted.
_SIGNED = re.compile(r"(?i)(^|&)(AWSAccessKeyId|Signature|sig|X-Goog-Signature)=[^&]*")
_HOST = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|([^:\[\]]+)(?::(\d{1,5}))?")


def _parse_host(value: str) -> Tuple[Optional[str], Optional[int]]:
    m = _HOST.fullmatch(value.strip())
    if m is None:
        return None, None
    host = m.group(1) or m.group(3)
    port = m.group(2) or m.group(4)
    return host, int(port) if port else None


class TracingMiddleware:
    """Trace every request: a SERVER span continuing the caller's W3C trace context, a child span
    for the handler, the trace and span ids in the log context, export over OTLP/HTTP JSON.

    :param service_name: the ``service.name`` the backend lists the spans under.
    :param endpoint: the collector's OTLP/HTTP base URL (Jaeger, Tempo and the OpenTelemetry
        Collector listen on port 4318).
    :param sample_rate: the share of new traces recorded (parent-based, see :class:`Tracer`).
    :param jaeger_endpoint: the seed's spelling of ``endpoint``; a legacy Jaeger Thrift URL
        (``http://host:14268/api/traces``) is read as the same host's OTLP port, 4318.
    :param tracer: an existing :class:`Tracer` instead of making one.
    :param options: passed on to :class:`Tracer` (``resource_attributes``, ``timeout`` ...).

    Example::

        tracing = TracingMiddleware(service_name="shop", endpoint="http://localhost:4318")
        app.add_middleware(tracing)
        with tracing.span("warm-cache"):
            ...
    """

    def __init__(self, service_name: str = "covet-app", endpoint: Optional[str] = None, sample_rate: float = 1.0,
                 jaeger_endpoint: Optional[str] = None, tracer: Optional[Tracer] = None, **options: Any) -> None:
        if endpoint is not None and jaeger_endpoint is not None:
            raise ValueError("give endpoint or jaeger_endpoint, not both")
        if jaeger_endpoint is not None:
            endpoint = _from_jaeger(jaeger_endpoint)
        if tracer is None:
            tracer = Tracer(service_name, endpoint or DEFAULT_ENDPOINT, sample_rate, **options)
        elif options or endpoint is not None:
            raise ValueError("options and endpoint configure a new Tracer; not with tracer=")
        self.tracer = tracer
        _default[0] = tracer  # @trace outside any request uses the latest one, as a global provider would

    def span(self, name: str, kind: int = SpanKind.INTERNAL, attributes: Optional[Mapping[str, Any]] = None) -> Span:
        """``self.tracer.span``: a child span of the current one."""
        return self.tracer.span(name, kind, attributes)

    async def __call__(self, request: Any, call_next: Any) -> Any:
        parent = None
        states = None
        tp_count = 0
        for k, v in request.raw_headers:
            if k == b"traceparent":
                tp_count += 1
                parent = v
            elif k == b"tracestate":
                states = [v] if states is None else states + [v]
        ctx = None
        if tp_count == 1:  # two traceparent headers name no single parent: start over
            ctx = parse_traceparent(parent.decode("latin-1"))
            if ctx is not None and states:
                ctx = ctx._replace(trace_state=parse_tracestate(v.decode("latin-1") for v in states))
        tracer = self.tracer
        method = request.method
        span = tracer.start_span(method if method in _METHODS else "HTTP", SpanKind.SERVER, ctx or False)
        path = request.root_path + request.raw_path  # a mount rewrites both further in
        if not span.recording:
            # Not sampled: nothing is recorded, but the ids still reach the logs, @trace children
            # and inject(), so the trace continues downstream; no handler span is needed for that.
            with span:
                return await call_next(request)
        self._request_attributes(span, request, method, path)
        with span:
            handler = tracer.start_span("handler", SpanKind.INTERNAL, span)
            try:
                with handler:
                    response = await call_next(request)
            except Exception:
                span.attributes["http.response.status_code"] = 500  # what the app answers for it
                raise
            finally:
                route = request.route
                if route is not None:
                    # Inside a mount the template is relative to the mount's prefix, which went
                    # onto root_path; the semantic conventions want the application root included.
                    template = request.root_path + (route.path or "/")
                    endpoint = route.endpoint
                    handler.name = getattr(endpoint, "__qualname__", None) or handler.name
                    span.name = "%s %s" % (span.name, template)
                    span.attributes["http.route"] = template
                    handler.attributes["code.function"] = getattr(endpoint, "__name__", "")
                    handler.attributes["code.namespace"] = getattr(endpoint, "__module__", "") or ""
            status = response.status_code
            span.attributes["http.response.status_code"] = status
            if status >= 500:  # 4xx is the client's error, not the server span's (semantic conventions)
                span.attributes["error.type"] = str(status)
                span.set_status(StatusCode.ERROR)
        return response

    def _request_attributes(self, span: Span, request: Any, method: str, path: str) -> None:
        a = span.attributes
        if method in _METHODS:
            a["http.request.method"] = method
        else:
            a["http.request.method"] = "_OTHER"
            a["http.request.method_original"] = method
        a["url.scheme"] = request.scheme
        a["url.path"] = path
        if request.query_string:
            a["url.query"] = _SIGNED.sub(r"\1\2=REDACTED", request.query_string)
        headers = request.headers
        host, port = _parse_host(headers.get("host") or "")
        if host is None and request.server:
            host, port = request.server[0], request.server[1]
        if host:
            a["server.address"] = host
            a["server.port"] = port or (443 if request.scheme == "https" else 80)
        if request.client:
            a["client.address"] = request.client[0]
            a["client.port"] = request.client[1]
        a["network.protocol.version"] = request.http_version
        ua = headers.get("user-agent")
        if ua:
            a["user_agent.original"] = ua

    def __repr__(self) -> str:
        return "<TracingMiddleware %s>" % self.tracer.service_name


def _from_jaeger(url: str) -> str:
    parts = urlsplit(url)
    if parts.path.rstrip("/") == "/api/traces" and parts.hostname:
        # Jaeger's collector takes OTLP/HTTP on 4318 (enabled by default since Jaeger 1.45); its
        # 14268 /api/traces endpoint speaks Thrift, which this exporter does not.
        host = "[%s]" % parts.hostname if ":" in parts.hostname else parts.hostname
        return urlunsplit((parts.scheme, "%s:4318" % host, "", "", ""))
    return url
