"""The OAuth2 storage contract (covet/security/oauth2/storage.py), one set of tests run against
every implementation: MemoryStorage, CacheStorage on a memory Cache and on Redis (a real
redis-server), and DatabaseStorage on SQLite and PostgreSQL; then the flows whose safety rests
on the store (code reuse, refresh rotation, revocation) through an app on each of them."""
import asyncio
import contextlib

import pytest

from covet.cache import Cache, RedisBackend
from covet.database import DatabaseManager
from covet.redis import Redis
from covet.security.oauth2 import (CacheStorage, CodeRecord, DatabaseStorage, MemoryStorage, TokenRecord,
                                   schema_statements, token_key)
from db_backends import reset_postgres
from redis_fixture import redis_clean, redis_server  # noqa: F401  (fixtures)
from test_oauth2_helpers import Clock, OAuthClient, api, client_for, introspect, make_app
from covet.testing import TestClient

KINDS = ["memory", "cache", "redis", "sqlite", "postgresql"]


def db_url(kind, request):
    if kind == "sqlite":
        return "sqlite:///%s" % (request.getfixturevalue("tmp_path") / "oauth2.db")
    url = request.getfixturevalue("postgres_server").url()  # skips, saying why, without PostgreSQL
    reset_postgres(url)
    return url


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def make_storage(kind, request):
    """An async context manager factory: ``async with make_storage() as storage``."""
    if kind == "redis":
        server = request.getfixturevalue("redis_clean")
    if kind in ("sqlite", "postgresql"):
        url = db_url(kind, request)

    @contextlib.asynccontextmanager
    async def factory():
        if kind == "memory":
            yield MemoryStorage()
        elif kind == "cache":
            yield CacheStorage(Cache(ttl=30))
        elif kind == "redis":
            cache = Cache(ttl=30, backend=RedisBackend(Redis(port=server.port)))
            try:
                yield CacheStorage(cache)
            finally:
                await cache.aclose()
                await cache.backend.redis.close()  # a client we made: the backend does not own it
        else:
            db = DatabaseManager(url)
            storage = DatabaseStorage(db)
            await storage.create_tables()
            try:
                yield storage
            finally:
                await db.disconnect()
    return factory


def run(make_storage, body):
    async def go():
        async with make_storage() as storage:
            await body(storage)
    asyncio.run(go())


CODE = CodeRecord("app", "https://app.example/cb", "read", "alice", "c" * 43, "grant-1", 1000.0)
REFRESH = TokenRecord("refresh", "app", "alice", "read write", "grant-1", 2000.0)
ACCESS = TokenRecord("access", "app", "alice", "read", "grant-1", 1900.0)


def test_codes_are_single_use(make_storage):
    async def body(storage):
        key = token_key("the-code")
        assert await storage.consume_code(key) is None
        await storage.save_code(key, CODE, 60)
        assert await storage.consume_code(key) == (CODE, True)
        assert await storage.consume_code(key) == (CODE, False)
        assert await storage.consume_code(key) == (CODE, False)
        assert await storage.consume_code(token_key("other")) is None
    run(make_storage, body)


def test_concurrent_redemptions_have_one_winner(make_storage):
    async def body(storage):
        key = token_key("raced")
        await storage.save_code(key, CODE, 60)
        results = await asyncio.gather(*[storage.consume_code(key) for _ in range(8)])
        assert sorted(first for _, first in results) == [False] * 7 + [True]
        await storage.save_token("rt", REFRESH, 60)
        marks = await asyncio.gather(*[storage.mark_used("rt") for _ in range(8)])
        assert marks.count(True) == 1
    run(make_storage, body)


def test_tokens_rotation_and_deletion(make_storage):
    async def body(storage):
        assert await storage.get_token("nope") is None
        assert await storage.mark_used("nope") is False
        await storage.save_token("rt", REFRESH, 60)
        await storage.save_token("jti-1", ACCESS, 60)
        assert await storage.get_token("rt") == (REFRESH, False)
        assert await storage.mark_used("rt") is True
        assert await storage.get_token("rt") == (REFRESH, True)
        assert await storage.mark_used("rt") is False
        assert await storage.get_token("jti-1") == (ACCESS, False)
        await storage.delete_token("jti-1")
        assert await storage.get_token("jti-1") is None
        await storage.delete_token("jti-1")  # twice is fine
    run(make_storage, body)


def test_grants_revocation_is_sticky(make_storage):
    async def body(storage):
        assert await storage.grant_active("g") is False  # never started: fail closed
        await storage.save_grant("g", 60)
        assert await storage.grant_active("g") is True
        await storage.revoke_grant("g", 60)
        assert await storage.grant_active("g") is False
        await storage.save_grant("g", 60)  # a late writer cannot bring it back
        assert await storage.grant_active("g") is False
        await storage.revoke_grant("never-started", 60)
        await storage.save_grant("never-started", 60)
        assert await storage.grant_active("never-started") is False
    run(make_storage, body)


def test_claim_once(make_storage):
    async def body(storage):
        assert await storage.claim_once("n1", 60) is True
        assert await storage.claim_once("n1", 60) is False
        assert await storage.claim_once("n2", 60) is True
        results = await asyncio.gather(*[storage.claim_once("n3", 60) for _ in range(6)])
        assert results.count(True) == 1
    run(make_storage, body)


def test_memory_storage_expires_entries():
    now = [0.0]
    storage = MemoryStorage(clock=lambda: now[0])

    async def body():
        await storage.save_code("c", CODE, 60)
        await storage.save_token("t", ACCESS, 60)
        await storage.save_grant("g", 60)
        now[0] = 60.0
        assert await storage.consume_code("c") is None
        assert await storage.get_token("t") is None
        assert await storage.grant_active("g") is False
    asyncio.run(body())


def test_database_storage_keeps_hashes_not_secrets(sqlite_url):
    async def body():
        db = DatabaseManager(sqlite_url)
        app, oauth2 = make_app(storage=DatabaseStorage(db))
        await oauth2.storage.create_tables()
        await db.disconnect()
        return app, oauth2, db
    app, oauth2, db = asyncio.run(body())
    app.on_shutdown(db.disconnect)
    with TestClient(app, follow_redirects=False) as http:
        client = OAuthClient(http)
        code, verifier = client.get_code()
        tokens = client.exchange(code, verifier).json()

        async def rows():
            return (await db.fetch_all("SELECT code_key FROM oauth2_codes"),
                    await db.fetch_all("SELECT token_key FROM oauth2_tokens"))
        codes, token_rows = http._portal_().call(rows())
    assert [r["code_key"] for r in codes] == [token_key(code)]
    keys = {r["token_key"] for r in token_rows}
    assert token_key(tokens["refresh_token"]) in keys
    assert tokens["refresh_token"] not in keys and code not in {r["code_key"] for r in codes}


def test_database_purge_and_schema(sqlite_url):
    now = [1000.0]

    async def body():
        db = DatabaseManager(sqlite_url)
        storage = DatabaseStorage(db, prefix="auth_", clock=lambda: now[0])
        await storage.create_tables()
        await storage.save_code("c", CODE, 60)
        await storage.claim_once("n", 10)
        now[0] = 1011.0
        assert await storage.claim_once("n", 10) is True  # a nonce past its time may be claimed again
        now[0] = 1100.0
        assert await storage.consume_code("c") is None
        assert await storage.purge() == 2
        await db.disconnect()
    asyncio.run(body())
    assert all("IF NOT EXISTS" in s for s in schema_statements())
    with pytest.raises(ValueError):
        schema_statements("x; DROP TABLE users; --")


@pytest.fixture
def flow_app(kind, request):
    """An app whose OAuth2Server uses the storage ``kind``, opened and closed with the app."""
    clock = Clock()
    if kind == "memory":
        return make_app(clock=clock)[0]
    if kind == "cache":
        return make_app(storage=CacheStorage(Cache(ttl=30)), clock=clock)[0]
    if kind == "redis":
        server = request.getfixturevalue("redis_clean")
        cache = Cache(ttl=30, backend=RedisBackend(Redis(port=server.port)))
        app = make_app(storage=CacheStorage(cache), clock=clock)[0]
        app.on_shutdown(cache.aclose)
        app.on_shutdown(cache.backend.redis.close)
        return app
    db = DatabaseManager(db_url(kind, request))
    storage = DatabaseStorage(db)
    app = make_app(storage=storage, clock=clock)[0]
    app.on_startup(storage.create_tables)
    app.on_shutdown(db.disconnect)
    return app


def test_flows_on_every_storage(flow_app):
    with TestClient(flow_app, follow_redirects=False) as http:
        client = OAuthClient(http)
        # code reuse revokes the first redemption's tokens
        code, verifier = client.get_code()
        tokens = client.exchange(code, verifier).json()
        assert api(http, tokens["access_token"]).status_code == 200
        assert client.exchange(code, verifier).json()["error"] == "invalid_grant"
        assert api(http, tokens["access_token"]).status_code == 401
        # refresh rotation, then reuse revokes the family
        tokens = client.login()
        rotated = client.refresh(tokens["refresh_token"]).json()
        assert introspect(http, rotated["access_token"])["active"] is True
        assert client.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
        assert client.refresh(rotated["refresh_token"]).json()["error"] == "invalid_grant"
        assert introspect(http, rotated["access_token"]) == {"active": False}
        # revocation of an access token
        tokens = client.login()
        assert client.revoke(tokens["access_token"]).status_code == 200
        assert introspect(http, tokens["access_token"]) == {"active": False}
        assert client.refresh(tokens["refresh_token"]).status_code == 200
        # consent replay
        page, _ = client.authorize()
        assert client.consent(page).status_code == 303
        assert client.consent(page).status_code == 400
