"""The benchmark app on FastAPI (served by uvicorn with httptools+uvloop).

    uvicorn --app-dir benchmarks/http/apps fastapi_app:app --http httptools --loop uvloop
"""
from fastapi import Depends, FastAPI, Query
from fastapi.responses import PlainTextResponse

from _common import MESSAGE, USERS, pick_fields

app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return MESSAGE


@app.get("/json")
async def json_():
    return {"message": MESSAGE}


async def get_store():
    return USERS


@app.get("/users/{user_id}")
async def get_user(user_id: int, fields: str = Query(""), store=Depends(get_store)):
    return pick_fields(store, user_id, fields)


# FastAPI has no per-route middleware: app-wide is what its users write. Only
# /users is compared against FastAPI; its /plaintext and /json carry this cost.
@app.middleware("http")
async def served_by(request, call_next):
    response = await call_next(request)
    response.headers["X-Served-By"] = "bench"
    return response
