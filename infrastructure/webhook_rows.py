"""Webhook subscriptions and their delivery logs (`webhook_subscriptions`, `webhook_deliveries`, declared in
`infrastructure.side_tables`), by the question or change each function makes.

Reads take the `Db` (each on its own cursor); writes take the caller's write transaction (`Tx`), so the
service decides what one transaction holds. A write that only applies under a condition (a claim still
held, a generation unchanged) says with its result whether it applied.
"""

from __future__ import annotations

from typing import Any

from infrastructure.sql import Db, Tx

COLUMNS = "id, organization, sees_all, url, types, status, cursor, failures, paused_reason, created_at"
"""The columns a subscription is shown with (its secret only to its owner, on registration)."""


# -- the owner's side ------------------------------------------------------------------------


def registered_with_key(db: Db, organization: str, idempotency_key: str) -> dict[str, Any] | None:
    """The subscription this organization registered under this idempotency key (`COLUMNS` and `secret`)."""
    return db.query_one(
        f"SELECT {COLUMNS}, secret FROM webhook_subscriptions WHERE organization = ? AND idempotency_key = ?",
        (organization, idempotency_key))


def insert_subscription(tx: Tx, *, sid: str, organization: str, sees_all: int, url: str, types: str,
                        secret: str, cursor: int, created_by: str, created_at: str,
                        idempotency_key: str | None) -> None:
    """Stores a new active subscription that delivers the events after `cursor`, due at once."""
    tx.execute(
        "INSERT INTO webhook_subscriptions (id, organization, sees_all, url, types, secret, status, cursor, "
        "failures, first_failure_at, next_attempt_at, lease_until, paused_reason, created_by, created_at, "
        "idempotency_key, generation) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, 0, NULL, 0, 0, NULL, ?, ?, ?, 0)",
        (sid, organization, sees_all, url, types, secret, cursor, created_by, created_at, idempotency_key))


def subscription(db: Db, sid: str) -> dict[str, Any] | None:
    """A subscription as shown (`COLUMNS`)."""
    return db.query_one(f"SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = ?", (sid,))


def subscriptions(db: Db, organization: str | None = None) -> list[dict[str, Any]]:
    """Every subscription as shown (`COLUMNS`), or this organization's, oldest first."""
    if organization is None:
        return db.query(f"SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id")
    return db.query(f"SELECT {COLUMNS} FROM webhook_subscriptions WHERE organization = ? "
                    "ORDER BY created_at, id", (organization,))


def deliveries(db: Db, sid: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` delivery records of a subscription after its record `after`, in order."""
    return db.query(
        "SELECT seq, position, event_id, attempt, at, ok, status_code, error, duration_ms FROM webhook_deliveries "
        "WHERE subscription_id = ? AND seq > ? ORDER BY seq LIMIT ?", (sid, after, limit))


def pause(tx: Tx, sid: str, reason: str) -> None:
    """Pauses a subscription for this reason; a run under way stops at its next step (the generation moves)."""
    tx.execute("UPDATE webhook_subscriptions SET status = 'paused', paused_reason = ?, "
               "generation = generation + 1 WHERE id = ?",
               (reason, sid))


def resume(tx: Tx, sid: str, after: int | None) -> None:
    """Makes a subscription active and due at once with no failures; with `after`, its cursor moves there."""
    tx.execute("UPDATE webhook_subscriptions SET status = 'active', paused_reason = NULL, failures = 0, "
               "first_failure_at = NULL, next_attempt_at = 0, cursor = COALESCE(?, cursor), "
               "generation = generation + 1 WHERE id = ?",
               (after, sid))


def delete(tx: Tx, sid: str) -> None:
    """Removes a subscription and its delivery log."""
    tx.execute("DELETE FROM webhook_deliveries WHERE subscription_id = ?", (sid,))
    tx.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (sid,))


# -- the worker ------------------------------------------------------------------------------


def any_active(db: Db) -> bool:
    """Whether any subscription is active."""
    return bool(db.scalar("SELECT COUNT(*) FROM webhook_subscriptions WHERE status = 'active'"))


def due(db: Db, due_at: float, now: float, horizon: int) -> list[dict[str, Any]]:
    """The `id`s of active subscriptions whose next attempt is due by `due_at`, unclaimed at `now` (wall clock)
    and behind `horizon`."""
    return db.query(
        "SELECT id FROM webhook_subscriptions WHERE status = 'active' AND next_attempt_at <= ? "
        "AND lease_until <= ? AND cursor < ?", (due_at, now, horizon))


def claim(tx: Tx, sid: str, until: float, now: float) -> bool:
    """Claims an active subscription until `until` if no claim holds it at `now`; whether it was claimed."""
    tx.execute("UPDATE webhook_subscriptions SET lease_until = ? WHERE id = ? AND status = 'active' "
               "AND lease_until <= ?", (until, sid, now))
    return bool(tx.raw.rowcount == 1)


def release(tx: Tx, sid: str, held: float) -> None:
    """Ends the claim whose value is `held`, if it is still the subscription's (another may have taken over)."""
    tx.execute("UPDATE webhook_subscriptions SET lease_until = 0 WHERE id = ? AND lease_until = ?",
               (sid, held))


def extend_claim(tx: Tx, sid: str, held: float, until: float) -> bool:
    """Moves the claim whose value is `held` to `until` (compare-and-swap); whether it was still held."""
    tx.execute("UPDATE webhook_subscriptions SET lease_until = ? WHERE id = ? AND lease_until = ?",
               (until, sid, held))
    return bool(tx.raw.rowcount == 1)


def subscription_in_full(db: Db, sid: str) -> dict[str, Any] | None:
    """Every column of a subscription (secret, generation, failure streak) for a delivery run."""
    return db.query_one("SELECT * FROM webhook_subscriptions WHERE id = ?", (sid,))


def advance(tx: Tx, sid: str, generation: int, held: float, cursor: int, until: float) -> bool:
    """Moves the cursor, clears the failures and extends the claim, unless the generation moved (paused,
    resumed or replayed) or the claim `held` was lost; whether it applied."""
    tx.execute("UPDATE webhook_subscriptions SET cursor = ?, failures = 0, first_failure_at = NULL, "
               "lease_until = ? WHERE id = ? AND generation = ? AND lease_until = ?",
               (cursor, until, sid, generation, held))
    return bool(tx.raw.rowcount == 1)


def record_failure(tx: Tx, sid: str, generation: int, *, failures: int, first_failure_at: float,
                   next_attempt_at: float, status: str, reason: str | None) -> None:
    """Records a failed attempt's count, streak start, next due time and status, unless the generation moved."""
    tx.execute(
        "UPDATE webhook_subscriptions SET failures = ?, first_failure_at = ?, next_attempt_at = ?, "
        "status = ?, paused_reason = ? WHERE id = ? AND generation = ?",
        (failures, first_failure_at, next_attempt_at, status, reason, sid, generation))


def record_delivery(tx: Tx, sid: str, *, position: Any, event_id: Any, attempt: int, at: str,
                    status_code: int | None, ok: int, error: str | None, duration_ms: float) -> None:
    """Appends an attempt to the subscription's delivery log, numbered after its last record."""
    seq = int(tx.scalar("SELECT COALESCE(MAX(seq), 0) FROM webhook_deliveries WHERE subscription_id = ?",
                        (sid,))) + 1
    tx.execute("INSERT INTO webhook_deliveries (subscription_id, seq, position, event_id, attempt, at, "
               "status_code, ok, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (sid, seq, position, event_id, attempt, at, status_code, ok, error, duration_ms))
