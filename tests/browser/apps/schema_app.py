"""A test app for tests/browser/test_docs_page.py: nested models with constraints, descriptions,
optional fields, lists of models, an enum, a union, a map, a recursive model (a category holds
categories); parameters and form bodies of every kind; tags in a declared order and an untagged route."""
from typing import Dict, List, Literal, Optional, Union

from covet import Covet, File, Form, Header, Query, UploadFile
from covet.validation import Field, Model


class Address(Model):
    street: str = Field(min_length=1, max_length=80, description="Street and number.")
    zip_code: str = Field(pattern=r"^[0-9]{5}$", description="Five digits.")
    country: str = Field("FR", description="ISO 3166 code.")


class Category(Model):
    name: str = Field(max_length=40)
    children: List["Category"] = Field(default_factory=list, description="Sub-categories, as deep as you like.")


class Customer(Model):
    name: str = Field(min_length=2, max_length=60, description="Full name,\nas printed on invoices.")
    email: str = Field(format="email")
    age: Optional[int] = Field(None, ge=18, le=130)
    tags: List[str] = Field(default_factory=list, max_items=5, examples=[["vip"]])
    address: Address
    shipping: Optional[Address] = None
    favourite: Optional[Category] = None
    tier: Literal["basic", "gold", "platinum"] = "basic"
    balance: float = Field(0, multiple_of=0.01, gt=-1000)
    ref: Union[int, str] = Field(0, description="A number or a code.")
    scores: Dict[str, int] = Field(default_factory=dict)


# The document's tags come first, in this order; then tags met on the way; untagged last.
app = Covet(title="schema test", openapi_tags=[{"name": "search"}, {"name": "forms", "description": "Form bodies."}])


@app.post("/customers", status_code=201, response_model=Customer, tags=["customers"])
async def create_customer(customer: Customer):
    """Create a customer."""
    return customer


@app.get("/categories", response_model=List[Category], tags=["categories"])
async def list_categories():
    return []


# Inputs of every kind for the "Try it out" area: a repeated query value, an enum, a boolean, a
# number with a default, a header; an urlencoded form and a multipart form with files.
@app.get("/search", tags=["search"])
async def search(q: List[str] = Query(default_factory=list), kind: Literal["books", "films"] = "books",
                 exact: bool = False, limit: int = Query(10, ge=1, le=50),
                 x_trace: Optional[str] = Header(None)):
    """Search with every kind of parameter."""
    return {"q": q, "kind": kind, "exact": exact, "limit": limit, "trace": x_trace}


@app.post("/contact", tags=["forms"])
async def contact(name: str = Form(min_length=1), topics: List[str] = Form(default_factory=list)):
    """An urlencoded form."""
    return {"name": name, "topics": topics}


@app.post("/upload", tags=["forms"])
async def upload(title: str = Form(), files: List[UploadFile] = File(default_factory=list)):
    """A multipart form with files."""
    return {"title": title, "files": [[f.filename, (await f.read()).decode()] for f in files]}


@app.get("/ping")
async def ping():
    """Untagged: listed last, under "default"."""
    return {"pong": True}
