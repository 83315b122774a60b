"""Python values <-> PostgreSQL wire values, sans-IO: the type registry the connection consults
for every parameter it binds and every column it reads.

A :class:`TypeRegistry` maps a type OID to a :class:`TypeCodec` (text and binary decoders and
encoders) and a Python type to the OID its values are sent as. The connection asks it three
things:

- ``result_format(oid)``: 1 to ask for a column in binary (only for OIDs it can decode so),
  0 for text. Unknown OIDs are read as text and come back as ``str``.
- ``row_decoder(oids, formats)``: once per row description, a function turning one DataRow's
  field bytes into a tuple of Python values.
- ``encode(value)``: a :class:`Parameter` (type OID, format code, bytes or None for NULL) for a
  parameter whose type the server has not said; ``encode_as(value, oid)`` for one whose type
  it has (after Describe).

The rules for parameters (docs/postgres-types.md has the table): ``None`` is NULL; ``bool``
bool; ``int`` the smallest of int2/int4/int8 that holds it (PostgreSQL widens implicitly but
never narrows), numeric past 64 bits; ``float`` float8; ``Decimal`` numeric; ``str`` text with
OID 0, so the server infers the type from the context (a jsonb, enum or uuid column takes it);
``bytes``/``bytearray``/``memoryview`` bytea; aware ``datetime`` timestamptz, naive
``datetime`` timestamp; ``date``, ``time`` (timetz when it has an offset), ``timedelta``
interval; ``UUID``; ``ipaddress`` addresses and interfaces inet, networks cidr; ``dict`` and
:class:`Json` jsonb; ``list``/``tuple`` an array of its elements' type.

Example::

    registry = DEFAULT_REGISTRY.copy()
    assert registry.encode(42) == Parameter(INT2, 1, b"\\x00\\x2a")
    decode_row = registry.row_decoder([INT4, TEXT], [1, 0])
    assert decode_row([b"\\x00\\x00\\x00\\x07", b"seven"]) == (7, "seven")
"""
import datetime as _dt
import decimal
import functools
import ipaddress
import uuid
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

from . import _numeric as num
from . import _scalars as sc
from . import _temporal as tm
from .arrays import array_shape, decode_array_binary, decode_array_text, encode_array_binary, encode_array_text
from ._scalars import Json
from ._typeerrors import MalformedValueError, TypeCodecError, describe
from .oids import (BOOL, BPCHAR, BYTEA, CHAR, CIDR, DATE, FLOAT4, FLOAT8, INET, INT2, INT4, INT8, INTERVAL, JSON, JSONB,
                   NAME, NUMERIC, OID, TEXT, TIME, TIMESTAMP, TIMESTAMPTZ, TIMETZ, UNSPECIFIED, UUID, VARCHAR)
from .oids import (BOOL_ARRAY, BPCHAR_ARRAY, BYTEA_ARRAY, CHAR_ARRAY, CIDR_ARRAY, DATE_ARRAY, FLOAT4_ARRAY,
                   FLOAT8_ARRAY, INET_ARRAY, INT2_ARRAY, INT4_ARRAY, INT8_ARRAY, INTERVAL_ARRAY, JSON_ARRAY,
                   JSONB_ARRAY, NAME_ARRAY, NUMERIC_ARRAY, OID_ARRAY, TEXT_ARRAY, TIME_ARRAY, TIMESTAMP_ARRAY,
                   TIMESTAMPTZ_ARRAY, TIMETZ_ARRAY, UUID_ARRAY, VARCHAR_ARRAY)

__all__ = [
    "TypeCodecError", "MalformedValueError", "Json", "Parameter", "TypeCodec", "TypeRegistry",
    "DEFAULT_REGISTRY", "register_type", "result_format", "TEXT_FORMAT", "BINARY_FORMAT",
    "BOOL", "BYTEA", "CHAR", "NAME", "INT8", "INT2", "INT4", "TEXT", "OID", "JSON", "JSONB", "FLOAT4",
    "FLOAT8", "CIDR", "INET", "BPCHAR", "VARCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL",
    "TIMETZ", "NUMERIC", "UUID", "UNSPECIFIED",
]

TEXT_FORMAT, BINARY_FORMAT = 0, 1

_ARRAY = -1  # what the classifier of list and tuple returns: not a type OID, the array path


class Parameter(NamedTuple):
    """One bound parameter: its type OID for Parse (0 = let the server infer), its format code
    for Bind (0 text, 1 binary) and its bytes (None for NULL)."""

    oid: int
    format: int
    data: Optional[bytes]


class TypeCodec(NamedTuple):
    """How one PostgreSQL type crosses the wire.

    ``decode_text(str)`` and ``decode_binary(bytes)`` return the Python value;
    ``encode_text(value) -> str`` and ``encode_binary(value) -> bytes`` produce the wire value.
    ``python_types`` are the Python types a parameter declared of this type is encoded from with
    these encoders (others go as their own text, which the type's input function parses).
    ``binary_results`` asks for result columns in binary; ``binary_params`` sends parameters of
    this type in binary. Arrays have ``element_oid``; an element type names its
    ``array_oid``.
    """

    oid: int
    name: str
    decode_text: Callable[[str], Any]
    decode_binary: Optional[Callable[[bytes], Any]]
    encode_text: Callable[[Any], str]
    encode_binary: Optional[Callable[[Any], bytes]]
    python_types: Tuple[type, ...]
    binary_results: bool
    binary_params: bool
    array_oid: int = 0
    element_oid: int = 0


# The UTF-8 text of a field (bytes, bytearray or memoryview): the connection sets
# client_encoding to UTF8, so every text value arrives in it.
_utf8 = functools.partial(str, encoding="utf-8")


def _text_decoder(decode: Callable[[str], Any]) -> Callable[[bytes], Any]:
    if decode is sc.decode_text:
        return _utf8

    def decode_field(data: bytes) -> Any:
        return decode(str(data, "utf-8"))

    return decode_field


def _int_oid(value: int) -> int:
    if -0x8000 <= value <= 0x7FFF:
        return INT2
    if -0x80000000 <= value <= 0x7FFFFFFF:
        return INT4
    if -0x8000000000000000 <= value <= 0x7FFFFFFFFFFFFFFF:
        return INT8
    return NUMERIC


def _time_oid(value: _dt.time) -> int:
    return TIMETZ if tm.time_offset(value) is not None else TIME


# Declared types whose own encoders need more than the Python type: a naive datetime for a
# timestamptz parameter goes as its plain text instead, without an offset, which the server reads
# in its session TimeZone (as it would a timestamp parameter cast to timestamptz); a naive time
# for timetz likewise.
_ENCODER_NEEDS = {TIMESTAMPTZ: tm.is_aware, TIMETZ: tm.is_aware}

# Elements an array may mix, and the type they are then all sent as.
_WIDEN = {frozenset({INT2, INT4}): INT4, frozenset({INT2, INT8}): INT8, frozenset({INT4, INT8}): INT8,
          frozenset({INT2, INT4, INT8}): INT8}
_WIDEN_TO = {FLOAT8: (INT2, INT4, INT8), NUMERIC: (INT2, INT4, INT8)}


class TypeRegistry:
    """Codecs by type OID and encoders by Python type. Registries are cheap to copy: a
    connection pool takes ``DEFAULT_REGISTRY.copy()`` and resolves named types for its database.

    Example::

        registry = DEFAULT_REGISTRY.copy()
        registry.register_type("citext", decode_text=str.lower)   # OID looked up at connect
        assert registry.unresolved_types() == ("citext",)
        registry.resolve_type("citext", oid=16390, array_oid=16395)
        assert registry.decode(16390, 0, b"MiXeD") == "mixed"
    """

    def __init__(self) -> None:
        self._codecs: Dict[int, TypeCodec] = {}
        self._decoders: Dict[Tuple[int, int], Callable[[bytes], Any]] = {}
        self._classifiers: Dict[type, Callable[[Any], int]] = {}
        self._pending: Dict[str, Dict[str, Any]] = {}

    def copy(self) -> "TypeRegistry":
        """An independent registry with the same codecs: registering on it leaves this one alone."""
        clone = TypeRegistry()
        clone._codecs = dict(self._codecs)
        clone._decoders = dict(self._decoders)
        clone._classifiers = dict(self._classifiers)
        clone._pending = {name: dict(spec) for name, spec in self._pending.items()}
        for codec in self._codecs.values():
            if codec.element_oid:  # array codecs consult their registry: rebuild them on the clone's
                clone._set(clone._array_codec(clone._codecs[codec.element_oid], codec.oid))
        return clone

    # --- registration ---------------------------------------------------------------------------

    def register_type(self, oid_or_name: Union[int, str], *, name: Optional[str] = None,
                      decode_text: Optional[Callable[[str], Any]] = None,
                      decode_binary: Optional[Callable[[bytes], Any]] = None,
                      encode_text: Optional[Callable[[Any], str]] = None,
                      encode_binary: Optional[Callable[[Any], bytes]] = None,
                      python_types: Union[type, Tuple[type, ...]] = (),
                      array_oid: int = 0, binary_results: Optional[bool] = None,
                      binary_params: Optional[bool] = None) -> None:
        """Add or replace the codec of a type, by OID or by name (resolved when the connection
        looks the name up in ``pg_type``: see :meth:`unresolved_types`).

        :param decode_text: text -> value; default: the text itself.
        :param decode_binary: bytes -> value; without it results of this type come as text.
        :param encode_text: value -> text for the type's input function; default ``str``.
        :param encode_binary: value -> bytes for the type's receive function.
        :param python_types: values of these types are sent as this type (binary when
            ``encode_binary`` is given, else text).
        :param array_oid: the OID of the type's array, which then decodes and encodes too.
        :param binary_results: ask for results in binary (default: when ``decode_binary`` is given).
        :param binary_params: send inferred parameters in binary (default: when ``encode_binary`` is given).

        Example::

            register_type(600, name="point", decode_text=lambda t: tuple(map(float, t[1:-1].split(","))),
                          encode_text=lambda p: "(%r,%r)" % p, array_oid=1017)
        """
        spec: Dict[str, Any] = {"name": name, "decode_text": decode_text, "decode_binary": decode_binary,
                "encode_text": encode_text, "encode_binary": encode_binary,
                "python_types": python_types if isinstance(python_types, tuple) else (python_types,),
                "array_oid": array_oid, "binary_results": binary_results, "binary_params": binary_params}
        if isinstance(oid_or_name, str):
            spec["name"] = name or oid_or_name
            self._pending[oid_or_name] = spec
            return
        if not isinstance(oid_or_name, int) or isinstance(oid_or_name, bool) or not 0 < oid_or_name <= 0xFFFFFFFF:
            raise ValueError("a type OID is an int from 1 to 4294967295, not %r" % (oid_or_name,))
        self._add(oid_or_name, **spec)

    def unresolved_types(self) -> Tuple[str, ...]:
        """Type names registered by name whose OIDs are not known yet. The connection looks them
        up once at connect (``SELECT typname, oid, typarray FROM pg_type WHERE typname = ANY($1)``)
        and calls :meth:`resolve_type` for each."""
        return tuple(self._pending)

    def resolve_type(self, name: str, oid: int, array_oid: int = 0) -> None:
        """Give a type registered by name its OID (and its array's) in this database."""
        spec = self._pending.pop(name)
        spec["array_oid"] = spec["array_oid"] or array_oid
        self._add(oid, **spec)

    def _add(self, oid: int, *, name: Optional[str], decode_text: Optional[Callable[[str], Any]],
             decode_binary: Optional[Callable[[bytes], Any]], encode_text: Optional[Callable[[Any], str]],
             encode_binary: Optional[Callable[[Any], bytes]], python_types: Tuple[type, ...], array_oid: int,
             binary_results: Optional[bool], binary_params: Optional[bool]) -> None:
        existing = self._codecs.get(oid)
        if not array_oid and existing is not None:
            array_oid = existing.array_oid  # replacing int4's codec keeps int4[] working
        codec = TypeCodec(
            oid=oid, name=name or "oid %d" % oid, decode_text=decode_text or sc.decode_text,
            decode_binary=decode_binary, encode_text=encode_text or str, encode_binary=encode_binary,
            python_types=python_types,
            binary_results=decode_binary is not None if binary_results is None else binary_results,
            binary_params=encode_binary is not None if binary_params is None else binary_params,
            array_oid=array_oid)
        if codec.binary_results and codec.decode_binary is None:
            raise ValueError("binary_results needs decode_binary")
        if codec.binary_params and codec.encode_binary is None:
            raise ValueError("binary_params needs encode_binary")
        self._set(codec)
        for python_type in python_types:
            self._classifiers[python_type] = functools.partial(_constant, oid)
        if array_oid:
            self._set(self._array_codec(codec, array_oid))

    def _set(self, codec: TypeCodec) -> None:
        self._codecs[codec.oid] = codec
        self._decoders[codec.oid, TEXT_FORMAT] = _text_decoder(codec.decode_text)
        if codec.decode_binary is not None:
            self._decoders[codec.oid, BINARY_FORMAT] = codec.decode_binary
        else:
            self._decoders.pop((codec.oid, BINARY_FORMAT), None)

    def _array_codec(self, element: TypeCodec, array_oid: int) -> TypeCodec:
        element_text = element.decode_text
        element_binary = element.decode_binary
        element_oid = element.oid

        def decode_text(text: str) -> List[Any]:
            return decode_array_text(text, element_text)

        decode_binary: Optional[Callable[[bytes], List[Any]]] = None
        if element_binary is not None:
            def decode_binary(data: bytes) -> List[Any]:
                return decode_array_binary(data, element_oid, element_binary)

        def encode_text(value: Any) -> str:
            return encode_array_text(value, element.encode_text, self._is_array)

        # Arrays come back in binary whatever their element (text[] too): length-prefixed elements
        # decode faster than the text format's quoting can be parsed in Python.
        return TypeCodec(
            oid=array_oid, name=element.name + "[]", decode_text=decode_text, decode_binary=decode_binary,
            encode_text=encode_text, encode_binary=None, python_types=(list, tuple),
            binary_results=decode_binary is not None, binary_params=False, element_oid=element_oid)

    # --- lookups --------------------------------------------------------------------------------

    def codec(self, oid: int) -> Optional[TypeCodec]:
        """The codec of a type OID, None for a type this registry does not know."""
        return self._codecs.get(oid)

    def type_name(self, oid: int) -> str:
        codec = self._codecs.get(oid)
        return codec.name if codec else "oid %d" % oid

    def result_format(self, oid: int) -> int:
        """The format code to ask for a result column of this type: 1 (binary) where this
        registry decodes binary and that is the faster way, else 0 (text)."""
        codec = self._codecs.get(oid)
        return BINARY_FORMAT if codec is not None and codec.binary_results else TEXT_FORMAT

    # --- decoding -------------------------------------------------------------------------------

    def decoder(self, oid: int, format: int) -> Callable[[bytes], Any]:
        """The function turning one non-NULL field of this type and format into its value. It
        may raise any exception on malformed bytes: :meth:`decode` and :meth:`row_decoder`
        turn those into :class:`TypeCodecError`."""
        found = self._decoders.get((oid, format))
        if found is not None:
            return found
        if format == TEXT_FORMAT:
            return _utf8  # an unknown type reads as its text
        if format == BINARY_FORMAT:
            return functools.partial(_no_binary_decoder, oid)
        raise MalformedValueError("format code %r is neither 0 (text) nor 1 (binary)" % (format,), oid)

    def decode(self, oid: int, format: int, data: Optional[bytes]) -> Any:
        """One field's value (None for NULL).

        Example::

            assert DEFAULT_REGISTRY.decode(INT4, 0, b"-12") == -12
        """
        if data is None:
            return None
        try:
            return self.decoder(oid, format)(data)
        except TypeCodecError:
            raise
        except Exception as exc:
            raise self._decode_failure(oid, data, exc) from exc

    def row_decoder(self, oids: Sequence[int],
                    formats: Sequence[int]) -> Callable[[Sequence[Optional[bytes]]], Tuple[Any, ...]]:
        """A function decoding one row's fields (None for NULL) into a tuple; build it once per
        row description (a prepared statement keeps it).

        Example::

            decode_row = DEFAULT_REGISTRY.row_decoder([INT2, BOOL], [1, 1])
            assert decode_row([b"\\x00\\x05", None]) == (5, None)
        """
        if len(oids) != len(formats):
            raise ValueError("%d type OIDs and %d format codes" % (len(oids), len(formats)))
        decoders = tuple(self.decoder(oid, fmt) for oid, fmt in zip(oids, formats))
        width = len(decoders)
        oid_list = tuple(oids)
        decode_fields = _unrolled_decoder(decoders)

        def decode_row(fields: Sequence[Optional[bytes]]) -> Tuple[Any, ...]:
            if len(fields) != width:
                raise MalformedValueError("a row of %d fields where %d columns were described" % (len(fields), width))
            try:
                return decode_fields(fields)
            except Exception:
                pass
            # PERF: the try above costs nothing while rows decode; on a failure each field is
            # decoded again on its own to name the column and the type in the error.
            for index, (decode, field, oid) in enumerate(zip(decoders, fields, oid_list)):
                try:
                    if field is not None:
                        decode(field)
                except TypeCodecError as exc:
                    raise type(exc)("column %d (%s): %s" % (index + 1, self.type_name(oid), exc), oid) from exc
                except Exception as exc:
                    failure = self._decode_failure(oid, field, exc)
                    raise type(failure)("column %d: %s" % (index + 1, failure), oid) from exc
            raise TypeCodecError("a row failed to decode and then decoded")  # a decoder with state

        return decode_row

    def _decode_failure(self, oid: int, data: Optional[bytes], exc: BaseException) -> TypeCodecError:
        if isinstance(exc, TypeCodecError):
            return exc
        return MalformedValueError("%s value %s cannot be decoded: %s: %s"
                                   % (self.type_name(oid), describe(data), type(exc).__name__, exc), oid)

    # --- encoding -------------------------------------------------------------------------------

    def _classify(self, value: Any) -> int:
        kind = type(value)
        classify = self._classifiers.get(kind)
        if classify is None:
            for base in kind.__mro__[1:]:
                classify = self._classifiers.get(base)
                if classify is not None:
                    self._classifiers[kind] = classify  # a subclass (IntEnum, a str subclass) once
                    break
            else:
                raise TypeCodecError("cannot send a %s.%s to PostgreSQL: register its type with register_type(..., "
                                     "python_types=...)" % (kind.__module__, kind.__qualname__))
        return classify(value)

    def encode(self, value: Any) -> Parameter:
        """The parameter for a value whose type the server has not described: the rules in
        this module's docstring.

        Example::

            assert DEFAULT_REGISTRY.encode("x") == Parameter(0, 0, b"x")
            assert DEFAULT_REGISTRY.encode(None) == Parameter(0, 0, None)
        """
        if value is None:
            return Parameter(UNSPECIFIED, TEXT_FORMAT, None)
        try:
            oid = self._classify(value)
            if oid == UNSPECIFIED:
                return Parameter(UNSPECIFIED, TEXT_FORMAT, value.encode("utf-8"))
            if oid == _ARRAY:
                return self._encode_list(value)
            codec = self._codecs[oid]
            if codec.binary_params:
                return Parameter(oid, BINARY_FORMAT, codec.encode_binary(value))  # type: ignore[misc]
            return Parameter(oid, TEXT_FORMAT, codec.encode_text(value).encode("utf-8"))
        except TypeCodecError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            raise TypeCodecError("cannot send %s: %s" % (_show(value), exc)) from exc

    def encode_as(self, value: Any, oid: int) -> Parameter:
        """The parameter for a value whose type the server described (ParameterDescription):
        the type's own encoder for its Python types, else the value's text for the type's
        input function to parse (``"42"`` for an int4 from a str, ``"1"`` for a bool from an
        int). An unknown OID (an enum, a domain) takes the text too.

        Example::

            assert DEFAULT_REGISTRY.encode_as(7, INT8) == Parameter(INT8, 1, b"\\0" * 7 + b"\\x07")
            assert DEFAULT_REGISTRY.encode_as("7", INT8) == Parameter(INT8, 0, b"7")
        """
        if value is None:
            return Parameter(oid, TEXT_FORMAT, None)
        try:
            codec = self._codecs.get(oid)
            if codec is not None and codec.element_oid and isinstance(value, (list, tuple)):
                return self._encode_declared_list(value, codec)
            if codec is not None and self._fits(codec, value):
                if codec.binary_params:
                    return Parameter(oid, BINARY_FORMAT, codec.encode_binary(value))  # type: ignore[misc]
                return Parameter(oid, TEXT_FORMAT, codec.encode_text(value).encode("utf-8"))
            return Parameter(oid, TEXT_FORMAT, self._text_of(value).encode("utf-8"))
        except TypeCodecError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            raise TypeCodecError("cannot send %s as %s: %s" % (_show(value), self.type_name(oid), exc), oid) from exc

    def _fits(self, codec: TypeCodec, value: Any) -> bool:
        if not isinstance(value, codec.python_types):
            return False
        needs = _ENCODER_NEEDS.get(codec.oid)
        return needs is None or needs(value)

    def _text_of(self, value: Any) -> str:
        """A value's text as its inferred type prints it: what an input function parses."""
        oid = self._classify(value)
        if oid == UNSPECIFIED:
            return value  # type: ignore[no-any-return]
        if oid == _ARRAY:
            return encode_array_text(value, self._text_of, self._is_array)
        return self._codecs[oid].encode_text(value)

    def _is_array(self, value: Any) -> bool:
        # a tuple subclass registered as a type of its own (a NamedTuple Point) is an element
        return isinstance(value, (list, tuple)) and self._classify(value) == _ARRAY

    def _encode_list(self, value: Sequence[Any]) -> Parameter:
        dims, flat = array_shape(value, self._is_array)
        oids = {self._classify(item) for item in flat if item is not None}
        if not oids or oids == {UNSPECIFIED}:
            # '{}', all NULLs, or strs: type 0 and text, so the server takes the array type from the
            # context as it does for a str ("WHERE id = ANY($1)" works for int, uuid or text ids).
            text = encode_array_text(value, str, self._is_array) if dims else "{}"
            return Parameter(UNSPECIFIED, TEXT_FORMAT, text.encode("utf-8"))
        element_oid = self._common_oid(oids)
        element = self._codecs[element_oid]
        if not element.array_oid:
            raise TypeCodecError("type %s has no array type registered" % element.name, element_oid)
        if element.encode_binary is not None:
            return Parameter(element.array_oid, BINARY_FORMAT,
                             encode_array_binary(dims, flat, element_oid, element.encode_binary))
        text = encode_array_text(value, element.encode_text, self._is_array)
        return Parameter(element.array_oid, TEXT_FORMAT, text.encode("utf-8"))

    def _common_oid(self, oids: Set[int]) -> int:
        if len(oids) == 1:
            return next(iter(oids))
        widened = _WIDEN.get(frozenset(oids))
        if widened is not None:
            return widened
        for target, sources in _WIDEN_TO.items():
            if target in oids and oids - {target} <= set(sources):
                return target
        names = sorted("text (str)" if oid == UNSPECIFIED else "an array" if oid == _ARRAY else self.type_name(oid)
                       for oid in oids)
        raise TypeCodecError("a list mixing %s: a PostgreSQL array has one element type" % ", ".join(names))

    def _encode_declared_list(self, value: Sequence[Any], codec: TypeCodec) -> Parameter:
        element = self._codecs[codec.element_oid]
        dims, flat = array_shape(value, self._is_array)
        if element.encode_binary is not None and all(item is None or self._fits(element, item) for item in flat):
            return Parameter(codec.oid, BINARY_FORMAT,
                             encode_array_binary(dims, flat, element.oid, element.encode_binary))

        def element_text(item: Any) -> str:
            return element.encode_text(item) if self._fits(element, item) else self._text_of(item)

        text = encode_array_text(value, element_text, self._is_array)
        return Parameter(codec.oid, TEXT_FORMAT, text.encode("utf-8"))


# Up to this many columns a row decoder is unrolled (below); wider rows take the generic loop.
_UNROLL_MAX = 64


def _unrolled_decoder(decoders: Tuple[Callable[[bytes], Any], ...]) -> Callable[[Sequence[Optional[bytes]]], Tuple[Any, ...]]:
    """``fields -> tuple of values``, written out for this row description's columns:
    ``f0, f1 = fields; return (None if f0 is None else d0(f0), ...)``.

    PERF: once per prepared statement, a row then costs no zip, no list and no per-column loop
    step: about 30% less per row than the generic comprehension on an 8-column row. The source is
    made of column numbers only (the decoders are bound by name in its namespace), as
    collections.namedtuple makes its methods.
    """
    width = len(decoders)
    if width > _UNROLL_MAX or width == 0:
        def decode_fields(fields: Sequence[Optional[bytes]]) -> Tuple[Any, ...]:
            return tuple([None if field is None else decode(field) for decode, field in zip(decoders, fields)])
        return decode_fields
    names = ", ".join(["f%d" % i for i in range(width)])
    values = ", ".join(["None if f%d is None else d%d(f%d)" % (i, i, i) for i in range(width)])
    source = "def decode_fields(fields):\n    %s, = fields\n    return (%s,)\n" % (names, values)
    namespace: Dict[str, Any] = {"d%d" % i: decode for i, decode in enumerate(decoders)}
    exec(source, namespace)  # noqa: S102 - generated from integers only, see above
    return namespace["decode_fields"]  # type: ignore[no-any-return]


def _constant(oid: int, value: Any) -> int:
    return oid


def _no_binary_decoder(oid: int, data: bytes) -> Any:
    raise TypeCodecError("no binary decoder for type OID %d: ask for it in text (result_format)" % oid, oid)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _builtin_registry() -> TypeRegistry:
    registry = TypeRegistry()
    add = registry._add
    text_codec = dict(decode_text=sc.decode_text, decode_binary=sc.decode_text_binary, encode_text=sc.encode_text,
                      encode_binary=sc.encode_text_binary, python_types=(str,), binary_results=False,
                      binary_params=False)
    add(BOOL, name="bool", decode_text=sc.decode_bool_text, decode_binary=sc.decode_bool_binary,
        encode_text=sc.encode_bool_text, encode_binary=sc.encode_bool_binary, python_types=(bool,),
        array_oid=BOOL_ARRAY, binary_results=None, binary_params=None)
    add(BYTEA, name="bytea", decode_text=sc.decode_bytea_text, decode_binary=sc.decode_bytea_binary,
        encode_text=sc.encode_bytea_text, encode_binary=sc.encode_bytea_binary,
        python_types=(bytes, bytearray, memoryview), array_oid=BYTEA_ARRAY, binary_results=None, binary_params=None)
    add(CHAR, name='"char"', decode_text=sc.decode_char_text, decode_binary=sc.decode_char_binary,
        encode_text=sc.encode_char_text, encode_binary=sc.encode_char_binary, python_types=(str,),
        array_oid=CHAR_ARRAY,        binary_results=False, binary_params=False)
    for oid, name, array_oid in ((NAME, "name", NAME_ARRAY), (TEXT, "text", TEXT_ARRAY),
                                 (BPCHAR, "bpchar", BPCHAR_ARRAY), (VARCHAR, "varchar", VARCHAR_ARRAY)):
        add(oid, name=name, array_oid=array_oid, **text_codec)  # type: ignore[arg-type]
    for oid, name, size, array_oid in ((INT2, "int2", 2, INT2_ARRAY), (INT4, "int4", 4, INT4_ARRAY),
                                       (INT8, "int8", 8, INT8_ARRAY)):
        decode, encode = sc.int_binary_codec(size, name, oid)
        add(oid, name=name, decode_text=sc.decode_int_text, decode_binary=decode, encode_text=sc.encode_int_text,
            encode_binary=encode, python_types=(int,), array_oid=array_oid, binary_results=None, binary_params=None)
    add(OID, name="oid", decode_text=sc.decode_int_text, decode_binary=sc.decode_oid_binary,
        encode_text=sc.encode_int_text, encode_binary=sc.encode_oid_binary, python_types=(int,),
        array_oid=OID_ARRAY,        binary_results=None, binary_params=None)
    add(FLOAT4, name="float4", decode_text=sc.decode_float4_text, decode_binary=sc.decode_float4_binary,
        encode_text=sc.encode_float_text, encode_binary=sc.encode_float4_binary, python_types=(float, int),
        array_oid=FLOAT4_ARRAY, binary_results=None, binary_params=None)
    add(FLOAT8, name="float8", decode_text=sc.decode_float_text, decode_binary=sc.decode_float8_binary,
        encode_text=sc.encode_float_text, encode_binary=sc.encode_float8_binary, python_types=(float, int),
        array_oid=FLOAT8_ARRAY, binary_results=None, binary_params=None)
    # numeric: results in text (Decimal(text) runs in C, the base-10000 digits in Python);
    # parameters in binary, whose encoder refuses an out-of-range Decimal before building it.
    add(NUMERIC, name="numeric", decode_text=num.decode_numeric_text, decode_binary=num.decode_numeric_binary,
        encode_text=num.encode_numeric_text, encode_binary=num.encode_numeric_binary,
        python_types=(decimal.Decimal, int, float), array_oid=NUMERIC_ARRAY, binary_results=False,
        binary_params=None)
    add(UUID, name="uuid", decode_text=sc.decode_uuid_text, decode_binary=sc.decode_uuid_binary,
        encode_text=sc.encode_uuid_text, encode_binary=sc.encode_uuid_binary, python_types=(uuid.UUID,),
        array_oid=UUID_ARRAY, binary_results=None, binary_params=None)
    ip_types = (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface, ipaddress.IPv6Interface,
                ipaddress.IPv4Network, ipaddress.IPv6Network)
    add(INET, name="inet", decode_text=sc.decode_inet_text, decode_binary=sc.decode_inet_binary,
        encode_text=sc.encode_inet_text, encode_binary=sc.encode_inet_binary, python_types=ip_types,
        array_oid=INET_ARRAY, binary_results=None, binary_params=None)
    add(CIDR, name="cidr", decode_text=sc.decode_cidr_text, decode_binary=sc.decode_inet_binary,
        encode_text=sc.encode_inet_text, encode_binary=sc.encode_inet_binary, python_types=ip_types,
        array_oid=CIDR_ARRAY, binary_results=None, binary_params=None)
    json_codec = sc.json_codecs()
    json_types = (dict, list, tuple, Json, int, float, bool)
    add(JSON, name="json", decode_text=json_codec["decode_text"], decode_binary=json_codec["decode_json_binary"],
        encode_text=json_codec["encode_text"], encode_binary=json_codec["encode_json_binary"],
        python_types=json_types, array_oid=JSON_ARRAY, binary_results=False, binary_params=False)
    add(JSONB, name="jsonb", decode_text=json_codec["decode_text"], decode_binary=json_codec["decode_jsonb_binary"],
        encode_text=json_codec["encode_text"], encode_binary=json_codec["encode_jsonb_binary"],
        python_types=json_types, array_oid=JSONB_ARRAY, binary_results=False, binary_params=False)
    for oid, name, kind, array_oid in ((DATE, "date", _dt.date, DATE_ARRAY), (TIME, "time", _dt.time, TIME_ARRAY),
                                       (TIMESTAMP, "timestamp", _dt.datetime, TIMESTAMP_ARRAY),
                                       (TIMESTAMPTZ, "timestamptz", _dt.datetime, TIMESTAMPTZ_ARRAY),
                                       (INTERVAL, "interval", _dt.timedelta, INTERVAL_ARRAY),
                                       (TIMETZ, "timetz", _dt.time, TIMETZ_ARRAY)):
        add(oid, name=name, decode_text=getattr(tm, "decode_%s_text" % name),
            decode_binary=getattr(tm, "decode_%s_binary" % name), encode_text=getattr(tm, "encode_%s_text" % name),
            encode_binary=getattr(tm, "encode_%s_binary" % name), python_types=(kind,), array_oid=array_oid,
            binary_results=None, binary_params=None)
    classifiers = registry._classifiers
    classifiers.clear()  # the python_types above serve declared parameters; inference is below
    classifiers.update({
        bool: functools.partial(_constant, BOOL), int: _int_oid, float: functools.partial(_constant, FLOAT8),
        decimal.Decimal: functools.partial(_constant, NUMERIC), str: functools.partial(_constant, UNSPECIFIED),
        bytes: functools.partial(_constant, BYTEA), bytearray: functools.partial(_constant, BYTEA),
        memoryview: functools.partial(_constant, BYTEA),
        _dt.datetime: lambda value: TIMESTAMPTZ if tm.is_aware(value) else TIMESTAMP,
        _dt.date: functools.partial(_constant, DATE), _dt.time: _time_oid,
        _dt.timedelta: functools.partial(_constant, INTERVAL), uuid.UUID: functools.partial(_constant, UUID),
        dict: functools.partial(_constant, JSONB), Json: lambda value: value.oid,
        list: functools.partial(_constant, _ARRAY), tuple: functools.partial(_constant, _ARRAY),
    })
    for ip_type in ip_types:
        classifiers[ip_type] = functools.partial(_constant, CIDR if "Network" in ip_type.__name__ else INET)
    return registry


DEFAULT_REGISTRY = _builtin_registry()
"""The registry of the built-in types; connections take a copy of it when they open."""


def register_type(oid_or_name: Union[int, str], **options: Any) -> None:
    """:meth:`TypeRegistry.register_type` on :data:`DEFAULT_REGISTRY`: connections opened
    afterwards know the type.

    Example::

        from covet.database.postgres.types import register_type

        register_type("citext", decode_text=str)   # its OID is looked up when a connection opens
    """
    DEFAULT_REGISTRY.register_type(oid_or_name, **options)


def result_format(oid: int) -> int:
    """:meth:`TypeRegistry.result_format` of :data:`DEFAULT_REGISTRY`."""
    return DEFAULT_REGISTRY.result_format(oid)
