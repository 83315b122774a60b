"""Server-sent events: ``EventSourceResponse`` streams events to a browser's ``EventSource``.

The wire format is WHATWG HTML §9.2 "Server-sent events" (https://html.spec.whatwg.org/#server-sent-events):
a UTF-8 ``text/event-stream`` of events, each a few ``field: value`` lines (``data``, ``event``,
``id``, ``retry``) or comment lines (``: ...``), ended by a blank line (§9.2.5, §9.2.6).

The response is a :class:`~covet.core.responses.StreamingResponse`, so every door (the server, the
ASGI adapter, the test client) sends it by the kernel driver's rules, which also close the
app's generator when the client goes away. This module adds the serialisation, keep-alive
comments while the app is quiet, a thread for sync generators, and the headers that stop caches
and proxies from holding events back. See docs/sse.md.
"""
import asyncio
import json
import logging
import re
import threading
from typing import Any, AsyncIterator, Iterable, List, Mapping, NamedTuple, Optional, Union

from .core.requests import Request
from .core.responses import StreamingResponse, json_default

__all__ = ["EventSourceResponse", "ServerSentEvent", "encode_event", "last_event_id", "DEFAULT_PING_INTERVAL", "PING"]

logger = logging.getLogger("covet.error")

# §9.2.7 Authoring notes: "Legacy proxy servers are known to, in certain cases, drop HTTP
# connections after a short timeout. To protect against such proxy servers, authors can include a
# comment line (one starting with a ':' character) every 15 seconds or so." Seconds; configurable
# per response with ``ping=`` (None or 0: no keep-alive comments).
DEFAULT_PING_INTERVAL = 15.0

# The keep-alive: a comment (§9.2.6: a line starting with ":" is ignored) and a blank line. It is
# a whole event of its own, so it can only go out between two events, never inside one.
PING = b": ping\n\n"

# §9.2.5: a line ends with CRLF, a lone LF or a lone CR, and nothing else (str.splitlines would
# also split on \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029, which the parser keeps as text).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Endings of a whole serialised event (bytes an app yields as already encoded): a line end, then
# the blank line, in any of the three line-end forms of §9.2.5.
_EVENT_ENDS = (b"\n\n", b"\r\r", b"\r\n\r\n")

# Sent with every event stream unless the app set its own value:
# - Cache-Control: no-cache: a cache must not serve a stored copy of a live stream (RFC 9111 §5.2.2.4).
# - X-Accel-Buffering: no: nginx (and proxies that copy it) pass each chunk on as it comes instead
#   of buffering the body (nginx docs, ngx_http_proxy_module, proxy_buffering).
_STREAM_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))

_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default, allow_nan=False).encode


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("the %s of a server-sent event must be a str, not %s" % (field, type(value).__name__))
    return value


class ServerSentEvent(NamedTuple):
    """One event of an event stream; ``encode()`` gives its exact bytes.

    :param data: the payload: a ``str`` (one ``data:`` line per line; CRLF, CR and LF all split),
        or any other value, sent as compact JSON (dicts, lists, numbers, datetimes...).
    :param event: the event type (``addEventListener(type, ...)`` in the browser); no CR or LF.
    :param id: the event's id, sent back by a reconnecting client as ``Last-Event-ID``; a ``str``
        or an ``int``; no CR, LF or NUL (§9.2.6 ignores such an id, so it is refused: ``ValueError``).
    :param retry: the reconnection delay the client should use, in milliseconds (an ``int`` >= 0).
    :param comment: comment lines, which clients ignore.

    Example::

        ServerSentEvent(data="hello\\nworld", event="greeting", id=7).encode()
        # b'event: greeting\\nid: 7\\ndata: hello\\ndata: world\\n\\n'
    """

    data: Any = None
    event: Optional[str] = None
    id: Union[str, int, None] = None
    retry: Optional[int] = None
    comment: Optional[str] = None

    def encode(self) -> bytes:
        """The event as UTF-8 bytes, ended by a blank line; ``ValueError``/``TypeError`` for a field that cannot be sent."""
        lines: List[str] = []
        if self.comment is not None:
            lines.extend(": " + line for line in _LINE_BREAK.split(_text("comment", self.comment)))
        if self.event is not None:
            event = _text("event", self.event)
            if "\r" in event or "\n" in event:
                # A line break would end the field and let the rest forge other fields.
                raise ValueError("a server-sent event's type cannot contain CR or LF: %r" % (event,))
            lines.append("event: " + event)
        if self.id is not None:
            ident = self.id
            if isinstance(ident, bool) or not isinstance(ident, (str, int)):
                raise TypeError("the id of a server-sent event must be a str or an int, not %s"
                                % type(ident).__name__)
            ident = str(ident)
            if "\r" in ident or "\n" in ident or "\x00" in ident:
                # §9.2.6 "id": a value containing U+0000 is ignored, and CR/LF would end the line.
                raise ValueError("a server-sent event's id cannot contain CR, LF or NUL: %r" % (ident,))
            lines.append("id: " + ident)
        if self.retry is not None:
            retry = self.retry
            # §9.2.6 "retry": only a value of ASCII digits is used; anything else is ignored.
            if isinstance(retry, bool) or not isinstance(retry, int):
                raise TypeError("retry must be an int of milliseconds, not %s" % type(retry).__name__)
            if retry < 0:
                raise ValueError("retry must be 0 or more milliseconds, not %d" % retry)
            lines.append("retry: %d" % retry)
        if self.data is not None:
            data = self.data if isinstance(self.data, str) else _json(self.data)
            lines.extend("data: " + line for line in _LINE_BREAK.split(data))
        if not lines:
            raise ValueError("a server-sent event needs at least one of data, event, id, retry or comment")
        lines.append("\n")  # the line end of the last field, then the blank line that ends the event
        return "\n".join(lines).encode("utf-8")


def encode_event(item: Any) -> bytes:
    """The bytes of one item an event generator yields: a ``ServerSentEvent``, a dict of its fields,
    a ``str`` (the data of an event) or ``bytes`` already encoded (whole events, ending with a blank line).

    Example::

        encode_event({"event": "tick", "data": 1})   # b'event: tick\\ndata: 1\\n\\n'
    """
    if type(item) is str:  # PERF: the common case first
        return ServerSentEvent(item).encode()
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, Mapping):
        return ServerSentEvent(**item).encode()
    if isinstance(item, (bytes, bytearray, memoryview)):
        # Encoded once, sent to many streams (a broadcast). Only whole events: a keep-alive comment
        # after half an event would land inside it.
        item = bytes(item)
        if not item.endswith(_EVENT_ENDS):
            raise ValueError("encoded events must end with a blank line: %r" % (item[-20:],))
        return item
    if isinstance(item, str):
        return ServerSentEvent(str(item)).encode()
    raise TypeError("an event stream yields ServerSentEvent, dict, str or bytes items, not %s" % type(item).__name__)


def last_event_id(request: Request) -> Optional[str]:
    """The id of the last event a reconnecting client saw (its ``Last-Event-ID`` header), or None.

    A browser's ``EventSource`` sends the header when it reconnects after a stream ended, if an
    event carried an ``id`` (§9.2.4). The value is UTF-8 on the wire; one that is empty or not
    UTF-8 counts as absent (no browser sends either), so the stream starts from the beginning.

    Example::

        @app.get("/feed")
        async def feed(request: Request):
            since = last_event_id(request)
            return EventSourceResponse(events_after(since))
    """
    value = request.headers.get("last-event-id")
    if not value:
        return None
    try:
        # Header values are kept as latin-1 (one char per byte): undo that to read the UTF-8.
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _check_ping(ping: Optional[float]) -> Optional[float]:
    if ping is None:
        return None
    if isinstance(ping, bool) or not isinstance(ping, (int, float)):
        raise TypeError("ping must be a number of seconds or None, not %s" % type(ping).__name__)
    if ping != ping or ping < 0 or ping == float("inf"):
        raise ValueError("ping must be a finite number of seconds >= 0 (0 or None: no pings), not %r" % (ping,))
    return float(ping) or None


class _End:
    __slots__ = ()


_END = _End()


class _Failed(NamedTuple):
    """The app's generator raised: the error travels to the consumer, which raises it."""

    error: BaseException


class _Pacer:
    """One timer for the whole stream: when nothing went out for ``interval`` seconds, a ping.

    No timer per event: sending an event only records the time. The timer wakes at most once per
    interval, and when something went out in the meantime it sleeps until ``interval`` after that.
    """

    __slots__ = ("loop", "interval", "slot", "last", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float, slot: "asyncio.Queue[Any]") -> None:
        self.loop = loop
        self.interval = interval
        self.slot = slot
        self.last = loop.time()
        self.handle = loop.call_at(self.last + interval, self.tick)

    def tick(self) -> None:
        now = self.loop.time()
        due = self.last + self.interval
        if now >= due:
            # The slot holds at most one item: an event already waiting is as good as a ping, and a
            # ping queued here goes out between two events by construction.
            if self.slot.empty():
                self.slot.put_nowait(PING)
            due = now + self.interval
        self.handle = self.loop.call_at(due, self.tick)

    def stop(self) -> None:
        self.handle.cancel()


async def _aclose(iterator: Any) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _pump(source: Any, slot: "asyncio.Queue[Any]") -> None:
    """Move the app's events into the one-item ``slot`` (the app runs at most one event ahead)."""
    try:
        async for item in source:
            await slot.put(encode_event(item))
        await slot.put(_END)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await slot.put(_Failed(exc))
    finally:
        # Cancelled while the generator was suspended at a yield: close it, so its finally runs now.
        await _aclose(source)


async def _in_thread(iterable: Iterable[Any]) -> AsyncIterator[Any]:
    """Iterate a sync iterable in a thread of its own, one item per request from the loop.

    A thread per stream, not the loop's default pool: a stream holds its thread for as long as the
    client listens, and a few streams would use up the pool (``min(32, CPUs + 4)`` threads) that
    plain ``def`` handlers run in. The thread closes the generator itself (``close()`` must run
    where no ``next()`` is under way), so its ``finally`` runs in that thread once the ``next()``
    in progress, if any, returns.
    """
    loop = asyncio.get_running_loop()
    it = iter(iterable)
    handoff: "asyncio.Queue[Any]" = asyncio.Queue()
    wanted = threading.Semaphore(0)
    stopping = threading.Event()

    def post(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(handoff.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    def run() -> None:
        try:
            while True:
                wanted.acquire()
                if stopping.is_set():
                    return
                try:
                    item = next(it)
                except StopIteration:
                    post(_END)
                    return
                except Exception as exc:
                    post(_Failed(exc))
                    return
                post(item)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    logger.exception("closing the sync event generator of a server-sent event stream failed")

    thread = threading.Thread(target=run, name="covet-sse", daemon=True)
    thread.start()
    try:
        while True:
            wanted.release()
            item = await handoff.get()
            if item is _END:
                return
            if type(item) is _Failed:
                raise item.error
            yield item
    finally:
        stopping.set()
        wanted.release()


class EventSourceResponse(StreamingResponse):
    """A stream of server-sent events from an async or sync generator (``text/event-stream``).

    The generator yields :class:`ServerSentEvent` records, dicts with their fields, strings (the
    data of an event) or already encoded ``bytes``. A sync generator runs in a thread of its own.

    :param content: the async or sync iterable of events.
    :param ping: seconds of quiet after which a keep-alive comment goes out (``None`` or 0: never).
    :param status_code: 200; answer 204 instead to tell a browser to stop reconnecting (§9.2.3).
    :param headers: more headers; ``Cache-Control`` and ``X-Accel-Buffering`` given here replace
        the defaults. A ``Content-Length`` is refused (``ValueError``): a stream has no length.
    :param background: tasks to run after the stream ended.

    When the client goes away, the generator is closed (its ``finally`` runs) once the next write
    fails: the next event or ping. If it raises, the stream stops without its last chunk (a browser
    reconnects) and the error is logged, never sent. ``unbuffered`` is true: middleware must not
    compress or buffer the body (docs/sse.md).

    Example::

        @app.get("/clock")
        async def clock():
            async def ticks():
                n = 0
                while True:
                    yield ServerSentEvent(data={"n": n}, event="tick", id=n)
                    n += 1
                    await asyncio.sleep(1)
            return EventSourceResponse(ticks(), ping=15)
    """

    __slots__ = ("ping",)
    media_type = "text/event-stream"
    unbuffered = True

    def __init__(self, content: Any, ping: Optional[float] = DEFAULT_PING_INTERVAL, status_code: int = 200,
                 headers: Any = None, background: Any = None) -> None:
        self.ping = _check_ping(ping)
        # iter() now: content that is not iterable fails in the handler, not after the head went out.
        source = content if hasattr(content, "__aiter__") else _in_thread(iter(content))
        super().__init__(self._events(source), status_code, headers, None, background)
        raw = self.raw_headers
        names = {name for name, _ in raw}
        if b"content-length" in names:
            raise ValueError("an event stream has no Content-Length: it ends when the generator does")
        raw.extend(h for h in _STREAM_HEADERS if h[0] not in names)

    async def _events(self, source: Any) -> AsyncIterator[bytes]:
        """The encoded events, with a ping after ``ping`` seconds of quiet; closes ``source`` however it ends."""
        source = source.__aiter__()
        if self.ping is None:
            try:
                async for item in source:
                    yield encode_event(item)
            finally:
                await _aclose(source)
            return
        loop = asyncio.get_running_loop()
        slot: "asyncio.Queue[Any]" = asyncio.Queue(maxsize=1)
        pacer = _Pacer(loop, self.ping, slot)
        # One task for the life of the stream reads the generator, so waiting for an event and
        # for the ping timer are one wait on the slot.
        pump = loop.create_task(_pump(source, slot))
        try:
            while True:
                item = await slot.get()
                if item is _END:
                    return
                if type(item) is _Failed:
                    raise item.error
                pacer.last = loop.time()
                yield item
        finally:
            pacer.stop()
            pump.cancel()
            # asyncio.wait, not `await pump`: the pump's CancelledError is not ours to raise, and a
            # cancellation of this task while it waits still propagates.
            await asyncio.wait((pump,))
