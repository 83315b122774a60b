"""covet's own work per request: the server's connection loop over a fake socket, no I/O.

    benchmarks/.venv/bin/python benchmarks/bench_server_loop.py                     # plaintext, json, users
    benchmarks/.venv/bin/python benchmarks/bench_server_loop.py --baseline /path/to/old/checkout

``Connection.run`` reads canned requests (``GET`` of the benchmark app's routes, as wrk sends
them) from a reader that never waits and writes into a transport that drops the bytes, so what
is timed is everything covet does per request (parse, Request, dispatch, handler, Response,
serialise, the loop's own bookkeeping) and none of the asyncio streams machinery or the
syscalls, which benchmarks/http/run.py's raw-streams server measures on its own. The peer
(a checkout given with --baseline) runs in a fresh process, alternating with this one, and the
minimum of each is reported: on a shared machine the minimum is the least disturbed figure.
"""
import argparse
import asyncio
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PATHS = {"plaintext": b"/plaintext", "json": b"/json", "users": b"/users/42?fields=name,email"}


class _Transport:
    def __init__(self):
        self.writes = 0
        self.closing = False

    def write(self, data):
        self.writes += 1

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, key, default=None):
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(key, default)

    def can_write_eof(self):
        return True


class _Writer:
    def __init__(self, transport):
        self.transport = transport

    def get_extra_info(self, key, default=None):
        return self.transport.get_extra_info(key, default)

    async def drain(self):
        pass


class _Reader:
    def __init__(self, data, count):
        self.data = data
        self.count = count

    async def read(self, size):
        if self.count:
            self.count -= 1
            return self.data
        return b""


def measure(root, names, count, repeat):
    """Per-request microseconds for each endpoint, run in this process on the checkout at ``root``."""
    sys.path[:0] = [root, os.path.join(root, "benchmarks", "http", "apps")]
    from covet.server.connection import Connection
    from covet.server.server import Server
    import covet_app

    async def one(name):
        server = Server(covet_app.app)
        server.loop = asyncio.get_running_loop()
        await covet_app.app.startup()
        request = b"GET " + PATHS[name] + b" HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
        best = None
        for _ in range(repeat):
            transport = _Transport()
            conn = Connection(server, _Reader(request, count), _Writer(transport))
            started = time.perf_counter()
            await conn.run()
            took = time.perf_counter() - started
            assert transport.writes == count, (name, transport.writes)
            best = took if best is None else min(best, took)
        return best / count * 1e6

    return {name: asyncio.run(one(name)) for name in names}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", metavar="DIR", help="another checkout to compare with, run alternately")
    p.add_argument("--endpoints", default="plaintext,json,users")
    p.add_argument("--count", type=int, default=20000, help="requests per timed run")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per process (minimum kept)")
    p.add_argument("--rounds", type=int, default=3, help="alternating processes per checkout")
    p.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    names = [n for n in args.endpoints.split(",") if n]
    if args.child:
        result = measure(args.child, names, args.count, args.repeat)
        print(" ".join("%s=%.3f" % kv for kv in result.items()))
        return
    repo = os.path.dirname(HERE)
    checkouts = [("covet", repo)] + ([("covet-before", os.path.abspath(args.baseline))] if args.baseline else [])
    best = {label: {} for label, _ in checkouts}
    for _ in range(args.rounds):
        for label, root in checkouts:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", root, "--endpoints",
                                  args.endpoints, "--count", str(args.count), "--repeat", str(args.repeat)],
                                 check=True, stdout=subprocess.PIPE).stdout.decode()
            for item in out.split():
                name, value = item.split("=")
                best[label][name] = min(best[label].get(name, float("inf")), float(value))
    print("covet's own work per request (us, minimum over %d processes x %d runs of %d requests; load %s)"
          % (args.rounds, args.repeat, args.count, " ".join("%.2f" % x for x in os.getloadavg())))
    for label, _ in checkouts:
        print("  %-13s %s" % (label, "  ".join("%s %.2f" % (n, best[label][n]) for n in names)))
    if args.baseline:
        print("  %-13s %s" % ("change", "  ".join("%s %+.1f%%" % (n, (best["covet"][n] / best["covet-before"][n] - 1)
                                                                  * 100) for n in names)))


if __name__ == "__main__":
    main()
