"""Structured logs: JSON lines with the request's context, personal data masked.

Three pieces, each usable alone with the standard library's ``logging``:

- :func:`log_context` (also ``StructuredLogger.context``): fields that every log line written
  inside the block carries (a ``contextvars`` variable, so each request and each task has its
  own). ``RequestIDMiddleware`` puts the request id there, so every line of a request has it.
- :class:`JSONFormatter`: one JSON object per line (``timestamp``, ``level``, ``logger``,
  ``message``, the context's fields, the record's ``extra`` fields, ``exception``), what log
  collectors (Loki, Elasticsearch, CloudWatch, Datadog) parse without configuration.
- PII masking, on by default in the formatter (:func:`mask_pii`, :class:`PIIFilter`): e-mail
  addresses, card numbers (13-19 digits passing the Luhn check, so order numbers survive), bearer
  tokens, and the values of fields named like password, token, secret or authorization.

Example::

    from covet.logging import StructuredLogger

    logger = StructuredLogger(level="INFO", format="json", correlation_id=True)
    with logger.context(correlation_id="c-42", endpoint="/orders"):
        logger.info("Request started", extra={"method": "GET"})
    # {"timestamp": "2026-12-07T06:50:00.123Z", "level": "INFO", "logger": "covet.app",
    #  "message": "Request started", "correlation_id": "c-42", "endpoint": "/orders", "method": "GET"}
"""
import contextlib
import contextvars
import json
import logging
import re
import sys
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, TextIO

__all__ = ["StructuredLogger", "JSONFormatter", "PIIFilter", "log_context", "current_context", "mask_pii",
           "luhn_valid", "configure_logging", "MASK"]

MASK = "[masked]"

_context: "contextvars.ContextVar[Mapping[str, Any]]" = contextvars.ContextVar("covet_log_context", default={})


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[Mapping[str, Any]]:
    """Add ``fields`` to every log line written inside the block (in this task and the tasks it
    starts). Nested blocks add to the outer one's fields; leaving a block restores them.

    Example::

        with log_context(request_id="3f2a", user_id=7):
            logging.getLogger("shop").info("paid")   # carries request_id and user_id
    """
    merged = dict(_context.get())
    merged.update(fields)
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, Any]:
    """The fields :func:`log_context` blocks around this point have set."""
    return _context.get()


# -- PII ------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13 to 19 digits, optionally grouped by single spaces or dashes (how cards are written), not
# part of a longer run of digits.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*")
# Field names whose values are secrets whatever they look like.
_SENSITIVE = re.compile(r"(?i)pass(word|wd)?|token|secret|authorization|api[-_]?key|cookie|session[-_]?id|"
                        r"credit[-_]?card|card[-_]?number|cvv")


# PERF: what a card match must contain, found by a character-class scan: a digit and the twelve
# characters after it all digits, spaces or dashes (a match has at least 13 digits, so it is at
# least 13 characters long). _CARD itself backtracks at every digit: 2 us on an access-log line,
# this 0.3 us. ASCII text, the usual case, is scanned with [0-9], a bitmap test, instead of the
# Unicode digit category (which it cannot contain anyway).
_RUN_ASCII = re.compile(r"[0-9][0-9 -]{12}")
_RUN = re.compile(r"\d[\d -]{12}")
_SENSITIVE_KEYS: Dict[Any, bool] = {}


def _sensitive(key: Any) -> bool:
    # Field names repeat on every line: the verdict is kept (bounded, as names come from code).
    found = _SENSITIVE_KEYS.get(key)
    if found is None:
        found = isinstance(key, str) and _SENSITIVE.search(key) is not None
        if len(_SENSITIVE_KEYS) < 10000:
            _SENSITIVE_KEYS[key] = found
    return found


def _mask_credentials(match: "re.Match[str]") -> str:
    return match.group(1) + " " + MASK


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _mask_card(match: "re.Match[str]") -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return "[card]" if luhn_valid(digits) else match.group()


def _mask_text(value: str) -> str:
    # PERF: a cheap test before each regex, each one true of every text its regex matches (the
    # tests hold them to that): most log text holds no personal data and pays only the tests.
    if "@" in value:
        value = _EMAIL.sub("[email]", value)
    if len(value) >= 13 and (_RUN_ASCII if value.isascii() else _RUN).search(value) is not None:
        value = _CARD.sub(_mask_card, value)
    # Every credential match starts with a letter that (?i)b matches, and only "b" and "B" do
    # (checked over all of Unicode in the tests): a lower-case "earer" test let "BEARER x" through.
    if "b" in value or "B" in value:
        value = _BEARER.sub(_mask_credentials, value)
    return value


def _mask_fields(fields: Mapping[Any, Any], depth: int) -> Dict[Any, Any]:
    masked = {}
    for key, value in fields.items():
        if value is None:
            masked[key] = None
            continue
        sensitive = _SENSITIVE_KEYS.get(key)
        if sensitive is None:
            sensitive = _sensitive(key)
        if sensitive:
            masked[key] = MASK
        elif type(value) is str:
            masked[key] = _mask_text(value)
        elif type(value) in _PLAIN:
            masked[key] = value
        else:
            masked[key] = mask_pii(value, depth + 1)
    return masked


_PLAIN = frozenset((int, float, bool))


def mask_pii(value: Any, _depth: int = 0) -> Any:
    """``value`` with personal data masked: strings scanned; dicts and lists walked (the values of
    sensitive keys replaced whole); anything else as it is.

    Example::

        mask_pii({"email": "ada@example.com", "password": "x", "note": "card 4111 1111 1111 1111"})
        # {'email': '[email]', 'password': '[masked]', 'note': 'card [card]'}
    """
    if isinstance(value, str):
        return _mask_text(value)
    if _depth > 20:  # a structure this deep is not a log field: do not recurse for ever
        return value
    if isinstance(value, Mapping):
        return _mask_fields(value, _depth)
    if isinstance(value, (list, tuple)):
        return [mask_pii(v, _depth + 1) for v in value]
    return value


class PIIFilter(logging.Filter):
    """A ``logging`` filter that masks the message (and its arguments) of every record, for
    handlers with other formatters. :class:`JSONFormatter` masks by itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_pii(record.getMessage())
        record.args = None
        return True


# -- the JSON formatter ---------------------------------------------------------------------------

# What every LogRecord has: not "extra" fields.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _default(value: Any) -> Any:
    # What json cannot write goes as its text: a log line is never lost to a value's type.
    return str(value)


# One encoder, made once: json.dumps with any option builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, default=_default, separators=(", ", ": ")).encode
# PERF: JSONEncoder.encode builds its C encoder anew on each call, which is half the cost of
# encoding a few fields; json's C encoder (CPython's, where there is one) is built here once, with
# the encoder's own arguments. It keeps no table of the containers it is inside (that table is
# per call), so a structure that contains itself runs into RecursionError, which StreamHandler
# re-raises into the application: that case is handed to the general encoder, whose ValueError
# ("Circular reference detected") the handler reports and swallows, as before. The tests check
# that it writes what JSONEncoder writes.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    _c_encode = _c_make_encoder(None, _default, json.encoder.encode_basestring, None,  # type: ignore[attr-defined]
                                ": ", ", ", False, False, True)

    def _encode_fields(fields: Dict[str, Any]) -> str:
        try:
            return "".join(_c_encode(fields, 0))
        except RecursionError:
            return _encode(fields)
else:  # pragma: no cover - Pythons without json's C accelerator
    _encode_fields = _encode
# The last whole second formatted and its text, one tuple (replaced whole, so a thread reading it
# never sees one second's number with another's text).
_clock: List[Any] = [(None, "")]
# How many attributes a LogRecord has before extra fields are added: a record with that many
# (not counting the "message" and "asctime" that formatters add) has no extra fields.
_PLAIN_LEN = len(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in the message are escaped, so a message
    cannot forge a second log line).

    Fields, in order: ``timestamp`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
    ``message``, then the :func:`log_context` fields (request id, trace id, ...), the record's
    ``extra`` fields, ``static_fields`` (service name, version, ...), and ``exception`` (the
    formatted traceback) when there is one. ``pii=False`` turns masking off.

    Example::

        handler = logging.StreamHandler()
        handler.setFormatter(JSONFormatter(static_fields={"service": "shop"}))
        logging.getLogger().addHandler(handler)
    """

    def __init__(self, pii: bool = True, static_fields: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__()
        self.pii = pii
        self.static_fields = dict(static_fields or {})

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        pii = self.pii
        if pii:
            message = _mask_text(message)
        # PERF: the date and time text is made once a second; the milliseconds are appended.
        created = record.created
        second = int(created)
        clock = _clock[0]
        if clock[0] != second:
            clock = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            _clock[0] = clock
        # The four fixed fields are written directly (json's own C string encoder for each value):
        # building a dict and encoding it whole cost three times as much per line.
        head = '{"timestamp": "%s.%03dZ", "level": %s, "logger": %s, "message": %s' % (
            clock[1], int((created - second) * 1000), _string(record.levelname), _string(record.name),
            _string(message))
        context = _context.get()
        fields = record.__dict__
        # PERF: a record with only a LogRecord's own attributes has no extra fields: counting them
        # spares a set difference over every attribute on most lines.
        count = len(fields)
        if count == _PLAIN_LEN or count - ("message" in fields) - ("asctime" in fields) == _PLAIN_LEN:
            extra: Any = ()
        else:
            extra = fields.keys() - _RECORD_FIELDS  # a set operation in C: no loop over every attribute
        more: Optional[Dict[str, Any]] = None
        if context or extra:
            more = dict(context)
            for key in extra:
                if not key.startswith("_"):
                    more[key] = fields[key]
            if pii and more:
                more = _mask_fields(more, 0)
        static = self.static_fields
        if static:
            if more is None:
                more = {}
            for key, value in static.items():
                more.setdefault(key, value)
        if record.exc_info or record.exc_text or record.stack_info:
            if more is None:
                more = {}
            if record.exc_info:
                more["exception"] = self.formatException(record.exc_info)
            elif record.exc_text:
                more["exception"] = record.exc_text
            if record.stack_info:
                more["stack"] = self.formatStack(record.stack_info)
            if pii:
                for key in ("exception", "stack"):
                    if key in more:
                        more[key] = mask_pii(more[key])
        if not more:
            return head + "}"
        for key in _FIXED.intersection(more):  # a field named like a fixed one is kept, renamed
            more["field_" + key] = more.pop(key)
        return head + ", " + _encode_fields(more)[1:]


_FIXED = frozenset(("timestamp", "level", "logger", "message"))
_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  the C one where there is one


def configure_logging(format: str = "json", level: str = "INFO", stream: Optional[TextIO] = None,
                      pii: bool = True) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr) as JSON lines (``format="json"``) or
    covet's plain text (``"text"``): what ``python -m covet run --log-format json`` does. Replaces
    the root logger's handlers; returns the new handler.
    """
    if format not in ("json", "text"):
        raise ValueError("format is 'json' or 'text', not %r" % (format,))
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if format == "json":
        handler.setFormatter(JSONFormatter(pii=pii))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        if pii:
            handler.addFilter(PIIFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


# -- the seed's logger ----------------------------------------------------------------------------

class StructuredLogger:
    """A logger with structure: ``info(message, extra={...}, **fields)``, ``context(**fields)``
    and ``timed(name)``, writing through the standard ``logging`` module (logger ``name``).

    :param format: ``"json"`` (one object per line) or ``"text"``.
    :param correlation_id: put the request id of the current request (set by
        ``RequestIDMiddleware``) in each line as ``correlation_id`` when no other is set.
    :param performance_tracking: ``timed()`` blocks log their duration (``duration_ms``);
        False makes them silent.
    :param stream: where the lines go (stderr); the logger then writes only there (it does not
        also pass its records to the root logger's handlers).

    Example::

        logger = StructuredLogger(level="INFO", format="json")
        with logger.timed("charge", order_id=7):
            charge(order)          # {"message": "charge", "order_id": 7, "duration_ms": 12.5, ...}
    """

    def __init__(self, name: str = "covet.app", level: str = "INFO", format: str = "json",
                 correlation_id: bool = True, performance_tracking: bool = True, stream: Optional[TextIO] = None,
                 pii: bool = True) -> None:
        if format not in ("json", "text"):
            raise ValueError("format is 'json' or 'text', not %r" % (format,))
        self.logger = logging.getLogger(name)
        self.logger.setLevel(level.upper() if isinstance(level, str) else level)
        self.correlation_id = correlation_id
        self.performance_tracking = performance_tracking
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        if format == "json":
            handler.setFormatter(JSONFormatter(pii=pii))
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            if pii:
                handler.addFilter(PIIFilter())
        for old in [h for h in self.logger.handlers if getattr(h, "_covet_structured", False)]:
            self.logger.removeHandler(old)
        handler._covet_structured = True  # type: ignore[attr-defined]
        self.logger.addHandler(handler)
        self.logger.propagate = False
        self.handler = handler
        cls = type(self.logger)
        self._direct = (hasattr(sys, "_getframe") and cls.log is logging.Logger.log and cls._log is logging.Logger._log
                        and cls.findCaller is logging.Logger.findCaller)

    context = staticmethod(log_context)

    def _log(self, level: int, message: str, args: Any, extra: Optional[Mapping[str, Any]], fields: Dict[str, Any],
             exc_info: Any = None, depth: int = 2) -> None:
        # depth: how many frames up the caller is (0 is this one; 2 the caller of info()).
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        merged: Dict[str, Any] = {}
        if extra:
            merged.update(extra)
        merged.update(fields)
        if self.correlation_id:
            context = _context.get()
            if "correlation_id" not in context and "correlation_id" not in merged and "request_id" in context:
                merged["correlation_id"] = context["request_id"]
        safe = _safe_extra(merged) if merged else None
        if not self._direct:
            logger.log(level, message, *args, extra=safe, exc_info=exc_info, stacklevel=depth + 1)
            return
        # PERF: what Logger.log does, minus its walk up the stack to find the caller (findCaller
        # tests each frame's file name; the caller is a known number of frames up). The record
        # still comes from logger.makeRecord (so a record factory is honoured) and goes through
        # logger.handle (the logger's filters, its handlers and theirs, propagation). Taken only
        # when the logger's class does not override log, _log or findCaller.
        if logging._srcfile:  # the stdlib's own switch: None means "do not look for the caller"
            frame = sys._getframe(depth)
            code = frame.f_code
            where = (code.co_filename, frame.f_lineno, code.co_name)
        else:
            where = ("(unknown file)", 0, "(unknown function)")
        if exc_info:
            exc_info = sys.exc_info()
        logger.handle(logger.makeRecord(logger.name, level, where[0], where[1], message, args, exc_info, where[2],
                                        safe, None))

    def debug(self, message: str, *args: Any, extra: Optional[Mapping[str, Any]] = None, **fields: Any) -> None:
        self._log(logging.DEBUG, message, args, extra, fields)

    def info(self, message: str, *args: Any, extra: Optional[Mapping[str, Any]] = None, **fields: Any) -> None:
        self._log(logging.INFO, message, args, extra, fields)

    def warning(self, message: str, *args: Any, extra: Optional[Mapping[str, Any]] = None, **fields: Any) -> None:
        self._log(logging.WARNING, message, args, extra, fields)

    def error(self, message: str, *args: Any, extra: Optional[Mapping[str, Any]] = None, **fields: Any) -> None:
        self._log(logging.ERROR, message, args, extra, fields)

    def exception(self, message: str, *args: Any, extra: Optional[Mapping[str, Any]] = None, **fields: Any) -> None:
        self._log(logging.ERROR, message, args, extra, fields, exc_info=True)

    def critical(self, message: str, *args: Any, extra: Optional[Mapping[str, Any]] = None, **fields: Any) -> None:
        self._log(logging.CRITICAL, message, args, extra, fields)

    @contextlib.contextmanager
    def timed(self, message: str, level: int = logging.INFO, **fields: Any) -> Iterator[None]:
        """Log ``message`` with ``duration_ms`` when the block ends (and ``error`` if it raised)."""
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            if self.performance_tracking:  # depth 3: this generator, contextlib's __exit__, the with block
                self._log(level, message, (), None, dict(fields, duration_ms=_ms(start), error=type(exc).__name__),
                          depth=3)
            raise
        if self.performance_tracking:
            self._log(level, message, (), None, dict(fields, duration_ms=_ms(start)), depth=3)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _safe_extra(fields: Dict[str, Any]) -> Dict[str, Any]:
    # logging refuses extra keys that a LogRecord has ("message", "args", ...): keep such a field
    # under a prefixed name instead of losing the line to a KeyError.
    return {("field_" + k if k in _RECORD_FIELDS else k): v for k, v in fields.items()}
