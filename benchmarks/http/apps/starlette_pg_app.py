"""The TechEmpower-style database cases on Starlette and asyncpg (served by uvicorn with httptools+uvloop).

    DATABASE_URL=postgresql://u:pw@127.0.0.1/tfb?sslmode=disable \\
        uvicorn --app-dir benchmarks/http/apps starlette_pg_app:app --http httptools --loop uvloop

starlette-pg of ``run.py`` (issue 16): the peer of covet_db_app.py on PostgreSQL. asyncpg (its
protocol in Cython) with a pool of ``PG_POOL_SIZE`` connections opened at start-up, as the
TechEmpower Starlette entry uses it: ``pool.fetchrow`` for one row (asyncpg prepares each
statement once per connection and caches it), one connection per request for /queries with its
20 ``fetchrow`` on it, ``pool.fetch`` for the fortunes. Templates: Starlette's Jinja2Templates.
"""
import contextlib
import os
import random

import asyncpg
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from _tfb import ADDITIONAL, PG_POOL_SIZE, SQL_FORTUNES, SQL_WORLD_PG, TEMPLATES, WORLD_ROWS, clamp_queries

URL = os.environ.get("DATABASE_URL")
if not URL:
    raise SystemExit("starlette_pg_app needs DATABASE_URL=postgresql://...")
templates = Jinja2Templates(directory=TEMPLATES)
pool = None


@contextlib.asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(URL, min_size=PG_POOL_SIZE, max_size=PG_POOL_SIZE)
    try:
        yield
    finally:
        await pool.close()


async def single(request):
    row = await pool.fetchrow(SQL_WORLD_PG, random.randint(1, WORLD_ROWS))
    return JSONResponse({"id": row[0], "randomNumber": row[1]})


async def queries(request):
    n = clamp_queries(request.query_params.get("queries"))
    async with pool.acquire() as conn:
        fetchrow = conn.fetchrow
        rows = [await fetchrow(SQL_WORLD_PG, random.randint(1, WORLD_ROWS)) for _ in range(n)]
    return JSONResponse([{"id": r[0], "randomNumber": r[1]} for r in rows])


async def fortunes(request):
    rows = await pool.fetch(SQL_FORTUNES)
    rows.append({"id": 0, "message": ADDITIONAL})
    rows.sort(key=lambda r: r["message"])
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})


app = Starlette(routes=[Route("/db", single), Route("/queries", queries), Route("/fortunes", fortunes)],
                lifespan=lifespan)
