"""Where the server keeps what it issued: the storage contract, its records, and the in-memory store.

Nothing secret is stored as it was issued: an authorization code and a refresh token are kept
under the SHA-256 of their value (``token_key``), so a copy of the store (a backup, a replica,
a read through SQL injection elsewhere) yields nothing a client could redeem. Access tokens are
JWTs; the store keeps a record under their ``jti`` so that one can be revoked.

Every lookup fails closed: a record that is missing (expired, evicted from a cache, or the cache
is down) means "not valid". The atomic steps are the single-use ones: ``consume_code``,
``mark_used`` and ``claim_once`` each answer True to exactly one caller, even with many workers
on one shared store.

Three implementations pass the same contract tests: :class:`MemoryStorage` (one process),
``CacheStorage`` (a covet Cache: memory or Redis) and ``DatabaseStorage`` (SQLite, PostgreSQL).

Example::

    storage = MemoryStorage()
    await storage.save_code(token_key(code), CodeRecord(...), ttl=60)
    record, first_use = await storage.consume_code(token_key(code))
"""
import abc
import hashlib
import threading
import time
from typing import Any, Dict, NamedTuple, Optional, Tuple

__all__ = ["OAuth2Storage", "MemoryStorage", "CodeRecord", "TokenRecord", "token_key", "ACCESS", "REFRESH"]

ACCESS = "access"
REFRESH = "refresh"

# The memory store sweeps expired entries once per this many writes: memory stays bounded by
# what is live, and no write pays for more than one sweep.
SWEEP_EVERY = 256


def token_key(value: str) -> str:
    """The storage key of a code or refresh token: hex SHA-256 of its value.

    The values are 256-bit random strings, so an unsalted fast hash is enough: there is
    nothing to guess (RFC 6819 §5.1.4.1.3 asks for hashed storage of such credentials).

    Example::

        token_key("abc")   # 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class CodeRecord(NamedTuple):
    """An authorization code: who it was issued to and everything it is bound to (RFC 6749 §4.1.3)."""

    client_id: str
    #: The redirect_uri of the authorization request as sent ("" when it was omitted).
    redirect_uri: str
    scope: str
    subject: str
    code_challenge: str
    #: The grant the tokens redeemed with this code will belong to (revoked on code reuse).
    grant_id: str
    expires_at: float

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (for stores that serialise)."""
        return self._asdict()

    @classmethod
    def from_dict(cls, data: Any) -> Optional["CodeRecord"]:
        """The record of ``data``, or None when it is not one (a corrupted entry is no code)."""
        try:
            return cls(**data)
        except TypeError:
            return None


class TokenRecord(NamedTuple):
    """An issued access or refresh token: kind, owner, scope, grant and expiry."""

    kind: str
    client_id: str
    #: The resource owner (user id) or, for client_credentials, the client id (RFC 9068 §2.2).
    subject: str
    scope: str
    grant_id: str
    expires_at: float

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (for stores that serialise)."""
        return self._asdict()

    @classmethod
    def from_dict(cls, data: Any) -> Optional["TokenRecord"]:
        """The record of ``data``, or None when it is not one."""
        try:
            return cls(**data)
        except TypeError:
            return None


class OAuth2Storage(abc.ABC):
    """The storage contract. Keys are strings (``token_key`` of a code or refresh token, the
    ``jti`` of an access token); ``ttl`` is how long, in seconds, the store must keep an entry at
    least (it may drop it after that). All methods are coroutines.

    A grant is the family of tokens one authorization produced: the tokens of one code, and
    every refresh token rotated from them. Revoking the grant ends all of them.

    Example (a store of one's own)::

        class MyStorage(OAuth2Storage):
            async def save_code(self, key, record, ttl): ...
            # ... every abstract method below
    """

    @abc.abstractmethod
    async def save_code(self, key: str, record: CodeRecord, ttl: float) -> None:
        """Keep a new authorization code."""

    @abc.abstractmethod
    async def consume_code(self, key: str) -> Optional[Tuple[CodeRecord, bool]]:
        """Use a code: ``(record, True)`` for the first use only, ``(record, False)`` for every later
        one (so the caller can revoke what the first use issued), None for an unknown code."""

    @abc.abstractmethod
    async def save_token(self, key: str, record: TokenRecord, ttl: float) -> None:
        """Keep a new access token (key: its jti) or refresh token (key: token_key of it)."""

    @abc.abstractmethod
    async def get_token(self, key: str) -> Optional[Tuple[TokenRecord, bool]]:
        """``(record, used)`` of a token, or None when unknown or deleted."""

    @abc.abstractmethod
    async def mark_used(self, key: str) -> bool:
        """Mark a refresh token used (rotation): True for the one caller that marked it first."""

    @abc.abstractmethod
    async def delete_token(self, key: str) -> None:
        """Forget a token: it is invalid from now on (revocation of one access token)."""

    @abc.abstractmethod
    async def save_grant(self, grant_id: str, ttl: float) -> None:
        """Start a grant; it is active until ``ttl`` runs out or it is revoked."""

    @abc.abstractmethod
    async def grant_active(self, grant_id: str) -> bool:
        """Whether the grant was started, has not expired and was not revoked."""

    @abc.abstractmethod
    async def revoke_grant(self, grant_id: str, ttl: float) -> None:
        """End a grant for good (kept revoked for ``ttl`` seconds at least, so that it cannot be started
        again by a late writer)."""

    @abc.abstractmethod
    async def claim_once(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is claimed within ``ttl``, False afterwards (one-time nonces)."""


class _Entry:
    __slots__ = ("value", "deadline", "used")

    def __init__(self, value: Any, deadline: float) -> None:
        self.value = value
        self.deadline = deadline
        self.used = False


_REVOKED = "revoked"
_ACTIVE = "active"


class MemoryStorage(OAuth2Storage):
    """Everything in this process's memory: for one process, development and tests.

    Entries expire on the store's own monotonic clock; a sweep every ``SWEEP_EVERY`` writes
    removes the dead ones. A lock makes the single-use steps atomic even when the store is shared
    with threads.

    Example::

        oauth2 = OAuth2Server(clients=..., storage=MemoryStorage())
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._codes = {}  # type: Dict[str, _Entry]
        self._tokens = {}  # type: Dict[str, _Entry]
        self._grants = {}  # type: Dict[str, _Entry]
        self._nonces = {}  # type: Dict[str, _Entry]
        self._writes = 0

    def _live(self, table: Dict[str, _Entry], key: str) -> Optional[_Entry]:
        entry = table.get(key)
        if entry is not None and entry.deadline <= self._clock():
            del table[key]
            return None
        return entry

    def _put(self, table: Dict[str, _Entry], key: str, value: Any, ttl: float) -> _Entry:
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            now = self._clock()
            for t in (self._codes, self._tokens, self._grants, self._nonces):
                for k in [k for k, e in t.items() if e.deadline <= now]:
                    del t[k]
        entry = table[key] = _Entry(value, self._clock() + ttl)
        return entry

    async def save_code(self, key: str, record: CodeRecord, ttl: float) -> None:
        with self._lock:
            self._put(self._codes, key, record, ttl)

    async def consume_code(self, key: str) -> Optional[Tuple[CodeRecord, bool]]:
        with self._lock:
            entry = self._live(self._codes, key)
            if entry is None:
                return None
            first, entry.used = not entry.used, True
            return entry.value, first

    async def save_token(self, key: str, record: TokenRecord, ttl: float) -> None:
        with self._lock:
            self._put(self._tokens, key, record, ttl)

    async def get_token(self, key: str) -> Optional[Tuple[TokenRecord, bool]]:
        with self._lock:
            entry = self._live(self._tokens, key)
            return None if entry is None else (entry.value, entry.used)

    async def mark_used(self, key: str) -> bool:
        with self._lock:
            entry = self._live(self._tokens, key)
            if entry is None:
                return False
            first, entry.used = not entry.used, True
            return first

    async def delete_token(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    async def save_grant(self, grant_id: str, ttl: float) -> None:
        with self._lock:
            entry = self._live(self._grants, grant_id)
            if entry is None or entry.value != _REVOKED:
                self._put(self._grants, grant_id, _ACTIVE, ttl)

    async def grant_active(self, grant_id: str) -> bool:
        with self._lock:
            entry = self._live(self._grants, grant_id)
            return entry is not None and entry.value == _ACTIVE

    async def revoke_grant(self, grant_id: str, ttl: float) -> None:
        with self._lock:
            self._put(self._grants, grant_id, _REVOKED, ttl)

    async def claim_once(self, key: str, ttl: float) -> bool:
        with self._lock:
            if self._live(self._nonces, key) is not None:
                return False
            self._put(self._nonces, key, True, ttl)
            return True

    def __repr__(self) -> str:
        return "<MemoryStorage %d codes, %d tokens, %d grants>" % (len(self._codes), len(self._tokens),
                                                                   len(self._grants))
