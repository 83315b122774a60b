"""covet.security.cors: the preflight matrix (200 with exact headers, or 400 with no CORS
headers), simple requests (the origin reflected, never '*' with credentials), Vary: Origin
whenever the answer depends on the origin, regex origins, and construction errors."""
import re

import pytest

from covet import Covet, JSONResponse
from covet.security import CORSMiddleware

APP_ORIGIN = "https://app.example.com"


def cors_app(**options):
    app = Covet()
    app.add_middleware(CORSMiddleware, **options)

    @app.route("/items", methods=["GET", "POST", "DELETE", "PUT"])
    async def items():
        return JSONResponse({"items": []}, headers={"X-Total": "0"})

    @app.get("/varied")
    async def varied():
        return JSONResponse({}, headers={"Vary": "Accept-Encoding"})

    @app.get("/vary-star")
    async def vary_star():
        return JSONResponse({}, headers={"Vary": "*"})

    @app.get("/own-acao")
    async def own():
        return JSONResponse({}, headers={"Access-Control-Allow-Origin": "https://stale.example"})

    return app


STRICT = dict(allow_origins=[APP_ORIGIN], allow_methods=["GET", "POST", "DELETE"],
              allow_headers=["Authorization", "X-Request-Id"], allow_credentials=True,
              expose_headers=["X-Total"], max_age=300)


def cors_headers(r):
    return {k: v for k, v in r.headers.items() if k.startswith("access-control-")}


def preflight(c, origin=APP_ORIGIN, method="DELETE", headers=None, path="/items"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return c.options(path, headers=h)


# ---------------------------------------------------------------- preflight

ALLOWED_HEADERS = "accept, accept-language, authorization, content-language, content-type, x-request-id"


@pytest.mark.parametrize("method, headers", [
    ("DELETE", "authorization, content-type"),
    ("GET", None),
    ("POST", "X-Request-Id"),
    ("delete", "ACCEPT,Authorization"),
])
def test_preflight_allowed(client, method, headers):
    c = client(cors_app(**STRICT))
    r = preflight(c, method=method, headers=headers)
    assert r.status_code == 200
    assert r.content == b""
    assert cors_headers(r) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-methods": "DELETE, GET, POST",
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": "300",
        "access-control-allow-credentials": "true",
    }
    assert r.headers["vary"] == "Origin"
    assert r.headers["content-length"] == "0"


@pytest.mark.parametrize("origin, method, headers, detail", [
    ("https://evil.example", "GET", None, "CORS preflight refused: origin not allowed"),
    ("https://app.example.com.evil.example", "GET", None, "CORS preflight refused: origin not allowed"),
    ("http://app.example.com", "GET", None, "CORS preflight refused: origin not allowed"),
    ("null", "GET", None, "CORS preflight refused: origin not allowed"),
    (APP_ORIGIN, "PUT", None, "CORS preflight refused: method not allowed"),
    (APP_ORIGIN, "", None, "CORS preflight refused: method not allowed"),
    (APP_ORIGIN, "GET POST", None, "CORS preflight refused: method not allowed"),
    (APP_ORIGIN, "GET", "x-other", "CORS preflight refused: header not allowed"),
    (APP_ORIGIN, "GET", "authorization, cookie", "CORS preflight refused: header not allowed"),
])
def test_preflight_refused_is_400_without_cors_headers(client, origin, method, headers, detail):
    c = client(cors_app(**STRICT))
    r = preflight(c, origin=origin, method=method, headers=headers)
    assert r.status_code == 400
    assert cors_headers(r) == {}
    assert r.headers["vary"] == "Origin"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail,
                        "instance": "/items"}


def test_preflight_is_answered_for_any_path(client):
    c = client(cors_app(**STRICT))
    assert preflight(c, path="/nowhere").status_code == 200


def test_options_without_request_method_is_not_a_preflight(client):
    c = client(cors_app(**STRICT))
    r = c.options("/items", headers={"Origin": APP_ORIGIN})
    assert r.status_code == 204  # the app's own OPTIONS answer, with Allow
    assert "allow" in r.headers
    assert cors_headers(r) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Total",
    }


def test_wildcard_methods_and_headers_echo_the_request(client):
    c = client(cors_app(allow_origins=[APP_ORIGIN], allow_methods="*", allow_headers="*", allow_credentials=True))
    r = preflight(c, method="PATCH", headers="X-Custom, Authorization")
    assert r.status_code == 200
    assert cors_headers(r) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-methods": "PATCH",
        "access-control-allow-headers": "x-custom, authorization",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }
    r = preflight(c, method="PATCH", headers="bad header")
    assert (r.status_code, cors_headers(r)) == (400, {})


def test_default_methods_are_the_safelisted_ones(client):
    c = client(cors_app(allow_origins=[APP_ORIGIN]))
    r = preflight(c, method="GET", headers="content-type")
    assert cors_headers(r) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-methods": "GET, HEAD, POST",
        "access-control-allow-headers": "accept, accept-language, content-language, content-type",
        "access-control-max-age": "600",
    }
    assert preflight(c, method="DELETE").status_code == 400


def test_max_age_none_sends_no_max_age(client):
    c = client(cors_app(allow_origins=[APP_ORIGIN], max_age=None))
    assert "access-control-max-age" not in preflight(c, method="GET").headers


# ---------------------------------------------------------------- simple and actual requests

def test_allowed_origin_is_reflected_never_star_with_credentials(client):
    c = client(cors_app(**STRICT))
    r = c.get("/items", headers={"Origin": APP_ORIGIN})
    assert r.status_code == 200 and r.json() == {"items": []}
    assert cors_headers(r) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Total",
    }
    assert r.headers["vary"] == "Origin"


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {}])
def test_other_or_no_origin_gets_no_cors_headers_but_vary(client, headers):
    c = client(cors_app(**STRICT))
    r = c.post("/items", headers=headers)
    assert r.status_code == 200
    assert cors_headers(r) == {}
    assert r.headers["vary"] == "Origin"


def test_vary_is_merged_with_the_handlers(client):
    c = client(cors_app(**STRICT))
    r = c.get("/varied", headers={"Origin": APP_ORIGIN})
    assert r.headers.getlist("vary") == ["Accept-Encoding, Origin"]
    assert c.get("/vary-star", headers={"Origin": APP_ORIGIN}).headers.getlist("vary") == ["*"]


def test_handler_acao_is_replaced(client):
    c = client(cors_app(**STRICT))
    r = c.get("/own-acao", headers={"Origin": APP_ORIGIN})
    assert r.headers.getlist("access-control-allow-origin") == [APP_ORIGIN]
    r = c.get("/own-acao", headers={"Origin": "https://evil.example"})
    assert r.headers.getlist("access-control-allow-origin") == ["https://stale.example"]


def test_error_responses_get_cors_headers_too(client):
    c = client(cors_app(**STRICT))
    r = c.get("/missing", headers={"Origin": APP_ORIGIN})
    assert r.status_code == 404
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN


# ---------------------------------------------------------------- any origin

@pytest.mark.parametrize("headers", [{"Origin": "https://anyone.example"}, {}])
def test_star_origin_is_the_same_for_everyone_and_needs_no_vary(client, headers):
    c = client(cors_app(allow_origins="*", expose_headers=["X-Total"]))
    r = c.get("/items", headers=headers)
    assert cors_headers(r) == {"access-control-allow-origin": "*", "access-control-expose-headers": "X-Total"}
    assert "vary" not in r.headers


def test_star_preflight(client):
    c = client(cors_app(allow_origins=["*"]))
    r = preflight(c, origin="https://anyone.example", method="POST")
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "vary" not in r.headers
    r = preflight(c, origin="https://anyone.example", method="DELETE")
    assert (r.status_code, cors_headers(r), "vary" in r.headers) == (400, {}, False)


def test_star_with_credentials_is_refused_at_construction():
    with pytest.raises(ValueError) as info:
        CORSMiddleware(allow_origins="*", allow_credentials=True)
    assert str(info.value) == ("allow_origins='*' cannot be combined with allow_credentials=True; "
                               "list the origins")


# ---------------------------------------------------------------- regex origins

@pytest.mark.parametrize("origin, allowed", [
    ("https://a.example.com", True),
    ("https://a-b.example.com", True),
    ("https://a.example.com.evil.net", False),  # fullmatch, not search
    ("https://evil.net/?https://a.example.com", False),
    ("http://a.example.com", False),
    ("https://example.com", False),
])
def test_origin_regex_must_match_fully(client, origin, allowed):
    c = client(cors_app(allow_origin_regex=r"https://[a-z0-9-]+\.example\.com", allow_credentials=True))
    r = c.get("/items", headers={"Origin": origin})
    assert r.headers.get("access-control-allow-origin") == (origin if allowed else None)
    assert r.headers["vary"] == "Origin"
    assert preflight(c, origin=origin, method="GET").status_code == (200 if allowed else 400)


def test_regex_and_list_together():
    mw = CORSMiddleware(allow_origins=["https://b.test"], allow_origin_regex=re.compile(r"https://.*\.a\.test"))
    assert mw.is_allowed_origin("https://b.test")
    assert mw.is_allowed_origin("https://x.a.test")
    assert not mw.is_allowed_origin("https://c.test")


def test_listed_null_origin():
    assert CORSMiddleware(allow_origins=["null"]).is_allowed_origin("null")
    assert not CORSMiddleware(allow_origins=[APP_ORIGIN]).is_allowed_origin("null")


# ---------------------------------------------------------------- construction

@pytest.mark.parametrize("kwargs, error, message", [
    ({"allow_origins": ["https://app.example.com/"]}, ValueError,
     "an origin is scheme://host[:port] with no path or trailing slash, got 'https://app.example.com/'"),
    ({"allow_origins": ["app.example.com"]}, ValueError,
     "an origin is scheme://host[:port] with no path or trailing slash, got 'app.example.com'"),
    ({"allow_origins": [None]}, TypeError, "origins must be strings, got None"),
    ({"allow_methods": ["GET POST"]}, ValueError, "allow_methods must be tokens or '*', got 'GET POST'"),
    ({"allow_headers": ["X-A\r\n"]}, ValueError, "allow_headers must be tokens or '*', got 'X-A\\r\\n'"),
    ({"max_age": -1}, ValueError, "max_age must be a non-negative number of seconds or None"),
    ({"allow_origin_regex": 5}, TypeError, "allow_origin_regex must be a string or a compiled regex"),
])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        CORSMiddleware(**kwargs)
    assert str(info.value) == message
