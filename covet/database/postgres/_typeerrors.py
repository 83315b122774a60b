"""The type codecs' exceptions, in a leaf module so that every codec module can raise them
(``covet.database.postgres.types`` re-exports both).

Example::

    from covet.database.postgres.types import TypeCodecError

    try:
        row = decode_row(fields)
    except TypeCodecError as exc:
        log.warning("column %s: %s", exc.oid, exc)
"""
from typing import Optional

from covet.database.errors import DataError

__all__ = ["TypeCodecError", "MalformedValueError"]


class TypeCodecError(DataError):
    """A value cannot cross between Python and PostgreSQL: a date PostgreSQL holds that Python
    cannot (``'infinity'``, year 0), a Python value no PostgreSQL type takes (an ``int`` past
    int8 for an int8 parameter, a naive ``time`` with a zone-dependent offset), or bytes that
    are not a value of their type.

    It is a :class:`~covet.database.errors.DataError` because the connection itself is fine:
    the message framing is intact, the query can be read to its end and the connection reused.

    :param oid: the PostgreSQL type OID concerned, when one is (0 otherwise).
    """

    def __init__(self, message: str, oid: int = 0) -> None:
        super().__init__(message)
        self.oid = oid


class MalformedValueError(TypeCodecError):
    """Bytes that no PostgreSQL server sends for their type: a binary int4 of 3 bytes, an array
    header claiming more elements than its bytes can hold, a numeric digit above 9999.

    A server that sends these is broken or hostile; the codecs refuse before allocating
    anything sized by the bad header. A connection that saw one may treat its server as
    untrustworthy and close.
    """


def describe(data: Optional[bytes], limit: int = 60) -> str:
    """A short, printable rendering of a wire value for an error message (never the whole of a
    large value: messages end up in logs)."""
    if data is None:
        return "NULL"
    shown = bytes(data[:limit])
    return repr(shown) + ("..." if len(data) > limit else "")
