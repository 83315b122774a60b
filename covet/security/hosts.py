"""TrustedHostMiddleware: answer 400 to requests whose Host header names no host of ours.

Password-reset links, absolute redirects and cache keys built from ``Host`` are only as
trustworthy as the header (host header injection, Django's ALLOWED_HOSTS); this checks
it before anything else runs.

Example::

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])
"""
import re
from typing import Any, Iterable, Optional, Union

from ..core.problems import problem_response

__all__ = ["TrustedHostMiddleware", "split_host"]

# RFC 3986 §3.2.2 reg-name / IPv4 (letters, digits, '-', '.', '_' which some internal
# names use), or an IP-literal in brackets; anything else is not a host we could serve.
# Labels are never empty and never start or end with "-": ".example.com" or
# "a..example.com" would pass a "*.example.com" wildcard and end up in links.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(r"{0}(?:\.{0})*|\[[0-9a-f:.]+\]".format(_LABEL))
_PORT = re.compile(r"[0-9]{1,5}")


def split_host(value: Optional[str]) -> Optional[str]:
    """The lower-cased host of a Host header without port or trailing dot; None when malformed.

    Example::

        split_host("Example.COM.:8443")   # 'example.com'
        split_host("[::1]:8000")          # '[::1]'
    """
    if not value:
        return None
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        host, rest = value[: end + 1], value[end + 1:]
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
    # RFC 3986 §3.2.3: the port may be empty ("example.com:").
    if rest and not (rest[0] == ":" and (rest == ":" or (_PORT.fullmatch(rest[1:]) and int(rest[1:]) <= 65535))):
        return None
    if host.endswith(".") and not host.startswith("["):
        host = host[:-1]  # RFC 1034 §3.1: "example.com." is the same name
    if not host or not _HOST.fullmatch(host):
        return None
    return host


class TrustedHostMiddleware:
    """Refuse (400, problem+json) requests for hosts not in ``allowed_hosts``.

    :param allowed_hosts: host names (``"example.com"``), wildcard subdomains
        (``"*.example.com"``: any depth, not the bare domain), IP literals, or ``"*"`` for any.
        Ports in the Host header are ignored; entries take none.

    Example::

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.example.com", "*.internal"])
    """

    def __init__(self, allowed_hosts: Union[str, Iterable[str]] = ("*",)) -> None:
        hosts = [allowed_hosts] if isinstance(allowed_hosts, str) else list(allowed_hosts)
        if not hosts:
            raise ValueError("allowed_hosts is empty: every request would be refused")
        exact, suffixes = set(), []
        self.allow_any = False
        for entry in hosts:
            if not isinstance(entry, str):
                raise TypeError("allowed hosts are strings, got %r" % (entry,))
            if entry == "*":
                self.allow_any = True
                continue
            wildcard = entry.startswith("*.")
            name = entry[2:] if wildcard else entry
            host = split_host(name)
            if host is None or host != name.lower().rstrip(".") or "*" in name:
                raise ValueError("allowed hosts are names like 'example.com' or '*.example.com' "
                                 "(no port, no other '*'), got %r" % entry)
            if wildcard:
                suffixes.append("." + host)
            else:
                exact.add(host)
        self.exact = frozenset(exact)
        self.suffixes = tuple(suffixes)

    def is_allowed(self, host_header: Optional[str]) -> bool:
        """True when the Host header value names an allowed host."""
        if self.allow_any:
            return True
        host = split_host(host_header)
        if host is None:
            return False
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, request: Any, call_next: Any) -> Any:
        if self.is_allowed(request.headers.get("host")):
            return await call_next(request)
        return problem_response(request, 400, "invalid Host header")

    def __repr__(self) -> str:
        return "<TrustedHostMiddleware %s>" % ("*" if self.allow_any else sorted(self.exact) + list(self.suffixes))
