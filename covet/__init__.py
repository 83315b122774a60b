"""covet: a web framework on the Python standard library alone.

Public names are imported lazily (PEP 562) so that ``import covet`` stays
cheap and a program that only needs the template engine or the JWT helper
does not pay for the server.
"""
from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from .core import services

if TYPE_CHECKING:
    # What type checkers and editors see of the kernel's names (at run time they load lazily,
    # from _EXPORTS below); other names reach a type checker as Any through __getattr__.
    from .core.app import Covet as Covet, CovetApp as CovetApp
    from .core import status as status
    from .core.background import BackgroundTasks as BackgroundTasks
    from .core.datastructures import (
        URL as URL, Address as Address, FormData as FormData, Headers as Headers,
        HeaderValueError as HeaderValueError, MutableHeaders as MutableHeaders, QueryParams as QueryParams,
        State as State,
    )
    from .core.dependencies import (
        Body as Body, Cookie as Cookie, Depends as Depends, File as File, Form as Form, Header as Header,
        Path as Path, Query as Query,
    )
    from .core.errors import HTTPException as HTTPException, RequestValidationError as RequestValidationError
    from .core.multipart import (
        MultipartError as MultipartError, MultipartLimits as MultipartLimits, UploadFile as UploadFile,
    )
    from .core.requests import Request as Request
    from .core.responses import (
        FileResponse as FileResponse, HTMLResponse as HTMLResponse, JSONResponse as JSONResponse,
        PlainTextResponse as PlainTextResponse, RedirectResponse as RedirectResponse, Response as Response,
        StreamingResponse as StreamingResponse,
    )
    from .core.routing import (
        Converter as Converter, NoMatchFound as NoMatchFound, RouteGroup as RouteGroup, Router as Router,
    )
    from .testing import AsyncTestClient as AsyncTestClient, TestClient as TestClient

__version__ = "0.1.0"

# The composition root: which feature module plays each role the kernel asks for (covet.core.services).
services.provide("validation", "covet.validation")
services.provide("openapi", "covet.openapi")
services.provide("server", "covet.server.run")
services.provide("asgi", "covet.asgi")
services.provide("cache", "covet.cache")
services.provide("staticfiles", "covet.staticfiles")  # app.static()
services.provide("metrics", "covet.monitoring.instrumentation")  # app.enable_metrics()
services.provide("config", "covet.config")  # CovetApp(config={...}): from_mapping

# public name -> submodule that defines it
_EXPORTS = {
    "status": "core.status",
    "Covet": "core.app", "CovetApp": "core.app",
    "Request": "core.requests",
    "Response": "core.responses", "JSONResponse": "core.responses", "HTMLResponse": "core.responses",
    "PlainTextResponse": "core.responses", "RedirectResponse": "core.responses",
    "StreamingResponse": "core.responses", "FileResponse": "core.responses",
    "HTTPException": "core.errors", "RequestValidationError": "core.errors",
    "Query": "core.dependencies", "Path": "core.dependencies", "Header": "core.dependencies", "Cookie": "core.dependencies",
    "Body": "core.dependencies", "Form": "core.dependencies", "File": "core.dependencies",
    "Depends": "core.dependencies",
    "BackgroundTasks": "core.background",
    "Router": "core.routing", "RouteGroup": "core.routing", "Converter": "core.routing", "NoMatchFound": "core.routing",
    "Headers": "core.datastructures", "MutableHeaders": "core.datastructures", "QueryParams": "core.datastructures",
    "FormData": "core.datastructures", "URL": "core.datastructures", "State": "core.datastructures",
    "HeaderValueError": "core.datastructures", "Address": "core.datastructures",
    "UploadFile": "core.multipart", "MultipartLimits": "core.multipart", "MultipartError": "core.multipart",
    "TestClient": "testing", "AsyncTestClient": "testing",
    "JWT": "security.jwt", "InvalidTokenError": "security.jwt",
    "hash_password": "security.passwords", "verify_password": "security.passwords",
    "needs_rehash": "security.passwords",
    "Cache": "cache", "cached": "cache",
    "CacheManager": "cache", "MultiLevelCache": "cache", "CacheLayer": "cache",
    "cache_result": "cache", "cache_page": "cache",
    "RateLimiter": "security.rate_limiting", "RateLimitMiddleware": "security.rate_limiting",
    "DDoSProtector": "security.rate_limiting",
    "InputValidator": "security.protection", "SQLInjectionProtector": "security.protection",
    "XSSProtector": "security.protection",
    "Redis": "redis", "RedisError": "redis",
    "RealtimeManager": "realtime",
    "TemplateEngine": "templates", "TemplateResponse": "templates", "Markup": "templates", "escape": "templates",
    "TemplateError": "templates", "TemplateSyntaxError": "templates",
    "TemplateNotFound": "templates", "UndefinedError": "templates",
    "validate": "validation", "compile_schema": "validation", "Validator": "validation",
    "ValidationError": "validation", "SchemaError": "validation", "Model": "validation",
    "Field": "validation", "schema_for": "validation", "converter_for": "validation",
    "serializer_for": "validation",
    "JWTAuth": "security.jwt_auth", "RBAC": "security.rbac", "RoleBasedAccessControl": "security.rbac",
    "SessionMiddleware": "security.sessions", "CSRFMiddleware": "security.csrf", "csrf_token": "security.csrf",
    "CSRFProtection": "security.csrf", "csrf_exempt": "security.csrf",
    "CORSMiddleware": "security.cors", "SecurityHeadersMiddleware": "security.headers",
    "TrustedHostMiddleware": "security.hosts",
    "GZipMiddleware": "middleware.gzip", "RequestIDMiddleware": "middleware.request_id",
    "TimingMiddleware": "middleware.timing",
    "EventSourceResponse": "sse", "ServerSentEvent": "sse", "last_event_id": "sse",
    "WebSocket": "websocket", "WebSocketDisconnect": "websocket", "WebSocketState": "websocket",
    "WebSocketManager": "websocket",
    "StaticFiles": "staticfiles",
    "Config": "config", "ConfigError": "config", "Secret": "config",
    "HealthChecker": "monitoring.health",
    "TracingMiddleware": "monitoring.tracing", "trace": "monitoring.tracing",
    "MetricsManager": "monitoring", "PrometheusBackend": "monitoring.backends",
    "PerformanceMonitor": "monitoring",
    "SentryIntegration": "monitoring.sentry",
    "PerformanceProfiler": "debugging", "MemoryMonitor": "debugging",
    "StructuredLogger": "logging", "JSONFormatter": "logging", "log_context": "logging",
    "retry": "resilience", "CircuitBreaker": "resilience", "CircuitOpenError": "resilience",
    "flash": "flash_messages", "get_flashed_messages": "flash_messages",
    "form_errors": "forms",
    # the database layer (the ORM's Model stays covet.database.Model: covet.Model is validation's)
    "DatabaseManager": "database", "Database": "database", "DatabaseConfig": "database",
    "ConnectionPool": "database", "QueryBuilder": "database", "QueryOptimizer": "database",
    "DatabaseError": "database", "IntegrityError": "database",
}

__all__ = ["__version__"] + sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("covet", _EXPORTS, globals())
