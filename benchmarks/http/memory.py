"""Memory targets of issue 3 for covet's server, each printed PASS or FAIL.

    python3 benchmarks/http/memory.py [--idle 1000] [--requests 500000]

1. RSS after start-up (before any request) <= 25 MB.
2. RSS with ``--idle`` keep-alive connections open, each having sent one
   request and read its response, <= 60 MB. The connections are plain
   sockets opened by this script (the soft ``ulimit -n`` is raised to fit);
   the server is started with a keep-alive timeout long enough to keep them
   open, and each must answer a second request afterwards to prove it was.
3. No growth over ``--requests`` requests: RSS at the end <= 1.1 x RSS after
   the first 50,000. wrk -t1 -c64 runs in chunks of ``--chunk`` seconds,
   rotating /plaintext, /json and the realistic /users route, and VmRSS is
   read between chunks. Needs wrk; skipped (not passed) without it.

covet is started once to cache its bytecode, then again to be measured
(see _harness.BytecodeCache). The server is pinned to core 1 and wrk to core 0 when taskset and two cores
are available. Standard library only. Exit status 1 when a target is missed
or cannot be measured, else 0.
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

STARTUP_MB = 25.0
IDLE_MB = 60.0
GROWTH = 1.1
BASELINE_REQUESTS = 50000
PATHS = ["/plaintext", "/json", "/users/42?fields=name,email"]


def read_response(sock, buf=b""):
    """Read one Content-Length response from ``sock``; returns (status, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the response body")
        rest += chunk
    return status, rest[length:]


REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def open_idle(port, count):
    """``count`` sockets, each after one answered request; returns (sockets, failures)."""
    socks, failures = [], 0
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(REQUEST)
            status, _ = read_response(s)
            if status != 200:
                failures += 1
        except OSError:
            failures += 1
        socks.append(s)
    return socks, failures


def still_open(socks):
    """How many of ``socks`` answer a second request (each was idle on keep-alive until now)."""
    ok = 0
    for s in socks:
        try:
            s.sendall(REQUEST)
            status, _ = read_response(s)
            ok += status == 200
        except OSError:
            pass
    return ok


def verdict(ok):
    return "PASS" if ok else "FAIL"


def growth_test(srv, args, pin):
    """Run wrk chunks until ``args.requests``; returns (baseline MB, final MB, errors, total requests)."""
    total, errors, baseline, i = 0, 0, None, 0
    points = []
    while total < args.requests:
        path = PATHS[i % len(PATHS)]
        i += 1
        res = H.run_wrk("http://127.0.0.1:%d%s" % (srv.port, path), args.chunk, 64, H.REPORT_LUA, pin)
        total += res["requests"]
        errors += res["socket_errors"] + res["non2xx"]
        rss = srv.rss_mb()
        points.append((total, rss))
        if baseline is None and total >= BASELINE_REQUESTS:
            baseline = rss
    print("  RSS along the way (requests: MB): "
          + ", ".join("%dk: %.1f" % (t // 1000, r) for t, r in points))
    return baseline, points[-1][1], errors, total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--idle", type=int, default=1000, help="idle keep-alive connections (default 1000)")
    p.add_argument("--requests", type=int, default=500000, help="requests for the growth test (default 500000)")
    p.add_argument("--chunk", type=int, default=2, help="seconds per wrk chunk in the growth test")
    args = p.parse_args(argv)
    if sys.platform != "linux":
        print("memory.py reads /proc: Linux only")
        return 1
    limit = H.raise_nofile(args.idle + 512)
    if limit < args.idle + 64:
        print("ulimit -n is %d (hard limit); %d idle connections need more" % (limit, args.idle))
        return 1
    pin = H.can_pin()
    port = H.free_port()

    def cmd(port):
        return [H.python(), "-m", "covet", "run", os.path.join(H.APPS, "covet_app.py"), "--host", "127.0.0.1",
                "--port", str(port), "--log-level", "warning", "--max-connections", str(args.idle + 64),
                "--timeout-keep-alive", "600"]

    print("covet memory targets: python %s, %s" % (sys.version.split()[0],
                                                   "server on core 1, wrk on core 0" if pin else "not pinned"))
    cache = H.BytecodeCache()
    failed = False
    try:
        H.prime("covet", cmd, pin, cache, PATHS)
        srv = H.Server("covet", cmd(port), H.REPO, port, pin, env=cache.env, unset=cache.unset)
    except RuntimeError as exc:
        cache.close()
        print("covet did not start: %s" % exc)
        return 1
    try:
        srv.wait_ready()
        time.sleep(0.5)
        startup = srv.rss_mb()
        print("  %-52s %-4s %.1f MB" % ("RSS after start-up <= %.0f MB" % STARTUP_MB, verdict(startup <= STARTUP_MB),
                                        startup))
        failed |= startup > STARTUP_MB

        socks, failures = open_idle(port, args.idle)
        try:
            time.sleep(0.5)
            idle = srv.rss_mb()
            alive = still_open(socks)
        finally:
            for s in socks:
                s.close()
        ok = idle <= IDLE_MB and alive == args.idle and not failures
        failed |= not ok
        print("  %-52s %-4s %.1f MB (%+.1f MB, %.1f kB per connection; %d/%d still open, %d failed)"
              % ("RSS with %d idle keep-alive connections <= %.0f MB" % (args.idle, IDLE_MB), verdict(ok), idle,
                 idle - startup, (idle - startup) * 1024 / args.idle, alive, args.idle, failures))

        label = "RSS after %dk requests <= %.1fx RSS after %dk" % (args.requests // 1000, GROWTH,
                                                                  BASELINE_REQUESTS // 1000)
        if not H.have_wrk():
            print("  %-52s skipped: wrk not installed" % label)
        else:
            time.sleep(1.0)
            baseline, final, errors, total = growth_test(srv, args, pin)
            ok = baseline is not None and final <= GROWTH * baseline and not errors
            failed |= not ok
            print("  %-52s %-4s %.1f MB vs %.1f MB (%.2fx) over %d requests, %d errors"
                  % (label, verdict(ok), final, baseline, final / baseline, total, errors))
        print("  peak RSS (VmHWM) %.1f MB" % srv.peak_rss_mb())
    finally:
        code = srv.stop()
        cache.close()
    print("  server exit status on SIGTERM: %s" % code)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
