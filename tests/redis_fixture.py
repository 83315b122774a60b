"""A real redis-server for the tests, started once per session on a free loopback port.

Import the fixture into a test module (``from redis_fixture import redis_server``).
Without the ``redis-server`` binary (Debian package ``redis-server``) the tests that
use it are skipped, and the reason is printed once.
"""
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REDIS_BIN = shutil.which("redis-server")
SKIP_REASON = "redis-server not found on PATH (install the Debian package redis-server)"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One redis-server process: ``host``, ``port``, ``url``; ``stop()`` kills it."""

    def __init__(self, *extra, port=None):
        self.host = "127.0.0.1"
        self.dir = tempfile.mkdtemp(prefix="covet-redis-")
        for _ in range(5):
            self.port = port or free_port()
            self.proc = subprocess.Popen(
                [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.dir, "--daemonize", "no", "--loglevel", "warning", *extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError("redis-server did not start")

    @property
    def url(self):
        return "redis://%s:%d/0" % (self.host, self.port)

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    reply = s.recv(64)
                    if reply.startswith((b"+PONG", b"-NOAUTH")):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def command(self, *args):
        """Send one command with a plain socket and return the raw reply bytes (for checks)."""
        payload = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in (x if isinstance(x, bytes) else str(x).encode() for x in args))
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(payload)
            return s.recv(1 << 20)

    def flush(self):
        self.command("FLUSHALL")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


_shared = []
_told = []


def _skip():
    if not _told:
        _told.append(True)
        sys.__stderr__.write("\n[redis tests] skipped: %s\n" % SKIP_REASON)
    pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def redis_server(request):
    """The shared server, emptied (FLUSHALL) before each use by ``redis_clean``."""
    if REDIS_BIN is None:
        _skip()
    if not _shared:
        server = RedisServer()
        _shared.append(server)
        # Registered by whichever test module started it: runs once, at session end.
        request.addfinalizer(server.stop)
    return _shared[0]


@pytest.fixture
def redis_clean(redis_server):
    """The shared server with every database flushed."""
    redis_server.flush()
    return redis_server


def start_redis(*extra):
    """A private server with extra options (e.g. ``--requirepass``); the caller stops it."""
    if REDIS_BIN is None:
        _skip()
    return RedisServer(*extra)


def start_redis_on(port):
    """A private server on ``port`` (a restart on the port a client knows); the caller stops it."""
    if REDIS_BIN is None:
        _skip()
    return RedisServer(port=port)


__all__ = ["redis_server", "redis_clean", "start_redis", "start_redis_on", "free_port", "RedisServer", "REDIS_BIN"]


async def redis_ms(client):
    """The Redis server's clock in milliseconds: expiry instants are compared against it."""
    seconds, micros = await client.execute("TIME")
    return int(seconds) * 1000 + int(micros) // 1000
