"""Real civic-ledger processes for the multi-process tests: `serve` and `worker` as subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
"""The tree under test: subprocesses import this tree, not an installed copy."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(every)


class Proc:
    """One `python -m api.cli ...` process with its own log file; restartable."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path, port: int | None = None) -> None:
        self.name, self.args, self.cwd, self.port = name, args, cwd, port
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.log = cwd / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> Proc:
        args = [*self.args, *(("--port", str(self.port)) if self.port else ())]
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen([sys.executable, "-m", "api.cli", *args], env=self.env, cwd=self.cwd,
                                          stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout: float = 30.0) -> Proc:
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            return self.healthy()
        wait_until(ready, timeout, every=0.1)
        return self

    def kill9(self) -> None:
        if self.popen is not None and self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def lock_holder_pid(url: str) -> int | None:
    """The pid (from its application_name) of the process holding the background worker's lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = 17228 AND l.objsubid = 2 AND l.granted "
            "AND a.application_name LIKE 'civic-ledger:election:%' "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()
    if row is None:
        return None
    return int(row[0].rsplit(":", 1)[1])
