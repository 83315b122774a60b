"""GZipMiddleware: compress response bodies with gzip (or deflate) when the client accepts it.

The rules, each with its source (docs/compression.md has the full list and the reasons):

- The coding comes from ``Accept-Encoding`` with its q-values (RFC 9110 §12.5.3); a value that
  does not parse never causes an error, the response just goes out uncompressed.
- Left untouched: responses marked ``unbuffered`` and ``text/event-stream`` (live streams,
  docs/sse.md), a 206 or anything with ``Content-Range`` (the range is of the uncompressed
  bytes, RFC 9110 §14.4), a response that already has a ``Content-Encoding``, one with
  ``Cache-Control: no-transform``, 1xx and 204, bodies under ``minimum_size``, and media types
  that are already compressed.
- A compressed response gets ``Content-Encoding``, ``Vary: Accept-Encoding`` (RFC 9110 §12.5.5),
  its new ``Content-Length`` (or none when it streams), and a weak ``ETag`` (a strong validator
  names exact bytes, which compression changes: RFC 9110 §8.8.1, §8.8.3).
- A streamed body is compressed as it streams, one compressed piece per chunk the app yields
  (``Z_SYNC_FLUSH``), so a slow stream is never held back and memory stays bounded.
- HEAD gets the headers GET would get (RFC 9110 §9.3.2).

Example::

    from covet.middleware import GZipMiddleware

    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)
"""
import asyncio
import re
import zlib
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

from ..core.driver import close_body
from ..core.responses import StreamingResponse

__all__ = [
    "GZipMiddleware", "parse_accept_encoding", "choose_encoding", "is_compressible",
    "DEFAULT_MINIMUM_SIZE", "DEFAULT_COMPRESSLEVEL", "DEFAULT_OFFLOAD_SIZE",
    "INCOMPRESSIBLE_TYPES", "INCOMPRESSIBLE_PREFIXES", "INCOMPRESSIBLE_SUFFIXES", "COMPRESSIBLE_EXCEPTIONS",
]

# Below about 500 bytes the coding's own overhead (18 bytes of gzip header and trailer, a deflate
# block header) and the CPU time outweigh what is saved, and the response fits one TCP segment
# either way. Starlette's GZipMiddleware uses the same 500; nginx's gzip_min_length is 20.
DEFAULT_MINIMUM_SIZE = 500

# zlib's own default (Z_DEFAULT_COMPRESSION is level 6): within a few per cent of level 9's size
# on text and JSON at a fraction of its CPU time. Starlette defaults to 9, nginx to 1.
DEFAULT_COMPRESSLEVEL = 6

# A complete body at least this large is compressed in the default thread pool (zlib releases the
# GIL), so that one big response does not stall every other connection on the event loop: level 6
# runs at roughly 50-100 MB/s, so 256 KiB is a few milliseconds.
DEFAULT_OFFLOAD_SIZE = 256 * 1024

# Parsed Accept-Encoding values kept per middleware: browsers send a handful of distinct values,
# so a small table answers nearly every request without parsing. Values longer than
# _CACHEABLE_LENGTH are parsed every time (a client sending random long values cannot fill it
# with large keys), and the table is emptied when full (bounded memory, no eviction bookkeeping).
ACCEPT_CACHE_SIZE = 64
_CACHEABLE_LENGTH = 256

# zlib's wbits: 16 + 15 writes the gzip format (RFC 1952); 15 writes the zlib format (RFC 1950),
# which is what "deflate" means in HTTP (RFC 9110 §8.4.1.2), not a raw RFC 1951 stream.
_WBITS = {"gzip": 31, "deflate": 15}

# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); the weight
# is OWS ";" OWS "q=" qvalue, and "q" is case-insensitive (§12.4.2).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_WEIGHT = re.compile(r"[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")

# Media types whose bytes are already compressed, so deflating them again costs CPU and saves
# nothing (or grows them). Matched on the type without parameters, lower-cased.
INCOMPRESSIBLE_TYPES: FrozenSet[str] = frozenset((
    # archives and compressed streams
    "application/zip", "application/gzip", "application/x-gzip", "application/x-bzip2",
    "application/x-xz", "application/zstd", "application/x-7z-compressed", "application/vnd.rar",
    "application/x-rar-compressed", "application/x-compress", "application/x-lzip", "application/x-brotli",
    "application/vnd.ms-cab-compressed",
    # zip containers under other names
    "application/java-archive", "application/vnd.android.package-archive",
    # PDF content streams are deflated already (ISO 32000 FlateDecode)
    "application/pdf",
    # WOFF is zlib-compressed, WOFF2 Brotli-compressed (W3C WOFF 1.0 §5, WOFF2 §5)
    "font/woff", "font/woff2", "application/font-woff", "application/x-font-woff",
))
# Every image, audio and video type except those in COMPRESSIBLE_EXCEPTIONS (JPEG, PNG, GIF, WebP,
# AVIF, MP3, AAC, Opus, H.264 and the rest carry their own compression), and the office formats
# that are zip files (OOXML, ODF).
INCOMPRESSIBLE_PREFIXES: Tuple[str, ...] = (
    "image/", "audio/", "video/",
    "application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument.",
)
# Structured syntax suffixes for zip and gzip containers (RFC 6839 §3.6 registers +zip; +gzip is
# in the IANA Structured Syntax Suffix registry): application/epub+zip, application/tlsrpt+gzip.
INCOMPRESSIBLE_SUFFIXES: Tuple[str, ...] = ("+zip", "+gzip")
# Images that are text (SVG is XML) or uncompressed bitmaps (BMP; icons are mostly BMP frames).
COMPRESSIBLE_EXCEPTIONS: FrozenSet[str] = frozenset((
    "image/svg+xml", "image/bmp", "image/x-ms-bmp", "image/x-icon", "image/vnd.microsoft.icon",
))

# What a response's media type means for compression.
_COMPRESS, _SKIP, _LIVE = 0, 1, 2


def parse_accept_encoding(value: str) -> Dict[str, float]:
    """``{coding: q}`` of an ``Accept-Encoding`` value (RFC 9110 §12.5.3).

    Codings are lower-cased, ``x-gzip`` counts as ``gzip`` (RFC 9110 §8.4.1.3), the first
    mention of a coding wins, and an element that does not parse (a bad token, a weight such as
    ``q=2`` or ``q=0.0001``, a parameter other than ``q``) is left out, never an error.

    Example::

        parse_accept_encoding("gzip;q=0.8, br, identity;q=0")
        # {'gzip': 0.8, 'br': 1.0, 'identity': 0.0}
    """
    result: Dict[str, float] = {}
    for element in value.split(","):
        coding, sep, params = element.partition(";")
        coding = coding.strip()
        if not coding:
            continue  # RFC 9110 §5.6.1: empty list elements are ignored
        if not _TOKEN.fullmatch(coding):
            continue
        q = 1.0
        if sep:
            m = _WEIGHT.fullmatch(params.strip())
            if m is None:
                continue
            q = float(m.group(1))
        coding = coding.lower()
        if coding == "x-gzip":
            coding = "gzip"
        if coding not in result:
            result[coding] = q
    return result


def choose_encoding(accepted: Dict[str, float], offered: Iterable[str] = ("gzip", "deflate")) -> Optional[str]:
    """The coding of ``offered`` to use for a client that sent ``accepted``, or None for none.

    The offered coding with the highest q above 0 wins (``*`` stands for codings not named),
    the earlier one in ``offered`` on a tie. None when no offered coding is acceptable, or when
    the client rates ``identity`` higher than the best of them (``gzip;q=0.5, identity``).
    An ``identity`` that is not named is acceptable at the lowest preference (RFC 9110 §12.5.3),
    so it never outranks a coding the client named.

    Example::

        choose_encoding(parse_accept_encoding("deflate, gzip;q=0.9"))   # 'deflate'
    """
    star = accepted.get("*")
    best, best_q = None, 0.0
    for coding in offered:
        q = accepted.get(coding, star)
        if q is not None and q > best_q:
            best, best_q = coding, q
    if best is None:
        return None
    identity_q = accepted.get("identity", star)
    if identity_q is not None and identity_q > best_q:
        return None
    return best


def _media_rule(content_type: Optional[bytes], extra: FrozenSet[str], extra_prefixes: Tuple[str, ...]) -> int:
    if content_type is None:
        return _COMPRESS  # unknown bytes: compress, as a missing type says nothing either way
    media = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    # Live streams must reach the client event by event (docs/sse.md; WHATWG HTML §9.2).
    if media == "text/event-stream":
        return _LIVE
    if media in extra or (extra_prefixes and media.startswith(extra_prefixes)):
        return _SKIP
    if media in INCOMPRESSIBLE_TYPES or media.endswith(INCOMPRESSIBLE_SUFFIXES):
        return _SKIP
    if media.startswith(INCOMPRESSIBLE_PREFIXES) and media not in COMPRESSIBLE_EXCEPTIONS:
        return _SKIP
    return _COMPRESS


def is_compressible(content_type: str) -> bool:
    """Whether GZipMiddleware compresses a body of this ``Content-Type`` (by type alone).

    Example::

        is_compressible("application/json")   # True
        is_compressible("image/png")          # False
        is_compressible("image/svg+xml")      # True
    """
    return _media_rule(content_type.encode("latin-1"), frozenset(), ()) == _COMPRESS


def _compress_whole(body: bytes, level: int, wbits: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return c.compress(body) + c.flush()


def _weak(etag: bytes) -> bytes:
    # RFC 9110 §8.8.3: entity-tag = [ "W/" ] opaque-tag; only a well-formed strong tag is weakened.
    if len(etag) >= 2 and etag[:1] == b'"' and etag[-1:] == b'"':
        return b"W/" + etag
    return etag


def _has_vary_accept_encoding(value: bytes) -> bool:
    for field in value.split(b","):
        field = field.strip().lower()
        if field == b"*" or field == b"accept-encoding":
            return True
    return False


def _digits(value: Optional[bytes]) -> Optional[int]:
    # Content-Length is 1*DIGIT (RFC 9110 §8.6); anything else is treated as unknown.
    if value is None or not value.isdigit() or len(value) > 19:
        return None
    return int(value)


class _CompressedBody:
    """An async iterator over the compressed pieces of a streamed response.

    One piece per chunk of the app's stream, each ended by ``Z_SYNC_FLUSH`` so the client can
    decode everything sent so far; the stream's end adds the trailer. Closing it closes the
    app's stream, whether or not it was ever started (a HEAD never reads the body).
    """

    __slots__ = ("_response", "_source", "_compressor", "_done")

    def __init__(self, response: Any, level: int, wbits: int) -> None:
        self._response = response
        self._source = response.iter_body()
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, wbits)
        self._done = False

    def __aiter__(self) -> "_CompressedBody":
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        compressor = self._compressor
        try:
            chunk = await self._source.__anext__()
        except StopAsyncIteration:
            self._done = True
            return compressor.flush(zlib.Z_FINISH)
        # Z_SYNC_FLUSH ends the piece on a byte boundary with an empty stored block, so what has
        # been sent decodes in full now (zlib manual, deflate()): never an empty piece.
        return compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)

    async def aclose(self) -> None:
        self._done = True
        await close_body(self._response, self._source)


class GZipMiddleware:
    """Compress responses with gzip, or deflate, for clients whose ``Accept-Encoding`` allows it.

    :param minimum_size: bodies smaller than this many bytes go out as they are; a streamed
        body is measured by its ``Content-Length`` when it declares one, else always compressed.
    :param compresslevel: zlib level, 1 (fastest) to 9 (smallest).
    :param deflate: also offer ``deflate`` (the zlib format, RFC 9110 §8.4.1.2) to clients that
        prefer it; gzip wins a tie.
    :param exclude_media_types: more media types to leave alone, exact (``application/x-foo``)
        or by type (``model/*``), on top of ``INCOMPRESSIBLE_TYPES`` and the others.
    :param offload_size: complete bodies at least this large are compressed in a thread.

    Example::

        app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    """

    def __init__(self, minimum_size: int = DEFAULT_MINIMUM_SIZE, compresslevel: int = DEFAULT_COMPRESSLEVEL,
                 deflate: bool = True, exclude_media_types: Iterable[str] = (),
                 offload_size: int = DEFAULT_OFFLOAD_SIZE) -> None:
        if not isinstance(minimum_size, int) or minimum_size < 0:
            raise ValueError("minimum_size must be an int >= 0, got %r" % (minimum_size,))
        if not isinstance(compresslevel, int) or not 1 <= compresslevel <= 9:
            raise ValueError("compresslevel must be an int from 1 to 9, got %r" % (compresslevel,))
        if not isinstance(offload_size, int) or offload_size < 0:
            raise ValueError("offload_size must be an int >= 0, got %r" % (offload_size,))
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.offload_size = offload_size
        self.encodings: Tuple[str, ...] = ("gzip", "deflate") if deflate else ("gzip",)
        exact, prefixes = set(), []
        for media in exclude_media_types:
            media = media.strip().lower()
            if media.endswith("/*"):
                prefixes.append(media[:-1])
            elif "/" in media:
                exact.add(media)
            else:
                raise ValueError("exclude_media_types takes 'type/subtype' or 'type/*', got %r" % (media,))
        self._exclude = frozenset(exact)
        self._exclude_prefixes = tuple(prefixes)
        self._choices: Dict[bytes, Optional[str]] = {}
        self._media: Dict[Optional[bytes], int] = {}

    def _choose(self, request: Any) -> Optional[str]:
        value = None
        for name, v in request.raw_headers:
            if name == b"accept-encoding":
                # RFC 9110 §5.3: repeated list fields combine into one comma-separated list.
                value = v if value is None else value + b"," + v
        if value is None:
            # No Accept-Encoding: RFC 9110 §12.5.3 would allow any coding, but clients that can
            # decode one say so (curl without --compressed, scripts); every peer sends identity.
            return None
        choices = self._choices
        try:
            return choices[value]
        except KeyError:
            pass
        coding = choose_encoding(parse_accept_encoding(value.decode("latin-1")), self.encodings)
        if len(value) <= _CACHEABLE_LENGTH:
            if len(choices) >= ACCEPT_CACHE_SIZE:
                choices.clear()
            choices[value] = coding
        return coding

    def _rule(self, content_type: Optional[bytes]) -> int:
        media = self._media
        rule = media.get(content_type)
        if rule is None:
            rule = _media_rule(content_type, self._exclude, self._exclude_prefixes)
            if content_type is None or len(content_type) <= _CACHEABLE_LENGTH:
                if len(media) >= ACCEPT_CACHE_SIZE:
                    media.clear()
                media[content_type] = rule
        return rule

    async def __call__(self, request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        # Live streams pass untouched: no coding, no Content-Length, no Vary (docs/sse.md).
        if response.unbuffered:
            return response
        status = response.status_code
        # 206: Content-Range counts bytes of the uncompressed representation (RFC 9110 §14.4);
        # 1xx and 204 have no content to vary. A 304 stands for its 200 (below).
        if status == 206 or status < 200 or status == 204:
            return response
        content_type = length = None
        for name, value in response.raw_headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == b"content-encoding" or name == b"content-range":
                # Already coded (a precompressed file) or a range: compressing again would give
                # the client bytes that the coding or the range do not describe.
                return response
            elif name == b"cache-control" and b"no-transform" in value.lower():
                # RFC 9111 §5.2.2.6 asks intermediaries not to transform such content; covet honours
                # it too, as the per-response way to opt out (a page with a secret, see BREACH).
                return response
        rule = self._rule(content_type)
        if rule != _COMPRESS:
            return response
        if status == 304:
            # RFC 9110 §15.4.5: a 304 carries the Vary and ETag the 200 would have had; assume
            # that 200 was compressed for a client that accepts a coding (a weak tag still
            # matches If-None-Match, which compares weakly, §13.1.2). No Content-Encoding: a 304
            # sends no representation metadata beyond those fields (§15.4.5).
            self._rewrite(response, self._choose(request), None, False, False)
            return response
        if response.streaming:
            size = _digits(length)
        else:
            size = len(response.body)
            if size == 0 and request.method == "HEAD":
                size = _digits(length)  # an explicit HEAD handler states the GET's size (§9.3.2)
        if size is not None and (size == 0 or size < self.minimum_size):
            return response  # never compressed, so it does not vary with Accept-Encoding
        coding = self._choose(request)
        if coding is None:
            self._rewrite(response, None, None, False, False)  # Vary: another client would get it compressed
            return response
        level, wbits = self.compresslevel, _WBITS[coding]
        if response.streaming:
            compressed = StreamingResponse(_CompressedBody(response, level, wbits), response.status_code)
            compressed.raw_headers = response.raw_headers
            self._rewrite(compressed, coding, None, True, True)
            # The app's background tasks and clean-up run once the compressed body is out.
            compressed.call_after_send(response.after_send)
            return compressed
        body = response.body
        if body:
            if len(body) >= self.offload_size:
                loop = asyncio.get_running_loop()
                body = await loop.run_in_executor(None, _compress_whole, body, level, wbits)
            else:
                body = _compress_whole(body, level, wbits)
            response.body = body
            self._rewrite(response, coding, len(body), True, True)
        else:
            # A HEAD answered by a handler of its own, without the body: the compressed size is not
            # known, so Content-Length is left out, which RFC 9110 §9.3.2 allows for HEAD.
            self._rewrite(response, coding, None, True, True)
        return response

    @staticmethod
    def _rewrite(response: Any, coding: Optional[str], length: Optional[int], drop_length: bool,
                 encoded: bool) -> None:
        """Add Vary: Accept-Encoding; with a coding, make the ETag weak; if ``encoded``, add
        Content-Encoding; with ``length``, the new Content-Length (``drop_length`` drops the old)."""
        raw: List[Tuple[bytes, bytes]] = []
        vary_at = -1
        varies = False
        for name, value in response.raw_headers:
            if name == b"content-length" and drop_length:
                continue
            if name == b"etag" and coding is not None:
                value = _weak(value)
            elif name == b"vary":
                if _has_vary_accept_encoding(value):
                    varies = True
                elif vary_at < 0:
                    vary_at = len(raw)
            raw.append((name, value))
        if not varies:
            if vary_at >= 0:
                raw[vary_at] = (b"vary", raw[vary_at][1] + b", Accept-Encoding")
            else:
                raw.append((b"vary", b"Accept-Encoding"))
        if encoded and coding is not None:
            raw.append((b"content-encoding", coding.encode("ascii")))
        if length is not None:
            raw.append((b"content-length", b"%d" % length))
        response.raw_headers = raw

    def __repr__(self) -> str:
        return "<GZipMiddleware minimum_size=%d compresslevel=%d encodings=%s>" % (
            self.minimum_size, self.compresslevel, ",".join(self.encodings))
