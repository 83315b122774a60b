"""SecurityHeadersMiddleware: browser hardening headers on every response, built once.

A header the handler already set is left alone, so one route can loosen (or tighten)
what the middleware adds everywhere else.

Example::

    app.add_middleware(SecurityHeadersMiddleware,
                       content_security_policy={"default-src": "'self'", "img-src": ["'self'", "data:"]},
                       hsts=True)
"""
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from ..core.datastructures import encode_header

__all__ = ["SecurityHeadersMiddleware", "DEFAULT_HSTS", "build_csp"]

# RFC 6797 §6.1.1: max-age is required. One year is the figure browsers' preload lists ask
# for; includeSubDomains and preload are left to the application (they affect other hosts).
DEFAULT_HSTS = "max-age=31536000"

_DIRECTIVE = re.compile(r"[A-Za-z0-9-]+")


def build_csp(policy: Union[str, Mapping[str, Union[str, Iterable[str]]]]) -> str:
    """A Content-Security-Policy value from a string or a dict ``directive -> source(s)``.

    Example::

        build_csp({"default-src": "'self'", "img-src": ["'self'", "data:"]})
        # "default-src 'self'; img-src 'self' data:"
    """
    if isinstance(policy, str):
        return policy
    parts = []
    for directive, sources in policy.items():
        if not isinstance(directive, str) or not _DIRECTIVE.fullmatch(directive):
            raise ValueError("a CSP directive name is letters, digits and '-', got %r" % (directive,))
        if sources is None or sources is True:
            sources = []
        elif isinstance(sources, str):
            sources = [sources]
        values = list(sources)
        for value in values:
            # W3C CSP3 §2.2: ';' separates directives and ',' separates policies, so a
            # source containing either would smuggle in a directive of its own.
            if not isinstance(value, str) or any(c in value for c in ";,\r\n"):
                raise ValueError("CSP source %r for %s contains ';', ',' or a line break" % (value, directive))
        parts.append(" ".join([directive] + values))
    return "; ".join(parts)


class SecurityHeadersMiddleware:
    """Add security headers to every response; each one can be changed, or removed with None.

    :param content_type_options: ``X-Content-Type-Options`` (``nosniff``).
    :param frame_options: ``X-Frame-Options`` (``DENY``).
    :param referrer_policy: ``Referrer-Policy`` (``strict-origin-when-cross-origin``).
    :param cross_origin_opener_policy: ``Cross-Origin-Opener-Policy`` (``same-origin``).
    :param content_security_policy: a CSP string or dict (see :func:`build_csp`); off by default.
    :param csp_report_only: send the CSP as ``Content-Security-Policy-Report-Only`` instead.
    :param hsts: ``Strict-Transport-Security`` on HTTPS responses only: True for
        ``DEFAULT_HSTS``, or the full value (``"max-age=63072000; includeSubDomains; preload"``).
    :param permissions_policy: ``Permissions-Policy``, off by default.
    :param headers: any other headers to add, as a dict.
    """

    def __init__(self, content_type_options: Optional[str] = "nosniff", frame_options: Optional[str] = "DENY",
                 referrer_policy: Optional[str] = "strict-origin-when-cross-origin",
                 cross_origin_opener_policy: Optional[str] = "same-origin",
                 content_security_policy: Union[None, str, Mapping[str, Any]] = None,
                 csp_report_only: bool = False, hsts: Union[None, bool, str] = None,
                 permissions_policy: Optional[str] = None, headers: Optional[Mapping[str, str]] = None) -> None:
        wanted = [
            ("X-Content-Type-Options", content_type_options),
            ("X-Frame-Options", frame_options),
            ("Referrer-Policy", referrer_policy),
            ("Cross-Origin-Opener-Policy", cross_origin_opener_policy),
        ]
        if content_security_policy is not None:
            name = "Content-Security-Policy-Report-Only" if csp_report_only else "Content-Security-Policy"
            wanted.append((name, build_csp(content_security_policy)))
        wanted.append(("Permissions-Policy", permissions_policy))
        for name, value in (headers or {}).items():
            wanted.append((name, value))
        raw = []
        for name, value in wanted:
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError("header %s must be a string or None, got %r" % (name, value))
            raw.append(encode_header(name, value))  # ValueError on CR/LF/NUL, now rather than per response
        self._headers = raw
        if hsts is True:
            hsts = DEFAULT_HSTS
        elif hsts is False:
            hsts = None
        if hsts is not None and (not isinstance(hsts, str) or not hsts.lower().lstrip().startswith("max-age=")):
            raise ValueError("hsts must be True or a value starting with max-age= (RFC 6797 §6.1.1)")
        # The (name, value) bytes pair, or None.
        self._hsts = encode_header("Strict-Transport-Security", hsts) if hsts is not None else None

    @property
    def headers(self) -> Dict[str, str]:
        """The headers added to every response (HSTS aside), as a dict."""
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in self._headers}

    @property
    def hsts(self) -> Optional[str]:
        """The ``Strict-Transport-Security`` value sent on HTTPS responses, or None when off."""
        return self._hsts[1].decode("latin-1") if self._hsts is not None else None

    async def __call__(self, request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        raw = response.raw_headers
        present = {k for k, _ in raw}
        for header in self._headers:
            if header[0] not in present:
                raw.append(header)
        # RFC 6797 §7.2: HSTS sent over plain HTTP must be ignored, and it would lock users
        # out of a site that is not served over HTTPS, so it goes on HTTPS responses only.
        hsts = self._hsts
        if hsts is not None and request.scheme == "https" and hsts[0] not in present:
            raw.append(hsts)
        return response

    def __repr__(self) -> str:
        return "<SecurityHeadersMiddleware %d headers%s>" % (len(self._headers), " +HSTS" if self._hsts else "")
