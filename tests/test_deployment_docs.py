"""docs/deployment.md, run as written: the nginx server block in front of a real covet server
(the real nginx, proxying HTTP and a WebSocket), and the systemd unit checked by
``systemd-analyze verify``. Both need their binaries: ``make test`` installs nginx when it can.
The tests skip, saying why, where a binary cannot be found. Each tool has its own test here. The
container image needs a Docker daemon, which no test starts; its command line is checked instead.
"""
import http.client
import json
import os
import pathlib
import re
import shlex
import shutil
import socket
import subprocess
import sys

import pytest

from covet import Covet, Request, WebSocket
from covet.cli.program import build_parser
from server_helpers import RunningServer
from ws_client import WSClient

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "deployment.md"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def fenced(language):
    """The one ``language`` code block of docs/deployment.md."""
    [block] = re.findall(r"```%s\n(.*?)```" % language, DOC.read_text(), re.S)
    return block


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app():
    app = Covet()

    @app.get("/whoami")
    async def whoami(request: Request):
        return {"scheme": request.scheme, "client": request.client[0], "host": request.headers.get("host"),
                "forwarded_for": request.headers.get("x-forwarded-for")}

    @app.post("/upload")
    async def upload(request: Request):
        return {"size": len(await request.body())}

    @app.websocket("/ws/echo")
    async def echo(ws: WebSocket):
        await ws.accept()
        text = await ws.receive_text()
        await ws.send_text("echo: " + text)
        await ws.close()

    return app


@pytest.fixture
def nginx_in_front(tmp_path):
    if NGINX is None:
        pytest.skip("nginx not found (install the Debian package nginx-light; `make test` does when it can)")
    covet_server = RunningServer(app(), keepalive_timeout=30.0)
    port = free_port()
    block = fenced("nginx")
    # The documented block as it is, but for what a test cannot have: port 443 with a certificate
    # and HTTP/2 become plain HTTP on a free port, and the upstream is the test's covet server.
    assert "listen 443 ssl http2;" in block and "server 127.0.0.1:8000;" in block
    block = block.replace("listen 443 ssl http2;", "listen 127.0.0.1:%d;" % port)
    block = block.replace("server 127.0.0.1:8000;", "server 127.0.0.1:%d;" % covet_server.port)
    temp = tmp_path / "temp"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text("""
daemon off;
master_process off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(t)s/body; proxy_temp_path %(t)s/proxy; fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi; scgi_temp_path %(t)s/scgi;
%(block)s
}
""" % {"d": tmp_path, "t": temp, "block": block})
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_listening(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()
        covet_server.stop()


def wait_listening(port, proc):
    # nginx prints nothing when it is ready: the port accepting is the event. Each attempt blocks
    # in connect() until nginx has bound it, refused quickly before that.
    for _ in range(500):
        if proc.poll() is not None:
            raise AssertionError("nginx exited: %s" % proc.stderr.read().decode())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            try:
                proc.wait(0.01)
            except subprocess.TimeoutExpired:
                pass
    raise AssertionError("nginx did not listen on %d" % port)


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def test_covet_behind_the_documented_nginx_block_sees_the_client_host_and_scheme(nginx_in_front):
    status, body = get(nginx_in_front, "/whoami", {"Host": "notes.example.com"})
    assert status == 200
    # nginx on the same host is trusted by covet's default --forwarded-allow-ips (127.0.0.1): the
    # client address and scheme come from its X-Forwarded-* headers, the Host is passed on.
    assert body == {"scheme": "http", "client": "127.0.0.1", "host": "notes.example.com",
                    "forwarded_for": "127.0.0.1"}


def test_the_documented_body_limit_is_nginxs_and_smaller_bodies_reach_covet(nginx_in_front):
    conn = http.client.HTTPConnection("127.0.0.1", nginx_in_front, timeout=10)
    try:
        conn.request("POST", "/upload", body=b"x" * (1 << 20))
        r = conn.getresponse()
        assert (r.status, json.loads(r.read())) == (200, {"size": 1 << 20})
    finally:
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", nginx_in_front, timeout=10)
    try:
        conn.request("POST", "/upload", body=b"x" * (11 << 20))  # client_max_body_size 10m
        r = conn.getresponse()
        r.read()
        assert r.status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # nginx may close before the whole body is sent: refused either way
    finally:
        conn.close()


def test_a_websocket_goes_through_the_documented_ws_location(nginx_in_front):
    ws = WSClient(nginx_in_front, "/ws/echo")
    try:
        ws.send_text("hello")
        assert ws.receive() == "echo: hello"
        ws.wait_closed()
    finally:
        ws.shutdown()


def test_the_documented_systemd_unit_verifies(tmp_path):
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze not found (Debian package systemd)")
    unit = fenced("ini")
    # The unit's own paths become the test's: systemd-analyze checks that they exist.
    srv = tmp_path / "srv" / "notes"
    (srv / "data").mkdir(parents=True)
    (srv / ".venv" / "bin").mkdir(parents=True)
    os.symlink(sys.executable, srv / ".venv" / "bin" / "python")
    backups = tmp_path / "backups"
    backups.mkdir()
    env = tmp_path / "env"
    env.write_text("SECRET_KEY=x\n")
    import pwd
    user = pwd.getpwuid(os.getuid()).pw_name
    for old, new in (("/srv/notes", str(srv)), ("/var/backups/notes", str(backups)), ("/etc/notes/env", str(env)),
                     ("User=notes", "User=%s" % user)):
        assert old in unit
        unit = unit.replace(old, new)
    path = tmp_path / "notes.service"
    path.write_text(unit)
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr + result.stdout
    # Its command line is one that `covet run` accepts.
    [exec_start] = re.findall(r"^ExecStart=(.*)$", unit, re.M)
    argv = shlex.split(exec_start)
    assert argv[1:3] == ["-m", "covet"]
    args = build_parser().parse_args(argv[3:])
    assert (args.app, args.host, args.port, args.workers) == ("app.py", "127.0.0.1", 8000, 4)


def test_the_documented_container_command_is_one_covet_run_accepts():
    dockerfile = fenced("dockerfile")
    assert "FROM python:3-slim" in dockerfile and "pip install" not in dockerfile  # nothing installed
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    argv = json.loads(cmd)
    assert argv[:3] == ["python", "-m", "covet"]
    args = build_parser().parse_args(argv[3:])
    assert (args.app, args.host, args.port, args.workers) == ("app.py", "0.0.0.0", 8000, 2)
