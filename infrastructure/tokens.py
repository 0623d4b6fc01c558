"""Bearer tokens: random, stored only as SHA-256 hashes, tied to a person, an organization and roles."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec

from infrastructure.sql import Db

DDL = (
    "CREATE TABLE IF NOT EXISTS api_tokens (token_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL UNIQUE, "
    "person TEXT NOT NULL, organization TEXT NOT NULL, roles TEXT NOT NULL, created_at TEXT NOT NULL, "
    "revoked_at TEXT)"
)


class TokenHolder(msgspec.Struct, frozen=True):
    token_id: str
    person: str
    organization: str
    roles: tuple[str, ...]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, db: Db) -> None:
        self.db = db
        with db.write() as tx:
            tx.execute(DDL)

    def create(self, *, person: str, organization: str, roles: tuple[str, ...]) -> tuple[str, str]:
        """Returns (token id, token); only the hash of the token is kept."""
        token = "clt_" + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(8)
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (digest(token), token_id, person, organization, ",".join(sorted(set(roles))),
                 datetime.now(UTC).isoformat()),
            )
        return token_id, token

    def lookup(self, token: str) -> TokenHolder | None:
        row = self.db.query_one(
            "SELECT token_id, person, organization, roles FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (digest(token),),
        )
        if row is None:
            return None
        return TokenHolder(row["token_id"], row["person"], row["organization"],
                           tuple(r for r in row["roles"].split(",") if r))

    def listing(self, organization: str | None = None) -> list[dict[str, Any]]:
        """Every token's id, holder, roles and dates (never the token, which is not kept)."""
        where, args = ("WHERE organization = ?", (organization,)) if organization else ("", ())
        return self.db.query(f"SELECT token_id, person, organization, roles, created_at, revoked_at FROM api_tokens "
                             f"{where} ORDER BY created_at, token_id", args)

    def id_of(self, token: str) -> str | None:
        """The id of a token given as the secret itself (revoked or not)."""
        value = self.db.scalar("SELECT token_id FROM api_tokens WHERE token_hash = ?", (digest(token),))
        return None if value is None else str(value)

    def revoke(self, token_id: str) -> bool:
        with self.db.write() as tx:
            tx.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                       (datetime.now(UTC).isoformat(), token_id))
            return bool(tx.raw.rowcount)
