"""The access-log walk-through of docs/walkthrough-access-log.md (第二十二条, 第二十六条, 第三十八条).

On a fresh store loaded with the demo data set it starts a server, then, over HTTP only:
the exchange platform posts a day of traffic for the demo's grants (a few deliveries broken on
purpose), posts the first batch again (nothing is stored twice), a provider and a user each read
the log and see only the records that concern them (LOG-2), the compliance monitors raise a
candidate from a denied access (VIO-3), and the Office confirms it, issues a rectification notice,
takes the subject's report and accepts it.

    python examples/walkthrough_access_log.py        # CIVIC_LEDGER_PORT (default 8000) picks the port

Only the standard library is used on the client side; `civic-ledger` must be on PATH (or named by
CIVIC_LEDGER_CLI) for the server, the demo and the tokens.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

CLI = os.environ.get("CIVIC_LEDGER_CLI", "civic-ledger")
PORT = int(os.environ.get("CIVIC_LEDGER_PORT", "8000"))
API = f"http://127.0.0.1:{PORT}"


def cli(*args: str) -> str:
    """Runs the command line on the same store and returns its last line (a token, for `token create`)."""
    done = subprocess.run([CLI, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def token(org: str, person: str, *roles: str) -> str:
    return cli("token", "create", "--org", org, "--person", person, *[a for r in roles for a in ("--role", r)])


class Client:
    """A caller with a bearer token that reads its own writes (X-Ledger-Position → X-Min-Position)."""

    seen = "0"

    def __init__(self, bearer: str) -> None:
        self.bearer = bearer

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> tuple[int, Any]:
        url = f"{API}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.bearer}", "Content-Type": "application/json",
            "X-Min-Position": Client.seen})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, raw, headers = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, raw, headers = err.code, err.read(), err.headers
        if headers.get("X-Ledger-Position"):
            Client.seen = max(Client.seen, headers["X-Ledger-Position"], key=int)
        return status, json.loads(raw) if raw else None

    def get(self, path: str, **query: Any) -> Any:
        status, body = self.call("GET", path, **query)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: Any = None) -> Any:
        status, answer = self.call("POST", path, {} if body is None else body)
        assert status in (200, 201), (path, status, answer)
        return answer

    def every(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """All items of a paged list, following `next_cursor`."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(path, **query, limit=500, **({"cursor": cursor} if cursor else {}))
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def a_day_of_traffic(grants: list[dict[str, Any]], now: datetime, n: int = 3000) -> list[dict[str, Any]]:
    """What the platform delivered in the last 24 hours: mostly within the grants, one in fifty not."""
    rng = random.Random(38)
    holders = sorted({g["holder"] for g in grants})
    records = []
    for i in range(n):
        g = rng.choice(grants)
        fields = rng.sample(g["fields"], k=rng.randint(1, len(g["fields"])))
        holder, purpose, grant_id = g["holder"], g["purpose"], g["id"]
        if i % 150 == 7:
            purpose = "转交第三方核查"                    # not the approved purpose
        elif i % 150 == 57:
            fields.append("NOT_GRANTED_FIELD")            # a field the grant does not hold
        elif i % 150 == 107:
            holder, grant_id = rng.choice([h for h in holders if h != g["holder"]]), None  # no grant at all
        since = max(now - timedelta(days=1), datetime.fromisoformat(g["valid_from"]))
        at = since + timedelta(seconds=rng.uniform(0, max(1.0, (now - since).total_seconds() - 1)))
        records.append({"request_id": f"walk-{now:%Y%m%d}-{i:05}", "holder": holder, "provider": g["provider"],
                        "entry_id": g["entry_id"], "fields": fields, "purpose": purpose, "method": g["method"],
                        "record_count": rng.randint(1, 500), "accessed_at": at.isoformat(), "grant_id": grant_id})
    return records


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def main() -> int:
    if "CIVIC_LEDGER_DATABASE_URL" not in os.environ:
        os.environ["CIVIC_LEDGER_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/walkthrough-access-log.sqlite3"
    step("0. The demo data set, a server, and the people involved")
    cli("demo")
    server = subprocess.Popen([CLI, "serve", "--port", str(PORT)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{API}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        office = Client(token("office", "合规专员", "office_admin"))
        platform = Client(token("office", "交换平台", "platform"))
        grants = [g for g in office.every("/grants", status="active") if g["kind"] == "reusable"]
        print(f"{len(grants)} active reusable grants")

        step("1. The platform posts a day of traffic in batches of 1,000 (each record judged under USE-1)")
        now = datetime.now(UTC)
        records = a_day_of_traffic(grants, now)
        allowed = denied = 0
        for start in range(0, len(records), 1000):
            answer = platform.post("/access-logs", {"records": records[start:start + 1000]})
            allowed, denied = allowed + answer["allowed"], denied + answer["denied"]
        print(f"allowed {allowed}, denied {denied}")
        again = platform.post("/access-logs", {"records": records[:1000]})
        print(f"the first batch again: newly stored {again['allowed'] + again['denied']}, already logged {again['duplicates']}")

        step("2. A provider and a user each see only the records about them (LOG-2)")
        denied_record = next(r for r in records if r["purpose"] == "转交第三方核查")
        provider, user = denied_record["provider"], denied_record["holder"]
        for org, side in ((provider, "provider"), (user, "holder")):
            reader = Client(token(org, f"{org}-日志查看", "catalog_reviewer"))
            seen = reader.every("/access-logs", **{"from": (now - timedelta(days=2)).isoformat()})
            theirs = all(org in (r["provider"], r["holder"]) for r in seen)
            print(f"{side} {org}: {len(seen)} records, all about {org}: {theirs}")

        step("3. The monitors raise a candidate from the denied access (VIO-3, 第三十八条(三))")
        raised = json.loads(cli("monitor"))
        print(f"monitor raised {raised['raised']}: {raised['by_kind']}")
        # the monitor wrote from another process: read the board once the server's read models have its events
        with urllib.request.urlopen(f"{API}/health", timeout=10) as resp:
            Client.seen = str(json.loads(resp.read())["position"])
        case = next(v for v in office.every("/violations", status="candidate", kind="VIO-3")
                    if any(e["ref"] == denied_record["request_id"] for e in v["evidence"]))
        print(f"{case['kind']} against {case['subject']}, evidence {denied_record['request_id']}: {case['status']}")

        step("4. The Office confirms it and orders rectification; the subject reports; the Office accepts")
        vid = case["id"]
        print(office.post(f"/violations/{vid}/confirm", {"comment": "核实属实"})["status"])
        deadline = (now + timedelta(days=30)).isoformat()
        print(office.post(f"/violations/{vid}/notice", {"deadline": deadline, "requirements": "按批准用途使用共享数据"})["status"])
        subject = Client(token(case["subject"], f"{case['subject']}-整改负责人", "system_manager"))
        mine = subject.every("/violations")
        print(f"the subject sees its confirmed case: {vid in {v['id'] for v in mine}}")
        print(subject.post(f"/violations/{vid}/report", {"report": "已停止以其他用途调用，并完成内部整改"})["status"])
        print(office.post(f"/violations/{vid}/accept", {"comment": "整改到位"})["status"])
        print(f"open cases of {case['subject']} after acceptance: "
              f"{sum(1 for v in office.every('/violations', subject=case['subject'], open='true') if v['id'] == vid)}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
