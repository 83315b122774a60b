"""The database cases on covet with plain ``def`` handlers and ``db.sync`` (a reference, no target).

    COVET_BENCH_DB=/tmp/tfb.db python -m covet run benchmarks/http/apps/covet_db_sync_app.py --port 8000

covet runs a ``def`` handler in its thread pool, and ``db.sync`` queries on that thread: each
request makes one trip off the event loop whatever it queries, as the Starlette app does with
``run_in_threadpool``. The async app (covet_db_app.py, the one the targets use) makes one trip
per query: /queries?queries=20 makes 20. Same statements, data and template.
"""
import random

from covet import Covet, Query
from covet.database import DatabaseManager
from covet.templates import TemplateEngine

from _tfb import ADDITIONAL, SQL_FORTUNES, SQL_WORLD, TEMPLATES, WORLD_ROWS, clamp_queries, db_path

app = Covet()
db = DatabaseManager("sqlite:///" + db_path())
app.add_database(db)
templates = TemplateEngine(TEMPLATES)


@app.get("/db")
def single():
    """One random world row as JSON: {"id": ..., "randomNumber": ...}."""
    return db.sync.fetch_one(SQL_WORLD, random.randint(1, WORLD_ROWS))


@app.get("/queries")
def queries(queries: str = Query("1")):
    """``queries`` random world rows (1-500), one query each."""
    fetch_one = db.sync.fetch_one
    return [fetch_one(SQL_WORLD, random.randint(1, WORLD_ROWS)) for _ in range(clamp_queries(queries))]


@app.get("/fortunes")
def fortunes(request):
    """Every fortune and one added at request time, sorted by message, as an HTML table."""
    rows = db.sync.fetch_all(SQL_FORTUNES)
    rows.append({"id": 0, "message": ADDITIONAL})
    rows.sort(key=lambda r: r["message"])
    return templates.response(request, "fortunes.html", {"fortunes": rows})
