"""Keeps read models current from the notification log, exactly once.

Each page of events is applied to a view in one transaction together with the view's tracking
record (the library's tracking recorder), so a crash never double-applies or skips an event.
SQLite has no live subscription: a background thread polls, every writer nudges it, and a reader
that names a position it must see catches the view up itself before answering.

A rebuild is blue-green: the view's code builds its tables again under shadow names (`<table>__next`,
with their own tracking record) while the live tables keep answering; once the shadow has caught up
with the head, one transaction applies the last events, drops the live tables, renames the shadow
ones into their place and moves the shadow's tracking position to the view's. The build is recorded
in `view_builds`, so a rebuild that was killed resumes where its last page committed (on the next
`rebuild` or the next start). A changed schema version starts such a build by itself; until its
swap the old tables keep answering. A build reads and decodes its next page in a thread of its own
while it writes the page before (`projections.build.ReadAhead`); pages are read with the projector's own statement
(`read_page`), not the library's (decision 0025).

A view that cannot apply an event is stalled, loudly: the events before it are applied, the failure
(view, position, event type, error) is kept for /health and /metrics, retries back off
exponentially, the other views go on, and a reader that needs the view gets `ViewStalled` (503).

On PostgreSQL with several processes only the elected background worker projects (`self_serve`
is false elsewhere): each page it commits sends a notification naming the view and position, and
a reader in another process waits for that notification (`Board`), bounded by `max_wait`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
)
from eventsourcing.utils import get_topic

from infrastructure.log_pages import read_page
from infrastructure.sql import Tx
from infrastructure.store import Ledger
from infrastructure.tracking import record_position
from projections.base import View
from projections.build import (
    BUILD_CACHE_KIB,
    BUILDS_DDL,
    SHADOW,
    Build,
    BuildGone,
    Moved,
    ReadAhead,
    WithoutIndexes,
    freed_unzeroed,
    index_suffix,
)

log = logging.getLogger(__name__)

SCHEMA_DDL = "CREATE TABLE IF NOT EXISTS view_schemas (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
# Errors of the store itself (unreachable, a timeout): the next round retries; they are no fault of the event.
_TRANSIENT = (InterfaceError, OperationalError)


class _Stop(msgspec.Struct, frozen=True):
    """The first event a view could not apply: where, what and why, since when, and how often it was tried."""

    view: str
    position: int
    event_type: str
    error: str
    since: str
    attempts: int


class ViewStall(_Stop, frozen=True):
    """A stopped view as `/health` names it: the next attempt in seconds from now."""

    retry_in_seconds: float


class ViewFailure(_Stop, frozen=True):
    """Why a view stopped: the first event it could not apply."""

    retry_at: float  # time.monotonic() of the next attempt

    def retry_in(self) -> float:
        return max(0.0, self.retry_at - time.monotonic())

    def public(self) -> ViewStall:
        return ViewStall(view=self.view, position=self.position, event_type=self.event_type, error=self.error,
                         since=self.since, attempts=self.attempts, retry_in_seconds=round(self.retry_in(), 1))


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


def _table_exists(tx: Tx, table: str) -> bool:
    if tx.dialect == "postgres":
        return tx.scalar("SELECT to_regclass(?) IS NOT NULL", (table,)) is True
    return tx.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)) is not None


def _no_statement_timeout(tx: Tx) -> None:
    """A page of a view may take long (a rebuild page of millions of access-log rows, one COPY) and holds
    no lock a writer of the ledger waits for: the session's statement timeout is lifted for it alone.
    The idle-in-transaction and lock timeouts still apply."""
    if tx.dialect == "postgres":
        tx.execute("SET LOCAL statement_timeout = 0")


_pauses = 0
_collecting_before = False
_pauses_lock = threading.Lock()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a page is decoded or folded, in any thread: a page allocates
    many small objects that all live to its end (decoded events, rows), which the collector would walk again and
    again for nothing (half of a 100,000-event catalog rebuild's time in the profile). Reference counts free
    what the page made; the collector runs again once no thread holds it paused (if it ran before)."""
    global _pauses, _collecting_before
    with _pauses_lock:
        if _pauses == 0:
            _collecting_before = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if _pauses == 0 and _collecting_before:
                gc.enable()


def _lock_view(tx: Tx, tracking_name: str) -> None:
    """PostgreSQL: the transaction's lock on one view's live position (released at its end)."""
    tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (tracking_name,))


def _event_type(event: Any, n: Notification) -> str:
    if isinstance(event, Notification):
        return n.topic
    return getattr(event, "event_class", type(event)).__qualname__  # a view's own decoding names its class


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


class _Own:
    """A position and topic, as `_fold` reads them from a notification, for an event not read from the log."""

    __slots__ = ("id", "topic")

    def __init__(self, id: int, topic: str) -> None:  # noqa: A002 - the name Notification gives it
        self.id, self.topic = id, topic


class InlinePage:
    """A writer's own events applied to one view inside the writer's transaction (`then=` of a save).

    Exactly once still holds because the page is the view's next page, claimed as the projector claims
    one: under the view's lock (this process's thread lock and, on PostgreSQL, the transaction's advisory
    lock on the view's position, both only tried, so a save never waits for a projector), the view's
    stored position must be the last position stored before the save's first event (the save holds the
    ledger's write lock, so nothing else commits meanwhile) and its stored schema version this code's. The
    rows and the tracking record commit or roll back with the events, and the projector, finding the view
    at their position, never applies them again. Anything else (the view behind, another process in the
    middle of a page, a build to be swapped in, a failure of the view's code, rolled back to a savepoint)
    leaves the events to the projector, as before."""

    def __init__(self, projector: Projector, view: View, events: Sequence[Any]) -> None:
        self._projector, self._view, self._events = projector, view, events
        self.applied: int | None = None
        """The view's position after the save, when the save's transaction applied its events."""

    def __call__(self, tx: Tx, ids: Sequence[int]) -> None:
        p, view = self._projector, self._view
        self.applied = None  # a save retried after a broken connection calls again
        if len(ids) != len(self._events) or view.name in p._auto or view.name in p._failures:
            return
        lock = p._locks[view.name]
        if not lock.acquire(blocking=False):
            return
        try:
            tx.execute("SAVEPOINT inline_page")
            try:
                applied = self._apply(tx, ids)
            except Exception:  # a fault of the view's code: the projector meets it and reports it
                log.warning("view %s: the save's own page was left to the projector", view.name, exc_info=True)
                tx.execute("ROLLBACK TO SAVEPOINT inline_page")
                applied = False
            tx.execute("RELEASE SAVEPOINT inline_page")
        finally:
            lock.release()
        if applied:
            self.applied = max(ids)

    def _apply(self, tx: Tx, ids: Sequence[int]) -> bool:
        p, view = self._projector, self._view
        if tx.dialect == "postgres" and not tx.scalar("SELECT pg_try_advisory_xact_lock(hashtext(?))",
                                                      (view.tracking_name,)):
            return False
        pos, events = p.ledger.position_column, p.ledger.events_table
        row = tx.execute(
            f"SELECT (SELECT MAX(notification_id) FROM {p._tracking_table} WHERE application_name = ?) AS at, "
            f"(SELECT MAX({pos}) FROM {events} WHERE {pos} < ?) AS before, "
            "(SELECT version FROM view_schemas WHERE name = ?) AS version",
            (view.tracking_name, min(ids), view.name)).fetchone()
        if row is None or int(row["at"] or 0) != int(row["before"] or 0) or row["version"] is None \
                or int(row["version"]) != view.version:
            return False
        own = sorted(zip(ids, self._events, strict=True), key=lambda pair: pair[0])
        p._fold(tx, view, [_Own(i, get_topic(type(e))) for i, e in own], [e for _, e in own])
        record_position(p.tracking, tx, view.tracking_name, own[-1][0])
        p._announce(tx, view.name, own[-1][0])
        return True

    def committed(self) -> None:
        """After the save committed: this process's waiters learn the view's new position."""
        if self.applied is not None:
            self._projector.board.tell(self._view.name, self.applied)


class InlinePages:
    """Several views' `InlinePage`s for one save, in turn (each with its own claim, savepoint and tracking
    record: a view that cannot take the save's events leaves them to the projector without holding back
    the others)."""

    def __init__(self, pages: Sequence[InlinePage]) -> None:
        self.pages = tuple(pages)

    def __call__(self, tx: Tx, ids: Sequence[int]) -> None:
        for page in self.pages:
            page(tx, ids)

    def committed(self) -> None:
        for page in self.pages:
            page.committed()


class Projector:
    def __init__(self, ledger: Ledger, views: Iterable[View], page_size: int = 500,
                 build_page_size: int | None = None) -> None:
        self.ledger = ledger
        self.views = {v.name: v for v in views}
        self.page_size = page_size
        self.build_page_size = build_page_size or page_size  # a build's pages may be larger: no reader waits
        self.tracking = ledger.factory.tracking_recorder()
        self._locks = {name: threading.Lock() for name in self.views}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, ViewFailure] = {}
        self._builds: dict[str, Build] = {}
        self._auto: set[str] = set()  # views whose schema version changed: built and swapped before use
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
        self._lz4: bool | None = None  # whether the PostgreSQL server compresses with LZ4 (`_quick_toast`)
        self.setup()

    # -- schema ----------------------------------------------------------------------------

    @property
    def _tracking_table(self) -> str:
        return getattr(self.tracking, "tracking_table_name", "tracking")

    def setup(self) -> None:
        """Creates every view; a view whose schema version changed is rebuilt beside its old tables."""
        with self.ledger.db.write() as tx:
            tx.execute(SCHEMA_DDL)
            tx.execute(BUILDS_DDL)
            for view in self.views.values():
                stored = tx.scalar("SELECT version FROM view_schemas WHERE name = ?", (view.name,))
                build = self._stored_build(tx, view.name)
                if build is not None:
                    self._builds[view.name] = build
                if stored is not None and int(stored) != view.version:
                    # the old tables keep answering until the new ones are swapped in
                    if build is None or build.version != view.version:
                        self._builds[view.name] = self._begin_build(tx, view)
                    self._auto.add(view.name)
                    continue
                view.create(tx.renamed({}, index_suffix(self._generation(tx, view.name))))
                tx.execute(
                    "INSERT INTO view_schemas (name, version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (view.name, view.version),
                )

    def _reset(self, tx: Tx, view: View) -> None:
        self.board.forget(view.name)
        view.drop(tx)
        tx.execute(f"DELETE FROM {self._tracking_table} WHERE application_name = ?", (view.tracking_name,))

    def _generation(self, tx: Tx, name: str) -> int:
        return int(tx.scalar("SELECT generation FROM view_builds WHERE name = ?", (name,)) or 0)

    def _stored_build(self, tx: Tx, name: str) -> Build | None:
        row = tx.execute("SELECT generation, building, started_at FROM view_builds WHERE name = ?", (name,)).fetchone()
        if row is None or row["building"] is None:
            return None
        return Build(name, int(row["building"]), int(row["generation"]) + 1, str(row["started_at"]))

    def _begin_build(self, tx: Tx, view: View) -> Build:
        """Empty shadow tables (a leftover shadow is dropped first) and the build's row."""
        build = Build(view.name, view.version, self._generation(tx, view.name) + 1, datetime.now(UTC).isoformat())
        shadow = build.tx(tx, view)
        view.drop(shadow)
        view.create(WithoutIndexes(shadow))  # type: ignore[arg-type]  # made once the bulk is in (_index)
        tx.execute(f"DELETE FROM {self._tracking_table} WHERE application_name = ?", (build.tracking_name,))
        tx.execute("INSERT INTO view_builds (name, generation, building, started_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET building = excluded.building, started_at = excluded.started_at",
                   (view.name, build.generation - 1, build.version, build.started_at))
        return build

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

        A view whose schema version changed is first built anew and swapped in (its old tables never see
        the new code). Raises `ViewStalled` while the view is stopped at an event and its next attempt is
        not due."""
        if name in self._auto and name in self._builds:
            self._finish_build(name, progress, stop)
        view = self.views[name]
        with self._locks[name]:
            failed = self._failures.get(name)
            if failed is not None and failed.retry_in() > 0 and not self._moved_past(failed):
                raise ViewStalled(failed)
            return self._healthy(name, self._advance(view, until, progress, None, stop))

    def _advance(self, view: View, until: int | None, progress: Callable[[int], None] | None,
                 build: Build | None, stop: threading.Event | None = None) -> int:
        """Pages of events into the live view (`build` None; the caller holds its lock) or into a build's
        shadow tables (the lock is taken page by page, so the live view goes on between them)."""
        if build is None:
            return self._pages(view, until, progress, None, stop, None)
        with ReadAhead(self._read_ahead) as ahead:
            return self._pages(view, until, progress, build, stop, ahead)

    def _read_ahead(self, start: int, view: View, build: Build) -> tuple[Sequence[Notification], int, list[Any] | None]:
        """The page after `start`, read and decoded while the page before it is folded and written (`ReadAhead`).
        A view's decoding is a function of the stored event alone, so it may run beside the writing; when an
        event cannot be decoded, none of the page is, and the page's own application meets the error and
        reports it as always."""
        notifications, reached = self._page(view, start, self.ledger.max_position(), build)
        mapper, wants, decode = self.ledger.mapper, view.wants, view.decode
        try:
            with _collector_paused():
                events = [decode(n, mapper) if wants(n.topic) else None for n in notifications]
        except Exception:
            return notifications, reached, None
        return notifications, reached, events

    def _pages(self, view: View, until: int | None, progress: Callable[[int], None] | None,
               build: Build | None, stop: threading.Event | None, ahead: ReadAhead | None) -> int:
        tracking_name = view.tracking_name if build is None else build.tracking_name
        while True:
            with self._locks[view.name] if build is not None else contextlib.nullcontext():
                start = self.tracking.max_tracking_id(tracking_name) or 0
                if until is not None and start >= until or stop is not None and stop.is_set():
                    return start
                # Only the view's own topics are read (a view never decodes, or holds in memory, events it
                # ignores). Positions up to the head read here are all committed (commit order is position
                # order), so when fewer than a page match, the view is current up to that head.
                head = self.ledger.max_position()
                if start >= head:
                    return start
                page = None if ahead is None else ahead.take(start)
                if page is None:
                    (notifications, reached), events = self._page(view, start, head, build), None
                else:
                    notifications, reached, events = page
                if ahead is not None and reached < head:
                    ahead.ask(reached, view, build)  # the next page, read while this one is applied
                try:
                    applied = self._apply(view, notifications, reached, build, start, events)
                except (BuildGone, *_TRANSIENT):
                    raise
                except Exception:
                    if (self.tracking.max_tracking_id(tracking_name) or 0) > start:
                        # Another process committed this page meanwhile: its rows, already there, refused ours
                        # (a unique key) before the tracking record could. Not a fault of the view.
                        continue
                    # Which event? One transaction per event finds it, and keeps every event before it.
                    applied = self._one_by_one(view, notifications, reached, build, start)
            if not applied:
                # Another process applied this page first; its tracking record won.
                log.debug("view %s: page after %s already applied elsewhere", view.name, start)
                continue
            if build is None:
                self.pages += 1
                self.board.tell(view.name, reached)
            if progress is not None:
                progress(reached - start)

    def _announce(self, tx: Tx, name: str, position: int) -> None:
        if self.channel is not None:  # delivered when the page commits
            tx.execute("SELECT pg_notify(?, ?)", (self.channel, f"v {name} {position}"))

    def _page(self, view: View, start: int, head: int, build: Build | None = None) -> tuple[Sequence[Notification], int]:
        # A build writes tables no reader waits on: larger pages, fewer commits.
        limit = self.page_size if build is None else self.build_page_size
        limit = min(limit, view.max_page or limit)
        if view.all_topics and build is None:
            limit = max(1, limit // 5)
        notifications = read_page(self.ledger, start, limit, head, view.topic_names, text_ids=view.text_ids)
        return notifications, (notifications[-1].id if len(notifications) == limit else head)

    def _guard(self, tx: Tx, build: Build) -> None:
        """Inside a build's transaction: the build is still the one under way (on PostgreSQL its row stays
        locked to the end, so a swap by another process waits for this page, or this page for the swap)."""
        lock = " FOR UPDATE" if tx.dialect == "postgres" else ""
        row = tx.execute(f"SELECT generation, building FROM view_builds WHERE name = ?{lock}", (build.view,)).fetchone()
        if row is None or row["building"] is None or int(row["generation"]) + 1 != build.generation:
            raise BuildGone(build.view)

    def _stored_position(self, tx: Tx, tracking_name: str) -> int:
        return int(tx.scalar(f"SELECT MAX(notification_id) FROM {self._tracking_table} WHERE application_name = ?",
                             (tracking_name,)) or 0)

    def _claim(self, tx: Tx, view: View, build: Build | None, start: int | None) -> bool:
        """Inside a page's transaction, before it writes: the view (or the build) is still where the page was
        read from. On PostgreSQL the live view's pages and its swap take one lock per view (a build's pages
        are serialised by `_guard`), so a page read before a swap, or by another process, never lands on
        rows that already hold it; SQLite's write lock does the same."""
        if build is not None:
            self._guard(tx, build)
        elif tx.dialect == "postgres":
            _lock_view(tx, view.tracking_name)
        if start is None:
            return True
        return self._stored_position(tx, view.tracking_name if build is None else build.tracking_name) == start

    def _apply(self, view: View, notifications: Sequence[Notification], reached: int,
               build: Build | None = None, start: int | None = None, events: Sequence[Any] | None = None) -> bool:
        """One transaction: the events and the view's tracking record; False when another process was first."""
        lost_race = False
        try:
            with self.ledger.db.write(cache_kib=None if build is None else BUILD_CACHE_KIB) as tx:
                _no_statement_timeout(tx)
                if build is not None:
                    self._quick_toast(tx)
                if not self._claim(tx, view, build, start):
                    return False
                self._fold(tx if build is None else build.tx(tx, view), view, notifications, events)
                try:
                    record_position(self.tracking, tx, view.tracking_name if build is None else build.tracking_name,
                                    reached)
                except IntegrityError:
                    lost_race = True
                    raise
                if build is None:
                    self._announce(tx, view.name, reached)
        except IntegrityError:
            if not lost_race:
                raise  # a fault of the view itself: never mistake it for a page applied elsewhere
            return False
        return True

    def _quick_toast(self, tx: Tx) -> None:
        """PostgreSQL: the large values a build page writes (an entry's contents) are compressed with LZ4 rather
        than the server's default pglz (a COPY of 2,000 catalog entries: 0.21 s instead of 0.29 s), where the
        server has LZ4 (asked once). For this transaction only; every reader reads either."""
        if tx.dialect != "postgres":
            return
        if self._lz4 is None:
            self._lz4 = bool(tx.scalar("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                       "WHERE name = 'default_toast_compression'"))
        if self._lz4:
            tx.execute("SET LOCAL default_toast_compression = 'lz4'")

    def _fold(self, tx: Tx, view: View, notifications: Sequence[Notification], events: Sequence[Any] | None = None) -> None:
        # A page allocates many small objects that all live to its end (decoded events, rows): the cyclic
        # collector would walk them again and again for nothing (half of a 100,000-event catalog rebuild's
        # time in the profile). It waits for the end of the page; reference counts free what the page made.
        with _collector_paused():
            view.begin_page(tx)
            mapper, wants, decode, apply = self.ledger.mapper, view.wants, view.decode, view.apply
            for i, n in enumerate(notifications):
                if wants(n.topic):
                    apply(tx, events[i] if events is not None else decode(n, mapper), n.id)
            view.end_page(tx)

    def _one_by_one(self, view: View, notifications: Sequence[Notification], reached: int,
                    build: Build | None = None, start: int | None = None) -> bool:
        tracking_name = view.tracking_name if build is None else build.tracking_name
        for n in notifications:
            event: Any = n
            try:
                event = view.decode(n, self.ledger.mapper)
                if not self._apply_one(view, n, event, build, start):
                    return False
                start = n.id
            except (BuildGone, *_TRANSIENT):
                raise
            except Exception as e:
                if (self.tracking.max_tracking_id(tracking_name) or 0) >= n.id:
                    return False  # applied by another process meanwhile (see catch_up)
                if build is not None:  # the live view is not stopped by a failed rebuild: no failure kept
                    raise ViewStalled(self._failure(view.name, n, event, e, None)) from e
                raise ViewStalled(self._stalled(view.name, n, event, e)) from e
        if notifications and notifications[-1].id == reached:
            return True
        return self._apply(view, (), reached, build, start)

    def _apply_one(self, view: View, n: Notification, event: Any, build: Build | None = None,
                   start: int | None = None) -> bool:
        lost_race = False
        try:
            with self.ledger.db.write() as tx:
                _no_statement_timeout(tx)
                if not self._claim(tx, view, build, start):
                    return False
                self._fold(tx if build is None else build.tx(tx, view), view, (n,), (event,))
                try:
                    record_position(self.tracking, tx, view.tracking_name if build is None else build.tracking_name,
                                    n.id)
                except IntegrityError:
                    lost_race = True
                    raise
                if build is None:
                    self._announce(tx, view.name, n.id)
        except IntegrityError:
            if not lost_race:
                raise
            return False
        return True

    # -- blue-green rebuild ----------------------------------------------------------------

    def _finish_build(self, name: str, progress: Callable[[int], None] | None,
                      stop: threading.Event | None = None) -> None:
        """Brings a build to the head, then swaps it in; another process that swapped it first is no error.
        With `stop` set (the worker is leaving its duties) the build is left where its last page committed."""
        build, view = self._builds[name], self.views[name]
        try:
            while True:
                self._advance(view, None, progress, build, stop)
                if stop is not None and stop.is_set():
                    return
                self._index(view, build)
                try:
                    with self._locks[name]:
                        self._swap(view, build, progress)
                    break
                except Moved:
                    continue
        except BuildGone:
            log.info("rebuild of %s was finished elsewhere", name)
        finally:
            if self._builds.get(name) is build:
                self._builds.pop(name, None)
                self._auto.discard(name)
        self._healthy(name, self.position(name))

    def _index(self, view: View, build: Build) -> None:
        """The shadow tables' secondary indexes, made once most rows are in (a sorted build of each index,
        not one insertion per row); the view's statements say IF NOT EXISTS, so a resumed build makes only
        the ones missing."""
        with self.ledger.db.write() as tx:
            _no_statement_timeout(tx)
            self._guard(tx, build)
            view.create(build.tx(tx, view))

    def _swap(self, view: View, build: Build, progress: Callable[[int], None] | None) -> None:
        """One transaction: the events since the shadow's last page, then the shadow tables and position
        take the place of the live ones, and the schema version and generation are recorded."""
        tracking = self._tracking_table
        # The last events are read before the write transaction (on SQLite a read inside it would share
        # its connection); the shadow's position is checked again inside, under the build's lock.
        start = self.tracking.max_tracking_id(build.tracking_name) or 0
        head, reached, pages = self.ledger.max_position(), start, []
        while reached < head:
            notifications, reached = self._page(view, reached, head, build)
            pages.append(notifications)
        with self.ledger.db.write() as tx:
            _no_statement_timeout(tx)
            self._guard(tx, build)
            now = tx.scalar(f"SELECT MAX(notification_id) FROM {tracking} WHERE application_name = ?",
                            (build.tracking_name,))
            if int(now or 0) != start:
                raise Moved(view.name)
            if tx.dialect == "postgres":
                _lock_view(tx, view.tracking_name)
            if self._stored_position(tx, view.tracking_name) > reached:
                raise Moved(view.name)  # the live view went past the head read above: never swap it back
            shadow = build.tx(tx, view)
            for notifications in pages:
                self._fold(shadow, view, notifications)
            tx.execute(f"DELETE FROM {tracking} WHERE application_name IN (?, ?)",
                       (view.tracking_name, build.tracking_name))
            if reached:
                tx.execute(f"INSERT INTO {tracking} (application_name, notification_id) VALUES (?, ?)",
                           (view.tracking_name, reached))
            with freed_unzeroed(tx):
                for table in view.tables:
                    if _table_exists(tx, table):
                        tx.execute(f"DROP TABLE {table}")
                    tx.execute(f"ALTER TABLE {table}{SHADOW} RENAME TO {table}")
            tx.execute("INSERT INTO view_schemas (name, version) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET version = excluded.version", (view.name, build.version))
            tx.execute("UPDATE view_builds SET generation = ?, building = NULL, swapped_at = ? WHERE name = ?",
                       (build.generation, datetime.now(UTC).isoformat(), view.name))
            self._announce(tx, view.name, reached)
        self.board.tell(view.name, reached)
        if progress is not None and reached > start:
            progress(reached - start)
        log.info("read model %s rebuilt and swapped in at position %s", view.name, reached)

    def build_position(self, name: str) -> int | None:
        """Where the build of a view stands (None: no build under way)."""
        with self.ledger.db.lone() as tx:
            if self._stored_build(tx, name) is None:
                return None
        return self.tracking.max_tracking_id(f"view:{name}{SHADOW}") or 0

    def rebuilds(self) -> list[dict[str, Any]]:
        """The builds under way, in this process or another: view, position reached, head, progress 0..1."""
        rows = self.ledger.db.query("SELECT name, started_at FROM view_builds WHERE building IS NOT NULL ORDER BY name")
        if not rows:
            return []
        head = self.ledger.max_position()
        out = []
        for r in rows:
            position = self.tracking.max_tracking_id(f"view:{r['name']}{SHADOW}") or 0
            out.append({"view": r["name"], "position": position, "head": head, "started_at": r["started_at"],
                        "progress": round(position / head, 4) if head else 1.0})
        return out

    # -- failures --------------------------------------------------------------------------

    def _stalled(self, name: str, n: Notification, event: Any, error: Exception) -> ViewFailure:
        before = self._failures.get(name)
        failure = self._failure(name, n, event, error, before)
        self._failures[name] = failure
        if failure.attempts == 1:
            log.error("read model %s stopped at position %s (%s): %s", name, n.id, failure.event_type, failure.error)
        else:
            log.warning("read model %s still stopped at position %s (attempt %s, next in %.0f s)",
                        name, n.id, failure.attempts, failure.retry_in())
        return failure

    def _failure(self, name: str, n: Notification, event: Any, error: Exception,
                 before: ViewFailure | None) -> ViewFailure:
        attempts = 1 if before is None or before.position != n.id else before.attempts + 1
        delay = min(self.retry_max_seconds, self.retry_first_seconds * 2 ** (attempts - 1))
        return ViewFailure(
            view=name, position=n.id, event_type=_event_type(event, n), error=_summary(error),
            since=before.since if before is not None and before.position == n.id else datetime.now(UTC).isoformat(),
            attempts=attempts, retry_at=time.monotonic() + delay,
        )

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
                out.append(failure)  # immutable: the caller cannot change the one kept
        return out

    def catch_up_all(self, until: int | None = None, stop: threading.Event | None = None) -> None:
        """Every view in turn; a stalled view does not hold back the others (it is reported, not raised).
        A build left unfinished by another run (killed, say) is finished after its view's catch-up."""
        for name in self.views:
            try:
                self.catch_up(name, until, stop=stop)
                if name in self._builds and not (stop is not None and stop.is_set()):
                    self._finish_build(name, None, stop)
            except ViewStalled:
                continue

    def inline(self, name: str, events: Sequence[Any]) -> InlinePage:
        """A `then=` for the `ledger.save` of `events` (that save's domain events, in its order): inside the
        save's transaction, the view applies them itself, with its tracking record, when it already stands
        at the last position before them; else (or if it fails) it leaves them to the projector. See
        `InlinePage` and docs/decisions/0026-inline-access-log-page.md."""
        return InlinePage(self, self.views[name], events)

    def inline_pages(self, names: Iterable[str], events: Sequence[Any]) -> InlinePages:
        """`inline` for each of the named views this projector has, in one `then=`: a writer whose next
        request waits for views its save barely touches (the access log's batches and the catalog and
        sharing views) records their positions with the save instead of paying each a catch-up
        transaction before its next request."""
        return InlinePages([InlinePage(self, self.views[n], events) for n in names if n in self.views])

    def wait_for(self, position: int | None, *names: str) -> None:
        """Read-your-writes: brings the named views (or all) to at least `position`, or waits until the
        projecting process has (raising `ViewsBehind` after `max_wait`)."""
        if not position:
            return
        serve = self.self_serve()
        deadline = time.monotonic() + self.max_wait
        for name in names or tuple(self.views):
            if serve and name in self._auto:
                # its schema changed: the new tables are built and swapped in before it answers
                self.catch_up(name, until=position)
                continue
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
        """Builds the views again from the whole log beside the live tables, then swaps each in (blue-green).
        A build of the same schema version left by an interrupted run is resumed, not restarted; `progress`
        is first told how far a resumed build already is."""
        chosen = list(names or self.views)
        for name in chosen:
            view = self.views[name]
            with self._locks[name], self.ledger.db.write() as tx:
                build = self._stored_build(tx, name)
                if build is None or build.version != view.version:
                    build = self._begin_build(tx, view)
                self._builds[name] = build
            if progress is not None:
                progress(self.tracking.max_tracking_id(build.tracking_name) or 0)
        for name in chosen:
            self._finish_build(name, progress)

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
