"""Profile covet's server under wrk load and print the top functions per request.

    python3 benchmarks/http/profile_covet.py [--endpoint plaintext] [--duration 10] [--top 15] [--tool cprofile]

Starts covet on ``apps/covet_app.py`` pinned to core 1, warms it up for 2 s,
loads it with ``wrk -t1 -c64`` on core 0, stops it with SIGTERM and prints
the top functions by cumulative (inclusive) and by own time.

``--tool cprofile`` (default, stdlib): ``python -m cProfile -o FILE -m covet
run``; the file is written as the server exits. cProfile slows every Python
call, so read its figures as shares, not speeds; the cumulative time of
coroutine steps (``events.py:_run``) double-counts across suspensions.

``--tool py-spy`` (when py-spy is installed, e.g. in benchmarks/.venv):
samples the running server without instrumenting it (``--nonblocking``, the
sampler on core 0 with wrk), so its shares are closer to the real cost.
"""
import argparse
import collections
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

PATHS = {"plaintext": ("/plaintext", H.REPORT_LUA), "json": ("/json", H.REPORT_LUA),
         "users": ("/users/42?fields=name,email", H.REPORT_LUA), "pipelined": ("/plaintext", H.PIPELINE_LUA),
         # The app makes its static folder itself (apps/_common.static_dir) when run without the harness.
         "static-small": ("/static/small.txt", H.REPORT_LUA), "static-large": ("/static/large.bin", H.REPORT_LUA)}
SAMPLE_RATE = 1000
_LINE_NO = re.compile(r":\d+\)$")


def covet_cmd(port):
    return ["-m", "covet", "run", os.path.join(H.APPS, "covet_app.py"), "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]


def load(url, script, duration, pin, server=None):
    """Warm-up then the measured run; returns (warm-up result, measured result)."""
    warm = H.run_wrk(url, 2, 64, script, pin)
    return warm, H.run_wrk(url, duration, 64, script, pin, server=server)


def cprofile_top(stats, key, count, requests):
    """The ``count`` functions first by ``key``, per request; one-shot frames (start-up, run loop) left out."""
    stats.sort_stats(key)
    rows = ["%9s %9s %9s %9s %9s  %s" % ("ncalls", "own s", "cum s", "own us/r", "cum us/r", "function")]
    floor = max(requests // 100, 10)
    for func in stats.fcn_list:
        _cc, nc, tt, ct, _callers = stats.stats[func]
        if nc < floor:
            continue
        name = pstats.func_std_string(func).replace(H.REPO + os.sep, "")
        name = name.replace(os.path.dirname(os.__file__) + os.sep, "")
        rows.append("%9d %9.3f %9.3f %9.2f %9.2f  %s" % (nc, tt, ct, 1e6 * tt / requests, 1e6 * ct / requests, name))
        if len(rows) > count:
            break
    return "\n".join(rows)


def with_cprofile(args, pin, path, script):
    out = args.output or tempfile.mktemp(prefix="covet-", suffix=".prof")
    port = H.free_port()
    cmd = [H.python(), "-m", "cProfile", "-o", out] + covet_cmd(port)
    srv = H.Server("covet-cprofile", cmd, H.REPO, port, pin)
    try:
        srv.wait_ready()
        warm, res = load("http://127.0.0.1:%d%s" % (port, path), script, args.duration, pin, srv)
    finally:
        code = srv.stop(timeout=60)
    if not os.path.exists(out):
        print("the profile was not written (server exit status %s)" % code)
        return 1
    print("covet under cProfile, %s, wrk -t1 -c64 -d%ds: %.0f req/s (profiled), %d socket errors, %d non-2xx"
          % (args.endpoint, args.duration, res["rps"], res["socket_errors"], res["non2xx"]))
    stats = pstats.Stats(out)
    # The profile covers the warm-up too: per-request figures divide by both runs' requests.
    requests = max(warm["requests"] + res["requests"], 1)
    print("total profiled time %.2f s; requests %d (with warm-up); %.1f us per request (with profiler overhead)"
          % (stats.total_tt, requests, 1e6 * stats.total_tt / requests))
    print()
    print("== top %d by cumulative time" % args.top)
    print(cprofile_top(stats, "cumulative", args.top, requests))
    print()
    print("== top %d by own time" % args.top)
    print(cprofile_top(stats, "tottime", args.top, requests))
    if not args.output:
        os.unlink(out)
    return 0


def pyspy_tables(raw_path, count, us_per_request):
    """Own and inclusive shares per function (line numbers folded) from py-spy's raw output.

    Frames at or above the event loop's ``_run_once`` (runpy, the CLI,
    ``asyncio.run``) are in nearly every sample and say nothing: they are
    left out of the inclusive table.
    """
    own, incl = collections.Counter(), collections.Counter()
    outer = set()
    total = 0
    with open(raw_path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack or not n.isdigit():
                continue
            n = int(n)
            total += n
            frames = [_LINE_NO.sub(")", fr) for fr in stack.split(";")]
            own[frames[-1]] += n
            for i, fr in enumerate(frames):
                if fr.startswith("BaseEventLoop._run_once "):
                    outer.update(frames[:i + 1])
            for fr in set(frames):
                incl[fr] += n
    if not total:
        return "no samples"
    for fr in outer:
        incl.pop(fr, None)
    out = []
    for title, counter in (("inclusive (cumulative)", incl), ("own", own)):
        out.append("== top %d by %s time (%d samples at %d Hz)" % (count, title, total, SAMPLE_RATE))
        out.append("%7s %9s  %s" % ("share", "us/req", "function"))
        shown = 0
        for fn, n in counter.most_common():
            out.append("%6.1f%% %9.2f  %s" % (100.0 * n / total, us_per_request * n / total, fn))
            shown += 1
            if shown == count:
                break
        out.append("")
    return "\n".join(out)


def with_pyspy(args, pin, path, script):
    pyspy = shutil.which("py-spy") or os.path.join(os.path.dirname(H.python()), "py-spy")
    if not os.path.exists(pyspy):
        print("py-spy not installed (benchmarks/.venv/bin/pip install py-spy)")
        return 1
    raw = args.output or tempfile.mktemp(prefix="covet-", suffix=".pyspy.txt")
    port = H.free_port()
    server = H.pinned([H.python()] + covet_cmd(port), H.SERVER_CPU, pin)
    cmd = H.pinned([pyspy, "record", "--nonblocking", "-r", str(SAMPLE_RATE), "-f", "raw", "-o", raw, "--"] + server,
                   H.CLIENT_CPU, pin)
    spy = H.Server("covet-py-spy", cmd, H.REPO, port, False)
    try:
        spy.wait_ready()
        match = None
        for _ in range(50):
            match = re.search(r"serving on \S+ \(pid (\d+)", spy.log_tail(50))
            if match:
                break
            time.sleep(0.1)
        if match is None:
            raise RuntimeError("covet's pid not found in its output:\n" + spy.log_tail())
        spy.pid = int(match.group(1))  # /proc figures and SIGTERM go to the server, not to py-spy
        _warm, res = load("http://127.0.0.1:%d%s" % (port, path), script, args.duration, pin, spy)
        os.kill(spy.pid, signal.SIGTERM)
        spy.proc.wait(60)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print("py-spy run failed: %s" % exc)
        spy.stop()
        return 1
    spy.stop()
    print("covet sampled by py-spy, %s, wrk -t1 -c64 -d%ds: %.0f req/s, %.0f req per CPU-second, "
          "%d socket errors, %d non-2xx" % (args.endpoint, args.duration, res["rps"], res["rps_cpu"] or 0,
                                            res["socket_errors"], res["non2xx"]))
    # Shares times the CPU cost of one request in the measured run (from /proc, not from the sampler).
    us_per_request = 1e6 / res["rps_cpu"] if res["rps_cpu"] else 0.0
    print("CPU per request %.1f us; us/req below = share x that" % us_per_request)
    print(pyspy_tables(raw, args.top, us_per_request))
    if not args.output:
        os.unlink(raw)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", choices=sorted(PATHS), default="plaintext")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--tool", choices=["cprofile", "py-spy"], default="cprofile")
    p.add_argument("--output", help="keep the profile (.prof or py-spy raw) here; default: a temporary file, removed")
    args = p.parse_args(argv)
    if not H.have_wrk():
        print("wrk not installed (Debian: apt-get install wrk)")
        return 1
    path, script = PATHS[args.endpoint]
    run = with_pyspy if args.tool == "py-spy" else with_cprofile
    return run(args, H.can_pin(), path, script)


if __name__ == "__main__":
    sys.exit(main())
