"""covet.security.headers and covet.security.hosts: the default header set, overrides and
removal, CSP building, HSTS only over HTTPS, handler-set headers kept; the Host header
against exact names, wildcard subdomains and IP literals, ports ignored, 400 otherwise."""
import asyncio

import pytest

from covet import Covet, HTTPException, JSONResponse
from covet.security import SecurityHeadersMiddleware, TrustedHostMiddleware
from covet.security.headers import DEFAULT_HSTS, build_csp
from covet.core.requests import Request
from covet.security.hosts import split_host

DEFAULTS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}


def headers_app(**options):
    app = Covet()
    app.add_middleware(SecurityHeadersMiddleware, **options)

    @app.get("/")
    async def index():
        return {"ok": True}

    @app.get("/embed")
    async def embed():
        return JSONResponse({}, headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.get("/fail")
    async def fail():
        raise HTTPException(418, "teapot")

    return app


def security_headers(r):
    names = set(DEFAULTS) | {"content-security-policy", "content-security-policy-report-only",
                             "strict-transport-security", "permissions-policy", "cross-origin-embedder-policy"}
    return {k: v for k, v in r.headers.items() if k in names}


# ---------------------------------------------------------------- security headers

def test_defaults(client):
    r = client(headers_app()).get("/")
    assert security_headers(r) == DEFAULTS


def test_error_responses_get_them_too(client):
    r = client(headers_app()).get("/fail")
    assert r.status_code == 418
    assert security_headers(r) == DEFAULTS


def test_each_default_can_be_changed_or_removed(client):
    c = client(headers_app(frame_options="SAMEORIGIN", referrer_policy="no-referrer",
                           content_type_options=None, cross_origin_opener_policy=None))
    assert security_headers(c.get("/")) == {"x-frame-options": "SAMEORIGIN", "referrer-policy": "no-referrer"}


def test_all_removed(client):
    c = client(headers_app(frame_options=None, referrer_policy=None, content_type_options=None,
                           cross_origin_opener_policy=None))
    assert security_headers(c.get("/")) == {}


def test_a_handler_set_header_wins(client):
    r = client(headers_app()).get("/embed")
    assert r.headers.getlist("x-frame-options") == ["SAMEORIGIN"]


def test_csp_string_dict_and_report_only(client):
    policy = {"default-src": "'self'", "img-src": ["'self'", "data:"], "upgrade-insecure-requests": None}
    r = client(headers_app(content_security_policy=policy)).get("/")
    assert r.headers["content-security-policy"] == "default-src 'self'; img-src 'self' data:; upgrade-insecure-requests"
    r = client(headers_app(content_security_policy="default-src 'none'", csp_report_only=True)).get("/")
    assert r.headers["content-security-policy-report-only"] == "default-src 'none'"
    assert "content-security-policy" not in r.headers


@pytest.mark.parametrize("policy, message", [
    ({"script-src": "'self'; report-uri /x"}, "CSP source \"'self'; report-uri /x\" for script-src contains ';', ',' or a line break"),
    ({"img-src": ["a,b"]}, "CSP source 'a,b' for img-src contains ';', ',' or a line break"),
    ({"bad name": "x"}, "a CSP directive name is letters, digits and '-', got 'bad name'"),
])
def test_csp_injection_is_refused(policy, message):
    with pytest.raises(ValueError) as info:
        build_csp(policy)
    assert str(info.value) == message


@pytest.mark.parametrize("hsts, expected", [
    (True, DEFAULT_HSTS),
    ("max-age=63072000; includeSubDomains; preload", "max-age=63072000; includeSubDomains; preload"),
])
def test_hsts_only_when_asked_and_only_over_https(client, hsts, expected):
    app = headers_app(hsts=hsts)
    assert client(app, base_url="https://testserver").get("/").headers["strict-transport-security"] == expected
    assert "strict-transport-security" not in client(app).get("/").headers


@pytest.mark.parametrize("hsts", [None, False])
def test_no_hsts_by_default(client, hsts):
    r = client(headers_app(hsts=hsts), base_url="https://testserver").get("/")
    assert "strict-transport-security" not in r.headers


def test_permissions_policy_and_extra_headers(client):
    c = client(headers_app(permissions_policy="geolocation=()",
                           headers={"Cross-Origin-Embedder-Policy": "require-corp"}))
    r = c.get("/")
    assert r.headers["permissions-policy"] == "geolocation=()"
    assert r.headers["cross-origin-embedder-policy"] == "require-corp"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"hsts": "includeSubDomains"}, ValueError, "hsts must be True or a value starting with max-age= (RFC 6797 §6.1.1)"),
    ({"hsts": 3600}, ValueError, "hsts must be True or a value starting with max-age= (RFC 6797 §6.1.1)"),
    ({"frame_options": "DENY\r\nSet-Cookie: x=1"}, ValueError, "header X-Frame-Options: value contains CR, LF or NUL"),
    ({"frame_options": 1}, TypeError, "header X-Frame-Options must be a string or None, got 1"),
    ({"headers": {"Bad Name": "x"}}, ValueError, "invalid header name: 'Bad Name'"),
])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        SecurityHeadersMiddleware(**kwargs)
    assert str(info.value) == message


def test_headers_property():
    assert SecurityHeadersMiddleware(frame_options=None).headers == {
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "cross-origin-opener-policy": "same-origin",
    }


# ---------------------------------------------------------------- trusted hosts

def hosts_app(allowed):
    app = Covet()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed)

    @app.get("/")
    async def index():
        return {"ok": True}

    return app


ALLOWED = ["example.com", "*.example.org", "127.0.0.1", "[::1]"]


@pytest.mark.parametrize("host, ok", [
    ("example.com", True),
    ("EXAMPLE.com", True),
    ("example.com:8443", True),
    ("example.com.", True),
    ("example.com:", True),
    ("www.example.com", False),
    ("api.example.org", True),
    ("a.b.example.org:80", True),
    ("example.org", False),  # the wildcard is for subdomains only
    ("evilexample.org", False),
    ("example.org.evil.com", False),
    ("127.0.0.1:8000", True),
    ("[::1]:8000", True),
    ("[::2]", False),
    ("example.com:port", False),
    ("example.com:123456", False),
    ("exa mple.com", False),
    ("example.com/evil", False),
    ("user@example.com", False),
    ("[::1", False),
    ("", False),
    # empty or hyphen-edged labels would pass the *.example.org wildcard and end up in links
    (".example.org", False),
    ("..example.org", False),
    ("a..example.org", False),
    ("-.example.org", False),
    ("a-.example.org", False),
    ("example.com:99999", False),  # no such port
    ("example.com:65535", True),
    ("a_b-c.example.org", True),
])
def test_host_matrix(client, host, ok):
    c = client(hosts_app(ALLOWED))
    r = c.get("/", headers={"Host": host})
    if ok:
        assert r.status_code == 200 and r.json() == {"ok": True}
    else:
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {"type": "about:blank", "title": "Bad Request", "status": 400,
                            "detail": "invalid Host header", "instance": "/"}


def test_missing_host_header_is_400():
    # Built by hand: the test client always sends Host (HTTP/1.0 clients may not).
    app = hosts_app(["example.com"])
    response = asyncio.run(app.dispatch(Request("GET", "/", "", [], client=("c", 1))))
    assert response.status_code == 400


def test_star_allows_any(client):
    assert client(hosts_app("*")).get("/", headers={"Host": "anything.test"}).status_code == 200


@pytest.mark.parametrize("allowed, error, message", [
    ([], ValueError, "allowed_hosts is empty: every request would be refused"),
    (["example.com:80"], ValueError, "allowed hosts are names like 'example.com' or '*.example.com' "
                                     "(no port, no other '*'), got 'example.com:80'"),
    (["ex*ample.com"], ValueError, "allowed hosts are names like 'example.com' or '*.example.com' "
                                   "(no port, no other '*'), got 'ex*ample.com'"),
    (["*.*.example.com"], ValueError, "allowed hosts are names like 'example.com' or '*.example.com' "
                                      "(no port, no other '*'), got '*.*.example.com'"),
    ([None], TypeError, "allowed hosts are strings, got None"),
])
def test_hosts_constructor_errors(allowed, error, message):
    with pytest.raises(error) as info:
        TrustedHostMiddleware(allowed)
    assert str(info.value) == message


@pytest.mark.parametrize("value, host", [
    ("Example.COM.:8443", "example.com"),
    ("[::1]:8000", "[::1]"),
    ("10.0.0.1", "10.0.0.1"),
    (None, None),
    ("a b", None),
])
def test_split_host(value, host):
    assert split_host(value) == host


def test_default_allows_any_host(client):
    assert client(hosts_app(("*",))).get("/", headers={"Host": "x.test"}).status_code == 200
    assert TrustedHostMiddleware().is_allowed("whatever.test")
