"""Sessions: ``request.session`` as a dict, kept in a signed cookie or in a Cache.

The signed cookie is ``<base64url JSON>.<timestamp>.<HMAC-SHA256>``: readable by the
client, unforgeable without the key, and JSON only (never pickle: bottle's
``cookie_encode`` pickles, so a leaked key there means code execution). A tampered,
expired or otherwise unreadable cookie gives an empty session, never an error.

Example::

    app.add_middleware(SessionMiddleware, secret_key=[new_secret, old_secret])

    @app.post("/login")
    async def login(request: Request):
        request.session.clear()              # a fresh session (and id) at login
        request.session["user_id"] = 42
"""
import json
import re
import secrets
import time
from typing import Any, Dict, Optional, Tuple

from ._cookies import check_cookie_options
# Signer and MIN_KEY_BYTES stay importable from here too.
from .signing import MIN_KEY_BYTES, Signer, b64url_decode, b64url_encode

__all__ = ["SessionMiddleware", "Session", "Signer", "MIN_KEY_BYTES", "DEFAULT_MAX_AGE", "MAX_COOKIE_BYTES"]

DEFAULT_MAX_AGE = 14 * 24 * 3600
# RFC 6265 §6.1: browsers keep at least 4096 bytes per cookie (name, value and
# attributes), and most keep no more. A bigger cookie is silently dropped by the
# browser, so writing one is refused loudly instead.
MAX_COOKIE_BYTES = 4096

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
# The session as JSON: compact, and NaN refused so that other languages can read it.
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class Session(dict):
    """``request.session``: a dict of JSON values. ``clear()`` also starts a new server-side id."""

    __slots__ = ("cleared",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cleared = False

    def clear(self) -> None:
        """Empty the session; with a server-side backend the next write gets a new id."""
        self.cleared = True
        super().clear()


class SessionMiddleware:
    """``request.session`` in a signed cookie, or in a ``Cache`` with only a signed id in the cookie.

    :param secret_key: str or bytes, or a list of them: the first signs, all verify (rotation).
    :param cookie_name: the cookie's name (``__Host-session`` is the strictest choice over HTTPS).
    :param max_age: seconds a session lives after its last change (None: until the browser closes).
    :param same_site: "lax", "strict" or "none".
    :param https_only: add ``Secure`` to the cookie.
    :param backend: a ``Cache`` (anything with ``aget``/``aset``/``adelete``) to keep the
        data server-side; the cookie then holds a random 256-bit id.
    :param path: the cookie's Path.
    :param domain: the cookie's Domain (None: this host only).
    :param key_prefix: prefix of the backend keys.

    Example::

        app.add_middleware(SessionMiddleware, secret_key=secret, backend=Cache(ttl=3600))
    """

    def __init__(self, secret_key: Any, cookie_name: str = "session", max_age: Optional[int] = DEFAULT_MAX_AGE,
                 same_site: str = "lax", https_only: bool = False, backend: Any = None, path: str = "/",
                 domain: Optional[str] = None, key_prefix: str = "session:") -> None:
        self.signer = Signer(secret_key, b"covet.session")
        self.same_site = check_cookie_options(cookie_name, same_site, https_only, path, domain)
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0):
            raise ValueError("max_age must be a positive number of seconds or None")
        if backend is not None and not all(callable(getattr(backend, m, None)) for m in ("aget", "aset", "adelete")):
            raise TypeError("backend must be a Cache (with aget, aset and adelete)")
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.https_only = bool(https_only)
        self.backend = backend
        self.path = path
        self.domain = domain
        self.key_prefix = key_prefix

    # -- the signed-cookie form ------------------------------------------
    def _verify(self, raw: Optional[str]) -> Optional[Tuple[str, int]]:
        """(payload, key index) of a valid, unexpired cookie value."""
        if raw is None or len(raw) > MAX_COOKIE_BYTES:
            return None
        found = self.signer.unsign(raw)
        if found is None:
            return None
        payload, stamp, index = found
        if self.max_age is not None and time.time() - stamp > self.max_age:
            return None
        return payload, index

    @staticmethod
    def _load_json(text: Any) -> Dict[str, Any]:
        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    async def __call__(self, request: Any, call_next: Any) -> Any:
        raw = request.cookies.get(self.cookie_name)
        found = self._verify(raw)
        if self.backend is None:
            return await self._signed(request, call_next, raw, found)
        return await self._server_side(request, call_next, raw, found)

    async def _signed(self, request: Any, call_next: Any, raw: Optional[str], found: Any) -> Any:
        original = None
        data = {}  # type: Dict[str, Any]
        if found is not None:
            try:
                original = b64url_decode(found[0]).decode("utf-8")
            except ValueError:  # not base64url, or not UTF-8 (UnicodeDecodeError is a ValueError)
                original = None
            data = self._load_json(original)
        session = request.session = Session(data)
        response = await call_next(request)
        current = request.session if request.session is not None else session
        if not current:
            if raw is not None:
                self._delete(response)
            return response
        text = self._encode(current)
        # Rewrite only on change, or to move a cookie signed with an old key onto the new one.
        if text != original or (found is not None and found[1] != 0):
            self._set(response, self.signer.sign(b64url_encode(text.encode("utf-8")).decode("ascii")))
        return response

    # -- the server-side form ----------------------------------------------
    async def _server_side(self, request: Any, call_next: Any, raw: Optional[str], found: Any) -> Any:
        sid = None
        original = None
        data = {}  # type: Dict[str, Any]
        if found is not None and _SESSION_ID.fullmatch(found[0]):
            sid = found[0]
            stored = await self.backend.aget(self.key_prefix + sid)
            if isinstance(stored, str):
                original = stored
                data = self._load_json(stored)
            if not data:
                sid = None  # expired or evicted on the server: start over with a new id
        session = request.session = Session(data)
        response = await call_next(request)
        current = request.session if request.session is not None else session
        # A cleared session never keeps its id (session fixation: OWASP Session Management).
        fresh = sid is None or getattr(current, "cleared", False) or current is not session
        if sid is not None and (fresh or not current):
            await self.backend.adelete(self.key_prefix + sid)
        if not current:
            if raw is not None:
                self._delete(response)
            return response
        text = self._encode(current)
        if fresh:
            sid = secrets.token_urlsafe(32)
        elif text == original and found[1] == 0:
            return response
        # The data is stored as JSON text: the Cache may be Redis, and pickle is never used.
        await self.backend.aset(self.key_prefix + sid, text, self.max_age)
        self._set(response, self.signer.sign(sid))
        return response

    # -- cookies -------------------------------------------------------------
    @staticmethod
    def _encode(session: Any) -> str:
        try:
            return _dumps(session)
        except (TypeError, ValueError) as exc:
            raise TypeError("request.session must hold only JSON values (str, int, float, bool, "
                            "None, list, dict with str keys): %s" % exc) from None

    def _set(self, response: Any, value: str) -> None:
        size = len(self.cookie_name) + 1 + len(value)
        if size > MAX_COOKIE_BYTES:
            raise ValueError("the session cookie would be %d bytes, over the %d-byte browser limit; "
                             "keep less in the session or use SessionMiddleware(backend=Cache(...))"
                             % (size, MAX_COOKIE_BYTES))
        response.set_cookie(self.cookie_name, value, max_age=self.max_age, path=self.path, domain=self.domain,
                            secure=self.https_only, httponly=True, samesite=self.same_site)

    def _delete(self, response: Any) -> None:
        response.delete_cookie(self.cookie_name, path=self.path, domain=self.domain, secure=self.https_only,
                               httponly=True, samesite=self.same_site)

    def __repr__(self) -> str:
        return "<SessionMiddleware %s%s>" % (self.cookie_name, " server-side" if self.backend is not None else "")
