"""A test app for tests/browser/test_docs_hostile.py: its OpenAPI document is the JSON file named by
``$DOCS_DOCUMENT`` (each test writes the crafted document it needs), and every path answers with what
it received: method, raw path, query string, headers, cookies and the body (a form parsed, files as
[filename, content]). CORS is open to any origin, so a page served by another instance of this app
can read the echo of a cross-origin request (what was sent, and what was not)."""
import json
import os

from covet import Covet, JSONResponse
from covet.security import CORSMiddleware

app = Covet(title="crafted")
app.add_middleware(CORSMiddleware, allow_origins="*", allow_methods="*", allow_headers="*")


async def echo(request):
    body = await request.body()
    shown = body.decode("latin-1")
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        shown = []
        for name, value in (await request.form()).multi_items():
            if hasattr(value, "filename"):
                value = [value.filename, (await value.read()).decode("latin-1")]
            shown.append([name, value])
    return JSONResponse({"method": request.method, "path": request.raw_path, "query": request.query_string,
                         "headers": {k: v for k, v in request.headers.items()}, "cookies": request.cookies,
                         "body": shown})


async def echo_under(request, rest: str):
    return await echo(request)


METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
app.add_route("/echo", echo, methods=METHODS)
app.add_route("/echo/{rest:path}", echo_under, methods=METHODS)

if os.environ.get("DOCS_DOCUMENT"):
    with open(os.environ["DOCS_DOCUMENT"], encoding="utf-8") as f:
        DOCUMENT = json.load(f)
    app.openapi = lambda: DOCUMENT
