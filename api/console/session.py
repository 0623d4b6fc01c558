"""Console sessions: a signed cookie naming a server-side record, so signing out ends it for good.

The cookie holds only a random session id and its HMAC. The record, keyed by the id's SHA-256,
holds the bearer token sealed with AES-GCM under a key derived from the id: the database alone
cannot recover a token, and a stolen copy of a signed-out cookie finds its record ended. The
HMAC secret is kept in the same database, so every process serving one store agrees on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infrastructure.sql import Db

SESSION_SECONDS = 8 * 3600
"""A session lasts a working day at most; the cookie carries the same Max-Age."""

DDL = (
    "CREATE TABLE IF NOT EXISTS console_sessions (id TEXT PRIMARY KEY, sealed TEXT NOT NULL, "
    "created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, ended_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS console_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class Sessions:
    def __init__(self, db: Db, lifetime: int = SESSION_SECONDS) -> None:
        self.db = db
        self.lifetime = lifetime
        with db.write() as tx:
            for ddl in DDL:
                tx.execute(ddl)
            tx.execute("INSERT INTO console_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                       ("cookie", secrets.token_hex(32)))
        self._secret = bytes.fromhex(str(db.scalar("SELECT value FROM console_secrets WHERE name = ?", ("cookie",))))

    # -- signing ---------------------------------------------------------------------------

    def mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:40]

    def _sid(self, cookie: str | None) -> str | None:
        """The session id of a well-signed cookie, else None."""
        if not cookie or "." not in cookie or len(cookie) > 200:
            return None
        sid, _, sig = cookie.rpartition(".")
        return sid if hmac.compare_digest(sig, self.mac("session", sid)) else None

    # -- life cycle ------------------------------------------------------------------------

    def open(self, token: str) -> str:
        """Records a session for this token; returns the cookie value."""
        sid = secrets.token_urlsafe(32)
        nonce = secrets.token_bytes(12)
        sealed = nonce + AESGCM(self._seal_key(sid)).encrypt(nonce, token.encode(), None)
        now = int(time.time())
        with self.db.write() as tx:
            tx.execute("DELETE FROM console_sessions WHERE expires_at < ?", (now - 86400,))
            tx.execute("INSERT INTO console_sessions (id, sealed, created_at, expires_at, ended_at) "
                       "VALUES (?, ?, ?, ?, NULL)", (self._key(sid), _b64(sealed), now, now + self.lifetime))
        return f"{sid}.{self.mac('session', sid)}"

    def token(self, cookie: str | None) -> str | None:
        """The bearer token of a live session (signed, not ended, not expired), else None."""
        sid = self._sid(cookie)
        if sid is None:
            return None
        row = self.db.query_one("SELECT sealed, expires_at, ended_at FROM console_sessions WHERE id = ?",
                                (self._key(sid),))
        if row is None or row["ended_at"] is not None or int(row["expires_at"]) <= int(time.time()):
            return None
        raw = base64.urlsafe_b64decode(row["sealed"] + "=" * (-len(row["sealed"]) % 4))
        try:
            return AESGCM(self._seal_key(sid)).decrypt(raw[:12], raw[12:], None).decode()
        except Exception:  # a record that does not open with this id is no session
            return None

    def close(self, cookie: str | None) -> None:
        sid = self._sid(cookie)
        if sid is None:
            return
        with self.db.write() as tx:
            tx.execute("UPDATE console_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                       (int(time.time()), self._key(sid)))

    def csrf(self, cookie: str | None) -> str:
        """The CSRF token of a session's forms (bound to its id, so it dies with the session)."""
        sid = self._sid(cookie)
        return self.mac("csrf", sid) if sid else ""

    @staticmethod
    def _key(sid: str) -> str:
        return hashlib.sha256(b"id:" + sid.encode()).hexdigest()

    @staticmethod
    def _seal_key(sid: str) -> bytes:
        return hashlib.sha256(b"seal:" + sid.encode()).digest()
