"""What a read model is: its tables, its schema version, and how each event changes its rows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from infrastructure.sql import Tx


class View(ABC):
    """A disposable read model kept in the ledger's own database."""

    name: ClassVar[str]
    version: ClassVar[int]
    tables: ClassVar[tuple[str, ...]]
    handles: ClassVar[tuple[type, ...]] = ()
    all_topics: ClassVar[bool] = False
    """True for a view that follows every event of the ledger, whatever its type."""
    max_page: ClassVar[int | None] = None
    """At most this many events in one page, for a view whose events are large (the projector's page otherwise)."""
    wants_raw: ClassVar[bool] = False
    """True for a view that gets the stored notification (its bytes as recorded) instead of the decoded event."""

    def __init__(self) -> None:
        self._topics = frozenset(get_topic(cls) for cls in self.handles)

    @property
    def tracking_name(self) -> str:
        return f"view:{self.name}"

    @property
    def topic_names(self) -> tuple[str, ...]:
        """The stored topics this view reads (empty: every topic)."""
        return () if self.all_topics else tuple(sorted(self._topics))

    def wants(self, topic: str) -> bool:
        return self.all_topics or topic in self._topics

    @abstractmethod
    def create(self, tx: Tx) -> None:
        """Creates the view's tables and indexes if they do not exist."""

    def drop(self, tx: Tx) -> None:
        for table in self.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table}")

    @abstractmethod
    def apply(self, tx: Tx, event: Any, position: int) -> None:
        """Changes the view's rows for one event; never fails on a valid ledger."""

    def begin_page(self, tx: Tx) -> None:  # noqa: B027 (optional hook)
        """Called before a page of events is applied (a view may start buffering its writes)."""

    def end_page(self, tx: Tx) -> None:  # noqa: B027 (optional hook)
        """Called after a page, inside the same transaction, before the tracking record is written."""
