"""covet: a web framework on the Python standard library alone.

Public names are imported lazily (PEP 562) so that ``import covet`` stays
cheap and a program that only needs the template engine or the JWT helper
does not pay for the server.
"""
from ._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "Covet": "app", "CovetApp": "app",
    "Request": "requests",
    "Response": "responses", "JSONResponse": "responses", "HTMLResponse": "responses",
    "PlainTextResponse": "responses", "RedirectResponse": "responses",
    "StreamingResponse": "responses", "FileResponse": "responses",
    "HTTPException": "errors", "RequestValidationError": "errors",
    "Query": "params", "Path": "params", "Header": "params", "Cookie": "params",
    "Body": "params", "Depends": "params",
    "BackgroundTasks": "background",
    "Router": "routing", "RouteGroup": "routing", "Converter": "routing", "NoMatchFound": "routing",
    "Headers": "datastructures", "MutableHeaders": "datastructures", "QueryParams": "datastructures",
    "FormData": "datastructures", "URL": "datastructures", "State": "datastructures",
    "HeaderValueError": "datastructures",
    "UploadFile": "multipart", "MultipartLimits": "multipart", "MultipartError": "multipart",
    "TestClient": "testing", "AsyncTestClient": "testing",
    "JWT": "security.jwt", "InvalidTokenError": "security.jwt",
    "hash_password": "security.passwords", "verify_password": "security.passwords",
    "needs_rehash": "security.passwords",
    "Cache": "cache", "cached": "cache",
    "RateLimiter": "ratelimit", "RateLimitMiddleware": "ratelimit",
    "Redis": "redis", "RedisError": "redis",
    "TemplateEngine": "templating", "Markup": "templating", "escape": "templating",
    "TemplateError": "templating", "TemplateSyntaxError": "templating",
    "TemplateNotFound": "templating", "UndefinedError": "templating",
    "validate": "validation", "compile_schema": "validation", "Validator": "validation",
    "ValidationError": "validation", "SchemaError": "validation", "Model": "validation",
    "Field": "validation", "schema_for": "validation", "converter_for": "validation",
    "serializer_for": "validation",
    "JWTAuth": "security.auth", "RBAC": "security.auth", "RoleBasedAccessControl": "security.auth",
    "SessionMiddleware": "security.sessions", "CSRFMiddleware": "security.csrf", "csrf_token": "security.csrf",
    "CORSMiddleware": "security.cors", "SecurityHeadersMiddleware": "security.headers",
    "TrustedHostMiddleware": "security.hosts",
}

__all__ = ["__version__"] + sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("covet", _EXPORTS, globals())
