"""Errors to Sentry (or any server that speaks its envelope protocol: GlitchTip, self-hosted
Sentry), with the standard library alone.

``SentryIntegration(dsn=...)`` turns every unhandled error of a request into a Sentry event: the
exception chain with its stack frames and their source lines, the request (method, URL, headers,
query) with secrets scrubbed, the release, the environment and the server's name. Events are
posted in the background by one daemon thread (a bounded queue: when it is full, events are
dropped and counted), so a slow or dead Sentry never slows a request. The client limits itself to
``max_events_per_minute`` and obeys the server's own limits (429, ``Retry-After``,
``X-Sentry-Rate-Limits``).

Example::

    sentry = SentryIntegration(dsn="https://public@o1.ingest.sentry.io/42", environment="production",
                               traces_sample_rate=0.1)
    app.add_integration(sentry)

    try:
        risky_operation()
    except Exception as e:
        sentry.capture_exception(e)

The envelope format and the auth header follow develop.sentry.dev ("Envelopes", "Store
authentication"). Only error events are sent: ``traces_sample_rate`` is kept for the seed's
signature, and traces go to an OpenTelemetry collector (``covet.monitoring.tracing``).
"""
import json
import linecache
import logging
import os
import queue
import re
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from covet.logging import mask_pii

__all__ = ["SentryIntegration", "parse_dsn", "FILTERED"]

logger = logging.getLogger("covet.monitoring.sentry")

FILTERED = "[Filtered]"
SDK_NAME = "covet.python"
SDK_VERSION = "1.0"
#: Headers whose values never leave the process (Sentry's own default scrubbing list and more).
_SECRET_HEADERS = frozenset(("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                             "x-auth-token", "x-csrf-token", "x-xsrf-token"))
_SECRET_NAME = re.compile(r"(?i)pass(word|wd)?|token|secret|auth|api[-_]?key|session|csrf|credit|card|cvv")
_MAX_FRAMES = 100
_MAX_STRING = 1024


def parse_dsn(dsn: str) -> Tuple[str, str]:
    """The envelope endpoint and the public key of a DSN
    (``https://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID``).

    Example::

        parse_dsn("https://abc@o1.ingest.sentry.io/42")
        # ('https://o1.ingest.sentry.io/api/42/envelope/', 'abc')
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.username:
        raise ValueError("a Sentry DSN looks like https://PUBLIC_KEY@HOST/PROJECT_ID")
    path, _, project = parts.path.rstrip("/").rpartition("/")
    if not project.isdigit():
        raise ValueError("the DSN's last path segment is the project id, a number")
    host = parts.hostname if ":" not in parts.hostname else "[%s]" % parts.hostname
    port = ":%d" % parts.port if parts.port else ""
    return "%s://%s%s%s/api/%s/envelope/" % (parts.scheme, host, port, path, project), parts.username


def _scrub_pairs(pairs: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    return [(k, FILTERED if _SECRET_NAME.search(k) else mask_pii(v)) for k, v in pairs]


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, Mapping):
        return {k: (FILTERED if isinstance(k, str) and _SECRET_NAME.search(k) else _scrub(v, depth + 1))
                for k, v in value.items()} if depth < 10 else "..."
    if isinstance(value, (list, tuple)):
        return [_scrub(v, depth + 1) for v in value] if depth < 10 else "..."
    if isinstance(value, str):
        return mask_pii(value[:_MAX_STRING])
    return value


def _frames(tb: Any) -> List[Dict[str, Any]]:
    frames = []
    for frame, lineno in traceback.walk_tb(tb):
        code = frame.f_code
        filename = code.co_filename
        module = frame.f_globals.get("__name__", "")
        entry: Dict[str, Any] = {"filename": os.path.basename(filename), "abs_path": filename,
                                 "function": code.co_name, "module": module, "lineno": lineno,
                                 "in_app": "site-packages" not in filename and not filename.startswith(sys.prefix)
                                 and not module.startswith("covet.")}
        line = linecache.getline(filename, lineno)
        if line:
            entry["context_line"] = line.rstrip("\n")[:_MAX_STRING]
            entry["pre_context"] = [linecache.getline(filename, n).rstrip("\n")[:_MAX_STRING]
                                    for n in range(max(1, lineno - 5), lineno)]
            entry["post_context"] = [linecache.getline(filename, n).rstrip("\n")[:_MAX_STRING]
                                     for n in range(lineno + 1, lineno + 6)]
        frames.append(entry)
    return frames[-_MAX_FRAMES:]


def _exception_values(exc: BaseException) -> List[Dict[str, Any]]:
    # The chain, oldest first (Sentry's order): __cause__, else __context__ unless suppressed.
    chain: List[BaseException] = []
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen and len(chain) < 10:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    values = []
    for item in reversed(chain):
        values.append({"type": type(item).__name__, "value": mask_pii(str(item)[:_MAX_STRING]),
                       "module": type(item).__module__,
                       "stacktrace": {"frames": _frames(item.__traceback__)}})
    return values


class SentryIntegration:
    """Send errors to Sentry: see the module docstring.

    :param dsn: the project's DSN (None or "" sends nothing: handy in development).
    :param environment: e.g. ``"production"``; :param release: your version (``SENTRY_RELEASE``
        from the environment by default).
    :param traces_sample_rate: accepted as in Sentry's SDK; covet sends error events only.
    :param max_events_per_minute: the client's own limit (60).
    :param queue_size: events waiting to be sent at most (100); beyond, new ones are dropped.
    :param timeout: seconds for one POST (5).
    """

    def __init__(self, dsn: Optional[str] = None, environment: str = "production", release: Optional[str] = None,
                 traces_sample_rate: float = 0.0, server_name: Optional[str] = None,
                 max_events_per_minute: int = 60, queue_size: int = 100, timeout: float = 5.0,
                 tags: Optional[Mapping[str, str]] = None) -> None:
        if not 0.0 <= traces_sample_rate <= 1.0:
            raise ValueError("traces_sample_rate is a share, from 0 to 1")
        self.dsn = dsn or None
        self.endpoint, self.public_key = parse_dsn(dsn) if dsn else ("", "")
        self.environment = environment
        self.release = release if release is not None else os.environ.get("SENTRY_RELEASE")
        self.traces_sample_rate = traces_sample_rate
        self.server_name = server_name or socket.gethostname()
        self.max_events_per_minute = max_events_per_minute
        self.timeout = timeout
        self.tags = dict(tags or {})
        self._queue: "queue.Queue[Optional[bytes]]" = queue.Queue(maxsize=queue_size)
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._window: List[float] = []        # send times in the last minute (the client's limit)
        self._blocked_until = 0.0              # the server's limit (429 / X-Sentry-Rate-Limits)
        self.dropped = 0
        self.sent = 0

    # -- the app ------------------------------------------------------------------------------
    def setup(self, app: Any) -> None:
        """Called by ``app.add_integration(sentry)``; the app then calls
        :meth:`capture_request_error` for each unhandled error."""
        self.app = app

    def capture_request_error(self, request: Any, exc: BaseException) -> Optional[str]:
        return self.capture_exception(exc, request=request)

    # -- capturing ----------------------------------------------------------------------------
    def capture_exception(self, exc: Optional[BaseException] = None, request: Any = None,
                          tags: Optional[Mapping[str, str]] = None,
                          extra: Optional[Mapping[str, Any]] = None) -> Optional[str]:
        """Queue an event for ``exc`` (the one being handled when None); its event id, or None
        when nothing is sent (no DSN, no exception, over the limit)."""
        if exc is None:
            exc = sys.exc_info()[1]
        if exc is None or not self.dsn:
            return None
        event = self._event("error", request, tags, extra)
        event["exception"] = {"values": _exception_values(exc)}
        return self._queue_event(event)

    def capture_message(self, message: str, level: str = "info",
                        tags: Optional[Mapping[str, str]] = None) -> Optional[str]:
        """Queue a message event (``level``: debug, info, warning, error, fatal)."""
        if not self.dsn:
            return None
        event = self._event(level, None, tags, None)
        event["message"] = {"formatted": mask_pii(message[:_MAX_STRING])}
        return self._queue_event(event)

    def _event(self, level: str, request: Any, tags: Optional[Mapping[str, str]],
               extra: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        event: Dict[str, Any] = {
            "event_id": uuid.uuid4().hex, "timestamp": time.time(), "platform": "python", "level": level,
            "logger": "covet", "environment": self.environment, "server_name": self.server_name,
            "sdk": {"name": SDK_NAME, "version": SDK_VERSION},
            "contexts": {"runtime": {"name": sys.implementation.name, "version": sys.version.split()[0]}},
        }
        if self.release:
            event["release"] = self.release
        all_tags = dict(self.tags)
        all_tags.update(tags or {})
        if all_tags:
            event["tags"] = {str(k): str(v)[:200] for k, v in all_tags.items()}
        if extra:
            event["extra"] = _scrub(dict(extra))
        if request is not None:
            event["request"] = self._request(request)
            rid = getattr(request.state, "__dict__", {}).get("request_id")
            if rid:
                event.setdefault("tags", {})["request_id"] = str(rid)
        return event

    def _request(self, request: Any) -> Dict[str, Any]:
        headers = {}
        for key, value in request.raw_headers:
            name = key.decode("latin-1")
            headers[name] = FILTERED if name.lower() in _SECRET_HEADERS or _SECRET_NAME.search(name) else \
                mask_pii(value.decode("latin-1")[:_MAX_STRING])
        query = getattr(request, "query_string", b"")
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        data: Dict[str, Any] = {"method": request.method, "url": "%s://%s%s" % (
            getattr(request, "scheme", "http"), request.headers.get("host", ""), request.path), "headers": headers}
        if query:
            data["query_string"] = urlencode(_scrub_pairs(parse_qsl(query, keep_blank_values=True)))
        return data

    # -- sending ------------------------------------------------------------------------------
    def _allowed(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._blocked_until:
                return False
            self._window = [t for t in self._window if now - t < 60.0]
            if len(self._window) >= self.max_events_per_minute:
                return False
            self._window.append(now)
            return True

    def _queue_event(self, event: Dict[str, Any]) -> Optional[str]:
        if not self._allowed():
            self.dropped += 1
            return None
        payload = json.dumps(event, default=str, ensure_ascii=False).encode("utf-8")
        header = json.dumps({"event_id": event["event_id"], "dsn": self.dsn,
                             "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()
        item = json.dumps({"type": "event", "length": len(payload), "content_type": "application/json"}).encode()
        envelope = header + b"\n" + item + b"\n" + payload + b"\n"
        try:
            self._queue.put_nowait(envelope)
        except queue.Full:
            self.dropped += 1
            return None
        self._start()
        return event["event_id"]

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="covet-sentry", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            envelope = self._queue.get()
            try:
                if envelope is None:
                    return
                self._post(envelope)
            finally:
                self._queue.task_done()

    def _post(self, envelope: bytes) -> None:
        auth = "Sentry sentry_version=7, sentry_key=%s, sentry_client=%s/%s" % (self.public_key, SDK_NAME, SDK_VERSION)
        request = urllib.request.Request(self.endpoint, data=envelope, method="POST", headers={
            "Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": auth})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                self._limits(response.headers)
                self.sent += 1
        except urllib.error.HTTPError as exc:
            self._limits(exc.headers, exc.code)
            self.dropped += 1
            logger.warning("Sentry refused an event: HTTP %d", exc.code)
        except (OSError, ValueError) as exc:  # unreachable, timed out, reset: the event is lost
            self.dropped += 1
            logger.warning("could not send an event to Sentry: %s", exc)

    def _limits(self, headers: Any, status: int = 200) -> None:
        # X-Sentry-Rate-Limits: "60:error;transaction:key, 2700:default:organization" (seconds first);
        # a 429 without it falls back to Retry-After (develop.sentry.dev, "Rate Limiting").
        wait = 0.0
        limits = headers.get("X-Sentry-Rate-Limits") if headers is not None else None
        if limits:
            for part in limits.split(","):
                fields = part.strip().split(":")
                categories = fields[1].split(";") if len(fields) > 1 else [""]
                if any(c in ("", "error", "default") for c in categories):
                    try:
                        wait = max(wait, float(fields[0]))
                    except ValueError:
                        continue
        elif status == 429:
            try:
                wait = float(headers.get("Retry-After", "60"))
            except (TypeError, ValueError):
                wait = 60.0
        if wait > 0:
            with self._lock:
                self._blocked_until = max(self._blocked_until, time.monotonic() + min(wait, 3600.0))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the queued events are sent (or failed); False if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True
