"""Fixtures: every store-facing test runs on SQLite and on PostgreSQL (test ids name the backend)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from application.common import Principal
from bootstrap import Runtime
from infrastructure.config import Settings

PG_URL = os.environ.get("CIVIC_LEDGER_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("REQUIRE_POSTGRES") == "1"


class TestClock:
    """A clock the test moves by hand; thread-safe, always UTC."""

    __test__ = False

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self._now += timedelta(microseconds=1)
            return self._now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


def reset_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def database_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.sqlite3"
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("REQUIRE_POSTGRES=1 but CIVIC_LEDGER_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL: set CIVIC_LEDGER_TEST_POSTGRES_URL")
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url(backend, tmp_path))


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def runtime(settings: Settings, clock: TestClock) -> Iterator[Runtime]:
    rt = Runtime(settings, clock=clock)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def admin(runtime: Runtime) -> Principal:
    """The Office's first admin, registered by `init`."""
    runtime.init(admin="office-admin")
    return Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
