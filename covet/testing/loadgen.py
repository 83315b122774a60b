"""The load generator behind PerformanceTest: N keep-alive connections on one asyncio loop.

Each simulated user is one connection (an ``asyncio.Protocol``, not a coroutine: a response is
parsed and the next request written from the read callback, with no task switch per request).
Responses are parsed by covet's sans-IO ``ResponseParser``; latency is ``time.perf_counter_ns``
from the write of a request to the chunk that completes its response.

Rules the generator keeps (docs/testing.md, "Load testing"):

- Counted mode (``requests_per_user``) ends each user after exactly that many outcomes, so
  ``total_requests == users * requests_per_user`` whatever fails. Timed mode (``duration``)
  stops recording at the deadline and abandons the requests still in flight, as wrk does.
- Pipelining writes ``depth`` requests at once on a connection, and the next ``depth`` once all
  are answered (as wrk does); responses come back in request order (RFC 9112 §9.3.2), so each
  is matched to the oldest unanswered request.
- An outcome is an error when its status is not in ``ok_statuses`` (2xx and 3xx by default),
  when no response came within ``timeout`` seconds, when the server closed the connection
  before answering, when the connection could not be made, or when the response broke HTTP/1.1.
  For a lost connection the oldest unanswered request is the error; later pipelined ones were
  never answered and are sent again on the next connection (RFC 9112 §9.3.2: "A client that
  pipelines requests SHOULD retry unanswered requests if the connection closes").
- ``Connection: close`` from the server is not an error: the generator reconnects and counts it.

Example::

    plan = LoadPlan.build("http://127.0.0.1:8000/", users=10, requests_per_user=100)
    stats = await run_load(plan)
    stats.total, stats.histogram.percentile(99)
"""
import asyncio
import json as jsonlib
import ssl
import time
from collections import deque
from typing import Any, Container, Deque, Dict, List, Mapping, Optional

from ..httpclient.errors import ProtocolError
from ..httpclient.models import RequestHeaders, parse_url
from ..httpclient.parser import NEED_DATA, EndOfMessage, ResponseHead, ResponseParser
from .histogram import LatencyHistogram

__all__ = ["LoadPlan", "LoadStats", "run_load", "ERROR_KINDS", "DEFAULT_TIMEOUT", "DEFAULT_OK_STATUSES"]

# wrk's default is 2 s; a slow endpoint under a test's load on a shared CI machine needs more.
DEFAULT_TIMEOUT = 10.0
#: Statuses that count as successes unless ``ok_statuses`` says otherwise: 2xx and 3xx.
DEFAULT_OK_STATUSES = range(200, 400)
#: The kinds of error, the keys of ``LoadStats.errors``.
ERROR_KINDS = ("status", "timeout", "closed", "connect", "protocol")
# How often the timeout sweep runs, as a fraction of the timeout: one timer for all users
# instead of a timer per request (wrk sweeps the same way). A timeout is seen at most a
# quarter late.
_SWEEP_FRACTION = 0.25
_UNLIMITED = 1 << 62
# PERF: the users read into one shared buffer (asyncio.BufferedProtocol). With data_received,
# asyncio's socket transport calls recv(256 KiB) for every response: CPython allocates that
# much (malloc hands it to mmap), shrinks it (mremap) and frees it (munmap), three system calls
# per response that cost more than the parsing on a virtual machine (strace: 5,300 of each for
# 5,300 responses). One loop thread, and each chunk is copied into its parser before the next
# read, so one buffer serves every connection.
RECV_BUFFER_SIZE = 64 * 1024


class LoadPlan:
    """What to send, where, and how much; built once, before the run (``LoadPlan.build``).

    ``request`` holds the exact bytes of one request: every request of the run is that byte
    string, written with one ``transport.write`` (``depth`` of them at once when pipelining).
    """

    __slots__ = ("host", "port", "ssl", "server_hostname", "method", "request", "users",
                 "requests_per_user", "duration", "depth", "warmup", "timeout", "ok_statuses", "url")

    def __init__(self, host: str, port: int, request: bytes, method: str = "GET", *, users: int = 50,
                 requests_per_user: Optional[int] = None, duration: Optional[float] = None, depth: int = 1,
                 warmup: float = 0.0, timeout: float = DEFAULT_TIMEOUT,
                 ok_statuses: Container[int] = DEFAULT_OK_STATUSES, ssl_context: Optional[ssl.SSLContext] = None,
                 url: str = "") -> None:
        if not isinstance(users, int) or users < 1:
            raise ValueError("concurrent_users must be a positive integer, got %r" % (users,))
        if requests_per_user is not None and duration is not None:
            raise ValueError("give requests_per_user or duration, not both")
        if duration is None and requests_per_user is None:
            requests_per_user = 100
        if requests_per_user is not None and (not isinstance(requests_per_user, int) or requests_per_user < 1):
            raise ValueError("requests_per_user must be a positive integer, got %r" % (requests_per_user,))
        if duration is not None and not duration > 0:
            raise ValueError("duration must be a positive number of seconds, got %r" % (duration,))
        if not isinstance(depth, int) or depth < 1:
            raise ValueError("pipeline depth must be a positive integer, got %r" % (depth,))
        if not warmup >= 0:
            raise ValueError("warmup must be zero or more seconds, got %r" % (warmup,))
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds, got %r" % (timeout,))
        self.host = host
        self.port = port
        self.request = request
        self.method = method
        self.users = users
        self.requests_per_user = requests_per_user
        self.duration = duration
        self.depth = depth
        self.warmup = warmup
        self.timeout = timeout
        self.ok_statuses = ok_statuses
        self.ssl = ssl_context
        self.server_hostname = host if ssl_context is not None else None
        self.url = url

    @classmethod
    def build(cls, url: str, method: str = "GET", headers: Optional[Mapping[str, str]] = None,
              json: Any = None, body: Optional[bytes] = None, verify: bool = True, **settings: Any) -> "LoadPlan":
        """Encode the request once from a URL, a method, headers and a body (``json=`` or ``body=``).

        Header names and values are checked as covet's HTTP client checks them (a CR or LF is
        refused, never sent). ``settings`` are the keywords of ``LoadPlan``.

        Example::

            LoadPlan.build("http://127.0.0.1:8000/items", "POST", json={"name": "x"}, users=4,
                           requests_per_user=10)
        """
        target = parse_url(url)
        method = method.upper()
        if not method.isalpha() or not method.isascii():
            raise ValueError("invalid method %r" % method)
        if json is not None and body is not None:
            raise ValueError("give json= or body=, not both")
        hdrs = RequestHeaders({"Host": target.host_header, "User-Agent": "covet-performance-test",
                               "Accept": "*/*"})
        payload = b""
        if json is not None:
            payload = jsonlib.dumps(json, separators=(",", ":")).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        for name, value in (headers or {}).items():
            hdrs[name] = value
        if payload or method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = str(len(payload))
        request = b"%s %s HTTP/1.1\r\n%s\r\n%s" % (method.encode("ascii"), target.target.encode("ascii"),
                                                   hdrs.encode(), payload)
        context = None
        if target.origin.scheme == "https":
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        return cls(target.origin.host, target.origin.port, request, method, ssl_context=context,
                   url=target.url, **settings)


class LoadStats:
    """What a run measured (the raw figures; ``covet.testing.performance.LoadResults`` reads them).

    Example::

        stats = await run_load(plan)
        stats.total, stats.successful, stats.errors["timeout"], stats.histogram.percentile(99)
    """

    __slots__ = ("histogram", "status_counts", "errors", "bytes_received", "total", "successful",
                 "recording", "reconnects", "retried", "started_ns", "ended_ns", "cpu_ns", "ok_statuses")

    def __init__(self, ok_statuses: Container[int]) -> None:
        self.histogram = LatencyHistogram()
        self.status_counts = {}  # type: Dict[int, int]
        self.errors = dict.fromkeys(ERROR_KINDS, 0)  # type: Dict[str, int]
        self.bytes_received = 0
        self.total = 0
        self.successful = 0
        self.recording = False
        self.reconnects = 0
        self.retried = 0
        self.started_ns = 0
        self.ended_ns = 0
        self.cpu_ns = 0
        self.ok_statuses = ok_statuses

    def response(self, latency_ns: int, status: int) -> None:
        """One complete response (any status)."""
        if not self.recording:
            return
        self.total += 1
        self.histogram.record(latency_ns)
        counts = self.status_counts
        counts[status] = counts.get(status, 0) + 1
        if status in self.ok_statuses:
            self.successful += 1
        else:
            self.errors["status"] += 1

    def error(self, kind: str) -> None:
        """One request that ended without a response: timeout, closed, connect or protocol."""
        if self.recording:
            self.total += 1
            self.errors[kind] += 1


class _User(asyncio.BufferedProtocol):
    """One simulated user: one connection at a time, up to ``depth`` requests in flight."""

    def __init__(self, plan: LoadPlan, stats: LoadStats, loop: asyncio.AbstractEventLoop,
                 buffer: memoryview) -> None:
        self.buffer = buffer
        self.plan = plan
        self.stats = stats
        self.loop = loop
        self.transport = None  # type: Optional[asyncio.Transport]
        self.parser = ResponseParser(plan.method)
        self.inflight = deque()  # type: Deque[int]   # write times (perf_counter_ns), oldest first
        self.budget = 0          # requests this phase may still start
        self.status = 0          # of the response being read
        self.keep_alive = True
        self.connecting = None   # type: Optional[asyncio.Task]
        self.eof = False         # the server closed its side
        self.stopped = False
        self.idle = None         # type: Optional[asyncio.Future]  # set when the phase's work is done

    # -- phases ---------------------------------------------------------------------------------

    def begin(self, budget: int) -> "asyncio.Future[None]":
        """Start a phase of ``budget`` requests; the future completes when all have an outcome."""
        self.budget = budget
        self.idle = self.loop.create_future()
        if self.transport is None:
            if self.connecting is None:
                self.connecting = self.loop.create_task(self.connect())
        else:
            self.fill()
        self._check_idle()
        return self.idle

    def wind_down(self) -> None:
        """Start no more requests this phase; the ones in flight finish."""
        self.budget = 0
        self._check_idle()

    def stop(self) -> None:
        """End for good: abandon what is in flight (not counted) and close the connection."""
        self.stopped = True
        self.budget = 0
        self.inflight.clear()
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.abort()
        if self.connecting is not None:
            self.connecting.cancel()
        self._check_idle()

    def _check_idle(self) -> None:
        idle = self.idle
        if idle is not None and not self.budget and not self.inflight and not self.connecting and not idle.done():
            idle.set_result(None)

    # -- connection -----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open a connection (again), retrying while the phase has requests to send."""
        plan = self.plan
        try:
            while self.budget and not self.stopped:
                try:
                    await asyncio.wait_for(self.loop.create_connection(
                        lambda: self, plan.host, plan.port, ssl=plan.ssl,
                        server_hostname=plan.server_hostname), plan.timeout)
                    return
                except (OSError, asyncio.TimeoutError, ssl.SSLError):
                    # The request that would have gone out is the error: a count-mode run
                    # still ends after exactly requests_per_user outcomes.
                    self.budget -= 1
                    self.stats.error("connect")
        finally:
            self.connecting = None
            if self.transport is not None:
                self.fill()
            self._check_idle()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        if self.stopped:
            transport.abort()
            return
        self.transport = transport  # type: ignore[assignment]
        self.parser = ResponseParser(self.plan.method)
        self.keep_alive = True
        self.eof = False

    def eof_received(self) -> bool:
        # A body framed by the end of the connection (RFC 9112 §6.3 rule 8) completes here;
        # whatever is still unanswered after that was dropped by the server.
        self.eof = True
        self.parser.feed(b"")
        if self._parse(time.perf_counter_ns()):
            self._close()
            self._lost("closed")
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.transport is None:
            return  # closed by us: outcomes already counted
        self.transport = None
        self._lost("closed")

    def _lost(self, kind: str) -> None:
        """The connection ended with requests unanswered: the oldest is an error of ``kind``,
        the others are sent again on the next connection."""
        inflight = self.inflight
        if inflight:
            inflight.popleft()
            self.stats.error(kind)
            if inflight:
                self.stats.retried += len(inflight)
                self.budget += len(inflight)
                inflight.clear()
        self._reconnect()

    def _close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.abort()

    def _reconnect(self) -> None:
        if self.budget and not self.stopped and self.connecting is None:
            self.stats.reconnects += 1
            self.connecting = self.loop.create_task(self.connect())
        self._check_idle()

    def timed_out(self) -> None:
        """No response within the timeout: count it and start over on a new connection."""
        self._close()
        self._lost("timeout")

    # -- requests and responses -----------------------------------------------------------------

    def fill(self) -> None:
        """Once nothing is in flight, write the next ``depth`` requests (fewer if the phase's
        budget is nearly spent) in one write."""
        # A pipeline goes out whole once the previous one is answered, as wrk sends it. Topping
        # it up response by response keeps as many in flight but trickles small writes at the
        # server, which then reads one request per wake-up: covet's server answered 0.64x the
        # requests per second of wrk's batches that way (benchmarks/bench_perftest.py).
        if self.inflight or self.transport is None:
            return
        n = self.plan.depth
        if n > self.budget:
            n = self.budget
        if n <= 0:
            return
        self.budget -= n
        now = time.perf_counter_ns()
        if n == 1:
            self.inflight.append(now)
            self.transport.write(self.plan.request)
        else:
            self.inflight.extend([now] * n)
            self.transport.write(self.plan.request * n)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        now = time.perf_counter_ns()
        stats = self.stats
        if stats.recording:
            stats.bytes_received += nbytes
        self.parser.feed(self.buffer[:nbytes])  # copied into the parser's own buffer
        if self._parse(now):
            self.fill()

    def _parse(self, now: int) -> bool:
        """Read every complete response out of the parser; False when the connection ended."""
        parser = self.parser
        while True:
            try:
                event = parser.next_event()
            except ProtocolError:
                # Nobody knows where the next response starts: the connection is done for. At
                # the end of the connection the error only says that the server hung up.
                self._close()
                self._lost("closed" if self.eof else "protocol")
                return False
            kind = event.__class__
            if event is NEED_DATA:
                return True
            if kind is ResponseHead:
                self.status = event.status_code  # type: ignore[union-attr]
                self.keep_alive = event.keep_alive  # type: ignore[union-attr]
            elif kind is EndOfMessage:
                if not self.inflight:
                    # A response to no request (RFC 9112 §9.3.2 pairs them in order): a server
                    # bug, and the pairing of what follows is lost.
                    self._close()
                    self._lost("protocol")
                    return False
                self.stats.response(now - self.inflight.popleft(), self.status)
                rest = parser.take_trailing_data()
                if not self.keep_alive:
                    # Connection: close (or a body that ran to the end of the connection): not
                    # an error; requests written after this one are sent again elsewhere.
                    self._close()
                    if self.inflight:
                        self.stats.retried += len(self.inflight)
                        self.budget += len(self.inflight)
                        self.inflight.clear()
                    self._reconnect()
                    return False
                parser = self.parser = ResponseParser(self.plan.method)
                if rest:
                    parser.feed(rest)
                if self.eof:
                    if not rest:
                        self._close()
                        self._lost("closed")
                        return False
                    parser.feed(b"")
                elif not rest:
                    self._check_idle()
                    return True
            # Data events: the bytes were counted as they arrived.


async def run_load(plan: LoadPlan) -> LoadStats:
    """Run ``plan`` on the running loop and return what it measured.

    Connections are opened first and the warm-up (if any) runs and drains before the clock
    starts, so neither is in the figures.

    Example::

        stats = asyncio.run(run_load(LoadPlan.build("http://127.0.0.1:8000/", users=8, duration=5)))
    """
    loop = asyncio.get_running_loop()
    stats = LoadStats(plan.ok_statuses)
    buffer = memoryview(bytearray(RECV_BUFFER_SIZE))
    users = [_User(plan, stats, loop, buffer) for _ in range(plan.users)]
    timeout_ns = int(plan.timeout * 1e9)
    sweeper = None  # type: Optional[asyncio.TimerHandle]

    def sweep() -> None:
        nonlocal sweeper
        limit = time.perf_counter_ns() - timeout_ns
        for user in users:
            if user.inflight and user.inflight[0] < limit and user.transport is not None:
                user.timed_out()
        sweeper = loop.call_later(plan.timeout * _SWEEP_FRACTION, sweep)

    sweeper = loop.call_later(plan.timeout * _SWEEP_FRACTION, sweep)
    try:
        await _open_all(users, plan)
        if plan.warmup:
            phase = [user.begin(_UNLIMITED) for user in users]
            await asyncio.sleep(plan.warmup)
            for user in users:
                user.wind_down()
            await asyncio.gather(*phase)
        stats.recording = True
        cpu0 = time.thread_time_ns()
        stats.started_ns = time.perf_counter_ns()
        if plan.duration is None:
            await asyncio.gather(*[user.begin(plan.requests_per_user or 0) for user in users])
        else:
            for user in users:
                user.begin(_UNLIMITED)
            await asyncio.sleep(plan.duration)
        stats.ended_ns = time.perf_counter_ns()
        stats.cpu_ns = time.thread_time_ns() - cpu0
        stats.recording = False
    finally:
        stats.recording = False
        if sweeper is not None:
            sweeper.cancel()
        pending = [user.connecting for user in users if user.connecting is not None]
        for user in users:
            user.stop()
        # Cancelled connects end and the transports' close callbacks run on this loop, before
        # the caller may close it.
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0)
    return stats


async def _open_all(users: List[_User], plan: LoadPlan) -> None:
    """Open every user's first connection before the clock starts (failures are retried in the run)."""
    async def one(user: _User) -> None:
        try:
            await asyncio.wait_for(user.loop.create_connection(
                lambda: user, plan.host, plan.port, ssl=plan.ssl, server_hostname=plan.server_hostname),
                plan.timeout)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass  # begin() tries again, and counts a failure as a "connect" error

    await asyncio.gather(*[one(user) for user in users])
