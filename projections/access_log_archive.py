"""Moves access-log rows older than the retention window from the hot view to a verified JSON Lines file.

The ledger's events stay the permanent record; an archive only keeps the hot view small. The file is
written, re-read and counted, its sha256 recorded, and only then are the same rows deleted, in one
transaction that refuses to delete more or fewer rows than were exported.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import msgspec

from infrastructure.sql import Db
from projections.access_log import COLUMNS, instant

_enc = msgspec.json.Encoder()
_PAGE = 5000


class ArchiveResult(msgspec.Struct, frozen=True):
    id: str
    before: datetime
    file: str
    rows: int
    sha256: str


class ArchiveFailed(Exception):
    """The file did not verify or the hot view changed meanwhile; nothing was deleted."""


def _export(db: Db, cutoff: str, out: Path) -> tuple[int, str]:
    digest, count, last = hashlib.sha256(), 0, ("", "")
    with out.open("wb") as fh:
        while True:
            rows = db.query(
                f"SELECT {', '.join(COLUMNS)} FROM access_log WHERE accessed_at < ? "
                "AND (accessed_at, request_id) > (?, ?) ORDER BY accessed_at, request_id LIMIT ?",
                (cutoff, *last, _PAGE),
            )
            for r in rows:
                line = _enc.encode(r) + b"\n"
                fh.write(line)
                digest.update(line)
            count += len(rows)
            if len(rows) < _PAGE:
                break
            last = (rows[-1]["accessed_at"], rows[-1]["request_id"])
        fh.flush()
        os.fsync(fh.fileno())
    return count, digest.hexdigest()


def _verify(out: Path) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    with out.open("rb") as fh:
        for line in fh:
            msgspec.json.decode(line)  # every line is a whole record
            digest.update(line)
            count += 1
    return count, digest.hexdigest()


def archive(db: Db, *, cutoff: datetime, out: Path, by: str, now: datetime) -> ArchiveResult:
    """Exports the rows before `cutoff` (already checked against LOG-1), verifies the file, then drops them."""
    if out.exists():
        raise ArchiveFailed(f"{out} exists; an archive never overwrites a file.")
    at = instant(cutoff)
    count, sha = _export(db, at, out)
    again, sha_again = _verify(out)
    if (again, sha_again) != (count, sha):
        raise ArchiveFailed(f"{out} did not verify: {again} lines (expected {count}), sha256 {sha_again}.")
    result = ArchiveResult(id=str(uuid4()), before=cutoff, file=str(out), rows=count, sha256=sha)
    with db.write() as tx:
        tx.execute(
            "INSERT INTO access_log_archives (id, before_at, file, rows_moved, sha256, archived_at, archived_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (result.id, at, str(out), count, sha, instant(now), by),
        )
        deleted = tx.execute("DELETE FROM access_log WHERE accessed_at < ?", (at,)).raw.rowcount
        if deleted != count:
            raise ArchiveFailed(f"The hot view changed during the export ({deleted} rows, {count} exported); "
                                "nothing was deleted; run the archive again to a new file.")
    return result


def archives(db: Db) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM access_log_archives ORDER BY before_at, archived_at")
