"""The typed Redis commands, written once for the client, its pipelines and its blocking face.

``Commands`` builds each command's arguments and names the function that shapes its reply;
``_call(args, post)`` is the one hook a subclass supplies: ``Redis`` sends the command and awaits
the reply, ``Pipeline`` queues it, and ``BlockingRedis`` runs the client's method on its thread.

Example::

    await redis.set("k", "v", ex=60)           # True: the reply was +OK
    next_cursor, keys = await redis.scan(0, match="user:*")
"""
import re
from typing import Any, Callable, List, Optional, Tuple, Union

from .errors import ProtocolError

__all__ = ["Commands"]

def _is_ok(reply: Any) -> bool:
    return reply == "OK"


def _to_bool(reply: Any) -> bool:
    return reply == 1


def _is_pong(reply: Any) -> bool:
    return reply == "PONG" or reply == b"PONG"


_CURSOR_RE = re.compile(rb"0|[1-9][0-9]{0,19}")


def _scan_reply(reply: Any) -> Tuple[int, List[bytes]]:
    if (not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[0], bytes)
            or _CURSOR_RE.fullmatch(reply[0]) is None or not isinstance(reply[1], list)):
        raise ProtocolError("unexpected SCAN reply %r" % (reply,))
    return int(reply[0]), reply[1]


def _decode(reply: Any) -> Any:
    return reply.decode("ascii") if isinstance(reply, bytes) else reply


class Commands:
    """The typed commands; ``_call`` runs them (Redis) or queues them (Pipeline)."""

    def _call(self, args: Tuple[Any, ...], post: Optional[Callable[[Any], Any]] = None) -> Any:
        raise TypeError("Commands is a mixin: Redis and Pipeline supply _call")

    def command(self, *args: Any) -> Any:
        """Any command, by its arguments: ``command("HSET", "h", "f", "v")``."""
        return self._call(args)

    def ping(self) -> Any:
        """PING; True when the server answers PONG."""
        return self._call(("PING",), _is_pong)

    def get(self, key: Union[str, bytes]) -> Any:
        """GET: the value as bytes, or None."""
        return self._call(("GET", key))

    def set(self, key: Union[str, bytes], value: Any, *, ex: Optional[int] = None, px: Optional[int] = None,
            nx: bool = False, xx: bool = False) -> Any:
        """SET with optional EX/PX expiry and NX/XX; True when the value was stored."""
        args: List[Any] = ["SET", key, value]
        if ex is not None:
            args += ["EX", ex]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        return self._call(tuple(args), _is_ok)

    def setex(self, key: Union[str, bytes], seconds: int, value: Any) -> Any:
        """SETEX: store with an expiry in seconds; True on success."""
        return self._call(("SETEX", key, seconds, value), _is_ok)

    def delete(self, *keys: Union[str, bytes]) -> Any:
        """DEL: the number of keys removed."""
        return self._call(("DEL",) + keys)

    def exists(self, *keys: Union[str, bytes]) -> Any:
        """EXISTS: how many of the keys exist."""
        return self._call(("EXISTS",) + keys)

    def mget(self, *keys: Union[str, bytes]) -> Any:
        """MGET: a list of values (bytes or None), in the order of the keys."""
        return self._call(("MGET",) + keys)

    def incrby(self, key: Union[str, bytes], amount: int = 1) -> Any:
        """INCRBY: the value after the increment."""
        return self._call(("INCRBY", key, amount))

    def expire(self, key: Union[str, bytes], seconds: int) -> Any:
        """EXPIRE: True when the key exists and got the timeout."""
        return self._call(("EXPIRE", key, seconds), _to_bool)

    def pexpire(self, key: Union[str, bytes], milliseconds: int) -> Any:
        """PEXPIRE: True when the key exists and got the timeout."""
        return self._call(("PEXPIRE", key, milliseconds), _to_bool)

    def ttl(self, key: Union[str, bytes]) -> Any:
        """TTL in seconds; -1 without expiry, -2 when the key does not exist."""
        return self._call(("TTL", key))

    def pttl(self, key: Union[str, bytes]) -> Any:
        """PTTL in milliseconds; -1 without expiry, -2 when the key does not exist."""
        return self._call(("PTTL", key))

    def scan(self, cursor: int = 0, match: Optional[str] = None, count: Optional[int] = None) -> Any:
        """SCAN: ``(next_cursor, keys)``; iteration ends when next_cursor is 0."""
        args: List[Any] = ["SCAN", cursor]
        if match is not None:
            args += ["MATCH", match]
        if count is not None:
            args += ["COUNT", count]
        return self._call(tuple(args), _scan_reply)

    def publish(self, channel: Union[str, bytes], message: Any) -> Any:
        """PUBLISH: the number of subscribers (on this server) that received the message."""
        return self._call(("PUBLISH", channel, message))

    def evalsha(self, sha: str, keys: Any = (), args: Any = ()) -> Any:
        """EVALSHA of a loaded script."""
        keys = tuple(keys)
        return self._call(("EVALSHA", sha, len(keys)) + keys + tuple(args))

    def eval(self, script: str, keys: Any = (), args: Any = ()) -> Any:
        """EVAL of a Lua script given as source."""
        keys = tuple(keys)
        return self._call(("EVAL", script, len(keys)) + keys + tuple(args))

    def script_load(self, script: str) -> Any:
        """SCRIPT LOAD: the script's SHA1 as a str."""
        return self._call(("SCRIPT", "LOAD", script), _decode)
