"""What a read model is: its tables, its schema version, and how each event changes its rows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from eventsourcing.utils import get_topic

from infrastructure.sql import Tx

_Method = TypeVar("_Method", bound=Callable[..., Any])
_EVENTS = "__view_events__"


def on(*events: type) -> Callable[[_Method], _Method]:
    """Marks a view's method as the handler of these event classes: it is called as `method(tx, event, position)`
    for each of them, and the view's topics are the topics of every class its handlers name."""
    if not events:
        raise TypeError("@on names at least one event class")

    def mark(method: _Method) -> _Method:
        setattr(method, _EVENTS, (*getattr(method, _EVENTS, ()), *events))
        return method

    return mark


class View(ABC):
    """A disposable read model kept in the ledger's own database."""

    name: ClassVar[str]
    version: ClassVar[int]
    tables: ClassVar[tuple[str, ...]]
    handles: ClassVar[tuple[type, ...]] = ()
    """The event classes this view reads, derived from its `@on` handlers (a view never lists them itself)."""
    handlers: ClassVar[dict[type, str]] = {}
    """Each event class a `@on` handler names, with the name of the method that handles it."""
    all_topics: ClassVar[bool] = False
    """True for a view that follows every event of the ledger, whatever its type."""
    max_page: ClassVar[int | None] = None
    """At most this many events in one page, for a view whose events are large (the projector's page otherwise)."""
    wants_raw: ClassVar[bool] = False
    """True for a view that gets the stored notification (its bytes as recorded) instead of the decoded event."""
    text_ids: ClassVar[bool] = False
    """True for a view whose `decode` reads a notification's originator id only as its text (`str(...)`): the
    projector's pages then carry the id as that text, and never make a UUID of it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type, str] = {}
        for klass in reversed(cls.__mro__):  # a subclass's handler replaces its base's for the same event
            own: dict[type, str] = {}
            for attr, value in vars(klass).items():
                for event in getattr(getattr(value, "__func__", value), _EVENTS, ()):
                    if own.setdefault(event, attr) != attr:
                        raise TypeError(f"{klass.__name__}: {event.__qualname__} has two handlers")
            handlers.update(own)
        if "handles" in vars(cls):
            raise TypeError(f"{cls.__name__}: a view's topics derive from its @on handlers; do not list `handles`")
        cls.handlers = handlers
        cls.handles = tuple(handlers)

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

    def decode(self, notification: Any, mapper: Any) -> Any:
        """What the projector gives `apply` for a stored event: the domain event (the stored notification itself
        for a `wants_raw` view). A view may decode only the fields it reads instead, which costs less than
        the whole event; its `apply` then takes either that or a domain event (a replica replayed for a date
        hands it domain events)."""
        return notification if self.wants_raw else mapper.to_domain_event(notification)

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        """Changes the view's rows for one event; never fails on a valid ledger.

        By default the `@on` handler of the event's class (or its nearest base class) is called; only a view
        that follows every topic (`all_topics`) overrides this instead."""
        for klass in type(event).__mro__:
            name = self.handlers.get(klass)
            if name is not None:
                getattr(self, name)(tx, event, position)
                return

    def begin_page(self, tx: Tx) -> None:  # noqa: B027 (optional hook)
        """Called before a page of events is applied (a view may start buffering its writes)."""

    def end_page(self, tx: Tx) -> None:  # noqa: B027 (optional hook)
        """Called after a page, inside the same transaction, before the tracking record is written."""
