"""The event stream on PostgreSQL is woken by the commit's notification, also from another process,
and falls back to polling the head while the notification channel is down.

Each test makes the path it does not test too slow to pass: with the channel up the head poll is set
to 60 s, so only the notification can deliver within the wait; with the channel down the safety
re-read is set to 60 s, so only the poll can."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.api.test_events_api import sse

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])


def follow(server, token: str, after: int, codes: list[str], done: threading.Event) -> None:
    with server.client(token) as c, c.stream("GET", "/events/stream", headers={"Last-Event-ID": str(after)}) as r:
        for msg in sse(r):
            if "data" in msg and msg["data"]["type"].endswith("organization.registered"):
                codes.append(msg["data"]["data"]["code"])
                if len(codes) == 3:
                    done.set()
                    return


def write_elsewhere(settings, prefix: str, n: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    other = subprocess.Popen([sys.executable, "-m", "tests.api.feed_writer", settings.database_url, prefix, str(n)],
                             cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "done"
        assert other.wait(timeout=30) == 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()


def stream_of_three(server, runtime, token: str, prefix: str, settings) -> tuple[list[str], float]:
    """Starts a stream at the head, lets another process commit three organizations, and returns what
    the stream delivered and how long after the writer finished it took."""
    hub = runtime.feeds.hub
    after = runtime.ledger.max_position()
    codes: list[str] = []
    done = threading.Event()
    reader = threading.Thread(target=follow, args=(server, token, after, codes, done), daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while not hub._waiters and time.monotonic() < deadline:  # the stream waits at the horizon
        time.sleep(0.01)
    write_elsewhere(settings, prefix, 3)
    t0 = time.monotonic()
    done.wait(20)
    return codes, time.monotonic() - t0


def test_a_commit_in_another_process_wakes_the_stream_through_the_notification(runtime, server, settings,
                                                                                admin_token):
    listener = runtime.listener
    assert listener is not None and listener.connected
    hub = runtime.feeds.hub
    hub.poll_seconds = 60.0
    hub.safety_seconds = 60.0
    runtime.feeds.heartbeat_seconds = 60.0
    wakes = hub.wakes
    codes, waited = stream_of_three(server, runtime, admin_token, "woken", settings)
    assert codes == ["woken-0", "woken-1", "woken-2"]
    assert waited < 10
    assert hub.wakes > wakes


def test_the_stream_polls_the_head_while_the_channel_is_down(runtime, server, settings, admin_token):
    listener = runtime.listener
    assert listener is not None
    hub = runtime.feeds.hub
    hub.safety_seconds = 60.0
    hub.poll_seconds = 0.05
    runtime.feeds.heartbeat_seconds = 60.0
    listener.stop()  # the channel is down: nothing announces the commits any more
    assert not listener.connected
    time.sleep(0.2)
    codes, waited = stream_of_three(server, runtime, admin_token, "polled", settings)
    assert codes == ["polled-0", "polled-1", "polled-2"]
    assert waited < 10
