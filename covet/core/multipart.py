"""multipart/form-data bodies (RFC 7578) -> ``[(name, str | UploadFile)]``.

``parse_multipart`` drives the sans-IO ``MultipartParser`` (``covet.core.multipart_parser``,
which enforces every limit while streaming) from an async body stream, ``parse_multipart_bytes``
from a body in memory; file parts become ``UploadFile`` objects (``covet.core.uploads``). Every
failure is a ``MultipartError`` carrying the HTTP status to answer with (400 malformed, 413
limit exceeded). The parser's names and ``UploadFile`` are importable from here too.

Example::

    items = parse_multipart_bytes(body, get_boundary(content_type))
"""
from typing import AsyncIterable, List, Optional, Tuple, Union

from .multipart_parser import (  # noqa: F401 - the limits stay importable from here
    DEFAULT_LIMITS, MAX_BOUNDARY_LENGTH, MAX_FIELD_SIZE, MAX_FILE_SIZE, MAX_HEADER_COUNT_PER_PART, MAX_PART_HEADER_SIZE,
    MAX_PARTS, SPOOL_MAX_SIZE, Event, Finished, MultipartError, MultipartLimits, MultipartParser, PartBegin, PartData,
    PartEnd, get_boundary, parse_options_header,
)
from .uploads import UploadFile

__all__ = [
    "Finished", "MultipartError", "MultipartLimits", "MultipartParser", "PartBegin", "PartData",
    "PartEnd", "UploadFile", "get_boundary", "parse_multipart", "parse_multipart_bytes",
    "parse_options_header",
]


FormItems = List[Tuple[str, Union[str, UploadFile]]]


def _is_text_encoding(charset: str) -> bool:
    try:
        b"a".decode(charset)  # not b"": decoding nothing skips the codec lookup
    except UnicodeDecodeError:
        pass
    except LookupError:  # unknown, or a bytes-to-bytes codec such as base64
        return False
    return True


class _Collector:
    """Events -> (name, value) pairs; shared by the async and the sync entry points."""

    __slots__ = ("items", "uploads", "charset", "_limits", "_part", "_upload", "_chunks")

    def __init__(self, limits: MultipartLimits, charset: str) -> None:
        self.items = []  # type: FormItems
        self.uploads = []  # type: List[UploadFile]
        self._chunks = []  # type: List[bytes]
        self.charset, self._limits = charset, limits
        self._part, self._upload = None, None  # type: Optional[PartBegin], Optional[UploadFile]

    def event(self, event: Event) -> Optional[UploadFile]:
        """Handle one event; returns the UploadFile that ``event.data`` must be written to."""
        if type(event) is PartData:
            if self._upload is None:
                self._chunks.append(event.data)
            return self._upload
        if type(event) is PartBegin:
            self._part, self._chunks, self._upload = event, [], None
            if event.filename is not None:
                self._upload = UploadFile(event.filename, event.content_type, event.headers,
                                          self._limits.spool_max_size)
                self.uploads.append(self._upload)
        elif type(event) is PartEnd and self._part is not None:
            name = self._part.name
            if self._upload is not None:
                self.items.append((name, self._upload))
            else:
                self.items.append((name, self._decode(name, b"".join(self._chunks))))
        return None

    def _decode(self, name: str, raw: bytes) -> str:
        content_type = self._part.content_type if self._part is not None else None
        charset = parse_options_header(content_type or "")[1].get("charset") or self.charset
        if not _is_text_encoding(charset):
            raise MultipartError("multipart: field %r has unknown charset %r" % (name, charset))
        try:
            text = raw.decode(charset)
        except UnicodeDecodeError:
            raise MultipartError("multipart: field %r is not valid %s" % (name, charset))
        if name == "_charset_":
            # RFC 7578 §4.6: the default charset of the text fields that follow.
            if not _is_text_encoding(text.strip()):
                raise MultipartError("multipart: field '_charset_' names unknown charset %r" % text)
            self.charset = text.strip()
        return text

    def discard(self) -> None:
        # Synchronous on purpose: closing a file descriptor does not block, and an async
        # close could itself be cancelled and leak the temporary file.
        for upload in self.uploads:
            upload.file.close()


async def parse_multipart(chunks: AsyncIterable[bytes],
                          boundary: Union[bytes, str], limits: Optional[MultipartLimits] = None,
                          charset: str = "utf-8") -> FormItems:
    """Parse a multipart/form-data body stream into ``[(name, str | UploadFile)]``.

    Fields are decoded with their part's charset, else ``charset``; files are
    positioned at 0. On error every UploadFile already made is closed.

    Example::

        items = await parse_multipart(request.stream(), get_boundary(content_type))
    """
    limits = limits or DEFAULT_LIMITS
    parser = MultipartParser(boundary, limits)
    collector = _Collector(limits, charset)

    async def feed(chunk: bytes) -> None:
        for event in parser.feed(chunk):
            upload = collector.event(event)
            if upload is not None:
                await upload.write(event.data)  # type: ignore[union-attr]

    try:
        async for chunk in chunks:
            await feed(chunk)
        parser.close()
        for upload in collector.uploads:
            await upload.seek(0)
    except BaseException:
        collector.discard()
        raise
    return collector.items


def parse_multipart_bytes(body: bytes, boundary: Union[bytes, str],
                          limits: Optional[MultipartLimits] = None,
                          charset: str = "utf-8") -> FormItems:
    """Synchronous ``parse_multipart`` for a body already in memory (test client, scripts).

    Example::

        body = b'--x\\r\\nContent-Disposition: form-data; name="a"\\r\\n\\r\\n1\\r\\n--x--'
        parse_multipart_bytes(body, b"x")  # [('a', '1')]
    """
    limits = limits or DEFAULT_LIMITS
    parser = MultipartParser(boundary, limits)
    collector = _Collector(limits, charset)
    try:
        for event in parser.feed(body):
            upload = collector.event(event)
            if upload is not None:
                upload.write_sync(event.data)  # type: ignore[union-attr]
        parser.close()
        for upload in collector.uploads:
            upload.file.seek(0)
    except BaseException:
        collector.discard()
        raise
    return collector.items
