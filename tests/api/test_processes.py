"""Several real processes on one PostgreSQL: the election of the background worker, API processes
without duties, and changes made through one process seen by the others."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from bootstrap import Runtime
from infrastructure.config import Settings
from tests.conftest import database_url
from tests.processes import ROOT, Proc, free_port, lock_holder_pid, wait_until
from tests.support import cmd


@pytest.fixture
def pg(tmp_path) -> Settings:
    return Settings(database_url=database_url("postgres", tmp_path))


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {"CIVIC_LEDGER_DATABASE_URL": settings.database_url, "CIVIC_LEDGER_AUTH_CACHE_SECONDS": "30", **extra}


def _init(settings: Settings, tmp_path) -> str:
    done = subprocess.run([sys.executable, "-m", "api.cli", "init"], env={**_env(settings), "PYTHONPATH": str(ROOT)},
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("args", [["serve", "--workers", "2"], ["serve", "--no-background"], ["worker"]])
def test_on_sqlite_more_processes_are_refused_with_the_reason(tmp_path, args):
    env = {"CIVIC_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.sqlite3", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "api.cli", *args, "--port", str(free_port())] if args[0] == "serve"
                          else [sys.executable, "-m", "api.cli", *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "PostgreSQL" in done.stderr and "one process" in done.stderr


@pytest.mark.postgres
def test_one_worker_is_active_and_a_standby_takes_over_a_kill_9_within_5_seconds(pg, tmp_path):
    _init(pg, tmp_path)
    workers = [Proc(f"worker{i}", ["worker"], _env(pg), tmp_path).start() for i in range(2)]
    rt = Runtime(pg)
    try:
        pids = {w.pid for w in workers}
        first = wait_until(lambda: lock_holder_pid(pg.database_url) in pids and lock_holder_pid(pg.database_url))
        active = next(w for w in workers if w.pid == first)
        standby = next(w for w in workers if w.pid != first)
        time.sleep(1.5)  # the standby has retried meanwhile and not taken the lock
        assert lock_holder_pid(pg.database_url) == first and standby.alive()

        active.kill9()
        killed = time.monotonic()
        wait_until(lambda: lock_holder_pid(pg.database_url) == standby.pid, timeout=10, every=0.05)
        assert time.monotonic() - killed < 5

        # The new active worker does the duties: the read models follow a write made elsewhere.
        admin = rt.principal(_token_of(rt))
        position = rt.organizations.register(admin, cmd(), code="div-a", name="A", kind="division",
                                             level="province", parent="office").position
        wait_until(lambda: all(rt.projector.position(v) >= position for v in rt.projector.views), timeout=10)
    finally:
        rt.close()
        for w in workers:
            w.stop()


def _token_of(rt: Runtime) -> str:
    return rt.init(admin="office-admin")[1]


@pytest.mark.postgres
def test_an_api_process_waits_for_the_worker_and_answers_503_while_there_is_none(pg, tmp_path):
    token = _init(pg, tmp_path)
    api = Proc("api", ["serve", "--no-background"], _env(pg, CIVIC_LEDGER_MIN_POSITION_WAIT_SECONDS="1"), tmp_path,
               port=free_port()).start()
    worker = Proc("worker", ["worker"], _env(pg), tmp_path)
    try:
        api.wait_healthy()
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            made = c.post("/organizations", json={"code": "div-a", "name": "A", "kind": "division",
                                                  "level": "province", "parent": "office"})
            assert made.status_code == 201
            position = made.headers["X-Ledger-Position"]
            behind = c.get("/organizations", headers={"X-Min-Position": position})
            assert behind.status_code == 503 and behind.headers["Retry-After"]
            assert "no background worker is active" in behind.json()["detail"]
            health = c.get("/health").json()
            assert health["background_worker"] is None and health["process"]["role"] == "serve"

            worker.start()
            listed = c.get("/organizations", headers={"X-Min-Position": position})
            while listed.status_code == 503:  # the worker was still starting when the wait ended
                listed = c.get("/organizations", headers={"X-Min-Position": position})
            assert listed.status_code == 200
            assert "div-a" in {o["code"] for o in listed.json()["items"]}
            health = c.get("/health").json()
            assert health["background_worker"]["pid"] == worker.pid
    finally:
        api.stop()
        worker.stop()


@pytest.mark.postgres
def test_a_role_removed_or_a_token_revoked_through_one_process_is_refused_by_another_within_1_second(pg, tmp_path):
    token = _init(pg, tmp_path)
    a, b = (Proc(n, ["serve", "--no-background"], _env(pg), tmp_path, port=free_port()).start() for n in "ab")
    worker = Proc("worker", ["worker"], _env(pg), tmp_path).start()
    try:
        a.wait_healthy(), b.wait_healthy()
        office = httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert office.post("/organizations", json={"code": "div-a", "name": "A", "kind": "division",
                                                   "level": "province", "parent": "office"}).status_code == 201
        made = office.post("/organizations/div-a/members", json={"person": "审计", "role": "auditor"})
        assert made.status_code == 200, made.text
        auditor = subprocess.run(
            [sys.executable, "-m", "api.cli", "token", "create", "--org", "div-a", "--person", "审计", "--role",
             "auditor"], env={**_env(pg), "PYTHONPATH": str(ROOT)}, cwd=tmp_path, capture_output=True, text=True,
            timeout=120, check=True).stdout.strip().splitlines()[-1]
        on_b = httpx.Client(base_url=b.url, headers={"Authorization": f"Bearer {auditor}"}, timeout=30)
        assert on_b.get("/metrics").status_code == 200  # B now holds the caller in its cache (30 s here)

        assert office.delete("/organizations/div-a/members/审计/roles/auditor").status_code == 200
        changed = time.monotonic()
        wait_until(lambda: on_b.get("/metrics").status_code == 403, timeout=5, every=0.02)
        assert time.monotonic() - changed < 1.0

        office_on_b = httpx.Client(base_url=b.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert office_on_b.get("/organizations").status_code == 200
        subprocess.run([sys.executable, "-m", "api.cli", "token", "revoke", token],
                       env={**_env(pg), "PYTHONPATH": str(ROOT)}, cwd=tmp_path, capture_output=True, timeout=120,
                       check=True)
        revoked = time.monotonic()
        wait_until(lambda: office_on_b.get("/organizations").status_code == 401, timeout=5, every=0.02)
        assert time.monotonic() - revoked < 1.0
    finally:
        for p in (a, b, worker):
            p.stop()


@pytest.mark.postgres
def test_serve_with_two_workers_answers_from_both_and_one_of_them_runs_the_duties(pg, tmp_path):
    _init(pg, tmp_path)
    served = Proc("serve2", ["serve", "--workers", "2"], _env(pg), tmp_path, port=free_port()).start()
    try:
        served.wait_healthy()
        seen: dict[int, dict] = {}

        def both_answered() -> bool:
            h = httpx.get(served.url + "/health", timeout=5).json()  # a new connection: either process answers
            seen[h["process"]["pid"]] = h
            return len(seen) == 2
        wait_until(both_answered, timeout=30, every=0.01)
        elected = {pid for pid, h in seen.items() if h["process"]["background"] == "elected"}
        holder = lock_holder_pid(pg.database_url)
        assert holder in seen and all(h["background_worker"]["pid"] == holder for h in seen.values())
        assert elected <= {holder}  # each process answered once; the elected one says so

        import os
        import signal
        os.kill(holder, signal.SIGKILL)
        killed = time.monotonic()
        # The other process (or the one started in place of the killed one) is elected within 5 s.
        taken = wait_until(lambda: lock_holder_pid(pg.database_url) not in (None, holder)
                           and lock_holder_pid(pg.database_url), timeout=10)
        assert time.monotonic() - killed < 5 and taken != holder
        fresh: set[int] = set()

        def respawned() -> bool:  # the server started a process in place of the killed one
            fresh.add(httpx.get(served.url + "/health", timeout=5).json()["process"]["pid"])
            return bool(fresh - set(seen))
        wait_until(respawned, timeout=30, every=0.01)
    finally:
        served.stop()
