"""应用日志: access decisions of the exchange platform, judged at their time of access (USE-1, LOG-1)."""

from __future__ import annotations

import enum
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

import msgspec

from domain.base import BEIJING, EARLIEST, LATEST, Context, LedgerAggregate, check_calendar
from domain.grant_status import Evaluator, GrantState, Reason, evaluate, grant_states_from_events
from domain.grants import Grant
from domain.limits import (
    MAX_BATCH,
    MAX_RECORD_COUNT,
    ItemCodes,
    OrgCode,
    RecordCount,
    ShortText,
    Token,
)
from domain.organizations import Role
from domain.rules import InvalidTransition, RuleViolation
from domain.sharing_values import TERMINAL, GrantKind, GrantStatus

RETENTION_YEARS = 3


_ENDED = TERMINAL - {GrantStatus.CONSUMED}


class Outcome(enum.StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


class Access(msgspec.Struct, frozen=True):
    """One delivery as the platform reports it, before it is judged."""

    request_id: Token
    holder: OrgCode
    provider: OrgCode
    entry_id: UUID
    fields: ItemCodes
    purpose: ShortText
    method: ShortText
    record_count: RecordCount
    accessed_at: datetime
    grant_id: UUID | None = None


class AccessRecord(msgspec.Struct, frozen=True):
    """One access log record: the delivery and its outcome at its time of access; addressed by its request id."""

    request_id: str
    grant_id: UUID | None
    holder: str
    provider: str
    entry_id: UUID
    fields: tuple[str, ...]
    purpose: str
    method: str
    record_count: RecordCount
    accessed_at: datetime
    outcome: Outcome
    reasons: tuple[Reason, ...] = ()
    consumed_grant: UUID | None = None


class AccessLogBatch(LedgerAggregate):
    """应用日志批次: one batch of access records sent by the exchange platform; never changed once recorded."""

    TOPIC = "civic-ledger:AccessLogBatch"
    KIND = "access-log"

    class Created(LedgerAggregate.Created):
        TOPIC = "civic-ledger:AccessLogBatch.Created"

    class Recorded(Created):
        TOPIC = "civic-ledger:AccessLogBatch.Recorded"
        records: tuple[AccessRecord, ...]

    def __init__(self, records: tuple[AccessRecord, ...], **_: Any) -> None:
        self.records = records

    @classmethod
    def record(cls, ctx: Context, *, id: UUID, records: Sequence[AccessRecord]) -> AccessLogBatch:  # noqa: A002
        """Records judged accesses; the platform alone logs them (LOG-1), each request id once per batch."""
        if ctx.actor.role != Role.PLATFORM:
            raise RuleViolation("LOG-1", "Access logs are recorded by the exchange platform (role platform).")
        check_accesses(records, ctx.at)
        return cls._start(cls.Recorded, ctx, id=id, records=tuple(records))


def check_accesses(accesses: Sequence[Access | AccessRecord], now: datetime) -> None:
    """What makes a batch malformed: empty or too large, repeated request ids, naive or future times, counts < 0."""
    if not accesses:
        raise InvalidTransition("An access log batch holds at least one record.")
    if len(accesses) > MAX_BATCH:
        raise InvalidTransition(f"An access log batch holds at most {MAX_BATCH} records, not {len(accesses)}.")
    seen: set[str] = set()
    for i, a in enumerate(accesses):
        rid, at = a.request_id, a.accessed_at
        if not rid.strip() or len(rid) > 200:
            raise InvalidTransition(f"{_where(i, a)}: a request id is 1 to 200 characters.", index=i)
        if rid in seen:
            raise InvalidTransition(f"{_where(i, a)}: the request id appears twice in the batch.", index=i)
        seen.add(rid)
        if at.tzinfo is None:
            raise InvalidTransition(f"{_where(i, a)}: the time of access carries a time zone.", index=i)
        if not EARLIEST <= at.date() <= LATEST:
            check_calendar(**{f"records[{i}].accessed_at": at})
        if at > now:
            raise InvalidTransition(f"{_where(i, a)}: the time of access {at.isoformat()} is in the future.",
                                    index=i)
        if not 0 <= a.record_count <= MAX_RECORD_COUNT:
            raise InvalidTransition(f"{_where(i, a)}: the record count is between 0 and {MAX_RECORD_COUNT:,}.",
                                    index=i)
        if not a.fields:
            raise InvalidTransition(f"{_where(i, a)}: an access names at least one field.", index=i)


def _where(i: int, a: Access | AccessRecord) -> str:
    return f"Record {i} ({a.request_id!r})"


# -- judging a batch at each record's time of access (USE-1) ------------------------------------


class GrantHistory:
    """The grant history of one (holder, entry): states at an instant, folded once per distinct prefix.

    Built from the pair's events once; a caller that keeps it while those grants do not change (same
    ids, same versions) reuses its folds and its prepared decisions from one batch to the next.
    """

    def __init__(self, events: Iterable[Any]) -> None:
        self.events = sorted(events, key=lambda e: e.timestamp)
        self.times = [e.timestamp for e in self.events]
        self._cache: dict[int, tuple[dict[UUID, GrantState], list[datetime]]] = {}
        self._latest: dict[UUID, GrantState] | None = None
        self._evaluators: dict[tuple[Any, ...], Evaluator] = {}

    def latest(self) -> dict[UUID, GrantState]:
        """The grants after all their events, whatever the events' times."""
        if self._latest is None:
            self._latest = grant_states_from_events(self.events, until=datetime.max.replace(tzinfo=UTC))
        return self._latest

    def states_at(self, at: datetime) -> dict[UUID, GrantState]:
        return self._at(at)[1][0]

    def _at(self, at: datetime) -> tuple[int, tuple[dict[UUID, GrantState], list[datetime]]]:
        """The prefix `at` falls in, the states it folds to and every validity bound among them, in order."""
        k = bisect_right(self.times, at)
        got = self._cache.get(k)
        if got is None:
            states = grant_states_from_events(self.events[:k], until=at)
            bounds = sorted({b for s in states.values() for b in (s.valid_from, s.valid_to)})
            got = self._cache[k] = (states, bounds)
        return k, got

    def evaluator(self, states: dict[UUID, GrantState], key: tuple[Any, ...], *, holder: str, entry_id: UUID,
                  purpose: str, method: str, at: datetime) -> Evaluator:
        """The decision prepared over `states` (which `key` names with the prefix and the bounds `at` falls
        between), made once per key: `at` enters USE-1 only through its comparisons with the bounds."""
        ev = self._evaluators.get(key)
        if ev is None:
            if len(self._evaluators) > 10_000:
                self._evaluators.clear()
            ev = self._evaluators[key] = Evaluator(states.values(), holder=holder, entry_id=entry_id,
                                                   purpose=purpose, method=method, at=at)
        return ev


def judge(
    ctx: Context, accesses: Sequence[Access],
    grant_events: Mapping[tuple[str, UUID], Iterable[Any] | GrantHistory],
    grant: Callable[[UUID], Grant | None],
) -> tuple[AccessRecord, ...]:
    """Judges each access against the grants as they stood at its time of access, in time order.

    A single-use grant allows one access ever: the first allowed access consumes it (recorded on
    the aggregate `grant(id)` returns), and every later-judged access sees it consumed, whatever its time of access.
    An access that names a single-use grant whose recorded use is exactly its time of access is the
    use the grant-status query already recorded (`record_use`): allowed, and not consumed twice.
    A pair's history may come as a `GrantHistory` kept from an earlier batch (the same grant versions).
    """
    pairs = {key: evts if isinstance(evts, GrantHistory) else GrantHistory(evts) for key, evts in grant_events.items()}
    used: dict[UUID, datetime] = {
        gid: g.consumed_at or g.status_since for p in pairs.values() for gid, g in p.latest().items()
        if g.status == GrantStatus.CONSUMED
    }
    claimed: set[UUID] = set()
    out: list[AccessRecord | None] = [None] * len(accesses)
    order = sorted(range(len(accesses)), key=lambda i: accesses[i].accessed_at)
    for i in order:
        a = accesses[i]
        pair = pairs.get((a.holder, a.entry_id))
        if pair is None:
            d = evaluate((), holder=a.holder, entry_id=a.entry_id, fields=a.fields, purpose=a.purpose,
                         method=a.method, at=a.accessed_at)
            out[i] = _record(a, Outcome.DENIED, grant=a.grant_id, reasons=d.reasons)
            continue
        k, (states, bounds) = pair._at(a.accessed_at)
        if a.grant_id is not None:
            states = {a.grant_id: states[a.grant_id]} if a.grant_id in states else {}
        spent: list[tuple[UUID, datetime]] = []
        for gid, s in states.items():
            at = used.get(gid)
            if at is None or s.status in _ENDED:
                continue
            if a.grant_id == gid and at == a.accessed_at and gid not in claimed:
                claimed.add(gid)
                out[i] = _record(a, Outcome.ALLOWED, grant=gid)
                break
            spent.append((gid, at))
        if out[i] is not None:
            continue
        # the states, and how the time of access compares with every validity bound, are the whole input
        where = (bisect_left(bounds, a.accessed_at), bisect_right(bounds, a.accessed_at))
        key = (k, where, a.grant_id, tuple(spent), a.purpose, a.method)
        ev = pair._evaluators.get(key)
        if ev is None:  # the states with the uses recorded since are built only for a new evaluator
            if spent:
                states = dict(states)
                for gid, at in spent:
                    states[gid] = msgspec.structs.replace(states[gid], status=GrantStatus.CONSUMED,
                                                          status_since=at, consumed_at=at)
            ev = pair.evaluator(states, key, holder=a.holder, entry_id=a.entry_id, purpose=a.purpose,
                                method=a.method, at=a.accessed_at)
        d = ev.decide(a.fields)
        if not d.allowed:
            out[i] = _record(a, Outcome.DENIED, grant=a.grant_id, reasons=d.reasons)
            continue
        consumed = None
        if d.kind == GrantKind.SINGLE_USE and d.grant_id is not None:
            used[d.grant_id] = a.accessed_at
            claimed.add(d.grant_id)
            consumed = _consume(ctx, grant(d.grant_id), a.accessed_at)
        out[i] = _record(a, Outcome.ALLOWED, grant=d.grant_id, consumed=consumed)
    return tuple(r for r in out if r is not None)


def _consume(ctx: Context, grant: Grant | None, at: datetime) -> UUID | None:
    """Records the use on the grant; a grant that has since ended or been suspended cannot record it."""
    if grant is None:
        return None
    try:
        grant.consume(ctx, at=at)
    except InvalidTransition:
        # Allowed at its time of access, but the grant is no longer active now (expired by date,
        # suspended or revoked since): it cannot record the use; the log record is the evidence.
        return None
    return grant.id


def _record(a: Access, outcome: Outcome, *, grant: UUID | None, reasons: tuple[Reason, ...] = (),
            consumed: UUID | None = None) -> AccessRecord:
    return AccessRecord(
        request_id=a.request_id, grant_id=grant, holder=a.holder, provider=a.provider, entry_id=a.entry_id,
        fields=a.fields, purpose=a.purpose, method=a.method, record_count=a.record_count,
        accessed_at=a.accessed_at, outcome=outcome, reasons=reasons, consumed_grant=consumed,
    )


# -- the retention window (LOG-1) ---------------------------------------------------------------


def window_start(now: datetime) -> datetime:
    """The start of the rolling window: the same instant three years earlier (28 Feb for a 29 Feb)."""
    try:
        return now.replace(year=now.year - RETENTION_YEARS)
    except ValueError:
        return now.replace(year=now.year - RETENTION_YEARS, day=28)


def archive_cutoff(before: date, now: datetime) -> datetime:
    """The instant an archive may move records before: 00:00 of `before` in Beijing, no later than the window.

    Nothing younger than three years leaves the hot view (LOG-1, 第二十二条).
    """
    cutoff = datetime.combine(before, time.min, BEIJING).astimezone(UTC)
    limit = window_start(now)
    if cutoff > limit:
        raise RuleViolation(
            "LOG-1", f"Records younger than {RETENTION_YEARS} years are kept: an archive may move records from "
            f"before {limit.astimezone(BEIJING).date().isoformat()} at the latest, not {before.isoformat()}.",
            before=before.isoformat(), earliest_kept=limit.isoformat(),
        )
    return cutoff
