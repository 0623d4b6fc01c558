"""schemathesis over the whole served OpenAPI document, against a live server on each store, with an
Office token and with a department's: no answer is a 5xx, every answer's status is one the document
declares for its operation and its body matches the declared schema (decision 0016), and afterwards
every view has caught up.

Bounded in time by CIVIC_LEDGER_FUZZ_SECONDS (per store, shared by the two tokens; 120 by default,
0 skips); see docs/decisions/0009-edge-contract.md for a longer local run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.test_catalog_api import org, token
from tests.api.test_edge_contract import assert_every_view_caught_up

SECONDS = int(os.environ.get("CIVIC_LEDGER_FUZZ_SECONDS", "120"))
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


def _fuzz(server, bearer: str, seconds: int, report: Path) -> subprocess.CompletedProcess[str]:
    command = [str(SCHEMATHESIS), "run", f"{server.url}/schema/openapi.json",
               "--header", f"Authorization: Bearer {bearer}",
               "--checks", CHECKS, "--max-time", str(seconds), "--workers", "1",
               # the live stream never ends by itself; its parameters are fuzzed through /events
               "--exclude-path", "/events/stream",
               "--request-timeout", "30", "--suppress-health-check", "all",
               "--report", "junit", "--report-junit-path", str(report)]
    # run in the test's directory: schemathesis keeps a cache where it runs
    return subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300, cwd=report.parent,
                          env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"})


@pytest.mark.skipif(SECONDS <= 0, reason="CIVIC_LEDGER_FUZZ_SECONDS=0")
def test_no_generated_request_gets_a_server_error_or_an_undeclared_answer_and_every_view_catches_up(server, runtime, admin_token,
                                                                            tmp_path):
    assert SCHEMATHESIS.exists(), "schemathesis is a dev dependency: pip install -e '.[dev]'"
    office = server.client(admin_token)
    org(office, "div-fuzz")
    department = token(runtime, "div-fuzz", "模糊测试员", "catalog_compiler", "requester", "maintainer",
                       "system_manager", "integrator")
    failures = []
    for name, bearer in (("office", admin_token), ("department", department)):
        run = _fuzz(server, bearer, max(1, SECONDS // 2), tmp_path / f"{name}.xml")
        if run.returncode != 0:
            failures.append(f"--- {name} token (exit {run.returncode}) ---\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}")
    assert not failures, "\n".join(failures)
    # every view catches up with what the run recorded, and health says so
    assert_every_view_caught_up(server, runtime)
