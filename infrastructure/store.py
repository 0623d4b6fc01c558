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
from infrastructure.sql import Db, Tx
from infrastructure.transcoding import MsgspecMapper, PassThroughTranscoder, SM4Cipher
from infrastructure.verifier import Suite, suite

SETTINGS_DDL = "CREATE TABLE IF NOT EXISTS ledger_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"

PROFILE_KEY = "crypto_profile"
PROFILE_NAMES = {"intl": "SHA-256, Ed25519, AES-GCM", "sm": "SM3, SM2, SM4"}


def recorded_profile_row(tx: Tx) -> dict[str, Any] | None:
    """The ledger's recorded crypto profile (`value`), read in the caller's transaction; None before it is set."""
    return tx.execute("SELECT value FROM ledger_settings WHERE name = 'crypto_profile'").fetchone()


class ProfileMismatch(Exception):
    """The ledger was created with one crypto profile and is asked to use another."""


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
        self.profile = "intl"
        self.suite: Suite = suite("intl")
        self._use_profile(self._settle_profile(self.settings.crypto_profile))

    # -- the crypto profile ------------------------------------------------------------------

    def recorded_profile(self) -> str | None:
        return self.db.scalar("SELECT value FROM ledger_settings WHERE name = ?", (PROFILE_KEY,))  # type: ignore[no-any-return]

    def _settle_profile(self, requested: str | None) -> str:
        """The profile this store uses: the one it recorded when it was created. A store with no record and no
        event is being created now and records the one asked for (intl by default); a store with events but no
        record predates profiles and is intl. Asking for another profile than the recorded one is refused while
        the store holds events (it would mix two), and re-chooses while it holds none."""
        with self.db.write() as tx:
            tx.execute(SETTINGS_DDL)
        recorded = self.recorded_profile()
        empty = self.max_position() == 0
        if recorded is None and not empty:
            recorded = "intl"  # created before profiles were recorded
            self._record_profile(recorded, replace=False)
        if requested is None or requested == recorded:
            if recorded is None:
                self._record_profile("intl", replace=False)
                return self.recorded_profile() or "intl"
            return recorded
        if recorded is not None and not empty:
            raise ProfileMismatch(
                f"This ledger was created with the crypto profile {recorded!r} ({PROFILE_NAMES[recorded]}) and "
                f"holds events under it; it cannot change to {requested!r}: a ledger never mixes profiles. Unset "
                f"CIVIC_LEDGER_CRYPTO_PROFILE (or drop --crypto) to open it as it is, or create a new ledger.")
        self._record_profile(requested, replace=True)
        return requested

    def _record_profile(self, profile: str, *, replace: bool) -> None:
        conflict = "DO UPDATE SET value = excluded.value" if replace else "DO NOTHING"
        with self.db.write() as tx:
            tx.execute(f"INSERT INTO ledger_settings (name, value) VALUES (?, ?) ON CONFLICT (name) {conflict}",
                       (PROFILE_KEY, profile))

    def _use_profile(self, profile: str) -> None:
        self.profile = profile
        self.suite = suite(profile)
        self.recorder.hashes = self.suite  # type: ignore[attr-defined]  # the load-time chain check hashes so
        if self.settings.cipher_key:
            env = {"CIPHER_KEY": self.settings.cipher_key}
            self.mapper.cipher = SM4Cipher(env) if profile == "sm" else self.factory.cipher()

    def adopt_profile(self, profile: str) -> None:
        """Takes another profile while the store is still empty (a restore of a backup made under it)."""
        if profile == self.profile:
            return
        if self.max_position() != 0:
            raise ProfileMismatch(f"This ledger holds events under the crypto profile {self.profile!r}; it cannot "
                                  f"take {profile!r}.")
        self._record_profile(profile, replace=True)
        self._use_profile(profile)

    def construct_mapper(self) -> Mapper[UUID]:
        return MsgspecMapper(
            transcoder=PassThroughTranscoder(),
            cipher=self.factory.cipher(),
            compressor=self.factory.compressor(),
        )

    def plain_bytes(self, state: bytes) -> bytes:
        """A stored state as the JSON the mapper encoded (decrypted and decompressed as configured)."""
        mapper: MsgspecMapper = self.mapper  # type: ignore[assignment]
        return mapper.plain_bytes(state)

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
        check_chained(originator_id, stored, chain, complete=True, hashes=self.suite)
        return stored

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        oid: Any = originator_id.hex if self.backend == "sqlite" else originator_id
        value = self.db.scalar(
            f"SELECT {self.position_column} FROM {self.events_table} "
            "WHERE originator_id = ? AND originator_version = ?",
            (oid, version),
        )
        return None if value is None else int(value)
