"""covet's start-up cost: ``import covet; from covet import Covet``, and a small app up to its
first dispatched request.

Two figures per scenario, each the median of many fresh interpreters:
- wall: the whole process, minus a bare ``python -c pass`` measured in the same rounds: what a
  user waits for;
- importtime: the self time ``python -X importtime`` gives covet's modules (and, apart, the
  standard library modules they pull in). It instruments every import, so it overstates the
  cost of many small modules; read it as a breakdown, the wall figure as the cost. ``--baseline DIR`` measures another
checkout the same way, interleaved run by run, so a change is compared with its parent on the
same machine at the same moment.

    python3 benchmarks/bench_import.py [--runs 41] [--baseline /path/to/other/checkout]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = {
    # the figure the reshape promised not to raise
    "import": "import covet; from covet import Covet; Covet()",
    # what a small service pays before its first answer: three routes, one request dispatched
    "first-request": (
        "import asyncio\n"
        "from covet import Covet, Depends, Query, Request\n"
        "app = Covet()\n"
        "def db():\n    return {}\n"
        "@app.get('/')\nasync def index():\n    return {'ok': True}\n"
        "@app.get('/users/{user_id:int}')\nasync def user(user_id: int, verbose: bool = Query(False), d=Depends(db)):\n"
        "    return {'id': user_id}\n"
        "@app.post('/items')\nasync def items(request: Request):\n    return await request.json()\n"
        "async def main():\n"
        "    r = await app.dispatch(Request('GET', '/users/3', 'verbose=1', [(b'host', b'x')], app=app))\n"
        "    await r.after_send()\n"
        "asyncio.run(main())\n"
    ),
}


def measure(folder, code):
    """(covet's own self time, stdlib self time) in microseconds for one fresh interpreter."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with cached bytecode, as deployed
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=folder, env=env,
                         capture_output=True, text=True, check=True).stderr
    own = other = 0
    for line in out.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = [part.strip() for part in line[len("import time:"):].split("|")]
        if name.strip().startswith("covet"):
            own += int(self_us)
        else:
            other += int(self_us)
    return own, other


def wall(folder, code):
    """Seconds for one fresh interpreter to run ``code`` in ``folder``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, check=True)
    return time.perf_counter() - started


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=41)
    p.add_argument("--baseline", metavar="DIR")
    p.add_argument("--peers", action="store_true", help="also time microdot, and Starlette + uvicorn (issue 12)")
    args = p.parse_args(argv)
    folders = [("covet", ROOT)]
    if args.baseline:
        folders.append(("covet-before", os.path.abspath(args.baseline)))
    for scenario, code in SCENARIOS.items():
        for _name, folder in folders:
            measure(folder, code)  # compile and cache the bytecode first
        results = {name: [] for name, _ in folders}
        walls = {name: [] for name, _ in folders}
        bare = []
        for _ in range(args.runs):
            bare.append(wall(ROOT, "pass"))
            for name, folder in folders:
                results[name].append(measure(folder, code))
                walls[name].append(wall(folder, code))
        base = statistics.median(bare)
        print("%s (python %s, %d runs, medians; bare interpreter %.1f ms)"
              % (scenario, sys.version.split()[0], args.runs, base * 1000))
        medians = {}
        for name, runs in results.items():
            own = statistics.median(r[0] for r in runs)
            other = statistics.median(r[1] for r in runs)
            medians[name] = statistics.median(walls[name]) - base
            print("  %-14s wall %6.1f ms   importtime: covet's modules %6.0f us, standard library %6.0f us"
                  % (name, medians[name] * 1000, own, other))
        if "covet-before" in medians:
            print("  covet / covet-before (wall): %.2fx" % (medians["covet"] / medians["covet-before"]))
    if args.peers:
        peers(args.runs)
    return 0


# Issue 12's cold-start comparison, whole processes: covet's import against microdot's, and covet's
# app plus server against Starlette plus uvicorn's (peers installed in benchmarks/.venv only).
# (label, the peer module that must be installed, code)
PEERS = [
    ("covet: from covet import Covet", None, "from covet import Covet"),
    ("microdot: import microdot", "microdot", "import microdot"),
    ("covet app + server", None, "from covet import Covet; import covet.server.server; Covet()"),
    ("Starlette app + uvicorn", "uvicorn",
     "from starlette.applications import Starlette; import uvicorn.server, uvicorn.config; Starlette()"),
]


def peers(runs):
    """Whole-process wall times of covet and its peers, paired run by run (minus a bare interpreter)."""
    import importlib.util

    present = [(label, code) for label, module, code in PEERS
               if module is None or importlib.util.find_spec(module) is not None]
    for label, code in present:
        wall(ROOT, code)  # bytecode cached first
    times = {label: [] for label, _ in present}
    bare = []
    for _ in range(runs):
        bare.append(wall(ROOT, "pass"))
        for label, code in present:
            times[label].append(wall(ROOT, code))
    base = statistics.median(bare)
    print("cold start against peers (python %s, %d paired runs, medians minus a bare interpreter)"
          % (sys.version.split()[0], runs))
    medians = {}
    for label, values in times.items():
        medians[label] = statistics.median(values) - base
        print("  %-36s %6.1f ms" % (label, medians[label] * 1000))
    pairs = [("covet: from covet import Covet", "microdot: import microdot"),
             ("covet app + server", "Starlette app + uvicorn")]
    for mine, theirs in pairs:
        if mine in medians and theirs in medians and medians[theirs] > 0:
            print("  %s / %s: %.2fx" % (mine, theirs, medians[mine] / medians[theirs]))


if __name__ == "__main__":
    sys.exit(main())
