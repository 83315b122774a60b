"""Every import line of covet's API reference (the CovetPy seed, section by section) resolves.

The reference names covet's modules and classes; these are the lines whose modules exist so far.
Each later feature adds its lines here as it lands. Every name is also importable from ``covet``
itself, the one place a user can always look.
"""
import importlib

import pytest

import covet

# (section of the reference, module, names): the import lines exactly as the reference writes them.
SEED_IMPORTS = [
    ("Quick Start", "covet", ["CovetApp"]),
    ("Dependency injection", "covet.core.dependencies", ["Depends"]),
    ("JWT Authentication", "covet.security.jwt_auth", ["JWTAuth"]),
    ("Authorization (RBAC)", "covet.security.rbac", ["RoleBasedAccessControl"]),
    ("CORS Configuration", "covet.security.cors", ["CORSMiddleware"]),
    ("CSRF Protection", "covet.security.csrf", ["CSRFProtection"]),
    ("Rate Limiting", "covet.security.rate_limiting", ["RateLimiter"]),
    ("Input Validation", "covet.security.validation", ["Validator", "ValidationError"]),
    ("Redis Integration", "covet.cache", ["CacheManager"]),
    ("Multi-level Caching", "covet.cache", ["MultiLevelCache"]),
    ("Cache Decorators", "covet.cache.decorators", ["cache_result", "cache_page"]),
    ("Caching Strategies", "covet.cache", ["CacheLayer"]),
    ("Zero-Dependency Templates", "covet.templates", ["TemplateEngine"]),
    ("Test Client", "covet.testing", ["TestClient"]),
    ("Async testing", "covet.testing", ["AsyncTestClient"]),
    ("Environment Configuration", "covet.config", ["Config"]),
    ("Comprehensive Logging", "covet.logging", ["StructuredLogger"]),
    ("Metrics Collection", "covet.monitoring", ["MetricsManager"]),
    ("Metrics Collection", "covet.monitoring.backends", ["PrometheusBackend"]),
    ("Health Checks", "covet.monitoring.health", ["HealthChecker"]),
    ("Error Tracking with Sentry", "covet.monitoring.sentry", ["SentryIntegration"]),
    ("Distributed Tracing", "covet.monitoring.tracing", ["TracingMiddleware", "trace"]),
    ("Performance Monitoring", "covet.monitoring", ["PerformanceMonitor"]),
    ("Performance Issues", "covet.debugging", ["PerformanceProfiler"]),
    ("Memory Leaks", "covet.debugging", ["MemoryMonitor"]),
    ("Complete Application", "covet.security", ["JWTAuth"]),
    ("Real-time Features", "covet.realtime", ["RealtimeManager"]),
    ("WebSocket Server", "covet.websocket", ["WebSocketManager"]),
    ("WebSocket Chat Application", "covet.websocket", ["WebSocketManager"]),
]


@pytest.mark.parametrize("section, module, names", SEED_IMPORTS, ids=[s[0] for s in SEED_IMPORTS])
def test_the_seed_import_line_resolves(section, module, names):
    loaded = importlib.import_module(module)
    missing = [n for n in names if not hasattr(loaded, n)]
    assert missing == []


@pytest.mark.parametrize("section, module, names", SEED_IMPORTS, ids=[s[0] for s in SEED_IMPORTS])
def test_every_seed_name_is_also_importable_from_covet(section, module, names):
    loaded = importlib.import_module(module)
    for name in names:
        assert getattr(covet, name) is getattr(loaded, name)
        assert name in covet.__all__


def test_second_names_are_the_same_objects():
    from covet.security.csrf import CSRFMiddleware, CSRFProtection
    from covet.security.rbac import RBAC, RoleBasedAccessControl

    assert covet.CovetApp is covet.Covet
    assert RBAC is RoleBasedAccessControl
    assert CSRFMiddleware is CSRFProtection


def test_every_name_in_covet_all_resolves():
    missing = [name for name in covet.__all__ if not hasattr(covet, name)]
    assert missing == []


# -- every import line of the reference, read from the reference itself ---------------------------

def _reference_import_lines():
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parent / "seeds" / "004_api_reference.txt").read_text(encoding="utf-8")
    lines = sorted(set(re.findall(r"^\s*(from covet[\w.]* import [\w, ]+)$", text, re.M)))
    return lines


@pytest.mark.parametrize("line", _reference_import_lines())
def test_every_import_line_of_the_reference_runs(line):
    namespace = {}
    exec(line, namespace)
    names = [n.strip() for n in line.split(" import ")[1].split(",")]
    assert all(namespace[n] is not None for n in names)


def test_the_reference_has_the_import_lines_this_test_expects():
    assert len(_reference_import_lines()) == 43  # 43 distinct lines (grep ^from covet)
