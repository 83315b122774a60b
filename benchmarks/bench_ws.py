"""WebSocket benchmark of issue 13: covet's server against the websockets package and uvicorn+Starlette,
side by side in one run, and covet's memory with 1,000 idle WebSockets.

    benchmarks/.venv/bin/python benchmarks/bench_ws.py             # full run (about 6 minutes)
    benchmarks/.venv/bin/python benchmarks/bench_ws.py --quick     # smoke check
    benchmarks/.venv/bin/python benchmarks/bench_ws.py --memory    # only the memory target
    benchmarks/.venv/bin/python benchmarks/bench_ws.py --only covet,websockets --skip-memory

Servers (benchmarks/http/apps/): covet (``python -m covet run covet_ws_app.py``, asyncio), the
websockets package's asyncio server with its C speed-ups (``websockets_app.py`` refuses to start
without ``websockets.speedups``), and Starlette under uvicorn with httptools+uvloop and each of
uvicorn's WebSocket implementations that imports (``websockets``, ``websockets-sansio``,
``wsproto``). Every server is a separate process pinned to core 1 with ``taskset``; this process,
the load generator, pins itself to core 0. Runs are interleaved across servers (run 1 of every
server, then run 2, ...), each figure is the median of ``--runs`` runs, and before each run the
script waits until the previous server has stopped using CPU.

What is measured:

1. **Echo**: round trips per second over ONE connection, one message in flight: a 16-byte text
   message and a 64 KiB binary one. Also the round trips per CPU-second of the server (from
   /proc: a shared machine disturbs it less) and the p99 round-trip time.
2. **Fan-out**: ``--clients`` (1,000) connections to ``/broadcast``; one of them sends a 16-byte
   text message, the server sends it to every connection (the sender too): covet with
   ``WebSocketManager.broadcast``, websockets with its ``broadcast()``, Starlette with a loop of
   ``await send_text``. The time from sending it until the last client has received it, median
   of ``--rounds`` rounds per run. The client's own CPU time per round is printed: it must stay
   well below the fan-out time, otherwise the client is the limit.
3. **Memory** (also ``--memory`` alone): a fresh covet server, RSS after start-up and with
   ``--clients`` idle WebSockets open (each has echoed one message, and must echo a second one
   afterwards to prove it stayed open); once on ``/echo`` (a handler waiting in ``receive``) and
   once on ``/broadcast`` (also held by a ``WebSocketManager``: a queue and a writer task each).

The client is one raw-socket client, the same for every server: covet's sans-IO codec in the
client role (``covet.server.websocket.WebSocketConnection(client=True)``) builds the masked
frames, the handshake's ``Sec-WebSocket-Accept`` is checked with covet's ``accept_key``, and the
first echo of each connection is decoded by the codec and compared with what was sent. After
that the hot loop replays the same masked frame and compares the server's answer with the exact
bytes expected (an unmasked frame is fully determined by its payload), so a round trip costs the
client one ``sendall`` and one or two ``recv_into``: about 10 us, not the 50-100 us an asyncio
client (or the websockets client) spends, which would hide the servers' differences. Anything
else the server sends (a keepalive ping) is split into frames and pings are answered. No
extension is offered: no server compresses.

Targets (issue 13), printed PASS/FAIL: echo covet >= 1.5x websockets and >= 2x each Starlette
variant, small and 64 KiB; fan-out of one message to 1,000 clients under 50 ms; 1,000 idle
WebSockets under 40 MB RSS for the whole covet server.

Needs Linux (epoll, /proc). Standard library and covet only on the client side; a missing peer
prints "peer not installed".
"""
import argparse
import base64
import json
import os
import select
import socket
import statistics
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "http"))
sys.path.insert(0, ROOT)

import _harness as H  # noqa: E402
from covet.server.websocket import (  # noqa: E402
    NEED_DATA, BytesMessage, TextMessage, WebSocketConnection, accept_key,
)

SMALL = "0123456789abcdef"  # 16 bytes of text
BIG = bytes(range(256)) * 256  # 64 KiB binary
ECHO_TARGETS = [("websockets", 1.5), ("starlette-websockets", 2.0), ("starlette-websockets-sansio", 2.0),
                ("starlette-wsproto", 2.0)]
FANOUT_MS = 50.0
IDLE_MB = 40.0
WS_MAX = 1 << 20


def _uvicorn(ws):
    return lambda port: [H.python(), "-m", "uvicorn", "--app-dir", H.APPS, "starlette_ws_app:app",
                         "--host", "127.0.0.1", "--port", str(port), "--http", "httptools", "--loop", "uvloop",
                         "--ws", ws, "--log-level", "warning", "--no-access-log"]


def _covet(port, clients=1000):
    # --max-connections: the default (1000) would leave no room for the fan-out's 1,000 plus the echo one.
    return [H.python(), "-m", "covet", "run", os.path.join(H.APPS, "covet_ws_app.py"), "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--max-connections", str(clients + 100)]


# name -> (command for a port, modules it needs, note)
SERVERS = [
    ("covet", _covet, (), "covet, asyncio, WebSocketManager.broadcast"),
    ("websockets", lambda port: [H.python(), os.path.join(H.APPS, "websockets_app.py"), str(port)],
     ("websockets", "websockets.speedups"), "websockets asyncio server, C speed-ups, broadcast()"),
    ("starlette-websockets", _uvicorn("websockets"), ("uvicorn", "starlette", "httptools", "uvloop", "websockets"),
     "uvicorn+Starlette --ws websockets, httptools+uvloop"),
    ("starlette-websockets-sansio", _uvicorn("websockets-sansio"),
     ("uvicorn", "starlette", "httptools", "uvloop", "websockets", "uvicorn.protocols.websockets.websockets_sansio_impl"),
     "uvicorn+Starlette --ws websockets-sansio, httptools+uvloop"),
    ("starlette-wsproto", _uvicorn("wsproto"), ("uvicorn", "starlette", "httptools", "uvloop", "wsproto"),
     "uvicorn+Starlette --ws wsproto, httptools+uvloop"),
]


# -- the client -----------------------------------------------------------------------------

def handshake(port, path, timeout=10.0):
    """Open a WebSocket to ``path``; returns (blocking socket, bytes read past the 101 head)."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            sock.close()
            raise ConnectionError("closed during the handshake")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if status != 101:
        sock.close()
        raise RuntimeError("handshake answered %d" % status)
    if headers.get(b"sec-websocket-accept") != accept_key(key).encode("ascii"):
        sock.close()
        raise RuntimeError("wrong Sec-WebSocket-Accept")
    if headers.get(b"sec-websocket-extensions"):
        sock.close()
        raise RuntimeError("an extension was agreed although none was offered")
    return sock, rest


def server_frame(message):
    """The exact bytes a server sends for ``message`` (unmasked, one frame, RFC 6455 §5.2)."""
    codec = WebSocketConnection(max_message_size=WS_MAX)
    return codec.send_text(message) if type(message) is str else codec.send_bytes(message)


def split_frames(buf):
    """Complete unmasked frames at the start of ``buf``: ([(opcode, payload)], bytes left over)."""
    frames = []
    i = 0
    while len(buf) - i >= 2:
        first, second = buf[i], buf[i + 1]
        if second & 0x80 or not first & 0x80:
            raise RuntimeError("a masked or fragmented frame from the server")
        n, start = second & 0x7F, i + 2
        if n == 126:
            if len(buf) - i < 4:
                break
            n, start = struct.unpack_from("!H", buf, i + 2)[0], i + 4
        elif n == 127:
            if len(buf) - i < 10:
                break
            n, start = struct.unpack_from("!Q", buf, i + 2)[0], i + 10
        if len(buf) < start + n:
            break
        frames.append((first & 0x0F, bytes(buf[start:start + n])))
        i = start + n
    return frames, bytes(buf[i:])


class Client:
    """One WebSocket: the codec for frames, a buffer for what arrived out of the fast path's order."""

    def __init__(self, port, path):
        self.sock, self.pending = handshake(port, path)
        self.codec = WebSocketConnection(client=True, max_message_size=WS_MAX)

    def frame(self, message):
        """The masked frame of ``message``."""
        return self.codec.send_text(message) if type(message) is str else self.codec.send_bytes(message)

    def handle(self, data, payload):
        """Add ``data``; answer pings; True once a data frame with exactly ``payload`` arrived."""
        frames, self.pending = split_frames(self.pending + data)
        found = False
        for opcode, body in frames:
            if opcode == 0x9:
                self.sock.sendall(self.codec.send_pong(body))
            elif opcode == 0xA:
                continue
            elif opcode in (0x1, 0x2) and body == payload and not found:
                found = True
            else:
                raise RuntimeError("unexpected frame: opcode %d, %d bytes %r" % (opcode, len(body), body[:40]))
        return found

    def first_echo(self, message):
        """One round trip decoded by the codec: the echo must be the same message of the same type."""
        self.sock.sendall(self.frame(message))
        reader = WebSocketConnection(client=True, max_message_size=WS_MAX)
        if self.pending:  # feed(b"") would mean the end of the stream
            reader.feed(self.pending)
            self.pending = b""
        while True:
            event = reader.next_event()
            if event is NEED_DATA:
                reader.feed(self.sock.recv(65536))
                continue
            want = TextMessage if type(message) is str else BytesMessage
            if type(event) is not want or event.data != message:
                raise RuntimeError("echo answered %r" % (event,))
            return

    def close(self):
        try:
            self.sock.setblocking(False)
            self.sock.send(self.codec.close(1000))
        except OSError:
            pass
        self.sock.close()


def echo_run(client, message, duration, server):
    """Round trips of ``message`` for ``duration`` seconds; figures of the run."""
    payload = message.encode() if type(message) is str else message
    frame = client.frame(message)
    expected = server_frame(message)
    n = len(expected)
    buf = bytearray(n)
    view = memoryview(buf)
    sock = client.sock
    send, recv_into = sock.sendall, sock.recv_into
    clock = time.perf_counter
    lat = []
    cpu0 = server.cpu_seconds()
    start = t = clock()
    end = start + duration
    while t < end:
        send(frame)
        if client.pending:
            while not client.handle(sock.recv(65536), payload):
                pass
        else:
            got = 0
            while got < n:
                k = recv_into(view[got:], n - got)
                if not k:
                    raise ConnectionError("the server closed the connection")
                got += k
            if buf != expected:
                # Something else came first (a ping): take the slow path for this round trip.
                if not client.handle(bytes(buf), payload):
                    while not client.handle(sock.recv(65536), payload):
                        pass
        now = clock()
        lat.append(now - t)
        t = now
    seconds = t - start
    cpu = server.cpu_seconds() - cpu0
    lat.sort()
    return {"rt": len(lat), "seconds": seconds, "rps": len(lat) / seconds, "cpu_s": cpu,
            "rps_cpu": len(lat) / cpu if cpu > 0 else None, "p99_us": lat[int(len(lat) * 0.99)] * 1e6}


def echo_connection(server, message, duration):
    """One run on a fresh connection: its first echo checked by the codec, 0.2 s of warm-up, then
    ``duration`` seconds measured. A connection per run, each shorter than the servers' 20 s ping
    interval: a connection kept across the interleaved runs would sit unread while the other
    servers are measured and miss its pong deadline."""
    c = Client(server.port, "/echo")
    try:
        c.first_echo(message)
        echo_run(c, message, 0.2, server)
        return echo_run(c, message, duration, server)
    finally:
        c.close()


def fanout_connect(port, count):
    """``count`` WebSockets on /broadcast, non-blocking."""
    clients = []
    try:
        for _ in range(count):
            c = Client(port, "/broadcast")
            c.sock.setblocking(False)
            clients.append(c)
    except BaseException:
        for c in clients:
            c.close()
        raise
    return clients


def fanout_round(clients, poller, by_fd, message, timeout=10.0):
    """Send ``message`` on the first client; seconds until every client has received it."""
    payload = message.encode()
    frame = clients[0].frame(message)
    expected = server_frame(message)
    got = set()
    remaining = len(clients)
    clock = time.perf_counter
    poll = poller.poll
    t0 = clock()
    deadline = t0 + timeout
    clients[0].sock.sendall(frame)
    while remaining:
        events = poll(0.5)
        if not events and clock() > deadline:
            raise RuntimeError("%d of %d clients did not receive the broadcast within %.0f s"
                               % (remaining, len(clients), timeout))
        for fd, _ in events:
            c = by_fd[fd]
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError("the server closed a fan-out connection")
            if data == expected and not c.pending and fd not in got:
                got.add(fd)
                remaining -= 1
            elif c.handle(data, payload):
                if fd in got:
                    raise RuntimeError("a client received the broadcast twice")
                got.add(fd)
                remaining -= 1
    return clock() - t0


def settle(server, quiet_ms=5.0, limit=10.0):
    """Wait until ``server`` uses under ``quiet_ms`` of CPU in 100 ms (it finished closing sockets)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        c0 = server.cpu_seconds()
        time.sleep(0.1)
        c1 = server.cpu_seconds()
        if c0 is None or c1 is None or (c1 - c0) * 1000 < quiet_ms:
            return


def fanout_run(server, count, rounds, warmup=3):
    """Connect ``count`` clients, ``warmup`` then ``rounds`` broadcasts; figures of the run."""
    clients = fanout_connect(server.port, count)
    try:
        time.sleep(0.3)
        rss = server.rss_mb()
        poller = select.epoll()
        by_fd = {}
        for c in clients:
            poller.register(c.sock.fileno(), select.EPOLLIN)
            by_fd[c.sock.fileno()] = c
        for i in range(warmup):  # also proves every client is registered with the broadcaster
            fanout_round(clients, poller, by_fd, "warm-up %07d" % i)
            time.sleep(0.05)
        times = []
        cpu0, own0 = server.cpu_seconds(), time.process_time()
        for i in range(rounds):
            times.append(fanout_round(clients, poller, by_fd, "broadcast %06d" % i))
            time.sleep(0.03)  # the server finishes the round's writes before the next one starts
        cpu = server.cpu_seconds() - cpu0
        own = time.process_time() - own0
        poller.close()
    finally:
        for c in clients:
            c.close()
    return {"ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000,
            "cpu_ms": cpu * 1000 / rounds, "client_cpu_ms": own * 1000 / rounds, "rss_mb": rss,
            "all_ms": [round(t * 1000, 2) for t in times]}


# -- servers --------------------------------------------------------------------------------

def prime(name, cmd, pin, cache):
    """Start ``cmd`` once and use both routes, so that its bytecode (lazy imports too) is cached."""
    port = H.free_port()
    srv = H.Server(name + "-prime", cmd(port), H.REPO, port, pin, env=cache.env, unset=cache.unset)
    try:
        srv.wait_ready()
        for path in ("/echo", "/broadcast"):
            c = Client(port, path)
            c.first_echo(SMALL)
            c.close()
    finally:
        srv.stop()


def installed(modules):
    import importlib.util

    missing = []
    for m in modules:
        try:
            if importlib.util.find_spec(m) is None:
                missing.append(m)
        except ImportError:
            missing.append(m)
    return missing


def start_all(servers, pin, cache):
    started = {}
    for name, cmd, modules, note in servers:
        missing = installed(modules)
        if missing:
            print("  %-28s peer not installed (%s)" % (name, ", ".join(missing)))
            continue
        port = H.free_port()
        srv = None
        try:
            prime(name, cmd, pin, cache)
            srv = H.Server(name, cmd(port), H.REPO, port, pin, env=cache.env, unset=cache.unset)
            srv.wait_ready()
        except (RuntimeError, OSError) as exc:
            print("  %-28s failed to start: %s" % (name, exc))
            if srv is not None:
                srv.stop()
            continue
        time.sleep(0.3)
        srv.startup_rss = srv.rss_mb()
        started[name] = srv
        print("  %-28s pid %-7d port %-5d %s" % (name, srv.pid, port, note))
    return started


# -- reporting ------------------------------------------------------------------------------

def ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "-"


def print_echo(title, results, order, args):
    print()
    print("%s  (one connection, one message in flight; %d s per run, median of %d)"
          % (title, args.duration, args.runs))
    print("  %-28s %10s %11s %9s %11s %11s %5s  %s" % ("server", "rt/s", "covet/peer", "p99 us", "rt/cpu-s",
                                                       "covet/peer", "cpu%", "runs rt/s"))
    cov = results.get("covet")
    for name in order:
        s = results.get(name)
        if s is None:
            continue
        if "invalid" in s:
            print("  %-28s not measured: %s" % (name, s["invalid"]))
            continue
        ok = cov is not None and "invalid" not in cov and name != "covet"
        print("  %-28s %10s %11s %9.0f %11s %11s %5.0f  %s" % (
            name, "{:,.0f}".format(s["rps"]), ratio(cov["rps"], s["rps"]) if ok else "",
            s["p99_us"], "{:,.0f}".format(s["rps_cpu"]) if s["rps_cpu"] else "-",
            ratio(cov["rps_cpu"], s["rps_cpu"]) if ok else "", s["cpu_pct"],
            " ".join("{:,}".format(x) for x in s["all"])))


def summarise_echo(runs):
    return {"rps": statistics.median(r["rps"] for r in runs),
            "rps_cpu": statistics.median(r["rps_cpu"] for r in runs if r["rps_cpu"]),
            "p99_us": statistics.median(r["p99_us"] for r in runs),
            "cpu_pct": statistics.median(100.0 * r["cpu_s"] / r["seconds"] for r in runs),
            "all": [round(r["rps"]) for r in runs]}


def summarise_fanout(runs):
    return {"ms": statistics.median(r["ms"] for r in runs), "max_ms": max(r["max_ms"] for r in runs),
            "cpu_ms": statistics.median(r["cpu_ms"] for r in runs),
            "client_cpu_ms": statistics.median(r["client_cpu_ms"] for r in runs),
            "rss_mb": statistics.median(r["rss_mb"] for r in runs if r["rss_mb"] is not None),
            "all": [round(r["ms"], 1) for r in runs]}


def print_fanout(results, order, args, started):
    print()
    print("Fan-out: one 16-byte text message to %d clients, until the last received it  (median of %d rounds "
          "per run, median of %d runs)" % (args.clients, args.rounds, args.runs))
    print("  %-28s %8s %11s %8s %12s %11s %11s %9s %8s  %s" % (
        "server", "ms", "covet/peer", "max ms", "server cpu", "covet/peer", "client cpu", "RSS MB", "start MB",
        "runs ms"))
    cov = results.get("covet")
    for name in order:
        s = results.get(name)
        if s is None:
            continue
        if "invalid" in s:
            print("  %-28s not measured: %s" % (name, s["invalid"]))
            continue
        ok = cov is not None and "invalid" not in cov and name != "covet"
        # covet/peer here is peer time / covet time: above 1 means covet is faster.
        print("  %-28s %8.2f %11s %8.2f %9.2f ms %11s %8.2f ms %9.1f %8.1f  %s" % (
            name, s["ms"], ratio(s["ms"], cov["ms"]) if ok else "", s["max_ms"], s["cpu_ms"],
            ratio(s["cpu_ms"], cov["cpu_ms"]) if ok else "", s["client_cpu_ms"], s["rss_mb"],
            started[name].startup_rss or 0, " ".join("%.1f" % x for x in s["all"])))
    print("  (covet/peer: the peer's time over covet's, above 1 = covet faster; server cpu: the server's CPU "
          "time per round; RSS with the clients connected)")


def print_targets(echo, fanout, memory):
    print()
    print("Targets of issue 13 (this run)")
    for key, title in (("small", "echo 16 B"), ("big", "echo 64 KiB")):
        res = echo.get(key, {})
        c = res.get("covet")
        for peer, minimum in ECHO_TARGETS:
            p = res.get(peer)
            label = "%-11s covet >= %.1fx %s" % (title, minimum, peer)
            if c is None or p is None or "invalid" in c or "invalid" in p:
                print("  %-58s n/a: not measured" % label)
                continue
            r = c["rps"] / p["rps"]
            rc = c["rps_cpu"] / p["rps_cpu"]
            print("  %-58s %-4s (%.2fx; per CPU-second %.2fx)" % (label, "PASS" if r >= minimum else "FAIL", r, rc))
    c = fanout.get("covet")
    label = "fan-out to 1,000 clients < %.0f ms" % FANOUT_MS
    if c is None or "invalid" in c:
        print("  %-58s n/a: not measured" % label)
    else:
        print("  %-58s %-4s (%.2f ms median; server CPU %.2f ms per round)"
              % (label, "PASS" if c["ms"] < FANOUT_MS else "FAIL", c["ms"], c["cpu_ms"]))
    for line in memory:
        print(line)


# -- memory ---------------------------------------------------------------------------------

def memory_check(pin, cache, count):
    """Fresh covet servers with ``count`` idle WebSockets on /echo, then on /broadcast; verdict lines."""
    lines = []
    for path in ("/echo", "/broadcast"):
        port = H.free_port()
        cmd = lambda p: _covet(p, count)  # noqa: E731
        try:
            prime("covet", cmd, pin, cache)
            srv = H.Server("covet", cmd(port), H.REPO, port, pin, env=cache.env, unset=cache.unset)
        except (RuntimeError, OSError) as exc:
            lines.append("  memory: covet did not start: %s" % exc)
            continue
        clients = []
        try:
            srv.wait_ready()
            time.sleep(0.5)
            startup = srv.rss_mb()
            failures = 0
            for _ in range(count):
                try:
                    c = Client(port, path)
                    clients.append(c)
                    if path == "/echo":
                        c.first_echo(SMALL)
                except (OSError, RuntimeError):
                    failures += 1
            time.sleep(1.0)
            idle = srv.rss_mb()
            alive = 0
            if path == "/echo":
                for c in clients:
                    try:
                        c.first_echo("still there?")
                        alive += 1
                    except (OSError, RuntimeError):
                        pass
            else:
                poller = select.epoll()
                by_fd = {}
                for c in clients:
                    c.sock.setblocking(False)
                    poller.register(c.sock.fileno(), select.EPOLLIN)
                    by_fd[c.sock.fileno()] = c
                try:
                    fanout_round(clients, poller, by_fd, "still there?")
                    alive = len(clients)
                except (OSError, RuntimeError):
                    pass
                poller.close()
            ok = idle is not None and idle < IDLE_MB and alive == count and not failures
            label = "%d idle WebSockets (%s) < %.0f MB RSS" % (count, path, IDLE_MB)
            lines.append("  %-58s %-4s (%.1f MB; start-up %.1f MB, %+.1f kB per connection; %d/%d still open)"
                         % (label, "PASS" if ok else "FAIL", idle, startup, (idle - startup) * 1024 / count,
                            alive, count))
        finally:
            for c in clients:
                c.close()
            srv.stop()
    return lines


# -- main -----------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 run of 2 s, 10 fan-out rounds: a smoke check")
    p.add_argument("--only", help="comma-separated servers (covet is always added): " + ",".join(s[0] for s in SERVERS))
    p.add_argument("--duration", type=int, help="seconds per echo run (default 5; 2 with --quick)")
    p.add_argument("--runs", type=int, help="runs per measurement, median reported (default 3; 1 with --quick)")
    p.add_argument("--rounds", type=int, help="broadcast rounds per fan-out run (default 20; 10 with --quick)")
    p.add_argument("--clients", type=int, default=1000, help="fan-out and idle connections (default 1000)")
    p.add_argument("--memory", action="store_true", help="only the memory target")
    p.add_argument("--skip-memory", action="store_true", help="no memory target")
    p.add_argument("--json", metavar="PATH", help="also write every run's figures to PATH")
    args = p.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 5)
    args.runs = args.runs or (1 if args.quick else 3)
    args.rounds = args.rounds or (10 if args.quick else 20)
    return args


def main(argv=None):
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each table as soon as it is measured, also into a file
    if not sys.platform.startswith("linux"):
        print("bench_ws.py needs Linux (epoll, /proc)")
        return 1
    limit = H.raise_nofile(args.clients + 1024)  # the servers inherit it
    if limit < args.clients + 100:
        print("ulimit -n is %d (hard limit); %d clients need more" % (limit, args.clients))
        return 1
    pin = H.can_pin()
    print("WebSocket benchmark: python %s, %s, %d CPU(s) visible; load average %s"
          % (sys.version.split()[0], "servers on core 1, client on core 0" if pin else "NOT pinned",
             os.cpu_count() or 0, " ".join("%.2f" % x for x in os.getloadavg())))
    if pin:
        os.sched_setaffinity(0, {int(H.CLIENT_CPU)})
    cache = H.BytecodeCache()
    t0 = time.monotonic()
    try:
        if args.memory:
            lines = memory_check(pin, cache, args.clients)
            print()
            print("Memory target of issue 13")
            for line in lines:
                print(line)
            return 1 if any(" FAIL " in line or "did not start" in line for line in lines) else 0
        names = None
        if args.only:
            names = {n.strip() for n in args.only.split(",") if n.strip()} | {"covet"}
            unknown = names - {s[0] for s in SERVERS}
            if unknown:
                sys.exit("unknown server(s): %s" % ", ".join(sorted(unknown)))
        servers = [s for s in SERVERS if names is None or s[0] in names]
        started = start_all(servers, pin, cache)
        if "covet" not in started:
            for srv in started.values():
                srv.stop()
            print("covet did not start; nothing to compare")
            return 1
        order = [s[0] for s in servers if s[0] in started]
        try:
            echo, raw = run_echo(started, order, args)
            fanout, raw["fanout"] = run_fanout(started, order, args)
            print_fanout(fanout, order, args, started)
        finally:
            for srv in started.values():
                srv.stop()
        memory = [] if args.skip_memory else memory_check(pin, cache, args.clients)
        print_targets(echo, fanout, memory)
        print()
        print("took %.0f s; load average now %s" % (time.monotonic() - t0,
                                                     " ".join("%.2f" % x for x in os.getloadavg())))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"echo": echo, "fanout": fanout, "runs": raw, "memory": memory}, f, indent=1)
    finally:
        cache.close()
    return 0


def run_echo(started, order, args):
    """Both echo measurements, interleaved across servers; ({size: {server: summary}}, raw runs)."""
    all_results, raw = {}, {}
    for key, title, message in (("small", "Echo, 16-byte text", SMALL), ("big", "Echo, 64 KiB binary", BIG)):
        results, runs = {}, {n: [] for n in order}
        for name in order:
            try:
                echo_connection(started[name], message, 1.0)  # warm-up
            except (OSError, RuntimeError) as exc:
                results[name] = {"invalid": "%s: %s" % (type(exc).__name__, exc)}
        for _ in range(args.runs):
            for name in order:
                if name in results:
                    continue
                settle(started[name])
                try:
                    runs[name].append(echo_connection(started[name], message, args.duration))
                except (OSError, RuntimeError) as exc:
                    results[name] = {"invalid": "%s: %s" % (type(exc).__name__, exc)}
        for name in order:
            if name not in results:
                results[name] = summarise_echo(runs[name])
        all_results[key], raw[key] = results, runs
        print_echo(title, results, order, args)
    return all_results, raw


def run_fanout(started, order, args):
    results, runs = {}, {n: [] for n in order}
    for _ in range(args.runs):
        for name in order:
            if name in results:
                continue
            settle(started[name])
            try:
                runs[name].append(fanout_run(started[name], args.clients, args.rounds))
            except (OSError, RuntimeError) as exc:
                results[name] = {"invalid": "%s: %s" % (type(exc).__name__, exc)}
            settle(started[name])  # its clients' closes are handled before the next server runs
    for name in order:
        if name not in results:
            results[name] = summarise_fanout(runs[name])
    return results, runs


if __name__ == "__main__":
    sys.exit(main())
