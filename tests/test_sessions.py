"""covet.security.sessions: the signed cookie checked byte by byte with hmac here, tampering,
expiry and key rotation giving empty sessions, rewrite-only-on-change, the server-side Cache
backend, and the constructor's guard rails."""
import base64
import hashlib
import hmac
import json
import pickle

import pytest

from covet import Covet, Request
from covet.cache import Cache
from covet.security import sessions as sessions_module
from covet.security import signing as signing_module
from covet.security import Session, SessionMiddleware
from covet.security.sessions import MAX_COOKIE_BYTES
from covet.security.signing import Signer

KEY = "session-secret-key-0123456789abcdef"  # 35 bytes
OLD_KEY = "older-secret-key-0123456789abcdefgh"
NOW = 1700000000
TWO_WEEKS = 14 * 24 * 3600


class FrozenClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    frozen = FrozenClock(NOW)
    monkeypatch.setattr(sessions_module, "time", frozen)  # max_age checks
    monkeypatch.setattr(signing_module, "time", frozen)   # the signed timestamp
    return frozen


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(payload, stamp=NOW, secret=KEY, purpose=b"covet.session"):
    """The cookie format, built here with hmac: payload.timestamp.HMAC-SHA256(derived key)."""
    key = hmac.new(secret.encode(), purpose, hashlib.sha256).digest()
    message = "%s.%d" % (payload, stamp)
    return message + "." + b64url(hmac.new(key, message.encode(), hashlib.sha256).digest())


def cookie_for(data, **kw):
    return sign(b64url(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")), **kw)


def session_app(**options):
    app = Covet()
    options.setdefault("secret_key", KEY)
    app.add_middleware(SessionMiddleware, **options)

    @app.get("/get")
    async def get(request: Request):
        return dict(request.session)

    @app.post("/set")
    async def set_(request: Request):
        request.session.update(await request.json())
        return dict(request.session)

    @app.post("/append")
    async def append(request: Request):
        request.session.setdefault("cart", []).append(await request.json())
        return dict(request.session)

    @app.post("/clear")
    async def clear(request: Request):
        request.session.clear()
        return {}

    @app.post("/login")
    async def login(request: Request):
        request.session.clear()
        request.session["user"] = (await request.json())["user"]
        return dict(request.session)

    @app.post("/bad")
    async def bad(request: Request):
        request.session["when"] = object()
        return {}

    @app.post("/big")
    async def big(request: Request):
        request.session["blob"] = "x" * 4000
        return {}

    return app


def set_cookie(r):
    return r.headers.getlist("set-cookie")


# ---------------------------------------------------------------- the signed cookie

def test_cookie_is_signed_json_with_a_timestamp(client):
    c = client(session_app())
    r = c.post("/set", json={"user": 42, "name": "Zoë"})
    assert r.json() == {"user": 42, "name": "Zoë"}
    expected = sign(b64url('{"user":42,"name":"Zoë"}'.encode("utf-8")))
    assert set_cookie(r) == ["session=%s; Max-Age=%d; Path=/; HttpOnly; SameSite=Lax" % (expected, TWO_WEEKS)]
    payload, stamp, _ = expected.split(".")
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"user": 42, "name": "Zoë"}
    assert stamp == str(NOW)


def test_session_round_trips_and_is_rewritten_only_on_change(client):
    c = client(session_app())
    c.post("/set", json={"a": 1})
    r = c.get("/get")
    assert r.json() == {"a": 1}
    assert set_cookie(r) == []
    r = c.post("/set", json={"a": 1})  # same value written again: no change
    assert set_cookie(r) == []
    r = c.post("/set", json={"b": [1, 2]})
    assert set_cookie(r) == ["session=%s; Max-Age=%d; Path=/; HttpOnly; SameSite=Lax"
                             % (cookie_for({"a": 1, "b": [1, 2]}), TWO_WEEKS)]
    assert c.get("/get").json() == {"a": 1, "b": [1, 2]}


def test_nested_mutation_counts_as_a_change(client):
    c = client(session_app())
    c.post("/append", json="apple")
    r = c.post("/append", json="pear")
    assert len(set_cookie(r)) == 1
    assert c.get("/get").json() == {"cart": ["apple", "pear"]}


def test_no_session_no_cookie(client):
    c = client(session_app())
    r = c.get("/get")
    assert r.json() == {}
    assert set_cookie(r) == []


def test_clear_deletes_the_cookie(client):
    c = client(session_app())
    c.post("/set", json={"a": 1})
    r = c.post("/clear")
    assert set_cookie(r) == ['session=""; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; '
                             'SameSite=Lax']
    assert c.cookies == {}
    assert c.get("/get").json() == {}


def test_request_session_is_a_session_dict(client):
    seen = []
    app = session_app()

    @app.get("/type")
    async def kind(request: Request):
        seen.append(type(request.session))
        return {}

    client(app).get("/type")
    assert seen == [Session]


# ---------------------------------------------------------------- tampering and expiry

TAMPERED = [
    pytest.param(lambda: cookie_for({"user": 1}, secret="another-secret-key-0123456789abcdef"), id="other key"),
    pytest.param(lambda: cookie_for({"user": 1}).replace(b64url(b'{"user":1}'), b64url(b'{"user":2}')),
                 id="payload swapped"),
    pytest.param(lambda: cookie_for({"user": 1}).rsplit(".", 1)[0] + "." + "A" * 43, id="signature zeroed"),
    pytest.param(lambda: cookie_for({"user": 1})[:-1], id="signature cut"),
    pytest.param(lambda: cookie_for({"user": 1}).replace(".%d." % NOW, ".%d." % (NOW + 1)), id="timestamp moved"),
    pytest.param(lambda: cookie_for({"user": 1}, purpose=b"covet.csrf"), id="signed for another purpose"),
    pytest.param(lambda: "garbage", id="garbage"),
    pytest.param(lambda: "a.b.c", id="three dots"),
    pytest.param(lambda: "..", id="empty parts"),
    pytest.param(lambda: "x.12ab." + "A" * 43, id="bad timestamp"),
    pytest.param(lambda: sign("!!!not-base64!!!"), id="signed non-base64"),
    pytest.param(lambda: sign(b64url(b"\xff\xfe")), id="signed non-utf8"),
    pytest.param(lambda: sign(b64url(b"[1, 2]")), id="signed JSON list"),
    pytest.param(lambda: sign(b64url(b"{bad json")), id="signed bad JSON"),
    pytest.param(lambda: sign(b64url(pickle.dumps({"user": 1}))), id="signed pickle is never unpickled"),
    pytest.param(lambda: cookie_for({"user": "x" * 5000}), id="over the cookie size limit"),
]


@pytest.mark.parametrize("make", TAMPERED)
def test_tampered_cookie_gives_an_empty_session_and_is_dropped(client, make):
    c = client(session_app())
    r = c.get("/get", cookies={"session": make()})
    assert r.status_code == 200
    assert r.json() == {}
    assert set_cookie(r)[0].startswith('session=""; Max-Age=0;')


@pytest.mark.parametrize("age, expect", [
    (TWO_WEEKS - 1, {"user": 1}),
    (TWO_WEEKS, {"user": 1}),
    (TWO_WEEKS + 1, {}),
])
def test_expiry_is_checked_on_the_signed_timestamp(client, clock, age, expect):
    c = client(session_app())
    value = cookie_for({"user": 1})
    clock.now = NOW + age
    assert c.get("/get", cookies={"session": value}).json() == expect


def test_max_age_none_is_a_browser_session_cookie_without_expiry(client, clock):
    c = client(session_app(max_age=None))
    r = c.post("/set", json={"a": 1})
    assert set_cookie(r) == ["session=%s; Path=/; HttpOnly; SameSite=Lax" % cookie_for({"a": 1})]
    clock.now = NOW + 10 * 365 * 24 * 3600
    assert c.get("/get").json() == {"a": 1}


# ---------------------------------------------------------------- key rotation

def test_rotation_reads_old_cookies_and_re_signs_them_with_the_new_key(client):
    c = client(session_app(secret_key=[KEY, OLD_KEY]))
    old = cookie_for({"user": 7}, secret=OLD_KEY)
    r = c.get("/get", cookies={"session": old})
    assert r.json() == {"user": 7}
    assert set_cookie(r) == ["session=%s; Max-Age=%d; Path=/; HttpOnly; SameSite=Lax"
                             % (cookie_for({"user": 7}), TWO_WEEKS)]
    r = c.get("/get")  # now carrying the re-signed cookie: nothing to rewrite
    assert r.json() == {"user": 7}
    assert set_cookie(r) == []


def test_a_retired_key_no_longer_verifies(client):
    c = client(session_app(secret_key=[KEY]))
    assert c.get("/get", cookies={"session": cookie_for({"user": 7}, secret=OLD_KEY)}).json() == {}


def test_signer_reports_which_key_signed():
    signer = Signer([KEY, OLD_KEY], b"covet.session")
    assert signer.unsign(sign("abc", secret=OLD_KEY)) == ("abc", NOW, 1)
    assert signer.unsign(signer.sign("abc")) == ("abc", NOW, 0)
    assert signer.unsign(None) is None
    assert signer.unsign("abc.%d.%s" % (NOW, "é" * 43)) is None


# ---------------------------------------------------------------- cookie options and errors

def test_cookie_attributes(client):
    c = client(session_app(cookie_name="__Host-sid", https_only=True, same_site="strict", max_age=600),
               base_url="https://testserver")
    r = c.post("/set", json={"a": 1})
    assert set_cookie(r) == ["__Host-sid=%s; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=Strict"
                             % cookie_for({"a": 1})]


def test_domain_and_path(client):
    c = client(session_app(domain="example.com", path="/app"))
    r = c.post("/set", json={"a": 1})
    assert set_cookie(r)[0].endswith("; Path=/app; Domain=example.com; HttpOnly; SameSite=Lax")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"same_site": "sometimes"}, ValueError, "same_site must be 'lax', 'strict' or 'none', not 'sometimes'"),
    ({"same_site": "none"}, ValueError, "same_site='none' needs https_only=True"),
    ({"cookie_name": "__Host-s"}, ValueError, "a __Host- cookie needs https_only=True"),
    ({"cookie_name": "__Secure-s"}, ValueError, "a __Secure- cookie needs https_only=True"),
    ({"cookie_name": "__Host-s", "https_only": True, "path": "/a"}, ValueError,
     "a __Host- cookie needs path='/' and no domain"),
    ({"cookie_name": "__Host-s", "https_only": True, "domain": "example.com"}, ValueError,
     "a __Host- cookie needs path='/' and no domain"),
    ({"cookie_name": "bad name"}, ValueError, "invalid cookie name: 'bad name'"),
    ({"max_age": 0}, ValueError, "max_age must be a positive number of seconds or None"),
    ({"max_age": True}, ValueError, "max_age must be a positive number of seconds or None"),
    ({"backend": {}}, TypeError, "backend must be a Cache (with aget, aset and adelete)"),
    ({"secret_key": []}, ValueError, "secret_key list is empty"),
    ({"secret_key": ""}, ValueError, "a secret key must not be empty"),
    ({"secret_key": 42}, TypeError, "a secret key must be str or bytes"),
])
def test_constructor_errors(kwargs, error, message):
    kwargs.setdefault("secret_key", KEY)
    with pytest.raises(error) as info:
        SessionMiddleware(**kwargs)
    assert str(info.value) == message


def test_short_key_warns():
    with pytest.warns(UserWarning, match="secret key is 5 bytes; use at least 32"):
        SessionMiddleware("short")


def test_non_json_value_is_a_clear_error(client):
    c = client(session_app())
    with pytest.raises(TypeError) as info:
        c.post("/bad")
    assert str(info.value).startswith("request.session must hold only JSON values")


def test_oversized_cookie_is_refused_loudly(client):
    c = client(session_app())
    with pytest.raises(ValueError) as info:
        c.post("/big")
    assert "over the %d-byte browser limit" % MAX_COOKIE_BYTES in str(info.value)


def test_oversized_session_fits_server_side(client):
    c = client(session_app(backend=Cache()))
    assert c.post("/big").status_code == 200
    assert len(c.get("/get").json()["blob"]) == 4000


# ---------------------------------------------------------------- server-side backend

class SpyCache(Cache):
    def __init__(self):
        super().__init__(ttl=60)
        self.calls = []

    async def aset(self, key, value, ttl=None):
        self.calls.append(("set", key, value, ttl))
        return await super().aset(key, value, ttl)

    async def adelete(self, key):
        self.calls.append(("delete", key))
        return await super().adelete(key)


def sid_of(c):
    payload, stamp, _ = c.cookies["session"].split(".")
    return payload


def test_server_side_keeps_json_in_the_cache_and_an_id_in_the_cookie(client):
    cache = SpyCache()
    c = client(session_app(backend=cache))
    r = c.post("/set", json={"user": 42})
    sid = sid_of(c)
    assert len(sid) == 43
    assert set_cookie(r) == ["session=%s; Max-Age=%d; Path=/; HttpOnly; SameSite=Lax" % (sign(sid), TWO_WEEKS)]
    assert cache.calls == [("set", "session:" + sid, '{"user":42}', TWO_WEEKS)]
    assert cache.get("session:" + sid) == '{"user":42}'

    cache.calls.clear()
    r = c.get("/get")
    assert r.json() == {"user": 42}
    assert (set_cookie(r), cache.calls) == ([], [])

    r = c.post("/set", json={"n": 1})
    assert cache.calls == [("set", "session:" + sid, '{"user":42,"n":1}', TWO_WEEKS)]
    assert sid_of(c) == sid and len(set_cookie(r)) == 1


def test_server_side_clear_then_login_gets_a_new_id(client):
    cache = SpyCache()
    c = client(session_app(backend=cache))
    c.post("/set", json={"cart": 1})
    old = sid_of(c)
    cache.calls.clear()
    c.post("/login", json={"user": "ann"})
    new = sid_of(c)
    assert new != old
    assert cache.calls == [("delete", "session:" + old), ("set", "session:" + new, '{"user":"ann"}', TWO_WEEKS)]
    assert cache.get("session:" + old) is None
    assert c.get("/get").json() == {"user": "ann"}


def test_server_side_clear_deletes_entry_and_cookie(client):
    cache = SpyCache()
    c = client(session_app(backend=cache))
    c.post("/set", json={"a": 1})
    sid = sid_of(c)
    r = c.post("/clear")
    assert set_cookie(r)[0].startswith('session=""; Max-Age=0;')
    assert cache.get("session:" + sid) is None


def test_server_side_lost_entry_starts_a_new_session(client):
    cache = Cache()
    c = client(session_app(backend=cache))
    c.post("/set", json={"a": 1})
    old = sid_of(c)
    cache.clear()
    assert c.get("/get").json() == {}
    c.post("/set", json={"b": 2})
    assert sid_of(c) != old


@pytest.mark.parametrize("value", [
    "A" * 43,  # an id, unsigned
    sign("short-id"),  # signed, but not an id of ours
    sign("B" * 43, secret="another-secret-key-0123456789abcdef"),
])
def test_server_side_forged_ids_give_empty_sessions(client, value):
    cache = Cache()
    cache.set("session:" + "A" * 43, '{"user":"victim"}')
    cache.set("session:" + "B" * 43, '{"user":"victim"}')
    c = client(session_app(backend=cache))
    assert c.get("/get", cookies={"session": value}).json() == {}


def test_server_side_rotation_re_signs_the_id(client):
    cache = Cache()
    cache.set("session:" + "C" * 43, '{"user":"bo"}')
    c = client(session_app(backend=cache, secret_key=[KEY, OLD_KEY]))
    r = c.get("/get", cookies={"session": sign("C" * 43, secret=OLD_KEY)})
    assert r.json() == {"user": "bo"}
    assert set_cookie(r)[0].startswith("session=%s;" % sign("C" * 43))


def test_server_side_entry_that_is_not_json_text_is_ignored(client):
    cache = Cache()
    cache.set("session:" + "D" * 43, {"user": "not text"})
    c = client(session_app(backend=cache))
    assert c.get("/get", cookies={"session": sign("D" * 43)}).json() == {}
