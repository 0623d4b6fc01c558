"""Which process runs the background duties: exactly one at a time, chosen through PostgreSQL.

A candidate takes a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its
own. PostgreSQL releases the lock when that session ends — the process exited, was killed, or its
connection died (server-side TCP keepalives end a session whose client vanished) — and a standby,
retrying every `retry_seconds`, takes it over. The leader checks twice a second that its session
still holds the lock; when the check fails it is deposed at once, before it reconnects.

SQLite has one process: `AlwaysLeader` elects it at once.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import psycopg

from infrastructure.config import Settings
from infrastructure.pg_channel import conninfo, parse_process_name, process_name, schema_of

log = logging.getLogger(__name__)

#: The advisory lock's first key ("CL"); the second is derived from the ledger's schema, so two
#: ledgers in two schemas of one database elect their workers apart.
LOCK_CLASS = 0x434C
_HOLDS = ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
          "AND classid = %s AND objid = %s AND objsubid = 2 AND granted)")
_ACTIVE = ("SELECT a.pid AS backend_pid, a.application_name, a.backend_start FROM pg_locks l "
           "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = %s "
           "AND l.objid = %s AND l.objsubid = 2 AND l.granted "
           # pg_locks lists every database's locks: only this database's election counts
           "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
_CANDIDATES = "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name LIKE %s AND datname = current_database()"


def lock_key(settings: Settings) -> tuple[int, int]:
    return LOCK_CLASS, zlib.crc32(schema_of(settings).encode()) & 0x7FFFFFFF


class Election:
    """What the duties ask of an election."""

    kind = "none"
    elected_at: float | None = None
    terms = 0

    @property
    def is_leader(self) -> bool:
        raise NotImplementedError

    def start(self, on_elected: Callable[[], None], on_deposed: Callable[[], None]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def settled(self, timeout: float) -> bool:
        """Waits until the first campaign has been decided (won or lost); true when it has."""
        return True


class AlwaysLeader(Election):
    """The embedded store's single process: leader from the start."""

    kind = "single-process"

    def __init__(self) -> None:
        self._leader = False
        self._on_deposed: Callable[[], None] | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader

    def start(self, on_elected: Callable[[], None], on_deposed: Callable[[], None]) -> None:
        if self._leader:
            return
        self._leader, self._on_deposed = True, on_deposed
        self.elected_at, self.terms = time.time(), self.terms + 1
        on_elected()

    def stop(self) -> None:
        if self._leader and self._on_deposed is not None:
            self._leader = False
            self._on_deposed()


class AdvisoryLockElection(Election):
    kind = "postgres-advisory-lock"

    def __init__(self, settings: Settings, role: str, *, retry_seconds: float = 1.0,
                 check_seconds: float = 0.5) -> None:
        self.settings = settings
        self.role = role
        self.key = lock_key(settings)
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        self._leader = threading.Event()
        self._decided = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self.lost = 0
        """Terms that ended because the lock's connection failed (not by stopping)."""

    @property
    def is_leader(self) -> bool:
        return self._leader.is_set()

    def start(self, on_elected: Callable[[], None], on_deposed: Callable[[], None]) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(on_elected, on_deposed), name="election",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def settled(self, timeout: float) -> bool:
        return self._decided.wait(timeout)

    def _run(self, on_elected: Callable[[], None], on_deposed: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(**conninfo(self.settings, process_name("election", self.role),
                                                 user_timeout_ms=1500)) as conn:
                    self._conn = conn
                    self._campaign(conn, on_elected, on_deposed)
                    if self.is_leader:  # stopping: hand the lock over at once instead of at disconnect
                        self._depose(on_deposed)
                        conn.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
            except Exception:
                if self.is_leader:
                    self.lost += 1
                    log.error("election: the lock's connection failed; background duties stop now")
                elif not self._stop.is_set():
                    log.warning("election: cannot reach the database; retrying", exc_info=True)
            finally:
                self._conn = None
                self._depose(on_deposed)
            self._stop.wait(self.retry_seconds)

    def _campaign(self, conn: psycopg.Connection[Any], on_elected: Callable[[], None],
                  on_deposed: Callable[[], None]) -> None:
        while not self._stop.is_set():
            if not self.is_leader:
                row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key).fetchone()
                if row is not None and row[0]:
                    self._leader.set()
                    self.elected_at, self.terms = time.time(), self.terms + 1
                    log.info("election: this process is the active background worker")
                    on_elected()
                    self._decided.set()
                    continue
                self._decided.set()
                self._stop.wait(self.retry_seconds)
                continue
            if self._stop.wait(self.check_seconds):
                return
            row = conn.execute(_HOLDS, self.key).fetchone()
            if row is None or not row[0]:
                log.error("election: the lock is no longer held; background duties stop now")
                self.lost += 1
                self._depose(on_deposed)

    def _depose(self, on_deposed: Callable[[], None]) -> None:
        if self.is_leader:
            self._leader.clear()
            self.elected_at = None
            try:
                on_deposed()
            except Exception:
                log.exception("election: stopping the duties failed")


def active_worker(db: Any, settings: Settings) -> dict[str, Any] | None:
    """The process holding the lock, as PostgreSQL sees it (pg_locks), or None when no worker is active."""
    row = db.query_one(_ACTIVE.replace("%s", "?"), lock_key(settings))
    if row is None:
        return None
    named = parse_process_name(row["application_name"]) or {}
    return {**named, "backend_pid": row["backend_pid"], "since": row["backend_start"].isoformat()}


def candidates(db: Any) -> int:
    """Sessions of civic-ledger processes that take part in the election (leader and standbys)."""
    return int(db.scalar(_CANDIDATES.replace("%s", "?"), ("civic-ledger:election:%",)) or 0)
