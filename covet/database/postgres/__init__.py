"""PostgreSQL for covet's database layer: the frontend/backend protocol (version 3) spoken with the
standard library only, as ``covet.redis`` speaks RESP.

One concept per module, bottom up:

- ``errors``: ``ProtocolError``, ``EncodeError``, ``ScramError`` and the SQLSTATE classes
  (``UniqueViolation``, ``SerializationFailure``, ...) made by ``error_from_response``.
- ``messages``: the server's messages as small slotted objects (``DataRow``, ``ReadyForQuery``, ...).
- ``frontend``: the client's messages as bytes (``query``, ``parse``, ``bind``, ``SYNC``, ...).
- ``protocol``: ``BackendParser``, sans-IO (bytes in, messages out, every limit named), and the
  one import for both directions.
- ``scram``: ``ScramClient``, SCRAM-SHA-256 with channel binding (``SCRAM-SHA-256-PLUS``).
- ``startup``, ``channel`` and ``connection``: ``PGConnection``, the asyncio connection on top
  (connecting, TLS and authentication; the stream, cancellation, LISTEN/NOTIFY and COPY; queries).
- ``broker``: ``PostgresBroker``, LISTEN/NOTIFY as ``covet.realtime``'s publish/subscribe.
- ``oids`` and ``types``: the type codecs, Python values to and from PostgreSQL's text and binary
  formats (``TypeRegistry``, ``register_type``, ``Json``), sans-IO too; ``arrays`` and the
  private per-type modules behind them.

docs/postgres-protocol.md describes the codec, its bounds and the authentication;
docs/postgres-types.md the types.

Example::

    from covet.database.postgres import BackendParser, protocol

    p = BackendParser()
    p.feed(b"Z\\x00\\x00\\x00\\x05I")
    assert [m.status for m in p] == ["I"]
    assert protocol.query("SELECT 1") == b"Q\\x00\\x00\\x00\\rSELECT 1\\x00"
"""
from covet._lazy import lazy_exports

# public name -> module under covet.database.postgres that defines it (each section one module)
_EXPORTS = {
    # the protocol modules themselves: protocol.bind(...), protocol.DataRow, ...
    "protocol": "protocol", "frontend": "frontend", "messages": "messages",
    # protocol
    "BackendParser": "protocol", "DEFAULT_MAX_MESSAGE_LEN": "protocol", "MAX_SHORT_MESSAGE_LEN": "protocol",
    # scram
    "ScramClient": "scram", "tls_server_end_point": "scram", "normalize_password": "scram",
    # errors
    "ProtocolError": "errors", "EncodeError": "errors", "ScramError": "errors", "ServerError": "errors",
    "error_from_response": "errors", "AuthenticationFailed": "errors", "InvalidPassword": "errors",
    "InvalidAuthorizationSpecification": "errors", "IntegrityConstraintViolation": "errors",
    "UniqueViolation": "errors", "ForeignKeyViolation": "errors", "NotNullViolation": "errors",
    "CheckViolation": "errors", "ExclusionViolation": "errors", "TransactionRollback": "errors",
    "SerializationFailure": "errors", "DeadlockDetected": "errors", "QueryCanceled": "errors",
    "AdminShutdown": "errors", "CannotConnectNow": "errors", "TooManyConnections": "errors",
    "UndefinedTable": "errors", "UndefinedColumn": "errors", "SQLSyntaxError": "errors",
    "InsufficientPrivilege": "errors", "DataException": "errors", "NumericValueOutOfRange": "errors",
    "InvalidTextRepresentation": "errors", "InFailedSQLTransaction": "errors", "LockNotAvailable": "errors",
    # the connection (startup: connecting and authenticating; channel: the session's stream)
    "PGConnection": "connection", "QueryResult": "connection", "quote_ident": "connection",
    "ConnectError": "startup", "AuthenticationRefused": "startup", "parse_url": "startup",
    # types
    "types": "types", "oids": "oids",
    "TypeRegistry": "types", "TypeCodec": "types", "Parameter": "types", "Json": "types",
    "register_type": "types", "DEFAULT_REGISTRY": "types", "TypeCodecError": "types",
    "MalformedValueError": "types",
    # LISTEN/NOTIFY as covet.realtime's broker
    "PostgresBroker": "broker",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("covet.database.postgres", _EXPORTS, globals())
