"""Pre-forked workers and the reloader, driven through ``python -m covet run`` as a subprocess."""
import os
import re
import signal
import socket
import sys
import textwrap
import time

import pytest

from covet.server import workers
from server_helpers import CovetProcess, http_get

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs os.fork (POSIX)"),
]

PID_APP = '''
import os

from covet import Covet, PlainTextResponse

app = Covet()


@app.get("/pid")
async def pid():
    return PlainTextResponse(str(os.getpid()))
'''

WORKERS = r"^covet: serving on http://127\.0\.0\.1:(\d+) with 2 workers \(pid (\d+); press CTRL\+C to quit\)$"
ACCEPTING = r"^covet: worker (\d+) accepting$"


def pids_answering(port, tries):
    """The set of pids that answered ``tries`` requests, each on a new connection."""
    seen = set()
    for _ in range(tries):
        status, body = http_get("http://127.0.0.1:%d/pid" % port)
        assert status == 200
        seen.add(int(body))
    return seen


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_two_workers_serve_and_a_killed_worker_is_replaced(tmp_path):
    (tmp_path / "pid_app.py").write_text(PID_APP)
    with CovetProcess(["run", "pid_app.py", "--port", "0", "--workers", "2"], cwd=str(tmp_path)) as p:
        m = p.wait_for(WORKERS, stream="out")
        port, parent = int(m.group(1)), int(m.group(2))
        assert parent == p.proc.pid
        first = {int(p.wait_for(ACCEPTING, stream="out").group(1)) for _ in range(2)}
        assert len(first) == 2 and parent not in first

        # The kernel spreads connections over both workers (SO_REUSEPORT or a shared socket).
        seen = pids_answering(port, 60)
        assert seen <= first
        if hasattr(socket, "SO_REUSEPORT"):
            assert seen == first

        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        p.wait_for(r"^ERROR covet\.error: worker %d exited \(-9\); starting a new one$" % victim, stream="err")
        replacement = int(p.wait_for(ACCEPTING, stream="out").group(1))
        assert replacement not in first
        now = (first - {victim}) | {replacement}
        assert pids_answering(port, 20) <= now

        assert p.stop(signal.SIGTERM) == 0  # forwarded to the workers, which stop gracefully
        out = p.output()
    assert all(gone(pid) for pid in now)
    assert not any("Traceback" in line for line in out["err"]), out["err"]


def test_workers_stop_on_sigint(tmp_path):
    (tmp_path / "pid_app.py").write_text(PID_APP)
    with CovetProcess(["run", "pid_app.py", "--port", "0", "--workers", "2"], cwd=str(tmp_path)) as p:
        port = int(p.wait_for(WORKERS, stream="out").group(1))
        kids = {int(p.wait_for(ACCEPTING, stream="out").group(1)) for _ in range(2)}
        assert pids_answering(port, 3) <= kids
        assert p.stop(signal.SIGINT) == 0
        out = p.output()["out"]
    assert all(gone(pid) for pid in kids)
    # The parent says it is stopping its workers, each worker says it is shutting down,
    # and the parent's "stopped" comes last, once every worker has exited.
    assert "covet: shutting down (2 workers)" in out
    stopping = {int(m.group(1)) for m in map(re.compile(r"^covet: worker (\d+) shutting down "
                                                        r"\(\d+ connections? open\)$").match, out) if m}
    assert stopping == kids
    assert out[-1] == "covet: stopped"


def serving(p):
    """(port, pid) from the next "serving on" line. Port 0 everywhere: a port picked free
    beforehand can be taken by another process before the server (or its restart) binds it."""
    match = p.wait_for(r"^covet: serving on http://127\.0\.0\.1:(\d+) \(pid (\d+);", stream="out")
    return int(match.group(1)), int(match.group(2))


def test_reload_restarts_the_server_when_a_py_file_changes(tmp_path):
    app_file = tmp_path / "reload_app.py"
    source = textwrap.dedent('''
        from covet import Covet, PlainTextResponse

        app = Covet()


        @app.get("/")
        async def index():
            return PlainTextResponse("%s")
    ''')
    app_file.write_text(source % "version 1")
    with CovetProcess(["run", "reload_app.py", "--port", "0", "--reload"], cwd=str(tmp_path)) as p:
        p.wait_for(r"^covet: reloading on changes to \.py and template files under %s$" % re.escape(str(tmp_path)),
                   stream="out")
        port, first = serving(p)
        assert http_get("http://127.0.0.1:%d/" % port) == (200, b"version 1")

        time.sleep(0.05)  # a distinct mtime even on coarse-grained file systems
        app_file.write_text(source % "version 2")
        p.wait_for(r"^covet: %s changed, restarting$" % str(app_file), stream="out")
        port, second = serving(p)
        assert second != first
        assert gone(first)
        assert http_get("http://127.0.0.1:%d/" % port) == (200, b"version 2")
        assert p.stop(signal.SIGTERM) == 0
    assert gone(second)


def test_reload_snapshot_skips_virtualenvs_caches_and_hidden_folders(tmp_path):
    for rel in ("app.py", "pkg/mod.py", "pkg/data.txt", ".git/hook.py", "__pycache__/app.cpython.py",
                "node_modules/x.py", "covet.egg-info/y.py", "venv/lib/site.py", "env2/lib/other.py"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "env2" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    found = sorted(os.path.relpath(p, str(tmp_path)) for p in workers._snapshot(str(tmp_path)))
    assert found == ["app.py", os.path.join("pkg", "mod.py")]


def test_reload_snapshot_watches_templates_but_not_editor_files(tmp_path):
    for rel in ("app.py", "templates/page.html", "templates/mail/welcome.txt", "templates/partials/nav",
                "views/card.j2", "views/list.jinja", "views/old.htm", "views/base.jinja2",
                "notes.txt", "static/style.css", "static/index.html",
                "templates/.page.html.swp", "templates/page.html~", "templates/#page.html#", ".#app.py",
                "app.py~", ".hidden/templates/x.html"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    found = sorted(os.path.relpath(p, str(tmp_path)).replace(os.sep, "/") for p in workers._snapshot(str(tmp_path)))
    assert found == ["app.py", "static/index.html", "templates/mail/welcome.txt", "templates/page.html",
                     "templates/partials/nav", "views/base.jinja2", "views/card.j2", "views/list.jinja",
                     "views/old.htm"]


def test_reload_snapshot_sees_a_same_second_edit_by_its_size(tmp_path):
    page = tmp_path / "templates" / "page.html"
    page.parent.mkdir()
    page.write_text("<p>one</p>")
    before = workers._snapshot(str(tmp_path))
    stamp = os.stat(str(page))
    page.write_text("<p>three</p>")
    os.utime(str(page), ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # as if within one mtime tick
    assert workers._snapshot(str(tmp_path)) != before


TEMPLATE_APP = """
from covet import Covet
from covet.templates import TemplateEngine

app = Covet()
engine = TemplateEngine("templates")


@app.get("/")
async def index():
    return engine.response("page.html", {"name": "covet"})
"""


def test_reload_restarts_the_server_when_a_template_changes(tmp_path):
    (tmp_path / "tpl_app.py").write_text(TEMPLATE_APP)
    page = tmp_path / "templates" / "page.html"
    page.parent.mkdir()
    page.write_text("<p>Hello {{ name }}</p>")
    with CovetProcess(["run", "tpl_app.py", "--port", "0", "--reload"], cwd=str(tmp_path)) as p:
        port, first = serving(p)
        assert http_get("http://127.0.0.1:%d/" % port) == (200, b"<p>Hello covet</p>")
        # Compiled templates are cached by the running process: only a restart shows the edit.
        page.write_text("<p>Goodbye {{ name }}, see you</p>")
        p.wait_for(r"^covet: %s changed, restarting$" % re.escape(str(page)), stream="out")
        port, second = serving(p)
        assert second != first
        assert http_get("http://127.0.0.1:%d/" % port) == (200, b"<p>Goodbye covet, see you</p>")
        assert p.stop(signal.SIGTERM) == 0
    assert gone(second)


def test_workers_need_fork(monkeypatch):
    from covet.server.server import ServerConfig

    monkeypatch.delattr(os, "fork")
    with pytest.raises(RuntimeError, match=r"--workers needs os\.fork \(POSIX\)"):
        workers.run_workers(None, ServerConfig(port=0), 2)


def test_python_is_this_interpreter():
    # The subprocesses above run ``sys.executable -m covet``: the same Python as the tests.
    assert os.path.exists(sys.executable)


def test_app_run_with_reload_from_a_script(tmp_path):
    # ``python app.py`` whose main calls app.run(reload=True): the reloader re-runs the
    # script itself, and the child serves instead of starting another reloader.
    app_file = tmp_path / "script_app.py"
    source = textwrap.dedent('''
        from covet import Covet, PlainTextResponse

        app = Covet()


        @app.get("/")
        async def index():
            return PlainTextResponse("%s")


        if __name__ == "__main__":
            app.run(port=0, reload=True)
    ''')
    app_file.write_text(source % "script 1")
    with CovetProcess([], cwd=str(tmp_path), script="script_app.py") as p:
        p.wait_for(r"^covet: reloading on changes", stream="out")
        port, first = serving(p)
        assert http_get("http://127.0.0.1:%d/" % port) == (200, b"script 1")
        time.sleep(0.05)
        app_file.write_text(source % "script 2")
        port, second = serving(p)
        assert second != first
        assert http_get("http://127.0.0.1:%d/" % port) == (200, b"script 2")
        assert p.stop(signal.SIGTERM) == 0
        out = p.output()
    assert sum(1 for line in out["out"] if line.startswith("covet: reloading")) == 1
