"""Pre-forked workers and the reloader.

Workers: the parent binds the port, then forks N children that each accept
on a listening socket — their own SO_REUSEPORT socket on the same port where
the platform has it (the kernel spreads connections evenly), otherwise the
parent's socket, inherited. The parent restarts a worker that dies,
forwards SIGTERM/SIGINT, and exits once every worker has stopped.

Reload: a parent that polls the mtimes of ``.py`` and template files under
the current folder once a second and restarts the server process when one
changes.
"""
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from ..monitoring.multiprocess import mark_process_dead, prepare_directory
from .server import announce_shutdown, announce_stopped, bind_socket, say, serve

__all__ = ["run_workers", "run_with_reload", "RELOADER_CHILD_ENV"]

logger = logging.getLogger("covet.error")

# A worker that dies this soon after starting is crashing on start-up:
# wait before restarting it so a broken app does not fork-bomb the machine.
MIN_WORKER_LIFETIME = 1.0
RELOAD_INTERVAL = 1.0
RELOADER_CHILD_ENV = "COVET_RELOADER_CHILD"
# Templates are compiled once and cached by the running process, so an edit
# shows only after a restart: the reloader watches files with these endings
# anywhere, and every file inside a folder named "templates" (email.txt,
# partials without an extension) - the folder covet's TemplateEngine uses by default.
TEMPLATE_SUFFIXES = (".html", ".htm", ".jinja", ".jinja2", ".j2")
TEMPLATE_FOLDER = "templates"


def _worker_main(app, config, sock, loop_name):
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 0
    try:
        # Each worker says it is shutting down; the parent prints the final "stopped".
        serve(app, config, sock=sock, ready=_worker_ready, loop_name=loop_name,
              on_signal=lambda server: announce_shutdown(server, "covet: worker %d" % os.getpid()), stopped=None)
    except Exception:
        logger.exception("worker %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
    os._exit(code)


def _worker_ready(server):
    say("covet: worker %d accepting" % os.getpid())


def _listen_socket(config, port):
    return bind_socket(config.host, port, config.backlog, reuse_port=True)


def run_workers(app, config, count, loop_name=None):
    """Fork ``count`` workers serving ``app``; supervise them until SIGTERM/SIGINT."""
    if not hasattr(os, "fork"):
        raise RuntimeError("--workers needs os.fork (POSIX); run several processes behind a proxy instead")
    reuse = hasattr(socket, "SO_REUSEPORT")
    base = bind_socket(config.host, config.port, config.backlog, reuse_port=reuse)
    host, port = base.getsockname()[:2]
    scheme = "https" if config.ssl else "http"
    print("covet: serving on %s://%s:%d with %d workers (pid %d; press CTRL+C to quit)"
          % (scheme, "[%s]" % host if ":" in host else host, port, count, os.getpid()), flush=True)
    if reuse:
        # The parent keeps its socket bound to reserve the port but stops
        # listening on it, so the kernel hands connections only to workers.
        base.close()
        holder = socket.socket(base.family, socket.SOCK_STREAM)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, port))
        base = holder
    stopping = False
    children = {}
    # Workers write their metrics into one folder, so that a scrape of any worker sums them all
    # (covet.monitoring.multiprocess); set before forking, so every worker inherits it.
    metrics_dir, made_metrics_dir = prepare_directory()

    def spawn():
        sock = _listen_socket(config, port) if reuse else base
        pid = os.fork()
        if pid == 0:
            if reuse:
                base.close()
            _worker_main(app, config, sock, loop_name)
        if reuse:
            sock.close()
        children[pid] = time.monotonic()

    def forward(signum, frame):
        nonlocal stopping
        if not stopping:
            say("covet: shutting down (%d worker%s)" % (len(children), "" if len(children) == 1 else "s"))
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(count):
        spawn()
    exit_code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None:
            continue
        code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        mark_process_dead(pid, metrics_dir)  # its counters stay counted; its live gauges go
        if stopping:
            continue
        logger.error("worker %d exited (%s); starting a new one", pid, code)
        if time.monotonic() - started < MIN_WORKER_LIFETIME:
            time.sleep(MIN_WORKER_LIFETIME)
        if not stopping:
            spawn()
    base.close()
    if made_metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if stopping:
        announce_stopped()
    return exit_code


def _watched(name, in_templates):
    # Editors' swap, lock and backup files (.page.html.swp, .#app.py, #app.py#, app.py~) are
    # written while a file is being edited: restarting on them would restart on every keystroke.
    if name[:1] in (".", "#") or name.endswith("~"):
        return False
    return in_templates or name.endswith(".py") or name.endswith(TEMPLATE_SUFFIXES)


def _snapshot(root):
    stamps = {}
    for dirpath, dirnames, filenames in os.walk(root):
        # Virtualenvs (a pyvenv.cfg inside) hold thousands of .py files that
        # never change: stat-ing them every second burns a core (uvicorn#338).
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("__pycache__", "node_modules")
                       and not d.endswith(".egg-info") and d != "site-packages"
                       and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))]
        in_templates = TEMPLATE_FOLDER in os.path.relpath(dirpath, root).split(os.sep)
        for name in filenames:
            if _watched(name, in_templates):
                path = os.path.join(dirpath, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                # The size too: an edit within the file system's mtime granularity still shows.
                stamps[path] = (st.st_mtime_ns, st.st_size)
    return stamps


def run_with_reload(argv, root=None, interval=RELOAD_INTERVAL, command=None):
    """Run ``python -m covet`` + ``argv`` minus ``--reload`` (or ``command``) as a child; restart it when a
    .py or template file changes.

    The child gets ``COVET_RELOADER_CHILD=1`` so that an ``app.run(reload=True)``
    in a re-run script serves instead of starting a reloader of its own.
    """
    root = root or os.getcwd()
    if command is None:
        command = [sys.executable, "-m", "covet"] + [a for a in argv[1:] if a != "--reload"]
    cmd = list(command)
    env = dict(os.environ)
    env[RELOADER_CHILD_ENV] = "1"
    stopping = False
    child = None

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("covet: reloading on changes to .py and template files under %s" % root, flush=True)
    code = 0
    while not stopping:
        before = _snapshot(root)
        child = subprocess.Popen(cmd, env=env)
        while not stopping:
            time.sleep(interval)
            if child.poll() is not None and stopping:
                break
            now = _snapshot(root)
            if now != before:
                changed = sorted(set(now.items()) ^ set(before.items()))
                print("covet: %s changed, restarting" % (changed[0][0] if changed else "a file"), flush=True)
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                break
        else:
            break
    if child is not None:
        try:
            code = child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
    return code
