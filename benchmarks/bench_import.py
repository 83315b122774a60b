"""covet's own import time for ``import covet; from covet import Covet``, from ``python -X importtime``.

Counts the self time of covet's modules only (the standard library modules they pull in are
reported apart), as the median of many fresh interpreters. ``--baseline DIR`` measures another
checkout the same way, interleaved run by run, so a change is compared with its parent on the
same machine at the same moment.

    python3 benchmarks/bench_import.py [--runs 41] [--baseline /path/to/other/checkout]
"""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = "import covet; from covet import Covet; Covet()"


def measure(folder):
    """(covet's own self time, stdlib self time) in microseconds for one fresh interpreter."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONDONTWRITEBYTECODE"] = ""
    env.pop("PYTHONDONTWRITEBYTECODE")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", CODE], cwd=folder, env=env,
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=41)
    p.add_argument("--baseline", metavar="DIR")
    args = p.parse_args(argv)
    folders = [("covet", ROOT)]
    if args.baseline:
        folders.append(("covet-before", os.path.abspath(args.baseline)))
    for _name, folder in folders:
        measure(folder)  # compile and cache the bytecode first
    results = {name: [] for name, _ in folders}
    for _ in range(args.runs):
        for name, folder in folders:
            results[name].append(measure(folder))
    print("import covet; from covet import Covet; Covet()  (python %s, %d runs, medians)"
          % (sys.version.split()[0], args.runs))
    medians = {}
    for name, runs in results.items():
        own = statistics.median(r[0] for r in runs)
        other = statistics.median(r[1] for r in runs)
        medians[name] = own
        print("  %-14s covet's modules %7.0f us   standard library %7.0f us" % (name, own, other))
    if "covet-before" in medians:
        print("  covet / covet-before: %.2fx" % (medians["covet"] / medians["covet-before"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
