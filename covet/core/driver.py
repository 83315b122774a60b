"""The one way out for a response: the rules that every door follows.

covet has three doors onto ``Covet.dispatch``: its HTTP/1.1 server, the ASGI adapter and the
in-process test client (WebSockets and server-sent events use the same rules). Each turns a
:class:`~covet.core.responses.Response` into its own output (bytes on a socket, ASGI messages, a
test response), but what may go out, and what must happen afterwards, is decided here, once:

- **Which headers.** ``Content-Length`` never goes out on a 1xx, 204 or 304 answer, even when a
  handler changed the status after setting a body (RFC 9110 §8.6).
- **Whether a body goes out.** HEAD, 1xx, 204 and 304 answers end at their head (RFC 9112 §6.3):
  a body sent anyway would be read as the start of the next response.
- **Closing a streamed body.** The response's iterator *and* the app's own generator are closed
  when the stream ends, fails, or the client goes away: leaving ``async for`` does not close an
  async generator, and its cleanup (files, cursors, subscriptions) must run then, not at garbage
  collection.
- **After-send work.** Background tasks, yield-dependency teardown and upload temp files run
  once the response is out, whether it went out whole or not (``Response.after_send``).

A door calls :func:`start` for the status, the headers and a complete body (or ``None`` when the
body streams), then :func:`stream` with a ``write`` coroutine for a streamed body, and finally
``await response.after_send()``.

Example (the shape of every door)::

    status, headers, body, send_body = start(response, request.method)
    try:
        emit_head(status, headers)
        if body is not None:
            emit(body)
        else:
            await stream(response, send_body, emit_chunk)
    finally:
        await response.after_send()
"""
from typing import Any, Awaitable, Callable, List, Optional, Tuple

from .status import NO_CONTENT, NO_CONTENT_LENGTH

__all__ = ["start", "stream", "send_file", "file_segment", "close_body", "has_body", "wire_headers",
           "declared_length", "BodyLengthError"]

Header = Tuple[bytes, bytes]


def wire_headers(status_code: int, raw_headers: List[Header]) -> List[Header]:
    """The headers as they go out: a status changed after the body was set may leave a Content-Length behind."""
    if status_code in NO_CONTENT_LENGTH:
        return [h for h in raw_headers if h[0] != b"content-length"]
    return raw_headers


def has_body(method: str, status_code: int) -> bool:
    """Whether an answer to ``method`` with ``status_code`` may carry a body (RFC 9112 §6.3)."""
    return method != "HEAD" and status_code not in NO_CONTENT


def start(response: Any, method: str) -> Tuple[int, List[Header], Optional[bytes], bool]:
    """``(status, headers, body, send_body)`` of ``response`` answering a ``method`` request.

    ``body`` is the complete body to send (``b""`` when none may be sent) or ``None`` when the
    body streams: then call :func:`stream`. ``send_body`` says whether a body may go out at all.
    """
    status = response.status_code
    headers = response.raw_headers
    if status in NO_CONTENT_LENGTH:  # PERF: the check inline, the call only when it can matter
        headers = wire_headers(status, headers)
    send_body = has_body(method, status)
    if response.streaming:
        return status, headers, None, send_body
    return status, headers, response.body if send_body else b"", send_body


async def close_body(response: Any, iterator: Any = None) -> None:
    """Close the response's body iterator and the app's own generator behind it."""
    for it in (iterator, getattr(response, "body_iterator", None)):
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()


class BodyLengthError(RuntimeError):
    """A streamed body did not match the Content-Length its response declared (an app bug)."""


def declared_length(headers: List[Header]) -> Optional[int]:
    """The Content-Length a response declares, or None."""
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def stream(response: Any, send_body: bool, write: Callable[[bytes], Awaitable[None]]) -> int:
    """Send a streamed body through ``write``; returns the number of bytes written.

    The body iterator is closed however this ends: the last chunk, an exception from the app's
    iterator (it propagates), or one from ``write`` (the client went away; it propagates too).
    With ``send_body`` false (HEAD, 1xx, 204, 304) nothing is read from the iterator.

    A body that declared its Content-Length must send exactly that many bytes: a longer one is
    stopped before the excess goes out (the excess would be read as the start of the next
    response on a kept-alive connection, RFC 9112 §6.3), a shorter one raises at its end;
    either way ``BodyLengthError`` propagates and the door ends the exchange as a failure.
    """
    iterator = response.iter_body()
    sent = 0
    try:
        if send_body:
            length = declared_length(response.raw_headers)
            async for data in iterator:
                if data:
                    sent += len(data)
                    if length is not None and sent > length:
                        raise BodyLengthError("the streamed body is longer than its Content-Length of %d bytes"
                                              % length)
                    await write(data)
            if length is not None and sent < length:
                raise BodyLengthError("the streamed body ended after %d of the %d bytes its Content-Length "
                                      "declared" % (sent, length))
    finally:
        await close_body(response, iterator)
    return sent


def file_segment(response: Any, send_body: bool) -> Optional[Tuple[str, int, int]]:
    """``(path, offset, length)`` when the body is a slice of a file that a door may send with
    :func:`send_file` (zero-copy), else None: send it with :func:`stream`.

    Only a FileResponse whose body nothing replaced (a compressing middleware sets its own
    iterator), and whose declared Content-Length is still that slice's length.
    """
    segment_of = getattr(response, "file_segment", None)
    if not send_body or segment_of is None:
        return None
    segment = segment_of()
    if segment is None or declared_length(response.raw_headers) != segment[2]:
        return None
    return segment


async def send_file(response: Any, sendfile: Callable[[Any, int, int], Awaitable[int]]) -> int:
    """Send a FileResponse's body with ``await sendfile(file, offset, count) -> bytes sent``.

    The door's ``sendfile`` sends at most ``count`` bytes from ``offset`` (a file that grew is cut
    at its announced size); fewer means the file shrank, and ``BodyLengthError`` ends the
    exchange as :func:`stream` does, so the connection closes rather than carry a short body.
    The file and the body iterator are closed however this ends.
    """
    _, offset, length = response.file_segment()
    sent = 0
    try:
        if length:
            sent = await sendfile(await response.open_file(), offset, length)
            if sent < length:
                raise BodyLengthError("the file ended after %d of the %d bytes its Content-Length declared"
                                      % (sent, length))
    finally:
        await close_body(response)  # the file itself is closed by the response's after-send work
    return sent
