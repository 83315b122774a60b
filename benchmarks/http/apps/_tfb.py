"""The TechEmpower-style database cases' data and rules, shared by the apps and the harness.

The sqlite file has the TechEmpower tables: ``world`` (10,000 rows of id and randomNumber, a
number from 1 to 10,000) and ``fortune`` (the 12 messages of the TechEmpower specification,
among them a ``<script>`` one that must come out escaped, and one in Japanese). ``run.py``
makes it in a temporary folder and names it to the servers by ``COVET_BENCH_DB``; an app
started by hand makes its own under the system temp folder.

The same rows go to PostgreSQL (issue 16) by :func:`make_pg`, from the same two sources
(:func:`world_numbers`, ``FORTUNES``); the PostgreSQL apps find their database in
``DATABASE_URL``.
"""
import asyncio
import os
import random
import sqlite3
import tempfile

DB_ENV = "COVET_BENCH_DB"
WORLD_ROWS = 10000
# TechEmpower's fortune table, in id order (ids 1-12).
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \u2014 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af",
]
# The row every app adds in memory before sorting (id 0, as the specification says).
ADDITIONAL = "Additional fortune added at request time."
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
# Both apps run exactly these statements.
SQL_WORLD = "SELECT id, randomNumber FROM world WHERE id = ?"
SQL_FORTUNES = "SELECT id, message FROM fortune"
# PostgreSQL folds unquoted names to lower case, so the column is created and read quoted: the
# row then comes back keyed "randomNumber", as the JSON wants it, in every driver. $1 is the
# placeholder asyncpg needs; covet takes it too (covet.database.params).
SQL_WORLD_PG = 'SELECT id, "randomNumber" FROM world WHERE id = $1'
# Connections per server process in the PostgreSQL cases, the same for covet's pool and asyncpg's.
PG_POOL_SIZE = 10
PG_SCHEMA = ("DROP TABLE IF EXISTS world; DROP TABLE IF EXISTS fortune; "
             'CREATE TABLE world (id integer PRIMARY KEY, "randomNumber" integer NOT NULL); '
             "CREATE TABLE fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL)")


def world_numbers():
    """randomNumber of world rows 1..10,000, in id order: fixed (seeded), so a file can be checked."""
    rng = random.Random(15)
    return [rng.randint(1, WORLD_ROWS) for _ in range(WORLD_ROWS)]


def make_db(path):
    """Write the sqlite file at ``path`` (replacing one there); returns ``path``."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
    conn = sqlite3.connect(path)
    try:
        # WAL, as a server with concurrent readers runs sqlite; it is a property of the file.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE world (id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL)")
        conn.execute("CREATE TABLE fortune (id INTEGER PRIMARY KEY, message VARCHAR(2048) NOT NULL)")
        with conn:
            conn.executemany("INSERT INTO world (id, randomNumber) VALUES (?, ?)",
                             enumerate(world_numbers(), 1))
            conn.executemany("INSERT INTO fortune (id, message) VALUES (?, ?)", enumerate(FORTUNES, 1))
    finally:
        conn.close()
    return path


def make_pg(url):
    """Write the tables into the PostgreSQL database at ``url`` (replacing them), read them back
    and raise RuntimeError unless they hold exactly the rows of the sqlite file; returns ``url``.

    Written with covet's own client (standard library only), so that it runs with plain python3
    from the repository root.
    """
    asyncio.run(_load_pg(url))
    return url


async def _load_pg(url):
    from covet.database import DatabaseManager

    db = DatabaseManager(url)
    async with db:
        await db.execute_script(PG_SCHEMA)
        await db.execute_many('INSERT INTO world (id, "randomNumber") VALUES ($1, $2)',
                              list(enumerate(world_numbers(), 1)))
        await db.execute_many("INSERT INTO fortune (id, message) VALUES ($1, $2)", list(enumerate(FORTUNES, 1)))
        # Fresh statistics, so the planner picks the primary key's index from the first query.
        await db.execute_script("ANALYZE world; ANALYZE fortune")
        rows = await db.fetch_all('SELECT id, "randomNumber" FROM world ORDER BY id')
        world = [(r["id"], r["randomNumber"]) for r in rows]
        fortune = [(r["id"], r["message"]) for r in await db.fetch_all(SQL_FORTUNES + " ORDER BY id")]
    if world != list(enumerate(world_numbers(), 1)) or fortune != list(enumerate(FORTUNES, 1)):
        raise RuntimeError("the PostgreSQL tables read back differ from the rows written")


def db_path():
    """The file the apps read: the harness's, else one made here."""
    path = os.environ.get(DB_ENV)
    if path:
        return path
    path = os.path.join(tempfile.gettempdir(), "covet-bench-tfb.db")
    if not os.path.exists(path):
        make_db(path)
    return path


def clamp_queries(value):
    """The ``queries`` parameter as the specification reads it: not an integer or below 1 -> 1, above 500 -> 500."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return 1
    return 1 if n < 1 else 500 if n > 500 else n


def escape_html(text):
    """The escaping both template engines apply (& < > " ' as &amp; &lt; &gt; &#34; &#39;)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


def fortunes_html():
    """The exact page /fortunes must send: the 12 rows and the added one, sorted by message, escaped."""
    rows = sorted(list(enumerate(FORTUNES, 1)) + [(0, ADDITIONAL)], key=lambda r: r[1])
    return ("<!DOCTYPE html>\n<html>\n<head><title>Fortunes</title></head>\n<body>\n<table>\n"
            "<tr><th>id</th><th>message</th></tr>\n"
            + "".join("<tr><td>%d</td><td>%s</td></tr>\n" % (i, escape_html(m)) for i, m in rows)
            + "</table>\n</body>\n</html>")
