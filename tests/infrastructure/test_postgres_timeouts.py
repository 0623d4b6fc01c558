"""PostgreSQL sessions carry statement, lock and idle-in-transaction timeouts, so a stuck writer is cut off.

SQLite has one writer at a time in one process and none of these settings: these cases are PostgreSQL's.
"""

from __future__ import annotations

import threading
import time

import pytest
from eventsourcing.persistence import OperationalError

from application.runtime import Runtime
from infrastructure.config import Settings
from infrastructure.recorders import StoreBusy
from tests.support import register

BOUND = 30.0


@pytest.fixture
def pg_runtime(backend, settings, clock):
    if backend != "postgres":
        pytest.skip("statement, lock and idle-in-transaction timeouts are PostgreSQL session settings")
    rt = Runtime(Settings(database_url=settings.database_url, postgres_statement_timeout=2,
                          postgres_lock_timeout=1, postgres_idle_in_transaction_timeout=3), clock=clock)
    try:
        yield rt
    finally:
        rt.close()


def test_every_session_carries_the_configured_timeouts(pg_runtime):
    row = pg_runtime.ledger.db.query_one(
        "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, "
        "current_setting('idle_in_transaction_session_timeout') AS i")
    assert row == {"s": "2s", "l": "1s", "i": "3s"}
    with pytest.raises(OperationalError):  # QueryCanceled: the statement ran past statement_timeout
        pg_runtime.ledger.db.query("SELECT pg_sleep(10)")


def test_a_writer_stuck_in_its_transaction_is_cut_off_and_the_others_proceed(pg_runtime, admin):
    rt = pg_runtime
    rt.init(admin="office-admin")
    stuck, release, outcome = threading.Event(), threading.Event(), {}

    def stuck_writer() -> None:
        try:
            with rt.ledger.db.write() as tx:
                tx.execute(f"LOCK TABLE {rt.ledger.events_table} IN EXCLUSIVE MODE")
                stuck.set()
                release.wait(BOUND)  # a writer that stops between two statements, lock held
                tx.execute("SELECT 1")
        except Exception as e:  # the server ended its session
            outcome["error"] = e

    t = threading.Thread(target=stuck_writer, daemon=True)
    t.start()
    assert stuck.wait(BOUND)
    with pytest.raises(StoreBusy):  # the lock is held: a bounded wait, then a clear "busy", not a hang
        register(rt, admin, "div-first-try")
    deadline = time.monotonic() + BOUND
    while True:
        try:
            register(rt, admin, "div-a")
            break
        except StoreBusy:
            assert time.monotonic() < deadline, "the stuck writer was never cut off"
    release.set()
    t.join(BOUND)
    assert "error" in outcome  # its session was terminated by idle_in_transaction_session_timeout


def test_the_timeouts_come_from_the_environment_in_whole_seconds():
    s = Settings.from_env({"CIVIC_LEDGER_DATABASE_URL": "postgresql://u@h:5432/db",
                           "CIVIC_LEDGER_POSTGRES_STATEMENT_TIMEOUT": "7", "CIVIC_LEDGER_POSTGRES_LOCK_TIMEOUT": "0",
                           "CIVIC_LEDGER_POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT": "9"})
    assert (s.postgres_statement_timeout, s.postgres_lock_timeout, s.postgres_idle_in_transaction_timeout) == (7, 0, 9)
    env = s.persistence_env()
    assert env["POSTGRES_LOCK_TIMEOUT"] == "0" and env["POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"] == "9"
    assert env["CIVIC_LEDGER_PG_STATEMENT_TIMEOUT"] == "7"
    defaults = Settings.from_env({})
    assert (defaults.postgres_statement_timeout, defaults.postgres_lock_timeout,
            defaults.postgres_idle_in_transaction_timeout) == (30, 5, 5)
    with pytest.raises(ValueError, match="CIVIC_LEDGER_POSTGRES_LOCK_TIMEOUT"):
        Settings.from_env({"CIVIC_LEDGER_POSTGRES_LOCK_TIMEOUT": "1.5"})
