"""A small ledger with a signed checkpoint, and raw SQL to tamper with its stored events.

Every test here that builds a ledger runs on both stores and both crypto profiles (intl: SHA-256 and
Ed25519; sm: SM3 and SM2): the `settings` fixture is parametrized over the profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from application.common import Principal
from application.runtime import Runtime
from domain.base import Actor, Cause, Context
from domain.organizations import OFFICE_CODE, Organization, Role, organization_id
from infrastructure.config import Settings
from infrastructure.verifier import load_public_key
from tests.conftest import database_url
from tests.support import register

ADMIN = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))


@pytest.fixture(params=["intl", "sm"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, profile: str, tmp_path: Path) -> Settings:
    """The signing key lives in the test's own directory on both stores; the ledger is of `profile`."""
    return Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "signing-key.pem"),
                    crypto_profile=profile)


class Store:
    """Direct access to the events table, as an intruder with database rights would have."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.col, self.table = rt.ledger.position_column, rt.ledger.events_table

    def positions(self) -> list[int]:
        return [int(r["p"]) for r in self.rt.ledger.db.query(
            f"SELECT {self.col} AS p FROM {self.table} ORDER BY {self.col}")]

    def state(self, position: int) -> bytes:
        return bytes(self.rt.ledger.db.scalar(f"SELECT state FROM {self.table} WHERE {self.col} = ?", (position,)))

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with self.rt.ledger.db.write() as tx:
            tx.execute(statement.format(col=self.col, table=self.table), params)

    def flip_byte(self, position: int) -> None:
        state = bytearray(self.state(position))
        state[len(state) // 2] ^= 0x01
        self.sql("UPDATE {table} SET state = ? WHERE {col} = ?", (bytes(state), position))

    def delete(self, position: int) -> None:
        self.sql("DELETE FROM {table} WHERE {col} = ?", (position,))

    def swap(self, p: int, q: int) -> None:
        self.sql("UPDATE {table} SET {col} = -1 WHERE {col} = ?", (p,))
        self.sql("UPDATE {table} SET {col} = ? WHERE {col} = ?", (p, q))
        self.sql("UPDATE {table} SET {col} = ? WHERE {col} = -1", (q,))

    def oid(self, value: UUID) -> Any:
        return value.hex if self.rt.ledger.backend == "sqlite" else value

    def insert_stored(self, position: int, event: StoredEvent) -> None:
        """A whole stored event (a real one, encoded by the ledger's mapper) written at a chosen position."""
        self.sql("INSERT INTO {table} ({col}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                 (position, self.oid(event.originator_id), event.originator_version, event.topic, event.state))

    def insert(self, position: int | None, topic: str = "civic-ledger:Organization.Registered",
               state: bytes = b'{"forged":true}') -> None:
        """An event written behind the application's back, at a chosen position or the next free one."""
        if position is None:
            self.sql("INSERT INTO {table} (originator_id, originator_version, topic, state) VALUES (?, 1, ?, ?)",
                     (self.oid(uuid4()), topic, state))
        else:
            self.sql("INSERT INTO {table} ({col}, originator_id, originator_version, topic, state) "
                     "VALUES (?, ?, 1, ?, ?)", (position, self.oid(uuid4()), topic, state))


@pytest.fixture
def ledger(runtime: Runtime) -> Runtime:
    """The Office and six divisions (eight events), chained and covered by a signed checkpoint."""
    runtime.init(admin=ADMIN.person)
    for i in range(6):
        register(runtime, ADMIN, f"div-{i}", name=f"第{i}处")
    runtime.integrity.create_checkpoint()
    return runtime


@pytest.fixture
def store(ledger: Runtime) -> Store:
    return Store(ledger)


def forged_office_admin(rt: Runtime, person: str = "intruder") -> StoredEvent:
    """The Office organization's next event, granting `office_admin` to an intruder, encoded as the ledger would
    store it but never saved: an intruder with database rights writes it behind the application's back."""
    office: Organization = rt.ledger.repository.get(organization_id(OFFICE_CODE))
    ctx = Context(actor=Actor(person, OFFICE_CODE, Role.OFFICE_ADMIN), at=rt.clock.now(), cause=Cause("forged"))
    office.assign_role(ctx, person=person, role=Role.OFFICE_ADMIN)
    [event] = office.collect_events()
    return rt.ledger.mapper.to_stored_event(event)


def public_key(rt: Runtime):  # noqa: ANN201
    return load_public_key(rt.integrity.public_key_pem())


def trusted(rt: Runtime) -> dict[str, Any]:
    return msgspec.to_builtins(rt.integrity.checkpoint_of())
