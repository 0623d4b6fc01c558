"""What every use case shares: the caller, the clock, idempotency, versions, and saving."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.base import Actor, Cause, Context, LedgerAggregate, ledger_date
from domain.organizations import OFFICE_CODE, Organization, Role, is_office_role, organization_id
from domain.rules import RuleViolation
from infrastructure.recorders import IdempotencyRecord, idempotent_answer
from infrastructure.store import Ledger

T = TypeVar("T", bound=LedgerAggregate)


NOBODY = ""
"""The scope of a caller with no designated role: no organization's code is empty, so it matches no row."""


class Principal(msgspec.Struct, frozen=True):
    """The authenticated caller: one person acting for one organization with some roles."""

    person: str
    organization: str
    roles: frozenset[str]
    on_behalf_of: str | None = None

    @property
    def is_office(self) -> bool:
        """The caller may act as the Office (holds office_admin in the Office), as the domain decides it."""
        return any(is_office_role(self.organization, role) for role in self.roles)

    @property
    def sees_everything(self) -> bool:
        """The Office's people and auditors read everything; the platform's account alone does not (it writes
        the access log and asks grant questions), nor does a person whose roles were all revoked."""
        if Role.AUDITOR in self.roles:
            return True
        return self.organization == OFFICE_CODE and bool(self.roles - {Role.PLATFORM})

    @property
    def acting_for(self) -> str:
        """The organization the caller acts and reads for; NOBODY once the person holds no designated role
        (such a caller reads only what every authenticated caller reads: the published catalog)."""
        if not self.roles:
            return NOBODY
        return self.on_behalf_of or self.organization

    @property
    def reads_access_log(self) -> bool:
        """The platform's account records the log; it reads it only through another role it holds."""
        return bool(self.roles - {Role.PLATFORM})


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ApplicationError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class Forbidden(ApplicationError):
    status = 403
    title = "Forbidden"


class RuleForbidden(Forbidden):
    """A 403 that cites the rule refusing the caller, e.g. ORG-2 for an unauthorised X-On-Behalf-Of."""

    def __init__(self, violation: RuleViolation) -> None:
        super().__init__(violation.detail, **violation.context)
        self.rule = violation.rule
        self.article = violation.article


class NotFound(ApplicationError):
    status = 404
    title = "Not found"


class VersionConflict(ApplicationError):
    status = 409
    title = "Version conflict"


class IdempotencyMismatch(ApplicationError):
    status = 422
    title = "Idempotency key reused for another request"


class CommandResult(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    position: int | None
    aggregate_id: UUID | None = None
    version: int | None = None
    replayed: bool = False


class Command(msgspec.Struct, frozen=True):
    """How a write was asked for: its name, the client's key and expected version."""

    name: str
    idempotency_key: str | None = None
    expected_version: int | None = None
    fingerprint: str = ""
    request_id: str | None = None


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(parts)).hexdigest()


_enc = msgspec.json.Encoder()


class Service:
    """Base of the use-case services: load, check, decide, save once."""

    def __init__(self, ledger: Ledger, clock: Clock | None = None, on_saved: Callable[[int], None] | None = None) -> None:
        self.ledger = ledger
        self.clock = clock or SystemClock()
        self.on_saved = on_saved

    # -- callers and roles ---------------------------------------------------------------

    def actor(self, p: Principal, allowed: Iterable[Role]) -> Actor:
        """Picks the caller's role for this command, or refuses with 403."""
        allowed = tuple(allowed)
        role = next((r for r in allowed if r in p.roles), None)
        if role is None:
            raise Forbidden(
                f"This needs one of the roles {', '.join(allowed)}; the caller holds {', '.join(sorted(p.roles)) or 'none'}.",
                required=list(allowed),
            )
        if p.on_behalf_of:
            org = self.get(Organization, organization_id(p.organization))
            org.check_acts_for(p.on_behalf_of, ledger_date(self.clock.now()))
        return Actor(person=p.person, organization=p.organization, role=role, on_behalf_of=p.on_behalf_of)

    # -- aggregates ----------------------------------------------------------------------

    def get(self, cls: type[T], aggregate_id: UUID, *, expected_version: int | None = None) -> T:
        try:
            agg: Any = self.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"No {cls.KIND or cls.__name__} {aggregate_id}.") from None
        if not isinstance(agg, cls):
            raise NotFound(f"No {cls.KIND or cls.__name__} {aggregate_id}.")
        if expected_version is not None and agg.version != expected_version:
            raise VersionConflict(
                f"The {cls.KIND} is at version {agg.version}, not {expected_version}; reload and retry.",
                current_version=agg.version,
            )
        return agg

    # -- the write path ------------------------------------------------------------------

    def execute(
        self,
        p: Principal,
        cmd: Command,
        decide: Callable[[Callable[[Actor], Context]], tuple[Sequence[LedgerAggregate], Any]],
        *,
        status: int = 200,
    ) -> CommandResult:
        """Runs a decision once: a retried key gets the first answer and records nothing."""
        scope = f"{p.organization}/{p.person}"
        if cmd.idempotency_key:
            earlier = self._replay(scope, cmd)
            if earlier is not None:
                return earlier
        cause = Cause(command=cmd.name, idempotency_key=cmd.idempotency_key, request_id=cmd.request_id)
        at = self.clock.now()

        def context(actor: Actor) -> Context:
            return Context(actor=actor, at=at, cause=cause)

        aggregates, answer = decide(context)
        body = _enc.encode(answer)
        record = None
        if cmd.idempotency_key:
            record = IdempotencyRecord(
                scope=scope, key=cmd.idempotency_key, fingerprint=cmd.fingerprint, status=status,
                body=body, created_at=self.clock.now().isoformat(),
            )
        pending = [a for a in aggregates if a.pending_events]
        if not pending:
            return CommandResult(status=status, body=body, position=None)
        created = [a for a in pending if a.pending_events[0].originator_version == 1]
        try:
            recordings = self.ledger.save(*pending, idempotency=record)
        except IntegrityError:
            if cmd.idempotency_key:
                earlier = self._replay(scope, cmd)
                if earlier is not None:
                    return earlier
            if created:
                raise VersionConflict(
                    f"The {created[0].KIND} {created[0].id} already exists (its code is taken)."
                ) from None
            raise VersionConflict("Another write reached this object first; reload and retry.") from None
        position = recordings[-1].notification.id if recordings else None
        if self.on_saved and position:
            self.on_saved(position)
        first = pending[0]
        return CommandResult(status=status, body=body, position=position, aggregate_id=first.id, version=first.version)

    def _replay(self, scope: str, cmd: Command) -> CommandResult | None:
        row = idempotent_answer(self.ledger.db, scope, cmd.idempotency_key)
        if row is None:
            return None
        if row["fingerprint"] != cmd.fingerprint:
            raise IdempotencyMismatch(
                f"Idempotency-Key {cmd.idempotency_key!r} was already used for a different request.",
            )
        position = None
        if row["last_event"]:
            oid, _, v = row["last_event"].rpartition(":")
            position = self.ledger.position_of(UUID(oid), int(v))
        body = row["body"].encode("utf-8")
        answered = msgspec.json.decode(body)
        agg_id = version = None
        if isinstance(answered, dict) and "id" in answered and "version" in answered:
            agg_id, version = UUID(answered["id"]), int(answered["version"])
        return CommandResult(status=int(row["status"]), body=body, position=position,
                             aggregate_id=agg_id, version=version, replayed=True)


ContextMaker = Callable[[Actor], Context]
