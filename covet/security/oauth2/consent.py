"""The consent page and the error page of the authorization endpoint, and the consent token.

Both pages render with covet's template engine (autoescaped) from a template string compiled
once at start-up; either may be replaced by another template string or by a callable
``page(request, context)`` returning HTML text or a ``Response`` (sync or async).

The consent form posts back a *consent token*: the validated authorization request, the user it
was shown to and a one-time nonce, signed with the server key (``Signer``, purpose
``covet.oauth2.consent``) and valid for ``CONSENT_TOKEN_LIFETIME``. A cross-site page cannot
obtain one (it cannot read the consent page), cannot replay one (the nonce is claimed once) and
cannot use another user's (the token names the user). When ``CSRFProtection`` is installed the
form carries its ``csrf_token`` too. Every page of the endpoint forbids framing
(``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: clickjacking, RFC 6819 §4.4.1.9)
and caching (``Cache-Control: no-store``), and sends no Referer (the URL carries ``state``).

Example::

    OAuth2Server(clients=..., consent_template=open("templates/consent.html").read())
    OAuth2Server(clients=..., consent_template=lambda request, ctx: render_my_page(ctx))
"""
import inspect
import json
from typing import Any, Callable, Dict, Mapping, Optional, Union

from ...core.responses import HTMLResponse, Response
from ...templates import TemplateEngine
from ..signing import Signer, b64url_decode, b64url_encode

__all__ = ["ConsentPage", "ConsentTokens", "DEFAULT_CONSENT_TEMPLATE", "DEFAULT_ERROR_TEMPLATE",
           "PAGE_HEADERS", "CONSENT_TOKEN_LIFETIME"]

#: Seconds a consent form stays valid after it was shown.
CONSENT_TOKEN_LIFETIME = 600

#: Headers on every HTML page of the authorization endpoint.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # No form-action: browsers apply it to the redirect after the POST, which goes to the client.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

DEFAULT_CONSENT_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Authorize {{ client_name }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}</style></head>
<body>
<h1>Authorize {{ client_name }}</h1>
<p><strong>{{ client_name }}</strong> asks to act on your behalf ({{ user }}).</p>
{% if scopes %}<p>It asks for:</p><ul>{% for scope in scopes %}<li>{{ scope }}</li>{% endfor %}</ul>
{% else %}<p>It asks for no particular permission.</p>{% endif %}
<p>You will be sent back to <code>{{ redirect_uri }}</code>.</p>
<form method="post" action="{{ action }}">
<input type="hidden" name="consent_token" value="{{ consent_token }}">
{% if csrf_token %}<input type="hidden" name="csrf_token" value="{{ csrf_token }}">{% endif %}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>
"""

DEFAULT_ERROR_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head>
<body>
<h1>Authorization error</h1>
<p><strong>{{ error }}</strong>{% if error_description %}: {{ error_description }}{% endif %}</p>
{% if hint %}<p>{{ hint }}</p>{% endif %}
</body></html>
"""

PageSource = Union[str, Callable[..., Any]]


class ConsentPage:
    """One page of the authorization endpoint: a template string (compiled once) or a callable.

    ``await page.render(request, context, status)`` is the Response, with ``PAGE_HEADERS`` added.
    """

    def __init__(self, source: PageSource, engine: Optional[TemplateEngine] = None) -> None:
        if isinstance(source, str):
            self._template = (engine or TemplateEngine([])).from_string(source)
            self._callable = None  # type: Optional[Callable[..., Any]]
        elif callable(source):
            self._template = None
            self._callable = source
        else:
            raise TypeError("a page must be a template string or a callable(request, context), got %r" % (source,))

    async def render(self, request: Any, context: Mapping[str, Any], status_code: int = 200) -> Response:
        """The page for ``context`` as a Response with the anti-framing and no-store headers."""
        if self._template is not None:
            result = self._template.render(dict(context))  # type: Any
        else:
            result = self._callable(request, dict(context))  # type: ignore[misc]
            if inspect.isawaitable(result):
                result = await result
        if isinstance(result, Response):
            response = result
            for name, value in PAGE_HEADERS.items():
                response.headers[name] = value
            return response
        if not isinstance(result, str):
            raise TypeError("a page callable must return HTML text or a Response, got %r" % type(result).__name__)
        return HTMLResponse(result, status_code, headers=PAGE_HEADERS)


class ConsentTokens:
    """Sign and check consent tokens (see the module docstring).

    Example::

        tokens = ConsentTokens(secret)
        value = tokens.sign({"u": "42", "c": "app"}, now)
        tokens.unsign(value, now)     # {"u": "42", "c": "app"}, or None when forged or stale
    """

    def __init__(self, secret_key: Any, lifetime: float = CONSENT_TOKEN_LIFETIME) -> None:
        self._signer = Signer(secret_key, b"covet.oauth2.consent")
        self.lifetime = lifetime

    def sign(self, payload: Dict[str, Any], now: float) -> str:
        """The consent token for ``payload``, stamped with ``now``."""
        text = b64url_encode(json.dumps(payload, separators=(",", ":")).encode("utf-8")).decode("ascii")
        return self._signer.sign(text, int(now))

    def unsign(self, value: Any, now: float) -> Optional[Dict[str, Any]]:
        """The payload of a genuine token signed less than ``lifetime`` ago (and not in the future), else None."""
        found = self._signer.unsign(value)
        if found is None:
            return None
        text, stamp, _ = found
        if not stamp <= now < stamp + self.lifetime + 1:
            return None
        try:
            payload = json.loads(b64url_decode(text).decode("utf-8"))
        except (ValueError, RecursionError):
            return None
        return payload if isinstance(payload, dict) else None
