"""The backup file (SEC-2, 第十七条, 第三十五条): its format, and the first pass that reads and checks one.

A backup file is JSON Lines, read from one consistent snapshot of the store:

    {"civic_ledger_backup": 1, "kind": "full" | "events", "position": N, ...}     the header
    {"e": [position, originator_id, version, topic, base64 of the stored bytes]}    one per event
    {"t": table, "r": {column: value, ...}}                                       one per row ("full")
    {"end": {"events": n, "rows": {...}, "chain_head": hex, "sha256": hex}}        the trailer

The trailer is signed with the ledger's key (`infrastructure.signing`): the signature covers the SHA-256
of every line before the trailer, the event count and the chain head, so an editor of the file cannot
recompute it the way they could recompute a checksum. `inspect` is the pass that decodes every line,
checks the side tables' columns against a target's schema, recomputes the hash chain over the events and
checks the counts and the checksum, writing nothing; `signature_problem` says whether the signature vouches
for the file. Writing a backup and restoring one are `application.backup`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

from application.common import ApplicationError
from infrastructure.verifier import (
    GENESIS,
    VerificationError,
    canonical_bytes,
    key_id,
    profile_of_key,
    suite,
    verify_signature,
)

FORMAT_VERSION = 1
# Tables that hold facts the events do not: a restore without them would lose tokens, retries'
# first answers, signed tree heads, archive records and webhook subscriptions.
SIDE_TABLES = ("api_tokens", "idempotency_keys", "ledger_unique_keys", "ledger_checkpoints",
               "access_log_archives", "webhook_subscriptions", "webhook_deliveries", "monitor_positions",
               "restore_overrides")
SIGNED_HEADER = "civic-ledger backup v1"


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
    signed_by: str | None = None
    """The key id of the key that signed the file (backup) or whose signature was checked (restore)."""
    override: dict[str, Any] | None = None
    """A restore of a file whose signature did not verify: the recorded override."""


ALGORITHMS = {"intl": "ed25519", "sm": "sm2"}
"""The trailer's signature algorithm by crypto profile (the ledger's key signs it)."""


def signed_message(sha256: str, events: int, chain_head: str | None) -> bytes:
    """The exact bytes the trailer's signature covers, each line ending in `\\n`."""
    return (f"{SIGNED_HEADER}\nsha256 {sha256}\nevents {events}\nchain {chain_head or 'none'}\n").encode()


def cell(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Writer:
    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.digest = out, hashlib.sha256()

    def line(self, obj: Any) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self.digest.update(data)
        self.out.write(data)


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def lines(src: Path) -> Iterator[tuple[int, bytes, Any]]:
    with src.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw, json.loads(raw)
            except ValueError as e:  # not JSON, or not UTF-8
                raise BackupError(f"{src}: line {number} is not JSON ({one_line(e)}).") from None


def header_profile(src: Path) -> str:
    """The crypto profile the backup's header names (files made before profiles: intl)."""
    for _, _, obj in lines(src):
        profile = obj.get("crypto_profile") if isinstance(obj, dict) else None
        if profile in (None, "intl", "sm"):
            return str(profile or "intl")
        raise BackupError(f"{src}: line 1 names an unknown crypto profile {str(profile)[:40]!r}.")
    raise BackupError(f"{src} is empty.")


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise BackupError(f"{where} is not base64 text.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BackupError(f"{where} is not valid base64.") from None


def _int(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value < 1 << 63


def event_line(obj: dict[str, Any], where: str) -> tuple[int, UUID, int, str, bytes]:
    e = obj.get("e")
    if set(obj) != {"e"} or not isinstance(e, list) or len(e) != 5:
        raise BackupError(f"{where} is not an event line [position, originator_id, version, topic, state].")
    position, oid, version, topic, state = e
    if not _int(position, 1):
        raise BackupError(f"{where}: the position {position!r} is not a whole number from 1.")
    if not isinstance(oid, str):
        raise BackupError(f"{where}: the originator id is not a UUID.")
    try:
        uuid = UUID(oid)
    except ValueError:
        raise BackupError(f"{where}: the originator id {oid[:40]!r} is not a UUID.") from None
    if not _int(version, 1):
        raise BackupError(f"{where}: the version {version!r} is not a whole number from 1.")
    if not isinstance(topic, str) or not topic or "\x00" in topic:
        raise BackupError(f"{where}: the topic is not a name.")
    return position, uuid, version, topic, _b64(state, f"{where}: the state")


def row_line(obj: dict[str, Any], where: str, columns: dict[str, set[str]] | None) -> tuple[str, dict[str, Any]]:
    """A side-table row, its values decoded; with `columns`, every column name must be one of its table's."""
    name, row = obj.get("t"), obj.get("r")
    if set(obj) != {"t", "r"} or not isinstance(name, str) or not isinstance(row, dict) or not row:
        raise BackupError(f"{where} is not a table row {{\"t\": table, \"r\": {{column: value}}}}.")
    if name not in SIDE_TABLES:
        raise BackupError(f"{where}: unknown table {name[:60]!r}.")
    foreign = [] if columns is None else sorted(c for c in row if c not in columns[name])
    if foreign:
        raise BackupError(f"{where}: {name} has no column {foreign[0][:60]!r} in this store's schema.")
    values: dict[str, Any] = {}
    for c, v in row.items():
        if isinstance(v, dict):
            if set(v) != {"$b64"}:
                raise BackupError(f"{where}: the value of {name}.{c} is not a scalar.")
            values[c] = _b64(v["$b64"], f"{where}: {name}.{c}")
        elif isinstance(v, list):
            raise BackupError(f"{where}: the value of {name}.{c} is not a scalar.")
        else:
            values[c] = v
    return name, values


@dataclass
class Plan:
    """What the first pass found: the file's header and trailer, and what its lines add up to."""

    header: dict[str, Any]
    end: dict[str, Any]
    sha256: str
    events: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    chain_head: str | None = None


def inspect(src: Path, columns: dict[str, set[str]] | None, decode: Callable[[StoredEvent], Any] | None = None) -> Plan:
    """The first pass: every line decoded and checked, the chain recomputed over the events, nothing written.
    `decode` (the target's mapper) must read every event, so the read models can be rebuilt from them."""
    digest, header, end = hashlib.sha256(), None, None
    events, last, running = 0, 0, GENESIS
    hashes = suite(None)
    undecodable: str | None = None  # reported after the checksum: a damaged file is named damaged first
    rows: dict[str, int] = {}
    for number, raw, obj in lines(src):
        where = f"{src}: line {number}"
        if end is not None:
            raise BackupError(f"{src}: lines follow the trailer.")
        if header is None:
            if not isinstance(obj, dict) or obj.get("civic_ledger_backup") != FORMAT_VERSION:
                raise BackupError(f"{src} is not a civic-ledger backup of format {FORMAT_VERSION}.")
            if obj.get("kind") not in ("full", "events") or not _int(obj.get("position"), 0):
                raise BackupError(f"{where}: the header has no valid kind and position.")
            try:
                hashes = suite(obj.get("crypto_profile"))
            except VerificationError as e:
                raise BackupError(f"{where}: {e}") from None
            header = obj
        elif not isinstance(obj, dict):
            raise BackupError(f"{where} is not a JSON object.")
        elif "end" in obj:
            end = obj["end"]
            if set(obj) != {"end"} or not isinstance(end, dict):
                raise BackupError(f"{where}: the trailer is malformed.")
            continue
        elif "e" in obj:
            p, oid, version, topic, state = event_line(obj, where)
            if p <= last or p > header["position"]:
                raise BackupError(f"{where}: position {p} is out of order or past the header's {header['position']}.")
            running = hashes.chain_hash(running, canonical_bytes(p, oid, version, topic, state))
            if decode is not None and undecodable is None:
                try:
                    decode(StoredEvent(originator_id=oid, originator_version=version, topic=topic, state=state))
                except Exception as e:  # noqa: BLE001 - whatever the mapper, topic or cipher says, as one line
                    undecodable = (f"{where}: the event at position {p} does not decode in this store (a cipher key "
                                   f"or a version of civic-ledger it needs?): {type(e).__name__}: {one_line(e)[:200]}")
            last, events = p, events + 1
        elif "t" in obj:
            if header["kind"] != "full":
                raise BackupError(f"{where}: an export of events holds no table rows.")
            name, _ = row_line(obj, where, columns)
            rows[name] = rows.get(name, 0) + 1
        else:
            raise BackupError(f"{where} is neither an event, a table row nor the trailer.")
        digest.update(raw)
    if header is None or end is None:
        raise BackupError(f"{src} ends before its trailer: the file is incomplete.")
    plan = Plan(header=header, end=end, sha256=digest.hexdigest(), events=events, rows=rows,
                 chain_head=running.hex() if events else None)
    if plan.sha256 != end.get("sha256"):
        raise BackupError(f"{src} does not match its checksum: the file was altered or damaged.")
    if events != end.get("events") or {k: v for k, v in rows.items() if v} != {
            k: v for k, v in (end.get("rows") or {}).items() if v}:
        raise BackupError(f"{src} holds {events} events and rows {rows}; its trailer says {end.get('events')} and "
                          f"{end.get('rows')}.")
    if events and last != header["position"]:
        raise BackupError(f"{src} ends at position {last}; its header says {header['position']}.")
    if plan.chain_head != end.get("chain_head"):
        raise BackupError(f"The events of {src} hash to the chain head {plan.chain_head}, the trailer's is "
                          f"{end.get('chain_head')}: events were altered after they were chained.")
    if undecodable is not None:
        raise BackupError(undecodable)
    return plan


def check(src: Path) -> dict[str, Any]:
    """Reads the whole file once: its header, and its trailer checked against the lines before it."""
    plan = inspect(src, None)
    return {**plan.header, **plan.end}


def signature_problem(plan: Plan, trusted: Any | None) -> str | None:
    """Why the file's signature does not vouch for it, or None when it verifies with the trusted key."""
    sig = plan.end.get("signature")
    if not sig:
        return "the backup is not signed"
    if trusted is None:
        return "no trusted public key to check its signature (configure the signing key or pass --public-key)"
    wanted = ALGORITHMS[profile_of_key(trusted)]
    if not isinstance(sig, dict) or sig.get("algorithm") != wanted:
        return f"its signature is not an {wanted} signature like the trusted key's"
    if sig.get("key_id") != key_id(trusted):
        return f"it is signed by key {str(sig.get('key_id'))[:32]}, not by the trusted key {key_id(trusted)}"
    try:
        value = base64.b64decode(str(sig.get("value")), validate=True)
        if not verify_signature(trusted, value, signed_message(plan.sha256, plan.events, plan.chain_head)):
            raise ValueError("bad signature")
    except (binascii.Error, ValueError):
        return f"its signature does not verify with the trusted key {key_id(trusted)}"
    return None
