"""A JSON API for todos: CRUD on a database, under /api/v1.

Run it:   python -m covet run examples/todo_api.py     (or: python examples/todo_api.py)
          (an SQLite file, todo.db, in the current folder; TODO_DATABASE_URL names another)
Try it:   curl -H 'X-API-Key: dev-key' -H 'Content-Type: application/json' \\
               -d '{"title": "buy milk"}' http://127.0.0.1:8000/api/v1/todos
          curl 'http://127.0.0.1:8000/api/v1/todos?done=false&limit=10'
Schema:   python -m covet db status --database sqlite:///todo.db --dir examples/todo_migrations
Test it:  tests/test_examples.py runs the whole CRUD cycle and its errors.

What it shows: path, query and body parameters with constraints; a dataclass as the JSON body;
201, 204 and 404 answers; a database tied to the app's life (``app.add_database``), its schema
from a numbered migration run at start-up, an ORM model queried with filters and pagination, and
writes through a per-request session (``Depends(db.session)``); another dependency that checks an
API key on writes, declared as an OpenAPI ``apiKey`` scheme (``APIKeyHeader``), so /docs asks for it
once in Authorize; a route group with a tag. Every ``create_app()`` has its own database, so tests give each
app a file of its own.
"""
import dataclasses
import hmac
import os
import sys
from typing import Optional

if __name__ == "__main__":  # python examples/todo_api.py from a checkout: use the covet/ beside it
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from covet import Covet, Depends, HTTPException, Query, Request  # noqa: E402
from covet.database import DatabaseManager, Session  # noqa: E402
from covet.database.migrations import migrate  # noqa: E402
from covet.database.orm import Boolean, Column, Integer, Model, Registry, String  # noqa: E402
from covet.security import APIKeyHeader  # noqa: E402

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "todo_migrations")


@dataclasses.dataclass
class TodoIn:
    """What a client sends to create or replace a todo."""

    title: str
    done: bool = False


class Base(Model):
    """This example's models, in a registry of their own (not every model of the process)."""

    __abstract__ = True
    registry = Registry()


class Todo(Base):
    """A stored todo; returned as JSON as is (``to_dict``). The table comes from the migration."""

    __tablename__ = "todos"
    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    done = Column(Boolean, nullable=False, default=False)


# -- dependencies --------------------------------------------------------

def get_db(request: Request) -> DatabaseManager:
    """The database of the app serving this request."""
    return request.app.state.database


async def get_session(request: Request):
    """A unit of work for this request; what it does not commit is rolled back at the end."""
    async with request.app.state.database.session_scope() as session:
        yield session


# The key arrives in a header; declared as an OpenAPI ``apiKey`` scheme, so /docs offers it in
# Authorize and puts a lock on every write. auto_error=False: a missing key gets this example's own
# 401 below, the same as a wrong one.
API_KEY = APIKeyHeader("X-API-Key", description="Writes need it: dev-key unless $TODO_API_KEY says otherwise",
                       auto_error=False)


def require_api_key(request: Request, x_api_key: Optional[str] = Depends(API_KEY)) -> None:
    """Writes need ``X-API-Key``; compared in constant time."""
    expected = request.app.state.api_key
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong X-API-Key header", headers={"WWW-Authenticate": "X-API-Key"})


async def find_todo(todo_id: int, db: DatabaseManager = Depends(get_db)) -> Todo:
    """The todo named by the path, or 404."""
    todo = await Todo.query(db).get(todo_id)
    if todo is None:
        raise HTTPException(404, "todo %d not found" % todo_id)
    return todo


def like_pattern(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, its own % and _ escaped (ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# -- the app -------------------------------------------------------------

def create_app(api_key: Optional[str] = None, database_url: Optional[str] = None) -> Covet:
    """A fresh app on its own database; the API key defaults to $TODO_API_KEY, then 'dev-key',
    the database to $TODO_DATABASE_URL, then ``sqlite:///todo.db``."""
    app = Covet(title="todo API", version="1.0.0",
                description="Todos in a database: anyone may read them; writes need the API key.",
                openapi_tags=[{"name": "todos", "description": "Create, list, change and delete todos."}])
    db = DatabaseManager(database_url or os.environ.get("TODO_DATABASE_URL", "sqlite:///todo.db"))
    app.add_database(db)
    app.state.api_key = api_key or os.environ.get("TODO_API_KEY", "dev-key")

    @app.on_startup
    async def schema() -> None:
        await migrate("up", db=db, directory=MIGRATIONS)

    api = app.group("/api/v1", tags=["todos"])
    writes = [Depends(require_api_key)]
    # Answers besides the success and the 422, for the document (and so for /docs).
    unknown = {404: {"description": "No todo with this id"}}
    refused = {401: {"description": "Missing or wrong X-API-Key header"}}

    @api.get("/todos")
    async def list_todos(
        done: Optional[bool] = None,
        q: Optional[str] = Query(None, min_length=1, max_length=100),
        limit: int = Query(20, ge=1, le=100),
        offset: int = Query(0, ge=0),
        db: DatabaseManager = Depends(get_db),
    ):
        """Filter by ``done`` and a substring ``q`` of the title (any case); paginate with
        ``limit``/``offset``, oldest first."""
        query = Todo.query(db)
        if done is not None:
            query = query.filter(Todo.done == done)
        if q is not None:
            query = query.filter(Todo.title.ilike(like_pattern(q), escape="\\"))
        items = await query.order_by(Todo.id).limit(limit).offset(offset).all()
        return {"items": items, "total": await query.count(), "limit": limit, "offset": offset}

    @api.get("/todos/{todo_id:int}", responses=unknown)
    async def get_todo(todo: Todo = Depends(find_todo)):
        """One todo; the dependency answers 404 for an unknown id."""
        return todo

    @api.post("/todos", dependencies=writes, status_code=201, responses=refused)
    async def create_todo(data: TodoIn, session: Session = Depends(get_session)):
        """Create from the JSON body; 201 with a Location header."""
        todo = Todo(title=data.title, done=data.done)  # a title over 200 characters: 422
        session.add(todo)
        await session.commit()
        return todo, 201, {"Location": app.url_for("get_todo", todo_id=todo.id)}

    @api.put("/todos/{todo_id:int}", dependencies=writes, responses={**refused, **unknown})
    async def replace_todo(data: TodoIn, todo: Todo = Depends(find_todo), session: Session = Depends(get_session)):
        """Replace a todo; 404 if there is none to replace."""
        todo.title, todo.done = data.title, data.done
        session.add(todo)
        await session.commit()
        return todo

    @api.delete("/todos/{todo_id:int}", dependencies=writes, status_code=204, responses={**refused, **unknown})
    async def delete_todo(todo: Todo = Depends(find_todo), session: Session = Depends(get_session)):
        """Delete a todo; None becomes 204 No Content."""
        session.delete(todo)
        await session.commit()
        return None

    return app


app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
