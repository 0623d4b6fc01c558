"""The feeds over HTTP: cursor pages, the live SSE stream under concurrent writers, resumption, heartbeats."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx

from tests.support import Division, cmd, content, register


def sse(response: httpx.Response) -> Iterator[dict]:
    """Parses a Server-Sent Events body: yields {"id", "data"} for events and {"comment"} for comments."""
    fields: dict = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                yield {"id": fields.get("id"), "data": json.loads(fields["data"])}
            fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = fields[name] + "\n" + value if name == "data" and "data" in fields else value


def test_pages_are_scoped_by_the_token_and_filtered(runtime, server, admin_token, admin):
    register(runtime, admin, "div-a")
    register(runtime, admin, "div-b")
    token = runtime.issue_token(org="div-a", person="对接系统", roles=("integrator",))
    with server.client(token) as c:
        page = c.get("/events", params={"limit": 500}).json()
        codes = {e["data"]["code"] for e in page["events"] if e["type"].endswith("organization.registered")}
        assert codes == {"div-a"}
        assert page["next"] == page["horizon"]
        typed = c.get("/events", params={"type": "cn.gov.shaanxi.mz.organization.role_assigned"}).json()
        assert typed["events"] and {e["data"]["person"] for e in typed["events"]} == {"对接系统"}
        assert c.get("/events", params={"type": "bogus"}).status_code == 400
        assert c.get("/events").status_code == 200
    with server.client(admin_token) as c:
        everything = c.get("/events", params={"limit": 500}).json()
        assert len(everything["events"]) == runtime.ledger.max_position()
        two = c.get("/events", params={"limit": 2, "after": 1}).json()
        assert [e["ledgerposition"] for e in two["events"]] == [2, 3] and two["next"] == 3
    with server.client() as anonymous:
        assert anonymous.get("/events").status_code == 401


def test_type_catalogue_and_schemas(server, admin_token):
    with server.client(admin_token) as c:
        items = c.get("/events/types").json()["items"]
        names = {i["type"] for i in items}
        assert "cn.gov.shaanxi.mz.catalog.entry.published" in names
        schema = c.get("/events/types/cn.gov.shaanxi.mz.catalog.entry.published").json()
        assert {"content", "published_on", "actor"} <= set(schema["properties"])
        assert "originator_id" not in schema["properties"]
        assert c.get("/events/types/nope").status_code == 404


def test_stream_under_concurrent_writers_delivers_every_event_once_in_order(runtime, server, admin_token, admin):
    """Several writers commit while a reader follows the stream: it sees each committed event exactly once."""
    writers, per_writer = 4, 15
    seen: list[int] = []
    done = threading.Event()
    target: dict[str, int] = {}

    def read() -> None:
        with server.client(admin_token) as c, c.stream("GET", "/events/stream") as r:
            assert r.status_code == 200
            for msg in sse(r):
                if "data" in msg:
                    assert int(msg["id"]) == msg["data"]["ledgerposition"]
                    seen.append(int(msg["id"]))
                if "end" in target and seen and seen[-1] >= target["end"]:
                    done.set()
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def write(w: int) -> None:
        div = Division(runtime, admin, f"div-w{w}")
        for i in range(per_writer):
            runtime.catalog.draft(div.compiler, cmd(), resource_code=f"SX-W{w}-{i}", content=content())

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    target["end"] = runtime.ledger.max_position()
    assert done.wait(30), f"reader stopped at {seen[-1:]} of {target['end']}"
    stored = [int(r["position"]) for r in runtime.ledger.db.query(
        f"SELECT {runtime.ledger.position_column} AS position FROM {runtime.ledger.events_table} "
        f"ORDER BY {runtime.ledger.position_column}")]
    assert seen == stored


def test_stream_resumes_from_last_event_id_without_loss_or_duplicates(runtime, server, admin_token, admin):
    for i in range(6):
        register(runtime, admin, f"div-{i}")
    head = runtime.ledger.max_position()
    first: list[int] = []
    with server.client(admin_token) as c:
        with c.stream("GET", "/events/stream") as r:
            for msg in sse(r):
                if "data" in msg:
                    first.append(int(msg["id"]))
                    if len(first) == 5:
                        break
        register(runtime, admin, "div-late")
        rest: list[int] = []
        with c.stream("GET", "/events/stream", headers={"Last-Event-ID": str(first[-1])}) as r:
            for msg in sse(r):
                if "data" in msg:
                    rest.append(int(msg["id"]))
                    if rest[-1] == runtime.ledger.max_position():
                        break
    assert head > 5
    assert first + rest == list(range(1, runtime.ledger.max_position() + 1))


def test_stream_sends_heartbeats_while_idle_and_is_scoped(runtime, server, admin, admin_token):
    register(runtime, admin, "div-quiet")
    token = runtime.issue_token(org="div-quiet", person="对接系统", roles=("integrator",))
    runtime.feeds.heartbeat_seconds = 0.2
    beats, events = 0, []
    started = time.monotonic()
    with server.client(token) as c, c.stream("GET", "/events/stream") as r:
        for msg in sse(r):
            if msg.get("comment") == "heartbeat":
                beats += 1
                if beats == 1:
                    register(runtime, admin, "div-other")  # not the caller's: must not arrive
                if beats == 3:
                    break
            elif "data" in msg:
                events.append(msg["data"])
    assert time.monotonic() - started < 10
    assert events and all(e["subject"].startswith("organization/") for e in events)
    assert {e["data"].get("code") for e in events if e["type"].endswith("registered")} == {"div-quiet"}


def test_a_scoped_stream_gets_heartbeats_while_other_organizations_write_steadily(runtime, server, admin):
    """The horizon moves all the time, but nothing of it is the caller's: it must still hear from the server."""
    register(runtime, admin, "div-quiet")
    token = runtime.issue_token(org="div-quiet", person="对接系统", roles=("integrator",))
    runtime.feeds.heartbeat_seconds = 0.3
    stop, written = threading.Event(), []

    def write() -> None:
        while not stop.is_set():
            register(runtime, admin, f"div-busy-{len(written)}")
            written.append(time.monotonic())
            stop.wait(0.02)

    writer = threading.Thread(target=write, daemon=True)
    beats: list[float] = []
    try:
        # A read timeout well above the heartbeat: a silent stream fails the test instead of hanging it.
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                          timeout=httpx.Timeout(10, read=2)) as c, c.stream("GET", "/events/stream") as r:
            for msg in sse(r):
                if msg.get("comment") == "civic-ledger events":
                    writer.start()
                elif msg.get("comment") == "heartbeat":
                    beats.append(time.monotonic())
                    if len(beats) == 4:
                        break
                else:
                    assert msg["data"]["subject"].startswith("organization/")
                    assert msg["data"]["data"].get("code", "div-quiet") == "div-quiet"
    finally:
        stop.set()
        writer.join(timeout=10)
    during = [t for t in written if beats[0] <= t <= beats[-1]]
    assert len(during) >= 10, "the other organization was not writing steadily while the heartbeats came"
    assert max(b - a for a, b in zip(beats, beats[1:], strict=False)) < 0.3 + 1.0
