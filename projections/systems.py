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

    @on(IS.CatalogRevised, IS.JustificationFiled, IS.DuplicateCollectionAccepted, IS.Approved, IS.Rejected,
        IS.Connected, IS.ComplianceTested, IS.WentLive, IS.GoLiveDateCorrected, IS.ShutdownDateCorrected,
        IS.Decommissioned, IS.RectificationOrdered, IS.RectificationClosed,
        IS.ChangeFiled, IS.ChangeConfirmed, IS.ChangeDeclined, IS.ChangeImplemented, IS.UnconfirmedChangeFound)
    def _changed(self, tx: Tx, event: Any, position: int) -> None:
        oid, ts, v = str(event.originator_id), _iso(event.timestamp), event.originator_version
        changes = self._system_changes(tx, oid, event, ts, position)
        if changes is not None:
            changes.update(modified_at=ts, version=v, position=position)
            cols = ", ".join(f"{k} = ?" for k in changes)
            tx.execute(f"UPDATE systems SET {cols} WHERE id = ?", (*changes.values(), oid))

    def _system_changes(self, tx: Tx, oid: str, e: Any, ts: str, position: int) -> dict[str, Any] | None:
        if isinstance(e, IS.CatalogRevised):
            return {"catalog": _json(e.catalog), "catalog_size": len(e.catalog)}
        if isinstance(e, IS.JustificationFiled):
            return {"state": "justified", "justification": _json(e.justification),
                    "justification_missing": _json(e.justification.missing()), "duplicates": _json(e.duplicates),
                    "accepted": "{}", "justified_at": ts}
        if isinstance(e, IS.DuplicateCollectionAccepted):
            accepted = msgspec.json.decode(tx.scalar("SELECT accepted FROM systems WHERE id = ?", (oid,)))
            return {"accepted": _json({**accepted, e.item_code: e.existing_source})}
        if isinstance(e, IS.Approved):
            return {"state": "approved", "review_comment": e.comment}
        if isinstance(e, IS.Rejected):
            return {"state": "rejected", "review_comment": e.reasons}
        if isinstance(e, IS.Connected):
            return {f"{e.platform}_ref": e.reference}
        if isinstance(e, IS.ComplianceTested):
            return {"last_test_passed": int(e.test.passed), "last_test_on": e.test.tested_on.isoformat(),
                    "last_test_findings": _json(e.test.findings)}
        if isinstance(e, IS.WentLive):
            return {"state": "live", "live_since": e.on.isoformat()}
        if isinstance(e, IS.GoLiveDateCorrected):
            return {"live_since": e.on.isoformat()}
        if isinstance(e, IS.ShutdownDateCorrected):
            return {}
        if isinstance(e, IS.Decommissioned):
            return {"state": "decommissioned", "flagged_entries": _json(e.entries_flagged)}
        if isinstance(e, IS.RectificationOrdered):
            return {"rectification": _json({"deadline": e.deadline.isoformat(), "withhold": e.withhold,
                                            "findings": [f.code for f in e.findings], "comment": e.comment,
                                            "ordered_at": ts})}
        if isinstance(e, IS.RectificationClosed):
            return {"rectification": None}
        self._filing(tx, oid, e, ts, position)
        return {}

    @staticmethod
    def _filing(tx: Tx, oid: str, e: Any, ts: str, position: int) -> None:
        def update(**changes: Any) -> None:
            changes["position"] = position
            cols = ", ".join(f"{k} = ?" for k in changes)
            tx.execute(f"UPDATE system_filings SET {cols} WHERE system_id = ? AND number = ?",
                       (*changes.values(), oid, e.filing))

        if isinstance(e, IS.ChangeFiled):
            tx.execute(
                "INSERT INTO system_filings (system_id, number, kind, description, affects_sharing, "
                "needs_confirmation, state, comment, filed_at, position) VALUES (?, ?, ?, ?, ?, ?, 'filed', '', ?, ?)",
                (oid, e.filing, str(e.kind), e.description, int(e.affects_sharing), int(e.needs_confirmation), ts,
                 position),
            )
        elif isinstance(e, IS.ChangeConfirmed):
            state = tx.scalar("SELECT state FROM system_filings WHERE system_id = ? AND number = ?", (oid, e.filing))
            update(state="implemented" if state == "implemented_unconfirmed" else "confirmed", comment=e.comment,
                   decided_at=ts)
        elif isinstance(e, IS.ChangeDeclined):
            update(state="declined", comment=e.reason, decided_at=ts)
        elif isinstance(e, IS.ChangeImplemented):
            update(state="implemented", implemented_on=e.on.isoformat())
        elif isinstance(e, IS.UnconfirmedChangeFound):
            exists = tx.scalar("SELECT COUNT(*) FROM system_filings WHERE system_id = ? AND number = ?",
                               (oid, e.filing))
            if not exists:
                tx.execute(
                    "INSERT INTO system_filings (system_id, number, kind, description, affects_sharing, "
                    "needs_confirmation, state, comment, filed_at, position) VALUES (?, ?, ?, ?, 1, 1, 'filed', '', ?, ?)",
                    (oid, e.filing, str(e.kind), e.description, ts, position),
                )
            update(state="implemented_unconfirmed", comment=e.evidence)


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
