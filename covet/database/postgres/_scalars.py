"""Codecs of PostgreSQL's simple types: bool, the integers and oid, the floats, the character
types, bytea, uuid, inet/cidr and json/jsonb, in the text and the binary wire formats.

Four kinds of function, one per direction and format, all pure:

- text decoders take the value's text (``str``, already decoded from the client encoding,
  which the connection sets to UTF-8) and return the Python value;
- binary decoders take the value's bytes (the ``typsend`` output of the type);
- text encoders return the text the type's input function accepts;
- binary encoders return the bytes the type's ``typreceive`` function accepts.

Decoders check lengths and shapes and raise :class:`MalformedValueError` for bytes no server
sends; the binary formats are those of the ``*send``/``*recv`` functions in PostgreSQL's
``src/backend/utils/adt/`` (``int.c``, ``float.c``, ``varlena.c``, ``uuid.c``, ``network.c``,
``jsonb.c``).

Example::

    assert decode_int4_binary(b"\\x00\\x00\\x01\\x00") == 256
    assert encode_bytea_text(b"\\x01\\xff") == "\\\\x01ff"
"""
import ipaddress
import json
from json.scanner import make_scanner
import re
import struct
import uuid
from typing import Any, Callable, Dict, Tuple, Union

from ._typeerrors import MalformedValueError, TypeCodecError, describe
from .oids import BOOL, BYTEA, CHAR, CIDR, FLOAT4, FLOAT8, INET, JSON, JSONB, OID, UUID

__all__ = [
    "decode_bool_text", "decode_bool_binary", "encode_bool_text", "encode_bool_binary",
    "decode_int_text", "int_binary_codec", "encode_int_text",
    "decode_oid_binary", "encode_oid_binary",
    "decode_float_text", "decode_float4_text", "decode_float4_binary", "decode_float8_binary",
    "encode_float_text", "encode_float4_binary", "encode_float8_binary",
    "decode_text", "decode_text_binary", "encode_text", "encode_text_binary",
    "decode_char_text", "decode_char_binary", "encode_char_text", "encode_char_binary",
    "decode_bytea_text", "decode_bytea_binary", "encode_bytea_text", "encode_bytea_binary",
    "decode_uuid_text", "decode_uuid_binary", "encode_uuid_text", "encode_uuid_binary",
    "decode_inet_text", "decode_cidr_text", "decode_inet_binary", "encode_inet_text", "encode_inet_binary",
    "IPValue", "Json", "json_codecs", "dump_json",
]

# --- bool: boolsend is one byte, 1 or 0; boolout prints 't' or 'f' -------------------------------

_BOOL_TEXT = {"t": True, "f": False}
_BOOL_BINARY = {b"\x01": True, b"\x00": False}


def decode_bool_text(text: str) -> bool:
    try:
        return _BOOL_TEXT[text]
    except KeyError:
        raise MalformedValueError("bool: %r is not 't' or 'f'" % text[:20], BOOL) from None


def decode_bool_binary(data: bytes) -> bool:
    try:
        return _BOOL_BINARY[bytes(data)]
    except KeyError:
        raise MalformedValueError("bool: %s is not one byte 0 or 1" % describe(data), BOOL) from None


def encode_bool_text(value: Any) -> str:
    return "t" if value else "f"


def encode_bool_binary(value: Any) -> bytes:
    return b"\x01" if value else b"\x00"


# --- integers: int2send/int4send/int8send are big-endian two's complement of 2, 4, 8 bytes -------

# int8out prints at most 20 characters ("-9223372036854775808"). Matched before int() sees them:
# int() would also take "1_000", " 12 " and non-ASCII digits, which no server sends.
_INT_TEXT = re.compile(r"-?[0-9]{1,20}", re.ASCII)


def decode_int_text(text: str) -> int:
    if _INT_TEXT.fullmatch(text) is None:
        raise MalformedValueError("integer: %r is not a decimal integer" % text[:30])
    return int(text)


def encode_int_text(value: Any) -> str:
    return str(int(value))


def int_binary_codec(size: int, name: str, oid: int) -> Tuple[Callable[[bytes], int], Callable[[Any], bytes]]:
    """The binary decoder and encoder of a ``size``-byte signed integer type."""
    low, high = -(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1
    from_bytes = int.from_bytes

    def decode(data: bytes) -> int:
        if len(data) != size:
            raise MalformedValueError("%s: %d bytes, not %d" % (name, len(data), size), oid)
        return from_bytes(data, "big", signed=True)

    def encode(value: Any) -> bytes:
        number = int(value)
        if not low <= number <= high:
            raise TypeCodecError("%d is out of range for %s (%d to %d)" % (number, name, low, high), oid)
        return number.to_bytes(size, "big", signed=True)

    return decode, encode


def decode_oid_binary(data: bytes) -> int:
    # oidsend: an unsigned 32-bit integer.
    if len(data) != 4:
        raise MalformedValueError("oid: %d bytes, not 4" % len(data), OID)
    return int.from_bytes(data, "big")


def encode_oid_binary(value: Any) -> bytes:
    number = int(value)
    if not 0 <= number <= 0xFFFFFFFF:
        raise TypeCodecError("%d is out of range for oid (0 to 4294967295)" % number, OID)
    return number.to_bytes(4, "big")


# --- floats: float4send/float8send are IEEE 754 big-endian; float8out prints the shortest text
# that reads back exactly (PostgreSQL 12+, extra_float_digits >= 1), plus NaN and [-]Infinity ---

_FLOAT_TEXT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|NaN|-?Infinity", re.ASCII)
_F4 = struct.Struct("!f")
_F8 = struct.Struct("!d")


def decode_float_text(text: str) -> float:
    if _FLOAT_TEXT.fullmatch(text) is None:
        raise MalformedValueError("float: %r is not a number" % text[:40])
    return float(text)


def decode_float4_text(text: str) -> float:
    """The float4's own value, as in binary: float4out prints the shortest digits that read back
    to the same float4 ("0.1"), whose float8 is another number (0.1, not 0.10000000149011612).
    Rounded through float4 here, so a column gives one float whichever format it is read in
    (psycopg's text and binary loaders differ there; asyncpg's binary gives this value)."""
    return _F4.unpack(_F4.pack(decode_float_text(text)))[0]  # type: ignore[no-any-return]


def decode_float4_binary(data: bytes) -> float:
    if len(data) != 4:
        raise MalformedValueError("float4: %d bytes, not 4" % len(data), FLOAT4)
    return _F4.unpack(data)[0]  # type: ignore[no-any-return]


def decode_float8_binary(data: bytes) -> float:
    if len(data) != 8:
        raise MalformedValueError("float8: %d bytes, not 8" % len(data), FLOAT8)
    return _F8.unpack(data)[0]  # type: ignore[no-any-return]


def encode_float_text(value: Any) -> str:
    number = float(value)
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def encode_float4_binary(value: Any) -> bytes:
    try:
        return _F4.pack(float(value))
    except OverflowError:
        raise TypeCodecError("%r is out of range for float4" % (value,), FLOAT4) from None


def encode_float8_binary(value: Any) -> bytes:
    return _F8.pack(float(value))


# --- text, varchar, bpchar, name: textsend is the client-encoded string itself ------------------

def decode_text(text: str) -> str:
    return text


def decode_text_binary(data: bytes) -> str:
    return str(data, "utf-8")


def encode_text(value: Any) -> str:
    return str(value)


def encode_text_binary(value: Any) -> bytes:
    return str(value).encode("utf-8")


# --- "char" (OID 18): one byte. charout prints bytes 0x80-0xFF as \ooo octal (PostgreSQL 15+),
# the byte itself before; Python gets a one-character str whose code point is the byte. ---------

_CHAR_OCTAL = re.compile(r"\\([0-3][0-7]{2})", re.ASCII)


def decode_char_text(text: str) -> str:
    match = _CHAR_OCTAL.fullmatch(text)
    return chr(int(match.group(1), 8)) if match else text


def decode_char_binary(data: bytes) -> str:
    # charsend sends the zero byte for the empty "char", which charout prints as ''.
    if len(data) != 1:
        raise MalformedValueError('"char": %d bytes, not 1' % len(data), CHAR)
    return "" if data[0] == 0 else chr(data[0])


def encode_char_text(value: Any) -> str:
    text = str(value)
    if len(text) > 1 or (text and ord(text) > 0xFF):
        raise TypeCodecError('%r is not one character of code point 0-255 for "char"' % text[:20], CHAR)
    return text


def encode_char_binary(value: Any) -> bytes:
    text = encode_char_text(value)
    return bytes((ord(text),)) if text else b"\x00"


# --- bytea: the binary format is the bytes; the text format is hex ("\x0aff", bytea_output
# 'hex', the default since 9.0) or, under bytea_output 'escape', octal escapes "\ooo" and "\\" ---

_HEX_BODY = re.compile(r"(?:[0-9a-fA-F]{2})*", re.ASCII)
# byteaout in escape mode prints bytes 0x20-0x7E as themselves (backslash doubled), the rest as \ooo
_ESCAPE_BODY = re.compile(r"(?:[\x20-\x5b\x5d-\x7e]|\\[0-3][0-7]{2}|\\\\)*", re.ASCII)
_ESCAPE_ITEM = re.compile(r"\\([0-3][0-7]{2})|\\\\")


def _unescape_octal(match: "re.Match[str]") -> str:
    return chr(int(match.group(1), 8)) if match.group(1) else "\\"


def decode_bytea_text(text: str) -> bytes:
    if text.startswith("\\x"):
        body = text[2:]
        if _HEX_BODY.fullmatch(body) is None:
            raise MalformedValueError("bytea: hex text %r is not pairs of hex digits" % text[:40], BYTEA)
        return bytes.fromhex(body)
    if _ESCAPE_BODY.fullmatch(text) is None:
        raise MalformedValueError("bytea: escape text %r has a stray backslash or an unescaped byte" % text[:40], BYTEA)
    return _ESCAPE_ITEM.sub(_unescape_octal, text).encode("latin-1")


def decode_bytea_binary(data: bytes) -> bytes:
    return bytes(data)


def encode_bytea_text(value: Any) -> str:
    return "\\x" + bytes(value).hex()


def encode_bytea_binary(value: Any) -> bytes:
    return bytes(value)


# --- uuid: uuid_send is the 16 bytes; uuid_out the 36-character hyphenated form -----------------

_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)


def decode_uuid_text(text: str) -> uuid.UUID:
    if _UUID_TEXT.fullmatch(text) is None:
        raise MalformedValueError("uuid: %r is not a hyphenated UUID" % text[:40], UUID)
    return uuid.UUID(text)


_new_uuid = object.__new__
_set_attribute = object.__setattr__
_UUID_SAFETY = uuid.SafeUUID.unknown


def decode_uuid_binary(data: bytes) -> uuid.UUID:
    if len(data) != 16:
        raise MalformedValueError("uuid: %d bytes, not 16" % len(data), UUID)
    # PERF: what uuid.UUID(bytes=...) stores (its int and is_safe slots), without its argument
    # checks, which these 16 bytes pass by their length: a third of the time per value.
    value = _new_uuid(uuid.UUID)
    _set_attribute(value, "int", int.from_bytes(data, "big"))
    _set_attribute(value, "is_safe", _UUID_SAFETY)
    return value  # type: ignore[no-any-return]


def encode_uuid_text(value: Any) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def encode_uuid_binary(value: Any) -> bytes:
    return (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).bytes


# --- inet and cidr (network.c, inet_send): family (PGSQL_AF_INET = 2, PGSQL_AF_INET6 = 3),
# prefix bits, is_cidr, address length, address. inet without a prefix shorter than the address
# is an IPv4Address/IPv6Address, with one an IPv4Interface/IPv6Interface; cidr is a network. ----

IPValue = Union[ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface,
                ipaddress.IPv6Interface, ipaddress.IPv4Network, ipaddress.IPv6Network]

_INET_FAMILY = {2: (4, 32), 3: (16, 128)}


def decode_inet_text(text: str) -> IPValue:
    try:
        if "/" in text:
            # inet_out omits a full-length prefix; read one anyway as the address, as in binary
            interface = ipaddress.ip_interface(text)
            return interface.ip if interface.network.prefixlen == interface.max_prefixlen else interface
        return ipaddress.ip_address(text)
    except ValueError:
        raise MalformedValueError("inet: %r is not an address" % text[:60], INET) from None


def decode_cidr_text(text: str) -> IPValue:
    try:
        return ipaddress.ip_network(text)
    except ValueError:
        raise MalformedValueError("cidr: %r is not a network" % text[:60], CIDR) from None


def decode_inet_binary(data: bytes) -> IPValue:
    if len(data) < 4 or data[0] not in _INET_FAMILY:
        raise MalformedValueError("inet/cidr: %s has no valid header" % describe(data), INET)
    size, max_bits = _INET_FAMILY[data[0]]
    bits, is_cidr, length = data[1], data[2], data[3]
    if length != size or len(data) != 4 + size or bits > max_bits or is_cidr > 1:
        raise MalformedValueError("inet/cidr: %s does not match its header" % describe(data), INET)
    address = ipaddress.ip_address(bytes(data[4:]))
    try:
        if is_cidr:
            return ipaddress.ip_network((address, bits))
        if bits == max_bits:
            return address
        return ipaddress.ip_interface((address, bits))
    except ValueError:
        raise MalformedValueError("cidr: %s has bits set past its prefix" % describe(data), CIDR) from None


def _ip_parts(value: Any) -> Tuple[Any, int, int]:
    """(address, prefix bits, is_cidr) of an ipaddress object."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value.network_address, value.prefixlen, 1
    if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        return value.ip, value.network.prefixlen, 0
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value, value.max_prefixlen, 0
    raise TypeCodecError("%r is not an ipaddress address, interface or network" % (value,), INET)


def encode_inet_text(value: Any) -> str:
    address, bits, is_cidr = _ip_parts(value)
    if is_cidr or bits != address.max_prefixlen:
        return "%s/%d" % (address, bits)
    return str(address)


def encode_inet_binary(value: Any) -> bytes:
    address, bits, is_cidr = _ip_parts(value)
    packed: bytes = address.packed
    return bytes((2 if len(packed) == 4 else 3, bits, is_cidr, len(packed))) + packed


# --- json and jsonb: json's binary format is its text; jsonb_send prefixes version 1 -----------

class Json:
    """A Python value to send as JSON: ``Json([1, 2])`` is the JSON array, where a bare list is a
    PostgreSQL array. A ``dict`` needs no wrapper.

    :param value: anything ``json.dumps`` takes.
    :param oid: the type to declare, jsonb (3802, the default) or json (114); PostgreSQL casts
        either to the other on assignment.

    Example::

        await conn.execute("INSERT INTO events (tags) VALUES ($1)", Json(["a", "b"]))
    """

    __slots__ = ("value", "oid")

    def __init__(self, value: Any, oid: int = JSONB) -> None:
        if oid not in (JSON, JSONB):
            raise ValueError("Json oid must be 114 (json) or 3802 (jsonb), not %r" % (oid,))
        self.value = value
        self.oid = oid

    def __repr__(self) -> str:
        return "Json(%r)" % (self.value,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Json) and (self.value, self.oid) == (other.value, other.oid)

    __hash__ = None  # type: ignore[assignment]


def dump_json(value: Any) -> str:
    """JSON text as PostgreSQL takes it: NaN and Infinity refused here (json_in refuses them too,
    with a less helpful message), non-ASCII characters kept as they are (the client encoding is
    UTF-8), no spaces."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def json_codecs(loads: Callable[[str], Any] = json.loads,
                dumps: Callable[[Any], str] = dump_json) -> Dict[str, Callable[[Any], Any]]:
    """The json and jsonb decoders and encoders built on ``loads``/``dumps``, by name."""
    # PERF: json.loads is three Python calls around the C scanner; a document without whitespace
    # around it (all of jsonb's output) is decoded by the scanner directly, and anything else goes
    # through json.loads, which skips the whitespace or words the error.
    scan = make_scanner(json.JSONDecoder()) if loads is json.loads else None

    def decode_json_text(text: str) -> Any:
        try:
            if scan is not None:
                try:
                    value, end = scan(text, 0)
                except StopIteration:
                    return loads(text)
                if end == len(text):
                    return value
            return loads(text)
        except RecursionError:
            # The C scanner recurses once per nesting level: a deep document raises RecursionError,
            # which must not escape as if the interpreter itself had failed.
            raise TypeCodecError("json: nested too deeply to decode", JSON) from None

    def decode_json_binary(data: bytes) -> Any:
        return decode_json_text(bytes(data).decode("utf-8"))

    def decode_jsonb_binary(data: bytes) -> Any:
        if data[:1] != b"\x01":
            raise MalformedValueError("jsonb: binary format version %s, not 1" % describe(data[:1]), JSONB)
        return decode_json_text(bytes(data[1:]).decode("utf-8"))

    def encode_json_text(value: Any) -> str:
        if isinstance(value, Json):
            value = value.value
        try:
            return dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeCodecError("json: %s" % exc, JSON) from None

    def encode_json_binary(value: Any) -> bytes:
        return encode_json_text(value).encode("utf-8")

    def encode_jsonb_binary(value: Any) -> bytes:
        return b"\x01" + encode_json_text(value).encode("utf-8")

    return {
        "decode_text": decode_json_text, "decode_json_binary": decode_json_binary,
        "decode_jsonb_binary": decode_jsonb_binary, "encode_text": encode_json_text,
        "encode_json_binary": encode_json_binary, "encode_jsonb_binary": encode_jsonb_binary,
    }
