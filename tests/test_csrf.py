"""covet.security.csrf: tokens masked per call and unmasked here with XOR, the signed cookie
checked with hmac, accept and reject paths (header, form field, multipart, session-bound),
exempt paths, and Origin/Referer checks over HTTPS."""
import base64
import hashlib
import hmac
import re

import pytest

from covet import Covet, Request
from covet.security import CSRFMiddleware, SessionMiddleware, csrf_token
from covet.security.csrf import SESSION_KEY
from covet.templates import TemplateEngine

KEY = "csrf-secret-key-0123456789abcdefghij"
PREFIX = "CSRF check failed: "
NO_TOKEN = PREFIX + "no token in the X-CSRF-Token header or the csrf_token form field"
NO_COOKIE = PREFIX + "the CSRF cookie is missing or invalid"
INVALID = PREFIX + "the token is invalid"
# Every 403 says how a route that needs no token opts out.
HOW_TO_EXEMPT = ("; a route that takes no cookie credentials (a webhook, a bearer-token API) can opt out: "
                 "list its path in exempt_paths or decorate its handler with @csrf_exempt")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unmask(token):
    raw = unb64url(token)
    pad, masked = raw[:32], raw[32:]
    return bytes(a ^ b for a, b in zip(pad, masked))


def mask(secret, pad=b"\x07" * 32):
    return b64url(pad + bytes(a ^ b for a, b in zip(pad, secret)))


def signed_cookie(secret, stamp):
    key = hmac.new(KEY.encode(), b"covet.csrf", hashlib.sha256).digest()
    message = "%s.%s" % (b64url(secret), stamp)
    return message + "." + b64url(hmac.new(key, message.encode(), hashlib.sha256).digest())


def problem(detail, path, status=403):
    """The problem body; a CSRF 403's detail is the reason followed by HOW_TO_EXEMPT."""
    title = {400: "Bad Request", 403: "Forbidden"}[status]
    if status == 403:
        detail += HOW_TO_EXEMPT
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": path}


def csrf_app(sessions=False, **options):
    app = Covet()
    if sessions:
        app.add_middleware(SessionMiddleware, secret_key=KEY)
    options.setdefault("secret_key", KEY)
    app.add_middleware(CSRFMiddleware, **options)

    @app.get("/form")
    async def form(request: Request):
        return {"token": csrf_token(request), "again": csrf_token(request)}

    @app.get("/plain")
    async def plain():
        return {"ok": True}

    @app.route("/submit", methods=["POST", "PUT", "PATCH", "DELETE"])
    async def submit(request: Request):
        body = await request.body()
        return {"ok": True, "method": request.method, "length": len(body)}

    @app.post("/comment")
    async def comment(request: Request):
        form = await request.form()
        return {"text": form.get("text")}

    @app.post("/webhooks/github")
    async def hook():
        return {"hook": True}

    @app.post("/api/v1/ping")
    async def ping():
        return {"pong": True}

    @app.post("/logout")
    async def logout(request: Request):
        request.session.clear()
        return {}

    return app


def get_token(c):
    return c.get("/form").json()["token"]


# ---------------------------------------------------------------- issuing

def test_no_token_asked_no_cookie(client):
    c = client(csrf_app())
    r = c.get("/plain")
    assert r.headers.getlist("set-cookie") == []


def test_token_is_masked_per_call_and_the_cookie_holds_the_signed_secret(client):
    c = client(csrf_app())
    r = c.get("/form")
    token, again = r.json()["token"], r.json()["again"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", token)
    assert token != again
    secret = unmask(token)
    assert unmask(again) == secret and len(secret) == 32
    cookie = r.headers.getlist("set-cookie")
    assert len(cookie) == 1
    value = c.cookies["csrftoken"]
    stamp = value.split(".")[1]
    assert value == signed_cookie(secret, stamp)
    assert cookie[0] == "csrftoken=%s; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax" % value


def test_every_response_carries_different_bytes_but_the_same_secret(client):
    # BREACH (tornado CVE-2014-9720): the token never repeats across responses.
    c = client(csrf_app())
    tokens = [get_token(c) for _ in range(5)]
    assert len(set(tokens)) == 5
    assert len({unmask(t) for t in tokens}) == 1


def test_cookie_is_issued_once(client):
    c = client(csrf_app())
    c.get("/form")
    assert c.get("/form").headers.getlist("set-cookie") == []


def test_csrf_token_without_the_middleware_is_a_clear_error(client):
    app = Covet()

    @app.get("/")
    async def page(request: Request):
        return csrf_token(request)

    with pytest.raises(RuntimeError) as info:
        client(app).get("/")
    assert str(info.value) == ("csrf_token() needs CSRFProtection: "
                               "app.add_middleware(CSRFProtection(secret_key=...))")


def test_template_global(client, tmp_path):
    engine = TemplateEngine(str(tmp_path))
    engine.add_global("csrf_token", csrf_token)
    app = csrf_app()

    @app.get("/page")
    async def page(request: Request):
        return engine.render_string('<input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">',
                                    request=request)

    c = client(app)
    html = c.get("/page").text
    token = re.fullmatch(r'<input type="hidden" name="csrf_token" value="([A-Za-z0-9_-]{86})">', html).group(1)
    assert c.post("/comment", data={"csrf_token": token, "text": "hi"}).json() == {"text": "hi"}


# ---------------------------------------------------------------- accept

@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_header_token_is_accepted_for_every_unsafe_method(client, method):
    c = client(csrf_app())
    token = get_token(c)
    r = c.request(method, "/submit", headers={"X-CSRF-Token": token}, content=b"abc")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "method": method, "length": 3}


def test_form_field_is_accepted_and_the_handler_still_reads_the_form(client):
    c = client(csrf_app())
    token = get_token(c)
    r = c.post("/comment", data={"text": "hello", "csrf_token": token})
    assert r.json() == {"text": "hello"}


def test_multipart_form_field_is_accepted(client):
    c = client(csrf_app())
    token = get_token(c)
    r = c.post("/comment", data={"text": "with file", "csrf_token": token}, files={"f": ("a.txt", b"data")})
    assert r.json() == {"text": "with file"}


def test_a_token_from_an_earlier_response_stays_valid(client):
    c = client(csrf_app())
    first = get_token(c)
    get_token(c)
    assert c.post("/submit", headers={"X-CSRF-Token": first}).status_code == 200


def test_custom_header_and_field_names(client):
    c = client(csrf_app(header_name="X-XSRF-TOKEN", field_name="_token"))
    token = get_token(c)
    assert c.post("/submit", headers={"x-xsrf-token": token}).status_code == 200
    assert c.post("/comment", data={"_token": token, "text": "t"}).json() == {"text": "t"}
    r = c.post("/submit", headers={"X-CSRF-Token": token})
    assert r.json() == problem(PREFIX + "no token in the X-XSRF-TOKEN header or the _token form field", "/submit")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_need_no_token(client, method):
    c = client(csrf_app())
    assert c.request(method, "/plain").status_code in (200, 204)


def test_custom_safe_methods(client):
    c = client(csrf_app(safe_methods=["get", "head", "options", "trace", "put"]))
    assert c.put("/submit").status_code == 200
    assert c.post("/submit").status_code == 403


@pytest.mark.parametrize("exempt, path, status", [
    (["/webhooks/github"], "/webhooks/github", 200),
    (["/webhooks/*"], "/webhooks/github", 200),
    ([re.compile(r"/api/v[0-9]+/ping")], "/api/v1/ping", 200),
    (["/webhooks"], "/webhooks/github", 403),
    (["/webhooks/*"], "/submit", 403),
    ("/api/v1/ping", "/api/v1/ping", 200),
])
def test_exempt_paths(client, exempt, path, status):
    c = client(csrf_app(exempt_paths=exempt))
    assert c.post(path).status_code == status


# ---------------------------------------------------------------- reject

@pytest.mark.parametrize("make_headers, detail", [
    (lambda token: {}, NO_TOKEN),
    (lambda token: {"X-CSRF-Token": ""}, NO_TOKEN),
    (lambda token: {"X-CSRF-Token": "abc"}, INVALID),
    (lambda token: {"X-CSRF-Token": token[:-1]}, INVALID),
    (lambda token: {"X-CSRF-Token": token + "A"}, INVALID),
    (lambda token: {"X-CSRF-Token": "!" * 86}, INVALID),
    (lambda token: {"X-CSRF-Token": token[:-1] + ("B" if token[-1] != "B" else "C")}, INVALID),
    (lambda token: {"X-CSRF-Token": mask(b"\x00" * 32)}, INVALID),
    (lambda token: {"X-CSRF-Token": b64url(unmask(token))}, INVALID),  # the bare secret
    (lambda token: {"X-CSRF-Token": "é" * 86}, INVALID),
])
def test_bad_tokens_are_403(client, make_headers, detail):
    c = client(csrf_app())
    token = get_token(c)
    r = c.post("/submit", headers=make_headers(token))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == problem(detail, "/submit")


def test_own_masking_of_the_right_secret_is_accepted(client):
    c = client(csrf_app())
    secret = unmask(get_token(c))
    assert c.post("/submit", headers={"X-CSRF-Token": mask(secret, pad=b"\x99" * 32)}).status_code == 200


def test_no_cookie_is_403(client):
    c = client(csrf_app())
    token = get_token(c)
    c.cookies.clear()
    r = c.post("/submit", headers={"X-CSRF-Token": token})
    assert r.json() == problem(NO_COOKIE, "/submit")
    assert r.headers.getlist("set-cookie") == []


@pytest.mark.parametrize("forge", [
    lambda secret, cookie: b64url(secret),  # the secret without a signature
    lambda secret, cookie: cookie.rsplit(".", 1)[0] + "." + "A" * 43,
    lambda secret, cookie: signed_cookie(b"\x01" * 31, "1"),  # signed, but not 32 bytes
    lambda secret, cookie: "x" * 300,
])
def test_forged_cookie_is_403(client, forge):
    c = client(csrf_app())
    token = get_token(c)
    c.cookies["csrftoken"] = forge(unmask(token), c.cookies["csrftoken"])
    assert c.post("/submit", headers={"X-CSRF-Token": token}).json() == problem(NO_COOKIE, "/submit")


def test_cookie_planted_by_an_attacker_does_not_match_the_victims_token(client):
    attacker, victim = client(csrf_app()), client(csrf_app())
    attacker_token = get_token(attacker)
    get_token(victim)
    r = victim.post("/submit", headers={"X-CSRF-Token": attacker_token})
    assert r.json() == problem(INVALID, "/submit")


def test_wrong_form_field_type_and_bad_form_body(client):
    c = client(csrf_app())
    get_token(c)
    r = c.post("/comment", data={"text": "x"}, files={"csrf_token": ("t.txt", b"not a field")})
    assert r.json() == problem(NO_TOKEN, "/comment")
    r = c.post("/comment", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400
    assert r.json()["instance"] == "/comment"


def test_json_body_token_is_not_read(client):
    c = client(csrf_app())
    token = get_token(c)
    r = c.post("/submit", json={"csrf_token": token})
    assert r.json() == problem(NO_TOKEN, "/submit")


# ---------------------------------------------------------------- tied to the session

def test_with_sessions_the_secret_lives_in_the_session_not_a_cookie(client):
    seen = {}
    app = csrf_app(sessions=True)

    @app.get("/peek")
    async def peek(request: Request):
        seen.update(request.session)
        return {}

    c = client(app)
    token = get_token(c)
    assert "csrftoken" not in c.cookies and "session" in c.cookies
    c.get("/peek")
    assert seen[SESSION_KEY] == b64url(unmask(token))
    assert c.post("/submit", headers={"X-CSRF-Token": token}).status_code == 200


def test_session_bound_token_dies_with_the_session(client):
    c = client(csrf_app(sessions=True))
    token = get_token(c)
    assert c.post("/logout", headers={"X-CSRF-Token": token}).status_code == 200
    r = c.post("/submit", headers={"X-CSRF-Token": token})
    assert r.json() == problem(PREFIX + "the session has no CSRF token", "/submit")


def test_session_bound_token_is_refused_in_another_session(client):
    alice, mallory = client(csrf_app(sessions=True)), client(csrf_app(sessions=True))
    get_token(alice)
    r = alice.post("/submit", headers={"X-CSRF-Token": get_token(mallory)})
    assert r.json() == problem(INVALID, "/submit")


def test_session_without_token_yet_is_403(client):
    c = client(csrf_app(sessions=True))
    r = c.post("/submit", headers={"X-CSRF-Token": mask(b"\x00" * 32)})
    assert r.json() == problem(PREFIX + "the session has no CSRF token", "/submit")


# ---------------------------------------------------------------- Origin and Referer over HTTPS

HTTPS_OK = None


@pytest.mark.parametrize("headers, detail", [
    ({"Origin": "https://testserver"}, HTTPS_OK),
    ({"Origin": "https://TESTSERVER:443"}, HTTPS_OK),
    ({"Origin": "https://app.example.com"}, HTTPS_OK),  # trusted_origins
    ({"Origin": "https://evil.example"}, PREFIX + "the Origin header is not this site"),
    ({"Origin": "http://testserver"}, PREFIX + "the Origin header is not this site"),
    ({"Origin": "https://testserver:8443"}, PREFIX + "the Origin header is not this site"),
    ({"Origin": "null"}, PREFIX + "the Origin header is not this site"),
    ({"Origin": "https://testserver/path"}, PREFIX + "the Origin header is not this site"),
    ({"Origin": "https://testserver.evil.example"}, PREFIX + "the Origin header is not this site"),
    ({"Referer": "https://testserver/form?x=1"}, HTTPS_OK),
    ({"Referer": "https://app.example.com/page"}, HTTPS_OK),
    ({"Referer": "http://testserver/form"}, PREFIX + "the Referer is not an HTTPS page"),
    ({"Referer": "https://evil.example/form"}, PREFIX + "the Referer header is not this site"),
    ({"Referer": "https://testserver@evil.example/"}, PREFIX + "the Referer header is not this site"),
    ({"Referer": "https://[bad"}, PREFIX + "the Referer header is not this site"),
    ({}, PREFIX + "an HTTPS request needs an Origin or Referer header"),
])
def test_origin_and_referer_over_https(client, headers, detail):
    c = client(csrf_app(trusted_origins=["https://app.example.com"]), base_url="https://testserver")
    token = get_token(c)
    r = c.post("/submit", headers=dict(headers, **{"X-CSRF-Token": token}))
    if detail is HTTPS_OK:
        assert r.status_code == 200
    else:
        assert r.json() == problem(detail, "/submit")


def test_origin_is_checked_before_the_token(client):
    c = client(csrf_app(), base_url="https://testserver")
    r = c.post("/submit", headers={"Origin": "https://evil.example"})
    assert r.json() == problem(PREFIX + "the Origin header is not this site", "/submit")


def test_over_plain_http_origin_is_not_checked(client):
    c = client(csrf_app())
    token = get_token(c)
    assert c.post("/submit", headers={"Origin": "https://evil.example", "X-CSRF-Token": token}).status_code == 200


# ---------------------------------------------------------------- construction

@pytest.mark.parametrize("kwargs, error, message", [
    ({"trusted_origins": ["https://app.example.com/"]}, ValueError,
     "trusted origins are scheme://host[:port] with no path, got 'https://app.example.com/'"),
    ({"trusted_origins": ["app.example.com"]}, ValueError,
     "trusted origins are scheme://host[:port] with no path, got 'app.example.com'"),
    ({"safe_methods": "GET"}, TypeError, "safe_methods must be a collection of method names"),
    ({"exempt_paths": [42]}, TypeError, "exempt paths are strings or compiled regexes, got 42"),
    ({"header_name": ""}, TypeError, "header_name and field_name must be non-empty strings"),
    ({"cookie_name": "__Host-csrf"}, ValueError, "a __Host- cookie needs https_only=True"),
    ({"cookie_max_age": -1}, ValueError, "cookie_max_age must be a positive number of seconds or None"),
    ({"same_site": "none"}, ValueError, "same_site='none' needs https_only=True"),
])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        CSRFMiddleware(KEY, **kwargs)
    assert str(info.value) == message


def test_host_cookie_over_https(client):
    c = client(csrf_app(cookie_name="__Host-csrf", https_only=True), base_url="https://testserver")
    r = c.get("/form")
    assert r.headers["set-cookie"].endswith("; Max-Age=31536000; Path=/; Secure; HttpOnly; SameSite=Lax")
    assert c.post("/submit", headers={"X-CSRF-Token": r.json()["token"],
                                      "Origin": "https://testserver"}).status_code == 200


# ---------------------------------------------------------------- with the other security middleware

def test_the_documented_stack_decorates_a_csrf_refusal(client):
    from covet.security import CORSMiddleware, SecurityHeadersMiddleware, TrustedHostMiddleware

    app = Covet()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["testserver"])
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"], allow_credentials=True,
                       allow_methods=["GET", "POST"], allow_headers=["X-CSRF-Token"])
    app.add_middleware(SessionMiddleware, secret_key=KEY)
    app.add_middleware(CSRFMiddleware, secret_key=KEY)

    @app.get("/token")
    async def issue(request: Request):
        return {"token": csrf_token(request)}

    @app.post("/act")
    async def act():
        return {"done": True}

    c = client(app)
    origin = {"Origin": "https://app.example.com"}
    r = c.options("/act", headers=dict(origin, **{"Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "x-csrf-token"}))
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example.com"
    token = c.get("/token").json()["token"]
    r = c.post("/act", headers=origin)
    assert r.json() == problem(NO_TOKEN, "/act")
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["x-frame-options"] == "DENY"
    assert c.post("/act", headers=dict(origin, **{"X-CSRF-Token": token})).json() == {"done": True}
    assert c.post("/act", headers={"Host": "evil.example"}).status_code == 400


# ---------------------------------------------------------------- CSRFProtection, exempt_paths, csrf_exempt

def test_the_reference_example(client):
    from covet.security.csrf import CSRFProtection

    # The reference's secret is 15 bytes: it works, with the short-key warning.
    with pytest.warns(UserWarning, match="secret key is 15 bytes; use at least 32"):
        csrf = CSRFProtection(
            secret_key="csrf-secret-key",
            safe_methods=["GET", "HEAD", "OPTIONS"],
            exempt_paths=["/api/webhook"],
        )
    calls = []
    app = Covet()
    app.add_middleware(csrf)

    @app.post("/api/webhook")
    async def webhook(request: Request):
        calls.append("webhook")
        return {"received": (await request.json())["event"]}

    @app.route("/comments", methods=["POST", "TRACE"])
    async def comments(request: Request):
        calls.append(request.method)
        return {"ok": True}

    @app.get("/form")
    async def form(request: Request):
        return {"token": csrf_token(request)}

    c = client(app)
    r = c.post("/api/webhook", json={"event": "push"})
    assert (r.status_code, r.json(), calls) == (200, {"received": "push"}, ["webhook"])
    r = c.post("/comments")
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == problem(NO_COOKIE, "/comments")
    assert "exempt_paths" in r.json()["detail"] and "@csrf_exempt" in r.json()["detail"]
    # TRACE is not among this middleware's safe methods, so it needs a token too.
    assert c.request("TRACE", "/comments").status_code == 403
    assert calls == ["webhook"]
    token = c.get("/form").json()["token"]
    assert c.post("/comments").json() == problem(NO_TOKEN, "/comments")
    assert c.post("/comments", headers={"X-CSRF-Token": token}).json() == {"ok": True}
    assert calls == ["webhook", "POST"]


def test_the_refusal_names_both_ways_to_exempt(client):
    r = client(csrf_app()).post("/submit")
    assert r.json()["detail"] == (
        "CSRF check failed: the CSRF cookie is missing or invalid; "
        "a route that takes no cookie credentials (a webhook, a bearer-token API) can opt out: "
        "list its path in exempt_paths or decorate its handler with @csrf_exempt")


def test_csrf_middleware_is_csrf_protection():
    import covet
    import covet.security
    from covet.security import csrf

    assert csrf.CSRFMiddleware is csrf.CSRFProtection
    assert covet.CSRFProtection is covet.CSRFMiddleware is csrf.CSRFProtection
    assert covet.security.CSRFProtection is csrf.CSRFProtection
    assert covet.csrf_exempt is covet.security.csrf_exempt is csrf.csrf_exempt
    assert repr(csrf.CSRFProtection(KEY)) == "<CSRFProtection header=X-CSRF-Token field=csrf_token>"


def exempt_app(calls):
    from covet.security import JWTAuth, csrf_exempt

    auth = JWTAuth(b"0123456789abcdef" * 2)
    app = Covet()
    app.add_middleware(SessionMiddleware, secret_key=KEY)
    app.add_middleware(CSRFMiddleware, secret_key=KEY)

    @app.post("/api/items")             # a bearer-token API under a CSRF-protected site
    @csrf_exempt
    @auth.require_token
    async def create_item(request: Request):
        calls.append(("item", request.state.user["sub"]))
        return {"created": True}

    @csrf_exempt                         # above the route decorator works too
    @app.route("/api/ping/{n:int}", methods=["POST", "DELETE"])
    def ping(n: int):
        calls.append(("ping", n))
        return {"pong": n}

    @app.post("/account/delete")
    async def delete_account():
        calls.append("delete")
        return {"deleted": True}

    api = app.group("/v2")

    @api.put("/things/{tid}")
    @csrf_exempt
    async def put_thing(tid: str):
        calls.append(("thing", tid))
        return {"tid": tid}

    sub = Covet()

    @sub.post("/hook")
    @csrf_exempt
    async def hook():
        calls.append("hook")
        return {"hook": True}

    @sub.post("/guarded")
    async def guarded():
        calls.append("guarded")
        return {}

    app.mount("/sub", sub)
    return app, auth


def test_csrf_exempt_routes_pass_and_the_others_do_not(client):
    calls = []
    app, auth = exempt_app(calls)
    c = client(app)
    token = auth.create_token({"sub": "42"})
    r = c.post("/api/items", headers={"Authorization": "Bearer " + token})
    assert (r.status_code, r.json()) == (200, {"created": True})
    assert c.post("/api/items").status_code == 401        # exempt from CSRF, not from its own auth
    assert c.post("/api/ping/3").json() == {"pong": 3}
    assert c.delete("/api/ping/4").json() == {"pong": 4}
    assert c.put("/v2/things/a").json() == {"tid": "a"}
    assert c.post("/sub/hook").json() == {"hook": True}
    assert calls == [("item", "42"), ("ping", 3), ("ping", 4), ("thing", "a"), "hook"]
    for path in ("/account/delete", "/sub/guarded"):
        r = c.post(path)
        assert (r.status_code, r.json()) == (403, problem(PREFIX + "the session has no CSRF token", path))
    assert len(calls) == 5


def test_csrf_exempt_marks_only_the_handler_not_the_path_for_other_methods(client):
    calls = []
    app, _ = exempt_app(calls)

    @app.patch("/api/ping/{n:int}")
    async def patch_ping(n: int):
        calls.append(("patch", n))
        return {}

    r = client(app).patch("/api/ping/1")
    assert r.status_code == 403
    assert calls == []


def test_a_route_lookup_that_fails_keeps_the_check(client, monkeypatch):
    calls = []
    app, _ = exempt_app(calls)

    def broken(method, path):
        raise ValueError("bad path")

    monkeypatch.setattr(app.router, "match", broken)
    r = client(app).post("/api/ping/3")
    assert r.status_code == 403
    assert calls == []


def test_csrf_exempt_refuses_what_it_cannot_mark():
    from covet.security import csrf_exempt

    with pytest.raises(TypeError) as info:
        csrf_exempt(42)
    assert str(info.value) == "csrf_exempt decorates route handlers, got 42"

    class Handlers:
        def post(self):
            return {}

    bound = Handlers().post
    with pytest.raises(TypeError) as info:
        csrf_exempt(bound)
    assert str(info.value) == "csrf_exempt needs a function (it marks it), got %r" % (bound,)



# ---------------------------------------------------------------- exempt_paths see the router's segments
# The router splits the raw path on "/" and then decodes each segment, so %2F stays inside
# its segment. An exemption decided on the decoded whole path would see another path than
# the router: POST /webhooks%2Fx/delete is the protected /{section}/delete with section
# "webhooks/x", not a webhook.

def path_app(calls, exempt):
    app = Covet()
    app.add_middleware(CSRFMiddleware, secret_key=KEY, exempt_paths=exempt)

    @app.get("/form")
    async def form(request: Request):
        return {"token": csrf_token(request)}

    @app.post("/webhooks/{name}")
    async def hook(name: str):
        calls.append(("hook", name))
        return {}

    @app.post("/café/{name}")
    async def cafe(name: str):
        calls.append(("cafe", name))
        return {}

    @app.post("/api/webhook")
    async def api_hook():
        calls.append(("api_hook",))
        return {}

    @app.post("/api/v1/ping")
    async def ping():
        calls.append(("ping",))
        return {}

    @app.post("/{section}/delete")
    async def delete(section: str):
        calls.append(("delete", section))
        return {}

    @app.post("/{section}/ping")
    async def other_ping(section: str):
        calls.append(("other_ping", section))
        return {}

    @app.post("/{page}")
    async def page(page: str):
        calls.append(("page", page))
        return {}

    return app


@pytest.mark.parametrize("exempt, path, reached", [
    (["/webhooks/*"], "/webhooks%2Fx/delete", ("delete", "webhooks/x")),
    (["/webhooks/*"], "/webhooks%2fx/delete", ("delete", "webhooks/x")),
    (["/webhooks/*"], "/webhooks%2F/delete", ("delete", "webhooks/")),
    (["/webhooks/*"], "/webhooks%2F%2E%2E/delete", ("delete", "webhooks/..")),
    (["/webhooks/*"], "/webhooks%2F..%2Fadmin/delete", ("delete", "webhooks/../admin")),
    (["/webhooks/*"], "/webhooks%2Fx", ("page", "webhooks/x")),
    (["/café/*"], "/caf%C3%A9%2Fx/delete", ("delete", "café/x")),
    (["/api/webhook"], "/api%2Fwebhook", ("page", "api/webhook")),
    (["/api/webhook"], "/api%2fwebhook", ("page", "api/webhook")),
    ([re.compile(r"/api/v[0-9]+/ping")], "/api%2Fv1/ping", ("other_ping", "api/v1")),
    ([re.compile(r"/api/.*")], "/api%2Fx/delete", ("delete", "api/x")),
    ([re.compile(r"/webhooks/[^/]+/delete")], "/webhooks%2Fx/delete", ("delete", "webhooks/x")),
])
def test_an_escaped_slash_never_exempts_a_protected_route(client, exempt, path, reached):
    calls = []
    c = client(path_app(calls, exempt))
    r = c.post(path)
    assert (r.status_code, calls) == (403, [])
    assert r.json()["detail"] == NO_COOKIE + HOW_TO_EXEMPT
    # It is the protected route's request: with a token it reaches that handler.
    assert c.post(path, headers={"X-CSRF-Token": get_token(c)}).status_code == 200
    assert calls == [reached]


@pytest.mark.parametrize("exempt, path, reached", [
    (["/webhooks/*"], "/webhooks/github", ("hook", "github")),
    (["/webhooks/*"], "/webhooks/a%2Fb", ("hook", "a/b")),       # one segment holding a slash
    (["/webhooks/*"], "/webhooks/%2E%2E", ("hook", "..")),
    (["/webhooks/*"], "/webhooks/..", ("hook", "..")),           # dot segments are not removed
    (["/webhooks/*"], "/webhooks/caf%C3%A9", ("hook", "café")),
    (["/webhooks/*"], "/webhooks/%FF", ("hook", "\ufffd")),      # not UTF-8: U+FFFD, as the router
    (["/café/*"], "/caf%C3%A9/x", ("cafe", "x")),
    (["/café/*"], "/caf%c3%a9/x", ("cafe", "x")),
    (["/api/webhook"], "/api/webhook", ("api_hook",)),
    (["/api/webhook"], "/api/%77ebhook", ("api_hook",)),         # the router decodes %77 too
    (["/api/webhook"], "/%61pi/webhook", ("api_hook",)),
    ([re.compile(r"/api/v[0-9]+/ping")], "/api/v%31/ping", ("ping",)),
    ([re.compile(r"/webhooks/[^/]+")], "/webhooks/a%2Fb", ("hook", "a/b")),
])
def test_what_the_router_sends_to_an_exempt_path_is_exempt(client, exempt, path, reached):
    calls = []
    r = client(path_app(calls, exempt)).post(path)
    assert r.status_code == 200
    assert calls == [reached]


@pytest.mark.parametrize("exempt, path", [
    (["/api/webhook"], "/api/webhook/"),       # trailing slash: another path (the app redirects it)
    (["/api/webhook"], "//api/webhook"),       # double slashes: other segments
    (["/api/webhook"], "/api//webhook"),
    (["/webhooks/*"], "//webhooks/x"),
    (["/webhooks/*"], "/webhooks"),            # "/*" needs the slash, as a route's prefix would
    (["/café/*"], "/caf%E9/x"),                # Latin-1 escape: "caf\ufffd", not "café"
    (["/webhooks/*"], "/webhooks%2F"),
    (["/webhooks/*"], "/%2Fwebhooks/x"),
])
def test_other_spellings_are_other_paths(client, exempt, path):
    calls = []
    r = client(path_app(calls, exempt)).post(path)
    assert r.status_code == 403
    assert calls == []


def test_an_escaped_slash_in_a_mounted_app(client):
    # The mounted app's middleware sees the path its own router matches: the rest after the prefix.
    calls = []
    outer = Covet()
    outer.mount("/site", path_app(calls, ["/webhooks/*"]))
    c = client(outer)
    assert c.post("/site/webhooks/github").status_code == 200
    assert calls == [("hook", "github")]
    assert c.post("/site/webhooks%2Fx/delete").status_code == 403
    assert c.post("/site%2Fwebhooks/x").status_code == 404       # no mount, no route: the app's answer
    assert calls == [("hook", "github")]


def test_an_escaped_slash_under_an_asgi_root_path():
    import asyncio

    calls = []
    app = path_app(calls, ["/webhooks/*"])

    def post(raw_path):
        sent = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/prefix" + raw_path.replace("%2F", "/"), "raw_path": raw_path.encode(),
                 "root_path": "/prefix", "query_string": b"", "headers": [(b"host", b"example.test")],
                 "client": ("203.0.113.5", 5000), "server": ("example.test", 80)}
        scope["raw_path"] = b"/prefix" + scope["raw_path"]

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        return sent[0]["status"]

    assert post("/webhooks/github") == 200
    assert post("/webhooks%2Fx/delete") == 403
    assert calls == [("hook", "github")]
