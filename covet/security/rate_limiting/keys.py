"""Key functions: which client a request counts against (``key(request) -> str``), and the bound on
what a key may cost in storage.

Example::

    limiter = RateLimiter("1000/hour", key=header_key("X-API-Key"))
"""
import hashlib
import inspect
from typing import Any, Callable, Optional

__all__ = ["client_ip", "header_key", "user_key", "check_key_function", "storage_key", "MAX_KEY_LENGTH"]

# Longer keys are stored as their SHA-256 (71 characters with its "sha256:" tag), so a client
# that picks its own key (an API-key header of 64 KiB) cannot make one entry large.
MAX_KEY_LENGTH = 200


def client_ip(request: Any) -> str:
    """The client's address as the server resolved it (through its trusted-proxy settings).

    Example::

        limiter = RateLimiter("100/minute", key=client_ip)  # the default
    """
    client = getattr(request, "client", None)
    if client is None:
        return "unknown"
    host = getattr(client, "host", None)
    if host is None and isinstance(client, (tuple, list)) and client:
        host = client[0]
    return str(host) if host else "unknown"


def header_key(name: str, fallback: Optional[Callable[[Any], Any]] = client_ip) -> Callable[[Any], Any]:
    """A key function reading a request header (an API key); without the header, ``fallback(request)``
    (None: such requests are not limited).

    Example::

        limiter = RateLimiter("1000/hour", key=header_key("X-API-Key"))
    """
    if not isinstance(name, str) or not name:
        raise TypeError("header_key() needs a header name")
    lowered = name.lower()

    def key(request: Any) -> Any:
        value = request.headers.get(lowered)
        if value:
            return "%s:%s" % (lowered, value)
        return fallback(request) if fallback is not None else None

    return key


def user_key(request: Any) -> Any:
    """The authenticated user from ``request.state.user`` (its ``id``, a dict's ``sub``/``id``, or its
    str), else the client IP: signed-in users are limited per account, others per address.

    Example::

        limiter = RateLimiter("5000/hour", key=user_key)
    """
    state = request.state
    user = state.__dict__.get("user") if hasattr(state, "__dict__") else None
    if user is None:
        return client_ip(request)
    if isinstance(user, dict):
        ident = user.get("sub", user.get("id"))
    else:
        ident = getattr(user, "id", None)
    return "user:%s" % (user if ident is None else ident)


def check_key_function(key: Any) -> Callable[[Any], Any]:
    """``key`` if it can serve as a key function; TypeError otherwise. Key functions are plain
    functions because they also run for plain-``def`` handlers, outside the event loop."""
    if not callable(key):
        raise TypeError("key must be a callable taking the request, got %r" % (key,))
    if inspect.iscoroutinefunction(key) or inspect.iscoroutinefunction(getattr(key, "__call__", None)):
        raise TypeError("key functions must be plain functions (they also run in sync handlers), got %r" % (key,))
    return key


def storage_key(key: Any) -> str:
    """The key as stored: itself, or ``"sha256:<hex>"`` past ``MAX_KEY_LENGTH`` characters."""
    if not isinstance(key, str):
        raise TypeError("rate limit keys must be str, got %r" % (key,))
    if len(key) > MAX_KEY_LENGTH:
        # surrogatepass: a key decoded with surrogateescape (odd header bytes) still hashes.
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key
