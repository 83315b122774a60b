"""Load benchmark of issue 3: covet's HTTP server against its peers, side by side in one run.

    benchmarks/.venv/bin/python benchmarks/http/run.py              # the full run (about 10 minutes)
    benchmarks/.venv/bin/python benchmarks/http/run.py --quick      # 1 run of 3 s per endpoint
    benchmarks/.venv/bin/python benchmarks/http/run.py --only covet,starlette-httptools
    benchmarks/.venv/bin/python benchmarks/http/run.py --postgres   # issue 16: db, queries, fortunes on PostgreSQL

Each server runs with this interpreter (covet from the repository, peers from
wherever the interpreter finds them; a missing peer prints "peer not
installed"), is started once to cache its bytecode and then again to be
measured (see _harness.BytecodeCache), pinned to core 1 with ``taskset``
while ``wrk -t1 -c64`` runs on core 0. All servers run at once and the runs are interleaved (run 1 of every
server, then run 2, ...), so a burst of load from elsewhere on the machine
hits every server alike. After a 2 s warm-up per server and endpoint, each
endpoint gets ``--runs`` runs of ``--duration`` seconds and the median is
reported. A ratio covet/peer is printed only when neither side had a socket
error or a non-2xx/3xx response (wrk counts status >= 400) in any run.

The TechEmpower-style database endpoints (issue 15: db, queries, fortunes) run on their own
apps, covet-db (the targets), covet-db-sync (a reference) and starlette-db, on a sqlite file
made at start (benchmarks/README.md, "Database benchmarks"). The same three on PostgreSQL
(issue 16: pg-db, pg-queries, pg-fortunes) run covet-pg (the same covet app on DATABASE_URL)
against starlette-pg (asyncpg), on a throwaway server this run starts (tests/pg_fixture.py) and
stops, pinned with wrk to core 0; without the server binaries they are skipped, saying why.

Columns: req/s and p99 (wrk; p99 is "-" under pipelining, where wrk times
whole batches), errors (socket errors, non-2xx), covet/peer ratios, req/cpu-s
(requests per CPU-second the server process used, read from /proc: a busy
machine disturbs it far less than req/s), cpu% (the share of its core the
server got; well under 100 means it was starved or the client was the limit).
"""
import argparse
import http.client
import importlib.util
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

sys.path.insert(0, H.REPO)  # the repository's covet: _tfb.make_pg writes PostgreSQL with covet's client
sys.path.insert(0, os.path.join(H.REPO, "tests"))
from pg_fixture import PostgresServer, unavailable_reason as pg_unavailable_reason  # noqa: E402

MESSAGE = "Hello, World!"
USER_PATH = "/users/42?fields=name,email"
USER_EXPECTED = {"id": 42, "name": "user42", "email": "user42@example.com"}
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps"))
from _common import GZIP_PAYLOAD, STATIC_ENV, make_static, static_bytes  # noqa: E402
import _tfb  # noqa: E402

# The static endpoints: endpoint -> the file under /static/ (see _common.STATIC_FILES).
STATIC = {"static-small": "small.txt", "static-large": "large.bin"}
# Servers whose app mounts the static folder (issue 14 compares covet's with Starlette's StaticFiles).
STATIC_SERVERS = ("covet", "covet-before", "starlette-httptools", "starlette-h11")
# The TechEmpower-style database cases (issue 15) run on their own apps, so that the other apps
# neither load a database layer nor pay for it in their start-up RSS; covet's side of these
# endpoints is "covet-db".
DB_SERVERS = ("covet-db", "covet-db-sync", "starlette-db")
DB_ENDPOINTS = ("db", "queries", "fortunes")
# The same three on PostgreSQL (issue 16), on apps of their own too; endpoint -> the sqlite case
# whose answers it must give.
PG_SERVERS = ("covet-pg", "starlette-pg")
PG_ENDPOINTS = {"pg-db": "db", "pg-queries": "queries", "pg-fortunes": "fortunes"}
# Servers that serve only their own endpoints, and nothing else serves those.
OWN_ENDPOINTS = ((DB_SERVERS, DB_ENDPOINTS), (PG_SERVERS, tuple(PG_ENDPOINTS)))
# The PostgreSQL apps' database, set by main() once the server runs (handed to them as DATABASE_URL).
PG = {"url": None}


def covet_side(endpoint):
    """The server whose figures the peers' are divided into for ``endpoint``."""
    return "covet-db" if endpoint in DB_ENDPOINTS else "covet-pg" if endpoint in PG_ENDPOINTS else "covet"


def special(name):
    """Whether server ``name`` serves only the database cases (its own endpoints)."""
    return name in DB_SERVERS or name in PG_SERVERS


def _uvicorn(app, http, loop):
    return lambda port: [H.python(), "-m", "uvicorn", "--app-dir", H.APPS, app, "--host", "127.0.0.1",
                         "--port", str(port), "--http", http, "--loop", loop, "--log-level", "warning",
                         "--no-access-log"]


def _script(name):
    return lambda port: [H.python(), os.path.join(H.APPS, name), str(port)]


# name -> (command for a port, modules it needs, serves the realistic /users route, note)
SERVERS = [
    ("covet", lambda port: [H.python(), "-m", "covet", "run", os.path.join(H.APPS, "covet_app.py"),
                            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
     (), True, "covet, asyncio"),
    ("starlette-httptools", _uvicorn("starlette_app:app", "httptools", "uvloop"),
     ("uvicorn", "starlette", "httptools", "uvloop"), True, "uvicorn+Starlette, httptools+uvloop"),
    ("starlette-h11", _uvicorn("starlette_app:app", "h11", "asyncio"),
     ("uvicorn", "starlette", "h11"), True, "uvicorn+Starlette, h11+asyncio"),
    ("fastapi", _uvicorn("fastapi_app:app", "httptools", "uvloop"),
     ("uvicorn", "fastapi", "httptools", "uvloop"), True,
     "uvicorn+FastAPI, httptools+uvloop (its middleware is app-wide)"),
    ("aiohttp", _script("aiohttp_app.py"), ("aiohttp",), False, "aiohttp web server"),
    ("microdot", _script("microdot_app.py"), ("microdot",), False, "microdot, asyncio"),
    ("bottle-wsgiref", _script("bottle_app.py"), ("bottle",), False, "bottle on wsgiref (HTTP/1.0)"),
    ("raw-streams", _script("raw_streams.py"), (), False, "canned bytes on asyncio streams: the limit"),
    ("covet-db", lambda port: [H.python(), "-m", "covet", "run", os.path.join(H.APPS, "covet_db_app.py"),
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
     (), False, "covet, asyncio: DatabaseManager on sqlite, covet templates"),
    ("covet-db-sync", lambda port: [H.python(), "-m", "covet", "run", os.path.join(H.APPS, "covet_db_sync_app.py"),
                                    "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
     (), False, "covet, def handlers + db.sync: one thread-pool trip per request (reference)"),
    ("starlette-db", _uvicorn("starlette_db_app:app", "httptools", "uvloop"),
     ("uvicorn", "starlette", "httptools", "uvloop", "jinja2"), False,
     "uvicorn+Starlette, httptools+uvloop: sqlite3 in run_in_threadpool, Jinja2"),
    ("covet-pg", lambda port: [H.python(), "-m", "covet", "run", os.path.join(H.APPS, "covet_db_app.py"),
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
     (), False, "covet, asyncio: covet-db's app on DATABASE_URL=postgresql://, covet's own client"),
    ("starlette-pg", _uvicorn("starlette_pg_app:app", "httptools", "uvloop"),
     ("uvicorn", "starlette", "httptools", "uvloop", "jinja2", "asyncpg"), False,
     "uvicorn+Starlette, httptools+uvloop: asyncpg pool, Jinja2"),
]

# endpoint -> (title, path, wrk script, which servers: False all (but the database apps), True
# those with the realistic route, or a tuple of server names)
ENDPOINTS = [
    ("plaintext", "plaintext", "/plaintext", H.REPORT_LUA, False),
    ("json", "JSON", "/json", H.REPORT_LUA, False),
    ("pipelined", "pipelined plaintext (16 per write)", "/plaintext", H.PIPELINE_LUA, False),
    ("users", "realistic route GET " + USER_PATH, USER_PATH, H.REPORT_LUA, True),
    ("gzip", "gzip: 20 KiB JSON compressed by GZipMiddleware (level 6, Accept-Encoding: gzip)", "/gzip",
     H.GZIP_LUA, ("covet", "covet-before", "starlette-httptools", "starlette-h11")),
    ("static-small", "static file, 2 KiB (GET /static/small.txt)", "/static/small.txt", H.REPORT_LUA,
     STATIC_SERVERS),
    ("static-large", "static file, 1 MiB (GET /static/large.bin)", "/static/large.bin", H.REPORT_LUA,
     STATIC_SERVERS),
    ("db", "single query: one random world row as JSON (GET /db)", "/db", H.REPORT_LUA, DB_SERVERS),
    ("queries", "20 queries: 20 random world rows, one query each (GET /queries?queries=20)",
     "/queries?queries=20", H.REPORT_LUA, DB_SERVERS),
    ("fortunes", "fortunes: 12 rows + 1 added, sorted, HTML template (GET /fortunes)", "/fortunes",
     H.REPORT_LUA, DB_SERVERS),
    ("pg-db", "PostgreSQL single query: one random world row as JSON (GET /db)", "/db", H.REPORT_LUA, PG_SERVERS),
    ("pg-queries", "PostgreSQL 20 queries (GET /queries?queries=20)", "/queries?queries=20", H.REPORT_LUA,
     PG_SERVERS),
    ("pg-fortunes", "PostgreSQL fortunes (GET /fortunes)", "/fortunes", H.REPORT_LUA, PG_SERVERS),
]

# The targets (issue 12; issue 3's were 1.5x, 3x and 0.4x): (endpoint, peer, minimum covet/peer req/s ratio).
TARGETS = [
    ("plaintext", "starlette-httptools", 2.0), ("json", "starlette-httptools", 2.0),
    ("plaintext", "starlette-h11", 3.0), ("json", "starlette-h11", 3.0),
    ("plaintext", "microdot", 3.0), ("json", "microdot", 3.0),
    ("plaintext", "raw-streams", 0.5), ("json", "raw-streams", 0.5), ("pipelined", "raw-streams", 0.75),
    ("users", "starlette-httptools", 5.0), ("users", "fastapi", 3.0),
    ("pipelined", "starlette-httptools", 2.0),
    ("gzip", "starlette-httptools", 1.5),  # issue 14: against Starlette's GZipMiddleware
    ("static-small", "starlette-httptools", 1.5), ("static-large", "starlette-httptools", 1.5),  # and StaticFiles
    # issue 15: covet-db (DatabaseManager, covet templates) against uvicorn+Starlette with sqlite3 in its
    # thread pool and Jinja2, on the same sqlite file
    ("db", "starlette-db", 1.5), ("queries", "starlette-db", 1.5), ("fortunes", "starlette-db", 1.5),
    # issue 16: covet's own PostgreSQL client (pure Python, on the loop) against asyncpg (Cython) under
    # uvicorn+Starlette, pools of 10 on both; /queries is reported without a target
    ("pg-db", "starlette-pg", 1.0), ("pg-fortunes", "starlette-pg", 1.0),
]
P99_TARGETS = [("plaintext", "starlette-httptools"), ("json", "starlette-httptools"),
               ("users", "starlette-httptools"), ("users", "fastapi")]
STARTUP_RSS_MB = 25.0


def check_endpoint(port, endpoint, path):
    """Fetch ``path`` once; None when the answer is what every app must send, else the reason it is not."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if endpoint == "gzip" else {})
        resp = conn.getresponse()
        body = resp.read()
        ctype = resp.getheader("content-type", "")
        coding = resp.getheader("content-encoding")
    except (OSError, http.client.HTTPException) as exc:
        return "request failed: %r" % (exc,)
    finally:
        conn.close()
    if resp.status != 200:
        return "status %d" % resp.status
    if endpoint in STATIC:
        expected = static_bytes(STATIC[endpoint])
        if len(body) != len(expected):
            return "wrong size: %d bytes, expected %d" % (len(body), len(expected))
        if body != expected:
            return "wrong bytes (same size)"
        if resp.getheader("content-length") != str(len(expected)):
            return "wrong Content-Length %r" % (resp.getheader("content-length"),)
        return None
    if endpoint in DB_ENDPOINTS or endpoint in PG_ENDPOINTS:
        return check_db_answer(port, PG_ENDPOINTS.get(endpoint, endpoint), body, ctype)
    if endpoint in ("plaintext", "pipelined"):
        if body != MESSAGE.encode() or not ctype.startswith("text/plain"):
            return "wrong answer: %r %r" % (ctype, body[:80])
        return None
    if endpoint == "gzip":
        if coding != "gzip":
            return "not gzip-encoded (Content-Encoding %r)" % (coding,)
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            return "does not decompress: %r" % (exc,)
    try:
        data = json.loads(body)
    except ValueError:
        return "not JSON: %r" % body[:80]
    expected = {"message": MESSAGE} if endpoint == "json" else GZIP_PAYLOAD if endpoint == "gzip" else USER_EXPECTED
    if data != expected or not ctype.startswith("application/json"):
        return "wrong answer: %r %r" % (ctype, data)
    if endpoint == "users" and resp.getheader("x-served-by") != "bench":
        return "middleware did not run (no X-Served-By)"
    return None


def check_db_answer(port, endpoint, body, ctype):
    """None when a database endpoint's answer matches the data (or the fortunes page) exactly.

    The data is ``_tfb``'s, which is what the sqlite file holds and what ``_tfb.make_pg`` read back
    from PostgreSQL after writing it."""
    if endpoint == "fortunes":
        if not ctype.startswith("text/html") or "utf-8" not in ctype.lower():
            return "wrong content-type %r" % ctype
        expected = _tfb.fortunes_html()
        if body.decode("utf-8", "replace") != expected:
            return "wrong page: %r (expected %r)" % (body[:300], expected[:300])
        return None
    if not ctype.startswith("application/json"):
        return "wrong content-type %r" % ctype
    try:
        data = json.loads(body)
    except ValueError:
        return "not JSON: %r" % body[:80]
    numbers = _tfb.world_numbers()

    def bad_row(row):
        if not isinstance(row, dict) or sorted(row) != ["id", "randomNumber"]:
            return "not {id, randomNumber}: %r" % (row,)
        if not 1 <= row["id"] <= _tfb.WORLD_ROWS or row["randomNumber"] != numbers[row["id"] - 1]:
            return "not a world row: %r" % (row,)
        return None

    if endpoint == "db":
        return bad_row(data)
    if not isinstance(data, list) or len(data) != 20:
        return "not a list of 20 rows: %r" % (body[:80],)
    for row in data:
        if bad_row(row):
            return bad_row(row)
    # The specification's bounds: a bad or missing count means 1 row, more than 500 means 500.
    for query, count in (("?queries=abc", 1), ("?queries=0", 1), ("", 1), ("?queries=501", 500)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/queries" + query)
            rows = json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return "/queries%s failed: %r" % (query, exc)
        finally:
            conn.close()
        if not isinstance(rows, list) or len(rows) != count or any(bad_row(r) for r in rows):
            return "/queries%s: expected %d rows, got %r" % (query, count, str(rows)[:80])
    return None


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 run of 3 s, 1 s warm-up: a smoke check")
    p.add_argument("--only", help="comma-separated servers (covet is always added): "
                   + ",".join(s[0] for s in SERVERS))
    p.add_argument("--endpoints", help="comma-separated: " + ",".join(e[0] for e in ENDPOINTS))
    p.add_argument("--duration", type=int, help="seconds per run (default 6; 3 with --quick)")
    p.add_argument("--runs", type=int, help="runs per endpoint, median reported (default 3; 1 with --quick)")
    p.add_argument("--warmup", type=int, help="warm-up seconds per server and endpoint (default 2)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--json", metavar="PATH", help="also write every run's figures to PATH")
    p.add_argument("--postgres", action="store_true",
                   help="the PostgreSQL cases only (issue 16): --only covet-pg,starlette-pg "
                        "--endpoints pg-db,pg-queries,pg-fortunes unless given")
    p.add_argument("--baseline", metavar="DIR",
                   help="also run covet from another checkout (e.g. a git worktree of the commit before a "
                        "change) as server 'covet-before', interleaved with the others")
    args = p.parse_args(argv)
    args.duration = args.duration or (3 if args.quick else 6)
    args.runs = args.runs or (1 if args.quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if args.postgres:
        args.only = args.only or ",".join(PG_SERVERS)
        args.endpoints = args.endpoints or ",".join(PG_ENDPOINTS)
    return args


def select_servers(only):
    known = {s[0] for s in SERVERS}
    if not only:
        return list(SERVERS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit("unknown server(s): %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(known))))
    names = set(names) | {"covet"}
    if names & set(DB_SERVERS):
        names.add("covet-db")
    if names & set(PG_SERVERS):
        names.add("covet-pg")
    return [s for s in SERVERS if s[0] in names]


# server name -> the folder it runs in (covet-before runs in the --baseline checkout).
CWD = {}


def baseline_server(folder):
    """covet from another checkout, with that checkout's own benchmark app."""
    app = os.path.join(folder, "benchmarks", "http", "apps", "covet_app.py")
    return ("covet-before", lambda port: [H.python(), "-m", "covet", "run", app, "--host", "127.0.0.1",
                                          "--port", str(port), "--log-level", "warning"],
            (), True, "covet from %s" % folder)


def start_all(servers, pin, cache):
    """Start every installed server; returns {name: Server} and prints what was skipped and why."""
    started = {}
    paths = [e[2] for e in ENDPOINTS]
    for name, cmd, modules, _realistic, note in servers:
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            print("  %-20s peer not installed (%s)" % (name, ", ".join(missing)))
            continue
        port = H.free_port()
        srv = None
        try:
            cwd = CWD.get(name, H.REPO)
            # DATABASE_URL reaches the PostgreSQL apps only (covet-db would take it for its own).
            env = {"DATABASE_URL": PG["url"]} if name in PG_SERVERS else {}
            H.prime(name, cmd, pin, cache, paths, cwd=cwd, env=env, unset=("DATABASE_URL",))
            srv = H.Server(name, cmd(port), cwd, port, pin, env=dict(cache.env, **env),
                           unset=tuple(cache.unset) + ("DATABASE_URL",))
            srv.wait_ready()
        except RuntimeError as exc:
            print("  %-20s failed to start: %s" % (name, exc))
            if srv is not None:
                srv.stop()
            continue
        time.sleep(0.3)
        srv.startup_rss = srv.rss_mb()
        started[name] = srv
        print("  %-20s pid %-7d port %-5d %s" % (name, srv.pid, port, note))
    return started


def median(values):
    return statistics.median(values) if values else None


def summarise(runs):
    """Median figures over a server's runs of one endpoint, with the error totals of all of them."""
    return {
        "rps": median([r["rps"] for r in runs]),
        "p99_ms": median([r["p99_ms"] for r in runs]),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "runs": len(runs),
        "all_rps": [round(r["rps"]) for r in runs],
        "rps_cpu": median([r["rps_cpu"] for r in runs if r.get("rps_cpu")]),
        "cpu_pct": median([100.0 * r["cpu_s"] / r["seconds"] for r in runs if r.get("cpu_s") is not None]),
    }


def clean(s):
    return s is not None and s.get("rps") is not None and not s["socket_errors"] and not s["non2xx"]


def ratio_text(c, p, key):
    if c is None or p is None or c.get("rps") is None or p.get("rps") is None:
        return "-"
    if not clean(c) or not clean(p):
        return "n/a: errors"
    if not p.get(key) or not c.get(key):
        return "-"
    return "%.2fx" % (c[key] / p[key])


def error_text(s):
    parts = []
    if s["socket_errors"]:
        parts.append("%d socket" % s["socket_errors"])
    if s["non2xx"]:
        parts.append("%d non-2xx" % s["non2xx"])
    return ", ".join(parts) or "0"


def print_table(title, results, order, args, base="covet"):
    print()
    print("%s  (wrk -t1 -c%d -d%ds, median of %d)" % (title, args.connections, args.duration, args.runs))
    print("  %-20s %9s %8s %-16s %11s %11s %10s %11s %5s  %s" % (
        "server", "req/s", "p99 ms", "errors", "covet/peer", "p99 c/p", "req/cpu-s", "covet/peer", "cpu%",
        "runs req/s"))
    cov = results.get(base)
    for name in order:
        s = results.get(name)
        if s is None:
            continue
        if "invalid" in s:
            print("  %-20s %s" % (name, "not measured: " + s["invalid"]))
            continue
        is_covet = name == base
        print("  %-20s %9s %8s %-16s %11s %11s %10s %11s %5s  %s" % (
            name, "{:,.0f}".format(s["rps"]), "%.2f" % s["p99_ms"] if s["p99_ms"] else "-", error_text(s),
            "" if is_covet else ratio_text(cov, s, "rps"),
            "" if is_covet else ratio_text(cov, s, "p99_ms"),
            "{:,.0f}".format(s["rps_cpu"]) if s["rps_cpu"] else "-",
            "" if is_covet else ratio_text(cov, s, "rps_cpu"),
            "%.0f" % s["cpu_pct"] if s["cpu_pct"] is not None else "-",
            " ".join("{:,}".format(x) for x in s["all_rps"])))


def print_targets(all_results, started):
    print()
    print("Targets (issues 3, 12, 14, 15, 16; this run; verdicts on req/s, the per-CPU-second ratio shown for a busy "
          "machine)")
    for endpoint, peer, minimum in TARGETS:
        res = all_results.get(endpoint, {})
        c, p = res.get(covet_side(endpoint)), res.get(peer)
        label = "%-9s %s >= %.1fx %s" % (endpoint, covet_side(endpoint), minimum, peer)
        if c is None or p is None or "invalid" in c or "invalid" in p:
            print("  %-48s n/a: not measured" % label)
        elif not clean(c) or not clean(p):
            print("  %-48s n/a: errors" % label)
        else:
            r = c["rps"] / p["rps"]
            cpu = ""
            if c.get("rps_cpu") and p.get("rps_cpu"):
                rc = c["rps_cpu"] / p["rps_cpu"]
                cpu = "; per CPU-second %.2fx %s" % (rc, "pass" if rc >= minimum else "fail")
            print("  %-48s %-4s (%.2fx%s)" % (label, "PASS" if r >= minimum else "FAIL", r, cpu))
    for endpoint, peer in P99_TARGETS:
        res = all_results.get(endpoint, {})
        c, p = res.get("covet"), res.get(peer)
        label = "%-9s covet p99 <= %s p99" % (endpoint, peer)
        if c is None or p is None or "invalid" in c or "invalid" in p:
            print("  %-48s n/a: not measured" % label)
        elif not clean(c) or not clean(p):
            print("  %-48s n/a: errors" % label)
        else:
            ok = c["p99_ms"] <= p["p99_ms"]
            print("  %-48s %-4s (%.2f ms vs %.2f ms)" % (label, "PASS" if ok else "FAIL", c["p99_ms"], p["p99_ms"]))
    covet = started.get("covet")
    if covet is not None and covet.startup_rss is not None:
        ok = covet.startup_rss <= STARTUP_RSS_MB
        print("  %-48s %-4s (%.1f MB; memory.py checks the others)"
              % ("RSS after start-up <= %.0f MB" % STARTUP_RSS_MB, "PASS" if ok else "FAIL", covet.startup_rss))


def start_postgres(pin):
    """A throwaway PostgreSQL server with the cases' tables in it: ``(server, None)``, or
    ``(None, reason)`` when none can be started here (no server binaries, no openssl...).

    Pinned, when the run pins, to wrk's core: the server under test keeps core 1 to itself, as in
    every other case. The postmaster's children inherit the pinning, the backends forked for the
    apps' connections too. The apps connect without TLS (``sslmode=disable``, as TechEmpower's
    do), so neither side pays for encryption.
    """
    reason = pg_unavailable_reason()
    if reason is not None:
        return None, reason
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        return None, "the server did not start: %s" % str(exc)[-500:]
    try:
        if pin:
            pin_tree(server.proc.pid, int(H.CLIENT_CPU))
        PG["url"] = _tfb.make_pg(server.url(sslmode="disable"))
    except BaseException:
        server.stop()
        raise
    print("  %-20s pid %-7d port %-5d PostgreSQL %s, %s" % (
        "postgres", server.proc.pid, server.port, os.path.basename(os.path.dirname(server.bindir)),
        "on core %s with wrk" % H.CLIENT_CPU if pin else "not pinned"))
    return server, None


def pin_tree(pid, cpu):
    """Pin process ``pid`` and its children to core ``cpu`` (processes forked later inherit it)."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:  # the parent's pid: field 4 of proc(5)
                pids.append(int(entry))
    for p in pids:
        try:
            os.sched_setaffinity(p, {cpu})
        except ProcessLookupError:
            pass


def main(argv=None):
    args = parse_args(argv)
    if not H.have_wrk():
        print("wrk not installed (Debian: apt-get install wrk); nothing to measure")
        return 1
    pin = H.can_pin()
    H.raise_nofile(4096)
    servers = select_servers(args.only)
    if args.baseline:
        folder = os.path.abspath(args.baseline)
        CWD["covet-before"] = folder
        servers.insert(1, baseline_server(folder))
    endpoints = ENDPOINTS
    if args.endpoints:
        wanted = {e.strip() for e in args.endpoints.split(",")}
        endpoints = [e for e in ENDPOINTS if e[0] in wanted]
    # The database apps serve only the database endpoints, and nothing else serves those.
    for own_servers, own_endpoints in OWN_ENDPOINTS:
        if not any(e[0] in own_endpoints for e in endpoints):
            servers = [s for s in servers if s[0] not in own_servers]
        if not any(s[0] in own_servers for s in servers):
            endpoints = [e for e in endpoints if e[0] not in own_endpoints]
    if all(e[0] in DB_ENDPOINTS or e[0] in PG_ENDPOINTS for e in endpoints):
        servers = [s for s in servers if special(s[0])]  # no plain endpoint: no plain server
    print("HTTP load benchmark: python %s, %s, %d CPU(s) visible; load average %s"
          % (sys.version.split()[0],
             "server on core 1, wrk on core 0" if pin else "NOT pinned (no taskset or <2 cores)",
             os.cpu_count() or 0, " ".join("%.2f" % x for x in os.getloadavg())))
    cache = H.BytecodeCache()
    # The static files, made fresh for this run; every server (started from this environment) serves them.
    static_folder = make_static(tempfile.mkdtemp(prefix="bench-static-"))
    os.environ[STATIC_ENV] = static_folder
    # The database apps' sqlite file (world, fortune), made fresh for this run and read by both.
    db_folder = tempfile.mkdtemp(prefix="bench-db-")
    os.environ[_tfb.DB_ENV] = _tfb.make_db(os.path.join(db_folder, "tfb.db"))
    # The PostgreSQL cases' server: started here, the same rows written into it, stopped at the end.
    pg_server = None
    if any(s[0] in PG_SERVERS for s in servers):
        pg_server, reason = start_postgres(pin)
        if pg_server is None:
            print("  PostgreSQL cases skipped: %s" % reason)
            servers = [s for s in servers if s[0] not in PG_SERVERS]
            endpoints = [e for e in endpoints if e[0] not in PG_ENDPOINTS]
    started = start_all(servers, pin, cache)
    sides = {covet_side(e[0]) for e in endpoints}
    if not sides & set(started):
        for srv in started.values():
            srv.stop()
        cache.close()
        shutil.rmtree(static_folder, ignore_errors=True)
        shutil.rmtree(db_folder, ignore_errors=True)
        if pg_server is not None:
            pg_server.stop()
        if not sides and pg_server is None and any(s[0] in PG_SERVERS for s in select_servers(args.only)):
            print("nothing else to measure")
            return 0  # the PostgreSQL cases were skipped (said why above): not a failure
        print("%s did not start; nothing to compare" % " nor ".join(sorted(sides)) if sides else
              "nothing to measure")
        return 1
    realistic = {s[0] for s in servers if s[3]}
    order = [s[0] for s in servers if s[0] in started]
    all_results = {}
    raw = {}
    t0 = time.monotonic()
    try:
        for key, title, path, script, only_realistic in endpoints:
            if isinstance(only_realistic, tuple):
                names = [n for n in order if n in only_realistic]
            else:
                names = [n for n in order if not special(n) and (not only_realistic or n in realistic)]
            results = {}
            for name in list(names):
                reason = check_endpoint(started[name].port, key, path)
                if reason is not None:
                    results[name] = {"invalid": reason}
                    names.remove(name)
            for name in names:
                if args.warmup:
                    try:
                        H.run_wrk("http://127.0.0.1:%d%s" % (started[name].port, path), args.warmup,
                                  args.connections, script, pin)
                    except RuntimeError as exc:
                        results[name] = {"invalid": "warm-up failed: %s" % exc}
            names = [n for n in names if n not in results]
            runs = {n: [] for n in names}
            for i in range(args.runs):
                for name in names:
                    if name in results:
                        continue
                    try:
                        runs[name].append(H.run_wrk("http://127.0.0.1:%d%s" % (started[name].port, path),
                                                    args.duration, args.connections, script, pin,
                                                    server=started[name]))
                    except RuntimeError as exc:
                        results[name] = {"invalid": str(exc)}
                    if started[name].proc.poll() is not None:
                        results[name] = {"invalid": "server died:\n" + started[name].log_tail()}
            for name in names:
                if name not in results:
                    results[name] = summarise(runs[name])
                    if script == H.PIPELINE_LUA:
                        # wrk times whole batches under pipelining and its percentile is often 0 then.
                        results[name]["p99_ms"] = None
            all_results[key] = results
            raw[key] = runs
            print_table(title, results, order, args, covet_side(key))
        print()
        print("Memory (MB)  %-10s %s" % ("start-up", "peak (VmHWM over the whole run)"))
        for name in order:
            srv = started[name]
            peak = srv.peak_rss_mb()
            ratio = ""
            # the database apps are compared with each other, the rest with covet's plain app
            cov = started.get("covet-db" if name in DB_SERVERS else "covet-pg" if name in PG_SERVERS else "covet")
            if cov is not None and cov is not srv and peak and cov.peak_rss_mb():
                ratio = "   covet/peer peak %.2fx" % (cov.peak_rss_mb() / peak)
            print("  %-20s %8s %10s%s" % (name, "%.1f" % srv.startup_rss if srv.startup_rss else "?",
                                         "%.1f" % peak if peak else "?", ratio))
        print_targets(all_results, started)
        print()
        print("took %.0f s; load average now %s" % (time.monotonic() - t0,
                                                     " ".join("%.2f" % x for x in os.getloadavg())))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"summary": all_results, "runs": raw,
                           "memory": {n: {"startup_mb": started[n].startup_rss, "peak_mb": started[n].peak_rss_mb()}
                                      for n in order}}, f, indent=1)
    finally:
        for srv in started.values():
            srv.stop()
        cache.close()
        shutil.rmtree(static_folder, ignore_errors=True)
        shutil.rmtree(db_folder, ignore_errors=True)
        if pg_server is not None:
            pg_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
