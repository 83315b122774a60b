"""The benchmark app on covet: /plaintext, /json, the realistic /users/{id:int} route, /gzip and /static.

    python -m covet run benchmarks/http/apps/covet_app.py --port 8000
"""
from covet import Covet, Depends, PlainTextResponse, Query

from covet.middleware import GZipMiddleware

from _common import GZIP_LEVEL, GZIP_PAYLOAD, MESSAGE, USERS, pick_fields, static_dir

app = Covet()


@app.get("/plaintext")
async def plaintext():
    """'Hello, World!' as text/plain."""
    return PlainTextResponse(MESSAGE)


@app.get("/json")
async def json_():
    """{"message": "Hello, World!"}."""
    return {"message": MESSAGE}


async def get_store():
    """The dependency: the shared in-memory user store."""
    return USERS


async def served_by(request, call_next):
    """The one middleware: tags the response."""
    response = await call_next(request)
    response.headers["X-Served-By"] = "bench"
    return response


# The middleware wraps this route only, as in the Starlette app, so that
# /plaintext and /json measure the bare framework like the baseline.
@app.get("/users/{user_id:int}", middleware=[served_by])
async def get_user(user_id: int, fields: str = Query(""), store=Depends(get_store)):
    """One user, only the requested fields."""
    return pick_fields(store, user_id, fields)


# About 20 KiB of JSON through GZipMiddleware, on this route only (as in the Starlette app).
@app.get("/gzip", middleware=[GZipMiddleware(minimum_size=500, compresslevel=GZIP_LEVEL)])
async def gzipped():
    """GZIP_PAYLOAD as JSON, compressed for clients that accept gzip."""
    return GZIP_PAYLOAD


# The static files (small.txt, 2 KiB; large.bin, 1 MiB), with the defaults, as Starlette's StaticFiles.
app.static("/static", static_dir())
