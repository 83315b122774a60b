"""The cookie settings that sessions and CSRF share, checked once when a middleware is built."""
from typing import Optional

__all__ = ["check_cookie_options"]

_SAME_SITE = {"lax": "lax", "strict": "strict", "none": "none"}
# RFC 6265 §4.1.1: a cookie-name is an RFC 2616 token.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~")


def check_cookie_options(cookie_name: str, same_site: str, https_only: bool, path: str,
                         domain: Optional[str]) -> str:
    """The normalised SameSite value ("lax", "strict" or "none"); ``ValueError`` for settings
    that a browser would refuse or silently drop.

    Example::

        check_cookie_options("__Host-session", "Lax", True, "/", None)   # "lax"
    """
    if not isinstance(cookie_name, str) or not cookie_name or not all(
            c.isalnum() or c in _TOKEN_CHARS for c in cookie_name):
        raise ValueError("invalid cookie name: %r" % (cookie_name,))
    site = _SAME_SITE.get(str(same_site).lower())
    if site is None:
        raise ValueError("same_site must be 'lax', 'strict' or 'none', not %r" % (same_site,))
    if site == "none" and not https_only:
        # Browsers drop SameSite=None cookies that lack Secure.
        raise ValueError("same_site='none' needs https_only=True")
    # RFC 6265bis §4.1.3: browsers refuse __Secure- cookies without Secure, and __Host-
    # cookies that also lack Path=/ or carry a Domain (werkzeug CVE-2023-23934 context).
    if cookie_name.startswith(("__Secure-", "__Host-")) and not https_only:
        raise ValueError("a %s- cookie needs https_only=True" % cookie_name.split("-")[0])
    if cookie_name.startswith("__Host-") and (path != "/" or domain is not None):
        raise ValueError("a __Host- cookie needs path='/' and no domain")
    return site
