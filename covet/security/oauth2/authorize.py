"""The authorization endpoint (RFC 6749 §4.1.1-4.1.2 with OAuth 2.1 and RFC 9700): GET checks the
request and shows the consent page; POST takes the user's decision and redirects with a code.

The order of checks is the RFC's: until the client and the redirect URI are known to be good,
every problem is an error *page* (no redirect, RFC 6749 §4.1.2.1: an open redirector otherwise,
RFC 9700 §4.11); after that, problems go back to the client as ``error`` on its registered
redirect URI, with ``state`` and ``iss`` (RFC 9207: the client can tell which server answered).

Example (what a client sends)::

    GET /oauth/authorize?response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb
        &scope=read&state=xyz&code_challenge=E9Melhoa...&code_challenge_method=S256
"""
from typing import Any, Dict, List, NamedTuple, Optional
from urllib.parse import urlencode

from ...core.errors import HTTPException
from ...core.responses import RedirectResponse, Response
from ..csrf import csrf_token
from .clients import AUTHORIZATION_CODE, Client
from .errors import (ACCESS_DENIED, INVALID_REQUEST, INVALID_SCOPE, UNAUTHORIZED_CLIENT, UNSUPPORTED_RESPONSE_TYPE,
                     OAuth2Error)
from .params import AUTHORIZE_PARAMS, CONSENT_PARAMS, MAX_REQUEST_BYTES, format_scope, parse_scope, read_params
from .pkce import CHALLENGE, S256
from .storage import CodeRecord, token_key
from .tokens import new_secret

__all__ = ["AuthorizationRequest", "show", "decide", "check_request"]

_FORM = "application/x-www-form-urlencoded"
_LOGIN_HINT = ("No user is signed in. Sign in and come back to this page. (For the site's developers: give "
               "OAuth2Server an authenticate(request) hook that returns the signed-in user id, put user_id in "
               "request.session with SessionMiddleware, or set login_url to send visitors to your login page.)")


class _PageError(Exception):
    """A problem answered with the error page: the client or its redirect URI cannot be trusted."""

    def __init__(self, error: str, description: str, status_code: int = 400, hint: str = "") -> None:
        super().__init__(description)
        self.error, self.description, self.status_code, self.hint = error, description, status_code, hint


class AuthorizationRequest(NamedTuple):
    """A checked authorization request."""

    client: Client
    #: The redirect_uri parameter as sent ("" when omitted; the code is bound to it, RFC 6749 §4.1.3).
    redirect_uri_param: str
    #: Where to send the user: the parameter, or the client's only registered URI.
    redirect_uri: str
    scope: str
    state: Optional[str]
    code_challenge: str


def _client_and_redirect(server: Any, client_id: Optional[str], redirect_param: Optional[str]) -> Client:
    if client_id is None:
        raise _PageError(INVALID_REQUEST, "the request has no client_id")
    client = server.clients.get(client_id)
    if client is None:
        raise _PageError(INVALID_REQUEST, "the client_id names no registered client")
    if redirect_param is None:
        # OAuth 2.1 §4.1.1: optional only when the client registered exactly one.
        if len(client.redirect_uris) != 1:
            raise _PageError(INVALID_REQUEST, "redirect_uri is required: the client registered several")
    elif redirect_param not in client.redirect_uris:
        # Exact string comparison (RFC 9700 §4.1.3): no prefix, no normalisation.
        raise _PageError(INVALID_REQUEST, "the redirect_uri is not one the client registered")
    return client


def check_request(server: Any, items: List[Any]) -> AuthorizationRequest:
    """Check the parameters of an authorization request; ``_PageError`` or ``OAuth2Error`` (the latter
    carries ``redirect`` and ``state`` attributes: where to send it back)."""
    try:
        first = read_params(items, frozenset(("client_id", "redirect_uri")))
    except OAuth2Error as exc:
        raise _PageError(exc.error, exc.description or "") from None
    client = _client_and_redirect(server, first.get("client_id"), first.get("redirect_uri"))
    redirect_param = first.get("redirect_uri", "")
    redirect_uri = redirect_param or client.redirect_uris[0]
    state = None  # type: Optional[str]
    try:
        # state first, on its own, so that later errors can carry it back.
        state = read_params(items, frozenset(("state",))).get("state")
    except OAuth2Error as exc:
        exc.redirect, exc.state = redirect_uri, None  # type: ignore[attr-defined]
        raise
    try:
        params = read_params(items, AUTHORIZE_PARAMS)
        if params.get("response_type") is None:
            raise OAuth2Error(INVALID_REQUEST, "response_type is required")
        if params["response_type"] != "code":
            # OAuth 2.1 removed the implicit grant (response_type=token).
            raise OAuth2Error(UNSUPPORTED_RESPONSE_TYPE, "only response_type=code is supported")
        if AUTHORIZATION_CODE not in client.grant_types:
            raise OAuth2Error(UNAUTHORIZED_CLIENT, "the client may not use the authorization code grant")
        challenge = params.get("code_challenge")
        if challenge is None:
            raise OAuth2Error(INVALID_REQUEST, "code_challenge is required (PKCE, RFC 7636)")
        if params.get("code_challenge_method") != S256:
            # RFC 7636 §4.3: an absent method means plain, which is refused as well (RFC 9700 §2.1.1).
            raise OAuth2Error(INVALID_REQUEST, "code_challenge_method must be S256")
        if not CHALLENGE.fullmatch(challenge):
            raise OAuth2Error(INVALID_REQUEST, "code_challenge is not an S256 challenge (43 base64url characters)")
        requested = parse_scope(params.get("scope"))
        granted = set(requested) if requested else set(client.default_scopes)
        if not granted <= client.scopes:
            raise OAuth2Error(INVALID_SCOPE, "the client may not ask for some of these scopes")
    except OAuth2Error as exc:
        exc.redirect, exc.state = redirect_uri, state  # type: ignore[attr-defined]
        raise
    return AuthorizationRequest(client, redirect_param, redirect_uri, format_scope(granted), state, challenge)


async def _page_error(server: Any, request: Any, exc: _PageError) -> Response:
    return await server.error_page.render(request, {"error": exc.error, "error_description": exc.description,
                                                    "hint": exc.hint}, exc.status_code)


def _redirect_error(server: Any, request: Any, exc: OAuth2Error, status_code: int) -> Response:
    params = {"error": exc.error}
    if exc.description:
        params["error_description"] = exc.description
    state = getattr(exc, "state", None)
    if state is not None:
        params["state"] = state
    params["iss"] = server.issuer_for(request)
    return server.redirect(exc.redirect, params, status_code)  # type: ignore[attr-defined]


async def _issue_code(server: Any, request: Any, areq: AuthorizationRequest, subject: str,
                      status_code: int) -> Response:
    code = new_secret()
    record = CodeRecord(areq.client.client_id, areq.redirect_uri_param, areq.scope, subject, areq.code_challenge,
                        new_secret(), server.now() + server.code_lifetime)
    await server.storage.save_code(token_key(code), record, server.code_lifetime)
    params = {"code": code}
    if areq.state is not None:
        params["state"] = areq.state
    params["iss"] = server.issuer_for(request)
    return server.redirect(areq.redirect_uri, params, status_code)


async def _not_signed_in(server: Any, request: Any) -> Response:
    if server.login_url is not None:
        target = request.url.path + ("?" + request.query_string if request.query_string else "")
        separator = "&" if "?" in server.login_url else "?"
        return RedirectResponse(server.login_url + separator + urlencode({"next": target}), 303,
                                headers={"Cache-Control": "no-store"})
    return await _page_error(server, request, _PageError("login_required", "no user is signed in", 401, _LOGIN_HINT))


async def show(server: Any, request: Any) -> Response:
    """GET: check the request, then show the consent page (or issue the code for a ``skip_consent`` client)."""
    try:
        if len(request.query_string) > MAX_REQUEST_BYTES:
            raise _PageError(INVALID_REQUEST, "the request is too long")
        try:
            items = request.query_params.multi_items()
        except HTTPException:
            raise _PageError(INVALID_REQUEST, "the request has too many parameters") from None
        areq = check_request(server, items)
    except _PageError as exc:
        return await _page_error(server, request, exc)
    except OAuth2Error as exc:
        return _redirect_error(server, request, exc, 302)
    user = await server.current_user(request)
    if user is None:
        return await _not_signed_in(server, request)
    if areq.client.skip_consent:
        return await _issue_code(server, request, areq, user, 302)
    now = server.now()
    payload = {"u": user, "c": areq.client.client_id, "r": areq.redirect_uri_param, "s": areq.scope,
               "st": areq.state, "cc": areq.code_challenge, "n": new_secret()}
    try:
        csrf = csrf_token(request)  # type: Optional[str]
    except RuntimeError:  # CSRFProtection is not installed: the consent token alone protects the form
        csrf = None
    context = {
        "client_name": areq.client.name, "client_id": areq.client.client_id, "scopes": areq.scope.split(),
        "redirect_uri": areq.redirect_uri, "user": user, "consent_token": server.consent_tokens.sign(payload, now),
        "csrf_token": csrf, "action": request.url.path, "state": areq.state,
    }
    return await server.consent_page.render(request, context)


async def decide(server: Any, request: Any) -> Response:
    """POST: the consent form came back; check its token and the user, then redirect with a code
    (allow) or ``access_denied`` (deny). 303, so the browser does not post again (RFC 9700 §4.11)."""
    try:
        if request.content_type != _FORM:
            raise _PageError(INVALID_REQUEST, "the consent form must be application/x-www-form-urlencoded")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_REQUEST_BYTES):
            raise _PageError(INVALID_REQUEST, "the consent form is too large")
        try:
            form = await request.form()
        except HTTPException:
            raise _PageError(INVALID_REQUEST, "the consent form could not be read") from None
        try:
            params = read_params(form.multi_items(), CONSENT_PARAMS)
        except OAuth2Error as exc:
            raise _PageError(exc.error, exc.description or "") from None
        payload = server.consent_tokens.unsign(params.get("consent_token"), server.now())
        if payload is None or not _payload_ok(payload):
            raise _PageError(INVALID_REQUEST, "the consent form is invalid or has expired; start the sign-in again")
        user = await server.current_user(request)
        if user is None:
            raise _PageError("login_required", "no user is signed in", 401, _LOGIN_HINT)
        if user != payload["u"]:
            raise _PageError(ACCESS_DENIED, "the consent form was shown to another user", 403)
        client = _client_and_redirect(server, payload["c"], payload["r"] or None)
        if not set(payload["s"].split()) <= client.scopes:  # the client's scopes changed meanwhile
            raise _PageError(INVALID_SCOPE, "the client may no longer ask for these scopes")
        if not await server.storage.claim_once("consent:" + payload["n"], server.consent_tokens.lifetime + 60):
            raise _PageError(INVALID_REQUEST, "this consent form was already submitted")
    except _PageError as exc:
        return await _page_error(server, request, exc)
    redirect_uri = payload["r"] or client.redirect_uris[0]
    areq = AuthorizationRequest(client, payload["r"], redirect_uri, payload["s"], payload.get("st"), payload["cc"])
    if params.get("decision") != "allow":
        exc = OAuth2Error(ACCESS_DENIED, "the user denied the request")
        exc.redirect, exc.state = redirect_uri, areq.state  # type: ignore[attr-defined]
        return _redirect_error(server, request, exc, 303)
    return await _issue_code(server, request, areq, user, 303)


def _payload_ok(payload: Dict[str, Any]) -> bool:
    strings = ("u", "c", "r", "s", "cc", "n")
    return (all(isinstance(payload.get(k), str) for k in strings)
            and (payload.get("st") is None or isinstance(payload.get("st"), str)))
