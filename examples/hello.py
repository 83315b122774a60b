"""The quick start: a few routes on one Covet app.

Run it:   make run                          (python -m covet run examples/hello.py)
     or:  python examples/hello.py          (app.run(), the same server)
Then:     curl http://127.0.0.1:8000/hello/Ada?excited=true
Test it:  tests/test_examples.py calls every route through covet.testing.TestClient.
"""
import html
import os
import sys
import time

if __name__ == "__main__":  # python examples/hello.py from a checkout: use the covet/ beside it
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from covet import Covet, Query  # noqa: E402

app = Covet()


@app.get("/")
async def index():
    """A dict becomes a JSON response."""
    return {"message": "Hello from covet", "try": ["/hello/Ada", "/add/2/3", "/search?q=covet"]}


@app.get("/hello/{name}")
async def hello(name: str, excited: bool = False):
    """A str becomes an HTML page; ``excited`` comes from the query string (?excited=true)."""
    return "<h1>Hello, %s%s</h1>" % (html.escape(name), "!" if excited else ".")


@app.get("/add/{a:int}/{b:int}")
def add(a: int, b: int):
    """A plain ``def`` handler runs in the thread pool, so blocking work does not stall the server."""
    return {"a": a, "b": b, "sum": a + b}


@app.get("/search")
async def search(q: str = Query(min_length=1, max_length=50), limit: int = Query(10, ge=1, le=100)):
    """Query parameters with constraints: a bad value answers 422 with every error listed."""
    words = ["covet", "cover", "coven", "covert", "python", "stdlib"]
    return {"q": q, "results": [w for w in words if q.lower() in w][:limit]}


@app.get("/time")
async def server_time():
    """A tuple sets the status and headers: (body, status, headers)."""
    return {"unix": int(time.time())}, 200, {"Cache-Control": "no-store"}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
