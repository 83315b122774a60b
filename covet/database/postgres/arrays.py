"""PostgreSQL arrays <-> nested Python lists, text and binary, for any element codec.

Binary format (``array_send`` in PostgreSQL's ``src/backend/utils/adt/arrayfuncs.c``)::

    ndim      int32   number of dimensions, 0 (an empty array) to 6 (MAXDIM)
    flags     int32   1 if any element is NULL, else 0
    elemtype  int32   element type OID
    ndim x (size int32, lower bound int32)
    per element, in row-major order: length int32 (-1 for NULL), then that many bytes

Text format (``array_out``): ``{1,2,NULL}``, ``{{1,2},{3,4}}``, ``{}``. An element is quoted
when it is empty, contains ``{ } , " \\`` or white space, or reads ``NULL`` in any case; inside
quotes ``"`` and ``\\`` are escaped with a backslash. An array whose lower bounds are not 1 is
prefixed with them: ``[0:1]={1,2}``.

Choices (docs/postgres-types.md tells users):

- Lower bounds are ignored, in both formats: ``[0:1]={1,2}`` decodes to ``[1, 2]``, as psycopg
  and asyncpg do. A Python list has no lower bound to carry it.
- Every array with no element decodes to ``[]`` (PostgreSQL itself has one empty array: no
  dimensions).
- Decoding checks the header against the data before allocating: a binary array claiming
  2**31 elements in 20 bytes raises :class:`MalformedValueError`, as do more than 6 dimensions.

Example::

    assert decode_array_text('{{1,NULL},{3,4}}', int) == [[1, None], [3, 4]]
    assert encode_array_text(["a b", None, 'say "hi"'], str) == '{"a b",NULL,"say \\\\"hi\\\\""}'
"""
import re
import struct
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ._typeerrors import MalformedValueError, TypeCodecError, describe

__all__ = [
    "MAX_DIMENSIONS", "array_shape", "is_list", "decode_array_binary", "decode_array_text",
    "encode_array_binary", "encode_array_text", "quote_array_element",
]

# MAXDIM in src/include/utils/array.h: the server refuses a seventh dimension itself.
MAX_DIMENSIONS = 6

_HEADER = struct.Struct("!iii")
_DIMENSION = struct.Struct("!ii")
_LENGTH = struct.Struct("!i")

# One token of the text format after optional white space: a brace, the delimiter, a quoted
# element (backslash escapes anything), or an unquoted one (no braces, delimiter or quote; may
# hold inner spaces and backslash escapes; leading and trailing white space is not part of it).
_TOKEN = re.compile(
    r'\s*(?:([{}])|(,)|"((?:[^"\\]|\\.)*)"|((?:[^{},"\\\s]|\\.)(?:(?:[^{},"\\]|\\.)*(?:[^{},"\\\s]|\\.))?))',
    re.DOTALL)
_BOUNDS = re.compile(r"(?:\[[-+]?[0-9]{1,10}:[-+]?[0-9]{1,10}\]){1,6}=", re.ASCII)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_NEEDS_QUOTES = re.compile(r'[{},"\\\s]|^$|^[nN][uU][lL][lL]$')
_ESCAPE = re.compile(r'(["\\])')


def _malformed(text: str, why: str) -> MalformedValueError:
    return MalformedValueError("array: %s in %r" % (why, text[:60]))


def decode_array_text(text: str, decode_element: Callable[[str], Any]) -> List[Any]:
    """The nested list of an array's text, each element through ``decode_element``."""
    bounds = _BOUNDS.match(text)
    pos = bounds.end() if bounds else 0
    if text[pos:pos + 1] != "{":
        raise _malformed(text, "no opening '{'")
    stack: List[List[Any]] = []
    # Beside each open level: whether it holds sub-arrays (True), elements (False) or nothing yet
    # (None); an element may itself decode to a list (json), so the values cannot tell.
    kinds: List[Any] = []
    # per nesting depth, the (length, kind) every level there must have: arrays are rectangular
    shapes: Dict[int, Tuple[int, Any]] = {}
    result: List[Any] = []
    elements = 0
    expect_item = True  # after '{' or ',': an element or '{'; else ',' or '}'
    while True:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _malformed(text, "unexpected character or end at %d" % pos)
        pos = match.end()
        brace, comma, quoted, bare = match.groups()
        if brace == "{":
            if not expect_item or (stack and kinds[-1] is False):
                raise _malformed(text, "misplaced '{'")
            if len(stack) == MAX_DIMENSIONS:
                raise _malformed(text, "more than %d dimensions" % MAX_DIMENSIONS)
            level: List[Any] = []
            if stack:
                stack[-1].append(level)
                kinds[-1] = True
            else:
                result = level
            stack.append(level)
            kinds.append(None)
            expect_item = True
        elif brace == "}":
            if not stack or (expect_item and stack[-1]):
                raise _malformed(text, "misplaced '}'")
            closed = stack.pop()
            shape = (len(closed), kinds.pop())
            depth = len(stack)
            if shapes.setdefault(depth, shape) != shape:
                raise _malformed(text, "sub-arrays of different lengths or depths")
            expect_item = False
            if not stack:
                if text[pos:].strip():
                    raise _malformed(text, "text after the array")
                return result if elements else []  # '{{}}' has no element: the empty array
        elif comma:
            if expect_item or not stack:
                raise _malformed(text, "misplaced ','")
            expect_item = True
        else:
            if not expect_item or not stack or kinds[-1] is True:
                raise _malformed(text, "misplaced element")
            kinds[-1] = False
            elements += 1
            if quoted is not None:
                stack[-1].append(decode_element(_UNESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted))
            elif bare.upper() == "NULL":
                stack[-1].append(None)
            else:
                stack[-1].append(decode_element(_UNESCAPE.sub(r"\1", bare) if "\\" in bare else bare))
            expect_item = False


def decode_array_binary(data: bytes, element_oid: int, decode_element: Callable[[bytes], Any]) -> List[Any]:
    """The nested list of an array's binary form; elements of another type than ``element_oid``
    are refused (the server sends the array's own element type)."""
    size = len(data)
    if size < 12:
        raise MalformedValueError("array: %s is shorter than its header" % describe(data))
    ndim, flags, oid = _HEADER.unpack_from(data)
    if not 0 <= ndim <= MAX_DIMENSIONS or flags not in (0, 1):
        raise MalformedValueError("array: header of %s is not valid (ndim %d, flags %d)"
                                  % (describe(data), ndim, flags))
    if oid != element_oid:
        raise MalformedValueError("array: elements of type %d where %d was expected" % (oid, element_oid))
    pos = 12 + 8 * ndim
    if size < pos:
        raise MalformedValueError("array: %d dimensions announced, %d bytes sent" % (ndim, size))
    dims = [_DIMENSION.unpack_from(data, 12 + 8 * i)[0] for i in range(ndim)]
    total = 1 if dims else 0
    for dim in dims:
        if dim < 0:
            raise MalformedValueError("array: negative dimension %d" % dim)
        total *= dim
    # Every element takes at least its 4-byte length: the count must fit in the bytes left
    # before a list of that size is built (a 20-byte reply claiming 2**31 elements is refused).
    if total * 4 > size - pos:
        raise MalformedValueError("array: %d elements announced, only %d bytes sent" % (total, size - pos))
    if ndim == 0 or total == 0:
        if pos != size:
            raise MalformedValueError("array: bytes after an empty array")
        return []
    flat: List[Any] = []
    append = flat.append
    unpack_length = _LENGTH.unpack_from
    for _ in range(total):
        if pos + 4 > size:
            raise MalformedValueError("array: element lengths run past the data")
        length = unpack_length(data, pos)[0]
        pos += 4
        if length == -1:
            append(None)
            continue
        if length < 0 or pos + length > size:
            raise MalformedValueError("array: element length %d does not fit the data" % length)
        append(decode_element(data[pos:pos + length]))
        pos += length
    if pos != size:
        raise MalformedValueError("array: %d bytes after the last element" % (size - pos))
    return _reshape(flat, dims)


def _reshape(flat: List[Any], dims: Sequence[int]) -> List[Any]:
    for width in reversed(dims[1:]):
        flat = [flat[i:i + width] for i in range(0, len(flat), width)]
    return flat


def is_list(value: Any) -> bool:
    """Whether a value is a sub-array when it sits in an array: a list or a tuple."""
    return isinstance(value, (list, tuple))


def array_shape(value: Sequence[Any], is_array: Callable[[Any], bool] = is_list) -> Tuple[List[int], List[Any]]:
    """(dimensions, elements in row-major order) of a nested list or tuple; refuses ragged
    nesting and more than :data:`MAX_DIMENSIONS` levels. An array without elements has no
    dimensions. ``is_array`` tells a nested level from an element (a registry makes a tuple
    subclass registered as a type of its own an element).

    Example::

        assert array_shape([[1, 2], [3, None]]) == ([2, 2], [1, 2, 3, None])
    """
    dims: List[int] = []
    probe: Any = value
    while is_array(probe):
        dims.append(len(probe))
        if len(dims) > MAX_DIMENSIONS:
            raise TypeCodecError("a list nested more than %d deep: PostgreSQL arrays have at most %d dimensions"
                                 % (MAX_DIMENSIONS, MAX_DIMENSIONS))
        if not probe:
            break
        probe = probe[0]
    flat: List[Any] = [value]
    for width in dims:
        level: List[Any] = []
        for item in flat:
            if not is_array(item) or len(item) != width:
                raise TypeCodecError("a ragged list: every sub-list of a PostgreSQL array must have the same "
                                     "length and depth")
            level.extend(item)
        flat = level
    if not flat:
        return [], []
    for item in flat:
        if is_array(item):
            raise TypeCodecError("a ragged list: every sub-list of a PostgreSQL array must have the same "
                                 "length and depth")
    return dims, flat


def encode_array_binary(dims: Sequence[int], flat: Sequence[Any], element_oid: int,
                        encode_element: Callable[[Any], bytes]) -> bytes:
    """The binary array of the elements ``flat`` laid out in ``dims`` (see :func:`array_shape`),
    lower bounds 1."""
    parts = [b""]
    pack_length = _LENGTH.pack
    has_null = 0
    for item in flat:
        if item is None:
            has_null = 1
            parts.append(b"\xff\xff\xff\xff")
        else:
            encoded = encode_element(item)
            parts.append(pack_length(len(encoded)))
            parts.append(encoded)
    parts[0] = _HEADER.pack(len(dims), has_null, element_oid) + b"".join(
        [_DIMENSION.pack(dim, 1) for dim in dims])
    return b"".join(parts)


def quote_array_element(text: str) -> str:
    """An element's text as array_in reads it: quoted and escaped when it must be."""
    if _NEEDS_QUOTES.search(text):
        return '"' + _ESCAPE.sub(r"\\\1", text) + '"'
    return text


def encode_array_text(value: Sequence[Any], encode_element: Callable[[Any], str],
                      is_array: Callable[[Any], bool] = is_list) -> str:
    """The text form of a nested list, each non-NULL element through ``encode_element``."""
    dims, flat = array_shape(value, is_array)
    if not dims:
        return "{}"
    items = ["NULL" if item is None else quote_array_element(encode_element(item)) for item in flat]
    for width in reversed(dims):
        items = ["{" + ",".join(items[i:i + width]) + "}" for i in range(0, len(items), width)]
    return items[0]
