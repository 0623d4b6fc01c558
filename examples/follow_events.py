"""Follows civic-ledger's event stream and resumes after a restart from the position it saved.

Standard library only. Each CloudEvent is handed to `handle` (here: appended as one JSON line to a
file, or printed), then its ledger position is saved atomically; on start the client sends the
saved position as `Last-Event-ID`, so it continues exactly after the last event it handled. A crash
between handling and saving replays that one event: make `handle` idempotent (the event `id` is
stable) and delivery is effectively exactly once.

    CIVIC_LEDGER_TOKEN=... python examples/follow_events.py --url http://127.0.0.1:8000 \
        --state ./position --out ./events.jsonl --type cn.gov.shaanxi.mz.catalog.entry.published
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


def load_position(state: Path) -> int:
    try:
        return int(state.read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def save_position(state: Path, position: int) -> None:
    tmp = state.with_suffix(".tmp")
    tmp.write_text(str(position))
    os.replace(tmp, state)  # atomic: a crash leaves the old or the new position, never half of one


def messages(stream: Any) -> Iterator[dict[str, str]]:
    """Server-Sent Events parsing: fields until a blank line; comment lines (heartbeats) are skipped."""
    fields: dict[str, str] = {}
    for raw in stream:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if "data" in fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            fields[name] = fields[name] + "\n" + value if name in fields and name == "data" else value


def follow(url: str, token: str, state: Path, out: TextIO, types: list[str], max_events: int | None,
           idle_timeout: float = 60.0) -> int:
    """Reads the stream until `max_events` were handled (or forever), reconnecting after any failure."""
    handled, backoff = 0, 1.0
    while True:
        position = load_position(state)
        query = urllib.parse.urlencode([("type", t) for t in types])
        request = urllib.request.Request(
            f"{url.rstrip('/')}/events/stream" + (f"?{query}" if query else ""),
            headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream",
                     "Last-Event-ID": str(position)})
        try:
            # heartbeats arrive every 15 s: a silence longer than idle_timeout means a dead connection
            with urllib.request.urlopen(request, timeout=idle_timeout) as stream:
                backoff = 1.0
                for msg in messages(stream):
                    event = json.loads(msg["data"])
                    handle(event, out)
                    save_position(state, int(msg["id"]))
                    handled += 1
                    if max_events is not None and handled >= max_events:
                        return handled
        except urllib.error.HTTPError as e:
            if e.code in (400, 401, 403):
                raise SystemExit(f"the server refused the stream: {e.code} {e.read()[:300]!r}") from None
            print(f"stream failed ({e.code}); reconnecting in {backoff:.0f} s", file=sys.stderr)
        except (OSError, TimeoutError) as e:
            print(f"stream interrupted ({e}); reconnecting in {backoff:.0f} s", file=sys.stderr)
        time.sleep(backoff)
        backoff = min(backoff * 2, 60.0)


def handle(event: dict[str, Any], out: TextIO) -> None:
    """Your integration goes here; this one writes each event as a JSON line."""
    out.write(json.dumps(event, ensure_ascii=False) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=os.environ.get("CIVIC_LEDGER_URL", "http://127.0.0.1:8000"))
    ap.add_argument("--token", default=os.environ.get("CIVIC_LEDGER_TOKEN"))
    ap.add_argument("--state", type=Path, default=Path("civic-ledger.position"))
    ap.add_argument("--out", type=Path, help="append events here (JSON lines); stdout if absent")
    ap.add_argument("--type", action="append", default=[], help="event type to keep (repeatable)")
    ap.add_argument("--max-events", type=int, help="stop after this many events (for tests and batch runs)")
    args = ap.parse_args(argv)
    if not args.token:
        ap.error("a token is needed: --token or CIVIC_LEDGER_TOKEN")
    if args.out:
        with args.out.open("a", encoding="utf-8") as out:
            follow(args.url, args.token, args.state, out, args.type, args.max_events)
    else:
        follow(args.url, args.token, args.state, sys.stdout, args.type, args.max_events)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
