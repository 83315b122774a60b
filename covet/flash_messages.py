"""Flash messages: one-time notices kept in the session until a page shows them.

``flash(request, message, category="info")`` queues a message in ``request.session``;
``get_flashed_messages(request)`` takes every queued message out (the first call of a
request empties the queue; later calls in the same request see the same messages), so
a notice set before a redirect is shown once, on the page the redirect leads to. The
semantics are Flask's (``flask.flash`` / ``flask.get_flashed_messages``).

The queue is session data, so ``SessionMiddleware`` (covet.security.sessions) must run
for the request; without it both functions raise ``RuntimeError`` saying so. Messages are
plain text: the template engine escapes them like any other value.

Example::

    @app.post("/posts")
    async def create(request: Request):
        ...
        flash(request, "Post published.", "success")
        return RedirectResponse("/posts", status_code=303)

    # in a template (engine.response(request, ...) puts get_flashed_messages in the context):
    # {% for category, message in get_flashed_messages(with_categories=true) %}
    #   <p class="flash {{ category }}">{{ message }}</p>
    # {% endfor %}
"""
import json
from typing import Any, Iterable, List, Tuple, Union

__all__ = ["flash", "get_flashed_messages", "FLASH_SESSION_KEY", "FLASH_STATE_KEY",
           "MAX_FLASHED_MESSAGES", "MAX_FLASH_MESSAGE_BYTES", "MAX_FLASH_CATEGORY_BYTES"]

# The session key holding the queue: a list of [category, message] pairs (JSON, so that
# the signed-cookie session can hold it). Flask's key, so a reader of either knows it.
FLASH_SESSION_KEY = "_flashes"
# Where the messages taken out of the session are kept for the rest of the request, on
# request.state: a layout may call get_flashed_messages() twice (errors at the top, notices
# below) and both calls see the messages the first one took, as in Flask.
FLASH_STATE_KEY = "_covet_flashes"

# The limits keep a full queue inside a signed-cookie session. RFC 6265 §6.1: browsers keep
# at least 4096 bytes per cookie and most keep no more (covet.security.sessions refuses a
# bigger cookie with an error). A full queue is at most 8 x (200 + 32 + 8 bytes of JSON)
# = 1,920 bytes, about 2,560 once base64url-encoded, which leaves room for the rest of the
# session (a user id, the CSRF secret). They are read at each call: set
# ``covet.flash_messages.MAX_FLASHED_MESSAGES = 20`` to change one (server-side sessions, whose cookie
# holds only an id, can afford more).
#
# Messages queued beyond this many push the oldest unread ones out: a client that posts
# again and again without loading a page that shows them must not grow its session forever.
MAX_FLASHED_MESSAGES = 8
# Sizes are bytes as stored: the UTF-8 of the JSON string without its quotes, so a quote
# counts 2 (\") and a control character 6 (\u0001), and no message can take more room in the
# cookie than its limit says. A longer message is refused with ValueError: a notice is a
# sentence, and cutting it short silently would change what it says.
MAX_FLASH_MESSAGE_BYTES = 200
# A category names a kind of notice ("info", "error"), typically a CSS class.
MAX_FLASH_CATEGORY_BYTES = 32

_NO_SESSION = ("%s() needs request.session: add SessionMiddleware (covet.security.sessions) to the app, "
               "or to the group that serves this route")


def _session(request: Any, caller: str) -> Any:
    session = getattr(request, "session", None)
    if session is None:
        raise RuntimeError(_NO_SESSION % caller)
    return session


def flash(request: Any, message: str, category: str = "info") -> None:
    """Queue ``message`` in the session, to be shown by the next page that reads the queue.

    :param request: the current Request; SessionMiddleware must run for it.
    :param message: the text of the notice (at most ``MAX_FLASH_MESSAGE_BYTES`` bytes as stored).
    :param category: a short label such as ``"info"``, ``"success"``, ``"error"``.
    :raises RuntimeError: when the request has no session.
    :raises TypeError: when ``message`` or ``category`` is not a str.
    :raises ValueError: when either is longer than its limit.

    At most ``MAX_FLASHED_MESSAGES`` messages are queued; a newer one pushes the oldest out.

    Example::

        flash(request, "Saved.")
        flash(request, "The title is taken.", category="error")
    """
    session = _session(request, "flash")
    if not isinstance(message, str):
        raise TypeError("a flashed message must be a str, got %s" % type(message).__name__)
    if not isinstance(category, str):
        raise TypeError("a flash category must be a str, got %s" % type(category).__name__)
    size = _stored_size(message)
    if size > MAX_FLASH_MESSAGE_BYTES:
        raise ValueError("a flashed message is at most %d bytes as stored "
                         "(covet.flash_messages.MAX_FLASH_MESSAGE_BYTES), got %d" % (MAX_FLASH_MESSAGE_BYTES, size))
    size = _stored_size(category)
    if not category or size > MAX_FLASH_CATEGORY_BYTES:
        raise ValueError("a flash category is 1 to %d bytes as stored "
                         "(covet.flash_messages.MAX_FLASH_CATEGORY_BYTES), got %d" % (MAX_FLASH_CATEGORY_BYTES, size))
    queue = _pairs(session.get(FLASH_SESSION_KEY))
    # str(): a Markup (a str subclass) is queued as the plain text it is, and escaped when shown
    queue.append([str(category), str(message)])
    # Reassigned, not appended in place: the session notices a new value for its key.
    session[FLASH_SESSION_KEY] = queue[-MAX_FLASHED_MESSAGES:] if MAX_FLASHED_MESSAGES > 0 else []


def get_flashed_messages(request: Any, with_categories: bool = False,
                         category_filter: Iterable[str] = ()) -> List[Union[str, Tuple[str, str]]]:
    """The flashed messages, oldest first; the queue in the session is emptied.

    :param request: the current Request; SessionMiddleware must run for it.
    :param with_categories: return ``(category, message)`` pairs instead of messages.
    :param category_filter: return only messages of these categories (all when empty).
    :raises RuntimeError: when the request has no session.

    The first call of a request takes every message out of the session, those the filter
    leaves out too (Flask does the same); later calls in the same request see the same
    messages, so a page may show errors and notices in two places.

    Example::

        get_flashed_messages(request)                                # ['Saved.']
        get_flashed_messages(request, with_categories=True)          # [('info', 'Saved.')]
        get_flashed_messages(request, category_filter=["error"])     # []
    """
    session = _session(request, "get_flashed_messages")
    state = getattr(request, "state", None)
    bag = getattr(state, "__dict__", None)
    taken = bag.get(FLASH_STATE_KEY) if bag is not None else None
    if taken is None:
        taken = [(category, message) for category, message in _pairs(session.pop(FLASH_SESSION_KEY, None))]
        if bag is not None:
            bag[FLASH_STATE_KEY] = taken
    if isinstance(category_filter, str):
        category_filter = (category_filter,)  # one category given as a str, not its letters
    wanted = frozenset(category_filter)
    if wanted:
        picked = [pair for pair in taken if pair[0] in wanted]
    else:
        picked = list(taken)
    if with_categories:
        return list(picked)
    return [message for _, message in picked]


def _stored_size(text: str) -> int:
    """Bytes ``text`` takes in the session's JSON (UTF-8, no ASCII escaping), quotes left out."""
    try:
        return len(_encode_string(text).encode("utf-8")) - 2
    except UnicodeEncodeError:
        # A lone surrogate cannot be stored: the session would fail when the response goes out,
        # far from the cause, so it is refused here.
        raise ValueError("flashed text must be valid Unicode (it holds a lone surrogate)") from None


_encode_string = json.JSONEncoder(ensure_ascii=False).encode


def _pairs(stored: Any) -> List[List[str]]:
    """The queue as stored, keeping only well-formed [category, message] pairs.

    The session is signed, so only the server wrote it; a value written by an older version
    of the app, or by hand under the same key, is still never allowed to break a page.
    """
    if not isinstance(stored, list):
        return []
    return [[item[0], item[1]] for item in stored
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], str)]
