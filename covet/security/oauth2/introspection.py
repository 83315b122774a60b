"""Token revocation (RFC 7009) and introspection (RFC 7662).

Revoking a refresh token revokes its whole grant: the refresh tokens rotated from it and every
access token issued under it (RFC 7009 §2.1: "SHOULD also invalidate all access tokens based on
the same authorization grant"). Revoking an access token removes its record, so introspection
and ``require_scopes`` refuse it at once; a resource server that checks the JWT alone keeps
accepting it until ``exp`` (docs/oauth2.md, "Revocation").

Introspection needs client authentication (RFC 7662 §2.1) by a confidential client (a resource
server registered as a client). An unknown, expired, revoked or foreign token is
``{"active": false}``, nothing more (RFC 7662 §2.2).

Example::

    POST /oauth/introspect      (Basic auth of a confidential client)
    token=eyJhbGciOi...
    -> {"active": true, "scope": "read", "client_id": "app", "sub": "42", "exp": 1700000000, ...}
"""
from typing import Any, Dict, Optional

from ...core.responses import Response
from ..jwt import InvalidTokenError
from .clients import authenticate_client, read_client_auth
from .errors import INVALID_REQUEST, UNAUTHORIZED_CLIENT, OAuth2Error
from .grants import read_form
from .params import TOKEN_HINT_PARAMS
from .storage import ACCESS, REFRESH, token_key

__all__ = ["revoke", "introspect"]

_INACTIVE = {"active": False}


def _looks_like_jwt(token: str) -> bool:
    # Refresh tokens here are base64url without dots; access tokens are compact JWS (two dots).
    return token.count(".") == 2


async def revoke(server: Any, request: Any) -> Response:
    """RFC 7009 §2.1: revoke the token; 200 with an empty body, also for a token that is unknown."""
    params = await read_form(request, TOKEN_HINT_PARAMS)
    client = await authenticate_client(read_client_auth(request.headers.get("authorization"), params),
                                       server.clients, allow_public=True)
    token = params.get("token")
    if token is None:
        raise OAuth2Error(INVALID_REQUEST, "token is required")
    # token_type_hint is only a hint (RFC 7009 §2.1): both kinds are looked up whatever it says.
    if _looks_like_jwt(token):
        try:
            # Expired tokens may still be revoked (nothing is lost); the signature must hold.
            claims = server.access_tokens.jwt.decode(token, audience=server.audience_for(request),
                                                     issuer=server.issuer_for(request), verify_exp=False)
        except InvalidTokenError:
            claims = None
        jti = claims.get("jti") if claims else None
        if isinstance(jti, str):
            found = await server.storage.get_token(jti)
            if found is not None and found[0].kind == ACCESS:
                if found[0].client_id != client.client_id:
                    raise OAuth2Error(UNAUTHORIZED_CLIENT, "the token was not issued to this client")
                await server.storage.delete_token(jti)
    else:
        found = await server.storage.get_token(token_key(token))
        if found is not None and found[0].kind == REFRESH:
            if found[0].client_id != client.client_id:
                raise OAuth2Error(UNAUTHORIZED_CLIENT, "the token was not issued to this client")
            await server.storage.revoke_grant(found[0].grant_id, server.grant_lifetime)
    return Response(b"", 200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def introspect(server: Any, request: Any) -> Dict[str, Any]:
    """RFC 7662 §2.2: what is known of an active token, or ``{"active": false}``."""
    params = await read_form(request, TOKEN_HINT_PARAMS)
    await authenticate_client(read_client_auth(request.headers.get("authorization"), params), server.clients,
                              allow_public=False)
    token = params.get("token")
    if token is None:
        raise OAuth2Error(INVALID_REQUEST, "token is required")
    if _looks_like_jwt(token):
        claims = await server.access_token_claims(request, token)
        if claims is None:
            return dict(_INACTIVE)
        body = {"active": True, "token_type": "Bearer"}  # type: Dict[str, Any]
        for name in ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti"):
            if name in claims:
                body[name] = claims[name]
        return body
    return await _refresh_info(server, request, token) or dict(_INACTIVE)


async def _refresh_info(server: Any, request: Any, token: str) -> Optional[Dict[str, Any]]:
    found = await server.storage.get_token(token_key(token))
    if found is None:
        return None
    record, used = found
    if (record.kind != REFRESH or used or server.now() >= record.expires_at
            or not await server.storage.grant_active(record.grant_id)):
        return None
    return {"active": True, "token_type": "refresh_token", "scope": record.scope, "client_id": record.client_id,
            "sub": record.subject, "exp": int(record.expires_at), "iss": server.issuer_for(request)}
