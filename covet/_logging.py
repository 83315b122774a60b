"""Logging helpers shared by covet's features (the cache, the rate limiter, the Redis client).

``ThrottledLog`` keeps a failing backend from flooding the log: when Redis is down, every
request would otherwise log the same error.
"""
import logging
import threading
import time
from typing import Any

__all__ = ["ThrottledLog"]


class ThrottledLog:
    """Log an error at most once per ``interval`` seconds, counting what was held back."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self.logger = logger
        self.interval = interval
        self._last = -float("inf")
        self._suppressed = 0
        self._lock = threading.Lock()

    def error(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        if suppressed:
            message += " (%d similar errors not logged in the last %g s)" % (suppressed, self.interval)
        self.logger.error(message, *args)
