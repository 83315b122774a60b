"""Per request: a plan's arguments filled from the request, the body read, dependencies called,
and ``yield`` dependencies torn down afterwards.

Every violation of one request is collected into a single 422 with an ``errors`` list of
``{loc, msg, type}``. Order of a request's life (tested, documented in docs/dependencies.md):
dependency setup -> handler -> response built -> response sent -> background tasks ->
dependency teardown (``yield`` dependencies see the handler's exception, if any, thrown in at
their ``yield``).

Example::

    errors = []
    kwargs = await solve(plan, request, errors)
    if errors:
        raise invalid(request, errors, form_ok)
"""
import inspect
import logging
import re

from ._chain import run_sync
from ._plan import Factory, qual
from .background import BackgroundTasks
from .errors import HTTPException, RequestValidationError
from .requests import parse_json

__all__ = ["invalid", "solve", "teardown"]

logger = logging.getLogger("covet.error")


async def solve(plan, request, errors):
    """Fill the arguments of ``plan.fn``; errors are appended, not raised."""
    kwargs = {}
    for src in plan.sources:
        kwargs[src.name] = src.resolve(request, errors)
    for name, kind in plan.specials:
        if kind == "request":
            kwargs[name] = request
        else:
            if request._background is None:
                request._background = BackgroundTasks()
            kwargs[name] = request._background
    for name, dep, sub in plan.deps:
        value = await _call_dependency(dep, sub, request, errors)
        if name is not None:
            kwargs[name] = value
    if plan.body:
        await _solve_body(plan, request, kwargs, errors)
    elif plan.form:
        # Parsed once per request (request.form() caches it), whoever asks first: CSRF
        # middleware, a dependency or the handler. Not a form: 415 from request.form().
        form = await request.form()
        for src in plan.form:
            kwargs[src.name] = src.resolve(form, errors)
        for src in plan.contents:  # File() annotated bytes
            kwargs[src.name] = await _contents(request, kwargs[src.name])
    return kwargs


async def _contents(request, value):
    """An upload (or a list of them) as bytes; anything else (a default, None after an error) as is."""
    from .uploads import UploadFile  # loaded already: the form that carried the file made it

    if isinstance(value, UploadFile):
        return await _read_whole(request, value)
    if isinstance(value, list) and value and all(isinstance(v, UploadFile) for v in value):
        return [await _read_whole(request, v) for v in value]
    return value


async def _read_whole(request, upload):
    """The whole content of ``upload``, which is then closed to free its memory or temporary
    file at once. Its size is bounded already: by the parameter's max_size (checked before)
    and by the multipart limits. Kept in the request's cache, keyed by the upload, so that a
    dependency and the handler may both take the same file as bytes."""
    cache = request._cache
    if cache is None:
        cache = request._cache = {}
    data = cache.get(upload)
    if data is None:
        try:
            await upload.seek(0)  # middleware may have read part of it
            data = cache[upload] = await upload.read()
        finally:
            await upload.close()
    return data


_JSON_MEDIA = re.compile(r"application/(?:[a-z0-9.+-]*\+)?json")


_FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _read_body_data(request, form_ok):
    """(data, coerce): parsed JSON, or a form as a dict (repeated keys -> lists) to coerce."""
    media = request.content_type
    if form_ok and media in _FORM_MEDIA:
        form = await request.form()
        if not len(form):
            return _MISSING, True
        data = {}
        for k, v in form.multi_items():
            if k in data:
                prev = data[k]
                data[k] = prev + [v] if isinstance(prev, list) else [prev, v]
            else:
                data[k] = v
        return data, True
    body = await request.body()
    if not body:
        return _MISSING, False
    # JSON is parsed only when declared as JSON: a form post cannot
    # smuggle a JSON body past CSRF defences (FastAPI CVE-2021-32677).
    if _JSON_MEDIA.fullmatch(media) is None:
        expected = "application/json (or a form)" if form_ok else "application/json"
        raise HTTPException(415, "expected Content-Type %s, got %r" % (expected, media or "nothing"))
    return parse_json(body), False


async def _solve_body(plan, request, kwargs, errors):
    data, coerce = await _read_body_data(request, plan.form_ok)
    if not plan.body_embed:
        name, conv, required, dflt, key = plan.body[0][:5]
        if data is _MISSING:
            if required:
                errors.append({"loc": ["body"], "msg": "field required", "type": "required"})
            kwargs[name] = dflt() if isinstance(dflt, Factory) else dflt
            return
        kwargs[name] = conv(data, ["body"], errors, coerce)
        return
    if data is not _MISSING and not isinstance(data, dict):
        errors.append({"loc": ["body"], "msg": "must be of type object", "type": "type"})
        return
    for name, conv, required, dflt, key in (b[:5] for b in plan.body):
        if data is _MISSING or key not in data:
            if required:
                errors.append({"loc": ["body", key], "msg": "field required", "type": "required"})
            kwargs[name] = dflt() if isinstance(dflt, Factory) else dflt
        else:
            kwargs[name] = conv(data[key], ["body", key], errors, coerce)


_MISSING = object()


async def _call_dependency(dep, plan, request, errors):
    cache = request._cache
    if dep.use_cache and cache is not None and dep.dependency in cache:
        return cache[dep.dependency]
    before = len(errors)
    kwargs = await solve(plan, request, errors)
    if len(errors) > before:
        return None
    kind = plan.call_kind
    fn = plan.fn
    if kind == "async":
        value = await fn(**kwargs)
    elif kind == "sync":
        value = await run_sync(request, fn, **kwargs)
    elif kind == "agen":
        gen = fn(**kwargs)
        try:
            value = await gen.__anext__()
        except StopAsyncIteration:
            raise RuntimeError("dependency %s did not yield" % qual(fn)) from None
        _push_cleanup(request, gen)
    else:
        gen = fn(**kwargs)
        value = await run_sync(request, _first, gen)
        _push_cleanup(request, gen)
    if dep.use_cache:
        if request._cache is None:
            request._cache = {}
        request._cache[dep.dependency] = value
    return value


def _push_cleanup(request, gen):
    if request._cleanups is None:
        request._cleanups = []
    request._cleanups.append(gen)


def _first(gen):
    # StopIteration cannot cross a Future (it would end the awaiting
    # coroutine); turn it into a clear error here, in the worker thread.
    try:
        return next(gen)
    except StopIteration:
        raise RuntimeError("dependency %s did not yield" % qual(gen)) from None


def _finish(gen, exc):
    try:
        if exc is None:
            next(gen)
        else:
            gen.throw(exc)
    except StopIteration:
        return
    gen.close()
    raise RuntimeError("dependency %s yielded more than once" % qual(gen))


async def _afinish(gen, exc):
    try:
        if exc is None:
            await gen.__anext__()
        else:
            await gen.athrow(exc)
    except StopAsyncIteration:
        return
    await gen.aclose()
    raise RuntimeError("dependency %s yielded more than once" % qual(gen))


async def teardown(request, gens, exc=None):
    """Close ``yield`` dependencies in reverse order; the handler's exception is thrown in at the yield."""
    for gen in reversed(gens):
        try:
            if inspect.isasyncgen(gen):
                await _afinish(gen, exc)
            else:
                await run_sync(request, _finish, gen, exc)
        except Exception as e:
            if e is not exc:  # re-raising the handler's error is the normal way out
                logger.exception("dependency %s failed during teardown", qual(gen))


def invalid(request, errors, form_ok):
    """The 422 for ``errors``; it says so when a JSON-or-form body was read as a form."""
    if form_ok and request.content_type in _FORM_MEDIA and any(
            e["type"] == "required" and e["loc"][:1] == ["body"] for e in errors):
        # A client that meant JSON and sent a form (requests' data= for json=) sees "field
        # required" for keys it believes it sent: name the cause.
        return RequestValidationError(errors, detail="the body was read as a form (Content-Type: %s); "
                                      "send application/json" % request.content_type)
    return RequestValidationError(errors)
