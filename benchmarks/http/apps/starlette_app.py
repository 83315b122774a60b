"""The benchmark app on Starlette (served by uvicorn, with httptools+uvloop or h11+asyncio).

    uvicorn --app-dir benchmarks/http/apps starlette_app:app --http httptools --loop uvloop
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from _common import GZIP_LEVEL, GZIP_PAYLOAD, MESSAGE, USERS, pick_fields, static_dir


async def plaintext(request):
    return PlainTextResponse(MESSAGE)


async def json_(request):
    return JSONResponse({"message": MESSAGE})


def get_store():
    # Starlette has no injector: the "dependency" is a plain call.
    return USERS


async def get_user(request):
    user_id = request.path_params["user_id"]
    fields = request.query_params.get("fields", "")
    return JSONResponse(pick_fields(get_store(), user_id, fields))


async def gzipped(request):
    return JSONResponse(GZIP_PAYLOAD)


async def served_by(request, call_next):
    # Same shape as covet's and FastAPI's @app.middleware("http"): request in, response out.
    response = await call_next(request)
    response.headers["X-Served-By"] = "bench"
    return response


routes = [
    Route("/plaintext", plaintext),
    Route("/json", json_),
    # Route-scoped, as in the covet app: /plaintext and /json stay bare.
    Route("/users/{user_id:int}", get_user, middleware=[Middleware(BaseHTTPMiddleware, dispatch=served_by)]),
    # Starlette's GZipMiddleware at covet's level (its own default is 9), on this route only.
    Route("/gzip", gzipped, middleware=[Middleware(GZipMiddleware, minimum_size=500, compresslevel=GZIP_LEVEL)]),
    # The static files (small.txt, 2 KiB; large.bin, 1 MiB), with StaticFiles' defaults.
    Mount("/static", StaticFiles(directory=static_dir()), name="static"),
]
app = Starlette(routes=routes)
