"""``DatabaseStorage``: the OAuth2 storage contract in four SQL tables (SQLite and PostgreSQL).

The single-use steps are one conditional ``UPDATE ... WHERE used = 0`` each: the database
changes the row for exactly one caller, and ``rowcount`` tells which. Nonces go in with
``INSERT ... ON CONFLICT DO NOTHING`` (SQLite 3.24+, PostgreSQL 9.5+). Rows carry a
``purge_at`` (wall-clock seconds): reads ignore rows past it and :meth:`DatabaseStorage.purge`
deletes them (run it from a periodic task; the store also runs it every ``PURGE_EVERY`` writes).

Example::

    db = DatabaseManager("sqlite:///app.db")
    storage = DatabaseStorage(db)
    await storage.create_tables()          # CREATE TABLE IF NOT EXISTS ..., or use SCHEMA in a migration
    oauth2 = OAuth2Server(clients=..., storage=storage)
"""
import re
import time
from typing import Any, List, Optional, Tuple

from .storage import CodeRecord, OAuth2Storage, TokenRecord

__all__ = ["DatabaseStorage", "schema_statements", "PURGE_EVERY"]

PURGE_EVERY = 1000

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,30}")

# Column types both SQLite and PostgreSQL accept with the same meaning; key columns are hex
# SHA-256 (64) or a jti / grant id (43 characters of base64url).
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS {p}codes (
    code_key VARCHAR(64) PRIMARY KEY,
    client_id VARCHAR(255) NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    subject VARCHAR(255) NOT NULL,
    code_challenge VARCHAR(64) NOT NULL,
    grant_id VARCHAR(64) NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    purge_at DOUBLE PRECISION NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS {p}tokens (
    token_key VARCHAR(64) PRIMARY KEY,
    kind VARCHAR(16) NOT NULL,
    client_id VARCHAR(255) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    scope TEXT NOT NULL,
    grant_id VARCHAR(64) NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    purge_at DOUBLE PRECISION NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS {p}grants (
    grant_id VARCHAR(64) PRIMARY KEY,
    revoked INTEGER NOT NULL DEFAULT 0,
    purge_at DOUBLE PRECISION NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS {p}nonces (
    nonce_key VARCHAR(128) PRIMARY KEY,
    purge_at DOUBLE PRECISION NOT NULL
)""",
)


def schema_statements(prefix: str = "oauth2_") -> List[str]:
    """The CREATE TABLE statements of the store, for a migration of your own.

    Example::

        for statement in schema_statements():
            await db.execute(statement)
    """
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("prefix must be lower-case letters, digits and _ (an SQL identifier part)")
    return [s.format(p=prefix) for s in _SCHEMA]


class DatabaseStorage(OAuth2Storage):
    """OAuth2 storage in a covet ``DatabaseManager`` (SQLite or PostgreSQL).

    :param db: the database (``covet.database.DatabaseManager``).
    :param prefix: table name prefix (``oauth2_codes``, ``oauth2_tokens``, ``oauth2_grants``, ``oauth2_nonces``).
    :param clock: wall-clock seconds for ``purge_at`` (tests pass their own).
    """

    def __init__(self, db: Any, prefix: str = "oauth2_", clock: Any = time.time) -> None:
        self.db = db
        self.statements = schema_statements(prefix)
        p = prefix
        self._clock = clock
        self._writes = 0
        self._sql = {
            "save_code": "INSERT INTO %scodes (code_key, client_id, redirect_uri, scope, subject, code_challenge, "
                         "grant_id, expires_at, used, purge_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)" % p,
            "use_code": "UPDATE %scodes SET used = 1 WHERE code_key = ? AND used = 0 AND purge_at > ?" % p,
            "get_code": "SELECT client_id, redirect_uri, scope, subject, code_challenge, grant_id, expires_at "
                        "FROM %scodes WHERE code_key = ? AND purge_at > ?" % p,
            "save_token": "INSERT INTO %stokens (token_key, kind, client_id, subject, scope, grant_id, expires_at, "
                          "used, purge_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)" % p,
            "get_token": "SELECT kind, client_id, subject, scope, grant_id, expires_at, used FROM %stokens "
                         "WHERE token_key = ? AND purge_at > ?" % p,
            "use_token": "UPDATE %stokens SET used = 1 WHERE token_key = ? AND used = 0 AND purge_at > ?" % p,
            "delete_token": "DELETE FROM %stokens WHERE token_key = ?" % p,
            "save_grant": "INSERT INTO %sgrants (grant_id, revoked, purge_at) VALUES (?, 0, ?) "
                          "ON CONFLICT (grant_id) DO NOTHING" % p,
            "grant_active": "SELECT revoked FROM %sgrants WHERE grant_id = ? AND purge_at > ?" % p,
            "revoke_grant": "INSERT INTO %sgrants (grant_id, revoked, purge_at) VALUES (?, 1, ?) "
                            "ON CONFLICT (grant_id) DO UPDATE SET revoked = 1, purge_at = ?" % p,
            "claim": "INSERT INTO %snonces (nonce_key, purge_at) VALUES (?, ?) ON CONFLICT (nonce_key) DO NOTHING" % p,
            "expired_nonce": "DELETE FROM %snonces WHERE nonce_key = ? AND purge_at <= ?" % p,
        }
        self._purge = ["DELETE FROM %s%s WHERE purge_at <= ?" % (p, t) for t in ("codes", "tokens", "grants", "nonces")]

    async def create_tables(self) -> None:
        """Run the CREATE TABLE IF NOT EXISTS statements (``self.statements``)."""
        for statement in self.statements:
            await self.db.execute(statement)

    async def purge(self) -> int:
        """Delete every row past its ``purge_at``; the number of rows deleted."""
        now = self._clock()
        total = 0
        for statement in self._purge:
            total += (await self.db.execute(statement, now)).rowcount
        return total

    async def _wrote(self) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            await self.purge()

    async def save_code(self, key: str, record: CodeRecord, ttl: float) -> None:
        await self.db.execute(self._sql["save_code"], key, record.client_id, record.redirect_uri, record.scope,
                              record.subject, record.code_challenge, record.grant_id, float(record.expires_at),
                              self._clock() + ttl)
        await self._wrote()

    async def consume_code(self, key: str) -> Optional[Tuple[CodeRecord, bool]]:
        now = self._clock()
        first = (await self.db.execute(self._sql["use_code"], key, now)).rowcount == 1
        row = await self.db.fetch_one(self._sql["get_code"], key, now)
        if row is None:
            return None
        return CodeRecord(row["client_id"], row["redirect_uri"], row["scope"], row["subject"], row["code_challenge"],
                          row["grant_id"], float(row["expires_at"])), first

    async def save_token(self, key: str, record: TokenRecord, ttl: float) -> None:
        await self.db.execute(self._sql["save_token"], key, record.kind, record.client_id, record.subject,
                              record.scope, record.grant_id, float(record.expires_at), self._clock() + ttl)
        await self._wrote()

    async def get_token(self, key: str) -> Optional[Tuple[TokenRecord, bool]]:
        row = await self.db.fetch_one(self._sql["get_token"], key, self._clock())
        if row is None:
            return None
        return TokenRecord(row["kind"], row["client_id"], row["subject"], row["scope"], row["grant_id"],
                           float(row["expires_at"])), bool(row["used"])

    async def mark_used(self, key: str) -> bool:
        return (await self.db.execute(self._sql["use_token"], key, self._clock())).rowcount == 1

    async def delete_token(self, key: str) -> None:
        await self.db.execute(self._sql["delete_token"], key)

    async def save_grant(self, grant_id: str, ttl: float) -> None:
        await self.db.execute(self._sql["save_grant"], grant_id, self._clock() + ttl)
        await self._wrote()

    async def grant_active(self, grant_id: str) -> bool:
        row = await self.db.fetch_one(self._sql["grant_active"], grant_id, self._clock())
        return row is not None and not row["revoked"]

    async def revoke_grant(self, grant_id: str, ttl: float) -> None:
        purge_at = self._clock() + ttl
        await self.db.execute(self._sql["revoke_grant"], grant_id, purge_at, purge_at)

    async def claim_once(self, key: str, ttl: float) -> bool:
        now = self._clock()
        # A nonce past its purge_at may be claimed again: delete it first (the row is dead anyway).
        await self.db.execute(self._sql["expired_nonce"], key, now)
        return (await self.db.execute(self._sql["claim"], key, now + ttl)).rowcount == 1

    def __repr__(self) -> str:
        return "<DatabaseStorage %r>" % (self.db,)
