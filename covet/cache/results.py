"""What a cache keeps for a function's result, and the record of a response.

A ``Response`` is mutable and travels through middleware, which adds headers to it
(``Set-Cookie`` from a session, a request id): a cache that handed one ``Response`` object to
two requests would give the second client the first one's cookie. So no cache here ever holds
a ``Response``. ``response_record`` turns one whose body is known in full into
``[status, [[name, value], ...], body]`` (plain lists and latin-1 text: the memory backend and
Redis, with JSON or pickle, hold it alike) and ``response_from_record`` builds a new
``Response`` from it on every hit. The page cache stores its pages in this form.

``Cache.cached`` stores ``freeze(result)`` (or ``freeze_route`` when the function is the
handler of the route being served) and returns ``thaw(entry)``:

- a ``Response`` becomes a tagged record, ``{"__covet_cache__": ["response", record]}``;
- a tuple becomes ``{"__covet_cache__": ["tuple", [items]]}``, so it comes back a tuple from
  JSON too (a ``(body, status)`` return keeps its status);
- anything else is stored as it is.

Example::

    entry = freeze(JSONResponse({"x": 1}, status_code=202), "app.view")
    first, second = thaw(entry), thaw(entry)
    assert first is not second and first.body == second.body == b'{"x":1}'
"""
import functools
import inspect
import json
from typing import Any, Callable, List, Optional, Tuple, TypeVar

from ..core._wrap import REQUEST_PARAM, route_status
from ..core.requests import Request
from ..core.responses import Response, dump_json, to_response
from .keys import function_key, prefixed_key
from .strategies import SingleFlight

__all__ = ["F", "TAG", "response_record", "response_from_record", "freeze", "freeze_route", "thaw",
           "handler_route", "cached_decorator"]

#: A decorated callable: the decorators of this package give back the same type.
F = TypeVar("F", bound=Callable[..., Any])

#: The one key of a dict that holds a frozen result (a value a function returns is never one).
TAG = "__covet_cache__"

# How far route_served follows __wrapped__ from a route's endpoint (decorators stacked on it).
_MAX_WRAPS = 32


def response_record(response: Response) -> List[Any]:
    """``[status, [[name, value], ...], body]`` of a response whose body is known in full.

    Example::

        response_record(Response(b"hi", 200))   # [200, [["content-length", "2"]], "hi"]
    """
    return [response.status_code,
            [[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.raw_headers],
            response.body.decode("latin-1")]


def response_from_record(record: Any) -> Response:
    """A new ``Response`` from ``response_record``'s list.

    Rebuilt through ``Response()``: header values read back from a shared store are validated
    again. A damaged record raises ``TypeError``, ``ValueError`` or ``AttributeError``.
    """
    status, headers, body = record
    return Response(body.encode("latin-1"), status, [(k, v) for k, v in headers])


def _cacheable(response: Response, name: str) -> List[Any]:
    if response.streaming:
        raise TypeError(
            "%s returned a %s: a streaming body is produced while it is sent, so cached() cannot keep it. "
            "Cache the data the stream is made from, or use cache_page(), which serves streaming responses "
            "uncached" % (name, type(response).__name__))
    if response.background is not None:
        raise TypeError(
            "%s returned a response with background tasks: on a hit the handler does not run, so cached() "
            "cannot keep them. Take a BackgroundTasks parameter instead (its tasks run whenever the handler "
            "runs)" % (name,))
    return response_record(response)


def freeze(value: Any, name: str) -> Any:
    """What ``cached`` stores for ``value``, a result of the function ``name`` (for errors).

    A ``Response`` (its body known in full, no background tasks; else ``TypeError``) becomes a
    record, a tuple a tagged list of its frozen items; any other value is itself.
    """
    if type(value) is tuple:
        return {TAG: ["tuple", [freeze(item, name) for item in value]]}
    if isinstance(value, Response):
        return {TAG: ["response", _cacheable(value, name)]}
    return value


def _json_data(value: Any) -> Any:
    if isinstance(value, Response):
        return value
    try:
        # Through the encoder responses use: dates, UUIDs, Decimals, dataclasses become the JSON the
        # client would get, so every backend can hold them. What it cannot encode stays as it is.
        return json.loads(dump_json(value))
    except (TypeError, ValueError):
        return value


def freeze_route(value: Any, request: Any, name: str) -> Any:
    """What ``cached`` stores for ``value`` when the function is the handler of the route serving ``request``.

    Without a ``response_model`` that is the response ``value`` becomes (status, headers, body,
    as the route's ``status_code=`` makes it). With one, the route must filter every answer: the
    body is stored as its JSON data (a ``(body, status[, headers])`` tuple keeps its shape), which
    the filter accepts as it accepts the objects it came from.
    """
    if request.route.options.get("response_model") is None:
        return freeze(to_response(value, route_status(request)), name)
    if type(value) is tuple and 2 <= len(value) <= 3:
        items = [_json_data(value[0]), value[1]]
        if len(value) == 3:
            headers = value[2]
            if headers:
                headers = [[k, v] for k, v in (headers.items() if hasattr(headers, "items") else headers)]
            items.append(headers)
        return freeze(tuple(items), name)
    return freeze(_json_data(value), name)


def thaw(entry: Any) -> Any:
    """The result a stored ``entry`` stands for: a new ``Response``, a new tuple, or the value itself."""
    if type(entry) is dict and len(entry) == 1:
        frozen = entry.get(TAG)
        if frozen is not None:
            kind, payload = frozen
            if kind == "response":
                return response_from_record(payload)
            if kind == "tuple":
                return tuple(thaw(item) for item in payload)
            raise ValueError("not a result cached by covet: %r" % (entry,))
    return entry


def handler_route(request: Any, wrapper: Callable[..., Any]) -> Optional[Any]:
    """The route serving ``request`` when ``wrapper`` is its handler (or what its decorators wrap);
    None when ``wrapper`` was called as something else on the way (a dependency).

    Example::

        route = handler_route(request, cached_view)
    """
    route = getattr(request, "route", None)
    if route is None:
        return None
    fn = route.endpoint
    for _ in range(_MAX_WRAPS):
        if fn is wrapper:
            return route
        fn = getattr(fn, "__wrapped__", None)
        if fn is None:
            break
    return None


def _request_signature(func: Callable[..., Any]) -> Tuple[Optional[inspect.Signature], bool]:
    # The wrapper's signature: the function's, plus an optional keyword the injector fills with the
    # Request when the wrapper is a route handler (a plain call leaves it None). True when the
    # function already takes it (a route decorator under this one): it is passed on, not removed.
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None, False
    if REQUEST_PARAM in sig.parameters:
        return sig, True
    params = list(sig.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    params.insert(at, inspect.Parameter(REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Optional[Request]))
    return sig.replace(parameters=params), False


def cached_decorator(flight: SingleFlight, ttl: float, refresh_after: Optional[float],
                     key: Optional[Callable[..., Any]], key_prefix: Optional[str] = None,
                     key_func: Optional[Callable[..., Any]] = None) -> Callable[[F], F]:
    """The decorator behind ``Cache.cached``: results through ``flight`` for ``ttl`` seconds,
    stored frozen (``freeze``/``freeze_route``) and thawed for every caller. The key is ``key``'s,
    else ``keys.prefixed_key``'s with ``key_prefix``, else ``keys.function_key``'s.

    Example::

        decorate = cached_decorator(cache.single_flight, 60.0, None, None)
    """
    def decorate(func: F) -> F:
        if not callable(func):
            raise TypeError("cached() decorates functions, got %r" % (func,))
        if key is not None:
            make_key = key
        elif key_prefix is not None:
            make_key = prefixed_key(func, key_prefix, key_func)
        else:
            make_key = function_key(func)
        name = "%s.%s" % (getattr(func, "__module__", None), getattr(func, "__qualname__", repr(func)))
        sig, passthrough = _request_signature(func)

        def request_of(kwargs: Any) -> Tuple[Any, Any]:
            # (the Request or None, the arguments the key is made of)
            if passthrough:
                return kwargs.get(REQUEST_PARAM), {k: v for k, v in kwargs.items() if k != REQUEST_PARAM}
            return kwargs.pop(REQUEST_PARAM, None), kwargs

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                request, key_kwargs = request_of(kwargs)
                route = None if request is None else handler_route(request, async_wrapper)

                async def produce() -> Any:
                    value = await func(*args, **kwargs)
                    return freeze(value, name) if route is None else freeze_route(value, request, name)

                return thaw(await flight.aget_or_set(make_key(*args, **key_kwargs), produce, ttl, refresh_after))

            wrapper: Any = async_wrapper
        else:
            @functools.wraps(func)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                request, key_kwargs = request_of(kwargs)
                route = None if request is None else handler_route(request, sync_wrapper)

                def produce() -> Any:
                    value = func(*args, **kwargs)
                    return freeze(value, name) if route is None else freeze_route(value, request, name)

                return thaw(flight.get_or_set(make_key(*args, **key_kwargs), produce, ttl, refresh_after))

            wrapper = sync_wrapper
        if sig is not None:
            wrapper.__signature__ = sig
        wrapper.cache_key = make_key
        return wrapper  # type: ignore[no-any-return]

    return decorate
