"""Which commands leave a connection in another state than the one the client opened it in.

A pooled connection is shared by every caller in turn, so whatever one round trip (a command or a
pipeline) changes on it must not outlive that round trip: after SUBSCRIBE the server refuses
ordinary commands and pushes messages unasked, inside MULTI every command answers QUEUED, a
leftover WATCH fails someone else's EXEC, SELECT moves the next caller to another database. The
client asks ``leaves_state`` before it sends; a round trip that does gets its connection closed
afterwards instead of pooled. Within one pipeline these commands work as usual (``SELECT 3`` then
``GET k`` reads database 3), and a transaction that ends in the same pipeline (MULTI ... EXEC or
DISCARD, WATCH ... EXEC) keeps the connection.

Example::

    assert leaves_state([("MULTI",), ("INCR", "n")])
    assert not leaves_state([("MULTI",), ("INCR", "n"), ("EXEC",)])
"""
from typing import Any, Iterable, Tuple

__all__ = ["leaves_state", "STATE_CHANGING_COMMANDS", "STATE_CHANGING_CLIENT_SUBCOMMANDS"]

# Commands whose effect on the connection lasts after their reply.
STATE_CHANGING_COMMANDS = frozenset({
    # Pub/sub mode (RESP2): only (P|S)(UN)SUBSCRIBE, PING, QUIT and RESET are accepted, and
    # messages arrive without being asked for.
    "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
    # The server streams to the connection unasked from then on.
    "MONITOR", "SYNC", "PSYNC",
    # Database, identity and protocol version: the client set these when it connected.
    "SELECT", "AUTH", "HELLO", "RESET",
    # Cluster per-connection flags.
    "READONLY", "READWRITE", "ASKING",
    # The server closes the connection after its reply.
    "QUIT",
})
# CLIENT subcommands that change the connection (CLIENT ID, LIST, KILL, GETNAME... do not).
STATE_CHANGING_CLIENT_SUBCOMMANDS = frozenset({
    "REPLY", "SETNAME", "SETINFO", "TRACKING", "CACHING", "NO-EVICT", "NO-TOUCH",
})


def _name(arg: Any) -> str:
    if isinstance(arg, str):
        return arg.upper()
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg).decode("latin-1").upper()
    return ""


def leaves_state(commands: Iterable[Tuple[Any, ...]]) -> bool:
    """True when sending ``commands`` (argument tuples, in order) leaves the connection changed.

    MULTI stays open until EXEC or DISCARD, WATCH until EXEC, DISCARD or UNWATCH; the other
    state-changing commands always count, even when the server refused them.

    Example::

        assert leaves_state([("SELECT", 2)]) and not leaves_state([("GET", "k")])
    """
    in_multi = watching = False
    for args in commands:
        name = _name(args[0])
        if name in STATE_CHANGING_COMMANDS:
            return True
        if name == "CLIENT":
            if len(args) > 1 and _name(args[1]) in STATE_CHANGING_CLIENT_SUBCOMMANDS:
                return True
        elif name == "MULTI":
            in_multi = True
        elif name == "WATCH":
            watching = True
        elif name == "UNWATCH":
            watching = False
        elif name == "EXEC" or name == "DISCARD":
            in_multi = watching = False
    return in_multi or watching
