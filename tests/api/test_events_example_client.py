"""The example client in examples/ follows the stream, stops, and resumes from its saved position."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import register

CLIENT = Path(__file__).resolve().parents[2] / "examples" / "follow_events.py"


def run_client(server, token: str, state: Path, out: Path, n: int) -> None:
    subprocess.run([sys.executable, str(CLIENT), "--url", server.url, "--token", token, "--state", str(state),
                    "--out", str(out), "--max-events", str(n)], check=True, timeout=60)


def test_example_client_resumes_after_a_restart_without_loss_or_repeats(runtime, server, admin, admin_token,
                                                                         tmp_path):
    for i in range(4):
        register(runtime, admin, f"div-{i}")
    state, out = tmp_path / "position", tmp_path / "events.jsonl"
    run_client(server, admin_token, state, out, 5)
    assert int(state.read_text()) == 5
    register(runtime, admin, "div-after-restart")
    remaining = runtime.ledger.max_position() - 5
    run_client(server, admin_token, state, out, remaining)
    positions = [json.loads(line)["ledgerposition"] for line in out.read_text().splitlines()]
    assert positions == list(range(1, runtime.ledger.max_position() + 1))
