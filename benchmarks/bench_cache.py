"""Micro-benchmark of covet.cache (memory backend) and the in-process rate limiter.

Targets (issue 7), one core, thread-safe structures:
  Cache.get hits >= 1,000,000/s, Cache.set >= 500,000/s, RateLimiter.hit >= 300,000/s,
  and get/set >= 1.5x cachetools.TTLCache wrapped in a threading.Lock (what a
  thread-safe user of cachetools must write).

Run with plain python3 (the peer is reported as not installed) or with
benchmarks/.venv/bin/python. Prints the median of several runs, and the ratios.
"""
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from covet.cache import Cache  # noqa: E402
from covet.security.rate_limiting import RateLimiter  # noqa: E402

try:
    import cachetools
except ImportError:  # the peer lives in benchmarks/.venv only
    cachetools = None

RUNS = 7
KEYS = ["user:%d" % i for i in range(1000)]
NUMBER = 200_000
OPS = [KEYS[i % len(KEYS)] for i in range(NUMBER)]


class LockedTTLCache:
    """cachetools.TTLCache made thread-safe the way its documentation says: one lock around it."""

    def __init__(self, maxsize, ttl):
        self._cache = cachetools.TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            return self._cache.get(key, default)

    def set(self, key, value):
        with self._lock:
            self._cache[key] = value


def rate(fn):
    """Median operations per second over RUNS runs of NUMBER operations."""
    figures = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        figures.append(NUMBER / (time.perf_counter() - start))
    return statistics.median(figures)


def bench_get(cache):
    for key in KEYS:
        cache.set(key, {"id": key})
    get = cache.get

    def run():
        for key in OPS:
            get(key)
    return rate(run)


def bench_set(cache):
    set_ = cache.set

    def run():
        for key in OPS:
            set_(key, key)
    return rate(run)


def bench_limiter(strategy):
    # Generous limit: every check is allowed and updates state (the common path).
    limiter = RateLimiter("1000000/hour", strategy=strategy)
    hit = limiter.hit
    ips = ["10.0.%d.%d" % (i // 250, i % 250) for i in range(1000)]
    ops = [ips[i % len(ips)] for i in range(NUMBER)]

    def run():
        for ip in ops:
            hit(ip)
    return rate(run)


def main():
    print("covet cache/limiter micro-benchmark, python %s, median of %d runs x %d ops"
          % (sys.version.split()[0], RUNS, NUMBER))
    covet_get = bench_get(Cache(maxsize=10_000, ttl=300))
    covet_set = bench_set(Cache(maxsize=10_000, ttl=300))
    print("%-40s %12.0f ops/s  (target >= 1,000,000)" % ("covet Cache.get (hit)", covet_get))
    print("%-40s %12.0f ops/s  (target >=   500,000)" % ("covet Cache.set", covet_set))
    if cachetools is None:
        print("cachetools: peer not installed (run with benchmarks/.venv/bin/python)")
    else:
        peer_get = bench_get(LockedTTLCache(10_000, 300))
        peer_set = bench_set(LockedTTLCache(10_000, 300))
        print("%-40s %12.0f ops/s" % ("cachetools %s TTLCache+Lock get" % cachetools.__version__, peer_get))
        print("%-40s %12.0f ops/s" % ("cachetools %s TTLCache+Lock set" % cachetools.__version__, peer_set))
        print("ratio covet/cachetools: get %.2fx, set %.2fx  (target >= 1.5x)"
              % (covet_get / peer_get, covet_set / peer_set))
    for strategy in ("gcra", "sliding-window"):
        label = "covet RateLimiter.hit (%s)" % strategy
        target = "  (target >=   300,000)" if strategy == "gcra" else ""
        print("%-40s %12.0f ops/s%s" % (label, bench_limiter(strategy), target))


if __name__ == "__main__":
    main()
