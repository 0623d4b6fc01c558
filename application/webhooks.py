"""Webhooks: an organization's endpoint receives the CloudEvents it may see, signed, in order, retried.

A subscription is configuration, not a fact of the regulation, so it lives in plain tables beside
the ledger. Its cursor is the last position delivered (or skipped as not wanted); the worker sends
one event at a time per subscription and advances the cursor only on a 2xx answer, so deliveries
are in order and at least once (a receiver de-duplicates on `webhook-id`). Failures back off
exponentially; after failing for the whole retry window the subscription is paused, and can be
resumed, from where it stopped or from any position (replay).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec

from application.common import ApplicationError, Forbidden, NotFound, Principal
from application.feeds import FeedService, Filter, Scope
from domain.organizations import Role
from infrastructure.store import Ledger

log = logging.getLogger(__name__)
_json = msgspec.json.Encoder()

DDL = (
    "CREATE TABLE IF NOT EXISTS webhook_subscriptions (id TEXT PRIMARY KEY, organization TEXT NOT NULL, "
    "sees_all INTEGER NOT NULL, url TEXT NOT NULL, types TEXT NOT NULL, secret TEXT NOT NULL, "
    "status TEXT NOT NULL, cursor BIGINT NOT NULL, failures INTEGER NOT NULL, first_failure_at DOUBLE PRECISION, "
    "next_attempt_at DOUBLE PRECISION NOT NULL, lease_until DOUBLE PRECISION NOT NULL, paused_reason TEXT, "
    "created_by TEXT NOT NULL, created_at TEXT NOT NULL, idempotency_key TEXT, generation INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_subscriptions_key ON webhook_subscriptions (organization, "
    "idempotency_key)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (subscription_id TEXT NOT NULL, seq BIGINT NOT NULL, "
    "position BIGINT NOT NULL, event_id TEXT NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL, "
    "status_code INTEGER, ok INTEGER NOT NULL, error TEXT, duration_ms DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (subscription_id, seq))",
)
_COLUMNS = "id, organization, sees_all, url, types, status, cursor, failures, paused_reason, created_at"


class Subscription(msgspec.Struct, frozen=True):
    id: str
    organization: str
    url: str
    types: list[str]
    status: str
    cursor: int
    failures: int
    paused_reason: str | None
    created_at: str
    secret: str | None = None
    """Returned once, when the subscription is created."""


class Delivery(msgspec.Struct, frozen=True):
    seq: int
    position: int
    event_id: str
    attempt: int
    at: str
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature: base64 HMAC-SHA256 over `id.timestamp.body`, keyed by the secret's bytes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float = 300.0) -> bool:
    """What a receiver checks: a `v1` signature matches and the timestamp is recent."""
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(ts), body).encode()
    return any(hmac.compare_digest(expected, s.encode()) for s in headers.get("webhook-signature", "").split())


class WebhookService:
    def __init__(self, ledger: Ledger, feeds: FeedService) -> None:
        self.ledger = ledger
        self.feeds = feeds
        self.base_delay = 5.0  # seconds before the first retry; doubles each failure
        self.max_delay = 3600.0
        self.retry_window = 86_400.0  # a subscription failing this long (and at least min_failures times) pauses
        self.min_failures = 3
        self.timeout = 10.0
        self.idle_seconds = 0.5
        self.lease_seconds = 120.0
        self.batch = 50
        self.clock: Callable[[], float] = time.time
        """The retry schedule's clock in seconds (back-off and the pause window); leases use the wall clock."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: set[str] = set()
        self._lock = threading.Lock()
        with ledger.db.write() as tx:
            for statement in DDL:
                tx.execute(statement)

    # -- the owner's side ------------------------------------------------------------------

    def register(self, p: Principal, *, url: str, types: list[str], after: int | None,
                 idempotency_key: str | None = None) -> Subscription:
        if not {Role.INTEGRATOR, Role.OFFICE_ADMIN} & set(p.roles):
            raise Forbidden("Registering a webhook needs the role integrator (or office_admin).")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApplicationError("A webhook URL is an absolute http or https URL.")
        f = self.feeds.check(Filter(types=tuple(types)))
        if idempotency_key:
            row = self.ledger.db.query_one(
                f"SELECT {_COLUMNS}, secret FROM webhook_subscriptions WHERE organization = ? AND idempotency_key = ?",
                (p.organization, idempotency_key))
            if row is not None:
                return msgspec.structs.replace(_sub(row), secret=row["secret"])
        start = self.feeds.refresh() if after is None else after
        sid, secret = str(uuid.uuid4()), "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        with self.ledger.db.write() as tx:
            tx.execute(
                "INSERT INTO webhook_subscriptions (id, organization, sees_all, url, types, secret, status, cursor, "
                "failures, first_failure_at, next_attempt_at, lease_until, paused_reason, created_by, created_at, "
                "idempotency_key, generation) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, 0, NULL, 0, 0, NULL, ?, ?, ?, 0)",
                (sid, p.organization, int(p.sees_everything), url, ",".join(f.types), secret, start, p.person,
                 datetime.now(UTC).isoformat(), idempotency_key))
        return msgspec.structs.replace(self.get(p, sid), secret=secret)

    def registered_under(self, p: Principal, idempotency_key: str) -> Subscription | None:
        """The subscription an earlier registration with this idempotency key made, secret included (a replay)."""
        row = self.ledger.db.query_one(
            f"SELECT {_COLUMNS}, secret FROM webhook_subscriptions WHERE organization = ? AND idempotency_key = ?",
            (p.organization, idempotency_key))
        return None if row is None else msgspec.structs.replace(_sub(row), secret=row["secret"])

    def _own(self, p: Principal, sid: str) -> dict[str, Any]:
        row = self.ledger.db.query_one(f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE id = ?", (sid,))
        if row is None or not (p.sees_everything or row["organization"] == p.organization):
            raise NotFound(f"No webhook {sid}.")
        return row

    def get(self, p: Principal, sid: str) -> Subscription:
        return _sub(self._own(p, sid))

    def subscriptions(self, p: Principal) -> list[Subscription]:
        if p.sees_everything:
            rows = self.ledger.db.query(f"SELECT {_COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id")
        else:
            rows = self.ledger.db.query(f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE organization = ? "
                                        "ORDER BY created_at, id", (p.organization,))
        return [_sub(r) for r in rows]

    def deliveries(self, p: Principal, sid: str, after: int = 0, limit: int = 100) -> list[Delivery]:
        self._own(p, sid)
        rows = self.ledger.db.query(
            "SELECT seq, position, event_id, attempt, at, ok, status_code, error, duration_ms FROM webhook_deliveries "
            "WHERE subscription_id = ? AND seq > ? ORDER BY seq LIMIT ?", (sid, after, max(1, min(limit, 500))))
        return [Delivery(**{**r, "ok": bool(r["ok"])}) for r in rows]

    def pause(self, p: Principal, sid: str) -> Subscription:
        self._own(p, sid)
        with self.ledger.db.write() as tx:
            tx.execute("UPDATE webhook_subscriptions SET status = 'paused', paused_reason = ?, "
                       "generation = generation + 1 WHERE id = ?",
                       (f"paused by {p.person}", sid))
        return self.get(p, sid)

    def resume(self, p: Principal, sid: str, after: int | None = None) -> Subscription:
        """Active again, retrying at once; with `after`, deliveries restart after that position (a replay)."""
        self._own(p, sid)
        if after is not None and after < 0:
            raise ApplicationError("after is a ledger position (0 or more).")
        with self.ledger.db.write() as tx:
            tx.execute("UPDATE webhook_subscriptions SET status = 'active', paused_reason = NULL, failures = 0, "
                       "first_failure_at = NULL, next_attempt_at = 0, cursor = COALESCE(?, cursor), "
                       "generation = generation + 1 WHERE id = ?",
                       (after, sid))
        return self.get(p, sid)

    def delete(self, p: Principal, sid: str) -> None:
        self._own(p, sid)
        with self.ledger.db.write() as tx:
            tx.execute("DELETE FROM webhook_deliveries WHERE subscription_id = ?", (sid,))
            tx.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (sid,))

    # -- the worker ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook")
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _run(self) -> None:
        horizon = 0
        while not self._stop.is_set():
            try:
                horizon = self.round()
            except Exception:  # the store is briefly unreachable: the next round retries
                log.exception("webhook round failed")
            if self._stop.is_set():
                return
            self.feeds.hub.wait_sync(horizon, self.idle_seconds)

    def round(self) -> int:
        """Starts a delivery run for every active subscription that is due and behind; returns the horizon."""
        now, due_at = time.time(), self.clock()
        if not self.ledger.db.scalar("SELECT COUNT(*) FROM webhook_subscriptions WHERE status = 'active'"):
            return self.feeds.hub.horizon
        horizon = self.feeds.refresh()
        due = self.ledger.db.query(
            "SELECT id FROM webhook_subscriptions WHERE status = 'active' AND next_attempt_at <= ? "
            "AND lease_until <= ? AND cursor < ?", (due_at, now, horizon))
        for row in due:
            with self._lock:
                if row["id"] in self._inflight or self._pool is None:
                    continue
                self._inflight.add(row["id"])
            self._pool.submit(self._deliver_guarded, row["id"], horizon)
        return horizon

    def _deliver_guarded(self, sid: str, horizon: int) -> None:
        try:
            self.deliver(sid, horizon)
        except Exception:
            log.exception("webhook %s: delivery run failed", sid)
        finally:
            with self._lock:
                self._inflight.discard(sid)

    def deliver(self, sid: str, horizon: int) -> None:
        """Sends the subscription's pending events in order until it is caught up or an attempt fails."""
        now = time.time()
        with self.ledger.db.write() as tx:  # a lease, so two server processes never send the same subscription
            tx.execute("UPDATE webhook_subscriptions SET lease_until = ? WHERE id = ? AND status = 'active' "
                       "AND lease_until <= ?", (now + self.lease_seconds, sid, now))
            if tx.raw.rowcount != 1:
                return
        try:
            self._send_pending(sid, horizon)
        finally:
            with self.ledger.db.write() as tx:
                tx.execute("UPDATE webhook_subscriptions SET lease_until = 0 WHERE id = ?", (sid,))

    def _send_pending(self, sid: str, horizon: int) -> None:
        row = self.ledger.db.query_one("SELECT * FROM webhook_subscriptions WHERE id = ?", (sid,))
        if row is None:
            return
        scope = Scope(None if row["sees_all"] else row["organization"])
        f = Filter(types=tuple(t for t in row["types"].split(",") if t))
        cursor, failures = int(row["cursor"]), int(row["failures"])
        # The start of the current failure streak: a success in this run ends the stored one.
        streak: float | None = row["first_failure_at"] if failures else None
        while not self._stop.is_set():
            page = self.feeds.page(scope, cursor, self.batch, f, horizon)
            for ce in page.events:
                ok = self._attempt(row, ce, failures + 1)
                if not ok:
                    self._failed(row, failures + 1, streak)
                    return
                cursor, failures, streak = int(ce["ledgerposition"]), 0, None
                if not self._advance(row, cursor):
                    return
            if page.next > cursor:
                cursor = page.next
                if not self._advance(row, cursor):
                    return
            if len(page.events) < self.batch:
                return

    def _advance(self, row: dict[str, Any], cursor: int) -> bool:
        """Moves the cursor unless the owner paused, resumed or replayed meanwhile (then this run stops)."""
        with self.ledger.db.write() as tx:
            tx.execute("UPDATE webhook_subscriptions SET cursor = ?, failures = 0, first_failure_at = NULL, "
                       "lease_until = ? WHERE id = ? AND generation = ?",
                       (cursor, time.time() + self.lease_seconds, row["id"], row["generation"]))
            return bool(tx.raw.rowcount == 1)

    def _failed(self, row: dict[str, Any], failures: int, streak: float | None) -> None:
        """Records a failed attempt; `streak` is when the current run of consecutive failures began (None: now)."""
        now = self.clock()
        first = now if streak is None else float(streak)
        delay = min(self.base_delay * 2 ** (failures - 1), self.max_delay)
        pause = failures >= self.min_failures and now - first >= self.retry_window
        with self.ledger.db.write() as tx:
            tx.execute(
                "UPDATE webhook_subscriptions SET failures = ?, first_failure_at = ?, next_attempt_at = ?, "
                "status = ?, paused_reason = ? WHERE id = ? AND generation = ?",
                (failures, first, now + delay, "paused" if pause else "active",
                 f"failing since {datetime.fromtimestamp(first, UTC).isoformat()} ({failures} attempts)"
                 if pause else None, row["id"], row["generation"]))

    def _attempt(self, row: dict[str, Any], ce: dict[str, Any], attempt: int) -> bool:
        body = _json.encode(ce)
        ts = int(time.time())
        headers = {"content-type": "application/cloudevents+json", "webhook-id": ce["id"],
                   "webhook-timestamp": str(ts), "webhook-signature": sign(row["secret"], ce["id"], ts, body),
                   "user-agent": "civic-ledger-webhooks/1"}
        started = time.perf_counter()
        status, error = None, None
        try:
            status = post(row["url"], body, headers, self.timeout)
        except (OSError, http.client.HTTPException) as e:
            error = f"{type(e).__name__}: {e}"[:500]
        ok = status is not None and 200 <= status < 300
        if status is not None and not ok:
            error = f"HTTP {status}"
        with self.ledger.db.write() as tx:
            seq = int(tx.scalar("SELECT COALESCE(MAX(seq), 0) FROM webhook_deliveries WHERE subscription_id = ?",
                                (row["id"],))) + 1
            tx.execute("INSERT INTO webhook_deliveries (subscription_id, seq, position, event_id, attempt, at, "
                       "status_code, ok, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (row["id"], seq, ce["ledgerposition"], ce["id"], attempt, datetime.now(UTC).isoformat(),
                        status, int(ok), error, round((time.perf_counter() - started) * 1000, 2)))
        return ok


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """One POST without following redirects; returns the status code."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return int(response.status)
    finally:
        conn.close()


def _sub(row: dict[str, Any]) -> Subscription:
    return Subscription(id=row["id"], organization=row["organization"], url=row["url"],
                        types=[t for t in row["types"].split(",") if t], status=row["status"],
                        cursor=int(row["cursor"]), failures=int(row["failures"]),
                        paused_reason=row["paused_reason"], created_at=row["created_at"])
