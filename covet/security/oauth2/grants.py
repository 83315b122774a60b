"""The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6) and its three grants.

- ``authorization_code``: the code is used once (a second use revokes what the first one
  issued, RFC 6749 §4.1.2), within its lifetime, by the client it was issued to, with the same
  redirect_uri parameter, and with the PKCE verifier of its challenge (RFC 7636 §4.6).
- ``refresh_token``: rotated at every use (RFC 9700 §4.14.2). A refresh token used twice means
  that two parties hold it: the whole grant is revoked, the newest refresh token and the
  access tokens included. A narrower ``scope`` may be asked for, never a wider one (§6).
- ``client_credentials``: confidential clients only, no refresh token (§4.4.3).

Example (what a client sends)::

    POST /oauth/token
    Authorization: Basic base64(client_id:client_secret)
    Content-Type: application/x-www-form-urlencoded

    grant_type=authorization_code&code=...&redirect_uri=...&code_verifier=...
"""
from typing import Any, Dict

from ...core.errors import HTTPException
from .clients import (AUTHORIZATION_CODE, CLIENT_CREDENTIALS, GRANT_TYPES, REFRESH_TOKEN, Client,
                      authenticate_client, read_client_auth)
from .errors import (INVALID_GRANT, INVALID_REQUEST, INVALID_SCOPE, UNAUTHORIZED_CLIENT, UNSUPPORTED_GRANT_TYPE,
                     OAuth2Error)
from .params import MAX_REQUEST_BYTES, TOKEN_PARAMS, format_scope, parse_scope, read_params
from .pkce import verify as verify_pkce
from .storage import REFRESH, token_key
from .tokens import new_secret

__all__ = ["token_endpoint", "read_form"]

_FORM = "application/x-www-form-urlencoded"


async def read_form(request: Any, known: frozenset) -> Dict[str, str]:
    """The known parameters of a form-encoded POST body (RFC 6749 §3.2); ``invalid_request`` for
    another media type, a body over ``MAX_REQUEST_BYTES``, or bad parameters."""
    if request.content_type != _FORM:
        raise OAuth2Error(INVALID_REQUEST, "the body must be application/x-www-form-urlencoded")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_REQUEST_BYTES):
        raise OAuth2Error(INVALID_REQUEST, "the request body is too large")
    try:
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            raise OAuth2Error(INVALID_REQUEST, "the request body is too large")
        form = await request.form()
    except HTTPException:
        raise OAuth2Error(INVALID_REQUEST, "the request body is not a valid form") from None
    return read_params(form.multi_items(), known)


async def token_endpoint(server: Any, request: Any) -> Dict[str, Any]:
    """The token endpoint: the response body of RFC 6749 §5.1, or an ``OAuth2Error``."""
    params = await read_form(request, TOKEN_PARAMS)
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise OAuth2Error(INVALID_REQUEST, "grant_type is required")
    if grant_type not in GRANT_TYPES:
        # password and implicit were removed by OAuth 2.1.
        raise OAuth2Error(UNSUPPORTED_GRANT_TYPE, "grant_type must be authorization_code, refresh_token or "
                                                  "client_credentials")
    auth = read_client_auth(request.headers.get("authorization"), params)
    client = await authenticate_client(auth, server.clients, allow_public=grant_type != CLIENT_CREDENTIALS)
    if grant_type not in client.grant_types:
        raise OAuth2Error(UNAUTHORIZED_CLIENT, "the client may not use this grant type")
    if grant_type == AUTHORIZATION_CODE:
        return await _authorization_code(server, request, client, params)
    if grant_type == REFRESH_TOKEN:
        return await _refresh_token(server, request, client, params)
    return await _client_credentials(server, request, client, params)


async def _authorization_code(server: Any, request: Any, client: Client, params: Dict[str, str]) -> Dict[str, Any]:
    code = params.get("code")
    verifier = params.get("code_verifier")
    if code is None:
        raise OAuth2Error(INVALID_REQUEST, "code is required")
    if verifier is None:
        raise OAuth2Error(INVALID_REQUEST, "code_verifier is required (PKCE)")
    found = await server.storage.consume_code(token_key(code))
    if found is None:
        raise OAuth2Error(INVALID_GRANT, "the authorization code is invalid")
    record, first_use = found
    if not first_use:
        # RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server
        # MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based on
        # that authorization code." The code leaked: whoever redeemed it first may be the attacker.
        await server.storage.revoke_grant(record.grant_id, server.grant_lifetime)
        raise OAuth2Error(INVALID_GRANT, "the authorization code was already used; its tokens are revoked")
    if record.client_id != client.client_id:
        raise OAuth2Error(INVALID_GRANT, "the authorization code was issued to another client")
    if server.now() >= record.expires_at:
        raise OAuth2Error(INVALID_GRANT, "the authorization code has expired")
    if params.get("redirect_uri", "") != record.redirect_uri:
        raise OAuth2Error(INVALID_GRANT, "redirect_uri does not match the authorization request")
    if not verify_pkce(verifier, record.code_challenge):
        raise OAuth2Error(INVALID_GRANT, "code_verifier does not match the code_challenge")
    await server.storage.save_grant(record.grant_id, server.grant_lifetime)
    refresh_scope = record.scope if REFRESH_TOKEN in client.grant_types else None
    return await server.issue_tokens(request, client, record.subject, record.scope, record.grant_id, refresh_scope)


async def _refresh_token(server: Any, request: Any, client: Client, params: Dict[str, str]) -> Dict[str, Any]:
    value = params.get("refresh_token")
    if value is None:
        raise OAuth2Error(INVALID_REQUEST, "refresh_token is required")
    key = token_key(value)
    found = await server.storage.get_token(key)
    if found is None or found[0].kind != REFRESH:
        raise OAuth2Error(INVALID_GRANT, "the refresh token is invalid")
    record = found[0]
    if record.client_id != client.client_id:
        raise OAuth2Error(INVALID_GRANT, "the refresh token was issued to another client")
    # The scope is checked before the token is spent, so a refused request leaves it usable.
    requested = parse_scope(params.get("scope"))
    if requested and not set(requested) <= set(record.scope.split()):
        raise OAuth2Error(INVALID_SCOPE, "a refresh may narrow the scope, not widen it (RFC 6749 §6)")
    if not await server.storage.mark_used(key):
        # RFC 9700 §4.14.2: a rotated refresh token came back. Either the client or an attacker
        # holds a copy; the server cannot tell which, so the grant ends for both.
        await server.storage.revoke_grant(record.grant_id, server.grant_lifetime)
        raise OAuth2Error(INVALID_GRANT, "the refresh token was already used; the grant is revoked")
    if server.now() >= record.expires_at:
        raise OAuth2Error(INVALID_GRANT, "the refresh token has expired")
    if not await server.storage.grant_active(record.grant_id):
        raise OAuth2Error(INVALID_GRANT, "the grant was revoked or has ended")
    scope = format_scope(requested) if requested else record.scope
    # The new refresh token keeps the original scope (RFC 6749 §6).
    return await server.issue_tokens(request, client, record.subject, scope, record.grant_id, record.scope)


async def _client_credentials(server: Any, request: Any, client: Client, params: Dict[str, str]) -> Dict[str, Any]:
    requested = parse_scope(params.get("scope"))
    granted = set(requested) if requested else set(client.default_scopes)
    if not granted <= client.scopes:
        raise OAuth2Error(INVALID_SCOPE, "the client may not ask for some of these scopes")
    grant_id = new_secret()
    await server.storage.save_grant(grant_id, server.access_token_lifetime)
    # RFC 9068 §2.2: with no resource owner, sub is the client's own id.
    return await server.issue_tokens(request, client, client.client_id, format_scope(granted), grant_id, None)
