"""A test app for tests/browser/test_docs_page.py: /docs under a strict Content-Security-Policy.

``app`` is served at the root with covet's SecurityHeadersMiddleware (its defaults, plus
``default-src 'self'``); ``parent`` mounts the same kind of app under /v1, so its page is
/v1/docs and the requests it tries go to /v1/...
"""
from dataclasses import dataclass

from covet import Covet, Depends, HTTPException
from covet.security import APIKeyHeader, SecurityHeadersMiddleware

CSP = "default-src 'self'"


@dataclass
class ItemIn:
    name: str
    price: float = 1.5


def create_app() -> Covet:
    app = Covet(title="strict page")
    app.add_middleware(SecurityHeadersMiddleware, content_security_policy=CSP)
    key = APIKeyHeader("X-Key")
    items = {}

    @app.post("/items", status_code=201, tags=["items"])
    async def add_item(item: ItemIn, api_key: str = Depends(key)):
        """Add an item."""
        if api_key != "k":
            raise HTTPException(401, "wrong key", {"WWW-Authenticate": "X-Key"})
        items[len(items) + 1] = {"name": item.name, "price": item.price}
        return {"id": len(items), **items[len(items)]}

    @app.get("/items/{item_id:int}", tags=["items"])
    async def get_item(item_id: int):
        """One item."""
        if item_id not in items:
            raise HTTPException(404, "no item %d" % item_id)
        return items[item_id]

    return app


app = create_app()
parent = Covet(title="parent of a mounted API")
parent.mount("/v1", create_app())
