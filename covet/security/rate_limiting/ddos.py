"""``DDoSProtector``: a coarse per-address flood breaker in front of the finer ``RateLimiter``.

It counts requests per client address in a fixed window (``window`` seconds, from the client's first
request in it); a client past ``threshold`` requests in one window is refused for ``block_duration``
seconds. Addresses on the allow-list (CIDRs) are never counted. IPv6 clients are counted per /64:
one subscriber usually holds a whole /64 (RFC 6177, RFC 7934 hand hosts many addresses of it), so
counting single IPv6 addresses would let one machine rotate through 2^64 of them.

Memory is bounded: the table holds at most ``max_tracked`` addresses and drops the least recently
seen to make room, so an attacker rotating addresses cycles the table but cannot grow it. With
``storage="redis://..."`` the counters live in Redis (one atomic Lua script per check) and every
worker and host shares them; if Redis cannot answer, requests are allowed (fail open) and one
error line per ``log_interval`` says so.

Example::

    ddos = DDoSProtector(threshold=1000, block_duration=300, whitelist=["192.168.1.0/24"])

    @app.middleware("security")
    async def flood_guard(request, call_next):
        if not await ddos.allow_request(request.client.host):
            return Response("Too many requests", status_code=429)
        return await call_next(request)
"""
import collections
import ipaddress
import logging
import threading
import time
from typing import Callable, Iterable, List, Optional, Union

from ..._logging import ThrottledLog
from ...redis import BlockingRedis, Redis, RedisError

__all__ = ["DDoSProtector", "DEFAULT_MAX_TRACKED", "DDOS_REDIS_PREFIX", "IPV6_PREFIX_LENGTH"]

logger = logging.getLogger("covet.security")

#: Most addresses tracked at once in memory: about 23 MB of table at the limit (measured with
#: tracemalloc on 3.11), and far more distinct clients than one process sees within a window.
DEFAULT_MAX_TRACKED = 100_000
#: IPv6 clients are grouped by this prefix (the /64 a subscriber is handed, RFC 6177 §3).
IPV6_PREFIX_LENGTH = 64
#: Prepended to the protector's Redis keys (``c:`` the window counter, ``b:`` the block).
DDOS_REDIS_PREFIX = "covet:ddos:"
# One error line per this many seconds while Redis is down.
DEFAULT_LOG_INTERVAL = 60.0

# One atomic check in Redis. KEYS[1]: the window counter, KEYS[2]: the block marker.
# ARGV: threshold, window in ms, block duration in ms. Returns {allowed (0/1), newly blocked (0/1)}.
# The counter expires a window after the client's first request in it, as in memory.
_CHECK_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, 0} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return {0, 1}
end
return {1, 0}
"""

Clock = Callable[[], float]


def _positive(name: str, value: object, kind: type = float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("%s must be a positive number, got %r" % (name, value))
    if kind is int and value != int(value):
        raise ValueError("%s must be a whole number, got %r" % (name, value))
    return kind(value)


class _Entry:
    # One tracked address: when its window began, how many requests it made in it, and until
    # when it is blocked (0.0: not blocked).
    __slots__ = ("start", "count", "blocked_until")

    def __init__(self, start: float) -> None:
        self.start = start
        self.count = 0
        self.blocked_until = 0.0


class DDoSProtector:
    """Refuse clients that send more than ``threshold`` requests per ``window`` seconds, for
    ``block_duration`` seconds.

    :param threshold: requests one address may make per window (the seed's "requests per second"
        with the default ``window=1.0``).
    :param block_duration: seconds a client past the threshold is refused.
    :param whitelist: CIDRs (IPv4 or IPv6, ``"10.0.0.0/8"``, ``"2001:db8::/32"``) or single addresses
        never counted nor blocked. A malformed entry raises ValueError here.
    :param window: length of the counting window in seconds.
    :param max_tracked: most addresses held in memory; the least recently seen is dropped past it.
    :param storage: ``None`` or ``"memory://"`` (this process), or a ``redis://``/``rediss://``/``unix://``
        URL shared by every worker (the protector owns that client: ``await ddos.aclose()``).
    :param clock: monotonic seconds, for the in-memory table (tests pass a fake one).
    :param log_interval: seconds between two error lines while Redis is down.

    ``allow_request(ip)`` (coroutine) and ``allow(ip)`` (plain) answer True or False; an ``ip`` that
    is not an IP address raises ValueError (a Unix-socket client is ``"unix"``: put the protector
    behind a proxy that passes the client address, or skip it for such requests).

    Example::

        ddos = DDoSProtector(threshold=50, window=1.0, block_duration=60, whitelist=["10.0.0.0/8"])
        if not ddos.allow("203.0.113.9"):
            ...  # refuse
    """

    def __init__(self, threshold: int = 1000, block_duration: float = 300.0,
                 whitelist: Optional[Iterable[str]] = None, window: float = 1.0,
                 max_tracked: int = DEFAULT_MAX_TRACKED, storage: Optional[str] = None, *,
                 clock: Clock = time.monotonic, log_interval: float = DEFAULT_LOG_INTERVAL,
                 prefix: str = DDOS_REDIS_PREFIX) -> None:
        self.threshold = int(_positive("threshold", threshold, int))
        self.block_duration = _positive("block_duration", block_duration)
        self.window = _positive("window", window)
        self.max_tracked = int(_positive("max_tracked", max_tracked, int))
        if isinstance(whitelist, str):
            raise TypeError("whitelist is a list of CIDRs, e.g. [%r]" % whitelist)
        self.whitelist: List[Union[ipaddress.IPv4Network, ipaddress.IPv6Network]] = [
            self._network(cidr) for cidr in (whitelist or ())]
        self._clock = clock
        self._table: "collections.OrderedDict[str, _Entry]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._log = ThrottledLog(logger, log_interval)
        #: Live addresses pushed out of the table to make room (a sign of an address-rotating flood).
        self.evictions = 0
        self.redis: Optional[Redis] = None
        self.prefix = prefix
        if storage is not None:
            if not isinstance(storage, str):
                raise TypeError("storage must be a URL such as 'redis://localhost:6379', got %r" % (storage,))
            scheme = storage.split("://", 1)[0].lower() if "://" in storage else ""
            if scheme in ("redis", "rediss", "unix"):
                self.redis = Redis.from_url(storage)
                self._script = self.redis.script(_CHECK_LUA)
            elif storage.strip().lower() != "memory://":
                raise ValueError("invalid storage %r: use None, 'memory://' or a redis://, rediss:// or unix:// URL"
                                 % storage)
        self._blocking_client: Optional[BlockingRedis] = None

    @staticmethod
    def _network(cidr: object) -> Union[ipaddress.IPv4Network, ipaddress.IPv6Network]:
        if not isinstance(cidr, str):
            raise TypeError("whitelist entries are CIDR strings such as '192.168.1.0/24', got %r" % (cidr,))
        try:
            # strict=False: "192.168.1.7/24" means its network, as an administrator would read it.
            return ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise ValueError("invalid whitelist entry %r: use a CIDR such as '192.168.1.0/24' or '2001:db8::/32'"
                             % cidr) from None

    def __repr__(self) -> str:
        return "<DDoSProtector %d/%gs block %gs %s>" % (self.threshold, self.window, self.block_duration,
                                                       "redis" if self.redis is not None else "memory")

    def __len__(self) -> int:
        """Addresses tracked in memory now (at most ``max_tracked``)."""
        return len(self._table)

    # -- addresses -----------------------------------------------------------
    def client_key(self, ip: str) -> Optional[str]:
        """The counter an address counts against, or None when it is on the allow-list: the address
        itself for IPv4 (also written as ``::ffff:a.b.c.d``), its /64 for IPv6.

        Raises ValueError for anything but an IP address.

        Example::

            ddos.client_key("2001:db8::1")   # '2001:db8::/64'
        """
        if not isinstance(ip, str):
            raise ValueError("not an IP address: %r" % (ip,))
        try:
            # A zone ("fe80::1%eth0") names the local link, not a different client.
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            raise ValueError("not an IP address: %r" % (ip[:64],)) from None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
        for net in self.whitelist:
            if addr.version == net.version and addr in net:
                return None
        if addr.version == 6:
            net = ipaddress.IPv6Network((int(addr) >> 64 << 64, IPV6_PREFIX_LENGTH))
            return str(net)
        return str(addr)

    # -- checks --------------------------------------------------------------
    def allow(self, ip: str) -> bool:
        """Count one request from ``ip``; False while it is blocked (plain face, any thread)."""
        key = self.client_key(ip)
        if key is None:
            return True
        if self.redis is None:
            return self._hit_memory(key)
        try:
            return self._blocking().run(lambda client: self._hit_redis(client, key))
        except RedisError as exc:
            return self._unavailable(exc)

    async def allow_request(self, ip: str) -> bool:
        """Count one request from ``ip``; False while it is blocked (coroutine face)."""
        key = self.client_key(ip)
        if key is None:
            return True
        if self.redis is None:
            return self._hit_memory(key)
        try:
            return await self._hit_redis(self.redis, key)
        except RedisError as exc:
            return self._unavailable(exc)

    def is_blocked(self, ip: str) -> bool:
        """Whether ``ip`` is blocked now in this process's table (counts nothing)."""
        key = self.client_key(ip)
        if key is None:
            return False
        with self._lock:
            entry = self._table.get(key)
            return entry is not None and entry.blocked_until > self._clock()

    def _hit_memory(self, key: str) -> bool:
        now = self._clock()
        table = self._table
        with self._lock:
            entry = table.get(key)
            if entry is None:
                entry = table[key] = _Entry(now)
                if len(table) > self.max_tracked:
                    table.popitem(last=False)
                    self.evictions += 1
            else:
                table.move_to_end(key)
                if entry.blocked_until:
                    if entry.blocked_until > now:
                        return False
                    entry.blocked_until = 0.0
                    entry.start, entry.count = now, 0
                elif now - entry.start >= self.window:
                    entry.start, entry.count = now, 0
            entry.count += 1
            if entry.count <= self.threshold:
                return True
            entry.blocked_until = now + self.block_duration
        self._blocked(key)
        return False

    async def _hit_redis(self, client: Redis, key: str) -> bool:
        keys = [self.prefix + "c:" + key, self.prefix + "b:" + key]
        args = [self.threshold, max(1, int(self.window * 1000)), max(1, int(self.block_duration * 1000))]
        allowed, newly_blocked = await self._script(keys, args, client)
        if newly_blocked:
            self._blocked(key)
        return allowed == 1

    def _blocked(self, key: str) -> None:
        # One line per block (not per refused request): at most one per address per block_duration.
        logger.warning("covet ddos: blocked %s for %g s after more than %d requests in %g s",
                       key, self.block_duration, self.threshold, self.window)

    def _unavailable(self, exc: BaseException) -> bool:
        self._log.error("covet ddos: Redis unavailable, allowing requests (failing open): %s", exc)
        return True

    def _blocking(self) -> BlockingRedis:
        with self._lock:
            if self._blocking_client is None:
                assert self.redis is not None
                self._blocking_client = self.redis.blocking()
            return self._blocking_client

    # -- housekeeping --------------------------------------------------------
    def unblock(self, ip: str) -> None:
        """Forget ``ip``'s counter and block in this process (not in Redis; see ``aunblock``)."""
        key = self.client_key(ip)
        if key is not None:
            with self._lock:
                self._table.pop(key, None)

    async def aunblock(self, ip: str) -> None:
        """Forget ``ip``'s counter and block, in Redis too."""
        self.unblock(ip)
        key = self.client_key(ip)
        if key is not None and self.redis is not None:
            await self.redis.delete(self.prefix + "c:" + key, self.prefix + "b:" + key)

    def clear(self) -> None:
        """Forget every address tracked in this process."""
        with self._lock:
            self._table.clear()
            self.evictions = 0

    def close(self) -> None:
        """Stop the private thread of the plain face ``allow`` (with Redis storage)."""
        with self._lock:
            blocking, self._blocking_client = self._blocking_client, None
        if blocking is not None:
            blocking.close()

    async def aclose(self) -> None:
        """``close()``, and close the Redis client made for ``storage=``: ``app.on_shutdown(ddos.aclose)``."""
        self.close()
        if self.redis is not None:
            await self.redis.close()
