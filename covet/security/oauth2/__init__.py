"""An OAuth 2.1 authorization server for covet apps (docs/oauth2.md).

The modules, one concept each: ``server`` (``OAuth2Server``: configuration, routes, token
issuance, metadata), ``authorize`` (the authorization endpoint and consent decision), ``grants``
(the token endpoint), ``introspection`` (revocation and introspection), ``resource``
(``require_scopes``), ``clients`` (registration and client authentication), ``pkce``,
``tokens`` (JWT access tokens), ``consent`` (the pages and the consent token), ``params``
(parameter rules), ``errors``, and the storage: ``storage`` (the contract and ``MemoryStorage``),
``storage_cache`` (``CacheStorage``), ``storage_db`` (``DatabaseStorage``).

Example::

    from covet.security.oauth2 import OAuth2Server

    oauth2 = OAuth2Server(
        authorization_endpoint="/oauth/authorize",
        token_endpoint="/oauth/token",
        clients={"client_id": {"secret": "client_secret",
                               "redirect_uris": ["http://localhost:3000/callback"]}},
    )
    app.include_oauth2(oauth2)
"""
from .clients import Client, check_redirect_uri
from .consent import DEFAULT_CONSENT_TEMPLATE, DEFAULT_ERROR_TEMPLATE
from .errors import OAuth2Error
from .pkce import make_verifier, s256_challenge
from .resource import ScopeRequirement
from .server import OAuth2Server, default_authenticate
from .storage import CodeRecord, MemoryStorage, OAuth2Storage, TokenRecord, token_key
from .storage_cache import CacheStorage
from .storage_db import DatabaseStorage, schema_statements

__all__ = [
    "OAuth2Server", "OAuth2Error", "Client", "check_redirect_uri", "default_authenticate", "ScopeRequirement",
    "OAuth2Storage", "MemoryStorage", "CacheStorage", "DatabaseStorage", "schema_statements", "CodeRecord",
    "TokenRecord", "token_key", "make_verifier", "s256_challenge", "DEFAULT_CONSENT_TEMPLATE",
    "DEFAULT_ERROR_TEMPLATE",
]
