"""Shared pieces of the HTTP benchmarks: start a pinned server, wait for it, read its RSS, run wrk.

Standard library only, so that the scripts run with plain python3 too.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
REPO = os.path.dirname(os.path.dirname(HERE))
REPORT_LUA = os.path.join(HERE, "report.lua")
PIPELINE_LUA = os.path.join(HERE, "pipeline.lua")
GZIP_LUA = os.path.join(HERE, "gzip.lua")

SERVER_CPU = "1"
CLIENT_CPU = "0"

_SUMMARY = re.compile(r"^COVET-BENCH (.*)$", re.M)


def can_pin():
    """True when taskset exists and cores 0 and 1 are both ours: server on 1, wrk on 0."""
    if shutil.which("taskset") is None:
        return False
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:
        return False
    return len(cpus) >= 2 and {0, 1} <= cpus


def pinned(cmd, cpu, pin):
    """``cmd`` prefixed with ``taskset -c cpu`` when pinning (taskset execs, so the pid is the program's)."""
    return (["taskset", "-c", cpu] + list(cmd)) if pin else list(cmd)


def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile(wanted):
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit); returns the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class BytecodeCache:
    """A temporary ``PYTHONPYCACHEPREFIX`` so servers load compiled bytecode, as in a deployment.

    With PYTHONDONTWRITEBYTECODE set (or a read-only tree), a server would
    compile its sources at every start, and the compiler's garbage would be
    counted in its start-up RSS (about 4 MB for covet). Each server is started
    once to fill the cache (``prime``), then started again to be measured.
    """

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-pyc-")
        self.env = {"PYTHONPYCACHEPREFIX": self.dir}
        self.unset = ("PYTHONDONTWRITEBYTECODE",)

    def close(self):
        """Remove the cache."""
        shutil.rmtree(self.dir, ignore_errors=True)


def prime(name, cmd, pin, cache, paths=(), cwd=None, env=None, unset=()):
    """Start ``cmd`` once with ``cache`` and GET ``paths`` (lazy imports too), so that its bytecode is cached.

    ``env`` and ``unset``: variables added to and removed from the server's environment besides the cache's.
    """
    import http.client

    port = free_port()
    srv = Server(name + "-prime", cmd(port), cwd or REPO, port, pin, env=dict(cache.env, **(env or {})),
                 unset=tuple(cache.unset) + tuple(unset))
    try:
        srv.wait_ready()
        for path in paths:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
    finally:
        srv.stop()


class Server:
    """One server process started from a command line, its log in a temporary file."""

    def __init__(self, name, cmd, cwd, port, pin, env=None, unset=()):
        self.name = name
        self.port = port
        self.log = tempfile.NamedTemporaryFile(prefix="bench-%s-" % name, suffix=".log", delete=False)
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.pop("PYTHONPATH", None)
        for key in unset:
            full_env.pop(key, None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(pinned(cmd, SERVER_CPU, pin), cwd=cwd, env=full_env,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def wait_ready(self, timeout=30.0):
        """Wait until the port accepts connections; raises RuntimeError with the log tail if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s did not listen on port %d within %.0f s:\n%s"
                           % (self.name, self.port, timeout, self.log_tail()))

    def status(self, field):
        """A ``/proc/PID/status`` field in kB (``VmRSS``, ``VmHWM``), or None when unreadable."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def cpu_seconds(self):
        """User + system CPU time the process has used so far (None off Linux)."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))

    def rss_mb(self):
        """Current resident set size in MB (None off Linux)."""
        kb = self.status("VmRSS")
        return None if kb is None else kb / 1024.0

    def peak_rss_mb(self):
        """Peak resident set size (VmHWM) in MB (None off Linux)."""
        kb = self.status("VmHWM")
        return None if kb is None else kb / 1024.0

    def log_tail(self, lines=20):
        """The last lines the server printed."""
        try:
            with open(self.log.name, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self, timeout=15.0):
        """SIGTERM, then SIGKILL after ``timeout``; removes the log. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
        return self.proc.returncode


def run_wrk(url, duration, connections=64, script=REPORT_LUA, pin=True, timeout_s=2, server=None):
    """One ``wrk -t1 -cN -dDs`` run; returns a dict of its summary (requests, rps, p99_ms, errors...).

    With ``server``, also the requests served per CPU-second of that process
    (``rps_cpu``): a figure that a busy machine disturbs much less than req/s.
    """
    cpu0 = server.cpu_seconds() if server is not None else None
    cmd = pinned(["wrk", "-t1", "-c%d" % connections, "-d%ds" % duration, "--timeout", "%ds" % timeout_s,
                  "-s", script, url], CLIENT_CPU, pin)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=duration + 60)
    out = proc.stdout.decode("utf-8", "replace")
    match = _SUMMARY.search(out)
    if proc.returncode != 0 or match is None:
        raise RuntimeError("wrk failed (exit %d): %s %s" % (proc.returncode, out[-500:],
                                                             proc.stderr.decode("utf-8", "replace")[-500:]))
    cpu1 = server.cpu_seconds() if server is not None else None
    cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    fields = dict(kv.split("=") for kv in match.group(1).split())
    fields = {k: int(v) for k, v in fields.items()}
    seconds = fields["duration_us"] / 1e6
    socket_errors = fields["connect"] + fields["read"] + fields["write"] + fields["timeout"]
    return {
        "requests": fields["requests"],
        "seconds": seconds,
        "rps": fields["requests"] / seconds if seconds else 0.0,
        "p50_ms": fields["p50_us"] / 1000.0,
        "p99_ms": fields["p99_us"] / 1000.0,
        "socket_errors": socket_errors,
        "errors_detail": {k: fields[k] for k in ("connect", "read", "write", "timeout") if fields[k]},
        "non2xx": fields["status"],
        "cpu_s": cpu,
        "rps_cpu": fields["requests"] / cpu if cpu else None,
    }


def have_wrk():
    """True when wrk is on PATH."""
    return shutil.which("wrk") is not None


def python():
    """The interpreter every server is started with (the one running the benchmark)."""
    return sys.executable
