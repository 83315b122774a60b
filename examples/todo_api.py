"""A JSON API for todos: CRUD on an in-memory store, under /api/v1.

Run it:   python -m covet run examples/todo_api.py     (or: python examples/todo_api.py)
Try it:   curl -H 'X-API-Key: dev-key' -H 'Content-Type: application/json' \\
               -d '{"title": "buy milk"}' http://127.0.0.1:8000/api/v1/todos
          curl 'http://127.0.0.1:8000/api/v1/todos?done=false&limit=10'
Test it:  tests/test_examples.py runs the whole CRUD cycle and its errors.

What it shows: path, query and body parameters with constraints; a dataclass
as the JSON body; 201, 204 and 404 answers; a dependency that provides the
store and another that checks an API key on writes; a route group. The state
lives on ``app.state``, so every ``create_app()`` is independent (one per test).
"""
import dataclasses
import hmac
import os
import sys
import threading
from typing import Dict, List, Optional

if __name__ == "__main__":  # python examples/todo_api.py from a checkout: use the covet/ beside it
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from covet import Covet, Depends, Header, HTTPException, Query, Request  # noqa: E402


@dataclasses.dataclass
class TodoIn:
    """What a client sends to create or replace a todo."""

    title: str
    done: bool = False


@dataclasses.dataclass
class Todo:
    """A stored todo; returned as JSON as is (dataclasses become objects)."""

    id: int
    title: str
    done: bool


class TodoStore:
    """Todos in memory. A lock, because plain ``def`` handlers run in worker threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._todos: Dict[int, Todo] = {}
        self._next_id = 1

    def list(self) -> List[Todo]:
        with self._lock:
            return list(self._todos.values())

    def get(self, todo_id: int) -> Optional[Todo]:
        with self._lock:
            return self._todos.get(todo_id)

    def add(self, data: TodoIn) -> Todo:
        with self._lock:
            todo = Todo(self._next_id, data.title, data.done)
            self._todos[todo.id] = todo
            self._next_id += 1
            return todo

    def replace(self, todo_id: int, data: TodoIn) -> Optional[Todo]:
        with self._lock:
            if todo_id not in self._todos:
                return None
            todo = self._todos[todo_id] = Todo(todo_id, data.title, data.done)
            return todo

    def remove(self, todo_id: int) -> bool:
        with self._lock:
            return self._todos.pop(todo_id, None) is not None


# -- dependencies --------------------------------------------------------

def get_store(request: Request) -> TodoStore:
    """The store of the app serving this request."""
    return request.app.state.store


def require_api_key(request: Request, x_api_key: Optional[str] = Header(None)) -> None:
    """Writes need ``X-API-Key``; compared in constant time."""
    expected = request.app.state.api_key
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong X-API-Key header", headers={"WWW-Authenticate": "X-API-Key"})


def find_todo(todo_id: int, store: TodoStore = Depends(get_store)) -> Todo:
    """The todo named by the path, or 404."""
    todo = store.get(todo_id)
    if todo is None:
        raise HTTPException(404, "todo %d not found" % todo_id)
    return todo


# -- the app -------------------------------------------------------------

def create_app(api_key: Optional[str] = None) -> Covet:
    """A fresh app with an empty store; the API key defaults to $TODO_API_KEY, then 'dev-key'."""
    app = Covet(title="todo API")
    app.state.store = TodoStore()
    app.state.api_key = api_key or os.environ.get("TODO_API_KEY", "dev-key")

    api = app.group("/api/v1")
    writes = [Depends(require_api_key)]

    @api.get("/todos")
    def list_todos(
        done: Optional[bool] = None,
        q: Optional[str] = Query(None, min_length=1, max_length=100),
        limit: int = Query(20, ge=1, le=100),
        offset: int = Query(0, ge=0),
        store: TodoStore = Depends(get_store),
    ):
        """Filter by ``done`` and a substring ``q`` of the title; paginate with ``limit``/``offset``."""
        todos = store.list()
        if done is not None:
            todos = [t for t in todos if t.done == done]
        if q is not None:
            todos = [t for t in todos if q.lower() in t.title.lower()]
        return {"items": todos[offset:offset + limit], "total": len(todos), "limit": limit, "offset": offset}

    @api.get("/todos/{todo_id:int}")
    async def get_todo(todo: Todo = Depends(find_todo)):
        """One todo; the dependency answers 404 for an unknown id."""
        return todo

    @api.post("/todos", dependencies=writes)
    async def create_todo(data: TodoIn, store: TodoStore = Depends(get_store)):
        """Create from the JSON body; 201 with a Location header."""
        todo = store.add(data)
        return todo, 201, {"Location": app.url_for("get_todo", todo_id=todo.id)}

    @api.put("/todos/{todo_id:int}", dependencies=writes)
    async def replace_todo(todo_id: int, data: TodoIn, store: TodoStore = Depends(get_store)):
        """Replace a todo; 404 if there is none to replace."""
        todo = store.replace(todo_id, data)
        if todo is None:
            raise HTTPException(404, "todo %d not found" % todo_id)
        return todo

    @api.delete("/todos/{todo_id:int}", dependencies=writes)
    async def delete_todo(todo_id: int, store: TodoStore = Depends(get_store)):
        """Delete a todo; None becomes 204 No Content."""
        if not store.remove(todo_id):
            raise HTTPException(404, "todo %d not found" % todo_id)
        return None

    return app


app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
