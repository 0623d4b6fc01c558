"""A small ledger with a signed checkpoint, and raw SQL to tamper with its stored events."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from application.common import Principal
from bootstrap import Runtime
from infrastructure.config import Settings
from infrastructure.verifier import load_public_key
from tests.conftest import database_url
from tests.support import register

ADMIN = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    """The signing key lives in the test's own directory on both stores."""
    return Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "signing-key.pem"))


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


def public_key(rt: Runtime):  # noqa: ANN201
    return load_public_key(rt.integrity.public_key_pem())


def trusted(rt: Runtime) -> dict[str, Any]:
    return msgspec.to_builtins(rt.integrity.checkpoint_of())
