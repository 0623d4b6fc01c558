"""Keeps read models current from the notification log, exactly once.

Each page of events is applied to a view in one transaction together with the view's tracking
record (the library's tracking recorder), so a crash never double-applies or skips an event.
SQLite has no live subscription: a background thread polls, every writer nudges it, and a reader
that names a position it must see catches the view up itself before answering.

A view that cannot apply an event is stalled, loudly: the events before it are applied, the failure
(view, position, event type, error) is kept for /health and /metrics, retries back off
exponentially, the other views go on, and a reader that needs the view gets `ViewStalled` (503).

On PostgreSQL with several processes only the elected background worker projects (`self_serve`
is false elsewhere): each page it commits sends a notification naming the view and position, and
a reader in another process waits for that notification (`Board`), bounded by `max_wait`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    Tracking,
)

from infrastructure.sql import Tx
from infrastructure.store import Ledger
from projections.base import View

log = logging.getLogger(__name__)

SCHEMA_DDL = "CREATE TABLE IF NOT EXISTS view_schemas (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"

# Errors of the store itself (unreachable, a timeout): the next round retries; they are no fault of the event.
_TRANSIENT = (InterfaceError, OperationalError)


@dataclass(frozen=True)
class ViewFailure:
    """Why a view stopped: the first event it could not apply."""

    view: str
    position: int
    event_type: str
    error: str
    since: str
    attempts: int
    retry_at: float  # time.monotonic() of the next attempt

    def retry_in(self) -> float:
        return max(0.0, self.retry_at - time.monotonic())

    def public(self) -> dict[str, Any]:
        return {"view": self.view, "position": self.position, "event_type": self.event_type, "error": self.error,
                "since": self.since, "attempts": self.attempts, "retry_in_seconds": round(self.retry_in(), 1)}


class ViewStalled(Exception):  # noqa: N818 - a state, not a programming error
    """A read needs a view that is stopped at an event it cannot apply; try again after `retry_after` seconds."""

    def __init__(self, failure: ViewFailure) -> None:
        super().__init__(f"The read model {failure.view} is stopped at position {failure.position} "
                         f"({failure.event_type}): {failure.error}")
        self.failure = failure
        self.retry_after = max(1, int(failure.retry_in() + 0.999))


def _summary(error: Exception) -> str:
    """The error's class and first line, short: /health is public, and a driver's DETAIL lines may quote row values."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _no_statement_timeout(tx: Tx) -> None:
    """A page of a view may take long (a rebuild page of millions of access-log rows, one COPY) and holds
    no lock a writer of the ledger waits for: the session's statement timeout is lifted for it alone.
    The idle-in-transaction and lock timeouts still apply."""
    if tx.dialect == "postgres":
        tx.execute("SET LOCAL statement_timeout = 0")


def _event_type(event: Any, n: Notification) -> str:
    return n.topic if isinstance(event, Notification) else type(event).__qualname__


class ViewsBehind(Exception):  # noqa: N818 - a state, not a programming error
    """A read model did not reach a position within the bounded wait (no active projector, or a slow one)."""

    def __init__(self, detail: str, retry_after: int = 2) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class Board:
    """What this process was told of each view's position by the notifications of the projecting process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._known: dict[str, int] = {}
        self.waits = 0
        self.timeouts = 0

    def known(self, name: str) -> int:
        return self._known.get(name, 0)

    def tell(self, name: str, position: int) -> None:
        with self._cond:
            if position > self._known.get(name, 0):
                self._known[name] = position
                self._cond.notify_all()

    def forget(self, name: str) -> None:
        with self._cond:
            self._known.pop(name, None)

    def wait(self, name: str, position: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._known.get(name, 0) >= position, timeout)


class Projector:
    def __init__(self, ledger: Ledger, views: Iterable[View], page_size: int = 500) -> None:
        self.ledger = ledger
        self.views = {v.name: v for v in views}
        self.page_size = page_size
        self.tracking = ledger.factory.tracking_recorder()
        self._locks = {name: threading.Lock() for name in self.views}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, ViewFailure] = {}
        self.retry_first_seconds = 1.0
        self.retry_max_seconds = 60.0
        self.self_serve: Callable[[], bool] = lambda: True
        """Whether a reader in this process may catch a view up itself (else it waits for the projector's
        notifications); true in a single process, and in the elected worker."""
        self.board = Board()
        self.max_wait = 10.0
        self.projector_active: Callable[[], bool] = lambda: True
        """Asked when a wait times out, to say whether any process is projecting."""
        self.channel: str | None = None
        """The notification channel each committed page is announced on (PostgreSQL), or None."""
        self.pages = 0
        self.setup()

    # -- schema ----------------------------------------------------------------------------

    @property
    def _tracking_table(self) -> str:
        return getattr(self.tracking, "tracking_table_name", "tracking")

    def setup(self) -> None:
        """Creates every view; a view whose schema version changed is dropped and rebuilt."""
        with self.ledger.db.write() as tx:
            tx.execute(SCHEMA_DDL)
            for view in self.views.values():
                stored = tx.scalar("SELECT version FROM view_schemas WHERE name = ?", (view.name,))
                if stored is not None and int(stored) != view.version:
                    self._reset(tx, view)
                view.create(tx)
                tx.execute(
                    "INSERT INTO view_schemas (name, version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (view.name, view.version),
                )

    def _reset(self, tx: Tx, view: View) -> None:
        self.board.forget(view.name)
        view.drop(tx)
        tx.execute(f"DELETE FROM {self._tracking_table} WHERE application_name = ?", (view.tracking_name,))

    # -- positions -------------------------------------------------------------------------

    def position(self, name: str) -> int:
        return self.tracking.max_tracking_id(self.views[name].tracking_name) or 0

    def lag(self) -> dict[str, int]:
        head = self.ledger.max_position()
        return {name: head - self.position(name) for name in self.views}

    # -- processing ------------------------------------------------------------------------

    def catch_up(self, name: str, until: int | None = None, progress: Callable[[int], None] | None = None,
                 stop: threading.Event | None = None) -> int:
        """Applies pending events to one view, page by page; returns the view's position. With `stop`, it
        returns after the page in hand once the event is set (the worker was told to stop its duties).

        Raises `ViewStalled` while the view is stopped at an event and its next attempt is not due."""
        view = self.views[name]
        with self._locks[name]:
            failed = self._failures.get(name)
            if failed is not None and failed.retry_in() > 0 and not self._moved_past(failed):
                raise ViewStalled(failed)
            while True:
                start = self.position(name)
                if until is not None and start >= until or stop is not None and stop.is_set():
                    return self._healthy(name, start)
                # Only the view's own topics are read (a view never decodes, or holds in memory, events it
                # ignores). Positions up to the head read here are all committed (commit order is position
                # order), so when fewer than a page match, the view is current up to that head.
                head = self.ledger.max_position()
                if start >= head:
                    return self._healthy(name, start)
                limit = self.page_size if not view.all_topics else max(1, self.page_size // 5)
                notifications = self.ledger.recorder.select_notifications(
                    start=start, limit=limit, stop=head, topics=view.topic_names, inclusive_of_start=False
                )
                reached = notifications[-1].id if len(notifications) == limit else head
                try:
                    applied = self._apply(view, notifications, reached)
                except _TRANSIENT:
                    raise
                except Exception:
                    if self.position(name) > start:
                        # Another process committed this page meanwhile: its rows, already there, refused ours
                        # (a unique key) before the tracking record could. Not a fault of the view.
                        continue
                    # Which event? One transaction per event finds it, and keeps every event before it.
                    applied = self._one_by_one(view, notifications, reached)
                if not applied:
                    # Another process applied this page first; its tracking record won.
                    log.debug("view %s: page after %s already applied elsewhere", name, start)
                    continue
                self.pages += 1
                self.board.tell(name, reached)
                if progress is not None:
                    progress(reached - start)

    def _announce(self, tx: Tx, name: str, position: int) -> None:
        if self.channel is not None:  # delivered when the page commits
            tx.execute("SELECT pg_notify(?, ?)", (self.channel, f"v {name} {position}"))

    def _apply(self, view: View, notifications: Sequence[Notification], reached: int) -> bool:
        """One transaction: the events and the view's tracking record; False when another process was first."""
        lost_race = False
        try:
            with self.ledger.db.write() as tx:
                _no_statement_timeout(tx)
                view.begin_page(tx)
                for n in notifications:
                    if view.wants(n.topic):
                        view.apply(tx, n if view.wants_raw else self.ledger.mapper.to_domain_event(n), n.id)
                view.end_page(tx)
                try:
                    self.tracking._insert_tracking(  # type: ignore[attr-defined]
                        tx.raw, Tracking(view.tracking_name, reached)
                    )
                except IntegrityError:
                    lost_race = True
                    raise
                self._announce(tx, view.name, reached)
        except IntegrityError:
            if not lost_race:
                raise  # a fault of the view itself: never mistake it for a page applied elsewhere
            return False
        return True

    def _one_by_one(self, view: View, notifications: Sequence[Notification], reached: int) -> bool:
        for n in notifications:
            event: Any = n
            try:
                if not view.wants_raw:
                    event = self.ledger.mapper.to_domain_event(n)
                if not self._apply_one(view, n, event):
                    return False
            except _TRANSIENT:
                raise
            except Exception as e:
                if self.position(view.name) >= n.id:
                    return False  # applied by another process meanwhile (see catch_up)
                raise ViewStalled(self._stalled(view.name, n, event, e)) from e
        if notifications and notifications[-1].id == reached:
            return True
        return self._apply(view, (), reached)

    def _apply_one(self, view: View, n: Notification, event: Any) -> bool:
        lost_race = False
        try:
            with self.ledger.db.write() as tx:
                _no_statement_timeout(tx)
                view.begin_page(tx)
                if view.wants(n.topic):
                    view.apply(tx, event, n.id)
                view.end_page(tx)
                try:
                    self.tracking._insert_tracking(tx.raw, Tracking(view.tracking_name, n.id))  # type: ignore[attr-defined]
                except IntegrityError:
                    lost_race = True
                    raise
                self._announce(tx, view.name, n.id)
        except IntegrityError:
            if not lost_race:
                raise
            return False
        return True

    # -- failures --------------------------------------------------------------------------

    def _stalled(self, name: str, n: Notification, event: Any, error: Exception) -> ViewFailure:
        before = self._failures.get(name)
        attempts = 1 if before is None or before.position != n.id else before.attempts + 1
        delay = min(self.retry_max_seconds, self.retry_first_seconds * 2 ** (attempts - 1))
        failure = ViewFailure(
            view=name, position=n.id, event_type=_event_type(event, n), error=_summary(error),
            since=before.since if before is not None and before.position == n.id else datetime.now(UTC).isoformat(),
            attempts=attempts, retry_at=time.monotonic() + delay,
        )
        self._failures[name] = failure
        if attempts == 1:
            log.error("read model %s stopped at position %s (%s): %s", name, n.id, failure.event_type, failure.error)
        else:
            log.warning("read model %s still stopped at position %s (attempt %s, next in %.0f s)",
                        name, n.id, attempts, delay)
        return failure

    def _moved_past(self, failure: ViewFailure) -> bool:
        """True when the view got past its failed event elsewhere (a rebuild, another process)."""
        return self.position(failure.view) >= failure.position

    def _healthy(self, name: str, position: int) -> int:
        failed = self._failures.get(name)
        if failed is not None and position >= failed.position:
            self._failures.pop(name, None)
        return position

    def failures(self) -> list[ViewFailure]:
        """The views stopped at an event, now; one that has moved past its event since is forgotten."""
        out = []
        for name, failure in sorted(self._failures.items()):
            if self._moved_past(failure):
                self._failures.pop(name, None)
            else:
                out.append(replace(failure))
        return out

    def catch_up_all(self, until: int | None = None, stop: threading.Event | None = None) -> None:
        """Every view in turn; a stalled view does not hold back the others (it is reported, not raised)."""
        for name in self.views:
            try:
                self.catch_up(name, until, stop=stop)
            except ViewStalled:
                continue

    def wait_for(self, position: int | None, *names: str) -> None:
        """Read-your-writes: brings the named views (or all) to at least `position`, or waits until the
        projecting process has (raising `ViewsBehind` after `max_wait`)."""
        if not position:
            return
        serve = self.self_serve()
        deadline = time.monotonic() + self.max_wait
        for name in names or tuple(self.views):
            if self.board.known(name) >= position:
                continue
            if serve:
                if self.position(name) < position:
                    self.catch_up(name, until=position)
            else:
                self._await(name, position, deadline)

    def _await(self, name: str, position: int, deadline: float) -> None:
        self.board.waits += 1
        # A position is acknowledged only after its commit, so one past the head names nothing yet
        # written: wait for the head, as a process that projects itself would.
        position = min(position, self.ledger.max_position())
        while True:
            stored = self.position(name)  # the truth; notifications only wake the wait
            if stored >= position:
                self.board.tell(name, stored)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Woken by the page's notification; the re-read each second covers one missed while the
            # listening connection was being re-established.
            if self.board.wait(name, position, min(remaining, 1.0)):
                return
            if self.self_serve():  # this process was elected meanwhile
                self.catch_up(name, until=position)
                return
        self.board.timeouts += 1
        if self.projector_active():
            raise ViewsBehind(f"The read model {name} has not reached position {position} yet; retry shortly.")
        raise ViewsBehind(f"The read model {name} is at {self.position(name)}, short of position {position}, and "
                          "no background worker is active to bring it further; retry when one is.", retry_after=5)

    def rebuild(self, names: Iterable[str] | None = None, progress: Callable[[int], None] | None = None) -> None:
        """Drops the views and replays the whole log into them."""
        chosen = list(names or self.views)
        for name in chosen:
            with self._locks[name], self.ledger.db.write() as tx:
                view = self.views[name]
                self._reset(tx, view)
                view.create(tx)
                self._failures.pop(name, None)
        for name in chosen:
            self.catch_up(name, progress=progress)

    # -- background worker -----------------------------------------------------------------

    def nudge(self, position: int | None = None) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="projector", daemon=True)
        self._thread.start()

    def stop(self, join: bool = True) -> None:
        self._stop.set()
        self._wake.set()
        if join and self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        interval = self.ledger.settings.projection_poll_seconds
        while not self._stop.is_set():
            try:
                self.catch_up_all(stop=self._stop)
            except Exception:  # keep the worker alive; the next round retries
                log.exception("projection round failed")
            self._wake.wait(interval)
            self._wake.clear()
