"""A test app for tests/browser/test_docs_page.py: every text the docs page shows holds markup.
The page must show it as text; none of it may become an element."""
from typing import Literal

from covet import Covet, Depends, Query
from covet.security import APIKeyHeader
from covet.validation import Field, Model

X = "<img src=x onerror=alert(1)>"


class Thing(Model):
    label: str = Field(description=X, examples=[X])
    kind: Literal["plain", "<b>bold</b>"] = "plain"


app = Covet(title="Shop " + X, description="About " + X,
            openapi_tags=[{"name": "things", "description": "Tag " + X}])
key = APIKeyHeader("X-Key", description="Key " + X)


@app.post("/things", tags=["things"], responses={418: {"description": "Teapot " + X}})
async def make_thing(thing: Thing, note: str = Query(X, description="Note " + X), k: str = Depends(key)):
    """Make <script>alert(2)</script> things.

    Details: <img src=y onerror=alert(3)>
    """
    return {"label": thing.label}
