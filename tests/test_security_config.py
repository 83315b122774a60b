"""SecurityConfig: CovetApp(security_config=...) installs the middleware it names, in a sound order,
and nothing it does not name."""
import pytest

from covet import CovetApp
from covet.security import (CORSMiddleware, CSRFProtection, RateLimitMiddleware, SecurityConfig,
                            SecurityHeadersMiddleware, SessionMiddleware, TrustedHostMiddleware)
from covet.testing import TestClient

KEY = "k3y-value-xyz-0123456789-abcdefghij"


def test_only_what_is_named_is_installed_and_headers_are_on_by_default():
    assert [type(mw) for mw in CovetApp(security_config=SecurityConfig()).middleware_stack] == [
        SecurityHeadersMiddleware]
    assert CovetApp(security_config=SecurityConfig(security_headers=False)).middleware_stack == []


def test_everything_named_in_order():
    security = SecurityConfig(KEY, allowed_hosts=["shop.example.com"], hsts=True, cors_origins=["https://a.example"],
                              rate_limit="2/minute", sessions=True, csrf=True, csrf_exempt_paths=["/api/*"])
    app = CovetApp(security_config=security)
    assert [type(mw) for mw in app.middleware_stack] == [
        TrustedHostMiddleware, SecurityHeadersMiddleware, CORSMiddleware, RateLimitMiddleware, SessionMiddleware,
        CSRFProtection]
    assert repr(security) == ("SecurityConfig(TrustedHostMiddleware, SecurityHeadersMiddleware, CORSMiddleware, "
                              "RateLimitMiddleware, SessionMiddleware, CSRFProtection)")

    @app.route("/api/orders", methods=["POST"])
    async def order():
        return {"ok": True}

    @app.route("/form", methods=["POST"])
    async def form():
        return {"ok": True}

    with TestClient(app, base_url="https://shop.example.com") as client:
        r = client.post("/api/orders", headers={"Origin": "https://a.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://a.example"
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert client.post("/form").status_code == 403       # CSRF: no token
        assert client.post("/api/orders").status_code == 429  # the third request this minute
    with TestClient(app, base_url="https://evil.example") as client:
        assert client.post("/api/orders").status_code == 400  # not an allowed host


def test_cookies_are_secure_unless_told_otherwise():
    secure = SecurityConfig(KEY, sessions=True, csrf=True)
    assert all(mw.https_only for mw in secure.middleware if isinstance(mw, (SessionMiddleware, CSRFProtection)))
    plain = SecurityConfig(KEY, sessions=True, csrf=True, secure_cookies=False)
    assert not any(mw.https_only for mw in plain.middleware if isinstance(mw, (SessionMiddleware, CSRFProtection)))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"sessions": True}, ValueError, "sessions and csrf sign cookies and need secret_key"),
    ({"csrf": True}, ValueError, "sessions and csrf sign cookies and need secret_key"),
    ({"security_headers": False, "hsts": True}, ValueError, "leave security_headers=True"),
    ({"rate_limit": "lots"}, ValueError, "invalid rate limit 'lots'"),
])
def test_bad_settings_are_refused_when_made(kwargs, error, message):
    with pytest.raises(error, match=message):
        SecurityConfig(**kwargs)


def test_a_security_config_that_is_not_one_is_refused():
    with pytest.raises(TypeError, match="security_config must be a covet.security.SecurityConfig, got 'dict'"):
        CovetApp(security_config={"csrf": True})
