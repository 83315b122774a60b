"""Content-Encoding decoding of response bodies (RFC 9110 §8.4), bounded against zip bombs.

gzip and deflate only (what ``Accept-Encoding`` offers). The decompressed size is bounded by
the client's ``max_response_size`` while decompressing, never after: a 10 MB gzip body can
expand to 10 GB (websockets CVE-2018-1000518; aiohttp's 2026 decompression-bomb advisory).
"""
import zlib
from typing import List

from .errors import ProtocolError, ResponseTooLarge

__all__ = ["ACCEPT_ENCODING", "decode_content"]

ACCEPT_ENCODING = "gzip, deflate"

# zlib wbits: 16 + MAX_WBITS reads a gzip member; MAX_WBITS a zlib stream; -MAX_WBITS a raw
# deflate stream, which some servers send for "deflate" although RFC 9110 §8.4.1.2 says zlib.
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS


def _inflate(data: bytes, wbits: int, limit: int, coding: str) -> bytes:
    decoder = zlib.decompressobj(wbits)
    out = []  # type: List[bytes]
    total = 0
    pending = data
    try:
        while pending and not decoder.eof:
            piece = decoder.decompress(pending, limit - total + 1)
            total += len(piece)
            if total > limit:
                raise ResponseTooLarge("%s-decoded body exceeds max_response_size (%d bytes)"
                                       % (coding, limit))
            out.append(piece)
            pending = decoder.unconsumed_tail
    except zlib.error as exc:
        raise ProtocolError("invalid %s content: %s" % (coding, exc)) from None
    if not decoder.eof:
        raise ProtocolError("truncated %s content" % coding)
    return b"".join(out)


def decode_content(data: bytes, encodings: List[str], limit: int) -> bytes:
    """Undo ``encodings`` (the Content-Encoding list, in the order applied) on ``data``.

    Returns ``data`` unchanged when it holds a coding we do not know, so the caller sees the
    bytes as sent (and the header tells what they are). Example::

        decode_content(gzip.compress(b"hi"), ["gzip"], 1024)   # b'hi'
    """
    codings = [c.strip().lower() for c in encodings if c.strip() and c.strip().lower() != "identity"]
    if not codings or not data:
        return data
    if any(c not in ("gzip", "x-gzip", "deflate") for c in codings):
        return data
    for coding in reversed(codings):  # RFC 9110 §8.4: listed in the order they were applied
        if coding == "deflate":
            # RFC 1950 §2.2: a zlib header is CM = 8 and a 16-bit value divisible by 31.
            zlib_header = len(data) >= 2 and (data[0] & 0x0F) == 8 and (data[0] * 256 + data[1]) % 31 == 0
            wbits = _ZLIB if zlib_header else _RAW
        else:
            wbits = _GZIP
        data = _inflate(data, wbits, limit, coding)
    return data
