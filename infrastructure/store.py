"""The ledger: one event-sourced application holding every aggregate, in one notification log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent

import domain.catalog  # noqa: F401  (registers pinned topics)
import domain.organizations  # noqa: F401
from infrastructure.config import Settings
from infrastructure.recorders import chain_records, check_chained
from infrastructure.sql import Db
from infrastructure.transcoding import MsgspecMapper, PassThroughTranscoder


class Ledger(Application[UUID]):
    """All aggregates of civic-ledger share this store, so the ledger has one total order."""

    name = "civic_ledger"

    def __init__(self, settings: Settings | None = None, env: dict[str, str] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        merged = self.settings.persistence_env()
        if env:
            merged.update(env)
        super().__init__(env=merged)
        self.db = Db(self.recorder.datastore)  # type: ignore[attr-defined]
        self.backend = self.db.dialect

    def construct_mapper(self) -> Mapper[UUID]:
        return MsgspecMapper(
            transcoder=PassThroughTranscoder(),
            cipher=self.factory.cipher(),
            compressor=self.factory.compressor(),
        )

    @property
    def events_table(self) -> str:
        return self.recorder.events_table_name  # type: ignore[attr-defined,no-any-return]

    @property
    def position_column(self) -> str:
        return "rowid" if self.backend == "sqlite" else "notification_id"

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def stored_events_of(self, originator_id: UUID) -> list[tuple[int, StoredEvent]]:
        """Every stored event of one aggregate with its ledger position, in version order; raises
        `LedgerTampered` when one of them is a row the hash chain does not cover (as loading does)."""
        oid: Any = originator_id.hex if self.backend == "sqlite" else originator_id
        with self.db.lone() as tx:  # the chain first: an event at or before its head is chained already
            chain = chain_records(tx.raw, self.backend, originator_id)
        rows = self.db.query(
            f"SELECT {self.position_column} AS position, originator_version, topic, state "
            f"FROM {self.events_table} WHERE originator_id = ? ORDER BY originator_version",
            (oid,),
        )
        stored = [
            (
                int(r["position"]),
                StoredEvent(originator_id=originator_id, originator_version=r["originator_version"],
                            topic=r["topic"], state=bytes(r["state"])),
            )
            for r in rows
        ]
        check_chained(originator_id, stored, chain, complete=True)
        return stored

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        oid: Any = originator_id.hex if self.backend == "sqlite" else originator_id
        value = self.db.scalar(
            f"SELECT {self.position_column} FROM {self.events_table} "
            "WHERE originator_id = ? AND originator_version = ?",
            (oid, version),
        )
        return None if value is None else int(value)
