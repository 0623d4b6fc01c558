"""Reads of the hash chain and writes of its signed checkpoints, by the question each answers.

The chain's rows (`ledger_chain`) are kept by the projector (`projections.ledger_chain`); the signed
tree heads over them (`ledger_checkpoints`) by the integrity service (declared in
`infrastructure.side_tables`). The integrity service, `verify` and the receipts ask these questions.

A function runs on what it is given: a `Db` (each read on its own cursor) or, where a caller holds a
transaction, that `Tx`. Rows come back as dicts of the columns named in the function's statement;
`*` rows of `ledger_checkpoints` hold all its columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infrastructure.sql import Db, Tx


def _one(on: Db | Tx, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    if isinstance(on, Tx):
        return on.execute(sql, params).fetchone()
    return on.query_one(sql, params)


# -- the chain -------------------------------------------------------------------------------


def chained_position(db: Db, originator_id_hex: str, version: int) -> int | None:
    """The position at which this aggregate's version was chained, None if it never was."""
    v = db.scalar("SELECT position FROM ledger_chain WHERE originator_id = ? AND originator_version = ?",
                  (originator_id_hex, version))
    return None if v is None else int(v)


def identity_at(db: Db, position: int) -> dict[str, Any] | None:
    """The `originator_id` and `originator_version` chained at a position."""
    return db.query_one("SELECT originator_id, originator_version FROM ledger_chain WHERE position = ?",
                        (position,))


def last_chained_position(db: Db) -> int:
    """The highest chained position, 0 while nothing is chained."""
    return int(db.scalar("SELECT MAX(position) FROM ledger_chain") or 0)


def chain_head(db: Db) -> dict[str, Any] | None:
    """The last chained record's `seq`, `position` and `hash`, None while nothing is chained."""
    return db.query_one("SELECT seq, position, hash FROM ledger_chain ORDER BY position DESC LIMIT 1")


def link_at(db: Db, position: int) -> dict[str, Any] | None:
    """The `seq` and `prev_hash` of the record chained at a position."""
    return db.query_one("SELECT seq, prev_hash FROM ledger_chain WHERE position = ?", (position,))


def seq_and_hash_at(db: Db, position: int) -> dict[str, Any] | None:
    """The `seq` and `hash` of the record chained at a position."""
    return db.query_one("SELECT seq, hash FROM ledger_chain WHERE position = ?", (position,))


def hashes_at(db: Db, positions: Sequence[int]) -> list[dict[str, Any]]:
    """The `position` and `hash` of the records chained at these positions (absent ones left out)."""
    marks = ", ".join("?" for _ in positions)
    return db.query(f"SELECT position, hash FROM ledger_chain WHERE position IN ({marks})", tuple(positions))


def hashes_between(db: Db, from_seq: int, to_seq: int) -> list[dict[str, Any]]:
    """The chain's `hash`es of sequence numbers `from_seq` (included) to `to_seq` (excluded), in order."""
    return db.query("SELECT hash FROM ledger_chain WHERE seq >= ? AND seq < ? ORDER BY seq", (from_seq, to_seq))


def hashes_below(db: Db, tree_size: int) -> list[dict[str, Any]]:
    """The chain's first `tree_size` `hash`es, in order (the leaves of a tree of that size)."""
    return db.query("SELECT hash FROM ledger_chain WHERE seq < ? ORDER BY seq", (tree_size,))


# -- the signed checkpoints ------------------------------------------------------------------


def checkpoints_newest_first(db: Db, limit: int, before: int | None = None) -> list[dict[str, Any]]:
    """Up to `limit` checkpoints, largest tree first, those below tree size `before` when it is given."""
    where, args = ("", ()) if before is None else (" WHERE tree_size < ?", (before,))
    return db.query(f"SELECT * FROM ledger_checkpoints{where} ORDER BY tree_size DESC LIMIT ?", (*args, limit))


def latest_checkpoint(on: Db | Tx) -> dict[str, Any] | None:
    """The checkpoint of the largest tree, None before the first."""
    return _one(on, "SELECT * FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1")


def checkpoint_of_size(db: Db, tree_size: int) -> dict[str, Any] | None:
    return db.query_one("SELECT * FROM ledger_checkpoints WHERE tree_size = ?", (tree_size,))


def latest_checkpoint_time(db: Db) -> dict[str, Any] | None:
    """The `timestamp` of the latest checkpoint, None before the first."""
    return db.query_one("SELECT timestamp FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1")


def lock_checkpoints(tx: Tx) -> None:
    """Holds the checkpoints' write lock until the transaction ends, so two signers sign one after the other.
    SQLite's write transaction already holds the database's write lock."""
    if tx.dialect == "postgres":
        tx.execute("LOCK TABLE ledger_checkpoints IN EXCLUSIVE MODE")


def insert_checkpoint(tx: Tx, fields: Sequence[Any], frontier: str) -> None:
    """Stores a signed checkpoint (`fields`: tree size, root hash, last position, chain hash, timestamp, key id,
    signature) with its frontier (JSON); nothing if one of that tree size exists."""
    tx.execute("INSERT INTO ledger_checkpoints (tree_size, root_hash, last_position, chain_hash, timestamp, "
               "key_id, signature, frontier) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tree_size) DO NOTHING",
               (*fields, frontier))
