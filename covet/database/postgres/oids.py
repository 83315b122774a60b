"""The OIDs of PostgreSQL's built-in types that covet encodes and decodes, and of their arrays.

They are fixed in PostgreSQL's catalog (``src/include/catalog/pg_type.dat``) and the same in
every database and version; types from extensions (citext, hstore) get their OIDs when created,
so they are looked up by name instead (``TypeRegistry.register_type("citext", ...)``).

Example::

    from covet.database.postgres.oids import INT4, INT4_ARRAY

    assert (INT4, INT4_ARRAY) == (23, 1007)
"""

__all__ = [
    "UNSPECIFIED", "BOOL", "BYTEA", "CHAR", "NAME", "INT8", "INT2", "INT4", "TEXT", "OID", "JSON", "CIDR",
    "FLOAT4", "FLOAT8", "INET", "BPCHAR", "VARCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL",
    "TIMETZ", "NUMERIC", "UUID", "JSONB",
    "BOOL_ARRAY", "BYTEA_ARRAY", "CHAR_ARRAY", "NAME_ARRAY", "INT8_ARRAY", "INT2_ARRAY", "INT4_ARRAY",
    "TEXT_ARRAY", "OID_ARRAY", "JSON_ARRAY", "CIDR_ARRAY", "FLOAT4_ARRAY", "FLOAT8_ARRAY", "INET_ARRAY",
    "BPCHAR_ARRAY", "VARCHAR_ARRAY", "DATE_ARRAY", "TIME_ARRAY", "TIMESTAMP_ARRAY", "TIMESTAMPTZ_ARRAY",
    "INTERVAL_ARRAY", "TIMETZ_ARRAY", "NUMERIC_ARRAY", "UUID_ARRAY", "JSONB_ARRAY",
]

# A parameter of type 0 is "unspecified": the server infers its type from the statement
# (protocol documentation, the Parse message).
UNSPECIFIED = 0

BOOL = 16
BYTEA = 17
CHAR = 18  # "char", the one-byte internal type, not char(n) (that is BPCHAR)
NAME = 19
INT8 = 20
INT2 = 21
INT4 = 23
TEXT = 25
OID = 26
JSON = 114
CIDR = 650
FLOAT4 = 700
FLOAT8 = 701
INET = 869
BPCHAR = 1042
VARCHAR = 1043
DATE = 1082
TIME = 1083
TIMESTAMP = 1114
TIMESTAMPTZ = 1184
INTERVAL = 1186
TIMETZ = 1266
NUMERIC = 1700
UUID = 2950
JSONB = 3802

JSON_ARRAY = 199
CIDR_ARRAY = 651
BOOL_ARRAY = 1000
BYTEA_ARRAY = 1001
CHAR_ARRAY = 1002
NAME_ARRAY = 1003
INT2_ARRAY = 1005
INT4_ARRAY = 1007
TEXT_ARRAY = 1009
BPCHAR_ARRAY = 1014
VARCHAR_ARRAY = 1015
INT8_ARRAY = 1016
FLOAT4_ARRAY = 1021
FLOAT8_ARRAY = 1022
OID_ARRAY = 1028
INET_ARRAY = 1041
TIMESTAMP_ARRAY = 1115
DATE_ARRAY = 1182
TIME_ARRAY = 1183
TIMESTAMPTZ_ARRAY = 1185
INTERVAL_ARRAY = 1187
NUMERIC_ARRAY = 1231
TIMETZ_ARRAY = 1270
UUID_ARRAY = 2951
JSONB_ARRAY = 3807
