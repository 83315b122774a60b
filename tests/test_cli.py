"""``python -m covet``: run (as a real subprocess), routes, openapi, app discovery and its error messages."""
import http.client
import json
import os
import re
import signal
import socket
import sys
import textwrap

import pytest

from covet import __version__
from covet.cli import AppLoadError, load_app, main
from server_helpers import CLIENT_TIMEOUT, REPO, CovetProcess, assert_closed, http_get, read_response

# Frames of covet's own command line must not show in the traceback of the user's import error.
COVET_CLI = os.path.join("covet", "cli", "")
SERVING = r"^covet: serving on (http|https)://127\.0\.0\.1:(\d+) \(pid (\d+); press CTRL\+C to quit\)$"

APP = '''
from covet import Covet, PlainTextResponse

app = Covet()


@app.get("/")
async def index():
    return PlainTextResponse("hi from cli")


@app.post("/items/{item_id:int}", name="create_item")
async def create(item_id: int):
    return {"id": item_id}


@app.on_shutdown
def bye():
    print("shutdown hook ran", flush=True)
'''


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run in tmp_path; sys.path and the modules the test imports are restored afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if not name.startswith("covet"):
            del sys.modules[name]


def write(path, source):
    path.write_text(textwrap.dedent(source))
    return path


# -- in process: argument parsing, discovery, messages ------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == "covet %s\n" % __version__


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: covet ")
    for command in ("run", "routes", "openapi"):
        assert command in out


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--port", "eighty"])
    assert info.value.code == 2
    assert "argument --port: invalid int value: 'eighty'" in capsys.readouterr().err


def test_routes_table(isolated, capsys):
    write(isolated / "cli_routes_app.py", APP)
    assert main(["routes", "cli_routes_app.py"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "METHODS  PATH                  NAME         HANDLER",
        "GET      /                     index        cli_routes_app.index",
        "POST     /items/{item_id:int}  create_item  cli_routes_app.create",
    ]


def test_routes_shows_websocket_routes_as_ws(isolated, capsys):
    write(isolated / "cli_ws_app.py", """
        from covet import Covet

        app = Covet()

        @app.websocket("/ws/{room}")
        async def chat(websocket, room: str):
            await websocket.accept()
    """)
    assert main(["routes", "cli_ws_app.py"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "METHODS  PATH        NAME  HANDLER",
        "WS       /ws/{room}  chat  cli_ws_app.chat",
    ]


def test_run_refuses_a_bad_websocket_setting(isolated, capsys):
    assert main(["run", "nothing.py", "--ws-max-message-size", "0"]) == 2
    assert capsys.readouterr().err == "covet: ws_max_message_size must be a positive integer, got 0\n"


def test_run_passes_the_websocket_handshake_and_idle_timeouts(isolated, monkeypatch, capsys):
    import covet.server.run as server

    seen = {}
    monkeypatch.setattr(server, "run", lambda app, **options: seen.update(options))
    write(isolated / "cli_ws_timeouts_app.py", APP)
    assert main(["run", "cli_ws_timeouts_app.py", "--ws-handshake-timeout", "3", "--ws-idle-timeout", "60"]) == 0
    assert (seen["ws_handshake_timeout"], seen["ws_idle_timeout"]) == (3.0, 60.0)
    assert main(["run", "cli_ws_timeouts_app.py"]) == 0
    assert (seen["ws_handshake_timeout"], seen["ws_idle_timeout"]) == (10.0, None)
    assert main(["run", "cli_ws_timeouts_app.py", "--ws-idle-timeout", "-1"]) == 2
    assert capsys.readouterr().err == "covet: ws_idle_timeout is seconds, 0 or None (off), got -1.0\n"


def test_routes_lists_mounts(isolated, capsys):
    write(isolated / "cli_mount_app.py", """
        from covet import Covet

        app = Covet()
        admin = Covet()
        app.mount("/admin", admin, name="admin")

        @app.get("/")
        def index():
            return "x"
    """)
    assert main(["routes", "cli_mount_app.py"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "*        /admin/...  admin  mount: <Covet 0 routes>"


def test_openapi_prints_the_document(isolated, capsys):
    write(isolated / "cli_openapi_app.py", APP)
    assert main(["openapi", "cli_openapi_app.py"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["openapi"].startswith("3.")
    assert sorted(doc["paths"]) == ["/", "/items/{item_id}"]


def test_module_colon_attribute(isolated):
    write(isolated / "cli_mod_app.py", APP.replace("app = Covet()", "api = Covet()").replace("@app.", "@api."))
    app = load_app("cli_mod_app:api")
    assert [r.path for r in app.routes] == ["/", "/items/{item_id:int}"]


def test_file_colon_attribute_and_factory(isolated):
    write(isolated / "cli_factory_app.py", """
        from covet import Covet

        def create_app():
            app = Covet()
            app.add_route("/made", lambda: "made")
            return app
    """)
    app = load_app("cli_factory_app.py:create_app")
    assert [r.path for r in app.routes] == ["/made"]


def test_file_in_another_folder_can_import_its_neighbours(isolated):
    pkg = isolated / "proj"
    pkg.mkdir()
    write(pkg / "cli_helper_mod.py", "GREETING = 'hello'\n")
    write(pkg / "cli_main_app.py", """
        from covet import Covet
        from cli_helper_mod import GREETING

        app = Covet()
        app.add_route("/" + GREETING, lambda: GREETING)
    """)
    assert [r.path for r in load_app("proj/cli_main_app.py").routes] == ["/hello"]


@pytest.mark.parametrize("name", ["app.py", "main.py"])
def test_default_app_file(isolated, name):
    write(isolated / name, APP)
    assert [r.path for r in load_app(None).routes] == ["/", "/items/{item_id:int}"]


def test_no_app_and_no_default_file(isolated, capsys):
    assert main(["routes"]) == 1
    assert capsys.readouterr().err == "covet: no APP given and no app.py or main.py in %s\n" % isolated


def test_missing_file(isolated, capsys):
    assert main(["run", "nope.py"]) == 1
    assert capsys.readouterr().err == "covet: no such file: nope.py\n"


def test_missing_file_with_attribute(isolated, capsys):
    assert main(["routes", "nope.py:api"]) == 1
    assert capsys.readouterr().err == "covet: no such file: nope.py\n"


def test_missing_attribute(isolated, capsys):
    write(isolated / "cli_attr_app.py", APP)
    assert main(["routes", "cli_attr_app.py:nope"]) == 1
    assert capsys.readouterr().err == "covet: cli_attr_app.py has no attribute 'nope'\n"


def test_missing_module(isolated, capsys):
    assert main(["routes", "cli_no_such_module:app"]) == 1
    assert capsys.readouterr().err == (
        "covet: no module named 'cli_no_such_module' (run from the project folder, or give a .py path)\n")


def test_import_error_shows_the_traceback(isolated, capsys):
    write(isolated / "cli_broken_app.py", """
        from covet import Covet

        app = Covet()
        ratio = 1 / 0
    """)
    assert main(["routes", "cli_broken_app.py"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("covet: error while importing cli_broken_app.py:\nTraceback (most recent call last):\n")
    assert 'cli_broken_app.py", line 5, in <module>' in err
    assert err.endswith("ZeroDivisionError: division by zero\n")
    assert "importlib" not in err and COVET_CLI not in err  # only the user's frames


def test_module_whose_own_import_fails_shows_the_traceback(isolated, capsys):
    write(isolated / "cli_badimport_app.py", "import cli_missing_dependency\n")
    assert main(["routes", "cli_badimport_app:app"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("covet: error while importing cli_badimport_app:\nTraceback (most recent call last):\n")
    assert err.endswith("ModuleNotFoundError: No module named 'cli_missing_dependency'\n")


def test_syntax_error_shows_the_traceback(isolated, capsys):
    write(isolated / "cli_syntax_app.py", "def broken(:\n")
    assert main(["routes", "cli_syntax_app.py"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("covet: error while importing cli_syntax_app.py:\n")
    assert 'cli_syntax_app.py", line 1' in err
    assert "SyntaxError: " in err
    assert "importlib" not in err and COVET_CLI not in err


def test_attribute_that_is_not_an_app(isolated, capsys):
    write(isolated / "cli_notapp.py", "app = 42\n")
    assert main(["routes", "cli_notapp.py"]) == 1
    assert capsys.readouterr().err == "covet: cli_notapp.py:app is not a Covet app\n"


def test_factory_that_fails_is_reported(isolated, capsys):
    write(isolated / "cli_badfactory.py", """
        def create_app():
            raise RuntimeError("DATABASE_URL is not set")
    """)
    assert main(["routes", "cli_badfactory.py:create_app"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("covet: error while calling the app factory cli_badfactory.py:create_app:\nTraceback")
    assert err.endswith("RuntimeError: DATABASE_URL is not set\n")


def test_ssl_options_go_together(isolated, capsys):
    write(isolated / "cli_ssl_app.py", APP)
    assert main(["run", "cli_ssl_app.py", "--ssl-certfile", "cert.pem"]) == 2
    assert capsys.readouterr().err == "covet: --ssl-certfile and --ssl-keyfile go together\n"


def test_run_passes_every_timeout_and_the_body_rate_to_the_server(isolated, monkeypatch):
    import covet.server.run as server

    seen = {}
    monkeypatch.setattr(server, "run", lambda app, **options: seen.update(options))
    write(isolated / "cli_opts_app.py", APP)
    assert main(["run", "cli_opts_app.py", "--timeout-body", "5", "--min-body-rate", "0",
                 "--timeout-head", "3", "--timeout-keep-alive", "2"]) == 0
    assert (seen["body_timeout"], seen["min_body_rate"], seen["head_timeout"], seen["keepalive_timeout"]) == (
        5.0, 0, 3.0, 2.0)
    assert main(["run", "cli_opts_app.py"]) == 0
    assert seen["min_body_rate"] == 500


def test_entry_point_and_command_modules():
    import configparser

    import covet.cli
    from covet.cli import check, db, generate, new, openapi, performance_test, program, routes, run

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(REPO, "setup.cfg"))
    assert cfg["options.entry_points"]["console_scripts"].strip() == "covet = covet.cli:main"
    assert covet.cli.main is program.main
    assert program.COMMANDS == (run, routes, openapi, db, check, new, generate, performance_test)
    # Only the commands that exist: no new ones appear in the parser.
    # (argparse wraps the line once it is this long: compare the words.)
    assert program.build_parser().format_usage().split() == (
        "usage: covet [-h] [--version] {run,routes,openapi,db,check,security-scan,new,generate,performance-test} "
        "...".split())


@pytest.mark.parametrize("flags, expected", [([], True), (["--access-log"], True), (["--no-access-log"], False),
                                             (["--no-access-log", "--access-log"], True)])
def test_access_log_is_on_by_default_under_run(isolated, monkeypatch, flags, expected):
    import covet.server.run as server

    seen = {}
    monkeypatch.setattr(server, "run", lambda app, **options: seen.update(options))
    write(isolated / "cli_log_app.py", APP)
    assert main(["run", "cli_log_app.py"] + flags) == 0
    assert seen["access_log"] is expected


def test_load_app_error_type():
    with pytest.raises(AppLoadError, match="no such file: /nonexistent/app.py"):
        load_app("/nonexistent/app.py")


# -- as a subprocess: serving, signals, port in use ----------------------------------------

@pytest.mark.slow
def test_run_example_serves_and_stops_on_sigterm():
    with CovetProcess(["run", "examples/hello.py", "--port", "0"], cwd=REPO) as p:
        m = p.wait_for(SERVING, stream="out")
        assert m.group(1) == "http" and int(m.group(3)) == p.proc.pid
        status, body = http_get("http://127.0.0.1:%s/" % m.group(2))
        assert status == 200
        assert json.loads(body)["message"] == "Hello from covet"
        assert p.stop(signal.SIGTERM) == 0
        out = p.output()
    assert out["out"][-2:] == ["covet: shutting down (0 connections open)", "covet: stopped"]
    assert not any("Traceback" in line for line in out["err"]), out["err"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_prints_the_shutdown_line_with_open_connections_then_stopped(tmp_path, sig):
    write(tmp_path / "served.py", APP)
    # A long keep-alive timeout: the idle connection below is still open when the signal comes.
    with CovetProcess(["run", "served.py", "--port", "0", "--timeout-keep-alive", "60"], cwd=str(tmp_path)) as p:
        port = int(p.wait_for(SERVING, stream="out").group(2))
        with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT) as idle:
            idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body, _ = read_response(idle)
            assert (status, body) == ("HTTP/1.1 200 OK", b"hi from cli")
            p.proc.send_signal(sig)
            p.wait_for(r"^covet: shutting down \(1 connection open\)$", stream="out")
            assert_closed(idle)  # idle keep-alive connections close at once
            p.wait_for(r"^shutdown hook ran$", stream="out")
            p.wait_for(r"^covet: stopped$", stream="out")
            assert p.wait() == 0
        out = p.output()
    assert out["out"][1:] == ["covet: shutting down (1 connection open)", "shutdown hook ran", "covet: stopped"]
    assert not any("Traceback" in line for line in out["err"]), out["err"]


@pytest.mark.slow
def test_run_file_runs_shutdown_hooks_on_sigint_and_logs_access(tmp_path):
    write(tmp_path / "served.py", APP)
    with CovetProcess(["run", "served.py", "--port", "0", "--access-log"], cwd=str(tmp_path)) as p:
        port = p.wait_for(SERVING, stream="out").group(2)
        assert http_get("http://127.0.0.1:%s/" % port) == (200, b"hi from cli")
        p.wait_for(r'^INFO covet\.access: 127\.0\.0\.1:\d+ - "GET / HTTP/1\.1" 200 11 \d+\.\dms$', stream="err")
        assert p.stop(signal.SIGINT) == 0
        out = p.output()
    assert out["out"][-3:] == ["covet: shutting down (0 connections open)", "shutdown hook ran", "covet: stopped"]


ACCESS_LINE = r'^INFO covet\.access: 127\.0\.0\.1:\d+ - "GET /\?x=1 HTTP/1\.1" 200 11 \d+\.\dms$'


@pytest.mark.slow
def test_run_logs_each_request_by_default(tmp_path):
    write(tmp_path / "served.py", APP)
    with CovetProcess(["run", "served.py", "--port", "0"], cwd=str(tmp_path)) as p:
        port = p.wait_for(SERVING, stream="out").group(2)
        assert http_get("http://127.0.0.1:%s/?x=1" % port) == (200, b"hi from cli")
        p.wait_for(ACCESS_LINE, stream="err")
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=CLIENT_TIMEOUT)
        try:
            conn.request("HEAD", "/")
            assert conn.getresponse().getheader("Content-Length") == "11"
        finally:
            conn.close()
        # The size logged is what was sent: nothing, for a HEAD.
        p.wait_for(r'^INFO covet\.access: 127\.0\.0\.1:\d+ - "HEAD / HTTP/1\.1" 200 0 \d+\.\dms$', stream="err")
        assert p.stop(signal.SIGTERM) == 0


@pytest.mark.slow
def test_no_access_log_turns_it_off(tmp_path):
    write(tmp_path / "served.py", APP)
    with CovetProcess(["run", "served.py", "--port", "0", "--no-access-log"], cwd=str(tmp_path)) as p:
        port = p.wait_for(SERVING, stream="out").group(2)
        assert http_get("http://127.0.0.1:%s/?x=1" % port) == (200, b"hi from cli")
        assert p.stop(signal.SIGTERM) == 0
        out = p.output()
    assert out["out"][-2:] == ["shutdown hook ran", "covet: stopped"]  # it got as far as a graceful stop
    assert not any("covet.access" in line for line in out["err"]), out["err"]


@pytest.mark.slow
def test_port_in_use(tmp_path):
    write(tmp_path / "served.py", APP)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with CovetProcess(["run", "served.py", "--port", str(port)], cwd=str(tmp_path)) as p:
            assert p.wait() == 1
            out = p.output()
    assert out["err"][-1] == "covet: 127.0.0.1:%d is already in use (another server running? try --port)" % port
    assert not any("Traceback" in line for line in out["err"])


@pytest.mark.slow
def test_run_with_a_missing_app_file_exits_1(tmp_path):
    with CovetProcess(["run", "missing.py", "--port", "0"], cwd=str(tmp_path)) as p:
        assert p.wait() == 1
        assert p.output()["err"] == ["covet: no such file: missing.py"]


@pytest.mark.slow
def test_uvloop_requested_but_missing(tmp_path):
    try:
        import uvloop  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("uvloop is installed here")
    write(tmp_path / "served.py", APP)
    with CovetProcess(["run", "served.py", "--port", "0", "--loop", "uvloop"], cwd=str(tmp_path)) as p:
        assert p.wait() == 1
        assert p.output()["err"][-1] == "covet: --loop uvloop needs uvloop installed (pip install uvloop)"


def test_app_run_refuses_a_loop_it_cannot_serve_on_before_binding(monkeypatch):
    # A misspelt loop used to be served on asyncio without a word; a missing uvloop was a bare
    # ModuleNotFoundError from inside serve(), after the socket was bound.
    import importlib.util

    from covet import Covet
    from covet.server import server as server_module

    def refuse(*args, **kwargs):
        raise AssertionError("serve() was reached")
    monkeypatch.setattr("covet.server.run.serve", refuse)
    with pytest.raises(ValueError, match=r"^the loop is one of asyncio, uvloop, not 'uvlop'$"):
        Covet().run(port=0, loop="uvlop")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a))
    with pytest.raises(RuntimeError, match=r"^--loop uvloop needs uvloop installed \(pip install uvloop\)$"):
        Covet().run(port=0, loop="uvloop")
    with pytest.raises(RuntimeError, match="needs uvloop installed"):
        server_module.serve(Covet(), server_module.ServerConfig(port=0), loop_name="uvloop")


def test_serving_line_pattern_matches_the_server():
    # The pattern the tests wait for is the one serve() prints (keeps the two in step).
    from covet.server.server import announce as _announce

    class Fake:
        bound = ("127.0.0.1", 8123)

        class config:
            ssl = None

    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _announce(Fake)
    assert re.match(SERVING, buf.getvalue().rstrip("\n"))


def test_missing_tls_files_are_reported(isolated, capsys):
    write(isolated / "cli_tls_app.py", APP)
    assert main(["run", "cli_tls_app.py", "--ssl-certfile", "cert.pem", "--ssl-keyfile", "key.pem"]) == 1
    assert capsys.readouterr().err == "covet: no such file: cert.pem\n"


def test_malformed_tls_files_are_reported(isolated, capsys):
    write(isolated / "cli_tls_app.py", APP)
    (isolated / "junk.pem").write_text("not a certificate\n")
    assert main(["run", "cli_tls_app.py", "--ssl-certfile", "junk.pem", "--ssl-keyfile", "junk.pem"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("covet: junk.pem and junk.pem are not a PEM certificate and its private key (")


@pytest.mark.parametrize("flags, message", [
    (["--max-connections", "0"], "max_connections"),
    (["--max-connections-per-client", "0"], "max_connections_per_client"),
    (["--min-body-rate", "-1"], "min_body_rate"),
])
def test_bad_server_settings_are_a_usage_error_before_the_app_loads(isolated, capsys, flags, message):
    # Not a traceback from deep in the server: one line naming the setting, exit status 2.
    write(isolated / "cli_bad_app.py", "raise SystemExit('the app must not be imported')\n")
    assert main(["run", "cli_bad_app.py"] + flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("covet: ") and message in err and err.count("\n") == 1


def test_max_connections_per_client_reaches_the_server(isolated, monkeypatch):
    import covet.server.run as server

    seen = {}
    monkeypatch.setattr(server, "run", lambda app, **options: seen.update(options))
    write(isolated / "cli_pc_app.py", APP)
    assert main(["run", "cli_pc_app.py", "--max-connections-per-client", "4"]) == 0
    assert seen["max_connections_per_client"] == 4
    assert main(["run", "cli_pc_app.py"]) == 0
    assert seen["max_connections_per_client"] is None


def test_run_takes_host_port_and_workers_from_the_apps_config_unless_the_command_line_says(isolated, monkeypatch,
                                                                                           capsys):
    import covet.server.run as server

    seen = {}
    monkeypatch.setattr(server, "run", lambda app, **options: seen.update(options))
    write(isolated / ".env", "HOST=0.0.0.0\nPORT=9123\nWORKERS=3\n")
    config_app = """
        from covet import Covet
        from covet.config import Config

        class Settings(Config):
            HOST: str = "127.0.0.1"
            PORT: int = 8000
            WORKERS: int = 1

        app = Covet(config=Settings())
    """
    write(isolated / "cli_config_app.py", config_app)
    assert main(["run", "cli_config_app.py"]) == 0
    assert (seen["host"], seen["port"], seen["workers"]) == ("0.0.0.0", 9123, 3)
    assert main(["run", "cli_config_app.py", "--port", "9200", "--workers", "1", "--host", "::1"]) == 0
    assert (seen["host"], seen["port"], seen["workers"]) == ("::1", 9200, 1)
    write(isolated / "cli_plain_app.py", APP)  # no config: the built-in defaults
    assert main(["run", "cli_plain_app.py"]) == 0
    assert (seen["host"], seen["port"], seen["workers"]) == ("127.0.0.1", 8000, 1)
    write(isolated / ".env", "PORT=70000\n")
    write(isolated / "cli_config_bad_port.py", config_app)  # a fresh module: it reads .env anew
    assert main(["run", "cli_config_bad_port.py"]) == 2
    assert "70000" in capsys.readouterr().err


def test_resolve_server_refuses_config_values_of_the_wrong_type():
    import argparse

    from covet.cli.run import resolve_server

    class App:
        class config:
            PORT = "8080"
    args = argparse.Namespace(host=None, port=None, workers=None)
    with pytest.raises(TypeError, match="the config's PORT must be int, got '8080'"):
        resolve_server(args, App())
    App.config.PORT, App.config.WORKERS = 8080, 0
    with pytest.raises(ValueError, match="workers must be at least 1"):
        resolve_server(args, App())
