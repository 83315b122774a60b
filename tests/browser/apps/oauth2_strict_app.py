"""examples/oauth2_api.py behind covet's SecurityHeadersMiddleware (its defaults, among them
Cross-Origin-Opener-Policy: same-origin, plus Content-Security-Policy: default-src 'self'): the
authorization code flow of /docs must work through the popup all the same."""
import importlib.util
import os

from covet.security import SecurityHeadersMiddleware

_EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples", "oauth2_api.py")
_spec = importlib.util.spec_from_file_location("oauth2_api_example", _EXAMPLE)
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

app = example.create_app()
app.add_middleware(SecurityHeadersMiddleware, content_security_policy="default-src 'self'")
