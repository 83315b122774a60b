"""The TechEmpower-style database cases on covet: DatabaseManager (sqlite) and covet's templates.

    COVET_BENCH_DB=/tmp/tfb.db python -m covet run benchmarks/http/apps/covet_db_app.py --port 8000
    DATABASE_URL=postgresql://u:pw@127.0.0.1/tfb?sslmode=disable python -m covet run benchmarks/http/apps/covet_db_app.py

With ``DATABASE_URL`` set (a ``postgresql://`` URL; ``run.py``'s covet-pg, issue 16) the same
handlers run on PostgreSQL through covet's own client, on the event loop, with a pool of
``PG_POOL_SIZE`` connections opened at start-up; without it, on the sqlite file.

Written the way covet's documentation shows: ``async def`` handlers awaiting ``db.fetch_one`` /
``db.fetch_all`` (on sqlite each query runs on a pooled connection's own thread), the database opened and
closed with the app (``app.add_database``), the page rendered by ``TemplateEngine.response``.
"""
import os
import random

from covet import Covet, Query
from covet.database import DatabaseManager
from covet.templates import TemplateEngine

from _tfb import (ADDITIONAL, PG_POOL_SIZE, SQL_FORTUNES, SQL_WORLD, SQL_WORLD_PG, TEMPLATES, WORLD_ROWS,
                  clamp_queries, db_path)

app = Covet()
URL = os.environ.get("DATABASE_URL")
if URL:
    db = DatabaseManager(URL, pool_size=PG_POOL_SIZE, min_connections=PG_POOL_SIZE)
    SQL_WORLD = SQL_WORLD_PG  # noqa: F811  PostgreSQL's quoted column
else:
    db = DatabaseManager("sqlite:///" + db_path())
app.add_database(db)
templates = TemplateEngine(TEMPLATES)


@app.get("/db")
async def single():
    """One random world row as JSON: {"id": ..., "randomNumber": ...}."""
    return await db.fetch_one(SQL_WORLD, random.randint(1, WORLD_ROWS))


@app.get("/queries")
async def queries(queries: str = Query("1")):
    """``queries`` random world rows (1-500), one query each."""
    fetch_one = db.fetch_one
    return [await fetch_one(SQL_WORLD, random.randint(1, WORLD_ROWS)) for _ in range(clamp_queries(queries))]


@app.get("/fortunes")
async def fortunes(request):
    """Every fortune and one added at request time, sorted by message, as an HTML table."""
    rows = await db.fetch_all(SQL_FORTUNES)
    rows.append({"id": 0, "message": ADDITIONAL})
    rows.sort(key=lambda r: r["message"])
    return templates.response(request, "fortunes.html", {"fortunes": rows})
