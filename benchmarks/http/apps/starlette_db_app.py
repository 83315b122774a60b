"""The TechEmpower-style database cases on Starlette (served by uvicorn with httptools+uvloop).

    COVET_BENCH_DB=/tmp/tfb.db uvicorn --app-dir benchmarks/http/apps starlette_db_app:app --http httptools --loop uvloop

sqlite3 the way Starlette users run a blocking driver: ``await run_in_threadpool(...)`` (anyio's
worker threads, 40 by default), one connection per worker thread, made on first use. Each
request makes one trip to the pool: /queries runs its 20 queries in that one trip (one SELECT
each), the cheapest way a thread-pool app can do it. Templates: Starlette's Jinja2Templates.
"""
import random
import sqlite3
import threading

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from _tfb import ADDITIONAL, SQL_FORTUNES, SQL_WORLD, TEMPLATES, WORLD_ROWS, clamp_queries, db_path

DB = db_path()
_local = threading.local()
templates = Jinja2Templates(directory=TEMPLATES)


def connection():
    # sqlite3 connections belong to the thread that made them: one per worker thread.
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(DB)
        conn.row_factory = sqlite3.Row
    return conn


def load_world(ids):
    execute = connection().execute
    return [execute(SQL_WORLD, (i,)).fetchone() for i in ids]


def load_fortunes():
    return connection().execute(SQL_FORTUNES).fetchall()


async def single(request):
    row = (await run_in_threadpool(load_world, (random.randint(1, WORLD_ROWS),)))[0]
    return JSONResponse({"id": row[0], "randomNumber": row[1]})


async def queries(request):
    n = clamp_queries(request.query_params.get("queries"))
    rows = await run_in_threadpool(load_world, [random.randint(1, WORLD_ROWS) for _ in range(n)])
    return JSONResponse([{"id": r[0], "randomNumber": r[1]} for r in rows])


async def fortunes(request):
    rows = await run_in_threadpool(load_fortunes)
    rows.append({"id": 0, "message": ADDITIONAL})
    rows.sort(key=lambda r: r["message"])
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})


app = Starlette(routes=[Route("/db", single), Route("/queries", queries), Route("/fortunes", fortunes)])
