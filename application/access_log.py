"""Use cases of the access log (第二十二条, 第二十六条): ingest batches judged at their time of access, read by scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
from eventsourcing.persistence import IntegrityError, StoredEvent

from application.common import (
    ApplicationError,
    Command,
    Forbidden,
    Principal,
    Service,
    VersionConflict,
)
from domain.access_log import (
    Access,
    AccessLogBatch,
    AccessRecord,
    GrantHistory,
    archive_cutoff,
    check_accesses,
    judge,
)
from domain.base import Cause, Context
from domain.grants import Grant
from domain.limits import MAX_BATCH
from domain.organizations import Role
from domain.rules import InvalidTransition
from infrastructure import event_rows
from infrastructure.recorders import IdempotencyRecord, stored_unique_keys
from projections.access_log_archive import ArchiveResult, archive
from projections.access_log_queries import AccessLogQueries
from projections.runner import Projector

SCOPE = "access-log"
_INLINE = ("access_log", "catalog", "sharing")
_enc = msgspec.json.Encoder()


class TooLarge(ApplicationError):
    status = 413
    title = "Batch too large"


class RecordOutcome(msgspec.Struct, frozen=True):
    request_id: str
    outcome: str
    grant_id: str | None = None
    reasons: tuple[Any, ...] = ()
    consumed_grant: str | None = None
    duplicate: bool = False


class BatchAnswer(msgspec.Struct, frozen=True):
    batch_id: str | None
    allowed: int
    denied: int
    duplicates: int
    records: tuple[RecordOutcome, ...]


def _outcomes(records: Sequence[AccessRecord]) -> dict[str, RecordOutcome]:
    """Each record's outcome by request id (a batch names few grants: each id is turned into text once)."""
    text: dict[UUID, str] = {}
    out = {}
    for r in records:
        g, c = r.grant_id, r.consumed_grant
        gs = None if g is None else text.get(g)  # one lookup a record (a UUID hashes in Python)
        if gs is None and g is not None:
            gs = text[g] = str(g)
        cs = None if c is None else text.get(c)
        if cs is None and c is not None:
            cs = text[c] = str(c)
        out[r.request_id] = RecordOutcome(request_id=r.request_id, outcome=r.outcome.value, grant_id=gs,
                                          reasons=r.reasons, consumed_grant=cs)
    return out


class AccessLogService(Service):
    """Judges and records batches; the read model answers duplicates and the LOG-2 views."""

    def __init__(self, *args: Any, projector: Projector, queries: AccessLogQueries, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.projector = projector
        self.queries = queries
        self._events: dict[UUID, tuple[int, list[Any]]] = {}  # grant id -> (version, decoded events)
        # (holder, entry) -> (the pair's grant ids and versions, its history folded so far)
        self._histories: dict[tuple[str, UUID], tuple[tuple[tuple[UUID, int], ...], GrantHistory]] = {}

    # -- ingestion ---------------------------------------------------------------------------

    def record(self, p: Principal, cmd: Command, accesses: Sequence[Access]) -> tuple[BatchAnswer, int | None]:
        """Stores the batch atomically, each request id once ever; answers every record's outcome."""
        answer, position, _ = self.record_or_replay(p, cmd, accesses)
        return answer, position

    def record_or_replay(self, p: Principal, cmd: Command,
                         accesses: Sequence[Access]) -> tuple[BatchAnswer, int | None, bool]:
        """As `record`, and says whether the answer is the replay of an earlier request with the same key."""
        if len(accesses) > MAX_BATCH:
            raise TooLarge(f"A batch holds at most {MAX_BATCH} records, not {len(accesses)}.")
        actor = self.actor(p, (Role.PLATFORM,))
        scope = f"{p.organization}/{p.person}"
        if cmd.idempotency_key:
            earlier = self._replay(scope, cmd)
            if earlier is not None:
                return msgspec.json.decode(earlier.body, type=BatchAnswer), earlier.position, True
        # the first attempt leaves the request ids already stored to the save's unique keys (a batch sent again is
        # rare, and its save fails on them before it writes anything else); the next ones look them up first
        for attempt in (1, 2, 3):
            ctx = Context(actor=actor, at=self.clock.now(),
                          cause=Cause(command=cmd.name, idempotency_key=cmd.idempotency_key, request_id=cmd.request_id))
            batch, grants, answer = self._decide(ctx, accesses, look_up_stored=attempt > 1)
            record = None
            if cmd.idempotency_key:
                record = IdempotencyRecord(scope=scope, key=cmd.idempotency_key, fingerprint=cmd.fingerprint,
                                           status=200, body=_enc.encode(answer), created_at=ctx.at.isoformat())
            if batch is None:
                return answer, None, False
            # the views take the batch in the same transaction when they stand just before it (decision 26):
            # the access log, and the catalog and sharing views the next batch's judging waits for
            page = self.projector.inline_pages(_INLINE, [*batch.pending_events,
                                                         *(e for g in grants for e in g.pending_events)])
            try:
                recordings = self.ledger.save(batch, *grants, idempotency=record, then=page,
                                              unique_keys=(SCOPE, [r.request_id for r in batch.records]))
            except IntegrityError:
                if cmd.idempotency_key:
                    earlier = self._replay(scope, cmd)
                    if earlier is not None:
                        return msgspec.json.decode(earlier.body, type=BatchAnswer), earlier.position, True
                if attempt == 3:
                    raise VersionConflict("Concurrent writes kept conflicting with this batch; send it again.") from None
                continue  # a stored or concurrent duplicate, or a concurrent use of a grant: judge again against
                # what is stored now
            page.committed()
            position = recordings[-1].notification.id if recordings else None
            if self.on_saved and position:
                self.on_saved(position)
            return answer, position, False
        raise AssertionError("unreachable")  # pragma: no cover

    def _decide(self, ctx: Context, accesses: Sequence[Access], *,
                look_up_stored: bool = True) -> tuple[AccessLogBatch | None, list[Grant], BatchAnswer]:
        try:
            check_accesses(accesses, ctx.at)
        except InvalidTransition as e:
            raise ApplicationError(e.detail, **e.context) from None
        # the entries and the grants are read from their views, brought to the head together (one read of it)
        self.projector.wait_for(self.ledger.max_position(), "catalog", "sharing")
        self._check_entries(accesses)
        stored = self.stored_request_ids([a.request_id for a in accesses]) if look_up_stored else set()
        fresh = [a for a in accesses if a.request_id not in stored]
        judged: dict[str, RecordOutcome] = {}
        batch, consumed = None, []
        if fresh:
            grant_events, grant, built = self._grant_history({(a.holder, a.entry_id) for a in fresh})
            records = judge(ctx, fresh, grant_events, grant)
            batch = AccessLogBatch.record(ctx, id=uuid4(), records=records)
            consumed = [g for g in built.values() if g.pending_events]
            judged = _outcomes(records)
        if stored:
            self.projector.wait_for(self.ledger.max_position(), "access_log")
            rows = self.queries.outcomes(sorted(stored))
            for rid in stored:
                row = rows.get(rid, {})
                judged[rid] = RecordOutcome(request_id=rid, outcome=row.get("outcome", "recorded"),
                                            grant_id=row.get("grant_id"), reasons=tuple(row.get("reasons", ())),
                                            consumed_grant=row.get("consumed_grant"), duplicate=True)
        outs = tuple(judged[a.request_id] for a in accesses)
        fresh_outs = [o for o in outs if not o.duplicate]
        allowed = sum(o.outcome == "allowed" for o in fresh_outs)
        answer = BatchAnswer(batch_id=str(batch.id) if batch else None, allowed=allowed,
                             denied=len(fresh_outs) - allowed, duplicates=len(stored), records=outs)
        return batch, consumed, answer

    def _check_entries(self, accesses: Sequence[Access]) -> None:
        """Every record names a catalog entry and that entry's provider (the provider is who sees it, LOG-2)."""
        # a batch names a few entries: each is hashed as its int (in C) and turned into text once
        asked = {a.entry_id.int: a.entry_id for a in accesses}
        providers = {e.int: p for e, p in self.queries.entry_providers(asked.values()).items()}
        for i, a in enumerate(accesses):
            known = providers.get(a.entry_id.int)
            if known is None:
                raise ApplicationError(f"Record {i} ({a.request_id!r}): no catalog entry {a.entry_id}.", index=i)
            if known != a.provider:
                raise ApplicationError(
                    f"Record {i} ({a.request_id!r}): entry {a.entry_id} is provided by {known}, not {a.provider}.",
                    index=i)

    def stored_request_ids(self, request_ids: Sequence[str]) -> set[str]:
        return stored_unique_keys(self.ledger.db, SCOPE, request_ids)

    def _grant_history(self, pairs: set[tuple[str, UUID]]) -> tuple[dict[tuple[str, UUID], GrantHistory], Callable[[UUID], Grant | None], dict[UUID, Grant]]:
        """Each pair's grant history (its events decoded once per grant version; its folds kept while none
        of the pair's grants changes) and a loader of the grants."""
        ids = self.queries.grant_ids_for_pairs(pairs)
        current = {gid: version for gs in ids.values() for gid, version in gs}
        missing = sorted(g for g, v in current.items() if self._events.get(g, (0, []))[0] != v)
        for i in range(0, len(missing), 500):
            loaded: dict[UUID, list[Any]] = defaultdict(list)
            for stored in self._stored_events(missing[i:i + 500]):
                loaded[UUID(str(stored.originator_id))].append(self.ledger.mapper.to_domain_event(stored))
            for gid, events in loaded.items():
                self._events[gid] = (events[-1].originator_version, events)
        if len(self._events) > 100_000:
            self._events = {g: self._events[g] for g in current if g in self._events}
        built: dict[UUID, Grant] = {}

        def grant(gid: UUID) -> Grant | None:
            if gid not in built and gid in self._events:
                agg: Any = None
                for e in self._events[gid][1]:
                    agg = e.mutate(agg)
                built[gid] = agg
            return built.get(gid)

        history: dict[tuple[str, UUID], GrantHistory] = {}
        for pair, gs in ids.items():
            versions = tuple(sorted((g, self._events[g][0] if g in self._events else 0) for g, _ in gs))
            kept = self._histories.get(pair)
            if kept is None or kept[0] != versions:
                kept = self._histories[pair] = (versions, GrantHistory(
                    [e for g, _ in gs for e in self._events.get(g, (0, []))[1]]))
            history[pair] = kept[1]
        if len(self._histories) > 100_000:
            self._histories = {p: self._histories[p] for p in history}
        return history, grant, built

    def _stored_events(self, grant_ids: Sequence[UUID]) -> list[StoredEvent]:
        rows = event_rows.events_of(self.ledger, grant_ids)
        return [StoredEvent(originator_id=UUID(str(r["originator_id"])), originator_version=r["originator_version"],
                            topic=r["topic"], state=bytes(r["state"])) for r in rows]

    # -- reading (LOG-2) and archiving (LOG-1) ------------------------------------------------

    def scope_of(self, p: Principal) -> str | None:
        """None for the Office and auditors (everything); else the organization whose records the caller sees."""
        if p.roles and not p.reads_access_log:
            raise Forbidden("The platform writes the access log; reading it is for the organizations concerned.")
        if p.sees_everything:
            return None
        return p.acting_for

    def archive(self, *, before: date, out: Path, by: str = "civic-ledger") -> ArchiveResult:
        now = self.clock.now()
        cutoff = archive_cutoff(before, now)
        self.projector.wait_for(self.ledger.max_position(), "access_log")
        return archive(self.ledger.db, cutoff=cutoff, out=out, by=by, now=now)

