"""Backup and restore (SEC-2, 第十七条, 第三十五条), and the JSON Lines export and import of events.

A backup file is JSON Lines, read from one consistent snapshot of the store:

    {"civic_ledger_backup": 1, "kind": "full" | "events", "position": N, ...}     the header
    {"e": [position, originator_id, version, topic, base64 of the stored bytes]}    one per event
    {"t": table, "r": {column: value, ...}}                                       one per row ("full")
    {"end": {"events": n, "rows": {...}, "chain_head": hex, "sha256": hex}}        the trailer

Events are copied byte for byte at their positions, so the hash chain, the Merkle checkpoints and
the integrators' cursors are the same after a restore; encrypted payloads stay encrypted (the
same cipher key reads them). A full backup adds the tables no replay can rebuild: tokens (as
hashes), idempotency records, unique keys, signed checkpoints, archive records, webhook
subscriptions and their delivery logs, the monitors' positions. Read models are never copied:
they are rebuilt from the events. A restore goes into an empty store only, of either backend,
and checks the trailer's checksum before it writes anything and the chain head after.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import msgspec

from application.common import ApplicationError
from application.wired import Wired

FORMAT_VERSION = 1
# Tables that hold facts the events do not: a restore without them would lose tokens, retries'
# first answers, signed tree heads, archive records and webhook subscriptions.
SIDE_TABLES = ("api_tokens", "idempotency_keys", "ledger_unique_keys", "ledger_checkpoints",
               "access_log_archives", "webhook_subscriptions", "webhook_deliveries", "monitor_positions")
PAGE = 2000


class BackupError(ApplicationError):
    """The file is not a backup this version reads, is damaged, or the store is not empty."""


class BackupSummary(msgspec.Struct, frozen=True):
    file: str
    kind: str
    position: int
    events: int
    rows: dict[str, int]
    chain_head: str | None
    sha256: str


def _cell(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _uncell(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$b64"}:
        return base64.b64decode(value["$b64"])
    return value


class _Writer:
    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.digest = out, hashlib.sha256()

    def line(self, obj: Any) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self.digest.update(data)
        self.out.write(data)


def backup(rt: Wired, out: Path, *, events_only: bool = False) -> BackupSummary:
    """Writes the store to `out` (which must not exist) from one snapshot; readable by the owner only."""
    ledger = rt.ledger
    position = ledger.max_position()
    rt.projector.catch_up("ledger_chain", position)
    kind = "events" if events_only else "full"
    counts: dict[str, int] = {}
    events = 0
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f, ledger.db.snapshot() as tx:
        w = _Writer(f)
        w.line({"civic_ledger_backup": FORMAT_VERSION, "kind": kind, "position": position,
                "created_at": datetime.now(UTC).isoformat(), "source": ledger.backend})
        col, table, after = ledger.position_column, ledger.events_table, 0
        while True:
            page = tx.execute(
                f"SELECT {col} AS p, originator_id, originator_version, topic, state FROM {table} "
                f"WHERE {col} > ? AND {col} <= ? ORDER BY {col} LIMIT {PAGE}", (after, position)).fetchall()
            if not page:
                break
            for r in page:
                w.line({"e": [int(r["p"]), str(UUID(str(r["originator_id"]))), int(r["originator_version"]),
                              r["topic"], base64.b64encode(bytes(r["state"])).decode("ascii")]})
            events += len(page)
            after = int(page[-1]["p"])
        if not events_only:
            for name in SIDE_TABLES:
                rows = tx.execute(f"SELECT * FROM {name}").fetchall()
                for r in rows:
                    w.line({"t": name, "r": {k: _cell(v) for k, v in r.items()}})
                counts[name] = len(rows)
        head = tx.execute("SELECT hash FROM ledger_chain WHERE position <= ? ORDER BY position DESC LIMIT 1",
                          (position,)).fetchone()
        chain_head = bytes(head["hash"]).hex() if head else None
        sha = w.digest.hexdigest()
        w.line({"end": {"events": events, "rows": counts, "chain_head": chain_head, "sha256": sha}})
    return BackupSummary(file=str(out), kind=kind, position=position, events=events, rows=counts,
                         chain_head=chain_head, sha256=sha)


def _lines(src: Path) -> Iterator[tuple[bytes, Any]]:
    with src.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield raw, json.loads(raw)
            except ValueError as e:
                raise BackupError(f"{src}: line {number} is not JSON ({e}).") from e


def check(src: Path) -> dict[str, Any]:
    """Reads the whole file once: its header, and its trailer checked against the lines before it."""
    digest, header, end = hashlib.sha256(), None, None
    for raw, obj in _lines(src):
        if end is not None:
            raise BackupError(f"{src}: lines follow the trailer.")
        if header is None:
            if not isinstance(obj, dict) or obj.get("civic_ledger_backup") != FORMAT_VERSION:
                raise BackupError(f"{src} is not a civic-ledger backup of format {FORMAT_VERSION}.")
            header = obj
        elif isinstance(obj, dict) and "end" in obj:
            end = obj["end"]
            continue
        digest.update(raw)
    if header is None or end is None:
        raise BackupError(f"{src} ends before its trailer: the file is incomplete.")
    if digest.hexdigest() != end.get("sha256"):
        raise BackupError(f"{src} does not match its checksum: the file was altered or damaged.")
    return {**header, **end}


def restore(rt: Wired, src: Path) -> BackupSummary:
    """Loads `src` into this empty store, rebuilds the read models and checks the chain head."""
    meta = check(src)
    ledger = rt.ledger
    if ledger.max_position() != 0:
        raise BackupError("A backup is restored into an empty store only; this one holds events.")
    for name in SIDE_TABLES:
        if ledger.db.scalar(f"SELECT COUNT(*) FROM {name}"):
            raise BackupError(f"A backup is restored into an empty store only; {name} is not empty.")
    sqlite = ledger.backend == "sqlite"
    col, table = ledger.position_column, ledger.events_table
    counts: dict[str, int] = {}
    events, batch = 0, list[tuple[Any, ...]]()
    with ledger.db.write() as tx:
        def flush() -> None:
            tx.executemany(f"INSERT INTO {table} ({col}, originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, ?, ?, ?)", batch)
            batch.clear()

        for _, obj in _lines(src):
            if "e" in obj:
                p, oid, version, topic, state = obj["e"]
                batch.append((p, UUID(oid).hex if sqlite else UUID(oid), version, topic, base64.b64decode(state)))
                events += 1
                if len(batch) >= PAGE:
                    flush()
            elif "t" in obj:
                name, row = obj["t"], obj["r"]
                if name not in SIDE_TABLES:
                    raise BackupError(f"{src}: unknown table {name!r}.")
                cols = list(row)
                tx.execute(f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                           [_uncell(row[c]) for c in cols])
                counts[name] = counts.get(name, 0) + 1
        flush()
        if not sqlite and events:
            tx.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), ?)", (meta["position"],))
    if events != meta["events"] or ledger.max_position() != (meta["position"] if events else 0):
        raise BackupError(f"Restored {events} events up to {ledger.max_position()}; the file says {meta['events']} "
                          f"up to {meta['position']}.")
    rt.forget_callers()
    rt.projector.catch_up_all()
    head = ledger.db.query_one("SELECT hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
    chain_head = bytes(head["hash"]).hex() if head else None
    if chain_head != meta.get("chain_head"):
        raise BackupError(f"The restored chain ends in {chain_head}, the backup's in {meta.get('chain_head')}: "
                          "the events were altered after they were chained (run `civic-ledger verify`).")
    return BackupSummary(file=str(src), kind=str(meta["kind"]), position=int(meta["position"]), events=events,
                         rows=counts, chain_head=chain_head, sha256=str(meta["sha256"]))
