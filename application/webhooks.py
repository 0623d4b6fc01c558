"""Webhooks: an organization's endpoint receives the CloudEvents it may see, signed, in order, retried.

A subscription is configuration, not a fact of the regulation, so it lives in plain tables beside
the ledger. Its cursor is the last position delivered (or skipped as not wanted); the worker sends
one event at a time per subscription and advances the cursor only on a 2xx answer, so deliveries
are in order and at least once (a receiver de-duplicates on `webhook-id`). Failures back off
exponentially with jitter (each delay drawn between half and all of the doubled one, so endpoints
that failed together do not retry together); a `Retry-After` on a 429 or 503 answer sets the delay
instead. After failing for the whole retry window the subscription is paused; an endpoint that
answers 410 Gone is disabled at once (status `disabled`, the reason recorded). Either can be
resumed, from where it stopped or from any position (replay).

Messages are signed with the `standardwebhooks` package (Standard Webhooks: `webhook-id`,
`webhook-timestamp`, `webhook-signature` = `v1,<base64 HMAC-SHA256>`), and sent with httpx
(infrastructure.webhook_http).

A delivery run holds a claim on its subscription (`lease_until`), so at most one attempt per
subscription is ever in flight, across processes. The claim is short and bounded by what is in
flight: before each attempt it is renewed to cover that attempt's whole time limit (`timeout`, which
a watchdog enforces) plus a margin, and once the attempt is over it is cut back to a few seconds. A
process that dies leaves a claim that lapses within one attempt's limit, so another (or the
restarted) process resumes promptly. Renewals compare-and-swap the exact value the run wrote, so a
run that lost its claim never sends again.

Every destination is checked against the egress policy (infrastructure.egress) when a subscription
is made and again at every attempt, and the connection goes to the address that was checked.
"""

from __future__ import annotations

import base64
import logging
import random
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
from standardwebhooks import Webhook

from application.common import NOBODY, ApplicationError, Forbidden, NotFound, Principal
from application.feeds import FeedScope, FeedService, Filter
from domain.organizations import Role
from infrastructure import side_tables, webhook_rows
from infrastructure.egress import EgressPolicy, EgressRefused
from infrastructure.store import Ledger
from infrastructure.webhook_http import TRANSPORT_ERRORS, Answer, WebhookClient

log = logging.getLogger(__name__)
_json = msgspec.json.Encoder()

DDL = side_tables.WEBHOOKS


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


def signed_headers(secret: str, msg_id: str, body: bytes, at: float) -> dict[str, str]:
    """The Standard Webhooks headers of one message, signed by the `standardwebhooks` package."""
    when = datetime.fromtimestamp(int(at), UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at)),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode("utf-8"))}


RETRY_AFTER_STATUSES = frozenset({429, 503})
"""Answers whose `Retry-After` sets the next attempt (Standard Webhooks: honour it)."""
GONE = 410
"""The endpoint is gone for good: the subscription is disabled instead of retried."""


def _org(p: Principal) -> str:
    """The organization whose subscriptions the caller manages; none once the person holds no role."""
    return p.organization if p.roles else NOBODY


class WebhookService:
    def __init__(self, ledger: Ledger, feeds: FeedService, egress: EgressPolicy | None = None) -> None:
        self.ledger = ledger
        self.feeds = feeds
        self.egress = egress or EgressPolicy()
        """Where deliveries may go: global addresses, plus what CIVIC_LEDGER_WEBHOOK_ALLOW_HOSTS allows."""
        self.base_delay = 5.0  # seconds before the first retry; doubles each failure
        self.max_delay = 3600.0
        self.jitter = 0.5
        """Each back-off delay is drawn between (1 - jitter) and all of the doubled delay."""
        self.max_retry_after = 86_400.0
        """The longest `Retry-After` honoured (a longer one waits this long)."""
        self.rng = random.Random()
        self.http = WebhookClient()
        self.retry_window = 86_400.0  # a subscription failing this long (and at least min_failures times) pauses
        self.min_failures = 3
        self.timeout = 10.0
        self.idle_seconds = 0.5
        self.claim_margin = 2.0
        """Seconds a claim outlasts an attempt's time limit (writing its record, clock skew between processes)."""
        self.between_seconds = 2.0
        """How long a claim is held between attempts (the run's own reads and writes)."""
        self.batch = 50
        self.clock: Callable[[], float] = time.time
        """The retry schedule's clock in seconds (back-off and the pause window); claims use the wall clock."""
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
        try:
            self.egress.check(parts.hostname, _port(url))
        except EgressRefused as refused:
            raise ApplicationError(f"The webhook URL is refused: {refused}.", field="url") from None
        except ValueError:  # a port that is not a number or out of range
            raise ApplicationError("A webhook URL is an absolute http or https URL.") from None
        f = self.feeds.check(Filter(types=tuple(types)))
        if idempotency_key:
            row = webhook_rows.registered_with_key(self.ledger.db, p.organization, idempotency_key)
            if row is not None:
                return msgspec.structs.replace(_sub(row), secret=row["secret"])
        start = self.feeds.refresh() if after is None else after
        sid, secret = str(uuid.uuid4()), "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        with self.ledger.db.write() as tx:
            webhook_rows.insert_subscription(
                tx, sid=sid, organization=p.organization, sees_all=int(p.sees_everything), url=url,
                types=",".join(f.types), secret=secret, cursor=start, created_by=p.person,
                created_at=datetime.now(UTC).isoformat(), idempotency_key=idempotency_key)
        return msgspec.structs.replace(self.get(p, sid), secret=secret)

    def registered_under(self, p: Principal, idempotency_key: str) -> Subscription | None:
        """The subscription an earlier registration with this idempotency key made, secret included (a replay)."""
        row = webhook_rows.registered_with_key(self.ledger.db, p.organization, idempotency_key)
        return None if row is None else msgspec.structs.replace(_sub(row), secret=row["secret"])

    def _own(self, p: Principal, sid: str) -> dict[str, Any]:
        row = webhook_rows.subscription(self.ledger.db, sid)
        if row is None or not (p.sees_everything or row["organization"] == _org(p)):
            raise NotFound(f"No webhook {sid}.")
        return row

    def get(self, p: Principal, sid: str) -> Subscription:
        return _sub(self._own(p, sid))

    def subscriptions(self, p: Principal) -> list[Subscription]:
        if p.sees_everything:
            rows = webhook_rows.subscriptions(self.ledger.db)
        else:
            rows = webhook_rows.subscriptions(self.ledger.db, _org(p))
        return [_sub(r) for r in rows]

    def deliveries(self, p: Principal, sid: str, after: int = 0, limit: int = 100) -> list[Delivery]:
        self._own(p, sid)
        rows = webhook_rows.deliveries(self.ledger.db, sid, after, max(1, min(limit, 500)))
        return [Delivery(**{**r, "ok": bool(r["ok"])}) for r in rows]

    def pause(self, p: Principal, sid: str) -> Subscription:
        self._own(p, sid)
        with self.ledger.db.write() as tx:
            webhook_rows.pause(tx, sid, f"paused by {p.person}")
        return self.get(p, sid)

    def resume(self, p: Principal, sid: str, after: int | None = None) -> Subscription:
        """Active again, retrying at once; with `after`, deliveries restart after that position (a replay)."""
        self._own(p, sid)
        if after is not None and after < 0:
            raise ApplicationError("after is a ledger position (0 or more).")
        with self.ledger.db.write() as tx:
            webhook_rows.resume(tx, sid, after)
        return self.get(p, sid)

    def delete(self, p: Principal, sid: str) -> None:
        self._own(p, sid)
        with self.ledger.db.write() as tx:
            webhook_rows.delete(tx, sid)

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
        if not webhook_rows.any_active(self.ledger.db):
            return self.feeds.hub.horizon
        horizon = self.feeds.refresh()
        due = webhook_rows.due(self.ledger.db, due_at, now, horizon)
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
        claim = _Claim(sid, _until(now + self.between_seconds))
        with self.ledger.db.write() as tx:  # a claim, so two server processes never send the same subscription
            if not webhook_rows.claim(tx, sid, claim.until, now):
                return
        try:
            self._send_pending(claim, horizon)
        finally:
            with self.ledger.db.write() as tx:  # only the claim this run holds; another may have taken it over
                webhook_rows.release(tx, sid, claim.until)

    def _hold(self, claim: _Claim, seconds: float) -> bool:
        """Moves the claim to `seconds` from now if this run still holds it (compare-and-swap on its value)."""
        until = _until(time.time() + seconds)
        with self.ledger.db.write() as tx:
            if not webhook_rows.extend_claim(tx, claim.sid, claim.until, until):
                return False
        claim.until = until
        return True

    def _send_pending(self, claim: _Claim, horizon: int) -> None:
        row = webhook_rows.subscription_in_full(self.ledger.db, claim.sid)
        if row is None:
            return
        scope = FeedScope(None if row["sees_all"] else row["organization"])
        f = Filter(types=tuple(t for t in row["types"].split(",") if t))
        cursor, failures = int(row["cursor"]), int(row["failures"])
        # The start of the current failure streak: a success in this run ends the stored one.
        streak: float | None = row["first_failure_at"] if failures else None
        while not self._stop.is_set():
            page = self.feeds.page(scope, cursor, self.batch, f, horizon)
            for ce in page.events:
                # the claim covers the whole attempt; a run that lost it sends nothing more
                if not self._hold(claim, self.timeout + self.claim_margin):
                    return
                answer = self._attempt(row, ce, failures + 1)
                if not self._hold(claim, self.between_seconds):
                    return
                if not _ok(answer):
                    self._failed(row, failures + 1, streak, answer)
                    return
                cursor, failures, streak = int(ce["ledgerposition"]), 0, None
                if not self._advance(row, cursor, claim):
                    return
            if page.next > cursor:
                cursor = page.next
                if not self._advance(row, cursor, claim):
                    return
            if len(page.events) < self.batch:
                return

    def _advance(self, row: dict[str, Any], cursor: int, claim: _Claim) -> bool:
        """Moves the cursor unless the owner paused, resumed or replayed meanwhile, or the claim was lost
        (then this run stops)."""
        until = _until(time.time() + self.between_seconds)
        with self.ledger.db.write() as tx:
            if not webhook_rows.advance(tx, row["id"], row["generation"], claim.until, cursor, until):
                return False
        claim.until = until
        return True

    def _failed(self, row: dict[str, Any], failures: int, streak: float | None, answer: Answer | None) -> None:
        """Records a failed attempt; `streak` is when the current run of consecutive failures began (None: now).

        410 disables the subscription; `Retry-After` on 429/503 sets the delay; else a jittered back-off."""
        now = self.clock()
        first = now if streak is None else float(streak)
        status, reason = "active", None
        if answer is not None and answer.status == GONE:
            status = "disabled"
            reason = f"disabled: the endpoint answered 410 Gone at {datetime.fromtimestamp(now, UTC).isoformat()}"
        elif failures >= self.min_failures and now - first >= self.retry_window:
            status = "paused"
            reason = f"failing since {datetime.fromtimestamp(first, UTC).isoformat()} ({failures} attempts)"
        with self.ledger.db.write() as tx:
            webhook_rows.record_failure(tx, row["id"], row["generation"], failures=failures, first_failure_at=first,
                                        next_attempt_at=now + self.delay(failures, answer), status=status,
                                        reason=reason)

    def delay(self, failures: int, answer: Answer | None) -> float:
        """Seconds before the next attempt: what the receiver asked for on 429/503, else the jittered back-off."""
        if answer is not None and answer.status in RETRY_AFTER_STATUSES and answer.retry_after is not None:
            return min(answer.retry_after, self.max_retry_after)
        full = min(self.base_delay * 2.0 ** min(failures - 1, 64), self.max_delay)  # capped: no float overflow
        return full * (1.0 - self.jitter * self.rng.random())

    def _attempt(self, row: dict[str, Any], ce: dict[str, Any], attempt: int) -> Answer | None:
        """One signed POST of one event, recorded; the receiver's answer, or None when none came."""
        body = _json.encode(ce)
        headers = {"content-type": "application/cloudevents+json", "user-agent": "civic-ledger-webhooks/1",
                   **signed_headers(row["secret"], ce["id"], body, time.time())}
        started = time.perf_counter()
        answer, error = None, None
        try:
            answer = self.http.post(row["url"], body, headers, self.timeout, self.egress)
        except EgressRefused as e:  # checked again at every attempt: what a name resolves to can change
            error = f"refused: {e}"[:500]
        except TRANSPORT_ERRORS as e:
            error = f"{type(e).__name__}: {e}"[:500]
        status = None if answer is None else answer.status
        ok = _ok(answer)
        if status is not None and not ok:
            error = f"HTTP {status}"
        with self.ledger.db.write() as tx:
            webhook_rows.record_delivery(tx, row["id"], position=ce["ledgerposition"], event_id=ce["id"],
                                         attempt=attempt, at=datetime.now(UTC).isoformat(), status_code=status,
                                         ok=int(ok), error=error,
                                         duration_ms=round((time.perf_counter() - started) * 1000, 2))
        return answer


def _ok(answer: Answer | None) -> bool:
    return answer is not None and 200 <= answer.status < 300


class _Claim:
    """The claim a delivery run holds: its subscription and the exact `lease_until` value it wrote."""

    def __init__(self, sid: str, until: float) -> None:
        self.sid, self.until = sid, until


def _until(at: float) -> float:
    # A run takes a claim only once the previous one lapsed, so its values are later than any other run's;
    # the random microseconds are a second guard that no two runs ever write the same value.
    return round(at, 3) + secrets.randbelow(1000) / 1_000_000


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _sub(row: dict[str, Any]) -> Subscription:
    return Subscription(id=row["id"], organization=row["organization"], url=row["url"],
                        types=[t for t in row["types"].split(",") if t], status=row["status"],
                        cursor=int(row["cursor"]), failures=int(row["failures"]),
                        paused_reason=row["paused_reason"], created_at=row["created_at"])
