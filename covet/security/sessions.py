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
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import warnings
from typing import Any, Dict, Optional, Tuple

__all__ = ["SessionMiddleware", "Session", "Signer", "DEFAULT_MAX_AGE", "MAX_COOKIE_BYTES"]

DEFAULT_MAX_AGE = 14 * 24 * 3600
# RFC 6265 §6.1: browsers keep at least 4096 bytes per cookie (name, value and
# attributes), and most keep no more. A bigger cookie is silently dropped by the
# browser, so writing one is refused loudly instead.
MAX_COOKIE_BYTES = 4096
# HMAC-SHA256 keys shorter than the hash output weaken it (RFC 2104 §3).
MIN_KEY_BYTES = 32

_B64 = re.compile(r"[A-Za-z0-9_-]*")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
_SIG_LEN = 43  # base64url of 32 bytes, unpadded
# The session as JSON: compact, and NaN refused so that other languages can read it.
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_SAME_SITE = {"lax": "lax", "strict": "strict", "none": "none"}


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> Optional[bytes]:
    if not _B64.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _derive(secret: Any, purpose: bytes) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, (bytes, bytearray)):
        raise TypeError("a secret key must be str or bytes")
    if not secret:
        raise ValueError("a secret key must not be empty")
    if len(secret) < MIN_KEY_BYTES:
        warnings.warn("secret key is %d bytes; use at least %d (secrets.token_bytes(32))"
                      % (len(secret), MIN_KEY_BYTES), UserWarning, stacklevel=4)
    # One secret may serve sessions, CSRF and JWT: each derives its own key, so a value
    # signed for one purpose never verifies for another.
    return hmac.new(bytes(secret), purpose, hashlib.sha256).digest()


class Signer:
    """HMAC-SHA256 signatures with a timestamp, over several keys for rotation.

    ``secret_key`` is one secret or a list: the first signs, every one verifies.
    ``purpose`` separates uses of the same secret.

    Example::

        signer = Signer([new_secret, old_secret], b"covet.session")
        value = signer.sign("payload")
        signer.unsign(value)   # ("payload", timestamp, 0) -- 0: signed by the first key
    """

    __slots__ = ("_keys",)

    def __init__(self, secret_key: Any, purpose: bytes) -> None:
        secrets_ = list(secret_key) if isinstance(secret_key, (list, tuple)) else [secret_key]
        if not secrets_:
            raise ValueError("secret_key list is empty")
        self._keys = [hmac.new(_derive(s, purpose), digestmod=hashlib.sha256) for s in secrets_]

    def _mac(self, index: int, message: bytes) -> str:
        mac = self._keys[index].copy()
        mac.update(message)
        return _b64encode(mac.digest())

    def sign(self, payload: str, timestamp: Optional[int] = None) -> str:
        """``payload.timestamp.signature`` (``payload`` must be cookie-safe text)."""
        message = "%s.%d" % (payload, int(time.time()) if timestamp is None else timestamp)
        return message + "." + self._mac(0, message.encode("ascii"))

    def unsign(self, value: str) -> Optional[Tuple[str, int, int]]:
        """``(payload, timestamp, key index)`` when a key signed ``value``, else None (never raises)."""
        if not isinstance(value, str):
            return None
        message, dot, signature = value.rpartition(".")
        if not dot or len(signature) != _SIG_LEN:
            return None
        payload, dot, stamp = message.rpartition(".")
        if not dot or not _TIMESTAMP.fullmatch(stamp):
            return None
        try:
            raw = message.encode("ascii")
            sig = signature.encode("ascii")
        except UnicodeEncodeError:
            return None
        for index in range(len(self._keys)):
            if hmac.compare_digest(self._mac(index, raw).encode("ascii"), sig):
                return payload, int(stamp), index
        return None


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


def _check_cookie_options(cookie_name: str, same_site: str, https_only: bool, path: str,
                          domain: Optional[str]) -> str:
    if not isinstance(cookie_name, str) or not cookie_name or not all(
            c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in cookie_name):
        raise ValueError("invalid cookie name: %r" % (cookie_name,))
    site = _SAME_SITE.get(str(same_site).lower())
    if site is None:
        raise ValueError("same_site must be 'lax', 'strict' or 'none', not %r" % (same_site,))
    if site == "none" and not https_only:
        # Browsers drop SameSite=None cookies that lack Secure.
        raise ValueError("same_site='none' needs https_only=True")
    # RFC 6265bis §4.1.3: browsers refuse __Secure- cookies without Secure, and __Host-
    # cookies that also lack Path=/ or carry a Domain (werkzeug CVE-2023-23934 context).
    if cookie_name.startswith(("__Secure-", "__Host-")) and not https_only:
        raise ValueError("a %s- cookie needs https_only=True" % cookie_name.split("-")[0])
    if cookie_name.startswith("__Host-") and (path != "/" or domain is not None):
        raise ValueError("a __Host- cookie needs path='/' and no domain")
    return site


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
        self.same_site = _check_cookie_options(cookie_name, same_site, https_only, path, domain)
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
            decoded = _b64decode(found[0])
            if decoded is not None:
                try:
                    original = decoded.decode("utf-8")
                except UnicodeDecodeError:
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
            self._set(response, self.signer.sign(_b64encode(text.encode("utf-8"))))
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
