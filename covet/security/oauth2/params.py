"""Reading OAuth parameters: one value each, bounded in length, in the characters the RFC allows.

RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be included more than once"
and "Parameters sent without a value MUST be treated as if they were omitted from the request".
Every value is bounded (a hostile request gets ``invalid_request``, never a 500 or a huge
allocation) and checked against RFC 6749 Appendix A: most parameters are VSCHAR (%x20-7E).

Example::

    params = read_params(request.query_params.multi_items(), AUTHORIZE_PARAMS)
    params.get("client_id")
"""
import re
from typing import Dict, Iterable, List, Optional, Tuple

from .errors import INVALID_REQUEST, INVALID_SCOPE, OAuth2Error

__all__ = ["read_params", "parse_scope", "format_scope", "MAX_PARAM_LENGTH", "MAX_REQUEST_BYTES",
           "MAX_SCOPES", "AUTHORIZE_PARAMS", "TOKEN_PARAMS", "CONSENT_PARAMS", "TOKEN_HINT_PARAMS"]

# The longest value accepted for one parameter. Refresh tokens and codes here are 43 characters,
# access tokens well under 2 KiB; a redirect URI or a state beyond 2 KiB is not one a client
# needs (browsers and proxies start cutting URLs near 8 KiB).
MAX_PARAM_LENGTH = 2048
# An access token (a JWT) is the longest value a client sends back; covet's JWT caps it at 8 KiB.
MAX_TOKEN_LENGTH = 8192
# Query strings and form bodies of the OAuth endpoints: everything they carry fits well in 16 KiB.
MAX_REQUEST_BYTES = 16384
# No client needs more scopes than this in one request.
MAX_SCOPES = 64

# RFC 6749 Appendix A: VSCHAR = %x20-7E (state, client_id, code, error values...).
_VSCHAR = re.compile(r"[\x20-\x7e]*")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

AUTHORIZE_PARAMS = frozenset(("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                              "code_challenge_method"))
TOKEN_PARAMS = frozenset(("grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret",
                          "refresh_token", "scope"))
TOKEN_HINT_PARAMS = frozenset(("token", "token_type_hint", "client_id", "client_secret"))
CONSENT_PARAMS = frozenset(("consent_token", "decision", "csrf_token"))
# Values that are long by nature.
_LONG = frozenset(("token", "consent_token"))


def read_params(items: Iterable[Tuple[str, object]], known: frozenset) -> Dict[str, str]:
    """The known parameters of ``items`` as a dict; empty values dropped, unknown names ignored.

    ``OAuth2Error(invalid_request)`` for a repeated known parameter (RFC 6749 §3.1), a value
    that is not text, longer than ``MAX_PARAM_LENGTH``, or outside VSCHAR. Unknown parameters
    are ignored, as RFC 6749 §3.1 says ("MUST ignore unrecognized request parameters").
    """
    found: Dict[str, str] = {}
    seen = set()
    for name, value in items:
        if name not in known:
            continue
        if name in seen:
            raise OAuth2Error(INVALID_REQUEST, "parameter %s is repeated" % name)
        seen.add(name)
        if not isinstance(value, str):
            raise OAuth2Error(INVALID_REQUEST, "parameter %s must be text" % name)
        if len(value) > (MAX_TOKEN_LENGTH if name in _LONG else MAX_PARAM_LENGTH):
            raise OAuth2Error(INVALID_REQUEST, "parameter %s is too long" % name)
        if not _VSCHAR.fullmatch(value):
            raise OAuth2Error(INVALID_REQUEST, "parameter %s has characters outside printable ASCII" % name)
        if value:
            found[name] = value
    return found


def parse_scope(value: Optional[str]) -> List[str]:
    """The scope tokens of a ``scope`` parameter, sorted and without duplicates (RFC 6749 §3.3:
    the order does not matter); ``invalid_scope`` for a malformed list.

    Example::

        parse_scope("write read read")   # ['read', 'write']
    """
    if not value:
        return []
    tokens = value.split(" ")
    if len(tokens) > MAX_SCOPES:
        raise OAuth2Error(INVALID_SCOPE, "too many scopes (limit %d)" % MAX_SCOPES)
    for token in tokens:
        if not _SCOPE_TOKEN.fullmatch(token):
            raise OAuth2Error(INVALID_SCOPE, "scope must be scope tokens separated by single spaces")
    return sorted(set(tokens))


def format_scope(scopes: Iterable[str]) -> str:
    """The ``scope`` value for a collection of scope tokens: sorted, space-separated."""
    return " ".join(sorted(set(scopes)))
