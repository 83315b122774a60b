"""covet's load generator (``python -m covet performance-test --url``) against wrk, on the same server.

One covet server (``python -m covet run examples/hello.py``, access log off) on a free port;
then, interleaved, wrk and covet's generator with the same connections, duration and pipeline
depth: wrk, covet, wrk, covet, ... Medians of requests per second, p50 and p99 latency, and
each generator's own CPU per request (covet reports its thread's; wrk's is its process's
rusage). Pinning (when taskset and two cores exist): the server on core 0, the generator
under test on core 1, so both generators see the same server and neither competes with it.

    python benchmarks/bench_perftest.py                      # 5 rounds of 5 s, 64 connections
    python benchmarks/bench_perftest.py --pipeline 16        # pipelined, both sides
    python benchmarks/bench_perftest.py --rounds 3 --duration 3 --no-pin

Standard library only; needs wrk (apt-get install wrk).
"""
import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# wrk script: `depth` requests per write, then one machine-readable line with µs percentiles.
WRK_LUA = """
init = function(args)
   local depth = tonumber(args[1]) or 1
   local r = {}
   for i = 1, depth do r[i] = wrk.format() end
   req = table.concat(r)
end
request = function() return req end
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("WRK requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\\n",
      summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_pin():
    if shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        return False
    return {0, 1} <= os.sched_getaffinity(0)


def pinned(cmd, cpu, pin):
    return ["taskset", "-c", str(cpu)] + cmd if pin else cmd


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_server(app, port, pin):
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = pinned([sys.executable, "-m", "covet", "run", app, "--port", str(port), "--no-access-log",
                  "--log-level", "warning", "--max-connections", "10000"], 0, pin)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if "serving on" not in line:
        proc.kill()
        raise SystemExit("the server did not start: %r" % line)
    return proc


def run_wrk(url, args, lua, pin):
    before = children_cpu()
    # The same request as covet's generator sends (it adds these two to Host), so the server
    # does the same work for both.
    cmd = pinned(["wrk", "-t1", "-c%d" % args.connections, "-d%ds" % args.duration, "-s", lua,
                  "-H", "User-Agent: covet-performance-test", "-H", "Accept: */*", url,
                  "--", str(args.pipeline)], 1, pin)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = children_cpu() - before
    m = re.search(r"^WRK (.*)$", out, re.M)
    fields = dict(kv.split("=") for kv in m.group(1).split())
    requests = int(fields["requests"])
    return {"rps": requests / (int(fields["duration_us"]) / 1e6), "p50_ms": int(fields["p50_us"]) / 1000,
            "p99_ms": int(fields["p99_us"]) / 1000, "errors": int(fields["errors"]),
            "cpu_us": cpu / requests * 1e6, "requests": requests}


def run_covet(url, args, pin):
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = pinned([sys.executable, "-m", "covet", "performance-test", "--url", url, "--users",
                  str(args.connections), "--duration", str(args.duration), "--pipeline", str(args.pipeline),
                  "--json"], 1, pin)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit("covet performance-test failed:\n%s" % proc.stderr)
    data = json.loads(proc.stdout)
    return {"rps": data["requests_per_second"], "p50_ms": data["percentiles"]["p50"] * 1000,
            "p99_ms": data["percentiles"]["p99"] * 1000, "errors": data["failed"],
            "cpu_us": data["client_cpu_per_request"] * 1e6, "requests": data["total_requests"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", default="examples/hello.py")
    parser.add_argument("--path", default="/")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pipeline", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    pin = not args.no_pin and can_pin()
    port = free_port()
    url = "http://127.0.0.1:%d%s" % (port, args.path)
    server = start_server(args.app, port, pin)
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lua.write(WRK_LUA)
    lua.close()
    runs = {"wrk": [], "covet": []}
    load_before = os.getloadavg()
    try:
        # One short untimed run of each first: the server's first requests (imports, caches).
        run_wrk(url, argparse.Namespace(**dict(vars(args), duration=1)), lua.name, pin)
        for i in range(args.rounds):
            for name in ("wrk", "covet"):
                r = run_wrk(url, args, lua.name, pin) if name == "wrk" else run_covet(url, args, pin)
                runs[name].append(r)
                print("round %d %-5s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors %d  generator CPU %5.1f us/req"
                      % (i + 1, name, r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], r["cpu_us"]), flush=True)
    finally:
        server.terminate()
        server.wait(30)
        server.stdout.close()
        os.unlink(lua.name)
    load_after = os.getloadavg()
    print()
    print("python %s, %s, %d connections, pipeline %d, %d rounds of %d s, %s" % (
        sys.version.split()[0], args.app + " " + args.path, args.connections, args.pipeline, args.rounds,
        args.duration, "server pinned to core 0, generators to core 1" if pin else "not pinned"))
    print("load average before %.2f %.2f %.2f, after %.2f %.2f %.2f" % (load_before + load_after))
    print("%-6s %10s %10s %10s %14s" % ("median", "req/s", "p50 ms", "p99 ms", "CPU us/req"))
    med = {}
    for name in ("wrk", "covet"):
        med[name] = {k: statistics.median(r[k] for r in runs[name]) for k in ("rps", "p50_ms", "p99_ms", "cpu_us")}
        m = med[name]
        print("%-6s %10.0f %10.3f %10.3f %14.1f" % (name, m["rps"], m["p50_ms"], m["p99_ms"], m["cpu_us"]))
    ratios = [med["covet"][k] / med["wrk"][k] if med["wrk"][k] else float("nan")
              for k in ("rps", "p50_ms", "p99_ms", "cpu_us")]
    print("%-6s %10.3f %10.3f %10.3f %14.2f" % ("covet/wrk", *ratios))
    if args.pipeline > 1:
        print("(wrk times a pipelined batch, not each request in it: its latency is not comparable)")


if __name__ == "__main__":
    main()
