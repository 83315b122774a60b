"""Fixtures of the browser suite: covet servers in subprocesses, one headless Chromium, guarded pages.

Run with ``make test-browser`` (it builds ``.venv-browser/`` from tests/browser/requirements.txt
and finds a Chromium), or ``.venv-browser/bin/python -m pytest tests/browser``. Plain ``make test``
never collects this folder (setup.cfg's ``norecursedirs``) and never imports Playwright.

The contract (other test files of this folder rely on these names and behaviours):

``serve(target, *, env=None, port=0, args=(), cwd=None) -> Served``  (function-scoped factory)
    Starts ``<python> -m covet run TARGET --host 127.0.0.1 --port PORT *ARGS`` with the
    repository's root on ``PYTHONPATH``, ``os.environ`` updated with ``env``, and as its working
    folder ``cwd`` or a fresh temporary one (examples/todo_api.py writes todo.db there). A relative
    ``.py`` TARGET (``examples/hello.py``, ``examples/blog/app.py:app``) is taken from the
    repository's root. It waits up to ``SERVE_TIMEOUT`` seconds for ``covet: serving on
    http://127.0.0.1:NNNN``; on a timeout or an early exit the test fails with what the server
    printed. ``Served`` has ``.url`` (``"http://127.0.0.1:NNNN"``), ``.port``, ``.process`` and
    ``.output()`` (stdout and stderr so far). At teardown each server gets SIGTERM (then SIGKILL
    after ``STOP_TIMEOUT`` seconds), and a server that printed a ``Traceback`` fails the test.

``free_port() -> int``  (a plain function: ``from conftest import free_port``)
    A TCP port on 127.0.0.1 that nothing listened on a moment ago, for a test that must know
    the port before the server starts (an OAuth2 redirect URI given through ``env``).

``browser``  (session-scoped)
    The Playwright ``Browser``: headless Chromium, ``/usr/bin/chromium`` (or ``$COVET_CHROMIUM``),
    else Playwright's own build when ``playwright install chromium`` has put one in place.

``page``  (function-scoped)
    A ``Page`` in a fresh ``BrowserContext`` (1280x800, every action and ``expect`` waiting at
    most ``DEFAULT_TIMEOUT_MS``), watched by ``guard``.

``new_page()`` (also named ``pages``)  (function-scoped factory)
    Another guarded ``Page``, each in a context of its own (own cookies and storage): two users.

``guard``  (function-scoped)
    What the pages of the test did wrong: every console message of type ``error``, every
    uncaught exception (``pageerror``), every request or WebSocket to a host other than
    127.0.0.1 / localhost / [::1]. When the test ends (after its pages' contexts are closed, so
    nothing in flight is missed) the test FAILS listing them.
    Not recorded: the 404 of ``/favicon.ico``, which Chromium asks every site for on its own.
    ``guard.allow_console(pattern)``: console errors matching the regex (``re.search``) are
    expected, not recorded. Chromium logs "Failed to load resource: the server responded with a
    status of 401 (Unauthorized)" as a console error for every 4xx/5xx answer to a page's own
    request, so a test that expects one says ``guard.allow_console(r"status of 401")``.
    ``guard.records``: the ``Problem(kind, text, url)`` recorded so far (kind is ``console``,
    ``pageerror``, ``request`` or ``websocket``); ``guard.clear()`` forgets them, for a test
    that provokes a problem on purpose and asserts on it.

Requests to other hosts are blocked by a proxy that refuses every connection (``proxy`` of the
launch: Chromium sends everything but loopback there), and recorded from the context's
``request`` event. Not by ``context.route``: Playwright turns the HTTP cache off in a context
with any route, and the static-files test needs the cache (an ``If-None-Match`` revalidation);
routing also costs a round trip through the driver for every request.
"""
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence
from urllib.parse import urlsplit

import pytest

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError as exc:  # covet's own .venv has no Playwright, by design
    raise ImportError("tests/browser needs the playwright package: run `make test-browser`, which builds "
                      ".venv-browser/ (tests/browser/requirements.txt)") from exc

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Seconds a server may take to print its "serving on" line (imports, a SQLite file, a slow CI).
SERVE_TIMEOUT = 20.0
#: Seconds a server may take to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
#: Milliseconds every Playwright action and expect() waits at most.
DEFAULT_TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 800}
#: Flags this machine needs: no sandbox as root, no GPU, and none of Chromium's own calls home
#: (without the background-networking ones it tries to reach Google and is refused).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SYSTEM_CHROMIUM = "/usr/bin/chromium"
LOCAL_HOSTS = frozenset(("127.0.0.1", "localhost", "::1"))
# Chromium asks every site for /favicon.ico on its own and logs the 404 as a console error.
_FAVICON_MISSING = re.compile(r"^Failed to load resource: the server responded with a status of 404\b")
_SERVING = re.compile(r"covet: serving on (http://127\.0\.0\.1:(\d+))")


def free_port() -> int:
    """A port on 127.0.0.1 free a moment ago (the system's pick for a socket bound to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- servers -------------------------------------------------------------------------------------

class Served:
    """A covet server started by ``serve``: its ``url``, ``port``, ``process`` and ``output()``."""

    def __init__(self, process: "subprocess.Popen[str]", command: List[str]) -> None:
        self.process = process
        self.command = command
        self.url = ""
        self.port = 0
        self._lines: List[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # One thread per server drains its output, so a chatty server never blocks on a full pipe.
        for line in self.process.stdout:
            with self._lock:
                self._lines.append(line)
            if not self._ready.is_set():
                found = _SERVING.search(line)
                if found:
                    self.url, self.port = found.group(1), int(found.group(2))
                    self._ready.set()
        self._ready.set()  # the output ended: the process is gone, wait_ready() says so

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr, interleaved)."""
        with self._lock:
            return "".join(self._lines)

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout):
            pytest.fail("%s did not print 'covet: serving on' within %.0f s; it printed:\n%s"
                        % (" ".join(self.command), timeout, self.output()), pytrace=False)
        if not self.url:
            self._reader.join(5)
            pytest.fail("%s exited (status %s) before serving; it printed:\n%s"
                        % (" ".join(self.command), self.process.wait(5), self.output()), pytrace=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        self.process.stdout.close()

    def __repr__(self) -> str:
        return "<Served %s pid=%d>" % (self.url or "(starting)", self.process.pid)


def _resolve_target(target: str) -> str:
    # "examples/blog/app.py" or "examples/blog/app.py:app" names a file of the repository, while the
    # server's working folder is a temporary one.
    path, colon, attr = target.partition(":") if target.count(":") == 1 else (target, "", "")
    if path.endswith(".py") and not os.path.isabs(path) and (REPO_ROOT / path).exists():
        return str(REPO_ROOT / path) + colon + attr
    return target


@pytest.fixture
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Served]]:
    """``serve(target, *, env=None, port=0, args=(), cwd=None) -> Served`` (see the module docstring)."""
    started: List[Served] = []

    def start(target: str, *, env: Optional[Dict[str, str]] = None, port: int = 0, args: Sequence[str] = (),
              cwd: Optional[str] = None) -> Served:
        command = [sys.executable, "-m", "covet", "run", _resolve_target(target), "--host", "127.0.0.1",
                   "--port", str(port), *args]
        environ = dict(os.environ)
        environ.update(env or {})
        environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + ([environ["PYTHONPATH"]]
                                                                    if environ.get("PYTHONPATH") else []))
        environ["PYTHONUNBUFFERED"] = "1"
        workdir = cwd if cwd is not None else str(tmp_path_factory.mktemp("server"))
        process = subprocess.Popen(command, cwd=workdir, env=environ, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   encoding="utf-8", errors="replace")
        served = Served(process, command)
        started.append(served)
        served.wait_ready(SERVE_TIMEOUT)
        return served

    yield start
    failures = []
    for served in reversed(started):
        served.stop()
        if "Traceback" in served.output():
            failures.append("%r printed a traceback:\n%s" % (served, served.output()))
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


# -- the browser and its pages -------------------------------------------------------------------

def chromium_executable() -> Optional[str]:
    """The Chromium to launch: $COVET_CHROMIUM, /usr/bin/chromium, else None (Playwright's own)."""
    chosen = os.environ.get("COVET_CHROMIUM") or SYSTEM_CHROMIUM
    return chosen if os.access(chosen, os.X_OK) else None


@pytest.fixture(scope="session")
def _blackhole_port() -> Iterator[int]:
    # A port bound and never listened on: every connection to it is refused at once, so the proxy
    # below refuses whatever Chromium would have sent off this machine, and nobody can take it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="session")
def browser(_blackhole_port: int) -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS,
            proxy={"server": "http://127.0.0.1:%d" % _blackhole_port, "bypass": "127.0.0.1,localhost,[::1]"})
        yield launched
        launched.close()


class Problem(NamedTuple):
    """One thing a page did wrong: kind is console, pageerror, request or websocket."""

    kind: str
    text: str
    url: str

    def __str__(self) -> str:
        return "%s: %s%s" % (self.kind, self.text, " (at %s)" % self.url if self.url else "")


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # data:, blob:, about: never leave the browser
    return parts.hostname in LOCAL_HOSTS


class Guard:
    """Records what the pages of one test did wrong; the test fails on it at teardown."""

    def __init__(self) -> None:
        self.records: List[Problem] = []
        self._allowed: List["re.Pattern[str]"] = []

    def allow_console(self, pattern: str) -> None:
        """Console errors whose text matches ``pattern`` (``re.search``) are expected from now on."""
        self._allowed.append(re.compile(pattern))

    def clear(self) -> None:
        """Forget what was recorded so far (after a test asserted on it)."""
        del self.records[:]

    def watch(self, context: BrowserContext) -> None:
        context.on("request", self._on_request)
        context.on("page", self._watch_page)

    def _watch_page(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.records.append(
            Problem("pageerror", "%s: %s" % (error.name or "Error", error.message), page.url)))
        page.on("websocket", self._on_websocket)

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        if any(p.search(message.text) for p in self._allowed):
            return
        url = (message.location or {}).get("url", "")
        if urlsplit(url).path == "/favicon.ico" and _FAVICON_MISSING.search(message.text):
            return  # Chromium's own guess at an icon, not a request of the page
        self.records.append(Problem("console", message.text, url))

    def _on_request(self, request) -> None:
        if not _is_local(request.url):
            self.records.append(Problem("request", "%s to another host" % request.method, request.url))

    def _on_websocket(self, websocket) -> None:
        if not _is_local(websocket.url):
            self.records.append(Problem("websocket", "a WebSocket to another host", websocket.url))


@pytest.fixture
def guard(serve: Callable[..., Served]) -> Guard:
    """The test's Guard (see the module docstring). It asks for ``serve`` only to be torn down
    before it: pages close while their servers still run, so a closing EventSource or WebSocket
    is not reported as an error."""
    return Guard()


@pytest.fixture
def new_page(browser: Browser, guard: Guard) -> Iterator[Callable[[], Page]]:
    """``new_page() -> Page``: a guarded page in a context of its own."""
    contexts: List[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        guard.watch(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()  # delivers every event still in flight to the guard
    if guard.records:
        pytest.fail("the browser reported %d problem(s):\n%s"
                    % (len(guard.records), "\n".join("  " + str(p) for p in guard.records)), pytrace=False)


@pytest.fixture
def pages(new_page: Callable[[], Page]) -> Callable[[], Page]:
    """The same factory as ``new_page``."""
    return new_page


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """A guarded page in a fresh context."""
    return new_page()
