"""The hash chain over the stored events (AUD-1): one row per chained event, in notification order.

Each row holds the event's identity and its hash H(previous hash || canonical bytes), H the hash of
the ledger's crypto profile (SHA-256 for intl, SM3 for sm, read from `ledger_settings`) (the
Merkle tree's leaves are derived from these hashes), computed from the bytes as stored (encrypted ones included), so checking
it needs no cipher key. Consecutive existing events are linked: a position
the store never used (a rolled-back PostgreSQL sequence value) is no break, while a chained position
that later disappears is remembered here and reported by `verify`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from infrastructure.sql import Tx
from infrastructure.verifier import GENESIS, INTL, canonical_bytes, suite
from projections.base import View

CHAIN_DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_chain (position {rowid}, seq BIGINT NOT NULL UNIQUE, "
    "originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL, hash {blob} NOT NULL, "
    "prev_hash {blob} NOT NULL)"
)
"""On SQLite the position is the table's rowid, so the walk in order reads one b-tree."""


def head_hash(tx: Tx, upto: int | None = None) -> bytes | None:
    """The hash of the last chained event (at or before `upto`), None while nothing is chained."""
    if upto is None:
        row = tx.execute("SELECT hash FROM ledger_chain ORDER BY position DESC LIMIT 1").fetchone()
    else:
        row = tx.execute("SELECT hash FROM ledger_chain WHERE position <= ? ORDER BY position DESC LIMIT 1",
                         (upto,)).fetchone()
    return None if row is None else bytes(row["hash"])


class LedgerChainView(View):
    """账本哈希链: the chain of stored events, kept by the projector in the ledger's database."""

    name = "ledger_chain"
    version = 1
    tables = ("ledger_chain",)
    all_topics = True
    wants_raw = True
    text_ids = True  # the id's 16 bytes and hex digits come from its text (`apply`)
    time_travel: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[Any, ...]] = []
        self._seq = 0
        self._prev = GENESIS
        self._suite = INTL

    def create(self, tx: Tx) -> None:
        tx.ddl(CHAIN_DDL)
        tx.execute("CREATE INDEX IF NOT EXISTS ledger_chain_event ON ledger_chain (originator_id, originator_version)")

    def begin_page(self, tx: Tx) -> None:
        self._rows = []
        profile = tx.execute("SELECT value FROM ledger_settings WHERE name = 'crypto_profile'").fetchone()
        self._suite = suite(None if profile is None else profile["value"])
        last = tx.execute("SELECT seq, hash FROM ledger_chain ORDER BY position DESC LIMIT 1").fetchone()
        if last is None:
            self._seq, self._prev = 0, GENESIS
        else:
            self._seq, self._prev = int(last["seq"]) + 1, bytes(last["hash"])

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        """`event` is the stored notification (the view wants raw records), its originator id a UUID or, in the
        projector's pages, the UUID's text (`text_ids`)."""
        oid = event.originator_id
        if type(oid) is str:
            hex_id = oid.replace("-", "")
            oid_bytes = bytes.fromhex(hex_id)
        else:
            hex_id, oid_bytes = oid.hex, oid.bytes
        data = canonical_bytes(position, oid_bytes, event.originator_version, event.topic, bytes(event.state))
        h = self._suite.chain_hash(self._prev, data)
        self._rows.append((position, self._seq, hex_id, event.originator_version, h, self._prev))
        self._prev = h
        self._seq += 1

    def end_page(self, tx: Tx) -> None:
        tx.executemany("INSERT INTO ledger_chain (position, seq, originator_id, originator_version, hash, prev_hash) "
                       "VALUES (?, ?, ?, ?, ?, ?)", self._rows)
        self._rows = []
