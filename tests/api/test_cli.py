"""The command line for real: init, token create and history as subprocesses on the test's store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

from bootstrap import Runtime
from infrastructure.config import Settings


def cli(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVIC_LEDGER_DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_init_and_token_create_print_working_tokens(settings, clock):
    first = cli(settings, "init")
    assert first.returncode == 0, first.stderr
    admin_token = first.stdout.strip().splitlines()[-1]
    assert admin_token.startswith("clt_")
    again = cli(settings, "init")
    assert again.returncode == 0 and "already registered" in again.stdout

    rt = Runtime(settings, clock=clock)
    try:
        office = rt.principal(admin_token)
        assert office is not None and office.is_office
        from tests.support import cmd

        rt.organizations.register(office, cmd(), code="div-relief", name="社会救助处", kind="division",
                                  level="province", parent="office")
    finally:
        rt.close()

    made = cli(settings, "token", "create", "--org", "div-relief", "--person", "王敏",
               "--role", "catalog_compiler", "--role", "requester")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    refused = cli(settings, "token", "create", "--org", "nowhere", "--person", "x", "--role", "requester")
    assert refused.returncode != 0 and "ORG-1" in refused.stderr

    rt = Runtime(settings, clock=clock)
    try:
        p = rt.principal(token)
        assert p is not None and p.organization == "div-relief"
        assert p.roles == frozenset({"catalog_compiler", "requester"})
        assert rt.principal(token + "x") is None
    finally:
        rt.close()
    history = cli(settings, "history", "organization", "div-relief")
    assert history.returncode == 0 and "RoleAssigned" in history.stdout and "ORG-1" in history.stdout


def test_state_at_prints_the_published_catalog_of_a_past_date(settings, clock):
    from api.cli import load_demo

    rt = Runtime(settings, clock=clock)
    try:
        load_demo(rt)
        rt.projector.catch_up_all()
        head = rt.now()
    finally:
        rt.close()
    out = cli(settings, "state", "--at", head.isoformat(), "--what", "catalog")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) >= 50 and all('"status": "published"' in x or '"status": "revising"' in x for x in lines)
    before = cli(settings, "state", "--at", "2000-01-01T00:00:00+08:00")
    assert '"position": 0' in before.stdout
    assert cli(settings, "state", "--at", "2025-01-01").returncode == 2


def test_backup_and_restore_commands(settings, tmp_path):
    assert cli(settings, "init").returncode == 0
    out = tmp_path / "backup.jsonl"
    made = cli(settings, "backup", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["events"] >= 2
    again = cli(settings, "backup", "--out", str(out))
    assert again.returncode == 2 and "never overwrites" in again.stderr
    assert json.loads(made.stdout)["signed_by"]
    elsewhere = Settings(database_url=f"sqlite:///{tmp_path}/elsewhere/restored.sqlite3")
    unknown = cli(elsewhere, "restore", str(out))  # the new store has no key of its own: which key to trust?
    assert unknown.returncode == 1 and "no trusted public key" in unknown.stderr
    pub = tmp_path / "ledger.pub"
    pub.write_text(cli(settings, "public-key").stdout)
    loaded = cli(elsewhere, "restore", str(out), "--public-key", str(pub))
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["chain_head"] == json.loads(made.stdout)["chain_head"]
    twice = cli(elsewhere, "import", str(out))
    assert twice.returncode == 1 and "empty store" in twice.stderr
    exported = cli(settings, "export", "--out", str(tmp_path / "events.jsonl"))
    assert exported.returncode == 0 and json.loads(exported.stdout)["kind"] == "events"


def test_token_list_and_revoke(settings):
    admin = cli(settings, "init").stdout.strip().splitlines()[-1]
    listed = [json.loads(line) for line in cli(settings, "token", "list").stdout.splitlines()]
    assert [(t["organization"], t["revoked_at"]) for t in listed] == [("office", None)]
    assert all(admin not in line for line in cli(settings, "token", "list").stdout.splitlines())
    other = cli(settings, "token", "create", "--org", "office", "--person", "审计员", "--role", "auditor")
    auditor = other.stdout.strip().splitlines()[-1]
    by_secret = cli(settings, "token", "revoke", auditor)
    assert by_secret.returncode == 0, by_secret.stderr
    by_id = cli(settings, "token", "revoke", listed[0]["token_id"])
    assert by_id.returncode == 0, by_id.stderr
    assert cli(settings, "token", "revoke", listed[0]["token_id"]).returncode == 2   # already revoked
    rt = Runtime(settings)
    try:
        assert rt.principal(admin) is None and rt.principal(auditor) is None
    finally:
        rt.close()
    assert all(t["revoked_at"] for t in map(json.loads, cli(settings, "token", "list").stdout.splitlines()))


def test_state_at_prints_grants_in_force_in_utc_and_the_systems_and_violations_then(settings, clock):
    import json

    from domain.compliance import Evidence, EvidenceKind
    from domain.organizations import Role
    from domain.sharing_values import RequestedEntry
    from domain.systems_values import ConstructionPlan
    from tests.support import Division, cmd, member, register

    rt = Runtime(settings, clock=clock)
    try:
        admin = rt.principal(rt.init(admin="office-admin")[1])
        provider = Division(rt, admin, "div-relief")
        eid = provider.publish("SX-1")
        register(rt, admin, "div-elder")
        requester = member(rt, admin, "div-elder", "周敏", Role.REQUESTER)
        r = rt.sharing.submit(requester, cmd(), scenario="internal_sharing", reason="核对", purpose="核对",
                              entries=(RequestedEntry(entry_id=eid, resource_code="", fields=("DB_NAME",)),),
                              valid_from=clock.now().date(), valid_to=date(2026, 3, 4), delivery_method="interface")
        rt.sharing.review(admin, cmd(), r.aggregate_id, decision="approve")
        rt.sharing.issue_order(admin, cmd(), r.aggregate_id)
        before = clock.now()
        clock.advance(hours=1)
        manager = member(rt, admin, "div-relief", "梁宇", Role.SYSTEM_MANAGER)
        rt.systems.propose(manager, cmd(), name="社会救助信息系统", plan=ConstructionPlan(title="t", summary="s",
                           document="d"), catalog=())
        rt.compliance.raise_violation(admin, cmd(), kind="VIO-5", subject="div-relief", summary="未按期报送目录",
                                      evidence=(Evidence(kind=EvidenceKind.EVENT, ref="x:1"),))
        rt.projector.catch_up_all()
    finally:
        rt.close()

    def lines(*args: str) -> list[dict]:
        out = cli(settings, "state", *args)
        assert out.returncode == 0, out.stderr
        return [json.loads(x) for x in out.stdout.strip().splitlines() if x]

    # the grant runs until 2026-03-04T23:59:59.999999+08:00, i.e. 15:59:59.999999 UTC
    assert len(lines("--at", "2026-03-04T23:30:00+08:00", "--what", "grants")) == 1
    assert lines("--at", "2026-03-05T00:30:00+08:00", "--what", "grants") == []
    [summary] = lines("--at", "2026-03-04T23:30:00+08:00")
    assert summary["grants"]["in_force"] == 1
    assert summary["systems"]["by_state"] == {"proposed": 1} and summary["violations"]["open"] == 1
    assert lines("--at", before.isoformat(), "--what", "systems") == []
    assert lines("--at", before.isoformat(), "--what", "violations") == []
    [system] = lines("--at", "2026-03-04T23:30:00+08:00", "--what", "systems")
    [violation] = lines("--at", "2026-03-04T23:30:00+08:00", "--what", "violations")
    assert (system["state"], violation["status"], violation["subject"]) == ("proposed", "confirmed", "div-relief")
