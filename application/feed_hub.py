"""The feeds' wake-up: one watching thread per process tells waiting streams and workers that the ledger
moved (a NOTIFY from any process on PostgreSQL, a poll on SQLite). `application.feeds` owns what is read
once they are woken."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any


class Hub:
    """Tells waiting streams and workers that the ledger moved; one watching thread per process.

    Two kinds of waiter: those that wait for the *horizon* (the feed index and the chain caught up: scoped
    streams, whose audience the index holds, and the webhooks) and those that wait for the *head* (unscoped
    streams, served from the tail that `follow` reads straight from the event store, one statement per
    wake-up). The thread runs only while someone waits. While `channel_up()` says a notification channel is
    listening (PostgreSQL: every commit, in any process, sends one), it reads again when `wake()` is called,
    and otherwise every `safety_seconds`; while no channel listens it reads every `poll_seconds` (SQLite, or
    while the channel reconnects), so writes made by other processes are seen either way.
    """

    def __init__(self, refresh: Any, follow: Callable[[], int] | None = None, poll_seconds: float = 0.01,
                 safety_seconds: float = 1.0) -> None:
        self._refresh = refresh
        self._follow = follow
        self.poll_seconds = poll_seconds
        self.safety_seconds = safety_seconds
        self.channel_up: Callable[[], bool] = lambda: False
        self.ready: Callable[[], bool] = lambda: False
        """Whether the tail is started (then a wake-up reads it at once, in the waking thread)."""
        self._reading = threading.Lock()
        self.on_idle: Callable[[], None] = lambda: None
        """Called when nobody has waited at the head for a second (the feed service drops its tail)."""
        self.wakes = 0
        self._woken = threading.Event()
        self.horizon = 0
        self.head = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._live: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._sync_waiters = 0
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _ensure(self) -> None:
        self._wanted.set()
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="feed-hub", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """A commit was announced (or the channel came back and may have missed some): read again now.

        When streams wait at the head and their tail is started, the tail is read here, in the announcing
        thread (the listening connection's), so the commit does not wait for the watching thread to be
        scheduled as well; a read already under way in that thread makes this one its next round instead."""
        self.wakes += 1
        self._woken.set()
        if self._live and self.ready() and self._follow is not None:
            self._read_head(inline=True)

    def _read_head(self, inline: bool = False) -> None:
        if not self._reading.acquire(blocking=not inline):
            return  # the watching thread is reading: it reads again, as `_woken` is set
        try:
            if inline:
                self._woken.clear()  # this read covers every commit announced so far
            assert self._follow is not None
            try:
                head = self._follow()
            except Exception:  # the store is briefly unreachable: the next round retries
                return
            with self._lock:
                if head != self.head:
                    self.head = head
                    self._tell(self._live)
        finally:
            self._reading.release()

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    async def wait_beyond(self, position: int, timeout: float) -> int:
        """Waits (without holding a thread) until the horizon passes `position` or the timeout ends."""
        return await self._wait(self._waiters, lambda: self.horizon, position, timeout)

    async def wait_head(self, position: int, timeout: float) -> int:
        """Waits (without holding a thread) until the tail's head passes `position` or the timeout ends."""
        return await self._wait(self._live, lambda: self.head, position, timeout)

    async def _wait(self, waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]], value: Callable[[], int],
                    position: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        ev = asyncio.Event()
        entry = (loop, ev)
        with self._lock:
            if value() > position:
                return value()
            waiters.add(entry)
            self._ensure()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiters.discard(entry)
        return value()

    def wait_sync(self, position: int, timeout: float) -> int:
        with self._cond:
            if self.horizon > position:
                return self.horizon
            self._sync_waiters += 1
            self._ensure()
            try:
                self._cond.wait_for(lambda: self.horizon > position or self._stop.is_set(), timeout)
            finally:
                self._sync_waiters -= 1
            return self.horizon

    @staticmethod
    def _tell(waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, ev in list(waiters):
            with contextlib.suppress(RuntimeError):  # that stream's loop has closed
                loop.call_soon_threadsafe(ev.set)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                live = bool(self._live)
                indexed = bool(self._waiters) or self._sync_waiters > 0
                if not live and not indexed:
                    self._wanted.clear()
            if not live and not indexed:
                if not self._wanted.wait(1.0):
                    with self._reading, self._lock:
                        self.on_idle()
                        self.head = 0  # the next tail starts afresh
                continue
            # Cleared before the read: a commit announced while it runs makes the wait below return at once.
            self._woken.clear()
            if live and self._follow is not None:
                self._read_head()  # waits for a read under way in the waking thread, then reads on
            if indexed or self._follow is None:
                try:
                    h = self._refresh()
                except Exception:
                    h = self.horizon
                self.advance(h)
            if self._stop.is_set():
                break
            if self._channel_listening():
                self._woken.wait(self.safety_seconds)
            else:
                self._stop.wait(self.poll_seconds)

    def advance(self, horizon: int) -> None:
        """The feed index (and the chain) reached `horizon`: the waiters for it go on."""
        with self._cond:
            if horizon > self.horizon:
                self.horizon = horizon
                self._tell(self._waiters)
                self._cond.notify_all()

    def _channel_listening(self) -> bool:
        try:
            return bool(self.channel_up())
        except Exception:
            return False
