"""BackgroundTasks: work that runs after the response has been sent."""
import asyncio
import functools
import inspect
import logging
from typing import Any, Callable, Iterable, List, Optional, Tuple

__all__ = ["BackgroundTasks"]

logger = logging.getLogger("covet.error")


class BackgroundTasks:
    """Tasks run in order after the response is sent; sync ones in a thread.

    Inject it into a handler and add tasks; a failing task is logged and the
    others still run.

    Example::

        @app.post("/signup")
        async def signup(tasks: BackgroundTasks):
            tasks.add_task(send_welcome_mail, "ada@example.com")
            return {"ok": True}
    """

    __slots__ = ("tasks",)

    def __init__(self, tasks: Optional[Iterable[Tuple[Callable[..., Any], tuple, dict]]] = None) -> None:
        self.tasks: List[Tuple[Callable[..., Any], tuple, dict]] = list(tasks or ())

    def add_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue ``func(*args, **kwargs)``."""
        self.tasks.append((func, args, kwargs))

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        for func, args, kwargs in self.tasks:
            try:
                if inspect.iscoroutinefunction(func):
                    await func(*args, **kwargs)
                else:
                    result = await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))
                    if inspect.isawaitable(result):
                        await result
            except Exception:
                logger.exception("background task %r failed", getattr(func, "__qualname__", func))

    def __len__(self) -> int:
        return len(self.tasks)
