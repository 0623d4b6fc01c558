"""The signed receipts of access-log batches (`access_log_receipts`, declared in
`infrastructure.side_tables`) and the batches a receipt list pages through, by the question each answers.

The batches are read from the access log's read model (`access_log`, one row per record, kept by the
projector), whose `provider` and `holder` columns name the two sides of a record.
"""

from __future__ import annotations

from typing import Any

from infrastructure.sql import Db, Tx

SIDE_COLUMNS = ("provider", "holder")
"""The access log's columns a receipt list may select batches by."""


def receipt_of(db: Db, batch_id: str) -> dict[str, Any] | None:
    """The stored `receipt` (JSON text) of a batch, None while it has none."""
    return db.query_one("SELECT receipt FROM access_log_receipts WHERE batch_id = ?", (batch_id,))


def insert_receipt(tx: Tx, batch_id: str, position: int, receipt: str) -> None:
    """Stores a batch's receipt (JSON text); nothing when a concurrent issuer stored one first."""
    tx.execute("INSERT INTO access_log_receipts (batch_id, position, receipt) VALUES (?, ?, ?) "
               "ON CONFLICT (batch_id) DO NOTHING", (batch_id, position, receipt))


def batches_of(db: Db, side: str, org: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` batches (`batch_id`, `position`: their first record's) holding records with `org` on
    `side` (a column of `SIDE_COLUMNS`), in position order after position `after`."""
    if side not in SIDE_COLUMNS:
        raise ValueError(f"Not a side of the access log: {side!r}")
    return db.query(
        f"SELECT batch_id, MIN(position) AS position FROM access_log WHERE {side} = ? AND position > ? "
        "GROUP BY batch_id ORDER BY MIN(position) LIMIT ?", (org, after, limit))
