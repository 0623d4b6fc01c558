"""HTTP routes of the ledger's integrity (AUD-1): signed checkpoints, proofs, the full verify, the public key."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from api.contract import CheckpointPage, Row
from api.params import Limit, OptionalPosition, PositionPath
from application.common import Principal
from application.integrity import Checkpoint, IntegrityService
from application.ledger_verify import VerifyReport

NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
"""A checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint)."""


def _wants_note(request: Request[Any, Any, Any]) -> bool:
    return request.accept.best_match(["application/json", "text/plain"]) == "text/plain"


class LedgerController(Controller):
    path = "/ledger"
    tags = ["integrity"]

    @get("/checkpoints", sync_to_thread=True)
    def list_checkpoints(self, principal: NamedDependency[Principal], integrity: NamedDependency[IntegrityService],
                         limit: Limit = 50, before: OptionalPosition = None) -> Response[CheckpointPage]:
        """Signed tree heads, newest first (size, root hash, last position, chain hash, time, key id, signature,
        crypto profile: Ed25519 under intl, SM2 under sm); page with `before=<tree_size>` from `next_before`."""
        items = integrity.checkpoints(limit=limit, before=before)
        nxt = items[-1].tree_size if len(items) == limit and items[-1].tree_size > 0 else None
        return Response({"items": items, "next_before": nxt})

    @post("/checkpoints", sync_to_thread=True, responses={
        200: ResponseSpec(Checkpoint, description="No event since the latest checkpoint: that checkpoint, again")})
    def create_checkpoint(self, principal: NamedDependency[Principal],
                          integrity: NamedDependency[IntegrityService]) -> Response[Checkpoint]:
        """Signs the current head of the chain (the Office). Naturally idempotent: with no new event since the
        latest checkpoint, that checkpoint is answered with 200 instead of 201."""
        cp, created = integrity.create_checkpoint(principal)
        return Response(cp, status_code=201 if created else 200,
                        headers={"Location": f"/ledger/checkpoints/{cp.tree_size}"})

    @get("/checkpoints/{tree_size:int}", sync_to_thread=True)
    def get_checkpoint(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                       integrity: NamedDependency[IntegrityService], tree_size: PositionPath) -> Response[Checkpoint]:
        """One signed tree head by its size: the file an auditor keeps as `checkpoint.json`. With
        `Accept: text/plain`, the same tree head as a C2SP signed-note checkpoint (origin, size, base64 root)."""
        if _wants_note(request):
            return Response(integrity.checkpoint_note(tree_size), media_type=NOTE_MEDIA_TYPE,
                            headers={"Vary": "Accept"})
        return Response(integrity.checkpoint_of(tree_size), headers={"Vary": "Accept"})

    @get("/checkpoint", sync_to_thread=True, media_type=NOTE_MEDIA_TYPE)
    def checkpoint_note(self, principal: NamedDependency[Principal], integrity: NamedDependency[IntegrityService]) -> Response[str]:
        """The latest signed tree head as a C2SP signed-note checkpoint (c2sp.org/tlog-checkpoint), for
        transparency-log tools: origin line, tree size, base64 root hash, blank line, `— <origin> <signature>`."""
        return Response(integrity.checkpoint_note(), media_type=NOTE_MEDIA_TYPE)

    @get("/proofs/{position:int}", sync_to_thread=True, response_description=(
        "A proof file, declared open: its `event` is the stored event exactly as the store holds it, whose "
        "fields differ by event type, and the proofs beside it are checked against those stored bytes."))
    def proof(self, principal: NamedDependency[Principal], integrity: NamedDependency[IntegrityService], position: PositionPath,
              checkpoint: OptionalPosition = None, since: OptionalPosition = None) -> Response[Row]:
        """A proof file for the event at `position`: the event as stored, its inclusion proof in the checkpoint of
        size `checkpoint` (default the latest), and with `since=<size>` the consistency proof from that older
        checkpoint. Office and auditors only (it carries the stored event). Open: a proof file, whose `event` is
        the stored event as it is (its fields differ by type)."""
        bundle = integrity.proof(principal, position, checkpoint=checkpoint, since=since)
        return Response(bundle)

    @get("/verify", sync_to_thread=True)
    def verify(self, principal: NamedDependency[Principal], integrity: NamedDependency[IntegrityService]) -> Response[VerifyReport]:
        """Walks the whole store against the chain and every signed checkpoint; `ok` is false on any break, and
        `first_break` names its kind, position and aggregate. Office and auditors only."""
        return Response(integrity.verify(principal))


@get("/ledger/public-key", sync_to_thread=True, tags=["integrity"], media_type="application/x-pem-file")
def public_key(integrity: NamedDependency[IntegrityService]) -> Response[str]:
    """The public key that signs checkpoints and receipts (PEM: Ed25519 under intl, SM2 under sm); no token
    needed. Auditors should also obtain it out of band and compare."""
    return Response(integrity.public_key_pem(), media_type="application/x-pem-file")
