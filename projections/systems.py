"""Information systems and their change filings as plain tables: state, owner, connections, tests, SYS-5 facts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from domain.systems import InformationSystem
from domain.systems_values import ComplianceFacts, SystemState
from infrastructure.sql import Tx
from projections.base import View, on

IS = InformationSystem
_enc = msgspec.json.Encoder()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _json(value: Any) -> str:
    return _enc.encode(value).decode("utf-8")


class SystemsView(View):
    name = "systems"
    version = 1
    tables = ("systems", "system_filings")

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS systems (id TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL, "
            "level TEXT NOT NULL, state TEXT NOT NULL, legacy INTEGER NOT NULL, plan TEXT NOT NULL, "
            "catalog TEXT NOT NULL, catalog_size INTEGER NOT NULL, justification TEXT, justification_missing TEXT, "
            "duplicates TEXT NOT NULL, accepted TEXT NOT NULL, review_comment TEXT NOT NULL, exchange_ref TEXT, "
            "integration_ref TEXT, last_test_passed INTEGER, last_test_on TEXT, last_test_findings TEXT, "
            "live_since TEXT, flagged_entries TEXT NOT NULL, rectification TEXT, proposed_by TEXT NOT NULL, "
            "proposed_at TEXT NOT NULL, justified_at TEXT, modified_at TEXT NOT NULL, version INTEGER NOT NULL, "
            "position BIGINT NOT NULL)"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS systems_owner ON systems (owner, id)")
        tx.execute("CREATE INDEX IF NOT EXISTS systems_state ON systems (state, id)")
        tx.execute(
            "CREATE TABLE IF NOT EXISTS system_filings (system_id TEXT NOT NULL, number INTEGER NOT NULL, "
            "kind TEXT NOT NULL, description TEXT NOT NULL, affects_sharing INTEGER NOT NULL, "
            "needs_confirmation INTEGER NOT NULL, state TEXT NOT NULL, comment TEXT NOT NULL, filed_at TEXT NOT NULL, "
            "decided_at TEXT, implemented_on TEXT, position BIGINT NOT NULL, PRIMARY KEY (system_id, number))"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS system_filings_state ON system_filings (state, filed_at)")

    @on(IS.Proposed, IS.RegisteredExisting)
    def _registered(self, tx: Tx, event: Any, position: int) -> None:
        oid, ts, v = str(event.originator_id), _iso(event.timestamp), event.originator_version
        since = event.in_operation_since if isinstance(event, IS.RegisteredExisting) else None
        tx.execute(
            "INSERT INTO systems (id, name, owner, level, state, legacy, plan, catalog, catalog_size, duplicates, "
            "accepted, review_comment, live_since, flagged_entries, proposed_by, proposed_at, modified_at, "
            "version, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '{}', '', ?, '[]', ?, ?, ?, ?, ?)",
            (oid, event.name, event.owner, str(event.level), "proposed" if since is None else "live",
             int(since is not None),
             _json(event.plan), _json(event.catalog), len(event.catalog),
             since.isoformat() if since else None, event.actor.person, ts, ts, v, position),
        )

    @on(IS.CatalogRevised)
    def _catalog_revised(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, catalog=_json(e.catalog), catalog_size=len(e.catalog))

    @on(IS.JustificationFiled)
    def _justification_filed(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, state="justified", justification=_json(e.justification),
               justification_missing=_json(e.justification.missing()), duplicates=_json(e.duplicates),
               accepted="{}", justified_at=_iso(e.timestamp))

    @on(IS.DuplicateCollectionAccepted)
    def _duplicate_accepted(self, tx: Tx, e: Any, position: int) -> None:
        accepted = msgspec.json.decode(tx.scalar("SELECT accepted FROM systems WHERE id = ?", (str(e.originator_id),)))
        _touch(tx, e, position, accepted=_json({**accepted, e.item_code: e.existing_source}))

    @on(IS.Approved)
    def _approved(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, state="approved", review_comment=e.comment)

    @on(IS.Rejected)
    def _rejected(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, state="rejected", review_comment=e.reasons)

    @on(IS.Connected)
    def _connected(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, **{f"{e.platform}_ref": e.reference})

    @on(IS.ComplianceTested)
    def _compliance_tested(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, last_test_passed=int(e.test.passed), last_test_on=e.test.tested_on.isoformat(),
               last_test_findings=_json(e.test.findings))

    @on(IS.WentLive)
    def _went_live(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, state="live", live_since=e.on.isoformat())

    @on(IS.GoLiveDateCorrected)
    def _go_live_corrected(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, live_since=e.on.isoformat())

    @on(IS.ShutdownDateCorrected)
    def _shutdown_corrected(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position)

    @on(IS.Decommissioned)
    def _decommissioned(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, state="decommissioned", flagged_entries=_json(e.entries_flagged))

    @on(IS.RectificationOrdered)
    def _rectification_ordered(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, rectification=_json({
            "deadline": e.deadline.isoformat(), "withhold": e.withhold, "findings": [f.code for f in e.findings],
            "comment": e.comment, "ordered_at": _iso(e.timestamp)}))

    @on(IS.RectificationClosed)
    def _rectification_closed(self, tx: Tx, e: Any, position: int) -> None:
        _touch(tx, e, position, rectification=None)

    # -- change filings: a row each in system_filings, and the system's row touched -----------

    @on(IS.ChangeFiled)
    def _change_filed(self, tx: Tx, e: Any, position: int) -> None:
        tx.execute(
            "INSERT INTO system_filings (system_id, number, kind, description, affects_sharing, "
            "needs_confirmation, state, comment, filed_at, position) VALUES (?, ?, ?, ?, ?, ?, 'filed', '', ?, ?)",
            (str(e.originator_id), e.filing, str(e.kind), e.description, int(e.affects_sharing),
             int(e.needs_confirmation), _iso(e.timestamp), position),
        )
        _touch(tx, e, position)

    @on(IS.ChangeConfirmed)
    def _change_confirmed(self, tx: Tx, e: Any, position: int) -> None:
        state = tx.scalar("SELECT state FROM system_filings WHERE system_id = ? AND number = ?",
                          (str(e.originator_id), e.filing))
        _filing(tx, e, position, state="implemented" if state == "implemented_unconfirmed" else "confirmed",
                comment=e.comment, decided_at=_iso(e.timestamp))
        _touch(tx, e, position)

    @on(IS.ChangeDeclined)
    def _change_declined(self, tx: Tx, e: Any, position: int) -> None:
        _filing(tx, e, position, state="declined", comment=e.reason, decided_at=_iso(e.timestamp))
        _touch(tx, e, position)

    @on(IS.ChangeImplemented)
    def _change_implemented(self, tx: Tx, e: Any, position: int) -> None:
        _filing(tx, e, position, state="implemented", implemented_on=e.on.isoformat())
        _touch(tx, e, position)

    @on(IS.UnconfirmedChangeFound)
    def _unconfirmed_change_found(self, tx: Tx, e: Any, position: int) -> None:
        oid = str(e.originator_id)
        exists = tx.scalar("SELECT COUNT(*) FROM system_filings WHERE system_id = ? AND number = ?", (oid, e.filing))
        if not exists:
            tx.execute(
                "INSERT INTO system_filings (system_id, number, kind, description, affects_sharing, "
                "needs_confirmation, state, comment, filed_at, position) VALUES (?, ?, ?, ?, 1, 1, 'filed', '', ?, ?)",
                (oid, e.filing, str(e.kind), e.description, _iso(e.timestamp), position),
            )
        _filing(tx, e, position, state="implemented_unconfirmed", comment=e.evidence)
        _touch(tx, e, position)


def _touch(tx: Tx, e: Any, position: int, **changes: Any) -> None:
    """Sets these columns of the system's row, with the event's time, version and position."""
    changes.update(modified_at=_iso(e.timestamp), version=e.originator_version, position=position)
    cols = ", ".join(f"{k} = ?" for k in changes)
    tx.execute(f"UPDATE systems SET {cols} WHERE id = ?", (*changes.values(), str(e.originator_id)))


def _filing(tx: Tx, e: Any, position: int, **changes: Any) -> None:
    """Sets these columns of the filing's row, with the event's position."""
    changes["position"] = position
    cols = ", ".join(f"{k} = ?" for k in changes)
    tx.execute(f"UPDATE system_filings SET {cols} WHERE system_id = ? AND number = ?",
               (*changes.values(), str(e.originator_id), e.filing))

def facts_of(row: dict[str, Any], unconfirmed: tuple[int, ...]) -> ComplianceFacts:
    """A systems row as SYS-5 judges it (the same facts the aggregate gives)."""
    missing = row["justification_missing"]
    accepted = msgspec.json.decode(row["accepted"])
    duplicates = [d["item_code"] for d in msgspec.json.decode(row["duplicates"])]
    passed = row["last_test_passed"]
    return ComplianceFacts(
        state=SystemState(row["state"]), catalog_size=int(row["catalog_size"]),
        justification_missing=None if missing is None else tuple(msgspec.json.decode(missing)),
        unaccepted_duplicates=tuple(sorted(set(duplicates) - set(accepted))),
        exchange_connected=row["exchange_ref"] is not None, integration_connected=row["integration_ref"] is not None,
        last_test_passed=None if passed is None else bool(passed), unconfirmed_filings=unconfirmed,
    )
