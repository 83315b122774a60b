"""The errors of the Redis client, one family under ``RedisError`` (a leaf module: it imports nothing).

Example::

    try:
        await redis.get("k")
    except ReplyError as exc:        # the server answered -ERR/-WRONGTYPE/...
        print(exc.code)
    except RedisError:               # unreachable, timed out, or spoke broken RESP
        ...
"""

__all__ = ["RedisError", "RedisConnectionError", "RedisTimeoutError", "ProtocolError", "ReplyError"]


class RedisError(Exception):
    """Base class of every error this client raises."""


class RedisConnectionError(RedisError):
    """The server could not be reached, or the connection broke mid-command."""


class RedisTimeoutError(RedisError):
    """Connecting, waiting for a pooled connection, or a reply took too long."""


class ProtocolError(RedisConnectionError):
    """The server sent bytes that are not valid RESP2 (or exceed a limit); the connection is dropped."""


class ReplyError(RedisError):
    """An error reply from the server (``-ERR ...``, ``-WRONGTYPE ...``, ``-NOSCRIPT ...``).

    Example::

        assert ReplyError("NOSCRIPT No matching script").code == "NOSCRIPT"
    """

    @property
    def code(self) -> str:
        """The error's first word, e.g. ``"ERR"`` or ``"NOSCRIPT"``."""
        return str(self.args[0]).split(" ", 1)[0] if self.args else ""
