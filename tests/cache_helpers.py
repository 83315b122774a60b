"""Helpers shared by the tests/test_cache_*.py files: a settable clock, a memory cache on it,
a Redis-backed cache on the test server, and a hook that waits for single-flight joins."""
import asyncio
import threading

from covet.cache import Cache, MemoryBackend, RedisBackend
from covet.redis import Redis


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def memory_cache(maxsize=100, ttl=10):
    clock = Clock()
    return Cache(ttl=ttl, backend=MemoryBackend(maxsize, clock=clock)), clock


def run(coro):
    return asyncio.run(coro)


def redis_cache(server, **kw):
    return Cache(ttl=30, backend=RedisBackend(Redis(port=server.port), **kw))


def joined_by(cache, n):
    """An event set once ``n`` misses have joined the key's flight (the leader's included).

    A factory that waits on it outlasts every waiter's arrival however the threads are
    scheduled; a fixed sleep did not, on a busy machine.
    """
    joined = []
    everyone = threading.Event()
    join = cache.single_flight.join

    def counting_join(key, loop):
        flight = join(key, loop)
        joined.append(key)
        if len(joined) == n:
            everyone.set()
        return flight

    cache.single_flight.join = counting_join
    return everyone
