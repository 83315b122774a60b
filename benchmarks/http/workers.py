"""Multi-core scaling: covet with ``--workers 1`` against ``--workers N`` on the plaintext route.

    benchmarks/.venv/bin/python benchmarks/http/workers.py              # N = 2, 3 interleaved runs of 6 s
    benchmarks/.venv/bin/python benchmarks/http/workers.py --workers 4 --runs 5

Pinning: wrk runs on core 0 with as many threads as there are server cores; the server (the
supervisor and its forked workers, which inherit the affinity) runs on cores 1..N. With fewer
than N + 1 cores, one worker still gets core 1 to itself and the others share wrk's core, and the
figure says so: a scaling ratio is then bounded by the client's share, not by covet. Runs alternate between the
two configurations (1, N, 1, N, ...), so a burst of outside load hits both; medians are reported.

Besides req/s, the req per CPU-second of all server processes together (supervisor and workers,
read from /proc) shows whether more workers cost more CPU per request (they should not).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402


def process_tree_cpu(root):
    """CPU seconds used so far by ``root`` and every process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append((int(entry), int(fields[11]) + int(fields[12])))
    total, todo = 0, [root]
    try:
        with open("/proc/%d/stat" % root) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = int(fields[11]) + int(fields[12])
    except OSError:
        pass
    while todo:
        for pid, ticks in children.get(todo.pop(), ()):
            total += ticks
            todo.append(pid)
    return total / float(os.sysconf("SC_CLK_TCK"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=int, default=6)
    p.add_argument("--connections", type=int, default=128)
    args = p.parse_args(argv)
    if not H.have_wrk():
        sys.exit("wrk is needed (Debian package wrk)")
    cores = sorted(os.sched_getaffinity(0))
    n = args.workers
    dedicated = len(cores) >= n + 1
    # Without spare cores, the first worker still gets a core of its own (core 1, as in run.py) and
    # the others share wrk's: 1 worker is measured as fairly as N.
    server_cores = cores[1:n + 1] if dedicated else cores[1:] + cores[:1]
    client_core = str(cores[0])
    print("covet --workers 1 vs --workers %d, plaintext, wrk -c%d, %d cores visible; load average %s"
          % (n, args.connections, len(cores), " ".join("%.2f" % x for x in os.getloadavg())))
    if not dedicated:
        print("NOTE: fewer than %d cores: the server shares its cores with wrk (core %s), so the ratio is a "
              "lower bound set by the client's share, not the scaling the target asks about" % (n + 1, client_core))
    app = os.path.join(H.APPS, "covet_app.py")
    results = {1: [], n: []}
    for run in range(args.runs):
        for count in (1, n):
            port = H.free_port()
            mask = ",".join(str(c) for c in server_cores[:count])
            cmd = ["taskset", "-c", mask, H.python(), "-m", "covet", "run", app, "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning", "--workers", str(count)]
            srv = H.Server("covet-w%d" % count, cmd, H.REPO, port, False)
            try:
                srv.wait_ready()
                time.sleep(0.5)  # every worker listening (each binds its own SO_REUSEPORT socket)
                url = "http://127.0.0.1:%d/plaintext" % port
                H.run_wrk(url, 2, args.connections, pin=False)  # warm-up
                cpu0 = process_tree_cpu(srv.pid)
                threads = str(max(1, count if dedicated else 1))
                out = subprocess.run(["taskset", "-c", client_core, "wrk", "-t" + threads, "-c%d" % args.connections,
                                      "-d%ds" % args.duration, "-s", H.REPORT_LUA, url],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=args.duration + 60)
                cpu = process_tree_cpu(srv.pid) - cpu0
                match = H._SUMMARY.search(out.stdout.decode())
                fields = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
                rps = fields["requests"] / (fields["duration_us"] / 1e6)
                results[count].append((rps, fields["requests"] / cpu if cpu else 0.0, fields["status"]))
                print("  run %d  workers %d  %8.0f req/s  %8.0f req/cpu-s  non-2xx %d"
                      % (run + 1, count, rps, results[count][-1][1], fields["status"]))
            finally:
                srv.stop()
    one = statistics.median(r[0] for r in results[1])
    many = statistics.median(r[0] for r in results[n])
    print("median: 1 worker %.0f req/s, %d workers %.0f req/s: %.2fx (target 1.8x on dedicated cores); "
          "req/cpu-s %.0f vs %.0f" % (one, n, many, many / one, statistics.median(r[1] for r in results[1]),
                                     statistics.median(r[1] for r in results[n])))


if __name__ == "__main__":
    main()
