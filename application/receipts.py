"""Receipts of access-log batches (第二十二条): every accepted batch gets one, signed with the ledger's key.

A receipt names the batch, its ledger position, its place in the hash chain (sequence and chain hash),
the hash of each of its records as stored, when it was recorded and the checkpoint it will fall under,
and is signed with the ledger's key under the ledger's profile (Ed25519 or SM2). The platform gets it in
the answer to its POST; the provider and the holder each read the receipts of the batches that hold
their records, with those records in clear and the others as hashes only, and, once a checkpoint covers
the batch, its inclusion proof; their event feeds and webhooks carry the same with the batch's event. The offline verifier checks all of it (`verify_receipt`).

A receipt is issued once per batch and kept (table `access_log_receipts`); if the process stopped
between storing a batch and its receipt, the first reader issues it.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from application.common import ApplicationError, Clock, Forbidden, NotFound, Principal
from application.integrity import CHAIN_VIEW, Checkpoint, IntegrityService
from domain.organizations import Role
from infrastructure import chain_rows, receipt_rows, side_tables
from infrastructure.store import Ledger
from infrastructure.verifier import RECEIPT_FORMAT, key_id, receipt_message, record_hash
from projections.runner import Projector

SWEEP_SECONDS = 60
SIDES = ("provider", "holder")


class FallsUnder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The checkpoint that will cover the batch: the first of tree size above `tree_size_above`, signed after
    `checkpoint_after`, by `due_by` at the latest (null: only when one is signed on demand)."""

    tree_size_above: int
    checkpoint_after: int
    due_by: str | None


class Receipt(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A batch's signed receipt; `signature` covers every other field (`verifier.receipt_message`)."""

    format: str
    profile: str
    key_id: str
    batch_id: str
    position: int
    leaf_index: int
    chain_hash: str
    record_hashes: list[str]
    recorded_at: str
    issued_at: str
    falls_under: FallsUnder
    signature: str


class ShownRecord(msgspec.Struct, frozen=True):
    index: int
    """Its place in the batch, the index of its hash in `record_hashes`."""
    record: dict[str, Any]
    """The record exactly as the batch's event stores it, which that hash covers (open: re-shaping it would
    break the hash)."""


class Inclusion(msgspec.Struct, frozen=True):
    """The batch's inclusion proof in the latest signed checkpoint."""

    checkpoint: Checkpoint
    path: list[str]


class ReceiptFile(msgspec.Struct, frozen=True):
    """A receipt file, checked offline by the verifier alone: the receipt, the records shown in clear, and the
    inclusion proof once a checkpoint covers the batch (null before)."""

    format: str
    receipt: Receipt
    records: list[ShownRecord]
    inclusion: Inclusion | None


class ReceiptPage(msgspec.Struct, frozen=True):
    """Receipt files, oldest first; the next page with `after=<next_after>`, none after the last."""

    items: list[ReceiptFile]
    next_after: int | None


class ReceiptService:
    def __init__(self, ledger: Ledger, integrity: IntegrityService, projector: Projector, clock: Clock) -> None:
        self.ledger = ledger
        self.integrity = integrity
        self.projector = projector
        self.clock = clock
        side_tables.create(ledger.db, side_tables.RECEIPTS)

    # -- issuing ---------------------------------------------------------------------------

    def receipt(self, batch_id: UUID) -> dict[str, Any]:
        """The signed receipt of a batch, issued now if it has none yet."""
        return self._receipt(batch_id)[0]

    def _receipt(self, batch_id: UUID) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
        """(receipt, the batch's records when they were just read to issue it)."""
        row = receipt_rows.receipt_of(self.ledger.db, str(batch_id))
        if row is not None:
            return json.loads(row["receipt"]), None
        position = self.ledger.position_of(batch_id, 1)
        if position is None:
            raise NotFound(f"No access-log batch {batch_id}.")
        self.projector.catch_up(CHAIN_VIEW)
        chained = chain_rows.seq_and_hash_at(self.ledger.db, position)
        if chained is None:
            raise ApplicationError(f"Batch {batch_id} is not chained yet; ask for its receipt again.")
        data = self._payload(position)
        hashes = self.ledger.suite
        now = self.clock.now()
        latest = self.integrity.checkpoints(limit=1)
        receipt: dict[str, Any] = {
            "format": RECEIPT_FORMAT, "profile": self.ledger.profile,
            "key_id": key_id(self.integrity.signing_key().public_key()),
            "batch_id": str(batch_id), "position": position, "leaf_index": int(chained["seq"]),
            "chain_hash": bytes(chained["hash"]).hex(),
            "record_hashes": [record_hash(r, hashes) for r in data["records"]],
            "recorded_at": data["timestamp"], "issued_at": now.isoformat(),
            "falls_under": {"tree_size_above": int(chained["seq"]),
                            "checkpoint_after": latest[0].tree_size if latest else 0,
                            "due_by": self._due_by(latest[0].timestamp if latest else None, now)},
        }
        receipt["signature"] = self.integrity.sign(receipt_message(receipt))
        with self.ledger.db.write() as tx:
            receipt_rows.insert_receipt(tx, str(batch_id), position, json.dumps(receipt, ensure_ascii=False))
        kept = self.receipt(batch_id)  # a concurrent issuer's, if it came first
        return kept, data["records"] if kept == receipt else None

    def _due_by(self, last_signed: str | None, now: datetime) -> str | None:
        """When the background signing will have covered the batch at the latest (None: only on demand)."""
        every = self.ledger.settings.sign_checkpoint_seconds
        if every <= 0:
            return None
        start = now if last_signed is None else max(now, datetime.fromisoformat(last_signed) + timedelta(seconds=every))
        return (start + timedelta(seconds=SWEEP_SECONDS)).isoformat()

    def _payload(self, position: int) -> dict[str, Any]:
        """The batch event's payload in clear (decrypted with the ledger's key when payloads are encrypted)."""
        event = self.integrity.stored_event(position)
        assert event is not None
        data = base64.b64decode(event["state"])
        mapper = self.ledger.mapper
        if mapper.cipher:
            data = mapper.cipher.decrypt(data)
        if mapper.compressor:
            data = mapper.compressor.decompress(data)
        return msgspec.json.decode(data)  # type: ignore[no-any-return]

    # -- reading ---------------------------------------------------------------------------

    def bundle(self, batch_id: UUID, *, side: str | None = None, org: str | None = None) -> dict[str, Any]:
        """The receipt file: the receipt, the records shown (all; those with `org` on `side`; or, with `org`
        and no side, those with `org` on either side) with their index, and the batch's inclusion proof once a
        checkpoint covers it."""
        receipt, records = self._receipt(batch_id)
        if records is None:
            records = self._payload(int(receipt["position"]))["records"]
        shown = [{"index": i, "record": r} for i, r in enumerate(records)
                 if (org is None or org in (r["holder"], r["provider"])) if side is None or r[side] == org]
        covered = self.integrity.inclusion_of(int(receipt["leaf_index"]))
        inclusion = None
        if covered is not None:
            head, path = covered
            inclusion = {"checkpoint": msgspec.to_builtins(head), "path": path}
        return {"format": RECEIPT_FORMAT, "receipt": receipt, "records": shown, "inclusion": inclusion}

    def for_reader(self, batch_id: UUID, org: str | None) -> dict[str, Any] | None:
        """The receipt file a feed or webhook reader gets with a batch's event: its records only, unless it sees
        everything (`org` None); None where the ledger has no signing key."""
        if self.integrity.public_key() is None:
            return None
        return self.bundle(batch_id, org=org)

    def for_party(self, p: Principal, *, side: str, org: str | None = None, after: int = 0,
                  limit: int = 50) -> dict[str, Any]:
        """The receipts of the batches holding records with `org` (the caller's organization unless the caller
        sees everything) as provider or holder, oldest first after ledger position `after`."""
        if side not in SIDES:
            raise ApplicationError(f"side is one of {', '.join(SIDES)}, not {side!r}.")
        if p.sees_everything:
            if not org:
                raise ApplicationError("Name the organization (org=) whose receipts you read.")
        else:
            if Role.PLATFORM in p.roles and len(p.roles) == 1:
                raise Forbidden("The platform gets each receipt in the answer to its batch; these lists are for "
                                "the providers and users concerned.")
            if org not in (None, p.acting_for):
                raise Forbidden("An organization reads the receipts about its own records.")
            org = p.acting_for
        self.projector.wait_for(self.ledger.max_position(), "access_log")
        rows = receipt_rows.batches_of(self.ledger.db, side, org, after, limit)
        items = [self.bundle(UUID(r["batch_id"]), side=side, org=org) for r in rows]
        nxt = int(rows[-1]["position"]) if len(rows) == limit else None
        return {"items": items, "next_after": nxt}

