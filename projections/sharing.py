"""Share requests, implementation orders and grants as plain tables; the active grants serve USE-1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.catalog_values import DeliveryMethod
from domain.grant_reviews import GrantReview
from domain.grant_status import GrantState
from domain.grants import STATUS_EVENTS, Grant, StatusChange, fold, status_change
from domain.sharing import ImplementationOrder, ShareRequest
from domain.sharing_values import GrantKind, GrantStatus
from infrastructure.sql import Tx
from projections.base import View, on

R, IO, G, GR = ShareRequest, ImplementationOrder, Grant, GrantReview
_enc = msgspec.json.Encoder()

_CHANGES = msgspec.json.Decoder(list[StatusChange])


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _json(value: Any) -> str:
    return _enc.encode(value).decode("utf-8")


class SharingView(View):
    name = "sharing"
    version = 2  # 2: grant status folded on the effective-time axis; re-reviews after catalog revisions
    tables = ("share_requests", "implementation_orders", "grants", "grant_reviews")

    def create(self, tx: Tx) -> None:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS share_requests (id TEXT PRIMARY KEY, requester TEXT NOT NULL, "
            "scenario TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, purpose TEXT NOT NULL, "
            "entries TEXT NOT NULL, approved TEXT, review_comment TEXT, valid_from TEXT NOT NULL, "
            "valid_to TEXT NOT NULL, delivery_method TEXT NOT NULL, order_id TEXT, submitted_by TEXT NOT NULL, "
            "submitted_at TEXT NOT NULL, reviewed_at TEXT, version INTEGER NOT NULL, position BIGINT NOT NULL)"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS share_requests_status ON share_requests (status, submitted_at)")
        tx.execute("CREATE INDEX IF NOT EXISTS share_requests_requester ON share_requests (requester, submitted_at)")
        tx.execute(
            "CREATE TABLE IF NOT EXISTS implementation_orders (id TEXT PRIMARY KEY, request_id TEXT NOT NULL, "
            "holder TEXT NOT NULL, new_grants TEXT NOT NULL, reused TEXT NOT NULL, issued_by TEXT NOT NULL, "
            "issued_at TEXT NOT NULL, position BIGINT NOT NULL)"
        )
        tx.execute(
            "CREATE TABLE IF NOT EXISTS grants (id TEXT PRIMARY KEY, holder TEXT NOT NULL, provider TEXT NOT NULL, "
            "entry_id TEXT NOT NULL, resource_code TEXT NOT NULL, fields TEXT NOT NULL, purpose TEXT NOT NULL, "
            "method TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL, kind TEXT NOT NULL, "
            "status TEXT NOT NULL, status_since TEXT NOT NULL, consumed_at TEXT, by_catalog INTEGER NOT NULL, "
            "order_id TEXT NOT NULL, request_id TEXT NOT NULL, granted_at TEXT NOT NULL, "
            "version INTEGER NOT NULL, position BIGINT NOT NULL, timeline TEXT NOT NULL)"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS grants_holder_entry ON grants (holder, entry_id)")
        tx.execute("CREATE INDEX IF NOT EXISTS grants_provider ON grants (provider, status)")
        tx.execute("CREATE INDEX IF NOT EXISTS grants_entry ON grants (entry_id, status)")
        tx.execute("CREATE INDEX IF NOT EXISTS grants_due ON grants (status, valid_to)")
        tx.execute("CREATE INDEX IF NOT EXISTS grants_position ON grants (position)")  # what changed since
        tx.execute(
            "CREATE TABLE IF NOT EXISTS grant_reviews (id TEXT PRIMARY KEY, grant_id TEXT NOT NULL, "
            "entry_id TEXT NOT NULL, resource_code TEXT NOT NULL, entry_version INTEGER NOT NULL, "
            "holder TEXT NOT NULL, provider TEXT NOT NULL, how TEXT NOT NULL, impact TEXT NOT NULL, "
            "status TEXT NOT NULL, decision TEXT, comment TEXT NOT NULL, opened_by TEXT NOT NULL, "
            "opened_at TEXT NOT NULL, closed_by TEXT, closed_at TEXT, version INTEGER NOT NULL, "
            "position BIGINT NOT NULL)"
        )
        tx.execute("CREATE INDEX IF NOT EXISTS grant_reviews_status ON grant_reviews (status, opened_at)")

    @on(R.Submitted)
    def _submitted(self, tx: Tx, event: Any, position: int) -> None:
        tx.execute(
            "INSERT INTO share_requests (id, requester, scenario, status, reason, purpose, entries, valid_from, "
            "valid_to, delivery_method, submitted_by, submitted_at, version, position) "
            "VALUES (?, ?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(event.originator_id), event.requester, str(event.scenario), event.reason, event.purpose,
             _json(event.entries), event.valid_from.isoformat(), event.valid_to.isoformat(),
             str(event.delivery_method), event.actor.person, iso(event.timestamp), event.originator_version,
             position),
        )

    @on(R.Approved)
    def _approved(self, tx: Tx, event: Any, position: int) -> None:
        self._request(tx, event, position, status="approved", approved=_json(event.entries),
                      review_comment=event.comment, reviewed_at=iso(event.timestamp))

    @on(R.Rejected)
    def _rejected(self, tx: Tx, event: Any, position: int) -> None:
        self._request(tx, event, position, status="rejected", review_comment=event.reason,
                      reviewed_at=iso(event.timestamp))

    @on(R.Withdrawn)
    def _withdrawn(self, tx: Tx, event: Any, position: int) -> None:
        self._request(tx, event, position, status="withdrawn")

    @on(R.OrderIssued)
    def _order_issued(self, tx: Tx, event: Any, position: int) -> None:
        self._request(tx, event, position, status="implemented", order_id=str(event.order_id))

    @on(IO.Issued)
    def _order(self, tx: Tx, event: Any, position: int) -> None:
        tx.execute(
            "INSERT INTO implementation_orders (id, request_id, holder, new_grants, reused, issued_by, "
            "issued_at, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(event.originator_id), str(event.request_id), event.holder, _json(event.new_grants),
             _json(event.reused), event.actor.person, iso(event.timestamp), position),
        )

    @on(G.Granted)
    def _granted(self, tx: Tx, event: Any, position: int) -> None:
        s, ts = event.spec, iso(event.timestamp)
        tx.execute(
            "INSERT INTO grants (id, holder, provider, entry_id, resource_code, fields, purpose, method, "
            "valid_from, valid_to, kind, status, status_since, consumed_at, by_catalog, order_id, "
            "request_id, granted_at, version, position, timeline) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, NULL, 0, ?, ?, ?, ?, ?, '[]')",
            (str(event.originator_id), s.holder, s.provider, str(s.entry_id), s.resource_code,
             _json(sorted(s.fields)), s.purpose, str(s.method), iso(s.valid_from), iso(s.valid_to), str(s.kind), ts,
             str(s.order_id), str(s.request_id), ts, event.originator_version, position),
        )

    @on(GR.Opened)
    def _review_opened(self, tx: Tx, event: Any, position: int) -> None:
        tx.execute(
            "INSERT INTO grant_reviews (id, grant_id, entry_id, resource_code, entry_version, holder, "
            "provider, how, impact, status, decision, comment, opened_by, opened_at, closed_by, closed_at, "
            "version, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, '', ?, ?, NULL, NULL, ?, ?)",
            (str(event.originator_id), str(event.grant_id), str(event.entry_id), event.resource_code,
             event.entry_version, event.holder, event.provider, _json(event.impact.how), _json(event.impact),
             event.actor.person, iso(event.timestamp), event.originator_version, position),
        )

    @on(GR.Closed)
    def _review_closed(self, tx: Tx, event: Any, position: int) -> None:
        tx.execute(
            "UPDATE grant_reviews SET status = 'closed', decision = ?, comment = ?, closed_by = ?, closed_at = ?, "
            "version = ?, position = ? WHERE id = ?",
            (str(event.decision), event.comment, event.actor.person, iso(event.timestamp), event.originator_version,
             position, str(event.originator_id)),
        )

    @on(G.ValidityCorrected)
    def _validity_corrected(self, tx: Tx, event: Any, position: int) -> None:
        tx.execute("UPDATE grants SET valid_from = ?, valid_to = ?, version = ?, position = ? WHERE id = ?",
                   (iso(event.valid_from), iso(event.valid_to), event.originator_version, position,
                    str(event.originator_id)))

    @on(*STATUS_EVENTS)
    def _status(self, tx: Tx, event: Any, position: int) -> None:
        """Adds the change to the grant's effective timeline and stores the status it leads to."""
        oid = str(event.originator_id)
        row = tx.execute("SELECT timeline, granted_at FROM grants WHERE id = ?", (oid,)).fetchone()
        if row is None:  # a replica as at an instant before the grant (a correction of a later grant)
            return
        changes = _CHANGES.decode(row["timeline"])
        change = status_change(event, changes)
        assert change is not None
        changes.append(change)
        f = fold(datetime.fromisoformat(row["granted_at"]), changes)
        tx.execute(
            "UPDATE grants SET status = ?, status_since = ?, consumed_at = ?, by_catalog = ?, timeline = ?, "
            "version = ?, position = ? WHERE id = ?",
            (str(f.status), iso(f.since), iso(f.consumed_at) if f.consumed_at else None, int(f.by_catalog),
             _json(changes), event.originator_version, position, oid),
        )

    @staticmethod
    def _request(tx: Tx, event: Any, position: int, **changes: Any) -> None:
        changes.update(version=event.originator_version, position=position)
        cols = ", ".join(f"{k} = ?" for k in changes)
        tx.execute(f"UPDATE share_requests SET {cols} WHERE id = ?", (*changes.values(), str(event.originator_id)))


def grant_state(row: dict[str, Any]) -> GrantState:
    """A grants row as the USE-1 evaluation reads it."""
    return GrantState(
        grant_id=UUID(row["id"]), holder=row["holder"], entry_id=UUID(row["entry_id"]),
        fields=frozenset(msgspec.json.decode(row["fields"])), purpose=row["purpose"], method=DeliveryMethod(row["method"]),
        valid_from=datetime.fromisoformat(row["valid_from"]), valid_to=datetime.fromisoformat(row["valid_to"]),
        kind=GrantKind(row["kind"]), status=GrantStatus(row["status"]), status_since=datetime.fromisoformat(row["status_since"]),
        consumed_at=datetime.fromisoformat(row["consumed_at"]) if row["consumed_at"] else None,
        provider=row["provider"], resource_code=row["resource_code"],
    )
