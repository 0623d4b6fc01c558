"""Backup and restore (SEC-2, 第十七条, 第三十五条), and the JSON Lines export and import of events.

The file's format and the pass that checks one are `application.backup_file`. Events are copied byte for
byte at their positions, so the hash chain, the Merkle checkpoints and the integrators' cursors are the
same after a restore; encrypted payloads stay encrypted (the same cipher key reads them). A full backup
adds the tables no replay can rebuild: tokens (as hashes), idempotency records, unique keys, signed
checkpoints, archive records, webhook subscriptions and their delivery logs, the monitors' positions.
Read models are never copied: they are rebuilt from the events. A restore goes into an empty store only,
of either backend, and checks the whole file before it writes anything.

A restore reads the file twice: the first pass (`backup_file.inspect`) checks every line, the chain, the
counts, the checksum and the signature (against `--public-key` or the target's configured key); the second
pass writes it all in one transaction and checks the checksum again before committing. Anything refused
leaves the target as empty as it was. A file whose signature does not verify is restored only with an
explicit override and a reason, which is recorded in `restore_overrides` and printed.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError

from application.backup_file import (
    ALGORITHMS,
    FORMAT_VERSION,
    SIDE_TABLES,
    BackupError,
    BackupSummary,
    Writer,
    cell,
    event_line,
    header_profile,
    inspect,
    lines,
    one_line,
    row_line,
    signature_problem,
    signed_message,
)
from application.integrity import IntegrityService
from infrastructure import event_rows, side_tables
from infrastructure.signing import SigningKeyMissing, load_signer
from infrastructure.store import Ledger
from infrastructure.verifier import key_id
from projections import ledger_chain
from projections.runner import Projector

PAGE = 2000


@dataclass(frozen=True)
class LedgerParts:
    """What a backup reads and a restore writes: the store, the projector that keeps its chain and read
    models, the integrity service that holds the signing key, and how the process forgets its cached
    callers once a restore brings tokens in."""

    ledger: Ledger
    projector: Projector
    integrity: IntegrityService
    forget_callers: Callable[[], object]


def ensure_tables(ledger: Ledger) -> None:
    side_tables.create(ledger.db, side_tables.RESTORE_OVERRIDES)


def backup(parts: LedgerParts, out: Path, *, events_only: bool = False) -> BackupSummary:
    """Writes the store to `out` (which must not exist) from one snapshot; readable by the owner only."""
    ledger = parts.ledger
    ensure_tables(ledger)
    try:
        key: Any = load_signer(ledger.settings, ledger.profile)
    except SigningKeyMissing:
        key = None  # written unsigned: a restore of it needs the operator's explicit override
    position = ledger.max_position()
    parts.projector.catch_up("ledger_chain", position)
    kind = "events" if events_only else "full"
    counts: dict[str, int] = {}
    events = 0
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f, ledger.db.snapshot() as tx:
        w = Writer(f)
        w.line({"civic_ledger_backup": FORMAT_VERSION, "kind": kind, "position": position,
                "created_at": datetime.now(UTC).isoformat(), "source": ledger.backend,
                "crypto_profile": ledger.profile})
        after = 0
        while True:
            page = event_rows.page_after(tx, ledger, after, position, PAGE)
            if not page:
                break
            for r in page:
                w.line({"e": [int(r["position"]), str(UUID(str(r["originator_id"]))), int(r["originator_version"]),
                              r["topic"], base64.b64encode(bytes(r["state"])).decode("ascii")]})
            events += len(page)
            after = int(page[-1]["position"])
        if not events_only:
            for name in SIDE_TABLES:
                rows = side_tables.rows_of(tx, name)
                for r in rows:
                    w.line({"t": name, "r": {k: cell(v) for k, v in r.items()}})
                counts[name] = len(rows)
        head = ledger_chain.head_hash(tx, position)
        chain_head = None if head is None else head.hex()
        sha = w.digest.hexdigest()
        signature = None if key is None else {
            "algorithm": ALGORITHMS[ledger.profile], "key_id": key_id(key.public_key()),
            "value": base64.b64encode(key.sign(signed_message(sha, events, chain_head))).decode("ascii")}
        w.line({"end": {"events": events, "rows": counts, "chain_head": chain_head, "sha256": sha,
                        "signature": signature}})
    return BackupSummary(file=str(out), kind=kind, position=position, events=events, rows=counts,
                         chain_head=chain_head, sha256=sha, signed_by=None if signature is None else signature["key_id"])



def _columns(ledger: Ledger) -> dict[str, set[str]]:
    """The side tables' column names in the target store's schema."""
    return {name: side_tables.columns_of(ledger.db, name) for name in SIDE_TABLES}


def restore(parts: LedgerParts, src: Path, *, public_key: Any | None = None,
            accept_unsigned: str | None = None, operator: str | None = None) -> BackupSummary:
    """Loads `src` into this empty store after checking all of it, then rebuilds the read models.

    The signature is checked against `public_key`, else the store's own signing key. `accept_unsigned`, a
    reason, restores a file whose signature does not verify; the override is recorded and returned."""
    ledger = parts.ledger
    ensure_tables(ledger)
    _check_empty(parts)
    before = ledger.profile
    ledger.adopt_profile(header_profile(src))  # the store is empty: it takes the backup's crypto profile
    parts.integrity.forget_key()
    try:
        plan = inspect(src, _columns(ledger), ledger.mapper.to_domain_event)
    except BackupError:
        _take_back(parts, before)
        raise
    trusted = public_key if public_key is not None else parts.integrity.public_key()
    problem = signature_problem(plan, trusted)
    if problem is not None and not (accept_unsigned and accept_unsigned.strip()):
        _take_back(parts, before)
        raise BackupError(f"{src} is refused: {problem}; restoring it anyway needs --accept-unsigned --reason "
                          "\"...\" (recorded in the ledger).")
    counts: dict[str, int] = {}
    events, batch, number = 0, list[tuple[int, UUID, int, str, bytes]](), 0
    override: dict[str, Any] | None = None
    try:
        with ledger.db.write() as tx:
            def flush() -> None:
                event_rows.insert_at(tx, ledger, batch)
                batch.clear()

            digest = hashlib.sha256()
            for number, raw, obj in lines(src):
                where = f"{src}: line {number}"
                if not isinstance(obj, dict):
                    raise BackupError(f"{src} changed while it was restored; nothing was written.")
                if "end" in obj or "civic_ledger_backup" in obj:
                    if "civic_ledger_backup" in obj:
                        digest.update(raw)
                    continue
                digest.update(raw)
                if "e" in obj:
                    p, oid, version, topic, state = event_line(obj, where)
                    batch.append((p, oid, version, topic, state))
                    events += 1
                    if len(batch) >= PAGE:
                        flush()
                elif "t" in obj:
                    name, row = row_line(obj, where, None)  # its columns were checked by the first pass
                    side_tables.insert_row(tx, name, row)
                    counts[name] = counts.get(name, 0) + 1
            flush()
            if digest.hexdigest() != plan.sha256 or events != plan.events:
                raise BackupError(f"{src} changed while it was restored; nothing was written.")
            if problem is not None:
                override = {"restored_at": datetime.now(UTC).isoformat(), "operator": operator or _operator(),
                            "reason": str(accept_unsigned).strip(), "file": str(src), "sha256": plan.sha256,
                            "kind": str(plan.header["kind"]), "position": int(plan.header["position"]),
                            "events": events, "signature": problem}
                side_tables.insert_row(tx, "restore_overrides", override)
            if events:
                event_rows.continue_after(tx, ledger, int(plan.header["position"]))
    except BackupError:
        _take_back(parts, before)
        raise
    except (sqlite3.Error, psycopg.Error, PersistenceError) as e:
        _take_back(parts, before)
        raise BackupError(f"{src}: the store refused line {number}, so nothing was written: {one_line(e)}") from None
    parts.forget_callers()
    try:
        parts.projector.catch_up_all()
    except Exception as e:  # noqa: BLE001 - the events are in; say so in one line rather than a traceback
        raise BackupError(f"Restored {events} events, but rebuilding the read models failed "
                          f"({type(e).__name__}: {one_line(e)[:200]}); fix the cause and run `civic-ledger rebuild`.") from None
    with ledger.db.read() as tx:
        head = ledger_chain.head_hash(tx)
    chain_head = None if head is None else head.hex()
    if chain_head != plan.chain_head:  # checked before writing; this is the store agreeing with the check
        raise BackupError(f"The restored chain ends in {chain_head}, the backup's in {plan.chain_head} "
                          "(run `civic-ledger verify`).")
    sig = plan.end.get("signature")
    return BackupSummary(file=str(src), kind=str(plan.header["kind"]), position=int(plan.header["position"]),
                         events=events, rows=counts, chain_head=chain_head, sha256=plan.sha256,
                         signed_by=sig.get("key_id") if problem is None and isinstance(sig, dict) else None,
                         override=override)


def _take_back(parts: LedgerParts, profile: str) -> None:
    """A refused restore leaves the empty store with the crypto profile it had."""
    parts.ledger.adopt_profile(profile)
    parts.integrity.forget_key()


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "unknown"


def _check_empty(parts: LedgerParts) -> None:
    ledger = parts.ledger
    if ledger.max_position() != 0 or event_rows.count_events(ledger):
        raise BackupError("A backup is restored into an empty store only; this one holds events.")
    for name in SIDE_TABLES:
        if side_tables.count_rows(ledger.db, name):
            raise BackupError(f"A backup is restored into an empty store only; {name} is not empty.")
    moved = sorted(name for name in parts.projector.views if parts.projector.position(name))
    with ledger.db.read() as tx:
        chained = ledger_chain.head_hash(tx) is not None
    if moved or chained:
        raise BackupError("A backup is restored into an empty store only; its read models hold positions "
                          f"({', '.join(moved) or 'ledger_chain'}): rebuild them or start from a new store.")
