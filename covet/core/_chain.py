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
from typing import Any, Awaitable, Callable, Iterable, Optional

__all__ = ["chain", "guard", "is_async_callable", "run_sync"]


#: ``handler(request) -> Response`` and ``on_error(request, exc) -> Response or None``, as chained here.
Handler = Callable[[Any], Awaitable[Any]]
ErrorAnswer = Callable[[Any, Exception], Awaitable[Any]]


def is_async_callable(obj: Any) -> bool:
    """True for coroutine functions and objects whose ``__call__`` is one (also through partials)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and not inspect.isfunction(obj) and inspect.iscoroutinefunction(getattr(obj, "__call__", None))
    )


async def run_sync(request: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
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


def _link(mw, call_next, on_error):
    if is_async_callable(mw):
        if on_error is None:
            async def handler(request):
                return await mw(request, call_next)
            return handler

        # PERF: the try sits in the link itself, not in one more coroutine per middleware.
        async def guarded_handler(request):
            try:
                return await mw(request, call_next)
            except Exception as exc:
                response = await on_error(request, exc)
                if response is None:
                    raise
                return response
        return guarded_handler

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

    return sync_handler if on_error is None else guard(sync_handler, on_error)


def guard(handler: Handler, on_error: ErrorAnswer) -> Handler:
    """``handler`` with the exceptions that ``on_error(request, exc)`` answers turned into its Response.

    ``on_error`` returns None for an exception it does not answer, which then propagates.
    """
    async def guarded(request):
        try:
            return await handler(request)
        except Exception as exc:
            response = await on_error(request, exc)
            if response is None:
                raise
            return response
    return guarded


def chain(middleware: Iterable[Any], endpoint: Handler, on_error: Optional[ErrorAnswer] = None) -> Handler:
    """Compose ``middleware`` (outermost first) around ``endpoint(request)``, once, at start-up.

    With ``on_error``, each middleware's own exceptions are answered by it as well (see
    ``guard``), so that every ``call_next`` returns a Response for an error the app answers,
    whichever middleware or handler raised it. ``endpoint`` is expected to do the same.
    """
    handler = endpoint
    for mw in reversed(list(middleware)):
        handler = _link(mw, handler, on_error)
    return handler
