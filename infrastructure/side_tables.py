"""The tables the use cases keep beside the events, and the statements that create them.

These hold facts no replay rebuilds (signed tree heads, receipts, the monitors' positions, webhook
subscriptions and their delivery logs, the record of restores made on an operator's word), so
they are not read models and are not dropped by a rebuild. Each service creates its own tables
when it starts (`create`); the backup copies them (`application.backup_file.SIDE_TABLES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infrastructure.sql import Db, Tx

CHECKPOINTS = (
    "CREATE TABLE IF NOT EXISTS ledger_checkpoints (tree_size BIGINT PRIMARY KEY, root_hash TEXT NOT NULL, "
    "last_position BIGINT NOT NULL, chain_hash TEXT NOT NULL, timestamp TEXT NOT NULL, key_id TEXT NOT NULL, "
    "signature TEXT NOT NULL, frontier TEXT NOT NULL)",
)
"""Signed tree heads of the Merkle tree over the chain (`application.integrity`)."""

RECEIPTS = (
    "CREATE TABLE IF NOT EXISTS access_log_receipts (batch_id TEXT PRIMARY KEY, position BIGINT NOT NULL, "
    "receipt TEXT NOT NULL)",
)
"""Signed receipts of access-log batches (`application.receipts`)."""

MONITOR_POSITIONS = (
    "CREATE TABLE IF NOT EXISTS monitor_positions (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
)
"""How far each monitor has scanned the log (`application.monitors`)."""

RESTORE_OVERRIDES = (
    "CREATE TABLE IF NOT EXISTS restore_overrides (restored_at TEXT NOT NULL, operator TEXT NOT NULL, "
    "reason TEXT NOT NULL, file TEXT NOT NULL, sha256 TEXT NOT NULL, kind TEXT NOT NULL, position BIGINT NOT NULL, "
    "events BIGINT NOT NULL, signature TEXT NOT NULL)",
)
"""Every restore of a backup whose signature did not verify, restored anyway (`application.backup`)."""

WEBHOOKS = (
    "CREATE TABLE IF NOT EXISTS webhook_subscriptions (id TEXT PRIMARY KEY, organization TEXT NOT NULL, "
    "sees_all INTEGER NOT NULL, url TEXT NOT NULL, types TEXT NOT NULL, secret TEXT NOT NULL, "
    "status TEXT NOT NULL, cursor BIGINT NOT NULL, failures INTEGER NOT NULL, first_failure_at DOUBLE PRECISION, "
    "next_attempt_at DOUBLE PRECISION NOT NULL, lease_until DOUBLE PRECISION NOT NULL, paused_reason TEXT, "
    "created_by TEXT NOT NULL, created_at TEXT NOT NULL, idempotency_key TEXT, generation INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_subscriptions_key ON webhook_subscriptions (organization, "
    "idempotency_key)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (subscription_id TEXT NOT NULL, seq BIGINT NOT NULL, "
    "position BIGINT NOT NULL, event_id TEXT NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL, "
    "status_code INTEGER, ok INTEGER NOT NULL, error TEXT, duration_ms DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (subscription_id, seq))",
)
"""Webhook subscriptions and their delivery logs (`application.webhooks`)."""


def create(db: Db, statements: Iterable[str]) -> None:
    """Creates the tables (and indexes) of these statements if they are missing, in one transaction."""
    with db.write() as tx:
        for statement in statements:
            tx.ddl(statement)


def monitor_position(db: Db, name: str) -> int:
    """How far the monitor `name` has scanned (0 before its first run)."""
    return int(db.scalar("SELECT position FROM monitor_positions WHERE name = ?", (name,)) or 0)


def set_monitor_position(db: Db, name: str, position: int) -> None:
    with db.write() as tx:
        tx.execute("INSERT INTO monitor_positions (name, position) VALUES (?, ?) ON CONFLICT (name) "
                   "DO UPDATE SET position = excluded.position", (name, position))


# -- whole tables, for the backup and the restore ---------------------------------------------
# Table and column names come from the caller's own list and the store's schema (a restore checks a
# file's names against both before it writes); they are still refused here unless they are identifiers.


def _name(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a table or column name: {name[:60]!r}")
    return name


def rows_of(tx: Tx, name: str) -> list[dict[str, Any]]:
    """Every row of a table, inside the caller's transaction (the backup's snapshot)."""
    return tx.execute(f"SELECT * FROM {_name(name)}").fetchall()


def count_rows(db: Db, name: str) -> int:
    return int(db.scalar(f"SELECT COUNT(*) FROM {_name(name)}") or 0)


def columns_of(db: Db, name: str) -> set[str]:
    """The column names of a table in this store's schema (none when it does not exist)."""
    if db.dialect == "sqlite":
        return {r["name"] for r in db.query(f"PRAGMA table_info({_name(name)})")}
    return {r["column_name"] for r in db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = current_schema()", (name,))}


def insert_row(tx: Tx, name: str, row: dict[str, Any]) -> None:
    """One row of named columns."""
    cols = [_name(c) for c in row]
    tx.execute(f"INSERT INTO {_name(name)} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
               [row[c] for c in row])
