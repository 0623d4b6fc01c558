"""Backup and restore (SEC-2), export and import: the demo store copied to the other backend and back."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.cli import load_demo
from application.backup import backup, restore
from application.backup_file import SIDE_TABLES, BackupError, signed_message
from bootstrap import Runtime
from domain.organizations import organization_id
from infrastructure.config import Settings
from infrastructure.verifier import GENESIS, canonical_bytes, chain_hash
from tests.conftest import TestClock, database_url


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    """The source's signing key, in the test's directory; the target store is configured with the same key."""
    return Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "signing-key.pem"))

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
    done = backup(runtime.backup_parts(), tmp_path / "backup.jsonl")
    assert done.events == runtime.ledger.max_position() and done.rows["api_tokens"] >= 1
    assert done.rows["ledger_checkpoints"] == 1 and done.rows["ledger_unique_keys"] > 0

    restored = restore(other.backup_parts(), tmp_path / "backup.jsonl")
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
    done = backup(runtime.backup_parts(), tmp_path / "events.jsonl", events_only=True)
    assert done.kind == "events" and done.rows == {}
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == done.events + 2 and all('"e":' in line for line in lines[1:-1])
    restore(other.backup_parts(), tmp_path / "events.jsonl")
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
    backup(runtime.backup_parts(), path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    event = json.loads(lines[5])
    event["e"][3] = "civic-ledger:Organization.Forged"
    lines[5] = json.dumps(event) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(BackupError, match="checksum"):
        restore(other.backup_parts(), path)
    assert other.ledger.max_position() == 0
    path.write_text("".join(lines[:-1]), encoding="utf-8")          # cut before its trailer
    with pytest.raises(BackupError, match="incomplete"):
        restore(other.backup_parts(), path)
    assert other.ledger.max_position() == 0


def test_a_backup_goes_into_an_empty_store_only_and_never_overwrites_a_file(small, tmp_path):
    runtime = small
    path = tmp_path / "backup.jsonl"
    backup(runtime.backup_parts(), path)
    with pytest.raises(FileExistsError):
        backup(runtime.backup_parts(), path)
    before = runtime.ledger.max_position()
    with pytest.raises(BackupError, match="empty store"):
        restore(runtime.backup_parts(), path)
    assert runtime.ledger.max_position() == before
    assert path.stat().st_mode & 0o077 == 0                         # tokens' hashes and webhook secrets inside


# -- a restore checks everything before it writes, and a file's signature cannot be recomputed --------------

def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rewrite(path: Path, lines: list[dict[str, Any]], *, chain: bool = False, sign: Any = None) -> None:
    """Writes the lines back as an editor of the file would: the checksum (and, with `chain`, the chain head)
    recomputed, the signature left as it was, since only the ledger's key makes one (`sign`: the key's holder)."""
    body = [json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n" for obj in lines[:-1]]
    end = lines[-1]["end"]
    end["sha256"] = hashlib.sha256(b"".join(body)).hexdigest()
    if chain:
        h = GENESIS
        for obj in lines:
            if "e" in obj:
                p, oid, version, topic, state = obj["e"]
                h = chain_hash(h, canonical_bytes(p, UUID(oid), version, topic, base64.b64decode(state)))
        end["chain_head"] = h.hex()
    if sign is not None:
        message = signed_message(end["sha256"], end["events"], end["chain_head"])
        end["signature"]["value"] = base64.b64encode(sign.sign(message)).decode("ascii")
    path.write_bytes(b"".join(body) + json.dumps({"end": end}).encode("utf-8") + b"\n")


def assert_empty(rt: Runtime) -> None:
    """Exactly as empty as before the refused restore: no event, no side row, no read-model position."""
    assert rt.ledger.max_position() == 0
    assert {t: rt.ledger.db.scalar(f"SELECT COUNT(*) FROM {t}") for t in SIDE_TABLES} == dict.fromkeys(SIDE_TABLES, 0)
    assert rt.ledger.db.scalar("SELECT COUNT(*) FROM ledger_chain") == 0
    assert {n: rt.projector.position(n) for n in rt.projector.views} == dict.fromkeys(rt.projector.views, 0)
    assert rt.ledger.db.scalar("SELECT COUNT(*) FROM organizations") == 0


def altered(path: Path) -> list[dict[str, Any]]:
    """The file's lines with one division's registered name changed inside its stored bytes."""
    lines = lines_of(path)
    for obj in lines:
        if "e" in obj:
            state = base64.b64decode(obj["e"][4])
            if "第3处".encode() in state:
                obj["e"][4] = base64.b64encode(state.replace("第3处".encode(), "第9处".encode())).decode("ascii")
                return lines
    raise AssertionError("no event names 第3处")


def test_an_altered_event_with_its_checksum_recomputed_is_refused_and_the_target_stays_empty(small, other, tmp_path):
    good = tmp_path / "backup.jsonl"
    backup(small.backup_parts(), good)
    forged = tmp_path / "forged.jsonl"
    forged.write_bytes(good.read_bytes())
    rewrite(forged, altered(good))
    with pytest.raises(BackupError, match="chain head"):
        restore(other.backup_parts(), forged)
    assert_empty(other)
    rewrite(forged, altered(good), chain=True)  # the editor recomputes the chain head as well
    with pytest.raises(BackupError, match="signature does not verify"):
        restore(other.backup_parts(), forged)
    assert_empty(other)

    done = restore(other.backup_parts(), good)                                    # the genuine file still goes in
    assert done.events == small.ledger.max_position() and done.override is None
    assert done.signed_by is not None and done.signed_by == backup(small.backup_parts(), tmp_path / "again.jsonl").signed_by
    assert events(other) == events(small) and other.integrity.verify().ok


def test_a_planted_token_row_is_refused_even_with_every_checksum_recomputed(small, other, tmp_path):
    path = tmp_path / "backup.jsonl"
    backup(small.backup_parts(), path)
    lines = lines_of(path)
    token_row = next(obj for obj in lines if obj.get("t") == "api_tokens")
    planted = {"t": "api_tokens", "r": {**token_row["r"], "token_hash": "0" * 64, "token_id": "planted",
                                        "person": "intruder"}}
    lines.insert(-1, planted)
    lines[-1]["end"]["rows"]["api_tokens"] += 1
    rewrite(path, lines, chain=True)
    with pytest.raises(BackupError, match="signature does not verify"):
        restore(other.backup_parts(), path)
    assert_empty(other)


def test_a_file_signed_by_another_key_needs_that_key_named(small, other, tmp_path):
    path = tmp_path / "backup.jsonl"
    backup(small.backup_parts(), path)
    stranger = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(BackupError, match="not by the trusted key"):
        restore(other.backup_parts(), path, public_key=stranger)
    assert_empty(other)
    done = restore(other.backup_parts(), path, public_key=small.integrity.signing_key().public_key())
    assert done.override is None and events(other) == events(small)


def unsigned_backup(rt: Any, tmp_path: Path) -> Path:
    """A backup file of `rt` whose end line carries no signature (as one made without a signing key)."""
    path = tmp_path / "backup.jsonl"
    backup(rt.backup_parts(), path)
    lines = lines_of(path)
    lines[-1]["end"]["signature"] = None
    rewrite(path, lines)
    return path


def test_an_unsigned_file_is_restored_only_with_a_recorded_override(small, other, tmp_path):
    path = unsigned_backup(small, tmp_path)
    with pytest.raises(BackupError, match="not signed.*--accept-unsigned"):
        restore(other.backup_parts(), path)
    assert_empty(other)
    with pytest.raises(BackupError, match="not signed"):
        restore(other.backup_parts(), path, accept_unsigned="  ")             # a blank reason is no override
    assert_empty(other)
    done = restore(other.backup_parts(), path, accept_unsigned="the only copy after the disk failure (ticket 42)", operator="ops")
    assert done.override is not None and done.override["signature"] == "the backup is not signed"
    rows = other.ledger.db.query("SELECT operator, reason, sha256, events FROM restore_overrides")
    assert rows == [{"operator": "ops", "reason": "the only copy after the disk failure (ticket 42)",
                     "sha256": done.sha256, "events": done.events}]
    assert events(other) == events(small)
    again = backup(other.backup_parts(), tmp_path / "after.jsonl")                # the record goes on in every later backup
    assert again.rows["restore_overrides"] == 1


def cli(rt: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVIC_LEDGER_DATABASE_URL": rt.settings.database_url,
           "CIVIC_LEDGER_SIGNING_KEY": str(rt.settings.signing_key)}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def one_line_refusal(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("civic-ledger: refused: ") and done.stdout == ""
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_every_refusal_of_the_restore_command_is_one_line_and_leaves_the_store_empty(small, other, tmp_path):
    path = tmp_path / "backup.jsonl"
    backup(small.backup_parts(), path)
    good = lines_of(path)

    foreign = [dict(obj) for obj in good]
    i = next(i for i, obj in enumerate(foreign) if obj.get("t") == "api_tokens")
    foreign[i] = {"t": "api_tokens", "r": {**foreign[i]["r"], "is_admin); DROP TABLE api_tokens; --": 1}}
    rewrite(tmp_path / "foreign.jsonl", foreign)
    one_line_refusal(cli(other, "restore", str(tmp_path / "foreign.jsonl")), "has no column")

    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "broken.jsonl").write_text("".join([*text[:3], '{"e": [4, "not-a-uuid"\n', *text[4:]]),
                                           encoding="utf-8")
    one_line_refusal(cli(other, "restore", str(tmp_path / "broken.jsonl")), "line 4 is not JSON")
    bad_uuid = [dict(obj) for obj in good]
    bad_uuid[3] = {"e": [bad_uuid[3]["e"][0], "not-a-uuid", 1, "x", ""]}
    rewrite(tmp_path / "bad-uuid.jsonl", bad_uuid)
    one_line_refusal(cli(other, "restore", str(tmp_path / "bad-uuid.jsonl")), "line 4", "not a UUID")
    bad_b64 = [dict(obj) for obj in good]
    bad_b64[3] = {"e": [*bad_b64[3]["e"][:4], "%%%"]}
    rewrite(tmp_path / "bad-b64.jsonl", bad_b64)
    one_line_refusal(cli(other, "restore", str(tmp_path / "bad-b64.jsonl")), "line 4", "base64")
    one_line_refusal(cli(other, "restore", str(tmp_path / "absent.jsonl")), "cannot read")
    one_line_refusal(cli(other, "restore", str(tmp_path)), "cannot read")
    assert_empty(other)

    usage = cli(other, "restore", str(path), "--accept-unsigned")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1 and "--reason" in usage.stderr
    ok = cli(other, "restore", str(path))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["events"] == small.ledger.max_position()


def test_the_override_is_printed_by_the_restore_command(small, other, tmp_path):
    path = unsigned_backup(small, tmp_path)
    one_line_refusal(cli(other, "restore", str(path)), "not signed", "--accept-unsigned")
    done = cli(other, "restore", str(path), "--accept-unsigned", "--reason", "drill: restore of the unsigned copy")
    assert done.returncode == 0, done.stderr
    assert "OVERRIDE recorded" in done.stderr and "drill: restore of the unsigned copy" in done.stderr
    assert json.loads(done.stdout)["override"]["reason"] == "drill: restore of the unsigned copy"
    assert other.ledger.db.scalar("SELECT reason FROM restore_overrides") == "drill: restore of the unsigned copy"


def test_a_row_the_store_refuses_rolls_the_whole_restore_back(small, other, tmp_path):
    """Even a file signed by the ledger's own key: a duplicate event fails in the store's transaction, one line."""
    path = tmp_path / "backup.jsonl"
    backup(small.backup_parts(), path)
    lines = lines_of(path)
    evs = [i for i, obj in enumerate(lines) if "e" in obj]
    last = lines[evs[-1]]["e"]
    lines.insert(evs[-1] + 1, {"e": [last[0] + 1, *lines[evs[0]]["e"][1:]]})  # the first event, once more
    lines[0]["position"] += 1
    lines[-1]["end"]["events"] += 1
    rewrite(path, lines, chain=True, sign=small.integrity.signing_key())
    with pytest.raises(BackupError, match="the store refused line") as refused:
        restore(other.backup_parts(), path)
    assert "\n" not in str(refused.value)
    assert_empty(other)
    other.init(admin="office-admin")  # on PostgreSQL the position sequence did not move: the next event takes 1
    assert [p for p, _ in other.ledger.stored_events_of(organization_id("office"))] == [1, 2]


def test_an_encrypted_backup_is_refused_by_a_store_without_the_cipher_key_before_anything_is_written(settings,
                                                                                                     tmp_path):
    from eventsourcing.cryptography import AESCipher

    from tests.support import register

    secret = dataclasses.replace(settings, cipher_key=AESCipher.create_key(16))
    source = Runtime(secret, clock=TestClock())
    try:
        office = source.principal(source.init(admin="office-admin")[1])
        register(source, office, "div-relief", name="社会救助处")
        backup(source.backup_parts(), tmp_path / "backup.jsonl")
    finally:
        source.close()
    target = "postgres" if settings.backend == "sqlite" else "sqlite"
    plain = Settings(database_url=database_url(target, tmp_path / "plain"), signing_key=settings.signing_key)
    rt = Runtime(plain, clock=TestClock())
    try:
        with pytest.raises(BackupError, match="does not decode in this store") as refused:
            restore(rt.backup_parts(), tmp_path / "backup.jsonl")
        assert "line 2" in str(refused.value)
        assert_empty(rt)
    finally:
        rt.close()
    keyed = Runtime(dataclasses.replace(plain, cipher_key=secret.cipher_key), clock=TestClock())
    try:
        assert restore(keyed.backup_parts(), tmp_path / "backup.jsonl").events == 3
        assert keyed.ledger.db.scalar("SELECT name FROM organizations WHERE code = 'div-relief'") == "社会救助处"
    finally:
        keyed.close()
