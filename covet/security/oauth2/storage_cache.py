"""``CacheStorage``: the OAuth2 storage contract on a covet ``Cache`` (memory, or Redis shared by
every worker and every instance).

Values are JSON-ready dicts, so the Redis backend's default JSON serializer carries them.
The single-use steps use the backend's ``incr`` (Redis ``INCR``, atomic across clients): a
counter created at 0 beside each code and refresh token, where the caller that takes it to 1
is the first use. A store that is down reads as empty (covet.cache's rule), so every check
fails closed: no code, token or grant is valid while Redis cannot be reached.

Example::

    from covet.cache import CacheManager

    cache = CacheManager(backend="redis", redis_url="redis://localhost:6379")
    oauth2 = OAuth2Server(clients=..., storage=CacheStorage(cache))
"""
import math
from typing import Any, Optional, Tuple

from .storage import CodeRecord, OAuth2Storage, TokenRecord

__all__ = ["CacheStorage", "DEFAULT_PREFIX"]

DEFAULT_PREFIX = "oauth2:"
_ACTIVE = "active"
_REVOKED = "revoked"


def _ttl(ttl: float) -> float:
    # covet.cache refuses a ttl of 0 or less; an entry that should already be gone lives a second.
    return max(1.0, math.ceil(ttl))


class CacheStorage(OAuth2Storage):
    """OAuth2 storage in a covet ``Cache`` (``Cache``, ``CacheManager``), under ``prefix``.

    :param cache: the cache; its backend must support ``incr`` with a ttl (every covet backend does).
    :param prefix: put before every key, so the server's entries do not meet the app's.

    A memory cache evicts its least recently used entries when full: an evicted code, token or
    grant is simply no longer valid. Give the server a cache of its own, sized for the tokens
    alive at once, or use Redis without an eviction policy (``maxmemory-policy noeviction``).
    """

    def __init__(self, cache: Any, prefix: str = DEFAULT_PREFIX) -> None:
        if not hasattr(cache, "backend") or not hasattr(cache, "aget"):
            raise TypeError("CacheStorage needs a covet.cache.Cache (or CacheManager), got %r" % (cache,))
        self.cache = cache
        self.prefix = prefix

    def _k(self, kind: str, key: str) -> str:
        return "%s%s:%s" % (self.prefix, kind, key)

    async def save_code(self, key: str, record: CodeRecord, ttl: float) -> None:
        await self.cache.aset_many({self._k("code", key): record.to_dict(), self._k("code-uses", key): 0}, _ttl(ttl))

    async def consume_code(self, key: str) -> Optional[Tuple[CodeRecord, bool]]:
        record = CodeRecord.from_dict(await self.cache.aget(self._k("code", key)))
        if record is None:
            return None
        uses = await self.cache.backend.aincr(self._k("code-uses", key), 1, _ttl(60))
        return record, uses == 1

    async def save_token(self, key: str, record: TokenRecord, ttl: float) -> None:
        await self.cache.aset_many({self._k("token", key): record.to_dict(), self._k("token-uses", key): 0},
                                   _ttl(ttl))

    async def get_token(self, key: str) -> Optional[Tuple[TokenRecord, bool]]:
        rec_key, uses_key = self._k("token", key), self._k("token-uses", key)
        found = await self.cache.aget_many([rec_key, uses_key])
        record = TokenRecord.from_dict(found.get(rec_key))
        if record is None:
            return None
        uses = found.get(uses_key)
        # A missing counter is read as used: fail closed.
        return record, not (type(uses) is int and uses == 0)

    async def mark_used(self, key: str) -> bool:
        uses_key = self._k("token-uses", key)
        if not await self.cache.ahas(uses_key):
            return False
        return await self.cache.backend.aincr(uses_key, 1, _ttl(60)) == 1

    async def delete_token(self, key: str) -> None:
        await self.cache.adelete(self._k("token", key))

    async def save_grant(self, grant_id: str, ttl: float) -> None:
        key = self._k("grant", grant_id)
        if await self.cache.aget(key) != _REVOKED:
            await self.cache.aset(key, _ACTIVE, _ttl(ttl))

    async def grant_active(self, grant_id: str) -> bool:
        return await self.cache.aget(self._k("grant", grant_id)) == _ACTIVE

    async def revoke_grant(self, grant_id: str, ttl: float) -> None:
        await self.cache.aset(self._k("grant", grant_id), _REVOKED, _ttl(ttl))

    async def claim_once(self, key: str, ttl: float) -> bool:
        return await self.cache.backend.aincr(self._k("once", key), 1, _ttl(ttl)) == 1

    def __repr__(self) -> str:
        return "<CacheStorage %r prefix=%r>" % (self.cache, self.prefix)
