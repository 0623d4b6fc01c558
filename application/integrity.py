"""Integrity of the ledger (AUD-1): signed checkpoints over the hash chain, proofs, and the full walk.

A checkpoint is a signed tree head: the size of the Merkle tree over the chained events, its root,
the last position it covers, the chain hash there, the time, the ledger's crypto profile and a
signature by the ledger's key (Ed25519 under intl, SM2 under sm). Each new
checkpoint extends the previous one (its root is computed from the previous checkpoint's frontier),
so the list is append-only by construction, and any two can be linked by a consistency proof.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from application.common import ApplicationError, Clock, Forbidden, NotFound, Principal
from application.ledger_verify import VerifyReport, walk
from infrastructure import chain_rows, event_rows, side_tables
from infrastructure.merkle import Frontier, consistency_path, inclusion_path
from infrastructure.signed_note import note_text, origin_of, signed_note
from infrastructure.signing import (
    Signer,
    SigningKeyMissing,
    ensure_signing_key,
    load_signer,
    public_pem,
)
from infrastructure.store import Ledger
from infrastructure.verifier import (
    GENESIS,
    PROOF_FORMAT,
    Suite,
    VerificationError,
    key_id,
    signed_message,
    verify_checkpoint,
)
from projections.runner import Projector

CHAIN_VIEW = "ledger_chain"


class Checkpoint(msgspec.Struct, frozen=True):
    """A signed tree head; `signature` (base64) covers the lines of `verifier.signed_message`. `profile` is the
    ledger's crypto profile (one per store, so it is not a column; the sm signature covers it, and an intl one
    is an Ed25519 signature, which no SM2 key makes)."""

    tree_size: int
    root_hash: str
    last_position: int
    chain_hash: str
    timestamp: str
    key_id: str
    signature: str
    profile: str = "intl"


class CheckpointNotIntact(ApplicationError):
    """A stored checkpoint whose own signature does not verify under the ledger's key: it is not re-signed."""

    status = 409
    title = "The stored checkpoint is not intact"


class IntegrityService:
    def __init__(self, ledger: Ledger, projector: Projector, clock: Clock) -> None:
        self.ledger = ledger
        self.projector = projector
        self.clock = clock
        self._key: Signer | None = None
        side_tables.create(ledger.db, side_tables.CHECKPOINTS)

    @property
    def profile(self) -> str:
        return self.ledger.profile

    @property
    def hashes(self) -> Suite:
        return self.ledger.suite

    # -- key -------------------------------------------------------------------------------

    def ensure_key(self) -> str | None:
        """Generates the signing key file when none is configured or present (`civic-ledger init`)."""
        made = ensure_signing_key(self.ledger.settings, self.ledger.profile)
        return None if made is None else str(made)

    def signing_key(self) -> Signer:
        if self._key is None:
            try:
                self._key = load_signer(self.ledger.settings, self.ledger.profile)
            except (SigningKeyMissing, ValueError) as e:
                raise ApplicationError(str(e)) from None
        return self._key

    def forget_key(self) -> None:
        """Drops the loaded key, so the next use loads the one of the ledger's current profile."""
        self._key = None

    def sign(self, message: bytes) -> str:
        """The ledger key's signature of `message`, base64 (checkpoints, receipts)."""
        return base64.b64encode(self.signing_key().sign(message)).decode("ascii")

    def public_key(self) -> Any | None:
        try:
            return self.signing_key().public_key()
        except ApplicationError:
            return None

    def public_key_pem(self) -> str:
        return public_pem(self.signing_key().public_key())

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoints(self, limit: int = 100, before: int | None = None) -> list[Checkpoint]:
        """Newest first; `before` pages by tree size."""
        rows = chain_rows.checkpoints_newest_first(self.ledger.db, limit, before)
        return [_checkpoint(r, self.profile) for r in rows]

    def checkpoint_of(self, size: int | None = None) -> Checkpoint:
        """The checkpoint of this tree size, or the latest."""
        if size is None:
            row = chain_rows.latest_checkpoint(self.ledger.db)
        else:
            row = chain_rows.checkpoint_of_size(self.ledger.db, size)
        if row is None:
            raise NotFound("No checkpoint yet; create one first." if size is None else
                           f"No checkpoint of tree size {size}.")
        return _checkpoint(row, self.profile)

    @property
    def origin(self) -> str:
        """The log's origin line in its signed notes (and the key's name there): the public base URL, no scheme."""
        return origin_of(self.ledger.settings.public_base_url)

    def checkpoint_note(self, size: int | None = None) -> str:
        """The checkpoint of this tree size (or the latest) as a C2SP signed note (c2sp.org/tlog-checkpoint).

        The note's signature is made now, over the note's text, and only for a stored checkpoint whose own
        signature (made when it was created) verifies under the ledger's key, so a tree head altered in the
        store is refused instead of signed again."""
        cp = self.checkpoint_of(size)
        key = self.signing_key()
        public = key.public_key()
        try:
            verify_checkpoint(msgspec.to_builtins(cp), public)
        except VerificationError as e:
            raise CheckpointNotIntact(f"The stored checkpoint of size {cp.tree_size} does not verify ({e}); "
                                      "run `civic-ledger verify`.", tree_size=cp.tree_size) from None
        text = note_text(self.origin, cp.tree_size, bytes.fromhex(cp.root_hash))
        return signed_note(text, self.origin, public, key.sign(text))

    def create_checkpoint(self, p: Principal | None = None, *,
                          unless_signed_within: float | None = None) -> tuple[Checkpoint, bool]:
        """Signs the current head of the chain; returns (checkpoint, created). None is the CLI (the operator).

        With `unless_signed_within` (seconds), nothing is signed when another process signed a checkpoint
        that recently meanwhile: the check and the insert share one transaction that holds the table's
        write lock, so two signers racing in one period sign once."""
        if p is not None and not p.is_office:
            raise Forbidden("Only the Office creates checkpoints.")
        key = self.signing_key()
        self.projector.catch_up(CHAIN_VIEW)
        db = self.ledger.db
        head = chain_rows.chain_head(db)
        size = 0 if head is None else int(head["seq"]) + 1
        last = chain_rows.latest_checkpoint(db)
        if last is not None and int(last["tree_size"]) == size:
            return _checkpoint(last, self.profile), False
        hashes = self.hashes
        frontier = Frontier(hashes=hashes) if last is None else Frontier.load(json.loads(last["frontier"]), hashes)
        if last is not None and frontier.root().hex() != last["root_hash"]:
            raise ApplicationError("The stored frontier of the latest checkpoint does not match its signed root; "
                                   "run `civic-ledger verify`.")
        rows = chain_rows.hashes_between(db, frontier.size, size)
        frontier.extend(hashes.leaf_hash(bytes(r["hash"])) for r in rows)
        if frontier.size != size:
            raise ApplicationError("The chain has holes in its sequence; run `civic-ledger verify`.")
        fields: dict[str, Any] = {
            "tree_size": size, "root_hash": frontier.root().hex(),
            "last_position": 0 if head is None else int(head["position"]),
            "chain_hash": (GENESIS if head is None else bytes(head["hash"])).hex(),
            "timestamp": self.clock.now().isoformat(),
            "key_id": key_id(key.public_key()),
        }
        fields["signature"] = base64.b64encode(key.sign(signed_message({**fields, "profile": self.profile}))
                                               ).decode("ascii")
        with db.write() as tx:
            chain_rows.lock_checkpoints(tx)
            latest = chain_rows.latest_checkpoint(tx)
            if latest is not None and (int(latest["tree_size"]) >= size or (
                    unless_signed_within is not None and self._age(latest["timestamp"]) < unless_signed_within)):
                return _checkpoint(latest, self.profile), False
            chain_rows.insert_checkpoint(tx, list(fields.values()), json.dumps(frontier.dump()))
        return self.checkpoint_of(size), True

    def _age(self, timestamp: str) -> float:
        return (self.clock.now() - datetime.fromisoformat(timestamp)).total_seconds()

    def sign_if_due(self) -> Checkpoint | None:
        """The background sweep's signing: a new checkpoint when events came since the latest one and it is
        `sign_checkpoint_seconds` old (0 turns this off), so published tree heads never fall far behind."""
        every = self.ledger.settings.sign_checkpoint_seconds
        if every <= 0 or self.public_key() is None:
            return None
        last = chain_rows.latest_checkpoint_time(self.ledger.db)
        if last is not None and self._age(last["timestamp"]) < every:
            return None
        cp, created = self.create_checkpoint(unless_signed_within=every)
        return cp if created else None

    # -- proofs ----------------------------------------------------------------------------

    def proof(self, p: Principal | None, position: int, checkpoint: int | None = None,
              since: int | None = None) -> dict[str, Any]:
        """A proof file: the event as stored, its inclusion in a checkpoint, and optionally the consistency of
        that checkpoint with an older one (`since`)."""
        if p is not None and not p.sees_everything:
            raise Forbidden("Proofs carry stored events: only the Office and auditors may ask for them.")
        head = self.checkpoint_of(checkpoint)
        db = self.ledger.db
        chained = chain_rows.link_at(db, position)
        if chained is None:
            raise NotFound(f"No chained event at position {position}.")
        seq = int(chained["seq"])
        if seq >= head.tree_size:
            raise ApplicationError(f"Position {position} is not covered by the checkpoint of size {head.tree_size}; "
                                   "create a newer checkpoint.")
        leaves = [self.hashes.leaf_hash(bytes(r["hash"])) for r in chain_rows.hashes_below(db, head.tree_size)]
        event = self.stored_event(position)
        if event is None:
            raise NotFound(f"The event chained at position {position} is not in the store; run `civic-ledger verify`.")
        bundle: dict[str, Any] = {
            "format": PROOF_FORMAT, "checkpoint": msgspec.to_builtins(head), "event": event,
            "prev_hash": bytes(chained["prev_hash"]).hex(), "leaf_index": seq, "inclusion": [h.hex() for h in inclusion_path(seq, leaves, self.hashes)],
        }
        if since is not None:
            older = self.checkpoint_of(since)
            if older.tree_size > head.tree_size:
                raise ApplicationError("`since` must name a checkpoint no larger than the proof's checkpoint.")
            bundle["consistency"] = {"from": msgspec.to_builtins(older),
                                     "path": [h.hex() for h in consistency_path(older.tree_size, leaves, self.hashes)]}
        return bundle

    def prove_events(self, positions: list[int], since: int | None = None
                     ) -> tuple[Checkpoint, list[dict[str, Any]], dict[str, Any] | None]:
        """Inclusion proofs of several events in one checkpoint: the latest, or, when it does not cover them
        all yet, a new one signed now (as `POST /ledger/checkpoints` would; an answer about now should not
        wait up to an hour for the background signing). With `since`, also the consistency proof from that
        older checkpoint to this one."""
        self.projector.catch_up(CHAIN_VIEW)
        db = self.ledger.db
        chained: dict[int, tuple[int, bytes]] = {}
        for position in sorted(set(positions)):
            row = chain_rows.link_at(db, position)
            if row is None:
                raise NotFound(f"No chained event at position {position}.")
            chained[position] = (int(row["seq"]), bytes(row["prev_hash"]))
        latest = self.checkpoints(limit=1)
        needed = max((seq for seq, _ in chained.values()), default=-1) + 1
        head = latest[0] if latest and latest[0].tree_size >= needed else self.create_checkpoint()[0]
        leaves = [self.hashes.leaf_hash(bytes(r["hash"])) for r in chain_rows.hashes_below(db, head.tree_size)]
        out = []
        for position, (seq, prev) in chained.items():
            event = self.stored_event(position)
            if event is None:
                raise NotFound(f"The event chained at position {position} is not in the store; run `civic-ledger "
                               "verify`.")
            out.append({"event": event, "prev_hash": prev.hex(), "leaf_index": seq,
                        "inclusion": [h.hex() for h in inclusion_path(seq, leaves, self.hashes)]})
        consistency = None
        if since is not None:
            older = self.checkpoint_of(since)
            if older.tree_size > head.tree_size:
                raise ApplicationError("`since` must name a checkpoint no larger than the proof's checkpoint.")
            consistency = {"from": msgspec.to_builtins(older),
                           "path": [h.hex() for h in consistency_path(older.tree_size, leaves, self.hashes)]}
        return head, out, consistency

    def inclusion_of(self, seq: int) -> tuple[Checkpoint, list[str]] | None:
        """The inclusion path of the chain's `seq`-th event in the latest checkpoint, or None if none covers it."""
        latest = self.checkpoints(limit=1)
        if not latest or latest[0].tree_size <= seq:
            return None
        head = latest[0]
        leaves = [self.hashes.leaf_hash(bytes(r["hash"])) for r in chain_rows.hashes_below(self.ledger.db, head.tree_size)]
        return head, [h.hex() for h in inclusion_path(seq, leaves, self.hashes)]

    def stored_event(self, position: int) -> dict[str, Any] | None:
        """The event at a position exactly as stored (state in base64)."""
        row = event_rows.event_at(self.ledger, position)
        if row is None:
            return None
        oid = row["originator_id"]
        return {"position": int(row["position"]), "originator_id": str(oid if isinstance(oid, UUID) else UUID(oid)),
                "originator_version": int(row["originator_version"]), "topic": row["topic"],
                "state": base64.b64encode(bytes(row["state"])).decode("ascii")}

    # -- verify ----------------------------------------------------------------------------

    def verify(self, p: Principal | None = None, progress: Callable[[int], None] | None = None,
               catch_up: bool = True) -> VerifyReport:
        """Walks the whole store against the chain and every checkpoint (the Office and auditors)."""
        if p is not None and not p.sees_everything:
            raise Forbidden("Only the Office and auditors verify the ledger.")
        if catch_up:
            self.projector.catch_up(CHAIN_VIEW)
        checkpoints = [msgspec.to_builtins(c) for c in reversed(self.checkpoints(limit=1_000_000))]
        return walk(self.ledger, checkpoints, self.public_key(), progress=progress)


def _checkpoint(row: dict[str, Any], profile: str) -> Checkpoint:
    return Checkpoint(tree_size=int(row["tree_size"]), root_hash=row["root_hash"],
                      last_position=int(row["last_position"]), chain_hash=row["chain_hash"],
                      timestamp=row["timestamp"], key_id=row["key_id"], signature=row["signature"], profile=profile)
