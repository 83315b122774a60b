"""PostgreSQL client benchmark of issue 16: covet's own client against pg8000, psycopg 3 and asyncpg.

    benchmarks/.venv/bin/python benchmarks/bench_pg.py              # full: 7 interleaved rounds (~2 min)
    benchmarks/.venv/bin/python benchmarks/bench_pg.py --quick      # smoke check: 3 short rounds
    benchmarks/.venv/bin/python benchmarks/bench_pg.py --cases select1,fetch --rounds 11
    benchmarks/.venv/bin/python benchmarks/bench_pg.py --profile fetch   # cProfile covet's side of a case

It starts its own throwaway server (tests/pg_fixture.PostgresServer, as benchmarks/pg_server.py
does: 127.0.0.1, durability off) and every client meets that one server, connected as the same
SCRAM role without TLS (``sslmode=disable`` for all: encryption would cost each side its own
TLS stack's time). Without the server binaries it says why and exits 0, so ``make bench`` goes
on. Every async client runs on the one standard asyncio loop (no uvloop: covet does not use it).

Cases, each a set of contenders timed in interleaved rounds (round 1 of every contender, then
round 2, ..., each round starting one contender later), so a burst of outside load hits all
alike; the figure is the median time per call over the rounds:

- ``select1``: ``SELECT 1`` round trips, one after the other (3,000 per run).
- ``fetch``: all 1,000 rows of a table of mixed types (int4, text, numeric(12,2), timestamptz,
  bool, float8, uuid, jsonb), each client's own row type. asyncpg returns jsonb as its text by
  default; it is given ``json.loads`` as its jsonb codec, as the others parse JSON.
- ``executemany``: 10,000 rows (int4, text, numeric, timestamptz, bool, float8) inserted with
  each client's executemany; the table is emptied after each run, untimed.
- ``copy``: the same 10,000 rows with COPY FROM STDIN: covet's ``copy_from`` and pg8000's
  ``stream=`` take COPY text, built from the rows inside the timed call; psycopg's ``copy.write_row``
  and asyncpg's ``copy_records_to_table`` take the rows.
- ``DatabaseManager``: when ``covet.database.DatabaseManager`` takes postgresql URLs, its
  ``fetch_val("SELECT 1")`` and ``fetch_all`` of the 1,000 rows join ``select1`` and ``fetch``,
  so the layer's overhead over the bare connection shows.

Before timing, each contender's answer is checked against covet's (the same value, the same
1,000 rows, 10,000 rows stored). Targets (issue 16), printed PASS/FAIL with the ratio
time(peer) / time(covet): covet at least 2x pg8000 in every case, at least as fast as psycopg 3
(sync) on round trips, at least half asyncpg's speed on the 1,000-row fetch. The load average is
printed at start and end: on a shared machine, compare ratios from the same run only.
"""
import argparse
import asyncio
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from pg_fixture import PostgresServer, unavailable_reason  # noqa: E402

from covet.database.postgres import PGConnection  # noqa: E402

try:
    from covet.database import DatabaseManager
except ImportError:
    DatabaseManager = None

try:
    import pg8000.dbapi as pg8000
except ImportError:  # the peers live in benchmarks/.venv only
    pg8000 = None
try:
    import psycopg
except ImportError:
    psycopg = None
try:
    import asyncpg
except ImportError:
    asyncpg = None

ROWS = 1000
INSERT_ROWS = 10000
CASES = ("select1", "fetch", "executemany", "copy")
# calls per run in a full round, sized so one run of a fast contender takes 0.1-0.5 s
CALLS = {"select1": 3000, "fetch": 30, "executemany": 1, "copy": 1}
QUICK_DIVISOR = {"select1": 6, "fetch": 6, "executemany": 1, "copy": 1}

SCHEMA = """
DROP TABLE IF EXISTS bench_rows, bench_insert;
CREATE TABLE bench_rows (id int4 PRIMARY KEY, name text NOT NULL, amount numeric(12,2) NOT NULL,
                         created timestamptz NOT NULL, active bool NOT NULL, score float8 NOT NULL,
                         ref uuid NOT NULL, data jsonb NOT NULL);
CREATE TABLE bench_insert (id int4 NOT NULL, name text NOT NULL, amount numeric NOT NULL,
                           created timestamptz NOT NULL, active bool NOT NULL, score float8 NOT NULL);
"""
SQL_FETCH = "SELECT id, name, amount, created, active, score, ref, data FROM bench_rows ORDER BY id"
INSERT_COLUMNS = ("id", "name", "amount", "created", "active", "score")
COPY_SQL = "COPY bench_insert (%s) FROM STDIN" % ", ".join(INSERT_COLUMNS)
BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

# (case, contender, baseline, minimum of time(baseline) / time(contender))
TARGETS = [
    ("select1", "covet", "pg8000", 2.0), ("fetch", "covet", "pg8000", 2.0),
    ("executemany", "covet", "pg8000", 2.0), ("copy", "covet", "pg8000", 2.0),
    ("select1", "covet", "psycopg (sync)", 1.0),
    ("fetch", "covet", "asyncpg", 0.5),
]


def seed_row(i):
    return (i, "user %d" % i, Decimal(i * 37 % 100000) / 100, BASE_TIME + dt.timedelta(seconds=i * 61),
            i % 3 != 0, i / 7.0, uuid.UUID(int=i * 2654435761 % (1 << 128)), {"n": i, "tags": ["a", "b"], "ok": True})


def insert_rows():
    return [(i, "item %d" % i, Decimal(i % 10000) / 100, BASE_TIME + dt.timedelta(seconds=i), i % 2 == 0, i * 0.5)
            for i in range(INSERT_ROWS)]


def copy_text(rows):
    """COPY text of rows that hold no tab, newline or backslash (true of insert_rows)."""
    return "".join(["%d\t%s\t%s\t%s\t%s\t%r\n" % (r[0], r[1], r[2], r[3].isoformat(), "t" if r[4] else "f", r[5])
                    for r in rows]).encode()


class Contender:
    """``run(n)`` does the case's work ``n`` times and returns the seconds; ``check()`` does it
    once untimed and returns a value comparable with covet's; ``after()`` cleans up (untimed)."""

    def __init__(self, name, run, check, is_async=False, after=None):
        self.name, self.run, self.check, self.is_async, self.after = name, run, check, is_async, after


class Bench:
    def __init__(self, server):
        self.server = server
        self.url = server.url(sslmode="disable")
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.covet = self.arun(PGConnection.connect_url(self.url))
        self.arun(self.covet.simple_query(SCHEMA))
        self.arun(self.covet.execute_many("INSERT INTO bench_rows VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                                          [seed_row(i) for i in range(ROWS)]))
        self.arun(self.covet.simple_query("VACUUM ANALYZE bench_rows"))
        self.insert_rows = insert_rows()
        self.closers = [lambda: self.arun(self.covet.close())]
        self.db = None
        self.db_error = "covet.database.DatabaseManager not in this checkout"
        if DatabaseManager is not None:
            try:
                db = DatabaseManager(self.url)
                self.arun(db.connect())
                self.db = db
                self.closers.append(lambda: self.arun(db.disconnect()))
            except Exception as exc:  # no postgresql backend in DatabaseManager yet
                self.db_error = "DatabaseManager(postgresql://...): %s: %s" % (type(exc).__name__, exc)

    def arun(self, coro):
        return self.loop.run_until_complete(coro)

    def truncate(self):
        self.arun(self.covet.simple_query("TRUNCATE bench_insert"))

    def count_inserted(self):
        return self.arun(self.covet.fetch_val("SELECT count(*) FROM bench_insert"))

    def close(self):
        for close in reversed(self.closers):
            close()
        self.loop.close()


def timed_sync(call):
    def run(n):
        start = time.perf_counter()
        for _ in range(n):
            call()
        return time.perf_counter() - start
    return run


def timed_async(call):
    async def run(n):
        start = time.perf_counter()
        for _ in range(n):
            await call()
        return time.perf_counter() - start
    return run


def rows_as_tuples(rows):
    return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]


# --- contenders per client ----------------------------------------------------------------------

def covet_contenders(bench, case):
    conn = bench.covet
    out = []
    if case == "select1":
        async def select1():
            return await conn.fetch_val("SELECT 1")
        out.append(Contender("covet", timed_async(select1), select1, True))
        if bench.db is not None:
            db = bench.db

            async def db_select1():
                return await db.fetch_val("SELECT 1")
            out.append(Contender("covet DatabaseManager", timed_async(db_select1), db_select1, True))
    elif case == "fetch":
        async def fetch():
            return await conn.fetch_all(SQL_FETCH)

        async def check():
            return rows_as_tuples(await fetch())
        out.append(Contender("covet", timed_async(fetch), check, True))
        if bench.db is not None:
            db = bench.db

            async def db_fetch():
                return await db.fetch_all(SQL_FETCH)

            async def db_check():
                return rows_as_tuples(await db_fetch())
            out.append(Contender("covet DatabaseManager", timed_async(db_fetch), db_check, True))
    elif case == "executemany":
        async def many():
            await conn.execute_many("INSERT INTO bench_insert VALUES ($1, $2, $3, $4, $5, $6)", bench.insert_rows)

        async def check():
            await many()
            return await conn.fetch_val("SELECT count(*) FROM bench_insert")
        out.append(Contender("covet", timed_async(many), check, True, bench.truncate))
    elif case == "copy":
        async def copy():
            await conn.copy_from(COPY_SQL, copy_text(bench.insert_rows))

        async def check():
            await copy()
            return await conn.fetch_val("SELECT count(*) FROM bench_insert")
        out.append(Contender("covet", timed_async(copy), check, True, bench.truncate))
    return out


def pg8000_contenders(bench, case):
    s = bench.server
    conn = pg8000.connect(user=s.user, password=s.password, host=s.host, port=s.port, database=s.database)
    conn.autocommit = True
    bench.closers.append(conn.close)
    cur = conn.cursor()
    name = "pg8000"
    if case == "select1":
        def select1():
            cur.execute("SELECT 1")
            return cur.fetchone()[0]
        return [Contender(name, timed_sync(select1), select1)]
    if case == "fetch":
        def fetch():
            cur.execute(SQL_FETCH)
            return cur.fetchall()
        return [Contender(name, timed_sync(fetch), lambda: rows_as_tuples(fetch()))]
    if case == "executemany":
        def many():
            cur.execute("BEGIN")  # one transaction, as the others' single batch
            cur.executemany("INSERT INTO bench_insert VALUES (%s, %s, %s, %s, %s, %s)", bench.insert_rows)
            cur.execute("COMMIT")
        return [Contender(name, timed_sync(many), lambda: (many(), bench.count_inserted())[1], after=bench.truncate)]
    if case == "copy":
        def copy():
            cur.execute(COPY_SQL, stream=io.BytesIO(copy_text(bench.insert_rows)))
        return [Contender(name, timed_sync(copy), lambda: (copy(), bench.count_inserted())[1], after=bench.truncate)]
    return []


def psycopg_contenders(bench, case):
    sync = psycopg.connect(bench.url, autocommit=True)
    bench.closers.append(sync.close)
    aconn = bench.arun(psycopg.AsyncConnection.connect(bench.url, autocommit=True))
    bench.closers.append(lambda: bench.arun(aconn.close()))
    out = []
    if case == "select1":
        def select1():
            return sync.execute("SELECT 1").fetchone()[0]

        async def aselect1():
            cur = await aconn.execute("SELECT 1")
            return (await cur.fetchone())[0]
        out.append(Contender("psycopg (sync)", timed_sync(select1), select1))
        out.append(Contender("psycopg (async)", timed_async(aselect1), aselect1, True))
    elif case == "fetch":
        def fetch():
            return sync.execute(SQL_FETCH).fetchall()

        async def afetch():
            cur = await aconn.execute(SQL_FETCH)
            return await cur.fetchall()

        async def acheck():
            return rows_as_tuples(await afetch())
        out.append(Contender("psycopg (sync)", timed_sync(fetch), lambda: rows_as_tuples(fetch())))
        out.append(Contender("psycopg (async)", timed_async(afetch), acheck, True))
    elif case == "executemany":
        def many():
            with sync.transaction():
                sync.cursor().executemany("INSERT INTO bench_insert VALUES (%s, %s, %s, %s, %s, %s)",
                                          bench.insert_rows)
        out.append(Contender("psycopg (sync)", timed_sync(many), lambda: (many(), bench.count_inserted())[1],
                             after=bench.truncate))
    elif case == "copy":
        def copy():
            with sync.cursor().copy(COPY_SQL) as writer:
                for row in bench.insert_rows:
                    writer.write_row(row)
        out.append(Contender("psycopg (sync)", timed_sync(copy), lambda: (copy(), bench.count_inserted())[1],
                             after=bench.truncate))
    return out


def asyncpg_contenders(bench, case):
    conn = bench.arun(asyncpg.connect(bench.url))
    bench.arun(conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"))
    bench.closers.append(lambda: bench.arun(conn.close()))
    if case == "select1":
        async def select1():
            return await conn.fetchval("SELECT 1")
        return [Contender("asyncpg", timed_async(select1), select1, True)]
    if case == "fetch":
        async def fetch():
            return await conn.fetch(SQL_FETCH)

        async def check():
            return rows_as_tuples(await fetch())
        return [Contender("asyncpg", timed_async(fetch), check, True)]
    if case == "executemany":
        async def many():
            async with conn.transaction():
                await conn.executemany("INSERT INTO bench_insert VALUES ($1, $2, $3, $4, $5, $6)", bench.insert_rows)

        async def check():
            await many()
            return await conn.fetchval("SELECT count(*) FROM bench_insert")
        return [Contender("asyncpg", timed_async(many), check, True, bench.truncate)]
    if case == "copy":
        async def copy():
            await conn.copy_records_to_table("bench_insert", records=bench.insert_rows, columns=list(INSERT_COLUMNS))

        async def check():
            await copy()
            return await conn.fetchval("SELECT count(*) FROM bench_insert")
        return [Contender("asyncpg", timed_async(copy), check, True, bench.truncate)]
    return []


PEERS = [("pg8000", lambda: pg8000, pg8000_contenders), ("psycopg", lambda: psycopg, psycopg_contenders),
         ("asyncpg", lambda: asyncpg, asyncpg_contenders)]


# --- running --------------------------------------------------------------------------------------

def call_once(bench, contender, what):
    result = getattr(contender, what)()
    return bench.arun(result) if contender.is_async else result


def run_case(bench, case, rounds, calls, notes):
    contenders = covet_contenders(bench, case)
    for peer, module, make in PEERS:
        if module() is None:
            notes.append("%s: peer not installed" % peer)
            continue
        contenders.extend(make(bench, case))
    if bench.db is None and case in ("select1", "fetch"):
        notes.append("covet DatabaseManager: %s" % bench.db_error)
    expected = None
    for contender in contenders:  # check the answers, and warm every cache
        answer = call_once(bench, contender, "check")
        if contender.after:
            contender.after()
        if expected is None:
            expected = answer
        elif answer != expected:
            raise SystemExit("bench_pg: %s's answer in %s differs from covet's: %r... != %r..."
                             % (contender.name, case, repr(answer)[:200], repr(expected)[:200]))
    times = {c.name: [] for c in contenders}
    for round_index in range(rounds):
        shift = round_index % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            seconds = contender.run(calls)
            if contender.is_async:
                seconds = bench.arun(seconds)
            times[contender.name].append(seconds / calls)
            if contender.after:
                contender.after()
    return {name: statistics.median(values) for name, values in times.items()}


def profile_case(bench, case, calls):
    contender = covet_contenders(bench, case)[0]
    call_once(bench, contender, "check")
    if contender.after:
        contender.after()
    profiler = cProfile.Profile()
    profiler.enable()
    bench.arun(contender.run(calls))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def show(seconds):
    if seconds < 1e-3:
        return "%8.1f us" % (seconds * 1e6)
    return "%8.2f ms" % (seconds * 1e3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 short rounds: a smoke check, noisy")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7, --quick 3)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    parser.add_argument("--profile", choices=CASES, help="cProfile covet's side of one case instead")
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error("unknown cases: %s" % ", ".join(sorted(unknown)))
    reason = unavailable_reason()
    if reason is not None:
        print("bench_pg: skipped: %s" % reason)
        return 0
    rounds = args.rounds or (3 if args.quick else 7)
    print("bench_pg: load average at start %.2f %.2f %.2f (%d cores)" % (os.getloadavg() + (os.cpu_count(),)))
    with PostgresServer() as server:
        bench = Bench(server)
        try:
            if args.profile:
                profile_case(bench, args.profile, CALLS[args.profile])
                return 0
            print("bench_pg: PostgreSQL %s, %s, %d interleaved rounds, median per call"
                  % (bench.covet.parameters.get("server_version"), sys.version.split()[0], rounds))
            results, notes = {}, []
            for case in cases:
                calls = CALLS[case] // (QUICK_DIVISOR[case] if args.quick else 1)
                results[case] = run_case(bench, case, rounds, calls, notes)
        finally:
            bench.close()
    print()
    print("%-12s %-24s %12s %10s" % ("case", "client", "median/call", "vs covet"))
    for case, figures in results.items():
        covet_time = figures.get("covet")
        for name, seconds in sorted(figures.items(), key=lambda item: item[1]):
            ratio = "%9.2fx" % (seconds / covet_time) if covet_time else ""
            print("%-12s %-24s %12s %10s" % (case, name, show(seconds), ratio))
    print("\n(vs covet: the client's time over covet's; above 1 covet is faster)")
    for note in sorted(set(notes)):
        print("note: " + note)
    print("\ntargets (issue 16): time(peer) / time(covet)")
    failed = 0
    for case, contender, baseline, minimum in TARGETS:
        figures = results.get(case, {})
        if contender not in figures or baseline not in figures:
            print("  %-12s %s vs %s: not measured" % (case, contender, baseline))
            continue
        ratio = figures[baseline] / figures[contender]
        ok = ratio >= minimum
        failed += not ok
        print("  %-12s %s vs %-16s %5.2fx (target >= %.1fx) %s"
              % (case, contender, baseline, ratio, minimum, "PASS" if ok else "FAIL"))
    print("\nbench_pg: load average at end %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
