"""Middleware chaining: shared by the app-wide chain and group/route chains.

A middleware is ``async def mw(request, call_next) -> Response``, an object
with that ``__call__``, or a plain ``def mw(request, call_next)``; the plain
form runs in the thread pool and its ``call_next`` blocks that thread until
the rest of the chain has answered on the event loop.
"""
import asyncio
import contextvars
import functools
import inspect

__all__ = ["chain", "is_async_callable", "run_sync"]


def is_async_callable(obj):
    """True for coroutine functions and objects whose ``__call__`` is one (also through partials)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and not inspect.isfunction(obj) and inspect.iscoroutinefunction(getattr(obj, "__call__", None))
    )


async def run_sync(request, fn, /, *args, **kwargs):
    """Run a blocking callable in the app's bounded thread pool, keeping contextvars.

    ``request`` and ``fn`` are positional-only: the callable's own keyword
    arguments may well include ``request``.
    """
    loop = asyncio.get_running_loop()
    app = request.app if request is not None else None
    executor = app.executor if app is not None else None
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, fn, *args, **kwargs) if (args or kwargs) else functools.partial(ctx.run, fn)
    return await loop.run_in_executor(executor, call)


def _link(mw, call_next):
    if is_async_callable(mw):
        async def handler(request):
            return await mw(request, call_next)
        return handler

    async def sync_handler(request):
        loop = asyncio.get_running_loop()

        def blocking_next(req):
            return asyncio.run_coroutine_threadsafe(call_next(req), loop).result()

        # Not the app's bounded pool: this thread waits for the rest of the
        # chain, whose sync handler needs a pool thread; sharing one pool
        # deadlocks once as many requests as threads are in flight.
        ctx = contextvars.copy_context()
        result = await loop.run_in_executor(None, functools.partial(ctx.run, mw, request, blocking_next))
        if inspect.isawaitable(result):
            result = await result
        return result

    return sync_handler


def chain(middleware, endpoint):
    """Compose ``middleware`` (outermost first) around ``endpoint(request)``, once, at start-up."""
    handler = endpoint
    for mw in reversed(list(middleware)):
        handler = _link(mw, handler)
    return handler
