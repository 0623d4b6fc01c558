"""Backup and restore (SEC-2), export and import: the demo store copied to the other backend and back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from application.backup import SIDE_TABLES, BackupError, backup, restore
from application.demo import load_demo
from bootstrap import Runtime
from infrastructure.config import Settings
from tests.conftest import TestClock, database_url

VIEW_TABLES = ("organizations", "catalog_entries", "open_catalog", "share_requests", "grants", "systems",
               "maintenance_tickets", "objections", "access_log", "violations", "ledger_times")


def dump(rt: Runtime, tables: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    return {t: sorted(tuple(str(v) for v in r.values()) for r in rt.ledger.db.query(f"SELECT * FROM {t}"))
            for t in tables}


def events(rt: Runtime) -> list[tuple[int, str, int, str, bytes]]:
    col, table = rt.ledger.position_column, rt.ledger.events_table
    return [(int(r["p"]), str(r["originator_id"]).replace("-", ""), int(r["originator_version"]), r["topic"],
             bytes(r["state"])) for r in rt.ledger.db.query(
        f"SELECT {col} AS p, originator_id, originator_version, topic, state FROM {table} ORDER BY {col}")]


@pytest.fixture
def other(backend: str, tmp_path: Path) -> Iterator[Runtime]:
    """An empty store on the other backend: a backup moves between SQLite and PostgreSQL."""
    target = "postgres" if backend == "sqlite" else "sqlite"
    rt = Runtime(Settings(database_url=database_url(target, tmp_path / "other"),
                          signing_key=str(tmp_path / "signing-key.pem")), clock=TestClock())
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def demo(runtime: Runtime) -> dict[str, Any]:
    summary = load_demo(runtime)
    runtime.integrity.create_checkpoint()
    runtime.projector.catch_up_all()
    return summary


def test_a_full_backup_restores_the_same_ledger_tokens_and_read_models_on_the_other_store(runtime, demo, other,
                                                                                         tmp_path):
    done = backup(runtime, tmp_path / "backup.jsonl")
    assert done.events == runtime.ledger.max_position() and done.rows["api_tokens"] >= 1
    assert done.rows["ledger_checkpoints"] == 1 and done.rows["ledger_unique_keys"] > 0

    restored = restore(other, tmp_path / "backup.jsonl")
    assert restored.events == done.events and restored.chain_head == done.chain_head is not None
    assert events(other) == events(runtime)                       # byte for byte, at the same positions
    assert dump(other, VIEW_TABLES) == dump(runtime, VIEW_TABLES)   # the read models rebuilt from them
    assert dump(other, SIDE_TABLES) == dump(runtime, SIDE_TABLES)
    office = other.principal(demo["admin_token"])                 # the tokens still work
    assert office is not None and office.is_office
    report = other.integrity.verify()
    assert report.ok and report.checkpoints == 1, report
    # the restored store goes on: its next event follows the last restored position
    from tests.support import register

    register(other, office, "div-after-restore", name="恢复后新设处室")
    assert other.ledger.max_position() == done.position + 1


def test_an_export_holds_the_events_only_and_imports_into_an_empty_store(runtime, demo, other, tmp_path):
    done = backup(runtime, tmp_path / "events.jsonl", events_only=True)
    assert done.kind == "events" and done.rows == {}
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == done.events + 2 and all('"e":' in line for line in lines[1:-1])
    restore(other, tmp_path / "events.jsonl")
    assert events(other) == events(runtime)
    assert dump(other, ("catalog_entries", "grants")) == dump(runtime, ("catalog_entries", "grants"))
    assert other.ledger.db.scalar("SELECT COUNT(*) FROM api_tokens") == 0


@pytest.fixture
def small(runtime: Runtime) -> Runtime:
    """The Office and a few divisions: enough for the refusals, which never get to the events."""
    from tests.support import register

    office = runtime.principal(runtime.init(admin="office-admin")[1])
    for i in range(6):
        register(runtime, office, f"div-{i}", name=f"第{i}处")
    return runtime


def test_a_damaged_backup_is_refused_before_anything_is_written(small, other, tmp_path):
    runtime = small
    path = tmp_path / "backup.jsonl"
    backup(runtime, path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    event = json.loads(lines[5])
    event["e"][3] = "civic-ledger:Organization.Forged"
    lines[5] = json.dumps(event) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(BackupError, match="checksum"):
        restore(other, path)
    assert other.ledger.max_position() == 0
    path.write_text("".join(lines[:-1]), encoding="utf-8")          # cut before its trailer
    with pytest.raises(BackupError, match="incomplete"):
        restore(other, path)
    assert other.ledger.max_position() == 0


def test_a_backup_goes_into_an_empty_store_only_and_never_overwrites_a_file(small, tmp_path):
    runtime = small
    path = tmp_path / "backup.jsonl"
    backup(runtime, path)
    with pytest.raises(FileExistsError):
        backup(runtime, path)
    before = runtime.ledger.max_position()
    with pytest.raises(BackupError, match="empty store"):
        restore(runtime, path)
    assert runtime.ledger.max_position() == before
    assert path.stat().st_mode & 0o077 == 0                         # tokens' hashes and webhook secrets inside
