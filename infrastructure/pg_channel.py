"""PostgreSQL's notification channel, for the processes that share one database.

The library already sends a bare NOTIFY on the events table's channel with every saved batch of
events; civic-ledger sends its own messages on the same channel, with a payload:

- `v <view> <position>`: a page of a read model was committed up to that position;
- `c`: callers changed (a token revoked, an organization's roles or authorisations changed).

Each process holds one dedicated listening connection (`Listener`), never a pooled one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from infrastructure.config import Settings

log = logging.getLogger(__name__)

VIEW, CALLERS = "v", "c"


def conninfo(settings: Settings, application_name: str, *, user_timeout_ms: int = 4000) -> dict[str, Any]:
    """Connection parameters for a dedicated connection (not from the pool), with keepalives so a
    peer that vanished without closing its socket is noticed within seconds on both sides: the
    server ends the session after about 4 s of silence, the client gives up on an unanswered
    request after `user_timeout_ms`."""
    env = settings.persistence_env()
    return {
        "dbname": env["POSTGRES_DBNAME"], "host": env["POSTGRES_HOST"], "port": int(env["POSTGRES_PORT"]),
        "user": env["POSTGRES_USER"], "password": env["POSTGRES_PASSWORD"] or None,
        "application_name": application_name[:63], "autocommit": True, "connect_timeout": 5,
        "keepalives": 1, "keepalives_idle": 2, "keepalives_interval": 1, "keepalives_count": 2,
        "tcp_user_timeout": user_timeout_ms,
        # The server drops the session (and any advisory lock it holds) when the client stops answering.
        "options": "-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2",
    }


def schema_of(settings: Settings) -> str:
    return settings.persistence_env().get("POSTGRES_SCHEMA", "public")


def process_name(purpose: str, role: str) -> str:
    """How a process's dedicated connection names itself to PostgreSQL (pg_stat_activity.application_name):
    `civic-ledger:<purpose>:<role>:<host>:<pid>`, e.g. `civic-ledger:election:worker:node-2:4711`."""
    return f"civic-ledger:{purpose}:{role}:{socket.gethostname()}:{os.getpid()}"


def parse_process_name(name: str | None) -> dict[str, Any] | None:
    parts = (name or "").split(":")
    if len(parts) != 5 or parts[0] != "civic-ledger" or not parts[4].isdigit():
        return None
    return {"role": parts[2], "host": parts[3], "pid": int(parts[4])}


def notify(tx: Any, channel: str, payload: str) -> None:
    """Sends a message on the channel within the transaction `tx` (delivered when it commits)."""
    tx.execute("SELECT pg_notify(?, ?)", (channel, payload))


class Listener:
    """The process's listening connection; reconnects by itself. Handlers run on its thread."""

    def __init__(self, settings: Settings, channel: str, *, role: str = "listener",
                 on_event: Callable[[], None] = lambda: None,
                 on_view: Callable[[str, int], None] = lambda name, position: None,
                 on_callers: Callable[[], None] = lambda: None,
                 on_connected: Callable[[], None] = lambda: None,
                 on_disconnected: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.channel = channel
        self.role = role
        self.on_event, self.on_view, self.on_callers, self.on_connected = on_event, on_view, on_callers, on_connected
        self.on_disconnected = on_disconnected
        self.received = 0
        self.reconnects = 0
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self, wait: float = 5.0) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)
        self._thread.start()
        self._connected.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel_safe(timeout=1)
            except Exception:
                log.debug("listener: cancel failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(**conninfo(self.settings, process_name("listen", self.role))) as conn:
                    self._conn = conn
                    conn.execute(f'LISTEN "{self.channel}"')
                    self._connected.set()
                    self.on_connected()  # what was missed while disconnected is re-read now
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=1.0):
                            self._dispatch(n.payload)
                            if self._stop.is_set():
                                break
                        if not self._stop.is_set():
                            conn.execute("SELECT 1")  # a dead server is found within a second
            except Exception:
                if not self._stop.is_set():
                    log.warning("listener connection lost; reconnecting", exc_info=True)
            finally:
                was_connected = self._connected.is_set()
                self._connected.clear()
                self._conn = None
                if was_connected:
                    try:
                        self.on_disconnected()  # those relying on the channel fall back to polling
                    except Exception:
                        log.exception("listener: disconnect handler failed")
            if not self._stop.is_set():
                self.reconnects += 1
                self._stop.wait(0.5)

    def _dispatch(self, payload: str) -> None:
        self.received += 1
        try:
            if not payload:
                self.on_event()
            elif payload == CALLERS:
                self.on_callers()
            elif payload.startswith(VIEW + " "):
                _, name, position = payload.split(" ")
                self.on_view(name, int(position))
        except Exception:
            log.exception("listener: handler failed for %r", payload)
