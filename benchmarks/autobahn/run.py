"""Run the Autobahn TestSuite's fuzzing client against covet's real server and summarise the report.

    python benchmarks/autobahn/run.py            # cases 1-7, 9, 10, 12, 13 (about 13 minutes)
    python benchmarks/autobahn/run.py --quick    # 9, 12 and 13 cut to their smaller cases (3 minutes)
    python benchmarks/autobahn/run.py --full     # every case of 12 and 13 too (about 21 minutes)
    python benchmarks/autobahn/run.py --cases 5.* 7.1.1   # any case list
    make autobahn

Autobahn's ``wstest -m fuzzingclient`` (the ``autobahntestsuite`` package) runs only on Python 2.7.
This script looks for one (``$AUTOBAHN_PYTHON``, pyenv's ``2.7.*``, ``python2.7``, ``python2``),
installs the suite with that Python's pip into ``.autobahn/site`` at the repository root (git-ignored;
done once), starts ``python -m covet run benchmarks/autobahn/echo_app.py`` on a free port with
permessage-deflate on, runs the cases, reads ``.autobahn/run/reports/index.json`` (``--out``) and prints the counts
per outcome and per case group, and every case that is not OK with its description.

Exit status: 0 when no case FAILED and the server stayed healthy (alive to the end, no traceback in
its log); 1 otherwise. When Python 2.7 or the package cannot be had, it says so and exits 0: the
run is optional, tests/test_websocket_autobahn.py replays the same cases on the codec.

The server runs with ``--ws-max-message-size`` 32 MiB because cases 9.1.6 and 9.2.6 echo 16 MiB
messages (the default limit, 1 MiB, would close them with 1009, as it should).
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(ROOT, ".autobahn")
SITE = os.path.join(WORK, "site")
PACKAGE = "autobahntestsuite"

#: The groups issue 13 asks for: framing, pings, reserved bits and opcodes, fragmentation, UTF-8,
#: close handling, limits/performance, auto-fragmentation, permessage-deflate (RFC 7692).
FULL_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*", "12.*", "13.*"]

#: 12.* and 13.* have 18 subcases per payload kind: 1-10 send 1,000 messages of 16 B to 128 KiB,
#: 11-18 send 1,000 messages of 8 KiB to 128 KiB cut into frames of 256 B to 32 KiB. The default run
#: leaves out 16-18 (128 KiB messages cut into 1, 4 and 32 KiB frames: 15 has them in 256-byte
#: frames), about 7 of the full run's 21 minutes here; ``--full`` runs them.
DEFAULT_SUBCASES = tuple(range(1, 16))

#: ``--quick``: 9.* without its 4-16 MiB messages and their 64-byte chops; 12.* and 13.* with their
#: messages of at most 4 KiB (subcases 1-5) and the 8 KiB one cut into 256-byte frames (11).
QUICK_SUBCASES = (1, 2, 3, 4, 5, 11)
QUICK_EXCLUDE = ["9.1.4", "9.1.5", "9.1.6", "9.2.4", "9.2.5", "9.2.6", "9.3.*", "9.4.*"]

#: The largest message of the cases (9.1.6 and 9.2.6: 16 MiB) with room to spare.
MAX_MESSAGE_SIZE = 32 * 1024 * 1024

#: How long covet gets to print its "serving on" line.
START_TIMEOUT = 30.0

#: The WebSocket shim run with Python 2: the suite imports from a --target folder, which needs
#: site.addsitedir (its .pth files), and zope.interface wants ``zope`` to be a package there.
WSTEST = """import site, sys
site.addsitedir(%r)
from autobahntestsuite import wstest
sys.exit(wstest.run())
"""


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def find_python2():
    """The first Python 2.7 found, or None."""
    candidates = []
    if os.environ.get("AUTOBAHN_PYTHON"):
        candidates.append(os.environ["AUTOBAHN_PYTHON"])
    pyenv = os.path.join(os.environ.get("PYENV_ROOT", "/root/.pyenv"), "versions")
    if os.path.isdir(pyenv):
        for name in sorted(os.listdir(pyenv), reverse=True):
            if name.startswith("2.7"):
                candidates.append(os.path.join(pyenv, name, "bin", "python"))
    for name in ("python2.7", "python2"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    for path in candidates:
        try:
            out = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == b"2.7":
            return path
    return None


def install(python2):
    """Install the suite into .autobahn/site once; True when it imports."""
    marker = os.path.join(SITE, ".ok")
    if not os.path.exists(marker):
        say("autobahn: installing %s into %s with %s (once)" % (PACKAGE, SITE, python2))
        os.makedirs(SITE, exist_ok=True)
        with open(os.path.join(WORK, "install.log"), "wb") as log:
            result = subprocess.run([python2, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                                     "--target", SITE, PACKAGE], stdout=log, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            say("autobahn: pip could not install %s (see %s)" % (PACKAGE, os.path.join(WORK, "install.log")))
            return False
    zope = os.path.join(SITE, "zope", "__init__.py")
    if os.path.isdir(os.path.dirname(zope)) and not os.path.exists(zope):
        open(zope, "w").close()
    with open(os.path.join(WORK, "wstest.py"), "w") as f:
        f.write(WSTEST % SITE)
    check = subprocess.run([python2, os.path.join(WORK, "wstest.py"), "--help"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if check.returncode != 0:
        say("autobahn: %s is installed but does not start:\n%s" % (PACKAGE, check.stderr.decode("utf-8", "replace")))
        return False
    open(marker, "w").close()
    return True


def case_list(mode):
    """(case patterns, exclude patterns) for ``"quick"``, ``"default"`` or ``"full"``."""
    if mode == "full":
        return FULL_CASES, []
    subcases = QUICK_SUBCASES if mode == "quick" else DEFAULT_SUBCASES
    cases = [c for c in FULL_CASES if c not in ("12.*", "13.*")]
    for group, kinds in (("12", 5), ("13", 7)):
        cases += ["%s.%d.%d" % (group, kind, sub) for kind in range(1, kinds + 1) for sub in subcases]
    return cases, QUICK_EXCLUDE if mode == "quick" else []


class Server:
    """``python -m covet run`` on the echo app, its output in .autobahn/server.log, its RSS sampled."""

    def __init__(self, out):
        self.log_path = os.path.join(out, "server.log")
        self.max_rss_kb = 0
        self.port = None
        self.proc = None
        self._stop = threading.Event()

    def start(self):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "covet", "run", os.path.join(HERE, "echo_app.py"), "--host", "127.0.0.1",
             "--port", "0", "--no-access-log", "--ws-max-message-size", str(MAX_MESSAGE_SIZE),
             "--ws-per-message-deflate"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.log.write(line)
            match = re.search(rb"serving on http://[^:]+:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
        if self.port is None:
            self.stop()
            raise SystemExit("autobahn: covet did not start (see %s)" % self.log_path)
        threading.Thread(target=self._copy, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()

    def _copy(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.log.write(line)
            self.log.flush()

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _sample(self):
        while not self._stop.wait(0.5):
            self.max_rss_kb = max(self.max_rss_kb, self.rss_kb())

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM (graceful shutdown); returns the exit code."""
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0)  # let the copier see EOF
        return self.proc.returncode

    def tracebacks(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().count(b"Traceback (most recent call last)")


def run_cases(python2, out, port, cases, exclude, verbose):
    reports = os.path.join(out, "reports")
    config = {"outdir": reports, "servers": [{"agent": "covet", "url": "ws://127.0.0.1:%d" % port}],
              "cases": cases, "exclude-cases": exclude, "exclude-agent-cases": {}}
    path = os.path.join(out, "fuzzingclient.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    if os.path.isdir(reports):
        shutil.rmtree(reports)
    log_path = os.path.join(out, "wstest.log")
    done = 0
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([python2, os.path.join(WORK, "wstest.py"), "-m", "fuzzingclient", "-s", path],
                                cwd=out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in iter(proc.stdout.readline, b""):
            log.write(line)
            if line.startswith(b"Running test case ID"):
                done += 1
                if verbose:
                    sys.stdout.write(line.decode("utf-8", "replace"))
                elif done % 50 == 0:
                    say("autobahn: %d cases run" % done)
        return proc.wait(), log_path


def group_of(case):
    return case.split(".")[0] + ".*"


def case_key(case):
    return tuple(int(part) for part in case.split("."))


def summarise(index_path):
    """Print the tables; returns the number of FAILED cases (or -1 when there is no report)."""
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (OSError, ValueError):
        say("autobahn: no report at %s" % index_path)
        return -1
    results = index.get("covet", {})
    outcomes = ["OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "UNIMPLEMENTED"]
    by_group = collections.OrderedDict()
    totals = collections.Counter()
    for case in sorted(results, key=case_key):
        behavior = results[case]["behavior"]
        if behavior not in outcomes:
            outcomes.append(behavior)
        by_group.setdefault(group_of(case), collections.Counter())[behavior] += 1
        totals[behavior] += 1
    width = max(len(o) for o in outcomes)
    say("")
    say("%-6s " % "group" + " ".join("%*s" % (width, o) for o in outcomes) + "  total")
    for group, counts in by_group.items():
        say("%-6s " % group + " ".join("%*d" % (width, counts[o]) for o in outcomes)
            + "  %5d" % sum(counts.values()))
    say("%-6s " % "all" + " ".join("%*d" % (width, totals[o]) for o in outcomes) + "  %5d" % sum(totals.values()))
    odd = [case for case in sorted(results, key=case_key)
           if results[case]["behavior"] != "OK" or results[case].get("behaviorClose") not in ("OK", "INFORMATIONAL")]
    if odd:
        say("")
        say("Cases not OK (behavior / close behavior, the server's close code):")
    for case in odd:
        entry = results[case]
        description = ""
        try:
            with open(os.path.join(os.path.dirname(index_path), entry["reportfile"])) as f:
                report = json.load(f)
            description = " ".join(report.get("description", "").split())
            result = " ".join(report.get("result", "").split())
        except (OSError, ValueError, KeyError):
            result = ""
        say("  %-9s %s / %s, close %s: %s" % (case, entry["behavior"], entry.get("behaviorClose"),
                                              entry.get("remoteCloseCode"), description))
        if result:
            say("            -> %s" % result)
    return totals["FAILED"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="only the smaller cases of 9.*, 12.* and 13.*")
    sizes.add_argument("--full", action="store_true", help="every case of 12.* and 13.* (about 21 minutes)")
    parser.add_argument("--cases", nargs="+", help="case patterns instead of the default list")
    parser.add_argument("--out", default=os.path.join(WORK, "run"),
                        help="folder for the config, the logs and reports/ (default .autobahn/run)")
    parser.add_argument("--verbose", action="store_true", help="print every case as it runs")
    args = parser.parse_args(argv)

    python2 = find_python2()
    if python2 is None:
        say("autobahn: skipped: no Python 2.7 found (set AUTOBAHN_PYTHON, or pyenv install 2.7.18); "
            "Autobahn's fuzzing client runs only on Python 2.7")
        return 0
    os.makedirs(WORK, exist_ok=True)
    if not install(python2):
        say("autobahn: skipped: %s could not be installed or started with %s" % (PACKAGE, python2))
        return 0

    cases, exclude = case_list("quick" if args.quick else "full" if args.full else "default")
    if args.cases:
        cases, exclude = args.cases, []
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    server = Server(out)
    server.start()
    say("autobahn: covet (pid %d) on port %d; wstest %s; cases %s%s" % (
        server.proc.pid, server.port, python2, " ".join(cases) if len(cases) < 15 else "%d patterns" % len(cases),
        " minus " + " ".join(exclude) if exclude else ""))
    started = time.monotonic()
    try:
        code, log_path = run_cases(python2, out, server.port, cases, exclude, args.verbose)
    finally:
        elapsed = time.monotonic() - started
        alive = server.alive()
        rss_now = server.rss_kb()
        exit_code = server.stop()
    failed = summarise(os.path.join(out, "reports", "index.json"))
    tracebacks = server.tracebacks()
    say("")
    say("autobahn: %.0f s (%d min %02d s); wstest exit %d (log %s)" % (
        elapsed, elapsed // 60, elapsed % 60, code, log_path))
    say("autobahn: server %s at the end, RSS %.1f MB at the end, %.1f MB at most; exit %s after SIGTERM; "
        "%d traceback(s) in %s" % ("alive" if alive else "DEAD", rss_now / 1024.0, server.max_rss_kb / 1024.0,
                                   exit_code, tracebacks, server.log_path))
    say("autobahn: HTML report: %s" % os.path.join(out, "reports", "index.html"))
    healthy = alive and tracebacks == 0
    return 0 if failed == 0 and healthy and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
