"""covet.middleware: every middleware importable from one place, each loaded on first use (PEP 562)."""
import subprocess
import sys

import pytest

import covet
import covet.middleware
from covet.security import (
    CORSMiddleware, CSRFMiddleware, CSRFProtection, RateLimitMiddleware, SecurityHeadersMiddleware,
    SessionMiddleware, TrustedHostMiddleware,
)
from server_helpers import REPO

EXPECTED = {
    "GZipMiddleware": "covet.middleware.gzip", "RequestIDMiddleware": "covet.middleware.request_id",
    "TimingMiddleware": "covet.middleware.timing", "CORSMiddleware": "covet.security.cors",
    "CSRFMiddleware": "covet.security.csrf", "CSRFProtection": "covet.security.csrf",
    "SecurityHeadersMiddleware": "covet.security.headers", "TrustedHostMiddleware": "covet.security.hosts",
    "SessionMiddleware": "covet.security.sessions",
    "RateLimitMiddleware": "covet.security.rate_limiting.middleware",
}


def test_every_middleware_is_importable_from_covet_middleware():
    from covet.middleware import (  # noqa: F401
        CORSMiddleware as cors, CSRFMiddleware as csrf, GZipMiddleware, RateLimitMiddleware as rl,
        RequestIDMiddleware, SecurityHeadersMiddleware as sh, SessionMiddleware as sess, TimingMiddleware,
        TrustedHostMiddleware as th,
    )
    assert sorted(covet.middleware.__all__) == sorted(EXPECTED)
    for name, module in EXPECTED.items():
        assert getattr(covet.middleware, name).__module__ == module


def test_the_security_names_are_the_same_objects():
    m = covet.middleware
    assert (m.CORSMiddleware, m.CSRFMiddleware, m.CSRFProtection, m.RateLimitMiddleware, m.SecurityHeadersMiddleware,
            m.SessionMiddleware, m.TrustedHostMiddleware) == (
        CORSMiddleware, CSRFMiddleware, CSRFProtection, RateLimitMiddleware, SecurityHeadersMiddleware,
        SessionMiddleware, TrustedHostMiddleware)


@pytest.mark.parametrize("name", ["GZipMiddleware", "RequestIDMiddleware", "TimingMiddleware"])
def test_the_new_middleware_is_also_importable_from_covet(name):
    assert getattr(covet, name) is getattr(covet.middleware, name)
    assert name in covet.__all__


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="covet.middleware"):
        covet.middleware.NoSuchMiddleware  # noqa: B018
    assert "GZipMiddleware" in dir(covet.middleware)


def test_importing_the_package_loads_no_middleware():
    code = ("import sys, covet.middleware; "
            "print(sorted(m for m in sys.modules if m.startswith(('covet.middleware.', 'covet.security')) "
            "or m == 'zlib'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_using_gzip_does_not_load_the_security_package():
    code = ("import sys; from covet.middleware import GZipMiddleware; "
            "print(sorted(m for m in sys.modules if m.startswith('covet.security')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
